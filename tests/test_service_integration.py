"""faultgraph serve with the real trio: Prometheus (a simulated incident backfilled with
``promtool tsdb create-blocks-from openmetrics``), Alertmanager (a rule on the backfilled
series routes to the service's webhook) and PostgreSQL (the store).

Each runs on 127.0.0.1 on an ephemeral port with a temporary data folder, and is stopped
by its fixture. Skipped, with the reason, where the Debian packages ``prometheus``,
``prometheus-alertmanager`` and ``postgresql`` are not installed (``make test`` installs
them when it can).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'faultgraph[serve]'")
httpx = pytest.importorskip("httpx")

PACKAGES = "(Debian packages prometheus, prometheus-alertmanager, postgresql; `make test` installs them when it can)"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None)
MISSING = [name for name, found in (("prometheus", PROMETHEUS), ("promtool", PROMTOOL),
                                    ("alertmanager", ALERTMANAGER), ("postgresql", PG_BIN)) if not found]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed {PACKAGES}")]

TOKEN = "integration-token"
STEP = 5  # seconds between the simulated samples
SEED = 4  # an error burst at s3 that the frontend's error rate shows (z > 6)
FAMILIES = ("traffic", "cpu", "memory", "latency", "errors")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, what: str, proc: subprocess.Popen | None = None, log: Path | None = None,
              deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: {log.read_text()[-3000:] if log else ''}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready at {url} after {deadline} s: {log.read_text()[-3000:] if log else ''}")


class Processes:
    """Processes started by a test, each stopped (TERM, then KILL) at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], **kwargs) -> tuple[subprocess.Popen, Path]:
        log = self.folder / f"{name}.log"
        proc = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kwargs)
        self.procs.append((name, proc))
        return proc, log

    def stop(self) -> None:
        started = time.monotonic()
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        print(f"stopped {', '.join(name for name, _ in self.procs)} in {time.monotonic() - started:.1f} s")


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop()


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own on 127.0.0.1 (trust auth), stopped afterwards."""
    root = Path(tempfile.mkdtemp(prefix="faultgraph-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:  # postgres refuses root: run it as the postgres user
        shutil.chown(root, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run([*as_pg, f"{PG_BIN}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_pg, f"{PG_BIN}/pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w",
                    "-t", "60", "start"], check=True, capture_output=True, timeout=120)
    try:
        subprocess.run([*as_pg, f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                        "faultgraph"], check=True, capture_output=True, timeout=60)
        yield f"postgresql://postgres@127.0.0.1:{port}/faultgraph"
    finally:
        subprocess.run([*as_pg, f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def openmetrics(frame: pd.DataFrame) -> str:
    """The frame (columns ``s<k>_<family>``, index Unix seconds) as OpenMetrics text: one
    family per kind of metric, the service as a label."""
    lines = []
    for family in FAMILIES:
        lines.append(f"# TYPE fg_{family} gauge")
        for column in [c for c in frame.columns if c.endswith(f"_{family}")]:
            service = column.rsplit("_", 1)[0]
            lines += [f'fg_{family}{{service="{service}"}} {v!r} {int(t)}'
                      for t, v in zip(frame.index.tolist(), frame[column].astype(float).tolist())]
    return "\n".join(lines) + "\n# EOF\n"


def test_alert_to_explained_incident_in_postgres(tmp_path, processes, postgres):
    from faultgraph.detect import CausalDetector
    from faultgraph.report.demo import SERVICE_TIERS
    from faultgraph.simulate import simulate_incident

    t0 = time.monotonic()

    def say(what: str) -> None:  # shown when the test fails: where the time went
        print(f"{time.monotonic() - t0:6.1f} s  {what}")

    inc = simulate_incident(services=5, fault_type="error_burst", random_state=SEED)
    frame = pd.concat([inc.normal, inc.anomalous])
    end = int(time.time())  # the newest sample is now: the alert rule sees the fault at once
    frame.index = pd.Index(end - STEP * (len(frame) - 1 - frame.index.to_numpy()), name="timestamp")
    fault_time = int(frame.index[inc.fault_start])
    CausalDetector(prior=SERVICE_TIERS).fit(frame.iloc[:len(inc.normal)]).save(tmp_path / "model")

    say("model fitted")
    # Prometheus: the incident backfilled, a z-score rule on the frontend's errors
    (tmp_path / "incident.om").write_text(openmetrics(frame))
    tsdb = tmp_path / "tsdb"
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp_path / "incident.om"),
                    str(tsdb)], check=True, capture_output=True, timeout=120)
    prom_port, am_port, service_port = free_port(), free_port(), free_port()
    z = 'fg_errors{service="s0"}'
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: faultgraph\n  interval: 1s\n  rules:\n  - alert: FrontendErrors\n"
        f"    expr: ({z} - avg_over_time({z}[1h] offset 10m)) / stddev_over_time({z}[1h] offset 10m) > 3\n"
        "    labels: {severity: page}\n    annotations: {summary: frontend errors far above the last hour}\n")
    (tmp_path / "prometheus.yml").write_text(
        f"global: {{evaluation_interval: 1s}}\nrule_files: [{tmp_path / 'rules.yml'}]\n"
        f"alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{am_port}']\n")
    (tmp_path / "alertmanager.yml").write_text(
        "route:\n  receiver: faultgraph\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n"
        "receivers:\n- name: faultgraph\n  webhook_configs:\n"
        f"  - url: http://127.0.0.1:{service_port}/api/v1/alerts\n    send_resolved: true\n"
        f"    http_config:\n      authorization: {{type: Bearer, credentials: {TOKEN}}}\n")
    (tmp_path / "QUERIES.yaml").write_text(
        f"step: {STEP}s\nqueries:\n" + "".join(
            f"  '{{service}}_{f}': {{query: 'fg_{f}', service_label: service}}\n" for f in FAMILIES))

    say("blocks written")
    # the service first, then Alertmanager, then Prometheus (whose rule fires at once)
    env = {**os.environ, "FAULTGRAPH_TOKEN": TOKEN, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    lookback = end - fault_time + 15  # the alert starts a few seconds from now: its window, at the fault
    service, service_log = processes.start("service", [
        sys.executable, "-m", "faultgraph.service", "serve", "--model", str(tmp_path / "model"),
        "--prometheus", f"http://127.0.0.1:{prom_port}", "--queries", str(tmp_path / "QUERIES.yaml"),
        "--db", postgres, "--host", "127.0.0.1", "--port", str(service_port), "--lookback", str(lookback),
        "--workers", "1", "--log-level", "warning"], env=env)
    wait_http(f"http://127.0.0.1:{service_port}/healthz", "faultgraph serve", service, service_log)
    say("service ready")
    am, am_log = processes.start("alertmanager", [
        ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
        f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="])
    wait_http(f"http://127.0.0.1:{am_port}/-/ready", "alertmanager", am, am_log)
    say("alertmanager ready")
    prom, prom_log = processes.start("prometheus", [
        PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tsdb}",
        f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1d",
        "--rules.alert.resend-delay=1s"])  # an alert sent before Alertmanager was discovered is resent soon
    wait_http(f"http://127.0.0.1:{prom_port}/-/ready", "prometheus", prom, prom_log)

    say("prometheus ready")
    # the alert reaches the service through Alertmanager and is explained
    api = httpx.Client(base_url=f"http://127.0.0.1:{service_port}", headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=10)
    deadline = time.monotonic() + 90
    incident = None
    while time.monotonic() < deadline:
        rows = api.get("/api/v1/incidents").json()["incidents"]
        if rows:
            incident = api.get(f"/api/v1/incidents/{rows[-1]['id']}").json()
            if incident["status"] in ("done", "failed"):
                break
        time.sleep(0.5)
    assert incident is not None, f"no alert reached the service: {am_log.read_text()[-2000:]}"
    assert incident["status"] == "done", incident.get("error")
    assert incident["alert"]["labels"]["alertname"] == "FrontendErrors"
    assert incident["rca"]["services"][0]["service"] == inc.root_cause_service == "s3"
    assert incident["rca"]["data"] == f"http://127.0.0.1:{prom_port}"

    say(f"incident explained: alert starts {incident['alert']['startsAt']}, stored "
        f"{incident['created_at'] - end:.1f} s, started {incident['started_at'] - end:.1f} s, done "
        f"{incident['finished_at'] - end:.1f} s after the newest sample")
    # it is in PostgreSQL
    import sqlalchemy as sa

    from faultgraph.service.store import SCHEMA_VERSION, engine_url

    engine = sa.create_engine(engine_url(postgres))
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select status, dedup_key from faultgraph_incidents")).all()
        version = conn.execute(sa.text("select version from faultgraph_schema")).scalar_one()
    engine.dispose()
    assert [s for s, _ in stored] == ["done"] and version == SCHEMA_VERSION and stored[0][1].startswith(
        incident["alert"]["fingerprint"])

    say("checked in PostgreSQL")
    # the HTML page, in headless Chromium
    page = api.get(f"/incidents/{incident['id']}")
    assert page.status_code == 200 and "s3" in page.text
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is not None:
        from test_report_browser import FLAGS, _png_pixels

        (tmp_path / "incident.html").write_text(page.text, encoding="utf-8")
        shot = tmp_path / "incident.png"
        subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1600",
                        f"--screenshot={shot}", (tmp_path / "incident.html").as_uri()], check=True,
                       capture_output=True, timeout=120)
        assert len(set(_png_pixels(shot))) > 50, "the screenshot is blank"

    say("screenshot taken")
    # fetch: the same reader writes a metrics file to fit on
    out = tmp_path / "healthy.parquet"
    subprocess.run([sys.executable, "-m", "faultgraph.service", "fetch", "--prometheus",
                    f"http://127.0.0.1:{prom_port}", "--queries", str(tmp_path / "QUERIES.yaml"),
                    "--start", str(end - 3600), "--end", str(fault_time - STEP), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    from faultgraph.workflows import load_metrics

    fetched = load_metrics(out)
    assert sorted(fetched.columns) == sorted(frame.columns)
    assert len(fetched) == (fault_time - STEP - end + 3600) // STEP + 1
    when = fetched.index[10]
    expected = frame.loc[int(when.timestamp())]
    assert (fetched.loc[when, expected.index] - expected).abs().max() < 1e-9
    say("fetched")


def test_postgres_store_dedups_concurrent_alerts_and_resumes(postgres):
    from test_service_unit import check_store

    check_store(postgres)


def test_postgres_store_of_version_1_is_upgraded(postgres):
    from test_service_unit import check_upgrade_from_version_1

    check_upgrade_from_version_1(postgres)
