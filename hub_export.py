# coding=utf-8
"""TF1 Hub modules of ALBERT: export (Google's format) and use for fine-tuning.

Export, as Google's ``export_to_tfhub.py`` does::

    report = hub_export.export_hub_module(config, "albert_tiny/albert_model.ckpt",
                                          "albert_tiny_hub", vocab_file="albert_tiny/vocab.txt")

(or ``python export.py --format=hub``). The module has two graphs, tag set
``{"train"}`` (the config's dropout) and ``set()`` (inference, no dropout),
and these signatures, all with int32 [batch, length] inputs ``input_ids``,
``input_mask`` and ``segment_ids``:

* ``tokens`` -> ``sequence_output`` [B, L, H], ``pooled_output`` [B, H];
* ``sop`` -> the same plus ``sop_log_probs`` [B, 2] (sentence-order head);
* ``mlm`` -> (input ``mlm_positions`` int32 [B, P] as well) the same plus
  ``mlm_logits`` [B*P, vocab_size] (masked-LM head);
* ``tokenization_info`` -> ``vocab_file`` (the path of the module's
  vocabulary asset: WordPiece vocab.txt or SentencePiece .model) and
  ``do_lower_case``.

``sop`` and ``mlm`` are there when the checkpoint has the pretraining heads.
The assets are the vocabulary (a SentencePiece model with its ``.vocab``)
and ``albert_config.json``. Variables keep the checkpoint's names (``bert/...``,
``cls/...``), either embedding layout.

Fine-tuning from a module (``--albert_hub_module_handle``, as Google's
``fine_tuning_utils``): ``resolve_module`` checks a handle (a directory, a
``file://`` or https URL that TF-Hub can fetch), ``module_config`` reads its
``albert_config.json``, ``tokenizer_from_module`` builds the tokenizer from
``tokenization_info`` and ``albert_outputs`` applies
``hub.Module(handle, trainable=True, tags={"train"} or set())`` to the
features; ``encoder`` is what the model_fns of classifier_utils,
squad_utils and multiple_choice_utils call (the module's encoder, or
AlbertModel without a handle). Checkpoints fine-tuned this way name the
encoder ``module/bert/...``; ``checkpoint_utils.fine_tuned_saver`` reads
them into the ``--export_dir`` SavedModel graphs and
``checkpoint_utils.hub_fine_tuned_view`` gives export.py a copy under the
usual names.

The TF1 Hub format needs ``hub.Module`` and ``hub.create_module_spec``:
tensorflow_hub 0.12 with TensorFlow 1.15 and 0.15 with TensorFlow 2.x (v2
behaviour disabled) have them; 0.16 removed them, which is reported as a
``HubUnsupportedError``.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os
import shutil
import tempfile

import numpy as np

import checkpoint_utils
import modeling
import tokenization
from tf_compat import tf

SIGNATURES = ("tokens", "sop", "mlm", "tokenization_info")
INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
TRAIN_TAGS = frozenset(["train"])
INFERENCE_TAGS = frozenset()
CONFIG_ASSET = "albert_config.json"
MODULE_FILE = "tfhub_module.pb"
# Largest difference allowed between the written module and the checkpoint's
# graph on the sample inputs checked after writing.
MAX_EXPORT_DIFFERENCE = 1e-4
# Names the tutorials of Google's scripts use for "the vocabulary of the module".
FROM_HUB_PLACEHOLDERS = ("from_tf_hub", "from_hub")


class HubError(ValueError):
    """A problem with a Hub module or its inputs, said in one line."""


class HubUnsupportedError(HubError):
    """This runtime's tensorflow_hub cannot write or read TF1 Hub modules."""


class HubCheckpointError(HubError, checkpoint_utils.CheckpointError):
    """A missing or damaged checkpoint given to the export (one line)."""


class HubMismatchError(HubError, checkpoint_utils.CheckpointMismatchError):
    """A config that does not match the checkpoint or module variables (one line)."""


def _first_line(error):
    text = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _runtime():
    import tf_compat  # pylint: disable=g-import-not-at-top
    return "TensorFlow %d.%d" % tf_compat.TF_VERSION


