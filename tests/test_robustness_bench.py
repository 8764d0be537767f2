"""benchmarks/robustness_smd.py and robustness.py's drop table, on hand-made tables."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_smd_summary_pairs_each_configuration_with_the_defaults():
    import robustness_smd

    frame = pd.DataFrame({"machine": ["a", "b", "a", "b"], "config": ["defaults", "defaults", "x", "x"],
                          "F1": [0.5, 0.7, 0.6, 0.7], "best F1": [0.6, 0.8, 0.6, 0.6],
                          "ROC-AUC": [0.9, 0.9, 0.95, 0.95]})
    out = robustness_smd.summary(frame).set_index("config")
    assert out.loc["x", "F1"] == pytest.approx(0.65) and out.loc["defaults", "best F1"] == pytest.approx(0.7)
    assert out.loc["x", "Δ best F1 [95 % CI]"].startswith("-0.100 [-0.200, +0.000]")
    assert out.loc["x", "Δ ROC-AUC [95 % CI]"].startswith("+0.050 [+0.050, +0.050]")
    assert out.loc["defaults", "Δ F1 [95 % CI]"] == ""


def test_drop_table_is_the_paired_difference_per_seed():
    import robustness

    table = pd.DataFrame([
        {"level": "i", "method": "m", "AUC": 0.9, "AUCs": [0.9, 0.9], "F1": 0.8, "AC@1 metric": 1.0, "AC@1 service": 1.0},
        {"level": "h", "method": "m", "AUC": 0.85, "AUCs": [0.8, 0.9], "F1": 0.7, "AC@1 metric": 0.5,
         "AC@1 service": 1.0},
    ])
    row = robustness.drop_table(table, "i", "h").iloc[0]
    assert row["AUC drop [95 % CI]"] == "0.050 [0.000, 0.100]"
    assert row["F1 drop"] == pytest.approx(0.1) and row["AC@1 metric drop"] == pytest.approx(0.5)
