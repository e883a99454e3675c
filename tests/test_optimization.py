# coding=utf-8
"""Tests for optimization.py and lamb_optimizer.py.

The numerical truth is an independent float64 numpy implementation of the
update rules (below), not the TensorFlow code under test.
"""

import numpy as np
import pytest

from tf_compat import tf

import lamb_optimizer
import optimization

TOL = dict(rtol=1e-5, atol=1e-5)
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-6
NO_DECAY = ("LayerNorm", "layer_norm", "bias")

# --------------------------------------------------------------------------
# Independent numpy reference.
# --------------------------------------------------------------------------


def np_step(w, m, v, g, lr, wd, use_wd, use_ratio):
    """One AdamW (use_ratio=False) or LAMB (use_ratio=True) step in float64."""
    m = BETA_1 * m + (1.0 - BETA_1) * g
    v = BETA_2 * v + (1.0 - BETA_2) * g * g
    u = m / (np.sqrt(v) + EPSILON)
    if use_wd:
        u = u + wd * w
    ratio = 1.0
    if use_ratio:
        w_norm = np.sqrt(np.sum(w * w))
        u_norm = np.sqrt(np.sum(u * u))
        if w_norm > 0 and u_norm > 0:
            ratio = w_norm / u_norm
    return w - ratio * lr * u, m, v


def np_run(init, grad_steps, lrs, wd, use_wd, use_ratio):
    """Applies np_step for every step; returns final {name: (w, m, v)}.

    Args:
        init: {name: initial value}.
        grad_steps: list of {name: gradient}.
        lrs: learning rate of each step.
        wd: weight decay rate.
        use_wd: {name: bool}.
        use_ratio: {name: bool}.
    """
    state = {}
    for name, value in init.items():
        value = np.array(value, np.float64)
        state[name] = (value, np.zeros_like(value), np.zeros_like(value))
    for grads, lr in zip(grad_steps, lrs):
        for name in init:
            w, m, v = state[name]
            state[name] = np_step(w, m, v, np.asarray(grads[name], np.float64), lr, wd,
                                  use_wd[name], use_ratio[name])
    return state


# --------------------------------------------------------------------------
# Helpers running the TensorFlow optimizers.
# --------------------------------------------------------------------------


def tf_run(make_optimizer, init, grad_steps, global_step=False):
    """Applies `make_optimizer()` to variables `init` with fed gradients.

    Returns:
        (values, slots, slot_names, step): final variable values, final slot
        values {name: (m, v)}, slot variable names {name: (m_name, v_name)},
        and the final global step (None when not used).
    """
    graph = tf.Graph()
    with graph.as_default():
        variables = {}
        feeds = {}
        for name, value in init.items():
            value = np.asarray(value, np.float32)
            variables[name] = tf.get_variable(name, initializer=tf.constant(value))
            feeds[name] = tf.placeholder(tf.float32, shape=value.shape)
        opt = make_optimizer()
        step_var = tf.train.get_or_create_global_step() if global_step else None
        train_op = opt.apply_gradients([(feeds[name], variables[name]) for name in init],
                                       global_step=step_var)
        slot_names = opt.get_slot_names()
        slots = {
            name: tuple(opt.get_slot(var, s) for s in slot_names) for name, var in variables.items()
        }
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for grads in grad_steps:
                sess.run(
                    train_op,
                    feed_dict={feeds[name]: np.asarray(grads[name], np.float32) for name in init})
            values, slot_values = sess.run((variables, slots))
            step = sess.run(step_var) if global_step else None
    names = {name: tuple(slot.op.name for slot in pair) for name, pair in slots.items()}
    return values, slot_values, names, step


