"""Checks shared by the boundaries of the package (``io``, ``encode``, ``fit``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from faultgraph.errors import InvalidInputError, NotFittedError

__all__: list[str] = []

#: Values beyond this magnitude are refused: their squares (in variances, scores, the
#: learners' sufficient statistics) would overflow float64 (about 1.8e308).
MAX_MAGNITUDE = 1e100


class FittedAttributes:
    """Base of the estimators: scikit-learn's parameter protocol and fitted attributes.

    * ``get_params(deep=True)`` / ``set_params(**params)`` over the keyword arguments of
      ``__init__`` (which stores each under its own name and does nothing else), so
      ``sklearn.base.clone`` and grid searches work; a subclass whose ``__init__`` takes
      ``**kwargs`` passes them to its parent's, whose parameters are its own too.
    * a readable ``repr``: the class and the parameters that differ from their defaults.
    * reading a fitted attribute (a name ending in ``_``) before ``fit`` raises
      :class:`~faultgraph.errors.NotFittedError` (an ``AttributeError``, so ``hasattr`` and
      ``getattr(..., default)`` work) instead of a bare AttributeError.
    """

    #: parameter -> :class:`Constraint`; :meth:`validate_params` checks them all (a
    #: subclass's table adds to its parents').
    _constraints: dict[str, Constraint] = {}

    def validate_params(self) -> None:
        """Check every parameter against the declared tables of the class and its parents
        (``fit`` calls it first)."""
        seen: set[str] = set()
        for klass in type(self).__mro__:
            for name, constraint in klass.__dict__.get("_constraints", {}).items():
                if name not in seen:
                    seen.add(name)
                    constraint(name, getattr(self, name))

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        """Each parameter's default (``inspect.Parameter.empty`` for none), from the
        ``__init__`` of the class and of its parents while those take ``**kwargs``."""
        import inspect

        params: dict[str, Any] = {}
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            if init is object.__init__:
                break
            more = False
            for p in list(inspect.signature(init).parameters.values())[1:]:
                if p.kind is p.VAR_KEYWORD:
                    more = True
                elif p.kind is p.VAR_POSITIONAL:
                    raise TypeError(f"{cls.__name__}.__init__ must not take *args (scikit-learn's contract)")
                else:
                    params.setdefault(p.name, p.default)
            if not more:
                break
        return params

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, by name (``deep`` also lists those of nested estimators as
        ``name__param``).

        Parameters
        ----------
        deep : bool, default True
            Also list the parameters of nested estimators (values with ``get_params``).

        Returns
        -------
        dict
        """
        out: dict[str, Any] = {}
        for name in sorted(self._param_defaults()):
            value = self.__dict__.get(name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Any:
        """Set hyperparameters by name (``name__param`` for a nested estimator's); returns self.

        Parameters
        ----------
        **params
            ``name=value`` or ``name__param=value``.

        Returns
        -------
        self

        Raises
        ------
        InvalidInputError
            When a name is not a parameter of the estimator.
        """
        valid = self._param_defaults()
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise InvalidInputError(f"{type(self).__name__} has no parameter {name!r}; it has "
                                        f"{', '.join(sorted(valid))}")
            if sub:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = []
        for name, default in self._param_defaults().items():
            value = self.__dict__.get(name)
            same = value is default
            if not same:
                try:
                    same = bool(value == default)
                except Exception:  # noqa: BLE001 - arrays and the like: show them
                    same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __getattr__(self, name: str) -> Any:
        prop = getattr(type(self), name, None)
        if isinstance(prop, property) and prop.fget is not None:
            return prop.fget(self)  # a property raised AttributeError (NotFittedError): raise it again, as it was
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet ({name} is set by fit); "
                                 "call fit first")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def as_generator(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``random_state`` (None, an int seed or a Generator) into a Generator.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
        ``None``: fresh entropy; an int: a seed; a Generator is returned as it is.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    InvalidInputError
        When ``random_state`` is of another type, or a negative int.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and random_state < 0:
        raise InvalidInputError(f"random_state must be a seed >= 0, None or a numpy Generator, got {random_state}")
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise InvalidInputError(
        f"random_state must be None, an int or a numpy Generator, got {type(random_state).__name__}"
    )


def check_nonnegative(name: str, value: float) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : float
        The value to check.

    Returns
    -------
    float

    Raises
    ------
    InvalidInputError
        When ``value`` is not a number, not finite, or negative.
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number >= 0, got {value!r}") from None
    if not np.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value}")
    if value < 0:
        raise InvalidInputError(f"{name} must be >= 0, got {value}")
    return value


