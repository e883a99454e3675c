# coding=utf-8
"""What the training drivers (run_pretraining, run_classifier, run_squad) share.

* ``TrainingLogHook``: a progress line every few seconds while training:
  ``step N/M, loss, learning_rate, examples/sec, ETA``.
* ``check_tfrecord_file`` / ``check_tfrecord_files``: walk a TFRecord file's
  framing (lengths and their checksums) without reading the records, so a
  text file, a truncated copy or a damaged length is reported before
  training, with the file and the byte offset.
* ``check_export_dir``: refuse an ``--export_dir`` that would clash with the
  run's other paths before any training starts.
* ``prepare_output_dir``: create the output directory and clear what an
  interrupted (killed) run left half-written in it.
* ``fine_tuning_model_fn``: the model_fn every fine-tuning task shares
  (strict initialisation from the pretrained checkpoint, optimizer, TRAIN and
  PREDICT specs); the task gives its model and its predictions.
* ``write_saved_model``: a SavedModel of a fine-tuned checkpoint, replacing
  an older one only when complete; the task gives its signature.
* ``train_from_flags``, ``check_best``, ``export_from_flags``: the training,
  evaluation and export steps the fine-tuning scripts share.

The functions take what they need as arguments (a parsed flags object where
they say so); none reads the global flags.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import os
import struct
import time

import six

import checkpoint_utils
import optimization
import precision
import script_utils
from tf_compat import tf

# ---------------------------------------------------------------------------
# Progress while training.
# ---------------------------------------------------------------------------

# Session runs at the start of each training call left out of the rate.
_UNTIMED_RUNS = 2


class TrainingLogHook(tf.train.SessionRunHook):
    """Logs step, loss, learning rate, examples/sec and ETA every few seconds.

    The loss is read from the graph tensor ``total_loss:0`` and the rate from
    ``learning_rate:0`` when the model defines them.
    """

    def __init__(self, examples_per_step, num_train_steps, every_secs=30.0, log_fn=None,
                 clock=None):
        """Builds the hook.

        Args:
            examples_per_step: examples consumed per global step (global batch
                times gradient accumulation steps).
            num_train_steps: the last step of the run (for the ETA).
            every_secs: minimum seconds between two log lines.
            log_fn: logging function (default tf.logging.info).
            clock: function returning the time in seconds (default time.time).
        """
        self._examples_per_step = examples_per_step
        self._num_train_steps = num_train_steps
        self._every_secs = every_secs
        self._log = log_fn or tf.logging.info
        self._clock = clock or time.time
        self._fetches = None
        self._last_time = None
        self._last_step = None
        self._runs = 0

    def begin(self):
        graph = tf.get_default_graph()
        fetches = {"step": tf.train.get_global_step()}
        for key, name in (("loss", "total_loss:0"), ("lr", "learning_rate:0")):
            try:
                fetches[key] = graph.get_tensor_by_name(name)
            except KeyError:
                pass
        self._fetches = fetches
        self._last_time = self._last_step = None
        self._runs = 0

    def before_run(self, run_context):
        return tf.train.SessionRunArgs(self._fetches)

    def after_run(self, run_context, run_values):
        now = self._clock()
        values = run_values.results
        step = int(values["step"])
        self._runs += 1
        if self._runs <= _UNTIMED_RUNS:
            # The first runs also write the graph and the first summaries.
            self._last_time, self._last_step = now, step
            return
        if now - self._last_time < self._every_secs:
            return
        self._log(self.line(values, step, now))
        self._last_time, self._last_step = now, step

    def line(self, values, step, now):
        """The progress line for the fetched ``values`` at ``step``."""
        rate = ((step - self._last_step) * self._examples_per_step /
                max(now - self._last_time, 1e-9))
        parts = ["step %d/%d" % (step, self._num_train_steps)]
        if "loss" in values:
            parts.append("loss %.4f" % values["loss"])
        if "lr" in values:
            parts.append("learning_rate %.3g" % values["lr"])
        parts.append("%.1f examples/sec" % rate)
        if rate > 0 and step < self._num_train_steps:
            remaining = ((self._num_train_steps - step) * self._examples_per_step / rate)
            parts.append("ETA %s" % script_utils.format_seconds(remaining))
        return ", ".join(parts)


# ---------------------------------------------------------------------------
# TFRecord framing.
# ---------------------------------------------------------------------------


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of ``data`` (bytes), as TFRecord files use it."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in bytearray(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """The masked CRC a TFRecord stores next to each length and payload."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class RecordFileError(ValueError):
    """A file that is not a complete TFRecord file."""


def check_tfrecord_file(path):
    """Walks a TFRecord file's record headers; returns the record count.

    Each record is ``length (8 bytes) | masked CRC of the length (4) |
    payload (length) | masked CRC of the payload (4)``. The lengths and their
    checksums are verified and the payloads skipped, so this reads 12 bytes
    per record and catches text files, truncated copies and damaged headers
    (a damaged payload is caught by TensorFlow when it reads the record).

    Args:
        path: a local TFRecord file (uncompressed).

    Returns:
        The number of records.

    Raises:
        RecordFileError: naming the file, the record and its byte offset.
    """
    size = os.path.getsize(path)
    count = 0
    offset = 0
    with open(path, "rb") as reader:
        while offset < size:
            header = reader.read(12)
            where = "%s: record %d at byte %d" % (path, count + 1, offset)
            if len(header) < 12:
                raise RecordFileError("%s: the file ends inside the record's header (truncated "
                                      "copy?)" % where)
            length_bytes = header[:8]
            (length,) = struct.unpack("<Q", length_bytes)
            (stored,) = struct.unpack("<I", header[8:])
            if masked_crc32c(length_bytes) != stored:
                hint = (" (this is not a TFRecord file: is it a text file?)"
                        if count == 0 else " (the file is damaged)")
                raise RecordFileError("%s: bad length checksum%s" % (where, hint))
            end = offset + 12 + length + 4
            if end > size:
                raise RecordFileError("%s: the record needs %d bytes but the file ends after %d "
                                      "(truncated copy?)" % (where, length + 16, size - offset))
            reader.seek(end)
            offset = end
            count += 1
    return count


