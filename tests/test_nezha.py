"""The Nezha / Online Boutique loader: a hand-made day in the published layout with every
value worked out by hand, bad layouts, and the shared data when present."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA

from faultgraph import InvalidInputError, SamplingWarning
from faultgraph.datasets import nezha
from faultgraph.datasets.case import Case

DAY = "2022-01-01"
CART = "cartservice-579f59597d-wc2lz"
FRONT = "frontend-579b9bff58-t2dbm"
EPOCH = int(pd.Timestamp(f"{DAY} 00:00", tz="UTC").timestamp())

# Twelve minutes, 00:00 to 00:11. cartservice's CPU is up from 00:05 to 00:07 (the cpu
# fault injected at 00:04:30), its callers' latency from 00:08 to 00:10 (the network fault
# at 00:08:00), and its server latency is missing from 00:05 to 00:07.
CART_CPU = [5, 6, 5, 6, 5, 90, 91, 92, 6, 5, 6, 5]
CART_MEM = [40.0] * 12
CART_LAT = [0.01, 0.02, 0.01, 0.02, 0.01, None, None, None, 0.03, 0.02, 0.01, 0.02]
FRONT_CPU = [20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]
FRONT_MEM = [10.0] * 12
FRONT_LAT = [0.5] * 12
CALL_LATENCY = [0.003] * 8 + [0.3, 0.3, 0.3, 0.003]


def _time_text(minute: int, fraction: str) -> str:
    """Go's time text, as in the published files."""
    return f"{DAY} 00:{minute:02d}:19.{fraction} +0000 UTC m=+{60.0 * minute + 0.3:.9f}"


def _pod_csv(pod: str, cpu, mem, lat, stamp_offset: int = 0) -> str:
    lines = ["Time,TimeStamp,PodName,CpuUsageRate(%),MemoryUsageRate(%),PodServerLatencyP90(s)"]
    for m in range(12):
        value = "" if lat[m] is None else lat[m]
        fraction = "607158889" if m % 2 else "89129634"  # fractions of 9 and 8 digits
        lines.append(f"{_time_text(m, fraction)},{EPOCH + 60 * m + 19 + stamp_offset},{pod},{cpu[m]},{mem[m]},{value}")
    return "\n".join(lines) + "\n"


def _write_day(root, day: str = DAY):
    metric = root / "rca_data" / day / "metric"
    metric.mkdir(parents=True)
    # cartservice's TimeStamp is 2e8 s off, as for some pods of the real data: Time rules.
    (metric / f"{CART}_metric.csv").write_text(_pod_csv(CART, CART_CPU, CART_MEM, CART_LAT, stamp_offset=200_000_000))
    (metric / f"{FRONT}_metric.csv").write_text(_pod_csv(FRONT, FRONT_CPU, FRONT_MEM, FRONT_LAT))
    (metric / "front_service.csv").write_text(
        "Time,TimeStamp,ServiceName,SuccessRate(%),LatencyP90(s)\n"
        + "".join(f"{_time_text(m, '5')},{EPOCH + 60 * m + 19},Frontend,100,{FRONT_LAT[m]}\n" for m in range(12)))
    (metric / "source_50.csv").write_text(
        "time,timestamp,frontend_cartservice,loadgenerator_frontend\n"
        + "".join(f"{_time_text(m, '7')},{EPOCH + 60 * m + 19},{CALL_LATENCY[m]},0.2\n" for m in range(12)))
    (metric / "dependency.csv").write_text(
        "Source,Target,Weight\nfrontend,cartservice,1\nfrontend,33.33.33.167,1\ncartservice,33.33.33.80,1\n"
        "loadgenerator,33.33.33.79,1\n")
    faults = {
        "00": [
            {"inject_time": f"{DAY} 00:04:30", "inject_timestamp": str(EPOCH + 270), "inject_pod": CART,
             "inject_type": "cpu_contention"},
            # the text says 00:09:00, the timestamp 00:08:00: the timestamp wins
            {"inject_time": f"{DAY} 00:09:00", "inject_timestamp": str(EPOCH + 480), "inject_pod": CART,
             "inject_type": "network_delay"},
            # no timestamp: the text is read as UTC
            {"inject_time": f"{DAY} 00:09:40", "inject_pod": FRONT, "inject_type": "exception"},
        ]
    }
    (root / "rca_data" / day / f"{day}-fault_list.json").write_text(json.dumps(faults))
    (root / "construct_data").mkdir(exist_ok=True)
    (root / "construct_data" / "root_cause_hipster.json").write_text(json.dumps({
        "cartservice": {"cpu_contention": "CpuUsageRate(%)", "network_delay": "NetworkP90(ms)"},
        "frontend": {"exception": "Placing order started_Order placed complete", "cpu_consumed": "CpuUsageRate(%)"},
    }))
    return metric


