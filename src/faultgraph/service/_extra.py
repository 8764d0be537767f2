"""The ``serve`` extra: its packages, imported on demand with a message naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]

HINT = "pip install 'faultgraph[serve]'"


def require(module: str) -> ModuleType:
    """Import ``module`` (a package of the ``serve`` extra) or raise an ImportError that
    names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"faultgraph serve needs {module.split('.')[0]}, which is not installed: "
                          f"{HINT}") from exc