def check_tfrecord_files(paths, progress_every=10.0):
    """``check_tfrecord_file`` for every local file of ``paths``.

    Files on remote file systems (``gs://`` and the like) are skipped: a
    seek there is a network round trip per record.

    Args:
        paths: TFRecord file names.
        progress_every: seconds between progress lines on long scans.

    Returns:
        The number of records in the local files.

    Raises:
        RecordFileError: for the first bad file.
    """
    local = [p for p in paths if "://" not in p]
    progress = script_utils.Progress("record files checked", total=len(local),
                                     interval=progress_every)
    total = 0
    for path in local:
        if os.path.isdir(path):
            raise RecordFileError("%s: is a directory, not a TFRecord file "
                                  "(use '%s/*')" % (path, path.rstrip("/")))
        total += check_tfrecord_file(path)
        progress.update(1)
    return total


def describe_data_loss(error, paths):
    """One line for a ``tf.errors.DataLossError`` met while reading ``paths``.

    Rescans the files with TensorFlow's reader (which also verifies the
    payloads) to name the damaged file and record.

    Args:
        error: the DataLossError.
        paths: the TFRecord files that were being read.

    Returns:
        A message naming the file and record, or TensorFlow's own message.
    """
    for path in paths:
        count = 0
        try:
            for _ in tf.python_io.tf_record_iterator(path):
                count += 1
        except tf.errors.DataLossError:
            return ("%s: record %d is damaged (checksum mismatch or truncated); "
                    "recreate or re-copy the file" % (path, count + 1))
    return "damaged input: %s" % (error.message.splitlines() or [""])[0]


# ---------------------------------------------------------------------------
# Output paths.
# ---------------------------------------------------------------------------


def _same_path(a, b):
    return os.path.realpath(os.path.abspath(a)) == os.path.realpath(os.path.abspath(b))


def _is_inside(path, directory):
    path = os.path.realpath(os.path.abspath(path))
    directory = os.path.realpath(os.path.abspath(directory))
    return path.startswith(directory.rstrip(os.sep) + os.sep)


def check_export_dir(export_dir, output_dir, other_paths=()):
    """Refuses an --export_dir that clashes with the run's other paths.

    Called before training, so that a bad --export_dir is reported at once,
    not after hours of training.

    Args:
        export_dir: the --export_dir flag (None: nothing to check).
        output_dir: the --output_dir flag.
        other_paths: (flag name, path) pairs of inputs that must not be
            replaced (data directory, checkpoints, ...).

    Raises:
        script_utils.UserError: naming the path and the problem.
    """
    if not export_dir:
        return
    if _same_path(export_dir, output_dir) or _is_inside(output_dir, export_dir):
        raise script_utils.UserError(
            "--export_dir=%s would replace --output_dir=%s (the SavedModel "
            "replaces the whole directory): use a directory of its own, e.g. "
            "%s" %
            (export_dir, output_dir, os.path.join(output_dir.rstrip("/\\") or ".", "export")))
    for name, path in other_paths:
        if path and (_same_path(export_dir, path) or _is_inside(path, export_dir)):
            raise script_utils.UserError(
                "--export_dir=%s would replace %s=%s: use a directory of its "
                "own" % (export_dir, name, path))
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise script_utils.UserError("--export_dir=%s is an existing file, not a directory" %
                                     export_dir)
    if (os.path.isdir(export_dir) and os.listdir(export_dir) and
            not os.path.isfile(os.path.join(export_dir, "saved_model.pb"))):
        raise script_utils.UserError("--export_dir=%s exists and is not a SavedModel; remove it or "
                                     "choose another directory" % export_dir)
    parent = os.path.dirname(os.path.abspath(export_dir))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise script_utils.UserError("--export_dir=%s: %s is a file, not a directory" %
                                     (export_dir, parent))
    if parent and not os.access(parent, os.W_OK | os.X_OK):
        raise script_utils.UserError("--export_dir=%s: cannot write in %s" % (export_dir, parent))


def prepare_output_dir(output_dir, is_chief=True):
    """Creates --output_dir and removes what a killed run left half-written.

    Args:
        output_dir: the --output_dir flag.
        is_chief: only the chief of a cluster cleans up.

    Raises:
        script_utils.UserError: when the directory cannot be created.
    """
    if tf.gfile.Exists(output_dir) and not tf.gfile.IsDirectory(output_dir):
        raise script_utils.UserError("--output_dir=%s is a file, not a directory" % output_dir)
    try:
        tf.gfile.MakeDirs(output_dir)
    except tf.errors.OpError as e:
        raise script_utils.UserError("--output_dir=%s: cannot create it (%s)" %
                                     (output_dir, e.message))
    if is_chief and "://" not in output_dir:
        removed = checkpoint_utils.remove_stale_temporaries(output_dir)
        if removed:
            tf.logging.info("Removed %d temporary file(s) an interrupted run left "
                            "in %s: %s", len(removed), output_dir, ", ".join(removed))


