"""The processes of a distributed run: which one this is, how many there are, and
what happens when one of them fails.

Under `mpirun`/`mpiexec` the world is MPI's COMM_WORLD (through mpi4py); without
a launcher it is this process alone. MPI stops a job on its own only in some
cases (OpenMPI 4 kills every process when one exits without finalizing, and
names it), so a multi-process world adds three guards:

- an excepthook: an exception that ends one process prints its traceback and
  calls MPI_Abort, so the others stop at once. Without it the raising process
  waits forever in MPI_Finalize (at exit) while its peers wait in the next
  collective: OpenMPI 4.1 hangs in exactly this way.
- a watchdog thread that watches every blocking collective: when a peer on this
  host has exited, or the collective has not completed within `timeout_s`, it
  asks the peers what they are doing, prints an error naming the ranks and
  aborts the job. Blocking collectives under a watchdog, rather than
  non-blocking ones polled against a deadline, because OpenMPI's non-blocking
  allreduce (libnbc) took 1.6x as long on the 4.8 MB gradients of the MNIST CNN
  (26 ms vs 16 ms on this machine) and polling spins on a core a peer needs.
- an atexit handler that stops the watchdog before MPI is finalized.
"""
import atexit
import os
import socket
import sys
import threading
import time

__all__ = ["World", "DistributionError", "launched_by_mpi", "current_world"]

_DEFAULT_TIMEOUT_S = 600.0  # as PyTorch's process groups: long enough for a checkpoint write
_POLL_S = 0.2
_QUERY_TAG, _REPLY_TAG = 7301, 7302
_MPI_LAUNCH_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


class DistributionError(RuntimeError):
    """The processes of a distributed run disagree (model, batches) or one failed."""


def launched_by_mpi():
    """True when an MPI launcher (mpirun, mpiexec, srun with PMI) started this process."""
    return any(v in os.environ for v in _MPI_LAUNCH_VARS)


class World:
    """rank, size and the MPI communicator (None for a single process)."""

    def __init__(self, comm=None, timeout_s=None):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.timeout_s = float(timeout_s if timeout_s is not None else os.environ.get(
            "PYKERN_COLLECTIVE_TIMEOUT_S", _DEFAULT_TIMEOUT_S))
        if not self.timeout_s > 0:
            raise ValueError(f"initialize: timeout_s must be > 0, got {self.timeout_s}")
        self.local_size = 1
        self.watchdog = None
        self.control = None  # the host transport for control data, set by initialize
        if comm is not None and self.size > 1:
            from mpi4py import MPI
            self.local_size = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
            peers = comm.allgather((socket.gethostname(), os.getpid()))
            self.watchdog = _Watchdog(self, comm.Dup(), peers)
            _install_excepthook(self)

    def __repr__(self):
        return f"<World rank {self.rank} of {self.size}>"

    def watch(self, what):
        """Context manager around one blocking collective (a no-op for one process)."""
        return self.watchdog.watch(what) if self.watchdog is not None else _NULL

    def abort(self, message):
        """Prints `message` naming this rank and stops every process of the job."""
        sys.stderr.write(f"pykern.distribution: rank {self.rank} of {self.size}: {message}\n")
        sys.stderr.flush()
        if self.comm is not None:
            self.comm.Abort(1)
        os._exit(1)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NULL = _Null()


def _process_state(pid):
    """'R', 'S', ... from /proc, or None when the process no longer exists; a zombie
    ('Z') has exited and is waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class _Watchdog:
    """A daemon thread watching the collective in flight (see the module docstring)."""

    def __init__(self, world, comm, peers):
        self.world, self.comm = world, comm
        host = socket.gethostname()
        # peers whose pid this process can see: the same host and pid namespace
        self.local_peers = {r: pid for r, (h, pid) in enumerate(peers)
                            if r != world.rank and h == host and _process_state(pid)}
        from mpi4py import MPI
        # asking peers needs MPI calls from this thread while the main thread is inside
        # a collective: only allowed at MPI_THREAD_MULTIPLE (mpi4py's default request)
        self.can_query = MPI.Query_thread() == MPI.THREAD_MULTIPLE
        self._inflight = None  # (what, start time) of the collective in progress
        self._idle_since = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pykern-dist-watchdog",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def watch(self, what):
        return _Watch(self, what)

    def stop(self):
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def describe(self):
        """What this process is doing, for a peer that asks."""
        inflight, now = self._inflight, time.monotonic()
        if inflight is None:
            return f"is computing, outside any collective, for {now - self._idle_since:.1f} s"
        return f"waits in {inflight[0]} for {now - inflight[1]:.1f} s"

    def _run(self):
        while not self._stop.wait(_POLL_S):
            if self.can_query:
                self._answer_queries()
            inflight = self._inflight
            if inflight is None:
                continue
            what, start = inflight
            dead = {r: pid for r, pid in self.local_peers.items()
                    if _process_state(pid) in (None, "Z", "X")}
            if dead:
                names = ", ".join(f"rank {r} (pid {pid})" for r, pid in sorted(dead.items()))
                self.world.abort(f"{names} exited while this process waited in {what}; "
                                 f"stopping all {self.world.size} processes")
            if time.monotonic() - start > self.world.timeout_s:
                self.world.abort(f"{what} did not complete within {self.world.timeout_s:g} s "
                                 f"(PYKERN_COLLECTIVE_TIMEOUT_S). {self._peer_report()}")

    def _answer_queries(self):
        from mpi4py import MPI
        status = MPI.Status()
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=_QUERY_TAG, status=status):
            src = status.Get_source()
            self.comm.recv(source=src, tag=_QUERY_TAG)
            self.comm.send(self.describe(), dest=src, tag=_REPLY_TAG)

    def _peer_report(self, wait_s=2.0):
        """'rank 1 is computing ...; rank 2 did not answer' from every peer's watchdog."""
        if not self.can_query:
            return "(MPI lacks THREAD_MULTIPLE: the peers cannot be asked what they do)"
        me = self.world.rank
        peers = [r for r in range(self.world.size) if r != me]
        for r in peers:
            self.comm.isend(None, dest=r, tag=_QUERY_TAG)
        replies, deadline = {}, time.monotonic() + wait_s
        while len(replies) < len(peers) and time.monotonic() < deadline:
            self._answer_queries()
            for r in peers:
                if r not in replies and self.comm.Iprobe(source=r, tag=_REPLY_TAG):
                    replies[r] = self.comm.recv(source=r, tag=_REPLY_TAG)
            time.sleep(0.01)
        return "; ".join(f"rank {r} " + replies.get(
            r, f"did not answer within {wait_s:g} s (stuck holding the GIL, or gone)")
            for r in peers)


class _Watch:
    __slots__ = ("dog", "what")

    def __init__(self, dog, what):
        self.dog, self.what = dog, what

    def __enter__(self):
        self.dog._inflight = (self.what, time.monotonic())
        return self

    def __exit__(self, *exc):
        self.dog._inflight = None
        self.dog._idle_since = time.monotonic()
        return False


def _install_excepthook(world):
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        world.abort(f"{exc_type.__name__} raised here ends the run; aborting all "
                    f"{world.size} processes")
    sys.excepthook = hook


_current = [None]


def current_world():
    """The initialized World, or None."""
    return _current[0]
