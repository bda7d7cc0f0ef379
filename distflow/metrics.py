"""`df.metrics`: the sum-and-count metrics of distflow.nn.metrics under TF's namespace."""
from distflow.nn.metrics import *  # noqa: F401,F403
from distflow.nn.metrics import __all__  # noqa: F401
