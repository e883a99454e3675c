# coding=utf-8
"""Fine-tunes ALBERT for multiple-choice reading comprehension: C3, RACE, JSON lines.

Tasks (``--task_name``):

* ``c3``: CLUE's C3 in ``--data_dir`` (``d-train.json``, ``m-train.json``,
  ``d-dev.json``, ``m-dev.json``, ``test1.1.json`` / ``test1.0.json``); 2-4
  options per question; the submission is CLUE's ``c3_predict.json`` (named
  after the test file's version, e.g. ``c311_predict.json``).
* ``race``: RACE as Google's run_race.py reads it
  (``<data_dir>/RACE/{train,dev,test}/{middle,high}/``; ``--high_only``,
  ``--middle_only``); the head has Google's variable names, so checkpoints of
  Google's run_race.py and of this script load into each other.
* ``jsonl``: ``{train,dev,test}.jsonl``, one ``{"id", "context", "question",
  "choices": [...], "label"}`` per line.

Each option is encoded as ``[CLS] context [SEP] question+option [SEP]`` (the
question+option part keeps its last ``--max_qa_length`` tokens; the context is
cut first), scored from the pooled output, and the options compete in one
softmax; questions with fewer than ``--num_choices`` options are padded and
the padding masked.

Example (C3 with albert_tiny)::

    python run_multiple_choice.py --task_name=c3 --data_dir=CLUEdataset/c3 \\
      --albert_config_file=albert_tiny/albert_config_tiny.json \\
      --vocab_file=albert_tiny/vocab.txt --init_checkpoint=albert_tiny/albert_model.ckpt \\
      --output_dir=out/c3 --do_train --do_eval --do_predict --max_seq_length=512 \\
      --train_batch_size=16 --learning_rate=2e-5 --num_train_epochs=8

From a TF1 Hub module (``export.py --format=hub`` or Google's), instead of
the config, vocabulary and checkpoint flags: ``--albert_hub_module_handle=
albert_tiny_hub`` (a directory or a URL); the tokenizer comes from the
module's tokenization_info.

Outputs in --output_dir: checkpoints; every saved checkpoint is evaluated once
on dev (eval_results.txt, eval_history.json) and the best by accuracy is kept
as model.ckpt-best; --do_predict writes the submission file (and
test_eval_results.txt when the test set has answers); --export_dir writes a
SavedModel.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import os

from absl import flags
import numpy as np

import checkpoint_utils
import classifier_tasks
import driver_utils
import feature_io
import modeling
import multiple_choice_utils as mc
import script_utils
from tf_compat import tf

FLAGS = flags.FLAGS

flags.DEFINE_string("task_name", "race", "Task: %s." % ", ".join(mc.TASKS))
flags.DEFINE_string("data_dir", None, "Directory with the task's data files.")
driver_utils.define_model_flags(
    flags, max_seq_length=512,
    init_help="Pretrained checkpoint (or one fine-tuned by Google's run_race.py); loaded "
    "strictly: only the option-scoring head may be missing.", hub=True)
driver_utils.define_training_flags(
    flags, do_eval_help="Evaluate each saved checkpoint once on the dev set; keep the best as "
    "model.ckpt-best.",
    do_predict_help="Predict the test set with model.ckpt-best (else the latest "
    "checkpoint) and write the submission file.",
    export_help="Write a SavedModel (serving_default: input_ids, input_mask, segment_ids "
    "[batch, options, length], option_mask [batch, options] -> probabilities, "
    "logits) here.", learning_rate=1e-5)
flags.DEFINE_integer("max_qa_length", 128, "Tokens kept of each question+option (its last ones).")
flags.DEFINE_integer("num_choices", mc.DEFAULT_MAX_OPTIONS,
                     "Options per question (fewer are padded and masked; more are an "
                     "error).")
flags.DEFINE_float("dropout_prob", 0.1, "Dropout on the pooled output while training.")
flags.DEFINE_bool("high_only", False, "RACE: read the high-school questions only.")
flags.DEFINE_bool("middle_only", False, "RACE: read the middle-school questions only.")
flags.adopt_module_key_flags(driver_utils)  # listed in --help
flags.adopt_module_key_flags(script_utils)

UserError = script_utils.UserError
_INPUT_ERRORS = (classifier_tasks.DataError, modeling.ConfigError, checkpoint_utils.CheckpointError,
                 checkpoint_utils.CheckpointMismatchError)


def _check_flags(f):
    if not (f.do_train or f.do_eval or f.do_predict or f.export_dir):
        raise UserError("nothing to do: give at least one of --do_train, --do_eval, "
                        "--do_predict, --export_dir")
    required = ["output_dir"]
    if not driver_utils.hub_module_handle(f):
        required.insert(0, "albert_config_file")
    if f.do_train or f.do_eval or f.do_predict:
        required.append("data_dir")
    missing = ["--%s" % name for name in required if not getattr(f, name)]
    if missing:
        raise UserError("missing required flag(s): %s" % ", ".join(missing))
    try:
        mc.canonical_task(f.task_name)
    except ValueError as e:
        raise UserError(str(e))
    if f.num_choices < 2:
        raise UserError("--num_choices must be >= 2, got %d" % f.num_choices)
    if not 1 <= f.max_qa_length <= f.max_seq_length - 3:
        raise UserError("--max_qa_length must be in [1, --max_seq_length - 3 = %d], got %d" %
                        (f.max_seq_length - 3, f.max_qa_length))
    if not 0 <= f.dropout_prob < 1:
        raise UserError("--dropout_prob must be in [0, 1)")
    if f.high_only and f.middle_only:
        raise UserError("give at most one of --high_only and --middle_only")
    if f.data_dir and not os.path.isdir(f.data_dir):
        raise UserError("%s: --data_dir is not a directory" % f.data_dir)
    driver_utils.check_training_flags(f, [("--data_dir", f.data_dir)])


class _Task(object):
    """The task's examples and cached features of each split."""

    def __init__(self, f, tokenizer):
        self.task = mc.canonical_task(f.task_name)
        self.data_dir = f.data_dir
        self.tokenizer = tokenizer
        self.max_seq_length = f.max_seq_length
        self.max_qa_length = f.max_qa_length
        self.num_choices = f.num_choices
        self.high_only = f.high_only
        self.middle_only = f.middle_only
        self.cache_dir = f.cached_dir or f.output_dir
        self.use_tpu = f.use_tpu

    def spec(self):
        return mc.feature_spec(self.max_seq_length, self.num_choices)

    def features(self, split, batch_size):
        """(examples, data files, feature file) of one split, cached."""
        try:
            files = mc.data_files(self.task, self.data_dir, split, self.high_only, self.middle_only)
            examples = mc.read_files(self.task, files, require_labels=(split != "test"),
                                     max_options=self.num_choices)
        except (ValueError, classifier_tasks.DataError) as e:
            raise UserError(str(e))
        if not examples:
            raise UserError("%s: no questions in %s" % (split, ", ".join(files)))
        padding = (-len(examples)) % batch_size if self.use_tpu and split != "train" else 0
        inputs = collections.OrderedDict([
            ("format_version", mc.FEATURE_FORMAT_VERSION),
            ("task", self.task),
            ("split", split),
            ("data_sha1", [feature_io.file_sha1(path) for path in files]),
            ("tokenizer", feature_io.tokenizer_fingerprint(self.tokenizer)),
            ("max_seq_length", self.max_seq_length),
            ("max_qa_length", self.max_qa_length),
            ("num_choices", self.num_choices),
            ("num_padding", padding),
        ])
        key = feature_io.cache_key(inputs)
        record_file = os.path.join(self.cache_dir,
                                   "%s_%s_%s.tf_record" % (self.task, split, key[:16]))
        all_examples = list(examples) + [
            classifier_tasks.PaddingInputExample() for _ in range(padding)
        ]
        progress = script_utils.Progress("%s questions" % split, total=len(all_examples))

        def write(path):
            try:
                features = mc.generate_features(all_examples, self.tokenizer, self.max_seq_length,
                                                self.max_qa_length, self.num_choices, progress)
                count = feature_io.write_records(path, (x.as_dict() for x in features), self.spec())
            except (ValueError, classifier_tasks.DataError) as e:
                raise UserError(str(e))
            tf.logging.info("Wrote %d %s features to %s", count, split, path)
            return {"num_records": count, "data_files": [os.path.abspath(p) for p in files]}

        feature_io.cached_file(
            record_file, inputs, write,
            stale_pattern=os.path.join(self.cache_dir, "%s_%s_*.tf_record" % (self.task, split)),
            logger=tf.logging.info)
        return examples, files, record_file

    def input_fn(self, path, is_training, batch_size, seed=None, skip=0):
        return feature_io.input_fn_builder(path, self.spec(), is_training,
                                           drop_remainder=self.use_tpu, batch_size=batch_size,
                                           seed=seed, skip=skip)


