# coding=utf-8
"""Read, inspect and load ALBERT checkpoints of every dialect, strictly.

* ``resolve_checkpoint(path)`` accepts a checkpoint prefix
  (``albert_model.ckpt``), a directory, the ``checkpoint`` index file, or one
  of the checkpoint's own files (``.index``, ``.meta``, ``.data-*``).
* ``detect_dialect`` tells a brightmart-layout checkpoint
  (``word_embeddings_2``, ``layer_shared``) from a Google-layout one
  (``embedding_hidden_mapping_in``, ``transformer/group_*``).
* ``init_from_checkpoint`` initialises the graph's variables and returns a
  ``LoadReport`` of what was loaded, newly initialised, ignored (optimizer
  slots, ``global_step``), missing, unexpected and shape-mismatched. Missing
  or mismatched model variables raise ``CheckpointMismatchError`` unless the
  caller allows them (new task heads are the usual case).

Command line::

    python checkpoint_utils.py inspect PATH [--config CONFIG_JSON]
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import collections
import os
import re
import sys

import six

import script_utils
from tf_compat import tf

# Checkpoint entries that are never model weights.
_IGNORED_PATTERNS = (
    r"(^|/)global_step$",
    r"/adam_[mv]$",
    r"/lamb_[mv]$",
    r"/Adam(_1)?$",
    r"/Momentum$",
    r"(^|/)beta[12]_power$",
    r"(^|/)(good_steps|current_loss_scale|loss_scale)$",
)
_IGNORED_RE = re.compile("|".join(_IGNORED_PATTERNS))

_CHECKPOINT_SUFFIX_RE = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")


class CheckpointError(ValueError):
    """A checkpoint path that cannot be resolved or read."""


class CheckpointMismatchError(ValueError):
    """Model variables missing from a checkpoint or of the wrong shape."""


def is_ignored_variable(name):
    """True for optimizer slots, ``global_step`` and loss-scale bookkeeping."""
    return bool(_IGNORED_RE.search(name))


def _prefix_exists(prefix):
    return tf.gfile.Exists(prefix + ".index")


def _prefixes_in_directory(directory):
    names = tf.gfile.ListDirectory(directory)
    prefixes = [os.path.join(directory, n[:-len(".index")]) for n in names if n.endswith(".index")]
    return sorted(prefixes)


def _step_of(prefix):
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def _is_within(path, directory):
    path = os.path.abspath(path)
    directory = os.path.abspath(directory)
    return os.path.dirname(path) == directory or path.startswith(directory + os.sep)


def _from_checkpoint_file(state_file):
    """Resolves the ``checkpoint`` index file, tolerating moved directories.

    Returns the recorded prefix, or the prefix of the same name in the
    directory of ``state_file`` when the recorded path points elsewhere (a
    moved or copied directory whose file records absolute paths); the copy
    in the directory the user named wins over a still existing original.
    Returns None when the file is unreadable, empty or names no existing
    checkpoint, so that the caller can scan the directory instead.
    """
    directory = os.path.dirname(state_file) or "."
    try:
        state = tf.train.get_checkpoint_state(directory)
    except Exception as e:  # pylint: disable=broad-except
        # TF raises ValueError for a file without model_checkpoint_path (e.g.
        # an empty file) but only logs and returns None for unparsable ones.
        tf.logging.warning("%s: ignoring unusable checkpoint index file: %s", state_file,
                           str(e).split("\n")[0])
        return None
    if state is None or not state.model_checkpoint_path:
        return None
    recorded = state.model_checkpoint_path
    local = os.path.join(directory, os.path.basename(recorded))
    if _is_within(recorded, directory):
        candidates = [recorded, local]
    else:
        candidates = [local, recorded]
    for candidate in candidates:
        if _prefix_exists(candidate):
            return candidate
    return None


def resolve_checkpoint(path):
    """Turns what a user passes as a checkpoint into a checkpoint prefix.

    Args:
      path: a prefix, a directory, a ``checkpoint`` file, or a checkpoint's
        ``.index``/``.meta``/``.data-*`` file.

    Returns:
      The prefix (``<dir>/model.ckpt-1000``) whose ``.index`` file exists.

    Raises:
      CheckpointError: naming the path and what was found there.
    """
    if not path:
        raise CheckpointError("no checkpoint given (empty path)")
    path = os.path.expanduser(path)
    if _prefix_exists(path):
        return path
    stripped = _CHECKPOINT_SUFFIX_RE.sub("", path)
    if stripped != path and _prefix_exists(stripped):
        return stripped
    if tf.gfile.IsDirectory(path):
        state_file = os.path.join(path, "checkpoint")
        if tf.gfile.Exists(state_file):
            prefix = _from_checkpoint_file(state_file)
            if prefix:
                return prefix
        prefixes = _prefixes_in_directory(path)
        if not prefixes:
            raise CheckpointError("%s: directory holds no checkpoint (no *.index file)" % path)
        best = [p for p in prefixes if os.path.basename(p) == "model.ckpt-best"]
        if best:
            return best[0]
        return max(prefixes, key=lambda p: (_step_of(p), p))
    if os.path.basename(path) == "checkpoint" and tf.gfile.Exists(path):
        prefix = _from_checkpoint_file(path)
        if prefix:
            return prefix
        return resolve_checkpoint(os.path.dirname(path) or ".")
    directory = os.path.dirname(path) or "."
    if tf.gfile.IsDirectory(directory):
        near = [os.path.basename(p) for p in _prefixes_in_directory(directory)]
        if near:
            raise CheckpointError("%s: no such checkpoint; %s holds: %s" %
                                  (path, directory, ", ".join(near[:5])))
    raise CheckpointError("%s: no such checkpoint (expected %s.index, a directory "
                          "or a 'checkpoint' file)" % (path, path))


def list_variables(path):
    """Sorted ``[(name, shape_list)]`` of a checkpoint (any accepted path)."""
    prefix = resolve_checkpoint(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:  # pylint: disable=broad-except
        raise CheckpointError("%s: cannot read checkpoint: %s" % (prefix, str(e).split("\n")[0]))
    shapes = reader.get_variable_to_shape_map()
    return sorted((name, list(shape)) for name, shape in six.iteritems(shapes))


def detect_dialect(names):
    """The embedding layout a set of checkpoint variable names was written by.

    Args:
      names: iterable of variable names.

    Returns:
      "brightmart", "google" or None when neither signature is present.
    """
    names = list(names)
    for name in names:
        if re.search(r"(^|/)embeddings/word_embeddings_2$", name) or "/layer_shared/" in name:
            return "brightmart"
    for name in names:
        if "embedding_hidden_mapping_in" in name or "/transformer/group_" in name:
            return "google"
    for name in names:
        if re.search(r"/encoder/layer_\d+/", name):
            return "brightmart"
    return None


def implied_config(variables):
    """Config fields that a checkpoint's variable shapes imply.

    Args:
      variables: ``[(name, shape)]`` as returned by ``list_variables``.

    Returns:
      dict with the fields that can be read off the shapes: ``embedding_layout``,
      ``vocab_size``, ``embedding_size``, ``hidden_size``, ``intermediate_size``,
      ``max_position_embeddings``, ``type_vocab_size``, ``num_hidden_groups``
      and ``inner_group_num`` (Google), ``shared_layers`` (True when one set
      of layer weights serves every layer, so the layer count is not stored),
      ``num_layer_scopes``, ``has_pretraining_heads``.
    """
    shapes = dict((n, s) for n, s in variables if not is_ignored_variable(n))
    layout = detect_dialect(shapes)
    out = collections.OrderedDict()
    out["embedding_layout"] = layout

    def find(pattern):
        for name in sorted(shapes):
            if re.search(pattern, name):
                return shapes[name]
        return None

    word = find(r"(^|/)embeddings/word_embeddings$")
    if word:
        out["vocab_size"], out["embedding_size"] = word
    position = find(r"(^|/)embeddings/position_embeddings$")
    if position:
        out["max_position_embeddings"] = position[0]
    token_type = find(r"(^|/)embeddings/token_type_embeddings$")
    if token_type:
        out["type_vocab_size"] = token_type[0]
    query = find(r"attention(_1)?/self/query/kernel$")
    if query:
        out["hidden_size"] = query[-1]
    intermediate = find(r"intermediate/dense/kernel$")
    if intermediate:
        out["intermediate_size"] = intermediate[-1]
    if layout == "google":
        groups = set()
        inner = set()
        for name in shapes:
            match = re.search(r"/group_(\d+)/inner_group_(\d+)/", name)
            if match:
                groups.add(int(match.group(1)))
                inner.add(int(match.group(2)))
        out["num_hidden_groups"] = len(groups) or None
        out["inner_group_num"] = len(inner) or None
        out["shared_layers"] = len(groups) == 1
        out["num_layer_scopes"] = len(groups)
    elif layout == "brightmart":
        scopes = set(
            re.search(r"/encoder/(layer_[^/]+)/", n).group(1)
            for n in shapes
            if re.search(r"/encoder/(layer_[^/]+)/", n))
        shared = scopes == set(["layer_shared"])
        # layer_shared means one group; layer_{i} scopes are ambiguous (one
        # per group, or one per layer without sharing).
        out["num_hidden_groups"] = 1 if shared else None
        out["inner_group_num"] = 1
        out["shared_layers"] = shared
        out["num_layer_scopes"] = len(scopes)
    out["has_final_layer_norm"] = find(r"(^|/)encoder/LayerNorm/gamma$") is not None
    out["has_pretraining_heads"] = find(r"^cls/predictions/") is not None
    return out


def check_config_against_checkpoint(config, path):
    """Compares a config with the shapes of a checkpoint.

    Args:
      config: modeling.AlbertConfig.
      path: any accepted checkpoint path.

    Returns:
      list of one-line problems (empty when they agree).
    """
    implied = implied_config(list_variables(path))
    problems = []
    for field in ("vocab_size", "embedding_size", "hidden_size", "intermediate_size",
                  "max_position_embeddings", "type_vocab_size"):
        if implied.get(field) is not None and implied[field] != getattr(config, field):
            problems.append("%s: config has %s, checkpoint has %s" %
                            (field, getattr(config, field), implied[field]))
    layout = implied.get("embedding_layout")
    if layout and layout != config.resolved_embedding_layout:
        problems.append("embedding_layout: config has %s, checkpoint is %s layout" %
                        (config.resolved_embedding_layout, layout))
    if layout and config.sharing_mode == "all":
        for field in ("num_hidden_groups", "inner_group_num"):
            if implied.get(field) is not None and implied[field] != getattr(config, field):
                problems.append("%s: config has %s, checkpoint has %s" %
                                (field, getattr(config, field), implied[field]))
    elif layout and implied.get("shared_layers"):
        problems.append("sharing_mode: config has %s, checkpoint shares all layers "
                        "(load with init_from_group0)" % config.sharing_mode)
    if layout and implied.get("has_final_layer_norm") != config.has_final_layer_norm:
        problems.append("final encoder LayerNorm: config %s one, checkpoint %s one" %
                        ("has" if config.has_final_layer_norm else "has no",
                         "has" if implied.get("has_final_layer_norm") else "has no"))
    return problems


def config_for_checkpoint(config, path):
    """The config with its embedding layout taken from a checkpoint.

    A config that does not say ``embedding_layout`` gets the checkpoint's;
    one that says a different layout is an error.

    Args:
      config: modeling.AlbertConfig.
      path: any accepted checkpoint path (or None: config returned as is).

    Returns:
      an AlbertConfig.

    Raises:
      CheckpointMismatchError: when the config names another layout.
    """
    if not path:
        return config
    layout = detect_dialect(name for name, _ in list_variables(path))
    if layout is None or layout == config.resolved_embedding_layout:
        return config
    if config.embedding_layout is not None:
        raise CheckpointMismatchError(
            "%s is a %s-layout checkpoint but the config sets embedding_layout=%s" %
            (resolve_checkpoint(path), layout, config.embedding_layout))
    return config.copy(embedding_layout=layout)


# Newly initialised variables named in the one-line load summary.
_NEW_LISTED = 8


class LoadReport(object):
    """What ``init_from_checkpoint`` did, variable by variable."""

    def __init__(self, checkpoint):
        self.checkpoint = checkpoint
        self.loaded = []  # (graph name, checkpoint name, shape)
        self.missing = []  # graph names absent from the checkpoint
        self.allowed_missing = []  # missing but allowed (newly initialised)
        self.shape_mismatches = []  # (graph name, graph shape, checkpoint shape)
        self.unexpected = []  # checkpoint model variables nothing loaded
        self.ignored = []  # optimizer slots, global_step, ...
        self.dialect = None

    @property
    def newly_initialized(self):
        """Graph variables that keep their initial value, with the reason."""
        out = [(n, "not in checkpoint (allowed: new for this task)") for n in self.allowed_missing]
        out += [(n, "not in checkpoint") for n in self.missing]
        out += [
            (n, "shape %s in graph, %s in checkpoint" % (g, c)) for n, g, c in self.shape_mismatches
        ]
        return out

    @property
    def ok(self):
        """True when nothing is missing or mismatched (beyond what was allowed)."""
        return not self.missing and not self.shape_mismatches

    def summary(self):
        """One line of counts."""
        return ("%s (%s layout): %d loaded, %d newly initialised, %d missing, "
                "%d shape mismatches, %d unused in checkpoint, %d ignored" %
                (self.checkpoint, self.dialect or "unknown", len(self.loaded),
                 len(self.allowed_missing), len(self.missing), len(
                     self.shape_mismatches), len(self.unexpected), len(self.ignored)))

    def lines(self):
        """The full report, one line per variable."""
        out = [self.summary()]
        for name, ckpt_name, shape in self.loaded:
            via = "" if name == ckpt_name else " <- %s" % ckpt_name
            out.append("  loaded    %s %s%s" % (name, shape, via))
        for name, reason in self.newly_initialized:
            out.append("  NEW       %s (%s)" % (name, reason))
        for name in self.unexpected:
            out.append("  unused    %s" % name)
        for name in self.ignored:
            out.append("  ignored   %s" % name)
        return out

    def log(self, verbose=False, report_file=None):
        """Writes the report to tf.logging.

        One summary line, plus the newly initialised variables when there are
        few; every variable only with ``verbose``. Variables that are new
        without being allowed are warnings.

        Args:
          verbose: log one line per variable.
          report_file: also write the full report to this file (its name is
            then given in the summary line).
        """
        lines = self.lines()
        summary = lines[0]
        if report_file:
            try:
                tf.gfile.MakeDirs(os.path.dirname(report_file) or ".")
                with tf.gfile.GFile(report_file, "w") as writer:
                    writer.write("\n".join(lines) + "\n")
                summary += "; every variable listed in %s" % report_file
            except tf.errors.OpError as e:
                tf.logging.warning("%s: cannot write the load report: %s", report_file, e.message)
        new = [name for name, _ in self.newly_initialized]
        if new and not verbose and len(new) <= _NEW_LISTED:
            summary += "; newly initialised: %s" % ", ".join(new)
        tf.logging.info("Initialised from %s", summary)
        for line in lines[1:]:
            if line.startswith("  NEW") and "allowed" not in line:
                tf.logging.warning(line)
            elif verbose:
                tf.logging.info(line)


def _group0_candidates(name):
    """Checkpoint names a layer variable may fall back to (init_from_group0)."""
    out = []
    google = re.sub(r"/group_\d+/", "/group_0/", name)
    google = re.sub(r"/inner_group_\d+/", "/inner_group_0/", google)
    google = re.sub(r"/attention_\d+/", "/attention_1/", google)
    google = re.sub(r"/ffn_\d+/", "/ffn_1/", google)
    if google != name:
        out.append(google)
    if re.search(r"/layer_\d+/", name):
        out.append(re.sub(r"/layer_\d+/", "/layer_shared/", name))
        out.append(re.sub(r"/layer_\d+/", "/layer_0/", name))
    return out


def _matches_any(name, patterns):
    if patterns is True:
        return True
    return any(re.search(p, name) for p in (patterns or ()))


def _graph_name(var):
    """A variable's checkpoint name (no ``:0``, no mirrored ``/replica_N``)."""
    name = var.op.name if hasattr(var, "op") else var.name
    if name.endswith(":0"):
        name = name[:-2]
    return re.sub(r"/replica_\d+$", "", name)


