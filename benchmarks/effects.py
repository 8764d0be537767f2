"""Effects benchmark: interventions on real protein signalling (Sachs) and supervised fault
identification on real server metrics (SMD, ASD).

Run it with ``make bench`` or::

    python benchmarks/effects.py --out benchmarks/results/effects.md

1. **Sachs** (``../shared/data/sachs``): learn the graph and fit the structural equations on
   the 853 observational rows (only ``cd3_cd28`` on; values log-transformed, then scaled
   robustly). For each intervention with a known target (u0126 → mek, aktinhib → akt,
   g0076 → pkc, psitect → pip2, b2camp → pka), take the measured mean shift of the target
   in the interventional rows, predict the direction of change of every other protein
   as ``sign(ATE(target → protein) · shift)``, and report the share that agrees with the
   measured shift of its mean. Baseline: ``sign(corr(target, protein) · shift)`` from the
   same observational rows. The causal model predicts *no change* for proteins that are
   not descendants of the target; agreement is reported over the proteins where it
   predicts a change (with correlation on the same proteins), over all ten (a
   "no change" prediction counting as a miss), and over the proteins whose mean moved
   clearly (Welch |t| > 3).
2. **Supervised identification on SMD and ASD**: for each machine, fit on the first half
   of the labelled test period and evaluate on the second half: precision, recall, F1,
   ROC-AUC, PR-AUC. Baseline: logistic regression on all metrics (no graph), same split,
   same threshold rule (best F1 on the fitting half).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DATA, SACHS, SACHS_INTERVENTIONS, DataRun, Sachs, markdown_table,  # noqa: E402
                     report_args)


def sachs_rows() -> list[dict[str, object]]:
    from faultgraph import StructureLearner
    from faultgraph.effects import total_effects
    from faultgraph.sem import SEM

    sachs = Sachs()
    proteins, obs = sachs.proteins, sachs.observational
    start = time.perf_counter()
    learner = StructureLearner().fit(obs)
    sem = SEM().fit(obs, learner.graph_)
    T = total_effects(sem)
    corr = obs.corr().to_numpy()
    elapsed = time.perf_counter() - start
    rows = []
    for drug, target in SACHS_INTERVENTIONS.items():
        inter = sachs.condition(drug)
        shift = inter.mean() - obs.mean()
        se = np.sqrt(inter.var() / len(inter) + obs.var() / len(obs))
        t_stat = shift / se
        t = proteins.index(target)
        others = [p for p in proteins if p != target]
        measured = np.sign(shift[others].to_numpy())
        pred_sem = np.sign(T[t, [proteins.index(p) for p in others]] * shift[target])
        pred_cor = np.sign(corr[t, [proteins.index(p) for p in others]] * shift[target])
        clear = np.abs(t_stat[others].to_numpy()) > 3
        said = pred_sem != 0  # the causal model predicts "no change" for non-descendants

        def share(a: np.ndarray, b: np.ndarray, m: np.ndarray) -> float:
            return float(np.mean(a[m] == b[m])) if m.any() else float("nan")

        every = np.ones(len(others), dtype=bool)
        rows.append({"intervention": f"{drug} → {target}", "rows": len(inter),
                     "target shift": float(shift[target]),
                     "fg predicts change": int(said.sum()),
                     "fg agree (predicted)": share(pred_sem, measured, said),
                     "corr agree (same proteins)": share(pred_cor, measured, said),
                     "fg agree (all 10)": share(pred_sem, measured, every),
                     "corr agree (all 10)": share(pred_cor, measured, every),
                     "clear movers": int(clear.sum()),
                     "fg agree (clear)": share(pred_sem, measured, clear),
                     "corr agree (clear)": share(pred_cor, measured, clear),
                     "fit s": elapsed})
    return rows


def logistic_baseline(train_X: pd.DataFrame, train_y: np.ndarray, test_X: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Logistic regression on every (encoded) metric; threshold = best F1 on the fitting half."""
    from faultgraph.evaluate import best_f1_threshold
    from faultgraph.sem.model import _fit_logistic, sigmoid

    beta, b = _fit_logistic(train_X.to_numpy(), train_y, 1e-4)
    thr, _ = best_f1_threshold(train_y, sigmoid(b + train_X.to_numpy() @ beta))
    return sigmoid(b + test_X.to_numpy() @ beta), thr


