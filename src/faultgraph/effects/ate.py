"""Average treatment effects (the paper's eq. 4) and causal scores (its eq. 5)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from faultgraph._validation import as_generator
from faultgraph.errors import InvalidInputError
from faultgraph.sem import SEM

#: A bootstrap gives up after this many draws per wanted resample (most making a variable constant).
MAX_REDRAW = 10
#: The fewest resamples a bootstrap interval is computed from.
MIN_BOOTSTRAP = 10

__all__ = ["ATEResult", "CausalScores", "NodeScore", "average_treatment_effect", "causal_scores", "effects_into",
           "total_effects"]


@dataclass(frozen=True)
class ATEResult:
    """``ATE(treatment → target) = E[target | do(treatment = high)] − E[target | do(treatment = low)]``.

    ``method`` is ``"exact"`` (linear SEM: the total effect ``[(I − W)⁻¹]``) or
    ``"monte-carlo"``; ``ci_low``/``ci_high`` a bootstrap percentile interval at
    ``confidence`` (refitting the equations on resampled rows).
    """

    treatment: str
    target: str
    ate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    high: float = 1.0
    low: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"ATE({self.treatment} -> {self.target}) = {self.ate:+.4f} "
                f"[{self.ci_low:+.4f}, {self.ci_high:+.4f}] ({self.method})")


def total_effects(sem: SEM) -> np.ndarray:
    """``(I − W)⁻¹``: entry ``[i, j]`` is the total effect of a unit change of node ``i`` on ``j``.

    Exact for linear SEMs: ``X = XW + E`` gives ``X = E (I − W)⁻¹``, and ``do(x_i)``
    removes only the edges into ``i``, which lie on no directed path out of ``i``.

    Parameters
    ----------
    sem : SEM
        A fitted SEM; its ``weight_matrix()`` gives ``W`` (``W[i, j]``: the edge ``i → j``).

    Returns
    -------
    numpy.ndarray
        ``(d, d)`` total effects, in the order of ``sem.nodes_``.
    """
    W = sem.weight_matrix()
    return np.linalg.inv(np.eye(W.shape[0]) - W)


def effects_into(W: np.ndarray, target: int) -> np.ndarray:
    """Each node's total effect on ``target`` in the weight matrix ``W``.

    The sum over directed walks into ``target`` of the product of their weights, walks of
    length up to ``d`` and self-loops left out, so it is defined on a summary graph of
    same-step and lagged edges that may hold cycles. On a DAG it equals column ``target``
    of ``(I − W)⁻¹`` (:func:`total_effects` for an SEM).

    Parameters
    ----------
    W : numpy.ndarray
        ``(d, d)`` weights, ``W[i, j]`` the edge ``i → j``; its diagonal is ignored (not
        modified: a copy is taken).
    target : int
        Index of the target node.

    Returns
    -------
    numpy.ndarray
        ``(d,)`` effects on ``target``; entry ``target`` is 1.
    """
    W = W.copy()
    np.fill_diagonal(W, 0.0)
    d = W.shape[0]
    effect = np.zeros(d)
    effect[target] = 1.0
    reach = np.zeros(d)
    reach[target] = 1.0
    for _ in range(d):
        reach = W @ reach
        if not np.any(reach):
            break
        effect += reach
    return effect


def _ancestors(sem: SEM, node: str) -> set[str]:
    seen: set[str] = set()
    stack = list(sem.parents_[node])
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(sem.parents_[p])
    return seen


def _mc_effect(sem: SEM, treatment: str, target: str, high: float, low: float, n: int,
               rng: np.random.Generator) -> float:
    """Monte Carlo ATE with common random numbers: both arms share every noise draw."""
    from faultgraph.effects.interventions import interventional_samples

    seed = int(rng.integers(2**63))
    a = interventional_samples(sem, {treatment: high}, n, np.random.default_rng(seed), expected_binary=True)
    b = interventional_samples(sem, {treatment: low}, n, np.random.default_rng(seed), expected_binary=True)
    return float(a[target].mean() - b[target].mean())


def _effects_on(sem: SEM, target: str, treatments: list[str], high: float, low: float, n: int,
                rng: np.random.Generator) -> np.ndarray:
    if sem.is_linear:
        T = total_effects(sem)
        j = sem.nodes_.index(target)
        return np.array([(high - low) * T[sem.nodes_.index(t), j] for t in treatments])
    ancestors = _ancestors(sem, target)
    return np.array([_mc_effect(sem, t, target, high, low, n, rng) if t in ancestors else 0.0
                     for t in treatments])


def _check_common(sem: SEM, target: str, n: int, n_bootstrap: int, confidence: float) -> None:
    sem.check_node(target, "target")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"n must be a positive integer, got {n!r}")
    if (isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer))
            or not (n_bootstrap == 0 or n_bootstrap >= MIN_BOOTSTRAP)):
        raise InvalidInputError(f"n_bootstrap must be 0 (no interval) or at least {MIN_BOOTSTRAP} (a percentile "
                                f"interval from fewer resamples is noise), got {n_bootstrap!r}")
    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must lie in (0, 1), got {confidence!r}")


def _constant_columns(values: np.ndarray) -> np.ndarray:
    return np.ptp(values, axis=0) == 0


def _bootstrap(sem: SEM, target: str, treatments: list[str], high: float, low: float, n: int,
               n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Effects under ``n_bootstrap`` refits on resampled rows: ``(n_bootstrap, len(treatments))``.

    A resample in which some variable is constant cannot be refitted (its equation, or its
    effect as a parent, is undetermined); it is drawn again and a warning says how often, as
    happens to a variable that varies in a handful of rows."""
    data = sem.data_
    values = data.to_numpy(dtype=float)
    out = np.empty((n_bootstrap, len(treatments)))
    redrawn: dict[str, int] = {}
    b = attempts = 0
    while b < n_bootstrap:
        attempts += 1
        rows = rng.integers(len(data), size=len(data))
        constant = _constant_columns(values[rows])
        if constant.any():
            for name in data.columns[constant]:
                redrawn[name] = redrawn.get(name, 0) + 1
            if attempts >= MAX_REDRAW * n_bootstrap:
                varying = ", ".join(f"{c!r} ({int((values[:, j] != np.median(values[:, j])).sum())} of "
                                    f"{len(data)} rows off its median)"
                                    for j, c in enumerate(data.columns) if c in redrawn)
                raise InvalidInputError(
                    f"n_bootstrap={n_bootstrap}: resamples keep making a variable constant: {varying}; "
                    "use n_bootstrap=0 (no interval) or more data")
            continue
        # an MLP's initialisation is drawn from rng too: the same random_state, the same interval
        seed = int(rng.integers(2**32)) if sem.kind == "mlp" else None
        boot = sem.refit(data.iloc[rows].reset_index(drop=True), random_state=seed)
        out[b] = _effects_on(boot, target, treatments, high, low, max(n // 4, 100), rng)
        b += 1
    if redrawn:
        warnings.warn(
            f"bootstrap: {attempts - n_bootstrap} of {attempts} resamples made a variable constant "
            f"({', '.join(f'{c} {k}x' for c, k in redrawn.items())}) and were drawn again; the interval "
            "is conditional on those variables varying", stacklevel=4)
    return out


def _effects_with_interval(sem: SEM, target: str, treatments: list[str], high: float, low: float, n: int,
                           n_bootstrap: int, confidence: float, rng: np.random.Generator
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Effects of ``treatments`` on ``target`` and their bootstrap percentile interval
    (the effects themselves when ``n_bootstrap`` is 0)."""
    for name, value in (("high", high), ("low", low)):  # as interventional_samples checks its do-values
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise InvalidInputError(f"{name} must be a finite number (the intervened value), got {value!r}")
    ate = _effects_on(sem, target, treatments, high, low, n, rng)
    if not n_bootstrap:
        return ate, ate, ate
    boot = _bootstrap(sem, target, treatments, high, low, n, n_bootstrap, rng)
    lo, hi = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return ate, lo, hi


def average_treatment_effect(
    sem: SEM,
    treatment: str,
    target: str,
    *,
    high: float = 1.0,
    low: float = 0.0,
    n: int = 4000,
    n_bootstrap: int = 100,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> ATEResult:
    """The paper's eq. 4, in the units of the data the SEM was fitted on (encoded data:
    robust standard deviations).

    Exact for a linear SEM; otherwise a Monte Carlo estimate from ``n`` interventional
    samples per arm with common random numbers. The interval comes from
    ``n_bootstrap`` refits of the equations on resampled rows (0: no interval).

    Parameters
    ----------
    sem : SEM
        A fitted SEM (it keeps its training data, which the bootstrap resamples).
    treatment : str
        The intervened node.
    target : str
        The node whose expectation is compared; must differ from ``treatment``.
    high, low : float, default 1.0 and 0.0
        The two values ``treatment`` is set to; the ATE is
        ``E[target | do(high)] − E[target | do(low)]``.
    n : int, default 4000
        Interventional samples per arm for a nonlinear SEM (a bootstrap refit uses
        ``max(n // 4, 100)``); positive.
    n_bootstrap : int, default 100
        Refits on resampled rows for the interval: 0 (no interval: ``ci_low`` and
        ``ci_high`` equal ``ate``) or at least ``MIN_BOOTSTRAP`` (10).
    confidence : float, default 0.95
        Level of the percentile interval, in (0, 1).
    random_state : None, int or numpy.random.Generator, default None
        Seed of the Monte Carlo draws and the resamples.

    Returns
    -------
    ATEResult
        The effect, its interval and ``method`` (``"exact"`` or ``"monte-carlo"``).

    Raises
    ------
    InvalidInputError
        When ``treatment`` or ``target`` is not a node of the SEM, they are the same node,
        ``n``, ``n_bootstrap`` or ``confidence`` is out of range, or the resamples keep
        making a variable constant (after ``MAX_REDRAW`` draws per wanted resample).
    """
    _check_common(sem, target, n, n_bootstrap, confidence)
    sem.check_node(treatment, "treatment")
    if treatment == target:
        raise InvalidInputError(f"treatment and target must differ, both are {target!r}")
    ate, lo, hi = _effects_with_interval(sem, target, [treatment], high, low, n, n_bootstrap, confidence,
                                         as_generator(random_state))
    return ATEResult(treatment, target, float(ate[0]), float(lo[0]), float(hi[0]), confidence,
                     "exact" if sem.is_linear else "monte-carlo", float(high), float(low))


@dataclass(frozen=True)
class NodeScore:
    """One node's effect on the target and its causal score ``S_i``.

    ``identified``: the effect's value does not hang on a direction the data leave open
    (see :mod:`faultgraph.effects.identify`); ``ate_bounds``: ``[min, max]`` of the effect
    over the orientations the graph's equivalence class admits (and, with a graph
    ensemble, over its graphs); ``confidence``: the share of the ensemble's graphs in
    which the node has a directed path to the target. ``None``: not computed (effects
    on one graph, as if it were known).
    """

    node: str
    ate: float
    ci_low: float
    ci_high: float
    score: float
    identified: bool = True
    ate_bounds: tuple[float, float] | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        if self.ate_bounds is not None:
            out["ate_bounds"] = [float(v) for v in self.ate_bounds]
        return out


@dataclass(frozen=True)
class CausalScores:
    """``S_i = |ATE_i| / Σ_j |ATE_j|`` for every node but the target, in ranked order:
    highest score first from :func:`causal_scores` (``method`` ``"exact"`` or
    ``"monte-carlo"``); for ``"ida"``
    (:func:`~faultgraph.effects.identify.identified_scores`) by what the data establish,
    certain causes first (so a larger score may come later)."""

    target: str
    scores: tuple[NodeScore, ...]
    method: str
    summary: str = ""
    details: dict[str, object] | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"target": self.target, "method": self.method,
                                  "scores": [s.to_dict() for s in self.scores]}
        if self.summary:
            out["summary"] = self.summary
        if self.details is not None:
            out.update(self.details)
        return out

    def top(self, k: int) -> list[str]:
        """The first ``k`` nodes in the ranked order (see the class).

        Parameters
        ----------
        k : int
            How many nodes; fewer come back when there are fewer scores.

        Returns
        -------
        list of str
            Node names, in the ranked order.
        """
        return [s.node for s in self.scores[:k]]

    def __str__(self) -> str:
        lines = [f"causal scores for {self.target} ({self.method}):"] + ([self.summary] if self.summary else [])
        lines += [f"  {s.node:<24} S={s.score:.3f}  ATE={s.ate:+.4f} [{s.ci_low:+.4f}, {s.ci_high:+.4f}]"
                  for s in self.scores]
        return "\n".join(lines)


def causal_scores(
    sem: SEM,
    target: str,
    *,
    high: float = 1.0,
    low: float = 0.0,
    n: int = 2000,
    n_bootstrap: int = 50,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> CausalScores:
    """The paper's eq. 5 for every node: its ATE on ``target`` (with a bootstrap interval)
    and its share ``S_i`` of the total absolute effect, sorted from the highest.

    Nodes with no directed path to the target have ATE 0 and score 0. If no node has an
    effect, every score is 0.

    Parameters
    ----------
    sem : SEM
        A fitted SEM.
    target : str
        The symptom node; every other node is a treatment.
    high, low : float, default 1.0 and 0.0
        The two values each treatment is set to.
    n : int, default 2000
        Interventional samples per arm for a nonlinear SEM; positive.
    n_bootstrap : int, default 50
        Refits on resampled rows for the intervals: 0 (no interval) or at least
        ``MIN_BOOTSTRAP`` (10).
    confidence : float, default 0.95
        Level of the percentile intervals, in (0, 1).
    random_state : None, int or numpy.random.Generator, default None
        Seed of the Monte Carlo draws and the resamples.

    Returns
    -------
    CausalScores
        One :class:`NodeScore` per node but the target, highest score first (ties keep the
        order of ``sem.nodes_``).

    Raises
    ------
    InvalidInputError
        When ``target`` is not a node of the SEM, ``n``, ``n_bootstrap`` or ``confidence``
        is out of range, or the resamples keep making a variable constant.
    """
    _check_common(sem, target, n, n_bootstrap, confidence)
    treatments = [v for v in sem.nodes_ if v != target]
    ate, lo, hi = _effects_with_interval(sem, target, treatments, high, low, n, n_bootstrap, confidence,
                                         as_generator(random_state))
    total = np.abs(ate).sum()
    share = np.abs(ate) / total if total > 0 else np.zeros_like(ate)
    order = np.argsort(-share, kind="stable")
    scores = tuple(NodeScore(treatments[i], float(ate[i]), float(lo[i]), float(hi[i]), float(share[i]))
                   for i in order)
    return CausalScores(target, scores, "exact" if sem.is_linear else "monte-carlo")