def three_step_problem():
    """Three variables (decayed kernel, undecayed bias and LayerNorm gamma)."""
    rng = np.random.RandomState(1234)
    init = {
        "layer/kernel": rng.normal(0.0, 0.5, size=(3, 4)),
        "layer/bias": np.array([3.0, -2.0, 4.0, 1.0]),
        "layer/LayerNorm/gamma": np.array([1.5, 0.5, 2.0, 1.0]),
    }
    grad_steps = [{
        name: rng.normal(0.0, 1.0, size=np.shape(value)) for name, value in init.items()
    } for _ in range(3)]
    return init, grad_steps


def assert_state_close(values, slots, expected):
    for name, (w, m, v) in expected.items():
        np.testing.assert_allclose(values[name], w, err_msg=name, **TOL)
        np.testing.assert_allclose(slots[name][0], m, err_msg=name, **TOL)
        np.testing.assert_allclose(slots[name][1], v, err_msg=name, **TOL)


def max_difference(state_a, state_b, name):
    return np.max(np.abs(state_a[name][0] - state_b[name][0]))


# --------------------------------------------------------------------------
# AdamW.
# --------------------------------------------------------------------------


def test_adamw_three_steps_match_numpy():
    init, grad_steps = three_step_problem()
    lr, wd = 0.1, 0.1
    use_wd = {"layer/kernel": True, "layer/bias": False, "layer/LayerNorm/gamma": False}
    no_ratio = {name: False for name in init}
    expected = np_run(init, grad_steps, [lr] * 3, wd, use_wd, no_ratio)

    values, slots, names, _ = tf_run(
        lambda: optimization.AdamWeightDecayOptimizer(
            lr, weight_decay_rate=wd, exclude_from_weight_decay=list(NO_DECAY)), init, grad_steps)

    assert_state_close(values, slots, expected)
    # The decay must matter for the kernel, so the test can tell it apart.
    all_wd = {name: True for name in init}
    with_decay = np_run(init, grad_steps, [lr] * 3, wd, all_wd, no_ratio)
    without_decay = np_run(init, grad_steps, [lr] * 3, wd, {name: False for name in init}, no_ratio)
    assert max_difference(expected, without_decay, "layer/kernel") > 1e-3
    assert max_difference(expected, with_decay, "layer/bias") > 1e-3
    assert names["layer/kernel"] == ("layer/kernel/adam_m", "layer/kernel/adam_v")


def test_adamw_defaults():
    opt = optimization.AdamWeightDecayOptimizer(0.1)
    assert opt.weight_decay_rate == 0.0
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.9, 0.999, 1e-6)
    assert opt.get_name() == "AdamWeightDecayOptimizer"
    assert opt.get_slot_names() == ["adam_m", "adam_v"]


@pytest.mark.parametrize(
    "kwargs",
    [dict(beta_1=1.0),
     dict(beta_2=-0.1),
     dict(epsilon=-1.0),
     dict(weight_decay_rate=-0.01)])
def test_adamw_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        optimization.AdamWeightDecayOptimizer(0.1, **kwargs)


# --------------------------------------------------------------------------
# LAMB.
# --------------------------------------------------------------------------


def test_lamb_three_steps_match_numpy():
    init, grad_steps = three_step_problem()
    lr, wd = 0.1, 0.1
    use_wd = {"layer/kernel": True, "layer/bias": False, "layer/LayerNorm/gamma": False}
    # Google's rule: the trust ratio follows the weight-decay exclusions.
    use_ratio = dict(use_wd)
    expected = np_run(init, grad_steps, [lr] * 3, wd, use_wd, use_ratio)

    def make():
        return lamb_optimizer.LAMBOptimizer(lr, weight_decay_rate=wd,
                                            exclude_from_weight_decay=list(NO_DECAY))

    values, slots, names, _ = tf_run(make, init, grad_steps)

    assert_state_close(values, slots, expected)
    # The ratio must matter for every variable, so the test can tell the
    # excluded ones from the adapted one.
    ratio_for_all = np_run(init, grad_steps, [lr] * 3, wd, use_wd, {name: True for name in init})
    ratio_for_none = np_run(init, grad_steps, [lr] * 3, wd, use_wd, {name: False for name in init})
    assert max_difference(expected, ratio_for_none, "layer/kernel") > 1e-3
    assert max_difference(expected, ratio_for_all, "layer/bias") > 1e-3
    assert max_difference(expected, ratio_for_all, "layer/LayerNorm/gamma") > 1e-3
    for name in init:
        assert names[name] == (name + "/adam_m", name + "/adam_v")


