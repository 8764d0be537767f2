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

    Attributes:
        shd: structural Hamming distance: extra, missing and reversed edges, a reversed
            edge counting once.
        tpr: true positive rate, correctly directed predicted edges / true edges.
        fdr: false discovery rate, (reversed + wrong) predicted edges / predicted edges.
        fpr: false positive rate, (reversed + wrong) predicted edges / true non-edges
            (``d(d−1)/2 − |true edges|``).
        nnz: number of predicted edges.
        n_true: number of true edges.
        n_reversed: predicted edges whose reverse is true.
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
    """Compare two ``(d, d)`` adjacency matrices (non-zero ``[i, j]`` is the edge ``i → j``).

    ``true`` must be a DAG without self-loops; ``learned`` may contain any directed edges.
    """
    B = np.asarray(true) != 0
    P = np.asarray(learned) != 0
    if B.ndim != 2 or B.shape[0] != B.shape[1] or P.shape != B.shape:
        raise InvalidInputError(
            f"true and learned must be square matrices of one shape, got {np.shape(true)} and {np.shape(learned)}"
        )
    if not is_dag(B):
        raise NotADAGError("true must be a DAG, but it has a directed cycle")
    d = B.shape[0]
    true_pos = int(np.sum(P & B))
    reversed_ = int(np.sum(P & B.T & ~B))
    wrong = int(np.sum(P & ~B & ~B.T))
    nnz, n_true = int(P.sum()), int(B.sum())
    cond_neg = 0.5 * d * (d - 1) - n_true
    # SHD on the skeleton (upper triangle of B + Bᵀ), plus reversals.
    skel_p, skel_b = np.triu(P | P.T, 1), np.triu(B | B.T, 1)
    shd = int(np.sum(skel_p & ~skel_b) + np.sum(skel_b & ~skel_p)) + reversed_
    return GraphAccuracy(
        shd=shd,
        tpr=true_pos / max(n_true, 1),
        fdr=(reversed_ + wrong) / max(nnz, 1),
        fpr=(reversed_ + wrong) / max(cond_neg, 1),
        nnz=nnz,
        n_true=n_true,
        n_reversed=reversed_,
    )
