# coding=utf-8
"""Tests for tokenization.py: WordPiece, SentencePiece, vocab files, checks."""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import random

import numpy as np
import pytest

import tokenization

LINE_SEPARATOR = u"\u2028"
UNDERLINE = u"\u2581"

# A small WordPiece vocab; ids are list positions.
WORDPIECE_TOKENS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",  # 0-4
    u"我",
    u"爱",
    u"中",
    u"国",
    u"年",  # 5-9
    u"你",
    u"好",
    u"世",
    u"界",
    u"，",  # 10-14
    u"！",
    "nlp",
    "n",
    "##lp",
    "##2019",  # 15-19
    "##201",
    "##9",
    "2019",
    "hello",
    "world",  # 20-24
    "un",
    "##aff",
    "##able",
    "cafe",
    "##o",  # 25-29
    ",",
    "!",
    "he",
    "##llo",
    u"ａｂｃ",  # 30-34
]


def write_lines(path, lines, ending="\n", final_newline=True):
    """Writes `lines` as UTF-8 into `path` and returns the path as str."""
    content = ending.join(lines) + (ending if final_newline else "")
    with io.open(str(path), "w", encoding="utf-8", newline="") as writer:
        writer.write(content)
    return str(path)


@pytest.fixture
def vocab_file(tmp_path):
    return write_lines(tmp_path / "vocab.txt", WORDPIECE_TOKENS)


@pytest.fixture
def tokenizer(vocab_file):
    return tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=True)


# ---------------------------------------------------------------------------
# Text helpers and character classes.
# ---------------------------------------------------------------------------


def test_convert_to_unicode_and_printable_text():
    assert tokenization.convert_to_unicode(u"中a") == u"中a"
    assert tokenization.convert_to_unicode(b"\xe4\xb8\xad") == u"中"
    # Invalid UTF-8 is dropped, not an exception.
    assert tokenization.convert_to_unicode(b"a\xffb") == u"ab"
    assert tokenization.printable_text(b"\xe4\xb8\xad") == u"中"
    assert tokenization.printable_text(u"x") == u"x"
    with pytest.raises(TypeError):
        tokenization.convert_to_unicode(5)


def test_special_token_constants():
    assert (tokenization.PAD, tokenization.UNK, tokenization.CLS, tokenization.SEP,
            tokenization.MASK) == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def test_is_whitespace():
    for char in (u" ", u"\t", u"\n", u"\r", u"\u00a0", u"\u3000", u"\u2028"):
        assert tokenization._is_whitespace(char), repr(char)
    for char in (u"A", u"-", u"\x0b", u"中"):
        assert not tokenization._is_whitespace(char), repr(char)


def test_is_control():
    for char in (u"\x05", u"\x7f", u"\u200b", u"\ufeff"):
        assert tokenization._is_control(char), repr(char)
    for char in (u"A", u" ", u"\t", u"\n", u"\r", u"中"):
        assert not tokenization._is_control(char), repr(char)


def test_is_punctuation():
    for char in (u"-", u"$", u"`", u".", u"~", u"@", u"，", u"！", u"。", u"《"):
        assert tokenization._is_punctuation(char), repr(char)
    # Full-width "＄" (Sc) and "＋" (Sm) are symbols, not punctuation.
    for char in (u"A", u" ", u"中", u"1", u"＄", u"＋", u"Ａ"):
        assert not tokenization._is_punctuation(char), repr(char)


# ---------------------------------------------------------------------------
# BasicTokenizer.
# ---------------------------------------------------------------------------


def test_basic_chinese_split_per_character():
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    assert basic.tokenize(u"你好，世界！") == [u"你", u"好", u"，", u"世", u"界", u"！"]
    # Extension B ideograph (outside the BMP) is isolated as well.
    assert basic.tokenize(u"ab\U00020000cd") == [u"ab", u"\U00020000", u"cd"]


def test_basic_lower_case_strips_accents():
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    assert basic.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
        "hello", "!", "how", "are", "you", "?"
    ]
    assert basic.tokenize(u"Héllo Wörld Café") == ["hello", "world", "cafe"]
    # Already decomposed input (e + combining acute) gives the same result.
    assert basic.tokenize(u"Cafe\u0301") == ["cafe"]


