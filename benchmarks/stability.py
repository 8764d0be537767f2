"""How much faultgraph's results on real metrics move when nothing real changes.

Run it with::

    python benchmarks/stability.py --out benchmarks/results/stability.md

NOTEARS-type learners solve a non-convex problem; on real metrics, many of them nearly
collinear (SMD's duplicated gauges), the solution they reach can hinge on rounding. For
every SMD and ASD machine the detector (``CausalDetector()``, the defaults) is fitted on
the training file three times: as read (A), with every value multiplied by 1 + 1e-13
(B: far below any measurement's precision) and with its columns in reverse order (C: as
a long-format file, sorted by name, reorders them). Reported, A against B and against C:

* **graph**: same-step and lagged edges present in one fit and not the other, as a share
  of A's edges (0: the same graph);
* **threshold**: the relative change of the label-free alarm threshold;
* **alarms**: the share of test steps whose alarm (0/1) differs;
* **root causes**: over the labelled segments (interpretation labels), how often the top
  cause is the same, the mean overlap of the top three, and HitRate@100 % of each fit.

Nothing real differs between A, B and C, so every difference is the learner's, and a
reading of one fit should not be trusted beyond it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, DataRun, markdown_table, progress, report_args  # noqa: E402

DATASETS = {"SMD": DATA / "smd" / "ServerMachineDataset", "ASD": DATA / "asd" / "ApplicationServerDataset"}
PERTURBATION = 1e-13


def _edges(model) -> set[tuple[str, str, int]]:
    g = model.graph_
    A = np.asarray(g.adjacency)
    same = {(g.nodes[i], g.nodes[j], 0) for i, j in zip(*np.nonzero(A))}
    return same | {(s, t, k) for s, t, k, _ in g.lagged_edges}


def _top(model, data: pd.DataFrame, segment) -> list[str]:
    from faultgraph.rca import explain

    return explain(model, data, (segment.start, segment.end), min_steps=1).top(len(data.columns))


def machine_rows(dataset: str, root: Path) -> list[dict]:
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import hit_rate

    rows = []
    for name in progress(smd.list_machines(root), f"{dataset} machines"):
        m = smd.load(root, name)
        variants = {"A": (m.train, m.test), "B": (m.train * (1 + PERTURBATION), m.test * (1 + PERTURBATION)),
                    "C": (m.train[m.train.columns[::-1]], m.test[m.test.columns[::-1]])}
        fitted = {key: CausalDetector().fit(train) for key, (train, _) in variants.items()}
        alarms = {key: fitted[key].predict(variants[key][1]) for key in variants}
        tops = {key: [_top(fitted[key], variants[key][1], seg) for seg in m.segments] for key in variants}
        hits = {key: np.mean([hit_rate([int(c[1:]) for c in t], seg.metrics, 100)
                              for t, seg in zip(tops[key], m.segments)]) for key in variants}
        edges_a = _edges(fitted["A"])
        for other in ("B", "C"):
            edges_o = _edges(fitted[other])
            rows.append({
                "dataset": dataset, "machine": name, "against": other, "edges (A)": len(edges_a),
                "edges differing": len(edges_a ^ edges_o) / max(len(edges_a), 1),
                "threshold change": abs(fitted[other].threshold_ / fitted["A"].threshold_ - 1.0),
                "alarms differing": float(np.mean(alarms["A"] != alarms[other])),
                "same top cause": float(np.mean([a[0] == o[0] for a, o in zip(tops["A"], tops[other])])),
                "top-3 overlap": float(np.mean([len(set(a[:3]) & set(o[:3])) / 3
                                                for a, o in zip(tops["A"], tops[other])])),
                "HitRate@100% A": float(hits["A"]), "HitRate@100% other": float(hits[other]),
                "segments": len(m.segments)})
    return rows


def main() -> None:
    args, cmd = report_args(__doc__, "stability.py")
    parts = ["# Stability: results when nothing real changes", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread). The detector "
             "(`CausalDetector()`) fitted on each machine's training file as read (A), with every value multiplied "
             f"by 1 + {PERTURBATION:g} (B) and with its columns reversed (C); root causes ranked by `explain` "
             "(default method) over every labelled segment. `edges differing`: edges in one fit and not the "
             "other, as a share of A's; `threshold change`: relative; `alarms differing`: share of test steps.", ""]
    frames = []
    data = DataRun()
    for dataset, root in DATASETS.items():
        if data.present(dataset, root):
            frames.append(pd.DataFrame(machine_rows(dataset, root)))
    if frames:
        table = pd.concat(frames, ignore_index=True)
        numeric = [c for c in table.columns if c not in ("dataset", "machine", "against", "edges (A)", "segments")]
        means = table.groupby(["dataset", "against"], as_index=False, sort=False)[numeric].mean()
        parts += ["## Means over machines", "", markdown_table(means), "", "## Per machine", "",
                  markdown_table(table), ""]
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
