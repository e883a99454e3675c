# coding=utf-8
"""Hugging Face ALBERT <-> this project's Google-layout TF checkpoints.

Neither direction needs ``transformers`` or ``torch``: the weights file is
``model.safetensors``, read and written with ``safetensors.numpy``.

* ``checkpoint_to_hf(checkpoint, albert_config, output_dir, ...)`` writes a
  directory that ``transformers.AlbertForPreTraining.from_pretrained`` loads:
  ``config.json``, ``model.safetensors`` (encoder, pooler, the MLM head with
  its decoder tied to the word embeddings, the SOP head) and the tokenizer
  files (``vocab.txt`` with ``tokenizer_class: BertTokenizer`` for WordPiece
  vocabularies such as the Chinese one, or ``spiece.model`` for
  SentencePiece).
* ``hf_to_checkpoint(hf_dir, output_prefix)`` reads ``config.json`` and
  ``model.safetensors`` (only safetensors: ``pytorch_model.bin`` would need
  torch) and writes a TF checkpoint with the exact variable names
  ``run_pretraining.py`` writes, plus ``albert_config.json`` and the
  vocabulary beside it.

Only the Google layout converts. brightmart's native layout projects the word
table to H (``word_embeddings_2``, no bias) before H-wide position and token
type tables and the embedding LayerNorm; Hugging Face's ALBERT keeps those E
wide and maps E to H after the LayerNorm, with a bias, so no Hugging Face
ALBERT computes the same function. Pre-LN encoders have no Hugging Face
equivalent either. Both are refused with ``ConversionError``; nothing
approximate is ever written.

Name map (Google TF -> Hugging Face; kernels are transposed, since TF dense
kernels are [in, out] and torch Linear weights [out, in])::

    bert/embeddings/{word,position,token_type}_embeddings
                                 -> albert.embeddings.{...}_embeddings.weight
    bert/embeddings/LayerNorm/{gamma,beta}
                                 -> albert.embeddings.LayerNorm.{weight,bias}
    bert/encoder/embedding_hidden_mapping_in/{kernel,bias}
                                 -> albert.encoder.embedding_hidden_mapping_in.{weight,bias}
    bert/encoder/transformer/group_{g}/inner_group_{k}/...
                                 -> albert.encoder.albert_layer_groups.{g}.albert_layers.{k}.
        attention_1/self/{query,key,value}/*  -> attention.{query,key,value}.*
        attention_1/output/dense/*            -> attention.dense.*
        LayerNorm/*                           -> attention.LayerNorm.*
        ffn_1/intermediate/dense/*            -> ffn.*
        ffn_1/intermediate/output/dense/*     -> ffn_output.*
        LayerNorm_1/*                         -> full_layer_layer_norm.*
    bert/pooler/dense/*          -> albert.pooler.*
    cls/predictions/transform/dense/*         -> predictions.dense.*
    cls/predictions/transform/LayerNorm/*     -> predictions.LayerNorm.*
    cls/predictions/output_bias  -> predictions.bias (and predictions.decoder.bias)
    (word embeddings again)      -> predictions.decoder.weight (tied)
    cls/seq_relationship/output_weights [2, H] -> sop_classifier.classifier.weight
    cls/seq_relationship/output_bias           -> sop_classifier.classifier.bias
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import io
import json
import os
import re
import shutil
import struct

import numpy as np
import six

from tf_compat import tf

import checkpoint_utils
import modeling
import script_utils
import tokenization

HF_CONFIG_NAME = "config.json"
HF_WEIGHTS_NAME = "model.safetensors"
HF_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
HF_VOCAB_NAME = "vocab.txt"
HF_SPM_NAME = "spiece.model"
HF_TOKENIZER_CONFIG_NAME = "tokenizer_config.json"
HF_SPECIAL_TOKENS_NAME = "special_tokens_map.json"
ALBERT_CONFIG_NAME = "albert_config.json"

# Hugging Face's AlbertConfig defaults for the token ids (its SentencePiece
# vocabularies: <pad>=0, <unk>=1, [CLS]=2, [SEP]=3).
HF_DEFAULT_TOKEN_IDS = {"pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3}

HF_LAYER_NORM_EPS = modeling.LAYER_NORM_EPSILON

# This project's activation -> Hugging Face's ACT2FN name. ALBERT's GELU is
# the tanh form, which Hugging Face calls "gelu_new" ("gelu" there is the
# exact erf form).
_ACT_TO_HF = {
    "gelu": "gelu_new",
    "gelu_new": "gelu_new",
    "relu": "relu",
    "tanh": "tanh",
    "swish": "swish",
    "linear": "linear"
}
# Hugging Face activation -> (this project's, exact?).
_ACT_FROM_HF = {
    "gelu_new": ("gelu", True),
    "gelu_pytorch_tanh": ("gelu", True),
    "gelu": ("gelu", False),
    "relu": ("relu", True),
    "tanh": ("tanh", True),
    "swish": ("swish", True),
    "silu": ("swish", True),
    "linear": ("linear", True)
}

# Per layer: (TF name under group_{g}/inner_group_{k}/, HF name under
# albert_layers.{k}., transposed).
_LAYER_TENSORS = (
    ("attention_1/self/query/kernel", "attention.query.weight", True),
    ("attention_1/self/query/bias", "attention.query.bias", False),
    ("attention_1/self/key/kernel", "attention.key.weight", True),
    ("attention_1/self/key/bias", "attention.key.bias", False),
    ("attention_1/self/value/kernel", "attention.value.weight", True),
    ("attention_1/self/value/bias", "attention.value.bias", False),
    ("attention_1/output/dense/kernel", "attention.dense.weight", True),
    ("attention_1/output/dense/bias", "attention.dense.bias", False),
    ("LayerNorm/gamma", "attention.LayerNorm.weight", False),
    ("LayerNorm/beta", "attention.LayerNorm.bias", False),
    ("ffn_1/intermediate/dense/kernel", "ffn.weight", True),
    ("ffn_1/intermediate/dense/bias", "ffn.bias", False),
    ("ffn_1/intermediate/output/dense/kernel", "ffn_output.weight", True),
    ("ffn_1/intermediate/output/dense/bias", "ffn_output.bias", False),
    ("LayerNorm_1/gamma", "full_layer_layer_norm.weight", False),
    ("LayerNorm_1/beta", "full_layer_layer_norm.bias", False),
)

MLM_HEAD = "MLM"
SOP_HEAD = "SOP"

# The TF-only names of the two pretraining heads (the decoder's weight is the
# word table and has no name of its own).
_HEAD_TF_NAMES = {
    MLM_HEAD: ("cls/predictions/transform/dense/kernel", "cls/predictions/transform/dense/bias",
               "cls/predictions/transform/LayerNorm/gamma",
               "cls/predictions/transform/LayerNorm/beta", "cls/predictions/output_bias"),
    SOP_HEAD: ("cls/seq_relationship/output_weights", "cls/seq_relationship/output_bias"),
}
_HEAD_HF_NAMES = {
    MLM_HEAD: ("predictions.dense.weight", "predictions.dense.bias", "predictions.LayerNorm.weight",
               "predictions.LayerNorm.bias", "predictions.bias"),
    SOP_HEAD: ("sop_classifier.classifier.weight", "sop_classifier.classifier.bias"),
}
# Hugging Face names written as copies of other tensors: name -> source.
_TIED_HF_NAMES = {
    "predictions.decoder.weight": "albert.embeddings.word_embeddings.weight",
    "predictions.decoder.bias": "predictions.bias"
}

# Hugging Face entries that are buffers, not weights (older releases saved them).
_HF_BUFFER_RE = re.compile(r"(^|\.)embeddings\.(position_ids|token_type_ids)$")

# safetensors dtype -> numpy dtype (what numpy can hold).
_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_
}

TensorEntry = collections.namedtuple("TensorEntry",
                                     ["tf_name", "hf_name", "transposed", "tf_shape"])


class ConversionError(ValueError):
    """Input that cannot be converted exactly; the message is one line."""


class ConversionReport(object):
    """What a conversion wrote and what it left out.

    Attributes:
      direction: "checkpoint_to_hf" or "hf_to_checkpoint".
      source: the checkpoint prefix or Hugging Face directory read.
      output: the directory (to HF) or checkpoint prefix (to TF) written.
      files: paths written.
      num_tensors: tensors written.
      num_parameters: scalars in the tensors written (tied copies once).
      heads_written: pretraining heads converted ("MLM", "SOP").
      heads_absent: pretraining heads the source does not have.
      ignored: source tensors not converted (fine-tuning heads, ...).
      notes: anything else the user should know, one line each.
      tokenizer: "wordpiece", "sentencepiece" or None.
      do_lower_case: the casing written or read (None when unknown).
    """

    def __init__(self, direction, source, output):
        self.direction = direction
        self.source = source
        self.output = output
        self.files = []
        self.num_tensors = 0
        self.num_parameters = 0
        self.heads_written = []
        self.heads_absent = []
        self.ignored = []
        self.notes = []
        self.tokenizer = None
        self.do_lower_case = None

    def to_dict(self):
        """The report as a JSON-serialisable dict."""
        return dict((key, getattr(self, key))
                    for key in ("direction", "source", "output", "files", "num_tensors",
                                "num_parameters", "heads_written", "heads_absent", "ignored",
                                "notes", "tokenizer", "do_lower_case"))

    def summary(self):
        """One line: what was written, which heads, what was left out."""
        parts = [
            "%s -> %s: %d tensors (%d parameters)" %
            (self.source, self.output, self.num_tensors, self.num_parameters)
        ]
        parts.append("heads: %s" % (", ".join(self.heads_written) or "none"))
        if self.heads_absent:
            parts.append("absent from the source: %s" %
                         ", ".join(_HEAD_DESCRIPTIONS[h] for h in self.heads_absent))
        if self.ignored:
            shown = ", ".join(self.ignored[:4])
            more = " and %d more" % (len(self.ignored) - 4) if len(self.ignored) > 4 else ""
            parts.append("not converted: %s%s" % (shown, more))
        parts.append("tokenizer: %s" % (self.tokenizer or "none"))
        return "; ".join(parts)

    def __str__(self):
        return self.summary()


_HEAD_DESCRIPTIONS = {
    MLM_HEAD: "MLM head (cls/predictions/*)",
    SOP_HEAD: "SOP head (cls/seq_relationship/*)"
}

# ---------------------------------------------------------------------------
# The name map.
# ---------------------------------------------------------------------------


def _hf_num_groups(config):
    """Hugging Face's num_hidden_groups for a Google-layout config.

    ``sharing_mode`` "none" gives every layer its own ``group_{i}``, which is
    Hugging Face's ALBERT with one group per layer.
    """
    if config.sharing_mode == "none":
        return config.num_hidden_layers
    return config.num_hidden_groups


def tensor_name_map(albert_config, mlm_head=True, sop_head=True):
    """The TF <-> Hugging Face tensor names of a Google-layout model.

    Args:
      albert_config: modeling.AlbertConfig (Google layout, post-LN, sharing
        mode "all" or "none").
      mlm_head: include the MLM head (cls/predictions).
      sop_head: include the SOP head (cls/seq_relationship).

    Returns:
      list of ``TensorEntry(tf_name, hf_name, transposed, tf_shape)``. The
      E->H mapping appears only when E != H (when E == H the TF model has
      none and Hugging Face's is the identity). The tied decoder tensors are
      not listed (see ``checkpoint_to_hf``).

    Raises:
      ConversionError: for a config Hugging Face's ALBERT cannot express.
    """
    config = albert_config
    _check_convertible_config(config)
    v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
    inter = config.intermediate_size
    entries = [
        TensorEntry("bert/embeddings/word_embeddings", "albert.embeddings.word_embeddings.weight",
                    False, [v, e]),
        TensorEntry("bert/embeddings/position_embeddings",
                    "albert.embeddings.position_embeddings.weight", False,
                    [config.max_position_embeddings, e]),
        TensorEntry("bert/embeddings/token_type_embeddings",
                    "albert.embeddings.token_type_embeddings.weight", False,
                    [config.type_vocab_size, e]),
        TensorEntry("bert/embeddings/LayerNorm/gamma", "albert.embeddings.LayerNorm.weight", False,
                    [e]),
        TensorEntry("bert/embeddings/LayerNorm/beta", "albert.embeddings.LayerNorm.bias", False,
                    [e]),
    ]
    if e != h:
        entries += [
            TensorEntry("bert/encoder/embedding_hidden_mapping_in/kernel",
                        "albert.encoder.embedding_hidden_mapping_in.weight", True, [e, h]),
            TensorEntry("bert/encoder/embedding_hidden_mapping_in/bias",
                        "albert.encoder.embedding_hidden_mapping_in.bias", False, [h]),
        ]
    layer_shapes = {
        "attention_1/self/query/kernel": [h, h],
        "attention_1/self/key/kernel": [h, h],
        "attention_1/self/value/kernel": [h, h],
        "attention_1/output/dense/kernel": [h, h],
        "ffn_1/intermediate/dense/kernel": [h, inter],
        "ffn_1/intermediate/dense/bias": [inter],
        "ffn_1/intermediate/output/dense/kernel": [inter, h],
    }
    for group in range(_hf_num_groups(config)):
        for inner in range(config.inner_group_num):
            tf_prefix = "bert/encoder/transformer/group_%d/inner_group_%d/" % (group, inner)
            hf_prefix = "albert.encoder.albert_layer_groups.%d.albert_layers.%d." % (group, inner)
            for tf_suffix, hf_suffix, transposed in _LAYER_TENSORS:
                entries.append(
                    TensorEntry(tf_prefix + tf_suffix, hf_prefix + hf_suffix, transposed,
                                layer_shapes.get(tf_suffix, [h])))
    entries += [
        TensorEntry("bert/pooler/dense/kernel", "albert.pooler.weight", True, [h, h]),
        TensorEntry("bert/pooler/dense/bias", "albert.pooler.bias", False, [h]),
    ]
    if mlm_head:
        tf_names = _HEAD_TF_NAMES[MLM_HEAD]
        hf_names = _HEAD_HF_NAMES[MLM_HEAD]
        shapes = ([h, e], [e], [e], [e], [v])
        for tf_name, hf_name, shape in zip(tf_names, hf_names, shapes):
            entries.append(TensorEntry(tf_name, hf_name, tf_name.endswith("/kernel"), shape))
    if sop_head:
        tf_names = _HEAD_TF_NAMES[SOP_HEAD]
        hf_names = _HEAD_HF_NAMES[SOP_HEAD]
        # output_weights is already [out, in] = [2, H]: no transpose.
        for tf_name, hf_name, shape in zip(tf_names, hf_names, ([2, h], [2])):
            entries.append(TensorEntry(tf_name, hf_name, False, shape))
    return entries


def _hf_shape(entry):
    return list(reversed(entry.tf_shape)) if entry.transposed else list(entry.tf_shape)


def _check_convertible_config(config):
    """Raises ConversionError when Hugging Face's ALBERT cannot express ``config``."""
    layout = config.resolved_embedding_layout
    if layout == "brightmart":
        raise ConversionError(_BRIGHTMART_REASON)
    if config.resolved_ln_type == "preln":
        raise ConversionError(
            "pre-LN model (ln_type=preln): Hugging Face's ALBERT is post-LN only (LayerNorm "
            "after each residual sum), so no Hugging Face model computes the same function; "
            "not converted")
    if config.sharing_mode not in ("all", "none"):
        raise ConversionError(
            "sharing_mode=%s shares only the %s across layers; Hugging Face's ALBERT shares "
            "whole layers (num_hidden_groups), so it cannot express this model; not converted" %
            (config.sharing_mode, "attention" if config.sharing_mode == "attention" else "FFN"))
    if config.hidden_act not in _ACT_TO_HF:
        raise ConversionError("hidden_act %r has no Hugging Face equivalent" % config.hidden_act)
    layers = config.num_hidden_layers
    groups = _hf_num_groups(config)
    for layer in range(layers):
        ours = (layer if config.sharing_mode == "none" else modeling.layer_group_index(
            layer, layers, config.num_hidden_groups))
        theirs = int(layer / (layers / groups))
        if ours != theirs:
            raise ConversionError(
                "layer %d uses group %d here but group %d in Hugging Face's ALBERT "
                "(num_hidden_layers=%d, num_hidden_groups=%d); not converted" %
                (layer, ours, theirs, layers, groups))


_BRIGHTMART_REASON = (
    "brightmart-layout model (word_embeddings_2 / layer_shared): it projects the word table "
    "to H without a bias before adding H-wide position and token-type tables and the "
    "embedding LayerNorm, while Hugging Face's ALBERT keeps those E wide and maps E->H after "
    "the LayerNorm with a bias, so no Hugging Face ALBERT computes the same function; "
    "not converted (only Google-layout checkpoints convert exactly)")

# ---------------------------------------------------------------------------
# Hugging Face config.json and tokenizer files.
# ---------------------------------------------------------------------------


def hf_config_dict(albert_config, architectures=("AlbertForPreTraining",), tokenizer_class=None,
                   token_ids=None):
    """The ``config.json`` of Hugging Face's ALBERT for ``albert_config``.

    Args:
      albert_config: modeling.AlbertConfig (Google layout).
      architectures: the model classes to list.
      tokenizer_class: "BertTokenizer", "AlbertTokenizer" or None.
      token_ids: dict with pad/bos/eos_token_id (default: Hugging Face's).

    Returns:
      dict ready for json.dump.

    Raises:
      ConversionError: for a config Hugging Face's ALBERT cannot express.
    """
    config = albert_config
    _check_convertible_config(config)
    out = collections.OrderedDict()
    out["architectures"] = list(architectures)
    out["model_type"] = "albert"
    out["vocab_size"] = config.vocab_size
    out["embedding_size"] = config.embedding_size
    out["hidden_size"] = config.hidden_size
    out["num_hidden_layers"] = config.num_hidden_layers
    out["num_hidden_groups"] = _hf_num_groups(config)
    out["num_attention_heads"] = config.num_attention_heads
    out["intermediate_size"] = config.intermediate_size
    out["inner_group_num"] = config.inner_group_num
    out["hidden_act"] = _ACT_TO_HF[config.hidden_act]
    out["hidden_dropout_prob"] = float(config.hidden_dropout_prob)
    out["attention_probs_dropout_prob"] = float(config.attention_probs_dropout_prob)
    out["max_position_embeddings"] = config.max_position_embeddings
    out["type_vocab_size"] = config.type_vocab_size
    out["initializer_range"] = float(config.initializer_range)
    out["layer_norm_eps"] = HF_LAYER_NORM_EPS
    out["classifier_dropout_prob"] = 0.1
    out["position_embedding_type"] = "absolute"
    ids = dict(HF_DEFAULT_TOKEN_IDS)
    ids.update(token_ids or {})
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        out[key] = ids[key]
    out["tie_word_embeddings"] = True
    if tokenizer_class:
        out["tokenizer_class"] = tokenizer_class
    return out


def _wordpiece_files(vocab, do_lower_case, max_length):
    """(tokenizer_config, special_tokens_map, token_ids) for BertTokenizer."""
    special = collections.OrderedDict()
    for key, token in (("unk_token", tokenization.UNK), ("sep_token", tokenization.SEP),
                       ("pad_token", tokenization.PAD), ("cls_token", tokenization.CLS),
                       ("mask_token", tokenization.MASK)):
        if token in vocab:
            special[key] = token
    config = collections.OrderedDict()
    config["tokenizer_class"] = "BertTokenizer"
    config["do_lower_case"] = bool(do_lower_case)
    config["do_basic_tokenize"] = True
    config["tokenize_chinese_chars"] = True
    config["strip_accents"] = None
    config["model_max_length"] = max_length
    config.update(special)
    token_ids = {
        "pad_token_id": vocab.get(tokenization.PAD),
        "bos_token_id": vocab.get(tokenization.CLS),
        "eos_token_id": vocab.get(tokenization.SEP)
    }
    return config, special, token_ids


def _sentencepiece_files(vocab, unk_token, do_lower_case, max_length):
    """(tokenizer_config, special_tokens_map, token_ids) for AlbertTokenizer."""
    special = collections.OrderedDict()
    special["bos_token"] = tokenization.CLS
    special["eos_token"] = tokenization.SEP
    special["unk_token"] = unk_token or "<unk>"
    special["sep_token"] = tokenization.SEP
    special["pad_token"] = "<pad>"
    special["cls_token"] = tokenization.CLS
    # As Hugging Face's ALBERT: [MASK] swallows the space before it.
    special["mask_token"] = collections.OrderedDict([("content", tokenization.MASK),
                                                     ("lstrip", True), ("rstrip", False),
                                                     ("normalized", False), ("single_word", False)])
    config = collections.OrderedDict()
    config["tokenizer_class"] = "AlbertTokenizer"
    config["do_lower_case"] = bool(do_lower_case)
    config["remove_space"] = True
    config["keep_accents"] = False
    config["model_max_length"] = max_length
    config.update(special)
    token_ids = {
        "pad_token_id": vocab.get("<pad>"),
        "bos_token_id": vocab.get(tokenization.CLS),
        "eos_token_id": vocab.get(tokenization.SEP)
    }
    return config, special, token_ids


def _json_text(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------
# safetensors I/O.
# ---------------------------------------------------------------------------


def _safetensors_numpy():
    try:
        import safetensors.numpy  # pylint: disable=g-import-not-at-top
    except ImportError:
        raise ConversionError("the safetensors package is not installed (pip install -r "
                              "requirements.txt)")
    return safetensors.numpy


def read_safetensors_header(path):
    """The header of a ``.safetensors`` file: {name: (dtype, shape)}.

    Args:
      path: the file.

    Returns:
      (dict name -> (dtype string, shape list), metadata dict or None).

    Raises:
      ConversionError: when the file is not a safetensors file.
    """
    try:
        with io.open(path, "rb") as reader:
            head = reader.read(8)
            if len(head) != 8:
                raise ConversionError("%s: not a safetensors file (shorter than 8 bytes)" % path)
            (size,) = struct.unpack("<Q", head)
            if size > 100 * 1024 * 1024:
                raise ConversionError("%s: not a safetensors file (header size %d)" % (path, size))
            raw = reader.read(size)
    except (IOError, OSError) as e:
        raise ConversionError("%s: cannot read: %s" % (path, getattr(e, "strerror", None) or e))
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConversionError("%s: not a safetensors file (bad header: %s)" % (path, e))
    if not isinstance(header, dict):
        raise ConversionError("%s: not a safetensors file (header is not a JSON object)" % path)
    metadata = header.pop("__metadata__", None)
    out = {}
    for name, info in six.iteritems(header):
        if not isinstance(info, dict) or "dtype" not in info or "shape" not in info:
            raise ConversionError("%s: not a safetensors file (entry %r)" % (path, name))
        out[name] = (info["dtype"], list(info["shape"]))
    return out, metadata


def _read_safetensors(paths):
    """{name: float32 numpy array} from safetensors files; dtypes checked first."""
    st = _safetensors_numpy()
    tensors = {}
    for path in paths:
        header, _ = read_safetensors_header(path)
        for name, (dtype, _) in sorted(header.items()):
            if dtype not in _SAFETENSORS_DTYPES:
                raise ConversionError(
                    "%s: tensor %s has dtype %s, which numpy cannot hold; save the model "
                    "as float32 or float16" % (path, name, dtype))
        try:
            loaded = st.load_file(path)
        except Exception as e:  # pylint: disable=broad-except
            raise ConversionError("%s: cannot read: %s" % (path, str(e).split("\n")[0]))
        for name, value in six.iteritems(loaded):
            if name in tensors:
                raise ConversionError("%s: tensor %s is also in another shard" % (path, name))
            if np.issubdtype(value.dtype, np.floating) and value.dtype != np.float32:
                value = value.astype(np.float32)
            tensors[name] = value
    return tensors


def _write_safetensors(tensors, path):
    st = _safetensors_numpy()
    arrays = dict((name, np.ascontiguousarray(value)) for name, value in tensors.items())
    with script_utils.atomic_output(path) as tmp:
        st.save_file(arrays, tmp, metadata={"format": "pt"})


def _write_text(path, text):
    with script_utils.atomic_output(path) as tmp:
        with io.open(tmp, "w", encoding="utf-8") as writer:
            writer.write(six.text_type(text))


def _copy_file(source, destination):
    if os.path.exists(destination) and os.path.samefile(source, destination):
        return
    with script_utils.atomic_output(destination) as tmp:
        shutil.copyfile(source, tmp)


# ---------------------------------------------------------------------------
# Checkpoint -> Hugging Face.
# ---------------------------------------------------------------------------


def _load_albert_config(albert_config):
    if isinstance(albert_config, modeling.AlbertConfig):
        return albert_config
    try:
        if isinstance(albert_config, dict):
            return modeling.AlbertConfig.from_dict(albert_config)
        return modeling.AlbertConfig.from_json_file(albert_config)
    except modeling.ConfigError as e:
        raise ConversionError(str(e))


def _vocabulary(vocab_file, spm_model_file, config):
    """(kind, path, vocab dict, unk token) of the given vocabulary, or Nones."""
    if not vocab_file and not spm_model_file:
        return None, None, None, None
    try:
        tokenizer = tokenization.FullTokenizer.from_files(vocab_file=vocab_file,
                                                          spm_model_file=spm_model_file)
    except (ValueError, IOError, OSError) as e:
        raise ConversionError(str(e).split("\n")[0])
    try:
        tokenization.check_vocab_matches_config(tokenizer, config)
    except ValueError as e:
        raise ConversionError(str(e))
    if tokenizer.is_sentencepiece:
        return "sentencepiece", tokenizer.spm_model_file, tokenizer.vocab, tokenizer.unk_token
    return "wordpiece", tokenizer.vocab_file, tokenizer.vocab, tokenizer.unk_token


def checkpoint_to_hf(checkpoint_prefix, albert_config, output_dir, vocab_file=None,
                     spm_model_file=None, do_lower_case=True):
    """Writes a Google-layout checkpoint as a Hugging Face ALBERT directory.

    The directory holds ``config.json``, ``model.safetensors`` and, when a
    vocabulary is given, the tokenizer files; it loads with
    ``transformers.AlbertForPreTraining.from_pretrained`` (or
    ``AutoModel``/``AutoTokenizer``). Each file is written under a temporary
    name and renamed into place, ``config.json`` last.

    Args:
      checkpoint_prefix: the checkpoint (prefix, directory, ``checkpoint``
        file or one of its files).
      albert_config: modeling.AlbertConfig, a config dict or a JSON path. A
        config that does not name its layout takes the checkpoint's.
      output_dir: directory to write (created; our files in it replaced).
      vocab_file: WordPiece ``vocab.txt`` (written with ``tokenizer_class:
        BertTokenizer``, so Chinese text tokenizes as here) or a SentencePiece
        model.
      spm_model_file: SentencePiece model (written as ``spiece.model`` with
        ``AlbertTokenizer``).
      do_lower_case: the tokenizer's casing.

    Returns:
      ConversionReport; ``heads_absent`` names the pretraining heads the
      checkpoint lacks (an encoder-only or fine-tuned checkpoint: the encoder
      is still written), ``ignored`` the checkpoint entries not converted.

    Raises:
      ConversionError: brightmart layout, pre-LN, a config that disagrees with
        the checkpoint, a missing or mis-shaped variable, a partial head, a
        vocabulary that does not fit the config, an unreadable checkpoint.
    """
    config = _load_albert_config(albert_config)
    try:
        prefix = checkpoint_utils.check_checkpoint_complete(checkpoint_prefix)
        variables = checkpoint_utils.list_variables(prefix)
    except checkpoint_utils.CheckpointError as e:
        raise ConversionError(str(e))
    shapes = dict(variables)
    if checkpoint_utils.detect_dialect(shapes) == "brightmart":
        raise ConversionError("%s: %s" % (prefix, _BRIGHTMART_REASON))
    try:
        config = checkpoint_utils.config_for_checkpoint(config, prefix)
    except checkpoint_utils.CheckpointMismatchError as e:
        raise ConversionError(str(e))
    _check_convertible_config(config)
    problems = checkpoint_utils.check_config_against_checkpoint(config, prefix)
    if problems:
        raise ConversionError("%s does not match the config: %s" % (prefix, "; ".join(problems)))

    report = ConversionReport("checkpoint_to_hf", prefix, output_dir)
    heads = {}
    for head, names in sorted(_HEAD_TF_NAMES.items()):
        present = [n for n in names if n in shapes]
        if present and len(present) != len(names):
            missing = [n for n in names if n not in shapes]
            raise ConversionError("%s: the %s is incomplete: %s missing" %
                                  (prefix, _HEAD_DESCRIPTIONS[head], ", ".join(missing)))
        heads[head] = bool(present)
    entries = tensor_name_map(config, mlm_head=heads[MLM_HEAD], sop_head=heads[SOP_HEAD])
    missing = [entry.tf_name for entry in entries if entry.tf_name not in shapes]
    if missing:
        raise ConversionError("%s: %d model variable(s) missing: %s" %
                              (prefix, len(missing), ", ".join(missing[:6]) +
                               (" ..." if len(missing) > 6 else "")))
    for entry in entries:
        if list(shapes[entry.tf_name]) != entry.tf_shape:
            raise ConversionError(
                "%s: variable %s has shape %s, the config implies %s" %
                (prefix, entry.tf_name, list(shapes[entry.tf_name]), entry.tf_shape))

    kind, vocab_path, vocab, unk_token = _vocabulary(vocab_file, spm_model_file, config)
    reader = tf.train.load_checkpoint(prefix)
    tensors = collections.OrderedDict()
    for entry in entries:
        value = np.asarray(reader.get_tensor(entry.tf_name))
        if np.issubdtype(value.dtype, np.floating) and value.dtype != np.float32:
            value = value.astype(np.float32)
        tensors[entry.hf_name] = value.T if entry.transposed else value
    if config.embedding_size == config.hidden_size:
        # No mapping in the TF model; Hugging Face always applies one.
        tensors["albert.encoder.embedding_hidden_mapping_in.weight"] = np.eye(
            config.hidden_size, dtype=np.float32)
        tensors["albert.encoder.embedding_hidden_mapping_in.bias"] = np.zeros([config.hidden_size],
                                                                              np.float32)
        report.notes.append("embedding_size == hidden_size: the E->H mapping Hugging Face "
                            "always applies is written as the identity")
    num_parameters = sum(int(v.size) for v in tensors.values())
    if heads[MLM_HEAD]:
        for name, source in sorted(_TIED_HF_NAMES.items()):
            tensors[name] = tensors[source]
    used = set(entry.tf_name for entry in entries)
    report.ignored = [
        name for name, _ in variables
        if name not in used and not checkpoint_utils.is_ignored_variable(name)
    ]
    report.heads_written = [h for h in (MLM_HEAD, SOP_HEAD) if heads[h]]
    report.heads_absent = [h for h in (MLM_HEAD, SOP_HEAD) if not heads[h]]
    if heads[MLM_HEAD] and heads[SOP_HEAD]:
        architectures = ["AlbertForPreTraining"]
    elif heads[MLM_HEAD]:
        architectures = ["AlbertForMaskedLM"]
    else:
        architectures = ["AlbertModel"]

    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ConversionError("%s: exists and is not a directory" % output_dir)
    if not os.path.isdir(output_dir):
        os.makedirs(output_dir)
    _write_safetensors(tensors, os.path.join(output_dir, HF_WEIGHTS_NAME))
    report.files.append(os.path.join(output_dir, HF_WEIGHTS_NAME))

    tokenizer_class = None
    token_ids = None
    stale = [HF_VOCAB_NAME, HF_SPM_NAME, HF_TOKENIZER_CONFIG_NAME, HF_SPECIAL_TOKENS_NAME]
    if kind is not None:
        max_length = config.max_position_embeddings
        if kind == "wordpiece":
            tok_config, special, token_ids = _wordpiece_files(vocab, do_lower_case, max_length)
            vocab_name = HF_VOCAB_NAME
        else:
            tok_config, special, token_ids = _sentencepiece_files(vocab, unk_token, do_lower_case,
                                                                  max_length)
            vocab_name = HF_SPM_NAME
        tokenizer_class = tok_config["tokenizer_class"]
        written = [(vocab_name, None), (HF_TOKENIZER_CONFIG_NAME, tok_config),
                   (HF_SPECIAL_TOKENS_NAME, special)]
        for name, content in written:
            path = os.path.join(output_dir, name)
            if content is None:
                _copy_file(vocab_path, path)
            else:
                _write_text(path, _json_text(content))
            report.files.append(path)
            stale.remove(name)
        report.tokenizer = kind
        report.do_lower_case = bool(do_lower_case)
        for key in sorted(token_ids):
            if token_ids[key] is None:
                report.notes.append("%s: the vocabulary has no such token; written as null" % key)
    else:
        report.notes.append("no vocabulary given: no tokenizer files; pad/bos/eos token ids "
                            "are Hugging Face's defaults (0/2/3)")
    for name in stale:
        path = os.path.join(output_dir, name)
        if os.path.isfile(path):
            os.remove(path)
    config_path = os.path.join(output_dir, HF_CONFIG_NAME)
    _write_text(config_path,
                _json_text(hf_config_dict(config, architectures, tokenizer_class, token_ids)))
    report.files.append(config_path)
    report.num_tensors = len(tensors)
    report.num_parameters = num_parameters
    if report.heads_absent:
        report.notes.append("the checkpoint has no %s: Hugging Face will initialise %s "
                            "randomly if asked for it" %
                            (" and no ".join(_HEAD_DESCRIPTIONS[h] for h in report.heads_absent),
                             "them" if len(report.heads_absent) > 1 else "it"))
    tf.logging.debug("Hugging Face export: %s", report.summary())
    return report


# ---------------------------------------------------------------------------
# Hugging Face -> checkpoint.
# ---------------------------------------------------------------------------


def _read_hf_config(hf_dir):
    if not os.path.isdir(hf_dir):
        raise ConversionError("%s: not a directory (expected a Hugging Face model directory "
                              "with config.json and model.safetensors)" % hf_dir)
    path = os.path.join(hf_dir, HF_CONFIG_NAME)
    if not os.path.isfile(path):
        raise ConversionError("%s: no %s (not a Hugging Face model directory)" %
                              (hf_dir, HF_CONFIG_NAME))
    try:
        with io.open(path, "r", encoding="utf-8") as reader:
            data = json.load(reader)
    except (IOError, OSError, ValueError) as e:
        raise ConversionError("%s: cannot read JSON: %s" % (path, e))
    if not isinstance(data, dict):
        raise ConversionError("%s: not a JSON object" % path)
    model_type = data.get("model_type")
    if model_type != "albert":
        raise ConversionError("%s: model_type is %r, not 'albert'; only ALBERT models convert" %
                              (path, model_type))
    return path, data


def _weight_files(hf_dir):
    single = os.path.join(hf_dir, HF_WEIGHTS_NAME)
    if os.path.isfile(single):
        return [single]
    index = os.path.join(hf_dir, HF_WEIGHTS_INDEX_NAME)
    if os.path.isfile(index):
        try:
            with io.open(index, "r", encoding="utf-8") as reader:
                weight_map = json.load(reader)["weight_map"]
        except (IOError, OSError, ValueError, KeyError, TypeError) as e:
            raise ConversionError("%s: cannot read the shard index: %s" % (index, e))
        files = sorted(set(os.path.join(hf_dir, f) for f in weight_map.values()))
        for path in files:
            if not os.path.isfile(path):
                raise ConversionError("%s: shard %s is missing" % (index, path))
        return files
    others = [
        n for n in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
        if os.path.isfile(os.path.join(hf_dir, n))
    ]
    found = " (found %s)" % ", ".join(others) if others else ""
    raise ConversionError("%s: no %s%s; only safetensors weights are read (re-save the model "
                          "with save_pretrained(..., safe_serialization=True))" %
                          (hf_dir, HF_WEIGHTS_NAME, found))


def _config_from_hf(data, config_path, report):
    """modeling.AlbertConfig (Google layout) from a Hugging Face config dict."""
    act = data.get("hidden_act", "gelu_new")
    if act not in _ACT_FROM_HF:
        raise ConversionError("%s: hidden_act %r has no equivalent here (expected one of %s)" %
                              (config_path, act, ", ".join(sorted(_ACT_FROM_HF))))
    our_act, exact = _ACT_FROM_HF[act]
    if not exact:
        report.notes.append(
            "hidden_act 'gelu' is the erf GELU in Hugging Face; ALBERT (and this project) uses "
            "the tanh form, so outputs differ slightly (at most ~1e-3 per activation)")
    position_type = data.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ConversionError("%s: position_embedding_type %r: only absolute positions exist "
                              "here" % (config_path, position_type))
    eps = data.get("layer_norm_eps", HF_LAYER_NORM_EPS)
    if eps != HF_LAYER_NORM_EPS:
        report.notes.append("layer_norm_eps is %g in the Hugging Face config; this project's "
                            "LayerNorm uses 1e-12" % eps)
    fields = {}
    defaults = {
        "vocab_size": 30000,
        "embedding_size": 128,
        "hidden_size": 4096,
        "num_hidden_layers": 12,
        "num_hidden_groups": 1,
        "num_attention_heads": 64,
        "intermediate_size": 16384,
        "inner_group_num": 1,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02
    }
    for key, default in sorted(defaults.items()):
        fields[key] = data.get(key, default)
    fields["hidden_act"] = our_act
    fields["embedding_layout"] = "google"
    fields["ln_type"] = "postln"
    try:
        config = modeling.AlbertConfig.from_dict(fields, source=config_path)
    except modeling.ConfigError as e:
        raise ConversionError(str(e))
    # Same group rule on both sides (checked, not assumed).
    _check_convertible_config(config)
    return config


def _hf_prefix(tensors):
    """"albert." for a model with heads, "" for a bare AlbertModel."""
    if any(name.startswith("albert.") for name in tensors):
        return "albert."
    return ""


def hf_to_checkpoint(hf_dir, output_prefix):
    """Writes a Hugging Face ALBERT directory as a Google-layout TF checkpoint.

    Reads ``config.json`` and ``model.safetensors`` (or its shards); only
    safetensors weights are read (``pytorch_model.bin`` would need torch).
    Writes the checkpoint at ``output_prefix`` with the variable names
    ``run_pretraining.py`` writes (``bert/...``, ``cls/predictions/...``,
    ``cls/seq_relationship/...``), so it loads with
    ``checkpoint_utils.init_from_checkpoint`` in every script here; beside it
    ``albert_config.json`` (Google layout), the vocabulary (``vocab.txt`` or
    ``spiece.model``) when the directory has one, and a ``checkpoint`` file
    when the directory has none yet.

    Args:
      hf_dir: the Hugging Face model directory.
      output_prefix: checkpoint prefix to write, e.g. ``out/albert_model.ckpt``.

    Returns:
      ConversionReport (heads written / absent, tensors not converted, notes).

    Raises:
      ConversionError: not a directory, no config.json, model_type not
        albert, a config this project cannot express, no safetensors weights,
        a missing or mis-shaped tensor (named), an untied decoder.
    """
    config_path, data = _read_hf_config(hf_dir)
    report = ConversionReport("hf_to_checkpoint", hf_dir, output_prefix)
    config = _config_from_hf(data, config_path, report)
    files = _weight_files(hf_dir)
    tensors = _read_safetensors(files)
    weights_name = files[0] if len(files) == 1 else os.path.join(hf_dir, HF_WEIGHTS_INDEX_NAME)
    prefix = _hf_prefix(tensors)

    def hf(name):
        return prefix + name[len("albert."):] if name.startswith("albert.") else name

    heads = {}
    for head, names in sorted(_HEAD_HF_NAMES.items()):
        present = [n for n in names if n in tensors]
        if present and len(present) != len(names):
            missing = [n for n in names if n not in tensors]
            raise ConversionError("%s: the %s is incomplete: tensor(s) %s missing" %
                                  (weights_name, head, ", ".join(missing)))
        heads[head] = bool(present)
    entries = tensor_name_map(config, mlm_head=heads[MLM_HEAD], sop_head=heads[SOP_HEAD])
    wanted = [(e, hf(e.hf_name)) for e in entries]
    mapping = ("albert.encoder.embedding_hidden_mapping_in.weight",
               "albert.encoder.embedding_hidden_mapping_in.bias")
    if config.embedding_size == config.hidden_size:
        wanted_extra = [hf(n) for n in mapping]
    else:
        wanted_extra = []
    missing = [name for _, name in wanted if name not in tensors]
    missing += [name for name in wanted_extra if name not in tensors]
    if missing:
        raise ConversionError("%s: %d tensor(s) missing: %s" %
                              (weights_name, len(missing), ", ".join(missing[:6]) +
                               (" ..." if len(missing) > 6 else "")))
    for entry, name in wanted:
        shape = list(tensors[name].shape)
        if shape != _hf_shape(entry):
            raise ConversionError("%s: tensor %s has shape %s, config.json implies %s" %
                                  (weights_name, name, shape, _hf_shape(entry)))
    h = config.hidden_size
    if wanted_extra:
        weight, bias = tensors[wanted_extra[0]], tensors[wanted_extra[1]]
        if list(weight.shape) != [h, h] or list(bias.shape) != [h]:
            raise ConversionError("%s: tensor %s has shape %s, config.json implies %s" %
                                  (weights_name, wanted_extra[0], list(weight.shape), [h, h]))
        if not (np.array_equal(weight, np.eye(h, dtype=weight.dtype)) and not np.any(bias)):
            raise ConversionError(
                "%s: embedding_size == hidden_size but %s is not the identity with a zero "
                "bias; this project's model has no E->H mapping when E == H, so it cannot hold "
                "this one" % (weights_name, wanted_extra[0]))
    if heads[MLM_HEAD]:
        for name, source in sorted(_TIED_HF_NAMES.items()):
            if name in tensors and not np.array_equal(tensors[name], tensors[hf(source)]):
                raise ConversionError(
                    "%s: %s differs from %s; this project ties the MLM decoder to the word "
                    "embeddings (and its bias to predictions.bias), so an untied decoder "
                    "cannot be held" % (weights_name, name, hf(source)))

    out = collections.OrderedDict()
    for entry, name in wanted:
        value = tensors[name]
        out[entry.tf_name] = np.ascontiguousarray(value.T if entry.transposed else value)
    used = set(name for _, name in wanted) | set(wanted_extra)
    if heads[MLM_HEAD]:
        used |= set(_TIED_HF_NAMES)
    report.ignored = sorted(n for n in tensors if n not in used and not _HF_BUFFER_RE.search(n))
    report.heads_written = [h_ for h_ in (MLM_HEAD, SOP_HEAD) if heads[h_]]
    report.heads_absent = [h_ for h_ in (MLM_HEAD, SOP_HEAD) if not heads[h_]]

    directory = os.path.dirname(output_prefix) or "."
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ConversionError("%s: exists and is not a directory" % directory)
    report.files += checkpoint_utils.write_checkpoint(out, output_prefix)
    config_file = os.path.join(directory, ALBERT_CONFIG_NAME)
    config.to_json_file(config_file)
    report.files.append(config_file)
    state_file = os.path.join(directory, "checkpoint")
    if not os.path.exists(state_file):
        base = os.path.basename(output_prefix)
        _write_text(
            state_file, 'model_checkpoint_path: "%s"\nall_model_checkpoint_paths: '
            '"%s"\n' % (base, base))
        report.files.append(state_file)
    vocab_path = os.path.join(hf_dir, HF_VOCAB_NAME)
    spm_path = os.path.join(hf_dir, HF_SPM_NAME)
    for kind, source, name in (("wordpiece", vocab_path, HF_VOCAB_NAME), ("sentencepiece", spm_path,
                                                                          HF_SPM_NAME)):
        if os.path.isfile(source):
            destination = os.path.join(directory, name)
            _copy_file(source, destination)
            report.files.append(destination)
            report.tokenizer = report.tokenizer or kind
    if report.tokenizer is None:
        report.notes.append("%s has no vocab.txt or spiece.model: no vocabulary written" % hf_dir)
    else:
        _check_copied_vocab(report, hf_dir, directory, config)
    report.num_tensors = len(out)
    report.num_parameters = sum(int(v.size) for v in out.values())
    tf.logging.debug("Hugging Face import: %s", report.summary())
    return report


def _check_copied_vocab(report, hf_dir, directory, config):
    """Notes the tokenizer's casing and a vocabulary that does not fit the config."""
    tok_config = os.path.join(hf_dir, HF_TOKENIZER_CONFIG_NAME)
    if os.path.isfile(tok_config):
        try:
            with io.open(tok_config, "r", encoding="utf-8") as reader:
                value = json.load(reader).get("do_lower_case")
            if isinstance(value, bool):
                report.do_lower_case = value
        except (IOError, OSError, ValueError, AttributeError):
            report.notes.append("%s: unreadable; casing unknown" % tok_config)
    name = HF_VOCAB_NAME if report.tokenizer == "wordpiece" else HF_SPM_NAME
    try:
        tokenizer = tokenization.FullTokenizer.from_files(vocab_file=os.path.join(directory, name))
        tokenization.check_vocab_matches_config(tokenizer, config)
    except (ValueError, IOError, OSError) as e:
        report.notes.append(str(e).split("\n")[0])