def test_basic_no_lower_case_keeps_case_and_accents():
    basic = tokenization.BasicTokenizer(do_lower_case=False)
    assert basic.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
        "HeLLo", "!", "how", "Are", "yoU", "?"
    ]
    assert basic.tokenize(u"Héllo Wörld") == [u"Héllo", u"Wörld"]


def test_basic_full_width_characters():
    lower = tokenization.BasicTokenizer(do_lower_case=True)
    cased = tokenization.BasicTokenizer(do_lower_case=False)
    # Full-width punctuation splits; full-width letters are lower-cased to
    # full-width lower case (not ASCII); full-width digits are unchanged.
    assert lower.tokenize(u"ＡＢＣ，１２！") == [u"ａｂｃ", u"，", u"１２", u"！"]
    assert cased.tokenize(u"ＡＢＣ，１２！") == [u"ＡＢＣ", u"，", u"１２", u"！"]
    # Full-width "＄" is a currency symbol, not punctuation: not split off,
    # unlike the ASCII "$".
    assert lower.tokenize(u"＄５ $5") == [u"＄５", u"$", u"5"]


def test_basic_drops_control_characters():
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    text = u"a\x00b\u200bc\x07d\ufffde\x0bf g"
    assert basic.tokenize(text) == [u"abcdef", u"g"]


def test_basic_whitespace_variants():
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    text = u"a\tb\nc\r\nd\u3000e\u00a0f\u2028g"
    assert basic.tokenize(text) == [u"a", u"b", u"c", u"d", u"e", u"f", u"g"]
    assert basic.tokenize(u"  \t\n ") == []
    assert basic.tokenize(u"") == []


def test_basic_accepts_bytes():
    basic = tokenization.BasicTokenizer(do_lower_case=True)
    assert basic.tokenize(u"我爱NLP".encode("utf-8")) == [u"我", u"爱", u"nlp"]


# ---------------------------------------------------------------------------
# WordpieceTokenizer.
# ---------------------------------------------------------------------------


def test_wordpiece_greedy_longest_match():
    vocab = {token: i for i, token in enumerate(WORDPIECE_TOKENS)}
    wordpiece = tokenization.WordpieceTokenizer(vocab=vocab)
    assert wordpiece.tokenize(u"") == []
    assert wordpiece.tokenize(u"unaffable") == ["un", "##aff", "##able"]
    # "nlp" wins over "n" + "##lp"; "##2019" over "##201" + "##9".
    assert wordpiece.tokenize(u"nlp20199") == ["nlp", "##2019", "##9"]
    assert wordpiece.tokenize(u"hello") == ["hello"]
    # No piece for the "x": the whole word becomes [UNK], not a partial cut.
    assert wordpiece.tokenize(u"unaffablex hello") == ["[UNK]", "hello"]


def test_wordpiece_long_word_becomes_unk():
    vocab = {token: i for i, token in enumerate(WORDPIECE_TOKENS)}
    default = tokenization.WordpieceTokenizer(vocab=vocab)
    short = tokenization.WordpieceTokenizer(vocab=vocab, max_input_chars_per_word=5)
    assert default.tokenize(u"hello helloo") == ["hello", "hello", "##o"]
    assert short.tokenize(u"hello helloo") == ["hello", "[UNK]"]
    # The default limit is 200 characters.
    word = u"he" + u"llo" * 66  # 200 characters: allowed.
    assert default.tokenize(word) == ["hello"] + ["##llo"] * 65
    assert default.tokenize(word + u"o") == ["[UNK]"]  # 201 characters.


def test_wordpiece_custom_unk_token():
    wordpiece = tokenization.WordpieceTokenizer(vocab={"a": 0, "<unk>": 1}, unk_token="<unk>")
    assert wordpiece.tokenize(u"a b") == ["a", "<unk>"]


# ---------------------------------------------------------------------------
# FullTokenizer (WordPiece mode).
# ---------------------------------------------------------------------------


