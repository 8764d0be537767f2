"""What the detector's adaptive adjustments cost: the drift and background windows, and lasting.

Run it with::

    python benchmarks/adaptation.py --out benchmarks/results/adaptation.md

:class:`faultgraph.detect.CausalDetector` follows each metric's median over
``drift_window`` past steps (a level that shifts and stays stops alarming after about
``drift_window / 2`` steps) and reads its score against the score's background over
``background_window`` steps (a noisier regime raises the bar). Both trade long incidents
for fewer alarms on level shifts nobody labelled: an incident that lasts longer than
half the drift window fades from the score. ``lasting`` (the default since this script's
last decision) also scores each step without the drift adjustment, on that score's own
label-free threshold, and keeps the larger. This script measures the trade on the same
machines, loader and metrics as ``benchmarks/calibration.py`` (whose ``run`` and
``paired`` it reuses): SMD's *tune* machines and ASD, where defaults are chosen, and
SMD's *report* machines, scored after the decision and never chosen on. Beside the
scores: each group's longest labelled incident, in steps.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DataRun, markdown_table, report_args  # noqa: E402
from calibration import METRICS, machines, paired, run  # noqa: E402
from detection import leave_one_out  # noqa: E402

#: name -> CausalDetector keyword arguments; the first is the defaults.
CONFIGS: dict[str, dict[str, object]] = {
    "defaults (drift 360, background 1440, lasting)": {},
    "without lasting (the defaults before)": {"lasting": False},
    "drift 0": {"drift_window": 0},
    "drift 1440, without lasting": {"drift_window": 1440, "lasting": False},
    "drift 2880, without lasting": {"drift_window": 2880, "lasting": False},
    "background 0": {"background_window": 0},
    "drift 0, background 0": {"drift_window": 0, "background_window": 0},
    "z-score (plain)": {"detector": "z-score"},
}

DECISION = """## Decision (made on SMD tune and ASD, before the report machines were scored)

