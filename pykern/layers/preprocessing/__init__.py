"""Preprocessing layers (Keras 3's keras.layers preprocessing family), one module
per kind: image (Rescaling, Normalization, Resizing, CenterCrop), augmentation
(the Random* image layers), categorical (CategoryEncoding, Hashing,
Discretization, IntegerLookup, StringLookup) and text (TextVectorization)."""
from pykern.layers.preprocessing.augmentation import (RandomBrightness, RandomContrast,
                                                      RandomCrop, RandomFlip, RandomRotation,
                                                      RandomTranslation, RandomZoom)
from pykern.layers.preprocessing.categorical import (CategoryEncoding, Discretization, Hashing,
                                                     IntegerLookup, StringLookup)
from pykern.layers.preprocessing.image import CenterCrop, Normalization, Rescaling, Resizing
from pykern.layers.preprocessing.text import TextVectorization

__all__ = ["Rescaling", "Normalization", "Resizing", "CenterCrop", "RandomFlip",
           "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop", "RandomContrast",
           "RandomBrightness", "CategoryEncoding", "Discretization", "Hashing", "IntegerLookup",
           "StringLookup", "TextVectorization"]