def test_full_tokenizer_chinese(tokenizer):
    tokens = tokenizer.tokenize(u"你好，世界！")
    assert tokens == [u"你", u"好", u"，", u"世", u"界", u"！"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [10, 11, 14, 12, 13, 15]


def test_full_tokenizer_mixed_chinese_english_digits(tokenizer):
    tokens = tokenizer.tokenize(u"我爱NLP2019年")
    assert tokens == [u"我", u"爱", "nlp", "##2019", u"年"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [5, 6, 16, 19, 9]
    assert tokenizer.tokenize(u"中国2019, Hello!") == [u"中", u"国", "2019", ",", "hello", "!"]


def test_full_tokenizer_cased_input_without_lower_case(vocab_file):
    cased = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=False)
    # The vocab has no capital letters: cased words become [UNK].
    assert cased.tokenize(u"我爱NLP2019年") == [u"我", u"爱", "[UNK]", u"年"]
    assert cased.tokenize(u"nlp Café") == ["nlp", "[UNK]"]


def test_full_tokenizer_accents_and_full_width(tokenizer):
    assert tokenizer.tokenize(u"Café") == ["cafe"]
    assert tokenizer.tokenize(u"ＡＢＣ！") == [u"ａｂｃ", u"！"]
    assert tokenizer.convert_tokens_to_ids([u"ａｂｃ"]) == [34]


def test_full_tokenizer_unknown_characters(tokenizer):
    tokens = tokenizer.tokenize(u"我爱猫")
    assert tokens == [u"我", u"爱", "[UNK]"]
    assert tokenizer.convert_tokens_to_ids(tokens) == [5, 6, 1]


def test_full_tokenizer_ids_round_trip(tokenizer):
    tokens = tokenizer.tokenize(u"你好 unaffable, 我爱NLP2019年！")
    assert tokens == [
        u"你", u"好", "un", "##aff", "##able", ",", u"我", u"爱", "nlp", "##2019", u"年", u"！"
    ]
    ids = tokenizer.convert_tokens_to_ids(tokens)
    assert ids == [10, 11, 25, 26, 27, 30, 5, 6, 16, 19, 9, 15]
    assert tokenizer.convert_ids_to_tokens(ids) == tokens
    # numpy integers work as ids.
    assert tokenizer.convert_ids_to_tokens(np.array(ids)) == tokens


def test_full_tokenizer_vocab_attributes(tokenizer):
    assert tokenizer.vocab_size == len(WORDPIECE_TOKENS) == 35
    assert list(tokenizer.vocab) == WORDPIECE_TOKENS
    assert tokenizer.inv_vocab[2] == "[CLS]"
    assert tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[MASK]", "[PAD]"]) == [2, 3, 4, 0]
    assert not tokenizer.is_sentencepiece


def test_convert_tokens_to_ids_unknown_token(tokenizer, tmp_path):
    assert tokenizer.convert_tokens_to_ids(["nope", u"我"]) == [1, 5]
    no_unk = tokenization.FullTokenizer(vocab_file=write_lines(tmp_path /
                                                               "no_unk.txt", ["[PAD]", "a"]))
    assert no_unk.convert_tokens_to_ids(["a"]) == [1]
    with pytest.raises(ValueError, match="'nope'.*no_unk.txt"):
        no_unk.convert_tokens_to_ids(["nope"])


def test_convert_ids_to_tokens_out_of_range(tokenizer):
    with pytest.raises(ValueError, match="Id 35 .*35 entries"):
        tokenizer.convert_ids_to_tokens([0, 35])
    with pytest.raises(ValueError, match="Id -1"):
        tokenizer.convert_ids_to_tokens([-1])


def test_full_tokenizer_needs_a_file():
    with pytest.raises(ValueError, match="vocab_file"):
        tokenization.FullTokenizer()


# ---------------------------------------------------------------------------
# load_vocab.
# ---------------------------------------------------------------------------


def test_load_vocab_keeps_line_separator_tokens(tmp_path):
    lines = ["[PAD]", "[UNK]", "a", LINE_SEPARATOR, "##" + LINE_SEPARATOR, "b"]
    path = write_lines(tmp_path / "vocab.txt", lines)
    vocab = tokenization.load_vocab(path)
    assert len(vocab) == 6
    assert list(vocab.items()) == [("[PAD]", 0), ("[UNK]", 1), ("a", 2), (LINE_SEPARATOR, 3),
                                   ("##" + LINE_SEPARATOR, 4), ("b", 5)]
    # The naive reading would have given 8 lines and shifted "b" to id 7.
    with io.open(path, encoding="utf-8") as reader:
        naive = reader.read().splitlines()
    assert len(naive) == 8 and naive.index("b") == 7
    # Tokenizing the separator is still whitespace, whatever the vocab holds.
    tokenizer = tokenization.FullTokenizer(vocab_file=path)
    assert tokenizer.tokenize(u"a" + LINE_SEPARATOR + u"b") == ["a", "b"]
    assert tokenizer.convert_ids_to_tokens([3, 4]) == [LINE_SEPARATOR, "##" + LINE_SEPARATOR]


def test_load_vocab_line_endings_and_spaces(tmp_path):
    expected = [("[PAD]", 0), ("a", 1), ("b", 2), (u"\u3000", 3)]
    crlf = write_lines(tmp_path / "crlf.txt", ["[PAD]", "a", "b", u"\u3000"], ending="\r\n")
    assert list(tokenization.load_vocab(crlf).items()) == expected
    no_final = write_lines(tmp_path / "nofinal.txt", ["[PAD]", "a", "b", u"\u3000"],
                           final_newline=False)
    assert list(tokenization.load_vocab(no_final).items()) == expected
    padded = write_lines(tmp_path / "padded.txt", ["[PAD]  ", " a", "\tb\t", u"\u3000", "", ""])
    assert list(tokenization.load_vocab(padded).items()) == expected
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf[PAD]\na\nb\n\xe3\x80\x80\n")
    assert list(tokenization.load_vocab(str(bom)).items()) == expected


def test_load_vocab_duplicated_token(tmp_path):
    path = write_lines(tmp_path / "dup.txt", ["[PAD]", "a", "b", "a"])
    with pytest.raises(ValueError, match=r"dup\.txt:4: duplicated token 'a'.*line 2"):
        tokenization.load_vocab(path)


def test_load_vocab_empty_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty: .*empty\.txt"):
        tokenization.load_vocab(str(empty))
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b"\n \n\n")
    with pytest.raises(ValueError, match=r"blank\.txt"):
        tokenization.load_vocab(str(blank))


