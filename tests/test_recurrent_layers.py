"""Recurrent layers against TensorFlow-Keras: outputs, states and the gradients of
inputs, initial states and weights for every option (activations, masks from
Masking and Embedding, go_backwards, return_state, initial_state, stateful runs,
dropout masks, stacked layers, Bidirectional, TimeDistributed, the generic RNN with
built-in, stacked and user-written cells); training histories; symbolic shapes;
configs; the errors bad input raises.

Tolerances: a recurrence feeds every step's rounding into the next one, and TF
sums its GEMMs in another order, so values agree to ~1e-6 relative and gradients
(sums over all steps of products of Jacobians) to ~1e-5; the parity cases use
rtol 2e-5 / atol 2e-6 unless stated.
"""
import numpy as np
import pytest

import pykern
from pykern import layers, ops
from pykern.backend import devices
from pykern.backend.random import SeedGenerator
from parity import layer_parity

RNG = np.random.default_rng(7)
pytestmark = pytest.mark.usefixtures("forget_automatic_names")
TOL = dict(rtol=2e-5, atol=2e-6)


def _x(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _masked_x():
    """(4, 6, 3) inputs whose zero steps Masking masks: a row masked at the end, one at
    the start and in the middle, one entirely masked, one unmasked."""
    x = _x(4, 6, 3)
    x[0, 4:] = 0.0
    x[1, :2] = 0.0
    x[1, 3] = 0.0
    x[2] = 0.0
    return x


# --- one layer, every option ------------------------------------------------------------------
CASES = [
    ("LSTM", dict()),
    ("LSTM", dict(return_sequences=True)),
    ("LSTM", dict(go_backwards=True, return_sequences=True)),
    ("LSTM", dict(return_state=True)),
    ("LSTM", dict(return_sequences=True, return_state=True, go_backwards=True)),
    ("LSTM", dict(activation="relu")),
    ("LSTM", dict(recurrent_activation="hard_sigmoid", activation="softsign")),
    ("LSTM", dict(use_bias=False, unit_forget_bias=False)),
    ("LSTM", dict(activation="softplus", recurrent_activation="tanh")),
    ("LSTM", dict(activation="gelu", return_sequences=True)),  # no kernel: the step loop
    ("LSTM", dict(recurrent_activation="relu6", return_state=True)),  # step loop
    ("GRU", dict()),
    ("GRU", dict(return_sequences=True, go_backwards=True)),
    ("GRU", dict(return_state=True)),
    ("GRU", dict(reset_after=False)),
    ("GRU", dict(reset_after=False, return_sequences=True, go_backwards=True)),
    ("GRU", dict(use_bias=False)),
    ("GRU", dict(use_bias=False, reset_after=False, activation="elu")),
    ("GRU", dict(activation="selu", recurrent_activation="hard_sigmoid")),
    ("GRU", dict(activation="mish", return_sequences=True)),  # step loop
    ("GRU", dict(reset_after=False, activation="leaky_relu", return_state=True)),  # step loop
    ("SimpleRNN", dict()),
    ("SimpleRNN", dict(activation="relu", return_sequences=True)),
    ("SimpleRNN", dict(go_backwards=True, return_state=True)),
    ("SimpleRNN", dict(use_bias=False, activation="linear")),
    ("SimpleRNN", dict(activation="silu", return_sequences=True)),
    ("GRU", dict(activation="exponential")),
    ("SimpleRNN", dict(activation="sigmoid", go_backwards=True)),
    ("SimpleRNN", dict(activation="hard_silu", return_sequences=True)),  # step loop
]


def _ids(cases):
    return [f"{n}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for n, kw in cases]


@pytest.mark.parametrize("name,kwargs", CASES, ids=_ids(CASES))
def test_layer_matches_keras(name, kwargs, keras):
    layer_parity(getattr(layers, name)(4, **kwargs), getattr(keras.layers, name)(4, **kwargs),
                 _x(3, 5, 6), **TOL)


CELLS = [
    lambda L: L.RNN(L.LSTMCell(4)),
    lambda L: L.RNN(L.LSTMCell(4, activation="relu"), return_sequences=True, go_backwards=True),
    lambda L: L.RNN(L.GRUCell(3, reset_after=False), return_state=True),
    lambda L: L.RNN(L.SimpleRNNCell(5), return_sequences=True),
    lambda L: L.RNN([L.LSTMCell(4), L.GRUCell(3), L.SimpleRNNCell(2)], return_sequences=True),
    lambda L: L.RNN(L.StackedRNNCells([L.GRUCell(3), L.LSTMCell(2)]), go_backwards=True),
]


@pytest.mark.parametrize("make", CELLS)
def test_rnn_of_cells_matches_keras(make, keras):
    layer_parity(make(layers), make(keras.layers), _x(3, 5, 4), **TOL)


def test_rnn_of_a_builtin_cell_runs_the_fused_op(monkeypatch):
    """RNN(LSTMCell) is Keras' LSTM: one native call forward, one backward."""
    calls = []
    k = devices.CPU.k
    real_f, real_b = k.rnn, k.rnn_backward
    monkeypatch.setattr(k, "rnn", lambda *a: calls.append("f") or real_f(*a))
    monkeypatch.setattr(k, "rnn_backward", lambda *a: calls.append("b") or real_b(*a))
    layer = layers.RNN(layers.LSTMCell(3), return_state=True)
    x = pykern.backend.Variable(_x(2, 7, 4))
    with pykern.GradientTape() as tape:
        out, h, c = layer(x)
        loss = ops.add(ops.sum(out), ops.sum(ops.multiply(c, 2.0)))
    tape.gradient(loss, [x] + layer.trainable_weights)
    assert calls == ["f", "b"]
    calls.clear()
    layers.RNN(layers.LSTMCell(3, activation="gelu"))(x)  # the kernel has no gelu
    assert calls == []


def test_only_the_final_states_can_carry_the_gradient(keras):
    """A loss on the returned states alone (not on the outputs) still flows back."""
    x = _x(2, 6, 3)
    ours, theirs = layers.LSTM(4, return_state=True), keras.layers.LSTM(4, return_state=True)
    ours(x), theirs(x)
    theirs.set_weights([w * 0.7 for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    import tensorflow as tf
    tx = tf.Variable(x)
    with tf.GradientTape() as tape:
        _, h, c = theirs(tx)
        tloss = tf.reduce_sum(h * 3.0) + tf.reduce_sum(c)
    want = tape.gradient(tloss, [tx] + theirs.trainable_weights)
    px = pykern.backend.Variable(x)
    with pykern.GradientTape() as tape:
        _, h, c = ours(px)
        ploss = ops.add(ops.sum(ops.multiply(h, 3.0)), ops.sum(c))
    got = tape.gradient(ploss, [px] + ours.trainable_weights)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), **TOL)


# --- user-written cells -----------------------------------------------------------------------
def _minimal_cell(L, ops_):
    class MinimalRNNCell(L.Layer):
        """Keras' documentation example, with a bias and tanh."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    name="recurrent_kernel")
            self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="ones")

        def call(self, inputs, states):
            h = ops_.tanh(ops_.matmul(inputs, self.kernel) + ops_.matmul(
                states[0], self.recurrent_kernel) + self.bias)
            return h, [h]
    return MinimalRNNCell


def _two_state_cell(L, ops_):
    class TwoStateCell(L.Layer):
        """Two states of different sizes; the output is not a state."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size = [3, 2]
            self.output_size = 4

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 3), name="w")
            self.v = self.add_weight(shape=(3, 2), name="v")
            self.o = self.add_weight(shape=(5, 4), name="o")

        def call(self, inputs, states, training=None):
            a = ops_.sigmoid(ops_.matmul(inputs, self.w) + states[0])
            b = ops_.tanh(ops_.matmul(a, self.v) * states[1] + 0.5)
            out = ops_.matmul(ops_.concatenate([a, b], axis=-1), self.o)
            return out, [a, b]
    return TwoStateCell


