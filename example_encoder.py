# coding=utf-8
"""The protobuf wire format of a pretraining `tf.train.Example`, written by hand.

What it is: `ExampleEncoder` turns one pretraining instance into the bytes of
the `tf.train.Example` that `create_pretraining_data.py` writes to its
TFRecords, without building protobuf objects (the protobuf Python API costs
more than generating the instance). Map entries are written in the order of
`FEATURE_NAMES`; each feature is a packed Int64List, except
masked_lm_weights, a packed FloatList. Sequence features are zero-padded to
max_seq_length, masked_lm_* features to max_predictions_per_seq.

Dependencies: the standard library only (no TensorFlow, no protobuf). An
instance is any object with the attributes input_ids, segment_ids,
token_boundary, masked_lm_positions, masked_lm_ids (lists of non-negative
ints; segment_ids and token_boundary hold 0/1) and label (0 or 1), such as
`create_pretraining_data.TrainingInstance`.

Tests: tests/test_example_encoder.py compares the bytes with protobuf's own
serialization (`tf.train.Example.SerializeToString()` of each one-feature
message, byte for byte, in `FEATURE_NAMES` order, because protobuf itself
writes map entries in hash order) and parses them back with
`tf.io.parse_single_example`, on both runtimes.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import struct

# The features of a record, in the order the encoder writes them.
FEATURE_NAMES = ("input_ids", "input_mask", "segment_ids", "token_boundary", "masked_lm_positions",
                 "masked_lm_ids", "masked_lm_weights", "next_sentence_labels")


def _varint(value):
    """Encodes a non-negative integer as a protobuf varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class ExampleEncoder(object):
    """Writes the wire format of a `tf.train.Example` directly.

    Building `tf.train.Example` protos through the Python protobuf API costs
    more than generating the instance; this encoder produces bytes that parse
    to the same Example (checked by the tests) from cached headers and varint
    tables. Features are written in the order of `FEATURE_NAMES`.
    """

    def __init__(self, max_value, max_seq_length, max_predictions_per_seq):
        """Creates the encoder.

        Args:
          max_value: the largest id to encode (vocabulary size - 1 or more).
          max_seq_length: padded length of the sequence features.
          max_predictions_per_seq: padded length of the masked_lm features.
        """
        self._table = [_varint(value) for value in range(max(max_value, max_seq_length) + 1)]
        self._seq = max_seq_length
        self._pred = max_predictions_per_seq
        # Values below 128 are one-byte varints equal to the value.
        self._small_positions = max_seq_length <= 128
        self._headers = {}
        self._zeros = [b"\x00" * n for n in range(max(max_seq_length, max_predictions_per_seq) + 1)]
        self._mask_entries = {}
        self._weight_entries = {}
        self._label_entries = [
            self._entry("next_sentence_labels", 3, bytes([label])) for label in (0, 1)
        ]

    def _entry(self, name, field, payload):
        """A Features map entry holding a packed list of values.

        Args:
          name: feature name.
          field: 2 for FloatList, 3 for Int64List.
          payload: the packed values.

        Returns:
          The encoded entry, as a field of `Features`.
        """
        header = self._headers.get((name, field, len(payload)))
        if header is None:
            key = name.encode("ascii")
            value_list = (b"\x0a" + _varint(len(payload))) if payload else b""
            feature_length = len(value_list) + len(payload)
            feature_head = bytes([field << 3 | 2]) + _varint(feature_length)
            entry_head = (b"\x0a" + _varint(len(key)) + key + b"\x12" +
                          _varint(len(feature_head) + feature_length))
            entry_length = len(entry_head) + len(feature_head) + len(value_list) + len(payload)
            header = (b"\x0a" + _varint(entry_length) + entry_head + feature_head + value_list)
            self._headers[(name, field, len(payload))] = header
        return header + payload

    def _padded_ids(self, values, length):
        """Packed varints of `values`, zero-padded to `length` values."""
        table = self._table
        return b"".join([table[value] for value in values]) + self._zeros[length - len(values)]

    def encode(self, instance):
        """Returns the serialized `tf.train.Example` of a `TrainingInstance`."""
        seq = self._seq
        pred = self._pred
        zeros = self._zeros
        length = len(instance.input_ids)
        num_predictions = len(instance.masked_lm_positions)
        mask_entry = self._mask_entries.get(length)
        if mask_entry is None:
            mask_entry = self._entry("input_mask", 3, b"\x01" * length + zeros[seq - length])
            self._mask_entries[length] = mask_entry
        weight_entry = self._weight_entries.get(num_predictions)
        if weight_entry is None:
            weights = [1.0] * num_predictions + [0.0] * (pred - num_predictions)
            weight_entry = self._entry("masked_lm_weights", 2, struct.pack("<%df" % pred, *weights))
            self._weight_entries[num_predictions] = weight_entry
        if self._small_positions:
            positions = (bytes(instance.masked_lm_positions) + zeros[pred - num_predictions])
        else:
            positions = self._padded_ids(instance.masked_lm_positions, pred)
        features = b"".join([
            self._entry("input_ids", 3, self._padded_ids(instance.input_ids, seq)),
            mask_entry,
            self._entry("segment_ids", 3,
                        bytes(instance.segment_ids) + zeros[seq - length]),
            self._entry("token_boundary", 3,
                        bytes(instance.token_boundary) + zeros[seq - length]),
            self._entry("masked_lm_positions", 3, positions),
            self._entry("masked_lm_ids", 3, self._padded_ids(instance.masked_lm_ids, pred)),
            weight_entry,
            self._label_entries[instance.label],
        ])
        return b"\x0a" + _varint(len(features)) + features
