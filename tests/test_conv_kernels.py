"""The native convolution kernels (pykern._cpu.conv_* and depthwise_*) against the NumPy
oracles of tests/reference.py and their scalar twins (the _ref bindings), and their contract."""

import numpy as np
import pytest

from pykern import _cpu, config
from reference import (assert_within_sum_bound, conv_nd_backward_data_ref,
                       conv_nd_backward_filter_ref, conv_nd_ref, conv_out_size, depthwise_nd_ref,
                       same_padding)
from test_gemm import ISAS, not_in_a_capped_run, rerun_capped


def pads(spatial, kernel, strides, dilations, padding):
    """(pad_begin, pad_end) for 'valid', Keras 'same' or 'causal', or explicit pairs."""
    if padding == "valid":
        return (0,) * len(spatial), (0,) * len(spatial)
    if padding == "causal":
        return ((dilations[0] * (kernel[0] - 1),), (0,))
    if padding == "same":
        pb, pe = zip(*(same_padding(n, k, s, d)
                       for n, k, s, d in zip(spatial, kernel, strides, dilations)))
        return pb, pe
    return tuple(p[0] for p in padding), tuple(p[1] for p in padding)


class Conv:
    """One convolution's arguments, random operands, and the oracle's answers."""

    def __init__(self, n, spatial, c, k, kernel, strides=None, dilations=None, padding="valid",
                 groups=1, seed=0, depthwise=False):
        sp = len(spatial)
        self.strides = tuple(strides or (1,) * sp)
        self.dilations = tuple(dilations or (1,) * sp)
        self.pad_begin, self.pad_end = pads(spatial, kernel, self.strides, self.dilations,
                                            padding)
        self.groups, self.depthwise = groups, depthwise
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((n, *spatial, c)).astype(np.float32)
        # depthwise: k is the channel multiplier M and w is Keras' (*kernel, C, M)
        self.w = rng.standard_normal((*kernel, c if depthwise else c // groups, k)).astype(
            np.float32)
        kout = c * k if depthwise else k
        self.bias = rng.standard_normal(kout).astype(np.float32)
        out = [conv_out_size(*a) for a in zip(spatial, kernel, *self.geometry)]
        self.dy = rng.standard_normal((n, *out, kout)).astype(np.float32)

    @property
    def geometry(self):
        return self.strides, self.dilations, self.pad_begin, self.pad_end

    @property
    def grouped_w(self):
        """w as the grouped convolution's (*kernel, 1, C*M) for depthwise (the same memory)."""
        if not self.depthwise:
            return self.w
        *kernel, c, m = self.w.shape
        return self.w.reshape(*kernel, 1, c * m)

    @property
    def oracle_groups(self):
        return self.x.shape[-1] if self.depthwise else self.groups

    def taps(self):
        return int(np.prod(self.w.shape[:-2]))

    # --- the kernels under test ---
    def forward(self, suffix="", activation="none", bias=True):
        b = self.bias if bias else None
        if self.depthwise:
            return getattr(_cpu, "depthwise_forward" + suffix)(self.x, self.w, b, *self.geometry,
                                                              activation)
        return getattr(_cpu, "conv_forward" + suffix)(self.x, self.w, b, *self.geometry,
                                                     self.groups, activation)

    def backward_data(self, suffix="", x_shape=None):
        x_shape = x_shape or self.x.shape
        if self.depthwise:
            return getattr(_cpu, "depthwise_backward_data" + suffix)(self.dy, self.w, x_shape,
                                                                    *self.geometry)
        return getattr(_cpu, "conv_backward_data" + suffix)(self.dy, self.w, x_shape,
                                                           *self.geometry, self.groups)

    def backward_filter(self, suffix=""):
        if self.depthwise:
            return getattr(_cpu, "depthwise_backward_filter" + suffix)(self.x, self.dy,
                                                                      self.w.shape, *self.geometry)
        return getattr(_cpu, "conv_backward_filter" + suffix)(self.x, self.dy, self.w.shape,
                                                             *self.geometry, self.groups)

    # --- the oracle's answers, each with the magnitude of its summed terms ---
    def want_forward(self, activation="none", bias=True):
        b = self.bias if bias else None
        g = self.geometry
        if self.depthwise:
            want = depthwise_nd_ref(self.x, self.w, b, *g, activation=activation)
            mag = depthwise_nd_ref(np.abs(self.x), np.abs(self.w), None if b is None else
                                   np.abs(b), *g)
        else:
            want = conv_nd_ref(self.x, self.w, b, *g, self.groups, activation)
            mag = conv_nd_ref(np.abs(self.x), np.abs(self.w), None if b is None else np.abs(b),
                              *g, self.groups)
        return want, mag + np.abs(want), self.taps() * self.x.shape[-1] // self.oracle_groups

    def want_backward_data(self, x_shape=None):
        x_shape = x_shape or self.x.shape
        g, groups, w = self.geometry, self.oracle_groups, self.grouped_w
        want = conv_nd_backward_data_ref(self.dy, w, x_shape, *g, groups)
        mag = conv_nd_backward_data_ref(np.abs(self.dy), np.abs(w), x_shape, *g, groups)
        return want, mag, self.taps() * w.shape[-1] // groups

    def want_backward_filter(self):
        g, groups, w = self.geometry, self.oracle_groups, self.grouped_w
        want = conv_nd_backward_filter_ref(self.x, self.dy, w.shape, *g, groups)
        mag = conv_nd_backward_filter_ref(np.abs(self.x), np.abs(self.dy), w.shape, *g, groups)
        return want.reshape(self.w.shape), mag.reshape(self.w.shape), self.dy[..., 0].size


def check_all_passes(conv, activation="relu"):
    """Fast and _ref kernels of all three passes lie within the float32 error bound of the
    float64 oracle; the _ref twins (double sums) within a few ulp of it."""
    for name, want_of, run in [
            ("forward", lambda: conv.want_forward(activation),
             lambda sfx: conv.forward(sfx, activation)),
            ("backward_data", conv.want_backward_data, conv.backward_data),
            ("backward_filter", conv.want_backward_filter, conv.backward_filter)]:
        want, mag, terms = want_of()
        got = run("")
        assert got.dtype == np.float32 and got.flags.c_contiguous
        assert_within_sum_bound(got, want, mag, terms, name)
        assert_within_sum_bound(run("_ref"), want, mag, 1, name + "_ref")


# (N, spatial, C, K, kernel, strides, dilations, padding, groups)
CASES_2D = [
    (2, (7, 7), 3, 5, (3, 3), (1, 1), (1, 1), "valid", 1),
    (1, (7, 7), 3, 5, (3, 3), (1, 1), (1, 1), "same", 1),
    (2, (7, 6), 3, 4, (2, 2), (1, 1), (1, 1), "same", 1),          # even kernel: pad at the end
    (1, (31, 33), 3, 7, (5, 5), (2, 2), (1, 1), "same", 1),
    (1, (33, 31), 1, 3, (3, 3), (3, 3), (2, 2), "valid", 1),
    (1, (31, 7), 7, 1, (5, 2), (3, 1), (1, 2), "same", 1),
    (2, (7, 7), 4, 6, (3, 3), (1, 1), (1, 1), "same", 2),
    (1, (7, 33), 6, 9, (2, 3), (2, 1), (2, 1), "valid", 3),
    (3, (7, 7), 33, 31, (1, 1), (1, 1), (1, 1), "valid", 1),        # pointwise: one GEMM
    (2, (7, 7), 33, 6, (1, 1), (1, 1), (1, 1), "valid", 3),         # pointwise, grouped
    (2, (7, 7), 31, 33, (1, 1), (2, 2), (1, 1), "valid", 1),        # 1x1 strided: im2col
    (1, (7, 7), 3, 4, (1, 1), (1, 1), (1, 1), ((1, 0), (0, 2)), 1),  # 1x1 padded
    (1, (7, 7), 31, 33, (3, 3), (1, 1), (1, 1), "same", 1),
    (2, (5, 6), 3, 4, (3, 3), (1, 2), (1, 1), ((2, 0), (0, 3)), 1),  # asymmetric pads
    (1, (1, 1), 3, 2, (3, 3), (1, 1), (1, 1), "same", 1),           # all but one tap padded
    (2, (2, 3), 2, 3, (5, 5), (1, 1), (1, 1), "same", 1),           # input smaller than kernel
    (1, (7, 7), 1, 1, (3, 3), (1, 1), (1, 1), "valid", 1),
    (1, (7, 7), 7, 7, (3, 3), (2, 1), (1, 2), "same", 7),           # groups == C: depthwise
    (2, (7, 7), 3, 6, (3, 3), (1, 1), (1, 1), "valid", 3),          # depthwise, multiplier 2
    (40, (5, 5), 3, 4, (3, 3), (1, 1), (1, 1), "same", 1),          # many images per block
    (3, (34, 34), 32, 16, (3, 3), (1, 1), (1, 1), "same", 1),       # images cut in blocks
    (2, (35, 36), 16, 8, (3, 3), (2, 2), (2, 1), "same", 2),
    # the direct path (no col): W padding at both ends, strides, K over two panels
    (2, (9, 40), 5, 12, (3, 4), (2, 3), (1, 1), "same", 1),
    (1, (5, 17), 4, 70, (3, 3), (1, 1), (1, 1), "same", 1),
    (1, (1, 4), 3, 2, (3, 3), (1, 1), (1, 1), ((3, 3), (1, 1)), 1),  # lines of bias only
    # ... and its backward-filter (few channels, lines of 8+ pixels)
    (1, (1, 9), 3, 2, (3, 3), (1, 1), (1, 1), ((3, 3), (1, 1)), 1),
    (3, (8, 12), 1, 33, (3, 3), (1, 1), (1, 1), "valid", 1),
    # the tile path (col rows gathered per micro-tile, across line ends): dilated W
    (3, (9, 13), 32, 40, (3, 3), (1, 1), (1, 2), "same", 1),
    (2, (6, 6), 64, 33, (3, 3), (1, 1), (1, 1), "valid", 1),
]

CASES_1D = [
    (3, (31,), 7, 3, (5,), (3,), (2,), "same", 1),
    (2, (33,), 3, 4, (3,), (1,), (2,), "causal", 1),
    (2, (7,), 3, 4, (2,), (1,), (1,), "same", 1),
    (1, (31,), 4, 2, (3,), (2,), (1,), "valid", 2),
    (2, (7,), 3, 3, (3,), (1,), (1,), "same", 3),
    (1, (1,), 1, 1, (1,), (1,), (1,), "valid", 1),
    (2, (3001,), 32, 16, (3,), (1,), (1,), "same", 1),             # a line cut in blocks
    (1, (3001,), 48, 8, (5,), (2,), (2,), "same", 1),
]

CASES_3D = [
    (2, (4, 5, 6), 3, 4, (2, 3, 1), (1, 2, 1), (1, 1, 2), ((1, 0), (0, 1), (0, 0)), 1),
    (2, (5, 5, 5), 2, 3, (3, 3, 3), (1, 1, 1), (1, 1, 1), "same", 1),
    (1, (7, 3, 5), 4, 6, (3, 1, 2), (2, 1, 1), (1, 1, 1), "same", 2),
    (1, (5, 5, 5), 3, 3, (3, 3, 3), (2, 2, 2), (1, 1, 1), "same", 3),
    (2, (3, 3, 3), 33, 7, (1, 1, 1), (1, 1, 1), (1, 1, 1), "valid", 1),
    (2, (3, 4, 10), 2, 5, (2, 3, 3), (1, 1, 2), (1, 1, 1), "same", 1),   # direct paths, 3-D
]


def case_id(case):
    n, sp, c, k, kern, st, dil, pad, g = case
    return f"N{n}-in{'x'.join(map(str, sp))}-C{c}-K{k}-k{'x'.join(map(str, kern))}-s" \
           f"{'x'.join(map(str, st))}-d{'x'.join(map(str, dil))}-{pad if isinstance(pad, str) else 'pad'}-g{g}"


@pytest.mark.parametrize("case", CASES_1D + CASES_2D + CASES_3D, ids=case_id)
def test_core_every_pass_matches_the_oracle(case):
    check_all_passes(Conv(*case, seed=len(case_id(case))))


@pytest.mark.parametrize("activation", ["none", "linear", "sigmoid", "tanh"])
def test_core_forward_fuses_each_activation(activation):
    conv = Conv(2, (9, 8), 5, 33, (3, 3), padding="same")
    want, mag, terms = conv.want_forward(activation)
    assert_within_sum_bound(conv.forward("", activation), want, mag, terms, activation)


def test_core_bias_is_optional():
    conv = Conv(2, (9, 8), 5, 7, (3, 3), padding="same", groups=1)
    want, mag, terms = conv.want_forward("relu", bias=False)
    assert_within_sum_bound(conv.forward("", "relu", bias=False), want, mag, terms)
    assert_within_sum_bound(conv.forward("_ref", "relu", bias=False), want, mag, 1)


# (N, spatial, C, M, kernel, strides, dilations, padding)
DEPTHWISE = [
    (2, (7, 7), 3, 1, (3, 3), (1, 1), (1, 1), "same"),
    (1, (31, 33), 33, 1, (5, 5), (2, 2), (1, 1), "same"),
    (2, (7, 6), 7, 2, (2, 2), (1, 1), (1, 1), "same"),
    (1, (33, 31), 31, 3, (3, 3), (3, 2), (2, 1), "valid"),
    (2, (5, 6), 1, 7, (3, 3), (1, 2), (1, 1), ((2, 0), (0, 3))),
    (3, (31,), 7, 1, (5,), (3,), (2,), "same"),
    (2, (33,), 3, 2, (3,), (1,), (2,), "causal"),
    (2, (4, 5, 6), 3, 2, (2, 3, 1), (1, 2, 1), (1, 1, 2), "same"),
    (1, (5, 5, 5), 16, 1, (3, 3, 3), (2, 2, 2), (1, 1, 1), "same"),
]


@pytest.mark.parametrize("case", DEPTHWISE, ids=lambda c: case_id((*c, 1)))
def test_core_depthwise_matches_the_oracle(case):
    check_all_passes(Conv(*case, seed=3, depthwise=True))


def test_depthwise_is_the_grouped_convolution_with_groups_c():
    # Keras' (*kernel, C, M) depthwise kernel is the (*kernel, 1, C*M) grouped kernel in memory.
    conv = Conv(2, (9, 9), 5, 3, (3, 3), padding="same", depthwise=True)
    grouped = Conv(2, (9, 9), 5, 15, (3, 3), padding="same", groups=5)
    grouped.x, grouped.w, grouped.bias, grouped.dy = conv.x, conv.grouped_w, conv.bias, conv.dy
    np.testing.assert_array_equal(conv.forward("", "tanh"), grouped.forward("", "tanh"))
    np.testing.assert_array_equal(conv.backward_data(), grouped.backward_data())
    np.testing.assert_array_equal(conv.backward_filter(), grouped.backward_filter().reshape(
        conv.w.shape))


@pytest.mark.parametrize("spatial,kernel,strides,output_padding", [
    ((4, 4), (3, 3), (2, 2), (1, 1)),
    ((5, 3), (3, 2), (3, 2), (2, 1)),
    ((6,), (4,), (3,), (2,)),
])
def test_transposed_convolution_is_backward_data_on_any_consistent_x_shape(
        spatial, kernel, strides, output_padding):
    # Conv2DTranspose's output_padding adds rows no output reads: they get zero, and the
    # kernel must accept such an x_shape since it gives dy's size back.
    conv = Conv(2, tuple((n - 1) * s + k for n, k, s in zip(spatial, kernel, strides)), 3, 5,
                kernel, strides)
    x_shape = (2, *(n + p for n, p in zip(conv.x.shape[1:-1], output_padding)), 3)
    want, mag, terms = conv.want_backward_data(x_shape)
    for suffix in ("", "_ref"):
        got = conv.backward_data(suffix, x_shape)
        assert got.shape == x_shape
        assert_within_sum_bound(got, want, mag, terms, suffix)
    tail = (slice(None),) + tuple(slice(n, None) for n in conv.x.shape[1:-1])
    assert not conv.backward_data("", x_shape)[tail].any()


def test_same_padding_puts_the_extra_pixel_at_the_end():
    # keras_behaviour.md 2.7: Conv1D k=2 'same' on [1,2,3,4] with w=[1,10] gives [21,32,43,4].
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 4, 1)
    w = np.array([1, 10], np.float32).reshape(2, 1, 1)
    pb, pe = pads((4,), (2,), (1,), (1,), "same")
    for fn in (_cpu.conv_forward, _cpu.conv_forward_ref):
        np.testing.assert_array_equal(fn(x, w, None, (1,), (1,), pb, pe, 1, "none").ravel(),
                                      [21, 32, 43, 4])


