"""What every architecture in pykern.applications shares: Keras' argument checks,
the image input, the pooling head, and finding and loading Keras' published
ImageNet weight files.

An architecture function reads, in order (the VGG16 module is the shortest
example):

    check_weights_argument(weights, include_top, classes)
    input_shape = obtain_input_shape(input_shape, default_size=224, min_size=32,
                                     require_flatten=include_top, weights=weights)
    img_input = image_input(input_tensor, input_shape)
    x = ... layers with Keras' names ...
    x = classifier_top(x, include_top, pooling, classes, classifier_activation, weights)
    return make_model(input_tensor, img_input, x, name, weights,
                      FILES["top" if include_top else "notop"])

(classifier_top is the common avg_pool + predictions ending; a family with another
classifier, such as VGG's, writes its own and calls validate_activation and
pooling_head itself.)

Weight files (`WeightFile(fname, origin, file_hash)`) are Keras' own: the same
file name, URL and hash as the installed Keras release uses. `weights="imagenet"`
looks for `fname` in $PYKERN_HOME/models (default ~/.pykern/models), then in
Keras' cache $KERAS_HOME/models (default ~/.keras/models, read only), and uses
the first copy whose hash matches; otherwise it downloads `origin` into pykern's
folder (to a temporary name, hash-checked, then renamed). Offline it raises
WeightsUnavailableError naming the file, the URL and the folder to put it in.

The published files are Keras 2 weight files in the legacy HDF5 layout (root
attribute `layer_names`, per-layer `weight_names`). model.load_weights reads them
as Keras does, by topology: the model's layers that have weights are paired in
order with the file's layers that list weights, and each layer's arrays in order
with shape checks. Layer names need not agree (the DenseNet files call the stem
'conv1/conv', Keras 3 'conv1_conv'), so an architecture must create its weighted
layers in Keras' `model.layers` order with Keras' weight order; the tests check
that against files tf_keras writes (tests/test_applications.py: add a model to
_MODULES and to the parametrize tables).
"""
import collections
import os
import warnings

from pykern import activations, layers
from pykern.backend import is_keras_tensor
from pykern.models.functional import Functional
from pykern.utils import file_utils

__all__ = ["WeightFile", "WeightsUnavailableError", "published_files",
           "check_weights_argument", "obtain_input_shape", "validate_activation",
           "image_input", "model_inputs", "batch_norm", "pooling_head", "classifier_top",
           "correct_pad", "make_model", "make_divisible", "published_rows",
           "weights_dirs", "imagenet_weights_path", "load_weights", "BN_AXIS"]

BN_AXIS = 3  # the channel axis of (N, H, W, C): pykern's applications are channels_last

WeightFile = collections.namedtuple("WeightFile", ["fname", "origin", "file_hash"])
WeightFile.__doc__ = """One published weight file: its name in the cache folders, the URL
Keras downloads it from, and its hash (32 hex digits: md5, 64: sha256)."""


def published_files(base_url, weights_name, hashes):
    """{"top": WeightFile, "notop": WeightFile} for Keras' usual naming,
    `<weights_name>_weights_tf_dim_ordering_tf_kernels[_notop].h5` under base_url;
    hashes = (with the classifier, without)."""
    files = {}
    for key, suffix, file_hash in (("top", "", hashes[0]), ("notop", "_notop", hashes[1])):
        fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        files[key] = WeightFile(fname, base_url + fname, file_hash)
    return files


class WeightsUnavailableError(file_utils.DownloadError):
    """The ImageNet weight file is in no cache folder and could not be downloaded."""


