import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests import the op_check helpers


@pytest.fixture(autouse=True)
def _fresh_default_graph():
    """Each test starts with an empty default graph, as a fresh TF1 program would."""
    import distflow as df
    from distflow.framework import context
    df.reset_default_graph()
    yield
    # disable_eager_execution() switches the whole process: a test that fails before switching
    # back must not leave every later test building graphs
    context.reset_defaults()