def test_load_vocab_blank_line_inside(tmp_path):
    path = write_lines(tmp_path / "hole.txt", ["[PAD]", "", "a"])
    with pytest.raises(ValueError, match=r"hole\.txt:2: empty line"):
        tokenization.load_vocab(path)


def test_load_vocab_missing_file(tmp_path):
    missing = str(tmp_path / "no_such_vocab.txt")
    with pytest.raises(IOError, match="no_such_vocab.txt"):
        tokenization.load_vocab(missing)
    with pytest.raises(IOError, match="no_such_vocab.txt"):
        tokenization.FullTokenizer(vocab_file=missing)


def test_load_vocab_rejects_sentencepiece_files(tmp_path):
    sp_vocab = write_lines(tmp_path / "30k-clean.vocab",
                           ["<pad>\t0", "<unk>\t0", UNDERLINE + "the\t-3.1"])
    with pytest.raises(ValueError, match=r"30k-clean\.vocab:1: .*SentencePiece"):
        tokenization.load_vocab(sp_vocab)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\n\x0b\n\x05<pad>\x15\x00\x00\x00\x00\x18\x03")
    with pytest.raises(ValueError, match=r"model\.bin:.*spm_model_file"):
        tokenization.load_vocab(str(binary))


# ---------------------------------------------------------------------------
# Vocab size and case checks.
# ---------------------------------------------------------------------------


def test_validate_vocab_size():
    tokenization.validate_vocab_size(21128, 21128, "v.txt", "c.json")
    with pytest.raises(ValueError) as info:
        tokenization.validate_vocab_size(21128, 30000, vocab_file="albert_config/vocab.txt",
                                         config_file="albert_config/albert_config_base.json")
    message = str(info.value)
    for part in ("albert_config/vocab.txt", "albert_config/albert_config_base.json", "21128",
                 "30000"):
        assert part in message
    assert "\n" not in message


def test_check_vocab_matches_config(tokenizer, vocab_file):

    class Config(object):

        def __init__(self, vocab_size):
            self.vocab_size = vocab_size

    tokenization.check_vocab_matches_config(tokenizer, Config(35))
    tokenization.check_vocab_matches_config(tokenizer, {"vocab_size": 35})
    with pytest.raises(ValueError) as info:
        tokenization.check_vocab_matches_config(tokenizer, Config(21128), config_file="cfg.json")
    message = str(info.value)
    assert vocab_file in message and "cfg.json" in message
    assert "35" in message and "21128" in message
    with pytest.raises(ValueError, match="no vocab_size"):
        tokenization.check_vocab_matches_config(tokenizer, {})


