# coding=utf-8
"""Training op construction: learning-rate schedule, AdamW, LAMB and clipping.

`create_optimizer` builds the train op used by pretraining and fine-tuning:

1. learning rate: linear warmup, then polynomial decay to 0 (see
   `learning_rate_schedule`); the tensor is named "learning_rate" in the graph
   and is also returned by `create_optimizer_with_lr`;
2. gradients of the loss with respect to the trainable variables (minus
   `excluded_tvars`), clipped by global norm;
3. one AdamW or LAMB update (wrapped in `tf.tpu.CrossShardOptimizer` on TPU);
4. then, and only then, `global_step += 1`;
5. optionally, gradient accumulation over k micro-batches and, under a
   tf.distribute strategy, an all-reduce of the gradients over the replicas.

Global step convention: the optimizers of this project increment a step only
when one is passed to `apply_gradients` (the `tf.train.Optimizer` contract).
`create_optimizer` passes none and increments the step itself after the update
has been applied, so the learning rate of an update is always the one of the
step before the increment.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

from tf_compat import tf

import lamb_optimizer

OPTIMIZER_CHOICES = ("adamw", "lamb")

# Variables whose names match these get neither weight decay nor (in LAMB) a
# trust ratio.
EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")

BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-6


class AdamWeightDecayOptimizer(lamb_optimizer.DecoupledAdamOptimizerBase):
    """Adam with decoupled weight decay ("AdamW"), without bias correction.

    For a variable `w` with gradient `g`::

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g^2
        u = m / (sqrt(v) + epsilon) + weight_decay_rate * w
        w = w - learning_rate * u

    where the weight decay term is left out for variables whose name matches
    `exclude_from_weight_decay`. Slots are `<variable>/adam_m` and
    `<variable>/adam_v`, as in the reference checkpoints.
    """

    def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=BETA_1, beta_2=BETA_2,
                 epsilon=EPSILON, exclude_from_weight_decay=None, name="AdamWeightDecayOptimizer"):
        """Builds the optimizer.

        Args:
            learning_rate: a Python float or a scalar float tensor.
            weight_decay_rate: decoupled weight decay factor (float >= 0).
            beta_1: decay rate of the first moment, in [0, 1).
            beta_2: decay rate of the second moment, in [0, 1).
            epsilon: added to sqrt(v) in the denominator; >= 0.
            exclude_from_weight_decay: list of regular expressions; matching
                variable names get no weight decay.
            name: the optimizer's name.

        Raises:
            ValueError: if a hyperparameter is out of range.
        """
        super(AdamWeightDecayOptimizer,
              self).__init__(learning_rate=learning_rate, weight_decay_rate=weight_decay_rate,
                             beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                             exclude_from_weight_decay=exclude_from_weight_decay,
                             slot_names=lamb_optimizer.ADAM_SLOT_NAMES, name=name)


def learning_rate_schedule(global_step, init_lr, num_train_steps, num_warmup_steps, poly_power=1.0,
                           start_warmup_step=0):
    """Returns the learning rate at `global_step`: warmup, then poly decay.

    With `step = global_step` and `s = step - start_warmup_step`:

    * `step < start_warmup_step`: 0 (never negative);
    * `0 <= s < num_warmup_steps`: `init_lr * s / num_warmup_steps`;
    * otherwise: `init_lr * (1 - min(step, num_train_steps) / num_train_steps)
      ** poly_power`.

    As in the references, the decay is counted from step 0, not from the end of
    warmup, so the first post-warmup rate is already slightly decayed.

    Args:
        global_step: integer scalar tensor (or Python int), the current step.
        init_lr: peak learning rate (Python float >= 0).
        num_train_steps: step at which the rate reaches 0 (Python int > 0).
        num_warmup_steps: length of the linear warmup; 0 means no warmup.
        poly_power: power of the polynomial decay (> 0); 1.0 is linear.
        start_warmup_step: step at which warmup (and training) starts.

    Returns:
        A float32 scalar tensor.

    Raises:
        ValueError: if an argument is out of range.
    """
    if num_train_steps is None or num_train_steps <= 0:
        raise ValueError("num_train_steps must be a positive integer, got %r" % (num_train_steps,))
    if num_warmup_steps is None or num_warmup_steps < 0:
        raise ValueError("num_warmup_steps must be >= 0, got %r" % (num_warmup_steps,))
    if start_warmup_step is None or start_warmup_step < 0:
        raise ValueError("start_warmup_step must be >= 0, got %r" % (start_warmup_step,))
    if init_lr < 0:
        raise ValueError("init_lr must be >= 0, got %r" % (init_lr,))
    if poly_power <= 0:
        raise ValueError("poly_power must be > 0, got %r" % (poly_power,))

    with tf.name_scope("learning_rate_schedule"):
        step = tf.cast(global_step, tf.float32)
        peak_lr = tf.constant(init_lr, dtype=tf.float32)
        total = float(num_train_steps)
        # (total - step) / total, not 1 - step / total: exact near the end.
        remaining = total - tf.minimum(step, total)
        learning_rate = peak_lr * tf.pow(remaining / total, float(poly_power))

        if num_warmup_steps > 0:
            since_start = step - float(start_warmup_step)
            warmup_rate = peak_lr * since_start / float(num_warmup_steps)
            learning_rate = tf.where(since_start < float(num_warmup_steps), warmup_rate,
                                     learning_rate)
        if start_warmup_step > 0:
            # Zero before the start (Google's schedule goes negative there).
            learning_rate = tf.where(step < float(start_warmup_step), tf.zeros_like(learning_rate),
                                     learning_rate)
        return learning_rate


def _optimizer_key(optimizer):
    """Returns the lower-case optimizer name; raises ValueError if unknown."""
    key = optimizer.lower() if isinstance(optimizer, str) else optimizer
    if key not in OPTIMIZER_CHOICES:
        raise ValueError("Unknown optimizer %r; choose one of: %s" %
                         (optimizer, ", ".join(OPTIMIZER_CHOICES)))
    return key


def build_optimizer(optimizer, learning_rate, weight_decay_rate=0.01, use_tpu=False):
    """Returns the optimizer object that `create_optimizer` uses.

    Args:
        optimizer: "adamw" or "lamb" (case-insensitive).
        learning_rate: a Python float or a scalar float tensor.
        weight_decay_rate: decoupled weight decay; `EXCLUDE_FROM_WEIGHT_DECAY`
            variables are exempt (and, for LAMB, get no trust ratio).
        use_tpu: if True, wrap the optimizer in `tf.tpu.CrossShardOptimizer`,
            which sums the gradients over the TPU cores before the update.

    Returns:
        A `tf.train.Optimizer`.

    Raises:
        ValueError: if `optimizer` is not one of `OPTIMIZER_CHOICES`.
    """
    if _optimizer_key(optimizer) == "adamw":
        opt = AdamWeightDecayOptimizer(learning_rate=learning_rate,
                                       weight_decay_rate=weight_decay_rate,
                                       exclude_from_weight_decay=list(EXCLUDE_FROM_WEIGHT_DECAY))
    else:
        opt = lamb_optimizer.LAMBOptimizer(
            learning_rate=learning_rate, weight_decay_rate=weight_decay_rate,
            exclude_from_weight_decay=list(EXCLUDE_FROM_WEIGHT_DECAY))
    if use_tpu:
        opt = tf.tpu.CrossShardOptimizer(opt)
    return opt


def _variables_to_train(excluded_tvars):
    """Returns the trainable variables whose names are not in `excluded_tvars`.

    Names may be given with or without the ":0" suffix.
    """
    excluded = set(excluded_tvars or [])
    tvars = []
    dropped = set()
    for var in tf.trainable_variables():
        name = lamb_optimizer.variable_name(var)
        if name in excluded or var.name in excluded:
            dropped.update([name, var.name])
            tf.logging.info("Not training excluded variable %s", name)
        else:
            tvars.append(var)
    for name in sorted(excluded - dropped):
        tf.logging.warning("excluded_tvars names %s, which is not a trainable variable", name)
    return tvars


def _in_distributed_replica_context():
    """True inside `call_for_each_replica` of a non-default tf.distribute strategy."""
    return (tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context())


def _inner_optimizer(opt):
    """The optimizer that owns the slots (unwraps `CrossShardOptimizer`)."""
    return getattr(opt, "_opt", opt)


def _create_slots(opt, tvars):
    """Creates the moment slots of `tvars` now, outside any control flow."""
    inner = _inner_optimizer(opt)
    for var in tvars:
        # pylint: disable=protected-access
        inner._moments_for(var, lamb_optimizer.variable_name(var))


def _dense(grad):
    """A dense gradient tensor (IndexedSlices are converted)."""
    if isinstance(grad, tf.IndexedSlices):
        return tf.convert_to_tensor(grad)
    return grad


class _GradientAccumulator(object):
    """Per-variable gradient sums and a micro-step counter.

    The sums and the counter are local variables: they are not written to
    checkpoints. Checkpoints are saved after an update, when the sums are
    zero, so nothing is lost by not saving them.
    """

    def __init__(self, tvars):
        scope = tf.VariableScope(reuse=False, name="")
        with tf.variable_scope(scope, auxiliary_name_scope=False):
            self.sums = [
                tf.get_variable("gradient_accumulation/%s" % lamb_optimizer.variable_name(var),
                                shape=var.shape, dtype=var.dtype.base_dtype, trainable=False,
                                initializer=tf.zeros_initializer(),
                                collections=[tf.GraphKeys.LOCAL_VARIABLES]) for var in tvars
            ]
            self.counter = tf.get_variable("gradient_accumulation/micro_step", shape=[],
                                           dtype=tf.int64, trainable=False,
                                           initializer=tf.zeros_initializer(),
                                           collections=[tf.GraphKeys.LOCAL_VARIABLES])


class DynamicLossScale(object):
    """Loss scaling for float16 training (``--use_fp16``).

    The loss is multiplied by ``scale`` before differentiation and the
    gradients divided by it afterwards, so small float16 gradients do not
    flush to zero. A step whose gradients are not all finite is skipped (no
    update, the global step does not move) and halves the scale (not below
    ``min_scale``); after ``growth_interval`` finite steps in a row the scale
    doubles. A ``fixed`` scale skips non-finite steps but never changes.

    The two variables (``loss_scale``, ``loss_scale_good_steps``) are saved
    with the checkpoint, so a resumed run keeps its scale.
    """

    def __init__(self, initial_scale=2.0**15, growth_interval=2000, min_scale=1.0, fixed=False):
        if initial_scale <= 0 or min_scale <= 0 or growth_interval < 1:
            raise ValueError("loss scale: initial_scale and min_scale must be "
                             "> 0 and growth_interval >= 1")
        self.growth_interval = int(growth_interval)
        self.min_scale = float(min_scale)
        self.fixed = bool(fixed)
        # Root scope; AUTO_REUSE so that the replicas of a tf.distribute
        # strategy share one (mirrored) pair.
        with tf.variable_scope(tf.VariableScope(reuse=tf.AUTO_REUSE, name=""),
                               auxiliary_name_scope=False):
            self.scale = tf.get_variable("loss_scale", shape=[], dtype=tf.float32, trainable=False,
                                         initializer=tf.constant_initializer(float(initial_scale)))
            self.good_steps = tf.get_variable("loss_scale_good_steps", shape=[], dtype=tf.int64,
                                              trainable=False, initializer=tf.zeros_initializer())

    def on_finite(self):
        """The updates after a step with finite gradients."""
        if self.fixed:
            return tf.no_op()
        good = self.good_steps + 1
        grow = good >= self.growth_interval
        return tf.group(self.scale.assign(tf.where(grow, self.scale * 2.0, self.scale)),
                        self.good_steps.assign(tf.where(grow, tf.zeros_like(good), good)))

    def on_overflow(self):
        """The updates after a skipped step (some gradient inf or NaN)."""
        if self.fixed:
            return tf.no_op()
        return tf.group(self.scale.assign(tf.maximum(self.scale * 0.5, self.min_scale)),
                        self.good_steps.assign(tf.zeros_like(self.good_steps)))


def make_loss_scale(loss_scale):
    """None, ``"dynamic"``, or a number (a fixed scale) -> DynamicLossScale."""
    if loss_scale is None or loss_scale is False:
        return None
    if isinstance(loss_scale, DynamicLossScale):
        return loss_scale
    if loss_scale == "dynamic":
        return DynamicLossScale()
    try:
        value = float(loss_scale)
    except (TypeError, ValueError):
        raise ValueError("loss_scale must be None, 'dynamic' or a number, got %r" % (loss_scale,))
    return DynamicLossScale(initial_scale=value, fixed=True)


def _all_finite(tensors):
    return tf.reduce_all(tf.stack([tf.reduce_all(tf.is_finite(t)) for t in tensors]))


def _update_step(opt, grads, tvars, global_step, clip_norm, accumulation_steps, accumulator,
                 loss_scale=None):
    """Builds one (micro-)step on the gradients of one device.

    With `accumulation_steps` == 1: clip, apply, `global_step += 1`. With k > 1:
    add the gradients to the sums; every k-th call, apply the clipped mean of
    the sums, `global_step += 1` and reset the sums.

    Args:
        opt: the optimizer (its slots must already exist).
        grads: list of dense gradient tensors, one per variable in `tvars`.
        tvars: the variables to update.
        global_step: the global step variable.
        clip_norm: global-norm clipping threshold; None or 0 disables clipping.
        accumulation_steps: k >= 1.
        accumulator: a `_GradientAccumulator` when k > 1, else None.
        loss_scale: a `DynamicLossScale` (the gradients are already divided
            by its scale), or None.

    Returns:
        The operation.
    """

    def apply_and_increment(gradients):
        if loss_scale is None:
            return apply_finite(gradients)
        return tf.cond(_all_finite(gradients),
                       lambda: tf.group(apply_finite(gradients), loss_scale.on_finite()),
                       loss_scale.on_overflow)

    def apply_finite(gradients):
        if clip_norm:
            gradients, _ = tf.clip_by_global_norm(gradients, clip_norm=clip_norm)
        # The step is not passed: it is incremented below, after the update.
        apply_op = opt.apply_gradients(list(zip(gradients, tvars)))
        with tf.control_dependencies([apply_op]):
            increment = tf.assign_add(global_step, 1)
        return tf.group(apply_op, increment)

    if accumulation_steps == 1:
        return apply_and_increment(grads)

    adds = [tf.assign_add(total, grad) for total, grad in zip(accumulator.sums, grads)]
    with tf.control_dependencies(adds):
        micro_step = tf.assign_add(accumulator.counter, 1)

    def apply_sums():
        scale = 1.0 / accumulation_steps
        means = [total.read_value() * scale for total in accumulator.sums]
        update = apply_and_increment(means)
        with tf.control_dependencies([update]):
            resets = [total.assign(tf.zeros_like(total)) for total in accumulator.sums]
        return tf.group(update, *resets)

    is_update = tf.equal(tf.mod(micro_step, accumulation_steps), 0)
    return tf.cond(is_update, apply_sums, tf.no_op)


def create_optimizer_with_lr(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu=False,
                             optimizer="adamw", poly_power=1.0, start_warmup_step=0,
                             colocate_gradients_with_ops=False, excluded_tvars=None,
                             weight_decay_rate=0.01, clip_norm=1.0, gradient_accumulation_steps=1,
                             loss_scale=None):
    """Builds the train op and returns it with the learning-rate tensor.

    Same arguments as `create_optimizer`.

    Gradient accumulation (`gradient_accumulation_steps` = k > 1): each run of
    the train op computes the gradients of one micro-batch and adds them to
    per-variable sums; every k-th run applies one update with the mean of the
    k gradients (clipped by global norm, as without accumulation) and then
    increments the global step. k micro-batches of n examples therefore give
    the same update as one batch of k * n (when the loss is a mean over the
    batch), and the global step, the learning-rate schedule and
    `num_train_steps` count updates, not micro-batches.

    Under a tf.distribute strategy (the train op built in a replica context,
    e.g. by an Estimator with `train_distribute`), the gradients are averaged
    over the replicas (all-reduce) and every replica applies the same update
    to its copy of the variables.

    Args:
        loss: scalar loss tensor.
        init_lr: peak learning rate.
        num_train_steps: total number of training steps (the rate reaches 0).
        num_warmup_steps: linear warmup steps; 0 means no warmup.
        use_tpu: wrap the optimizer in `tf.tpu.CrossShardOptimizer`.
        optimizer: "adamw" or "lamb".
        poly_power: power of the polynomial decay.
        start_warmup_step: step at which warmup starts (rate 0 before it).
        colocate_gradients_with_ops: passed to `tf.gradients`.
        excluded_tvars: names of trainable variables not to train (with or
            without ":0").
        weight_decay_rate: decoupled weight decay factor.
        clip_norm: global-norm clipping threshold; None or 0 disables clipping.
        gradient_accumulation_steps: number of micro-batches per update (>= 1).
        loss_scale: None; "dynamic" (float16 training: see
            `DynamicLossScale`); or a number, a fixed scale.

    Returns:
        A pair (train_op, learning_rate): the operation that runs one
        (micro-)step, and the float32 learning-rate tensor (named
        "learning_rate") that the update uses.

    Raises:
        ValueError: for an unknown optimizer, bad schedule arguments,
            gradient_accumulation_steps < 1 or nothing left to train.
    """
    if (gradient_accumulation_steps is None or
            int(gradient_accumulation_steps) != gradient_accumulation_steps or
            gradient_accumulation_steps < 1):
        raise ValueError("gradient_accumulation_steps must be an integer >= 1, "
                         "got %r" % (gradient_accumulation_steps,))
    accumulation_steps = int(gradient_accumulation_steps)
    _optimizer_key(optimizer)  # Fail before building anything.

    global_step = tf.train.get_or_create_global_step()
    learning_rate = learning_rate_schedule(global_step, init_lr, num_train_steps, num_warmup_steps,
                                           poly_power=poly_power,
                                           start_warmup_step=start_warmup_step)
    learning_rate = tf.identity(learning_rate, name="learning_rate")

    opt = build_optimizer(optimizer, learning_rate, weight_decay_rate=weight_decay_rate,
                          use_tpu=use_tpu)
    tf.logging.info("Optimizer: %s (use_tpu=%s, gradient_accumulation_steps=%d)", optimizer,
                    use_tpu, accumulation_steps)

    tvars = _variables_to_train(excluded_tvars)
    if not tvars:
        raise ValueError("There are no trainable variables left to train")
    scaler = make_loss_scale(loss_scale)
    scaled_loss = loss if scaler is None else loss * scaler.scale
    grads = tf.gradients(scaled_loss, tvars,
                         colocate_gradients_with_ops=colocate_gradients_with_ops)
    pairs = [(grad, var) for grad, var in zip(grads, tvars) if grad is not None]
    if not pairs:
        raise ValueError("The loss depends on none of the trainable variables")
    grads = [_dense(grad) for grad, _ in pairs]
    if scaler is not None:
        inverse = 1.0 / scaler.scale
        grads = [grad * inverse for grad in grads]
    tvars = [var for _, var in pairs]

    if not _in_distributed_replica_context():
        # Slots (and sums) are created before any tf.cond that uses them.
        _create_slots(opt, tvars)
        accumulator = (_GradientAccumulator(tvars) if accumulation_steps > 1 else None)
        train_op = _update_step(opt, grads, tvars, global_step, clip_norm, accumulation_steps,
                                accumulator, scaler)
        return tf.group(train_op, name="train_op"), learning_rate

    def merge_fn(strategy, per_replica_grads):
        """Cross-replica part: all-reduce, then the same update everywhere."""
        reduced = strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.MEAN,
                                                    list(zip(per_replica_grads, tvars)))
        _create_slots(opt, tvars)
        accumulator = (_GradientAccumulator(tvars) if accumulation_steps > 1 else None)

        def device_update(unused_anchor, *device_grads):
            # Inside an update context every mirrored variable read or
            # assigned here resolves to this device's copy.
            return _update_step(opt, list(device_grads), tvars, global_step, clip_norm,
                                accumulation_steps, accumulator, scaler)

        return strategy.extended.update(tvars[0], device_update, args=tuple(reduced), group=True)

    replica_context = tf.distribute.get_replica_context()
    train_op = replica_context.merge_call(merge_fn, args=(grads,))
    return train_op, learning_rate


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu=False,
                     optimizer="adamw", poly_power=1.0, start_warmup_step=0,
                     colocate_gradients_with_ops=False, excluded_tvars=None, weight_decay_rate=0.01,
                     clip_norm=1.0, gradient_accumulation_steps=1, loss_scale=None):
    """Builds the train op: schedule, clipped gradients, update, step + 1.

    Args:
        loss: scalar loss tensor.
        init_lr: peak learning rate.
        num_train_steps: total number of training steps (the rate reaches 0).
        num_warmup_steps: linear warmup steps; 0 means no warmup.
        use_tpu: wrap the optimizer in `tf.tpu.CrossShardOptimizer`.
        optimizer: "adamw" (fine-tuning default) or "lamb" (pretraining).
        poly_power: power of the polynomial decay.
        start_warmup_step: step at which warmup starts (rate 0 before it).
        colocate_gradients_with_ops: passed to `tf.gradients`.
        excluded_tvars: names of trainable variables not to train.
        weight_decay_rate: decoupled weight decay factor.
        clip_norm: global-norm clipping threshold; None or 0 disables clipping.
        gradient_accumulation_steps: number of micro-batches per update (see
            `create_optimizer_with_lr`).
        loss_scale: None, "dynamic" or a fixed number (see
            `create_optimizer_with_lr`).

    Returns:
        The train op. The learning rate is the graph tensor "learning_rate"
        (see `create_optimizer_with_lr` to get it directly).

    Raises:
        ValueError: for an unknown optimizer, bad schedule arguments,
            gradient_accumulation_steps < 1 or nothing left to train.
    """
    train_op, _ = create_optimizer_with_lr(
        loss, init_lr, num_train_steps, num_warmup_steps, use_tpu=use_tpu, optimizer=optimizer,
        poly_power=poly_power, start_warmup_step=start_warmup_step,
        colocate_gradients_with_ops=colocate_gradients_with_ops, excluded_tvars=excluded_tvars,
        weight_decay_rate=weight_decay_rate, clip_norm=clip_norm,
        gradient_accumulation_steps=gradient_accumulation_steps, loss_scale=loss_scale)
    return train_op
