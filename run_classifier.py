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

From a TF1 Hub module (``export.py --format=hub`` or Google's), instead of
the config, vocabulary and checkpoint flags: ``--albert_hub_module_handle=
albert_tiny_hub`` (a directory or a URL); the tokenizer comes from the
module's tokenization_info.

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

import math
import os

from absl import flags
import numpy as np

import checkpoint_utils
import classifier_metrics
import classifier_tasks
import classifier_utils
import driver_utils
import modeling
import script_utils
from tf_compat import tf

FLAGS = flags.FLAGS

flags.DEFINE_string("task_name", None, "Task: %s." % ", ".join(classifier_tasks.known_tasks()))
flags.DEFINE_string("data_dir", None, "Directory with the task's train/dev/test files.")
driver_utils.define_model_flags(
    flags, max_seq_length=128,
    init_help="Pretrained checkpoint (prefix, directory or 'checkpoint' file). Loaded "
    "strictly: only the classifier head may be missing.", hub=True)
driver_utils.define_training_flags(
    flags, do_eval_help="Evaluate each saved checkpoint once on the dev set; keep the best as "
    "model.ckpt-best.",
    do_predict_help="Predict the test set with model.ckpt-best (else the latest "
    "checkpoint): test_results.tsv and the submission file.",
    export_help="Write a SavedModel (serving_default: input_ids, input_mask, segment_ids "
    "-> probabilities, pooled_output) here.")
flags.DEFINE_float("classifier_dropout", 0.1,
                   "Dropout on the pooled output while training (0 disables).")
flags.adopt_module_key_flags(driver_utils)  # listed in --help
flags.adopt_module_key_flags(script_utils)

UserError = script_utils.UserError

# Problems with the user's input, reported as one line.
_INPUT_ERRORS = (classifier_tasks.DataError, modeling.ConfigError, checkpoint_utils.CheckpointError,
                 checkpoint_utils.CheckpointMismatchError)


def _check_flags(f):
    if not (f.do_train or f.do_eval or f.do_predict or f.export_dir):
        raise UserError("nothing to do: give at least one of --do_train, --do_eval, "
                        "--do_predict, --export_dir")
    required = ["task_name", "output_dir"]
    if not driver_utils.hub_module_handle(f):
        required.insert(1, "albert_config_file")
    if f.do_train or f.do_eval or f.do_predict:
        required.append("data_dir")
    missing = ["--%s" % name for name in required if not getattr(f, name)]
    if missing:
        raise UserError("missing required flag(s): %s" % ", ".join(missing))
    if f.max_seq_length < 3:
        raise UserError("--max_seq_length must be >= 3, got %d" % f.max_seq_length)
    if not 0 <= f.classifier_dropout < 1:
        raise UserError("--classifier_dropout must be in [0, 1)")
    if f.data_dir and not os.path.isdir(f.data_dir):
        raise UserError("%s: --data_dir is not a directory" % f.data_dir)
    driver_utils.check_training_flags(f, [("--data_dir", f.data_dir)])


class _Task(object):
    """The task's data: processor, labels and the cached features of each split."""

    def __init__(self, task_name, data_dir, tokenizer, max_seq_length, cache_dir, use_tpu):
        try:
            self.processor = classifier_tasks.get_processor(task_name)
            self.labels = self.processor.get_labels(data_dir)
        except (ValueError, classifier_tasks.DataError) as e:
            raise UserError(str(e))
        self.data_dir = data_dir
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.cache_dir = cache_dir
        self.use_tpu = use_tpu

    @property
    def is_regression(self):
        return self.processor.is_regression

    def features(self, split, batch_size):
        """(examples, feature file, number of records) of one split, cached."""
        try:
            data_file = self.processor.data_file(self.data_dir, split)
            examples = self.processor.get_examples(self.data_dir, split)
        except classifier_tasks.DataError as e:
            raise UserError(str(e))
        padding = (-len(examples)) % batch_size if self.use_tpu and split != "train" else 0
        tf.gfile.MakeDirs(self.cache_dir)
        progress = script_utils.Progress("%s examples" % split, total=len(examples) + padding)
        path, count, _ = classifier_utils.load_or_create_features(
            self.cache_dir, self.processor.name, split, data_file, examples, self.labels,
            self.max_seq_length, self.tokenizer, self.is_regression, padding, progress)
        return examples, path, count

    def input_fn(self, path, split, batch_size, seed=None, skip=0):
        return classifier_utils.input_fn_builder(path, self.max_seq_length,
                                                 is_training=(split == "train"),
                                                 drop_remainder=self.use_tpu,
                                                 is_regression=self.is_regression,
                                                 batch_size=batch_size, seed=seed, skip=skip)


# ---------------------------------------------------------------------------
# Evaluation and prediction.
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


def _format_metrics(metrics):
    return ", ".join(
        ("%s=%d" if isinstance(v, int) else "%s=%.4f") % (k, v) for k, v in metrics.items())


def _evaluator(estimator, input_fn, processor, num_labels):
    """callable(checkpoint) -> dev metrics, logged."""

    def evaluate(checkpoint):
        step = checkpoint_utils.global_step_of(checkpoint)
        probabilities, label_ids = _predict(estimator, input_fn, checkpoint)
        metrics = classifier_metrics.compute_metrics(probabilities, label_ids,
                                                     processor.is_regression)
        tf.logging.info("Eval of %s (step %d): %s", checkpoint, step, _format_metrics(metrics))
        if not processor.is_regression and num_labels > 1 and step > 0:
            chance_loss = math.log(num_labels)
            if abs(metrics["eval_loss"] - chance_loss) < 0.01 * chance_loss:
                tf.logging.warning(
                    "eval_loss %.4f is ln(%d): the model is not learning (try a lower "
                    "--learning_rate, more warmup, or check the labels)", metrics["eval_loss"],
                    num_labels)
        return metrics

    return evaluate


def _do_predict(estimator, task, test_features, checkpoint, batch_size, output_dir):
    examples, test_file, _ = test_features
    input_fn = task.input_fn(test_file, "test", batch_size)
    tf.logging.info("Predicting %d test examples with %s", len(examples), checkpoint)
    probabilities, label_ids = _predict(estimator, input_fn, checkpoint)
    if len(probabilities) != len(examples):
        raise RuntimeError("predicted %d rows for %d examples" %
                           (len(probabilities), len(examples)))
    script_utils.write_text(
        os.path.join(output_dir, "test_results.tsv"),
        "".join(classifier_metrics.format_probabilities(r) for r in probabilities))
    processor = task.processor
    path = processor.write_submission(output_dir, examples, probabilities,
                                      processor.task_dir(task.data_dir))
    tf.logging.info("Wrote test_results.tsv and %s", path)
    if all(e.label is not None for e in examples):
        metrics = classifier_metrics.compute_metrics(probabilities, label_ids,
                                                     processor.is_regression)
        text = "# %s test results of %s\n" % (processor.name, checkpoint)
        text += "".join(
            "%s = %s\n" % (k.replace("eval_", "test_"), metrics[k]) for k in sorted(metrics))
        script_utils.write_text(os.path.join(output_dir, "test_eval_results.txt"), text)
        tf.logging.info("Test set (labelled): %s",
                        _format_metrics(metrics).replace("eval_", "test_"))


def _head_problems(num_labels):

    def problems(shapes):
        head = shapes.get("output_bias")
        if head is not None and head != [num_labels]:
            return [
                "the classifier head has %d output(s), this task needs %d" % (head[0], num_labels)
            ]
        return []

    return problems


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    f = FLAGS
    _check_flags(f)
    tf.logging.set_verbosity(tf.logging.INFO)
    config, tokenizer = driver_utils.load_model_setup(f, (classifier_tasks.DataError,))
    task = _Task(f.task_name, f.data_dir, tokenizer, f.max_seq_length, f.cached_dir or f.output_dir,
                 f.use_tpu)
    driver_utils.prepare_output_dir(f.output_dir)
    if f.do_train:
        driver_utils.check_resume_checkpoint(f.output_dir)
    num_labels = len(task.labels)

    num_train_steps, num_warmup_steps = 1, 0
    train_examples = train_file = None
    if f.do_train:
        train_examples, train_file, _ = task.features("train", f.train_batch_size)
        num_train_steps, num_warmup_steps = driver_utils.training_steps(f, len(train_examples))
        tf.logging.info("Training: %d examples, batch %d, %d steps (%d warmup)",
                        len(train_examples), f.train_batch_size, num_train_steps, num_warmup_steps)

    model_fn = classifier_utils.model_fn_builder(
        albert_config=config, num_labels=num_labels, init_checkpoint=f.init_checkpoint,
        learning_rate=f.learning_rate, num_train_steps=num_train_steps,
        num_warmup_steps=num_warmup_steps, use_tpu=f.use_tpu, use_one_hot_embeddings=f.use_tpu,
        optimizer=f.optimizer, classifier_dropout=f.classifier_dropout,
        is_regression=task.is_regression,
        init_report_file=os.path.join(f.output_dir, driver_utils.INIT_REPORT_FILE),
        verbose=f.verbose, hub_module_handle=driver_utils.hub_module_handle(f))
    driver_utils.check_output_dir_model(f.output_dir, config, _head_problems(num_labels))
    estimator = driver_utils.make_estimator(model_fn, f)
    # Evaluation runs predict (metrics are computed exactly in numpy): on TPU
    # its estimator predicts in batches of --eval_batch_size.
    eval_estimator = (driver_utils.make_estimator(model_fn, f, f.eval_batch_size)
                      if f.use_tpu else estimator)

    history = evaluate = None
    if f.do_eval:
        _, dev_file, _ = task.features("dev", f.eval_batch_size)
        processor = task.processor
        history = driver_utils.EvalHistory(
            f.output_dir, os.path.basename(dev_file), processor.metric,
            "%s dev results (best by %s)" % (processor.name, processor.metric))
        evaluate = _evaluator(eval_estimator, task.input_fn(dev_file, "dev", f.eval_batch_size),
                              processor, num_labels)
    test_features = None
    if f.do_predict:
        # Read and check the test set before training, not after it.
        test_features = task.features("test", f.predict_batch_size)

    try:
        checkpoint = driver_utils.train_and_select_from_flags(
            estimator, f, num_train_steps, len(train_examples or ()),
            lambda **kw: task.input_fn(train_file, "train", f.train_batch_size, **kw), history,
            evaluate)
        if f.do_predict:
            _do_predict(estimator, task, test_features, checkpoint, f.predict_batch_size,
                        f.output_dir)
        if f.export_dir:
            info = {
                "task_name": task.processor.name,
                "labels": task.labels,
                "is_regression": task.is_regression,
                "max_seq_length": f.max_seq_length
            }
            driver_utils.export_from_flags(
                lambda: classifier_utils.export_saved_model(
                    config, num_labels, checkpoint, f.export_dir, is_regression=task.is_regression,
                    assets=driver_utils.export_assets(tokenizer, config, info)), checkpoint,
                f.export_dir)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    return 0


if __name__ == "__main__":
    script_utils.run(main)
