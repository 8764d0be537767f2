"""Every public function and method with arguments has a numpydoc ``Parameters`` section
naming each of its arguments (issue #22, item 5).

Checked with ``ast`` (nothing is imported). ``self``/``cls`` and ``*args``/``**kwargs`` need
no entry; names starting with ``_`` (and methods of classes starting with ``_``) are private.
Extend ``MODULES`` as more modules are documented.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "faultgraph"

MODULES = [
    "evaluate/__init__.py",
    "evaluate/classification.py",
    "evaluate/detection.py",
    "evaluate/graph.py",
    "evaluate/ranking.py",
    "simulate/__init__.py",
    "simulate/case.py",
    "simulate/graphs.py",
    "simulate/microservices.py",
    "encode/__init__.py",
    "encode/align.py",
    "encode/encoder.py",
    "encode/lags.py",
    "discovery/_owlqn.py",
    "discovery/functions.py",
    "discovery/optimizers.py",
    "discovery/postprocess.py",
    "discovery/prior.py",
    "discovery/refine.py",
    "discovery/sink.py",
    "datasets/case.py",
    "datasets/download.py",
    "datasets/petshop.py",
    "datasets/smd.py",
    "io/atomic.py",
    "io/graph_export.py",
    "_graph.py",
    "workflows.py",
    "service/__init__.py",
    "service/__main__.py",
    "service/_extra.py",
    "service/alerts.py",
    "service/app.py",
    "service/auth.py",
    "service/metrics.py",
    "service/settings.py",
    "service/store.py",
    "service/worker.py",
    "fleet/storage.py",
    "fleet/jobs.py",
    "parallel/__init__.py",
    "parallel/cluster.py",
    "parallel/tasks.py",
    "discovery/screen.py",
    "discovery/backend.py",
    "services.py",
    "_budget.py",
    "io/metrics.py",
    "io/model.py",
    "io/migrations.py",
    "io/prometheus.py",
    "datasets/nezha.py",
    "report/__init__.py",
    "report/demo.py",
    "report/incident.py",
    "report/svg.py",
    "_validation.py",
    "sem/__init__.py",
    "sem/mlp.py",
    "sem/model.py",
    "discovery/learner.py",
    "detect/thresholds.py",
    "_cli.py",
    "detect/unsupervised.py",
    "effects/__init__.py",
    "effects/ate.py",
    "effects/identify.py",
    "effects/interventions.py",
    "effects/paths.py",
    "discovery/ensemble.py",
    "detect/supervised.py",
    "rca/__init__.py",
    "rca/ranking.py",
    "rca/context.py",
    "rca/baselines.py",
    "detect/baselines.py",
    "config.py",
]

_SECTION = re.compile(r"^Parameters\n-+\n(.*?)(?=^[A-Z][\w ]*\n-+\n|\Z)", re.S | re.M)


def _documented(doc: str) -> set[str] | None:
    """Names in the ``Parameters`` section of ``doc`` (``a, b : int`` names two), or None without one."""
    m = _SECTION.search(doc)
    if m is None:
        return None
    names: set[str] = set()
    for line in m.group(1).splitlines():
        if line and not line[0].isspace():
            names.update(n.strip().lstrip("*") for n in line.split(" : ")[0].split(","))
    return names


def _public_functions(tree: ast.AST):
    """``(qualified name, node, is_method)`` of each public function and method of public classes."""
    def walk(node, prefix, in_class):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                yield from walk(child, f"{prefix}{child.name}.", True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and not child.name.startswith("_"):
                yield f"{prefix}{child.name}", child, in_class
    yield from walk(tree, "", False)


def _arguments(fn: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> list[str]:
    a = fn.args
    names = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
    if is_method and names and names[0] in ("self", "cls"):
        names = names[1:]
    return names


def _problems(path: Path) -> list[str]:
    problems = []
    for name, fn, is_method in _public_functions(ast.parse(path.read_text(encoding="utf-8"))):
        args = _arguments(fn, is_method)
        if not args:
            continue
        documented = _documented(ast.get_docstring(fn) or "")
        if documented is None:
            problems.append(f"{name} (line {fn.lineno}): no 'Parameters' section")
        elif missing := [a for a in args if a not in documented]:
            problems.append(f"{name} (line {fn.lineno}): Parameters lacks {', '.join(missing)}")
    return problems


@pytest.mark.parametrize("module", MODULES)
def test_public_functions_document_every_parameter(module: str) -> None:
    path = SRC / module
    assert path.is_file(), f"{module} is listed in MODULES but does not exist"
    problems = _problems(path)
    assert not problems, f"{module}:\n  " + "\n  ".join(problems)


def test_checker_finds_a_missing_parameter(tmp_path: Path) -> None:
    """The checker itself: an undocumented argument, a missing section and a private function."""
    source = '''
def good(a, b, *args, **kw):
    """Sum.

    Parameters
    ----------
    a, b : int
        Numbers.

    Returns
    -------
    int
    """

def half(a, b):
    """Half.

    Parameters
    ----------
    a : int
        A number.
    """

def bare(a):
    """No section."""

def _private(a):
    pass

class Thing:
    def method(self, x):
        """Method.

        Parameters
        ----------
        x : int
            A number.
        """

    def no_args(self):
        """Nothing to document."""
'''
    path = tmp_path / "mod.py"
    path.write_text(source, encoding="utf-8")
    assert _problems(path) == [
        "half (line 15): Parameters lacks b",
        "bare (line 24): no 'Parameters' section",
    ]
