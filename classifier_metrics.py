# coding=utf-8
"""Classification metrics in numpy: accuracy, F1, Matthews correlation, Pearson, Spearman.

``compute_metrics`` scores the predictions of every real example (the
figures ``run_classifier.py`` logs and selects the best checkpoint by);
``format_probabilities`` writes one line of ``test_results.tsv``. No
TensorFlow.

Neighbours: ``classifier_tasks`` (task files and each task's ``metric``),
``classifier_utils`` (features, model, export).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

import numpy as np


def _rank(values):
    """Ranks with ties averaged (1-based), as Spearman's correlation needs."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def pearson(x, y):
    """Pearson correlation (0 when either side is constant)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denominator) if denominator > 0 else 0.0


def spearman(x, y):
    """Spearman rank correlation (ties averaged)."""
    return pearson(_rank(x), _rank(y))


def matthews_corr(predictions, labels):
    """Matthews correlation of binary predictions (0 when undefined)."""
    p = np.asarray(predictions) == 1
    t = np.asarray(labels) == 1
    tp = float(np.sum(p & t))
    tn = float(np.sum(~p & ~t))
    fp = float(np.sum(p & ~t))
    fn = float(np.sum(~p & t))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denominator if denominator > 0 else 0.0


def f1_score(predictions, labels, positive=1):
    """F1 of the positive class (0 when there is no true or predicted positive)."""
    p = np.asarray(predictions) == positive
    t = np.asarray(labels) == positive
    tp = float(np.sum(p & t))
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / t.sum() if t.sum() else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def compute_metrics(probabilities, label_ids, is_regression=False):
    """Metrics of predictions against labels (real examples only).

    Args:
      probabilities: [N, num_labels] class probabilities, or [N, 1] scores
        for regression.
      label_ids: [N] label ids (floats for regression).
      is_regression: regression metrics.

    Returns:
      dict: ``eval_loss`` (mean cross-entropy, or MSE), ``num_examples`` and
      ``eval_accuracy``, ``eval_f1`` and ``eval_matthews_corr`` (two classes),
      or ``eval_pearson``, ``eval_spearman``, ``eval_mse`` (regression).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(label_ids)
    metrics = collections.OrderedDict()
    metrics["num_examples"] = int(len(labels))
    if is_regression:
        scores = probabilities.reshape([-1])
        mse = float(np.mean((scores - labels)**2)) if len(labels) else 0.0
        metrics["eval_loss"] = mse
        metrics["eval_mse"] = mse
        metrics["eval_pearson"] = pearson(scores, labels)
        metrics["eval_spearman"] = spearman(scores, labels)
        return metrics
    labels = labels.astype(np.int64)
    if not len(labels):
        metrics["eval_loss"] = metrics["eval_accuracy"] = 0.0
        return metrics
    predictions = np.argmax(probabilities, axis=-1)
    picked = probabilities[np.arange(len(labels)), labels]
    metrics["eval_loss"] = float(np.mean(-np.log(np.maximum(picked, 1e-12))))
    metrics["eval_accuracy"] = float(np.mean(predictions == labels))
    if probabilities.shape[-1] == 2:
        metrics["eval_f1"] = f1_score(predictions, labels)
        metrics["eval_matthews_corr"] = matthews_corr(predictions, labels)
    return metrics


def format_probabilities(row):
    """One test_results.tsv line: the probabilities, tab-separated."""
    return "\t".join(repr(float(p)) for p in row) + "\n"