def build_assignment(variables, ckpt_shapes, checkpoint, allow_missing=None, init_from_group0=False,
                     name_map=None):
    """Matches graph variables to checkpoint variables without touching the graph.

    Args:
      variables: list of tf.Variable to initialise.
      ckpt_shapes: dict checkpoint name -> shape list.
      checkpoint: checkpoint prefix (for the report).
      allow_missing: regexes of graph names that may be absent (or True).
      init_from_group0: let unshared / multi-group layers fall back to the
        shared (group 0 / layer_shared) weights of the checkpoint.
      name_map: optional callable graph name -> checkpoint name.

    Returns:
      (assignment list of (checkpoint name, variable), LoadReport).
    """
    report = LoadReport(checkpoint)
    report.dialect = detect_dialect(ckpt_shapes)
    used = set()
    assignment = []
    for var in variables:
        name = _graph_name(var)
        wanted = name_map(name) if name_map else name
        shape = var.shape.as_list()
        candidates = [wanted]
        if init_from_group0:
            candidates += _group0_candidates(wanted)
        found = next((c for c in candidates if c in ckpt_shapes), None)
        if found is None:
            if _matches_any(name, allow_missing):
                report.allowed_missing.append(name)
            else:
                report.missing.append(name)
            continue
        if list(ckpt_shapes[found]) != shape:
            report.shape_mismatches.append((name, shape, list(ckpt_shapes[found])))
            used.add(found)
            continue
        used.add(found)
        assignment.append((found, var))
        report.loaded.append((name, found, shape))
    for ckpt_name in sorted(ckpt_shapes):
        if is_ignored_variable(ckpt_name):
            report.ignored.append(ckpt_name)
        elif ckpt_name not in used:
            report.unexpected.append(ckpt_name)
    return assignment, report


