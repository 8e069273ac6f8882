"""The three models the CUDA tests train on both devices, their data, and one
training helper: the seed MLP (Dense 512 relu -> Dropout -> Dense 10 softmax,
RMSprop), an MNIST-style CNN with BatchNormalization, and LSTM(50, relu) -> Dense(1)."""
import numpy as np

import pykern
from pykern import layers


def seed_mlp():
    return pykern.Sequential([layers.Input((784,)), layers.Dense(512, activation="relu"),
                              layers.Dropout(0.2), layers.Dense(10, activation="softmax")],
                             name="seed_mlp")


def bn_cnn():
    return pykern.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(16, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dropout(0.25),
        layers.Dense(10, activation="softmax")], name="bn_cnn")


def lstm_series():
    return pykern.Sequential([layers.Input((10, 1)), layers.LSTM(50, activation="relu"),
                              layers.Dense(1)], name="lstm_series")


def mlp_data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    labels = (x[:, :10].argmax(1) + (x[:, 10] > 0.5)) % 10  # a rule the MLP can learn
    return x, np.eye(10, dtype=np.float32)[labels]


def image_data(n=256, seed=0):
    from seed_cnns import images
    return images(n, (28, 28, 1), seed)


def series_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n + 11, dtype=np.float32)
    wave = np.sin(0.1 * t) + 0.1 * rng.standard_normal(len(t)).astype(np.float32)
    x = np.stack([wave[i:i + 10] for i in range(n)])[..., None].astype(np.float32)
    return x, wave[10:10 + n, None].astype(np.float32)


# name: (builder, data, compile arguments, batch size)
MODELS = {
    "seed_mlp": (seed_mlp, mlp_data,
                 dict(optimizer="rmsprop", loss="categorical_crossentropy",
                      metrics=["accuracy"]), 128),
    "bn_cnn": (bn_cnn, image_data,
               dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"]), 64),
    "lstm_series": (lstm_series, series_data, dict(optimizer="adam", loss="mse"), 32),
}


def train(name, device, epochs=3, seed=0):
    """(history, model) of `name` built, compiled and fitted on `device` from seed
    `seed` (same weights, same dropout masks, same batch order on any device)."""
    build, data, compile_args, batch = MODELS[name]
    x, y = data()
    pykern.utils.set_random_seed(seed)
    with pykern.device(device):
        model = build()
        model.compile(**compile_args)
        history = model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    return history.history, model


def fit_mlp_counting(device, reset, counts):
    """Fits the seed MLP for 3 epochs of 8 batches on `device` between reset() and
    counts() (host<->device copies) and checks fit copied each batch once and read
    values back only for the epoch logs."""
    x, y = mlp_data(512)
    pykern.utils.set_random_seed(0)
    with pykern.device(device):
        model = seed_mlp()
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    reset()
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    moved = counts()
    assert moved.get("to_device", 0) <= 2 * 3 * 8 + 8  # x and y of each batch, no more
    assert moved.get("to_host", 0) <= 4 * 3 + 4  # the loss and accuracy of each epoch
    return model, x, y
