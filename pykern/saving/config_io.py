"""Model configs on disk: Keras 3's JSON written with the build information
Keras adds, and read back safely from Keras 3, Keras 2 (tf-keras) and pykern.

Reading never runs code from the file: a Lambda's bytecode, or a function
whose module is neither pykern's nor Keras', is refused unless the caller
passes `safe_mode=False`; an unknown class is refused unless it is registered
(`register_keras_serializable`) or given in `custom_objects`.
"""
import contextlib
import inspect
import json

from pykern.utils import serialization as _ser

__all__ = ["model_config", "model_from_config", "to_json", "model_from_json",
           "custom_object_scope", "CustomObjectScope", "get_custom_objects",
           "check_safe", "upgrade_legacy_config"]

_TRUSTED_MODULES = ("keras", "pykern", "tf_keras", "tensorflow.keras")
_MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Keras 2 configs carry arguments its own classes ignore and Keras 3's refuse (Keras 3 then
# fails on tf-keras files: "Unrecognized keyword arguments passed to DepthwiseConv2D:
# {'groups': 1}"): groups=1 on depthwise, separable and transposed convolutions, kernel_*
# on separable ones. They are dropped when they hold those unused values.
_SEPARABLE = ("SeparableConv1D", "SeparableConv2D")
_GROUPS_ONE = _SEPARABLE + ("DepthwiseConv1D", "DepthwiseConv2D", "Conv1DTranspose",
                            "Conv2DTranspose", "Conv3DTranspose")


# --- custom objects ---------------------------------------------------------------------------
@contextlib.contextmanager
def custom_object_scope(*scopes):
    """Makes the given {name: class_or_function} dicts visible to every lookup
    inside the block (nested configs included), as keras.saving.custom_object_scope."""
    added = {}
    for objects in scopes:
        for name, obj in (objects or {}).items():
            added[name] = obj
    previous = {name: _ser._custom[name] for name in added if name in _ser._custom}
    _ser._custom.update(added)
    try:
        yield
    finally:
        for name in added:
            if name in previous:
                _ser._custom[name] = previous[name]
            else:
                _ser._custom.pop(name, None)


CustomObjectScope = custom_object_scope


def get_custom_objects():
    """The registry of custom objects ('package>name' -> object), as Keras exposes it."""
    return _ser._custom


# --- writing ----------------------------------------------------------------------------------
def _build_shape(layer):
    from pykern.models.functional import Functional
    from pykern.models.sequential import Sequential
    if not layer.built:
        return None
    if isinstance(layer, Functional):
        return None  # Keras writes input_shape None for functional models
    if isinstance(layer, Sequential):
        return list(layer.input_shape) if layer._input_layer is not None else None
    shape = getattr(layer, "_build_shape", None)
    return _jsonable(shape)


