"""Shared fixtures: TensorFlow (imported once, quietly) and a clean name state."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels: reproducible reference
# The suite's reference device is the CPU, also on a GPU machine (where pykern would
# otherwise default to cuda:0); tests/cuda places its tensors on the GPU explicitly.
os.environ.setdefault("PYKERN_DEVICE", "cpu")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def keras(tf):
    import keras
    return keras


@pytest.fixture(scope="session")
def tf_keras(tf):
    """Keras 2 (the tf-keras package): it writes the Keras 2 file formats."""
    return pytest.importorskip("tf_keras")


@pytest.fixture
def fresh_names():
    """Automatic layer names start again from 'dense', 'dense_1', ..."""
    from pykern import backend
    backend.clear_session()
    yield
    backend.clear_session()


@pytest.fixture
def sgemm_calls(monkeypatch):
    """Records every _cpu.sgemm call the CPU kernel table makes, as a dict of its
    arguments by name (however they were passed), and still runs the real kernel."""
    from pykern import _cpu
    from pykern.backend.devices import cpu
    calls = []

    class Spy:
        def __getattr__(self, name):
            return getattr(_cpu, name)

        def sgemm(self, a, b, c=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0,
                  bias=None, activation="none"):
            calls.append(dict(trans_a=trans_a, trans_b=trans_b, bias=bias,
                              activation=activation))
            return _cpu.sgemm(a, b, c, trans_a, trans_b, alpha, beta, bias, activation)
    monkeypatch.setattr(cpu, "_cpu", Spy())
    return calls


@pytest.fixture(scope="module")
def forget_automatic_names():
    """After the module, leaves pykern's and Keras' automatic names (dense_7, adam_2, ...)
    as a fresh session has them: other modules compare auto-generated names between the two."""
    yield
    import sys

    from pykern import backend
    backend.clear_session()
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
