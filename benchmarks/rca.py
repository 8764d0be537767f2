"""Root-cause ranking: faultgraph's variants against the field's baselines, in one run.

Run it with ``make bench`` or::

    python benchmarks/rca.py --out benchmarks/results/rca.md

* **Simulated incidents** (100, seeds 0-99, 10 services, every fault type): fit on the
  normal period, rank on the fault window; AC@1, AC@3 and Avg@5 at metric and service
  level, and the time of one explanation. ``… + tiers prior`` adds the one piece of
  topology an operator knows of any service (traffic → CPU, memory → latency, errors, as
  glob patterns), which orients the same-step edges that time order cannot.
* **SMD and ASD interpretation labels** (``../shared/data``): fit on each machine's train
  file; for every labelled segment rank the metrics over the segment; HitRate@100 %,
  HitRate@150 % and NDCG@100 %, @150 % against the labelled metrics. Then the published
  protocol: every labelled step ranked by its own scores (``faultgraph.rca.step_scores``),
  the four means over all labelled steps; a plain deviation score is much weaker there
  than over a whole segment, and the two sets of numbers are not comparable. Metrics that are
  constant in train (the encoder drops them) rank last, unless they leave their value in
  the segment: ``explain`` lists those first for every method but random (SMD: 7 of the
  79 segments, every such metric labelled; ASD: 2 of 38). Beside the means, faultgraph's
  default against each baseline segment by segment: segments ranked better, worse and the
  same, and the mean difference of HitRate@100 % with a 95 % bootstrap interval.

* **PetShop** low traffic (``../shared/data/petshop``): fit on the normal period, rank the
  nodes for each of the 26 issues; AC@1 and AC@3 (the PetShop harness's top-1 and top-3).
  Ranked correlation and traversal also as the harness decides which nodes are anomalous:
  at one row (the first from the third on where the target is anomalous), ``(trigger row)``.
  faultgraph also given what the baselines get (``PETSHOP_GIVEN``): the issue's target as
  the symptom, and the call graph as a prior (a second model whose graph has, across
  nodes, only callee -> caller edges).
* faultgraph's rows get all the metrics a user has (:func:`watched`), the ones constant in
  the training period too (PetShop's availabilities at 100 %): ``explain`` lists one first
  when it leaves its value in the window while it still held it before (in the median of
  the rows read before the window). The baselines (BARO, N-sigma, z-shift, ranked
  correlation, traversal) read the metrics that vary in the training period, as their
  published harnesses do (:func:`frame_for`; PetShop's harness frame is its own).

* **Nezha** Online Boutique (``../shared/data/nezha``): one model per day, fitted on the
  fault-free hours after the day's last fault; each of the 56 faults ranked over its first
  five minutes; AC@1 and AC@3 of the service, and of the metric for CPU and network faults.

* **Nezha Train Ticket** (``../shared/data/nezha``, 2023-01-29, 46 services): one model
  fitted on the fault-free hours after the last fault (400 minutes), after the loader's
  documented gap repair (``nezha.repair_gaps``: metrics seen in under 95 % of those rows
  dropped, ``max_gap`` the longest run left); its fit time; each of the 28 faults (24 code
  faults placed by ``inject_time``, see ``faultgraph.datasets.nezha``; 4 CPU contentions)
  ranked over its first five minutes; AC@1 and AC@3 of the service, and of the metric
  (``CpuUsageRate(%)``) for the CPU faults. Measured, not tuned.

* **Onsets** (what broke first): for faultgraph's default explanation, whether the
  injected metric (simulated: windows from the injection, from 24 steps before it and from
  5 steps after it, with 400 normal steps of history) or the faulty service (Nezha) broke
  first among the top five, its delay, and how many of the top five's onsets precede the
  injection.

Every method of faultgraph's goes through ``faultgraph.rca.explain`` (or ``step_scores``)
with the same fitted model; BARO and N-sigma too (``method=``). The field's other
baselines (``faultgraph.rca.baselines``: z-shift, the PetShop paper's ranked correlation
and traversal) run on the same cases' frames in the same run: the normal frame is the
recent normal before the window where at least 60 steps are there (SMD, ASD), else the
training period; SMD and ASD rank them against both (``…, training reference``). Their
symptom is the most anomalous metric; traversal walks the model's learned graph (PetShop:
its call graph, reversed). PetShop's baselines run as the PetShop repository's harness
runs them: one column per node, the issue's target metric and statistic.

``--only petshop,nezha`` runs some sections alone (``SECTIONS``; the headline and
leave-one-dataset-out then cover those only): for iterating, not for the committed table.
Rows ``"<method>, <scales> scales"``: the ranking on the scales that are not the default
(``explain(scales=...)``, ``faultgraph.rca.ranking.ranking_scales``).

SMD is reported as *tune* (the machines defaults were chosen on) and *report* (not looked
at when choosing), apart. At the top: faultgraph's default minus the best baseline per
dataset, case by case, with a 95 % bootstrap interval; and leave-one-dataset-out for the
default method (the method chosen without each dataset, scored on it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DATA, DataRun, bootstrap_interval, machine, markdown_table, progress,  # noqa: E402
                     report_args, smd_split)

DATASETS = {"SMD": DATA / "smd" / "ServerMachineDataset", "ASD": DATA / "asd" / "ApplicationServerDataset"}
PETSHOP = DATA / "petshop" / "dataset" / "low_traffic"
NEZHA = DATA / "nezha"
#: The baselines once more, compared with the training period alone (``reference_window=0``)
#: instead of the recent normal before each window that every method gets by default.
TRAINING_REFERENCE = {"nsigma, training reference": "nsigma", "baro, training reference": "baro"}
#: The field's simple baselines (``faultgraph.rca.baselines``), run on plain frames beside
#: ``explain``: the normal frame is the recent normal before the window (up to 360 steps,
#: at least 60, as ``explain``'s; else the training period), and on SMD and ASD once more
#: the training period alone (``…, training reference``).
BASELINES = ("z-shift", "ranked correlation", "traversal")
BASELINES_TRAINING = tuple(f"{b}, training reference" for b in BASELINES)
#: What is not faultgraph: every row a default is compared with.
BASELINE_ROWS = ("baro", "nsigma", *TRAINING_REFERENCE, *BASELINES, *BASELINES_TRAINING,
                 "ranked correlation (trigger row)", "traversal (trigger row)")
RECENT_STEPS, RECENT_MIN = 360, 60


def other_scales() -> dict[str, str]:
    """The rows of the ranking's scales that are not the default (``explain(scales=...)``):
    the default method and ``causal`` on them, ``"<method>, <scales> scales"`` -> scales."""
    from faultgraph.rca.ranking import DEFAULT_METHOD, DEFAULT_SCALES, SCALES

    return {f"{m}, {s} scales": s for s in SCALES if s != DEFAULT_SCALES for m in (DEFAULT_METHOD, "causal")}


def variants() -> list[str]:
    from faultgraph.rca import METHODS

    return [*METHODS, *other_scales(), *TRAINING_REFERENCE]


def options(variant: str) -> dict:
    """The ``method``, ``reference_window`` and ``scales`` of one row of the tables (a
    method, a method on the other scales, or a baseline on the training reference)."""
    if variant in TRAINING_REFERENCE:
        return {"method": TRAINING_REFERENCE[variant], "reference_window": 0}
    scales = other_scales()
    if variant in scales:
        return {"method": variant.split(",")[0], "reference_window": None, "scales": scales[variant]}
    return {"method": variant, "reference_window": None}


def rank(model, data, window, variant: str, **kwargs):
    """``explain`` for one row of the tables."""
    from faultgraph.rca import explain

    return explain(model, data, window, **options(variant), **kwargs)


def graph_pairs(model) -> list[tuple[str, str]]:
    """The model's summary graph (same-step and lagged edges) as ``(cause, effect)`` names:
    the causal graph the traversal baseline walks where no call graph is given."""
    from faultgraph.rca.ranking import summary_graph

    W, names = summary_graph(model), list(model.encoder_.columns_)
    return [(names[i], names[j]) for i, j in zip(*np.nonzero(W)) if i != j]


def watched(model) -> list[str]:
    """The metrics ``model`` reads: those it fits and those it dropped as constant in
    training (``encoder_.constants_``), which ``explain`` watches for a departure. A
    benchmark passes both to faultgraph, as a user passes all their metrics."""
    return [*model.encoder_.columns_, *model.encoder_.constants_]


def frame_for(variant: str, data: pd.DataFrame, model) -> pd.DataFrame:
    """``data`` for one row of the tables: every metric for faultgraph's rows; for the
    baselines (``BASELINE_ROWS``, the ones run through ``explain`` too) only the metrics
    that vary in the training period, as before and as their published harnesses read them
    (z-shift has no rule for a constant that settled elsewhere since training)."""
    return data[list(model.encoder_.columns_)] if variant in BASELINE_ROWS else data


def recent(data: pd.DataFrame, start: int, fallback: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``data`` before position ``start`` (at most ``RECENT_STEPS``) when at least
    ``RECENT_MIN`` are there, else ``fallback`` (the training period)."""
    before = data.iloc[max(0, start - RECENT_STEPS):start]
    return before if len(before) >= RECENT_MIN else fallback


