"""Accuracy of a learned graph against the true one."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from faultgraph._graph import is_dag
from faultgraph.errors import InvalidInputError, NotADAGError

__all__ = ["GraphAccuracy", "graph_accuracy"]


@dataclass(frozen=True)
class GraphAccuracy:
    """Structural accuracy as NOTEARS (``count_accuracy``) and gCastle define it.

    Attributes
    ----------
    shd : int
        Structural Hamming distance: extra, missing and reversed edges, a reversed edge
        counting once (and each edge of a 2-cycle ``i ⇄ j`` of ``learned`` once: both on a
        true non-edge count 2, the wrong one beside a true edge counts 1).
    tpr : float
        True positive rate, correctly directed predicted edges / true edges.
    fdr : float
        False discovery rate, (reversed + wrong) predicted edges / predicted edges.
    fpr : float
        False positive rate, (reversed + wrong) predicted edges / true non-edges
        (``d(d−1)/2 − |true edges|``), as NOTEARS, DAGMA and gCastle compute it so that
        figures compare with theirs; like theirs it can exceed 1 when many edges are
        reversed or ``learned`` has 2-cycles.
    nnz : int
        Number of predicted edges.
    n_true : int
        Number of true edges.
    n_reversed : int
        Predicted edges whose reverse is true.
    """

    shd: int
    tpr: float
    fdr: float
    fpr: float
    nnz: int
    n_true: int
    n_reversed: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"SHD {self.shd}  TPR {self.tpr:.3f}  FDR {self.fdr:.3f}  FPR {self.fpr:.3f}  "
                f"edges {self.nnz} (true {self.n_true}, reversed {self.n_reversed})")


def graph_accuracy(true: np.ndarray, learned: np.ndarray) -> GraphAccuracy:
    """Structural accuracy of a learned graph against the true one.

    SHD, TPR, FDR and FPR as NOTEARS' ``count_accuracy`` (Zheng et al. 2018) and gCastle
    compute them; see :class:`GraphAccuracy` for the definitions. A non-zero entry
    ``[i, j]`` is the edge ``i → j``; the weights are ignored.

    Parameters
    ----------
    true : (d, d) array-like of float
        The true adjacency matrix; must be a DAG without self-loops and without NaN.
    learned : (d, d) array-like of float
        The learned adjacency matrix, same shape; may hold any directed edges between two
        different nodes (cycles included) but no self-loop and no NaN.

    Returns
    -------
    GraphAccuracy
        SHD, TPR, FDR, FPR, the number of predicted, true and reversed edges.

    Raises
    ------
    InvalidInputError
        When a matrix is not numeric or holds NaN, when the two are not square matrices of
        one shape, or when ``learned`` has self-loops.
    NotADAGError
        When ``true`` has a directed cycle.
    """
    mats = []
    for name, A in (("true", true), ("learned", learned)):
        try:
            A = np.asarray(A, dtype=float)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name} must be a numeric adjacency matrix") from None
        if np.isnan(A).any():
            raise InvalidInputError(f"{name} has NaN entries; an adjacency matrix holds 0 (no edge) or a weight")
        mats.append(A != 0)
    B, P = mats
    if B.ndim != 2 or B.shape[0] != B.shape[1] or P.shape != B.shape:
        raise InvalidInputError(
            f"true and learned must be square matrices of one shape, got {np.shape(true)} and {np.shape(learned)}"
        )
    loops = np.flatnonzero(np.diag(P))
    if loops.size:
        raise InvalidInputError(f"learned has self-loops at nodes {loops[:8].tolist()}; its diagonal must be 0")
    if not is_dag(B):
        raise NotADAGError("true must be a DAG, but it has a directed cycle")
    d = B.shape[0]
    true_pos = int(np.sum(P & B))
    reversed_ = int(np.sum(P & B.T & ~B))
    wrong = int(np.sum(P & ~B & ~B.T))
    nnz, n_true = int(P.sum()), int(B.sum())
    cond_neg = 0.5 * d * (d - 1) - n_true  # NOTEARS' convention (unordered non-edges)
    # SHD: extra edges (each direction of a 2-cycle), true edges missing in both directions, reversals.
    skel_p, skel_b = np.triu(P | P.T, 1), np.triu(B | B.T, 1)
    shd = wrong + int(np.sum(skel_b & ~skel_p)) + reversed_
    return GraphAccuracy(
        shd=shd,
        tpr=true_pos / max(n_true, 1),
        fdr=(reversed_ + wrong) / max(nnz, 1),
        fpr=(reversed_ + wrong) / max(cond_neg, 1),
        nnz=nnz,
        n_true=n_true,
        n_reversed=reversed_,
    )
