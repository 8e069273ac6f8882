"""pykern quickstart: ordinary Keras code, with `pykern` where it says `keras`.

Trains a small classifier on synthetic data, evaluates it, saves it in Keras'
own .keras format, loads it back and checks the predictions agree.
"""
import os
import tempfile

import numpy as np

import pykern as keras
from pykern import layers


def make_data(n=4000, features=20, seed=0):
    """n samples of one fixed linear problem with label noise; `seed` draws the samples."""
    w = np.random.default_rng(1234).standard_normal((features, 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = (x @ w + 0.3 * rng.standard_normal((n, 1)) > 0).astype("float32")
    return x, y


def main():
    keras.utils.set_random_seed(42)
    x, y = make_data()
    x_test, y_test = make_data(1000, seed=1)

    model = keras.Sequential([
        layers.Input((20,)),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(64, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.summary()
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=5, validation_split=0.1, verbose=2)
    print("test:", model.evaluate(x_test, y_test, verbose=0, return_dict=True))

    path = os.path.join(tempfile.mkdtemp(), "classifier.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    same = np.array_equal(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
    print(f"saved to {path}; reloaded model predicts the same: {same}")
    print(f"(kernels: {keras.config.cpu_isa()}, {keras.config.num_threads()} threads)")


if __name__ == "__main__":
    main()
