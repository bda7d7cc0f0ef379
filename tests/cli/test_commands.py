"""`distflow eval`, `predict`, `info` and `graph`, checked against independent computations."""
import csv
import json
import os
import sys

import numpy as np
import pytest

from cli_support import BOSTON_YAML, distflow, final_arrays, numpy_predict

from distflow.data import boston


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("trained")
    out = base / "run"
    proc = distflow(["train", BOSTON_YAML, "--output", out, "--set", "train.epochs=5",
                     "--no-progress"], cwd=base, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _boston_table():
    with open(boston.boston_csv_path()) as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _write_rows(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _reference(run_dir, x, y):
    arrays, meta = final_arrays(run_dir)
    err = numpy_predict(arrays, meta, x) - y
    return {"mse": np.mean(err ** 2), "rmse": np.sqrt(np.mean(err ** 2)),
            "mae": np.mean(np.abs(err)), "count": len(y)}


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("split", ["test", "train"])
def test_eval_on_the_runs_split(run_dir, ranks, split):
    proc = distflow(["eval", run_dir, "--split", split, "--json"], ranks=ranks, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # printed once, by rank 0
    (x_train, y_train), (x_test, y_test) = boston.load_data()
    x, y = (x_test, y_test) if split == "test" else (x_train, y_train)
    ref = _reference(run_dir, x, y)
    assert result["count"] == ref["count"]
    for key in ("mse", "rmse", "mae"):
        assert result[key] == pytest.approx(ref[key], rel=1e-5), key
    if split == "test":  # the same numbers the training run reported for its final model
        summary = json.loads((run_dir / "summary.json").read_text())
        assert result["mae"] == pytest.approx(summary["test_mae"], rel=1e-6)


def test_eval_on_a_csv_and_a_checkpoint_file(run_dir, tmp_path):
    header, rows = _boston_table()
    _write_rows(tmp_path / "some.csv", header, rows[:50])
    ckpt = sorted((run_dir / "checkpoints").iterdir())[-1]
    proc = distflow(["eval", ckpt, "--csv", tmp_path / "some.csv"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = np.array(rows[:50], dtype=np.float64)
    ref = _reference(run_dir, table[:, :13], table[:, 13])
    assert "data: %s, 50 rows" % (tmp_path / "some.csv") in proc.stdout
    assert "MAE %.4f" % ref["mae"] in proc.stdout and "RMSE %.4f" % ref["rmse"] in proc.stdout


def test_eval_bad_input(run_dir, tmp_path):
    proc = distflow(["eval", tmp_path / "nothing"], timeout=60)
    assert proc.returncode == 2 and "no such checkpoint file or run directory" in proc.stderr
    (tmp_path / "x.csv").write_text("CRIM,ZN\n1,2\n")
    proc = distflow(["eval", run_dir, "--csv", tmp_path / "x.csv"], timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no column" in proc.stderr and "'INDUS'" in proc.stderr


def test_predict_writes_a_prediction_column(run_dir, tmp_path):
    header, rows = _boston_table()
    # features only, in another column order, no target: predict must pick columns by name
    order = list(reversed(range(13)))
    _write_rows(tmp_path / "in.csv", [header[i] for i in order], [[r[i] for i in order]
                                                                  for r in rows[:20]])
    proc = distflow(["predict", run_dir, "--csv", tmp_path / "in.csv", "--out",
                     tmp_path / "out.csv"], ranks=2, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("wrote 20 predictions") == 1
    with open(tmp_path / "out.csv") as f:
        out = list(csv.reader(f))
    assert out[0] == [header[i] for i in order] + ["prediction"]
    assert [r[:-1] for r in out[1:]] == [[r[i] for i in order] for r in rows[:20]]
    arrays, meta = final_arrays(run_dir)
    expected = numpy_predict(arrays, meta, np.array(rows[:20], dtype=np.float64)[:, :13])
    np.testing.assert_allclose([float(r[-1]) for r in out[1:]], expected, rtol=1e-4)
    # without --out the table goes to standard output
    proc = distflow(["predict", run_dir, "--csv", tmp_path / "in.csv"], timeout=120)
    assert proc.stdout.splitlines()[0].endswith(",prediction") and len(proc.stdout.splitlines()) == 21


def test_info(tmp_path):
    import numpy
    proc = distflow(["info"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "Python:" in text and sys.version.split()[0] in text
    assert "NumPy:        %s" % numpy.__version__ in text
    assert "CuPy:" in text and "mpi4py:" in text
    assert "problems: none found" in text or "problems:" in text
    if os.path.isdir("/dev/shm"):  # what reduces big fused buffers (shared_memory.py)
        assert "all-reduce:   shared memory for fused buffers of 32 KiB or more" in text, text
    off = distflow(["info"], timeout=120, env={"DISTFLOW_SHARED_MEMORY": "0"})
    assert "all-reduce:   MPI_Allreduce only (DISTFLOW_SHARED_MEMORY=0)" in off.stdout


def test_info_under_mpirun_maps_ranks_to_devices():
    proc = distflow(["info", "--json"], ranks=2, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)  # one report, from rank 0
    assert [r["rank"] for r in info["ranks"]] == [0, 1]
    assert len({r["pid"] for r in info["ranks"]}) == 2
    assert all(r["device"] in ("cpu", "gpu:0", "gpu:1") for r in info["ranks"])
    assert info["mpi_library"] and info["problems"] == []
    # MPI as training starts it: with distflow's MPICH selection file (MPICH 5), at funneled
    from distflow.distribute import runtime
    want = runtime.mpich_tuning({"MPI_LOCALNRANKS": "2"}, runtime._mpi_library_version(),
                                runtime._usable_cpus()).get(runtime.MPICH_SELECTION_VAR)
    assert info["mpich_selection"] == want
    assert info["mpi_thread_level"] == ("funneled" if want else "multiple")


def test_info_says_what_is_wrong_without_mpi4py(tmp_path):
    fake = tmp_path / "hide" / "mpi4py"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named mpi4py')\n")
    env = {"PYTHONPATH": str(tmp_path / "hide") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = distflow(["info"], env=env, timeout=120)
    assert proc.returncode == 0
    assert "mpi4py:       not installed" in proc.stdout
    assert "note: mpi4py is not installed" in proc.stdout and "distflow[mpi]" in proc.stdout
    # as if started by mpirun: now it is a problem, not a note
    env.update(PMI_RANK="0", PMI_SIZE="2")
    proc = distflow(["info"], env=env, timeout=120)
    problems = proc.stdout.split("problems:")[1]
    assert "mpi4py is not installed" in problems and "started by mpirun" in problems


def test_graph_for_tensorboard_and_graphviz(tmp_path):
    proc = distflow(["graph", BOSTON_YAML, "--out", tmp_path / "g"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    files = sorted(os.listdir(tmp_path / "g"))
    assert "graph.dot" in files and any(f.startswith("events.out.tfevents.") for f in files)
    dot = (tmp_path / "g" / "graph.dot").read_text()
    assert dot.startswith('digraph "distflow" {') and dot.rstrip().endswith("}")
    assert '"features" -> "dense/MatMul"' in dot and 'subgraph "cluster_dense"' in dot
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tmp_path / "g"))
    acc.Reload()
    nodes = {n.name: n for n in acc.Graph().node}
    assert nodes["dense/MatMul"].op == "MatMul"
    assert list(nodes["dense/MatMul"].input) == ["features", "dense/kernel/read"]
    assert any(n.endswith("_Allreduce/FusedAllReduce") for n in nodes), sorted(nodes)
