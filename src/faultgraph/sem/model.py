"""Structural equations ``x_i = f_i(Pa(x_i)) + ε_i`` on a given DAG (the paper's eq. 3).

Each node gets its own equation, fitted on its parents only:

* ``"linear"``: least squares, with an optional ridge penalty;
* ``"logistic"``: for a 0/1 node such as a fault label, ``P(x_i = 1 | Pa) = σ(b + Pa·β)``;
* ``"mlp"``: a small neural network (the ``torch`` extra), for nonlinear mechanisms.

The empirical residuals ``ε_i`` are kept, so interventional samples resample the noise
each node actually showed instead of assuming a distribution.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.optimize as sopt

from faultgraph._graph import topological_order
from faultgraph._validation import FittedAttributes, as_generator, check_choice, check_nonnegative
from faultgraph.errors import InvalidInputError, NotADAGError, NotFittedError

__all__ = ["SEM", "sigmoid"]

Kind = Literal["linear", "mlp"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(−z))``, without overflow.

    Parameters
    ----------
    z : array-like of float
        Any shape; computed element-wise as ``exp(−log(1 + exp(−z)))``.

    Returns
    -------
    ndarray of float
        Values in ``[0, 1]``, of ``z``'s shape.
    """
    return np.exp(-np.logaddexp(0.0, -z))


