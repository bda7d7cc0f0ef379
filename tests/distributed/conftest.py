import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the tests here import mpi_launch


def pytest_collection_modifyitems(config, items):
    """In-rank tests (marked `mpi`) run inside the `mpirun -n N pytest --with-mpi` jobs that the
    launcher tests start; in the plain run they are deselected rather than reported as skipped."""
    if config.getoption("--with-mpi", default=False):
        return
    keep = [item for item in items if item.get_closest_marker("mpi") is None]
    dropped = [item for item in items if item.get_closest_marker("mpi") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
