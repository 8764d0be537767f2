"""Graph ensembles: edge confidence, the dask path equal to the in-process one, the label a sink."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from faultgraph import StructureLearner
from faultgraph.discovery.ensemble import (
    GraphEnsemble,
    block_bootstrap_rows,
    edge_confidence,
    learn_graph_ensemble,
    time_forbidden,
)
from faultgraph.errors import InvalidInputError
from faultgraph.simulate.graphs import simulate_dag, simulate_linear_sem, simulate_weights


def _data(d: int = 6, n: int = 800, seed: int = 0) -> np.ndarray:
    B = simulate_dag(d, 1.5, random_state=seed)
    return simulate_linear_sem(simulate_weights(B, random_state=seed + 1), n, random_state=seed + 2)


def test_confidence_equals_a_hand_count():
    g1 = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=float)  # a->b, b->c
    g2 = np.array([[0, 0, 0], [1, 0, 1], [0, 0, 0]], dtype=float)  # b->a, b->c
    g3 = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]], dtype=float)  # a->b, a->c
    g4 = np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0]], dtype=float)  # c->b
    conf, rev = edge_confidence(np.stack([g1, g2, g3, g4]))
    assert conf[0, 1] == 2 / 4 and rev[0, 1] == 1 / 4  # a->b in g1, g3; b->a in g2
    assert conf[1, 2] == 2 / 4 and rev[1, 2] == 1 / 4  # b->c in g1, g2; c->b in g4
    assert conf[0, 2] == 1 / 4 and rev[0, 2] == 0.0
    assert conf[2, 1] == 1 / 4 and rev[2, 1] == 2 / 4
    ens = GraphEnsemble(("a", "b", "c"), np.stack([g1, g2, g3, g4]))
    table = {(e["source"], e["target"]): (e["confidence"], e["reversed"]) for e in ens.edge_table(g1)}
    assert table == {("a", "b"): (0.5, 0.25), ("b", "c"): (0.5, 0.25)}


def test_full_rows_give_the_learners_graph_and_resamples_vary():
    X = _data()
    learner = StructureLearner().fit(X)
    ens = learn_graph_ensemble(X, 6, n_workers=0, random_state=3)
    assert ens.graphs.shape == (6, 6, 6) and ens.n_rows == 800 and ens.block == 10
    from faultgraph.discovery.ensemble import _fit_rows, GraphSpec

    W, _ = _fit_rows(GraphSpec(n_vars=6), X, None)
    np.testing.assert_array_equal(W, learner.adjacency_)  # moments path == StructureLearner
    assert len({g.tobytes() for g in ens.graphs}) > 1


def test_screened_ensemble_learns_each_graph_as_the_screened_learner_does():
    # raw scale (the screen's order is then the variances'): every resample's graph is
    # StructureLearner(screen=True)'s on the same rows, and the planted edges are found
    X = _data(d=8, n=1500, seed=4)
    truth = simulate_dag(8, 1.5, random_state=4) != 0  # _data's planted DAG
    ens = learn_graph_ensemble(X, 3, n_workers=0, block=1, random_state=5, standardize=False, screen=True)
    for graph, seed in zip(ens.graphs, ens.seeds):
        rows = block_bootstrap_rows(len(X), 1, np.random.default_rng(int(seed)))
        learner = StructureLearner(screen=True, standardize=False).fit(X[rows])
        np.testing.assert_array_equal(graph != 0, learner.adjacency_ != 0)
        assert ((graph != 0) & truth).sum() >= truth.sum() - 1
    with pytest.raises(InvalidInputError, match="screen must be True or False, got 'yes'"):
        learn_graph_ensemble(X, 2, n_workers=0, screen="yes")


def test_block_bootstrap_rows_are_runs_of_consecutive_rows():
    rows = block_bootstrap_rows(100, 10, np.random.default_rng(0))
    assert rows.shape == (100,) and rows.min() >= 0 and rows.max() < 100
    assert all(np.all(np.diff(chunk) == 1) for chunk in rows.reshape(10, 10))
    with pytest.raises(InvalidInputError, match="block must be an integer >= 1"):
        block_bootstrap_rows(100, 0, np.random.default_rng(0))


def test_time_forbids_the_same_step_direction_against_a_one_way_lag():
    L = np.zeros((1, 3, 3))
    L[0, 0, 1] = 0.5  # a(t-1) -> b(t) only
    L[0, 1, 2] = L[0, 2, 1] = 0.4  # both ways: no order
    F = time_forbidden(L)
    assert F[1, 0] and not F[0, 1] and not F[1, 2] and not F[2, 1]


@pytest.fixture
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_and_in_process_give_identical_graphs(dask_client):
    X = _data(seed=5)
    inline = learn_graph_ensemble(X, 8, n_workers=0, random_state=11, lags=1)
    on_dask = learn_graph_ensemble(X, 8, client=dask_client, random_state=11, lags=1)
    np.testing.assert_array_equal(inline.graphs, on_dask.graphs)
    np.testing.assert_array_equal(inline.lagged, on_dask.lagged)
    np.testing.assert_array_equal(inline.seeds, on_dask.seeds)


def _labelled(seed: int = 0, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _data(d=6, n=n, seed=seed)
    eta = 1.5 * X[:, 0] / X[:, 0].std() - 1.0
    frame = pd.DataFrame(X, columns=[f"m{i}" for i in range(6)])
    frame["fault"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return frame


def test_label_stays_a_sink_under_every_resample(tmp_path):
    from faultgraph.detect import FaultIdentifier

    frame = _labelled()
    model = FaultIdentifier(bootstrap=12, n_workers=0, lags=1).fit(frame)
    ens = model.ensemble_
    assert ens.graphs.shape == (12, 7, 7) and ens.nodes[-1] == "fault"
    assert not ens.graphs[:, -1, :].any() and not ens.lagged[:, :, -1, :].any()  # no edge out of the label
    assert ens.graphs[:, :, -1].any(axis=1).all()  # and it has parents in every graph
    loaded = FaultIdentifier.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.ensemble_.graphs, ens.graphs)
    np.testing.assert_array_equal(loaded.graph_.lagged, model.graph_.lagged)
    np.testing.assert_array_equal(loaded.time_order_, model.time_order_)
    np.testing.assert_array_equal(loaded.ensemble_.time_order, ens.time_order)
    assert not model.time_order_[:, -1, :].any() and ens.time_order.shape == (12, 1, 7, 7)
    assert loaded.lags == 1 and loaded.bootstrap == 12
    np.testing.assert_array_equal(loaded.ensemble_.rows(3), ens.rows(3))


def test_effects_report_from_an_ensemble_model():
    from faultgraph.config import FitConfig
    from faultgraph.workflows import effects_report, fit_label_model

    model = fit_label_model(_labelled(seed=2), FitConfig(label="fault"), bootstrap=10, n_workers=0)
    scores, doc = effects_report(model)
    first = doc["scores"][0]
    assert list(first) == ["node", "ate", "ci_low", "ci_high", "score", "paths", "identified", "ate_bounds",
                           "confidence"]
    assert doc["n_graphs"] == 10 and doc["summary"].startswith("Certain causes of fault")
    for s in scores.scores:
        assert 0.0 <= s.confidence <= 1.0 and s.ate_bounds[0] <= s.ate <= s.ate_bounds[1] + 1e-12


def test_older_model_folder_without_the_new_keys_still_loads(tmp_path):
    import json

    from faultgraph.detect import FaultIdentifier
    from faultgraph.io import load_model_dir, save_model_dir

    folder = FaultIdentifier().fit(_labelled(seed=4)).save(tmp_path / "m")
    meta, arrays = load_model_dir(folder)
    for key in ("lags", "bootstrap", "block", "random_state"):
        meta["params"].pop(key)
    save_model_dir(tmp_path / "old", json.loads(json.dumps(meta)), dict(arrays))
    old = FaultIdentifier.load(tmp_path / "old")
    assert old.lags == 0 and old.bootstrap == 0 and old.ensemble_ is None and old.graph_.lagged is None


def test_bad_bootstrap_is_named():
    from faultgraph.detect import FaultIdentifier

    with pytest.raises(InvalidInputError, match="bootstrap must be 0 .* or an integer from 2 to 10000.*got 1"):
        FaultIdentifier(bootstrap=1).fit(_labelled())
    with pytest.raises(InvalidInputError, match="bootstrap must be 0 .* or an integer from 2 to 10000"):
        FaultIdentifier(bootstrap=10**20).fit(_labelled())
    with pytest.raises(InvalidInputError, match="lags must be an integer >= 0"):
        FaultIdentifier(lags=-1).fit(_labelled())


def test_graph_view_draws_confidence_and_lists_weak_edges():
    pytest.importorskip("networkx")
    from faultgraph.report.svg import graph_view

    W = np.array([[0, 1.0, 0], [0, 0, 0.8], [0, 0, 0]])
    conf = np.array([[0, 0.9, 0], [0, 0, 0.3], [0, 0, 0]])
    svg = graph_view(["a", "b", "c"], W, confidence=conf)
    assert svg.count('stroke-dasharray="4 3"') == 1 and "low-confidence" in svg
    assert "low confidence (dashed): b → c 30%" in svg and "(in 90% of the graphs)" in svg
    assert "low-confidence" not in graph_view(["a", "b", "c"], W)


def test_discover_with_bootstrap_gives_edge_confidence(tmp_path):
    from faultgraph.workflows import learn_graph_ensemble as discover_ensemble

    frame = pd.DataFrame(_data(d=5, n=600, seed=8), columns=list("abcde"))
    result = discover_ensemble(frame, n_graphs=6, n_workers=0, random_state=1)
    doc = result.to_dict()
    assert doc["n_graphs"] == 6 and doc["edges"]
    for e in doc["edges"]:
        assert 0 <= e["confidence"] <= 1 and 0 <= e["reversed"] <= 1 and e["confidence"] + e["reversed"] <= 1
        assert e["by"] in {"time", "prior", "v-structure", "implied", "not identified"}
    assert all(e["confidence"] < 0.5 for e in doc["low_confidence_edges"])


def test_equal_weights_give_the_full_data_graph_exactly():
    # each row once as bootstrap weights is the full data: the same moments to the last bit,
    # so the same graph (1e-16 apart, a thresholded edge had turned)
    from faultgraph.discovery.ensemble import GraphSpec, _fit_rows, weighted_moments

    X = _data(d=8, n=500, seed=2)
    for standardize in (True, False):
        np.testing.assert_array_equal(weighted_moments(X, np.ones(len(X)), standardize=standardize),
                                      weighted_moments(X, None, standardize=standardize))
    spec = GraphSpec(n_vars=8)
    np.testing.assert_array_equal(_fit_rows(spec, X, None)[0], _fit_rows(spec, X, np.arange(len(X)))[0])
    with pytest.raises(InvalidInputError, match="block must be shorter than the data's 500 rows, got 500"):
        learn_graph_ensemble(X, 3, n_workers=0, block=500)


def test_discover_orients_only_what_the_data_and_the_ensemble_hold():
    from faultgraph.config import LearnConfig
    from faultgraph.workflows import learn_graph_ensemble as discover_ensemble

    rng = np.random.default_rng(7)
    n = 3000
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = 0.9 * a + 0.9 * b + rng.normal(size=n)  # a collider: a -> c <- b, a and b independent
    d = 0.8 * c + rng.normal(size=n)  # c -> d follows from it (Meek's first rule)
    frame = pd.DataFrame({"a": a, "b": b, "c": c, "d": d})

    def identified(doc: dict) -> dict:
        out = {}
        for e in doc["edges"]:
            if e["oriented"]:
                pair = (e["source"], e["target"]) if e["direction"] == "as learned" else (e["target"], e["source"])
                out[pair] = e["by"]
            else:
                assert e["direction"] is None
        return out

    raw = LearnConfig(standardize=False)  # the learner finds the skeleton; the data orient the collider
    oriented = identified(discover_ensemble(frame, raw, n_graphs=10, n_workers=0, random_state=0).to_dict())
    assert oriented.get(("a", "c")) == "v-structure" and oriented.get(("b", "c")) == "v-structure"
    assert set(oriented) <= {("a", "c"), ("b", "c"), ("c", "d")}  # nothing oriented the wrong way
    # standardised, the learner adds a - b and turns the arrows round (the triple is shielded):
    # what is oriented, if anything, is still right
    oriented = identified(discover_ensemble(frame, n_graphs=10, n_workers=0, random_state=0).to_dict())
    assert set(oriented) <= {("a", "c"), ("b", "c"), ("c", "d")}
    # a chain has no v-structure: no direction is identified, however sure the learner is
    chain = pd.DataFrame({"x": a, "y": 0.9 * a + rng.normal(size=n)})
    chain["z"] = 0.9 * chain["y"] + rng.normal(size=n)
    doc = discover_ensemble(chain, n_graphs=10, n_workers=0, random_state=0).to_dict()
    assert doc["edges"] and not any(e["oriented"] for e in doc["edges"])


def test_a_v_structure_orients_only_where_the_ensemble_holds_both_arms():
    from faultgraph.effects.identify import orient_graph

    A = np.zeros((4, 4))
    A[0, 2] = A[1, 2] = A[2, 3] = 1  # 0 -> 2 <- 1, 2 -> 3
    allowed = np.ones((4, 4), dtype=bool)
    allowed[3, 2] = False  # the prior orients 2 -> 3
    o = orient_graph(A, list("abcd"), allowed=allowed)
    assert {(m.source, m.target, m.by) for m in o.marks() if m.oriented} == {
        ("a", "c", "v-structure"), ("b", "c", "v-structure"), ("c", "d", "prior")}
    support = np.zeros((4, 4))
    support[0, 2], support[1, 2] = 0.9, 0.3  # few graphs hold b -> c: the pair does not stand, nor its other arm
    kept = orient_graph(A, list("abcd"), allowed=allowed, support=support)
    assert {(m.source, m.target, m.by) for m in kept.marks() if m.oriented} == {("c", "d", "prior")}
    support[1, 2] = 0.6
    kept = orient_graph(A, list("abcd"), allowed=allowed, support=support)
    assert {(m.source, m.target) for m in kept.marks() if m.oriented} == {("a", "c"), ("b", "c"), ("c", "d")}


def test_an_ensemble_that_cannot_finish_is_refused_with_the_numbers(monkeypatch):
    import faultgraph.workflows as wf
    from faultgraph._budget import limits

    frame = pd.DataFrame(_data(d=5, n=300, seed=1), columns=list("abcde"))
    started = time.perf_counter()
    wf.learn_graph(frame)
    one = time.perf_counter() - started
    # a limit of 200 fits: 2 more pass and 10,000 cannot, however fast or loaded the machine
    with limits(max_seconds=200 * one):
        with pytest.raises(InvalidInputError, match=r"--bootstrap 10000: about .* for 10000 graphs .one took .*, 1 at "
                                                    r"once., more than the .* allowed; --bootstrap \d+ or "
                                                    r"fewer fits, or force it \(--force; in Python `with "
                                                    r"faultgraph._budget.limits\(force=True\):`\) to run it anyway"):
            wf.learn_graph_ensemble(frame, n_graphs=10_000, n_workers=0)
        assert wf.learn_graph_ensemble(frame, n_graphs=2, n_workers=0).ensemble.n_graphs == 2


def test_a_label_models_ensemble_that_cannot_finish_is_refused_before_its_resamples(monkeypatch):
    import faultgraph.discovery.ensemble as ensemble
    from faultgraph._budget import limits
    from faultgraph.detect import FaultIdentifier

    frame = pd.DataFrame(_data(d=4, n=300, seed=2), columns=list("abcd"))
    frame["fault"] = (frame["d"] > frame["d"].quantile(0.8)).astype(float)
    started = []
    real = ensemble.run_resamples
    monkeypatch.setattr(ensemble, "run_resamples", lambda *a, **k: started.append(1) or real(*a, **k))
    one = FaultIdentifier("fault", n_workers=0).fit(frame).fit_seconds_
    with limits(max_seconds=200 * one):  # 2 more fits pass and 10,000 cannot, however fast or loaded the machine
        with pytest.raises(InvalidInputError, match=r"--bootstrap 10000: about .* for 10000 graphs"):
            FaultIdentifier("fault", bootstrap=10_000, n_workers=0).fit(frame)
        assert not started  # refused before the resamples
        assert FaultIdentifier("fault", bootstrap=2, n_workers=0).fit(frame).ensemble_.n_graphs == 2


def test_discover_refuses_a_bad_scheduler_or_block_before_the_work(monkeypatch):
    import faultgraph.workflows as wf

    frame = pd.DataFrame(_data(d=4, n=200, seed=3), columns=list("abcd"))
    learned = []
    monkeypatch.setattr(wf, "learn_graph", lambda *a, **k: learned.append(1))  # the work: must not start
    with pytest.raises(InvalidInputError, match="scheduler 'nonsense' is neither an address"):
        wf.learn_graph_ensemble(frame, n_graphs=3, scheduler="nonsense")
    with pytest.raises(InvalidInputError, match="scheduler 'http://127.0.0.1:8787/status' is no dask address"):
        wf.learn_graph_ensemble(frame, n_graphs=3, scheduler="http://127.0.0.1:8787/status")
    with pytest.raises(InvalidInputError, match="block must be shorter than the data's 200 rows, got 200"):
        wf.learn_graph_ensemble(frame, n_graphs=3, n_workers=0, block=200)
    assert not learned
