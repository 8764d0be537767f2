"""What the detector-default changes considered for delay and jitter (issue 17 item 7) cost on
SMD's *tune* machines.

Run it with::

    python benchmarks/robustness_smd.py --out benchmarks/results/robustness_smd.md

Each configuration of :class:`faultgraph.detect.CausalDetector` (the defaults with one
parameter changed, the candidates of ``benchmarks/robustness.py``) is fitted on a tune
machine's ``train`` file and scores its ``test`` file, as ``benchmarks/detection.py`` does
(the same loader and :func:`faultgraph.evaluate.detection_report`); BLAS at one thread.
Only the seven tune machines are scored: the choice is made here, so the report machines
stay unseen. The table gives the mean per configuration and the paired difference to the
defaults over machines with a 95 % bootstrap interval.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DATA, SMD_TUNE, bootstrap_interval, markdown_table, progress, report_args,  # noqa: E402
                     write_report)

SMD = DATA / "smd" / "ServerMachineDataset"
#: name -> CausalDetector keyword arguments; "defaults" sets nothing.
CONFIGS: dict[str, dict[str, object]] = {
    "defaults": {},
    "combine=max-of-smoothed": {"combine": "max-of-smoothed"},
    "combine=mean-square+max": {"combine": "mean-square+max"},
    "lags=4": {"lags": 4},
    "lags=8, max-of-smoothed, innovation": {"lags": 8, "combine": "max-of-smoothed",
                                            "scoring": "residual+marginal+innovation"},
    "lags=4, mean-square+max, innovation": {"lags": 4, "combine": "mean-square+max",
                                            "scoring": "residual+marginal+innovation"},
}
METRICS = ("F1", "best F1", "ROC-AUC")


def run() -> pd.DataFrame:
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import detection_report

    rows = []
    machines = [m for m in SMD_TUNE if m in smd.list_machines(SMD)] if SMD.exists() else []
    for name in progress(machines, "SMD tune machines"):
        m = smd.load(SMD, name)
        for config, params in CONFIGS.items():
            det = CausalDetector(**params).fit(m.train)  # type: ignore[arg-type]
            r = detection_report(m.labels, det.score_samples(m.test)["score"].to_numpy(), det.threshold_)
            rows.append({"machine": name, "config": config, "F1": r.f1, "best F1": r.best_f1, "ROC-AUC": r.roc_auc})
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: the means and the paired difference to the defaults [95 % CI]."""
    base = frame[frame["config"] == "defaults"].set_index("machine")
    out = []
    for config, sub in frame.groupby("config", sort=False):
        sub = sub.set_index("machine")
        row: dict[str, object] = {"config": config}
        for metric in METRICS:
            row[metric] = float(sub[metric].mean())
        for metric in METRICS:
            d = (sub[metric] - base[metric]).dropna().to_numpy()
            lo, hi = bootstrap_interval(d)
            row[f"Δ {metric} [95 % CI]"] = "" if config == "defaults" else f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    args, cmd = report_args(__doc__, "robustness_smd.py")
    start = time.perf_counter()
    frame = run()
    parts = ["# Delay and jitter candidates on SMD's tune machines", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread, "
             f"{(time.perf_counter() - start) / 60:.0f} min). See the script's docstring; the simulator side is "
             "`robustness.md`.", ""]
    if frame.empty:
        parts += [f"SMD is absent ({SMD}): nothing measured.", ""]
    else:
        parts += [markdown_table(summary(frame)), "", "## Per machine", "",
                  markdown_table(frame.pivot(index="machine", columns="config", values="best F1")
                                 .reset_index()[["machine", *CONFIGS]]), "",
                  "Per-machine values are best F1 (unadjusted).", ""]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
