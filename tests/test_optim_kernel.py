"""The native multi-tensor optimizer step (csrc/cpu/optim.cpp) against the NumPy
oracle in reference.py: every optimizer and option, odd tensor sizes, several
tensors in one call, clipping and weight decay, thread-count independence, and
argument errors."""
import numpy as np
import pytest

from pykern import _cpu, config
from reference import clip_grads_ref, optim_step_ref

SIZES = [(1,), (7,), (33, 5), (129,), (16, 17)]  # odd sizes cross the 16-float split points

SLOTS = {"sgd": 0, "rmsprop": 1, "adam": 2, "adagrad": 1, "adadelta": 2, "adamax": 2,
         "nadam": 2}

CASES = [
    ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("rmsprop", {}), ("rmsprop", {"momentum": 0.5}), ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.5, "centered": True}), ("adam", {}),
    ("adam", {"amsgrad": True}), ("adam", {"epsilon": 1e-2}), ("adagrad", {}),
    ("adadelta", {"rho": 0.95}), ("adamax", {}), ("nadam", {}),
]


def _slot_count(kind, hyper):
    if kind == "sgd":
        return 1 if hyper.get("momentum", 0) else 0
    if kind == "rmsprop":
        return 1 + (hyper.get("momentum", 0) > 0) + bool(hyper.get("centered"))
    if kind == "adam":
        return 3 if hyper.get("amsgrad") else 2
    return SLOTS[kind]


def _scalars(kind, hyper, lr, t, u_prev):
    b1, b2 = hyper.get("beta1", 0.9), hyper.get("beta2", 0.999)
    if kind == "adam":
        return lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t), 0.0, 0.0
    if kind == "adamax":
        return lr / (1 - b1 ** t), 0.0, 0.0
    if kind == "nadam":
        u_t, u_t1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        prod = u_prev * u_t
        return u_t1 / (1 - prod * u_t1), (1 - u_t) / (1 - prod), 1 / (1 - b2 ** t)
    return 0.0, 0.0, 0.0


