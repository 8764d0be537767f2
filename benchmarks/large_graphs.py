"""Large graphs on one machine: StructureLearner(screen=True) at d = 1,000 to 5,000.

Each case (raw ER2, d metrics, n rows, equal noise variances) runs in a fresh process:
the screened learner on raw data without and with the greedy refinement (its cost is
the difference), and on standardised data (no refinement, the learner's default there).
Reported: wall time of `fit` (forming XᵀX/n included), SHD / TPR / FDR against the
planted graph, and the process's peak resident memory. BLAS pinned to one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table, pin_blas, write_report  # noqa: E402

#: (d, n, refine too) of the default run.
CASES = ((1000, 5000, True), (2000, 5000, True), (5000, 10000, False))


def _budget():
    try:
        from faultgraph._budget import limits
    except ImportError:  # pragma: no cover - no budget check in this version
        return nullcontext()
    return limits(force=True, max_seconds=1e9)


def run_case(d: int, n: int, refine: bool, seed: int) -> list[dict]:
    """Fit one case in this process; one row per variant."""
    from faultgraph import StructureLearner
    from faultgraph.evaluate import graph_accuracy
    from faultgraph.simulate import simulate_graph_data

    pin_blas()
    warnings.simplefilter("ignore")
    sim = simulate_graph_data(kind="er", nodes=d, degree=2, samples=n, random_state=seed)
    X = sim.data.to_numpy()
    truth = sim.W != 0
    variants = [("raw, screen only", dict(standardize=False, refine=False))]
    if refine:
        variants.append(("raw, screen + refinement", dict(standardize=False, refine=True)))
    variants.append(("standardised, screen only", dict(standardize=True, refine=False)))
    rows = []
    for name, options in variants:
        with _budget():
            t0 = time.perf_counter()
            learner = StructureLearner(screen=True, **options).fit(X)
            seconds = time.perf_counter() - t0
        acc = graph_accuracy(truth, learner.adjacency_)
        rows.append({"d": d, "n": n, "seed": seed, "variant": name, "time s": seconds, "SHD": acc.shd,
                     "SHD / edges %": 100 * acc.shd / max(int(truth.sum()), 1), "TPR": acc.tpr, "FDR": acc.fdr,
                     "edges (true)": f"{acc.nnz} ({int(truth.sum())})", "refine moves": learner.refine_moves_,
                     "peak MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(f"{d}:{n}:{int(r)}" for d, n, r in CASES),
                        help="d:n:refine triples, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print JSON rows
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.one:
        d, n, refine = (int(v) for v in args.one.split(":"))
        print(json.dumps(run_case(d, n, bool(refine), args.seed)))
        return
    default = ",".join(f"{d}:{n}:{int(r)}" for d, n, r in CASES)
    command = "OPENBLAS_NUM_THREADS=1 python benchmarks/large_graphs.py" + \
        (f" --cases {args.cases}" if args.cases != default else "") + \
        (f" --seed {args.seed}" if args.seed else "") + (f" --out {args.out}" if args.out else "")
    rows = []
    load_before = os.getloadavg()
    for case in args.cases.split(","):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, __file__, "--one", case, "--seed", str(args.seed)],
                              capture_output=True, text=True, env=env)
        if proc.returncode:
            raise SystemExit(f"case {case} failed:\n{proc.stderr[-3000:]}")
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"case {case} done", file=sys.stderr)
    load_after = os.getloadavg()
    table = pd.DataFrame(rows)
    from faultgraph import __version__

    refinement = []
    for d, group in table.groupby("d"):
        only = group[group["variant"] == "raw, screen only"]
        both = group[group["variant"] == "raw, screen + refinement"]
        if len(only) and len(both):
            refinement.append(f"d = {d}: refinement {both['time s'].iloc[0] - only['time s'].iloc[0]:.1f} s of "
                              f"{both['time s'].iloc[0]:.1f} s, SHD {int(only['SHD'].iloc[0])} → "
                              f"{int(both['SHD'].iloc[0])}")
    parts = [
        "# Large graphs: screened structure learning",
        "",
        f"Produced by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, faultgraph {__version__}, BLAS pinned to one "
        f"thread. Load average {load_before[0]:.1f} before the run and {load_after[0]:.1f} after it, on "
        f"{os.cpu_count()} cores (the run itself keeps one busy)"
        + (": other work was running when it started, so times are upper bounds of an idle machine's."
           if load_before[0] > 0.5 else "."),
        "",
        "`StructureLearner(screen=True)` (`faultgraph.discovery.screen`): candidate parents screened from the "
        "partial correlations (plus each metric's 3 most correlated), a top-down order by conditional variance "
        "computed from small blocks of `S = XᵀX/n`, least squares on each metric's earlier candidates, then the "
        "learner's threshold (0.3) and, on raw data, its greedy refinement. Data: ER2 (about 2d edges), weights "
        "±[0.5, 2], Gaussian noise of equal variance, seed "
        f"{args.seed}; each case in a fresh process; `peak MiB` is that process's peak resident memory "
        "(data, S and the learner together). Standardised rows learn from the same data scaled to unit variance, "
        "where no least-squares learner identifies the graph (the order by variance is lost).",
        "",
        markdown_table(table[["d", "n", "variant", "time s", "SHD", "SHD / edges %", "TPR", "FDR", "edges (true)",
                              "refine moves", "peak MiB"]], 2),
        "",
        "Refinement cost (greedy moves on the BIC score, raw data): " + ("; ".join(refinement) or "not run") + ".",
        "",
        "Targets: d = 2,000 in under 5 minutes with SHD within 1 % of the edges on raw ER2; d = 5,000 within "
        "24 GiB. For comparison, the continuous DAGMA solve took 98 s at d = 1,000 (n = 5,000) on this machine "
        "before this change (the issue's figure; its cost per iteration grows as d³, about 8× per doubling).",
    ]
    write_report(parts, args.out)


if __name__ == "__main__":
    main()