def _minute(m: int) -> pd.Timestamp:
    return pd.Timestamp(f"{DAY} 00:{m:02d}", tz="UTC")


def test_reads_a_day_of_the_published_layout(tmp_path):
    _write_day(tmp_path)
    assert nezha.list_days(tmp_path) == [DAY]
    d = nezha.read_day(tmp_path, DAY)

    m = d.metrics
    assert list(m.columns) == [
        "cartservice|CpuUsageRate(%)", "cartservice|MemoryUsageRate(%)", "cartservice|PodServerLatencyP90(s)",
        "frontend|CpuUsageRate(%)", "frontend|MemoryUsageRate(%)", "frontend|PodServerLatencyP90(s)",
        "cartservice|NetworkP50(s)",
    ]
    assert m.index.name == "timestamp" and str(m.index.tz) == "UTC"
    assert list(m.index) == [_minute(k) for k in range(12)]  # Time floored to the minute, not TimeStamp
    assert (m.dtypes == "float64").all()
    np.testing.assert_array_equal(m["cartservice|CpuUsageRate(%)"], CART_CPU)
    np.testing.assert_array_equal(m["frontend|CpuUsageRate(%)"], FRONT_CPU)
    np.testing.assert_allclose(m["cartservice|NetworkP50(s)"], CALL_LATENCY)  # loadgenerator_frontend ignored
    assert m["cartservice|PodServerLatencyP90(s)"].isna().tolist() == [k in (5, 6, 7) for k in range(12)]

    assert d.services == {c: c.split("|")[0] for c in m.columns}
    assert d.services["cartservice|NetworkP50(s)"] == "cartservice"
    assert d.pods == {"cartservice": (CART,), "frontend": (FRONT,)}
    assert d.dependency.to_dict("records") == [{"caller": "frontend", "callee": "cartservice"}]
    assert list(d.slo.columns) == ["SuccessRate(%)", "LatencyP90(s)"] and d.slo.index.equals(m.index)

    assert d.faults == (
        nezha.NezhaFault(DAY, pd.Timestamp(f"{DAY} 00:04:30", tz="UTC"), _minute(5), CART, "cartservice",
                         "cpu_contention"),
        nezha.NezhaFault(DAY, _minute(8), _minute(8), CART, "cartservice", "network_delay"),
        nezha.NezhaFault(DAY, pd.Timestamp(f"{DAY} 00:09:40", tz="UTC"), _minute(10), FRONT, "frontend",
                         "exception"),
    )
    assert d.root_cause_metrics == {
        ("cartservice", "cpu_contention"): "CpuUsageRate(%)", ("cartservice", "network_delay"): "NetworkP90(ms)",
        ("frontend", "exception"): None, ("frontend", "cpu_consumed"): "CpuUsageRate(%)",
    }
    assert d.root_cause_indicators[("frontend", "exception")] == "Placing order started_Order placed complete"


