"""Run many independent pieces of work on a dask.distributed cluster (or in-process).

Two calls, shared by the fleet (one model per entity) and the graph ensembles::

    with client() as c:                       # a LocalCluster sized to the machine, closed on exit
        ...
    results = run_tasks(fit_one, paths)       # [TaskResult(key, value, error), ...] in items' order

``scheduler`` (or the ``FAULTGRAPH_SCHEDULER`` environment variable) names an existing
cluster: ``tcp://host:port`` or a scheduler file written by ``dask scheduler
--scheduler-file``. ``n_workers=0`` or ``scheduler="inline"`` runs the tasks one after
another in this process, without dask, with identical results. Inside every task BLAS is
pinned to one thread (one task per core is the parallelism).

dask.distributed is an optional dependency: ``pip install 'faultgraph[dask]'``.
"""

from __future__ import annotations

from faultgraph.parallel.cluster import (
    INLINE,
    LOCAL_CLUSTER_CONFIG,
    SCHEDULER_ENV,
    WORKER_DASK_ENV,
    WORKER_ENV,
    client,
    resolve_scheduler,
)
from faultgraph.parallel.tasks import TaskResult, batch_size, pinned_blas, run_tasks

__all__ = ["INLINE", "LOCAL_CLUSTER_CONFIG", "SCHEDULER_ENV", "TaskResult", "WORKER_DASK_ENV", "WORKER_ENV",
           "batch_size", "client", "pinned_blas", "resolve_scheduler", "run_tasks"]
