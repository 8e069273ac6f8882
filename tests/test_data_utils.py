"""Input pipelines: pad_sequences, normalize, to_categorical, timeseries / image / text
datasets, split_dataset (parity with Keras on small inputs), and Sequences loaded
ahead by worker threads or processes (order, errors, shutdown)."""
import os
import threading
import time

import numpy as np
import pytest

import pykern
from pykern import layers, utils


def _batches(ds):
    """A Keras (tf.data) dataset or a pykern Sequence as a list of NumPy batches."""
    if isinstance(ds, utils.Sequence):
        return [ds[i] for i in range(len(ds))]
    out = []
    for b in ds:
        out.append(tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy())
    return out


def _assert_batches_equal(ours, theirs, atol=0.0):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert u.shape == v.shape
            if v.dtype == object or v.dtype.kind in "SU":
                v = np.array([s.decode() if isinstance(s, bytes) else s for s in v], object)
                assert list(u) == list(v)
            else:
                assert u.dtype == v.dtype
                np.testing.assert_allclose(u, v, atol=atol, rtol=0)


# --- pad_sequences --------------------------------------------------------------------------
PAD_CASES = [
    dict(sequences=[[1, 2, 3], [4], []]),
    dict(sequences=[[1, 2, 3], [4, 5]], maxlen=2),
    dict(sequences=[[1, 2, 3], [4, 5]], maxlen=2, truncating="post"),
    dict(sequences=[[1, 2, 3], [4]], padding="post", value=-1),
    dict(sequences=[[1.5, 2.7], [3.2]], dtype="float32", maxlen=4),
    dict(sequences=[[1.5, 2.7], [3.2]]),  # int32: floats truncated
    dict(sequences=[np.ones((3, 2)), np.zeros((1, 2))], maxlen=2, dtype="float64"),
    dict(sequences=[["a", "bb"], ["c"]], dtype=object, value="<pad>"),
    dict(sequences=[["a", "bb"], ["c"]], dtype="<U5", value="", padding="post"),
    dict(sequences=((1, 2), (3,)), dtype="int64"),
]


@pytest.mark.parametrize("case", PAD_CASES)
def test_pad_sequences_matches_keras(keras, case):
    ours = utils.pad_sequences(**case)
    theirs = keras.utils.pad_sequences(**case)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("case, message", [
    (dict(sequences=[[1], 3]), "non-iterable"),
    (dict(sequences=[[1, 2]], padding="middle"), 'Padding type "middle"'),
    (dict(sequences=[[1, 2]], truncating="x"), 'Truncating type "x"'),
    (dict(sequences=[["a"]], value="x"), "dtype=object"),
    (dict(sequences=[np.ones((2, 2)), np.ones((1, 3))]), "different from expected shape"),
    (dict(sequences=5), "must be iterable"),
])
def test_pad_sequences_rejects_bad_input_as_keras_does(keras, case, message):
    with pytest.raises(ValueError, match=message):
        utils.pad_sequences(**case)
    with pytest.raises(ValueError, match=message):
        keras.utils.pad_sequences(**case)


def test_pad_sequences_accepts_object_dtype_by_name():
    out = utils.pad_sequences([["a", "b"], ["c"]], dtype="object", value="")
    assert out.dtype == object and out.tolist() == [["a", "b"], ["", "c"]]


# --- normalize / to_categorical -------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, dict(axis=1, order=1), dict(axis=None),
                                    dict(axis=-1, order=3)])
def test_normalize_matches_keras(keras, kwargs):
    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    np.testing.assert_allclose(utils.normalize(x, **kwargs), keras.utils.normalize(x, **kwargs),
                               rtol=1e-12)


def test_normalize_along_axis_0_gives_unit_columns():
    x = np.array([[3.0, 1.0], [4.0, 0.0]])
    np.testing.assert_allclose(utils.normalize(x, axis=0), [[0.6, 1.0], [0.8, 0.0]])


def test_normalize_of_a_tensor_is_a_tensor_with_unit_rows():
    t = pykern.ops.convert_to_tensor(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32))
    out = utils.normalize(t)
    assert isinstance(out, pykern.Tensor)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_to_categorical_matches_keras_values_shape_and_dtype(keras):
    for labels, n in (([[0], [2], [1]], 4), (np.array([[1, 0], [2, 2]]), None), (3, None)):
        ours, theirs = utils.to_categorical(labels, n), keras.utils.to_categorical(labels, n)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)