@pytest.mark.parametrize("do_lower_case, path", [
    (True, "/models/albert_base_zh/albert_model.ckpt"),
    (True, "albert_tiny_489k/albert_model.ckpt"),
    (True, "gs://b/albert_base_v2/model.ckpt-best"),
    (True, "/m/chinese_L-12_H-768_A-12/bert_model.ckpt"),
    (True, "/m/uncased_L-12_H-768_A-12/bert_model.ckpt"),
    (False, "/m/cased_L-12_H-768_A-12/bert_model.ckpt"),
    (False, "/m/my_own_model/model.ckpt-100"),
    (True, "/m/my_own_model/model.ckpt-100"),
    (False, None),
    (True, ""),
])
def test_validate_case_matches_checkpoint_ok(do_lower_case, path):
    tokenization.validate_case_matches_checkpoint(do_lower_case, path)


@pytest.mark.parametrize("do_lower_case, path", [
    (False, "/models/albert_base_zh/albert_model.ckpt"),
    (False, "albert_tiny_zh_google/albert_model.ckpt"),
    (False, "albert_xlarge_zh_183k/model.ckpt"),
    (False, "C:\\m\\albert_large_v1\\model.ckpt-best"),
    (False, "/m/chinese_wwm_ext_L-12_H-768_A-12/bert_model.ckpt"),
    (False, "/m/uncased_L-24_H-1024_A-16/bert_model.ckpt"),
    (True, "/m/cased_L-12_H-768_A-12/bert_model.ckpt"),
    (True, "/m/multi_cased_L-12_H-768_A-12/bert_model.ckpt"),
])
def test_validate_case_matches_checkpoint_mismatch(do_lower_case, path):
    with pytest.raises(ValueError, match="do_lower_case"):
        tokenization.validate_case_matches_checkpoint(do_lower_case, path)


# ---------------------------------------------------------------------------
# SentencePiece helpers with a stub model (hand-checked expectations).
# ---------------------------------------------------------------------------


class StubSentencePiece(object):
    """Answers EncodeAsPieces from a fixed table of text -> pieces.

    Every piece is known (id = its length) except those starting with "?",
    which map to the unk id 0. Method names are those of sentencepiece.
    """

    # pylint: disable=invalid-name

    def __init__(self, table):
        self.table = table

    def EncodeAsPieces(self, text):
        return list(self.table[text])

    def SampleEncodeAsPieces(self, text, nbest, alpha):
        assert (nbest, alpha) == (64, 0.1)
        return list(self.table[text])

    def PieceToId(self, piece):
        return 0 if piece.startswith("?") else len(piece)

    def unk_id(self):
        return 0


def u(text):
    """Writes the SentencePiece marker as "_" in test literals."""
    return text.replace("_", UNDERLINE)


@pytest.mark.parametrize(
    "pieces, number_table, expected",
    [
        # Word-initial number: keeps its marker, comma split off.
        (["_price", "_123,", "_ok"], {
            "123": ["_123"]
        }, ["_price", "_123", ",", "_ok"]),
        # Re-encoding gives a bare marker piece: kept for a word-initial number.
        (["_7,"], {
            "7": ["_", "7"]
        }, ["_", "7", ","]),
        # Not word-initial: the marker the model adds is removed...
        (["_x", "45,"], {
            "45": ["_45"]
        }, ["_x", "45", ","]),
        # ...and a bare marker piece is dropped.
        (["_x", "9,"], {
            "9": ["_", "9"]
        }, ["_x", "9", ","]),
        # A model without the dummy prefix: the marker is restored.
        (["_8,"], {
            "8": ["8"]
        }, ["_", "8", ","]),
        # The number would need an unknown piece: the original piece stays.
        (["_x", "45,", "_6,"], {
            "45": ["_?4", "5"],
            "6": ["_6"]
        }, ["_x", "45,", "_6", ","]),
        # Not digit + comma at the end: untouched.
        (["_a,", ",", "_1,2", "_b1c,"], {}, ["_a,", ",", "_1,2", "_b1c,"]),
    ])
