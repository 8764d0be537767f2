"""The fit budget's estimates against measured fits (faultgraph._budget).

For simulated linear SEMs with time dependence (n = 2000 rows; d metrics; lags p;
standardised data, and raw data, where the greedy refinement runs when p = 0), one
StructureLearner fit each, BLAS on one thread: the measured time, and the peak memory of a
second fit under tracemalloc (which sees NumPy's arrays; left out with the refinement, whose
Python loops it slows several times), beside ``faultgraph._budget.estimate``. The
refinement at d = 200 (about 5 minutes) is left out unless ``--slow``.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, report_args, write_report  # noqa: E402


def simulate(n: int, d: int, seed: int = 0) -> np.ndarray:
    """``x_t = (I − Wᵀ)⁻¹ (0.5 x_{t−1} + e_t)`` with a random DAG ``W`` of about 2 edges per node."""
    rng = np.random.default_rng(seed)
    W = np.triu(rng.normal(0, 0.8, (d, d)) * (rng.random((d, d)) < 2 / d), 1)
    A = np.linalg.inv(np.eye(d) - W.T)
    X = np.zeros((n, d))
    for t in range(n):
        X[t] = A @ (0.5 * (X[t - 1] if t else 0) + rng.normal(size=d))
    return X


def main() -> None:
    args, command = report_args(__doc__, "budget.py", options=lambda parser: parser.add_argument(
        "--slow", action="store_true", help="also time the refinement at d = 200 (about 5 minutes)"))
    slow = args.slow
    from faultgraph._budget import estimate
    from faultgraph.discovery import StructureLearner

    rows = []
    n = 2000
    for d in (10, 25, 50, 100, 200):
        X = simulate(n, d)
        for p in (0, 1, 3):
            for standardize in (True, False):
                refine = (not standardize) and p == 0
                if d == 200 and (p == 3 or (refine and not slow)):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    start = time.perf_counter()
                    learner = StructureLearner(lags=p, standardize=standardize).fit(X)
                    seconds = time.perf_counter() - start
                    peak = float("nan")
                    if not refine:  # memory in a second fit: tracemalloc slows Python's loops several times
                        tracemalloc.start()
                        StructureLearner(lags=p, standardize=standardize).fit(X)
                        peak = tracemalloc.get_traced_memory()[1] / 2**20
                        tracemalloc.stop()
                est = estimate(n, d, p, refine=refine)
                rows.append({"d": d, "lags": p, "data": "standardised" if standardize else "raw",
                             "refine": "yes" if refine else "", "iterations": learner.n_iter_,
                             "measured s": seconds, "estimated s": est.seconds,
                             "ratio": est.seconds / seconds, "measured MiB": peak,
                             "estimated MiB": est.memory / 2**20})
                print(rows[-1], file=sys.stderr)
    frame = pd.DataFrame(rows)
    frame["measured MiB"] = [f"{v:.2f}" if np.isfinite(v) else "–" for v in frame["measured MiB"]]
    parts = ["# Fit budget: estimated against measured", "",
             f"Reproduce: `{command}`{' --slow' if slow else ''} (one BLAS thread; this machine: {machine()})", "",
             f"{len(frame)} fits, n = {n} rows. Estimated/measured time: median "
             f"{frame['ratio'].median():.2f}, range {frame['ratio'].min():.2f} – {frame['ratio'].max():.2f} "
             "(above 1: the estimate errs long; fits under a second, where it errs short, do not matter). The budget refuses a fit estimated over 10 minutes or half "
             "the memory, so a factor of a few either way still tells seconds from hours.", "",
             markdown_table(frame, digits=2)]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
