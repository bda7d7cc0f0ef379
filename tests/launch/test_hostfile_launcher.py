"""The hostfile launcher (`mpirun -f HOSTFILE`, launch/hostfile.example) on two simulated nodes:
hydra starts one proxy per host line without ssh (`-launcher fork`; 127.0.0.1 and 127.0.0.2 are
both this machine), and each rank runs in a UTS namespace of its own whose host name is its node's,
so MPI's idea of the nodes and every host name agree as they would on two machines. The ranks must
then learn the right local rank and size, keep the shared-memory all-reduce to one node, and train
Boston as one process does."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from launch_support import BOSTON_YAML, clean_env, find_mpirun, mpirun_train, results

from distflow.distribute import runtime
from distflow.distribute.runtime import launched_by_mpi

NODES, PER_NODE = 2, 2
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers", "placement.py")


def _why_not():
    if launched_by_mpi():
        return "already running under an MPI launcher (this test starts its own jobs)"
    mpirun = find_mpirun()
    if importlib.util.find_spec("mpi4py") is None or mpirun is None:
        return "mpi4py and mpirun are needed (pip install 'distflow[mpi]')"
    try:
        version = subprocess.run([mpirun, "--version"], capture_output=True, text=True,
                                 timeout=20).stdout
        uts = subprocess.run(["unshare", "--uts", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run mpirun or unshare: %s" % e
    if "HYDRA" not in version:
        return "simulated nodes need MPICH's mpirun (hydra's -launcher fork); %s is not" % mpirun
    if uts.returncode != 0:
        return ("simulated nodes need a UTS namespace per rank (`unshare --uts`, root or "
                "CAP_SYS_ADMIN): %s" % uts.stderr.decode(errors="replace").strip())
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")]


def on_two_nodes(tmp_path, args, timeout=300):
    """`mpirun -launcher fork -f HOSTFILE -n 4 ARGS`, with HOSTFILE in launch/hostfile.example's
    format naming two hosts of 2 slots, and rank r running as host node<r // 2>."""
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("".join("127.0.0.%d:%d\n" % (n + 1, PER_NODE) for n in range(NODES)))
    as_node = 'hostname "node$((PMI_RANK / %d))" && exec "$@"' % PER_NODE
    cmd = [find_mpirun(), "-launcher", "fork", "-f", str(hostfile), "-n", str(NODES * PER_NODE),
           "unshare", "--uts", "sh", "-c", as_node, "sh", *args]
    # The two nodes share this machine's CPUs, which each node's count of ranks (MPI_LOCALNRANKS)
    # cannot show: MPICH's selection for more ranks than CPUs, else its spinning all-reduce makes
    # 4 ranks on 2 busy cores take minutes.
    env = clean_env({runtime.MPICH_SELECTION_VAR: runtime.MPICH_OVERSUBSCRIBED_FILE})
    return subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_each_rank_knows_its_node_and_local_rank(tmp_path):
    proc = on_two_nodes(tmp_path, [sys.executable, WORKER, str(tmp_path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ranks = [json.loads((tmp_path / ("rank-%d.json" % r)).read_text())
             for r in range(NODES * PER_NODE)]
    hosts = ["node%d" % (r // PER_NODE) for r in range(NODES * PER_NODE)]
    for r in ranks:
        assert r["size"] == NODES * PER_NODE
        assert r["host"] == r["hostname"] == hosts[r["rank"]]
        assert (r["local_rank"], r["local_size"]) == (r["rank"] % PER_NODE, PER_NODE), r
        assert r["hosts"] == hosts
        assert r["device"] == "cpu"
        # 64 KiB would go through /dev/shm on one host; across two nodes MPI must carry it
        assert r["fused_path"] == "mpi" and r["allreduce_ok"], r


def test_distflow_info_maps_ranks_to_the_two_nodes(tmp_path):
    proc = on_two_nodes(tmp_path, [sys.executable, "-m", "distflow", "info", "--json"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads(proc.stdout)  # rank 0 alone prints
    assert [(r["rank"], r["host"], r["local_rank"]) for r in info["ranks"]] == [
        (0, "node0", 0), (1, "node0", 1), (2, "node1", 0), (3, "node1", 1)]
    assert info["problems"] == []


def test_boston_on_two_nodes_trains_as_one_process(tmp_path):
    epochs = ("--set", "train.epochs=10")
    proc = on_two_nodes(tmp_path, [sys.executable, "-m", "distflow", "train", BOSTON_YAML,
                                   "--device", "cpu", "--output", str(tmp_path / "nodes"),
                                   *epochs])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("distflow: trained 10 epochs") == 1, proc.stdout
    assert "on 4 ranks (cpu; gradients through mpi)" in proc.stdout
    one = mpirun_train(1, tmp_path / "one", tmp_path, epochs)
    assert one.returncode == 0, one.stderr

    summary_n, weights_n = results(tmp_path / "nodes")
    summary_1, weights_1 = results(tmp_path / "one")
    assert summary_n["ranks"] == 4 and summary_1["ranks"] == 1
    for key in ("test_rmse", "test_mae", "train_rmse", "train_mae"):
        assert summary_n[key] == pytest.approx(summary_1[key], rel=1e-4), key
    assert sorted(weights_n) == sorted(weights_1)
    for name in weights_1:  # 4 partial sums instead of 1: only the float summation order differs
        np.testing.assert_allclose(weights_n[name], weights_1[name], rtol=1e-3, atol=1e-4,
                                   err_msg=name)


def test_nodes_with_different_devices_stop_with_one_message(tmp_path):
    """node0's ranks choose the CPU, node1's GPUs (as `auto` does when only node1 has GPUs)."""
    worker = os.path.join(os.path.dirname(WORKER), "device_kinds.py")
    proc = on_two_nodes(tmp_path, [sys.executable, worker, str(tmp_path), str(PER_NODE)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for r in range(NODES * PER_NODE):
        said = (tmp_path / ("rank-%d.txt" % r)).read_text()
        assert "but they chose cpu for ranks 0, 1 on node0; gpu for ranks 2, 3 on node1." in said
