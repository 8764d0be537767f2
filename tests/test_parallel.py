"""faultgraph.parallel: run_tasks in-process and on a LocalCluster give the same results,
a failed item is kept apart, the cluster is closed on exit."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from faultgraph.errors import InvalidInputError
from faultgraph.parallel import TaskResult, client, resolve_scheduler, run_tasks
from faultgraph.parallel.tasks import batch_size


def _square_or_fail(x: int) -> int:
    if x == 3:
        raise InvalidInputError("three is not allowed")
    return x * x


def _solve(seed: int, d: int = 30) -> list[float]:
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    return np.linalg.solve(A @ A.T + np.eye(d), np.ones(d)).tolist()


def test_inline_keeps_order_and_failures():
    seen = []
    results = run_tasks(_square_or_fail, [1, 2, 3, 4], n_workers=0, keys="abcd",
                        progress=lambda done, total: seen.append((done, total)))
    assert [r.key for r in results] == list("abcd")
    assert [r.value for r in results] == [1, 4, None, 16]
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].error == "InvalidInputError: three is not allowed"
    assert "three is not allowed" in results[2].traceback
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert run_tasks(_square_or_fail, [5], scheduler="inline") == [TaskResult(0, 25)]


def test_bad_arguments_name_the_argument():
    with pytest.raises(InvalidInputError, match="keys must give one key per item: got 1 keys for 2"):
        run_tasks(_square_or_fail, [1, 2], n_workers=0, keys=["a"])
    with pytest.raises(InvalidInputError, match="n_workers must be an integer >= 0.*got -1"):
        run_tasks(_square_or_fail, [1], n_workers=-1)
    with pytest.raises(InvalidInputError, match="scheduler='inline' runs tasks without dask"):
        with client("inline"):
            pass


def test_scheduler_from_environment(monkeypatch):
    monkeypatch.setenv("FAULTGRAPH_SCHEDULER", "tcp://127.0.0.1:1")
    assert resolve_scheduler(None) == "tcp://127.0.0.1:1"
    assert resolve_scheduler("inline") == "inline"
    monkeypatch.setenv("FAULTGRAPH_SCHEDULER", "")
    assert resolve_scheduler(None) is None


def _worker_settings() -> dict:
    import os

    import dask

    return {"profile": dask.config.get("distributed.worker.profile.enabled"),
            "tick": dask.config.get("distributed.admin.tick.interval"),
            "malloc": os.environ.get("MALLOC_TRIM_THRESHOLD_"), "blas": os.environ.get("OPENBLAS_NUM_THREADS")}


def test_local_cluster_equals_inline_and_closes(monkeypatch):
    fn = functools.partial(_solve, d=40)
    inline = run_tasks(fn, range(6), n_workers=0)
    # as a dask nanny started earlier in this process leaves it (dask writes it into os.environ)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with client(n_workers=2) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        # the settings that keep a task as fast in a worker as in a plain process reach the workers
        settings = list(c.run(_worker_settings).values())
        assert settings == [{"profile": False, "tick": "1s", "malloc": None, "blas": "1"}] * 2
        seen = []
        on_cluster = run_tasks(fn, range(6), client=c, progress=lambda d, t: seen.append(d))
        failures = run_tasks(_square_or_fail, [2, 3], client=c, keys=["two", "three"])
        # items grouped four to a task: each still called and reported on its own, in order
        counted: list[int] = []
        batched = run_tasks(_square_or_fail, range(10), client=c, batch=4, progress=lambda d, t: counted.append(d))
        cluster = c.cluster
    assert cluster.status.name == "closed"
    import os

    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # this process's environment as it was
    assert [r.value for r in on_cluster] == [r.value for r in inline]  # bit for bit
    assert sorted(seen) == [1, 2, 3, 4, 5, 6]
    assert failures[0] == TaskResult("two", 4)
    assert failures[1].key == "three" and failures[1].error == "InvalidInputError: three is not allowed"
    assert batched == run_tasks(_square_or_fail, range(10), n_workers=0)
    assert len(counted) == 3 and max(counted) == 10  # three tasks; progress counts items


def test_batch_size_by_hand():
    assert batch_size(513, 2) == 16  # 513 // 32, at most 16
    assert batch_size(100, 2) == 3 and batch_size(10, 2) == 1 and batch_size(10_000, 4) == 16
    assert batch_size(10, 2, batch=5) == 5
    with pytest.raises(InvalidInputError, match="batch must be an integer >= 1.*got 0"):
        run_tasks(_square_or_fail, [1], n_workers=0, batch=0)


def test_unreachable_scheduler_is_an_input_error():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InvalidInputError, match=f"scheduler 'tcp://127.0.0.1:{port}' cannot be reached"):
        with client(f"tcp://127.0.0.1:{port}", connect_timeout=1):
            pass


def _start_scheduler(tmp_path, with_worker: bool):
    """A `dask scheduler` (and maybe one `dask worker --no-nanny`) as separate processes."""
    import json
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    dask = str(Path(sys.executable).with_name("dask"))
    file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "env": {**os.environ, "OPENBLAS_NUM_THREADS": "1"}}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], **quiet)]
    deadline = time.monotonic() + 60
    while not file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(file.read_text())["address"]
    if with_worker:
        procs.append(subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard"], **quiet))
    return address, procs


def _stop(procs):
    import subprocess

    for p in reversed(procs):
        p.kill()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


def test_a_cluster_without_workers_or_a_port_that_is_no_scheduler_fails_in_bounded_time(tmp_path, monkeypatch):
    import socket
    import threading
    import time

    import faultgraph.parallel.cluster as cluster

    monkeypatch.setattr(cluster, "WORKER_WAIT", 2.0)
    address, procs = _start_scheduler(tmp_path, with_worker=False)
    try:
        started = time.monotonic()
        with pytest.raises(InvalidInputError, match=f"the dask scheduler '{address}' has no worker .waited 2 s."):
            run_tasks(_square_or_fail, [1, 2], scheduler=address)
        assert time.monotonic() - started < 30
    finally:
        _stop(procs)
    # something else listening (an HTTP server, a dashboard's port): refused, not waited on for good
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")  # and keeps the connection open

    threading.Thread(target=answer, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(InvalidInputError, match=f"'tcp://127.0.0.1:{port}' cannot be reached"):
            with cluster.client(f"tcp://127.0.0.1:{port}", connect_timeout=2):
                pass
        assert time.monotonic() - started < 20
    finally:
        server.close()


@pytest.mark.parametrize("address, match", [
    ("nonsense", "neither an address .'tcp://HOST:PORT'. nor an existing scheduler file"),
    ("/no/such/scheduler.json", "neither an address"),
    ("http://127.0.0.1:8787/status", "is no dask address: give 'tcp://HOST:PORT'"),
])
def test_scheduler_values_that_are_no_address_are_named(address, match):
    with pytest.raises(InvalidInputError, match=match):
        run_tasks(_square_or_fail, [1], scheduler=address)


def test_items_left_when_the_last_worker_dies_fail_instead_of_waiting(tmp_path, monkeypatch):
    import time

    import faultgraph.parallel.cluster as cluster
    import faultgraph.parallel.tasks as tasks

    monkeypatch.setattr(cluster, "WORKER_WAIT", 3.0)
    monkeypatch.setattr(tasks, "WORKER_WAIT", 3.0)
    monkeypatch.setattr(tasks, "POLL", 0.5)
    address, procs = _start_scheduler(tmp_path, with_worker=True)
    try:
        seen = []

        def progress(done, total):
            seen.append(done)
            if done == 1:
                procs[1].kill()  # the only worker dies after the first item

        # time.sleep: a function the separate worker process can import (a test's cannot be)
        results = run_tasks(time.sleep, [0.05] + [2.0] * 5, scheduler=address, batch=1, progress=progress)
    finally:
        _stop(procs)
    assert results[0].ok
    failed = [r for r in results if not r.ok]
    assert failed and all(r.error.startswith("NoWorkerError: the dask cluster had no worker for 3 s") for r in failed)
    assert len(results) == 6 and seen[-1] == 6
