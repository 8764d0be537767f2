"""Packaging: every module declares an explicit, accurate __all__; extras import lazily."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import faultgraph


def _modules():
    for info in pkgutil.walk_packages(faultgraph.__path__, "faultgraph."):
        yield importlib.import_module(info.name)


def test_every_module_has_an_accurate_all():
    for module in [faultgraph, *_modules()]:
        assert hasattr(module, "__all__"), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name}"
        defined_here = {
            name for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__
        }
        if module.__name__.split(".")[-1].startswith("_") or module.__name__ == "faultgraph.cli":
            continue
        missing = defined_here - set(module.__all__)
        assert not missing, f"{module.__name__} defines public {sorted(missing)} outside __all__"


def test_import_does_not_pull_heavy_extras():
    code = "import sys, faultgraph, faultgraph.cli; print(sorted(m for m in ('torch', 'dagma') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_exception_tree():
    from faultgraph import errors

    assert issubclass(errors.InvalidInputError, (errors.FaultgraphError, ValueError))
    assert issubclass(errors.NotADAGError, errors.InvalidInputError)
    assert issubclass(errors.NotFittedError, (errors.FaultgraphError, AttributeError))
    assert issubclass(errors.DownloadError, errors.FaultgraphError)
    assert issubclass(errors.ConvergenceWarning, UserWarning)
