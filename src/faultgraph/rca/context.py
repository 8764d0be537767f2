"""The anomalous period as a context variable, and the ranking averaged over a graph ensemble.

A fault is an intervention on some metrics' mechanisms. Append to the data an indicator
``F`` (0 on the normal reference rows, 1 on the window: the F-node of RCD, the context
variable of joint causal inference) and regress each metric on its learned parents
(same-step and lagged) plus ``F``: the metrics for which ``F`` stays significant are its
children, the intervention targets. A metric that moved only through its parents is
explained by them, and ``F`` adds nothing (descendant adjustment, by conditioning).

Here the parents' coefficients are held at their normal-period values (the model's
equations, or each ensemble graph's refitted on the training rows): the limit of the pooled
regression when the normal period is much longer than the window. ``F``'s coefficient is
then the shift of the metric's mean residual in the window from its mean over the reference
rows (the recent normal before the window, else the training period, where it is 0), in
standard deviations of the training residuals (:func:`context_shift`); its t statistic
divides that by ``√(1/n_window + 1/n_reference)``, the same factor for every metric of one
window, so ranking by ``|shift|`` is ranking by ``|t|``.

A learned graph is uncertain (``benchmarks/results/stability.md``: a third of SMD's edges
move between bootstrap refits), and a parent missed or reversed turns a child into a
target. :func:`context_ensemble` learns the graph again on block-bootstrap resamples of the
training rows (:func:`faultgraph.discovery.ensemble.learn_graph_ensemble`, the model's own
options) and fits each graph's equations; ``explain(..., ensemble=...)`` averages each
metric's ``|shift|`` over the graphs (:func:`ensemble_context`), so one unstable edge
cannot flip the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from faultgraph._validation import check_whole
from faultgraph.detect.unsupervised import CausalDetector, equation_deviations, soft_cap, support_least_squares
from faultgraph.discovery import lagged_design
from faultgraph.errors import InvalidInputError

__all__ = ["ContextEnsemble", "Equations", "context_ensemble", "context_shift", "context_steps", "ensemble_context",
           "equation_residuals", "fit_equations", "model_key"]


@dataclass(frozen=True)
class Equations:
    """One graph's normal-period equations over the encoded metrics.

    ``graph``: ``(d, d)`` summary graph (same-step and lagged edges, largest |weight|
    per pair; ``graph[i, j]`` the edge ``i → j``); ``coef``: ``(d·(p+1), d)`` least-squares
    coefficients of each metric on its parents in the lagged design (same step first, then
    lag 1 .. p); ``design_mean``: ``(d·(p+1),)`` the design's training mean;
    ``resid_mean`` and ``resid_scale``: ``(d,)`` the training residuals' mean and scale."""

    graph: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    design_mean: np.ndarray = field(repr=False)
    resid_mean: np.ndarray = field(repr=False)
    resid_scale: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The arrays as nested lists.

        Returns
        -------
        dict
            ``graph``, ``coef``, ``design_mean``, ``resid_mean`` and ``resid_scale``.
        """
        return {"graph": self.graph.tolist(), "coef": self.coef.tolist(), "design_mean": self.design_mean.tolist(),
                "resid_mean": self.resid_mean.tolist(), "resid_scale": self.resid_scale.tolist()}


@dataclass(frozen=True)
class ContextEnsemble:
    """The equations of ``B`` graphs learned on resamples of a model's training rows.

    ``metrics``: the model's encoded metrics, in order; ``lags``: its lags;
    ``equations``: one :class:`Equations` per graph; ``model_key``: a fingerprint of the
    fitted model it was built from (:func:`model_key`), so that an ensemble is not used with
    another model of the same metrics (empty: not recorded)."""

    metrics: tuple[str, ...]
    lags: int
    equations: tuple[Equations, ...] = field(repr=False)
    model_key: str = ""

    @property
    def n_graphs(self) -> int:
        """How many graphs the ensemble holds."""
        return len(self.equations)

    def to_dict(self) -> dict[str, Any]:
        """The ensemble as plain values.

        Returns
        -------
        dict
            ``metrics``, ``lags`` and ``equations`` (each :meth:`Equations.to_dict`).
        """
        return {"metrics": list(self.metrics), "lags": self.lags,
                "equations": [e.to_dict() for e in self.equations], "model_key": self.model_key}


def model_key(model: CausalDetector) -> str:
    """A fingerprint of a fitted detector: SHA-256 of its encoder's centres and scales, its
    training residuals' spread and its graph's weights (two models of the same metrics
    fitted on other rows differ in it).

    Parameters
    ----------
    model : CausalDetector
        A fitted detector.

    Returns
    -------
    str
        Hexadecimal digest.
    """
    import hashlib

    digest = hashlib.sha256()
    for part in (model.encoder_.center_, model.encoder_.scale_, model.train_std_, model.graph_.adjacency,
                 model.graph_.lagged if model.graph_.lagged is not None else np.zeros(0)):
        digest.update(np.ascontiguousarray(np.asarray(part, dtype=float)).tobytes())
    return digest.hexdigest()


def fit_equations(X: np.ndarray, adjacency: np.ndarray, lagged: np.ndarray | None = None,
                  floor: float = 0.0) -> Equations:
    """Each metric regressed (least squares, no penalty) on its parents in a graph.

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, d)`` encoded training rows in time order.
    adjacency : numpy.ndarray
        ``(d, d)`` same-step graph, ``adjacency[i, j] != 0`` the edge ``i → j``.
    lagged : numpy.ndarray, optional
        ``(p, d, d)`` lagged graphs (lag 1 first), ``lagged[l-1][i, j] != 0`` the edge
        ``i(t-l) → j(t)``; ``None`` for ``p = 0``.
    floor : float, default 0.0
        The least residual scale, as a share of the metric's own sd (capped at 1): a
        duplicate's equation holds exactly and must not score 1e13 when it bends.

    Returns
    -------
    Equations

    Raises
    ------
    InvalidInputError
        When ``X`` is not 2-D with more rows than the design has columns, or the graphs'
        shapes do not match its ``d`` columns.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise InvalidInputError(f"X must be a 2-D array (rows x metrics), got shape {X.shape}")
    d = X.shape[1]
    A = np.asarray(adjacency, dtype=float)
    L = np.zeros((0, d, d)) if lagged is None else np.asarray(lagged, dtype=float)
    if A.shape != (d, d) or L.ndim != 3 or L.shape[1:] != (d, d):
        raise InvalidInputError(f"adjacency must be ({d}, {d}) and lagged (p, {d}, {d}) for X's {d} metrics, "
                                f"got {A.shape} and {None if lagged is None else L.shape}")
    p = L.shape[0]
    if X.shape[0] <= d * (p + 1):
        raise InvalidInputError(f"X holds {X.shape[0]} rows; more than {d * (p + 1)} needed for {d} metrics "
                                f"and {p} lags")
    support = np.vstack([A[None], L]).reshape(d * (p + 1), d) != 0
    support[np.arange(d), np.arange(d)] = False  # no metric is its own same-step parent
    Z = lagged_design(X, p)
    mean = Z.mean(axis=0)
    Zc = Z - mean
    B = support_least_squares(Zc, support)
    D = Zc[:, :d] - Zc @ B
    std = np.maximum(D.std(axis=0), 1e-12)
    if floor > 0:
        std = np.maximum(std, floor * np.minimum(1.0, X.std(axis=0)))
    summary = A.copy()
    for lag in L:
        summary = np.where(np.abs(lag) > np.abs(summary), lag, summary)
    return Equations(summary, B, mean, D.mean(axis=0), std)


