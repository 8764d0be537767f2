"""Fetch the public datasets faultgraph's loaders read, from where their authors publish them.

Each dataset lives in a GitHub repository. :func:`download` lists that repository once
(GitHub's tree API), keeps the files the loaders need, fetches each from
``raw.githubusercontent.com`` (following Git LFS pointers to ``media.githubusercontent.com``)
and writes it atomically under ``to`` in the layout the loaders and the benchmarks expect:

=========  ==============================================  =====================================
name       origin                                          written to
=========  ==============================================  =====================================
smd        NetManAIOps/OmniAnomaly (MIT)                   ``smd/ServerMachineDataset/``
asd        zhhlee/InterFusion (MIT)                        ``asd/ApplicationServerDataset/``
petshop    amazon-science/petshop-root-cause-analysis      ``petshop/dataset/``
           (CC-BY-4.0)
nezha      IntelligentDDS/Nezha (MIT)                      ``nezha/rca_data/``, ``nezha/construct_data/``
sachs      cmu-phil/example-causal-datasets (CC0)          ``sachs/``
=========  ==============================================  =====================================

ASD is published as Python pickles of NumPy arrays; they are read with an unpickler that admits
nothing but NumPy arrays (any other object in the file is refused, never constructed) and written
as the same comma-separated text as SMD. A file already on disk is kept (so an interrupted
download resumes) unless its content differs from the published one (its Git blob hash, or
for a Git LFS file the sha256 its pointer names) or ``overwrite`` is set; a converted file is
kept if it exists.

Set ``GITHUB_TOKEN`` to lift GitHub's limit of 60 unauthenticated API calls an hour (one call
per dataset).
"""

from __future__ import annotations

import fnmatch
import io
import os
import pickle
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from faultgraph.errors import DownloadError, InvalidInputError
from faultgraph.io.atomic import write_atomic
from faultgraph.io.model import file_digest

__all__ = ["DATASETS", "Download", "Rule", "Source", "download", "mirror_urls", "read_array_pickle"]

API_URL = "https://api.github.com"
RAW_URL = "https://raw.githubusercontent.com"
MEDIA_URL = "https://media.githubusercontent.com/media"
TIMEOUT_S = 60.0
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


@dataclass(frozen=True)
class Rule:
    """A file of the repository (``pattern``, a regular expression matched against its whole
    path) and where it goes (``target``, the same with ``\\1``-style groups), optionally
    converted (``convert`` reads the published bytes and writes the local file)."""

    pattern: str
    target: str
    convert: Callable[[bytes, str, IO[bytes]], None] | None = None


@dataclass(frozen=True)
class Source:
    """Where a dataset is published and which of its files faultgraph keeps."""

    name: str
    repo: str
    licence: str
    description: str
    rules: tuple[Rule, ...]

    def target(self, path: str) -> tuple[str, Rule] | None:
        """The local path (relative to the download folder) of a repository path, or None.

        The first rule whose ``pattern`` matches the whole path decides.

        Parameters
        ----------
        path : str
            A file's path inside the repository.

        Returns
        -------
        tuple of (str, Rule) or None
            The local path and the rule that matched, or None when faultgraph does not keep
            the file.
        """
        for rule in self.rules:
            match = re.fullmatch(rule.pattern, path)
            if match:
                return match.expand(rule.target), rule
        return None


# --- reading the ASD pickles without trusting them ------------------------------------------

