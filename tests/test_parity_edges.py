"""Edge cases where pykern once differed from Keras 3 (found by an adversarial sweep).

Each test pins one behaviour: the Keras result (checked against TensorFlow-Keras
where a value is involved) or a ValueError that names the layer and the shapes
instead of a raw NumPy error from deep inside an op.
"""
import numpy as np
import pytest

import pykern
from pykern import activations, initializers, layers, ops
from parity import layer_parity, op_parity


@pytest.fixture(autouse=True)
def _fresh_names():
    """Automatic names start again in both libraries after each test, so tests
    that compare names elsewhere do not depend on these running first."""
    yield
    pykern.backend.clear_session()
    import sys
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- functional models -----------------------------------------------------------------------
def test_functional_model_rejects_two_layers_with_one_name(keras):
    for lib in (pykern, keras):
        x = lib.Input((3,))
        y = lib.layers.Dense(2, name="twin")(lib.layers.Dense(2, name="twin")(x))
        with pytest.raises(ValueError, match="twin.*2 times"):
            lib.Model(x, y)


def test_functional_model_rejects_input_named_like_a_layer():
    x = pykern.Input((3,), name="same")
    with pytest.raises(ValueError, match="'same'.*2 times"):
        pykern.Model(x, layers.Dense(2, name="same")(x))


def test_model_used_as_layer_checks_the_symbolic_input_shape():
    x = pykern.Input((3,))
    inner = pykern.Model(x, layers.Dense(2)(x), name="inner")
    with pytest.raises(ValueError, match="inner.*expected shape \\(None, 3\\), got \\(None, 4\\)"):
        inner(pykern.Input((4,)))
    # unknown dims in the new input are compatible, as in Keras
    out = inner(pykern.Input(batch_shape=(None, None)))
    assert out.shape == (None, 2)


# --- merge layers ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_merge_broadcasts_a_lower_rank_input_after_the_batch_axis(keras, name):
    # (B, F) + (B, T, F): Keras inserts the missing axis after the batch axis; NumPy's
    # leading-axis broadcast silently gave other numbers when T == B
    x = _rng(1).standard_normal((3, 3, 3)).astype(np.float32)
    y = _rng(2).standard_normal((3, 3)).astype(np.float32)
    layer_parity(getattr(layers, name)(), getattr(keras.layers, name)(), [x, y])


def test_subtract_broadcasts_a_lower_rank_input_after_the_batch_axis(keras):
    x = _rng(1).standard_normal((2, 4, 3)).astype(np.float32)
    y = _rng(2).standard_normal((2, 3)).astype(np.float32)
    layer_parity(layers.Subtract(), keras.layers.Subtract(), [y, x])


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum",
                                  "Concatenate"])
def test_merge_of_a_one_tensor_list_returns_that_tensor(name):
    x = _rng().standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(getattr(layers, name)()([x])), x, rtol=1e-6)
    assert getattr(layers, name)()([pykern.Input((3,))]).shape == (None, 3)


@pytest.mark.parametrize("cls", [layers.Subtract, lambda: layers.Dot(axes=1)])
def test_subtract_and_dot_still_need_two_inputs(cls):
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        cls()([np.ones((2, 3), np.float32)])


def test_merge_of_different_batch_sizes_names_the_layer_and_shapes():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match=r"'sum'.*different batch sizes.*\(2, 3\), \(3, 3\)"):
        layers.Add(name="sum")([a, b])


def test_dot_over_the_batch_axis_says_so():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(axes=0)([x, x])


def test_dot_of_rank_2_and_rank_3_inputs_matches_keras(keras):
    a = _rng(3).standard_normal((2, 4)).astype(np.float32)
    b = _rng(4).standard_normal((2, 3, 4)).astype(np.float32)
    layer_parity(layers.Dot(axes=(1, 2)), keras.layers.Dot(axes=(1, 2)), [a, b])


