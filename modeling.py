# coding=utf-8
"""ALBERT model: configuration, embeddings, the shared Transformer encoder.

Two embedding layouts are supported, each with the exact variable names of
the checkpoints released for it:

* ``google`` (google-research/albert and the ``*_google`` albert_zh releases):
  word, token-type and position tables are E wide, followed by an E-wide
  LayerNorm, then ``bert/encoder/embedding_hidden_mapping_in`` maps E to H
  (with bias). Layers live under
  ``bert/encoder/transformer/group_{g}/inner_group_{k}/``.
* ``brightmart`` (the native albert_zh releases: albert_tiny, base, large,
  xlarge): the [V, E] word table is projected by ``word_embeddings_2`` [E, H]
  (no bias) before H-wide token-type and position tables and an H-wide
  LayerNorm. All layers share ``bert/encoder/layer_shared/``.

The three ALBERT changes live here: the factorised embedding (V*E + E*H
parameters instead of V*H), cross-layer parameter sharing
(``num_hidden_groups`` x ``inner_group_num`` as Google defines it, plus the
sharing modes the ALBERT paper studies: all, attention-only, FFN-only, none),
and the pooled output the sentence-order head reads.

The model computes in float32, or with ``compute_dtype=tf.bfloat16`` (or
inside ``compute_dtype_scope(tf.bfloat16)``, the scripts' ``--use_bf16``) its
matrix products in bfloat16 with float32 variables. Training graphs use the
hand-written gradients of ``fast_ops.py`` (same values, fewer passes).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import contextlib
import copy
import io
import json
import math

import numpy as np
import six

from tf_compat import tf
import fast_ops
import tf_compat

EMBEDDING_LAYOUTS = ("google", "brightmart")
LN_TYPES = ("postln", "preln")
SHARING_MODES = ("all", "attention", "ffn", "none")
ACTIVATIONS = ("gelu", "gelu_new", "relu", "tanh", "swish", "linear")

LAYER_NORM_EPSILON = fast_ops.LAYER_NORM_EPSILON
ATTENTION_MASK_VALUE = -10000.0


class ConfigError(ValueError):
    """A model configuration that cannot describe a valid ALBERT model."""


COMPUTE_DTYPES = (tf.float32, tf.bfloat16)
_compute_dtype_stack = [tf.float32]


def _check_compute_dtype(dtype):
    """``dtype`` as a tf.DType; ValueError unless float32 or bfloat16."""
    dtype = tf.as_dtype(dtype)
    if dtype not in COMPUTE_DTYPES:
        raise ValueError("compute dtype must be float32 or bfloat16, got %s" % dtype.name)
    return dtype


@contextlib.contextmanager
def compute_dtype_scope(dtype):
    """Models built inside compute their encoder in ``dtype`` (tf.float32 or
    tf.bfloat16) unless ``AlbertModel`` is given a ``compute_dtype`` of its
    own. The scripts' ``--use_bf16`` builds everything inside
    ``compute_dtype_scope(tf.bfloat16)``."""
    dtype = _check_compute_dtype(dtype)
    _compute_dtype_stack.append(dtype)
    try:
        yield dtype
    finally:
        _compute_dtype_stack.pop()


def default_compute_dtype():
    """The dtype set by the innermost ``compute_dtype_scope`` (float32 outside)."""
    return _compute_dtype_stack[-1]


# Fields of both reference config families and the defaults used when a
# config file leaves them out (Google's AlbertConfig defaults, i.e. xxlarge).
_FIELD_DEFAULTS = (
    ("vocab_size", 21128),
    ("embedding_size", 128),
    ("hidden_size", 4096),
    ("num_hidden_layers", 12),
    ("num_hidden_groups", 1),
    ("num_attention_heads", 64),
    ("intermediate_size", 16384),
    ("inner_group_num", 1),
    ("down_scale_factor", 1),
    ("hidden_act", "gelu"),
    ("hidden_dropout_prob", 0.0),
    ("attention_probs_dropout_prob", 0.0),
    ("max_position_embeddings", 512),
    ("type_vocab_size", 2),
    ("initializer_range", 0.02),
    # brightmart: layer-norm placement; a missing or null value is post-LN.
    ("ln_type", None),
    # This project: "google" or "brightmart"; None means "infer" (see
    # AlbertConfig.resolved_embedding_layout).
    ("embedding_layout", None),
    # This project: which sub-layers are shared across layers.
    ("sharing_mode", "all"),
    # This project: final LayerNorm after a pre-LN stack. None means "the
    # layout's convention": True for google, False for brightmart (whose
    # released pre-LN code has none and whose checkpoints lack the variable).
    ("pre_ln_final_layer_norm", None),
)

_INT_FIELDS = ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
               "num_hidden_groups", "num_attention_heads", "intermediate_size", "inner_group_num",
               "max_position_embeddings", "type_vocab_size")


class AlbertConfig(object):
    """Configuration of an ALBERT model.

    Holds every field of both reference config families (google-research's
    ``albert_config.json`` and brightmart's ``albert_config_*.json``). Keys
    this class does not know (``directionality``, ``pooler_*``,
    ``net_structure_type``, ``layers_to_keep``, ...) are kept and written back
    by ``to_dict``/``to_json_string``.
    """

    def __init__(self, vocab_size=21128, **kwargs):
        """Creates a config; every field has a default.

        Args:
          vocab_size: Size of the word-piece vocabulary.
          **kwargs: Any other field (see ``_FIELD_DEFAULTS``) or extra key.

        Raises:
          ConfigError: if the combination of fields is invalid.
        """
        self._extra_keys = []
        self._explicit_keys = set()
        self._source = None
        for name, default in _FIELD_DEFAULTS:
            setattr(self, name, copy.deepcopy(default))
        self._set("vocab_size", vocab_size)
        for key, value in six.iteritems(kwargs):
            self._set(key, value)
        self.validate()

    def _set(self, key, value):
        known = dict(_FIELD_DEFAULTS)
        if not isinstance(key, six.string_types) or key.startswith("_"):
            raise self._error("invalid config key %r" % (key,))
        if key not in known and key not in self._extra_keys:
            self._extra_keys.append(key)
        self._explicit_keys.add(key)
        setattr(self, key, value)

    @classmethod
    def from_dict(cls, json_object, source=None):
        """Builds a config from a dict (all keys kept).

        Args:
          json_object: dict of config fields.
          source: Optional file name used in error messages.

        Returns:
          An AlbertConfig.

        Raises:
          ConfigError: if a field is invalid.
        """
        if not isinstance(json_object, dict):
            raise ConfigError("%s: a config must be a JSON object, got %s" %
                              (source or "config", type(json_object).__name__))
        config = cls.__new__(cls)
        config._extra_keys = []
        config._explicit_keys = set()
        config._source = source
        for name, default in _FIELD_DEFAULTS:
            setattr(config, name, copy.deepcopy(default))
        for key, value in six.iteritems(json_object):
            config._set(key, value)
        config.validate()
        return config

    @classmethod
    def from_json_file(cls, json_file):
        """Reads a config from a JSON file.

        Args:
          json_file: Path of the JSON file.

        Returns:
          An AlbertConfig.

        Raises:
          ConfigError: if the file is missing, not JSON, or invalid.
        """
        try:
            with io.open(json_file, "r", encoding="utf-8") as reader:
                text = reader.read()
        except (IOError, OSError) as e:
            raise ConfigError("%s: cannot read config file: %s" %
                              (json_file, getattr(e, "strerror", None) or e))
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ConfigError("%s: not valid JSON: %s" % (json_file, e))
        return cls.from_dict(data, source=json_file)

    def _error(self, message):
        prefix = "%s: " % self._source if self._source else ""
        return ConfigError("%sinvalid model config: %s" % (prefix, message))

    def validate(self):
        """Checks every field and their combinations.

        Raises:
          ConfigError: naming the field and the problem.
        """
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, six.integer_types):
                if isinstance(value, float) and value.is_integer():
                    setattr(self, name, int(value))
                    value = int(value)
                else:
                    raise self._error("%s must be an integer, got %r" % (name, value))
            if value < 1:
                raise self._error("%s must be >= 1, got %d" % (name, value))
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not isinstance(value, (float,) + six.integer_types) or not 0 <= value < 1:
                raise self._error("%s must be a number in [0, 1), got %r" % (name, value))
        if (not isinstance(self.initializer_range, (float,) + six.integer_types) or
                self.initializer_range <= 0):
            raise self._error("initializer_range must be > 0, got %r" % (self.initializer_range,))
        if self.hidden_size % self.num_attention_heads != 0:
            raise self._error("hidden_size (%d) is not a multiple of num_attention_heads (%d)" %
                              (self.hidden_size, self.num_attention_heads))
        if self.num_hidden_layers % self.num_hidden_groups != 0:
            raise self._error("num_hidden_layers (%d) is not divisible by num_hidden_groups (%d): "
                              "every group must own the same number of layers" %
                              (self.num_hidden_layers, self.num_hidden_groups))
        if self.hidden_act not in ACTIVATIONS:
            raise self._error("unknown hidden_act %r; expected one of %s" %
                              (self.hidden_act, ", ".join(ACTIVATIONS)))
        if self.ln_type is not None and self.ln_type not in LN_TYPES:
            raise self._error("unknown ln_type %r; expected one of %s (or null for postln)" %
                              (self.ln_type, ", ".join(LN_TYPES)))
        if self.embedding_layout is not None and self.embedding_layout not in EMBEDDING_LAYOUTS:
            raise self._error("unknown embedding_layout %r; expected one of %s" %
                              (self.embedding_layout, ", ".join(EMBEDDING_LAYOUTS)))
        if self.sharing_mode not in SHARING_MODES:
            raise self._error("unknown sharing_mode %r; expected one of %s" %
                              (self.sharing_mode, ", ".join(SHARING_MODES)))
        if self.pre_ln_final_layer_norm not in (None, True, False):
            raise self._error("pre_ln_final_layer_norm must be true, false or null, got %r" %
                              (self.pre_ln_final_layer_norm,))
        if self.resolved_embedding_layout == "brightmart" and self.inner_group_num != 1:
            raise self._error("the brightmart layout has no inner groups; inner_group_num "
                              "must be 1, got %d" % self.inner_group_num)

    @property
    def resolved_embedding_layout(self):
        """The embedding layout: explicit, else inferred from the config keys.

        brightmart's native configs carry ``ln_type`` and no
        ``num_hidden_groups``; Google-format configs carry
        ``num_hidden_groups``. A config with neither is Google's.
        """
        if self.embedding_layout is not None:
            return self.embedding_layout
        explicit = self._explicit_keys
        if "ln_type" in explicit and "num_hidden_groups" not in explicit:
            return "brightmart"
        return "google"

    @property
    def resolved_ln_type(self):
        """``postln`` or ``preln`` (missing/null ``ln_type`` is post-LN)."""
        return self.ln_type or "postln"

    @property
    def has_final_layer_norm(self):
        """Whether a pre-LN encoder ends with ``bert/encoder/LayerNorm``."""
        if self.resolved_ln_type != "preln":
            return False
        if self.pre_ln_final_layer_norm is not None:
            return bool(self.pre_ln_final_layer_norm)
        return self.resolved_embedding_layout == "google"

    def to_dict(self):
        """All fields and extra keys as a dict."""
        output = {}
        for name, _ in _FIELD_DEFAULTS:
            output[name] = copy.deepcopy(getattr(self, name))
        for key in self._extra_keys:
            output[key] = copy.deepcopy(getattr(self, key))
        output["embedding_layout"] = self.resolved_embedding_layout
        return output

    def to_json_string(self):
        """The config as sorted, indented JSON (extra keys included)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def to_json_file(self, json_file):
        """Writes ``to_json_string`` to a file (atomically)."""
        tmp = json_file + ".tmp"
        with io.open(tmp, "w", encoding="utf-8") as writer:
            writer.write(six.text_type(self.to_json_string()))
        tf.gfile.Rename(tmp, json_file, overwrite=True)

    def copy(self, **overrides):
        """A deep copy with some fields replaced."""
        data = self.to_dict()
        data.update(overrides)
        return AlbertConfig.from_dict(data, source=self._source)

    def __repr__(self):
        return "AlbertConfig(%s)" % self.to_json_string()


# ---------------------------------------------------------------------------
# Small layers.
# ---------------------------------------------------------------------------


def gelu(x):
    """GELU, tanh approximation (as both reference implementations)."""
    cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
    return x * cdf


def get_activation(name):
    """Maps an activation name to a function (None for linear).

    Args:
      name: One of ``ACTIVATIONS`` (case-insensitive), a callable, or None.

    Returns:
      A callable, or None for the identity.

    Raises:
      ValueError: for an unknown name.
    """
    if name is None or callable(name):
        return name
    key = str(name).lower()
    if key in ("", "linear"):
        return None
    if key in ("gelu", "gelu_new"):
        return gelu
    if key == "relu":
        return tf.nn.relu
    if key == "tanh":
        return tf.tanh
    if key == "swish":
        return lambda x: x * tf.sigmoid(x)
    raise ValueError("unsupported activation %r; expected one of %s" %
                     (name, ", ".join(ACTIVATIONS)))


def create_initializer(initializer_range=0.02):
    """Truncated normal initializer with the given standard deviation."""
    return tf.truncated_normal_initializer(stddev=initializer_range)


def get_shape_list(tensor, expected_rank=None, name=None):
    """The shape of a tensor: static dims as ints, unknown ones as scalars.

    Args:
      tensor: A tf.Tensor.
      expected_rank: Optional int or list of ints.
      name: Optional tensor name for the error message.

    Returns:
      A list with one entry per dimension.

    Raises:
      ValueError: if the rank is not one of ``expected_rank``.
    """
    if expected_rank is not None:
        ranks = expected_rank if isinstance(expected_rank, (list, tuple)) else [expected_rank]
        actual = tensor.shape.ndims
        if actual not in ranks:
            raise ValueError("tensor %s has rank %s, expected %s" %
                             (name or tensor.name, actual, ranks))
    shape = tensor.shape.as_list()
    dynamic = None
    result = []
    for index, dim in enumerate(shape):
        if dim is None:
            if dynamic is None:
                dynamic = tf.shape(tensor)
            result.append(dynamic[index])
        else:
            result.append(dim)
    return result


def dropout(x, dropout_prob):
    """Dropout with drop probability ``dropout_prob`` (identity at 0)."""
    if dropout_prob is None or dropout_prob == 0.0:
        return x
    return tf.nn.dropout(x, rate=dropout_prob)


def compute_variable(name, shape, initializer, dtype=tf.float32):
    """``tf.get_variable(name, shape)`` (float32, as in every checkpoint),
    read as ``dtype``: a bfloat16 model computes with bfloat16 copies of its
    float32 variables (what ``tf.tpu.bfloat16_scope`` does on a TPU), so
    variables, gradients applied to them, optimizer slots and checkpoints stay
    float32."""
    variable = tf.get_variable(name, shape, initializer=initializer)
    if dtype == tf.float32:
        return variable
    return tf.cast(variable, dtype)


def layer_norm(x, name="LayerNorm", fused_gradient=False):
    """LayerNorm over the last axis with variables ``{name}/beta, gamma``.

    Matches the reference ``layer_norm`` (moments over the last axis,
    epsilon 1e-12, gamma ones, beta zeros). ``fused_gradient`` (training
    graphs) uses a closed-form gradient instead of differentiating op by op:
    same values, fewer passes over the activations.
    """
    width = x.shape.as_list()[-1]
    with tf.variable_scope(name):
        beta = tf.get_variable("beta", [width], initializer=tf.zeros_initializer())
        gamma = tf.get_variable("gamma", [width], initializer=tf.ones_initializer())
    if fused_gradient:
        return fast_ops.standardize(x) * gamma + beta
    # Written out rather than with tf.nn.moments: TF 2.15's oneDNN graph
    # rewrite crashes (protobuf CHECK failure) on the moments pattern when the
    # batch or sequence dimension is dynamic.
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    variance = tf.reduce_mean(tf.squared_difference(x, mean), axis=-1, keepdims=True)
    scale = tf.rsqrt(variance + LAYER_NORM_EPSILON) * gamma
    return x * scale + (beta - mean * scale)


def dense(x, units, name, initializer, activation=None, use_bias=True):
    """A fully connected layer with variables ``{name}/kernel`` [in, units] and
    ``{name}/bias`` [units]; accepts any rank >= 2 (last axis is contracted).
    Computes in ``x``'s dtype (float32 variables are read as bfloat16 for a
    bfloat16 ``x``).
    """
    shape = get_shape_list(x)
    in_width = shape[-1]
    with tf.variable_scope(name):
        kernel = compute_variable("kernel", [in_width, units], initializer, x.dtype)
        bias = (compute_variable("bias", [units], tf.zeros_initializer(), x.dtype)
                if use_bias else None)
    flat = x if len(shape) == 2 else tf.reshape(x, [-1, in_width])
    out = tf.matmul(flat, kernel)
    if bias is not None:
        out = tf.nn.bias_add(out, bias)
    if activation is not None:
        out = activation(out)
    if len(shape) != 2:
        out = tf.reshape(out, shape[:-1] + [units])
    return out


def flat_position_rows(positions, batch_size, seq_length):
    """Row indices [B*P] of ``positions`` [B, P] in the [B*S, W] matrix that
    a [B, S, W] tensor reshapes to."""
    positions = tf.cast(positions, tf.int32)
    offsets = tf.range(batch_size, dtype=tf.int32)[:, tf.newaxis] * seq_length
    return tf.reshape(positions + offsets, [-1])


def create_attention_mask_from_input_mask(input_mask, dtype=tf.float32):
    """An additive attention bias [B, 1, 1, T]: 0 where attended, -10000 else."""
    mask = tf.cast(input_mask, dtype)
    return (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * ATTENTION_MASK_VALUE


def attention_layer(x, attention_bias, batch_size, seq_length, num_heads, head_size, initializer,
                    attention_dropout=0.0, use_einsum=True, query_rows=None, query_length=None,
                    fused_gradient=False):
    """Multi-head self-attention on a [B*S, H] input.

    Creates ``self/{query,key,value}/{kernel,bias}`` ([H, N*D]) in the
    current scope; returns the context [B*S, N*D] before the output
    projection.

    Args:
      x: float32 or bfloat16 Tensor [B*S, H]; the products are computed in
        its dtype, the softmax in float32.
      attention_bias: additive bias broadcastable to [B, N, S, S], or None.
      batch_size: B (int or scalar Tensor).
      seq_length: S (int or scalar Tensor).
      num_heads: N.
      head_size: D.
      initializer: kernel initializer.
      attention_dropout: dropout on the attention probabilities.
      use_einsum: True: tf.einsum contractions (except in TF 1.x training
        graphs, which split heads with ``fast_ops.split_heads``); False:
        transpose + batched matmul only (the TFLite-friendly path). Same
        weights, same result.
      query_rows: optional [B*Q, H] rows of ``x`` to compute the output for
        (queries only there; keys and values from all of ``x``).
      query_length: Q, required with ``query_rows``.
      fused_gradient: without attention dropout, compute softmax and context
        through ``fast_ops.softmax_context`` (same values, cheaper gradient);
        on TensorFlow 1.x also move heads with ``fast_ops.split_heads``/``merge_heads``
        instead of transposes (TensorFlow 2's einsum is faster as it is).

    Returns:
      Tensor [B*S, N*D] ([B*Q, N*D] with ``query_rows``) in ``x``'s dtype.
    """
    width = num_heads * head_size
    with tf.variable_scope("self"):
        query = dense(x if query_rows is None else query_rows, width, "query", initializer)
        key = dense(x, width, "key", initializer)
        value = dense(x, width, "value", initializer)
    scale = 1.0 / math.sqrt(float(head_size))
    if query_rows is None:
        query_length = seq_length
    fused = fused_gradient and not attention_dropout
    split = fused and not tf_compat.IS_TF2
    einsum = use_einsum and not split

    def rows(t, length):  # [B*L, N*D] -> [B, L, N, D]
        return tf.reshape(t, [batch_size, length, num_heads, head_size])

    def heads(t, length):  # [B*L, N*D] -> [B, N, L, D]
        if split:
            return fast_ops.split_heads(t, batch_size, length, num_heads, head_size)
        return tf.transpose(rows(t, length), [0, 2, 1, 3])

    if einsum:
        scores = tf.einsum("BFND,BTND->BNFT", rows(query * scale, query_length),
                           rows(key, seq_length))
    else:
        scores = tf.matmul(heads(query * scale, query_length), heads(key, seq_length),
                           transpose_b=True)
    if scores.dtype != tf.float32:  # the softmax and the mask in float32
        scores = tf.cast(scores, tf.float32)
    if attention_bias is not None:
        scores += attention_bias
    if fused:
        context = fast_ops.softmax_context(scores, heads(value, seq_length))
    else:
        probs = tf.nn.softmax(scores)
        if probs.dtype != value.dtype:
            probs = tf.cast(probs, value.dtype)
        probs = dropout(probs, attention_dropout)
        if einsum:
            return tf.reshape(tf.einsum("BNFT,BTND->BFND", probs, rows(value, seq_length)),
                              [-1, width])
        context = tf.matmul(probs, heads(value, seq_length))
    if split:
        return fast_ops.merge_heads(context, num_heads, head_size)
    # [B, N, F, D] -> [B*F, N*D]
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [-1, width])


# ---------------------------------------------------------------------------
# Variable scope naming per layout.
# ---------------------------------------------------------------------------


def layer_group_index(layer_idx, num_hidden_layers, num_hidden_groups):
    """Google's rule: the group whose variables layer ``layer_idx`` uses."""
    return int(layer_idx / num_hidden_layers * num_hidden_groups)


def _layer_owners(config, layer_idx):
    """Indices whose variables layer ``layer_idx`` uses: (attention, ffn).

    With sharing_mode "all" both follow Google's group rule; "none" gives
    every layer its own; "attention" shares attention only (FFN per layer);
    "ffn" shares the FFN only.
    """
    group = layer_group_index(layer_idx, config.num_hidden_layers, config.num_hidden_groups)
    mode = config.sharing_mode
    if mode == "all":
        return group, group
    if mode == "none":
        return layer_idx, layer_idx
    if mode == "attention":
        return group, layer_idx
    return layer_idx, group


def _brightmart_scope(config, owner, sublayer):
    """brightmart scope of a sub-layer ("attention" or "ffn") owned by ``owner``.

    A shared sub-layer with a single group keeps brightmart's released name
    ``layer_shared``; anything else is ``layer_{owner}``.
    """
    shared = config.sharing_mode == "all" or config.sharing_mode == sublayer
    if shared and config.num_hidden_groups == 1:
        return "layer_shared"
    return "layer_%d" % owner


# ---------------------------------------------------------------------------
# The model.
# ---------------------------------------------------------------------------


class AlbertModel(object):
    """ALBERT encoder with the pooler ("A Lite BERT").

    Example::

        config = AlbertConfig.from_json_file("albert_config/albert_config_tiny.json")
        model = AlbertModel(config, is_training=False, input_ids=ids,
                            input_mask=mask, token_type_ids=segments)
        pooled = model.get_pooled_output()       # [B, H]
        sequence = model.get_sequence_output()   # [B, S, H]
    """

    def __init__(self, config, is_training, input_ids, input_mask=None, token_type_ids=None,
                 use_one_hot_embeddings=False, use_einsum=True, scope=None, output_positions=None,
                 compute_dtype=None):
        """Builds the graph.

        Args:
          config: AlbertConfig.
          is_training: True applies the config's dropout; False disables it.
          input_ids: int32 Tensor [B, S].
          input_mask: optional int32 Tensor [B, S], 1 for real tokens.
          token_type_ids: optional int32 Tensor [B, S].
          use_one_hot_embeddings: look embeddings up by one-hot matmul (TPU).
          use_einsum: False builds the einsum-free (TFLite-friendly) graph.
          scope: variable scope, default "bert".
          output_positions: optional int32 Tensor [B, Q] of positions. The
            last block then computes its output only there (queries, output
            projection, FFN and LayerNorms at Q positions; keys and values
            still from every position): the same values at a fraction of
            the last layer's cost. ``get_output_at_positions()`` returns
            them [B, Q, H]; ``get_sequence_output()`` is unavailable and the
            pooler reads the first row, so pass position 0 first when the
            pooled output is wanted (pretraining does: [CLS] + masked).
          compute_dtype: tf.float32 or tf.bfloat16 (default: the enclosing
            ``compute_dtype_scope``'s, else float32). With bfloat16 the
            Transformer's matrix products and GELU run in
            bfloat16 on bfloat16 copies of the float32 variables; embeddings,
            the residual sums, LayerNorms and the attention softmax stay
            float32, and every output of the model is float32.

        Raises:
          ValueError: if the sequence is longer than max_position_embeddings.
        """
        config = copy.deepcopy(config)
        if not is_training:
            config.hidden_dropout_prob = 0.0
            config.attention_probs_dropout_prob = 0.0
        self.config = config
        self.layout = config.resolved_embedding_layout
        self.use_einsum = use_einsum
        self.output_positions = output_positions
        self.compute_dtype = _check_compute_dtype(compute_dtype or default_compute_dtype())
        # Training graphs get the hand-written GELU/LayerNorm/attention
        # gradients (same values, fewer passes); inference/export graphs stay
        # plain ops.
        self.fused_gradients = bool(is_training)

        shape = get_shape_list(input_ids, expected_rank=2, name="input_ids")
        batch_size, seq_length = shape
        if isinstance(seq_length, int) and seq_length > config.max_position_embeddings:
            raise ValueError("sequence length %d exceeds max_position_embeddings %d" %
                             (seq_length, config.max_position_embeddings))
        if input_mask is None:
            input_mask = tf.ones(shape, dtype=tf.int32)
        if token_type_ids is None:
            token_type_ids = tf.zeros(shape, dtype=tf.int32)

        initializer = create_initializer(config.initializer_range)
        with tf.variable_scope(scope, default_name="bert"):
            with tf.variable_scope("embeddings"):
                self._build_embeddings(input_ids, token_type_ids, seq_length,
                                       use_one_hot_embeddings, initializer)
            with tf.variable_scope("encoder"):
                attention_bias = create_attention_mask_from_input_mask(input_mask)
                self.all_encoder_layers = self._build_encoder(self.embedding_output, attention_bias,
                                                              batch_size, seq_length, initializer)
            with tf.variable_scope("pooler"):
                first_token = self.all_encoder_layers[-1][:, 0, :]
                self.pooled_output = self._float32(
                    dense(self._compute(first_token), config.hidden_size, "dense", initializer,
                          activation=tf.tanh))
            self.sequence_output = self.all_encoder_layers[-1]
            self.positions_output = None
            if output_positions is not None:
                self.positions_output = self.sequence_output
                self.sequence_output = None

    def _compute(self, x):
        """``x`` in the compute dtype (the input of a matrix product)."""
        return x if x.dtype == self.compute_dtype else tf.cast(x, self.compute_dtype)

    @staticmethod
    def _float32(x):
        return x if x.dtype == tf.float32 else tf.cast(x, tf.float32)

    def _layer_norm(self, x, name):
        return layer_norm(x, name, fused_gradient=self.fused_gradients)

    def _activation(self):
        act = get_activation(self.config.hidden_act)
        if act is gelu and self.fused_gradients:
            return fast_ops.gelu
        return act

    # -- embeddings ---------------------------------------------------------

    def _lookup(self, table, ids, depth, use_one_hot):
        if use_one_hot:
            flat = tf.reshape(ids, [-1])
            one_hot = tf.one_hot(flat, depth=depth)
            out = tf.matmul(one_hot, table)
            return tf.reshape(out, get_shape_list(ids) + [table.shape.as_list()[-1]])
        return tf.nn.embedding_lookup(table, ids)

    def _build_embeddings(self, input_ids, token_type_ids, seq_length, use_one_hot, initializer):
        config = self.config
        e_width = config.embedding_size
        h_width = config.hidden_size
        self.embedding_table = tf.get_variable("word_embeddings", [config.vocab_size, e_width],
                                               initializer=initializer)
        word = self._lookup(self.embedding_table, input_ids, config.vocab_size, use_one_hot)
        if self.layout == "brightmart":
            self.embedding_projection = tf.get_variable("word_embeddings_2", [e_width, h_width],
                                                        initializer=initializer)
            word = tf.reshape(tf.matmul(tf.reshape(word, [-1, e_width]), self.embedding_projection),
                              get_shape_list(input_ids) + [h_width])
            width = h_width
        else:
            self.embedding_projection = None
            width = e_width
        self.word_embedding_output = word
        type_table = tf.get_variable("token_type_embeddings", [config.type_vocab_size, width],
                                     initializer=initializer)
        # Token types: one-hot matmul (tiny vocabulary; exact and TPU friendly).
        type_emb = self._lookup(type_table, token_type_ids, config.type_vocab_size, True)
        position_table = tf.get_variable("position_embeddings",
                                         [config.max_position_embeddings, width],
                                         initializer=initializer)
        if isinstance(seq_length, int):
            positions = position_table[:seq_length]
        else:
            # A longer sequence fails inside the slice ("Expected size[0] in
            # [0, max_position_embeddings]").
            positions = tf.slice(position_table, [0, 0], [seq_length, -1])
        output = word + type_emb + positions[tf.newaxis, :, :]
        output = self._layer_norm(output, "LayerNorm")
        self.embedding_output = dropout(output, config.hidden_dropout_prob)

    # -- encoder ------------------------------------------------------------

    def _build_encoder(self, embedding_output, attention_bias, batch_size, seq_length, initializer):
        config = self.config
        h_width = config.hidden_size
        x = embedding_output
        if x.shape.as_list()[-1] != h_width:
            x = self._float32(
                dense(self._compute(x), h_width, "embedding_hidden_mapping_in", initializer))
        x2d = tf.reshape(x, [-1, h_width])
        outputs = []
        shapes = []
        out_shape = [batch_size, seq_length, h_width]
        rows = None
        inner_num = config.inner_group_num if self.layout == "google" else 1
        last = (config.num_hidden_layers - 1, inner_num - 1)
        for layer_idx in range(config.num_hidden_layers):
            att_owner, ffn_owner = _layer_owners(config, layer_idx)
            for inner in range(inner_num):
                if (layer_idx, inner) == last and self.output_positions is not None:
                    rows = flat_position_rows(self.output_positions, batch_size, seq_length)
                    out_shape = [batch_size, get_shape_list(self.output_positions)[1], h_width]
                if self.layout == "google":
                    x2d = self._google_block(x2d, attention_bias, batch_size, seq_length, att_owner,
                                             ffn_owner, inner, initializer, rows)
                else:
                    x2d = self._brightmart_block(x2d, attention_bias, batch_size, seq_length,
                                                 att_owner, ffn_owner, initializer, rows)
                outputs.append(x2d)
                shapes.append(out_shape)
        if config.has_final_layer_norm:
            outputs[-1] = self._layer_norm(outputs[-1], "LayerNorm")
        return [tf.reshape(o, shape) for o, shape in zip(outputs, shapes)]

    def _attention(self, inp, x2d, attention_bias, batch_size, seq_length, heads, rows,
                   initializer):
        """Self-attention on ``inp`` (``x2d``, or its pre-LN LayerNorm).

        Returns (context, residual): with ``rows``, the context only for those
        rows and ``x2d`` gathered there (one gather serves as queries too when
        ``inp`` is ``x2d``); else the full context and ``x2d``.
        """
        config = self.config
        query_rows = query_length = None
        residual = x2d
        if rows is not None:
            residual = tf.gather(x2d, rows)
            query_rows = residual if inp is x2d else tf.gather(inp, rows)
            query_length = get_shape_list(self.output_positions)[1]
        if query_rows is not None:
            query_rows = self._compute(query_rows)
        context = attention_layer(self._compute(inp), attention_bias, batch_size, seq_length, heads,
                                  config.hidden_size // heads, initializer,
                                  config.attention_probs_dropout_prob, self.use_einsum,
                                  query_rows=query_rows, query_length=query_length,
                                  fused_gradient=self.fused_gradients)
        return context, residual

    def _google_block(self, x2d, attention_bias, batch_size, seq_length, att_owner, ffn_owner,
                      inner, initializer, rows=None):
        """One Google block: attention_1 + LayerNorm, ffn_1 + LayerNorm_1.

        With ``rows`` (flat row indices), the output is computed for those
        rows only ([len(rows), H]).
        """
        config = self.config
        heads = config.num_attention_heads
        pre = config.resolved_ln_type == "preln"
        act = self._activation()
        base = "transformer/group_%d/inner_group_%d"
        with tf.variable_scope(base % (att_owner, inner), reuse=tf.AUTO_REUSE):
            inp = self._layer_norm(x2d, "LayerNorm") if pre else x2d
            with tf.variable_scope("attention_1"):
                context, x2d = self._attention(inp, x2d, attention_bias, batch_size, seq_length,
                                               heads, rows, initializer)
                with tf.variable_scope("output"):
                    projected = self._float32(
                        dense(context, config.hidden_size, "dense", initializer))
            projected = dropout(projected, config.hidden_dropout_prob)
            x2d = x2d + projected if pre else self._layer_norm(projected + x2d, "LayerNorm")
        with tf.variable_scope(base % (ffn_owner, inner), reuse=tf.AUTO_REUSE):
            inp = self._layer_norm(x2d, "LayerNorm_1") if pre else x2d
            with tf.variable_scope("ffn_1"):
                with tf.variable_scope("intermediate"):
                    hidden = dense(self._compute(inp), config.intermediate_size, "dense",
                                   initializer, activation=act)
                    with tf.variable_scope("output"):
                        out = self._float32(dense(hidden, config.hidden_size, "dense", initializer))
            out = dropout(out, config.hidden_dropout_prob)
            x2d = x2d + out if pre else self._layer_norm(out + x2d, "LayerNorm_1")
        return x2d

    def _brightmart_block(self, x2d, attention_bias, batch_size, seq_length, att_owner, ffn_owner,
                          initializer, rows=None):
        """One brightmart block (see ``_google_block`` for ``rows``)."""
        config = self.config
        heads = config.num_attention_heads
        pre = config.resolved_ln_type == "preln"
        act = self._activation()
        att_scope = _brightmart_scope(config, att_owner, "attention")
        ffn_scope = _brightmart_scope(config, ffn_owner, "ffn")

        with tf.variable_scope(att_scope, reuse=tf.AUTO_REUSE):
            with tf.variable_scope("attention"):
                if pre:
                    with tf.variable_scope("output"):
                        inp = self._layer_norm(x2d, "LayerNorm")
                else:
                    inp = x2d
                context, x2d = self._attention(inp, x2d, attention_bias, batch_size, seq_length,
                                               heads, rows, initializer)
                with tf.variable_scope("output"):
                    projected = self._float32(
                        dense(context, config.hidden_size, "dense", initializer))
                    projected = dropout(projected, config.hidden_dropout_prob)
                    if pre:
                        x2d = x2d + projected
                    else:
                        x2d = self._layer_norm(projected + x2d, "LayerNorm")
        with tf.variable_scope(ffn_scope, reuse=tf.AUTO_REUSE):
            if pre:
                with tf.variable_scope("output"):
                    inp = self._layer_norm(x2d, "LayerNorm")
            else:
                inp = x2d
            with tf.variable_scope("intermediate"):
                hidden = dense(self._compute(inp), config.intermediate_size, "dense", initializer,
                               activation=act)
            with tf.variable_scope("output"):
                out = self._float32(dense(hidden, config.hidden_size, "dense", initializer))
                out = dropout(out, config.hidden_dropout_prob)
                if pre:
                    x2d = x2d + out
                else:
                    x2d = self._layer_norm(out + x2d, "LayerNorm")
        return x2d

    # -- accessors ----------------------------------------------------------

    def get_pooled_output(self):
        """[B, H]: tanh(dense(first token of the last layer))."""
        return self.pooled_output

    def get_sequence_output(self):
        """[B, S, H]: the last encoder layer."""
        if self.sequence_output is None:
            raise ValueError("the model was built with output_positions: use "
                             "get_output_at_positions()")
        return self.sequence_output

    def get_output_at_positions(self):
        """[B, Q, H]: the last encoder layer at ``output_positions``."""
        if self.output_positions is None:
            raise ValueError("the model was built without output_positions")
        return self.positions_output

    def get_all_encoder_layers(self):
        """List of [B, S, H], one per layer (per inner block for Google)."""
        return self.all_encoder_layers

    def get_embedding_output(self):
        """Embeddings after LayerNorm/dropout: [B,S,E] (google), [B,S,H] (brightmart)."""
        return self.embedding_output

    def get_word_embedding_output(self):
        """Word-embedding part only: [B,S,E] (google), projected [B,S,H] (brightmart)."""
        return self.word_embedding_output

    def get_embedding_table(self):
        """The [V, E] word-embedding table."""
        return self.embedding_table

    def get_embedding_projection(self):
        """brightmart's [E, H] ``word_embeddings_2`` (None for google)."""
        return self.embedding_projection


def count_parameters(variables):
    """Total number of scalars in a list of variables."""
    return int(sum(np.prod(v.shape.as_list()) for v in variables))
