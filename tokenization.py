# coding=utf-8
"""Tokenizers for ALBERT: WordPiece (vocab.txt) and SentencePiece (*.model).

Two families of vocabularies are in use for ALBERT checkpoints:

* WordPiece ``vocab.txt`` (all Chinese models, 21,128 entries): one token per
  line, the line index is the id. Text goes through :class:`BasicTokenizer`
  (cleaning, one token per CJK character, optional lower-casing and accent
  stripping, punctuation splitting) and then :class:`WordpieceTokenizer`
  (greedy longest-match-first with ``##`` continuations).
* SentencePiece ``*.model`` (Google's English models, ``30k-clean.model``):
  text is normalised by :func:`preprocess_text` and cut by
  :func:`encode_pieces`.

:class:`FullTokenizer` wraps both behind one interface, and
:meth:`FullTokenizer.from_files` picks the right one from the files given.

This module does not import TensorFlow; ``sentencepiece`` is imported only
when a SentencePiece model is actually used.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import io
import os
import re
import unicodedata

import six

PAD = "[PAD]"
UNK = "[UNK]"
CLS = "[CLS]"
SEP = "[SEP]"
MASK = "[MASK]"

SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)

# The word-start marker of SentencePiece (U+2581, LOWER ONE EIGHTH BLOCK), as a
# text string so that it compares equal to the pieces sentencepiece returns.
SPIECE_UNDERLINE = u"\u2581"

# Prefix WordPiece puts on a piece that continues a word.
WORDPIECE_CONTINUATION = "##"

_CJK_RANGES = (
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0x3400, 0x4DBF),  # Extension A
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2B73F),  # Extension C
    (0x2B740, 0x2B81F),  # Extension D
    (0x2B820, 0x2CEAF),  # Extension E
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x2F800, 0x2FA1F),  # CJK Compatibility Ideographs Supplement
)

# ASCII characters treated as punctuation although Unicode files some of them
# under symbols (e.g. "$", "+", "^", "`"): every non-alphanumeric printable
# ASCII character.
_ASCII_PUNCTUATION_RANGES = ((33, 47), (58, 64), (91, 96), (123, 126))

# ---------------------------------------------------------------------------
# Text type helpers.
# ---------------------------------------------------------------------------


def convert_to_unicode(text):
    """Returns `text` as a text string (`str`), decoding bytes as UTF-8.

    Invalid UTF-8 byte sequences are dropped, as the reference tokenizers do.

    Args:
      text: a `str` or `bytes` object.

    Returns:
      The text as `str`.

    Raises:
      TypeError: if `text` is neither text nor bytes.
    """
    if isinstance(text, six.text_type):
        return text
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "ignore")
    raise TypeError("Expected str or bytes, got %s" % type(text).__name__)


def printable_text(text):
    """Returns `text` in a form suitable for logging or printing.

    On Python 3 this is the text string itself (bytes are decoded as UTF-8).

    Args:
      text: a `str` or `bytes` object.

    Returns:
      The text as `str`.

    Raises:
      TypeError: if `text` is neither text nor bytes.
    """
    return convert_to_unicode(text)


# ---------------------------------------------------------------------------
# Vocabulary files.
# ---------------------------------------------------------------------------


def _line_number_of_offset(data, offset):
    """Returns the 1-based line number holding byte `offset` of `data`."""
    return data.count(b"\n", 0, offset) + 1


def load_vocab(vocab_file):
    """Reads a WordPiece vocabulary file (one token per line) into a dict.

    The file is decoded as UTF-8 (a leading byte-order mark is ignored) and
    split on "\\n" only. Unicode line separators such as U+2028 are ordinary
    characters here: the Chinese vocab.txt holds U+2028 as a token of its own
    (line index 343) and "##" + U+2028 (13502), and splitting on them would
    shift every later id. From each line a trailing "\\r" (Windows line ends)
    and surrounding spaces and tabs are removed; nothing else is stripped.
    Empty lines at the end of the file are ignored.

    Args:
      vocab_file: path of the vocabulary file.

    Returns:
      A `collections.OrderedDict` mapping each token to its id (its 0-based
      line index), in file order.

    Raises:
      IOError: (`FileNotFoundError`) if the file does not exist.
      ValueError: if the file is empty, binary or not UTF-8, has an empty line
        before its last token, holds a token twice, or looks like a
        SentencePiece ``.vocab`` file (piece, tab, score).
    """
    if not os.path.exists(vocab_file):
        raise FileNotFoundError("Vocab file not found: %s" % vocab_file)
    with io.open(vocab_file, "rb") as reader:
        data = reader.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError("%s:%d: vocab file is not valid UTF-8 (%s); if it is a "
                         "SentencePiece .model, pass it as spm_model_file" %
                         (vocab_file, _line_number_of_offset(data, error.start), error.reason))
    if "\x00" in text:
        raise ValueError("%s:%d: vocab file holds a NUL byte, so it is binary, not a "
                         "WordPiece vocab; if it is a SentencePiece .model, pass it as "
                         "spm_model_file" %
                         (vocab_file, _line_number_of_offset(data, data.index(b"\x00"))))

    tokens = [line.rstrip("\r").strip(" \t") for line in text.split("\n")]
    while tokens and not tokens[-1]:
        tokens.pop()
    if not tokens:
        raise ValueError("Vocab file is empty: %s" % vocab_file)

    vocab = collections.OrderedDict()
    for index, token in enumerate(tokens):
        line_number = index + 1
        if not token:
            raise ValueError("%s:%d: empty line in vocab file; every line must hold one "
                             "token (a blank line would shift the ids of all later tokens)" %
                             (vocab_file, line_number))
        if "\t" in token:
            raise ValueError("%s:%d: token %r contains a tab; this looks like a "
                             "SentencePiece .vocab file (piece<TAB>score), which is not a "
                             "WordPiece vocab: pass the matching .model file as "
                             "spm_model_file instead" % (vocab_file, line_number, token))
        if token in vocab:
            raise ValueError("%s:%d: duplicated token %r (first seen at line %d)" %
                             (vocab_file, line_number, token, vocab[token] + 1))
        vocab[token] = index
    return vocab


def convert_by_vocab(vocab, items):
    """Maps every item of `items` through the dict `vocab`.

    Args:
      vocab: a dict (token->id or id->token).
      items: an iterable of keys of `vocab`.

    Returns:
      A list of the mapped values.

    Raises:
      KeyError: if an item is not in `vocab`.
    """
    return [vocab[item] for item in items]


def whitespace_tokenize(text):
    """Strips `text` and splits it on runs of whitespace.

    Args:
      text: a text string.

    Returns:
      A list of the non-empty whitespace-separated parts.
    """
    return text.split()


# ---------------------------------------------------------------------------
# Character classes.
# ---------------------------------------------------------------------------


def _is_whitespace(char):
    """Returns whether `char` is whitespace for tokenization purposes.

    Space, tab, newline and carriage return count, as do all Unicode space
    separators (category Zs, e.g. U+00A0, U+3000) and the line and paragraph
    separators U+2028 and U+2029 (categories Zl, Zp).
    """
    if char in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(char) in ("Zs", "Zl", "Zp")


def _is_control(char):
    """Returns whether `char` is a control or format character to drop.

    Tab, newline and carriage return are whitespace, not control characters.
    Other characters of categories Cc (controls) and Cf (format characters
    such as U+200B ZERO WIDTH SPACE or U+FEFF) are control characters.
    """
    if char in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
    """Returns whether `char` is punctuation (split off as its own token).

    All non-alphanumeric printable ASCII characters count (so "$", "+", "^"
    and "`" do, although Unicode calls them symbols), as does every character
    of a Unicode punctuation category (P*), e.g. the full-width comma U+FF0C.
    """
    code_point = ord(char)
    for low, high in _ASCII_PUNCTUATION_RANGES:
        if low <= code_point <= high:
            return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(code_point):
    """Returns whether the code point is a CJK ideograph (see _CJK_RANGES).

    Hangul, Hiragana and Katakana are not included: they are written with
    spaces or tokenized like other alphabets.
    """
    for low, high in _CJK_RANGES:
        if low <= code_point <= high:
            return True
    return False


# Cache of the cleaning step per character: "" (drop), " " (whitespace),
# " c " (CJK ideograph, isolated) or the character itself.
_CLEANED_CHARS = {}


def _clean_char(char):
    """Returns what the cleaning and CJK-spacing step turns `char` into."""
    cleaned = _CLEANED_CHARS.get(char)
    if cleaned is None:
        code_point = ord(char)
        if code_point == 0 or code_point == 0xFFFD or _is_control(char):
            cleaned = ""
        elif _is_whitespace(char):
            cleaned = " "
        elif _is_chinese_char(code_point):
            cleaned = " %s " % char
        else:
            cleaned = char
        _CLEANED_CHARS[char] = cleaned
    return cleaned


# ---------------------------------------------------------------------------
# WordPiece tokenization.
# ---------------------------------------------------------------------------


class BasicTokenizer(object):
    """Splits text into words and punctuation, one token per CJK character.

    Steps: drop NUL, U+FFFD and control/format characters; map whitespace to
    spaces; put spaces around CJK ideographs; split on whitespace; if
    `do_lower_case`, lower-case each word and strip accents (NFD, then drop
    non-spacing marks); split every punctuation character off as a token.

    Full-width forms are not folded to ASCII: full-width punctuation such as
    "，" (U+FF0C) or "！" (U+FF01) is Unicode punctuation and is split off, but
    full-width letters and digits ("ＡＢＣ", "１２") stay as they are (lower-casing
    turns "Ａ" into the full-width "ａ", not into "a"), and full-width symbols
    such as "＄" (Sc) or "＋" (Sm) are neither punctuation nor split.
    """

    def __init__(self, do_lower_case=True):
        """Creates the tokenizer.

        Args:
          do_lower_case: whether to lower-case the input and strip accents.
        """
        self.do_lower_case = do_lower_case

    def tokenize(self, text):
        """Tokenizes a piece of text.

        Args:
          text: a `str` or UTF-8 `bytes` object.

        Returns:
          A list of tokens (words, punctuation characters, CJK characters).
        """
        text = convert_to_unicode(text)
        cleaned = "".join([_clean_char(char) for char in text])
        tokens = []
        for word in cleaned.split():
            if self.do_lower_case:
                word = _strip_accents(word.lower())
            tokens.extend(_split_on_punctuation(word))
        return [token for token in tokens if token]


def _strip_accents(text):
    """Decomposes `text` (NFD) and removes non-spacing marks (category Mn)."""
    if _is_ascii(text):
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return "".join([char for char in decomposed if unicodedata.category(char) != "Mn"])


def _is_ascii(text):
    """Returns whether every character of `text` is ASCII."""
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return True


# Cache of _is_punctuation per character.
_PUNCTUATION_CHARS = {}


def _split_on_punctuation(word):
    """Splits `word` so that every punctuation character is its own token."""
    pieces = []
    start = 0
    for position, char in enumerate(word):
        is_punctuation = _PUNCTUATION_CHARS.get(char)
        if is_punctuation is None:
            is_punctuation = _is_punctuation(char)
            _PUNCTUATION_CHARS[char] = is_punctuation
        if is_punctuation:
            if start < position:
                pieces.append(word[start:position])
            pieces.append(char)
            start = position + 1
    if start < len(word):
        pieces.append(word[start:])
    return pieces


class WordpieceTokenizer(object):
    """Cuts words into WordPiece sub-words, greedy longest-match-first.

    A word is cut from the left: at each position the longest vocab entry that
    matches is taken, with "##" prefixed to every piece after the first. If
    some position of the word matches no entry, or the word is longer than
    `max_input_chars_per_word` characters, the whole word becomes `unk_token`.
    For example, with "un", "##aff" and "##able" in the vocab, "unaffable"
    becomes ["un", "##aff", "##able"].
    """

    def __init__(self, vocab, unk_token=UNK, max_input_chars_per_word=200):
        """Creates the tokenizer.

        Args:
          vocab: a container of tokens (e.g. the dict from `load_vocab`).
          unk_token: the token that replaces words that cannot be cut.
          max_input_chars_per_word: longer words become `unk_token`.
        """
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        # No vocab entry is longer than this, so longer candidates are skipped.
        self._max_token_chars = max([len(token) for token in vocab] or [0])

    def tokenize(self, text):
        """Cuts every whitespace-separated word of `text` into pieces.

        `text` should already have gone through `BasicTokenizer`.

        Args:
          text: a `str` or UTF-8 `bytes` object.

        Returns:
          A list of WordPiece tokens.
        """
        output_tokens = []
        for word in whitespace_tokenize(convert_to_unicode(text)):
            output_tokens.extend(self.tokenize_word(word))
        return output_tokens

    def tokenize_word(self, word):
        """Cuts one word (a text string without whitespace) into pieces.

        Args:
          word: the word, e.g. one token from `BasicTokenizer`.

        Returns:
          A list of WordPiece tokens, or [unk_token].
        """
        length = len(word)
        if length > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces = []
        start = 0
        while start < length:
            prefix = WORDPIECE_CONTINUATION if start > 0 else ""
            end = min(length, start + self._max_token_chars - len(prefix))
            piece = None
            while end > start:
                candidate = prefix + word[start:end]
                if candidate in self.vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces


# ---------------------------------------------------------------------------
# SentencePiece helpers.
# ---------------------------------------------------------------------------


def preprocess_text(inputs, remove_space=True, lower=False):
    """Normalises text before SentencePiece encoding.

    Args:
      inputs: a `str` or UTF-8 `bytes` object.
      remove_space: if true, strip the text and collapse each run of
        whitespace into one space.
      lower: if true, lower-case the result.

    Returns:
      The text with LaTeX-style quotes (`` and '') replaced by '"', decomposed
      (NFKD) with combining marks removed, and optionally lower-cased.
    """
    outputs = convert_to_unicode(inputs)
    if remove_space:
        outputs = " ".join(outputs.split())
    outputs = outputs.replace("``", '"').replace("''", '"')
    outputs = unicodedata.normalize("NFKD", outputs)
    outputs = "".join([char for char in outputs if not unicodedata.combining(char)])
    if lower:
        outputs = outputs.lower()
    return outputs


def _ends_with_digit_comma(piece):
    """Returns whether `piece` ends with a digit followed by a comma."""
    return len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()


def encode_pieces(sp_model, text, sample=False):
    """Encodes text into SentencePiece pieces, splitting "<digits>," pieces.

    A piece that ends in a digit followed by a comma (e.g. "▁123,") is cut into
    the pieces of its number part and a separate ",", so that numbers are
    tokenized the same way whether or not a comma follows them. The number
    part keeps the word-start marker "▁" (U+2581) exactly when the original
    piece had it, so the concatenation of the pieces is unchanged. If the
    number part would contain a piece unknown to the model (e.g. "201" when
    only "▁201" exists), the original piece is kept whole instead.

    Args:
      sp_model: a loaded `sentencepiece.SentencePieceProcessor`.
      text: a `str` or UTF-8 `bytes` object (usually from `preprocess_text`).
      sample: if true, sample a segmentation (subword regularisation, 64-best,
        alpha 0.1) instead of taking the best one.

    Returns:
      A list of pieces (`str`).
    """
    text = convert_to_unicode(text)
    if sample:
        pieces = sp_model.SampleEncodeAsPieces(text, 64, 0.1)
    else:
        pieces = sp_model.EncodeAsPieces(text)
    output = []
    for piece in pieces:
        if not _ends_with_digit_comma(piece):
            output.append(piece)
            continue
        number = piece[:-1]
        starts_word = number.startswith(SPIECE_UNDERLINE)
        number_pieces = list(sp_model.EncodeAsPieces(number.replace(SPIECE_UNDERLINE, "")))
        # The model adds its own word-start marker to the re-encoded number;
        # make the marker match the original piece.
        first_has_marker = bool(number_pieces) and number_pieces[0].startswith(SPIECE_UNDERLINE)
        if starts_word and not first_has_marker:
            number_pieces.insert(0, SPIECE_UNDERLINE)
        elif not starts_word and first_has_marker:
            rest = number_pieces[0][len(SPIECE_UNDERLINE):]
            if rest:
                number_pieces[0] = rest
            else:
                number_pieces.pop(0)
        unk_id = sp_model.unk_id()
        if any(sp_model.PieceToId(number_piece) == unk_id for number_piece in number_pieces):
            # Never trade a known piece for unknown ones.
            output.append(piece)
            continue
        output.extend(number_pieces)
        output.append(",")
    return output


def encode_ids(sp_model, text, sample=False):
    """Encodes text into SentencePiece ids (see `encode_pieces`).

    Args:
      sp_model: a loaded `sentencepiece.SentencePieceProcessor`.
      text: a `str` or UTF-8 `bytes` object.
      sample: if true, sample a segmentation instead of taking the best one.

    Returns:
      A list of ids (`int`); pieces unknown to the model map to its unk id.
    """
    return [sp_model.PieceToId(piece) for piece in encode_pieces(sp_model, text, sample=sample)]


def _load_sentencepiece(spm_model_file):
    """Loads a SentencePiece model file, with a clear error if it fails."""
    import sentencepiece as spm  # pylint: disable=g-import-not-at-top
    if not os.path.isfile(spm_model_file):
        raise FileNotFoundError("SentencePiece model file not found: %s" % spm_model_file)
    sp_model = spm.SentencePieceProcessor()
    try:
        loaded = sp_model.Load(spm_model_file)
    except (RuntimeError, OSError) as error:
        raise ValueError("%s: not a SentencePiece model (%s)" % (spm_model_file, error))
    if loaded is False:
        raise ValueError("%s: not a SentencePiece model" % spm_model_file)
    return sp_model


def _looks_like_sentencepiece_model(path):
    """Returns whether `path` looks like a binary SentencePiece model."""
    if path.endswith(".model"):
        return True
    with io.open(path, "rb") as reader:
        head = reader.read(4096)
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the chunk is still text.
        return error.start < len(head) - 3
    return False


# ---------------------------------------------------------------------------
# The full tokenizer.
# ---------------------------------------------------------------------------


class FullTokenizer(object):
    """Text -> tokens -> ids, with a WordPiece vocab or a SentencePiece model.

    WordPiece mode (`vocab_file` given, no `spm_model_file`): `BasicTokenizer`
    then `WordpieceTokenizer`; ids are line indices of the vocab file.

    SentencePiece mode (`spm_model_file` given; `vocab_file` is then ignored):
    `preprocess_text` (lower-casing if `do_lower_case`) then `encode_pieces`;
    the vocab is the model's own piece list (id -> piece).

    Attributes:
      vocab: `OrderedDict` token -> id.
      inv_vocab: dict id -> token.
      do_lower_case: whether input text is lower-cased.
      vocab_file: the WordPiece vocab path (None in SentencePiece mode).
      spm_model_file: the SentencePiece model path (None in WordPiece mode).
      sp_model: the loaded `SentencePieceProcessor`, or None.
      unk_token: the unknown token ("[UNK]" or the model's unk piece), or None
        if the vocab has none.
    """

    def __init__(self, vocab_file=None, do_lower_case=True, spm_model_file=None):
        """Creates the tokenizer.

        Args:
          vocab_file: path of a WordPiece vocab.txt.
          do_lower_case: whether to lower-case input text (and, in WordPiece
            mode, strip accents). Chinese and ALBERT models use True.
          spm_model_file: path of a SentencePiece model; selects that mode.

        Raises:
          ValueError: if neither file is given, or a file is malformed.
          IOError: (`FileNotFoundError`) if a file does not exist.
        """
        self.do_lower_case = do_lower_case
        self.sp_model = None
        self.basic_tokenizer = None
        self.wordpiece_tokenizer = None
        if spm_model_file:
            self.vocab_file = None
            self.spm_model_file = spm_model_file
            self.sp_model = _load_sentencepiece(spm_model_file)
            self.vocab = collections.OrderedDict((self.sp_model.IdToPiece(index), index)
                                                 for index in range(self.sp_model.GetPieceSize()))
            unk_id = self.sp_model.unk_id()
            self.unk_token = (self.sp_model.IdToPiece(unk_id)
                              if 0 <= unk_id < len(self.vocab) else None)
        elif vocab_file:
            self.vocab_file = vocab_file
            self.spm_model_file = None
            self.vocab = load_vocab(vocab_file)
            self.unk_token = UNK if UNK in self.vocab else None
            self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
            self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
        else:
            raise ValueError("FullTokenizer needs a vocab_file (WordPiece vocab.txt) or an "
                             "spm_model_file (SentencePiece .model)")
        self.inv_vocab = {index: token for token, index in self.vocab.items()}

    @classmethod
    def from_files(cls, vocab_file=None, spm_model_file=None, do_lower_case=True):
        """Builds the right tokenizer for whatever vocabulary files are given.

        * `spm_model_file` given: SentencePiece mode.
        * `vocab_file` is a SentencePiece model (".model" or binary content):
          SentencePiece mode with that model.
        * `vocab_file` is a SentencePiece ".vocab" with a ".model" next to it:
          SentencePiece mode with that model.
        * otherwise: WordPiece mode (e.g. the Chinese vocab.txt).

        Args:
          vocab_file: path of a vocab file (WordPiece, or see above).
          spm_model_file: path of a SentencePiece model.
          do_lower_case: whether to lower-case input text.

        Returns:
          A `FullTokenizer`.

        Raises:
          ValueError: if neither file is given, or a file is malformed.
          IOError: (`FileNotFoundError`) if a file does not exist.
        """
        if not spm_model_file and vocab_file:
            if not os.path.isfile(vocab_file):
                raise FileNotFoundError("Vocab file not found: %s" % vocab_file)
            sibling_model = os.path.splitext(vocab_file)[0] + ".model"
            if _looks_like_sentencepiece_model(vocab_file):
                spm_model_file = vocab_file
            elif vocab_file.endswith(".vocab") and os.path.isfile(sibling_model):
                spm_model_file = sibling_model
        return cls(vocab_file=vocab_file, do_lower_case=do_lower_case,
                   spm_model_file=spm_model_file)

    @classmethod
    def from_scratch(cls, vocab_file, do_lower_case, spm_model_file):
        """Same as the constructor (the name Google's ALBERT code uses).

        Args:
          vocab_file: path of a WordPiece vocab.txt.
          do_lower_case: whether to lower-case input text.
          spm_model_file: path of a SentencePiece model, or None.

        Returns:
          A `FullTokenizer`.
        """
        return cls(vocab_file=vocab_file, do_lower_case=do_lower_case,
                   spm_model_file=spm_model_file)

    @property
    def vocab_size(self):
        """The number of entries in the vocabulary."""
        return len(self.vocab)

    @property
    def is_sentencepiece(self):
        """Whether this tokenizer uses a SentencePiece model."""
        return self.sp_model is not None

    def tokenize(self, text):
        """Tokenizes text into vocab tokens.

        Args:
          text: a `str` or UTF-8 `bytes` object.

        Returns:
          A list of tokens, each of them in `vocab` (unknown words become the
          unk token).
        """
        if self.sp_model is not None:
            return encode_pieces(self.sp_model, preprocess_text(text, lower=self.do_lower_case))
        tokens = []
        tokenize_word = self.wordpiece_tokenizer.tokenize_word
        for word in self.basic_tokenizer.tokenize(text):
            tokens.extend(tokenize_word(word))
        return tokens

    def convert_tokens_to_ids(self, tokens):
        """Maps tokens to ids.

        A token that is not in the vocab maps to the id of the unk token
        ("[UNK]" in WordPiece mode, the model's unk piece in SentencePiece
        mode); if the vocab has no unk token, it is an error.

        Args:
          tokens: an iterable of tokens.

        Returns:
          A list of ids.

        Raises:
          ValueError: if a token is unknown and the vocab has no unk token.
        """
        vocab = self.vocab
        unk_id = vocab.get(self.unk_token) if self.unk_token else None
        ids = []
        for token in tokens:
            token_id = vocab.get(token, unk_id)
            if token_id is None:
                raise ValueError("Token %r is not in the vocabulary (%s), which has no %s "
                                 "token" % (token, self._vocab_source(), UNK))
            ids.append(token_id)
        return ids

    def convert_ids_to_tokens(self, ids):
        """Maps ids to tokens.

        Args:
          ids: an iterable of integer ids (Python or numpy integers).

        Returns:
          A list of tokens.

        Raises:
          ValueError: if an id is outside [0, vocab_size).
        """
        tokens = []
        for token_id in ids:
            token = self.inv_vocab.get(int(token_id))
            if token is None:
                raise ValueError("Id %d is outside the vocabulary (%s, %d entries)" %
                                 (int(token_id), self._vocab_source(), self.vocab_size))
            tokens.append(token)
        return tokens

    def _vocab_source(self):
        """Returns the path the vocabulary was read from."""
        return self.spm_model_file or self.vocab_file


# ---------------------------------------------------------------------------
# Consistency checks.
# ---------------------------------------------------------------------------


def validate_vocab_size(vocab_size, config_vocab_size, vocab_file=None, config_file=None):
    """Checks that the vocabulary and the model config agree on the size.

    Args:
      vocab_size: number of entries of the vocabulary (tokenizer).
      config_vocab_size: `vocab_size` of the model config.
      vocab_file: path of the vocab/model file, for the error message.
      config_file: path of the config file, for the error message.

    Raises:
      ValueError: if the sizes differ (or the config has no vocab_size).
    """
    vocab_name = vocab_file or "<vocab>"
    config_name = config_file or "<config>"
    if config_vocab_size is None:
        raise ValueError("Model config %s has no vocab_size (vocab %s has %d "
                         "entries)" % (config_name, vocab_name, vocab_size))
    if int(vocab_size) != int(config_vocab_size):
        raise ValueError("Vocabulary size mismatch: vocab %s has %d entries but model "
                         "config %s has vocab_size=%d; use the vocab file that belongs to "
                         "the model" %
                         (vocab_name, int(vocab_size), config_name, int(config_vocab_size)))


def check_vocab_matches_config(tokenizer, config, config_file=None):
    """Checks a tokenizer against a model config (see `validate_vocab_size`).

    Args:
      tokenizer: an object with `vocab_size` (e.g. a `FullTokenizer`); its
        `spm_model_file` or `vocab_file` attribute, if any, names the file.
      config: an object with a `vocab_size` attribute, or a dict with a
        "vocab_size" key.
      config_file: path of the config file, for the error message.

    Raises:
      ValueError: if the sizes differ.
    """
    if isinstance(config, dict):
        config_vocab_size = config.get("vocab_size")
    else:
        config_vocab_size = getattr(config, "vocab_size", None)
    vocab_file = (getattr(tokenizer, "spm_model_file", None) or
                  getattr(tokenizer, "vocab_file", None))
    validate_vocab_size(tokenizer.vocab_size, config_vocab_size, vocab_file=vocab_file,
                        config_file=config_file)


# Released models trained on lower-cased text (compared lower-cased).
_UNCASED_MODEL_NAMES = frozenset([
    "uncased_l-24_h-1024_a-16",
    "uncased_l-12_h-768_a-12",
    "wwm_uncased_l-24_h-1024_a-16",
    "multilingual_l-12_h-768_a-12",
    "chinese_l-12_h-768_a-12",
])
# Released models trained on cased text (compared lower-cased).
_CASED_MODEL_NAMES = frozenset([
    "cased_l-12_h-768_a-12",
    "cased_l-24_h-1024_a-16",
    "wwm_cased_l-24_h-1024_a-16",
    "multi_cased_l-12_h-768_a-12",
])
# ALBERT releases (brightmart's Chinese ones, Google's English v1/v2 and
# Chinese ones) and Chinese BERT variants: all lower-cased.
_UNCASED_MODEL_PATTERNS = (
    re.compile(r"^albert_(tiny|small|base|large|xlarge|xxlarge)(_zh)?"
               r"(_google)?(_v[12])?(_\d+k)?(_additional_\d+k_steps)?$"),
    re.compile(r"^chinese_[a-z0-9_]*l-\d+_h-\d+_a-\d+$"),
)


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
    """Checks `do_lower_case` against the name of a released checkpoint.

    Only catches obvious mistakes: a path component that is the name of a
    known release (e.g. "albert_base_zh", "albert_tiny_489k", "albert_base_v2",
    "chinese_L-12_H-768_A-12", "cased_L-12_H-768_A-12"). Every Chinese and
    ALBERT release is lower-cased. Other names pass silently.

    Args:
      do_lower_case: the lower-casing setting about to be used.
      init_checkpoint: checkpoint path (may be None or empty).

    Raises:
      ValueError: if the setting contradicts the named release.
    """
    if not init_checkpoint:
        return
    components = [part for part in re.split(r"[/\\]+", init_checkpoint) if part]
    for component in components:
        name = component.lower()
        lower_cased = (name in _UNCASED_MODEL_NAMES or
                       any(pattern.match(name) for pattern in _UNCASED_MODEL_PATTERNS))
        cased = name in _CASED_MODEL_NAMES
        if lower_cased and not do_lower_case:
            raise ValueError("do_lower_case=False, but checkpoint %s is from %s, which was "
                             "trained on lower-cased text; use do_lower_case=True "
                             "(otherwise capital letters become %s)" %
                             (init_checkpoint, component, UNK))
        if cased and do_lower_case:
            raise ValueError("do_lower_case=True, but checkpoint %s is from %s, which was "
                             "trained on cased text; use do_lower_case=False" %
                             (init_checkpoint, component))