# --- Dropout ---------------------------------------------------------------------------------
def test_dropout_rate_may_be_a_numpy_float(keras):
    assert keras.layers.Dropout(np.float32(0.25)).rate == 0.25
    assert layers.Dropout(np.float32(0.25)).rate == 0.25
    assert layers.Dropout(np.float64(0.5)).rate == 0.5
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(True)


def test_dropout_noise_shape_that_does_not_broadcast_names_the_shapes():
    x = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match=r"'drop'.*noise_shape \(4, 3\).*\(4, 6\)"):
        layers.Dropout(0.5, noise_shape=(4, 3), name="drop")(x, training=True)
    out = layers.Dropout(0.5, noise_shape=(None, 1), seed=1)(x, training=True)
    assert all(len(set(row)) == 1 for row in np.asarray(out))  # one mask value per sample


# --- activation gradients at their kinks (TensorFlow's conventions) --------------------------
_KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0], np.float32)


def test_selu_gradient_at_zero_is_the_scale(tf):
    op_parity(activations.selu, tf.nn.selu, [_KINKS])


@pytest.mark.parametrize("kwargs", [
    dict(threshold=1.0, negative_slope=0.1),
    dict(max_value=3.0),
    dict(max_value=6.0, negative_slope=0.1),
    dict(max_value=3.0, negative_slope=0.1),
    dict(max_value=3.0, negative_slope=0.1, threshold=-1.0),
    dict(max_value=6.0, threshold=1.0),
    dict(threshold=-1.0),
])
def test_relu_general_form_matches_keras_at_threshold_and_cap(keras, kwargs):
    # x == threshold and x == max_value are in the inputs: the gradient there follows
    # Keras' composition (where/clip/relu6) under TensorFlow's rules
    op_parity(lambda x: activations.relu(x, **kwargs),
              lambda x: keras.activations.relu(x, **kwargs), [_KINKS])


def test_relu_layer_matches_keras_at_its_cap(keras):
    layer_parity(layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0),
                 keras.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=1.0),
                 _KINKS.reshape(2, 5), copy_weights=False)


# --- identifiers -----------------------------------------------------------------------------
def test_initializer_regularizer_and_constraint_classes_are_instantiated(keras):
    d = layers.Dense(2, kernel_initializer=initializers.Ones,
                     kernel_regularizer=pykern.regularizers.L2,
                     kernel_constraint=pykern.constraints.NonNeg)
    kd = keras.layers.Dense(2, kernel_initializer=keras.initializers.Ones,
                            kernel_regularizer=keras.regularizers.L2,
                            kernel_constraint=keras.constraints.NonNeg)
    config, kconfig = d.get_config(), kd.get_config()
    for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
        assert config[key]["class_name"] == kconfig[key]["class_name"]
    np.testing.assert_array_equal(np.asarray(d(np.ones((1, 3), np.float32))), [[3.0, 3.0]])


def test_sequential_add_of_a_non_layer_is_a_value_error(keras):
    for lib in (pykern, keras):
        with pytest.raises(ValueError):
            lib.Sequential().add("dense")


# --- bad input: ValueErrors that name the layer or op and the shapes -------------------------
@pytest.mark.parametrize("layer", [layers.Flatten(name="f0"), layers.Reshape((1,), name="r0")])
def test_shape_layers_on_a_scalar_name_the_layer(layer):
    with pytest.raises(ValueError, match=f"'{layer.name}'.*batch dimension.*\\(\\)"):
        layer(np.float32(3.0))


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
def test_binary_ops_on_incompatible_shapes_name_the_op_and_shapes(op):
    a, b = np.ones((2, 3), np.float32), np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4, 5\)"):
        getattr(ops, op)(pykern.Variable(a), b)


def test_transpose_and_concatenate_quote_an_out_of_range_axis():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"axes \(0, 2\) are out of range for shape \(2, 3\)"):
        ops.transpose(x, (0, 2))
    with pytest.raises(ValueError, match=r"axis 2 is out of range"):
        ops.concatenate([x, x], axis=2)


