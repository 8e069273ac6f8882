"""Keras' data sets (keras.datasets), each a module with load_data(); files are
looked up in $PYKERN_HOME/datasets (default ~/.pykern/datasets), then in
~/.keras/datasets, else downloaded. `digits` ships with pykern and works offline."""
from pykern.datasets import (boston_housing, california_housing, cifar10, cifar100, digits,
                             fashion_mnist, imdb, mnist, reuters)

__all__ = ["boston_housing", "california_housing", "cifar10", "cifar100", "digits",
           "fashion_mnist", "imdb", "mnist", "reuters"]
