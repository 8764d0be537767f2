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
    """Create ``path`` by calling ``write`` on a binary file that becomes ``path`` only once
    complete (a temporary file in the same folder, synced, then renamed): readers see the
    old file or the new one, never half."""
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
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_csv_atomic(path: str | Path, frame: Any, float_format: str = "%.6g") -> Path:
    """Write the DataFrame ``frame`` as CSV to ``path`` atomically, values to
    ``float_format`` but a float index (times as numbers) exact: a format such as %.6g
    would write 1000001 and 1000002 both as 1e+06."""
    if frame.index.dtype.kind == "f":
        frame = frame.set_axis(frame.index.map(repr), axis=0)
    return write_text_atomic(path, frame.to_csv(float_format=float_format))


def _json_default(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (json cannot write ``np.int64``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (NumPy scalars as plain numbers)."""
    return write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n")