def _mismatch_message(report, graph_layout=None):
    parts = []
    if report.missing:
        shown = ", ".join(report.missing[:6])
        more = " and %d more" % (len(report.missing) - 6) if len(report.missing) > 6 else ""
        parts.append("%d model variable(s) missing from the checkpoint: %s%s" %
                     (len(report.missing), shown, more))
    if report.shape_mismatches:
        shown = ", ".join("%s %s vs %s" % m for m in report.shape_mismatches[:4])
        parts.append("%d shape mismatch(es) (graph vs checkpoint): %s" %
                     (len(report.shape_mismatches), shown))
    hint = ""
    if graph_layout and report.dialect and graph_layout != report.dialect:
        hint = (" (the checkpoint is %s layout but the model is built with the %s layout: "
                "set embedding_layout=%s in the config or leave it out)" %
                (report.dialect, graph_layout, report.dialect))
    return "%s: %s%s" % (report.checkpoint, "; ".join(parts), hint)


def init_from_checkpoint(init_checkpoint, variables=None, allow_missing=None,
                         allow_shape_mismatch=False, init_from_group0=False, graph_layout=None,
                         name_map=None, log=True, verbose=False, report_file=None):
    """Initialises graph variables from a checkpoint and reports what happened.

    Must be called while building the graph (before variables are
    initialised); it rewires the variables' initialisers, as
    ``tf.train.init_from_checkpoint`` does.

    Args:
      init_checkpoint: any path ``resolve_checkpoint`` accepts.
      variables: variables to initialise (default: all global variables that
        are not optimizer slots or ``global_step``).
      allow_missing: regexes of graph variable names that may be absent from
        the checkpoint (e.g. a new classifier head), or True for all.
      allow_shape_mismatch: keep mismatched variables at their initial value
        instead of raising.
      init_from_group0: initialise unshared/multi-group layers from the shared
        weights of the checkpoint (Google's ``--init_from_group0``).
      graph_layout: embedding layout of the model, for the error message
        (default: detected from the graph variable names).
      name_map: optional callable graph name -> checkpoint name.
      log: write the report to tf.logging (one summary line).
      verbose: log every variable of the report.
      report_file: also write the full report to this file.

    Returns:
      LoadReport.

    Raises:
      CheckpointError: when the checkpoint cannot be found or read.
      CheckpointMismatchError: when model variables are missing or have the
        wrong shape and that is not allowed.
    """
    original = check_checkpoint_complete(init_checkpoint)
    prefix = _float32_view(original)
    ckpt_shapes = dict(list_variables(prefix))
    if variables is None:
        variables = [v for v in tf.global_variables() if not is_ignored_variable(_graph_name(v))]
    assignment, report = build_assignment(variables, ckpt_shapes, original, allow_missing,
                                          init_from_group0, name_map)
    if graph_layout is None:
        graph_layout = detect_dialect(_graph_name(v) for v in variables)
    if report.missing or (report.shape_mismatches and not allow_shape_mismatch):
        if log:
            report.log(verbose, report_file)
        raise CheckpointMismatchError(_mismatch_message(report, graph_layout))
    # One init_from_checkpoint call per distinct mapping round, because a
    # checkpoint entry may feed several graph variables (group-0 fan-out).
    rounds = []
    for ckpt_name, var in assignment:
        for round_map in rounds:
            if ckpt_name not in round_map:
                round_map[ckpt_name] = var
                break
        else:
            rounds.append({ckpt_name: var})
    for round_map in rounds:
        tf.train.init_from_checkpoint(prefix, round_map)
    if log:
        report.log(verbose, report_file)
    return report


