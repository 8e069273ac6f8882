"""Transfer learning, the Keras recipe: a pretrained ResNet50 base without its
classifier, frozen, plus a new head trained on a small real data set; then the
top block unfrozen and fine-tuned at a low learning rate.

    python examples/transfer_learning.py

The data are the 8x8 handwritten digits shipped with pykern, upsampled to 32x32
RGB (ResNet50's smallest input). The base loads Keras' ImageNet weights
(resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, from $PYKERN_HOME/models,
~/.keras/models or the network); without them it starts from random weights and
says so, and the recipe runs the same way.

The base is called with training=False, so its BatchNormalization layers use
their moving statistics in both phases and are never updated, as in Keras 3
(a frozen BatchNormalization layer always runs in inference mode).
"""
import time

import numpy as np

import pykern as keras
from pykern import applications, layers

TRAIN_IMAGES = 1000  # of the 1,437 training images: keeps the run short on two cores
SIZE = 32


def digits_as_rgb(x):
    """(n, 8, 8) values 0..16 -> (n, 32, 32, 3) values 0..255, ResNet-preprocessed."""
    x = np.repeat(np.repeat(x.astype("float32") * (255.0 / 16.0), SIZE // 8, axis=1),
                  SIZE // 8, axis=2)
    return applications.resnet50.preprocess_input(np.stack([x] * 3, axis=-1))


def pretrained_base():
    try:
        return applications.ResNet50(weights="imagenet", include_top=False,
                                     input_shape=(SIZE, SIZE, 3)), "ImageNet"
    except applications.WeightsUnavailableError as e:
        print(f"note: {e}\nnote: continuing with weights=None (random initialisation); "
              f"expect lower accuracies than with the ImageNet weights.\n")
        return applications.ResNet50(weights=None, include_top=False,
                                     input_shape=(SIZE, SIZE, 3)), "random"


(x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
x_train, y_train = digits_as_rgb(x_train[:TRAIN_IMAGES]), y_train[:TRAIN_IMAGES]
x_test = digits_as_rgb(x_test)
keras.utils.set_random_seed(0)

base, source = pretrained_base()
base.trainable = False
inputs = keras.Input((SIZE, SIZE, 3))
features = base(inputs, training=False)  # BatchNormalization stays in inference mode
x = layers.GlobalAveragePooling2D()(features)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
print(f"base: ResNet50 ({source} weights), {len(base.layers)} layers, "
      f"{model.count_params():,} parameters, "
      f"{sum(int(np.prod(w.shape)) for w in model.trainable_weights):,} trainable")

bn = base.get_layer("conv2_block1_1_bn")
moving_mean = bn.moving_mean.numpy().copy()

start = time.perf_counter()
model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=4, verbose=2)
_, frozen_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"frozen base, new head: test accuracy {frozen_accuracy:.4f}")

# fine-tune: unfreeze the top block (conv5) only; recompile so the change takes effect
base.trainable = True
for layer in base.layers:
    layer.trainable = layer.name.startswith("conv5_")
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=2)
_, tuned_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"top block fine-tuned: test accuracy {tuned_accuracy:.4f}")

unchanged = np.array_equal(bn.moving_mean.numpy(), moving_mean)
print(f"BatchNormalization moving statistics unchanged by training: {unchanged}")
print(f"trained in {time.perf_counter() - start:.1f} s")