@pytest.mark.parametrize("kwargs", [dict(), dict(return_sequences=True, go_backwards=True),
                                    dict(return_state=True)])
def test_rnn_with_a_user_written_cell_matches_keras(kwargs, keras):
    ours = layers.RNN(_minimal_cell(layers, ops)(4), **kwargs)
    theirs = keras.layers.RNN(_minimal_cell(keras.layers, keras.ops)(4), **kwargs)
    layer_parity(ours, theirs, _x(3, 5, 2), **TOL)
    ours = layers.RNN(_two_state_cell(layers, ops)(), **kwargs)
    theirs = keras.layers.RNN(_two_state_cell(keras.layers, keras.ops)(), **kwargs)
    layer_parity(ours, theirs, _x(3, 5, 2), **TOL)


def test_user_written_cell_with_a_mask_matches_keras(keras):
    def build(L, M, o):
        return M.Sequential([M.Input((6, 3)), L.Masking(),
                             L.RNN(_minimal_cell(L, o)(4), return_sequences=True)])
    layer_parity(build(layers, pykern, ops), build(keras.layers, keras, keras.ops), _masked_x(),
                 **TOL)


# --- masks ------------------------------------------------------------------------------------
def _masked_stack(L, M, name, **kwargs):
    return M.Sequential([M.Input((6, 3)), L.Masking(),
                         getattr(L, name)(4, return_sequences=True, **kwargs),
                         getattr(L, name)(2, **kwargs)])


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("kwargs", [dict(), dict(go_backwards=True), dict(activation="gelu")])
def test_masking_layer_carries_states_through_stacked_layers_like_keras(name, kwargs, keras):
    layer_parity(_masked_stack(layers, pykern, name, **kwargs),
                 _masked_stack(keras.layers, keras, name, **kwargs), _masked_x(), **TOL)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_masks_through_bidirectional_match_keras(merge_mode, keras):
    def build(L, M):
        x = M.Input((6, 3))
        m = L.Masking()(x)
        seq = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode=merge_mode)(m)
        if merge_mode is None:
            seq = L.Concatenate()(seq)
        out = L.Bidirectional(L.LSTM(2), merge_mode=merge_mode)(seq)
        return M.Model(x, out)
    layer_parity(build(layers, pykern), build(keras.layers, keras), _masked_x(), **TOL)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_an_explicit_mask_argument_matches_keras(name, keras):
    x = _x(3, 5, 2)
    mask = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], bool)
    for kwargs in (dict(return_sequences=True), dict(return_state=True, go_backwards=True),
                   dict(return_sequences=True, zero_output_for_mask=True)):
        ours, theirs = getattr(layers, name)(3, **kwargs), getattr(keras.layers, name)(3, **kwargs)
        theirs(x), ours(x)
        ours.set_weights(theirs.get_weights())
        got = ours(x, mask=mask)
        want = theirs(x, mask=mask)
        for g, w in zip(got if isinstance(got, list) else [got],
                        want if isinstance(want, (list, tuple)) else [want]):
            np.testing.assert_allclose(g.numpy(), np.asarray(w), **TOL)