def baseline(name: str, normal: pd.DataFrame, anomalous: pd.DataFrame, graph=None, target: str | None = None):
    """One of ``BASELINES`` (``…, training reference`` names the same function) on the two periods."""
    from faultgraph.rca.baselines import BASELINES as FUNCTIONS

    return FUNCTIONS[name.split(",")[0]](normal, anomalous, target=target, graph=graph)


def service_order(metrics, services) -> list[str]:
    """Services in the order their first metric appears in ``metrics``."""
    from faultgraph.rca import default_service

    to = services if callable(services) else (
        (lambda m: services.get(m, default_service(m))) if services is not None else default_service)
    return list(dict.fromkeys(to(m) for m in metrics))


def paired_cases(hits: dict[str, list[float]], label: str, resamples: int = 10_000) -> dict:
    """faultgraph's default minus the best baseline (best mean of ``hits``), case by case,
    with a 95 % bootstrap interval over the cases (seed 0)."""
    from faultgraph.rca import DEFAULT_METHOD

    rows = [b for b in BASELINE_ROWS if b in hits]
    best = max(rows, key=lambda b: np.mean(hits[b]))
    d = np.asarray(hits[DEFAULT_METHOD], float) - np.asarray(hits[best], float)
    low, high = bootstrap_interval(d, resamples)
    return {"dataset": label, "cases": len(d), "faultgraph": float(np.mean(hits[DEFAULT_METHOD])),
            "best baseline": best, "its score": float(np.mean(hits[best])), "difference": float(d.mean()),
            "95 % interval": f"{low:+.3f} .. {high:+.3f}", "better": int((d > 0).sum()), "worse": int((d < 0).sum())}


#: Each dataset's headline (method -> score) and its paired comparison, filled as sections run.
HEADLINES: dict[str, dict[str, float]] = {}
PAIRED: list[dict] = []


def petshop_target(issue) -> tuple[str, str]:
    """The metric and statistic (``agg``) of the issue's target, from its ``target.json``."""
    import json

    spec = json.loads((PETSHOP / issue.split / issue.name / "target.json").read_text(encoding="utf-8"))
    return spec["target"]["metric"], spec["target"].get("agg", "Average")


#: PetShop's ranked correlation and traversal once more with the anomalous nodes decided at
#: the one row the PetShop harness analyses (``trigger_row``) instead of over the window.
PETSHOP_TRIGGER = ("ranked correlation (trigger row)", "traversal (trigger row)")


def petshop_baselines(ps, issue) -> dict[str, list[str]]:
    """The baselines as the PetShop harness runs them: one column per node, the target's
    metric and statistic; the call graph reversed (a callee's trouble reaches its callers);
    and ``PETSHOP_TRIGGER``."""
    from faultgraph.rca.baselines import BASELINES as FUNCTIONS, trigger_row

    metric, stat = petshop_target(issue)
    suffix = f"|{metric}|{stat}"
    cols = [c for c in ps.normal.columns if c.endswith(suffix) and c in issue.metrics.columns]
    rename = {c: c[: -len(suffix)] for c in cols}
    normal, anomalous = ps.normal[cols].rename(columns=rename), issue.metrics[cols].rename(columns=rename)
    g = ps.graph
    pairs = [(str(callee), str(caller)) for caller in g.index for callee in g.columns if g.loc[caller, callee] > 0]
    target = issue.target_node if issue.target_node in normal.columns else None
    out = {b: baseline(b, normal, anomalous, pairs, target).top(len(cols)) for b in BASELINES}
    row = trigger_row(normal, anomalous, target)
    for b in PETSHOP_TRIGGER:
        out[b] = FUNCTIONS[b.split(" (")[0]](normal, anomalous, target=target, graph=pairs, row=row).top(len(cols))
    return out


