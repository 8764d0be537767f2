"""What the benchmark scripts share: one BLAS thread, progress bars, Markdown tables, the report."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

#: The real datasets: ``$FAULTGRAPH_DATA`` if set (e.g. a folder filled by
#: ``faultgraph download``), else ``../shared/data`` next to the project.
DATA = Path(os.environ.get("FAULTGRAPH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


#: The SMD machines defaults are chosen on (issue 17: *tune*) and those reported beside them
#: without choosing on them (*report*); a machine in neither (a dataset downloaded whole)
#: is reported as "other".
SMD_TUNE = ("machine-1-3", "machine-1-4", "machine-1-5", "machine-2-3", "machine-2-4", "machine-3-4", "machine-3-5")
SMD_REPORT = ("machine-1-7", "machine-1-8", "machine-2-2", "machine-2-5", "machine-2-8", "machine-3-3")


def _load() -> float:
    """The 1-minute load average (NaN where the system keeps none)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return float("nan")


#: The load average when the script started (this module is imported first).
START_LOAD = _load()


def machine() -> str:
    """The machine a report was measured on, for its header: its cores and the load average
    when the script started and now, so that wall times from a shared machine say so."""
    cores = os.cpu_count() or 1
    return (f"{cores} core{'s' if cores != 1 else ''}, 1-minute load average {START_LOAD:.1f} at the start "
            f"and {_load():.1f} at the end")


def smd_split(dataset: str, machine: str) -> str:
    """``dataset`` with SMD's tune/report split: ``SMD (tune)``, ``SMD (report)``, ``SMD (other)``."""
    if dataset != "SMD":
        return dataset
    return f"SMD ({'tune' if machine in SMD_TUNE else 'report' if machine in SMD_REPORT else 'other'})"


#: Sachs et al. (2005): the flow-cytometry data, each intervention's reagent and the protein it
#: acts on, and the reagent indicator columns of the data file.
SACHS = DATA / "sachs"
SACHS_INTERVENTIONS = {"u0126": "mek", "aktinhib": "akt", "g0076": "pkc", "psitect": "pip2", "b2camp": "pka"}
SACHS_INDICATORS = ("cd3_cd28", "icam2", "aktinhib", "g0076", "psitect", "u0126", "ly", "pma", "b2camp")


class Sachs:
    """The Sachs data as the benchmarks read them: proteins logged, the observational rows
    (cd3_cd28 alone on, 853 rows) encoded robustly, and each reagent's condition on that
    encoding."""

    def __init__(self) -> None:
        from faultgraph import MetricEncoder

        table = pd.read_csv(SACHS / "data" / "sachs.2005.with.jittered.experimental.continuous.txt", sep="\t")
        self.on = table[list(SACHS_INDICATORS)].round().astype(int)
        self.proteins = [c for c in table.columns if c not in SACHS_INDICATORS]
        self.raw = table[self.proteins]
        self.observational_rows = (self.on["cd3_cd28"] == 1) & (self.on.drop(columns="cd3_cd28").sum(axis=1) == 0)
        self.logged = np.log(self.raw.clip(lower=1e-3))
        self.encoder = MetricEncoder().fit(self.logged[self.observational_rows])
        self.observational = self.encoder.transform(self.logged[self.observational_rows]).reset_index(drop=True)

    def condition(self, reagent: str) -> pd.DataFrame:
        """The encoded rows with ``reagent`` and cd3_cd28 alone on."""
        rows = (self.on[reagent] == 1) & (self.on.drop(columns=[reagent, "cd3_cd28"]).sum(axis=1) == 0)
        return self.encoder.transform(self.logged[rows])

    def ground_truth(self) -> list[tuple[str, str]]:
        """The consensus graph's edges (cause, effect)."""
        text = (SACHS / "ground.truth" / "sachs.2005.ground.truth.graph.txt").read_text(encoding="utf-8")
        return [tuple(part.strip() for part in line.split(". ", 1)[1].split(" --> "))  # type: ignore[misc]
                for line in text.splitlines() if " --> " in line]


def pin_blas() -> None:
    """One BLAS thread for numpy's and scipy's OpenBLAS alike (load scipy's first)."""
    import scipy.linalg  # noqa: F401 - scipy bundles its own BLAS, loaded on first use
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def classic_nsigma():
    """The textbook N-sigma detector: max |robust z| over metrics, no smoothing, no drift
    or background adjustment."""
    from faultgraph.detect import NSigmaDetector

    return NSigmaDetector(combine="max", smooth=1, drift_window=0, background_window=0)