def check_window(name: str, value: Any, minimum: int, zero: str = "off") -> int:
    """Return ``value`` if it is 0 (which means ``zero``) or a whole number of at least
    ``minimum`` steps, else raise.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : Any
        The value to check (a bool is refused).
    minimum : int
        The least number of steps, besides 0.
    zero : str, default "off"
        What 0 means, for the message.

    Returns
    -------
    int

    Raises
    ------
    InvalidInputError
        When ``value`` is not a whole number, or neither 0 nor at least ``minimum``.
    """
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
            or not (value == 0 or value >= minimum)):
        raise InvalidInputError(f"{name} must be 0 ({zero}) or at least {minimum} steps, got {value!r}")
    return int(value)


class Constraint:
    """One entry of an estimator's declared parameter table (``_constraints``): a check
    that raises :class:`~faultgraph.errors.InvalidInputError` naming the parameter.

    Parameters
    ----------
    check : callable
        ``check(name, value)``; returns the (normalised) value or raises.
    """

    def __init__(self, check: Callable[[str, Any], Any]) -> None:
        self.check = check

    def __call__(self, name: str, value: Any) -> Any:
        return self.check(name, value)


def one_of(allowed: Sequence[str]) -> Constraint:
    """The value is one of ``allowed``.

    Parameters
    ----------
    allowed : sequence of str
        The allowed values.

    Returns
    -------
    Constraint
        Checks with :func:`check_choice`.
    """
    return Constraint(lambda name, value: check_choice(name, value, allowed))