def test_empty_batch_gives_empty_outputs_and_zero_filter_gradient():
    conv = Conv(0, (5, 5), 3, 4, (3, 3), padding="same")
    assert conv.forward().shape == (0, 5, 5, 4)
    assert conv.backward_data().shape == (0, 5, 5, 3)
    np.testing.assert_array_equal(conv.backward_filter(), np.zeros((3, 3, 3, 4), np.float32))


@pytest.fixture
def restore_threads():
    n = config.num_threads()
    yield
    config.set_num_threads(n)


# Big enough for two threads (threads_for wants ~2 MFLOP a thread), and between them
# they take every threading path: many col blocks (one parallel region), an image cut in
# blocks, a line cut in blocks, a single block (threaded im2col and sgemm), backward-data
# by col2im image by image and, with N=1 and two threads, block by block; and the
# depthwise kernels.
THREAD_CASES = [
    dict(n=8, spatial=(20, 20), c=16, k=16, kernel=(3, 3), padding="same"),
    dict(n=1, spatial=(64, 64), c=8, k=8, kernel=(3, 3), padding="same"),
    dict(n=1, spatial=(6, 6), c=64, k=128, kernel=(3, 3), padding="valid"),
    dict(n=4, spatial=(32, 32), c=3, k=32, kernel=(3, 3), padding="same"),  # direct paths
    dict(n=1, spatial=(96, 96), c=16, k=16, kernel=(3, 3), strides=(2, 2), padding="same"),
    dict(n=2, spatial=(30, 30), c=16, k=32, kernel=(3, 3), strides=(2, 2), padding="same",
         groups=2),
    dict(n=1, spatial=(4001,), c=64, k=16, kernel=(3,), strides=(2,), padding="same"),
    dict(n=4, spatial=(6, 6, 6), c=8, k=16, kernel=(3, 3, 3), padding="same"),
    dict(n=4, spatial=(24, 24), c=32, k=2, kernel=(3, 3), padding="same", depthwise=True),
    dict(n=1, spatial=(90, 90), c=32, k=1, kernel=(5, 5), strides=(2, 2), padding="same",
         depthwise=True),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in
                                                                     c.items()))