def test_cases_cut_the_windows_around_each_fault(tmp_path):
    _write_day(tmp_path)
    cs = nezha.cases(tmp_path, DAY, normal_minutes=3, anomalous_minutes=3)
    assert [c.name for c in cs] == [f"{DAY}_00_cartservice_cpu_contention", f"{DAY}_01_cartservice_network_delay",
                                    f"{DAY}_02_frontend_exception"]
    assert all(isinstance(c, Case) for c in cs)
    cpu, net, exc = cs

    # the 00:04 row (the injection's minute) is in neither window
    assert list(cpu.normal.index) == [_minute(1), _minute(2), _minute(3)]
    assert list(cpu.anomalous.index) == [_minute(5), _minute(6), _minute(7)]
    np.testing.assert_array_equal(cpu.anomalous["cartservice|CpuUsageRate(%)"], [90, 91, 92])
    # the server latency is all NaN in the anomalous window: dropped from both periods
    assert "cartservice|PodServerLatencyP90(s)" not in cpu.normal.columns
    assert list(cpu.normal.columns) == list(cpu.anomalous.columns) and cpu.normal.shape[1] == 6
    assert cpu.truth == {
        "root_cause_service": "cartservice", "root_cause_metric": "cartservice|CpuUsageRate(%)",
        "fault_type": "cpu_contention", "inject_time": "2022-01-01T00:04:30+00:00",
        "anomalous_start": "2022-01-01T00:05:00+00:00", "root_cause_pod": CART,
        "root_cause_indicator": "CpuUsageRate(%)", "day": DAY,
    }

    assert list(net.normal.index) == [_minute(5), _minute(6), _minute(7)]
    assert list(net.anomalous.index) == [_minute(8), _minute(9), _minute(10)]
    assert net.normal.shape[1] == 6  # the latency is all NaN in this normal window
    assert net.truth["root_cause_metric"] == "cartservice|NetworkP50(s)"  # the stand-in for NetworkP90(ms)
    assert net.truth["inject_time"] == "2022-01-01T00:08:00+00:00"
    np.testing.assert_allclose(net.anomalous["cartservice|NetworkP50(s)"], [0.3, 0.3, 0.3])

    assert list(exc.normal.index) == [_minute(6), _minute(7), _minute(8)]
    assert list(exc.anomalous.index) == [_minute(10), _minute(11)]  # the data end at 00:11
    assert exc.normal.shape[1] == 7
    assert exc.truth["root_cause_metric"] is None and exc.truth["fault_type"] == "exception"
    assert exc.truth["root_cause_indicator"] == "Placing order started_Order placed complete"

    defaults = nezha.cases(tmp_path)  # normal 3 rows, anomalous 5
    assert [c.anomalous.shape[0] for c in defaults] == [5, 4, 2]
    assert [c.normal.shape[0] for c in defaults] == [3, 3, 3]


def test_fault_free_normal_period(tmp_path):
    _write_day(tmp_path)
    cs = nezha.cases(tmp_path, normal="fault_free", normal_minutes=5, settle_minutes=0)
    # from the last fault's first row (00:10) on: 00:10 and 00:11, the same for every case
    assert all(list(c.normal.index) == [_minute(10), _minute(11)] for c in cs)
    with pytest.raises(InvalidInputError, match=r"normal='fault_free' needs rows from 2022-01-01T00:11.*found 1"):
        nezha.cases(tmp_path, normal="fault_free", settle_minutes=1)


def test_several_pods_of_a_service_are_averaged(tmp_path):
    metric = _write_day(tmp_path)
    other = "cartservice-579f59597d-abcde"
    (metric / f"{other}_metric.csv").write_text(_pod_csv(other, [c + 10 for c in CART_CPU], CART_MEM, CART_LAT))
    d = nezha.read_day(tmp_path, DAY)
    assert d.pods["cartservice"] == (other, CART)
    np.testing.assert_allclose(d.metrics["cartservice|CpuUsageRate(%)"], np.array(CART_CPU) + 5.0)
    assert d.metrics.shape == (12, 7)