The figures in this paragraph are those measured when the decision was made (kept as its
record); this run's are in the tables above and below. The project's rule: a new default
may lower none of mean best F1, ROC-AUC and label-free F1 by more than 0.005 on any tune
dataset and must improve one clearly. `lasting` is the default since this decision.
Against the defaults before it (drift 360 and background 1440 alone) it lowers nothing by
more than 0.002 (SMD tune label-free F1 0.498 → 0.496, interval −0.016 .. +0.016; ASD
within 0.001) and raises SMD tune best F1 0.621 → 0.628 (+0.008, interval −0.002 ..
+0.024: machine-3-4, whose 786-step incident the drift window forgot, +0.056; machine-2-4
−0.005; the others within 0.001). That gain is small, not clear by the rule's letter; it is
taken because it removes a fault of design rather than moving a number: without it an
incident that outlasts half the drift window stops alarming while it goes on, and no window
mends that without a cost (drift 1440 and 2880 without lasting: ROC-AUC −0.012 and −0.010
on SMD tune). No other window passes the rule: no drift lowers SMD tune label-free F1 by
0.019, no background adjustment by 0.153. Left out one at a time (as measured then; this
run's table is below), the groups do not agree on one window: without ASD, SMD tune picks
the default by ROC-AUC, drift 1440 without lasting by best F1 (0.629 against 0.628; on ASD it
scores 0.348, the default 0.349) and drift 2880 without lasting by label-free F1 (on ASD
0.276, the default 0.273); without SMD tune, ASD picks the default by best F1 and drift
2880 without lasting by label-free F1 (on SMD tune 0.502, the default 0.496) and by ROC-AUC
(on SMD tune 0.920, the default 0.930). The label-free and best-F1 differences are within
0.006; the longer windows' ROC-AUC cost is larger (−0.010 and −0.012), though its
intervals hold 0 too.
"""


def after_decision(means: pd.DataFrame, frame: pd.DataFrame, incidents: pd.DataFrame, base: str) -> str:
    """What SMD's report machines say about ``lasting`` (read after the decision), every
    figure from this run's tables: the means, the machines and the incidents."""
    group, before, zscore = "SMD (report)", "without lasting (the defaults before)", "z-score (plain)"
    rows = means[means["dataset"] == group].set_index("config")
    if base not in rows.index or before not in rows.index:
        return "Read after the decision: this run has no SMD report rows (their data is absent).\n"
    report = incidents[incidents["dataset"] == group].sort_values("longest (steps)", ascending=False)
    others = incidents.loc[incidents["dataset"] != group, "longest (steps)"]
    longest = "; ".join(f"{name} {int(steps)} steps" for name, steps in
                        zip(report["machine"].head(2), report["longest (steps)"].head(2)))
    verb = lambda d: "raises" if d > 0 else "lowers" if d < 0 else "leaves"  # noqa: E731
    move = lambda m: f"{m} {rows.loc[before, m]:.3f} → {rows.loc[base, m]:.3f}"  # noqa: E731
    per = frame[frame["dataset"] == group].pivot_table(index="machine", columns="config",
                                                       values=["F1", "best F1", "ROC-AUC"])
    change = {m: (per[m][base] - per[m][before]) for m in ("F1", "best F1", "ROC-AUC")}
    gain = change["best F1"].idxmax()
    fall = change["ROC-AUC"].idxmin()
    f1_fall = change["F1"].idxmin()
    one = lambda m, name: f"{per[m].loc[name, before]:.3f} → {per[m].loc[name, base]:.3f}"  # noqa: E731
    of_all = len(others) == 0 or report["longest (steps)"].max() > others.max()
    text = (f"Read after the decision (this run's figures): SMD's report machines hold the "
            f"{'longest incidents of all' if of_all else 'long incidents'} (longest: {longest}). There lasting "
            f"{verb(change['best F1'].mean())} {move('best F1')} and "
            f"{verb(change['ROC-AUC'].mean())} {move('ROC-AUC')} (largest best-F1 gain: {gain}, best F1 "
            f"{one('best F1', gain)} and ROC-AUC {one('ROC-AUC', gain)}"
            + (f"; largest ROC-AUC fall: {fall}, {one('ROC-AUC', fall)}" if change["ROC-AUC"][fall] < 0 else "")
            + f") and {verb(change['F1'].mean())} {move('F1').replace('F1', 'label-free F1', 1)}"
            + (f" (largest fall: {f1_fall}, {one('F1', f1_fall)}: where a level stays, the unadjusted score goes "
               "on alarming on what the adjusted one takes as the new normal)" if change["F1"][f1_fall] < 0 else "")
            + ".")
    if zscore in rows.index:
        higher = rows.loc[zscore, "best F1"] > rows.loc[base, "best F1"]
        text += (f" The plain z-score's best F1 there ({rows.loc[zscore, 'best F1']:.3f}) is "
                 + ("still higher, so issue 17's target on the report machines stays unmet." if higher else
                    "not higher: issue 17's target on the report machines (never below it in best F1) is met."))
    return text + (" A system whose incidents outlast the background window (1440 steps) should raise it, as that "
                   "is what ends the unadjusted score's alarm on a level that stays; `docs/calibration.md` says so.\n")


def longest_incidents(data: DataRun) -> pd.DataFrame:
    """Each group's machines and their longest labelled incident (steps)."""
    from faultgraph.datasets import smd

    rows = []
    for dataset, root, name in machines(True, data):
        y = np.asarray(smd.load(root, name).labels, dtype=int)
        edges = np.diff(np.r_[0, y, 0])
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        rows.append({"dataset": dataset, "machine": name, "incidents": lengths.size,
                     "longest (steps)": int(lengths.max()) if lengths.size else 0,
                     "over 180 steps": int((lengths > 180).sum())})
    return pd.DataFrame(rows)


def main() -> None:
    args, cmd = report_args(__doc__, "adaptation.py")
    data = DataRun()
    frame = run(True, CONFIGS, data)
    data.check(args.out)
    base = next(iter(CONFIGS))
    incidents = longest_incidents(data)
    means = frame.groupby(["dataset", "config"], sort=False, as_index=False)[METRICS + ["seconds"]].mean()
    parts = ["# The detector's adaptive adjustments: drift and background windows, lasting", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread). F1 at the "
             "label-free POT threshold (risk 1e-2; the z-score: the training scores' 99th percentile); best F1 "
             "unadjusted over all thresholds; ROC-AUC of the raw scores. SMD (report) was scored after the "
             "decision below and chose nothing.", "",
             "## Means per dataset", "", markdown_table(means), "",
             f"## Paired difference to `{base}` (mean over machines, bootstrap 95 % interval)", "",
             markdown_table(paired(frame, base)), "", DECISION, after_decision(means, frame, incidents, base),
             "## Leave one dataset out", "",
             "The configuration one would pick for every machine from this table without the group on the left "
             "(the best mean over the other choice groups; SMD *report* is never chosen on; the z-score is not a "
             "candidate), and its score on that group beside the default's and the best there.", "",
             markdown_table(leave_one_out(frame, ("F1", "best F1", "ROC-AUC"), by="config", default=base,
                                          exclude=("z-score (plain)",))), "",
             "## Labelled incidents per machine", "", markdown_table(incidents), "",
             "## Per machine", "", markdown_table(frame.drop(columns=["flagged"])), ""]
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