_ARRAY_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and refuses every other global (Python docs, "Restricting
    Globals"): a hostile file cannot run code through it."""

    def find_class(self, module: str, name: str) -> Any:
        """The global ``module.name`` if it is one a NumPy array needs, else refused.

        Parameters
        ----------
        module : str
            The global's module.
        name : str
            Its name.

        Returns
        -------
        object
            The global.

        Raises
        ------
        pickle.UnpicklingError
            For any other global.
        """
        if (module, name) in _ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a NumPy array")


def read_array_pickle(data: bytes, source: str = "pickle") -> np.ndarray:
    """The NumPy array pickled in ``data``; anything else in it is refused, never constructed.

    The unpickler admits only the globals a NumPy array needs (Python docs, "Restricting
    Globals"), so a hostile file cannot run code.

    Parameters
    ----------
    data : bytes
        The pickle's bytes.
    source : str, default "pickle"
        What ``data`` is called in error messages.

    Returns
    -------
    ndarray
        A 1- or 2-dimensional array of booleans, integers or floats.

    Raises
    ------
    InvalidInputError
        When ``data`` cannot be read as a pickled NumPy array or holds an array of another
        dimension or kind.
    """
    try:
        value = _ArrayUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # noqa: BLE001 - any failure to read is a bad file
        raise InvalidInputError(f"{source}: only a pickled NumPy array is read, and this file "
                                f"could not be read as one ({exc})") from None
    if not isinstance(value, np.ndarray) or value.ndim not in (1, 2) or value.dtype.kind not in "biuf":
        raise InvalidInputError(f"{source}: expected a 1- or 2-dimensional numeric NumPy array, "
                                f"got {type(value).__name__}")
    return value


def _number(value: Any) -> str:
    if isinstance(value, (np.floating, float)):
        return np.format_float_positional(value, unique=True, trim="-")
    return str(int(value))


def _pickle_to_text(data: bytes, source: str, fh: IO[bytes]) -> None:
    """Write a pickled array as comma-separated text, one row a line (SMD's layout), each
    number in the shortest form that reads back to the same value."""
    array = read_array_pickle(data, source)
    rows = array.reshape(len(array), -1)
    text = "\n".join(",".join(_number(v) for v in row) for row in rows)
    fh.write((text + "\n").encode("ascii"))


DATASETS: dict[str, Source] = {
    source.name: source for source in (
        Source("smd", "NetManAIOps/OmniAnomaly", "MIT",
               "Server Machine Dataset: 28 server machines, 38 metrics, detection and interpretation labels",
               (Rule(r"ServerMachineDataset/(train|test|test_label|interpretation_label)/(machine-\d+-\d+\.txt)",
                     r"smd/ServerMachineDataset/\1/\2"),
                Rule(r"LICENSE", "smd/ServerMachineDataset/LICENSE"))),
        Source("asd", "zhhlee/InterFusion", "MIT",
               "Application Server Dataset: 12 servers, 19 metrics, detection and interpretation labels",
               (Rule(r"data/processed/(omi-\d+)_(train|test|test_label)\.pkl",
                     r"asd/ApplicationServerDataset/\2/\1.txt", _pickle_to_text),
                Rule(r"data/interpretation_label/(omi-\d+\.txt)",
                     r"asd/ApplicationServerDataset/interpretation_label/\1"),
                Rule(r"data/interpretation_label/anomaly_type\.txt", "asd/ApplicationServerDataset/anomaly_type.txt"),
                Rule(r"LICENSE", "asd/ApplicationServerDataset/LICENSE"))),
        Source("petshop", "amazon-science/petshop-root-cause-analysis", "CC-BY-4.0",
               "PetShop microservices on AWS: normal periods, injected issues with root causes, call graph",
               (Rule(r"dataset/([^/]+/(?:graph\.csv|noissue/metrics\.csv|(?:train|test)/issue_\d+/"
                     r"(?:metrics\.csv|target\.json)))", r"petshop/dataset/\1"),
                Rule(r"(LICENSE_DATASET|NOTICE)", r"petshop/\1"))),
        Source("nezha", "IntelligentDDS/Nezha", "MIT",
               "Online Boutique (two days, 56 injected faults) and Train Ticket (2023-01-29/30) on "
               "Kubernetes: per-pod metrics, fault lists, call graphs",
               # metrics and fault lists of both systems' days (the loader tells them apart by their
               # pods); logs and traces are not read
               (Rule(r"rca_data/(2022-08-2[23]|2023-01-(?:29|30))/metric/([^/]+\.csv)", r"nezha/rca_data/\1/metric/\2"),
                Rule(r"rca_data/(2022-08-2[23]|2023-01-(?:29|30))/(\1-fault_list\.json)", r"nezha/rca_data/\1/\2"),
                Rule(r"construct_data/(root_cause_(?:hipster|ts)\.json)", r"nezha/construct_data/\1"),
                Rule(r"LICENSE", "nezha/LICENSE"))),
        Source("sachs", "cmu-phil/example-causal-datasets", "CC0",
               "Sachs et al. 2005 protein signalling: 11 proteins, interventions, 20-edge consensus graph",
               (Rule(r"real/sachs/(data|ground\.truth)/([^/]+\.txt)", r"sachs/\1/\2"),
                Rule(r"LICENSE", "sachs/LICENSE"))),
    )
}


@dataclass(frozen=True)
class Download:
    """What :func:`download` did for one dataset."""

    name: str
    folder: Path
    written: tuple[str, ...]
    kept: tuple[str, ...]
    bytes_written: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "folder": str(self.folder), "written": list(self.written),
                "kept": list(self.kept), "bytes_written": self.bytes_written}


