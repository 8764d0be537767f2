"""Choices and defaults, each written once.

The parameters with a fixed set of values are :class:`enum.StrEnum` s (a member *is* its
string, so ``Combine.MEAN_SQUARE == "mean-square"`` and the library keeps accepting plain
strings); the defaults of the workflows live in frozen dataclasses. The library's
estimators, the command line and the service read them from here, so a default changes
in one place.

This module imports nothing heavy: the command line reads it at start-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

__all__ = [
    "CASE_MODE_ONLY",
    "DEFAULTS",
    "Calibration",
    "Combine",
    "Defaults",
    "DetectorConfig",
    "ExplainConfig",
    "FitConfig",
    "LearnConfig",
    "Learner",
    "RankingScales",
    "RcaMethod",
    "Score",
    "ThresholdMethod",
    "UNSUPERVISED_ONLY",
    "values",
]


class Learner(StrEnum):
    """The structure learner: DAGMA's log-det constraint (fast) or NOTEARS' trace of the
    matrix exponential (the paper's eq. 2)."""

    DAGMA = "dagma"
    NOTEARS = "notears"


class Combine(StrEnum):
    """How the per-metric deviations of one step make one score."""

    MEAN_SQUARE = "mean-square"
    MAX_OF_SMOOTHED = "max-of-smoothed"
    MAX = "max"
    MEAN_SQUARE_MAX = "mean-square+max"


class Score(StrEnum):
    """What each step's score of the causal detector adds up."""

    #: ``residual+marginal+innovation`` where the metrics' changes lead each other by two
    #: steps or more (links that take several steps), else ``residual+marginal``.
    AUTO = "auto"
    RESIDUAL_MARGINAL = "residual+marginal"
    RESIDUAL = "residual"
    RESIDUAL_MARGINAL_INNOVATION = "residual+marginal+innovation"


class ThresholdMethod(StrEnum):
    """How the label-free alarm threshold is read off the training scores."""

    POT = "pot"
    QUANTILE = "quantile"


class Calibration(StrEnum):
    """How the detector puts each metric's score parts on one scale (docs/calibration.md);
    ``off`` keeps the robust z as it is."""

    OFF = "off"
    RANK = "rank"
    RANK_CAPPED = "rank-capped"
    RANK_UNCAPPED = "rank-uncapped"
    NORMAL = "normal"
    NORMAL_CAPPED = "normal-capped"
    NORMAL_RATIO = "normal-ratio"
    BAND = "band"


class RankingScales(StrEnum):
    """What ``explain`` divides each metric's residual by (:data:`faultgraph.rca.ranking.SCALES`)."""

    MODEL = "model"
    CALIBRATED = "calibrated"


class RcaMethod(StrEnum):
    """How ``explain`` ranks the metrics of an incident window (see :mod:`faultgraph.rca`)."""

    CAUSAL_INNOVATION_NSIGMA = "causal+innovation+nsigma"
    CAUSAL_NSIGMA = "causal+nsigma"
    CAUSAL = "causal"
    INNOVATION = "innovation"
    NOISE = "noise"
    BARO = "baro"
    NSIGMA = "nsigma"
    RANDOM = "random"
    MECHANISM = "mechanism"
    CONTEXT = "context"
    CONTEXT_INNOVATION_NSIGMA = "context+innovation+nsigma"


def values(choices: type[StrEnum]) -> tuple[str, ...]:
    """The plain strings of a choice's members, in order.

    Parameters
    ----------
    choices : StrEnum subclass
        A choice of :mod:`faultgraph.config` (``Combine``, ``Score``, ...).

    Returns
    -------
    tuple of str
    """
    return tuple(m.value for m in choices)


@dataclass(frozen=True)
class Defaults:
    """The defaults shared by several estimators and commands (one place each)."""

    #: L1 threshold below which a learned edge weight is dropped.
    threshold: float = 0.3
    #: Longest run of missing steps the encoder fills (forward, then linear).
    max_gap: int = 5
    #: Past steps in the causal detector's candidate space.
    lags: int = 1
    #: Steps over which a metric's median is followed (level shifts that last stop alarming).
    drift_window: int = 360
    #: Steps over which the score's background is followed (noisier regimes).
    background_window: int = 1440
    #: Trailing rolling-mean window of the detection score.
    smooth: int = 15
    #: False-alarm probability of the POT threshold.
    risk: float = 1e-2
    #: Quantile of the training scores for the quantile threshold.
    quantile: float = 0.99
    #: Top causes that get a propagation path in ``explain``.
    n_paths: int = 5
    #: Fewest steps an explained window may hold.
    min_steps: int = 3
    #: The causal detector's residual scale is never below this share of the metric's own
    #: scale, nor its marginal scale below this share of its standard deviation (issue 17); 0: off.
    scale_floor: float = 0.0
    #: Each standardised deviation ``z`` enters the score as ``c·asinh(z/c)`` (issue 17); 0: off.
    soft_cap: float = 0.0
    #: Share of the training tail held back to read the label-free threshold on (issue 17); 0: off.
    holdout: float = 0.0
    #: Each deviation enters the score as its tail surprise on the training rows (issue 17):
    #: "off" or one of :data:`faultgraph.detect.unsupervised.CALIBRATIONS` (``TailCalibration``).
    calibration: str = "off"
    #: The detector also scores each step without the drift adjustment, on its own threshold,
    #: and keeps the larger (issue 17): a fault that lasts keeps alarming.
    lasting: bool = True


DEFAULTS = Defaults()


@dataclass(frozen=True)
class _Config:
    """Shared behaviour: ``to_dict`` (plain values) and ``replace``."""

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}

    def replace(self, **changes: Any) -> Any:
        from dataclasses import replace

        return replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class LearnConfig(_Config):
    """``discover``: learn one graph of a metrics file."""

    method: Learner = Learner.DAGMA
    lambda1: float | None = None
    threshold: float = DEFAULTS.threshold
    standardize: bool = True
    max_gap: int = DEFAULTS.max_gap
    lags: int = 0
    refine: bool | None = None
    screen: bool = False
    device: str | None = None