def test_return_sequences_passes_the_mask_on_and_the_last_output_drops_it():
    x = _masked_x()
    masked = layers.Masking()(x)
    seq = layers.LSTM(2, return_sequences=True)(masked)
    np.testing.assert_array_equal(seq._keras_mask.numpy(), np.any(x != 0, axis=-1))
    assert getattr(layers.LSTM(2)(masked), "_keras_mask", None) is None
    out, h = layers.GRU(2, return_sequences=True, return_state=True)(masked)
    assert out._keras_mask is not None and getattr(h, "_keras_mask", None) is None


def test_masked_initial_state_is_carried_and_the_last_output_of_an_empty_row_is_zero(keras):
    """An all-masked row keeps its initial state, while its last output is zero (backend.rnn)."""
    x = _masked_x()
    mask = np.any(x != 0, axis=-1)
    h0, c0 = _x(4, 3), _x(4, 3)
    for name in ("LSTM", "GRU"):
        ours, theirs = getattr(layers, name)(3, return_state=True), \
            getattr(keras.layers, name)(3, return_state=True)
        states = [h0, c0][:2 if name == "LSTM" else 1]
        theirs(x), ours(x)
        ours.set_weights(theirs.get_weights())
        got = ours(x, initial_state=states, mask=mask)
        want = theirs(x, initial_state=states, mask=mask)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), np.asarray(w), **TOL)
        np.testing.assert_array_equal(got[0].numpy()[2], 0.0)
        np.testing.assert_allclose(got[1].numpy()[2], h0[2])


def test_tensors_besides_the_inputs_turn_off_the_automatic_mask_as_in_keras(keras):
    """Keras 3 fills in `mask` only when the inputs are the call's one tensor argument: a
    recurrent layer given initial_state tensors ignores the mask Masking attached."""
    x = _masked_x()
    h0, c0 = _x(4, 3), _x(4, 3)

    def build(L, M):
        xi, hi, ci = M.Input((6, 3)), M.Input((3,)), M.Input((3,))
        out = L.LSTM(3, return_sequences=True)(L.Masking()(xi), initial_state=[hi, ci])
        return M.Model([xi, hi, ci], out)
    layer_parity(build(layers, pykern), build(keras.layers, keras), [x, h0, c0], **TOL)


# --- initial_state ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,n", [("LSTM", 2), ("GRU", 1), ("SimpleRNN", 1)])
def test_initial_state_and_its_gradient_match_keras(name, n, keras):
    def build(L, M):
        xi = M.Input((5, 4))
        states = [M.Input((3,)) for _ in range(n)]
        out = getattr(L, name)(3, return_sequences=True, return_state=True,
                               go_backwards=True)(xi, initial_state=states)
        return M.Model([xi] + states, out)
    layer_parity(build(layers, pykern), build(keras.layers, keras),
                 [_x(2, 5, 4)] + [_x(2, 3) for _ in range(n)], **TOL)


def test_bidirectional_initial_state_is_forward_then_backward(keras):
    def build(L, M):
        xi = M.Input((5, 4))
        states = [M.Input((3,)) for _ in range(4)]
        out = L.Bidirectional(L.LSTM(3, return_state=True))(xi, initial_state=states)
        return M.Model([xi] + states, out)
    layer_parity(build(layers, pykern), build(keras.layers, keras),
                 [_x(2, 5, 4)] + [_x(2, 3) for _ in range(4)], **TOL)


def test_functional_initial_state_round_trips_through_the_config(keras):
    xi, hi = layers.Input((5, 4)), layers.Input((3,))
    model = pykern.Model([xi, hi], layers.GRU(3)(xi, initial_state=[hi]))
    config = model.get_config()
    again = pykern.Model.from_config(config)
    assert again.get_config() == config
    theirs = keras.Model.from_config(config)
    theirs.set_weights(model.get_weights())
    x, h = _x(2, 5, 4), _x(2, 3)
    np.testing.assert_allclose(model([x, h]).numpy(), theirs([x, h]).numpy(), **TOL)


# --- stateful -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_stateful_runs_carry_states_across_batches_and_reset_like_keras(name, keras):
    def build(L, M):
        return M.Sequential([M.Input((4, 3), batch_size=2),
                             getattr(L, name)(3, stateful=True, return_sequences=True),
                             getattr(L, name)(2, stateful=True)])
    ours, theirs = build(layers, pykern), build(keras.layers, keras)
    ours.set_weights(theirs.get_weights())
    batches = [_x(2, 4, 3) for _ in range(3)]
    for x in batches:
        np.testing.assert_allclose(ours.predict_on_batch(x), theirs.predict_on_batch(x), **TOL)
    first = ours.predict_on_batch(batches[0])
    for layer in ours.layers:
        layer.reset_states()
    for layer in theirs.layers:
        layer.reset_states()
    again = ours.predict_on_batch(batches[0])
    np.testing.assert_allclose(again, theirs.predict_on_batch(batches[0]), **TOL)
    assert not np.allclose(first, again)
    assert len(ours.weights) == len(theirs.weights)  # the carried states are not weights


