"""The field's baselines (issue 17): each equals a ranking worked out by hand on a small case."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from faultgraph.detect import ZScoreDetector
from faultgraph.errors import InvalidInputError
from faultgraph.rca.baselines import BASELINES, anomaly_scores, ranked_correlation, traversal, z_shift

#: Median 2, median absolute deviation 1: a value v scores |v - 2| in the median-deviation score.
BASE = [0.0, 1.0, 2.0, 3.0, 4.0]


def test_z_shift_by_hand():
    normal = pd.DataFrame({"a": [0, 2, 0, 2], "b": [10, 14, 10, 14], "c": [5, 5, 5, 5], "d": [1, 3, 1, 3]})
    anomalous = pd.DataFrame({"a": [4, 4], "b": [16, 18], "c": [5, 5], "d": [1, 1]})
    r = z_shift(normal, anomalous)
    # a: |4 - 1| / 1 = 3; b: |17 - 12| / 2 = 2.5; d: |1 - 2| / 1 = 1; c: constant, unmoved: 0
    assert r.metrics == ("a", "b", "d", "c")
    assert r.scores == pytest.approx((3.0, 2.5, 1.0, 0.0))
    assert r.to_dict()["ranking"][0] == {"metric": "a", "score": 3.0}


def test_z_shift_constant_that_moves_ranks_first_and_units_do_not_matter():
    normal = pd.DataFrame({"a": [0, 2, 0, 2], "c": [5, 5, 5, 5]})
    anomalous = pd.DataFrame({"a": [9, 9], "c": [6, 6]})
    r = z_shift(normal, anomalous)
    assert r.metrics == ("c", "a") and math.isinf(r.scores[0]) and r.to_dict()["ranking"][0]["score"] is None
    assert z_shift(normal * 1000, anomalous * 1000).metrics == r.metrics


def _correlation_case():
    normal = pd.DataFrame({"t": BASE, "a": BASE, "b": BASE, "c": BASE})
    anomalous = pd.DataFrame({"t": [10, 20, 30, 40], "a": [10, 21, 29, 40], "b": [40, 10, 30, 20],
                              "c": [2, 3, 1, 2]})
    return normal, anomalous


def test_anomaly_scores_by_hand():
    normal, anomalous = _correlation_case()
    scores, flags = anomaly_scores(normal, anomalous)
    assert scores.tolist() == [38.0, 38.0, 38.0, 1.0]  # max |v - 2| / 1
    assert flags.tolist() == [True, True, True, False]  # above 5


def test_ranked_correlation_by_hand():
    normal, anomalous = _correlation_case()
    r = ranked_correlation(normal, anomalous, target="t")
    # a follows t closely (r = 490 / sqrt(500 * 482) = 0.998), b hardly (r = -200 / 500 = -0.4):
    # a's p-value is the smaller; then the target itself, then c (not anomalous)
    assert r.metrics == ("a", "b", "t", "c") and r.target == "t" and r.candidates == 2
    p_b = stats.pearsonr(anomalous["b"], anomalous["t"])[1]
    assert r.scores[1] == pytest.approx(-math.log10(p_b))
    assert stats.pearsonr(anomalous["b"], anomalous["t"])[0] == pytest.approx(-0.4)
    # no target: the most anomalous metric, the first of the three tied at 38
    assert ranked_correlation(normal, anomalous).target == "t"
    assert ranked_correlation(normal * 60, anomalous * 60, target="t").metrics == r.metrics


def _traversal_case():
    cols = ["x", "y", "t", "z", "w"]
    normal = pd.DataFrame({c: BASE for c in cols})
    # scores (max |v - 2|): x 10, y 7, t 20, z 1 (not anomalous), w 28
    anomalous = pd.DataFrame({"x": [12, 10], "y": [8, 9], "t": [22, 20], "z": [3, 2], "w": [30, 2]})
    return normal, anomalous


def test_traversal_by_hand():
    normal, anomalous = _traversal_case()
    edges = [("x", "y"), ("y", "t"), ("z", "t")]
    r = traversal(normal, anomalous, target="t", graph=edges)
    # roots (anomalous, no anomalous parent): x and w; only x reaches t through anomalous
    # nodes: x -> y -> t scores 10 + 7 + 20 = 37. Then the other root w, then the other
    # anomalous metrics by score (t 20, y 7), then z.
    assert r.metrics == ("x", "w", "t", "y", "z") and r.candidates == 1
    assert r.scores[0] == pytest.approx(37.0)
    # the same graph as a square frame (rows cause columns)
    square = pd.DataFrame(0, index=list(normal.columns), columns=list(normal.columns))
    for a, b in edges:
        square.loc[a, b] = 1
    assert traversal(normal, anomalous, target="t", graph=square).metrics == r.metrics
    # no target: the most anomalous metric, w, a root that reaches itself (28)
    auto = traversal(normal, anomalous, graph=edges)
    assert auto.target == "w" and auto.metrics[:2] == ("w", "x") and auto.scores[0] == pytest.approx(28.0)


def test_traversal_counts_a_cycle_once():
    normal, anomalous = _traversal_case()
    r = traversal(normal, anomalous, target="t", graph=[("x", "y"), ("y", "t"), ("t", "y")])
    assert r.metrics[0] == "x" and r.scores[0] == pytest.approx(37.0)


def test_baselines_refuse_bad_input():
    normal, anomalous = _traversal_case()
    with pytest.raises(InvalidInputError, match="traversal needs graph"):
        traversal(normal, anomalous)
    with pytest.raises(InvalidInputError, match="target 'nope' is not a column"):
        ranked_correlation(normal, anomalous, target="nope")
    with pytest.raises(InvalidInputError, match="same columns"):
        z_shift(normal, anomalous[["x", "y"]])
    with pytest.raises(InvalidInputError, match="anomalous has no rows"):
        z_shift(normal, anomalous.iloc[:0])
    with pytest.raises(InvalidInputError, match=r"graph must be a \(5, 5\) array"):
        traversal(normal, anomalous, graph=np.zeros((2, 2)))
    assert set(BASELINES) == {"z-shift", "ranked correlation", "traversal"}


def test_zscore_detector_by_hand():
    train = pd.DataFrame({"a": [0.0, 2.0] * 50, "b": [0.0, 4.0] * 50})  # means 1, 2; sds 1, 2
    det = ZScoreDetector().fit(train)
    assert det.threshold_ == pytest.approx(1.0)  # every training step has max |z| = 1
    test = pd.DataFrame({"a": [5.0, 1.0], "b": [0.0, 2.0 + 6.0]})
    # step 0: z_a = 4, z_b = -1 -> 4; step 1: z_a = 0, z_b = 3 -> 3
    scores = det.score_samples(test)
    assert scores["score"].tolist() == pytest.approx([4.0, 3.0])
    assert scores["anomaly"].tolist() == [1, 1]
    assert ZScoreDetector().fit(train * 1e6).score_samples(test * 1e6)["score"].tolist() == pytest.approx([4.0, 3.0])


def test_docs_examples_run(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "baselines.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    for code in blocks:
        exec(compile(code, "docs/baselines.md", "exec"), {})
    assert capsys.readouterr().out.split("\n")[:4] == [
        "['api_latency', 'db_cpu']", "['db_cpu']", "['db_cpu']", "1"]


def test_trigger_row_as_the_petshop_harness_reads_it():
    from faultgraph.rca.baselines import trigger_row

    normal = pd.DataFrame({"t": BASE, "a": BASE})
    # t is anomalous (> 5 from its median 2) first at position 3; a only at position 0
    anomalous = pd.DataFrame({"t": [2, 30, 2, 20, 2], "a": [40, 2, 2, 2, 9]})
    assert trigger_row(normal, anomalous, "t") == 3  # from the third row on: not position 1
    scores, flags = anomaly_scores(normal, anomalous, row=3)
    assert scores.tolist() == [18.0, 0.0] and flags.tolist() == [True, False]
    assert trigger_row(normal, anomalous.assign(t=2), "t") == 2  # never anomalous: the third row
    with pytest.raises(InvalidInputError, match="row must be a position in anomalous, 0 to 4, got 5"):
        anomaly_scores(normal, anomalous, row=5)
    # at row 4, a (|9 - 2| = 7) is anomalous and t is not: a is traversal's only root
    assert traversal(normal, anomalous, target="t", graph=[("a", "t")], row=4).metrics[0] == "a"
