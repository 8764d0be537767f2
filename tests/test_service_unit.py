"""faultgraph serve without outside services: Alertmanager's v4 payload, window rules,
dedup, auth, the incident schema, hostile payloads, resume on start, the Prometheus
reader (on a mock transport) and the commands."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'faultgraph[serve]'")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from faultgraph.errors import InvalidInputError  # noqa: E402
from faultgraph.service import ServiceSettings, create_app  # noqa: E402
from faultgraph.service.alerts import (PayloadError, dedup_key, parse_payload, parse_request,  # noqa: E402
                                       parse_time, window_of)
from faultgraph.service.auth import authorized, bearer_token  # noqa: E402
from faultgraph.service.settings import read_tokens  # noqa: E402
from faultgraph.service.store import SCHEMA_VERSION, IncidentStore  # noqa: E402

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = 1_700_000_000  # the simulated data's first time (Unix seconds); 15 s steps
STEP = 15


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat().replace("+00:00", "Z")


# An Alertmanager webhook as its documentation describes version 4 (times in nanoseconds,
# the zero time for a firing alert's end).
FIRING = {
    "version": "4",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "faultgraph",
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {"alertname": "HighLatency", "severity": "page"},
    "commonAnnotations": {"summary": "frontend latency above SLO"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighLatency", "severity": "page", "service": "s0"},
        "annotations": {"summary": "frontend latency above SLO"},
        "startsAt": "2024-05-01T03:12:45.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
        "fingerprint": "c6b5d4d2f1e0a9b8",
    }],
}


def payload(**alert_changes):
    body = json.loads(json.dumps(FIRING))
    body["alerts"][0].update(alert_changes)
    if alert_changes.get("status") == "resolved":
        body["status"] = "resolved"
    return body


# --- payload parsing and window rules ------------------------------------------------------

def test_v4_payload_is_parsed():
    parsed = parse_payload(FIRING)
    assert parsed.status == "firing" and parsed.receiver == "faultgraph"
    (alert,) = parsed.alerts
    assert alert.firing and alert.fingerprint == "c6b5d4d2f1e0a9b8"
    assert alert.starts_at == datetime(2024, 5, 1, 3, 12, 45, 123456, tzinfo=timezone.utc)
    assert alert.ends_at is None  # Alertmanager's zero time
    assert alert.labels["service"] == "s0" and alert.annotations["summary"].startswith("frontend")


def test_times_with_offsets_and_no_fraction():
    assert parse_time("2024-05-01T05:12:45+02:00", "t") == datetime(2024, 5, 1, 3, 12, 45, tzinfo=timezone.utc)
    assert parse_time("2024-05-01T03:12:45Z", "t").microsecond == 0


def test_window_rules():
    firing = parse_payload(FIRING).alerts[0]
    assert window_of(firing) == (firing.starts_at, None)  # to the newest data while it fires
    start, end = window_of(firing, lookback=300)
    assert start == firing.starts_at - timedelta(seconds=300) and end is None
    resolved = parse_payload(payload(status="resolved", endsAt="2024-05-01T03:30:00Z")).alerts[0]
    assert window_of(resolved, 60) == (resolved.starts_at - timedelta(seconds=60),
                                       datetime(2024, 5, 1, 3, 30, tzinfo=timezone.utc))
    # a firing alert's endsAt in the future (Prometheus' validity horizon) is no end either
    horizon = parse_payload(payload(endsAt="2024-05-01T03:20:00Z")).alerts[0]
    assert window_of(horizon)[1] is None


def test_dedup_key_is_fingerprint_and_start():
    a = parse_payload(FIRING).alerts[0]
    again = parse_payload(payload()).alerts[0]
    later = parse_payload(payload(startsAt="2024-05-01T04:00:00Z")).alerts[0]
    other = parse_payload(payload(fingerprint="0000")).alerts[0]
    assert dedup_key(a) == dedup_key(again)
    assert len({dedup_key(a), dedup_key(later), dedup_key(other)}) == 3


@pytest.mark.parametrize("body, match", [
    ({**FIRING, "version": "3"}, "version must be '4'"),
    ({k: v for k, v in FIRING.items() if k != "version"}, "version must be '4'"),
    ([FIRING], "must be a JSON object"),
    ({**FIRING, "alerts": "x"}, "alerts must be a list"),
    (payload(status="pending"), r"status must be 'firing' or 'resolved'"),
    (payload(startsAt="yesterday"), "startsAt must be an RFC 3339 time"),
    (payload(startsAt=12), "startsAt must be an RFC 3339 time"),
    (payload(labels={"a": 1}), r"labels\['a'\] must be a string"),
    (payload(labels=["a"]), "labels must be an object"),
    (payload(status="resolved", endsAt="0001-01-01T00:00:00Z"), "resolved but has no endsAt"),
    (payload(status="resolved", endsAt="2024-05-01T00:00:00Z"), "comes before its startsAt"),
    (payload(startsAt="0001-01-01T00:00:00Z"), "zero time"),
    (payload(startsAt="0001-01-01T00:30:00+01:00"), "startsAt is no valid time"),  # its offset leaves the calendar
    (payload(startsAt="9999-12-31T23:59:59-01:00"), "startsAt is no valid time"),
    (payload(startsAt="1970-01-01T00:00:01Z"), "not a time an incident can have"),
    (payload(status="resolved", endsAt="9999-01-01T00:00:00Z"), "endsAt 9999-01-01T00:00:00Z is not a time an "
                                                                "incident can have"),
    (payload(fingerprint="\ud800"), "fingerprint holds a lone surrogate"),
    (payload(fingerprint="a\u0000b"), "fingerprint holds a NUL character"),
    (payload(labels={"service": "web\u0000"}), r"labels\['service'\] holds a NUL character"),
])
def test_malformed_payloads_are_refused(body, match):
    with pytest.raises(PayloadError, match=match):
        parse_payload(body)


def test_manual_request():
    start, end, target = parse_request({"start": "2024-05-01T03:00:00Z", "end": None, "target": "s0_latency"})
    assert start == datetime(2024, 5, 1, 3, tzinfo=timezone.utc) and end is None and target == "s0_latency"
    assert parse_request({"start": 10, "end": 20}) == (10, 20, None)
    with pytest.raises(PayloadError, match="comes after end"):
        parse_request({"start": 20, "end": 10})
    with pytest.raises(PayloadError, match="unknown fields"):
        parse_request({"start": 1, "end": 2, "drop": "table"})
    with pytest.raises(PayloadError, match="both be times or both be numbers"):
        parse_request({"start": 1, "end": "2024-05-01T03:00:00Z"})


# --- auth -------------------------------------------------------------------------------------

def test_bearer_tokens():
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer") is None and bearer_token(None) is None
    assert authorized("Bearer b", ("a", "b")) and not authorized("Bearer c", ("a", "b"))
    assert not authorized("Bearer a", ()) and not authorized("Bearer é", ("e",))


def test_tokens_from_env_and_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# ops\nfrom-file\n\nshared\n")
    assert read_tokens(" one, shared ,", path) == ("one", "shared", "from-file")
    with pytest.raises(InvalidInputError, match="token file"):
        read_tokens("", tmp_path / "missing")


def test_settings_are_checked(tmp_path):
    with pytest.raises(InvalidInputError, match="either data"):
        ServiceSettings(model_dir=tmp_path)
    with pytest.raises(InvalidInputError, match="prometheus needs queries"):
        ServiceSettings(model_dir=tmp_path, prometheus="http://127.0.0.1:9")
    with pytest.raises(InvalidInputError, match="workers must be an integer >= 1, got 0"):
        ServiceSettings(model_dir=tmp_path, data=tmp_path, workers=0)
    with pytest.raises(InvalidInputError, match="retry_attempts must be an integer >= 1, got 0"):
        ServiceSettings(model_dir=tmp_path, data=tmp_path, retry_attempts=0)
    with pytest.raises(InvalidInputError, match=r"body_timeout must be seconds in \(0, 1e7\), got 0"):
        ServiceSettings(model_dir=tmp_path, data=tmp_path, body_timeout=0)


# --- the app with a stand-in explainer ---------------------------------------------------------

class Echo:
    """Explains instantly: the rca is the window it was given (so the tests see which)."""

    def __init__(self) -> None:
        self.calls = []

    def explain(self, window, target):
        self.calls.append((window, target))
        return {"window": [window["start"], window["end"]], "target": target, "causes": []}, "<p>report</p>"


def settings_for(tmp_path, **changes):
    base = dict(model_dir=tmp_path, data=tmp_path / "data.csv", db_url=f"sqlite:///{tmp_path / 'incidents.db'}",
                tokens=(TOKEN, "other"))
    return ServiceSettings(**{**base, **changes})


def wait_done(client, incident_id, deadline=60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        body = client.get(f"/api/v1/incidents/{incident_id}", headers=AUTH).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"incident {incident_id} still {body['status']} after {deadline} s")


@pytest.fixture
def echo_client(tmp_path):
    explainer = Echo()
    with TestClient(create_app(settings_for(tmp_path), explainer=explainer)) as client:
        client.explainer = explainer
        yield client


def test_auth_401_and_200(echo_client):
    c = echo_client
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}):
        for method, url in (("get", "/api/v1/incidents"), ("post", "/api/v1/alerts"), ("get", "/incidents/1")):
            r = getattr(c, method)(url, headers=headers)
            assert r.status_code == 401, (headers, url)
            assert r.headers["www-authenticate"] == "Bearer" and TOKEN not in r.text
    assert c.get("/api/v1/incidents", headers=AUTH).status_code == 200
    assert c.get("/api/v1/incidents", headers={"Authorization": "Bearer other"}).status_code == 200
    assert c.get("/%61pi/v1/incidents").status_code in (401, 404)  # an encoded path is no way round
    assert c.get("/healthz").json()["status"] == "ok"  # no auth
    assert c.get("/metrics").status_code == 200


def test_same_alert_resent_is_one_incident(echo_client):
    c = echo_client
    first = c.post("/api/v1/alerts", json=FIRING, headers=AUTH)
    assert first.status_code == 202
    (incident,) = first.json()["incidents"]
    wait_done(c, incident)
    for _ in range(3):  # Alertmanager re-sends every group_interval
        assert c.post("/api/v1/alerts", json=FIRING, headers=AUTH).json() == {"incidents": [incident]}
    time.sleep(0.2)
    assert len(c.get("/api/v1/incidents", headers=AUTH).json()["incidents"]) == 1
    assert len(c.explainer.calls) == 1  # nothing new started
    # a new start is a new incident
    again = c.post("/api/v1/alerts", json=payload(startsAt="2024-05-01T05:00:00Z"), headers=AUTH).json()
    assert again["incidents"] != [incident]


def test_resolved_alert_closes_the_window(echo_client):
    c = echo_client
    (incident,) = c.post("/api/v1/alerts", json=FIRING, headers=AUTH).json()["incidents"]
    assert wait_done(c, incident)["window"]["end"] is None
    resolved = payload(status="resolved", endsAt="2024-05-01T03:30:00.5Z")
    assert c.post("/api/v1/alerts", json=resolved, headers=AUTH).json() == {"incidents": [incident]}
    body = wait_done(c, incident)
    while body["rca"]["window"][1] is None:  # the closed window is explained again
        time.sleep(0.05)
        body = wait_done(c, incident)
    assert body["window"] == {"start": "2024-05-01T03:12:45.123456Z", "end": "2024-05-01T03:30:00.500000Z"}
    assert body["alert"]["status"] == "resolved" and body["rca"]["window"][1] == body["window"]["end"]
    # resolved again: nothing new
    calls = len(c.explainer.calls)
    c.post("/api/v1/alerts", json=resolved, headers=AUTH)
    time.sleep(0.2)
    assert len(c.explainer.calls) == calls


def test_lookback_and_target_annotation(tmp_path):
    explainer = Echo()
    body = payload(annotations={"faultgraph_target": "s0_latency"})
    with TestClient(create_app(settings_for(tmp_path, lookback=600), explainer=explainer)) as c:
        (incident,) = c.post("/api/v1/alerts", json=body, headers=AUTH).json()["incidents"]
        done = wait_done(c, incident)
    assert done["window"]["start"] == "2024-05-01T03:02:45.123456Z" and done["target"] == "s0_latency"
    assert explainer.calls == [({"start": "2024-05-01T03:02:45.123456Z", "end": None}, "s0_latency")]


def test_paging_newest_first(echo_client):
    c = echo_client
    ids = [c.post("/api/v1/incidents", json={"start": i, "end": i + 10}, headers=AUTH).json()["id"]
           for i in range(5)]
    page = c.get("/api/v1/incidents?limit=2", headers=AUTH).json()
    assert [i["id"] for i in page["incidents"]] == ids[::-1][:2] and page["next"] == ids[3]
    rest = c.get(f"/api/v1/incidents?limit=10&before={page['next']}", headers=AUTH).json()
    assert [i["id"] for i in rest["incidents"]] == ids[::-1][2:] and rest["next"] is None
    assert c.get("/api/v1/incidents?status=bogus", headers=AUTH).status_code == 422
    assert c.get("/api/v1/incidents?limit=0", headers=AUTH).status_code == 422


HOSTILE = [
    b"", b"not json", b"[", b"null", b"42", b'"4"', b"[]", b"{}", b'{"version": 4, "alerts": []}',
    b'{"version": "5", "alerts": []}', b'{"version": "4"}', b'{"version": "4", "alerts": {}}',
    b'{"version": "4", "alerts": [1, 2]}', b'{"version": "4", "alerts": [{"status": "firing"}]}',
    b'{"version": "4", "alerts": [{"status": "firing", "startsAt": NaN}]}',
    b'{"version": "4", "alerts": [{"status": "firing", "startsAt": "2024-13-45T99:00:00Z"}]}',
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps(payload(labels={"service": "'; DROP TABLE faultgraph_incidents; --"}, startsAt=12)).encode(),
    json.dumps(payload(labels={"x" * 5000: "y"})).encode(),
    json.dumps(payload(fingerprint={"$ne": None})).encode(),
    json.dumps({**FIRING, "alerts": [FIRING["alerts"][0]] * 1001}).encode(),
    b"\xff\xfe\x00garbage",
]


def test_hostile_payloads_get_4xx_and_leave_the_store_intact(echo_client, tmp_path):
    c = echo_client
    (kept,) = c.post("/api/v1/alerts", json=FIRING, headers=AUTH).json()["incidents"]
    for body in HOSTILE:
        r = c.post("/api/v1/alerts", content=body, headers={**AUTH, "Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body[:60], r.status_code, r.text)
        assert "error" in r.json()
    big = c.post("/api/v1/alerts", content=b" " * 10_000_001, headers=AUTH)
    assert big.status_code == 413
    assert c.post("/api/v1/alerts", content=b"a=b", headers={**AUTH, "Content-Type": "text/plain"}).status_code == 415
    for body in (b"{}", b'{"start": "x", "end": 1}', b'{"start": true}', b'{"start": 1, "end": Infinity}',
                 b'{"start": "0001-01-01T00:30:00+01:00", "end": null}', b'{"start": "1980-01-01T00:00:00Z"}'):
        assert c.post("/api/v1/incidents", content=body, headers=AUTH).status_code in (400, 422)
    assert c.get("/api/v1/incidents?before=1000000000000000000000000000000", headers=AUTH).status_code == 422
    assert c.get("/api/v1/incidents/abc", headers=AUTH).status_code == 422
    assert c.get("/api/v1/incidents/99999", headers=AUTH).status_code == 404
    # SQL-looking labels are stored as text, as sent
    sql = payload(labels={"service": "'; DROP TABLE faultgraph_incidents; --"}, fingerprint="x'--")
    (sid,) = c.post("/api/v1/alerts", json=sql, headers=AUTH).json()["incidents"]
    assert wait_done(c, sid)["alert"]["labels"]["service"] == "'; DROP TABLE faultgraph_incidents; --"
    ids = {i["id"] for i in c.get("/api/v1/incidents", headers=AUTH).json()["incidents"]}
    assert ids == {kept, sid}
    store = IncidentStore(f"sqlite:///{tmp_path / 'incidents.db'}")
    assert store.create_schema() == SCHEMA_VERSION and sum(store.counts().values()) == 2
    store.close()


def test_metrics_page(echo_client):
    c = echo_client
    (incident,) = c.post("/api/v1/alerts", json=FIRING, headers=AUTH).json()["incidents"]
    wait_done(c, incident)
    text = c.get("/metrics").text
    assert 'faultgraph_incidents{status="done"} 1' in text
    assert "faultgraph_explain_seconds_count 1" in text and 'faultgraph_explain_seconds_bucket{le="+Inf"} 1' in text
    assert "faultgraph_queue_depth 0" in text and "faultgraph_alerts_accepted_total 1" in text


def test_unfinished_incidents_resume_on_start(tmp_path):
    settings = settings_for(tmp_path)
    store = IncidentStore(settings.db_url)
    store.create_schema()
    queued = store.add_manual({"start": 1, "end": 5})
    running = store.add_manual({"start": 2, "end": 6})
    assert store.claim(running)["status"] == "running"  # a server died while explaining it
    store.close()
    explainer = Echo()
    with TestClient(create_app(settings, explainer=explainer)) as c:
        assert wait_done(c, queued)["status"] == "done" and wait_done(c, running)["status"] == "done"
    assert sorted(w["start"] for w, _ in explainer.calls) == [1, 2]


def test_failed_explanation_is_kept_with_its_error(tmp_path):
    class Broken:
        def explain(self, window, target):
            raise InvalidInputError(f"target must be a metric of the model, got {target!r}")

    with TestClient(create_app(settings_for(tmp_path), explainer=Broken())) as c:
        incident = c.post("/api/v1/incidents", json={"start": 1, "end": 2, "target": "nope"}, headers=AUTH).json()
        body = wait_done(c, incident["id"])
        assert body["status"] == "failed" and "got 'nope'" in body["error"] and body["rca"] is None
        assert c.get(f"/incidents/{incident['id']}", headers=AUTH).status_code == 409


def test_schema_version_is_checked(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    store = IncidentStore(url)
    assert store.create_schema() == SCHEMA_VERSION
    with store.engine.begin() as conn:
        conn.execute(store._schema.update().values(version=SCHEMA_VERSION + 1))
    from faultgraph.service.store import StoreError

    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}; this faultgraph knows up to "
                                         f"{SCHEMA_VERSION}"):
        store.create_schema()
    store.close()


# --- the real explainer on a simulated incident ------------------------------------------------

@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from faultgraph.detect import CausalDetector
    from faultgraph.report.demo import SERVICE_TIERS
    from faultgraph.simulate import simulate_incident

    root = tmp_path_factory.mktemp("service")
    inc = simulate_incident(services=5, random_state=3)
    frame = pd.concat([inc.normal, inc.anomalous])
    frame.index = pd.Index(T0 + STEP * frame.index.to_numpy(), name="timestamp")
    CausalDetector(prior=SERVICE_TIERS).fit(frame.iloc[:len(inc.normal)]).save(root / "model")
    frame.to_csv(root / "metrics.csv")
    return {"root": root, "incident": inc, "fault_time": T0 + STEP * inc.fault_start,
            "end": T0 + STEP * (len(frame) - 1)}


def test_alert_is_explained_with_the_injected_service(case, tmp_path):
    from faultgraph.workflows import RcaDocument, explain_window, load_metrics, load_model

    inc = case["incident"]
    settings = settings_for(tmp_path, model_dir=case["root"] / "model", data=case["root"] / "metrics.csv")
    body = payload(startsAt=iso(case["fault_time"]))
    with TestClient(create_app(settings)) as c:
        (incident,) = c.post("/api/v1/alerts", json=body, headers=AUTH).json()["incidents"]
        got = wait_done(c, incident)
        html = c.get(f"/incidents/{incident}", headers=AUTH)
    assert got["status"] == "done", got.get("error")
    assert set(got) >= {"id", "status", "alert", "window", "rca"} and "error" not in got
    assert got["rca"]["services"][0]["service"] == inc.root_cause_service
    # rca is exactly rca.json's document for that window
    frame = load_metrics(case["root"] / "metrics.csv")
    start = pd.Timestamp(case["fault_time"], unit="s", tz="UTC")
    expected = RcaDocument(explain_window(load_model(case["root"] / "model"), frame, (start, frame.index[-1])),
                           data=str(case["root"] / "metrics.csv")).to_dict()
    assert set(got["rca"]) == set(expected)
    assert got["rca"]["window"] == expected["window"] and got["rca"]["causes"][0] == expected["causes"][0]
    assert html.status_code == 200 and html.text.lstrip().lower().startswith("<!doctype html")
    assert inc.root_cause_service in html.text


def test_a_report_drawn_again_uses_the_scales_the_incident_was_ranked_on(case, tmp_path, monkeypatch):
    import faultgraph.workflows as workflows
    from faultgraph.service.worker import Explainer
    from faultgraph.workflows import load_model

    settings = settings_for(tmp_path, model_dir=case["root"] / "model", data=case["root"] / "metrics.csv")
    explainer = Explainer(settings, model=load_model(case["root"] / "model"))
    window = {"start": case["fault_time"], "end": case["end"]}
    rca, _ = explainer.explain(window, None)
    assert rca["scales"] == "calibrated"  # the default, recorded
    seen = []
    render = workflows.render_report
    monkeypatch.setattr(workflows, "render_report", lambda model, frame, ex, **k: seen.append(ex.scales) or
                        render(model, frame, ex, **k))
    for stored, expected in ((rca, "calibrated"), ({**rca, "scales": "model"}, "model"),
                             ({k: v for k, v in rca.items() if k != "scales"}, "model")):  # stored before
        assert explainer.report(stored, None).lstrip().lower().startswith("<!doctype html")
        assert seen[-1] == expected


def test_window_outside_the_data_fails_with_a_message(case, tmp_path):
    settings = settings_for(tmp_path, model_dir=case["root"] / "model", data=case["root"] / "metrics.csv")
    with TestClient(create_app(settings)) as c:
        incident = c.post("/api/v1/alerts", json=payload(startsAt=iso(case["end"] + 3600)), headers=AUTH)
        body = wait_done(c, incident.json()["incidents"][0])
    assert body["status"] == "failed" and "lies outside the data" in body["error"]
    with TestClient(create_app(settings)) as c:  # Unix seconds no incident can have: refused at once
        r = c.post("/api/v1/incidents", json={"start": 1e13, "end": 2e13}, headers=AUTH)
    assert r.status_code == 400 and "is no time (Unix seconds)" in r.json()["error"]


# --- the Prometheus reader on a mock transport --------------------------------------------------

def prom_transport(handler_calls, fail_first=0, status=200, error=None):
    from faultgraph.io.prometheus import MAX_POINTS  # noqa: F401

    def handler(request):
        handler_calls.append(request)
        if len(handler_calls) <= fail_first:
            return httpx.Response(503, text="overloaded")
        if error is not None:
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": error})
        form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
        start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
        times = []
        t = start
        while t <= end + 1e-9:
            times.append(t)
            t += step
        result = [{"metric": {"service": s, "__name__": "up"},
                   "values": [[ts, str(k + ts % 7)] for ts in times]} for k, s in enumerate(("a", "b"))]
        return httpx.Response(status, json={"status": "success", "data": {"resultType": "matrix", "result": result}})

    return httpx.MockTransport(handler)


def test_reader_fetches_templates_and_services():
    from faultgraph.io.prometheus import PrometheusReader, read_queries

    calls = []
    queries = read_queries({"step": "15s", "queries": {
        "{service}_up": {"query": "sum by (service) (up)", "service_label": "service"},
        "total": {"query": "sum(up)", "service": "cluster"}}})
    reader = PrometheusReader("http://prom.test:9090", transport=prom_transport(calls))
    with pytest.raises(Exception, match="more than one series named 'total'"):
        reader.fetch(queries, T0, T0 + 150)
    queries = read_queries({"step": "15s", "queries": {
        "{service}_up": {"query": "sum by (service) (up)", "service_label": "service"}}})
    frame = reader.fetch(queries, T0, T0 + 150)
    assert list(frame.columns) == ["a_up", "b_up"] and len(frame) == 11
    assert frame.index[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert frame["b_up"].iloc[0] == 1 + T0 % 7 and frame.attrs["services"] == {"a_up": "a", "b_up": "b"}


def test_reader_splits_long_ranges():
    from faultgraph.io.prometheus import MAX_POINTS, PrometheusReader, read_queries

    calls = []
    reader = PrometheusReader("http://prom.test:9090", transport=prom_transport(calls))
    queries = read_queries({"queries": {"{service}_x": "up"}})
    frame = reader.fetch(queries, T0, T0 + 15 * (MAX_POINTS + 50), step=15)
    assert len(calls) == 2 and len(frame) == MAX_POINTS + 51 and frame.index.is_unique
    # a window that reaches decades (or to 1e300, where t + step rounds back to t) asks for nothing
    from faultgraph.io.prometheus import MAX_FETCH_POINTS

    for start, end in ((-1e300, 1e300), (1e22, 2e22), (T0, T0 + 15 * (MAX_FETCH_POINTS + 1))):
        with pytest.raises(InvalidInputError, match=r"spans .* steps of 15 s; at most 600,000 are read"):
            reader.fetch(queries, start, end, step=15)
    with pytest.raises(InvalidInputError, match="must be finite"):
        reader.fetch(queries, T0, float("inf"), step=15)
    assert len(calls) == 2  # no query sent


def test_reader_retries_then_gives_a_clear_error():
    from faultgraph.io.prometheus import PrometheusQueryError, PrometheusReader, PrometheusUnavailableError

    calls = []
    reader = PrometheusReader("http://prom.test:9090", retries=2, backoff=0, transport=prom_transport(calls, 2))
    assert len(reader.query_range("up", T0, T0 + 30, 15)) == 2 and len(calls) == 3
    calls = []
    reader = PrometheusReader("http://prom.test:9090", retries=1, backoff=0, transport=prom_transport(calls, 5))
    with pytest.raises(PrometheusUnavailableError, match="did not answer after 2 tries .*HTTP 503"):
        reader.query_range("up", T0, T0 + 30, 15)

    def refuse(request):
        raise httpx.ConnectError("connection refused")

    down = PrometheusReader("http://127.0.0.1:9", retries=1, backoff=0, transport=httpx.MockTransport(refuse))
    with pytest.raises(PrometheusUnavailableError, match="127.0.0.1:9 did not answer .*is it running"):
        down.query_range("up", T0, T0 + 30, 15)
    bad = PrometheusReader("http://prom.test", transport=prom_transport([], error="parse error at char 3"))
    with pytest.raises(PrometheusQueryError, match="refused the query 'up\\(' .*parse error at char 3"):
        bad.query_range("up(", T0, T0 + 30, 15)


@pytest.mark.parametrize("spec, match", [
    ({}, "needs a 'queries' mapping"),
    ({"queries": {"a": 3}}, "expected a PromQL string"),
    ({"queries": {"a": {"query": "up", "labels": "x"}}}, "unknown keys"),
    ({"queries": {"a": "up"}, "step": "fast"}, "step must be seconds or a duration"),
    ({"queries": {"a": "up"}, "extra": 1}, "unknown keys"),
])
def test_queries_file_errors(spec, match):
    from faultgraph.io.prometheus import read_queries

    with pytest.raises(InvalidInputError, match=match):
        read_queries(spec)


def test_queries_yaml_file(tmp_path):
    from faultgraph.io.prometheus import read_queries

    path = tmp_path / "QUERIES.yaml"
    path.write_text("step: 1m\nqueries:\n  s0_cpu: 'sum(rate(cpu{service=\"s0\"}[1m]))'\n"
                    "  '{service}_latency':\n    query: 'max by (service) (latency)'\n    service_label: service\n")
    spec = read_queries(path)
    assert spec.step == 60 and [q.metric for q in spec.queries] == ["s0_cpu", "{service}_latency"]
    assert spec.queries[1].template and spec.queries[1].name({"service": "s3"}) == "s3_latency"


# --- the commands and packaging ------------------------------------------------------------------

def test_commands(case, tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from faultgraph.service.cli import parse_when, register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    monkeypatch.delenv("FAULTGRAPH_TOKEN", raising=False)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    r = runner.invoke(app, ["serve", "--model", str(tmp_path), "--data", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "no bearer tokens" in r.output
    monkeypatch.setenv("FAULTGRAPH_TOKEN", "t")
    r = runner.invoke(app, ["serve", "--model", str(tmp_path / "none"), "--data", str(tmp_path / "x.csv"),
                            "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert r.exit_code == 2 and "--model must be the model folder written by `faultgraph fit`" in r.output
    r = runner.invoke(app, ["serve", "--model", str(tmp_path), "--data", str(tmp_path / "x.csv"),
                            "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert r.exit_code == 2 and "is not a faultgraph model folder" in r.output
    r = runner.invoke(app, ["serve", "--model", str(case["root"] / "model"), "--data",
                            str(case["root"] / "metrics.csv"), "--db", "postgresql://u@127.0.0.1:1/x"])
    assert r.exit_code == 2 and "the store 'postgresql://u@127.0.0.1:1/x' cannot be opened" in r.output
    r = runner.invoke(app, ["fetch", "--prometheus", "http://127.0.0.1:9", "--queries", str(tmp_path / "q.yaml"),
                            "--start", "now-1h", "--out", str(tmp_path / "m.parquet")])
    assert r.exit_code == 2 and "cannot be read" in r.output
    assert parse_when("now-7d", now=1e9) == 1e9 - 7 * 86400 and parse_when("1700000000") == 1.7e9
    assert parse_when("2023-11-14T22:13:20Z") == 1.7e9
    with pytest.raises(InvalidInputError, match="time must be"):
        parse_when("last tuesday")


def test_importing_the_package_imports_nothing_heavy():
    code = ("import sys, faultgraph.service, faultgraph.service.alerts, faultgraph.service.cli, "
            "faultgraph.io.prometheus; print(sorted(m for m in ('fastapi', 'sqlalchemy', 'httpx', 'uvicorn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_extra_names_it():
    from faultgraph.service._extra import require

    with pytest.raises(ImportError, match=r"pip install 'faultgraph\[serve\]'"):
        require("faultgraph_no_such_module")


def test_all_is_explicit():
    import faultgraph.io.prometheus as prom
    import faultgraph.service as service
    from faultgraph.service import alerts, app, auth, metrics, settings, store, worker

    for module in (service, alerts, app, auth, metrics, settings, store, worker, prom):
        assert all(hasattr(module, name) for name in module.__all__), module.__name__


def test_report_after_a_restart_is_drawn_from_the_stored_window(case, tmp_path, monkeypatch):
    # ranked, then the server stops before drawing the report: the next one draws it on demand
    from faultgraph.service.worker import WorkerPool

    settings = settings_for(tmp_path, model_dir=case["root"] / "model", data=case["root"] / "metrics.csv")
    with monkeypatch.context() as patch:
        patch.setattr(WorkerPool, "render", lambda self, incident_id: None)
        with TestClient(create_app(settings)) as c:
            (incident,) = c.post("/api/v1/alerts", json=payload(startsAt=iso(case["fault_time"])),
                                 headers=AUTH).json()["incidents"]
            rca = wait_done(c, incident)["rca"]
    store = IncidentStore(settings.db_url)
    assert store.report(incident) == ("done", None)
    store.close()
    with TestClient(create_app(settings)) as c:
        page = c.get(f"/incidents/{incident}", headers=AUTH)
        assert c.get(f"/api/v1/incidents/{incident}", headers=AUTH).json()["rca"] == rca
    assert page.status_code == 200 and case["incident"].root_cause_service in page.text
    store = IncidentStore(settings.db_url)
    assert store.report(incident)[1] == page.text
    store.close()


def test_the_benchmark_corpus_of_bad_payloads_gets_4xx(echo_client):
    # the 50 malformed or hostile requests of benchmarks/service.py, in process
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import service as bench

    corpus = bench.bad_payloads()
    assert len(corpus) == 50
    for name, body, headers in corpus:
        if "raw socket" in name:
            continue  # the test client cannot lie about Content-Length; the benchmark sends it raw
        r = echo_client.post("/api/v1/alerts", content=body, headers={**AUTH, **headers})
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:200])
    assert echo_client.get("/api/v1/incidents", headers=AUTH).json()["incidents"] == []


def test_reports_are_drawn_after_the_ranking_once_quiet(tmp_path):
    drawn = []

    class Deferred:
        def explain(self, window, target):
            return {"window": [window["start"], window["end"]]}, lambda: drawn.append(window) or "<p>drawn</p>"

    with TestClient(create_app(settings_for(tmp_path), explainer=Deferred())) as c:
        ids = [c.post("/api/v1/incidents", json={"start": i, "end": i + 5}, headers=AUTH).json()["id"]
               for i in range(3)]
        assert [wait_done(c, i)["status"] for i in ids] == ["done"] * 3
        assert c.get(f"/incidents/{ids[0]}", headers=AUTH).text == "<p>drawn</p>"  # asked for: drawn at once
        store = c.app.state.faultgraph["store"]
        end = time.monotonic() + 30
        while time.monotonic() < end and any(store.report(i)[1] is None for i in ids):
            time.sleep(0.1)
        assert [store.report(i) for i in ids] == [("done", "<p>drawn</p>")] * 3
    assert sorted(w["start"] for w in drawn) == [0, 1, 2]  # each drawn once


def test_reports_waiting_to_be_drawn_are_bounded(tmp_path):
    from faultgraph.service.worker import MAX_PENDING_REPORTS, WorkerPool

    class Deferred:
        def explain(self, window, target):
            return {"window": [window["start"], window["end"]]}, lambda: "<p>drawn</p>"

    store = IncidentStore(f"sqlite:///{tmp_path / 'p.db'}")
    store.create_schema()
    pool = WorkerPool(store, Deferred(), workers=1)  # not started: nothing draws them
    ids = [store.add_manual({"start": i, "end": i + 5}) for i in range(MAX_PENDING_REPORTS + 10)]
    assert all(pool.run_one(i) == "done" for i in ids)
    assert len(pool._renders) == MAX_PENDING_REPORTS and ids[-1] in pool._renders and ids[0] not in pool._renders
    store.close()


def check_store(url: str) -> None:
    """Concurrent alerts are deduplicated, a resolved alert re-queues, unfinished work resumes."""
    from concurrent.futures import ThreadPoolExecutor

    store = IncidentStore(url)
    assert store.create_schema() == SCHEMA_VERSION and store.create_schema() == SCHEMA_VERSION
    window = {"start": "2024-05-01T03:00:00Z", "end": None}

    def add(k: int) -> tuple[int, bool]:
        return store.add_alert(f"fp-{k % 5}@2024-05-01T03:00:00Z", {"labels": {"k": str(k)}}, window)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(add, range(200)))
    ids = {k % 5: set() for k in range(200)}
    for k, (incident_id, _) in enumerate(results):
        ids[k % 5].add(incident_id)
    assert all(len(v) == 1 for v in ids.values()) and len({next(iter(v)) for v in ids.values()}) == 5
    assert sum(queued for _, queued in results) == 5  # each alert queued once
    # a resolved alert closes the window and queues it again; a running one is resumed on start
    first = next(iter(ids[0]))
    assert store.claim(first)["status"] == "running"
    closed = {"start": window["start"], "end": "2024-05-01T03:30:00Z"}
    assert store.add_alert("fp-0@2024-05-01T03:00:00Z", {"status": "resolved"}, closed) == (first, True)
    assert store.finish(first, 0, {"stale": True}, None) is False  # the old run's result is dropped
    second = next(iter(ids[1]))
    store.claim(second)
    # a run whose result could not be stored stays running until the sweep's cut-off passes
    assert store.requeue_stale(time.time() - 900) == 0 and store.get(second)["status"] == "running"
    assert store.requeue_stale(time.time() + 1) == 1 and store.get(second)["status"] == "queued"
    store.claim(second)
    assert sorted(store.requeue_unfinished()) == sorted(next(iter(v)) for v in ids.values())
    assert store.get(first)["window"] == closed and store.counts()["queued"] == 5
    # Prometheus away: a claimed incident waits for its retry time, counted, across a restart
    third = next(iter(ids[2]))
    claimed = store.claim(third)
    assert "attempts" not in claimed
    assert store.defer(third, claimed["revision"], "Prometheus away (try 1 of 8)", time.time() + 3600)
    assert third not in store.queued_ids() and store.claim(third) is None
    assert store.waiting() == {"due": 4, "retrying": 1} and store.counts()["queued"] == 5
    store.close()
    store = IncidentStore(url)
    assert store.create_schema() == SCHEMA_VERSION
    waiting = store.get(third)
    assert waiting["status"] == "queued" and waiting["attempts"] == 1 and waiting["retry_at"] > time.time() + 3000
    assert waiting["error"] == "Prometheus away (try 1 of 8)" and third not in store.requeue_unfinished()
    with store.engine.begin() as conn:  # its time comes
        conn.execute(store.table.update().where(store.table.c.id == third).values(retry_at=time.time() - 1))
    assert third in store.queued_ids() and store.waiting() == {"due": 5, "retrying": 0}
    again = store.claim(third)
    assert again["attempts"] == 1 and store.finish(third, again["revision"], {"ok": True}, None)
    done = store.get(third)
    assert done["status"] == "done" and "retry_at" not in done and "error" not in done
    # a server stopping while it explains puts the incident back, its try not counted
    fourth = next(iter(ids[3]))
    held = store.claim(fourth)
    assert store.release(fourth, held["revision"]) and not store.release(fourth, held["revision"])
    assert store.get(fourth)["status"] == "queued" and "attempts" not in store.get(fourth)
    # the worker left behind cannot store over the next claim (its revision is stale)
    retaken = store.claim(fourth)
    assert retaken["revision"] == held["revision"] + 1
    assert not store.defer(fourth, held["revision"], "late", time.time() + 60)
    assert not store.finish(fourth, held["revision"], {"late": True}, None)
    assert store.finish(fourth, retaken["revision"], {"ok": True}, None) and store.get(fourth)["status"] == "done"
    store.close()


def check_upgrade_from_version_1(url: str) -> None:
    """A store written by schema version 1 (no retry columns) is upgraded in place at start."""
    import sqlalchemy as sa

    store = IncidentStore(url)
    store.create_schema()
    with store.engine.begin() as conn:  # made a version 1 store, holding one queued incident
        for column in ("attempts", "retry_at"):
            conn.execute(sa.text(f"ALTER TABLE faultgraph_incidents DROP COLUMN {column}"))
        conn.execute(store._schema.update().values(version=1))
        old = sa.Table("faultgraph_incidents", sa.MetaData(), autoload_with=conn)
        assert "attempts" not in old.c
        conn.execute(old.insert().values(status="queued", source="manual", window='{"start": 1, "end": 2}',
                                         revision=0, created_at=1.0, updated_at=1.0))
    store.close()
    store = IncidentStore(url)
    assert store.create_schema() == SCHEMA_VERSION and store.create_schema() == SCHEMA_VERSION
    (incident,) = store.queued_ids()
    assert store.get(incident)["window"] == {"start": 1, "end": 2} and "attempts" not in store.get(incident)
    claimed = store.claim(incident)
    assert store.defer(incident, claimed["revision"], "Prometheus away", time.time() + 60)
    assert store.get(incident)["attempts"] == 1 and store.waiting() == {"due": 0, "retrying": 1}
    store.close()


def test_sqlite_store_of_version_1_is_upgraded(tmp_path):
    check_upgrade_from_version_1(f"sqlite:///{tmp_path / 'old.db'}")  # PostgreSQL: tests/test_service_integration.py


def test_sqlite_upgrade_raced_by_another_process_is_no_error(tmp_path, monkeypatch):
    """Two servers starting on one version-1 SQLite file: the second finds a column that the
    first added after it looked (SQLite has no ADD COLUMN IF NOT EXISTS)."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'raced.db'}"
    store = IncidentStore(url)
    store.create_schema()
    with store.engine.begin() as conn:  # the other process has added the columns, not yet the version
        conn.execute(store._schema.update().values(version=1))
    store.close()
    real = sa.inspect

    class Stale:  # what this process saw before the other one's ALTER TABLE
        def __init__(self, conn):
            self.inner = real(conn)

        def get_columns(self, name):
            return [c for c in self.inner.get_columns(name) if c["name"] not in ("attempts", "retry_at")]

    monkeypatch.setattr(sa, "inspect", lambda conn: Stale(conn))
    store = IncidentStore(url)
    assert store.create_schema() == SCHEMA_VERSION
    store.close()


