"""Effects that say how sure they are (issue 18): coverage, top-3 recall and confident-wrong
claims on planted systems; Sachs against its interventions; ensemble timings.

Run it with::

    python benchmarks/identify.py --out benchmarks/results/identify.md

1. **Planted systems**: ``d`` metrics (a random DAG, 1.5 expected parents, weights
   ±[0.5, 2]), each multiplied by a random unit (10^-2 … 10^3: mixed units, so the
   encoder's robust scaling is what makes them comparable – raw units and pre-standardised
   data give the same encoded data, so one row covers both); a 0/1 ``fault`` drawn from
   ``σ(Σ c_k x_k / sd_k − 2)`` over 3 random metrics. Three conditions: i.i.d. rows without
   prior; i.i.d. rows with the full causal order as a tiers prior; a lagged system
   (``x_t = x_t W + x_{t−1}(W/2 + 0.3 I) + ε``) fitted with ``lags=1``; six seeds per size.
   The model is ``FaultIdentifier(bootstrap=B)``; effects come from
   ``workflows.effects_report``, under seven rules on the same fitted model: the
   *default* (the graph that the order allows – each metric's parents chosen by
   forward-backward Wald tests among the metrics before it in the tiers or, with lags,
   in the tested time order, and among the past – gives each metric identified from
   full tiers its effect along that graph's paths, each causal metric's regression on its
   parents multiplied along the paths, Guo and Perković 2022, and each metric identified
   by time its optimal adjustment set, Henckel et al.; with full tiers a metric without
   a path there keeps the regression on its earlier tiers; with lags, a metric whose
   graph has a path is identified by time; a simultaneous interval; certain causes
   ranked by ``|ate|``; elsewhere each graph's values are the local IDA regressions,
   plus 0 unless a path of oriented edges reaches the fault); *before* (the default
   until this change: ``efficient=False`` – the earlier tiers alone, and with lags the
   metrics whose past predicts ``x``'s present one way only added to the learned
   graph's sets – with certain causes ranked by the end of their interval nearest 0);
   the ranking change alone; *two changes back* (time marks from the fitted time order,
   no adjustment for the order, 0 only where no orientation has a path); and
   ``local=False`` (0 alone where there is no path: the skeleton decides); the
   default with the simultaneous interval's sd from the resamples alone (the default never
   takes it below the full-data regression's HC3 standard error, ``robust_se``; every other
   rule keeps that floor); and the default with full tiers read off the optimal
   adjustment set instead of the paths (``estimator="adjustment"``, the rule before). Beside them (rows ``one graph (bootstrap=0): …``), the CLI's
   default: a model fitted without an ensemble (``faultgraph fit --label fault`` then
   ``faultgraph effects``, whose intervals come from 50 row resamples on the one graph),
   with its default (one graph's v-structures orient nothing: no ensemble shows that they
   hold; the robust-se floor; full tiers along the paths), and each of the three undone (its
   v-structures orient, the graph taken as known; the sd over the resamples alone; the optimal
   adjustment set). The
   true effect of a metric is its average effect on the fault probability per encoded
   unit (same-step total effect on the logit times ``E[σ']``, Stein's lemma).
   Columns: *coverage* – share of metrics whose true effect lies in the reported
   ``ate_bounds``; *top-3 hits* – how many of the 3 largest true effects are in the
   reported top 3; *identified* – share of metrics marked identified; *confident-wrong* –
   metrics with no causal path to the fault (no directed path in the true DAG to any of
   its 3 causes) that are marked identified with an interval excluding 0 (the target is
   0), and, apart, those with bounds excluding 0 at all.
2. **Sachs**: the graph ensemble on the 853 observational rows (as in ``effects.py``), and
   for each intervention with a known target the predicted direction of change of every
   other protein: the sign of the mean of the effect's values (``graph_effects``, the
   data-driven orientation of ``identified_scores``) pooled over the ensemble (0, "no
   change", when every value is 0, counted a miss), beside the sign of the correlation. DoWhy's gcm is not installed here and is
   not compared.
3. **Timing**: ``learn_graph_ensemble`` with B = 100 on 40 metrics × 20,000 rows, in this
   process and on a 2-worker ``LocalCluster`` (cluster start-up included).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (SACHS, SACHS_INTERVENTIONS, DataRun, Sachs, bootstrap_interval,  # noqa: E402
                     markdown_table, report_args)

SIZES = (12, 18, 25)
SEEDS = (100, 101, 102, 103, 104, 105)
B = 20


def planted(d: int, n: int, seed: int, lagged: bool) -> tuple[pd.DataFrame, np.ndarray, list[int], np.ndarray]:
    """Metrics + fault, the true effect per raw unit of each metric, the causal order and
    the reachability of the fault from each metric."""
    from faultgraph.simulate.graphs import simulate_dag, simulate_linear_sem, simulate_weights

    rng = np.random.default_rng(seed)
    Bm = simulate_dag(d, 1.5, random_state=rng)
    W = simulate_weights(Bm, random_state=rng)
    causes = rng.choice(d, 3, replace=False)
    c = rng.uniform(0.8, 1.5, 3) * rng.choice([-1, 1], 3)
    if lagged:
        T = n + 200
        X = np.zeros((T, d))
        inv = np.linalg.inv(np.eye(d) - W)
        A = 0.5 * W + 0.3 * np.eye(d)
        E = rng.normal(size=(T, d))
        for t in range(1, T):
            X[t] = (X[t - 1] @ A + E[t]) @ inv
        X = X[200:]
    else:
        X = simulate_linear_sem(W, n, random_state=rng)
    unit = 10 ** rng.uniform(-2, 3, d)
    X = X * unit
    sd = X.std(axis=0)
    eta = (X[:, causes] / sd[causes]) @ c - 2.0
    prob = 1 / (1 + np.exp(-eta))
    y = (rng.random(n) < prob).astype(float)
    total = np.linalg.inv(np.eye(d) - W)
    truth = (total[:, causes] * unit[causes][None, :] / unit[:, None]) @ (c / sd[causes]) * np.mean(prob * (1 - prob))
    # a path in the true DAG (not |inv(I - W)| > 0: rounding leaves 1e-17 where there is none)
    closure = np.eye(d, dtype=bool)
    for _ in range(d):
        closure = closure | ((closure.astype(int) @ (Bm != 0).astype(int)) > 0)
    reach = closure[:, causes].any(axis=1)
    from faultgraph._graph import topological_order

    order = topological_order(Bm)
    frame = pd.DataFrame(X, columns=[f"m{i}" for i in range(d)])
    frame["fault"] = y
    return frame, truth, order, reach


#: The effect rules compared on the same fitted models (keyword arguments of
#: ``identified_scores``; ``_rank="interval"``: certain causes re-ranked by the end of their
#: interval nearest 0, the ranking before): the default; the default before (no graph that
#: the order allows, ``efficient=False``, and that ranking); the ranking change alone; the
#: default two changes back (same-step links oriented by the fitted time order, no
#: adjustment for the order, 0 only where no orientation has a path); and the skeleton
#: deciding 0 alone (``local=False``, the rule before that).
BEFORE = {"time_marks": "fit", "adjust_order": False, "zero_unless": "possible", "efficient": False,
          "_rank": "interval"}
#: Full tiers read off the optimal adjustment set instead of the paths (the rule before).
ADJUSTMENT = "default, full tiers by the optimal set (estimator='adjustment')"
RULES = {"default": {},
         "before (efficient=False, certain causes by the interval's end nearest 0)": {"efficient": False,
                                                                                      "_rank": "interval"},
         "default, certain causes by the interval's end nearest 0": {"_rank": "interval"},
         "two changes back (fitted time marks, 0 where no possible path)": BEFORE,
         "skeleton decides 0 (local=False)": {**BEFORE, "local": False},
         "default, sd over the resamples alone (no robust-se floor)": {"_se_floor": False},
         ADJUSTMENT: {"estimator": "adjustment"}}

#: The rules compared on a model fitted without an ensemble (``bootstrap=0``, the CLI's
#: default: ``faultgraph fit --label fault`` then ``faultgraph effects``, whose intervals come
#: from 50 row resamples on the one graph): the default (the one graph's v-structures orient
#: nothing; the simultaneous interval's sd never below the regression's robust standard
#: error), and each of those two changes undone.
ONE_GRAPH = "one graph (bootstrap=0): "
ONE_GRAPH_RULES = {ONE_GRAPH + "default": {},
                   ONE_GRAPH + "its v-structures orient": {"_v_structures": True},
                   ONE_GRAPH + "sd over the resamples alone": {"_se_floor": False},
                   ONE_GRAPH + "full tiers by the optimal set": {"estimator": "adjustment"}}
#: The paired comparisons: (model, the default, the rule it is compared with).
PAIRS = ((f"ensemble of {B}", "default", "before (efficient=False, certain causes by the interval's end nearest 0)"),
         (f"ensemble of {B}", "default", "default, sd over the resamples alone (no robust-se floor)"),
         (f"ensemble of {B}", "default", ADJUSTMENT),
         ("one graph", ONE_GRAPH + "default", ONE_GRAPH + "full tiers by the optimal set"),
         ("one graph", ONE_GRAPH + "default", ONE_GRAPH + "its v-structures orient"),
         ("one graph", ONE_GRAPH + "default", ONE_GRAPH + "sd over the resamples alone"))


def _effects(model: object, rule: dict[str, object]) -> object:
    """``workflows.effects_report`` with ``identified_scores(**rule)``; ``_rank="interval"``
    re-ranks the certain causes (identified, interval excluding 0) by the end of their
    interval nearest 0."""
    import dataclasses
    import functools

    import faultgraph.effects.identify as identify
    from faultgraph.workflows import effects_report

    rule = dict(rule)
    rank = rule.pop("_rank", None)
    efficient = bool(rule.pop("efficient", True))  # effects_report passes it on: a partial's would be overridden
    v_structures = rule.pop("_v_structures", False)
    se_floor = rule.pop("_se_floor", True)
    original, orient, robust_se = identify.identified_scores, identify.orient_graph, identify.robust_se
    identify.identified_scores = functools.partial(original, **rule)
    if v_structures:  # v-structures orient without an ensemble too (over the explicit keyword)
        identify.orient_graph = lambda *a, **k: orient(*a, **{**k, "v_structures": True})
    if not se_floor:  # the simultaneous interval from the resamples' sd alone
        identify.robust_se = lambda *a, **k: 0.0
    try:
        scores = effects_report(model, efficient=efficient)[0]
    finally:
        identify.identified_scores, identify.orient_graph, identify.robust_se = original, orient, robust_se
    if rank == "interval":
        certain = [s for s in scores.scores if s.identified and (s.ci_low > 0 or s.ci_high < 0)]
        rest = [s for s in scores.scores if s not in certain]
        certain.sort(key=lambda s: -min(abs(s.ci_low), abs(s.ci_high)))
        scores = dataclasses.replace(scores, scores=tuple(certain + rest))
    return scores


def _measures(scores: object, true: dict[str, float], no_path: list[str]) -> dict[str, object]:
    """Coverage, top-3 hits, identified share and confident-wrong claims of one report."""
    by = {s.node: s for s in scores.scores}
    covered = [by[n].ate_bounds[0] - 1e-12 <= true[n] <= by[n].ate_bounds[1] + 1e-12 for n in true]
    top_true = sorted(true, key=lambda n: -abs(true[n]))[:3]
    top_said = [s.node for s in scores.scores[:3]]
    wrong = [n for n in no_path if by[n].identified and (by[n].ci_low > 0 or by[n].ci_high < 0)]
    off_zero = [n for n in no_path if by[n].ate_bounds[0] > 0 or by[n].ate_bounds[1] < 0]
    return {"coverage": float(np.mean(covered)), "top-3 hits": len(set(top_true) & set(top_said)),
            "identified": float(np.mean([s.identified for s in scores.scores])),
            "no-path metrics": len(no_path), "confident-wrong": len(wrong),
            "bounds exclude 0 (no path)": len(off_zero),
            "mean bounds width": float(np.mean([by[n].ate_bounds[1] - by[n].ate_bounds[0] for n in true]))}


CONDITIONS = ("iid, no prior", "iid, causal order as tiers", "lagged, lags=1")


def planted_rows(sizes: tuple[int, ...] = SIZES, seeds: tuple[int, ...] = SEEDS,
                 conditions: tuple[str, ...] = CONDITIONS) -> list[dict[str, object]]:
    from faultgraph.detect import FaultIdentifier
    from faultgraph.discovery import PriorKnowledge

    rows = []
    for condition in conditions:
        for d in sizes:
            for seed in seeds:
                lagged = condition.startswith("lagged")
                frame, truth, order, reach = planted(d, 3000, seed, lagged)
                prior = None
                if "tiers" in condition:
                    prior = PriorKnowledge(tiers=tuple((f"m{i}",) for i in order))
                for bootstrap, rules in ((B, RULES), (0, ONE_GRAPH_RULES)):  # an ensemble; the CLI's default
                    start = time.perf_counter()
                    model = FaultIdentifier(prior=prior, lags=1 if lagged else 0, bootstrap=bootstrap, n_workers=0,
                                            random_state=seed).fit(frame)
                    fit_secs = time.perf_counter() - start
                    scale = model.encoder_.scale_
                    true = {f"m{i}": truth[i] * float(scale[f"m{i}"]) for i in range(d)}
                    no_path = [f"m{i}" for i in range(d) if not reach[i]]
                    for rule, kwargs in rules.items():
                        start = time.perf_counter()
                        scores = _effects(model, kwargs)
                        rows.append({"rule": rule, "condition": condition, "d": d, "seed": seed,
                                     **_measures(scores, true, no_path),
                                     "seconds": fit_secs + time.perf_counter() - start})
                        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def _hc0(D: np.ndarray, x: int, y: int, adjust: list[int]) -> tuple[float, float]:
    """Coefficient of column ``x`` in the regression of ``y`` on it and ``adjust``, and its
    heteroskedasticity-robust (HC0) standard error."""
    X = np.column_stack([np.ones(len(D)), D[:, [x, *adjust]]])
    beta = np.linalg.lstsq(X, D[:, y], rcond=None)[0]
    r = D[:, y] - X @ beta
    inv = np.linalg.pinv(X.T @ X)
    return float(beta[1]), float(np.sqrt((inv @ (X.T * r**2) @ X @ inv)[1, 1]))


def ceiling_rows(sizes: tuple[int, ...] = SIZES, seeds: tuple[int, ...] = SEEDS) -> list[dict[str, object]]:
    """Top-3 hits that the data allow with the truth known: every metric's effect is the
    regression on a valid set of the *true* system (no learned graph); those whose ±3 SE
    interval excludes 0 first, by the size of the effect (as certain causes are ranked). Sets: the metrics earlier in the
    true causal order (and, lagged, the whole past) – what a full tiers prior gives – and
    the true graph's optimal set (Henckel et al.; lagged, with the causal nodes' lagged
    parents); metrics without a path keep the first. And the true graph's paths
    (``path_effect``: each causal node's regression on its true parents, and lagged its
    lagged parents, multiplied along the paths; certain by the optimal set's SE)."""
    from faultgraph import MetricEncoder
    from faultgraph.effects.identify import optimal_adjustment, path_effect, reachable, weighted_covariance
    from faultgraph.simulate.graphs import simulate_dag, simulate_weights

    out = []
    for condition in ("iid, causal order as tiers", "lagged, lags=1"):
        lagged = condition.startswith("lagged")
        for d in sizes:
            for seed in seeds:
                frame, truth, order, _ = planted(d, 3000, seed, lagged)
                rng = np.random.default_rng(seed)  # the same draws as planted()
                Bm = simulate_dag(d, 1.5, random_state=rng)
                simulate_weights(Bm, random_state=rng)
                causes = rng.choice(d, 3, replace=False)
                G = np.zeros((d + 1, d + 1), dtype=bool)
                G[:d, :d] = Bm != 0
                G[causes, d] = True
                metrics = frame.drop(columns="fault")
                encoder = MetricEncoder().fit(metrics)
                Z = np.column_stack([encoder.transform(metrics).to_numpy(), frame["fault"].to_numpy()])
                true = np.array([truth[i] * float(encoder.scale_[f"m{i}"]) for i in range(d)])
                D = np.column_stack([Z[1:], Z[:-1, :d]]) if lagged else Z
                past = list(range(d + 1, 2 * d + 1)) if lagged else []
                rank = {k: r for r, k in enumerate(order)}

                sets: dict[str, list[tuple[float, float]]] = {"true causal order": [], "true optimal set": [],
                                                              "true graph's paths": []}
                lag_parents = {c: [d + 1 + int(k) for k in {*np.flatnonzero(Bm[:, c]).tolist(), c}] for c in range(d)}
                CD = weighted_covariance(D)
                for x in range(d):
                    earlier = [k for k in range(d) if rank[k] < rank[x]] + past
                    sets["true causal order"].append(_hc0(D, x, d, earlier))
                    O = optimal_adjustment(G, x, d)
                    if O is None:  # no path to the fault
                        sets["true optimal set"].append(sets["true causal order"][-1])
                        sets["true graph's paths"].append(sets["true causal order"][-1])
                        continue
                    causal = (reachable({x}, G) - {x}) & reachable({d}, G.T)
                    if lagged:  # x_{t-1}(W/2 + 0.3 I): a causal node's lagged parents are its parents and itself
                        O += sorted({d + 1 + int(k) for c in causal if c < d
                                     for k in {*np.flatnonzero(Bm[:, c]).tolist(), c}})
                    sets["true optimal set"].append(_hc0(D, x, d, O))
                    effect = path_effect(CD, G, x, d, lag_parents if lagged else None)
                    sets["true graph's paths"].append((float(effect), sets["true optimal set"][-1][1]))
                top_true = set(np.argsort(-np.abs(true), kind="stable")[:3].tolist())
                for name, est in sets.items():
                    b, se = np.array(est).T
                    sure = np.abs(b) > 3 * se  # certain causes first, by |effect|, as the default ranks them
                    said = set(np.lexsort((-np.abs(b), ~sure))[:3].tolist())
                    out.append({"condition": condition, "set": name, "d": d, "seed": seed,
                                "top-3 hits": len(top_true & said)})
    return out


def sachs_rows() -> list[dict[str, object]]:
    from faultgraph.discovery.ensemble import learn_graph_ensemble
    from faultgraph.discovery import StructureLearner
    from faultgraph.effects.identify import graph_effects, orient_graph, weighted_covariance

    sachs = Sachs()
    proteins, obs = sachs.proteins, sachs.observational
    D = obs.to_numpy()
    main = StructureLearner().fit(obs).adjacency_
    ens = learn_graph_ensemble(obs, 100, n_workers=0, block=1, random_state=0)
    graphs = [main] + list(ens.graphs)
    rowsets = [None] + [ens.rows(b) for b in range(ens.n_graphs)]
    covs = [weighted_covariance(D, None if r is None else np.bincount(r, minlength=len(D))) for r in rowsets]
    orients = [orient_graph(g, proteins, covariance=C, n_samples=len(D)) for g, C in zip(graphs, covs)]
    corr = obs.corr().to_numpy()
    out = []
    for drug, target in SACHS_INTERVENTIONS.items():
        shift = sachs.condition(drug).mean() - obs.mean()
        t = proteins.index(target)
        others = [p for p in proteins if p != target]
        measured = np.sign(shift[others].to_numpy())
        pred, ident = [], 0
        for p in others:
            j = proteins.index(p)
            means = []
            for C, o in zip(covs, orients):
                means.append(graph_effects(C, o, t, j)[0].mean())
            pred.append(np.sign(np.mean(means) * shift[target]))
            ident += len(graph_effects(covs[0], orients[0], t, j)[0]) == 1
        pred = np.array(pred)
        cor = np.sign(corr[t, [proteins.index(p) for p in others]] * shift[target])
        said = pred != 0

        def share(a: np.ndarray, m: np.ndarray) -> float:
            return float(np.mean(a[m] == measured[m])) if m.any() else float("nan")

        out.append({"intervention": f"{drug} → {target}", "predicts change": int(said.sum()),
                    "identified (full-data graph)": ident,
                    "fg agree (predicted)": share(pred, said), "corr agree (same proteins)": share(cor, said),
                    "fg agree (all 10)": float(np.mean(pred == measured)),
                    "corr agree (all 10)": float(np.mean(cor == measured))})
    return out


def timing_rows() -> list[dict[str, object]]:
    from faultgraph.discovery.ensemble import learn_graph_ensemble
    from faultgraph.simulate.graphs import simulate_dag, simulate_linear_sem, simulate_weights

    Bm = simulate_dag(40, 2, random_state=0)
    X = simulate_linear_sem(simulate_weights(Bm, random_state=1), 20000, random_state=2)
    out = []
    for where, kwargs in (("in process", {"n_workers": 0}), ("LocalCluster, 2 workers", {"n_workers": 2})):
        start = time.perf_counter()
        ens = learn_graph_ensemble(X, 100, random_state=0, **kwargs)
        out.append({"where": where, "graphs": ens.n_graphs, "metrics": 40, "rows": 20000,
                    "seconds": time.perf_counter() - start})
        print(out[-1], file=sys.stderr, flush=True)
    return out


PARTS = ("timing", "sachs", "planted", "ceiling")


def _parts(value: str) -> tuple[str, ...]:
    parts = tuple(value.split(","))
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown parts {unknown}; choose among {','.join(PARTS)}")
    return parts


def _options(parser: argparse.ArgumentParser) -> None:
    """Add ``--sizes``, ``--seeds``, ``--conditions`` and ``--parts`` (a subset while iterating)."""
    ints = lambda v: tuple(int(x) for x in v.split(","))  # noqa: E731
    parser.add_argument("--sizes", type=ints, default=SIZES, metavar="D,D,...",
                        help=f"planted systems' sizes (default {','.join(map(str, SIZES))})")
    parser.add_argument("--seeds", type=ints, default=SEEDS, metavar="S,S,...",
                        help=f"planted systems' seeds (default {','.join(map(str, SEEDS))})")
    parser.add_argument("--conditions", type=lambda v: tuple(CONDITIONS[int(x)] for x in v.split(",")),
                        default=CONDITIONS, metavar="I,I,...",
                        help="indices into CONDITIONS, e.g. 0,2 (default all: "
                             + "; ".join(f"{i}: {c}" for i, c in enumerate(CONDITIONS)) + ")")
    parser.add_argument("--parts", type=_parts, default=PARTS, metavar="PART,...",
                        help=f"parts to run (default all: {','.join(PARTS)})")


def main() -> None:
    options, cmd = report_args(__doc__, "identify.py", options=_options)
    data = DataRun()
    for part in ("timing", "planted", "ceiling"):  # simulated: no shared data
        if part in options.parts:
            data.measured(part)
    sachs_present = "sachs" in options.parts and data.present("Sachs", SACHS)
    data.check(options.out)
    given = {k: getattr(options, k) for k in ("sizes", "seeds", "conditions", "parts")}
    defaults = {"sizes": SIZES, "seeds": SEEDS, "conditions": CONDITIONS, "parts": PARTS}
    extra = "".join(f" --{k} " + ",".join(str(CONDITIONS.index(x)) if k == "conditions" else str(x) for x in v)
                    for k, v in given.items() if v != defaults[k])
    cmd = cmd.replace("identify.py", "identify.py" + extra, 1)
    parts = ["# Effects that say how sure they are (issue 18)", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread).", "",
             "1. " + __doc__.split("\n1. ", 1)[1].strip(), ""]
    if "timing" in options.parts:
        timing = pd.DataFrame(timing_rows())
        parts += ["## Time for B = 100 graphs, 40 metrics × 20,000 rows", "", markdown_table(timing, 1), ""]
    if sachs_present:
        sachs = pd.DataFrame(sachs_rows())
        mean = sachs.mean(numeric_only=True)
        sachs.loc[len(sachs)] = {"intervention": "mean", **mean.to_dict()}
        parts += ["## Sachs: direction of change under interventions (B = 100 graphs)", "",
                  markdown_table(sachs), ""]
    if "planted" in options.parts:
        parts += _planted_report(pd.DataFrame(planted_rows(options.sizes, options.seeds, options.conditions)),
                                 options.sizes, options.seeds)
    if "ceiling" in options.parts:
        ceiling = pd.DataFrame(ceiling_rows(options.sizes, options.seeds))
        half = {s: f"{options.seeds[0]}–{options.seeds[min(2, len(options.seeds) - 1)]}" if i < 3
                else f"{options.seeds[3]}–{options.seeds[-1]}" for i, s in enumerate(options.seeds)}
        table = ceiling.assign(seeds=ceiling["seed"].map(half)).pivot_table(
            index=["condition", "d", "seeds"], columns="set", values="top-3 hits", aggfunc="sum",
            sort=False).reset_index()
        totals = ceiling.groupby(["condition", "set"], as_index=False, sort=False)["top-3 hits"].sum()
        parts += ["## What the data allow: top-3 hits with the true system's adjustment sets", "",
                  " ".join(str(ceiling_rows.__doc__).split()), "",
                  markdown_table(table), "", "Out of 54:", "", markdown_table(totals), ""]
    data.write_report(parts, options.out)