def tf1_hub(purpose="write"):
    """The ``tensorflow_hub`` module, when it has the TF1 Hub API.

    Args:
      purpose: "write" or "read", for the message.

    Returns:
      the imported tensorflow_hub.

    Raises:
      HubUnsupportedError: tensorflow_hub is missing, or a release without
        ``hub.Module`` / ``hub.create_module_spec`` (0.16 and later).
    """
    advice = ("use tensorflow-hub==0.12.0 on Python 3.7 + TF 1.15 or tensorflow-hub==0.15.0 "
              "on TF 2.x (pip install -r requirements.txt)")
    try:
        import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
    except ImportError as e:
        raise HubUnsupportedError("tensorflow_hub cannot be imported on %s (%s): %s" %
                                  (_runtime(), _first_line(e), advice))
    version = getattr(hub, "__version__", "?")
    if not (hasattr(hub, "Module") and hasattr(hub, "create_module_spec")):
        raise HubUnsupportedError(
            "tensorflow_hub %s on %s cannot %s TF1 Hub modules (hub.Module and "
            "hub.create_module_spec were removed in 0.16): %s" %
            (version, _runtime(), purpose, advice))
    return hub


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------


class _PlainGradientAlbertModel(modeling.AlbertModel):
    """AlbertModel without the hand-written gradients of training graphs.

    Those are registered in the Python process that builds the graph; a
    module's train graph is differentiated in other processes, so it uses
    TensorFlow's own gradients (the values are the same).
    """

    fused_gradients = property(lambda self: False, lambda self, value: None)


def _pretraining_heads(names):
    """(has the masked-LM head, has the sentence-order head) of a checkpoint."""
    has_mlm = any(n.startswith("cls/predictions/") for n in names)
    has_sop = any(n.startswith("cls/seq_relationship/") for n in names)
    return has_mlm, has_sop


def _build_graph(config, is_training, inputs, mlm_positions, has_mlm, has_sop, use_einsum):
    """AlbertModel and run_pretraining's heads; returns the output tensors."""
    import run_pretraining  # pylint: disable=g-import-not-at-top
    model_class = _PlainGradientAlbertModel if is_training else modeling.AlbertModel
    model = model_class(config=config, is_training=is_training, input_ids=inputs["input_ids"],
                        input_mask=inputs["input_mask"], token_type_ids=inputs["segment_ids"],
                        use_one_hot_embeddings=False, use_einsum=use_einsum)
    outputs = {
        "sequence_output": model.get_sequence_output(),
        "pooled_output": model.get_pooled_output()
    }
    if has_mlm:
        zeros = tf.zeros_like(mlm_positions)
        _, _, log_probs = run_pretraining.get_masked_lm_output(config, outputs["sequence_output"],
                                                               model.get_embedding_table(),
                                                               model.get_embedding_projection(),
                                                               mlm_positions, zeros,
                                                               tf.cast(zeros, tf.float32))
        # The head returns log-probabilities; Google's module gives the logits
        # they are computed from.
        if log_probs.op.type != "LogSoftmax":
            raise RuntimeError("the masked-LM head no longer ends in LogSoftmax")
        outputs["mlm_logits"] = tf.identity(log_probs.op.inputs[0], name="mlm_logits")
    if has_sop:
        _, _, sop_log_probs = run_pretraining.get_sentence_order_output(
            config, outputs["pooled_output"], tf.zeros_like(inputs["input_ids"][:, 0]))
        outputs["sop_log_probs"] = tf.identity(sop_log_probs, name="sop_log_probs")
    return outputs


