"""Scales read as unseen steps will have them: leave-one-out residuals for the equations and
the autoregression behind the innovations, so that a model with many columns on few rows
does not call every new step an incident."""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultgraph.detect import CausalDetector
from faultgraph.detect.unsupervised import hat_diagonal, support_leverage


def test_leverage_gives_the_residual_of_a_fit_without_the_row():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 5))
    A -= A.mean(axis=0)
    y = A @ rng.normal(size=5) + rng.normal(size=40)
    G = A.T @ A / len(A)
    h = hat_diagonal(A, G)
    np.testing.assert_allclose(h, np.diag(A @ np.linalg.inv(A.T @ A) @ A.T), atol=1e-12)
    beta = np.linalg.solve(A.T @ A, A.T @ y)
    loo = (y - A @ beta) / (1 - h)
    for i in (0, 17, 39):  # refit without row i: its prediction error is e_i / (1 - h_i)
        keep = np.arange(len(A)) != i
        b = np.linalg.lstsq(A[keep], y[keep], rcond=None)[0]
        assert abs((y[i] - A[i] @ b) - loo[i]) < 1e-9
    support = np.zeros((5, 2), dtype=bool)
    support[[0, 2], 0] = True  # equation 0 on columns 0 and 2; equation 1 on nothing
    H = support_leverage(A, support)
    sub = A[:, [0, 2]]
    np.testing.assert_allclose(H[:, 0], np.diag(sub @ np.linalg.inv(sub.T @ sub) @ sub.T), atol=1e-12)
    assert not H[:, 1].any()


def test_a_wide_model_does_not_alarm_on_new_normal_data():
    # 300 metrics, 900 rows: the autoregression on every metric's past has 300 columns, and
    # its fitted residuals are a fifth smaller than a new step's; read on them, the threshold
    # sat below every new step's score
    rng = np.random.default_rng(1)
    d, n = 300, 1100
    X = rng.normal(size=(n, d))
    X[:, 1::2] += 0.8 * X[:, 0::2]
    names = [f"m{j:03d}" for j in range(d)]
    frame = pd.DataFrame(X, columns=names)
    model = CausalDetector(scoring="residual+marginal+innovation").fit(frame.iloc[:900])
    fresh = frame.iloc[900:].reset_index(drop=True)
    scores = model.score_samples(fresh)
    assert (scores["anomaly"] > 0).mean() < 0.05
    faulty = fresh.copy()
    faulty.iloc[120:160, 10] += 6.0
    alarms = np.flatnonzero(model.score_samples(faulty)["anomaly"].to_numpy() > 0)
    assert alarms.size and 120 <= alarms.min() <= 160