def _planted_report(rows: pd.DataFrame, sizes: tuple[int, ...], seeds: tuple[int, ...]) -> list[str]:
    """The planted systems' tables: per condition and rule, paired differences, top-3 per size."""
    summary = rows.groupby(["condition", "rule"], as_index=False, sort=False).agg(
        cases=("seed", "size"), coverage=("coverage", "mean"), **{"lowest coverage": ("coverage", "min")},
        **{"top-3 hits": ("top-3 hits", "sum"), "identified": ("identified", "mean"),
           "no-path metrics": ("no-path metrics", "sum"), "confident-wrong": ("confident-wrong", "sum"),
           "bounds exclude 0 (no path)": ("bounds exclude 0 (no path)", "sum"),
           "mean bounds width": ("mean bounds width", "mean"),
           "median bounds width": ("mean bounds width", "median")})
    half = {s: f"{seeds[0]}–{seeds[min(2, len(seeds) - 1)]}" if i < 3 else f"{seeds[3]}–{seeds[-1]}"
            for i, s in enumerate(seeds)}
    top = rows.assign(seeds=rows["seed"].map(half)).pivot_table(
        index=["condition", "d", "seeds"], columns="rule", values="top-3 hits", aggfunc="sum",
        sort=False).reset_index()
    key = ["condition", "d", "seed"]
    paired = []
    for model, default, before in PAIRS:
        new, base = rows[rows["rule"] == default].set_index(key), rows[rows["rule"] == before].set_index(key)
        for condition in new.index.get_level_values(0).unique():
            for col in ("coverage", "top-3 hits", "confident-wrong", "bounds exclude 0 (no path)",
                        "mean bounds width"):
                diff = (new.loc[condition, col] - base.loc[condition, col]).to_numpy(dtype=float)
                lo, hi = bootstrap_interval(diff)
                paired.append({"model": model, "default minus": before.removeprefix(ONE_GRAPH),
                               "condition": condition, "measure": col, "cases": len(diff),
                               "mean difference": diff.mean(), "95% bootstrap interval": f"[{lo:.3f}, {hi:.3f}]"})
    return [f"## Planted systems (B = {B} graphs, 3000 rows; sizes {sizes}, seeds {seeds})", "",
            "Per condition and rule (coverage, identified, width: means over cases, and the median of the "
            "cases' mean widths; counts: sums):", "",
            markdown_table(summary), "",
            "Paired differences, the model's default minus another rule (same fitted models; bootstrap over "
            "cases):", "",
            markdown_table(pd.DataFrame(paired)), "",
            "Top-3 hits per size, out of 9 (3 seeds × 3); the target is ≥ 8:", "", markdown_table(top), "",
            "Every case:", "", markdown_table(rows.sort_values(["condition", "d", "seed", "rule"])), ""]


if __name__ == "__main__":
    main()
