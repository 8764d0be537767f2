"""Supervised fault identification (the paper's setting) and model folders."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, NotFittedError
from faultgraph.detect import FaultIdentifier
from faultgraph.effects import causal_scores
from faultgraph.evaluate import classification_scores
from faultgraph.io.model import SCHEMA_VERSION
from faultgraph.simulate import simulate_labelled_faults


@pytest.fixture(scope="module")
def labelled():
    data, sim, causes = simulate_labelled_faults(random_state=3)
    return data, causes


def test_label_causes_are_the_top_causal_scores_on_most_seeds():
    hits = []
    for seed in range(10):
        data, _, causes = simulate_labelled_faults(nodes=20, samples=2000, random_state=seed)
        model = FaultIdentifier().fit(data)
        top = causal_scores(model.sem_, "fault", n_bootstrap=0, random_state=0).top(3)
        hits.append(set(top) == set(causes))
    assert sum(hits) >= 9, hits


def test_label_is_a_sink_and_its_parents_are_found(labelled):
    data, causes = labelled
    model = FaultIdentifier().fit(data)
    assert set(model.label_parents_) == set(causes)
    i = model.graph_.nodes.index("fault")
    assert not model.graph_.adjacency[i].any()  # no edge out of the label


def test_predictions_beat_chance_on_held_out_rows(labelled):
    data, _ = labelled
    model = FaultIdentifier().fit(data.iloc[:1000])
    test = data.iloc[1000:]
    proba = model.predict_proba(test)
    scores = classification_scores(test["fault"], model.predict(test), proba)
    assert scores.roc_auc > 0.8 and scores.f1 > 0.5
    assert ((proba >= 0) & (proba <= 1)).all()


def test_save_and_load_give_identical_predictions(labelled, tmp_path):
    data, _ = labelled
    model = FaultIdentifier().fit(data)
    model.save(tmp_path / "model")
    again = FaultIdentifier.load(tmp_path / "model")
    np.testing.assert_array_equal(model.predict_proba(data), again.predict_proba(data))
    assert again.decision_threshold_ == model.decision_threshold_
    a = causal_scores(model.sem_, "fault", n_bootstrap=0, random_state=0).to_dict()
    b = causal_scores(again.sem_, "fault", n_bootstrap=0, random_state=0).to_dict()
    assert a == b
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["schema_version"] == SCHEMA_VERSION == 2 and "arrays_sha256" in meta
    assert not list((tmp_path / "model").glob("*.tmp")) and not list((tmp_path / "model").glob(".*"))


def test_damaged_models_are_refused_with_a_clear_message(labelled, tmp_path):
    data, _ = labelled
    folder = FaultIdentifier().fit(data).save(tmp_path / "model")
    arrays = folder / "arrays.npz"
    blob = arrays.read_bytes()
    arrays.write_bytes(blob[: len(blob) // 2])  # truncated
    with pytest.raises(InvalidInputError, match="damaged.*checksum"):
        FaultIdentifier.load(folder)
    arrays.write_bytes(blob)
    meta = folder / "model.json"
    text = meta.read_text()
    meta.write_text(text[: len(text) // 2])
    with pytest.raises(InvalidInputError, match="model file .* is damaged"):
        FaultIdentifier.load(folder)
    spec = json.loads(text)
    spec["schema_version"] = 99
    meta.write_text(json.dumps(spec))
    with pytest.raises(InvalidInputError, match="newer faultgraph.*upgrade"):
        FaultIdentifier.load(folder)
    spec["schema_version"] = 1
    del spec["sem"]
    meta.write_text(json.dumps(spec))
    with pytest.raises(InvalidInputError, match="damaged"):
        FaultIdentifier.load(folder)
    with pytest.raises(InvalidInputError, match="not a faultgraph model folder"):
        FaultIdentifier.load(tmp_path / "nowhere")
    spec = json.loads(text)
    for version in (0, True, "1"):
        meta.write_text(json.dumps({**spec, "schema_version": version}))
        with pytest.raises(InvalidInputError, match=f"schema_version must be a whole number >= 1, got {version!r}"):
            FaultIdentifier.load(folder)
    meta.write_text(json.dumps({k: v for k, v in spec.items() if k != "task"}))
    with pytest.raises(InvalidInputError,
                       match="is a model that names no task, not a 'supervised-fault-identification' one"):
        FaultIdentifier.load(folder)
    meta.write_text(json.dumps({**spec, "encoder": "x"}))
    with pytest.raises(InvalidInputError, match="is damaged: missing or bad field"):
        FaultIdentifier.load(folder)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidInputError, match="is an existing file; give a folder path"):
        FaultIdentifier().fit(data).save(tmp_path / "a-file")


def test_damaged_unsupervised_models_and_bad_output_paths(tmp_path):
    from typer.testing import CliRunner

    from faultgraph.cli import app
    from faultgraph.detect import CausalDetector
    from faultgraph.simulate import simulate_incident

    inc = simulate_incident(services=4, random_state=0)
    folder = CausalDetector().fit(inc.normal).save(tmp_path / "m")
    text = (folder / "model.json").read_text()
    with np.load(folder / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["graph/adjacency"] = arrays["graph/adjacency"][:-1, :-1]  # a consistent checksum, a wrong shape
    arrays["scale"] = arrays["scale"] * np.nan
    np.savez(folder / "arrays.npz", **arrays)
    digest = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    (folder / "model.json").write_text(json.dumps({**json.loads(text), "arrays_sha256": digest}))
    with pytest.raises(InvalidInputError, match=r"damaged: missing or bad field graph/adjacency \(19, 19\) "
                                                r"\(expected \(20, 20\)\); scale holds NaN"):
        CausalDetector.load(folder)
    folder = CausalDetector().fit(inc.normal).save(tmp_path / "m")
    text = (folder / "model.json").read_text()
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", str(folder)])
    assert result.exit_code == 0 and "label                -" in result.stdout and "None" not in result.stdout
    (folder / "model.json").write_text(json.dumps({**json.loads(text), "encoder": "x"}))
    result = runner.invoke(app, ["inspect", str(folder)])
    assert result.exit_code == 2 and "is damaged: missing or bad field 'encoder' (a str where a mapping" in " ".join(
        result.stderr.split())
    (folder / "model.json").write_text(text)
    inc.anomalous.to_csv(tmp_path / "a.csv")
    result = runner.invoke(app, ["detect", str(folder), str(tmp_path / "a.csv"), "--out", str(folder)])
    assert result.exit_code == 2 and "is a folder; give a file name" in result.stderr  # refused before the work
    result = runner.invoke(app, ["fit", str(tmp_path / "a.csv"), "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 2 and "is an existing file; give a folder path" in result.stderr


def test_bad_labels_and_data(labelled):
    data, _ = labelled
    with pytest.raises(InvalidInputError, match="label column 'oops' is not in the data"):
        FaultIdentifier("oops").fit(data)
    bad = data.copy()
    bad.loc[0, "fault"] = 2
    with pytest.raises(InvalidInputError, match="only 0 and 1, found 2$"):
        FaultIdentifier().fit(bad)
    from faultgraph.discovery import PriorKnowledge

    for prior in (PriorKnowledge(sources=("fault",)), PriorKnowledge(required=(("fault", "x00"),))):
        with pytest.raises(InvalidInputError, match="makes the label 'fault' a cause"):
            FaultIdentifier(prior=prior).fit(data)
    flat = data.copy()
    flat["fault"] = 0.0
    with pytest.raises(InvalidInputError, match="only one value"):
        FaultIdentifier().fit(flat)
    with pytest.raises(NotFittedError):
        FaultIdentifier().predict(data)
    model = FaultIdentifier().fit(data)
    with pytest.raises(InvalidInputError, match="lacks metrics.*'x00'"):
        model.predict(data.drop(columns=["x00"]))


def test_a_prior_may_name_the_label(labelled):
    from faultgraph.discovery import PriorKnowledge

    data, causes = labelled
    others = [c for c in data.columns if c not in causes and c != "fault"]
    prior = PriorKnowledge(sinks=("fault",), forbidden=((causes[0], "fault"), (others[0], others[1])))
    model = FaultIdentifier(prior=prior).fit(data)
    assert causes[0] not in model.label_parents_ and set(causes[1:]) <= set(model.label_parents_)
    i, j = model.graph_.nodes.index(others[0]), model.graph_.nodes.index(others[1])
    assert model.graph_.adjacency[i, j] == 0
    free = FaultIdentifier().fit(data)
    outsider = next(c for c in others if c not in free.label_parents_)
    kept = FaultIdentifier(prior=PriorKnowledge(required=((outsider, "fault"),))).fit(data)
    assert outsider in kept.label_parents_ and set(free.label_parents_) <= set(kept.label_parents_)


def test_a_prior_naming_a_metric_constant_in_training_applies_to_the_others(labelled, tmp_path):
    from faultgraph.discovery import PriorKnowledge

    data, causes = labelled
    others = [c for c in data.columns if c not in causes and c != "fault"]
    plain = PriorKnowledge(forbidden=((causes[0], "fault"), (others[0], others[1])))
    prior = PriorKnowledge(forbidden=(*plain.forbidden, ("flat", "fault"), (others[0], "flat")),
                           required=(("flat", "fault"),), tiers=(("flat",), tuple(others)))
    with pytest.warns(UserWarning, match=r"requires the edge flat -> fault, but 'flat' is not modelled"):
        model = FaultIdentifier(prior=prior).fit(data.assign(flat=2.0))
    ref = FaultIdentifier(prior=plain).fit(data)  # the same prior without the constant metric
    assert model.graph_.nodes == ref.graph_.nodes and "flat" not in model.graph_.nodes
    np.testing.assert_array_equal(model.graph_.adjacency, ref.graph_.adjacency)
    assert model.label_parents_ == ref.label_parents_ and causes[0] not in model.label_parents_
    again = FaultIdentifier.load(model.save(tmp_path / "m"))  # the prior as given, applied the same way
    np.testing.assert_array_equal(again.prior_masks()[0], ref.prior_masks()[0])


def test_labelled_faults_record_their_seed_and_reproduce_from_it(tmp_path):
    data, sim, causes = simulate_labelled_faults(nodes=8, samples=200, random_state=np.int64(5))
    sim.write(tmp_path)  # a NumPy seed is written as the number it holds
    assert json.loads((tmp_path / "truth.json").read_text())["params"]["seed"] == 5
    assert sim.params["seed"] == 5 and sim.params["n_causes"] == len(causes) == 3
    again, _, _ = simulate_labelled_faults(nodes=8, samples=200, random_state=sim.params["seed"])
    pd.testing.assert_frame_equal(data, again)


def _chain_with_label(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """a -> b -> c, a -> d, each with memory; a 0/1 fault caused by c."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n + 100, 4))
    for t in range(1, len(X)):
        e = rng.normal(size=4)
        a = 0.5 * X[t - 1, 0] + e[0]
        b = 0.8 * a + 0.3 * X[t - 1, 1] + 0.4 * X[t - 1, 0] + e[1]
        X[t] = [a, b, 0.7 * b + 0.3 * X[t - 1, 2] + e[2], 0.6 * a + 0.3 * X[t - 1, 3] + e[3]]
    frame = pd.DataFrame(X[100:], columns=["a", "b", "c", "d"])
    eta = frame["c"] / frame["c"].std() - 2
    frame["fault"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return frame


@pytest.mark.parametrize("prior", [{"sinks": ("c",)}, {"graph": (("a", "b"), ("b", "c"), ("a", "d"))}])
def test_effects_read_the_prior_as_the_fit_applied_it(prior):
    # a metric sink may still raise the fault, and a known graph among the metrics says
    # nothing against the label's parents: c, the label's parent, stays its certain cause
    # (the effects once read the whole prior with the label added as a sink: c's effect 0)
    from faultgraph.discovery import PriorKnowledge
    from faultgraph.workflows import effects_report

    model = FaultIdentifier(lags=1, random_state=0, prior=PriorKnowledge(**prior)).fit(_chain_with_label())
    assert model.label_parents_ == ["c"]
    allowed, lagged, _ = model.prior_masks()
    assert allowed[:4, 4].all() and not allowed[4].any() and lagged[4, 4] and not lagged[4, :4].any()
    first = effects_report(model, n_bootstrap=20)[0].scores[0]
    assert first.node == "c" and first.identified and first.ci_low > 0


def test_a_known_graph_is_used_as_given_by_a_label_model():
    from faultgraph.discovery import PriorKnowledge

    frame = _chain_with_label()
    given = (("a", "b"), ("b", "c"), ("a", "d"))
    model = FaultIdentifier(random_state=0, prior=PriorKnowledge(graph=given)).fit(frame)
    nodes = list(model.graph_.nodes)
    A = model.graph_.adjacency[:4, :4] != 0
    assert {(nodes[i], nodes[j]) for i, j in zip(*np.nonzero(A))} == set(given)
    assert model.label_parents_ == ["c"]
    # a graph that names the label's parents: those and no other
    model = FaultIdentifier(random_state=0, prior=PriorKnowledge(graph=(*given, ("d", "fault")))).fit(frame)
    assert model.label_parents_ == ["d"]


@pytest.mark.parametrize("prior, match", [
    ({"graph": (("a", "b"), ("fault", "c"))}, "makes the label 'fault' a cause"),
    ({"tiers": (("fault",), ("a", "b", "c", "d"))}, "puts the label 'fault' in a tier before others"),
    ({"graph": (("a", "b"), ("zz", "fault"))}, "unknown metric 'zz'"),
    ({"graph": (("a", "b"), ("d", "fault")), "required": (("c", "fault"),)}, "requires the edge c -> fault"),
    ({"graph": (("a", "b"), ("d", "fault")), "forbidden": (("d", "fault"),)}, "graph has the edge d -> fault"),
])
def test_a_prior_on_the_label_that_cannot_hold_is_refused(prior, match):
    from faultgraph.discovery import PriorKnowledge

    with pytest.raises(InvalidInputError, match=match):
        FaultIdentifier(random_state=0, prior=PriorKnowledge(**prior)).fit(_chain_with_label(300))


def test_patterns_into_the_label_are_expanded():
    from faultgraph.discovery import PriorKnowledge

    model = FaultIdentifier(random_state=0, prior=PriorKnowledge(graph=(("[cd]", "fault"),))).fit(_chain_with_label())
    allowed, _, _ = model.prior_masks()
    assert allowed[:4, 4].tolist() == [False, False, True, True] and set(model.label_parents_) <= {"c", "d"}
