# coding=utf-8
"""TensorFlow Lite export of ALBERT checkpoints, checked against the TF graph.

``export_tflite`` builds the inference graph of a checkpoint with the
einsum-free, static-shape path of ``modeling.AlbertModel``
(``use_einsum=False``), restores the checkpoint strictly, freezes it,
converts it with ``TFLiteConverter`` (TF 1.15's TOCO, or TF 2.15's MLIR
converter through ``tf.compat.v1.lite``), runs the ``.tflite`` file with
the fastest TFLite interpreter installed (below) on sample inputs and compares
every output with the TF graph. A float model whose outputs differ by more than ``tolerance`` is
refused (``ExportError``, nothing written); quantized models are reported
with their max |Δ| and the agreement of their decisions (argmax) with the
TF graph. The file is written under a temporary name next to
``output_path`` and renamed into place only when checked.

Kinds of model:

* ``encoder``: ``input_ids``, ``input_mask``, ``segment_ids`` (int32
  [batch, max_seq_length]) -> ``sequence_output`` [batch, seq, H],
  ``pooled_output`` [batch, H]; any checkpoint of either layout.
* ``pretraining``: also ``masked_lm_positions`` [batch, num_predictions] ->
  ``masked_lm_logits`` [batch, num_predictions, vocab] (``cls/predictions``)
  and ``sentence_order_logits`` [batch, 2] (``cls/seq_relationship``), the
  heads of ``run_pretraining`` in the checkpoint's layout.
* ``classifier``: a fine-tuned ``run_classifier.py`` checkpoint ->
  ``probabilities`` [batch, num_labels] (``num_labels=1``: the regression
  score [batch, 1]).
* ``squad``: a fine-tuned ``run_squad.py`` checkpoint -> ``start_logits``,
  ``end_logits`` [batch, seq]; with ``version_2_with_negative`` also
  ``p_mask`` as input and the v2 outputs ``start_top_log_probs``,
  ``start_top_index``, ``end_top_log_probs``, ``end_top_index``,
  ``cls_logits``.

Example::

    import tflite_export
    report = tflite_export.export_tflite(
        "classifier", "albert_config/albert_config_tiny.json",
        "lcqmc_output/model.ckpt-best", "lcqmc.tflite", max_seq_length=128,
        num_labels=2, quantize="dynamic")
    print(report["file_size"], report["max_abs_diff"], report["agreement"])

Converter differences handled here:

* TF 1.15's pip wheel converts in a ``toco_from_protos`` subprocess that it
  looks up on ``PATH``; a virtualenv's Python run without activating the
  environment does not have it there, so the interpreter's own ``bin``
  directory is put on ``PATH`` for the conversion.
* TOCO (TF 1.15) aborts on ``StridedSlice`` ops that add axes
  (``x[:, tf.newaxis]``, as modeling's attention mask and position
  embeddings use). The frozen graph gets those replaced by the equivalent
  ``Reshape`` (same values: the slice takes every element in order) before
  conversion.
* TOCO folds the addition of a constant tensor (the position embeddings,
  [1, seq, width]) into the bias of a preceding fully-connected op as if it
  were a per-channel vector, which gives wrong outputs at every position but
  the first. Such additions become ``AddN`` (tiled to the sum's shape when
  they broadcast), which TOCO leaves alone.

Interpreters (``make_interpreter``): the file is run with the fastest
TFLite runtime installed, ``INTERPRETERS`` in order: ``litert``
(``ai_edge_litert``, the maintained TFLite runtime, Python 3.9+),
``tflite_runtime`` (its predecessor, the one with Python 3.7 wheels), then
``tensorflow`` (``tf.lite.Interpreter``). The first two apply XNNPACK and
thread counts; TF 1.15's own interpreter has neither (no XNNPACK, no way to
set its thread count, and about 2x slower on x86 CPUs). All run the same
file and give the same float32 outputs to rounding.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import contextlib
import copy
import importlib
import inspect
import numbers
import os
import re
import shutil
import sys

import numpy as np
import six

from tf_compat import tf
import tf_compat

import checkpoint_utils
import classifier_utils
import modeling
import run_pretraining
import script_utils
import squad_utils

KINDS = ("encoder", "pretraining", "classifier", "squad")
QUANTIZE_MODES = ("none", "dynamic", "float16")
# Random examples compared when the caller gives none.
DEFAULT_NUM_SAMPLES = 16
SEQUENCE_INPUTS = ("input_ids", "input_mask", "segment_ids")
# Log-probabilities below this are probability 0 in float32 (exp(-1e4)).
LOG_PROB_FLOOR = -1e4
# Start and end beam of the exported SQuAD v2 head (run_squad's defaults).
SQUAD_V2_TOP_N = 5
# TFLite interpreters, in the order "auto" tries them: name -> module that has
# an ``Interpreter`` class (None: TensorFlow's own tf.lite.Interpreter).
INTERPRETERS = collections.OrderedDict([("litert", "ai_edge_litert.interpreter"),
                                        ("tflite_runtime", "tflite_runtime.interpreter"),
                                        ("tensorflow", None)])
# What to install for each, when it is asked for by name and missing.
_INSTALL_HINTS = {
    "litert": "install ai-edge-litert (Python 3.9+)",
    "tflite_runtime": "install tflite-runtime (on Python 3.7 next to TensorFlow 1.15: "
                      "pip install --no-deps tflite-runtime==2.11.0, as scripts/setup.sh does)"
}


class ExportError(ValueError):
    """An export that cannot be done or whose result failed its check.

    The message is one line naming what was wrong (the kind, the checkpoint
    and the variable, the converter's own reason, or the output and its
    max |Δ|).
    """


# ---------------------------------------------------------------------------
# Arguments.
# ---------------------------------------------------------------------------


def load_config(albert_config):
    """An ``AlbertConfig`` from a config object, a dict or a JSON file path.

    Raises:
      ExportError: when the file cannot be read or the config is invalid.
    """
    if isinstance(albert_config, modeling.AlbertConfig):
        return albert_config
    if isinstance(albert_config, dict):
        try:
            return modeling.AlbertConfig.from_dict(albert_config)
        except ValueError as e:
            raise ExportError("invalid config: %s" % e)
    if isinstance(albert_config, six.string_types):
        if not os.path.isfile(albert_config):
            raise ExportError("%s: no such config file" % albert_config)
        try:
            return modeling.AlbertConfig.from_json_file(albert_config)
        except ValueError as e:
            raise ExportError(str(e).split("\n")[0])
    raise ExportError("albert_config must be an AlbertConfig, a dict or a JSON file path, "
                      "got %s" % type(albert_config).__name__)


def _check_arguments(kind, config, max_seq_length, batch_size, quantize, num_predictions,
                     num_labels, version_2_with_negative, tolerance):
    if kind not in KINDS:
        raise ExportError("unknown kind %r; expected one of %s" % (kind, ", ".join(KINDS)))
    if quantize not in QUANTIZE_MODES:
        raise ExportError("unknown quantize %r; expected one of %s" %
                          (quantize, ", ".join(QUANTIZE_MODES)))
    if not isinstance(max_seq_length, six.integer_types) or max_seq_length < 2:
        raise ExportError("max_seq_length must be an integer >= 2, got %r" % (max_seq_length,))
    if max_seq_length > config.max_position_embeddings:
        raise ExportError("max_seq_length %d exceeds the config's max_position_embeddings %d" %
                          (max_seq_length, config.max_position_embeddings))
    if not isinstance(batch_size, six.integer_types) or batch_size < 1:
        raise ExportError("batch_size must be an integer >= 1, got %r" % (batch_size,))
    if kind == "pretraining":
        if (not isinstance(num_predictions, six.integer_types) or
                not 1 <= num_predictions <= max_seq_length):
            raise ExportError("num_predictions must be an integer in [1, max_seq_length=%d], "
                              "got %r" % (max_seq_length, num_predictions))
    if kind == "classifier":
        if num_labels is None:
            raise ExportError("num_labels is required for kind 'classifier'")
        if not isinstance(num_labels, six.integer_types) or num_labels < 1:
            raise ExportError("num_labels must be an integer >= 1, got %r" % (num_labels,))
    if kind == "squad" and version_2_with_negative and max_seq_length < SQUAD_V2_TOP_N:
        raise ExportError("max_seq_length %d is shorter than the v2 head's beam (%d)" %
                          (max_seq_length, SQUAD_V2_TOP_N))
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or \
            not tolerance >= 0:
        raise ExportError("tolerance must be a number >= 0, got %r" % (tolerance,))


# ---------------------------------------------------------------------------
# Graph.
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _einsum_free_models():
    """Builds every ``modeling.AlbertModel`` made inside with ``use_einsum=False``.

    ``classifier_utils.create_model`` takes no ``use_einsum`` argument; this
    gives the classifier the same einsum-free encoder as the other kinds
    while reusing its head as it is.
    """
    original = modeling.AlbertModel

    def einsum_free(*args, **kwargs):
        kwargs["use_einsum"] = False
        return original(*args, **kwargs)

    modeling.AlbertModel = einsum_free
    try:
        yield
    finally:
        modeling.AlbertModel = original


def _create_classifier(config, inputs, num_labels):
    arguments = dict(albert_config=config, is_training=False, input_ids=inputs["input_ids"],
                     input_mask=inputs["input_mask"], segment_ids=inputs["segment_ids"],
                     labels=None, num_labels=num_labels, is_regression=num_labels == 1)
    if "use_einsum" in _parameters(classifier_utils.create_model):
        arguments["use_einsum"] = False
        return classifier_utils.create_model(**arguments)
    with _einsum_free_models():
        return classifier_utils.create_model(**arguments)


def _parameters(function):
    if six.PY2:
        return inspect.getargspec(function).args  # pylint: disable=deprecated-method
    return list(inspect.signature(function).parameters)


def input_names(kind, version_2_with_negative=False):
    """Names of the model's inputs, in order."""
    if kind == "pretraining":
        return SEQUENCE_INPUTS + ("masked_lm_positions",)
    if kind == "squad" and version_2_with_negative:
        return SEQUENCE_INPUTS + ("p_mask",)
    return SEQUENCE_INPUTS


