# coding=utf-8
"""SQuAD and CMRC2018 metrics, and the command that scores a predictions file.

Official SQuAD v1.1 and v2.0 EM/F1 (v2 with HasAns / NoAns figures and the
null-odds threshold) and CMRC2018's EM/F1 (also used for DRCD).
``python squad_metrics.py --dataset_file=... --prediction_file=...`` scores
a predictions file (``python squad_utils.py`` with the same arguments runs
this command too).

Neighbours: ``squad_data`` (reads the gold answers), ``squad_decoding``
(produces the predictions and null odds scored here).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import collections
import json
import re
import string
import sys
import unicodedata

import squad_data
import squad_decoding
import tokenization

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """SQuAD's normalisation: lower case, no punctuation, articles or extra spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _squad_tokens(text):
    return normalize_answer(text).split() if text else []


def squad_exact(gold, prediction):
    """1 when the normalised texts are equal (SQuAD EM of one pair)."""
    return int(normalize_answer(gold) == normalize_answer(prediction))


def _f1(common, num_predicted, num_gold):
    """F1 of ``common`` units shared by a prediction of ``num_predicted`` and a
    gold answer of ``num_gold`` units (0 when nothing is shared)."""
    if common == 0:
        return 0.0
    precision = common / num_predicted
    recall = common / num_gold
    return 2 * precision * recall / (precision + recall)


def squad_f1(gold, prediction):
    """SQuAD token-bag F1 of one pair (v2 rule: empty vs empty is 1)."""
    gold_tokens = _squad_tokens(gold)
    pred_tokens = _squad_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    return _f1(sum(common.values()), len(pred_tokens), len(gold_tokens))


def _sum_best_scores(gold, predictions, exact_fn, f1_fn):
    """Sums over the questions of the best exact and F1 score against any gold
    answer (a question without one is scored against ""); a question without
    a prediction scores 0 and is counted as missing.

    Returns:
      (exact sum, F1 sum, missing count).
    """
    exact = f1 = 0.0
    missing = 0
    for qid, answers in gold.items():
        if qid not in predictions:
            missing += 1
            continue
        prediction = predictions[qid]
        answers = answers or [""]
        exact += max(exact_fn(a, prediction) for a in answers)
        f1 += max(f1_fn(a, prediction) for a in answers)
    return exact, f1, missing


def evaluate_v1(gold, predictions):
    """Official SQuAD v1.1 EM and F1 (percent).

    Args:
      gold: {qid: [answer texts]}.
      predictions: {qid: text}; a missing prediction scores 0.

    Returns:
      OrderedDict exact_match, f1, total, missing.
    """
    exact, f1, missing = _sum_best_scores(gold, predictions, squad_exact, _squad_f1_v1)
    total = max(len(gold), 1)
    return collections.OrderedDict([("exact_match", 100.0 * exact / total),
                                    ("f1", 100.0 * f1 / total), ("total", len(gold)),
                                    ("missing", missing)])


def _squad_f1_v1(gold, prediction):
    # v1.1's script: no special case for empty texts (0 unless tokens overlap).
    gold_tokens = _squad_tokens(gold)
    pred_tokens = _squad_tokens(prediction)
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    return _f1(sum(common.values()), len(pred_tokens), len(gold_tokens))


def _v2_raw_scores(gold, predictions):
    exact, f1 = {}, {}
    for qid, answers in gold.items():
        if qid not in predictions:
            continue
        answers = [a for a in answers if normalize_answer(a)] or [""]
        prediction = predictions[qid]
        exact[qid] = max(squad_exact(a, prediction) for a in answers)
        f1[qid] = max(squad_f1(a, prediction) for a in answers)
    return exact, f1


def _summary(scores, qids):
    if not qids:
        return 0.0
    return 100.0 * sum(scores.get(q, 0.0) for q in qids) / len(qids)


