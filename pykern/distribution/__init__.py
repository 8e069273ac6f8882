"""Keras 3's distribution API for data-parallel training across processes.

    import pykern
    pykern.distribution.set_distribution(pykern.distribution.DataParallel())
    model.fit(x, y, batch_size=256)           # $ mpirun -n 4 python train.py

Each process holds a replica of the model and trains on its share of every
global batch (`batch_size` is global, as in Keras); gradients are averaged by
one allreduce per step, so every replica takes the same optimizer step; logs
are computed from the metrics summed over all processes; only rank 0 prints
progress and writes checkpoints. The transport is MPI through mpi4py (install
OpenMPI from the system packages and `pip install pykern[distributed]`); for
CUDA tensors an NCCL transport is planned and not built (transports.py).
Details: replica.py (the step), sharding.py (the data), world.py (failures).
"""
import contextlib
import os

from pykern.distribution.world import DistributionError, World, launched_by_mpi

__all__ = ["initialize", "list_devices", "get_device_count", "DataParallel",
           "set_distribution", "distribution", "DistributionError"]

_state = {"world": None, "distribution": None}


def initialize(job_addresses=None, num_processes=None, process_id=None, *, timeout_s=None):
    """Joins the processes of a distributed run (Keras 3's signature).

    Launched by `mpirun`/`mpiexec`, the processes are MPI's world and the
    arguments (or KERAS_DISTRIBUTION_NUM_PROCESSES / _PROCESS_ID), when given, must
    agree with it; `job_addresses` is not needed (the launcher connects the
    processes) and is ignored. Without a launcher only a single process is
    possible. `timeout_s` (default 600, or PYKERN_COLLECTIVE_TIMEOUT_S) bounds
    every collective: a process that waits longer reports what each peer is doing
    and stops the job. Unless OMP_NUM_THREADS is set, each process uses its share
    of this host's cores (cores / processes on the host).
    """
    del job_addresses  # MPI's launcher wires the processes
    if num_processes is None and "KERAS_DISTRIBUTION_NUM_PROCESSES" in os.environ:
        num_processes = int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and "KERAS_DISTRIBUTION_PROCESS_ID" in os.environ:
        process_id = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])
    world = _state["world"]
    if world is None:
        world = _mpi_world(timeout_s) if launched_by_mpi() else World(timeout_s=timeout_s)
    if num_processes is not None and num_processes != world.size:
        raise ValueError(f"initialize: num_processes={num_processes} but "
                         + (f"the MPI launcher started {world.size} processes"
                            if launched_by_mpi() else
                            "this process was not started by an MPI launcher; start the "
                            f"processes with `mpirun -n {num_processes} python ...`"))
    if process_id is not None and process_id != world.rank:
        raise ValueError(f"initialize: process_id={process_id} but MPI gave this process "
                         f"rank {world.rank}")
    _state["world"] = world
    return world


def _mpi_world(timeout_s):
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("pykern.distribution: this process was started by an MPI launcher "
                          "but mpi4py is not installed: `pip install pykern[distributed]` "
                          "(OpenMPI itself: `apt-get install openmpi-bin libopenmpi-dev`)"
                          ) from None
    from pykern.backend import devices
    from pykern.distribution.transports import transport_for
    world = World(MPI.COMM_WORLD, timeout_s)
    world.control = transport_for("cpu", world)
    devices.CPU.k._transport = world.control
    _share_cores(world)
    return world


def _share_cores(world):
    if "OMP_NUM_THREADS" in os.environ or world.local_size < 2:
        return
    from pykern.backend import config
    usable = len(os.sched_getaffinity(0))
    config.set_num_threads(max(1, min(usable, (os.cpu_count() or 1) // world.local_size)))


def _world():
    return _state["world"] or initialize()


def list_devices(device_type=None):
    """The devices of all processes, one per process: 'cpu:0', 'cpu:1', ... (a GPU
    per process, 'gpu:N', once the NCCL transport exists)."""
    world = _world()
    if device_type not in (None, "cpu", "CPU"):
        return []
    return [f"cpu:{r}" for r in range(world.size)]


def get_device_count(device_type=None):
    return len(list_devices(device_type))


class DataParallel:
    """Data parallelism: one replica of the model per process, each training on its
    share of every global batch. `devices` (default `list_devices()`) must name
    one device per process; auto_shard_dataset=False means each process already
    reads its own data (then every batch it yields is its share, whole)."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        if device_mesh is not None:
            raise ValueError("DataParallel: pykern has no DeviceMesh; pass devices (one per "
                             "process) or nothing")
        self._world = _world()
        devices = list_devices() if devices is None else list(devices)
        if len(devices) != self._world.size:
            raise ValueError(f"DataParallel: got {len(devices)} devices {devices} for "
                             f"{self._world.size} processes; pykern runs one replica per "
                             f"process, so launch one process per device")
        self._devices = devices
        self._auto_shard_dataset = bool(auto_shard_dataset)

    @property
    def devices(self):
        return list(self._devices)

    @property
    def num_processes(self):
        return self._world.size

    @property
    def process_id(self):
        return self._world.rank

    @property
    def num_model_replicas(self):
        return self._world.size

    @property
    def batch_dim_name(self):
        return "batch"

    @property
    def auto_shard_dataset(self):
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value):
        self._auto_shard_dataset = bool(value)

    @contextlib.contextmanager
    def scope(self):
        """Makes this distribution current inside the block."""
        previous = distribution()
        set_distribution(self)
        try:
            yield
        finally:
            set_distribution(previous)

    def _replica(self, model, current):
        """The Replica that keeps `model` in step (`current`, reused when it is this
        distribution's), or None for a single process."""
        if self._world.size == 1:
            return None
        if current is not None and current.distribution is self and \
                current.auto_shard == self._auto_shard_dataset:
            return current
        from pykern.distribution.replica import Replica
        return Replica(self, self._world)

    def __repr__(self):
        return (f"<DataParallel process {self._world.rank} of {self._world.size}, devices="
                f"{self._devices}>")


def set_distribution(value):
    """Makes `value` (a DataParallel, or None) the current distribution."""
    if value is not None and not isinstance(value, DataParallel):
        raise ValueError(f"set_distribution: expected a DataParallel or None, got {value!r}")
    _state["distribution"] = value


def distribution():
    """The current distribution, or None."""
    return _state["distribution"]


def _replica_for(model, current=None):
    """The trainer's entry point: a Replica under a multi-process distribution."""
    d = _state["distribution"]
    return None if d is None else d._replica(model, current)


def _is_chief():
    """False on the processes of a distributed run other than rank 0: they train
    but neither print progress nor write checkpoints."""
    d = _state["distribution"]
    return d is None or d.process_id == 0


def _from_chief(obj, what):
    """Rank 0's `obj` on every process of the current distribution."""
    d = _state["distribution"]
    if d is None or d.num_processes == 1:
        return obj
    return d._world.control.broadcast_object(obj, 0, what)
