"""Loading numeric tables from CSV files: features and a target column, chosen by name.

The loader is strict on purpose. A model trained on a file with a stray text cell or a silent NaN
trains to garbage without complaint, so every bad cell is an error that names the file, the row and
the column, and nothing is guessed or skipped.
"""
import csv as _csv
import hashlib
import math
import os

import numpy as np

__all__ = ["DataError", "load_csv", "read_csv_columns", "sha256_of", "verify_sha256"]

# float64 cells that float32 (the model's dtype) cannot hold would become inf, then NaN after
# standardization: refuse them here, where the file, row and column can still be named.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class DataError(ValueError):
    """A data file that cannot be used as it is: missing column, bad value, wrong checksum."""


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path, expected):
    """Raises DataError unless the file's sha256 is `expected` (hex)."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise DataError("%s: sha256 mismatch: expected %s, got %s. The file was changed or "
                        "damaged; restore the original." % (path, expected, actual))


def read_csv_columns(path, columns=None, delimiter=","):
    """Reads a CSV file with one header row into float64 columns.

    Returns (names, table): the names of the columns read, in the order asked for (all columns
    of the file when `columns` is None), and a float64 array of shape (rows, len(names)).
    Raises DataError naming the file, the row and the column for a missing column, a row with the
    wrong number of fields, an empty or non-numeric cell, or a NaN or infinite value.
    """
    with open_text(path) as f:
        reader = _csv.reader(f, delimiter=delimiter)
        try:
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise DataError("%s: the file is empty; expected a header row" % path) from None
            _check_header(path, header)
            names = list(header) if columns is None else list(columns)
            missing = [c for c in names if c not in header]
            if missing:
                raise DataError("%s: no column %s in the header (columns: %s)"
                                % (path, ", ".join(repr(c) for c in missing), ", ".join(header)))
            where = [header.index(c) for c in names]
            rows = []
            for row_number, fields in enumerate(reader, start=1):
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # a blank line, typically the last one
                if len(fields) != len(header):
                    raise DataError("%s, row %d (line %d): %d fields where the header has %d"
                                    % (path, row_number, line, len(fields), len(header)))
                rows.append([_parse(path, row_number, line, header[i], fields[i]) for i in where])
        except UnicodeDecodeError:
            raise DataError(_not_utf8(path)) from None
        except _csv.Error as e:
            raise DataError("%s, line %d: %s" % (path, reader.line_num, e)) from None
    if not rows:
        raise DataError("%s: no data rows after the header" % path)
    return names, np.array(rows, dtype=np.float64)


def load_csv(path, target, features=None, delimiter=",", dtype=np.float64):
    """Features and target from a CSV file with a header row.

    `target` names the target column; `features` names the feature columns (in that order), or
    None for every other column in file order. Returns (x, y, feature_names) with x of shape
    (rows, features) and y of shape (rows,), both of `dtype`.
    """
    if features is None:
        with open_text(path) as f:
            try:
                header = [h.strip() for h in next(_csv.reader(f, delimiter=delimiter), [])]
            except UnicodeDecodeError:
                raise DataError(_not_utf8(path)) from None
        if target not in header:
            raise DataError("%s: no column %r in the header (columns: %s)"
                            % (path, target, ", ".join(header)))
        features = [h for h in header if h != target]
    else:
        features = list(features)
        if target in features:
            raise DataError("%s: the target column %r is also listed as a feature" % (path, target))
    names, table = read_csv_columns(path, features + [target], delimiter)
    x = table[:, :-1].astype(dtype, copy=False)
    y = table[:, -1].astype(dtype, copy=False)
    return x, y, names[:-1]


def open_text(path):
    """The file for csv.reader: UTF-8 with its byte-order mark dropped (spreadsheets write one,
    and it would otherwise become part of the first column's name). Missing files raise
    FileNotFoundError; a directory or an unreadable file raises DataError."""
    if os.path.isdir(path):
        raise DataError("%s is a directory; expected a CSV file" % path)
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise
    except OSError as e:
        raise DataError("%s cannot be read: %s" % (path, e.strerror or e)) from None


def _not_utf8(path):
    """Where the first byte that is not UTF-8 is (the text layer decodes in blocks, so the
    reader's line count cannot say)."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        raw.decode("utf-8")
        where = ""
    except UnicodeDecodeError as e:
        where = " (byte 0x%02x on line %d)" % (raw[e.start], raw[:e.start].count(b"\n") + 1)
    return "%s is not UTF-8 text%s; save it as UTF-8" % (path, where)


def _check_header(path, header):
    if any(not h for h in header):
        raise DataError("%s: the header has an empty column name: %s" % (path, header))
    seen = set()
    for h in header:
        if h in seen:
            raise DataError("%s: column %r appears twice in the header" % (path, h))
        seen.add(h)


def _parse(path, row_number, line, column, text):
    where = "%s, row %d (line %d), column %r" % (path, row_number, line, column)
    text = text.strip()
    if not text:
        raise DataError("%s: empty value" % where)
    try:
        value = float(text)
    except ValueError:
        raise DataError("%s: %r is not a number" % (where, text)) from None
    if math.isnan(value):
        raise DataError("%s: NaN (missing values are not supported; clean the file first)" % where)
    if math.isinf(value):
        raise DataError("%s: infinite value %r" % (where, text))
    if abs(value) > _FLOAT32_MAX:
        raise DataError("%s: %r is beyond float32's range (about +-3.4e38), which the model "
                        "computes in" % (where, text))
    return value
