"""Every example in the README runs: the shell commands, the prior file and the Python."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from faultgraph.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_shell_commands_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prior.yaml").write_text(_blocks("yaml")[0])
    commands = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("faultgraph ")]
    assert len(commands) >= 4
    runner = CliRunner()
    for line in commands:
        args = shlex.split(line)[1:]
        result = runner.invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
    documented = json.loads(_blocks("json")[0])
    produced = json.loads((tmp_path / "graph.json").read_text())
    assert set(produced) == set(documented)
    assert set(produced["params"]) == set(documented["params"])
    assert set(produced["accuracy"]) == set(documented["accuracy"])
    documented = json.loads(_blocks("json")[1])
    produced = json.loads((tmp_path / "effects.json").read_text())
    assert set(produced) == set(documented)
    assert set(produced["scores"][0]) == set(documented["scores"][0])
    assert set(produced["scores"][0]["paths"][0]) == set(documented["scores"][0]["paths"][0])
    assert (tmp_path / "scores.csv").exists() and (tmp_path / "model" / "model.json").exists()
    documented = json.loads(_blocks("json")[2])
    produced = json.loads((tmp_path / "rca.json").read_text())
    assert set(produced) == set(documented)
    assert set(produced["causes"][0]) == set(documented["causes"][0])
    assert json.loads((tmp_path / "rca-baro.json").read_text())["method"] == "baro"
    steps = (tmp_path / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + 90 and set(steps[0].split(",")[1:]) == {c["metric"] for c in produced["causes"]}
    header = (tmp_path / "anomaly-scores.csv").read_text().splitlines()[0].split(",")
    assert header[1:4] == ["score", "anomaly", "background"] and header[4].startswith("residual:")


def _python_block(marker: str) -> str:
    """The README's Python example that holds ``marker``."""
    (code,) = [b for b in _blocks("python") if marker in b]
    return code


def test_readme_python_example_runs(capsys):
    code = _python_block("StructureLearner(")
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "SHD" in out and "edges" in out
    assert "ATE(a -> c) = +6.0" in out or "ATE(a -> c) = +5.9" in out
    assert "['a', 'b']" in out and "a -> b -> c" in out


def test_readme_python_root_cause_example_runs(capsys):
    code = _python_block("from faultgraph.rca import explain, step_scores")
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['s9_latency', 's9_errors', 's5_latency'] ['s9']"
    assert out[1] == "s9_latency 1530 s9_latency (1530)"  # the injected metric, broken at the injection
    assert out[2] == "['s9_latency', 's9_latency', 's9_latency']" and out[3] == "1530"
