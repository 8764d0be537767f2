"""A simulated dataset with its true graph: what ``faultgraph simulate graph`` writes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultgraph._validation import as_generator
from faultgraph.io.atomic import write_csv_atomic, write_json_atomic
from faultgraph.simulate.graphs import GraphKind, NoiseKind, simulate_dag, simulate_linear_sem, simulate_weights

__all__ = ["SimulatedGraph", "simulate_graph_data", "simulate_labelled_faults", "write_labelled_faults"]



def _seed_of(random_state: Any) -> int | None:
    """The seed to record in ``params``: an int ``random_state`` (a Generator has none)."""
    return int(random_state) if isinstance(random_state, (int, np.integer)) else None

@dataclass(frozen=True)
class SimulatedGraph:
    """Samples of a linear SEM and its ground truth.

    ``W[i, j]`` is the true weight of ``nodes[i] → nodes[j]``; ``data`` has one column
    per node and a ``timestamp`` index of steps.
    """

    data: pd.DataFrame = field(repr=False)
    W: np.ndarray = field(repr=False)
    noise_scale: np.ndarray = field(repr=False)
    params: dict[str, Any]

    @property
    def nodes(self) -> list[str]:
        return [str(c) for c in self.data.columns]

    def truth_dict(self) -> dict[str, Any]:
        """The ``truth.json`` form: nodes, weighted edges, noise scales and parameters."""
        i, j = np.nonzero(self.W)
        return {
            "nodes": self.nodes,
            "edges": [{"source": self.nodes[a], "target": self.nodes[b], "weight": float(self.W[a, b])}
                      for a, b in zip(i, j)],
            "noise_scale": [float(v) for v in self.noise_scale],
            "params": dict(self.params),
        }

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``data.csv`` and ``truth.json`` into ``out_dir`` (created if needed).

        Both files are written atomically; ``truth.json`` is :meth:`truth_dict`.

        Parameters
        ----------
        out_dir : str or Path
            The folder to write into; existing files of those names are replaced.

        Returns
        -------
        tuple of (Path, Path)
            The paths of ``data.csv`` and ``truth.json``.
        """
        out = Path(out_dir)
        data_path = write_csv_atomic(out / "data.csv", self.data, "%.10g")
        truth_path = write_json_atomic(out / "truth.json", self.truth_dict())
        return data_path, truth_path


def simulate_graph_data(
    *,
    kind: GraphKind = "er",
    nodes: int = 10,
    degree: float = 2.0,
    samples: int = 1000,
    noise: NoiseKind = "gauss",
    equal_variance: bool = True,
    w_ranges: tuple[tuple[float, float], ...] = ((-2.0, -0.5), (0.5, 2.0)),
    random_state: int | np.random.Generator | None = None,
) -> SimulatedGraph:
    """Samples of a random linear SEM with its true graph.

    Draws a random DAG (:func:`simulate_dag`), weights from ``w_ranges`` (default
    ±[0.5, 2]) and ``samples`` rows of ``X = XW + E`` (:func:`simulate_linear_sem`).
    With ``equal_variance=False`` each node's noise scale is drawn from U[0.5, 2]; the
    default gives every node scale 1 (the identifiable setting of NOTEARS and DAGMA).
    Columns are named ``x0 … x{nodes-1}``, zero-padded to one width.

    Parameters
    ----------
    kind : {"er", "sf"}, default "er"
        Erdős–Rényi or scale-free graph.
    nodes : int, default 10
        Number of variables; ``>= 2``.
    degree : float, default 2.0
        Expected number of edges per node; ``> 0``.
    samples : int, default 1000
        Number of rows; a positive integer.
    noise : {"gauss", "exp", "gumbel"}, default "gauss"
        The noise distribution.
    equal_variance : bool, default True
        Whether every node's noise has scale 1 (else drawn from U[0.5, 2]).
    w_ranges : tuple of (float, float) pairs, default ((-2.0, -0.5), (0.5, 2.0))
        The intervals the edge weights are drawn from.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator; an int seed is recorded in ``params["seed"]``.

    Returns
    -------
    SimulatedGraph
        The data (``timestamp`` index of steps), ``W``, the noise scales and the parameters.

    Raises
    ------
    InvalidInputError
        As :func:`simulate_dag` and :func:`simulate_linear_sem` for out-of-range
        ``kind``, ``nodes``, ``degree``, ``samples`` or ``noise``.
    """
    rng = as_generator(random_state)
    B = simulate_dag(nodes, degree, kind, rng)
    W = simulate_weights(B, w_ranges, random_state=rng)
    scale = np.ones(nodes) if equal_variance else rng.uniform(0.5, 2.0, size=nodes)
    X = simulate_linear_sem(W, samples, noise=noise, noise_scale=scale, random_state=rng)
    width = len(str(nodes - 1))
    names = [f"x{i:0{width}d}" for i in range(nodes)]
    data = pd.DataFrame(X, columns=names, index=pd.RangeIndex(samples, name="timestamp"))
    params = {"kind": kind, "nodes": nodes, "degree": degree, "samples": samples, "noise": noise,
              "equal_variance": equal_variance,
              "seed": _seed_of(random_state)}
    return SimulatedGraph(data=data, W=W, noise_scale=scale, params=params)