# Where the variables of a TF1 Hub module sit in a graph that applies it
# (hub.Module's default name): a model fine-tuned from a module saves its
# encoder as "module/bert/...".
HUB_MODULE_SCOPE = "module/"


def fine_tuned_saver(checkpoint, variables=None):
    """A Saver that restores a fine-tuned checkpoint into an export graph.

    The export graphs build the encoder as ``bert/...``; a model fine-tuned
    from a TF1 Hub module saved it as ``module/bert/...`` (with the module's
    unused ``module/cls/...`` heads). Each graph variable is read from its
    own name, else from its name under ``module/``.

    Args:
      checkpoint: the fine-tuned checkpoint prefix.
      variables: graph variables to restore (default: all global ones).

    Returns:
      tf.train.Saver.
    """
    if variables is None:
        variables = tf.global_variables()
    names = set(name for name, _ in list_variables(checkpoint))
    var_list = {}
    for var in variables:
        name = _graph_name(var)
        if name not in names and HUB_MODULE_SCOPE + name in names:
            name = HUB_MODULE_SCOPE + name
        var_list[name] = var
    return tf.train.Saver(var_list)


def estimator_restores_own_checkpoint(run_config):
    """True when an Estimator with ``run_config`` restores its model_dir's
    latest checkpoint, which then overrides any ``init_checkpoint`` (a
    resumed run, or a later training round of the same run)."""
    model_dir = getattr(run_config, "model_dir", None)
    return bool(model_dir) and tf.train.latest_checkpoint(model_dir) is not None