def check_resume_checkpoint(output_dir):
    """Checks the checkpoint a resumed run would restore from ``output_dir``.

    Args:
        output_dir: the --output_dir flag.

    Returns:
        The latest checkpoint prefix, or None when there is none.

    Raises:
        script_utils.UserError: when that checkpoint's files are damaged,
            saying which earlier checkpoint could be used instead.
    """
    latest = tf.train.latest_checkpoint(output_dir)
    if not latest:
        return None
    try:
        return checkpoint_utils.check_checkpoint_complete(latest)
    except checkpoint_utils.CheckpointError as e:
        earlier = [p for _, p in checkpoint_utils.step_checkpoints(output_dir) if p != latest]
        if earlier:
            advice = ("to resume from %s instead, delete %s.* and name %s in %s" %
                      (os.path.basename(earlier[-1]), os.path.basename(latest),
                       os.path.basename(earlier[-1]), os.path.join(output_dir, "checkpoint")))
        else:
            advice = "delete it to start again, or use a new --output_dir"
        raise script_utils.UserError("%s; %s" % (e, advice))


# ---------------------------------------------------------------------------
# Fine-tuning drivers: flags, set-up, estimator.
# ---------------------------------------------------------------------------

BEST_PREFIX = "model.ckpt-best"
INIT_REPORT_FILE = "init_checkpoint_report.txt"
EVAL_HISTORY_FILE = "eval_history.json"
EVAL_RESULTS_FILE = "eval_results.txt"


def define_model_flags(flags_module, max_seq_length=128, init_help=None, hub=False):
    """The model, vocabulary and directory flags every fine-tuning script has.

    --albert_config_file (alias --bert_config_file), --vocab_file,
    --spm_model_file, --do_lower_case, --max_seq_length, --init_checkpoint,
    --output_dir, --cached_dir; with ``hub`` also --albert_hub_module_handle
    (see ``hub_module_handle``).
    """
    flags_module.DEFINE_string(
        "albert_config_file", None, "Model config JSON (alias --bert_config_file)." +
        (" Not needed with --albert_hub_module_handle (the module's "
         "assets/albert_config.json)." if hub else ""))
    flags_module.DEFINE_alias("bert_config_file", "albert_config_file")
    flags_module.DEFINE_string(
        "vocab_file", None, "WordPiece vocab.txt (Chinese models)." +
        (" Not needed with --albert_hub_module_handle (the module's "
         "tokenization_info)." if hub else ""))
    flags_module.DEFINE_string("spm_model_file", None,
                               "SentencePiece model (English ALBERT); replaces --vocab_file.")
    if hub:
        flags_module.DEFINE_string(
            HUB_FLAG, None,
            "Fine-tune the encoder of this TF1 Hub module (a directory written by export.py "
            "--format=hub or Google's, a file:// or http(s) URL that tensorflow_hub fetches "
            "into TFHUB_CACHE_DIR) instead of --init_checkpoint: hub.Module(handle, "
            "trainable=True, tags={'train'} when training), starting from the module's "
            "variables. The tokenizer comes from its tokenization_info signature (vocab "
            "and do_lower_case) and the config from its assets/albert_config.json unless "
            "--vocab_file/--spm_model_file or --albert_config_file are given. Needs "
            "tensorflow_hub with the TF1 Hub API (0.12 on TF 1.15, 0.15 on TF 2.x).")
    flags_module.DEFINE_bool("do_lower_case", True,
                             "Lower-case the input (True for all released models).")
    flags_module.DEFINE_integer(
        "max_seq_length", max_seq_length, "Tokens per example after WordPiece/SentencePiece, incl. "
        "[CLS] and [SEP].")
    flags_module.DEFINE_string(
        "init_checkpoint", None, init_help or
        "Pretrained checkpoint (prefix, directory or 'checkpoint' file). Loaded "
        "strictly: only the task head may be missing.")
    flags_module.DEFINE_string("output_dir", None,
                               "Where checkpoints, results and predictions are written.")
    flags_module.DEFINE_string("cached_dir", None,
                               "Where cached feature files go (default: --output_dir).")


def define_training_flags(flags_module, do_predict_help, export_help, do_eval_help=None,
                          learning_rate=5e-5, num_train_epochs=3.0, train_step=None,
                          warmup_step=None, save_checkpoints_steps=1000):
    """The run, training and TPU flags every fine-tuning script has.

    --do_train, --do_predict (and --do_eval / --eval_batch_size when
    ``do_eval_help`` is given), --export_dir, --train_batch_size,
    --predict_batch_size, --learning_rate, --num_train_epochs, --train_step,
    --warmup_proportion, --warmup_step, --optimizer, --random_seed,
    --save_checkpoints_steps, --keep_checkpoint_max, --log_every_secs,
    --use_bf16, --verbose and Google's TPU flags.
    """
    flags_module.DEFINE_bool("do_train", False, "Fine-tune on the training set.")
    if do_eval_help:
        flags_module.DEFINE_bool("do_eval", False, do_eval_help)
    flags_module.DEFINE_bool("do_predict", False, do_predict_help)
    flags_module.DEFINE_string("export_dir", None, export_help)
    flags_module.DEFINE_integer("train_batch_size", 32, "Training batch size.")
    if do_eval_help:
        flags_module.DEFINE_integer("eval_batch_size", 8, "Evaluation batch size.")
    flags_module.DEFINE_integer("predict_batch_size", 8, "Prediction batch size.")
    flags_module.DEFINE_float("learning_rate", learning_rate, "Peak learning rate.")
    flags_module.DEFINE_float("num_train_epochs", num_train_epochs,
                              "Training epochs (used when --train_step is not given).")
    flags_module.DEFINE_integer("train_step", train_step,
                                "Training steps (overrides --num_train_epochs).")
    flags_module.DEFINE_float(
        "warmup_proportion", 0.1, "Share of the training steps with linear warmup (when "
        "--warmup_step is not given).")
    flags_module.DEFINE_integer("warmup_step", warmup_step,
                                "Warmup steps (overrides --warmup_proportion).")
    flags_module.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "Optimizer.")
    flags_module.DEFINE_integer("random_seed", 12345,
                                "Seed of initialisation, dropout and shuffling.")
    flags_module.DEFINE_integer("save_checkpoints_steps", save_checkpoints_steps,
                                "Save (and evaluate) a checkpoint every N steps.")
    flags_module.DEFINE_integer(
        "keep_checkpoint_max", 5, "Step checkpoints to keep (0 keeps all); model.ckpt-best "
        "is extra.")
    flags_module.DEFINE_float(
        "log_every_secs", 30.0, "Seconds between two training progress lines (step/N, loss, "
        "examples/sec, ETA).")
    precision.define_bf16_flag(
        flags_module, "the encoder (training, evaluation and prediction; --export_dir "
        "SavedModels stay float32)")
    script_utils.define_verbose_flag(flags_module)
    script_utils.define_tpu_flags(flags_module)


