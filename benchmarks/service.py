"""Reliability of `faultgraph serve`: load, a crash, and hostile payloads.

Reproduce: python benchmarks/service.py --out benchmarks/results/service.md

A 50-metric model (a simulated 10-service system, `simulate_incident(services=10)`) is
served from a metrics file with the SQLite store, two workers, by a real server process
(`python -m faultgraph.service serve`) on 127.0.0.1:

1. load: 500 distinct alerts in 10 bursts of 50, sent by 20 concurrent clients (one alert a
   request, as Alertmanager's webhook), 10 alerts of each burst re-sent in the next one (as
   Alertmanager re-sends every group_interval); webhook-to-`done` times from the client's
   send to the store's `finished_at` (one clock);
2. crash: the same, with `kill -9` of the server during the third burst (the last but one if
   fewer) and a restart on the same store; clients retry refused requests (as Alertmanager
   does);
3. bad payloads: 50 malformed or hostile requests (wrong types, 10 MB bodies, unknown
   versions, broken JSON, SQL-looking strings in labels); the store is checked afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, report_args, write_report  # noqa: E402

TOKEN = "bench-token"
T0 = 1_700_000_000
STEP = 15
ALERTS, BURST, CLIENTS, RESENT = 500, 50, 20, 10


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_case(root: Path) -> dict:
    from faultgraph.detect import CausalDetector
    from faultgraph.report.demo import SERVICE_TIERS
    from faultgraph.simulate import simulate_incident

    inc = simulate_incident(services=10, random_state=7)
    frame = pd.concat([inc.normal, inc.anomalous])
    frame.index = pd.Index(T0 + STEP * frame.index.to_numpy(), name="timestamp")
    CausalDetector(prior=SERVICE_TIERS).fit(frame.iloc[:len(inc.normal)]).save(root / "model")
    frame.to_csv(root / "metrics.csv")
    return {"fault_time": T0 + STEP * inc.fault_start, "metrics": frame.shape[1],
            "service": inc.root_cause_service}


class Server:
    def __init__(self, root: Path, db: Path) -> None:
        self.root, self.db, self.port = root, db, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import httpx

        env = {**os.environ, "FAULTGRAPH_TOKEN": TOKEN, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.log = (self.root / "server.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "faultgraph.service", "serve", "--model",
                                      str(self.root / "model"), "--data", str(self.root / "metrics.csv"),
                                      "--db", f"sqlite:///{self.db}", "--port", str(self.port), "--workers", "2",
                                      "--log-level", "warning"], env=env, stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        for _ in range(600):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start; see server.log")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def alert(i: int, fault_time: int) -> dict:
    start = fault_time + STEP * ((i % 60) - 20)  # windows from 20 steps before the fault to 40 after
    return {"version": "4", "status": "firing", "receiver": "faultgraph", "groupKey": f"{{}}:{{n=\"{i}\"}}",
            "alerts": [{"status": "firing", "labels": {"alertname": "Bench", "n": str(i)}, "annotations": {},
                        "startsAt": iso(start), "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"bench-{i:04d}"}]}


def run_load(server: Server, fault_time: int, alerts: int = ALERTS, kill_in_burst: int | None = None) -> dict:
    """Send the bursts; returns what each alert got: {i: (sent_at, id)} and the resends."""
    import httpx

    clients = [httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
               for _ in range(CLIENTS)]
    accepted: dict[int, tuple[float, int]] = {}
    resent: list[tuple[int, int]] = []
    statuses: list[int] = []
    retries = [0]

    def send(job: tuple[int, int, bool]) -> None:
        slot, i, again = job
        body = alert(i, fault_time)
        while True:
            sent = time.time()
            try:
                r = clients[slot % CLIENTS].post("/api/v1/alerts", json=body)
            except httpx.TransportError:  # the server is down: retry, as Alertmanager does
                retries[0] += 1
                time.sleep(0.2)
                continue
            statuses.append(r.status_code)
            if r.status_code >= 500:
                retries[0] += 1
                time.sleep(0.2)
                continue
            (incident,) = r.json()["incidents"]
            if again:
                resent.append((i, incident))
            else:
                accepted[i] = (sent, incident)
            return

    with ThreadPoolExecutor(CLIENTS) as pool:
        for b in range(alerts // BURST):
            jobs = [(k, i, False) for k, i in enumerate(range(b * BURST, (b + 1) * BURST))]
            if b:
                jobs += [(k, i, True) for k, i in enumerate(range((b - 1) * BURST, (b - 1) * BURST + RESENT))]
            futures = [pool.submit(send, job) for job in jobs]
            if kill_in_burst == b:
                time.sleep(0.15)  # mid-burst
                server.kill9()
                server.start()
            for f in futures:
                f.result()
            time.sleep(1.0)
    for c in clients:
        c.close()
    return {"accepted": accepted, "resent": resent, "statuses": statuses, "retries": retries[0]}


def collect(server: Server, expected: int, deadline: float = 600.0) -> list[dict]:
    import httpx

    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    end = time.monotonic() + deadline
    while True:
        rows, before = [], None
        while True:
            page = api.get("/api/v1/incidents", params={"limit": 500, **({"before": before} if before else {})}).json()
            rows += page["incidents"]
            if page["next"] is None:
                break
            before = page["next"]
        if (len(rows) >= expected and all(r["status"] in ("done", "failed") for r in rows)) or time.monotonic() > end:
            break
        time.sleep(0.5)
    full = [api.get(f"/api/v1/incidents/{r['id']}").json() for r in rows]
    api.close()
    return full


def summarise(name: str, sent: dict, rows: list[dict]) -> dict:
    by_id = {r["id"]: r for r in rows}
    accepted = sent["accepted"]
    lost = sum(1 for _, (_, incident) in accepted.items() if by_id.get(incident, {}).get("status") != "done")
    keys = [r["alert"]["fingerprint"] for r in rows]
    duplicated = len(keys) - len(set(keys))
    resend_mismatch = sum(1 for i, incident in sent["resent"] if accepted[i][1] != incident)
    latency = np.array([by_id[incident]["finished_at"] - t for t, incident in accepted.values()
                        if by_id.get(incident, {}).get("finished_at")])
    top = pd.Series([r["rca"]["services"][0]["service"] for r in rows if r.get("rca")]).value_counts()
    return {"run": name, "alerts sent": len(accepted), "re-sent": len(sent["resent"]),
            "incidents stored": len(rows), "done": sum(r["status"] == "done" for r in rows),
            "failed": sum(r["status"] == "failed" for r in rows), "lost": lost,
            "duplicated": duplicated + resend_mismatch, "5xx answers": sum(s >= 500 for s in sent["statuses"]),
            "client retries": sent["retries"],
            "p50 s": float(np.percentile(latency, 50)), "p99 s": float(np.percentile(latency, 99)),
            "max s": float(latency.max()), "top service": f"{top.index[0]} ({top.iloc[0]}/{top.sum()})"}


def bad_payloads() -> list[tuple[str, bytes, dict]]:
    good = alert(0, T0)
    a = good["alerts"][0]
    json_ct = {"Content-Type": "application/json"}
    cases: list[tuple[str, bytes, dict]] = []

    def with_alert(name: str, **changes) -> None:
        body = json.loads(json.dumps(good))
        body["alerts"][0].update(changes)
        cases.append((name, json.dumps(body).encode(), json_ct))

    def raw(name: str, body: bytes, headers: dict | None = None) -> None:
        cases.append((name, body, headers or json_ct))

    for version in ("3", "5", 4, None, "", "4.0", ["4"]):
        raw(f"version {version!r}", json.dumps({**good, "version": version}).encode())
    for sql in ("'; DROP TABLE faultgraph_incidents; --", "1 OR 1=1", "\" UNION SELECT * FROM faultgraph_schema --"):
        with_alert(f"SQL in labels, bad startsAt: {sql[:12]}", labels={"service": sql}, startsAt=sql)
        with_alert(f"SQL in fingerprint, bad status: {sql[:12]}", fingerprint=sql, status=sql)
        raw(f"SQL as version: {sql[:12]}", json.dumps({**good, "version": sql}).encode())
    for key, value in (("status", 1), ("status", "pending"), ("labels", []), ("labels", {"a": 1}),
                       ("labels", {"a": None}), ("annotations", "x"), ("startsAt", 1700000000),
                       ("startsAt", "2024-13-45T25:61:00Z"), ("startsAt", "yesterday"), ("startsAt", None),
                       ("endsAt", 5), ("fingerprint", {"$ne": None}), ("fingerprint", "f" * 200),
                       ("generatorURL", ["x"])):
        with_alert(f"alert {key} = {str(value)[:24]!r}", **{key: value})
    with_alert("resolved without end", status="resolved", endsAt="0001-01-01T00:00:00Z")
    with_alert("label value of 5000 characters", labels={"a": "x" * 5000})
    with_alert("300 labels", labels={f"l{i}": "v" for i in range(300)})
    raw("10 MB body", b"{" + b" " * 10_000_000 + b"}")
    raw("10 MB alerts list", json.dumps({**good, "alerts": [a] * 40_000}).encode())
    raw("10 MB chunked body (no Content-Length)", b"{" + b" " * 10_000_000 + b"}")
    raw("no alerts field", json.dumps({k: v for k, v in good.items() if k != "alerts"}).encode())
    raw("version as an object", json.dumps({**good, "version": {"$gt": ""}}).encode())
    raw("1001 alerts", json.dumps({**good, "alerts": [a] * 1001}).encode())
    raw("empty body", b"")
    raw("not JSON", b"alertname=x")
    raw("truncated JSON", json.dumps(good).encode()[:-7])
    raw("NaN", b'{"version": "4", "alerts": [], "x": NaN}')
    raw("deep nesting", b"[" * 50_000 + b"]" * 50_000)
    raw("a JSON list", json.dumps([good]).encode())
    raw("invalid UTF-8", b'{"version": "4", "alerts": ["\xff\xfe"]}')
    raw("alerts is an object", json.dumps({**good, "alerts": {"0": a}}).encode())
    raw("alerts of numbers", json.dumps({**good, "alerts": [1, 2, 3]}).encode())
    raw("form content type", b"version=4", {"Content-Type": "application/x-www-form-urlencoded"})
    raw("lying Content-Length (raw socket)", json.dumps(good).encode(), {**json_ct, "Content-Length": "99999999999"})
    return cases[:50]


def raw_post(port: int, body: bytes, headers: dict) -> tuple[int, str]:
    """POST over a plain socket, headers as given; the answer's status and body."""
    lines = [f"POST /api/v1/alerts HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Authorization: Bearer {TOKEN}",
             "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, text = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), text.decode(errors="replace")[:90].replace("|", "/")


def run_bad(server: Server) -> tuple[list[dict], dict]:
    import httpx

    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    before = api.get("/api/v1/incidents", params={"limit": 500}).json()["incidents"]
    rows = []
    for name, body, headers in bad_payloads():
        if "raw socket" in name:  # httpx refuses to send a lying Content-Length
            status, text = raw_post(server.port, body, headers)
        elif "chunked" in name:
            r = api.post("/api/v1/alerts", content=(body[i:i + 65536] for i in range(0, len(body), 65536)),
                         headers=headers)
            status, text = r.status_code, r.text[:90].replace("|", "/")
        else:
            r = api.post("/api/v1/alerts", content=body, headers=headers)
            status, text = r.status_code, r.text[:90].replace("|", "/")
        rows.append({"payload": name, "status": status, "answer": text})
    after = api.get("/api/v1/incidents", params={"limit": 500}).json()["incidents"]
    # a valid alert whose labels look like SQL is accepted and stored as text
    sql = alert(999, T0)
    sql["alerts"][0]["labels"]["service"] = "'; DROP TABLE faultgraph_incidents; --"
    r = api.post("/api/v1/alerts", json=sql)
    stored = api.get(f"/api/v1/incidents/{r.json()['incidents'][0]}").json()
    health = api.get("/healthz").status_code
    api.close()
    return rows, {"before": len(before), "after": len(after), "same": before == after,
                  "sql label": r.status_code, "sql stored": stored["alert"]["labels"]["service"], "health": health}


def main() -> None:
    args, command = report_args(__doc__, "service.py", incidents=ALERTS)  # --incidents: alerts sent per run
    alerts = max(BURST * 2, args.incidents // BURST * BURST)
    kill = min(2, alerts // BURST - 1)
    root = Path(tempfile.mkdtemp(prefix="faultgraph-bench-"))
    load_before = os.getloadavg()[0]
    case = make_case(root)
    summaries, servers = [], []
    try:
        server = Server(root, root / "load.db")
        servers.append(server)
        server.start()
        sent = run_load(server, case["fault_time"], alerts)
        summaries.append(summarise("load", sent, collect(server, alerts)))
        bad, store = run_bad(server)
        server.stop()

        server = Server(root, root / "crash.db")
        servers.append(server)
        server.start()
        sent = run_load(server, case["fault_time"], alerts, kill_in_burst=kill)
        summaries.append(summarise(f"kill -9 in burst {kill + 1}, restart", sent, collect(server, alerts)))
        server.stop()
    finally:
        for s in servers:
            s.stop()
    import shutil
    import sqlite3

    checks = {}
    for name in ("load", "crash"):
        conn = sqlite3.connect(root / f"{name}.db")
        checks[name] = (conn.execute("PRAGMA integrity_check").fetchone()[0],
                        conn.execute("select version from faultgraph_schema").fetchone()[0])
        conn.close()
    shutil.rmtree(root, ignore_errors=True)
    load_after = os.getloadavg()[0]
    bad_frame = pd.DataFrame(bad)
    codes = bad_frame["status"].value_counts().sort_index()
    parts = [
        "# Service reliability: load, a crash, hostile payloads", "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} CPU cores, load average "
        f"{load_before:.1f} before and {load_after:.1f} after: other work shares the machine; BLAS pinned to one "
        f"thread). Server: `python -m faultgraph.service serve` on 127.0.0.1, 2 workers, **SQLite** store (WAL), a "
        f"{case['metrics']}-metric model (simulated 10-service system, injected fault at {case['service']}), "
        "metrics from a CSV file. Times: from the client's send to the store's `finished_at` (`done`: ranked; the "
        "HTML report is drawn after, at low priority, or on demand).", "",
        f"## Load and crash: {alerts} alerts, bursts of {BURST} from {CLIENTS} concurrent clients", "",
        f"Each burst also re-sends {RESENT} alerts of the previous one (Alertmanager's group_interval); a "
        "duplicate is a second incident for one alert or a re-send answered with another id. `lost`: an alert "
        "answered 202 whose incident is not `done`. In the crash run the server is killed (SIGKILL) 0.15 s into "
        f"burst {kill + 1} and restarted on the same store; clients retry what was refused, as Alertmanager does "
        "(its times include the restart).",
        "", markdown_table(pd.DataFrame(summaries), 3), "",
        f"Store after both runs: SQLite `PRAGMA integrity_check` = {checks['load'][0]!r} / {checks['crash'][0]!r}, "
        f"schema version {checks['load'][1]} / {checks['crash'][1]}.", "",
        f"## {len(bad)} malformed or hostile payloads", "",
        "Answers: " + ", ".join(f"{int(n)} × {code}" for code, n in codes.items()) +
        f"; 5xx: {int((bad_frame['status'] >= 500).sum())}; no answer: {int((bad_frame['status'] == 0).sum())}. "
        f"Incidents in the store before and after: {store['before']} and {store['after']} (unchanged: "
        f"{store['same']}); `/healthz` after: {store['health']}. A *valid* alert whose label reads "
        f"`{store['sql stored']}` is accepted ({store['sql label']}) and stored verbatim, as text.", "",
        markdown_table(bad_frame), "",
    ]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
