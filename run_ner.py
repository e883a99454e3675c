# coding=utf-8
"""Fine-tunes ALBERT for named-entity recognition (sequence labelling).

Data (``--data_format``, detected where unambiguous): CoNLL (a token and its
tag per line, a blank line between sentences: People's Daily, MSRA, the
``.bmes`` files), the Chinese benchmark toolkits' TSV (``text_a<TAB>label``,
characters and tags space-separated) and CLUENER2020 JSON lines. Tags in BIO,
BIOES (BMES) or IOB1; the label set comes from the training data or
``--labels``. The files are ``--train_file`` / ``--dev_file`` /
``--test_file``, or the ``train.*``, ``dev.*`` and ``test.*`` files of
``--data_dir``.

Each character's (or word's) tag is predicted at its first WordPiece /
SentencePiece sub-token; sentences longer than ``--max_seq_length`` are cut
into overlapping windows (``--doc_stride``) and put back together so that
every token gets one prediction. The head is a softmax over the tags, or a
linear-chain CRF with ``--use_crf``.

Example (CLUENER2020 with albert_tiny)::

    python run_ner.py --data_dir=CLUEdataset/cluener --data_format=cluener \\
      --albert_config_file=albert_tiny/albert_config_tiny.json \\
      --vocab_file=albert_tiny/vocab.txt --init_checkpoint=albert_tiny/albert_model.ckpt \\
      --output_dir=out/cluener --do_train --do_eval --do_predict --max_seq_length=128 \\
      --train_batch_size=32 --learning_rate=1e-4 --num_train_epochs=5

Outputs in --output_dir: checkpoints; every saved checkpoint is evaluated once
on dev (entity-level precision / recall / F1, micro and per type, and token
accuracy in eval_results.txt and eval_history.json); the best by F1 is kept as
model.ckpt-best; --do_predict writes the test set's predictions in its own
format (CoNLL with a predicted column, TSV, or CLUE's cluener_predict.json);
label_list.txt keeps the tags for later prediction-only runs; --export_dir
writes a SavedModel.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import glob
import io
import os

from absl import flags
import numpy as np

import checkpoint_utils
import classifier_tasks
import driver_utils
import feature_io
import modeling
import ner_utils
import script_utils
from tf_compat import tf

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "data_dir", None, "Directory with train.*, dev.* and test.* files (any extension; see "
    "--train_file etc. to name them).")
flags.DEFINE_string("train_file", None, "Training file (default: train.* in --data_dir).")
flags.DEFINE_string("dev_file", None, "Dev file (default: dev.* in --data_dir).")
flags.DEFINE_string("test_file", None, "Test file (default: test.* in --data_dir).")
flags.DEFINE_enum("data_format", "auto", ["auto"] + list(ner_utils.FORMATS),
                  "Format of the data files (auto: detected from each file).")
flags.DEFINE_string("tag_scheme", "auto",
                    "Tag scheme of the data: BIO, BIOES (also BMES), IOB1, or auto (detected).")
flags.DEFINE_bool(
    "strict_tags", False,
    "Reject tags the scheme does not allow where they are (e.g. I- after O in "
    "BIO) instead of reading them as seqeval does.")
flags.DEFINE_string(
    "labels", None, "The tag set: comma-separated tags or a file with one tag a line "
    "(default: the training data's tags, kept in label_list.txt).")
flags.DEFINE_bool("use_crf", False, "Linear-chain CRF over the tags instead of a softmax.")
flags.DEFINE_integer("doc_stride", 64,
                     "Sub-tokens between the starts of two windows of a long sentence.")
flags.DEFINE_float("dropout_prob", 0.1, "Dropout on the sequence output while training.")
driver_utils.define_model_flags(
    flags, max_seq_length=128,
    init_help="Pretrained checkpoint; loaded strictly (only the tagging head and the CRF "
    "transitions may be new).")
driver_utils.define_training_flags(
    flags, do_eval_help="Evaluate each saved checkpoint once on the dev set (entity F1); keep the "
    "best as model.ckpt-best.",
    do_predict_help="Tag the test set with model.ckpt-best (else the latest checkpoint) "
    "and write the predictions in its own format.",
    export_help="Write a SavedModel (serving_default: input_ids, input_mask, segment_ids "
    "[, label_mask with --use_crf] -> tag_ids, logits) here.", learning_rate=1e-4)
flags.adopt_module_key_flags(driver_utils)  # listed in --help
flags.adopt_module_key_flags(script_utils)

UserError = script_utils.UserError
_INPUT_ERRORS = (classifier_tasks.DataError, modeling.ConfigError, checkpoint_utils.CheckpointError,
                 checkpoint_utils.CheckpointMismatchError)
LABEL_FILE = "label_list.txt"
FEATURE_FORMAT_VERSION = 1
SPLITS = ("train", "dev", "test")


def _check_flags(f):
    if not (f.do_train or f.do_eval or f.do_predict or f.export_dir):
        raise UserError("nothing to do: give at least one of --do_train, --do_eval, "
                        "--do_predict, --export_dir")
    missing = ["--%s" % n for n in ("albert_config_file", "output_dir") if not getattr(f, n)]
    if missing:
        raise UserError("missing required flag(s): %s" % ", ".join(missing))
    if f.data_dir and not os.path.isdir(f.data_dir):
        raise UserError("%s: --data_dir is not a directory" % f.data_dir)
    if f.tag_scheme != "auto":
        try:
            ner_utils.canonical_scheme(f.tag_scheme)
        except ValueError as e:
            raise UserError("--tag_scheme: %s" % e)
    if f.max_seq_length < 3:
        raise UserError("--max_seq_length must be >= 3, got %d" % f.max_seq_length)
    if f.doc_stride < 1:
        raise UserError("--doc_stride must be >= 1, got %d" % f.doc_stride)
    if not 0 <= f.dropout_prob < 1:
        raise UserError("--dropout_prob must be in [0, 1)")
    driver_utils.check_training_flags(f,
                                      [("--data_dir", f.data_dir), ("--train_file", f.train_file),
                                       ("--dev_file", f.dev_file), ("--test_file", f.test_file)])


def _split_file(f, split):
    """The file of a split: its flag, else the one ``<split>.*`` in --data_dir."""
    given = getattr(f, "%s_file" % split)
    if given:
        if not os.path.isfile(given):
            raise UserError("%s: --%s_file not found" % (given, split))
        return given
    if not f.data_dir:
        raise UserError("give --%s_file or --data_dir" % split)
    candidates = sorted(p for p in glob.glob(os.path.join(f.data_dir, "%s.*" % split))
                        if os.path.isfile(p) and not p.endswith((".tf_record", ".json~")))
    if len(candidates) != 1:
        raise UserError("%s: %s %s.* file in --data_dir; name it with --%s_file" %
                        (f.data_dir, "no" if not candidates else "more than one", split, split))
    return candidates[0]


def _read_labels(spec):
    """--labels: comma-separated tags or a file of tags."""
    if os.path.isfile(spec):
        with io.open(spec, encoding="utf-8") as reader:
            return [line.strip() for line in reader if line.strip()]
    return [tag.strip() for tag in spec.split(",") if tag.strip()]


class _Data(object):
    """The splits' examples, the label list and the features of each split."""

    def __init__(self, f, tokenizer):
        self.f = f
        self.tokenizer = tokenizer
        self.cache_dir = f.cached_dir or f.output_dir
        self.examples = {}
        self.files = {}
        self.scheme = None if f.tag_scheme == "auto" else ner_utils.canonical_scheme(f.tag_scheme)
        self.labels = None

    def read(self, split):
        """The examples of a split (read once), with their file."""
        if split not in self.examples:
            path = _split_file(self.f, split)
            fmt = None if self.f.data_format == "auto" else self.f.data_format
            try:
                examples = ner_utils.read_examples(path, fmt, self.scheme, self.f.strict_tags,
                                                   labeled=None if split == "test" else True)
            except (ValueError, classifier_tasks.DataError) as e:
                raise UserError(str(e))
            if not examples:
                raise UserError("%s: no sentences in the file" % path)
            if split != "test" and any(e.tags is None for e in examples):
                raise UserError("%s: the %s file has no tags" % (path, split))
            if self.scheme is None:
                self.scheme = examples[0].scheme
            self.examples[split] = examples
            self.files[split] = path
        return self.examples[split]

    def set_labels(self, output_dir, train_examples=None):
        """The label list: --labels, else the training data's, else label_list.txt."""
        saved = os.path.join(output_dir, LABEL_FILE)
        try:
            if self.f.labels:
                self.labels = ner_utils.get_label_list(labels=_read_labels(self.f.labels))
            elif train_examples is not None:
                self.labels = ner_utils.get_label_list(train_examples)
            elif os.path.isfile(saved):
                self.labels = ner_utils.get_label_list(labels=_read_labels(saved))
            else:
                raise UserError("%s: no %s (written when training); give --labels or "
                                "--do_train" % (output_dir, LABEL_FILE))
        except ValueError as e:
            raise UserError("--labels: %s" % e)
        known = set(self.labels)
        for split, examples in self.examples.items():
            for example in examples:
                for index, tag in enumerate(example.tags or ()):
                    if tag not in known:
                        raise UserError("%s: tag %s is not in the label list (%s)" %
                                        (example.token_source(index), tag, ", ".join(self.labels)))
        script_utils.write_text(saved, "".join(l + "\n" for l in self.labels))

    def features(self, split):
        """(examples, features, record file) of a split; the file is cached."""
        f = self.f
        examples = self.read(split)
        try:
            features = ner_utils.convert_examples_to_features(examples, self.tokenizer, self.labels,
                                                              f.max_seq_length, f.doc_stride)
        except (ValueError, classifier_tasks.DataError) as e:
            raise UserError(str(e))
        inputs = collections.OrderedDict([
            ("format_version", FEATURE_FORMAT_VERSION),
            ("kind", "ner"),
            ("split", split),
            ("data_sha1", feature_io.file_sha1(self.files[split])),
            ("tokenizer", feature_io.tokenizer_fingerprint(self.tokenizer)),
            ("labels", self.labels),
            ("scheme", self.scheme),
            ("max_seq_length", f.max_seq_length),
            ("doc_stride", f.doc_stride),
            ("strict_tags", f.strict_tags),
        ])
        key = feature_io.cache_key(inputs)
        record_file = os.path.join(self.cache_dir, "ner_%s_%s.tf_record" % (split, key[:16]))
        spec = ner_utils.feature_spec(f.max_seq_length)

        def write(path):
            count = feature_io.write_records(path, (x.as_dict() for x in features), spec)
            tf.logging.info("Wrote %d %s windows of %d sentences to %s", count, split,
                            len(examples), path)
            return {
                "num_records": count,
                "num_examples": len(examples),
                "data_file": os.path.abspath(self.files[split])
            }

        tf.gfile.MakeDirs(self.cache_dir)
        feature_io.cached_file(
            record_file, inputs, write, stale_pattern=os.path.join(self.cache_dir,
                                                                   "ner_%s_*.tf_record" % split),
            logger=tf.logging.info)
        return examples, features, record_file

    def input_fn(self, path, is_training, batch_size, seed=None, skip=0):
        return feature_io.input_fn_builder(path, ner_utils.feature_spec(self.f.max_seq_length),
                                           is_training, drop_remainder=self.f.use_tpu,
                                           batch_size=batch_size, seed=seed, skip=skip)