# --- timeseries_dataset_from_array ----------------------------------------------------------
SERIES = np.arange(60, dtype=np.float64).reshape(30, 2)
TARGETS = np.arange(100, 130)
TS_CASES = [
    dict(sequence_length=5, batch_size=4),
    dict(sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=3),
    dict(sequence_length=3, start_index=4, end_index=20, batch_size=5),
    dict(sequence_length=6, batch_size=None, sequence_stride=7),
]


@pytest.mark.parametrize("case", TS_CASES)
@pytest.mark.parametrize("with_targets", [True, False])
def test_timeseries_windows_match_keras(keras, case, with_targets):
    targets = TARGETS if with_targets else None
    ours = utils.timeseries_dataset_from_array(SERIES, targets, **case)
    theirs = keras.utils.timeseries_dataset_from_array(SERIES, targets, **case)
    _assert_batches_equal(_batches(ours), _batches(theirs))


def test_timeseries_shuffle_gives_keras_windows_in_a_seeded_order(keras):
    kw = dict(sequence_length=3, batch_size=4, shuffle=True, seed=7)
    ours = _batches(utils.timeseries_dataset_from_array(SERIES, TARGETS, **kw))
    again = _batches(utils.timeseries_dataset_from_array(SERIES, TARGETS, **kw))
    theirs = _batches(keras.utils.timeseries_dataset_from_array(SERIES, TARGETS, **kw))
    def pairs(bs):
        return sorted((x.tobytes(), int(y)) for b in bs for x, y in zip(*b))
    assert pairs(ours) == pairs(theirs)
    _assert_batches_equal(ours, again)
    starts = np.concatenate([b[1] for b in ours]) - 100
    assert list(starts) != sorted(starts)


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_index=-1), "start_index"), (dict(end_index=40), "end_index"),
    (dict(sampling_rate=0), "sampling_rate"), (dict(sequence_stride=30), "sequence_stride"),
])
def test_timeseries_rejects_bad_indices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        utils.timeseries_dataset_from_array(SERIES, None, 3, **kwargs)


def test_model_fits_a_timeseries_sequence_like_the_same_windows_as_arrays():
    seq = utils.timeseries_dataset_from_array(SERIES.astype(np.float32) / 60,
                                              TARGETS.astype(np.float32) / 130, 4,
                                              batch_size=8)
    x = np.stack([SERIES[i:i + 4] for i in range(27)]).astype(np.float32) / 60
    y = TARGETS[:27].astype(np.float32) / 130

    def run(data, **kw):
        pykern.utils.set_random_seed(3)
        m = pykern.Sequential([layers.Input((4, 2)), layers.Flatten(), layers.Dense(1)])
        m.compile("sgd", "mse")
        return m.fit(data, epochs=3, shuffle=False, verbose=0, **kw).history["loss"]
    losses = run(seq)
    assert losses == run(x, y=y, batch_size=8)
    assert losses[-1] < losses[0]


# --- split_dataset --------------------------------------------------------------------------
X10 = np.arange(20).reshape(10, 2)
Y10 = np.arange(10) * 10


@pytest.mark.parametrize("kwargs", [
    dict(left_size=0.7), dict(right_size=3), dict(left_size=4, right_size=0.2),
    dict(left_size=0.35, shuffle=True, seed=5), dict(right_size=2, shuffle=True, seed=11),
])
@pytest.mark.parametrize("structure", ["array", "tuple"])
def test_split_dataset_matches_keras(keras, kwargs, structure):
    data = X10 if structure == "array" else (X10, Y10)
    left, right = utils.split_dataset(data, **kwargs)
    k_left, k_right = keras.utils.split_dataset(data, **kwargs)
    for ours, theirs in ((left, k_left), (right, k_right)):
        theirs = list(theirs.as_numpy_iterator())
        if structure == "array":
            np.testing.assert_array_equal(ours, np.stack(theirs))
        else:
            assert isinstance(ours, tuple)
            for i in range(2):
                np.testing.assert_array_equal(ours[i], np.stack([t[i] for t in theirs]))


@pytest.mark.parametrize("kwargs, error", [
    (dict(), ValueError), (dict(left_size=0, right_size=0), ValueError),
    (dict(left_size=10), ValueError), (dict(left_size=0.6, right_size=0.6), ValueError),
    (dict(left_size="half"), TypeError),
])
def test_split_dataset_rejects_bad_sizes(kwargs, error):
    with pytest.raises(error):
        utils.split_dataset(X10, **kwargs)


