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
        """Write ``data.csv`` and ``truth.json`` into ``out_dir`` (created if needed)."""
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
    """Draw a random DAG (:func:`simulate_dag`), weights from ``w_ranges`` (default
    ±[0.5, 2]) and ``samples`` rows.

    With ``equal_variance=False`` each node's noise scale is drawn from U[0.5, 2]; the
    default gives every node scale 1 (the identifiable setting of NOTEARS and DAGMA).
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

    ``P(fault = 1) = σ(b + strength · Σ_c z_c / √n_causes)`` where ``z_c`` are the
    standardised causes and ``b`` sets the base rate. The metrics are coupled more
    weakly than in :func:`simulate_graph_data` (weights ±[0.3, 0.8] by default), so
    that the label's direct causes, not their ancestors, carry the largest total
    effects on it. Returns the frame (metrics and label), the metric simulation (with
    the true graph) and the names of the true causes.
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
    """:func:`simulate_labelled_faults` written as ``out_dir/data.csv`` and ``truth.json``
    (the graph, ``label`` and ``causes``); returns the frame and the causes."""
    from faultgraph.errors import InvalidInputError

    if n_causes >= nodes:
        raise InvalidInputError(f"--causes must be below --nodes ({nodes}), got {n_causes}")
    data, sim, causes = simulate_labelled_faults(nodes=nodes, samples=samples, n_causes=n_causes,
                                                 random_state=random_state)
    out = Path(out_dir)
    write_csv_atomic(out / "data.csv", data, "%.10g")
    write_json_atomic(out / "truth.json", {**sim.truth_dict(), "label": "fault", "causes": causes})
    return data, causes
