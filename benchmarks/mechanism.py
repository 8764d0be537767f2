"""The ``mechanism`` ranking (CIRCA-like) against faultgraph's default and N-sigma/BARO.

Run it with::

    python benchmarks/mechanism.py --out benchmarks/results/mechanism.md

Issue #17 item 3: rank the metrics whose *mechanism* changed (each metric's mean |residual z|
of its learned equation given its parents, tested against the training residuals, then
descendant adjustment on the learned summary graph), measured, not tuned, beside
``causal+innovation+nsigma`` (the default), ``nsigma`` and ``baro``, all through
``faultgraph.rca.explain`` with the same fitted model per case and the harness of
``benchmarks/rca.py`` (its ``rank``, ``petshop_rows``, ``nezha_rows`` and
``_interpretation_row``, with its baselines switched off):

* **simulated incidents** (seeds ``0 .. --incidents-1``, 10 services, every fault type):
  metric AC@1 and AC@3;
* **PetShop** low traffic: the 26 issues, service (node) AC@1 and AC@3, as ``rca.py`` scores it;
* **Nezha Online Boutique**: every fault, service AC@1 and AC@3 (one model per day);
* **SMD tune** machines (the first ``--smd-machines`` of ``SMD_TUNE``): each labelled
  segment of at least 3 steps ranked once; HitRate@100 %.

Each dataset's paired difference ``mechanism − default`` over its cases, with a 95 %
bootstrap interval (10,000 resamples, seed 0). The adoption rule of the issue: the
default changes only if ``mechanism`` wins on every dataset measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rca as harness  # noqa: E402
from _common import DATA, SMD_TUNE, bootstrap_interval, markdown_table, pin_blas, write_report  # noqa: E402

DEFAULT = "causal+innovation+nsigma"
#: ``noise`` is ``mechanism`` without the descendant adjustment (the statistic is monotone in
#: the mean |residual z| for a given window): the adjustment's own contribution.
COMPARED = ["mechanism", "noise", DEFAULT, "nsigma", "baro"]


def _harness_on_compared() -> None:
    """``benchmarks/rca.py``'s loops on the compared methods only, without its baselines."""
    harness.variants = lambda: list(COMPARED)
    harness.BASELINES = ()


ENSEMBLE = "mechanism, graph ensemble"


def ensemble_graphs(model, train: pd.DataFrame, n_graphs: int) -> list[np.ndarray]:
    """The model's graph relearned on ``n_graphs`` block-bootstrap resamples of its encoded
    training rows (``faultgraph.discovery.ensemble``, the model's own options), each as a
    summary graph (same-step and lagged edges, largest |weight| per pair)."""
    from faultgraph.discovery.ensemble import learn_graph_ensemble

    cols = list(model.encoder_.columns_)
    X = model.encoder_.transform(train[cols]).to_numpy()
    ens = learn_graph_ensemble(X, n_graphs, lambda1=model.lambda1_, threshold=model.threshold, standardize=False,
                               prior=model.prior_, lags=int(model.lags), n_workers=0, random_state=0)
    graphs = []
    for b in range(ens.n_graphs):
        W = np.array(ens.graphs[b], dtype=float)
        for A in (ens.lagged[b] if ens.lagged is not None else ()):
            W = np.where(np.abs(A) > np.abs(W), A, W)
        graphs.append(W)
    return graphs


def ensemble_order(model, data: pd.DataFrame, window, graphs: list[np.ndarray], **kwargs) -> list[str]:
    """``mechanism`` with the descendant adjustment averaged over ``graphs``: the same test
    statistic (from ``explain``'s noise z), adjusted on each graph, the adjusted scores
    averaged; metrics constant in training that moved first, as ``explain`` lists them."""
    from faultgraph.rca.ranking import descendant_adjustment, mechanism_statistic

    ex = harness.rank(model, data, window, "noise", **kwargs)
    names = list(model.encoder_.columns_)
    noise = {c.metric: c.noise_z for c in ex.causes if c.constant_value is None}
    steps = int(((data.index >= window[0]) & (data.index <= window[1])).sum())
    T = mechanism_statistic(np.array([noise[m] for m in names]), steps)
    score = np.mean([descendant_adjustment(T, W) for W in graphs], axis=0)
    return ([c.metric for c in ex.causes if c.constant_value is not None]
            + [names[i] for i in np.argsort(-score, kind="stable")])