def _predict(estimator, input_fn, checkpoint):
    """(probabilities [N, num_choices], label_ids [N]) of the real examples."""
    probabilities, labels = [], []
    for row in estimator.predict(input_fn=input_fn, checkpoint_path=checkpoint,
                                 yield_single_examples=True):
        if int(np.reshape(row["is_real_example"], [-1])[0]):
            probabilities.append(row["probabilities"])
            labels.append(int(np.reshape(row["label_ids"], [-1])[0]))
    return np.array(probabilities, dtype=np.float64), np.array(labels, dtype=np.int64)


def _format_metrics(metrics):
    return ", ".join(
        ("%s=%d" if isinstance(v, int) else "%s=%.4f") % (k, v) for k, v in metrics.items())


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    f = FLAGS
    _check_flags(f)
    tf.logging.set_verbosity(tf.logging.INFO)
    config, tokenizer = driver_utils.load_model_setup(f, (classifier_tasks.DataError,))
    task = _Task(f, tokenizer)
    driver_utils.prepare_output_dir(f.output_dir)
    if f.do_train:
        driver_utils.check_resume_checkpoint(f.output_dir)

    num_train_steps, num_warmup_steps = 1, 0
    train_examples = train_file = None
    if f.do_train:
        train_examples, _, train_file = task.features("train", f.train_batch_size)
        num_train_steps, num_warmup_steps = driver_utils.training_steps(f, len(train_examples))
        tf.logging.info("Training: %d questions, batch %d, %d steps (%d warmup)",
                        len(train_examples), f.train_batch_size, num_train_steps, num_warmup_steps)
    model_fn = mc.model_fn_builder(
        config, f.num_choices, init_checkpoint=f.init_checkpoint, learning_rate=f.learning_rate,
        num_train_steps=num_train_steps, num_warmup_steps=num_warmup_steps, use_tpu=f.use_tpu,
        use_one_hot_embeddings=f.use_tpu, optimizer=f.optimizer, dropout=f.dropout_prob,
        init_report_file=os.path.join(f.output_dir, driver_utils.INIT_REPORT_FILE),
        verbose=f.verbose, hub_module_handle=driver_utils.hub_module_handle(f))
    driver_utils.check_output_dir_model(f.output_dir, config, mc.head_problems)
    estimator = driver_utils.make_estimator(model_fn, f)
    eval_estimator = (driver_utils.make_estimator(model_fn, f, f.eval_batch_size)
                      if f.use_tpu else estimator)

    history = evaluate = None
    if f.do_eval:
        _, _, dev_file = task.features("dev", f.eval_batch_size)
        history = driver_utils.EvalHistory(f.output_dir, os.path.basename(dev_file),
                                           "eval_accuracy",
                                           "%s dev results (best by eval_accuracy)" % task.task)
        dev_input_fn = task.input_fn(dev_file, False, f.eval_batch_size)

        def evaluate(checkpoint):
            probabilities, labels = _predict(eval_estimator, dev_input_fn, checkpoint)
            metrics = dict(mc.compute_metrics(probabilities, labels))
            tf.logging.info("Eval of %s (step %d): %s", checkpoint,
                            checkpoint_utils.global_step_of(checkpoint), _format_metrics(metrics))
            return metrics

    test_features = None
    if f.do_predict:
        # Read and check the test set before training, not after it.
        test_features = task.features("test", f.predict_batch_size)

    try:
        checkpoint = driver_utils.train_and_select_from_flags(
            estimator, f, num_train_steps, len(train_examples or ()),
            lambda **kw: task.input_fn(train_file, True, f.train_batch_size, **kw), history,
            evaluate)
        if f.do_predict:
            examples, files, test_file = test_features
            tf.logging.info("Predicting %d test questions with %s", len(examples), checkpoint)
            probabilities, labels = _predict(estimator,
                                             task.input_fn(test_file, False, f.predict_batch_size),
                                             checkpoint)
            file_name = (mc.c3_submission_file_name(files[0])
                         if task.task == "c3" and len(files) == 1 else None)
            path = mc.write_submission(f.output_dir, task.task, examples, probabilities, file_name)
            tf.logging.info("Wrote %s", path)
            if all(e.label is not None for e in examples):
                metrics = mc.compute_metrics(probabilities, labels)
                text = "# %s test results of %s\n" % (task.task, checkpoint)
                text += "".join("%s = %s\n" % (k.replace("eval_", "test_"), metrics[k])
                                for k in sorted(metrics))
                script_utils.write_text(os.path.join(f.output_dir, "test_eval_results.txt"), text)
                tf.logging.info("Test set (labelled): %s",
                                _format_metrics(metrics).replace("eval_", "test_"))
        if f.export_dir:
            info = {
                "task": task.task,
                "num_choices": f.num_choices,
                "max_seq_length": f.max_seq_length,
                "max_qa_length": f.max_qa_length
            }
            driver_utils.export_from_flags(
                lambda: mc.export_saved_model(
                    config, checkpoint, f.export_dir, f.num_choices, assets=driver_utils.
                    export_assets(tokenizer, config, info)), checkpoint, f.export_dir)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    return 0


if __name__ == "__main__":
    script_utils.run(main)
