"""Reuters newswires: 11,228 word-index sequences labelled with 46 topics
(keras.datasets.reuters)."""
import numpy as np

from pykern.datasets import cache
from pykern.datasets import word_sequences as ws
from pykern.datasets.safe_load import load_npz

__all__ = ["load_data", "get_word_index", "get_label_names"]

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead")


def _parse(path):
    f = load_npz(path)
    return f["x"], f["y"]


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """((x_train, y_train), (x_test, y_test)): object arrays of word-index lists and
    int64 topic labels 0..45, shuffled with np.random.RandomState(seed) and split at
    int(n * (1 - test_split)), encoded as imdb.load_data does."""
    xs, labels = cache.load(path, BASE + "reuters.npz", _parse, SHA256)
    xs, labels = ws.shuffled(np.random.RandomState(seed), xs, labels)
    xs = ws.offset(xs, start_char, index_from)
    if maxlen:
        xs, labels = ws.drop_long(maxlen, xs, labels)
    xs = ws.limit_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:idx], dtype="object"), np.array(labels[:idx])),
            (np.array(xs[idx:], dtype="object"), np.array(labels[idx:])))


def get_word_index(path="reuters_word_index.json"):
    """{word: index} of the Reuters vocabulary."""
    return cache.load(path, BASE + "reuters_word_index.json", ws.parse_word_index,
                      WORD_INDEX_MD5)


def get_label_names():
    """The 46 topic names, in label order."""
    return LABEL_NAMES