def best_null_threshold(gold, best_text, null_odds):
    """The null-odds threshold maximising v2 F1 on (gold, predictions).

    Returns:
      (threshold, best F1 in percent).
    """
    _, f1 = _v2_raw_scores(gold, best_text)
    has_answer = {
        qid: bool([a for a in answers if normalize_answer(a)]) for qid, answers in gold.items()
    }
    qids = sorted((q for q in gold if q in null_odds), key=lambda q: null_odds[q])
    # A question is answered when its odds <= threshold. Start below every
    # odds (all null), then answer questions from the lowest odds up.
    score = sum(0.0 if has_answer[q] else 1.0 for q in qids)
    best_score = score
    best_threshold = (null_odds[qids[0]] - 1.0) if qids else 0.0
    for position, qid in enumerate(qids):
        score += f1.get(qid, 0.0) - (0.0 if has_answer[qid] else 1.0)
        tied = (position + 1 < len(qids) and null_odds[qids[position + 1]] == null_odds[qid])
        if not tied and score > best_score:
            best_score, best_threshold = score, float(null_odds[qid])
    return best_threshold, 100.0 * best_score / max(len(gold), 1)


def evaluate_v2(gold, best_text, null_odds=None, threshold=0.0, tuning=None):
    """Official SQuAD v2.0 EM/F1 overall, HasAns and NoAns (percent).

    Predictions are ``best_text`` with "" wherever the null odds exceed
    ``threshold``. The headline figures use that threshold, which must come
    from other data (default 0.0, i.e. answer-class probability 0.5). The
    threshold that would be best on this very data, and the F1 it would
    give, are reported under ``oracle_*`` names: optimistic, not comparable.

    Args:
      gold: {qid: [answer texts]} ([] for unanswerable).
      best_text: {qid: text} (best non-null answer, or final predictions when
        null_odds is None).
      null_odds: {qid: float} or None.
      threshold: null-odds threshold chosen elsewhere.
      tuning: optional (gold, best_text, null_odds) of another data set to
        choose the threshold on (overrides ``threshold``).

    Returns:
      OrderedDict of metrics.
    """
    metrics = collections.OrderedDict()
    if tuning is not None:
        threshold, _ = best_null_threshold(*tuning)
        metrics["threshold_source"] = "tuned on other data"
    predictions = (squad_decoding.apply_null_threshold(best_text, null_odds, threshold)
                   if null_odds is not None else best_text)
    exact, f1 = _v2_raw_scores(gold, predictions)
    has_ans = [q for q, a in gold.items() if [x for x in a if normalize_answer(x)]]
    no_ans = [q for q in gold if q not in set(has_ans)]
    all_q = list(gold)
    metrics["exact"] = _summary(exact, all_q)
    metrics["f1"] = _summary(f1, all_q)
    metrics["total"] = len(all_q)
    metrics["HasAns_exact"] = _summary(exact, has_ans)
    metrics["HasAns_f1"] = _summary(f1, has_ans)
    metrics["HasAns_total"] = len(has_ans)
    metrics["NoAns_exact"] = _summary(exact, no_ans)
    metrics["NoAns_f1"] = _summary(f1, no_ans)
    metrics["NoAns_total"] = len(no_ans)
    metrics["missing"] = sum(1 for q in gold if q not in predictions)
    if null_odds is not None:
        metrics["null_score_diff_threshold"] = float(threshold)
        oracle_threshold, oracle_f1 = best_null_threshold(gold, best_text, null_odds)
        metrics["oracle_f1_tuned_on_this_data"] = oracle_f1
        metrics["oracle_threshold_tuned_on_this_data"] = float(oracle_threshold)
    return metrics


_CMRC_EXTRA_PUNCTUATION = frozenset(u"-:_*^/\\~`+=，。：？！“”；’《》…·、「」（）－～『』")


def _is_cmrc_punctuation(char):
    return (char in _CMRC_EXTRA_PUNCTUATION or char in _ASCII_PUNCTUATION or
            unicodedata.category(char).startswith("P"))


def cmrc_segments(text):
    """CMRC2018 segmentation: CJK characters one by one, other runs as words.

    Lower-cased; punctuation and whitespace removed.
    """
    text = text.lower().strip()
    segments = []
    word = []
    for char in text:
        if _is_cmrc_punctuation(char) or char.isspace():
            if word:
                segments.append("".join(word))
                word = []
            continue
        if tokenization._is_chinese_char(ord(char)):  # pylint: disable=protected-access
            if word:
                segments.append("".join(word))
                word = []
            segments.append(char)
        else:
            word.append(char)
    if word:
        segments.append("".join(word))
    return segments