def _headers() -> dict[str, str]:
    from faultgraph import __version__

    headers = {"User-Agent": f"faultgraph/{__version__}"}
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _open(url: str) -> Any:
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=_headers()), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        hint = " (GitHub's API limit? set GITHUB_TOKEN)" if exc.code in (403, 429) else ""
        raise DownloadError(f"could not fetch {url}: HTTP {exc.code} {exc.reason}{hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not fetch {url}: {reason} (no internet here? the loaders also "
                            "read a copy made elsewhere)") from None


def _read(url: str) -> bytes:
    import http.client

    with _open(url) as response:
        try:
            return response.read()
        except (OSError, http.client.HTTPException) as exc:  # a reset, a short body (IncompleteRead)
            raise DownloadError(f"could not fetch {url}: the transfer broke off ({type(exc).__name__}); run it "
                                "again to resume") from None


def _git_blob_sha(path: Path) -> str:
    """Git's hash of a file's content (``sha1("blob <size>\\0" + content)``), as the tree API gives it."""
    return file_digest(path, "sha1", f"blob {path.stat().st_size}\0".encode())


def _tree(source: Source, ref: str, api_url: str) -> dict[str, str]:
    """Every file of the repository at ``ref`` with its Git blob hash."""
    import json

    url = f"{api_url}/repos/{source.repo}/git/trees/{urllib.parse.quote(ref, safe='')}?recursive=1"
    try:
        listing = json.loads(_read(url))
        entries = listing["tree"]
        files = {e["path"]: str(e["sha"]) for e in entries if e.get("type") == "blob"}
    except (ValueError, KeyError, TypeError) as exc:
        raise DownloadError(f"could not list {source.repo} at {ref}: unexpected answer from {url} "
                            f"({type(exc).__name__}: {exc})") from None
    if listing.get("truncated"):
        raise DownloadError(f"GitHub listed {source.repo} only in part (truncated at {len(files)} "
                            "files); clone the repository instead and point the loaders at it")
    return files


def _lfs_oid(pointer: bytes) -> str | None:
    """The sha256 a Git LFS pointer names (``oid sha256:<hex>``), or None."""
    match = re.search(rb"^oid sha256:([0-9a-f]{64})$", pointer, re.M)
    return match.group(1).decode() if match else None


def _fetch(source: Source, path: str, ref: str, raw_url: str, media_url: str,
           have: Path | None = None) -> bytes | None:
    """The published bytes of ``path``; None when it is a Git LFS file whose content ``have``
    already holds (the tree API hashes the pointer, so that is known only from the pointer)."""
    quoted = urllib.parse.quote(path)
    data = _read(f"{raw_url}/{source.repo}/{ref}/{quoted}")
    if data.startswith(_LFS_POINTER):  # a Git LFS pointer: the content is served elsewhere
        oid = _lfs_oid(data)
        if have is not None and have.is_file() and oid is not None and file_digest(have) == oid:
            return None
        data = _read(f"{media_url}/{source.repo}/{ref}/{quoted}")
        if data.startswith(_LFS_POINTER):
            raise DownloadError(f"{source.repo}/{path} is stored with Git LFS and its content "
                                "could not be fetched; clone it with git lfs instead")
    return data


def mirror_urls(mirror: str | None = None) -> dict[str, str]:
    """The ``api_url``, ``raw_url`` and ``media_url`` arguments of :func:`download`.

    Parameters
    ----------
    mirror : str, optional
        The base address of a mirror that serves ``MIRROR/api``, ``MIRROR/raw`` and
        ``MIRROR/media``; None for GitHub's own addresses.

    Returns
    -------
    dict of str to str
        ``{"api_url": …, "raw_url": …, "media_url": …}``.
    """
    if mirror is None:
        return {"api_url": API_URL, "raw_url": RAW_URL, "media_url": MEDIA_URL}
    return {f"{part}_url": f"{mirror.rstrip('/')}/{part}" for part in ("api", "raw", "media")}