@dataclass(frozen=True)
class DetectorConfig(_Config):
    """The causal detector's hyperparameters (``fit`` without a label)."""

    #: A whole number, or ``"auto"`` (chosen from the training rows, ``encode.lags.choose_lags``).
    lags: int | str = DEFAULTS.lags
    method: Learner = Learner.DAGMA
    lambda1: float | None = None
    threshold: float = DEFAULTS.threshold
    scoring: Score = Score.AUTO
    combine: Combine = Combine.MEAN_SQUARE
    smooth: int = DEFAULTS.smooth
    drift_window: int = DEFAULTS.drift_window
    background_window: int = DEFAULTS.background_window
    threshold_method: ThresholdMethod = ThresholdMethod.POT
    risk: float = DEFAULTS.risk
    quantile: float = DEFAULTS.quantile
    max_gap: int = DEFAULTS.max_gap
    scale_floor: float = DEFAULTS.scale_floor
    soft_cap: float = DEFAULTS.soft_cap
    holdout: float = DEFAULTS.holdout
    calibration: str = DEFAULTS.calibration
    lasting: bool = DEFAULTS.lasting


#: The detector options that a labelled fit (``FaultIdentifier``) does not read.
UNSUPERVISED_ONLY: tuple[str, ...] = ("risk", "combine", "scoring", "drift_window", "background_window",
                                       "scale_floor", "soft_cap", "holdout", "calibration", "lasting")

#: ``explain``'s options that only its case mode (which fits a detector) reads.
CASE_MODE_ONLY: tuple[str, ...] = ("lags", "max_gap", "prior", "graph", "force")


@dataclass(frozen=True)
class FitConfig(_Config):
    """``fit``: a causal detector (no label) or a fault identifier (``label``)."""

    label: str | None = None
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    #: with a label: past steps offered as candidate parents (time orients what it can)
    label_lags: int = 0
    #: with a label: graphs in the ensemble on block-bootstrap resamples (0: one graph)
    bootstrap: int = 0


@dataclass(frozen=True)
class ExplainConfig(_Config):
    """``explain``: how an incident window is ranked."""

    target: str | None = None
    method: RcaMethod | None = None
    reference_window: int | None = None
    #: ``None``: the ranking's default (``"calibrated"``); see :class:`RankingScales`.
    scales: RankingScales | None = None
    n_paths: int = DEFAULTS.n_paths
    min_steps: int = DEFAULTS.min_steps
