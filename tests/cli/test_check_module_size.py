"""scripts/check_module_size.py, which .ci/run runs before the tests."""
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "check_module_size.py")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)


def test_every_distflow_module_fits():
    done = run()
    assert done.returncode == 0, done.stdout


def test_an_oversized_module_is_named_and_fails(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "big.py").write_text("x = 1\n" * 601)
    (tmp_path / "pkg" / "fits.py").write_text("x = 1\n" * 600)
    done = run(str(tmp_path))
    assert done.returncode == 1
    assert "big.py: 601 lines (the limit is 600)" in done.stdout
    assert "fits.py" not in done.stdout


def test_a_missing_directory_is_refused(tmp_path):
    done = run(str(tmp_path / "nope"))
    assert done.returncode == 2 and "is not a directory" in done.stderr