def test_split_dataset_rejects_ragged_tuples():
    with pytest.raises(ValueError, match="different lengths"):
        utils.split_dataset((X10, Y10[:5]), left_size=0.5)


# --- image_ / text_dataset_from_directory ---------------------------------------------------
def _write_images(root, sizes_by_class, mode="RGB"):
    from PIL import Image
    rng = np.random.RandomState(0)
    for cls, sizes in sizes_by_class.items():
        os.makedirs(root / cls, exist_ok=True)
        for i, (h, w) in enumerate(sizes):
            channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
            pixels = rng.randint(0, 256, (h, w, channels)).astype(np.uint8)
            Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode).save(
                root / cls / f"img{i}.png")


@pytest.fixture
def image_dir(tmp_path):
    pytest.importorskip("PIL")
    _write_images(tmp_path / "imgs", {"cat": [(8, 6), (5, 9), (7, 7)],
                                      "dog": [(6, 6), (9, 4), (4, 8), (6, 10)]})
    return str(tmp_path / "imgs")


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(label_mode="categorical", interpolation="nearest", batch_size=3),
    dict(label_mode="binary", interpolation="bicubic"),
    dict(label_mode=None, color_mode="rgba", interpolation="area", batch_size=2),
    dict(crop_to_aspect_ratio=True, image_size=(4, 6)),
    dict(pad_to_aspect_ratio=True, image_size=(4, 6)),
    dict(crop_to_aspect_ratio=True, image_size=(6, 3), interpolation="nearest"),
    dict(pad_to_aspect_ratio=True, image_size=(6, 3), interpolation="nearest"),
    dict(interpolation="mitchellcubic", data_format="channels_first"),
    dict(class_names=["dog", "cat"], interpolation="lanczos3"),
])
def test_image_dataset_matches_keras_in_order(keras, image_dir, kwargs):
    kwargs = dict(dict(image_size=(5, 7), batch_size=4, shuffle=False, verbose=False), **kwargs)
    ours = utils.image_dataset_from_directory(image_dir, **kwargs)
    theirs = keras.utils.image_dataset_from_directory(image_dir, **kwargs)
    assert ours.class_names == theirs.class_names
    assert ours.file_paths == theirs.file_paths
    _assert_batches_equal(_batches(ours), _batches(theirs), atol=1e-3)


def test_grayscale_images_match_keras(keras, tmp_path):
    """Grey files stay grey alike; a colour file turned grey goes through Pillow's
    ITU-R 601-2 luma (as Keras' grain format), TensorFlow's decoders use their own."""
    pytest.importorskip("PIL")
    _write_images(tmp_path / "g", {"a": [(5, 4), (3, 3)], "b": [(4, 6)]}, mode="L")
    kw = dict(image_size=(4, 4), color_mode="grayscale", shuffle=False, verbose=False)
    ours = utils.image_dataset_from_directory(str(tmp_path / "g"), **kw)
    theirs = keras.utils.image_dataset_from_directory(str(tmp_path / "g"), **kw)
    _assert_batches_equal(_batches(ours), _batches(theirs), atol=1e-3)


def test_image_dataset_subsets_hold_the_files_keras_puts_there(keras, image_dir):
    kw = dict(image_size=(5, 7), validation_split=0.3, seed=42, verbose=False)
    train, val = utils.image_dataset_from_directory(image_dir, subset="both", **kw)
    k_train, k_val = keras.utils.image_dataset_from_directory(image_dir, subset="both", **kw)
    assert train.file_paths == k_train.file_paths and val.file_paths == k_val.file_paths
    only_val = utils.image_dataset_from_directory(image_dir, subset="validation", **kw)
    assert only_val.file_paths == val.file_paths
    _assert_batches_equal(_batches(val), _batches(k_val), atol=1e-3)
    first = np.concatenate([b[1] for b in _batches(train)])
    train.on_epoch_end()
    second = np.concatenate([b[1] for b in _batches(train)])
    assert sorted(first) == sorted(second)


def test_image_dataset_keeps_equal_sizes_without_image_size(tmp_path):
    pytest.importorskip("PIL")
    _write_images(tmp_path / "d", {"a": [(3, 4), (3, 4)], "b": [(3, 4)]})
    seq = utils.image_dataset_from_directory(str(tmp_path / "d"), image_size=None,
                                             shuffle=False, verbose=False)
    x, y = seq[0]
    assert x.shape == (3, 3, 4, 3) and x.dtype == np.float32 and list(y) == [0, 0, 1]


