# coding=utf-8
"""LAMB, the layer-wise adaptive optimizer used to pretrain ALBERT.

LAMB (You et al., 2019, "Large Batch Optimization for Deep Learning: Training
BERT in 76 minutes") is Adam with decoupled weight decay whose step is rescaled,
per variable, by the "trust ratio" ||w|| / ||update||.

This module also holds `DecoupledAdamOptimizerBase`, the update machinery that
LAMB shares with `optimization.AdamWeightDecayOptimizer` (AdamW). Both follow
the reference implementations exactly, which matters for resuming from their
checkpoints and for reproducing their runs:

* no bias correction of the moments;
* epsilon is added to sqrt(v), not inside the square root;
* weight decay is added to the Adam direction (decoupled), not to the loss;
* the moment slots are non-trainable variables named `<variable>/adam_m` and
  `<variable>/adam_v`, created at the root variable scope.

Global step convention: like every `tf.train.Optimizer`, `apply_gradients`
increments `global_step` by one after the update if, and only if, a
`global_step` is passed to it. `optimization.create_optimizer` passes none and
increments the step itself, so the step is never incremented twice.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import re

from tf_compat import tf

# Slot names of Google's LAMB and of both references' AdamW.
ADAM_SLOT_NAMES = ("adam_m", "adam_v")
# Slot names of brightmart's LAMB (`B:optimization.py`).
BRIGHTMART_LAMB_SLOT_NAMES = ("lamb_m", "lamb_v")


def variable_name(variable):
    """Returns the name of a variable without its ":<output index>" suffix.

    Args:
        variable: a `tf.Variable`.

    Returns:
        The variable's name as it appears in checkpoints, e.g. "bert/x/kernel".
    """
    match = re.match(r"^(.*):\d+$", variable.name)
    return match.group(1) if match else variable.name


def _matches_any(name, patterns):
    """Returns True when any regular expression in `patterns` is in `name`."""
    return any(re.search(pattern, name) for pattern in patterns)


class DecoupledAdamOptimizerBase(tf.train.Optimizer):
    """Adam with decoupled weight decay and no bias correction.

    For each variable `w` with gradient `g` it computes::

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g^2
        u = m / (sqrt(v) + epsilon)
        u = u + weight_decay_rate * w     (unless the name is excluded)
        w = w - scale * learning_rate * u

    where `scale` is 1 here and the trust ratio in `LAMBOptimizer`. Subclasses
    change `scale` by overriding `_update_scale`. This class is not meant to be
    used directly: use `LAMBOptimizer` or
    `optimization.AdamWeightDecayOptimizer`.
    """

    def __init__(self, learning_rate, weight_decay_rate, beta_1, beta_2, epsilon,
                 exclude_from_weight_decay, slot_names, name):
        """Builds the optimizer.

        Args:
            learning_rate: a Python float or a scalar float tensor.
            weight_decay_rate: decoupled weight decay factor (float >= 0).
            beta_1: decay rate of the first moment, in [0, 1).
            beta_2: decay rate of the second moment, in [0, 1).
            epsilon: added to sqrt(v) in the denominator; >= 0.
            exclude_from_weight_decay: list of regular expressions; variables
                whose name matches any of them get no weight decay. None means
                none are excluded.
            slot_names: pair of names (first moment, second moment); the slot
                variables are named `<variable name>/<slot name>`.
            name: the optimizer's name (used for op names).

        Raises:
            ValueError: if a hyperparameter is out of range or `slot_names` is
                not a pair of distinct non-empty strings.
        """
        super(DecoupledAdamOptimizerBase, self).__init__(use_locking=False, name=name)
        if not 0.0 <= beta_1 < 1.0:
            raise ValueError("beta_1 must be in [0, 1), got %r" % (beta_1,))
        if not 0.0 <= beta_2 < 1.0:
            raise ValueError("beta_2 must be in [0, 1), got %r" % (beta_2,))
        if epsilon < 0.0:
            raise ValueError("epsilon must be >= 0, got %r" % (epsilon,))
        if weight_decay_rate < 0.0:
            raise ValueError("weight_decay_rate must be >= 0, got %r" % (weight_decay_rate,))
        slot_names = tuple(slot_names)
        if (len(slot_names) != 2 or not all(slot_names) or slot_names[0] == slot_names[1]):
            raise ValueError("slot_names must be two distinct non-empty names, got %r" %
                             (slot_names,))
        self.learning_rate = learning_rate
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.exclude_from_weight_decay = list(exclude_from_weight_decay or [])
        self.slot_names = slot_names
        # variable name -> (first moment slot, second moment slot)
        self._moment_slots = {}

    def _use_weight_decay(self, param_name):
        """Returns True when weight decay applies to variable `param_name`."""
        if not self.weight_decay_rate:
            return False
        return not _matches_any(param_name, self.exclude_from_weight_decay)

    def _update_scale(self, param_name, param, update):
        """Returns the factor of the step for one variable, or None for 1.

        Args:
            param_name: the variable's name.
            param: the variable.
            update: the Adam direction including weight decay (a tensor).

        Returns:
            None (no scaling) in this class.
        """
        del param_name, param, update  # Unused: no scaling.
        return None

    def _moments_for(self, param, param_name):
        """Returns the (m, v) slot variables of `param`, creating them once."""
        if param_name in self._moment_slots:
            return self._moment_slots[param_name]
        # Slots are named after the variable, not after the caller's scope:
        # enter a fresh root variable scope (no prefix, no reuse, no custom
        # getter or partitioner) without touching the name scope.
        root_scope = tf.VariableScope(reuse=False, name="")
        with tf.variable_scope(root_scope, auxiliary_name_scope=False):
            moments = tuple(
                tf.get_variable(name="%s/%s" %
                                (param_name, slot_name), shape=param.shape, dtype=param.dtype.
                                base_dtype, trainable=False, initializer=tf.zeros_initializer())
                for slot_name in self.slot_names)
        self._moment_slots[param_name] = moments
        return moments

    def get_slot_names(self):
        """Returns the names of the two moment slots.

        Returns:
            A list of two strings, e.g. ["adam_m", "adam_v"].
        """
        return list(self.slot_names)

    def get_slot(self, var, name):
        """Returns the slot variable `name` of `var`, or None if it has none.

        Args:
            var: a variable passed to `apply_gradients`.
            name: one of `get_slot_names()`.

        Returns:
            The slot variable, or None.
        """
        moments = self._moment_slots.get(variable_name(var))
        if moments is None or name not in self.slot_names:
            return None
        return moments[self.slot_names.index(name)]

    def variables(self):
        """Returns the slot variables created so far.

        Returns:
            A list of variables, in creation order.
        """
        return [slot for pair in self._moment_slots.values() for slot in pair]

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Applies one update to every variable that has a gradient.

        `tf.IndexedSlices` gradients (e.g. of embedding tables) are converted to
        dense tensors, so they give exactly the dense update. Pairs whose
        gradient is None are skipped.

        Args:
            grads_and_vars: iterable of (gradient, variable) pairs.
            global_step: optional variable incremented by one after the update.
                Pass None if the caller increments the step itself (as
                `optimization.create_optimizer` does).
            name: optional name for the returned operation.

        Returns:
            An operation that applies the update (and increments `global_step`
            if given).

        Raises:
            ValueError: if no pair has both a gradient and a variable.
        """
        grads_and_vars = list(grads_and_vars)
        pairs = [(grad, param)
                 for grad, param in grads_and_vars
                 if grad is not None and param is not None]
        if not pairs:
            raise ValueError(
                "No gradients provided for any variable: %s" %
                [variable_name(param) for _, param in grads_and_vars if param is not None])
        with tf.name_scope(name, self.get_name()) as scope_name:
            assignments = []
            for grad, param in pairs:
                assignments.extend(self._apply_one(grad, param))
            update_op = tf.group(*assignments, name="update")
            if global_step is None:
                return tf.group(update_op, name=scope_name)
            with tf.control_dependencies([update_op]):
                increment = tf.assign_add(global_step, 1)
            return tf.group(update_op, increment, name=scope_name)

    def _apply_one(self, grad, param):
        """Returns the assignments that update `param` and its two moments."""
        param_name = variable_name(param)
        dtype = param.dtype.base_dtype
        if isinstance(grad, tf.IndexedSlices):
            grad = tf.convert_to_tensor(grad)
        grad = tf.cast(grad, dtype)
        m, v = self._moments_for(param, param_name)
        learning_rate = tf.cast(self.learning_rate, dtype)

        next_m = self.beta_1 * m + (1.0 - self.beta_1) * grad
        next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad)
        update = next_m / (tf.sqrt(next_v) + self.epsilon)
        if self._use_weight_decay(param_name):
            update += self.weight_decay_rate * param
        scale = self._update_scale(param_name, param, update)
        step = learning_rate * update
        if scale is not None:
            step = scale * step
        next_param = param - step
        return [param.assign(next_param), m.assign(next_m), v.assign(next_v)]