# ---------------------------------------------------------------------------
# Step checkpoints in a training directory (shared by the run_* scripts).
# ---------------------------------------------------------------------------

_STEP_CHECKPOINT_RE = re.compile(r"^model\.ckpt-(\d+)\.index$")
_CHECKPOINT_FILE_RE = re.compile(r"\.(index|meta|data-\d+-of-\d+)$")


def step_checkpoints(directory):
    """``[(step, prefix)]`` of the ``model.ckpt-N`` checkpoints in a directory, by step."""
    out = []
    if not tf.gfile.IsDirectory(directory):
        return out
    for name in tf.gfile.ListDirectory(directory):
        match = _STEP_CHECKPOINT_RE.match(name)
        if match:
            out.append((int(match.group(1)), os.path.join(directory, name[:-len(".index")])))
    return sorted(out)


def global_step_of(prefix):
    """The ``global_step`` stored in a checkpoint, or -1 when it has none."""
    reader = tf.train.NewCheckpointReader(prefix)
    if reader.has_tensor("global_step"):
        return int(reader.get_tensor("global_step"))
    return -1


def copy_checkpoint(src_prefix, dst_prefix):
    """Copies a checkpoint's files to another prefix (e.g. ``model.ckpt-best``).

    Old files of ``dst_prefix`` are removed first; each file is copied under a
    temporary name and renamed, the ``.index`` last, so a reader never sees a
    half-written checkpoint.

    Args:
      src_prefix: existing checkpoint prefix.
      dst_prefix: new prefix.
    """
    for old in tf.gfile.Glob(dst_prefix + ".*"):
        tf.gfile.Remove(old)
    sources = [f for f in tf.gfile.Glob(src_prefix + ".*") if _CHECKPOINT_FILE_RE.search(f)]
    sources.sort(key=lambda f: f.endswith(".index"))
    for source in sources:
        suffix = source[len(src_prefix):]
        tmp = dst_prefix + suffix + ".tmp"
        tf.gfile.Copy(source, tmp, overwrite=True)
        tf.gfile.Rename(tmp, dst_prefix + suffix, overwrite=True)


