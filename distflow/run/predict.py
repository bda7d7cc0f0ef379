"""`predict`: a saved model's predictions for the rows of a CSV file.

The file needs the model's feature columns (by name, in any order; other columns, the target
included, may be there or not). Features go through the standardization saved with the model,
never one fitted on the new rows. The output is the input table, every column copied as text,
with a `prediction` column added.
"""
import csv
import io

import numpy as np

from distflow.run.evaluate import csv_features, load_model, standardizer_of

PREDICTION_COLUMN = "prediction"


def _predict(replica, meta, x):
    scaler = standardizer_of(meta)
    x = np.asarray(x, dtype=np.float64)
    if scaler is not None:
        x = scaler.transform(x)
    return replica.predict(x.astype(np.float32))


def predict_array(path, x, device="cpu"):
    """Predictions (float64, one per row) of the saved model at `path` for raw features `x`."""
    replica, meta = load_model(path, device=device)
    try:
        return _predict(replica, meta, x)
    finally:
        replica.close()


def predict(path, csv_in, csv_out=None, device="cpu"):
    """Writes `csv_in` plus a prediction column to `csv_out` (a path, or a file object; None
    returns the text). Returns (predictions, the text or the output path)."""
    replica, meta = load_model(path, device=device)
    try:
        x, _ = csv_features(csv_in, meta, need_target=False)
        predictions = _predict(replica, meta, x)
    finally:
        replica.close()
    with open(csv_in, newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(cell.strip() for cell in r)]
    header, body = rows[0], rows[1:]
    column = PREDICTION_COLUMN if PREDICTION_COLUMN not in header else "predicted_" + meta["target"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header + [column])
    for row, value in zip(body, predictions):
        writer.writerow(row + ["%.6g" % value])
    text = buffer.getvalue()
    if csv_out is None:
        return predictions, text
    if hasattr(csv_out, "write"):
        csv_out.write(text)
        return predictions, csv_out
    with open(csv_out, "w", newline="") as f:
        f.write(text)
    return predictions, csv_out