#: PetShop rows of faultgraph given what the baselines get: row -> (method, whether the
#: model's graph is learned under the call-graph prior); every one with the issue's target
#: as the symptom (``explain(target=...)``; it moves only ``causal``'s and
#: ``causal+nsigma``'s effect weights and the paths, not the default's score).
PETSHOP_GIVEN = {
    "causal+innovation+nsigma, issue's target as symptom": ("causal+innovation+nsigma", False),
    "causal, issue's target as symptom": ("causal", False),
    "causal+innovation+nsigma, call graph given, target as symptom": ("causal+innovation+nsigma", True),
    "causal, call graph given, target as symptom": ("causal", True),
    "innovation, call graph given": ("innovation", True),
}


def petshop_call_graph_prior(ps, metrics: list[str]):
    """PetShop's call graph as a prior over ``metrics`` (``node|metric|statistic``): across
    nodes only the edges from a callee's metrics to its callers' (the reversed call graph
    the traversal baseline walks), same-step or lagged; within a node any; no other."""
    from faultgraph.discovery import PriorKnowledge

    g = ps.graph
    calls = {(str(callee), str(caller)) for caller in g.index for callee in g.columns if g.loc[caller, callee] > 0}
    node = {m: ps.services[m] for m in metrics}
    return PriorKnowledge(forbidden=[(a, b) for a in metrics for b in metrics
                                     if node[a] != node[b] and (node[a], node[b]) not in calls])


def petshop_rows() -> pd.DataFrame:
    """PetShop low traffic, node level: fit on the normal period once, rank nodes per issue.

    Metrics are ``node|metric|statistic``; those present in under 95 % of the normal
    steps are left out, and remaining gaps are carried forward (then back). The
    baselines run as the PetShop harness runs them (:func:`petshop_baselines`). Scored as
    that harness scores a method: whether the root-cause node is first (top-1) or among
    the first three (top-3), over the 26 issues (AC@1 and AC@3 here)."""
    from faultgraph.datasets import petshop
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k

    ps = petshop.load(PETSHOP)
    cover = ps.normal.notna().mean()
    keep = [c for c in ps.normal.columns if cover[c] >= 0.95]
    normal = ps.normal[keep].ffill().bfill()
    model = CausalDetector(smooth=1, max_gap=len(normal)).fit(normal)
    # what the baselines get: the call graph (a prior: across nodes only callee -> caller
    # edges, same-step or lagged; within a node any) and the issue's target as the symptom
    given = CausalDetector(smooth=1, max_gap=len(normal), prior=petshop_call_graph_prior(ps, keep)).fit(normal)
    cols = watched(model)
    rows_of = [*variants(), *PETSHOP_GIVEN, *BASELINES, *PETSHOP_TRIGGER]
    ranks: dict[str, list[list[str]]] = {m: [] for m in rows_of}
    truth = []
    for issue in ps.issues:
        data = issue.metrics.reindex(columns=cols).ffill().bfill().fillna(normal[cols].median())
        truth.append(issue.root_cause)
        window = (data.index[0], data.index[-1])
        for m in variants():
            ex = rank(model, frame_for(m, data, model), window, m, services=ps.services, random_state=0)
            ranks[m].append(ex.top(len(ex.services), "service"))
        metric, stat = petshop_target(issue)
        target = f"{issue.target_node}|{metric}|{stat}"
        target = target if target in cols else None  # (every issue's target is a metric of the model)
        for m, (method, graph) in PETSHOP_GIVEN.items():
            ex = rank(given if graph else model, data, window, method, target=target, services=ps.services,
                      random_state=0)
            ranks[m].append(ex.top(len(ex.services), "service"))
        for m, got in petshop_baselines(ps, issue).items():
            ranks[m].append(got)
    hits = {m: [float(r[:1] == [t]) for r, t in zip(ranks[m], truth)] for m in rows_of}
    HEADLINES["PetShop low traffic (top-1)"] = {m: float(np.mean(h)) for m, h in hits.items()}
    PAIRED.append(paired_cases(hits, "PetShop low traffic, top-1 over issues"))
    return pd.DataFrame([{"method": m, "AC@1": ac_at_k(ranks[m], truth, 1), "AC@3": ac_at_k(ranks[m], truth, 3),
                          "issues": len(truth), "metrics": len(cols)} for m in rows_of])


