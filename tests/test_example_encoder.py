# coding=utf-8
"""Tests of example_encoder.py: the bytes are protobuf's own, byte for byte.

`tf.train.Example.SerializeToString()` writes the entries of the feature map
in hash order (protobuf 3.20 cpp and 4.25 upb alike), so no single protobuf
call gives the encoder's order. The expected bytes are therefore protobuf's
serialization of each feature as a one-entry `Features` message (an
unambiguous `SerializeToString()`), concatenated in `FEATURE_NAMES` order
(repeated map entries concatenate), inside field 1 of `Example` with
protobuf's own varint length.
"""

import random

import pytest

import example_encoder
from tf_compat import tf


class _Instance(object):
    """The attributes the encoder reads, as `TrainingInstance` has them."""

    def __init__(self, input_ids, segment_ids, token_boundary, masked_lm_positions, masked_lm_ids,
                 label):
        self.input_ids = input_ids
        self.segment_ids = segment_ids
        self.token_boundary = token_boundary
        self.masked_lm_positions = masked_lm_positions
        self.masked_lm_ids = masked_lm_ids
        self.label = label


def _feature_values(instance, seq, pred):
    """Feature name -> (kind, padded values), as the records must hold."""
    pad = seq - len(instance.input_ids)
    npred = len(instance.masked_lm_positions)
    return {
        "input_ids": ("int", instance.input_ids + [0] * pad),
        "input_mask": ("int", [1] * len(instance.input_ids) + [0] * pad),
        "segment_ids": ("int", instance.segment_ids + [0] * pad),
        "token_boundary": ("int", instance.token_boundary + [0] * pad),
        "masked_lm_positions": ("int", instance.masked_lm_positions + [0] * (pred - npred)),
        "masked_lm_ids": ("int", instance.masked_lm_ids + [0] * (pred - npred)),
        "masked_lm_weights": ("float", [1.0] * npred + [0.0] * (pred - npred)),
        "next_sentence_labels": ("int", [instance.label]),
    }


def _tf_feature(kind, values):
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _protobuf_bytes(instance, seq, pred):
    """The Example of `instance` serialized by protobuf, entries in order."""
    from google.protobuf.internal import encoder  # pylint: disable=g-import-not-at-top
    values = _feature_values(instance, seq, pred)
    body = b"".join(
        tf.train.Features(feature={
            name: _tf_feature(*values[name])
        }).SerializeToString() for name in example_encoder.FEATURE_NAMES)
    return b"\x0a" + encoder._VarintBytes(len(body)) + body  # pylint: disable=protected-access


def _protobuf_example(instance, seq, pred):
    values = _feature_values(instance, seq, pred)
    return tf.train.Example(features=tf.train.Features(feature=dict(
        (name, _tf_feature(*value)) for name, value in values.items())))


def _random_instance(rng, seq, pred, vocab_size):
    """A valid instance: [CLS] A [SEP] B [SEP], some positions masked."""
    length = rng.randint(5, seq)
    len_a = rng.randint(1, length - 4)
    segment_ids = [0] * (len_a + 2) + [1] * (length - len_a - 2)
    boundary = [1] + [rng.randint(0, 1) for _ in range(length - 2)] + [1]
    input_ids = [rng.randrange(vocab_size) for _ in range(length)]
    npred = rng.randint(0, min(pred, length))
    positions = sorted(rng.sample(range(length), npred))
    labels = [rng.randrange(vocab_size) for _ in positions]
    return _Instance(input_ids, segment_ids, boundary, positions, labels, rng.randint(0, 1))


@pytest.mark.parametrize(
    "seq,pred,vocab_size",
    [
        (16, 3, 30),  # one-byte varints everywhere
        (128, 20, 21128),  # the defaults: ids up to three bytes
        (512, 80, 30000),  # positions above 127: two-byte varints
    ])
def test_bytes_equal_protobuf_serialization(seq, pred, vocab_size):
    rng = random.Random("%d:%d" % (seq, pred))
    encoder = example_encoder.ExampleEncoder(vocab_size - 1, seq, pred)
    for _ in range(60):
        instance = _random_instance(rng, seq, pred, vocab_size)
        encoded = encoder.encode(instance)
        assert encoded == _protobuf_bytes(instance, seq, pred)
        parsed = tf.train.Example.FromString(encoded)
        expected = _protobuf_example(instance, seq, pred)
        assert parsed == expected
        assert (parsed.SerializeToString(deterministic=True) == expected.SerializeToString(
            deterministic=True))