def test_sqlite_store_dedups_concurrent_alerts_and_resumes(tmp_path):
    check_store(f"sqlite:///{tmp_path / 'store.db'}")  # PostgreSQL: tests/test_service_integration.py


def test_prometheus_down_fails_the_incident_with_a_clear_error_at_its_last_try(case, tmp_path):
    from faultgraph.workflows import load_model

    queries = tmp_path / "QUERIES.yaml"
    queries.write_text("queries:\n  '{service}_cpu': {query: cpu, service_label: service}\n")
    port = closed_port()
    settings = ServiceSettings(model_dir=case["root"] / "model", prometheus=f"http://127.0.0.1:{port}",
                               queries=queries, db_url=f"sqlite:///{tmp_path / 'p.db'}", tokens=(TOKEN,),
                               retry_attempts=2, retry_backoff=0.05)
    from faultgraph.service.worker import Explainer

    explainer = Explainer(settings, model=load_model(case["root"] / "model"))
    explainer._reader.backoff = 0.01
    with TestClient(create_app(settings, explainer=explainer)) as c:
        recent = payload(startsAt=iso(time.time() - 600))  # firing for ten minutes: read up to now
        (incident,) = c.post("/api/v1/alerts", json=recent, headers=AUTH).json()["incidents"]
        body = wait_done(c, incident)
    assert body["status"] == "failed" and body["attempts"] == 1  # deferred once, failed at the second try
    assert f"Prometheus at http://127.0.0.1:{port} did not answer after 4 tries" in body["error"]
    assert "is it running" in body["error"] and body["error"].endswith("(try 2 of 2: given up)")


