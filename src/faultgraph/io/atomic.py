"""Atomic writes: a temporary file in the target folder, then a rename."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from faultgraph.errors import InvalidInputError

__all__ = ["write_atomic", "write_csv_atomic", "write_json_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Create ``path`` by calling ``write`` on a binary file that becomes ``path`` only once complete.

    The file is a temporary one in the same folder, synced, then renamed over ``path``:
    readers see the old file or the new one, never half. Missing parent folders are
    created; the file gets the usual permissions (``0666`` less the umask). If ``write``
    raises, the temporary file is removed and the exception propagates.

    Parameters
    ----------
    path : str or Path
        The file to create or replace.
    write : callable
        ``write(fh)`` writes the whole content to the binary file object ``fh``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidInputError
        When ``path`` is a folder, or its parent exists and is a file.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{str(path)!r} is a folder; give a file path to write")
    if path.parent.exists() and not path.parent.is_dir():
        raise InvalidInputError(f"cannot write {str(path)!r}: {str(path.parent)!r} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file is as readable as any other
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_atomic`).

    Parameters
    ----------
    path : str or Path
        The file to create or replace.
    text : str
        The content.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidInputError
        As :func:`write_atomic`.
    """
    return write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_csv_atomic(path: str | Path, frame: Any, float_format: str = "%.6g") -> Path:
    """Write the DataFrame ``frame`` as CSV to ``path`` atomically.

    Values are written to ``float_format``, but a float index (times as numbers) exactly
    (its ``repr``): a format such as %.6g would write 1000001 and 1000002 both as 1e+06.
    The index is written as the first column.

    Parameters
    ----------
    path : str or Path
        The file to create or replace.
    frame : DataFrame
        The table to write. Not modified.
    float_format : str, default "%.6g"
        printf-style format of float values.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidInputError
        As :func:`write_atomic`.
    """
    if frame.index.dtype.kind == "f":
        frame = frame.set_axis(frame.index.map(repr), axis=0)
    return write_text_atomic(path, frame.to_csv(float_format=float_format))


def _json_default(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (json cannot write ``np.int64``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    NumPy scalars are written as plain numbers; NaN and infinities are refused.

    Parameters
    ----------
    path : str or Path
        The file to create or replace.
    obj : object
        A JSON-serialisable value (dicts, lists, strings, numbers, NumPy scalars).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidInputError
        As :func:`write_atomic`.
    ValueError
        When ``obj`` holds NaN or an infinity.
    TypeError
        When ``obj`` holds a value JSON cannot write.
    """
    return write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n")