def test_pod_service():
    assert nezha.pod_service("frontend-579b9bff58-t2dbm") == "frontend"
    assert nezha.pod_service("productcatalogservice-668d5f85fb-jhwx9") == "productcatalogservice"
    assert nezha.pod_service("redis-cart") == "redis-cart"


def test_bad_layouts(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        nezha.read_day(tmp_path / "nope", DAY)
    with pytest.raises(InvalidInputError, match="has no rca_data/ folder"):
        nezha.list_days(tmp_path)
    metric = _write_day(tmp_path)
    with pytest.raises(InvalidInputError, match=f"day folder .*2022-01-02.* does not exist; days present: {DAY}"):
        nezha.read_day(tmp_path, "2022-01-02")

    pod = metric / f"{FRONT}_metric.csv"
    good = pod.read_text()
    pod.write_text(good.replace("Time,", "When,", 1))
    with pytest.raises(InvalidInputError, match=re.escape(f"{FRONT}_metric.csv' has no 'Time' column")):
        nezha.read_day(tmp_path, DAY)
    pod.write_text("")
    with pytest.raises(InvalidInputError, match=re.escape(f"{FRONT}_metric.csv' is empty")):
        nezha.read_day(tmp_path, DAY)
    pod.write_text(good.splitlines()[0] + "\n")
    with pytest.raises(InvalidInputError, match="has a header but no rows"):
        nezha.read_day(tmp_path, DAY)
    pod.write_text(good.replace(f"{DAY} 00:03:19", "yesterday", 1))
    with pytest.raises(InvalidInputError, match=r"Time 'yesterday.*' \(row 4\) is not a time"):
        nezha.read_day(tmp_path, DAY)
    pod.write_text(good.replace(",20,10.0,", ",lots,10.0,", 1))
    with pytest.raises(InvalidInputError, match="metric values must be numbers"):
        nezha.read_day(tmp_path, DAY)
    lines = good.rstrip("\n").splitlines()  # a download cut short mid-row: not read as gaps
    pod.write_text("\n".join(lines[:-1] + [",".join(lines[-1].split(",")[:3])]))
    with pytest.raises(InvalidInputError, match=r"its last row has 3 of the header's \d+ fields .*cut short"):
        nezha.read_day(tmp_path, DAY)
    pod.write_text(good)

    faults = metric.parent / f"{DAY}-fault_list.json"
    spec = faults.read_text()
    faults.write_text(json.dumps({"00": [{"inject_pod": CART}]}))
    with pytest.raises(InvalidInputError, match="a fault needs inject_pod, inject_type and inject_timestamp"):
        nezha.read_day(tmp_path, DAY)
    faults.unlink()
    with pytest.raises(InvalidInputError, match="has no fault list"):
        nezha.read_day(tmp_path, DAY)
    faults.write_text(spec)

    for path in metric.glob("*_metric.csv"):
        path.unlink()
    with pytest.raises(InvalidInputError, match=r"holds no <pod>_metric\.csv files"):
        nezha.read_day(tmp_path, DAY)


def test_bad_case_arguments(tmp_path):
    _write_day(tmp_path)
    with pytest.raises(InvalidInputError, match="normal must be one of 'before', 'fault_free'; got 'after'"):
        nezha.cases(tmp_path, normal="after")
    with pytest.raises(InvalidInputError, match="anomalous_minutes must be an int >= 1, got 0"):
        nezha.cases(tmp_path, anomalous_minutes=0)
    with pytest.raises(InvalidInputError, match="normal_minutes must be an int >= 1, got 2.5"):
        nezha.cases(tmp_path, normal_minutes=2.5)
    with pytest.raises(InvalidInputError, match="system must be one of 'online_boutique', 'train_ticket'; got 'sock'"):
        nezha.list_days(tmp_path, "sock")
    assert nezha.list_days(tmp_path, "online_boutique") == [DAY] and nezha.list_days(tmp_path, "train_ticket") == []
    assert nezha.cases(tmp_path, system="train_ticket") == []


NEZHA = SHARED_DATA / "nezha"


@pytest.mark.skipif(not NEZHA.exists(), reason=f"shared Nezha data absent at {NEZHA}")
def test_real_nezha_days():
    assert nezha.list_days(NEZHA) == ["2022-08-22", "2022-08-23", "2023-01-29"]
    assert nezha.list_days(NEZHA, "train_ticket") == ["2023-01-29"]
    days = nezha.list_days(NEZHA, "online_boutique")
    assert days == ["2022-08-22", "2022-08-23"]
    listed = {d: json.loads((NEZHA / "rca_data" / d / f"{d}-fault_list.json").read_text()) for d in days}
    data = {d: nezha.read_day(NEZHA, d) for d in days}
    for d, day in data.items():
        assert len(day.faults) == sum(len(v) for v in listed[d].values())
        assert len(day.pods) == 10 and all(len(p) == 1 for p in day.pods.values())  # one pod per service
        assert day.metrics.shape[1] == 10 * 19 + 9  # 19 per pod, NetworkP50 for the 9 called services
        assert day.metrics.index.is_unique and day.metrics.index.is_monotonic_increasing
        assert all(f.start in day.metrics.index for f in day.faults)
        assert set(day.dependency["caller"]) | set(day.dependency["callee"]) <= set(day.pods)
    assert [len(data[d].metrics) for d in days] == [1209, 721]
    assert sum(len(day.faults) for day in data.values()) == 56
    assert Counter(f.fault_type for day in data.values() for f in day.faults) == {
        "cpu_contention": 16, "network_delay": 16, "cpu_consumed": 10, "return": 7, "exception": 7}

    cs = nezha.cases(NEZHA)
    assert len(cs) == 56
    assert all(list(c.normal.columns) == list(c.anomalous.columns) for c in cs)

    def rises(kind: str, factor: float) -> float:
        chosen = [c for c in cs if c.truth["fault_type"] in kind]
        assert chosen and all(c.truth["root_cause_metric"] in c.normal.columns for c in chosen)
        return float(np.mean([c.anomalous[c.truth["root_cause_metric"]].mean()
                              > factor * c.normal[c.truth["root_cause_metric"]].mean() for c in chosen]))

    # measured: 25 of 26 CPU faults and 14 of 16 network delays rise by 1.5× or more
    assert rises(("cpu_contention", "cpu_consumed"), 1.5) >= 0.9
    assert rises(("network_delay",), 1.5) >= 0.8
    assert all(c.truth["root_cause_metric"] is None for c in cs if c.truth["fault_type"] in ("return", "exception"))


# ---- Train Ticket: the fault list's two clocks -------------------------------------------

TT_POD = "ts-order-service-5b67c48447-mv5hb"
TT_OTHER = "ts-price-service-76846864d9-g465z"


def _write_train_ticket_day(root, faults: list[dict]):
    """A Train Ticket day on the hand-made 12 minutes (00:00-00:11), with ``faults`` as its
    fault list (one hour) and a root_cause_ts.json."""
    metric = root / "rca_data" / DAY / "metric"
    metric.mkdir(parents=True)
    (metric / f"{TT_POD}_metric.csv").write_text(_pod_csv(TT_POD, CART_CPU, CART_MEM, CART_LAT))
    (metric / f"{TT_OTHER}_metric.csv").write_text(_pod_csv(TT_OTHER, FRONT_CPU, FRONT_MEM, FRONT_LAT))
    (root / "rca_data" / DAY / f"{DAY}-fault_list.json").write_text(json.dumps({"00": faults}))
    (root / "construct_data").mkdir(exist_ok=True)
    (root / "construct_data" / "root_cause_ts.json").write_text(json.dumps({
        "ts-order-service": {"return": "o.s.OrderServiceImpl#1_o.s.OrderServiceImpl#2",
                             "cpu_contention": "CpuUsageRate(%)"}}))
    # the Online Boutique file is there too and must not be read for this day
    (root / "construct_data" / "root_cause_hipster.json").write_text(json.dumps({
        "ts-order-service": {"cpu_contention": "MemoryUsageRate(%)"}}))


def _fault(text: str, stamp: int, kind: str = "return", pod: str = TT_POD) -> dict:
    return {"inject_time": f"{DAY} {text}", "inject_timestamp": str(stamp), "inject_pod": pod, "inject_type": kind}


EIGHT_HOURS = 8 * 3600


def test_train_ticket_faults_are_placed_on_the_metrics_clock(tmp_path):
    faults = [
        # the timestamp lies 8 h before the text (the day before, outside the metrics): the text is taken
        _fault("00:04:30", EPOCH + 270 - EIGHT_HOURS),
        # 8 h before and one minute off (as 7 entries of the real list): still the text
        _fault("00:06:10", EPOCH + 430 - EIGHT_HOURS),
        # repeats the previous timestamp with another text: flagged, placed by its text
        _fault("00:08:10", EPOCH + 430 - EIGHT_HOURS, "cpu_contention"),
        # the two agree: the timestamp, nothing corrected
        _fault("00:09:40", EPOCH + 580, "cpu_contention"),
    ]
    _write_train_ticket_day(tmp_path, faults)
    assert nezha.day_system(tmp_path, DAY) == "train_ticket"
    assert nezha.list_days(tmp_path, "train_ticket") == [DAY] and nezha.list_days(tmp_path, "online_boutique") == []
    with pytest.warns(SamplingWarning) as record:
        d = nezha.read_day(tmp_path, DAY)
    said = [str(w.message) for w in record]
    assert any("3 faults' time fields disagree by hours" in s for s in said)
    assert any("1 fault list entry repeats the previous entry's inject_timestamp" in s and "00:08:10" in s
               for s in said)

    assert d.system == "train_ticket"
    assert [f.inject_time for f in d.faults] == [pd.Timestamp(f"{DAY} {t}", tz="UTC")
                                                 for t in ("00:04:30", "00:06:10", "00:08:10", "00:09:40")]
    assert [f.start for f in d.faults] == [_minute(5), _minute(7), _minute(9), _minute(10)]
    assert [f.corrected is not None for f in d.faults] == [True, True, True, False]
    assert "inject_timestamp 2021-12-31T16:04:30+00:00 lies 8 h before inject_time" in d.faults[0].corrected
    assert "lies about 8 h (7:59:00) before" in d.faults[1].corrected
    assert "lies about 8 h (8:01:00) before" in d.faults[2].corrected
    assert "repeats the previous entry's" in d.faults[2].corrected
    assert [f.repeated_timestamp for f in d.faults] == [False, False, True, False]
    assert d.root_cause_metrics == {("ts-order-service", "return"): None,
                                    ("ts-order-service", "cpu_contention"): "CpuUsageRate(%)"}

    with pytest.warns(SamplingWarning):
        cs = nezha.cases(tmp_path, DAY, normal_minutes=2, anomalous_minutes=2)
    assert [c.truth["anomalous_start"][11:16] for c in cs] == ["00:05", "00:07", "00:09", "00:10"]
    assert cs[2].truth["root_cause_metric"] == "ts-order-service|CpuUsageRate(%)"  # from root_cause_ts.json
    with pytest.warns(SamplingWarning):
        assert nezha.cases(tmp_path) == []  # the default system is Online Boutique
        assert len(nezha.cases(tmp_path, system="train_ticket")) == 4


def test_repeated_timestamp_alone_gives_way_to_the_text(tmp_path):
    # both fields agree within minutes, but the second timestamp is a copy of the first
    _write_train_ticket_day(tmp_path, [_fault("00:04:30", EPOCH + 270), _fault("00:06:10", EPOCH + 270)])
    with pytest.warns(SamplingWarning, match="1 fault list entry repeats"):
        d = nezha.read_day(tmp_path, DAY)
    assert [f.inject_time for f in d.faults] == [pd.Timestamp(f"{DAY} 00:04:30", tz="UTC"),
                                                 pd.Timestamp(f"{DAY} 00:06:10", tz="UTC")]
    assert [f.repeated_timestamp for f in d.faults] == [False, True]
    assert d.faults[0].corrected is None and "a copied timestamp" in d.faults[1].corrected


def test_clocks_that_cannot_be_told_apart(tmp_path):
    # 8 h apart and both outside the metrics (00:00-00:11): no field is on the metrics' clock
    _write_train_ticket_day(tmp_path, [_fault("05:00:00", EPOCH + 13 * 3600)])
    with pytest.raises(InvalidInputError, match=r"inject_time 2022-01-01T05:00:00\+00:00 and inject_timestamp "
                                                r"2022-01-01T13:00:00\+00:00 disagree by 8 h and both lie outside"):
        nezha.read_day(tmp_path, DAY)


def test_repair_gaps(tmp_path):
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 2.0, 3.0, 4.0],
                          "b": [1.0, 2.0] * 5,
                          "c": [np.nan] * 9 + [1.0]})
    r = nezha.repair_gaps(frame, min_coverage=0.3)
    assert list(r.frame.columns) == ["a", "b"] and r.max_gap == 6 and r.dropped == {"c": 0.1}
    assert r.to_dict() == {"metrics": 2, "rows": 10, "max_gap": 6, "min_coverage": 0.3, "dropped": {"c": 0.1}}
    assert str(r) == "2 metrics kept, 1 observed in under 30% of the 10 rows dropped; fit with max_gap=6"
    capped = nezha.repair_gaps(frame, min_coverage=0.3, max_gap=3)
    assert list(capped.frame.columns) == ["b"] and capped.max_gap == 5  # never below the encoder's default
    assert nezha.repair_gaps(frame[["b"]]).dropped == {}
    with pytest.raises(InvalidInputError, match=r"min_coverage must be a share in \(0, 1\], got 0"):
        nezha.repair_gaps(frame, min_coverage=0)
    with pytest.raises(InvalidInputError, match="max_gap must be an int >= 0 or None, got -1"):
        nezha.repair_gaps(frame, max_gap=-1)
    with pytest.raises(InvalidInputError, match="frame must be a non-empty DataFrame"):
        nezha.repair_gaps(pd.DataFrame())