def closed_port() -> int:
    """A local port with nothing listening on it."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_store_failure_is_503_for_alertmanager_to_retry(tmp_path, monkeypatch):
    import sqlalchemy

    settings = settings_for(tmp_path)
    store = IncidentStore(settings.db_url)

    def down(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    with TestClient(create_app(settings, explainer=Echo(), store=store)) as c:
        monkeypatch.setattr(store, "add_alert", down)
        r = c.post("/api/v1/alerts", json=FIRING, headers=AUTH)
    assert r.status_code == 503 and "store is unavailable" in r.json()["error"]
    store.close()


@pytest.mark.slow
def test_service_benchmark_smoke(tmp_path):
    # the benchmark stays runnable: 100 alerts a run (two bursts, the kill in the second)
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "service.md"
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "service.py"), "--incidents", "100", "--out",
                           str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "--incidents 100 --out" in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| load") or line.startswith("| kill")]
    assert len(rows) == 2
    for row in rows:  # alerts sent, re-sent, stored, done, failed, lost, duplicated, 5xx
        assert row[1:9] == ["100", "10", "100", "100", "0", "0", "0", "0"], row
    assert "5xx: 0; no answer: 0" in text and "(unchanged: True)" in text


def test_window_resolution_on_each_kind_of_index():
    from faultgraph.service.worker import resolve_window

    naive = pd.date_range("2024-01-01", periods=10, freq="1min")
    # rca.json's bounds of a data set without a zone, and RFC 3339 times, on either index
    assert resolve_window(naive, {"start": "2024-01-01 00:03:00", "end": "2024-01-01T00:05:00Z"}) == (
        pd.Timestamp("2024-01-01 00:03"), pd.Timestamp("2024-01-01 00:05"))
    aware = naive.tz_localize("UTC")
    assert resolve_window(aware, {"start": "2023-12-31T23:00:00Z", "end": None}) == (aware[0], aware[-1])  # clipped
    assert resolve_window(aware, {"start": 1704067380, "end": None})[0] == aware[3]  # Unix seconds
    steps = pd.Index([1.0, 2.0, 3.0, 4.0])
    assert resolve_window(steps, {"start": 2, "end": None}) == (2, 4.0)
    with pytest.raises(InvalidInputError, match="the data has no time index"):
        resolve_window(steps, {"start": "2024-01-01T00:00:00Z", "end": None})
    with pytest.raises(InvalidInputError, match="lies outside the data"):
        resolve_window(aware, {"start": "2024-02-01T00:00:00Z", "end": None})
    with pytest.raises(InvalidInputError, match="is no time"):
        resolve_window(aware, {"start": "garbage", "end": None})


def test_the_query_step_defaults_to_the_models_training_step(tmp_path):
    import numpy as np

    from faultgraph.detect import CausalDetector
    from faultgraph.service.worker import Explainer

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a_cpu", "b_cpu", "c_cpu"],
                         index=pd.date_range("2024-01-01", periods=400, freq="60s", name="timestamp"))
    model = CausalDetector(lags=1).fit(frame)
    queries = tmp_path / "QUERIES.yaml"
    queries.write_text("queries:\n  '{service}_cpu': {query: cpu, service_label: service}\n")
    settings = dict(model_dir=tmp_path, prometheus="http://127.0.0.1:9", queries=queries,
                    db_url=f"sqlite:///{tmp_path / 'p.db'}", tokens=(TOKEN,))
    assert Explainer(ServiceSettings(**settings), model=model).step == 60.0  # neither given: the model's
    assert Explainer(ServiceSettings(**settings, step=60.0), model=model).step == 60.0
    with pytest.raises(InvalidInputError, match="--step 30s differs from the step the model was fitted at"):
        Explainer(ServiceSettings(**settings, step=30.0), model=model)
    queries.write_text("step: 15s\nqueries:\n  '{service}_cpu': {query: cpu, service_label: service}\n")
    with pytest.raises(InvalidInputError, match="QUERIES.yaml's step 15s differs"):
        Explainer(ServiceSettings(**settings), model=model)
    rows = CausalDetector(lags=1).fit(frame.reset_index(drop=True))  # fitted on row numbers: any step
    assert Explainer(ServiceSettings(**settings), model=rows).step == 15.0  # QUERIES.yaml's


# --- from a new user's pass over the service ------------------------------------------------------

def test_one_malformed_alert_does_not_lose_its_group(echo_client):
    """Alertmanager does not send a refused payload again: the good alerts are kept, the
    malformed ones named; a long annotation (free text) is cut, not refused."""
    c = echo_client
    body = payload(fingerprint="good")
    long_text = "pod-" * 1600  # 6400 characters, a description listing every pod
    body["alerts"].append({**body["alerts"][0], "fingerprint": "long", "annotations": {"description": long_text}})
    body["alerts"].append({**body["alerts"][0], "fingerprint": "bad", "labels": {"service": 7}})
    r = c.post("/api/v1/alerts", json=body, headers=AUTH)
    assert r.status_code == 202, r.text
    got = r.json()
    assert len(got["incidents"]) == 2 and got["skipped"] == ["alerts[2].labels['service'] must be a string, got int 7"]
    stored = [wait_done(c, i)["alert"] for i in got["incidents"]]
    assert [a["fingerprint"] for a in stored] == ["good", "long"]
    kept = stored[1]["annotations"]["description"]
    assert len(kept) == 4096 and kept.endswith("…") and long_text.startswith(kept[:-1])
    # every alert malformed: the payload is refused, naming the first
    only_bad = payload(labels={"service": 7})
    r = c.post("/api/v1/alerts", json=only_bad, headers=AUTH)
    assert r.status_code == 400 and "alerts[0].labels['service'] must be a string" in r.json()["error"]


def test_unknown_routes_and_filters_answer_in_the_same_shape(echo_client):
    c = echo_client
    r = c.get("/api/v1/nothing", headers=AUTH)
    assert r.status_code == 404 and "error" in r.json()
    r = c.delete("/api/v1/incidents", headers=AUTH)
    assert r.status_code == 405 and "error" in r.json() and r.headers.get("allow")
    r = c.get("/api/v1/incidents?status=bogus", headers=AUTH)
    assert r.status_code == 422 and "queued, running, done, failed" in r.json()["error"]


@pytest.mark.parametrize("body, match", [
    ({"start": 10**400, "end": None}, "must be a finite number within"),
    ({"start": 1, "end": 1e300}, "must be a finite number within"),
    ({"start": [1], "end": None}, "start must be an RFC 3339 time or a number, got list"),
    ({"start": 1, "end": 2, "target": "  "}, "target must name a metric"),
])
def test_manual_request_bounds_are_checked(body, match):
    with pytest.raises(PayloadError, match=match):
        parse_request(body)
    assert parse_request({"start": 1, "end": 2, "target": " s0_latency "})[2] == "s0_latency"


def test_manual_request_is_checked_against_the_model(case, tmp_path):
    settings = settings_for(tmp_path, model_dir=case["root"] / "model", data=case["root"] / "metrics.csv")
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/v1/incidents", json={"start": case["fault_time"], "end": None, "target": "nope"},
                   headers=AUTH)
        assert r.status_code == 400 and "target 'nope' is not a metric of the model; metrics:" in r.json()["error"]
        # numbers are Unix seconds on time-stamped data: one no incident can have is refused at once
        r = c.post("/api/v1/incidents", json={"start": -5, "end": case["end"]}, headers=AUTH)
        assert r.status_code == 400 and "is not a time an incident can have" in r.json()["error"]
        # an alert's target annotation with a typo: the symptom is chosen automatically, and said
        body = payload(startsAt=iso(case["fault_time"]), annotations={"faultgraph_target": "s0_latncy"})
        (incident,) = c.post("/api/v1/alerts", json=body, headers=AUTH).json()["incidents"]
        got = wait_done(c, incident)
    assert got["status"] == "done", got.get("error")
    assert "'s0_latncy' is not a metric of the model" in got["rca"]["caveats"]["faultgraph_target"]
    assert got["rca"]["causes"][0]["service"] == case["incident"].root_cause_service


def test_a_report_that_cannot_be_drawn_again_is_503(tmp_path):
    class Forgetful(Echo):
        def explain(self, window, target):
            rca, _ = super().explain(window, target)
            return rca, self.report  # rendered later, and failing then

        def report(self, *args):
            from faultgraph.io.prometheus import PrometheusUnavailableError

            raise PrometheusUnavailableError("Prometheus at http://127.0.0.1:9 did not answer")

    with TestClient(create_app(settings_for(tmp_path), explainer=Forgetful())) as c:
        (incident,) = c.post("/api/v1/alerts", json=FIRING, headers=AUTH).json()["incidents"]
        assert wait_done(c, incident)["status"] == "done"
        r = c.get(f"/incidents/{incident}", headers=AUTH)
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    assert "cannot be drawn now: Prometheus at http://127.0.0.1:9 did not answer" in r.json()["error"]


def test_the_service_refuses_a_labelled_model_and_another_step_at_start(tmp_path):
    import numpy as np

    from faultgraph.detect import CausalDetector, FaultIdentifier
    from faultgraph.service.worker import Explainer

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a_cpu", "b_cpu", "c_cpu"],
                         index=pd.date_range("2024-01-01", periods=400, freq="60s", name="timestamp"))
    labelled = FaultIdentifier("label").fit(frame.assign(label=(np.arange(400) % 50 < 5).astype(float)))
    with pytest.raises(InvalidInputError, match="is a FaultIdentifier .fitted with --label.; the service explains"):
        Explainer(settings_for(tmp_path), model=labelled)
    queries = tmp_path / "QUERIES.yaml"
    queries.write_text("queries:\n  '{service}_cpu': {query: cpu, service_label: service}\n")
    prom = dict(model_dir=tmp_path, prometheus="http://127.0.0.1:9", queries=queries,
                db_url=f"sqlite:///{tmp_path / 'p.db'}", tokens=(TOKEN,))
    model = CausalDetector(lags=1).fit(frame)
    with pytest.raises(InvalidInputError, match=r"--step 30s differs from the step the model was fitted at \(60s\)"):
        Explainer(ServiceSettings(**prom, step=30.0), model=model)


def test_a_store_that_is_no_database_is_one_line(tmp_path):
    from faultgraph.service.store import StoreError

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage, not SQLite" * 100)
    store = IncidentStore(f"sqlite:///{bad}")
    with pytest.raises(StoreError, match="cannot be opened: file is not a database"):
        store.create_schema()
    store.close()


def test_a_failing_store_is_logged_once_a_minute(caplog):
    from faultgraph.service.worker import _FailureLog

    failing = _FailureLog("sweeping the store", every=60.0)
    with caplog.at_level("WARNING", logger="faultgraph.service"):
        for _ in range(500):
            failing.failed(RuntimeError("connection refused\nmore lines"))
        failing.recovered()
        failing.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["sweeping the store failed: RuntimeError: connection refused",
                     lines[1]] and lines[1].startswith("sweeping the store works again after 500 failure(s)")


# --- start, outages, slow clients, shutdown, restarts --------------------------------------------

def test_serve_refuses_unusable_paths_at_start(case, tmp_path, monkeypatch):
    """A typo in a path is one line and exit 2 at start, naming the option and the path, before
    the store is created; not a failure of the first incident."""
    import typer
    import uvicorn
    from typer.testing import CliRunner

    from faultgraph.service.cli import register

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.setenv("FAULTGRAPH_TOKEN", "t")
    app = typer.Typer()
    register(app)
    model, data, db = case["root"] / "model", case["root"] / "metrics.csv", tmp_path / "x.db"
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("a,b\n1,2,3,4\n\x00\x01")
    cases = [
        (["--model", model, "--data", tmp_path / "metrics.cvs"], "--data",
         f"{tmp_path / 'metrics.cvs'}' (no such file)"),
        (["--model", model, "--data", tmp_path], "--data", f"{tmp_path}' (a folder, not a file)"),
        (["--model", tmp_path / "modle", "--data", data], "--model", f"{tmp_path / 'modle'}' (no such folder)"),
        (["--model", data, "--data", data], "--model", f"{data}' (a file, not a folder)"),
        (["--model", model, "--prometheus", "http://127.0.0.1:9", "--queries", tmp_path / "Q.yml"], "--queries",
         f"{tmp_path / 'Q.yml'}' (no such file)"),
        (["--model", model, "--data", data, "--token-file", tmp_path / "tokens"], "--token-file",
         f"{tmp_path / 'tokens'}' (no such file)"),
        (["--model", model, "--data", data, "--db", f"sqlite:///{tmp_path / 'nodir' / 'x.db'}"], "--db",
         f"(no folder '{tmp_path / 'nodir'}')"),
        (["--model", model, "--data", garbage], "", f"{garbage}"),  # there, but no metrics file
    ]
    for args, option, why in cases:
        args = [str(a) for a in args] + ([] if "--db" in args else ["--db", f"sqlite:///{db}"])
        r = CliRunner().invoke(app, ["serve", *args])
        assert r.exit_code == 2, (args, r.output)
        assert r.output.startswith(f"error: {option}") and why in r.output and r.output.count("\n") == 1, r.output
        assert not db.exists() and started == []  # refused before the store is made or the server runs
    r = CliRunner().invoke(app, ["serve", "--model", str(model), "--data", str(data), "--db", f"sqlite:///{db}"])
    assert r.exit_code == 0, r.output
    # uvicorn's own limits: connections served at once, and a bounded wait for open requests at shutdown
    assert started[0]["limit_concurrency"] == 200 and 0 < started[0]["timeout_graceful_shutdown"] <= 5


def test_serve_passes_the_retry_schedule(case, tmp_path, monkeypatch):
    """--retry-attempts and --retry-backoff reach the settings the workers run with; values
    out of range are refused in one line, exit 2."""
    import typer
    import uvicorn
    from typer.testing import CliRunner

    import faultgraph.service.app as service_app
    from faultgraph.service.cli import register

    seen = []
    make = service_app.create_app
    monkeypatch.setattr(service_app, "create_app", lambda settings, **kw: seen.append(settings) or make(settings, **kw))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setenv("FAULTGRAPH_TOKEN", "t")
    app = typer.Typer()
    register(app)
    base = ["serve", "--model", str(case["root"] / "model"), "--data", str(case["root"] / "metrics.csv"),
            "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    r = CliRunner().invoke(app, [*base, "--retry-attempts", "3", "--retry-backoff", "5"])
    assert r.exit_code == 0, r.output
    assert (seen[-1].retry_attempts, seen[-1].retry_backoff) == (3, 5.0)
    r = CliRunner().invoke(app, base)
    assert (seen[-1].retry_attempts, seen[-1].retry_backoff) == (8, 30.0)  # the documented defaults
    for option, value in (("--retry-attempts", "0"), ("--retry-backoff", "0")):
        r = CliRunner().invoke(app, [*base, option, value])
        assert r.exit_code == 2 and option in r.output, r.output


def test_prometheus_outage_is_retried_later(tmp_path):
    """Prometheus away: the incident goes back to queued with its try counted and a retry time,
    kept in the store, and is explained once Prometheus answers again."""
    import threading

    from faultgraph.io.prometheus import PrometheusUnavailableError

    back = threading.Event()

    class Outage(Echo):
        def explain(self, window, target):
            if not self.calls:
                self.calls.append((window, target))
                raise PrometheusUnavailableError("Prometheus at http://127.0.0.1:9 did not answer after 4 tries")
            back.wait(30)  # the second try: held until the test has seen the retry's state
            return super().explain(window, target)

    explainer = Outage()
    with TestClient(create_app(settings_for(tmp_path, retry_backoff=0.2), explainer=explainer)) as c:
        incident = c.post("/api/v1/incidents", json={"start": 1, "end": 5}, headers=AUTH).json()["id"]
        end = time.monotonic() + 30
        body = {}
        try:
            while time.monotonic() < end:
                body = c.get(f"/api/v1/incidents/{incident}", headers=AUTH).json()
                if body.get("attempts") or body["status"] in ("done", "failed"):
                    break
                time.sleep(0.02)
            assert body["status"] in ("queued", "running") and body["attempts"] == 1, body
            assert body["error"].startswith("Prometheus at http://127.0.0.1:9 did not answer after 4 tries (try 1 "
                                            "of 8; retried at ") and body["retry_at"] > body["created_at"]
        finally:
            back.set()
        done = wait_done(c, incident)
        assert c.get("/metrics").text.count("faultgraph_incidents_retrying 0") == 1
    assert done["status"] == "done" and done["attempts"] == 1 and "error" not in done
    assert done["rca"]["window"] == [1, 5]
    assert len(explainer.calls) == 2


def test_retry_delays_double_up_to_the_ceiling():
    from faultgraph.service.worker import RETRY_ATTEMPTS, RETRY_MAX_DELAY, retry_delay

    delays = [retry_delay(a) for a in range(1, RETRY_ATTEMPTS)]
    assert delays == [30, 60, 120, 240, 480, 600, 600] and retry_delay(10**6) == RETRY_MAX_DELAY
    assert sum(delays) / 60 == pytest.approx(35.5)  # as docs/service.md says: about 35 minutes of outage


class _Body:
    """A request whose body comes in ``chunks`` and then, with ``stall``, never ends."""

    def __init__(self, chunks, stall=False, headers=None):
        self.chunks, self.stall, self.headers = chunks, stall, headers or {}

    async def stream(self):
        import asyncio

        for chunk in self.chunks:
            yield chunk
        if self.stall:
            await asyncio.Event().wait()


def test_slow_and_oversized_bodies_are_refused(echo_client):
    import asyncio

    from faultgraph.service.app import _BodyError, _read_json

    def status(request, limit=1024, timeout=30.0):
        with pytest.raises(_BodyError) as info:
            asyncio.run(_read_json(request, limit, timeout))
        return info.value.status, str(info.value)

    # a body that trickles in and stops: 408 once the timeout passes, not held for ever
    assert status(_Body([b'{"ver'], stall=True), timeout=0.05) == (408, "the body did not arrive within 0.05 s "
                                                                        "(5 bytes came)")
    # too large: 413 at once, by Content-Length before a byte is read, or as soon as the limit is passed
    assert status(_Body([], stall=True, headers={"content-length": "2048"}))[0] == 413
    assert status(_Body([b" " * 600, b" " * 600], stall=True))[0] == 413
    assert asyncio.run(_read_json(_Body([b'{"a"', b": 1}"]), 1024, 0.05)) == {"a": 1}
    # through the app: a chunked body (no Content-Length) over --max-body is 413 too
    r = echo_client.post("/api/v1/alerts", content=iter([b" " * 600_000, b" " * 600_000]), headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "the body must be at most 1000000 bytes"


def test_pending_incidents_are_counted_and_resumed_after_a_restart(tmp_path):
    """The queue depth is the store's: a stopped server's incidents, and those beyond the memory
    queue, are counted (and taken up) after a restart."""
    import threading

    settings = settings_for(tmp_path, workers=1, queue_size=1)
    store = IncidentStore(settings.db_url)
    store.create_schema()
    ids = [store.add_manual({"start": i, "end": i + 5}) for i in range(5)]
    assert store.claim(ids[0])["status"] == "running"  # the stopped server was explaining it
    store.close()
    go = threading.Event()

    class Held(Echo):
        def explain(self, window, target):
            go.wait(30)
            return super().explain(window, target)

    with TestClient(create_app(settings, explainer=Held())) as c:
        try:
            the_store = c.app.state.faultgraph["store"]
            end = time.monotonic() + 30
            while time.monotonic() < end and the_store.counts()["running"] != 1:
                time.sleep(0.02)
            assert the_store.counts() == {"queued": 4, "running": 1, "done": 0, "failed": 0}
            # one in the worker, one in the memory queue (of size 1), three in the store only
            assert c.get("/healthz").json() == {"status": "ok", "queue_depth": 4, "retrying": 0}
            assert "\nfaultgraph_queue_depth 4\n" in c.get("/metrics").text
        finally:
            go.set()
        assert [wait_done(c, i)["status"] for i in ids] == ["done"] * 5
        assert "\nfaultgraph_queue_depth 0\n" in c.get("/metrics").text


def _serve(case, tmp_path, *options):
    """``python -m faultgraph.service serve`` on a free port with ``options``: (process, port)."""
    import os

    port = closed_port()
    env = {**os.environ, "FAULTGRAPH_TOKEN": TOKEN, "OPENBLAS_NUM_THREADS": "1"}
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "faultgraph.service", "serve", "--model",
                                 str(case["root"] / "model"), "--db", f"sqlite:///{tmp_path / 's.db'}", "--port",
                                 str(port), "--log-level", "warning", *options], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not start: {(tmp_path / 'serve.log').read_text()}")


def _stop(proc):
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _raw_post(port, body, length):
    """A socket that sent a webhook's headers (``Content-Length: length``) and ``body``."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(f"POST /api/v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode() + body)
    return sock


