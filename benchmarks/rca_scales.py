"""The ranking's scales: calibrated (floors, near-deterministic equations set aside) against the model's own.

Run it with::

    python benchmarks/rca_scales.py --out benchmarks/results/rca_scales.md

``explain(..., scales="calibrated")`` (:func:`faultgraph.rca.ranking.ranking_scales`: no
residual or innovation scale below ``RANK_SCALE_FLOOR`` of the metric's own robust
variation, nor the detector's robust residual scale; near-deterministic equations flagged
and their metrics ranked on their own deviation) against ``scales="model"`` (the model's
residual standard deviations as fitted), for faultgraph's default method and ``causal``,
on the datasets the ranking default is chosen on (100 simulated incidents, SMD *tune*, ASD,
PetShop low traffic, Nezha Online Boutique) and, scored but never chosen on, SMD *report*
and Nezha Train Ticket. The same cases and windows as ``benchmarks/rca.py`` (its loaders
and helpers), each model fitted once and ranked both ways: calibrated minus model, case by
case, with a 95 % bootstrap interval (10,000 resamples, seed 0), and leave-one-dataset-out
for the choice of scales.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rca as R  # noqa: E402
from _common import DataRun, bootstrap_interval, markdown_table, progress, report_args, smd_split  # noqa: E402

METHODS = ("causal+innovation+nsigma", "causal")
from faultgraph.rca import ranking  # noqa: E402
from faultgraph.rca.ranking import SCALES  # noqa: E402


def _ranked(model, data, window, method, scales, **kw):
    from faultgraph.rca import explain

    return explain(model, data, window, method=method, scales=scales, random_state=0, **kw)


def simulated(n: int) -> dict:
    from faultgraph.detect import CausalDetector
    from faultgraph.simulate import simulate_incident

    hits = {(m, s): [] for m in METHODS for s in SCALES}
    for seed in progress(range(n), "simulated incidents"):
        inc = simulate_incident(services=10, random_state=seed)
        model = CausalDetector().fit(inc.normal)
        for m in METHODS:
            for s in SCALES:
                ex = _ranked(model, inc.anomalous, (inc.fault_start, inc.fault_end), m, s)
                hits[m, s].append(float(ex.top(1) == [inc.root_cause_metric]))
    return {"simulated (metric AC@1)": hits}


def interpretation(dataset: str, root: Path) -> dict:
    from faultgraph.datasets import smd
    from faultgraph.detect import CausalDetector
    from faultgraph.evaluate import hit_rate

    out: dict = {}
    for name in progress(smd.list_machines(root), f"{dataset} machines"):
        m = smd.load(root, name)
        group = f"{smd_split(dataset, name)} (segment HitRate@100%)"
        hits = out.setdefault(group, {(mm, s): [] for mm in METHODS for s in SCALES})
        model = CausalDetector().fit(m.train)
        every = list(range(m.test.shape[1]))
        for seg in m.segments:
            if seg.end - seg.start + 1 < 3:
                continue
            for mm in METHODS:
                for s in SCALES:
                    ex = _ranked(model, m.test, (seg.start, seg.end), mm, s)
                    ranked = [int(c.metric[1:]) for c in ex.causes]
                    hits[mm, s].append(hit_rate(ranked + [j for j in every if j not in ranked], seg.metrics, 100))
    return out


def petshop() -> dict:
    from faultgraph.datasets import petshop as loader
    from faultgraph.detect import CausalDetector

    ps = loader.load(R.PETSHOP)
    cover = ps.normal.notna().mean()
    keep = [c for c in ps.normal.columns if cover[c] >= 0.95]
    normal = ps.normal[keep].ffill().bfill()
    model = CausalDetector(smooth=1, max_gap=len(normal)).fit(normal)
    cols = R.watched(model)
    hits = {(m, s): [] for m in METHODS for s in SCALES}
    for issue in ps.issues:
        data = issue.metrics.reindex(columns=cols).ffill().bfill().fillna(normal[cols].median())
        for m in METHODS:
            for s in SCALES:
                ex = _ranked(model, data, (data.index[0], data.index[-1]), m, s, services=ps.services)
                hits[m, s].append(float(ex.top(1, "service") == [issue.root_cause]))
    return {"PetShop low traffic (top-1)": hits}


def nezha(system: str) -> dict:
    from faultgraph.datasets import nezha as loader
    from faultgraph.detect import CausalDetector

    hits = {(m, s): [] for m in METHODS for s in SCALES}
    for day in R.nezha_days(system):
        d = loader.read_day(R.NEZHA, day)
        last = max(f.start for f in d.faults)
        if system == "train_ticket":
            repair = loader.repair_gaps(d.metrics.loc[last + pd.Timedelta(minutes=30):].iloc[:400])
            normal, model = repair.frame, CausalDetector(smooth=1, max_gap=repair.max_gap).fit(repair.frame)
        else:
            normal = d.metrics.loc[last + pd.Timedelta(minutes=30):].iloc[:400]
            model = CausalDetector(smooth=1).fit(normal)
        cols = R.watched(model)
        fill = normal[cols].median()
        for f in d.faults:
            data = d.metrics.loc[f.start - pd.Timedelta(minutes=10): f.start + pd.Timedelta(minutes=4), cols]
            data = data.ffill().fillna(fill)
            window = (f.start, f.start + pd.Timedelta(minutes=4))
            for m in METHODS:
                for s in SCALES:
                    ex = _ranked(model, data, window, m, s, services=d.services)
                    hits[m, s].append(float(ex.top(1, "service") == [f.service]))
    label = "Nezha Online Boutique (service AC@1)" if system == "online_boutique" else \
        "Nezha Train Ticket (service AC@1)"
    return {label: hits}


def calibration_options(parser) -> None:
    """Add ``--share``, ``--deterministic``, ``--resolution`` and ``--own-move`` (the
    calibrated scales' settings; default the library's) to ``parser``."""
    parser.add_argument("--share", type=float, default=ranking.RANK_SCALE_FLOOR,
                        help=f"the calibrated scales' floor, a share of each metric's own robust variation "
                             f"(default {ranking.RANK_SCALE_FLOOR:g})")
    parser.add_argument("--deterministic", type=float, default=ranking.RANK_DETERMINISTIC,
                        help=f"the share below which an equation is set aside as near-deterministic "
                             f"(default {ranking.RANK_DETERMINISTIC:g})")
    parser.add_argument("--resolution", type=int, default=ranking.RANK_RESOLUTION_ROWS,
                        help=f"rows before the window the grid steps are read from, 0: off "
                             f"(default {ranking.RANK_RESOLUTION_ROWS})")
    parser.add_argument("--own-move", type=int, default=int(ranking.RANK_OWN_MOVE), dest="own_move",
                        help=f"bound residuals by the metric's own move: 1 on, 0 off "
                             f"(default {int(ranking.RANK_OWN_MOVE)})")


def calibration_args(known) -> tuple[float, float, int, str]:
    """Set the calibrated scales' settings from the parsed ``known`` (see
    :func:`calibration_options`); return them with their part of the command line."""
    more = "".join(f" --{k} {getattr(known, k):g}" for k, v in (("share", ranking.RANK_SCALE_FLOOR),
                                                                 ("deterministic", ranking.RANK_DETERMINISTIC),
                                                                 ("resolution", ranking.RANK_RESOLUTION_ROWS),
                                                                 ("own_move", int(ranking.RANK_OWN_MOVE)))
                   if getattr(known, k) != v)
    ranking.RANK_SCALE_FLOOR, ranking.RANK_DETERMINISTIC = known.share, known.deterministic
    ranking.RANK_RESOLUTION_ROWS, ranking.RANK_OWN_MOVE = known.resolution, bool(known.own_move)
    return known.share, known.deterministic, known.resolution, more.replace("--own_move", "--own-move")


def main() -> None:
    args, cmd = report_args(__doc__, "rca_scales.py", 100, calibration_options)
    share, deterministic, resolution, more = calibration_args(args)
    cmd = cmd.replace("rca_scales.py", "rca_scales.py" + more, 1)
    started = time.perf_counter()
    data = DataRun()
    results: dict = {}
    data.measured("simulated")
    results.update(simulated(args.incidents))
    for dataset, root in R.DATASETS.items():
        if data.present(dataset, root):
            results.update(interpretation(dataset, root))
    if data.present("PetShop", R.PETSHOP):
        results.update(petshop())
    if data.present("Nezha", R.NEZHA, bool(R.nezha_days("online_boutique"))):
        results.update(nezha("online_boutique"))
    if data.present("Nezha Train Ticket", R.NEZHA, bool(R.nezha_days("train_ticket"))):
        results.update(nezha("train_ticket"))
    rows = []
    for label, hits in results.items():
        for m in METHODS:
            d = np.asarray(hits[m, "calibrated"]) - np.asarray(hits[m, "model"])
            low, high = bootstrap_interval(d)
            rows.append({"dataset": label, "method": m, "cases": len(d),
                         "calibrated": float(np.mean(hits[m, "calibrated"])), "model": float(np.mean(hits[m, "model"])),
                         "difference": float(d.mean()), "95 % interval": f"{low:+.3f} .. {high:+.3f}",
                         "better": int((d > 0).sum()), "worse": int((d < 0).sum())})
    table = pd.DataFrame(rows)
    choice = [k for k in results if "report" not in k and "Train Ticket" not in k]
    loo = []
    for held in results:
        others = [k for k in choice if k != held]
        mean = {s: np.mean([np.mean(results[k][METHODS[0], s]) for k in others]) for s in SCALES}
        chosen = max(SCALES, key=lambda s: (mean[s], s == "model"))  # a tie keeps the model's scales
        loo.append({"left out": held, "chosen without it": chosen,
                    "mean over the others (calibrated / model)": f"{mean['calibrated']:.3f} / {mean['model']:.3f}",
                    "its score there": float(np.mean(results[held][METHODS[0], chosen])),
                    "calibrated there": float(np.mean(results[held][METHODS[0], "calibrated"])),
                    "model there": float(np.mean(results[held][METHODS[0], "model"]))})
    parts = ["# The ranking's scales: calibrated against the model's own", "",
             f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread; "
             f"{time.perf_counter() - started:.0f} s on a shared machine). Calibrated: floor {share:g} of each "
             f"metric's own robust variation, equations below {deterministic:g} of it set aside, grid steps "
             f"read from {resolution} rows before the window (0: off), residuals bounded by the metric's own move: "
             f"{'on' if ranking.RANK_OWN_MOVE else 'off'}. "
             "Calibrated minus the model's scales, "
             "case by case, 95 % bootstrap interval over the cases. SMD *report* and Nezha Train Ticket are scored, "
             "never chosen on.", "", markdown_table(table), "",
             "## Leave one dataset out (default method)", "",
             "The scales with the best mean headline of the default method over the other choice datasets, "
             "and their score on the one left out.", "", markdown_table(pd.DataFrame(loo)), ""]
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