# --- Keras 3.15 configs load directly (not only through the saving module) -------------------
def test_dense_from_a_keras_config_with_lora_and_quantization_keys(keras):
    kd = keras.layers.Dense(3, activation="relu", kernel_initializer="he_normal")
    config = kd.get_config()
    assert "quantization_config" in config  # Keras 3.15 writes it, null
    d = layers.Dense.from_config(config)
    assert (d.units, d.get_config()["activation"]) == (3, "relu")
    assert type(d.kernel_initializer).__name__ == "HeNormal"
    with pytest.raises(ValueError, match="lora_rank is not supported"):
        layers.Dense(3, lora_rank=4)


@pytest.mark.parametrize("name", ["VarianceScaling", "GlorotUniform", "GlorotNormal",
                                  "HeUniform", "HeNormal", "LecunUniform", "LecunNormal"])
def test_variance_scaling_from_a_keras_config_with_axes_keys(keras, name):
    config = getattr(keras.initializers, name)(seed=3).get_config()
    assert config["input_axes"] is None  # Keras 3.15 writes it, null
    init = getattr(initializers, name).from_config(config)
    assert init.get_config()["seed"] == 3
    with pytest.raises(ValueError, match="input_axes"):
        getattr(initializers, name)(input_axes=[0])


# --- every activation name in keras.activations ----------------------------------------------
_ACT_POINTS = np.array([-4.0, -1.0, -0.7, -0.5, -0.2, 0.0, 0.3, 0.5, 1.0, 2.5], np.float32)


@pytest.mark.parametrize("name", ["celu", "hard_shrink", "hard_tanh", "log_sigmoid",
                                  "soft_shrink", "sparse_plus", "sparse_sigmoid", "squareplus",
                                  "tanh_shrink"])
def test_remaining_keras_activations_by_name_match_keras(keras, name):
    # the points include the kinks (0, +-0.5, +-1), where the gradients follow Keras'
    # composition under TensorFlow's rules
    op_parity(activations.get(name), keras.activations.get(name), [_ACT_POINTS])


def test_activations_with_arguments_match_keras(keras):
    x = _rng(5).standard_normal((3, 4)).astype(np.float32)
    op_parity(lambda t: activations.glu(t, axis=-1), lambda t: keras.activations.glu(t), [x])
    op_parity(lambda t: activations.celu(t, alpha=0.5),
              lambda t: keras.activations.celu(t, alpha=0.5), [_ACT_POINTS])
    op_parity(lambda t: activations.threshold(t, 0.3, -2.0),
              lambda t: keras.activations.threshold(t, 0.3, -2.0), [_ACT_POINTS])
    with pytest.raises(ValueError, match="even"):
        activations.glu(np.ones((2, 3), np.float32))


def test_every_keras_activation_name_resolves(keras):
    from keras.src.activations import ALL_OBJECTS_DICT
    # sparsemax (a sort-based projection) is the one Keras activation pykern lacks
    missing = sorted(set(ALL_OBJECTS_DICT) - {"sparsemax"} -
                     {n for n in ALL_OBJECTS_DICT if _resolves(n)})
    assert missing == []
    assert layers.Dense(2, activation="hard_tanh").get_config()["activation"] == "hard_tanh"


def _resolves(name):
    try:
        return callable(activations.get(name))
    except ValueError:
        return False


