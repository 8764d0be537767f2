"""The command line: documented commands run, bad input gives one line and exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from faultgraph.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def simulated(tmp_path):
    out = tmp_path / "sim"
    result = run("simulate", "graph", "--kind", "er", "--nodes", "10", "--degree", "2", "--samples", "1000",
                 "--seed", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_simulate_writes_data_and_truth(simulated):
    truth = json.loads((simulated / "truth.json").read_text())
    header = (simulated / "data.csv").read_text().splitlines()[0].split(",")
    assert header == ["timestamp"] + truth["nodes"]
    assert len(truth["edges"]) > 0 and {"source", "target", "weight"} <= set(truth["edges"][0])
    assert truth["params"]["seed"] == 3


@pytest.mark.parametrize("method", ["dagma", "notears"])
def test_discover_writes_the_documented_schema(simulated, tmp_path, method):
    out = tmp_path / "graph.json"
    result = run("discover", str(simulated / "data.csv"), "--method", method, "--no-standardize",
                 "--truth", str(simulated / "truth.json"), "--out", str(out))
    assert result.exit_code == 0, result.output
    graph = json.loads(out.read_text())
    assert {"nodes", "edges", "method", "params", "elapsed_s", "dropped_edges"} <= set(graph)
    assert graph["method"] == method and graph["params"]["standardize"] is False
    assert graph["accuracy"]["shd"] <= 2
    assert all(set(e) == {"source", "target", "weight"} for e in graph["edges"])


def test_discover_with_prior_and_options(simulated, tmp_path):
    truth = json.loads((simulated / "truth.json").read_text())
    edge = truth["edges"][0]
    prior = tmp_path / "prior.yaml"
    prior.write_text(f"forbidden:\n  - [{edge['source']}, {edge['target']}]\n")
    out = tmp_path / "graph.json"
    result = run("discover", str(simulated / "data.csv"), "--prior", str(prior), "--lambda1", "0.05",
                 "--threshold", "0.2", "--quiet", "--out", str(out))
    assert result.exit_code == 0, result.output
    graph = json.loads(out.read_text())
    assert (edge["source"], edge["target"]) not in {(e["source"], e["target"]) for e in graph["edges"]}
    assert graph["params"]["lambda1"] == 0.05 and graph["params"]["threshold"] == 0.2


def test_fit_takes_a_prior_that_names_a_metric_constant_in_the_data(simulated, tmp_path):
    data = pd.read_csv(simulated / "data.csv").assign(restarts=0.0)
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    first, second = [c for c in data.columns if c not in ("timestamp", "restarts")][:2]
    prior = tmp_path / "prior.yaml"
    prior.write_text(f"forbidden: [[{first}, {second}], [restarts, {first}]]\nrequired: [[restarts, {second}]]\n")
    result = run("fit", str(path), "--prior", str(prior), "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    assert f"warning: prior requires the edge restarts -> {second}, but 'restarts' is not modelled" in result.stderr
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["prior"]["forbidden"] == [[first, second]] and meta["prior"]["required"] == []



def test_fit_quiet_prints_no_summary(simulated, tmp_path):
    loud = run("fit", str(simulated / "data.csv"), "--out", str(tmp_path / "loud"))
    assert loud.exit_code == 0 and f"wrote {tmp_path / 'loud'}" in loud.stderr
    quiet = run("fit", str(simulated / "data.csv"), "--quiet", "--out", str(tmp_path / "quiet"))
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""
    assert (tmp_path / "quiet" / "model.json").exists()

def _one_line_error(result, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    # one error line; warnings raised on the way come before it, as they happened
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr
    assert all(line.startswith("warning:") for line in lines[:-1]), result.stderr
    return " ".join(lines)


def test_bad_input_gives_one_line_and_exit_2(tmp_path, simulated):
    out = str(tmp_path / "g.json")
    assert "does not exist" in _one_line_error(run("discover", str(tmp_path / "missing.csv"), "--out", out))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "is empty" in _one_line_error(run("discover", str(empty), "--out", out))
    wrong = tmp_path / "metrics.json"
    wrong.write_text("{}")
    assert "not a Prometheus query_range export" in _one_line_error(run("discover", str(wrong), "--out", out))
    wrong = tmp_path / "metrics.xlsx"
    wrong.write_text("")
    assert "unknown extension" in _one_line_error(run("discover", str(wrong), "--out", out))
    text = tmp_path / "text.csv"
    text.write_text("timestamp,a,b\n0,1,x\n1,2,y\n")
    assert "non-numeric" in _one_line_error(run("discover", str(text), "--out", out))
    prior = tmp_path / "p.yaml"
    prior.write_text("sinks: [no_such_metric]\n")
    msg = _one_line_error(run("discover", str(simulated / "data.csv"), "--prior", str(prior), "--out", out))
    assert "unknown metric 'no_such_metric'" in msg
    msg = _one_line_error(run("discover", str(simulated / "data.csv"), "--lambda1", "-1", "--out", out))
    assert "lambda1 must be >= 0" in msg


def test_usage_errors_exit_2(simulated, tmp_path):
    result = run("discover", str(simulated / "data.csv"), "--method", "pc", "--out", str(tmp_path / "g.json"))
    assert result.exit_code == 2


def test_version_and_help():
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("faultgraph ")
    for cmd in (["--help"], ["discover", "--help"], ["simulate", "graph", "--help"], ["demo", "--help"]):
        assert run(*cmd).exit_code == 0


def test_demo_explains_the_simulated_incident(tmp_path):
    result = run("demo", "--out", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert "Injected: error_burst at s6 (s6_errors)." in result.output
    assert "Most likely root cause: s6_errors (service s6)" in result.output
    assert "The injected service was found first." in result.output
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["causes"][0]["metric"] == report["injected_metric"]
    # what broke first and when: the injected metric left its range at the injection, before the alarm
    assert report["causes"][0]["onset"] == report["fault_start"] < report["detected_window"][0]
    assert f"How it spread, and when: s6_errors ({report['fault_start']}) -> s5_errors" in result.output
    html = (tmp_path / "demo" / "report.html").read_text()
    for part in ('id="graph"', 'id="ranking"', 'id="timeline"', 'class="path-edge"', 'class="cause-bar"',
                 'class="incident-window"', "s6_errors"):
        assert part in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch
    # the top 10 causes step by step over the detected window, with the onsets that fall in it
    steps = report["detected_window"][1] - report["detected_window"][0] + 1
    assert 'id="steps"' in html and html.count('class="heat-cell"') == 10 * steps
    assert html.count('class="onset-mark"') == sum(c["onset"] is not None for c in report["causes"][:10])
    for picture in ("graph.svg", "causes.svg", "timeline.svg", "series-1.svg", "steps.svg"):
        assert (tmp_path / "demo" / picture).read_text().startswith("<svg")


@pytest.fixture
def labelled_csv(tmp_path):
    from faultgraph.simulate import simulate_labelled_faults

    data, _, causes = simulate_labelled_faults(random_state=3)
    path = tmp_path / "labelled.csv"
    data.to_csv(path)
    return path, causes


def test_fit_effects_detect(labelled_csv, tmp_path):
    path, causes = labelled_csv
    model = tmp_path / "model"
    result = run("fit", str(path), "--label", "fault", "--out", str(model))
    assert result.exit_code == 0, result.output
    assert (model / "model.json").exists() and (model / "arrays.npz").exists()
    out = tmp_path / "effects.json"
    result = run("effects", str(model), "--target", "fault", "--bootstrap", "10", "--out", str(out))
    assert result.exit_code == 0, result.output
    too_few = run("effects", str(model), "--target", "fault", "--bootstrap", "5", "--out", str(out))
    assert too_few.exit_code == 2 and "--bootstrap must be 0 (no interval) or at least 10, got 5" in too_few.stderr
    eff = json.loads(out.read_text())
    top = [s["node"] for s in eff["scores"][:3]]
    assert set(top) == set(causes)
    first = eff["scores"][0]
    assert {"node", "ate", "ci_low", "ci_high", "score", "paths"} <= set(first)
    assert first["paths"][0]["nodes"][0] == first["node"] and first["paths"][0]["nodes"][-1] == "fault"
    scores = tmp_path / "scores.csv"
    result = run("detect", str(model), str(path), "--out", str(scores))
    assert result.exit_code == 0, result.output
    assert "| faultgraph |" in result.stdout
    header = scores.read_text().splitlines()[0].split(",")
    assert header[1:] == ["probability", "decision"]


def test_effects_with_tiers_adjust_for_the_optimal_set_unless_told_not_to(tmp_path):
    # z -> a -> b -> fault, a -> fault, w -> b: the order's graph gives a the optimal set {w};
    # --no-efficient adjusts for its earlier tier {z}, which explains most of a (a wider interval)
    rng = np.random.default_rng(2)
    n = 3000
    z, w = rng.normal(size=(2, n))
    a = 2 * z + rng.normal(size=n)
    b = a + w + rng.normal(size=n)
    fault = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * b / b.std() + 0.5 * a / a.std() - 1)))).astype(int)
    path = tmp_path / "chain.csv"
    pd.DataFrame({"z": z, "a": a, "w": w, "b": b, "fault": fault}).to_csv(path, index=False)
    prior = tmp_path / "prior.yaml"
    prior.write_text('tiers: [["z"], ["a"], ["w"], ["b"]]\n')
    model = tmp_path / "model"
    assert run("fit", str(path), "--label", "fault", "--prior", str(prior), "--out", str(model)).exit_code == 0
    docs = {}
    for flag in ("--efficient", "--no-efficient"):
        out = tmp_path / f"effects{flag}.json"
        result = run("effects", str(model), "--target", "fault", "--bootstrap", "20", flag, "--out", str(out))
        assert result.exit_code == 0, result.output
        docs[flag] = {s["node"]: s for s in json.loads(out.read_text())["scores"]}
    eff, plain = docs["--efficient"]["a"], docs["--no-efficient"]["a"]
    assert eff["identified"] and plain["identified"] and eff["ci_low"] > 0 and plain["ci_low"] > 0
    assert eff["ci_high"] - eff["ci_low"] < 0.8 * (plain["ci_high"] - plain["ci_low"])


def test_fit_and_detect_bad_input(labelled_csv, tmp_path):
    path, _ = labelled_csv
    msg = _one_line_error(run("fit", str(path), "--label", "nope", "--out", str(tmp_path / "m")))
    assert "label column 'nope'" in msg
    msg = _one_line_error(run("fit", str(path), "--label", "fault", "--score", "residual", "--drift-window", "0",
                              "--out", str(tmp_path / "m")))
    assert "--score, --drift-window apply to anomaly detection (fit without --label)" in msg
    msg = _one_line_error(run("fit", str(path), "--label", "fault", "--no-lasting", "--out", str(tmp_path / "m")))
    assert "--lasting apply to anomaly detection (fit without --label)" in msg
    msg = _one_line_error(run("detect", str(tmp_path / "missing-model"), str(path), "--out", str(tmp_path / "s.csv")))
    assert "not a faultgraph model folder" in msg
    model = tmp_path / "model"
    assert run("fit", str(path), "--label", "fault", "--out", str(model)).exit_code == 0
    msg = _one_line_error(run("effects", str(model), "--target", "nope", "--out", str(tmp_path / "e.json")))
    assert "target 'nope' is not a node of the model; 0/1 nodes (labels): 'fault'; nodes:" in msg


def test_report_inspect_export_and_json(tmp_path):
    import networkx as nx

    assert run("simulate", "incident", "--seed", "7", "--out", str(tmp_path / "case")).exit_code == 0
    model = tmp_path / "m"
    assert run("fit", str(tmp_path / "case" / "normal.csv"), "--out", str(model)).exit_code == 0
    rca = tmp_path / "rca.json"
    result = run("explain", str(model), str(tmp_path / "case" / "anomalous.csv"), "--start", "1530", "--end", "1619",
                 "--html", str(tmp_path / "r.html"), "--json", "--out", str(rca))
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["causes"][0]["metric"] == "s6_errors" and printed == json.loads(rca.read_text())
    assert 'id="graph"' in (tmp_path / "r.html").read_text()
    result = run("report", str(model), str(rca), "--out", str(tmp_path / "r2.html"))
    assert result.exit_code == 0 and "s6_errors" in (tmp_path / "r2.html").read_text()
    result = run("inspect", str(model), "--json")
    summary = json.loads(result.stdout)
    assert summary["task"] == "unsupervised-detection" and summary["metrics"] == 50 and summary["edges"] > 0
    assert run("export", str(model), "--format", "graphml", "--out", str(tmp_path / "g.graphml")).exit_code == 0
    G = nx.read_graphml(tmp_path / "g.graphml")
    assert G.number_of_nodes() == 50 and all("weight" in d and "lag" in d for _, _, d in G.edges(data=True))
    # every edge of the model, same-step and lagged (a pair joined at several lags keeps each)
    meta = json.loads((model / "model.json").read_text())
    arrays = np.load(model / "arrays.npz")
    expected = {(a, b, 0) for a, b in zip(*np.nonzero(arrays["graph/adjacency"]))}
    expected |= {(a, b, lag + 1) for lag, a, b in zip(*np.nonzero(arrays["graph/lagged"]))}
    nodes = meta["graph"]["nodes"]
    got = {(nodes.index(a), nodes.index(b), int(d["lag"])) for a, b, d in G.edges(data=True)}
    assert got == expected and G.number_of_edges() == len(expected) and len(arrays["graph/lagged"]) > 0
    dot = run("export", str(model), "--format", "dot").stdout
    assert dot.startswith("digraph faultgraph {") and "->" in dot and dot.rstrip().endswith("}")
    assert dot.count("->") == len(expected)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert "is not an rca.json" in _one_line_error(run("report", str(model), str(bad)))


def test_discover_resamples_long_asynchronous_metrics(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(400):
        x = rng.normal()
        rows.append((1_700_000_000 + 60 * k + int(rng.integers(0, 20)), "x", x))
        rows.append((1_700_000_000 + 60 * k + 30, "y", 2 * x + 0.1 * rng.normal()))
    p = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["timestamp", "metric", "value"]).to_csv(p, index=False)
    out = tmp_path / "g.json"
    result = run("discover", str(p), "--resample", "1min", "--out", str(out))
    assert result.exit_code == 0, result.output
    edges = json.loads(out.read_text())["edges"]
    assert len(edges) == 1 and {edges[0]["source"], edges[0]["target"]} == {"x", "y"}


def test_report_aligns_the_data_as_the_explanation_did(tmp_path):
    # a jittered record needs --resample; rca.json keeps the step so `report` redoes it
    assert run("simulate", "incident", "--seed", "3", "--delay", "1", "--jitter", "0.05",
               "--out", str(tmp_path / "case")).exit_code == 0
    truth = json.loads((tmp_path / "case" / "truth.json").read_text())
    model, rca = tmp_path / "m", tmp_path / "rca.json"
    result = run("fit", str(tmp_path / "case" / "normal.csv"), "--resample", "1", "--score",
                 "residual+marginal+innovation", "--out", str(model))
    assert result.exit_code == 0, result.output
    assert json.loads((model / "model.json").read_text())["params"]["scoring"] == "residual+marginal+innovation"
    result = run("explain", str(model), str(tmp_path / "case" / "anomalous.csv"), "--resample", "1",
                 "--start", str(truth["fault_start"]), "--end", str(truth["fault_end"]), "--out", str(rca))
    assert result.exit_code == 0, result.output
    spec = json.loads(rca.read_text())
    assert spec["resample"] == "1"
    result = run("report", str(model), str(rca), "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    assert f"Most likely root cause:</b> {spec['causes'][0]['metric']} " in (tmp_path / "r.html").read_text()
    # without the step, the raw scrape times are not a grid: the error says what to do
    del spec["resample"]
    rca.write_text(json.dumps(spec))
    assert "resample" in _one_line_error(run("report", str(model), str(rca), "--out", str(tmp_path / "r2.html")))


def test_data_at_another_step_are_put_on_the_models_step(tmp_path):
    # a model fitted on 60 s rows, scored on 30 s rows: its lags count rows, so detect
    # resamples the data to 60 s and says so; --resample still chooses
    rng = np.random.default_rng(0)
    n = 600
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = 0.8 * x[t - 1] + rng.normal()
    slow = pd.DataFrame({"timestamp": 1_700_000_040 + 60 * np.arange(n), "a": x, "b": 0.5 * x + rng.normal(size=n)})
    slow.to_csv(tmp_path / "train.csv", index=False)
    fast = pd.DataFrame({"timestamp": 1_700_000_040 + 30 * np.arange(2 * n), "a": np.repeat(x, 2),
                         "b": np.repeat(slow["b"].to_numpy(), 2)})
    fast.to_csv(tmp_path / "fast.csv", index=False)
    model = tmp_path / "m"
    assert run("fit", str(tmp_path / "train.csv"), "--out", str(model)).exit_code == 0
    assert json.loads((model / "model.json").read_text())["encoder"]["step_seconds"] == 60.0
    result = run("detect", str(model), str(tmp_path / "fast.csv"), "--out", str(tmp_path / "s.csv"))
    assert result.exit_code == 0, result.output
    assert ("rows are 30 s apart, the model's training rows 60 s: put on the model's step of 60 s (another step: "
            "--resample STEP") in result.stderr
    assert len(pd.read_csv(tmp_path / "s.csv")) == n
    result = run("detect", str(model), str(tmp_path / "fast.csv"), "--resample", "30s",
                 "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 0 and len(pd.read_csv(tmp_path / "r.csv")) == 2 * n
    assert "fitted on rows 60 s apart" in result.stderr  # the encoder's warning: lags now mean 30 s


def test_errors_name_the_commands_options_not_the_librarys_parameters(simulated, tmp_path):
    data = str(simulated / "data.csv")
    cases = [(("fit", data, "--background-window", "30", "--out", str(tmp_path / "m")), "--background-window must be"),
             (("discover", data, "--bootstrap", "1", "--out", str(tmp_path / "g.json")), "--bootstrap must be 0"),
             (("discover", data, "--bootstrap", "99999999999999999999", "--out", str(tmp_path / "g.json")),
              "--bootstrap must be 0 (one graph) or an integer from 2 to 10000"),
             (("discover", data, "--bootstrap", "3", "--workers", "0", "--scheduler", "tcp://127.0.0.1:1",
               "--out", str(tmp_path / "g.json")), "--workers 0 sizes a cluster started here (0: no cluster) and "
                                                    "--scheduler 'tcp://127.0.0.1:1' names a running one"),
             (("discover", data, "--bootstrap", "3", "--scheduler", "nonsense", "--out", str(tmp_path / "g.json")),
              "scheduler 'nonsense' is neither an address"),
             (("simulate", "incident", "--delay", "3:1", "--out", str(tmp_path / "s")), "--delay must lie in"),
             (("simulate", "graph", "--nodes", "5", "--seed", "-1", "--out", str(tmp_path / "s")), "--seed")]
    for args, expected in cases:
        result = run(*args)
        assert result.exit_code == 2 and expected in result.stderr and "internal error" not in result.stderr, (
            args, result.stderr)
    assert "_window" not in run(*cases[0][0]).stderr


def test_report_redraws_a_time_stamped_explanation_and_outputs_never_overwrite_inputs(tmp_path):
    from faultgraph.simulate import simulate_incident

    inc = simulate_incident(services=3, random_state=1)
    frame = pd.concat([inc.normal, inc.anomalous])
    frame.index = pd.date_range("2024-01-01", periods=len(frame), freq="60s", tz="UTC", name="timestamp")
    normal, data = tmp_path / "normal.csv", tmp_path / "data.csv"
    frame.iloc[:len(inc.normal)].to_csv(normal)
    frame.to_csv(data)
    model = tmp_path / "model"
    assert run("fit", str(normal), "--out", str(model)).exit_code == 0
    start = frame.index[inc.fault_start]
    rca = tmp_path / "rca.json"
    result = run("explain", str(model), str(data), "--start", str(start), "--end", str(start + pd.Timedelta("20min")),
                 "--out", str(rca))
    assert result.exit_code == 0, result.stderr
    assert any(c["onset"] for c in json.loads(rca.read_text())["causes"][:5])  # times, written as text
    report = run("report", str(model), str(rca), "--out", str(tmp_path / "report.html"))
    assert report.exit_code == 0, report.stderr  # the onsets read back are times again, not text
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    before = data.read_bytes()
    for args in (("explain", str(model), str(data), "--start", str(start), "--out", str(data)),
                 ("explain", str(model), str(data), "--start", str(start), "--out", str(rca), "--html", str(data)),
                 ("explain", str(model), str(data), "--start", str(start), "--out", str(model / "model.json")),
                 ("detect", str(model), str(data), "--out", str(data)),
                 ("detect", str(model), str(data), "--out", str(tmp_path / "s.csv"), "--incidents", str(data))):
        msg = _one_line_error(run(*args))
        assert "would overwrite" in msg and "which this command reads" in msg, (args, msg)
    assert data.read_bytes() == before and json.loads((model / "model.json").read_text())["schema_version"]


# --- from an on-call pass: the symptom, constants, row steps and the label model's ensemble ------------------

@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    """A simulated incident (3 services, fault at 1530) whose data also hold `restarts`, at 0 throughout,
    and `flat.csv`, the anomalous period with s0_cpu held at one value; the model fitted on its normal period."""
    from faultgraph.simulate import simulate_incident

    folder = tmp_path_factory.mktemp("oncall")
    inc = simulate_incident(services=3, random_state=1)
    inc.normal.assign(restarts=0.0).to_csv(folder / "normal.csv")
    inc.anomalous.assign(restarts=0.0).to_csv(folder / "anomalous.csv")
    inc.anomalous.assign(restarts=0.0, s0_cpu=float(inc.normal["s0_cpu"].median())).to_csv(folder / "flat.csv")
    result = run("fit", str(folder / "normal.csv"), "--out", str(folder / "m"))
    assert result.exit_code == 0, result.output
    return folder, inc


def test_explain_says_when_the_target_did_not_move_in_the_window(incident):
    folder, inc = incident
    window = ("--start", str(inc.fault_start), "--end", str(inc.fault_end))
    result = run("explain", str(folder / "m"), str(folder / "flat.csv"), *window, "--target", "s0_cpu", "--json")
    assert result.exit_code == 0, result.output
    assert "warning: target 's0_cpu' held one value" in result.stderr and "did not move" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["target"] == "s0_cpu" and list(doc["caveats"])[0] == "s0_cpu"
    assert "did not move" in doc["caveats"]["s0_cpu"]
    text = run("explain", str(folder / "m"), str(folder / "flat.csv"), *window, "--target", "s0_cpu", "--json",
               "--out", str(folder / "flat.json"))
    assert json.loads((folder / "flat.json").read_text())["caveats"] == doc["caveats"]
    text = run("explain", str(folder / "m"), str(folder / "flat.csv"), *window, "--target", "s0_cpu",
               "--out", str(folder / "flat-text.json"))
    assert "note on s0_cpu: the symptom held one value" in text.stdout
    # a symptom chosen for the user is never the flat metric, and carries no such caveat
    chosen = json.loads(run("explain", str(folder / "m"), str(folder / "flat.csv"), *window, "--json").stdout)
    assert chosen["target"] != "s0_cpu" and "did not move" not in " ".join(chosen["caveats"].values())
    moved = run("explain", str(folder / "m"), str(folder / "flat.csv"), *window, "--target", "s2_memory", "--json")
    assert moved.exit_code == 0 and "did not move" not in moved.stderr + moved.stdout


def test_a_target_constant_in_training_is_refused_as_such_not_as_an_unknown_name(incident):
    folder, inc = incident
    msg = _one_line_error(run("explain", str(folder / "m"), str(folder / "anomalous.csv"), "--start",
                              str(inc.fault_start), "--end", str(inc.fault_end), "--target", "restarts"))
    assert "target 'restarts' was constant at 0 throughout the training data, so the model left it out" in msg
    assert "cannot be the symptom" in msg and "not a metric" not in msg and "metrics:" not in msg
    msg = _one_line_error(run("explain", str(folder / "m"), str(folder / "anomalous.csv"), "--target", "nope"))
    assert "target 'nope' is not a metric of the model" in msg  # a wrong name is still said to be one


def test_row_steps_put_on_a_grid_are_printed_and_written_as_whole_numbers(incident, tmp_path):
    folder, inc = incident
    args = ("explain", str(folder / "m"), str(folder / "anomalous.csv"), "--resample", "1",
            "--start", str(inc.fault_start), "--end", str(inc.fault_end))
    text = run(*args, "--out", str(tmp_path / "rca.json"))
    assert text.exit_code == 0, text.output
    assert f"in {inc.fault_start} .. {inc.fault_end} " in text.stdout and ".0 " not in text.stdout
    assert "from 15" in text.stdout  # an onset, written as the step it is
    doc = json.loads((tmp_path / "rca.json").read_text())
    onsets = [c["onset"] for c in doc["causes"] if c["onset"] is not None]
    assert onsets and all(type(v) is int for v in onsets + doc["window"])
    scores = tmp_path / "scores.csv"
    assert run("detect", str(folder / "m"), str(folder / "anomalous.csv"), "--resample", "1",
               "--out", str(scores)).exit_code == 0
    assert scores.read_text().splitlines()[1].split(",")[0] == str(inc.normal.index[-1] + 1)
    # an rca.json written before (steps as 1536.0) reads back as whole steps
    from faultgraph.workflows import RcaDocument

    doc["causes"][0]["onset"] = float(onsets[0])
    assert RcaDocument.from_dict(doc).explanation.causes[0].onset == onsets[0]
    assert type(RcaDocument.from_dict(doc).to_dict()["causes"][0]["onset"]) is int


def test_fit_bootstrap_takes_discovers_workers_seed_and_block(tmp_path, monkeypatch):
    import faultgraph.discovery.ensemble as ensemble
    from typer.main import get_command

    commands = get_command(app).commands
    for name in ("block", "seed", "workers", "scheduler", "bootstrap"):  # the same options, help and bounds
        fit, discover = ({p.name: p for p in commands[c].params}[name] for c in ("fit", "discover"))
        same = ("opts", "help", "min", "max", "default", "envvar", "show_default")
        assert [getattr(fit, a) for a in same] == [getattr(discover, a) for a in same], name
    seen = []
    real = ensemble.run_resamples

    def recording(fit, n_rows, seeds, block, **kwargs):
        seen.append({"seeds": list(seeds), "block": block, **kwargs})
        return real(fit, n_rows, seeds, block, **kwargs)

    monkeypatch.setattr(ensemble, "run_resamples", recording)
    assert run("simulate", "faults", "--nodes", "6", "--samples", "800", "--seed", "1",
               "--out", str(tmp_path / "lab")).exit_code == 0
    data = str(tmp_path / "lab" / "data.csv")
    result = run("fit", data, "--label", "fault", "--lags", "1", "--bootstrap", "4", "--block", "25", "--seed", "3",
                 "--workers", "0", "--out", str(tmp_path / "lm"))
    assert result.exit_code == 0, result.output
    assert seen == [{"seeds": list(ensemble.resample_seeds(4, 3)), "block": 25, "scheduler": "", "n_workers": 0}]
    params = json.loads((tmp_path / "lm" / "model.json").read_text())["params"]
    assert (params["bootstrap"], params["block"], params["random_state"]) == (4, 25, 3)
    # discover's checks, before any work
    cases = [(("--label", "fault", "--bootstrap", "4", "--block", "800"), "--block must be shorter than the data's"),
             (("--label", "fault", "--bootstrap", "4", "--workers", "0", "--scheduler", "tcp://127.0.0.1:1"),
              "--workers 0 sizes a cluster started here (0: no cluster) and --scheduler 'tcp://127.0.0.1:1' names a "
              "running one: give one of them"),
             (("--label", "fault", "--bootstrap", "4", "--scheduler", "nonsense"), "scheduler 'nonsense' is neither"),
             (("--label", "fault", "--bootstrap", "1"), "--bootstrap must be 0 (one graph) or an integer from 2"),
             (("--seed", "4", "--workers", "2"), "--seed and --workers apply to a label model (fit with --label)"),
             (("--scheduler", "tcp://127.0.0.1:1"), "--scheduler applies to a label model (fit with --label)"),
             (("--label", "fault", "--block", "25", "--seed", "3"),
              "--block and --seed apply to a graph ensemble, and none is learned: give --bootstrap B too")]
    for args, expected in cases:
        seen.clear()
        assert expected in _one_line_error(run("fit", data, *args, "--out", str(tmp_path / "bad"))), args
        assert not seen and not (tmp_path / "bad").exists()
    # the command line wins over $FAULTGRAPH_SCHEDULER, as in the fleet commands: --workers 0 runs here
    monkeypatch.setenv("FAULTGRAPH_SCHEDULER", "tcp://127.0.0.1:9")  # nothing listens there
    seen.clear()
    result = run("fit", data, "--label", "fault", "--bootstrap", "2", "--workers", "0", "--out", str(tmp_path / "e"))
    assert result.exit_code == 0, result.output
    assert "--workers 0: $FAULTGRAPH_SCHEDULER ('tcp://127.0.0.1:9') is not used" in result.output
    assert seen and seen[0]["n_workers"] == 0 and not seen[0]["scheduler"]
    monkeypatch.delenv("FAULTGRAPH_SCHEDULER")
    # discover the same: ensemble options without --bootstrap would do nothing
    got = _one_line_error(run("discover", data, "--workers", "2", "--out", str(tmp_path / "g.json")))
    assert "--workers applies to a graph ensemble, and none is learned: give --bootstrap B too" in got
    assert not (tmp_path / "g.json").exists()
