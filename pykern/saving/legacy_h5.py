"""The legacy HDF5 formats (keras_behaviour.md §7.3): a whole model in `.h5`
(root attributes model_config/training_config, group model_weights) and
Keras 2 weight files (the same layer groups at the root).

Each layer's group lists its weights in attribute `weight_names`
(trainable + non-trainable order); the datasets sit at those names, which
contain slashes and so nest (`dense/dense/kernel:0` in Keras 2 files,
`dense/seq/dense/kernel` in Keras 3's). Loading is positional, as in Keras:
the layers with weights in the model are paired in order with the file's
layers that list weights; `by_name=True` pairs them by layer name instead.
"""
import json

import numpy as np

__all__ = ["write_weights_group", "read_weights_group", "write_model", "read_model_config",
           "attr_strings", "KERAS_VERSION"]

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout pykern writes
_HEADER_LIMIT_BYTES = 64512  # HDF5 object header limit; longer attributes are chunked


def attr_strings(group, name):
    """A string-list attribute, reassembling `name0`, `name1`, ... chunks."""
    if name in group.attrs:
        values = list(np.atleast_1d(group.attrs[name]))
    else:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values.extend(np.atleast_1d(group.attrs[f"{name}{i}"]))
            i += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values
            if not isinstance(v, (float, np.floating))]


def _write_strings(group, name, values):
    """A list of str as Keras 3 writes it: variable-length UTF-8 strings (an empty
    float array when empty), split into name0, name1, ... when its fixed-width
    form would pass the HDF5 header limit."""
    import h5py
    if not values:
        group.attrs[name] = np.zeros((0,))
        return
    data = np.asarray(values)
    chunks = 1
    parts = [data]
    while any(p.nbytes > _HEADER_LIMIT_BYTES for p in parts):
        chunks += 1
        parts = np.array_split(data, chunks)
    parts = [np.asarray(p.tolist(), dtype=h5py.string_dtype()) for p in parts]
    if chunks == 1:
        group.attrs[name] = parts[0]
    else:
        for i, part in enumerate(parts):
            group.attrs[f"{name}{i}"] = part


def legacy_weights(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def write_weights_group(group, model):
    """model_weights (or a Keras 2 weights file root): one group per layer."""
    layers = list(model.layers)
    _write_strings(group, "layer_names", [layer.name for layer in layers])
    group.attrs["backend"] = "tensorflow"
    group.attrs["keras_version"] = KERAS_VERSION
    for layer in sorted(layers, key=lambda lyr: lyr.name):
        _write_subset(group.create_group(layer.name), legacy_weights(layer))
    own = [v for v in model._trainable_variables + model._non_trainable_variables]
    _write_subset(group.create_group("top_level_model_weights"), own)


def _write_subset(group, variables):
    names = []
    for v in variables:
        name = v.path
        while name in names:  # two variables with one path would collide in HDF5
            name += "_"
        names.append(name)
        group.create_dataset(name, data=v.numpy())
    _write_strings(group, "weight_names", names)


def _file_layers(group):
    """[(layer name, [datasets])] of the file's layers that list weights."""
    out = []
    for name in attr_strings(group, "layer_names"):
        if name not in group:
            raise ValueError(f"layer_names lists {name!r} but the file has no group for it")
        g = group[name]
        weight_names = attr_strings(g, "weight_names")
        if weight_names:
            missing = [w for w in weight_names if w not in g]
            if missing:
                raise ValueError(f"layer {name!r} lists weights {missing} that are not in "
                                 f"the file")
            out.append((name, [g[w] for w in weight_names]))
    return out


def _pair(layer, datasets, where, skip_mismatch, assignments):
    from pykern.saving.weights_h5 import match_weights
    match_weights(legacy_weights(layer), datasets, f"Layer {layer.name!r}", where,
                  skip_mismatch, assignments)


def read_weights_group(group, model, by_name=False, skip_mismatch=False):
    """Loads a model_weights group (or a Keras 2 weights file root) into `model`.
    Every shape is checked before any variable changes."""
    if "layer_names" not in group.attrs and "layer_names0" not in group.attrs:
        if "model_weights" in group:
            group = group["model_weights"]
        else:
            raise ValueError("the file is not a legacy Keras weights file (no layer_names)")
    saved = _file_layers(group)
    assignments = []
    if by_name:
        by = dict(saved)
        for layer in model.layers:
            if layer.name in by:
                _pair(layer, by[layer.name], f"the file's layer {layer.name!r}", skip_mismatch,
                      assignments)
    else:
        layers = [layer for layer in model.layers if legacy_weights(layer)]
        if len(layers) != len(saved):
            raise ValueError(f"Layer count mismatch when loading weights from file: the model "
                             f"has {len(layers)} layers with weights "
                             f"{[layer.name for layer in layers]}, the file has {len(saved)} "
                             f"{[name for name, _ in saved]}")
        for layer, (name, datasets) in zip(layers, saved):
            _pair(layer, datasets, f"the file's layer {name!r}", skip_mismatch, assignments)
    for v, value in assignments:
        v.assign(value)


def _strip_layer_keys(config):
    """Keras' legacy writer gives each layer entry only class_name/config (+ name,
    inbound_nodes in functional models; a registered custom class is named by its
    registered name); nested objects keep their keys."""
    if isinstance(config, dict):
        for entry in config.get("config", {}).get("layers", []) if isinstance(
                config.get("config"), dict) else []:
            registered = entry.get("registered_name")
            if isinstance(registered, str) and ">" in registered:
                entry["class_name"] = registered  # Keras 2 names custom classes 'package>name'
            for key in ("module", "registered_name", "build_config", "compile_config"):
                entry.pop(key, None)
            _strip_layer_keys(entry)
    return config


def write_model(h5, model, training_config=None, optimizer=None):
    """A whole model in the legacy layout into an open, empty h5py File."""
    from pykern.saving.config_io import model_config
    config = model_config(model)
    legacy = _strip_layer_keys({"class_name": config["class_name"],
                                "config": config["config"]})
    h5.attrs["backend"] = "tensorflow"
    h5.attrs["keras_version"] = KERAS_VERSION
    h5.attrs["model_config"] = json.dumps(legacy)
    if training_config:
        h5.attrs["training_config"] = json.dumps(training_config)
    write_weights_group(h5.create_group("model_weights"), model)
    if optimizer is not None:
        names, arrays = optimizer
        group = h5.create_group("optimizer_weights")
        for name, value in zip(names, arrays):
            group.create_dataset(name, data=value)
        _write_strings(group, "weight_names", list(names))


def read_model_config(h5):
    """The model_config attribute as a dict (ValueError when absent or bad)."""
    raw = h5.attrs.get("model_config")
    if raw is None:
        raise ValueError("No model config found in the file (it holds weights only; use "
                         "model.load_weights)")
    if isinstance(raw, bytes):
        raw = raw.decode("utf8")
    return json.loads(str(raw))
