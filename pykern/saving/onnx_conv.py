"""ONNX (opset 17) for the convolution, pooling and normalization layers.

ONNX's Conv, ConvTranspose, MaxPool, AveragePool and BatchNormalization take
channels-first data (N, C, *spatial) and Keras' default is channels-last, so
each such layer runs between a Transpose to channels-first and one back; the
graph drops a Transpose that undoes the one before it, which leaves one pair
around a whole stack of these layers. Padding is the layer's own: explicit
pads from `conv_padding` ('same': the extra cell at the end, as TensorFlow;
'causal': all at the start) where they do not depend on sizes unknown until
run time, auto_pad SAME_UPPER (the same rule) where they do. Kernels are rearranged into
ONNX's layouts on the host as the file is written; LayerNormalization is ONNX's
own, GroupNormalization and rms_scaling are composed of reductions.
"""
import numpy as np

from pykern import activations as A
from pykern.layers import convolutional as C
from pykern.layers import normalization as N
from pykern.layers import pooling as P
from pykern.ops.conv import conv_padding, conv_transpose_output_length
from pykern.saving.onnx_export import _activation

__all__ = ["LAYERS"]

_ALONG_LAST_AXIS = (A.softmax, A.log_softmax)


def _to_first(g, x, rank, data_format):
    """(N, *spatial, C) -> (N, C, *spatial) for `rank` spatial dims."""
    if data_format == "channels_first":
        return x
    return g.transpose(x, [0, rank + 1, *range(1, rank + 1)])


def _from_first(g, y, rank, data_format):
    if data_format == "channels_first":
        return y
    return g.transpose(y, [0, *range(2, rank + 2), 1])


def _spatial(shape, data_format):
    return tuple(shape[1:-1] if data_format == "channels_last" else shape[2:])


def _padding(padding, spatial, window, strides, dilations, where):
    """ONNX padding attributes: pads [begin..., end...], or auto_pad SAME_UPPER when
    'same' pads by a size unknown until run time (strided; with stride 1 the pads
    are the window's span - 1 whatever the size, and onnxruntime refuses auto_pad
    with dilations, which the layers allow with stride 1 only)."""
    if padding == "same" and any(n is None and s > 1 for n, s in zip(spatial, strides)):
        return {"auto_pad": "SAME_UPPER"}
    begin, end = conv_padding(padding, spatial, window, strides, dilations, where)
    return {"pads": [*begin, *end]}


def _onnx_kernel(w, rank):
    """Keras' (*kernel, a, b) as ONNX's (b, a, *kernel)."""
    return np.ascontiguousarray(np.transpose(w, (rank + 1, rank, *range(rank))))


def _depthwise_kernel(w, rank):
    """Keras' depthwise (*kernel, C, M) as a grouped Conv weight (C*M, 1, *kernel):
    output channel c*M + m reads input channel c, as the layer computes it."""
    k, (c, m) = w.shape[:rank], w.shape[rank:]
    flat = np.reshape(w, (*k, c * m))
    return np.ascontiguousarray(np.reshape(np.moveaxis(flat, -1, 0), (c * m, 1, *k))), c


def _weight(g, variable, name, layer, rearrange=None):
    value = variable.numpy()
    return g.const(value if rearrange is None else rearrange(value), f"{layer.name}_{name}")


def _conv_attrs(layer, shape, where):
    return dict(kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                dilations=list(layer.dilation_rate),
                **_padding(layer.padding, _spatial(shape, layer.data_format), layer.kernel_size,
                           layer.strides, layer.dilation_rate, where))


def _finish(g, layer, y, where):
    """The layer's activation, then its data format back; activations that run
    along the last axis (softmax) run after the transpose, the others before it
    so that stacked layers stay channels-first."""
    fn = layer.activation
    if fn not in _ALONG_LAST_AXIS:
        y = _activation(g, fn, y, where)
    y = _from_first(g, y, layer.rank, layer.data_format)
    return _activation(g, fn, y, where) if fn in _ALONG_LAST_AXIS else y