def _longest_common_substring(a, b):
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                current[j + 1] = previous[j] + 1
                if current[j + 1] > best:
                    best = current[j + 1]
        previous = current
    return best


def cmrc_f1(gold, prediction):
    """CMRC2018 F1 of one pair: longest common run of segments."""
    gold_segments = cmrc_segments(gold)
    pred_segments = cmrc_segments(prediction)
    return _f1(_longest_common_substring(gold_segments, pred_segments), len(pred_segments),
               len(gold_segments))


def cmrc_exact(gold, prediction):
    """CMRC2018 EM of one pair: equal after removing punctuation and spaces."""
    return int("".join(cmrc_segments(gold)) == "".join(cmrc_segments(prediction)))


def evaluate_cmrc2018(gold, predictions):
    """CMRC2018's EM and F1 (percent; also used for DRCD).

    Each question scores its best EM and F1 against every reference answer;
    a missing prediction scores 0.

    Returns:
      OrderedDict f1, exact_match, average (of the two), total, missing.
    """
    exact, f1, missing = _sum_best_scores(gold, predictions, cmrc_exact, cmrc_f1)
    total = max(len(gold), 1)
    metrics = collections.OrderedDict()
    metrics["f1"] = 100.0 * f1 / total
    metrics["exact_match"] = 100.0 * exact / total
    metrics["average"] = (metrics["f1"] + metrics["exact_match"]) / 2
    metrics["total"] = len(gold)
    metrics["missing"] = missing
    return metrics


METRICS = ("squad_v1", "squad_v2", "cmrc2018")


def guess_metric(gold, version_2_with_negative=False):
    """squad_v2 with negatives, cmrc2018 when answers are mostly CJK, else squad_v1."""
    if version_2_with_negative:
        return "squad_v2"
    chars = cjk = 0
    for answers in list(gold.values())[:2000]:
        for answer in answers[:1]:
            for char in answer:
                chars += 1
                cjk += tokenization._is_chinese_char(ord(char))  # pylint: disable=protected-access
    return "cmrc2018" if chars and cjk * 2 >= chars else "squad_v1"


def evaluate(gold, predictions, metric, null_odds=None, threshold=0.0):
    """Scores predictions with the named metric (see METRICS)."""
    if metric == "squad_v1":
        return evaluate_v1(gold, predictions)
    if metric == "squad_v2":
        return evaluate_v2(gold, predictions, null_odds, threshold)
    if metric == "cmrc2018":
        return evaluate_cmrc2018(gold, predictions)
    raise ValueError("unknown metric %r (one of %s)" % (metric, ", ".join(METRICS)))


def main(argv=None):
    """``python squad_metrics.py --dataset_file=D --prediction_file=P``: prints metrics JSON."""
    parser = argparse.ArgumentParser(
        description="Score a predictions.json against a SQuAD-format dataset file.")
    parser.add_argument("--dataset_file", required=True, help="SQuAD-format JSON with answers.")
    parser.add_argument("--prediction_file", required=True, help="{id: answer text} JSON.")
    parser.add_argument(
        "--metric", choices=METRICS, default=None,
        help="Default: squad_v2 with --na_prob_file, cmrc2018 for Chinese "
        "answers, else squad_v1.")
    parser.add_argument(
        "--na_prob_file", default=None,
        help="null_odds.json (v2): a prediction becomes \"\" when its null "
        "odds exceed --na_prob_thresh.")
    parser.add_argument("--na_prob_thresh", type=float, default=0.0,
                        help="Null-odds threshold (choose it on other data).")
    args = parser.parse_args(argv)
    try:
        gold = squad_data.read_gold_answers(args.dataset_file)
        load_json = squad_data._load_json  # pylint: disable=protected-access
        predictions = load_json(args.prediction_file)
        null_odds = load_json(args.na_prob_file) if args.na_prob_file else None
    except squad_data.DataError as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    if not isinstance(predictions, dict):
        sys.stderr.write("error: %s: expected a JSON object {id: text}\n" % args.prediction_file)
        return 1
    metric = args.metric or guess_metric(gold, null_odds is not None)
    metrics = evaluate(gold, predictions, metric, null_odds, args.na_prob_thresh)
    metrics["metric"] = metric
    sys.stdout.write(json.dumps(metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
