"""Ranking metrics for root-cause analysis.

* ``AC@k``: the share of incidents whose true root cause is among the top ``k``;
* ``Avg@k``: the mean of ``AC@1 … AC@k``;
* ``HitRate@P%`` (SMD/ASD interpretation labels): the share of a segment's labelled
  metrics found in the top ``⌊P% · |labelled|⌋`` of the ranking (of the whole segment,
  or of one of its steps: the published protocol averages over every labelled step);
* ``NDCG@P%``: normalised discounted cumulative gain over the same top positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faultgraph.errors import InvalidInputError

__all__ = ["ac_at_k", "avg_at_k", "hit_rate", "ndcg"]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidInputError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def _check_cases(rankings: Sequence[Sequence[str]], truths: Sequence[str]) -> None:
    if isinstance(rankings, str) or isinstance(truths, str):
        raise InvalidInputError("rankings must be a list of rankings and truths a list of root causes, one per case; "
                                f"got {type(rankings).__name__} and {type(truths).__name__}")
    if len(rankings) != len(truths) or len(rankings) == 0:
        raise InvalidInputError(f"need one truth per ranking and at least one case, got {len(rankings)} and "
                                f"{len(truths)}")
    for i, r in enumerate(rankings):
        if isinstance(r, str):
            raise InvalidInputError(f"rankings[{i}] must be a list of names, got the string {r!r}")


def ac_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    """Share of cases whose truth appears in the first ``k`` entries of its ranking."""
    _check_cases(rankings, truths)
    k = _check_k(k)
    return float(np.mean([t in list(r)[:k] for r, t in zip(rankings, truths)]))


def avg_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    """``(AC@1 + … + AC@k) / k``."""
    k = _check_k(k)
    return float(np.mean([ac_at_k(rankings, truths, j) for j in range(1, k + 1)]))


def _top(ranking: Sequence[int], labelled: Sequence[int], percent: float) -> list[int]:
    if isinstance(percent, bool) or not isinstance(percent, (int, float, np.integer, np.floating)) \
            or not np.isfinite(percent) or percent <= 0:
        raise InvalidInputError(f"percent must be a finite number > 0 (values above 100 are allowed), got {percent!r}")
    if isinstance(labelled, str) or isinstance(ranking, str):
        raise InvalidInputError("ranking and labelled must be lists of metrics, not strings")
    if len(labelled) == 0:
        raise InvalidInputError("a segment needs at least one labelled metric")
    for name, items in (("ranking", list(ranking)), ("labelled", list(labelled))):
        if len(set(items)) != len(items):
            dup = list(dict.fromkeys(m for m in items if items.count(m) > 1))
            raise InvalidInputError(f"{name} lists metrics more than once: {', '.join(map(repr, dup[:8]))}")
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