def _with_bias(g, layer, inputs):
    if layer.bias is not None:
        inputs.append(_weight(g, layer.bias, "bias", layer))
    return inputs


def _conv(g, layer, x, shape, where):
    rank = layer.rank
    inputs = [_to_first(g, x, rank, layer.data_format),
              _weight(g, layer.kernel, "kernel", layer, lambda w: _onnx_kernel(w, rank))]
    y = g.op("Conv", _with_bias(g, layer, inputs), group=layer.groups,
             **_conv_attrs(layer, shape, where))
    return _finish(g, layer, y, where)


def _depthwise(g, layer, x, shape, where, kernel, bias):
    rank = layer.rank
    weight, channels = _depthwise_kernel(kernel.numpy(), rank)
    inputs = [_to_first(g, x, rank, layer.data_format), g.const(weight, f"{layer.name}_kernel")]
    if bias:
        _with_bias(g, layer, inputs)
    return g.op("Conv", inputs, group=channels, **_conv_attrs(layer, shape, where))


def _depthwise_conv(g, layer, x, shape, where):
    return _finish(g, layer, _depthwise(g, layer, x, shape, where, layer.kernel, True), where)


def _separable_conv(g, layer, x, shape, where):
    rank = layer.rank
    y = _depthwise(g, layer, x, shape, where, layer.depthwise_kernel, False)
    inputs = [y, _weight(g, layer.pointwise_kernel, "pointwise_kernel", layer,
                         lambda w: _onnx_kernel(w, rank))]
    return _finish(g, layer, g.op("Conv", _with_bias(g, layer, inputs)), where)


def _transpose_pads(layer, spatial):
    """(pads, output_padding) that crop or extend ConvTranspose's full output,
    (n - 1) * s + span, to the length the layer computes. Neither depends on n,
    so an unknown size is computed as 1."""
    begin, end, extra = [], [], []
    out_pads = layer.output_padding or (None,) * layer.rank
    for n, k, p, s, d in zip(spatial, layer.kernel_size, out_pads, layer.strides,
                             layer.dilation_rate):
        n = 1 if n is None else n
        span = d * (k - 1) + 1
        length = conv_transpose_output_length(n, k, layer.padding, p, s, d)
        full = (n - 1) * s + span
        total = max(full - length, 0) if layer.padding == "same" else 0
        excess = full - total // 2 - length
        begin.append(total // 2)
        end.append(max(excess, 0))
        extra.append(max(-excess, 0))
    return [*begin, *end], extra


def _conv_transpose(g, layer, x, shape, where):
    rank = layer.rank
    pads, extra = _transpose_pads(layer, _spatial(shape, layer.data_format))
    inputs = [_to_first(g, x, rank, layer.data_format),
              _weight(g, layer.kernel, "kernel", layer, lambda w: _onnx_kernel(w, rank))]
    y = g.op("ConvTranspose", _with_bias(g, layer, inputs), kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate), pads=pads,
             output_padding=extra)
    return _finish(g, layer, y, where)


def _pool(g, layer, x, shape, where):
    rank = layer.rank
    attrs = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides),
                 **_padding(layer.padding, _spatial(shape, layer.data_format), layer.pool_size,
                            layer.strides, (1,) * rank, where))
    xt = _to_first(g, x, rank, layer.data_format)
    if layer.kind == "max":
        y = g.op("MaxPool", [xt], **attrs)
    else:  # padded cells are not counted, as in the layer
        y = g.op("AveragePool", [xt], count_include_pad=0, **attrs)
    return _from_first(g, y, rank, layer.data_format)


def _inverse(perm):
    return [int(i) for i in np.argsort(perm)]


def _affine(g, layer, dims):
    """gamma and beta as constants (ones / zeros where the layer has none)."""
    gamma = np.ones(dims, np.float32) if layer.gamma is None else layer.gamma.numpy()
    beta = np.zeros(dims, np.float32) if layer.beta is None else layer.beta.numpy()
    return g.const(gamma, f"{layer.name}_gamma"), g.const(beta, f"{layer.name}_beta")


