"""Wrappers: Bidirectional (a recurrent layer run both ways, outputs merged) and
TimeDistributed (a layer applied to every time step), keras_behaviour.md
§2.17-2.18."""
import copy

from pykern import ops
from pykern.layers.layer import Layer
from pykern.layers.normalization import BatchNormalization
from pykern.utils.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _renamed_copy(layer, prefix, **overrides):
    """A fresh, unbuilt layer from `layer`'s config, named prefix + its name."""
    config = serialize_keras_object(layer)
    name = layer.name[len(prefix):] if layer.name.startswith(prefix) else layer.name
    config["config"].update(overrides, name=prefix + name)
    return deserialize_keras_object(config)


class Bidirectional(Layer):
    """Runs a copy of `layer` forwards (`forward_<name>`) and a copy backwards
    (`backward_<name>`, or `backward_layer`), then merges their outputs with
    merge_mode 'concat' | 'sum' | 'mul' | 'ave' | None (a list of both). With
    return_sequences the backward outputs are flipped back to input order and
    masked steps output zeros. Weights: the forward layer's, then the backward's;
    initial_state: the forward states, then the backward ones."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Bidirectional needs a pykern.layers.Layer instance, got "
                             f"{layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"Bidirectional: backward_layer must be a pykern.layers.Layer "
                             f"instance, got {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}, "
                             f"got {merge_mode!r}")
        super().__init__(weights=weights, **kwargs)
        self.forward_layer = _renamed_copy(layer, "forward_")
        self.backward_layer = backward_layer if backward_layer is not None else \
            _renamed_copy(layer, "backward_", go_backwards=True)
        self._verify_layers()
        for sub in (self.forward_layer, self.backward_layer):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def _verify_layers(self):
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(f"Bidirectional {self.name!r}: the forward and backward layers "
                             f"must have different go_backwards, both have "
                             f"{fwd.go_backwards}")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr) != getattr(bwd, attr):
                raise ValueError(f"Bidirectional {self.name!r}: the forward and backward "
                                 f"layers must agree on {attr}, got {getattr(fwd, attr)} and "
                                 f"{getattr(bwd, attr)}")

    def build(self, sequences_shape, initial_state_shape=None):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub._build_once(tuple(sequences_shape))
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = self.forward_layer.compute_output_shape(tuple(sequences_shape))
        states = ()
        if self.return_state:
            shape, states = shape[0], tuple(shape[1:])
        if self.merge_mode == "concat":
            shape = tuple(shape[:-1]) + (shape[-1] * 2,)
        if self.merge_mode is None:
            return [shape, shape, *states, *states]
        return (shape, *states, *states) if self.return_state else shape

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kwargs = {}
        if self.forward_layer._call_takes_training:
            kwargs["training"] = training
        if self.forward_layer._call_takes_mask:
            kwargs["mask"] = mask
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(sequences, initial_state=forward_state, **kwargs)
        y_rev = self.backward_layer(sequences, initial_state=backward_state, **kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]  # back to input time order
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = ops.add(y, y_rev)
        elif self.merge_mode == "ave":
            output = ops.divide(ops.add(y, y_rev), 2.0)
        elif self.merge_mode == "mul":
            output = ops.multiply(y, y_rev)
        else:
            return [y, y_rev] + states
        return [output] + states if self.return_state else output

    def compute_mask(self, inputs, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if self.return_sequences:
            out = [mask, mask] if not self.merge_mode else mask
        else:
            out = [None, None] if not self.merge_mode else None
        if self.return_state:
            n = len(self.forward_layer.state_size) * 2
            return (out if isinstance(out, list) else [out]) + [None] * n
        return out

    @property
    def states(self):
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states + self.backward_layer.states)
        return None

    def reset_state(self):
        if not self.stateful:
            raise AttributeError(f"Bidirectional {self.name!r}: the layer must be stateful "
                                 f"to reset its states")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_keras_object(self.forward_layer),
                "backward_layer": serialize_keras_object(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)
        config["layer"] = deserialize_keras_object(config["layer"], custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            config["backward_layer"] = deserialize_keras_object(backward, custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Applies `layer` to every time step of (batch, timesteps, ...) inputs: output
    (batch, timesteps, *layer_output[1:]). The weights are the wrapped layer's. The
    steps run as one call on the inputs folded to (batch * timesteps, ...), except
    for BatchNormalization, whose statistics Keras computes per step."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs a pykern.layers.Layer instance, got "
                             f"{layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r} needs inputs of rank >= 3 "
                             f"(batch, timesteps, ...), got shape {input_shape}")
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        if not self.layer.built:
            self.layer._build_once(self._child_shape(tuple(input_shape)))
        self.built = True

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(tuple(input_shape)))
        return (child[0], input_shape[1], *child[1:])

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        if mask is not None and (len(mask.shape) < 2 or any(
                a is not None and b is not None and a != b
                for a, b in zip(mask.shape[:2], shape[:2]))):
            raise ValueError(f"TimeDistributed {self.name!r}: the mask of shape "
                             f"{tuple(mask.shape)} does not fit inputs of shape {shape} (the "
                             f"mask must start with (batch, timesteps))")
        kwargs = {}
        if self.layer._call_takes_training:
            kwargs["training"] = training
        if isinstance(self.layer, BatchNormalization):
            steps = ops.unstack(inputs, axis=1)
            masks = [None] * len(steps) if mask is None else ops.unstack(mask, axis=1)
            outs = [self.layer.call(s, **self._mask_kwarg(m), **kwargs)
                    for s, m in zip(steps, masks)]
            return ops.stack(outs, axis=1)
        folded = ops.reshape(inputs, (-1,) + shape[2:])
        if mask is not None:
            mask = ops.reshape(mask, (-1,) + tuple(mask.shape[2:]))
        out = self.layer.call(folded, **self._mask_kwarg(mask), **kwargs)
        lead = (-1, shape[1]) if shape[1] is not None else (shape[0], -1)
        return ops.reshape(out, lead + tuple(out.shape[1:]))

    def _mask_kwarg(self, mask):
        return {"mask": mask} if self.layer._call_takes_mask and mask is not None else {}

    def get_config(self):
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects)
        return cls(layer, **config)
