"""Session-global state: automatic object names (dense, dense_1, ...)."""
import collections
import re

__all__ = ["uniquify", "to_snake_case", "clear_session"]

_names = collections.defaultdict(int)


def to_snake_case(name):
    """Keras' rule: 'Dense' -> 'dense', 'LeakyReLU' -> 'leaky_re_lu', 'PReLU' -> 'p_re_lu'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(name):
    """`name` the first time, then `name_1`, `name_2`, ... until clear_session()."""
    count = _names[name]
    _names[name] += 1
    return name if count == 0 else f"{name}_{count}"


def clear_session():
    """Forgets the automatic names, so the next Dense is 'dense' again."""
    _names.clear()
