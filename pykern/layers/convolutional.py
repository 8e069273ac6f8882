"""Convolution layers: Conv1D/2D/3D, their transposes, DepthwiseConv1D/2D and
SeparableConv1D/2D, with Keras 3's arguments, defaults, weight names, shapes
and configs. One base class per kind carries the logic; the N-D classes fix
the rank. Each call is one fused native op (bias and relu/tanh in the
kernel's output pass; other activations after it).
"""
import numbers

from pykern import activations as kactivations
from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import ops
from pykern import regularizers as kregularizers
from pykern.layers.layer import Layer
from pykern.ops.conv import (conv_fused, conv_padding, conv_transpose_fused,
                             conv_transpose_output_length, depthwise_fused)
from pykern.utils.argument_validation import standardize_data_format, standardize_tuple
from pykern.utils.serialization import serialize_keras_object

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
           "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
           "SeparableConv2D", "Convolution1D", "Convolution2D", "Convolution3D",
           "Convolution2DTranspose", "Convolution3DTranspose"]


def _padding(layer, padding, rank, allow_causal):
    p = str(padding).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if p not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, got {padding!r}")
    return p


class _BaseConv(Layer):
    """Shared arguments and checks; subclasses create weights and run the op."""

    rank = None
    _transpose = False
    _weight_args = ("kernel",)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, bias_initializer="zeros",
                 bias_regularizer=None, activity_regularizer=None, bias_constraint=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        if filters is not None and (isinstance(filters, bool) or
                                    not isinstance(filters, numbers.Integral) or filters <= 0):
            raise ValueError(f"{who}: filters must be a positive int, got {filters!r}")
        self.filters = None if filters is None else int(filters)
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = standardize_tuple(strides, self.rank, "strides", who)
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate", who)
        self.padding = _padding(who, padding, self.rank,
                                self.rank == 1 and not self._transpose)
        self.data_format = standardize_data_format(data_format, who)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{who}: strides > 1 is not supported together with "
                             f"dilation_rate > 1, got strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = kactivations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = kinitializers.get(bias_initializer)
        self.bias_regularizer = kregularizers.get(bias_regularizer)
        self.bias_constraint = kconstraints.get(bias_constraint)
        self.bias = None
        # relu/tanh/linear run in the kernel's output pass
        self._fused = next((name for name, fn in ((None, kactivations.linear),
                                                  ("relu", kactivations.relu),
                                                  ("tanh", kactivations.tanh))
                            if fn is self.activation), False)

    @property
    def _who(self):
        return f"{type(self).__name__} {self.name!r}"

    def _channels(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{self._who} expects inputs of rank {self.rank + 2} (batch, "
                             f"{self.rank} spatial dims, channels), got shape {input_shape}")
        c = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if c is None:
            raise ValueError(f"{self._who}: the channel dimension of the inputs must be known, "
                             f"got shape {input_shape}")
        return c

    def _spatial(self, input_shape):
        return tuple(input_shape[1:-1] if self.data_format == "channels_last" else
                     input_shape[2:])

    def _shape_out(self, input_shape, spatial, channels):
        if self.data_format == "channels_last":
            return (input_shape[0],) + spatial + (channels,)
        return (input_shape[0], channels) + spatial

    def _conv_spatial(self, input_shape):
        """Output spatial sizes of a forward convolution (ValueError when empty)."""
        spatial = self._spatial(input_shape)
        pb, pe = conv_padding(self.padding, spatial, self.kernel_size, self.strides,
                              self.dilation_rate, self._who)
        out = tuple(None if n is None else (n + b + e - d * (k - 1) - 1) // s + 1
                    for n, k, s, d, b, e in zip(spatial, self.kernel_size, self.strides,
                                                self.dilation_rate, pb, pe))
        if any(o is not None and o < 1 for o in out):
            raise ValueError(f"{self._who}: inputs of shape {tuple(input_shape)} are smaller "
                             f"than the kernel {self.kernel_size} (dilation "
                             f"{self.dilation_rate}) with padding={self.padding!r}: the "
                             f"output would be empty")
        return out

    def _kernel_args(self, initializer, regularizer, constraint):
        self.kernel_initializer = kinitializers.get(initializer)
        self.kernel_regularizer = kregularizers.get(regularizer)
        self.kernel_constraint = kconstraints.get(constraint)
        self.kernel = None

    def _kernel_config(self):
        return {"kernel_initializer": serialize_keras_object(self.kernel_initializer),
                "kernel_regularizer": serialize_keras_object(self.kernel_regularizer),
                "kernel_constraint": serialize_keras_object(self.kernel_constraint)}

    def _add_bias(self, units):
        if self.use_bias:
            self.bias = self.add_weight(shape=(units,), initializer=self.bias_initializer,
                                        name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def _to_last(self, x):
        if self.data_format == "channels_last":
            return x
        return ops.transpose(x, (0,) + tuple(range(2, self.rank + 2)) + (1,))

    def _from_last(self, y):
        if self.data_format == "channels_last":
            return y
        return ops.transpose(y, (0, self.rank + 1) + tuple(range(1, self.rank + 1)))

    def _finish(self, run, x):
        """run(x_channels_last, activation) with the activation fused when it can be."""
        x = self._to_last(x)
        if self._fused is not False:
            return self._from_last(run(x, self._fused))
        return self._from_last(self.activation(run(x, None)))

    def get_config(self):
        config = {**super().get_config()}
        if self.filters is not None:
            config["filters"] = self.filters
        config.update({"kernel_size": self.kernel_size, "strides": self.strides,
                       "padding": self.padding, "data_format": self.data_format,
                       "dilation_rate": self.dilation_rate,
                       "activation": kactivations.serialize(self.activation),
                       "use_bias": self.use_bias,
                       "bias_initializer": serialize_keras_object(self.bias_initializer),
                       "bias_regularizer": serialize_keras_object(self.bias_regularizer),
                       "activity_regularizer": serialize_keras_object(
                           self.activity_regularizer),
                       "bias_constraint": serialize_keras_object(self.bias_constraint)})
        return config


class _Conv(_BaseConv):
    """Conv1D/2D/3D: kernel (*kernel_size, C/groups, filters), bias (filters,)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        if lora_rank is not None:
            raise ValueError(f"{self._who}: lora_rank is not supported, got {lora_rank!r}")
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
            raise ValueError(f"{self._who}: groups must be a positive int, got {groups!r}")
        self.groups = int(groups)
        if self.filters % self.groups:
            raise ValueError(f"{self._who}: filters must be divisible by groups, got "
                             f"filters={self.filters} and groups={self.groups}")
        self._kernel_args(kernel_initializer, kernel_regularizer, kernel_constraint)

    def build(self, input_shape):
        c = self._channels(input_shape)
        if c % self.groups:
            raise ValueError(f"{self._who}: the number of input channels must be divisible by "
                             f"groups, got groups={self.groups} and inputs of shape "
                             f"{tuple(input_shape)} ({c} channels)")
        self._conv_spatial(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (c // self.groups, self.filters),
                                      initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self.built = True

    def call(self, inputs):
        c = self._channels(inputs.shape)
        if c != self.kernel.shape[-2] * self.groups:
            raise ValueError(f"{self._who} was built for inputs with "
                             f"{self.kernel.shape[-2] * self.groups} channels, got shape "
                             f"{tuple(inputs.shape)}")
        return self._finish(lambda x, act: conv_fused(
            x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate,
            self.groups, act, op=self._who), inputs)

    def compute_output_shape(self, input_shape):
        self._channels(input_shape)
        return self._shape_out(input_shape, self._conv_spatial(input_shape), self.filters)

    def get_config(self):
        config = super().get_config()
        config["groups"] = self.groups
        return _keras_order({**config, **self._kernel_config()})


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels); padding may be 'causal'."""
    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, rows, cols, channels)."""
    rank = 2


class Conv3D(_Conv):
    """3-D convolution over (batch, depth, rows, cols, channels)."""
    rank = 3


class _ConvTranspose(_BaseConv):
    """Conv1D/2D/3DTranspose: kernel (*kernel_size, filters, C), bias (filters,)."""

    _transpose = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, self.rank, "output_padding", self._who, allow_zero=True)
        if self.output_padding is not None and any(
                p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"{self._who}: output_padding {self.output_padding} must be "
                             f"smaller than the strides {self.strides}")
        self._kernel_args(kernel_initializer, kernel_regularizer, kernel_constraint)

    def build(self, input_shape):
        c = self._channels(input_shape)
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (self.filters, c),
                                      initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self._add_bias(self.filters)
        self.built = True

    def call(self, inputs):
        c = self._channels(inputs.shape)
        if c != self.kernel.shape[-1]:
            raise ValueError(f"{self._who} was built for inputs with {self.kernel.shape[-1]} "
                             f"channels, got shape {tuple(inputs.shape)}")
        return self._finish(lambda x, act: conv_transpose_fused(
            x, self.kernel, self.bias, self.strides, self.padding, self.output_padding,
            self.dilation_rate, act, op=self._who), inputs)

    def compute_output_shape(self, input_shape):
        self._channels(input_shape)
        pads = self.output_padding or (None,) * self.rank
        spatial = tuple(conv_transpose_output_length(n, k, self.padding, p, s, d)
                        for n, k, p, s, d in zip(self._spatial(input_shape), self.kernel_size,
                                                 pads, self.strides, self.dilation_rate))
        if any(n is not None and n < 1 for n in spatial):
            raise ValueError(f"{self._who}: inputs of shape {tuple(input_shape)} give an empty "
                             f"output")
        return self._shape_out(input_shape, spatial, self.filters)

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return _keras_order({**config, **self._kernel_config()})


class Conv1DTranspose(_ConvTranspose):
    rank = 1


class Conv2DTranspose(_ConvTranspose):
    rank = 2


class Conv3DTranspose(_ConvTranspose):
    rank = 3


class _DepthwiseConv(_BaseConv):
    """DepthwiseConv1D/2D: depthwise kernel (*kernel_size, C, depth_multiplier); output
    channel c*M + m is input channel c convolved with kernel[..., c, m]."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        if isinstance(depth_multiplier, bool) or not isinstance(
                depth_multiplier, numbers.Integral) or depth_multiplier < 1:
            raise ValueError(f"{self._who}: depth_multiplier must be a positive int, got "
                             f"{depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = kinitializers.get(depthwise_initializer)
        self.depthwise_regularizer = kregularizers.get(depthwise_regularizer)
        self.depthwise_constraint = kconstraints.get(depthwise_constraint)
        self.kernel = None

    def build(self, input_shape):
        c = self._channels(input_shape)
        self._conv_spatial(input_shape)
        self.kernel = self.add_weight(shape=self.kernel_size + (c, self.depth_multiplier),
                                      initializer=self.depthwise_initializer,
                                      name="kernel", regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self._add_bias(c * self.depth_multiplier)
        self.built = True

    @property
    def depthwise_kernel(self):
        return self.kernel

    def call(self, inputs):
        c = self._channels(inputs.shape)
        if c != self.kernel.shape[-2]:
            raise ValueError(f"{self._who} was built for inputs with {self.kernel.shape[-2]} "
                             f"channels, got shape {tuple(inputs.shape)}")
        return self._finish(lambda x, act: depthwise_fused(
            x, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate, act,
            op=self._who), inputs)

    def compute_output_shape(self, input_shape):
        c = self._channels(input_shape)
        return self._shape_out(input_shape, self._conv_spatial(input_shape),
                               c * self.depth_multiplier)

    def get_config(self):
        config = super().get_config()
        config.update({"depth_multiplier": self.depth_multiplier,
                       "depthwise_initializer": serialize_keras_object(
                           self.depthwise_initializer),
                       "depthwise_regularizer": serialize_keras_object(
                           self.depthwise_regularizer),
                       "depthwise_constraint": serialize_keras_object(
                           self.depthwise_constraint)})
        return _keras_order(config)


class DepthwiseConv1D(_DepthwiseConv):
    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    rank = 2


class _SeparableConv(_BaseConv):
    """SeparableConv1D/2D: a depthwise convolution (depthwise_kernel (*kernel_size, C, M),
    no bias) then a pointwise one (pointwise_kernel (1, ..., C*M, filters), bias)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        if isinstance(depth_multiplier, bool) or not isinstance(
                depth_multiplier, numbers.Integral) or depth_multiplier < 1:
            raise ValueError(f"{self._who}: depth_multiplier must be a positive int, got "
                             f"{depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = kinitializers.get(depthwise_initializer)
        self.pointwise_initializer = kinitializers.get(pointwise_initializer)
        self.depthwise_regularizer = kregularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = kregularizers.get(pointwise_regularizer)
        self.depthwise_constraint = kconstraints.get(depthwise_constraint)
        self.pointwise_constraint = kconstraints.get(pointwise_constraint)
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        c = self._channels(input_shape)
        self._conv_spatial(input_shape)
        m = self.depth_multiplier
        self.depthwise_kernel = self.add_weight(
            shape=self.kernel_size + (c, m), initializer=self.depthwise_initializer,
            name="depthwise_kernel", regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            shape=(1,) * self.rank + (c * m, self.filters),
            initializer=self.pointwise_initializer, name="pointwise_kernel",
            regularizer=self.pointwise_regularizer, constraint=self.pointwise_constraint)
        self._add_bias(self.filters)
        self.built = True

    def call(self, inputs):
        c = self._channels(inputs.shape)
        if c != self.depthwise_kernel.shape[-2]:
            raise ValueError(f"{self._who} was built for inputs with "
                             f"{self.depthwise_kernel.shape[-2]} channels, got shape "
                             f"{tuple(inputs.shape)}")

        def run(x, act):
            y = depthwise_fused(x, self.depthwise_kernel, None, self.strides, self.padding,
                                self.dilation_rate, None, op=self._who)
            return conv_fused(y, self.pointwise_kernel, self.bias, 1, "valid", 1, 1, act,
                              op=self._who)
        return self._finish(run, inputs)

    def compute_output_shape(self, input_shape):
        self._channels(input_shape)
        return self._shape_out(input_shape, self._conv_spatial(input_shape), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": serialize_keras_object(self.depthwise_initializer),
            "pointwise_initializer": serialize_keras_object(self.pointwise_initializer),
            "depthwise_regularizer": serialize_keras_object(self.depthwise_regularizer),
            "pointwise_regularizer": serialize_keras_object(self.pointwise_regularizer),
            "depthwise_constraint": serialize_keras_object(self.depthwise_constraint),
            "pointwise_constraint": serialize_keras_object(self.pointwise_constraint)})
        return _keras_order(config)


class SeparableConv1D(_SeparableConv):
    rank = 1


class SeparableConv2D(_SeparableConv):
    rank = 2


# Keras' key order in get_config (JSON written by Keras lists them so)
_ORDER = ("name", "trainable", "dtype", "depth_multiplier", "filters", "kernel_size",
          "strides", "padding", "output_padding", "data_format", "dilation_rate", "groups",
          "activation", "use_bias", "kernel_initializer", "depthwise_initializer",
          "pointwise_initializer", "bias_initializer", "kernel_regularizer",
          "depthwise_regularizer", "pointwise_regularizer", "bias_regularizer",
          "activity_regularizer", "kernel_constraint", "depthwise_constraint",
          "pointwise_constraint", "bias_constraint")


def _keras_order(config):
    ordered = {k: config[k] for k in _ORDER if k in config}
    ordered.update({k: v for k, v in config.items() if k not in ordered})
    return ordered


Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution2DTranspose, Convolution3DTranspose = Conv2DTranspose, Conv3DTranspose

