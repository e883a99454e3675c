# coding=utf-8
"""Shows and checks the three changes ALBERT makes to BERT.

1. Factorised embedding: the [V, H] word table of BERT becomes a [V, E]
   table plus an [E, H] projection, i.e. V*E + E*H parameters instead of
   V*H. The script prints the saving for real configs and checks that the
   embedding variables ``modeling.AlbertModel`` creates have exactly that
   size.
2. Cross-layer parameter sharing: the ALBERT paper compares sharing
   everything, only the attention, only the FFN, or nothing. The script
   builds every mode with ``modeling.AlbertModel`` and checks the encoder
   parameter counts against an analytic formula, and that with everything
   shared the variables do not grow with the number of layers.
3. Sentence-order prediction (SOP): a positive is two consecutive segments
   of one document in order, a negative is the same two segments swapped.
   The pairs come from the project's own pretraining data generator
   (``create_pretraining_data.InstanceGenerator.create_instances``, the code
   that writes the pretraining TFRecords) run over a short built-in Chinese
   document, one seeded dupe pass per draw; the script checks those
   properties, the [CLS] A [SEP] B [SEP] layout and the label balance over
   many passes, so a generator that does not swap, inverts the labels or
   unbalances them fails here.

Only graphs are built; no variable is ever initialised and no session is run,
so even xxlarge costs nothing but graph construction.

Usage::

    python test_changes.py [--random_seed 12345] [--config_dir albert_config]
                           [--sop_draws 1000] [--quick]

Exit status: 0 when every check passes, 1 when any fails (each failure is
listed), 2 for bad arguments or unreadable configs.

Unlike brightmart's script of the same name, importing this module does
nothing: all work happens in ``main()``.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import collections
import io
import math
import os
import shutil
import sys
import tempfile

import create_pretraining_data
import modeling
from tf_compat import tf

DEFAULT_CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "albert_config")
DEFAULT_RANDOM_SEED = 12345
DEFAULT_SOP_DRAWS = 1000

# Section 1: real configs whose embedding parameters are shown and checked.
EMBEDDING_CONFIGS = (
    "albert_config_tiny.json",
    "albert_config_base.json",
    "albert_config_google_base_v2.json",
    "albert_config_xxlarge.json",
    "albert_config_google_xxlarge_zh.json",
    "albert_config_google_xxlarge_v2.json",
)
HEADLINE_CONFIG = "albert_config_google_xxlarge_v2.json"  # English vocab, V=30000.
HEADLINE_ZH_CONFIG = "albert_config_google_xxlarge_zh.json"  # Chinese vocab, V=21128.

# Section 2: (config file, label, paper numbers per sharing mode, paper source).
# The paper numbers are total parameters as the ALBERT paper reports them;
# they are printed as a sanity note only, the checks use the formula.
SHARING_MODELS = (
    ("albert_config_google_base_v2.json", "ALBERT-base (google layout, V=30000)", {
        "all": "12M",
        "attention": "64M",
        "ffn": "38M",
        "none": "89M"
    }, "ALBERT paper Table 4, ALBERT-base E=128"),
    ("albert_config_base.json", "ALBERT-base zh (brightmart layout, V=21128)", {}, None),
    ("albert_config_google_large_v2.json", "ALBERT-large (google layout, V=30000)", {
        "all": "18M"
    }, "ALBERT paper Table 1, ALBERT-large"),
)
GROWTH_CONFIG = "albert_config_google_base_v2.json"
GROWTH_LAYERS = (1, 2, 12, 24)
SHARING_DESCRIPTIONS = collections.OrderedDict((
    ("all", "attention + FFN shared"),
    ("attention", "attention shared, FFN per layer"),
    ("ffn", "FFN shared, attention per layer"),
    ("none", "nothing shared"),
))

# Section 3: a short document written for this script (one sentence a line).
SOP_DOCUMENT = (
    u"清晨六点，老城区的石板路上还看不到几个行人。",
    u"河边的早点铺最先亮起了灯，蒸笼里冒出一团团白气。",
    u"七点过后，骑自行车上班的人从各个巷口涌了出来。",
    u"到了中午，阳光把湖面照得发亮，游船一艘接一艘地离开码头。",
    u"傍晚忽然下起小雨，街边的店铺纷纷撑开了雨棚。",
    u"夜深以后，城市慢慢安静下来，只剩桥上的路灯还亮着。",
)
# Short enough that the six sentences fall into two chunks of three.
SOP_MAX_SEQ_LENGTH = 96
SOP_SHORT_SEQ_PROB = 0.1
SOP_DISPLAY_MAX_DRAWS = 100
SOP_LABEL_POSITIVE = 0  # A then B, in document order.
SOP_LABEL_NEGATIVE = 1  # B then A: the same two segments swapped.
# Tolerance of the label balance check, in standard deviations of a fair coin.
SOP_BALANCE_SIGMAS = 5.0
SOP_MIN_EXAMPLES_FOR_BALANCE = 100

# ---------------------------------------------------------------------------
# Recording checks.
# ---------------------------------------------------------------------------

CheckResult = collections.namedtuple("CheckResult", ["section", "name", "passed", "detail"])


class CheckRecorder(object):
    """Collects named pass/fail checks, grouped by section."""

    def __init__(self):
        self.results = []
        self.section = ""

    def check(self, name, passed, detail=""):
        """Records one check.

        Args:
          name: What is checked, in words.
          passed: Truthy when the check holds.
          detail: Explanation shown when the check fails.

        Returns:
          bool(passed).
        """
        passed = bool(passed)
        self.results.append(CheckResult(self.section, name, passed, detail))
        return passed

    def equal(self, name, actual, expected):
        """Records a check that ``actual == expected``.

        Args:
          name: What is compared.
          actual: The measured value.
          expected: The value it must have.

        Returns:
          True when they are equal.
        """
        return self.check(name, actual == expected,
                          "got %s, expected %s" % (_fmt(actual), _fmt(expected)))

    @property
    def passed(self):
        """The checks that held."""
        return [r for r in self.results if r.passed]

    @property
    def failed(self):
        """The checks that did not hold."""
        return [r for r in self.results if not r.passed]

    def section_summary(self, section):
        """(passed, total) for one section."""
        results = [r for r in self.results if r.section == section]
        return sum(1 for r in results if r.passed), len(results)


def _fmt(value):
    """Integers with thousands separators, anything else via str()."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return "{:,}".format(value)
    return str(value)


