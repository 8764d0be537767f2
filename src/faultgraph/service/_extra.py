"""The ``serve`` extra: its packages, imported on demand with a message naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

HINT = "pip install 'faultgraph[serve]'"


def require(module: str) -> ModuleType:
    """Import ``module`` (a package of the ``serve`` extra) or raise an ImportError that
    names the extra to install.

    Parameters
    ----------
    module : str
        The dotted module name, e.g. ``"sqlalchemy"`` or ``"fastapi.responses"``.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    ImportError
        When ``module`` is not installed; the message names ``pip install 'faultgraph[serve]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"faultgraph serve needs {module.split('.')[0]}, which is not installed: "
                          f"{HINT}") from exc
