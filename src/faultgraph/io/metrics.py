"""Reading monitoring metrics from CSV and Parquet files, wide or long.

* **wide**: an optional time column plus one column per metric;
* **long**: three columns ``timestamp, metric, value`` (one observation a row); pivoted
  to wide;
* **Prometheus**: the JSON of a ``/api/v1/query_range`` query (``.json``), one column per
  series, named ``name{label="value",...}``.

The result is always a validated ``float64`` DataFrame: one column per metric (named,
unique), indexed by time and sorted by it. Missing values stay NaN (the encoder fills
short gaps); everything else that is wrong raises ``InvalidInputError``. Metrics must be
real numbers: true/false columns are read as 1/0; dates, durations and complex numbers are
refused. Times are UTC: text with an offset (``+02:00``, ``Z``) is converted to UTC, times
without one (text, Parquet or a DataFrame's datetimes) are taken as UTC, and Unix times are
UTC by definition.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from faultgraph._validation import check_choice, describe_names, duplicated
from faultgraph.errors import InvalidInputError, SamplingWarning

__all__ = ["epoch_unit", "prometheus_to_long", "read_metrics", "to_metric_frame"]

Layout = Literal["auto", "wide", "long"]
OnDuplicate = Literal["error", "mean", "last"]

#: Column names recognised as the time column, in order of preference (case-insensitive).
TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date", "unix_timestamp")
#: A long layout's name column (Grafana's CSV export calls it ``Series``) and value column.
_LONG = ({"metric", "name", "__name__", "series"}, {"value"})
#: Compressed CSV extensions read (pandas infers the compression from the extension too).
_COMPRESSED = (".gz", ".bz2")
_DUPLICATE_HINT = ("aggregate or drop the repeated rows first, or from Python pass on_duplicate='mean' or 'last' "
                   "(read_metrics, to_metric_frame) to combine them")


def read_metrics(
    path: str | Path,
    *,
    layout: Layout = "auto",
    time_column: str | None = None,
    on_duplicate: OnDuplicate = "error",
) -> pd.DataFrame:
    """Read a metrics file (``.csv``, ``.csv.gz``/``.csv.bz2``, ``.tsv``, ``.txt``,
    ``.parquet``/``.pq``, ``.json``) into a float64 frame.

    Time values that are text are parsed as dates (``dd/mm/yyyy`` when a day above 12 or
    the spacing of the rows says so, :func:`_day_first`); numbers above 10⁹ are read as
    Unix seconds (above 10¹² milliseconds, 10¹⁵ microseconds, 10¹⁸ nanoseconds:
    :func:`epoch_unit`); smaller numbers stay plain numbers (steps). Times are UTC. A
    ``.json`` file is a Prometheus ``query_range`` export (:func:`prometheus_to_long`). The
    frame is then validated by :func:`to_metric_frame`.

    Parameters
    ----------
    path : str or Path
        The file.
    layout : {"auto", "wide", "long"}, default "auto"
        ``"auto"``: long when the columns are a time column, ``metric`` and ``value``.
    time_column : str or None, default None
        The time column; by default the first of ``timestamp``, ``time``, ``ts``,
        ``datetime``, ``date``, ``unix_timestamp`` present. Without one the index is the
        row number.
    on_duplicate : {"error", "mean", "last"}, default "error"
        What to do with repeated timestamps.

    Returns
    -------
    pandas.DataFrame
        One float64 column per metric, sorted by its time (or step) index.

    Raises
    ------
    InvalidInputError
        When ``path`` is not a path, does not exist, is a folder, has an unknown extension,
        is empty or cannot be parsed, or its content fails :func:`to_metric_frame`'s checks;
        when ``layout`` or ``on_duplicate`` is not one of the allowed values.
    """
    layout = check_choice("layout", layout, ("auto", "wide", "long"))
    on_duplicate = check_choice("on_duplicate", on_duplicate, ("error", "mean", "last"))
    if not isinstance(path, (str, os.PathLike)):
        hint = "; use to_metric_frame for a DataFrame" if isinstance(path, pd.DataFrame) else ""
        raise InvalidInputError(f"path must be a file path (a str or pathlib.Path), got {type(path).__name__}{hint}")
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
        elif path.suffix.lower() in (".csv", ".txt", ".tsv") or suffixes in tuple(".csv" + z for z in _COMPRESSED):
            raw = _read_csv(path, "\t" if path.suffix.lower() == ".tsv" else ",")
        else:
            raise InvalidInputError(
                f"metrics file {str(path)!r} has an unknown extension; use .csv (or .csv.gz, .csv.bz2), "
                ".tsv, .parquet or .json (a Prometheus query_range export)"
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


def _prometheus_number(value: Any) -> float | None:
    """A sample value as Prometheus writes it (a string such as ``"0.5"``, ``"NaN"``, ``"+Inf"``), or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def prometheus_to_long(path: str | Path) -> pd.DataFrame:
    """A Prometheus ``/api/v1/query_range`` JSON export (``resultType: matrix``) as a long
    frame ``timestamp, metric, value``; each series is named ``name{label="value",...}``.

    Only range queries are read: each series needs a ``values`` list of ``[time, "value"]``
    pairs; an instant query's single ``value`` is refused.

    Parameters
    ----------
    path : str or Path
        The JSON file (the whole API answer, or its ``data`` object).

    Returns
    -------
    pandas.DataFrame
        Columns ``timestamp`` (Unix seconds), ``metric``, ``value``.

    Raises
    ------
    InvalidInputError
        When the file cannot be read or is not valid JSON, is not a matrix export, a series
        is malformed (an instant query, a native histogram, no ``values``, a sample that is
        not a ``[time, "value"]`` pair of numbers), or it holds no samples.
    """
    import json

    path = Path(path)
    try:
        raw = path.read_bytes()
        spec = json.loads(raw.decode(_text_encoding(raw[:4])))
    except UnicodeDecodeError:
        raise InvalidInputError(f"metrics file {str(path)!r} is not UTF-8 text: {_SAVE_UTF8}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"metrics file {str(path)!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise InvalidInputError(f"metrics file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if isinstance(spec, dict) and spec.get("status") == "error":
        raise InvalidInputError(f"metrics file {str(path)!r} is Prometheus' answer to a failed query "
                                f"({spec.get('errorType', 'error')}: {str(spec.get('error', ''))[:300]}); "
                                "fix the query and export again")
    data = spec.get("data", spec) if isinstance(spec, dict) else None
    if isinstance(data, dict) and data.get("resultType") in ("vector", "scalar", "string"):
        raise InvalidInputError(f"metrics file {str(path)!r} is an instant query's answer (resultType "
                                f"{data.get('resultType')!r}); only query_range exports are read: "
                                "/api/v1/query_range?query=...&start=...&end=...&step=...")
    if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise InvalidInputError(f"metrics file {str(path)!r} is not a Prometheus query_range export "
                                "(expected data.resultType 'matrix' and a data.result list)")
    rows = []
    shape = '{"metric": {"label": "value", ...}, "values": [[time, "value"], ...]}'
    for i, series in enumerate(data["result"]):
        where = f"metrics file {str(path)!r}: data.result[{i}]"
        if not isinstance(series, dict):
            raise InvalidInputError(f"{where} is {type(series).__name__} {series!r:.40}, expected a series {shape}")
        if "values" not in series:
            if "value" in series:
                raise InvalidInputError(f"{where} has a single 'value' (an instant query); only query_range "
                                        "exports are read, with a 'values' list per series")
            if "histograms" in series or "histogram" in series:
                raise InvalidInputError(f"{where} is a native histogram; only plain series are read: query a "
                                        "quantile or a rate instead (histogram_quantile(...), rate(..._count[5m]))")
            raise InvalidInputError(f"{where} has no 'values' list; expected a series {shape}")
        labels, values = series.get("metric", {}), series["values"]
        if not isinstance(labels, dict) or not isinstance(values, list):
            raise InvalidInputError(f"{where} has 'metric' {labels!r:.40} and 'values' {values!r:.40}; "
                                    f"expected a series {shape}")
        name = _series_name(labels)
        for sample in values:
            if not isinstance(sample, list) or len(sample) != 2:
                raise InvalidInputError(f"{where} ({name}) has a sample {sample!r:.40}, "
                                        'expected a [time, "value"] pair')
            ts, value = _prometheus_number(sample[0]), _prometheus_number(sample[1])
            if ts is None:
                raise InvalidInputError(f"{where} ({name}) has a time {sample[0]!r:.40} that is not a number")
            if value is None:
                # Prometheus writes values as strings, with "NaN", "+Inf" and "-Inf" for special values
                raise InvalidInputError(f"{where} ({name}) has non-numeric values, e.g. {sample[1]!r:.40}; "
                                        "expected numbers or strings such as \"0.5\", \"NaN\", \"+Inf\"")
            rows.append((ts, name, value))
    if not rows:
        raise InvalidInputError(f"metrics file {str(path)!r} holds no samples")
    return pd.DataFrame(rows, columns=["timestamp", "metric", "value"])


#: Other delimiters a ``.csv`` may use: taken when the first line holds no comma but one of these.
_OTHER_DELIMITERS = (";", "\t")
_SAVE_UTF8 = "save it as UTF-8 (or UTF-16 with its byte-order mark) and read it again"


def _text_encoding(start: bytes) -> str:
    """The encoding of a text file from its first bytes: UTF-16 with its byte-order mark (as
    Windows PowerShell 5 writes redirected output), else UTF-8 with or without a BOM."""
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    return "utf-8-sig"


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    """Read a CSV: its delimiter (``,``, or ``;``/tab when the header holds no comma; with ``;``,
    a decimal comma when the values use one), Prometheus series names whose labels hold the
    delimiter unquoted (``cpu{job="a",instance="b"}`` is one name), repeated names refused."""
    import bz2
    import csv
    import gzip
    import io

    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix.lower(), open)
    with opener(path, "rb") as fb:  # type: ignore[operator]
        encoding = _text_encoding(fb.read(4))
    try:
        with opener(path, "rt", encoding=encoding, newline="") as fh:  # type: ignore[operator]
            head = fh.read(1 << 16)
            first = head.split("\n", 1)[0]
            if sep == "," and "," not in first:
                sep = next((d for d in _OTHER_DELIMITERS if first.count(d) >= 1), sep)
            text = head + fh.read() if "{" in head else None
    except UnicodeDecodeError as exc:
        kind = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise InvalidInputError(f"metrics file {str(path)!r} is not {kind} text (it holds the byte "
                                f"{exc.object[exc.start:exc.start + 1]!r}): {_SAVE_UTF8}") from None
    decimal = "," if sep == ";" and re.search(r"\d,\d", head.split("\n", 1)[-1]) else "."
    source: Any = path
    header = next(csv.reader(io.StringIO(first), delimiter=sep), [])
    if text is not None:
        rows = list(csv.reader(io.StringIO(text), delimiter=sep))
        joined = [_join_braced(row, sep) for row in rows]
        if joined != rows:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(joined)
            buffer.seek(0)
            source, sep, header = buffer, ",", joined[0] if joined else []
    _check_csv_header(path, header)
    if text is not None:  # every row is in hand
        data = (joined if source is not path else rows)[1:]
    else:  # the rows read so far (the last perhaps cut by the read)
        data = list(csv.reader(io.StringIO(head), delimiter=sep))[1:]
        data = data if len(head) < 1 << 16 else data[:-1]
    _refuse_short_rows(path, data, len(header))

    def whole(frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``, once no row past the first 64 KB is short of fields: one that is leaves
        its last column empty, so the file is scanned only where that column has a gap."""
        if text is None and len(head) == 1 << 16 and frame.shape[1] and frame.iloc[:, -1].isna().any():
            short = _first_short_line(path, opener, sep, len(header)) if encoding != "utf-16" else None
            if short is not None:
                _refuse_short_rows(path, [short[1]], len(header), last=short[2], row=short[0])
            elif opener is open and encoding != "utf-16":  # the scan declined (quotes): the last row at least
                _refuse_short_rows(path, _last_row(path, sep), len(header), last=True)
        return frame

    encoding_arg = encoding if source is path else None
    if not _trailing_separator(data, len(header)):  # row labels without a header name (R's write.table) too
        frame = pd.read_csv(source, sep=sep, decimal=decimal, encoding=encoding_arg)
        if not isinstance(frame.index, pd.RangeIndex) and frame.index.nlevels == 1 and \
                not pd.api.types.is_numeric_dtype(frame.index) and \
                _to_datetime(frame.index[:5], errors="coerce").notna().all():
            # pandas took an unnamed first field for row labels, but it holds times: the header
            # lacks a name, and every name would sit over its neighbour's values
            raise InvalidInputError(
                f"metrics file {str(path)!r} has rows with more fields than its header's {len(header)}, the first "
                "of them times: name every column in the header (or drop the extra fields)")
        return whole(frame)
    # a separator at the end of every data row (many exporters write one) is an empty last
    # field, not a reason to take the first column for the row index and shift every name onto
    # its neighbour's values; a row with another field, not empty, is refused
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return whole(pd.read_csv(source, sep=sep, decimal=decimal, index_col=False, encoding=encoding_arg))
        except pd.errors.ParserWarning:
            raise InvalidInputError(
                f"metrics file {str(path)!r} has rows with more fields than its header's {len(header)}: name every "
                "column in the header (or drop the extra fields)") from None


def _refuse_short_rows(path: Path, rows: list[list[str]], width: int, last: bool = False,
                       row: int | None = None) -> None:
    """Refuse a data row with fewer fields than the header's ``width`` (pandas would fill the
    rest with NaN and the encoder fill them in: a file cut short would be read as data);
    ``row``: the data row number of ``rows``' one row, where known."""
    for k, fields in enumerate(rows, 1):
        if fields and any(field.strip() for field in fields) and len(fields) < width:
            number = k if row is None else row
            where = ("its last row" + ("" if row is None else f" ({number})")) if last else f"data row {number}"
            raise InvalidInputError(
                f"metrics file {str(path)!r}: {where} has {len(fields)} of the header's {width} fields (a row cut "
                "short: a file still being written, truncated, or files of other columns joined?); complete or "
                "drop that row")


def _first_short_line(path: Path, opener: Any, sep: str, width: int, chunk: int = 1 << 24
                      ) -> tuple[int, list[str], bool] | None:
    """The first data row of the whole file with fewer than ``width − 1`` separators and a
    field that is not blank, as ``(data row number, its fields, whether it is the last
    row)``, counted block by block over the bytes (a row short of fields anywhere, not only
    where the first 64 KB and the last row are read); rows are numbered as pandas reads them
    (empty lines skipped, the header not counted). None when there is none, or when the file
    holds a quote or a brace (a field may then hold the separator or a newline, and pandas'
    reading stands)."""
    import csv

    delimiter, rows_before, carry = ord(sep), 0, b""  # rows_before: non-empty lines of earlier blocks
    with opener(path, "rb") as fb:
        while True:
            block = fb.read(chunk)
            if not block and not carry:
                return None
            if b'"' in block or b"{" in block:
                return None
            data = carry + block if block else carry + b"\n"  # the last line, without its newline
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            lines, carry = data[:cut + 1], data[cut + 1:]
            buf = np.frombuffer(lines, dtype=np.uint8)
            ends = np.flatnonzero(buf == 10)
            starts = np.concatenate(([0], ends[:-1] + 1))
            size = ends - starts
            empty = (size == 0) | ((size == 1) & (buf[np.minimum(starts, len(buf) - 1)] == 13))  # pandas skips them
            before = rows_before + np.cumsum(~empty) - (~empty)  # non-empty lines before each: the header is 0
            at = np.searchsorted(np.flatnonzero(buf == delimiter), ends)  # separators before each line's end
            for k in np.flatnonzero((np.diff(at, prepend=0) < width - 1) & ~empty):
                if before[k] == 0:  # the header
                    continue
                fields = next(csv.reader([lines[starts[k]:ends[k]].decode("utf-8", errors="replace")],
                                         delimiter=sep), [])
                if not any(field.strip() for field in fields):  # a row of blanks: missing values, not cut
                    continue
                rest = lines[ends[k] + 1:] + carry
                while not rest.strip() and (more := fb.read(1 << 16)):  # anything after it?
                    rest = more
                return int(before[k]), fields, not rest.strip()
            rows_before += int(np.count_nonzero(~empty))
            if not block:
                return None


def _last_row(path: Path, sep: str) -> list[list[str]]:
    """The last non-empty row of a plain-text CSV, read from its end."""
    import csv

    size, span = path.stat().st_size, 1 << 14
    with open(path, "rb") as fb:
        while True:  # back from the end until the last row is whole (a newline before it, or the start)
            fb.seek(max(0, size - span))
            chunk = fb.read().rstrip(b"\r\n")
            if b"\n" in chunk or span >= size:
                break
            span *= 4
    lines = [line for line in chunk.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if span < size:
        lines = lines[1:]  # the chunk's first line may start mid-row
    return list(csv.reader(lines[-1:], delimiter=sep)) if lines else []


def _trailing_separator(rows: list[list[str]], width: int) -> bool:
    """Whether the first data ``rows`` have one field more than the header's ``width``, the
    last one empty: a separator at the end of each row."""
    first = [r for r in rows[:5] if r]
    return bool(first) and all(len(r) == width + 1 and not r[-1].strip() for r in first)


def _join_braced(fields: list[str], sep: str) -> list[str]:
    """Fields split inside ``{...}`` joined again: ``['cpu{a="1"', 'b="2"}']`` → ``['cpu{a="1",b="2"}']``."""
    out: list[str] = []
    depth = 0
    for field in fields:
        if depth > 0:
            out[-1] += sep + field
        else:
            out.append(field)
        depth = max(0, depth + field.count("{") - field.count("}"))
    return fields if depth > 0 else out  # a brace that never closes is part of a name, not a label set


def _check_csv_header(path: Path, header: list[str]) -> None:
    """Refuse repeated column names (pandas would silently rename the second ``a`` to ``a.1``)."""
    names = [h.strip() for h in header]
    # numbers with a fraction or an exponent cannot be metric names; integer names (0, 1, 2 or
    # years) can be a header
    if len(names) > 1 and all(_is_number(n) for n in names) and any(not n.lstrip("+-").isdigit() for n in names):
        raise InvalidInputError(
            f"metrics file {str(path)!r} has no header row: its first line holds {len(names)} numbers; "
            "write a header naming the metrics (SMD and ASD files are read by faultgraph.datasets.smd)")
    blank = [k + 1 for k, n in enumerate(names) if not n and k > 0]  # a blank first one: pandas' row numbers
    if blank:
        trailing = blank == [len(names)]
        raise InvalidInputError(
            f"metrics file {str(path)!r} has a column without a name in its header (column "
            f"{', '.join(map(str, blank[:5]))} of {len(names)}): name it, or drop it"
            + ("; a separator at the end of the header line?" if trailing else ""))
    dup = duplicated(names)
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


def _refuse_missing_times(missing: np.ndarray, source: str, what: str = "missing") -> None:
    if missing.any():
        raise InvalidInputError(
            f"{source}: the time column has {int(missing.sum())} {what} values (first on data row "
            f"{int(np.flatnonzero(missing)[0]) + 1}); every row needs a time: drop or fill those rows"
        )


#: A numeric time column whose values all exceed this holds Unix times, not step numbers.
EPOCH_ABOVE = 1e9


def epoch_unit(value: float) -> str:
    """The unit of a Unix time ``value``: nanoseconds above 1e18, microseconds above 1e15,
    milliseconds above 1e12, else seconds (each from 2001 to 2286 in its unit).

    Parameters
    ----------
    value : float
        A Unix time.

    Returns
    -------
    {"ns", "us", "ms", "s"}
    """
    return "ns" if value > 1e18 else "us" if value > 1e15 else "ms" if value > 1e12 else "s"


def _epoch_times(v: np.ndarray, source: str) -> pd.DatetimeIndex:
    """Unix times in one unit (:func:`epoch_unit`), refused when the column mixes units."""
    low, high = epoch_unit(float(np.min(v))), epoch_unit(float(np.max(v)))
    if low != high:
        first_high = int(np.flatnonzero(np.array([epoch_unit(float(x)) == high for x in v]))[0])
        raise InvalidInputError(
            f"{source}: the time column mixes Unix time units: {float(np.min(v)):.0f} reads as {_UNIT_NAMES[low]}, "
            f"{v[first_high]:.0f} (data row {first_high + 1}) as {_UNIT_NAMES[high]}; write every time in one unit")
    try:
        return pd.DatetimeIndex(pd.to_datetime(v, unit=low, utc=True), name="timestamp")  # int64 stays exact
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        raise InvalidInputError(f"{source}: the time column's Unix times ({_UNIT_NAMES[low]}) reach beyond the "
                                "years 1677-2262 that times can hold") from None


_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _parse_time(values: pd.Series, source: str) -> pd.Index:
    if pd.api.types.is_datetime64_any_dtype(values):
        _refuse_missing_times(values.isna().to_numpy(), source)
        index = pd.DatetimeIndex(values, name="timestamp")
        try:  # UTC, as text times are read: a window given as ...Z then finds them
            return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{source}: its times cannot be taken as UTC: {exc}") from None
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        if pd.api.types.is_complex_dtype(values):
            raise InvalidInputError(f"{source}: the time column holds complex numbers, not times")
        v = values.to_numpy(dtype=float, na_value=np.nan)
        _refuse_missing_times(~np.isfinite(v), source, "missing or infinite")
        if v.size and np.nanmin(v) > EPOCH_ABOVE:
            # whole numbers stay whole: nanoseconds through float64 would be off by up to 128 ns
            whole = pd.api.types.is_integer_dtype(values) and not values.isna().any()
            return _epoch_times(values.to_numpy(dtype=np.int64) if whole else v, source)
        if v.size and np.all(v == np.round(v)) and np.abs(v).max() < 2**53:
            return pd.Index(v.astype(np.int64), name="timestamp")  # step numbers stay whole: 1534, not 1534.0
        return pd.Index(v, name="timestamp")
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    _refuse_missing_times((text.isna() | text.eq("")).to_numpy(dtype=bool), source)
    dayfirst = _day_first(text, source)
    for fmt in (None, "ISO8601"):  # the format of the first time; else ISO 8601 of any precision
        try:
            parsed = pd.DatetimeIndex(_to_datetime(text, utc=True, format=fmt, dayfirst=dayfirst), name="timestamp")
        except (ValueError, TypeError, OverflowError):
            continue
        _refuse_missing_times(parsed.isna(), source)  # "NaT", "nan"
        return parsed
    numbers = pd.to_numeric(text, errors="coerce").notna().to_numpy()
    if numbers.any() and not numbers.all():  # Unix times (or step numbers) written as text beside dates
        number, date = int(np.flatnonzero(numbers)[0]), int(np.flatnonzero(~numbers)[0])
        raise InvalidInputError(
            f"{source}: the time column mixes numbers ({text.iloc[number]!r}, data row {number + 1}: Unix times "
            f"or step numbers) with dates ({text.iloc[date]!r}, data row {date + 1}); write every time in one "
            "format")
    coerced = _to_datetime(text, utc=True, errors="coerce")
    failed = np.flatnonzero(coerced.isna().to_numpy())
    row = int(failed[0]) if failed.size else 0
    bad = text.iloc[row]
    try:
        _to_datetime(bad, utc=True)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInputError(
            f"{source}: the time column holds values that are not times, e.g. {bad!r} (data row {row + 1})"
        ) from None
    raise InvalidInputError(
        f"{source}: the time column mixes formats: {bad!r} (data row {row + 1}) is not written like the first "
        f"time {text.iloc[0]!r}; write every time in one format"
    )


#: Dates written with the day and the month as numbers before a 4-digit year: 01/03/2024, 01.03.2024.
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{4}(?:\D|$)")


def _day_first(text: pd.Series, source: str) -> bool:
    """Whether dates like ``01/03/2024`` put the day first.

    A first number above 12 says day first, a second above 12 month first. When neither is
    ever above 12, both readings are dates: the one whose rows are in time order with fewer
    holes is taken (three days of minutes read month first jump a month a day), month first
    (pandas' reading) on a tie, with a warning when the two readings differ.
    """
    if not len(text) or not isinstance(text.iloc[0], str) or not _NUMERIC_DATE.match(text.iloc[0]):
        return False
    parts = text.astype(str).str.extract(_NUMERIC_DATE)
    if parts.isna().any().any():  # not every time is such a date: the format check reports it
        return False
    first, second = parts[0].astype(int), parts[1].astype(int)
    if (first > 12).any() or (second > 12).any():
        return bool((first > 12).any() and not (second > 12).any())
    if (first == second).all():
        return False
    readings = {}
    for dayfirst in (False, True):
        try:
            t = pd.DatetimeIndex(_to_datetime(text, utc=True, dayfirst=dayfirst)).asi8.astype(float)
        except (ValueError, TypeError, OverflowError):
            readings[dayfirst] = (np.inf, np.inf)
            continue
        gaps = np.diff(t)
        step = float(np.median(gaps)) if gaps.size else 0.0
        readings[dayfirst] = (float((gaps < 0).sum()), float((gaps > HOLE_FACTOR * step).sum()) if step > 0 else 0.0)
    chosen = readings[True] < readings[False]
    example = text.iloc[int(np.flatnonzero((first != second).to_numpy())[0])]
    warnings.warn(f"{source}: dates such as {example!r} could put the day or the month first; read "
                  f"{'day' if chosen else 'month'} first (its rows are in time order with "
                  f"{'fewer holes' if readings[True] != readings[False] else 'the same spacing either way'}); "
                  "write ISO dates (2024-03-01) to be sure", SamplingWarning, stacklevel=5)
    return chosen


def _to_datetime(*args: Any, **kwargs: Any) -> Any:
    """``pd.to_datetime`` without its advice to give a format (pandas warns when it falls
    back to parsing each value alone; the result is checked here, and the error says what
    is wrong)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        return pd.to_datetime(*args, **kwargs)


def _refuse_unreal(frame: pd.DataFrame, source: str) -> None:
    """Refuse columns of dates, durations, periods, intervals or complex numbers: casting them to
    float gives epoch nanoseconds or drops the imaginary part, silently."""
    bad = [f"{c!r} ({frame[c].dtype})" for c in frame.columns
           if not (pd.api.types.is_bool_dtype(frame[c]) or pd.api.types.is_object_dtype(frame[c])
                   or pd.api.types.is_string_dtype(frame[c]) or isinstance(frame[c].dtype, pd.CategoricalDtype)
                   or (pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_complex_dtype(frame[c])))]
    if bad:
        raise InvalidInputError(
            f"{source} has metric columns that are not real numbers: {describe_names(bad, show=str)}; "
            "metrics must be numbers "
            f"(true/false is read as 1/0): drop those columns, or, if one of them is the time, {_TIME_HINT}"
        )


def to_metric_frame(
    raw: pd.DataFrame,
    *,
    layout: Layout = "auto",
    time_column: str | None = None,
    on_duplicate: OnDuplicate = "error",
    source: str = "data",
) -> pd.DataFrame:
    """Validate an in-memory frame exactly as :func:`read_metrics` validates a file.

    ``raw`` is a pandas DataFrame, wide or long. Metric columns must hold real numbers (or
    text that parses as numbers); true/false is read as 1/0; dates, durations and complex
    numbers are refused.

    Parameters
    ----------
    raw : pandas.DataFrame
        Wide (a time column, if any, and one column per metric) or long (time, metric,
        value).
    layout : {"auto", "wide", "long"}, default "auto"
        As for :func:`read_metrics`.
    time_column : str or None, default None
        As for :func:`read_metrics`.
    on_duplicate : {"error", "mean", "last"}, default "error"
        As for :func:`read_metrics`.
    source : str, default "data"
        What the frame is, for the messages (the file's path when read from one).

    Returns
    -------
    pandas.DataFrame
        One float64 column per metric, sorted by its time index (a ``step`` RangeIndex
        without a time column).

    Raises
    ------
    InvalidInputError
        When ``raw`` is not a DataFrame or is empty; a long layout is malformed (other
        columns, rows without a metric name, non-numeric values); metric columns are
        duplicated, not real numbers or hold infinities; times are missing, not times or
        mixed in format; timestamps repeat with ``on_duplicate="error"``; or ``layout`` or
        ``on_duplicate`` is not one of the allowed values.
    """
    if not isinstance(raw, pd.DataFrame):
        raise InvalidInputError(
            f"raw must be a pandas DataFrame (wide, or long: timestamp, metric, value), got {type(raw).__name__}; "
            "read a file with read_metrics(path), and wrap an array as pd.DataFrame(array, columns=[...names])"
        )
    layout = check_choice("layout", layout, ("auto", "wide", "long"))
    on_duplicate = check_choice("on_duplicate", on_duplicate, ("error", "mean", "last"))
    if raw.shape[1] == 0 or raw.shape[0] == 0:
        raise InvalidInputError(f"{source} has no data rows or no columns")
    raw = _time_index_as_column(raw, time_column)
    raw.columns = [str(c).strip() for c in raw.columns]
    raw = _drop_row_numbers(raw, source)
    columns = list(raw.columns)
    tcol = _find_time_column(columns, time_column, source)
    lower = {c.lower() for c in columns}
    is_long = tcol is not None and len(columns) == 3 and bool(lower & _LONG[0]) and bool(lower & _LONG[1])
    if layout == "long" and not is_long:
        raise InvalidInputError(
            f"{source}: a long layout needs exactly the columns timestamp, metric and value; got {', '.join(columns)}"
        )
    if (layout != "wide" and not is_long and tcol is not None and len(columns) > 3 and lower & _LONG[0]
            and lower & _LONG[1]):
        extra = [c for c in columns if c != tcol and c.lower() not in _LONG[0] | _LONG[1]]
        raise InvalidInputError(
            f"{source} looks like a long layout (time, metric, value) with more columns: "
            f"{describe_names(extra)}; a long layout takes exactly those three: fold the other labels into the "
            "metric name (cpu{host=\"a\"}) or drop them"
        )
    if layout == "wide":
        is_long = False
    if is_long and tcol is not None:
        name_col = next(c for c in columns if c.lower() in _LONG[0])
        value_col = next(c for c in columns if c.lower() == "value")
        _refuse_unreal(raw[[value_col]], source)
        names = raw[name_col].map(lambda v: v.strip() if isinstance(v, str) else v)
        unnamed = (names.isna() | names.eq("")).to_numpy(dtype=bool)
        if unnamed.any():
            raise InvalidInputError(
                f"{source}: {int(unnamed.sum())} rows have no metric name in column {name_col!r} (first on data row "
                f"{int(np.flatnonzero(unnamed)[0]) + 1}); every row of a long layout needs one"
            )
        values = _numbers(raw[value_col])
        bad = values.isna() & raw[value_col].notna()
        if bad.any():
            raise InvalidInputError(
                f"{source}: column {value_col!r} has non-numeric values, e.g. {raw.loc[bad, value_col].iloc[0]!r}"
            )
        long = pd.DataFrame({"t": _parse_time(raw[tcol], source), "metric": names.astype(str),
                             "value": values.to_numpy(dtype=float)})
        dup = long.duplicated(["t", "metric"], keep=False)
        if dup.any() and on_duplicate == "error":
            row = long[dup].iloc[0]
            own = long[long["metric"] == row["metric"]]
            n_dup = int(own.duplicated(["t", "metric"]).sum())  # its extra copies, as a wide file counts them
            raise InvalidInputError(
                f"{source}: metric {row['metric']!r} has {_duplicates(n_dup)} (first {row['t']}); "
                + _DUPLICATE_HINT
            )
        agg = "mean" if on_duplicate == "mean" else "last"
        frame = long.pivot_table(index="t", columns="metric", values="value", aggfunc=agg, dropna=False)
        frame.index.name = "timestamp"
        frame.columns.name = None
    else:
        index = _parse_time(raw[tcol], source) if tcol is not None else pd.RangeIndex(len(raw), name="step")
        frame = raw.drop(columns=[tcol]) if tcol is not None else raw
        also = [c for c in frame.columns if c.lower() in TIME_COLUMNS] if time_column is None else []
        if tcol is not None and also:  # Nezha's files hold Time and TimeStamp: neither is a metric
            warnings.warn(f"{source}: {tcol!r} taken as the time; {describe_names(also)}, also named like a time "
                          "column, left out (time_column= in Python, or rename, to choose another)",
                          UserWarning, stacklevel=3)
            frame = frame.drop(columns=also)
        if frame.shape[1] == 0:
            raise InvalidInputError(f"{source} has a time column but no metric columns")
        dup_names = duplicated(list(frame.columns))
        if dup_names:
            raise InvalidInputError(f"{source} has duplicate metric columns: {', '.join(dup_names)}")
        _refuse_unreal(frame, source)
        non_numeric, example = [], ""
        for c in frame.columns:
            col = frame[c]
            if pd.api.types.is_bool_dtype(col):
                frame[c] = col.astype(float)
            elif not pd.api.types.is_numeric_dtype(col):
                coerced = _numbers(col)
                bad = (coerced.isna() & col.notna()).to_numpy(dtype=bool)
                if bad.any() or pd.api.types.is_complex_dtype(coerced):
                    non_numeric.append(c)
                    if not example and bad.any():
                        row = int(np.flatnonzero(bad)[0])
                        example = f" (e.g. {col.iloc[row]!r} in {c!r}, data row {row + 1})"
                else:
                    frame[c] = coerced
        if non_numeric:
            raise InvalidInputError(
                f"{source} has non-numeric metric columns: {describe_names(non_numeric)}{example}; "
                f"metrics must be numbers (a label 0 and 1, or true and false): drop those columns, or, if one of "
                f"them is the time, {_TIME_HINT}"
            )
        frame = frame.astype(np.float64)
        frame.index = index
        if frame.index.has_duplicates:
            n_dup = int(frame.index.duplicated().sum())
            if on_duplicate == "error":
                first = frame.index[frame.index.duplicated()][0]
                raise InvalidInputError(
                    f"{source} has {_duplicates(n_dup)} (first {first}); " + _DUPLICATE_HINT
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
    if tcol is not None:
        _warn_irregular(frame, source)
    return frame


_TIME_HINT = ("set time_column= (in Python) or rename it to one of " + ", ".join(TIME_COLUMNS)
              + " (the command line finds those)")
#: Rows holding some metrics but not all, above this share, while no metric is on more than
#: :data:`SCATTERED` of the rows: metrics stamped at different times.
PARTIAL_ROWS = 0.5
SCATTERED = 0.6
#: A spacing this many times the typical one is a hole in the time index.
HOLE_FACTOR = 1.5
#: The typical deviation of the spacing from the typical spacing, as a share of it, above which
#: sampling counts as irregular.
JITTER = 0.1


def _numbers(column: pd.Series) -> pd.Series:
    """Text as numbers; ``true``/``false`` (any case) as 1/0, as true/false columns are read."""
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        truth = {"true": 1.0, "false": 0.0}
        lowered = column.map(lambda v: truth.get(v.strip().lower(), v) if isinstance(v, str) else v)
        return pd.to_numeric(lowered, errors="coerce")
    return pd.to_numeric(column, errors="coerce")


def _duplicates(n: int) -> str:
    """``1 repeated timestamp``, ``3 repeated timestamps``: the extra copies of a time."""
    return f"{n} repeated timestamp{'s' if n != 1 else ''}"


def _time_index_as_column(raw: pd.DataFrame, time_column: str | None) -> pd.DataFrame:
    """A copy of ``raw`` whose times, when its index holds them (a DatetimeIndex, or an index
    named like a time column: what ``DataFrame.to_parquet()`` keeps), are a column again,
    named after the index (``timestamp`` when it has no name); other indexes are dropped."""
    index = raw.index
    if isinstance(index, pd.MultiIndex):
        return raw.copy()
    label = "" if index.name is None else str(index.name)
    asked = time_column is not None and label == time_column
    # an index named like a time column (or as time_column) holding numbers or times: Unix
    # times or steps, as a column of that name would be
    named = bool(label) and (asked or label.lower() in TIME_COLUMNS) and (
        pd.api.types.is_numeric_dtype(index) or isinstance(index, pd.DatetimeIndex))
    if not (isinstance(index, pd.DatetimeIndex) or named):
        return raw.copy()
    if (time_column is not None and time_column in map(str, raw.columns)) or \
            (time_column is None and any(str(c).lower() in TIME_COLUMNS for c in raw.columns)):
        return raw.copy()  # a time column is there: the index is not the time
    # the name the time column is found by: the index's own when it is one, else "timestamp"
    name = label if (asked or (time_column is None and label.lower() in TIME_COLUMNS)) else (
        time_column if time_column is not None else "timestamp")
    if name in map(str, raw.columns):
        return raw.copy()
    frame = raw.reset_index(drop=True)
    frame.insert(0, name, index if isinstance(index, pd.DatetimeIndex) else np.asarray(index))
    return frame


def _drop_row_numbers(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Drop a first column ``Unnamed: 0`` holding 0, 1, 2, ...: the row numbers pandas writes
    as the index of ``DataFrame.to_csv()``, not a metric."""
    first = frame.columns[0] if frame.shape[1] else None
    if first != "Unnamed: 0" or frame.shape[1] < 2:
        return frame
    values = pd.to_numeric(frame[first], errors="coerce").to_numpy(dtype=float)
    if not np.array_equal(values, np.arange(len(frame), dtype=float)):
        return frame
    warnings.warn(f"{source}: ignoring its first column 'Unnamed: 0', the row numbers 0, 1, 2, ... that "
                  "pandas writes for its index (DataFrame.to_csv(index=False) leaves them out)", UserWarning,
                  stacklevel=4)
    return frame.drop(columns=[first])


def _warn_irregular(frame: pd.DataFrame, source: str) -> None:
    """A :class:`~faultgraph.errors.SamplingWarning` when the times are no regular grid: rows that
    hold only some metrics (stamped at different times), holes, or jitter. Every model reads
    rows as consecutive steps."""
    if len(frame) < 3:
        return
    present = frame.notna().to_numpy()
    # metrics stamped at different times: most rows partial and no metric on most rows (a
    # metric added late, or a sparse one, beside complete ones is no sign of it)
    partial = float((~present.all(axis=1) & present.any(axis=1)).mean())
    scattered = partial > PARTIAL_ROWS and float(present.mean(axis=0).max()) < SCATTERED
    t = frame.index.asi8.astype(float) if isinstance(frame.index, pd.DatetimeIndex) else \
        frame.index.to_numpy(dtype=float)
    gaps = np.diff(t)
    step = float(np.median(gaps))
    problems = []
    if scattered:
        problems.append(f"{partial:.0%} of its rows hold only some metrics (metrics stamped at different times)")
    if step > 0:
        holes = np.flatnonzero(gaps > HOLE_FACTOR * step)
        if holes.size:
            worst = int(holes[np.argmax(gaps[holes])])
            problems.append(f"{holes.size} hole{'s' if holes.size > 1 else ''} in its times (the longest "
                            f"{gaps[worst] / step:.0f} steps, after {frame.index[worst]})")
        jitter = float(np.median(np.abs(gaps - step))) / step
        if jitter > JITTER:
            problems.append(f"irregular sampling (spacing off its median by {jitter:.0%} typically)")
    if problems:
        warnings.warn(f"{source}: {'; '.join(problems)}; its rows are used as consecutive steps: put them on "
                      "one grid (--resample STEP on the command line, faultgraph.encode.align in Python; gaps up "
                      "to max_gap are then filled, longer ones refused)", SamplingWarning, stacklevel=4)
