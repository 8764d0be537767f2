"""``run_tasks``: one function over many items, each failure kept apart."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faultgraph.errors import InvalidInputError
from faultgraph.parallel.cluster import INLINE, WORKER_WAIT, client as open_client, resolve_scheduler

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["POLL", "TASKS_PER_WORKER", "TaskResult", "batch_size", "pinned_blas", "run_tasks"]

#: With ``batch=None``, items are grouped so that each worker still gets about this many
#: tasks (room to even out the load at the end), at most :data:`MAX_BATCH` items a task.
TASKS_PER_WORKER = 16
MAX_BATCH = 16
#: Seconds between checks, while waiting for tasks, that the cluster still has a worker.
POLL = 2.0


@dataclass(frozen=True)
class TaskResult:
    """What one item gave: its ``key``, the function's ``value`` (``None`` on failure) and
    the ``error`` text (``"ExceptionType: message"``; ``None`` on success). ``traceback``
    holds the failing call's traceback, for logs."""

    key: Any
    value: Any = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        """The item succeeded."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """``key``, ``ok`` and ``error`` (the value is the caller's to describe)."""
        return {"key": self.key, "ok": self.ok, "error": self.error}


@contextmanager
def pinned_blas() -> Iterator[None]:
    """BLAS and OpenMP limited to one thread within the block (threadpoolctl; a no-op
    without it)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        yield
        return
    with threadpool_limits(1):
        yield


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str | None, str | None]:
    """Run ``fn(item)`` with one BLAS thread; ``(value, error, traceback)``, never raising."""
    try:
        with pinned_blas():
            return fn(item), None, None
    except Exception as exc:  # one item's failure is reported, the rest go on
        return None, _error_text(exc), traceback.format_exc()


def _call_batch(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[tuple[Any, str | None, str | None]]:
    """:func:`_call` on each item of one task's batch, in order."""
    return [_call(fn, item) for item in items]


def batch_size(n_items: int, n_workers: int, batch: int | None = None) -> int:
    """Items per dask task: ``batch``, or by default ``n_items // (TASKS_PER_WORKER ×
    n_workers)`` between 1 and :data:`MAX_BATCH`. A fleet's entities take a tenth of a
    second to a second each, and dask's cost per task (7–10 ms of a worker's time on 2
    cores, ``benchmarks/results/fleet.md``) is then a few per cent; a batch of items
    shares it, while enough tasks remain to keep every worker busy to the end.

    Parameters
    ----------
    n_items : int
        Items to run.
    n_workers : int
        Workers of the cluster.
    batch : int or None, default None
        Items per task; ``None``: chosen as above.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    InvalidInputError
        When ``batch`` is not an integer >= 1.
    """
    from faultgraph._validation import check_whole

    if batch is not None:
        return check_whole("batch", batch, 1, "items per task", optional=True)
    return max(1, min(MAX_BATCH, int(n_items) // (TASKS_PER_WORKER * max(1, int(n_workers)))))


def _check(items: Sequence[Any], keys: Sequence[Any] | None, n_workers: int | None) -> list[Any]:
    from faultgraph._validation import check_whole

    check_whole("n_workers", n_workers, 0, "0: in this process", optional=True)
    if keys is None:
        return list(range(len(items)))
    keys = list(keys)
    if len(keys) != len(items):
        raise InvalidInputError(f"keys must give one key per item: got {len(keys)} keys for {len(items)} items")
    return keys


def run_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, scheduler: str | None = None,
              n_workers: int | None = None, keys: Sequence[Any] | None = None,
              progress: Callable[[int, int], None] | None = None, client: Client | None = None,
              batch: int | None = None) -> list[TaskResult]:
    """Call ``fn(item)`` for every item, on a dask cluster or in this process.

    Parameters
    ----------
    fn : callable
        A picklable function of one item (module level, or a ``functools.partial`` of one);
        what it returns travels back to this process, so keep it small (write big results
        where they belong, from the worker).
    items : Sequence
        The items (small: paths, names, options).
    scheduler : str or None, default None
        An existing cluster (address or scheduler file, see :func:`client`); ``"inline"``:
        in this process. ``None``: ``$FAULTGRAPH_SCHEDULER``, else a ``LocalCluster`` for
        this call.
    n_workers : int or None, default None
        Local cluster size (default: the CPUs); ``0``: in this process, without dask.
    keys : Sequence or None, default None
        One label per item for the results (default: the item's position).
    progress : callable or None, default None
        Called as ``progress(done, total)`` after each item finishes (in this process).
    client : distributed.Client or None, default None
        An open client to use (``scheduler`` and ``n_workers`` are then ignored); it stays
        open.
    batch : int or None, default None
        Items per dask task (:func:`batch_size`; default: grouped when there are many
        items); each item is still called, timed and reported on its own.

    Returns
    -------
    list of TaskResult
        One per item, in the order of ``items``. An item whose call raised (or whose worker
        died) has ``ok`` false and the error's text; the others go on. When the cluster has
        had no worker for :data:`~faultgraph.parallel.cluster.WORKER_WAIT` seconds, every
        item not yet run fails so (``NoWorkerError``) instead of waiting for good.

    Raises
    ------
    InvalidInputError
        When ``n_workers`` is not an integer >= 0, ``keys`` does not give one key per
        item, or ``batch`` is not an integer >= 1.
    """
    items = list(items)
    labels = _check(items, keys, n_workers)
    batch_size(len(items), 1, batch)  # checked before any work
    total = len(items)
    if client is None and (n_workers == 0 or resolve_scheduler(scheduler) == INLINE):
        results = []
        for label, item in zip(labels, items):
            value, error, tb = _call(fn, item)
            results.append(TaskResult(label, value, error, tb))
            if progress is not None:
                progress(len(results), total)
        return results
    if total == 0:
        return []
    if client is not None:
        return _on_cluster(client, fn, items, labels, progress, batch)
    with open_client(scheduler, n_workers=n_workers) as c:
        return _on_cluster(c, fn, items, labels, progress, batch)


def _task_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", None) or "task"
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def _on_cluster(c: Client, fn: Callable[[Any], Any], items: list[Any], labels: list[Any],
                progress: Callable[[int, int], None] | None, batch: int | None = None) -> list[TaskResult]:
    import threading
    import time

    from distributed import as_completed

    size = batch_size(len(items), len(c.scheduler_info().get("workers", {})) or 1, batch)
    n_tasks = -(-len(items) // size)
    # striped, not cut in runs: items of one kind (a fleet's large hosts, listed together by name) spread over
    # the tasks instead of piling into one that would run alone at the end
    groups = [list(range(k, len(items), n_tasks)) for k in range(n_tasks)]
    token = f"{_task_name(fn)}-{uuid.uuid4().hex[:12]}"  # fresh keys: dask would reuse a finished key's result
    dask_keys = [f"{token}-{i}" for i in range(n_tasks)]
    futures = c.map(_call_batch, [fn] * n_tasks, [[items[i] for i in g] for g in groups], key=dask_keys,
                    pure=False)
    position = {f.key: g for f, g in zip(futures, groups)}
    results: list[TaskResult | None] = [None] * len(items)
    done = 0
    stop, abandoned = threading.Event(), threading.Event()

    def watch() -> None:
        """Cancel what is left once the cluster has had no worker for WORKER_WAIT seconds
        (its workers died or left): nothing would ever run it."""
        alone_since: float | None = None
        while not stop.wait(POLL):
            try:
                workers = len(c.nthreads())
            except Exception:  # noqa: BLE001 - the scheduler itself is gone: no worker either
                workers = 0
            now = time.monotonic()
            alone_since = None if workers else (alone_since if alone_since is not None else now)
            if alone_since is not None and now - alone_since >= WORKER_WAIT:
                abandoned.set()
                c.cancel([f for f in futures if not f.done()])
                return

    watcher = threading.Thread(target=watch, name="faultgraph-no-worker-watch", daemon=True)
    watcher.start()
    try:
        for future in as_completed(futures):
            span = position[future.key]
            if future.status == "finished":
                calls = future.result()
            elif abandoned.is_set() and future.cancelled():
                calls = [(None, f"NoWorkerError: the dask cluster had no worker for {WORKER_WAIT:g} s (its workers "
                                f"died or left); the item did not run", None)] * len(span)
            else:  # the worker died or the task could not run: each of its items reported as failed
                try:
                    exc = future.exception()
                except Exception as lost:  # noqa: BLE001 - cancelled: the client lost the scheduler
                    exc = lost
                calls = [(None, _error_text(exc), "".join(traceback.format_exception(exc)))] * len(span)
            for i, (value, error, tb) in zip(span, calls):
                results[i] = TaskResult(labels[i], value, error, tb)
            future.release()
            done += len(span)
            if progress is not None:
                progress(done, len(items))
    finally:
        stop.set()
        watcher.join()
        for future in futures:
            future.release()
    return [r for r in results if r is not None]
