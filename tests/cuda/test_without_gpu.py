"""pykern._cuda where it is built, with or without a GPU: import, the device list, and
bad input rejected with TypeError/ValueError before the device is touched (so these
checks run on any machine)."""
import os

import numpy as np
import pytest

import pykern
from pykern import config

cuda = pytest.importorskip("pykern._cuda")
GPU = cuda.device_count() > 0


def test_list_devices_reports_each_gpu():
    names = config.list_devices()
    assert names == ["cpu"] + [f"cuda:{i}" for i in range(cuda.device_count())]
    details = config.list_devices(details=True)
    assert [d["name"] for d in details] == names
    assert details[0]["type"] == "cpu" and details[0]["isa"] in ("avx512", "avx2", "scalar")
    for d in details[1:]:
        assert d["type"] == "cuda" and d["device_name"] and d["memory_bytes"] > 0
        assert len(d["compute_capability"]) == 2 and d["compute_capability"][0] >= 8


@pytest.mark.skipif(GPU or bool(os.environ.get("PYKERN_TEST_FAKE_CUDA")),
                    reason="a GPU (or the dry run's stand-in) is visible")
def test_without_a_gpu_the_cpu_is_the_device_and_cuda_is_refused():
    assert pykern.config.get_device() == "cpu"
    with pytest.raises(ValueError, match="'cuda' is not available: no CUDA device"):
        pykern.device("cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        cuda.to_device(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="no CUDA device"):
        cuda.full((3,), 1.0)
    assert cuda.memory_stats()["allocated_bytes"] == 0


def test_numpy_arrays_where_an_array_is_expected_are_a_type_error():
    a = np.ones((2, 3), np.float32)
    for call in (lambda: cuda.to_host(a),
                 lambda: cuda.binary("add", a, 1.0),
                 lambda: cuda.binary("add", 1.0, 2.0),
                 lambda: cuda.unary("exp", a),
                 lambda: cuda.reduce("sum", a, None),
                 lambda: cuda.softmax(a, -1),
                 lambda: cuda.transpose(a),
                 lambda: cuda.getitem(a, 0),
                 lambda: cuda.concat([a, a], 0),
                 lambda: cuda.cast(a, "float64"),
                 lambda: cuda.copy_(a, a),
                 lambda: cuda.take(a, a),
                 lambda: cuda.categorical_crossentropy(a, a, True),
                 lambda: cuda.reduce_loss(a, None, "sum"),
                 lambda: cuda.accumulate(None, a, 1.0),
                 lambda: cuda.pack_(a, [a], [0]),
                 lambda: cuda.to_device([1.0, 2.0])):
        with pytest.raises(TypeError, match="Array|ndarray"):
            call()


def test_bad_names_dtypes_and_shapes_are_value_errors():
    with pytest.raises(ValueError, match="unknown op 'nope'"):
        cuda.unary("nope", None)
    with pytest.raises(ValueError, match="unknown op 'nope'"):
        cuda.binary("nope", None, None)
    with pytest.raises(ValueError, match="unknown op 'median'"):
        cuda.reduce("median", None, None)
    with pytest.raises(ValueError, match="float16 is not held"):
        cuda.to_device(np.ones(3, np.float16))
    with pytest.raises(ValueError, match="negative dimension"):
        cuda.empty((2, -1))
    with pytest.raises(ValueError, match="complex64 is not held"):
        cuda.empty((2,), "complex64")
    with pytest.raises(TypeError, match="value must be a number"):
        cuda.full((2,), "x")
    with pytest.raises(ValueError, match="uniform, normal or dropout_mask"):
        cuda.random_fill((3,), "gamma", 0, 0)
    with pytest.raises(ValueError):
        cuda.random_fill((3,), "dropout_mask", 0, 0, rate=1.5)
    with pytest.raises(ValueError, match="has no gradient"):
        cuda.unary_grad("floor", None, None, None)


def test_the_array_type_cannot_be_built_from_python_directly():
    with pytest.raises(TypeError):
        cuda.Array()
