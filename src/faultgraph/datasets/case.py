"""A generic incident case folder: ``normal.csv``, ``anomalous.csv`` and an optional
``truth.json`` (``root_cause_metric``, ``root_cause_service``, ...), as written by
``faultgraph simulate incident``. Files may also be Parquet (``normal.parquet``...)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from faultgraph.errors import InvalidInputError
from faultgraph.io.metrics import read_metrics

__all__ = ["Case", "check_same_metrics", "load_case"]


@dataclass(frozen=True)
class Case:
    """One incident: a normal period, the anomalous period and, if known, the truth."""

    name: str
    normal: pd.DataFrame = field(repr=False)
    anomalous: pd.DataFrame = field(repr=False)
    truth: dict[str, Any] | None = None


def check_same_metrics(normal: pd.DataFrame, anomalous: pd.DataFrame) -> None:
    """Raise naming the metrics that only one of the two periods has.

    Column order does not matter.

    Parameters
    ----------
    normal : DataFrame
        The normal period.
    anomalous : DataFrame
        The anomalous period.

    Raises
    ------
    InvalidInputError
        When the two frames' column sets differ (up to 8 names of each side are listed).
    """
    only_normal = [c for c in normal.columns if c not in anomalous.columns]
    only_anomalous = [c for c in anomalous.columns if c not in normal.columns]
    if only_normal or only_anomalous:
        raise InvalidInputError(
            "the normal and anomalous periods have different metrics: "
            + (f"only in normal: {', '.join(map(repr, only_normal[:8]))}" if only_normal else "")
            + ("; " if only_normal and only_anomalous else "")
            + (f"only in anomalous: {', '.join(map(repr, only_anomalous[:8]))}" if only_anomalous else "")
        )


def _find(folder: Path, stem: str) -> Path:
    for ext in (".csv", ".csv.gz", ".parquet"):
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    raise InvalidInputError(f"case folder {str(folder)!r} has no {stem}.csv (or .csv.gz, .parquet)")


def load_case(folder: str | Path) -> Case:
    """Read a case folder; the two periods must have the same metrics.

    Each period is ``normal`` / ``anomalous`` with the suffix ``.csv``, ``.csv.gz`` or
    ``.parquet`` (first found in that order), read by :func:`faultgraph.io.read_metrics`;
    ``truth.json`` is optional.

    Parameters
    ----------
    folder : str or Path
        The case folder, as ``faultgraph simulate incident`` writes it.

    Returns
    -------
    Case
        Named after the folder; the anomalous period's columns in the normal period's order;
        ``truth`` None without ``truth.json``.

    Raises
    ------
    InvalidInputError
        When the folder or a period's file does not exist, a file cannot be read as
        metrics, the periods have different metrics, or ``truth.json`` is not valid JSON.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"case folder {str(folder)!r} does not exist")
    normal = read_metrics(_find(folder, "normal"))
    anomalous = read_metrics(_find(folder, "anomalous"))
    check_same_metrics(normal, anomalous)
    truth = None
    if (folder / "truth.json").is_file():
        try:
            truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{str(folder / 'truth.json')!r} is not valid JSON: {exc}") from None
    return Case(folder.name, normal, anomalous[list(normal.columns)], truth)
