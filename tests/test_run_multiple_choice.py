# coding=utf-8
"""End-to-end tests of run_multiple_choice.py on tiny models and synthetic data.

The learnable task: of two to four options, the answer is the one character
from set A; the other options come from sets B and C. A 2-layer, hidden-32
model learns it within a few hundred steps, but only if the labels, the
option order and the masking of missing options all survive the way from the
input files to the records. The three input formats (C3, RACE, JSON lines)
are written by the tests themselves.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

import modeling
import pretraining_testlib
import script_testlib
from script_testlib import one_line_error, write
from tf_compat import tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "run_multiple_choice.py")

SET_A, SET_B, SET_C = u"天地人山水", u"火木金土日", u"月星风云雨"
FILLER = u"花草鱼鸟虫石田"
MARKERS = u"甲乙"
QUESTION = u"选哪个"
VOCAB = ([u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] +
         list(SET_A + SET_B + SET_C + FILLER + MARKERS + QUESTION + u"_"))
SEQ = 16
QA = 6
NUM_CHOICES = 4


def write_json(path, value):
    return write(path, json.dumps(value, ensure_ascii=False))


def write_lines(path, objects):
    return write(path, u"".join(json.dumps(o, ensure_ascii=False) + u"\n" for o in objects))


def read_lines(path):
    return [json.loads(l) for l in io.open(path, encoding="utf-8").read().splitlines()]


def run_script(*args):
    return script_testlib.run_script(SCRIPT, args, timeout=600)


def question(rng, num_options):
    """(context, options, index of the answer) of one synthetic question.

    The answer is the option from set A; the others come from sets B and C.
    (An earlier variant where a marker in the context picked set A or set B
    reached 1.0 in most runs but stayed at 0.5 (set C ruled out, A and B
    undecided) for a whole 300-step run with one of three seeds on TF 1.15:
    too unreliable for a test.)
    """
    context = u"".join(rng.choice(FILLER + MARKERS) for _ in range(6))
    options = [rng.choice(SET_A)] + rng.sample(SET_B + SET_C, num_options - 1)
    rng.shuffle(options)
    return context, options, [k for k, o in enumerate(options) if o in SET_A][0]


def jsonl_rows(seed, count, prefix="q"):
    """Rows of the JSON-lines format; every third label is the text of the choice."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        context, options, label = question(rng, rng.choice([2, 3, 4]))
        rows.append({
            "id": "%s%d" % (prefix, 3 * i + 7),
            "context": context,
            "question": QUESTION,
            "choices": options,
            "label": options[label] if i % 3 == 2 else label
        })
    return rows


def label_index(row):
    label = row["label"]
    return label if isinstance(label, int) else row["choices"].index(label)


def write_jsonl_task(directory, seed, counts=(800, 100, 100)):
    for split, offset, count in zip(("train", "dev", "test"), (0, 1, 2), counts):
        write_lines(os.path.join(str(directory), "%s.jsonl" % split),
                    jsonl_rows(seed * 10 + offset, count, prefix=split[:2]))
    return str(directory)


def chance_accuracy(rows):
    """Expected accuracy of picking one of each question's own options at random."""
    return float(np.mean([1.0 / len(r["choices"]) for r in rows]))


