# coding=utf-8
"""Fine-tunes ALBERT for span extraction: SQuAD v1.1/v2.0, CMRC2018, DRCD.

Any SQuAD-format JSON works, with a WordPiece vocab.txt (Chinese models) or a
SentencePiece model (Google's English models).

Example (CMRC2018 with albert_tiny)::

    python run_squad.py --albert_config_file=albert_tiny/albert_config_tiny.json \\
      --vocab_file=albert_tiny/vocab.txt --init_checkpoint=albert_tiny/albert_model.ckpt \\
      --train_file=cmrc2018/train.json --predict_file=cmrc2018/dev.json \\
      --output_dir=out/cmrc2018 --do_train --do_predict --max_seq_length=512 \\
      --train_batch_size=32 --learning_rate=2e-4 --num_train_epochs=3

Outputs in --output_dir: checkpoints; with --do_predict and a predict file
that has answers, every saved checkpoint is scored once (eval_results.txt,
eval_history.json) and the best by F1 is kept as model.ckpt-best; the
predictions of the checkpoint used (best, else latest) go to predictions.json,
nbest_predictions.json and, with --version_2_with_negative, null_odds.json.
--export_dir writes a SavedModel.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os

from absl import flags

import checkpoint_utils
import classifier_utils
import driver_utils
import modeling
import script_utils
import squad_utils
import tokenization
from tf_compat import tf
from tf_compat import tpu_module

FLAGS = flags.FLAGS

flags.DEFINE_string("albert_config_file", None, "Model config JSON (alias --bert_config_file).")
flags.DEFINE_alias("bert_config_file", "albert_config_file")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (Chinese models).")
flags.DEFINE_string("spm_model_file", None,
                    "SentencePiece model (English ALBERT); replaces --vocab_file.")
flags.DEFINE_string("output_dir", None, "Where checkpoints and predictions are written.")
flags.DEFINE_string("train_file", None, "SQuAD-format JSON for training.")
flags.DEFINE_string("predict_file", None,
                    "SQuAD-format JSON to predict (scored when it has answers).")
flags.DEFINE_string("train_feature_file", None,
                    "TFRecord of the training features (default: in --cached_dir); reused only "
                    "when it was built from the same data and settings.")
flags.DEFINE_string("predict_feature_file", None,
                    "TFRecord of the predict features (default: in --cached_dir); reused only "
                    "when it was built from the same data and settings.")
flags.DEFINE_string("cached_dir", None, "Where feature files go (default: --output_dir).")
flags.DEFINE_string("init_checkpoint", None,
                    "Pretrained checkpoint; loaded strictly (only the span head may be new).")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (True for all released models).")
flags.DEFINE_integer("max_seq_length", 384, "Tokens per window, incl. [CLS] and two [SEP].")
flags.DEFINE_integer("doc_stride", 128, "Tokens between the starts of two context windows.")
flags.DEFINE_integer("max_query_length", 64, "The question is cut to this many tokens.")
flags.DEFINE_bool("do_train", False, "Fine-tune on --train_file.")
flags.DEFINE_bool("do_predict", False, "Predict (and, with answers, score) --predict_file.")
flags.DEFINE_integer("train_batch_size", 32, "Training batch size.")
flags.DEFINE_integer("predict_batch_size", 8, "Prediction batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("num_train_epochs", 3.0, "Training epochs over the training windows.")
flags.DEFINE_integer("train_step", None, "Training steps (overrides --num_train_epochs).")
flags.DEFINE_float("warmup_proportion", 0.1, "Share of the training steps with linear warmup.")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "Optimizer.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Save (and score) a checkpoint every N steps.")
flags.DEFINE_integer("keep_checkpoint_max", 5,
                     "Step checkpoints to keep (0 keeps all); model.ckpt-best is extra.")
flags.DEFINE_integer("random_seed", 12345, "Seed of initialisation, dropout and shuffling.")
flags.DEFINE_integer("n_best_size", 20, "Answers kept per question in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in tokens.")
flags.DEFINE_bool("version_2_with_negative", False,
                  "SQuAD v2: questions may have no answer (answerability head, null_odds.json).")
flags.DEFINE_integer("start_n_top", 5, "v2: start positions searched.")
flags.DEFINE_integer("end_n_top", 5, "v2: end positions searched per start.")
flags.DEFINE_float("dropout_prob", 0.1, "v2: dropout in the answer-class layer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0,
                   "v2: answer \"\" when the null odds exceed this (choose it on other data).")
flags.DEFINE_enum("metric", None, list(squad_utils.METRICS),
                  "Metric (default: squad_v2 with --version_2_with_negative, cmrc2018 for "
                  "Chinese answers, else squad_v1).")
flags.DEFINE_bool("use_einsum", True, "Use tf.einsum (False: TFLite-friendly graph).")
flags.DEFINE_string("export_dir", None,
                    "Write a SavedModel (input_ids, input_mask, segment_ids [, p_mask] -> "
                    "logits) of the fine-tuned model here.")
flags.DEFINE_float("log_every_secs", 30.0,
                   "Seconds between two training progress lines (step/N, loss, "
                   "examples/sec, ETA).")
script_utils.define_verbose_flag(flags)
script_utils.define_tpu_flags(flags)
flags.adopt_module_key_flags(script_utils)  # listed in --help

UserError = script_utils.UserError
_INPUT_ERRORS = (classifier_utils.DataError, modeling.ConfigError,
                 checkpoint_utils.CheckpointError, checkpoint_utils.CheckpointMismatchError)
BEST_PREFIX = "model.ckpt-best"
INIT_REPORT_FILE = "init_checkpoint_report.txt"


def _check_flags():
    if not (FLAGS.do_train or FLAGS.do_predict or FLAGS.export_dir):
        raise UserError("nothing to do: give --do_train, --do_predict or --export_dir")
    missing = ["--%s" % n for n in ("albert_config_file", "output_dir") if not getattr(FLAGS, n)]
    if FLAGS.do_train and not FLAGS.train_file:
        missing.append("--train_file (with --do_train)")
    if FLAGS.do_predict and not FLAGS.predict_file:
        missing.append("--predict_file (with --do_predict)")
    if missing:
        raise UserError("missing required flag(s): %s" % ", ".join(missing))
    if not FLAGS.vocab_file and not FLAGS.spm_model_file:
        raise UserError("give --vocab_file (WordPiece vocab.txt) or --spm_model_file")
    for name in ("train_batch_size", "predict_batch_size", "save_checkpoints_steps",
                 "doc_stride", "max_query_length", "n_best_size", "max_answer_length",
                 "start_n_top", "end_n_top", "iterations_per_loop", "num_tpu_cores"):
        if getattr(FLAGS, name) < 1:
            raise UserError("--%s must be >= 1, got %d" % (name, getattr(FLAGS, name)))
    if FLAGS.max_seq_length < FLAGS.max_query_length + 4:
        raise UserError("--max_seq_length=%d leaves no room for the context after "
                        "--max_query_length=%d" % (FLAGS.max_seq_length, FLAGS.max_query_length))
    if not 0 <= FLAGS.warmup_proportion <= 1:
        raise UserError("--warmup_proportion must be in [0, 1]")
    if FLAGS.train_step is not None and FLAGS.train_step < 1:
        raise UserError("--train_step must be >= 1")
    if FLAGS.keep_checkpoint_max < 0:
        raise UserError("--keep_checkpoint_max must be >= 0 (0 keeps all)")
    for name in ("train_file", "predict_file"):
        path = getattr(FLAGS, name)
        if path and (name != "train_file" or FLAGS.do_train) and not os.path.isfile(path):
            raise UserError("%s: --%s not found" % (path, name))
    if FLAGS.log_every_secs < 0:
        raise UserError("--log_every_secs must be >= 0")
    driver_utils.check_export_dir(
        FLAGS.export_dir, FLAGS.output_dir,
        [("--cached_dir", FLAGS.cached_dir), ("--train_file", FLAGS.train_file),
         ("--predict_file", FLAGS.predict_file)])


def _load_setup():
    try:
        config = modeling.AlbertConfig.from_json_file(FLAGS.albert_config_file)
        if FLAGS.init_checkpoint:
            config = checkpoint_utils.config_for_checkpoint(config, FLAGS.init_checkpoint)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    if FLAGS.max_seq_length > config.max_position_embeddings:
        raise UserError("--max_seq_length=%d is longer than max_position_embeddings=%d of %s" %
                        (FLAGS.max_seq_length, config.max_position_embeddings,
                         FLAGS.albert_config_file))
    try:
        tokenizer = tokenization.FullTokenizer.from_files(
            vocab_file=FLAGS.vocab_file, spm_model_file=FLAGS.spm_model_file,
            do_lower_case=FLAGS.do_lower_case)
        tokenization.check_vocab_matches_config(tokenizer, config, FLAGS.albert_config_file)
        classifier_utils.special_tokens_check(tokenizer)
        tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, FLAGS.init_checkpoint)
        if FLAGS.init_checkpoint and FLAGS.do_train:
            checkpoint_utils.check_checkpoint_complete(FLAGS.init_checkpoint)
    except (IOError, OSError, ValueError) as e:
        raise UserError(str(e))
    return config, tokenizer


def _make_estimator(model_fn):
    run_config = script_utils.run_config_from_flags(FLAGS)
    if not FLAGS.use_tpu:
        return tf.estimator.Estimator(model_fn=model_fn, config=run_config)
    tpu = tpu_module()
    return tpu.TPUEstimator(use_tpu=True, model_fn=model_fn, config=run_config,
                            train_batch_size=FLAGS.train_batch_size,
                            predict_batch_size=FLAGS.predict_batch_size)


def _features(path, tokenizer, is_training, record_file):
    try:
        examples, stats = squad_utils.read_squad_examples(
            path, is_training, FLAGS.version_2_with_negative, logger=tf.logging.warning)
    except squad_utils.DataError as e:
        raise UserError(str(e))
    if is_training and not examples:
        raise UserError("%s: no usable training question (%r)%s" % (
            path, stats, "; first problem: %s" % stats.messages[0] if stats.messages else ""))
    cache_dir = FLAGS.cached_dir or FLAGS.output_dir
    tf.gfile.MakeDirs(cache_dir)
    progress = script_utils.Progress("%s questions" % ("train" if is_training else "predict"),
                                     total=len(examples))
    try:
        record, meta, count, _ = squad_utils.load_or_create_features(
            path, examples, tokenizer, FLAGS.max_seq_length, FLAGS.doc_stride,
            FLAGS.max_query_length, is_training, FLAGS.version_2_with_negative,
            cache_dir=cache_dir, record_file=record_file, progress=progress,
            logger=tf.logging.info)
    except ValueError as e:
        raise UserError("%s: %s" % (path, e))
    if is_training and not count:
        raise UserError("%s: no training window has a usable answer (%d questions); an "
                        "answer must lie inside the first --max_seq_length=%d tokens' "
                        "windows" % (path, len(examples), FLAGS.max_seq_length))
    return examples, record, meta, count


# -- checkpoints (same conventions as run_classifier.py) --------------------







def _fine_tuned_checkpoint():
    best = os.path.join(FLAGS.output_dir, BEST_PREFIX)
    latest = tf.train.latest_checkpoint(FLAGS.output_dir)
    steps = checkpoint_utils.step_checkpoints(FLAGS.output_dir)
    for candidate in (best if tf.gfile.Exists(best + ".index") else None, latest,
                      steps[-1][1] if steps else None):
        if candidate:
            return checkpoint_utils.check_checkpoint_complete(candidate)
    raise UserError("%s: no fine-tuned checkpoint to predict or export with; run with "
                    "--do_train first" % FLAGS.output_dir)


class _History(object):
    """Scores of each checkpoint (each scored once) and the best one."""

    def __init__(self, key, metric):
        self.path = os.path.join(FLAGS.output_dir, "eval_history.json")
        self.key, self.metric = key, metric
        self.entries, self.best = [], None
        if os.path.isfile(self.path):
            try:
                data = json.load(io.open(self.path, encoding="utf-8"))
            except ValueError:
                data = {}
            if data.get("key") == key and data.get("metric") == metric:
                self.entries, self.best = data.get("entries", []), data.get("best")
        if self.best and not tf.gfile.Exists(os.path.join(FLAGS.output_dir,
                                                          BEST_PREFIX + ".index")):
            self.best = None

    def evaluated(self, step):
        return any(e["step"] == step for e in self.entries)

    def add(self, checkpoint, step, metrics):
        self.entries.append({"checkpoint": os.path.basename(checkpoint), "step": step,
                             "metrics": metrics})
        self.entries.sort(key=lambda e: e["step"])
        if self.best is None or metrics["f1"] > self.best["metrics"]["f1"]:
            self.best = {"step": step, "metrics": metrics,
                         "copied_from": os.path.basename(checkpoint)}
            return True
        return False

    def save(self):
        script_utils.write_json(self.path, {"key": self.key, "metric": self.metric,
                                "entries": self.entries, "best": self.best})
        lines = ["# %s results on %s (best by f1)\n" % (self.metric, FLAGS.predict_file)]
        blocks = [("[%s]" % e["checkpoint"], e["step"], e["metrics"]) for e in self.entries]
        if self.best:
            blocks.append(("[%s] (best by f1: step %d)" % (BEST_PREFIX, self.best["step"]),
                           self.best["step"], self.best["metrics"]))
        for header, step, metrics in blocks:
            lines.append("%s\n" % header)
            lines.append("global_step = %d\n" % step)
            lines.extend("%s = %s\n" % (k, metrics[k]) for k in sorted(metrics))
        script_utils.write_text(os.path.join(FLAGS.output_dir, "eval_results.txt"), "".join(lines))


# -- prediction ---------------------------------------------------------------


class _Predictor(object):
    """Predicts the predict file with a checkpoint; writes and scores predictions."""

    def __init__(self, estimator, tokenizer):
        self.estimator = estimator
        self.examples, record, meta, _ = _features(FLAGS.predict_file, tokenizer, False,
                                                   FLAGS.predict_feature_file)
        self.features = squad_utils.read_feature_meta(meta)
        self.input_fn = squad_utils.input_fn_builder(
            record, FLAGS.max_seq_length, is_training=False, drop_remainder=False,
            batch_size=FLAGS.predict_batch_size)
        self.key = os.path.basename(record)
        self.gold = None
        # Scored against every reference text as written (also answers whose
        # offsets were unusable), like the official scripts.
        gold = squad_utils.read_gold_answers(FLAGS.predict_file)
        if any(gold.values()) or any(e.is_impossible for e in self.examples):
            self.gold = gold
        self.metric = FLAGS.metric or squad_utils.guess_metric(
            self.gold or {}, FLAGS.version_2_with_negative)

    def predict(self, checkpoint):
        """(predictions, nbest, null_odds or None, metrics or None)."""
        results = []
        v2 = FLAGS.version_2_with_negative
        for row in self.estimator.predict(self.input_fn, checkpoint_path=checkpoint,
                                          yield_single_examples=True):
            results.append(squad_utils.raw_result(row, v2))
        null_odds = None
        if v2:
            best_text, nbest, null_odds = squad_utils.decode_v2(
                self.examples, self.features, results, FLAGS.n_best_size,
                FLAGS.max_answer_length, FLAGS.start_n_top, FLAGS.end_n_top)
            predictions = squad_utils.apply_null_threshold(best_text, null_odds,
                                                           FLAGS.null_score_diff_threshold)
        else:
            predictions, nbest = squad_utils.decode_v1(
                self.examples, self.features, results, FLAGS.n_best_size,
                FLAGS.max_answer_length)
        metrics = None
        if self.gold is not None:
            if self.metric == "squad_v2" and v2:
                metrics = squad_utils.evaluate_v2(self.gold, best_text, null_odds,
                                                  FLAGS.null_score_diff_threshold)
            else:
                metrics = squad_utils.evaluate(self.gold, predictions, self.metric)
        return predictions, nbest, null_odds, metrics

    def write(self, checkpoint):
        predictions, nbest, null_odds, metrics = self.predict(checkpoint)
        out = FLAGS.output_dir
        script_utils.write_json(os.path.join(out, "predictions.json"), predictions)
        script_utils.write_json(os.path.join(out, "nbest_predictions.json"), nbest)
        if null_odds is not None:
            script_utils.write_json(os.path.join(out, "null_odds.json"), null_odds)
        tf.logging.info("Wrote predictions of %d questions with %s", len(predictions), checkpoint)
        return metrics


def _format(metrics):
    return ", ".join(("%s=%.4f" if isinstance(v, float) else "%s=%s") % (k, v)
                     for k, v in metrics.items())


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    _check_flags()
    tf.logging.set_verbosity(tf.logging.INFO)
    config, tokenizer = _load_setup()
    driver_utils.prepare_output_dir(FLAGS.output_dir)
    if FLAGS.do_train:
        driver_utils.check_resume_checkpoint(FLAGS.output_dir)
    v2 = FLAGS.version_2_with_negative

    num_train_steps, num_warmup_steps = 1, 0
    train_record = None
    num_train_features = 0
    if FLAGS.do_train:
        _, train_record, _, num_train_features = _features(
            FLAGS.train_file, tokenizer, True, FLAGS.train_feature_file)
        num_train_steps = FLAGS.train_step or max(
            1, int(num_train_features / FLAGS.train_batch_size * FLAGS.num_train_epochs))
        num_warmup_steps = int(num_train_steps * FLAGS.warmup_proportion)
        tf.logging.info("Training: %d windows, batch %d, %d steps (%d warmup)",
                        num_train_features, FLAGS.train_batch_size, num_train_steps,
                        num_warmup_steps)
    model_fn = squad_utils.model_fn_builder(
        config, init_checkpoint=FLAGS.init_checkpoint, learning_rate=FLAGS.learning_rate,
        num_train_steps=num_train_steps, num_warmup_steps=num_warmup_steps,
        use_tpu=FLAGS.use_tpu, use_one_hot_embeddings=FLAGS.use_tpu, optimizer=FLAGS.optimizer,
        version_2_with_negative=v2, start_n_top=FLAGS.start_n_top, end_n_top=FLAGS.end_n_top,
        dropout_prob=FLAGS.dropout_prob, use_einsum=FLAGS.use_einsum,
        init_report_file=os.path.join(FLAGS.output_dir, INIT_REPORT_FILE),
        verbose=FLAGS.verbose)
    _check_existing_checkpoints(config)
    estimator = _make_estimator(model_fn)

    try:
        predictor = history = None
        if FLAGS.do_predict:
            predictor = _Predictor(estimator, tokenizer)
            if predictor.gold is not None:
                history = _History(predictor.key, predictor.metric)

        def score_new_checkpoints():
            for step, prefix in checkpoint_utils.step_checkpoints(FLAGS.output_dir):
                if step > 0 and not history.evaluated(step):
                    metrics = predictor.predict(prefix)[3]
                    tf.logging.info("Eval of %s (step %d): %s", prefix, step, _format(metrics))
                    if history.add(prefix, step, metrics):
                        checkpoint_utils.copy_checkpoint(prefix, os.path.join(FLAGS.output_dir, BEST_PREFIX))
                        tf.logging.info("New best f1 %.4f at step %d: copied to %s",
                                        metrics["f1"], step, BEST_PREFIX)
                    history.save()

        if FLAGS.do_train:
            latest = tf.train.latest_checkpoint(FLAGS.output_dir)
            step = checkpoint_utils.global_step_of(latest) if latest else 0
            if latest:
                tf.logging.info("Resuming training from %s (step %d of %d)", latest, step,
                                num_train_steps)
            save_steps = FLAGS.save_checkpoints_steps
            hooks = [] if FLAGS.use_tpu else [driver_utils.TrainingLogHook(
                FLAGS.train_batch_size, num_train_steps, every_secs=FLAGS.log_every_secs)]
            while step < num_train_steps:
                target = (num_train_steps if history is None
                          else min(num_train_steps, (step // save_steps + 1) * save_steps))
                consumed = (step * FLAGS.train_batch_size) % max(num_train_features, 1)
                estimator.train(input_fn=squad_utils.input_fn_builder(
                    train_record, FLAGS.max_seq_length, is_training=True,
                    drop_remainder=FLAGS.use_tpu, batch_size=FLAGS.train_batch_size,
                    seed=FLAGS.random_seed + step, skip=consumed), max_steps=target,
                    hooks=hooks)
                step = target
                if history is not None:
                    score_new_checkpoints()
        checkpoint = None
        if FLAGS.do_predict:
            if history is not None:
                score_new_checkpoints()
            checkpoint = _fine_tuned_checkpoint()
            metrics = predictor.write(checkpoint)
            if metrics is not None:
                tf.logging.info("%s of %s: %s", predictor.metric, checkpoint, _format(metrics))
                if not history.entries:
                    # No step checkpoint was scored (e.g. only model.ckpt-best is
                    # left): report the checkpoint used.
                    text = "# %s results of %s on %s\n" % (predictor.metric, checkpoint,
                                                           FLAGS.predict_file)
                    text += "".join("%s = %s\n" % (k, metrics[k]) for k in sorted(metrics))
                    script_utils.write_text(os.path.join(FLAGS.output_dir, "eval_results.txt"), text)
        if FLAGS.export_dir:
            checkpoint = checkpoint or _fine_tuned_checkpoint()
            try:
                squad_utils.export_saved_model(
                    config, checkpoint, FLAGS.export_dir, v2, FLAGS.start_n_top,
                    FLAGS.end_n_top, assets=_export_assets(tokenizer, config))
            except ValueError as e:
                raise UserError(str(e))
            tf.logging.info("Exported %s to %s", checkpoint, FLAGS.export_dir)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    return 0


def _check_existing_checkpoints(config):
    """Refuses an output_dir holding checkpoints of another model or head."""
    prefixes = [p for _, p in checkpoint_utils.step_checkpoints(FLAGS.output_dir)]
    best = os.path.join(FLAGS.output_dir, BEST_PREFIX)
    if tf.gfile.Exists(best + ".index"):
        prefixes.append(best)
    if not prefixes:
        return
    problems = checkpoint_utils.check_config_against_checkpoint(config, prefixes[-1])
    names = dict(checkpoint_utils.list_variables(prefixes[-1]))
    has_v1 = "cls/squad/output_weights" in names
    has_v2 = "start_logits/dense/kernel" in names
    if FLAGS.version_2_with_negative and has_v1 or not FLAGS.version_2_with_negative and has_v2:
        problems.append("its span head is the %s head, this run uses the %s head" %
                        ("v1" if has_v1 else "v2",
                         "v2" if FLAGS.version_2_with_negative else "v1"))
    if problems:
        raise UserError("%s holds checkpoints of another model or head (%s); use a new "
                        "--output_dir" % (FLAGS.output_dir, "; ".join(problems)))


def _export_assets(tokenizer, config):
    vocab = tokenizer.spm_model_file or tokenizer.vocab_file
    info = {"task": "squad_v2" if FLAGS.version_2_with_negative else "squad_v1",
            "max_seq_length": FLAGS.max_seq_length, "doc_stride": FLAGS.doc_stride,
            "max_query_length": FLAGS.max_query_length, "do_lower_case": FLAGS.do_lower_case,
            "vocab_file": os.path.basename(vocab),
            "tokenizer": "sentencepiece" if tokenizer.spm_model_file else "wordpiece"}
    with io.open(vocab, "rb") as reader:
        vocab_bytes = reader.read()
    return {"albert_config.json": config.to_json_string(),
            os.path.basename(vocab): vocab_bytes,
            "export_info.json": json.dumps(info, indent=2, sort_keys=True) + "\n"}


if __name__ == "__main__":
    script_utils.run(main)
