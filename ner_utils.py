# coding=utf-8
"""Named-entity recognition (sequence labelling): data, features, heads, metrics.

Everything ``run_ner.py`` needs, without flags, so that tests can call each
piece directly:

* Reading (:func:`read_examples`, format found by :func:`detect_format`):

  - ``conll``: one token and its tag per line, columns separated by spaces or
    tabs (token first, tag last, other columns kept), a blank line between
    sentences; ``-DOCSTART-`` lines are skipped (and kept for writing). The
    People's Daily / MSRA releases, CoNLL-2003, the ``.bmes`` files.
  - ``tsv``: the Chinese benchmark toolkits' ``text_a<TAB>label`` files, one
    sentence per line, tokens and tags separated by spaces.
  - ``cluener``: CLUENER2020 JSON lines ``{"text": ..., "label": {type:
    {entity_text: [[start, end], ...]}}}`` (end inclusive); test files have
    no ``label``; ``id`` is kept.

  Every problem is a :class:`DataError` whose message is one line
  ``file:line: problem``.
* Tag schemes BIO (IOB2), IOB1 and BIOES (also written IOBES, BMES with M for
  inside, BILOU with L/U for end/single): :func:`tags_to_spans`,
  :func:`spans_to_tags`, :func:`convert_tags`, :func:`detect_scheme`. Lenient
  parsing follows seqeval's default rules; strict parsing rejects an inside
  or end tag that does not continue an entity of its type.
* Writing (:func:`write_predictions`) in the input's own format; writing a
  file back with its own tags reproduces it byte for byte.
* Features (:func:`convert_examples_to_features`): each token is mapped to
  its WordPiece / SentencePiece sub-tokens with ``squad_features``' exact
  character alignment; the tag goes on a token's first sub-token; long
  sentences become overlapping windows whose predictions
  :func:`merge_window_predictions` puts back together, one per token.
* Model (:func:`create_model`, :func:`model_fn_builder`,
  :func:`export_saved_model`): a dense layer over the sequence output
  (``output_weights`` [num_labels, H], ``output_bias`` [num_labels]) with a
  softmax or a linear-chain CRF (``crf/transitions``) written in plain
  TensorFlow ops.
* Metrics (:func:`entity_metrics`, :func:`token_accuracy`) with seqeval's
  conventions: an entity counts only with its type and both boundaries right.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import io
import json
import re

import numpy as np
import six

import classifier_tasks
import classifier_utils
import driver_utils
import modeling
import script_utils
import squad_features
import tokenization
from tf_compat import tf

OUTSIDE = "O"

FORMATS = ("conll", "tsv", "cluener")
_FORMAT_ALIASES = {
    "json": "cluener",
    "jsonl": "cluener",
    "clue": "cluener",
    "bio": "conll",
    "bmes": "conll"
}

# Scheme name -> (family, letters written for begin, inside, end, single).
# The IOB1 and BIO families have no end or single letters.
_SCHEMES = collections.OrderedDict([
    ("BIO", ("BIO", "BI")),
    ("IOB2", ("BIO", "BI")),
    ("IOB1", ("IOB1", "BI")),
    ("BIOES", ("BIOES", "BIES")),
    ("IOBES", ("BIOES", "BIES")),
    ("BMES", ("BIOES", "BMES")),
    ("BMEOS", ("BIOES", "BMES")),
    ("BILOU", ("BIOES", "BILU")),
])

# Letter -> role (B begin, I inside, E end, S single).
_ROLE_OF_LETTER = {"B": "B", "I": "I", "M": "I", "E": "E", "L": "E", "S": "S", "U": "S"}
_FAMILY_LETTERS = {"BIO": "BI", "IOB1": "BI", "BIOES": "BIMELSU"}

_COLUMN_RE = re.compile(r"[^ \t]+")
_ITEM_RE = re.compile(r"[^ ]+")


class DataError(classifier_tasks.DataError):
    """Malformed or inconsistent NER data (the message names file and line)."""


# ---------------------------------------------------------------------------
# Tag schemes.
# ---------------------------------------------------------------------------


def canonical_scheme(scheme):
    """The upper-case name of a known tag scheme.

    Args:
      scheme: e.g. "bio", "IOB2", "BIOES", "BMES", "IOB1", "BILOU".

    Returns:
      the name as a key of the scheme table (upper case).

    Raises:
      ValueError: for an unknown scheme.
    """
    name = (scheme or "").strip().upper()
    if name not in _SCHEMES:
        raise ValueError("unknown tag scheme %r; known schemes: %s" % (scheme, ", ".join(_SCHEMES)))
    return name


def _describe_where(source, index):
    """Where tag ``index`` came from, for an error message."""
    if source is None:
        return "tag %d" % (index + 1)
    if callable(source):
        return source(index)
    if isinstance(source, six.string_types):
        return "%s: tag %d" % (source, index + 1)
    return source[index]


def _tag_error(source, index, problem):
    return DataError("%s: %s" % (_describe_where(source, index), problem))


def _parse_tag(tag, family, cache):
    """(role, type) of a tag: role "O", "B", "I", "E" or "S"; or a problem string."""
    parsed = cache.get(tag)
    if parsed is not None:
        return parsed
    if tag == OUTSIDE:
        parsed = ("O", "")
    elif not isinstance(tag, six.string_types) or not tag:
        parsed = "tag %r is neither O nor PREFIX-TYPE" % (tag,)
    else:
        letter, rest = tag[0], tag[1:]
        if rest and (not rest.startswith("-") or len(rest) == 1):
            parsed = "tag %r is neither O nor PREFIX-TYPE (e.g. B-PER)" % (tag,)
        elif letter not in _FAMILY_LETTERS[family]:
            parsed = ("unknown tag scheme prefix %r in tag %r (the %s scheme uses %s and O)" %
                      (letter, tag, family, ", ".join(_FAMILY_LETTERS[family])))
        else:
            parsed = (_ROLE_OF_LETTER[letter], rest[1:])
    cache[tag] = parsed
    return parsed


def _chunk_ends(prev_role, role, prev_type, type_):
    """seqeval's end-of-chunk rule: does the chunk open at the previous tag end?"""
    if prev_role in ("E", "S"):
        return True
    if prev_role in ("B", "I") and role in ("B", "S", "O"):
        return True
    return prev_role != "O" and prev_type != type_


def _chunk_starts(prev_role, role, prev_type, type_):
    """seqeval's start-of-chunk rule: does a chunk start at this tag?"""
    if role in ("B", "S"):
        return True
    if prev_role in ("E", "S", "O") and role in ("I", "E"):
        return True
    return role != "O" and prev_type != type_


def _check_strict(parsed, tags, family, source):
    """Raises DataError at the first tag the strict reading of ``family`` rejects."""
    open_type = None
    open_index = -1
    for index, (role, type_) in enumerate(parsed):
        if family == "BIO":
            if role == "I" and open_type != type_:
                raise _tag_error(
                    source, index, "%r does not continue an entity of type %r "
                    "(it follows %s)" % (tags[index], type_, _after(tags, index)))
            open_type = type_ if role in ("B", "I") else None
        elif family == "IOB1":
            if role == "B" and open_type != type_:
                raise _tag_error(
                    source, index, "%r in IOB1 must follow an entity of type %r "
                    "(it follows %s)" % (tags[index], type_, _after(tags, index)))
            open_type = type_ if role in ("B", "I") else None
        else:
            if role in ("I", "E"):
                if open_type != type_:
                    raise _tag_error(
                        source, index, "%r does not continue an entity of type "
                        "%r (it follows %s)" % (tags[index], type_, _after(tags, index)))
                open_type = type_ if role == "I" else None
                continue
            if open_type is not None:
                raise _tag_error(
                    source, index, "%r follows %r: the entity begun by %r is "
                    "not closed with an end tag" % (tags[index], tags[index - 1], tags[open_index]))
            if role == "B":
                open_type, open_index = type_, index
    if family == "BIOES" and open_type is not None:
        last = len(parsed) - 1
        raise _tag_error(
            source, last, "the sentence ends inside the entity begun by %r "
            "(no end tag)" % (tags[open_index],))


def _after(tags, index):
    return repr(tags[index - 1]) if index > 0 else "the start of the sentence"