def _jsonable(shape):
    if isinstance(shape, (list, tuple)):
        return [_jsonable(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _jsonable(v) for k, v in shape.items()}
    return None if shape is None else int(shape)


def _annotate(entry, layer):
    """Adds the keys Keras 3 writes beside a built layer's config."""
    from pykern.models.model import Model
    from pykern.models.sequential import Sequential
    shape = _build_shape(layer)
    if layer.built and not getattr(layer, "_is_operation", False) and \
            type(layer).__name__ != "InputLayer" and (shape is not None or
                                                       isinstance(layer, Model)):
        entry["build_config"] = {"input_shape": shape}
    if isinstance(layer, Model):
        entry["compile_config"] = _compile_config(layer)
        if isinstance(layer, Sequential) and layer._input_layer is not None:
            entry["config"]["build_input_shape"] = list(layer.input_shape)
        inner = {}
        for sub in getattr(layer, "_operations", None) or layer.layers:
            inner.setdefault(sub.name, sub)
        for sub_entry in entry["config"].get("layers", []):
            sub = inner.get(sub_entry.get("config", {}).get("name"))
            if sub is not None:
                _annotate(sub_entry, sub)


def _compile_config(model):
    get = getattr(model, "get_compile_config", None)
    return (get() if get is not None else None) or {}


def model_config(model):
    """The dict config.json holds: Keras 3's object config with build_config and
    compile_config, as keras.saving.serialize_keras_object(model) gives it."""
    config = _ser.serialize_keras_object(model)
    _annotate(config, model)
    return config


def to_json(model, **kwargs):
    """model.to_json(): the JSON of the model's config (no weights)."""
    return json.dumps(model_config(model), **kwargs)


# --- safety -----------------------------------------------------------------------------------
def _known_function(config, custom_objects):
    for name in (config.get("registered_name"), config.get("config")):
        if isinstance(name, str) and (name in (custom_objects or {}) or name in _ser._custom):
            return True
    return False


def check_safe(config, custom_objects=None, where="the model config"):
    """Raises ValueError if loading `config` would run code from it."""
    def refuse(what):
        raise ValueError(f"{where} contains {what}; loading it could execute arbitrary code, "
                         f"so it is refused in safe mode. Pass safe_mode=False only if you "
                         f"trust the source of the file.")

    def walk(c, owner):
        if isinstance(c, list):
            for v in c:
                walk(v, owner)
            return
        if not isinstance(c, dict):
            return
        name = c.get("class_name")
        if name == "__lambda__":
            refuse(f"the Python bytecode of a lambda (in {owner})")
        if name == "function" and not _known_function(c, custom_objects):
            module = str(c.get("module") or "")
            if not module.split(".")[0] in _TRUSTED_MODULES:
                refuse(f"a reference to function {c.get('config')!r} of module {module!r} "
                       f"(in {owner}), which would be imported")
        if name == "Lambda" and isinstance(c.get("config"), dict):
            inner = c["config"]
            fn = inner.get("function")
            if isinstance(fn, (list, tuple)) or inner.get("function_type") == "lambda" or \
                    isinstance(inner.get("output_shape"), (list, tuple)) and \
                    inner.get("output_shape_type") == "lambda":
                refuse(f"a Lambda layer {inner.get('name')!r} with Python bytecode")
        if name is not None and isinstance(c.get("config"), dict):
            layer_name = c["config"].get("name")
            owner = f"{name} {layer_name!r}" if isinstance(layer_name, str) else name
        for v in c.values():
            walk(v, owner)
    walk(config, "the config")


# --- Keras 2 configs --------------------------------------------------------------------------
def _legacy_node(node, shift):
    """Keras 2's [[layer, node, tensor, kwargs], ...] as Keras 3's {args, kwargs}."""
    tensors, kwargs = [], {}
    for ref in node:
        if not isinstance(ref, (list, tuple)) or len(ref) not in (3, 4):
            raise ValueError(f"Invalid inbound node entry {ref!r} in a Keras 2 model config")
        name, index, tensor_index = ref[0], int(ref[1]), int(ref[2])
        if len(ref) == 4 and isinstance(ref[3], dict):
            kwargs.update(ref[3])
        tensors.append({"class_name": "__keras_tensor__",
                        "config": {"shape": None, "dtype": "float32",
                                   "keras_history": [name, index - shift.get(name, 0),
                                                     tensor_index]}})
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


def _node_shifts(config):
    """Keras 2 counts a nested model's own internal call as its node 0, though that
    node is not in the config; references then point one past the listed nodes."""
    listed = {e.get("name"): len(e.get("inbound_nodes") or []) for e in config["layers"]}
    wanted = {}

    def note(ref):
        if isinstance(ref, (list, tuple)) and len(ref) >= 3 and isinstance(ref[0], str):
            wanted[ref[0]] = max(wanted.get(ref[0], -1), int(ref[1]))
    for e in config["layers"]:
        for node in e.get("inbound_nodes") or []:
            if isinstance(node, list):
                for ref in node:
                    note(ref)
    for key in ("input_layers", "output_layers"):
        refs = config.get(key) or []
        for ref in (refs if refs and isinstance(refs[0], list) else [refs]):
            note(ref)
    return {name: top + 1 - listed[name] for name, top in wanted.items()
            if name in listed and listed[name] and top + 1 > listed[name]}


def _unwrap_single(refs):
    if isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], list):
        return refs[0]
    return refs


def upgrade_legacy_config(config):
    """A Keras 2 (or Keras 3 legacy-.h5) object config in Keras 3's form; Keras 3
    configs come back unchanged. Works on a copy."""
    config = json.loads(json.dumps(config))
    return _upgrade(config)


