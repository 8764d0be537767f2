"""Graph accuracy against hand-computed values, and the simulators' ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from faultgraph import InvalidInputError, NotADAGError, graph_accuracy
from faultgraph._graph import find_cycle, is_dag, topological_order
from faultgraph.simulate import simulate_dag, simulate_graph_data, simulate_linear_sem, simulate_weights


def _adj(d, edges):
    A = np.zeros((d, d))
    for i, j in edges:
        A[i, j] = 1
    return A


def test_graph_accuracy_by_hand():
    true = _adj(4, [(0, 1), (1, 2), (2, 3)])
    # 0->1 correct, 2->1 reversed, 0->3 extra; 2->3 missing
    learned = _adj(4, [(0, 1), (2, 1), (0, 3)])
    acc = graph_accuracy(true, learned)
    assert acc.shd == 3  # extra 0-3, missing 2-3, reversed 1-2 (counted once)
    assert acc.tpr == pytest.approx(1 / 3)
    assert acc.fdr == pytest.approx(2 / 3)
    assert acc.fpr == pytest.approx(2 / (0.5 * 4 * 3 - 3))  # NOTEARS' convention: unordered non-edges
    assert (acc.nnz, acc.n_true, acc.n_reversed) == (3, 3, 1)
    assert acc.to_dict()["shd"] == 3 and "SHD 3" in str(acc)


def test_graph_accuracy_perfect_and_empty():
    true = _adj(3, [(0, 1), (0, 2)])
    assert graph_accuracy(true, true).shd == 0
    empty = graph_accuracy(true, np.zeros((3, 3)))
    assert (empty.shd, empty.tpr, empty.fdr, empty.nnz) == (2, 0.0, 0.0, 0)


def test_graph_accuracy_counts_two_cycles_by_hand():
    true = _adj(3, [(0, 1)])
    # every ordered pair: 0->1 correct, 1->0 reversed beside it, 0<->2 and 1<->2 four extra edges
    acc = graph_accuracy(true, _adj(3, [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]))
    assert (acc.shd, acc.nnz, acc.n_reversed) == (5, 6, 1)  # five deletions turn it into true
    assert acc.tpr == 1.0 and acc.fdr == pytest.approx(5 / 6)
    assert acc.fpr == pytest.approx(5 / (0.5 * 3 * 2 - 1))  # 2.5: NOTEARS' FPR can exceed 1
    acc = graph_accuracy(_adj(3, [(0, 1), (1, 2)]), _adj(3, [(1, 0), (2, 1), (2, 0)]))  # all reversed or extra
    assert (acc.shd, acc.n_reversed) == (3, 2) and acc.fpr == pytest.approx(3 / 1)
    one = graph_accuracy(_adj(2, [(0, 1)]), _adj(2, [(0, 1), (1, 0)]))
    assert (one.shd, one.fdr) == (1, 0.5)


def test_graph_accuracy_rejects_bad_input():
    with pytest.raises(InvalidInputError, match="one shape"):
        graph_accuracy(np.zeros((3, 3)), np.zeros((4, 4)))
    with pytest.raises(NotADAGError, match="cycle"):
        graph_accuracy(_adj(2, [(0, 1), (1, 0)]), np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match="learned has NaN entries"):
        graph_accuracy(np.zeros((2, 2)), np.full((2, 2), np.nan))
    with pytest.raises(InvalidInputError, match=r"learned has self-loops at nodes \[1\]; its diagonal must be 0"):
        graph_accuracy(np.zeros((2, 2)), _adj(2, [(1, 1)]))
    with pytest.raises(InvalidInputError, match="true must be a numeric adjacency matrix"):
        graph_accuracy([["a", "b"], ["c", "d"]], np.zeros((2, 2)))


def test_graph_utilities():
    A = _adj(4, [(0, 1), (1, 2), (0, 3)])
    order = topological_order(A)
    assert order is not None and all(order.index(i) < order.index(j) for i, j in [(0, 1), (1, 2), (0, 3)])
    assert find_cycle(A) is None
    A[2, 0] = 1
    assert not is_dag(A) and sorted(find_cycle(A)) == [(0, 1), (1, 2), (2, 0)]


@pytest.mark.parametrize("kind, degree", [("er", 2), ("er", 1), ("sf", 4)])
def test_simulated_graphs_are_dags_with_the_expected_size(kind, degree):
    sizes = []
    for seed in range(10):
        B = simulate_dag(50, degree, kind, random_state=seed)
        assert is_dag(B) and set(np.unique(B)) <= {0.0, 1.0}
        sizes.append(B.sum())
    assert np.mean(sizes) == pytest.approx(degree * 50, rel=0.15)


def test_scale_free_graphs_have_hubs():
    B = simulate_dag(200, 2, "sf", random_state=0)
    in_deg = B.sum(axis=0)
    assert in_deg.max() > 5 * np.median(in_deg[in_deg > 0])


def test_simulation_is_reproducible_and_seeded():
    a = simulate_graph_data(nodes=8, samples=50, random_state=7)
    b = simulate_graph_data(nodes=8, samples=50, random_state=7)
    c = simulate_graph_data(nodes=8, samples=50, random_state=8)
    np.testing.assert_array_equal(a.data.to_numpy(), b.data.to_numpy())
    assert not np.array_equal(a.data.to_numpy(), c.data.to_numpy())


def test_weights_lie_in_the_stated_ranges():
    B = simulate_dag(30, 3, "er", random_state=1)
    W = simulate_weights(B, random_state=1)
    w = np.abs(W[B != 0])
    assert ((w >= 0.5) & (w <= 2.0)).all() and (W[B == 0] == 0).all()
    assert (W[B != 0] > 0).any() and (W[B != 0] < 0).any()


@pytest.mark.parametrize("noise, mean", [("gauss", 0.0), ("exp", 1.0), ("gumbel", np.euler_gamma)])
def test_linear_sem_matches_its_equations(noise, mean):
    W = np.zeros((3, 3))
    W[0, 1], W[1, 2] = 2.0, -1.5
    X = simulate_linear_sem(W, 200_000, noise=noise, noise_scale=[1.0, 0.5, 2.0], random_state=0)
    E = X - X @ W  # the noise each equation adds
    np.testing.assert_allclose(E.mean(axis=0), mean * np.array([1.0, 0.5, 2.0]), atol=0.02)
    # the noise of the three equations is independent
    assert abs(np.corrcoef(E.T)[0, 1]) < 0.01 and abs(np.corrcoef(E.T)[1, 2]) < 0.01


def test_unequal_variances():
    sim = simulate_graph_data(nodes=10, equal_variance=False, random_state=3)
    assert sim.noise_scale.min() >= 0.5 and sim.noise_scale.max() <= 2.0 and np.ptp(sim.noise_scale) > 0


def test_simulator_rejects_bad_input():
    with pytest.raises(NotADAGError):
        simulate_linear_sem(_adj(2, [(0, 1), (1, 0)]), 10)
    with pytest.raises(InvalidInputError, match="noise must be one of"):
        simulate_linear_sem(np.zeros((2, 2)), 10, noise="cauchy")
    with pytest.raises(InvalidInputError, match="kind must be one of"):
        simulate_dag(5, 2, "tree")
    with pytest.raises(InvalidInputError, match="d must be an integer >= 2"):
        simulate_dag(1, 2)
    with pytest.raises(InvalidInputError, match="noise_scale must be"):
        simulate_linear_sem(np.zeros((3, 3)), 10, noise_scale=[1.0, 2.0])
    with pytest.raises(InvalidInputError, match="random_state"):
        simulate_dag(5, 2, random_state="seed")
