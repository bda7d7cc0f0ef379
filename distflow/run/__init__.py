"""Runs: what `distflow train / eval / predict / info / graph` do, as library calls.

    from distflow.run import load_config, train
    config = load_config("configs/boston.yaml", ["optimizer.learning_rate=0.01"])
    metrics = train(config)                      # {'test_mae': 2.5..., 'test_rmse': ...}

The command line (distflow/cli.py) only parses arguments and calls these.
"""
from distflow.run.config import ConfigError, load_config  # noqa: F401
from distflow.run.evaluate import evaluate  # noqa: F401
from distflow.run.graph import export_graph  # noqa: F401
from distflow.run.predict import predict, predict_array  # noqa: F401
from distflow.run.trainer import TrainingDiverged, train  # noqa: F401

__all__ = ["ConfigError", "TrainingDiverged", "evaluate", "export_graph", "load_config", "predict",
           "predict_array", "train"]
