"""Unsupervised detection on every SMD and ASD machine in ../shared/data, with baselines.

Run it with ``make bench`` or::

    python benchmarks/detection.py --out benchmarks/results/detection.md

Each detector is fitted on a machine's ``train`` file (unlabelled, mostly normal) and
scores its ``test`` file; the labels are used only to score. One configuration for every
machine, chosen on SMD's *tune* machines (1-3, 1-4, 1-5, 2-3, 2-4, 3-4, 3-5) and applied
unchanged to SMD's *report* machines (1-7, 1-8, 2-2, 2-5, 2-8, 3-3) and to ASD: the means
are given for each group apart. Reported per machine and as means:
point-wise precision, recall and F1 at the label-free threshold (POT, risk 1e-2: the detector's default); the best
F1 over all thresholds, unadjusted, and the same with point adjustment (PA, which
flatters: shown only beside the unadjusted number); ROC-AUC and PR-AUC of the raw scores;
event-wise recall and mean detection delay (steps) at the label-free threshold; and the
wall time of fit plus scoring. BLAS is pinned to one thread.

Detectors, all through the same code path (encoder, drift adjustment, score, background,
threshold):
* ``faultgraph``: residuals of a lagged causal model plus the metrics' robust z-scores,
  each less its median over the previous 360 steps beyond ±1 sd, mean of squares over metrics,
  smoothed over 15 steps, divided by ``1 + max(0, r - 2)`` where ``r`` is the lower quartile
  of the previous 1440 scores over the training's (``CausalDetector()`` defaults);
* ``faultgraph residual-only``: the same without the marginal term;
* ``n-sigma (same config)``: robust z-scores with faultgraph's combination and smoothing;
* ``n-sigma (classic)``: max |z| over metrics, no smoothing, no drift or background adjustment;
* ``z-score (plain)``: each metric's z-score against the training mean and sd, max |z| over
  metrics, no smoothing, no drift or background adjustment, threshold at the training
  scores' 99th percentile (``ZScoreDetector``, the field's plainest baseline);
* ``pca``: reconstruction error (90 % variance), faultgraph's combination and smoothing;
* ``random``: random scores, unsmoothed.

Beside the means: faultgraph's default minus the plain z-score, machine by machine, with a
95 % bootstrap interval over machines (seed 0); and leave-one-dataset-out: the detector one
would choose (best mean best-F1, and best mean ROC-AUC) on the choice groups (SMD *tune*
and ASD) without one of them, scored on the one left out (SMD *report* is never chosen on:
its row is the choice on every choice group).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DATA, DataRun, bootstrap_interval, classic_nsigma, machine, markdown_table,  # noqa: E402
                     progress, report_args, smd_split)

DATASETS = {"SMD": DATA / "smd" / "ServerMachineDataset", "ASD": DATA / "asd" / "ApplicationServerDataset"}


def detectors() -> dict[str, object]:
    from faultgraph.detect import CausalDetector, NSigmaDetector, PCADetector, RandomDetector, ZScoreDetector

    return {
        "faultgraph": lambda: CausalDetector(),
        "faultgraph residual-only": lambda: CausalDetector(scoring="residual"),
        "n-sigma (same config)": lambda: NSigmaDetector(),
        "n-sigma (classic)": classic_nsigma,
        "z-score (plain)": lambda: ZScoreDetector(),
        "pca": lambda: PCADetector(),
        "random": lambda: RandomDetector(random_state=0, smooth=1),
    }


def run(dataset: str, root: Path) -> list[dict[str, object]]:
    from faultgraph.datasets import smd
    from faultgraph.evaluate import detection_report

    rows = []
    for name in progress(smd.list_machines(root), f"{dataset} machines"):
        m = smd.load(root, name)
        for method, make in detectors().items():
            start = time.perf_counter()
            det = make().fit(m.train)
            scores = det.score_samples(m.test)["score"].to_numpy()
            elapsed = time.perf_counter() - start
            r = detection_report(m.labels, scores, det.threshold_)
            rows.append({"dataset": smd_split(dataset, name), "machine": name, "method": method,
                         "P": r.precision, "R": r.recall,
                         "F1": r.f1, "best F1": r.best_f1, "best F1 (PA)": r.best_f1_pa, "ROC-AUC": r.roc_auc,
                         "PR-AUC": r.pr_auc, "event recall": r.event_recall, "delay": r.mean_delay,
                         "seconds": elapsed})
    return rows


#: The dataset groups a default may be chosen on (SMD's *report* machines are not).
CHOICE_GROUPS = ("SMD (tune)", "ASD")
PAIRED_METRICS = ("F1", "best F1", "ROC-AUC")


def paired_table(frame: pd.DataFrame, method: str = "faultgraph", baseline: str = "z-score (plain)") -> pd.DataFrame:
    """``method`` minus ``baseline`` machine by machine, per dataset group and metric: the
    mean difference, its 95 % bootstrap interval and how many machines each side wins."""
    rows = []
    for dataset in frame["dataset"].unique():
        sub = frame[frame["dataset"] == dataset]
        for metric in PAIRED_METRICS:
            table = sub.pivot_table(index="machine", columns="method", values=metric)
            if method not in table or baseline not in table:
                continue
            d = (table[method] - table[baseline]).to_numpy()
            low, high = bootstrap_interval(d)
            rows.append({"dataset": dataset, "metric": metric, "machines": int(np.isfinite(d).sum()),
                         f"{method} wins": int((d > 0).sum()), f"{baseline} wins": int((d < 0).sum()),
                         "mean difference": float(np.nanmean(d)), "95 % interval": f"{low:+.3f} .. {high:+.3f}"})
    return pd.DataFrame(rows)


def leave_one_out(frame: pd.DataFrame, metrics: tuple[str, ...] = ("best F1", "ROC-AUC"), *, by: str = "method",
                  default: str = "faultgraph", exclude: tuple[str, ...] = ("random",)) -> pd.DataFrame:
    """Leave-one-dataset-out for the one detector (or configuration: the column ``by``)
    used on every dataset: for each group, the candidate with the best mean ``metric`` over
    the choice groups other than it (the mean of the groups' means), and its score on the
    group left out beside the ``default``'s and the best one's there. Those in ``exclude``
    are never candidates."""
    means = frame[~frame[by].isin(exclude)].groupby(["dataset", by])[list(metrics)].mean()
    rows = []
    for metric in metrics:
        table = means[metric].unstack(by)
        for held in table.index:
            others = [g for g in CHOICE_GROUPS if g != held and g in table.index]
            if not others:
                continue
            chosen = table.loc[others].mean().idxmax()
            rows.append({"left out": held, "metric": metric, "chosen on": " + ".join(others), "chosen": chosen,
                         "its score there": float(table.loc[held, chosen]),
                         "default there": float(table.loc[held].get(default, float("nan"))),
                         "best there": f"{table.loc[held].idxmax()} ({table.loc[held].max():.3f})"})
    return pd.DataFrame(rows)


def main() -> None:
    args, cmd = report_args(__doc__, "detection.py")
    rows = []
    parts = ["# Unsupervised detection on SMD and ASD", "",
             f"Produced by `{cmd}` on "
             f"{time.strftime('%Y-%m-%d')} (BLAS pinned to one thread). F1, P, R, event recall and delay are at "
             "the label-free POT threshold (risk 1e-2, the detector's default; `z-score (plain)`: the training "
             "scores' 99th percentile); `best F1` is the best over all "
             "thresholds, unadjusted; "
             "`best F1 (PA)` uses point adjustment and flatters every method. Delay in steps (SMD: minutes; "
             "ASD: 5-minute steps). SMD's defaults were chosen on its *tune* machines; its *report* machines "
             f"were not looked at when choosing. Seconds are wall time on this machine ({machine()}; several jobs "
             "on few cores make them noisy): compare within a run only.", ""]
    data = DataRun()
    for dataset, root in DATASETS.items():
        if data.present(dataset, root):
            rows += run(dataset, root)
    if rows:
        frame = pd.DataFrame(rows)
        metrics = ["F1", "P", "R", "best F1", "best F1 (PA)", "ROC-AUC", "PR-AUC", "event recall", "delay", "seconds"]
        means = frame.groupby(["dataset", "method"], sort=False, as_index=False)[metrics].mean()
        parts += ["## Means over machines", "", markdown_table(means), ""]
        parts += ["## faultgraph minus the plain z-score, machine by machine", "",
                  "Positive: faultgraph better. The interval is a 95 % bootstrap over the machines of the group "
                  "(10,000 resamples, seed 0); an interval that holds 0 is no evidence either way.", "",
                  markdown_table(paired_table(frame)), ""]
        loo = leave_one_out(frame).rename(columns={"default there": "faultgraph there"})
        if not loo.empty:
            parts += ["## Leave one dataset out", "",
                      "The detector that one configuration for every machine would pick from this table without "
                      "the group on the left (chosen on the other choice groups' means; SMD *report* is never chosen "
                      "on), and its score on that group beside faultgraph's default's and the best there.", "",
                      markdown_table(loo), ""]
        for dataset in frame["dataset"].unique():
            sub = frame[frame["dataset"] == dataset].drop(columns=["dataset"])
            parts += [f"## {dataset}, per machine", "", markdown_table(sub), ""]
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
