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

__all__ = ["check_writable", "commit_staged", "json_text", "stage_file", "write_atomic", "write_csv_atomic",
           "write_json_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Create ``path`` by calling ``write`` on a binary file that becomes ``path`` only once complete.

    The file is a temporary one in the same folder, synced, then renamed over ``path``:
    readers see the old file or the new one, never half. A ``path`` that exists and is no
    regular file (a device such as ``/dev/null``, a pipe) is written into instead. Missing
    parent folders are created; the file gets the usual permissions (``0666`` less the
    umask). If ``write``
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
    if path.exists() and not path.is_file():  # a device or a pipe (/dev/null, /dev/stdout): written
        with open(path, "wb") as fh:  # into, not renamed over (as root, that replaced /dev/null itself)
            write(fh)
        return path
    tmp = stage_file(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_writable(path: str | Path, name: str, *, folder: bool = False) -> Path:
    """``path``, once a file could be created where it will go (tried before any work).

    The file is created and removed in the folder ``path`` itself when ``folder`` and it
    exists, else in its nearest existing ancestor (the folders between are created when
    written); a device or pipe is checked for write access instead.

    Parameters
    ----------
    path : str or Path
        The file (or, with ``folder``, the folder) to be written.
    name : str
        The option or argument, named in the message (``"--out"``).
    folder : bool, default False
        ``path`` is a folder to write files into.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InvalidInputError
        When nothing can be created there (no permission, a read-only or full file system,
        an immutable folder).
    """
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():  # a device or a pipe: written into
        if not os.access(path, os.W_OK):
            raise InvalidInputError(f"{name} {str(path)!r} cannot be written: permission denied")
        return path
    where = path if folder and path.is_dir() else next((q for q in path.parents if q.exists()), Path("."))
    try:
        fd, probe = tempfile.mkstemp(prefix=".faultgraph-write-check-", dir=where)
    except OSError as exc:
        raise InvalidInputError(f"{name} {str(path)!r} cannot be written: {exc.strerror or exc} in "
                                f"{str(where)!r}") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)
    return path


def stage_file(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """A complete, synced temporary file beside ``path``, for :func:`commit_staged`.

    For several files that must change together: each is staged, then all are put in
    place at once.

    Parameters
    ----------
    path : str or Path
        The file it will become (its folder must exist).
    write : callable
        ``write(fh)`` writes the whole content to the binary file object ``fh``.

    Returns
    -------
    Path
        The temporary file (removed again if ``write`` raises).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file is as readable as any other
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def commit_staged(staged: list[tuple[Path, Path]]) -> None:
    """Rename each staged temporary file over its destination, in order, all or none.

    If one rename fails (or is interrupted), the files already replaced get their old
    content back (kept as hard links, or copies, until the end), so the destinations hold
    the old files or the new ones. The temporary files are removed in any case. A crash of
    the machine between two renames can still leave a mix: a model folder's checksum then
    refuses it.

    Parameters
    ----------
    staged : list of (Path, Path)
        ``(temporary file from stage_file, destination)`` pairs.

    Raises
    ------
    OSError
        The failing rename's error, after the rollback.
    """
    import shutil
    import uuid

    done: list[tuple[Path, Path, Path | None]] = []  # (staged, destination, its old content or None)
    made: list[Path] = []  # the backups
    try:
        for tmp, dest in staged:
            dest = Path(dest)
            old = None
            if dest.exists():
                old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.old")
                made.append(old)
                try:
                    os.link(dest, old)
                except OSError:  # no hard links here: a copy
                    shutil.copy2(dest, old)
            done.append((Path(tmp), dest, old))  # before the rename: an interrupt right after it rolls back too
            os.replace(tmp, dest)
    except BaseException:
        for tmp, dest, old in reversed(done):
            if tmp.exists():  # its rename did not happen: the destination is as it was
                continue
            try:
                if old is not None:
                    os.replace(old, dest)
                else:
                    dest.unlink(missing_ok=True)
            except OSError:  # pragma: no cover - the rest are still put back
                continue
        raise
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        for old in made:
            old.unlink(missing_ok=True)


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


def json_text(obj: Any) -> str:
    """``obj`` as the indented JSON every faultgraph file holds (NumPy scalars as plain
    numbers, NaN and infinities refused), with a final newline.

    Parameters
    ----------
    obj : object
        A JSON-serialisable value (dicts, lists, strings, numbers, NumPy scalars).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When ``obj`` holds NaN or an infinity.
    TypeError
        When ``obj`` holds a value JSON cannot write.
    """
    return json.dumps(obj, indent=2, allow_nan=False, default=_json_default) + "\n"


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
    return write_text_atomic(path, json_text(obj))
