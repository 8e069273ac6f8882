"""Convolutions with keras.ops' signatures: conv, conv_transpose, depthwise_conv,
separable_conv, and the fused op the layers use (bias and activation in the
kernel's output pass).

Data are channels_last (N, *spatial, C) unless data_format="channels_first";
kernels are Keras' (*kernel, C/groups, filters) (conv), (*kernel, filters, C)
(transpose) and (*kernel, C, multiplier) (depthwise). Padding follows
TensorFlow: 'same' pads total = max((ceil(n/s)-1)*s + d*(k-1)+1 - n, 0) with the
extra cell at the end (bottom/right), 'causal' pads d*(k-1) at the start.
"""
import math

from pykern.backend import devices
from pykern.ops.core import _out, _t
from pykern.ops.shape import transpose

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv", "conv_fused",
           "conv_padding", "conv_transpose_output_length"]

# activations the kernels compute in their output pass; sigmoid stays an op of its own
# (it attaches the logits a crossentropy uses)
_FUSED = {None: "none", "linear": "none", "none": "none", "relu": "relu", "tanh": "tanh"}


def _tuple(value, rank, name, op):
    v = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(v) != rank or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in v):
        raise ValueError(f"{op}: {name} must be a positive int or {rank} positive ints, got "
                         f"{value!r}")
    return v


def _format(data_format, op):
    fmt = "channels_last" if data_format is None else str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    return fmt


def conv_padding(padding, spatial, kernel, strides, dilations, op="conv"):
    """(pad_begin, pad_end) tuples for 'valid', 'same' (TF: extra at the end) or
    'causal' (everything at the start); unknown sizes pad as if divisible."""
    padding = str(padding).lower()
    if padding not in ("valid", "same", "causal"):
        raise ValueError(f"{op}: padding must be 'valid', 'same' or 'causal', got {padding!r}")
    rank = len(kernel)
    if padding == "valid":
        return (0,) * rank, (0,) * rank
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilations))
    if padding == "causal":
        if rank != 1:
            raise ValueError(f"{op}: padding='causal' is only for 1-D convolutions")
        return (span[0] - 1,), (0,)
    total = tuple(max((math.ceil(n / s) - 1) * s + sp - n, 0) if n is not None else
                  max(sp - s, 0) for n, s, sp in zip(spatial, strides, span))
    return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)


def conv_transpose_output_length(n, k, padding, output_padding, stride, dilation):
    """Keras' output length of a transposed convolution along one axis."""
    if n is None:
        return None
    span = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return n * stride + max(span - stride, 0) if padding == "valid" else n * stride
    pad = span // 2 if padding == "same" else 0
    return (n - 1) * stride + span - 2 * pad + output_padding


def _to_last(x, fmt):
    if fmt == "channels_last":
        return x
    return transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def _to_first(y, fmt):
    if fmt == "channels_last":
        return y
    return transpose(y, (0, y.ndim - 1) + tuple(range(1, y.ndim - 1)))


def _check_rank(x, kernel_rank, op):
    if x.ndim != kernel_rank or x.ndim not in (3, 4, 5):
        raise ValueError(f"{op}: expected inputs of rank {kernel_rank} (batch, "
                         f"{kernel_rank - 2} spatial dims, channels) to match a kernel of rank "
                         f"{kernel_rank}, got inputs of shape {tuple(x.shape)}")


def _act(activation, op):
    act = _FUSED.get(activation)
    if act is None:
        raise ValueError(f"{op}: activation {activation!r} is not fused; use one of "
                         f"{sorted(k for k in _FUSED if k)} and apply others after")
    return act


def _operands(x, kernel, bias, op):
    """(x, w, parents, device) as float32 tensors on one device, ranks checked."""
    x, w = _t(x), _t(kernel)
    parents = (x, w) if bias is None else (x, w, _t(bias))
    d = devices.of(parents, op)
    _check_rank(x, w.ndim, op)
    return x, w, parents, d


