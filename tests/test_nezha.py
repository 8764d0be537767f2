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

from faultgraph import InvalidInputError
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
