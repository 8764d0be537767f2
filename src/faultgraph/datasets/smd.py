"""Loader for the SMD / ASD layout (OmniAnomaly's Server Machine Dataset, InterFusion's
Application Server Dataset).

Layout under ``root``: ``train/<machine>.txt``, ``test/<machine>.txt`` (comma-separated
floats, no header), ``test_label/<machine>.txt`` (one 0/1 per test row) and
``interpretation_label/<machine>.txt`` (``start-end:d1,d2,...``: test rows
``start..end`` and the metrics that explain them as **1-based** column indices). Any of
these files may also be gzipped (``.txt.gz``).

The two public sets write ``end`` differently: ASD's ends are the last labelled row of
each segment (all 38 segments), SMD's the row after it (169 of its 173 segments in the 28
machines end on a row that ``test_label`` marks normal, right after the labelled run,
Python's slice convention). :func:`load` reads which from the machine's own labels
(:func:`exclusive_ends`) and returns inclusive ends either way
(:attr:`SMDMachine.segment_ends` says how the file wrote them).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from faultgraph.errors import InvalidInputError

__all__ = ["SMDMachine", "Segment", "exclusive_ends", "list_machines", "load", "parse_segments"]


@dataclass(frozen=True)
class Segment:
    """A labelled anomaly: test rows ``start..end`` (inclusive) and the 0-based metric
    indices that explain it."""

    start: int
    end: int
    metrics: tuple[int, ...]


@dataclass(frozen=True)
class SMDMachine:
    """One machine: ``train`` and ``test`` frames (columns ``m0``…), the test labels and
    the interpretation segments (ends inclusive); ``segment_ends`` says how the file wrote
    the ends: ``"inclusive"``, or ``"exclusive"`` (the row after each segment, as SMD's
    files do: read as ``end − 1``, :func:`exclusive_ends`)."""

    name: str
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    labels: np.ndarray = field(repr=False)
    segments: tuple[Segment, ...] = ()
    segment_ends: str = "inclusive"


def _open_text(path: Path) -> str:
    gz = path.with_name(path.name + ".gz")
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if gz.is_file():
        with gzip.open(gz, "rt", encoding="utf-8") as fh:
            return fh.read()
    raise InvalidInputError(f"{str(path)!r} (or {gz.name}) does not exist")


def _matrix(path: Path) -> np.ndarray:
    text = _open_text(path)
    if not text.strip():
        raise InvalidInputError(f"{str(path)!r} is empty")
    try:
        matrix = pd.read_csv(io.StringIO(text), header=None, dtype=float).to_numpy()
    except ValueError as exc:
        raise InvalidInputError(f"{str(path)!r} is not a comma-separated matrix of numbers: {exc}") from None
    missing = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if missing.size:  # the published files hold a number in every cell: a short row is a damaged file
        row = int(missing[0])
        bad = int((~np.isfinite(matrix[row])).sum())
        raise InvalidInputError(f"{str(path)!r}, row {row + 1} of {len(matrix)}: {bad} of {matrix.shape[1]} values "
                                "missing or not finite (a file cut short or damaged: download it again)")
    return matrix


def parse_segments(text: str, n_metrics: int, source: str = "interpretation labels") -> tuple[Segment, ...]:
    """Parse interpretation labels, ``start-end:d1,d2,...`` lines, into 0-based segments.

    Blank lines are skipped; metric indices in the file are 1-based and come back 0-based.

    Parameters
    ----------
    text : str
        The content of an ``interpretation_label/<machine>.txt`` file.
    n_metrics : int
        Number of metrics of the machine; every index must lie in ``1 … n_metrics``.
    source : str, default "interpretation labels"
        What ``text`` is called in error messages (a path, say).

    Returns
    -------
    tuple of Segment
        One per non-blank line, in order.

    Raises
    ------
    InvalidInputError
        When a line does not read as ``start-end:d1,d2,...``, ``start > end`` or a metric
        index is out of range (the message gives the line number).
    """
    out = []
    for k, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            span, dims = line.split(":")
            start, end = (int(v) for v in span.split("-"))
            metrics = tuple(int(v) - 1 for v in dims.split(",") if v.strip())
        except ValueError:
            raise InvalidInputError(f"{source}, line {k}: expected 'start-end:d1,d2,...', got {line!r}") from None
        if start > end or any(m < 0 or m >= n_metrics for m in metrics):
            raise InvalidInputError(f"{source}, line {k}: bad span or metric index in {line!r}")
        out.append(Segment(start, end, metrics))
    return tuple(out)


def exclusive_ends(segments: tuple[Segment, ...], labels: np.ndarray) -> bool:
    """Whether ``segments`` write each end as the row after the segment (Python's slice
    convention), judged by the test labels. A segment votes *exclusive* when its end is a
    row the labels mark normal right after a labelled one, or the row after the last;
    *inclusive* when its end is the last row of a labelled run; others do not vote. The
    ends are exclusive when those votes outnumber the others (SMD: 169 of 173 segments
    vote exclusive, none inclusive; ASD: all 38 inclusive).

    Parameters
    ----------
    segments : tuple of Segment
        As parsed (:func:`parse_segments`).
    labels : numpy.ndarray
        The 0/1 test labels, one per test row.

    Returns
    -------
    bool
        True when the ends are exclusive; False with no vote either way.
    """
    n = len(labels)
    exclusive = inclusive = 0
    for s in segments:
        if s.start < s.end and (s.end == n or (s.end < n and labels[s.end] == 0 and labels[s.end - 1] == 1)):
            exclusive += 1
        elif s.end < n and labels[s.end] == 1 and (s.end + 1 == n or labels[s.end + 1] == 0):
            inclusive += 1
    return exclusive > inclusive


def list_machines(root: str | Path) -> list[str]:
    """The machine names that have a test file under ``root``.

    Parameters
    ----------
    root : str or Path
        An SMD-layout folder (``.../ServerMachineDataset``); its ``test/`` folder is listed.

    Returns
    -------
    list of str
        Sorted names (``machine-1-1``, …), ``.txt`` and ``.txt.gz`` files alike; empty when
        there is no ``test/`` folder.
    """
    folder = Path(root) / "test"
    names = {p.name.split(".txt")[0] for p in folder.glob("*.txt*")}
    return sorted(names)


def load(root: str | Path, machine: str) -> SMDMachine:
    """Load one machine of an SMD-layout folder.

    Reads ``train``, ``test`` and ``test_label`` (each ``.txt`` or ``.txt.gz``) and, when
    present, ``interpretation_label``. Columns are named ``m0, m1, …``.

    Parameters
    ----------
    root : str or Path
        ``.../ServerMachineDataset`` or ``.../ApplicationServerDataset``.
    machine : str
        The machine's name, e.g. ``"machine-1-1"`` or ``"omi-1"``.

    Returns
    -------
    SMDMachine
        The train and test frames, the 0/1 test labels (int) and the segments (empty
        without interpretation labels; ends inclusive, read as ``end − 1`` where the file
        writes the row after each segment, :func:`exclusive_ends`).

    Raises
    ------
    InvalidInputError
        When ``root`` is no folder, a file is missing, empty or not a comma-separated
        matrix of numbers, train and test differ in their number of metrics, the labels are
        not one 0/1 per test row, or the interpretation labels are malformed or reach past the
        test rows.
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"dataset folder {str(root)!r} does not exist")
    train = _matrix(root / "train" / f"{machine}.txt")
    test = _matrix(root / "test" / f"{machine}.txt")
    if train.shape[1] != test.shape[1]:
        raise InvalidInputError(f"{machine}: train has {train.shape[1]} metrics, test {test.shape[1]}")
    labels = _matrix(root / "test_label" / f"{machine}.txt").ravel()
    if labels.shape[0] != test.shape[0] or not np.isin(labels, (0, 1)).all():
        raise InvalidInputError(f"{machine}: test_label must hold one 0/1 per test row ({test.shape[0]}), "
                                f"got {labels.shape[0]} values")
    interp = root / "interpretation_label" / f"{machine}.txt"
    has_interp = interp.is_file() or interp.with_name(interp.name + ".gz").is_file()
    segments = parse_segments(_open_text(interp), test.shape[1], str(interp)) if has_interp else ()
    ends = "exclusive" if exclusive_ends(segments, labels) else "inclusive"
    if ends == "exclusive":
        segments = tuple(Segment(s.start, max(s.start, s.end - 1), s.metrics) for s in segments)
    beyond = [s for s in segments if s.end >= len(labels)]
    if beyond:
        raise InvalidInputError(f"{str(interp)!r}: segment {beyond[0].start}-{beyond[0].end} ends after the "
                                f"{len(labels)} test rows (read with {ends} ends); the labels belong to another "
                                "machine or a longer test file")
    columns = [f"m{j}" for j in range(train.shape[1])]
    return SMDMachine(machine, pd.DataFrame(train, columns=columns), pd.DataFrame(test, columns=columns),
                      labels.astype(int), segments, ends)
