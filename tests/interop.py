"""Helpers for the file interop tests (test_interop.py, test_cnn_interop.py): the
predictions of either framework as lists of arrays, their comparison, and the HDF5
layouts by which two files written by the two frameworks are compared."""
import h5py
import numpy as np


def randomize(model, rng, scale=0.5):
    """Gives every weight of `model` standard-normal values times `scale`."""
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * scale
                       for w in model.get_weights()])
    return model


def as_list(y):
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def keras_predict(model, xs):
    return as_list(model(xs if len(xs) > 1 else xs[0], training=False))


def pykern_predict(model, xs):
    return as_list(model.predict_on_batch(xs if len(xs) > 1 else xs[0]))


def assert_close(ours, theirs, rtol=1e-5, atol=1e-5):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def h5_layout(path):
    """{object path: dataset shape or 'group'}."""
    out = {}

    def visit(name, obj):
        out[name] = tuple(obj.shape) if isinstance(obj, h5py.Dataset) else "group"
    with h5py.File(path) as f:
        f.visititems(visit)
    return out


def h5_layout_with_attrs(path):
    """[(object path, shape, dtype, attributes)] in the file's order."""
    out = []
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.append(
            (name, getattr(obj, "shape", None), getattr(obj, "dtype", None), dict(obj.attrs))))
    return out


def legacy_layout(path):
    """A legacy .h5 file's root attribute names (configs aside) and every object's
    path, shape, dtype, attributes and attribute dtypes."""
    def plain(v):
        return [str(x) for x in v] if isinstance(v, np.ndarray) else v
    with h5py.File(path) as f:
        out = [sorted(k for k in f.attrs if k not in ("model_config", "training_config"))]
        f.visititems(lambda name, obj: out.append(
            (name, getattr(obj, "shape", None), getattr(obj, "dtype", None),
             {k: plain(v) for k, v in obj.attrs.items()},
             {k: v.dtype for k, v in obj.attrs.items() if isinstance(v, np.ndarray)})))
    return out
