"""The evaluation figures of `diplolens evaluate topics`: the goal's macro-F1 leaves out rare labels."""

import numpy as np
import pytest

from pipeline.topics.training import MIN_MACRO_SUPPORT, label_scores


def test_macro_f1_over_frequent_labels_leaves_out_labels_with_few_examples():
    rows = 40
    truth = np.zeros((rows, 3), bool)
    truth[:20, 0] = True                # frequent, predicted perfectly
    truth[20:32, 1] = True              # frequent (12 examples), half found
    truth[32:34, 2] = True              # 2 examples, never found
    predicted = truth.copy()
    predicted[20:26, 1] = False
    predicted[32:34, 2] = False

    scores = label_scores(truth, predicted, ["political", "sports", "consular"])

    f1_sports = 2 * 1.0 * 0.5 / 1.5
    assert scores["per_label"]["consular"]["support"] == 2 < MIN_MACRO_SUPPORT
    assert scores["macro_f1"] == pytest.approx((1.0 + f1_sports + 0.0) / 3, abs=1e-3)
    assert scores[f"macro_f1_support_{MIN_MACRO_SUPPORT}"] == pytest.approx((1.0 + f1_sports) / 2, abs=1e-3)


def test_macro_f1_over_frequent_labels_is_none_when_no_label_is_frequent():
    truth = np.array([[True], [False]])
    assert label_scores(truth, truth.copy(), ["political"])[f"macro_f1_support_{MIN_MACRO_SUPPORT}"] is None


def test_labels_a_source_does_not_annotate_are_not_scored():
    truth = np.array([[True, False], [False, False], [True, False]])
    predicted = np.array([[True, True], [False, True], [True, False]])  # "economic" said twice
    known = np.array([[True, False]] * 3)  # the source has no category for it
    scores = label_scores(truth, predicted, ["political", "economic"], known)
    assert scores["micro_f1"] == 1.0
    assert scores["per_label"]["economic"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert label_scores(truth, predicted, ["political", "economic"])["micro_f1"] == pytest.approx(2 * 2 / (4 + 2), abs=1e-3)
