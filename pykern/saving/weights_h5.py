"""Keras 3's weights layout (`model.weights.h5` inside a `.keras` file, and
`.weights.h5` files), keras_behaviour.md §7.1.

Every layer and model gets `<path>/vars` (attribute `name` = its name) holding
its own variables as datasets "0", "1", ... in `_trainable_variables +
_non_trainable_variables` order. A Sequential or functional model's children
are at `<path>/layers/<key>`, where the key is the snake_case class name made
unique in `model.layers` order (`dense`, `dense_1`, ...); other sub-layers are
at `<path>/<attribute name>` (a list attribute adds one level of class-name
keys; attributes are visited in sorted order, private ones last, and a
subclassed model's `layers` property counts as one). A layer reached twice
(shared) is stored once, at its first path. Later layer families keep Keras'
attribute names for their sub-layers (`cell`, `forward_layer`, `layer`, ...)
so that their files match.
The optimizer's variables are at `optimizer/vars`.
"""
import warnings

import numpy as np

from pykern.backend.state import to_snake_case

__all__ = ["save_model_weights", "load_model_weights", "walk_model"]

_LEGACY_PREFIX = "_layer_checkpoint_dependencies"  # Keras 2.13-2.15 .keras files
_base_attrs = {}


def _probe_attrs(kind):
    """Attribute names a bare instance of pykern's base class has: those are
    internal state, never children (Keras' attribute skip set)."""
    if kind not in _base_attrs:
        from pykern.layers.input_layer import InputLayer
        from pykern.layers.layer import Layer
        from pykern.models.functional import Functional
        from pykern.models.model import Model
        from pykern.models.sequential import Sequential
        if kind == "Functional":
            probe_in = InputLayer(shape=(1,), name="__probe_input__")
            probe = Functional(probe_in.output, probe_in.output, name="__probe__")
        else:
            probe = {"Layer": Layer, "Model": Model, "Sequential": Sequential}[kind](
                name="__probe__")
        _base_attrs[kind] = set(vars(probe))
    return _base_attrs[kind]


def _kind(obj):
    from pykern.models.functional import Functional
    from pykern.models.model import Model
    from pykern.models.sequential import Sequential
    if isinstance(obj, Functional):
        return "Functional"
    if isinstance(obj, Sequential):
        return "Sequential"
    return "Model" if isinstance(obj, Model) else "Layer"


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name  # private attributes last, as Keras


def _children(obj):
    """(attribute, Layer or list of Layers) in the order Keras walks them: a
    Sequential's or functional model's `layers` first; then the attributes in
    sorted order, private ones last. A subclassed model's `layers` property (every
    tracked layer) is one of those attributes, as in Keras."""
    from pykern.layers.layer import Layer
    kind = _kind(obj)
    out = []
    if kind in ("Sequential", "Functional"):
        out.append(("layers", list(obj.layers)))
    skip = _probe_attrs(kind)
    attrs = dict(vars(obj))
    if kind == "Model":
        attrs["layers"] = list(obj.layers)
    for attr in sorted(attrs, key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        value = attrs[attr]
        if isinstance(value, Layer):
            if value is not obj:
                out.append((attr, value))
        elif isinstance(value, (list, tuple, dict)):
            items = list(value.values()) if isinstance(value, dict) else list(value)
            if any(isinstance(v, Layer) for v in items):
                out.append((attr, [v for v in items if isinstance(v, Layer)]))
    return out


def _join(path, name):
    return f"{path}/{name}" if path else name


def walk_model(model):
    """[(path, layer)] for the model and every layer below it, each once."""
    visited, out = set(), []

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj))
        for attr, child in _children(obj):
            if isinstance(child, list):
                used = {}
                for sub in child:
                    key = to_snake_case(type(sub).__name__)
                    if key in used:
                        used[key] += 1
                        key = f"{key}_{used[key]}"
                    else:
                        used[key] = 0
                    visit(sub, _join(_join(path, attr), key))
            else:
                visit(child, _join(path, attr))
    visit(model, "")
    return out


