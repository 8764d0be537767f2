"""Structure learning: a weighted causal DAG from metrics (NOTEARS and DAGMA, linear SEM).

The maths lives in small pure functions (:mod:`.functions`), the optimisers work from
the second-moment matrix ``S = XᵀX/n`` (:mod:`.optimizers`), and
:class:`StructureLearner` orchestrates validation, priors, thresholding and the
guarantee of a DAG.
"""

from faultgraph.discovery.functions import h_expm, h_logdet, least_squares_loss
from faultgraph.discovery.learner import LearnedGraph, StructureLearner, lagged_design, second_moments
from faultgraph.discovery.optimizers import OptimizerResult, dagma_linear, notears_linear
from faultgraph.discovery.postprocess import break_cycles, threshold_lag_groups, threshold_weights
from faultgraph.discovery.prior import PriorKnowledge
from faultgraph.discovery.sink import sink_parents

__all__ = [
    "LearnedGraph",
    "OptimizerResult",
    "PriorKnowledge",
    "StructureLearner",
    "break_cycles",
    "dagma_linear",
    "h_expm",
    "h_logdet",
    "lagged_design",
    "least_squares_loss",
    "notears_linear",
    "second_moments",
    "sink_parents",
    "threshold_lag_groups",
    "threshold_weights",
]