def tags_to_spans(tags, scheme="BIO", strict=False, source=None):
    """The entities of a tag sequence.

    Lenient parsing (``strict=False``) is seqeval's default: an inside tag
    that does not continue an entity of its type begins a new one (as if it
    were B-), an entity left open ends where the next begins or at O.

    Args:
      tags: list of tag strings ("O", "B-PER", "I-PER", "E-PER", "S-PER", ...;
        a bare prefix such as "B" is an entity without type).
      scheme: tag scheme name (see ``canonical_scheme``).
      strict: reject tags that the scheme does not allow where they are
        (e.g. I-PER after O in BIO, B-PER after O in IOB1, an entity not
        closed by E- in BIOES).
      source: where the tags came from, for error messages: a "file:line"
        string, a list with one "file:line" per tag, or a callable index ->
        "file:line".

    Returns:
      list of (type, start, end_exclusive) in order.

    Raises:
      DataError: a tag with a prefix the scheme does not have (both modes),
        or a tag the strict reading rejects.
    """
    family = _SCHEMES[canonical_scheme(scheme)][0]
    cache = {}
    parsed = []
    for index, tag in enumerate(tags):
        item = _parse_tag(tag, family, cache)
        if isinstance(item, six.string_types):
            raise _tag_error(source, index, item)
        parsed.append(item)
    if strict:
        _check_strict(parsed, tags, family, source)
    spans = []
    prev_role, prev_type = "O", ""
    start = None
    for index, (role, type_) in enumerate(parsed + [("O", "")]):
        if start is not None and _chunk_ends(prev_role, role, prev_type, type_):
            spans.append((prev_type, start, index))
            start = None
        if role != "O" and _chunk_starts(prev_role, role, prev_type, type_):
            start = index
        prev_role, prev_type = role, type_
    return spans


def _tag(letter, type_):
    return letter + "-" + type_ if type_ else letter


def spans_to_tags(spans, length, scheme="BIO"):
    """The tags of a sequence with the given entities.

    Args:
      spans: iterable of (type, start, end_exclusive); they must not overlap.
      length: number of tokens.
      scheme: tag scheme name; BMES writes M- for inside, BILOU writes L-/U-
        for end/single, IOB1 writes B- only for an entity that directly
        follows another of the same type.

    Returns:
      list of ``length`` tag strings.

    Raises:
      ValueError: for spans out of range, empty or overlapping.
    """
    family, letters = _SCHEMES[canonical_scheme(scheme)]
    tags = [OUTSIDE] * length
    last_end, last_type = -1, None
    for type_, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if not 0 <= start < end <= length:
            raise ValueError("span %r is empty or outside a sequence of %d tokens" %
                             ((type_, start, end), length))
        if start < last_end:
            raise ValueError("span %r overlaps an earlier span" % ((type_, start, end),))
        if family == "BIOES" and end - start == 1:
            tags[start] = _tag(letters[3], type_)
        else:
            first = letters[0]
            if family == "IOB1" and not (start == last_end and type_ == last_type):
                first = letters[1]
            tags[start] = _tag(first, type_)
            for index in range(start + 1, end):
                tags[index] = _tag(letters[1], type_)
            if family == "BIOES":
                tags[end - 1] = _tag(letters[2], type_)
        last_end, last_type = end, type_
    return tags


def convert_tags(tags, from_scheme, to_scheme, strict=False, source=None):
    """Rewrites a tag sequence in another scheme (same entities).

    Args:
      tags: list of tags in ``from_scheme``.
      from_scheme: their scheme.
      to_scheme: the scheme to write.
      strict: parse ``tags`` strictly (see ``tags_to_spans``).
      source: for error messages (see ``tags_to_spans``).

    Returns:
      list of tags in ``to_scheme``.
    """
    return spans_to_tags(tags_to_spans(tags, from_scheme, strict, source), len(tags), to_scheme)


def detect_scheme(tag_lists):
    """Guesses the scheme of some tag sequences from the prefixes they use.

    L-/U- give BILOU, M- gives BMES, E-/S- give BIOES. Otherwise the tags are
    IOB1 when some entity begins with I- (after O or another type) and B-
    appears only between two adjacent entities of one type; else BIO.

    Args:
      tag_lists: iterable of tag lists.

    Returns:
      a scheme name.
    """
    letters = set()
    inside_starts = 0
    begin_starts = 0
    for tags in tag_lists:
        prev_letter, prev_type = "O", None
        for tag in tags or ():
            if tag == OUTSIDE or not tag:
                prev_letter, prev_type = "O", None
                continue
            letter = tag[0]
            type_ = tag[2:] if len(tag) > 2 and tag[1] == "-" else ""
            letters.add(letter)
            continues = prev_letter in ("B", "I") and prev_type == type_
            if letter == "I" and not continues:
                inside_starts += 1
            elif letter == "B" and not continues:
                begin_starts += 1
            prev_letter, prev_type = letter, type_
    if letters & set("LU"):
        return "BILOU"
    if "M" in letters:
        return "BMES"
    if letters & set("ES"):
        return "BIOES"
    if inside_starts and not begin_starts:
        return "IOB1"
    return "BIO"


# ---------------------------------------------------------------------------
# Examples.
# ---------------------------------------------------------------------------


class NerExample(object):
    """One sentence: its tokens and (when labelled) their tags.

    Attributes:
      guid: unique id of the example: the "file:line" of its first line.
      source: the same "file:line" (for messages).
      tokens: list of token strings, each exactly as in the file (a character
        for Chinese data, a word otherwise; spaces and full-width characters
        of CLUENER text are tokens too).
      tags: list of tag strings, one per token, or None (unlabelled file).
      fmt: the format read ("conll", "tsv" or "cluener").
      scheme: the tag scheme of ``tags`` (and of predictions written back).
      item_id: the CLUENER ``id`` field, or None.
      text: the CLUENER text (None for the other formats).
      path: the file read.
      token_lines: CoNLL: the line number of each token; else None.
      layout: what the writer needs to reproduce the file (private).
    """

    def __init__(self, guid, tokens, tags=None, source=None, fmt=None, scheme="BIO", item_id=None,
                 text=None, path=None, token_lines=None, layout=None):
        self.guid = guid
        self.tokens = tokens
        self.tags = tags
        self.source = source if source is not None else guid
        self.fmt = fmt
        self.scheme = scheme
        self.item_id = item_id
        self.text = text
        self.path = path
        self.token_lines = token_lines
        self.layout = layout

    def token_source(self, index):
        """The "file:line" of token ``index`` (CoNLL: its own line)."""
        if self.token_lines is not None:
            return "%s:%d" % (self.path, self.token_lines[index])
        return "%s: token %d" % (self.source, index + 1)

    def __repr__(self):
        return "NerExample(%r, %r, %r)" % (self.guid, self.tokens, self.tags)


class _Layout(object):
    """The raw text around and inside one example (for byte-exact writing).

    ``before``: the text since the previous example (blank lines, header,
    ``-DOCSTART-`` lines, a byte-order mark); ``after``: the text after the
    last example (only on the last one). Format specific:

    * conll: ``lines`` [(prefix, tag or None, rest, separator)]; the line is
      prefix + tag + rest, ``separator`` is put before an appended column.
    * tsv: ``prefix``, ``gaps`` (the spaces around and between the tags, or
      None when the line has no label column), ``suffix``; ``header_end``:
      the offset in ``before`` where a label column is added to a header
      without one.
    * cluener: ``obj`` (the parsed line), ``content`` (the line as read),
      ``newline``, ``style`` (json.dumps arguments that reproduce it).
    """

    def __init__(self, before=""):
        self.before = before
        self.after = ""
        self.lines = None
        self.prefix = ""
        self.gaps = None
        self.suffix = ""
        self.header_end = None
        self.obj = None
        self.content = None
        self.newline = "\n"
        self.style = None


_BOM = u"\ufeff"


def _raw_lines(path):
    """(bom, [(line number, content, line end)]) of a UTF-8 file, losslessly.

    The content excludes the line end ("\\n", "\\r\\n", or "" for a last line
    without one); joining bom + content + end over all lines gives the file.

    Raises:
      DataError: the file cannot be read or a line is not UTF-8.
    """
    try:
        with io.open(path, "rb") as reader:
            data = reader.read()
    except (IOError, OSError) as e:
        raise DataError("%s: cannot read: %s" % (path, getattr(e, "strerror", None) or e))
    bom = u""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        bom = _BOM
    pieces = data.split(b"\n")
    lines = []
    for index, raw in enumerate(pieces):
        last = index == len(pieces) - 1
        if last and not raw:
            break
        end = u"" if last else u"\n"
        if raw.endswith(b"\r"):
            raw = raw[:-1]
            end = u"\r" + end
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError("%s:%d: not valid UTF-8 (byte %d)" % (path, index + 1, e.start + 1))
        lines.append((index + 1, content, end))
    return bom, lines


def _is_blank(content):
    return not content.strip(" \t")


def _finish_examples(path, examples, pending):
    if not examples:
        raise DataError("%s: no sentences found" % path)
    examples[-1].layout.after = pending
    return examples


def _validate_tags(examples, scheme, strict):
    """Sets each example's scheme and checks its tags (DataError naming the line)."""
    if scheme is None:
        scheme = detect_scheme(e.tags for e in examples if e.tags is not None)
    scheme = canonical_scheme(scheme)
    for example in examples:
        example.scheme = scheme
        if example.tags is not None:
            tags_to_spans(example.tags, scheme, strict, example.token_source)
    return examples


