"""The one helper that compares pykern with TensorFlow-Keras: forward values and
the gradients of a scalar loss with respect to inputs and weights.

The loss is sum(output * r) with a fixed random r, so every output element
gets a distinct weight in the gradient (a plain sum would hide errors that
cancel, e.g. in softmax).
"""
import numpy as np

import pykern
from pykern import ops


def _projection(shape, seed=1234):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _dense(t):
    """A TF gradient as an ndarray (gathers give IndexedSlices)."""
    import tensorflow as tf
    return tf.convert_to_tensor(t).numpy()


def _assert_close(ours, theirs, rtol, atol, what):
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != Keras {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def op_parity(pk_fn, tf_fn, inputs, rtol=1e-5, atol=1e-6, grad_rtol=None, grad_atol=None):
    """pk_fn(*Tensors) and tf_fn(*tf.Variables) agree in value and input gradients."""
    import tensorflow as tf
    arrays = [np.asarray(x, dtype=np.float32) for x in inputs]
    tvars = [tf.Variable(a) for a in arrays]
    with tf.GradientTape() as tape:
        ty = tf_fn(*tvars)
        r = _projection(tuple(ty.shape))
        tloss = tf.reduce_sum(ty * r)
    tgrads = tape.gradient(tloss, tvars)
    pvars = [pykern.backend.Variable(a) for a in arrays]
    with pykern.GradientTape() as ptape:
        py = pk_fn(*pvars)
        ploss = ops.sum(ops.multiply(py, r))
    pgrads = ptape.gradient(ploss, pvars)
    _assert_close(py.numpy(), ty.numpy(), rtol, atol, "forward")
    for i, (pg, tg) in enumerate(zip(pgrads, tgrads)):
        if tg is None:
            assert pg is None or not np.any(pg.numpy()), f"input {i}: Keras has no gradient"
            continue
        _assert_close(pg.numpy(), _dense(tg), grad_rtol or rtol, grad_atol or atol,
                      f"gradient wrt input {i}")


def layer_parity(pk_layer, k_layer, inputs, training=False, rtol=1e-5, atol=1e-6,
                 grad_rtol=None, grad_atol=None, copy_weights=True, randomize=True):
    """A pykern layer (or model) and a Keras one agree after copying Keras' weights.

    Both are built by calling them on `inputs` (an array or a list of arrays);
    with `randomize` Keras' weights are first replaced by random values (zero
    biases or a zero PReLU alpha would hide errors in their gradients);
    outputs (one or several) are compared, then the gradients of
    sum(output * r) w.r.t. every input and every trainable weight, in Keras'
    weight order.
    """
    import tensorflow as tf
    arrays = [np.asarray(x, dtype=np.float32) for x in _as_list(inputs)]
    multi = isinstance(inputs, (list, tuple))
    tins = [tf.Variable(a) for a in arrays]
    k_layer(tins if multi else tins[0], training=training)  # builds
    pins = [pykern.backend.Variable(a) for a in arrays]
    pk_layer(pins if multi else pins[0], training=training)
    if copy_weights:
        if randomize:
            rng = np.random.default_rng(99)
            k_layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5
                                 for w in k_layer.get_weights()])
        kw = k_layer.get_weights()
        assert [w.shape for w in pk_layer.get_weights()] == [w.shape for w in kw], \
            "weight shapes/order differ from Keras"
        pk_layer.set_weights(kw)
    with tf.GradientTape() as tape:
        touts = _as_list(k_layer(tins if multi else tins[0], training=training))
        rs = [_projection(tuple(t.shape), 1234 + i) for i, t in enumerate(touts)]
        tloss = tf.add_n([tf.reduce_sum(t * r) for t, r in zip(touts, rs)])
    kweights = k_layer.trainable_weights
    tgrads = tape.gradient(tloss, tins + kweights)
    with pykern.GradientTape() as ptape:
        pouts = _as_list(pk_layer(pins if multi else pins[0], training=training))
        ploss = ops.sum(ops.multiply(pouts[0], rs[0]))
        for p, r in zip(pouts[1:], rs[1:]):
            ploss = ops.add(ploss, ops.sum(ops.multiply(p, r)))
    pweights = pk_layer.trainable_weights
    assert len(pweights) == len(kweights), "trainable weight count differs from Keras"
    pgrads = ptape.gradient(ploss, pins + pweights)
    assert len(pouts) == len(touts)
    for i, (p, t) in enumerate(zip(pouts, touts)):
        _assert_close(p.numpy(), t.numpy(), rtol, atol, f"output {i}")
    names = [f"input {i}" for i in range(len(pins))] + [w.path for w in kweights]
    for name, pg, tg in zip(names, pgrads, tgrads):
        if tg is None:
            assert pg is None or not np.any(pg.numpy()), f"{name}: Keras has no gradient"
            continue
        assert pg is not None, f"{name}: pykern has no gradient"
        _assert_close(pg.numpy(), _dense(tg), grad_rtol or rtol, grad_atol or atol,
                      f"gradient wrt {name}")


def fit_parity(build, keras, optimizer, x, y, loss="sparse_categorical_crossentropy",
               epochs=3, batch_size=8, history_rtol=1e-4, weight_rtol=1e-4, weight_atol=1e-5):
    """The same Sequential (`build(layers)` -> layers after an Input of x's sample shape),
    started from Keras' weights, trained in both libraries with `optimizer` (a name of
    both optimizer modules, lr 0.01): equal loss histories, then equal weights.
    Returns the two models."""
    shape = x.shape[1:]
    k_model = keras.Sequential([keras.Input(shape)] + build(keras.layers))
    p_model = pykern.Sequential([pykern.layers.Input(shape)] + build(pykern.layers))
    p_model.set_weights(k_model.get_weights())
    k_model.compile(getattr(keras.optimizers, optimizer)(0.01), loss)
    p_model.compile(getattr(pykern.optimizers, optimizer)(0.01), loss)
    fit = dict(batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    kh = k_model.fit(x, y, **fit).history["loss"]
    ph = p_model.fit(x, y, **fit).history["loss"]
    np.testing.assert_allclose(ph, kh, rtol=history_rtol)
    for a, b in zip(p_model.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=weight_rtol, atol=weight_atol)
    return p_model, k_model