def own_variables(layer):
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def _write_vars(h5, path, name, arrays):
    group = h5.require_group(_join(path, "vars"))
    group.attrs["name"] = name
    for i, value in enumerate(arrays):
        group.create_dataset(str(i), data=value)


def save_model_weights(model, h5, optimizer_arrays=None, optimizer_name=None):
    """Writes the model's (and optionally the optimizer's) variables into the
    open h5py File/Group `h5` in Keras 3's layout."""
    for path, layer in walk_model(model):
        _write_vars(h5, path, layer.name, [v.numpy() for v in own_variables(layer)])
    if optimizer_arrays is not None:
        _write_vars(h5, "optimizer", optimizer_name or "optimizer", optimizer_arrays)


def _vars_group(h5, path):
    for candidate in (path, path.replace("layers", _LEGACY_PREFIX, 1)):
        group = h5.get(_join(candidate, "vars"))
        if group is not None:
            return group
    return None


def read_arrays(group, where):
    """The datasets "0".."n-1" of a `vars` group, in order."""
    import h5py
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{where} is not an HDF5 group")
    names = [k for k in group.keys()]
    if any(not k.isdigit() for k in names) or sorted(int(k) for k in names) != list(
            range(len(names))):
        raise ValueError(f"{where} holds {sorted(names)}, expected datasets named 0..n-1")
    return [group[str(i)] for i in range(len(names))]


def _plan_object(layer, group, path, skip_mismatch, assignments):
    own = own_variables(layer)
    where = f"layer {layer.name!r} (at '{path or '/'}')"
    if group is None:
        if own:
            raise ValueError(f"The file has no weights for {where}, which has "
                             f"{len(own)} variables")
        return
    datasets = read_arrays(group, f"'{group.name}'")
    match_weights(own, datasets, where, "the file", skip_mismatch, assignments)


def match_weights(own, datasets, where, source, skip_mismatch, assignments):
    """Pairs a layer's variables with the arrays a file holds for it, after checking
    count and shapes: a mismatch raises ValueError naming both, or with
    skip_mismatch warns and leaves the layer out. Appends (variable, array) pairs
    to `assignments`; nothing is written until every layer has been checked."""
    problem = None
    if len(datasets) != len(own):
        problem = (f"{where} expects {len(own)} weights {[tuple(v.shape) for v in own]}, "
                   f"but {source} holds {len(datasets)} {[tuple(d.shape) for d in datasets]}")
    else:
        for v, d in zip(own, datasets):
            if tuple(d.shape) != tuple(v.shape):
                problem = (f"{where}: weight {v.path!r} has shape {tuple(v.shape)}, but "
                           f"{source} holds shape {tuple(d.shape)}")
                break
    if problem:
        if skip_mismatch:
            warnings.warn(f"Skipping loading weights: {problem}", stacklevel=5)
            return
        raise ValueError(problem)
    assignments.extend((v, _numeric(d, v.path)) for v, d in zip(own, datasets))


def _numeric(dataset, what):
    value = dataset[()]
    if not isinstance(value, np.ndarray):
        value = np.asarray(value)
    if value.dtype.kind not in "fiub":
        raise ValueError(f"The file's value for {what!r} is not numeric (dtype {value.dtype})")
    return value


def load_model_weights(model, h5, skip_mismatch=False):
    """Reads the model's variables from an open h5py File in Keras 3's layout. All
    shapes are checked before any variable changes. Returns the optimizer's
    `vars` group (or None) for the caller to restore."""
    assignments = []
    for path, layer in walk_model(model):
        _plan_object(layer, _vars_group(h5, path), path, skip_mismatch, assignments)
    for v, value in assignments:
        v.assign(value)
    return h5.get("optimizer/vars")