def download(
    name: str,
    to: str | Path,
    *,
    only: str | None = None,
    ref: str = "HEAD",
    overwrite: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    api_url: str = API_URL,
    raw_url: str = RAW_URL,
    media_url: str = MEDIA_URL,
) -> Download:
    """Fetch dataset ``name`` (a key of :data:`DATASETS`) into folder ``to``.

    Lists the repository once, then fetches each file the loaders need (see the module
    docstring), keeping files already on disk whose content matches the published one
    (converted files are kept whenever they exist).

    Parameters
    ----------
    name : {"smd", "asd", "petshop", "nezha", "sachs"}
        The dataset.
    to : str or Path
        The data folder; files go where ``faultgraph.datasets`` and the benchmarks read
        them (``to/smd/ServerMachineDataset/...``, as ``../shared/data`` holds them).
    only : str, optional
        Keep only local paths matching this shell pattern (e.g. ``"*machine-1-1*"``);
        licence files are always kept.
    ref : str, default "HEAD"
        The branch, tag or commit to fetch (default: the repository's default branch).
    overwrite : bool, default False
        Fetch again files already on disk.
    progress : callable, optional
        Called as ``progress(done, total, path)`` after each file.
    api_url : str, default ``API_URL``
        GitHub's API address, or a mirror's (:func:`mirror_urls`).
    raw_url : str, default ``RAW_URL``
        Where raw files are served.
    media_url : str, default ``MEDIA_URL``
        Where Git LFS contents are served.

    Returns
    -------
    Download
        The folder and the files written and those kept from before.

    Raises
    ------
    InvalidInputError
        When ``name`` is unknown, ``to`` is a file, or no data file (or none matching
        ``only``) is found.
    DownloadError
        When the repository or a file could not be fetched.
    """
    if name not in DATASETS:
        raise InvalidInputError(f"name must be one of {sorted(DATASETS)}, got {name!r}")
    source = DATASETS[name]
    to = Path(to)
    if to.exists() and not to.is_dir():
        raise InvalidInputError(f"to must be a folder, got the file {str(to)!r}")
    try:  # a folder that can be made and written to, before anything is fetched
        to.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"to must be a folder that can be written to, got {str(to)!r} "
                                f"({exc.strerror or type(exc).__name__})") from None
    api_url, raw_url, media_url = (u.rstrip("/") for u in (api_url, raw_url, media_url))
    plan: list[tuple[str, str, str, Rule]] = []
    has_data = False
    for path, sha in sorted(_tree(source, ref, api_url).items()):
        hit = source.target(path)
        if hit is None:
            continue
        local, rule = hit
        is_licence = Path(local).name.startswith(("LICENSE", "NOTICE"))
        if only is None or is_licence or fnmatch.fnmatch(local, only):
            plan.append((path, local, sha, rule))
            has_data = has_data or not is_licence
    if not has_data:
        what = f"matching only={only!r}" if only is not None else "of the expected layout"
        raise InvalidInputError(f"{source.repo} at {ref} has no file {what}; "
                                f"its data files are written as {[r.target for r in source.rules]}")
    written: list[str] = []
    kept: list[str] = []
    total_bytes = 0
    for done, (path, local, sha, rule) in enumerate(plan, start=1):
        target = to / local
        unchanged = target.is_file() and (rule.convert is not None or _git_blob_sha(target) == sha)
        data = None if unchanged and not overwrite else _fetch(
            source, path, ref, raw_url, media_url, have=None if overwrite or rule.convert else target)
        if data is None:
            kept.append(local)
        else:
            if rule.convert is None:
                write_atomic(target, lambda fh, data=data: fh.write(data))
            else:
                write_atomic(target, lambda fh, data=data, path=path, rule=rule: rule.convert(
                    data, f"{source.repo}/{path}", fh))
            total_bytes += target.stat().st_size
            written.append(local)
        if progress is not None:
            progress(done, len(plan), local)
    folders = {Path(local).parts[0] for _, local, _, _ in plan}
    folder = to / folders.pop() if len(folders) == 1 else to
    return Download(name, folder, tuple(written), tuple(kept), total_bytes)
