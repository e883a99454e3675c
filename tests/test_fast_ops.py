# coding=utf-8
"""fast_ops.py: the training graph's hand-written gradients equal the plain
ops' (and numpy's), in float32 and in bfloat16."""

import math

import numpy as np

from tf_compat import tf
import fast_ops
import modeling


def np_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def test_fused_gradient_gelu_and_layer_norm_match_plain_ops():
    """The hand-written GELU and LayerNorm gradients equal TF's gradients of
    the plain ops, and GELU's equals the numpy derivative."""
    rng = np.random.RandomState(3)
    x0 = (rng.randn(6, 10) * 2.5).astype(np.float32)
    dy0 = rng.randn(6, 10).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.constant(x0)
        dy = tf.constant(dy0)
        gelu_plain, gelu_fused = modeling.gelu(x), fast_ops.gelu(x)
        g_plain = tf.gradients(gelu_plain, x, dy)[0]
        g_fused = tf.gradients(gelu_fused, x, dy)[0]
        with tf.variable_scope("plain"):
            ln_plain = modeling.layer_norm(x * 3.0 + 1.0)
        with tf.variable_scope("fused"):
            ln_fused = modeling.layer_norm(x * 3.0 + 1.0, fused_gradient=True)
        variables = {"plain": tf.global_variables("plain"), "fused": tf.global_variables("fused")}
        ln_grads = {
            name: tf.gradients(out, [x] + variables[name], dy)
            for name, out in (("plain", ln_plain), ("fused", ln_fused))
        }
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values = (rng.randn(10), rng.randn(10) + 1.0)
            for name in variables:  # the same random beta/gamma for both
                for var, value in zip(variables[name], values):
                    var.load(value.astype(np.float32), sess)
            got = sess.run([
                gelu_plain, gelu_fused, g_plain, g_fused, ln_plain, ln_fused, ln_grads["plain"],
                ln_grads["fused"]
            ])
    np.testing.assert_allclose(got[1], got[0], atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(got[1], np_gelu(x0.astype(np.float64)), atol=1e-5)
    c, a = math.sqrt(2.0 / math.pi), 0.044715
    xd = x0.astype(np.float64)
    t = np.tanh(c * (xd + a * xd**3))
    derivative = 0.5 * (1 + t) + 0.5 * xd * (1 - t**2) * c * (1 + 3 * a * xd**2)
    np.testing.assert_allclose(got[3], dy0 * derivative, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(got[3], got[2], atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(got[5], got[4], atol=1e-5, rtol=1e-5)
    for g_f, g_p in zip(got[7], got[6]):
        np.testing.assert_allclose(g_f, g_p, atol=1e-5, rtol=1e-4)


def test_softmax_context_values_and_gradients_match_numpy():
    """softmax(scores) @ value and its hand-written gradient (row sums over
    D) against numpy's softmax Jacobian, with a masked-out key column."""
    rng = np.random.RandomState(8)
    scores0 = (rng.randn(2, 3, 4, 5) * 2).astype(np.float32)
    scores0[..., 4] -= 10000.0  # a padded key
    value0 = rng.randn(2, 3, 5, 6).astype(np.float32)
    dc0 = rng.randn(2, 3, 4, 6).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        scores, value = tf.constant(scores0), tf.constant(value0)
        context = fast_ops.softmax_context(scores, value)
        grads = tf.gradients(context, [scores, value], tf.constant(dc0))
        got, d_scores, d_value = sess.run([context] + grads)
    s = scores0.astype(np.float64)
    probs = np.exp(s - s.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(got, probs @ value0, atol=1e-5)
    d_probs = dc0 @ np.swapaxes(value0, -1, -2)
    want_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdims=True))
    np.testing.assert_allclose(d_scores, want_scores, atol=1e-5)
    np.testing.assert_allclose(d_value, np.swapaxes(probs, -1, -2) @ dc0, atol=1e-5)
    assert np.abs(d_scores[..., 4]).max() < 1e-6


def test_split_and_merge_heads_match_transposes():
    """split_heads/merge_heads move the same numbers as reshape + transpose,
    forwards and backwards."""
    rng = np.random.RandomState(11)
    x0 = rng.randn(2 * 3, 4 * 5).astype(np.float32)  # B=2, L=3, N=4, D=5
    dy0 = rng.randn(2, 4, 3, 5).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        x = tf.constant(x0)
        heads = fast_ops.split_heads(x, 2, 3, 4, 5)
        back = fast_ops.merge_heads(heads, 4, 5)
        d_x = tf.gradients(heads, x, tf.constant(dy0))[0]
        d_heads = tf.gradients(back, heads, tf.constant(x0 * 2))[0]
        got_heads, got_back, got_dx, got_dheads = sess.run([heads, back, d_x, d_heads])
    want = x0.reshape(2, 3, 4, 5).transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(got_heads, want)
    np.testing.assert_array_equal(got_back, x0)
    np.testing.assert_array_equal(got_dx, dy0.transpose(0, 2, 1, 3).reshape(6, 20))
    np.testing.assert_array_equal(got_dheads, (x0 * 2).reshape(2, 3, 4, 5).transpose(0, 2, 1, 3))


def test_bfloat16_softmax_context_and_gelu_follow_float32():
    """In bfloat16 the hand-written gradients stay within bfloat16 rounding
    of the float32 ones (softmax and its row sums are taken in float32), and
    the dtypes are what the model expects: context and d_value in bfloat16,
    d_scores in float32."""
    rng = np.random.RandomState(5)
    scores0 = (rng.randn(2, 3, 4, 5) * 2).astype(np.float32)
    value0 = rng.randn(2, 3, 5, 6).astype(np.float32)
    dc0 = rng.randn(2, 3, 4, 6).astype(np.float32)
    x0 = (rng.randn(6, 10) * 2.5).astype(np.float32)
    bf16 = tf.bfloat16
    with tf.Graph().as_default(), tf.Session() as sess:
        scores, value, dc = tf.constant(scores0), tf.constant(value0), tf.constant(dc0)
        outs = {}
        for name, cast in (("f32", lambda t: t), ("bf16", lambda t: tf.cast(t, bf16))):
            context = fast_ops.softmax_context(scores, cast(value))
            d_scores, d_value = tf.gradients(context, [scores, value], cast(dc))
            x = cast(tf.constant(x0))
            y = fast_ops.gelu(x)
            d_x = tf.gradients(y, x, cast(tf.ones_like(x0)))[0]
            if name == "bf16":
                assert context.dtype == bf16 and y.dtype == bf16 and d_x.dtype == bf16
                assert d_scores.dtype == tf.float32
            outs[name] = [tf.cast(t, tf.float32) for t in (context, d_scores, d_value, y, d_x)]
        got = sess.run(outs)
    # Relative to each output's largest value: a few bfloat16 ulps (2^-8);
    # GELU's derivative, s + x s (1 - s) slope with |x| up to 7, loses more.
    for want, have, tol in zip(got["f32"], got["bf16"], (2e-2, 2e-2, 2e-2, 2e-2, 5e-2)):
        assert np.abs(have - want).max() <= tol * np.abs(want).max()
