"""Optimizers against TensorFlow-Keras one apply_gradients at a time on the same
variables and gradients; defaults and configs; learning rate as variable,
schedule or callable; weight-decay exclusion; constraints; variables; errors."""
import numpy as np
import pytest

import pykern
from pykern import optimizers

RNG = np.random.default_rng(17)
SHAPES = [(3, 4), (4,), (1,)]

ALL = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam"]


@pytest.mark.parametrize("name,kw", [
    ("SGD", {"momentum": 0.9, "nesterov": True}), ("RMSprop", {"centered": True}),
    ("Adam", {"amsgrad": True}), ("AdamW", {}), ("Adagrad", {}), ("Adadelta", {}),
    ("Adamax", {}), ("Nadam", {}), ("Adam", {"weight_decay": 0.1, "clipnorm": 0.5}),
], ids=lambda v: v if isinstance(v, str) else "-".join(v) or "default")
def test_steps_match_keras_on_raw_variables(keras, name, kw):
    init = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]
    kv = [keras.Variable(w) for w in init]
    pv = [pykern.Variable(w) for w in init]
    ko = getattr(keras.optimizers, name)(learning_rate=0.05, **kw)
    po = getattr(optimizers, name)(learning_rate=0.05, **kw)
    for _ in range(4):
        grads = [RNG.standard_normal(s).astype(np.float32) for s in SHAPES]
        ko.apply_gradients(zip(grads, kv))
        po.apply_gradients(zip(grads, pv))
    # updates of ~lr = 0.05 per step in float32: both libraries land ~1e-6 (absolute) from a
    # float64 reference after 4 steps (checked for AdamW), so weights near 0 need atol
    for a, b in zip(pv, kv):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=5e-6)
    assert int(po.iterations.numpy()) == int(ko.iterations.numpy()) == 4
    slots_k, slots_p = ko.variables[2:], po.variables[2:]
    assert [tuple(v.shape) for v in slots_p] == [tuple(v.shape) for v in slots_k]
    for a, b in zip(slots_p, slots_k):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_defaults_and_config_match_keras(keras, name):
    ours, theirs = getattr(optimizers, name)(), getattr(keras.optimizers, name)()
    oc, tc = ours.get_config(), theirs.get_config()
    assert set(oc) == set(tc)
    for key, value in tc.items():
        if key == "name":
            continue
        if isinstance(value, float):
            assert oc[key] == pytest.approx(value, rel=1e-6), key
        else:
            assert oc[key] == value, key
    again = getattr(optimizers, name).from_config(oc)
    assert again.get_config() == oc


def test_strings_and_configs_resolve():
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    cfg = optimizers.serialize(optimizers.SGD(0.3, momentum=0.5))
    sgd = optimizers.deserialize(cfg)
    assert isinstance(sgd, optimizers.SGD) and sgd.momentum == 0.5
    assert float(sgd.learning_rate) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="optimizer identifier"):
        optimizers.get("adamm")


def test_schedule_is_evaluated_at_the_step_before_the_update():
    sched = optimizers.schedules.PiecewiseConstantDecay([0], [1.0, 0.5])
    opt = optimizers.SGD(sched)
    v = pykern.Variable(np.zeros(1, np.float32))
    for _ in range(3):
        opt.apply([np.ones(1, np.float32)], [v])
    assert v.numpy()[0] == pytest.approx(-(1.0 + 0.5 + 0.5))
    assert float(opt.learning_rate) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.1
    cfg = opt.get_config()
    assert cfg["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    assert isinstance(optimizers.SGD.from_config(cfg)._schedule,
                      optimizers.schedules.PiecewiseConstantDecay)


def test_learning_rate_is_a_settable_float32_variable_or_a_callable():
    opt = optimizers.Adam(0.001)
    assert opt.learning_rate.numpy() == np.float32(0.001)
    opt.learning_rate = 0.01
    assert float(opt.learning_rate) == pytest.approx(0.01)
    lr = [0.5]
    sgd = optimizers.SGD(lambda: lr[0])
    v = pykern.Variable(np.zeros(1, np.float32))
    sgd.apply([np.ones(1, np.float32)], [v])
    lr[0] = 0.25
    sgd.apply([np.ones(1, np.float32)], [v])
    assert v.numpy()[0] == pytest.approx(-0.75)


def test_weight_decay_skips_excluded_variables():
    w, b = pykern.Variable(np.ones(2, np.float32), name="kernel"), \
        pykern.Variable(np.ones(2, np.float32), name="bias")
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([np.zeros(2, np.float32)] * 2, [w, b])
    np.testing.assert_allclose(w.numpy(), 0.95)
    np.testing.assert_allclose(b.numpy(), 1.0)
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["x"])


def test_constraints_apply_after_the_update():
    v = pykern.Variable(np.ones(3, np.float32), constraint=pykern.constraints.NonNeg())
    optimizers.SGD(1.0).apply([np.full(3, 2.0, np.float32)], [v])
    np.testing.assert_array_equal(v.numpy(), 0.0)


def test_variables_list_iteration_learning_rate_then_slots_per_variable():
    a, b = pykern.Variable(np.zeros(2, np.float32), path="m/d/kernel"), \
        pykern.Variable(np.zeros(3, np.float32), path="m/d/bias")
    opt = optimizers.Adam(name="adam")  # automatic names are numbered per session
    opt.build([a, b])
    names = [v.path for v in opt.variables]
    assert names == ["adam/iteration", "adam/learning_rate", "adam/m_d_kernel_momentum",
                     "adam/m_d_kernel_velocity", "adam/m_d_bias_momentum",
                     "adam/m_d_bias_velocity"]


def test_none_gradients_are_skipped_and_unknown_variables_rejected():
    a, b = pykern.Variable(np.ones(2, np.float32)), pykern.Variable(np.ones(2, np.float32))
    opt = optimizers.SGD(0.5)
    opt.apply([None, np.ones(2, np.float32)], [a, b])
    np.testing.assert_array_equal(a.numpy(), 1.0)
    np.testing.assert_array_equal(b.numpy(), 0.5)
    with pytest.raises(ValueError, match="is not one of"):
        opt.apply([np.ones(2, np.float32)], [pykern.Variable(np.ones(2, np.float32))])
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\)"):
        opt.apply([np.ones(3, np.float32)], [a])


@pytest.mark.parametrize("make,match", [
    (lambda: optimizers.SGD(momentum=1.5), "momentum"),
    (lambda: optimizers.Adam(clipnorm=1.0, clipvalue=1.0), "only one of"),
    (lambda: optimizers.Adam(learning_rate="fast"), "learning_rate"),
    (lambda: optimizers.Adam(learning_rate=-1.0), ">= 0"),
    (lambda: optimizers.AdamW(weight_decay=None), "weight_decay"),
    (lambda: optimizers.Adam(clipnorm=-1.0), "clipnorm"),
    (lambda: optimizers.Adam(use_ema=True), "not supported"),
    (lambda: optimizers.schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.1]), "one more"),
], ids=["momentum", "clip", "lr-type", "lr-negative", "adamw", "clipnorm", "ema",
        "decay-steps", "piecewise"])
def test_bad_arguments_raise_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_automatic_names_are_keras_snake_case_and_numbered(keras):
    from pykern import backend
    for name in ALL:
        backend.clear_session()
        keras.backend.clear_session()
        ours = [getattr(optimizers, name)().name for _ in range(2)]
        theirs = [getattr(keras.optimizers, name)().name for _ in range(2)]
        assert ours == theirs
    backend.clear_session()
