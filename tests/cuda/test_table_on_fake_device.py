"""The CUDA kernel table's Python layer and everything above it, without a GPU:
pykern._cuda is replaced by a NumPy stand-in (fake_cuda.py) whose Array refuses
implicit conversion, and the dense/sequence families run the CPU table on the
unwrapped buffers. What this checks: every core method reaches its binding with
the right arguments, no code outside the tables reads device storage with NumPy
or hands it host arrays, fit/evaluate/predict move each batch to the device once
and read values back only for the logs, and a model saved from the device loads
on the CPU. The kernels' numerics are the GPU tests' job (test_core_kernels.py)."""
import importlib
import inspect
import sys

import numpy as np
import pytest

import fake_cuda
import pykern
import seed_models
from pykern.backend import devices
from pykern.backend.devices.cpu import CpuKernels


def _cuda_table_module(monkeypatch):
    """pykern.backend.devices.cuda bound to the stand-in (imported with it when the
    real pykern._cuda is not built)."""
    name = "pykern.backend.devices.cuda"
    if name not in sys.modules:
        try:
            importlib.import_module("pykern._cuda")
        except ImportError:
            monkeypatch.setitem(sys.modules, "pykern._cuda", fake_cuda)
    module = importlib.import_module(name)
    monkeypatch.setattr(module, "_cuda", fake_cuda)
    monkeypatch.setattr(module, "Array", fake_cuda.Array)
    return module


@pytest.fixture
def fake_gpu(monkeypatch):
    """'cuda:0' on the stand-in for the test; the CPU stays the default device."""
    module = _cuda_table_module(monkeypatch)
    device = devices.Device("cuda", 0, fake_cuda.kernels_class(module)(0))
    monkeypatch.setitem(devices._devices, "cuda:0", device)
    monkeypatch.setattr(devices, "_default", [devices.CPU])
    fake_cuda.reset_counts()
    yield device


def test_core_methods_have_the_cpu_tables_names_and_signatures(monkeypatch):
    module = _cuda_table_module(monkeypatch)
    own = {n for n in vars(module.CudaKernels) if not n.startswith("_")} - {"name", "device"}
    assert own, "the CUDA table defines no core methods"
    for name in own:
        cpu = getattr(CpuKernels, name, None)
        assert cpu is not None, f"CudaKernels.{name} is not a CPU table method"
        assert inspect.signature(getattr(module.CudaKernels, name)) == inspect.signature(cpu), name


def test_every_cpu_method_is_on_the_cuda_table_once_the_families_are_merged(monkeypatch):
    module = _cuda_table_module(monkeypatch)
    from pykern.backend.devices import cuda_nn, cuda_seq
    if not any(not n.startswith("__") for n in
               list(vars(cuda_nn.CudaNNKernels)) + list(vars(cuda_seq.CudaSeqKernels))):
        pytest.skip("the dense and sequence families are not merged yet")
    for name, fn in inspect.getmembers(CpuKernels, inspect.isfunction):
        if name.startswith("__") or name == "_collectives":
            continue
        got = getattr(module.CudaKernels, name, None)
        assert got is not None, f"CudaKernels has no {name}"
        assert inspect.signature(got) == inspect.signature(fn), name


@pytest.mark.parametrize("name", sorted(seed_models.MODELS))
def test_seed_models_train_on_the_cuda_table_as_on_the_cpu(fake_gpu, name):
    """The stand-in computes with the CPU kernels, so any difference comes from the
    CUDA table's Python layer (a wrong argument, a lost dtype, another random draw)."""
    on_cpu, _ = seed_models.train(name, "cpu", epochs=2)
    on_gpu, model = seed_models.train(name, "cuda", epochs=2)
    assert model.weights[0].device is fake_gpu
    assert isinstance(model.weights[0]._data, fake_cuda.Array)
    for key in on_cpu:
        np.testing.assert_allclose(on_gpu[key], on_cpu[key], rtol=1e-6, err_msg=key)


def test_fit_moves_each_batch_once_and_reads_back_only_for_the_logs(fake_gpu):
    model, x, y = seed_models.fit_mlp_counting("cuda", fake_cuda.reset_counts,
                                               fake_cuda.transfers)
    fake_cuda.reset_counts()
    model.evaluate(x, y, batch_size=128, verbose=0)
    assert fake_cuda.transfers().get("to_host", 0) <= 4


def test_predict_evaluate_and_weights_come_back_as_numpy(fake_gpu):
    _, model = seed_models.train("seed_mlp", "cuda", epochs=1)
    x, y = seed_models.mlp_data(100, seed=1)
    out = model.predict(x, batch_size=32, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (100, 10)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert all(isinstance(w, np.ndarray) for w in model.get_weights())


def test_a_model_saved_from_the_device_loads_on_the_cpu(fake_gpu, tmp_path):
    _, model = seed_models.train("bn_cnn", "cuda", epochs=1)
    x, _ = seed_models.image_data(32, seed=1)
    path = tmp_path / "m.keras"
    model.save(path)
    with pykern.device("cpu"):
        loaded = pykern.models.load_model(path)
    assert loaded.weights[0].device is devices.CPU
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_weights_set_from_numpy_stay_on_the_device(fake_gpu):
    _, model = seed_models.train("lstm_series", "cuda", epochs=1)
    weights = [w * 0.5 for w in model.get_weights()]
    model.set_weights(weights)
    assert all(isinstance(w._data, fake_cuda.Array) for w in model.weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)


def test_the_default_device_is_the_gpu_unless_pykern_device_says_otherwise(fake_gpu,
                                                                            monkeypatch):
    monkeypatch.delenv("PYKERN_DEVICE", raising=False)
    assert devices._initial_default() is fake_gpu
    monkeypatch.setenv("PYKERN_DEVICE", "cpu")
    assert devices._initial_default() is devices.CPU
    monkeypatch.setenv("PYKERN_DEVICE", "gpu:0")
    assert devices._initial_default() is fake_gpu
    monkeypatch.setenv("PYKERN_DEVICE", "cuda:7")
    with pytest.raises(ValueError, match="PYKERN_DEVICE='cuda:7'.*not available"):
        devices._initial_default()


def test_host_arrays_handed_to_a_kernel_are_a_type_error(fake_gpu):
    k = fake_gpu.k
    x = k.from_host(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="Array"):
        k.binary("add", x, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="Array"):
        k.reduce("sum", np.ones(3, np.float32), (0,))
