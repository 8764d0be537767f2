"""Loader for the PetShop root-cause dataset (amazon-science/petshop-root-cause-analysis).

Layout under ``root`` (e.g. ``.../dataset/low_traffic``): ``noissue/metrics.csv`` (normal
operation), ``train/issue_N/`` and ``test/issue_N/`` each with ``metrics.csv`` (a short
window around an injected issue) and ``target.json`` (the node and metric where the issue
was seen, and ``root_cause.node``), and ``graph.csv`` (the call-graph adjacency).

A ``metrics.csv`` has four header rows: ``microservice`` (the node), ``metric``
(latency, requests, availability), ``statistic`` (Average, p50, …, Sum) and a
``unix_timestamp`` row naming the index; then one row per 5-minute step. Metric names
become ``node|metric|statistic`` and :attr:`PetShop.services` maps them to their node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from faultgraph.errors import InvalidInputError

__all__ = ["PetShop", "PetShopIssue", "load", "read_petshop_metrics"]


@dataclass(frozen=True)
class PetShopIssue:
    """One injected issue: its metrics window, where it was seen, and its root-cause node."""

    name: str
    split: str
    metrics: pd.DataFrame = field(repr=False)
    target_node: str
    target_metric: str
    root_cause: str


@dataclass(frozen=True)
class PetShop:
    """The normal period, the issues, the call graph and the metric → node map."""

    normal: pd.DataFrame = field(repr=False)
    issues: tuple[PetShopIssue, ...]
    graph: pd.DataFrame = field(repr=False)
    services: dict[str, str] = field(repr=False)


def read_petshop_metrics(path: str | Path) -> pd.DataFrame:
    """One PetShop ``metrics.csv``: columns ``node|metric|statistic``, index ``timestamp`` (UTC).

    Values that do not read as numbers become NaN; a repeated column name keeps its first
    column; rows are sorted by time.

    Parameters
    ----------
    path : str or Path
        The ``metrics.csv`` file, with the four header rows described in the module
        docstring.

    Returns
    -------
    DataFrame
        One float column per metric, a UTC ``DatetimeIndex`` named ``timestamp``.

    Raises
    ------
    InvalidInputError
        When the file cannot be read or parsed, lacks the four header rows
        (microservice, metric, statistic, unix_timestamp), has a line short of the header's
        fields (cut short) or a data line without a Unix timestamp.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, header=None, low_memory=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInputError(f"{str(path)!r} cannot be read: {exc}") from None
    if raw.shape[0] < 4 or [str(v) for v in raw.iloc[:4, 0]] != ["microservice", "metric", "statistic",
                                                                   "unix_timestamp"]:
        raise InvalidInputError(f"{str(path)!r} lacks the four PetShop header rows "
                                "(microservice, metric, statistic, unix_timestamp)")
    from faultgraph.io.metrics import _first_short_line

    # pandas fills a row short of fields with NaN: only a file whose last column has a gap can hold one
    short = _first_short_line(path, open, ",", raw.shape[1]) if raw.iloc[4:, -1].isna().any() else None
    if short is not None:
        raise InvalidInputError(f"{str(path)!r}: data row {short[0] - 3} (after the four header rows) has "
                                f"{len(short[1])} of the {raw.shape[1]} fields of the header rows (a file cut short "
                                "or damaged: download it again)")
    names = [f"{n}|{m}|{s}" for n, m, s in zip(raw.iloc[0, 1:], raw.iloc[1, 1:], raw.iloc[2, 1:])]
    body = raw.iloc[4:].apply(pd.to_numeric, errors="coerce")
    stamps = body.iloc[:, 0].to_numpy(dtype=float)
    if not np.isfinite(stamps).all():
        row = int(np.flatnonzero(~np.isfinite(stamps))[0])
        raise InvalidInputError(f"{str(path)!r}: data row {row + 1} (after the four header rows) has no Unix "
                                f"timestamp in its first field, got {raw.iloc[row + 4, 0]!r} (a damaged file: "
                                "download it again)")
    frame = pd.DataFrame(body.iloc[:, 1:].to_numpy(dtype=float), columns=names)
    frame.index = pd.DatetimeIndex(pd.to_datetime(body.iloc[:, 0].to_numpy(dtype=float), unit="s", utc=True),
                                   name="timestamp")
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return frame.sort_index()


def _issue_spec(path: Path) -> tuple[str, str, str]:
    """``(target node, target metric, root-cause node)`` of an issue's ``target.json``."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"{str(path)!r} cannot be read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(f"{str(path)!r} is not valid JSON: {exc}") from None
    try:
        values = (spec["target"]["node"], spec["target"]["metric"], spec["root_cause"]["node"])
    except (KeyError, TypeError):
        values = None
    if values is None or not all(isinstance(v, str) and v for v in values):
        raise InvalidInputError(f"{str(path)!r} must hold target.node, target.metric and root_cause.node as text "
                                '({"target": {"node": ..., "metric": ...}, "root_cause": {"node": ...}})')
    return values  # type: ignore[return-value]


def load(root: str | Path) -> PetShop:
    """Read a PetShop traffic scenario folder (``.../dataset/low_traffic``).

    Reads the normal period, every ``train/issue_N`` and ``test/issue_N`` (in order of
    ``N``) and ``graph.csv`` when present (else an empty frame).

    Parameters
    ----------
    root : str or Path
        The scenario folder (layout in the module docstring).

    Returns
    -------
    PetShop
        The normal period, the issues, the call graph and the metric → node map over the
        metrics of all periods.

    Raises
    ------
    InvalidInputError
        When ``root`` has no ``noissue/metrics.csv``, a ``metrics.csv`` is unreadable,
        malformed or cut short, an issue folder is not ``issue_<number>`` or its
        ``target.json`` is missing or lacks the target and root cause, or the normal period
        holds no number.
    """
    root = Path(root)
    if not (root / "noissue" / "metrics.csv").is_file():
        raise InvalidInputError(f"{str(root)!r} is not a PetShop scenario folder (no noissue/metrics.csv)")
    normal = read_petshop_metrics(root / "noissue" / "metrics.csv")
    issues = []
    for split in ("train", "test"):
        folders = [p for p in (root / split).glob("issue_*") if p.is_dir()]
        unnumbered = [p.name for p in folders if not (p.name[len("issue_"):].isascii()
                                                      and p.name[len("issue_"):].isdecimal())]
        if unnumbered:
            raise InvalidInputError(f"{str(root / split)!r} holds {unnumbered[0]!r}: issue folders are named "
                                    "issue_<number> (issue_0, issue_1, ...); rename or move it")
        for folder in sorted(folders, key=lambda p: int(p.name[len("issue_"):])):
            target, metric, cause = _issue_spec(folder / "target.json")
            issues.append(PetShopIssue(folder.name, split, read_petshop_metrics(folder / "metrics.csv"),
                                       target, metric, cause))
    graph = pd.read_csv(root / "graph.csv", index_col=0) if (root / "graph.csv").is_file() else pd.DataFrame()
    services = {c: c.split("|")[0] for c in normal.columns}
    for issue in issues:
        services.update({c: c.split("|")[0] for c in issue.metrics.columns})
    if not np.isfinite(normal.to_numpy()).any():
        raise InvalidInputError(f"{str(root)!r}: the normal period holds no numbers")
    return PetShop(normal, tuple(issues), graph, services)
