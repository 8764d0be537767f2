"""Reading monitoring metrics from CSV and Parquet files, wide or long.

* **wide**: an optional time column plus one column per metric;
* **long**: three columns ``timestamp, metric, value`` (one observation a row); pivoted
  to wide;
* **Prometheus**: the JSON of a ``/api/v1/query_range`` query (``.json``), one column per
  series, named ``name{label="value",...}``.

The result is always a validated ``float64`` DataFrame: one column per metric (named,
unique), indexed by time and sorted by it. Missing values stay NaN (the encoder fills
short gaps); everything else that is wrong raises ``InvalidInputError``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from faultgraph._validation import check_choice, describe_names
from faultgraph.errors import InvalidInputError

__all__ = ["prometheus_to_long", "read_metrics", "to_metric_frame"]

Layout = Literal["auto", "wide", "long"]
OnDuplicate = Literal["error", "mean", "last"]

#: Column names recognised as the time column, in order of preference (case-insensitive).
TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date", "unix_timestamp")
_LONG = ({"metric", "name", "__name__"}, {"value"})


def read_metrics(
    path: str | Path,
    *,
    layout: Layout = "auto",
    time_column: str | None = None,
    on_duplicate: OnDuplicate = "error",
) -> pd.DataFrame:
    """Read a metrics file (``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet``/``.pq``) into a float64 frame.

    Args:
        path: the file.
        layout: ``"wide"``, ``"long"``, or ``"auto"`` (long when the columns are a time
            column, ``metric`` and ``value``).
        time_column: the time column; by default the first of ``timestamp``, ``time``,
            ``ts``, ``datetime``, ``date``, ``unix_timestamp`` present. Without one the
            index is the row number.
        on_duplicate: what to do with repeated timestamps: ``"error"`` (default),
            ``"mean"`` or ``"last"``.

    Time values that are text are parsed as dates; numbers above 10⁹ are read as Unix
    seconds (above 10¹² as milliseconds); smaller numbers stay plain numbers (steps).
    """
    layout = check_choice("layout", layout, ("auto", "wide", "long"))
    on_duplicate = check_choice("on_duplicate", on_duplicate, ("error", "mean", "last"))
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"metrics file {str(path)!r} does not exist")
    if path.is_dir():
        raise InvalidInputError(f"metrics file {str(path)!r} is a folder, expected a CSV or Parquet file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
        elif path.suffix.lower() == ".json":
            raw = prometheus_to_long(path)
        elif path.suffix.lower() in (".csv", ".txt", ".tsv") or suffixes.endswith((".csv.gz", ".csv.bz2")):
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            _check_csv_header(path, sep)
            raw = pd.read_csv(path, sep=sep)
        else:
            raise InvalidInputError(
                f"metrics file {str(path)!r} has an unknown extension; use .csv, .csv.gz, .tsv, .parquet "
                "or .json (a Prometheus query_range export)"
            )
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"metrics file {str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"metrics file {str(path)!r} cannot be parsed: {first}") from None
    return to_metric_frame(raw, layout=layout, time_column=time_column, on_duplicate=on_duplicate,
                           source=str(path))


def _series_name(labels: dict[str, str]) -> str:
    """``name{label="value",...}`` as Prometheus prints a series (labels sorted)."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest else (name or "{}")