def supervised_rows(dataset: str, root: Path) -> list[dict[str, object]]:
    from faultgraph import MetricEncoder
    from faultgraph.datasets import smd
    from faultgraph.detect import FaultIdentifier
    from faultgraph.evaluate import classification_scores

    rows = []
    for name in smd.list_machines(root):
        m = smd.load(root, name)
        half = len(m.test) // 2
        fit_X, test_X = m.test.iloc[:half], m.test.iloc[half:]
        fit_y, test_y = m.labels[:half], m.labels[half:]
        if fit_y.min() == fit_y.max() or test_y.max() == 0:
            rows.append({"dataset": dataset, "machine": name, "skipped": "one half has no anomaly"})
            continue
        start = time.perf_counter()
        model = FaultIdentifier("fault").fit(fit_X.assign(fault=fit_y))
        proba = model.predict_proba(test_X)
        fg_time = time.perf_counter() - start
        fg = classification_scores(test_y, (proba >= model.decision_threshold_).astype(int), proba)
        enc = MetricEncoder().fit(fit_X)
        start = time.perf_counter()
        base_p, base_thr = logistic_baseline(enc.transform(fit_X), fit_y.astype(float), enc.transform(test_X))
        base_time = time.perf_counter() - start
        base = classification_scores(test_y, (base_p >= base_thr).astype(int), base_p)
        for method, s, secs, extra in (("faultgraph", fg, fg_time, len(model.label_parents_)),
                                       ("logistic (all metrics)", base, base_time, enc.transform(fit_X).shape[1])):
            rows.append({"dataset": dataset, "machine": name, "method": method, "precision": s.precision,
                         "recall": s.recall, "f1": s.f1, "roc_auc": s.roc_auc, "pr_auc": s.pr_auc,
                         "metrics used": extra, "seconds": secs})
    return rows




def main() -> None:
    args, cmd = report_args(__doc__, "effects.py")
    parts = ["# Effects and supervised fault identification", "",
             f"Produced by `{cmd}` "
             f"on {time.strftime('%Y-%m-%d')} (BLAS pinned to one thread).", ""]
    data = DataRun()
    if data.present("Sachs", SACHS):
        print("Sachs ...", file=sys.stderr, flush=True)
        sachs = pd.DataFrame(sachs_rows())
        mean = sachs.drop(columns=["intervention", "fit s"]).mean(numeric_only=True)
        sachs.loc[len(sachs)] = {"intervention": "mean", **mean.to_dict(), "fit s": sachs["fit s"].iloc[0]}
        parts += ["## Sachs: direction of change under interventions", "",
                  "Share of proteins whose measured mean shift has the predicted sign (fg: faultgraph's "
                  "interventional prediction; corr: the sign of the correlation). `predicted`: the proteins "
                  "for which faultgraph predicts a change (its descendants of the target); `all 10`: every "
                  "other protein, a predicted \"no change\" counting as a miss; `clear`: proteins whose mean "
                  "moved with Welch |t| > 3. This is one learned graph's SEM prediction (a protein that is not "
                  "a descendant of the target is predicted not to move); the graph ensemble with local IDA "
                  "bounds, which is what `effects` reports for a `fit --bootstrap` model, is scored on the same "
                  "interventions in `identify.md`.", "",
                  markdown_table(sachs.drop(columns=["fit s"])), "",
                  f"Graph learning and equation fitting: {sachs['fit s'].iloc[0]:.2f} s.", ""]
    sup = []
    for dataset, root in (("SMD", DATA / "smd" / "ServerMachineDataset"),
                          ("ASD", DATA / "asd" / "ApplicationServerDataset")):
        if data.present(dataset, root):
            print(f"{dataset} ...", file=sys.stderr, flush=True)
            sup += supervised_rows(dataset, root)
    if sup:
        frame = pd.DataFrame(sup)
        skipped = frame[frame.get("skipped").notna()] if "skipped" in frame else frame.iloc[0:0]
        scored = frame[frame["method"].notna()].drop(columns=[c for c in ["skipped"] if c in frame])
        parts += ["## Supervised identification: fit on the first half of the test period, score the second",
                  "", markdown_table(scored), "", "Mean per dataset and method:", "",
                  markdown_table(scored.groupby(["dataset", "method"], as_index=False)[
                      ["precision", "recall", "f1", "roc_auc", "pr_auc", "seconds"]].mean()), ""]
        if len(skipped):
            parts += ["Skipped: " + ", ".join(f"{r.dataset} {r.machine} ({r.skipped})"
                                              for r in skipped.itertuples()), ""]
    data.write_report(parts, args.out)


if __name__ == "__main__":
    main()