def read_conll(path, scheme=None, strict=False, labeled=None):
    """Reads a CoNLL-style file: one ``token [columns...] tag`` per line.

    Columns are separated by runs of spaces or tabs; the token is the first
    column, the tag the last. A blank line ends a sentence; ``-DOCSTART-``
    lines are skipped.

    Args:
      path: the file.
      scheme: the tag scheme; None detects it from the tags.
      strict: reject tags the scheme does not allow where they are.
      labeled: whether lines carry a tag column; None decides from the first
        token line (two or more columns: labelled).

    Returns:
      list of NerExample (``fmt="conll"``).

    Raises:
      DataError: a line without a tag, a bad tag, no sentences, not UTF-8.
    """
    bom, lines = _raw_lines(path)
    examples = []
    pending = bom
    current = []

    def finish(before):
        numbers = [entry[0] for entry in current]
        layout = _Layout(before)
        layout.lines = [entry[2:] for entry in current]
        source = "%s:%d" % (path, numbers[0])
        tags = [entry[3] for entry in current] if labeled else None
        examples.append(
            NerExample(source, [entry[1] for entry in current], tags, source, "conll", path=path,
                       token_lines=numbers, layout=layout))
        del current[:]

    for number, content, end in lines:
        columns = [m.span() for m in _COLUMN_RE.finditer(content)]
        if not columns or content[columns[0][0]:columns[0][1]] == "-DOCSTART-":
            if current:
                finish(pending)
                pending = u""
            pending += content + end
            continue
        if labeled is None:
            labeled = len(columns) >= 2
        token = content[columns[0][0]:columns[0][1]]
        if labeled:
            if len(columns) < 2:
                raise DataError("%s:%d: %r has no tag (expected \"token tag\" separated by "
                                "spaces or tabs)" % (path, number, content))
            tag_start, tag_end = columns[-1]
            separator = content[columns[-2][1]:tag_start]
            current.append((number, token, content[:tag_start], content[tag_start:tag_end],
                            content[tag_end:] + end, separator))
        else:
            last = columns[-1][1]
            separator = u"\t" if u"\t" in content else u" "
            current.append((number, token, content[:last], None, content[last:] + end, separator))
    if current:
        finish(pending)
        pending = u""
    examples = _finish_examples(path, examples, pending)
    return _validate_tags(examples, scheme, strict)


def _split_items(field):
    """(items, gaps) of a space-separated field: field = g0 + i0 + g1 + ... + gN."""
    items, gaps = [], []
    position = 0
    for match in _ITEM_RE.finditer(field):
        gaps.append(field[position:match.start()])
        items.append(match.group())
        position = match.end()
    gaps.append(field[position:])
    return items, gaps


def read_tsv(path, scheme=None, strict=False):
    """Reads a ``text_a<TAB>label`` file: one sentence per line.

    Tokens (characters) and tags are separated by spaces. The header line is
    optional; a header without a ``label`` column means an unlabelled file.

    Args:
      path: the file.
      scheme: the tag scheme; None detects it.
      strict: reject tags the scheme does not allow where they are.

    Returns:
      list of NerExample (``fmt="tsv"``).

    Raises:
      DataError: a missing field, an empty text, different numbers of tokens
        and tags, a bad tag, no sentences.
    """
    bom, lines = _raw_lines(path)
    examples = []
    pending = bom
    text_column, label_column = 0, None
    header_end = None
    seen_first = False
    for number, content, end in lines:
        if _is_blank(content):
            pending += content + end
            continue
        fields = content.split(u"\t")
        if not seen_first:
            seen_first = True
            names = [f.strip().lower() for f in fields]
            if "text_a" in names:
                text_column = names.index("text_a")
                label_column = names.index("label") if "label" in names else None
                pending += content
                header_end = len(pending) if label_column is None else None
                pending += end
                continue
            label_column = 1 if len(fields) >= 2 else None
        width = max(text_column, label_column if label_column is not None else 0) + 1
        if len(fields) < width:
            raise DataError(
                "%s:%d: expected %d tab-separated fields (text_a%s), got %d" %
                (path, number, width, ", label" if label_column is not None else "", len(fields)))
        tokens, _ = _split_items(fields[text_column])
        if not tokens:
            raise DataError("%s:%d: empty text" % (path, number))
        layout = _Layout(pending)
        layout.header_end = header_end
        header_end = None
        pending = u""
        tags = None
        if label_column is not None:
            tags, layout.gaps = _split_items(fields[label_column])
            if len(tags) != len(tokens):
                raise DataError("%s:%d: %d tokens but %d tags" %
                                (path, number, len(tokens), len(tags)))
            layout.prefix = u"".join(f + u"\t" for f in fields[:label_column])
            layout.suffix = u"".join(u"\t" + f for f in fields[label_column + 1:]) + end
        else:
            layout.prefix = content
            layout.suffix = end
        source = "%s:%d" % (path, number)
        examples.append(NerExample(source, tokens, tags, source, "tsv", path=path, layout=layout))
    examples = _finish_examples(path, examples, pending)
    return _validate_tags(examples, scheme, strict)


# json.dumps settings tried, in order, to reproduce a CLUENER line.
_JSON_STYLES = (
    {
        "ensure_ascii": False,
        "separators": (", ", ": ")
    },
    {
        "ensure_ascii": False,
        "separators": (",", ":")
    },
    {
        "ensure_ascii": True,
        "separators": (", ", ": ")
    },
    {
        "ensure_ascii": True,
        "separators": (",", ":")
    },
)


def _is_int(value):
    return isinstance(value, six.integer_types) and not isinstance(value, bool)


def _cluener_spans(label, text, where):
    """[(type, start, end_exclusive)] of a CLUENER label, checked against the text."""
    if not isinstance(label, dict):
        raise DataError("%s: \"label\" must be an object {type: {text: [[start, end]]}}" % where)
    spans = []
    for type_, entities in label.items():
        if not isinstance(entities, dict):
            raise DataError("%s: label %r must map entity texts to [[start, end], ...]" %
                            (where, type_))
        for entity, positions in entities.items():
            if not isinstance(positions, list):
                raise DataError("%s: label %r, entity %r: positions must be a list of "
                                "[start, end]" % (where, type_, entity))
            for position in positions:
                if (not isinstance(position, list) or len(position) != 2 or
                        not all(_is_int(p) for p in position)):
                    raise DataError("%s: label %r, entity %r: %r is not [start, end]" %
                                    (where, type_, entity, position))
                start, last = position
                if not 0 <= start <= last < len(text):
                    raise DataError("%s: label %r, entity %r: span [%d, %d] is outside the "
                                    "text (%d characters)" %
                                    (where, type_, entity, start, last, len(text)))
                if text[start:last + 1] != entity:
                    raise DataError("%s: label %r: span [%d, %d] is %r in the text, not %r" %
                                    (where, type_, start, last, text[start:last + 1], entity))
                spans.append((type_, start, last + 1))
    spans.sort(key=lambda s: (s[1], s[2]))
    for first, second in zip(spans, spans[1:]):
        if second[1] < first[2]:
            raise DataError(
                "%s: overlapping spans: %s [%d, %d] and %s [%d, %d]" %
                (where, first[0], first[1], first[2] - 1, second[0], second[1], second[2] - 1))
    return spans


def read_cluener(path, scheme=None, strict=False):
    """Reads CLUENER2020 JSON lines.

    Each line is ``{"id": ..., "text": ..., "label": {type: {entity_text:
    [[start, end], ...]}}}`` with ``end`` inclusive; ``id`` and ``label`` are
    optional (test files have no label). Tokens are the text's characters;
    tags are built from the spans in ``scheme``.

    Args:
      path: the file.
      scheme: the tag scheme to build (default BIO).
      strict: unused (the tags built from spans are always valid); kept so
        that every reader takes the same arguments.

    Returns:
      list of NerExample (``fmt="cluener"``).

    Raises:
      DataError: malformed JSON, no "text", a span whose text does not match
        text[start:end + 1], overlapping spans, no lines.
    """
    del strict
    scheme = canonical_scheme(scheme or "BIO")
    bom, lines = _raw_lines(path)
    examples = []
    pending = bom
    for number, content, end in lines:
        if _is_blank(content):
            pending += content + end
            continue
        where = "%s:%d" % (path, number)
        try:
            obj = json.loads(content, object_pairs_hook=collections.OrderedDict)
        except ValueError as e:
            raise DataError("%s: not valid JSON: %s" % (where, e))
        if not isinstance(obj, dict):
            raise DataError("%s: expected a JSON object, got %s" % (where, type(obj).__name__))
        text = obj.get("text")
        if not isinstance(text, six.string_types):
            raise DataError("%s: no \"text\" string" % where)
        tags = None
        if obj.get("label") is not None:
            tags = spans_to_tags(_cluener_spans(obj["label"], text, where), len(text), scheme)
        layout = _Layout(pending)
        pending = u""
        layout.obj = obj
        layout.content = content
        layout.newline = end
        for style in _JSON_STYLES:
            if json.dumps(obj, **style) == content:
                layout.style = style
                break
        examples.append(
            NerExample(where, list(text), tags, where, "cluener", scheme, item_id=obj.get("id"),
                       text=text, path=path, layout=layout))
    return _finish_examples(path, examples, pending)


