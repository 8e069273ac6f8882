"""Functional models: a graph of layer calls from Input tensors to outputs.

The layer order (`model.layers`, hence `get_weights()`) follows Keras exactly
(keras_behaviour.md §1): a depth-first walk from the outputs numbers the layers
in the order it first reaches them; each node's depth is its distance from the
outputs; layers are listed by decreasing depth, ties by that number. Calls run
node by node in decreasing depth, from a plan made once at construction.
"""
from pykern.layers.input_layer import InputLayer
from pykern.layers.layer import KerasTensor, Layer, _flatten, _is_shape, _map
from pykern.models.model import Model
from pykern.utils.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["Functional"]


def _build_map(inputs, outputs):
    finished, in_progress = set(), set()
    nodes_in_decreasing_depth = []
    layer_indices = {}
    input_ids = {id(t) for t in inputs}

    def visit(tensor):
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"The tensor {tensor!r} at layer {layer.name!r} is part of a cycle")
        layer_indices.setdefault(id(layer), (len(layer_indices), layer))
        in_progress.add(id(node))
        if not node.is_input and id(tensor) not in input_ids:
            for t in node.flat_inputs:
                visit(t)
        finished.add(id(node))
        in_progress.discard(id(node))
        nodes_in_decreasing_depth.append(node)

    for t in outputs:
        visit(t)
    return nodes_in_decreasing_depth, layer_indices


def _map_graph(inputs, outputs):
    """(layers in Keras order, {depth: [nodes]}) for the graph from inputs to outputs."""
    nodes, layer_indices = _build_map(inputs, outputs)
    node_depth, layer_depth = {}, {}
    node_by_id = {}
    for node in reversed(nodes):
        node_by_id[id(node)] = node
        depth = node_depth.setdefault(id(node), 0)
        depth = max(depth, layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            node_by_id[id(parent)] = parent
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:
        layer = t._keras_history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)] = 0
            layer_indices[id(layer)] = (-1, layer)
            node_by_id[id(layer._inbound_nodes[0])] = layer._inbound_nodes[0]
            node_depth[id(layer._inbound_nodes[0])] = 0
    nodes_by_depth = {}
    for nid, depth in node_depth.items():
        nodes_by_depth.setdefault(depth, []).append(node_by_id[nid])
    layers_by_depth = {}
    for lid, depth in layer_depth.items():
        layers_by_depth.setdefault(depth, []).append(layer_indices[lid])
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers.extend(layer for _, layer in sorted(layers_by_depth[depth], key=lambda p: p[0]))
    nodes_by_depth = {d: nodes_by_depth[d] for d in sorted(nodes_by_depth, reverse=True)}
    return layers, nodes_by_depth