def test_stateful_batch_size_must_stay_fixed():
    layer = layers.GRU(2, stateful=True)
    layer(_x(3, 4, 2))
    with pytest.raises(ValueError, match=r"GRU 'gru.*' is stateful with batch size 3, got inputs "
                                         r"of shape \(2, 4, 2\)"):
        layer(_x(2, 4, 2))


# --- dropout --------------------------------------------------------------------------------------
def _fixed_masks(layer, keras_cell, count, in_shape, h_shape, rates):
    """The same fixed dropout masks in both frameworks' cells (their generators differ):
    `count` masks per kind (one per gate, as Keras' implementation 1), or one."""
    import tensorflow as tf

    def draw(shape, rate):
        if not rate:
            return None
        masks = [np.where(RNG.random(shape) < rate, 0.0, 1 / (1 - rate)).astype(np.float32)
                 for _ in range(count)]
        return masks[0] if count == 1 else masks

    def as_(wrap, masks):
        return masks if masks is None else (
            [wrap(m) for m in masks] if isinstance(masks, list) else wrap(masks))
    dp, rdp = draw(in_shape, rates[0]), draw(h_shape, rates[1])
    layer.cell.get_dropout_mask = lambda _: as_(ops.convert_to_tensor, dp)
    layer.cell.get_recurrent_dropout_mask = lambda _: as_(ops.convert_to_tensor, rdp)
    keras_cell.get_dropout_mask = lambda _: as_(tf.constant, dp)
    keras_cell.get_recurrent_dropout_mask = lambda _: as_(tf.constant, rdp)


@pytest.mark.parametrize("name,gates", [("LSTM", 4), ("GRU", 3), ("SimpleRNN", 1)])
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
def test_dropout_masks_apply_at_every_step_like_keras(name, gates, rates, keras):
    kwargs = dict(dropout=rates[0], recurrent_dropout=rates[1], return_sequences=True)
    ours, theirs = getattr(layers, name)(3, **kwargs), getattr(keras.layers, name)(3, **kwargs)
    x = _x(2, 5, 4)
    ours(x), theirs(x)
    count = gates if rates[1] and gates > 1 else 1  # Keras: per-gate masks with recurrent dropout
    _fixed_masks(ours, theirs.cell, count, (2, 4), (2, 3), rates)
    layer_parity(ours, theirs, x, training=True, **TOL)


def test_dropout_draws_one_seeded_mask_per_call_and_only_while_training():
    x = _x(3, 6, 4)
    layer = layers.LSTM(5, dropout=0.5, seed=3, return_sequences=True)
    plain = layers.LSTM(5, return_sequences=True)
    layer(x), plain(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(x).numpy(), plain(x).numpy())  # inference: no dropout
    keep = ops.dropout(np.ones((3, 4), np.float32), 0.5, seed=SeedGenerator(3)).numpy()
    np.testing.assert_allclose(layer(x, training=True).numpy(),
                               plain(x * keep[:, None, :]).numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(layer(x, training=True).numpy(), layer(x, training=True).numpy())


# --- wrappers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("kwargs", [dict(), dict(return_sequences=True),
                                    dict(return_state=True, return_sequences=True)])
def test_bidirectional_matches_keras(merge_mode, kwargs, keras):
    layer_parity(layers.Bidirectional(layers.LSTM(3, **kwargs), merge_mode=merge_mode),
                 keras.layers.Bidirectional(keras.layers.LSTM(3, **kwargs),
                                            merge_mode=merge_mode), _x(2, 5, 4), **TOL)


def test_bidirectional_with_a_backward_layer_matches_keras(keras):
    def make(L):
        return L.Bidirectional(L.GRU(3, return_sequences=True, name="g"), name="bi",
                               backward_layer=L.SimpleRNN(3, go_backwards=True, name="b",
                                                          return_sequences=True))
    layer_parity(make(layers), make(keras.layers), _x(2, 5, 4), **TOL)
    ours, theirs = make(layers), make(keras.layers)
    ours(_x(1, 5, 4)), theirs(_x(1, 5, 4))
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights] == [
        "bi/forward_g/gru_cell/kernel", "bi/forward_g/gru_cell/recurrent_kernel",
        "bi/forward_g/gru_cell/bias", "bi/b/simple_rnn_cell/kernel",
        "bi/b/simple_rnn_cell/recurrent_kernel", "bi/b/simple_rnn_cell/bias"]


@pytest.mark.parametrize("make", [lambda L: L.TimeDistributed(L.Dense(3, activation="tanh")),
                                  lambda L: L.TimeDistributed(L.Conv1D(2, 2)),
                                  lambda L: L.TimeDistributed(L.BatchNormalization())])
def test_time_distributed_matches_keras(make, keras):
    inner = make(layers).layer
    shape = (2, 4, 5, 3) if isinstance(inner, layers.Conv1D) else (3, 4, 5)
    for training in (False, True):
        # random weights would give BatchNormalization negative moving variances
        layer_parity(make(layers), make(keras.layers), _x(*shape), training=training,
                     randomize=not isinstance(inner, layers.BatchNormalization), **TOL)


