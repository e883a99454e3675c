# coding=utf-8
"""Shared plumbing for the command-line scripts (not a model library).

* ``UserError``: a problem with the user's input. ``run`` prints it as one
  line (``error: <file>:<line>: <problem>``) and exits with status 1, with no
  traceback. Anything else is a bug and keeps its traceback.
* ``run(main)``: absl-based entry point. Unknown flags are an error (unlike
  ``tf.app.run``, which silently ignores them).
* ``atomic_output(path)``: write to a temporary name, rename when complete,
  remove the temporary file on failure: nothing half-written is left behind.
* ``Progress``: rate-limited progress logging with items/s and ETA.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import contextlib
import io
import json
import logging
import os
import re
import sys
import time

from absl import app
from absl import flags
from absl import logging as absl_logging


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 1."""


def run(main, argv=None):
    """Runs ``main(argv)`` under absl, turning UserError into a one-line exit.

    Args:
      main: function taking the remaining argv list.
      argv: optional argv (default sys.argv).
    """

    def _wrapped(args):
        if "verbose" in flags.FLAGS and flags.FLAGS.verbose:
            quiet_tensorflow_logs(False)
        try:
            return main(args)
        except UserError as e:
            sys.stderr.write("error: %s\n" % e)
            sys.stderr.flush()
            sys.exit(1)

    argv = list(sys.argv if argv is None else argv)
    if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[1:]):
        # absl prints the help and exits with status 1; a help request is not
        # an error.
        sys.stdout.write(_usage(argv[0]))
        sys.stdout.flush()
        sys.exit(0)
    absl_logging.set_verbosity(absl_logging.INFO)
    # TensorFlow's logger has a handler of its own and also propagates to the
    # root logger that absl writes: drop TF's handler so each line shows once.
    tf_logger = logging.getLogger("tensorflow")
    for handler in list(tf_logger.handlers):
        tf_logger.removeHandler(handler)
    # The scripts' own INFO lines show from the start (TF 2 would hide those
    # logged before a script's tf.logging.set_verbosity, e.g. by flag checks).
    tf_logger.setLevel(logging.INFO)
    quiet_tensorflow_logs(True)
    app.run(_wrapped, argv=argv)


# What TensorFlow itself logs below ERROR is hidden from the scripts' output
# (``--verbose`` shows it), except these lines.
_TF_INFO_KEPT = ("Saving checkpoints for",)
# TensorFlow warnings that say nothing a user of the scripts can act on.
_TF_WARNING_NOISE = re.compile(
    r"is deprecated|Instructions for updating|includes params argument|"
    r"It seems that global step|Using temporary folder as model directory|"
    r"Input graph does not use tf.data.Dataset or contain a QueueRunner|"
    r"Estimator's model_fn|To construct input pipelines|"
    r"Entity <.*> could not be transformed|AutoGraph could not transform|"
    r"Export includes no default signature|SavedModel saved prior to|"
    r"The `lookup_ops`|tf.estimator package not installed|"
    r"From .*: The name tf\.")
_TF_SOURCE = re.compile(r"[/\\](site|dist)-packages[/\\](tensorflow|tensorflow_core|"
                        r"tensorflow_estimator|keras|tf_keras|absl)[/\\]")


class TensorFlowNoiseFilter(logging.Filter):
    """Drops TensorFlow's own INFO lines and its routine warnings.

    Records logged from this project's files (through ``tf.logging`` or
    absl) always pass, as does anything at ERROR or above.
    """

    def __init__(self):
        super(TensorFlowNoiseFilter, self).__init__()
        self._saved = set()

    def filter(self, record):
        if record.levelno >= logging.ERROR:
            return True
        if not _TF_SOURCE.search(record.pathname or ""):
            return True
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return not _TF_WARNING_NOISE.search(message)
        if not message.startswith(_TF_INFO_KEPT):
            return False
        # A training round that resumes saves the checkpoint it restored
        # again: say so once.
        if message in self._saved:
            return False
        self._saved.add(message)
        return True