def equation_residuals(X: np.ndarray, equations: Equations, lags: int) -> np.ndarray:
    """Each row's residual z under ``equations``: its residual less the training mean, in
    training residual scales (the first ``lags`` rows see copies of the first row as their
    past).

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, d)`` encoded rows in time order.
    equations : Equations
        The graph's equations (:func:`fit_equations`).
    lags : int
        The lags the equations were fitted with.

    Returns
    -------
    numpy.ndarray
        ``(n, d)`` residual z.
    """
    D = equation_deviations(np.asarray(X, dtype=float), int(lags), equations.design_mean, equations.coef)
    return (D - equations.resid_mean) / equations.resid_scale


def context_steps(z: np.ndarray, mask: np.ndarray, reference: slice | None = None, cap: float = 0.0) -> np.ndarray:
    """Each window step's residual z, soft-capped, less the reference rows' mean (``F``'s
    coefficient step by step; :func:`context_shift` is their mean).

    Parameters
    ----------
    z : numpy.ndarray
        ``(n, d)`` residual z of every row read.
    mask : numpy.ndarray of bool
        ``(n,)``: the window's rows.
    reference : slice, optional
        The normal rows before the window; ``None`` or empty: the training period (mean 0).
    cap : float, default 0.0
        The soft cap of each residual z (:func:`~faultgraph.detect.unsupervised.soft_cap`).

    Returns
    -------
    numpy.ndarray
        ``(mask.sum(), d)``.
    """
    c = soft_cap(np.nan_to_num(z), cap)
    base = c[reference].mean(axis=0) if reference is not None and reference.stop > reference.start else 0.0
    return c[mask] - base


