"""Pooling with keras.ops' signatures: max_pool and average_pool over 1-3
spatial dims. 'same' pads as TensorFlow (the extra cell at the end); padded
cells never win a max and are not counted in an average. The max pool keeps
each winner's index for its backward; the average pool's backward spreads the
gradient over each window's real cells."""
from pykern.ops.conv import _format, _to_first, _to_last, _tuple, conv_padding
from pykern.ops.core import _out, _t

__all__ = ["max_pool", "average_pool", "pool_fused"]


def pool_fused(x, kind, pool_size, strides=None, padding="valid", op=None):
    """Max ('max') or average ('avg') pooling of channels-last x (N, *spatial, C)."""
    op = op or ("max_pool" if kind == "max" else "average_pool")
    x = _t(x)
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: expected inputs of rank 3, 4 or 5 (batch, 1-3 spatial dims, "
                         f"channels), got shape {tuple(x.shape)}")
    rank = x.ndim - 2
    pool = _tuple(pool_size, rank, "pool_size", op)
    strides = pool if strides is None else _tuple(strides, rank, "strides", op)
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    spatial = x.shape[1:-1]
    pb, pe = conv_padding(padding, spatial, pool, strides, (1,) * rank, op)
    if any(n is not None and n + b + e < p for n, p, b, e in zip(spatial, pool, pb, pe)):
        raise ValueError(f"{op}: the pool window {pool} is larger than the inputs of shape "
                         f"{tuple(x.shape)} with padding={padding!r}")
    k = x.device.k
    x_shape = x.shape
    if kind == "max":
        y, argmax = k.max_pool(x._data, pool, strides, pb, pe)

        def backward(g, needs):
            return (k.max_pool_backward(g, argmax, x_shape),)
    else:
        y = k.avg_pool(x._data, pool, strides, pb, pe)

        def backward(g, needs):
            return (k.avg_pool_backward(g, x_shape, pool, strides, pb, pe),)
    return _out(y, (x,), backward, x.device)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """keras.ops.max_pool."""
    fmt = _format(data_format, "max_pool")
    return _to_first(pool_fused(_to_last(_t(inputs), fmt), "max", pool_size, strides, padding),
                     fmt)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """keras.ops.average_pool (padded cells are not counted)."""
    fmt = _format(data_format, "average_pool")
    return _to_first(pool_fused(_to_last(_t(inputs), fmt), "avg", pool_size, strides, padding),
                     fmt)
