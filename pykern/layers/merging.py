"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot, and their functional forms (add([a, b]), ...)."""

from pykern import ops
from pykern.layers.layer import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]


def _broadcast_dim(a, b):
    if a is None or b is None:
        return None if (a is None and b in (None, 1)) or (b is None and a in (None, 1)) else \
            (a if b is None else b)
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    raise ValueError


class _Merge(Layer):
    """Element-wise merge of a list of same-shape (or broadcastable) tensors."""

    _min_inputs = 1  # Keras merges a list of one tensor (Subtract and Dot need two)
    _max_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        """Keras' rule for element-wise merges: the OR of the masks, None unless
        every input is masked."""
        if previous_mask is None or any(m is None for m in previous_mask):
            return None
        out = ops.convert_to_tensor(previous_mask[0])
        for m in previous_mask[1:]:
            out = ops.logical_or(out, m)
        return out

    def _check_list(self, input_shape):
        name = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"{name} {self.name!r} must be called on a list of tensors, got "
                             f"input shape {input_shape}")
        if any(len(s) == 0 for s in input_shape):
            raise ValueError(f"{name} {self.name!r} needs inputs with a batch axis, got shapes "
                             f"{[tuple(s) for s in input_shape]}")
        n = len(input_shape)
        if n < self._min_inputs or (self._max_inputs and n > self._max_inputs):
            exact = f"exactly {self._max_inputs}" if self._max_inputs else \
                f"at least {self._min_inputs}"
            raise ValueError(f"{name} {self.name!r} must be called on {exact} inputs, got "
                             f"{n}: {[tuple(s) for s in input_shape]}")

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = max(len(s) for s in shapes)
        out = [1] * rank
        out[0] = None
        for s in shapes:
            padded = (s[0],) + (1,) * (rank - len(s)) + tuple(s[1:])
            for i in range(1, rank):
                try:
                    out[i] = _broadcast_dim(out[i], padded[i])
                except ValueError:
                    raise ValueError(f"{type(self).__name__} {self.name!r}: inputs with shapes "
                                     f"{shapes} cannot be combined element-wise") from None
        batch = {s[0] for s in shapes} - {None}
        if len(batch) > 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} cannot merge tensors with "
                             f"different batch sizes, got shapes {shapes}")
        out[0] = batch.pop() if batch else None
        return tuple(out)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{type(self).__name__} {self.name!r} must be called on a list of "
                             f"tensors, got a single input of shape {tuple(inputs.shape)}")
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        rank = max(len(x.shape) for x in inputs)
        # Keras broadcasts a lower-rank input by inserting axes after the batch axis,
        # (B, F) + (B, T, F) -> (B, 1, F), not NumPy's leading axes
        xs = [x if len(x.shape) == rank else ops.reshape(
            x, (x.shape[0],) + (1,) * (rank - len(x.shape)) + tuple(x.shape[1:]))
            for x in inputs]
        return self._merge(xs)


