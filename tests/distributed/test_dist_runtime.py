"""init() and the job's shape, device naming and shared-GPU detection (with fake device lists),
global-batch helpers: in-process tests, one rank."""
import os
import subprocess
import sys

import numpy as np
import pytest

import distflow as df
import distflow.compat.v1 as tf
import distflow.distribute as dd
from distflow.distribute import devices
from distflow.distribute.runtime import launched_by_mpi
from distflow.distribute.watchdog import parse_timeout

pytestmark = pytest.mark.skipif(launched_by_mpi(), reason="one-process tests")


@pytest.fixture
def fresh():
    dd.shutdown()
    yield
    dd.shutdown()


def _python(code, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_"))}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_one_process_needs_no_mpi4py():
    # mpi4py made unimportable: importing distflow and init() still work, as rank 0 of 1.
    proc = _python("import sys; sys.modules['mpi4py'] = None\n"
                   "import distflow, distflow.distribute as dd\n"
                   "ctx = dd.init()\n"
                   "print(ctx.rank, ctx.size, ctx.local_rank, ctx.is_chief, ctx.device, "
                   "ctx.communicator.name)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "1", "0", "True", "cpu", "single"]


def test_importing_distflow_does_not_import_mpi4py():
    proc = _python("import sys, distflow, distflow.compat.v1, distflow.distribute as dd\n"
                   "dd.init(); print('mpi4py' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_under_a_launcher_without_mpi4py_the_error_says_what_to_install():
    proc = _python("import sys; sys.modules['mpi4py'] = None\n"
                   "import distflow.distribute as dd\ndd.init()",
                   {"PMI_RANK": "0", "PMI_SIZE": "2"})
    assert proc.returncode != 0
    assert "pip install 'distflow[mpi]'" in proc.stderr


@pytest.mark.parametrize("env, expected", [
    ({}, False),
    ({"PMI_RANK": "0", "PMI_SIZE": "4"}, True),          # MPICH hydra
    ({"OMPI_COMM_WORLD_SIZE": "2"}, True),                # Open MPI
    ({"PMIX_RANK": "1"}, True),                           # PMIx launchers
    ({"OMP_NUM_THREADS": "2", "RANK": "1"}, False),       # torchrun's variables are not MPI's
])
def test_launched_by_mpi_reads_the_launchers_variables(env, expected):
    assert launched_by_mpi(env) is expected


def test_init_is_idempotent_and_fills_the_helpers(fresh):
    hook = sys.excepthook
    ctx = dd.init()
    assert dd.init(collective_timeout=5) is ctx  # later calls change nothing
    assert (dd.rank(), dd.size(), dd.local_rank(), dd.local_size()) == (0, 1, 0, 1)
    assert dd.is_chief() and dd.device() == "cpu" and dd.communicator() is ctx.communicator
    assert sys.excepthook is hook  # one rank: an exception is an ordinary exception
    assert "rank 0 of 1" in repr(ctx)


def test_init_names_the_gpu_by_local_rank(fresh):
    assert dd.init(device="gpu").device == "gpu:0"


def test_init_rejects_unknown_devices_and_communicators(fresh):
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu'"):
        dd.init(device="tpu")
    with pytest.raises(ValueError, match="'nccl' moves GPU buffers: it needs device='gpu'"):
        dd.init(communicator="nccl")
    with pytest.raises(ValueError, match="Unknown communicator 'gloo'"):
        dd.init(communicator="gloo")


def test_timeout_comes_from_the_argument_else_the_environment(fresh, monkeypatch):
    monkeypatch.setenv("DISTFLOW_COLLECTIVE_TIMEOUT", "42")
    assert dd.init().collective_timeout == 42.0
    dd.shutdown()
    assert dd.init(collective_timeout=7).collective_timeout == 7.0
    dd.shutdown()
    monkeypatch.delenv("DISTFLOW_COLLECTIVE_TIMEOUT")
    assert dd.init().collective_timeout == dd.DEFAULT_COLLECTIVE_TIMEOUT


@pytest.mark.parametrize("value, expected", [
    (None, None), (0, None), ("0", None), ("off", None), ("2.5", 2.5), (300, 300.0)])
def test_parse_timeout(value, expected):
    assert parse_timeout(value) == expected


@pytest.mark.parametrize("value", ["soon", -1, float("nan")])
def test_parse_timeout_rejects_nonsense(value):
    with pytest.raises(ValueError, match="collective timeout"):
        parse_timeout(value)


# -- devices ----------------------------------------------------------------------------------
def test_local_rank_counts_ranks_on_the_same_host():
    hosts = ["a", "b", "a", "a", "b"]
    assert [devices.local_rank_from_hosts(hosts, r) for r in range(5)] == [
        (0, 3), (0, 2), (1, 3), (2, 3), (1, 2)]


def test_gpu_index_wraps_when_a_host_has_fewer_gpus():
    assert [devices.gpu_index(r, 2) for r in range(4)] == [0, 1, 0, 1]
    assert devices.gpu_index(3, None) == 3


def test_ranks_sharing_a_gpu_are_found_per_host():
    entries = [(0, "a", "0000:01:00.0"), (1, "a", "0000:02:00.0"), (2, "a", "0000:01:00.0"),
               (3, "b", "0000:01:00.0"), (4, "b", "0000:02:00.0")]
    assert devices.find_shared_gpus(entries) == [("a", "0000:01:00.0", [0, 2])]
    one_each = [(r, "h%d" % r, "0000:01:00.0") for r in range(4)]
    assert devices.find_shared_gpus(one_each) == []
    assert dd.check_gpu_sharing(one_each, "nccl", nccl_version=21805, env={}) is None


def test_sharing_a_gpu_with_old_nccl_is_an_error_that_says_what_to_do():
    entries = [(r, "vm", "cuda:0") for r in range(4)]
    with pytest.raises(dd.SharedGPUError) as err:
        dd.check_gpu_sharing(entries, "nccl", nccl_version=21805, env={})
    msg = str(err.value)
    assert "vm: ranks 0, 1, 2, 3 on GPU cuda:0" in msg
    assert "NCCL 2.18.5 is loaded" in msg
    assert "communicator='host-staged'" in msg
    assert "NCCL_MULTI_RANK_GPU_ENABLE=1 with NCCL >= 2.30" in msg


def test_sharing_a_gpu_is_allowed_with_new_nccl_and_the_flag_or_without_nccl():
    entries = [(0, "vm", "cuda:0"), (1, "vm", "cuda:0")]
    with pytest.raises(dd.SharedGPUError):  # the flag alone is not enough
        dd.check_gpu_sharing(entries, "nccl", 22905, env={"NCCL_MULTI_RANK_GPU_ENABLE": "1"})
    with pytest.raises(dd.SharedGPUError):  # nor a new NCCL alone
        dd.check_gpu_sharing(entries, "nccl", 23001, env={})
    advice = dd.check_gpu_sharing(entries, "nccl", 23001, env={"NCCL_MULTI_RANK_GPU_ENABLE": "1"})
    assert "ranks 0, 1 on GPU cuda:0" in advice
    assert "ranks 0, 1" in dd.check_gpu_sharing(entries, "mpi", None, env={})


@pytest.mark.parametrize("raw, expected", [
    (21805, (2, 18, 5)), (23000, (2, 30, 0)), (2708, (2, 7, 8)), ((2, 30), (2, 30, 0)),
    (None, None)])
def test_nccl_versions(raw, expected):
    assert devices.nccl_version_tuple(raw) == expected


# -- global batch -----------------------------------------------------------------------------
@pytest.mark.parametrize("n, size", [(32, 4), (30, 4), (26, 3), (5, 4), (2, 3)])
def test_shards_are_contiguous_cover_the_batch_and_differ_by_at_most_one(n, size):
    x = np.arange(n)
    y = np.arange(n) * 10
    parts = [dd.shard((x, y), rank=r, size=size) for r in range(size)]
    assert all(isinstance(p, tuple) for p in parts)
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), x)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y)
    lengths = [len(p[0]) for p in parts]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


def test_shard_defaults_to_this_job_and_checks_lengths(fresh):
    np.testing.assert_array_equal(dd.shard(np.arange(5)), np.arange(5))
    with pytest.raises(ValueError, match="different lengths"):
        dd.shard([np.arange(3), np.arange(4)], rank=0, size=2)


def test_compute_average_loss_divides_the_sum_by_the_global_batch():
    per_example = np.array([1.0, 2.0, 4.0], np.float32)
    assert float(dd.compute_average_loss(df.constant(per_example), 8)) == pytest.approx(7 / 8)
    losses = tf.placeholder(tf.float32, [None])
    global_batch = tf.placeholder(tf.int32, [])
    avg = dd.compute_average_loss(losses, global_batch)
    with tf.Session() as sess:
        assert sess.run(avg, {losses: per_example, global_batch: 10}) == pytest.approx(0.7)


def test_reduce_metrics_divides_sums_by_counts(fresh):
    means, count = dd.reduce_metrics({"loss": 6.0, "mae": 3.0}, 4)
    assert means == {"loss": 1.5, "mae": 0.75} and count == 4
