"""faultgraph.discovery.screen: screened candidate parents, the order by conditional
variance and the learner's ``screen=True`` recover planted graphs."""

from __future__ import annotations

import numpy as np
import pytest

from faultgraph import StructureLearner
from faultgraph.discovery.learner import second_moments
from faultgraph.discovery.screen import candidate_parents, conditional_variance_order, screened_linear
from faultgraph.errors import InvalidInputError
from faultgraph.evaluate import graph_accuracy
from faultgraph.simulate import simulate_graph_data


def _chain(n: int = 20000, seed: int = 0) -> np.ndarray:
    """a → b → c with weights 2 and 3, unit noise, and an independent d."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = 2 * a + rng.normal(size=n)
    c = 3 * b + rng.normal(size=n)
    return np.column_stack([a, b, c, rng.normal(size=n)])


def test_chain_weights_and_order_by_hand():
    X = _chain()
    S = second_moments(X, standardize=False)
    C = candidate_parents(S, len(X), marginal_top=0)
    # a and c are independent given b: the tests keep the chain's links only
    assert C.tolist() == [[False, True, False, False], [True, False, True, False],
                          [False, True, False, False], [False, False, False, False]]
    # each node's two most correlated nodes are added, both ways: a's are b and then c (0.86)
    assert candidate_parents(S, len(X), marginal_top=2)[[0, 2], [2, 0]].all()
    order = conditional_variance_order(S, C)
    assert order.tolist()[:3] == [0, 1, 2] or order.tolist() == [0, 3, 1, 2]  # d (variance 1) may come anywhere
    assert order.tolist().index(0) < order.tolist().index(1) < order.tolist().index(2)
    result = screened_linear(S, n_samples=len(X))
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2] = 2.0, 3.0
    np.testing.assert_allclose(result.W, expected, atol=0.03)
    assert result.h == 0.0 and result.converged


def test_required_edges_come_first_and_a_required_cycle_is_refused():
    X = _chain()
    S = second_moments(X, standardize=False)
    C = candidate_parents(S, len(X))
    required = np.zeros((4, 4), dtype=bool)
    required[2, 0] = True  # c must be a parent of a: c is placed before a
    order = conditional_variance_order(S, C, required=required).tolist()
    assert order.index(2) < order.index(0)
    W = screened_linear(S, n_samples=len(X), unpenalized=required).W
    assert W[2, 0] != 0
    required[0, 2] = True
    with pytest.raises(InvalidInputError, match="required edges of the prior form a cycle"):
        conditional_variance_order(S, C, required=required)


@pytest.mark.parametrize("seed", [0, 1])
def test_learner_recovers_raw_er2(seed):
    sim = simulate_graph_data(kind="er", nodes=150, degree=2, samples=5000, random_state=seed)
    learner = StructureLearner(screen=True, standardize=False).fit(sim.data)
    accuracy = graph_accuracy(sim.W != 0, learner.adjacency_)
    assert accuracy.shd <= 0.01 * (sim.W != 0).sum()
    assert learner.graph_.params["screen"] is True


def test_candidates_hold_the_parents_and_respect_the_prior():
    sim = simulate_graph_data(kind="er", nodes=60, degree=2, samples=5000, random_state=3)
    S = second_moments(sim.data.to_numpy(), standardize=False)
    C = candidate_parents(S, 5000)
    B = sim.W != 0
    assert (B & ~C).sum() <= 1 and C.sum() < 6 * B.sum()
    allowed = np.ones_like(C)
    allowed[:, 0] = False
    assert not candidate_parents(S, 5000, allowed=allowed)[:, 0].any()
    capped = candidate_parents(S, 5000, max_candidates=2)
    assert capped.sum(axis=0).max() <= 2
    few = candidate_parents(S[:10, :10], 20)  # fewer rows than metrics + 30: marginal correlations
    assert few.shape == (10, 10) and not few.diagonal().any()


def test_bad_arguments():
    S = np.eye(3)
    with pytest.raises(InvalidInputError, match="alpha must lie in"):
        candidate_parents(S, 100, alpha=1.5)
    with pytest.raises(InvalidInputError, match="marginal_top must be an integer >= 0, got -1"):
        candidate_parents(S, 100, marginal_top=-1)
    with pytest.raises(InvalidInputError, match="max_candidates must be an integer >= 1 or None, got 0"):
        candidate_parents(S, 100, max_candidates=0)
    with pytest.raises(InvalidInputError, match="n_vars must divide the size of S"):
        screened_linear(np.eye(6), n_vars=4, n_samples=100)
    X = _chain(500)
    with pytest.raises(InvalidInputError, match="screen must be True or False, got 'yes'"):
        StructureLearner(screen="yes").fit(X)


def test_torch_backend_on_cpu_matches_numpy():
    pytest.importorskip("torch")
    from faultgraph.discovery import backend

    sim = simulate_graph_data(kind="er", nodes=80, degree=2, samples=3000, random_state=4)
    X = sim.data.to_numpy()
    for standardize in (False, True):
        np.testing.assert_allclose(backend.second_moments(X, standardize=standardize, device="cpu"),
                                   second_moments(X, standardize=standardize), rtol=1e-10, atol=1e-12)
    S = second_moments(X, standardize=False)
    np.testing.assert_allclose(backend.inverse(S, device="cpu"), np.linalg.inv(S), rtol=1e-8, atol=1e-10)
    on_numpy = StructureLearner(screen=True, standardize=False).fit(X)
    on_torch = StructureLearner(screen=True, standardize=False, device="cpu").fit(X)
    np.testing.assert_array_equal(on_torch.adjacency_ != 0, on_numpy.adjacency_ != 0)
    np.testing.assert_allclose(on_torch.adjacency_, on_numpy.adjacency_, rtol=1e-8, atol=1e-10)


def test_backend_refuses_unknown_devices():
    torch = pytest.importorskip("torch")
    from faultgraph.discovery import backend

    with pytest.raises(InvalidInputError, match="device must be None, 'cpu' or 'cuda'.*got 'gpu0'"):
        backend.resolve_device("gpu0")
    with pytest.raises(InvalidInputError, match="device must be None.*got 3"):
        backend.resolve_device(3)
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="PyTorch sees no CUDA GPU"):
            StructureLearner(screen=True, device="cuda").fit(_chain(500))


def test_docs_example_runs():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "large_graphs.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, re.S)
    exec(compile(code, "docs/large_graphs.md", "exec"), {})


def test_large_graphs_benchmark_smoke(tmp_path):
    """benchmarks/large_graphs.py stays runnable (smallest case; no timing claims)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "large_graphs.py"
    out = tmp_path / "large.md"
    proc = subprocess.run([sys.executable, str(script), "--cases", "60:1000:1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert "--cases 60:1000:1" in text and "raw, screen + refinement" in text and "standardised" in text