def prune_checkpoints(directory, keep, protect=()):
    """Deletes all but the newest ``keep`` step checkpoints (0 keeps all).

    Args:
      directory: the training directory.
      keep: how many of the newest step checkpoints to keep; 0 keeps all.
      protect: prefixes never deleted (e.g. the one being evaluated).
    """
    checkpoints = step_checkpoints(directory)
    if not keep or len(checkpoints) <= keep:
        return
    doomed = [prefix for _, prefix in checkpoints[:-keep] if prefix not in protect]
    for prefix in doomed:
        for path in tf.gfile.Glob(prefix + ".*"):
            tf.gfile.Remove(path)
    kept = [prefix for _, prefix in step_checkpoints(directory)]
    if kept:
        tf.train.update_checkpoint_state(directory, kept[-1], all_model_checkpoint_paths=kept)


# What TensorFlow's savers and ``copy_checkpoint`` write before renaming into
# place: ``checkpoint.tmp<hex>``, ``model.ckpt-N.meta.tmp<hex>``,
# ``model.ckpt-best.index.tmp``, and the directories the data shards are
# written to, ``model.ckpt-N_temp_<hex>/`` (TF 1.x) or ``model.ckpt-N_temp/``.
_STALE_FILE_RE = re.compile(r"^(checkpoint|graph\.pbtxt|.+\.(meta|index|data-\d+-of-\d+))"
                            r"\.tmp([0-9a-f]{32})?$")
_STALE_DIR_RE = re.compile(r"^.+\.ckpt(-\w+)?_temp(_[0-9a-f]{32})?$")


def float_dtypes(path):
    """The set of floating dtype names of a checkpoint's tensors ("float32", ...)."""
    reader = tf.train.load_checkpoint(resolve_checkpoint(path))
    return set(
        dtype.name for dtype in reader.get_variable_to_dtype_map().values() if dtype.is_floating)