TRAIN_TICKET = "2023-01-29"


@pytest.mark.skipif(not (NEZHA / "rca_data" / TRAIN_TICKET).exists(),
                    reason=f"shared Nezha Train Ticket day absent at {NEZHA / 'rca_data' / TRAIN_TICKET}")
def test_real_train_ticket_day():
    from faultgraph.encode import MetricEncoder

    listed = json.loads((NEZHA / "rca_data" / TRAIN_TICKET / f"{TRAIN_TICKET}-fault_list.json").read_text())
    with pytest.warns(SamplingWarning) as record:
        d = nezha.read_day(NEZHA, TRAIN_TICKET)
    assert any("24 faults' time fields disagree by hours" in str(w.message) for w in record)
    assert d.system == "train_ticket" and len(d.pods) == 46
    assert d.metrics.shape == (919, 46 * 19)
    first, last = d.metrics.index[0], d.metrics.index[-1]
    assert (first, last) == (pd.Timestamp(f"{TRAIN_TICKET} 08:41", tz="UTC"),
                             pd.Timestamp(f"{TRAIN_TICKET} 23:59", tz="UTC"))

    # every fault inside the data, its first row a row of the metrics
    assert len(d.faults) == sum(len(v) for v in listed.values()) == 28
    assert all(first <= f.inject_time <= last and f.start in d.metrics.index for f in d.faults)
    # each placed in the hour its fault-list key names (the keys follow inject_time)
    assert sorted(f.inject_time.strftime("%H") for f in d.faults) == sorted(h for h, v in listed.items() for _ in v)
    # the 24 code faults' timestamps lie about 8 h before their text, before the first row: corrected
    corrected = [f for f in d.faults if f.corrected]
    assert len(corrected) == 24 and {f.fault_type for f in corrected} == {"return", "exception"}
    assert all("before inject_time" in f.corrected and "inject_time taken" in f.corrected for f in corrected)
    # the 4 CPU faults' fields agree
    assert Counter(f.fault_type for f in d.faults if not f.corrected) == {"cpu_contention": 4}
    # one entry repeats the previous timestamp: ts-basic-service's return at 09:12:56
    (repeated,) = [f for f in d.faults if f.repeated_timestamp]
    assert (repeated.service, repeated.fault_type, repeated.inject_time) == (
        "ts-basic-service", "return", pd.Timestamp(f"{TRAIN_TICKET} 09:12:56", tz="UTC"))

    # truth from root_cause_ts.json: the CPU faults' metric rises in their first rows
    cpu = [f for f in d.faults if f.fault_type == "cpu_contention"]
    for f in cpu:
        column = nezha.truth_metric(d, f, d.metrics.columns)
        assert column == f"{f.service}|CpuUsageRate(%)"
        before = d.metrics.loc[f.start - pd.Timedelta(minutes=3): f.start - pd.Timedelta(minutes=1), column]
        after = d.metrics.loc[f.start: f.start + pd.Timedelta(minutes=4), column]
        assert after.max() > 3 * before.mean()
    assert all(d.root_cause_metrics[(f.service, f.fault_type)] is None for f in corrected)

    with pytest.warns(SamplingWarning):
        cs = nezha.cases(NEZHA, TRAIN_TICKET, normal="fault_free", normal_minutes=400)
    assert len(cs) == 28 and all(len(c.anomalous) == 5 and len(c.normal) == 400 for c in cs)

    # the gaps: server latencies are missing in the minutes without requests; the encoder's
    # default max_gap refuses the fault-free period, the documented repair fits it
    normal = cs[0].normal
    with pytest.raises(InvalidInputError, match="gaps longer than max_gap=5"):
        MetricEncoder().fit(normal)
    repair = nezha.repair_gaps(normal)
    assert repair.max_gap == 8 and len(repair.dropped) == 18
    assert all("Latency" in c for c in repair.dropped)
    encoder = MetricEncoder(max_gap=repair.max_gap).fit(repair.frame)
    assert 560 <= len(encoder.columns_) <= 580  # the ~570 metrics that vary


@pytest.mark.skipif(not (NEZHA / "rca_data" / TRAIN_TICKET).exists(),
                    reason=f"shared Nezha Train Ticket day absent at {NEZHA / 'rca_data' / TRAIN_TICKET}")
def test_docs_example_runs(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "nezha.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    exec(compile(code.replace('"../shared/data/nezha"', repr(str(NEZHA))), "docs/nezha.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['2023-01-29']"
    assert out[-3].startswith("24 [Timestamp('2023-01-29 09:12:56")
    assert out[-2] == "796 metrics kept, 78 observed in under 95% of the 400 rows dropped; fit with max_gap=8"
    assert out[-1].startswith("ts-contacts-service ['ts-contacts-service'")


def test_an_injection_time_given_as_null_is_named_not_a_type_error():
    from faultgraph.datasets.nezha import _entry_times
    from faultgraph.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="unreadable injection time .*no time given"):
        _entry_times({"inject_time": None, "inject_timestamp": "1661225730"}, "faults.json")
    assert _entry_times({"inject_timestamp": "1661225730"}, "faults.json")[1] == pd.Timestamp(1661225730, unit="s",
                                                                                               tz="UTC")
