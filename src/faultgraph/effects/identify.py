"""Which directions of a learned graph are known, and effects that say so (IDA bounds).

A linear-Gaussian DAG learned from standardised data is known only up to its Markov
equivalence class: every DAG with the same skeleton and the same v-structures fits the
data equally well, so most edge directions are arbitrary choices of the optimiser. This
module says which directions are *oriented* and why, and what the effects are over all
the orientations the class still allows:

* **time**: a pair of metrics linked across steps in one direction only
  (``x(t − l) → y(t)``, never ``y(t − l) → x(t)``): the same-step link goes ``x → y``
  (in :func:`identified_scores`, links by Wald tests of the unpenalised autoregression,
  :func:`granger_order`, unless ``time_marks="fit"``);
* **prior**: the prior allows one direction only (tiers, sinks such as a fault label,
  sources, forbidden or required edges);
* **v-structure**: ``a → c ← b`` with ``a`` and ``b`` not adjacent, which every member of
  the equivalence class shares (Verma and Pearl 1990). Given the data's covariance, the
  v-structures are read off the learned *skeleton* and the data, not off the learner's
  directions: an unshielded triple ``a – c – b`` is a collider where ``a`` and ``b`` are
  marginally independent (Fisher's z test at 1 %: the empty set separates them and ``c``
  is no part of it, the PC algorithm's rule), unless the prior or time already turned an
  arm out of ``c`` (a sink label is no parent: its weak correlation with a metric made
  such colliders on planted systems, orienting a symptom into a cause). On standardised
  data the learner's own v-structures are often artefacts (a symptom turned cause);
* **implied**: forced by the others through Meek's rules R1–R3 (Meek 1995), so that no
  new v-structure or cycle appears.

Everything else is *not identified* (undirected in the partially directed graph).

Effects follow IDA (Maathuis, Kalisch and Bühlmann 2009, "Estimating high-dimensional
intervention effects from observational data", local version): for each parent set of
``x`` that the class admits (its oriented parents plus any subset of its undirected
neighbours that forms a clique and adds no v-structure), the total effect of ``x`` on
``y`` is the coefficient of ``x`` in the least-squares regression of ``y`` on ``x`` and
that set (0 when ``y`` is in it). One admissible set: the effect is identified; several:
it is known only to lie in the set of their values. The regressions are computed for
every node, as published (they need only the graph around ``x``); where a graph has no
possibly directed path ``x ⇝ y``, 0 joins them (:func:`graph_effects`): the skeleton's
claim of no effect and the data's estimate, which is right where a learned edge is
missing. For a 0/1 target the regression is
a linear probability model: with Gaussian metrics its coefficient is the average
change of the probability per unit of ``x`` (Stein's lemma).

Sets of variables that cannot be descendants of ``x`` (the past in a lagged design, the
metrics in earlier tiers of the prior, the metrics whose past predicts ``x``'s present
one way only) may be added to every adjustment set: a superset of the parents made of
non-descendants still blocks every back-door path. Where such a set holds every possible
parent of ``x`` (a full causal order as tiers), it is a valid adjustment set by itself,
and the effect is identified from the order and the data alone, whatever edges the
learner missed (:func:`order_adjustment`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from statistics import NormalDist
from typing import Any

import numpy as np

from faultgraph._graph import is_dag
from faultgraph._validation import check_choice, describe_names
from faultgraph.errors import InvalidInputError

__all__ = [
    "EdgeMark",
    "Orientation",
    "Resample",
    "evidence_rank",
    "identified_scores",
    "adjustment_effect",
    "admissible_parent_sets",
    "graph_effects",
    "granger_order",
    "causal_nodes",
    "optimal_adjustment",
    "path_effect",
    "order_adjustment",
    "ida_effects",
    "meek_rules",
    "orient_graph",
    "ordered_graph",
    "possibly_reaches",
    "reachable",
    "robust_se",
    "select_parents",
    "surely_reaches",
    "time_links",
    "weighted_covariance",
]

#: How an edge got its direction (``EdgeMark.by``).
BY_TIME, BY_PRIOR, BY_V_STRUCTURE, BY_RULE, NOT_IDENTIFIED = "time", "prior", "v-structure", "implied", "not identified"
#: Two-sided 1 % point of the normal distribution: Fisher's z test of a v-structure's parents.
Z_01 = 2.5758293035489004
#: Above this many undirected neighbours, only their subsets of at most this size are tried.
MAX_SIBLINGS = 12
#: The earlier tiers adjust alone (:func:`order_adjustment`) while they are at most this
#: share of the rows (ten rows per regressor).
MAX_ADJUST_SHARE = 0.1
#: A metric whose variance left, given the metrics its effect holds fixed, is below this share
#: of its own is a copy of them (rounding is all that separates them): its effect is not
#: identified.
INSEPARABLE = 1e-8
_REASONS = (BY_PRIOR, BY_TIME, BY_V_STRUCTURE, BY_RULE)
#: On a bootstrap resample a coefficient lies about one standard error from the full
#: data's, which lies about one from the truth: a test of 0 there sees √2 standard errors
#: of noise, so the parents of each resample's :func:`ordered_graph` are chosen at √2
#: times the threshold (at the plain one, non-parents enter the resamples' graphs far more
#: often than the test's 1 % and widen the intervals: ``tests/test_cli.py``'s four-metric
#: chain, where the optimal set's interval must be narrower than the earlier tiers').
RESAMPLE_Z = float(np.sqrt(2.0))


@dataclass(frozen=True)
class EdgeMark:
    """One same-step edge of the learned graph: ``source → target`` as learned, whether
    that direction is ``oriented`` and ``by`` what (``time``, ``prior``, ``v-structure``,
    ``implied`` or ``not identified``)."""

    source: str
    target: str
    oriented: bool
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "oriented": self.oriented, "by": self.by}


@dataclass(frozen=True)
class Orientation:
    """A partially directed graph over ``nodes``: ``directed[i, j]`` is the oriented edge
    ``i → j``; ``undirected`` (symmetric) the links whose direction is not identified;
    ``reason[i, j]`` (an index into ``("prior", "time", "v-structure", "implied")``, −1
    elsewhere) why ``i → j`` is oriented; ``learned`` the DAG it came from."""

    nodes: tuple[str, ...]
    directed: np.ndarray = field(repr=False)
    undirected: np.ndarray = field(repr=False)
    reason: np.ndarray = field(repr=False)
    learned: np.ndarray = field(repr=False)

    @property
    def adjacent(self) -> np.ndarray:
        """``(d, d)`` symmetric: the skeleton."""
        return self.directed | self.directed.T | self.undirected

    def parents(self, j: int) -> list[int]:
        """The oriented parents of node ``j``.

        Parameters
        ----------
        j : int
            Index of the node.

        Returns
        -------
        list of int
            Indices ``i`` with the oriented edge ``i → j``.
        """
        return [int(i) for i in np.flatnonzero(self.directed[:, j])]

    def siblings(self, j: int) -> list[int]:
        """The undirected neighbours of node ``j``.

        Parameters
        ----------
        j : int
            Index of the node.

        Returns
        -------
        list of int
            Indices ``i`` with the undirected link ``i – j``.
        """
        return [int(i) for i in np.flatnonzero(self.undirected[:, j])]

    def marks(self) -> tuple[EdgeMark, ...]:
        """Every edge of the learned DAG, in its learned direction, with its mark."""
        out = []
        for i, j in zip(*np.nonzero(self.learned)):
            if self.directed[i, j]:
                out.append(EdgeMark(self.nodes[i], self.nodes[j], True, _REASONS[self.reason[i, j]]))
            elif self.directed[j, i]:  # knowledge turned the learned direction round
                out.append(EdgeMark(self.nodes[j], self.nodes[i], True, _REASONS[self.reason[j, i]]))
            else:
                out.append(EdgeMark(self.nodes[i], self.nodes[j], False, NOT_IDENTIFIED))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        marks = self.marks()
        return {"edges": [m.to_dict() for m in marks], "oriented": sum(m.oriented for m in marks),
                "not_identified": sum(not m.oriented for m in marks)}


def _orient(directed: np.ndarray, undirected: np.ndarray, reason: np.ndarray, i: int, j: int, why: int) -> bool:
    """Orient the undirected link ``i – j`` as ``i → j``; False when it is not undirected."""
    if not undirected[i, j]:
        return False
    undirected[i, j] = undirected[j, i] = False
    directed[i, j] = True
    reason[i, j] = why
    return True


def meek_rules(directed: np.ndarray, undirected: np.ndarray, reason: np.ndarray,
               separated: Any = None) -> None:
    """Close a partially directed graph under Meek's rules R1–R3, in place (Meek 1995).

    * R1: ``a → b – c``, ``a`` and ``c`` not adjacent: ``b → c`` (no new v-structure);
      with ``separated`` (a function ``(a, c, b) -> bool``), only where the data find
      ``a`` and ``c`` independent given ``b`` – otherwise the learned skeleton probably
      misses a link between them and the triple is no evidence;
    * R2: ``a → b → c`` and ``a – c``: ``a → c`` (no cycle);
    * R3: ``a – b``, ``a – c → b``, ``a – e → b``, ``c`` and ``e`` not adjacent: ``a → b``.

    The rules are applied until none orients another link.

    Parameters
    ----------
    directed : numpy.ndarray
        ``(d, d)`` boolean, ``[i, j]`` the oriented edge ``i → j``; updated in place.
    undirected : numpy.ndarray
        ``(d, d)`` symmetric boolean, the links not oriented yet; updated in place.
    reason : numpy.ndarray
        ``(d, d)`` int, why each edge is oriented; a link the rules orient gets the index
        of ``"implied"``.
    separated : callable, optional
        ``separated(a, c, b) -> bool``: whether ``a`` and ``c`` are independent given
        ``b``; ``None``: R1 applies without that test.

    Returns
    -------
    None
    """
    why = _REASONS.index(BY_RULE)
    changed = True
    while changed:
        changed = False
        adj = directed | directed.T | undirected
        for b, c in zip(*np.nonzero(np.triu(undirected))):
            for x, y in ((b, c), (c, b)):
                if not undirected[x, y]:
                    continue
                # R1: some a -> x with a not adjacent to y (and, with data, separated from y by x)
                r1 = np.flatnonzero(directed[:, x] & ~adj[:, y] & (np.arange(len(adj)) != y))
                if any(separated is None or separated(a, y, x) for a in r1):
                    changed |= _orient(directed, undirected, reason, x, y, why)
                    continue
                # R2: x -> k -> y
                if np.any(directed[x] & directed[:, y]):
                    changed |= _orient(directed, undirected, reason, x, y, why)
                    continue
                # R3: x - k1 -> y, x - k2 -> y, k1 and k2 not adjacent
                ks = np.flatnonzero(undirected[x] & directed[:, y])
                if any(not adj[k1, k2] for k1, k2 in combinations(ks, 2)):
                    changed |= _orient(directed, undirected, reason, x, y, why)


def orient_graph(adjacency: np.ndarray, nodes: Sequence[str], *, allowed: np.ndarray | None = None,
                 lagged: np.ndarray | None = None, v_structures: bool = True,
                 covariance: np.ndarray | None = None, n_samples: int | None = None,
                 support: np.ndarray | None = None, min_support: float = 0.5) -> Orientation:
    """Mark which directions of the learned DAG ``adjacency`` are oriented, and how.

    The orientations are applied in that order (prior, time, v-structures), an edge
    keeping the first it gets, then closed under :func:`meek_rules`.

    Parameters
    ----------
    adjacency : numpy.ndarray
        ``(d, d)`` same-step DAG, ``[i, j] != 0`` the edge ``i → j`` (the diagonal is
        ignored).
    nodes : sequence of str
        The ``d`` names.
    allowed : numpy.ndarray, optional
        ``(d, d)`` boolean mask of the directions the prior allows
        (:meth:`faultgraph.PriorKnowledge.masks`); a link allowed one way only is oriented
        by the prior.
    lagged : numpy.ndarray, optional
        ``(p, d, d)`` lagged weights (``[l, i, j]``: ``x_i(t − l − 1) → x_j(t)``); a linked
        pair joined across steps in one direction only is oriented by time.
    v_structures : bool, default True
        Orient v-structures (the data's own evidence of direction).
    covariance, n_samples : numpy.ndarray and int, optional
        The data's ``(d, d)`` covariance (or more columns, the first ``d`` being the nodes)
        and its number of rows: the v-structures are then the unshielded triples
        ``a – c – b`` of the skeleton with ``a`` and ``b`` marginally independent (Fisher's
        z, 1 %), and Meek's R1 needs ``a`` and ``c`` independent given ``b``; without them,
        the learned DAG's v-structures and plain R1.
    support : numpy.ndarray, optional
        ``(d, d)``: the share of an ensemble's graphs holding each edge ``i → j``
        (:attr:`faultgraph.discovery.ensemble.GraphEnsemble.confidence`); a v-structure
        ``a → c ← b`` is then oriented only where both arms are held by at least
        ``min_support`` of the graphs (one graph's skeleton may be wrong).
    min_support : float, default 0.5
        See ``support``.

    Returns
    -------
    Orientation
        The partially directed graph, why each edge is oriented, and ``adjacency`` as
        ``learned``.

    Raises
    ------
    InvalidInputError
        When ``adjacency`` is not ``(d, d)`` for the ``d`` names in ``nodes``.
    """
    A = np.asarray(adjacency) != 0
    d = A.shape[0]
    if A.shape != (d, d) or len(nodes) != d:
        raise InvalidInputError(f"adjacency must be ({len(nodes)}, {len(nodes)}) for {len(nodes)} nodes, "
                                f"got shape {A.shape}")
    np.fill_diagonal(A, False)
    undirected = A | A.T
    directed = np.zeros((d, d), dtype=bool)
    reason = np.full((d, d), -1, dtype=int)
    if allowed is not None:
        ok = np.asarray(allowed, dtype=bool)
        for i, j in zip(*np.nonzero(np.triu(undirected))):
            if ok[i, j] and not ok[j, i]:
                _orient(directed, undirected, reason, i, j, 0)
            elif ok[j, i] and not ok[i, j]:
                _orient(directed, undirected, reason, j, i, 0)
    if lagged is not None and np.size(lagged):
        L = (np.abs(np.asarray(lagged)) > 0).any(axis=0)
        np.fill_diagonal(L, False)
        for i, j in zip(*np.nonzero(np.triu(undirected))):
            if L[i, j] and not L[j, i]:
                _orient(directed, undirected, reason, i, j, 1)
            elif L[j, i] and not L[i, j]:
                _orient(directed, undirected, reason, j, i, 1)
    if v_structures:
        independent = None
        if covariance is not None and n_samples is not None and n_samples > 3:
            C = np.asarray(covariance)[:d, :d]
            sd = np.sqrt(np.clip(np.diag(C), 1e-300, None))
            r = np.clip(C / np.outer(sd, sd), -0.999999, 0.999999)
            independent = np.abs(np.arctanh(r)) * np.sqrt(n_samples - 3) < Z_01
        skeleton = A | A.T
        for c in range(d):
            parents = np.flatnonzero(A[:, c] if independent is None else skeleton[:, c])
            for a, b in combinations(parents, 2):
                # a collider needs both arms into c: an arm the prior or time already turned
                # out of c (c → a) refutes it (e.g. a fault label weakly correlated with a
                # metric: a sink cannot be a parent), and it orients nothing
                held = support is None or (support[a, c] >= min_support and support[b, c] >= min_support)
                if (not skeleton[a, b] and (independent is None or independent[a, b])
                        and not directed[c, a] and not directed[c, b] and held):
                    _orient(directed, undirected, reason, a, c, 2)
                    _orient(directed, undirected, reason, b, c, 2)
    separated = None
    if covariance is not None and n_samples is not None and n_samples > 4:
        C = np.asarray(covariance)[:d, :d]
        sd = np.sqrt(np.clip(np.diag(C), 1e-300, None))
        R = C / np.outer(sd, sd)

        def separated(a: int, c: int, b: int) -> bool:
            """Fisher's z test (1 %) of the partial correlation of a and c given b."""
            den = np.sqrt(max((1 - R[a, b] ** 2) * (1 - R[c, b] ** 2), 1e-300))
            r = float(np.clip((R[a, c] - R[a, b] * R[c, b]) / den, -0.999999, 0.999999))
            return abs(np.arctanh(r)) * np.sqrt(n_samples - 4) < Z_01

    meek_rules(directed, undirected, reason, separated)
    return Orientation(tuple(str(n) for n in nodes), directed, undirected, reason, A)


def possibly_reaches(orientation: Orientation, x: int, y: int) -> bool:
    """Whether some orientation the graph allows has a directed path ``x ⇝ y`` (a path of
    edges each oriented forward or undirected).

    Parameters
    ----------
    orientation : Orientation
        The partially directed graph.
    x : int
        Index of the start node.
    y : int
        Index of the end node.

    Returns
    -------
    bool
    """
    return _reaches(orientation.directed | orientation.undirected, x, y)


def admissible_parent_sets(orientation: Orientation, x: int) -> list[tuple[int, ...]]:
    """The parent sets of ``x`` the partially directed graph admits (local IDA).

    Its oriented parents plus each subset of its undirected neighbours that is a clique and
    is adjacent to every oriented parent (no new v-structure at ``x``). Above
    :data:`MAX_SIBLINGS` neighbours only subsets of at most that size are tried.

    Parameters
    ----------
    orientation : Orientation
        The partially directed graph.
    x : int
        Index of the node.

    Returns
    -------
    list of tuple of int
        Each admissible parent set (oriented parents first), the oriented parents alone
        first of all.
    """
    pa, sib = orientation.parents(x), orientation.siblings(x)
    adj = orientation.adjacent
    out = []
    for r in range(min(len(sib), MAX_SIBLINGS) + 1):
        for S in combinations(sib, r):
            if all(adj[a, b] for a, b in combinations(S, 2)) and all(adj[s, p] for s in S for p in pa):
                out.append(tuple(pa) + S)
    return out


def weighted_covariance(D: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``(k, k)`` covariance of the columns of ``D`` with row ``weights``.

    Normalised by the total weight (by ``n`` without weights), not ``n − 1``.

    Parameters
    ----------
    D : numpy.ndarray
        ``(n, k)`` data.
    weights : numpy.ndarray, optional
        ``(n,)`` row weights (bootstrap counts); ``None``: every row once.

    Returns
    -------
    numpy.ndarray
        ``(k, k)`` covariance.
    """
    if weights is None:
        Dc = D - D.mean(axis=0)
        return Dc.T @ Dc / len(D)
    w = np.asarray(weights, dtype=float)
    total = w.sum()
    mean = w @ D / total
    return (D * w[:, None]).T @ D / total - np.outer(mean, mean)


def adjustment_effect(C: np.ndarray, x: int, y: int, adjust: Sequence[int]) -> float:
    """The coefficient of ``x`` in the least-squares regression of ``y`` on ``x`` and
    ``adjust``, from the covariance ``C``; 0 when ``y`` is in ``adjust``.

    A ridge of ``1e-10`` times the mean variance of the regressors keeps a singular
    covariance solvable.

    Parameters
    ----------
    C : numpy.ndarray
        ``(k, k)`` covariance of the columns.
    x : int
        Column of the treatment.
    y : int
        Column of the outcome.
    adjust : sequence of int
        Columns adjusted for (repeats and ``x`` itself are dropped).

    Returns
    -------
    float
    """
    if y in adjust:
        return 0.0
    idx = _regressors(x, adjust)
    M = C[np.ix_(idx, idx)]
    M = M + 1e-10 * max(float(np.trace(M)) / len(idx), 1e-300) * np.eye(len(idx))
    return float(np.linalg.lstsq(M, C[idx, y], rcond=None)[0][0])


def path_effect(C: np.ndarray, directed: np.ndarray, x: int, y: int,
                past: dict[int, Sequence[int]] | None = None) -> float | None:
    """The total effect of ``x`` on ``y`` in a linear DAG as the sum over its directed paths
    of the products of their edge coefficients (Wright's path rule), each causal node's
    coefficients read from the least-squares regression on its parents in the DAG.

    With the DAG right and Gaussian errors these regressions are the maximum-likelihood
    fit of the structural equations, and the effect read from them is asymptotically
    efficient: its asymptotic variance is never above that of any covariate adjustment, the
    optimal set's (:func:`optimal_adjustment`) included (Guo and Perković 2022, "Efficient
    least squares for estimating total effects under linearity and causal sufficiency",
    JMLR). Only the equations of the causal
    nodes (on a directed path ``x → … → y`` after ``x``, ``y`` included) are fitted. A
    ridge of ``1e-10`` times the mean variance of a node's parents keeps a singular
    covariance solvable.

    Parameters
    ----------
    C : numpy.ndarray
        ``(k, k)`` covariance of the design's columns: the ``d`` nodes first, then any past
        columns.
    directed : numpy.ndarray
        ``(d, d)`` boolean DAG over the nodes, ``[i, j]`` the edge ``i → j``.
    x : int
        Index of the treatment.
    y : int
        Index of the outcome.
    past : dict of int to sequence of int, optional
        Each node's parents among the past columns (index ``>= d``): they join its
        regression (the past is no descendant of the present, so no path runs through it).

    Returns
    -------
    float or None
        The effect; None when the DAG has no directed path ``x → … → y``.
    """
    G = np.asarray(directed, dtype=bool)
    causal = causal_nodes(G, x, y)
    if causal is None:
        return None
    d = len(G)
    B = np.zeros((d, d))
    for j in sorted(causal):
        same = [int(k) for k in np.flatnonzero(G[:, j])]
        parents = same + [int(k) for k in (past or {}).get(j, ()) if int(k) >= d]
        M = C[np.ix_(parents, parents)]
        M = M + 1e-10 * max(float(np.trace(M)) / len(parents), 1e-300) * np.eye(len(parents))
        B[same, j] = np.linalg.lstsq(M, C[parents, j], rcond=None)[0][:len(same)]
    # only edges into causal nodes are kept: the paths from x to y are all in B
    return float(np.linalg.solve(np.eye(d) - B, np.eye(d)[y])[x])


def _regressors(x: int, adjust: Sequence[int]) -> list[int]:
    """``x`` first, then ``adjust`` without repeats or ``x``: the columns of a regression on ``x``."""
    return [x, *[a for a in dict.fromkeys(adjust) if a != x]]


def robust_se(D: np.ndarray, x: int, y: int, adjust: Sequence[int]) -> float:
    """The heteroskedasticity-robust (HC3, MacKinnon and White 1985) standard error of the
    coefficient of ``x`` in the least-squares regression of ``y`` on ``x``, ``adjust`` and
    an intercept, from the rows of ``D``; 0 when ``y`` is in ``adjust`` (the effect is then 0).

    HC3 weighs each squared residual by ``1 / (1 − h)²`` (``h``: the row's leverage), so that
    the few rows that carry most of ``x``'s variation left given ``adjust`` count fully.

    Parameters
    ----------
    D : numpy.ndarray
        ``(n, k)`` rows of the design.
    x, y : int
        Columns of the treatment and the outcome.
    adjust : sequence of int
        Columns adjusted for (repeats and ``x`` itself are dropped).

    Returns
    -------
    float
    """
    if y in adjust:
        return 0.0
    idx = _regressors(x, adjust)
    X = np.column_stack([np.ones(len(D)), D[:, idx]])
    inv = np.linalg.pinv(X.T @ X)
    r = D[:, y] - X @ (inv @ (X.T @ D[:, y]))
    h = np.clip(np.einsum("ij,jk,ik->i", X, inv, X), 0.0, 1.0 - 1e-12)
    row = inv[1] @ X.T  # the coefficient of x as a weighted sum of the rows' outcomes
    return float(np.sqrt(np.sum(row**2 * (r / (1.0 - h)) ** 2)))


def ida_effects(C: np.ndarray, orientation: Orientation, x: int, y: int, extra: Sequence[int] = (),
                require_path: bool = True) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """The total effects of ``x`` on ``y`` over the admissible parent sets of ``x``
    (:func:`admissible_parent_sets`), each adjusted also for ``extra``.

    With ``require_path``, a node with no possibly directed path to ``y`` has the single
    effect 0 (and no set); without, every node gets its regressions (local IDA as
    published: it needs only the graph around ``x``). A set holding ``y`` gives 0.

    Parameters
    ----------
    C : numpy.ndarray
        Covariance of the columns: the ``d`` nodes first, then any others ``extra`` names.
    orientation : Orientation
        The partially directed graph over the ``d`` nodes.
    x : int
        Index of the treatment.
    y : int
        Index of the outcome.
    extra : sequence of int, default ()
        Columns of ``C`` that cannot be descendants of ``x`` (its past, earlier tiers).
    require_path : bool, default True
        Give 0 without regressions where the graph has no possibly directed path.

    Returns
    -------
    tuple of (numpy.ndarray, list of tuple of int)
        The effects and the parent sets they were adjusted for.
    """
    if require_path and not possibly_reaches(orientation, x, y):
        return np.zeros(1), []
    sets = admissible_parent_sets(orientation, x)
    return np.array([adjustment_effect(C, x, y, (*P, *extra)) if y not in P else 0.0 for P in sets]), sets


def graph_effects(C: np.ndarray, orientation: Orientation, x: int, y: int, extra: Sequence[int] = (),
                  zero_unless: str = "oriented") -> tuple[np.ndarray, bool]:
    """The values one graph allows for the total effect of ``x`` on ``y``: the local IDA
    regressions over the admissible parent sets (:func:`ida_effects` without
    ``require_path``) and, unless a path of oriented edges leads ``x → … → y``
    (:func:`surely_reaches`), also 0.

    Some orientation the graph allows then has no directed path, and its effect is 0: the
    graph's claim. A missed edge makes it wrong (planted systems: the true effect was then
    exactly 0 in the bounds); the regression on a valid adjustment set estimates the effect
    whatever edges downstream of ``x`` were missed, and estimates 0 where the graph is
    right. Both are kept, so the bounds hold 0 and the data's value. Where the graph
    misses a parent of ``x`` no regression is valid and they can all be far from 0; the
    0 keeps the truth in the bounds where ``x`` has no effect at all (planted systems
    without a prior: 17 of 151 metrics without a path had bounds excluding 0 when 0 joined
    only where no orientation had a path, 5 with this rule).

    Parameters
    ----------
    C : numpy.ndarray
        Covariance of the columns: the ``d`` nodes first, then any others ``extra`` names.
    orientation : Orientation
        The partially directed graph over the ``d`` nodes.
    x : int
        Index of the treatment.
    y : int
        Index of the outcome.
    extra : sequence of int, default ()
        Columns of ``C`` that cannot be descendants of ``x``.
    zero_unless : {"oriented", "possible"}, default "oriented"
        0 joins unless a path of oriented edges reaches ``y`` (``"oriented"``), or only
        where no orientation has a path (``"possible"``, the rule before).

    Returns
    -------
    tuple of (numpy.ndarray, bool)
        The values (the regressions first, then 0 where a path is not sure) and whether the
        graph has a possibly directed path ``x ⇝ y``.

    Raises
    ------
    InvalidInputError
        When ``zero_unless`` is not one of its choices.
    """
    check_choice("zero_unless", zero_unless, ("oriented", "possible"))
    values, _ = ida_effects(C, orientation, x, y, extra, require_path=False)
    reach = possibly_reaches(orientation, x, y)
    keep = reach and (zero_unless == "possible" or surely_reaches(orientation, x, y))
    return (values if keep else np.append(values, 0.0)), reach


def surely_reaches(orientation: Orientation, x: int, y: int) -> bool:
    """Whether the graph has a directed path ``x → … → y`` of oriented edges only, which
    every orientation it allows shares.

    Parameters
    ----------
    orientation : Orientation
        The partially directed graph.
    x : int
        Index of the start node.
    y : int
        Index of the end node.

    Returns
    -------
    bool
    """
    return _reaches(orientation.directed, x, y)


# --- scores with identification, bounds and ensemble confidence ---------------------------

@dataclass(frozen=True)
class Resample:
    """One resample of the data and the graph learned on it: ``rows`` index the design's
    rows (with repeats), ``adjacency`` the ``(d, d)`` same-step DAG, ``lagged`` its
    ``(p, d, d)`` lagged weights, ``time_order`` the lagged weights that order it in time
    (default ``lagged``)."""

    rows: np.ndarray = field(repr=False)
    adjacency: np.ndarray = field(repr=False)
    lagged: np.ndarray | None = field(default=None, repr=False)
    time_order: np.ndarray | None = field(default=None, repr=False)


def reachable(start: set[int], step: np.ndarray) -> set[int]:
    """``start`` and every node reachable from it along the edges of ``step``
    (``step[i, j]``: ``i → j``; its transpose gives the ancestors instead).

    Parameters
    ----------
    start : set of int
        The nodes to start from.
    step : (d, d) ndarray of bool
        The edges.

    Returns
    -------
    set of int
    """
    seen, stack = set(start), list(start)
    while stack:
        for j in np.flatnonzero(step[stack.pop()]):
            if int(j) not in seen:
                seen.add(int(j))
                stack.append(int(j))
    return seen


def _reaches(A: np.ndarray, x: int, y: int) -> bool:
    """A directed path ``x → … → y`` of one edge or more along ``A`` (``A[i, j]``: ``i → j``)."""
    return y in reachable({int(k) for k in np.flatnonzero(A[x])}, A)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, v))


def granger_order(C: np.ndarray, d: int, p: int, n_samples: int, z: float = Z_01) -> np.ndarray | None:
    """Which pasts predict which presents, by test: the least-squares vector autoregression
    of each present column on all ``d · p`` past columns, and ``[l, i, j]`` True where the
    coefficient of ``x_i(t − l − 1)`` for ``x_j(t)`` differs from 0 (Wald z above ``z``).

    In ``x_t = x_t W + x_{t−1} A + ε`` the reduced form ``A (I − W)⁻¹`` carries a cause's
    past to its descendants, never back; this unpenalised regression of each present on
    the whole past finds exactly those links in the limit. A sparse fit of the past may
    instead let one past column stand in for several (a collider's past is a sum of its
    parents'), which turns the same-step links of that collider round.

    Parameters
    ----------
    C : numpy.ndarray
        Covariance of the lagged design: the ``d`` present columns, then each lag's.
    d : int
        Number of nodes.
    p : int
        Number of lags.
    n_samples : int
        Rows of the design.
    z : float, default :data:`Z_01`
        Two-sided threshold of the Wald statistic (1 %).

    Returns
    -------
    numpy.ndarray or None
        ``(p, d, d)`` boolean; None without lags or with fewer than ``10 · d · p`` rows.
    """
    wald = _granger_wald(C, d, p, n_samples)
    return None if wald is None else _granger_links(wald, z, d, p)


def _granger_wald(C: np.ndarray, d: int, p: int, n_samples: int) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`granger_order`'s fit: ``(|coefficient|, standard error)`` of each past column
    (rows) for each present one (columns); None where it declines."""
    k = d * p
    if not p or n_samples < 10 * max(k, 1) or C.shape[0] < d + k:
        return None
    past = np.arange(d, d + k)
    M = C[np.ix_(past, past)]
    M = M + 1e-10 * max(float(np.trace(M)) / k, 1e-300) * np.eye(k)
    inv = np.linalg.pinv(M)
    beta = inv @ C[past, :d]
    resid = np.clip(np.diag(C)[:d] - np.sum(C[past, :d] * beta, axis=0), 1e-300, None)
    se = np.sqrt(np.outer(np.clip(np.diag(inv), 0, None), resid) / max(n_samples - k - 1, 1))
    return np.abs(beta), se


def _granger_links(wald: tuple[np.ndarray, np.ndarray], z: float, d: int, p: int) -> np.ndarray:
    """The ``(p, d, d)`` links of :func:`_granger_wald`'s fit whose Wald statistic is above ``z``."""
    return (wald[0] > z * wald[1]).reshape(p, d, d)


def time_links(tested: np.ndarray) -> np.ndarray:
    """``[i, j]``: ``x_i``'s past predicts ``x_j``'s present at some lag (``i != j``), from
    :func:`granger_order`'s ``(p, d, d)`` tests.

    Parameters
    ----------
    tested : numpy.ndarray
        ``(p, d, d)`` boolean.

    Returns
    -------
    numpy.ndarray
        ``(d, d)`` boolean, False on the diagonal.
    """
    links = np.asarray(tested, dtype=bool).any(axis=0)
    np.fill_diagonal(links, False)
    return links


def causal_nodes(G: np.ndarray, x: int, y: int) -> set[int] | None:
    """The nodes on directed paths ``x → … → y`` of a DAG after ``x`` (``y`` included).

    Parameters
    ----------
    G : numpy.ndarray
        ``(d, d)`` boolean DAG, ``[i, j]`` the edge ``i → j``.
    x : int
        Index of the treatment.
    y : int
        Index of the outcome.

    Returns
    -------
    set of int or None
        The causal nodes; None when there is no directed path ``x → … → y``.
    """
    below = reachable({x}, G) - {x}
    return below & reachable({y}, G.T) if y in below else None


def optimal_adjustment(directed: np.ndarray, x: int, y: int,
                       past: dict[int, Sequence[int]] | None = None) -> list[int] | None:
    """The optimal adjustment set ``O(x, y)`` of a DAG (Henckel, Perković and Maathuis 2022):
    the parents of the causal nodes (the nodes on directed paths ``x → … → y`` after ``x``,
    ``y`` included) that are neither ``x`` nor descendants of a causal node. Valid, and of
    the smallest asymptotic variance among valid sets, when the DAG is right.

    Parameters
    ----------
    directed : numpy.ndarray
        ``(d, d)`` boolean DAG, ``[i, j]`` the edge ``i → j``.
    x : int
        Index of the treatment.
    y : int
        Index of the outcome.
    past : dict of int to sequence of int, optional
        Each node's parents among past columns (a lagged design): the causal nodes' join
        the set (the past is never a descendant of the present).

    Returns
    -------
    list of int or None
        The set; None when the DAG has no directed path ``x → … → y``.
    """
    G = np.asarray(directed, dtype=bool)
    causal = causal_nodes(G, x, y)
    if causal is None:
        return None
    forbidden = reachable(causal, G) | {x}
    lagged = {int(k) for c in causal for k in (past or {}).get(c, ())}
    return sorted(({int(k) for c in causal for k in np.flatnonzero(G[:, c])} - forbidden) | lagged)


def select_parents(C: np.ndarray, x: int, candidates: Sequence[int], n_samples: int, z: float = Z_01) -> list[int]:
    """Parents of ``x`` among ``candidates`` by forward-backward selection with Wald tests.

    Each forward step adds the candidate whose coefficient, given those already chosen,
    has the largest Wald statistic above ``z``; after each addition the chosen columns
    whose statistic fell below ``z`` are dropped, weakest first, and not tried again.
    Given an order in which every parent of ``x`` is a candidate and no descendant is,
    the local Markov property makes every other candidate's coefficient 0 given the
    parents, so in the limit the selection is the parent set. Forward steps matter where
    the candidates are nearly collinear: regressing on all of them at once spreads one
    parent's weight over its children and ancestors and none of them stays significant.

    Parameters
    ----------
    C : numpy.ndarray
        ``(k, k)`` covariance of the design's columns.
    x : int
        The column whose parents are chosen.
    candidates : sequence of int
        The columns allowed as parents (``x`` itself is skipped).
    n_samples : int
        Rows of the design (the statistics' degrees of freedom).
    z : float, default :data:`Z_01`
        Threshold of the two-sided Wald statistic (1 %).

    Returns
    -------
    list of int
        The chosen columns, in the order they were added.

    Notes
    -----
    An inner routine: indices and ``n_samples`` are not checked. A candidate with no
    variance left given the chosen columns is never added, and the selection stops once
    ``x`` itself has none left (an exact total of the chosen: rounding noise would look
    significant).
    """
    pool = [int(k) for k in dict.fromkeys(candidates) if int(k) != x]
    chosen: list[int] = []
    while pool:
        S = np.asarray(chosen, dtype=int)
        K = np.asarray(pool, dtype=int)
        if len(S):
            inv = np.linalg.pinv(C[np.ix_(S, S)])
            cross = C[np.ix_(K, S)] @ inv
            ckk = np.diag(C)[K] - np.sum(cross * C[np.ix_(K, S)], axis=1)
            ckx = C[K, x] - cross @ C[S, x]
            cxx = C[x, x] - C[x, S] @ inv @ C[S, x]
        else:
            ckk, ckx, cxx = np.diag(C)[K], C[K, x], C[x, x]
        if cxx <= 1e-10 * max(C[x, x], 1e-300):  # x is (numerically) a function of the chosen: rounding is left
            break
        redundant = ckk <= 1e-10 * np.clip(np.diag(C)[K], 1e-300, None)  # nothing left once the chosen are in
        ckk = np.where(redundant, 1.0, ckk)
        resid = np.clip(cxx - ckx**2 / ckk, 1e-300, None)  # partial variance of x after adding each
        dof = max(n_samples - len(S) - 2, 1)
        stat = np.where(redundant, 0.0, np.abs(ckx / ckk) / np.sqrt(resid / (ckk * dof)))
        best = int(np.argmax(stat))
        if not stat[best] > z:
            break
        chosen.append(pool.pop(best))
        while len(chosen) > 1:  # backward: drop what the new column made redundant
            S = np.asarray(chosen, dtype=int)
            inv = np.linalg.pinv(C[np.ix_(S, S)])
            beta = inv @ C[S, x]
            res = max(float(C[x, x] - C[x, S] @ beta), 1e-300)
            se = np.sqrt(np.clip(np.diag(inv), 0, None) * res / max(n_samples - len(S) - 1, 1))
            weak = int(np.argmin(np.abs(beta) / np.where(se > 0, se, 1e-300)))
            if abs(beta[weak]) > z * se[weak]:
                break
            chosen.pop(weak)
    return chosen


def ordered_graph(C: np.ndarray, candidates: dict[int, Sequence[int]], d: int, n_samples: int,
                  z: float = Z_01) -> tuple[np.ndarray, dict[int, list[int]]] | None:
    """The graph an order allows, chosen by :func:`select_parents` node by node.

    Parameters
    ----------
    C : numpy.ndarray
        Covariance of the (lagged) design: the ``d`` nodes, then the past columns.
    candidates : dict of int to sequence of int
        For each node, the columns that may be its parents: the nodes earlier in the order
        and any past columns (index ``>= d``).
    d : int
        Number of nodes.
    n_samples : int
        Rows of the design.
    z : float, default :data:`Z_01`
        Threshold of the Wald statistics.

    Returns
    -------
    tuple of numpy.ndarray and dict, or None
        The ``(d, d)`` boolean same-step DAG and each node's past parents; None when the
        same-step edges form a cycle (an order that contradicts itself, as tests of the
        past can). Indices are not checked.
    """
    G = np.zeros((d, d), dtype=bool)
    past: dict[int, list[int]] = {}
    for j, cand in candidates.items():
        chosen = select_parents(C, j, cand, n_samples, z)
        G[[k for k in chosen if k < d], j] = True
        past[j] = sorted(k for k in chosen if k >= d)
    return (G, past) if is_dag(G) else None


def _prior_masks(allowed: np.ndarray | None, lagged_allowed: np.ndarray | None, d: int, y: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The same-step and lagged masks of allowed edges that :func:`identified_scores` reads
    the nodes' roles from. Without ``allowed`` every edge but those out of the target ``y``
    (taken for a fault label, a sink); without ``lagged_allowed``, ``allowed`` at every lag.
    A node's own past is always allowed (:meth:`PriorKnowledge.lagged_mask`)."""
    if allowed is None:
        mask = ~np.eye(d, dtype=bool)
        mask[y, :] = False
    else:
        mask = np.asarray(allowed, dtype=bool)
        if mask.shape != (d, d):
            raise InvalidInputError(f"allowed must be ({d}, {d}) for the {d} columns of data, got {mask.shape}")
        mask = mask & ~np.eye(d, dtype=bool)  # a self-loop is no edge: a node allowed only that is a sink
    lag = mask if lagged_allowed is None else np.asarray(lagged_allowed, dtype=bool)
    if lag.shape != (d, d):
        raise InvalidInputError(f"lagged_allowed must be ({d}, {d}) for the {d} columns of data, got {lag.shape}")
    return mask, lag | np.eye(d, dtype=bool)


def _tiered_order(nodes: Sequence[str], tiers: Sequence[Sequence[str]] | None) -> dict[int, list[int]]:
    """For each node in a tier, the nodes of strictly earlier tiers (never its descendants)."""
    if not tiers:
        return {}
    index = {n: i for i, n in enumerate(nodes)}
    rank = {index[n]: k for k, tier in enumerate(tiers) for n in tier if n in index}
    return {i: [j for j, kj in rank.items() if kj < ki] for i, ki in rank.items()}


def order_adjustment(earlier: Sequence[int], x: int, y: int, allowed: np.ndarray, n_samples: int) -> bool:
    """Whether the earlier tiers of ``x`` alone are a valid adjustment set for its effect on ``y``.

    The metrics of strictly earlier tiers are never descendants of ``x``; when they also
    hold every node the prior allows as a parent of ``x`` (``allowed[k, x]``, the target
    and ``x`` itself apart), they contain all of its parents and satisfy the back-door
    criterion (no latent confounders): the regression of ``y`` on ``x`` and them is the
    total effect, whatever edges the learner missed or reversed. A full causal order as
    tiers gives this for every metric; a tier of several metrics, or metrics in no tier,
    leave the parents among them to the graph (IDA).

    So that the regression stays well determined, at most a tenth of the rows per
    regressor: above :data:`MAX_ADJUST_SHARE` ``· n_samples`` earlier metrics, False (the
    graph's parents and IDA decide, as without the rule).

    Parameters
    ----------
    earlier : sequence of int
        The nodes of strictly earlier tiers than ``x``.
    x : int
        Index of the treatment.
    y : int
        Index of the target.
    allowed : numpy.ndarray
        The prior's ``(d, d)`` mask of allowed directions (all True: every other node
        must be earlier).
    n_samples : int
        Rows of the data.

    Returns
    -------
    bool
    """
    if len(earlier) + 2 > MAX_ADJUST_SHARE * n_samples:
        return False
    ok, before = np.asarray(allowed, dtype=bool), set(earlier)
    return all(k in before for k in range(len(ok)) if k not in (x, y) and ok[k, x])


def identified_scores(
    data: Any,
    adjacency: np.ndarray,
    target: str,
    *,
    lagged: np.ndarray | None = None,
    time_order: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    lagged_allowed: np.ndarray | None = None,
    tiers: Sequence[Sequence[str]] | None = None,
    resamples: Sequence[Resample] = (),
    ensemble: bool = False,
    confidence: float = 0.95,
    min_identified: float | None = None,
    adjust_past: str = "parents",
    local: bool = True,
    time_marks: str = "test",
    adjust_order: bool = True,
    zero_unless: str = "oriented",
    efficient: bool = True,
    estimator: str = "paths",
) -> Any:
    """Effects of every node on ``target`` that say how sure they are.

    Parameters
    ----------
    data : pandas.DataFrame
        The (encoded) metrics and the target, in time order when lagged; its columns are
        the nodes of ``adjacency``.
    adjacency : numpy.ndarray
        ``(d, d)`` learned same-step DAG.
    target : str
        The node whose causes are quantified: a fault label, which ``allowed`` makes a sink
        (it comes after every node, and its past is no candidate cause of another), or a
        metric, ordered by tiers or time like any other node. A node from which
        ``allowed`` admits no directed path to ``target`` (a later tier, a sink) has effect
        0, identified.
    lagged : numpy.ndarray, optional
        ``(p, d, d)`` lagged weights (their parents of ``x`` join its adjustment sets).
    time_order : numpy.ndarray, optional
        ``(p, d, d)`` lagged weights that orient the same-step links by time (a past-only
        solve, :func:`~faultgraph.discovery.ensemble.learn_with_time_order`; default
        ``lagged``).
    allowed : numpy.ndarray, optional
        The prior's ``(d, d)`` mask of allowed directions (orients by prior; a node with no
        allowed out-edge is a sink). Default: every direction but out of ``target``, which
        is then taken for a fault label.
    lagged_allowed : numpy.ndarray, optional
        The prior's ``(d, d)`` mask of allowed edges from a past column to a present one
        (:meth:`~faultgraph.discovery.PriorKnowledge.lagged_mask`; a node's own past is
        always allowed). Default ``allowed`` at every lag.
    tiers : sequence of sequence of str, optional
        The prior's tiers: nodes in earlier tiers join the adjustment set.
    resamples : sequence of Resample, default ()
        Graphs learned on resamples (an ensemble) or one graph on bootstrap rows; they give
        the interval, the bounds' spread and (``ensemble``) the confidence.
    ensemble : bool, default False
        ``resamples`` are an ensemble of graphs: report each node's ``confidence`` and
        apply ``min_identified``; ``details["n_graphs"]`` is then their number (else 1).
        Only then do v-structures orient (:func:`orient_graph`): without an ensemble
        nothing shows that one graph's v-structures hold, and only the prior and time
        orient.
    confidence : float, default 0.95
        Level of the percentile intervals, in (0, 1).
    min_identified : float, optional
        With an ensemble, an effect is identified only if it is identified in the
        full-data graph and in at least this share of the ensemble's graphs, and (unless it
        is 0) the node reaches the target in at least this share of them; in [0, 1].
        Default ``(1 + confidence) / 2``: the claim holds at the interval's level (all of
        fewer than 40 graphs; on planted systems, of 151 metrics without a path, 0.5 let
        5 (no prior) and 2 (lagged) be identified with an interval excluding 0, this 0
        and 1).
    adjust_past : {"parents", "all", "none"}, default "parents"
        With lags, the past that joins the adjustment sets of ``x(t)``: ``"parents"`` its
        parents in the unrolled graph, its own past and the learned lagged parents (of each
        resample's graph); ``"all"`` every column's ``p`` past steps; ``"none"``. Some past
        is needed: an autocorrelated ``x`` whose past also acts on the target is confounded
        by it (a lagged pair: 0.72 for a true 0.52 without). All of it amplifies the bias of
        a missed same-step parent (the innovation left is mostly that parent's).
    local : bool, default True
        Each graph's values are :func:`graph_effects`: the local IDA regressions for every
        node, and also 0 unless a path of oriented edges reaches ``target`` (such a node
        is then not identified, its bounds hold 0 and the data's value). False: 0 alone
        where there is no path (the skeleton decides; a missed edge makes a true effect
        exactly 0).
    time_marks : {"test", "fit"}, default "test"
        With lags, where the same-step links get their ``time`` marks: ``"test"`` from
        :func:`granger_order` (Wald tests of the unpenalised autoregression of every
        present column on the whole past, on each resample's rows), falling back to the
        fitted weights with fewer than ten rows per past column; ``"fit"`` from
        ``time_order`` (or ``lagged``) as fitted. The sparse fit can let a collider's past
        stand in for its parents' pasts and turn its links round (planted lagged system,
        d = 12, seed 101: a symptom of a cause marked an identified cause, interval
        excluding 0; with the tests, 0 such claims of 151).
    adjust_order : bool, default True
        Adjust for what the order of the metrics says: (1) with ``tiers``, a node whose
        earlier tiers hold every node the prior allows as its parent
        (:func:`order_adjustment`; a full causal order: every node) gets the regression
        on them alone, whatever the graph: identified, with an interval
        ``ate ± z · max(sd, se)`` (``sd`` over the resamples, ``se`` the full-data
        regression's :func:`robust_se`: a few dozen resamples of a coefficient with heavy
        tails put its sd up to a third low) at the Bonferroni level ``1 − (1 − confidence)
        / (d − 1)`` (all these claims hold together; percentiles of 20 resamples covered
        about 90 % and called 11 of 151 metrics without a path certain causes); (2) with
        lags and ``time_marks="test"``, the same-step metrics whose past predicts the
        node's present one way only (its ancestors in time) join its adjustment sets, so
        a parent the graph misses is still adjusted for. False: earlier tiers join the
        adjustment sets of the graph's parent sets and nothing else (the rule before).
    zero_unless : {"oriented", "possible"}, default "oriented"
        Passed to :func:`graph_effects`: 0 joins a graph's values unless a path of
        oriented edges reaches ``target``, or (``"possible"``, before) only where no
        orientation has a path.
    efficient : bool, default True
        Use the graph that the order allows (:func:`ordered_graph`: each metric's parents
        chosen by :func:`select_parents` among the metrics before it and the past, on the
        full data and again on each resample at :data:`RESAMPLE_Z` times the threshold)
        for smaller-variance adjustment sets. A resample whose graph has a cycle (an
        order that contradicts itself) uses the full data's. (1) A node identified from
        full tiers (``adjust_order``) adjusts for that graph's :func:`optimal_adjustment`
        set (with the past parents of its causal nodes) where the full data's graph has a
        path to ``target`` (on each resample, that resample's graph's set, or its earlier
        tiers where that graph has no path), else for its earlier tiers throughout.
        (2) With lags, ``time_marks="test"`` and no full tiers, the order is the tested
        time order (a metric's candidate parents: the metrics whose past predicts its
        present one way only); a node whose graph has a path to ``target``, and none of
        whose set's nodes (itself, the causal nodes, their parents) is in a pair whose
        pasts predict each other both ways (feedback: each way significant at a
        family-wise 1 % over all lagged links; the target and the past are not checked),
        is identified by time: its optimal set, 0 on a
        resample whose graph has no path, and the simultaneous interval of
        ``adjust_order``. A parent that the order leaves out (one without memory, whose
        past predicts nothing) biases (2). The candidates obey ``allowed`` and
        ``lagged_allowed``: a sink (a fault label) comes after every node and its past is
        no candidate parent of another. Nodes of partial tiers keep their
        earlier tiers. (3) A node left to the learned graph (IDA), in no tier, whose graph from
        the order has no path to ``target`` gets 0 among its values (not identified): the learned
        path is not established (on the planted held-out lagged systems fitted without an
        ensemble, one metric without any path was otherwise a certain cause). Without
        ``resamples`` there is no interval and no node is called a certain cause.
        On planted systems (``benchmarks/results/identify.md``) with the causal order as
        tiers: top-3 hits 47 of 54 instead of 42 with the optimal sets (the true graph's
        optimal sets, ranked similarly: 47; along the paths, ``estimator``: 49), coverage
        0.990 either way; lagged: 41 instead of 36 (true optimal
        sets: 51), coverage 0.990 instead of 0.956, identified 51 % of metrics instead of
        14 %; no confident-wrong claim either way. False: the earlier tiers (and with
        lags the learned graph's admissible sets), the rule before.
    estimator : {"paths", "adjustment"}, default "paths"
        How a node identified from full tiers (``efficient``'s (1)) reads its effect off
        the order's graph: ``"paths"`` by :func:`path_effect` (each causal node's
        regression on its parents, multiplied along the paths: the efficient estimator
        for a known DAG, Guo and Perković 2022), ``"adjustment"`` by the regression on its
        optimal set (the rule before). The interval keeps the optimal-set regression's
        robust standard error as its floor. Nodes identified by time keep the optimal set
        (a parent that the tested time order leaves out would be carried into every path;
        CHANGELOG has the measurements behind both choices).

    Returns
    -------
    CausalScores
        Method ``"ida"``: for each node ``ate`` (the identified effect, or the one under the
        learned orientation), ``ci_low`` and ``ci_high`` (percentiles over the resamples
        and, for an unidentified effect, its admissible orientations; identified from the
        order, the simultaneous normal interval of ``adjust_order``), ``identified``,
        ``ate_bounds`` (``[min, max]`` over orientations, and over the resamples at
        ``confidence``) and ``confidence`` (share of ensemble graphs with a directed path to
        ``target``; ``None`` without ``ensemble``); a ``summary`` in words and ``details``
        (the identification, ``n_graphs``, ``confidence_level``, ``lags``). Ranked: certain
        causes (identified, interval excluding 0) by ``|ate|`` (with ``efficient``'s graph,
        top-3 hits on planted systems 49 of 54 with tiers and 41 lagged, against 45 and
        40 by the end of the interval nearest 0, the rule before, which suited the wider
        earlier-tier intervals); then candidates: first those whose bounds exclude 0 (one sign under
        every orientation, value not identified; on planted systems without a prior 5 of
        151 metrics without a path to the target were such, so they are not called certain) by their bound
        nearest 0, then the identified ones whose interval holds 0 by ``|ate|``, then the
        others by ``|ate|`` (one orientation's value: a collinear regression's can run to
        ±10); then the rest. Identified before the others among those was chosen on planted
        systems of other seeds (200–205): lagged top-3 hits 39 → 42 of 54 and metrics
        without a path in the top 3 6 → 1, the rest unchanged; on the benchmark's seeds
        every count is unchanged.

    Raises
    ------
    InvalidInputError
        When ``confidence`` is not in (0, 1), ``min_identified`` not in [0, 1], ``target``
        is not a column of ``data``, ``adjacency``, ``allowed`` or ``lagged_allowed`` is not
        ``(d, d)`` for its ``d`` columns,
        ``adjust_past``, ``time_marks``, ``zero_unless`` or ``estimator`` is not one of its values.

    Warns
    -----
    RuntimeWarning
        When some node has more earlier-tier metrics than :data:`MAX_ADJUST_SHARE` of the
        rows: its adjustment sets are then its parent sets in the graph alone.
    """
    from faultgraph.discovery import lagged_design
    from faultgraph.effects.ate import CausalScores, NodeScore

    if not 0 < confidence < 1:
        raise InvalidInputError(f"confidence must lie in (0, 1), got {confidence!r}")
    if min_identified is None:
        min_identified = (1 + confidence) / 2
    if not 0 <= min_identified <= 1:
        raise InvalidInputError(f"min_identified must lie in [0, 1], got {min_identified!r}")
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(f"data must be a pandas DataFrame whose columns are the nodes, got "
                                f"{type(data).__name__}")
    nodes = [str(c) for c in data.columns]
    if target not in nodes:
        mask = None if allowed is None else np.asarray(allowed, dtype=bool)
        sinks = [] if mask is None else [nodes[k] for k in range(len(nodes)) if not mask[k].any()]  # labels
        raise InvalidInputError(f"target {target!r} is not a node; " + (f"the label: {sinks[0]!r}; " if sinks else "")
                                + f"nodes: {describe_names(nodes, 10)}")
    values = data.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = [nodes[j] for j in np.flatnonzero(~np.isfinite(values).all(axis=0))]
        raise InvalidInputError(f"data has missing or infinite values in {describe_names(bad)}; effects need "
                                "complete rows (fill or drop them first)")
    unknown = [n for tier in (tiers or ()) for n in tier if n not in nodes]
    if unknown:
        raise InvalidInputError(f"tiers name {describe_names(unknown)}, which are not columns of data")
    d = len(nodes)
    A = np.asarray(adjacency) != 0
    if A.shape != (d, d):
        raise InvalidInputError(f"adjacency must be ({d}, {d}) for the {d} columns of data, got {A.shape}")
    p = 0 if lagged is None else int(np.shape(lagged)[0])
    D = lagged_design(values, p)
    y = nodes.index(target)
    check_choice("adjust_past", adjust_past, ("parents", "all", "none"))
    check_choice("time_marks", time_marks, ("test", "fit"))
    check_choice("zero_unless", zero_unless, ("oriented", "possible"))
    check_choice("estimator", estimator, ("paths", "adjustment"))

    def past_of(x: int, lag: np.ndarray | None) -> list[int]:
        if not p or adjust_past == "none":
            return []
        if adjust_past == "all":
            return list(range(d, d * (p + 1)))
        L = np.abs(np.asarray(lag)) > 0 if lag is not None else np.zeros((p, d, d), dtype=bool)
        return sorted({d * (l + 1) + x for l in range(p)} | {d * (l + 1) + k for l, k in zip(*np.nonzero(L[:, :, x]))})

    earlier = _tiered_order(nodes, tiers)
    crowded = sorted(nodes[x] for x, Z in earlier.items() if len(Z) + 2 > MAX_ADJUST_SHARE * len(D))
    if crowded:
        warnings.warn(f"{len(crowded)} node(s) ({', '.join(crowded[:5])}{' ...' if len(crowded) > 5 else ''}) have "
                      f"more earlier-tier metrics than {MAX_ADJUST_SHARE:g} x {len(D)} rows allow in one regression: "
                      f"their effects adjust for their parents in the graph only", RuntimeWarning, stacklevel=2)
        earlier = {x: ([] if nodes[x] in crowded else Z) for x, Z in earlier.items()}
    mask, lag_mask = _prior_masks(allowed, lagged_allowed, d, y)
    sinks = {k for k in range(d) if not mask[k].any()}  # the prior lets them cause nothing: fault labels
    by_order = {x for x, Z in earlier.items() if adjust_order and x != y and order_adjustment(Z, x, y, mask, len(D))}
    C = weighted_covariance(D)
    def tested_order(Cx: np.ndarray) -> np.ndarray | None:
        """The time order that tests of the past give (:func:`granger_order`), once per covariance."""
        return granger_order(Cx, d, p, len(D)) if p and time_marks == "test" else None

    wald = _granger_wald(C, d, p, len(D)) if p and time_marks == "test" else None  # the full data's, once

    def by_time(tested: np.ndarray | None, fitted: np.ndarray | None, fallback: np.ndarray | None
                ) -> np.ndarray | None:
        if not p:
            return None
        if tested is not None:
            return tested
        return fallback if fitted is None else fitted

    def one_way_ancestors(tested: np.ndarray) -> dict[int, list[int]]:
        """Same-step metrics whose past predicts x's present one way only: ancestors of x."""
        links = time_links(tested)
        one_way = links & ~links.T
        one_way[sorted(sinks), :] = False
        return {x: [int(i) for i in np.flatnonzero(one_way[:, x])] for x in range(d)}

    def time_ancestors(tested: np.ndarray | None) -> dict[int, list[int]]:
        return {} if not adjust_order or tested is None else one_way_ancestors(tested)

    def adjust_extra(x: int, lag: np.ndarray | None, anc: dict[int, list[int]]) -> list[int]:
        return past_of(x, lag) + sorted(set(earlier.get(x, [])) | set(anc.get(x, [])))

    pasts = list(range(d, d * (p + 1)))
    ordered_by_tiers = bool(earlier) and all(x in by_order for x in range(d) if x != y and x not in sinks)

    def order_graph(Cx: np.ndarray, tested: np.ndarray | None, z: float = Z_01
                    ) -> tuple[np.ndarray, dict[int, list[int]]] | None:
        """With ``efficient``, the graph that the order allows (tiers that order every
        metric, else the tested time order), chosen on the covariance ``Cx``."""
        if not efficient:
            return None
        if ordered_by_tiers:
            before = earlier
        elif tested is not None:
            before = one_way_ancestors(tested)
        else:
            return None
        # the prior's masks at every step: a sink (a fault label) comes after every node and its
        # past is no candidate cause of another node (it stays one of its own present, where a
        # persistent label's past blocks a back-door path)
        cand = {x: [*(k for k in (range(d) if x in sinks else before.get(x, [])) if mask[k, x]),
                    *(c for c in pasts if lag_mask[c % d, x])] for x in range(d)}
        return ordered_graph(Cx, cand, d, len(D), z)

    def efficient_set(x: int, graph: tuple[np.ndarray, dict[int, list[int]]] | None) -> list[int] | None:
        return None if graph is None else optimal_adjustment(graph[0], x, y, graph[1])

    def feedback() -> np.ndarray | None:
        """Pairs whose pasts predict each other both ways in the full data, each way
        significant with the family-wise error of all ``d (d − 1) p`` lagged links held at 1 %
        (feedback across steps; at the plain 1 % of :func:`granger_order` a few false links
        per system would make pairs of it)."""
        if wald is None:
            return None
        z_fw = NormalDist().inv_cdf(1 - 0.01 / (2 * max(d * (d - 1) * p, 1)))  # every lag of every link
        links = time_links(_granger_links(wald, z_fw, d, p))
        both = links & links.T
        both[sorted(sinks), :] = False
        both[:, sorted(sinks)] = False
        return both

    def time_settled(x: int, both: np.ndarray | None) -> bool:
        """Whether x is identified by time: its order graph (the full data's) has a path to
        y, and no node that its optimal set is read from (x, the causal nodes, their parents)
        is in a :func:`feedback` pair (there the time order is no causal order)."""
        if graph_main is None or both is None or main_sets[x] is None:
            return False
        G = graph_main[0]
        causal = (reachable({x}, G) - {x}) & reachable({y}, G.T)
        near = {x} | causal | {int(k) for c in causal for k in np.flatnonzero(G[:, c])}
        return not any(both[k].any() for k in near)

    def order_set(x: int, graph: tuple[np.ndarray, dict[int, list[int]]] | None, lag: np.ndarray | None
                  ) -> list[int]:
        """The earlier tiers (and past) of x; with ``efficient``, the optimal set of the
        order's graph where it has a path x → y."""
        O = efficient_set(x, graph)
        return O if O is not None else past_of(x, lag) + earlier[x]

    def order_effect(Cx: np.ndarray, x: int, graph: tuple[np.ndarray, dict[int, list[int]]] | None,
                     lag: np.ndarray | None) -> float:
        """The effect of a node identified from full tiers on the covariance ``Cx``: along
        the paths of the order's graph (``estimator="paths"``) where it has one, else the
        regression on :func:`order_set`."""
        if estimator == "paths" and graph is not None:
            value = path_effect(Cx, graph[0], x, y, graph[1])
            if value is not None:
                return value
        return adjustment_effect(Cx, x, y, order_set(x, graph, lag))

    tested = None if wald is None else _granger_links(wald, Z_01, d, p)  # tested_order(C), from the fit above
    # one graph's v-structures orient only where an ensemble shows they hold (min_identified): a
    # single graph taken as known made confident claims for metrics without any path
    main = orient_graph(A, nodes, allowed=allowed, lagged=by_time(tested, time_order, lagged), covariance=C,
                        n_samples=len(D), v_structures=ensemble)
    anc_main = time_ancestors(tested)
    graph_main = order_graph(C, tested)
    main_sets = {x: efficient_set(x, graph_main) for x in range(d)}  # the full data's optimal sets
    # Full tiers: a node whose order graph (full data) has a path adjusts for its optimal set,
    # on each resample that resample's (its earlier tiers where that graph has no path or
    # a cycle); the others keep their earlier tiers throughout. Partial tiers with lags: the
    # time order's graph is not the tiers', and the tiers' nodes keep their earlier tiers.
    efficient_main = {x for x in by_order if ordered_by_tiers and main_sets[x] is not None}
    both_ways = None if ordered_by_tiers or tested is None else feedback()
    timed = {x for x in range(d) if x != y and x not in by_order and time_settled(x, both_ways)}
    boots = []
    for r in resamples:
        w = np.bincount(np.asarray(r.rows), minlength=len(D)).astype(float)
        Cb = weighted_covariance(D, w)
        tested_b = tested_order(Cb)
        orient = orient_graph(r.adjacency, nodes, allowed=allowed, lagged=by_time(tested_b, r.time_order, r.lagged),
                              covariance=Cb, n_samples=len(D), v_structures=ensemble)
        graph_b = order_graph(Cb, tested_b, RESAMPLE_Z * Z_01) if efficient_main or timed else None
        # a resample whose order contradicts itself (its graph has a cycle): the full data's graph
        boots.append((orient, Cb, np.asarray(r.adjacency) != 0, r.lagged, time_ancestors(tested_b),
                      graph_main if graph_b is None else graph_b))
    lo_q, hi_q = (1 - confidence) / 2, (1 + confidence) / 2

    def inseparable(x: int, held: list[int]) -> bool:
        """Whether x has no variation of its own left given ``held`` (its partial variance
        below :data:`INSEPARABLE` of its variance): a duplicate of an earlier metric."""
        S = [k for k in dict.fromkeys(held) if k != x]
        if not S or C[x, x] <= 0:
            return False
        beta = np.linalg.lstsq(C[np.ix_(S, S)], C[S, x], rcond=None)[0]
        return float(C[x, x] - C[x, S] @ beta) <= INSEPARABLE * float(C[x, x])

    z_family = NormalDist().inv_cdf(1 - (1 - confidence) / (2 * max(d - 1, 1)))  # Bonferroni over the nodes
    rows = []
    may_reach = reachable({y}, mask.T)  # the nodes the prior allows a directed path x -> y from
    for x in range(d):
        if x == y:
            continue
        if x not in may_reach:  # the prior allows no path x -> y: no effect, by the prior
            rows.append((nodes[x], 0.0, (0.0, 0.0), True, (0.0, 0.0), 0.0 if ensemble else None))
            continue
        main_set: list[int] = []
        if x in by_order:  # the earlier tiers are a valid adjustment set: the graph does not enter
            graph = graph_main if x in efficient_main else None
            main_set = order_set(x, graph, lagged)  # the robust standard error's regression
            reg = values = np.array([order_effect(C, x, graph, lagged)])
            sets = [()]
        elif x in timed:  # the optimal set of the graph that the tested time order allows
            main_set = main_sets[x] or []
            reg = values = np.array([adjustment_effect(C, x, y, main_set)])
            sets = [()]
        else:
            reg, sets = ida_effects(C, main, x, y, adjust_extra(x, lagged, anc_main), require_path=not local)
            keep = possibly_reaches(main, x, y) and (zero_unless == "possible" or surely_reaches(main, x, y))
            # the graph that the time order allows has no path: the learned graph's is not
            # established (a node in the tiers has its direction from the prior, not from time)
            keep = keep and (graph_main is None or x in earlier or main_sets[x] is not None)
            values = reg if keep or not local else np.append(reg, 0.0)
        learned = set(np.flatnonzero(A[:, x]).tolist())
        chosen = [k for k, P in enumerate(sets) if set(P) == learned]
        ate = float(reg[chosen[0]]) if chosen else float(np.median(reg))
        ident = len(values) == 1
        lo_b = hi_b = (float(values.min()), float(values.max()))
        ci = (ate, ate)
        share = None
        if boots:
            pooled, weights, mins, maxs, ident_b, paths = [], [], [], [], [], []
            for orient, Cb, Ab, Lb, anc_b, graph_b in boots:
                if x in by_order:
                    v = np.array([order_effect(Cb, x, graph_b if x in efficient_main else None, Lb)])
                elif x in timed:  # no path in this resample's graph: no effect there
                    O = efficient_set(x, graph_b)
                    v = np.array([0.0 if O is None else adjustment_effect(Cb, x, y, O)])
                elif local:
                    v = graph_effects(Cb, orient, x, y, adjust_extra(x, Lb, anc_b), zero_unless)[0]
                else:
                    v = ida_effects(Cb, orient, x, y, adjust_extra(x, Lb, anc_b))[0]
                pooled.append(v)
                weights.append(np.full(len(v), 1 / len(v)))
                mins.append(v.min())
                maxs.append(v.max())
                ident_b.append(len(v) == 1)
                paths.append(_reaches(Ab, x, y))
            vals, wts = np.concatenate(pooled), np.concatenate(weights)
            ci = (_weighted_quantile(vals, wts, lo_q), _weighted_quantile(vals, wts, hi_q))
            if (x in by_order or x in timed) and len(vals) > 1:  # one value per resample: simultaneous
                # a few dozen resamples of a coefficient with heavy tails (little of x left given
                # its set) can put its sd a third low: the robust standard error is the floor
                half = z_family * max(float(np.std(vals, ddof=1)), robust_se(D, x, y, main_set))
                ci = (ate - half, ate + half)
            lo_b = (min(lo_b[0], float(np.quantile(mins, lo_q))), max(lo_b[1], float(np.quantile(maxs, hi_q))))
            if ensemble:
                share = float(np.mean(paths))
                ident = (ident and float(np.mean(ident_b)) >= min_identified
                         and (share >= min_identified or np.all(values == 0) or x in by_order or x in timed))
        bounds = (min(lo_b[0], ci[0]), max(lo_b[1], ci[1]))
        if x in by_order and inseparable(x, earlier[x] + main_set):
            # x is a function of what is held fixed (a copy of an earlier metric): setting it
            # alone is nothing the data show, so its effect is not identified, and may be 0
            ident, bounds = False, (min(bounds[0], 0.0), max(bounds[1], 0.0))
            ci = bounds
        ci, bounds = _snap(ci), _snap(bounds)  # interpolating between 0 and 1e-16 is not an effect
        rows.append((nodes[x], ate, ci, ident, bounds, share))
    total = sum(abs(r[1]) for r in rows)

    def tier(r: tuple) -> int:
        return evidence_rank(r[1], r[2], r[3], r[4], bool(boots))[0]

    rows.sort(key=lambda r: evidence_rank(r[1], r[2], r[3], r[4], bool(boots)))
    scores = tuple(NodeScore(n, ate, ci[0], ci[1], abs(ate) / total if total > 0 else 0.0, bool(ident),
                             (float(b[0]), float(b[1])), share) for n, ate, ci, ident, b, share in rows)
    certain = [r for r in rows if tier(r) == 0]
    candidates = [r for r in rows if tier(r) == 1]
    summary = _summary(target, certain, candidates, sum(tier(r) == 2 for r in rows), bool(boots))
    details = {"identification": main.to_dict(), "n_graphs": len(resamples) if ensemble else 1,
               "confidence_level": confidence, "lags": p}
    return CausalScores(target, scores, "ida", summary, details)


def evidence_rank(ate: float, ci: tuple[float, float], identified: bool, bounds: tuple[float, float],
                  interval: bool = True) -> tuple[int, int, float]:
    """The sort key of an effect in :func:`identified_scores`' ranking, by what the data
    establish: ``(tier, kind, −size)``.

    Tier 0, *certain*: identified with an interval that excludes 0 (only with ``interval``:
    without resamples there is none), by ``|ate|``. Tier 1, *candidates*: first those whose
    bounds exclude 0 (the sign is known under every orientation; only with ``interval``:
    without resamples the bounds span the orientations of one estimate, whose sign the
    sampling noise can flip), by the bound nearest 0;
    then the identified ones whose interval holds 0 (the value is the data's, its size
    uncertain), by ``|ate|``; then the rest by ``|ate|``, which is one orientation's value
    (a collinear regression's can run to ±10), so last. Tier 2: bounds of 0 alone (no
    effect).

    Parameters
    ----------
    ate : float
        The effect (identified, or under the learned orientation).
    ci : (float, float)
        Its interval.
    identified : bool
        Whether its value is identified.
    bounds : (float, float)
        ``ate_bounds``: over the admissible orientations (and resamples).
    interval : bool, default True
        Whether ``ci`` comes from resamples (without, nothing is certain).

    Returns
    -------
    tuple of (int, int, float)
        Smaller sorts first.
    """
    if identified and interval and (ci[0] > 0 or ci[1] < 0):
        return 0, 0, -abs(ate)
    tier = 1 if max(abs(bounds[0]), abs(bounds[1])) > ZERO else 2
    if interval and (bounds[0] > 0 or bounds[1] < 0):
        return tier, 0, -min(abs(bounds[0]), abs(bounds[1]))
    return tier, (1 if identified else 2), -abs(ate)


#: Effects smaller than this in absolute value are rounding of 0.
ZERO = 1e-12


def _snap(pair: tuple[float, float]) -> tuple[float, float]:
    return tuple(0.0 if abs(v) < ZERO else float(v) for v in pair)  # type: ignore[return-value]


def _summary(target: str, certain: list, candidates: list, none: int, interval: bool = True) -> str:
    def show(rows: list, bounds: bool) -> str:
        shown = [f"{n} ({ate:+.3g}" + (f", bounds [{b[0]:+.3g}, {b[1]:+.3g}]" if bounds or not ident else
                                          f", CI [{ci[0]:+.3g}, {ci[1]:+.3g}]") + ("" if ident else ", value not identified") + ")"
                 for n, ate, ci, ident, b, _ in rows[:5]]
        return ", ".join(shown) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")

    parts = [f"Certain causes of {target} (direction identified, interval excludes 0): "
             + (show(certain, False) if certain else "none") + "."]
    if not interval:
        parts.append("No interval was computed (no resamples), so no cause is called certain.")
    if candidates:
        parts.append("Candidates (direction not identified" + (", or no interval" if not interval else
                                                               " or interval includes 0")
                     + "; the effect lies within its bounds"
                     + (", of one sign where they exclude 0): " if interval else
                        " over the admissible orientations, whose sign the sampling noise may flip): ")
                     + show(candidates, True) + ".")
    if none:
        parts.append(f"{none} node(s) have no effect under any admissible orientation.")
    return " ".join(parts)