def test_lamb_explicit_layer_adaptation_exclusions():
    # Bias: no decay but adapted; LayerNorm: decayed but not adapted.
    init, grad_steps = three_step_problem()
    lr, wd = 0.1, 0.1
    use_wd = {"layer/kernel": True, "layer/bias": False, "layer/LayerNorm/gamma": True}
    use_ratio = {"layer/kernel": True, "layer/bias": True, "layer/LayerNorm/gamma": False}
    expected = np_run(init, grad_steps, [lr] * 3, wd, use_wd, use_ratio)

    def make():
        return lamb_optimizer.LAMBOptimizer(lr, weight_decay_rate=wd,
                                            exclude_from_weight_decay=["bias"],
                                            exclude_from_layer_adaptation=["LayerNorm"])

    values, slots, _, _ = tf_run(make, init, grad_steps)

    assert_state_close(values, slots, expected)


def test_lamb_layer_adaptation_for_all_and_brightmart_slots():
    init, grad_steps = three_step_problem()
    lr, wd = 0.1, 0.1
    use_wd = {"layer/kernel": True, "layer/bias": False, "layer/LayerNorm/gamma": False}
    use_ratio = {name: True for name in init}
    expected = np_run(init, grad_steps, [lr] * 3, wd, use_wd, use_ratio)

    def make():
        return lamb_optimizer.LAMBOptimizer(lr, weight_decay_rate=wd,
                                            exclude_from_weight_decay=list(NO_DECAY),
                                            layer_adaptation_for_all=True,
                                            slot_names=lamb_optimizer.BRIGHTMART_LAMB_SLOT_NAMES)

    values, slots, names, _ = tf_run(make, init, grad_steps)

    assert_state_close(values, slots, expected)
    for name in init:
        assert names[name] == (name + "/lamb_m", name + "/lamb_v")


def test_lamb_zero_norms_give_ratio_one():
    lr = 0.1
    init = {
        "zero/kernel": np.zeros(3),  # ||w|| = 0
        "frozen/kernel": np.array([1.0, -2.0, 0.5]),  # ||u|| = 0 below
    }
    grad_steps = [{"zero/kernel": np.array([0.5, -1.0, 2.0]), "frozen/kernel": np.zeros(3)}]
    values, _, _, _ = tf_run(lambda: lamb_optimizer.LAMBOptimizer(lr, weight_decay_rate=0.0), init,
                             grad_steps)

    # Ratio 1: w = 0 - lr * m / (sqrt(v) + eps) with m = 0.1 g, v = 0.001 g^2.
    g = grad_steps[0]["zero/kernel"]
    expected_zero = -lr * (0.1 * g) / (np.sqrt(0.001 * g * g) + EPSILON)
    np.testing.assert_allclose(values["zero/kernel"], expected_zero, **TOL)
    np.testing.assert_allclose(values["frozen/kernel"], init["frozen/kernel"], **TOL)
    assert all(np.all(np.isfinite(value)) for value in values.values())


def test_lamb_rejects_conflicting_adaptation_options():
    with pytest.raises(ValueError):
        lamb_optimizer.LAMBOptimizer(0.1, layer_adaptation_for_all=True,
                                     exclude_from_layer_adaptation=["bias"])


@pytest.mark.parametrize("slot_names", [("m",), ("m", "m"), ("m", "")])
def test_lamb_rejects_bad_slot_names(slot_names):
    with pytest.raises(ValueError):
        lamb_optimizer.LAMBOptimizer(0.1, slot_names=slot_names)


