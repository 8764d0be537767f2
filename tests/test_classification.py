"""Detection metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from faultgraph import InvalidInputError
from faultgraph.evaluate import best_f1_threshold, classification_scores, pr_auc, roc_auc, table1


def test_precision_recall_f1_by_hand():
    y = [1, 1, 0, 0, 1, 0]
    p = [1, 0, 1, 0, 1, 0]
    s = classification_scores(y, p)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3) and np.isnan(s.roc_auc)
    assert classification_scores([0, 0], [0, 0]).f1 == 0.0


def test_roc_auc_by_hand():
    # positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 1 + 1 + 0 + 1 = 3 of 4
    assert roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]) == pytest.approx(0.75)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_pr_auc_is_average_precision():
    # ranks: 0.9 (pos) P=1 R=.5; 0.5 (neg); 0.4 (pos) P=2/3 R=1 -> AP = .5*1 + .5*2/3
    assert pr_auc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert pr_auc([1, 0, 1], [3, 2, 1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_best_f1_threshold():
    t, f1 = best_f1_threshold([0, 1, 1, 0, 1], [0.1, 0.8, 0.7, 0.75, 0.2])
    # thresholds: .8 -> P1 R1/3 F.5; .75 -> 1/2,1/3 .4; .7 -> 2/3,2/3 .667; .2 -> 3/4,1 .857; .1 -> .6,1 .75
    assert t == pytest.approx(0.2) and f1 == pytest.approx(6 / 7)


def test_table1_layout():
    s = classification_scores([1, 0, 1, 0], [1, 0, 0, 0], [0.9, 0.1, 0.4, 0.3])
    text = table1({"Ours": s})
    assert text.splitlines()[0] == "| Method | F1-score | AUC | Recall | Precision |"
    assert text.splitlines()[2] == "| Ours | 0.67 | 1.00 | 0.50 | 1.00 |"


def test_table1_marks_an_undefined_auc():
    one_class = classification_scores([1, 1], [1, 0], [0.2, 0.3])
    assert np.isnan(one_class.roc_auc)  # the documented contract: NaN, not an error
    assert "| a | 0.67 | n/a (one class) | 0.50 | 1.00 |" in table1({"a": one_class})
    assert "| b | 0.67 | n/a | 0.50 | 1.00 |" in table1({"b": classification_scores([1, 0, 1], [1, 0, 0])})
    with pytest.raises(InvalidInputError, match=r"rows\['a'\] must be a ClassificationScores .*got int 5"):
        table1({"a": 5})
    with pytest.raises(InvalidInputError, match="rows must be a dict .* got list"):
        table1([one_class])


def test_bad_input():
    with pytest.raises(InvalidInputError, match="only 0 and 1"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="one value per label"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(InvalidInputError, match="empty"):
        classification_scores([], [])
    with pytest.raises(InvalidInputError, match=r"y_true must hold only 0 and 1 \(or booleans\), got nan"):
        roc_auc([np.nan, 1], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match=r"y_true must hold only 0 and 1 .*got 'a', 'b'"):
        pr_auc(["a", "b"], [0.1, 0.2])
    with pytest.raises(InvalidInputError, match="score has NaN or infinite values"):
        roc_auc([0, 1], [np.nan, 0.2])
    with pytest.raises(InvalidInputError, match="score must hold numbers, got 'x'"):
        best_f1_threshold([0, 1], ["x", 0.2])
    with pytest.raises(InvalidInputError, match=r"score must have one value per label \(2\), got 3"):
        classification_scores([0, 1], [0, 1], [0.1, 0.2, 0.3])
    # a label per column is not a label per row: refused, not flattened into a longer vector
    with pytest.raises(InvalidInputError, match=r"y_true must be one value per row .*got shape \(2, 2\)"):
        roc_auc([[0, 1], [1, 0]], [[0.1, 0.9], [0.8, 0.2]])
    with pytest.raises(InvalidInputError, match=r"score must be one value per row .*got shape \(2, 2\)"):
        roc_auc([0, 1], [[0.1, 0.9], [0.8, 0.2]])
    assert roc_auc([[0], [1]], [[0.1], [0.9]]) == 1.0  # one column is one label per row
