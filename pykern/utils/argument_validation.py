"""Standardising the layer arguments Keras standardises the same way everywhere:
n-tuples of integers (sizes, paddings, croppings) and `data_format`. Errors
name the layer (`where`, e.g. "ZeroPadding2D 'zp'") and quote the bad value."""
import numbers

__all__ = ["standardize_tuple", "standardize_data_format", "check_rank"]

DATA_FORMATS = ("channels_last", "channels_first")


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def standardize_tuple(value, n, name, where, allow_zero=False):
    """An int or n ints as a tuple of n Python ints, each > 0 (>= 0 with
    `allow_zero`), as keras.utils.argument_validation.standardize_tuple."""
    values = (value,) * n if _is_int(value) else None
    if values is None:
        try:
            values = tuple(value)
        except TypeError:
            values = ()
    if len(values) != n or not all(_is_int(v) for v in values):
        raise ValueError(f"{where}: the `{name}` argument must be an integer or a tuple of {n} "
                         f"integers, got {name}={value!r}")
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        raise ValueError(f"{where}: the `{name}` argument must hold integers "
                         f"{'>= 0' if allow_zero else '> 0'}, got {name}={value!r}")
    return tuple(int(v) for v in values)


def standardize_data_format(data_format, where):
    """'channels_last' (the default, as Keras' image_data_format) or 'channels_first'."""
    if data_format is None:
        return "channels_last"
    if isinstance(data_format, str) and data_format.lower() in DATA_FORMATS:
        return data_format.lower()
    raise ValueError(f"{where}: the `data_format` argument must be one of {DATA_FORMATS}, got "
                     f"data_format={data_format!r}")


def check_rank(shape, ndim, where, layout=""):
    """A ValueError naming the layer and the shape unless len(shape) == ndim."""
    if len(shape) != ndim:
        raise ValueError(f"{where} expects input of rank {ndim}{layout}, got shape "
                         f"{tuple(shape)}")
