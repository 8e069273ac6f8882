"""Shared fixtures: TensorFlow (imported once, quietly) and a clean name state."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels: reproducible reference

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="session")
def keras(tf):
    import keras
    return keras


@pytest.fixture
def fresh_names():
    """Automatic layer names start again from 'dense', 'dense_1', ..."""
    from pykern import backend
    backend.clear_session()
    yield
    backend.clear_session()