def save_pretrained(config_fields, prefix):
    """A randomly initialised encoder checkpoint standing in for a pretrained one."""
    config = modeling.AlbertConfig(**config_fields)
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        modeling.AlbertModel(config, False, tf.zeros([1, 4], dtype=tf.int32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    return prefix


def make_workspace(root):
    """Vocabulary, tiny config and pretrained checkpoint in ``root``."""
    ws = {"root": str(root)}
    ws["vocab"] = write(os.path.join(str(root), "vocab.txt"), u"\n".join(VOCAB) + u"\n")
    fields = pretraining_testlib.tiny_config(vocab_size=len(VOCAB), num_attention_heads=2)
    ws["config"] = pretraining_testlib.write_config(os.path.join(str(root), "config.json"), fields)
    ws["pretrained"] = save_pretrained(fields, os.path.join(str(root), "pretrained", "model.ckpt"))
    return ws


def base_flags(ws, output_dir, data_dir, task="jsonl"):
    return [
        "--task_name=%s" % task,
        "--data_dir=%s" % data_dir,
        "--albert_config_file=%s" % ws["config"],
        "--vocab_file=%s" % ws["vocab"],
        "--output_dir=%s" % output_dir,
        "--max_seq_length=%d" % SEQ,
        "--max_qa_length=%d" % QA
    ]


def learning_flags(ws, seed):
    """The flags of the learning run (also used to measure its spread)."""
    return [
        "--init_checkpoint=%s" % ws["pretrained"], "--do_train", "--do_eval", "--do_predict",
        "--train_batch_size=32", "--eval_batch_size=50", "--predict_batch_size=16",
        "--learning_rate=1e-3", "--train_step=200", "--warmup_step=20",
        "--save_checkpoints_steps=100", "--keep_checkpoint_max=0", "--dropout_prob=0.0",
        "--random_seed=%d" % seed
    ]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiple_choice")
    ws = make_workspace(root)
    ws["data"] = write_jsonl_task(root / "jsonl", 1)
    # The last test question has no id: it is named by its index in the split.
    rows = read_lines(os.path.join(ws["data"], "test.jsonl"))
    del rows[-1]["id"]
    write_lines(os.path.join(ws["data"], "test.jsonl"), rows)
    return ws


@pytest.fixture(scope="module")
def trained(workspace):
    ws = workspace
    out = os.path.join(ws["root"], "out")
    export = os.path.join(ws["root"], "export")
    result = run_script(*(base_flags(ws, out, ws["data"]) + learning_flags(ws, 1) +
                          ["--export_dir=%s" % export]))
    assert result.returncode == 0, result.stderr[-5000:]
    return {"out": out, "export": export, "log": result.stderr}


@pytest.fixture(scope="module")
def untrained(workspace, trained):
    """The test results of the same run's model.ckpt-0 (before the first step)."""
    out = os.path.join(workspace["root"], "untrained")
    os.makedirs(out)
    for name in os.listdir(trained["out"]):
        if name.startswith("model.ckpt-0."):
            shutil.copy(os.path.join(trained["out"], name), out)
    result = run_script(*(base_flags(workspace, out, workspace["data"]) + ["--do_predict"]))
    assert result.returncode == 0, result.stderr[-5000:]
    return {"out": out, "log": result.stderr}


def read_results(path):
    """A test_eval_results.txt / eval_results.txt block as {key: float}, by block."""
    blocks, block = {}, None
    for line in io.open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("#"):
            block = line
        elif line.startswith("["):
            block = line[1:line.index("]")]
        elif " = " in line:
            key, value = line.split(" = ")
            blocks.setdefault(block, {})[key] = float(value)
    return blocks


def test_accuracy(output_dir):
    (metrics,) = read_results(os.path.join(output_dir, "test_eval_results.txt")).values()
    return metrics["test_accuracy"]


test_accuracy.__test__ = False  # a helper, not a test

# Accuracy is compared with chance (one of each question's own options at
# random: 0.35-0.37) and with the same run's untrained model.ckpt-0, never an
# absolute bar: float results of training differ between CPUs, runtimes and
# thread counts. Measured with learning_flags over 5 seeds (data and
# --random_seed) on an AMD EPYC (AVX2), 2 shared cores: dev accuracy at steps
# 100 and 200 and test accuracy 1.0 in every run on both TF 1.15.5 / Python 3.7
# and TF 2.15.1 / Python 3.11; the untrained model's test accuracy 0.22-0.50
# (TF 1.15) and 0.11-0.47 (TF 2.15). The smallest gap, 0.50, is 0.20 above the
# bar, left for other CPUs (Intel AVX-512) and thread counts.
LEARNED_MARGIN = 0.3


def test_fine_tuning_learns_the_synthetic_task(workspace, trained, untrained):
    dev = read_lines(os.path.join(workspace["data"], "dev.jsonl"))
    test = read_lines(os.path.join(workspace["data"], "test.jsonl"))
    best = read_results(os.path.join(trained["out"], "eval_results.txt"))["model.ckpt-best"]
    assert best["num_examples"] == len(dev) == 100
    assert best["eval_accuracy"] >= chance_accuracy(dev) + LEARNED_MARGIN, best
    untrained_accuracy = test_accuracy(untrained["out"])
    assert "model.ckpt-0" in untrained["log"]
    bar = max(chance_accuracy(test), untrained_accuracy) + LEARNED_MARGIN
    assert test_accuracy(trained["out"]) >= bar, (test_accuracy(trained["out"]), bar)


def test_jsonl_predictions_follow_the_test_file(workspace, trained):
    out = trained["out"]
    rows = read_lines(os.path.join(workspace["data"], "test.jsonl"))
    predictions = read_lines(os.path.join(out, "predictions.jsonl"))
    ids = [r.get("id") for r in rows]
    assert ids[-1] is None and ids[0] == "te7"
    assert [p["id"] for p in predictions] == ids[:-1] + [len(rows) - 1]
    for row, p in zip(rows, predictions):
        assert sorted(p) == ["id", "label", "probabilities"]
        # Padded options get no probability: the question's own options sum to 1.
        assert len(p["probabilities"]) == len(row["choices"])
        assert abs(sum(p["probabilities"]) - 1.0) < 1e-5, p
        assert p["label"] == int(np.argmax(p["probabilities"]))
    assert sorted(set(len(r["choices"]) for r in rows)) == [2, 3, 4]
    # The labelled test set is scored; text labels name their choice.
    correct = sum(p["label"] == label_index(r) for r, p in zip(rows, predictions))
    (metrics,) = read_results(os.path.join(out, "test_eval_results.txt")).values()
    assert metrics["num_examples"] == len(rows)
    assert metrics["num_correct"] == correct
    assert metrics["test_accuracy"] == correct / float(len(rows))


def test_each_checkpoint_evaluated_once_and_best_kept(workspace, trained):
    out = trained["out"]
    history = json.load(io.open(os.path.join(out, "eval_history.json")))
    assert [e["step"] for e in history["entries"]] == [100, 200]
    values = {e["step"]: e["metrics"]["eval_accuracy"] for e in history["entries"]}
    assert history["best"]["value"] == max(values.values())
    # The earlier checkpoint wins a tie.
    assert history["best"]["step"] == min(s for s in values if values[s] == max(values.values()))
    reader = tf.train.NewCheckpointReader(os.path.join(out, "model.ckpt-best"))
    assert int(reader.get_tensor("global_step")) == history["best"]["step"]
    assert reader.get_variable_to_shape_map()["output_weights"] == [1, 32]
    assert reader.get_variable_to_shape_map()["output_bias"] == [1]
    results = read_results(os.path.join(out, "eval_results.txt"))
    assert sorted(results) == ["model.ckpt-100", "model.ckpt-200", "model.ckpt-best"]
    for entry in history["entries"]:
        assert results[entry["checkpoint"]]["eval_accuracy"] == entry["metrics"]["eval_accuracy"]
    summaries = [l for l in trained["log"].splitlines() if "Initialised from" in l]
    assert len(summaries) == 1, summaries
    assert "newly initialised: output_weights, output_bias" in summaries[0]


def test_second_run_evaluates_nothing_new_and_predicts_the_same(workspace, trained):
    out = trained["out"]
    history = io.open(os.path.join(out, "eval_history.json")).read()
    predictions = read_lines(os.path.join(out, "predictions.jsonl"))
    again = run_script(*(base_flags(workspace, out, workspace["data"]) +
                         ["--do_eval", "--do_predict"]))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Eval of" not in again.stderr
    assert "Reusing cached features" in again.stderr
    assert "model.ckpt-best" in again.stderr
    assert io.open(os.path.join(out, "eval_history.json")).read() == history
    # The same checkpoint predicts the same (to float rounding: TF 1.15's thread
    # pool may sum in another order).
    repeated = read_lines(os.path.join(out, "predictions.jsonl"))
    assert [(p["id"], p["label"]) for p in repeated] == \
        [(p["id"], p["label"]) for p in predictions]
    for p, q in zip(repeated, predictions):
        assert np.allclose(p["probabilities"], q["probabilities"], atol=1e-6), (p, q)


_RELOAD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from tf_compat import tf
import multiple_choice_utils as mc, tokenization
export_dir, test_file, vocab = sys.argv[2], sys.argv[3], sys.argv[4]
seq, qa, choices = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
tokenizer = tokenization.FullTokenizer(vocab_file=vocab)
examples = mc.read_jsonl_file(test_file, require_labels=False, max_options=choices)
features = mc.convert_examples_to_features(examples, tokenizer, seq, qa, choices)
arrays = {n: np.array([getattr(f, n) for f in features], dtype=np.int32).reshape(
    [len(features), choices, seq]) for n in ("input_ids", "input_mask", "segment_ids")}
arrays["option_mask"] = np.array([f.option_mask for f in features], dtype=np.int32)
with tf.Session(graph=tf.Graph()) as session:
    meta = tf.saved_model.loader.load(session, ["serve"], export_dir)
    signature = meta.signature_def["serving_default"]
    probabilities = session.run(signature.outputs["probabilities"].name,
                                {signature.inputs[n].name: arrays[n] for n in arrays})
print(json.dumps({"inputs": sorted(signature.inputs), "outputs": sorted(signature.outputs),
                  "probabilities": probabilities.tolist()}))
"""


def test_saved_model_reloads_with_the_estimators_probabilities(workspace, trained):
    test_file = os.path.join(workspace["data"], "test.jsonl")
    result = subprocess.run([
        sys.executable, "-c", _RELOAD, ROOT, trained["export"], test_file, workspace["vocab"],
        str(SEQ),
        str(QA),
        str(NUM_CHOICES)
    ], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert reloaded["inputs"] == ["input_ids", "input_mask", "option_mask", "segment_ids"]
    assert reloaded["outputs"] == ["logits", "probabilities"]
    probabilities = np.array(reloaded["probabilities"])
    predictions = read_lines(os.path.join(trained["out"], "predictions.jsonl"))
    assert probabilities.shape == (len(predictions), NUM_CHOICES)
    for row, p in zip(probabilities, predictions):
        count = len(p["probabilities"])
        assert np.allclose(row[:count], p["probabilities"], atol=1e-5), (row, p)
        assert np.all(row[count:] == 0.0)
    extra = os.path.join(trained["export"], "assets.extra")
    assert sorted(os.listdir(extra)) == ["albert_config.json", "export_info.json", "vocab.txt"]
    info = json.load(io.open(os.path.join(extra, "export_info.json")))
    assert (info["task"], info["num_choices"], info["max_seq_length"],
            info["max_qa_length"]) == ("jsonl", NUM_CHOICES, SEQ, QA)


# ---------------------------------------------------------------------------
# C3 and RACE layouts.
# ---------------------------------------------------------------------------


def c3_entries(seed, count, with_answers=True, first_id=None):
    """C3 entries ([lines, questions, document id]), one or two questions each."""
    rng = random.Random(seed)
    entries = []
    number = 0
    for e in range(count):
        context, _, _ = question(rng, 2)
        questions = []
        for _ in range(rng.choice([1, 2])):
            _, options, label = question(rng, rng.choice([2, 3, 4]))
            item = {"question": QUESTION, "choice": options}
            if with_answers:
                item["answer"] = options[label]
            if first_id is not None:
                item["id"] = first_id + 5 * number
            number += 1
            questions.append(item)
        entries.append([[context[:3], context[3:]], questions, "doc-%d-%d" % (seed, e)])
    return entries


def c3_questions(entries):
    return [q for entry in entries for q in entry[1]]


def write_c3_task(directory):
    directory = str(directory)
    files = {
        "d-train.json": c3_entries(1, 6),
        "m-train.json": c3_entries(2, 4),
        "d-dev.json": c3_entries(3, 3),
        "m-dev.json": c3_entries(4, 3),
        "test1.1.json": c3_entries(5, 5, with_answers=False, first_id=1200)
    }
    for name, entries in files.items():
        write_json(os.path.join(directory, name), entries)
    return directory, files


SHORT_RUN = [
    "--do_train", "--do_eval", "--do_predict", "--train_batch_size=4", "--eval_batch_size=3",
    "--predict_batch_size=3", "--save_checkpoints_steps=2", "--learning_rate=1e-3"
]


def test_c3_trains_evaluates_predicts_and_resumes(workspace, tmp_path):
    data, files = write_c3_task(tmp_path / "c3")
    out = str(tmp_path / "out")
    flags = base_flags(workspace, out, data,
                       "c3") + SHORT_RUN + ["--init_checkpoint=%s" % workspace["pretrained"]]
    first = run_script(*(flags + ["--train_step=2"]))
    assert first.returncode == 0, first.stderr[-5000:]
    assert "Training: %d questions" % (len(c3_questions(files["d-train.json"])) +
                                       len(c3_questions(files["m-train.json"]))) in first.stderr
    # CLUE's submission for test1.1.json: {"id", "label"} per line, in file order.
    test = c3_questions(files["test1.1.json"])
    assert not os.path.exists(os.path.join(out, "c3_predict.json"))
    predictions = read_lines(os.path.join(out, "c311_predict.json"))
    assert [p["id"] for p in predictions] == [q["id"] for q in test]
    assert [p["id"] for p in predictions] == [1200 + 5 * k for k in range(len(test))]
    for p, q in zip(predictions, test):
        assert sorted(p) == ["id", "label"]
        assert 0 <= p["label"] < len(q["choice"])
    # The test file has no answers: no test results.
    assert not os.path.exists(os.path.join(out, "test_eval_results.txt"))
    dev_count = (len(c3_questions(files["d-dev.json"])) + len(c3_questions(files["m-dev.json"])))
    results = read_results(os.path.join(out, "eval_results.txt"))
    assert sorted(results) == ["model.ckpt-2", "model.ckpt-best"]
    assert results["model.ckpt-2"]["num_examples"] == dev_count
    assert 0 <= results["model.ckpt-2"]["eval_accuracy"] <= 1
    # A second run with more steps resumes, evaluates only the new checkpoint,
    # and predicts again with the best one.
    second = run_script(*(flags + ["--train_step=4"]))
    assert second.returncode == 0, second.stderr[-5000:]
    assert "Resuming training from %s (step 2 of 4)" % os.path.join(out, "model.ckpt-2") \
        in second.stderr
    assert "Initialised from" not in second.stderr
    assert second.stderr.count("Eval of") == 1
    history = json.load(io.open(os.path.join(out, "eval_history.json")))
    assert [e["step"] for e in history["entries"]] == [2, 4]
    assert tf.train.latest_checkpoint(out).endswith("model.ckpt-4")
    again = read_lines(os.path.join(out, "c311_predict.json"))
    assert [p["id"] for p in again] == [q["id"] for q in test]


def race_article(rng, article_id, count, with_answers=True):
    context, _, _ = question(rng, 2)
    article = {"id": article_id, "article": context, "questions": [], "options": []}
    answers = []
    for _ in range(count):
        _, options, label = question(rng, rng.choice([3, 4]))
        article["questions"].append(QUESTION + u"_")
        article["options"].append(options)
        answers.append("ABCD"[label])
    if with_answers:
        article["answers"] = answers
    return article


def write_race_task(directory, seed=11):
    """Middle school: one article per file (indented, as released); high school:
    all.txt with one article per line."""
    rng = random.Random(seed)
    layout = {}
    for split, count in (("train", 4), ("dev", 2), ("test", 3)):
        middle = [race_article(rng, "%s-m%d.txt" % (split, k), 2) for k in range(count)]
        high = [race_article(rng, "%s-h%d.txt" % (split, k), 1) for k in range(count)]
        for k, article in enumerate(middle):
            write(os.path.join(str(directory), "RACE", split, "middle", "%d.txt" % (k + 1)),
                  json.dumps(article, ensure_ascii=False, indent=1))
        write_lines(os.path.join(str(directory), "RACE", split, "high", "all.txt"), high)
        layout[split] = middle + high
    return str(directory), layout


def test_race_layout_levels_and_predictions(workspace, tmp_path):
    data, layout = write_race_task(tmp_path / "race")
    out = str(tmp_path / "out")
    flags = base_flags(workspace, out, data, "race") + SHORT_RUN
    result = run_script(*(flags + ["--train_step=2"]))
    assert result.returncode == 0, result.stderr[-5000:]
    expected = [("%s-%d" % (a["id"], k), options)
                for a in layout["test"]
                for k, options in enumerate(a["options"])]
    predictions = read_lines(os.path.join(out, "predictions.jsonl"))
    assert [p["id"] for p in predictions] == [i for i, _ in expected]
    for p, (_, options) in zip(predictions, expected):
        assert len(p["probabilities"]) == len(options)
        assert abs(sum(p["probabilities"]) - 1.0) < 1e-5
    # The test set has answers: it is scored.
    (metrics,) = read_results(os.path.join(out, "test_eval_results.txt")).values()
    assert metrics["num_examples"] == len(expected)
    answers = ["ABCD".index(x) for a in layout["test"] for x in a["answers"]]
    assert metrics["num_correct"] == sum(p["label"] == a for p, a in zip(predictions, answers))
    results = read_results(os.path.join(out, "eval_results.txt"))
    assert results["model.ckpt-2"]["num_examples"] == sum(
        len(a["questions"]) for a in layout["dev"])
    # --high_only predicts the high-school questions only.
    high = run_script(*(base_flags(workspace, out, data, "race") + ["--do_predict", "--high_only"]))
    assert high.returncode == 0, high.stderr[-5000:]
    predictions = read_lines(os.path.join(out, "predictions.jsonl"))
    assert [p["id"] for p in predictions] == [i for i, _ in expected if "-h" in i]


# ---------------------------------------------------------------------------
# Bad input: one line naming file and line or entry, before any training.
# ---------------------------------------------------------------------------


def _jsonl_row(choices=(u"天", u"火"), label=0, **fields):
    row = {
        "id": "x",
        "context": u"花甲草",
        "question": QUESTION,
        "choices": list(choices),
        "label": label
    }
    row.update(fields)
    return json.dumps(row, ensure_ascii=False)


def _c3_file(answer=u"火", choices=(u"天", u"火")):
    item = {"question": QUESTION, "choice": list(choices)}
    if answer is not None:
        item["answer"] = answer
    good = {"question": QUESTION, "choice": [u"天", u"火"], "answer": u"天"}
    return json.dumps([[[u"花甲草"], [good], "d1"], [[u"乙鱼"], [good, item], "d2"]], ensure_ascii=False,
                      indent=1)


# (task, file to replace, its text, extra flags, message)
BAD_INPUTS = {
    "c3 train answer missing": ("c3", "d-train.json", _c3_file(answer=None), [],
                                "d-train.json: entry 2, question 2: missing field 'answer'"),
    "c3 dev answer not a choice":
        ("c3", "m-dev.json", _c3_file(answer=u"水"), [],
         u"m-dev.json: entry 2, question 2: answer '水' is not among the choices"),
    "c3 malformed JSON":
        ("c3", "d-train.json", u'[[["花"], [{"question": "选哪个",\n "choice": ["天" "火"]}]]]', [],
         "d-train.json:2: malformed JSON"),
    "c3 test more options than num_choices":
        ("c3", "test1.1.json", _c3_file(answer=None, choices=u"天火月星风"), [],
         "test1.1.json: entry 2, question 2: 5 options, more than the maximum of 4"),
    "jsonl malformed JSON":
        ("jsonl", "train.jsonl", _jsonl_row() + u"\n" + _jsonl_row() + u"\n{\"id\": 3,\n", [],
         "train.jsonl:3: not valid JSON"),
    "jsonl more options than num_choices":
        ("jsonl", "test.jsonl", _jsonl_row() + u"\n" + _jsonl_row(choices=u"天火月星风") + u"\n", [],
         "test.jsonl:2: 5 options, more than the maximum of 4"),
    "jsonl one option": ("jsonl", "dev.jsonl", _jsonl_row(choices=u"天"), [],
                         "dev.jsonl:1: 1 option(s); a question needs at least 2"),
    "jsonl label out of range":
        ("jsonl", "train.jsonl", _jsonl_row() + u"\n" + _jsonl_row(label=2) + u"\n", [],
         "train.jsonl:2: label 2 is out of range for 2 choices"),
    "jsonl label not a choice": ("jsonl", "dev.jsonl", _jsonl_row(label=u"水"), [],
                                 u"dev.jsonl:1: label '水' is not among the choices"),
    "jsonl train label missing": ("jsonl", "train.jsonl", _jsonl_row(label=None), [],
                                  "train.jsonl:1: missing field 'label'"),
    "jsonl empty context":
        ("jsonl", "test.jsonl", _jsonl_row(context=u"  "), [], "test.jsonl:1: empty context"),
    "jsonl empty file": ("jsonl", "train.jsonl", u"", [], "train.jsonl: no questions"),
    "race answer not a letter of the options":
        ("race", "RACE/dev/high/all.txt",
         json.dumps({
             "id": "h1",
             "article": u"花甲草",
             "questions": [QUESTION, QUESTION],
             "options": [[u"天", u"火", u"月"], [u"天", u"火", u"月"]],
             "answers": ["A", "D"]
         }) + "\n", [], "all.txt:1: question 2: answer 'D' is not one of the option letters A-C"),
}


def _bad_data(workspace, directory, task, name, text):
    """A small valid data set of ``task`` in ``directory`` with one file replaced."""
    if task == "c3":
        write_c3_task(directory)
    elif task == "race":
        write_race_task(directory)
    else:
        write_jsonl_task(directory, 2, counts=(8, 4, 4))
    write(os.path.join(str(directory), name), text)
    return str(directory)


def _nothing_written(output_dir):
    names = os.listdir(output_dir) if os.path.isdir(output_dir) else []
    assert not [
        n for n in names if n.startswith("model.ckpt") or n.endswith(".tmp") or ".tmp" in n or
        n.endswith("_predict.json") or n.endswith("results.txt") or n in ("predictions.jsonl",
                                                                          "eval_history.json")
    ], names


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_before_training(workspace, tmp_path, case):
    task, name, text, extra, message = BAD_INPUTS[case]
    data = _bad_data(workspace, tmp_path / "data", task, name, text)
    out = str(tmp_path / "out")
    line = one_line_error(
        run_script(*(base_flags(workspace, out, data, task) + SHORT_RUN + ["--train_step=2"] +
                     extra)))
    assert message in line, line
    assert os.path.join(data, name) in line, line
    _nothing_written(out)


def test_missing_vocab_data_and_task_are_one_line(workspace, tmp_path):
    data = write_jsonl_task(tmp_path / "data", 2, counts=(8, 4, 4))
    out = str(tmp_path / "out")
    flags = base_flags(workspace, out, data) + SHORT_RUN + ["--train_step=2"]
    missing = str(tmp_path / "nowhere" / "vocab.txt")
    line = one_line_error(run_script(*(flags[:3] + ["--vocab_file=%s" % missing] + flags[4:])))
    assert missing in line, line
    os.remove(os.path.join(data, "dev.jsonl"))
    line = one_line_error(run_script(*flags))
    assert "%s: no dev.jsonl file" % data in line, line
    line = one_line_error(run_script(*(base_flags(workspace, out, data, "swag") + ["--do_train"])))
    assert "unknown multiple-choice task 'swag'" in line and "c3, race, jsonl" in line
    _nothing_written(out)


def test_predict_without_a_fine_tuned_checkpoint(workspace, tmp_path):
    data = write_jsonl_task(tmp_path / "data", 2, counts=(8, 4, 4))
    out = str(tmp_path / "empty")
    line = one_line_error(run_script(*(base_flags(workspace, out, data) + ["--do_predict"])))
    assert "no fine-tuned checkpoint" in line
    _nothing_written(out)


def test_help_lists_the_task_flags():
    result = run_script("--help")
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr
    text = result.stdout + result.stderr
    assert "Fine-tunes ALBERT for multiple-choice" in text
    for flag in ("--task_name", "--num_choices", "--max_qa_length", "--dropout_prob", "--high_only",
                 "--middle_only", "--export_dir", "--do_eval", "--train_step",
                 "--albert_config_file", "--init_checkpoint", "--keep_checkpoint_max"):
        assert flag in text, flag