def context_shift(z: np.ndarray, mask: np.ndarray, reference: slice | None = None,
                  cap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``F``'s coefficient and t statistic for each metric, the parents' coefficients held
    at their normal values: the window's mean residual z less the reference rows' mean.

    Parameters
    ----------
    z : numpy.ndarray
        ``(n, d)`` residual z of every row read (:func:`equation_residuals`).
    mask : numpy.ndarray of bool
        ``(n,)``: the window's rows (``F = 1``); at least one True.
    reference : slice, optional
        The normal rows (``F = 0``) before the window; ``None``: the training period (mean
        0, infinitely many rows).
    cap : float, default 0.0
        Each residual z is soft-capped first (:func:`~faultgraph.detect.unsupervised.soft_cap`),
        so that one broken step cannot own the mean; 0 leaves them.

    Returns
    -------
    tuple of numpy.ndarray
        ``(shift, t)``, each ``(d,)``: ``shift = mean_window − mean_reference`` (in training
        residual sds) and ``t = shift / √(1/n_window + 1/n_reference)``.

    Raises
    ------
    InvalidInputError
        When ``mask`` selects no row of ``z`` or the shapes differ.
    """
    z = np.asarray(z, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    if z.ndim != 2 or mask.shape != (z.shape[0],) or not mask.any():
        raise InvalidInputError(f"mask must select at least one of z's {z.shape[0]} rows, got {int(mask.sum())} "
                                f"of shape {mask.shape} for z of shape {z.shape}")
    n_w = int(mask.sum())
    inv_ref = (1.0 / (reference.stop - reference.start)
               if reference is not None and reference.stop > reference.start else 0.0)
    shift = context_steps(z, mask, reference, cap).mean(axis=0)
    return shift, shift / np.sqrt(1.0 / n_w + inv_ref)


def ensemble_context(X: np.ndarray, mask: np.ndarray, reference: slice | None, ensemble: ContextEnsemble,
                     cap: float = 0.0) -> np.ndarray:
    """Each metric's ``|shift|`` (:func:`context_shift`) averaged over the ensemble's graphs.

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, d)`` encoded rows read, in the ensemble's metric order.
    mask : numpy.ndarray of bool
        ``(n,)``: the window's rows.
    reference : slice, optional
        The normal rows before the window (``None``: the training period).
    ensemble : ContextEnsemble
        The graphs' equations (:func:`context_ensemble`).
    cap : float, default 0.0
        The soft cap of each residual z.

    Returns
    -------
    numpy.ndarray
        ``(d,)``: the mean over graphs.

    Raises
    ------
    InvalidInputError
        When ``X``'s columns are not the ensemble's metrics.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != len(ensemble.metrics):
        raise InvalidInputError(f"X must have the ensemble's {len(ensemble.metrics)} metrics as columns, "
                                f"got shape {X.shape}")
    return np.mean([np.abs(context_shift(equation_residuals(X, eq, ensemble.lags), mask, reference, cap)[0])
                    for eq in ensemble.equations], axis=0)


def context_ensemble(model: CausalDetector, train: pd.DataFrame, n_graphs: int = 10, *,
                     random_state: int | None = 0, n_workers: int | None = 0) -> ContextEnsemble:
    """Learn ``model``'s graph again on ``n_graphs`` block-bootstrap resamples of its
    encoded training rows (its own learner options) and fit each graph's equations on
    all of them.

    Parameters
    ----------
    model : CausalDetector
        A fitted detector.
    train : pandas.DataFrame
        The rows it was fitted on (or any normal rows with its metrics).
    n_graphs : int, default 10
        Graphs in the ensemble, >= 2.
    random_state : int or None, default 0
        Seed of the resampling.
    n_workers : int or None, default 0
        Dask workers for the refits (0: in this process).

    Returns
    -------
    ContextEnsemble

    Raises
    ------
    InvalidInputError
        When ``model`` is not a fitted :class:`~faultgraph.detect.CausalDetector`,
        ``n_graphs`` is not an integer >= 2, or ``train`` lacks the model's metrics.
    """
    from faultgraph.discovery.ensemble import learn_graph_ensemble

    if not isinstance(model, CausalDetector):
        raise InvalidInputError(f"model must be a fitted CausalDetector, got {type(model).__name__}")
    model.check_fitted()
    n_graphs = check_whole("n_graphs", n_graphs, 2)
    X, _ = model.residuals(train)
    p = int(model.lags_)
    ens = learn_graph_ensemble(X, n_graphs, method=model.method, lambda1=model.lambda1_,
                               threshold=model.threshold, standardize=False, prior=model.prior_, lags=p,
                               n_workers=n_workers, random_state=random_state,
                               screen="screen_reason" in model.graph_.params)  # the model's own way
    floor = float(getattr(model, "scale_floor", 0.0) or 0.0)
    eqs = tuple(fit_equations(X, ens.graphs[b], None if ens.lagged is None else ens.lagged[b], floor)
                for b in range(ens.n_graphs))
    return ContextEnsemble(tuple(str(c) for c in model.encoder_.columns_), p, eqs, model_key(model))
