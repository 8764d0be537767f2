"""Reading metrics files: wide and long, CSV and Parquet, and every kind of bad file."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, read_metrics
from faultgraph.io import to_metric_frame, write_json_atomic


def test_wide_csv_with_time_column(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,cpu,latency\n2024-01-01T00:02:00Z,3,30\n2024-01-01T00:00:00Z,1,10\n"
                 "2024-01-01T00:01:00Z,2,\n")
    frame = read_metrics(p)
    assert list(frame.columns) == ["cpu", "latency"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.is_monotonic_increasing
    assert frame.dtypes.eq(np.float64).all()
    assert frame["cpu"].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(frame["latency"].iloc[1])  # gaps stay NaN for the encoder


def test_unix_seconds_and_plain_steps(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("time,a,b\n1700000000,1,2\n1700000060,2,3\n")
    frame = read_metrics(p)
    assert frame.index[1] - frame.index[0] == pd.Timedelta(seconds=60)
    p.write_text("a,b\n1,2\n2,3\n")
    frame = read_metrics(p)
    assert frame.index.name == "step" and list(frame.index) == [0, 1]


def test_long_csv_is_pivoted(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text("timestamp,metric,value\n0,cpu,1\n0,mem,5\n1,cpu,2\n1,mem,6\n2,cpu,3\n")
    frame = read_metrics(p)
    assert list(frame.columns) == ["cpu", "mem"]
    assert frame.loc[1.0, "mem"] == 6.0 and np.isnan(frame.loc[2.0, "mem"])


def test_parquet_wide_and_long(tmp_path):
    wide = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=4, freq="min"),
                         "cpu": [1.0, 2, 3, 4], "mem": [4.0, 3, 2, 1]})
    wide.to_parquet(tmp_path / "w.parquet")
    frame = read_metrics(tmp_path / "w.parquet")
    assert frame.shape == (4, 2) and frame["mem"].iloc[0] == 4.0
    long = wide.melt(id_vars="timestamp", var_name="metric", value_name="value")
    long.to_parquet(tmp_path / "l.parquet")
    pd.testing.assert_frame_equal(read_metrics(tmp_path / "l.parquet"), frame, check_freq=False)


def test_duplicate_timestamps(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("timestamp,a,b\n0,1,2\n0,3,4\n1,5,6\n")
    with pytest.raises(InvalidInputError, match="1 repeated timestamp .*on_duplicate"):
        read_metrics(p)
    assert read_metrics(p, on_duplicate="mean").loc[0.0, "a"] == 2.0
    assert read_metrics(p, on_duplicate="last").loc[0.0, "a"] == 3.0
    q = tmp_path / "dl.csv"
    q.write_text("timestamp,metric,value\n0,a,1\n0,a,3\n0,b,1\n0,b,2\n")  # a's extra copies, as a wide file
    with pytest.raises(InvalidInputError, match="metric 'a' has 1 repeated timestamp "):
        read_metrics(q)


@pytest.mark.parametrize(
    "content, match",
    [
        ("", "is empty"),
        ("timestamp,a,b\n", "no data rows"),
        ("timestamp,a,b\n0,1,x\n1,2,y\n", "non-numeric metric columns: 'b'"),
        ("timestamp,a,b\n0,1,inf\n1,2,3\n", "infinite values in metrics 'b'"),
        ("timestamp,a,a\n0,1,2\n", "duplicate columns: 'a'$"),
        ("t,a,a,b,b,c,c\n,x,x,y,y,z,z\n0,1,2,3,4,5,6\n", "duplicate columns: 'a', 'b', 'c'; several header rows"),
        ("0.5,0.25,1\n0.4,0.2,1\n", "has no header row: its first line holds 3 numbers"),
        ("0,1,2\n0.5,0.25,x\n", "non-numeric metric columns: '2'"),  # integer names are a header
        ("timestamp\n0\n1\n", "no metric columns"),
        ("timestamp,metric,value\n0,a,hello\n", "non-numeric values"),
        ("timestamp,a\nyesterday-ish,1\n", "not times"),
    ],
)
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(InvalidInputError, match=match):
        read_metrics(p)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_metrics(tmp_path / "nope.csv")
    (tmp_path / "x.xml").write_text("<a/>")
    with pytest.raises(InvalidInputError, match="unknown extension"):
        read_metrics(tmp_path / "x.xml")
    with pytest.raises(InvalidInputError, match="is a folder"):
        read_metrics(tmp_path)


def test_explicit_time_column_and_layout_checks(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("when,a,b\n0,1,2\n1,2,3\n")
    assert read_metrics(p, time_column="when").shape == (2, 2)
    with pytest.raises(InvalidInputError, match="time_column 'then' is not a column"):
        read_metrics(p, time_column="then")
    with pytest.raises(InvalidInputError, match="long layout needs"):
        read_metrics(p, layout="long")
    with pytest.raises(InvalidInputError, match="layout must be one of"):
        read_metrics(p, layout="tall")


def test_write_json_atomic_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert target.read_text().strip().endswith("}") and '"a": 2' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]
    with pytest.raises(ValueError):
        write_json_atomic(target, {"a": float("nan")})
    assert '"a": 2' in target.read_text()  # the old file survives a failed write
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_prometheus_query_range_export(tmp_path):
    import json

    export = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "cpu", "pod": "a"}, "values": [[1700000000, "0.5"], [1700000060, "0.7"]]},
        {"metric": {"__name__": "cpu", "pod": "b"}, "values": [[1700000000, "1"], [1700000060, "NaN"]]},
    ]}}
    p = tmp_path / "prom.json"
    p.write_text(json.dumps(export))
    frame = read_metrics(p)
    assert list(frame.columns) == ['cpu{pod="a"}', 'cpu{pod="b"}']
    assert frame.iloc[1, 0] == 0.7 and np.isnan(frame.iloc[1, 1])
    assert isinstance(frame.index, pd.DatetimeIndex)
    p.write_text(json.dumps({"data": {"resultType": "vector", "result": []}}))
    with pytest.raises(InvalidInputError, match="an instant query's answer"):
        read_metrics(p)
    p.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        read_metrics(p)


def test_blank_or_missing_times_are_refused_with_the_row_count(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("timestamp,a\n2024-01-01 00:00,1\n,2\n2024-01-01 00:02,3\n  ,4\n")
    with pytest.raises(InvalidInputError, match=r"t\.csv.*time column has 2 missing values \(first on data row 2\)"):
        read_metrics(p)
    p.write_text("timestamp,a\n0,1\n,2\n")  # numbers: the same message
    with pytest.raises(InvalidInputError, match=r"t\.csv.*time column has 1 missing or infinite values"):
        read_metrics(p)
    frame = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01", None]), "a": [1.0, 2.0]})
    with pytest.raises(InvalidInputError, match="time column has 1 missing values"):
        to_metric_frame(frame)


def test_unparseable_times_quote_the_bad_value_not_the_first(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("timestamp,a\n2024-01-01 00:00:00,1\nnot a time,2\n")
    with pytest.raises(InvalidInputError, match=r"not times, e\.g\. 'not a time' \(data row 2\)"):
        read_metrics(p)
    p.write_text("timestamp,a\n2024-01-01 00:00:00,1\n01/02/2024,2\n")
    with pytest.raises(InvalidInputError, match=r"mixes formats: '01/02/2024' \(data row 2\)"):
        read_metrics(p)
    p.write_text("timestamp,a\n2024-01-01T00:00:00,1\n2024-01-01T00:00:00.500000,2\n")  # datetime.isoformat()
    assert read_metrics(p).index[1] == pd.Timestamp("2024-01-01 00:00:00.5", tz="UTC")
    # Unix seconds written beside dates: said so, and pandas' advice to give a format does not leak
    p.write_text("timestamp,a\n1767225600,1\n2026-01-01 00:01:00,2\n1767225720,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidInputError, match=r"mixes numbers \('1767225600', data row 1: Unix times or step "
                                                    r"numbers\) with dates \('2026-01-01 00:01:00', data row 2\)"):
            read_metrics(p)


def test_a_second_column_named_like_a_time_is_left_out_with_a_warning(tmp_path):
    p = tmp_path / "pod.csv"  # Nezha's metric files hold both
    p.write_text("Time,TimeStamp,x,y\n2022-08-22 03:51:19,1661140279,1,1\n2022-08-22 03:52:19,1661140339,2,3\n")
    with pytest.warns(UserWarning, match=r"'TimeStamp' taken as the time; 'Time', also named like a time column, "
                                         r"left out"):
        frame = read_metrics(p)
    assert list(frame.columns) == ["x", "y"] and frame.index[0] == pd.Timestamp("2022-08-22 03:51:19", tz="UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the caller chose: read as told, the other a column like any
        assert list(read_metrics(p, time_column="Time").columns) == ["TimeStamp", "x", "y"]


@pytest.mark.parametrize("column, kind", [
    (pd.date_range("2024-01-01", periods=3, freq="min"), "datetime64"),
    (pd.to_timedelta([1, 2, 3], unit="s"), "timedelta64"),
    (np.array([1 + 2j, 2, 3]), "complex128"),
])
def test_dates_durations_and_complex_metrics_are_refused(tmp_path, column, kind):
    frame = pd.DataFrame({"timestamp": [0, 1, 2], "a": [1.0, 2, 3], "b": column})
    with pytest.raises(InvalidInputError, match=rf"metric columns that are not real numbers: 'b' \({kind}"):
        to_metric_frame(frame)
    if kind == "datetime64":  # a second date column in a Parquet file
        frame.to_parquet(tmp_path / "m.parquet")
        with pytest.raises(InvalidInputError, match=r"m\.parquet has metric columns that are not real numbers: 'b'"):
            read_metrics(tmp_path / "m.parquet")
    with pytest.raises(InvalidInputError, match="non-numeric metric columns: 'b'"):  # complex written as text
        to_metric_frame(frame.assign(b=pd.Series([1 + 2j, 2, 3], dtype=object)))
    long = pd.DataFrame({"timestamp": [0, 1, 2], "metric": "m", "value": column})
    with pytest.raises(InvalidInputError, match="not real numbers: 'value'"):
        to_metric_frame(long)


def test_true_false_metrics_are_read_as_one_and_zero():
    frame = to_metric_frame(pd.DataFrame({"up": [True, False, True], "flag": pd.array([True, None, False])}))
    assert frame["up"].tolist() == [1.0, 0.0, 1.0] and frame["flag"].iloc[2] == 0.0 and np.isnan(frame["flag"].iloc[1])


def test_long_rows_without_a_metric_name_are_refused(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("timestamp,metric,value\n0,a,1\n0,,2\n1,a,3\n1, ,4\n")
    with pytest.raises(InvalidInputError, match=r"l\.csv: 2 rows have no metric name in column 'metric' \(first on "
                                                r"data row 2\)"):
        read_metrics(p)


def test_prometheus_bad_values_and_shapes(tmp_path):
    import json

    p = tmp_path / "prom.json"

    def read(result):
        p.write_text(json.dumps({"data": {"resultType": "matrix", "result": result}}))
        return read_metrics(p)

    ok = {"metric": {"__name__": "a"}, "values": [[1700000000, "1"], [1700000060, "+Inf"]]}
    with pytest.raises(InvalidInputError, match=r"prom\.json': data\.result\[0\] \(a\) has non-numeric values, "
                                                r"e\.g\. 'abc'"):
        read([{"metric": {"__name__": "a"}, "values": [[1700000000, "1"], [1700000060, "abc"]]}])
    with pytest.raises(InvalidInputError, match="infinite values"):  # "+Inf" is read, then refused as ever
        read([ok])
    with pytest.raises(InvalidInputError, match=r"data\.result\[1\] has a single 'value' \(an instant query\); "
                                                "only query_range exports are read"):
        read([ok, {"metric": {"__name__": "b"}, "value": [1700000000, "1"]}])
    for result, match in [
        ([{"metric": {}, "values": 5}], r"data\.result\[0\] has 'metric' \{\} and 'values' 5; expected a series"),
        ([5], r"data\.result\[0\] is int 5, expected a series \{\"metric\""),
        ([{"metric": 5, "values": []}], r"has 'metric' 5 and 'values' \[\]; expected a series"),
        ([{"metric": {}}], r"data\.result\[0\] has no 'values' list"),
        ([{"values": [[1700000000]]}], r"data\.result\[0\] \(\{\}\) has a sample \[1700000000\], expected a \[time"),
        ([{"values": [[None, "1"]]}], r"has a time None that is not a number"),
        ([{"metric": {"__name__": "h"}, "histograms": [[1700000000, {"count": "3"}]]}], r"is a native histogram"),
    ]:
        with pytest.raises(InvalidInputError, match=match):
            read(result)


@pytest.mark.parametrize("suffix, opener", [(".csv.gz", "gzip"), (".csv.bz2", "bz2")])
def test_compressed_csv_files_are_read_and_header_checked(tmp_path, suffix, opener):
    import importlib

    p = tmp_path / f"m{suffix}"
    with importlib.import_module(opener).open(p, "wt") as fh:
        fh.write("timestamp,a,b\n0,1,2\n1,3,4\n")
    assert read_metrics(p)["b"].tolist() == [2.0, 4.0]
    with importlib.import_module(opener).open(p, "wt") as fh:
        fh.write("timestamp,a,a\n0,1,2\n")
    with pytest.raises(InvalidInputError, match=rf"m\{suffix}' has duplicate columns: 'a'$"):
        read_metrics(p)


def test_duplicate_timestamp_message_helps_cli_and_python_users(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("timestamp,a\n0,1\n0,3\n")
    with pytest.raises(InvalidInputError, match=r"aggregate or drop the repeated rows first, or from Python pass "
                                                r"on_duplicate='mean' or 'last'"):
        read_metrics(p)
    with pytest.raises(InvalidInputError, match="on_duplicate must be one of 'error', 'mean', 'last'; got 'avg'"):
        to_metric_frame(pd.DataFrame({"a": [1.0]}), on_duplicate="avg")


@pytest.mark.parametrize("raw", [None, [[1, 2]], np.ones((3, 3)), "m.csv"])
def test_to_metric_frame_needs_a_dataframe(raw):
    with pytest.raises(InvalidInputError, match=rf"raw must be a pandas DataFrame .*got {type(raw).__name__}; "
                                                r"read a file with read_metrics\(path\)"):
        to_metric_frame(raw)


@pytest.mark.parametrize("path", [None, 3, pd.DataFrame({"a": [1]})])
def test_read_metrics_needs_a_path(path):
    with pytest.raises(InvalidInputError, match=rf"path must be a file path \(a str or pathlib.Path\), got "
                                                rf"{type(path).__name__}"):
        read_metrics(path)


def test_integer_column_names_are_a_header(tmp_path):
    p = tmp_path / "years.csv"
    pd.DataFrame({"2019": [1.0, 2.0, 3.0], "2020": [2.0, 1.0, 0.5]}).to_csv(p, index=False)
    frame = read_metrics(p)
    assert list(frame.columns) == ["2019", "2020"] and frame.shape == (3, 2)


def _csv(path, frame):
    frame.to_csv(path, index=False)
    return path


def test_times_that_are_no_grid_are_said_to_need_resampling(tmp_path):
    from faultgraph import SamplingWarning

    rng = np.random.default_rng(0)
    t = pd.date_range("2024-01-01", periods=200, freq="1min", tz="UTC")
    values = rng.normal(size=(200, 2))
    regular = pd.DataFrame(values, columns=["a", "b"]).assign(timestamp=t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_metrics(_csv(tmp_path / "ok.csv", regular))
    holes = regular.drop(index=range(100, 120))  # 20 rows missing: a hole of 21 steps
    with pytest.warns(SamplingWarning, match=r"1 hole in its times \(the longest 21 steps, after 2024-01-01 "
                                             r"01:39:00\+00:00\); its rows are used as consecutive steps.*--resample"):
        read_metrics(_csv(tmp_path / "holes.csv", holes))
    jitter = regular.assign(timestamp=t + pd.to_timedelta(rng.uniform(0, 40, size=200), unit="s"))
    with pytest.warns(SamplingWarning, match=r"irregular sampling \(spacing off its median by \d+% typically\)"):
        read_metrics(_csv(tmp_path / "jitter.csv", jitter))
    # two metrics scraped 7 s apart, as a long file: most rows hold one metric
    long = pd.concat([pd.DataFrame({"timestamp": t, "metric": "a", "value": values[:, 0]}),
                      pd.DataFrame({"timestamp": t + pd.Timedelta(seconds=7), "metric": "b", "value": values[:, 1]})])
    with pytest.warns(SamplingWarning, match=r"100% of its rows hold only some metrics"):
        read_metrics(_csv(tmp_path / "long.csv", long))
    # on a regular grid, a metric added late or a sparse one beside complete ones is no sign of it
    late = regular.assign(c=np.where(np.arange(200) < 120, np.nan, 1.0), d=np.where(np.arange(200) % 4, np.nan, 2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_metrics(_csv(tmp_path / "late.csv", late))


def test_pandas_row_numbers_are_no_metric(tmp_path):
    frame = pd.DataFrame({"timestamp": np.arange(50.0), "a": np.arange(50.0) ** 2})
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)  # writes the index as a first column "Unnamed: 0"
    with pytest.warns(UserWarning, match=r"ignoring its first column 'Unnamed: 0', the row numbers"):
        read = read_metrics(path)
    assert list(read.columns) == ["a"]
    long = pd.DataFrame({"timestamp": np.repeat(np.arange(25.0), 2), "metric": ["a", "b"] * 25,
                         "value": np.arange(50.0)})
    long.to_csv(tmp_path / "long.csv")  # a long file with row numbers is read as long
    with pytest.warns(UserWarning, match=r"ignoring its first column 'Unnamed: 0'"):
        assert list(read_metrics(tmp_path / "long.csv").columns) == ["a", "b"]
    other = frame.assign(**{"Unnamed: 0": np.arange(50.0) * 3})[["Unnamed: 0", "timestamp", "a"]]
    other.to_csv(tmp_path / "kept.csv", index=False)  # not 0, 1, 2, ...: a metric like any other
    assert list(read_metrics(tmp_path / "kept.csv").columns) == ["Unnamed: 0", "a"]


def test_a_long_file_with_label_columns_is_explained(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("timestamp,metric,value,host\n0,cpu,1,a\n1,cpu,2,a\n")
    with pytest.raises(InvalidInputError, match=r"looks like a long layout \(time, metric, value\) with more columns: "
                                                r"'host'; a long layout takes exactly those three"):
        read_metrics(path)


def test_a_column_without_a_name_is_refused_not_read_as_unnamed(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,a,,b\n0,1,2,3\n1,2,3,4\n")
    with pytest.raises(InvalidInputError, match=r"a column without a name in its header \(column 3 of 4\): name it"):
        read_metrics(p)
    p.write_text("timestamp,a,b,\n0,1,2,\n1,2,3,\n")  # a separator at the end of each line
    with pytest.raises(InvalidInputError, match=r"column 4 of 4\).*a separator at the end of the header line\?"):
        read_metrics(p)


def test_a_separator_at_the_end_of_every_row_does_not_shift_the_columns(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,requests,cpu,mem\n2024-01-01T00:00:00Z,56,0.75,0.42,\n"
                 "2024-01-01T00:01:00Z,110,0.96,0.48,\n2024-01-01T00:02:00Z,164,0.97,0.36,\n")
    frame = read_metrics(p)
    assert list(frame.columns) == ["requests", "cpu", "mem"]
    assert frame["requests"].tolist() == [56.0, 110.0, 164.0] and frame["mem"].tolist() == [0.42, 0.48, 0.36]
    assert frame.index[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    p.write_text("timestamp,a,b\n2024-01-01T00:00:00Z,56,0.75,9\n2024-01-01T00:01:00Z,110,0.96,8\n")
    with pytest.raises(InvalidInputError, match="more fields than its header's 3"):
        read_metrics(p)


def test_times_held_in_the_index_are_the_time_column(tmp_path):
    index = pd.DatetimeIndex(["2024-01-01 00:02", "2024-01-01 00:00", "2024-01-01 00:01"], name="timestamp")
    raw = pd.DataFrame({"a": [3.0, 1.0, 2.0], "b": [30.0, 10.0, 20.0]}, index=index)
    frame = to_metric_frame(raw)
    assert frame["a"].tolist() == [1.0, 2.0, 3.0]  # sorted by time, not kept in row order
    assert frame.index[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert raw.index.equals(index) and list(raw.columns) == ["a", "b"]  # the caller's frame untouched
    p = tmp_path / "m.parquet"
    raw.tz_localize("Europe/Berlin").to_parquet(p)  # DataFrame.to_parquet() keeps the index
    back = read_metrics(p)
    assert back["a"].tolist() == [1.0, 2.0, 3.0]
    assert back.index[0] == pd.Timestamp("2023-12-31T23:00:00Z")  # Berlin's midnight, in UTC
    # a time column beside a datetime index: the column is the time, the index is dropped
    both = raw.assign(timestamp=["2024-02-01 00:00", "2024-02-01 00:01", "2024-02-01 00:02"])
    assert to_metric_frame(both).index[0] == pd.Timestamp("2024-02-01T00:00:00Z")


def test_naive_datetimes_are_utc_as_text_times_are(tmp_path):
    index = pd.date_range("2024-01-01", periods=3, freq="min")
    p = tmp_path / "naive.parquet"
    pd.DataFrame({"timestamp": index, "a": [1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0]}).to_parquet(p)
    q = tmp_path / "text.csv"
    q.write_text("timestamp,a,b\n2024-01-01 00:00,1,1\n2024-01-01 00:01,2,0\n2024-01-01 00:02,3,1\n")
    assert read_metrics(p).index.equals(read_metrics(q).index)
    assert str(read_metrics(p).index.tz) == "UTC"


@pytest.mark.parametrize("scale", [1, 10**3, 10**6, 10**9])
def test_unix_times_in_any_unit(tmp_path, scale):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,a,b\n" + "".join(f"{(1704067200 + 60 * k) * scale},{k},{2 * k}\n" for k in range(3)))
    frame = read_metrics(p)
    assert frame.index[1] == pd.Timestamp("2024-01-01T00:01:00Z")


def test_unix_times_mixing_units_are_refused(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,a,b\n1704067200,1,2\n1704067260000,2,3\n1704067320,3,4\n")
    with pytest.raises(InvalidInputError, match="mixes Unix time units.*seconds.*data row 2.*milliseconds"):
        read_metrics(p)


def test_day_first_dates(tmp_path):
    # three days of minutes from 1 March, written dd/mm/yyyy: read month first they jump a month a day
    t = pd.date_range("2024-03-01", periods=3 * 1440, freq="min")
    rng = np.random.default_rng(0)
    p = tmp_path / "dmy.csv"
    pd.DataFrame({"timestamp": t.strftime("%d/%m/%Y %H:%M"), "a": rng.random(len(t)),
                  "b": rng.random(len(t))}).to_csv(p, index=False)
    with pytest.warns(UserWarning, match="could put the day or the month first; read day first"):
        frame = read_metrics(p)
    assert frame.index[1440] == pd.Timestamp("2024-03-02T00:00:00Z")
    # a day above 12 says so alone (German dates too), with no warning
    q = tmp_path / "de.csv"
    t2 = pd.date_range("2024-01-13", periods=50, freq="min")
    pd.DataFrame({"timestamp": t2.strftime("%d.%m.%Y %H:%M"), "a": rng.random(50), "b": rng.random(50)}).to_csv(
        q, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_metrics(q).index[0] == pd.Timestamp("2024-01-13T00:00:00Z")
    # month first stays month first
    r = tmp_path / "us.csv"
    t3 = pd.date_range("2024-01-01", periods=50, freq="min")
    pd.DataFrame({"timestamp": t3.strftime("%m/%d/%Y %H:%M"), "a": rng.random(50), "b": rng.random(50)}).to_csv(
        r, index=False)
    assert read_metrics(r).index[0] == pd.Timestamp("2024-01-01T00:00:00Z")


def test_an_unclosed_brace_is_part_of_a_name(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,weird{name,cpu,mem\n0,1,2,3\n1,2,3,4\n2,3,4,5\n")
    frame = read_metrics(p)
    assert list(frame.columns) == ["weird{name", "cpu", "mem"] and frame["mem"].tolist() == [3.0, 4.0, 5.0]
    q = tmp_path / "long.csv"
    q.write_text("timestamp,metric,value\n0,cpu,1\n1,cpu,2\n0,tmpl{x,5\n1,tmpl{x,6\n")
    assert read_metrics(q)["tmpl{x"].tolist() == [5.0, 6.0]


def test_encodings_byte_order_marks_and_prometheus_answers(tmp_path):
    import json

    spec = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up"}, "values": [[1704067200, "1"], [1704067260, "0"]]}]}}
    for name, data in (("bom.json", b"\xef\xbb\xbf" + json.dumps(spec).encode()),
                       ("u16.json", json.dumps(spec).encode("utf-16"))):
        (tmp_path / name).write_bytes(data)
        assert read_metrics(tmp_path / name)["up"].tolist() == [1.0, 0.0]
    (tmp_path / "u16.csv").write_bytes("timestamp,a,b\n1,2,3\n2,3,4\n".encode("utf-16"))
    assert read_metrics(tmp_path / "u16.csv")["b"].tolist() == [3.0, 4.0]
    (tmp_path / "cp.csv").write_bytes("timestamp,latency_µs,b\n1,2,3\n2,3,4\n".encode("cp1252"))
    with pytest.raises(InvalidInputError, match="not UTF-8 text.*save it as UTF-8"):
        read_metrics(tmp_path / "cp.csv")
    (tmp_path / "err.json").write_text(json.dumps({"status": "error", "errorType": "bad_data",
                                                   "error": "parse error at char 5"}))
    with pytest.raises(InvalidInputError, match="failed query \\(bad_data: parse error at char 5\\)"):
        read_metrics(tmp_path / "err.json")


def test_a_non_numeric_cell_is_quoted_with_its_row_and_long_true_false_is_read(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("timestamp,a,b\n1,12,3\n2,13ms,4\n")
    with pytest.raises(InvalidInputError, match="e.g. '13ms' in 'a', data row 2"):
        read_metrics(p)
    q = tmp_path / "long.csv"
    q.write_text("timestamp,metric,value\n1,up,true\n2,up,FALSE\n1,x,1\n2,x,2\n")
    assert read_metrics(q)["up"].tolist() == [1.0, 0.0]


def test_row_labels_without_a_header_name_and_index_names_that_are_no_time(tmp_path):
    t = pd.date_range("2024-01-01", periods=4, freq="min")
    p = tmp_path / "r_style.csv"  # R's write.table and to_csv(index_label=False): row labels, unnamed
    pd.DataFrame({"timestamp": t.astype(str), "a": [1.0, 2, 3, 4]}, index=list("wxyz")).to_csv(p, index_label=False)
    frame = read_metrics(p)
    assert list(frame.columns) == ["a"] and frame.index[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    # a datetime index is the time whatever its name; a RangeIndex named "" is no metric
    named = pd.DataFrame({"a": [1.0, 2, 3]}, index=pd.date_range("2024-01-01", periods=3, freq="min",
                                                                  name="created_at"))
    assert to_metric_frame(named).index[2] == pd.Timestamp("2024-01-01T00:02:00Z")
    blank = pd.DataFrame({"a": [1.0, 2, 3], "b": [3.0, 2, 1]})
    blank.index.name = ""
    assert list(to_metric_frame(blank).columns) == ["a", "b"]


def test_unix_nanoseconds_stay_exact(tmp_path):
    p = tmp_path / "ns.csv"
    p.write_text("timestamp,a,b\n1700000000123000000,1,2\n1700000000125000001,2,3\n1700000000127000000,3,4\n")
    frame = read_metrics(p)
    assert frame.index[1] == pd.Timestamp(1700000000125000001, unit="ns", tz="UTC")


def test_a_row_cut_short_is_refused_at_the_start_and_the_end_of_a_file(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 50)), columns=[f"m{i}" for i in range(50)])
    frame.insert(0, "timestamp", np.arange(3000))
    lines = frame.to_csv(index=False).splitlines()
    for k, where in ((5, "data row 5"), (len(lines) - 1, r"its last row \(3000\)")):
        cut = list(lines)
        cut[k] = ",".join(cut[k].split(",")[:10])
        p = tmp_path / f"cut{k}.csv"
        p.write_text("\n".join(cut) + "\n")
        with pytest.raises(InvalidInputError, match=f"{where} has 10 of the header's 51 fields"):
            read_metrics(p)
    # and anywhere between (files of other columns joined, a damaged copy), plain or compressed
    import gzip

    cut = list(lines)
    cut[2500] = ",".join(cut[2500].split(",")[:10])
    p = tmp_path / "middle.csv"
    p.write_text("\n".join(cut) + "\n")
    with pytest.raises(InvalidInputError, match="data row 2500 has 10 of the header's 51 fields"):
        read_metrics(p)
    with gzip.open(tmp_path / "middle.csv.gz", "wt") as fh:
        fh.write("\n".join(cut) + "\n")
    with pytest.raises(InvalidInputError, match="data row 2500 has 10 of the header's 51 fields"):
        read_metrics(tmp_path / "middle.csv.gz")
    from faultgraph.io.metrics import _first_short_line  # block edges: every row whole, any block size

    p.write_text("\n".join(lines) + "\n")
    assert all(_first_short_line(p, open, ",", 51, chunk=c) is None for c in (7, 4096, 1 << 24))
    p.write_text("\n".join(cut))
    assert [_first_short_line(p, open, ",", 51, chunk=c)[:3:2] for c in (7, 4096)] == [(2500, False)] * 2
    # rows are numbered as pandas reads them (empty lines skipped), and a row of blank fields
    # before the cut one does not stop the scan
    spaced = list(cut)
    spaced[1000:1000] = ["", "\r"]
    spaced[2000] = ","
    p.write_text("\n".join(spaced))
    assert [_first_short_line(p, open, ",", 51, chunk=c)[:3:2] for c in (7, 4096)] == [(2500, False)] * 2
    p = tmp_path / "blank_last.csv"  # an empty field at the end is a missing value, not a short row
    p.write_text("timestamp,a,b\n1,2,3\n2,3,\n")
    assert np.isnan(read_metrics(p)["b"].iloc[1])


def test_rows_longer_than_the_tail_read_are_whole(tmp_path):
    rng = np.random.default_rng(1)
    wide = pd.DataFrame(rng.normal(size=(40, 2000)), columns=[f"m{i}" for i in range(2000)])  # ~38 KB a row
    p = tmp_path / "wide.csv"
    wide.to_csv(p, index=False)
    assert read_metrics(p).shape == (40, 2000)
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines[:-1] + [",".join(lines[-1].split(",")[:1500])]) + "\n")
    with pytest.raises(InvalidInputError, match=r"its last row \(40\) has 1500 of the header's 2000 fields"):
        read_metrics(p)


def test_a_model_folder_keeps_the_old_model_when_writing_the_new_one_fails(tmp_path, monkeypatch):
    import os

    import numpy as np

    import faultgraph.io.atomic as atomic
    from faultgraph.io.model import load_model_dir, save_model_dir

    folder = tmp_path / "model"
    save_model_dir(folder, {"task": "t", "n": 1}, {"w": np.arange(3.0)})
    (folder / "notes.txt").write_text("mine")
    real = os.replace

    def failing(src, dst):
        if str(dst).endswith("model.json"):  # the metadata's rename fails, after the arrays' succeeded
            raise PermissionError(1, "Operation not permitted")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(PermissionError):
        save_model_dir(folder, {"task": "t", "n": 2}, {"w": np.arange(5.0)})
    monkeypatch.setattr(atomic.os, "replace", real)
    meta, arrays = load_model_dir(folder, "t")  # the old model, whole (checksum and all)
    assert meta["n"] == 1 and arrays["w"].tolist() == [0.0, 1.0, 2.0]
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "model.json", "notes.txt"]
    save_model_dir(folder, {"task": "t", "n": 2}, {"w": np.arange(5.0)})
    meta, arrays = load_model_dir(folder, "t")
    assert meta["n"] == 2 and len(arrays["w"]) == 5 and (folder / "notes.txt").read_text() == "mine"


def test_an_output_that_cannot_be_written_is_refused_before_the_work(tmp_path):
    import os

    from faultgraph.io.atomic import check_writable
    from faultgraph.io.model import check_model_path

    import shutil
    import subprocess

    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    immutable = False
    try:
        probe = locked / "x"
        try:  # root writes where the mode allows nothing; an immutable folder stops it too
            probe.write_text("")
            probe.unlink()
            immutable = bool(shutil.which("chattr")) and subprocess.run(
                ["chattr", "+i", str(locked)], capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("this user writes into read-only folders and cannot make one immutable")
        except PermissionError:
            pass
        with pytest.raises(InvalidInputError, match=r"--out .*out.json' cannot be written: "):
            check_writable(locked / "sub" / "out.json", "--out")
        with pytest.raises(InvalidInputError, match="model folder .* cannot be written: "):
            check_model_path(locked / "model")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        os.chmod(locked, 0o700)
    assert check_writable(tmp_path / "new" / "deeper" / "out.json", "--out") == tmp_path / "new" / "deeper" / "out.json"
    assert not (tmp_path / "new").exists() and [p.name for p in tmp_path.iterdir()] == ["locked"]


def test_writing_to_a_device_writes_into_it_and_leaves_it_a_device(tmp_path):
    import os
    import stat

    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    except PermissionError:
        pytest.skip("making a device node needs root")
    from faultgraph.io.atomic import check_writable

    assert check_writable(device, "--out") == device  # checked as itself, not by its folder (/dev)
    write_json_atomic(device, {"a": 1})  # `--out /dev/null` renamed a regular file over it, as root
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary file left beside it