def test_stacked_return_sequences_and_time_distributed_dense_match_keras(keras):
    def build(L, M):
        return M.Sequential([M.Input((6, 3)), L.GRU(5, return_sequences=True),
                             L.LSTM(4, return_sequences=True, go_backwards=True),
                             L.SimpleRNN(4, return_sequences=True),
                             L.TimeDistributed(L.Dense(2, activation="sigmoid"))])
    layer_parity(build(layers, pykern), build(keras.layers, keras), _x(3, 6, 3), **TOL)


# --- training -----------------------------------------------------------------------------------
def _series(n=64, steps=10):
    t = np.arange(n + steps + 1, dtype=np.float32)
    wave = np.sin(t * 0.3) + 0.1 * np.cos(t * 1.7)
    x = np.stack([wave[i:i + steps] for i in range(n)])[..., None]
    return x.astype(np.float32), wave[steps:steps + n, None].astype(np.float32)


def _fit_both(keras, build, x, y, loss, epochs=3, batch_size=16, lr=0.01):
    k_model, p_model = build(keras.layers, keras), build(layers, pykern)
    p_model.set_weights(k_model.get_weights())
    k_model.compile(keras.optimizers.Adam(lr), loss)
    p_model.compile(pykern.optimizers.Adam(lr), loss)
    kh = k_model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    ph = p_model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return ph.history["loss"], kh.history["loss"], p_model, k_model


def test_an_lstm_model_trains_like_keras(keras):
    x, y = _series()

    def build(L, M):
        return M.Sequential([M.Input((10, 1)), L.LSTM(8, return_sequences=True),
                             L.LSTM(6, activation="relu"), L.Dense(1)])
    ph, kh, p_model, k_model = _fit_both(keras, build, x, y, "mse")
    np.testing.assert_allclose(ph, kh, rtol=1e-4)
    np.testing.assert_allclose(p_model.predict(x, verbose=0), k_model.predict(x, verbose=0),
                               rtol=1e-3, atol=1e-4)


def test_a_gru_model_trains_like_keras(keras):
    x, y = _series()
    x[:8, :3] = 0.0  # masked steps

    def build(L, M):
        return M.Sequential([M.Input((10, 1)), L.Masking(),
                             L.Bidirectional(L.GRU(6, return_sequences=True)),
                             L.GRU(5, reset_after=False), L.Dense(1)])
    ph, kh, _, _ = _fit_both(keras, build, x, y, "mse")
    np.testing.assert_allclose(ph, kh, rtol=1e-4)


def test_a_masked_text_model_trains_like_keras(keras):
    """SGD: Keras' Adam on TF squares each occurrence's embedding gradient (the
    IndexedSlices entries) before summing ids repeated in a batch, where pykern's dense
    gradient sums them first, so Adam histories of a trainable Embedding drift apart by
    ~1e-4 relative in a few steps (optimizers without second moments agree)."""
    ids = RNG.integers(1, 30, (48, 12))
    for i, n in enumerate(RNG.integers(0, 10, 48)):
        ids[i, :n] = 0  # left padding, masked
    y = (ids.sum(1) % 2).astype(np.float32)[:, None]

    def build(L, M):
        return M.Sequential([M.Input((12,)), L.Embedding(30, 8, mask_zero=True),
                             L.Bidirectional(L.GRU(6, return_sequences=True)),
                             L.LSTM(5), L.Dense(1, activation="sigmoid")])
    k_model, p_model = build(keras.layers, keras), build(layers, pykern)
    p_model.set_weights(k_model.get_weights())
    k_model.compile(keras.optimizers.SGD(0.5, momentum=0.9), "binary_crossentropy")
    p_model.compile(pykern.optimizers.SGD(0.5, momentum=0.9), "binary_crossentropy")
    kh = k_model.fit(ids, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    ph = p_model.fit(ids, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(ph.history["loss"], kh.history["loss"], rtol=1e-4)


def test_the_seed_program_learns_a_series():
    """Input(10, 1) -> LSTM(50, relu) -> Dense(1), Adam, MSE: the loss falls."""
    pykern.utils.set_random_seed(0)
    x, y = _series(256)
    model = pykern.Sequential([layers.Input((10, 1)), layers.LSTM(50, activation="relu"),
                               layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0).history["loss"]
    assert history[-1] < 0.2 * history[0]
    assert model.evaluate(x, y, verbose=0) < 0.05


# --- symbolic shapes, meta, configs -----------------------------------------------------------
SHAPED = [
    (lambda L: L.LSTM(3), (5, 4)),
    (lambda L: L.LSTM(3, return_sequences=True, return_state=True), (5, 4)),
    (lambda L: L.GRU(3, return_state=True), (None, 4)),
    (lambda L: L.SimpleRNN(2, return_sequences=True), (7, 4)),
    (lambda L: L.RNN([L.LSTMCell(3), L.GRUCell(2)], return_state=True), (5, 4)),
    (lambda L: L.Bidirectional(L.LSTM(3, return_sequences=True)), (5, 4)),
    (lambda L: L.Bidirectional(L.GRU(3, return_state=True), merge_mode=None), (5, 4)),
    (lambda L: L.Bidirectional(L.SimpleRNN(3, return_state=True), merge_mode="sum"), (5, 4)),
    (lambda L: L.TimeDistributed(L.Dense(3)), (5, 4)),
    (lambda L: L.TimeDistributed(L.Conv1D(2, 3)), (4, 6, 2)),
]


def _shapes(out):
    return [tuple(t.shape) for t in out] if isinstance(out, (list, tuple)) else [tuple(out.shape)]


def _flat(x):
    return [v for item in x for v in _flat(item)] if isinstance(x, (list, tuple)) else [x]


@pytest.mark.parametrize("make,shape", SHAPED)
def test_symbolic_output_shapes_match_keras_and_the_real_ones(make, shape, keras):
    ours = _flat(make(layers)(layers.Input(shape)))
    theirs = _flat(make(keras.layers)(keras.Input(shape)))
    assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]
    real = _flat(make(layers)(_x(2, *(d or 6 for d in shape))))
    assert [t.shape[1:] for t in real] == [
        tuple(d or 6 for d in t.shape[1:]) for t in ours]
    with devices.trace():  # the meta device computes the same shapes, without values
        meta = _flat(make(layers)(pykern.ops.convert_to_tensor(np.zeros((2,) + tuple(
            d or 6 for d in shape), np.float32))))
    assert [t.shape for t in meta] == [t.shape for t in real]
    assert all(t.device is devices.META for t in meta)


CONFIGS = [
    lambda L: L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid",
                     kernel_regularizer="l2", recurrent_constraint="max_norm", dropout=0.1,
                     recurrent_dropout=0.2, seed=4, return_sequences=True, go_backwards=True,
                     unit_forget_bias=False, bias_initializer="ones"),
    lambda L: L.GRU(4, reset_after=False, return_state=True, stateful=False, unroll=True,
                    use_bias=False, activity_regularizer="l1"),
    lambda L: L.SimpleRNN(2, activation="elu", recurrent_initializer="glorot_normal"),
    lambda L: L.RNN(L.LSTMCell(3, dropout=0.2), return_sequences=True, zero_output_for_mask=True),
    lambda L: L.RNN([L.GRUCell(3), L.SimpleRNNCell(2)]),
    lambda L: L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="ave"),
    lambda L: L.Bidirectional(L.GRU(2), backward_layer=L.GRU(2, go_backwards=True,
                                                               name="back")),
    lambda L: L.TimeDistributed(L.Dense(4, activation="relu")),
]


