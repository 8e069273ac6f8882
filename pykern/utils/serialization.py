"""Object configs in Keras 3's format, and the registry that turns a class name
back into a class.

`serialize_keras_object(obj)` gives `{"module", "class_name", "config",
"registered_name"}` as Keras writes it; `deserialize_keras_object` looks the
class up by `registered_name` (custom objects) or `class_name` and calls
`from_config`. Every Layer subclass registers itself; activations,
initializers, regularizers and constraints register their built-ins.
"""
import base64
import contextlib
import marshal
import types

__all__ = ["register_keras_serializable", "get_registered_object", "get_registered_name",
           "serialize_keras_object", "deserialize_keras_object", "register_builtin",
           "enable_unsafe_deserialization", "SafeModeScope", "in_safe_mode",
           "dump_function", "load_function"]

_builtin = {}     # (module, class_name) and class_name -> class
_custom = {}      # "package>name" -> class or function
_custom_names = {}  # object -> "package>name"


class _Safe:
    mode = True


def register_builtin(module, obj, name=None, bare=True):
    """Registers a pykern class under Keras' module ('keras.layers', ...) and its
    name (and, with `bare`, under the name alone for configs without a module)."""
    name = name or obj.__name__
    _builtin[(module, name)] = obj
    if bare:
        _builtin.setdefault(name, obj)
    return obj


def register_keras_serializable(package="Custom", name=None):
    """Decorator: makes a custom class or function loadable by name ('package>name')."""
    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if key in _custom and _custom[key] is not obj:
            raise ValueError(f"{key!r} is already registered to {_custom[key]!r}")
        _custom[key] = obj
        _custom_names[obj] = key
        return obj
    return decorator


def get_registered_name(obj):
    return _custom_names.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    for table in (custom_objects or {}, _custom, module_objects or {}):
        if name in table:
            return table[name]
    return _builtin.get(name)


def serialize_keras_object(obj):
    """Keras 3's dict for an object with get_config; None, scalars and strings pass through."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(o) for o in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    cls = type(obj)
    registered = _custom_names.get(cls)
    class_name = getattr(obj, "_class_name", cls.__name__)
    return {"module": getattr(cls, "_keras_module", cls.__module__),
            "class_name": class_name,
            "config": obj.get_config(),
            "registered_name": registered or getattr(obj, "_registered_name", None)}


def deserialize_keras_object(config, custom_objects=None):
    """The object a serialize_keras_object dict (or a bare class name) describes."""
    if config is None:
        return None
    if isinstance(config, str):
        cls = get_registered_object(config, custom_objects)
        if cls is None:
            raise ValueError(f"Unknown object {config!r}: register it with "
                             f"pykern.utils.register_keras_serializable or pass custom_objects")
        return cls() if isinstance(cls, type) else cls
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize {config!r}: expected a dict with 'class_name'")
    name = config.get("registered_name") or config["class_name"]
    cls = None
    if config.get("registered_name"):
        for table in (custom_objects or {}, _custom):
            cls = cls or table.get(name)
    if cls is None:  # class names repeat across modules (Identity layer and initializer)
        cls = _builtin.get((config.get("module"), config["class_name"]))
    if cls is None:
        cls = get_registered_object(name, custom_objects)
    if cls is None:
        cls = get_registered_object(config["class_name"], custom_objects)
    if cls is None:  # a symbolic op (the NotEqual of a mask) in a legacy config without modules
        cls = _builtin.get(("keras.src.ops.numpy", config["class_name"]))
    if cls is None:
        raise ValueError(f"Unknown class {config['class_name']!r} (registered name {name!r}): "
                         f"register it or pass it in custom_objects")
    inner = config.get("config", {})
    if hasattr(cls, "from_config"):
        return cls.from_config(inner)
    return cls(**inner)


def resolve_identifier(identifier, kind, base, by_name, custom_objects=None,
                       keys=(str.lower,), listed=None):
    """Keras' `get(identifier)` for a family of objects (initializers, regularizers, ...).

    None or an instance of `base` is returned as is; a name is looked up in
    `by_name` under each of `keys(name)` in turn, then in the registry and
    `custom_objects`, and the class found is instantiated with its defaults; a
    config dict is deserialized; a class is instantiated with its defaults; any
    other callable is returned as is. An
    unknown name raises ValueError naming `kind` and the `listed` names (default:
    all of `by_name`); anything else raises TypeError.
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        for key in keys:
            cls = by_name.get(key(identifier))
            if cls is not None:
                return cls()
        found = get_registered_object(identifier, custom_objects)
        if found is None:
            names = sorted(by_name if listed is None else listed)
            raise ValueError(f"Unknown {kind} {identifier!r}; expected one of {names}")
        return found() if isinstance(found, type) else found
    if isinstance(identifier, dict):
        return deserialize_keras_object(identifier, custom_objects)
    if isinstance(identifier, type):  # a class, e.g. initializers.Ones: Keras instantiates it
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret {kind} identifier {identifier!r}")


def in_safe_mode():
    return _Safe.mode


def enable_unsafe_deserialization():
    """Allows Lambda layers to load Python bytecode from configs (never on by default)."""
    _Safe.mode = False


@contextlib.contextmanager
def SafeModeScope(safe_mode=True):  # noqa: N802 - Keras' name
    prev = _Safe.mode
    _Safe.mode = safe_mode
    try:
        yield
    finally:
        _Safe.mode = prev


def dump_function(fn):
    """A config for a Python function: by name if importable, else its marshalled code."""
    if fn.__name__ != "<lambda>" and "<locals>" not in fn.__qualname__:
        return {"class_name": "function", "config": fn.__name__, "module": fn.__module__,
                "registered_name": _custom_names.get(fn)}
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    return {"class_name": "__lambda__",
            "config": {"code": code, "defaults": fn.__defaults__, "closure": None}}


def load_function(config, custom_objects=None):
    if callable(config):
        return config
    if config["class_name"] == "function":
        found = get_registered_object(config.get("registered_name") or config["config"],
                                      custom_objects)
        if found is None:
            import importlib
            found = getattr(importlib.import_module(config["module"]), config["config"])
        return found
    if _Safe.mode:
        raise ValueError("Loading a Lambda layer's Python bytecode can execute arbitrary code; "
                         "it is refused in safe mode. Call "
                         "pykern.utils.enable_unsafe_deserialization() if you trust the source.")
    code = marshal.loads(base64.b64decode(config["config"]["code"]))
    defaults = config["config"].get("defaults")
    return types.FunctionType(code, globals(), None, tuple(defaults) if defaults else None)
