"""The benchmark scripts stay runnable (a smoke run on the smallest case, no timing claims)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_discovery_benchmark_smoke(tmp_path):
    out, rows = tmp_path / "d.md", tmp_path / "d.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "discovery.py"), "--groups", "small",
                           "--max-d", "10", "--seeds", "1", "--no-dagma", "--out", str(out), "--json", str(rows)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert "## Raw simulated scale" in text and "## Standardised data" in text
    assert "--groups small --max-d 10 --no-dagma" in text.replace("--seeds 1 ", "")
    assert {r["method"] for r in json.loads(rows.read_text())} == {"faultgraph-dagma", "faultgraph-notears"}


def test_benchmark_helpers():
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import markdown_table

    assert markdown_table(pd.DataFrame({"a": [0.12345], "b": ["x"]})).splitlines() == [
        "| a | b |", "|---|---|", "| 0.123 | x |"]


def test_robustness_benchmark_one_incident():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import robustness

    rows, extra = robustness.run_level(robustness.Level("tiny", 0.05, (1, 2)), 1)
    table = {r["method"]: r for r in rows}
    assert set(table) == {*robustness.FAULTGRAPH, *robustness.DETECTION_BASELINES, *robustness.RCA_BASELINES,
                          *robustness.FIELD_BASELINES}
    for name in (*robustness.FAULTGRAPH, *robustness.DETECTION_BASELINES):
        assert 0.0 <= table[name]["AUC"] <= 1.0 and 0.0 <= table[name]["F1"] <= 1.0
    for name in robustness.FIELD_BASELINES:  # root causes only
        assert table[name]["AC@1 metric"] in (0.0, 1.0) and table[name]["AUC"] != table[name]["AUC"]  # NaN
    assert table["faultgraph"]["AC@1 service"] in (0.0, 1.0)
    assert 0.0 <= extra["delay"] <= 1.0 and extra["fit s"] > 0


def test_stability_benchmark_on_a_small_machine(tmp_path):
    # an SMD-layout machine with a planted fault in m1: the three fits are compared edge by
    # edge, and the report says in one line what it skipped (ASD's data is absent)
    import os

    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import stability

    rng = np.random.default_rng(0)
    n = 600
    a = rng.normal(size=2 * n)
    X = np.column_stack([a, 0.8 * a + 0.5 * rng.normal(size=2 * n), rng.normal(size=2 * n)])
    X[n + 300:n + 310, 1] += 6.0
    root = tmp_path / "ServerMachineDataset"
    for folder, rows in (("train", X[:n]), ("test", X[n:])):
        (root / folder).mkdir(parents=True)
        np.savetxt(root / folder / "machine-9-9.txt", rows, delimiter=",")
    (root / "test_label").mkdir()
    np.savetxt(root / "test_label" / "machine-9-9.txt", (np.arange(n) // 10 == 30).astype(int), fmt="%d")
    (root / "interpretation_label").mkdir()
    (root / "interpretation_label" / "machine-9-9.txt").write_text("300-309:2\n")  # 1-based: m1
    rows = stability.machine_rows("SMD", root)
    assert [r["against"] for r in rows] == ["B", "C"]
    for r in rows:
        assert r["edges (A)"] >= 1 and 0.0 <= r["edges differing"] <= 2.0
        assert r["same top cause"] == 1.0 and r["HitRate@100% A"] == 1.0 == r["HitRate@100% other"]
    out, data = tmp_path / "s.md", tmp_path / "data"
    (data / "smd").mkdir(parents=True)
    (data / "smd" / "ServerMachineDataset").symlink_to(root)
    env = {**os.environ, "FAULTGRAPH_DATA": str(data)}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stability.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"ASD skipped: {data / 'asd' / 'ApplicationServerDataset'} is absent." in proc.stderr
    text = out.read_text()
    assert "Skipped (data absent): ASD (`asd/ApplicationServerDataset`)." in text.splitlines()
    assert "machine-9-9" in text and "python benchmarks/stability.py --out" in text


def test_benchmarks_without_data_write_nothing(tmp_path):
    # docs/benchmarks.md: benchmarks skip with a message when the data folder is absent; one
    # that measured nothing writes no report (the committed table stays) and exits with 2
    import os

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "FAULTGRAPH_DATA": str(empty)}
    for script, folder in ((["adaptation.py"], empty / "smd" / "ServerMachineDataset"),
                           (["trainticket.py"], empty / "nezha"),
                           (["identify.py", "--parts", "sachs"], empty / "sachs")):
        out = tmp_path / f"{script[0]}.md"
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script[0]), *script[1:], "--out", str(out)],
                              capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 3, (script, proc.stderr[-2000:])  # not argparse's 2
        assert f"{folder} is absent" in proc.stderr and "Traceback" not in proc.stderr
        assert "nothing measured" in proc.stderr and f"{out} not written" in proc.stderr
        assert not out.exists()


def test_rca_and_detection_benchmark_comparisons():
    # issue 17: paired differences with bootstrap intervals, the best baseline, and
    # leave-one-dataset-out, on tables built by hand
    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import detection
    import rca
    from _common import bootstrap_interval

    assert bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    low, high = bootstrap_interval([0.0, 1.0] * 20)
    assert low < 0.5 < high
    from faultgraph.rca import DEFAULT_METHOD

    hits = {DEFAULT_METHOD: [1, 1, 0, 1], "nsigma": [1, 0, 0, 0], "traversal": [0, 1, 0, 1], "baro": [0, 0, 0, 0]}
    row = rca.paired_cases(hits, "toy")
    assert row["best baseline"] == "traversal" and row["difference"] == 0.25 and (row["better"], row["worse"]) == (1, 0)
    frame = pd.DataFrame([{"dataset": g, "machine": f"{g}{i}", "method": m, "F1": v, "best F1": v, "ROC-AUC": v}
                          for g in ("SMD (tune)", "SMD (report)", "ASD") for i in range(3)
                          for m, v in (("faultgraph", 0.8), ("z-score (plain)", 0.6), ("random", 0.99))])
    paired = detection.paired_table(frame)
    assert np.allclose(paired["mean difference"], 0.2) and set(paired["faultgraph wins"]) == {3}
    loo = detection.leave_one_out(frame)
    assert set(loo["chosen"]) == {"faultgraph"}  # random is never a candidate
    assert set(loo.loc[loo["left out"] == "SMD (report)", "chosen on"]) == {"SMD (tune) + ASD"}