def _same_config(mine, want, path="config"):
    if isinstance(want, dict) and want.get("module") in ("keras.initializers",
                                                          "keras.regularizers",
                                                          "keras.constraints"):
        assert mine["class_name"] == want["class_name"], path  # their configs: own tests
        return
    if isinstance(want, dict):
        assert isinstance(mine, dict), path
        # Dense's config lacks Keras 3.15's quantization_config (always null): core layers' own
        skip = {"name", "build_config", "quantization_config"}
        assert [k for k in mine if k not in skip] == [k for k in want if k not in skip], path
        for key in want:
            if key not in skip:
                _same_config(mine[key], want[key], f"{path}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(mine) == len(want), path
        for i, (a, b) in enumerate(zip(mine, want)):
            _same_config(a, b, f"{path}[{i}]")
    else:
        assert mine == want, path


@pytest.mark.parametrize("make", CONFIGS)
def test_configs_match_keras_and_round_trip(make, keras):
    from pykern.utils import deserialize_keras_object, serialize_keras_object
    ours, theirs = make(layers), make(keras.layers)
    ours(_x(2, 5, 3)), theirs(_x(2, 5, 3))
    _same_config(ours.get_config(), theirs.get_config())
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()
    assert deserialize_keras_object(serialize_keras_object(ours)).get_config() == \
        ours.get_config()
    from_keras = deserialize_keras_object(keras.saving.serialize_keras_object(theirs))
    _same_config(from_keras.get_config(), theirs.get_config())
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]


def test_weight_paths_shapes_and_initial_values_follow_keras():
    x = layers.Input((5, 4))
    lstm = layers.LSTM(3, name="enc")
    lstm(x)
    assert [w.path for w in lstm.weights] == ["enc/lstm_cell/kernel",
                                              "enc/lstm_cell/recurrent_kernel",
                                              "enc/lstm_cell/bias"]
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    r = lstm.cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)  # orthogonal rows
    limit = np.sqrt(6 / (4 + 12))
    assert np.abs(lstm.cell.kernel.numpy()).max() <= limit
    gru = layers.GRU(3)
    gru(x)
    assert [w.shape for w in gru.weights] == [(4, 9), (3, 9), (2, 9)]
    assert lstm.units == 3 and gru.reset_after and gru.recurrent_activation is \
        pykern.activations.sigmoid


def test_summary_equals_keras(keras):
    from test_models import _capture_summary

    # mask_zero=False: Keras 3 adds the mask's NotEqual operation to a functional graph,
    # and its summary lists it as a row (pykern propagates masks at run time only)
    def build(L, M):
        ids = M.Input((12,), name="ids")
        e = L.Embedding(100, 8, name="emb")(ids)
        seq = L.Bidirectional(L.LSTM(6, return_sequences=True), name="bi")(e)
        g = L.GRU(5, name="gru")(seq)
        s = L.SimpleRNN(4, name="srnn")(L.TimeDistributed(L.Dense(3), name="td")(seq))
        return M.Model(ids, L.Dense(1, name="out")(L.Concatenate(name="cat")([g, s])),
                       name="text")
    assert _capture_summary(build(layers, pykern)) == _capture_summary(build(keras.layers,
                                                                             keras))


