"""Saving and loading within pykern: round trips of every format, weights-only
files (by_name, skip_mismatch), JSON configs, custom objects, safe mode,
corrupt and truncated files, and atomic writes under kill -9."""
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile

import h5py
import numpy as np
import pytest

import pykern
from pykern import layers
from pykern.models import load_model, model_from_json
from pykern.saving import register_keras_serializable

RNG = np.random.default_rng(5)
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pykern.__file__)))


pytestmark = pytest.mark.usefixtures("forget_automatic_names")


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _randomize(model):
    """Non-default weights everywhere (biases included), so a lost array shows."""
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32)
                       for w in model.get_weights()])
    return model


def _sequential():
    return _randomize(pykern.Sequential([
        pykern.Input((6,)), layers.Dense(8, activation="relu"), layers.Dropout(0.3),
        layers.Reshape((2, 4)), layers.Permute((2, 1)), layers.Flatten(),
        layers.Dense(5, activation="tanh"), layers.PReLU(), layers.Dense(3, activation="softmax")],
        name="seq"))


def _functional():
    a, b = pykern.Input((5,), name="a"), pykern.Input((3,), name="b")
    h = layers.Dense(6, activation="gelu", name="h")(a)
    left = layers.Dense(4, name="left")(h)
    right = layers.Dense(4, activation="sigmoid", name="right")(h)
    s = layers.Add(name="sum")([left, right, layers.Dense(4, name="skip")(a)])
    cat = layers.Concatenate(name="cat")([s, b])
    inner = pykern.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)],
                              name="inner")
    out = layers.Dense(2, name="out")(cat)
    aux = inner(s)
    return _randomize(pykern.Model([a, b], [out, aux], name="branchy"))


def _inputs(model):
    if isinstance(model, pykern.Sequential):
        return _x(4, *model.input_shape[1:])
    return [_x(4, *t.shape[1:]) for t in model.inputs]


