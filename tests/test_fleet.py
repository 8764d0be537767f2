"""faultgraph fleet: one model per host on a LocalCluster and on a scheduler and worker
started as separate processes; each model equals a plain fit of its host; a broken host
is reported and the others succeed; a re-run skips current models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from faultgraph import workflows
from faultgraph.cli import app
from faultgraph.config import FitConfig
from faultgraph.errors import InvalidInputError
from faultgraph.fleet import fleet_detect, fleet_explain, fleet_fit, list_entities, scan_source
from faultgraph.io import write_csv_atomic
from faultgraph.parallel import pinned_blas
from faultgraph.simulate import simulate_incident

pytest.importorskip("distributed")

HOSTS = ("host-a", "host-b", "host-c", "host-d")
runner = CliRunner()


@pytest.fixture(scope="module")
def fleet_data(tmp_path_factory) -> Path:
    """normal/<host>.csv (fit) and recent/<host>.csv (the last normal rows, then a fault)
    for four simulated hosts of 4-6 services, and a broken host in each folder."""
    root = tmp_path_factory.mktemp("fleet")
    for k, host in enumerate(HOSTS):
        inc = simulate_incident(services=4 + k % 3, normal_steps=600, anomalous_steps=80, fault_at=20,
                                random_state=k)
        write_csv_atomic(root / "normal" / f"{host}.csv", inc.normal, "%.10g")
        write_csv_atomic(root / "recent" / f"{host}.csv", pd.concat([inc.normal.iloc[-200:], inc.anomalous]),
                         "%.10g")
    for folder in ("normal", "recent"):
        (root / folder / "broken.csv").write_text("timestamp,cpu\n0,1.0\n1,oops\n")
    (root / "normal" / "notes.md").write_text("not a metrics file\n")
    return root


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "arrays.npz") as z:
        return {k: z[k] for k in z.files}


def _check_fleet(root: Path, models: Path, scores: Path, plain: dict[str, dict[str, np.ndarray]]) -> None:
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == sorted(HOSTS)
    for host in HOSTS:
        got = _arrays(models / host)
        assert got.keys() == plain[host].keys()
        for name, value in plain[host].items():
            np.testing.assert_array_equal(got[name], value, err_msg=f"{host}: {name}")
        assert json.loads((models / host / "fleet.json").read_text())["entity"] == host
        table = pd.read_csv(scores / f"{host}.csv", index_col=0)
        assert {"score", "anomaly", "background"} <= set(table.columns) and len(table) == 280
    document = json.loads((scores / "incidents.json").read_text())
    starts = [i["start"] for i in document["incidents"]]
    assert starts == sorted(starts, reverse=True) and len(starts) >= len(HOSTS)  # every fault alarms
    assert {i["entity"] for i in document["incidents"]} == set(HOSTS)
    assert [f["entity"] for f in document["failed"]] == ["broken"]


@pytest.fixture(scope="module")
def plain(fleet_data, tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """Each host's model from a plain fit (workflows.fit_model, as `faultgraph fit`), BLAS
    on one thread as in the fleet's tasks (more threads change the last bits)."""
    out = tmp_path_factory.mktemp("plain")
    arrays = {}
    for host in HOSTS:
        frame = workflows.load_metrics(fleet_data / "normal" / f"{host}.csv")
        with pinned_blas():
            workflows.fit_model(frame, FitConfig()).save(out / host)
        arrays[host] = _arrays(out / host)
    return arrays


def _cli(*args: str):
    return runner.invoke(app, ["fleet", *args], catch_exceptions=False)