def write_checkpoint(tensors, prefix):
    """Writes ``{name: numpy array}`` as a checkpoint at ``prefix``.

    The files are written under a temporary prefix in the same directory and
    renamed into place when complete.

    Args:
      tensors: variable name -> numpy array.
      prefix: the checkpoint prefix to write.

    Returns:
      The list of files written.
    """
    import numpy as np  # pylint: disable=g-import-not-at-top
    directory = os.path.dirname(prefix) or "."
    tf.gfile.MakeDirs(directory)
    tmp_prefix = script_utils.temporary_name(os.path.join(directory, os.path.basename(prefix)))
    with tf.Graph().as_default():
        variables = []
        for name in sorted(tensors):
            value = np.asarray(tensors[name])
            placeholder = tf.placeholder(tf.as_dtype(value.dtype), value.shape)
            variables.append((tf.Variable(placeholder, name=name,
                                          trainable=False), placeholder, value))
        with tf.Session() as session:
            for variable, placeholder, value in variables:
                session.run(variable.initializer, {placeholder: value})
            tf.train.Saver([v for v, _, _ in variables],
                           write_version=2).save(session, tmp_prefix, write_meta_graph=False,
                                                 write_state=False)
    written = []
    try:
        for tmp in sorted(tf.gfile.Glob(tmp_prefix + ".*"), key=lambda f: f.endswith(".index")):
            final = prefix + tmp[len(tmp_prefix):]
            tf.gfile.Rename(tmp, final, overwrite=True)
            written.append(final)
    finally:
        for leftover in tf.gfile.Glob(tmp_prefix + ".*"):
            tf.gfile.Remove(leftover)
    return written


_VIEWS = {}


def _temporary_copy(prefix, purpose, tensors):
    """Writes ``tensors`` as a checkpoint in a temporary directory removed at
    exit; returns its prefix (one per ``prefix`` and ``purpose``)."""
    key = (prefix, purpose)
    if key not in _VIEWS:
        import atexit  # pylint: disable=g-import-not-at-top
        import shutil  # pylint: disable=g-import-not-at-top
        import tempfile  # pylint: disable=g-import-not-at-top
        directory = tempfile.mkdtemp(prefix="albert_%s_" % purpose)
        atexit.register(shutil.rmtree, directory, True)
        copy = os.path.join(directory, os.path.basename(prefix))
        write_checkpoint(tensors(), copy)
        _VIEWS[key] = copy
    return _VIEWS[key]


def _float32_view(prefix):
    """``prefix`` itself, or for a checkpoint with float16/bfloat16 tensors (an
    ``export.py --dtype=float16`` checkpoint) a float32 copy in a temporary
    directory removed at exit, so that it initialises float32 graphs."""
    if not (float_dtypes(prefix) - {"float32", "float64"}):
        return prefix

    def tensors():
        import numpy as np  # pylint: disable=g-import-not-at-top
        reader = tf.train.load_checkpoint(prefix)
        out = {}
        for name, dtype in reader.get_variable_to_dtype_map().items():
            value = reader.get_tensor(name)
            if dtype.is_floating and dtype.name not in ("float32", "float64"):
                value = np.asarray(value, dtype=np.float32)
            out[name] = value
        tf.logging.info("%s holds float16 tensors: loading them as float32", prefix)
        return out

    return _temporary_copy(prefix, "float32", tensors)


def is_hub_fine_tuned(path):
    """True for a checkpoint fine-tuned from a TF1 Hub module: its encoder is
    saved as ``module/bert/...`` and there is no ``bert/...``."""
    names = [name for name, _ in list_variables(path)]
    return (any(n.startswith(HUB_MODULE_SCOPE + "bert/") for n in names) and
            not any(n.startswith("bert/") for n in names))


def hub_fine_tuned_view(path):
    """A checkpoint fine-tuned from a TF1 Hub module, with the module's
    variables under their own names (``module/bert/...`` -> ``bert/...``,
    ``module/cls/...`` -> ``cls/...`` unless the checkpoint has that name);
    any other checkpoint is returned as it is.

    The copy is written to a temporary directory removed at exit, so that
    code expecting the usual names (the export graphs, config checks) reads
    it like any other checkpoint.

    Args:
      path: any path ``resolve_checkpoint`` accepts.

    Returns:
      A checkpoint prefix.
    """
    prefix = resolve_checkpoint(path)
    if not is_hub_fine_tuned(prefix):
        return prefix

    def tensors():
        reader = tf.train.load_checkpoint(prefix)
        names = list(reader.get_variable_to_shape_map())
        out = {}
        for name in names:
            if not name.startswith(HUB_MODULE_SCOPE):
                out[name] = reader.get_tensor(name)
        for name in names:
            own = name[len(HUB_MODULE_SCOPE):]
            if name.startswith(HUB_MODULE_SCOPE) and own not in out:
                out[own] = reader.get_tensor(name)
        tf.logging.info(
            "%s was fine-tuned from a TF Hub module: reading its %s... variables "
            "under their own names", prefix, HUB_MODULE_SCOPE)
        return out

    return _temporary_copy(prefix, "hub_view", tensors)