def test_image_dataset_rejects_mixed_sizes_without_image_size(image_dir):
    with pytest.raises(ValueError, match="different sizes.*img"):
        utils.image_dataset_from_directory(image_dir, image_size=None, verbose=False)


def test_image_dataset_rejects_a_folder_without_images(tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "a" / "notes.txt").write_text("no image")
    with pytest.raises(ValueError, match=f"No images found in directory {tmp_path}"):
        utils.image_dataset_from_directory(str(tmp_path / "empty"), verbose=False)


def test_image_dataset_rejects_labels_that_do_not_match_the_files(image_dir):
    with pytest.raises(ValueError, match=f"found 7 files in directory {image_dir}"):
        utils.image_dataset_from_directory(image_dir, labels=[0, 1, 0], verbose=False)
    with pytest.raises(ValueError, match=f"labels for {image_dir} must lie in"):
        utils.image_dataset_from_directory(image_dir, labels=[0, 1, 0, 1, 0, 1, 5],
                                           label_mode="categorical", verbose=False,
                                           shuffle=False)[0]
    with pytest.raises(ValueError, match="class_names"):
        utils.image_dataset_from_directory(image_dir, class_names=["cat", "cow"],
                                           verbose=False)


def test_image_dataset_names_a_file_it_cannot_decode(tmp_path):
    pytest.importorskip("PIL")
    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "a" / "broken.png").write_bytes(b"not a png")
    seq = utils.image_dataset_from_directory(str(tmp_path / "d"), verbose=False)
    with pytest.raises(ValueError, match="broken.png"):
        seq[0]