def test_inline_library_fit_detect_explain(fleet_data, plain, tmp_path):
    models, scores, rca = tmp_path / "models", tmp_path / "scores", tmp_path / "rca"
    result = fleet_fit(fleet_data / "normal", models, n_workers=0)
    assert result.counts() == {"fitted": 4, "failed": 1}
    assert result.failed[0].entity == "broken" and "InvalidInputError" in result.failed[0].error
    detected = fleet_detect(models, fleet_data / "recent", scores, n_workers=0)
    _check_fleet(fleet_data, models, scores, plain)
    assert detected.failed[0].entity == "broken"
    explained = fleet_explain(models, fleet_data / "recent", scores, rca, n_workers=0, limit=2)
    index = json.loads((rca / "explanations.json").read_text())["explanations"]
    assert [e["incident"] for e in index] == [0, 1]
    for entry in index:
        doc = json.loads(Path(entry["file"]).read_text())
        assert doc["window"] == [entry["start"], entry["end"]] and doc["causes"]
    assert explained.ok
    # an incidents.json edited by hand: its entry without a start is named, not a KeyError
    spec = json.loads((scores / "incidents.json").read_text())
    spec["incidents"][0].pop("start")
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(spec))
    with pytest.raises(InvalidInputError, match=r"entry 1 lacks start; it is not an incidents.json"):
        fleet_explain(models, fleet_data / "recent", edited, tmp_path / "rca2", n_workers=0)
    # a one-step incident is widened to min_steps rows, as `faultgraph explain` widens it
    spec = json.loads((scores / "incidents.json").read_text())
    spec["incidents"] = [dict(spec["incidents"][0], end=spec["incidents"][0]["start"])]
    short = tmp_path / "short.json"
    short.write_text(json.dumps(spec))
    fleet_explain(models, fleet_data / "recent", short, tmp_path / "rca3", n_workers=0)
    (entry,) = json.loads((tmp_path / "rca3" / "explanations.json").read_text())["explanations"]
    assert entry["error"] is None, entry
    window = json.loads(Path(entry["file"]).read_text())["window"]
    assert window[0] == spec["incidents"][0]["start"] and window[1] != window[0]
    # an entity whose model is missing keeps its incidents in explanations.json, with the error
    spec = json.loads((scores / "incidents.json").read_text())
    gone = spec["incidents"][0]["entity"]
    shutil.copytree(models, tmp_path / "some-models")
    shutil.rmtree(tmp_path / "some-models" / gone)
    fleet_explain(tmp_path / "some-models", fleet_data / "recent", scores, tmp_path / "rca4", n_workers=0)
    index = json.loads((tmp_path / "rca4" / "explanations.json").read_text())["explanations"]
    assert len(index) == len(spec["incidents"])  # none left out
    lost = [e for e in index if e["entity"] == gone]
    assert lost and all(e["file"] is None and "not a faultgraph model folder" in e["error"] for e in lost)
    # a damaged model is not current: a rerun fits it again
    (models / "host-a" / "arrays.npz").write_bytes(b"junk")
    assert fleet_fit(fleet_data / "normal", models, n_workers=0).counts() == {"current": 3, "fitted": 1, "failed": 1}
    # a second run skips the current models; a changed file or --force refits
    again = fleet_fit(fleet_data / "normal", models, n_workers=0)
    assert again.counts() == {"current": 4, "failed": 1}
    changed = tmp_path / "changed"
    shutil.copytree(fleet_data / "normal", changed)
    frame = pd.read_csv(changed / "host-b.csv", index_col=0)
    write_csv_atomic(changed / "host-b.csv", frame.iloc[:-10], "%.10g")
    third = fleet_fit(changed, models, n_workers=0)
    assert {o.entity: o.status for o in third.outcomes if o.ok} == {"host-a": "current", "host-b": "fitted",
                                                                    "host-c": "current", "host-d": "current"}
    assert fleet_fit(fleet_data / "normal", models, n_workers=0, force=True).counts() == {"fitted": 4, "failed": 1}