def _module_fn_builder(config, has_mlm, has_sop, use_einsum, vocab_assets, config_asset,
                       do_lower_case):
    """The function ``hub.create_module_spec`` calls once per tag set."""
    hub = tf1_hub("write")

    def module_fn(is_training):
        inputs = {name: tf.placeholder(tf.int32, [None, None], name=name) for name in INPUT_NAMES}
        mlm_positions = tf.placeholder(tf.int32, [None, None], name="mlm_positions")
        outputs = _build_graph(config, is_training, inputs, mlm_positions, has_mlm, has_sop,
                               use_einsum)
        encoder = {k: outputs[k] for k in ("sequence_output", "pooled_output")}
        hub.add_signature(name="tokens", inputs=dict(inputs), outputs=dict(encoder))
        if has_sop:
            hub.add_signature(name="sop", inputs=dict(inputs),
                              outputs=dict(encoder, sop_log_probs=outputs["sop_log_probs"]))
        if has_mlm:
            hub.add_signature(name="mlm", inputs=dict(inputs, mlm_positions=mlm_positions),
                              outputs=dict(encoder, mlm_logits=outputs["mlm_logits"]))
        # Paths in ASSET_FILEPATHS are copied into the module's assets/ and
        # point there when the module is loaded.
        vocab_tensor = None
        for index, path in enumerate(vocab_assets):
            tensor = tf.constant(path, dtype=tf.string,
                                 name="vocab_file" if index == 0 else "vocab_file_%d" % index)
            tf.add_to_collection(tf.GraphKeys.ASSET_FILEPATHS, tensor)
            vocab_tensor = vocab_tensor if vocab_tensor is not None else tensor
        config_tensor = tf.constant(config_asset, dtype=tf.string, name="albert_config_file")
        tf.add_to_collection(tf.GraphKeys.ASSET_FILEPATHS, config_tensor)
        hub.add_signature(
            name="tokenization_info", inputs={},
            outputs=dict(vocab_file=vocab_tensor, do_lower_case=tf.constant(bool(do_lower_case))))

    return module_fn


def _check_vocabulary(config, vocab_file, spm_model_file):
    """The vocabulary files to ship; checked against the config."""
    if not vocab_file and not spm_model_file:
        raise HubError("no vocabulary: give vocab_file (WordPiece vocab.txt) or spm_model_file "
                       "(SentencePiece .model)")
    for path in (spm_model_file, vocab_file):
        if path and not os.path.isfile(path):
            raise HubError("%s: no such vocabulary file" % path)
    try:
        tokenizer = tokenization.FullTokenizer.from_files(vocab_file=vocab_file,
                                                          spm_model_file=spm_model_file)
        tokenization.check_vocab_matches_config(tokenizer, config)
    except (ValueError, IOError, OSError) as e:
        raise HubError(_first_line(e))
    if tokenizer.spm_model_file:
        assets = [tokenizer.spm_model_file]
        sibling = os.path.splitext(tokenizer.spm_model_file)[0] + ".vocab"
        if os.path.isfile(sibling):
            assets.append(sibling)
        return assets
    return [tokenizer.vocab_file]


def _check_output_dir(output_dir):
    if os.path.exists(output_dir) and (not os.path.isdir(output_dir) or os.listdir(output_dir)):
        raise HubError("%s exists and is not an empty directory; choose a new output" % output_dir)


def _reference_outputs(config, prefix, feeds, has_mlm, has_sop, use_einsum):
    """The checkpoint's inference graph evaluated on ``feeds`` (numpy)."""
    with tf.Graph().as_default():
        inputs = {name: tf.constant(feeds[name]) for name in INPUT_NAMES}
        outputs = _build_graph(config, False, inputs, tf.constant(feeds["mlm_positions"]), has_mlm,
                               has_sop, use_einsum)
        checkpoint_utils.init_from_checkpoint(prefix, log=False)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(outputs)


def module_outputs(module_dir, feeds, tags=INFERENCE_TAGS, signatures=None):
    """Runs a module's signatures on numpy inputs.

    Args:
      module_dir: a module directory or handle.
      feeds: dict input name -> int array (input_ids, input_mask, segment_ids
        and, for ``mlm``, mlm_positions).
      tags: the graph's tag set.
      signatures: names to run (default: tokens, sop and mlm, those the
        module has).

    Returns:
      dict output name -> numpy array, the outputs of all of them.
    """
    hub = tf1_hub("read")
    with tf.Graph().as_default():
        module = hub.Module(module_dir, tags=set(tags))
        if signatures is None:
            names = module.get_signature_names()
            signatures = [s for s in ("tokens", "sop", "mlm") if s in names]
        outputs = {}
        for signature in signatures:
            wanted = module.get_input_info_dict(signature)
            inputs = {name: tf.constant(np.asarray(feeds[name], dtype=np.int32)) for name in wanted}
            outputs.update(module(inputs, signature=signature, as_dict=True))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return session.run(outputs)