HUB_FLAG = "albert_hub_module_handle"


def hub_module_handle(flags_obj):
    """The --albert_hub_module_handle value, or None (also when the script
    does not define the flag)."""
    if HUB_FLAG not in flags_obj:
        return None
    return getattr(flags_obj, HUB_FLAG) or None


def check_training_flags(flags_obj, other_paths=()):
    """The checks of ``define_training_flags``' flags, as one-line errors.

    Args:
        flags_obj: the parsed flags.
        other_paths: (flag name, path) pairs the --export_dir must not replace.

    Raises:
        script_utils.UserError: for the first bad value.
    """
    error = script_utils.UserError
    handle = hub_module_handle(flags_obj)
    if handle and flags_obj.init_checkpoint:
        raise error("give --init_checkpoint or --%s, not both (the module's variables are "
                    "the starting point)" % HUB_FLAG)
    if not flags_obj.vocab_file and not flags_obj.spm_model_file and not handle:
        raise error("give --vocab_file (WordPiece vocab.txt) or --spm_model_file")
    names = [
        "train_batch_size", "predict_batch_size", "save_checkpoints_steps", "iterations_per_loop",
        "num_tpu_cores"
    ]
    if "eval_batch_size" in flags_obj:
        names.append("eval_batch_size")
    for name in names:
        if getattr(flags_obj, name) < 1:
            raise error("--%s must be >= 1, got %d" % (name, getattr(flags_obj, name)))
    if flags_obj.keep_checkpoint_max < 0:
        raise error("--keep_checkpoint_max must be >= 0 (0 keeps all)")
    if flags_obj.train_step is not None and flags_obj.train_step < 1:
        raise error("--train_step must be >= 1")
    if flags_obj.warmup_step is not None and flags_obj.warmup_step < 0:
        raise error("--warmup_step must be >= 0")
    if not 0 <= flags_obj.warmup_proportion <= 1:
        raise error("--warmup_proportion must be in [0, 1]")
    if (flags_obj.do_train and flags_obj.num_train_epochs <= 0 and flags_obj.train_step is None):
        raise error("--num_train_epochs must be > 0")
    if flags_obj.log_every_secs < 0:
        raise error("--log_every_secs must be >= 0")
    if handle and precision.requested_dtype(flags_obj.use_bf16) != tf.float32:
        raise error("--%s: a Hub module's graph computes in float32; fine-tune from "
                    "--init_checkpoint to use bfloat16" % precision.FLAG)
    precision.compute_dtype(flags_obj.use_bf16, flags_obj.use_tpu)
    check_export_dir(flags_obj.export_dir, flags_obj.output_dir,
                     [("--cached_dir", flags_obj.cached_dir)] + list(other_paths))


def load_model_setup(flags_obj, input_errors=()):
    """The model config and tokenizer the flags name, checked against each other.

    The layout comes from --init_checkpoint when the config does not say;
    --max_seq_length must fit the config's positions; the vocabulary must
    match vocab_size and hold [CLS] and [SEP]; the casing must match the
    checkpoint's; a truncated --init_checkpoint is reported before training.
    With --albert_hub_module_handle the module is resolved (URLs fetched),
    its assets/albert_config.json (or --albert_config_file) is checked
    against its variables and the tokenizer is the one its
    tokenization_info names (unless --vocab_file / --spm_model_file).

    Args:
        flags_obj: the parsed flags (define_model_flags and
            define_training_flags).
        input_errors: more exception types that are the user's input errors.

    Returns:
        (modeling.AlbertConfig, tokenization.FullTokenizer).

    Raises:
        script_utils.UserError: naming the file and the problem.
    """
    import modeling  # pylint: disable=g-import-not-at-top
    import tokenization  # pylint: disable=g-import-not-at-top
    errors = (modeling.ConfigError, checkpoint_utils.CheckpointError,
              checkpoint_utils.CheckpointMismatchError, IOError, OSError,
              ValueError) + tuple(input_errors)
    handle = hub_module_handle(flags_obj)
    config_source = flags_obj.albert_config_file
    tokenizer = None
    try:
        if handle:
            import hub_export  # pylint: disable=g-import-not-at-top
            _, config, tokenizer = hub_export.load_module_setup(handle,
                                                                flags_obj.albert_config_file,
                                                                flags_obj.vocab_file,
                                                                flags_obj.spm_model_file,
                                                                flags_obj.do_lower_case)
            config_source = config_source or "the module %s" % handle
        else:
            config = modeling.AlbertConfig.from_json_file(flags_obj.albert_config_file)
        if flags_obj.init_checkpoint:
            config = checkpoint_utils.config_for_checkpoint(config, flags_obj.init_checkpoint)
    except errors as e:
        raise script_utils.UserError(str(e))
    if flags_obj.max_seq_length > config.max_position_embeddings:
        raise script_utils.UserError(
            "--max_seq_length=%d is longer than max_position_embeddings=%d of %s" %
            (flags_obj.max_seq_length, config.max_position_embeddings, config_source))
    try:
        if tokenizer is None:
            tokenizer = tokenization.FullTokenizer.from_files(
                vocab_file=flags_obj.vocab_file, spm_model_file=flags_obj.spm_model_file,
                do_lower_case=flags_obj.do_lower_case)
        tokenization.check_vocab_matches_config(tokenizer, config, config_source)
        missing = [t for t in ("[CLS]", "[SEP]") if t not in tokenizer.vocab]
        if missing:
            raise ValueError(
                "the vocabulary (%s) has no %s token" %
                (tokenizer.vocab_file or tokenizer.spm_model_file, " or ".join(missing)))
        tokenization.validate_case_matches_checkpoint(flags_obj.do_lower_case,
                                                      flags_obj.init_checkpoint)
        if flags_obj.init_checkpoint and flags_obj.do_train:
            checkpoint_utils.check_checkpoint_complete(flags_obj.init_checkpoint)
    except errors as e:
        raise script_utils.UserError(str(e))
    return config, tokenizer


