"""Model folders: ``model.json`` (metadata, schema version) plus ``arrays.npz``; never a pickle.

Both files are written atomically (a temporary file, then a rename), the arrays first;
``model.json`` carries the SHA-256 of ``arrays.npz``, so a folder whose arrays were
truncated or replaced is refused on load with a clear message.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from faultgraph.errors import InvalidInputError
from faultgraph.io.atomic import check_writable, commit_staged, json_text, stage_file

__all__ = ["SCHEMA_VERSION", "check_model_path", "damaged", "file_digest", "load_model_dir", "load_model_meta",
           "save_model_dir"]

#: The version of the model-folder layout this faultgraph writes and the newest it reads;
#: older folders are upgraded as they are read (:mod:`faultgraph.io.migrations`).
SCHEMA_VERSION = 2
_META, _ARRAYS = "model.json", "arrays.npz"
#: The fields of model.json that hold a mapping when present (any model kind).
_MAPPINGS = ("params", "graph", "encoder", "prior", "lasting", "lag_choice", "scoring_choice", "flagged")


def file_digest(path: str | Path, algorithm: str = "sha256", prefix: bytes = b"") -> str:
    """The hex digest of ``prefix`` followed by the file's bytes, read 1 MiB at a time (a
    model's checksum; with ``"sha1"`` and ``b"blob <size>\\0"``, Git's hash of the file).

    Parameters
    ----------
    path : str or Path
        The file.
    algorithm : str, default "sha256"
        A :func:`hashlib.new` algorithm name.
    prefix : bytes, default b""
        Bytes hashed before the file's.

    Returns
    -------
    str
    """
    digest = hashlib.new(algorithm, prefix)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model_path(path: str | Path) -> Path:
    """``path`` as a folder a model can be written to (before the work of fitting it).

    Parameters
    ----------
    path : str or Path
        The model folder (it may not exist yet).

    Returns
    -------
    Path

    Raises
    ------
    InvalidInputError
        When ``path`` is an existing file, an existing ancestor of it is a file, or nothing
        can be written there (:func:`~faultgraph.io.atomic.check_writable`).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"model folder {str(folder)!r} is an existing file; give a folder path")
    ancestor = next((q for q in folder.parents if q.exists()), None)
    if ancestor is not None and not ancestor.is_dir():
        raise InvalidInputError(f"model folder {str(folder)!r} cannot be written: {str(ancestor)!r} is a file")
    return check_writable(folder, "model folder", folder=True)