def build_inference_graph(kind, albert_config, max_seq_length=128, batch_size=1, num_predictions=20,
                          num_labels=None, version_2_with_negative=False):
    """Builds the static-shape, einsum-free inference graph in the default graph.

    Args:
      kind: one of ``KINDS``.
      albert_config: AlbertConfig (its layout decides the variable names).
      max_seq_length: sequence length of every input.
      batch_size: static batch size.
      num_predictions: masked positions per sequence ("pretraining").
      num_labels: classes of the head ("classifier"; 1 = regression).
      version_2_with_negative: SQuAD v2 head ("squad").

    Returns:
      (inputs, outputs): OrderedDicts name -> placeholder / output tensor;
      every output is an identity op named as its key.
    """
    config = load_config(albert_config)
    inputs = collections.OrderedDict()
    for name in input_names(kind, version_2_with_negative):
        width = num_predictions if name == "masked_lm_positions" else max_seq_length
        inputs[name] = tf.placeholder(tf.int32, [batch_size, width], name=name)
    outputs = collections.OrderedDict()
    if kind == "encoder":
        model = modeling.AlbertModel(config, False, inputs["input_ids"], inputs["input_mask"],
                                     inputs["segment_ids"], use_einsum=False)
        outputs["sequence_output"] = model.get_sequence_output()
        outputs["pooled_output"] = model.get_pooled_output()
    elif kind == "pretraining":
        positions = inputs["masked_lm_positions"]
        # As run_pretraining's model_fn: the last block only at [CLS] and the
        # masked positions (same values, less work).
        output_positions = tf.concat([tf.zeros_like(positions[:, :1]), positions], axis=1)
        model = modeling.AlbertModel(config, False, inputs["input_ids"], inputs["input_mask"],
                                     inputs["segment_ids"], use_einsum=False,
                                     output_positions=output_positions)
        zeros = tf.zeros([batch_size, num_predictions], tf.int32)
        _, _, mlm_log_probs = run_pretraining.get_masked_lm_output(
            config,
            model.get_output_at_positions()[:, 1:, :], model.get_embedding_table(),
            model.get_embedding_projection(), None, zeros, tf.ones_like(zeros, tf.float32))
        _, _, sop_log_probs = run_pretraining.get_sentence_order_output(
            config, model.get_pooled_output(), tf.zeros([batch_size], tf.int32))
        outputs["masked_lm_logits"] = tf.reshape(_logits_of(mlm_log_probs),
                                                 [batch_size, num_predictions, config.vocab_size])
        outputs["sentence_order_logits"] = _logits_of(sop_log_probs)
    elif kind == "classifier":
        model_outputs = _create_classifier(config, inputs, num_labels)
        outputs["probabilities"] = model_outputs.probabilities
    elif kind == "squad":
        _, heads = squad_utils.create_model(config, False, dict(inputs), version_2_with_negative,
                                            use_einsum=False, start_n_top=SQUAD_V2_TOP_N,
                                            end_n_top=SQUAD_V2_TOP_N)
        order = (("start_logits", "end_logits") if not version_2_with_negative else
                 ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index",
                  "cls_logits"))
        for name in order:
            outputs[name] = heads[name]
    else:
        raise ExportError("unknown kind %r; expected one of %s" % (kind, ", ".join(KINDS)))
    return inputs, collections.OrderedDict(
        (name, tf.identity(tensor, name=name)) for name, tensor in outputs.items())


