"""Connecting to a dask.distributed cluster, or starting a local one for the duration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultgraph.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["INLINE", "LOCAL_CLUSTER_CONFIG", "SCHEDULER_ENV", "WORKER_DASK_ENV", "WORKER_ENV", "client",
           "import_distributed", "resolve_scheduler"]

#: The environment variable naming the cluster to use when no ``scheduler`` is given.
SCHEDULER_ENV = "FAULTGRAPH_SCHEDULER"
#: The ``scheduler`` value that runs tasks in this process, without dask.
INLINE = "inline"
#: The environment of a local cluster's worker processes: BLAS and OpenMP at one thread
#: (a worker runs one task per core). It replaces dask's ``pre-spawn-environ``, whose
#: ``MALLOC_TRIM_THRESHOLD_`` turns off glibc's adaptive mmap threshold, so that each of a
#: fit's large temporaries is mapped and faulted in anew (7 % slower tasks, measured).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: dask settings of a local cluster: a fleet's tasks are seconds long, and dask's statistical
#: profiler (a sample of each task's stack every 10 ms), its 20 ms event-loop tick and its
#: 0.5 s system monitor made each task 25 % slower inside a worker than in a plain process
#: on 2 cores (``benchmarks/results/fleet.md``). Workers of a cluster you start yourself
#: take the same settings from the environment (``docs/fleet.md``).
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.nanny.pre-spawn-environ": WORKER_ENV,
}
#: The same settings as environment variables, for ``dask worker`` processes you start
#: yourself (``env $(...) dask worker ADDRESS --nthreads 1 --no-nanny``: without a nanny,
#: dask sets no ``MALLOC_TRIM_THRESHOLD_``); ``docs/fleet.md`` shows the command.
WORKER_DASK_ENV = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "2s",
    **WORKER_ENV,
}


def import_distributed() -> Any:
    """The ``distributed`` module, or an ImportError naming the extra that installs it.

    Returns
    -------
    types.ModuleType

    Raises
    ------
    ImportError
        When dask.distributed is not installed (``pip install 'faultgraph[dask]'``).
    """
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - the dev environment has it
        raise ImportError("running on a cluster needs dask.distributed: pip install 'faultgraph[dask]'") from exc
    return distributed


def resolve_scheduler(scheduler: str | None) -> str | None:
    """``scheduler``, else ``$FAULTGRAPH_SCHEDULER``, else ``None`` (a local cluster); an
    empty string counts as none.

    Parameters
    ----------
    scheduler : str or None
        A dask address (``tcp://host:port``), a scheduler file, ``"inline"``, or ``None``.

    Returns
    -------
    str or None
        The address stripped of surrounding blanks, or ``None``.

    Raises
    ------
    InvalidInputError
        When ``scheduler`` is neither a string nor ``None``.
    """
    if scheduler is None:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    if scheduler is not None and not isinstance(scheduler, str):
        raise InvalidInputError(f"scheduler must be an address such as 'tcp://127.0.0.1:8786', a scheduler file "
                                f"or {INLINE!r}, got {scheduler!r}")
    return scheduler.strip() or None if scheduler is not None else None


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def _without(name: str, value: object) -> Iterator[None]:
    """Environment variable ``name`` out of this process's environment for the block, when
    it holds ``value`` (dask's own setting): a dask nanny started earlier in this process
    writes its ``pre-spawn-environ`` into ``os.environ`` for good, and worker processes
    started later would inherit it. A value of the user's own is left alone."""
    held = os.environ.get(name)
    leaked = held is not None and value is not None and held == str(value)
    if leaked:
        del os.environ[name]
    try:
        yield
    finally:
        if leaked:
            os.environ[name] = held  # type: ignore[assignment]


@contextmanager
def client(scheduler: str | None = None, n_workers: int | None = None, threads_per_worker: int = 1, *,
           connect_timeout: float | None = None) -> Iterator[Client]:
    """A ``distributed.Client`` for the duration of the ``with`` block.

    Parameters
    ----------
    scheduler : str or None, default None
        An existing cluster: ``tcp://host:port`` (any dask address) or the path of a
        scheduler file (``dask scheduler --scheduler-file FILE``). ``None``: the
        ``FAULTGRAPH_SCHEDULER`` environment variable, and when that is unset a
        ``LocalCluster`` of worker processes on 127.0.0.1, without dashboard, closed on exit.
    n_workers : int or None, default None
        Worker processes of the local cluster (default: the CPUs this process may use).
    threads_per_worker : int, default 1
        Threads per local worker (1: one task per process at a time).
    connect_timeout : float or None, default None
        Seconds to wait for an existing scheduler (default: dask's, 30 s).

    Yields
    ------
    distributed.Client
        Closed on exit (and the local cluster with it).

    Raises
    ------
    ImportError
        When dask.distributed is not installed (``pip install 'faultgraph[dask]'``).
    InvalidInputError
        A bad ``n_workers``/``threads_per_worker``, ``scheduler='inline'``, or a scheduler
        that cannot be reached.
    """
    address = resolve_scheduler(scheduler)
    if address == INLINE:
        raise InvalidInputError(f"scheduler={INLINE!r} runs tasks without dask, so there is no client to open; "
                                "give an address ('tcp://host:port'), a scheduler file, or None for a local cluster")
    from faultgraph._validation import check_whole  # here: numpy and pandas only when a cluster starts

    check_whole("n_workers", n_workers, 1, "workers of a cluster", optional=True)
    check_whole("threads_per_worker", threads_per_worker, 1)
    distributed = import_distributed()
    if address is not None:
        timeout = {} if connect_timeout is None else {"timeout": connect_timeout}
        try:
            if "://" not in address and Path(address).is_file():
                c = distributed.Client(scheduler_file=address, **timeout)
            else:
                c = distributed.Client(address, **timeout)
        except (OSError, TimeoutError) as exc:
            raise InvalidInputError(f"the dask scheduler {address!r} cannot be reached ({type(exc).__name__}: "
                                    f"{exc}); start it (dask scheduler), or leave out the scheduler (and "
                                    f"${SCHEDULER_ENV}) for a local cluster") from None
        try:
            yield c
        finally:
            c.close()
        return
    import dask

    dasks = (dask.config.get("distributed.nanny.pre-spawn-environ", default=None) or {}).get("MALLOC_TRIM_THRESHOLD_")
    with dask.config.set(LOCAL_CLUSTER_CONFIG), _without("MALLOC_TRIM_THRESHOLD_", dasks):  # nannies pass it on
        cluster = distributed.LocalCluster(n_workers=n_workers or _default_workers(),
                                           threads_per_worker=threads_per_worker, processes=True,
                                           host="127.0.0.1", dashboard_address=None, env=dict(WORKER_ENV))
    try:
        c = distributed.Client(cluster)
        try:
            yield c
        finally:
            c.close()
    finally:
        cluster.close()