# ------------------------------------------------------------------ argument checks
def check_weights_argument(weights, include_top, classes):
    """Keras' two checks: `weights` is None, 'imagenet' or an existing file, and
    ImageNet weights with the classifier need classes == 1000."""
    if not (weights is None or weights == "imagenet" or (
            isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the path "
                         f"to the weights file to be loaded.  Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` "
                         f"should be 1000.  Received classes={classes}")


def obtain_input_shape(input_shape, default_size, min_size, require_flatten, weights=None):
    """The model's input shape (H, W, C), checked as Keras checks it.

    input_shape None gives (default_size, default_size, 3) when the classifier is
    included (`require_flatten`), else (None, None, 3). With ImageNet weights and
    the classifier, the shape must be exactly the default; with ImageNet weights it
    needs 3 channels; H and W (when known) must be at least `min_size`. Without
    ImageNet weights a channel count other than 1 or 3 only warns.
    """
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn(f"This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {input_shape[-1]} input channels.",
                          stacklevel=3)
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError(f"When setting `include_top=True` and loading `imagenet` "
                             f"weights, `input_shape` should be {default_shape}.  Received: "
                             f"input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received "
                             f"`input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(f"If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    return input_shape


def validate_activation(classifier_activation, weights):
    """With pretrained weights the classifier's activation must be None or 'softmax'."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in {activations.get("softmax"), activations.get(None)}:
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained weights, "
                         "with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


# ------------------------------------------------------------------ graph pieces
def image_input(input_tensor, input_shape):
    """The image tensor the network starts from: a new Input of `input_shape`, or
    `input_tensor` itself (it must be a KerasTensor, as in Keras 3)."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not is_keras_tensor(input_tensor):
        raise ValueError(f"Argument `input_tensor` must be a KerasTensor. Received invalid "
                         f"type: input_tensor={input_tensor} (of type {type(input_tensor)})")
    return input_tensor


def _source_inputs(tensor):
    """The Input tensors `tensor` is computed from, in first-reached order."""
    found, seen, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        layer, node_index, _ = t._keras_history
        node = layer._inbound_nodes[node_index]
        if node.is_input:
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            continue
        stack.extend(reversed(node.flat_inputs))
    return found


def model_inputs(input_tensor, img_input):
    """The model's inputs: `img_input`, or the Inputs that `input_tensor` was
    computed from (so layers before it, e.g. preprocessing, stay in the model)."""
    if input_tensor is None:
        return img_input
    return _source_inputs(input_tensor)


def batch_norm(name, epsilon=1.001e-5):
    """The channel BatchNormalization of ResNet and DenseNet (Keras' epsilon 1.001e-5)."""
    return layers.BatchNormalization(axis=BN_AXIS, epsilon=epsilon, name=name)


def pooling_head(x, pooling, names=(None, None)):
    """Without the classifier: pooling 'avg' or 'max' adds a global pooling layer
    (named names[0] / names[1]; None gives the automatic name); None keeps the 4-D
    feature map. Other values are ignored, as in Keras."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=names[0])(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=names[1])(x)
    return x


def classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                   top_pool="avg_pool", pool_names=("avg_pool", "max_pool")):
    """The usual end of a network: with the classifier, global average pooling
    `top_pool` and the Dense `predictions` (activation checked against the
    weights); without it, pooling_head with `pool_names`. (InceptionV3, Xception
    and MobileNetV2 leave some of these poolings to automatic names: None.)"""
    if not include_top:
        return pooling_head(x, pooling, names=pool_names)
    x = layers.GlobalAveragePooling2D(name=top_pool)(x)
    validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def make_model(input_tensor, img_input, outputs, name, weights, weight_file):
    """The Functional model from the image input (or the Inputs behind
    input_tensor) to `outputs`, with `weights` loaded (see load_weights)."""
    model = Functional(model_inputs(input_tensor, img_input), outputs, name=name)
    return load_weights(model, weights, weight_file)


def published_rows(rows, cols, sizes):
    """The side of the ImageNet file to load for an (rows, cols) input: `rows` when
    the input is square and one of the published `sizes`, else 224 with Keras'
    warning (MobileNet, MobileNetV2)."""
    if rows == cols and rows in sizes:
        return rows
    warnings.warn(f"`input_shape` is undefined or non-square, or `rows` is not in "
                  f"{list(sizes)}. Weights for input shape (224, 224) will be loaded as the "
                  f"default.", stacklevel=3)
    return 224


def correct_pad(inputs, kernel_size):
    """((top, bottom), (left, right)) zero padding before a stride-2 'valid' conv
    that reproduces TF 'same' padding on even sizes and centres odd ones, as Keras'
    imagenet_utils.correct_pad (MobileNetV2, EfficientNet)."""
    size = tuple(inputs.shape[1:3])
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def make_divisible(value, divisor=8, min_value=None):
    """`value` rounded to the nearest multiple of `divisor` (at least min_value,
    default divisor), rounded up instead where rounding down loses over 10%: Keras'
    width rule of MobileNetV2/V3 and EfficientNet."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# ------------------------------------------------------------------ weight files
_VERIFIED = {}  # (path, size, mtime) -> hash: a big file is hashed once per process


def _hash_matches(path, file_hash):
    if file_hash is None:  # published without a hash (MobileNet, MobileNetV2): any copy
        return True
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, file_hash)
    if key not in _VERIFIED:
        _VERIFIED[key] = file_utils.validate_file(path, file_hash)
    return _VERIFIED[key]


def weights_dirs():
    """[pykern's folder, Keras' folder] searched for weight files, in order."""
    return [os.path.join(file_utils.pykern_home(), "models"),
            os.path.join(file_utils.keras_home(), "models")]


def _algorithm(file_hash):
    return "sha256" if len(file_hash) == 64 else "md5"


def imagenet_weights_path(spec):
    """The path of a verified copy of `spec` (a WeightFile): a cached one, else a
    fresh download into $PYKERN_HOME/models. Copies whose hash differs are skipped
    (and named in the error if no good copy can be had)."""
    stale = []
    for folder in weights_dirs():
        path = os.path.join(folder, spec.fname)
        if os.path.isfile(path):
            if _hash_matches(path, spec.file_hash):
                return path
            stale.append(path)
    target_dir = weights_dirs()[0]
    found = "".join(f" {p} exists but its {_algorithm(spec.file_hash)} hash does not match "
                    f"{spec.file_hash} (an incomplete or different file)." for p in stale)
    try:
        return file_utils.get_file(spec.fname, spec.origin, file_hash=spec.file_hash,
                                   cache_subdir="models", cache_dir=file_utils.pykern_home(),
                                   force_download=True)
    except file_utils.DownloadError as e:
        raise WeightsUnavailableError(
            f"The ImageNet weights file {spec.fname!r} is not available:{found} It is in "
            f"neither {target_dir} nor {weights_dirs()[1]}, and downloading it from "
            f"{spec.origin} failed ({e}). Download that URL on a machine with network "
            f"access and put the file in {target_dir} (or {weights_dirs()[1]})"
            + ("." if spec.file_hash is None else
               f"; its {_algorithm(spec.file_hash)} hash must be {spec.file_hash}.")) from e
    except ValueError as e:  # the download arrived but its hash was wrong
        raise ValueError(f"{e}.{found} Put a good copy of {spec.origin} in {target_dir}.") \
            from e


def load_weights(model, weights, spec):
    """weights 'imagenet': load the published file `spec` (a WeightFile); a path:
    load that file (legacy .h5 as Keras publishes them, .weights.h5 or .keras);
    None: keep the random initialisation."""
    if weights == "imagenet":
        model.load_weights(imagenet_weights_path(spec))
    elif weights is not None:
        model.load_weights(os.fspath(weights))
    return model
