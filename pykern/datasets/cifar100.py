"""CIFAR-100: 60,000 32x32 colour images in 100 fine / 20 coarse classes
(keras.datasets.cifar100)."""
import numpy as np

from pykern.datasets import cache, cifar

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
FOLDER = "cifar-100-python"
ARCHIVES = ("cifar-100-python.tar.gz", f"{FOLDER}-target_archive", f"{FOLDER}.tar.gz")


def load_data(label_mode="fine"):
    """((x_train, y_train), (x_test, y_test)): uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3); int64 labels of shapes (50000, 1) and (10000, 1), 0..99 for
    label_mode 'fine', 0..19 for 'coarse'."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'`label_mode` must be one of `"fine"`, `"coarse"`. Received: '
                         f'label_mode={label_mode}.')

    def parse(path):
        (x_train, y_train), (x_test, y_test) = cifar.load_batches(
            path, FOLDER, ("train", "test"), f"{label_mode}_labels")
        # Keras keeps these labels as np.reshape makes them from lists: int64
        return ((cifar.to_channels_last(x_train), np.reshape(y_train, (len(y_train), 1))),
                (cifar.to_channels_last(x_test), np.reshape(y_test, (len(y_test), 1))))

    return cache.load(ARCHIVES[0], ORIGIN, parse, SHA256,
                      cached=cifar.candidates(FOLDER, ARCHIVES))
