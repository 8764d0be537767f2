"""``run_tasks``: one function over many items, each failure kept apart."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faultgraph.errors import InvalidInputError
from faultgraph.parallel.cluster import INLINE, client as open_client, resolve_scheduler

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["TaskResult", "pinned_blas", "run_tasks"]


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


def _check(items: Sequence[Any], keys: Sequence[Any] | None, n_workers: int | None) -> list[Any]:
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 0):
        raise InvalidInputError(f"n_workers must be an integer >= 0 (0: in this process), got {n_workers!r}")
    if keys is None:
        return list(range(len(items)))
    keys = list(keys)
    if len(keys) != len(items):
        raise InvalidInputError(f"keys must give one key per item: got {len(keys)} keys for {len(items)} items")
    return keys


def run_tasks(fn: Callable[[Any], Any], items: Sequence[Any], *, scheduler: str | None = None,
              n_workers: int | None = None, keys: Sequence[Any] | None = None,
              progress: Callable[[int, int], None] | None = None, client: Client | None = None
              ) -> list[TaskResult]:
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

    Returns
    -------
    list of TaskResult
        One per item, in the order of ``items``. An item whose call raised (or whose worker
        died) has ``ok`` false and the error's text; the others go on.

    Raises
    ------
    InvalidInputError
        When ``n_workers`` is not an integer >= 0, or ``keys`` does not give one key per
        item.
    """
    items = list(items)
    labels = _check(items, keys, n_workers)
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
        return _on_cluster(client, fn, items, labels, progress)
    with open_client(scheduler, n_workers=n_workers) as c:
        return _on_cluster(c, fn, items, labels, progress)


def _task_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", None) or "task"
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def _on_cluster(c: Client, fn: Callable[[Any], Any], items: list[Any], labels: list[Any],
                progress: Callable[[int, int], None] | None) -> list[TaskResult]:
    from distributed import as_completed

    token = f"{_task_name(fn)}-{uuid.uuid4().hex[:12]}"  # fresh keys: dask would reuse a finished key's result
    dask_keys = [f"{token}-{i}" for i in range(len(items))]
    futures = c.map(_call, [fn] * len(items), items, key=dask_keys, pure=False)
    position = {f.key: i for i, f in enumerate(futures)}
    results: list[TaskResult | None] = [None] * len(items)
    done = 0
    try:
        for future in as_completed(futures):
            i = position[future.key]
            if future.status == "finished":
                value, error, tb = future.result()
            else:  # the worker died or the task could not run: reported like a failed call
                try:
                    exc = future.exception()
                except Exception as lost:  # noqa: BLE001 - cancelled: the client lost the scheduler
                    exc = lost
                value, error, tb = None, _error_text(exc), "".join(traceback.format_exception(exc))
            results[i] = TaskResult(labels[i], value, error, tb)
            future.release()
            done += 1
            if progress is not None:
                progress(done, len(items))
    finally:
        for future in futures:
            future.release()
    return [r for r in results if r is not None]