def whole(minimum: int, what: str = "", kind: str | None = None) -> Constraint:
    """A whole number (not a bool) of at least ``minimum``; ``what`` says what it counts,
    ``kind`` how the message names what is allowed (default from ``minimum``).

    Parameters
    ----------
    minimum : int
        The least allowed value.
    what : str, default ""
        What the number counts (shown in brackets in the message).
    kind : str or None, default None
        The allowed values in words; default ``"a non-negative integer"`` for 0, ``"a
        positive integer"`` for 1, else ``"an integer >= minimum"``.

    Returns
    -------
    Constraint
        Its check returns the value as an int.
    """
    kind = kind or {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise InvalidInputError(f"{name} must be {kind}{f' ({what})' if what else ''}, got {value!r}")
        return int(value)
    return Constraint(check)


def check_whole(name: str, value: Any, minimum: int, what: str = "", *, optional: bool = False) -> int | None:
    """Return ``value`` as an int if it is a whole number (not a bool) of at least
    ``minimum``, else raise; the one check behind every count a caller passes (rows per
    block, workers, retries, ...).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : Any
        The value to check.
    minimum : int
        The least allowed value.
    what : str, default ""
        What the number counts (shown in brackets in the message).
    optional : bool, default False
        Whether ``None`` is allowed (returned as it is).

    Returns
    -------
    int or None
        The value as an int (``None`` only when ``optional``).

    Raises
    ------
    InvalidInputError
        When ``value`` is not a whole number of at least ``minimum`` (or ``None`` where
        that is allowed); the message names the argument, the value and what is allowed.
    """
    if optional and value is None:
        return None
    kind = f"an integer >= {minimum}" + (" or None" if optional else "")
    return whole(minimum, what, kind)(name, value)


def nonnegative(optional: bool = False) -> Constraint:
    """A finite number >= 0 (:func:`check_nonnegative`); ``optional``: or ``None`` (a default).

    Parameters
    ----------
    optional : bool, default False
        Also allow ``None``.

    Returns
    -------
    Constraint
    """
    return Constraint(lambda name, value: None if optional and value is None else check_nonnegative(name, value))


def flag(none: str | None = None) -> Constraint:
    """``True`` or ``False``; with ``none`` (what ``None`` means), ``None`` too.

    Parameters
    ----------
    none : str or None, default None
        What ``None`` means, for the message; ``None``: ``None`` is not allowed.

    Returns
    -------
    Constraint
        Its check returns the value as a bool (``None`` as it is).
    """
    def check(name: str, value: Any) -> Any:
        if none is not None and value is None:
            return None
        if not isinstance(value, (bool, np.bool_)):
            allowed = f"True, False or None ({none})" if none is not None else "True or False"
            raise InvalidInputError(f"{name} must be {allowed}, got {value!r}")
        return bool(value)
    return Constraint(check)


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the choices.

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : Any
        The value to check.
    allowed : sequence of str
        The allowed values.

    Returns
    -------
    str

    Raises
    ------
    InvalidInputError
        When ``value`` is not one of ``allowed``.
    """
    if value not in allowed:
        raise InvalidInputError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return str(value)


def text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names as text (``pd.DataFrame(array)`` numbers them 0, 1,
    ...: metric names are text everywhere, column 0 is ``"0"``); itself if they already are.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any frame.

    Returns
    -------
    pandas.DataFrame
    """
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.set_axis([str(c) for c in frame.columns], axis=1)


def describe_names(names: Sequence[Any], limit: int = 8, show: Callable[[Any], str] = repr) -> str:
    """The first ``limit`` of ``names`` for a message, each as ``show`` writes it, and how
    many more there are.

    Parameters
    ----------
    names : sequence
        The names.
    limit : int, default 8
        How many are shown.
    show : callable, default repr
        How each is written.

    Returns
    -------
    str
        E.g. ``"'a', 'b' and 3 more"``.
    """
    shown = ", ".join(map(show, list(names)[:limit]))
    more = len(names) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def duplicated(names: Sequence[Any]) -> list[Any]:
    """The names that occur more than once, sorted.

    Parameters
    ----------
    names : sequence
        Hashable, sortable names.

    Returns
    -------
    list
    """
    return sorted(name for name, n in Counter(names).items() if n > 1)


def check_magnitude(values: np.ndarray, names: Sequence[Any], name: str, where: str = "") -> None:
    """Raise if a column of ``values`` (samples x variables) holds a value beyond
    :data:`MAX_MAGNITUDE`, naming those columns.

    Parameters
    ----------
    values : ndarray of shape (n, d)
        The samples.
    names : sequence
        The columns' names.
    name : str
        What ``values`` is, for the message.
    where : str, default ""
        Text put before the column names in the message (e.g. ``"columns "``).

    Raises
    ------
    InvalidInputError
        When a value's magnitude exceeds :data:`MAX_MAGNITUDE`.
    """
    huge = np.flatnonzero((np.abs(values) > MAX_MAGNITUDE).any(axis=0))
    if huge.size:
        raise InvalidInputError(
            f"{name} has values beyond ±{MAX_MAGNITUDE:.0e} in {where}{describe_names([names[j] for j in huge])}; "
            "their squares would overflow: rescale them (e.g. to other units)"
        )


def check_matrix(
    X: Any, *, name: str = "X", min_rows: int = 2, min_cols: int = 2
) -> tuple[np.ndarray, list[str]]:
    """Validate a samples-by-variables matrix and return a float64 copy and its column names.

    Parameters
    ----------
    X : numpy.ndarray or pandas.DataFrame
        A 2-D array, or a DataFrame of numeric (not bool) columns with unique names.
    name : str, default "X"
        What ``X`` is, for the messages.
    min_rows : int, default 2
        The least number of rows.
    min_cols : int, default 2
        The least number of columns.

    Returns
    -------
    tuple of (ndarray of shape (n, d), list of str)
        The float64 copy and the column names (a DataFrame's, as text; ``x0, x1, ...`` for
        an array).

    Raises
    ------
    InvalidInputError
        For a wrong shape (not 2-D, too few rows or columns), duplicate or non-numeric
        columns, NaN or infinite values, values beyond :data:`MAX_MAGNITUDE`, and constant
        columns.
    """
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names):
            dup = duplicated(names)
            raise InvalidInputError(f"{name} has duplicate column names: {describe_names(dup)}")
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])]
        if bad:
            raise InvalidInputError(
                f"{name} has non-numeric columns: {describe_names([str(b) for b in bad])}; "
                "metrics must be numbers"
            )
        arr = X.to_numpy(dtype=np.float64, copy=True)
    else:
        try:
            arr = np.array(X, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{name} must be a numeric 2-D array or DataFrame") from None
        names = []
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D (samples x variables), got shape {arr.shape}")
    n, d = arr.shape
    if not names:
        names = [f"x{i}" for i in range(d)]
    if n < min_rows:
        raise InvalidInputError(f"{name} needs at least {min_rows} rows, got {n}")
    if d < min_cols:
        raise InvalidInputError(f"{name} needs at least {min_cols} columns, got {d}")
    finite = np.isfinite(arr)
    if not finite.all():
        cols = [names[j] for j in np.flatnonzero(~finite.all(axis=0))]
        kind = "NaN" if np.isnan(arr).any() else "infinite"
        raise InvalidInputError(
            f"{name} has {kind} values in columns {describe_names(cols)}; fill gaps first "
            "(faultgraph.encode.MetricEncoder fills short gaps) or drop those rows"
        )
    check_magnitude(arr, names, name, where="columns ")
    const = np.flatnonzero(np.ptp(arr, axis=0) == 0)
    if const.size:
        raise InvalidInputError(
            f"{name} has constant columns {describe_names([names[j] for j in const])}; "
            "a constant has no causes or effects to learn (MetricEncoder drops them)"
        )
    return arr, names


def check_lag_rows(rows: int, lags: int) -> None:
    """Refuse ``lags`` that leave fewer than 3 rows with a full past, naming ``--lags`` and
    the largest value the rows allow (a generic "needs N rows" hid which option to change).

    Parameters
    ----------
    rows : int
        Rows of the data.
    lags : int
        Past steps each row needs.

    Raises
    ------
    InvalidInputError
        When ``rows < lags + 3``.
    """
    if rows < lags + 3:
        fits = f"lags <= {rows - 3}" if rows > 3 else "no lags"
        raise InvalidInputError(f"lags={lags} (--lags) needs at least {lags + 3} rows (each row's past of {lags} "
                                f"steps comes from the rows before it); the data has {rows}: use {fits}, or more rows")
