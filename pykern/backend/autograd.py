"""Reverse-mode differentiation over the define-by-run graph.

`grad_arrays` is the engine: one topological sort from the outputs, then one
backward call per op that lies on a path to a requested source. It returns
storage on the sources' device (what optimizers consume); `gradients` and
`GradientTape.gradient` wrap them as Tensors. Gradients are summed with the
device's kernel table, never with NumPy directly.
"""
import operator

from pykern.backend.tensor import Tensor, Variable, record

__all__ = ["gradients", "grad_arrays", "GradientTape"]


_by_creation = operator.attrgetter("_seq")


def _interior(ys):
    """The op outputs reachable from ys (tensors with parents), parents before
    children; leaves are left out because they only receive gradients."""
    seen, interior = set(), []
    stack = list(ys)
    while stack:
        t = stack.pop()
        if t._parents and id(t) not in seen:
            seen.add(id(t))
            interior.append(t)
            stack.extend(t._parents)
    interior.sort(key=_by_creation)
    return interior


def grad_arrays(ys, xs, seeds=None):
    """d(sum of ys)/d(each x) as float32 storage, None where x does not affect ys.

    ys, xs: lists of Tensors; seeds: optional output gradients, one per y
    (default ones, i.e. the gradient of the sum of each y). The storages handed
    out are owned and writable (optimizers may update them in place).
    """
    targets = {id(x) for x in xs}
    interior = _interior(ys)
    relevant = set(targets)  # ids of tensors on a path from a source
    for t in interior:
        for p in t._parents:
            if id(p) in relevant:
                relevant.add(id(t))
                break
    grads = {}
    for i, y in enumerate(ys):
        k = y.device.k
        s = None if seeds is None else seeds[i]
        if s is None:
            s = k.full(y.shape, 1.0)
        else:
            s = s._data if isinstance(s, Tensor) else k.from_host(s, dtype="float32")
            if tuple(s.shape) != tuple(y.shape):
                s = k.broadcast_to(s, y.shape)
        grads[id(y)] = k.binary("add", grads[id(y)], s) if id(y) in grads else s
    found = {}  # gradients of interior tensors that are sources
    pop, get = grads.pop, grads.get
    for t in reversed(interior):
        tid = id(t)
        if tid not in relevant:
            continue
        g = pop(tid, None)
        if g is None:
            continue
        if tid in targets:
            found[tid] = g
        parents = t._parents
        needs = tuple([id(p) in relevant for p in parents])
        k = t.device.k
        for p, need, gp in zip(parents, needs, t._backward(g, needs)):
            if need and gp is not None:
                prev = get(id(p))
                grads[id(p)] = gp if prev is None else k.binary("add", prev, gp)
    out, given = [], set()
    for x in xs:
        g = get(id(x))
        if g is None:
            g = found.get(id(x))
        if g is not None:
            # hand out owned, writable storage: optimizers may update it in place, and a
            # backward may pass one array to two parents (add) or return a broadcast view
            if id(g) in given:
                g = x.device.k.copy(g)
            g = x.device.k.owned(g)
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
    return [None if g is None else Tensor._wrap(g, x.device)
            for x, g in zip(xs_l, grad_arrays(ys_l, xs_l, seeds))]


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
    with None where a source does not affect the target. As in TensorFlow,
    non-trainable variables (all variables with watch_accessed_variables=False)
    get None unless watched, and a non-persistent tape computes gradients once.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._used = False
        self._scope = None
        self._watched = []

    def __enter__(self):
        self._scope = record()
        self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        self._scope.__exit__(*exc)
        return False

    def _unwatched(self, source):
        """A variable TensorFlow's tape does not watch: a non-trainable one (or any,
        with watch_accessed_variables=False) that was not passed to `watch`. Its
        gradient is None, so apply_gradients skips it (e.g. a frozen layer's kernel)."""
        if not isinstance(source, Variable) or (source.trainable and self._watch_accessed):
            return False
        return not any(source is t for t in self._watched)

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
        flat = sources if type(sources) is list else _flatten(sources)
        for s in flat:
            if not isinstance(s, Tensor):
                raise TypeError(f"GradientTape.gradient: sources must be Tensors or "
                                f"Variables, got {type(s).__name__}")
        ys = _as_list(target)
        seeds = None if output_gradients is None else _as_list(output_gradients)
        grads = [None if g is None or self._unwatched(s) else Tensor._wrap(g, s.device)
                 for s, g in zip(flat, grad_arrays(ys, flat, seeds))]
        if flat is sources:
            return grads
        return _pack(sources, iter(grads))
