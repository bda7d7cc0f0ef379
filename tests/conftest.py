import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests import the op_check helpers


@pytest.fixture(autouse=True)
def _fresh_default_graph():
    """Each test starts with an empty default graph, as a fresh TF1 program would."""
    import distflow as df
    df.reset_default_graph()
    yield
