"""Graph-accuracy and speed benchmark: faultgraph's DAGMA and NOTEARS against the dagma package.

Run it with ``make bench`` or::

    python benchmarks/discovery.py --out benchmarks/results/discovery.md

Every case runs in a fresh process of its own, which pins BLAS to one thread
(threadpoolctl), simulates its data from a fixed seed and runs the methods one after the
other on the same data. For each method it records SHD, TPR and FDR against the true
graph, the wall time of ``fit`` (including forming ``XᵀX/n``) and the peak resident
memory that ``fit`` added (Linux ``VmHWM``, reset before each method). Graph accuracy is
reported on the raw simulated scale *and* on standardised data, where NOTEARS-type
learners can no longer exploit variances that grow along the causal order.

Cases: ER2 and SF4 linear Gaussian SEMs with equal noise variance, d in {10, 20, 50, 100},
n = 1000, seeds 0-2; d = 38 with n = 28 000 (the shape of one SMD server); a scaling
series d in {200, 500, 1000} with n = 5000 (faultgraph's default learner only: the
dagma package would take hours there); and the Sachs protein-signalling data (853
observational rows, 11 proteins, the 20-edge consensus graph).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SACHS, DataRun, Sachs, progress  # noqa: E402


# --- cases ----------------------------------------------------------------------------

def all_cases(seeds: int) -> list[dict[str, Any]]:
    cases = []
    for kind, degree in (("er", 2), ("sf", 4)):
        for d in (10, 20, 50, 100):
            for seed in range(seeds):
                cases.append({"group": "small", "kind": kind, "degree": degree, "d": d, "n": 1000, "seed": seed,
                              "methods": ["faultgraph-dagma", "faultgraph-notears", "dagma-1.1.1"]})
    for seed in range(seeds):
        cases.append({"group": "smd-shape", "kind": "er", "degree": 2, "d": 38, "n": 28000, "seed": seed,
                      "methods": ["faultgraph-dagma", "faultgraph-notears", "dagma-1.1.1"]})
    for d in (200, 500, 1000):
        cases.append({"group": "scaling", "kind": "er", "degree": 2, "d": d, "n": 5000, "seed": 0,
                      "methods": ["faultgraph-dagma"], "raw_only": True})
    cases.append({"group": "sachs", "kind": "sachs", "d": 11, "n": 853, "seed": 0,
                  "methods": ["faultgraph-dagma", "faultgraph-notears", "dagma-1.1.1"]})
    return cases


# --- one case, in its own process -----------------------------------------------------

def _vm(field: str) -> float:
    """A memory field of /proc/self/status in MiB (0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def load_sachs() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The 853 observational rows (only cd3_cd28 on) and the 20-edge consensus graph."""
    sachs = Sachs()
    X = sachs.raw[sachs.observational_rows].to_numpy(dtype=float)
    B = np.zeros((len(sachs.proteins), len(sachs.proteins)))
    for a, b in sachs.ground_truth():
        B[sachs.proteins.index(a), sachs.proteins.index(b)] = 1
    return X, B, sachs.proteins


def run_method(method: str, X: np.ndarray, standardised: bool = False) -> tuple[np.ndarray, float, float]:
    """Fit one method on ``X``; return the learned adjacency, seconds and peak extra MiB.

    faultgraph is told whether ``X`` is standardised (as a user's ``standardize=True``
    would make it): its default refinement runs on raw data only."""
    X = X.copy()
    if method == "dagma-1.1.1":
        from dagma.linear import DagmaLinear
    else:
        from faultgraph import StructureLearner
    _reset_peak()
    base = _vm("VmRSS")
    start = time.perf_counter()
    if method == "dagma-1.1.1":
        W = DagmaLinear(loss_type="l2").fit(X, lambda1=0.03, w_threshold=0.3)
    else:
        W = StructureLearner(method.split("-")[1], standardize=standardised).fit(X).adjacency_
    elapsed = time.perf_counter() - start
    return W, elapsed, max(_vm("VmHWM") - base, 0.0)


def one_case(case: dict[str, Any]) -> list[dict[str, Any]]:
    import warnings

    import scipy.linalg  # noqa: F401 - load scipy's own OpenBLAS before pinning threads
    from threadpoolctl import threadpool_limits

    from faultgraph.evaluate import graph_accuracy
    from faultgraph.simulate import simulate_graph_data

    threadpool_limits(1)  # numpy and scipy each bundle an OpenBLAS: pin both
    warnings.simplefilter("ignore")
    if case["kind"] == "sachs":
        X, B, _ = load_sachs()
    else:
        sim = simulate_graph_data(kind=case["kind"], nodes=case["d"], degree=case["degree"], samples=case["n"],
                                  random_state=case["seed"])
        X, B = sim.data.to_numpy(), sim.W
    scalings = ["raw"] if case.get("raw_only") else ["raw", "standardised"]
    rows = []
    for scaling in scalings:
        data = X if scaling == "raw" else (X - X.mean(0)) / X.std(0)
        for method in case["methods"]:
            W, elapsed, peak = run_method(method, data, standardised=scaling == "standardised")
            loops = int(np.count_nonzero(np.diag(W)))  # the dagma package can return x -> x (Sachs, raw)
            np.fill_diagonal(W, 0.0)  # W is this fit's own array
            acc = graph_accuracy(B, W)
            rows.append({**{k: v for k, v in case.items() if k != "methods"}, "scaling": scaling,
                         "method": method, "shd": acc.shd, "tpr": acc.tpr, "fdr": acc.fdr, "nnz": acc.nnz,
                         "n_true": acc.n_true, "time_s": elapsed, "peak_mib": peak, "self_loops": loops})
    return rows


# --- driver and report ----------------------------------------------------------------

def run_all(cases: list[dict[str, Any]], skip_dagma: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k, case in enumerate(progress(cases, "cases"), 1):
        if skip_dagma:
            case = {**case, "methods": [m for m in case["methods"] if m != "dagma-1.1.1"]}
        label = f"{case['group']} {case['kind']} d={case['d']} n={case['n']} seed={case['seed']}"
        print(f"[{k}/{len(cases)}] {label} ...", file=sys.stderr, flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(case)], capture_output=True,
                              text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"case {label} failed:\n{proc.stderr[-3000:]}") from None
        case_rows = json.loads(proc.stdout.strip().splitlines()[-1])
        for r in case_rows:
            print(f"    {r['scaling']:>12} {r['method']:>20}  SHD {r['shd']:>4}  {r['time_s']:8.2f} s",
                  file=sys.stderr, flush=True)
        rows += case_rows
    return rows


def _fmt(values: list[float], digits: int = 1) -> str:
    return f"{np.mean(values):.{digits}f}"


def report(rows: list[dict[str, Any]], command: str) -> str:
    import threadpoolctl

    import faultgraph

    import scipy.linalg  # noqa: F401 - so that scipy's BLAS is listed too

    blas = threadpoolctl.threadpool_info()
    lines = [
        "# Structure learning: accuracy and speed",
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {len(blas)} BLAS libraries ({', '.join(sorted({b['internal_api'] for b in blas}))}) "
        "pinned to 1 thread, "
        f"faultgraph {faultgraph.__version__}.",
        "",
        "Every case runs in a fresh process; the methods see the same data one after the other. "
        "Time is the wall time of `fit` (faultgraph's includes forming `XᵀX/n`); memory is the peak "
        "resident memory `fit` added. Both learners use lambda1 = 0.03 (faultgraph's NOTEARS 0.1) and "
        "threshold 0.3. `speed-up` is dagma's time divided by the method's, per seed, then averaged. "
        "Numbers are means over the seeds shown.",
        "",
    ]
    groups = [("raw", "Raw simulated scale"), ("standardised", "Standardised data (zero mean, unit variance)")]
    keys = sorted({(r["group"], r["kind"], r["d"], r["n"]) for r in rows},
                  key=lambda k: (["small", "smd-shape", "scaling", "sachs"].index(k[0]), k[1], k[2]))
    for scaling, title in groups:
        sub = [r for r in rows if r["scaling"] == scaling]
        if not sub:
            continue
        lines += [f"## {title}", "",
                  "| case | d | n | seeds | method | SHD | TPR | FDR | edges (true) | time s | speed-up vs dagma | peak MiB |",
                  "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
        for group, kind, d, n in keys:
            case_rows = [r for r in sub if (r["group"], r["kind"], r["d"], r["n"]) == (group, kind, d, n)]
            methods = sorted({r["method"] for r in case_rows}, key=lambda m: ("faultgraph-dagma",
                             "faultgraph-notears", "dagma-1.1.1").index(m))
            ref = {r["seed"]: r["time_s"] for r in case_rows if r["method"] == "dagma-1.1.1"}
            for m in methods:
                mr = [r for r in case_rows if r["method"] == m]
                ratio = [ref[r["seed"]] / r["time_s"] for r in mr if r["seed"] in ref]
                name = {"er": f"ER{2}", "sf": "SF4", "sachs": "Sachs"}[kind] + (
                    " (SMD shape)" if group == "smd-shape" else "")
                lines.append(
                    f"| {name} | {d} | {n} | {len(mr)} | {m} | {_fmt([r['shd'] for r in mr])} | "
                    f"{_fmt([r['tpr'] for r in mr], 2)} | {_fmt([r['fdr'] for r in mr], 2)} | "
                    f"{_fmt([r['nnz'] for r in mr], 0)} ({mr[0]['n_true']}) | {_fmt([r['time_s'] for r in mr], 2)} | "
                    f"{(_fmt(ratio) + '×') if ratio and m != 'dagma-1.1.1' else '–'} | "
                    f"{_fmt([r['peak_mib'] for r in mr], 0)} |")
        lines.append("")
    loops = sorted({(r["method"], r["kind"], r["scaling"], r["seed"], r["self_loops"]) for r in rows
                    if r.get("self_loops")})
    if loops:
        lines += ["Self-loops (x → x, no edge of a DAG) returned and removed before scoring: " + "; ".join(
            f"{m} on {k} ({s}, seed {seed}): {n}" for m, k, s, seed, n in loops) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="also write the raw rows as JSON")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--groups", default="small,smd-shape,scaling,sachs",
                        help="comma-separated subset of: small, smd-shape, scaling, sachs")
    parser.add_argument("--max-d", type=int, default=None, help="skip cases with more variables")
    parser.add_argument("--no-dagma", action="store_true", help="skip the dagma package")
    parser.add_argument("--from-json", type=Path, nargs="+",
                        help="render the report from rows saved with --json (no runs)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_case(json.loads(args.one))))
        return
    if args.from_json:
        rows = [r for path in args.from_json for r in json.loads(path.read_text())]
        command = "python benchmarks/discovery.py (run group by group and merged with --from-json; see below)"
        text = report(rows, command)
        if args.out:
            args.out.write_text(text + "\n")
        print(text)
        return
    groups = set(args.groups.split(","))
    cases = [c for c in all_cases(args.seeds) if c["group"] in groups and (args.max_d is None or c["d"] <= args.max_d)]
    data = DataRun()
    if any(c["kind"] == "sachs" for c in cases) and not data.present("Sachs", SACHS):
        cases = [c for c in cases if c["kind"] != "sachs"]
    if any(c["kind"] != "sachs" for c in cases):
        data.measured("simulated")
    data.check(args.out)
    if not args.no_dagma:
        try:
            import dagma  # noqa: F401
        except ImportError:
            raise SystemExit("the dagma package is missing: pip install -e '.[bench]' (or pass --no-dagma)")
    rows = run_all(cases, args.no_dagma)
    defaults = parser.parse_args([])
    flags = [f"--{k.replace('_', '-')} {v}" for k, v in (("seeds", args.seeds), ("groups", args.groups),
                                                        ("max_d", args.max_d))
             if v != getattr(defaults, k)] + (["--no-dagma"] if args.no_dagma else [])
    command = " ".join(["python benchmarks/discovery.py", *flags] + ([f"--out {args.out}"] if args.out else []))
    text = "\n".join(data.with_note(report(rows, command).split("\n")))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
