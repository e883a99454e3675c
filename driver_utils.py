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
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os
import struct
import time

import checkpoint_utils
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

    def __init__(self, examples_per_step, num_train_steps, every_secs=30.0,
                 log_fn=None):
        """Builds the hook.

        Args:
            examples_per_step: examples consumed per global step (global batch
                times gradient accumulation steps).
            num_train_steps: the last step of the run (for the ETA).
            every_secs: minimum seconds between two log lines.
            log_fn: logging function (default tf.logging.info).
        """
        self._examples_per_step = examples_per_step
        self._num_train_steps = num_train_steps
        self._every_secs = every_secs
        self._log = log_fn or tf.logging.info
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
        now = time.time()
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
            remaining = ((self._num_train_steps - step) *
                         self._examples_per_step / rate)
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
                raise RecordFileError(
                    "%s: the file ends inside the record's header (truncated "
                    "copy?)" % where)
            length_bytes = header[:8]
            (length,) = struct.unpack("<Q", length_bytes)
            (stored,) = struct.unpack("<I", header[8:])
            if masked_crc32c(length_bytes) != stored:
                hint = (" (this is not a TFRecord file: is it a text file?)"
                        if count == 0 else " (the file is damaged)")
                raise RecordFileError("%s: bad length checksum%s" %
                                      (where, hint))
            end = offset + 12 + length + 4
            if end > size:
                raise RecordFileError(
                    "%s: the record needs %d bytes but the file ends after %d "
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
            "%s" % (export_dir, output_dir,
                    os.path.join(output_dir.rstrip("/\\") or ".", "export")))
    for name, path in other_paths:
        if path and (_same_path(export_dir, path) or _is_inside(path, export_dir)):
            raise script_utils.UserError(
                "--export_dir=%s would replace %s=%s: use a directory of its "
                "own" % (export_dir, name, path))
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise script_utils.UserError(
            "--export_dir=%s is an existing file, not a directory" % export_dir)
    if (os.path.isdir(export_dir) and os.listdir(export_dir) and
            not os.path.isfile(os.path.join(export_dir, "saved_model.pb"))):
        raise script_utils.UserError(
            "--export_dir=%s exists and is not a SavedModel; remove it or "
            "choose another directory" % export_dir)
    parent = os.path.dirname(os.path.abspath(export_dir))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise script_utils.UserError(
            "--export_dir=%s: %s is a file, not a directory" % (export_dir, parent))
    if parent and not os.access(parent, os.W_OK | os.X_OK):
        raise script_utils.UserError(
            "--export_dir=%s: cannot write in %s" % (export_dir, parent))


def prepare_output_dir(output_dir, is_chief=True):
    """Creates --output_dir and removes what a killed run left half-written.

    Args:
        output_dir: the --output_dir flag.
        is_chief: only the chief of a cluster cleans up.

    Raises:
        script_utils.UserError: when the directory cannot be created.
    """
    if tf.gfile.Exists(output_dir) and not tf.gfile.IsDirectory(output_dir):
        raise script_utils.UserError("--output_dir=%s is a file, not a directory"
                                     % output_dir)
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
        earlier = [p for _, p in checkpoint_utils.step_checkpoints(output_dir)
                   if p != latest]
        if earlier:
            advice = ("to resume from %s instead, delete %s.* and name %s in %s" %
                      (os.path.basename(earlier[-1]), os.path.basename(latest),
                       os.path.basename(earlier[-1]),
                       os.path.join(output_dir, "checkpoint")))
        else:
            advice = "delete it to start again, or use a new --output_dir"
        raise script_utils.UserError("%s; %s" % (e, advice))