def detect_format(path):
    """The format of an NER file: "conll", "tsv" or "cluener".

    A first line that is a JSON object means CLUENER; a ``text_a`` header, or
    a ``tokens<TAB>tags`` line with the same number (> 1) of space-separated
    items on both sides, means TSV; other whitespace-separated columns mean
    CoNLL.

    Args:
      path: the file.

    Returns:
      the format name.

    Raises:
      DataError: an empty file, or one that could be TSV or CoNLL (a line
        with two tab-separated fields of several space-separated items whose
        counts differ): name the format explicitly then.
    """
    try:
        with io.open(path, "rb") as reader:
            head = reader.read(1 << 16)
    except (IOError, OSError) as e:
        raise DataError("%s: cannot read: %s" % (path, getattr(e, "strerror", None) or e))
    text = head.decode("utf-8", "replace")
    if text.startswith(_BOM):
        text = text[1:]
    rows = text.split(u"\n")
    if len(head) == 1 << 16:
        rows = rows[:-1]
    sample = [(n + 1, r.rstrip(u"\r")) for n, r in enumerate(rows) if not _is_blank(r)][:200]
    if not sample:
        raise DataError("%s: empty file: cannot tell its format" % path)
    first = sample[0][1].strip()
    if first.startswith(u"{"):
        return "cluener"
    if first.startswith(u"["):
        raise DataError("%s:%d: a JSON array is not an NER format (CLUENER files have one "
                        "JSON object per line)" % (path, sample[0][0]))
    if "text_a" in [f.strip().lower() for f in first.split(u"\t")]:
        return "tsv"
    for number, row in sample:
        fields = row.split(u"\t")
        if len(fields) != 2:
            continue
        left, _ = _split_items(fields[0])
        right, _ = _split_items(fields[1])
        if len(left) > 1 and len(right) > 1:
            if len(left) == len(right):
                return "tsv"
            raise DataError("%s:%d: cannot tell whether the file is TSV (tokens<TAB>tags) or "
                            "CoNLL (token ... tag): give the format" % (path, number))
    return "conll"


def read_examples(path, fmt=None, scheme=None, strict=False, labeled=None):
    """Reads an NER file of any supported format.

    Args:
      path: the file.
      fmt: "conll", "tsv" or "cluener" (also "json"); None detects it.
      scheme: the tag scheme (None: detected; BIO for CLUENER).
      strict: reject tags the scheme does not allow where they are.
      labeled: CoNLL only: whether lines carry tags (None: detected).

    Returns:
      list of NerExample.

    Raises:
      DataError: see the readers; ValueError for an unknown format or scheme.
    """
    fmt = canonical_format(fmt) if fmt else detect_format(path)
    if fmt == "conll":
        return read_conll(path, scheme, strict, labeled)
    if fmt == "tsv":
        return read_tsv(path, scheme, strict)
    return read_cluener(path, scheme, strict)


def canonical_format(fmt):
    """"conll", "tsv" or "cluener" for a format name or alias (ValueError otherwise)."""
    name = (fmt or "").strip().lower()
    name = _FORMAT_ALIASES.get(name, name)
    if name not in FORMATS:
        raise ValueError("unknown NER format %r; known formats: %s" % (fmt, ", ".join(FORMATS)))
    return name


def get_label_list(examples=None, labels=None, complete=True):
    """The label list (its order defines the label ids).

    Args:
      examples: training examples; their tags give the list: "O" first, then
        the others sorted.
      labels: an explicit list instead (kept in its order).
      complete: with ``examples``, add every tag of each entity type seen in
        the examples' scheme (e.g. E-PER when only B-PER, I-PER and S-PER were
        seen), so that another split cannot bring an unknown tag of a known
        type.

    Returns:
      list of tag strings.

    Raises:
      ValueError: an explicit list without "O" or with duplicates, or neither
        argument given.
    """
    if labels is not None:
        labels = [six.text_type(l) for l in labels]
        if OUTSIDE not in labels:
            raise ValueError("the label list has no %r" % OUTSIDE)
        duplicates = sorted(l for l, n in collections.Counter(labels).items() if n > 1)
        if duplicates:
            raise ValueError("duplicate labels: %s" % ", ".join(duplicates))
        return labels
    if examples is None:
        raise ValueError("get_label_list needs examples or labels")
    tags = set()
    scheme = "BIO"
    for example in examples:
        if example.tags is not None:
            tags.update(example.tags)
            scheme = example.scheme
    if complete:
        family, letters = _SCHEMES[canonical_scheme(scheme)]
        cache = {}
        for tag in list(tags):
            parsed = _parse_tag(tag, family, cache)
            if isinstance(parsed, six.string_types) or parsed[0] == "O":
                continue
            tags.update(_tag(letter, parsed[1]) for letter in letters)
    tags.discard(OUTSIDE)
    return [OUTSIDE] + sorted(tags)


# ---------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------

WRITE_MODES = ("predictions", "replace")


def _cluener_label(text, tags, scheme, original):
    """The CLUENER label object of some tags; the original's order is kept."""
    grouped = collections.OrderedDict()
    for type_, start, end in tags_to_spans(tags, scheme):
        entities = grouped.setdefault(type_, collections.OrderedDict())
        entities.setdefault(text[start:end], []).append([start, end - 1])
    original = original if isinstance(original, dict) else {}
    label = collections.OrderedDict()
    types = [t for t in original if t in grouped] + [t for t in grouped if t not in original]
    for type_ in types:
        entities = grouped[type_]
        old = original.get(type_) or {}
        out = collections.OrderedDict()
        for name in [n for n in old if n in entities] + [n for n in entities if n not in old]:
            positions = entities[name]
            old_positions = [list(p) for p in old.get(name, [])]
            out[name] = ([p for p in old_positions if p in positions] +
                         [p for p in positions if p not in old_positions])
        label[type_] = out
    return label


def _render_conll(example, tags, mode):
    out = [example.layout.before]
    for (prefix, gold, rest, separator), tag in zip(example.layout.lines, tags):
        if mode == "replace" and gold is not None:
            out.append(prefix + tag + rest)
        else:
            out.append(prefix + (gold or u"") + separator + tag + rest)
    return u"".join(out)


def _render_tsv(example, tags):
    layout = example.layout
    before = layout.before
    if layout.gaps is None:
        if layout.header_end is not None:
            before = before[:layout.header_end] + u"\tlabel" + before[layout.header_end:]
        return before + layout.prefix + u"\t" + u" ".join(tags) + layout.suffix
    gaps = layout.gaps
    field = gaps[0] + u"".join(tag + gap for tag, gap in zip(tags, gaps[1:]))
    return before + layout.prefix + field + layout.suffix


def _render_cluener(example, tags, mode, index):
    layout = example.layout
    label = _cluener_label(example.text, tags, example.scheme, layout.obj.get("label"))
    if mode == "predictions":
        item_id = example.item_id if example.item_id is not None else index
        record = collections.OrderedDict([("id", item_id), ("label", label)])
        return json.dumps(record, ensure_ascii=False) + u"\n"
    obj = collections.OrderedDict(layout.obj)
    if "label" in obj and obj["label"] == label:
        line = layout.content
    else:
        obj["label"] = label
        line = json.dumps(obj, **(layout.style or _JSON_STYLES[0]))
    return layout.before + line + layout.newline


def _render_other_format(example, tags, fmt, mode, index):
    """An example written in a format other than the one it was read from."""
    for token in example.tokens:
        if fmt != "cluener" and (not token or re.search(u"[ \t\r\n]", token)):
            raise ValueError("%s: token %r cannot be written in the %s format" %
                             (example.source, token, fmt))
    if fmt == "conll":
        lines = []
        for position, (token, tag) in enumerate(zip(example.tokens, tags)):
            gold = example.tags[position] if example.tags and mode == "predictions" else None
            lines.append(u" ".join([token] + ([gold] if gold else []) + [tag]) + u"\n")
        return u"".join(lines) + u"\n"
    if fmt == "tsv":
        header = u"text_a\tlabel\n" if index == 0 else u""
        return header + u" ".join(example.tokens) + u"\t" + u" ".join(tags) + u"\n"
    text = u"".join(example.tokens)
    starts = np.cumsum([0] + [len(t) for t in example.tokens]).tolist()
    label = collections.OrderedDict()
    for type_, start, end in tags_to_spans(tags, example.scheme):
        entities = label.setdefault(type_, collections.OrderedDict())
        entities.setdefault(text[starts[start]:starts[end]],
                            []).append([starts[start], starts[end] - 1])
    item_id = example.item_id if example.item_id is not None else index
    record = collections.OrderedDict([("id", item_id)])
    if mode == "replace":
        record["text"] = text
    record["label"] = label
    return json.dumps(record, ensure_ascii=False) + u"\n"


def _render_unchanged(example):
    """An unlabelled example as read (and the text after it)."""
    layout = example.layout
    if example.fmt == "conll":
        body = u"".join(prefix + rest for prefix, _, rest, _ in layout.lines)
    elif example.fmt == "tsv":
        body = layout.prefix + layout.suffix
    else:
        body = layout.content + layout.newline
    return layout.before + body + layout.after