def sample_inputs(config, batch_size=2, seq_length=8, num_positions=3, seed=0):
    """Deterministic sample features for comparing a module with its checkpoint."""
    rng = np.random.RandomState(seed)
    seq_length = min(seq_length, config.max_position_embeddings)
    input_ids = rng.randint(0, config.vocab_size, size=(batch_size, seq_length))
    input_mask = np.ones((batch_size, seq_length), dtype=np.int32)
    input_mask[-1, seq_length // 2:] = 0
    segment_ids = np.zeros((batch_size, seq_length), dtype=np.int32)
    segment_ids[:, seq_length // 2:] = min(1, config.type_vocab_size - 1)
    positions = np.stack(
        [rng.choice(seq_length, num_positions, replace=False) for _ in range(batch_size)])
    return {
        "input_ids": input_ids.astype(np.int32),
        "input_mask": input_mask,
        "segment_ids": segment_ids,
        "mlm_positions": positions.astype(np.int32)
    }


def export_hub_module(albert_config, checkpoint_prefix, output_dir, vocab_file=None,
                      spm_model_file=None, do_lower_case=True, use_einsum=False):
    """Writes a checkpoint as a TF1 Hub module with Google's signatures.

    Args:
      albert_config: modeling.AlbertConfig of the checkpoint (its layout is
        taken from the checkpoint when the config does not say).
      checkpoint_prefix: the checkpoint (prefix, directory or 'checkpoint'
        file), either layout; optimizer slots are left out.
      output_dir: the module directory: new, or an empty directory.
      vocab_file: WordPiece vocab.txt (or give spm_model_file).
      spm_model_file: SentencePiece model (its .vocab beside it is shipped
        too).
      do_lower_case: what ``tokenization_info`` says.
      use_einsum: build the attention with einsum (False: the einsum-free
        graph that every TensorFlow 1.15 and 2.x runs).

    Returns:
      dict: ``module`` (the directory), ``signatures``, ``tags``,
      ``variables`` (count), ``assets``, ``embedding_layout``,
      ``do_lower_case``, ``use_einsum``, ``tensorflow_hub`` (version) and
      ``max_abs_difference`` (module vs checkpoint graph on sample inputs).

    Raises:
      HubUnsupportedError: this runtime's tensorflow_hub cannot write TF1 Hub
        modules.
      HubError: a vocabulary that is missing or does not match the config,
        an output that exists, a module that differs from the checkpoint.
      HubCheckpointError (also a checkpoint_utils.CheckpointError): a missing
        or damaged checkpoint.
      HubMismatchError (also a CheckpointMismatchError): a checkpoint that
        does not match the config.
    """
    hub = tf1_hub("write")
    try:
        prefix = checkpoint_utils.check_checkpoint_complete(checkpoint_prefix)
    except checkpoint_utils.CheckpointError as e:
        raise HubCheckpointError(_first_line(e))
    try:
        config = checkpoint_utils.config_for_checkpoint(albert_config, prefix)
    except checkpoint_utils.CheckpointMismatchError as e:
        raise HubMismatchError(_first_line(e))
    problems = checkpoint_utils.check_config_against_checkpoint(config, prefix)
    if problems:
        raise HubMismatchError("%s does not match the config: %s" % (prefix, "; ".join(problems)))
    vocab_assets = _check_vocabulary(config, vocab_file, spm_model_file)
    output_dir = output_dir.rstrip("/\\") or output_dir
    _check_output_dir(output_dir)
    names = [name for name, _ in checkpoint_utils.list_variables(prefix)]
    has_mlm, has_sop = _pretraining_heads(names)

    parent = os.path.dirname(os.path.abspath(output_dir))
    if not os.path.isdir(parent):
        os.makedirs(parent)
    scratch = tempfile.mkdtemp(prefix=".hub_export-", dir=parent)
    try:
        config_asset = os.path.join(scratch, "config", CONFIG_ASSET)
        os.makedirs(os.path.dirname(config_asset))
        config.to_json_file(config_asset)
        module_fn = _module_fn_builder(config, has_mlm, has_sop, use_einsum,
                                       [os.path.abspath(p) for p in vocab_assets], config_asset,
                                       do_lower_case)
        spec = hub.create_module_spec(
            module_fn, tags_and_args=[(set(TRAIN_TAGS), {
                "is_training": True
            }), (set(INFERENCE_TAGS), {
                "is_training": False
            })])
        written = os.path.join(scratch, "module")
        with tf.Graph().as_default():
            module = hub.Module(spec, name="module")
            by_graph_name = {}
            for inner_name, variable in module.variable_map.items():
                for part in (variable if isinstance(variable, list) else [variable]):
                    by_graph_name[part.op.name] = inner_name
            report = checkpoint_utils.init_from_checkpoint(
                prefix, variables=[v for v in tf.global_variables() if v.op.name in by_graph_name],
                name_map=by_graph_name.get, log=False)
            with tf.Session() as session:
                session.run(tf.global_variables_initializer())
                module.export(written, session)
        feeds = sample_inputs(config)
        expected = _reference_outputs(config, prefix, feeds, has_mlm, has_sop, use_einsum)
        actual = module_outputs(written, feeds)
        difference = max(float(np.max(np.abs(expected[k] - actual[k]))) for k in expected)
        if not difference <= MAX_EXPORT_DIFFERENCE:
            raise HubError("the module's outputs differ from %s by %.3g on sample inputs; "
                           "nothing written" % (prefix, difference))
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)
        os.rename(written, output_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    signatures = [
        s for s in SIGNATURES if s not in ("sop", "mlm") or (has_sop if s == "sop" else has_mlm)
    ]
    if not (has_mlm and has_sop):
        tf.logging.warning(
            "%s has no %s head: the module has the signatures %s", prefix, " or ".join(
                n for n, h in (("masked-LM", has_mlm), ("sentence-order", has_sop)) if not h),
            ", ".join(signatures))
    return {
        "module": output_dir,
        "signatures": signatures,
        "tags": [sorted(TRAIN_TAGS), sorted(INFERENCE_TAGS)],
        "variables": len(report.loaded),
        "assets": sorted(os.listdir(os.path.join(output_dir, "assets"))),
        "embedding_layout": config.resolved_embedding_layout,
        "do_lower_case": bool(do_lower_case),
        "use_einsum": bool(use_einsum),
        "tensorflow_hub": getattr(hub, "__version__", "?"),
        "max_abs_difference": difference
    }


# ---------------------------------------------------------------------------
# Use for fine-tuning.
# ---------------------------------------------------------------------------


def _has_scheme(handle):
    return "://" in handle and not handle.startswith("file://")


def _local_path(handle):
    return handle[len("file://"):] if handle.startswith("file://") else handle


def resolve_module(handle):
    """The local directory of a TF1 Hub module handle, checked.

    Args:
      handle: a directory, a ``file://`` URL or a URL TF-Hub downloads
        (https://tfhub.dev/..., a .tar.gz); downloads go to TFHUB_CACHE_DIR.

    Returns:
      the module's local directory.

    Raises:
      HubUnsupportedError: this runtime's tensorflow_hub cannot read TF1 Hub
        modules.
      HubError: a handle that does not exist, cannot be fetched, or is not a
        TF1 Hub module.
    """
    hub = tf1_hub("read")
    if not handle:
        raise HubError("empty Hub module handle")
    if _has_scheme(handle):
        try:
            path = hub.resolve(handle)
        except Exception as e:  # pylint: disable=broad-except
            raise HubError("%s: cannot fetch the Hub module (%s: %s)" %
                           (handle, type(e).__name__, _first_line(e)))
    else:
        path = _local_path(handle)
        if not tf.gfile.Exists(path):
            raise HubError("%s: no such Hub module (directory not found)" % handle)
        if not tf.gfile.IsDirectory(path):
            raise HubError("%s: is a file, not a Hub module directory" % handle)
    if not tf.gfile.Exists(os.path.join(path, MODULE_FILE)):
        if tf.gfile.Exists(os.path.join(path, "saved_model.pb")):
            raise HubError("%s: a SavedModel without %s (TF2 SavedModel or serving export), "
                           "not a TF1 Hub module; write one with export.py --format=hub" %
                           (handle, MODULE_FILE))
        raise HubError("%s: not a TF1 Hub module (no %s; write one with export.py "
                       "--format=hub)" % (handle, MODULE_FILE))
    return path


def module_config(module_path):
    """The module's ``assets/albert_config.json`` as an AlbertConfig, or None.

    Raises:
      modeling.ConfigError: when the file is there but not a valid config.
    """
    path = os.path.join(module_path, "assets", CONFIG_ASSET)
    if not tf.gfile.Exists(path):
        return None
    return modeling.AlbertConfig.from_json_file(path)


def module_variables(module_path):
    """The prefix of a module's variables (a checkpoint of the module's names)."""
    return os.path.join(module_path, "variables", "variables")


def tokenization_info(handle):
    """(vocabulary file path, do_lower_case) from the module's
    ``tokenization_info`` signature."""
    hub = tf1_hub("read")
    with tf.Graph().as_default():
        module = hub.Module(handle)
        if "tokenization_info" not in module.get_signature_names():
            raise HubError("%s: the module has no tokenization_info signature; give "
                           "--vocab_file or --spm_model_file" % handle)
        info = module(signature="tokenization_info", as_dict=True)
        with tf.Session() as session:
            vocab_file, do_lower_case = session.run([info["vocab_file"], info["do_lower_case"]])
    if isinstance(vocab_file, bytes):
        vocab_file = vocab_file.decode("utf-8")
    return vocab_file, bool(do_lower_case)


def tokenizer_from_module(handle):
    """The tokenizer the module's ``tokenization_info`` names (WordPiece
    vocab.txt or SentencePiece model), with its do_lower_case.

    Raises:
      HubError: no tokenization_info, or its vocabulary is missing/unreadable.
    """
    vocab_file, do_lower_case = tokenization_info(handle)
    if not tf.gfile.Exists(vocab_file):
        raise HubError("%s: the module's vocabulary %s is missing" % (handle, vocab_file))
    try:
        return tokenization.FullTokenizer.from_files(vocab_file=vocab_file,
                                                     do_lower_case=do_lower_case)
    except (ValueError, IOError, OSError) as e:
        raise HubError("%s: %s" % (handle, _first_line(e)))


def albert_outputs(handle, is_training, input_ids, input_mask, segment_ids):
    """The module's ``tokens`` signature applied to features (fine-tuning).

    ``hub.Module(handle, trainable=True, tags={"train"} when training else
    set())``, as Google's fine_tuning_utils.create_albert; its variables are
    under ``module/``.

    Args:
      handle: module directory or URL.
      is_training: the {"train"} graph (with dropout), else the inference one.
      input_ids, input_mask, segment_ids: int32 [B, L].

    Returns:
      dict with ``pooled_output`` [B, H] and ``sequence_output`` [B, L, H].
    """
    hub = tf1_hub("read")
    module = hub.Module(_local_path(handle), trainable=True,
                        tags=set(TRAIN_TAGS) if is_training else set(INFERENCE_TAGS))
    inputs = dict(input_ids=tf.cast(input_ids, tf.int32), input_mask=tf.cast(input_mask, tf.int32),
                  segment_ids=tf.cast(segment_ids, tf.int32))
    return module(inputs=inputs, signature="tokens", as_dict=True)


class HubAlbertModel(object):
    """A Hub module's encoder behind AlbertModel's output accessors.

    Built by ``encoder``; the fine-tuning heads read ``get_pooled_output()``
    and ``get_sequence_output()`` as from ``modeling.AlbertModel``. The
    module's variables (``module/bert/...``, ``module/cls/...``) start from
    the module's ``variables/`` (hub.Module sets their initialisers), so no
    init_checkpoint is needed.
    """

    def __init__(self, handle, is_training, input_ids, input_mask=None, token_type_ids=None):
        if input_mask is None:
            input_mask = tf.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = tf.zeros_like(input_ids)
        outputs = albert_outputs(handle, is_training, input_ids, input_mask, token_type_ids)
        self.handle = handle
        self.pooled_output = outputs["pooled_output"]
        self.sequence_output = outputs["sequence_output"]
        tf.logging.info("Encoder: Hub module %s (tags %s), initialised from its variables", handle,
                        sorted(TRAIN_TAGS) if is_training else sorted(INFERENCE_TAGS))

    def get_pooled_output(self):
        return self.pooled_output

    def get_sequence_output(self):
        return self.sequence_output


def encoder(hub_module_handle, config, is_training, input_ids, input_mask=None, token_type_ids=None,
            **albert_model_args):
    """The encoder of a fine-tuning graph: a Hub module's, or AlbertModel.

    Args:
      hub_module_handle: a module directory or URL, or None for
        ``modeling.AlbertModel(config, ...)``.
      config: modeling.AlbertConfig (AlbertModel only; a module has its own).
      is_training: training graph (the module's {"train"} tags and dropout).
      input_ids, input_mask, token_type_ids: int [B, L].
      **albert_model_args: more AlbertModel arguments (use_one_hot_embeddings,
        use_einsum, scope, output_positions); a module's graph is fixed when
        written and ignores them (its pooled output is the same).

    Returns:
      an object with ``get_pooled_output()`` and ``get_sequence_output()``.
    """
    if hub_module_handle:
        return HubAlbertModel(hub_module_handle, is_training, input_ids, input_mask, token_type_ids)
    return modeling.AlbertModel(config=config, is_training=is_training, input_ids=input_ids,
                                input_mask=input_mask, token_type_ids=token_type_ids,
                                **albert_model_args)


def is_hub_vocab_placeholder(value):
    """True for the '--spm_model_file=from_tf_hub' spelling of "take it from the module"."""
    return bool(value) and value in FROM_HUB_PLACEHOLDERS


def load_module_setup(handle, config_file=None, vocab_file=None, spm_model_file=None,
                      do_lower_case=True):
    """The config and tokenizer of a module, checked against its variables.

    Args:
      handle: module directory or URL.
      config_file: a config JSON (default: the module's albert_config.json).
      vocab_file, spm_model_file: vocabulary files (default: the module's
        tokenization_info, with its do_lower_case).
      do_lower_case: the casing used with given vocabulary files.

    Returns:
      (local module path, modeling.AlbertConfig, tokenization.FullTokenizer).

    Raises:
      HubError (HubUnsupportedError, HubMismatchError), modeling.ConfigError:
        one line each.
    """
    path = resolve_module(handle)
    config = (modeling.AlbertConfig.from_json_file(config_file)
              if config_file else module_config(path))
    if config is None:
        raise HubError("%s: the module has no assets/%s; give --albert_config_file" %
                       (handle, CONFIG_ASSET))
    variables = module_variables(path)
    try:
        config = checkpoint_utils.config_for_checkpoint(config, variables)
    except checkpoint_utils.CheckpointMismatchError as e:
        raise HubMismatchError("%s: %s" % (handle, _first_line(e)))
    problems = checkpoint_utils.check_config_against_checkpoint(config, variables)
    if problems:
        raise HubMismatchError(
            "%s: the config (%s) does not match the module's variables: %s" %
            (handle, config_file or "assets/" + CONFIG_ASSET, "; ".join(problems)))
    vocab_file = None if is_hub_vocab_placeholder(vocab_file) else vocab_file
    spm_model_file = None if is_hub_vocab_placeholder(spm_model_file) else spm_model_file
    if vocab_file or spm_model_file:
        tokenizer = tokenization.FullTokenizer.from_files(vocab_file=vocab_file,
                                                          spm_model_file=spm_model_file,
                                                          do_lower_case=do_lower_case)
    else:
        tokenizer = tokenizer_from_module(path)
        tf.logging.info("Tokenizer from the module's tokenization_info: %s, do_lower_case=%s",
                        tokenizer.spm_model_file or tokenizer.vocab_file, tokenizer.do_lower_case)
    return path, config, tokenizer


def summarize(report):
    """A report of ``export_hub_module`` as one readable line."""
    return (
        "signatures %s; tags %s; %d variables (%s layout); assets %s; max |diff| against the "
        "checkpoint %.2g; tensorflow_hub %s" %
        (", ".join(report["signatures"]), ", ".join("{%s}" % ", ".join(t) for t in report["tags"]),
         report["variables"], report["embedding_layout"], ", ".join(
             report["assets"]), report["max_abs_difference"], report["tensorflow_hub"]))
