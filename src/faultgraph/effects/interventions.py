"""Interventions ``do(x = v)`` on a fitted SEM: ancestral sampling and counterfactuals."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from faultgraph._validation import as_generator
from faultgraph.errors import InvalidInputError
from faultgraph.sem import SEM

__all__ = ["interventional_samples", "what_if"]


def _check_do(sem: SEM, do: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(do, Mapping):
        raise InvalidInputError(f"do must be a mapping such as {{'cpu': 1.0}}, got {type(do).__name__}")
    out = {}
    for node, value in do.items():
        sem.check_node(node, "do")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"do[{node!r}] must be a number, got {value!r}") from None
        if not np.isfinite(v):
            raise InvalidInputError(f"do[{node!r}] must be finite, got {v}")
        out[node] = v
    return out


def interventional_samples(
    sem: SEM,
    do: Mapping[str, float] | None = None,
    n: int = 1000,
    random_state: int | np.random.Generator | None = None,
    *,
    expected_binary: bool = False,
) -> pd.DataFrame:
    """Draw ``n`` samples from the SEM under ``do`` (an intervention is data: ``{"cpu": 1.0}``).

    Ancestral sampling in topological order: an intervened node takes its set value, any
    other continuous node ``f_i(Pa) + ε`` with ``ε`` resampled from its own empirical
    residuals, and a 0/1 node a Bernoulli draw with probability ``σ(b + Pa·β)``. With
    ``expected_binary=True`` a 0/1 node takes that probability instead of a draw (the
    same expectation, less Monte Carlo noise). The ancestors of the intervened nodes
    keep their observational distribution.

    Parameters
    ----------
    sem : SEM
        A fitted SEM.
    do : mapping of str to float, optional
        Node → the finite value it is set to; ``None`` or empty: observational samples.
    n : int, default 1000
        Number of samples; positive.
    random_state : None, int or numpy.random.Generator, default None
        Seed of the residual and Bernoulli draws.
    expected_binary : bool, default False
        Give a 0/1 node its probability instead of a 0/1 draw.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows, one column per node in the order of ``sem.nodes_``.

    Raises
    ------
    InvalidInputError
        When ``do`` is not a mapping, names a node the SEM lacks or holds a value that is
        not a finite number, or ``n`` is not a positive integer.
    """
    do = _check_do(sem, do or {})
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"n must be a positive integer, got {n!r}")
    rng = as_generator(random_state)
    values: dict[str, np.ndarray] = {}
    for node in sem.order_:
        if node in do:
            values[node] = np.full(n, do[node])
            continue
        parents = sem.parents_[node]
        P = np.column_stack([values[p] for p in parents]) if parents else np.zeros((n, 0))
        mean = sem.mean(node, P)
        if sem.node_kind_[node] == "logistic":
            values[node] = mean if expected_binary else (rng.random(n) < mean).astype(float)
        else:
            values[node] = mean + rng.choice(sem.residuals_[node], size=n, replace=True)
    return pd.DataFrame({node: values[node] for node in sem.nodes_})


def what_if(sem: SEM, rows: pd.DataFrame, do: Mapping[str, float]) -> pd.DataFrame:
    """Counterfactual values of every node for the given rows, had ``do`` held.

    Abduction (each row's noise ``ε_i = x_i − f_i(Pa)``), action (set the intervened
    nodes), prediction (recompute their descendants with the same noise). For a 0/1
    node the noise of a Bernoulli draw is not identifiable, so it takes its
    counterfactual probability ``σ(b + Pa·β)`` unless it is intervened on or has no
    intervened ancestor. Nodes with no intervened ancestor keep their observed values.

    Parameters
    ----------
    sem : SEM
        A fitted SEM.
    rows : pandas.DataFrame
        Observed rows holding (at least) a column for each of the model's nodes, all
        finite.
    do : mapping of str to float
        Node → the finite value it is set to.

    Returns
    -------
    pandas.DataFrame
        The counterfactual rows, one column per node in the order of ``sem.nodes_``, with
        the index of ``rows``.

    Raises
    ------
    InvalidInputError
        When ``do`` is not a mapping of the SEM's nodes to finite numbers, or ``rows`` is
        not a DataFrame, lacks a node's column or holds NaN or infinite values.
    """
    do = _check_do(sem, do)
    if not isinstance(rows, pd.DataFrame):
        raise InvalidInputError(f"rows must be a DataFrame with the model's columns, got {type(rows).__name__}")
    missing = [n for n in sem.nodes_ if n not in rows.columns]
    if missing:
        raise InvalidInputError(f"rows lack the model's nodes {', '.join(map(repr, missing[:8]))}")
    observed = rows[sem.nodes_].to_numpy(dtype=float)
    if not np.isfinite(observed).all():
        raise InvalidInputError("rows has NaN or infinite values")
    index = {n: i for i, n in enumerate(sem.nodes_)}
    values: dict[str, np.ndarray] = {}
    changed: set[str] = set()
    for node in sem.order_:
        x = observed[:, index[node]]
        if node in do:
            values[node] = np.full(len(rows), do[node])
            changed.add(node)
            continue
        parents = sem.parents_[node]
        if not any(p in changed for p in parents):
            values[node] = x
            continue
        P_obs = observed[:, [index[p] for p in parents]]
        P_new = np.column_stack([values[p] for p in parents])
        if sem.node_kind_[node] == "logistic":
            values[node] = sem.mean(node, P_new)
        else:
            noise = x - sem.mean(node, P_obs)  # abduction
            values[node] = sem.mean(node, P_new) + noise
        changed.add(node)
    return pd.DataFrame({node: values[node] for node in sem.nodes_}, index=rows.index)