class LAMBOptimizer(DecoupledAdamOptimizerBase):
    """LAMB: decoupled-weight-decay Adam scaled by a per-variable trust ratio.

    The step of a variable `w` with Adam direction `u` (weight decay included)
    is `r * learning_rate * u` with trust ratio `r = ||w||_2 / ||u||_2`, or 1.0
    when either norm is zero or when the variable's name matches
    `exclude_from_layer_adaptation`. Following Google's ALBERT, that list
    defaults to `exclude_from_weight_decay`, so LayerNorm and bias variables get
    neither weight decay nor a trust ratio.

    brightmart's LAMB (reference bug B22) applies the trust ratio to every
    variable and names its slots `lamb_m`/`lamb_v`; to resume from one of its
    checkpoints use `layer_adaptation_for_all=True` and
    `slot_names=BRIGHTMART_LAMB_SLOT_NAMES`.
    """

    def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 exclude_from_weight_decay=None, exclude_from_layer_adaptation=None,
                 layer_adaptation_for_all=False, slot_names=ADAM_SLOT_NAMES, name="LAMBOptimizer"):
        """Builds the optimizer.

        Args:
            learning_rate: a Python float or a scalar float tensor.
            weight_decay_rate: decoupled weight decay factor (float >= 0).
            beta_1: decay rate of the first moment, in [0, 1).
            beta_2: decay rate of the second moment, in [0, 1).
            epsilon: added to sqrt(v) in the denominator; >= 0.
            exclude_from_weight_decay: list of regular expressions; matching
                variable names get no weight decay.
            exclude_from_layer_adaptation: list of regular expressions; matching
                variable names get trust ratio 1.0. None means the same list as
                `exclude_from_weight_decay`.
            layer_adaptation_for_all: if True, every variable gets the trust
                ratio (brightmart's behaviour); then
                `exclude_from_layer_adaptation` must be None.
            slot_names: pair of slot names; `ADAM_SLOT_NAMES` (Google) or
                `BRIGHTMART_LAMB_SLOT_NAMES`.
            name: the optimizer's name.

        Raises:
            ValueError: if a hyperparameter is out of range, or if both
                `layer_adaptation_for_all` and `exclude_from_layer_adaptation`
                are given.
        """
        super(LAMBOptimizer,
              self).__init__(learning_rate=learning_rate, weight_decay_rate=weight_decay_rate,
                             beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                             exclude_from_weight_decay=exclude_from_weight_decay,
                             slot_names=slot_names, name=name)
        if (layer_adaptation_for_all and exclude_from_layer_adaptation is not None):
            raise ValueError("layer_adaptation_for_all=True applies the trust ratio to "
                             "every variable; do not also pass "
                             "exclude_from_layer_adaptation")
        self.layer_adaptation_for_all = bool(layer_adaptation_for_all)
        if layer_adaptation_for_all:
            self.exclude_from_layer_adaptation = []
        elif exclude_from_layer_adaptation is None:
            self.exclude_from_layer_adaptation = list(self.exclude_from_weight_decay)
        else:
            self.exclude_from_layer_adaptation = list(exclude_from_layer_adaptation)

    def _use_layer_adaptation(self, param_name):
        """Returns True when the trust ratio applies to `param_name`."""
        return not _matches_any(param_name, self.exclude_from_layer_adaptation)

    def _update_scale(self, param_name, param, update):
        """Returns the trust ratio of one variable, or None where it is 1.

        Args:
            param_name: the variable's name.
            param: the variable.
            update: the Adam direction including weight decay (a tensor).

        Returns:
            A scalar tensor `||param|| / ||update||` (1.0 where either norm is
            zero), or None if the variable is excluded from layer adaptation.
        """
        if not self._use_layer_adaptation(param_name):
            return None
        param_norm = tf.sqrt(tf.reduce_sum(tf.square(param)))
        update_norm = tf.sqrt(tf.reduce_sum(tf.square(update)))
        both_positive = tf.logical_and(param_norm > 0.0, update_norm > 0.0)
        one = tf.ones_like(param_norm)
        # Divide by a safe value so that no inf/nan is ever computed.
        safe_update_norm = tf.where(both_positive, update_norm, one)
        return tf.where(both_positive, param_norm / safe_update_norm, one)
