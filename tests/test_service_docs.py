"""The examples of docs/service.md run: the serve command and the curl calls against it,
the Alertmanager snippet (amtool check-config where installed), QUERIES.yaml, the unit file."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'faultgraph[serve]'")
httpx = pytest.importorskip("httpx")

DOC = Path(__file__).resolve().parents[1] / "docs" / "service.md"
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def block(containing: str) -> str:
    found = [text for _, text in BLOCKS if containing in text]
    assert len(found) == 1, f"{len(found)} blocks of docs/service.md contain {containing!r}"
    return found[0]


def command(text: str) -> list[str]:
    """A shell example as one line, continuation backslashes joined."""
    return [line for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def test_alertmanager_snippet(tmp_path):
    text = block("webhook_configs")
    spec = yaml.safe_load(text)
    hook = spec["receivers"][0]["webhook_configs"][0]
    assert hook["url"].endswith("/api/v1/alerts") and hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    amtool = shutil.which("amtool")
    if amtool is not None:
        token = tmp_path / "token"
        token.write_text("x")
        path = tmp_path / "alertmanager.yml"
        path.write_text(text.replace("/etc/faultgraph/token", str(token)))
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_queries_example():
    from faultgraph.io.prometheus import read_queries

    spec = read_queries(yaml.safe_load(block("service_label: service")))
    assert spec.step == 15 and [q.metric for q in spec.queries] == [
        "frontend_latency", "checkout_cpu", "{service}_traffic", "{service}_errors"]
    assert spec.queries[2].name({"service": "cart"}) == "cart_traffic" and spec.queries[1].service == "checkout"


def test_unit_file_runs_the_serve_command(tmp_path):
    import configparser

    unit = block("ExecStart=")
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    assert " serve --model " in line and "--db sqlite:////" in line and "--host 127.0.0.1" in line
    sections = configparser.ConfigParser(interpolation=None, strict=True)
    sections.optionxform = str  # systemd's keys are case-sensitive
    sections.read_string(unit)
    # without [Install], `systemctl enable` has nothing to hook the unit to: it would not start at boot
    assert sections["Install"]["WantedBy"] == "multi-user.target"
    assert sections["Service"]["Restart"] == "always" and "network-online.target" in sections["Unit"]["After"]
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:  # systemd's own check, on a copy whose ExecStart exists here
        path = tmp_path / "faultgraph.service"
        path.write_text(unit.replace(line.split()[0], f"ExecStart={sys.executable}"))
        result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.fixture
def case(tmp_path):
    from faultgraph.detect import CausalDetector
    from faultgraph.simulate import simulate_incident

    inc = simulate_incident(services=3, random_state=1)
    import pandas as pd

    frame = pd.concat([inc.normal, inc.anomalous])
    frame.index = pd.Index(1_714_528_800 + 15 * frame.index.to_numpy(), name="timestamp")  # from 2024-05-01 02:00Z
    CausalDetector().fit(frame.iloc[:len(inc.normal)]).save(tmp_path / "model")
    frame.reset_index().to_parquet(tmp_path / "metrics.parquet", index=False)
    return tmp_path


def test_serve_and_curl_examples(case):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (serve,) = [c for c in command(block("--data metrics.parquet")) if "serve" in c]
    args = serve.split()
    assert args[:2] == ["faultgraph", "serve"]
    args = [sys.executable, "-m", "faultgraph.service", *args[1:]]  # the same command, without the script
    args[args.index("--port") + 1] = str(port)
    env = {**os.environ, "FAULTGRAPH_TOKEN": "doc-token", "OPENBLAS_NUM_THREADS": "1"}
    log = (case / "serve.log").open("wb")
    proc = subprocess.Popen(args, cwd=case, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise AssertionError((case / "serve.log").read_text())
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert (case / "incidents.db").exists()
        curls = [c.replace("8080", str(port)) for c in command(block("curl -s"))]
        post = curls[-1]
        out = subprocess.run(["bash", "-c", post], cwd=case, env=env, capture_output=True, text=True, timeout=60)
        incident = __import__("json").loads(out.stdout)["id"]
        for _ in range(300):
            got = httpx.get(f"http://127.0.0.1:{port}/api/v1/incidents/{incident}",
                            headers={"Authorization": "Bearer doc-token"}).json()
            if got["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert got["status"] == "done", got.get("error")
        for example in curls[:-1]:
            example = example.replace("/42", f"/{incident}")
            result = subprocess.run(["bash", "-c", example], cwd=case, env=env, capture_output=True, text=True,
                                    timeout=60)
            assert result.returncode == 0, result.stderr
        assert (case / "incident-42.html").read_text().lstrip().lower().startswith("<!doctype html")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    logged = (case / "serve.log").read_text()
    assert "POST /api/v1/incidents" in logged and "doc-token" not in logged  # requests logged, tokens never