def test_slots_are_non_trainable_root_scope_variables():
    graph = tf.Graph()
    with graph.as_default():
        with tf.variable_scope("model"):
            kernel = tf.get_variable("dense/kernel", shape=[2, 3])
        opt = lamb_optimizer.LAMBOptimizer(0.1)
        # Applying inside another (reusing) variable scope must not change
        # the slot names.
        with tf.variable_scope("elsewhere", reuse=True):
            opt.apply_gradients([(tf.ones([2, 3]), kernel)])
        global_names = sorted(v.op.name for v in tf.global_variables())
        trainable_names = [v.op.name for v in tf.trainable_variables()]
    assert global_names == [
        "model/dense/kernel", "model/dense/kernel/adam_m", "model/dense/kernel/adam_v"
    ]
    assert trainable_names == ["model/dense/kernel"]
    assert [v.op.name for v in opt.variables()
           ] == ["model/dense/kernel/adam_m", "model/dense/kernel/adam_v"]
    assert opt.get_slot(kernel, "no_such_slot") is None


@pytest.mark.parametrize("make_optimizer", [
    lambda: optimization.AdamWeightDecayOptimizer(0.1, weight_decay_rate=0.1),
    lambda: lamb_optimizer.LAMBOptimizer(0.1, weight_decay_rate=0.1),
], ids=["adamw", "lamb"])
def test_indexed_slices_gradient_equals_dense_update(make_optimizer):
    table = np.random.RandomState(7).normal(size=(5, 3)).astype(np.float32)
    ids = np.array([1, 3, 1])
    coefficients = np.arange(9, dtype=np.float32).reshape(3, 3) - 4.0
    dense_grad = np.zeros_like(table)
    np.add.at(dense_grad, ids, coefficients)

    # Sparse: the gradient of a gather is an IndexedSlices with a repeated id.
    graph = tf.Graph()
    with graph.as_default():
        embeddings = tf.get_variable("embeddings/word_embeddings", initializer=tf.constant(table))
        loss = tf.reduce_sum(tf.gather(embeddings, ids) * coefficients)
        (grad,) = tf.gradients(loss, [embeddings])
        assert isinstance(grad, tf.IndexedSlices)
        train_op = make_optimizer().apply_gradients([(grad, embeddings)])
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op)
            sess.run(train_op)
            sparse_result = sess.run(embeddings)

    dense_result, _, _, _ = tf_run(make_optimizer, {"embeddings/word_embeddings": table}, [{
        "embeddings/word_embeddings": dense_grad
    }] * 2)

    np.testing.assert_allclose(sparse_result, dense_result["embeddings/word_embeddings"], **TOL)
    assert np.max(np.abs(sparse_result - table)) > 1e-2
    # Rows that no id touches only decay; the others move by about lr.
    assert np.max(np.abs(sparse_result[[0, 2, 4]] - table[[0, 2, 4]])) < 0.05


def test_apply_gradients_increments_a_given_global_step_only():
    init = {"w/kernel": np.ones(2)}
    grads = [{"w/kernel": np.ones(2)}] * 3
    _, _, _, step = tf_run(lambda: lamb_optimizer.LAMBOptimizer(0.1), init, grads, global_step=True)
    assert step == 3


def test_minimize_follows_the_tf_optimizer_contract():
    graph = tf.Graph()
    with graph.as_default():
        weights = tf.get_variable("w/kernel", initializer=tf.constant([3.0]))
        global_step = tf.train.get_or_create_global_step()
        opt = lamb_optimizer.LAMBOptimizer(0.1)
        with_step = opt.minimize(tf.reduce_sum(tf.square(weights)), global_step=global_step)
        without_step = opt.minimize(tf.reduce_sum(tf.square(weights)))
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(with_step)
            sess.run(without_step)
            step, value = sess.run((global_step, weights))
    assert step == 1
    # Two LAMB steps on a positive weight with ratio ||w|| / ||u||.
    w, m, v = np.array([3.0]), np.zeros(1), np.zeros(1)
    for _ in range(2):
        w, m, v = np_step(w, m, v, 2.0 * w, 0.1, 0.0, False, True)
    np.testing.assert_allclose(value, w, **TOL)
    # Both ops share one pair of slots.
    assert len(opt.variables()) == 2


