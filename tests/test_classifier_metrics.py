# coding=utf-8
"""Tests of classifier_metrics: the metrics against hand-computed values."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import numpy as np
import pytest

import classifier_metrics


def test_metrics_against_hand_computed_values():
    labels = [1, 1, 0, 0, 1, 0]
    predictions = [1, 0, 0, 1, 1, 0]
    # tp=2 tn=2 fp=1 fn=1
    assert classifier_metrics.f1_score(predictions, labels) == pytest.approx(2 / 3.0)
    assert classifier_metrics.matthews_corr(predictions, labels) == pytest.approx((4 - 1) / 9.0)
    assert classifier_metrics.matthews_corr([1, 1], [1, 0]) == 0.0
    x = [1.0, 2.0, 3.0, 4.0]
    assert classifier_metrics.pearson(x, [2.0, 4.0, 6.0, 8.0]) == pytest.approx(1.0)
    assert classifier_metrics.pearson(x, [1.0, 3.0, 2.0, 5.0]) == pytest.approx(0.8315218, abs=1e-6)
    assert classifier_metrics.spearman([1, 2, 2, 3], [10, 20, 20, 35]) == pytest.approx(1.0)
    assert classifier_metrics.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert list(classifier_metrics._rank([3, 1, 3, 2])) == [3.5, 1.0, 3.5, 2.0]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    metrics = classifier_metrics.compute_metrics(probs, [0, 1, 1])
    assert metrics["eval_accuracy"] == pytest.approx(2 / 3.0)
    assert metrics["eval_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3)
    assert metrics["num_examples"] == 3
    regression = classifier_metrics.compute_metrics(np.array([[1.0], [2.0], [3.5]]),
                                                    [1.0, 2.0, 3.0], True)
    assert regression["eval_mse"] == pytest.approx(0.25 / 3)
    assert regression["eval_spearman"] == pytest.approx(1.0)