def remove_stale_temporaries(directory):
    """Removes checkpoint files a killed run left half-written in ``directory``.

    Call it before training starts (on the chief only): a run in progress in
    the same directory would lose what it is writing.

    Args:
      directory: a training output directory.

    Returns:
      The names removed.
    """
    removed = []
    if not tf.gfile.IsDirectory(directory):
        return removed
    for name in sorted(tf.gfile.ListDirectory(directory)):
        name = name.rstrip("/")
        path = os.path.join(directory, name)
        if tf.gfile.IsDirectory(path):
            if _STALE_DIR_RE.match(name):
                tf.gfile.DeleteRecursively(path)
                removed.append(name + "/")
        elif _STALE_FILE_RE.match(name):
            tf.gfile.Remove(path)
            removed.append(name)
    return removed


def check_checkpoint_complete(path):
    """Checks that a checkpoint's index and data files are all there and whole.

    Compares the bytes the index says the tensors take with the size of the
    data shards, which catches a truncated copy or a half-downloaded file
    before TensorFlow fails on it in the middle of a restore.

    Args:
      path: any path ``resolve_checkpoint`` accepts.

    Returns:
      The checkpoint prefix.

    Raises:
      CheckpointError: naming the file and the problem.
    """
    prefix = resolve_checkpoint(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as e:  # pylint: disable=broad-except
        raise CheckpointError("%s.index: cannot read the checkpoint index (damaged or "
                              "truncated file?): %s" % (prefix, str(e).split("\n")[0]))
    data_files = sorted(tf.gfile.Glob(prefix + ".data-*-of-*"))
    if not data_files and shapes:
        raise CheckpointError("%s: the .data-* file is missing (only the .index is "
                              "there)" % prefix)
    if data_files:
        match = re.search(r"\.data-\d+-of-(\d+)$", data_files[0])
        shards = int(match.group(1))
        if len(data_files) < shards:
            raise CheckpointError("%s: %d of %d .data-*-of-%05d files are missing" %
                                  (prefix, shards - len(data_files), shards, shards))
    needed = 0
    for name, shape in six.iteritems(shapes):
        dtype = dtypes.get(name)
        if dtype is None or dtype == tf.string:
            continue
        count = 1
        for dim in shape:
            count *= dim
        needed += count * dtype.size
    have = sum(tf.gfile.Stat(f).length for f in data_files)
    if have < needed:
        shown = data_files[0] if len(data_files) == 1 else prefix + ".data-*"
        raise CheckpointError("%s is truncated: it holds %d bytes, its index needs %d "
                              "(copy or download the checkpoint again)" % (shown, have, needed))
    return prefix


def _format_inspection(path, variables, config=None):
    lines = []
    prefix = resolve_checkpoint(path)
    lines.append("checkpoint: %s" % prefix)
    implied = implied_config(variables)
    total = 0
    model_total = 0
    width = max([len(n) for n, _ in variables] + [10])
    for name, shape in variables:
        count = 1
        for dim in shape:
            count *= dim
        total += count
        tag = "  (ignored)" if is_ignored_variable(name) else ""
        if not tag:
            model_total += count
        lines.append("  %-*s %-18s %s%s" % (width, name, shape, count, tag))
    lines.append("variables: %d, parameters: %d (model: %d)" % (len(variables), total, model_total))
    lines.append("dialect: %s" % (implied.get("embedding_layout") or "unknown"))
    lines.append("implied config:")
    for key, value in implied.items():
        if key == "embedding_layout":
            continue
        lines.append("  %s: %s" % (key, value))
    if config is not None:
        problems = check_config_against_checkpoint(config, prefix)
        # pylint: disable=protected-access
        name = "config %s" % config._source if config._source else "config"
        if problems:
            lines.append("%s DISAGREES:" % name)
            lines.extend("  " + p for p in problems)
        else:
            lines.append("%s agrees with the checkpoint" % name)
    return lines


def main(argv=None):
    """Command line: ``inspect PATH [--config FILE]``."""
    parser = argparse.ArgumentParser(
        prog="checkpoint_utils.py",
        description="Inspect ALBERT checkpoints (brightmart or Google layout).")
    sub = parser.add_subparsers(dest="command")
    inspect = sub.add_parser("inspect",
                             help="list variables with shapes, the dialect and the implied config")
    inspect.add_argument("path", help="checkpoint prefix, directory, or 'checkpoint' file")
    inspect.add_argument("--config", default=None,
                         help="optional model config JSON to compare with the checkpoint")
    args = parser.parse_args(argv)
    if args.command != "inspect":
        parser.print_help()
        return 2
    try:
        config = None
        if args.config:
            import modeling  # pylint: disable=g-import-not-at-top
            config = modeling.AlbertConfig.from_json_file(args.config)
        variables = list_variables(args.path)
        for line in _format_inspection(args.path, variables, config):
            print(line)
    except (CheckpointError, ValueError, IOError, OSError, tf.errors.OpError) as e:
        message = e.message if isinstance(e, tf.errors.OpError) else str(e)
        sys.stderr.write("error: %s\n" % message.strip().split("\n")[0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