def format_predictions(examples, predicted_tags, fmt=None, mode="predictions"):
    """The text ``write_predictions`` writes (see there)."""
    if mode not in WRITE_MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(WRITE_MODES), mode))
    if predicted_tags is None:
        predicted_tags = [None] * len(examples)
    if len(predicted_tags) != len(examples):
        raise ValueError("%d examples but %d predicted tag lists" %
                         (len(examples), len(predicted_tags)))
    fmt = canonical_format(fmt) if fmt else None
    parts = []
    for index, (example, tags) in enumerate(zip(examples, predicted_tags)):
        if tags is None:
            if mode != "replace":
                raise ValueError("%s: no predicted tags" % example.source)
            if example.tags is None:
                if example.layout is None:
                    raise ValueError("%s: no tags to write" % example.source)
                parts.append(_render_unchanged(example))
                continue
            tags = example.tags
        tags = list(tags)
        if len(tags) != len(example.tokens):
            raise ValueError("%s: %d tokens but %d predicted tags" %
                             (example.source, len(example.tokens), len(tags)))
        out_fmt = fmt or example.fmt or "conll"
        if out_fmt != example.fmt or example.layout is None:
            parts.append(_render_other_format(example, tags, out_fmt, mode, index))
            continue
        if out_fmt == "conll":
            parts.append(_render_conll(example, tags, mode))
        elif out_fmt == "tsv":
            parts.append(_render_tsv(example, tags))
        else:
            parts.append(_render_cluener(example, tags, mode, index))
        if not (out_fmt == "cluener" and mode == "predictions"):
            parts.append(example.layout.after)
    return u"".join(parts)


def write_predictions(path, examples, predicted_tags, fmt=None, mode="predictions"):
    """Writes tags back in the examples' own format (atomically, UTF-8).

    Modes:

    * "predictions" (default): CoNLL: every token line as read with the
      predicted tag appended as a new last column (after the same separator
      as the line's last one); TSV: the predicted tags as the label column;
      CLUENER: the CLUE submission format, one ``{"id": ..., "label": {type:
      {text: [[start, end]]}}}`` per example (id from the file, else the
      example's index).
    * "replace": the file as read with its tag column / label field replaced
      by the predicted tags. Writing a file back with its own tags (or None
      for an example: keep its tags) reproduces it byte for byte, blank
      lines, ``-DOCSTART-`` lines, separators and line ends included.

    Everything else of the file (headers, blank lines, other columns, JSON
    fields and their order) is kept. CLUENER labels keep the order of the
    types, entities and spans of the line read; new ones follow in text
    order.

    Args:
      path: the output file.
      examples: NerExamples from one read (in order).
      predicted_tags: one tag list per example (see ``merge_window_predictions``).
      fmt: output format; None (default) writes each example's own format
        (CoNLL for examples built by hand).
        Another format writes fresh lines (CoNLL ``token [gold] predicted``,
        TSV with a header, CLUENER objects whose text is the tokens joined).
      mode: "predictions" or "replace".

    Returns:
      the path written.

    Raises:
      ValueError: wrong number of tag lists or tags, an unknown mode.
    """
    text = format_predictions(examples, predicted_tags, fmt, mode)
    with script_utils.atomic_output(path) as tmp:
        with io.open(tmp, "wb") as writer:
            writer.write(text.encode("utf-8"))
    return path


# ---------------------------------------------------------------------------
# Features.
# ---------------------------------------------------------------------------


def tokenize_tokens(tokenizer, tokens):
    """The sub-tokens of every token, with exact alignment.

    The tokens are joined with single spaces and tokenised by
    ``squad_features.tokenize_with_offsets``, so each token is split on its own
    (a word boundary between tokens, as when labelled characters are
    tokenised one by one) and every sub-token is traced to the token it came
    from. A token the tokenizer drops entirely (a space, a control or
    zero-width character) gets no sub-token.

    Args:
      tokenizer: tokenization.FullTokenizer.
      tokens: list of token strings.

    Returns:
      (pieces, piece_token, first_piece): the sub-token strings; for each
      sub-token the index of its token; for each token the index of its first
      sub-token, or -1 when it has none.
    """
    owner = []
    parts = []
    for index, token in enumerate(tokens):
        if index:
            parts.append(u" ")
            owner.append(-1)
        parts.append(token)
        owner.extend([index] * len(token))
    pieces, starts, _ = squad_features.tokenize_with_offsets(tokenizer, u"".join(parts))
    piece_token = []
    for start in starts:
        position = min(start, len(owner) - 1)
        while position < len(owner) - 1 and owner[position] < 0:
            position += 1
        piece_token.append(owner[position])
    first_piece = [-1] * len(tokens)
    for index in range(len(piece_token) - 1, -1, -1):
        first_piece[piece_token[index]] = index
    return pieces, piece_token, first_piece


def _kept_tags(tags, first_piece, scheme):
    """Training tags of the tokens that have sub-tokens (None for the others).

    When some tokens have no sub-token, the entities are cut down to the
    tokens that remain and tagged again, so that (say) a BIO entity whose
    first character is dropped still begins with B- on its first kept token.
    """
    kept = [index for index, first in enumerate(first_piece) if first >= 0]
    if len(kept) == len(tags):
        return list(tags)
    rank = {token: position for position, token in enumerate(kept)}
    spans = []
    for type_, start, end in tags_to_spans(tags, scheme):
        inside = [rank[t] for t in range(start, end) if t in rank]
        if inside:
            spans.append((type_, inside[0], inside[-1] + 1))
    compact = spans_to_tags(spans, len(kept), scheme)
    out = [None] * len(tags)
    for token, tag in zip(kept, compact):
        out[token] = tag
    return out


class NerFeature(object):
    """One window of one example, as the model sees it.

    Attributes:
      example_index: index of the example in the list converted.
      window_index: index of the window within the example.
      window_start: index (among the example's sub-tokens) of the window's
        first sub-token.
      input_ids, input_mask, segment_ids: ``[CLS] sub-tokens [SEP]`` padded
        to max_seq_length.
      label_ids: the tag id at each token's first sub-token; -1 elsewhere
        ([CLS], [SEP], further sub-tokens, padding). Unlabelled examples get
        the id of "O" at first sub-tokens.
      label_mask: 1 at each token's first sub-token, else 0.
      token_index: for each position, the index of the example token the
        sub-token there came from, or -1.
      is_max_context: for each position, 1 when this window is the one in
        which that sub-token has the most context (its prediction is taken
        from here), else 0.
      dropped_tokens: indexes of the example's tokens without any sub-token
        (set on the example's first window only; empty on the others).
      label_list: the label list the ids refer to.
      tokens: the sub-token strings of the window (with ``keep_tokens``).
    """

    def __init__(self, example_index, window_index, window_start, input_ids, input_mask,
                 segment_ids, label_ids, label_mask, token_index, is_max_context, dropped_tokens=(),
                 label_list=None, tokens=None):
        self.example_index = example_index
        self.window_index = window_index
        self.window_start = window_start
        self.input_ids = input_ids
        self.input_mask = input_mask
        self.segment_ids = segment_ids
        self.label_ids = label_ids
        self.label_mask = label_mask
        self.token_index = token_index
        self.is_max_context = is_max_context
        self.dropped_tokens = list(dropped_tokens)
        self.label_list = label_list
        self.tokens = tokens

    def as_dict(self):
        """OrderedDict name -> fixed-length list of ints (see ``feature_spec``)."""
        return collections.OrderedDict([
            ("input_ids", self.input_ids),
            ("input_mask", self.input_mask),
            ("segment_ids", self.segment_ids),
            ("label_ids", self.label_ids),
            ("label_mask", self.label_mask),
        ])

    def to_tf_example(self):
        """The model inputs as a tf.train.Example."""
        features = collections.OrderedDict(
            (name, tf.train.Feature(int64_list=tf.train.Int64List(value=list(values))))
            for name, values in self.as_dict().items())
        return tf.train.Example(features=tf.train.Features(feature=features))

    def to_json(self):
        """The bookkeeping (not the model inputs) as a JSON-able dict."""
        return {
            "example_index": self.example_index,
            "window_index": self.window_index,
            "window_start": self.window_start,
            "label_mask": list(self.label_mask),
            "token_index": list(self.token_index),
            "is_max_context": list(self.is_max_context),
            "dropped_tokens": list(self.dropped_tokens)
        }

    @classmethod
    def from_json(cls, data, label_list=None):
        """Bookkeeping back from ``to_json`` (model inputs are not restored)."""
        return cls(data["example_index"], data["window_index"], data["window_start"], None, None,
                   None, None, data["label_mask"], data["token_index"], data["is_max_context"],
                   data.get("dropped_tokens", ()), label_list)


def feature_spec(max_seq_length):
    """The NER features: OrderedDict name -> (shape list, "int64")."""
    return collections.OrderedDict(
        (name, ([max_seq_length], "int64"))
        for name in ("input_ids", "input_mask", "segment_ids", "label_ids", "label_mask"))


