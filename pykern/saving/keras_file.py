"""The Keras 3 `.keras` file (keras_behaviour.md §7.1): a ZIP archive whose
members are stored uncompressed, in the order metadata.json, config.json,
model.weights.h5. Loading also accepts a directory holding those files.
"""
import datetime
import io
import json
import os
import zipfile

from pykern.saving import config_io, optimizer_state, weights_h5
from pykern.saving.h5_guard import open_h5
from pykern.saving.legacy_h5 import KERAS_VERSION

__all__ = ["save_keras", "load_keras", "weights_bytes", "open_weights"]

_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


def weights_bytes(model, include_optimizer=True):
    """The bytes of a `.weights.h5` file for `model`."""
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        state = optimizer_state.get_state(model) if include_optimizer else None
        if state is None:
            weights_h5.save_model_weights(model, h5)
        else:
            weights_h5.save_model_weights(model, h5, state.arrays, state.name)
    return buf.getvalue()


def save_keras(model, file, include_optimizer=True):
    """Writes the `.keras` archive to the open binary file `file`."""
    config = config_io.model_config(model)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_METADATA, json.dumps(metadata))
        zf.writestr(_CONFIG, json.dumps(config))
        zf.writestr(_WEIGHTS, weights_bytes(model, include_optimizer))


def _read_members(path):
    """(config text, weights bytes) from a .keras zip or directory."""
    if os.path.isdir(path):
        with open(os.path.join(path, _CONFIG), "rb") as f:
            config = f.read()
        weights_path = os.path.join(path, _WEIGHTS)
        weights = None
        if os.path.exists(weights_path):
            with open(weights_path, "rb") as f:
                weights = f.read()
        return config, weights
    with zipfile.ZipFile(path, "r") as zf:
        names = set(zf.namelist())
        if _CONFIG not in names:
            raise ValueError(f"the archive has no {_CONFIG} (members: {sorted(names)[:10]})")
        config = zf.read(_CONFIG)
        weights = zf.read(_WEIGHTS) if _WEIGHTS in names else None
    return config, weights


def open_weights(data):
    """The model.weights.h5 bytes as an open h5py File (checked for crashes first)."""
    return open_h5(data)


def load_keras(path, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """The model in a `.keras` file (or directory), with its weights and, when
    compiled, its optimizer state."""
    config_text, weights = _read_members(path)
    try:
        config = json.loads(config_text)
    except ValueError as e:
        raise ValueError(f"{_CONFIG} is not valid JSON ({e})") from None
    model = config_io.model_from_config(config, custom_objects, safe_mode,
                                        where=f"The model config of {path!r}")
    if compile and config.get("compile_config"):
        optimizer_state.compile_from_config(model, config["compile_config"], custom_objects)
    if weights is None:
        if model.weights:
            raise ValueError(f"the archive has no {_WEIGHTS}")
        return model
    with open_weights(weights) as h5:
        opt_group = weights_h5.load_model_weights(model, h5)
        if opt_group is not None and compile:
            optimizer_state.restore(model, weights_h5.read_arrays(opt_group, "optimizer/vars"))
    return model