def test_none_gradients_are_skipped_and_all_none_raises():
    graph = tf.Graph()
    with graph.as_default():
        used = tf.get_variable("used/kernel", initializer=tf.constant([1.0]))
        unused = tf.get_variable("unused/kernel", initializer=tf.constant([2.0]))
        opt = optimization.AdamWeightDecayOptimizer(0.1)
        train_op = opt.apply_gradients([(tf.constant([1.0]), used), (None, unused)])
        with pytest.raises(ValueError, match="unused/kernel"):
            opt.apply_gradients([(None, unused)])
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op)
            used_value, unused_value = sess.run((used, unused))
    assert opt.get_slot(unused, "adam_m") is None
    np.testing.assert_allclose(unused_value, [2.0])
    assert used_value[0] < 1.0


# --------------------------------------------------------------------------
# Learning-rate schedule.
# --------------------------------------------------------------------------


def lr_at(steps, **kwargs):
    graph = tf.Graph()
    with graph.as_default():
        step = tf.placeholder(tf.int64, shape=[])
        learning_rate = optimization.learning_rate_schedule(step, **kwargs)
        assert learning_rate.dtype == tf.float32
        assert learning_rate.shape.ndims == 0
        with tf.Session(graph=graph) as sess:
            return [sess.run(learning_rate, {step: s}) for s in steps]


# (step, expected) pairs computed by hand; init_lr = 0.1, 100 steps.
SCHEDULE_CASES = [
    # Linear decay, warmup 10.
    (dict(num_warmup_steps=10, poly_power=1.0), [(0, 0.0), (5, 0.05), (9, 0.09), (10, 0.09),
                                                 (55, 0.045), (99, 0.001), (100, 0.0), (150, 0.0)]),
    # Quadratic decay, warmup 10.
    (dict(num_warmup_steps=10, poly_power=2.0), [(0, 0.0), (5, 0.05), (10, 0.081), (55, 0.02025),
                                                 (99, 1e-5), (100, 0.0), (150, 0.0)]),
    # Warmup starts at step 20: zero (not negative) before it.
    (dict(num_warmup_steps=10, start_warmup_step=20), [(0, 0.0), (10, 0.0), (19, 0.0), (20, 0.0),
                                                       (25, 0.05), (29, 0.09), (30, 0.07),
                                                       (60, 0.04), (100, 0.0)]),
    # No warmup.
    (dict(num_warmup_steps=0), [(0, 0.1), (1, 0.099), (50, 0.05), (100, 0.0), (101, 0.0)]),
    # No warmup but a start step: zero before it, decayed rate after.
    (dict(num_warmup_steps=0, start_warmup_step=20), [(0, 0.0), (19, 0.0), (20, 0.08), (60, 0.04)]),
]


@pytest.mark.parametrize("kwargs,cases", SCHEDULE_CASES)
def test_learning_rate_schedule_hand_computed(kwargs, cases):
    steps = [step for step, _ in cases]
    expected = [value for _, value in cases]
    actual = lr_at(steps, init_lr=0.1, num_train_steps=100, **kwargs)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-8)


def test_learning_rate_never_negative_with_late_warmup_start():
    rates = lr_at(range(0, 130, 3), init_lr=0.1, num_train_steps=100, num_warmup_steps=10,
                  start_warmup_step=40)
    assert min(rates) == 0.0
    assert max(rates) > 0.05