def _logits_of(log_probs):
    """The logits a ``tf.nn.log_softmax`` output was computed from."""
    if log_probs.op.type != "LogSoftmax":
        raise ExportError("expected a LogSoftmax op, found %s (%s)" %
                          (log_probs.op.type, log_probs.op.name))
    return log_probs.op.inputs[0]


def _head_hint(kind, missing, version_2_with_negative):
    patterns = {
        "pretraining": [run_pretraining.HEAD_VARIABLES],
        "classifier": [r"^output_weights$", r"^output_bias$", r"^loss/LayerNorm/"],
        "squad": squad_utils.head_variable_patterns(version_2_with_negative),
    }.get(kind, [])
    if not any(re.search(p, name) for p in patterns for name in missing):
        return ""
    what = {
        "pretraining":
            "the pretraining heads (cls/predictions, cls/seq_relationship)",
        "classifier":
            "a classifier head: export a fine-tuned run_classifier.py checkpoint",
        "squad":
            "a %s span head: export a fine-tuned run_squad.py checkpoint%s" %
            ("v2" if version_2_with_negative else "v1",
             "" if version_2_with_negative else " (version_2_with_negative=False)"),
    }[kind]
    return " (kind %r needs %s, or use kind 'encoder')" % (kind, what)


def restore_checkpoint(session, kind, checkpoint, version_2_with_negative=False, num_labels=None):
    """Restores every variable of the default graph from ``checkpoint``, strictly.

    Raises:
      ExportError: a model variable missing from the checkpoint or of another
        shape (naming it, and the head the kind needs).
    """
    variables = tf.global_variables()
    try:
        checkpoint_utils.init_from_checkpoint(checkpoint, variables=variables)
    except checkpoint_utils.CheckpointMismatchError as e:
        message = str(e).split("\n")[0]
        missing = re.findall(r"[\w/]+", message)
        hint = _head_hint(kind, missing, version_2_with_negative)
        if kind == "classifier" and num_labels is not None and "output_bias" in message:
            ckpt_labels = _checkpoint_labels(checkpoint)
            if ckpt_labels is not None and ckpt_labels != num_labels:
                hint = " (num_labels=%d but the checkpoint's head has %d)" % (num_labels,
                                                                              ckpt_labels)
        raise ExportError(message + hint)
    except checkpoint_utils.CheckpointError as e:
        raise ExportError(str(e).split("\n")[0])
    session.run(tf.variables_initializer(variables))


def _checkpoint_labels(checkpoint):
    shapes = dict(checkpoint_utils.list_variables(checkpoint))
    bias = shapes.get("output_bias")
    return bias[0] if bias and len(bias) == 1 else None


def freeze(session, outputs):
    """A GraphDef of the default graph with variables as constants, pruned
    to ``outputs`` (a list of tensors)."""
    names = [t.op.name for t in outputs]
    graph_def = session.graph.as_graph_def()
    frozen = tf.graph_util.convert_variables_to_constants(session, graph_def, names)
    return tf.graph_util.extract_sub_graph(frozen, names)