def simulated(n: int, n_graphs: int = 0) -> tuple[pd.DataFrame, dict[str, list[float]]]:
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k
    from faultgraph.simulate import simulate_incident

    methods = [*COMPARED, ENSEMBLE] if n_graphs else list(COMPARED)
    ranks: dict[str, list[list[str]]] = {m: [] for m in methods}
    truth = []
    for seed in range(n):
        inc = simulate_incident(services=10, random_state=seed)
        model = CausalDetector().fit(inc.normal)
        truth.append(inc.root_cause_metric)
        for m in COMPARED:
            ex = harness.rank(model, inc.anomalous, (inc.fault_start, inc.fault_end), m, random_state=seed)
            ranks[m].append(ex.top(len(ex.causes)))
        if n_graphs:
            graphs = ensemble_graphs(model, inc.normal, n_graphs)
            ranks[ENSEMBLE].append(ensemble_order(model, inc.anomalous, (inc.fault_start, inc.fault_end), graphs))
    hits = {m: [float(r[:1] == [t]) for r, t in zip(ranks[m], truth)] for m in methods}
    table = pd.DataFrame([{"method": m, "AC@1 metric": ac_at_k(ranks[m], truth, 1),
                           "AC@3 metric": ac_at_k(ranks[m], truth, 3), "incidents": n} for m in methods])
    return table, hits


def smd_tune(machines: int, n_graphs: int = 0) -> tuple[pd.DataFrame, dict[str, list[float]]]:
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector

    root = harness.DATASETS["SMD"]
    rows = []
    for name in SMD_TUNE[:machines]:
        m = smd.load(root, name)
        model = CausalDetector().fit(m.train)
        all_idx = list(range(m.test.shape[1]))
        graphs = ensemble_graphs(model, m.train, n_graphs) if n_graphs else []
        for seg in m.segments:
            if seg.end - seg.start + 1 < 3:
                continue
            for method in COMPARED:
                ex = harness.rank(model, m.test, (seg.start, seg.end), method, random_state=seg.start)
                ranked = [int(c.metric[1:]) for c in ex.causes]
                rows.append({"machine": name, "segment": seg.start, "method": method,
                             **harness._interpretation_row(ranked + [j for j in all_idx if j not in ranked],
                                                           seg.metrics)})
            if graphs:
                ranked = [int(c[1:]) for c in ensemble_order(model, m.test, (seg.start, seg.end), graphs)]
                rows.append({"machine": name, "segment": seg.start, "method": ENSEMBLE,
                             **harness._interpretation_row(ranked + [j for j in all_idx if j not in ranked],
                                                           seg.metrics)})
    frame = pd.DataFrame(rows)
    pivot = frame.pivot_table(index=["machine", "segment"], columns="method", values="HitRate@100%")
    table = frame.groupby("method", sort=False, as_index=False)[["HitRate@100%", "HitRate@150%"]].mean()
    table["segments"] = len(pivot)
    table["machines"] = frame["machine"].nunique()
    return table, {m: pivot[m].tolist() for m in pivot.columns}


def paired_row(label: str, hits: dict[str, list[float]], method: str = "mechanism") -> dict:
    d = np.asarray(hits[method]) - np.asarray(hits[DEFAULT])
    low, high = bootstrap_interval(d)
    return {"dataset": label, "method": method, "cases": len(d), "score": float(np.mean(hits[method])),
            "default": float(np.mean(hits[DEFAULT])), "difference": float(d.mean()),
            "95 % interval": f"{low:+.3f} .. {high:+.3f}", "better": int((d > 0).sum()),
            "worse": int((d < 0).sum())}


