# coding=utf-8
"""End-to-end tests of run_squad.py on a tiny model and a synthetic span task.

The task: the answer is the character right after the marker 红 in a context
of random filler characters; answer characters (甲乙丙丁) occur only there
(v2: contexts without the marker have no answer). Contexts are longer than one window, so sliding
windows and max-context decoding are exercised.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest

import modeling
import squad_data
import squad_features
import squad_utils
import tokenization
import script_testlib
from script_testlib import one_line_error, write
from tf_compat import tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "run_squad.py")

FILLER = u"天地人山水火木金土日月星风云雨花草鱼鸟虫"
MARKER = u"红"
ANSWERS = u"甲乙丙丁"
QUESTION = u"红后是什么"
VOCAB = ([u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] + list(FILLER) + [MARKER] +
         list(ANSWERS) + [c for c in QUESTION if c not in FILLER + MARKER])
SEQ = 32


def run_script(*args):
    return script_testlib.run_script(SCRIPT, args, timeout=900)


def synthetic_squad(seed, count, v2=False, with_answers=True):
    rng = random.Random(seed)
    paragraphs = []
    for index in range(count):
        chars = [rng.choice(FILLER) for _ in range(rng.randint(20, 40))]
        impossible = v2 and rng.random() < 0.3
        qa = {"id": "s%d-%d" % (seed, index), "question": QUESTION}
        if not impossible:
            position = rng.randrange(len(chars) - 1)
            chars[position:position + 1] = [MARKER, rng.choice(ANSWERS)]
            answer = {"text": chars[position + 1], "answer_start": position + 1}
            if with_answers:
                qa["answers"] = [answer]
        elif with_answers:
            qa["answers"] = []
        if v2 and with_answers:
            qa["is_impossible"] = impossible
        paragraphs.append({"context": u"".join(chars), "qas": [qa]})
    return json.dumps({
        "version": "synthetic",
        "data": [{
            "title": "s",
            "paragraphs": paragraphs
        }]
    }, ensure_ascii=False)


def tiny_config():
    return dict(vocab_size=len(VOCAB), embedding_size=16, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                embedding_layout="google")


def save_pretrained(fields, prefix):
    config = modeling.AlbertConfig(**fields)
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        modeling.AlbertModel(config, False, tf.zeros([1, 4], dtype=tf.int32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            tf.train.Saver().save(session, prefix)
    return prefix


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("squad")
    ws = {"root": str(root)}
    ws["vocab"] = write(root / "vocab.txt", u"\n".join(VOCAB) + u"\n")
    fields = tiny_config()
    ws["config"] = write(root / "config.json", json.dumps(fields))
    ws["pretrained"] = save_pretrained(fields, str(root / "pretrained" / "model.ckpt"))
    ws["train"] = write(root / "train.json", synthetic_squad(1, 500))
    ws["dev"] = write(root / "dev.json", synthetic_squad(2, 60))
    ws["test"] = write(root / "test.json", synthetic_squad(3, 30, with_answers=False))
    ws["train_v2"] = write(root / "train_v2.json", synthetic_squad(4, 500, v2=True))
    ws["dev_v2"] = write(root / "dev_v2.json", synthetic_squad(5, 60, v2=True))
    return ws


def base_flags(ws, output_dir):
    return [
        "--bert_config_file=%s" % ws["config"],
        "--vocab_file=%s" % ws["vocab"],
        "--output_dir=%s" % output_dir,
        "--max_seq_length=%d" % SEQ, "--doc_stride=8", "--max_query_length=8",
        "--max_answer_length=4", "--n_best_size=5"
    ]


def read_metrics(path):
    metrics, block = {}, None
    for line in io.open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("["):
            block = line.split("]")[0][1:]
        elif " = " in line:
            key, value = line.split(" = ")
            try:
                metrics.setdefault(block, {})[key] = float(value)
            except ValueError:
                pass
    return metrics


def chance_exact(path):
    """Exact match (%) of the better blind answer: a random one-character span of
    the context, or "no answer" to every question (v2)."""
    contexts = [
        p["context"] for p in json.load(io.open(path, encoding="utf-8"))["data"][0]["paragraphs"]
    ]
    random_span = np.mean([1.0 / len(c) if MARKER in c else 0.0 for c in contexts])
    no_answer = np.mean([MARKER not in c for c in contexts])
    return 100.0 * max(random_span, no_answer)


# Trained exact match is compared with chance (v1: 3.2 on dev, 3.3 on test; v2:
# 21.7, "no answer" everywhere), never an absolute bar: float results of training
# differ between CPUs, runtimes and thread counts. Measured with these flags over
# 7 seeds x {TF 1.15, TF 2.15 oneDNN on/off} x {1, 2 threads} (15 runs each): exact
# match 100 in every run, v1 on dev and in the predict-only run on test, v2 overall,
# HasAns and NoAns (min = median = max = 100; v1 already 100 at step 100).
# Untrained (learning rate 0): v1 0, v2 21.7. The bar, chance + 60, is at least 18
# below the measured minimum; a v2 model that never abstains scores 78.3 and fails.
LEARNED_MARGIN = 60.0


@pytest.fixture(scope="module")
def trained_v1(workspace):
    ws = workspace
    out = os.path.join(ws["root"], "out_v1")
    export = os.path.join(ws["root"], "export_v1")
    result = run_script(*(base_flags(ws, out) + [
        "--init_checkpoint=%s" % ws["pretrained"],
        "--train_file=%s" % ws["train"],
        "--predict_file=%s" % ws["dev"], "--do_train", "--do_predict",
        "--export_dir=%s" % export, "--train_batch_size=32", "--predict_batch_size=32",
        "--learning_rate=2e-3", "--train_step=200", "--warmup_proportion=0.1",
        "--save_checkpoints_steps=100", "--keep_checkpoint_max=1", "--random_seed=7"
    ]))
    assert result.returncode == 0, result.stderr[-5000:]
    return {"out": out, "export": export, "log": result.stderr}


def test_v1_learns_the_span_task(workspace, trained_v1):
    out = trained_v1["out"]
    metrics = read_metrics(os.path.join(out, "eval_results.txt"))
    bar = chance_exact(workspace["dev"]) + LEARNED_MARGIN
    assert metrics["model.ckpt-best"]["exact_match"] >= bar, metrics
    predictions = json.load(io.open(os.path.join(out, "predictions.json"), encoding="utf-8"))
    data = json.load(io.open(os.path.join(out, "..", "dev.json"), encoding="utf-8"))
    gold = {
        qa["id"]: qa["answers"][0]["text"] for p in data["data"][0]["paragraphs"] for qa in p["qas"]
    }
    assert set(predictions) == set(gold)
    assert np.mean([predictions[q] == gold[q] for q in gold]) >= bar / 100.0
    nbest = json.load(io.open(os.path.join(out, "nbest_predictions.json"), encoding="utf-8"))
    for qid, entries in nbest.items():
        assert entries[0]["text"] == predictions[qid]
        assert len(entries) <= 5
        assert abs(sum(e["probability"] for e in entries) - 1.0) < 1e-4
    history = json.load(io.open(os.path.join(out, "eval_history.json")))
    assert [e["step"] for e in history["entries"]] == [100, 200]
    assert "newly initialised: cls/squad/output_weights, cls/squad/output_bias" in \
        trained_v1["log"]
    report = io.open(os.path.join(out, "init_checkpoint_report.txt"), encoding="utf-8").read()
    assert "NEW       cls/squad/output_weights" in report
    reader = tf.train.NewCheckpointReader(os.path.join(out, "model.ckpt-best"))
    assert reader.get_variable_to_shape_map()["cls/squad/output_weights"] == [2, 32]
    assert int(reader.get_tensor("global_step")) == history["best"]["step"]


def test_predict_only_run_without_answers(workspace, trained_v1):
    out = trained_v1["out"]
    predict_dir = os.path.join(workspace["root"], "predict_only")
    os.makedirs(predict_dir)
    for name in os.listdir(out):
        if name.startswith("model.ckpt-best"):
            with open(os.path.join(out, name), "rb") as src, \
                    open(os.path.join(predict_dir, name), "wb") as dst:
                dst.write(src.read())
    result = run_script(*(base_flags(workspace, predict_dir) +
                          ["--predict_file=%s" % workspace["test"], "--do_predict"]))
    assert result.returncode == 0, result.stderr[-4000:]
    predictions = json.load(io.open(os.path.join(predict_dir, "predictions.json"),
                                    encoding="utf-8"))
    data = json.load(io.open(workspace["test"], encoding="utf-8"))
    correct = 0
    for paragraph in data["data"][0]["paragraphs"]:
        context = paragraph["context"]
        qid = paragraph["qas"][0]["id"]
        correct += predictions[qid] == context[context.index(MARKER) + 1]
    bar = chance_exact(workspace["test"]) + LEARNED_MARGIN
    assert 100.0 * correct >= bar * len(predictions), (correct, len(predictions))
    assert not os.path.exists(os.path.join(predict_dir, "eval_results.txt"))
    # A predict file with answers is scored, also without step checkpoints.
    result = run_script(
        *(base_flags(workspace, predict_dir) +
          ["--predict_file=%s" % workspace["dev"], "--do_predict", "--metric=squad_v1"]))
    assert result.returncode == 0, result.stderr[-4000:]
    text = io.open(os.path.join(predict_dir, "eval_results.txt"), encoding="utf-8").read()
    assert "squad_v1 results of %s" % os.path.join(predict_dir, "model.ckpt-best") in text
    exact = float(re.search(r"^exact_match = (\S+)$", text, re.M).group(1))
    assert exact >= chance_exact(workspace["dev"]) + LEARNED_MARGIN, text


_RELOAD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from tf_compat import tf
export_dir, inputs = sys.argv[2], json.loads(sys.argv[3])
with tf.Session(graph=tf.Graph()) as session:
    meta = tf.saved_model.loader.load(session, ["serve"], export_dir)
    signature = meta.signature_def["serving_default"]
    feed = {signature.inputs[k].name: np.array(v, dtype=np.int32) for k, v in inputs.items()}
    names = sorted(signature.outputs)
    values = session.run([signature.outputs[n].name for n in names], feed)
print(json.dumps({n: v.tolist() for n, v in zip(names, values)}))
"""