def _linear_backward(k, act, y, grad_x, grad_w):
    """The backward of act(linear(x, w) + bias): dz = g * act'(y), then grad_x(dz),
    grad_w(dz) and the bias gradient (a sum of dz over all but the channel axis)."""
    def backward(g, needs):
        dz, db = k.bias_act_grad(act, g, y, len(needs) == 3 and needs[2])
        out = [grad_x(dz) if needs[0] else None, grad_w(dz) if needs[1] else None]
        return tuple(out) if len(needs) == 2 else (*out, db)
    return backward


def _output_check(k, y, x, w, op, padding):
    if any(d is not None and d < 1 for d in y.shape[1:-1]):
        raise ValueError(f"{op}: the output would be empty: inputs of shape {tuple(x.shape)} "
                         f"are smaller than the kernel {tuple(w.shape[:-2])} with "
                         f"padding={padding!r}")


def conv_fused(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1,
               activation=None, op="conv"):
    """act(conv(x, kernel) + bias) in one kernel call; x channels_last (N, *spatial, C),
    kernel (*kernel, C/groups, filters). The backward: dz = g * act'(y), then one
    backward-data and one backward-filter kernel and a sum for the bias."""
    act = _act(activation, op)
    x, w, parents, d = _operands(x, kernel, bias, op)
    k = d.k
    rank = w.ndim - 2
    strides = _tuple(strides, rank, "strides", op)
    dil = _tuple(dilation_rate, rank, "dilation_rate", op)
    c = x.shape[-1]
    if c is not None and (groups < 1 or c % groups or w.shape[-2] * groups != c):
        raise ValueError(f"{op}: inputs with {c} channels do not fit a kernel of shape "
                         f"{tuple(w.shape)} with groups={groups} (the kernel's input channels "
                         f"times groups must equal the input's channels)")
    if w.shape[-1] % groups:
        raise ValueError(f"{op}: {w.shape[-1]} filters do not divide into groups={groups}")
    pb, pe = conv_padding(padding, x.shape[1:-1], w.shape[:-2], strides, dil, op)
    xv, wv = x._data, w._data
    y = k.conv(xv, wv, None if bias is None else parents[2]._data, strides, dil, pb, pe, groups,
               act)
    _output_check(k, y, x, w, op, padding)
    x_shape, w_shape = x.shape, w.shape
    backward = _linear_backward(
        k, act, y,
        lambda dz: k.conv_backward_data(dz, wv, x_shape, strides, dil, pb, pe, groups),
        lambda dz: k.conv_backward_filter(xv, dz, w_shape, strides, dil, pb, pe, groups))
    return _out(y, parents, backward, d)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """keras.ops.conv: N-D convolution (cross-correlation); groups = C / kernel.shape[-2]."""
    fmt = _format(data_format, "conv")
    x, w = _to_last(_t(inputs), fmt), _t(kernel)
    c = x.shape[-1]
    groups = 1 if c is None or not w.shape[-2] or c % w.shape[-2] else c // w.shape[-2]
    return _to_first(conv_fused(x, w, None, strides, padding, dilation_rate, groups), fmt)


def depthwise_fused(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                    activation=None, op="depthwise_conv"):
    """act(depthwise(x, kernel) + bias); kernel (*kernel, C, multiplier)."""
    act = _act(activation, op)
    x, w, parents, d = _operands(x, kernel, bias, op)
    k = d.k
    rank = w.ndim - 2
    if x.shape[-1] is not None and x.shape[-1] != w.shape[-2]:
        raise ValueError(f"{op}: inputs with {x.shape[-1]} channels do not fit a depthwise "
                         f"kernel of shape {tuple(w.shape)}")
    strides = _tuple(strides, rank, "strides", op)
    dil = _tuple(dilation_rate, rank, "dilation_rate", op)
    pb, pe = conv_padding(padding, x.shape[1:-1], w.shape[:-2], strides, dil, op)
    xv, wv = x._data, w._data
    y = k.depthwise_conv(xv, wv, None if bias is None else parents[2]._data, strides, dil, pb,
                         pe, act)
    _output_check(k, y, x, w, op, padding)
    x_shape, w_shape = x.shape, w.shape
    backward = _linear_backward(
        k, act, y,
        lambda dz: k.depthwise_conv_backward_data(dz, wv, x_shape, strides, dil, pb, pe),
        lambda dz: k.depthwise_conv_backward_filter(xv, dz, w_shape, strides, dil, pb, pe))
    return _out(y, parents, backward, d)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """keras.ops.depthwise_conv: each input channel convolved with its own filters."""
    fmt = _format(data_format, "depthwise_conv")
    x = _to_last(_t(inputs), fmt)
    return _to_first(depthwise_fused(x, kernel, None, strides, padding, dilation_rate), fmt)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """keras.ops.separable_conv: a depthwise convolution, then a 1x1 convolution."""
    fmt = _format(data_format, "separable_conv")
    x = _to_last(_t(inputs), fmt)
    y = depthwise_fused(x, depthwise_kernel, None, strides, padding, dilation_rate,
                        op="separable_conv")
    return _to_first(conv_fused(y, pointwise_kernel, None, 1, "valid", 1, 1,
                                op="separable_conv"), fmt)


