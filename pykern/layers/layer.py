"""The Layer contract: build on first call, own weights in Keras order, config
round-trips, symbolic calls that wire the functional graph.

Weights follow keras_behaviour.md §1: `weights` = own trainable + own
non-trainable variables (each in creation order), then every tracked
sub-layer's weights (attribute-assignment order), de-duplicated. Freezing a
layer flips its variables' `trainable` flags but never reorders `weights`.
"""
import contextvars
import functools
import inspect

import numpy as np

from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import regularizers as kregularizers
from pykern.backend import devices
from pykern.backend.state import to_snake_case, uniquify
from pykern.backend.keras_tensor import KerasTensor
from pykern.backend.tensor import Tensor, Variable
from pykern.utils.serialization import register_builtin, serialize_keras_object

__all__ = ["Layer", "KerasTensor", "Node"]

_DTYPE_POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                 "registered_name": None}


# The call in progress, per thread and asyncio task: nested layers inherit `training`,
# and weights created inside a call get paths under the enclosing layers' names.
_TRAINING = contextvars.ContextVar("pykern_training", default=None)
_SCOPE = contextvars.ContextVar("pykern_name_scope", default=())


class Node:
    """One call of a layer on symbolic tensors: the positional arguments (each a
    KerasTensor, a nested list/dict of them, or a constant), the keyword
    arguments (constants, or tensors such as an RNN's initial_state), the outputs."""

    __slots__ = ("layer", "args", "kwargs", "outputs", "flat_inputs", "flat_outputs")

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        # tensors passed by keyword (an RNN's initial_state=[h, c]) are inputs too
        self.flat_inputs = [t for t in _flatten(args) + _flatten(list(kwargs.values()))
                            if isinstance(t, KerasTensor)]
        self.flat_outputs = _flatten(outputs)
        node_index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, t in enumerate(self.flat_outputs):
            t._keras_history = (layer, node_index, i)

    @property
    def parent_nodes(self):
        parents = []
        for t in self.flat_inputs:
            layer, index, _ = t._keras_history
            parents.append(layer._inbound_nodes[index])
        return parents

    @property
    def is_input(self):
        return not self.flat_inputs


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    if isinstance(x, dict):
        return [v for k in x for v in _flatten(x[k])]
    return [x]


def _map(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, item) for item in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _is_symbolic(x):
    if type(x) is KerasTensor:
        return True
    if isinstance(x, (list, tuple, dict)):
        return any(isinstance(t, KerasTensor) for t in _flatten(x))
    return False


def _shape_of(x):
    if isinstance(x, (Tensor, np.ndarray, KerasTensor)):
        return tuple(x.shape)
    return tuple(np.shape(x))


def _input_shapes(x):
    """One shape tuple for a single input, a list of them for a list of inputs."""
    if isinstance(x, (list, tuple)):
        return [_input_shapes(v) for v in x]
    if isinstance(x, dict):
        return {k: _input_shapes(v) for k, v in x.items()}
    return _shape_of(x)


