"""What the detector's adaptive adjustments cost: the drift and background windows.

Run it with::

    python benchmarks/adaptation.py --out benchmarks/results/adaptation.md

:class:`faultgraph.detect.CausalDetector` follows each metric's median over
``drift_window`` past steps (a level that shifts and stays stops alarming after about
``drift_window / 2`` steps) and reads its score against the score's background over
``background_window`` steps (a noisier regime raises the bar). Both trade long incidents
for fewer alarms on level shifts nobody labelled: an incident that lasts longer than
half the drift window fades from the score. This script measures that trade on the same
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
from _common import markdown_table, report_args, write_report  # noqa: E402
from calibration import METRICS, machines, paired, run  # noqa: E402

#: name -> CausalDetector keyword arguments; the first is the defaults.
CONFIGS: dict[str, dict[str, object]] = {
    "defaults (drift 360, background 1440)": {},
    "drift 0": {"drift_window": 0},
    "drift 1440": {"drift_window": 1440},
    "drift 2880": {"drift_window": 2880},
    "background 0": {"background_window": 0},
    "drift 0, background 0": {"drift_window": 0, "background_window": 0},
    "z-score (plain)": {"detector": "z-score"},
}

DECISION = """## Decision (made on SMD tune and ASD, before the report machines were scored)

The project's rule: a new default may lower none of mean best F1, ROC-AUC and label-free
F1 by more than 0.005 on any tune dataset and must improve one clearly. No window passes
it, so the defaults stay (drift 360, background 1440). Longer drift windows keep long
incidents in the score (best F1 up on SMD tune, intervals including 0) but lower ROC-AUC
there by 0.010–0.012; no drift lowers label-free F1 by 0.021 (unlabelled level shifts keep
alarming); no background adjustment lowers label-free F1 by 0.058 and best F1 by 0.021.
The tune data do not separate the drift windows: every paired interval of the three holds
0 on SMD tune.

Read after the decision: SMD's report machines hold the longest incidents of all (901
and 1,215 steps on machine-1-7; 841–872 on machine-2-2), which the default drift window
fades after about 180 steps; there a longer window or none raises best F1 and ROC-AUC and
lowers label-free F1. None reaches the plain z-score's best F1 there (0.489; at most
0.470, with neither adjustment), so issue 17's target on the report machines stays unmet.
A system whose incidents last hours should set `--drift-window` above twice their length
(or 0); `docs/calibration.md` says so.
"""


def longest_incidents() -> pd.DataFrame:
    """Each group's machines and their longest labelled incident (steps)."""
    from faultgraph.datasets import smd

    rows = []
    for dataset, root, name in machines(report=True):
        y = np.asarray(smd.load(root, name).labels, dtype=int)
        edges = np.diff(np.r_[0, y, 0])
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        rows.append({"dataset": dataset, "machine": name, "incidents": lengths.size,
                     "longest (steps)": int(lengths.max()) if lengths.size else 0,
                     "over 180 steps": int((lengths > 180).sum())})
    return pd.DataFrame(rows)


def main() -> None:
    args, cmd = report_args(__doc__, "adaptation.py")
    frame = run(True, CONFIGS)
    base = next(iter(CONFIGS))
    means = frame.groupby(["dataset", "config"], sort=False, as_index=False)[METRICS + ["seconds"]].mean()
    parts = ["# The detector's adaptive adjustments: drift and background windows", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread). F1 at the "
             "label-free POT threshold (risk 1e-2; the z-score: the training scores' 99th percentile); best F1 "
             "unadjusted over all thresholds; ROC-AUC of the raw scores. SMD (report) was scored after the "
             "decision below and chose nothing.", "",
             "## Means per dataset", "", markdown_table(means), "",
             f"## Paired difference to `{base}` (mean over machines, bootstrap 95 % interval)", "",
             markdown_table(paired(frame, base)), "", DECISION,
             "## Labelled incidents per machine", "", markdown_table(longest_incidents()), "",
             "## Per machine", "", markdown_table(frame.drop(columns=["flagged"])), ""]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
