"""The CUDA kernel table's dense-network kernels: GEMM/matmul, convolution, depthwise,
pooling, batch and layer normalization (mixed into `cuda.CudaKernels`; same names,
signatures and semantics as `cpu.CpuKernels`, on `pykern._cuda.Array` storage).

Each method is one call of a pykern._cuda binding, which checks its arguments before
the device is touched (csrc/cuda/register_nn*.cpp). GEMM and matmul run on TF32
tensor cores only while `pykern.config.set_tf32(True)` is in force; everything else
is exact float32 (convolutions included)."""
from pykern import _cuda
from pykern.backend import config


class CudaNNKernels:
    """Dense-network kernels on the GPU (see the module docstring)."""

    # --- linear algebra -----------------------------------------------------------------------
    def gemm(self, a, b, bias=None, act="none", trans_a=False, trans_b=False):
        """act(op(a) @ op(b) + bias) for 2-D float32 a, b: one tiled SGEMM."""
        return _cuda.gemm(a, b, bias, act, trans_a, trans_b, config.get_tf32())

    def matmul(self, a, b):
        """NumPy matmul semantics (batch dims broadcast) as one batched SGEMM."""
        return _cuda.matmul(a, b, config.get_tf32())

    def activation(self, x, act):
        """An activation ('sigmoid', 'elu', ...) applied to a new array."""
        return _cuda.activation(x, act)

    # --- convolution: x (N, *spatial, C), w (*kernel, C/groups, K), y (N, *out, K) ---------
    def conv(self, x, w, bias, strides, dilations, pad_begin, pad_end, groups, act):
        """act(conv(x, w) + bias), cross-correlation, zero padding pad_begin/pad_end."""
        return _cuda.conv_forward(x, w, bias, strides, dilations, pad_begin, pad_end, groups, act)

    def conv_backward_data(self, dy, w, x_shape, strides, dilations, pad_begin, pad_end, groups):
        """dx of conv (also the forward pass of a transposed convolution)."""
        return _cuda.conv_backward_data(dy, w, tuple(x_shape), strides, dilations, pad_begin,
                                        pad_end, groups)

    def conv_backward_filter(self, x, dy, w_shape, strides, dilations, pad_begin, pad_end,
                             groups):
        return _cuda.conv_backward_filter(x, dy, tuple(w_shape), strides, dilations, pad_begin,
                                          pad_end, groups)

    def depthwise_conv(self, x, w, bias, strides, dilations, pad_begin, pad_end, act):
        """w (*kernel, C, M): output channel c*M + m is x's channel c times w[..., c, m]."""
        return _cuda.depthwise_forward(x, w, bias, strides, dilations, pad_begin, pad_end, act)

    def depthwise_conv_backward_data(self, dy, w, x_shape, strides, dilations, pad_begin,
                                     pad_end):
        return _cuda.depthwise_backward_data(dy, w, tuple(x_shape), strides, dilations,
                                             pad_begin, pad_end)

    def depthwise_conv_backward_filter(self, x, dy, w_shape, strides, dilations, pad_begin,
                                       pad_end):
        return _cuda.depthwise_backward_filter(x, dy, tuple(w_shape), strides, dilations,
                                               pad_begin, pad_end)

    # --- pooling: x (N, *spatial, C) ------------------------------------------------------------
    def max_pool(self, x, pool, strides, pad_begin, pad_end):
        """(y, argmax): argmax is each winner's flat index in its sample (for the backward);
        padded cells never win."""
        return _cuda.max_pool_forward(x, pool, strides, pad_begin, pad_end)

    def max_pool_backward(self, dy, argmax, x_shape):
        return _cuda.max_pool_backward(dy, argmax, tuple(x_shape))

    def avg_pool(self, x, pool, strides, pad_begin, pad_end):
        """The mean over each window's real (unpadded) cells."""
        return _cuda.avg_pool_forward(x, pool, strides, pad_begin, pad_end)

    def avg_pool_backward(self, dy, x_shape, pool, strides, pad_begin, pad_end):
        return _cuda.avg_pool_backward(dy, tuple(x_shape), pool, strides, pad_begin, pad_end)

    # --- normalization -------------------------------------------------------------------------
    def batch_norm_train(self, x, gamma, beta, epsilon):
        """x (P, A, C, B) normalised with (P, C) statistics over A and B: (y, mean, var,
        inv_std), var biased, two-pass in double."""
        return _cuda.batch_norm_train(x, gamma, beta, float(epsilon))

    def batch_norm_inference(self, x, mean, var, gamma, beta, epsilon):
        return _cuda.batch_norm_inference(x, mean, var, gamma, beta, float(epsilon))

    def batch_norm_backward(self, dy, x, mean, inv_std, gamma):
        """(dx, dgamma, dbeta) of batch_norm_train, through the statistics."""
        return _cuda.batch_norm_backward(dy, x, mean, inv_std, gamma)

    def layer_norm(self, x, gamma, beta, epsilon):
        """Each row of x (M, F) normalised over F: (y, mean, inv_std)."""
        return _cuda.layer_norm_forward(x, gamma, beta, float(epsilon))

    def layer_norm_backward(self, dy, x, mean, inv_std, gamma):
        return _cuda.layer_norm_backward(dy, x, mean, inv_std, gamma)