def training_steps(flags_obj, num_examples):
    """(training steps, warmup steps) from --train_step or --num_train_epochs
    and --warmup_step or --warmup_proportion."""
    steps = flags_obj.train_step or max(
        1, int(num_examples / flags_obj.train_batch_size * flags_obj.num_train_epochs))
    warmup = (flags_obj.warmup_step
              if flags_obj.warmup_step is not None else int(steps * flags_obj.warmup_proportion))
    return steps, warmup


def make_estimator(model_fn, flags_obj, predict_batch_size=None, eval_batch_size=None):
    """An Estimator on CPU/GPU, a TPUEstimator with --use_tpu; the model is
    built in bfloat16 with --use_bf16.

    Args:
        model_fn: the task's model_fn.
        flags_obj: the parsed flags (RunConfig from script_utils).
        predict_batch_size: TPU predict batch (default --predict_batch_size).
        eval_batch_size: TPU eval batch.

    Returns:
        The estimator.
    """
    run_config = script_utils.run_config_from_flags(flags_obj)
    model_fn = precision.wrap_model_fn(model_fn, precision.requested_dtype(flags_obj.use_bf16))
    if not flags_obj.use_tpu:
        return tf.estimator.Estimator(model_fn=model_fn, config=run_config)
    return tf.estimator.tpu.TPUEstimator(
        use_tpu=True, model_fn=model_fn, config=run_config,
        train_batch_size=flags_obj.train_batch_size, eval_batch_size=eval_batch_size,
        predict_batch_size=predict_batch_size or flags_obj.predict_batch_size)


def export_assets(tokenizer, config, info):
    """What a SavedModel carries in ``assets.extra/``: the config, the
    vocabulary (or SentencePiece model) and ``export_info.json``.

    Args:
        tokenizer: the run's tokenization.FullTokenizer.
        config: the model's AlbertConfig.
        info: task facts for export_info.json; the vocabulary's name, the
            tokenizer kind and the casing are added.

    Returns:
        dict file name -> text or bytes.
    """
    import json  # pylint: disable=g-import-not-at-top
    vocab = tokenizer.spm_model_file or tokenizer.vocab_file
    info = dict(info)
    info.update({
        "vocab_file": os.path.basename(vocab),
        "do_lower_case": bool(tokenizer.do_lower_case),
        "tokenizer": "sentencepiece" if tokenizer.spm_model_file else "wordpiece"
    })
    with open(vocab, "rb") as reader:
        vocab_bytes = reader.read()
    return {
        "albert_config.json": config.to_json_string(),
        os.path.basename(vocab): vocab_bytes,
        "export_info.json": json.dumps(info, indent=2, sort_keys=True) + "\n"
    }


# ---------------------------------------------------------------------------
# Fine-tuning drivers: checkpoints, evaluation history, the training loop.
# ---------------------------------------------------------------------------


def fine_tuned_checkpoint(output_dir):
    """The checkpoint to predict or export with: model.ckpt-best, else the
    latest, else the highest step; checked to be complete.

    Raises:
        script_utils.UserError: when there is none.
        checkpoint_utils.CheckpointError: when it is damaged.
    """
    best = os.path.join(output_dir, BEST_PREFIX)
    latest = tf.train.latest_checkpoint(output_dir)
    steps = checkpoint_utils.step_checkpoints(output_dir)
    for candidate in (best if tf.gfile.Exists(best + ".index") else None, latest,
                      steps[-1][1] if steps else None):
        if candidate:
            return checkpoint_utils.check_checkpoint_complete(candidate)
    raise script_utils.UserError(
        "%s: no fine-tuned checkpoint to predict or export with; run with --do_train "
        "first" % output_dir)


