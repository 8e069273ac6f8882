"""The VGG network (Simonyan & Zisserman, ICLR 2015) with Keras' layer names:
five blocks of 3x3 'same' ReLU convolutions (`block{b}_conv{i}`), each closed by
a 2x2 max pooling (`block{b}_pool`); the classifier is Flatten, two 4096-unit
ReLU Dense layers (fc1, fc2) and `predictions`. VGG16 and VGG19 differ only in
the number of convolutions per block."""
from pykern import layers
from pykern.applications import _common

_WIDTHS = (64, 128, 256, 512, 512)


def vgg(convs_per_block, weight_files, include_top, weights, input_tensor, input_shape,
        pooling, classes, classifier_activation, name):
    """The VGG model with `convs_per_block[b]` convolutions in block b+1;
    weight_files {"top": WeightFile, "notop": WeightFile}."""
    _common.check_weights_argument(weights, include_top, classes)
    input_shape = _common.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                             require_flatten=include_top, weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = img_input
    for block, (convs, width) in enumerate(zip(convs_per_block, _WIDTHS), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(width, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        _common.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pooling_head(x, pooling)  # Keras leaves these two unnamed
    return _common.make_model(input_tensor, img_input, x, name, weights,
                              weight_files["top" if include_top else "notop"])
