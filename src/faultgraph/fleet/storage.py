"""Where the fleet's files live: local folders or fsspec URLs (``s3://``, ``gs://``, ``file://``).

Every function here runs where the data is read or written, on a worker: the client
only lists entities and passes paths. A model folder is published atomically per entity
(a local folder is renamed into place; on an object store the files are uploaded with
``fleet.json``, the fingerprint that marks the model current, last).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from faultgraph.errors import InvalidInputError

__all__ = ["FINGERPRINT", "MAX_NAME_BYTES", "METRIC_SUFFIXES", "check_entity_name", "digest", "entity_name",
           "entity_problem", "is_local", "join", "local_file", "local_folder", "publish_folder", "publish_file",
           "read_json", "remove", "url_fs"]

#: The file beside model.json that says what a fleet model was fitted from.
FINGERPRINT = "fleet.json"
#: Metrics files a source folder may hold, longest first: the CSV and Parquet formats of
#: ``read_metrics``. Its ``.txt`` (CSV) is left out, and a ``.json`` is taken only when it is a
#: Prometheus export (``fleet.jobs.scan_source``): in a folder of a fleet's data such files are
#: notes, READMEs and indexes far more often than metrics.
METRIC_SUFFIXES = (".csv.gz", ".csv.bz2", ".parquet", ".csv", ".tsv", ".pq")
#: The longest entity name, in bytes of UTF-8: it names a folder and files (``<entity>.csv``) whose
#: atomic writers add up to 18 characters (``.<entity>.tmp-<token>``), within the 255 bytes a file
#: name may have on common filesystems.
MAX_NAME_BYTES = 200


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - the dask extra brings it
        raise ImportError("reading fleet data needs fsspec: pip install 'faultgraph[dask]'") from exc
    return fsspec


def url_fs(url: str | Path) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it (a plain path is local).

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL (``s3://``, ``gs://``, ``file://``, ...).

    Returns
    -------
    tuple of (fsspec.AbstractFileSystem, str)

    Raises
    ------
    ImportError
        When fsspec (the ``dask`` extra) is not installed.
    """
    return _fsspec().core.url_to_fs(str(url))


def is_local(url: str | Path) -> bool:
    """Whether ``url`` is a plain path or a ``file://`` URL.

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL.

    Returns
    -------
    bool
    """
    fs, _ = url_fs(url)
    return "file" in _protocols(fs)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def join(base: str | Path, *parts: str) -> str:
    """``base/part/...`` for a path or a URL.

    Parameters
    ----------
    base : str or Path
        The folder; trailing slashes are dropped.
    *parts : str
        Names to append, joined with ``/``.

    Returns
    -------
    str
    """
    text = str(base).rstrip("/")
    return "/".join([text, *parts]) if text else "/".join(parts)


def entity_name(filename: str) -> str | None:
    """The entity of a metrics file: its name less a known extension (``web-01.csv.gz``
    → ``web-01``); ``None`` for other files and hidden ones.

    Parameters
    ----------
    filename : str
        A file name (no folder); extensions (:data:`METRIC_SUFFIXES`) match case-insensitively.

    Returns
    -------
    str or None
    """
    if filename.startswith("."):
        return None
    lower = filename.lower()
    for suffix in METRIC_SUFFIXES:
        if lower.endswith(suffix) and len(filename) > len(suffix):
            return filename[: -len(suffix)]
    return None


def entity_problem(name: Any) -> str | None:
    """Why ``name`` cannot be an entity's name (a folder and file name), or ``None`` when it can.

    Parameters
    ----------
    name : Any
        The entity name (converted with ``str``).

    Returns
    -------
    str or None
        One sentence naming the value and what is allowed; ``None`` for a good name.
    """
    text = str(name)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        shown = f"{text[:40]}...' ({size} bytes)" if len(text) > 40 else f"{text}' ({size} bytes)"
        return (f"entity name '{shown} is too long; at most {MAX_NAME_BYTES} bytes of UTF-8, since it names "
                "a folder and files")
    if (not text.strip() or text.startswith(".") or any(ch in text for ch in "/\\\0*?[]")
            or text != text.strip()):
        return (f"entity name {text!r} cannot name a folder; an entity name must be non-empty, not start "
                "with '.', and hold no '/', '\\', '*', '?', '[', ']' or surrounding spaces")
    return None


def check_entity_name(name: Any, where: str) -> str:
    """``name`` as an entity name usable as a folder name.

    Parameters
    ----------
    name : Any
        The entity name (converted with ``str``).
    where : str
        Where the name came from, for the error message.

    Returns
    -------
    str
        ``str(name)``.

    Raises
    ------
    InvalidInputError
        When the name is blank, starts with ``.``, holds ``/``, ``\\``, a NUL or a glob
        character (``*?[]``: on an object store a path holding one is expanded, so ``*``
        would name every entity), has surrounding spaces, or is longer than
        :data:`MAX_NAME_BYTES` bytes (:func:`entity_problem`).
    """
    problem = entity_problem(name)
    if problem is not None:
        raise InvalidInputError(f"{where}: {problem}")
    return str(name)


