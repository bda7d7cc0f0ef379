"""`predict`: a saved model's predictions for the rows of a CSV file.

The file needs the model's feature columns (by name, in any order; other columns, the target
included, may be there or not). Features go through the standardization saved with the model,
never one fitted on the new rows. The output is the input table, every column copied as text,
with a `prediction` column added; for a classifier, `predicted_class` and one `probability_K`
column per class instead. An image model reads each image as one row of its pixels, named as
the training data's (pixel_ROW_COL for the digits, row-major), raw values as in the data.
"""
import csv
import io
import os

import numpy as np

from distflow.data.csv import open_text
from distflow.run import inputs
from distflow.run.config import ConfigError
from distflow.run.evaluate import csv_features, load_model, log_softmax, standardizer_of

PREDICTION_COLUMN = "prediction"
CLASS_COLUMN = "predicted_class"


def _predict(replica, meta, x):
    """Regression: one float64 prediction per row; classifier: (rows, classes) probabilities."""
    scaler = standardizer_of(meta)
    x = np.asarray(x, dtype=np.float64)
    if scaler is not None:
        x = scaler.transform(x)
    if meta.get("input_shape"):
        x = x.reshape((-1,) + tuple(meta["input_shape"]))
    if meta.get("pixel_scale") is not None:
        x = inputs.scale_pixels(x, meta["pixel_scale"])
    out = replica.predict(x.astype(np.float32))
    return np.exp(log_softmax(out)) if meta.get("classes") else out


def predict_array(path, x, device="cpu"):
    """Predictions (float64, one per row) of the saved model at `path` for raw features `x`
    (an image model: one flattened image per row); a classifier's are (rows, classes)
    probabilities."""
    replica, meta = load_model(path, device=device)
    try:
        return _predict(replica, meta, x)
    finally:
        replica.close()


def predict(path, csv_in, csv_out=None, device="cpu"):
    """Writes `csv_in` plus a prediction column to `csv_out` (a path, or a file object; None
    returns the text). Returns (predictions, the text or the output path)."""
    if isinstance(csv_out, (str, os.PathLike)):
        check_writable(csv_out, "--out")  # before the work, not after it
    replica, meta = load_model(path, device=device)
    try:
        x, _ = csv_features(csv_in, meta, need_target=False)
        predictions = _predict(replica, meta, x)
    finally:
        replica.close()
    with open_text(csv_in) as f:
        rows = [r for r in csv.reader(f) if r and any(cell.strip() for cell in r)]
    header, body = rows[0], rows[1:]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if meta.get("classes"):
        columns = [CLASS_COLUMN] + ["probability_%d" % k for k in range(meta["classes"])]
        clash = [c for c in columns if c in header]
        if clash:
            raise ConfigError("--csv %s already has a column %s: rename it, the predictions are "
                              "written under that name" % (csv_in, clash[0]))
        writer.writerow(header + columns)
        for row, p in zip(body, predictions):
            writer.writerow(row + [str(int(np.argmax(p)))] + ["%.6g" % v for v in p])
    else:
        column = PREDICTION_COLUMN if PREDICTION_COLUMN not in header else \
            "predicted_" + meta["target"]
        writer.writerow(header + [column])
        for row, value in zip(body, predictions):
            writer.writerow(row + ["%.6g" % value])
    text = buffer.getvalue()
    if csv_out is None:
        return predictions, text
    if hasattr(csv_out, "write"):
        csv_out.write(text)
        return predictions, csv_out
    try:
        with open(csv_out, "w", newline="") as f:
            f.write(text)
    except OSError as e:
        raise ConfigError("--out %s cannot be written: %s" % (csv_out, e.strerror or e)) from None
    return predictions, csv_out


def check_writable(path, option):
    """ConfigError unless a file can be created (or replaced) at `path`."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigError("%s %s is a directory; expected a file name" % (option, path))
    if not os.path.isdir(parent):
        raise ConfigError("%s %s: %s %s" % (option, path, parent, "is not a directory" if
                                             os.path.exists(parent) else "does not exist"))
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path)
                                                    and not os.access(path, os.W_OK)):
        raise ConfigError("%s %s cannot be written: permission denied" % (option, path))
