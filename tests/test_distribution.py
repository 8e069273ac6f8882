"""Data-parallel training (pykern.distribution) under `mpirun -n 2` on this machine.

The multi-process tests launch tests/distributed_worker.py with mpirun, each under
a hard timeout (a hang fails the test instead of stalling the suite), and compare
what the processes wrote. They skip when mpirun or mpi4py is missing, unless
PYKERN_REQUIRE_MPI=1 (set by .ci/run), where that is a failure.
"""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import pykern
from child_process import child_env
from pykern import distribution as dist
from pykern import layers
from pykern.backend import devices
from pykern.distribution.replica import Replica
from pykern.distribution.sharding import share
from pykern.models.data import DataHandler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")
HARD_TIMEOUT_S = 120


def _require_mpi():
    missing = [what for what, ok in (("mpirun", shutil.which("mpirun")),
                                     ("mpi4py", importlib.util.find_spec("mpi4py")))
               if not ok]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install openmpi-bin " \
                  f"libopenmpi-dev; pip install pykern[distributed])"
        if os.environ.get("PYKERN_REQUIRE_MPI") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _run(args, processes=None, timeout_s=HARD_TIMEOUT_S, env=None):
    """(return code, output, seconds) of the worker, alone or under mpirun -n processes;
    the whole process group is killed when it outlives timeout_s."""
    command = [sys.executable, WORKER, *args]
    if processes:
        _require_mpi()
        command = ["mpirun", "-n", str(processes), *command]
    # the caller's PYTHONPATH (made absolute), never the repository root: in a fresh
    # checkout its uncompiled pykern/ would shadow the installed package
    full_env = child_env(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                         OMPI_MCA_rmaps_base_oversubscribe="1", **(env or {}))
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=full_env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(args)} hung for {timeout_s} s:\n{out[-3000:]}")
    return proc.returncode, out, time.monotonic() - start


def _results(directory, ranks):
    return [np.load(os.path.join(directory, f"rank{r}.npz")) for r in range(ranks)]


def _weights(result):
    return [result[k] for k in sorted((k for k in result.files if k.startswith("arr_")),
                                      key=lambda k: int(k[4:]))]


def _train(tmp_path, name, args, processes=None, env=None):
    out = tmp_path / name
    out.mkdir()
    rc, log, _ = _run([args[0], str(out), *args[1:]], processes, env=env)
    assert rc == 0, log[-3000:]
    return _results(out, processes or 1)


def _history(result):
    return eval(str(result["history"]))  # the worker wrote repr(dict of float lists)


# --- under mpirun -n 2 ----------------------------------------------------------------------
def test_every_rank_holds_bitwise_equal_weights_after_every_step(tmp_path):
    # BatchNormalization's moving statistics and independent dropout masks per process
    r0, r1 = _train(tmp_path, "two", ["train", "normalization"], processes=2)
    assert len(r0["digests"]) == 12 and list(r0["digests"]) == list(r1["digests"])
    for a, b in zip(_weights(r0), _weights(r1)):
        np.testing.assert_array_equal(a, b)
    assert _history(r0) == _history(r1)


