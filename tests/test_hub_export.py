# coding=utf-8
"""hub_export.py: TF1 Hub modules of tiny random models, and fine-tuning from them.

Checkpoint -> module -> ``hub.Module`` outputs compared with the graph built
from the checkpoint (both embedding layouts); the module's signatures, tags
and assets; refused inputs; and run_classifier.py / run_squad.py /
run_multiple_choice.py with --albert_hub_module_handle (a directory, and an
http URL served on 127.0.0.1).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os
import random
import subprocess
import sys
import tarfile

import numpy as np
import pytest

import checkpoint_utils
import hub_export
import modeling
import pretraining_testlib as lib
import run_pretraining
import script_testlib
from script_testlib import one_line_error, write
from tf_compat import tf

try:
    hub = hub_export.tf1_hub("read")
except hub_export.HubUnsupportedError as _unsupported:
    pytestmark = pytest.mark.skip(reason=str(_unsupported))
    hub = None

FILLER = u"天地人山水火木金土日月星风云雨花草鱼鸟虫"
MARKER = u"红"
ANSWERS = u"甲乙丙丁"
QUESTION = u"红后是什么"
MC_QUESTION = u"选哪个"
VOCAB = ([u"[PAD]", u"[UNK]", u"[CLS]", u"[SEP]", u"[MASK]"] +
         sorted(set(FILLER + MARKER + ANSWERS + QUESTION + MC_QUESTION)))
SEQ = 24


def run(script, *args, **env_overrides):
    env = dict({"CUDA_VISIBLE_DEVICES": ""}, **env_overrides)
    return script_testlib.run_script(script, args, env=env)


def config_fields(layout):
    return lib.tiny_config(layout, vocab_size=len(VOCAB))


def save_random_model(fields, prefix, heads=True, seed=0):
    """A checkpoint of random weights (away from the initialisers) in the layout
    of ``fields``; with ``heads`` also run_pretraining's masked-LM and
    sentence-order heads."""
    config = modeling.AlbertConfig(**fields)
    rng = np.random.RandomState(seed)
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        ids = tf.zeros([1, 4], dtype=tf.int32)
        model = modeling.AlbertModel(config, False, ids)
        if heads:
            positions = tf.zeros([1, 1], dtype=tf.int32)
            run_pretraining.get_masked_lm_output(config, model.get_sequence_output(),
                                                 model.get_embedding_table(),
                                                 model.get_embedding_projection(), positions,
                                                 positions, tf.zeros([1, 1]))
            run_pretraining.get_sentence_order_output(config, model.get_pooled_output(),
                                                      tf.zeros([1], dtype=tf.int32))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for var in tf.global_variables():
                value = session.run(var)
                var.load(value + rng.normal(0.0, 0.05, value.shape).astype(np.float32), session)
            tf.train.Saver().save(session, prefix)
    return prefix


def sample_feeds(vocab_size, batch=3, length=12, positions=4, seed=5):
    rng = np.random.RandomState(seed)
    mask = np.ones((batch, length), dtype=np.int32)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    segments = np.zeros((batch, length), dtype=np.int32)
    segments[:, 5:] = 1
    return {
        "input_ids":
            rng.randint(0, vocab_size, (batch, length)).astype(np.int32),
        "input_mask":
            mask,
        "segment_ids":
            segments,
        "mlm_positions":
            np.stack([rng.choice(length, positions, replace=False) for _ in range(batch)]
                    ).astype(np.int32)
    }


def checkpoint_outputs(fields, prefix, feeds, heads=True):
    """The checkpoint's outputs from modeling.AlbertModel and run_pretraining's
    heads (inference graph), restored with a plain Saver."""
    config = modeling.AlbertConfig(**fields)
    with tf.Graph().as_default():
        model = modeling.AlbertModel(config, False, tf.constant(feeds["input_ids"]),
                                     tf.constant(feeds["input_mask"]),
                                     tf.constant(feeds["segment_ids"]))
        out = {
            "sequence_output": model.get_sequence_output(),
            "pooled_output": model.get_pooled_output()
        }
        if heads:
            positions = tf.constant(feeds["mlm_positions"])
            zeros = tf.zeros_like(positions)
            _, _, out["mlm_log_probs"] = run_pretraining.get_masked_lm_output(
                config, out["sequence_output"], model.get_embedding_table(),
                model.get_embedding_projection(), positions, zeros, tf.cast(zeros, tf.float32))
            _, _, out["sop_log_probs"] = run_pretraining.get_sentence_order_output(
                config, out["pooled_output"], tf.zeros_like(feeds["input_ids"][:, 0]))
        with tf.Session() as session:
            tf.train.Saver().restore(session, prefix)
            return session.run(out)


def hub_outputs(path, feeds, tags=frozenset()):
    """Every tokens / sop / mlm output of ``hub.Module(path, tags=tags)``."""
    with tf.Graph().as_default():
        module = hub.Module(path, tags=set(tags))
        names = module.get_signature_names()
        out = {}
        for signature in ("tokens", "sop", "mlm"):
            if signature not in names:
                continue
            inputs = {k: tf.constant(feeds[k]) for k in module.get_input_info_dict(signature)}
            for key, value in module(inputs, signature=signature, as_dict=True).items():
                out["%s:%s" % (signature, key)] = value
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return sorted(names), session.run(out)


def log_softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    return x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """Checkpoints of both layouts (with heads) and an encoder-only one, each
    exported as a module."""
    root = tmp_path_factory.mktemp("hub")
    vocab = write(root / "vocab.txt", u"\n".join(VOCAB) + u"\n")
    made = {"root": str(root), "vocab": vocab}
    for name, layout, heads, lower in (("google", "google", True,
                                        True), ("brightmart", "brightmart", True, False),
                                       ("encoder", "google", False, True)):
        fields = config_fields(layout)
        prefix = save_random_model(fields, str(root / name / "model.ckpt"), heads=heads,
                                   seed=len(made))
        module = str(root / (name + "_hub"))
        report = hub_export.export_hub_module(modeling.AlbertConfig(**fields), prefix, module,
                                              vocab_file=vocab, do_lower_case=lower)
        made[name] = {
            "fields": fields,
            "prefix": prefix,
            "module": module,
            "report": report,
            "do_lower_case": lower
        }
    return made


@pytest.mark.parametrize("name", ["google", "brightmart"])
def test_module_outputs_equal_the_checkpoint_graph(modules, name):
    m = modules[name]
    feeds = sample_feeds(len(VOCAB))
    expected = checkpoint_outputs(m["fields"], m["prefix"], feeds)
    for tags in (frozenset(), frozenset(["train"])):  # the tiny config has no dropout
        names, got = hub_outputs(m["module"], feeds, tags)
        assert names == ["mlm", "sop", "tokenization_info", "tokens"]
        for signature in ("tokens", "sop", "mlm"):
            assert got[signature + ":sequence_output"].shape == (3, 12, 32)
            np.testing.assert_allclose(got[signature + ":sequence_output"],
                                       expected["sequence_output"], rtol=0, atol=1e-5)
            np.testing.assert_allclose(got[signature + ":pooled_output"], expected["pooled_output"],
                                       rtol=0, atol=1e-5)
        np.testing.assert_allclose(got["sop:sop_log_probs"], expected["sop_log_probs"], rtol=0,
                                   atol=1e-5)
        logits = got["mlm:mlm_logits"]
        assert logits.shape == (3 * 4, len(VOCAB))
        np.testing.assert_allclose(log_softmax(logits), expected["mlm_log_probs"], rtol=0,
                                   atol=1e-5)
    # The module's variables are the checkpoint's, under the same names.
    written = tf.train.load_checkpoint(hub_export.module_variables(m["module"]))
    source = tf.train.load_checkpoint(m["prefix"])
    assert sorted(written.get_variable_to_shape_map()) == sorted(source.get_variable_to_shape_map())
    for variable in source.get_variable_to_shape_map():
        np.testing.assert_array_equal(written.get_tensor(variable), source.get_tensor(variable))
    report = m["report"]
    assert report["embedding_layout"] == name
    assert report["signatures"] == ["tokens", "sop", "mlm", "tokenization_info"]
    assert report["max_abs_difference"] <= 1e-5


@pytest.mark.parametrize("name", ["google", "brightmart"])
def test_tokenization_info_tags_and_assets(modules, name):
    m = modules[name]
    spec = hub.load_module_spec(m["module"])
    assert sorted(sorted(tags) for tags in spec.get_tags()) == [[], ["train"]]
    for tags in (set(), {"train"}):
        assert sorted(
            spec.get_signature_names(tags=tags)) == ["mlm", "sop", "tokenization_info", "tokens"]
        assert sorted(spec.get_input_info_dict(
            "mlm", tags=tags)) == ["input_ids", "input_mask", "mlm_positions", "segment_ids"]
        assert sorted(spec.get_output_info_dict("tokens",
                                                tags=tags)) == ["pooled_output", "sequence_output"]
    assert sorted(os.listdir(os.path.join(m["module"],
                                          "assets"))) == ["albert_config.json", "vocab.txt"]
    with tf.Graph().as_default():
        module = hub.Module(m["module"])
        info = module(signature="tokenization_info", as_dict=True)
        with tf.Session() as session:
            vocab_file, do_lower_case = session.run([info["vocab_file"], info["do_lower_case"]])
    vocab_file = vocab_file.decode("utf-8")
    assert os.path.samefile(vocab_file, os.path.join(m["module"], "assets", "vocab.txt"))
    with open(vocab_file, "rb") as a, open(modules["vocab"], "rb") as b:
        assert a.read() == b.read()
    assert bool(do_lower_case) is m["do_lower_case"]
    assert hub_export.tokenization_info(m["module"])[1] is m["do_lower_case"]
    shipped = hub_export.module_config(m["module"])
    assert shipped.hidden_size == 32 and shipped.resolved_embedding_layout == name


def test_encoder_only_checkpoint_has_no_head_signatures(modules, caplog):
    m = modules["encoder"]
    assert m["report"]["signatures"] == ["tokens", "tokenization_info"]
    feeds = sample_feeds(len(VOCAB))
    names, got = hub_outputs(m["module"], feeds)
    assert names == ["tokenization_info", "tokens"]
    expected = checkpoint_outputs(m["fields"], m["prefix"], feeds, heads=False)
    np.testing.assert_allclose(got["tokens:pooled_output"], expected["pooled_output"], rtol=0,
                               atol=1e-5)
    with tf.Graph().as_default():
        module = hub.Module(m["module"])
        with pytest.raises(Exception) as raised:
            module({k: tf.constant(feeds[k]) for k in hub_export.INPUT_NAMES}, signature="sop")
    assert "sop" in str(raised.value)


def _assert_one_line(error):
    text = str(error.value)
    assert text and "\n" not in text, text
    return text


def test_bad_inputs_are_one_line_errors(modules, tmp_path):
    m = modules["google"]
    config = modeling.AlbertConfig(**m["fields"])
    vocab = modules["vocab"]
    # An output that exists (not an empty directory) is left alone.
    taken = tmp_path / "taken"
    taken.mkdir()
    write(taken / "keep.txt", u"mine")
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.export_hub_module(config, m["prefix"], str(taken), vocab_file=vocab)
    assert "exists" in _assert_one_line(raised)
    assert os.listdir(str(taken)) == ["keep.txt"]
    # A config that does not match the checkpoint.
    wider = modeling.AlbertConfig(**dict(m["fields"], hidden_size=48, intermediate_size=96))
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.export_hub_module(wider, m["prefix"], str(tmp_path / "a"), vocab_file=vocab)
    assert isinstance(raised.value, checkpoint_utils.CheckpointMismatchError)
    assert "hidden_size: config has 48, checkpoint has 32" in _assert_one_line(raised)
    other_layout = modeling.AlbertConfig(**config_fields("brightmart"))
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.export_hub_module(other_layout, m["prefix"], str(tmp_path / "b"),
                                     vocab_file=vocab)
    assert "layout" in _assert_one_line(raised)
    # A vocabulary of another size, a missing checkpoint, no vocabulary.
    short_vocab = write(tmp_path / "short.txt", u"\n".join(VOCAB[:-3]) + u"\n")
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.export_hub_module(config, m["prefix"], str(tmp_path / "c"),
                                     vocab_file=short_vocab)
    assert "vocab" in _assert_one_line(raised)
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.export_hub_module(config, str(tmp_path / "none" / "model.ckpt"),
                                     str(tmp_path / "d"), vocab_file=vocab)
    assert "no such checkpoint" in _assert_one_line(raised)
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.export_hub_module(config, m["prefix"], str(tmp_path / "e"))
    assert "no vocabulary" in _assert_one_line(raised)
    assert not any(os.path.exists(str(tmp_path / n)) for n in "abcde")
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith(".hub_export")]
    # Handles that are not modules.
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.resolve_module(str(tmp_path / "missing"))
    assert "no such Hub module" in _assert_one_line(raised)
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.resolve_module(str(taken))
    assert "not a TF1 Hub module" in _assert_one_line(raised)


# ---------------------------------------------------------------------------
# Fine-tuning from a module.
# ---------------------------------------------------------------------------


def _sentence(rng, marked):
    chars = [rng.choice(FILLER) for _ in range(rng.randint(2, 4))]
    if marked:
        chars.insert(rng.randint(0, len(chars)), MARKER)
    return u"".join(chars)


def lcqmc_rows(seed, count, marked=0.7):
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        a, b = rng.random() < marked, rng.random() < marked
        rows.append(u"%s\t%s\t%d\n" % (_sentence(rng, a), _sentence(rng, b), int(a and b)))
    return u"".join(rows)


def squad_json(seed, count):
    rng = random.Random(seed)
    paragraphs = []
    for index in range(count):
        chars = [rng.choice(FILLER) for _ in range(rng.randint(10, 16))]
        position = rng.randrange(len(chars) - 1)
        chars[position:position + 1] = [MARKER, rng.choice(ANSWERS)]
        paragraphs.append({
            "context":
                u"".join(chars),
            "qas": [{
                "id": "q%d-%d" % (seed, index),
                "question": QUESTION,
                "answers": [{
                    "text": chars[position + 1],
                    "answer_start": position + 1
                }]
            }]
        })
    return json.dumps({
        "version": "synthetic",
        "data": [{
            "title": "s",
            "paragraphs": paragraphs
        }]
    }, ensure_ascii=False)


def choice_rows(seed, count):
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        options = rng.sample(FILLER, 3)
        answer = rng.randrange(3)
        context = u"".join(rng.choice(FILLER) for _ in range(5)) + ANSWERS[answer]
        rows.append(
            json.dumps(
                {
                    "id": "c%d" % index,
                    "context": context,
                    "question": MC_QUESTION,
                    "choices": options,
                    "label": answer
                }, ensure_ascii=False) + u"\n")
    return u"".join(rows)


def module_variable_values(path):
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


@pytest.fixture(scope="module")
def classifier_run(modules):
    root = os.path.join(modules["root"], "classifier")
    data = os.path.join(root, "lcqmc")
    # Mostly label 1: the loss falls within a few steps.
    write(os.path.join(data, "train.txt"), lcqmc_rows(1, 16, marked=0.9))
    write(os.path.join(data, "dev.txt"), lcqmc_rows(2, 48))
    write(os.path.join(data, "test.txt"), lcqmc_rows(3, 24))
    out = os.path.join(root, "out")
    export = os.path.join(root, "export")
    result = run("run_classifier.py", "--task_name=lcqmc", "--data_dir=%s" % data,
                 "--albert_hub_module_handle=%s" % modules["google"]["module"],
                 "--output_dir=%s" % out, "--max_seq_length=%d" % SEQ, "--do_train", "--do_eval",
                 "--do_predict", "--export_dir=%s" % export, "--train_batch_size=16",
                 "--eval_batch_size=48", "--predict_batch_size=24", "--learning_rate=1e-3",
                 "--train_step=30", "--warmup_step=0", "--save_checkpoints_steps=30",
                 "--keep_checkpoint_max=0", "--random_seed=7")
    assert result.returncode == 0, result.stderr[-5000:]
    return {"out": out, "export": export, "data": data, "log": result.stderr}


def lcqmc_features(vocab, data, split):
    import classifier_tasks  # pylint: disable=g-import-not-at-top
    import classifier_utils  # pylint: disable=g-import-not-at-top
    import tokenization  # pylint: disable=g-import-not-at-top
    examples = classifier_tasks.get_processor("lcqmc").get_examples(data, split)
    tokenizer = tokenization.FullTokenizer.from_files(vocab_file=vocab)
    features = [
        classifier_utils.convert_single_example(e, ["0", "1"], SEQ, tokenizer) for e in examples
    ]
    out = {
        name: np.array([getattr(f, name) for f in features], dtype=np.int32)
        for name in ("input_ids", "input_mask", "segment_ids")
    }
    out["label_ids"] = np.array([f.label_id for f in features], dtype=np.int32)
    return out


def classifier_loss(fields, checkpoint, features):
    """Mean loss of a fine-tuned classifier checkpoint, read into the AlbertModel graph."""
    import classifier_utils  # pylint: disable=g-import-not-at-top
    with tf.Graph().as_default():
        outputs = classifier_utils.create_model(modeling.AlbertConfig(**fields), False,
                                                tf.constant(features["input_ids"]),
                                                tf.constant(features["input_mask"]),
                                                tf.constant(features["segment_ids"]),
                                                tf.constant(features["label_ids"]), 2)
        saver = checkpoint_utils.fine_tuned_saver(checkpoint)
        with tf.Session() as session:
            saver.restore(session, checkpoint)
            return float(session.run(outputs.loss))


def test_run_classifier_fine_tunes_the_module(modules, classifier_run):
    out = classifier_run["out"]
    assert "Tokenizer from the module's tokenization_info" in classifier_run["log"]
    module_values = module_variable_values(hub_export.module_variables(modules["google"]["module"]))
    start = module_variable_values(os.path.join(out, "model.ckpt-0"))
    end = module_variable_values(os.path.join(out, "model.ckpt-30"))
    encoder = [n for n in module_values if n.startswith("bert/")]
    assert encoder
    # Training started from the module's values ...
    for name in module_values:
        np.testing.assert_array_equal(start["module/" + name], module_values[name])
    # ... and changed the encoder.
    moved = [
        n for n in encoder
        if not np.allclose(end["module/" + n], module_values[n], rtol=0, atol=1e-6)
    ]
    assert len(moved) > len(encoder) // 2, moved
    assert "output_weights" in end and not os.path.exists(
        os.path.join(out, "init_checkpoint_report.txt"))
    # The loss on the 16 training pairs fell (measured 0.710 -> 0.509; both
    # checkpoints read into the plain AlbertModel graph that export uses).
    fields = modules["google"]["fields"]
    train = lcqmc_features(modules["vocab"], classifier_run["data"], "train")
    losses = [
        classifier_loss(fields, os.path.join(out, "model.ckpt-%d" % step), train)
        for step in (0, 30)
    ]
    assert losses[1] < losses[0] - 0.05, losses
    # The dev evaluation (Estimator predict through the module graph) agrees
    # with that graph.
    dev_loss = classifier_loss(fields, os.path.join(out, "model.ckpt-30"),
                               lcqmc_features(modules["vocab"], classifier_run["data"], "dev"))
    with open(os.path.join(out, "eval_history.json")) as reader:
        entries = json.load(reader)["entries"]
    assert [e["step"] for e in entries] == [30]
    assert abs(entries[0]["metrics"]["eval_loss"] - dev_loss) < 1e-4


def test_fine_tuned_export_matches_the_predictions(modules, classifier_run):
    feeds = lcqmc_features(modules["vocab"], classifier_run["data"], "test")
    del feeds["label_ids"]
    with tf.Graph().as_default() as graph:
        with tf.Session(graph=graph) as session:
            meta = tf.saved_model.loader.load(session, ["serve"], classifier_run["export"])
            signature = meta.signature_def["serving_default"]
            probabilities = session.run(signature.outputs["probabilities"].name, {
                signature.inputs[k].name: v for k, v in feeds.items()
            })
    predicted = np.loadtxt(os.path.join(classifier_run["out"], "test_results.tsv"), delimiter="\t")
    assert predicted.shape == (24, 2)
    np.testing.assert_allclose(probabilities, predicted, rtol=0, atol=1e-5)
    # The SavedModel has the plain encoder names, as one fine-tuned from a
    # checkpoint, and no module heads.
    names = [
        n for n, _ in checkpoint_utils.list_variables(
            os.path.join(classifier_run["export"], "variables", "variables"))
    ]
    assert "bert/embeddings/word_embeddings" in names and "output_weights" in names
    assert not [n for n in names if n.startswith(("module/", "cls/"))]
    with open(os.path.join(classifier_run["export"], "assets.extra", "export_info.json")) as f:
        assert json.load(f)["vocab_file"] == "vocab.txt"


def test_tflite_and_minimal_checkpoint_of_a_model_fine_tuned_from_the_module(
        modules, classifier_run, tmp_path):
    out = classifier_run["out"]
    config = os.path.join(modules["google"]["module"], "assets", "albert_config.json")
    # The output directory has no config: the message points at the module's.
    line = one_line_error(
        run("export.py", "--format=tflite", "--checkpoint=%s" % out,
            "--output=%s" % (tmp_path / "none.tflite")))
    assert "assets/albert_config.json" in line
    output = str(tmp_path / "lcqmc.tflite")
    result = run("export.py", "--format=tflite", "--checkpoint=%s" % out,
                 "--albert_config_file=%s" % config, "--output=%s" % output,
                 "--max_seq_length=%d" % SEQ)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "as a TFLite classifier model (detected)" in result.stderr
    assert "fine-tuned from a TF Hub module" in result.stderr
    # The file's probabilities equal run_classifier's own test predictions.
    feeds = lcqmc_features(modules["vocab"], classifier_run["data"], "test")
    interpreter = tf.lite.Interpreter(model_path=output)
    interpreter.allocate_tensors()
    got = []
    for row in range(len(feeds["input_ids"])):
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], feeds[detail["name"]][row:row + 1])
        interpreter.invoke()
        got.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    predicted = np.loadtxt(os.path.join(out, "test_results.tsv"), delimiter="\t")
    np.testing.assert_allclose(np.concatenate(got), predicted, rtol=0, atol=1e-4)
    # A minimal checkpoint of it has the usual names and the fine-tuned values.
    minimal = str(tmp_path / "minimal")
    result = run("export.py", "--format=checkpoint", "--checkpoint=%s" % out,
                 "--albert_config_file=%s" % config, "--vocab_file=%s" % modules["vocab"],
                 "--output=%s" % minimal)
    assert result.returncode == 0, result.stderr[-3000:]
    values = module_variable_values(os.path.join(minimal, "albert_model.ckpt"))
    trained = module_variable_values(checkpoint_utils.resolve_checkpoint(out))
    assert not [n for n in values if n.startswith("module/")]
    for name in ("bert/embeddings/word_embeddings", "output_weights"):
        np.testing.assert_array_equal(values[name], trained.get("module/" + name,
                                                                trained.get(name)))
    assert sorted(os.listdir(str(tmp_path))) == ["lcqmc.tflite", "minimal"]


def test_flags_with_a_module_handle(modules, classifier_run, tmp_path):
    handle = modules["google"]["module"]
    data = classifier_run["data"]
    base = [
        "--task_name=lcqmc",
        "--data_dir=%s" % data,
        "--max_seq_length=%d" % SEQ, "--do_train", "--train_step=1"
    ]
    line = one_line_error(
        run(
            "run_classifier.py",
            *(base + [
                "--albert_hub_module_handle=%s" % handle,
                "--output_dir=%s" % (tmp_path / "a"),
                "--init_checkpoint=%s" % modules["google"]["prefix"]
            ])))
    assert "not both" in line
    # A fine-tuned SavedModel is not a Hub module.
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.load_module_setup(classifier_run["export"])
    assert "a SavedModel without tfhub_module.pb" in _assert_one_line(raised)
    # A config that does not fit the module's variables.
    wider = lib.write_config(str(tmp_path / "wider.json"),
                             dict(modules["google"]["fields"], hidden_size=48))
    with pytest.raises(hub_export.HubMismatchError) as raised:
        hub_export.load_module_setup(handle, config_file=wider)
    assert "hidden_size: config has 48" in _assert_one_line(raised)
    # Without other flags: the module's config and tokenizer; file:// URLs too.
    path, config, tokenizer = hub_export.load_module_setup("file://" + handle)
    assert path == handle and config.hidden_size == 32
    assert tokenizer.vocab_size == len(VOCAB) and tokenizer.do_lower_case
    # The encoder the model_fns build from a handle is the module's.
    feeds = sample_feeds(len(VOCAB))
    with tf.Graph().as_default():
        model = hub_export.encoder("file://" + handle, None, True,
                                   *[tf.constant(feeds[k]) for k in hub_export.INPUT_NAMES])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            pooled, sequence = session.run([model.get_pooled_output(), model.get_sequence_output()])
        assert [v.op.name for v in tf.trainable_variables() if v.op.name.startswith("module/bert/")]
    expected = checkpoint_outputs(modules["google"]["fields"], modules["google"]["prefix"], feeds,
                                  heads=False)
    np.testing.assert_allclose(pooled, expected["pooled_output"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(sequence, expected["sequence_output"], rtol=0, atol=1e-5)
    for script in ("run_classifier.py", "run_squad.py", "run_multiple_choice.py"):
        result = run(script, "--help")
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        assert "--albert_hub_module_handle: Fine-tune the encoder of this TF1 Hub module" in text
        assert "tokenization_info" in text


def test_run_multiple_choice_trains_and_predicts_from_the_module(modules, tmp_path):
    data = tmp_path / "choices"
    for split, seed, count in (("train", 1, 8), ("dev", 2, 4), ("test", 3, 6)):
        write(data / ("%s.jsonl" % split), choice_rows(seed, count))
    out = str(tmp_path / "out")
    export = str(tmp_path / "export")
    result = run("run_multiple_choice.py", "--task_name=jsonl", "--data_dir=%s" % data,
                 "--albert_hub_module_handle=%s" % modules["brightmart"]["module"],
                 "--output_dir=%s" % out, "--max_seq_length=16", "--max_qa_length=6",
                 "--num_choices=3", "--do_train", "--do_predict", "--export_dir=%s" % export,
                 "--train_batch_size=4", "--predict_batch_size=6", "--train_step=2",
                 "--learning_rate=1e-3")
    assert result.returncode == 0, result.stderr[-5000:]
    assert checkpoint_utils.global_step_of(tf.train.latest_checkpoint(out)) == 2
    names = dict(checkpoint_utils.list_variables(out))
    assert "module/bert/embeddings/word_embeddings_2" in names  # brightmart layout
    with io.open(os.path.join(out, "predictions.jsonl"), encoding="utf-8") as reader:
        predicted = [json.loads(line) for line in reader]
    assert [p["id"] for p in predicted] == ["c%d" % i for i in range(6)]
    assert os.path.isfile(os.path.join(out, "test_eval_results.txt"))
    # The SavedModel restores the fine-tuned module variables as bert/...
    names = [
        n
        for n, _ in checkpoint_utils.list_variables(os.path.join(export, "variables", "variables"))
    ]
    assert "bert/embeddings/word_embeddings_2" in names
    assert not [n for n in names if n.startswith("module/")]


@pytest.fixture(scope="module")
def module_site(modules, tmp_path_factory):
    """The google module as a .tar.gz served by ``python -m http.server`` on 127.0.0.1."""
    import socket  # pylint: disable=g-import-not-at-top
    import time  # pylint: disable=g-import-not-at-top
    site = tmp_path_factory.mktemp("site")
    with tarfile.open(str(site / "albert_hub.tar.gz"), "w:gz") as archive:
        module = modules["google"]["module"]
        for name in sorted(os.listdir(module)):
            archive.add(os.path.join(module, name), arcname=name)
    process = subprocess.Popen([
        sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
        str(site)
    ], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
    try:
        port = None
        deadline = time.time() + 60
        while port is None and time.time() < deadline and process.poll() is None:
            line = process.stdout.readline()
            if "port" in line:
                port = int(line.split("port")[1].split()[0])
        assert port is not None, "the local HTTP server did not start"
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        yield "http://127.0.0.1:%d/albert_hub.tar.gz" % port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_run_squad_trains_and_predicts_from_a_module_url(modules, module_site, tmp_path,
                                                         monkeypatch):
    train = write(tmp_path / "train.json", squad_json(1, 8))
    dev = write(tmp_path / "dev.json", squad_json(2, 4))
    out = str(tmp_path / "out")
    cache = str(tmp_path / "hub_cache")
    result = run("run_squad.py", "--albert_hub_module_handle=%s" % module_site,
                 "--output_dir=%s" % out, "--train_file=%s" % train, "--predict_file=%s" % dev,
                 "--do_train", "--do_predict", "--max_seq_length=%d" % SEQ, "--doc_stride=8",
                 "--max_query_length=8", "--max_answer_length=4", "--n_best_size=3",
                 "--train_batch_size=4", "--predict_batch_size=4", "--train_step=2",
                 "--learning_rate=1e-3", TFHUB_CACHE_DIR=cache)
    assert result.returncode == 0, result.stderr[-5000:]
    assert checkpoint_utils.global_step_of(tf.train.latest_checkpoint(out)) == 2
    with io.open(os.path.join(out, "predictions.json"), encoding="utf-8") as reader:
        predictions = json.load(reader)
    assert sorted(predictions) == ["q2-%d" % i for i in range(4)]
    # The module was fetched into the cache, and trained from its values.
    fetched = [
        os.path.join(cache, d)
        for d in os.listdir(cache)
        if os.path.isfile(os.path.join(cache, d, "tfhub_module.pb"))
    ]
    assert len(fetched) == 1
    module_values = module_variable_values(hub_export.module_variables(fetched[0]))
    start = module_variable_values(os.path.join(out, "model.ckpt-0"))
    for name in module_values:
        np.testing.assert_array_equal(start["module/" + name], module_values[name])
    # An address with nothing behind it is one line.
    monkeypatch.setenv("TFHUB_CACHE_DIR", cache)
    with pytest.raises(hub_export.HubError) as raised:
        hub_export.resolve_module(module_site.replace("albert_hub", "missing"))
    assert "cannot fetch the Hub module" in _assert_one_line(raised)
