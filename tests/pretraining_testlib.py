# coding=utf-8
"""Helpers shared by the run_pretraining tests: tiny configs, synthetic records.

The synthetic task is learnable by a tiny model:

* segment A repeats one id of the "low" range, segment B one of
  the "high" range; in order ([CLS] A [SEP] B [SEP]) is label 0, swapped
  ([CLS] B [SEP] A [SEP]) label 1, so sentence order is visible at a glance;
* each segment repeats one id, so a masked id follows from the unmasked ids
  of its segment (the model must attend to them: chance is 1 / (V - 4)).
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import json
import os

import numpy as np

import script_testlib
from tf_compat import tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "run_pretraining.py")

PAD, CLS, SEP, MASK = 0, 1, 2, 3
FIRST_TOKEN = 4


def tiny_config(layout="google", vocab_size=64, **overrides):
    """A tiny model config dict (hidden 32, 2 layers) of the given layout."""
    config = {
        "vocab_size": vocab_size,
        "embedding_size": 16,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "embedding_layout": layout,
    }
    if layout == "google":
        config.update(num_hidden_groups=1, inner_group_num=1)
    else:
        config.update(ln_type="postln")
    config.update(overrides)
    return config


def write_config(path, config):
    """Writes a config dict as JSON; returns the path."""
    with open(path, "w") as writer:
        json.dump(config, writer)
    return path


def synthetic_example(rng, seq_length, max_predictions, vocab_size, num_masked=None, label=None):
    """One record of the synthetic task as a dict of lists.

    Args:
        rng: numpy RandomState.
        seq_length: max_seq_length of the record.
        max_predictions: max_predictions_per_seq of the record.
        vocab_size: ids are < vocab_size.
        num_masked: masked positions (default: all max_predictions).
        label: force the sentence-order label (default random).

    Returns:
        dict feature name -> list of values.
    """
    span = (vocab_size - FIRST_TOKEN) // 2
    low, high = FIRST_TOKEN, FIRST_TOKEN + span
    body = seq_length - 3
    len_a = int(rng.randint(body // 3, body - body // 3 + 1))
    len_a = min(len_a, body - 2)
    len_b = body - len_a

    def run(base, length):
        return [base + rng.randint(span)] * length

    seg_low, seg_high = run(low, len_a), run(high, len_b)
    if label is None:
        label = int(rng.randint(2))
    first, second = (seg_low, seg_high) if label == 0 else (seg_high, seg_low)
    tokens = [CLS] + first + [SEP] + second + [SEP]
    segment_ids = [0] * (len(first) + 2) + [1] * (len(second) + 1)
    candidates = [i for i, t in enumerate(tokens) if t >= FIRST_TOKEN]
    count = max_predictions if num_masked is None else num_masked
    positions = sorted(rng.choice(candidates, size=count, replace=False))
    input_ids = list(tokens)
    labels = []
    for pos in positions:
        labels.append(tokens[pos])
        input_ids[pos] = MASK
    pad = max_predictions - count
    boundary = [1] * len(tokens)
    return {
        "input_ids": input_ids,
        "input_mask": [1] * len(tokens),
        "segment_ids": segment_ids,
        "token_boundary": boundary,
        "masked_lm_positions": [int(p) for p in positions] + [0] * pad,
        "masked_lm_ids": labels + [0] * pad,
        "masked_lm_weights": [1.0] * count + [0.0] * pad,
        "next_sentence_labels": [label],
    }


def write_records(path, examples, with_token_boundary=True):
    """Writes feature dicts as tf.train.Example records; returns the path."""
    with tf.python_io.TFRecordWriter(path) as writer:
        for example in examples:
            feature = {}
            for name, values in example.items():
                if name == "token_boundary" and not with_token_boundary:
                    continue
                if name == "masked_lm_weights":
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
                else:
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
            writer.write(
                tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


def make_records(path, num_examples, seq_length=32, max_predictions=5, vocab_size=64, seed=0,
                 **kwargs):
    """Writes `num_examples` synthetic records; returns the path."""
    rng = np.random.RandomState(seed)
    examples = [
        synthetic_example(rng, seq_length, max_predictions, vocab_size) for _ in range(num_examples)
    ]
    return write_records(path, examples, **kwargs)


def run_script(args, timeout=240, env=None, script=SCRIPT):
    """Runs run_pretraining.py in a subprocess (without TF_CONFIG); returns
    CompletedProcess."""
    return script_testlib.run_script(script, args, env=env, unset=("TF_CONFIG",), timeout=timeout)


def read_eval_results(output_dir):
    """eval_results.txt as {checkpoint name: {key: value}} (see driver_utils)."""
    import driver_utils  # pylint: disable=g-import-not-at-top
    return driver_utils.read_eval_results(os.path.join(output_dir, "eval_results.txt"))