def replace_new_axis_slices(graph_def, output_names):
    """Replaces ``StridedSlice`` ops that only add axes by ``Reshape``.

    TF 1.15's TOCO aborts on a ``StridedSlice`` with ``new_axis_mask`` (``x[:,
    tf.newaxis]``). Where such a slice takes every element of its input in
    order (unit strides, as many elements out as in, static shapes), a
    ``Reshape`` to its static output shape gives the same tensor.

    Args:
      graph_def: a frozen GraphDef with static shapes.
      output_names: names of the output ops (kept when pruning).

    Returns:
      (new GraphDef, number of ops replaced).
    """
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    constants = {n.name: n for n in graph_def.node if n.op == "Const"}
    result = copy.deepcopy(graph_def)
    replaced = 0
    extra = []
    for node in result.node:
        if node.op != "StridedSlice" or node.attr["new_axis_mask"].i == 0:
            continue
        if node.attr["ellipsis_mask"].i or node.attr["shrink_axis_mask"].i:
            continue
        strides_name = node.input[3].split(":")[0]
        if strides_name not in constants:
            continue
        strides = tf.make_ndarray(constants[strides_name].attr["value"].tensor)
        op = graph.get_operation_by_name(node.name)
        in_shape = op.inputs[0].shape
        out_shape = op.outputs[0].shape
        if (not np.all(strides == 1) or not in_shape.is_fully_defined() or
                not out_shape.is_fully_defined() or
                in_shape.num_elements() != out_shape.num_elements()):
            continue
        shape_name = node.name + "/reshape_shape"
        shape_node = tf.NodeDef(name=shape_name, op="Const")
        shape_node.attr["dtype"].type = tf.int32.as_datatype_enum
        shape_node.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(np.array(out_shape.as_list(), np.int32)))
        extra.append(shape_node)
        dtype = node.attr["T"].type
        source = node.input[0]
        node.ClearField("input")
        node.ClearField("attr")
        node.op = "Reshape"
        node.input.extend([source, shape_name])
        node.attr["T"].type = dtype
        node.attr["Tshape"].type = tf.int32.as_datatype_enum
        replaced += 1
    result.node.extend(extra)
    if replaced:
        result = tf.graph_util.extract_sub_graph(result, list(output_names))
    return result, replaced