def _run(kind, hyper, steps=3, lr=0.01, clip=None, decay=None, threads=None, seed=0):
    """`steps` native steps and oracle steps from the same start; returns both."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
    nslots = _slot_count(kind, hyper)
    init = 0.1 if kind == "adagrad" else 0.0
    slots = [[np.full(s, init, np.float32) for s in SIZES] for _ in range(nslots)]
    ref_w = [p.astype(np.float64) for p in params]
    ref_s = [[x.astype(np.float64) for x in row] for row in slots]
    native_hyper = {k: v for k, v in hyper.items()}
    clip = clip or {}
    decays = None if decay is None else np.array(decay, np.float32)
    plan = _cpu.OptimPlan(kind, params, slots, decays, **native_hyper, **clip)
    u_prev = 1.0
    old = config.num_threads()
    if threads:
        config.set_num_threads(threads)
    try:
        for t in range(1, steps + 1):
            grads = [rng.standard_normal(s).astype(np.float32) for s in SIZES]
            c1, c2, c3 = _scalars(kind, hyper, lr, t, u_prev)
            plan.step(grads, lr, c1, c2, c3)
            clipped = clip_grads_ref(grads, **clip)
            for i in range(len(SIZES)):
                d = 0.0 if decays is None else float(decays[i])
                ref_w[i], new = optim_step_ref(kind, ref_w[i], clipped[i],
                                               [row[i] for row in ref_s], lr, t,
                                               {**hyper, "u_prev": u_prev}, decay=d)
                for k in range(nslots):
                    ref_s[k][i] = new[k]
            u_prev *= hyper.get("beta1", 0.9) * (1 - 0.5 * 0.96 ** t)
    finally:
        config.set_num_threads(old)
    return params, slots, ref_w, ref_s


@pytest.mark.parametrize("kind,hyper", CASES, ids=[f"{k}-{'-'.join(h) or 'plain'}"
                                                  for k, h in CASES])
def test_native_step_matches_the_numpy_oracle(kind, hyper):
    params, slots, ref_w, ref_s = _run(kind, hyper)
    # float32 arithmetic against a float64 oracle over 3 steps: a few ulp per step
    for p, r in zip(params, ref_w):
        np.testing.assert_allclose(p, r, rtol=2e-6, atol=2e-7)
    for row, ref_row in zip(slots, ref_s):
        for s, r in zip(row, ref_row):
            np.testing.assert_allclose(s, r, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 1.0},
                                  {"clipvalue": 0.3}], ids=["clipnorm", "global", "value"])
def test_clipping_matches_the_numpy_oracle(clip):
    params, _, ref_w, _ = _run("sgd", {"momentum": 0.9}, clip=clip, lr=0.1)
    for p, r in zip(params, ref_w):
        np.testing.assert_allclose(p, r, rtol=2e-6, atol=2e-7)


def test_weight_decay_is_per_tensor_and_scaled_by_the_learning_rate():
    decay = [0.1, 0.0, 0.2, 0.1, 0.0]
    params, _, ref_w, _ = _run("adam", {}, decay=decay, lr=0.05)
    # Adam's float32 m / (sqrt(v) + eps) carries ~1e-5 relative error; at lr 0.05 the three
    # updates move w by up to 0.15, so errors are ~1e-6 absolute, even where w is near 0
    for p, r in zip(params, ref_w):
        np.testing.assert_allclose(p, r, rtol=1e-5, atol=3e-6)


def test_result_does_not_depend_on_the_thread_count():
    big = [(300_000,), (70_001,)]
    rng = np.random.default_rng(3)
    outs = []
    for threads in (1, 2, 3):
        old = config.num_threads()
        config.set_num_threads(threads)
        try:
            params = [rng.standard_normal(s).astype(np.float32) * 0 + 1 for s in big]
            slots = [[np.zeros(s, np.float32) for s in big] for _ in range(2)]
            plan = _cpu.OptimPlan("adam", params, slots, global_clipnorm=10.0)
            g = [np.linspace(-1, 1, s[0], dtype=np.float32) for s in big]
            plan.step(g, 0.01, 0.003, 0.0, 0.0)
            outs.append([p.copy() for p in params])
        finally:
            config.set_num_threads(old)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_empty_parameter_list_is_a_no_op_that_still_checks_its_gradients():
    plan = _cpu.OptimPlan("sgd", [], [])
    assert plan.step([], 0.1) is None
    with pytest.raises(ValueError):
        plan.step([np.zeros(3, np.float32)], 0.1)


@pytest.mark.parametrize("make,match", [
    (lambda p, s: _cpu.OptimPlan("adamx", p, s), "unknown optimizer kind 'adamx'"),
    (lambda p, s: _cpu.OptimPlan("adam", p, s[:1]), "needs 2 state slots"),
    (lambda p, s: _cpu.OptimPlan("adam", p, [s[0], s[1][:1]]), "slot 1 has 1 tensors"),
    (lambda p, s: _cpu.OptimPlan("adam", p, [s[0], [np.zeros(3, np.float32)] * 2]),
     r"slots\[1\]\[0\] has shape \(3,\) but params\[0\] has shape \(4, 5\)"),
    (lambda p, s: _cpu.OptimPlan("adam", [np.zeros((4, 5))] + p[1:], s), "float32"),
    (lambda p, s: _cpu.OptimPlan("adam", [np.zeros((5, 4), np.float32).T] + p[1:], s),
     "C-contiguous"),
    (lambda p, s: _cpu.OptimPlan("sgd", p, [], np.zeros(1, np.float32)),
     "decay has 1 entries for 2 parameters"),
], ids=["kind", "slot-count", "slot-length", "slot-shape", "dtype", "layout", "decay"])
def test_bad_plans_raise_errors_naming_the_problem(make, match):
    p = [np.zeros((4, 5), np.float32), np.zeros(5, np.float32)]
    s = [[np.zeros_like(x) for x in p] for _ in range(2)]
    with pytest.raises((ValueError, TypeError), match=match):
        make(p, s)


def test_bad_gradients_raise_errors_naming_shapes():
    p = [np.zeros((4, 5), np.float32), np.zeros(5, np.float32)]
    plan = _cpu.OptimPlan("sgd", p, [])
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        plan.step([np.zeros((4, 5), np.float32)], 0.1)
    with pytest.raises(ValueError, match=r"grads\[1\] has shape \(6,\) but params\[1\] has "
                                         r"shape \(5,\)"):
        plan.step([np.zeros((4, 5), np.float32), np.zeros(6, np.float32)], 0.1)
    with pytest.raises(TypeError, match="float32"):
        plan.step([np.zeros((4, 5)), np.zeros(5, np.float32)], 0.1)
    np.testing.assert_array_equal(p[0], 0)  # nothing was updated by the failed calls