def headline_row(label: str, key: str, cases: int) -> dict:
    """A dataset measured by ``rca.py``'s own loop: the means it recorded in ``HEADLINES``."""
    means = harness.HEADLINES[key]
    return {"dataset": label, "method": "mechanism", "cases": cases, "score": means["mechanism"],
            "default": means[DEFAULT],
            "difference": means["mechanism"] - means[DEFAULT], "95 % interval": "", "better": "", "worse": ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--smd-machines", type=int, default=len(SMD_TUNE))
    parser.add_argument("--ensemble", type=int, default=0,
                        help="also rank with the adjustment averaged over this many bootstrap graphs "
                             "(simulated and SMD only; 0: off)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["simulated", "petshop", "nezha", "smd"])
    args = parser.parse_args()
    pin_blas()
    _harness_on_compared()
    cmd = (f"python benchmarks/mechanism.py --incidents {args.incidents} --smd-machines {args.smd_machines}"
           + (f" --ensemble {args.ensemble}" if args.ensemble else "")
           + (f" --skip {' '.join(args.skip)}" if args.skip else "")
           + (f" --out {args.out}" if args.out else ""))
    start = time.perf_counter()
    parts = ["# Mechanism-change ranking (CIRCA-like) against the default", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread). `mechanism`: each "
             "metric's mean |residual z| of its learned lagged equation over the window, tested against the "
             "training residuals (`T = √n (mean|z| − √(2/π)) / √(1 − 2/π)`), then CIRCA-like descendant "
             "adjustment on the learned summary graph (a metric with an anomalous parent, `T ≥ 3`, scoring above "
             "it scores `T − T_parent < 0`); `noise`: the same statistic without the adjustment (same order as "
             "the mean |residual z|); `causal+innovation+nsigma`: faultgraph's default; `nsigma`, `baro`: "
             "the baselines through `explain`. Measured once, not tuned, on a shared, loaded machine; the sets "
             "each section ran are stated there (the defaults run every case; `--ensemble` runs go on subsets). "
             "One learned graph per model unless the ensemble row says otherwise.", ""]
    paired = []
    if "simulated" not in args.skip:
        table, hits = simulated(args.incidents, args.ensemble)
        parts += [f"## Simulated incidents (seeds 0-{args.incidents - 1} of the 100 in rca.md, 10 services)", "",
                  markdown_table(table), ""]
        label = f"simulated, metric AC@1 ({args.incidents} incidents)"
        paired += [paired_row(label, hits)] + ([paired_row(label, hits, ENSEMBLE)] if args.ensemble else [])
    if "petshop" not in args.skip and harness.PETSHOP.exists():
        table = harness.petshop_rows()
        parts += ["## PetShop low traffic (all 26 issues, node level, as rca.py scores it)", "",
                  markdown_table(table), ""]
        paired.append(headline_row("PetShop, top-1 over issues", "PetShop low traffic (top-1)",
                                   int(table["issues"].iloc[0])))
    if "nezha" not in args.skip and harness.NEZHA.exists():
        service, metric, _ = harness.nezha_rows()
        parts += ["## Nezha Online Boutique (every fault; one model per day)", "", "Service level:", "",
                  markdown_table(service), "", "Metric level (CPU and network faults):", "",
                  markdown_table(metric), ""]
        paired.append(headline_row("Nezha Online Boutique, service AC@1", "Nezha Online Boutique (service AC@1)",
                                   int(service["faults"].iloc[0])))
    if "smd" not in args.skip and harness.DATASETS["SMD"].exists():
        table, hits = smd_tune(args.smd_machines, args.ensemble)
        machines = ", ".join(SMD_TUNE[:args.smd_machines])
        parts += [f"## SMD tune, {args.smd_machines} of its {len(SMD_TUNE)} machines ({machines})", "",
                  "Each labelled segment of at least 3 steps ranked once over the whole segment.", "",
                  markdown_table(table), ""]
        label = f"SMD tune, HitRate@100 % per segment ({args.smd_machines} machines)"
        paired += [paired_row(label, hits)] + ([paired_row(label, hits, ENSEMBLE)] if args.ensemble else [])
    wins = [r["difference"] > 0 for r in paired if r["method"] == "mechanism"]
    verdict = ("`mechanism` wins on every dataset measured: it may become the default."
               if paired and all(wins) else
               "`mechanism` does not win on every dataset measured: the default stays "
               "`causal+innovation+nsigma`; `mechanism` is a `--method`.")
    parts[4:4] = ["## Headline: mechanism − default, per dataset", "",
                  "`score`: the method's mean, `default`: `causal+innovation+nsigma`'s, `difference` their paired "
                  "mean difference over the cases with a 95 % bootstrap interval; PetShop and Nezha: the means of "
                  "`rca.py`'s harness (no per-case interval here). A tie is no win."
                  + (f" `{ENSEMBLE}`: the adjustment averaged over {args.ensemble} block-bootstrap refits of the "
                     "graph (simulated and SMD only)." if args.ensemble else ""), "",
                  markdown_table(pd.DataFrame(paired)) if paired else "(nothing measured)", "", verdict, "",
                  f"Wall time of the whole run: {time.perf_counter() - start:.0f} s.", ""]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
