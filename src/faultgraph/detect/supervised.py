"""Supervised fault identification, the paper's own setting: metrics plus a 0/1 fault label.

The label enters the causal graph as a sink (it can be caused, never a cause); its
logistic equation on its learned parents gives the fault probability of new rows, and
the decision threshold is the one that maximises F1 on the training rows.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from faultgraph.config import DEFAULTS
from faultgraph._validation import FittedAttributes, check_nonnegative, text_columns
from faultgraph.discovery import LearnedGraph, PriorKnowledge, StructureLearner, sink_parents
from faultgraph.encode import MetricEncoder
from faultgraph.errors import InvalidInputError, NotFittedError
from faultgraph.evaluate import best_f1_threshold
from faultgraph.io.model import damaged, load_model_dir, save_model_dir
from faultgraph.sem import SEM

__all__ = ["FaultIdentifier"]

TASK = "supervised-fault-identification"


def _rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"


class FaultIdentifier(FittedAttributes):
    """Learn the causal graph of metrics and a fault label, then predict the label.

    The label enters the graph as a sink: the metrics' graph is learned by
    :class:`~faultgraph.StructureLearner` on the encoded metrics, and the label's parents
    (its Markov blanket) by sparse logistic regression
    (:func:`~faultgraph.discovery.sink_parents`); the SEM's logistic equation for the label
    gives the fault probability, and the decision threshold is the one that maximises F1 on
    the training rows.

    Parameters
    ----------
    label : str, default "fault"
        The name of the 0/1 fault-label column.
    method, lambda1, threshold
        Passed to :class:`~faultgraph.StructureLearner`.
    prior : PriorKnowledge, optional
        Extra prior knowledge (the label is always a sink; a prior that makes it a source or
        the start of a required edge is refused by ``fit``). What it says of metrics the
        encoder drops (constant or missing in the fitting data) is left out, a required or
        given edge with a warning.
    max_gap : int
        Longest run of missing steps the encoder fills.
    ridge : float, default 0.0
        Ridge penalty of the structural equations, >= 0.
    lags : int, default 0
        Past steps of every metric that join the candidate parents (rows in time order).
        Time then orients the same-step edges it can: a pair linked across steps one way
        only may not be linked the other way at the same step
        (:func:`~faultgraph.discovery.ensemble.time_forbidden`), decided before any
        same-step edge is.
    bootstrap : int, default 0
        0 (one graph), or the number (>= 2) of graphs of an ensemble learned on
        block-bootstrap resamples of the rows (:mod:`faultgraph.discovery.ensemble`); the
        label stays a sink in every one.
    block : int, optional
        Rows per bootstrap block (default ``⌈n^(1/3)⌉``).
    random_state : int or None, default 0
        Seed of the resamples.
    scheduler, n_workers
        Where the resamples run (:mod:`faultgraph.parallel`: a LocalCluster by default,
        ``n_workers=0`` in this process); not saved.

    Attributes
    ----------
    encoder_ : MetricEncoder
        The fitted :class:`~faultgraph.MetricEncoder` of the metrics.
    graph_ : LearnedGraph
        The learned :class:`~faultgraph.discovery.LearnedGraph` (metrics + label, the
        label's in-edges weighted by its logistic coefficients; with lags, its ``lagged``
        weights).
    ensemble_ : GraphEnsemble or None
        The :class:`~faultgraph.discovery.ensemble.GraphEnsemble` over metrics + label
        (``None`` without ``bootstrap``).
    time_order_ : ndarray or None
        With lags, the ``(lags, d + 1, d + 1)`` weights of the past-only solve that ordered
        the metrics in time (``None`` without lags).
    sem_ : SEM
        The fitted :class:`~faultgraph.sem.SEM` on the encoded data.
    decision_threshold_ : float
        Probability at or above which a row is called a fault.
    train_f1_ : float
        F1 on the training rows at that threshold.
    fit_seconds_ : float
        Wall time of ``fit`` (not saved).
    """

    def __init__(
        self,
        label: str = "fault",
        *,
        method: str = "dagma",
        lambda1: float | None = None,
        threshold: float = DEFAULTS.threshold,
        prior: PriorKnowledge | None = None,
        max_gap: int = DEFAULTS.max_gap,
        ridge: float = 0.0,
        lags: int = 0,
        bootstrap: int = 0,
        block: int | None = None,
        random_state: int | None = 0,
        scheduler: str | None = None,
        n_workers: int | None = None,
    ) -> None:
        self.label = label
        self.method = method
        self.lambda1 = lambda1
        self.threshold = threshold
        self.prior = prior
        self.max_gap = max_gap
        self.ridge = ridge
        self.lags = lags
        self.bootstrap = bootstrap
        self.block = block
        self.random_state = random_state
        self.scheduler = scheduler
        self.n_workers = n_workers

    def _split(self, frame: pd.DataFrame, need_label: bool) -> tuple[pd.DataFrame, np.ndarray | None]:
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(f"data must be a DataFrame, got {type(frame).__name__}")
        if not isinstance(self.label, str):
            raise InvalidInputError(f"label must be a column name as text (metric names are read as text: column "
                                    f"{self.label!r} is {str(self.label)!r}), got {type(self.label).__name__}")
        frame = text_columns(frame)
        if self.label not in frame.columns:
            if need_label:
                raise InvalidInputError(f"the label column {self.label!r} is not in the data; columns: "
                                        + ", ".join(map(repr, list(frame.columns)[:10])))
            return frame, None
        if not need_label:  # ignored: its values may be unknown yet (NaN)
            return frame.drop(columns=[self.label]), None
        label = frame[self.label]
        if not pd.api.types.is_numeric_dtype(label) and not pd.api.types.is_bool_dtype(label):
            from faultgraph.io.metrics import _numbers

            numbers = _numbers(label)  # true/false as 1/0, as files are read
            bad = label[numbers.isna() & label.notna()]
            if len(bad):
                raise InvalidInputError(f"the label column {self.label!r} must hold only 0 and 1 (or true/false), "
                                        f"found {bad.iloc[0]!r}: write the label as 0/1")
            label = numbers
        y = self._fill_label(label.to_numpy(dtype=float), frame.index)
        if not np.isin(y, (0.0, 1.0)).all():
            bad = frame[self.label][~np.isin(y, (0.0, 1.0))].iloc[0]
            shown = f"{float(bad):g}" if isinstance(bad, (int, float, np.number)) else repr(bad)
            raise InvalidInputError(f"the label column {self.label!r} must hold only 0 and 1, found {shown}")
        return frame.drop(columns=[self.label]), y

    def _fill_label(self, y: np.ndarray, index: pd.Index) -> np.ndarray:
        """The label with runs of at most ``max_gap`` missing values taken from the value
        before them (a state holds until it changes; the grid steps ``--resample`` adds over
        a short hole in the data, as the metrics' gaps are filled), with a warning; a longer
        run, or one at the start, is refused with its place."""
        missing = np.isnan(y)
        if not missing.any():
            return y
        runs = np.flatnonzero(np.diff(np.r_[0, missing.astype(int), 0]))
        starts, ends = runs[::2], runs[1::2]
        worst = int(np.argmax(ends - starts))
        if starts[0] == 0 or int((ends - starts).max()) > int(self.max_gap):
            at = 0 if starts[0] == 0 else worst
            raise InvalidInputError(
                f"the label column {self.label!r} has no value on {_rows(int(missing.sum()))}, "
                f"{int(ends[at] - starts[at])} in a row from {index[starts[at]]}"
                f"{' (the first rows)' if starts[at] == 0 else ''}; runs of up to max_gap ({self.max_gap}, --max-gap) "
                "rows after a value are filled from it: give those rows a 0 or 1, or drop them")
        filled = pd.Series(y).ffill().to_numpy()
        warnings.warn(f"the label column {self.label!r} had no value on {_rows(int(missing.sum()))} (the longest run "
                      f"{int((ends - starts).max())}, from {index[starts[worst]]}): each took the value before it",
                      UserWarning, stacklevel=4)
        return filled

    def fit(self, data: pd.DataFrame) -> FaultIdentifier:
        """Fit on metrics plus the label column (both classes must occur).

        Encodes the metrics, learns their graph (with lags: time orients the same-step edges
        first), picks the label's parents, fits the SEM, learns the ensemble (with
        ``bootstrap``) and sets the F1-best decision threshold on the training rows.

        Parameters
        ----------
        data : pandas.DataFrame
            Metrics as columns plus the label column holding only 0 and 1; rows in time order
            when ``lags`` > 0.

        Returns
        -------
        FaultIdentifier
            ``self``, fitted.

        Raises
        ------
        InvalidInputError
            When ``data`` is not a DataFrame, ``label`` is not text or not a column, the label
            holds values other than 0 and 1 or only one of them, ``ridge`` is negative, ``lags``
            is not an integer >= 0, ``bootstrap`` is 1 or not an integer >= 0, the prior makes
            the label a cause, or the encoder or the structure learner refuses the metrics.
        """
        check_nonnegative("ridge", self.ridge)
        metrics, y = self._split(data, need_label=True)
        if y is None or y.min() == y.max():
            raise InvalidInputError(f"the label column {self.label!r} has only one value; "
                                    "fitting needs both normal (0) and faulty (1) rows")
        from faultgraph.discovery.ensemble import check_bootstrap

        if isinstance(self.lags, bool) or not isinstance(self.lags, (int, np.integer)) or self.lags < 0:
            raise InvalidInputError(f"lags must be an integer >= 0 (past steps as candidate parents), got {self.lags!r}")
        n_graphs = check_bootstrap(self.bootstrap)
        p = int(self.lags)
        start = time.perf_counter()
        self.encoder_ = MetricEncoder(max_gap=self.max_gap).fit(metrics)
        X = self.encoder_.transform(metrics).reset_index(drop=True)
        names = list(X.columns)
        d = len(names)
        metrics_prior = self._metrics_prior(warn=True)
        learner = StructureLearner(self.method, lambda1=self.lambda1, threshold=self.threshold,  # type: ignore[arg-type]
                                   standardize=True, prior=metrics_prior, lags=p).fit(X)
        W, lagged = learner.adjacency_, learner.lagged_adjacency_
        spec = self._graph_spec(names, learner)
        if p:  # time orients what it can before the same-step edges are decided
            from faultgraph.discovery import lagged_design
            from faultgraph.discovery.ensemble import learn_with_time_order, weighted_moments

            Zfull = lagged_design(X.to_numpy(), p)
            W, lagged, order = learn_with_time_order(weighted_moments(Zfull, None, standardize=True), len(Zfull),
                                                     spec)
        # The label is a sink: its parents are its Markov blanket, chosen by sparse
        # logistic regression (BIC over an L1 path), never by the linear learner.
        allowed, needed = self._sink_masks(names)
        Z = X.to_numpy()[p:]
        Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
        parents, _ = sink_parents(Z, y[p:], allowed=allowed)
        parents = parents | needed  # a required edge into the label is kept whatever the selection says
        A = np.zeros((d + 1, d + 1))
        A[:-1, :-1] = W
        X[self.label] = y
        self.sem_ = SEM(ridge=self.ridge).fit(X, {**{n: [] for n in X.columns}, **{
            child: [names[i] for i in np.flatnonzero(W[:, j])] for j, child in enumerate(names)},
            self.label: [names[i] for i in np.flatnonzero(parents)]})
        label_coef = dict(zip(self.sem_.parents_[self.label], self.sem_.coef_[self.label]))
        for i in np.flatnonzero(parents):
            A[i, -1] = label_coef[names[i]]
        full_lagged = self.time_order_ = None
        if p:
            full_lagged = np.zeros((p, d + 1, d + 1))
            full_lagged[:, :-1, :-1] = lagged
            self.time_order_ = np.zeros((p, d + 1, d + 1))
            self.time_order_[:, :-1, :-1] = order
        self.graph_ = LearnedGraph(nodes=(*names, self.label), adjacency=A, method=learner.graph_.method,
                                   params={**learner.graph_.params, "label": self.label,
                                           "label_edges": "logistic coefficients"},
                                   elapsed_s=learner.graph_.elapsed_s, dropped_edges=learner.graph_.dropped_edges,
                                   lagged=full_lagged)
        if n_graphs:  # each resample is a fit as long as this one: refused, with the numbers, when they cannot finish
            from faultgraph._budget import check_ensemble, ensemble_workers
            from faultgraph.parallel.cluster import resolve_scheduler

            address = resolve_scheduler(self.scheduler) if self.n_workers != 0 else None
            check_ensemble(n_graphs, time.perf_counter() - start, ensemble_workers(address, self.n_workers))
        self.ensemble_ = self._ensemble(spec, X[names].to_numpy(), y, allowed, needed, n_graphs) if n_graphs else None
        proba = self._proba_encoded(X)
        self.decision_threshold_, self.train_f1_ = best_f1_threshold(y, proba)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _graph_spec(self, names: list[str], learner: StructureLearner) -> Any:
        """The learner's options and prior masks over the design, for graphs from moments."""
        from faultgraph.discovery.ensemble import GraphSpec

        p, d = int(self.lags), len(names)
        prior = self._metrics_prior() or PriorKnowledge()
        allowed, required = prior.masks(names)
        if p:
            allowed = np.vstack([allowed] + [prior.lagged_mask(names)] * p)
            required = np.vstack([required] + [np.zeros((d, d), dtype=bool)] * p)
        params = learner.graph_.params
        return GraphSpec(n_vars=d, lags=p, method=learner.graph_.method, lambda1=float(params["lambda1"]),
                         threshold=float(params["threshold"]), standardize=True, refine=bool(params["refine"]),
                         screen=bool(params.get("screen", False)), allowed=allowed, required=required)

    def _sink_masks(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Which metrics may be parents of the label, and which must be: the prior's edges
        into the label, read as :meth:`PriorKnowledge.masks` reads edges (patterns expanded,
        names checked, contradictions refused); a known graph that names the label's parents
        allows those and no other. A metric sink may still be a parent of the label (a
        symptom that defines the fault: a sink among the metrics); forbid the edge into the
        label to rule that out."""
        p, label = self._modelled_prior(), self.label
        if p is None:
            return np.ones(len(names), dtype=bool), np.zeros(len(names), dtype=bool)

        def into(edges: Any) -> tuple[tuple[str, str], ...]:
            return tuple(e for e in edges if e[1] == label)

        allowed, required = PriorKnowledge(forbidden=into(p.forbidden), required=into(p.required),
                                           graph=into(p.graph or ()) or None).masks([*names, label])
        return allowed[:-1, -1], required[:-1, -1]

    def _ensemble(self, spec: Any, X: np.ndarray, y: np.ndarray, allowed: np.ndarray, needed: np.ndarray,
                  n_graphs: int) -> Any:
        from functools import partial

        from faultgraph.discovery import lagged_design
        from faultgraph.discovery.ensemble import GraphEnsemble, default_block, resample_seeds, run_resamples

        p = int(self.lags)
        Z = lagged_design(X, p)
        block = default_block(len(Z)) if self.block is None else self.block
        seeds = resample_seeds(n_graphs, self.random_state)
        fitted = run_resamples(partial(_resample_graph, spec, Z, y[p:], allowed, needed), len(Z), seeds, block,
                               scheduler=self.scheduler, n_workers=self.n_workers)
        graphs = np.stack([A for A, _, _ in fitted])
        lagged = np.stack([L for _, L, _ in fitted]) if p else None
        order = np.stack([O for _, _, O in fitted]) if p else None
        return GraphEnsemble((*self.encoder_.columns_, self.label), graphs, lagged, seeds, int(block), len(Z),
                             order)

    def _modelled_prior(self, warn: bool = False) -> PriorKnowledge | None:
        """``prior`` without what it says of metrics the encoder dropped
        (``faultgraph.detect.unsupervised._modelled_prior``; ``warn``: once, at fit)."""
        from faultgraph.detect.unsupervised import _modelled_prior

        encoder = getattr(self, "encoder_", None)
        if encoder is None:
            return self.prior
        # patterns expand over the metrics (the label, named as itself, passes through): "*",
        # the rest of the metrics, never takes the label
        return _modelled_prior(self.prior, list(encoder.columns_), encoder.dropped_,
                              stacklevel=5 if warn else None)

    def _metrics_prior(self, warn: bool = False) -> PriorKnowledge | None:
        """The prior among the metrics alone: whatever names the label is its business
        (and what it says of metrics the encoder dropped goes, :meth:`_modelled_prior`)."""
        p, label = self._modelled_prior(warn), self.label
        if p is None:
            return None
        if label in p.sources or any(label == e[0] for e in (*p.required, *(p.graph or ()))):
            raise InvalidInputError(f"the prior makes the label {label!r} a cause (a source, or the start of a "
                                    "required or given edge); a fault label is always an effect (a sink)")
        if any(label in tier for tier in p.tiers[:-1]):
            raise InvalidInputError(f"the prior puts the label {label!r} in a tier before others, which would make "
                                    "it a cause of theirs; a fault label is always an effect: leave it out of "
                                    "the tiers or put it in the last")
        among, _ = p.without([label])
        # a known graph among the metrics is used as given; one that names only the label's
        # parents says nothing about the metrics
        return among if among.graph != () else replace(among, graph=None)

    def prior_masks(self) -> tuple[np.ndarray, np.ndarray, tuple[tuple[str, ...], ...]]:
        """The prior as the fit applied it, over the graph's nodes (the metrics, then the label).

        Among the metrics, the prior without whatever names the label (its masks and
        tiers); into the label, every metric the prior does not forbid as its parent (a
        metric sink may still raise the fault; where a known graph names the label's
        parents, those alone); out of the label, nothing (a sink); lagged,
        the metrics' pasts as among the metrics and into the label as at the same step, and
        each node's own past.

        Returns
        -------
        tuple of ((d + 1, d + 1) ndarray of bool, (d + 1, d + 1) ndarray of bool, tuple)
            The same-step mask of allowed edges, the lagged one, and the metrics' tiers.

        Raises
        ------
        NotFittedError
            When the model is not fitted.
        """
        self._check_fitted()
        names = list(self.encoder_.columns_)
        d = len(names)
        prior = self._metrics_prior() or PriorKnowledge()
        allowed = np.zeros((d + 1, d + 1), dtype=bool)
        lagged = np.zeros((d + 1, d + 1), dtype=bool)
        allowed[:d, :d], _ = prior.masks(names)
        lagged[:d, :d] = prior.lagged_mask(names)
        allowed[:d, d] = lagged[:d, d] = self._sink_masks(names)[0]
        lagged[d, d] = True
        return allowed, lagged, tuple(tuple(t) for t in prior.expand(names).tiers)

    def _check_fitted(self) -> None:
        if not hasattr(self, "sem_"):
            raise NotFittedError("this FaultIdentifier is not fitted yet; call fit(data) first")

    @property
    def label_parents_(self) -> list[str]:
        """The metrics the label's equation uses (its parents in the learned graph)."""
        self._check_fitted()
        return list(self.sem_.parents_[self.label])

    def _proba_encoded(self, X: pd.DataFrame) -> np.ndarray:
        parents = self.sem_.parents_[self.label]
        return self.sem_.mean(self.label, X[parents].to_numpy() if parents else np.zeros((len(X), 0)))

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        """The fault probability of each row (metrics as in training; a label column is ignored).

        Parameters
        ----------
        data : pandas.DataFrame
            Rows holding (at least) the metrics the model was fitted on; extra columns and the
            label column (whose values may be unknown) are ignored.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` probabilities in [0, 1].

        Raises
        ------
        NotFittedError
            Before ``fit``.
        InvalidInputError
            When ``data`` is not a DataFrame or lacks a metric the model was fitted on.
        """
        self._check_fitted()
        metrics, _ = self._split(data, need_label=False)
        missing = [c for c in self.encoder_.columns_ if c not in metrics.columns]
        if missing:
            raise InvalidInputError(f"data lacks metrics the model was fitted on: {', '.join(map(repr, missing[:8]))}")
        return self._proba_encoded(self.encoder_.transform(metrics))

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        """0/1 decisions at ``decision_threshold_``.

        Parameters
        ----------
        data : pandas.DataFrame
            As for :meth:`predict_proba`.

        Returns
        -------
        numpy.ndarray
            ``(n,)`` ints: 1 where the probability is at least ``decision_threshold_``.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        InvalidInputError
            As for :meth:`predict_proba`.
        """
        return (self.predict_proba(data) >= self.decision_threshold_).astype(int)

    # --- saving -------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model folder (``model.json`` + ``arrays.npz``, atomically).

        Keeps the parameters (not ``scheduler``/``n_workers``), the encoder, the graph (its
        lagged and time-order weights with lags), the SEM, the prior, the ensemble, the
        decision threshold and the training F1.

        Parameters
        ----------
        path : str or Path
            The folder to write (created if needed).

        Returns
        -------
        Path
            The folder written.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        InvalidInputError
            When ``path`` is an existing file.
        """
        self._check_fitted()
        sem_meta, arrays = self.sem_.to_arrays()
        arrays["graph/adjacency"] = self.graph_.adjacency
        meta = {
            "task": TASK,
            "label": self.label,
            "params": {"method": self.method, "lambda1": self.lambda1, "threshold": self.threshold,
                       "max_gap": self.max_gap, "ridge": self.ridge, "lags": int(self.lags),
                       "bootstrap": int(self.bootstrap), "block": self.block, "random_state": self.random_state},
            "metrics": list(self.encoder_.columns_),
            "encoder": self.encoder_.to_dict(),
            "graph": {k: v for k, v in self.graph_.to_dict().items() if k != "edges"},
            "sem": sem_meta,
            "decision_threshold": self.decision_threshold_,
            "train_f1": self.train_f1_,
        }
        if self.graph_.lagged is not None:
            arrays["graph/lagged"] = self.graph_.lagged
        if getattr(self, "time_order_", None) is not None:
            arrays["graph/time_order"] = self.time_order_
        if self.prior is not None:
            meta["prior"] = self.prior.to_dict()
        if getattr(self, "ensemble_", None) is not None:
            meta["ensemble"], more = self.ensemble_.to_arrays()
            arrays.update(more)
        return save_model_dir(path, meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> FaultIdentifier:
        """Read a model folder written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
            The model folder.

        Returns
        -------
        FaultIdentifier
            The fitted model (``scheduler`` and ``n_workers`` at their defaults).

        Raises
        ------
        InvalidInputError
            When the folder is missing, damaged, written by a newer faultgraph, holds another
            kind of model, or its ``model.json`` lacks or garbles a field.
        """
        meta, arrays = load_model_dir(path, task=TASK)
        try:
            p = meta["params"]
            prior = PriorKnowledge.from_dict(meta["prior"]) if meta.get("prior") is not None else None
            model = cls(meta["label"], method=p["method"], lambda1=p["lambda1"], threshold=p["threshold"],
                        max_gap=p["max_gap"], ridge=p["ridge"], prior=prior, lags=int(p.get("lags", 0)),
                        bootstrap=int(p.get("bootstrap", 0)), block=p.get("block"),
                        random_state=p.get("random_state", 0))
            model.encoder_ = MetricEncoder.from_dict(meta["encoder"])
            g = meta["graph"]
            model.graph_ = LearnedGraph(
                nodes=tuple(g["nodes"]), adjacency=arrays["graph/adjacency"], method=g["method"],
                params=g["params"], elapsed_s=g["elapsed_s"],
                dropped_edges=tuple((e["source"], e["target"], e["weight"]) for e in g["dropped_edges"]),
                lagged=arrays.get("graph/lagged"))
            model.time_order_ = arrays.get("graph/time_order", model.graph_.lagged)
            model.ensemble_ = None
            if meta.get("ensemble") is not None:
                from faultgraph.discovery.ensemble import GraphEnsemble

                model.ensemble_ = GraphEnsemble.from_arrays(meta["ensemble"], arrays)
            model.sem_ = SEM.from_arrays(meta["sem"], arrays)
            model.decision_threshold_ = float(meta["decision_threshold"])
            model.train_f1_ = float(meta["train_f1"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise damaged(path, exc) from None
        return model

    def describe(self) -> dict[str, Any]:
        """A short JSON-ready summary: label, parents, threshold, graph size (``n_edges``: every
        same-step edge, those into the label included; ``n_metric_edges``: those among the
        metrics)."""
        self._check_fitted()
        k = list(self.graph_.nodes).index(self.label)
        among = np.delete(np.delete(np.asarray(self.graph_.adjacency), k, axis=0), k, axis=1)
        return {"label": self.label, "label_parents": self.label_parents_,
                "decision_threshold": self.decision_threshold_, "train_f1": self.train_f1_,
                "n_metrics": len(self.encoder_.columns_), "n_edges": int(np.count_nonzero(self.graph_.adjacency)),
                "n_metric_edges": int(np.count_nonzero(among)), "dropped_metrics": dict(self.encoder_.dropped_)}


def _resample_graph(spec: Any, Z: np.ndarray, y: np.ndarray, allowed: np.ndarray, needed: np.ndarray,
                    rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ensemble member: the metrics' graph from the resample's weighted moments and the
    label's parents (a sink: an in-edge column only) from its rows; ``(A, lagged, order)``
    over metrics + label, the label last (``order``: the time order's past-only weights)."""
    from faultgraph.discovery.ensemble import learn_with_time_order, weighted_moments

    d, p = spec.n_vars, spec.lags
    weights = np.bincount(rows, minlength=len(Z)).astype(float)
    W, lagged, order = learn_with_time_order(weighted_moments(Z, weights, standardize=True), len(Z), spec)
    A = np.zeros((d + 1, d + 1))
    A[:-1, :-1] = W
    Xr, yr = Z[rows, :d], y[rows]
    sd = Xr.std(axis=0)
    if yr.min() < yr.max():
        parents, _ = sink_parents((Xr - Xr.mean(axis=0)) / np.where(sd > 0, sd, 1.0), yr, allowed=allowed & (sd > 0))
        A[:-1, -1] = (parents | needed).astype(float)
    else:
        A[:-1, -1] = needed.astype(float)
    full = np.zeros((p, d + 1, d + 1))
    full[:, :-1, :-1] = lagged
    full_order = np.zeros((p, d + 1, d + 1))
    full_order[:, :-1, :-1] = order
    return A, full, full_order