@pytest.mark.parametrize("kwargs", [
    dict(num_train_steps=0),
    dict(num_warmup_steps=-1),
    dict(start_warmup_step=-1),
    dict(init_lr=-0.1),
    dict(poly_power=0.0)
])
def test_learning_rate_schedule_rejects_bad_arguments(kwargs):
    arguments = dict(global_step=0, init_lr=0.1, num_train_steps=100, num_warmup_steps=10)
    arguments.update(kwargs)
    with tf.Graph().as_default():
        with pytest.raises(ValueError):
            optimization.learning_rate_schedule(**arguments)


# --------------------------------------------------------------------------
# create_optimizer.
# --------------------------------------------------------------------------

KERNEL_INIT = np.array([[0.5, -1.0], [2.0, 0.25]])
KERNEL_TARGET = np.array([[1.5, 0.0], [0.0, -1.0]])
BIAS_INIT = np.array([1.0, -0.5])
BIAS_TARGET = np.array([-1.0, 1.0])
CURVATURE = 3.0


def quadratic_graph():
    """Loss 0.5 * c * (||K - K*||^2 + ||b - b*||^2) on dense/{kernel,bias}."""
    kernel = tf.get_variable("dense/kernel", initializer=tf.constant(KERNEL_INIT, tf.float32))
    bias = tf.get_variable("dense/bias", initializer=tf.constant(BIAS_INIT, tf.float32))
    loss = 0.5 * CURVATURE * (tf.reduce_sum(tf.square(kernel - KERNEL_TARGET.astype(np.float32))) +
                              tf.reduce_sum(tf.square(bias - BIAS_TARGET.astype(np.float32))))
    return kernel, bias, loss


def np_create_optimizer_steps(num_steps, init_lr, num_train_steps, use_ratio, clip_norm=1.0):
    """numpy: clipped gradients, AdamW/LAMB, linear decay, no warmup."""
    state = {
        "kernel": (KERNEL_INIT.copy(), np.zeros((2, 2)), np.zeros((2, 2))),
        "bias": (BIAS_INIT.copy(), np.zeros(2), np.zeros(2))
    }
    targets = {"kernel": KERNEL_TARGET, "bias": BIAS_TARGET}
    norms = []
    for step in range(num_steps):
        grads = {name: CURVATURE * (state[name][0] - targets[name]) for name in state}
        norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        norms.append(norm)
        if clip_norm:
            grads = {name: g * clip_norm / max(norm, clip_norm) for name, g in grads.items()}
        lr = init_lr * (num_train_steps - step) / num_train_steps
        for name in state:
            w, m, v = state[name]
            decayed = name == "kernel"
            state[name] = np_step(w, m, v, grads[name], lr, 0.01, decayed, use_ratio and decayed)
    return state, norms


@pytest.mark.parametrize("optimizer_name", ["adamw", "lamb", "LAMB"])
def test_create_optimizer_matches_numpy(optimizer_name):
    init_lr, num_train_steps = 0.1, 10
    graph = tf.Graph()
    with graph.as_default():
        kernel, bias, loss = quadratic_graph()
        train_op, learning_rate = optimization.create_optimizer_with_lr(
            loss, init_lr, num_train_steps, num_warmup_steps=0, optimizer=optimizer_name)
        assert learning_rate.op.name == "learning_rate"
        global_step = tf.train.get_global_step()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            observed = []
            for _ in range(2):
                observed.append(sess.run((global_step, learning_rate)))
                sess.run(train_op)
            final_step = sess.run(global_step)
            kernel_value, bias_value = sess.run((kernel, bias))

    expected, norms = np_create_optimizer_steps(2, init_lr, num_train_steps,
                                                use_ratio=optimizer_name.lower() == "lamb")
    assert min(norms) > 1.0  # Clipping is active on both steps.
    assert observed[0][0] == 0 and observed[1][0] == 1 and final_step == 2
    np.testing.assert_allclose([lr for _, lr in observed], [0.1, 0.09], **TOL)
    np.testing.assert_allclose(kernel_value, expected["kernel"][0], **TOL)
    np.testing.assert_allclose(bias_value, expected["bias"][0], **TOL)