def _assert_same_predictions(m1, m2, x):
    y1, y2 = m1.predict_on_batch(x), m2.predict_on_batch(x)
    for a, b in zip(y1 if isinstance(y1, list) else [y1], y2 if isinstance(y2, list) else [y2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("build", [_sequential, _functional])
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_whole_model_round_trip_keeps_config_weights_and_predictions(tmp_path, build, ext):
    model = build()
    path = tmp_path / f"m.{ext}"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for w1, w2 in zip(model.weights, loaded.weights):
        assert w1.path == w2.path
        np.testing.assert_array_equal(w1.numpy(), w2.numpy())
    _assert_same_predictions(model, loaded, _inputs(model))


def test_keras_file_is_an_uncompressed_zip_with_keras_member_order(tmp_path):
    _sequential().save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["metadata.json", "config.json",
                                               "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
    assert set(meta) == {"keras_version", "date_saved"}
    assert config["class_name"] == "Sequential" and config["module"] == "keras"
    assert config["config"]["layers"][0]["class_name"] == "InputLayer"
    assert config["config"]["layers"][1]["build_config"] == {"input_shape": [None, 6]}


def test_weights_file_uses_class_name_keys_and_numbered_datasets(tmp_path):
    model = _functional()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5") as f:
        assert f["vars"].attrs["name"] == "branchy"
        assert sorted(f["layers"]) == ["add", "concatenate", "dense", "dense_1", "dense_2",
                                       "dense_3", "dense_4", "input_layer", "input_layer_1",
                                       "sequential"]
        # layers/<key> follows model.layers order: h, left, right, skip, out are dense..dense_4
        order = [l.name for l in model.layers if isinstance(l, layers.Dense)]
        keys = ["dense"] + [f"dense_{i}" for i in range(1, len(order))]
        for key, name in zip(keys, order):
            assert f[f"layers/{key}/vars"].attrs["name"] == name
            kernel = model.get_layer(name).kernel.numpy()
            np.testing.assert_array_equal(f[f"layers/{key}/vars/0"][()], kernel)
        assert f["layers/sequential/layers/dense_1/vars/1"].shape == (2,)
        assert len(f["layers/add/vars"]) == 0


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_weights_round_trip_into_a_fresh_model(tmp_path, name):
    model = _functional()
    model.save_weights(tmp_path / name)
    fresh = _functional()
    fresh.load_weights(tmp_path / name)
    _assert_same_predictions(model, fresh, _inputs(model))


def test_load_weights_reads_the_weights_inside_a_keras_file(tmp_path):
    model = _sequential()
    model.save(tmp_path / "m.keras")
    fresh = _sequential()
    fresh.load_weights(tmp_path / "m.keras")
    _assert_same_predictions(model, fresh, _inputs(model))


def test_weights_under_keras_2_13_group_names_load(tmp_path):
    """Keras 2.13-2.15 .keras files keep layers under _layer_checkpoint_dependencies."""
    model = _sequential()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        f.move("layers", "_layer_checkpoint_dependencies")
    fresh = _sequential()
    fresh.load_weights(tmp_path / "w.weights.h5")
    _assert_same_predictions(model, fresh, _inputs(model))


def test_save_weights_requires_a_weights_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        _sequential().save_weights(tmp_path / "w.bin")
    with pytest.raises(ValueError, match=r"\.keras"):
        _sequential().save(tmp_path / "m.bin")


def test_legacy_weights_load_by_name_into_a_different_architecture(tmp_path):
    src = _randomize(pykern.Sequential([pykern.Input((4,)), layers.Dense(3, name="a"),
                                        layers.Dense(2, name="b")]))
    src.save_weights(tmp_path / "w.h5")
    dst = pykern.Sequential([pykern.Input((4,)), layers.Dense(3, name="a"),
                             layers.Dense(5, name="new"), layers.Dense(2, name="c")])
    before = dst.get_layer("new").get_weights()
    dst.load_weights(tmp_path / "w.h5", by_name=True)
    np.testing.assert_array_equal(dst.get_layer("a").kernel.numpy(), src.get_layer("a").kernel.numpy())
    for w, b in zip(dst.get_layer("new").get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_positional_load_reports_layer_count_mismatch(tmp_path):
    src = _sequential()
    src.save_weights(tmp_path / "w.h5")
    other = pykern.Sequential([pykern.Input((6,)), layers.Dense(8)])
    with pytest.raises(ValueError, match="Layer count mismatch"):
        other.load_weights(tmp_path / "w.h5")


def test_skip_mismatch_loads_the_layers_that_fit_and_warns(tmp_path):
    src = _randomize(pykern.Sequential([pykern.Input((4,)), layers.Dense(3, name="a"),
                                        layers.Dense(2, name="b")]))
    dst = pykern.Sequential([pykern.Input((4,)), layers.Dense(3, name="a"),
                             layers.Dense(7, name="b")])
    for name in ("w.weights.h5", "w.h5"):
        src.save_weights(tmp_path / name)
        with pytest.raises(ValueError, match="shape"):
            dst.load_weights(tmp_path / name)
        kept = dst.get_layer("b").kernel.numpy()
        with pytest.warns(UserWarning, match="Skipping"):
            dst.load_weights(tmp_path / name, skip_mismatch=True)
        np.testing.assert_array_equal(dst.get_layer("a").kernel.numpy(),
                                      src.get_layer("a").kernel.numpy())
        np.testing.assert_array_equal(dst.get_layer("b").kernel.numpy(), kept)


def test_a_failed_load_changes_no_weight(tmp_path):
    src = _randomize(pykern.Sequential([pykern.Input((4,)), layers.Dense(3), layers.Dense(2)]))
    src.save_weights(tmp_path / "w.weights.h5")
    dst = pykern.Sequential([pykern.Input((4,)), layers.Dense(3), layers.Dense(9)])
    before = dst.get_weights()
    with pytest.raises(ValueError):
        dst.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(dst.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_to_json_and_model_from_json_rebuild_the_architecture():
    model = _functional()
    text = model.to_json()
    assert json.loads(text)["class_name"] == "Functional"
    clone = model_from_json(text)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    clone.set_weights(model.get_weights())
    _assert_same_predictions(model, clone, _inputs(model))


def test_model_from_json_rejects_bad_json():
    with pytest.raises(ValueError, match="JSON"):
        model_from_json("{not json")
    with pytest.raises(ValueError, match="class_name"):
        model_from_json("[1, 2]")


def test_deferred_sequential_round_trips_after_its_first_call(tmp_path):
    model = pykern.Sequential([layers.Dense(3, activation="relu"), layers.Dense(2)])
    model(_x(2, 4))
    _randomize(model)
    model.save(tmp_path / "m.keras")
    _assert_same_predictions(model, load_model(tmp_path / "m.keras"), _x(3, 4))


def test_long_string_attributes_are_chunked_and_read_back(tmp_path):
    from pykern.saving.legacy_h5 import _write_strings, attr_strings
    names = [f"layer_with_a_rather_long_name_{i:05d}" for i in range(3000)]  # > 64 KB
    with h5py.File(tmp_path / "a.h5", "w") as f:
        _write_strings(f, "layer_names", names)
        assert "layer_names" not in f.attrs and "layer_names0" in f.attrs
        assert attr_strings(f, "layer_names") == names


# --- custom objects ---------------------------------------------------------------------------
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@register_keras_serializable(package="test_saving")
class RegisteredScale(Scale):
    pass


@register_keras_serializable(package="test_saving")
class TwoTowers(pykern.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.left = layers.Dense(units, name="left")
        self.right = layers.Dense(units, activation="relu", name="right")

    def call(self, x):
        return self.left(x) + self.right(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_unknown_custom_layer_is_refused_unless_supplied(tmp_path):
    model = _randomize(pykern.Sequential([pykern.Input((3,)), Scale(3.0, name="scale")]))
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="Scale") as e:
        load_model(tmp_path / "m.keras")
    assert "m.keras" in str(e.value)
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Scale": Scale})
    _assert_same_predictions(model, loaded, _x(2, 3))


def cube(x):
    return x * x * x


def test_custom_activation_function_loads_through_custom_objects(tmp_path):
    model = _randomize(pykern.Sequential([pykern.Input((3,)), layers.Dense(2, activation=cube)]))
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="cube"):
        load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"cube": cube})
    _assert_same_predictions(model, loaded, _x(2, 3))
    with pytest.raises(ValueError, match="cube"):  # the scope ends with the call
        load_model(tmp_path / "m.keras")


def test_registered_custom_layer_loads_without_custom_objects(tmp_path):
    model = _randomize(pykern.Sequential([pykern.Input((3,)), RegisteredScale(name="scale")]))
    config = json.loads(model.to_json())
    assert config["config"]["layers"][1]["registered_name"] == "test_saving>RegisteredScale"
    for ext in ("keras", "h5"):
        model.save(tmp_path / f"m.{ext}")
        _assert_same_predictions(model, load_model(tmp_path / f"m.{ext}"), _x(2, 3))


def test_registered_subclassed_model_rebuilds_from_its_build_config(tmp_path):
    model = TwoTowers(units=4, name="towers")
    model(_x(2, 5))
    _randomize(model)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert isinstance(loaded, TwoTowers) and loaded.units == 4
    _assert_same_predictions(model, loaded, _x(3, 5))
    model.save_weights(tmp_path / "t.weights.h5")
    with h5py.File(tmp_path / "t.weights.h5") as f:  # the `layers` property first, as Keras
        assert sorted(f) == ["layers", "vars"]
        assert sorted(f["layers"]) == ["dense", "dense_1"]


# --- safe mode --------------------------------------------------------------------------------
def _lambda_model():
    return pykern.Sequential([pykern.Input((3,)), layers.Lambda(lambda t: t * 3.0 + 1.0,
                                                                name="affine")])


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_lambda_bytecode_is_refused_in_safe_mode(tmp_path, ext):
    path = tmp_path / f"m.{ext}"
    _lambda_model().save(path)
    with pytest.raises(ValueError, match="safe_mode=False") as e:
        load_model(path)
    assert str(path) in str(e.value) and "Lambda 'affine'" in str(e.value)
    loaded = load_model(path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict_on_batch(np.ones((1, 3), np.float32)), 4.0)
    assert pykern.utils.serialization.in_safe_mode()  # the global switch is left as it was


@register_keras_serializable(package="test_saving")
def triple_plus_one(t):
    return t * 3.0 + 1.0


def test_lambda_of_a_registered_function_loads_in_safe_mode(tmp_path):
    model = pykern.Sequential([pykern.Input((3,)), layers.Lambda(triple_plus_one)])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict_on_batch(np.ones((1, 3), np.float32)), 4.0)


def test_json_with_lambda_is_refused_in_safe_mode():
    text = _lambda_model().to_json()
    with pytest.raises(ValueError, match="safe mode"):
        model_from_json(text)
    assert model_from_json(text, safe_mode=False).layers[0].name == "affine"


def test_a_function_from_an_arbitrary_module_is_never_imported(tmp_path):
    config = json.loads(pykern.Sequential([pykern.Input((3,)), layers.Dense(2)]).to_json())
    config["config"]["layers"][1]["config"]["activation"] = {
        "module": "pykern_saving_test_sentinel", "class_name": "function", "config": "boom",
        "registered_name": None}
    with pytest.raises(ValueError, match="pykern_saving_test_sentinel"):
        model_from_json(json.dumps(config))
    assert "pykern_saving_test_sentinel" not in sys.modules


# --- corrupt files ----------------------------------------------------------------------------
def _assert_clean_error(path, loader=load_model):
    with pytest.raises((ValueError, OSError)) as e:
        loader(path)
    assert os.fspath(path) in str(e.value)


@pytest.mark.parametrize("ext", ["keras", "h5", "weights.h5"])
def test_truncated_files_give_an_error_naming_the_file(tmp_path, ext):
    model = _functional()
    good = tmp_path / f"good.{ext}"
    (model.save_weights if ext == "weights.h5" else model.save)(good)
    data = good.read_bytes()
    fresh = _functional()
    loader = fresh.load_weights if ext == "weights.h5" else load_model
    for cut in sorted({0, 1, 7, 100, 600, len(data) // 3, len(data) // 2, len(data) - 200,
                       len(data) - 1}):
        bad = tmp_path / f"cut{cut}.{ext}"
        bad.write_bytes(data[:cut])
        _assert_clean_error(bad, loader)


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_corrupted_bytes_never_crash(tmp_path, ext):
    model = _sequential()
    good = tmp_path / f"good.{ext}"
    model.save(good)
    data = bytearray(good.read_bytes())
    rng = random.Random(3)
    for trial in range(12):
        bad = bytearray(data)
        start = rng.randrange(len(bad) - 64)
        bad[start:start + 64] = bytes(rng.randrange(256) for _ in range(64))
        path = tmp_path / f"bad{trial}.{ext}"
        path.write_bytes(bytes(bad))
        try:
            load_model(path)
        except (ValueError, OSError) as e:
            assert str(path) in str(e)


def test_a_file_that_crashes_the_hdf5_library_is_reported_not_fatal(tmp_path):
    """Flipping bit 3 of the vlen-string type of the model_config attribute makes
    HDF5 1.14 segfault in attrs.get (found by fuzzing); load_model reads the file
    in a check process first, so this process survives and names the file."""
    model = pykern.Sequential([pykern.Input((3,)), layers.Dense(2)])
    model.save(tmp_path / "good.h5")
    data = bytearray((tmp_path / "good.h5").read_bytes())
    data[data.index(b"model_config\0") + 17] ^= 0x08
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt") as e:
        load_model(bad)
    assert str(bad) in str(e.value)


def test_the_check_process_turns_a_crash_into_an_error(tmp_path, monkeypatch):
    from pykern.saving import h5_guard
    if not hasattr(os, "fork"):
        pytest.skip("the check process needs os.fork")
    model = _sequential()
    model.save_weights(tmp_path / "w.weights.h5")
    monkeypatch.setattr(h5_guard, "_read_everything",
                        lambda source: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(ValueError, match="crashed the HDF5 library") as e:
        model.load_weights(tmp_path / "w.weights.h5")
    assert "w.weights.h5" in str(e.value)


def test_missing_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        load_model(tmp_path / "nope.keras")
    text = tmp_path / "model.keras"
    text.write_text("this is not a model")
    _assert_clean_error(text)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    _assert_clean_error(empty)
    saved_model = tmp_path / "saved"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"\0")
    with pytest.raises(ValueError, match="SavedModel"):
        load_model(saved_model)


def test_archives_with_bad_members_give_clear_errors(tmp_path):
    good = tmp_path / "good.keras"
    _sequential().save(good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}

    def archive(name, **replace):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as zf:
            for member, data in {**members, **replace}.items():
                if data is not None:
                    zf.writestr(member, data)
        return path
    _assert_clean_error(archive("nocfg.keras", **{"config.json": None}))
    _assert_clean_error(archive("badjson.keras", **{"config.json": b"{"}))
    _assert_clean_error(archive("badh5.keras", **{"model.weights.h5": b"garbage"}))
    unknown = json.loads(members["config.json"])
    unknown["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    _assert_clean_error(archive("unknown.keras", **{"config.json": json.dumps(unknown)}))
    wrong = _randomize(pykern.Sequential([pykern.Input((6,)), layers.Dense(4)]))
    wrong.save(tmp_path / "small.keras")
    with zipfile.ZipFile(tmp_path / "small.keras") as zf:
        small_weights = zf.read("model.weights.h5")
    _assert_clean_error(archive("shapes.keras", **{"model.weights.h5": small_weights}))


def test_keras_directory_form_loads(tmp_path):
    model = _sequential()
    model.save(tmp_path / "m.keras")
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        zf.extractall(unzipped)
    _assert_same_predictions(model, load_model(unzipped), _inputs(model))


# --- atomic writes ----------------------------------------------------------------------------
def test_overwrite_false_keeps_an_existing_file(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        _sequential().save(path, overwrite=False)
    assert path.read_bytes() == b"old"


def test_saved_files_get_the_permissions_a_plain_open_would_give(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    _sequential().save(tmp_path / "m.keras")
    assert os.stat(tmp_path / "m.keras").st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    model = _sequential()
    path = tmp_path / "m.keras"
    model.save(path)
    old = path.read_bytes()
    broken = pykern.Sequential([pykern.Input((3,)), layers.Dense(2)])
    broken.get_config = None  # serializing it fails half-way
    with pytest.raises(TypeError):
        broken.save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.keras"]


_SAVER = r"""
import sys
import numpy as np
import pykern
from pykern import layers
path = sys.argv[1]
model = pykern.Sequential([pykern.Input((2048,)), layers.Dense(2048)])   # 16 MiB of weights
k, b = model.layers[0].kernel, model.layers[0].bias
version = 0
while True:
    version += 1
    k.assign(np.full(k.shape, version, np.float32))
    b.assign(np.full(b.shape, version, np.float32))
    model.save(path)
    print(version, flush=True)
"""


def _saved_version(path):
    model = load_model(path)
    kernel, bias = model.layers[0].get_weights()
    version = kernel[0, 0]
    assert (kernel == version).all() and (bias == version).all(), "a partly written model"
    return int(version)


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_killing_a_process_while_it_saves_leaves_a_whole_model(tmp_path, ext):
    """kill -9 at random moments of a save loop: the file always loads, whole, as
    the last completed save or the one in progress."""
    path = tmp_path / f"big.{ext}"
    script = tmp_path / "saver.py"
    script.write_text(_SAVER)
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    rng = random.Random(17)
    deadline = time.monotonic() + 5.0
    kills = 0
    while kills < 3 or (kills < 6 and time.monotonic() < deadline):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                                env=env, text=True)
        first = proc.stdout.readline()  # one complete save before the first kill
        assert first.strip(), "the saver process died before saving"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.kill()
        done = [int(first)] + [int(line) for line in proc.stdout.read().split()]
        proc.wait()
        version = _saved_version(path)
        assert version in (done[-1], done[-1] + 1), (version, done[-1])
        kills += 1
    assert kills >= 3


# --- optimizer state --------------------------------------------------------------------------
def _trained_regressor(optimizer):
    pykern.utils.set_random_seed(4)
    model = pykern.Sequential([pykern.Input((4,)), layers.Dense(8, activation="relu"),
                               layers.Dense(1)], name="reg")
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    return model


def _regression_data():
    x = np.random.default_rng(0).standard_normal((48, 4)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize("opt", ["adam", "rmsprop", "sgd_momentum"])
def test_fit_after_load_model_continues_the_same_trajectory(tmp_path, ext, opt):
    make = {"adam": lambda: pykern.optimizers.Adam(0.01),
            "rmsprop": lambda: pykern.optimizers.RMSprop(0.01, momentum=0.5),
            "sgd_momentum": lambda: pykern.optimizers.SGD(0.01, momentum=0.9, nesterov=True)}[opt]
    x, y = _regression_data()
    model = _trained_regressor(make())
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / f"m.{ext}")
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)  # never interrupted
    resumed = load_model(tmp_path / f"m.{ext}")
    assert type(resumed.optimizer) is type(model.optimizer)
    assert int(resumed.optimizer.iterations.numpy()) == 6
    resumed.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_weights_file_carries_the_optimizer_in_keras_order(tmp_path):
    x, y = _regression_data()
    model = _trained_regressor(pykern.optimizers.Adam(0.01))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5") as f:
        opt = f["optimizer/vars"]
        assert opt.attrs["name"] == model.optimizer.name
        assert opt["0"][()] == 3 and opt["0"].dtype == np.int64
        assert opt["1"].dtype == np.float32
        shapes = [opt[str(i)].shape for i in range(2, len(opt))]
    weights = [w.shape for w in model.trainable_weights]
    assert shapes == [s for s in weights for _ in range(2)]  # momentum, velocity per weight
    resumed = _trained_regressor(pykern.optimizers.Adam(0.01))
    resumed.load_weights(tmp_path / "w.weights.h5")
    assert int(resumed.optimizer.iterations.numpy()) == 3


def test_a_compile_config_that_does_not_compile_loads_uncompiled_with_a_warning(tmp_path):
    model = _trained_regressor("adam")
    model.fit(*_regression_data(), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["compile_config"]["loss"] = "no_such_loss"
    members["config.json"] = json.dumps(config)
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.warns(UserWarning, match="uncompiled"):
        loaded = load_model(tmp_path / "bad.keras")
    assert loaded.optimizer is None
    _assert_same_predictions(model, loaded, _x(2, 4))


def test_include_optimizer_false_and_compile_false_leave_the_optimizer_out(tmp_path):
    x, y = _regression_data()
    model = _trained_regressor("adam")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.h5", include_optimizer=False)
    with h5py.File(tmp_path / "m.h5") as f:
        assert "optimizer_weights" not in f
    model.save(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras", compile=False).optimizer is None