def bootstrap_interval(d, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile bootstrap interval of the mean of ``d`` (its finite entries
    resampled with replacement, ``resamples`` times, seeded): paired differences over
    machines, segments or cases."""
    import numpy as np

    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    means = d[np.random.default_rng(seed).integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def report_args(doc: str, script: str, incidents: int | None = None,
                options: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[argparse.Namespace, str]:
    """Parse ``--out`` (and ``--incidents``, default ``incidents``, when given, and what
    ``options`` adds to the parser: one parser, so ``--help`` lists every flag), pin BLAS,
    silence warnings; return the arguments and the command line that reproduces the run
    (the flags ``options`` adds are the script's to append)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the Markdown report here (and print it)")
    if incidents is not None:
        parser.add_argument("--incidents", type=int, default=incidents,
                            help=f"simulated incidents (default {incidents})")
    if options is not None:
        options(parser)
    args = parser.parse_args()
    pin_blas()
    warnings.simplefilter("ignore")
    more = f" --incidents {args.incidents}" if incidents is not None and args.incidents != incidents else ""
    return args, f"python benchmarks/{script}{more}" + (f" --out {args.out}" if args.out else "")


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A frame as a Markdown table, floats to ``digits`` places."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_report(parts: list[str], out: Path | None) -> None:
    """Join the report, write it to ``out`` (if given) and print it."""
    text = "\n".join(parts)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)


#: The exit status of a benchmark that measured nothing (no data): not argparse's 2 for a
#: usage error, so a caller can tell the two apart.
NOTHING_MEASURED = 3


class DataRun:
    """What one run measured and which datasets it skipped: the rule every script that reads
    the shared data follows (``docs/benchmarks.md``: "skip with a message").

    * A dataset whose folder is absent is skipped, with one line on stderr naming the folder
      (:meth:`present`).
    * A run that measured nothing writes no report, says so on stderr and exits with status
      :data:`NOTHING_MEASURED` (:meth:`write_report`): a committed table is never replaced by
      an empty one.
    * A report that misses some datasets says which in one line, after its opening paragraph.

    Sections that need no data (simulated incidents) count as measured with :meth:`measured`.
    """

    def __init__(self) -> None:
        self.skipped: dict[str, Path] = {}
        self.done: list[str] = []

    def present(self, name: str, folder: Path, holds: bool | None = None) -> bool:
        """Whether dataset ``name`` is there to measure: ``folder`` exists and holds a file (and
        ``holds``, the script's own finer check, is not False). If so it counts as measured; if
        not it is skipped with a line on stderr (once per name)."""
        if holds is None:  # an empty folder (or one of empty folders) is no dataset
            holds = folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))
        if folder.exists() and holds is not False:
            self.measured(name)
            return True
        if name not in self.skipped:
            self.skipped[name] = folder
            why = "is absent" if not folder.exists() else f"holds no {name} data"
            print(f"{name} skipped: {folder} {why}.", file=sys.stderr, flush=True)
        return False

    def measured(self, name: str) -> None:
        """Count ``name`` (a section that needs no shared data, or one read otherwise) as measured."""
        if name not in self.done:
            self.done.append(name)

    def note(self) -> str:
        """The report's line on what was skipped ("" when nothing was)."""
        if not self.skipped:
            return ""

        def where(folder: Path) -> str:
            try:
                return str(folder.relative_to(DATA))
            except ValueError:
                return str(folder)

        listed = ", ".join(f"{name} (`{where(folder)}`)" for name, folder in self.skipped.items())
        return f"Skipped (data absent): {listed}."

    def check(self, out: Path | None) -> None:
        """Stop with status :data:`NOTHING_MEASURED` (no report written) if nothing was measured."""
        if self.done:
            return
        names = ", ".join(self.skipped) or "no dataset"
        print(f"nothing measured ({names} skipped; data folder {DATA}, set FAULTGRAPH_DATA to another): "
              + (f"{out} not written." if out else "no report."), file=sys.stderr, flush=True)
        raise SystemExit(NOTHING_MEASURED)

    def write_report(self, parts: list[str], out: Path | None) -> None:
        """:func:`write_report` under the rule: nothing measured, status NOTHING_MEASURED and no file; some
        datasets skipped, :meth:`note` after the paragraph opening ``Produced by``."""
        self.check(out)
        write_report(self.with_note(parts), out)

    def with_note(self, parts: list[str]) -> list[str]:
        """``parts`` with :meth:`note` after the paragraph that opens ``Produced by`` (else at the end)."""
        if not self.skipped:
            return parts
        at = next((i + 1 for i, p in enumerate(parts) if p.startswith("Produced by")), len(parts))
        return [*parts[:at], "", self.note(), *parts[at:]]


T = TypeVar("T")


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a rich progress bar on stderr (the report itself goes to stdout)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    items = list(items) if total is None else items
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total if total is not None else len(items))  # type: ignore[arg-type]
        for item in items:
            yield item
            bar.advance(task)
