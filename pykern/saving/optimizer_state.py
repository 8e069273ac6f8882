"""The training state saved with a model: the compile arguments
(`compile_config`) and the optimizer's variables (iteration, learning rate,
slots, in `optimizer.variables` order), so that `fit` after `load_model`
continues the same trajectory."""
import collections
import json
import warnings

import numpy as np

__all__ = ["get_state", "restore", "compile_from_config", "OptimizerState"]

OptimizerState = collections.namedtuple("OptimizerState", ["name", "arrays", "names"])


def _optimizer(model):
    return getattr(model, "optimizer", None)


def get_state(model):
    """The built optimizer's variables as arrays, or None when there are none."""
    opt = _optimizer(model)
    variables = list(getattr(opt, "variables", None) or []) if opt is not None else []
    if not variables or not getattr(opt, "built", True):
        return None
    arrays = [np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in variables]
    name = getattr(opt, "name", type(opt).__name__.lower())
    names = [_var_name(v, name, i) for i, v in enumerate(variables)]
    return OptimizerState(name, arrays, names)


def _var_name(v, optimizer_name, i):
    """Keras 3's name in legacy files: the variable path, e.g. 'adam/iteration'."""
    path = getattr(v, "path", None) or getattr(v, "name", None) or f"variable_{i}"
    return path if "/" in path else f"{optimizer_name}/{path}"


def restore(model, datasets):
    """Assigns saved optimizer variables (h5py datasets or arrays), building the
    optimizer first; a count or shape mismatch is a warning, as in Keras."""
    opt = _optimizer(model)
    if opt is None:
        return
    if not getattr(opt, "built", True) and hasattr(opt, "build"):
        opt.build(model.trainable_variables)
    variables = list(getattr(opt, "variables", None) or [])
    shapes = [tuple(d.shape) for d in datasets]
    if len(variables) != len(datasets) or any(
            tuple(v.shape) != s for v, s in zip(variables, shapes)):
        warnings.warn(f"Skipping loading the optimizer state: the optimizer has "
                      f"{len(variables)} variables {[tuple(v.shape) for v in variables]}, the "
                      f"file holds {len(datasets)} {shapes}", stacklevel=3)
        return
    for v, d in zip(variables, datasets):
        value = np.asarray(d[()] if hasattr(d, "shape") and not isinstance(d, np.ndarray)
                           else d)
        v.assign(value.astype(np.asarray(v.numpy()).dtype))


def _objects(spec):
    """Serialized losses/metrics (dicts with class_name) as objects; names stay."""
    from pykern.utils.serialization import deserialize_keras_object
    if isinstance(spec, dict) and "class_name" in spec and "config" in spec:
        return deserialize_keras_object(spec)
    if isinstance(spec, dict):
        return {k: _objects(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_objects(v) for v in spec]
    return spec


def compile_from_config(model, compile_config, custom_objects=None):
    """Compiles the loaded model with the saved compile arguments. Returns True on
    success; a failure is a warning and leaves the model uncompiled, as in Keras."""
    from pykern.saving.config_io import _drop_unset_keys, custom_object_scope
    if not hasattr(model, "compile"):
        warnings.warn("The file holds compile arguments, but this model has no compile(); "
                      "it is loaded uncompiled", stacklevel=3)
        return False
    kwargs = json.loads(json.dumps(compile_config))
    _drop_unset_keys(kwargs)
    try:
        with custom_object_scope(custom_objects):
            for key in ("optimizer", "loss", "metrics", "weighted_metrics"):
                if key in kwargs:
                    kwargs[key] = _objects(kwargs[key])
            model.compile(**kwargs)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        warnings.warn(f"The model could not be compiled from the saved compile arguments "
                      f"({type(e).__name__}: {e}); it is loaded uncompiled, without its "
                      f"optimizer state. Compile it manually.", stacklevel=3)
        return False
    return True
