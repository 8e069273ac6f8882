"""save_model / load_model / save_weights / load_weights: pick the format from
the file name (when writing) or the file's first bytes (when reading), write
atomically, and turn any failure to read into an error that names the file."""
import contextlib
import json
import os

from pykern.saving import keras_file, legacy_h5, optimizer_state, weights_h5
from pykern.saving.atomic import atomic_path
from pykern.saving.config_io import model_from_config
from pykern.saving.h5_guard import open_h5

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _check_overwrite(path, overwrite):
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False")


def _is_legacy_suffix(path):
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def _training_config(model):
    from pykern.saving.config_io import _compile_config
    config = _compile_config(model)
    if not config:
        return None
    out = {k: v for k, v in config.items() if k != "optimizer"}
    opt = config.get("optimizer")
    if isinstance(opt, dict):
        out["optimizer_config"] = {"class_name": opt.get("class_name"),
                                   "config": opt.get("config")}
    return out


def save_model(model, filepath, overwrite=True, include_optimizer=True, **kwargs):
    """model.save: `.keras` (Keras 3 zip) or `.h5`/`.hdf5` (legacy HDF5)."""
    import h5py
    zipped = kwargs.pop("zipped", None)
    kwargs.pop("save_format", None)
    if kwargs:
        raise TypeError(f"save_model: unexpected keyword argument(s) {sorted(kwargs)}")
    path = os.fspath(filepath)
    _check_overwrite(path, overwrite)
    if path.endswith(".keras"):
        if zipped is False:
            raise ValueError("save_model: pykern writes .keras files zipped only")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            keras_file.save_keras(model, f, include_optimizer)
    elif _is_legacy_suffix(path):
        state = optimizer_state.get_state(model) if include_optimizer else None
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as h5:
                legacy_h5.write_model(h5, model, _training_config(model),
                                      (state.names, state.arrays) if state else None)
    else:
        raise ValueError(f"Invalid filepath extension for saving {path!r}: add either a "
                         f"`.keras` extension for the native Keras format (recommended) or a "
                         f"`.h5` extension for the legacy HDF5 format")


def save_weights(model, filepath, overwrite=True, max_shard_size=None):
    """model.save_weights: `.weights.h5` (Keras 3 layout, optimizer included when
    built) or `.h5`/`.hdf5` (Keras 2 layout, model weights only)."""
    import h5py
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: sharded weight files (max_shard_size, "
                                  ".weights.json) are not supported by pykern")
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5") and not _is_legacy_suffix(path):
        raise ValueError(f"The filename must end in `.weights.h5` (or `.h5` for the legacy "
                         f"Keras 2 layout), got {path!r}")
    _check_overwrite(path, overwrite)
    if path.endswith(".weights.h5"):
        data = keras_file.weights_bytes(model)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(data)
    else:
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as h5:
                legacy_h5.write_weights_group(h5, model)


def _sniff(path):
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "config.json")):
            return "keras_dir"
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"{path!r} is a TensorFlow SavedModel directory; pykern (like "
                             f"Keras 3) loads only .keras and .h5 files")
        raise ValueError(f"{path!r} is a directory without config.json: not a Keras model")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head == _HDF5_MAGIC:
        return "hdf5"
    if not head:
        raise ValueError(f"{path!r} is empty")
    raise ValueError(f"{path!r} is neither a .keras archive nor an HDF5 file (it starts with "
                     f"{head!r}); it may be truncated or corrupt")


@contextlib.contextmanager
def _reading(path, what):
    """Re-raises any failure to read `path` as an error naming it."""
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise type(e)(e.errno, f"Cannot {what} {path!r}: {e.strerror}") from None
    except (ValueError, TypeError) as e:
        msg = str(e)
        if path not in msg:
            msg = f"Cannot {what} {path!r}: {msg}"
        raise ValueError(msg) from e
    except Exception as e:  # noqa: BLE001 - whatever a bad file provokes, name the file
        raise ValueError(f"Cannot {what} {path!r}: the file is truncated or corrupt "
                         f"({type(e).__name__}: {e})") from e


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """The model stored in a `.keras` file (zip or directory) or a legacy `.h5`
    file written by Keras 3, Keras 2 (tf-keras) or pykern. Never runs code from
    the file unless `safe_mode=False`."""
    path = os.fspath(filepath)
    with _reading(path, "load the model from"):
        kind = _sniff(path)
        if kind in ("zip", "keras_dir"):
            return keras_file.load_keras(path, custom_objects, compile, safe_mode)
        return _load_legacy(path, custom_objects, compile, safe_mode)


def _load_legacy(path, custom_objects, compile, safe_mode):  # noqa: A002
    with open_h5(path) as h5:
        config = legacy_h5.read_model_config(h5)
        model = model_from_config(config, custom_objects, safe_mode,
                                  where=f"The model config of {path!r}")
        if "model_weights" not in h5:
            raise ValueError("the file has a model config but no model_weights group")
        legacy_h5.read_weights_group(h5["model_weights"], model)
        training = h5.attrs.get("training_config")
        if compile and training is not None:
            _compile_legacy(model, training, custom_objects, h5)
    return model


def _compile_legacy(model, training, custom_objects, h5):
    if isinstance(training, bytes):
        training = training.decode("utf8")
    config = json.loads(str(training))
    opt = config.pop("optimizer_config", None)
    if isinstance(opt, dict) and isinstance(opt.get("class_name"), str):
        opt = dict(opt, class_name=opt["class_name"].split(">")[-1])  # Keras 2's "Custom>Adam"
        opt.setdefault("module", "keras.optimizers")
    compile_config = {"optimizer": opt, **{k: config.get(k) for k in (
        "loss", "metrics", "weighted_metrics", "loss_weights") if k in config}}
    optimizer_state.compile_from_config(model, compile_config, custom_objects)
    group = h5.get("optimizer_weights")
    if group is not None:
        names = legacy_h5.attr_strings(group, "weight_names")
        if all(n in group for n in names):
            optimizer_state.restore(model, [group[n] for n in names])


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    """model.load_weights from `.weights.h5`, `.keras` or a legacy `.h5` file."""
    if kwargs:
        raise TypeError(f"load_weights: unexpected keyword argument(s) {sorted(kwargs)}")
    path = os.fspath(filepath)
    with _reading(path, "load weights from"):
        kind = _sniff(path)
        if kind in ("zip", "keras_dir"):
            if by_name:
                raise ValueError("by_name=True is only supported for legacy .h5 files")
            data = keras_file._read_members(path)[1]
            if data is None:
                raise ValueError("the archive holds no model.weights.h5")
            with keras_file.open_weights(data) as h5:
                _load_v3(model, h5, skip_mismatch)
            return
        with open_h5(path) as h5:
            if "layer_names" in h5.attrs or "layer_names0" in h5.attrs or "model_weights" in h5:
                legacy_h5.read_weights_group(h5, model, by_name=by_name,
                                             skip_mismatch=skip_mismatch)
            elif by_name:
                raise ValueError("by_name=True is only supported for legacy .h5 files")
            else:
                _load_v3(model, h5, skip_mismatch)


def _load_v3(model, h5, skip_mismatch):
    opt_group = weights_h5.load_model_weights(model, h5, skip_mismatch)
    if opt_group is not None and getattr(model, "optimizer", None) is not None:
        optimizer_state.restore(model, weights_h5.read_arrays(opt_group, "optimizer/vars"))