def _is_shape(s):
    return isinstance(s, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


class Layer:
    """Base class of every layer and model.

    Subclasses implement `build(input_shape)` (create weights with
    `add_weight`), `call(inputs, training=None, mask=None)` and, where the
    output shape is not the input shape, `compute_output_shape`. Layers built
    in `__init__` are tracked as sub-layers when assigned to attributes.
    """

    _keras_module = "keras.layers"
    _is_operation = False  # True for symbolic ops (x * 2 on KerasTensors): not in model.layers
    # Keras builds layers without state when they are made (pooling, Dropout, activations):
    # summaries show their params as 0, not '0 (unbuilt)', and configs carry no build_config
    _built_at_init = False
    _ALLOWED_KWARGS = {"input_shape", "input_dim", "batch_input_shape", "batch_size",
                       "batch_shape", "weights", "autocast"}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = inspect.signature(cls.call).parameters
        cls._call_takes_training = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
        cls._call_takes_mask = "mask" in params
        # a layer with its own compute_mask may create masks from unmasked inputs
        cls._makes_masks = cls.compute_mask is not Layer.compute_mask
        if cls.__module__.startswith("pykern."):
            register_builtin(cls._keras_module, cls)
        if "build" in cls.__dict__:
            cls.build = _locking_build(cls.__dict__["build"])

    def __init__(self, trainable=True, name=None, dtype=None, activity_regularizer=None,
                 **kwargs):
        unknown = set(kwargs) - self._ALLOWED_KWARGS
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{sorted(unknown)}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without "
                             f"'/', got {name!r}")
        self._check_dtype(dtype)
        object.__setattr__(self, "_layers", [])
        self.name = name or uniquify(to_snake_case(type(self).__name__))
        self.built = self._built_at_init
        self._trainable = bool(trainable)
        self._trainable_variables = []
        self._non_trainable_variables = []
        self._inbound_nodes = []
        self._call_losses = []
        self.activity_regularizer = kregularizers.get(activity_regularizer)
        self._initial_weights = kwargs.get("weights")
        self._batch_input_shape = self._batch_shape_from_kwargs(kwargs)
        self._build_shape = None  # the input shape of the first call (for summaries)
        self.supports_masking = False

    # --- construction helpers ---------------------------------------------------------------
    def _check_dtype(self, dtype):
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name")
        if dtype not in (None, "float32", np.float32):
            raise ValueError(f"{type(self).__name__}: pykern computes in float32; "
                             f"dtype={dtype!r} is not supported")

    def _batch_shape_from_kwargs(self, kwargs):
        if kwargs.get("batch_shape") is not None:
            return tuple(kwargs["batch_shape"])
        if kwargs.get("batch_input_shape") is not None:
            return tuple(kwargs["batch_input_shape"])
        shape = kwargs.get("input_shape")
        if kwargs.get("input_dim") is not None:
            shape = (kwargs["input_dim"],)
        if shape is not None:
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            return (kwargs.get("batch_size"),) + shape
        return None

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and value is not self:
            self._track(value)
        elif isinstance(value, (list, tuple)) and not name.startswith("__"):
            for v in value:
                if isinstance(v, Layer):
                    self._track(v)
        object.__setattr__(self, name, value)

    def _track(self, layer):
        if not any(layer is t for t in self._layers):
            self._layers.append(layer)

    # --- weights ----------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   regularizer=None, constraint=None, name=None, **kwargs):
        """Creates a float32 Variable owned by this layer (Keras 3 argument order;
        a leading string is taken as the name, Keras 2 style)."""
        if isinstance(shape, str):  # Keras 2 order: add_weight(name, shape, ...)
            name, shape = shape, kwargs.pop("shape", None)
            if isinstance(initializer, (tuple, list)):
                shape, initializer = initializer, None
        if kwargs:
            raise TypeError(f"{self.name}.add_weight: unexpected keyword argument(s) "
                            f"{sorted(kwargs)}")
        if self.__dict__.get("_state_locked"):
            raise ValueError(f"Layer {self.name!r} is already built: it cannot add the weight "
                             f"{name!r}. Create all weights in build() (which runs once) or "
                             f"__init__, as Keras requires.")
        shape = () if shape is None else tuple(int(d) for d in shape)
        if initializer is None:
            initializer = "glorot_uniform" if len(shape) >= 2 else "zeros"
        init = kinitializers.get(initializer)
        if name is None:  # Keras names an unnamed variable from the session's counter
            name = uniquify("variable")
        # integer/bool state (step counters, ...) keeps its dtype; floats are float32
        exact = isinstance(dtype, (str, type, np.dtype)) and np.dtype(dtype).kind in "iub"
        if not exact:
            self._check_dtype(dtype)
        scope = list(_SCOPE.get())
        own = scope[-1:] == [self.name]  # inside this layer's own build
        path = "/".join(scope + [name] if own else scope + [self.name, name])
        v = Variable(init, shape=shape, dtype=np.dtype(dtype) if exact else "float32",
                     trainable=trainable, name=name, path=path,
                     regularizer=kregularizers.get(regularizer),
                     constraint=kconstraints.get(constraint))
        (self._trainable_variables if trainable else self._non_trainable_variables).append(v)
        if not self._trainable:
            v.trainable = False
        return v

    def _own_variables(self):
        return self._trainable_variables + self._non_trainable_variables

    @property
    def weights(self):
        out, seen = [], set()
        for v in self._own_variables():
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._layers:
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    variables = weights

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        return [v for v in self.weights if v.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        if not self._trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._layers:
            layer.trainable = value

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        """Assigns arrays in `weights` order; the count and every shape must match."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"Layer {self.name!r} expects {len(own)} weight arrays "
                             f"{[tuple(v.shape) for v in own]}, but received {len(weights)}")
        for v, w in zip(own, weights):
            w = np.asarray(w)
            if tuple(w.shape) != tuple(v.shape):
                raise ValueError(f"Layer {self.name!r} weight {v.path!r} has shape "
                                 f"{tuple(v.shape)}, but the provided array has shape "
                                 f"{tuple(w.shape)}")
        for v, w in zip(own, weights):
            v.assign(w)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call count_params on layer {self.name!r}, but the "
                             f"layer isn't built. Build it first (call it on data or call "
                             f"build(input_shape)).")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # --- losses -----------------------------------------------------------------------------
    def add_loss(self, loss):
        """Adds a scalar (differentiable) loss; collected in `losses` until the next call."""
        self._call_losses.append(loss)

    @property
    def losses(self):
        """Regularization penalties of trainable weights plus losses added by the last
        call (activity regularizers, add_loss), for this layer and its sub-layers."""
        out = list(self._call_losses)
        for v in self._own_variables():
            if v.regularizer is not None and v.trainable and self._trainable:
                out.append(v.regularizer(v))
        seen = {id(self)}
        for layer in self._layers:
            if id(layer) not in seen:
                seen.add(id(layer))
                out.extend(layer.losses)
        return out

    # --- build / call -----------------------------------------------------------------------
    def build(self, input_shape):
        """Creates the weights for inputs of `input_shape`; the base has none."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """The computation; layers without one act as the identity."""
        return inputs

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (None for unknown dims). The base class
        runs `call` on the meta device: shapes only, no compute."""
        return _input_shapes(meta_call(self.call, input_shape))

    def _build_once(self, input_shape):
        object.__setattr__(self, "_build_shape", input_shape)
        token = _SCOPE.set(_SCOPE.get() + (self.name,))
        try:
            self.build(input_shape)
        finally:
            _SCOPE.reset(token)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def __call__(self, inputs, *args, **kwargs):
        if (not kwargs and not args and self.built and isinstance(inputs, Tensor)
                and self.activity_regularizer is None and not self._call_losses
                and getattr(inputs, "_keras_mask", None) is None and not self._makes_masks):
            # the common call (one tensor, nothing to pass on): `training` is inherited
            # from the enclosing call unchanged, so the context needs no update
            if self._call_takes_training:
                return self.call(inputs, training=_TRAINING.get())
            return self.call(inputs)
        for a in args:
            if a is None or isinstance(a, (bool, int, float, str, np.bool_)):
                raise ValueError(f"Layer {self.name!r}: only input tensors may be passed as "
                                 f"positional arguments; pass {a!r} as a keyword argument "
                                 f"(e.g. training={a!r})")
        if _is_symbolic(inputs):
            return self._symbolic_call(inputs, *args, **kwargs)
        if not isinstance(inputs, Tensor):
            inputs = _to_tensors(inputs)
        first_call = not self.built
        if first_call:
            self._build_once(_input_shapes(inputs))
        training = kwargs.pop("training", None)
        if training is None:
            training = _TRAINING.get()
        if self._call_takes_training:
            kwargs["training"] = training
        previous_mask = kwargs.get("mask")
        if previous_mask is None and (self.supports_masking or self._call_takes_mask):
            previous_mask = _masks_of(inputs)
            # as Keras 3: the mask is filled in only when the inputs are the one tensor
            # argument (an RNN given initial_state= tensors gets no automatic mask)
            if previous_mask is not None and self._call_takes_mask and not _more_tensors(
                    args, kwargs):
                kwargs["mask"] = previous_mask
        if "mask" in kwargs and not self._call_takes_mask:
            kwargs.pop("mask")
        if self._call_losses:
            object.__setattr__(self, "_call_losses", [])
        # sub-layers built inside this call get paths under this layer's name, as in
        # Keras (sub/dense/kernel for a subclassed model's Dense); a built layer without
        # sub-layers builds nothing, and an unchanged `training` needs no new context
        scoped = first_call or bool(self._layers)
        if scoped or training is not _TRAINING.get():
            tokens = (_TRAINING.set(training),
                      _SCOPE.set(_SCOPE.get() + (self.name,)) if scoped else None)
            try:
                outputs = self.call(inputs, *args, **kwargs)
            finally:
                _TRAINING.reset(tokens[0])
                if scoped:
                    _SCOPE.reset(tokens[1])
        else:
            outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            for out in _flatten(outputs):
                self._call_losses.append(self._activity_penalty(out))
        if self.supports_masking and (previous_mask is not None or self._makes_masks):
            self._set_mask(inputs, outputs, previous_mask)
        return outputs

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs (layers that support masking pass it on)."""
        return previous_mask

    def _set_mask(self, inputs, outputs, previous_mask):
        flat = [t for t in _flatten(outputs) if isinstance(t, Tensor)]
        if not flat or all(getattr(t, "_keras_mask", None) is not None for t in flat):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for t, m in zip(flat, _flatten(masks)):
            if m is not None and getattr(t, "_keras_mask", None) is None:
                t._keras_mask = m

    def _activity_penalty(self, out):
        from pykern import ops
        batch = out.shape[0] if out.ndim else 1
        return ops.divide(self.activity_regularizer(out), float(batch))

    def _symbolic_call(self, inputs, *args, **kwargs):
        shapes = _input_shapes(inputs)
        if not self.built:
            self._build_once(shapes)
        if kwargs.get("training") is None:
            kwargs.pop("training", None)
        out_shapes = self.compute_output_shape(shapes)
        outputs = _shapes_to_tensors(out_shapes, self.name)
        Node(self, (inputs,) + args, kwargs, outputs)
        return outputs

    # --- symbolic-graph accessors -----------------------------------------------------------
    def _node_tensors(self, attr):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has never been called on symbolic "
                                 f"inputs, so it has no defined {attr}")
        node = self._inbound_nodes[0]
        tensors = node.flat_inputs if attr == "input" else node.flat_outputs
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def input(self):
        return self._node_tensors("input")

    @property
    def output(self):
        return self._node_tensors("output")

    @property
    def input_shape(self):
        t = self.input
        return [x.shape for x in t] if isinstance(t, list) else t.shape

    @property
    def output_shape(self):
        t = self.output
        return [x.shape for x in t] if isinstance(t, list) else t.shape

    @property
    def dtype(self):
        return "float32"

    # --- config -----------------------------------------------------------------------------
    def get_config(self):
        # like Keras 3, no batch_shape here: a Sequential records it in its InputLayer
        config = {"name": self.name, "trainable": self.trainable, "dtype": dict(_DTYPE_POLICY)}
        if self.activity_regularizer is not None and "activity_regularizer" in inspect.signature(
                type(self).__init__).parameters:
            config["activity_regularizer"] = serialize_keras_object(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "batch_input_shape" in config and "batch_shape" not in config:
            config["batch_shape"] = config.pop("batch_input_shape")
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}.from_config could not rebuild the layer from "
                            f"{sorted(config)}: {e}. Custom layers must implement get_config "
                            f"and accept its keys in __init__.") from e

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


Layer._call_takes_training = True
Layer._call_takes_mask = False
Layer._makes_masks = False
register_builtin("keras.layers", Layer)


def _locking_build(build):
    """`build` that, once the outermost build of a layer returns, forbids new weights
    (Keras' state lock): building twice no longer duplicates the weights. A
    subclass's build may still call super().build() before adding its own."""
    @functools.wraps(build)
    def locked(self, *args, **kwargs):
        depth = self.__dict__.get("_build_depth", 0)
        object.__setattr__(self, "_build_depth", depth + 1)
        try:
            out = build(self, *args, **kwargs)
        finally:
            object.__setattr__(self, "_build_depth", depth)
        if depth == 0:
            object.__setattr__(self, "_state_locked", True)
        return out
    return locked


def _more_tensors(args, kwargs):
    """True when tensors are passed besides the inputs (positionally or by keyword)."""
    return any(isinstance(t, Tensor) for t in _flatten(list(args)) + _flatten(
        [v for k, v in kwargs.items() if k not in ("mask", "training")]))


def _masks_of(x):
    """The masks attached to the input tensor(s), None when there are none."""
    if isinstance(x, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in x]
        return None if all(m is None for m in masks) else masks
    return getattr(x, "_keras_mask", None)


def _to_tensors(x):
    """Arrays (and lists/dicts of them) as Tensors, floats as float32, as Keras
    converts a layer's inputs."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_to_tensors(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_tensors(v) for k, v in x.items()}
    if isinstance(x, (np.ndarray, np.generic, float, int)):
        v = np.asarray(x)
        if v.dtype.kind in "USO":  # strings stay host data (the lookup layers map them)
            return v
        return Tensor(v.astype(np.float32) if v.dtype.kind == "f" and v.dtype != np.float32
                      else v)
    return x


def _map_shapes(fn, shapes):
    if _is_shape(shapes):
        return fn(shapes)
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return [_map_shapes(fn, s) for s in shapes]


def meta_tensors(shapes):
    """Meta tensors (shape only, None for unknown dims) for a shape or a nested
    list/dict of shapes."""
    from pykern.backend.devices.meta import MetaArray
    return _map_shapes(lambda s: Tensor._wrap(MetaArray(s), devices.META), shapes)


def meta_call(fn, input_shapes, *args, **kwargs):
    """fn on meta tensors of `input_shapes`: shape inference with no compute.
    Variables created meanwhile (layers built on first call) still get real values
    on the device outside the trace."""
    with devices.trace():
        return fn(meta_tensors(input_shapes), *args, **kwargs)


def _shapes_to_tensors(shapes, name):
    if _is_shape(shapes):
        return KerasTensor(shapes, name=name)
    if isinstance(shapes, dict):
        return {k: _shapes_to_tensors(v, name) for k, v in shapes.items()}
    return [_shapes_to_tensors(s, name) for s in shapes]