def test_bitwise_identical_across_threads_and_runs(case, restore_threads):
    conv = Conv(**case)
    results = []
    for threads in (1, 2, 2, 1):
        config.set_num_threads(threads)
        results.append([conv.forward("", "tanh").tobytes(), conv.backward_data().tobytes(),
                        conv.backward_filter().tobytes()])
    assert all(r == results[0] for r in results)


class TestBadInputRaises:
    X = np.ones((2, 5, 5, 4), np.float32)
    W = np.ones((3, 3, 4, 8), np.float32)
    G = ((1, 1), (1, 1), (0, 0), (0, 0))

    def test_channel_mismatch_names_op_and_shapes(self):
        with pytest.raises(ValueError, match=r"conv_forward: x has 4 channels but w expects 3 "
                                             r".*x \(2, 5, 5, 4\), w \(3, 3, 3, 8\)"):
            _cpu.conv_forward(self.X, np.ones((3, 3, 3, 8), np.float32), None, *self.G)
        with pytest.raises(ValueError, match=r"depthwise_forward: x has 4 channels but the "
                                             r"depthwise kernel expects 3"):
            _cpu.depthwise_forward(self.X, np.ones((3, 3, 3, 1), np.float32), None, *self.G)
        with pytest.raises(ValueError, match=r"conv_backward_data: dy must have the output's "
                                             r"shape \(2, 3, 3, 8\), got \(2, 3, 3, 7\)"):
            _cpu.conv_backward_data(np.ones((2, 3, 3, 7), np.float32), self.W, self.X.shape,
                                    *self.G)
        with pytest.raises(ValueError, match=r"conv_backward_filter: dy must have the output's "
                                             r"shape \(2, 3, 3, 8\), got \(1, 3, 3, 8\)"):
            _cpu.conv_backward_filter(self.X, np.ones((1, 3, 3, 8), np.float32), self.W.shape,
                                      *self.G)

    def test_groups_must_divide_the_channels(self):
        with pytest.raises(ValueError, match=r"conv_forward: groups \(3\) must be >= 1 and "
                                             r"divide the 4 input channels"):
            _cpu.conv_forward(self.X, self.W, None, *self.G, 3)
        with pytest.raises(ValueError, match=r"conv_forward: groups \(2\) must be >= 1 and "
                                             r"divide .* output \(7\) channels"):
            _cpu.conv_forward(self.X, np.ones((3, 3, 2, 7), np.float32), None, *self.G, 2)
        with pytest.raises(ValueError, match="conv_backward_filter: groups"):
            _cpu.conv_backward_filter(self.X, np.ones((2, 3, 3, 8), np.float32), (3, 3, 4, 8),
                                      *self.G, 0)

    def test_input_smaller_than_kernel_without_padding(self):
        with pytest.raises(ValueError, match=r"conv_forward: the \(padded\) input .* smaller "
                                             r"than the dilated kernel.*x \(2, 5, 5, 4\)"):
            _cpu.conv_forward(self.X, np.ones((3, 3, 4, 8), np.float32), None, (1, 1), (3, 1),
                              (0, 0), (0, 0))
        with pytest.raises(ValueError, match="conv_backward_data_ref: the .padded. input"):
            _cpu.conv_backward_data_ref(np.ones((2, 1, 1, 8), np.float32), self.W, (2, 2, 2, 4),
                                        *self.G)

    def test_wrong_ranks_and_argument_lengths(self):
        with pytest.raises(ValueError, match=r"conv_forward: x must have 1 to 3 spatial axes"):
            _cpu.conv_forward(np.ones((2, 4), np.float32), self.W, None, (), (), (), ())
        with pytest.raises(ValueError, match=r"conv_forward: w must have rank 4"):
            _cpu.conv_forward(self.X, np.ones((3, 4, 8), np.float32), None, *self.G)
        with pytest.raises(ValueError, match=r"conv_forward: strides must hold 2 ints, got 1"):
            _cpu.conv_forward(self.X, self.W, None, (1,), (1, 1), (0, 0), (0, 0))
        with pytest.raises(ValueError, match=r"bias must have shape \(8,\)"):
            _cpu.conv_forward(self.X, self.W, np.ones(4, np.float32), *self.G)
        with pytest.raises(ValueError, match=r"conv_backward_data: x must have 1 to 3"):
            _cpu.conv_backward_data(np.ones((2, 3, 3, 8), np.float32), self.W, (2, 5), *self.G)

    def test_bad_sizes(self):
        for geometry, what in [(((0, 1), (1, 1), (0, 0), (0, 0)), "strides must be >= 1"),
                               (((1, 1), (1, -1), (0, 0), (0, 0)), "dilations must be >= 1"),
                               (((1, 1), (1, 1), (0, -1), (0, 0)), "paddings must be >= 0"),
                               (((1, 1), (1, 1), (0, 0), (1 << 50, 0)), "paddings")]:
            with pytest.raises(ValueError, match="conv_forward: " + what):
                _cpu.conv_forward(self.X, self.W, None, *geometry)
        with pytest.raises(ValueError, match="conv_backward_data: spatial sizes must be >= 1"):
            _cpu.conv_backward_data(np.ones((2, 3, 3, 8), np.float32), self.W, (2, -5, 5, 4),
                                    *self.G)
        with pytest.raises(ValueError, match="depthwise_backward_filter: the channel multiplier"):
            _cpu.depthwise_backward_filter(self.X, np.ones((2, 3, 3, 0), np.float32),
                                           (3, 3, 4, 0), *self.G)

    def test_wrong_dtype_layout_or_type(self):
        with pytest.raises(ValueError, match=r"conv_forward: x must be float32, got float64 "
                                             r"\[x \(2, 5, 5, 4\)\]"):
            _cpu.conv_forward(self.X.astype(np.float64), self.W, None, *self.G)
        with pytest.raises(ValueError, match=r"conv_forward: w must be C-contiguous"):
            _cpu.conv_forward(self.X, np.asfortranarray(self.W), None, *self.G)
        with pytest.raises(ValueError, match=r"conv_backward_filter: x must be C-contiguous"):
            _cpu.conv_backward_filter(self.X[:, ::2], np.ones((2, 1, 3, 8), np.float32),
                                      self.W.shape, *self.G)
        with pytest.raises(ValueError, match=r"depthwise_backward_data: dy must be a "
                                             r"numpy.ndarray, got list"):
            _cpu.depthwise_backward_data([[1.0]], self.W, self.X.shape, *self.G)
        with pytest.raises(ValueError, match="unknown activation 'gelu'"):
            _cpu.conv_forward(self.X, self.W, None, *self.G, 1, "gelu")


@not_in_a_capped_run
@pytest.mark.parametrize("isa", ISAS)
def test_every_capped_isa_path(isa):
    # the depthwise kernel and sgemm differ per ISA
    rerun_capped(isa, "test_conv_kernels.py", "test_core_ or bitwise")
