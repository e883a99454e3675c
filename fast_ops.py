# coding=utf-8
"""Training-graph versions of the encoder's hot ops: same values, cheaper
gradients.

``modeling.py`` builds the model from plain TensorFlow ops, as the paper
describes it. When it builds a training graph (``is_training=True``) it swaps
four of them for the versions here, whose gradients are written by hand
instead of being derived op by op by ``tf.gradients``. Each takes fewer passes
over the large activations ([tokens, intermediate] for GELU, [tokens, hidden]
for LayerNorm, [batch, heads, queries, keys] for attention) and is tested equal
to the plain op, forwards and backwards, in tests/test_fast_ops.py.

* ``gelu``: GELU (tanh approximation) with its closed-form derivative.
* ``standardize``: LayerNorm's (x - mean) / std with the closed-form gradient.
* ``softmax_context``: softmax(scores) @ value, its softmax gradient taking row
  sums over the head width instead of over the keys.
* ``split_heads`` / ``merge_heads``: [B*L, N*D] <-> [B, N, L, D] by split +
  stack / unstack + concat; on TensorFlow 1.15 this is faster than the 4-D
  Transpose kernel (TensorFlow 2's einsum path is used there instead).

All of them work in float32 and in bfloat16 (``--use_bf16``); statistics
(LayerNorm's moments, softmax and its row sums) are computed in float32.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import math

from tf_compat import tf

LAYER_NORM_EPSILON = 1e-12

_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


@tf.custom_gradient
def gelu(x):
    """GELU, tanh approximation, with a hand-written gradient.

    0.5 (1 + tanh z) is written as sigmoid(2z) with z = c (x + a x^3); the
    derivative s + x s (1 - s) (2c + 6ca x^2), s = sigmoid(2z), takes fewer
    passes over the [tokens, intermediate] tensor than differentiating the
    plain formula op by op.
    """
    x2 = tf.square(x)
    s = tf.sigmoid(x * (2.0 * _GELU_C + (2.0 * _GELU_C * _GELU_A) * x2))

    def grad(dy):
        slope = 2.0 * _GELU_C + (6.0 * _GELU_C * _GELU_A) * x2
        # SigmoidGrad(y=s, dy=t) = t * s * (1 - s) in one pass.
        return dy * (s + tf.raw_ops.SigmoidGrad(y=s, dy=x * slope))

    return x * s, grad


@tf.custom_gradient
def standardize(x):
    """(x - mean) / sqrt(var + eps) over the last axis of a float32 tensor,
    with the closed-form gradient rstd * (g - mean(g) - xhat * mean(g * xhat))."""
    centered = x - tf.reduce_mean(x, axis=-1, keepdims=True)
    rstd = tf.rsqrt(
        tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True) + LAYER_NORM_EPSILON)
    xhat = centered * rstd

    def grad(g):
        mean_g = tf.reduce_mean(g, axis=-1, keepdims=True)
        mean_gx = tf.reduce_mean(g * xhat, axis=-1, keepdims=True)
        return (g - mean_g - xhat * mean_gx) * rstd

    return xhat, grad


@tf.custom_gradient
def softmax_context(scores, value):
    """softmax(scores) @ value with a hand-written gradient.

    scores [B, N, F, T] (float32), value [B, N, T, D] -> context [B, N, F, D]
    in value's dtype. The softmax is taken in float32 and its probabilities
    are cast to value's dtype for the product. The softmax gradient
    P * (dP - rowsum(dP * P)) takes its row sums as rowsum(dC * C) over D
    instead of over T (the same number, since dP = dC V^T and C = P V): two
    passes over the [B, N, F, T] tensors instead of four.
    """
    probs = tf.nn.softmax(scores)
    probs_c = probs if value.dtype == probs.dtype else tf.cast(probs, value.dtype)
    context = tf.matmul(probs_c, value)

    def grad(d_context):
        d_value = tf.matmul(probs_c, d_context, transpose_a=True)
        d_probs = tf.matmul(d_context, value, transpose_b=True)
        if value.dtype == probs.dtype:
            products = d_context * context
        else:
            d_probs = tf.cast(d_probs, probs.dtype)
            products = tf.cast(d_context, probs.dtype) * tf.cast(context, probs.dtype)
        row_sums = tf.reduce_sum(products, axis=-1, keepdims=True)
        return (d_probs - row_sums) * probs, d_value

    return context, grad


def split_heads(x, batch_size, length, num_heads, head_size):
    """[B*L, N*D] -> [B, N, L, D] by a split along N*D and a stack (same
    values as reshape + transpose; on TensorFlow 1.15 the two copies, and
    their gradient, an unstack and a concat, take less time than the 4-D
    Transpose kernel with its 26-float rows)."""
    x = tf.reshape(x, [batch_size, length, num_heads * head_size])
    return tf.stack(tf.split(x, num_heads, axis=2), axis=1)


def merge_heads(x, num_heads, head_size):
    """[B, N, L, D] -> [B*L, N*D], the inverse of ``split_heads``."""
    x = tf.concat(tf.unstack(x, num=num_heads, axis=1), axis=2)
    return tf.reshape(x, [-1, num_heads * head_size])
