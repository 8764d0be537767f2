"""The workflow layer, the configuration, the estimator contract and the thin command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from faultgraph import InvalidInputError, workflows
from faultgraph.cli import app
from faultgraph._validation import check_choice
from faultgraph.config import DEFAULTS, Combine, DetectorConfig, RcaMethod, Score, values
from faultgraph.simulate import simulate_incident

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


# --- the estimator contract ---------------------------------------------------------------

def _estimators():
    from faultgraph import MetricEncoder, PriorKnowledge, StructureLearner
    from faultgraph.detect import CausalDetector, FaultIdentifier, NSigmaDetector, PCADetector, RandomDetector
    from faultgraph.sem import SEM

    return [StructureLearner("notears", lambda1=0.05, prior=PriorKnowledge(forbidden=(("a", "b"),))),
            MetricEncoder(max_gap=3), CausalDetector(lags=2, scoring="residual", smooth=5),
            NSigmaDetector(combine="max"), PCADetector(variance=0.8, risk=0.05), RandomDetector(random_state=4),
            SEM(ridge=0.1), FaultIdentifier("y", threshold=0.2)]


@pytest.mark.parametrize("estimator", _estimators(), ids=lambda e: type(e).__name__)
def test_every_estimator_clones_and_round_trips_its_parameters(estimator):
    from sklearn.base import clone

    params = estimator.get_params(deep=False)
    twin = clone(estimator)
    assert type(twin) is type(estimator) and twin is not estimator
    assert twin.get_params(deep=False).keys() == params.keys()
    for name, value in params.items():
        assert repr(getattr(twin, name)) == repr(value)
    fresh = type(estimator)(**({"label": "y"} if "label" in params else {}))
    assert repr(fresh.set_params(**params)) == repr(estimator)
    with pytest.raises(InvalidInputError, match="has no parameter 'nope'"):
        fresh.set_params(nope=1)


def test_repr_names_the_parameters_that_differ_from_their_defaults():
    from faultgraph.detect import CausalDetector, RandomDetector

    assert repr(CausalDetector()) == "CausalDetector()"
    assert repr(CausalDetector(lags=2, smooth=5)) == "CausalDetector(lags=2, smooth=5)"
    # a parent's keywords, passed through **kwargs, are parameters too
    assert set(RandomDetector().get_params()) >= {"random_state", "smooth", "drift_window", "max_gap"}


def test_a_cloned_detector_fits_to_the_same_model():
    from sklearn.base import clone

    from faultgraph.detect import CausalDetector

    inc = simulate_incident(services=4, random_state=1)
    a = CausalDetector(lags=1).fit(inc.normal)
    b = clone(a).fit(inc.normal)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.threshold_ == b.threshold_


# --- configuration ------------------------------------------------------------------------

def test_choices_are_strings_and_checked_in_one_place():
    assert Combine.MEAN_SQUARE == "mean-square" and str(RcaMethod.BARO) == "baro"
    assert check_choice("scoring", "residual", values(Score)) == "residual"
    with pytest.raises(InvalidInputError, match=r"combine must be one of 'mean-square', .* got 'sum'"):
        check_choice("combine", "sum", values(Combine))


@pytest.mark.parametrize(("params", "message"), [
    ({"combine": "sum"}, "combine must be one of 'mean-square'"),
    ({"threshold_method": "guess"}, "threshold_method must be one of 'pot', 'quantile'"),
    ({"smooth": 0}, "smooth must be a positive integer, got 0"),
    ({"drift_window": -1}, r"drift_window must be a non-negative integer \(steps; 0 turns it off\), got -1"),
    ({"background_window": 10}, "background_window must be 0 \\(off\\) or at least 60 steps, got 10"),
    ({"scoring": "all"}, "scoring must be one of 'auto', 'residual\\+marginal'"),
])
def test_the_detectors_parameters_are_checked_from_their_declared_table(params, message):
    from faultgraph.detect import CausalDetector

    det = CausalDetector(**params)
    with pytest.raises(InvalidInputError, match=message):
        det.validate_params()
    with pytest.raises(InvalidInputError, match=message):
        det.fit(pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 0.5}))


def test_the_command_line_defaults_are_the_configs():
    import typer.main

    command = typer.main.get_command(app)
    fit = {p.name: p.default for p in command.commands["fit"].params}
    detector = DetectorConfig()
    for name in ("threshold", "max_gap", "risk", "drift_window", "background_window", "scale_floor", "soft_cap",
                 "holdout"):
        assert fit[name] == getattr(detector, name), name
    assert fit["lags"] is None  # the detector's DEFAULTS.lags without --label, 0 with it
    assert fit["score"] == detector.scoring and fit["combine"] == detector.combine
    explain = {p.name: p.default for p in command.commands["explain"].params}
    assert explain["lags"] == DEFAULTS.lags and explain["max_gap"] == DEFAULTS.max_gap


def test_every_rca_method_has_one_scoring_rule():
    from faultgraph.rca.ranking import METHODS, SCORE_PARTS

    assert set(SCORE_PARTS) == set(METHODS) == {m.value for m in RcaMethod}


# --- imports ------------------------------------------------------------------------------

def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_command_line_imports_nothing_heavy_at_start_up():
    # the 0.3 s start-up budget, kept as a count of what is imported rather than a timing
    loaded = _modules_after("import faultgraph.cli")
    heavy = {"numpy", "pandas", "scipy", "sklearn", "torch", "networkx", "fastapi", "sqlalchemy", "dask",
             "distributed", "httpx", "yaml", "pyarrow"}
    assert not heavy & {m.split(".")[0] for m in loaded}
    assert len([m for m in loaded if m.startswith("faultgraph")]) <= 20


@pytest.mark.parametrize("package", ["discovery", "sem", "effects", "detect", "rca"])
def test_the_core_never_imports_the_service_or_cluster_stacks(package):
    loaded = {m.split(".")[0] for m in _modules_after(f"import faultgraph.{package}")}
    assert not {"fastapi", "starlette", "dask", "distributed", "torch", "sqlalchemy", "httpx"} & loaded


# --- incidents: from detect to explain ----------------------------------------------------

def test_incidents_are_the_runs_of_alarms_with_their_peaks_and_top_metrics():
    index = pd.RangeIndex(100, 112)
    scores = pd.DataFrame({
        "score": [0, 5, 7, 1, 0, 0, 0, 2, 9, 3, 0, 4.0],
        "anomaly": [0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1],
        "residual:a": [0, 1, 1, 0, 0, 0, 0, 0, -8, 0, 0, 0.0],
        "residual:b": [0, 3, -4, 0, 0, 0, 0, 1, 2, 0, 0, 1.0],
    }, index=index)
    found = workflows.find_incidents(scores, top=1)
    assert [(i.start, i.end, i.peak, i.peak_score, i.steps, i.top_metrics) for i in found] == [
        (101, 102, 102, 7.0, 2, ("b",)), (107, 109, 108, 9.0, 3, ("a",)), (111, 111, 111, 4.0, 1, ("b",))]
    merged = workflows.find_incidents(scores, merge_gap=4)
    assert [(i.start, i.end) for i in merged] == [(101, 111)]
    assert found[0].to_dict() == {"start": 101, "end": 102, "peak": 102, "peak_score": 7.0, "steps": 2,
                                  "top_metrics": ["b"]}
    # a one-step incident is widened to the fewest steps an explanation needs
    assert workflows.incident_window(found[2], index, 3) == (109, 111)
    assert workflows.incident_window(found[1], index, 3) == (107, 109)


@pytest.fixture(scope="module")
def fitted_case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    inc = simulate_incident(services=5, random_state=7)
    inc.write(folder / "case")
    assert run("fit", str(folder / "case" / "normal.csv"), "--out", str(folder / "m")).exit_code == 0
    return folder, inc


def test_detect_lists_incidents_and_explain_takes_the_latest_without_a_window(fitted_case, tmp_path):
    folder, inc = fitted_case
    data = str(folder / "case" / "anomalous.csv")
    result = run("detect", str(folder / "m"), data, "--out", str(tmp_path / "scores.csv"),
                 "--incidents", str(tmp_path / "incidents.json"))
    assert result.exit_code == 0, result.output
    listed = json.loads((tmp_path / "incidents.json").read_text())["incidents"]
    assert listed and "incident" in result.stderr and "explain the latest" in result.stderr
    assert result.stdout.splitlines()[0].split()[:3] == ["#", "start", "end"]
    latest = listed[-1]
    assert latest["start"] <= inc.fault_start + 10 <= latest["end"]

    result = run("explain", str(folder / "m"), data, "--out", str(tmp_path / "rca.json"))
    assert result.exit_code == 0, result.output
    rca = json.loads((tmp_path / "rca.json").read_text())
    assert rca["window"] == [latest["start"], latest["end"]]
    assert rca["causes"][0]["service"] == inc.root_cause_service

    result = run("explain", str(folder / "m"), data, "--all", "--out", str(tmp_path / "all" / "rca.json"))
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert written == sorted(f"rca-{k}.json" for k in range(1, len(listed) + 1))
    first = json.loads((tmp_path / "all" / "rca-1.json").read_text())
    window = workflows.incident_window(workflows.Incident(listed[0]["start"], listed[0]["end"], 0, 0, 0),
                                       pd.Index(pd.read_csv(data, index_col=0).index))
    assert first["window"] == list(window)
    # --all --json: one JSON array on stdout, an rca.json per incident, the same as the files
    result = run("explain", str(folder / "m"), data, "--all", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert isinstance(printed, list) and len(printed) == len(listed)
    assert [d["window"] for d in printed][0] == first["window"] and printed[0]["causes"] == first["causes"]

    result = run("explain", str(folder / "m"), data, "--incident", "99")
    assert result.exit_code == 2 and f"--incident must be between 1 and {len(listed)}" in result.stderr
    result = run("explain", str(folder / "m"), data, "--incident", "1", "--start", "1500")
    assert result.exit_code == 2 and "leave out --start/--end" in result.stderr


def test_explain_on_data_without_incident_says_how_to_give_a_window(fitted_case, tmp_path):
    folder, inc = fitted_case
    calm = inc.normal.iloc[-400:].copy()
    calm[:] = calm.median().to_numpy()  # every metric at its usual level: nothing to alarm on
    calm.to_csv(tmp_path / "calm.csv")
    result = run("explain", str(folder / "m"), str(tmp_path / "calm.csv"))
    assert result.exit_code == 2 and "no incident in the data" in result.stderr and "--start" in result.stderr


def test_effects_on_an_anomaly_model_names_the_next_step(fitted_case, tmp_path):
    folder, _ = fitted_case
    result = run("effects", str(folder / "m"), "--target", "s0_latency", "--out", str(tmp_path / "e.json"))
    assert result.exit_code == 2 and "fit DATA --label COLUMN" in result.stderr
    assert not (tmp_path / "e.json").exists()


# --- progress -----------------------------------------------------------------------------

def test_progress_when_piped_prints_percent_and_eta_lines(capsys):
    from faultgraph._cli import _Lines

    lines = _Lines("learning (dagma)", 4, delay=0.0, every=0.0)
    try:
        lines.update(completed=1, info="h=1.0e-03")
    finally:
        lines.close()
    text = capsys.readouterr().err
    assert "learning (dagma), 25% (1/4), ETA" in text and "elapsed, h=1.0e-03" in text


def test_quick_work_prints_no_progress_when_piped(tmp_path):
    out = subprocess.run([sys.executable, "-m", "faultgraph.cli", "simulate", "graph", "--nodes", "5",
                          "--samples", "200", "--out", str(tmp_path / "g")], capture_output=True, text=True)
    assert out.returncode == 0
    out = subprocess.run([sys.executable, "-m", "faultgraph.cli", "discover", str(tmp_path / "g" / "data.csv"),
                          "--out", str(tmp_path / "g.json")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr.splitlines()[-1].endswith(f"wrote {tmp_path / 'g.json'}")
    assert "%" not in out.stderr  # under two seconds: no progress line, just the summary


@pytest.mark.parametrize("check", ["check_no_attributes_set_in_init", "check_parameters_default_constructible",
                                   "check_get_params_invariance", "check_set_params"])
@pytest.mark.parametrize("estimator", _estimators(), ids=lambda e: type(e).__name__)
def test_scikit_learns_parameter_checks_pass(estimator, check):
    # the checks of sklearn.utils.estimator_checks that apply to estimators of time-indexed
    # frames; the others feed random arrays to fit/predict, a contract these do not claim
    import warnings

    import sklearn.utils.estimator_checks as checks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(checks, check)(type(estimator).__name__, estimator)


def test_warnings_are_printed_when_raised_before_the_summary_of_what_was_written(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=400) * 0.01
    pd.DataFrame({"a": x, "b": 0.5 * x + rng.normal(size=400) * 0.001}).to_csv(tmp_path / "tiny.csv")
    result = run("discover", str(tmp_path / "tiny.csv"), "--no-standardize", "--out", str(tmp_path / "g.json"))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    warned = [k for k, line in enumerate(lines) if line.startswith("warning:") and "lambda1" in line]
    wrote = [k for k, line in enumerate(lines) if "wrote" in line]
    assert warned and wrote and warned[0] < wrote[0]


# --- a known graph, used as given (issue 17, item 4) ---------------------------------------

def test_a_known_graph_is_used_as_given_by_discover_fit_and_explain(tmp_path):
    from faultgraph import PriorKnowledge
    from faultgraph.detect import CausalDetector

    inc = simulate_incident(services=4, random_state=3)
    names = list(inc.normal.columns)
    given = [(names[0], names[1]), (names[1], names[2]), (names[5], names[7])]
    (tmp_path / "graph.csv").write_text("cause,effect\n" + "".join(f"{a},{b}\n" for a, b in given))
    inc.write(tmp_path / "case")
    out = tmp_path / "g.json"
    result = run("discover", str(tmp_path / "case" / "normal.csv"), "--graph", str(tmp_path / "graph.csv"),
                 "--no-standardize", "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert {(e["source"], e["target"]) for e in json.loads(out.read_text())["edges"]} == set(given)
    # graph.json (discover's own output) reads back as the same graph
    assert set(PriorKnowledge.read_graph(out)) == set(given)

    result = run("fit", str(tmp_path / "case" / "normal.csv"), "--graph", str(out), "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    model = CausalDetector.load(tmp_path / "m")
    same_step = {(a, b) for a, b, _ in model.graph_.edges}
    assert same_step == set(given)
    lagged = {(a, b) for a, b, _, _ in model.graph_.lagged_edges if a != b}
    assert lagged <= set(given)  # lagged edges follow the given graph too; a metric's own past aside
    assert set(model.prior_.graph) == set(given)  # kept in the model folder


@pytest.mark.parametrize(("text", "message"), [
    ("cause\nonly\n", "needs two columns"),
    ("cause,effect\n", "holds no edge"),
    ("cause,effect\na,\n", "line 2 lacks a cause or an effect"),
    ('{"nodes": []}', "is no graph.json"),
])
def test_a_bad_graph_file_is_refused_with_a_message(tmp_path, text, message):
    from faultgraph import PriorKnowledge

    path = tmp_path / ("g.json" if text.startswith("{") else "g.csv")
    path.write_text(text)
    with pytest.raises(InvalidInputError, match=message):
        PriorKnowledge.read_graph(path)


def test_a_graph_with_a_cycle_or_an_unknown_metric_is_refused():
    from faultgraph import PriorKnowledge

    with pytest.raises(InvalidInputError, match="requires a cycle"):
        PriorKnowledge(graph=[("a", "b"), ("b", "a")]).masks(["a", "b"])
    with pytest.raises(InvalidInputError, match="unknown metric 'z'"):
        PriorKnowledge(graph=[("a", "z")]).masks(["a", "b"])


def test_a_single_anomalous_row_is_explained_with_min_steps_1(fitted_case, tmp_path):
    folder, inc = fitted_case
    data = inc.anomalous.copy()
    row = data.index[-1]  # one row, in the fault
    data.to_csv(tmp_path / "a.csv")
    result = run("explain", str(folder / "m"), str(tmp_path / "a.csv"), "--start", str(row), "--end", str(row),
                 "--out", str(tmp_path / "one.json"))
    assert result.exit_code == 2 and "at least 3 needed" in result.stderr
    result = run("explain", str(folder / "m"), str(tmp_path / "a.csv"), "--start", str(row), "--end", str(row),
                 "--min-steps", "1", "--out", str(tmp_path / "one.json"))
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "one.json").read_text())["window"] == [row, row]


def test_explain_names_services_from_a_service_map(fitted_case, tmp_path):
    folder, inc = fitted_case
    (tmp_path / "map.yaml").write_text(f'"{inc.root_cause_service}_*": checkout\n"re:^s[0-9]+_.*": other\n')
    result = run("explain", str(folder / "m"), str(folder / "case" / "anomalous.csv"), "--service-map",
                 str(tmp_path / "map.yaml"), "--out", str(tmp_path / "rca.json"))
    assert result.exit_code == 0, result.output
    rca = json.loads((tmp_path / "rca.json").read_text())
    assert rca["causes"][0]["service"] == "checkout"
    assert {c["service"] for c in rca["causes"]} == {"checkout", "other"}


def test_force_lets_a_refused_fit_run(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(12, 16)), columns=[f"m{i}" for i in range(16)]).to_csv(tmp_path / "few.csv")
    refused = run("discover", str(tmp_path / "few.csv"), "--out", str(tmp_path / "g.json"))
    assert refused.exit_code == 2 and "--force" in refused.stderr and not (tmp_path / "g.json").exists()
    forced = run("discover", str(tmp_path / "few.csv"), "--force", "--out", str(tmp_path / "g.json"))
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "g.json").exists()


def test_discover_screen_recovers_a_raw_graph(tmp_path):
    assert run("simulate", "graph", "--nodes", "30", "--samples", "3000", "--seed", "1",
               "--out", str(tmp_path / "g")).exit_code == 0
    result = run("discover", str(tmp_path / "g" / "data.csv"), "--screen", "--no-standardize", "--truth",
                 str(tmp_path / "g" / "truth.json"), "--out", str(tmp_path / "g.json"), "--quiet")
    assert result.exit_code == 0, result.output
    graph = json.loads((tmp_path / "g.json").read_text())
    assert graph["params"]["screen"] is True
    assert graph["accuracy"]["shd"] <= 3


@pytest.mark.parametrize(("make", "message"), [
    (lambda: __import__("faultgraph").StructureLearner("gd"), "method must be one of 'dagma', 'notears'"),
    (lambda: __import__("faultgraph").StructureLearner(lambda1=-1), "lambda1 must be >= 0, got -1"),
    (lambda: __import__("faultgraph").StructureLearner(max_iter=0), "max_iter must be a positive integer, got 0"),
    (lambda: __import__("faultgraph").StructureLearner(lags=-2), "lags must be an integer >= 0, got -2"),
    (lambda: __import__("faultgraph").StructureLearner(refine="yes"),
     r"refine must be True, False or None \(on for raw data\), got 'yes'"),
    (lambda: __import__("faultgraph").MetricEncoder(max_gap=-1), "max_gap must be an integer >= 0, got -1"),
    (lambda: __import__("faultgraph").MetricEncoder(scale="minmax"),
     "scale must be 'robust', 'standard' or None, got 'minmax'"),
])
def test_learner_and_encoder_parameters_are_checked_from_their_tables(make, message):
    estimator = make()
    with pytest.raises(InvalidInputError, match=message):
        estimator.validate_params()
    with pytest.raises(InvalidInputError, match=message):
        estimator.fit(pd.DataFrame({"a": np.arange(50.0), "b": np.sqrt(np.arange(50.0))}))


def test_fit_passes_the_calibration_options_to_the_model(fitted_case, tmp_path):
    folder, _ = fitted_case
    result = run("fit", str(folder / "case" / "normal.csv"), "--soft-cap", "30", "--scale-floor", "0.01",
                 "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    params = json.loads((tmp_path / "m" / "model.json").read_text())["params"]
    assert params["soft_cap"] == 30 and params["scale_floor"] == 0.01 and params["holdout"] == 0
    result = run("fit", str(folder / "case" / "normal.csv"), "--label", "s0_cpu", "--soft-cap", "30",
                 "--out", str(tmp_path / "l"))
    assert result.exit_code == 2 and "--soft-cap apply to anomaly detection" in result.stderr


def test_ensembles_and_honest_effects_through_the_command_line(tmp_path):
    assert run("simulate", "faults", "--nodes", "8", "--samples", "1500", "--seed", "1",
               "--out", str(tmp_path / "lab")).exit_code == 0
    truth = json.loads((tmp_path / "lab" / "truth.json").read_text())
    result = run("fit", str(tmp_path / "lab" / "data.csv"), "--label", "fault", "--lags", "1", "--bootstrap", "10",
                 "--out", str(tmp_path / "lm"))
    assert result.exit_code == 0, result.output
    result = run("effects", str(tmp_path / "lm"), "--target", "fault", "--out", str(tmp_path / "e.json"))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["n_graphs"] == 10 and doc["lags"] == 1 and "Certain causes of fault" in result.stdout
    entries = {e["node"]: e for e in doc["scores"]}
    assert set(entries) == set(truth["nodes"])
    for e in entries.values():
        assert {"identified", "ate_bounds", "confidence"} <= set(e) and 0 <= e["confidence"] <= 1
    # an anomaly-detection model refuses --bootstrap; discover marks each edge's confidence
    result = run("fit", str(tmp_path / "lab" / "data.csv"), "--bootstrap", "10", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2 and "--bootstrap applies to a label model" in result.stderr
    result = run("discover", str(tmp_path / "lab" / "data.csv"), "--bootstrap", "10", "--out",
                 str(tmp_path / "g.json"), "--quiet")
    assert result.exit_code == 0, result.output
    graph = json.loads((tmp_path / "g.json").read_text())
    assert graph["n_graphs"] == 10
    assert all(0 <= e["confidence"] <= 1 and 0 <= e["reversed"] <= 1 and "oriented" in e for e in graph["edges"])
    # the resampling's block, seed and workers: the same seed gives the same ensemble, in this process too
    docs = []
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        result = run("discover", str(tmp_path / "lab" / "data.csv"), "--bootstrap", "6", "--block", "25", "--seed",
                     seed, "--workers", "0", "--out", str(tmp_path / f"{name}.json"), "--quiet")
        assert result.exit_code == 0, result.output
        docs.append(json.loads((tmp_path / f"{name}.json").read_text()))
    assert docs[0]["bootstrap"] == {"block": 25, "rows": docs[0]["bootstrap"]["rows"], "seed": 3}
    assert docs[2]["bootstrap"]["seed"] == 4 and docs[0]["bootstrap"]["rows"] > 25
    same = lambda doc: [(e["source"], e["target"], e["confidence"], e["reversed"]) for e in doc["edges"]]  # noqa: E731
    assert same(docs[0]) == same(docs[1])
    result = run("discover", str(tmp_path / "lab" / "data.csv"), "--bootstrap", "6", "--block", "0", "--out",
                 str(tmp_path / "bad.json"))
    assert result.exit_code == 2 and "--block" in result.output and not (tmp_path / "bad.json").exists()


def test_rca_json_reads_back_as_the_document_it_was(fitted_case, tmp_path):
    folder, _ = fitted_case
    result = run("explain", str(folder / "m"), str(folder / "case" / "anomalous.csv"), "--resample", "1",
                 "--out", str(tmp_path / "rca.json"))
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "rca.json").read_text())
    doc = workflows.RcaDocument.from_dict(spec)
    assert json.loads(json.dumps(doc.to_dict())) == spec
    assert doc.explanation.causes[0].metric == spec["causes"][0]["metric"] and doc.resample == "1"
    with pytest.raises(InvalidInputError, match="lacks the field target"):
        workflows.RcaDocument.from_dict({k: v for k, v in spec.items() if k != "target"})
    with pytest.raises(InvalidInputError, match="a cause or service lacks a field"):
        workflows.RcaDocument.from_dict({**spec, "causes": [{"metric": "x"}]})


def test_explain_scales_are_kept_in_rca_json_and_redone_with_them(fitted_case, tmp_path):
    from faultgraph.rca import explain, step_scores

    folder, inc = fitted_case
    data = folder / "case" / "anomalous.csv"
    result = run("explain", str(folder / "m"), str(data), "--scales", "model", "--out",
                 str(tmp_path / "rca.json"), "--steps", str(tmp_path / "steps.csv"))
    assert result.exit_code == 0, result.output
    spec = json.loads((tmp_path / "rca.json").read_text())
    assert spec["scales"] == "model" and spec["flagged"] == {}
    model = workflows.load_model(folder / "m")
    frame = workflows.load_metrics(data)
    window = tuple(spec["window"])
    direct = explain(model, frame, window, scales="model")
    assert [c.metric for c in direct.causes] == [c["metric"] for c in spec["causes"]]
    steps = pd.read_csv(tmp_path / "steps.csv", index_col=0)
    expected = step_scores(model, frame, window, spec["target"], method=spec["method"], scales="model")
    np.testing.assert_allclose(steps.to_numpy(), expected.to_numpy(), rtol=1e-5)  # the CSV's 6 digits
    calibrated = step_scores(model, frame, window, spec["target"], method=spec["method"], scales="calibrated")
    assert not np.allclose(calibrated.to_numpy(), expected.to_numpy(), rtol=1e-3)  # the option reached the scores
    # without --scales: the calibrated ones, recorded as such
    assert run("explain", str(folder / "m"), str(data), "--out", str(tmp_path / "default.json")).exit_code == 0
    default = json.loads((tmp_path / "default.json").read_text())
    assert default["scales"] == "calibrated" == explain(model, frame, window).scales
    assert [c["score"] for c in default["causes"]] == pytest.approx(
        [c.score for c in explain(model, frame, window, scales="calibrated").causes], rel=1e-9)
    # report draws the ranking rca.json holds, on its scales; the document reads back as it
    # was, flags and caveats too
    _, _, again = workflows.redo_explanation(folder / "m", tmp_path / "rca.json")
    assert again.scales == "model" and [c.metric for c in again.causes] == [c["metric"] for c in spec["causes"]]
    spec["flagged"] = {"x_copy": "near-deterministic in training"}
    spec["caveats"] = {spec["causes"][0]["metric"]: "near-duplicate of x_copy"}
    assert workflows.RcaDocument.from_dict(spec).to_dict() == spec
    # an rca.json written before faultgraph recorded its scales was ranked on the model's
    old = {k: v for k, v in spec.items() if k != "scales"}
    assert workflows.RcaDocument.from_dict(old).explanation.scales == "model"
    (tmp_path / "old.json").write_text(json.dumps({k: v for k, v in default.items() if k != "scales"}))
    _, _, redone = workflows.redo_explanation(folder / "m", tmp_path / "old.json")
    assert redone.scales == "model" and [c.metric for c in redone.causes] == [c["metric"] for c in default["causes"]]
    # a request without its answer (no causes) is explained, on the scales it names
    request = {k: spec[k] for k in ("target", "window", "method", "scales", "data")}
    (tmp_path / "request.json").write_text(json.dumps(request))
    _, _, asked = workflows.redo_explanation(folder / "m", tmp_path / "request.json")
    assert asked.scales == "model" and asked.causes == direct.causes
    with pytest.raises(InvalidInputError, match="scales must be one of model, calibrated, got 'tiny'"):
        workflows.RcaDocument.from_dict({**spec, "scales": "tiny"})


def test_fit_summary_groups_many_dropped_metrics_by_reason(tmp_path):
    from faultgraph.detect import CausalDetector

    rng = np.random.default_rng(0)
    live = pd.DataFrame(rng.standard_normal((400, 3)), columns=["a", "b", "c"])
    flat = {f"k{i:02d}": float(i) for i in range(12)}
    model = CausalDetector().fit(live.assign(**flat, dead=np.nan))
    lines = workflows.fit_summary(model, tmp_path / "m")
    assert lines[0] == ("dropped 12 metric(s), constant in training: not scored; detect names one if it moves: "
                        "'k00', 'k01', 'k02', 'k03', 'k04', 'k05' and 6 more; model.json's encoder 'dropped' lists "
                        "them")
    assert lines[1].startswith("dropped 1 metric(s), all values missing: 'dead';")
    few = workflows.fit_summary(CausalDetector().fit(live.assign(k00=0.0)), tmp_path / "m")
    assert few[0] == "dropped metric 'k00': constant at 0 in training: not scored; detect names it if it moves"


def test_a_graph_csv_without_its_header_is_refused_not_short_of_an_edge(tmp_path):
    from faultgraph import PriorKnowledge
    from faultgraph.workflows import load_prior

    path = tmp_path / "g.csv"
    path.write_text("x0,x1\nx1,x2\n")  # no header: the first edge would have been read as one
    with pytest.raises(InvalidInputError, match="its first row 'x0,x1' names two metrics.*add a header row"):
        load_prior(None, graph=path, metrics=["x0", "x1", "x2"])
    with pytest.raises(InvalidInputError, match="its header 'x0,x1' names no cause and effect columns"):
        PriorKnowledge.read_graph(path)  # without the metrics: no header it knows, so not read by position
    path.write_text("cause,effect\nx0,x1\nx1,x2\n")
    assert load_prior(None, graph=path, metrics=["x0", "x1", "x2"]).graph == (("x0", "x1"), ("x1", "x2"))
    with pytest.raises(InvalidInputError, match=r"prior \(its given graph\) requires a cycle"):
        PriorKnowledge(graph=[("a", "b"), ("b", "a")]).masks(["a", "b"])


def test_explain_all_on_data_without_incident_answers_none_and_exits_0(fitted_case, tmp_path):
    folder, inc = fitted_case
    calm = inc.normal.iloc[-400:].copy()
    calm[:] = calm.median().to_numpy()
    calm.to_csv(tmp_path / "calm.csv")
    result = run("explain", str(folder / "m"), str(tmp_path / "calm.csv"), "--all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [] and "no incident in" in result.stderr
    result = run("explain", str(folder / "m"), str(tmp_path / "calm.csv"), "--all", "--out", str(tmp_path / "r.json"))
    assert result.exit_code == 0 and "no incident in" in result.stderr and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calm.csv"]  # nothing written
    assert workflows.incident_windows(workflows.load_model(folder / "m"), calm, every=True) == []


def test_a_service_map_that_matches_no_metric_is_named_in_a_warning(fitted_case, tmp_path):
    folder, inc = fitted_case
    data = str(folder / "case" / "anomalous.csv")
    (tmp_path / "map.yaml").write_text('"web_*": web\n"re:^db-": db\n')
    result = run("explain", str(folder / "m"), data, "--service-map", str(tmp_path / "map.yaml"),
                 "--out", str(tmp_path / "rca.json"))
    assert result.exit_code == 0, result.output
    assert (f"warning: service map '{tmp_path / 'map.yaml'}': none of its 2 rules matches a metric of the data"
            in result.stderr) and "'web_*' -> web" in result.stderr and "'s0_traffic'" in result.stderr
    (tmp_path / "some.yaml").write_text(f'"{inc.root_cause_service}_*": checkout\n"web_*": web\n')
    result = run("explain", str(folder / "m"), data, "--service-map", str(tmp_path / "some.yaml"),
                 "--out", str(tmp_path / "rca.json"))
    assert result.exit_code == 0 and "1 of its 2 rules matches no metric of the data: 'web_*' -> web" in result.stderr
    assert "checkout" in {c["service"] for c in json.loads((tmp_path / "rca.json").read_text())["causes"]}


def test_a_graph_csv_is_read_by_its_header_names(tmp_path):
    """The header says which column is the cause: ``effect,cause`` is read the way it says
    (it was read by position, every edge reversed), other columns are passed over, and a
    header that names no cause and effect column is refused with the names allowed."""
    from faultgraph import PriorKnowledge

    path = tmp_path / "g.csv"
    for text in ("effect,cause\nb,a\nc,b\n", "Source,Target,weight\na,b,0.5\nb,c,1\n", "weight,to,from\n1,b,a\n2,c,b\n"):
        path.write_text(text)
        assert PriorKnowledge.read_graph(path) == (("a", "b"), ("b", "c")), text
    path.write_text("cause,efect\na,b\n")
    with pytest.raises(InvalidInputError, match="header 'cause,efect' names no cause and effect columns; name them "
                                                "cause,effect or source,target or from,to or parent,child"):
        PriorKnowledge.read_graph(path)
    path.write_text("cause,effect,note\na,b,x\nb\n")
    with pytest.raises(InvalidInputError, match="line 3 lacks a cause or an effect"):
        PriorKnowledge.read_graph(path)


def test_a_graph_json_keeps_its_lagged_links_and_a_byte_order_mark_is_read(tmp_path):
    """discover --lags writes links one step late in ``lagged_edges``: passed back as --graph
    they are edges too (they were forbidden). A BOM (UTF-8 or UTF-16) is read, as in data files."""
    from faultgraph import PriorKnowledge

    doc = {"edges": [{"source": "api", "target": "web"}],
           "lagged_edges": [{"source": "api", "target": "db", "lag": 1}, {"source": "db", "target": "db", "lag": 1},
                            {"source": "api", "target": "web", "lag": 1}]}
    path = tmp_path / "g.json"
    path.write_text(json.dumps(doc))
    assert PriorKnowledge.read_graph(path) == (("api", "web"), ("api", "db"))
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())
    assert PriorKnowledge.read_graph(path) == (("api", "web"), ("api", "db"))
    doc["lagged_edges"].append({"source": "web", "target": "api", "lag": 1})  # feedback one step late
    path.write_text(json.dumps(doc))
    assert PriorKnowledge.read_graph(path) == (("api", "web"), ("api", "db"))  # would close a cycle: left out
    csv = tmp_path / "g.csv"
    csv.write_bytes("cause,effect\napi,web\n".encode("utf-16"))
    assert PriorKnowledge.read_graph(csv) == (("api", "web"),)


def test_an_edge_from_a_metric_to_itself_is_refused():
    """A self-loop in a graph or a prior's edges was dropped without a word; a pattern pair
    ("web_*" twice: the pairs among those metrics) still means what it says."""
    from faultgraph import PriorKnowledge

    for spec in ({"graph": [["web", "web"], ["api", "db"]]}, {"required": ["db -> db"]}, {"forbidden": [["a", "a"]]}):
        with pytest.raises(InvalidInputError, match="joins a metric to itself"):
            PriorKnowledge.from_dict(spec)
    prior = PriorKnowledge.from_dict({"forbidden": [["web_*", "web_*"]]}).expand(["web_a", "web_b", "db"])
    assert set(prior.forbidden) == {("web_a", "web_b"), ("web_b", "web_a")}


def test_a_prior_with_a_graph_and_a_graph_file_are_not_both_taken(tmp_path):
    prior = tmp_path / "prior.yaml"
    prior.write_text("graph: [[a, b]]\n")
    graph = tmp_path / "g.csv"
    graph.write_text("cause,effect\nb,c\n")
    with pytest.raises(InvalidInputError, match="gives a graph .graph:. and so does --graph"):
        workflows.load_prior(prior, graph=graph)
    assert workflows.load_prior(prior).graph == (("a", "b"),)


def test_too_many_lags_names_the_option_and_what_fits():
    from faultgraph.discovery import StructureLearner
    from faultgraph.discovery.ensemble import learn_graph_ensemble

    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(InvalidInputError, match=r"lags=30 \(--lags\) needs at least 33 rows .* has 20: use lags <= 17"):
        StructureLearner(lags=30).fit(X)
    with pytest.raises(InvalidInputError, match=r"lags=30 \(--lags\) needs at least 33 rows"):
        learn_graph_ensemble(X, n_graphs=2, lags=30)
    for bad in (0, 1):  # one message for both: an ensemble is 2 graphs or more
        with pytest.raises(InvalidInputError, match=f"n_graphs must be an integer from 2 to 10000 .*got {bad}"):
            learn_graph_ensemble(X, n_graphs=bad)


def test_a_label_model_says_what_it_dropped_and_counts_the_label_edges_apart(tmp_path):
    from faultgraph.detect import FaultIdentifier

    rng = np.random.default_rng(1)
    web = rng.normal(size=600)
    api = 0.8 * web + rng.normal(size=600)
    frame = pd.DataFrame({"web": web, "api": api, "flat": 3.0,
                          "fault": (api + 0.3 * rng.normal(size=600) > 1.2).astype(float)})
    model = FaultIdentifier("fault").fit(frame)
    lines = workflows.fit_summary(model, tmp_path / "m")
    assert lines[0] == "dropped metric 'flat': constant at 3 in training: left out of the graph and the effects"
    info = model.describe()
    k = list(model.graph_.nodes).index("fault")
    assert info["n_edges"] - info["n_metric_edges"] == np.count_nonzero(model.graph_.adjacency[:, k]) >= 1
    assert f"{info['n_metric_edges']} edges among 2 metrics" in lines[-1]
    with pytest.raises(InvalidInputError, match="target 'flat' was dropped at fit .constant"):
        workflows.effects_report(model, "flat")


@pytest.mark.parametrize("minutes", [5, 10])
def test_coarser_data_repeat_their_last_sample_on_the_models_step(tmp_path, minutes):
    """Data at 5 or 10 minutes for a model fitted at 1 minute: every minute repeats the last
    sample at or before it (docs/cli.md: nothing from the future leaks into the past). The
    fill went towards the next sample (an incident began minutes before its fault), and at 10
    minutes the grid's gaps were refused as too long."""
    from types import SimpleNamespace

    times = pd.date_range("2024-05-03 08:00", periods=12, freq=f"{minutes}min", tz="UTC")
    values = np.where(times >= pd.Timestamp("2024-05-03 08:40", tz="UTC"), 100.0, 1.0)
    pd.DataFrame({"time": times, "db_cpu": values, "api": np.arange(12.0)}).to_csv(tmp_path / "c.csv", index=False)
    model = SimpleNamespace(encoder_=SimpleNamespace(step_=60.0, max_gap=5))
    with pytest.warns(UserWarning, match="put on the model's step of 60 s"):
        frame = workflows.load_metrics(tmp_path / "c.csv", model=model)
    assert frame["db_cpu"].notna().all()
    before = frame.index < pd.Timestamp("2024-05-03 08:40", tz="UTC")
    assert (frame.loc[before, "db_cpu"] == 1.0).all() and (frame.loc[~before, "db_cpu"] == 100.0).all()