def digest(url: str | Path) -> str:
    """The SHA-256 of a file's content (read in 1 MiB blocks).

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL.

    Returns
    -------
    str
        The hex digest.
    """
    fs, path = url_fs(url)
    h = hashlib.sha256()
    with fs.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_json(url: str | Path) -> Any:
    """A JSON file's content, or ``None`` when it is missing or unreadable.

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL.

    Returns
    -------
    Any
        The decoded document, or ``None``.
    """
    fs, path = url_fs(url)
    try:
        with fs.open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def remove(url: str | Path) -> bool:
    """Delete the file ``url`` (path or URL) when it exists.

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL.

    Returns
    -------
    bool
        Whether a file was there and is gone.

    Raises
    ------
    OSError
        When the file exists and cannot be deleted.
    """
    fs, path = url_fs(url)
    if not fs.isfile(path):
        return False
    fs.rm_file(path)
    return True


@contextmanager
def local_file(url: str | Path) -> Iterator[Path]:
    """A local path holding the file ``url`` (itself when local, else a temporary copy
    with the same name, removed afterwards).

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL.

    Yields
    ------
    Path
    """
    fs, path = url_fs(url)
    if "file" in _protocols(fs):
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="faultgraph-") as tmp:
        local = Path(tmp) / Path(path).name
        fs.get(path, str(local))
        yield local


@contextmanager
def local_folder(url: str | Path) -> Iterator[Path]:
    """A local folder holding the folder ``url`` (itself when local, else a temporary
    copy, removed afterwards).

    Parameters
    ----------
    url : str or Path
        A local path or an fsspec URL.

    Yields
    ------
    Path
    """
    fs, path = url_fs(url)
    if "file" in _protocols(fs):
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="faultgraph-") as tmp:
        local = Path(tmp) / "folder"
        fs.get(path.rstrip("/") + "/", str(local), recursive=True)
        yield local


def publish_folder(build: Any, dest: str | Path, last: str = FINGERPRINT) -> None:
    """Write a folder at ``dest`` atomically.

    ``build(folder)`` fills a fresh local folder, which then replaces ``dest`` as a whole
    (local: two renames, a reader never sees a mix of old and new files; object store: the
    files are uploaded, ``last`` after the rest, once the old ``last`` has been removed).

    Parameters
    ----------
    build : callable
        ``build(folder: Path)`` writes the folder's files (the folder does not exist yet).
    dest : str or Path
        The folder to replace: a local path or an fsspec URL.
    last : str, default FINGERPRINT
        On an object store, the file uploaded last (it marks the folder complete).

    Raises
    ------
    InvalidInputError
        When a local ``dest`` exists and is a file.
    """
    fs, path = url_fs(dest)
    if "file" in _protocols(fs):
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        tmp = final.parent / f".{final.name}.tmp-{token}"
        old = final.parent / f".{final.name}.old-{token}"
        try:
            build(tmp)
            if final.exists():
                if not final.is_dir():
                    raise InvalidInputError(f"{str(final)!r} is a file; a model folder is needed there")
                os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                if old.exists() and not final.exists():  # the old folder back, not neither
                    os.replace(old, final)
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if final.exists():  # never the only copy left
                shutil.rmtree(old, ignore_errors=True)
        return
    with tempfile.TemporaryDirectory(prefix="faultgraph-") as staging:
        folder = Path(staging) / "folder"
        build(folder)
        if fs.exists(join(path, last)):
            fs.rm(join(path, last))
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        for name in [n for n in names if n != last] + [n for n in names if n == last]:
            fs.put(str(folder / name), join(path, name))


def publish_file(write: Any, dest: str | Path) -> None:
    """Write the file ``dest`` atomically: ``write(local_path)`` creates it locally first
    (local: straight at ``dest``, the writers of :mod:`faultgraph.io` being atomic
    themselves; object store: written to a temporary folder, then uploaded in one put).

    Parameters
    ----------
    write : callable
        ``write(path: Path)`` writes the file.
    dest : str or Path
        A local path or an fsspec URL.
    """
    fs, path = url_fs(dest)
    if "file" in _protocols(fs):
        write(Path(path))  # the writers of faultgraph.io are atomic themselves
        return
    with tempfile.TemporaryDirectory(prefix="faultgraph-") as staging:
        local = Path(staging) / Path(path).name
        write(local)
        fs.put(str(local), path)
