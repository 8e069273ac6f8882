"""pad_sequences: variable-length sequences to one (num_samples, maxlen, ...) array."""
import numpy as np

__all__ = ["pad_sequences"]


def _sample_shape(sequences):
    """The per-step shape, from the first non-empty sequence; checks every entry is sized."""
    lengths, sample_shape = [], None
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError as e:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: "
                             f"{x}") from e
        if sample_shape is None and len(x):
            sample_shape = np.asarray(x).shape[1:]
    return lengths, sample_shape or ()


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """(len(sequences), maxlen) + step shape array of `dtype`: each sequence cut to its
    last ('pre') or first ('post') maxlen steps and filled with `value` before ('pre')
    or after ('post') it; maxlen defaults to the longest sequence. Strings need
    dtype=object (or a NumPy string dtype). As keras.utils.pad_sequences."""
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    lengths, sample_shape = _sample_shape(sequences)
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences: `sequences` is empty; pass maxlen to get an "
                             "empty (0, maxlen) array")
        maxlen = max(lengths)
    is_object = np.dtype(dtype) == np.dtype(object)
    is_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and not (is_object or is_str):
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         f"strings.")
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return x
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {idx} "
                             f"is different from expected shape {sample_shape}")
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x
