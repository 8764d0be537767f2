"""Graph ensembles: the causal graph relearned on resamples of the rows, every graph kept.

One learned graph hides how much of it the data support. Relearning it on ``B``
resamples – a moving-block bootstrap of the rows, which keeps the dependence of
neighbouring time steps within each block (Künsch 1989) – gives ``B`` graphs, and for
each edge the share of graphs that hold it in its direction (``confidence``) and in the
opposite one (``reversed``). An edge with both shares near one half is one whose
direction the data do not decide.

The learners work from second moments (:func:`~faultgraph.discovery.second_moments`), so
a resample needs only the weighted moments of the design rows it draws (its bootstrap
counts as row weights), never a copy of the data. The resamples run on a dask.distributed
cluster through :mod:`faultgraph.parallel` (a ``LocalCluster`` by default, an existing
one with ``scheduler``) or in this process (``n_workers=0``), with identical graphs: each
resample's rows come from its own seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from faultgraph._validation import check_whole, flag
from faultgraph.errors import InvalidInputError

__all__ = [
    "MAX_GRAPHS",
    "GraphEnsemble",
    "GraphSpec",
    "block_bootstrap_rows",
    "check_block",
    "check_bootstrap",
    "default_block",
    "edge_confidence",
    "learn_graph_ensemble",
    "learn_from_moments",
    "learn_with_time_order",
    "resample_seeds",
    "run_resamples",
    "time_forbidden",
    "weighted_moments",
]

#: Resamples per task sent to a worker (fewer, larger tasks: the design travels once per task).
TASKS_PER_RUN = 8


def default_block(n: int) -> int:
    """The block length of the moving-block bootstrap: ``⌈n^(1/3)⌉`` rows (the rate that
    balances bias and variance for the variance of a mean, Hall, Horowitz and Jing 1995).

    Parameters
    ----------
    n : int
        Number of rows.

    Returns
    -------
    int
        At least 1.
    """
    return max(1, math.ceil(n ** (1 / 3)))


def block_bootstrap_rows(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` row indices of a moving-block bootstrap: blocks of ``block`` consecutive rows
    starting anywhere, joined and cut to ``n`` (``block = 1``: the ordinary bootstrap).

    Parameters
    ----------
    n : int
        Number of rows, positive.
    block : int
        Rows per block, >= 1; a block longer than ``n`` is cut to ``n``.
    rng : numpy.random.Generator
        Source of the block starts.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int indices in ``[0, n)``, with repeats.

    Raises
    ------
    InvalidInputError
        When ``block`` is not an integer >= 1.
    """
    block = min(check_whole("block", block, 1, "rows per bootstrap block"), n)
    starts = rng.integers(n - block + 1, size=math.ceil(n / block))
    return (starts[:, None] + np.arange(block)[None, :]).ravel()[:n]


def resample_seeds(n_graphs: int, random_state: int | None) -> np.ndarray:
    """One seed per resample, from ``random_state`` (the same seeds wherever they run).

    Parameters
    ----------
    n_graphs : int
        Number of resamples.
    random_state : int or None
        Seed of the seeds; ``None``: fresh entropy.

    Returns
    -------
    numpy.ndarray
        ``(n_graphs,)`` int64 seeds in ``[0, 2**63)``.
    """
    return np.random.default_rng(random_state).integers(2**63, size=n_graphs, dtype=np.int64)


def weighted_moments(Z: np.ndarray, weights: np.ndarray | None, *, standardize: bool) -> np.ndarray:
    """:func:`~faultgraph.discovery.second_moments` of ``Z`` with row ``weights``.

    Parameters
    ----------
    Z : numpy.ndarray
        ``(n, k)`` design rows.
    weights : numpy.ndarray or None
        ``(n,)`` row weights (bootstrap counts); ``None``: each row once (equal weights
        give exactly the same moments).
    standardize : bool
        Return correlations instead of covariances (a constant column keeps its zero
        variance, divided by 1).

    Returns
    -------
    numpy.ndarray
        ``(k, k)`` weighted covariance (normalised by the total weight) or correlation.
    """
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is None or (w.size and np.all(w == w.flat[0])):  # each row as often: the very same moments, not 1e-16
        from faultgraph.discovery.learner import second_moments  # off (which can turn a thresholded edge)

        return second_moments(Z, standardize=standardize)

    mean = w @ Z / w.sum()
    Zc = Z - mean
    S = (Zc * w[:, None]).T @ Zc / w.sum()
    if standardize:
        sd = np.sqrt(np.diag(S))
        sd[sd == 0] = 1.0
        S = S / np.outer(sd, sd)
    return S