def simulate_labelled_faults(
    *,
    nodes: int = 20,
    samples: int = 2000,
    n_causes: int = 3,
    degree: float = 1.0,
    strength: float = 2.5,
    base_rate: float = 0.1,
    label: str = "fault",
    w_ranges: tuple[tuple[float, float], ...] = ((-0.8, -0.3), (0.3, 0.8)),
    random_state: int | np.random.Generator | None = None,
) -> tuple[pd.DataFrame, SimulatedGraph, list[str]]:
    """Metrics from a random linear SEM plus a 0/1 fault label caused by ``n_causes`` of them.

    ``P(fault = 1) = σ(b + strength · Σ_c ±z_c / √n_causes)`` where ``z_c`` are the
    standardised causes, each with a random sign, and ``b = log(base_rate / (1 − base_rate))``.
    The metrics are coupled more weakly than in :func:`simulate_graph_data` (weights
    ±[0.3, 0.8] by default), so that the label's direct causes, not their ancestors, carry
    the largest total effects on it (the setting of CGL-BFI eqs. 4–5).

    Parameters
    ----------
    nodes : int, default 20
        Number of metrics; ``>= 2`` and above ``n_causes``.
    samples : int, default 2000
        Number of rows.
    n_causes : int, default 3
        Number of metrics that cause the label, drawn without replacement.
    degree : float, default 1.0
        Expected number of edges per metric in the random ER graph.
    strength : float, default 2.5
        Logit change per standard deviation of the (combined, standardised) causes.
    base_rate : float, default 0.1
        The label's rate at the causes' mean; in ``(0, 1)``.
    label : str, default "fault"
        Name of the label column.
    w_ranges : tuple of (float, float) pairs, default ((-0.8, -0.3), (0.3, 0.8))
        The intervals the edge weights among metrics are drawn from.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.

    Returns
    -------
    tuple of (DataFrame, SimulatedGraph, list of str)
        The frame (metrics and label), the metric simulation (with the true graph, without
        the label) and the names of the true causes, in column order.
    """
    rng = as_generator(random_state)
    sim = simulate_graph_data(kind="er", nodes=nodes, degree=degree, samples=samples, w_ranges=w_ranges,
                              random_state=rng)
    data = sim.data.copy()
    causes = [sim.nodes[i] for i in sorted(rng.choice(nodes, size=n_causes, replace=False))]
    Z = (data[causes] - data[causes].mean()) / data[causes].std()
    signs = rng.choice([-1.0, 1.0], size=n_causes)
    z = strength * (Z.to_numpy() @ signs) / np.sqrt(n_causes) + np.log(base_rate / (1 - base_rate))
    data[label] = (rng.random(samples) < 1.0 / (1.0 + np.exp(-z))).astype(float)
    sim = replace(sim, params={**sim.params, "seed": _seed_of(random_state), "n_causes": n_causes, "strength": strength,
                               "base_rate": base_rate})
    return data, sim, causes


def write_labelled_faults(out_dir: str | Path, *, nodes: int = 20, samples: int = 2000, n_causes: int = 3,
                          random_state: int | np.random.Generator | None = None) -> tuple[pd.DataFrame, list[str]]:
    """:func:`simulate_labelled_faults` written as a folder.

    Writes ``out_dir/data.csv`` (metrics and the ``fault`` column) and ``truth.json`` (the
    metric graph as :meth:`SimulatedGraph.truth_dict`, plus ``label`` and ``causes``).

    Parameters
    ----------
    out_dir : str or Path
        The folder to write into (created if needed).
    nodes : int, default 20
        Number of metrics.
    samples : int, default 2000
        Number of rows.
    n_causes : int, default 3
        Number of metrics causing the label; below ``nodes``.
    random_state : int, numpy.random.Generator or None, default None
        Seed or generator.

    Returns
    -------
    tuple of (DataFrame, list of str)
        The frame written and the names of the true causes.

    Raises
    ------
    InvalidInputError
        When ``n_causes >= nodes`` (the message names the command-line options
        ``--causes`` and ``--nodes``).
    """
    from faultgraph.errors import InvalidInputError

    if n_causes >= nodes:
        raise InvalidInputError(f"--causes must be below --nodes ({nodes}), got {n_causes}")
    data, sim, causes = simulate_labelled_faults(nodes=nodes, samples=samples, n_causes=n_causes,
                                                 random_state=random_state)
    out = Path(out_dir)
    write_csv_atomic(out / "data.csv", data, "%.10g")
    write_json_atomic(out / "truth.json", {**sim.truth_dict(), "label": "fault", "causes": causes})
    return data, causes