def convert_examples_to_features(examples, tokenizer, label_list, max_seq_length, doc_stride,
                                 keep_tokens=False):
    """Turns examples into fixed-length windows.

    Each token's sub-tokens come from ``tokenize_tokens``; the token's tag
    goes on its first sub-token. A sentence with more than max_seq_length - 2
    sub-tokens is split into windows of that many sub-tokens, each starting
    ``doc_stride`` sub-tokens after the previous one (the last reaches the
    end), as ``squad_features.doc_windows`` builds them; every sub-token is
    marked in exactly one window as having its maximum context there
    (``squad_features.max_context_windows``). Training uses every window's
    labels; prediction takes each token from its maximum-context window.

    Args:
      examples: list of NerExample.
      tokenizer: tokenization.FullTokenizer.
      label_list: the tags (ids are positions); must hold "O".
      max_seq_length: window length including [CLS] and [SEP] (>= 3).
      doc_stride: sub-tokens between window starts (>= 1).
      keep_tokens: keep each window's sub-token strings (for logging/tests).

    Returns:
      list of NerFeature, in example order, windows in order.

    Raises:
      DataError: a tag that is not in the label list (naming its line).
      ValueError: bad lengths, or a label list without "O".
    """
    if max_seq_length < 3:
        raise ValueError("max_seq_length must be at least 3, got %d" % max_seq_length)
    if doc_stride < 1:
        raise ValueError("doc_stride must be at least 1, got %d" % doc_stride)
    label_map = {label: index for index, label in enumerate(label_list)}
    if OUTSIDE not in label_map:
        raise ValueError("the label list has no %r" % OUTSIDE)
    outside_id = label_map[OUTSIDE]
    cls_id, sep_id = tokenizer.convert_tokens_to_ids([tokenization.CLS, tokenization.SEP])
    max_pieces = max_seq_length - 2
    features = []
    for example_index, example in enumerate(examples):
        pieces, piece_token, first_piece = tokenize_tokens(tokenizer, example.tokens)
        ids = tokenizer.convert_tokens_to_ids(pieces)
        token_label = [outside_id] * len(example.tokens)
        if example.tags is not None:
            tags = _kept_tags(example.tags, first_piece, example.scheme)
            for index, tag in enumerate(tags):
                if tag is None:
                    continue
                if tag not in label_map:
                    raise DataError("%s: tag %r is not in the label list (%s)" %
                                    (example.token_source(index), tag, ", ".join(label_list)))
                token_label[index] = label_map[tag]
        dropped = [index for index, first in enumerate(first_piece) if first < 0]
        windows = squad_features.doc_windows(len(ids), max_pieces, doc_stride)
        best = squad_features.max_context_windows(windows, len(ids))
        for window_index, (start, length) in enumerate(windows):
            padding = max_seq_length - length - 2
            label_ids = [-1]
            label_mask = [0]
            token_index = [-1]
            is_max = [0]
            for piece in range(start, start + length):
                token = piece_token[piece]
                first = first_piece[token] == piece
                label_ids.append(token_label[token] if first else -1)
                label_mask.append(int(first))
                token_index.append(token)
                is_max.append(int(best[piece] == window_index))
            tail = 1 + padding
            features.append(
                NerFeature(example_index, window_index, start,
                           [cls_id] + ids[start:start + length] + [sep_id] + [0] * padding,
                           [1] * (length + 2) + [0] * padding, [0] * max_seq_length,
                           label_ids + [-1] * tail, label_mask + [0] * tail,
                           token_index + [-1] * tail, is_max + [0] * tail,
                           dropped if window_index == 0 else (), label_list,
                           ([tokenization.CLS] + pieces[start:start + length] +
                            [tokenization.SEP]) if keep_tokens else None))
    return features


def fill_dropped_tags(tags, scheme="BIO"):
    """Tags for the tokens that had no sub-token (None entries), in place.

    Such a token (a space, a control or zero-width character) lies inside an
    entity when the tags on both sides of it belong to one entity (the next
    one continues the previous one, e.g. B-LOC ... I-LOC in BIO): it gets that
    entity's inside tag (I-, or M- in BMES), so the entity stays whole. In
    every other case (between entities, at an entity's edge, at the ends of
    the sentence) it gets O.

    Args:
      tags: list of tags with None for the tokens to fill.
      scheme: the scheme of the tags.

    Returns:
      the same list, filled.
    """
    family, letters = _SCHEMES[canonical_scheme(scheme)]
    cache = {}
    index = 0
    while index < len(tags):
        if tags[index] is not None:
            index += 1
            continue
        end = index
        while end < len(tags) and tags[end] is None:
            end += 1
        fill = OUTSIDE
        if index > 0 and end < len(tags):
            before = _parse_tag(tags[index - 1], family, cache)
            after = _parse_tag(tags[end], family, cache)
            if (not isinstance(before, six.string_types) and
                    not isinstance(after, six.string_types) and before[0] != "O" and
                    after[0] != "O" and before[1] == after[1] and
                    not _chunk_ends(before[0], after[0], before[1], after[1]) and
                    not _chunk_starts(before[0], after[0], before[1], after[1])):
                fill = _tag(letters[1], before[1])
        for position in range(index, end):
            tags[position] = fill
        index = end
    return tags


def merge_window_predictions(examples, features, per_feature_predicted_ids, label_list=None,
                             scheme=None):
    """One predicted tag per token, from the windows' predicted ids.

    Each token's tag is read at its first sub-token in the window where that
    sub-token has the most context; tokens without sub-tokens are filled by
    ``fill_dropped_tags``.

    Args:
      examples: the examples converted.
      features: all their NerFeatures (in any order).
      per_feature_predicted_ids: for each feature, the predicted id at each
        position (a list or array of max_seq_length ints).
      label_list: the label list (default: the one the features were built
        with).
      scheme: the scheme for filling dropped tokens (default: each
        example's).

    Returns:
      list (one per example) of lists of tags (one per token).

    Raises:
      ValueError: mismatched lengths, a token predicted twice or never (a
        missing window), an id outside the label list.
    """
    if len(features) != len(per_feature_predicted_ids):
        raise ValueError("%d features but %d predictions" %
                         (len(features), len(per_feature_predicted_ids)))
    if label_list is None:
        label_list = features[0].label_list if features else None
        if label_list is None:
            raise ValueError("merge_window_predictions needs the label list")
    results = [[None] * len(example.tokens) for example in examples]
    dropped = [set() for _ in examples]
    for feature, predicted in zip(features, per_feature_predicted_ids):
        tags = results[feature.example_index]
        dropped[feature.example_index].update(feature.dropped_tokens)
        for position, token in enumerate(feature.token_index):
            if not (feature.label_mask[position] and feature.is_max_context[position]):
                continue
            if tags[token] is not None:
                raise ValueError("example %d: token %d is predicted by two windows" %
                                 (feature.example_index, token))
            label_id = int(predicted[position])
            if not 0 <= label_id < len(label_list):
                raise ValueError("example %d: predicted id %d is outside the %d labels" %
                                 (feature.example_index, label_id, len(label_list)))
            tags[token] = label_list[label_id]
    for example_index, (example, tags) in enumerate(zip(examples, results)):
        for token, tag in enumerate(tags):
            if tag is None and token not in dropped[example_index]:
                raise ValueError("%s: token %d (%r) has no prediction (a window is missing)" %
                                 (example.source, token, example.tokens[token]))
        fill_dropped_tags(tags, scheme or example.scheme)
    return results


# ---------------------------------------------------------------------------
# Linear-chain CRF (plain TensorFlow ops).
# ---------------------------------------------------------------------------
#
# The CRF runs over the positions where ``mask`` is 1 (the first sub-token of
# each token) and skips the others: a transition score links each masked
# position to the previous masked one, whatever lies between. The sequence is
# scanned position by position; at a skipped position the forward (or
# Viterbi) state is carried unchanged. This is the same chain as gathering
# the masked positions first, with no gather/scatter and any batch size or
# length.


def _time_major(x):
    rank = x.shape.ndims
    return tf.transpose(x, [1, 0] + list(range(2, rank)))


def crf_log_norm(emissions, mask, transitions):
    """log Z of each sequence: log-sum-exp of the scores of all tag paths.

    Args:
      emissions: float [B, T, K] per-position tag scores.
      mask: [B, T], 1 at the positions in the chain.
      transitions: float [K, K], score of tag i followed by tag j.

    Returns:
      float [B] (0 for a sequence with no masked position).
    """
    mask = tf.cast(mask, emissions.dtype)
    batch = tf.shape(emissions)[0]
    num_tags = tf.shape(emissions)[2]
    alpha0 = tf.zeros(tf.stack([batch, num_tags]), dtype=emissions.dtype)
    started0 = tf.zeros(tf.stack([batch, 1]), dtype=emissions.dtype)

    def step(carry, elems):
        alpha, started = carry
        emission, m = elems
        m = m[:, None]
        chained = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None, :, :], axis=1)
        new = started * (chained + emission) + (1.0 - started) * emission
        return m * new + (1.0 - m) * alpha, tf.maximum(started, m)

    alpha, started = tf.foldl(step, (_time_major(emissions), _time_major(mask)),
                              initializer=(alpha0, started0))
    return tf.reduce_logsumexp(alpha, axis=1) * started[:, 0]


