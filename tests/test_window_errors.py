"""An empty or out-of-data window is refused with InvalidInputError, never an IndexError
(issue 17, item 5)."""

from __future__ import annotations

import pandas as pd
import pytest

from faultgraph.detect import CausalDetector
from faultgraph.errors import InvalidInputError
from faultgraph.rca import explain, step_scores
from faultgraph.rca.ranking import _window_mask
from faultgraph.simulate import simulate_incident


@pytest.fixture(scope="module")
def case():
    inc = simulate_incident(services=3, random_state=0)
    return inc, CausalDetector().fit(inc.normal)


def test_empty_data_or_window_is_an_invalid_input(case):
    inc, model = case
    for score in (explain, step_scores):
        with pytest.raises(InvalidInputError, match="the data holds no rows"):
            score(model, inc.anomalous.iloc[:0], (1550, 1600))
        with pytest.raises(InvalidInputError, match="lies outside the data"):
            score(model, inc.anomalous, (10**6, 10**6 + 5))
        with pytest.raises(InvalidInputError, match=r"holds no row of the data: it falls between two of its steps "
                                                    r"\(the next is 1552\)"):  # inside the data, not outside it
            score(model, inc.anomalous, (1551.2, 1551.7))
        first, last = inc.anomalous.index[0], inc.anomalous.index[-1]
        with pytest.raises(InvalidInputError, match=rf"numbered steps, no times\): give step numbers between "
                                                    rf"{first} and {last}"):  # times on numbered steps
            score(model, inc.anomalous, ("2026-01-01 05:00", "2026-01-01 06:00"))
    for index in (pd.RangeIndex(0), pd.DatetimeIndex([])):
        with pytest.raises(InvalidInputError, match="the data holds no rows"):
            _window_mask(index, (0, 5), 1)
