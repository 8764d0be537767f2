"""What a user of the labelled path met (issue 18): priors whose tiers overlap, a duplicated
metric held fixed, effects without an interval, labels with holes or in words, a prior that
names a constant metric on `discover`, and inputs the Python API must refuse."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from faultgraph.cli import app
from faultgraph.detect import FaultIdentifier
from faultgraph.discovery import PriorKnowledge
from faultgraph.errors import InvalidInputError
from faultgraph.effects.identify import identified_scores

runner = CliRunner()


def _chain(n: int = 2000, seed: int = 0, copy: bool = False) -> pd.DataFrame:
    """web -> api -> db -> conn, db -> fault (probability 0.3 + 0.08 db), noise alone."""
    rng = np.random.default_rng(seed)
    web = rng.normal(size=n)
    api = 0.8 * web + rng.normal(size=n)
    db = 0.7 * api + rng.normal(size=n)
    frame = pd.DataFrame({"web": web, "api": api, "db": db, "conn": 0.9 * db + rng.normal(size=n),
                          "noise": rng.normal(size=n)})
    if copy:
        frame["db_copy"] = frame["db"]
    frame["fault"] = (rng.random(n) < np.clip(0.3 + 0.08 * db, 0.01, 0.99)).astype(float)
    return frame


def test_a_star_tier_is_the_rest_and_a_metric_has_one_place():
    names = ["web", "api", "db", "s1_cpu", "s1_mem"]
    assert PriorKnowledge(tiers=(("web",), ("*",))).expand(names).tiers == (("web",), ("api", "db", "s1_cpu", "s1_mem"))
    allowed, _ = PriorKnowledge(tiers=(("web",), ("*",))).masks(names)
    assert not allowed[1:, 0].any() and allowed[0, 1:].all()  # nothing into web: it is first
    # a name given in a tier is not taken by another tier's pattern
    assert PriorKnowledge(tiers=(("s1_*",), ("s1_mem", "db"))).expand(names).tiers == (("s1_cpu",), ("s1_mem", "db"))
    with pytest.raises(InvalidInputError, match="name 'api' in tier 1 and in tier 2"):
        PriorKnowledge(tiers=(("web", "api"), ("api", "db"))).masks(names)
    with pytest.raises(InvalidInputError, match="place 's1_cpu' in tier 1 \\(pattern 's1_\\*'\\) and in tier 2 "
                                                "\\(pattern '\\*_cpu'\\)"):
        PriorKnowledge(tiers=(("s1_*",), ("*_cpu",))).masks(names)
    with pytest.raises(InvalidInputError, match="'\\*'.*in one tier only"):
        PriorKnowledge(tiers=(("*",), ("web",), ("*",))).masks(names)


def test_a_copy_of_an_earlier_metric_is_no_certain_cause():
    frame = _chain(copy=True)
    tiers = (("web",), ("api",), ("db",), ("db_copy",), ("conn",), ("noise",))
    model = FaultIdentifier("fault", prior=PriorKnowledge(tiers=tiers), random_state=0).fit(frame)
    from faultgraph.workflows import effects_report

    scores, _ = effects_report(model, n_bootstrap=20)
    by = {s.node: s for s in scores.scores}
    copy = by["db_copy"]
    assert not copy.identified and copy.ate_bounds[0] <= 0 <= copy.ate_bounds[1]
    assert copy.ci_low <= 0 <= copy.ci_high
    assert by["db"].identified and by["db"].ci_low > 0  # the original keeps its effect
    certain = scores.summary.split("Candidates")[0]
    assert "db_copy" not in certain and "db (" in certain


def test_effects_without_an_interval_claim_no_sign(tmp_path):
    data = tmp_path / "chain.csv"
    _chain().to_csv(data, index=False)
    prior = tmp_path / "prior.yaml"
    prior.write_text("tiers: [[web], [api], [db], [conn], [noise]]\n")
    model = tmp_path / "m"
    assert runner.invoke(app, ["fit", str(data), "--label", "fault", "--prior", str(prior), "--out", str(model),
                               "-q"]).exit_code == 0
    out = runner.invoke(app, ["effects", str(model), "--target", "fault", "--bootstrap", "0",
                              "--out", str(tmp_path / "e.json")])
    assert out.exit_code == 0, out.output
    assert "(no interval)" in out.output and "[+" not in out.output.split("Certain")[0]
    doc = json.loads((tmp_path / "e.json").read_text())
    assert "whose sign the sampling noise may flip" in doc["summary"] and "of one sign where" not in doc["summary"]
    # a model with an ensemble takes its intervals from its graphs: --bootstrap is not used
    ens = tmp_path / "ens"
    assert runner.invoke(app, ["fit", str(data), "--label", "fault", "--bootstrap", "10", "--out", str(ens),
                               "-q"]).exit_code == 0
    out = runner.invoke(app, ["effects", str(ens), "--target", "fault", "--bootstrap", "5",
                              "--out", str(tmp_path / "e2.json")])
    assert out.exit_code == 0, out.output


def test_label_holes_up_to_max_gap_take_the_value_before_and_longer_ones_are_named():
    frame = _chain(n=600)
    frame.loc[100:102, "fault"] = np.nan
    with pytest.warns(UserWarning, match="had no value on 3 rows .*took the value before it"):
        model = FaultIdentifier("fault", random_state=0).fit(frame)
    assert model.label_parents_  # fitted
    frame.loc[200:209, "fault"] = np.nan
    with pytest.raises(InvalidInputError, match="no value on 13 rows, 10 in a row from 200.*give those rows a 0 or 1"):
        FaultIdentifier("fault", random_state=0).fit(frame)
    words = _chain(n=600)
    words["fault"] = np.where(words["fault"] > 0, "yes", "no")
    with pytest.raises(InvalidInputError, match="must hold only 0 and 1 \\(or true/false\\), found 'no'"):
        FaultIdentifier("fault", random_state=0).fit(words)
    truth = _chain(n=600)
    truth["fault"] = np.where(truth["fault"] > 0, "true", "false")
    FaultIdentifier("fault", random_state=0).fit(truth)


def test_discover_leaves_out_what_a_prior_says_of_a_constant_metric(tmp_path):
    data = tmp_path / "m.csv"
    _chain(n=600).assign(const=5.0).drop(columns="fault").to_csv(data, index=False)
    prior = tmp_path / "p.yaml"
    prior.write_text("tiers: [[const], [web]]\n")
    for extra in ([], ["--bootstrap", "10"]):
        out = runner.invoke(app, ["discover", str(data), "--prior", str(prior), "--out", str(tmp_path / "g.json"),
                                  *extra])
        assert out.exit_code == 0, out.output
        assert "dropped metric 'const': constant" in out.output


def test_the_python_api_refuses_what_it_cannot_use():
    from faultgraph.workflows import effects_report

    frame = _chain(n=600)
    model = FaultIdentifier("fault", random_state=0).fit(frame)
    effects_report(model, n_bootstrap=np.int64(10))  # a numpy integer is an integer
    with pytest.raises(InvalidInputError, match="n_paths must be a positive integer"):
        effects_report(model, n_paths=0)
    A = np.zeros((6, 6))
    with pytest.raises(InvalidInputError, match="data must be a pandas DataFrame"):
        identified_scores(frame.to_numpy(), A, "fault")
    holed = frame.copy()
    holed.iloc[5, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no LAPACK noise before the message
        with pytest.raises(InvalidInputError, match="missing or infinite values in 'api'"):
            identified_scores(holed, A, "fault")
    with pytest.raises(InvalidInputError, match="tiers name 'nosuch'"):
        identified_scores(frame, A, "fault", tiers=[["web"], ["nosuch"]])


def test_a_star_tier_with_a_constant_metric_leaves_the_label_alone():
    frame = _chain(n=600).assign(k=1.0)
    model = FaultIdentifier("fault", prior=PriorKnowledge(tiers=(("*",), ("db",))), random_state=0).fit(frame)
    assert "db" in model.graph_.nodes and "k" not in model.graph_.nodes


def test_a_required_edge_the_data_do_not_support_is_said():
    from faultgraph.discovery import StructureLearner

    frame = _chain(n=800).drop(columns="fault")
    with pytest.warns(UserWarning, match="prior requires the edge noise -> db, but the data give it the weight"):
        learner = StructureLearner(prior=PriorKnowledge(required=(("noise", "db"),))).fit(frame)
    nodes = list(learner.graph_.nodes)
    assert learner.adjacency_[nodes.index("noise"), nodes.index("db")] != 0  # kept, as the prior says
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a required edge the data hold: no warning
        StructureLearner(prior=PriorKnowledge(required=(("api", "db"),))).fit(frame)
