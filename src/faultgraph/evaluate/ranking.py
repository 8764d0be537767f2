"""Ranking metrics for root-cause analysis.

* ``AC@k``: the share of incidents whose true root cause is among the top ``k``;
* ``Avg@k``: the mean of ``AC@1 … AC@k``;
* ``HitRate@P%`` (SMD/ASD interpretation labels): the share of a segment's labelled
  metrics found in the top ``⌊P% · |labelled|⌋`` of the ranking;
* ``NDCG@P%``: normalised discounted cumulative gain over the same top positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faultgraph.errors import InvalidInputError

__all__ = ["ac_at_k", "avg_at_k", "hit_rate", "ndcg"]


def ac_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    """Share of cases whose truth appears in the first ``k`` entries of its ranking."""
    if len(rankings) != len(truths) or not rankings:
        raise InvalidInputError(f"need one truth per ranking and at least one case, got {len(rankings)} and "
                                f"{len(truths)}")
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    return float(np.mean([t in list(r)[:k] for r, t in zip(rankings, truths)]))


def avg_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    """``(AC@1 + … + AC@k) / k``."""
    return float(np.mean([ac_at_k(rankings, truths, j) for j in range(1, k + 1)]))


def _top(ranking: Sequence[int], labelled: Sequence[int], percent: float) -> list[int]:
    if not labelled:
        raise InvalidInputError("a segment needs at least one labelled metric")
    n = int(np.floor(percent / 100.0 * len(labelled)))
    return list(ranking)[: max(n, 1)]


def hit_rate(ranking: Sequence[int], labelled: Sequence[int], percent: float = 100.0) -> float:
    """Share of the labelled metrics among the top ``⌊percent/100 · |labelled|⌋`` (OmniAnomaly's HitRate@P%)."""
    top = set(_top(ranking, labelled, percent))
    return len(top & set(labelled)) / len(labelled)


def ndcg(ranking: Sequence[int], labelled: Sequence[int], percent: float = 100.0) -> float:
    """NDCG over the top ``⌊percent/100 · |labelled|⌋`` positions, relevance 1 for labelled metrics."""
    top = _top(ranking, labelled, percent)
    rel = set(labelled)
    dcg = sum(1.0 / np.log2(i + 2) for i, m in enumerate(top) if m in rel)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(rel), len(top))))
    return float(dcg / ideal) if ideal else 0.0