def _batch_norm(g, layer, x, shape, where):
    """Inference: the moving statistics (an exported model only predicts)."""
    rank = len(shape)
    ax = layer.axis % rank
    if ax == 0:
        raise NotImplementedError(f"export: {where} normalizes over the batch axis")
    perm = [0, ax] + [i for i in range(1, rank) if i != ax]
    gamma, beta = _affine(g, layer, (shape[ax],))
    y = g.op("BatchNormalization", [g.transpose(x, perm), gamma, beta,
                                    _weight(g, layer.moving_mean, "moving_mean", layer),
                                    _weight(g, layer.moving_variance, "moving_variance", layer)],
             epsilon=layer.epsilon)
    return g.transpose(y, _inverse(perm))


def _normalized(g, x, axes, epsilon):
    """(x - mean, sqrt(var + epsilon)) with the mean and biased variance over `axes`."""
    mean = g.op("ReduceMean", [x], axes=list(axes), keepdims=1)
    centered = g.op("Sub", [x, mean])
    var = g.op("ReduceMean", [g.op("Mul", [centered, centered])], axes=list(axes), keepdims=1)
    return centered, g.op("Sqrt", [g.op("Add", [var, g.const(epsilon)])])


def _layer_norm(g, layer, x, shape, where):
    """ONNX's LayerNormalization over the trailing axes (others are moved first);
    Keras' rms_scaling, x / sqrt(var + epsilon) * gamma, composed."""
    rank = len(shape)
    axes = sorted(a % rank for a in layer.axis)
    rest = [i for i in range(rank) if i not in axes]
    perm = rest + axes
    xt = g.transpose(x, perm)
    dims = tuple(shape[a] for a in axes)
    gamma, beta = _affine(g, layer, dims)
    if layer.rms_scaling:
        trailing = range(len(rest), rank)
        y = g.op("Mul", [g.op("Div", [xt, _normalized(g, xt, trailing, layer.epsilon)[1]]),
                         gamma])
    else:
        y = g.op("LayerNormalization", [xt, gamma, beta], axis=len(rest),
                 epsilon=layer.epsilon)
    return g.transpose(y, _inverse(perm))


def _group_norm(g, layer, x, shape, where):
    """Channels last, (N, -1, groups, C/groups), statistics over axes 1 and 3, back
    to the input's shape, then the per-channel gamma and beta."""
    rank = len(shape)
    ax = layer.axis % rank
    perm = [i for i in range(rank) if i != ax] + [ax]
    xt = g.transpose(x, perm)
    c = shape[ax]
    grouped = g.op("Reshape", [xt, g.const([0, -1, layer.groups, c // layer.groups], "shape",
                                           np.int64)])
    centered, denominator = _normalized(g, grouped, (1, 3), layer.epsilon)
    y = g.op("Reshape", [g.op("Div", [centered, denominator]), g.op("Shape", [xt])])
    if layer.gamma is not None:
        y = g.op("Mul", [y, _weight(g, layer.gamma, "gamma", layer)])
    if layer.beta is not None:
        y = g.op("Add", [y, _weight(g, layer.beta, "beta", layer)])
    return g.transpose(y, _inverse(perm))


def _table():
    out = {}
    for classes, emit in (
            ((C.Conv1D, C.Conv2D, C.Conv3D), _conv),
            ((C.Conv1DTranspose, C.Conv2DTranspose, C.Conv3DTranspose), _conv_transpose),
            ((C.DepthwiseConv1D, C.DepthwiseConv2D), _depthwise_conv),
            ((C.SeparableConv1D, C.SeparableConv2D), _separable_conv),
            ((P.MaxPooling1D, P.MaxPooling2D, P.MaxPooling3D, P.AveragePooling1D,
              P.AveragePooling2D, P.AveragePooling3D), _pool),
            ((N.BatchNormalization,), _batch_norm),
            ((N.LayerNormalization,), _layer_norm),
            ((N.GroupNormalization,), _group_norm)):
        out.update(dict.fromkeys(classes, emit))
    return out


# exact classes: a subclass may compute something else in its call()
LAYERS = _table()
