"""The two seed CNN programs (Keras' MNIST and CIFAR-10 examples), as builders that
take a layers module and a models module (pykern's or Keras'), and small random
image sets with a rule to learn, for tests that must stay fast."""
import numpy as np


def mnist_cnn(L, M):
    return M.Sequential([
        M.Input((28, 28, 1)),
        L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Dropout(0.25),
        L.Flatten(),
        L.Dense(128, activation="relu"),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax")], name="mnist_cnn")


def cifar_cnn(L, M):
    return M.Sequential([
        M.Input((32, 32, 3)),
        L.Conv2D(32, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"),
        L.Flatten(),
        L.Dense(64, activation="relu"),
        L.Dense(10, activation="softmax")], name="cifar_cnn")


def images(n, shape, seed):
    """n images in [0, 1) and integer labels 0..9: the quadrant (of four, plus
    six patterns of two quadrants) whose brightness was raised, a rule a CNN
    learns in a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32) * 0.5
    y = rng.integers(0, 10, n)
    h, w = shape[0] // 2, shape[1] // 2
    quadrants = [(slice(0, h), slice(0, w)), (slice(0, h), slice(w, None)),
                 (slice(h, None), slice(0, w)), (slice(h, None), slice(w, None))]
    patterns = [(0,), (1,), (2,), (3,), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for i, label in enumerate(y):
        for q in patterns[label]:
            x[(i, *quadrants[q])] += 0.5
    return x, y.astype(np.int32)
