"""The structure-learning estimator: data in, a weighted DAG out."""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from faultgraph.config import DEFAULTS
from faultgraph._budget import check_fit
from faultgraph._validation import (FittedAttributes, check_lag_rows, check_matrix, describe_names, flag, nonnegative,
                                   one_of, whole)
from faultgraph.discovery.optimizers import dagma_linear, notears_linear
from faultgraph.discovery.postprocess import break_cycles, threshold_lag_groups, threshold_weights
from faultgraph.discovery.refine import noise_variance, ols_weights, penalised_score, refine_dag
from faultgraph.discovery.prior import PriorKnowledge
from faultgraph.errors import ConvergenceWarning, DataScaleWarning, InvalidInputError, NotFittedError

__all__ = ["LearnedGraph", "StructureLearner", "choose_solver", "lagged_design", "second_moments"]

Method = Literal["dagma", "notears"]
METHODS: tuple[str, ...] = ("dagma", "notears")
#: Above this many variables, a refined DAGMA fit uses loose solver tolerances.
LOOSE_ABOVE = 200
#: L1 weights that work well on standardised data for each method.
DEFAULT_LAMBDA1 = {"dagma": 0.03, "notears": 0.1}


@dataclass(frozen=True)
class LearnedGraph:
    """A learned weighted DAG over named metrics.

    ``adjacency[i, j]`` is the weight of the edge ``nodes[i] → nodes[j]`` (zero: no edge).
    """

    nodes: tuple[str, ...]
    adjacency: np.ndarray = field(repr=False)
    method: str
    params: dict[str, Any]
    elapsed_s: float
    dropped_edges: tuple[tuple[str, str, float], ...] = ()
    lagged: np.ndarray | None = field(default=None, repr=False)

    @property
    def lagged_edges(self) -> list[tuple[str, str, int, float]]:
        """Edges from the past as ``(source, target, lag, weight)``: ``source`` at ``t − lag``
        acts on ``target`` at ``t``; strongest first."""
        if self.lagged is None:
            return []
        out = [(self.nodes[i], self.nodes[j], int(l) + 1, float(self.lagged[l, i, j]))
               for l, i, j in zip(*np.nonzero(self.lagged))]
        return sorted(out, key=lambda e: -abs(e[3]))

    @property
    def edge_delays(self) -> list[tuple[str, str, int, float]]:
        """The delay of each linked pair of metrics as ``(source, target, delay, weight)``:
        the lag (0: same step) whose edge carries the largest |weight| between them, a
        metric's edges from its own past left out; strongest first."""
        A = np.abs(self.adjacency)[None]
        if self.lagged is not None:
            A = np.concatenate([A, np.abs(self.lagged)])
        best = A.max(axis=0)
        np.fill_diagonal(best, 0.0)
        out = []
        for i, j in zip(*np.nonzero(best)):
            k = int(np.argmax(A[:, i, j]))
            w = self.adjacency[i, j] if k == 0 else self.lagged[k - 1, i, j]  # type: ignore[index]
            out.append((self.nodes[i], self.nodes[j], k, float(w)))
        return sorted(out, key=lambda e: -abs(e[3]))

    @property
    def edges(self) -> list[tuple[str, str, float]]:
        """Edges as ``(source, target, weight)``, strongest first."""
        i, j = np.nonzero(self.adjacency)
        out = [(self.nodes[a], self.nodes[b], float(self.adjacency[a, b])) for a, b in zip(i, j)]
        return sorted(out, key=lambda e: -abs(e[2]))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by ``faultgraph discover`` (see docs/cli.md)."""
        return {
            "nodes": list(self.nodes),
            "edges": [{"source": s, "target": t, "weight": w} for s, t, w in self.edges],
            "method": self.method,
            "params": dict(self.params),
            "elapsed_s": self.elapsed_s,
            "dropped_edges": [{"source": s, "target": t, "weight": w} for s, t, w in self.dropped_edges],
            "lagged_edges": [{"source": s, "target": t, "lag": k, "weight": w} for s, t, k, w in self.lagged_edges],
            "edge_delays": [{"source": s, "target": t, "delay": k, "weight": w} for s, t, k, w in self.edge_delays],
        }

    def __str__(self) -> str:
        lines = [f"{len(self.nodes)} nodes, {int(np.count_nonzero(self.adjacency))} edges ({self.method})"]
        lines += [f"  {s} -> {t}  {w:+.3f}" for s, t, w in self.edges]
        lines += [f"  {s}(t-{k}) -> {t}  {w:+.3f}" for s, t, k, w in self.lagged_edges]
        return "\n".join(lines)


def choose_solver(method: str, d: int, *, refine: bool, screen: bool, n_samples: int,
                  device: str | None = None) -> tuple[Any, dict[str, float]]:
    """The optimiser for ``method`` and its options: loose tolerances for DAGMA above
    :data:`LOOSE_ABOVE` metrics when the greedy refinement finishes the job (measurements:
    CHANGELOG.md, "How the defaults were chosen"); with ``screen``, the screened solve
    (:func:`~faultgraph.discovery.screen.screened_linear`: no O(d³) iterations).

    Parameters
    ----------
    method : str
        ``"dagma"`` or ``"notears"``.
    d : int
        Metrics.
    refine : bool
        Whether the refinement follows.
    screen : bool
        Screen instead of the continuous solve.
    n_samples : int
        Rows the second moments come from (the screen's tests).
    device : str, optional
        Where the screen computes (``"cpu"``, ``"cuda"``).

    Returns
    -------
    tuple of (callable, dict)
        The solver (the optimisers' signature) and its extra options.
    """
    options: dict[str, float] = {}
    if refine and method == "dagma" and d > LOOSE_ABOVE:
        options = {"tol": 1e-3, "warm_tol": 1e-3, "h_tol": 1e-3}
    if screen:
        from faultgraph.discovery.screen import screened_linear

        return functools.partial(screened_linear, n_samples=n_samples, device=device), options
    return (dagma_linear if method == "dagma" else notears_linear), options


class StructureLearner(FittedAttributes):
    """Learn a weighted causal DAG from metrics with NOTEARS or DAGMA (linear SEM).

    Follows the scikit-learn contract: ``__init__`` stores hyperparameters, ``fit``
    validates and copies its input and sets the attributes ending in ``_``.

    Parameters
    ----------
    method : {"dagma", "notears"}, default "dagma"
        The continuous solver; DAGMA is faster.
    lambda1 : float or None, default None
        L1 penalty, at least 0; ``None`` uses 0.03 for DAGMA and 0.1 for NOTEARS.
    threshold : float, default ``DEFAULTS.threshold``
        Weights below this in absolute value are dropped after fitting; with lags, a pair
        whose weights over all lags sum to at least this keeps its shares down to
        ``threshold / (lags + 1)`` (:func:`threshold_lag_groups`).
    standardize : bool, default True
        Scale every variable to unit variance before learning (metrics of mixed units
        must be); the weights are then in standard deviations.
    prior : PriorKnowledge, str or None, default None
        A :class:`PriorKnowledge` or the path of its YAML file.
    lags : int, default 0
        How many past steps ``x_{t−1} … x_{t−p}`` enter the candidate space as possible
        parents (rows of ``X`` must be in time order). They can cause the present, never
        the reverse; acyclicity is required among present-time variables only (as in
        DYNOTEARS). The cost per iteration stays independent of the number of rows.
    refine : bool or None, default None
        After the continuous solve, improve the DAG by greedy edge deletions, additions
        and reversals on the BIC-penalised least-squares score, refit the weights by least
        squares and threshold them again (:mod:`~faultgraph.discovery.refine`; only without
        lags). It repairs the poor local optima continuous learners reach on scale-free
        graphs. ``None``: on for raw data, off with ``standardize``, where the
        least-squares score no longer identifies the graph and refining added edges.
    max_iter : int, default 2000
        Quasi-Newton iterations per sub-problem, at least 1.
    callback : callable or None, default None
        Called with a progress dict after each outer step (for progress bars).
    screen : bool, default False
        For thousands of metrics, replace the continuous solve by screened candidate
        parents, an order by conditional variance and least squares
        (:mod:`~faultgraph.discovery.screen`; ``method`` and ``lambda1`` are then unused);
        with lags, the past is screened as candidate parents of the present, never as
        children. Thresholding and refinement follow as usual. Each metric is then fitted
        on its candidates only, so more candidates than rows (``d·(lags + 1) >= n``) are
        not refused: :class:`~faultgraph.CausalDetector` screens such fits by itself
        (:func:`faultgraph._budget.screen_reason`).
    device : str or None, default None
        ``'cuda'`` (or ``'cpu'``) computes ``XᵀX/n`` and, with ``screen``, the screen's
        ``d × d`` inverse with PyTorch there (:mod:`~faultgraph.discovery.backend`, the
        ``torch`` extra); ``None``: NumPy.

    Attributes
    ----------
    adjacency_ : (d, d) ndarray
        Weights of the learned DAG; ``[i, j]`` is ``i → j``.
    lagged_adjacency_ : (lags, d, d) ndarray
        ``[l, i, j]`` is ``x_i(t−l−1) → x_j(t)``.
    weights_ : (k, d) ndarray
        Weights before thresholding and cycle breaking.
    graph_ : LearnedGraph
        The same with names and run information.
    feature_names_in_, n_features_in_ : ndarray of str, int
        The metric names and their number.
    n_iter_, h_final_ : int, float
        Quasi-Newton iterations used; acyclicity of ``weights_``.
    converged_ : bool
        Whether ``h_final_`` reached the optimiser's tolerance.
    dropped_edges_ : list of (str, str, float)
        ``(source, target, weight)`` removed to break cycles of the thresholded continuous
        solution (before any refinement).
    refine_moves_ : int
        Greedy moves the refinement made (0 when it did not run).
    """

    _constraints = {
        "method": one_of(METHODS),
        "lambda1": nonnegative(optional=True),
        "threshold": nonnegative(),
        "max_iter": whole(1),
        "lags": whole(0, kind="an integer >= 0"),
        "screen": flag(),
        "refine": flag(none="on for raw data"),
    }

    def __init__(
        self,
        method: Method = "dagma",
        *,
        lambda1: float | None = None,
        threshold: float = DEFAULTS.threshold,
        standardize: bool = True,
        prior: PriorKnowledge | str | None = None,
        lags: int = 0,
        refine: bool | None = None,
        max_iter: int = 2000,
        callback: Callable[[dict[str, Any]], None] | None = None,
        screen: bool = False,
        device: str | None = None,
    ) -> None:
        self.method = method
        self.screen = screen
        self.device = device
        self.refine = refine
        self.lags = lags
        self.lambda1 = lambda1
        self.threshold = threshold
        self.standardize = standardize
        self.prior = prior
        self.max_iter = max_iter
        self.callback = callback

    def fit(self, X: Any) -> StructureLearner:
        """Learn the DAG of ``X`` (samples × metrics, an array or a DataFrame).

        Warns (``UserWarning``) when the rows after the lags do not exceed the candidate
        parents per metric, (:class:`DataScaleWarning`) when on raw data the metrics'
        median variance is below ``lambda1``, and (:class:`ConvergenceWarning`) when the
        solver stops above its acyclicity tolerance; the graph is then made acyclic by
        thresholding and dropping edges.

        Parameters
        ----------
        X : (n, d) array-like or pandas.DataFrame
            Samples × metrics, finite values, rows in time order when ``lags > 0``; at
            least ``lags + 3`` rows. A DataFrame's column names become the node names.

        Returns
        -------
        StructureLearner
            ``self``, fitted.

        Raises
        ------
        InvalidInputError
            When a hyperparameter is not allowed, when ``X`` is not a valid finite matrix
            or has too few rows, when the fit is undetermined or would exceed the time or
            memory limits (:func:`faultgraph._budget.check_fit`; not with ``screen``), or
            when with lags and ``standardize`` a metric is constant over the rows the
            lagged design uses.
        """
        self.validate_params()
        method = str(self.method)
        lambda1 = float(DEFAULT_LAMBDA1[method] if self.lambda1 is None else self.lambda1)
        threshold = float(self.threshold)
        p = int(self.lags)
        data, names = check_matrix(X, name="data", min_rows=3)
        check_lag_rows(data.shape[0], p)
        if not self.screen:  # its estimate is the continuous solve's; the screen costs far less
            check_fit(data.shape[0], data.shape[1], p, refine=p == 0 and (  # refuse what cannot finish
                not self.standardize if self.refine is None else bool(self.refine)))  # or is undetermined
        if data.shape[0] - p <= data.shape[1] * (p + 1) and not self.screen:  # the screen fits few per metric
            warnings.warn(
                f"only {data.shape[0] - p} rows for {data.shape[1] * (p + 1)} candidate parents per metric "
                f"({data.shape[1]} metrics{f' x {p + 1} lags' if p else ''}): the graph is poorly determined; "
                "use more rows than that", UserWarning, stacklevel=2)
        prior = PriorKnowledge.coerce(self.prior) or PriorKnowledge()
        allowed, required = prior.masks(names)
        d = len(names)
        if p:
            allowed = np.vstack([allowed] + [prior.lagged_mask(names)] * p)
            required = np.vstack([required] + [np.zeros((d, d), dtype=bool)] * p)

        start = time.perf_counter()
        Z = lagged_design(data, p)
        flat = np.flatnonzero(np.ptp(Z, axis=0) == 0) if p and self.standardize else []
        if len(flat):  # varies only in its first or last p rows: no scale to standardise by
            raise InvalidInputError(
                f"with lags={p}, {describe_names([f'{names[j % d]} (lag {j // d})' for j in flat], show=str)} "
                f"{'is' if len(flat) == 1 else 'are'} constant over the rows the lagged design uses "
                f"(varying only in the first or last {p} rows); drop such metrics or use fewer lags")
        if self.device is None:
            S = second_moments(Z, standardize=self.standardize)
        else:  # the dense products on another device (faultgraph.discovery.backend)
            from faultgraph.discovery import backend

            S = backend.second_moments(Z, standardize=self.standardize, device=self.device)
        if not np.isfinite(S).all():  # standardised, a variance below ~1e-308 (it underflowed to 0) divides into NaN
            raise InvalidInputError("data's variances under- or overflow in floating point (values near 1e-160 or "
                                    "1e160): rescale the data (e.g. to other units)")
        typical = float(np.median(np.diag(S)[:d]))
        if not self.standardize and typical < lambda1:
            warnings.warn(
                f"the metrics' median variance is {typical:.3g}, below lambda1 = {lambda1:g}: on raw data the L1 "
                "penalty is in the data's units squared and removes most true edges; use standardize=True "
                "(--standardize), rescale the data or lower lambda1", DataScaleWarning, stacklevel=2)
        refine = (not self.standardize) if self.refine is None else bool(self.refine)
        refine = refine and p == 0
        solver, options = choose_solver(method, d, refine=refine, screen=bool(self.screen), n_samples=Z.shape[0],
                                        device=self.device)
        result = solver(
            S, lambda1=lambda1, n_vars=d, allowed=allowed, unpenalized=required, max_iter=int(self.max_iter),
            callback=self.callback, **options,
        )
        kept = threshold_lag_groups(result.W, d, threshold, keep=required)  # = threshold_weights when p = 0
        W, dropped = break_cycles(kept[:d], keep=required[:d])
        lagged = kept[d:].reshape(p, d, d)
        moves = 0
        if refine:
            W, moves = _refine(S, W, result.W, data.shape[0], threshold, allowed, required)
        elapsed = time.perf_counter() - start

        self.weights_ = result.W
        self.adjacency_ = W
        self.lagged_adjacency_ = lagged
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        self.n_iter_ = result.n_iter
        self.h_final_ = result.h
        self.loss_final_ = result.loss
        self.converged_ = result.converged
        self.dropped_edges_ = [(names[i], names[j], w) for i, j, w in dropped]
        self.refine_moves_ = moves
        self.graph_ = LearnedGraph(
            nodes=tuple(names),
            adjacency=W,
            method=method,
            params={"lambda1": lambda1, "threshold": threshold, "standardize": bool(self.standardize),
                    "lags": p, "refine": refine, "max_iter": int(self.max_iter),
                    "n_samples": int(data.shape[0]), **({"screen": True} if self.screen else {})},
            elapsed_s=elapsed,
            dropped_edges=tuple(self.dropped_edges_),
            lagged=lagged if p else None,
        )
        weak = [(names[i], names[j], float(W[i, j])) for i, j in zip(*np.nonzero(required[:d]))
                if abs(W[i, j]) < threshold]
        for a, b, w in weak[:5]:  # the prior keeps it; the data do not support it
            warnings.warn(f"prior requires the edge {a} -> {b}, but the data give it the weight {w:.3g}, below the "
                          f"threshold {threshold:g} at which a learned edge is dropped: it is kept as the prior says, "
                          "and the directions the rules orient from it may be wrong; check the prior", UserWarning,
                          stacklevel=2)
        if not result.converged:
            warnings.warn(
                ConvergenceWarning(
                    f"{method} stopped with h(W) = {result.h:.3g} above its tolerance (loss {result.loss:.4g}); "
                    f"the graph was made acyclic by thresholding and by dropping {len(dropped)} edges. "
                    "Try a larger lambda1 (--lambda1) or max_iter (in Python)."
                ),
                stacklevel=2,
            )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "adjacency_"):
            raise NotFittedError("this StructureLearner is not fitted yet; call fit(X) first")

    @property
    def edges_(self) -> list[tuple[str, str, float]]:
        """The learned edges as ``(source, target, weight)``, strongest first."""
        self._check_fitted()
        return self.graph_.edges


def lagged_design(X: np.ndarray, lags: int) -> np.ndarray:
    """``Z = [X_t, X_{t−1}, …, X_{t−p}]`` for ``t = p … n−1``: ``(n − p, d·(p + 1))``.

    Parameters
    ----------
    X : (n, d) ndarray
        Rows in time order.
    lags : int
        ``p``, at least 0 (not checked here).

    Returns
    -------
    (n − p, d·(p + 1)) ndarray
        Blocks of ``d`` columns for lag 0, 1, …, p. With ``lags = 0`` this is ``X``
        itself (not a copy).
    """
    if lags == 0:
        return X
    n = X.shape[0]
    return np.hstack([X[lags - l : n - l] for l in range(lags + 1)])


def _refine(S: np.ndarray, W_dag: np.ndarray, W_cont: np.ndarray, n: int, threshold: float,
            allowed: np.ndarray, required: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, int]:
    """Greedy moves on the BIC-penalised least-squares score (:func:`refine_dag`, its
    penalty ``σ̂² log(n) / (2n)`` in the data's units, ``σ̂²`` the :func:`noise_variance`
    of ``W_dag``), then least-squares weights thresholded again, repeated until the graph
    stops changing; from two starts (``W_dag``, the continuous weights thresholded at
    ``threshold`` and made acyclic, and ``W_cont`` thresholded at ``threshold / 6``, made
    acyclic), keeping the one that scores best. Returns the weights and the number of
    moves made."""
    S = S + 1e-9 * float(np.mean(np.diag(S))) * np.eye(S.shape[0])  # collinear metrics stay solvable
    lam = noise_variance(S, W_dag != 0) * np.log(n) / (2 * n)
    rich, _ = break_cycles(threshold_weights(W_cont, threshold / 6, keep=required), keep=required)
    results = []
    for start in (W_dag, rich):
        A, total = start != 0, 0
        for _ in range(rounds):
            B, moves = refine_dag(S, A, lam=lam, allowed=allowed, required=required)
            total += moves
            W = threshold_weights(ols_weights(S, B), threshold, keep=required & B)
            if np.array_equal(W != 0, A):
                break
            A = W != 0
        results.append((penalised_score(S, W != 0, lam), W, total))
    _, W, total = min(results, key=lambda r: r[0])
    return W, total


def second_moments(X: np.ndarray, *, standardize: bool) -> np.ndarray:
    """``S = XᵀX / n`` of the centred (and optionally unit-variance) columns of ``X``.

    Works on a copy; the caller's array is left as it was.

    Parameters
    ----------
    X : (n, k) ndarray of float
        Samples × variables.
    standardize : bool
        Divide by the columns' standard deviations, giving the correlation matrix.

    Returns
    -------
    (k, k) ndarray of float
        The second-moment (covariance or correlation) matrix.
    """
    Xc = X - X.mean(axis=0)
    S = Xc.T @ Xc / X.shape[0]
    if standardize:
        sd = np.sqrt(np.diag(S))
        with np.errstate(invalid="ignore", divide="ignore"):  # a variance that underflowed: NaN, refused by fit
            S = S / np.outer(sd, sd)
    return S