class Functional(Model):
    """Model(inputs, outputs): inputs/outputs are KerasTensors or lists/dicts of them."""

    _keras_module = "keras.src.models.functional"  # where Keras 3 configs say it lives
    _registered_name = "Functional"

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, trainable=trainable, name=name or _auto_name(), **kwargs)
        flat_in, flat_out = _flatten(inputs), _flatten(outputs)
        for kind, flat in (("inputs", flat_in), ("outputs", flat_out)):
            for t in flat:
                if not isinstance(t, KerasTensor):
                    raise ValueError(f"Model {self.name!r}: all {kind} must be KerasTensors "
                                     f"(from pykern.Input or layer calls), got {t!r}")
        self._input_struct = inputs
        self._output_struct = outputs
        self._inputs = flat_in
        self._outputs = flat_out
        operations, self._nodes_by_depth = _map_graph(flat_in, flat_out)
        _check_unique_names(operations)
        self._operations = operations
        object.__setattr__(self, "_layers", [op for op in operations if not op._is_operation])
        self._plan = self._make_plan()
        self._steps = [(node,
                        id(node.args[0]) if len(node.args) == 1 and not node.kwargs and
                        type(node.args[0]) is KerasTensor else None,
                        id(node.outputs) if type(node.outputs) is KerasTensor else None)
                       for node in self._plan]
        # Keras returns the tensor itself when outputs is one tensor or a list/tuple of
        # one (symbolic calls keep the structure)
        single = outputs[0] if type(outputs) in (list, tuple) and len(outputs) == 1 else outputs
        self._single_output = id(single) if type(single) is KerasTensor else None
        self._checked_shapes = None
        self._input_names = [t._keras_history[0].name for t in flat_in]
        self.built = True

    def _make_plan(self):
        known = {id(t) for t in self._inputs}
        plan, done = [], []
        for nodes in self._nodes_by_depth.values():
            for node in nodes:
                if node.is_input:
                    continue
                for t in node.flat_inputs:
                    if id(t) not in known:
                        raise ValueError(
                            f"Graph disconnected: cannot get a value for tensor {t!r} at layer "
                            f"{node.layer.name!r}. The following previous layers were accessed "
                            f"without issue: {done}")
                plan.append(node)
                done.append(node.layer.name)
                known.update(id(t) for t in node.flat_outputs)
        for t in self._outputs:
            if id(t) not in known:
                raise ValueError(f"Graph disconnected: output {t!r} cannot be computed from "
                                 f"the model inputs")
        return plan

    # --- calling --------------------------------------------------------------------------
    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input(self):
        return self._input_struct

    @property
    def output(self):
        return self._output_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self):
        return list(self._input_names)

    def _standardize(self, inputs):
        n = len(self._inputs)
        if isinstance(inputs, dict):
            # keys of a dict-structured model's inputs, else the Input layer names
            keys = list(self._input_struct) if isinstance(self._input_struct, dict) else \
                self._input_names
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(f"Model {self.name!r}: missing inputs {missing}; expected keys "
                                 f"{keys}, got {sorted(inputs)}")
            flat = [inputs[k] for k in keys]
        elif isinstance(inputs, (list, tuple)):
            flat = list(inputs)
        else:
            flat = [inputs]
        if len(flat) != n:
            raise ValueError(f"Model {self.name!r} expects {n} input(s) "
                             f"{[t.shape for t in self._inputs]}, but received {len(flat)}")
        shapes = tuple(getattr(x, "shape", None) for x in flat)
        if shapes != self._checked_shapes:  # checked once per new batch shape
            for i, (shape, spec) in enumerate(zip(shapes, self._inputs)):
                if shape is None:
                    continue
                shape = tuple(shape)
                if len(shape) != len(spec.shape) or any(
                        s is not None and d is not None and d != s
                        for d, s in zip(shape, spec.shape)):
                    raise ValueError(f"Input {i} of model {self.name!r} is incompatible: "
                                     f"expected shape {spec.shape}, got {shape}")
            self._checked_shapes = shapes
        return flat

    def _symbolic_call(self, inputs, *args, **kwargs):
        self._standardize(inputs)  # a model used as a layer checks its inputs like a call
        return super()._symbolic_call(inputs, *args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        values = {id(t): v for t, v in zip(self._inputs, self._standardize(inputs))}

        def value(t):
            return values[id(t)] if isinstance(t, KerasTensor) else t
        for node, simple_in, simple_out in self._steps:
            if simple_in is not None:  # the common node: one tensor in, one out
                out = node.layer(values[simple_in])
            else:
                out = node.layer(*[_map(value, a) for a in node.args],
                                 **{k: _map(value, v) for k, v in node.kwargs.items()})
            if simple_out is not None:
                values[simple_out] = out
            else:
                for t, v in zip(node.flat_outputs, _flatten(out)):
                    values[id(t)] = v
        if self._single_output is not None:
            return values[self._single_output]
        return _map(lambda t: values[id(t)], self._output_struct)

    def compute_output_shape(self, input_shape):
        shapes = [t.shape for t in self._outputs]
        if self._refines(input_shape):
            shapes = self._traced_output_shapes(input_shape, shapes)
        it = iter(shapes)  # in the outputs' structure: a dict of outputs gives a dict
        return _map(lambda t: next(it), self._output_struct)

    def _refines(self, input_shape):
        """True when input_shape knows a dim the model's inputs leave None (a model
        built for (None, None, 4) called on (None, 5, 4))."""
        if _is_shape(input_shape):
            given = [input_shape]
        elif isinstance(input_shape, dict):
            keys = list(self._input_struct) if isinstance(self._input_struct, dict) else \
                self._input_names
            given = [input_shape.get(k) for k in keys]
        else:
            given = list(input_shape)
        return any(
            g is not None and len(g) == len(t.shape) and any(
                s is None and d is not None for d, s in zip(g, t.shape))
            for g, t in zip(given, self._inputs))

    def _traced_output_shapes(self, input_shape, stored):
        """The output shapes for more specific inputs, as Keras infers them: the
        model runs on zeros of those shapes (Layer.compute_output_shape); the dims
        it cannot fix stay as stored."""
        try:
            traced = Layer.compute_output_shape(self, input_shape)
        except (ValueError, TypeError):
            return stored
        flat = _flat_shapes(traced)
        if len(flat) != len(stored):
            return stored
        return [tuple(d if d is not None else t for d, t in zip(old, new))
                if len(old) == len(new) else old for old, new in zip(stored, flat)]

    # --- config ---------------------------------------------------------------------------
    def get_config(self):
        """Keras 3's functional config: layers with their inbound nodes, input and
        output layers as [layer_name, node_index, tensor_index]; node indices count
        only the calls that belong to this model."""
        relevant = {id(n) for nodes in self._nodes_by_depth.values() for n in nodes}
        reindex = {}
        for layer in self._operations:
            kept = [n for n in layer._inbound_nodes if id(n) in relevant]
            reindex.update((id(n), i) for i, n in enumerate(kept))

        def history(t):
            layer, node_index, tensor_index = t._keras_history
            return [layer.name, reindex[id(layer._inbound_nodes[node_index])], tensor_index]

        def tensor_config(t):
            if not isinstance(t, KerasTensor):
                return t
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": t.shape, "dtype": t.dtype, "keras_history": history(t)}}
        layer_configs = []
        for layer in self._operations:
            entry = serialize_keras_object(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": [_map(tensor_config, a) for a in node.args],
                 "kwargs": {k: _map(tensor_config, v) for k, v in node.kwargs.items()}}
                for node in layer._inbound_nodes if id(node) in relevant and not node.is_input]
            layer_configs.append(entry)
        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": _map(history, self._input_struct),
                "output_layers": _map(history, self._output_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        created = {}
        tensors = {}  # (layer name, node index, tensor index) -> KerasTensor
        pending = list(config["layers"])
        for entry in pending:
            layer = deserialize_keras_object(
                {k: entry[k] for k in ("module", "class_name", "config", "registered_name")
                 if k in entry}, custom_objects)
            created[entry["name"]] = layer
            if isinstance(layer, InputLayer):
                tensors[(layer.name, 0, 0)] = layer.output
        progress = True
        remaining = [(e, i, n) for e in pending for i, n in enumerate(e["inbound_nodes"])]
        # tensors are keyed by the node's position in its layer's inbound_nodes list
        while remaining and progress:
            progress = False
            for item in list(remaining):
                entry, node_index, node = item
                try:
                    args = [_resolve_tensors(a, tensors) for a in node["args"]]
                    kwargs = _resolve_tensors(node.get("kwargs", {}), tensors)
                except KeyError:
                    continue
                layer = created[entry["name"]]
                out = layer(*args, **kwargs)
                for k, t in enumerate(_flatten(out)):
                    tensors[(layer.name, node_index, k)] = t
                remaining.remove(item)
                progress = True
        if remaining:
            raise ValueError(f"Functional.from_config: could not connect layers "
                             f"{sorted({e['name'] for e, _, _ in remaining})}")

        def lookup(ref):
            return tensors[tuple(ref)]
        inputs = _map_refs(lookup, config["input_layers"])
        outputs = _map_refs(lookup, config["output_layers"])
        return cls(inputs, outputs, name=config.get("name"),
                   trainable=config.get("trainable", True))


def _flat_shapes(shapes):
    """A shape, or a list/tuple/dict of them, as a flat list of shape tuples."""
    if _is_shape(shapes):
        return [shapes]
    items = shapes.values() if isinstance(shapes, dict) else shapes
    return [s for item in items for s in _flat_shapes(item)]


def _check_unique_names(operations):
    """Keras refuses a graph with two operations of one name: configs and weight
    files refer to layers by name."""
    names = [op.name for op in operations]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"The name {name!r} is used {names.count(name)} times in the "
                             f"model. All layer names should be unique.")


def _auto_name():
    from pykern.backend.state import uniquify
    return uniquify("functional")


def _resolve_tensors(c, tensors):
    """A config argument with every '__keras_tensor__' entry replaced by its tensor."""
    if isinstance(c, dict):
        if c.get("class_name") == "__keras_tensor__":
            return tensors[tuple(c["config"]["keras_history"])]
        return {k: _resolve_tensors(v, tensors) for k, v in c.items()}
    if isinstance(c, (list, tuple)):
        return type(c)(_resolve_tensors(v, tensors) for v in c)
    return c


def _map_refs(fn, refs):
    """input_layers/output_layers: one [name, node, tensor] triple, or a list/dict of them."""
    if isinstance(refs, dict):
        return {k: _map_refs(fn, v) for k, v in refs.items()}
    if len(refs) == 3 and isinstance(refs[0], str) and isinstance(refs[1], int):
        return fn(refs)
    return [_map_refs(fn, r) for r in refs]