def nezha_rows() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Nezha Online Boutique: one model per day, fitted on the fault-free hours after the
    day's last fault (from 30 minutes after it, at most 400 minutes); each fault is ranked
    over its first 5 minutes, with the 10 minutes before as the lagged equations' past.
    Service level over all 56 faults; metric level for the CPU and network faults (truth:
    ``CpuUsageRate(%)``, and for network delays ``NetworkP50(s)``, the callers' latency into
    the service, see ``faultgraph.datasets.nezha``)."""
    from faultgraph.datasets import nezha
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k
    from faultgraph.rca import DEFAULT_METHOD

    rows_of = [*variants(), *BASELINES]
    ranks = {m: ([], []) for m in rows_of}  # service ranking, metric ranking
    truth_s, truth_m, kinds, onsets = [], [], [], []
    for day in nezha.list_days(NEZHA, "online_boutique"):
        d = nezha.read_day(NEZHA, day)
        last = max(f.start for f in d.faults)
        normal = d.metrics.loc[last + pd.Timedelta(minutes=30):].iloc[:400]
        model = CausalDetector(smooth=1).fit(normal)
        cols, fitted = watched(model), list(model.encoder_.columns_)  # fitted: the baselines' frame (frame_for)
        fill = normal[cols].median()
        pairs = graph_pairs(model)
        for f in d.faults:
            data = d.metrics.loc[f.start - pd.Timedelta(minutes=10): f.start + pd.Timedelta(minutes=4), cols]
            data = data.ffill().fillna(fill)
            window = (f.start, f.start + pd.Timedelta(minutes=4))
            truth_s.append(f.service)
            truth_m.append(nezha.truth_metric(d, f, d.metrics.columns))
            kinds.append(f.fault_type)
            for m in variants():
                ex = rank(model, frame_for(m, data, model), window, m, services=d.services, random_state=0)
                ranks[m][0].append(ex.top(len(ex.services), "service"))
                ranks[m][1].append(ex.top(len(ex.causes)))
                if m == DEFAULT_METHOD:
                    onsets.append(onset_row(ex, f.service, f.start, "service"))
            anomalous = data.loc[window[0]: window[1]]
            for m in BASELINES:  # 10 minutes before the window: the training period is the reference
                got = baseline(m, normal[fitted], anomalous[fitted], pairs)
                ranks[m][0].append(service_order(got.metrics, d.services))
                ranks[m][1].append(list(got.metrics))
    hits = {m: [float(r[:1] == [t]) for r, t in zip(ranks[m][0], truth_s)] for m in rows_of}
    HEADLINES["Nezha Online Boutique (service AC@1)"] = {m: float(np.mean(h)) for m, h in hits.items()}
    PAIRED.append(paired_cases(hits, "Nezha Online Boutique, service AC@1 over faults"))
    service_rows, metric_rows = [], []
    for m in rows_of:
        rs, rm = ranks[m][0], ranks[m][1]
        service_rows.append({"method": m, "AC@1": ac_at_k(rs, truth_s, 1), "AC@3": ac_at_k(rs, truth_s, 3),
                             "faults": len(truth_s)})
        row = {"method": m}
        for label, types in (("CPU", ("cpu_contention", "cpu_consumed")), ("network", ("network_delay",))):
            idx = [i for i, k in enumerate(kinds) if k in types and truth_m[i]]
            row[f"AC@1 {label}"] = ac_at_k([rm[i] for i in idx], [truth_m[i] for i in idx], 1)
            row[f"AC@3 {label}"] = ac_at_k([rm[i] for i in idx], [truth_m[i] for i in idx], 3)
            row[f"{label} faults"] = len(idx)
        metric_rows.append(row)
    minutes = lambda t: f"{t.total_seconds() / 60:+.1f} min"  # noqa: E731
    return (pd.DataFrame(service_rows), pd.DataFrame(metric_rows),
            onset_table(onsets, "Nezha, the faulty service (5-minute windows from the injection)", minutes))


def train_ticket_rows(full: bool = False, constants: bool = True, **detector) -> tuple[pd.DataFrame, dict]:
    """Nezha Train Ticket, as :func:`nezha_rows` but on the gap-repaired fault-free period:
    service level over all faults, and over the code faults and CPU faults apart; metric
    level for the CPU faults. Returns the table and the fit's facts (rows, metrics,
    candidate parents per metric, seconds, why it was screened if it was, and each
    method's hits per fault at 1 and 3). The fit is the library's default: with more
    candidate parents per metric than rows it screens them
    (``faultgraph._budget.screen_reason``); ``full=True`` forces the full continuous solve
    (``limits(force=True)``) whatever its size, as measured before screening existed.
    ``constants=False`` passes faultgraph's rows only the fitted metrics, not the ones
    constant in the fitting period (:func:`watched`), to compare fits (the baselines read
    the fitted metrics either way, :func:`frame_for`).
    ``detector``: more ``CausalDetector`` options (e.g. ``scale_floor``)."""
    import contextlib
    import warnings

    from faultgraph.datasets import nezha
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k

    forced = contextlib.nullcontext()
    if full:
        from faultgraph._budget import limits
        forced = limits(force=True)
    rows_of = [*variants(), *BASELINES]
    ranks = {m: ([], []) for m in rows_of}
    truth_s, truth_m, kinds, seconds = [], [], [], {m: [] for m in rows_of}
    facts: dict = {}
    for day in nezha.list_days(NEZHA, "train_ticket"):
        d = nezha.read_day(NEZHA, day)
        last = max(f.start for f in d.faults)
        repair = nezha.repair_gaps(d.metrics.loc[last + pd.Timedelta(minutes=30):].iloc[:400])
        started = time.perf_counter()
        with forced, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CausalDetector(smooth=1, max_gap=repair.max_gap, **detector).fit(repair.frame)
        fitted = list(model.encoder_.columns_)  # the baselines' frame (frame_for)
        cols = watched(model) if constants else fitted
        facts = {"day": day, "rows": len(repair.frame), "columns": d.metrics.shape[1],
                 "dropped": len(repair.dropped), "max_gap": repair.max_gap, "metrics": len(model.encoder_.columns_),
                 "constants": len(model.encoder_.constants_),
                 "candidates": len(model.encoder_.columns_) * (model.lags_ + 1), "lags": model.lags_,
                 "fit s": time.perf_counter() - started, "screened": model.graph_.params.get("screen_reason"),
                 "edges": int(np.count_nonzero(model.graph_.adjacency)),
                 "lagged edges": int(np.count_nonzero(model.graph_.lagged))
                 if model.graph_.lagged is not None else 0}
        fill = repair.frame[cols].median()
        pairs = graph_pairs(model)
        for f in progress(d.faults, "Train Ticket faults"):
            data = d.metrics.loc[f.start - pd.Timedelta(minutes=10): f.start + pd.Timedelta(minutes=4), cols]
            data = data.ffill().fillna(fill)
            window = (f.start, f.start + pd.Timedelta(minutes=4))
            truth_s.append(f.service)
            truth_m.append(nezha.truth_metric(d, f, d.metrics.columns))
            kinds.append(f.fault_type)
            for m in variants():
                started = time.perf_counter()
                ex = rank(model, frame_for(m, data, model), window, m, services=d.services, random_state=0)
                seconds[m].append(time.perf_counter() - started)
                ranks[m][0].append(ex.top(len(ex.services), "service"))
                ranks[m][1].append(ex.top(len(ex.causes)))
            anomalous = data.loc[window[0]: window[1]]
            for m in BASELINES:  # 10 minutes before the window: the fitting period is the reference
                started = time.perf_counter()
                got = baseline(m, repair.frame[fitted], anomalous[fitted], pairs)
                seconds[m].append(time.perf_counter() - started)
                ranks[m][0].append(service_order(got.metrics, d.services))
                ranks[m][1].append(list(got.metrics))
    hits = {m: [float(r[:1] == [t]) for r, t in zip(ranks[m][0], truth_s)] for m in rows_of}
    facts["hits@1"] = hits
    facts["hits@3"] = {m: [float(t in r[:3]) for r, t in zip(ranks[m][0], truth_s)] for m in rows_of}
    HEADLINES["Nezha Train Ticket (service AC@1)"] = {m: float(np.mean(h)) for m, h in hits.items()}
    PAIRED.append(paired_cases(hits, "Nezha Train Ticket, service AC@1 over faults"))
    code = [i for i, k in enumerate(kinds) if k in nezha.LOG_FAULT_TYPES]
    cpu = [i for i, k in enumerate(kinds) if k in ("cpu_contention", "cpu_consumed") and truth_m[i]]
    rows = []
    for m in rows_of:
        rs, rm = ranks[m]
        pick = lambda got, idx, k, truth: ac_at_k([got[i] for i in idx], [truth[i] for i in idx], k)  # noqa: E731
        rows.append({"method": m, "AC@1": ac_at_k(rs, truth_s, 1), "AC@3": ac_at_k(rs, truth_s, 3),
                     "faults": len(truth_s), "AC@1 code": pick(rs, code, 1, truth_s),
                     "AC@3 code": pick(rs, code, 3, truth_s), "AC@1 CPU": pick(rs, cpu, 1, truth_s),
                     "AC@3 CPU": pick(rs, cpu, 3, truth_s), "AC@1 CPU metric": pick(rm, cpu, 1, truth_m),
                     "AC@3 CPU metric": pick(rm, cpu, 3, truth_m), "max s per fault": float(max(seconds[m]))})
    return pd.DataFrame(rows), facts


def code_fault_note(table: pd.DataFrame) -> str:
    """What the Train Ticket table says per fault type, in words: the best AC@1 on the code
    faults and on the CPU faults, and which rows reach them (scored, never chosen on)."""
    def best(column: str) -> str:
        top = table[column].max()
        rows = table.loc[table[column] == top, "method"].tolist()
        return f"{top:.3f} ({', '.join(f'`{r}`' for r in rows)})" if top > 0 else "0 for every method"

    return ("Per fault type (scored, never chosen on): the best service AC@1 on the code faults is "
            f"{best('AC@1 code')}, on the CPU contentions {best('AC@1 CPU')}. A code fault (an injected return "
            "value or exception) changes what a call answers, not how long or how often it runs: it leaves "
            "next to no trace in these metrics for any method, so Train Ticket's overall AC@1 measures the 4 CPU "
            "faults.")


def onset_row(ex, truth: str, start, level: str = "metric") -> dict:
    """What the onsets of one explanation say: whether ``truth`` (the injected metric or
    service) broke first among the top five (ties count; strictly: alone), its delay
    after the injection at ``start``, and the share of the top five's onsets before it.
    A service breaks with its first metric; censored onsets (``by T``) are not dated."""
    dated = [c for c in ex.causes if c.onset is not None and not c.onset_censored]
    onsets: dict = {}
    for c in dated:
        key = c.metric if level == "metric" else c.service
        onsets[key] = min(onsets.get(key, c.onset), c.onset)
    known = {k: onsets[k] for k in ex.top(5, level) if k in onsets}  # type: ignore[arg-type]
    earliest = min(known.values()) if known else None
    first = truth in known and known[truth] == earliest
    return {"first": first, "strictly first": first and sum(v == earliest for v in known.values()) == 1,
            "delay": known[truth] - start if truth in known else None,
            "before": float(np.mean([v < start for v in known.values()])) if known else float("nan")}


def onset_table(rows: list[dict], label: str, unit) -> dict:
    delays = [r["delay"] for r in rows if r["delay"] is not None]
    return {"incidents": label, "n": len(rows), "truth first among the top 5": np.mean([r["first"] for r in rows]),
            "strictly first": np.mean([r["strictly first"] for r in rows]),
            "median delay": str(unit(np.median(delays))) if delays else "–",
            "top-5 onsets before the injection": float(np.nanmean([r["before"] for r in rows]))}


def simulated(n: int) -> tuple[pd.DataFrame, list[dict]]:
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k, avg_at_k
    from faultgraph.rca import DEFAULT_METHOD
    from faultgraph.simulate import simulate_incident

    from faultgraph.report.demo import SERVICE_TIERS as tiers  # load → resources → latency and errors
    with_tiers = {"causal + tiers prior": "causal", f"{DEFAULT_METHOD} + tiers prior": DEFAULT_METHOD}
    rows_of = [*variants(), *with_tiers, *BASELINES]
    ranks = {m: ([], []) for m in rows_of}
    truth_m, truth_s, seconds = [], [], {m: [] for m in rows_of}
    onsets: dict[str, list[dict]] = {"exact": [], "early": [], "late": []}
    for seed in progress(range(n), "simulated incidents"):
        inc = simulate_incident(services=10, random_state=seed)
        model = CausalDetector().fit(inc.normal)
        with_prior = CausalDetector(prior=tiers).fit(inc.normal)
        truth_m.append(inc.root_cause_metric)
        truth_s.append(inc.root_cause_service)
        longer = pd.concat([inc.normal.iloc[-400:], inc.anomalous])  # history before the window
        for key, offset in (("exact", 0), ("early", -24), ("late", 5)):
            ex = rank(model, longer, (inc.fault_start + offset, inc.fault_end), DEFAULT_METHOD)
            onsets[key].append(onset_row(ex, inc.root_cause_metric, inc.fault_start))
        pairs = graph_pairs(model)
        anomalous = inc.anomalous.loc[inc.fault_start: inc.fault_end]
        for m in BASELINES:  # 30 steps before the window: the training period is the reference
            start = time.perf_counter()
            got = baseline(m, inc.normal, anomalous, pairs)
            seconds[m].append(time.perf_counter() - start)
            ranks[m][0].append(list(got.metrics))
            ranks[m][1].append(service_order(got.metrics, None))
        for m in [r for r in rows_of if r not in BASELINES]:
            start = time.perf_counter()
            ex = rank(with_prior if m in with_tiers else model, inc.anomalous, (inc.fault_start, inc.fault_end),
                      with_tiers.get(m, m), random_state=seed)
            seconds[m].append(time.perf_counter() - start)
            ranks[m][0].append(ex.top(len(ex.causes)))
            ranks[m][1].append(ex.top(len(ex.services), "service"))
    hits = {m: [float(r[:1] == [t]) for r, t in zip(ranks[m][0], truth_m)] for m in rows_of}
    HEADLINES["simulated (metric AC@1)"] = {m: float(np.mean(h)) for m, h in hits.items() if m not in with_tiers}
    PAIRED.append(paired_cases(hits, f"{n} simulated incidents, metric AC@1"))
    rows = []
    for m in rows_of:
        rm, rs = ranks[m]
        rows.append({"method": m, "AC@1 metric": ac_at_k(rm, truth_m, 1), "AC@3 metric": ac_at_k(rm, truth_m, 3),
                     "Avg@5 metric": avg_at_k(rm, truth_m, 5), "AC@1 service": ac_at_k(rs, truth_s, 1),
                     "AC@3 service": ac_at_k(rs, truth_s, 3), "Avg@5 service": avg_at_k(rs, truth_s, 5),
                     "max s per incident": float(np.max(seconds[m]))})
    labels = {"exact": "simulated, window from the injection", "early": "simulated, window from 24 steps before",
              "late": "simulated, window from 5 steps after"}
    return pd.DataFrame(rows), [onset_table(onsets[k], labels[k], int) for k in onsets]


INTERPRETATION_METRICS = ["HitRate@100%", "HitRate@150%", "NDCG@100%", "NDCG@150%"]


def _interpretation_row(ranking: list[int], labelled: list[int]) -> dict[str, float]:
    from faultgraph.evaluate import hit_rate, ndcg

    return {"HitRate@100%": hit_rate(ranking, labelled, 100), "HitRate@150%": hit_rate(ranking, labelled, 150),
            "NDCG@100%": ndcg(ranking, labelled, 100), "NDCG@150%": ndcg(ranking, labelled, 150)}


def interpretation(dataset: str, root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per segment and method (the segment ranked once, by ``explain``), and one
    per labelled step and method (each step ranked by its own ``step_scores``, as the
    public evaluation code of TranAD and its successors does)."""
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector
    from faultgraph.rca import step_scores

    rows, steps = [], []
    for name in progress(smd.list_machines(root), f"{dataset} machines"):
        m = smd.load(root, name)
        group = smd_split(dataset, name)
        model = CausalDetector().fit(m.train)
        pairs = graph_pairs(model)
        all_idx = list(range(m.test.shape[1]))
        position = {v: i for i, v in enumerate(m.test.index)}
        for seg in m.segments:
            if seg.end - seg.start + 1 >= 3:
                anomalous = m.test.loc[seg.start: seg.end]
                references = (recent(m.test, position[seg.start], m.train), m.train)
                for names, normal in zip((BASELINES, BASELINES_TRAINING), references):
                    for b in names:
                        ranked = [int(c[1:]) for c in baseline(b, normal, anomalous, pairs).metrics]
                        rows.append({"dataset": group, "machine": name, "segment": seg.start, "method": b,
                                     **_interpretation_row(ranked, seg.metrics)})
            for method in variants():
                scores = step_scores(model, m.test, (seg.start, seg.end), **options(method), random_state=seg.start)
                columns = [int(c[1:]) for c in scores.columns]
                for values in scores.to_numpy():
                    ranked = [columns[i] for i in np.argsort(-values, kind="stable")]
                    steps.append({"dataset": group, "machine": name, "segment": seg.start, "method": method,
                                  **_interpretation_row(ranked + [j for j in all_idx if j not in ranked],
                                                        seg.metrics)})
                if seg.end - seg.start + 1 < 3:
                    continue
                ex = rank(model, m.test, (seg.start, seg.end), method, random_state=seg.start)
                ranked = [int(c.metric[1:]) for c in ex.causes]
                rows.append({"dataset": group, "machine": name, "segment": seg.start, "method": method,
                             **_interpretation_row(ranked + [j for j in all_idx if j not in ranked], seg.metrics)})
    return pd.DataFrame(rows), pd.DataFrame(steps)


