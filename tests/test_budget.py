"""No silent hangs: fits that cannot finish, or are undetermined, are refused up front with numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.discovery import StructureLearner
from faultgraph._budget import MAX_SECONDS, FitEstimate, check_fit, estimate, limits
from faultgraph.errors import InvalidInputError

FAULTGRAPH = str(Path(sys.executable).with_name("faultgraph"))


def test_estimate_grows_with_the_problem_and_matches_hand_numbers():
    small, lagged = estimate(2000, 10), estimate(2000, 10, 3)
    assert isinstance(small, FitEstimate) and small.candidates == 10 and lagged.candidates == 40
    assert small.seconds < lagged.seconds < estimate(2000, 100, 3).seconds
    assert estimate(2000, 100, refine=True).seconds > 10 * estimate(2000, 100).seconds
    # memory by hand: 8 B x (2nk + 2k² + 30kd + 6d²) for n = 1000, d = k = 100
    assert estimate(1000, 100).memory == 8.0 * (2e5 + 2e4 + 3e5 + 6e4)
    assert "100 metrics = 100 candidate parents per metric on 1000 rows" in str(estimate(1000, 100))
    assert estimate(1000, 100).to_dict()["candidates"] == 100


def test_fewer_rows_than_candidates_is_refused_with_what_to_do():
    with pytest.raises(InvalidInputError, match=r"has 50 rows for 1000 candidate parents per metric \(1000 metrics\)"
                       r".*at least 1001 rows.*at most 49 metrics.*--force"):
        check_fit(50, 1000)
    with pytest.raises(InvalidInputError, match=r"1500 rows for 8016 candidate parents .*lags=500.*--lags \d+"):
        check_fit(2000, 16, 500)
    with limits(force=True):
        assert check_fit(50, 10).rows == 50  # forced: fitted (the learner warns)
    assert check_fit(51, 50).candidates == 50  # 51 rows for 50 candidates: enough


def test_time_and_memory_limits():
    with pytest.raises(InvalidInputError, match=r"would take about .* over the limit of 10 min; use .*--lags 0"):
        check_fit(20000, 1200, 1)
    with limits(max_seconds=1e6):
        assert check_fit(20000, 1200, 1).seconds > MAX_SECONDS
        with limits(max_seconds=1.0):  # nested blocks override, and restore on exit
            with pytest.raises(InvalidInputError, match="over the limit of 1 s; use at most 16[0-9] metrics"):
                check_fit(5000, 200)
        assert check_fit(20000, 1200, 1)
    with pytest.raises(InvalidInputError, match=r"standardised data, without the refinement \(--standardize\)"):
        check_fit(5000, 300, refine=True)
    with limits(max_memory=1e6, force=True):  # force lifts the time limit, not the memory one
        with pytest.raises(InvalidInputError, match=r"over the memory limit of 976.6 KiB.*at most \d+ metrics"):
            check_fit(10000, 100)
    for bad in ({"max_seconds": 0}, {"max_memory": -1}, {"force": "yes"}, {"max_seconds": True}):
        with pytest.raises(InvalidInputError, match="must be"):
            with limits(**bad):
                pass


def test_the_estimators_refuse_before_working():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(50, 1000)), columns=[f"m{i}" for i in range(1000)])
    with pytest.raises(InvalidInputError, match="50 rows for 1000 candidate parents"):
        StructureLearner().fit(wide)
    t = pd.date_range("2024-01-01", periods=2000, freq="min")
    long = pd.DataFrame(rng.normal(size=(2000, 16)).cumsum(0), index=t, columns=[f"s{i}_cpu" for i in range(16)])
    with pytest.raises(InvalidInputError, match=r"the detector's graph fit has 1500 rows for 8016 candidate parents"):
        CausalDetector(lags=500).fit(long)
    with pytest.raises(InvalidInputError, match=r"has 5 rows for 16 candidate parents"):
        StructureLearner().fit(long.iloc[:5])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("budget")
    rng = np.random.default_rng(1)
    pd.DataFrame(rng.normal(size=(50, 1000)), columns=[f"m{i}" for i in range(1000)]).to_csv(
        folder / "wide.csv", index=False)
    t = pd.date_range("2024-01-01", periods=2000, freq="min")
    frame = pd.DataFrame(rng.normal(size=(2000, 16)).cumsum(0), columns=[f"s{i // 4}_m{i % 4}" for i in range(16)])
    frame.insert(0, "timestamp", t)
    frame.to_csv(folder / "long.csv", index=False)
    frame.iloc[:5].to_csv(folder / "five.csv", index=False)
    return folder


@pytest.mark.parametrize("args, match", [
    (["discover", "wide.csv", "--out", "graph.json"], "50 rows for 1000 candidate parents"),
    (["fit", "long.csv", "--lags", "500", "--out", "model"], "1500 rows for 8016 candidate parents"),
    (["discover", "five.csv", "--out", "five.json"], "5 rows for 16 candidate parents"),
])
def test_the_command_line_ends_with_a_message(files, args, match):
    """The issue's hangs (1,000 x 50 discover, --lags 500 on 2,000 rows; 5 x 16 wrote its file
    before warning) end at once with exit 2, one line, nothing written."""
    run = subprocess.run([FAULTGRAPH, *args], cwd=files, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert match in run.stderr and "Traceback" not in run.stderr
    assert not (files / args[-1]).exists()
