"""IMDB movie reviews: 25,000 + 25,000 reviews as word-index sequences, labelled
by sentiment (keras.datasets.imdb)."""
import numpy as np

from pykern.datasets import cache
from pykern.datasets import word_sequences as ws
from pykern.datasets.safe_load import load_npz

__all__ = ["load_data", "get_word_index"]

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def _parse(path):
    f = load_npz(path)
    return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """((x_train, y_train), (x_test, y_test)): object arrays of word-index lists and
    int64 labels (0 negative, 1 positive), shuffled with np.random.RandomState(seed),
    indices shifted by index_from after start_char, those outside
    [skip_top, num_words) replaced by oov_char (dropped when None), sequences of
    maxlen words or more dropped, exactly as Keras returns them."""
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected keyword argument(s) {sorted(kwargs)}")
    x_train, labels_train, x_test, labels_test = cache.load(path, BASE + "imdb.npz", _parse,
                                                             SHA256)
    rng = np.random.RandomState(seed)
    x_train, labels_train = ws.shuffled(rng, x_train, labels_train)
    x_test, labels_test = ws.shuffled(rng, x_test, labels_test)
    x_train = ws.offset(x_train, start_char, index_from)
    x_test = ws.offset(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = ws.drop_long(maxlen, x_train, labels_train)
        x_test, labels_test = ws.drop_long(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             f"sequence was kept. Increase maxlen.")
    xs = ws.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return ((np.array(xs[:idx], dtype="object"), labels[:idx]),
            (np.array(xs[idx:], dtype="object"), labels[idx:]))


def get_word_index(path="imdb_word_index.json"):
    """{word: index} (index 1 = the most frequent word; load_data shifts by index_from)."""
    return cache.load(path, BASE + "imdb_word_index.json", ws.parse_word_index,
                      WORD_INDEX_MD5)