def paired(frame: pd.DataFrame, metric: str = "HitRate@100%", resamples: int = 10_000) -> pd.DataFrame:
    """faultgraph's default against every baseline row, segment by segment: how many
    segments it ranks better, worse and the same, and the mean difference of ``metric``
    with a 95 % bootstrap interval over segments (seed 0): whether a gap is more than
    a few segments' luck. The last row is against the best baseline (best mean)."""
    from faultgraph.rca import DEFAULT_METHOD

    table = frame.pivot_table(index=["machine", "segment"], columns="method", values=metric)
    present = [b for b in BASELINE_ROWS if b in table]
    best = max(present, key=lambda b: table[b].mean())
    rows = []
    for against, column in [*((b, b) for b in present), (f"best baseline ({best})", best)]:
        d = (table[DEFAULT_METHOD] - table[column]).to_numpy()
        low, high = bootstrap_interval(d, resamples)
        rows.append({"against": against, "better": int((d > 0).sum()), "worse": int((d < 0).sum()),
                     "same": int((d == 0).sum()), f"mean difference of {metric}": float(np.mean(d)),
                     "95 % interval": f"{low:+.3f} .. {high:+.3f}"})
    return pd.DataFrame(rows)


def leave_one_out() -> pd.DataFrame:
    """Leave-one-dataset-out for the default method, which spans datasets: for each dataset,
    the faultgraph method with the best mean headline over the other choice datasets (not
    SMD *report*, never chosen on), its headline on the one left out, the default's there,
    and the best faultgraph method and the best baseline there."""
    from faultgraph.rca import DEFAULT_METHOD

    own = [m for m in variants() if m not in BASELINE_ROWS and m != "random"]
    choice = [k for k in HEADLINES if "(report" not in k]
    rows = []
    for held in HEADLINES:
        others = [k for k in choice if k != held]
        if not others:
            continue
        chosen = max(own, key=lambda m: np.mean([HEADLINES[k].get(m, np.nan) for k in others]))
        there = HEADLINES[held]
        best_own = max(own, key=lambda m: there.get(m, -np.inf))
        bases = [b for b in BASELINE_ROWS if b in there]
        best_base = max(bases, key=lambda b: there[b])
        rows.append({"left out": held, "chosen without it": chosen, "its score there": there.get(chosen, np.nan),
                     "default there": there.get(DEFAULT_METHOD, np.nan),
                     "best faultgraph method there": f"{best_own} ({there[best_own]:.3f})",
                     "best baseline there": f"{best_base} ({there[best_base]:.3f})"})
    return pd.DataFrame(rows)