# --- weight names and paths ------------------------------------------------------------------
def _paths_of_models(lib):
    """Weight paths of a custom layer with sub-layers, a subclassed model and a
    Sequential built with build(), in one fresh session."""
    lib.backend.clear_session()
    L = lib.layers

    class Linear(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")
            self.b = self.add_weight(shape=(2,), initializer="zeros")

        def call(self, x):
            return lib.ops.matmul(x, self.w) + self.b

    class Block(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Linear()

        def call(self, x):
            return self.inner(x)

    class Sub(lib.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.d = L.Dense(2)
            self.seq = lib.Sequential([L.Dense(2)], name="seq")

        def call(self, x):
            return self.seq(self.d(x))

    block, sub = Block(), Sub()
    x = np.ones((1, 3), np.float32)
    block(x)
    sub(x)
    built = lib.Sequential([L.Dense(2)], name="built")
    built.build((None, 3))
    return [[(w.name, w.path) for w in m.weights] for m in (block, sub, built)]


def test_weight_names_and_paths_match_keras(keras):
    # unnamed add_weight variables take Keras' session-wide names (variable, variable_1,
    # ...); sub-layers built inside a call get paths under the caller's name; a
    # Sequential built with build() prefixes its own name
    assert _paths_of_models(pykern) == _paths_of_models(keras)


# --- GradientTape: which variables it watches ------------------------------------------------
def _tape_grads(lib_tape, make_var, mul, watch_accessed, watch):
    trainable, frozen = make_var(1.0, True), make_var(2.0, False)
    with lib_tape(watch_accessed_variables=watch_accessed) as tape:
        for v in watch:
            tape.watch((trainable, frozen)[v])
        y = mul(trainable, frozen)
    grads = tape.gradient(y, [trainable, frozen])
    return [None if g is None else float(np.asarray(g)) for g in grads]


@pytest.mark.parametrize("watch_accessed,watch", [(True, ()), (True, (1,)), (False, ()),
                                                  (False, (0,))])
def test_tape_leaves_unwatched_non_trainable_variables_without_gradient(tf, watch_accessed,
                                                                        watch):
    ours = _tape_grads(pykern.GradientTape,
                       lambda v, t: pykern.Variable(np.float32(v), trainable=t),
                       ops.multiply, watch_accessed, watch)
    theirs = _tape_grads(tf.GradientTape, lambda v, t: tf.Variable(v, trainable=t),
                         tf.multiply, watch_accessed, watch)
    assert ours == theirs


def test_op_on_incompatible_symbolic_tensors_quotes_their_shapes():
    a, b = pykern.Input((4,)), pykern.Input((3,))
    with pytest.raises(ValueError, match=r"symbolic inputs of shapes \[\(None, 4\), \(None, 3\)\]"):
        a + b


@pytest.mark.parametrize("make", [lambda: layers.Dropout(0.5),
                                  lambda: pykern.Sequential([layers.Input((4,)),
                                                             layers.Dropout(0.5)])])
def test_training_passed_positionally_is_a_clear_value_error(keras, make):
    x = np.ones((2, 4), np.float32)
    with pytest.raises(ValueError, match="keyword argument"):
        keras.layers.Dropout(0.5)(x, True)
    with pytest.raises(ValueError, match="positional.*training=True"):
        make()(x, True)


def test_model_with_a_one_element_output_list_returns_the_tensor(keras):
    x = np.ones((2, 3), np.float32)
    for lib in (pykern, keras):
        i = lib.Input((3,))
        model = lib.Model(i, [lib.layers.Dense(2)(i)])
        assert tuple(model(x).shape) == (2, 2)  # not a list of one
        assert isinstance(model.predict(x, verbose=0), np.ndarray)
        assert isinstance(model(lib.Input((3,))), list)  # symbolic calls keep the list
        assert isinstance(model.outputs, list)


# --- pykern.ops defaults are keras.ops' ------------------------------------------------------
def test_ops_defaults_match_keras_ops(keras):
    x = _rng(6).standard_normal((3, 4)).astype(np.float32) * 3
    np.testing.assert_allclose(np.asarray(ops.gelu(x)), np.asarray(keras.ops.gelu(x)),
                               rtol=1e-5, atol=1e-6)  # tanh approximation by default
    np.testing.assert_allclose(np.asarray(activations.gelu(x)),
                               np.asarray(keras.activations.gelu(x)), rtol=1e-5, atol=1e-6)
    for name in ("argmax", "argmin"):  # flattened index by default
        assert int(np.asarray(getattr(ops, name)(x))) == int(getattr(keras.ops, name)(x))
    np.testing.assert_array_equal(np.asarray(ops.round(x, 1)), np.asarray(keras.ops.round(x, 1)))


def test_add_weight_keeps_an_integer_dtype(keras):
    for lib in (pykern, keras):
        class Counter(lib.layers.Layer):
            def build(self, input_shape):
                self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                             trainable=False, name="count")

            def call(self, x):
                return x
        layer = Counter()
        layer(np.ones((1, 2), np.float32))
        assert str(layer.count.dtype) == "int32"
        assert layer.count_params() == 1
    with pytest.raises(ValueError, match="float32"):
        layers.Dense(2).add_weight(shape=(2,), dtype="float64")


def test_building_a_layer_twice_does_not_duplicate_its_weights(keras):
    for lib in (pykern, keras):
        dense = lib.layers.Dense(2)
        dense.build((None, 3))
        with pytest.raises(ValueError, match="already built"):
            dense.build((None, 4))
        assert [tuple(w.shape) for w in dense.weights] == [(3, 2), (2,)]


def test_a_build_may_call_super_build_before_adding_weights(keras):
    for lib in (pykern, keras):
        class Scaled(lib.layers.Dense):
            def build(self, input_shape):
                super().build(input_shape)
                self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

            def call(self, x):
                return super().call(x) * self.scale
        layer = Scaled(2)
        layer(np.ones((1, 3), np.float32))
        assert [w.name for w in layer.weights] == ["kernel", "bias", "scale"]


def _refined_shapes(lib):
    L = lib.layers
    i = lib.Input((None, 4))
    encoder = lib.Model(i, [L.Dense(2)(i), L.Dense(3)(i)])
    j = lib.Input((5, 4))
    a, b = encoder(j)
    out = L.Dense(1)(L.Flatten()(a))
    return [tuple(t.shape) for t in (a, b, out)]


def test_model_called_on_more_specific_inputs_refines_its_output_shapes(keras):
    # a model built for (None, None, 4) used on (None, 5, 4): the time axis is known
    # downstream, so Flatten -> Dense can be built (it could not with (None, None, 2))
    assert _refined_shapes(pykern) == _refined_shapes(keras) == [(None, 5, 2), (None, 5, 3),
                                                                 (None, 1)]


def test_model_with_dict_outputs_called_symbolically_gives_a_dict(keras):
    for lib in (pykern, keras):
        i = lib.Input((3,))
        inner = lib.Model(i, {"a": lib.layers.Dense(2)(i), "b": lib.layers.Dense(1)(i)})
        j = lib.Input((3,))
        y = inner(j)
        assert sorted(y) == ["a", "b"] and tuple(y["b"].shape) == (None, 1)
        outer = lib.Model(j, lib.layers.Add()([y["a"], y["a"]]))
        assert tuple(outer(np.ones((2, 3), np.float32)).shape) == (2, 2)


def test_sequential_inputs_and_outputs_as_keras(keras):
    for lib in (pykern, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
        assert [tuple(t.shape) for t in model.inputs] == [(None, 3)]
        assert [tuple(t.shape) for t in model.outputs] == [(None, 2)]
        unbuilt = lib.Sequential([lib.layers.Dense(2)])
        for attr in ("inputs", "outputs"):
            with pytest.raises(AttributeError):
                getattr(unbuilt, attr)


def test_dropout_noise_shape_shorter_than_the_input_broadcasts_as_keras(keras):
    x = np.ones((4, 6), np.float32)
    for lib in (pykern, keras):
        for seed in range(4):
            out = np.asarray(lib.layers.Dropout(0.5, noise_shape=(6,), seed=seed)(
                x, training=True))
            assert out.shape == (4, 6)
            assert all(len(set(col)) == 1 for col in out.T)  # one mask value per feature


def test_masking_on_a_scalar_names_the_layer():
    with pytest.raises(ValueError, match="'mask0'.*feature axis"):
        layers.Masking(name="mask0")(np.float32(1.0))