@pytest.mark.slow  # a real serve process
def test_serve_answers_a_trickling_body_408(case, tmp_path):
    proc, port = _serve(case, tmp_path, "--data", str(case["root"] / "metrics.csv"), "--body-timeout", "1")
    try:
        slow = _raw_post(port, b'{"version": "4", ', 1000)  # ... and the rest never comes
        answer = b""
        while chunk := slow.recv(4096):  # read until the server closes the connection
            answer += chunk
        slow.close()
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"the body did not arrive within 1 s (17 bytes came)" in answer
        big = _raw_post(port, b"", 10**9)
        assert big.recv(4096).startswith(b"HTTP/1.1 413 ")
        big.close()
    finally:
        _stop(proc)


@pytest.mark.slow  # a real serve process; the bound guards against a hang (30 s before), it times nothing
def test_sigterm_stops_serve_within_seconds_and_keeps_the_incident(case, tmp_path):
    """A worker waiting on a silent Prometheus held `serve` ~30 s after SIGTERM; now it stops in
    a few seconds, and the incident it was explaining is queued again in the store."""
    import signal
    import socket

    silent = socket.socket()  # accepts connections (the kernel does) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    queries = tmp_path / "QUERIES.yaml"
    queries.write_text("queries:\n  '{service}_cpu': {query: cpu, service_label: service}\n")
    proc, port = _serve(case, tmp_path, "--prometheus", f"http://127.0.0.1:{silent.getsockname()[1]}",
                        "--queries", str(queries), "--workers", "1")
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=10)
        incident = api.post("/api/v1/incidents", json={"start": iso(time.time() - 600), "end": None}).json()["id"]
        end = time.monotonic() + 30
        while time.monotonic() < end and api.get(f"/api/v1/incidents/{incident}").json()["status"] != "running":
            time.sleep(0.05)
        api.close()
        slow = _raw_post(port, b'{"version": "4", ', 1000)  # a client in the middle of its body, too
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)  # was ~30 s: the worker pool waited for the Prometheus request
        slow.close()
    finally:
        _stop(proc)
        silent.close()
    store = IncidentStore(f"sqlite:///{tmp_path / 's.db'}")
    assert store.get(incident)["status"] == "queued"  # taken up again at the next start
    store.close()