def _upgrade(c):
    if isinstance(c, list):
        return [_upgrade(v) for v in c]
    if not isinstance(c, dict):
        return c
    name = c.get("class_name")
    inner = c.get("config")
    if name == "Sequential" and isinstance(inner, list):  # Keras <= 2.2
        c["config"] = inner = {"layers": inner}
    if isinstance(inner, dict) and name in _MODEL_CLASSES and "layers" in inner:
        if "input_layers" in inner:
            shift = _node_shifts(inner)
            for e in inner["layers"]:
                nodes = e.get("inbound_nodes") or []
                e["inbound_nodes"] = [_legacy_node(n, shift) if isinstance(n, list) else n
                                      for n in nodes]
            for key in ("input_layers", "output_layers"):
                refs = _unwrap_single(inner[key])
                inner[key] = _shift_refs(refs, shift)
    if isinstance(inner, dict):
        if name == "InputLayer" and "batch_input_shape" in inner and "batch_shape" not in inner:
            inner["batch_shape"] = inner.pop("batch_input_shape")
        if isinstance(inner.get("axis"), list) and len(inner["axis"]) == 1 and \
                name in ("BatchNormalization", "LayerNormalization"):
            inner["axis"] = inner["axis"][0]
        if name in _GROUPS_ONE and inner.get("groups") == 1:
            del inner["groups"]
        if name in _SEPARABLE:
            for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
                inner.pop(key, None)
        if name == "Lambda" and isinstance(inner.get("function"), str):  # a named function
            inner["function"] = {"class_name": "function", "config": inner["function"],
                                 "module": inner.pop("module", None), "registered_name": None}
            inner.pop("function_type", None)
        if name == "Lambda" and isinstance(inner.get("function"), (list, tuple)):
            code, defaults, closure = (list(inner["function"]) + [None, None])[:3]
            inner["function"] = {"class_name": "__lambda__",
                                 "config": {"code": code, "defaults": defaults,
                                            "closure": closure}}
            inner.pop("function_type", None)
            inner.pop("module", None)
            inner.pop("output_shape_type", None)
            inner.pop("output_shape_module", None)
    for k, v in list(c.items()):
        c[k] = _upgrade(v)
    return c


def _shift_refs(refs, shift):
    if isinstance(refs, dict):
        return {k: _shift_refs(v, shift) for k, v in refs.items()}
    if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
        return [refs[0], int(refs[1]) - shift.get(refs[0], 0), int(refs[2])]
    return [_shift_refs(r, shift) for r in refs]


# --- reading ----------------------------------------------------------------------------------
def _resolve_builtin(c):
    cls = _ser._builtin.get((c.get("module"), c.get("class_name")))
    if cls is None and not c.get("registered_name"):
        cls = _ser._builtin.get(c.get("class_name"))
    return cls if isinstance(cls, type) and cls.__module__.startswith("pykern.") else None


def _accepted(cls):
    from pykern.layers.layer import Layer
    names, open_kwargs = set(), False
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names.update(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    else:
        open_kwargs = True
    if issubclass(cls, Layer):
        names |= Layer._ALLOWED_KWARGS | {"name", "trainable", "dtype", "activity_regularizer"}
        open_kwargs = False
    return names, open_kwargs


def _is_model_class(cls):
    from pykern.models.model import Model
    return issubclass(cls, Model)  # models read only the keys they know


def _drop_unset_keys(c):
    """Drops keys that newer Keras versions write with a null value
    (quantization_config, input_axes, ...) from the configs of pykern's own
    classes that do not take them; a set value still reaches the constructor,
    which rejects it with its own message."""
    if isinstance(c, list):
        for v in c:
            _drop_unset_keys(v)
        return
    if not isinstance(c, dict):
        return
    inner = c.get("config")
    if isinstance(inner, dict) and "class_name" in c:
        cls = _resolve_builtin(c)
        if cls is not None and not _is_model_class(cls):
            names, open_kwargs = _accepted(cls)
            if not open_kwargs:
                for key in [k for k, v in inner.items() if v is None and k not in names]:
                    del inner[key]
    for v in c.values():
        _drop_unset_keys(v)


def model_from_config(config, custom_objects=None, safe_mode=True, where="the model config"):
    """The model a Keras 3 / Keras 2 / pykern config describes, built (no weights)."""
    from pykern.layers.layer import Layer
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{where} is not a Keras object config (a dict with 'class_name')")
    config = upgrade_legacy_config(config)
    if safe_mode:
        check_safe(config, custom_objects, where)
    _drop_unset_keys(config)
    with custom_object_scope(custom_objects), _ser.SafeModeScope(safe_mode):
        model = _ser.deserialize_keras_object(config, custom_objects)
    if not isinstance(model, Layer):
        raise ValueError(f"{where} describes a {type(model).__name__}, not a model or layer")
    build = config.get("build_config") or {}
    shape = build.get("input_shape")
    if not model.built and shape is not None:
        model.build(_as_shape(shape))
    return model


def _as_shape(shape):
    if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    if isinstance(shape, dict):
        return {k: _as_shape(v) for k, v in shape.items()}
    return [_as_shape(s) for s in shape]


def model_from_json(json_string, custom_objects=None, safe_mode=True):
    """pykern.models.model_from_json: the (unweighted) model of a to_json string."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e})") from None
    return model_from_config(config, custom_objects, safe_mode, where="the JSON config")
