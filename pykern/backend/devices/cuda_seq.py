"""The CUDA kernel table's sequence and training kernels: the LSTM/GRU/SimpleRNN
sequence forward and backward, embedding gather and its gradient, and the optimizer
plan (mixed into `cuda.CudaKernels`; same names, signatures and semantics as
`cpu.CpuKernels`, on `pykern._cuda.Array` storage).

Each method is one call of a pykern._cuda binding, which checks its arguments
before the device is touched (csrc/cuda/register_seq.cpp)."""
from pykern import _cuda


class CudaSeqKernels:
    """Sequence and training kernels on the GPU (see the module docstring)."""

    # --- recurrent: x (B,T,I), kernel (I,G*U), recurrent (U,G*U), states (B,U), mask (B,T) --------
    def rnn(self, cell, x, kernel, recurrent, bias, h0, c0, mask, reverse, activation,
            recurrent_activation, reset_after, zero_output_for_mask, save_workspace):
        """A whole sequence of cell 'lstm' | 'gru' | 'simple_rnn' (csrc/cuda/rnn.h):
        (y (B,T,U) in processing order, hT, cT (LSTM, else None), the workspace
        rnn_backward reads or None)."""
        return _cuda.rnn_forward(cell, x, kernel, recurrent, bias, h0, c0, mask, reverse,
                                 activation, recurrent_activation, reset_after,
                                 zero_output_for_mask, save_workspace)

    def rnn_backward(self, cell, dy, dh, dc, x, kernel, recurrent, bias, h0, c0, mask,
                     workspace, reverse, activation, recurrent_activation, reset_after,
                     zero_output_for_mask):
        """Gradients of rnn for output gradients dy (B,T,U), dh, dc (B,U) (None: zeros):
        (dx, dkernel, drecurrent, dbias or None, dh0, dc0 (LSTM, else None)). With the
        forward's workspace the forward is not recomputed."""
        return _cuda.rnn_backward(cell, dy, dh, dc, x, kernel, recurrent, bias, h0, c0, mask,
                                  workspace, reverse, activation, recurrent_activation,
                                  reset_after, zero_output_for_mask)

    # --- embedding: table (V, D), ids int32/int64 of any shape -----------------------------------
    def embedding(self, table, ids):
        """table[ids]: ids.shape + (D,); an id outside [0, V) is a ValueError naming it."""
        return _cuda.embedding_forward(table, ids)

    def embedding_backward(self, d_out, ids, input_dim):
        """d_table (input_dim, D): d_out's rows summed per id (deterministic order)."""
        return _cuda.embedding_backward(d_out, ids, int(input_dim))

    # --- optimizer --------------------------------------------------------------------------
    def optimizer_plan(self, kind, params, slots, decays, **hyper):
        """A multi-tensor update plan over `params` (float32 Arrays updated in place); its
        step(grads, lr, c1, c2, c3) updates them all in one kernel launch."""
        return _cuda.OptimPlan(kind, params, slots, decays, **hyper)
