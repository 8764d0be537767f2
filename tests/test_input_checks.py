"""Bad input to the prior and the evaluation metrics: a clear InvalidInputError, never garbage."""

from __future__ import annotations

import numpy as np
import pytest

from faultgraph import InvalidInputError
from faultgraph.discovery import PriorKnowledge
from faultgraph.evaluate import (
    ac_at_k,
    avg_at_k,
    detection_report,
    hit_rate,
    label_segments,
    ndcg,
    point_adjust,
)


def test_prior_takes_a_bare_string_as_one_name():
    assert PriorKnowledge(sinks="fault").sinks == ("fault",)
    assert PriorKnowledge(sources="traffic").sources == ("traffic",)
    assert PriorKnowledge(tiers=("cd", "ab")).tiers == (("cd",), ("ab",))
    assert PriorKnowledge(tiers=[["a"], "b"]).tiers == (("a",), ("b",))
    allowed, _ = PriorKnowledge(sinks="fault").masks(["fault", "cpu"])
    assert not allowed[0].any() and allowed[1, 0]
    with pytest.raises(InvalidInputError, match="tiers must be a list of lists of metric names, got 'abc'"):
        PriorKnowledge(tiers="abc")
    with pytest.raises(InvalidInputError, match=r"sinks\[0\] must be a metric name, got \['a', 'b'\]"):
        PriorKnowledge(sinks=[["a", "b"]])
    with pytest.raises(InvalidInputError, match="sources must be a list of metric names, got 5"):
        PriorKnowledge(sources=5)


def test_prior_edges_as_strings_or_pairs():
    want = (("cpu", "lat"),)
    assert PriorKnowledge(forbidden="cpu -> lat").forbidden == want
    assert PriorKnowledge(forbidden=["cpu -> lat"]).forbidden == want
    assert PriorKnowledge(required=[["cpu", "lat"]]).required == want
    assert PriorKnowledge(forbidden=["cpu -> lat", "lat -> mem"]).forbidden == (("cpu", "lat"), ("lat", "mem"))
    with pytest.raises(InvalidInputError, match=r"forbidden must be a list of edges, got the flat pair "
                                                r"\['cpu', 'lat'\]; .* write \[\['cpu', 'lat'\]\]"):
        PriorKnowledge(forbidden=["cpu", "lat"])
    with pytest.raises(InvalidInputError, match=r"required must be a list of edges, got the flat pair"):
        PriorKnowledge(required=("cpu", "lat"))
    with pytest.raises(InvalidInputError, match=r"forbidden\[1\]: an edge must be \[source, target\] or "
                                                r"'source -> target', got 'mem'"):
        PriorKnowledge(forbidden=["cpu -> lat", "mem"])
    with pytest.raises(InvalidInputError, match=r"forbidden: an edge must be .*, got 'cpu'"):
        PriorKnowledge(forbidden="cpu")
    for bad in ("a -> b -> c", "a -> ", ("a", "b", "c")):
        with pytest.raises(InvalidInputError, match=r"forbidden\[0\]: an edge must be"):
            PriorKnowledge(forbidden=[bad])
    with pytest.raises(InvalidInputError, match="required must be a list of edges .*, got 3"):
        PriorKnowledge(required=3)


