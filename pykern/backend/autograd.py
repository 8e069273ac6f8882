"""Reverse-mode differentiation over the define-by-run graph.

`grad_arrays` is the engine: one topological sort from the outputs, then one
backward call per op that lies on a path to a requested source. It returns
ndarrays (what optimizers consume); `gradients` and `GradientTape.gradient`
wrap them as Tensors.
"""
import numpy as np

from pykern.backend.tensor import Tensor, Variable, _Recording

__all__ = ["gradients", "grad_arrays", "GradientTape"]


def _topological(ys):
    """Every tensor reachable from ys, parents before children."""
    order, seen = [], set()
    stack = [(y, False) for y in ys]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for p in t._parents:
            if id(p) not in seen:
                stack.append((p, False))
    return order


def grad_arrays(ys, xs, seeds=None):
    """d(sum of ys)/d(each x) as float32 ndarrays, None where x does not affect ys.

    ys, xs: lists of Tensors; seeds: optional output gradients, one per y
    (default ones, i.e. the gradient of the sum of each y).
    """
    targets = {id(x) for x in xs}
    order = _topological(ys)
    relevant = {}
    for t in order:
        r = id(t) in targets
        if not r:
            for p in t._parents:
                if relevant[id(p)]:
                    r = True
                    break
        relevant[id(t)] = r
    grads = {}
    for i, y in enumerate(ys):
        if seeds is not None and seeds[i] is not None:
            s = seeds[i]
            s = np.asarray(s._value if isinstance(s, Tensor) else s, dtype=np.float32)
            s = np.broadcast_to(s, y._value.shape)
        else:
            s = np.ones(y._value.shape, dtype=np.float32)
        grads[id(y)] = grads[id(y)] + s if id(y) in grads else s
    found = {}
    for t in reversed(order):
        tid = id(t)
        if not relevant[tid]:
            continue
        g = grads.pop(tid, None)
        if g is None:
            continue
        if tid in targets:
            found[tid] = g
        parents = t._parents
        if not parents:
            continue
        needs = tuple(relevant[id(p)] for p in parents)
        for p, need, gp in zip(parents, needs, t._backward(g, needs)):
            if need and gp is not None:
                pid = id(p)
                prev = grads.get(pid)
                grads[pid] = gp if prev is None else prev + gp
    out, given = [], set()
    for x in xs:
        g = found.get(id(x))
        if g is not None:
            # hand out owned, writable arrays: optimizers may update them in place, and
            # a backward may pass one array to two parents (add) or return a broadcast view
            if (g.dtype != np.float32 or id(g) in given or not g.flags.writeable
                    or not g.flags.c_contiguous):
                g = np.array(g, dtype=np.float32, order="C")
            given.add(id(g))
        out.append(g)
    return out


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def gradients(ys, xs, output_gradients=None):
    """Keras-2 style K.gradients: a list of Tensors (None where unconnected)."""
    ys_l, xs_l = _as_list(ys), _as_list(xs)
    for t in ys_l + xs_l:
        if not isinstance(t, Tensor):
            raise TypeError(f"gradients: expected Tensors, got {type(t).__name__}")
    seeds = None if output_gradients is None else _as_list(output_gradients)
    return [None if g is None else Tensor(g) for g in grad_arrays(ys_l, xs_l, seeds)]


def _flatten(structure):
    if isinstance(structure, dict):
        return [v for k in structure for v in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [v for s in structure for v in _flatten(s)]
    return [structure]


def _pack(structure, flat):
    if isinstance(structure, dict):
        return {k: _pack(structure[k], flat) for k in structure}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_pack(s, flat) for s in structure)
    return next(flat)


class GradientTape:
    """tf.GradientTape's interface over the always-on graph.

    Ops record while the tape is open (even inside `no_grad`); `gradient`
    differentiates a target (or the sum of a list of targets) with respect to a
    tensor, variable or nested structure of them, returning the same structure
    with None where a source does not affect the target. A non-persistent tape
    can compute gradients once, as in TensorFlow.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self._used = False
        self._prev = None
        self._watched = []

    def __enter__(self):
        self._prev = _Recording.on
        _Recording.on = True
        return self

    def __exit__(self, *exc):
        _Recording.on = self._prev
        return False

    def watch(self, tensor):
        """Accepted for compatibility: every op on tensors is recorded anyway."""
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch: expected a Tensor, got {type(t).__name__}")
            self._watched.append(t)

    def stop_recording(self):
        from pykern.backend.tensor import no_grad
        return no_grad()

    def watched_variables(self):
        return [t for t in self._watched if isinstance(t, Variable)]

    def gradient(self, target, sources, output_gradients=None):
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients; pass persistent=True to reuse it")
        self._used = True
        flat = _flatten(sources)
        for s in flat:
            if not isinstance(s, Tensor):
                raise TypeError(f"GradientTape.gradient: sources must be Tensors or "
                                f"Variables, got {type(s).__name__}")
        ys = _as_list(target)
        seeds = None if output_gradients is None else _as_list(output_gradients)
        grads = [None if g is None else Tensor(g) for g in grad_arrays(ys, flat, seeds)]
        return _pack(sources, iter(grads))
