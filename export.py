# coding=utf-8
"""Exports ALBERT checkpoints for deployment and for other ecosystems.

    python export.py --format=checkpoint --checkpoint=out/pretrain --output=albert_min
    python export.py --format=tflite --checkpoint=lcqmc_output --output=lcqmc.tflite
    python export.py --format=hub --checkpoint=albert_tiny_zh --output=albert_tiny_hub
    python export.py --format=hf --checkpoint=albert_google_zh --output=albert_hf
    python export.py --from_hf=albert_hf --format=checkpoint --output=albert_back

Formats:

* ``checkpoint``: the model and head variables only (no optimizer slots, no
  global step unless --keep_global_step), float32 or --dtype=float16, with
  the config (``albert_config.json``) and the vocabulary copied beside
  ``albert_model.ckpt``; it loads wherever a released checkpoint loads
  (float16 tensors are read back as float32).
* ``tflite``: a TensorFlow Lite model of the encoder, the pretraining heads
  (MLM logits at given positions and SOP), a fine-tuned classifier
  (probabilities) or SQuAD model (start/end logits) -- ``--kind``, detected
  from the checkpoint by default; fixed [--batch_size, --max_seq_length]
  inputs; --quantize=none|dynamic|float16. Its outputs are compared with the
  TensorFlow graph on sample inputs (run with the fastest TFLite interpreter
  installed, or --tflite_interpreter); a float model that differs by more
  than 1e-4 is not written.
* ``hub``: a TF1 Hub module with Google's signatures (tokens, sop, mlm,
  tokenization_info) for ``hub.Module(path)``.
* ``hf``: a Hugging Face ALBERT directory (config.json, model.safetensors with
  the encoder and both pretraining heads, the vocabulary and tokenizer
  files); --from_hf turns such a directory back into a checkpoint.

The input is a checkpoint prefix, a directory (model.ckpt-best, else the
latest checkpoint) or a ``checkpoint`` file, of either layout, with its
config and vocabulary given by flags or found beside it. Nothing is written
until the export is complete, and an existing output is never replaced.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import glob
import os
import re
import shutil
import tempfile

from absl import flags

import checkpoint_utils
import modeling
import script_utils
from tf_compat import tf

FLAGS = flags.FLAGS

FORMATS = ("checkpoint", "tflite", "hub", "hf")
CHECKPOINT_NAME = "albert_model.ckpt"
CONFIG_NAME = "albert_config.json"

flags.DEFINE_enum("format", None, list(FORMATS), "What to write.")
flags.DEFINE_string(
    "output", None, "The output: a directory (checkpoint, hub, hf) or a .tflite file. It must "
    "not exist yet.")
flags.DEFINE_string(
    "checkpoint", None,
    "The checkpoint to export: a prefix, a directory (model.ckpt-best, else the "
    "latest) or a 'checkpoint' file.")
flags.DEFINE_string(
    "from_hf", None, "A Hugging Face ALBERT directory (config.json, model.safetensors) to turn "
    "into a checkpoint of this project (with --format=checkpoint).")
flags.DEFINE_string(
    "albert_config_file", None,
    "Model config JSON (default: albert_config*.json / bert_config*.json / "
    "config.json beside the checkpoint). Alias --bert_config_file.")
flags.DEFINE_alias("bert_config_file", "albert_config_file")
flags.DEFINE_string("vocab_file", None,
                    "WordPiece vocab.txt (default: vocab*.txt beside the checkpoint).")
flags.DEFINE_string("spm_model_file", None,
                    "SentencePiece model (default: *.model beside the checkpoint).")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the input (tokenizer settings written out).")
flags.DEFINE_enum("dtype", "float32", ["float32", "float16"],
                  "checkpoint: the floating dtype of the written tensors.")
flags.DEFINE_bool("keep_global_step", False, "checkpoint: keep the global_step variable.")
flags.DEFINE_enum(
    "kind", "auto", ["auto", "encoder", "pretraining", "classifier", "squad"],
    "tflite: what the model computes (auto: a classifier or SQuAD head when the "
    "checkpoint has one, else the pretraining heads when present, else the "
    "encoder).")
flags.DEFINE_enum(
    "quantize", "none", ["none", "dynamic", "float16", "bfloat16"],
    "tflite: weight quantization (dynamic: int8 weights; float16: float16 "
    "weights). bfloat16 is refused with the reason: TensorFlow Lite has no "
    "bfloat16 tensors or kernels.")
flags.DEFINE_enum(
    "tflite_interpreter", "auto", ["auto", "litert", "tflite_runtime", "tensorflow"],
    "tflite: the interpreter that checks the file (auto: ai_edge_litert, else "
    "tflite_runtime, else tf.lite.Interpreter, the first installed).")
flags.DEFINE_integer("max_seq_length", 128, "tflite: input length.")
flags.DEFINE_integer("batch_size", 1, "tflite: input batch size.")
flags.DEFINE_integer("num_predictions", 20, "tflite (pretraining): masked positions per input.")
flags.DEFINE_bool(
    "use_einsum", False,
    "hub: build the graph with einsum (False: the einsum-free graph that TF 1.15 "
    "and TFLite run everywhere).")

UserError = script_utils.UserError
_INPUT_ERRORS = (checkpoint_utils.CheckpointError, checkpoint_utils.CheckpointMismatchError,
                 modeling.ConfigError)

# ---------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------


def _beside(directory, patterns):
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(directory, pattern)))
        if found:
            return found[0]
    return None


def find_inputs(checkpoint, config_file=None, vocab_file=None, spm_model_file=None):
    """The checkpoint prefix, its config (layout resolved) and vocabulary.

    Args:
      checkpoint: a prefix, directory or 'checkpoint' file.
      config_file, vocab_file, spm_model_file: given files, else the ones
        found beside the checkpoint.

    Returns:
      (prefix, source, modeling.AlbertConfig, vocab_file or None,
      spm_model_file or None): source is the checkpoint's own prefix; prefix
      is the same, or for a checkpoint fine-tuned from a TF Hub module
      ``checkpoint_utils.hub_fine_tuned_view``'s copy with the usual names.

    Raises:
      UserError: for a missing or damaged checkpoint, no config, a config
        that does not match the checkpoint.
    """
    try:
        prefix = checkpoint_utils.check_checkpoint_complete(checkpoint)
        hub_fine_tuned = checkpoint_utils.is_hub_fine_tuned(prefix)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    directory = os.path.dirname(prefix) or "."
    config_file = config_file or _beside(
        directory, ["albert_config*.json", "bert_config*.json", "config.json"])
    if not config_file:
        raise UserError("%s: no model config beside the checkpoint; give --albert_config_file%s" %
                        (directory, " (fine-tuned from a TF Hub module: the module's "
                         "assets/albert_config.json)" if hub_fine_tuned else ""))
    source = prefix
    if hub_fine_tuned:
        try:
            prefix = checkpoint_utils.hub_fine_tuned_view(prefix)
        except _INPUT_ERRORS as e:
            raise UserError(str(e))
        except (IOError, OSError, tf.errors.OpError) as e:
            raise UserError("%s: cannot write its copy with the usual variable names to the "
                            "temporary directory %s (set TMPDIR elsewhere): %s" %
                            (source, tempfile.gettempdir(), str(e).split("\n")[0]))
    try:
        config = modeling.AlbertConfig.from_json_file(config_file)
        config = checkpoint_utils.config_for_checkpoint(config, prefix)
        problems = checkpoint_utils.check_config_against_checkpoint(config, prefix)
    except _INPUT_ERRORS as e:
        raise UserError(str(e))
    if problems:
        raise UserError("%s does not match %s: %s" % (config_file, source, "; ".join(problems)))
    if not vocab_file and not spm_model_file:
        vocab_file = _beside(directory, ["vocab*.txt"])
        if not vocab_file:
            spm_model_file = _beside(directory, ["*.model"])
    for name, path in (("--vocab_file", vocab_file), ("--spm_model_file", spm_model_file)):
        if path and not os.path.isfile(path):
            raise UserError("%s=%s: no such file" % (name, path))
    return prefix, source, config, vocab_file, spm_model_file


def check_output(output, inputs):
    """Refuses an output that exists or is one of the inputs."""
    if not output:
        raise UserError("give --output")
    absolute = os.path.realpath(os.path.abspath(output))
    for path in inputs:
        if path and (absolute == os.path.realpath(os.path.abspath(path)) or
                     os.path.realpath(os.path.abspath(path)).startswith(absolute + os.sep)):
            raise UserError("--output=%s is one of the inputs (%s)" % (output, path))
    if os.path.lexists(output):
        raise UserError("--output=%s exists; choose a new path (exports never replace "
                        "anything)" % output)
    parent = os.path.dirname(absolute)
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise UserError("--output=%s: %s is a file, not a directory" % (output, parent))


def _size(paths):
    return sum(os.path.getsize(p) for p in paths if os.path.isfile(p))


def _checkpoint_files(prefix):
    return [f for f in tf.gfile.Glob(prefix + ".*") if not f.endswith(".tmp")]


def _copy_vocab(vocab_file, spm_model_file, directory):
    for path in (vocab_file, spm_model_file):
        if path:
            shutil.copyfile(path, os.path.join(directory, os.path.basename(path)))
            vocab_base = os.path.splitext(path)[0] + ".vocab"
            if path == spm_model_file and os.path.isfile(vocab_base):
                shutil.copyfile(vocab_base, os.path.join(directory, os.path.basename(vocab_base)))


class _Staging(object):
    """A temporary directory next to ``output``, renamed to it when complete."""

    def __init__(self, output):
        self.output = output.rstrip("/\\") or output
        parent = os.path.dirname(os.path.abspath(self.output))
        if not os.path.isdir(parent):
            os.makedirs(parent)
        self.path = script_utils.temporary_name(os.path.abspath(self.output))

    def __enter__(self):
        if os.path.isdir(self.path):
            shutil.rmtree(self.path)
        os.makedirs(self.path)
        return self.path

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            os.rename(self.path, self.output)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


# ---------------------------------------------------------------------------
# Formats.
# ---------------------------------------------------------------------------


def export_checkpoint(prefix, config, output, vocab_file=None, spm_model_file=None, dtype="float32",
                      keep_global_step=False):
    """Writes the model and head variables of ``prefix`` to ``output/albert_model.ckpt``.

    Optimizer slots (adam_m/v, lamb_m/v), loss-scale bookkeeping and (unless
    kept) global_step are left out; floating tensors are cast to ``dtype``.
    The config and vocabulary are copied beside it.

    Returns:
      dict: ``variables`` written, ``dropped`` names, ``bytes_before``,
      ``bytes_after``, ``prefix`` written.
    """
    import numpy as np  # pylint: disable=g-import-not-at-top
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    tensors, dropped = {}, []
    for name in sorted(dtypes):
        if name == "global_step" and keep_global_step:
            tensors[name] = reader.get_tensor(name)
            continue
        if checkpoint_utils.is_ignored_variable(name):
            dropped.append(name)
            continue
        value = reader.get_tensor(name)
        if dtypes[name].is_floating:
            value = np.asarray(value, dtype=np.float16 if dtype == "float16" else np.float32)
        tensors[name] = value
    with _Staging(output) as staging:
        checkpoint_utils.write_checkpoint(tensors, os.path.join(staging, CHECKPOINT_NAME))
        config.to_json_file(os.path.join(staging, CONFIG_NAME))
        _copy_vocab(vocab_file, spm_model_file, staging)
    written = os.path.join(output, CHECKPOINT_NAME)
    return {
        "variables": len(tensors),
        "dropped": dropped,
        "bytes_before": _size(_checkpoint_files(prefix)),
        "bytes_after": _size(_checkpoint_files(written)),
        "prefix": written
    }


_SQUAD_V2_HEAD = re.compile(r"^(start_logits|end_logits|answer_class)/")
_SQUAD_V1_HEAD = re.compile(r"^cls/squad/")
_PRETRAINING_HEAD = re.compile(r"^cls/(predictions|seq_relationship)/")


def detect_kind(prefix, directory=None):
    """What a checkpoint computes, from its variable names (and a
    ``label_list.txt`` in ``directory``, default the checkpoint's).

    Returns:
      (kind, num_labels, version_2_with_negative): kind is "squad" (run_squad),
      "classifier" (run_classifier's output_weights/output_bias; num_labels
      from their shape -- a run_multiple_choice model has one output and is
      exported as the per-option scorer), "pretraining" (cls/predictions and
      cls/seq_relationship) or "encoder".

    Raises:
      UserError: a run_ner.py model (a tagger has no TFLite kind here).
    """
    shapes = dict(checkpoint_utils.list_variables(prefix))
    names = list(shapes)
    if any(_SQUAD_V2_HEAD.search(n) for n in names):
        return "squad", None, True
    if any(_SQUAD_V1_HEAD.search(n) for n in names):
        return "squad", None, False
    if "output_bias" in shapes:
        directory = directory or os.path.dirname(prefix) or "."
        if "crf/transitions" in shapes or os.path.isfile(os.path.join(directory, "label_list.txt")):
            raise UserError("%s is a run_ner.py tagger: TFLite export covers the encoder, the "
                            "pretraining heads, classifiers and SQuAD; use --kind=encoder for "
                            "its encoder" % prefix)
        return "classifier", int(shapes["output_bias"][0]), False
    if any(_PRETRAINING_HEAD.search(n) for n in names):
        return "pretraining", None, False
    return "encoder", None, False


def _log_conversion(report):
    tf.logging.info("Wrote %s", report.summary())
    for note in report.notes:
        tf.logging.info("Note: %s", note)


def _megabytes(size):
    return "%.2f MB" % (size / 1e6)


def main(argv):
    if len(argv) > 1:
        raise UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    f = FLAGS
    tf.logging.set_verbosity(tf.logging.INFO)
    if not f.format:
        raise UserError("give --format (%s)" % ", ".join(FORMATS))
    if f.quantize == "bfloat16":
        raise UserError("--quantize=bfloat16: TensorFlow Lite has no bfloat16 tensors or "
                        "kernels; --quantize=float16 halves the file (float16 weights) and "
                        "--quantize=dynamic quarters it (int8 weights)")
    if f.from_hf:
        if f.format != "checkpoint":
            raise UserError("--from_hf writes a checkpoint: use --format=checkpoint")
        check_output(f.output, [f.from_hf])
        import hf_convert  # pylint: disable=g-import-not-at-top
        try:
            with _Staging(f.output) as staging:
                report = hf_convert.hf_to_checkpoint(f.from_hf,
                                                     os.path.join(staging, CHECKPOINT_NAME))
        except (ValueError, IOError, OSError) as e:
            raise UserError(str(e))
        report.output = os.path.join(f.output, CHECKPOINT_NAME)
        _log_conversion(report)
        return 0
    if not f.checkpoint:
        raise UserError("give --checkpoint (or --from_hf with --format=checkpoint)")
    check_output(f.output, [f.checkpoint])  # before any copy find_inputs may make
    prefix, source, config, vocab_file, spm_model_file = find_inputs(f.checkpoint,
                                                                     f.albert_config_file,
                                                                     f.vocab_file, f.spm_model_file)
    check_output(f.output, [
        prefix, source, f.checkpoint,
        os.path.dirname(source), f.albert_config_file, vocab_file, spm_model_file
    ])
    if f.format == "checkpoint":
        report = export_checkpoint(prefix, config, f.output, vocab_file, spm_model_file, f.dtype,
                                   f.keep_global_step)
        tf.logging.info("Wrote %s: %d variables (%s), %s -> %s; left out %d (optimizer slots%s)",
                        report["prefix"], report["variables"], f.dtype,
                        _megabytes(report["bytes_before"]), _megabytes(report["bytes_after"]),
                        len(report["dropped"]), "" if f.keep_global_step else ", global_step")
        return 0
    if f.format == "hf":
        import hf_convert  # pylint: disable=g-import-not-at-top
        try:
            with _Staging(f.output) as staging:
                report = hf_convert.checkpoint_to_hf(prefix, config, staging, vocab_file,
                                                     spm_model_file, f.do_lower_case)
        except (ValueError, IOError, OSError) as e:
            raise UserError(str(e))
        report.output = f.output
        _log_conversion(report)
        return 0
    if f.format == "tflite":
        import tflite_export  # pylint: disable=g-import-not-at-top
        kind, num_labels, version_2 = detect_kind(prefix, os.path.dirname(source))
        if f.kind in ("classifier", "squad") and f.kind != kind:
            raise UserError("--kind=%s: %s has no %s head (its variables are those of a%s %s "
                            "model)" %
                            (f.kind, source, f.kind, "n" if kind[0] in "aeiou" else "", kind))
        if f.kind != "auto":
            kind = f.kind
        tf.logging.info("Exporting %s as a TFLite %s model%s", source, kind,
                        " (detected)" if f.kind == "auto" else "")
        try:
            report = tflite_export.export_tflite(
                kind, config, prefix, f.output, max_seq_length=f.max_seq_length,
                batch_size=f.batch_size, quantize=f.quantize, num_predictions=f.num_predictions,
                num_labels=num_labels, version_2_with_negative=version_2,
                interpreter=f.tflite_interpreter)
        except ValueError as e:
            raise UserError(str(e))
        return 0
    import hub_export  # pylint: disable=g-import-not-at-top
    try:
        with _Staging(f.output) as staging:
            report = hub_export.export_hub_module(config, prefix, staging, vocab_file,
                                                  spm_model_file, f.do_lower_case,
                                                  use_einsum=f.use_einsum)
    except (ValueError, IOError, OSError) as e:
        raise UserError(str(e))
    tf.logging.info("Wrote the TF Hub module %s: %s", f.output, hub_export.summarize(report))
    return 0


if __name__ == "__main__":
    script_utils.run(main)
