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

From a TF1 Hub module (``export.py --format=hub`` or Google's), instead of
the config, vocabulary and checkpoint flags: ``--albert_hub_module_handle=
albert_tiny_hub`` (a directory or a URL); the tokenizer comes from the
module's tokenization_info.

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

import os

from absl import flags

import checkpoint_utils
import classifier_tasks
import driver_utils
import modeling
import script_utils
import squad_data
import squad_decoding
import squad_features
import squad_metrics
import squad_utils
from tf_compat import tf

FLAGS = flags.FLAGS

flags.DEFINE_string("train_file", None, "SQuAD-format JSON for training.")
flags.DEFINE_string("predict_file", None,
                    "SQuAD-format JSON to predict (scored when it has answers).")
flags.DEFINE_string(
    "train_feature_file", None,
    "TFRecord of the training features (default: in --cached_dir); reused only "
    "when it was built from the same data and settings.")
flags.DEFINE_string(
    "predict_feature_file", None,
    "TFRecord of the predict features (default: in --cached_dir); reused only "
    "when it was built from the same data and settings.")
driver_utils.define_model_flags(
    flags, max_seq_length=384,
    init_help="Pretrained checkpoint; loaded strictly (only the span head may be new).", hub=True)
driver_utils.define_training_flags(
    flags, do_predict_help="Predict (and, with answers, score) --predict_file.",
    export_help="Write a SavedModel (input_ids, input_mask, segment_ids [, p_mask] -> "
    "logits) of the fine-tuned model here.")
flags.DEFINE_integer("doc_stride", 128, "Tokens between the starts of two context windows.")
flags.DEFINE_integer("max_query_length", 64, "The question is cut to this many tokens.")
flags.DEFINE_integer("n_best_size", 20, "Answers kept per question in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "Longest answer, in tokens.")
flags.DEFINE_bool("version_2_with_negative", False,
                  "SQuAD v2: questions may have no answer (answerability head, null_odds.json).")
flags.DEFINE_integer("start_n_top", 5, "v2: start positions searched.")
flags.DEFINE_integer("end_n_top", 5, "v2: end positions searched per start.")
flags.DEFINE_float("dropout_prob", 0.1, "v2: dropout in the answer-class layer.")
flags.DEFINE_float("null_score_diff_threshold", 0.0,
                   "v2: answer \"\" when the null odds exceed this (choose it on other data).")
flags.DEFINE_enum(
    "metric", None, list(squad_metrics.METRICS),
    "Metric (default: squad_v2 with --version_2_with_negative, cmrc2018 for "
    "Chinese answers, else squad_v1).")
flags.DEFINE_bool("use_einsum", True, "Use tf.einsum (False: TFLite-friendly graph).")
flags.adopt_module_key_flags(driver_utils)  # listed in --help
flags.adopt_module_key_flags(script_utils)

UserError = script_utils.UserError
_INPUT_ERRORS = (classifier_tasks.DataError, modeling.ConfigError, checkpoint_utils.CheckpointError,
                 checkpoint_utils.CheckpointMismatchError)


def _check_flags(f):
    if not (f.do_train or f.do_predict or f.export_dir):
        raise UserError("nothing to do: give --do_train, --do_predict or --export_dir")
    required = ("output_dir",) if driver_utils.hub_module_handle(f) else ("albert_config_file",
                                                                          "output_dir")
    missing = ["--%s" % n for n in required if not getattr(f, n)]
    if f.do_train and not f.train_file:
        missing.append("--train_file (with --do_train)")
    if f.do_predict and not f.predict_file:
        missing.append("--predict_file (with --do_predict)")
    if missing:
        raise UserError("missing required flag(s): %s" % ", ".join(missing))
    for name in ("doc_stride", "max_query_length", "n_best_size", "max_answer_length",
                 "start_n_top", "end_n_top"):
        if getattr(f, name) < 1:
            raise UserError("--%s must be >= 1, got %d" % (name, getattr(f, name)))
    if f.max_seq_length < f.max_query_length + 4:
        raise UserError("--max_seq_length=%d leaves no room for the context after "
                        "--max_query_length=%d" % (f.max_seq_length, f.max_query_length))
    for name in ("train_file", "predict_file"):
        path = getattr(f, name)
        if path and (name != "train_file" or f.do_train) and not os.path.isfile(path):
            raise UserError("%s: --%s not found" % (path, name))
    driver_utils.check_training_flags(f, [("--train_file", f.train_file),
                                          ("--predict_file", f.predict_file)])


def _features(f, path, tokenizer, is_training, record_file):
    """(examples, record file, meta file, number of features), cached."""
    try:
        examples, stats = squad_data.read_squad_examples(path, is_training,
                                                         f.version_2_with_negative,
                                                         logger=tf.logging.warning)
    except squad_data.DataError as e:
        raise UserError(str(e))
    if is_training and not examples:
        raise UserError(
            "%s: no usable training question (%r)%s" %
            (path, stats, "; first problem: %s" % stats.messages[0] if stats.messages else ""))
    cache_dir = f.cached_dir or f.output_dir
    tf.gfile.MakeDirs(cache_dir)
    progress = script_utils.Progress("%s questions" % ("train" if is_training else "predict"),
                                     total=len(examples))
    try:
        record, meta, count, _ = squad_features.load_or_create_features(
            path, examples, tokenizer, f.max_seq_length, f.doc_stride, f.max_query_length,
            is_training, f.version_2_with_negative, cache_dir=cache_dir, record_file=record_file,
            progress=progress, logger=tf.logging.info)
    except ValueError as e:
        raise UserError("%s: %s" % (path, e))
    if is_training and not count:
        raise UserError("%s: no training window has a usable answer (%d questions); an "
                        "answer must lie inside the first --max_seq_length=%d tokens' "
                        "windows" % (path, len(examples), f.max_seq_length))
    return examples, record, meta, count


# -- prediction ---------------------------------------------------------------


class _Predictor(object):
    """Predicts the predict file with a checkpoint; writes and scores predictions."""

    def __init__(self, f, estimator, tokenizer):
        self.f = f
        self.estimator = estimator
        self.examples, record, meta, _ = _features(f, f.predict_file, tokenizer, False,
                                                   f.predict_feature_file)
        self.features = squad_features.read_feature_meta(meta)
        self.input_fn = squad_features.input_fn_builder(record, f.max_seq_length, is_training=False,
                                                        drop_remainder=False,
                                                        batch_size=f.predict_batch_size)
        self.key = os.path.basename(record)
        self.gold = None
        # Scored against every reference text as written (also answers whose
        # offsets were unusable), like the official scripts.
        gold = squad_data.read_gold_answers(f.predict_file)
        if any(gold.values()) or any(e.is_impossible for e in self.examples):
            self.gold = gold
        self.metric = f.metric or squad_metrics.guess_metric(self.gold or {},
                                                             f.version_2_with_negative)

    def predict(self, checkpoint):
        """(predictions, nbest, null_odds or None, metrics or None)."""
        f = self.f
        results = []
        v2 = f.version_2_with_negative
        for row in self.estimator.predict(self.input_fn, checkpoint_path=checkpoint,
                                          yield_single_examples=True):
            results.append(squad_decoding.raw_result(row, v2))
        null_odds = None
        if v2:
            best_text, nbest, null_odds = squad_decoding.decode_v2(self.examples, self.features,
                                                                   results, f.n_best_size,
                                                                   f.max_answer_length,
                                                                   f.start_n_top, f.end_n_top)
            predictions = squad_decoding.apply_null_threshold(best_text, null_odds,
                                                              f.null_score_diff_threshold)
        else:
            predictions, nbest = squad_decoding.decode_v1(self.examples, self.features, results,
                                                          f.n_best_size, f.max_answer_length)
        metrics = None
        if self.gold is not None:
            if self.metric == "squad_v2" and v2:
                metrics = squad_metrics.evaluate_v2(self.gold, best_text, null_odds,
                                                    f.null_score_diff_threshold)
            else:
                metrics = squad_metrics.evaluate(self.gold, predictions, self.metric)
        return predictions, nbest, null_odds, metrics

    def score(self, checkpoint):
        """The metrics of ``checkpoint`` on the predict file, logged."""
        metrics = self.predict(checkpoint)[3]
        tf.logging.info("Eval of %s (step %d): %s", checkpoint,
                        checkpoint_utils.global_step_of(checkpoint), _format(metrics))
        return metrics

    def write(self, checkpoint):
        predictions, nbest, null_odds, metrics = self.predict(checkpoint)
        out = self.f.output_dir
        script_utils.write_json(os.path.join(out, "predictions.json"), predictions)
        script_utils.write_json(os.path.join(out, "nbest_predictions.json"), nbest)
        if null_odds is not None:
            script_utils.write_json(os.path.join(out, "null_odds.json"), null_odds)
        tf.logging.info("Wrote predictions of %d questions with %s", len(predictions), checkpoint)
        return metrics


def _format(metrics):
    return ", ".join(
        ("%s=%.4f" if isinstance(v, float) else "%s=%s") % (k, v) for k, v in metrics.items())


def _head_problems(version_2_with_negative):

    def problems(names):
        has_v1 = "cls/squad/output_weights" in names
        has_v2 = "start_logits/dense/kernel" in names
        if version_2_with_negative and has_v1 or not version_2_with_negative and has_v2:
            return [
                "its span head is the %s head, this run uses the %s head" %
                ("v1" if has_v1 else "v2", "v2" if version_2_with_negative else "v1")
            ]
        return []

    return problems


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    f = FLAGS
    _check_flags(f)
    tf.logging.set_verbosity(tf.logging.INFO)
    config, tokenizer = driver_utils.load_model_setup(f)
    driver_utils.prepare_output_dir(f.output_dir)
    if f.do_train:
        driver_utils.check_resume_checkpoint(f.output_dir)
    v2 = f.version_2_with_negative

    num_train_steps, num_warmup_steps = 1, 0
    train_record = None
    num_train_features = 0
    if f.do_train:
        _, train_record, _, num_train_features = _features(f, f.train_file, tokenizer, True,
                                                           f.train_feature_file)
        num_train_steps, num_warmup_steps = driver_utils.training_steps(f, num_train_features)
        tf.logging.info("Training: %d windows, batch %d, %d steps (%d warmup)", num_train_features,
                        f.train_batch_size, num_train_steps, num_warmup_steps)
    model_fn = squad_utils.model_fn_builder(
        config, init_checkpoint=f.init_checkpoint, learning_rate=f.learning_rate,
        num_train_steps=num_train_steps, num_warmup_steps=num_warmup_steps, use_tpu=f.use_tpu,
        use_one_hot_embeddings=f.use_tpu, optimizer=f.optimizer, version_2_with_negative=v2,
        start_n_top=f.start_n_top, end_n_top=f.end_n_top, dropout_prob=f.dropout_prob,
        use_einsum=f.use_einsum, init_report_file=os.path.join(f.output_dir,
                                                               driver_utils.INIT_REPORT_FILE),
        verbose=f.verbose, hub_module_handle=driver_utils.hub_module_handle(f))
    driver_utils.check_output_dir_model(f.output_dir, config, _head_problems(v2))
    estimator = driver_utils.make_estimator(model_fn, f)

    try:
        predictor = history = None
        if f.do_predict:
            predictor = _Predictor(f, estimator, tokenizer)
            if predictor.gold is not None:
                history = driver_utils.EvalHistory(
                    f.output_dir, "%s:%s" % (predictor.key, predictor.metric), "f1",
                    "%s results on %s (best by f1)" % (predictor.metric, f.predict_file))

        def score_new_checkpoints():
            driver_utils.evaluate_new_checkpoints(f.output_dir, history, predictor.score,
                                                  f.keep_checkpoint_max)

        if f.do_train:
            driver_utils.train_from_flags(
                estimator, f, num_train_steps,
                num_train_features, lambda **kw: squad_features.input_fn_builder(
                    train_record, f.max_seq_length, is_training=True, drop_remainder=f.use_tpu,
                    batch_size=f.train_batch_size, **kw),
                after_round=score_new_checkpoints if history else None)
        checkpoint = None
        if f.do_predict:
            if history is not None:
                score_new_checkpoints()
            checkpoint = driver_utils.fine_tuned_checkpoint(f.output_dir)
            metrics = predictor.write(checkpoint)
            if metrics is not None:
                tf.logging.info("%s of %s: %s", predictor.metric, checkpoint, _format(metrics))
                if not history.entries:
                    # No step checkpoint was scored (e.g. only model.ckpt-best is
                    # left): report the checkpoint used.
                    text = "# %s results of %s on %s\n" % (predictor.metric, checkpoint,
                                                           f.predict_file)
                    text += "".join("%s = %s\n" % (k, metrics[k]) for k in sorted(metrics))
                    script_utils.write_text(
                        os.path.join(f.output_dir, driver_utils.EVAL_RESULTS_FILE), text)
        if f.export_dir:
            checkpoint = checkpoint or driver_utils.fine_tuned_checkpoint(f.output_dir)
            info = {
                "task": "squad_v2" if v2 else "squad_v1",
                "max_seq_length": f.max_seq_length,
                "doc_stride": f.doc_stride,
                "max_query_length": f.max_query_length
            }

            def export():
                assets = driver_utils.export_assets(tokenizer, config, info)
                return squad_utils.export_saved_model(config, checkpoint, f.export_dir, v2,
                                                      f.start_n_top, f.end_n_top, assets=assets)

            driver_utils.export_from_flags(export, checkpoint, f.export_dir)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    return 0


if __name__ == "__main__":
    script_utils.run(main)