def edge_confidence(graphs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(confidence, reversed)``, each ``(d, d)``: the share of the ``(B, d, d)`` graphs
    holding ``i → j``, and the share holding ``j → i``.

    Parameters
    ----------
    graphs : numpy.ndarray
        ``(B, d, d)`` stack of adjacency or weight matrices (nonzero: an edge), ``B >= 1``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(confidence, reversed)``; ``reversed`` is the transpose of ``confidence``.

    Raises
    ------
    InvalidInputError
        When ``graphs`` is not a non-empty ``(B, d, d)`` stack.
    """
    G = np.asarray(graphs) != 0
    if G.ndim != 3 or G.shape[1] != G.shape[2] or G.shape[0] == 0:
        raise InvalidInputError(f"graphs must be a non-empty (B, d, d) stack of adjacency matrices, got {G.shape}")
    share = G.mean(axis=0)
    return share, share.T.copy()


def time_forbidden(lagged: np.ndarray) -> np.ndarray:
    """``(d, d)``: the same-step directions that time rules out.

    A pair linked across steps one way only (``x_i(t − l) → x_j(t)`` for some ``l``, never
    ``x_j(t − l) → x_i(t)``) may not be linked ``j → i`` at the same step.

    Parameters
    ----------
    lagged : numpy.ndarray
        ``(p, d, d)`` lagged weights, ``[l, i, j]``: ``x_i(t − l − 1) → x_j(t)``; nonzero is
        an edge, the diagonal (a node's own past) is ignored.

    Returns
    -------
    numpy.ndarray
        ``(d, d)`` boolean, ``[j, i]`` true where ``j → i`` is forbidden.
    """
    L = (np.abs(np.asarray(lagged)) > 0).any(axis=0)
    np.fill_diagonal(L, False)
    return (L & ~L.T).T


@dataclass(frozen=True)
class GraphSpec:
    """How one graph is learned from second moments (the options of
    :class:`~faultgraph.StructureLearner`, the prior's masks over the design, and whether
    time orients same-step edges before they are decided).

    ``allowed``, ``required``: ``(d·(p + 1), d)`` masks over the design's rows (candidate
    parents) and the ``d`` present-time columns.
    """

    n_vars: int
    lags: int = 0
    method: str = "dagma"
    lambda1: float = 0.03
    threshold: float = 0.3
    standardize: bool = True
    refine: bool = False
    max_iter: int = 2000
    time_first: bool = True
    #: Screened candidate parents and least squares (:func:`~faultgraph.discovery.screen.screened_linear`)
    #: instead of the continuous solve, as ``StructureLearner(screen=True)``.
    screen: bool = False
    allowed: np.ndarray | None = field(default=None, repr=False)
    required: np.ndarray | None = field(default=None, repr=False)


def learn_from_moments(S: np.ndarray, n: int, spec: GraphSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(W, lagged)`` of :func:`learn_with_time_order`.

    Parameters
    ----------
    S : numpy.ndarray
        ``(k, k)`` second moments of the design rows (``k = d·(p + 1)``).
    n : int
        Number of design rows the moments come from.
    spec : GraphSpec
        How the graph is learned.

    Returns
    -------
    tuple of numpy.ndarray
        ``W`` ``(d, d)`` same-step weights and ``lagged`` ``(p, d, d)``.
    """
    W, lagged, _ = learn_with_time_order(S, n, spec)
    return W, lagged


def learn_with_time_order(S: np.ndarray, n: int, spec: GraphSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The DAG that :class:`~faultgraph.StructureLearner` learns from the moments ``S`` of
    ``n`` design rows.

    With lags and ``spec.time_first``, a first solve from the past alone (a vector
    autoregression: ``x_t`` on ``x_{t−1} … x_{t−p}``, no same-step edge) gives the time
    order: its lagged edges run from causes to their descendants (the reduced form
    ``A(I − W)⁻¹`` of ``x_t = x_t W + x_{t−1} A + ε`` carries a cause's past to all its
    descendants, never back), and a pair it links one way only may not be linked the
    other way at the same step (:func:`time_forbidden`). The second solve then decides
    the same-step and lagged edges. (A joint first solve let a wrongly directed same-step
    edge pull the lagged ones round with it.)

    Parameters
    ----------
    S : numpy.ndarray
        ``(k, k)`` second moments of the design rows (``k = d·(p + 1)``, the present
        columns first, then each lag's).
    n : int
        Number of design rows the moments come from (used by the refinement).
    spec : GraphSpec
        The solver and its options, the prior's masks and ``time_first``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(W, lagged, order)``: ``W`` ``(d, d)`` same-step weights (cycles broken),
        ``lagged`` and ``order`` ``(p, d, d)``: the lagged weights, and those of the
        past-only solve that gave the time order (``lagged`` again without lags or without
        ``spec.time_first``).
    """
    from faultgraph.discovery.learner import _refine, choose_solver
    from faultgraph.discovery.postprocess import break_cycles, threshold_lag_groups

    d, p = spec.n_vars, spec.lags
    k = d * (p + 1)
    allowed = np.ones((k, d), dtype=bool) if spec.allowed is None else np.array(spec.allowed, dtype=bool)
    allowed[np.arange(d), np.arange(d)] = False
    required = np.zeros((k, d), dtype=bool) if spec.required is None else np.asarray(spec.required, dtype=bool)
    refine = spec.refine and p == 0
    solver, options = choose_solver(spec.method, d, refine=refine, screen=spec.screen, n_samples=n)

    def solve(mask: np.ndarray) -> tuple[Any, np.ndarray]:
        result = solver(S, lambda1=spec.lambda1, n_vars=d, allowed=mask, unpenalized=required,
                        max_iter=spec.max_iter, **options)
        return result, threshold_lag_groups(result.W, d, spec.threshold, keep=required)

    if p and spec.time_first:
        # the past alone first (a vector autoregression, no same-step edge): its edges run
        # from causes to their descendants only, whatever the same-step directions are
        past_only = allowed.copy()
        past_only[:d] = False
        _, var = solve(past_only)
        order = var[d:].reshape(p, d, d)
        allowed = allowed.copy()
        allowed[:d] &= ~(time_forbidden(order) & ~required[:d])
    result, kept = solve(allowed)
    W, _ = break_cycles(kept[:d], keep=required[:d])
    if refine:
        W, _ = _refine(S, W, result.W, n, spec.threshold, allowed, required)
    lagged = kept[d:].reshape(p, d, d)
    return W, lagged, (order if p and spec.time_first else lagged)


def _fit_rows(spec: GraphSpec, Z: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    weights = None if rows is None else np.bincount(rows, minlength=len(Z)).astype(float)
    return learn_from_moments(weighted_moments(Z, weights, standardize=spec.standardize), len(Z), spec)


def _run_chunk(fit: Callable[[np.ndarray], Any], n_rows: int, block: int, seeds: Sequence[int]) -> list[Any]:
    """A worker's share: for each seed, its block-bootstrap rows and ``fit(rows)``."""
    return [fit(block_bootstrap_rows(n_rows, block, np.random.default_rng(int(s)))) for s in seeds]


def run_resamples(fit: Callable[[np.ndarray], Any], n_rows: int, seeds: Sequence[int], block: int, *,
                  scheduler: str | None = None, n_workers: int | None = None, client: Any = None,
                  progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """``fit(rows)`` for each seed's block-bootstrap rows, on dask or in this process.

    Runs through :func:`faultgraph.parallel.run_tasks`. ``fit`` must be picklable (a
    ``functools.partial`` of a module-level function); it travels once per task, with
    at most :data:`TASKS_PER_RUN` tasks in all.

    Parameters
    ----------
    fit : callable
        ``fit(rows)`` of one resample's design row indices; its result travels back.
    n_rows : int
        Number of design rows resampled.
    seeds : sequence of int
        One seed per resample (:func:`resample_seeds`).
    block : int
        Rows per bootstrap block (:func:`block_bootstrap_rows`).
    scheduler : str, optional
        An existing cluster's address or scheduler file (see :func:`faultgraph.parallel.run_tasks`).
    n_workers : int, optional
        Local cluster size; ``0``: in this process, without dask.
    client : distributed.Client, optional
        An open client to use.
    progress : callable, optional
        Called as ``progress(done, total)`` after each task (a task holds several resamples).

    Returns
    -------
    list
        ``fit``'s results, in the order of ``seeds``.

    Raises
    ------
    InvalidInputError
        When a task fails (its error text is given: a bad ``block`` shows here), or
        ``n_workers`` is not an integer >= 0.
    """
    from faultgraph.parallel import run_tasks

    seeds = [int(s) for s in seeds]
    size = max(1, math.ceil(len(seeds) / TASKS_PER_RUN))
    chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
    results = run_tasks(partial(_run_chunk, fit, n_rows, block), chunks, scheduler=scheduler,
                        n_workers=n_workers, client=client, progress=progress)
    failed = [r for r in results if not r.ok]
    if failed:
        raise InvalidInputError(f"{len(failed)} of {len(results)} ensemble tasks failed; first: {failed[0].error}")
    return [v for r in results for v in r.value]


@dataclass(frozen=True)
class GraphEnsemble:
    """``B`` graphs learned on resamples of the rows.

    ``graphs``: ``(B, d, d)`` same-step weights; ``lagged``: ``(B, p, d, d)`` or ``None``;
    ``time_order``: the past-only weights that oriented each graph by time, or ``None``;
    ``seeds`` and ``block`` regenerate each resample's rows
    (:func:`block_bootstrap_rows` on ``n_rows`` design rows).
    """

    nodes: tuple[str, ...]
    graphs: np.ndarray = field(repr=False)
    lagged: np.ndarray | None = field(default=None, repr=False)
    seeds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    block: int = 1
    n_rows: int = 0
    time_order: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_graphs(self) -> int:
        return int(self.graphs.shape[0])

    @property
    def confidence(self) -> np.ndarray:
        """``(d, d)``: the share of graphs holding ``i → j`` (same step)."""
        return edge_confidence(self.graphs)[0]

    @property
    def reversed(self) -> np.ndarray:
        """``(d, d)``: the share of graphs holding ``j → i`` (the opposite direction)."""
        return edge_confidence(self.graphs)[1]

    def rows(self, b: int) -> np.ndarray:
        """The design rows of resample ``b``.

        Parameters
        ----------
        b : int
            Index of the resample, in ``[0, n_graphs)``.

        Returns
        -------
        numpy.ndarray
            ``(n_rows,)`` row indices, regenerated from the resample's seed.
        """
        return block_bootstrap_rows(self.n_rows, self.block, np.random.default_rng(int(self.seeds[b])))

    def edge_table(self, adjacency: np.ndarray | None = None) -> list[dict[str, Any]]:
        """One entry per edge of ``adjacency``: ``source``, ``target``, ``confidence``,
        ``reversed``; highest confidence first.

        Parameters
        ----------
        adjacency : numpy.ndarray, optional
            ``(d, d)`` graph whose edges are listed (nonzero: an edge); default: every edge held
            by some graph of the ensemble.

        Returns
        -------
        list of dict
        """
        conf, rev = self.confidence, self.reversed
        A = (conf > 0) if adjacency is None else (np.asarray(adjacency) != 0)
        out = [{"source": self.nodes[i], "target": self.nodes[j], "confidence": float(conf[i, j]),
                "reversed": float(rev[i, j])} for i, j in zip(*np.nonzero(A))]
        return sorted(out, key=lambda e: -e["confidence"])

    def to_arrays(self, prefix: str = "ensemble") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-ready metadata and named arrays for a model folder (see :meth:`from_arrays`).

        Parameters
        ----------
        prefix : str, default "ensemble"
            Prefix of the array names (``"<prefix>/graphs"``, ``"<prefix>/seeds"`` and, when
            present, ``"<prefix>/lagged"`` and ``"<prefix>/time_order"``).

        Returns
        -------
        tuple of (dict, dict of str to numpy.ndarray)
            ``meta`` (``nodes``, ``block``, ``n_rows``, ``n_graphs``) and the arrays.
        """
        meta = {"nodes": list(self.nodes), "block": int(self.block), "n_rows": int(self.n_rows),
                "n_graphs": self.n_graphs}
        arrays = {f"{prefix}/graphs": self.graphs, f"{prefix}/seeds": np.asarray(self.seeds, dtype=np.int64)}
        if self.lagged is not None:
            arrays[f"{prefix}/lagged"] = self.lagged
        if self.time_order is not None:
            arrays[f"{prefix}/time_order"] = self.time_order
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "ensemble"
                    ) -> GraphEnsemble:
        """The ensemble :meth:`to_arrays` wrote.

        Parameters
        ----------
        meta : dict
            The metadata of :meth:`to_arrays`.
        arrays : dict of str to numpy.ndarray
            The named arrays of :meth:`to_arrays`.
        prefix : str, default "ensemble"
            The prefix they were written with.

        Returns
        -------
        GraphEnsemble
        """
        return cls(tuple(str(n) for n in meta["nodes"]), arrays[f"{prefix}/graphs"],
                   arrays.get(f"{prefix}/lagged"), arrays[f"{prefix}/seeds"], int(meta["block"]),
                   int(meta["n_rows"]), arrays.get(f"{prefix}/time_order"))


def check_block(block: Any, rows: int) -> int:
    """``block`` as a block length for ``rows`` design rows: an integer from 1 to ``rows − 1``.

    Parameters
    ----------
    block : int
        Rows per bootstrap block.
    rows : int
        Rows resampled.

    Returns
    -------
    int

    Raises
    ------
    InvalidInputError
        When ``block`` is no integer >= 1, or not shorter than the data (a block as long as
        the data resamples nothing: every graph would be the same).
    """
    block = check_whole("block", block, 1, "rows per bootstrap block")
    if block >= rows:
        raise InvalidInputError(f"block must be shorter than the data's {rows} rows, got {block}: a block as long "
                                f"as the data resamples nothing (every graph would be the same)")
    return block


#: The most graphs an ensemble may hold: its shares and quantiles are as fine as 1/10,000
#: already, and each graph is a fit.
MAX_GRAPHS = 10_000


def check_bootstrap(n_graphs: Any, name: str = "bootstrap", ensemble: bool = False) -> int:
    """``n_graphs`` as an int >= 0 (0: no ensemble); 1 is refused (no spread from one graph).

    Parameters
    ----------
    n_graphs : int
        Number of graphs in the ensemble.
    name : str, default "bootstrap"
        The argument's name used in the error message.
    ensemble : bool, default False
        An ensemble is asked for: 0 is refused too, and the message offers 2 to
        :data:`MAX_GRAPHS` alone.

    Returns
    -------
    int

    Raises
    ------
    InvalidInputError
        When ``n_graphs`` is not an integer, is negative, is 1, or exceeds
        :data:`MAX_GRAPHS`.
    """
    if (isinstance(n_graphs, bool) or not isinstance(n_graphs, (int, np.integer)) or n_graphs < 0 or n_graphs == 1
            or n_graphs > MAX_GRAPHS or (ensemble and n_graphs == 0)):
        allowed = ("" if ensemble else "0 (one graph) or ") + f"an integer from 2 to {MAX_GRAPHS}"
        raise InvalidInputError(f"{name} must be {allowed} (graphs in the ensemble), got {n_graphs!r}")
    return int(n_graphs)


def learn_graph_ensemble(
    X: Any,
    n_graphs: int = 100,
    *,
    method: str = "dagma",
    lambda1: float | None = None,
    threshold: float = 0.3,
    standardize: bool = True,
    prior: Any = None,
    lags: int = 0,
    refine: bool | None = None,
    block: int | None = None,
    random_state: int | None = 0,
    scheduler: str | None = None,
    n_workers: int | None = None,
    client: Any = None,
    progress: Callable[[int, int], None] | None = None,
    time_first: bool = False,
    screen: bool = False,
) -> GraphEnsemble:
    """Learn the graph of ``X`` (rows in time order, metrics as columns) on ``n_graphs``
    block-bootstrap resamples, with :class:`~faultgraph.StructureLearner`'s options.

    Parameters
    ----------
    X : array-like or pandas.DataFrame
        ``(n, d)`` data, rows in time order; at least ``lags + 3`` rows.
    n_graphs : int, default 100
        Number of resamples (graphs), >= 2.
    method : str, default "dagma"
        The solver, one of the learner's methods (``"dagma"``, ``"notears"``).
    lambda1 : float, optional
        L1 penalty; default the method's ``DEFAULT_LAMBDA1``.
    threshold : float, default 0.3
        Weights below this in absolute value are dropped.
    standardize : bool, default True
        Learn from correlations instead of covariances.
    prior : PriorKnowledge or its dict form, optional
        Allowed, forbidden and required edges (masks over the design).
    lags : int, default 0
        Past steps in the design, >= 0.
    refine : bool, optional
        Refine the thresholded graph (without lags only); default: when not
        ``standardize``.
    block : int, optional
        Rows per bootstrap block (default :func:`default_block` of the design's rows; 1:
        i.i.d. rows).
    random_state : int or None, default 0
        Seed of the resamples' seeds.
    scheduler, n_workers, client : optional
        Where the resamples run (:func:`run_resamples`; ``n_workers=0``: in this process).
    progress : callable, optional
        Called as ``progress(done, total)`` after each task.
    time_first : bool, default False
        With lags, time orients the same-step edges first (:func:`learn_with_time_order`);
        off by default, as in :class:`~faultgraph.StructureLearner`.
    screen : bool, default False
        Learn each graph by screening (:func:`~faultgraph.discovery.screen.screened_linear`),
        as ``StructureLearner(screen=True)``: a model whose own graph was screened gets an
        ensemble learned the same way (``method`` and ``lambda1`` are then unused).

    Returns
    -------
    GraphEnsemble
        The ``n_graphs`` graphs, their lagged weights (with lags), seeds, block and number
        of design rows (``time_order`` is not kept).

    Raises
    ------
    InvalidInputError
        When ``n_graphs`` is not an integer >= 2, ``method`` is unknown, ``lags`` is not an
        integer >= 0, ``X`` is refused by :func:`~faultgraph._validation.check_matrix`
        (fewer than ``lags + 3`` rows, NaN, constant columns, ...), ``prior`` is invalid,
        or a resample fails (a bad ``block`` among the causes).
    """
    from faultgraph._validation import check_lag_rows, check_matrix
    from faultgraph.discovery.learner import DEFAULT_LAMBDA1, METHODS, lagged_design
    from faultgraph.discovery.prior import PriorKnowledge

    n_graphs = check_bootstrap(n_graphs, "n_graphs", ensemble=True)
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    check_whole("lags", lags, 0)
    data, names = check_matrix(X, name="data", min_rows=3)
    check_lag_rows(data.shape[0], int(lags))
    d, p = len(names), int(lags)
    pk = PriorKnowledge.coerce(prior) or PriorKnowledge()
    allowed, required = pk.masks(names)
    if p:
        allowed = np.vstack([allowed] + [pk.lagged_mask(names)] * p)
        required = np.vstack([required] + [np.zeros((d, d), dtype=bool)] * p)
    spec = GraphSpec(n_vars=d, lags=p, method=str(method),
                     lambda1=float(DEFAULT_LAMBDA1[str(method)] if lambda1 is None else lambda1),
                     threshold=float(threshold), standardize=bool(standardize),
                     refine=(not standardize) if refine is None else bool(refine), time_first=bool(time_first),
                     screen=flag()("screen", screen), allowed=allowed, required=required)
    Z = lagged_design(data, p)
    block = default_block(len(Z)) if block is None else check_block(block, len(Z))
    seeds = resample_seeds(n_graphs, random_state)
    fitted = run_resamples(partial(_fit_rows, spec, Z), len(Z), seeds, block, scheduler=scheduler,
                           n_workers=n_workers, client=client, progress=progress)
    graphs = np.stack([W for W, _ in fitted])
    lagged = np.stack([L for _, L in fitted]) if p else None
    return GraphEnsemble(tuple(names), graphs, lagged, seeds, int(block), len(Z))
