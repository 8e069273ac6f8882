"""Normalization layers: BatchNormalization, LayerNormalization,
GroupNormalization and UnitNormalization with Keras 3's arguments, weights (names, order) and
semantics. Batch normalization uses the batch statistics and updates its moving
statistics only when called with training=True on a trainable layer (a frozen
layer runs in inference mode, as Keras 3); each mode is one native pass forward
and one backward."""
import numbers

from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import ops
from pykern import regularizers as kregularizers
from pykern.backend.tensor import no_grad as ops_no_grad
from pykern.layers.layer import Layer
from pykern.ops.normalization import (batch_norm_train, batch_normalization,
                                      group_norm_train, layer_normalization)
from pykern.utils.serialization import serialize_keras_object

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization",
           "UnitNormalization"]


class _AffineNorm(Layer):
    """Shared gamma/beta arguments (center, scale, initializers, regularizers,
    constraints) and their config."""

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or epsilon < 0:
            raise ValueError(f"{self._who}: epsilon must be a number >= 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = kinitializers.get(beta_initializer)
        self.gamma_initializer = kinitializers.get(gamma_initializer)
        self.beta_regularizer = kregularizers.get(beta_regularizer)
        self.gamma_regularizer = kregularizers.get(gamma_regularizer)
        self.beta_constraint = kconstraints.get(beta_constraint)
        self.gamma_constraint = kconstraints.get(gamma_constraint)
        self.gamma = self.beta = None
        self.supports_masking = True

    @property
    def _who(self):
        return f"{type(self).__name__} {self.name!r}"

    def _add_affine(self, shape, beta=True):
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         name="gamma", regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center and beta:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        name="beta", regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)

    def _axis_checked(self, axis, input_shape):
        n = len(input_shape)
        if not -n <= axis < n:
            raise ValueError(f"{self._who}: axis {axis} is out of range for inputs of shape "
                             f"{tuple(input_shape)}")
        if input_shape[axis] is None:
            raise ValueError(f"{self._who}: axis {axis} of the inputs must have a known size, "
                             f"got shape {tuple(input_shape)}")
        return axis % n

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _affine_config(self):
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": serialize_keras_object(self.beta_initializer),
                "gamma_initializer": serialize_keras_object(self.gamma_initializer),
                "beta_regularizer": serialize_keras_object(self.beta_regularizer),
                "gamma_regularizer": serialize_keras_object(self.gamma_regularizer),
                "beta_constraint": serialize_keras_object(self.beta_constraint),
                "gamma_constraint": serialize_keras_object(self.gamma_constraint)}


class BatchNormalization(_AffineNorm):
    """Normalises each channel of `axis` with the batch's mean and (biased) variance
    while training, with the moving averages otherwise; moving = moving * momentum +
    batch * (1 - momentum). Weights: gamma, beta, moving_mean, moving_variance."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"{self._who}: axis must be an int, got {axis!r}")
        if renorm:
            raise ValueError(f"{self._who}: renorm=True is not supported by pykern")
        self.axis = int(axis)
        self.momentum = float(momentum)
        # one process: synchronized statistics are the local ones (Keras without a strategy)
        self.synchronized = bool(synchronized)
        self.renorm, self.renorm_clipping = False, renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.moving_mean_initializer = kinitializers.get(moving_mean_initializer)
        self.moving_variance_initializer = kinitializers.get(moving_variance_initializer)
        self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        ax = self._axis_checked(self.axis, input_shape)
        shape = (input_shape[ax],)
        self._add_affine(shape)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean",
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        ax = self._axis_checked(self.axis, inputs.shape)
        if inputs.shape[ax] != self.moving_mean.shape[0]:
            raise ValueError(f"{self._who} was built for {self.moving_mean.shape[0]} channels "
                             f"on axis {self.axis}, got inputs of shape {tuple(inputs.shape)}")
        if mask is not None and len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(f"{self._who}: the mask must have one dimension less than the "
                             f"inputs, got mask of shape {tuple(mask.shape)} for inputs of "
                             f"shape {tuple(inputs.shape)}")
        if not (training and self.trainable):
            return batch_normalization(inputs, self.moving_mean, self.moving_variance, ax,
                                       self.beta, self.gamma, self.epsilon)
        if mask is None:
            out, mean, var = batch_norm_train(inputs, self.gamma, self.beta, ax, self.epsilon,
                                              op=self._who)
        else:
            mean, var = self._masked_moments(inputs, mask, ax)
            out = batch_normalization(inputs, mean, var, ax, self.beta, self.gamma,
                                      self.epsilon)
        m = self.momentum
        with ops_no_grad():
            self.moving_mean.assign(ops.add(ops.multiply(self.moving_mean, m),
                                            ops.multiply(mean, 1.0 - m)))
            self.moving_variance.assign(ops.add(ops.multiply(self.moving_variance, m),
                                                ops.multiply(var, 1.0 - m)))
        return out

    def _masked_moments(self, x, mask, ax):
        """Keras' weighted moments: only unmasked positions count."""
        axes = tuple(i for i in range(x.ndim) if i != ax)
        w = ops.cast(ops.broadcast_to(ops.expand_dims(mask, -1), x.shape), "float32")
        count = ops.add(ops.sum(w, axis=axes, keepdims=True), 1e-7)
        mean = ops.divide(ops.sum(ops.multiply(x, w), axis=axes, keepdims=True), count)
        var = ops.divide(ops.sum(ops.square(ops.multiply(ops.subtract(x, mean), w)),
                                 axis=axes, keepdims=True), count)
        return ops.reshape(mean, (-1,)), ops.reshape(var, (-1,))

    def get_config(self):
        return _ordered({**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                         **self._affine_config(),
                         "moving_mean_initializer": serialize_keras_object(
                             self.moving_mean_initializer),
                         "moving_variance_initializer": serialize_keras_object(
                             self.moving_variance_initializer),
                         "synchronized": self.synchronized, "renorm": self.renorm,
                         "renorm_clipping": self.renorm_clipping,
                         "renorm_momentum": self.renorm_momentum})