def test_image_dataset_without_pillow_names_the_extra(image_dir, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pykern\[image\]"):
        utils.image_dataset_from_directory(image_dir, verbose=False)


def test_image_dataset_feeds_fit(image_dir):
    train = utils.image_dataset_from_directory(image_dir, image_size=(4, 4), batch_size=3,
                                               label_mode="binary", seed=1, verbose=False)
    m = pykern.Sequential([layers.Input((4, 4, 3)), layers.Flatten(),
                           layers.Dense(1, activation="sigmoid")])
    m.compile("sgd", "binary_crossentropy")
    history = m.fit(train, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert m.predict(utils.image_dataset_from_directory(
        image_dir, image_size=(4, 4), labels=None, shuffle=False, verbose=False),
        verbose=0).shape == (7, 1)


@pytest.fixture
def text_dir(tmp_path):
    texts = {"neg": ["bad movie", "awful, truly", "meh"], "pos": ["great", "loved it!"]}
    for cls, docs in texts.items():
        (tmp_path / "txt" / cls).mkdir(parents=True)
        for i, doc in enumerate(docs):
            (tmp_path / "txt" / cls / f"{i}.txt").write_text(doc)
        (tmp_path / "txt" / cls / "skip.md").write_text("not a sample")
    return str(tmp_path / "txt")


@pytest.mark.parametrize("kwargs", [
    dict(), dict(max_length=4, label_mode="categorical", batch_size=2),
    dict(label_mode="binary"), dict(labels=None),
])
def test_text_dataset_matches_keras_in_order(keras, text_dir, kwargs):
    kwargs = dict(dict(batch_size=3, shuffle=False, verbose=False), **kwargs)
    ours = utils.text_dataset_from_directory(text_dir, **kwargs)
    theirs = keras.utils.text_dataset_from_directory(text_dir, **kwargs)
    assert ours.class_names == theirs.class_names
    _assert_batches_equal(_batches(ours), _batches(theirs))


def test_text_dataset_validation_subset_matches_keras(keras, text_dir):
    kw = dict(validation_split=0.4, subset="validation", seed=3, verbose=False)
    ours = utils.text_dataset_from_directory(text_dir, shuffle=True, **kw)
    theirs = keras.utils.text_dataset_from_directory(text_dir, shuffle=True, **kw)
    def texts(bs):
        return sorted(t.decode() if isinstance(t, bytes) else t for b in bs for t in b[0])
    assert texts(_batches(ours)) == texts(_batches(theirs))


# --- Sequence loading: workers, processes, errors -------------------------------------------
class SlowSquares(utils.Sequence):
    """Batch i is ([[i]], [[i*i]]), computed after a delay that makes later batches finish
    first, so only an ordered pool hands them over in order."""

    def __init__(self, n=8, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.n, self.fail_at = n, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(0.002 * (self.n - i))
        if i == self.fail_at:
            raise KeyError(f"no batch {i} here")
        return np.array([[i]], np.float32), np.array([[i * i]], np.float32)


def _data_threads():
    return [t for t in threading.enumerate() if t.name.startswith("pykern_data")]


@pytest.mark.parametrize("options", [dict(workers=3), dict(workers=2, use_multiprocessing=True),
                                     dict(workers=4, max_queue_size=1)])
def test_workers_hand_over_batches_in_order(options):
    from pykern.utils.enqueuer import loading_options, ordered_batches
    seq = SlowSquares(**options)
    got = list(ordered_batches(seq, [5, 0, 7, 1, 2], *loading_options(seq)))
    assert [int(x[0, 0]) for x, _ in got] == [5, 0, 7, 1, 2]
    assert not _data_threads()


def _linear_model():
    pykern.utils.set_random_seed(0)
    m = pykern.Sequential([layers.Input((1,)), layers.Dense(1)])
    m.compile("sgd", "mse")
    return m


def test_fit_with_workers_trains_like_a_plain_sequence():
    plain = _linear_model().fit(SlowSquares(), epochs=2, shuffle=False, verbose=0)
    threaded = _linear_model().fit(SlowSquares(workers=3), epochs=2, shuffle=False, verbose=0)
    assert threaded.history["loss"] == plain.history["loss"]
    assert not _data_threads()


def test_keras2_loading_arguments_on_fit_evaluate_predict():
    m = _linear_model()
    m.fit(SlowSquares(), epochs=1, workers=2, max_queue_size=2, verbose=0)
    m.evaluate(SlowSquares(), workers=2, use_multiprocessing=False, verbose=0)
    assert m.predict(SlowSquares(), workers=2, verbose=0).shape == (8, 1)
    with pytest.raises(TypeError, match="pickle_safe"):
        m.fit(SlowSquares(), pickle_safe=True, verbose=0)
    with pytest.raises(ValueError, match="max_queue_size"):
        m.fit(SlowSquares(), workers=2, max_queue_size=0, verbose=0)


@pytest.mark.parametrize("options", [dict(workers=3), dict(workers=2, use_multiprocessing=True),
                                     dict(workers=1)])
def test_a_failing_batch_stops_fit_with_its_own_error(options):
    m = _linear_model()
    with pytest.raises(KeyError, match="no batch 5 here") as info:
        m.fit(SlowSquares(fail_at=5, **options), epochs=2, shuffle=False, verbose=0)
    if options.get("use_multiprocessing"):  # the worker's traceback is chained on
        assert "__getitem__" in str(info.value.__cause__)
    else:
        assert info.traceback[-1].name == "__getitem__"
    assert not _data_threads()


def test_a_failing_generator_stops_fit_through_the_prefetch_thread():
    def batches():
        for i in range(3):
            yield np.array([[i]], np.float32), np.array([[i]], np.float32)
        raise RuntimeError("generator broke")
    m = _linear_model()
    with pytest.raises(RuntimeError, match="generator broke"):
        m.fit(batches(), steps_per_epoch=2, epochs=3, workers=2, verbose=0)
    assert not _data_threads()


def test_prefetched_generator_keeps_its_order_and_stops_when_fit_ends():
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield np.array([[i]], np.float32), np.array([[2 * i]], np.float32)
            i += 1
    m = _linear_model()
    seen = []

    class Record(pykern.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)
    m.fit(endless(), steps_per_epoch=3, epochs=2, workers=2, max_queue_size=2, verbose=0,
          callbacks=[Record()])
    assert seen == [0, 1, 2, 0, 1, 2]
    assert not _data_threads()
    assert len(pulled) <= 6 + 2 + 1  # the queue's depth plus the item in hand, no more


def test_fit_shuffles_sequence_batches_per_epoch_like_keras():
    order = []

    class Tracked(SlowSquares):
        def __getitem__(self, i):
            order.append(i)
            return super().__getitem__(i)
    _linear_model().fit(Tracked(), epochs=2, verbose=0)
    assert sorted(order[:8]) == list(range(8)) and sorted(order[8:]) == list(range(8))
    assert order[:8] != list(range(8)) or order[8:] != list(range(8))