def conv_transpose_fused(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                         dilation_rate=1, activation=None, op="conv_transpose"):
    """act(conv_transpose(x, kernel) + bias): the backward-data kernel of the
    convolution whose kernel is `kernel` (*kernel, filters, C); its backward is
    that convolution's forward (dx) and backward-filter (dw)."""
    act = _act(activation, op)
    x, w, parents, d = _operands(x, kernel, bias, op)
    k = d.k
    rank = w.ndim - 2
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    if x.shape[-1] is not None and x.shape[-1] != w.shape[-1]:
        raise ValueError(f"{op}: inputs with {x.shape[-1]} channels do not fit a kernel of "
                         f"shape {tuple(w.shape)} (its last axis is the input's channels)")
    strides = _tuple(strides, rank, "strides", op)
    dil = _tuple(dilation_rate, rank, "dilation_rate", op)
    out_pad = (None,) * rank if output_padding is None else \
        tuple(output_padding) if not isinstance(output_padding, int) else (output_padding,) * rank
    for p, s in zip(out_pad, strides):
        if p is not None and not 0 <= p < s:
            raise ValueError(f"{op}: output_padding {output_padding!r} must be >= 0 and less "
                             f"than the strides {strides}")
    spatial = tuple(conv_transpose_output_length(n, kk, padding, p, s, dd) for n, kk, p, s, dd
                    in zip(x.shape[1:-1], w.shape[:-2], out_pad, strides, dil))
    if any(n is not None and n < 1 for n in spatial):
        raise ValueError(f"{op}: inputs of shape {tuple(x.shape)} give an empty output")
    # the forward convolution from the output (spatial) back to x: TF's padding rule
    span = tuple(dd * (kk - 1) + 1 for kk, dd in zip(w.shape[:-2], dil))
    if padding == "valid":
        pb = pe = (0,) * rank
    else:
        total = tuple(0 if n is None else max((m - 1) * s + sp - n, 0)
                      for n, m, s, sp in zip(spatial, x.shape[1:-1], strides, span))
        pb, pe = tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
    y_shape = (x.shape[0],) + spatial + (w.shape[-2],)
    xv, wv = x._data, w._data
    y = k.conv_backward_data(xv, wv, y_shape, strides, dil, pb, pe, 1)
    if bias is not None:
        y = k.binary("add", y, parents[2]._data)
    if act != "none":
        y = k.unary(act, y)
    w_shape = w.shape
    backward = _linear_backward(
        k, act, y, lambda dz: k.conv(dz, wv, None, strides, dil, pb, pe, 1, "none"),
        lambda dz: k.conv_backward_filter(dz, xv, w_shape, strides, dil, pb, pe, 1))
    return _out(y, parents, backward, d)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """keras.ops.conv_transpose: kernel (*kernel, filters, C)."""
    fmt = _format(data_format, "conv_transpose")
    x = _to_last(_t(inputs), fmt)
    return _to_first(conv_transpose_fused(x, kernel, None, strides, padding, output_padding,
                                          dilation_rate), fmt)
