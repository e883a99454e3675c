# coding=utf-8
"""SQuAD decoding: model outputs to n-best answer texts (v1) and null odds (v2).

:func:`raw_result` turns one Estimator prediction row into a ``RawResultV1`` /
``RawResultV2``; :func:`decode_v1` and :func:`decode_v2` pick the n-best
spans (within ``max_answer_length``, starting where the window has the
token's maximum context) and cut them out of the original context with the
features' character offsets; :func:`apply_null_threshold` gives the final v2
predictions. numpy only, no TensorFlow.

Neighbours: ``squad_features`` (the features and their offsets),
``squad_utils`` (the heads whose outputs are decoded), ``squad_metrics``
(scoring the decoded answers).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

import numpy as np

RawResultV1 = collections.namedtuple("RawResultV1", ["unique_id", "start_logits", "end_logits"])
RawResultV2 = collections.namedtuple("RawResultV2", [
    "unique_id", "start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index",
    "cls_logits"
])


def raw_result(row, version_2_with_negative):
    """One Estimator prediction row -> RawResultV1 / RawResultV2."""
    unique_id = int(row["unique_ids"])
    if not version_2_with_negative:
        return RawResultV1(unique_id, [float(x) for x in row["start_logits"]],
                           [float(x) for x in row["end_logits"]])
    return RawResultV2(unique_id, row["start_top_log_probs"], row["start_top_index"],
                       row["end_top_log_probs"], row["end_top_index"], row["cls_logits"])


def _top_indexes(values, n):
    values = np.asarray(values)
    n = min(n, len(values))
    order = np.argsort(-values, kind="mergesort")
    return [int(i) for i in order[:n]]


def _softmax(scores):
    if not scores:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    exp = np.exp(scores - scores.max())
    return list(exp / exp.sum())


def _valid_span(feature, start, end, max_answer_length):
    return (start in feature.token_start_char and end in feature.token_start_char and
            feature.token_is_max_context.get(start, False) and end >= start and
            end - start + 1 <= max_answer_length)


def _finish_nbest(example, candidates, n_best_size):
    """Sorted, text-deduplicated n-best entries with probabilities."""
    candidates.sort(key=lambda c: -c["score"])
    seen = set()
    nbest = []
    for candidate in candidates:
        text = example.context_text[candidate["start_char"]:candidate["end_char"]]
        if text in seen:
            continue
        seen.add(text)
        entry = collections.OrderedDict([("text", text)])
        entry.update(candidate)
        nbest.append(entry)
        if len(nbest) >= n_best_size:
            break
    if not nbest:
        nbest.append(
            collections.OrderedDict([("text", ""), ("score", 0.0), ("start_char", -1),
                                     ("end_char", -1)]))
    for entry, probability in zip(nbest, _softmax([e["score"] for e in nbest])):
        entry["probability"] = float(probability)
    return nbest


def _group_features(features):
    by_example = collections.defaultdict(list)
    for feature in features:
        by_example[feature.example_index].append(feature)
    return by_example


def decode_v1(examples, features, results, n_best_size, max_answer_length):
    """n-best answers of the v1 head.

    Args:
      examples: list of SquadExample.
      features: their InputFeatures (decoding metadata suffices).
      results: RawResultV1 per feature (by unique_id).
      n_best_size: answers kept per question (and start/end candidates per
        window).
      max_answer_length: longest answer in tokens.

    Returns:
      (predictions {qid: text}, nbest {qid: [entries]}); each entry has
      text, score (start + end logit), start_logit, end_logit, start_char,
      end_char (offsets into the context) and probability (softmax over the
      n-best scores).
    """
    by_id = {r.unique_id: r for r in results}
    by_example = _group_features(features)
    predictions = collections.OrderedDict()
    all_nbest = collections.OrderedDict()
    for example_index, example in enumerate(examples):
        candidates = []
        for feature in by_example.get(example_index, []):
            result = by_id.get(feature.unique_id)
            if result is None:
                continue
            start_logits = np.asarray(result.start_logits)
            end_logits = np.asarray(result.end_logits)
            for start in _top_indexes(start_logits, n_best_size):
                for end in _top_indexes(end_logits, n_best_size):
                    if not _valid_span(feature, start, end, max_answer_length):
                        continue
                    candidates.append(
                        collections.OrderedDict([("score",
                                                  float(start_logits[start] + end_logits[end])),
                                                 ("start_logit", float(start_logits[start])),
                                                 ("end_logit", float(end_logits[end])),
                                                 ("start_char", feature.token_start_char[start]),
                                                 ("end_char", feature.token_end_char[end])]))
        nbest = _finish_nbest(example, candidates, n_best_size)
        predictions[example.qas_id] = nbest[0]["text"]
        all_nbest[example.qas_id] = nbest
    return predictions, all_nbest


def decode_v2(examples, features, results, n_best_size, max_answer_length, start_n_top, end_n_top):
    """n-best answers and null odds of the v2 (answerability) head.

    The score of a span is its start log-probability plus its end
    log-probability; the null odds of a question is the smallest answer-class
    logit over its windows (higher means "no answer").

    Returns:
      (best_non_null {qid: text}, nbest {qid: [entries]}, null_odds
      {qid: float}).
    """
    by_id = {r.unique_id: r for r in results}
    by_example = _group_features(features)
    best_text = collections.OrderedDict()
    all_nbest = collections.OrderedDict()
    null_odds = collections.OrderedDict()
    for example_index, example in enumerate(examples):
        candidates = []
        null = None
        for feature in by_example.get(example_index, []):
            result = by_id.get(feature.unique_id)
            if result is None:
                continue
            cls_logit = float(np.asarray(result.cls_logits).reshape([-1])[0])
            null = cls_logit if null is None else min(null, cls_logit)
            start_log_probs = np.asarray(result.start_top_log_probs).reshape([-1])
            start_index = np.asarray(result.start_top_index).reshape([-1])
            end_log_probs = np.asarray(result.end_top_log_probs).reshape([-1])
            end_index = np.asarray(result.end_top_index).reshape([-1])
            for i in range(start_n_top):
                for j in range(end_n_top):
                    k = i * end_n_top + j
                    start, end = int(start_index[i]), int(end_index[k])
                    if not _valid_span(feature, start, end, max_answer_length):
                        continue
                    candidates.append(
                        collections.OrderedDict([("score",
                                                  float(start_log_probs[i] + end_log_probs[k])),
                                                 ("start_log_prob", float(start_log_probs[i])),
                                                 ("end_log_prob", float(end_log_probs[k])),
                                                 ("start_char", feature.token_start_char[start]),
                                                 ("end_char", feature.token_end_char[end])]))
        nbest = _finish_nbest(example, candidates, n_best_size)
        best_text[example.qas_id] = nbest[0]["text"]
        all_nbest[example.qas_id] = nbest
        null_odds[example.qas_id] = 0.0 if null is None else null
    return best_text, all_nbest, null_odds


def apply_null_threshold(best_text, null_odds, threshold):
    """v2 predictions: "" where the null odds exceed ``threshold``."""
    return collections.OrderedDict((qid, "" if null_odds.get(qid, 0.0) > threshold else text)
                                   for qid, text in best_text.items())
