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

from faultgraph._validation import check_whole
from faultgraph.errors import InvalidInputError

__all__ = ["ac_at_k", "avg_at_k", "hit_rate", "ndcg"]


def _check_k(k: int) -> int:
    return check_whole("k", k, 1)


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
    """``AC@k``: the share of cases whose true root cause is among the top ``k`` of its ranking.

    Parameters
    ----------
    rankings : sequence of sequence of str
        One ranking per case, most likely root cause first (a list of names, not a string).
    truths : sequence of str
        The true root cause of each case, one per ranking.
    k : int
        How many top entries count; ``>= 1``.

    Returns
    -------
    float
        The share in ``[0, 1]``.

    Raises
    ------
    InvalidInputError
        When ``rankings`` or ``truths`` (or one ranking) is a string, when their lengths
        differ or are 0, or when ``k`` is not an integer ``>= 1``.
    """
    _check_cases(rankings, truths)
    k = _check_k(k)
    return float(np.mean([t in list(r)[:k] for r, t in zip(rankings, truths)]))


def avg_at_k(rankings: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    """``Avg@k``: the mean ``(AC@1 + … + AC@k) / k`` of :func:`ac_at_k`.

    Parameters
    ----------
    rankings : sequence of sequence of str
        One ranking per case, most likely root cause first.
    truths : sequence of str
        The true root cause of each case, one per ranking.
    k : int
        The largest ``k`` averaged over; ``>= 1``.

    Returns
    -------
    float
        The mean share in ``[0, 1]``.

    Raises
    ------
    InvalidInputError
        As :func:`ac_at_k`.
    """
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
    """``HitRate@P%`` (OmniAnomaly's interpretation metric on SMD/ASD).

    The share of the labelled metrics found among the top ``⌊percent/100 · |labelled|⌋``
    entries of the ranking (at least one entry).

    Parameters
    ----------
    ranking : sequence
        The metrics in ranked order, most anomalous first; no metric twice.
    labelled : sequence
        The metrics labelled as interpreting the segment; at least one, no metric twice.
    percent : float, default 100.0
        ``P``; a finite number ``> 0`` (values above 100 are allowed and widen the top).

    Returns
    -------
    float
        The share in ``[0, 1]``.

    Raises
    ------
    InvalidInputError
        When ``percent`` is not a finite number ``> 0``, when ``ranking`` or ``labelled`` is
        a string or lists a metric twice, or when ``labelled`` is empty.
    """
    top = set(_top(ranking, labelled, percent))
    return len(top & set(labelled)) / len(labelled)


def ndcg(ranking: Sequence[int], labelled: Sequence[int], percent: float = 100.0) -> float:
    """``NDCG@P%``: normalised discounted cumulative gain over the top positions.

    Relevance is 1 for labelled metrics and 0 otherwise, over the top
    ``⌊percent/100 · |labelled|⌋`` positions (at least one):
    ``DCG = Σ_i rel_i / log2(i + 2)``, divided by the DCG of an ideal ranking.

    Parameters
    ----------
    ranking : sequence
        The metrics in ranked order, most anomalous first; no metric twice.
    labelled : sequence
        The metrics labelled as interpreting the segment; at least one, no metric twice.
    percent : float, default 100.0
        ``P``; a finite number ``> 0``.

    Returns
    -------
    float
        NDCG in ``[0, 1]``.

    Raises
    ------
    InvalidInputError
        As :func:`hit_rate`.
    """
    top = _top(ranking, labelled, percent)
    rel = set(labelled)
    dcg = sum(1.0 / np.log2(i + 2) for i, m in enumerate(top) if m in rel)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(rel), len(top))))
    return float(dcg / ideal) if ideal else 0.0
