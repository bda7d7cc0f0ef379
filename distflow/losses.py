"""`df.losses`: the losses of distflow.nn.losses under TF's namespace."""
from distflow.nn.losses import *  # noqa: F401,F403
from distflow.nn.losses import __all__  # noqa: F401