def test_each_entry_is_serialize_to_string_of_its_one_feature_example():
    """With one map entry protobuf's order is fixed: whole messages compared."""
    from google.protobuf.internal import encoder  # pylint: disable=g-import-not-at-top
    instance = _Instance([2, 300, 3, 127, 128, 3], [0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 0, 1], [1, 4],
                         [300, 128], 1)
    encoded = example_encoder.ExampleEncoder(300, 8, 3).encode(instance)
    values = _feature_values(instance, 8, 3)
    entries = []
    for name in example_encoder.FEATURE_NAMES:
        one = tf.train.Example(features=tf.train.Features(
            feature={name: _tf_feature(*values[name])})).SerializeToString()
        # Example field 1 (features), then a one-byte length: the entry.
        assert one[:2] == b"\x0a" + bytes([len(one) - 2])
        entries.append(one[2:])
    body = b"".join(entries)
    length = encoder._VarintBytes(len(body))  # pylint: disable=protected-access
    assert encoded == b"\x0a" + length + body


def test_large_values():
    encoder = example_encoder.ExampleEncoder(40000, 512, 3)
    instance = _Instance([39999, 300, 128, 5], [0, 0, 1, 1], [1, 1, 0, 1], [1, 300], [300, 39999],
                         1)
    parsed = tf.train.Example.FromString(encoder.encode(instance))
    feature = parsed.features.feature
    assert list(feature["input_ids"].int64_list.value)[:5] == [39999, 300, 128, 5, 0]
    assert list(feature["masked_lm_positions"].int64_list.value) == [1, 300, 0]
    assert list(feature["masked_lm_weights"].float_list.value) == [1, 1, 0]
    assert encoder.encode(instance) == _protobuf_bytes(instance, 512, 3)


def test_parses_with_the_pretraining_feature_spec():
    instance = _Instance([2, 7, 3, 9, 3], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1], [3], [11], 0)
    encoded = example_encoder.ExampleEncoder(20, 8, 2).encode(instance)
    spec = dict((name, tf.io.FixedLenFeature([8], tf.int64))
                for name in ("input_ids", "input_mask", "segment_ids", "token_boundary"))
    spec.update(
        dict((name, tf.io.FixedLenFeature([2], tf.int64))
             for name in ("masked_lm_positions", "masked_lm_ids")))
    spec["masked_lm_weights"] = tf.io.FixedLenFeature([2], tf.float32)
    spec["next_sentence_labels"] = tf.io.FixedLenFeature([1], tf.int64)
    assert sorted(spec) == sorted(example_encoder.FEATURE_NAMES)
    with tf.Graph().as_default():
        parsed = tf.io.parse_single_example(encoded, spec)
        with tf.Session() as session:
            values = session.run(parsed)
    assert list(values["input_ids"]) == [2, 7, 3, 9, 3, 0, 0, 0]
    assert list(values["input_mask"]) == [1, 1, 1, 1, 1, 0, 0, 0]
    assert list(values["segment_ids"]) == [0, 0, 0, 1, 1, 0, 0, 0]
    assert list(values["masked_lm_positions"]) == [3, 0]
    assert list(values["masked_lm_ids"]) == [11, 0]
    assert list(values["masked_lm_weights"]) == [1.0, 0.0]
    assert list(values["next_sentence_labels"]) == [0]


def test_varint_matches_protobuf():
    from google.protobuf.internal import encoder  # pylint: disable=g-import-not-at-top
    for value in [0, 1, 127, 128, 255, 300, 16383, 16384, 2**21, 2**31 - 1, 2**35 + 7]:
        assert (example_encoder._varint(value) ==  # pylint: disable=protected-access
                encoder._VarintBytes(value))  # pylint: disable=protected-access


def test_names_stay_importable_from_create_pretraining_data():
    import create_pretraining_data  # pylint: disable=g-import-not-at-top
    assert create_pretraining_data.ExampleEncoder is example_encoder.ExampleEncoder
    assert create_pretraining_data.FEATURE_NAMES == example_encoder.FEATURE_NAMES
