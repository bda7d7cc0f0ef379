"""`distflow bench` on one process: the step time of a config's model and all-reduce sizes."""
import json
import os
import subprocess
import sys

import pytest

from distflow.run import bench
from distflow.run.config import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = ["--steps", "2", "--blocks", "2", "--warmup", "1"]


def cli(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    return subprocess.run([sys.executable, "-m", "distflow.cli", "bench", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def test_json_lines_for_the_step_and_each_size():
    proc = cli("configs/boston.yaml", *QUICK, "--max-bytes", "1K", "--set",
               "train.batch_size=32", "--json")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(ln) for ln in proc.stdout.splitlines()]
    step, sizes = records[0], records[1:]
    assert step["what"] == "step" and step["ranks"] == 1 and step["global_batch"] == 32
    assert step["parameters"] == 13 * 64 + 64 + 64 * 64 + 64 + 64 + 1
    assert step["samples_per_s"] == pytest.approx(32 / (step["step_ms"] / 1e3))
    assert step["steps_timed"] == 4
    assert [r["bytes"] for r in sizes] == [8 * 2**i for i in range(8)]  # 8 B .. 1 KiB, doubling
    for r in sizes:
        assert r["count"] == r["bytes"] // 4 and r["communicator"] == "single"
        assert r["algbw_gbs"] == pytest.approx(r["bytes"] / (r["time_us"] * 1e-6) / 1e9)
        assert r["busbw_gbs"] == 0  # one rank moves nothing: 2(n-1)/n = 0


def test_text_tables():
    proc = cli("--what", "allreduce", "--max-bytes", "16", "--iters", "2", "--blocks", "2")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "busbw = algbw * 2(n-1)/n" in lines[0]
    assert lines[1].split() == ["size", "count", "type", "redop", "time", "algbw", "busbw",
                                "via"]
    assert [ln.split()[:4] + ln.split()[-1:] for ln in lines[3:]] == [
        ["8", "2", "float", "sum", "single"], ["16", "4", "float", "sum", "single"]]


@pytest.mark.parametrize("args, message", [
    (["--max-bytes", "3Q"], "'3Q' is not a size in bytes"),
    (["--min-bytes", "1M", "--max-bytes", "1K"], "--min-bytes 1M is larger than --max-bytes 1K"),
    (["--steps", "0"], "--steps must be at least 1"),
    (["--what", "everything"], "invalid choice: 'everything'"),
    (["configs/missing.yaml"], "missing.yaml"),
])
def test_bad_arguments_exit_2_with_one_message(args, message):
    proc = cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""  # nothing measured before the arguments were checked


def test_parse_bytes():
    assert bench.parse_bytes("8") == 8
    assert bench.parse_bytes("64K") == 64 * 2**10
    assert bench.parse_bytes("32M") == 32 * 2**20
    assert bench.parse_bytes("1g") == 2**30
    with pytest.raises(ConfigError):
        bench.parse_bytes("2")  # less than one float32