def test_regularizer_penalties_match_keras(keras):
    def make(L):
        return L.Bidirectional(L.LSTM(3, kernel_regularizer={"class_name": "L2",
                                                             "config": {"l2": 0.05}},
                                      recurrent_regularizer="l1", bias_regularizer="l2",
                                      activity_regularizer="l2"))
    x = _x(2, 5, 4)
    ours, theirs = make(layers), make(keras.layers)
    theirs(x), ours(x)
    ours.set_weights(theirs.get_weights())
    ours(x), theirs(x)
    got = sum(float(ops.convert_to_numpy(v)) for v in ours.losses)
    want = sum(float(v) for v in theirs.losses)
    assert len(ours.losses) == len(theirs.losses)
    np.testing.assert_allclose(got, want, rtol=1e-5)


# --- bad input ----------------------------------------------------------------------------------
def test_recurrent_layers_need_3d_inputs():
    with pytest.raises(ValueError, match=r"LSTM 'enc' expects 3-D inputs \(batch, timesteps, "
                                         r"features\), got shape \(4, 5\)"):
        layers.LSTM(3, name="enc")(_x(4, 5))
    with pytest.raises(ValueError, match=r"GRU 'g' expects 3-D inputs .* got shape "
                                         r"\(None, 5\)"):
        layers.GRU(3, name="g")(layers.Input((5,)))


def test_feature_size_must_match_the_built_kernel():
    layer = layers.SimpleRNN(3, name="s")
    layer(_x(2, 4, 5))
    with pytest.raises(ValueError, match=r"SimpleRNN 's': kernel must have shape .*\(6, 3\).* "
                                         r"got \(5, 3\)"):
        layer(_x(2, 4, 6))


def test_initial_state_of_the_wrong_count_or_shape():
    x = _x(2, 4, 3)
    with pytest.raises(ValueError, match=r"LSTM 'l': initial_state must be 2 tensor\(s\) of "
                                         r"shape\(s\) \[\(2, 5\), \(2, 5\)\] .* got 1"):
        layers.LSTM(5, name="l")(x, initial_state=[_x(2, 5)])
    with pytest.raises(ValueError, match=r"GRU 'g': initial_state .* got 1 of shape\(s\) "
                                         r"\[\(2, 4\)\]"):
        layers.GRU(5, name="g")(x, initial_state=[_x(2, 4)])
    with pytest.raises(ValueError, match=r"SimpleRNN 's': initial_state .* \[\(3, 5\)\]"):
        layers.SimpleRNN(5, name="s")(x, initial_state=_x(3, 5))


def test_stateful_needs_a_fixed_batch_size():
    with pytest.raises(ValueError, match=r"LSTM 'st': stateful=True needs a fixed batch size .* "
                                         r"\(None, 5, 2\)"):
        pykern.Sequential([layers.Input((5, 2)), layers.LSTM(3, stateful=True, name="st")])


def test_a_mask_that_does_not_fit():
    with pytest.raises(ValueError, match=r"GRU 'g': the mask must have shape \(batch, timesteps\) "
                                         r"= \(2, 4\) .* got \(2, 5\)"):
        layers.GRU(3, name="g")(_x(2, 4, 3), mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"TimeDistributed 'td': the mask of shape \(3, 4\) does "
                                         r"not fit inputs of shape \(2, 4, 3\)"):
        layers.TimeDistributed(layers.Dense(2), name="td")(_x(2, 4, 3),
                                                           mask=np.ones((3, 4), bool))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="units must be a positive integer, got 0"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="different go_backwards"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match="use_cudnn must be"):
        layers.GRU(2, use_cudnn="yes")
    with pytest.raises(ValueError, match=r"TimeDistributed 't' needs inputs of rank >= 3"):
        layers.TimeDistributed(layers.Dense(2), name="t")(_x(2, 3))


# --- files ----------------------------------------------------------------------------------------
def _text_model(L, M):
    ids = M.Input((9,), name="ids")
    e = L.Embedding(40, 6, mask_zero=True, name="emb")(ids)
    seq = L.Bidirectional(L.LSTM(4, return_sequences=True), name="bi")(e)
    g = L.GRU(3, name="gru")(seq)
    s = L.SimpleRNN(2, go_backwards=True, name="srnn")(
        L.TimeDistributed(L.Dense(3), name="td")(seq))
    r = L.RNN(L.GRUCell(2, reset_after=False), name="rnn")(seq)
    st = L.RNN([L.LSTMCell(2), L.SimpleRNNCell(2)], name="stacked")(seq)
    return M.Model(ids, L.Dense(1, name="out")(L.Concatenate(name="cat")([g, s, r, st])),
                   name="text")


def _text_sequential(L, M):
    return M.Sequential([M.Input((9,)), L.Embedding(40, 6, mask_zero=True),
                         L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="sum"),
                         L.LSTM(3), L.Dense(2)], name="seq_text")


def _ids(n=5):
    ids = RNG.integers(1, 40, (n, 9))
    ids[0, :4] = 0
    ids[1:2, 6:] = 0
    return ids


def _randomized(model):
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.4
                       for w in model.get_weights()])
    return model


