"""What the detector-default changes considered for delay and jitter (issue 17 item 7) cost on
the data defaults are chosen on: SMD's *tune* machines and ASD.

Run it with::

    python benchmarks/robustness_smd.py --out benchmarks/results/robustness_smd.md

Each configuration of :class:`faultgraph.detect.CausalDetector` (the defaults with one
parameter changed, the candidates of ``benchmarks/robustness.py``) is fitted on a machine's
``train`` file and scores its ``test`` file, as ``benchmarks/detection.py`` does (the same
loader and :func:`faultgraph.evaluate.detection_report`); BLAS at one thread. Only the
choice groups are scored, the seven SMD tune machines and every ASD machine: the choice is made
here, so SMD's report machines stay unseen. The tables give the mean per configuration and
the paired difference to the defaults over machines with a 95 % bootstrap interval, per
group; then the window ``lags="auto"`` chose per machine, the score ``scoring="auto"``
chose (with the default ``lags=1``), and the fit times (on a shared machine: inflated).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DATA, SMD_TUNE, DataRun, bootstrap_interval, machine, markdown_table,  # noqa: E402
                     progress, report_args)

SMD = DATA / "smd" / "ServerMachineDataset"
ASD = DATA / "asd" / "ApplicationServerDataset"
INNOVATION = "residual+marginal+innovation"
#: name -> CausalDetector keyword arguments; "defaults" sets nothing (``scoring="auto"``
#: since issue 17; "previous defaults" is the score before it).
CONFIGS: dict[str, dict[str, object]] = {
    "defaults": {},
    "previous defaults (scoring=residual+marginal)": {"scoring": "residual+marginal"},
    "combine=max-of-smoothed": {"combine": "max-of-smoothed"},
    "combine=mean-square+max": {"combine": "mean-square+max"},
    "lags=4": {"lags": 4},
    "lags=8, max-of-smoothed, innovation": {"lags": 8, "combine": "max-of-smoothed", "scoring": INNOVATION},
    "lags=4, mean-square+max, innovation": {"lags": 4, "combine": "mean-square+max", "scoring": INNOVATION},
    "lags=auto": {"lags": "auto"},
    "lags=auto, innovation": {"lags": "auto", "scoring": INNOVATION},
    "lags=auto, mean-square+max, innovation": {"lags": "auto", "combine": "mean-square+max", "scoring": INNOVATION},
}
METRICS = ("F1", "best F1", "ROC-AUC")


def machines(data: DataRun) -> list[tuple[str, Path, str]]:
    """(group, root, machine) of every choice-group machine present; an absent dataset is noted in ``data``."""
    from faultgraph.datasets import smd

    out = [("SMD (tune)", SMD, m) for m in SMD_TUNE if m in smd.list_machines(SMD)] if data.present("SMD", SMD) else []
    return out + ([("ASD", ASD, m) for m in smd.list_machines(ASD)] if data.present("ASD", ASD) else [])


def run(data: DataRun) -> pd.DataFrame:
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import detection_report

    rows = []
    for group, root, name in progress(machines(data), "SMD tune and ASD machines"):
        m = smd.load(root, name)
        for config, params in CONFIGS.items():
            det = CausalDetector(**params).fit(m.train)  # type: ignore[arg-type]
            r = detection_report(m.labels, det.score_samples(m.test)["score"].to_numpy(), det.threshold_)
            rows.append({"dataset": group, "machine": name, "config": config, "F1": r.f1, "best F1": r.best_f1,
                         "ROC-AUC": r.roc_auc, "lags": det.lags_, "scoring": det.scoring_,
                         "metrics": len(det.encoder_.columns_), "fit s": det.fit_seconds_})
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (and ``dataset``, when the frame has one): the means and the paired
    difference to the defaults over machines [95 % CI]."""
    groups = frame.groupby("dataset", sort=False) if "dataset" in frame else [(None, frame)]
    out = []
    for dataset, part in groups:
        base = part[part["config"] == "defaults"].set_index("machine")
        for config, sub in part.groupby("config", sort=False):
            sub = sub.set_index("machine")
            row: dict[str, object] = {} if dataset is None else {"dataset": dataset}
            row["config"] = config
            for metric in METRICS:
                row[metric] = float(sub[metric].mean())
            for metric in METRICS:
                d = (sub[metric] - base[metric]).dropna().to_numpy()
                lo, hi = bootstrap_interval(d)
                row[f"Δ {metric} [95 % CI]"] = ("" if config == "defaults"
                                                 else f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")
            out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    args, cmd = report_args(__doc__, "robustness_smd.py")
    start = time.perf_counter()
    data = DataRun()
    frame = run(data)
    data.check(args.out)
    parts = ["# Delay and jitter candidates on SMD's tune machines and ASD", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread, "
             f"{(time.perf_counter() - start) / 60:.0f} min; {machine()}). See the script's docstring; "
             "the simulator side is `robustness.md`.", ""]
    if frame.empty:
        parts += ["No SMD tune or ASD machine found: nothing measured.", ""]
    else:
        parts += [markdown_table(summary(frame)), ""]
        for group, part in frame.groupby("dataset", sort=False):
            parts += [f"## Per machine: {group}", "",
                      markdown_table(part.pivot(index="machine", columns="config", values="best F1")
                                     .reset_index()[["machine", *CONFIGS]]), "",
                      "Per-machine values are best F1 (unadjusted).", ""]
        auto = frame[frame["config"] == "lags=auto"].set_index("machine")
        base = frame[frame["config"] == "defaults"].set_index("machine")
        before = frame[frame["config"] == "previous defaults (scoring=residual+marginal)"].set_index("machine")
        choice = pd.DataFrame({"dataset": auto["dataset"], "metrics": auto["metrics"], "lags chosen": auto["lags"],
                               "scoring=auto chose": base["scoring"], "with lags=auto": auto["scoring"],
                               "fit s, lags=auto": auto["fit s"], "fit s, defaults": base["fit s"],
                               "fit s, previous defaults": before["fit s"]}).reset_index()
        parts += ["## The window `lags=\"auto\"` chose, and fit time", "", markdown_table(choice, 2), "",
                  "`fit s`: `CausalDetector.fit_seconds_` (encoder, lag choice, graph, equations, threshold), on a "
                  "machine shared with three other "
                  f"benchmarks; largest with `lags=\"auto\"`: {auto['fit s'].max():.1f} s.", ""]
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