def crf_sequence_score(emissions, tag_ids, mask, transitions):
    """Score of the given tag path: emissions at masked positions + transitions.

    Args:
      emissions: float [B, T, K].
      tag_ids: int [B, T] (anything, e.g. -1, at unmasked positions).
      mask: [B, T].
      transitions: float [K, K].

    Returns:
      float [B].
    """
    mask = tf.cast(mask, emissions.dtype)
    num_tags = tf.shape(emissions)[2]
    tags = tf.maximum(tf.cast(tag_ids, tf.int32), 0)
    emitted = tf.reduce_sum(tf.one_hot(tags, num_tags, dtype=emissions.dtype) * emissions, -1)
    emission_score = tf.reduce_sum(emitted * mask, axis=1)
    batch = tf.shape(emissions)[0]

    def step(carry, elems):
        score, previous, started = carry
        tag, m = elems
        pair = tf.gather_nd(transitions, tf.stack([previous, tag], axis=1))
        score = score + m * started * pair
        previous = tf.where(m > 0, tag, previous)
        return score, previous, tf.maximum(started, m)

    zeros = tf.zeros(tf.stack([batch]), dtype=emissions.dtype)
    transition_score, _, _ = tf.foldl(
        step, (_time_major(tags), _time_major(mask)),
        initializer=(zeros, tf.zeros(tf.stack([batch]), dtype=tf.int32), zeros))
    return emission_score + transition_score


def crf_log_likelihood(emissions, tag_ids, mask, transitions):
    """log p(tags | emissions) of each sequence under the linear-chain CRF.

    Args:
      emissions: float [B, T, K].
      tag_ids: int [B, T].
      mask: [B, T], 1 at the positions in the chain.
      transitions: float [K, K].

    Returns:
      float [B] (0 for a sequence with no masked position).
    """
    return (crf_sequence_score(emissions, tag_ids, mask, transitions) -
            crf_log_norm(emissions, mask, transitions))


def crf_decode(emissions, mask, transitions):
    """Viterbi decoding: the highest-scoring tag path.

    Args:
      emissions: float [B, T, K] (T >= 1).
      mask: [B, T], 1 at the positions in the chain.
      transitions: float [K, K].

    Returns:
      (path int32 [B, T], score float [B]). At masked positions the path is
      the best path; any other position repeats the tag of the nearest
      masked position before it (the first masked position's tag before
      that), e.g. a word's later sub-tokens carry the word's tag.
    """
    mask = tf.cast(mask, emissions.dtype)
    batch = tf.shape(emissions)[0]
    num_tags = tf.shape(emissions)[2]
    identity = tf.tile(tf.range(num_tags)[None, :], tf.stack([batch, 1]))
    delta0 = tf.zeros(tf.stack([batch, num_tags]), dtype=emissions.dtype)
    started0 = tf.zeros(tf.stack([batch]), dtype=emissions.dtype)

    def step(carry, elems):
        delta, started, _ = carry
        emission, m = elems
        scores = delta[:, :, None] + transitions[None, :, :]
        best_previous = tf.argmax(scores, axis=1, output_type=tf.int32)
        chained = tf.reduce_max(scores, axis=1) + emission
        s = started[:, None]
        new = s * chained + (1.0 - s) * emission
        mm = m[:, None]
        linked = tf.cast(mm * s, tf.int32)
        pointers = linked * best_previous + (1 - linked) * identity
        return mm * new + (1.0 - mm) * delta, tf.maximum(started, m), pointers

    deltas, starteds, pointers = tf.scan(step, (_time_major(emissions), _time_major(mask)),
                                         initializer=(delta0, started0, identity))
    last_delta = deltas[-1]
    last_tag = tf.argmax(last_delta, axis=1, output_type=tf.int32)
    score = tf.reduce_max(last_delta, axis=1) * starteds[-1]

    def back(tag, pointer):
        return tf.reduce_sum(pointer * tf.one_hot(tag, num_tags, dtype=tf.int32), axis=1)

    # earlier[t] = tag at t - 1 (earlier[0] is unused).
    earlier = tf.scan(back, pointers, initializer=last_tag, reverse=True)
    path = tf.concat([earlier[1:], last_tag[None, :]], axis=0)
    return tf.transpose(path, [1, 0]), score


# ---------------------------------------------------------------------------
# Model.
# ---------------------------------------------------------------------------


def head_variable_patterns():
    """Regexes of the head variables a pretrained checkpoint does not have."""
    return [r"^output_weights$", r"^output_bias$", r"^crf/transitions$"]


NerOutputs = collections.namedtuple("NerOutputs",
                                    ["loss", "per_example_loss", "logits", "predicted_ids"])


def create_model(albert_config, is_training, input_ids, input_mask, segment_ids, label_ids,
                 label_mask, num_labels, use_crf=False, dropout=0.1, use_one_hot_embeddings=False,
                 use_einsum=True):
    """Builds the encoder and the tagging head.

    Head: dropout (training) and a dense layer from the sequence output to
    ``num_labels`` scores per position (``output_weights`` [num_labels, H],
    ``output_bias`` [num_labels] at the root scope).

    * Softmax: cross-entropy averaged over the positions where label_mask is
      1 (in the whole batch); ``per_example_loss`` averages each example's
      own positions. predicted_ids is the argmax at every position.
    * CRF (``use_crf``): a linear-chain CRF with ``crf/transitions``
      [num_labels, num_labels] over the label_mask positions (each token's
      first sub-token; the positions between are skipped, see
      ``crf_decode``). The loss is the negative log-likelihood averaged over
      the examples that have at least one such position; predicted_ids is the
      Viterbi path.

    Args:
      albert_config: modeling.AlbertConfig.
      is_training: apply dropout.
      input_ids, input_mask, segment_ids: int32 [B, S].
      label_ids: int32 [B, S] (-1 where there is no label), or None (no loss).
      label_mask: int32 [B, S], 1 at each token's first sub-token. Needed for
        the loss and for the CRF; may be None for a softmax head without
        labels.
      num_labels: number of tags.
      use_crf: CRF head instead of softmax.
      dropout: dropout probability on the sequence output when training.
      use_one_hot_embeddings: one-hot embedding lookup (TPU).
      use_einsum: False builds the einsum-free (TFLite-friendly) graph.

    Returns:
      NerOutputs(loss, per_example_loss [B], logits [B, S, num_labels],
      predicted_ids int32 [B, S]); loss and per_example_loss are None
      without labels.

    Raises:
      ValueError: a CRF without label_mask.
    """
    if use_crf and label_mask is None:
        raise ValueError("the CRF head needs label_mask (1 at each token's first sub-token)")
    model = modeling.AlbertModel(config=albert_config, is_training=is_training, input_ids=input_ids,
                                 input_mask=input_mask, token_type_ids=segment_ids,
                                 use_one_hot_embeddings=use_one_hot_embeddings,
                                 use_einsum=use_einsum)
    sequence = model.get_sequence_output()
    batch, length, hidden = modeling.get_shape_list(sequence, expected_rank=3)
    output_weights = tf.get_variable("output_weights", [num_labels, hidden],
                                     initializer=tf.truncated_normal_initializer(stddev=0.02))
    output_bias = tf.get_variable("output_bias", [num_labels], initializer=tf.zeros_initializer())
    transitions = None
    if use_crf:
        with tf.variable_scope("crf"):
            transitions = tf.get_variable(
                "transitions", [num_labels, num_labels],
                initializer=tf.truncated_normal_initializer(stddev=albert_config.initializer_range))
    with tf.name_scope("ner_head"):
        x = sequence
        if is_training and dropout:
            x = modeling.dropout(x, dropout)
        flat = tf.reshape(x, [-1, hidden])
        logits = tf.nn.bias_add(tf.matmul(flat, output_weights, transpose_b=True), output_bias)
        logits = tf.reshape(logits, [batch, length, num_labels], name="logits")
        loss = per_example_loss = None
        if use_crf:
            predicted_ids, _ = crf_decode(logits, label_mask, transitions)
            if label_ids is not None:
                per_example_loss = -crf_log_likelihood(logits, label_ids, label_mask, transitions)
                has_tokens = tf.cast(tf.reduce_sum(label_mask, axis=1) > 0, tf.float32)
                loss = (tf.reduce_sum(per_example_loss * has_tokens) /
                        tf.maximum(tf.reduce_sum(has_tokens), 1.0))
        else:
            predicted_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
            if label_ids is not None:
                if label_mask is None:
                    mask = tf.cast(label_ids >= 0, tf.float32)
                else:
                    mask = tf.cast(label_mask, tf.float32)
                log_probs = tf.nn.log_softmax(logits, axis=-1)
                one_hot = tf.one_hot(tf.maximum(label_ids, 0), depth=num_labels, dtype=tf.float32)
                token_loss = -tf.reduce_sum(one_hot * log_probs, axis=-1) * mask
                per_example_loss = (tf.reduce_sum(token_loss, axis=1) /
                                    tf.maximum(tf.reduce_sum(mask, axis=1), 1.0))
                loss = tf.reduce_sum(token_loss) / tf.maximum(tf.reduce_sum(mask), 1.0)
    return NerOutputs(loss, per_example_loss, logits,
                      tf.identity(predicted_ids, name="predicted_ids"))