def nezha_days(system: str) -> list[str]:
    """The Nezha days of ``system`` present under ``NEZHA`` (none if the loader does not know
    it, or the folder is absent)."""
    from faultgraph.datasets import nezha

    try:
        return nezha.list_days(NEZHA, system)
    except Exception:  # noqa: BLE001 - an older loader or no data: the section is skipped
        return []


#: The sections ``--only`` may name (default: all of them).
SECTIONS = ("simulated", "smd", "asd", "petshop", "nezha", "trainticket")


def only_option(parser) -> None:
    """Add ``--only a,b`` (sections of :data:`SECTIONS` to run; default all) to ``parser``."""
    parser.add_argument("--only", default=",".join(SECTIONS), metavar="SECTIONS",
                        help=f"comma-separated sections to run, for iterating (default all: {','.join(SECTIONS)})")


def only_sections(text: str) -> tuple[tuple[str, ...], str]:
    """The sections ``--only`` names, and its part of the command line."""
    only = tuple(x.strip().lower() for x in text.split(",") if x.strip())
    unknown = [x for x in only if x not in SECTIONS]
    if unknown:
        raise SystemExit(f"--only: unknown sections {unknown}; choose among {', '.join(SECTIONS)}")
    return only, ("" if set(only) == set(SECTIONS) else f" --only {','.join(only)}")