def prometheus_to_long(path: str | Path) -> pd.DataFrame:
    """A Prometheus ``/api/v1/query_range`` JSON export (``resultType: matrix``) as a long
    frame ``timestamp, metric, value``; each series is named ``name{label="value",...}``."""
    import json

    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"metrics file {str(path)!r} is not valid JSON: {exc}") from None
    data = spec.get("data", spec) if isinstance(spec, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise InvalidInputError(f"metrics file {str(path)!r} is not a Prometheus query_range export "
                                "(expected data.resultType 'matrix' and a data.result list)")
    rows = []
    for series in data["result"]:
        name = _series_name(series.get("metric", {}))
        for ts, value in series.get("values", []):
            rows.append((float(ts), name, value))
    if not rows:
        raise InvalidInputError(f"metrics file {str(path)!r} holds no samples")
    frame = pd.DataFrame(rows, columns=["timestamp", "metric", "value"])
    # Prometheus writes values as strings, with "NaN", "+Inf" and "-Inf" for special values
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def _check_csv_header(path: Path, sep: str) -> None:
    """Refuse repeated column names (pandas would silently rename the second ``a`` to ``a.1``)."""
    import csv
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        header = next(csv.reader(fh, delimiter=sep), [])
    names = [h.strip() for h in header]
    if len(names) > 1 and all(_is_number(n) for n in names):
        raise InvalidInputError(
            f"metrics file {str(path)!r} has no header row: its first line holds {len(names)} numbers; "
            "write a header naming the metrics (SMD and ASD files are read by faultgraph.datasets.smd)")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        hint = ("; several header rows? (PetShop's layout is read by faultgraph.datasets.petshop)"
                if len(dup) >= 3 else "")
        raise InvalidInputError(f"metrics file {str(path)!r} has duplicate columns: {describe_names(dup)}{hint}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find_time_column(columns: list[str], time_column: str | None, source: str) -> str | None:
    if time_column is not None:
        if time_column not in columns:
            raise InvalidInputError(
                f"time_column {time_column!r} is not a column of {source}; columns: {', '.join(columns[:10])}"
            )
        return time_column
    lower = {c.lower(): c for c in columns}
    for name in TIME_COLUMNS:
        if name in lower:
            return lower[name]
    return None


def _parse_time(values: pd.Series, source: str) -> pd.Index:
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.DatetimeIndex(values, name="timestamp")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        v = values.to_numpy(dtype=float)
        if not np.all(np.isfinite(v)):
            raise InvalidInputError(f"{source}: the time column has missing or infinite values")
        if v.size and np.nanmin(v) > 1e12:
            return pd.DatetimeIndex(pd.to_datetime(v, unit="ms", utc=True), name="timestamp")
        if v.size and np.nanmin(v) > 1e9:
            return pd.DatetimeIndex(pd.to_datetime(v, unit="s", utc=True), name="timestamp")
        return pd.Index(v, name="timestamp")
    try:
        return pd.DatetimeIndex(pd.to_datetime(values, utc=True), name="timestamp")
    except (ValueError, TypeError):
        bad = values.iloc[0] if len(values) else ""
        raise InvalidInputError(f"{source}: the time column holds values that are not times, e.g. {bad!r}") from None


def to_metric_frame(
    raw: pd.DataFrame,
    *,
    layout: Layout = "auto",
    time_column: str | None = None,
    on_duplicate: OnDuplicate = "error",
    source: str = "data",
) -> pd.DataFrame:
    """Validate an in-memory frame exactly as :func:`read_metrics` validates a file."""
    if raw.shape[1] == 0 or raw.shape[0] == 0:
        raise InvalidInputError(f"{source} has no data rows or no columns")
    raw = raw.copy()
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = list(raw.columns)
    tcol = _find_time_column(columns, time_column, source)
    lower = {c.lower() for c in columns}
    is_long = tcol is not None and len(columns) == 3 and bool(lower & _LONG[0]) and bool(lower & _LONG[1])
    if layout == "long" and not is_long:
        raise InvalidInputError(
            f"{source}: a long layout needs exactly the columns timestamp, metric and value; got {', '.join(columns)}"
        )
    if layout == "wide":
        is_long = False
    if is_long and tcol is not None:
        name_col = next(c for c in columns if c.lower() in _LONG[0])
        value_col = next(c for c in columns if c.lower() == "value")
        values = pd.to_numeric(raw[value_col], errors="coerce")
        bad = values.isna() & raw[value_col].notna()
        if bad.any():
            raise InvalidInputError(
                f"{source}: column {value_col!r} has non-numeric values, e.g. {raw.loc[bad, value_col].iloc[0]!r}"
            )
        long = pd.DataFrame({"t": _parse_time(raw[tcol], source), "metric": raw[name_col].astype(str),
                             "value": values.to_numpy(dtype=float)})
        dup = long.duplicated(["t", "metric"], keep=False)
        if dup.any() and on_duplicate == "error":
            row = long[dup].iloc[0]
            raise InvalidInputError(
                f"{source}: metric {row['metric']!r} has {int(dup.sum())} duplicate timestamps (first {row['t']}); "
                "pass on_duplicate='mean' or 'last' to combine them"
            )
        agg = "mean" if on_duplicate == "mean" else "last"
        frame = long.pivot_table(index="t", columns="metric", values="value", aggfunc=agg, dropna=False)
        frame.index.name = "timestamp"
        frame.columns.name = None
    else:
        index = _parse_time(raw[tcol], source) if tcol is not None else pd.RangeIndex(len(raw), name="step")
        frame = raw.drop(columns=[tcol]) if tcol is not None else raw
        if frame.shape[1] == 0:
            raise InvalidInputError(f"{source} has a time column but no metric columns")
        dup_names = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
        if dup_names:
            raise InvalidInputError(f"{source} has duplicate metric columns: {', '.join(dup_names)}")
        non_numeric = []
        for c in frame.columns:
            col = frame[c]
            if pd.api.types.is_bool_dtype(col):
                frame[c] = col.astype(float)
            elif not pd.api.types.is_numeric_dtype(col):
                coerced = pd.to_numeric(col, errors="coerce")
                if (coerced.isna() & col.notna()).any():
                    non_numeric.append(c)
                else:
                    frame[c] = coerced
        if non_numeric:
            raise InvalidInputError(
                f"{source} has non-numeric metric columns: {', '.join(map(repr, non_numeric[:8]))}"
                + (f" and {len(non_numeric) - 8} more" if len(non_numeric) > 8 else "")
                + "; metrics must be numbers (set time_column= if one of them is the time)"
            )
        frame = frame.astype(np.float64)
        frame.index = index
        if frame.index.has_duplicates:
            n_dup = int(frame.index.duplicated().sum())
            if on_duplicate == "error":
                first = frame.index[frame.index.duplicated()][0]
                raise InvalidInputError(
                    f"{source} has {n_dup} duplicate timestamps (first {first}); "
                    "pass on_duplicate='mean' or 'last' to combine them"
                )
            frame = frame.groupby(level=0).mean() if on_duplicate == "mean" else frame[
                ~frame.index.duplicated(keep="last")]
    frame = frame.sort_index(kind="stable").astype(np.float64)
    inf_cols = [c for c in frame.columns if np.isinf(frame[c].to_numpy()).any()]
    if inf_cols:
        raise InvalidInputError(
            f"{source} has infinite values in metrics {', '.join(map(repr, inf_cols[:8]))}; "
            "replace them upstream (an infinity is a broken measurement, not a number to learn from)"
        )
    return frame