@pytest.mark.parametrize("kind", ["arrays", "shuffle", "sequence", "generator"])
def test_two_processes_on_half_batches_match_one_process_on_whole_batches(tmp_path, kind):
    # 97 samples, batch 32: the last batch has one row, so rank 1's share is empty;
    # a mean loss with an L2 penalty, Adam, validation batches split as well
    one, = _train(tmp_path, "one", ["train", kind])
    r0, r1 = _train(tmp_path, "two", ["train", kind], processes=2)
    assert list(r0["digests"]) == list(r1["digests"])
    for w1, w2 in zip(_weights(one), _weights(r0)):
        np.testing.assert_allclose(w2, w1, rtol=1e-5, atol=1e-6)
    h1, h2 = _history(one), _history(r0)
    assert h1.keys() == h2.keys() and _history(r1) == h2
    for key in h1:  # the logged loss and metrics cover the whole data, not one share
        np.testing.assert_allclose(h2[key], h1[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(r0["evaluate"], one["evaluate"], rtol=1e-5)


@pytest.mark.parametrize("scenario,expect", [
    ("exit", "rank 1"),  # os._exit(3) in rank 1 at step 4
    ("raise", "rank 1 of 2: ValueError raised here ends the run"),
])
def test_a_failed_rank_stops_the_other_with_an_error_naming_it(scenario, expect, tmp_path):
    rc, log, seconds = _run([scenario, str(tmp_path)], processes=2, timeout_s=60)
    assert rc != 0 and expect in log, log[-3000:]
    assert seconds < 60
    assert not list(tmp_path.glob("rank*.npz"))  # nobody finished training


def test_a_stalled_rank_is_reported_when_the_collective_times_out(tmp_path):
    rc, log, seconds = _run(["stall", str(tmp_path)], processes=2, timeout_s=60,
                            env={"PYKERN_COLLECTIVE_TIMEOUT_S": "3"})
    assert rc != 0, log[-3000:]
    assert "rank 0 of 2: the allreduce of gradients at step 4 did not complete within 3 s" \
        in log and "rank 1 is computing, outside any collective" in log, log[-3000:]
    assert seconds < 30


def test_checkpoints_are_written_by_rank_0_only_and_every_rank_resumes(tmp_path):
    one, = _train(tmp_path, "one", ["checkpoint"])
    r0, r1 = _train(tmp_path, "two", ["checkpoint"], processes=2)
    assert list(r1["saves"]) == []
    assert list(r0["saves"]) == list(one["saves"]) == [
        "epoch_0.weights.h5", "ck_1.weights.h5", "epoch_1.weights.h5", "ck_2.weights.h5",
        "epoch_2.weights.h5", "epoch_3.weights.h5"]
    out = tmp_path / "two"
    assert sorted(p.name for p in out.iterdir()) == [
        "backup", "ck_1.weights.h5", "ck_2.weights.h5", "log.csv", "rank0.npz", "rank1.npz"]
    assert len((out / "log.csv").read_text().splitlines()) == 3  # header + 2 epochs, once
    # the second fit, on a new model, resumed on both ranks from rank 0's backup
    assert list(r0["epochs"]) == list(r1["epochs"]) == [2, 3]
    assert list(r0["digests"]) == list(r1["digests"])
    for w1, w2 in zip(_weights(one), _weights(r1)):
        np.testing.assert_allclose(w2, w1, rtol=1e-5, atol=1e-6)


def test_a_different_model_on_one_rank_is_reported_by_name(tmp_path):
    rc, log, _ = _run(["mismatch", str(tmp_path)], processes=2, timeout_s=60)
    assert rc != 0
    assert "model 'sequential' differs between processes: weight 0 is " \
           "'sequential/dense/kernel' (6, 8) float32 on rank 0 but 'sequential/dense/kernel' " \
           "(6, 9) float32 on rank 1" in log, log[-3000:]


def test_a_rank_with_more_batches_than_the_others_is_reported(tmp_path):
    rc, log, _ = _run(["batches", str(tmp_path)], processes=2, timeout_s=60)
    assert rc != 0
    assert "batch count mismatch at step 4: rank(s) [0] ran out of data while rank(s) [1] " \
           "had a batch" in log, log[-3000:]


# --- in this process (a world of one) -------------------------------------------------------
@pytest.fixture
def no_distribution():
    yield
    dist.set_distribution(None)


def test_share_cuts_a_batch_into_ceil_pieces_in_rank_order():
    assert [share(32, r, 2) for r in range(2)] == [(0, 16), (16, 32)]
    assert [share(7, r, 3) for r in range(3)] == [(0, 3), (3, 6), (6, 7)]
    assert [share(1, r, 2) for r in range(2)] == [(0, 1), (1, 1)]  # an empty share


def test_a_single_process_data_parallel_trains_exactly_like_no_distribution(no_distribution):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    y = rng.standard_normal((50, 1)).astype(np.float32)

    def fit():
        pykern.utils.set_random_seed(0)
        m = pykern.Sequential([layers.Input((4,)), layers.Dense(3, activation="tanh"),
                               layers.Dense(1)])
        m.compile("adam", "mse", metrics=["mae"])
        h = m.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return m.get_weights(), h.history
    w0, h0 = fit()
    assert dist.initialize().size == 1 and dist.list_devices() == ["cpu:0"]
    dist.set_distribution(dist.DataParallel())
    assert dist.distribution().num_processes == 1 and dist.get_device_count("cpu") == 1
    w1, h1 = fit()
    assert h0 == h1
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)


def test_initialize_without_a_launcher_refuses_more_processes():
    with pytest.raises(ValueError, match=r"not started by an MPI launcher.*mpirun -n 2"):
        dist.initialize(num_processes=2)


def test_data_parallel_takes_one_device_per_process():
    with pytest.raises(ValueError, match=r"2 devices .* for 1 processes"):
        dist.DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="no DeviceMesh"):
        dist.DataParallel(device_mesh=object())


def test_set_distribution_takes_a_data_parallel_or_none(no_distribution):
    with pytest.raises(ValueError, match="expected a DataParallel"):
        dist.set_distribution("data_parallel")
    d = dist.DataParallel()
    with d.scope():
        assert dist.distribution() is d
    assert dist.distribution() is None


def test_fit_batch_size_must_divide_by_the_processes_as_in_keras():
    model = pykern.Sequential([layers.Input((2,)), layers.Dense(1)])
    fake = Replica(types.SimpleNamespace(auto_shard_dataset=True),
                   types.SimpleNamespace(rank=0, size=2, control=None))
    x = np.zeros((10, 2), np.float32)
    data = DataHandler(model, x, x[:, :1], None, 5, None, True, None, ["output"], True)
    with pytest.raises(ValueError, match=r"batch_size=5 is not divisible by the 2 processes"):
        fake.attach(data, training=True)
    fake.attach(data, training=False)  # evaluation batches may split unevenly


def test_a_loss_summed_over_the_batch_is_refused():
    model = pykern.Sequential([layers.Input((2,)), layers.Dense(1)])
    model.compile("sgd", pykern.losses.MeanSquaredError(reduction="sum"))
    fake = Replica(types.SimpleNamespace(auto_shard_dataset=True),
                   types.SimpleNamespace(rank=0, size=2, control=None))
    with pytest.raises(NotImplementedError, match="reduction='sum'"):
        fake.start(model, model.trainable_weights, model.optimizer)


def test_the_cpu_table_packs_and_unpacks_a_fusion_buffer():
    k = devices.CPU.k
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.array(5.0, np.float32)
    buf = np.zeros(8, np.float32)
    k.pack_(buf, [a, b], [0, 6], scale=2.0)
    np.testing.assert_array_equal(buf, [0, 2, 4, 6, 8, 10, 10, 0])
    out_a, out_b = np.empty_like(a), np.empty_like(b)
    k.unpack_(buf, [out_a, out_b], [0, 6], divisor=2.0)
    np.testing.assert_array_equal(out_a, a)
    assert out_b == b
    with pytest.raises(RuntimeError, match="no distributed world"):
        k.allreduce_sum_(buf)
    with pytest.raises(TypeError, match="meta device holds no values"):
        devices.META.k.allreduce_sum_(buf)