@pytest.mark.parametrize("build", [_text_model, _text_sequential])
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_recurrent_models_saved_by_keras_load_in_pykern(build, ext, keras, tmp_path):
    theirs = _randomized(build(keras.layers, keras))
    theirs.save(tmp_path / f"k.{ext}")
    ours = pykern.models.load_model(tmp_path / f"k.{ext}")
    ids = _ids()
    np.testing.assert_allclose(ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0),
                               **TOL)


@pytest.mark.parametrize("build", [_text_model, _text_sequential])
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_recurrent_models_saved_by_pykern_load_in_keras(build, ext, keras, tmp_path):
    ours = _randomized(build(layers, pykern))
    ours.save(tmp_path / f"p.{ext}")
    theirs = keras.models.load_model(tmp_path / f"p.{ext}")
    ids = _ids()
    np.testing.assert_allclose(theirs.predict(ids, verbose=0), ours.predict(ids, verbose=0),
                               **TOL)


@pytest.mark.parametrize("build", [_text_model, _text_sequential])
def test_recurrent_weights_files_go_both_ways_in_keras_layout(build, keras, tmp_path):
    from interop import h5_layout as _h5_layout
    ours, theirs = _randomized(build(layers, pykern)), build(keras.layers, keras)
    ours.save_weights(tmp_path / "p.weights.h5")
    theirs.load_weights(tmp_path / "p.weights.h5")
    ids = _ids()
    np.testing.assert_allclose(theirs.predict(ids, verbose=0), ours.predict(ids, verbose=0),
                               **TOL)
    _randomized(theirs).save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0),
                               **TOL)
    assert _h5_layout(tmp_path / "p.weights.h5") == _h5_layout(tmp_path / "k.weights.h5")


def test_keras2_recurrent_model_written_by_tf_keras_loads_in_pykern(tf, tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    K = tf_keras
    model = K.Sequential([K.layers.Embedding(40, 6, mask_zero=True, input_length=9),
                          K.layers.Bidirectional(K.layers.LSTM(4, return_sequences=True)),
                          K.layers.GRU(3, return_sequences=True),
                          K.layers.TimeDistributed(K.layers.Dense(2)),
                          K.layers.SimpleRNN(2)])
    model.build((None, 9))
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.4
                       for w in model.get_weights()])
    model.save(tmp_path / "k2.h5")
    ours = pykern.models.load_model(tmp_path / "k2.h5", compile=False)
    ids = _ids()
    np.testing.assert_allclose(ours.predict(ids, verbose=0), model.predict(ids, verbose=0),
                               **TOL)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in model.weights]


# --- ONNX -----------------------------------------------------------------------------------------
def _onnx_matches_predict(model, path, feeds):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model.export(path, format="onnx")
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in feeds:
        got = session.run(None, {session.get_inputs()[0].name: x})
        want = model.predict_on_batch(x)
        want = want if isinstance(want, list) else [want]
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


ONNX_LAYERS = [
    lambda L: L.LSTM(4),
    lambda L: L.LSTM(4, return_sequences=True, go_backwards=True),
    lambda L: L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid", use_bias=False,
                     return_sequences=True),
    lambda L: L.GRU(4, return_sequences=True),
    lambda L: L.GRU(4, reset_after=False, go_backwards=True),
    lambda L: L.GRU(3, activation="elu", recurrent_activation="softsign", use_bias=False),
    lambda L: L.SimpleRNN(4, return_sequences=True),
    lambda L: L.SimpleRNN(4, activation="linear", go_backwards=True, return_sequences=True),
    lambda L: L.RNN(L.LSTMCell(3, activation="softplus")),
    lambda L: L.Bidirectional(L.LSTM(3, return_sequences=True)),
    lambda L: L.Bidirectional(L.GRU(3), merge_mode="ave"),
]


@pytest.mark.parametrize("make", ONNX_LAYERS)
def test_recurrent_layers_export_to_onnx(make, tmp_path):
    model = _randomized(pykern.Sequential([layers.Input((None, 5)), make(layers),
                                           layers.Dense(2)]))
    _onnx_matches_predict(model, tmp_path / "m.onnx", [_x(1, 7, 5), _x(3, 4, 5)])


def test_a_text_model_exports_to_onnx(tmp_path):
    ids = layers.Input((9,))
    e = layers.Embedding(40, 6)(ids)
    seq = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="sum")(e)
    out, h, c = layers.LSTM(3, return_state=True)(layers.TimeDistributed(layers.Dense(5))(seq))
    model = _randomized(pykern.Model(ids, [out, layers.Dense(1)(h), c]))
    _onnx_matches_predict(model, tmp_path / "t.onnx",
                          [_ids(4).astype(np.float32), _ids(1).astype(np.float32)])


@pytest.mark.parametrize("make,what", [
    (lambda L: L.GRU(3, stateful=True), "stateful"),
    (lambda L: L.RNN([L.LSTMCell(2), L.GRUCell(2)]), "StackedRNNCells"),
])
def test_recurrent_layers_onnx_cannot_describe_are_refused(make, what, tmp_path):
    pytest.importorskip("onnx")
    model = pykern.Sequential([layers.Input((4, 5), batch_size=2), make(layers)])
    with pytest.raises(NotImplementedError, match=what):
        model.export(tmp_path / "m.onnx", format="onnx")