def test_encode_pieces_digit_comma_split(pieces, number_table, expected):
    table = {u(k): [u(p) for p in v] for k, v in number_table.items()}
    table["text"] = [u(p) for p in pieces]
    stub = StubSentencePiece(table)
    assert tokenization.encode_pieces(stub, "text") == [u(p) for p in expected]
    assert tokenization.encode_pieces(stub, b"text", sample=True) == [u(p) for p in expected]
    assert tokenization.encode_ids(stub, "text") == [len(u(p)) for p in expected]
    # The split never changes the text the pieces spell.
    assert "".join(tokenization.encode_pieces(stub, "text")) == "".join(table["text"])


def test_preprocess_text():
    assert tokenization.preprocess_text(u"  Hello \t  ``World''\n ") == (u'Hello "World"')
    assert tokenization.preprocess_text(u"Hello ``World''", lower=True) == (u'hello "world"')
    assert tokenization.preprocess_text(u" a  b ", remove_space=False) == (u" a  b ")
    # NFKD folds full-width forms to ASCII and removes accents.
    assert tokenization.preprocess_text(u"Café ＡＢＣ１") == u"Cafe ABC1"
    assert tokenization.preprocess_text(b"caf\xc3\xa9") == u"cafe"


# ---------------------------------------------------------------------------
# SentencePiece mode with a real model trained here.
# ---------------------------------------------------------------------------

SP_WORDS = ("the cat sat on a mat dog ran in park big small red blue house "
            "tree and with we saw year price was dollars").split()


@pytest.fixture(scope="module")
def sp_model_file(tmp_path_factory):
    spm = pytest.importorskip("sentencepiece")
    directory = tmp_path_factory.mktemp("spm")
    rng = random.Random(1234)
    lines = []
    for index in range(400):
        line = " ".join(rng.choice(SP_WORDS) for _ in range(rng.randint(4, 10)))
        if index % 5 == 0:
            line += " in %d, we saw %d dollars" % (rng.randint(1990, 2030), rng.randint(1, 999))
        lines.append(line)
    lines.append("in 2019, we saw it")
    corpus = write_lines(directory / "corpus.txt", lines)
    prefix = str(directory / "sp")
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=160,
                                   model_type="bpe", pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
                                   control_symbols=["[CLS]", "[SEP]", "[MASK]"],
                                   user_defined_symbols=["2019,", "2019"], hard_vocab_limit=False)
    return prefix + ".model"


@pytest.fixture(scope="module")
def sp_tokenizer(sp_model_file):
    return tokenization.FullTokenizer(spm_model_file=sp_model_file, do_lower_case=True)


def test_sp_vocab_and_special_ids(sp_tokenizer):
    assert sp_tokenizer.is_sentencepiece
    assert sp_tokenizer.vocab_size == sp_tokenizer.sp_model.GetPieceSize()
    assert 50 <= sp_tokenizer.vocab_size <= 160
    assert sp_tokenizer.convert_tokens_to_ids(["<pad>", "<unk>", "[CLS]", "[SEP]",
                                               "[MASK]"]) == [0, 1, 2, 3, 4]
    assert sp_tokenizer.convert_ids_to_tokens([2, 3, 4]) == ["[CLS]", "[SEP]", "[MASK]"]
    assert sp_tokenizer.unk_token == "<unk>"
    assert sp_tokenizer.convert_tokens_to_ids(["no-such-piece"]) == [1]


def test_sp_tokenize_round_trip(sp_tokenizer):
    text = u"the cat sat on the mat"
    tokens = sp_tokenizer.tokenize(text)
    assert tokens == [UNDERLINE + w for w in text.split()]
    ids = sp_tokenizer.convert_tokens_to_ids(tokens)
    assert 1 not in ids
    assert sp_tokenizer.convert_ids_to_tokens(ids) == tokens
    assert ids == tokenization.encode_ids(sp_tokenizer.sp_model, text)
    assert ids == sp_tokenizer.sp_model.EncodeAsIds(text)
    longer = u"a big red house and a small dog ran in the park"
    pieces = sp_tokenizer.tokenize(longer)
    assert "".join(pieces).replace(UNDERLINE, " ").strip() == longer


