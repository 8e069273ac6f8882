"""Transports: how one device kind's storage moves between processes. One class
per device kind, each with the same methods; a device's kernel table hands its
storage to its transport (`k.allreduce_sum_`, `k.broadcast_`), and nothing else
in pykern.distribution reads storage.

- cpu: `MpiHostTransport`, mpi4py's Allreduce/Bcast on the NumPy arrays that are
  the CPU device's storage (no copy: mpi4py reads them through the buffer
  protocol).
- cuda: `NcclTransport`, NOT BUILT. The plan: ncclAllReduce/ncclBroadcast on the
  device buffers, compiled into pykern._cuda when CMake finds NCCL; the NCCL
  communicator bootstrapped over MPI (rank 0's ncclUniqueId broadcast with
  `MpiHostTransport.broadcast_object`, then ncclCommInitRank(size, id, rank));
  the collective enqueued on the stream the kernels use and waited on under the
  World's watchdog like the host collectives.
"""
import time

__all__ = ["MpiHostTransport", "NcclTransport", "transport_for"]


class MpiHostTransport:
    """Collectives on host NumPy arrays between the processes of `world`, each one
    a blocking MPI call under the world's watchdog; counts bytes and seconds."""

    def __init__(self, world):
        from mpi4py import MPI
        self._MPI = MPI
        self.world = world
        self.comm = world.comm
        self.allreduce_bytes = 0
        self.allreduce_s = 0.0
        self.allreduce_calls = 0

    def allreduce_sum_(self, buf, what):
        t0 = time.perf_counter()
        with self.world.watch(what):
            self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
        self.allreduce_s += time.perf_counter() - t0
        self.allreduce_bytes += buf.nbytes
        self.allreduce_calls += 1

    def broadcast_(self, buf, root, what):
        with self.world.watch(what):
            self.comm.Bcast(buf, root=root)

    def allgather_object(self, obj, what):
        """[obj of rank 0, obj of rank 1, ...] (pickled; for small control data)."""
        with self.world.watch(what):
            return self.comm.allgather(obj)

    def broadcast_object(self, obj, root, what):
        with self.world.watch(what):
            return self.comm.bcast(obj, root=root)


class NcclTransport:
    """NCCL collectives on CUDA device buffers: not built (see the module docstring)."""

    def __init__(self, world):
        raise NotImplementedError(
            "pykern.distribution: the NCCL transport for CUDA tensors is not built yet; "
            "data-parallel training runs on CPU tensors over MPI (MpiHostTransport)")


_BY_DEVICE_TYPE = {"cpu": MpiHostTransport, "cuda": NcclTransport}


def transport_for(device_type, world):
    """A new transport for tensors of `device_type` ('cpu', 'cuda') in `world`."""
    try:
        cls = _BY_DEVICE_TYPE[device_type]
    except KeyError:
        raise ValueError(f"pykern.distribution: no transport for {device_type!r} tensors "
                         f"(known: {sorted(_BY_DEVICE_TYPE)})") from None
    return cls(world)