def replace_constant_tensor_adds(graph_def):
    """Replaces ``Add``/``AddV2`` ops adding a constant tensor by ``AddN``.

    TOCO (TF 1.15) fuses an addition of a constant into the bias of a
    preceding fully-connected op even when the constant is not a per-channel
    vector: ``reshape(matmul(x, w)) + c`` with ``c`` of shape [1, L, W] (the
    position embeddings added after the token-type embeddings) then adds
    only the first W values of ``c`` to every row, and it reassociates
    ``(a + b) + c`` to reach such a matmul. It does neither for ``AddN``, and
    the sum has the same value.

    Only additions whose one operand is computed from constants alone and has
    more than one dimension larger than 1 are replaced (vector biases fuse
    correctly).

    Args:
      graph_def: a frozen GraphDef with static shapes.

    Returns:
      (new GraphDef, number of ops replaced).
    """
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    constant = _constant_nodes(graph_def)

    def is_constant(name):
        return constant.get(name.lstrip("^").split(":")[0], False)

    result = copy.deepcopy(graph_def)
    replaced = 0
    extra = []
    for node in result.node:
        if node.op not in ("Add", "AddV2") or len(node.input) != 2:
            continue
        flags = [is_constant(i) for i in node.input]
        if flags[0] == flags[1]:
            continue
        operand = graph.get_tensor_by_name(_tensor_name(node.input[flags.index(True)]))
        if not operand.shape.is_fully_defined() or \
                sum(1 for d in operand.shape.as_list() if d > 1) < 2:
            continue
        out_shape = graph.get_operation_by_name(node.name).outputs[0].shape.as_list()
        in_shape = operand.shape.as_list()
        if len(in_shape) != len(out_shape) or None in out_shape or \
                any(o % i for i, o in zip(in_shape, out_shape)):
            continue
        dtype = node.attr["T"].type
        if in_shape != out_shape:
            # AddN does not broadcast: tile the constant to the sum's shape.
            index = flags.index(True)
            multiples = tf.NodeDef(name=node.name + "/tile_multiples", op="Const")
            multiples.attr["dtype"].type = tf.int32.as_datatype_enum
            multiples.attr["value"].tensor.CopyFrom(
                tf.make_tensor_proto(
                    np.array([o // i for i, o in zip(in_shape, out_shape)], np.int32)))
            tile = tf.NodeDef(name=node.name + "/tile", op="Tile")
            tile.input.extend([node.input[index], multiples.name])
            tile.attr["T"].type = dtype
            tile.attr["Tmultiples"].type = tf.int32.as_datatype_enum
            extra.extend([multiples, tile])
            node.input[index] = tile.name
        node.op = "AddN"
        node.ClearField("attr")
        node.attr["T"].type = dtype
        node.attr["N"].i = 2
        replaced += 1
    result.node.extend(extra)
    return result, replaced


def _tensor_name(name):
    return name if ":" in name else name + ":0"


def _constant_nodes(graph_def):
    """Node name -> whether its value is computed from ``Const`` ops alone
    (iteratively: encoder graphs are deeper than Python's recursion limit)."""
    nodes = {n.name: n for n in graph_def.node}
    constant = {}
    for root in nodes:
        stack = [root]
        while stack:
            name = stack[-1]
            if name in constant:
                stack.pop()
                continue
            node = nodes.get(name)
            if node is None or node.op in ("Placeholder", "PlaceholderWithDefault"):
                constant[name] = False
                stack.pop()
                continue
            if node.op == "Const":
                constant[name] = True
                stack.pop()
                continue
            inputs = [i.lstrip("^").split(":")[0] for i in node.input]
            pending = [i for i in inputs if i not in constant]
            if pending:
                stack.extend(pending)
            else:
                constant[name] = all(constant[i] for i in inputs)
                stack.pop()
    return constant


# ---------------------------------------------------------------------------
# Conversion.
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _converter_path():
    """Puts the running interpreter's bin directory on PATH when TF 1.15's
    ``toco_from_protos`` script is not found there."""
    if tf_compat.IS_TF2 or _which("toco_from_protos"):
        yield
        return
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_dir + (os.pathsep + old if old else "")
    try:
        yield
    finally:
        os.environ["PATH"] = old


def _which(program):
    if hasattr(shutil, "which"):
        return shutil.which(program)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _converter_reason(error):
    """The informative line of a converter error (TOCO prints pages)."""
    text = str(error)
    for pattern in (r"Check failed: [^\n]*", r"[^\n]*not supported[^\n]*",
                    r"[^\n]*[Uu]nsupported[^\n]*", r"error: [^\n]*"):
        match = re.search(pattern, text)
        if match:
            return match.group(0).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if line != "See console for info."]
    return (useful or lines or ["unknown error"])[0][:500]


def converter_name():
    """Which converter ``convert_graph_def`` uses on this runtime."""
    return "MLIR (TF %s)" % ".".join(map(str, tf_compat.TF_VERSION)) if tf_compat.IS_TF2 \
        else "TOCO (TF %s)" % ".".join(map(str, tf_compat.TF_VERSION))


def convert_graph_def(graph_def, input_names_, output_names, quantize="none"):
    """Converts a frozen, static-shape GraphDef to a TFLite flatbuffer.

    Args:
      graph_def: frozen GraphDef.
      input_names_: names of the input placeholders.
      output_names: names of the output ops.
      quantize: "none" (float32), "dynamic" (int8 weights, float
        activations) or "float16" (float16 weights).

    Returns:
      The .tflite model as bytes.

    Raises:
      ExportError: with the converter's reason in one line.
    """
    if quantize not in QUANTIZE_MODES:
        raise ExportError("unknown quantize %r; expected one of %s" %
                          (quantize, ", ".join(QUANTIZE_MODES)))
    if not tf_compat.IS_TF2:
        graph_def, replaced = replace_new_axis_slices(graph_def, output_names)
        if replaced:
            tf.logging.info("%d StridedSlice op(s) adding axes replaced by Reshape for TOCO",
                            replaced)
        graph_def, replaced = replace_constant_tensor_adds(graph_def)
        if replaced:
            tf.logging.info("%d addition(s) of a constant tensor replaced by AddN for TOCO",
                            replaced)
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    input_tensors = [graph.get_tensor_by_name(name + ":0") for name in input_names_]
    output_tensors = [graph.get_tensor_by_name(name + ":0") for name in output_names]
    converter = tf.lite.TFLiteConverter(graph_def, input_tensors, output_tensors)
    if quantize in ("dynamic", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        with _converter_path():
            return converter.convert()
    except Exception as e:  # pylint: disable=broad-except
        raise ExportError("TFLite converter, %s, failed: %s" %
                          (converter_name(), _converter_reason(e)))


# ---------------------------------------------------------------------------
# Running and comparing.
# ---------------------------------------------------------------------------


def random_sample_inputs(kind, albert_config, num_samples=DEFAULT_NUM_SAMPLES, max_seq_length=128,
                         num_predictions=20, version_2_with_negative=False, seed=12345):
    """Random valid inputs: ids in the vocabulary, masks with padding.

    Each example has a random length (at least 2, mostly shorter than
    ``max_seq_length``) split into two segments; ids, mask and segment ids
    are 0 after it. ``masked_lm_positions`` are distinct positions inside
    the example, sorted, zero-padded when the example is short; ``p_mask``
    is 1 on the first segment (except [CLS]) and on the padding.

    Returns:
      dict name -> int32 array [num_samples, width].
    """
    config = load_config(albert_config)
    rng = np.random.RandomState(seed)
    shape = (num_samples, max_seq_length)
    ids = np.zeros(shape, np.int32)
    mask = np.zeros(shape, np.int32)
    segments = np.zeros(shape, np.int32)
    p_mask = np.ones(shape, np.int32)
    positions = np.zeros((num_samples, num_predictions), np.int32)
    for row in range(num_samples):
        length = max_seq_length if row == 0 else int(rng.randint(2, max_seq_length + 1))
        ids[row, :length] = rng.randint(1, config.vocab_size, size=length)
        mask[row, :length] = 1
        split = int(rng.randint(1, length)) if length > 2 else 1
        segments[row, split:length] = min(1, config.type_vocab_size - 1)
        p_mask[row, 0] = 0
        p_mask[row, split:length] = 0
        count = min(num_predictions, length - 1)
        chosen = np.sort(rng.choice(np.arange(1, length), size=count, replace=False))
        positions[row, :count] = chosen
    inputs = {"input_ids": ids, "input_mask": mask, "segment_ids": segments}
    if kind == "pretraining":
        inputs["masked_lm_positions"] = positions
    if kind == "squad" and version_2_with_negative:
        inputs["p_mask"] = p_mask
    return inputs


def _check_sample_inputs(samples, names, widths):
    if not isinstance(samples, dict):
        raise ExportError("sample_inputs must be a dict name -> array, an int or None")
    missing = [n for n in names if n not in samples]
    if missing:
        raise ExportError("sample_inputs lacks %s" % ", ".join(missing))
    arrays = {}
    count = None
    for name in names:
        array = np.asarray(samples[name])
        if array.ndim == 1:
            array = array[np.newaxis, :]
        if array.ndim != 2 or array.shape[1] != widths[name]:
            raise ExportError("sample_inputs[%r] has shape %s, expected [n, %d]" %
                              (name, list(array.shape), widths[name]))
        if count is not None and array.shape[0] != count:
            raise ExportError("sample_inputs have different numbers of rows (%d and %d)" %
                              (count, array.shape[0]))
        count = array.shape[0]
        arrays[name] = array.astype(np.int32)
    if not count:
        raise ExportError("sample_inputs are empty")
    return arrays


def _batches(samples, batch_size):
    """Yields (feed dict of [batch_size, ...] arrays, rows used); the last
    batch is completed by repeating its last row."""
    count = len(next(iter(samples.values())))
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        feed = {}
        for name, array in samples.items():
            part = array[start:stop]
            if len(part) < batch_size:
                part = np.concatenate([part, np.repeat(part[-1:], batch_size - len(part), 0)])
            feed[name] = part
        yield feed, stop - start


def run_graph(session, inputs, outputs, samples, batch_size):
    """Runs the TF graph on every row of ``samples``: dict name -> [n, ...]."""
    results = collections.OrderedDict((name, []) for name in outputs)
    fetches = list(outputs.values())
    for feed, rows in _batches(samples, batch_size):
        values = session.run(fetches, {inputs[name]: feed[name] for name in inputs})
        for name, value in zip(outputs, values):
            results[name].append(value[:rows])
    return collections.OrderedDict((k, np.concatenate(v)) for k, v in results.items())


def interpreter_class(name="auto"):
    """The TFLite ``Interpreter`` class to run files with.

    Args:
      name: "auto" (the first of ``INTERPRETERS`` that imports) or one of
        ``INTERPRETERS``.

    Returns:
      (name, class).

    Raises:
      ExportError: an unknown name, or a named interpreter not installed.
    """
    if name != "auto" and name not in INTERPRETERS:
        raise ExportError("unknown TFLite interpreter %r; expected auto or one of %s" %
                          (name, ", ".join(INTERPRETERS)))
    for candidate, module_name in INTERPRETERS.items():
        if name not in ("auto", candidate):
            continue
        if module_name is None:
            return candidate, tf.lite.Interpreter
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            if name == candidate:
                raise ExportError(
                    "TFLite interpreter %s: cannot import %s (%s); %s, or choose "
                    "another of %s" %
                    (name, module_name, e, _INSTALL_HINTS[name], ", ".join(INTERPRETERS)))
            continue
        return candidate, module.Interpreter
    raise AssertionError("unreachable: tensorflow is always available")


def make_interpreter(model_path=None, model_content=None, num_threads=None, interpreter="auto"):
    """A TFLite interpreter of a file or bytes, with tensors allocated.

    Args:
      model_path: a .tflite file, or
      model_content: its bytes.
      num_threads: threads for the interpreter's kernels; applied by every
        interpreter but TF 1.15's ``tf.lite.Interpreter``, which has no
        setting (limit the process's CPUs instead).
      interpreter: "auto" or one of ``INTERPRETERS`` (``interpreter_class``).

    Returns:
      The interpreter.
    """
    name, cls = interpreter_class(interpreter)
    kwargs = {}
    if model_path is not None:
        kwargs["model_path"] = model_path
    else:
        kwargs["model_content"] = model_content
    if num_threads and (name != "tensorflow" or tf_compat.IS_TF2):
        kwargs["num_threads"] = int(num_threads)
    result = cls(**kwargs)
    result.allocate_tensors()
    return result


def _details_by_name(details, names):
    by_name = {d["name"]: d for d in details}
    if all(n in by_name for n in names):
        return [by_name[n] for n in names]
    raise ExportError("the TFLite model has tensors %s, expected %s" %
                      (sorted(by_name), list(names)))


def run_tflite(interpreter, samples, batch_size, output_names):
    """Runs a TFLite interpreter on every row of ``samples``.

    Args:
      interpreter: from ``make_interpreter``.
      samples: dict input name -> int32 array [n, width].
      batch_size: the model's static batch size.
      output_names: output names, in the order wanted.

    Returns:
      OrderedDict output name -> array [n, ...].
    """
    input_details = _details_by_name(interpreter.get_input_details(), list(samples))
    output_details = _details_by_name(interpreter.get_output_details(), output_names)
    results = collections.OrderedDict((name, []) for name in output_names)
    for feed, rows in _batches(samples, batch_size):
        for name, detail in zip(samples, input_details):
            interpreter.set_tensor(detail["index"], feed[name].astype(detail["dtype"]))
        interpreter.invoke()
        for name, detail in zip(output_names, output_details):
            results[name].append(np.array(interpreter.get_tensor(detail["index"]))[:rows])
    return collections.OrderedDict((k, np.concatenate(v)) for k, v in results.items())


def _argmax_agreement(reference, candidate, valid=None):
    """Fraction of rows (last axis = choices) whose argmax agrees."""
    ref = np.argmax(reference, axis=-1)
    cand = np.argmax(candidate, axis=-1)
    same = ref == cand
    if valid is not None:
        same = same[valid]
    return float(np.mean(same)) if same.size else 1.0


def _masked_argmax_agreement(reference, candidate, mask):
    low = np.finfo(np.float32).min
    return _argmax_agreement(np.where(mask > 0, reference, low), np.where(mask > 0, candidate, low))


def decision_agreement(kind, samples, reference, candidate):
    """Per decision output, the fraction of decisions that agree.

    classifier: argmax of the probabilities (regression: the score's sign
    relative to the reference mean is not a decision; none); squad v1:
    argmax of start and end logits over the real tokens; squad v2: the top
    start and end index; pretraining: argmax of the MLM logits at the real
    masked positions and of the SOP logits. The encoder has no decisions.

    Returns:
      dict output name -> fraction in [0, 1].
    """
    agreement = collections.OrderedDict()
    if kind == "classifier" and reference["probabilities"].shape[-1] > 1:
        agreement["probabilities"] = _argmax_agreement(reference["probabilities"],
                                                       candidate["probabilities"])
    elif kind == "squad":
        if "start_logits" in reference:
            for name in ("start_logits", "end_logits"):
                agreement[name] = _masked_argmax_agreement(reference[name], candidate[name],
                                                           samples["input_mask"])
        else:
            for name in ("start_top_index", "end_top_index"):
                agreement[name] = float(np.mean(reference[name][:, 0] == candidate[name][:, 0]))
    elif kind == "pretraining":
        real = samples["masked_lm_positions"] > 0
        agreement["masked_lm_logits"] = _argmax_agreement(reference["masked_lm_logits"],
                                                          candidate["masked_lm_logits"], real)
        agreement["sentence_order_logits"] = _argmax_agreement(reference["sentence_order_logits"],
                                                               candidate["sentence_order_logits"])
    return agreement


def compare_outputs(reference, candidate):
    """Max |Δ| per float output; count of differing entries per integer output.

    Log-probability outputs (``*_log_probs``) are compared above
    ``LOG_PROB_FLOOR``: below it both sides mean probability 0.
    """
    max_abs_diff = collections.OrderedDict()
    mismatches = collections.OrderedDict()
    for name, ref in reference.items():
        cand = np.asarray(candidate[name])
        if cand.shape != ref.shape:
            raise ExportError("output %s has shape %s in the TFLite model, %s in the TF graph" %
                              (name, list(cand.shape), list(ref.shape)))
        if np.issubdtype(ref.dtype, np.integer):
            mismatches[name] = int(np.sum(ref != cand))
        else:
            ref = ref.astype(np.float64)
            cand = cand.astype(np.float64)
            if name.endswith("log_probs"):
                # Probability 0 either way (SQuAD v2 masks with -1e30, which
                # float16 weights clamp to -65504).
                ref = np.maximum(ref, LOG_PROB_FLOOR)
                cand = np.maximum(cand, LOG_PROB_FLOOR)
            diff = np.abs(ref - cand)
            max_abs_diff[name] = float(np.max(diff)) if diff.size else 0.0
    return max_abs_diff, mismatches


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------


def _check_output_path(output_path):
    """The absolute output path, checked before any work is done.

    The file's directory may be missing (it is made when the model is
    written); its nearest existing ancestor must be a writable directory.
    """
    if not output_path:
        raise ExportError("no output_path given")
    path = os.path.abspath(output_path)
    if os.path.isdir(path):
        raise ExportError("%s: is a directory; give the .tflite file to write" % output_path)
    directory = os.path.dirname(path)
    existing = directory
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ExportError("%s: cannot create the directory: %s is not a directory" %
                          (directory, existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError("%s: directory is not writable" % existing)
    return path


def _make_directories(directory):
    """Makes ``directory`` and its missing parents; returns those made,
    deepest first (to remove them again when the export fails)."""
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except OSError as e:
            _remove_directories(missing)
            raise ExportError("%s: cannot create the directory: %s" % (path, e.strerror))
    return missing


def _remove_directories(directories):
    for path in directories:
        try:
            os.rmdir(path)
        except OSError:
            pass


def _resolve_checkpoint(checkpoint, config):
    try:
        prefix = checkpoint_utils.resolve_checkpoint(checkpoint)
        checkpoint_utils.check_checkpoint_complete(prefix)
        config = checkpoint_utils.config_for_checkpoint(config, prefix)
        problems = checkpoint_utils.check_config_against_checkpoint(config, prefix)
    except (checkpoint_utils.CheckpointError, checkpoint_utils.CheckpointMismatchError) as e:
        raise ExportError(str(e).split("\n")[0])
    if problems:
        raise ExportError("%s does not match the config: %s" % (prefix, "; ".join(problems)))
    return prefix, config


def _parameter_bytes(graph_def):
    """Bytes of the float32 constants of a frozen graph (the weights)."""
    total = 0
    for node in graph_def.node:
        if node.op == "Const" and node.attr["dtype"].type == tf.float32.as_datatype_enum:
            dims = [d.size for d in node.attr["value"].tensor.tensor_shape.dim]
            total += 4 * int(np.prod(dims)) if dims else 4
    return total


def _describe(details):
    return [
        collections.OrderedDict([("name", d["name"]), ("shape", [int(x) for x in d["shape"]]),
                                 ("dtype", np.dtype(d["dtype"]).name)]) for d in details
    ]


def export_tflite(kind, albert_config, checkpoint, output_path, max_seq_length=128, batch_size=1,
                  quantize="none", num_predictions=20, num_labels=None,
                  version_2_with_negative=False, sample_inputs=None, tolerance=1e-4,
                  interpreter="auto"):
    """Exports a checkpoint to a checked TensorFlow Lite file.

    Args:
      kind: "encoder", "pretraining", "classifier" or "squad" (module doc).
      albert_config: AlbertConfig, dict or JSON path; the layout is taken
        from the checkpoint when the config does not say.
      checkpoint: checkpoint prefix, directory or ``checkpoint`` file.
      output_path: the .tflite file to write (replaced when it exists).
      max_seq_length: static sequence length of the inputs.
      batch_size: static batch size of the inputs.
      quantize: "none" (float32), "dynamic" (int8 weights, dynamic-range) or
        "float16" (float16 weights).
      num_predictions: masked positions per sequence ("pretraining").
      num_labels: classes of a fine-tuned classifier (required for
        "classifier"; 1 means a regression head).
      version_2_with_negative: the checkpoint has run_squad's v2 head.
      sample_inputs: inputs to compare the TFLite model and the TF graph on:
        None (``DEFAULT_NUM_SAMPLES`` random valid examples), an int (that
        many), or a dict input name -> int array [n, width].
      tolerance: largest |Δ| allowed between a float32 model's outputs and
        the TF graph's (integer outputs must be equal). Quantized models are
        reported, not refused.
      interpreter: the TFLite interpreter that checks the file ("auto" or
        one of ``INTERPRETERS``).

    Returns:
      A dict: kind, quantize, output_path, file_size (bytes),
      parameter_bytes (float32 weights in the frozen graph), size_ratio
      (file_size / parameter_bytes), inputs and outputs (name, shape, dtype
      of the TFLite model), num_samples, max_abs_diff (output -> float),
      mismatches (integer output -> count), agreement (decision output ->
      fraction), min_agreement, tolerance, checked ("refuse above
      tolerance" or "report only"), converter, interpreter (the name of the
      one that checked the file), tensorflow (version).

    Raises:
      ExportError: bad arguments, a checkpoint that does not match the
        config or lacks the kind's head, a converter failure, or a float
        model outside ``tolerance``. Nothing is left at ``output_path`` (an
        existing file there is kept as it was).
    """
    config = load_config(albert_config)
    _check_arguments(kind, config, max_seq_length, batch_size, quantize, num_predictions,
                     num_labels, version_2_with_negative, tolerance)
    output_path = _check_output_path(output_path)
    interpreter_name = interpreter_class(interpreter)[0]
    prefix, config = _resolve_checkpoint(checkpoint, config)

    names = input_names(kind, version_2_with_negative)
    widths = dict(
        (n, num_predictions if n == "masked_lm_positions" else max_seq_length) for n in names)
    if sample_inputs is None or isinstance(sample_inputs, six.integer_types):
        count = DEFAULT_NUM_SAMPLES if sample_inputs is None else int(sample_inputs)
        if count < 1:
            raise ExportError("sample_inputs must be at least 1 example, got %d" % count)
        samples = random_sample_inputs(kind, config, count, max_seq_length, num_predictions,
                                       version_2_with_negative)
    else:
        samples = _check_sample_inputs(sample_inputs, names, widths)
    samples = collections.OrderedDict((n, samples[n]) for n in names)

    graph = tf.Graph()
    with graph.as_default():
        inputs, outputs = build_inference_graph(kind, config, max_seq_length, batch_size,
                                                num_predictions, num_labels,
                                                version_2_with_negative)
        with tf.Session(graph=graph) as session:
            restore_checkpoint(session, kind, prefix, version_2_with_negative, num_labels)
            reference = run_graph(session, inputs, outputs, samples, batch_size)
            frozen = freeze(session, list(outputs.values()))
    model = convert_graph_def(frozen, list(inputs), list(outputs), quantize)

    tmp_path = script_utils.temporary_name(os.path.abspath(output_path))
    made = _make_directories(os.path.dirname(output_path))
    try:
        with open(tmp_path, "wb") as writer:
            writer.write(model)
        runner = make_interpreter(model_path=tmp_path, interpreter=interpreter_name)
        candidate = run_tflite(runner, samples, batch_size, list(outputs))
        report = _report(kind, quantize, output_path, tmp_path, frozen, runner, samples, reference,
                         candidate, tolerance)
        report["interpreter"] = interpreter_name
        del runner
        if quantize == "none":
            _refuse_outside_tolerance(report, tolerance)
        os.replace(tmp_path, output_path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        _remove_directories(made)
        raise
    tf.logging.info(
        "wrote %s (%d bytes, %s; checked with the %s interpreter): max |diff| %s, "
        "agreement %s", output_path, report["file_size"], quantize, interpreter_name,
        ", ".join("%s %.3g" % kv for kv in report["max_abs_diff"].items()),
        ", ".join("%s %.3f" % kv for kv in report["agreement"].items()) or "n/a")
    return report


def _report(kind, quantize, output_path, tmp_path, frozen, interpreter, samples, reference,
            candidate, tolerance):
    max_abs_diff, mismatches = compare_outputs(reference, candidate)
    agreement = decision_agreement(kind, samples, reference, candidate)
    file_size = os.path.getsize(tmp_path)
    parameter_bytes = _parameter_bytes(frozen)
    report = collections.OrderedDict()
    report["kind"] = kind
    report["quantize"] = quantize
    report["output_path"] = output_path
    report["file_size"] = file_size
    report["parameter_bytes"] = parameter_bytes
    report["size_ratio"] = float(file_size) / parameter_bytes if parameter_bytes else None
    report["inputs"] = _describe(_details_by_name(interpreter.get_input_details(), list(samples)))
    report["outputs"] = _describe(
        _details_by_name(interpreter.get_output_details(), list(reference)))
    report["num_samples"] = int(len(next(iter(samples.values()))))
    report["max_abs_diff"] = max_abs_diff
    report["mismatches"] = mismatches
    report["agreement"] = agreement
    report["min_agreement"] = min(agreement.values()) if agreement else None
    report["tolerance"] = tolerance
    report["checked"] = "refuse above tolerance" if quantize == "none" else "report only"
    report["converter"] = converter_name()
    report["tensorflow"] = ".".join(map(str, tf_compat.TF_VERSION))
    return report


def _refuse_outside_tolerance(report, tolerance):
    worst = [(name, diff) for name, diff in report["max_abs_diff"].items() if diff > tolerance]
    wrong = [(name, count) for name, count in report["mismatches"].items() if count]
    if worst or wrong:
        parts = ["%s max |diff| %.3g" % item for item in worst]
        parts += ["%s differs in %d entries" % item for item in wrong]
        raise ExportError("%s: the float TFLite model does not match the TF graph within "
                          "tolerance %g (%s); nothing written" %
                          (report["output_path"], tolerance, ", ".join(parts)))


__all__ = [
    "ExportError", "KINDS", "QUANTIZE_MODES", "DEFAULT_NUM_SAMPLES", "export_tflite",
    "build_inference_graph", "input_names", "restore_checkpoint", "freeze",
    "replace_new_axis_slices", "replace_constant_tensor_adds", "convert_graph_def",
    "converter_name", "random_sample_inputs", "run_graph", "INTERPRETERS", "interpreter_class",
    "make_interpreter", "run_tflite", "compare_outputs", "decision_agreement", "load_config"
]