class LayerNormalization(_AffineNorm):
    """Normalises each sample over `axis` (an int or a list; after build a sorted
    list, as Keras keeps it), then gamma * x + beta shaped like those axes."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"{self._who}: axis must be an int or a list of ints, got "
                            f"{axis!r}")
        self.rms_scaling = bool(rms_scaling)  # deprecated in Keras 3; kept for old configs

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            self._axis_checked(a, input_shape)
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self.axis)
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         name="gamma", regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        name="beta", regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs):
        for a in self.axis:
            self._axis_checked(a, inputs.shape)
        return layer_normalization(inputs, self.gamma, self.beta, self.axis, self.epsilon,
                                   rms_scaling=self.rms_scaling)

    def get_config(self):
        return _ordered({**super().get_config(), "axis": self.axis, **self._affine_config(),
                         "rms_scaling": self.rms_scaling})


class GroupNormalization(_AffineNorm):
    """Normalises each sample over groups of channels (`groups` groups on `axis`),
    then a per-channel gamma and beta."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
            raise ValueError(f"{self._who}: groups must be a positive int, got {groups!r}")
        self.groups, self.axis = int(groups), int(axis)

    def build(self, input_shape):
        ax = self._axis_checked(self.axis, input_shape)
        c = input_shape[ax]
        if c < self.groups:
            raise ValueError(f"{self._who}: number of groups ({self.groups}) cannot be more "
                             f"than the number of channels ({c})")
        if c % self.groups:
            raise ValueError(f"{self._who}: number of groups ({self.groups}) must divide the "
                             f"number of channels ({c})")
        self._add_affine((c,))
        self.built = True

    def call(self, inputs):
        ax = self._axis_checked(self.axis, inputs.shape)
        last = ax == inputs.ndim - 1
        order = [i for i in range(inputs.ndim) if i != ax] + [ax]
        x = inputs if last else ops.transpose(inputs, order)
        y = group_norm_train(x, self.groups, self.gamma, self.beta, self.epsilon,
                             op=self._who)
        if last:
            return y
        inverse = sorted(range(len(order)), key=order.__getitem__)
        return ops.transpose(y, inverse)

    def get_config(self):
        return _ordered({**super().get_config(), "groups": self.groups, "axis": self.axis,
                         **self._affine_config()})


# Keras' key order in these layers' configs
_ORDER = ("name", "trainable", "dtype", "groups", "axis", "momentum", "epsilon", "center",
          "scale", "rms_scaling", "beta_initializer", "gamma_initializer",
          "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
          "gamma_regularizer", "beta_constraint", "gamma_constraint", "synchronized", "renorm",
          "renorm_clipping", "renorm_momentum")


def _ordered(config):
    return {k: config[k] for k in _ORDER if k in config} | {
        k: v for k, v in config.items() if k not in _ORDER}


_EPSILON = 1e-12  # Keras' UnitNormalization: ops.normalize(order=2, epsilon=1e-12)


class UnitNormalization(Layer):
    """x / ||x||_2 over `axis` (an int or a list of ints), per sample:
    x * min(rsqrt(sum(x^2)), 1/epsilon) as Keras, so an all-zero slice stays 0."""

    _built_at_init = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"UnitNormalization {self.name!r}: axis must be an int or a "
                            f"list/tuple of ints, got axis={axis!r}")
        self.supports_masking = True

    def _check(self, shape):
        rank = len(shape)
        for a in self.axis if isinstance(self.axis, list) else [self.axis]:
            if not -rank <= a < rank:
                raise ValueError(f"UnitNormalization {self.name!r}: axis {self.axis} is out of "
                                 f"bounds for input shape {tuple(shape)}")

    def call(self, inputs):
        self._check(inputs.shape)
        square_sum = ops.sum(ops.square(inputs), axis=self.axis, keepdims=True)
        # min(rsqrt(s), 1/eps) as 1/sqrt(max(s, eps^2)): the same value, and where s is
        # clamped the gradient through s is 0 rather than 0 * inf = NaN (TF's is also 0)
        inverse_norm = ops.reciprocal(ops.sqrt(ops.maximum(square_sum, _EPSILON ** 2)))
        return ops.multiply(inputs, inverse_norm)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
