"""The one exception tree of faultgraph.

::

    FaultgraphError                      base of everything faultgraph raises
    ├── InvalidInputError (ValueError)   bad data, arguments, files or priors
    │   ├── NotADAGError                 a graph that must be acyclic is not
    │   └── PayloadError                 a webhook or API body the service refuses (4xx)
    │                                    (faultgraph.service.alerts)
    ├── NotFittedError (AttributeError)  a result was asked of an unfitted estimator
    ├── DownloadError                    a published dataset could not be fetched
    ├── PrometheusError                  Prometheus could not answer (faultgraph.io.prometheus)
    │   ├── PrometheusUnavailableError   down or unreachable, after retries
    │   └── PrometheusQueryError         a query it refused (also an InvalidInputError)
    └── StoreError                       the service's incident store failed (503;
                                         faultgraph.service.store)
    ConvergenceWarning (UserWarning)     an optimiser stopped short of its tolerance
    DataScaleWarning (UserWarning)       raw data too small in scale for the L1 penalty
    SamplingWarning (UserWarning)        a file's times are no regular grid (resample it)

Messages name the argument, the value received and what is allowed, for
example ``lambda1 must be >= 0, got -0.1``.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DataScaleWarning",
    "DownloadError",
    "FaultgraphError",
    "InvalidInputError",
    "NotADAGError",
    "NotFittedError",
    "SamplingWarning",
]


class FaultgraphError(Exception):
    """Base class of every error faultgraph raises on purpose."""


class InvalidInputError(FaultgraphError, ValueError):
    """The data, an argument, a file or a prior is not acceptable."""


class NotFittedError(FaultgraphError, AttributeError):
    """An estimator was used before ``fit``."""


class DownloadError(FaultgraphError):
    """A published dataset could not be fetched (no network, an HTTP error, an odd answer)."""


class NotADAGError(InvalidInputError):
    """A graph that must be a directed acyclic graph has a cycle."""


class ConvergenceWarning(UserWarning):
    """An optimiser stopped before reaching its tolerance; the result may be poor."""


class SamplingWarning(UserWarning):
    """A metrics file's times are no regular grid (holes, jitter, or metrics stamped at
    different times) and its rows will be used as consecutive steps; resample them onto
    one grid (:func:`faultgraph.encode.align`, ``--resample``)."""


class DataScaleWarning(UserWarning):
    """Learning on the raw scale, the data's variances lie below the L1 penalty, which will
    remove most edges; standardise or rescale the data."""
