"""keras.preprocessing: the image utilities and the legacy ImageDataGenerator
(pykern.preprocessing.image), and the preprocessing layer classes under the
names keras.layers gives them (as tf.keras.layers.experimental.preprocessing
did), so code written against either finds them here."""
from pykern.layers.preprocessing import *  # noqa: F401,F403
from pykern.layers.preprocessing import __all__ as _layer_names
from pykern.preprocessing import image
from pykern.preprocessing.image import ImageDataGenerator

__all__ = ["image", "ImageDataGenerator"] + list(_layer_names)
