"""What every command of the command line shares: the stderr console, errors as exit
codes, progress, output checks and the options built from :mod:`faultgraph.config`.

Light to import (typer and rich only): ``faultgraph --help`` must start in 0.3 s.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape as rich_escape

from faultgraph.errors import FaultgraphError

__all__ = ["RESAMPLE_HELP", "WORKERS_HELP", "Workers",
           "check_ensemble_given", "check_outputs", "err", "errors", "given_options", "join_and", "lags_value",
           "learner_progress", "numbered", "progress", "say", "state", "time_value", "where_to_run"]

err = Console(stderr=True, soft_wrap=True)  # long paths and lists stay on one line when piped
state = {"debug": False}

RESAMPLE_HELP = ("Align asynchronous metrics on a grid of this step first ('1min', '30s', or a number: "
                 "seconds for a time column, index units for a numeric one; causal: the last value at or "
                 "before each grid time). With a model: default its training data's step where the data's "
                 "differs.")
WORKERS_HELP = "Worker processes of the local cluster (default: the CPUs; 0: in this process, no dask)."
#: ``--workers``, shared by ``discover --bootstrap``, ``fit --label --bootstrap`` and ``fleet``.
Workers = Annotated[Optional[int], typer.Option(min=0, help=WORKERS_HELP, show_default=False)]


def say(message: str) -> None:
    """One plain line on stderr (no markup, no highlighting).

    Parameters
    ----------
    message : str
        The text, printed as is (square brackets are not read as rich markup).
    """
    err.print(message, highlight=False, soft_wrap=True, markup=False)


#: Library parameters whose command-line option is not their name with dashes (an error
#: message that starts with one names the option instead).
OPTION_NAMES = {"n_graphs": "--bootstrap", "n_bootstrap": "--bootstrap", "link_delay": "--delay",
                "random_state": "--seed"}


def as_option(message: str) -> str:
    """``message`` with its leading parameter name (``background_window must be ...``, as the
    library words its errors) written as the running command's option
    (``--background-window must be ...``), where the command has that option and the word is
    a parameter's name (it has an underscore, or ``must`` follows it), not a noun ("data's
    index", "incident 3 .. 9 is not in the data").

    Parameters
    ----------
    message : str
        An error message.

    Returns
    -------
    str
        The message, its first word replaced when it names an option of the command.
    """
    import re

    try:
        from typer._click.globals import get_current_context  # typer >= 0.20 carries its own click
    except ImportError:  # pragma: no cover - older typer runs on click itself
        from click import get_current_context

    ctx = get_current_context(silent=True)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\b", message)
    if ctx is None or match is None:
        return message
    opts = {p.name: next((o for o in p.opts if o.startswith("--")), None)
            for p in ctx.command.params if getattr(p, "param_type_name", "") == "option"}
    name, rest = match.group(1), message[match.end():]
    if "_" not in name and not rest.startswith(" must "):  # "incident 3 .. 9 is not in the data": a noun
        return message
    alias = OPTION_NAMES.get(name)
    option = opts.get(name) or (alias if alias is not None and alias in opts.values() else None)
    return option + rest if option else message


@contextmanager
def errors() -> Iterator[None]:
    """Bad input: one line and exit 2. A bug: one line and exit 1 (traceback with --debug).
    Warnings: one line each on stderr as they are raised (before anything is written
    after them), once per message; the filters in force decide what is shown. An error that
    names a library parameter names the command's option (:func:`as_option`)."""
    shown: set[str] = set()

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        text = str(message)
        if text not in shown:
            shown.add(text)
            err.print(f"[yellow]warning:[/] {rich_escape(text)}", highlight=False, soft_wrap=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        with _errors_to_exit():
            yield


@contextmanager
def _errors_to_exit() -> Iterator[None]:
    try:
        yield
    except FaultgraphError as exc:
        if state["debug"]:
            raise
        err.print(f"[bold red]error:[/] {rich_escape(as_option(str(exc)))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        raise  # a closed pipe (`| head`) ends the command quietly: click handles it
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if state["debug"]:
            raise
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {rich_escape(str(exc))} "
                  "(rerun as `faultgraph --debug COMMAND ...` for the traceback)", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


class _Lines:
    """Progress as plain lines on a stream that is no terminal (a pipe, a log file): after
    ``delay`` seconds (quick work prints nothing), at most one line every ``every``
    seconds, with percent and ETA when the total is known; a heartbeat keeps the lines
    coming while nothing reports progress."""

    def __init__(self, description: str, total: float | None, delay: float = 2.0, every: float = 5.0) -> None:
        import threading

        self.description, self.total, self.delay, self.every = description, total, delay, every
        self.completed: float | None = None
        self.info = ""
        self.start = time.monotonic()
        self.last = -float("inf")
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.beat = threading.Thread(target=self._heartbeat, daemon=True)
        self.beat.start()

    def _heartbeat(self) -> None:
        while not self.done.wait(1.0):
            self._emit()

    def update(self, completed: float | None = None, total: float | None = None, info: str = "",
               description: str | None = None, **_: Any) -> None:
        """Record progress; a line is printed when due (see the class).

        Parameters
        ----------
        completed : float, optional
            Work done so far.
        total : float, optional
            All the work, when known.
        info : str, default ""
            A short note shown after the figures.
        description : str, optional
            A new description of the work.
        """
        with self.lock:
            if description is not None:
                self.description = description
            if total is not None:
                self.total = total
            if completed is not None:
                self.completed = completed
            self.info = info or self.info
        self._emit()

    def _emit(self) -> None:
        with self.lock:
            now = time.monotonic()
            elapsed = now - self.start
            if elapsed < self.delay or now - self.last < self.every or self.done.is_set():
                return
            self.last = now
            parts = [self.description]
            if self.completed is not None and self.total:
                share = min(max(self.completed / self.total, 0.0), 1.0)
                parts.append(f"{share:.0%} ({self.completed:g}/{self.total:g})")
                if 0 < share < 1:
                    parts.append(f"ETA {_seconds(elapsed * (1 - share) / share)}")
            parts.append(f"{_seconds(elapsed)} elapsed")
            if self.info:
                parts.append(self.info)
            say(", ".join(parts))

    def close(self) -> None:
        self.done.set()


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


@contextmanager
def progress(description: str, total: float | None = None, enabled: bool = True
             ) -> Iterator[Callable[..., None]]:
    """Progress on stderr; yields ``update(completed=, total=, info=, description=)``.

    On a terminal, a rich bar (or spinner) with percent, elapsed time and ETA; elsewhere
    (piped, logged) a plain line every few seconds with the same figures once the work
    has run for two seconds; nothing when not ``enabled`` (``--quiet``).

    Parameters
    ----------
    description : str
        What is being done, shown before the figures.
    total : float or None, default None
        The amount of work, in the units of ``completed``; None: unknown (a spinner on a
        terminal, no percent or ETA), until an ``update`` gives it.
    enabled : bool, default True
        Whether to show anything; when False the yielded ``update`` does nothing.

    Yields
    ------
    callable
        ``update(**fields)`` taking ``completed``, ``total``, ``info`` (a short text shown
        after the figures) and ``description``.
    """
    if not enabled:
        yield lambda **fields: None
        return
    if not err.is_terminal:
        lines = _Lines(description, total)
        try:
            yield lines.update
        finally:
            lines.close()
        return
    from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    # a total unknown at the start (None) shows a pulsing bar until an update gives one
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task(description, total=total, info="")
        yield lambda **fields: bar.update(task, **fields)


def learner_progress(update: Callable[..., None]) -> Callable[[dict[str, Any]], None]:
    """A structure learner's callback (``step``, ``steps``, ``h``) feeding ``update``.

    Parameters
    ----------
    update : callable
        The ``update`` that :func:`progress` yields.

    Returns
    -------
    callable
        A function of the learner's progress dict that reports ``step`` of ``steps`` with
        ``h=<acyclicity>`` as the info text.
    """
    return lambda info: update(completed=info["step"], total=info["steps"], info=f"h={info['h']:.2e}")


def given_options(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` the user typed (not defaulted), as ``--option-name``.

    Parameters
    ----------
    ctx : typer.Context
        The running command's context.
    names : tuple of str
        Parameter names of the command (``snake_case``).

    Returns
    -------
    list of str
        The options given on the command line, in the order of ``names``, with ``_``
        written ``-``.
    """
    return [f"--{name.replace('_', '-')}" for name in names
            if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"]


def join_and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``.

    Parameters
    ----------
    items : list of str
        At least one item.

    Returns
    -------
    str
        The items joined by commas, the last by "and".
    """
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def lags_value(text: str) -> Any:
    """``--lags``: ``"auto"`` or a whole number of past steps (at least 0).

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    int or str
        The number, or ``"auto"``.

    Raises
    ------
    typer.BadParameter
        When ``text`` is neither (the usage error names the option and what it takes).
    """
    value = str(text).strip()
    if value == "auto":
        return value
    if value.isdigit():
        return int(value)
    raise typer.BadParameter(f"{text!r} is neither a whole number of steps (0 or more) nor 'auto'")


def time_value(text: Optional[str]) -> Any:
    """A window bound from the command line: a number if it parses as one, else a date string.

    Parameters
    ----------
    text : str or None
        The option's value.

    Returns
    -------
    float, str or None
        ``float(text)`` when it parses, else ``text`` unchanged; None for None.
    """
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def check_outputs(outputs: dict[str, Optional[Path]], inputs: Optional[dict[str, Optional[Path]]] = None) -> None:
    """Refuse output paths that cannot all be written, before any work (nothing is written
    when one of several outputs would fail): a folder, a path under a file, one path given
    twice, or one output inside another.

    Parameters
    ----------
    outputs : dict
        ``{option name as the user knows it (e.g. "--output"): path or None}``; None
        entries (options not given) are skipped.
    inputs : dict, optional
        The files and folders the command reads (``{"DATA": path, "MODEL_DIR": folder}``):
        no output may be one of them or lie inside one (writing it would destroy the input).

    Raises
    ------
    InvalidInputError
        When a path is a folder, when an existing ancestor of a path is a file, when nothing
        can be written where a path goes, when two options name the same file, when one
        path lies inside another, or when an output is (or lies inside) an input; the
        message names the options and paths.
    """
    from faultgraph.errors import InvalidInputError

    from faultgraph.io.atomic import check_writable

    given = {name: path for name, path in outputs.items() if path is not None}
    for name, path in given.items():
        if path.is_dir():
            raise InvalidInputError(f"{name} {str(path)!r} is a folder; give a file name")
        parent = next((q for q in path.parents if q.exists()), None)
        if parent is not None and not parent.is_dir():
            raise InvalidInputError(f"{name} {str(path)!r} cannot be written: {str(parent)!r} is a file")
        check_writable(path, name)
    for what, source in (inputs or {}).items():
        if source is None:
            continue
        src = Path(source).resolve()
        for name, path in given.items():
            out = path.resolve()
            if out == src or src in out.parents:
                raise InvalidInputError(f"{name} {str(path)!r} would overwrite {what} {str(source)!r}, which this "
                                        f"command reads; write it elsewhere")
    names = list(given)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            pa, pb = given[a].resolve(), given[b].resolve()
            if pa == pb:
                raise InvalidInputError(f"{a} and {b} name the same file {str(given[a])!r}")
            if pa in pb.parents or pb in pa.parents:
                raise InvalidInputError(f"{a} {str(given[a])!r} and {b} {str(given[b])!r}: one would be written "
                                        "inside the other")


def check_ensemble_given(ctx: typer.Context, bootstrap: int) -> None:
    """Refuse the options of a graph ensemble (``--block``, ``--seed``, ``--workers``,
    ``--scheduler``) typed without ``--bootstrap``, which they would do nothing for
    (``discover``, ``fit --label``); ``$FAULTGRAPH_SCHEDULER`` set in the environment is no
    such option.

    Parameters
    ----------
    ctx : typer.Context
        The running command's context.
    bootstrap : int
        ``--bootstrap``: graphs of the ensemble (0: none).

    Raises
    ------
    InvalidInputError
        When one of them is typed and ``bootstrap`` is 0.
    """
    from faultgraph.errors import InvalidInputError

    given = given_options(ctx, ("block", "seed", "workers", "scheduler"))
    if given and not bootstrap:
        raise InvalidInputError(f"{join_and(given)} appl{'ies' if len(given) == 1 else 'y'} to a graph ensemble, "
                                "and none is learned: give --bootstrap B too (B graphs on resamples), or leave "
                                f"{'it' if len(given) == 1 else 'them'} out")


def where_to_run(scheduler: Optional[str], workers: Optional[int]) -> tuple[Optional[str], Optional[int]]:
    """``(scheduler, n_workers)`` for the library, the command line before the environment,
    for every command whose work may run on Dask (``discover --bootstrap``, ``fit --label
    --bootstrap``, the ``fleet`` commands): ``--scheduler``; else ``--workers N`` (a local
    cluster, 0: in this process, whatever ``$FAULTGRAPH_SCHEDULER`` says, with a line saying
    so); else ``$FAULTGRAPH_SCHEDULER``; else a local cluster of one worker per CPU.

    Parameters
    ----------
    scheduler : str or None
        ``--scheduler`` as typed (None when not typed: the environment's, if any, is read by
        the library).
    workers : int or None
        ``--workers``.

    Returns
    -------
    tuple of (str or None, int or None)
        ``""`` as the scheduler means none, not "unset" (None falls back to the environment).

    Raises
    ------
    InvalidInputError
        When both options are given.
    """
    import os

    from faultgraph.errors import InvalidInputError
    from faultgraph.parallel.cluster import SCHEDULER_ENV

    if scheduler is not None and workers is not None:
        raise InvalidInputError(f"--workers {workers} sizes a cluster started here (0: no cluster) and --scheduler "
                                f"{scheduler!r} names a running one: give one of them")
    if workers is None:
        return scheduler, None
    if (os.environ.get(SCHEDULER_ENV) or "").strip():
        say(f"--workers {workers}: ${SCHEDULER_ENV} ({os.environ[SCHEDULER_ENV].strip()!r}) is not used")
    return "", workers


def numbered(path: Optional[Path], k: Optional[int]) -> Optional[Path]:
    """``rca.json`` → ``rca-3.json`` for incident ``k`` of ``--all``.

    Parameters
    ----------
    path : pathlib.Path or None
        An output path.
    k : int or None
        The incident's number; None leaves ``path`` as it is.

    Returns
    -------
    pathlib.Path or None
        ``path`` with ``-k`` before its suffix, or ``path`` unchanged when either is None.
    """
    return path if path is None or k is None else path.with_name(f"{path.stem}-{k}{path.suffix}")