def _fit_linear(Xp: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Least squares ``y ≈ b + Xp β`` with penalty ``ridge·|β|²`` (intercept unpenalised)."""
    if Xp.shape[1] == 0:
        return np.zeros(0), float(y.mean())
    mx, my = Xp.mean(axis=0), y.mean()
    Xc = Xp - mx
    A = Xc.T @ Xc + ridge * len(y) * np.eye(Xp.shape[1])
    beta = np.linalg.lstsq(A, Xc.T @ (y - my), rcond=None)[0]
    return beta, float(my - mx @ beta)


def _fit_logistic(Xp: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """Maximum likelihood ``P(y=1) = σ(b + Xp β)`` with penalty ``ridge·|β|²/2`` (at least 1e-6)."""
    k = Xp.shape[1]
    lam = max(ridge, 1e-6)
    n = len(y)

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + Xp @ theta[1:]
        p = sigmoid(z)
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z)) / n + 0.5 * lam * float(theta[1:] @ theta[1:])
        r = (p - y) / n
        return loss, np.concatenate([[r.sum()], Xp.T @ r + lam * theta[1:]])

    p0 = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    theta0 = np.concatenate([[np.log(p0 / (1 - p0))], np.zeros(k)])
    res = sopt.minimize(nll, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return res.x[1:], float(res.x[0])


class SEM(FittedAttributes):
    """A structural equation model on a DAG, one fitted equation per node.

    Parameters
    ----------
    kind : {"linear", "mlp"}, default "linear"
        Equation of the continuous nodes; ``"mlp"`` needs the ``torch`` extra.
    ridge : float, default 0.0
        Ridge penalty of the linear and logistic equations (0: plain least squares);
        at least 0.
    binary : {"auto", "never"}, default "auto"
        ``"auto"`` models a node with only the values 0 and 1 by a logistic equation;
        ``"never"`` treats every node as continuous.
    hidden : int, default 16
        Hidden units of the MLP equations.
    epochs : int, default 300
        Training length (L-BFGS iterations) of the MLP equations.
    random_state : int, numpy.random.Generator or None, default None
        Seed of the MLP initialisation.

    Attributes
    ----------
    nodes_ : list of str
        Node names, in the order of the data's columns.
    order_ : list of str
        A topological order of the nodes.
    parents_ : dict
        ``{node: [parent, ...]}``.
    node_kind_ : dict
        ``{node: "linear" | "logistic" | "mlp"}``.
    coef_, intercept_ : dict
        ``{node: array of parent coefficients}``, ``{node: float}`` (for MLP nodes, those
        of a linear fit, kept for paths and summaries).
    noise_scale_ : dict
        ``{node: standard deviation of the residuals}``.
    residuals_ : dict
        ``{node: the empirical residuals ε_i}``.
    """

    def __init__(
        self,
        *,
        kind: Kind = "linear",
        ridge: float = 0.0,
        binary: Literal["auto", "never"] = "auto",
        hidden: int = 16,
        epochs: int = 300,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.kind = kind
        self.ridge = ridge
        self.binary = binary
        self.hidden = hidden
        self.epochs = epochs
        self.random_state = random_state

    # --- fitting ----------------------------------------------------------------------

    def fit(self, data: pd.DataFrame, graph: Any) -> SEM:
        """Fit every node's equation on its parents in ``graph``.

        Lagged edges of a learned graph are left out with a ``UserWarning``: the model
        holds same-step equations only.

        Parameters
        ----------
        data : pandas.DataFrame
            One column per node (names are taken as text), one row per sample; finite values.
        graph : LearnedGraph, StructureLearner, (d, d) array-like or dict
            A :class:`~faultgraph.discovery.LearnedGraph`, a fitted ``StructureLearner``, a
            ``(d, d)`` adjacency over ``data``'s columns (``[i, j]`` nonzero: ``i → j``), or a
            ``{node: [parents]}`` mapping.

        Returns
        -------
        SEM
            ``self``, fitted.

        Raises
        ------
        InvalidInputError
            When ``data`` is not a DataFrame or not a valid finite matrix, when ``kind``,
            ``binary`` or ``ridge`` is not allowed, when ``graph`` names nodes ``data``
            lacks, or when an adjacency's shape is not ``(d, d)``.
        NotADAGError
            When ``graph`` has a directed cycle.
        """
        kind = check_choice("kind", self.kind, ("linear", "mlp"))
        check_choice("binary", self.binary, ("auto", "never"))
        ridge = check_nonnegative("ridge", self.ridge)
        frame = self._check_data(data)
        nodes = list(frame.columns)
        parents = _parents_from(graph, nodes)
        A = np.zeros((len(nodes), len(nodes)))
        index = {n: i for i, n in enumerate(nodes)}
        for child, ps in parents.items():
            for p in ps:
                A[index[p], index[child]] = 1.0
        order = topological_order(A)
        if order is None:
            raise NotADAGError("the graph given to SEM.fit has a directed cycle")
        self.nodes_ = nodes
        self.order_ = [nodes[i] for i in order]
        self.parents_ = {n: list(parents.get(n, [])) for n in nodes}
        self.data_ = frame
        self.node_kind_, self.coef_, self.intercept_ = {}, {}, {}
        self.noise_scale_, self.residuals_, self._mlp = {}, {}, {}
        rng = as_generator(self.random_state)
        for node in nodes:
            self._fit_node(node, frame, kind, ridge, rng)
        return self

    def _check_data(self, data: Any) -> pd.DataFrame:
        if not isinstance(data, pd.DataFrame):
            raise InvalidInputError(f"data must be a pandas DataFrame with named columns, got {type(data).__name__}")
        from faultgraph._validation import check_matrix

        arr, names = check_matrix(data, name="data")
        return pd.DataFrame(arr, columns=names)

    def _fit_node(self, node: str, frame: pd.DataFrame, kind: str, ridge: float, rng: np.random.Generator) -> None:
        y = frame[node].to_numpy()
        Xp = frame[self.parents_[node]].to_numpy()
        is_binary = self.binary == "auto" and np.isin(y, (0.0, 1.0)).all()
        if is_binary:
            beta, b = _fit_logistic(Xp, y, ridge)
            self.node_kind_[node] = "logistic"
            resid = y - sigmoid(b + Xp @ beta)
        else:
            beta, b = _fit_linear(Xp, y, ridge)
            self.node_kind_[node] = "linear"
            if kind == "mlp" and Xp.shape[1] > 0:
                from faultgraph.sem.mlp import fit_mlp

                self._mlp[node] = fit_mlp(Xp, y, hidden=int(self.hidden), epochs=int(self.epochs), rng=rng)
                self.node_kind_[node] = "mlp"
                resid = y - self._mlp[node].predict(Xp)
            else:
                resid = y - (b + Xp @ beta)
        self.coef_[node], self.intercept_[node] = beta, b
        self.residuals_[node] = resid
        self.noise_scale_[node] = float(resid.std())

    # --- using the equations ----------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this SEM is not fitted yet; call fit(data, graph) first")

    def check_node(self, node: str, argument: str = "node") -> str:
        """Return ``node`` if the model has it, else raise naming the known nodes.

        Parameters
        ----------
        node : str
            A node name.
        argument : str, default "node"
            The argument's name used in the error message.

        Returns
        -------
        str
            ``node``, unchanged.

        Raises
        ------
        InvalidInputError
            When ``node`` is not a node of the model (the message lists up to 10 nodes and
            hints when the text form of ``node`` would match).
        NotFittedError
            When the model is not fitted.
        """
        self._check_fitted()
        if node not in self.parents_:
            known = ", ".join(map(repr, self.nodes_[:10])) + (" ..." if len(self.nodes_) > 10 else "")
            hint = f" (names are text: {str(node)!r})" if str(node) in self.parents_ else ""
            labels = [n for n in self.nodes_ if self.node_kind_.get(n) == "logistic"]  # 0/1 nodes: fault labels
            said = f"; 0/1 nodes (labels): {', '.join(map(repr, labels[:5]))}" if labels else ""
            raise InvalidInputError(f"{argument} {node!r} is not a node of the model{hint}{said}; nodes: {known}")
        return node

    def mean(self, node: str, parent_values: np.ndarray) -> np.ndarray:
        """``E[x_node | Pa = parent_values]`` for an ``(m, |Pa|)`` array of parent values.

        Parameters
        ----------
        node : str
            A node of the model (not checked here; see :meth:`check_node`).
        parent_values : (m, |Pa|) ndarray of float
            Values of the node's parents, columns in the order of ``parents_[node]``.

        Returns
        -------
        (m,) ndarray of float
            The linear prediction, the MLP's output, or for a logistic node the
            probability ``σ(b + Pa·β)``.

        Raises
        ------
        NotFittedError
            When the model is not fitted.
        """
        self._check_fitted()
        kind = self.node_kind_[node]
        if kind == "mlp":
            return self._mlp[node].predict(parent_values)
        z = self.intercept_[node] + parent_values @ self.coef_[node]
        return sigmoid(z) if kind == "logistic" else z

    @property
    def is_linear(self) -> bool:
        """Whether every equation is linear (then effects have a closed form)."""
        self._check_fitted()
        return all(k == "linear" for k in self.node_kind_.values())

    def weight_matrix(self) -> np.ndarray:
        """``(d, d)`` matrix of the (linear) parent coefficients; ``[i, j]`` is ``i → j``."""
        self._check_fitted()
        index = {n: i for i, n in enumerate(self.nodes_)}
        W = np.zeros((len(self.nodes_), len(self.nodes_)))
        for child, ps in self.parents_.items():
            for p, c in zip(ps, self.coef_[child]):
                W[index[p], index[child]] = c
        return W

    # --- saving ---------------------------------------------------------------------

    def to_arrays(self, prefix: str = "sem") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fitted model as JSON-ready metadata plus named arrays (see ``from_arrays``).

        Parameters
        ----------
        prefix : str, default "sem"
            Prefix of the array names (``"{prefix}/data"``, ``"{prefix}/coef/{i}"``, ...).

        Returns
        -------
        tuple of (dict, dict)
            The metadata (settings, nodes, order, parents, node kinds, intercepts) and
            ``{name: ndarray}`` with the data, coefficients, residuals and MLP weights.

        Raises
        ------
        NotFittedError
            When the model is not fitted.
        """
        self._check_fitted()
        meta = {
            "settings": {"kind": self.kind, "ridge": float(self.ridge), "binary": self.binary,
                         "hidden": int(self.hidden), "epochs": int(self.epochs)},
            "nodes": list(self.nodes_), "order": list(self.order_), "parents": self.parents_,
            "node_kind": self.node_kind_, "intercept": {k: float(v) for k, v in self.intercept_.items()},
        }
        arrays = {f"{prefix}/data": self.data_.to_numpy()}
        for i, node in enumerate(self.nodes_):
            arrays[f"{prefix}/coef/{i}"] = self.coef_[node]
            arrays[f"{prefix}/resid/{i}"] = self.residuals_[node]
            if node in self._mlp:
                m = self._mlp[node]
                for field_name in ("W1", "b1", "W2", "x_mean", "x_scale"):
                    arrays[f"{prefix}/mlp/{i}/{field_name}"] = getattr(m, field_name)
                arrays[f"{prefix}/mlp/{i}/b2"] = np.array(m.b2)
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "sem") -> SEM:
        """Rebuild a fitted SEM from :meth:`to_arrays`'s output.

        Parameters
        ----------
        meta : dict
            The metadata returned by :meth:`to_arrays`.
        arrays : dict
            ``{name: ndarray}`` as returned by :meth:`to_arrays`.
        prefix : str, default "sem"
            The prefix the arrays were saved with.

        Returns
        -------
        SEM
            The fitted model; noise scales are recomputed from the residuals.

        Raises
        ------
        InvalidInputError
            When an entry is missing or has the wrong type or value (a damaged model).
        """
        try:
            sem = cls(**meta["settings"])
            sem.nodes_ = [str(n) for n in meta["nodes"]]
            sem.order_ = [str(n) for n in meta["order"]]
            sem.parents_ = {str(k): [str(p) for p in v] for k, v in meta["parents"].items()}
            sem.node_kind_ = {str(k): str(v) for k, v in meta["node_kind"].items()}
            sem.intercept_ = {str(k): float(v) for k, v in meta["intercept"].items()}
            sem.data_ = pd.DataFrame(arrays[f"{prefix}/data"], columns=sem.nodes_)
            sem.coef_, sem.residuals_, sem.noise_scale_, sem._mlp = {}, {}, {}, {}
            for i, node in enumerate(sem.nodes_):
                sem.coef_[node] = arrays[f"{prefix}/coef/{i}"]
                sem.residuals_[node] = arrays[f"{prefix}/resid/{i}"]
                sem.noise_scale_[node] = float(sem.residuals_[node].std())
                if sem.node_kind_[node] == "mlp":
                    from faultgraph.sem.mlp import MLPEquation

                    a = {f: arrays[f"{prefix}/mlp/{i}/{f}"] for f in ("W1", "b1", "W2", "x_mean", "x_scale", "b2")}
                    sem._mlp[node] = MLPEquation(a["W1"], a["b1"], a["W2"], float(a["b2"]), a["x_mean"],
                                                 a["x_scale"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the structural equations of the model are damaged: missing {exc}") from None
        return sem

    def refit(self, data: pd.DataFrame, random_state: int | np.random.Generator | None = None) -> SEM:
        """A new SEM with the same graph and settings, fitted on ``data`` (for the bootstrap).

        Parameters
        ----------
        data : pandas.DataFrame
            One column per node of this model, one row per sample.
        random_state : int, numpy.random.Generator or None, default None
            Seed of the new model's MLP initialisation (None: this model's).

        Returns
        -------
        SEM
            A new fitted model; this one is unchanged.

        Raises
        ------
        NotFittedError
            When this model is not fitted.
        InvalidInputError
            As :meth:`fit`, e.g. when ``data`` lacks a node of the graph.
        """
        self._check_fitted()
        return SEM(kind=self.kind, ridge=self.ridge, binary=self.binary, hidden=self.hidden, epochs=self.epochs,
                   random_state=self.random_state if random_state is None else random_state).fit(data, self.parents_)


def _parents_from(graph: Any, nodes: list[str]) -> dict[str, list[str]]:
    if hasattr(graph, "graph_"):  # a fitted StructureLearner
        graph = graph.graph_
    lagged = getattr(graph, "lagged_edges", None)
    if lagged:
        warnings.warn(f"the graph has {len(lagged)} lagged edge(s) (e.g. {lagged[0][0]}(t-{lagged[0][2]}) -> "
                      f"{lagged[0][1]}); SEM models same-step equations only, so they are left out and effects "
                      "through time are not counted", UserWarning, stacklevel=3)
    if hasattr(graph, "adjacency") and hasattr(graph, "nodes"):
        names, A = [str(n) for n in graph.nodes], np.asarray(graph.adjacency)
    elif isinstance(graph, dict):  # names as the data's columns are kept: text (column 0 is "0")
        graph = {str(k): [str(p) for p in v] for k, v in graph.items()}
        unknown = sorted({p for ps in graph.values() for p in ps} | set(graph))
        missing = [n for n in unknown if n not in nodes]
        if missing:
            raise InvalidInputError(f"graph names nodes the data lacks: {', '.join(map(repr, missing[:8]))}")
        return graph
    else:
        A = np.asarray(graph)
        if A.shape != (len(nodes), len(nodes)):
            raise InvalidInputError(f"graph must be a ({len(nodes)}, {len(nodes)}) adjacency matrix, got {A.shape}")
        names = nodes
    missing = [n for n in names if n not in nodes]
    if missing:
        raise InvalidInputError(f"graph names nodes the data lacks: {', '.join(map(repr, missing[:8]))}")
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for i, j in zip(*np.nonzero(A)):
        parents[names[j]].append(names[i])
    return parents
