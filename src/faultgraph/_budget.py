"""Time and memory of a structure fit, estimated before it starts; refusing what cannot finish.

A fit that runs for an hour without a word, or fills the memory, looks like a hang. Before
the solver starts, :func:`check_fit` estimates its time and memory from the problem size –
rows ``n``, metrics ``d``, lags ``p`` (``k = d·(p + 1)`` candidate parents per metric) and
whether the greedy refinement runs – and raises :class:`~faultgraph.errors.InvalidInputError`,
naming the numbers and the option that makes the fit feasible, when

* there are fewer rows than candidate parents per metric (``n − p <= k``): the graph is not
  determined by the data (unless ``force``);
* the estimate exceeds the limits: :data:`MAX_SECONDS` of time, or :data:`MEMORY_SHARE` of
  the machine's memory (unless ``force``, which lifts the time limit, not the memory one).

Where a continuous fit would be refused for the first two reasons (or its memory), the
detector screens instead (:func:`screen_reason`): each metric's candidate parents are
screened among the present and lagged metrics (:mod:`faultgraph.discovery.screen`), so
each equation is fitted on a few of them; ``force`` keeps the continuous fit.

The limits are set for a block of code with :func:`limits` (as ``sklearn.config_context``):
``with limits(max_seconds=3600, force=True): detector.fit(train)``.

The cost model (see :func:`estimate`) was calibrated on this machine class (one BLAS
thread; ``benchmarks/results`` numbers are on the same): DAGMA on simulated linear SEMs with
``n = 2000``, ``d ∈ {10, 25, 50, 100, 200}``, ``p ∈ {0, 1, 3}``, standardised or not,
timed with ``threadpool_limits(1)``: 170–370 quasi-Newton iterations in all, each costing
about ``3.5e-10 s × (k²·d + d³)`` plus 0.1 ms; the refinement (raw data, no lags) took
0.24 s at d = 50, 11 s at d = 100 and 305 s at d = 200, modelled as ``11 s × (d/100)⁵``.
Checked on two more fits (n = 2000, random data, one thread): d = 400 took 4.9 s (estimate
14 s) and 65 MiB (59 MiB); d = 150 with lags = 3, 2.0 s (7 s) and 52 MiB (45 MiB).
Estimates are meant to be right within a factor of about three, erring long, enough to
tell seconds from hours; ``benchmarks/budget.py`` sets them beside 27 measured fits
(``benchmarks/results/budget.md``: time 0.3–4 times the measured, memory within 30 %).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from faultgraph.errors import InvalidInputError

__all__ = ["FitEstimate", "MAX_SECONDS", "MEMORY_SHARE", "check_ensemble", "check_fit", "ensemble_workers", "estimate", "limits",
           "machine_memory", "SCREEN_GAIN", "screen_reason", "screen_seconds"]

#: The longest fit started without ``force`` (seconds).
MAX_SECONDS = 600.0
#: The largest share of the machine's memory a fit may need (``force`` does not lift it).
MEMORY_SHARE = 0.5
#: Quasi-Newton iterations assumed for a fit (measured 100–370; see the module docstring).
ITERATIONS = 300
#: Seconds per unit of ``k²·d + d³`` in one iteration, and a fixed cost per iteration.
SECONDS_PER_FLOP = 3.5e-10
SECONDS_PER_ITERATION = 1e-4
#: The greedy refinement: seconds at d = 100 and the power of d it grows with.
REFINE_SECONDS_AT_100 = 11.0
REFINE_POWER = 5.0
#: How many times faster than the continuous solve the screen must be estimated to be for
#: :func:`screen_reason` to choose it over refusing.
SCREEN_GAIN = 10.0

_LIMITS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "faultgraph_budget", default={"max_seconds": MAX_SECONDS, "max_memory": None, "force": False})


@contextlib.contextmanager
def limits(*, max_seconds: float | None = None, max_memory: float | None = None,
           force: bool | None = None) -> Iterator[None]:
    """Set the fit limits inside a ``with`` block. Unset values keep the enclosing block's.

    Parameters
    ----------
    max_seconds : float or None, default None
        The longest estimated time a fit may take (default :data:`MAX_SECONDS`), > 0.
    max_memory : float or None, default None
        The most memory a fit may need, in bytes, > 0 (default :data:`MEMORY_SHARE` of the
        machine's memory).
    force : bool or None, default None
        Fit despite too few rows or too long an estimate (not despite the memory limit).

    Yields
    ------
    None

    Raises
    ------
    InvalidInputError
        When ``max_seconds`` or ``max_memory`` is not a positive number, or ``force`` is
        not a bool.
    """
    current = dict(_LIMITS.get())
    if max_seconds is not None:
        if not isinstance(max_seconds, (int, float)) or isinstance(max_seconds, bool) or not max_seconds > 0:
            raise InvalidInputError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
        current["max_seconds"] = float(max_seconds)
    if max_memory is not None:
        if not isinstance(max_memory, (int, float)) or isinstance(max_memory, bool) or not max_memory > 0:
            raise InvalidInputError(f"max_memory must be a positive number of bytes, got {max_memory!r}")
        current["max_memory"] = float(max_memory)
    if force is not None:
        if not isinstance(force, bool):
            raise InvalidInputError(f"force must be True or False, got {force!r}")
        current["force"] = force
    token = _LIMITS.set(current)
    try:
        yield
    finally:
        _LIMITS.reset(token)


def machine_memory() -> float:
    """The machine's physical memory in bytes (8 GiB where it cannot be read).

    Returns
    -------
    float
    """
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8.0 * 2**30


@dataclass(frozen=True)
class FitEstimate:
    """The estimated cost of one structure fit.

    Parameters
    ----------
    rows : int
        Rows ``n``.
    metrics : int
        Metrics ``d``.
    lags : int
        Lags ``p``.
    candidates : int
        Candidate parents per metric, ``k = d × (p + 1)``.
    refine : bool
        Whether the greedy refinement runs.
    seconds : float
        Estimated time.
    memory : float
        Estimated memory, in bytes.
    """

    rows: int
    metrics: int
    lags: int
    candidates: int
    refine: bool
    seconds: float
    memory: float

    def to_dict(self) -> dict[str, Any]:
        """The fields by name.

        Returns
        -------
        dict
        """
        return {"rows": self.rows, "metrics": self.metrics, "lags": self.lags, "candidates": self.candidates,
                "refine": self.refine, "seconds": self.seconds, "memory": self.memory}

    def __str__(self) -> str:
        return (f"about {_duration(self.seconds)} and {_size(self.memory)} for {self.metrics} metrics"
                f"{f' x {self.lags + 1} steps (lags={self.lags})' if self.lags else ''} = {self.candidates} "
                f"candidate parents per metric on {self.rows} rows{' with refinement' if self.refine else ''}")


def estimate(rows: int, metrics: int, lags: int = 0, *, refine: bool = False) -> FitEstimate:
    """The cost of a structure fit (module docstring).

    Time: ``ITERATIONS × (SECONDS_PER_FLOP × (k²d + d³) + SECONDS_PER_ITERATION)`` plus the
    second moments (``n k²``), the inverse (``k³``) and, with ``refine``,
    ``REFINE_SECONDS_AT_100 × (d/100)^REFINE_POWER``. Memory: the lagged design and its
    centred copy (``2 n k``), the moments and their inverse (``2 k²``), the solver's
    weights, gradients and quasi-Newton history (``~30 k d``) and the acyclicity's ``d × d``
    factors (``~6 d²``), 8 bytes each.

    Parameters
    ----------
    rows : int
        Rows ``n``.
    metrics : int
        Metrics ``d``.
    lags : int, default 0
        Lags ``p`` (``k = d (p + 1)`` candidate parents per metric).
    refine : bool, default False
        Whether the greedy refinement runs.

    Returns
    -------
    FitEstimate
    """
    n, d, p = int(rows), int(metrics), int(lags)
    k = d * (p + 1)
    seconds = (ITERATIONS * (SECONDS_PER_FLOP * (k * k * d + d**3) + SECONDS_PER_ITERATION)
               + SECONDS_PER_FLOP * (2.0 * n * k * k + k**3))
    if refine:
        seconds += REFINE_SECONDS_AT_100 * (d / 100.0) ** REFINE_POWER
    memory = 8.0 * (2.0 * n * k + 2.0 * k * k + 30.0 * k * d + 6.0 * d * d)
    return FitEstimate(n, d, p, k, bool(refine), float(seconds), float(memory))


def check_fit(rows: int, metrics: int, lags: int = 0, *, refine: bool = False, what: str = "the structure fit"
              ) -> FitEstimate:
    """Refuse a fit that is undetermined or cannot finish within the :func:`limits`.

    Parameters
    ----------
    rows : int
        Rows ``n``.
    metrics : int
        Metrics ``d``.
    lags : int, default 0
        Lags ``p``.
    refine : bool, default False
        Whether the greedy refinement runs.
    what : str, default "the structure fit"
        What is fitted, for the messages.

    Returns
    -------
    FitEstimate
        The estimate, when the fit may start.

    Raises
    ------
    InvalidInputError
        When fewer than 3 rows remain after the lags; when ``n − p <= k`` (unless
        ``force``); when the estimated memory is over the limit; or when the estimated time
        is over the limit (unless ``force``). The message names the numbers and what makes
        the fit feasible: more rows, fewer metrics, fewer lags, no refinement, ``force``.
    """
    state = _LIMITS.get()
    force = bool(state["force"])
    max_seconds = float(state["max_seconds"])
    max_memory = float(state["max_memory"] or MEMORY_SHARE * machine_memory())
    est = estimate(rows, metrics, lags, refine=refine)
    n, d, p, k = est.rows, est.metrics, est.lags, est.candidates
    usable = n - p
    if usable < 3:
        raise InvalidInputError(
            f"{what} with lags={p} needs more than {p + 2} rows (each row's past of {p} steps comes from the rows "
            f"before it); the data has {n}: use fewer lags (--lags) or more rows")
    if usable <= k and not force:
        options = [f"at least {k + p + 1} rows (a longer healthy period, or a shorter --resample step)"]
        if (usable - 1) // (p + 1) >= 2:  # a graph needs two metrics
            options.append(f"at most {(usable - 1) // (p + 1)} metrics (drop metrics)")
        if p:
            p_ok = _largest_lags(n, d, max_seconds, max_memory)
            options.append(f"lags={p_ok} (--lags {p_ok})" if p_ok is not None else "no lags (--lags 0)")
        raise InvalidInputError(
            f"{what} has {usable} row{'s' if usable != 1 else ''} for {k} candidate parents per metric ({d} metrics"
            f"{f' x {p + 1} steps, lags={p}' if p else ''}): fewer rows than candidates leave the graph "
            f"undetermined (any graph fits); use {'; or '.join(options)}; or force it (--force; in Python "
            "`with faultgraph._budget.limits(force=True):`) to fit anyway")
    if est.memory > max_memory:
        raise InvalidInputError(
            f"{what} would need {est}; that is over the memory limit of {_size(max_memory)} ({MEMORY_SHARE:.0%} "
            f"of this machine's); use {_feasible(est, max_seconds, max_memory)}")
    if est.seconds > max_seconds and not force:
        raise InvalidInputError(
            f"{what} would take {est}; that is over the limit of {_duration(max_seconds)}; use "
            f"{_feasible(est, max_seconds, max_memory)}; or force it (--force; in Python "
            "`with faultgraph._budget.limits(force=True):`) to run it anyway")
    return est


def screen_seconds(rows: int, metrics: int, lags: int = 0) -> float:
    """The screen's estimated time (:mod:`faultgraph.discovery.screen`): the second moments
    and the screen's one ``k × k`` pass, ``SECONDS_PER_FLOP × (2nk² + k³)``.

    Parameters
    ----------
    rows : int
        Rows ``n``.
    metrics : int
        Metrics ``d``.
    lags : int, default 0
        Lags ``p`` (``k = d (p + 1)``).

    Returns
    -------
    float
        Seconds.
    """
    n, k = int(rows), int(metrics) * (int(lags) + 1)
    return SECONDS_PER_FLOP * (2.0 * n * k * k + float(k) ** 3)


def screen_reason(rows: int, metrics: int, lags: int = 0, *, refine: bool = False,
                  what: str = "the structure fit") -> str | None:
    """Why a fit should be screened instead of solved (the automatic rule), or ``None``.

    The continuous solve refuses (:func:`check_fit`) what the rows cannot determine
    (``n − p <= k`` candidate parents per metric) and what would take longer than the time
    limit or more memory than allowed. Such a fit is screened instead
    (:mod:`faultgraph.discovery.screen`: each metric's candidates are the few present and
    lagged metrics that a screen keeps, so each equation is determined and the cost is a
    ``k × k`` product, not ``O(d³)`` per iteration). Under ``limits(force=True)`` the
    continuous solve is kept (``None``), as are fits with under 3 usable rows (which
    :func:`check_fit` refuses). A fit the continuous solve can do is never screened: small
    models are unchanged. Nor is one where the screen would not save at least
    :data:`SCREEN_GAIN` times the time: the screen costs one pass over the candidates
    (the second moments and the screen, ``≈ 2nk² + k³`` products), the solve
    :data:`ITERATIONS` passes of ``k²d + d³`` on top; when the lags, not the metrics, make
    ``k`` large (``CausalDetector(lags=500)`` on 16 metrics), both cost the same and the
    refusal's advice (fewer lags) is the better answer.

    Parameters
    ----------
    rows : int
        Rows ``n``.
    metrics : int
        Metrics ``d``.
    lags : int, default 0
        Lags ``p``.
    refine : bool, default False
        Whether the greedy refinement runs.
    what : str, default "the structure fit"
        What is fitted, for the message.

    Returns
    -------
    str or None
        A sentence for the user (a warning and the model's fit information) naming the
        numbers, or ``None`` when the continuous solve should run.
    """
    state = _LIMITS.get()
    if state["force"]:
        return None
    est = estimate(rows, metrics, lags, refine=refine)
    n, d, p, k = est.rows, est.metrics, est.lags, est.candidates
    if n - p < 3:
        return None
    max_seconds = float(state["max_seconds"])
    max_memory = float(state["max_memory"] or MEMORY_SHARE * machine_memory())
    why = []
    if n - p <= k:
        why.append(f"{n - p} rows for {k} candidate parents per metric ({d} metrics"
                   f"{f' x {p + 1} steps, lags={p}' if p else ''}) leave the full graph undetermined")
    if est.seconds > max_seconds:
        why.append(f"the full solve would take about {_duration(est.seconds)} (limit {_duration(max_seconds)})")
    if est.memory > max_memory:
        why.append(f"the full solve would need {_size(est.memory)} (limit {_size(max_memory)})")
    if not why or est.seconds < SCREEN_GAIN * screen_seconds(n, d, p):
        return None
    return (f"{what} is screened (faultgraph.discovery.screen: each metric's candidate parents among the present "
            f"and past metrics, then least squares): {'; '.join(why)}; force=True (--force) runs the full solve")


def _fits(rows: int, d: int, p: int, refine: bool, max_seconds: float, max_memory: float) -> bool:
    est = estimate(rows, d, p, refine=refine)
    return rows - p > est.candidates and est.seconds <= max_seconds and est.memory <= max_memory


def _largest_lags(rows: int, d: int, max_seconds: float, max_memory: float) -> int | None:
    """The most lags (>= 1) that leave more rows than candidate parents and fit the limits, or ``None``."""
    best = None
    for p in range(1, max(1, rows)):
        if rows - p <= d * (p + 1):
            break
        if _fits(rows, d, p, False, max_seconds, max_memory):
            best = p
    return best


def _feasible(est: FitEstimate, max_seconds: float, max_memory: float) -> str:
    """What brings a fit within the limits: fewer lags, fewer metrics, no refinement."""
    n, d, p = est.rows, est.metrics, est.lags
    options = []
    if p:
        fit_p = next((q for q in range(p - 1, -1, -1) if _fits(n, d, q, False, max_seconds, max_memory)), None)
        if fit_p is not None:
            options.append(f"lags={fit_p} (--lags {fit_p}): {_duration(estimate(n, d, fit_p).seconds)}")
    if est.refine and _fits(n, d, p, False, max_seconds, max_memory):
        options.append(f"standardised data, without the refinement (--standardize): "
                       f"{_duration(estimate(n, d, p).seconds)}")
    lo, hi = 1, d
    while lo < hi:  # the most metrics that fit
        mid = (lo + hi + 1) // 2
        if _fits(n, mid, p, est.refine, max_seconds, max_memory):
            lo = mid
        else:
            hi = mid - 1
    if lo < d and _fits(n, lo, p, est.refine, max_seconds, max_memory):
        options.append(f"at most {lo} metrics (drop metrics): "
                       f"{_duration(estimate(n, lo, p, refine=est.refine).seconds)}")
    if p == 0:
        options.append("the screened learner for many metrics (StructureLearner(screen=True), "
                       "faultgraph.discovery.screen), which skips this solve")
    options.append("or a larger limit (faultgraph._budget.limits(max_seconds=...))")
    return "; ".join(options)


def ensemble_workers(address: str | None, n_workers: int | None, client: Any = None) -> int:
    """How many graphs of an ensemble are learned at once (an estimate, for
    :func:`check_ensemble`).

    Parameters
    ----------
    address : str or None
        The scheduler resolved (:func:`faultgraph.parallel.resolve_scheduler`): None for a
        local cluster.
    n_workers : int or None
        Local workers (0: in this process; None: one per CPU).
    client : distributed.Client, optional
        A client already connected: its workers are counted.

    Returns
    -------
    int
        1 in this process; an existing cluster's size is not known before connecting, so
        it counts as large (no refusal on a guess).
    """
    from faultgraph.parallel.cluster import INLINE, _default_workers

    if n_workers == 0 or address == INLINE:
        return 1
    if client is not None:
        return max(1, len(client.scheduler_info().get("workers", {})))
    if address is not None:
        return 1_000_000
    return int(n_workers) if n_workers else _default_workers()


def check_ensemble(n_graphs: int, one_fit: float, workers: int, *, option: str = "--bootstrap") -> float:
    """Refuse an ensemble whose graphs would take longer than the limit (:func:`limits`).

    The estimate is the measured time of one fit on all rows (``one_fit`` seconds; a
    resample has as many rows) times ``n_graphs``, over ``workers`` running at once.

    Parameters
    ----------
    n_graphs : int
        Graphs to learn.
    one_fit : float
        Seconds one fit took.
    workers : int
        Fits at once (at least 1).
    option : str, default "--bootstrap"
        The option named in the message.

    Returns
    -------
    float
        The estimate, seconds.

    Raises
    ------
    InvalidInputError
        When the estimate exceeds the limit and ``force`` is not set.
    """
    current = _LIMITS.get()
    seconds = float(n_graphs) * max(float(one_fit), 0.0) / max(int(workers), 1)
    if seconds > current["max_seconds"] and not current["force"]:
        fits = max(2, int(current["max_seconds"] * max(int(workers), 1) / max(float(one_fit), 1e-9)))
        raise InvalidInputError(f"{option} {n_graphs}: about {_duration(seconds)} for {n_graphs} graphs (one took "
                                f"{float(one_fit):.2g} s, {max(int(workers), 1)} at once), more than the "
                                f"{_duration(current['max_seconds'])} allowed; {option} {fits} or fewer fits, or "
                                "force it (--force; in Python `with faultgraph._budget.limits(force=True):`) to run "
                                "it anyway")
    return seconds


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def _size(nbytes: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes:.0f} B"