def _predict_tags(estimator, data, split_features, batch_size, checkpoint):
    """Predicted tags per example of a split (windows merged)."""
    examples, features, record_file = split_features
    rows = [
        np.asarray(row["predicted_ids"])
        for row in estimator.predict(input_fn=data.input_fn(record_file, False, batch_size),
                                     checkpoint_path=checkpoint, yield_single_examples=True)
    ]
    if len(rows) != len(features):
        raise RuntimeError("predicted %d windows for %d features" % (len(rows), len(features)))
    return ner_utils.merge_window_predictions(examples, features, rows, data.labels, data.scheme)


def _flat_metrics(gold, predicted, scheme):
    """Entity metrics (micro, then per type as ``<type>_f1`` etc.) and token accuracy."""
    metrics = ner_utils.entity_metrics(gold, predicted, scheme)
    out = collections.OrderedDict()
    for key in ("precision", "recall", "f1", "macro_f1", "support", "predicted", "correct"):
        out[key] = metrics[key]
    out["token_accuracy"] = ner_utils.token_accuracy(gold, predicted)
    for type_, values in metrics["per_type"].items():
        for key in ("precision", "recall", "f1", "support"):
            out["%s_%s" % (type_, key)] = values[key]
    return out


def _format_metrics(metrics):
    return ", ".join(
        "%s=%.4f" % (k, metrics[k]) for k in ("precision", "recall", "f1", "token_accuracy"))


