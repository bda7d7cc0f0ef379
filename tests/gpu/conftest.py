"""GPU tests: every test marked `gpu` is skipped unless CuPy finds a CUDA device.

They run on a GPU machine with `pytest -m gpu` (scripts/gpu_check.sh runs them with the other
GPU checks). Tests here without the marker check GPU logic that needs no GPU and run everywhere.
"""
import os
import sys

import pytest

from distflow import backend

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "distributed"))  # mpi_launch

HAVE_GPU = backend.gpu_available()


def pytest_collection_modifyitems(config, items):
    if HAVE_GPU:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU and CuPy (distflow.backend.gpu_available() "
                                   "is False here)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture
def cp():
    return backend.cupy()
