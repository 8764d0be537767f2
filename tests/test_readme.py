"""Every example in the README and the reference pages it moved to (docs/cli.md,
docs/python.md, docs/services.md) runs: the shell commands with the output they show,
the prior file, the Python."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from faultgraph.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The reference, in the order its examples build on each other.
REFERENCE = (ROOT / "docs" / "cli.md", ROOT / "docs" / "python.md")


def _blocks(lang: str, pages: tuple[Path, ...] = REFERENCE) -> list[str]:
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_own_metrics_in_five_minutes(tmp_path, monkeypatch):
    """The README's walk-through: each command runs, in order, and prints what it shows
    (the ```text block after it); at most five commands from the CSV to the report."""
    monkeypatch.chdir(tmp_path)
    text = README.read_text(encoding="utf-8")
    steps = re.findall(r"```bash\n(.*?)```\s*```text\n(.*?)```", text, flags=re.S)
    commands = [line for block, _ in steps for line in block.splitlines() if line.startswith("faultgraph ")]
    assert len(commands) <= 5 and any("--html" in c for c in commands)
    runner = CliRunner()
    for block, shown in steps:
        (line,) = [x for x in block.splitlines() if x.startswith("faultgraph ")]
        result = runner.invoke(app, shlex.split(line)[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        printed = result.output.splitlines()
        for expected in shown.strip().splitlines():
            assert expected in printed, f"{line}: README shows {expected!r}; printed:\n{result.output}"
    assert (tmp_path / "report.html").exists() and (tmp_path / "incidents.json").exists()
    for link in re.findall(r"\]\((docs/[^)#]+)\)", text):  # the pages it sends a reader to exist
        assert (ROOT / link).is_file(), link


def test_services_page_runs_and_prints_what_it_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = ROOT / "docs" / "services.md"
    (code,) = _blocks("python", (page,))
    shown = [b for b in _blocks("text", (page,)) if b.startswith("{")][0]
    yaml_block = _blocks("yaml", (page,))[0]
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(page), "exec"), {})  # noqa: S102 - our own documentation
    assert out.getvalue() == shown
    from faultgraph.services import load_service_map

    (tmp_path / "map.yaml").write_text(yaml_block)  # the YAML shown is the one the code writes
    assert load_service_map(tmp_path / "map.yaml").rules == load_service_map("services.yaml").rules


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
    exec(compile(code, "docs/python.md", "exec"), {})
    out = capsys.readouterr().out
    assert "SHD" in out and "edges" in out
    assert "ATE(a -> c) = +6.0" in out or "ATE(a -> c) = +5.9" in out
    assert "['a', 'b']" in out and "a -> b -> c" in out


def test_readme_python_root_cause_example_runs(capsys):
    code = _python_block("from faultgraph.rca import explain, step_scores")
    exec(compile(code, "docs/cli.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['s9_latency', 's9_errors', 's5_latency'] ['s9']"
    assert out[1] == "s9_latency 1530 s9_latency (1530)"  # the injected metric, broken at the injection
    assert out[2] == "['s9_latency', 's9_latency', 's9_latency']" and out[3] == "1530"