def test_export_reloads_in_a_fresh_process_with_the_same_logits(workspace, trained_v1):
    tokenizer = tokenization.FullTokenizer(vocab_file=workspace["vocab"])
    examples, _ = squad_data.read_squad_examples(workspace["dev"], False)
    features = []
    squad_features.convert_examples_to_features(examples[:3], tokenizer, SEQ, 8, 8, False,
                                                features.append)
    inputs = {
        k: [getattr(f, k) for f in features] for k in ("input_ids", "input_mask", "segment_ids")
    }
    result = subprocess.run(
        [sys.executable, "-c", _RELOAD, ROOT, trained_v1["export"],
         json.dumps(inputs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = json.loads(result.stdout.strip().splitlines()[-1])
    config = modeling.AlbertConfig.from_json_file(workspace["config"])
    with tf.Graph().as_default():
        placeholders = {k: tf.constant(np.array(v, dtype=np.int32)) for k, v in inputs.items()}
        _, outputs = squad_utils.create_model(config, False, placeholders)
        with tf.Session() as session:
            tf.train.Saver().restore(session, os.path.join(trained_v1["out"], "model.ckpt-best"))
            expected = session.run(outputs)
    for name in ("start_logits", "end_logits"):
        np.testing.assert_allclose(np.array(exported[name]), expected[name], atol=1e-4)
    assert os.path.isfile(os.path.join(trained_v1["export"], "assets.extra", "vocab.txt"))


def test_v2_learns_spans_and_answerability(workspace):
    ws = workspace
    out = os.path.join(ws["root"], "out_v2")
    export = os.path.join(ws["root"], "export_v2")
    result = run_script(*(base_flags(ws, out) + [
        "--init_checkpoint=%s" % ws["pretrained"],
        "--train_file=%s" % ws["train_v2"],
        "--predict_file=%s" %
        ws["dev_v2"], "--do_train", "--do_predict", "--version_2_with_negative", "--start_n_top=3",
        "--end_n_top=3", "--train_batch_size=32", "--predict_batch_size=32", "--learning_rate=2e-3",
        "--train_step=240", "--save_checkpoints_steps=240", "--random_seed=7",
        "--export_dir=%s" % export
    ]))
    assert result.returncode == 0, result.stderr[-5000:]
    metrics = read_metrics(os.path.join(out, "eval_results.txt"))["model.ckpt-best"]
    assert metrics["exact"] >= chance_exact(ws["dev_v2"]) + LEARNED_MARGIN, metrics
    assert metrics["HasAns_total"] + metrics["NoAns_total"] == 60
    null_odds = json.load(io.open(os.path.join(out, "null_odds.json")))
    assert len(null_odds) == 60
    reader = tf.train.NewCheckpointReader(os.path.join(out, "model.ckpt-best"))
    shapes = reader.get_variable_to_shape_map()
    assert shapes["start_logits/dense/kernel"] == [32, 1]
    assert shapes["end_logits/dense_0/kernel"] == [64, 32]
    assert shapes["end_logits/LayerNorm/gamma"] == [32]
    assert shapes["end_logits/dense_1/kernel"] == [32, 1]
    assert shapes["answer_class/dense_0/kernel"] == [64, 32]
    assert shapes["answer_class/dense_1/kernel"] == [32, 1]
    assert "answer_class/dense_1/bias" not in shapes
    # The v2 export takes p_mask and returns the beams and the answer class.
    tokenizer = tokenization.FullTokenizer(vocab_file=ws["vocab"])
    examples, _ = squad_data.read_squad_examples(ws["dev_v2"], False, True)
    features = []
    squad_features.convert_examples_to_features(examples[:4], tokenizer, SEQ, 8, 8, False,
                                                features.append)
    inputs = {
        k: [getattr(f, k) for f in features]
        for k in ("input_ids", "input_mask", "segment_ids", "p_mask")
    }
    reload = subprocess.run([sys.executable, "-c", _RELOAD, ROOT, export,
                             json.dumps(inputs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    assert reload.returncode == 0, reload.stderr[-3000:]
    exported = json.loads(reload.stdout.strip().splitlines()[-1])
    assert np.array(exported["end_top_index"]).shape == (len(features), 9)
    assert np.array(exported["cls_logits"]).shape == (len(features),)


def test_bad_input_gives_one_line_errors(workspace, tmp_path):
    bad = write(tmp_path / "bad.json", u'{"data": [{"paragraphs": [')
    result = run_script(*(base_flags(workspace, str(tmp_path / "o1")) +
                          ["--train_file=%s" % bad, "--do_train"]))
    line = one_line_error(result)
    assert bad in line and "malformed JSON" in line
    no_context = write(
        tmp_path / "nc.json",
        json.dumps({
            "data": [{
                "paragraphs": [{
                    "context": "",
                    "qas": [{
                        "id": "q77",
                        "question": "x",
                        "answers": []
                    }]
                }]
            }]
        }))
    result = run_script(*(base_flags(workspace, str(tmp_path / "o2")) +
                          ["--predict_file=%s" % no_context, "--do_predict"]))
    line = one_line_error(result)
    assert "q77" in line and "no context" in line
    result = run_script(*(base_flags(workspace, str(tmp_path / "o3")) + ["--do_train"]))
    assert "--train_file" in one_line_error(result)
    result = run_script("--help")
    assert result.returncode == 0 and "--doc_stride" in result.stdout
    result = run_script(
        *(base_flags(workspace, str(tmp_path / "o4")) +
          ["--do_predict", "--predict_file=%s" % workspace["dev"], "--no_such_flag"]))
    assert result.returncode != 0


def test_no_usable_training_answer_is_an_error(workspace, tmp_path):
    # Every answer_start points at text that is not the answer, and the answer
    # text occurs nowhere in its context: nothing to train on.
    paragraphs = [{
        "context":
            u"天地人山水火木金土日月",
        "qas": [{
            "id": "q%d" % i,
            "question": QUESTION,
            "answers": [{
                "text": u"甲乙",
                "answer_start": 2
            }]
        }]
    } for i in range(5)]
    train = write(
        tmp_path / "train.json",
        json.dumps({"data": [{
            "title": "t",
            "paragraphs": paragraphs
        }]}, ensure_ascii=False))
    out = str(tmp_path / "out")
    line = one_line_error(
        run_script(*(base_flags(workspace, out) + [
            "--train_file=%s" % train, "--do_train", "--train_step=3",
            "--init_checkpoint=%s" % workspace["pretrained"]
        ])))
    assert "%s: no usable training question" % train in line
    assert "5 questions" in line
    assert not [n for n in os.listdir(out) if n.startswith("model.ckpt")]


def test_clashing_export_dir_is_reported_before_training(workspace, tmp_path):
    out = str(tmp_path / "out")
    line = one_line_error(
        run_script(*(base_flags(workspace, out) + [
            "--train_file=%s" % workspace["train"], "--do_train", "--train_step=3",
            "--export_dir=%s" % out
        ])))
    assert "--export_dir=%s would replace --output_dir" % out in line
    assert not os.path.isdir(out) or not [n for n in os.listdir(out) if n.startswith("model.ckpt")]


def test_cmrc2018_recipe_offline_is_one_clear_error(tmp_path):
    env = dict(os.environ, ALBERT_TINY_DIR=str(tmp_path / "model"),
               ALBERT_TINY_URL="http://127.0.0.1:9/albert_tiny.zip",
               CMRC_DATA_DIR=str(tmp_path / "data"), OUTPUT_DIR=str(tmp_path / "out"),
               PYTHON=sys.executable)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(["bash", os.path.join(root, "run_cmrc2018.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "Offline: unpack albert_tiny_489k.zip" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model" / ".download.zip").exists()