def save_model_dir(path: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``meta`` and ``arrays`` into the folder ``path`` (created if needed).

    ``arrays.npz`` (compressed) and ``model.json`` (``schema_version``,
    :data:`SCHEMA_VERSION`, ``meta``'s fields and the arrays' ``arrays_sha256``) are
    written beside the folder's files, then renamed into place together
    (:func:`~faultgraph.io.atomic.commit_staged`): a write that fails or is interrupted
    leaves the old model as it was, never new arrays under old metadata. Other files in
    the folder are left alone.

    Parameters
    ----------
    path : str or Path
        The model folder.
    meta : dict
        JSON-serialisable metadata (``task``, ``params``, ...).
    arrays : dict of str to ndarray
        The fitted arrays.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    InvalidInputError
        When ``path`` is an existing file or lies under one (:func:`check_model_path`).
    """
    folder = check_model_path(path)
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:  # both files written beside the old ones, then put in place together: the old model or the new one
        staged.append((stage_file(folder / _ARRAYS, lambda fh: np.savez_compressed(
            fh, **{k: np.asarray(v) for k, v in arrays.items()})), folder / _ARRAYS))
        full = {"schema_version": SCHEMA_VERSION, **meta, "arrays_sha256": file_digest(staged[0][0])}
        text = json_text(full).encode("utf-8")
        staged.append((stage_file(folder / _META, lambda fh: fh.write(text)), folder / _META))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    commit_staged(staged)
    return folder


def load_model_meta(path: str | Path, task: str | None = None) -> dict[str, Any]:
    """Read and check a model folder's ``model.json`` alone (not its arrays): for what a
    folder is (its task, say) without reading, hashing and loading ``arrays.npz``.

    Parameters
    ----------
    path : str or Path
        The model folder.
    task : str or None, default None
        The kind of model expected; ``None``: any.

    Returns
    -------
    dict
        The metadata, as written (not upgraded).

    Raises
    ------
    InvalidInputError
        When the folder has no ``model.json``, it is unreadable or has no valid
        ``schema_version``, was written by a newer faultgraph, or (given ``task``) is a
        model of another kind.
    """
    folder = Path(path)
    meta_path = folder / _META
    if not meta_path.is_file():
        raise InvalidInputError(f"{str(folder)!r} is not a faultgraph model folder (no {_META}); "
                                "create one with `faultgraph fit`")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"model file {str(meta_path)!r} is damaged: {exc}") from None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if type(version) is not int or version < 1:
        raise InvalidInputError(f"model file {str(meta_path)!r} is damaged: schema_version must be a whole "
                                f"number >= 1, got {version!r}")
    if meta["schema_version"] > SCHEMA_VERSION:
        raise InvalidInputError(
            f"model {str(folder)!r} was written by a newer faultgraph (schema {meta['schema_version']}); "
            f"this version reads schema {SCHEMA_VERSION} or older: upgrade faultgraph"
        )
    if task is not None and meta.get("task") != task:
        kind = f"a {meta['task']!r} model" if isinstance(meta.get("task"), str) else "a model that names no task"
        raise InvalidInputError(f"model {str(folder)!r} is {kind}, not a {task!r} one")
    for key in _MAPPINGS:  # a field that must be a mapping, named when it is not
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise damaged(folder, ValueError(f"{key!r} (a {type(meta[key]).__name__} where a mapping of names to "
                                             "values belongs)"))
    return meta


def load_model_dir(path: str | Path, task: str | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a model folder, upgraded to the current layout in memory
    (:func:`faultgraph.io.migrations.upgrade`).

    Parameters
    ----------
    path : str or Path
        The model folder.
    task : str or None, default None
        The kind of model expected (e.g. ``"unsupervised-detection"``); ``None``: any.

    Returns
    -------
    tuple of (dict, dict of str to ndarray)
        The metadata and the arrays.

    Raises
    ------
    InvalidInputError
        When the folder has no ``model.json``, it is damaged (unreadable, no valid
        ``schema_version``, ``arrays.npz`` missing or not matching its checksum), written by
        a newer faultgraph, or (given ``task``) a model of another kind.
    """
    folder = Path(path)
    arrays_path = folder / _ARRAYS
    meta = load_model_meta(folder, task)
    if not arrays_path.is_file():
        raise InvalidInputError(f"model {str(folder)!r} is damaged: {_ARRAYS} is missing")
    if file_digest(arrays_path) != meta.get("arrays_sha256"):
        raise InvalidInputError(f"model {str(folder)!r} is damaged: {_ARRAYS} does not match its checksum "
                                "(truncated or replaced); fit the model again")
    try:
        with np.load(arrays_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:  # pragma: no cover - the checksum catches this first
        raise InvalidInputError(f"model {str(folder)!r} is damaged: {exc}") from None
    from faultgraph.io.migrations import upgrade

    return upgrade(meta, arrays, SCHEMA_VERSION)


_NESTED = re.compile(r"\b(KeyError|ValueError|TypeError|IndexError|AttributeError)\((['\"])(.*?)\2\)")


def damaged(path: str | Path, exc: BaseException) -> InvalidInputError:
    """The error for a model folder whose ``model.json`` does not read as its model: which
    field is missing or wrong, in words (never an exception's repr), and what to do.

    Parameters
    ----------
    path : str or Path
        The model folder, named in the message.
    exc : BaseException
        What reading the metadata raised (a KeyError names the missing field).

    Returns
    -------
    InvalidInputError
        To be raised by the caller.
    """
    if isinstance(exc, KeyError):
        what = f"{exc.args[0]!r} (missing)" if exc.args else "(one is missing)"
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        text = _NESTED.sub(lambda m: f"{m.group(3)!r} (missing)" if m.group(1) == "KeyError" else m.group(3), text)
        mapping = re.search(r"argument after \*\* must be a mapping, not (\w+)", text)
        not_mapping = re.search(r"'(\w+)' object is not a mapping", text)
        unknown = re.search(r"unexpected keyword argument '([^']+)'", text)
        if mapping:
            what = f"'params' (a {mapping.group(1)}, not a mapping of parameter to value)"
        elif not_mapping:
            what = f"(a {not_mapping.group(1)} where a mapping of names to values belongs)"
        elif unknown:
            what = f"'params' (an unknown parameter {unknown.group(1)!r})"
        else:
            what = text
    return InvalidInputError(f"model {str(path)!r} is damaged: missing or bad field {what}; fit it again with "
                             "`faultgraph fit`, or restore the folder from a copy")