def model_fn_builder(albert_config, num_labels, init_checkpoint=None, learning_rate=5e-5,
                     num_train_steps=1, num_warmup_steps=0, use_tpu=False,
                     use_one_hot_embeddings=False, optimizer="adamw", use_crf=False, dropout=0.1,
                     init_report_file=None, verbose=False):
    """The Estimator model_fn (TPUEstimatorSpec when ``use_tpu``).

    Training initialises from ``init_checkpoint`` strictly: every encoder
    variable must be in it; only the head (``output_weights``,
    ``output_bias``, ``crf/transitions``) may be new. The load is reported in
    one line, once: not when the Estimator restores a checkpoint of its own
    output directory instead.

    Features: input_ids, input_mask, segment_ids, label_ids, label_mask (see
    ``feature_spec``). PREDICT returns ``predicted_ids`` [B, S] (the Viterbi
    path with the CRF), ``label_ids`` and ``label_mask``; evaluation runs
    predict and computes the metrics in numpy.

    Args:
      albert_config: modeling.AlbertConfig.
      num_labels: number of tags.
      init_checkpoint: pretrained checkpoint, or None to train from scratch.
      learning_rate: peak learning rate.
      num_train_steps: total training steps.
      num_warmup_steps: warmup steps.
      use_tpu: build TPU specs.
      use_one_hot_embeddings: one-hot embedding lookup.
      optimizer: "adamw" or "lamb".
      use_crf: CRF head.
      dropout: dropout on the sequence output.
      init_report_file: where the full load report is written.
      verbose: log every variable of the load report.

    Returns:
      model_fn(features, labels, mode, params, config).
    """

    def build(features, is_training):
        outputs = create_model(albert_config, is_training, features["input_ids"],
                               features["input_mask"], features["segment_ids"],
                               features["label_ids"], features["label_mask"], num_labels, use_crf,
                               dropout, use_one_hot_embeddings)
        return outputs.loss, outputs

    def predictions(features, outputs):
        return {
            "predicted_ids": outputs.predicted_ids,
            "label_ids": features["label_ids"],
            "label_mask": features["label_mask"]
        }

    return driver_utils.fine_tuning_model_fn(build, predictions, init_checkpoint,
                                             head_variable_patterns(), learning_rate,
                                             num_train_steps, num_warmup_steps, use_tpu=use_tpu,
                                             optimizer=optimizer, init_report_file=init_report_file,
                                             verbose=verbose)


def export_saved_model(albert_config, num_labels, checkpoint, export_dir, use_crf=False,
                       assets=None):
    """Writes a SavedModel of a fine-tuned tagger (einsum-free graph).

    The ``serving_default`` signature (also named ``predict``) takes
    ``input_ids``, ``input_mask`` and ``segment_ids`` (int32 [batch, length],
    any length up to max_position_embeddings) and, with the CRF, also
    ``label_mask`` (1 at each token's first sub-token: the CRF's chain); it
    returns ``tag_ids`` int32 [batch, length] (the argmax, or the Viterbi
    path with the CRF) and ``logits`` [batch, length, num_labels]. An
    existing SavedModel in ``export_dir`` is replaced; the new one appears
    only when complete.

    Args:
      albert_config: modeling.AlbertConfig of the checkpoint.
      num_labels: number of tags.
      checkpoint: fine-tuned checkpoint prefix.
      export_dir: output directory.
      use_crf: the checkpoint has a CRF head.
      assets: optional dict file name -> text or bytes, written to
        ``<export_dir>/assets.extra/`` (config, vocabulary, labels).

    Raises:
      ValueError: when export_dir exists and holds something else than a
        SavedModel.
    """
    names = tuple(classifier_utils.SERVING_INPUTS) + (("label_mask",) if use_crf else ())

    def build_signature():
        inputs = collections.OrderedDict(
            (name, tf.placeholder(tf.int32, [None, None], name=name)) for name in names)
        outputs = create_model(albert_config, False, inputs["input_ids"],
                               inputs["input_mask"], inputs["segment_ids"], None,
                               inputs.get("label_mask"), num_labels, use_crf=use_crf,
                               use_einsum=False)
        return inputs, {
            "tag_ids": tf.identity(outputs.predicted_ids, name="tag_ids"),
            "logits": tf.identity(outputs.logits, name="tag_logits")
        }

    driver_utils.write_saved_model(export_dir, build_signature, checkpoint, assets,
                                   make_saver=lambda _: tf.train.Saver(tf.global_variables()))


# ---------------------------------------------------------------------------
# Metrics.
# ---------------------------------------------------------------------------


def _ratio(numerator, denominator):
    return float(numerator) / denominator if denominator else 0.0


def _prf(correct, predicted, support):
    precision = _ratio(correct, predicted)
    recall = _ratio(correct, support)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return collections.OrderedDict([("precision", precision), ("recall", recall), ("f1", f1),
                                    ("support", support), ("predicted", predicted),
                                    ("correct", correct)])


def entity_metrics(gold_tag_lists, pred_tag_lists, scheme="BIO"):
    """Entity-level precision, recall and F1 (seqeval's conventions).

    An entity counts as correct only when a predicted entity has the same
    type, start and end as a gold one; a partly overlapping or mistyped
    entity is a false positive and a false negative. Both sides are parsed
    leniently in ``scheme`` (see ``tags_to_spans``).

    Args:
      gold_tag_lists: list of gold tag lists.
      pred_tag_lists: list of predicted tag lists (same lengths).
      scheme: the tag scheme of both.

    Returns:
      OrderedDict: ``precision``, ``recall``, ``f1`` (micro: over all
      entities), ``support`` (gold entities), ``predicted``, ``correct``,
      ``macro_f1`` (mean of the per-type F1) and ``per_type``: type ->
      OrderedDict(precision, recall, f1, support, predicted, correct), types
      sorted.

    Raises:
      ValueError: different numbers of sentences or tags.
    """
    if len(gold_tag_lists) != len(pred_tag_lists):
        raise ValueError("%d gold sentences but %d predicted" %
                         (len(gold_tag_lists), len(pred_tag_lists)))
    gold, predicted = set(), set()
    for index, (gold_tags, pred_tags) in enumerate(zip(gold_tag_lists, pred_tag_lists)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError("sentence %d: %d gold tags but %d predicted" %
                             (index, len(gold_tags), len(pred_tags)))
        gold.update((index,) + span for span in tags_to_spans(gold_tags, scheme))
        predicted.update((index,) + span for span in tags_to_spans(pred_tags, scheme))
    correct = gold & predicted
    types = sorted(set(s[1] for s in gold) | set(s[1] for s in predicted))
    per_type = collections.OrderedDict()
    for type_ in types:
        per_type[type_] = _prf(sum(1 for s in correct if s[1] == type_),
                               sum(1 for s in predicted if s[1] == type_),
                               sum(1 for s in gold if s[1] == type_))
    metrics = _prf(len(correct), len(predicted), len(gold))
    metrics["macro_f1"] = (float(np.mean([m["f1"] for m in per_type.values()]))
                           if per_type else 0.0)
    metrics["per_type"] = per_type
    return metrics


def token_accuracy(gold_tag_lists, pred_tag_lists):
    """Fraction of tokens (all of them, O included) whose tag is right."""
    total = correct = 0
    for gold_tags, pred_tags in zip(gold_tag_lists, pred_tag_lists):
        if len(gold_tags) != len(pred_tags):
            raise ValueError("%d gold tags but %d predicted" % (len(gold_tags), len(pred_tags)))
        total += len(gold_tags)
        correct += sum(1 for g, p in zip(gold_tags, pred_tags) if g == p)
    return _ratio(correct, total)


def metrics_report(metrics, digits=4):
    """A text table of ``entity_metrics``: one row per type, then micro and macro."""
    width = max([len("micro avg")] + [len(t) for t in metrics["per_type"]])
    header = "%s  %9s  %9s  %9s  %9s" % ("".rjust(width), "precision", "recall", "f1", "support")
    row = "%s  %9." + str(digits) + "f  %9." + str(digits) + "f  %9." + str(digits) + "f  %9d"
    lines = [header]
    for type_, m in metrics["per_type"].items():
        lines.append(row % (type_.rjust(width), m["precision"], m["recall"], m["f1"], m["support"]))
    lines.append(row % ("micro avg".rjust(width), metrics["precision"], metrics["recall"],
                        metrics["f1"], metrics["support"]))
    lines.append(("%s  %9s  %9s  %9." + str(digits) + "f  %9d") %
                 ("macro f1".rjust(width), "", "", metrics["macro_f1"], metrics["support"]))
    return "\n".join(lines) + "\n"
