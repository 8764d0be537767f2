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
        When the file cannot be read or parsed, or lacks the four header rows
        (microservice, metric, statistic, unix_timestamp).
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
    names = [f"{n}|{m}|{s}" for n, m, s in zip(raw.iloc[0, 1:], raw.iloc[1, 1:], raw.iloc[2, 1:])]
    body = raw.iloc[4:].apply(pd.to_numeric, errors="coerce")
    frame = pd.DataFrame(body.iloc[:, 1:].to_numpy(dtype=float), columns=names)
    frame.index = pd.DatetimeIndex(pd.to_datetime(body.iloc[:, 0].to_numpy(dtype=float), unit="s", utc=True),
                                   name="timestamp")
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return frame.sort_index()


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
        When ``root`` has no ``noissue/metrics.csv``, a ``metrics.csv`` is unreadable or
        malformed, or the normal period holds no number.
    """
    root = Path(root)
    if not (root / "noissue" / "metrics.csv").is_file():
        raise InvalidInputError(f"{str(root)!r} is not a PetShop scenario folder (no noissue/metrics.csv)")
    normal = read_petshop_metrics(root / "noissue" / "metrics.csv")
    issues = []
    for split in ("train", "test"):
        folders = sorted((root / split).glob("issue_*"), key=lambda p: int(p.name.split("_")[1]))
        for folder in folders:
            spec = json.loads((folder / "target.json").read_text(encoding="utf-8"))
            issues.append(PetShopIssue(folder.name, split, read_petshop_metrics(folder / "metrics.csv"),
                                       spec["target"]["node"], spec["target"]["metric"], spec["root_cause"]["node"]))
    graph = pd.read_csv(root / "graph.csv", index_col=0) if (root / "graph.csv").is_file() else pd.DataFrame()
    services = {c: c.split("|")[0] for c in normal.columns}
    for issue in issues:
        services.update({c: c.split("|")[0] for c in issue.metrics.columns})
    if not np.isfinite(normal.to_numpy()).any():
        raise InvalidInputError(f"{str(root)!r}: the normal period holds no numbers")
    return PetShop(normal, tuple(issues), graph, services)
