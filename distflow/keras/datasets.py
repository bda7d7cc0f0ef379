"""`tf.keras.datasets`: `boston_housing.load_data()` reads distflow's bundled copy (checked
against its sha256, never downloaded) and splits it as Keras does (404 training rows, 102 test)."""
from distflow.data import boston_housing  # noqa: F401

__all__ = ["boston_housing"]