def test_long_file_with_an_entity_column(fleet_data, tmp_path):
    frames = [pd.read_csv(fleet_data / "normal" / f"{h}.csv").assign(host=h) for h in HOSTS[:2]]
    long = pd.concat(frames, ignore_index=True)
    long.to_csv(tmp_path / "all.csv", index=False)
    result = fleet_fit(tmp_path / "all.csv", tmp_path / "models", entity_column="host", n_workers=0)
    assert result.counts() == {"fitted": 2}
    for h in HOSTS[:2]:  # the split file holds exactly the host's rows, and its model is a plain fit of them
        split = workflows.load_metrics(tmp_path / "models" / ".inputs" / f"{h}.csv")
        pd.testing.assert_frame_equal(split, workflows.load_metrics(fleet_data / "normal" / f"{h}.csv"))
    with pytest.raises(InvalidInputError, match="entity_column 'pod' is not a column"):
        fleet_fit(tmp_path / "all.csv", tmp_path / "models", entity_column="pod", n_workers=0)
    with pytest.raises(InvalidInputError, match="is a file; give a folder"):
        fleet_fit(tmp_path / "all.csv", tmp_path / "models", n_workers=0)


def test_listing_and_bad_sources(fleet_data, tmp_path):
    names = [e for e, _ in list_entities(fleet_data / "normal")]
    assert names == ["broken", *HOSTS]  # notes.md is no metrics file
    assert list_entities(f"file://{fleet_data / 'normal'}")[1][1].endswith("host-a.csv")
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "a.parquet").write_text("")
    with pytest.raises(InvalidInputError, match="holds no metrics files.*entity 'a' has 2 files"):
        list_entities(tmp_path)  # its only entity has two files: nothing is left to run
    with pytest.raises(InvalidInputError, match="does not exist"):
        list_entities(tmp_path / "nowhere")
    with pytest.raises(InvalidInputError, match="holds no metrics files"):
        list_entities(fleet_data / "empty" if (fleet_data / "empty").mkdir() is None else None)


def test_cli_on_a_local_cluster(fleet_data, plain, tmp_path):
    from distributed import LocalCluster

    models, scores = tmp_path / "models", tmp_path / "scores"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        fit = _cli("fit", str(fleet_data / "normal"), "--out", str(models), "--scheduler", cluster.scheduler_address,
                   "--json")
        assert fit.exit_code == 1  # the broken host
        outcome = json.loads(fit.stdout)
        assert outcome["counts"] == {"fitted": 4, "failed": 1}
        detect = _cli("detect", str(models), str(fleet_data / "recent"), "--out", str(scores),
                      "--scheduler", cluster.scheduler_address)
        assert detect.exit_code == 1 and "broken" in detect.stderr
    _check_fleet(fleet_data, models, scores, plain)


@pytest.fixture
def dask_processes(tmp_path):
    """`dask scheduler --port 0` and one `dask worker`, separate processes on 127.0.0.1,
    stopped afterwards; yields the scheduler's address."""
    dask = str(Path(sys.executable).with_name("dask"))
    file = tmp_path / "scheduler.json"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                  ":0", "--no-dashboard", "--scheduler-file", str(file)], **quiet)
    processes = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        worker = subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard"], **quiet)
        processes.append(worker)
        from distributed import Client

        with Client(address) as c:
            c.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for p in reversed(processes):
            p.terminate()
        for p in reversed(processes):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_cli_on_an_existing_cluster(fleet_data, plain, tmp_path, dask_processes, monkeypatch):
    models, scores = tmp_path / "models", tmp_path / "scores"
    monkeypatch.setenv("FAULTGRAPH_SCHEDULER", dask_processes)  # no --scheduler: the environment names it
    fit = _cli("fit", str(fleet_data / "normal"), "--out", str(models))
    assert fit.exit_code == 1 and "broken: InvalidInputError" in fit.stderr
    detect = _cli("detect", str(models), str(fleet_data / "recent"), "--out", str(scores), "--json")
    assert json.loads(detect.stdout)["counts"] == {"scored": 4, "failed": 1}
    _check_fleet(fleet_data, models, scores, plain)
    explain = _cli("explain", str(models), str(fleet_data / "recent"), str(scores), "--out", str(tmp_path / "rca"),
                   "--limit", "3", "--scheduler", dask_processes)
    assert explain.exit_code == 0, explain.stderr
    assert len(json.loads((tmp_path / "rca" / "explanations.json").read_text())["explanations"]) == 3


