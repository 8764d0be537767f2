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

__all__ = ["CONNECT_TIMEOUT", "INLINE", "LOCAL_CLUSTER_CONFIG", "SCHEDULER_ENV", "WORKER_DASK_ENV", "WORKER_ENV",
           "WORKER_WAIT", "check_address", "client", "import_distributed", "resolve_scheduler"]

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


#: Seconds to reach an existing scheduler (dask's default).
CONNECT_TIMEOUT = 30.0
#: Seconds an existing scheduler may take to show a worker before giving up; also how long
#: a run waits with no worker left before its remaining items fail (:func:`run_tasks`).
WORKER_WAIT = 60.0


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
def _interrupt_ignored() -> Iterator[None]:
    """SIGINT ignored while the local cluster's processes start, so that they inherit it
    (Python keeps an ignored SIGINT ignored): Ctrl-C in a terminal reaches the whole process
    group, and each worker printed its own KeyboardInterrupt traceback; now only this
    process is interrupted, and it closes the cluster. Outside the main thread, nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def check_address(address: str) -> str | None:
    """Refuse, before any work, a scheduler value that can name no dask scheduler.

    Parameters
    ----------
    address : str
        A dask address (``tcp://host:port``, ``host:port``) or the path of a scheduler file.

    Returns
    -------
    str or None
        The address's scheme (``"tcp"``, ...), or ``None`` for ``host:port`` or a file.

    Raises
    ------
    InvalidInputError
        When the scheme is none of dask's (``http://``: a dashboard's URL, say), or the
        value is neither ``host:port`` nor an existing file (a missing scheduler file).
    """
    scheme = address.split("://", 1)[0].lower() if "://" in address else None
    if scheme is not None and scheme not in ("tcp", "tls", "inproc", "ucx", "ws", "wss"):
        raise InvalidInputError(f"scheduler {address!r} is no dask address: give 'tcp://HOST:PORT' (the scheduler's "
                                f"port, 8786 by default, not its dashboard's), a scheduler file, or {INLINE!r}")
    if scheme is None and not Path(address).is_file():
        if ":" not in address or address.endswith((".json", ".yaml", ".yml")) or "/" in address:
            raise InvalidInputError(f"scheduler {address!r} is neither an address ('tcp://HOST:PORT') nor an "
                                    f"existing scheduler file")
    return scheme


def _connect(distributed: Any, address: str, timeout: float) -> Client:
    """A client of the scheduler at ``address`` (or of the scheduler file ``address``),
    within ``timeout`` seconds however the other end behaves: dask's own timeout covers the
    TCP connection, not its handshake, which something else listening there (an HTTP
    server, the dashboard's port) can leave waiting for good, so the other end is first
    asked who it is (:func:`_probe`)."""

    scheme = check_address(address)
    is_file = scheme is None and Path(address).is_file()
    if is_file:
        import json

        try:
            target = str(json.loads(Path(address).read_text(encoding="utf-8"))["address"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"scheduler file {address!r} is no dask scheduler file (its 'address' cannot be "
                                    f"read: {type(exc).__name__})") from None
    else:
        target = address
    why = _probe(target, timeout)
    if why is None:
        try:
            if is_file:
                return distributed.Client(scheduler_file=address, timeout=timeout)
            return distributed.Client(address, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - refused, reset, malformed: all the same to the user
            why = f"{type(exc).__name__}: {str(exc)[:200]}"
    raise InvalidInputError(f"the dask scheduler {address!r} cannot be reached ({why}); is a dask scheduler "
                            f"listening there (dask scheduler; its port, 8786 by default, not its dashboard's)? "
                            f"Or leave out the scheduler (and ${SCHEDULER_ENV}) for a local cluster")


def _probe(address: str, timeout: float) -> str | None:
    """Ask what listens at ``address`` who it is (dask's ``identity`` call), within
    ``timeout`` seconds at each step: ``None`` for a dask scheduler, else why not. Inside a
    running event loop (a notebook's) nothing is asked (``None``)."""
    import asyncio

    async def ask() -> str | None:
        from distributed.comm import connect

        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout + 1.0)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
            reply = await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()
        kind = reply.get("type") if isinstance(reply, dict) else None
        return None if kind == "Scheduler" else f"it answers as {kind or 'something else'}, not as a dask scheduler"

    if address.lower().startswith(("tls://", "wss://")):  # its security settings are the client's: dask asks
        return None
    try:
        asyncio.get_running_loop()
        return None
    except RuntimeError:
        pass
    try:
        return asyncio.run(ask())
    except (asyncio.TimeoutError, TimeoutError):
        return f"no answer in {timeout:g} s"
    except MemoryError:  # a length prefix read from something else's bytes
        return "it answers with something other than dask's protocol"
    except Exception as exc:  # noqa: BLE001 - refused, reset, garbage that is no dask message: not a scheduler
        return f"{type(exc).__name__}: {str(exc)[:200]}"


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
        ``LocalCluster`` of worker processes on 127.0.0.1 (its dashboard, where bokeh is
        installed, on a free port of 127.0.0.1), closed on exit.
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
        c = _connect(distributed, address, CONNECT_TIMEOUT if connect_timeout is None else float(connect_timeout))
        try:
            try:
                c.wait_for_workers(1, timeout=WORKER_WAIT)
            except (TimeoutError, OSError):
                raise InvalidInputError(f"the dask scheduler {address!r} has no worker (waited {WORKER_WAIT:g} s): "
                                        f"start one (dask worker {address}), or leave out the scheduler (and "
                                        f"${SCHEDULER_ENV}) for a local cluster") from None
            yield c
        finally:
            c.close()
        return
    import dask

    dasks = (dask.config.get("distributed.nanny.pre-spawn-environ", default=None) or {}).get("MALLOC_TRIM_THRESHOLD_")
    with dask.config.set(LOCAL_CLUSTER_CONFIG), _without("MALLOC_TRIM_THRESHOLD_", dasks), _interrupt_ignored():
        # the dashboard's HTTP server on a free port (None still starts it, on 8787, and warns
        # when that is taken)
        cluster = distributed.LocalCluster(n_workers=n_workers or _default_workers(),
                                           threads_per_worker=threads_per_worker, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0", env=dict(WORKER_ENV))
    try:
        c = distributed.Client(cluster)
        try:
            yield c
        finally:
            c.close()
    finally:
        cluster.close()
