"""Root-cause ranking: faultgraph's variants against BARO, N-sigma and random, in one run.

Run it with ``make bench`` or::

    python benchmarks/rca.py --out benchmarks/results/rca.md

* **Simulated incidents** (100, seeds 0-99, 10 services, every fault type): fit on the
  normal period, rank on the fault window; AC@1, AC@3 and Avg@5 at metric and service
  level, and the time of one explanation. ``causal + tiers prior`` adds the one piece of
  topology an operator knows of any service (traffic → CPU, memory → latency, errors, as
  glob patterns), which orients the same-step edges that time order cannot.
* **SMD and ASD interpretation labels** (``../shared/data``): fit on each machine's train
  file; for every labelled segment rank the metrics over the segment; HitRate@100 %,
  HitRate@150 % and NDCG@100 %, @150 % against the labelled metrics. Metrics that are
  constant in train (the encoder drops them) rank last.

* **PetShop** low traffic (``../shared/data/petshop``): fit on the normal period, rank the
  nodes for each of the 26 issues; AC@1 and AC@3.

Every method goes through ``faultgraph.rca.explain`` with the same fitted model. Nezha
is not in this run yet: its loader is still to be written.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, pin_blas, progress, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATASETS = {"SMD": DATA / "smd" / "ServerMachineDataset", "ASD": DATA / "asd" / "ApplicationServerDataset"}
PETSHOP = DATA / "petshop" / "dataset" / "low_traffic"


def petshop_rows() -> pd.DataFrame:
    """PetShop low traffic, node level: fit on the normal period once, rank nodes per issue.

    Metrics are ``node|metric|statistic``; those present in under 95 % of the normal
    steps are left out, and remaining gaps are carried forward (then back)."""
    from faultgraph.datasets import petshop
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k
    from faultgraph.rca import METHODS, explain

    ps = petshop.load(PETSHOP)
    cover = ps.normal.notna().mean()
    keep = [c for c in ps.normal.columns if cover[c] >= 0.95 and ps.normal[c].nunique() > 1]
    normal = ps.normal[keep].ffill().bfill()
    model = CausalDetector(smooth=1, max_gap=len(normal)).fit(normal)
    cols = model.encoder_.columns_
    ranks: dict[str, list[list[str]]] = {m: [] for m in METHODS}
    truth = []
    for issue in ps.issues:
        data = issue.metrics.reindex(columns=cols).ffill().bfill().fillna(normal[cols].median())
        truth.append(issue.root_cause)
        for m in METHODS:
            ex = explain(model, data, (data.index[0], data.index[-1]), method=m, services=ps.services,
                         random_state=0)
            ranks[m].append(ex.top(len(ex.services), "service"))
    return pd.DataFrame([{"method": m, "AC@1": ac_at_k(ranks[m], truth, 1), "AC@3": ac_at_k(ranks[m], truth, 3),
                          "issues": len(truth), "metrics": len(cols)} for m in METHODS])


def simulated(n: int) -> pd.DataFrame:
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import ac_at_k, avg_at_k
    from faultgraph.rca import METHODS, explain
    from faultgraph.simulate import simulate_incident

    from faultgraph.discovery import PriorKnowledge

    # What an operator knows of any service: load drives resources, resources drive latency and errors.
    tiers = PriorKnowledge(tiers=(("*_traffic",), ("*_cpu", "*_memory"), ("*_latency", "*_errors")))
    variants = [*METHODS, "causal + tiers prior"]
    ranks = {m: ([], []) for m in variants}
    truth_m, truth_s, seconds = [], [], {m: [] for m in variants}
    for seed in progress(range(n), "simulated incidents"):
        inc = simulate_incident(services=10, random_state=seed)
        model = CausalDetector().fit(inc.normal)
        with_prior = CausalDetector(prior=tiers).fit(inc.normal)
        truth_m.append(inc.root_cause_metric)
        truth_s.append(inc.root_cause_service)
        for m in variants:
            start = time.perf_counter()
            ex = explain(with_prior if m == "causal + tiers prior" else model, inc.anomalous,
                         (inc.fault_start, inc.fault_end), method="causal" if m == "causal + tiers prior" else m,
                         random_state=seed)
            seconds[m].append(time.perf_counter() - start)
            ranks[m][0].append(ex.top(len(ex.causes)))
            ranks[m][1].append(ex.top(len(ex.services), "service"))
    rows = []
    for m in variants:
        rm, rs = ranks[m]
        rows.append({"method": m, "AC@1 metric": ac_at_k(rm, truth_m, 1), "AC@3 metric": ac_at_k(rm, truth_m, 3),
                     "Avg@5 metric": avg_at_k(rm, truth_m, 5), "AC@1 service": ac_at_k(rs, truth_s, 1),
                     "AC@3 service": ac_at_k(rs, truth_s, 3), "Avg@5 service": avg_at_k(rs, truth_s, 5),
                     "max s per incident": float(np.max(seconds[m]))})
    return pd.DataFrame(rows)


def interpretation(dataset: str, root: Path) -> pd.DataFrame:
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import hit_rate, ndcg
    from faultgraph.rca import METHODS, explain

    rows = []
    for name in progress(smd.list_machines(root), f"{dataset} machines"):
        m = smd.load(root, name)
        model = CausalDetector().fit(m.train)
        all_idx = list(range(m.test.shape[1]))
        for seg in m.segments:
            if seg.end - seg.start + 1 < 3:
                continue
            for method in METHODS:
                ex = explain(model, m.test, (seg.start, seg.end), method=method, random_state=seg.start)
                ranked = [int(c.metric[1:]) for c in ex.causes]
                ranking = ranked + [j for j in all_idx if j not in ranked]
                rows.append({"dataset": dataset, "machine": name, "method": method,
                             "HitRate@100%": hit_rate(ranking, seg.metrics, 100),
                             "HitRate@150%": hit_rate(ranking, seg.metrics, 150),
                             "NDCG@100%": ndcg(ranking, seg.metrics, 100), "NDCG@150%": ndcg(ranking, seg.metrics, 150)})
    return pd.DataFrame(rows)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--incidents", type=int, default=100)
    args = parser.parse_args()
    pin_blas()
    warnings.simplefilter("ignore")
    cmd = "python benchmarks/rca.py" + (f" --incidents {args.incidents}" if args.incidents != 100 else "") + (
        f" --out {args.out}" if args.out else "")
    parts = ["# Root-cause ranking", "", f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one "
             "thread). `causal`: faultgraph's default (noise z of the lagged causal model, weighted by the effect on "
             "the symptom); `noise`: noise z alone; `baro`: BARO's robust z (median/IQR of the normal period, max "
             "over the window); `nsigma`: mean/std z, max over the window; `random`: chance.", ""]
    print("simulated incidents ...", file=sys.stderr, flush=True)
    parts += [f"## {args.incidents} simulated incidents (10 services, 50 metrics, all fault types)", "",
              markdown_table(simulated(args.incidents)), ""]
    for dataset, root in DATASETS.items():
        if not root.exists():
            parts += [f"{dataset} skipped: {root} is absent.", ""]
            continue
        frame = interpretation(dataset, root)
        means = frame.groupby("method", sort=False, as_index=False)[
            ["HitRate@100%", "HitRate@150%", "NDCG@100%", "NDCG@150%"]].mean()
        parts += [f"## {dataset} interpretation labels ({len(frame) // frame['method'].nunique()} segments)", "",
                  markdown_table(means), ""]
    if PETSHOP.exists():
        print("PetShop ...", file=sys.stderr, flush=True)
        parts += ["## PetShop low traffic, root-cause node (26 issues, fit on the normal period; smoothing off "
                  "for windows of 5 steps)", "", markdown_table(petshop_rows()), ""]
    else:
        parts += [f"PetShop skipped: {PETSHOP} is absent.", ""]
    parts += ["Nezha is not measured yet (its loader is still to be written).", ""]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
