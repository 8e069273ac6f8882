"""The word-index encoding IMDB and Reuters share, step for step as Keras does it
(including its quirks: a sequence is kept only when shorter than maxlen, and
without num_words the highest index itself becomes out-of-vocabulary)."""
import json

import numpy as np

__all__ = ["shuffled", "offset", "drop_long", "limit_vocabulary", "parse_word_index"]


def shuffled(rng, xs, labels):
    """xs and labels in the order rng.shuffle gives np.arange(len(xs))."""
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    return xs[indices], labels[indices]


def offset(xs, start_char, index_from):
    """Each sequence shifted by index_from, with start_char in front (when not None)."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def drop_long(maxlen, xs, labels):
    """The (sequence, label) pairs whose sequence is shorter than maxlen."""
    kept = [(x, y) for x, y in zip(xs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Indices outside [skip_top, num_words) become oov_char (or are dropped when None);
    num_words defaults to the largest index present."""
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def parse_word_index(path):
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    if not isinstance(index, dict):
        raise ValueError(f"a word index is a JSON object, got {type(index).__name__}")
    return index
