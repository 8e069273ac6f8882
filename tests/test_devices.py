"""The device seam: tensors that know their device, ops through one kernel table,
shape inference on `meta`, per-thread recording, Philox dropout masks."""
import threading

import numpy as np
import pytest

import pykern
from pykern import layers, ops
from pykern.backend import devices
from pykern.backend.devices.cpu import CpuKernels
from pykern.backend.devices.meta import MetaArray


@pytest.fixture
def other_device():
    """A second real device for mixing and moving tests: the CPU kernels under
    another name (storage stays NumPy, so values can be checked)."""
    d = devices.Device("other", None, CpuKernels())
    devices._devices["other"] = d
    yield d
    del devices._devices["other"]


def meta(shape, dtype="float32"):
    return pykern.Tensor._wrap(MetaArray(shape, dtype), devices.META)


# --- tensors and devices ---------------------------------------------------------------------
def test_new_tensors_go_to_the_current_device(other_device):
    assert ops.convert_to_tensor([1.0, 2.0]).device is devices.CPU
    with pykern.device("other"):
        t = ops.convert_to_tensor([1.0, 2.0])
        v = pykern.Variable(np.zeros(3))
        assert pykern.config.get_device() == "other"
    assert t.device is other_device and v.device is other_device
    assert ops.add(t, 1.0).device is other_device  # a scalar joins its tensor's device


def test_unknown_and_unavailable_devices_are_value_errors():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pykern.device("tpu")
    if not pykern.config.cuda_available():
        with pytest.raises(ValueError, match="'cuda:1' is not available"):
            pykern.device("cuda:1")
    with pytest.raises(TypeError, match="device name"):
        pykern.device(3)


def test_an_op_on_two_devices_names_both(other_device):
    a = ops.convert_to_tensor(np.ones(3))
    with pykern.device("other"):
        b = ops.convert_to_tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"add: operands are on different devices \(cpu and "
                                         r"other\)"):
        ops.add(a, b)
    with pytest.raises(ValueError, match="different devices"):
        ops.matmul(a, b)


def test_moving_is_explicit_and_keeps_values(other_device):
    a = ops.convert_to_tensor(np.arange(6.0).reshape(2, 3))
    with pykern.device("other"):
        b = ops.convert_to_tensor(a)
    assert b.device is other_device and a.device is devices.CPU
    np.testing.assert_array_equal(ops.convert_to_numpy(b), np.arange(6.0).reshape(2, 3))