def test_prior_yaml_reads_the_same_shapes(tmp_path):
    path = tmp_path / "prior.yaml"
    path.write_text("forbidden: 'a -> b'\nsinks: fault\ntiers:\n  - a\n  - [b, c]\n", encoding="utf-8")
    prior = PriorKnowledge.from_yaml(path)
    assert prior == PriorKnowledge(forbidden=[("a", "b")], tiers=[["a"], ["b", "c"]], sinks=["fault"])
    path.write_text("required: [a, b]\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"prior.yaml.required must be a list of edges, got the flat pair"):
        PriorKnowledge.from_yaml(path)


def test_label_segments_refuses_labels_other_than_0_1():
    assert label_segments(np.array([False, True, True])) == [(1, 2)]
    assert label_segments([]) == []
    with pytest.raises(InvalidInputError, match=r"labels must hold only 0 and 1 \(or booleans\), got -1.0"):
        label_segments([-1, -1, 1, 1, -1])
    with pytest.raises(InvalidInputError, match="labels must hold only 0 and 1 .*got 0.5, nan"):
        label_segments([0, 0.5, np.nan, 1])


def test_paired_arrays_must_have_one_length():
    with pytest.raises(InvalidInputError, match="labels and score must have the same length, got 4 and 2"):
        point_adjust([0, 1, 1, 0], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="labels and score must have the same length, got 2 and 3"):
        detection_report([0, 1], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(InvalidInputError, match="labels must hold only 0 and 1"):
        point_adjust([0, 2], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="score has NaN"):
        point_adjust([0, 1], [0.1, np.nan])


def test_detection_report_refuses_a_nan_threshold():
    labels, score = [0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2]
    for bad in (np.nan, "0.5", None):
        with pytest.raises(InvalidInputError, match=r"threshold must be a number \(not NaN\), got"):
            detection_report(labels, score, bad)
    assert detection_report(labels, score, np.inf).recall == 0.0
    one_class = detection_report([0, 0, 0, 0], score, 0.5)
    assert np.isnan(one_class.roc_auc) and one_class.n_events == 0


@pytest.mark.parametrize("percent", [0, -5, np.nan, np.inf, "50", None])
def test_hit_rate_and_ndcg_need_a_positive_percent(percent):
    for metric in (hit_rate, ndcg):
        with pytest.raises(InvalidInputError, match=r"percent must be a finite number > 0 .*, got"):
            metric([2, 5, 0], [0, 2], percent)


def test_hit_rate_allows_more_than_100_percent_and_refuses_duplicates():
    assert hit_rate([2, 5, 0], [0, 2], 200) == 1.0
    with pytest.raises(InvalidInputError, match="ranking lists metrics more than once: 2"):
        ndcg([2, 2, 0], [0, 2])
    with pytest.raises(InvalidInputError, match="labelled lists metrics more than once: 0"):
        hit_rate([2, 5, 0], [0, 0])


@pytest.mark.parametrize("k", [0, -1, 1.5, np.nan, True])
def test_ac_and_avg_at_k_agree_on_k(k):
    for metric in (ac_at_k, avg_at_k):
        with pytest.raises(InvalidInputError, match="k must be an integer >= 1, got"):
            metric([["a", "b"]], ["a"], k)


def test_rankings_are_lists_not_strings():
    assert ac_at_k([["a", "b"]], ["b"], np.int64(2)) == 1.0
    with pytest.raises(InvalidInputError, match=r"rankings\[0\] must be a list of names, got the string 'ab'"):
        ac_at_k(["ab"], ["b"], 1)
    with pytest.raises(InvalidInputError, match="rankings must be a list of rankings .* got list and str"):
        ac_at_k([["a"], ["b"]], "ab", 1)


def test_a_frame_with_numbered_columns_round_trips_as_text_names():
    # pd.DataFrame(array) numbers its columns 0, 1, ...; faultgraph keeps metric names as
    # text ("0"), and every entry point takes the numbered frame (it refused it before:
    # "missing '0', '1'; extra 0, 1")
    import pandas as pd

    from faultgraph.detect import CausalDetector, FaultIdentifier, NSigmaDetector
    from faultgraph.effects import average_treatment_effect
    from faultgraph.rca import explain
    from faultgraph.sem import SEM

    rng = np.random.default_rng(0)
    a = rng.normal(size=600)
    b = 2.0 * a + 0.5 * rng.normal(size=600)
    frame = pd.DataFrame(np.column_stack([a, b]))
    for detector in (NSigmaDetector(drift_window=0, background_window=0), CausalDetector(drift_window=0)):
        scores = detector.fit(frame.iloc[:500]).score_samples(frame)
        assert len(scores) == 600 and np.isfinite(scores["score"]).all()
    model = CausalDetector().fit(frame.iloc[:500])
    assert explain(model, frame, (500, 599), target=1).target == "1"
    sem = SEM().fit(frame, {1: [0]})
    assert sem.parents_ == {"0": [], "1": ["0"]}
    assert average_treatment_effect(sem, "0", "1", n_bootstrap=0).ate == pytest.approx(2.0, abs=0.05)
    with pytest.raises(InvalidInputError, match=r"target 1 is not a node of the model \(names are text: '1'\)"):
        average_treatment_effect(sem, "0", 1)
    labelled = frame.assign(fault=(b > 3).astype(int))
    identifier = FaultIdentifier().fit(labelled)
    assert identifier.predict_proba(frame).shape == (600,)
    with pytest.raises(InvalidInputError, match="label must be a column name as text"):
        FaultIdentifier(label=2).fit(pd.DataFrame(np.column_stack([a, b, b > 3])))


def test_predict_ignores_a_label_column_of_unknown_future_labels():
    import pandas as pd

    from faultgraph.detect import FaultIdentifier

    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    frame = pd.DataFrame({"a": a, "b": a + 0.3 * rng.normal(size=500), "fault": (a > 1.5).astype(int)})
    model = FaultIdentifier().fit(frame)
    expected = model.predict_proba(frame.drop(columns="fault"))
    np.testing.assert_array_equal(model.predict_proba(frame.assign(fault=np.nan)), expected)


@pytest.mark.parametrize("value", [True, 1.0, "2", -1, np.float64(3.0)])
def test_check_whole_refuses_what_is_not_a_count(value):
    from faultgraph._validation import check_whole

    with pytest.raises(InvalidInputError, match=r"^retries must be an integer >= 0, got "):
        check_whole("retries", value, 0)


def test_check_whole_returns_an_int_and_allows_none_only_when_optional():
    from faultgraph._validation import check_whole

    assert check_whole("block", np.int64(4), 1, "rows per block") == 4
    assert type(check_whole("block", np.int64(4), 1)) is int
    assert check_whole("batch", None, 1, optional=True) is None
    with pytest.raises(InvalidInputError, match=r"block must be an integer >= 1 \(rows per block\), got None"):
        check_whole("block", None, 1, "rows per block")
    with pytest.raises(InvalidInputError, match=r"batch must be an integer >= 1 or None \(items per task\), got 0"):
        check_whole("batch", 0, 1, "items per task", optional=True)


def test_a_negative_seed_is_refused_by_name():
    from faultgraph._validation import as_generator

    with pytest.raises(InvalidInputError, match="random_state must be a seed >= 0, None or a numpy Generator, got -1"):
        as_generator(-1)
    assert as_generator(0).integers(10) == np.random.default_rng(0).integers(10)
    from faultgraph.simulate import simulate_incident

    with pytest.raises(InvalidInputError, match="random_state must be a seed >= 0"):
        simulate_incident(services=3, random_state=-5)