def test_create_optimizer_returns_op_and_names_learning_rate():
    graph = tf.Graph()
    with graph.as_default():
        _, _, loss = quadratic_graph()
        train_op = optimization.create_optimizer(loss, 0.1, 10, 2)
        assert isinstance(train_op, tf.Operation)
        learning_rate = graph.get_tensor_by_name("learning_rate:0")
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op)
            # Step 1 of a 2-step warmup: 0.1 * 1 / 2.
            np.testing.assert_allclose(sess.run(learning_rate), 0.05, **TOL)


def test_create_optimizer_clip_norm_none_disables_clipping():
    init_lr, num_train_steps = 0.1, 10
    graph = tf.Graph()
    with graph.as_default():
        kernel, bias, loss = quadratic_graph()
        train_op = optimization.create_optimizer(loss, init_lr, num_train_steps, 0,
                                                 optimizer="lamb", clip_norm=None)
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op)
            sess.run(train_op)
            kernel_value, bias_value = sess.run((kernel, bias))

    unclipped, _ = np_create_optimizer_steps(2, init_lr, num_train_steps, use_ratio=True,
                                             clip_norm=None)
    clipped, _ = np_create_optimizer_steps(2, init_lr, num_train_steps, use_ratio=True,
                                           clip_norm=1.0)
    np.testing.assert_allclose(kernel_value, unclipped["kernel"][0], **TOL)
    np.testing.assert_allclose(bias_value, unclipped["bias"][0], **TOL)
    assert max_difference(unclipped, clipped, "bias") > 1e-4


@pytest.mark.parametrize("excluded", [["b/kernel", "c/kernel"], ["b/kernel:0", "c/kernel:0"]])
def test_create_optimizer_excluded_tvars(excluded):
    names = ["a/kernel", "b/kernel", "c/kernel", "d/kernel"]
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.get_variable(name, initializer=tf.constant([1.0, 2.0])) for name in names]
        loss = tf.add_n([tf.reduce_sum(tf.square(v)) for v in variables])
        train_op = optimization.create_optimizer(loss, 0.1, 10, 0, optimizer="lamb",
                                                 excluded_tvars=excluded)
        global_names = {v.op.name for v in tf.global_variables()}
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op)
            values = dict(zip(names, sess.run(variables)))
    for name in ("b/kernel", "c/kernel"):
        np.testing.assert_array_equal(values[name], [1.0, 2.0])
        assert name + "/adam_m" not in global_names
    for name in ("a/kernel", "d/kernel"):
        assert np.all(values[name] < [1.0, 2.0])
        assert name + "/adam_m" in global_names


def test_create_optimizer_rejects_unknown_optimizer():
    with tf.Graph().as_default():
        _, _, loss = quadratic_graph()
        with pytest.raises(ValueError, match="adamw, lamb"):
            optimization.create_optimizer(loss, 0.1, 10, 0, optimizer="sgd")


@pytest.mark.parametrize("steps,error", [(0, ValueError), (1.5, ValueError), (None, ValueError)])
def test_create_optimizer_gradient_accumulation_steps(steps, error):
    with tf.Graph().as_default():
        _, _, loss = quadratic_graph()
        with pytest.raises(error):
            optimization.create_optimizer(loss, 0.1, 10, 0, gradient_accumulation_steps=steps)


@pytest.mark.parametrize("name,cls", [("adamw", optimization.AdamWeightDecayOptimizer),
                                      ("lamb", lamb_optimizer.LAMBOptimizer)])