def test_a_model_built_on_a_device_trains_there(other_device):
    x = np.random.default_rng(0).random((16, 4), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    with pykern.device("other"):
        model = pykern.Sequential([layers.Input((4,)), layers.Dense(3, activation="relu"),
                                   layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    assert {w.device.name for w in model.weights} == {"other"}
    assert {v.device.name for v in model.optimizer.variables[2:]} == {"other"}
    assert model.predict(x, verbose=0).shape == (16, 1)


def test_meta_values_cannot_be_read():
    t = meta((2, 3))
    assert t.shape == (2, 3) and t.device is devices.META
    with pytest.raises(TypeError, match="no values"):
        t.numpy()
    with pytest.raises(TypeError, match="no values"):
        np.asarray(t)


def test_a_meta_operand_makes_the_result_meta():
    cpu = ops.convert_to_tensor(np.ones((4, 3)))
    out = ops.matmul(meta((None, 4)), cpu)
    assert out.device is devices.META and out.shape == (None, 3)


# --- every public op infers the CPU's shape and dtype on meta --------------------------------
_R = np.random.default_rng(1)
_X = _R.random((2, 3, 4), dtype=np.float32) + 0.5
_M = _R.random((4, 5), dtype=np.float32)
_B = _X > 1.0

OPS = [
    ("add", (_X, _X[0])), ("subtract", (_X, 1.0)), ("multiply", (_X, _X)),
    ("divide", (_X, _X)), ("power", (_X, _X)), ("maximum", (_X, _X)), ("minimum", (_X, 0.7)),
    ("negative", (_X,)), ("square", (_X,)), ("sqrt", (_X,)), ("exp", (_X,)), ("expm1", (_X,)),
    ("log", (_X,)), ("log1p", (_X,)), ("abs", (_X,)), ("sign", (_X,)), ("floor", (_X,)),
    ("round", (_X,)), ("reciprocal", (_X,)), ("clip", (_X, 0.6, 0.9)), ("where", (_B, _X, 0.0)),
    ("equal", (_X, _X)), ("not_equal", (_X, 1.0)), ("greater", (_X, 1.0)),
    ("greater_equal", (_X, 1.0)), ("less", (_X, 1.0)), ("less_equal", (_X, 1.0)),
    ("logical_and", (_B, _B)), ("logical_or", (_B, _B)), ("logical_not", (_B,)),
    ("matmul", (_X, _M)), ("dense", (_X, _M)), ("relu", (_X,)), ("relu6", (_X,)),
    ("leaky_relu", (_X,)), ("elu", (_X,)), ("selu", (_X,)), ("gelu", (_X,)), ("sigmoid", (_X,)),
    ("hard_sigmoid", (_X,)), ("tanh", (_X,)), ("softmax", (_X,)), ("log_softmax", (_X,)),
    ("softplus", (_X,)), ("softsign", (_X,)), ("silu", (_X,)), ("hard_silu", (_X,)),
    ("exponential", (_X,)), ("linear", (_X,)), ("sum", (_X, 1)), ("mean", (_X, (0, 2))),
    ("max", (_X, -1)), ("min", (_X,)), ("prod", (_X, 0)), ("var", (_X, 1)), ("std", (_X,)),
    ("argmax", (_X, 1)), ("argmin", (_X,)), ("any", (_B, 0)), ("all", (_B,)),
    ("reshape", (_X, (6, -1))), ("transpose", (_X, (2, 0, 1))), ("concatenate", ([_X, _X], 1)),
    ("stack", ([_X, _X], 2)), ("expand_dims", (_X, 1)), ("squeeze", (_X[:, :1],)),
    ("broadcast_to", (_X[0], (5, 3, 4))), ("repeat", (_X, 2, 1)), ("tile", (_X, (2, 1, 1))),
    ("slice", (_X, (0, 1, 1), (2, 2, 3))), ("getitem", (_X, (slice(None), 1))),
    ("flatten", (_X,)), ("cast", (_X, "int32")), ("stop_gradient", (_X,)),
    ("ones_like", (_X,)), ("zeros_like", (_X,)), ("dropout", (_X, 0.5)),
]


def _as_meta(a):
    if isinstance(a, np.ndarray):
        return meta(a.shape, a.dtype)
    if isinstance(a, list):
        return [_as_meta(v) for v in a]
    return a


@pytest.mark.parametrize("name,args", OPS, ids=[o[0] for o in OPS])
def test_every_op_infers_shape_and_dtype_on_meta(name, args):
    fn = getattr(ops, name)
    real = fn(*args)
    shaped = fn(*[_as_meta(a) for a in args])
    assert shaped.device is devices.META
    assert tuple(shaped.shape) == tuple(real.shape)
    assert shaped.dtype == real.dtype


def test_unknown_dims_flow_through_meta():
    x = meta((None, 3, 4))
    assert ops.reshape(x, (-1, 12)).shape == (None, 12)
    assert ops.add(x, meta((1, 4))).shape == (None, 3, 4)
    assert ops.concatenate([x, x], axis=0).shape == (None, 3, 4)
    assert ops.sum(x, axis=0).shape == (3, 4)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        ops.add(x, meta((5,)))


# --- model building runs on meta and computes nothing ----------------------------------------
_COMPUTE = [n for n in dir(CpuKernels) if not n.startswith("_") and n not in
            ("name", "device", "from_host", "to_host", "full", "assign", "random_uniform",
             "random_normal")]


@pytest.fixture
def cpu_calls(monkeypatch):
    """Counts the CPU table's compute kernels (transfers and fills excluded)."""
    calls = []
    k = devices.CPU.k
    for n in _COMPUTE:
        fn = getattr(k, n)

        def counted(*a, _fn=fn, _n=n, **kw):
            calls.append(_n)
            return _fn(*a, **kw)
        monkeypatch.setattr(k, n, counted)
    return calls


def test_building_models_runs_no_kernel(cpu_calls):
    inp = layers.Input((8, 6))
    h = layers.Dense(16, activation="relu")(inp)
    h = layers.Dropout(0.5)(h)
    h = ops.multiply(layers.Flatten()(h), 2.0)
    out = layers.Dense(3, activation="softmax")(layers.Reshape((4, 32))(h)[:, 0])
    model = pykern.Model(inp, out)
    seq = pykern.Sequential([layers.Dense(4, activation="tanh"), layers.Dense(2)])
    seq.build((None, 5))

    class Sub(pykern.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(3)

        def call(self, x):
            return ops.relu(self.d(x)) + 1.0
    sub = Sub()
    sub.build((None, 7))
    assert cpu_calls == []
    assert model.output_shape == (None, 3) and seq.count_params() == 34
    assert sub.count_params() == 24


def test_a_layer_without_compute_output_shape_infers_it_on_meta():
    class Twice(layers.Layer):
        def call(self, x):
            return ops.concatenate([x, x], axis=1)
    out = Twice()(layers.Input((None, 3)))
    assert out.shape == (None, None, 3)


# --- per-thread state -------------------------------------------------------------------------
def test_no_grad_in_one_thread_does_not_stop_another_threads_tape():
    inside, release = threading.Event(), threading.Event()

    def idle_without_grad():
        with pykern.no_grad():
            inside.set()
            release.wait(10)
    t = threading.Thread(target=idle_without_grad)
    t.start()
    inside.wait(10)
    try:
        x = pykern.Variable(np.array([1.0, 2.0, 3.0]))
        with pykern.GradientTape() as tape:
            y = ops.sum(ops.square(x))
        g = tape.gradient(y, x)
    finally:
        release.set()
        t.join()
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0, 6.0])


def test_the_graph_survives_a_cast():
    x = pykern.Variable(np.array([1.0, -2.0]))
    with pykern.GradientTape() as tape:
        y = ops.sum(ops.multiply(ops.cast(x, "float64"), 3.0))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [3.0, 3.0])


# --- random numbers -----------------------------------------------------------------------------
def test_dropout_mask_is_the_same_at_one_and_two_threads():
    x = np.ones((64, 33), np.float32)
    before = pykern.config.num_threads()
    out = []
    try:
        for n in (1, 2):
            pykern.config.set_num_threads(n)
            out.append(ops.dropout(x, 0.3, seed=1234).numpy())
    finally:
        pykern.config.set_num_threads(before)
    np.testing.assert_array_equal(out[0], out[1])
    kept = (out[0] != 0).mean()
    assert 0.6 < kept < 0.8


def test_dropout_draws_the_philox_stream():
    from pykern import _cpu
    gen = pykern.backend.random.SeedGenerator(99)
    first = ops.dropout(np.ones((5, 4), np.float32), 0.5, seed=gen).numpy()
    second = ops.dropout(np.ones((5, 4), np.float32), 0.5, seed=gen).numpy()
    np.testing.assert_array_equal(first.ravel(), _cpu.dropout_mask(20, 0.5, 99, 0))
    np.testing.assert_array_equal(second.ravel(), _cpu.dropout_mask(20, 0.5, 99, 5))


def test_same_global_seed_same_weights_and_masks():
    def run():
        pykern.utils.set_random_seed(7) if hasattr(pykern.utils, "set_random_seed") else \
            pykern.backend.set_random_seed(7)
        layer = layers.Dense(5)
        layer.build((None, 3))
        drop = layers.Dropout(0.5)
        return layer.kernel.numpy(), drop(np.ones((4, 5), np.float32), training=True).numpy()
    a, b = run(), run()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# --- the trainer ----------------------------------------------------------------------------------
def test_a_sigmoid_output_trains_on_its_logits_without_touching_the_layer():
    from pykern import losses
    z = ops.convert_to_tensor(np.array([[40.0], [-40.0]], np.float32))
    p = ops.sigmoid(z)
    assert p._keras_logits is z
    loss = losses.binary_crossentropy(np.array([[0.0], [1.0]]), p)
    np.testing.assert_allclose(loss.numpy(), [40.0, 40.0], rtol=1e-6)  # not clipped at 15.9


def test_subclassed_sequential_keeps_sequential_behaviour():
    class MySequential(pykern.Sequential):
        pass
    model = MySequential([layers.Input((3,)), layers.Dense(2)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="expects inputs of shape"):
        model.fit(np.zeros((4, 5)), np.zeros((4, 2)), verbose=0)
    assert model.fit([[1.0, 2.0, 3.0]], [[0.0, 1.0]], verbose=0).history["loss"]


def test_steps_per_execution_runs_batch_callbacks_once_per_execution():
    seen = []

    class Record(pykern.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
    model = pykern.Sequential([layers.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=3)
    model.fit(np.zeros((20, 2)), np.zeros((20, 1)), batch_size=2, callbacks=[Record()],
              verbose=0)
    assert seen == [2, 5, 8, 9]
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile("sgd", "mse", steps_per_execution=0)


# --- every public layer: the symbolic (meta) output shape is the real one -------------------
_LAYERS = [
    ("Dense", lambda L: L.Dense(5, activation="gelu"), [(2, 3, 4)]),
    ("Activation", lambda L: L.Activation("softmax"), [(2, 3)]),
    ("Dropout", lambda L: L.Dropout(0.3), [(2, 3)]),
    ("Flatten", lambda L: L.Flatten(), [(2, 3, 4)]),
    ("Reshape", lambda L: L.Reshape((-1, 2)), [(2, 3, 4)]),
    ("Permute", lambda L: L.Permute((2, 1)), [(2, 3, 4)]),
    ("RepeatVector", lambda L: L.RepeatVector(3), [(2, 4)]),
    ("Identity", lambda L: L.Identity(), [(2, 4)]),
    ("ActivityRegularization", lambda L: L.ActivityRegularization(0.1), [(2, 4)]),
    ("Masking", lambda L: L.Masking(), [(2, 3, 4)]),
    ("ReLU", lambda L: L.ReLU(max_value=2.0), [(2, 4)]),
    ("LeakyReLU", lambda L: L.LeakyReLU(), [(2, 4)]),
    ("Softmax", lambda L: L.Softmax(axis=1), [(2, 4, 3)]),
    ("ELU", lambda L: L.ELU(), [(2, 4)]),
    ("PReLU", lambda L: L.PReLU(), [(2, 4)]),
    ("Add", lambda L: L.Add(), [(2, 4), (2, 4)]),
    ("Subtract", lambda L: L.Subtract(), [(2, 4), (2, 4)]),
    ("Multiply", lambda L: L.Multiply(), [(2, 4), (2, 4)]),
    ("Average", lambda L: L.Average(), [(2, 4), (2, 4)]),
    ("Maximum", lambda L: L.Maximum(), [(2, 4), (2, 4)]),
    ("Minimum", lambda L: L.Minimum(), [(2, 4), (2, 4)]),
    ("Concatenate", lambda L: L.Concatenate(axis=1), [(2, 4), (2, 3)]),
    ("Dot", lambda L: L.Dot(axes=1), [(2, 4), (2, 4)]),
    ("Lambda", lambda L: L.Lambda(lambda x: ops.square(x)[:, :2]), [(2, 4)]),
]


@pytest.mark.parametrize("name,make,shapes", _LAYERS, ids=[c[0] for c in _LAYERS])
def test_every_layer_infers_its_output_shape_on_meta(name, make, shapes):
    x = [np.random.default_rng(2).random(s, dtype=np.float32) for s in shapes]
    args = x if len(x) > 1 else x[0]
    real = make(layers)(args)
    inputs = [layers.Input(s[1:]) for s in shapes]
    symbolic = make(layers)(inputs if len(inputs) > 1 else inputs[0])
    assert tuple(symbolic.shape) == (None,) + tuple(real.shape[1:])