def test_docs_examples_run(tmp_path):
    """docs/fleet.md: its bash block (the three commands), then its Python block."""
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "fleet.md").read_text()
    bash = re.findall(r"```bash\n(.*?)```", text, re.S)
    python = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(bash) == 1 and len(python) == 1
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OPENBLAS_NUM_THREADS": "1"}
    env.pop("FAULTGRAPH_SCHEDULER", None)
    proc = subprocess.run(["bash", "-e", "-c", bash[0]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = json.loads((tmp_path / "fleet" / "scores" / "incidents.json").read_text())
    assert document["incidents"] and {i["entity"] for i in document["incidents"]} <= {"host-1", "host-2", "host-3"}
    assert (tmp_path / "fleet" / "rca" / "explanations.json").exists()
    proc = subprocess.run([sys.executable, "-c", python[0]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fleet fit: 3 entities (3 current)" in proc.stdout  # the models of the bash block are current


def test_cli_bad_source_is_one_line_and_exit_2(tmp_path):
    result = _cli("fit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "models"), "--workers", "0")
    assert result.exit_code == 2
    assert "error: source" in result.stderr and "does not exist" in result.stderr
    (tmp_path / "m.csv").write_text("timestamp,cpu,host\n0,1,a\n")
    result = _cli("detect", str(tmp_path / "models"), str(tmp_path / "m.csv"), "--out", str(tmp_path / "s"),
                  "--workers", "0")
    assert result.exit_code == 2 and "MODELS_DIR" in result.stderr and "is no folder" in result.stderr
    (tmp_path / "models").mkdir()
    result = _cli("detect", str(tmp_path / "models"), str(tmp_path / "m.csv"), "--out", str(tmp_path / "s"),
                  "--entity-column", "pod", "--workers", "0")
    assert result.exit_code == 2 and "--entity-column 'pod' is not a column" in result.stderr
    result = _cli("fit", str(tmp_path), "--out", str(tmp_path / "m.csv"), "--workers", "0")
    assert result.exit_code == 2 and "--out" in result.stderr and "is an existing file" in result.stderr
    (tmp_path / "src").mkdir()
    result = _cli("detect", str(tmp_path / "models"), str(tmp_path / "src"), "--out", str(tmp_path / "src"),
                  "--workers", "0")
    assert result.exit_code == 2 and "would write into SOURCE" in result.stderr


def test_fsspec_urls_end_to_end(fleet_data, plain):
    """memory:// stands for an object store (s3://, gs://): files are read through fsspec
    and models and scores uploaded, fleet.json last (in this process: n_workers=0)."""
    import io

    import fsspec

    fs = fsspec.filesystem("memory")
    for host in HOSTS[:2]:
        for folder in ("normal", "recent"):
            fs.pipe(f"/fleet/{folder}/{host}.csv", (fleet_data / folder / f"{host}.csv").read_bytes())
    try:
        fitted = fleet_fit("memory://fleet/normal", "memory://fleet/models", n_workers=0)
        assert fitted.counts() == {"fitted": 2}
        assert sorted(fs.ls("/fleet/models/host-a", detail=False)) == [
            "/fleet/models/host-a/arrays.npz", "/fleet/models/host-a/fleet.json", "/fleet/models/host-a/model.json"]
        with np.load(io.BytesIO(fs.cat("/fleet/models/host-a/arrays.npz"))) as z:
            for name, value in plain["host-a"].items():
                np.testing.assert_array_equal(z[name], value)
        assert fleet_fit("memory://fleet/normal", "memory://fleet/models", n_workers=0).counts() == {"current": 2}
        scored = fleet_detect("memory://fleet/models", "memory://fleet/recent", "memory://fleet/scores", n_workers=0)
        assert scored.ok and fs.exists("/fleet/scores/host-b.csv")
        assert json.loads(fs.cat("/fleet/scores/incidents.json"))["incidents"]
    finally:
        fs.rm("/fleet", recursive=True)


def test_entity_names_that_a_store_would_expand_are_refused():
    from faultgraph.errors import InvalidInputError
    from faultgraph.fleet.storage import check_entity_name

    for good in ("web-1", "host_7.example", "pod a"):
        assert check_entity_name(good, "test") == good
    for bad in ("*", "web[1]", "a?b", "../x", "a/b", ".hidden", " web", ""):
        with pytest.raises(InvalidInputError, match="cannot name a folder"):
            check_entity_name(bad, "test")


# --- an operator's pass: options, odd files in SOURCE, reruns, exit status --------------------

@pytest.fixture(scope="module")
def two_models(fleet_data, tmp_path_factory) -> Path:
    """models/host-a and models/host-b, fitted once (in this process) from fleet_data."""
    models = tmp_path_factory.mktemp("two") / "models"
    source = models.parent / "normal"
    source.mkdir()
    for host in HOSTS[:2]:
        shutil.copy(fleet_data / "normal" / f"{host}.csv", source / f"{host}.csv")
    assert fleet_fit(source, models, n_workers=0).counts() == {"fitted": 2}
    return models


def _folder(tmp_path: Path, fleet_data: Path, hosts=HOSTS[:1], kind: str = "normal") -> Path:
    """A source folder holding copies of ``hosts``' files of fleet_data/<kind>."""
    folder = tmp_path / kind
    folder.mkdir(exist_ok=True)
    for host in hosts:
        shutil.copy(fleet_data / kind / f"{host}.csv", folder / f"{host}.csv")
    return folder


@pytest.mark.parametrize(("command", "option", "value", "message"), [
    ("fit", "--threshold", "-1", "--threshold must be >= 0, got -1.0"),
    ("fit", "--threshold", "nan", "--threshold must be a finite number >= 0, got nan"),
    ("fit", "--lambda1", "-0.5", "--lambda1 must be >= 0, got -0.5"),
    ("fit", "--risk", "2", "--risk must be a number in (0, 1)"),
    ("fit", "--resample", "bogus", "--resample must be a duration such as '1min' or '30s', or a number of seconds"),
    ("detect", "--resample", "-5", "--resample must be positive (a duration such as '1min', or a number of seconds)"),
    ("explain", "--resample", "0", "--resample must be positive (a duration such as '1min', or a number of seconds)"),
])
def test_bad_options_are_refused_before_any_work(fleet_data, two_models, tmp_path, command, option, value, message):
    out = tmp_path / "out"
    source = str(fleet_data / "recent")
    args = {"fit": [str(fleet_data / "normal")], "detect": [str(two_models), source],
            "explain": [str(two_models), source, str(tmp_path / "incidents.json")]}[command]
    result = _cli(command, *args, "--out", str(out), option, value, "--workers", "0")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr and value in result.stderr
    assert not out.exists()  # nothing done


def test_bad_config_from_python_is_refused_before_any_work(fleet_data, tmp_path):
    from faultgraph.config import DetectorConfig, ExplainConfig

    bad = FitConfig(detector=DetectorConfig(method="foo"))
    with pytest.raises(InvalidInputError, match=r"method must be one of 'dagma', 'notears'; got 'foo'"):
        fleet_fit(fleet_data / "normal", tmp_path / "models", config=bad, n_workers=0)
    with pytest.raises(InvalidInputError, match=r"bootstrap must be 0 \(one graph\) or an integer from 2"):
        fleet_fit(fleet_data / "normal", tmp_path / "models", config=FitConfig(label="y", bootstrap=1), n_workers=0)
    with pytest.raises(InvalidInputError, match=r"max_gap must be"):
        fleet_fit(fleet_data / "normal", tmp_path / "models", config=FitConfig(detector=DetectorConfig(max_gap=-1)),
                  n_workers=0)
    with pytest.raises(InvalidInputError, match=r"merge_gap must be .*>= 0.*got -1"):
        fleet_detect(tmp_path, fleet_data / "recent", tmp_path / "scores", merge_gap=-1, n_workers=0)
    with pytest.raises(InvalidInputError, match=r"min_steps must be .*>= 1.*got 0"):
        fleet_explain(tmp_path, fleet_data / "recent", tmp_path, tmp_path / "rca", config=ExplainConfig(min_steps=0),
                      n_workers=0)
    assert not (tmp_path / "models").exists() and not (tmp_path / "scores").exists()


def test_symlinked_files_are_followed_and_broken_links_named(fleet_data, tmp_path):
    source = _folder(tmp_path, fleet_data)
    (source / "host-b.csv").symlink_to(fleet_data / "normal" / "host-b.csv")
    (source / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    assert [e for e, _ in list_entities(source)] == ["host-a", "host-b"]
    result = _cli("fit", str(source), "--out", str(tmp_path / "models"), "--workers", "0")
    assert result.exit_code == 1  # a metrics file was left out
    assert "2 entities (2 fitted)" in result.stderr
    line, = [x for x in result.stderr.splitlines() if "gone.csv" in x]
    assert line.startswith("skipped file 'gone.csv'") and "symbolic link" in line and "does not exist" in line
    assert (tmp_path / "models" / "host-b" / "model.json").exists()


def test_a_badly_named_file_is_skipped_and_the_others_run(fleet_data, tmp_path):
    source = _folder(tmp_path, fleet_data)
    shutil.copy(source / "host-a.csv", source / "web[1].csv")
    result = _cli("fit", str(source), "--out", str(tmp_path / "models"), "--workers", "0", "--json")
    assert result.exit_code == 1
    outcome = json.loads(result.stdout)
    assert outcome["counts"] == {"fitted": 1} and not outcome["ok"]
    assert [(s["file"], s["entity"]) for s in outcome["skipped"]] == [("web[1].csv", "web[1]")]
    line, = result.stderr.strip().splitlines()
    assert line.startswith("skipped file 'web[1].csv': entity name 'web[1]' cannot name a folder")
    assert (tmp_path / "models" / "host-a" / "model.json").exists()
    (source / "host-a.csv").unlink()  # nothing usable left: refused, with the reason
    with pytest.raises(InvalidInputError, match=r"holds no metrics files .*skipped 'web\[1\].csv': entity name"):
        list_entities(source)


def test_only_metrics_files_are_entities(fleet_data, tmp_path):
    source = _folder(tmp_path, fleet_data)
    for name in ("README", "notes.txt", "config.json", ".hidden.csv"):
        (source / name).write_text("not metrics\n")
    (source / "archive.csv").mkdir()  # a folder is no file
    assert [e for e, _ in list_entities(source)] == ["host-a"]
    # a .json that is a Prometheus export is an entity; config.json above is not
    export = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "cpu"}, "values": [[1700000000 + 15 * k, str(k % 7)] for k in range(5)]}]}}
    (source / "host-p.json").write_text(json.dumps(export))
    assert [e for e, _ in list_entities(source)] == ["host-a", "host-p"]
    (source / "host-p.json").unlink()
    result = _cli("fit", str(source), "--out", str(tmp_path / "models"), "--workers", "0")
    assert result.exit_code == 0, result.stderr
    line, = [x for x in result.stderr.splitlines() if x.startswith("ignored")]
    assert line.startswith("ignored 3 files of SOURCE that are no metrics file ('README', 'config.json', "
                           "'notes.txt')")


def test_long_entity_names_are_skipped_with_a_clear_line(fleet_data, tmp_path):
    source = _folder(tmp_path, fleet_data)
    long_name = "h" * 240
    shutil.copy(source / "host-a.csv", source / f"{long_name}.csv")
    result = _cli("fit", str(source), "--out", str(tmp_path / "models"), "--workers", "0")
    assert result.exit_code == 1 and "OSError" not in result.stderr
    assert "1 entities (1 fitted)" in result.stderr
    line, = [x for x in result.stderr.splitlines() if x.startswith("skipped")]
    assert "(240 bytes) is too long; at most 200 bytes" in line and len(line) < 240
    frame = pd.read_csv(source / "host-a.csv")
    pd.concat([frame.assign(host="x" * 300), frame.assign(host="ok")]).to_csv(tmp_path / "all.csv", index=False)
    split = fleet_fit(tmp_path / "all.csv", tmp_path / "split-models", entity_column="host", n_workers=0)
    assert split.counts() == {"fitted": 1} and not split.ok
    assert "(300 bytes) is too long" in split.skipped[0]["reason"]


def test_reruns_leave_no_stale_outputs(fleet_data, two_models, tmp_path):
    recent = _folder(tmp_path, fleet_data, HOSTS[:2], "recent")
    scores, rca = tmp_path / "scores", tmp_path / "rca"
    assert fleet_detect(two_models, recent, scores, n_workers=0).ok
    assert fleet_explain(two_models, recent, scores, rca, n_workers=0).ok
    before = sorted(p.relative_to(rca).as_posix() for p in rca.rglob("*.rca.json"))
    assert {p.split("/")[0] for p in before} == {"host-a", "host-b"}
    (scores / "mine.csv").write_text("a,b\n1,2\n")  # files the fleet did not write stay
    (rca / "host-a" / "notes.txt").write_text("mine\n")
    (recent / "host-b.csv").unlink()  # host-b is gone from SOURCE
    again = fleet_detect(two_models, recent, scores, n_workers=0)
    assert again.removed == ("host-b.csv",)
    assert sorted(p.name for p in scores.iterdir()) == ["host-a.csv", "incidents.json", "mine.csv"]
    assert json.loads((scores / "incidents.json").read_text())["files"] == ["host-a.csv"]
    explained = fleet_explain(two_models, recent, scores, rca, n_workers=0, limit=1)
    after = sorted(p.relative_to(rca).as_posix() for p in rca.rglob("*.rca.json"))
    assert after == ["host-a/incident-0.rca.json"] and set(explained.removed) == set(before) - set(after)
    assert (rca / "host-a" / "notes.txt").exists() and not (rca / "host-b").exists()
    assert json.loads((rca / "explanations.json").read_text())["files"] == after
    # an entity that fails this time loses the scores of its last run: they are not this run's
    shutil.copy(fleet_data / "recent" / "host-b.csv", recent / "host-b.csv")
    fleet_detect(two_models, recent, scores, n_workers=0)
    assert (scores / "host-b.csv").exists()
    (recent / "host-b.csv").write_text("timestamp,cpu\n0,1.0\n1,oops\n")
    failed = fleet_detect(two_models, recent, scores, n_workers=0)
    assert [o.entity for o in failed.failed] == ["host-b"] and failed.removed == ("host-b.csv",)
    assert not (scores / "host-b.csv").exists()


def test_a_stale_name_that_is_a_fresh_one_in_another_case_is_kept(tmp_path):
    """On a disk that ignores case (macOS, Windows) last run's Web.csv is this run's web.csv:
    deleting it would delete the fresh file."""
    from faultgraph.fleet.jobs import _is_scores_file, _remove_stale

    for name in ("Web.csv", "web.csv", "old.csv"):  # on this disk, two files stand for one
        (tmp_path / name).write_text("a\n1\n")
    removed, kept = _remove_stale(str(tmp_path), ["Web.csv", "old.csv"], {"web.csv"}, _is_scores_file)
    assert removed == ["old.csv"] and kept == ["Web.csv"] and (tmp_path / "Web.csv").exists()


def test_workers_and_scheduler_precedence(fleet_data, tmp_path, monkeypatch):
    """The command line wins over $FAULTGRAPH_SCHEDULER; --workers with --scheduler is refused."""
    source = _folder(tmp_path, fleet_data)
    result = _cli("fit", str(source), "--out", str(tmp_path / "m"), "--workers", "0", "--scheduler", "tcp://h:1")
    assert result.exit_code == 2 and "give one of them" in result.stderr
    assert not (tmp_path / "m").exists()
    monkeypatch.setenv("FAULTGRAPH_SCHEDULER", "tcp://127.0.0.1:9")  # nothing listens there
    result = _cli("fit", str(source), "--out", str(tmp_path / "m"), "--workers", "1")  # a local cluster of 1
    assert result.exit_code == 0, result.stderr
    assert "--workers 1: $FAULTGRAPH_SCHEDULER ('tcp://127.0.0.1:9') is not used" in result.stderr
    assert (tmp_path / "m" / "host-a" / "model.json").exists()
    for command in ("fit", "detect", "explain"):
        text = " ".join(_cli(command, "--help").stdout.split())
        assert "--scheduler, else --workers" in text and "the command line wins over the environment" in text
        assert "Exit status: 0 everything done; 1 done, but" in text


def test_a_failed_incident_fails_the_run(fleet_data, two_models, tmp_path):
    recent = _folder(tmp_path, fleet_data, HOSTS[:1], "recent")
    scores = tmp_path / "scores"
    fleet_detect(two_models, recent, scores, n_workers=0)
    spec = json.loads((scores / "incidents.json").read_text())
    spec["incidents"].append(dict(spec["incidents"][0], start=10 ** 6, end=10 ** 6))  # outside the data
    (scores / "incidents.json").write_text(json.dumps(spec))
    result = _cli("explain", str(two_models), str(recent), str(scores), "--out", str(tmp_path / "rca"),
                  "--workers", "0")
    assert result.exit_code == 1
    n = len(spec["incidents"])
    assert f"1 of {n} incidents could not be explained" in result.stderr
    assert f"incident {n - 1} of host-a: InvalidInputError: window" in result.stderr
    as_json = _cli("explain", str(two_models), str(recent), str(scores), "--out", str(tmp_path / "rca"),
                   "--workers", "0", "--json")
    document = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and not document["ok"] and len(document["failed_incidents"]) == 1


def test_an_entity_with_two_files_is_skipped_and_the_others_go_on(fleet_data, tmp_path):
    """web-01.csv beside web-01.parquet: neither is read (which one is meant is the user's to
    say), both are listed with why, the other entities are fitted, and the exit status is 1."""
    source = _folder(tmp_path, fleet_data, HOSTS[:2])
    shutil.copy(source / f"{HOSTS[0]}.csv", source / f"{HOSTS[0]}.txt.csv")  # another entity: fine
    pd.read_csv(source / f"{HOSTS[1]}.csv").to_parquet(source / f"{HOSTS[1]}.parquet")
    listing = scan_source(source)
    assert [e for e, _ in listing.entities] == [HOSTS[0], f"{HOSTS[0]}.txt"]
    assert [s["file"] for s in listing.skipped] == [f"{HOSTS[1]}.csv", f"{HOSTS[1]}.parquet"]
    assert all(f"entity '{HOSTS[1]}' has 2 files" in s["reason"] for s in listing.skipped)
    result = _cli("fit", str(source), "--out", str(tmp_path / "m"), "--workers", "0")
    assert result.exit_code == 1, result.stderr
    assert f"skipped file '{HOSTS[1]}.parquet': entity '{HOSTS[1]}' has 2 files" in result.stderr
    assert (tmp_path / "m" / HOSTS[0] / "model.json").exists() and not (tmp_path / "m" / HOSTS[1]).exists()
