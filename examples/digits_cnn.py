"""A small CNN on the real 8x8 handwritten digits (1,797 images, shipped with pykern):
train, evaluate, save, reload, and draw the training curves.

    python examples/digits_cnn.py

Keras code: replace `import pykern as keras` by `import keras` and it runs unchanged.
"""
import os
import time

import numpy as np

import pykern as keras
from pykern import layers

(x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
x_train = (x_train / 16.0).astype("float32")[..., None]  # (1437, 8, 8, 1), values 0..1
x_test = (x_test / 16.0).astype("float32")[..., None]
keras.utils.set_random_seed(0)

model = keras.Sequential([
    layers.Input((8, 8, 1)),
    layers.Conv2D(32, 3, padding="same", activation="relu"),
    layers.BatchNormalization(),
    layers.Conv2D(64, 3, padding="same", activation="relu"),
    layers.MaxPooling2D(2),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

start = time.perf_counter()
history = model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1,
                    verbose=2)
print(f"trained in {time.perf_counter() - start:.1f} s")
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {accuracy:.4f} (loss {loss:.4f})")

os.makedirs("out", exist_ok=True)
model.save("out/digits_cnn.keras")  # Keras 3 reads this file too
reloaded = keras.models.load_model("out/digits_cnn.keras")
same = np.allclose(reloaded.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
print(f"saved out/digits_cnn.keras; the reloaded model predicts the same: {same}")

try:
    keras.utils.plot_history(history, to_file="out/digits_cnn_history.png")
    print("training curves: out/digits_cnn_history.png")
except ImportError as e:  # matplotlib is in the optional extra pykern[viz]
    print(f"no training plot: {e}")
