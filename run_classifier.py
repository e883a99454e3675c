# coding=utf-8
"""Fine-tunes ALBERT for sentence / sentence-pair classification and exports it.

Tasks: lcqmc (alias lcqmc_pair), sentence_pair, sentence, CLUE (afqmc, tnews,
iflytek, cmnli, ocnli, csl, cluewsc2020/wsc, copa), xnli, chnsenticorp, bq
and GLUE (cola, mnli, mnli-mm, mrpc, qnli, qqp, rte, sst-2, sts-b, wnli).

Example (LCQMC with albert_tiny)::

    python run_classifier.py --task_name=lcqmc --data_dir=data/lcqmc \\
      --albert_config_file=albert_tiny/albert_config_tiny.json \\
      --vocab_file=albert_tiny/vocab.txt \\
      --init_checkpoint=albert_tiny/albert_model.ckpt \\
      --output_dir=out/lcqmc --do_train --do_eval --do_predict \\
      --max_seq_length=128 --train_batch_size=64 --learning_rate=1e-4 \\
      --num_train_epochs=5

Outputs in --output_dir: checkpoints; every saved checkpoint is evaluated
once on the dev set (eval_results.txt, eval_history.json) and the best one by
the task's metric is kept as model.ckpt-best; --do_predict writes
test_results.tsv (class probabilities, one line per test example) and the
benchmark's submission file; --export_dir writes a SavedModel with a
serving_default signature.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import math
import os

from absl import flags
import numpy as np

import checkpoint_utils
import classifier_utils
import driver_utils
import modeling
import script_utils
import tokenization
from tf_compat import tf
from tf_compat import tpu_module

FLAGS = flags.FLAGS

# -- data and model --
flags.DEFINE_string("data_dir", None, "Directory with the task's train/dev/test files.")
flags.DEFINE_string("albert_config_file", None,
                    "Model config JSON (alias --bert_config_file).")
flags.DEFINE_alias("bert_config_file", "albert_config_file")
flags.DEFINE_string("task_name", None,
                    "Task: %s." % ", ".join(classifier_utils.known_tasks()))
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt (Chinese models).")
flags.DEFINE_string("spm_model_file", None,
                    "SentencePiece model (English ALBERT); replaces --vocab_file.")
flags.DEFINE_string("output_dir", None, "Where checkpoints and results are written.")
flags.DEFINE_string("cached_dir", None,
                    "Where cached feature files go (default: --output_dir).")
flags.DEFINE_string("init_checkpoint", None,
                    "Pretrained checkpoint (prefix, directory or 'checkpoint' file). "
                    "Loaded strictly: only the classifier head may be missing.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (True for all Chinese models).")
flags.DEFINE_integer("max_seq_length", 128,
                     "Tokens per example after WordPiece/SentencePiece, incl. [CLS]/[SEP].")
# -- what to do --
flags.DEFINE_bool("do_train", False, "Fine-tune on the training set.")
flags.DEFINE_bool("do_eval", False,
                  "Evaluate each saved checkpoint once on the dev set; keep the best "
                  "as model.ckpt-best.")
flags.DEFINE_bool("do_predict", False,
                  "Predict the test set with model.ckpt-best (else the latest checkpoint): "
                  "test_results.tsv and the submission file.")
flags.DEFINE_string("export_dir", None,
                    "Write a SavedModel (serving_default: input_ids, input_mask, "
                    "segment_ids -> probabilities, pooled_output) here.")
# -- training --
flags.DEFINE_integer("train_batch_size", 32, "Training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Evaluation batch size.")
flags.DEFINE_integer("predict_batch_size", 8, "Prediction batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("num_train_epochs", 3.0,
                   "Training epochs (used when --train_step is not given).")
flags.DEFINE_integer("train_step", None, "Training steps (overrides --num_train_epochs).")
flags.DEFINE_float("warmup_proportion", 0.1,
                   "Share of the training steps with linear warmup (when --warmup_step "
                   "is not given).")
flags.DEFINE_integer("warmup_step", None, "Warmup steps (overrides --warmup_proportion).")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "Optimizer.")
flags.DEFINE_float("classifier_dropout", 0.1,
                   "Dropout on the pooled output while training (0 disables).")
flags.DEFINE_integer("random_seed", 12345, "Seed of initialisation, dropout and shuffling.")
flags.DEFINE_integer("save_checkpoints_steps", 1000,
                     "Save (and, with --do_eval, evaluate) a checkpoint every N steps.")
flags.DEFINE_integer("keep_checkpoint_max", 5,
                     "Step checkpoints to keep (0 keeps all); model.ckpt-best is extra.")
flags.DEFINE_float("log_every_secs", 30.0,
                   "Seconds between two training progress lines (step/N, loss, "
                   "examples/sec, ETA).")
script_utils.define_verbose_flag(flags)
# -- TPU --
script_utils.define_tpu_flags(flags)
flags.adopt_module_key_flags(script_utils)  # listed in --help

UserError = script_utils.UserError

# Problems with the user's input, reported as one line.
_INPUT_ERRORS = (classifier_utils.DataError, modeling.ConfigError,
                 checkpoint_utils.CheckpointError, checkpoint_utils.CheckpointMismatchError)

BEST_PREFIX = "model.ckpt-best"
INIT_REPORT_FILE = "init_checkpoint_report.txt"


# ---------------------------------------------------------------------------
# Set-up.
# ---------------------------------------------------------------------------


def _check_flags():
    if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict or FLAGS.export_dir):
        raise UserError("nothing to do: give at least one of --do_train, --do_eval, "
                        "--do_predict, --export_dir")
    required = ["task_name", "albert_config_file", "output_dir"]
    if FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict:
        required.append("data_dir")
    missing = ["--%s" % name for name in required if not getattr(FLAGS, name)]
    if missing:
        raise UserError("missing required flag(s): %s" % ", ".join(missing))
    if not FLAGS.vocab_file and not FLAGS.spm_model_file:
        raise UserError("give --vocab_file (WordPiece vocab.txt) or --spm_model_file")
    for name in ("train_batch_size", "eval_batch_size", "predict_batch_size",
                 "save_checkpoints_steps", "iterations_per_loop", "num_tpu_cores"):
        if getattr(FLAGS, name) < 1:
            raise UserError("--%s must be >= 1, got %d" % (name, getattr(FLAGS, name)))
    if FLAGS.max_seq_length < 3:
        raise UserError("--max_seq_length must be >= 3, got %d" % FLAGS.max_seq_length)
    if FLAGS.keep_checkpoint_max < 0:
        raise UserError("--keep_checkpoint_max must be >= 0 (0 keeps all)")
    if not 0 <= FLAGS.classifier_dropout < 1:
        raise UserError("--classifier_dropout must be in [0, 1)")
    if FLAGS.train_step is not None and FLAGS.train_step < 1:
        raise UserError("--train_step must be >= 1")
    if FLAGS.warmup_step is not None and FLAGS.warmup_step < 0:
        raise UserError("--warmup_step must be >= 0")
    if not 0 <= FLAGS.warmup_proportion <= 1:
        raise UserError("--warmup_proportion must be in [0, 1]")
    if FLAGS.do_train and FLAGS.num_train_epochs <= 0 and FLAGS.train_step is None:
        raise UserError("--num_train_epochs must be > 0")
    if FLAGS.data_dir and not os.path.isdir(FLAGS.data_dir):
        raise UserError("%s: --data_dir is not a directory" % FLAGS.data_dir)
    if FLAGS.log_every_secs < 0:
        raise UserError("--log_every_secs must be >= 0")
    driver_utils.check_export_dir(
        FLAGS.export_dir, FLAGS.output_dir,
        [("--data_dir", FLAGS.data_dir), ("--cached_dir", FLAGS.cached_dir)])


def _load_setup():
    """Processor, config, tokenizer and labels, with input errors as UserError."""
    try:
        processor = classifier_utils.get_processor(FLAGS.task_name)
    except ValueError as e:
        raise UserError(str(e))
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
        tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case,
                                                      FLAGS.init_checkpoint)
        if FLAGS.init_checkpoint and FLAGS.do_train:
            checkpoint_utils.check_checkpoint_complete(FLAGS.init_checkpoint)
    except (IOError, OSError, ValueError) as e:
        raise UserError(str(e))
    try:
        label_list = processor.get_labels(FLAGS.data_dir)
    except classifier_utils.DataError as e:
        raise UserError(str(e))
    return processor, config, tokenizer, label_list


def _make_estimator(model_fn, save_steps, predict_batch_size):
    """Estimator on CPU/GPU, TPUEstimator with --use_tpu.

    Evaluation runs ``predict`` (metrics are computed exactly in numpy), so
    on TPU the evaluation estimator is built with
    ``predict_batch_size=--eval_batch_size``.
    """
    run_config = script_utils.run_config_from_flags(
        FLAGS, save_checkpoints_steps=save_steps)
    if not FLAGS.use_tpu:
        return tf.estimator.Estimator(model_fn=model_fn, config=run_config)
    tpu = tpu_module()
    return tpu.TPUEstimator(
        use_tpu=True, model_fn=model_fn, config=run_config,
        train_batch_size=FLAGS.train_batch_size, eval_batch_size=FLAGS.eval_batch_size,
        predict_batch_size=predict_batch_size)


def _features(processor, split, tokenizer, label_list, batch_size):
    """(examples, feature file, number of records) of one split, cached."""
    try:
        data_file = processor.data_file(FLAGS.data_dir, split)
        examples = processor.get_examples(FLAGS.data_dir, split)
    except classifier_utils.DataError as e:
        raise UserError(str(e))
    padding = (-len(examples)) % batch_size if FLAGS.use_tpu and split != "train" else 0
    cache_dir = FLAGS.cached_dir or FLAGS.output_dir
    tf.gfile.MakeDirs(cache_dir)
    progress = script_utils.Progress("%s examples" % split, total=len(examples) + padding)
    path, count, _ = classifier_utils.load_or_create_features(
        cache_dir, processor.name, split, data_file, examples, label_list,
        FLAGS.max_seq_length, tokenizer, processor.is_regression, padding, progress)
    return examples, path, count


def _input_fn(path, split, batch_size, is_regression, seed=None, skip=0):
    return classifier_utils.input_fn_builder(
        path, FLAGS.max_seq_length, is_training=(split == "train"),
        drop_remainder=FLAGS.use_tpu, is_regression=is_regression,
        batch_size=batch_size, seed=seed, skip=skip)


# ---------------------------------------------------------------------------
# Checkpoints.
# ---------------------------------------------------------------------------






# ---------------------------------------------------------------------------
# Evaluation.
# ---------------------------------------------------------------------------


def _predict(estimator, input_fn, checkpoint):
    """(probabilities [N, C], label_ids [N]) of the real examples."""
    probabilities, label_ids = [], []
    for row in estimator.predict(input_fn=input_fn, checkpoint_path=checkpoint,
                                 yield_single_examples=True):
        if int(row["is_real_example"]):
            probabilities.append(np.atleast_1d(row["probabilities"]))
            label_ids.append(row["label_ids"])
    return np.array(probabilities, dtype=np.float64), np.array(label_ids)


class EvalHistory(object):
    """Which checkpoints were evaluated (once each) and which is best.

    Stored as ``eval_history.json`` in the output directory, together with
    the dev features' cache key: a different dev set starts a new history.
    """

    def __init__(self, output_dir, dev_key, metric):
        self.path = os.path.join(output_dir, "eval_history.json")
        self.output_dir = output_dir
        self.dev_key = dev_key
        self.metric = metric
        self.entries = []
        self.best = None
        if os.path.isfile(self.path):
            with io.open(self.path, "r", encoding="utf-8") as reader:
                try:
                    data = json.load(reader)
                except ValueError:
                    data = {}
            if data.get("dev_key") == dev_key and data.get("metric") == metric:
                self.entries = data.get("entries", [])
                self.best = data.get("best")
        if self.best and not tf.gfile.Exists(os.path.join(output_dir, BEST_PREFIX + ".index")):
            self.best = None

    def evaluated(self, step):
        return any(e["step"] == step for e in self.entries)

    def add(self, checkpoint, step, metrics):
        """Records a result; returns True when it is the new best."""
        self.entries.append({"checkpoint": os.path.basename(checkpoint), "step": step,
                             "metrics": metrics})
        self.entries.sort(key=lambda e: e["step"])
        value = metrics.get(self.metric)
        if self.best is None or (value is not None and value > self.best["value"]):
            self.best = {"step": step, "value": value, "metrics": metrics,
                         "checkpoint": BEST_PREFIX, "copied_from": os.path.basename(checkpoint)}
            return True
        return False

    def save(self, header):
        data = {"dev_key": self.dev_key, "metric": self.metric, "entries": self.entries,
                "best": self.best}
        script_utils.write_text(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        lines = ["# %s\n" % header]
        for entry in self.entries:
            lines.append("[%s]\n" % entry["checkpoint"])
            lines.append("global_step = %d\n" % entry["step"])
            lines.extend(_metric_lines(entry["metrics"]))
        if self.best:
            lines.append("[%s] (best by %s: step %d)\n" %
                         (BEST_PREFIX, self.metric, self.best["step"]))
            lines.append("global_step = %d\n" % self.best["step"])
            lines.extend(_metric_lines(self.best["metrics"]))
        script_utils.write_text(os.path.join(self.output_dir, "eval_results.txt"), "".join(lines))


def _format_metrics(metrics):
    return ", ".join(("%s=%d" if isinstance(v, int) else "%s=%.4f") % (k, v)
                     for k, v in metrics.items())


def _metric_lines(metrics):
    return ["%s = %s\n" % (k, metrics[k]) for k in sorted(metrics)]



def _evaluate_checkpoint(estimator, input_fn, checkpoint, processor, history, num_labels):
    step = checkpoint_utils.global_step_of(checkpoint)
    probabilities, label_ids = _predict(estimator, input_fn, checkpoint)
    metrics = classifier_utils.compute_metrics(probabilities, label_ids,
                                               processor.is_regression)
    tf.logging.info("Eval of %s (step %d): %s", checkpoint, step, _format_metrics(metrics))
    if not processor.is_regression and num_labels > 1 and step > 0:
        chance_loss = math.log(num_labels)
        if abs(metrics["eval_loss"] - chance_loss) < 0.01 * chance_loss:
            tf.logging.warning(
                "eval_loss %.4f is ln(%d): the model is not learning (try a lower "
                "--learning_rate, more warmup, or check the labels)", metrics["eval_loss"],
                num_labels)
    if history.add(checkpoint, step, metrics):
        checkpoint_utils.copy_checkpoint(checkpoint, os.path.join(FLAGS.output_dir, BEST_PREFIX))
        tf.logging.info("New best %s = %s at step %d: copied to %s", history.metric,
                        metrics.get(history.metric), step, BEST_PREFIX)
    return metrics


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    _check_flags()
    tf.logging.set_verbosity(tf.logging.INFO)
    processor, config, tokenizer, label_list = _load_setup()
    driver_utils.prepare_output_dir(FLAGS.output_dir)
    if FLAGS.do_train:
        driver_utils.check_resume_checkpoint(FLAGS.output_dir)
    num_labels = len(label_list)
    is_regression = processor.is_regression

    num_train_steps, num_warmup_steps = 1, 0
    train_examples = train_file = None
    if FLAGS.do_train:
        train_examples, train_file, _ = _features(processor, "train", tokenizer, label_list,
                                                  FLAGS.train_batch_size)
        num_train_steps = FLAGS.train_step or max(
            1, int(len(train_examples) / FLAGS.train_batch_size * FLAGS.num_train_epochs))
        num_warmup_steps = (FLAGS.warmup_step if FLAGS.warmup_step is not None
                            else int(num_train_steps * FLAGS.warmup_proportion))
        tf.logging.info("Training: %d examples, batch %d, %d steps (%d warmup)",
                        len(train_examples), FLAGS.train_batch_size, num_train_steps,
                        num_warmup_steps)

    model_fn = classifier_utils.model_fn_builder(
        albert_config=config, num_labels=num_labels, init_checkpoint=FLAGS.init_checkpoint,
        learning_rate=FLAGS.learning_rate, num_train_steps=num_train_steps,
        num_warmup_steps=num_warmup_steps, use_tpu=FLAGS.use_tpu,
        use_one_hot_embeddings=FLAGS.use_tpu, optimizer=FLAGS.optimizer,
        classifier_dropout=FLAGS.classifier_dropout, is_regression=is_regression,
        init_report_file=os.path.join(FLAGS.output_dir, INIT_REPORT_FILE),
        verbose=FLAGS.verbose)
    _check_existing_checkpoints(config, num_labels)
    estimator = _make_estimator(model_fn, FLAGS.save_checkpoints_steps, FLAGS.predict_batch_size)
    eval_estimator = (_make_estimator(model_fn, FLAGS.save_checkpoints_steps,
                                      FLAGS.eval_batch_size) if FLAGS.use_tpu else estimator)

    history = eval_input_fn = None
    if FLAGS.do_eval:
        _, dev_file, _ = _features(processor, "dev", tokenizer, label_list,
                                   FLAGS.eval_batch_size)
        dev_key = os.path.basename(dev_file)
        history = EvalHistory(FLAGS.output_dir, dev_key, processor.metric)
        eval_input_fn = _input_fn(dev_file, "dev", FLAGS.eval_batch_size, is_regression)
    header = "%s dev results (best by %s)" % (processor.name, processor.metric)
    test_features = None
    if FLAGS.do_predict:
        # Read and check the test set before training, not after it.
        test_features = _features(processor, "test", tokenizer, label_list,
                                  FLAGS.predict_batch_size)

    def evaluate_new_checkpoints():
        for step, prefix in checkpoint_utils.step_checkpoints(FLAGS.output_dir):
            # model.ckpt-0 (saved when training starts) is the untrained head.
            if step > 0 and not history.evaluated(step):
                _evaluate_checkpoint(eval_estimator, eval_input_fn, prefix, processor,
                                     history, num_labels)
                history.save(header)
        checkpoint_utils.prune_checkpoints(FLAGS.output_dir, FLAGS.keep_checkpoint_max)

    try:
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
                # With --do_eval, train up to the next saved checkpoint and
                # evaluate it right away, so that each one is evaluated once.
                target = (num_train_steps if not FLAGS.do_eval
                          else min(num_train_steps, (step // save_steps + 1) * save_steps))
                # A new input pipeline starts where the previous one stopped.
                consumed = (step * FLAGS.train_batch_size) % len(train_examples)
                estimator.train(
                    input_fn=_input_fn(train_file, "train", FLAGS.train_batch_size,
                                       is_regression, seed=FLAGS.random_seed + step,
                                       skip=consumed),
                    max_steps=target, hooks=hooks)
                step = target
                if FLAGS.do_eval:
                    evaluate_new_checkpoints()
        if FLAGS.do_eval:
            evaluate_new_checkpoints()
            if history.best is None:
                raise UserError("%s: no checkpoint to evaluate (model.ckpt-N); train first "
                                "with --do_train" % FLAGS.output_dir)
            tf.logging.info("Best %s = %s at step %d (%s)", processor.metric,
                            history.best["value"], history.best["step"], BEST_PREFIX)
        checkpoint = None
        if FLAGS.do_predict or FLAGS.export_dir:
            checkpoint = _fine_tuned_checkpoint()
        if FLAGS.do_predict:
            _do_predict(estimator, processor, test_features, checkpoint)
        if FLAGS.export_dir:
            try:
                classifier_utils.export_saved_model(
                    config, num_labels, checkpoint, FLAGS.export_dir,
                    is_regression=is_regression,
                    assets=_export_assets(processor, label_list, tokenizer, config))
            except ValueError as e:
                raise UserError(str(e))
            tf.logging.info("Exported %s to %s", checkpoint, FLAGS.export_dir)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    return 0


def _check_existing_checkpoints(config, num_labels):
    """Refuses an output_dir whose checkpoints belong to another model or task."""
    prefixes = [p for _, p in checkpoint_utils.step_checkpoints(FLAGS.output_dir)]
    best = os.path.join(FLAGS.output_dir, BEST_PREFIX)
    if tf.gfile.Exists(best + ".index"):
        prefixes.append(best)
    if not prefixes:
        return
    prefix = prefixes[-1]
    problems = checkpoint_utils.check_config_against_checkpoint(config, prefix)
    shapes = dict(checkpoint_utils.list_variables(prefix))
    head = shapes.get("output_bias")
    if head is not None and head != [num_labels]:
        problems.append("the classifier head has %d output(s), this task needs %d" %
                        (head[0], num_labels))
    if problems:
        raise UserError("%s holds checkpoints of another model or task (%s); use a new "
                        "--output_dir" % (FLAGS.output_dir, "; ".join(problems)))


def _fine_tuned_checkpoint():
    best = os.path.join(FLAGS.output_dir, BEST_PREFIX)
    latest = tf.train.latest_checkpoint(FLAGS.output_dir)
    steps = checkpoint_utils.step_checkpoints(FLAGS.output_dir)
    for candidate in (best if tf.gfile.Exists(best + ".index") else None, latest,
                      steps[-1][1] if steps else None):
        if candidate:
            return checkpoint_utils.check_checkpoint_complete(candidate)
    raise UserError("%s: no fine-tuned checkpoint to predict or export with; run with "
                    "--do_train (and --do_eval) first" % FLAGS.output_dir)


def _do_predict(estimator, processor, test_features, checkpoint):
    examples, test_file, _ = test_features
    input_fn = _input_fn(test_file, "test", FLAGS.predict_batch_size, processor.is_regression)
    tf.logging.info("Predicting %d test examples with %s", len(examples), checkpoint)
    probabilities, label_ids = _predict(estimator, input_fn, checkpoint)
    if len(probabilities) != len(examples):
        raise RuntimeError("predicted %d rows for %d examples" %
                           (len(probabilities), len(examples)))
    script_utils.write_text(os.path.join(FLAGS.output_dir, "test_results.tsv"),
                       "".join(classifier_utils.format_probabilities(r) for r in probabilities))
    path = processor.write_submission(FLAGS.output_dir, examples, probabilities,
                                      processor.task_dir(FLAGS.data_dir))
    tf.logging.info("Wrote test_results.tsv and %s", path)
    if all(e.label is not None for e in examples):
        metrics = classifier_utils.compute_metrics(probabilities, label_ids,
                                                   processor.is_regression)
        text = "# %s test results of %s\n" % (processor.name, checkpoint)
        text += "".join(_metric_lines(metrics)).replace("eval_", "test_")
        script_utils.write_text(os.path.join(FLAGS.output_dir, "test_eval_results.txt"), text)
        tf.logging.info("Test set (labelled): %s",
                        _format_metrics(metrics).replace("eval_", "test_"))


def _export_assets(processor, label_list, tokenizer, config):
    vocab = tokenizer.spm_model_file or tokenizer.vocab_file
    info = {"task_name": processor.name, "labels": label_list,
            "is_regression": processor.is_regression,
            "max_seq_length": FLAGS.max_seq_length, "do_lower_case": FLAGS.do_lower_case,
            "vocab_file": os.path.basename(vocab),
            "tokenizer": "sentencepiece" if tokenizer.spm_model_file else "wordpiece"}
    with io.open(vocab, "rb") as reader:
        vocab_bytes = reader.read()
    return {"albert_config.json": config.to_json_string(),
            os.path.basename(vocab): vocab_bytes,
            "export_info.json": json.dumps(info, indent=2, sort_keys=True) + "\n"}


if __name__ == "__main__":
    script_utils.run(main)