def format_table(headers, rows):
    """Renders rows as a plain-text table with right-aligned numbers.

    Args:
      headers: Column titles.
      rows: Lists of cells (converted with ``_fmt``).

    Returns:
      The table as one string.
    """
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [
        all(isinstance(row[i], int) for row in rows) if rows else False for i in range(len(headers))
    ]

    def render(row):
        parts = []
        for i, cell in enumerate(row):
            parts.append(cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    lines = [render(headers), "  ".join("-" * w for w in widths)]
    lines.extend(render(row) for row in cells)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Building models and reading their variables.
# ---------------------------------------------------------------------------


def build_variable_shapes(config, seq_length=4):
    """Builds ``modeling.AlbertModel`` in a fresh graph; no session is run.

    Args:
      config: modeling.AlbertConfig.
      seq_length: Static sequence length of the dummy input.

    Returns:
      (shapes, total): an OrderedDict of variable name -> shape (list of
      ints) for every variable the model created, and the total parameter
      count according to ``modeling.count_parameters``.
    """
    graph = tf.Graph()
    with graph.as_default():
        input_ids = tf.placeholder(tf.int32, [1, seq_length], name="input_ids")
        modeling.AlbertModel(config, is_training=False, input_ids=input_ids)
        variables = tf.global_variables()
        shapes = collections.OrderedDict((v.op.name, v.shape.as_list()) for v in variables)
        total = modeling.count_parameters(variables)
    return shapes, total


class ModelBuilder(object):
    """``build_variable_shapes`` with a cache keyed by the full config.

    The sections build some configs more than once (e.g. the all-shared base
    model); each distinct config is built only once.
    """

    def __init__(self):
        self._cache = {}
        self.num_builds = 0

    def __call__(self, config):
        """(shapes, total) of ``config``, see build_variable_shapes."""
        key = config.to_json_string()
        if key not in self._cache:
            self._cache[key] = build_variable_shapes(config)
            self.num_builds += 1
        shapes, total = self._cache[key]
        return collections.OrderedDict(shapes), total


def _size(shape):
    size = 1
    for dim in shape:
        size *= int(dim)
    return size


def params_of(shapes, predicate=lambda name: True):
    """Sum of the sizes of the variables whose name satisfies ``predicate``."""
    return sum(_size(shape) for name, shape in shapes.items() if predicate(name))


def is_word_embedding_variable(name):
    """Variables of the (factorised) word embedding, in both layouts.

    google: ``bert/embeddings/word_embeddings`` [V, E] and
    ``bert/encoder/embedding_hidden_mapping_in/{kernel,bias}`` [E, H], [H];
    brightmart: ``bert/embeddings/word_embeddings`` [V, E] and
    ``bert/embeddings/word_embeddings_2`` [E, H].
    """
    return (name.endswith("embeddings/word_embeddings") or
            name.endswith("embeddings/word_embeddings_2") or
            "/embedding_hidden_mapping_in/" in name)


def is_layer_variable(name):
    """Variables of the Transformer layers (not embeddings, mapping, pooler).

    google: ``bert/encoder/transformer/group_*/...``; brightmart:
    ``bert/encoder/layer_shared/...`` or ``bert/encoder/layer_{i}/...``.
    """
    return "/encoder/transformer/" in name or "/encoder/layer_" in name


def is_attention_variable(name):
    """Layer variables of the attention block, including its LayerNorm.

    google: ``.../attention_1/...`` and ``.../LayerNorm/...`` (not
    ``LayerNorm_1``, which follows the FFN); brightmart: ``.../attention/...``.
    """
    if not is_layer_variable(name):
        return False
    return ("/attention_1/" in name or "/attention/" in name or
            ("/inner_group_" in name and "/LayerNorm/" in name))


def is_ffn_variable(name):
    """Layer variables of the feed-forward block, including its LayerNorm."""
    return is_layer_variable(name) and not is_attention_variable(name)


# ---------------------------------------------------------------------------
# Independent arithmetic.
# ---------------------------------------------------------------------------


def bert_embedding_params(vocab_size, hidden_size):
    """Word-embedding parameters of BERT: one [V, H] table."""
    return vocab_size * hidden_size


def factorized_embedding_params(vocab_size, embedding_size, hidden_size):
    """Word-embedding parameters of ALBERT: [V, E] table + [E, H] projection."""
    return vocab_size * embedding_size + embedding_size * hidden_size


def expected_word_embedding_params(vocab_size, embedding_size, hidden_size, layout):
    """The word-embedding parameters a layout actually creates.

    Args:
      vocab_size: V.
      embedding_size: E.
      hidden_size: H.
      layout: "google" or "brightmart".

    Returns:
      google: V*E + E*H + H (the mapping has a bias), or V*H when E == H
      (no mapping at all); brightmart: V*E + E*H (projection without bias,
      present even when E == H).
    """
    if layout == "google":
        if embedding_size == hidden_size:
            return bert_embedding_params(vocab_size, hidden_size)
        return factorized_embedding_params(vocab_size, embedding_size, hidden_size) + hidden_size
    return factorized_embedding_params(vocab_size, embedding_size, hidden_size)


def layer_param_formula(hidden_size, intermediate_size):
    """Parameters of one Transformer layer, split into its two blocks.

    Args:
      hidden_size: H.
      intermediate_size: I.

    Returns:
      (attention, ffn): attention = Q, K, V and output projections with
      biases, 4*(H*H + H), plus its LayerNorm 2H; ffn = H*I + I + I*H + H plus
      its LayerNorm 2H.
    """
    h, i = hidden_size, intermediate_size
    attention = 4 * (h * h + h) + 2 * h
    ffn = h * i + i + i * h + h + 2 * h
    return attention, ffn


def expected_layer_params(sharing_mode, num_layers, hidden_size, intermediate_size, num_groups=1,
                          inner_group_num=1):
    """Transformer-layer parameters of a sharing mode, from the formula.

    A shared block exists once per group, an unshared one once per layer;
    Google's inner groups multiply both.

    Args:
      sharing_mode: "all", "attention", "ffn" or "none".
      num_layers: L.
      hidden_size: H.
      intermediate_size: I.
      num_groups: num_hidden_groups.
      inner_group_num: blocks per layer with their own variables (google).

    Returns:
      The parameter count of all Transformer layers.

    Raises:
      ValueError: for an unknown sharing mode.
    """
    attention, ffn = layer_param_formula(hidden_size, intermediate_size)
    copies = {
        "all": (num_groups, num_groups),
        "attention": (num_groups, num_layers),
        "ffn": (num_layers, num_groups),
        "none": (num_layers, num_layers),
    }
    if sharing_mode not in copies:
        raise ValueError("unknown sharing mode %r" % (sharing_mode,))
    attention_copies, ffn_copies = copies[sharing_mode]
    return inner_group_num * (attention_copies * attention + ffn_copies * ffn)


# ---------------------------------------------------------------------------
# Section checks (usable without flags).
# ---------------------------------------------------------------------------


def check_factorized_embedding(recorder, name, config, shapes, bert_style_shapes):
    """Checks the embedding variables of one built config.

    Args:
      recorder: CheckRecorder.
      name: Label for the check names (e.g. the config file).
      config: The modeling.AlbertConfig that was built.
      shapes: Variable shapes of the model built from ``config``.
      bert_style_shapes: Variable shapes of the same model built with
        ``embedding_size == hidden_size`` in the google layout.

    Returns:
      True when every check passed.
    """
    v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
    layout = config.resolved_embedding_layout
    ok = recorder.equal(
        "%s: word-embedding params built == V*E+E*H%s" %
        (name, " (+H bias)" if layout == "google" else ""),
        params_of(shapes, is_word_embedding_variable),
        expected_word_embedding_params(v, e, h, layout))
    ok &= recorder.equal("%s: word table shape is [V, E]" % name,
                         shapes.get("bert/embeddings/word_embeddings"), [v, e])
    ok &= recorder.equal("%s with E=H: word-embedding params built == V*H" % name,
                         params_of(bert_style_shapes, is_word_embedding_variable),
                         bert_embedding_params(v, h))
    return ok


def check_sharing_mode(recorder, name, config, shapes):
    """Checks the Transformer-layer parameters of one built sharing mode.

    Args:
      recorder: CheckRecorder.
      name: Label for the check names.
      config: The modeling.AlbertConfig that was built (its sharing_mode).
      shapes: Variable shapes of the model built from ``config``.

    Returns:
      True when the built layer parameters equal the formula.
    """
    expected = expected_layer_params(
        config.sharing_mode, config.num_hidden_layers, config.hidden_size, config.intermediate_size,
        config.num_hidden_groups,
        config.inner_group_num if config.resolved_embedding_layout == "google" else 1)
    return recorder.equal(
        "%s, sharing %s: layer params built == formula" % (name, config.sharing_mode),
        params_of(shapes, is_layer_variable), expected)


# ---------------------------------------------------------------------------
# Sentence-order prediction.
# ---------------------------------------------------------------------------

SopExample = collections.namedtuple("SopExample",
                                    ["tokens_a", "tokens_b", "label", "span_a", "span_b"])
SopExample.__doc__ = """One SOP pair.

tokens_a, tokens_b: the two segments as the model sees them (first, second).
label: 0 (A precedes B in the document) or 1 (swapped: B precedes A).
span_a, span_b: (start, end) token offsets of each segment in the document.
"""


def char_tokenize(text):
    """Splits text into characters, dropping whitespace (a stand-in tokenizer)."""
    return [ch for ch in text if not ch.isspace()]


def document_tokens(sentences):
    """The document as one token list and the start offset of each sentence.

    Args:
      sentences: The document, one sentence per item.

    Returns:
      (tokens, offsets): all tokens in order, and offsets[i] = index of the
      first token of sentence i.
    """
    tokens, offsets = [], []
    for sentence in sentences:
        offsets.append(len(tokens))
        tokens.extend(char_tokenize(sentence))
    return tokens, offsets


def sop_vocab_tokens(sentences):
    """A WordPiece vocabulary for a document: the specials and its characters.

    Every non-space character of the document is one token, so the
    generator's tokens are the document's characters (``char_tokenize``).
    """
    chars = sorted(set(char_tokenize(u"".join(sentences))))
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars


def make_sop_generator(sentences, seed, max_seq_length=SOP_MAX_SEQ_LENGTH,
                       short_seq_prob=SOP_SHORT_SEQ_PROB):
    """The pretraining data generator of create_pretraining_data.py, for SOP.

    ``create_pretraining_data.InstanceGenerator`` with the script's defaults
    (Chinese mode: jieba word starts, whole-word n-gram masking; sentence
    order, not NSP), the given seed and lengths, and a vocabulary of the
    document's characters (``sop_vocab_tokens``), written to a temporary
    directory that is removed once the tokenizer has read it.

    Args:
      sentences: The document, one sentence per item (one line each).
      seed: --random_seed of the generator.
      max_seq_length: Length of [CLS] A [SEP] B [SEP].
      short_seq_prob: Probability of a shorter target length.

    Returns:
      (generator, unit): the InstanceGenerator and the document as its
      prepared unit (unit index 0).
    """
    directory = tempfile.mkdtemp(prefix="test_changes_")
    try:
        vocab_file = os.path.join(directory, "vocab.txt")
        with io.open(vocab_file, "w", encoding="utf-8", newline="\n") as writer:
            writer.write(u"".join(token + u"\n" for token in sop_vocab_tokens(sentences)))
        options = create_pretraining_data.make_options(vocab_file=vocab_file,
                                                       max_seq_length=max_seq_length,
                                                       short_seq_prob=short_seq_prob,
                                                       random_seed=seed, dupe_factor=1)
        generator = create_pretraining_data.InstanceGenerator(options)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    unit = generator.prepare_unit([s for s in sentences if s.strip()], 0)
    return generator, unit


def _occurrences(document, segment):
    """Start offsets of ``segment`` (a token list) in ``document``."""
    size = len(segment)
    if not size:
        return []
    return [
        start for start in range(len(document) - size + 1)
        if document[start:start + size] == segment
    ]


def locate_segments(tokens_a, tokens_b, label, document):
    """Where A and B are in the document's tokens.

    A short segment can occur several times (e.g. a lone "。"); the spans
    taken are, in this order of preference: adjacent in the order the label
    claims (A then B for 0, B then A for 1), adjacent in the other order,
    the first occurrences. A segment not in the document gets (-1, -1).

    Args:
      tokens_a, tokens_b: The two segments as the model sees them.
      label: The SOP label of the pair.
      document: The document's tokens (``document_tokens``).

    Returns:
      (span_a, span_b), each (start, end).
    """
    tokens_a, tokens_b = list(tokens_a), list(tokens_b)
    starts_a = _occurrences(document, tokens_a)
    starts_b = _occurrences(document, tokens_b)
    if not starts_a or not starts_b:
        span_a = (starts_a[0], starts_a[0] + len(tokens_a)) if starts_a else (-1, -1)
        span_b = (starts_b[0], starts_b[0] + len(tokens_b)) if starts_b else (-1, -1)
        return span_a, span_b
    a_then_b = [(a, b) for a in starts_a for b in starts_b if a + len(tokens_a) == b]
    b_then_a = [(a, b) for a in starts_a for b in starts_b if b + len(tokens_b) == a]
    preferred = (b_then_a + a_then_b if label == SOP_LABEL_NEGATIVE else a_then_b + b_then_a)
    a, b = (preferred or [(starts_a[0], starts_b[0])])[0]
    return (a, a + len(tokens_a)), (b, b + len(tokens_b))


def split_instance(generator, instance):
    """The tokens of A and B of a generated instance, and layout problems.

    A is segment 0 between [CLS] and the first [SEP], B segment 1 before the
    last [SEP]; the token ids are those before masking.

    Args:
      generator: The InstanceGenerator that made the instance.
      instance: A create_pretraining_data.TrainingInstance.

    Returns:
      (tokens_a, tokens_b, problems): problems lists every way the instance
      is not [CLS] A [SEP] B [SEP] with segment ids 0 up to the first [SEP]
      and 1 after it, within max_seq_length tokens.
    """
    tokens = generator.tokenizer.convert_ids_to_tokens(instance.original_ids)
    segment_ids = list(instance.segment_ids)
    len_a = segment_ids.count(0) - 2
    tokens_a, tokens_b = tokens[1:1 + len_a], tokens[len_a + 2:-1]
    problems = []
    if len(tokens) > generator.options.max_seq_length:
        problems.append("%d tokens, more than max_seq_length %d" %
                        (len(tokens), generator.options.max_seq_length))
    if segment_ids != [0] * (len_a + 2) + [1] * (len(tokens_b) + 1):
        problems.append("segment ids are not 0 up to the first [SEP], then 1")
    if (tokens[:1] != ["[CLS]"] or tokens[len_a + 1:len_a + 2] != ["[SEP]"] or
            tokens[-1:] != ["[SEP]"] or "[CLS]" in tokens[1:] or tokens.count("[SEP]") != 2):
        problems.append("tokens are not [CLS] A [SEP] B [SEP]")
    return tokens_a, tokens_b, problems


def sop_examples(generator, instances, sentences):
    """The SopExamples of generated instances and their layout problems.

    Args:
      generator: The InstanceGenerator that made the instances.
      instances: create_pretraining_data.TrainingInstances.
      sentences: The document they were made from.

    Returns:
      (examples, layout_problems): one SopExample per instance, its spans
      found in the document (``locate_segments``), and the problems
      ``split_instance`` reports, for all instances together.
    """
    document, _ = document_tokens(sentences)
    examples, layout_problems = [], []
    for instance in instances:
        tokens_a, tokens_b, problems = split_instance(generator, instance)
        layout_problems.extend(problems)
        span_a, span_b = locate_segments(tokens_a, tokens_b, instance.label, document)
        examples.append(SopExample(tokens_a, tokens_b, instance.label, span_a, span_b))
    return examples, layout_problems


def instance_key(instance):
    """Everything the records hold of an instance, comparable with ==."""
    return (tuple(instance.original_ids), tuple(instance.input_ids), tuple(instance.segment_ids),
            tuple(instance.token_boundary), tuple(instance.masked_lm_positions), instance.label)


def generate_sop_instances(sentences, seed, draws, **kwargs):
    """Runs the generator's SOP instance creation over the document.

    One draw is one dupe pass: ``InstanceGenerator.create_instances(unit,
    pass_index)`` for pass_index 0 .. draws - 1, each pass seeded by (seed,
    pass, unit) as in create_pretraining_data.py.

    Args:
      sentences: The document.
      seed: --random_seed of the generator.
      draws: Number of passes.
      **kwargs: max_seq_length, short_seq_prob (see make_sop_generator).

    Returns:
      (generator, instances): the instances of all passes, pass by pass.
    """
    generator, unit = make_sop_generator(sentences, seed, **kwargs)
    instances = []
    for pass_index in range(draws):
        instances.extend(generator.create_instances(unit, pass_index)[0])
    return generator, instances


def swap_segments(example):
    """The same pair with A and B exchanged and the label flipped."""
    return SopExample(example.tokens_b, example.tokens_a, 1 - example.label, example.span_b,
                      example.span_a)


def sop_model_input(example):
    """[CLS] A [SEP] B [SEP] and its segment ids (0 up to the first [SEP])."""
    tokens = ["[CLS]"] + list(example.tokens_a) + ["[SEP]"] + list(example.tokens_b) + ["[SEP]"]
    segment_ids = [0] * (len(example.tokens_a) + 2) + [1] * (len(example.tokens_b) + 1)
    return tokens, segment_ids


def sop_example_problems(example, sentences):
    """Everything wrong with an SOP pair, checked against its document.

    Args:
      example: SopExample.
      sentences: The document it was made from.

    Returns:
      A list of problem descriptions; empty for a valid pair.
    """
    tokens, _ = document_tokens(sentences)
    problems = []
    if example.label not in (SOP_LABEL_POSITIVE, SOP_LABEL_NEGATIVE):
        problems.append("label %r is neither 0 nor 1" % (example.label,))
    if not example.tokens_a or not example.tokens_b:
        problems.append("a segment is empty")
    if list(example.tokens_a) == list(example.tokens_b):
        problems.append("A and B are equal")
    for seg_name, seg_tokens, (start, end) in (("A", example.tokens_a, example.span_a),
                                               ("B", example.tokens_b, example.span_b)):
        if not 0 <= start < end <= len(tokens) or tokens[start:end] != list(seg_tokens):
            problems.append("%s is not the document's tokens %d..%d" % (seg_name, start, end))
    if example.label == SOP_LABEL_POSITIVE and example.span_a[1] != example.span_b[0]:
        problems.append("label 0 but B does not directly follow A in the document")
    if example.label == SOP_LABEL_NEGATIVE and example.span_b[1] != example.span_a[0]:
        problems.append("label 1 but A does not directly follow B in the document")
    return problems


def is_swap_of_positive(example, sentences):
    """True when ``example`` is a negative whose swap is a valid positive."""
    if example.label != SOP_LABEL_NEGATIVE:
        return False
    return not sop_example_problems(swap_segments(example), sentences)


def draw_sop_examples(sentences, seed, draws, **kwargs):
    """SopExamples of ``draws`` generator passes (see generate_sop_instances)."""
    generator, instances = generate_sop_instances(sentences, seed, draws, **kwargs)
    return sop_examples(generator, instances, sentences)[0]


def find_positive_and_its_swap(sentences, seed, max_draws):
    """Runs generator passes until one positive and its own swap both occur.

    Args:
      sentences: The document.
      seed: --random_seed of the generator.
      max_draws: How many passes to try at most.

    Returns:
      (positive, negative) with negative == swap_segments(positive), or None.
    """
    generator, unit = make_sop_generator(sentences, seed)
    seen = {}
    for pass_index in range(max_draws):
        instances = generator.create_instances(unit, pass_index)[0]
        for example in sop_examples(generator, instances, sentences)[0]:
            positive = example if example.label == SOP_LABEL_POSITIVE else swap_segments(example)
            by_label = seen.setdefault((positive.span_a, positive.span_b), {})
            by_label.setdefault(example.label, example)
            if len(by_label) == 2:
                return by_label[SOP_LABEL_POSITIVE], by_label[SOP_LABEL_NEGATIVE]
    return None


def label_balance_ok(num_negative, num_examples, sigmas=SOP_BALANCE_SIGMAS):
    """Whether a label-1 count is consistent with a fair coin.

    Args:
      num_negative: How many examples have label 1.
      num_examples: How many examples there are.
      sigmas: Allowed deviation in standard deviations of Binomial(n, 0.5).

    Returns:
      (ok, tolerance): ok when |fraction - 0.5| <= tolerance.
    """
    if num_examples <= 0:
        return False, 0.0
    tolerance = sigmas * 0.5 / math.sqrt(num_examples)
    return abs(num_negative / float(num_examples) - 0.5) <= tolerance, tolerance


# ---------------------------------------------------------------------------
# The three sections.
# ---------------------------------------------------------------------------


def _load_config(config_dir, file_name):
    return modeling.AlbertConfig.from_json_file(os.path.join(config_dir, file_name))


def run_embedding_section(recorder, config_dir, build):
    """Section 1: the factorised embedding.

    Args:
      recorder: CheckRecorder.
      config_dir: Directory of the config files.
      build: Callable config -> (shapes, total), e.g. a ModelBuilder.
    """
    recorder.section = "1"
    print("=" * 78)
    print("1. Factorised embedding: V*H (BERT) -> V*E + E*H (ALBERT)")
    print("=" * 78)
    rows = []
    for file_name in EMBEDDING_CONFIGS:
        config = _load_config(config_dir, file_name)
        v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
        shapes, _ = build(config)
        # The encoder depth does not change the embeddings: one layer is enough.
        bert_style = config.copy(embedding_size=h, embedding_layout="google", num_hidden_layers=1,
                                 num_hidden_groups=1)
        bert_shapes, _ = build(bert_style)
        ok = check_factorized_embedding(recorder, file_name, config, shapes, bert_shapes)
        bert = bert_embedding_params(v, h)
        albert = factorized_embedding_params(v, e, h)
        rows.append([
            file_name, config.resolved_embedding_layout, v, e, h, bert, albert,
            "%.1fx" % (bert / float(albert)),
            params_of(shapes, is_word_embedding_variable),
            params_of(bert_shapes, is_word_embedding_variable), "ok" if ok else "FAIL"
        ])
    print(
        format_table([
            "config", "layout", "V", "E", "H", "V*H (BERT)", "V*E+E*H (ALBERT)", "saving", "built",
            "built E=H", "check"
        ], rows))
    print("built: word-embedding variables modeling.AlbertModel created (google adds the")
    print("  H bias of embedding_hidden_mapping_in; brightmart's word_embeddings_2 has none).")
    print("built E=H: the same config with embedding_size = hidden_size (google layout,")
    print("  built with one layer): one [V, H] table, no mapping, exactly BERT's V*H.")
    print()
    for file_name, label in ((HEADLINE_CONFIG, "English vocab"), (HEADLINE_ZH_CONFIG,
                                                                  "Chinese vocab")):
        config = _load_config(config_dir, file_name)
        v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
        bert = bert_embedding_params(v, h)
        albert = factorized_embedding_params(v, e, h)
        print("xxlarge, %s (V=%s, E=%d, H=%d): V*H = %s versus V*E+E*H = %s, "
              "%.1fx fewer (%.1f%% saved)" %
              (label, _fmt(v), e, h, _fmt(bert), _fmt(albert), bert / float(albert), 100.0 *
               (1 - albert / float(bert))))
    passed, total = recorder.section_summary("1")
    print("Section 1: %d of %d checks passed." % (passed, total))
    print()


def run_sharing_section(recorder, config_dir, build, quick):
    """Section 2: cross-layer parameter sharing.

    Args:
      recorder: CheckRecorder.
      config_dir: Directory of the config files.
      build: Callable config -> (shapes, total), e.g. a ModelBuilder.
      quick: Skip models with more than 12 layers.
    """
    recorder.section = "2"
    print("=" * 78)
    print("2. Cross-layer parameter sharing")
    print("=" * 78)
    for file_name, label, paper, paper_source in SHARING_MODELS:
        base = _load_config(config_dir, file_name)
        if quick and base.num_hidden_layers > 12:
            print("%s (%s): skipped (--quick)." % (label, file_name))
            print()
            continue
        h, i = base.hidden_size, base.intermediate_size
        num_layers, num_groups = base.num_hidden_layers, base.num_hidden_groups
        attention, ffn = layer_param_formula(h, i)
        print("%s: %s, L=%d, H=%d, I=%d, E=%d, groups=%d" %
              (label, file_name, num_layers, h, i, base.embedding_size, num_groups))
        print("  formula per layer: attention 4*(H*H+H) + 2H = %s, FFN H*I+I+I*H+H + 2H = %s" %
              (_fmt(attention), _fmt(ffn)))
        rows = []
        built = {}
        rest = set()
        for mode, description in SHARING_DESCRIPTIONS.items():
            config = base.copy(sharing_mode=mode)
            shapes, total = build(config)
            built[mode] = shapes
            ok = check_sharing_mode(recorder, file_name, config, shapes)
            ok &= recorder.equal(
                "%s, sharing %s: count_parameters == sum of shapes" % (file_name, mode), total,
                params_of(shapes))
            layers = params_of(shapes, is_layer_variable)
            rest.add(total - layers)
            rows.append([
                mode, description, layers,
                expected_layer_params(mode, num_layers, h, i, num_groups), total,
                "%.1fM" % (total / 1e6),
                paper.get(mode, "-"), "ok" if ok else "FAIL"
            ])
        print(
            format_table([
                "sharing", "what is shared", "layer params (built)", "formula", "total params",
                "total", "paper", "check"
            ], rows))
        if paper_source:
            print("  paper: %s (total parameters; a sanity note, not a check)." % paper_source)
        # One attention block and one FFN block as built (all-shared, per group).
        block_attention = params_of(built["all"], is_attention_variable) // num_groups
        block_ffn = params_of(built["all"], is_ffn_variable) // num_groups
        recorder.equal("%s: shared attention block built == formula" % file_name, block_attention,
                       attention)
        recorder.equal("%s: shared FFN block built == formula" % file_name, block_ffn, ffn)
        layers_of = {m: params_of(s, is_layer_variable) for m, s in built.items()}
        recorder.equal("%s: none == L x (one all-shared layer)" % file_name, layers_of["none"],
                       num_layers * (block_attention + block_ffn))
        recorder.equal("%s: attention-shared == shared attention + L x FFN" % file_name,
                       layers_of["attention"],
                       num_groups * block_attention + num_layers * block_ffn)
        recorder.equal("%s: FFN-shared == L x attention + shared FFN" % file_name, layers_of["ffn"],
                       num_layers * block_attention + num_groups * block_ffn)
        recorder.check("%s: embeddings + pooler identical in every mode" % file_name,
                       len(rest) == 1, "non-layer params differ: %s" % sorted(rest))
        print()

    base = _load_config(config_dir, GROWTH_CONFIG)
    layer_counts = [n for n in GROWTH_LAYERS if not (quick and n > 12)]
    print("Does sharing really share? %s with num_hidden_layers varied:" % GROWTH_CONFIG)
    rows = []
    all_stats, none_stats = [], []
    for num_layers in layer_counts:
        stats = []
        for mode in ("all", "none"):
            shapes, total = build(base.copy(num_hidden_layers=num_layers, sharing_mode=mode))
            layer_vars = sum(1 for name in shapes if is_layer_variable(name))
            stats.append((len(shapes), layer_vars, total))
        all_stats.append(stats[0])
        none_stats.append(stats[1])
        rows.append([num_layers, stats[0][0], stats[0][2], stats[1][0], stats[1][2]])
    print(
        format_table(["L", "all: variables", "all: params", "none: variables", "none: params"],
                     rows))
    recorder.check(
        "sharing all: variable count does not grow with L (L=%s)" %
        ",".join(str(n) for n in layer_counts),
        len(set(s[0] for s in all_stats)) == 1, "variable counts %s" % [s[0] for s in all_stats])
    recorder.check("sharing all: parameter count does not grow with L",
                   len(set(s[2] for s in all_stats)) == 1,
                   "parameter counts %s" % [s[2] for s in all_stats])
    per_layer_vars = all_stats[0][1]
    recorder.check(
        "sharing none: layer variables == L x one layer's variables",
        all(s[1] == n * per_layer_vars for s, n in zip(none_stats, layer_counts)),
        "layer variables %s for L=%s, one layer has %d" %
        ([s[1] for s in none_stats], layer_counts, per_layer_vars))
    passed, total = recorder.section_summary("2")
    print("Section 2: %d of %d checks passed." % (passed, total))
    print()


def _span_sentences(span, offsets, num_tokens):
    """1-based sentence numbers a token span touches, e.g. "2-3"."""
    bounds = list(offsets) + [num_tokens]
    touched = [
        i + 1 for i in range(len(offsets)) if bounds[i] < span[1] and span[0] < bounds[i + 1]
    ]
    if not touched:
        return "?"
    whole = bounds[touched[0] - 1] == span[0] and bounds[touched[-1]] == span[1]
    text = "%d" % touched[0] if len(touched) == 1 else "%d-%d" % (touched[0], touched[-1])
    return ("sentences " if len(touched) > 1 else "sentence ") + text + ("" if whole else " (part)")


def _print_sop_example(title, example, offsets, num_tokens):
    tokens, segment_ids = sop_model_input(example)
    print(title)
    print(u"  A = %s: %s" %
          (_span_sentences(example.span_a, offsets, num_tokens), "".join(example.tokens_a)))
    print(u"  B = %s: %s" %
          (_span_sentences(example.span_b, offsets, num_tokens), "".join(example.tokens_b)))
    print(u"  input: %s ... (%d tokens: [CLS] + %d A + [SEP] + %d B + [SEP])" %
          (" ".join(tokens[:8]), len(tokens), len(example.tokens_a), len(example.tokens_b)))
    print("  segment_ids: 0 x %d, then 1 x %d" % (segment_ids.count(0), segment_ids.count(1)))


def run_sop_section(recorder, seed, draws):
    """Section 3: sentence-order prediction.

    Args:
      recorder: CheckRecorder.
      seed: --random_seed of the pretraining data generator.
      draws: How many generator passes run over the document.
    """
    recorder.section = "3"
    print("=" * 78)
    print("3. Sentence-order prediction (SOP), random_seed=%d" % seed)
    print("=" * 78)
    sentences = SOP_DOCUMENT
    tokens, offsets = document_tokens(sentences)
    print("Document (%d sentences, %d characters; per-character tokens):" %
          (len(sentences), len(tokens)))
    for number, sentence in enumerate(sentences, 1):
        print(u"  %d. %s" % (number, sentence))
    print()

    print("Pairs made by create_pretraining_data.InstanceGenerator.create_instances "
          "(max_seq_length=%d)," % SOP_MAX_SEQ_LENGTH)
    print("one dupe pass over the document per draw.")
    print()

    pair = find_positive_and_its_swap(sentences, seed, SOP_DISPLAY_MAX_DRAWS)
    if recorder.check(
            "a positive and its swapped negative are both drawn within %d draws" %
            SOP_DISPLAY_MAX_DRAWS, pair is not None):
        positive, negative = pair
        _print_sop_example("Positive (label 0): A then B, as in the document", positive, offsets,
                           len(tokens))
        _print_sop_example("Negative (label 1): the same two consecutive segments, swapped",
                           negative, offsets, len(tokens))
        recorder.check("the shown positive is valid", not sop_example_problems(positive, sentences),
                       "; ".join(sop_example_problems(positive, sentences)))
        recorder.check(
            "the shown negative is exactly the swap of the shown positive",
            negative == swap_segments(positive) and is_swap_of_positive(negative, sentences))
    print("Negatives never come from another document (unlike NSP); a chunk of one sentence "
          "is cut")
    print("inside the sentence rather than paired with itself, so A == B cannot occur.")
    print()

    generator, instances = generate_sop_instances(sentences, seed, draws)
    examples, layout_problems = sop_examples(generator, instances, sentences)
    negatives = [ex for ex in examples if ex.label == SOP_LABEL_NEGATIVE]
    num_negative = len(negatives)
    invalid = [(ex, sop_example_problems(ex, sentences)) for ex in examples]
    invalid = [(ex, p) for ex, p in invalid if p]
    equal_pairs = [ex for ex in examples if list(ex.tokens_a) == list(ex.tokens_b)]
    not_swaps = [ex for ex in negatives if not is_swap_of_positive(ex, sentences)]
    within_sentence = sum(
        1 for ex in examples if "part" in _span_sentences(ex.span_a, offsets, len(tokens)))
    balance_ok, tolerance = label_balance_ok(num_negative, len(examples))
    fraction = num_negative / float(len(examples)) if examples else float("nan")
    print("%d seeded draws -> %d pairs (%d cut inside a sentence): label 0 x %d, label 1 x %d" %
          (draws, len(examples), within_sentence, len(examples) - num_negative, num_negative))
    print("label 1 fraction %.3f (expected 0.5 +- %.3f, %g sigma)" %
          (fraction, tolerance, SOP_BALANCE_SIGMAS))

    recorder.check(
        "every pair: both segments from the document, consecutive, label matches "
        "the order", not invalid,
        "%d invalid, first: %s" % (len(invalid), invalid[0][1] if invalid else ""))
    recorder.check("A and B are never equal", not equal_pairs,
                   "%d pairs with A == B" % len(equal_pairs))
    recorder.check("every negative is exactly the swap of a positive", not not_swaps,
                   "%d negatives are not swaps" % len(not_swaps))
    recorder.check(
        "input is [CLS] A [SEP] B [SEP] within %d tokens" % SOP_MAX_SEQ_LENGTH, not layout_problems,
        "%d problems, first: %s" %
        (len(layout_problems), layout_problems[0] if layout_problems else ""))
    recorder.check("both labels occur", 0 < num_negative < len(examples),
                   "label 1 x %d of %d" % (num_negative, len(examples)))
    recorder.check("enough pairs for the balance check (>= %d)" % SOP_MIN_EXAMPLES_FOR_BALANCE,
                   len(examples) >= SOP_MIN_EXAMPLES_FOR_BALANCE,
                   "only %d pairs; raise --sop_draws" % len(examples))
    recorder.check("labels are balanced (about half are 1)", balance_ok,
                   "label 1 fraction %.3f, tolerance %.3f" % (fraction, tolerance))
    again = generate_sop_instances(sentences, seed, draws)[1]
    recorder.check("same seed, same pairs",
                   [instance_key(i) for i in again] == [instance_key(i) for i in instances])
    passed, total = recorder.section_summary("3")
    print("Section 3: %d of %d checks passed." % (passed, total))
    print()


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %d" % value)
    return value


def parse_args(argv=None):
    """Parses the command line (unknown flags are an error).

    Args:
      argv: Arguments without the program name; None reads sys.argv.

    Returns:
      An argparse.Namespace.
    """
    parser = argparse.ArgumentParser(
        prog="test_changes.py",
        description=("Show and check the three changes ALBERT makes to BERT: the factorised "
                     "embedding, cross-layer parameter sharing and sentence-order prediction. "
                     "Builds graphs only (no session, no variable initialisation). Exit status "
                     "0 when every check passes, 1 when any fails, 2 for bad arguments or "
                     "unreadable configs."))
    parser.add_argument(
        "--random_seed", type=int, default=DEFAULT_RANDOM_SEED,
        help="--random_seed of the pretraining data generator that makes the "
        "sentence-order pairs (default: %(default)s).")
    parser.add_argument(
        "--config_dir", default=DEFAULT_CONFIG_DIR,
        help="Directory holding the albert_config_*.json files "
        "(default: albert_config next to this script).")
    parser.add_argument(
        "--sop_draws", type=_positive_int, default=DEFAULT_SOP_DRAWS,
        help="How many passes of the pretraining data generator run over the built-in "
        "document for the SOP checks (default: %(default)s).")
    parser.add_argument(
        "--quick", action="store_true",
        help="Skip the 24-layer builds (ALBERT-large sharing table and L=24 in the "
        "growth table).")
    return parser.parse_args(argv)


def _make_stdout_safe():
    """Keeps printing Chinese from crashing on a non-UTF-8 stdout."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    if encoding not in ("utf8", "utf16", "utf32", "gb18030") and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")


def main(argv=None):
    """Runs the three sections and returns the exit status.

    Args:
      argv: Arguments without the program name; None reads sys.argv.

    Returns:
      0 when every check passed, 1 when any failed, 2 for unusable configs.
    """
    args = parse_args(argv)
    _make_stdout_safe()
    tf.logging.set_verbosity(tf.logging.ERROR)
    missing = sorted(
        set(name for name in EMBEDDING_CONFIGS + (GROWTH_CONFIG,) +
            tuple(m[0] for m in SHARING_MODELS)
            if not os.path.isfile(os.path.join(args.config_dir, name))))
    if missing:
        print(
            "test_changes.py: error: %s: missing config file(s): %s" %
            (args.config_dir, ", ".join(missing)), file=sys.stderr)
        return 2
    recorder = CheckRecorder()
    build = ModelBuilder()
    try:
        run_embedding_section(recorder, args.config_dir, build)
        run_sharing_section(recorder, args.config_dir, build, args.quick)
    except modeling.ConfigError as e:
        print("test_changes.py: error: %s" % e, file=sys.stderr)
        return 2
    run_sop_section(recorder, args.random_seed, args.sop_draws)
    sys.stdout.flush()
    if recorder.failed:
        print("FAILED: %d of %d checks failed:" % (len(recorder.failed), len(recorder.results)))
        for result in recorder.failed:
            print("  [section %s] %s: %s" % (result.section, result.name, result.detail))
        return 1
    print("All 3 ALBERT changes checked: %d checks passed." % len(recorder.passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