class Add(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(_Merge):
    _min_inputs = _max_inputs = 2

    def _merge(self, xs):
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.multiply(out, x)
        return out


class Average(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.add(out, x)
        return ops.divide(out, float(len(xs)))


class Maximum(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.maximum(out, x)
        return out


class Minimum(_Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Joins tensors along `axis`; all other dims must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate {self.name!r} (axis={self.axis}) needs inputs of "
                             f"equal rank that contains the axis, got shapes {shapes}")
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            for i in range(rank):
                if i == axis:
                    out[i] = None if out[i] is None or s[i] is None else out[i] + s[i]
                elif out[i] is None:
                    out[i] = s[i]
                elif s[i] is not None and s[i] != out[i]:
                    raise ValueError(f"Concatenate {self.name!r} (axis={self.axis}) needs "
                                     f"inputs with matching shapes except on the concatenation "
                                     f"axis, got shapes {shapes}")
        return tuple(out)

    def _merge(self, xs):
        return ops.concatenate(xs, axis=self.axis)

    def compute_mask(self, inputs, previous_mask):
        """Masks (all-True for unmasked inputs, broadcast over the features) joined
        along the axis, then reduced with any() over the last axis, as Keras."""
        if previous_mask is None or all(m is None for m in previous_mask):
            return None
        masks = []
        for x, m in zip(inputs, previous_mask):
            shape = tuple(x.shape)
            if m is None:
                masks.append(ops.ones_like(x, dtype=bool))
            else:
                m = ops.convert_to_tensor(m)
                if m.ndim < len(shape):
                    m = ops.broadcast_to(ops.expand_dims(ops.cast(m, "float32"), -1), shape)
                masks.append(ops.cast(m, "float32"))
        joined = ops.concatenate([ops.cast(m, "float32") for m in masks], axis=self.axis)
        return ops.any(joined, axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Batched dot product of two tensors along `axes` (an int or a pair);
    with normalize=True the inputs are L2-normalised along those axes first
    (cosine proximity). 2-D inputs give (B, 1)."""

    _min_inputs = _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int) and not (isinstance(axes, (list, tuple)) and len(axes) == 2 and
                  all(isinstance(a, int) for a in axes)):
            raise ValueError(f"Dot {self.name!r}: axes must be an int or a pair of ints, got "
                             f"{axes!r}")
        self.axes = axes if isinstance(axes, int) else tuple(axes)
        self.normalize = normalize

    def _resolve_axes(self, shapes):
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return tuple(a % len(s) for a, s in zip(axes, shapes))

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        s1, s2 = (tuple(s) for s in input_shape)
        if len(s1) < 2 or len(s2) < 2:
            raise ValueError(f"Dot {self.name!r} needs inputs of rank >= 2, got shapes {s1} "
                             f"and {s2}")
        a1, a2 = self._resolve_axes((s1, s2))
        if 0 in (a1, a2):
            raise ValueError(f"Dot {self.name!r} cannot take the product over the batch axis 0 "
                             f"(axes={self.axes}), got shapes {s1} and {s2}")
        if (s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]):
            raise ValueError(f"Dot {self.name!r}: dimension {s1[a1]} at axis {a1} of shape "
                             f"{s1} does not match dimension {s2[a2]} at axis {a2} of shape "
                             f"{s2}")
        out = s1[:a1] + s1[a1 + 1:] + s2[1:a2] + s2[a2 + 1:]
        return out if len(out) > 1 else out + (1,)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"Dot {self.name!r} must be called on a list of 2 tensors, got a "
                             f"single input of shape {tuple(inputs.shape)}")
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        return self._merge(list(inputs))  # inputs of different ranks are not broadcast

    def _merge(self, xs):
        x, y = xs
        a1, a2 = self._resolve_axes((x.shape, y.shape))
        if self.normalize:
            x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
        # x -> (B, Rx, K), y -> (B, K, Ry); one batched GEMM; back to (B, *rest_x, *rest_y)
        xt = ops.transpose(x, [i for i in range(len(x.shape)) if i != a1] + [a1])
        yt = ops.transpose(y, [0, a2] + [i for i in range(1, len(y.shape)) if i != a2])
        rest_x, rest_y = xt.shape[1:-1], yt.shape[2:]
        b, k = x.shape[0], x.shape[a1]
        z = ops.matmul(ops.reshape(xt, (b, -1, k)), ops.reshape(yt, (b, k, -1)))
        out = (b,) + tuple(rest_x) + tuple(rest_y)
        return ops.reshape(z, out if len(out) > 1 else out + (1,))

    def compute_mask(self, inputs, previous_mask):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
    # the norm is floored at epsilon = 1e-7, as Keras' ops.normalize
    return ops.divide(x, ops.sqrt(ops.maximum(sq, 1e-14)))


def _functional(cls):
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"Functional interface to {cls.__name__}: {cls.__name__}(**kwargs)(inputs)."
    return fn


add, subtract, multiply, average = (_functional(c) for c in (Add, Subtract, Multiply, Average))
maximum, minimum, concatenate = (_functional(c) for c in (Maximum, Minimum, Concatenate))


def dot(inputs, axes=-1, **kwargs):
    return Dot(axes=axes, **kwargs)(inputs)