def quiet_tensorflow_logs(quiet=True):
    """Installs (or removes) ``TensorFlowNoiseFilter`` on TensorFlow's and
    absl's loggers."""
    for name in ("tensorflow", "absl"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, TensorFlowNoiseFilter)]:
            logger.removeFilter(old)
        if quiet:
            logger.addFilter(TensorFlowNoiseFilter())


def define_verbose_flag(flags_module=flags):
    """Defines --verbose (read by ``run`` before the flags are parsed)."""
    flags_module.DEFINE_bool(
        "verbose", False, "Also log TensorFlow's own messages (config dumps, "
        "deprecation warnings, session set-up) and every variable of the "
        "--init_checkpoint load report.")


def _usage(program):
    """The help text: the module docstring and the main module's flags."""
    main_module = sys.modules.get("__main__")
    doc = (getattr(main_module, "__doc__", None) or "").strip()
    text = flags.FLAGS.main_module_help()
    lines = []
    if doc:
        lines.append(doc)
        lines.append("")
    lines.append("usage: %s [flags]" % os.path.basename(program))
    lines.append("")
    lines.append(text if text.strip() else "(no flags)")
    return "\n".join(lines) + "\n"


def temporary_name(path, pid=None):
    """The temporary file name ``atomic_output`` uses for ``path``.

    Args:
      path: the final output path.
      pid: the process id in the name (default: this process).

    Returns:
      ``<directory>/.<base>.tmp-<pid>``, next to ``path``.
    """
    directory, base = os.path.split(path)
    return os.path.join(directory, ".%s.tmp-%d" % (base, os.getpid() if pid is None else pid))


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path; renames it to ``path`` only on success.

    The temporary file is removed if the body raises (including
    KeyboardInterrupt and SystemExit) or if the final rename fails.

    Args:
      path: the final output path.

    Yields:
      the temporary path to write to.
    """
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.rename(tmp, path)
    except BaseException:
        _remove_file_quietly(tmp)
        raise


def _remove_file_quietly(path):
    """Removes the file ``path`` if it exists; never raises OSError."""
    try:
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)
    except OSError:
        pass


def check_output_path(path, flag="--output_file"):
    """Checks up front that ``atomic_output(path)`` can write ``path``.

    Args:
      path: the final output path.
      flag: the flag named in the error.

    Raises:
      UserError: (one line naming the path) if ``path`` is a directory or
        another existing non-regular file, if the nearest existing ancestor
        of its directory is not a directory, or if that directory is not
        writable.
    """
    if os.path.isdir(path):
        raise UserError("%s: %s is a directory" % (flag, path))
    if os.path.exists(path) and not os.path.isfile(path):
        raise UserError("%s: %s exists and is not a regular file" % (flag, path))
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError("%s: cannot create %s: %s is not a directory" % (flag, path, parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError("%s: cannot write %s: the directory %s is not "
                        "writable" % (flag, path, parent))


def process_is_running(pid):
    """Whether a process with id ``pid`` exists on this machine (POSIX).

    Args:
      pid: a process id.

    Returns:
      False only when the system says there is no such process; True
      otherwise (including a process of another user, an invalid id, or a
      system without ``kill(pid, 0)``).
    """
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def stale_temporary_files(path):
    """Temporary files of ``path`` left by processes that no longer run.

    Args:
      path: a final output path.

    Returns:
      The sorted paths of regular files named ``temporary_name(path, pid)``
      whose process ``pid`` is not running (a process killed with SIGKILL,
      or a crashed machine, leaves them behind).
    """
    directory, base = os.path.split(path)
    prefix = ".%s.tmp-" % base
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    stale = []
    for name in sorted(names):
        digits = name[len(prefix):]
        if (not name.startswith(prefix) or not digits or digits.strip("0123456789")):
            continue
        candidate = os.path.join(directory, name)
        pid = int(digits)
        if (pid != os.getpid() and os.path.isfile(candidate) and not os.path.islink(candidate) and
                not process_is_running(pid)):
            stale.append(candidate)
    return stale


def remove_stale_temporary_files(path, log_fn=None):
    """Removes ``stale_temporary_files(path)``, logging one line for each.

    Args:
      path: a final output path.
      log_fn: logging function (default absl's info).

    Returns:
      The list of removed paths.
    """
    log = log_fn or absl_logging.info
    removed = []
    for stale in stale_temporary_files(path):
        try:
            os.remove(stale)
        except OSError as error:
            log("could not remove stale temporary file %s: %s", stale, error.strerror)
            continue
        removed.append(stale)
        log("removed stale temporary file %s (left by a process that is no "
            "longer running)", stale)
    return removed


def write_text(path, text):
    """Writes UTF-8 text to ``path`` atomically (see ``atomic_output``)."""
    with atomic_output(path) as tmp:
        with io.open(tmp, "w", encoding="utf-8") as writer:
            writer.write(text)


def write_json(path, obj):
    """Writes ``obj`` as indented UTF-8 JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


class Progress(object):
    """Logs progress at most every ``interval`` seconds.

    Example::

        progress = Progress("documents", total=n)
        for doc in docs:
            ...
            progress.update(1, instances=k)
        progress.done()
    """

    def __init__(self, unit, total=None, interval=10.0, log_fn=None, clock=time.time):
        self.unit = unit
        self.total = total
        self.interval = interval
        self.count = 0
        self.extras = {}
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._log = log_fn or absl_logging.info

    def update(self, n=1, **extras):
        """Adds ``n`` items (and running totals in ``extras``); may log."""
        self.count += n
        for key, value in extras.items():
            self.extras[key] = self.extras.get(key, 0) + value
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            self._log(self.line(now))

    def line(self, now=None):
        """The progress line: count, rate, extras and ETA when the total is known."""
        now = self._clock() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self.count / elapsed
        parts = ["%d %s" % (self.count, self.unit)]
        if self.total:
            parts[0] += "/%d (%.1f%%)" % (self.total, 100.0 * self.count / self.total)
        parts.append("%.1f %s/s" % (rate, self.unit))
        for key in sorted(self.extras):
            value = self.extras[key]
            parts.append(("%s %.2f" if isinstance(value, float) else "%s %d") % (key, value))
        if self.total and rate > 0 and self.count < self.total:
            parts.append("ETA %s" % format_seconds((self.total - self.count) / rate))
        parts.append("elapsed %s" % format_seconds(elapsed))
        return ", ".join(parts)

    def done(self):
        """Logs the final line."""
        self._log(self.line())


def format_seconds(seconds):
    """``3725`` -> ``1h02m05s``; ``65`` -> ``1m05s``; ``4.2`` -> ``4.2s``."""
    if seconds < 60:
        return "%.1fs" % seconds
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%dh%02dm%02ds" % (hours, minutes, secs)
    return "%dm%02ds" % (minutes, secs)


# ---------------------------------------------------------------------------
# TPU flags and the Estimator RunConfig (run_pretraining, run_classifier,
# run_squad).
# ---------------------------------------------------------------------------


def define_tpu_flags(flags_module=flags):
    """Defines Google's TPU flags: --use_tpu --tpu_name --tpu_zone
    --gcp_project --master --num_tpu_cores --iterations_per_loop."""
    flags_module.DEFINE_bool("use_tpu", False, "Run on a TPU (TPUEstimator).")
    flags_module.DEFINE_string("tpu_name", None, "Cloud TPU name or grpc://host:port address.")
    flags_module.DEFINE_string("tpu_zone", None, "GCE zone of the Cloud TPU.")
    flags_module.DEFINE_string("gcp_project", None, "GCP project of the Cloud TPU.")
    flags_module.DEFINE_string("master", None, "TensorFlow master address (when no --tpu_name).")
    flags_module.DEFINE_integer("num_tpu_cores", 8, "TPU cores (with --use_tpu).")
    flags_module.DEFINE_integer("iterations_per_loop", 1000,
                                "TPU: steps per host loop (per session.run).")


def build_run_config(output_dir, use_tpu=False, tpu_name=None, tpu_zone=None, gcp_project=None,
                     master=None, num_tpu_cores=8, iterations_per_loop=1000,
                     save_checkpoints_steps=1000, keep_checkpoint_max=5, random_seed=None,
                     train_distribute=None, session_config_proto=None, log_step_count_steps=None):
    """The RunConfig of the Estimator (TPU or not).

    With `use_tpu`, a `tf.estimator.tpu.RunConfig` whose cluster is resolved
    from `tpu_name` (a Cloud TPU name, or a ``grpc://host:port`` address,
    which is used as is), with ``TPUConfig(iterations_per_loop,
    num_shards=num_tpu_cores, per_host_input_for_training=PER_HOST_V2)``,
    exactly as Google's script does. Building it does not contact the TPU.

    Args:
        output_dir: model directory.
        use_tpu: build a TPU run configuration.
        tpu_name: Cloud TPU name or grpc:// address.
        tpu_zone: GCE zone of the TPU (for name resolution).
        gcp_project: GCP project of the TPU (for name resolution).
        master: TensorFlow master address when no tpu_name is given.
        num_tpu_cores: number of TPU cores (shards).
        iterations_per_loop: TPU steps per host loop.
        save_checkpoints_steps: checkpoint every this many steps.
        keep_checkpoint_max: number of recent checkpoints kept.
        random_seed: graph-level random seed.
        train_distribute: optional tf.distribute strategy (not with TPU).
        session_config_proto: optional tf.ConfigProto.
        log_step_count_steps: the Estimator's steps/sec log interval;
            by default every 100 steps, or at every checkpoint when
            checkpoints are saved more often than that.

    Returns:
        A RunConfig.
    """
    from tf_compat import tf  # pylint: disable=g-import-not-at-top
    if use_tpu:
        tpu = tf.estimator.tpu
        cluster = None
        if tpu_name:
            cluster = tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu_name, zone=tpu_zone, project=gcp_project)
        return tpu.RunConfig(
            cluster=cluster, master=None if cluster else master, model_dir=output_dir,
            save_checkpoints_steps=save_checkpoints_steps, keep_checkpoint_max=keep_checkpoint_max,
            tf_random_seed=random_seed, session_config=session_config_proto,
            tpu_config=tpu.TPUConfig(
                iterations_per_loop=iterations_per_loop, num_shards=num_tpu_cores,
                per_host_input_for_training=(tpu.InputPipelineConfig.PER_HOST_V2)))
    if log_step_count_steps is None:
        log_step_count_steps = max(1, min(100, save_checkpoints_steps))
    return tf.estimator.RunConfig(model_dir=output_dir,
                                  save_checkpoints_steps=save_checkpoints_steps,
                                  keep_checkpoint_max=keep_checkpoint_max,
                                  tf_random_seed=random_seed, train_distribute=train_distribute,
                                  session_config=session_config_proto,
                                  log_step_count_steps=log_step_count_steps)


def run_config_from_flags(flags_obj, **overrides):
    """``build_run_config`` from a script's flags: --output_dir, the TPU
    flags, --save_checkpoints_steps, --keep_checkpoint_max (0 keeps all) and
    --random_seed; keyword ``overrides`` take precedence."""
    kwargs = dict(use_tpu=flags_obj.use_tpu, tpu_name=flags_obj.tpu_name,
                  tpu_zone=flags_obj.tpu_zone, gcp_project=flags_obj.gcp_project,
                  master=flags_obj.master, num_tpu_cores=flags_obj.num_tpu_cores,
                  iterations_per_loop=flags_obj.iterations_per_loop,
                  save_checkpoints_steps=flags_obj.save_checkpoints_steps,
                  keep_checkpoint_max=flags_obj.keep_checkpoint_max or None,
                  random_seed=flags_obj.random_seed)
    kwargs.update(overrides)
    return build_run_config(flags_obj.output_dir, **kwargs)
