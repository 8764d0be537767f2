"""Supervised fault identification (the paper's setting) and model folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from faultgraph import InvalidInputError, NotFittedError
from faultgraph.detect import FaultIdentifier
from faultgraph.effects import causal_scores
from faultgraph.evaluate import classification_scores
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
    assert meta["schema_version"] == 1 and "arrays_sha256" in meta
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


def test_bad_labels_and_data(labelled):
    data, _ = labelled
    with pytest.raises(InvalidInputError, match="label column 'oops' is not in the data"):
        FaultIdentifier("oops").fit(data)
    bad = data.copy()
    bad.loc[0, "fault"] = 2
    with pytest.raises(InvalidInputError, match="only 0 and 1"):
        FaultIdentifier().fit(bad)
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


def test_labelled_faults_record_their_seed_and_reproduce_from_it():
    data, sim, causes = simulate_labelled_faults(nodes=8, samples=200, random_state=5)
    assert sim.params["seed"] == 5 and sim.params["n_causes"] == len(causes) == 3
    again, _, _ = simulate_labelled_faults(nodes=8, samples=200, random_state=sim.params["seed"])
    pd.testing.assert_frame_equal(data, again)