def _prediction_file(examples, test_file):
    fmt = examples[0].fmt
    if fmt == "cluener":
        return "cluener_predict.json"
    return "test_predictions%s" % (os.path.splitext(test_file)[1] or ".txt")


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    f = FLAGS
    _check_flags(f)
    tf.logging.set_verbosity(tf.logging.INFO)
    config, tokenizer = driver_utils.load_model_setup(f, (classifier_tasks.DataError,))
    data = _Data(f, tokenizer)
    # Every file the run needs is read and checked before training.
    for split, wanted in (("train", f.do_train), ("dev", f.do_eval), ("test", f.do_predict)):
        if wanted:
            data.read(split)
    driver_utils.prepare_output_dir(f.output_dir)
    data.set_labels(f.output_dir, data.examples.get("train"))
    if f.do_train:
        driver_utils.check_resume_checkpoint(f.output_dir)
    num_labels = len(data.labels)

    num_train_steps, num_warmup_steps = 1, 0
    train = None
    if f.do_train:
        train = data.features("train")
        num_train_steps, num_warmup_steps = driver_utils.training_steps(f, len(train[1]))
        tf.logging.info(
            "Training: %d sentences in %d windows, %d tags, batch %d, %d steps "
            "(%d warmup)", len(train[0]), len(train[1]), num_labels, f.train_batch_size,
            num_train_steps, num_warmup_steps)
    dev = data.features("dev") if f.do_eval else None
    test = data.features("test") if f.do_predict else None

    model_fn = ner_utils.model_fn_builder(
        config, num_labels, init_checkpoint=f.init_checkpoint, learning_rate=f.learning_rate,
        num_train_steps=num_train_steps, num_warmup_steps=num_warmup_steps, use_tpu=f.use_tpu,
        use_one_hot_embeddings=f.use_tpu, optimizer=f.optimizer, use_crf=f.use_crf,
        dropout=f.dropout_prob, init_report_file=os.path.join(f.output_dir,
                                                              driver_utils.INIT_REPORT_FILE),
        verbose=f.verbose)

    def head_problems(shapes):
        problems = []
        head = shapes.get("output_bias")
        if head is not None and head != [num_labels]:
            problems.append("the tagging head has %d tags, this run has %d" % (head[0], num_labels))
        if ("crf/transitions" in shapes) != bool(f.use_crf):
            problems.append("its head %s a CRF" % ("has" if not f.use_crf else "has no"))
        return problems

    driver_utils.check_output_dir_model(f.output_dir, config, head_problems)
    estimator = driver_utils.make_estimator(model_fn, f)
    eval_estimator = (driver_utils.make_estimator(model_fn, f, f.eval_batch_size)
                      if f.use_tpu else estimator)

    history = None
    if f.do_eval:
        history = driver_utils.EvalHistory(
            f.output_dir, os.path.basename(dev[2]), "f1",
            "NER dev results on %s (best by entity f1)" % data.files["dev"])

    def evaluate(checkpoint):
        predicted = _predict_tags(eval_estimator, data, dev, f.eval_batch_size, checkpoint)
        metrics = _flat_metrics([e.tags for e in dev[0]], predicted, data.scheme)
        tf.logging.info("Eval of %s (step %d): %s", checkpoint,
                        checkpoint_utils.global_step_of(checkpoint), _format_metrics(metrics))
        return metrics

    try:
        checkpoint = driver_utils.train_and_select_from_flags(
            estimator, f, num_train_steps,
            len(train[1]) if train else 0,
            lambda **kw: data.input_fn(train[2], True, f.train_batch_size, **kw), history, evaluate)
        if f.do_predict:
            examples = test[0]
            tf.logging.info("Tagging %d test sentences with %s", len(examples), checkpoint)
            predicted = _predict_tags(estimator, data, test, f.predict_batch_size, checkpoint)
            path = os.path.join(f.output_dir, _prediction_file(examples, data.files["test"]))
            ner_utils.write_predictions(path, examples, predicted)
            tf.logging.info("Wrote %s", path)
            if all(e.tags is not None for e in examples):
                metrics = _flat_metrics([e.tags for e in examples], predicted, data.scheme)
                text = "# NER test results of %s on %s\n" % (checkpoint, data.files["test"])
                text += "".join("%s = %s\n" % (k, metrics[k]) for k in metrics)
                script_utils.write_text(os.path.join(f.output_dir, "test_eval_results.txt"), text)
                tf.logging.info("Test set (labelled): %s", _format_metrics(metrics))
        if f.export_dir:
            info = {
                "task": "ner",
                "labels": data.labels,
                "scheme": data.scheme,
                "use_crf": bool(f.use_crf),
                "max_seq_length": f.max_seq_length
            }

            def export():
                assets = driver_utils.export_assets(tokenizer, config, info)
                return ner_utils.export_saved_model(config, num_labels, checkpoint, f.export_dir,
                                                    use_crf=f.use_crf, assets=assets)

            driver_utils.export_from_flags(export, checkpoint, f.export_dir)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    return 0


if __name__ == "__main__":
    script_utils.run(main)