def main() -> None:
    from faultgraph.rca import DEFAULT_METHOD

    args, cmd = report_args(__doc__, "rca.py", 100, only_option)
    only, more = only_sections(args.only)
    cmd = cmd.replace("rca.py", "rca.py" + more, 1)
    data = DataRun()
    parts = ["# Root-cause ranking", "", f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one "
             "thread). `causal+innovation+nsigma`: faultgraph's default (noise z + innovation z + N-sigma z, below); "
             "`causal+nsigma`: the default before innovations (noise z weighted by the effect on the symptom, plus "
             "N-sigma z); `causal`: noise z of the lagged causal model (in standard deviations of its training "
             "residuals, mean over the window), weighted by the effect on the symptom; `innovation`: each metric's "
             "deviation from what the past of all metrics predicts (a vector autoregression), mean of its 3 largest "
             "|z| in the window; `noise`: noise z alone; `baro`: BARO's robust z (median/IQR of the normal period, "
             "max over the window); `nsigma`: mean/std z, max over the window; `random`: chance. Every method "
             "compares the window with its recent normal (the deviations' median over the up to 360 steps before "
             "it, beyond ±1 sd, is taken off, when at least 60 such steps are in the data: SMD and ASD; the "
             "simulated, PetShop and Nezha windows have fewer); `…, training reference` rows run the baselines "
             "against the training period alone, as they are usually published. The field's baselines "
             "(`faultgraph.rca.baselines`, on the same cases in the same run): `z-shift`: each metric's mean shift "
             "in the window in normal-period standard deviations; `ranked correlation` and `traversal`: the PetShop "
             "paper's (the anomalous metrics ranked by the p-value of their correlation with the symptom over the "
             "window; the anomalous metrics with no anomalous parent in the causal graph that reach the symptom "
             "through anomalous metrics, by the sum of anomaly scores on the path), on the model's learned graph "
             "except on PetShop (its call graph, reversed); their symptom is the most anomalous metric (PetShop: "
             "the issue's target). `…, calibrated scales` (`…, model scales` if calibrated is the default): the "
             "method with `explain(scales=...)` on the other scales (`faultgraph.rca.ranking.ranking_scales`: no "
             "residual or innovation scale below 1 % of the metric's own robust variation, each residual bounded "
             "by the metric's own move, near-deterministic equations flagged; measured against "
             f"the model's scales in `rca_scales.md`). Seconds are wall time on this machine ({machine()}; several "
             "jobs on few cores make them noisy): compare within a run only.", ""]
    onset_rows: list[dict] = []
    if "simulated" in only:
        data.measured("simulated")
        print("simulated incidents ...", file=sys.stderr, flush=True)
        table, onset_rows = simulated(args.incidents)
        parts += [f"## {args.incidents} simulated incidents (10 services, 50 metrics, all fault types)", "",
                  markdown_table(table), ""]
    for dataset, root in DATASETS.items():
        if dataset.lower() not in only or not data.present(dataset, root):
            continue
        frame, steps = interpretation(dataset, root)
        for group in frame["dataset"].unique():
            sub, sub_steps = frame[frame["dataset"] == group], steps[steps["dataset"] == group]
            means = sub.groupby("method", sort=False, as_index=False)[INTERPRETATION_METRICS].mean()
            step_means = sub_steps.groupby("method", sort=False, as_index=False)[INTERPRETATION_METRICS].mean()
            n_steps = len(sub_steps) // max(1, sub_steps["method"].nunique())
            n_segments = len(sub_steps[["machine", "segment"]].drop_duplicates())
            table = sub.pivot_table(index=["machine", "segment"], columns="method", values="HitRate@100%")
            HEADLINES[f"{group} (segment HitRate@100%)"] = {m: float(table[m].mean()) for m in table}
            PAIRED.append(paired_cases({m: table[m].tolist() for m in table},
                                       f"{group}, HitRate@100 % per segment"))
            parts += [f"## {group} interpretation labels ({len(table)} segments of "
                      f"{sub['machine'].nunique()} machines)", "",
                      "The headline: each segment of at least 3 steps ranked once, over the whole segment "
                      "(`explain`; the baselines on the segment's rows), the baselines against both references "
                      "(the recent normal before the segment, and `…, training reference`):", "",
                      markdown_table(means), "",
                      f"faultgraph's default (`{DEFAULT_METHOD}`) segment by segment against each baseline:", "",
                      markdown_table(paired(sub)), "",
                      (f"Beside it, the per-step protocol: each labelled step ranked by its own scores "
                       f"(`step_scores`, faultgraph's methods and BARO and N-sigma only: a correlation or a "
                       f"traversal needs more than one step), the mean over all {n_steps} labelled steps of "
                       f"{n_segments} segments, as the public evaluation code of TranAD and its successors computes "
                       "HitRate@100 % (at 150 % that code keeps round(1.5·labels) metrics where this keeps "
                       "⌊1.5·labels⌋, and its NDCG is scikit-learn's); not comparable with the table above. "
                       "`causal` and `causal+nsigma` weight each step by the effect on a symptom chosen over the whole "
                       "segment:"), "",
                      markdown_table(step_means), ""]
    if "petshop" in only and data.present("PetShop", PETSHOP):
        print("PetShop ...", file=sys.stderr, flush=True)
        parts += ["## PetShop low traffic, root-cause node (26 issues, fit on the normal period; smoothing off "
                  "for windows of 5 steps)", "",
                  "The baselines get the issue's target as their symptom and the call graph (reversed) as their "
                  "graph, on one column per node; faultgraph learns its graph from the 589 normal rows of the 197 "
                  "metrics that vary there, watches the 18 that do not (availabilities at 100 %: `explain` lists "
                  "one first when it leaves its value) and picks its own symptom. The rows `…, issue's target "
                  "as symptom` give `explain` the target (it moves `causal`'s effect weights and the paths; the "
                  "default's score does not read it); `…, call graph given` rank with a second model fitted "
                  "under the call graph as a prior (across nodes only callee → caller edges, same-step or "
                  "lagged; within a node any).", "",
                  markdown_table(petshop_rows()), ""]
    if "nezha" in only and data.present("Nezha", NEZHA, bool(nezha_days("online_boutique"))):
        print("Nezha ...", file=sys.stderr, flush=True)
        services, metrics, nezha_onsets = nezha_rows()
        onset_rows.append(nezha_onsets)
        parts += ["## Nezha Online Boutique, root-cause service (56 faults; one model per day, fitted on the "
                  "fault-free hours after the last fault; 5-minute windows)", "", markdown_table(services), "",
                  "### Nezha, root-cause metric (CPU faults: `CpuUsageRate(%)`; network delays: `NetworkP50(s)`, "
                  "the callers' latency into the service)", "", markdown_table(metrics), ""]
    if "trainticket" in only and data.present("Nezha Train Ticket", NEZHA, bool(nezha_days("train_ticket"))):
        print("Nezha Train Ticket ...", file=sys.stderr, flush=True)
        table, facts = train_ticket_rows()
        parts += [f"## Nezha Train Ticket, root-cause service ({table['faults'].iloc[0]} faults of {facts['day']}: "
                  "24 code faults, 4 CPU contentions; one model fitted on the fault-free hours after the last fault; "
                  "5-minute windows)", "",
                  (f"Fit: {facts['rows']} rows of {facts['columns']} columns; the gap repair dropped "
                   f"{facts['dropped']} (seen in under 95 % of the rows) and fills runs of up to {facts['max_gap']} "
                   f"minutes; {facts['metrics']} metrics vary ({facts['constants']} more are constant there: "
                   f"`explain` watches them), {facts['candidates']} candidate parents per metric "
                   f"(lags={facts['lags']})"
                   + (", more than the rows: the fit screens each metric's candidate parents among the present "
                      "and past metrics (`faultgraph._budget.screen_reason`; full solve vs screen: "
                      "`benchmarks/results/trainticket.md`)" if facts.get("screened") else
                      ", more than the rows: the graph is not determined by these rows (fitted anyway)"
                      if facts["candidates"] >= facts["rows"] else "")
                   + f". Fit time: **{facts['fit s']:.0f} s** (one BLAS thread). "
                   "Code faults (`return`, `exception`) have no metric in the truth (a log region); `AC@… CPU "
                   "metric` is for the 4 CPU faults' `CpuUsageRate(%)`."), "",
                  markdown_table(table), "", code_fault_note(table), ""]
    if onset_rows:
        parts += ["## Onsets: what broke first (faultgraph's default explanation)", "",
                  "Each cause's `onset` is when it broke (|z| or |innovation z| above 4, traced back while above 3). "
                  "Whether the injected metric (or service: its first metric) broke first among the top five causes "
                  "(ties count; strictly: alone), its median delay after the injection, and the share of the top "
                  "five's onsets that precede the injection. The simulated windows get the 400 normal steps before "
                  "them as history; censored onsets (`by T`) are not dated.", "",
                  markdown_table(pd.DataFrame(onset_rows)), ""]
    summary = ["## Headline: faultgraph's default against the best baseline, per dataset", "",
               f"`{DEFAULT_METHOD}` minus the baseline with the best mean on each dataset's headline (the best of "
               "BARO, N-sigma, z-shift, ranked correlation and traversal, on either reference where both are run), "
               "case by case (segments, incidents, issues or faults), with a 95 % bootstrap interval over the cases "
               "(10,000 resamples, seed 0): an interval that holds 0 is no evidence either way. SMD's *report* "
               "machines were not looked at when choosing anything.", "", markdown_table(pd.DataFrame(PAIRED)), ""]
    loo = leave_one_out()
    if not loo.empty:
        summary += ["## Leave one dataset out: the default method", "",
                    "The default spans datasets; here is the faultgraph method (of the rows above, baselines and "
                    "random excluded) that the best mean headline over the other datasets would choose without each "
                    "one (SMD *report* is never chosen on), and its headline on the one left out, beside the "
                    "default's, the best faultgraph method's and the best baseline's there.", "",
                    markdown_table(loo), ""]
    data.check(args.out)
    parts[4:4] = summary  # after the title and the paragraph that opens the report
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
