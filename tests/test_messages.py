"""Messages that misled a new user (issue 20, point 6), each now saying what happened and what to do."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from faultgraph.errors import InvalidInputError
from faultgraph.io import read_metrics


@pytest.fixture(scope="module")
def model_and_data():
    from faultgraph.detect import CausalDetector

    rng = np.random.default_rng(0)
    t = pd.date_range("2024-01-01", periods=600, freq="min")
    X = rng.normal(size=(600, 4))
    X[:, 1] += X[:, 0]
    frame = pd.DataFrame(X, index=t, columns=["api_cpu", "api_latency_ms", "db_cpu", "db_latency_ms"])
    return CausalDetector().fit(frame.iloc[:400]), frame


def test_a_window_of_row_numbers_on_times_says_so_and_gives_the_times(model_and_data):
    from faultgraph.rca import explain

    model, frame = model_and_data
    with pytest.raises(InvalidInputError, match=r"window 450 .. 500 looks like row numbers, but the data's index "
                       r"holds times \(2024-01-01 00:00:00 .. 2024-01-01 09:59:00\); give the bounds as times .*"
                       r"rows 450 .. 500 are 2024-01-01 07:30:00 .. 2024-01-01 08:20:00"):
        explain(model, frame, (450, 500))
    with pytest.raises(InvalidInputError, match=r"window bound 'last tuesday' is not a time; .*give times such as"):
        explain(model, frame, ("last tuesday", "2024-01-01 08:00"))
    # Unix seconds still work
    start, end = (int(frame.index[k].timestamp()) for k in (450, 500))
    assert explain(model, frame, (start, end)).window == (frame.index[450], frame.index[500])


def test_one_row_says_why_nothing_is_usable(tmp_path):
    from faultgraph.encode import MetricEncoder
    from faultgraph.workflows import load_metrics

    with pytest.raises(InvalidInputError, match=r"data has 1 row \(2 metrics\): a metric needs at least 2 rows"):
        MetricEncoder().fit(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    path = tmp_path / "eight_hours.csv"
    t = pd.date_range("2024-01-01 00:00", periods=480, freq="min")
    pd.DataFrame({"timestamp": t, "a": np.arange(480.0), "b": np.sin(np.arange(480.0))}).to_csv(path, index=False)
    frame = load_metrics(path, resample="1D")
    assert len(frame) == 1
    with pytest.raises(InvalidInputError, match=r"after resampling \(--resample\), a step as long as the data's span "
                       r"leaves one row: use a shorter step"):
        MetricEncoder().fit(frame)
    later = tmp_path / "from_eight.csv"  # from 08:00: the first whole day starts after the data ends
    pd.DataFrame({"timestamp": t + pd.Timedelta("8h"), "a": np.arange(480.0)}).to_csv(later, index=False)
    with pytest.raises(InvalidInputError, match=r"with step 1D is empty: the data \(2024-01-01 08:00:00\+00:00 .. "
                       r"2024-01-01 15:59:00\+00:00\) is shorter than one step; use a shorter step"):
        load_metrics(later, resample="1D")


def test_semicolon_and_tab_files_are_read(tmp_path):
    semi = tmp_path / "semi.csv"
    semi.write_text("time;cpu;mem\n1;1,5;2\n2;2,5;3\n3;3;5\n", encoding="utf-8")  # decimal commas, as Excel writes
    frame = read_metrics(semi)
    assert list(frame.columns) == ["cpu", "mem"] and frame["cpu"].tolist() == [1.5, 2.5, 3.0]
    dots = tmp_path / "dots.csv"
    dots.write_text("time;cpu;mem\n1;1.5;2\n2;2.5;3\n3;3;5\n", encoding="utf-8")
    assert read_metrics(dots)["cpu"].tolist() == [1.5, 2.5, 3.0]
    tab = tmp_path / "tab.csv"
    tab.write_text("time\tcpu\tmem\n1\t1\t2\n2\t2\t3\n3\t3\t4\n", encoding="utf-8")
    assert list(read_metrics(tab).columns) == ["cpu", "mem"]


def test_grafana_series_time_value_is_a_long_layout(tmp_path):
    path = tmp_path / "grafana.csv"
    rows = [(s, f"2024-01-01 10:0{m}:00", v) for m in range(3) for s, v in (("api_cpu", m), ("db_cpu", 10 + m))]
    pd.DataFrame(rows, columns=["Series", "Time", "Value"]).to_csv(path, index=False)
    frame = read_metrics(path)
    assert list(frame.columns) == ["api_cpu", "db_cpu"] and frame["db_cpu"].tolist() == [10.0, 11.0, 12.0]
    assert isinstance(frame.index, pd.DatetimeIndex)


def test_a_damaged_model_json_reads_in_words(tmp_path, model_and_data):
    from faultgraph.detect import CausalDetector

    model, _ = model_and_data
    model.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    good = json.loads(meta_path.read_text())
    for change, match in [
        (lambda m: m.update(params="x"), r"missing or bad field ('params' )?\(a str(, not a mapping| where a mapping)"),
        (lambda m: m["params"].update(lags="abc"), r"params.lags must be a whole number >= 0.*, got 'abc'"),
        (lambda m: m["params"].update(smooth=None), r"params.smooth must be"),
        (lambda m: m.pop("graph"), r"missing or bad field 'graph' \(missing\)"),
        (lambda m: m.update(encoder={"columns": 3}), r"encoder parameters are damaged: 'max_gap' \(missing\)"),
        (lambda m: m["params"].update(bogus=1), r"missing or bad field 'params' \(an unknown parameter 'bogus'\)"),
        (lambda m: m.update(decision_threshold=float("nan")), r"decision_threshold is nan"),
        (lambda m: m["graph"].update(nodes=["a"]), r"graph.nodes holds 1 names for 4 metrics"),
    ]:
        meta = json.loads(json.dumps(good))
        change(meta)
        meta_path.write_text(json.dumps(meta))
        with pytest.raises(InvalidInputError, match=match) as caught:
            CausalDetector.load(tmp_path / "m")
        message = str(caught.value)
        assert not re.search(r"\w+Error\(", message), message  # no exception reprs
        assert "fit it again with `faultgraph fit`" in message


def test_yaml_errors_and_limits_read_in_one_line(tmp_path):
    from faultgraph.discovery import PriorKnowledge

    bad = tmp_path / "prior.yaml"
    bad.write_text("forbidden: [a, b\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"is not valid YAML: .* \(line 2, column 1\)$") as caught:
        PriorKnowledge.from_yaml(bad)
    assert "\n" not in str(caught.value)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InvalidInputError, match="cannot be read: it is not UTF-8 text"):
        PriorKnowledge.from_yaml(bad)
    from faultgraph.discovery import StructureLearner

    with pytest.raises(InvalidInputError, match="lambda1 must be a finite number >= 0, got inf"):
        StructureLearner(lambda1=float("inf")).fit(np.random.default_rng(0).normal(size=(50, 3)))
    from faultgraph._budget import check_fit

    with pytest.raises(InvalidInputError, match=r"with lags=60 needs more than 62 rows .*the data has 50"):
        check_fit(50, 3, 60)