def check_output_dir_model(output_dir, config, head_problems=None):
    """Refuses an --output_dir whose checkpoints belong to another model or task.

    Args:
        output_dir: the --output_dir flag.
        config: the run's AlbertConfig.
        head_problems: optional callable({name: shape}) -> list of problems
            with the task head's variables.

    Raises:
        script_utils.UserError: naming the problems.
    """
    prefixes = [p for _, p in checkpoint_utils.step_checkpoints(output_dir)]
    best = os.path.join(output_dir, BEST_PREFIX)
    if tf.gfile.Exists(best + ".index"):
        prefixes.append(best)
    if not prefixes:
        return
    problems = checkpoint_utils.check_config_against_checkpoint(config, prefixes[-1])
    if head_problems is not None:
        problems += head_problems(dict(checkpoint_utils.list_variables(prefixes[-1])))
    if problems:
        raise script_utils.UserError(
            "%s holds checkpoints of another model or task (%s); use a new --output_dir" %
            (output_dir, "; ".join(problems)))


class EvalHistory(object):
    """Which checkpoints were evaluated (once each) and which is best.

    Kept in ``eval_history.json`` in the output directory::

        {"key": <what was evaluated>, "metric": <the metric that picks the best>,
         "entries": [{"checkpoint", "step", "metrics"}, ...],
         "best": {"step", "value", "metrics", "checkpoint", "copied_from"}}

    and written for people as ``eval_results.txt`` (one block per checkpoint,
    then the best). A different ``key`` (other evaluation data or settings)
    starts a new history. The best checkpoint, by the highest ``metric`` (the
    earlier one on a tie), is copied to ``model.ckpt-best``.
    """

    def __init__(self, output_dir, key, metric, title):
        """Loads the history of ``output_dir`` if it is one for ``key``.

        Args:
            output_dir: the training directory.
            key: a string naming what is evaluated (data and settings).
            metric: the metric name that picks the best checkpoint.
            title: the first line of eval_results.txt.
        """
        import json  # pylint: disable=g-import-not-at-top
        self.output_dir = output_dir
        self.key = key
        self.metric = metric
        self.title = title
        self.path = os.path.join(output_dir, EVAL_HISTORY_FILE)
        self.entries = []
        self.best = None
        if tf.gfile.Exists(self.path):
            try:
                with tf.gfile.GFile(self.path) as reader:
                    data = json.loads(reader.read())
            except ValueError:
                data = {}
            if data.get("key") == key and data.get("metric") == metric:
                self.entries = data.get("entries", [])
                self.best = data.get("best")
        if self.best and not tf.gfile.Exists(os.path.join(output_dir, BEST_PREFIX + ".index")):
            self.best = None

    def evaluated(self, step):
        """True when the checkpoint of ``step`` was evaluated already."""
        return any(e["step"] == step for e in self.entries)

    def add(self, checkpoint, step, metrics):
        """Records a result, copies a new best to model.ckpt-best and saves.

        Returns:
            True when ``checkpoint`` is the new best.
        """
        self.entries.append({
            "checkpoint": os.path.basename(checkpoint),
            "step": int(step),
            "metrics": metrics
        })
        self.entries.sort(key=lambda e: e["step"])
        value = metrics.get(self.metric)
        is_best = self.best is None or (value is not None and value > self.best["value"])
        if is_best:
            checkpoint_utils.copy_checkpoint(checkpoint, os.path.join(self.output_dir, BEST_PREFIX))
            self.best = {
                "step": int(step),
                "value": value,
                "metrics": metrics,
                "checkpoint": BEST_PREFIX,
                "copied_from": os.path.basename(checkpoint)
            }
            tf.logging.info("New best %s = %s at step %d: copied to %s", self.metric, value, step,
                            BEST_PREFIX)
        self.save()
        return is_best

    def save(self):
        """Writes eval_history.json and eval_results.txt."""
        import json  # pylint: disable=g-import-not-at-top
        data = {"key": self.key, "metric": self.metric, "entries": self.entries, "best": self.best}
        script_utils.write_text(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        lines = ["# %s\n" % self.title]
        blocks = [("[%s]" % e["checkpoint"], e["step"], e["metrics"]) for e in self.entries]
        if self.best:
            blocks.append(
                ("[%s] (best by %s: step %d)" % (BEST_PREFIX, self.metric, self.best["step"]),
                 self.best["step"], self.best["metrics"]))
        for header, step, metrics in blocks:
            lines.append("%s\n" % header)
            lines.append("global_step = %d\n" % step)
            lines.extend("%s = %s\n" % (k, metrics[k]) for k in sorted(metrics))
        script_utils.write_text(os.path.join(self.output_dir, EVAL_RESULTS_FILE), "".join(lines))


def read_eval_results(path):
    """eval_results.txt as ``{block name: {key: value}}`` (numbers as floats).

    Block names are the bracketed checkpoint names (``model.ckpt-100``,
    ``model.ckpt-best``).
    """
    results = {}
    block = None
    with tf.gfile.GFile(path) as reader:
        for line in reader:
            line = line.strip()
            if line.startswith("["):
                block = line[1:line.index("]")]
                results[block] = {}
            elif " = " in line and block is not None:
                key, value = line.split(" = ", 1)
                try:
                    results[block][key] = float(value)
                except ValueError:
                    results[block][key] = value
    return results


def evaluate_new_checkpoints(output_dir, history, evaluate, keep_checkpoint_max=0,
                             include_step_zero=False, checkpoints=None):
    """Evaluates every step checkpoint not evaluated yet, once, oldest first.

    Args:
        output_dir: the training directory.
        history: its EvalHistory.
        evaluate: callable(checkpoint prefix) -> dict of metrics.
        keep_checkpoint_max: afterwards keep only this many step checkpoints
            (0 keeps all).
        include_step_zero: also evaluate model.ckpt-0 (the untrained model,
            saved when training starts).
        checkpoints: [(step, prefix)] to consider (default: the
            model.ckpt-N files of output_dir).
    """
    if checkpoints is None:
        checkpoints = checkpoint_utils.step_checkpoints(output_dir)
    for step, prefix in checkpoints:
        if (step > 0 or include_step_zero) and not history.evaluated(step):
            history.add(prefix, step, evaluate(prefix))
    if keep_checkpoint_max:
        checkpoint_utils.prune_checkpoints(output_dir, keep_checkpoint_max)


def train(estimator, output_dir, num_train_steps, make_input_fn, round_steps=None, after_round=None,
          hooks=()):
    """Trains to ``num_train_steps``, resuming from the latest checkpoint.

    Args:
        estimator: the task's estimator.
        output_dir: its model directory.
        num_train_steps: the last step.
        make_input_fn: callable(start step) -> input_fn; a resumed round
            should continue where the data stopped.
        round_steps: with evaluation, train in rounds that end at each
            multiple of this (the checkpoint steps), so each checkpoint can be
            evaluated right after it is written.
        after_round: callable() run after each round (e.g. evaluation).
        hooks: training hooks (e.g. TrainingLogHook).

    Returns:
        The step reached.
    """
    latest = tf.train.latest_checkpoint(output_dir)
    step = checkpoint_utils.global_step_of(latest) if latest else 0
    if latest:
        tf.logging.info("Resuming training from %s (step %d of %d)", latest, step, num_train_steps)
    while step < num_train_steps:
        target = num_train_steps
        if round_steps:
            target = min(num_train_steps, (step // round_steps + 1) * round_steps)
        estimator.train(input_fn=make_input_fn(step), max_steps=target, hooks=list(hooks))
        step = target
        if after_round is not None:
            after_round()
    return step


def train_from_flags(estimator, flags_obj, num_train_steps, num_examples, input_fn,
                     after_round=None):
    """Trains with the --train_batch_size, --random_seed, --use_tpu,
    --log_every_secs, --save_checkpoints_steps and --output_dir of
    ``flags_obj``; a resumed round continues where the data stopped.

    Args:
        estimator: the task's estimator.
        flags_obj: the parsed flags.
        num_train_steps: the last step.
        num_examples: training records (one pass of the data).
        input_fn: callable(seed=, skip=) -> the training input_fn.
        after_round: callable() run after each round of
            --save_checkpoints_steps (evaluation), or None: one round.

    Returns:
        The step reached.
    """

    def make_input_fn(step):
        # A new input pipeline starts where the previous one stopped.
        consumed = (step * flags_obj.train_batch_size) % max(num_examples, 1)
        return input_fn(seed=flags_obj.random_seed + step, skip=consumed)

    hooks = [] if flags_obj.use_tpu else [
        TrainingLogHook(flags_obj.train_batch_size, num_train_steps,
                        every_secs=flags_obj.log_every_secs)
    ]
    return train(estimator, flags_obj.output_dir, num_train_steps, make_input_fn,
                 round_steps=flags_obj.save_checkpoints_steps if after_round else None,
                 after_round=after_round, hooks=hooks)


def train_and_select_from_flags(estimator, flags_obj, num_train_steps, num_examples, input_fn,
                                history=None, evaluate=None):
    """What every fine-tuning script does with its flags: --do_train trains
    (train_from_flags), scoring each new checkpoint with ``evaluate`` after
    every round under --do_eval (model.ckpt-0, saved when training starts, is
    the untrained head); --do_eval then scores what is left, requires a best
    checkpoint and logs it.

    Args:
        estimator, flags_obj, num_train_steps, num_examples, input_fn: as
            for train_from_flags.
        history: the run's EvalHistory (--do_eval), else None.
        evaluate: callable(checkpoint) -> metrics (--do_eval), else None.

    Returns:
        The checkpoint to predict with or export (fine_tuned_checkpoint)
        when --do_predict or --export_dir is given, else None.
    """

    def evaluate_new():
        evaluate_new_checkpoints(flags_obj.output_dir, history, evaluate,
                                 flags_obj.keep_checkpoint_max)

    if flags_obj.do_train:
        train_from_flags(estimator, flags_obj, num_train_steps, num_examples, input_fn,
                         after_round=evaluate_new if flags_obj.do_eval else None)
    if flags_obj.do_eval:
        evaluate_new()
        check_best(history, flags_obj.output_dir)
        tf.logging.info("Best %s = %s at step %d (%s)", history.metric, history.best["value"],
                        history.best["step"], BEST_PREFIX)
    if flags_obj.do_predict or flags_obj.export_dir:
        return fine_tuned_checkpoint(flags_obj.output_dir)
    return None


def check_best(history, output_dir):
    """Raises script_utils.UserError when no checkpoint of ``output_dir`` was
    evaluated (``history.best`` is None)."""
    if history.best is None:
        raise script_utils.UserError("%s: no checkpoint to evaluate (model.ckpt-N); train "
                                     "first with --do_train" % output_dir)


def export_from_flags(export, checkpoint, export_dir):
    """Runs ``export()`` (a task's export_saved_model) and logs it; its
    ValueError (export_dir is not a SavedModel) becomes a UserError."""
    try:
        export()
    except ValueError as e:
        raise script_utils.UserError(str(e))
    tf.logging.info("Exported %s to %s", checkpoint, export_dir)


# ---------------------------------------------------------------------------
# What the fine-tuning libraries share: model_fn and SavedModel export.
# ---------------------------------------------------------------------------

_MODE_ERROR = ("only TRAIN and PREDICT are used (evaluation runs predict and computes the "
               "metrics exactly in numpy), got mode %s")


def fine_tuning_model_fn(build, predictions, init_checkpoint=None, allow_missing=(),
                         learning_rate=5e-5, num_train_steps=1, num_warmup_steps=0, use_tpu=False,
                         optimizer="adamw", init_report_file=None, verbose=False,
                         gradient_accumulation_steps=1, mode_error=_MODE_ERROR):
    """The Estimator model_fn of a fine-tuning task (TPUEstimatorSpec when
    ``use_tpu``), TRAIN and PREDICT.

    Training initialises from ``init_checkpoint`` strictly (only the
    variables matching ``allow_missing`` may be new) and reports the load in
    one line, once: not when the Estimator restores a checkpoint of its own
    output directory instead (on TPU, in the scaffold). The loss is named
    ``total_loss`` for the progress line.

    Args:
        build: callable(features, is_training) -> (loss, outputs): builds the
            task's model (loss may be None when not training).
        predictions: callable(features, outputs) -> dict of the PREDICT
            outputs.
        init_checkpoint: pretrained checkpoint, or None.
        allow_missing: regexes of the head variables the checkpoint may lack.
        learning_rate, num_train_steps, num_warmup_steps, optimizer,
            gradient_accumulation_steps: optimization.create_optimizer's.
        use_tpu: build TPU specs.
        init_report_file: where the full load report is written.
        verbose: log every variable of the load report.
        mode_error: message (with %s for the mode) of the ValueError raised
            for another mode.

    Returns:
        model_fn(features, labels, mode, params, config).
    """
    tpu = tf.estimator.tpu

    def model_fn(features, labels, mode, params, config=None):
        del labels, params
        is_training = mode == tf.estimator.ModeKeys.TRAIN
        loss, outputs = build(features, is_training)
        scaffold_fn = None
        if (is_training and init_checkpoint and
                not checkpoint_utils.estimator_restores_own_checkpoint(config)):

            def _init():
                checkpoint_utils.init_from_checkpoint(init_checkpoint, allow_missing=allow_missing,
                                                      verbose=verbose, report_file=init_report_file)

            if use_tpu:

                def scaffold_fn():
                    _init()
                    return tf.train.Scaffold()
            else:
                _init()
        if is_training:
            tf.identity(loss, name="total_loss")  # read by the progress line
            train_op = optimization.create_optimizer(
                loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu=use_tpu,
                optimizer=optimizer, gradient_accumulation_steps=gradient_accumulation_steps)
            if use_tpu:
                return tpu.TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op,
                                            scaffold_fn=scaffold_fn)
            return tf.estimator.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)
        if mode != tf.estimator.ModeKeys.PREDICT:
            raise ValueError(mode_error % mode)
        spec_predictions = predictions(features, outputs)
        if use_tpu:
            return tpu.TPUEstimatorSpec(mode=mode, predictions=spec_predictions,
                                        scaffold_fn=scaffold_fn)
        return tf.estimator.EstimatorSpec(mode=mode, predictions=spec_predictions)

    return model_fn


def write_saved_model(export_dir, build_signature, checkpoint, assets=None,
                      make_saver=checkpoint_utils.fine_tuned_saver):
    """Writes a SavedModel of a fine-tuned checkpoint.

    The graph is built in a new tf.Graph, the checkpoint restored into it and
    saved with the signature as ``serving_default`` (also named
    ``predict``), tag ``serve``. It is written to ``<export_dir>.tmp-PID``
    and renamed into place when complete, replacing an existing SavedModel.

    Args:
        export_dir: output directory.
        build_signature: callable() -> (inputs, outputs), dicts name ->
            tensor of the signature, building the graph.
        checkpoint: fine-tuned checkpoint prefix.
        assets: optional dict file name -> text or bytes, written to
            ``<export_dir>/assets.extra/``.
        make_saver: callable(checkpoint) -> the tf.train.Saver that restores
            it (default checkpoint_utils.fine_tuned_saver).

    Raises:
        ValueError: when export_dir exists and holds something else than a
            SavedModel.
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.isdir(export_dir) and os.listdir(export_dir) and not os.path.isfile(
            os.path.join(export_dir, "saved_model.pb")):
        raise ValueError("%s: export directory exists and is not a SavedModel; "
                         "remove it or choose another --export_dir" % export_dir)
    parent = os.path.dirname(export_dir)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent)
    tmp_dir = "%s.tmp-%d" % (export_dir, os.getpid())
    if os.path.isdir(tmp_dir):
        tf.gfile.DeleteRecursively(tmp_dir)
    graph = tf.Graph()
    with graph.as_default():
        inputs, outputs = build_signature()
        saver = make_saver(checkpoint)
        with tf.Session(graph=graph) as session:
            saver.restore(session, checkpoint)
            signature = tf.saved_model.signature_def_utils.predict_signature_def(
                inputs=dict(inputs), outputs=dict(outputs))
            builder = tf.saved_model.builder.SavedModelBuilder(tmp_dir)
            builder.add_meta_graph_and_variables(
                session, [tf.saved_model.tag_constants.SERVING], signature_def_map={
                    "serving_default": signature,
                    "predict": signature
                }, strip_default_attrs=True, saver=tf.train.Saver(tf.global_variables()))
            builder.save()
    if assets:
        extra = os.path.join(tmp_dir, "assets.extra")
        os.makedirs(extra)
        for name, content in assets.items():
            if isinstance(content, bytes):
                with io.open(os.path.join(extra, name), "wb") as writer:
                    writer.write(content)
            else:
                with io.open(os.path.join(extra, name), "w", encoding="utf-8") as writer:
                    writer.write(six.text_type(content))
    if os.path.isdir(export_dir):
        old = "%s.old-%d" % (export_dir, os.getpid())
        os.rename(export_dir, old)
        os.rename(tmp_dir, export_dir)
        tf.gfile.DeleteRecursively(old)
    else:
        os.rename(tmp_dir, export_dir)