def test_sp_lower_case_flag(sp_model_file, sp_tokenizer):
    cased = tokenization.FullTokenizer(spm_model_file=sp_model_file, do_lower_case=False)
    lower_ids = sp_tokenizer.convert_tokens_to_ids(sp_tokenizer.tokenize(u"The CAT sat"))
    assert lower_ids == sp_tokenizer.convert_tokens_to_ids(sp_tokenizer.tokenize(u"the cat sat"))
    assert 1 not in lower_ids
    cased_tokens = cased.tokenize(u"The CAT sat")
    assert "".join(cased_tokens).replace(UNDERLINE, " ").strip() == (u"The CAT sat")
    # Upper-case letters never occur in the corpus: they map to <unk>.
    assert 1 in cased.convert_tokens_to_ids(cased_tokens)


def test_sp_digit_comma_split(sp_tokenizer):
    sp_model = sp_tokenizer.sp_model
    text = u"in 2019, we"
    # The user-defined symbol "2019," gives the piece being tested; "2019"
    # is a user-defined symbol too, so the number part re-encodes as
    # ["▁", "2019"] and drops the model's marker ("2019," is not
    # word-initial: "▁" is its own piece before it).
    raw = sp_model.EncodeAsPieces(text)
    assert raw == [u("_in"), u("_"), "2019,", u("_we")]
    assert sp_model.EncodeAsPieces(u"2019") == [u("_"), "2019"]
    pieces = sp_tokenizer.tokenize(text)
    assert pieces == [u("_in"), u("_"), "2019", ",", u("_we")]
    # No stray marker (the bytes-vs-str bug of the reference would add one).
    assert "".join(pieces) == "".join(raw)
    ids = sp_tokenizer.convert_tokens_to_ids(pieces)
    assert 1 not in ids
    assert ids == tokenization.encode_ids(sp_model, text)
    assert sp_tokenizer.convert_ids_to_tokens(ids) == pieces
    sampled = tokenization.encode_pieces(sp_model, text, sample=True)
    assert "".join(sampled) == "".join(raw)
    assert "2019," not in sampled


def test_from_files_picks_the_tokenizer(sp_model_file, vocab_file, tmp_path):
    sp_vocab_file = sp_model_file[:-len(".model")] + ".vocab"
    by_model = tokenization.FullTokenizer.from_files(spm_model_file=sp_model_file)
    model_as_vocab = tokenization.FullTokenizer.from_files(vocab_file=sp_model_file)
    sibling = tokenization.FullTokenizer.from_files(vocab_file=sp_vocab_file)
    for tok in (by_model, model_as_vocab, sibling):
        assert tok.is_sentencepiece
        assert tok.spm_model_file == sp_model_file
        assert tok.tokenize(u"The cat") == [UNDERLINE + "the", UNDERLINE + "cat"]
    wordpiece = tokenization.FullTokenizer.from_files(vocab_file=vocab_file, do_lower_case=False)
    assert not wordpiece.is_sentencepiece
    assert wordpiece.vocab_size == 35
    assert wordpiece.tokenize(u"Hello") == ["[UNK]"]
    # A binary model without the ".model" extension is recognised too.
    renamed = tmp_path / "spiece.bin"
    with io.open(sp_model_file, "rb") as reader:
        renamed.write_bytes(reader.read())
    assert tokenization.FullTokenizer.from_files(vocab_file=str(renamed)).is_sentencepiece
    with pytest.raises(ValueError, match="vocab_file"):
        tokenization.FullTokenizer.from_files()


def test_sp_vocab_size_check_names_model(sp_tokenizer, sp_model_file):
    with pytest.raises(ValueError) as info:
        tokenization.check_vocab_matches_config(sp_tokenizer, {"vocab_size": 30000},
                                                config_file="albert.json")
    assert sp_model_file in str(info.value)
    assert "30000" in str(info.value)


def test_sp_bad_model_file(tmp_path):
    pytest.importorskip("sentencepiece")
    bad = write_lines(tmp_path / "bad.model", ["not a model"])
    with pytest.raises(ValueError, match=r"bad\.model"):
        tokenization.FullTokenizer(spm_model_file=bad)
    with pytest.raises(IOError, match="missing.model"):
        tokenization.FullTokenizer(spm_model_file=str(tmp_path / "missing.model"))