def test_build_optimizer(name, cls):
    opt = optimization.build_optimizer(name, 0.1)
    assert isinstance(opt, cls)
    assert opt.weight_decay_rate == 0.01
    assert opt.exclude_from_weight_decay == list(NO_DECAY)
    if cls is lamb_optimizer.LAMBOptimizer:
        assert opt.exclude_from_layer_adaptation == list(NO_DECAY)
    tpu_opt = optimization.build_optimizer(name, 0.1, use_tpu=True)
    assert isinstance(tpu_opt, tf.tpu.CrossShardOptimizer)


def test_create_optimizer_tpu_graph_sums_gradients_across_shards():
    graph = tf.Graph()
    with graph.as_default():
        _, _, loss = quadratic_graph()
        train_op = optimization.create_optimizer(loss, 0.1, 10, 0, use_tpu=True, optimizer="lamb")
    assert isinstance(train_op, tf.Operation)
    op_types = {op.type for op in graph.get_operations()}
    assert "CrossReplicaSum" in op_types


@pytest.mark.parametrize("optimizer_name,accumulation", [("adamw", 1), ("lamb", 1), ("lamb", 2)])
def test_loss_scaling_same_updates_skips_overflow_and_adapts_scale(optimizer_name, accumulation):
    """Dynamic loss scaling: finite steps equal unscaled training (numpy);
    a step whose scaled gradients overflow changes no variable and no step,
    and halves the scale; `growth_interval` finite steps double it."""
    init_lr, num_train_steps = 0.1, 10
    graph = tf.Graph()
    with graph.as_default():
        kernel, bias, loss = quadratic_graph()
        overflow = tf.placeholder_with_default(0.0, [])
        # 3e38 * scale overflows float32 in the gradient of `bias` only.
        loss = loss + overflow * 3e38 * tf.reduce_sum(bias)
        scaler = optimization.DynamicLossScale(initial_scale=8.0, growth_interval=2)
        train_op, _ = optimization.create_optimizer_with_lr(
            loss, init_lr, num_train_steps, num_warmup_steps=0, optimizer=optimizer_name,
            loss_scale=scaler, gradient_accumulation_steps=accumulation)
        global_step = tf.train.get_global_step()
        with tf.Session(graph=graph) as sess:
            sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            history = []

            def update(over):
                for _ in range(accumulation):
                    sess.run(train_op, {overflow: over})
                history.append(sess.run((global_step, scaler.scale, kernel, bias)))

            update(0.0)  # finite: step 1; good steps 1
            update(1.0)  # overflow: skipped; scale 8 -> 4
            update(0.0)  # finite: step 2; good steps 1
            update(0.0)  # finite: step 3; good steps 2 -> scale 8
    steps = [h[0] for h in history]
    scales = [h[1] for h in history]
    assert steps == [1, 1, 2, 3]
    assert scales == [8.0, 4.0, 4.0, 8.0]
    np.testing.assert_array_equal(history[1][2], history[0][2])
    np.testing.assert_array_equal(history[1][3], history[0][3])
    # The three applied updates are exactly unscaled training's first three.
    expected, _ = np_create_optimizer_steps(3, init_lr, num_train_steps,
                                            use_ratio=optimizer_name == "lamb")
    np.testing.assert_allclose(history[3][2], expected["kernel"][0], **TOL)
    np.testing.assert_allclose(history[3][3], expected["bias"][0], **TOL)


def test_loss_scale_arguments():
    with tf.Graph().as_default():
        assert optimization.make_loss_scale(None) is None
        dynamic = optimization.make_loss_scale("dynamic")
        assert not dynamic.fixed and dynamic.growth_interval == 2000
    with tf.Graph().as_default():
        fixed = optimization.make_loss_scale(128)
        assert fixed.fixed
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(fixed.on_overflow())
            assert sess.run(fixed.scale) == 128.0
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="loss_scale must be"):
            optimization.make_loss_scale("static")
        with pytest.raises(ValueError, match="growth_interval"):
            optimization.DynamicLossScale(growth_interval=0)
