# coding=utf-8
"""test_changes.py: the script end to end, and its helpers on broken cases.

Expected numbers are computed here by plain arithmetic, independently of the
script's own formulas.
"""

import json
import os
import re
import subprocess
import sys

import pytest

import test_changes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "test_changes.py")


def _run_script(*args):
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, SCRIPT] + list(args), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8")


def _n(value):
    return "{:,}".format(value)


def _layer(h, i):
    """One Transformer layer, counted variable by variable."""
    qkv = 3 * (h * h + h)
    attention_out = h * h + h
    attention_ln = h + h
    intermediate = h * i + i
    ffn_out = i * h + h
    ffn_ln = h + h
    return qkv + attention_out + attention_ln, intermediate + ffn_out + ffn_ln


# ---------------------------------------------------------------------------
# The script as users run it.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script_run():
    return _run_script()


def test_script_exits_zero_and_says_so(script_run):
    assert script_run.returncode == 0, script_run.stdout + script_run.stderr
    last = script_run.stdout.strip().splitlines()[-1]
    match = re.match(r"All 3 ALBERT changes checked: (\d+) checks passed\.$", last)
    assert match, last
    assert int(match.group(1)) >= 50
    assert "FAIL" not in script_run.stdout
    assert "Traceback" not in script_run.stderr


def test_script_prints_embedding_headline(script_run):
    out = script_run.stdout
    # xxlarge, English vocab: V=30000, E=128, H=4096.
    assert _n(30000 * 4096) == "122,880,000"
    assert _n(30000 * 128 + 128 * 4096) == "4,364,288"
    assert "122,880,000" in out and "4,364,288" in out
    headline = [l for l in out.splitlines() if "122,880,000" in l and "4,364,288" in l]
    assert headline, out
    # Chinese vocab: V=21128.
    assert _n(21128 * 4096) in out
    assert _n(21128 * 128 + 128 * 4096) in out
    # google's mapping carries an H bias on top of V*E+E*H.
    assert _n(30000 * 128 + 128 * 4096 + 4096) in out
    # brightmart tiny: V*H and V*E+E*H.
    assert _n(21128 * 312) in out and _n(21128 * 128 + 128 * 312) in out


def test_script_prints_sharing_counts(script_run):
    out = script_run.stdout
    for h, i, num_layers in ((768, 3072, 12), (1024, 4096, 24)):
        attention, ffn = _layer(h, i)
        assert _n(attention + ffn) in out  # all shared
        assert _n(num_layers * (attention + ffn)) in out  # nothing shared
        assert _n(attention + num_layers * ffn) in out  # attention shared
        assert _n(num_layers * attention + ffn) in out  # FFN shared
    assert _n(7087872) in out and _n(85054464) in out
    # Total of all-shared ALBERT-base with V=30000, E=128: about the paper's 12M.
    total_base = (30000 * 128 + 512 * 128 + 2 * 128 + 2 * 128 + 128 * 768 + 768 +
                  sum(_layer(768, 3072)) + 768 * 768 + 768)
    assert _n(total_base) in out
    assert "12M" in out and "89M" in out


def test_script_shows_sop_pairs(script_run):
    out = script_run.stdout
    assert "Positive (label 0)" in out
    assert "Negative (label 1)" in out
    match = re.search(r"label 0 x (\d+), label 1 x (\d+)", out)
    assert match
    positives, negatives = int(match.group(1)), int(match.group(2))
    assert positives > 0 and negatives > 0


def test_importing_has_no_side_effects():
    result = subprocess.run([sys.executable, "-c", "import test_changes"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        test_changes.parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--random_seed", "--config_dir", "--sop_draws", "--quick"):
        assert option in text


def test_unknown_flag_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        test_changes.parse_args(["--no_such_flag"])
    assert exit_info.value.code == 2
    assert "no_such_flag" in capsys.readouterr().err


def test_missing_config_dir_is_a_one_line_error(tmp_path, capsys):
    status = test_changes.main(["--config_dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert str(tmp_path) in lines[0] and "albert_config_tiny.json" in lines[0]


# ---------------------------------------------------------------------------
# main() on a tiny config: passes, and fails when a check is broken.
# ---------------------------------------------------------------------------

TINY_CONFIG = {
    "vocab_size": 50,
    "embedding_size": 8,
    "hidden_size": 16,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
    "intermediate_size": 24,
    "num_hidden_groups": 1,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "embedding_layout": "google",
}


@pytest.fixture
def tiny_main(tmp_path, monkeypatch):
    with open(str(tmp_path / "tiny.json"), "w") as f:
        json.dump(TINY_CONFIG, f)
    monkeypatch.setattr(test_changes, "EMBEDDING_CONFIGS", ("tiny.json",))
    monkeypatch.setattr(test_changes, "HEADLINE_CONFIG", "tiny.json")
    monkeypatch.setattr(test_changes, "HEADLINE_ZH_CONFIG", "tiny.json")
    monkeypatch.setattr(test_changes, "SHARING_MODELS", (("tiny.json", "tiny", {}, None),))
    monkeypatch.setattr(test_changes, "GROWTH_CONFIG", "tiny.json")
    monkeypatch.setattr(test_changes, "GROWTH_LAYERS", (1, 2, 3))

    def run(*args):
        return test_changes.main(["--config_dir", str(tmp_path)] + list(args))

    return run


def test_main_passes_on_a_tiny_config(tiny_main, capsys):
    assert tiny_main("--sop_draws", "200") == 0
    assert "All 3 ALBERT changes checked" in capsys.readouterr().out


def test_main_fails_when_the_formula_is_wrong(tiny_main, monkeypatch, capsys):
    real = test_changes.layer_param_formula
    monkeypatch.setattr(test_changes, "layer_param_formula", lambda h, i:
                        (real(h, i)[0] + 1, real(h, i)[1]))
    assert tiny_main("--sop_draws", "200") == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "layer params built == formula" in out
    assert "All 3 ALBERT changes checked" not in out


def test_main_fails_with_too_few_sop_draws(tiny_main, capsys):
    assert tiny_main("--sop_draws", "1") == 1
    assert "raise --sop_draws" in capsys.readouterr().out


# Bugs put into create_pretraining_data.py's instance generator: (text in the
# source, its replacement, a check that must then fail).
GENERATOR_BUGS = {
    "segments not swapped": ("a_ids, a_starts, b_ids, b_starts = b_ids, b_starts, a_ids, a_starts",
                             "pass", "label matches the order"),
    "labels inverted": ("instance = TrainingInstance(ids, segment_ids, boundary, label)",
                        "instance = TrainingInstance(ids, segment_ids, boundary, 1 - label)",
                        "label matches the order"),
    "labels unbalanced":
        ("elif rng.random() < 0.5:", "elif rng.random() < 0.2:", "labels are balanced"),
}


def _broken_generator_module(old, new):
    """create_pretraining_data loaded from its source with one line changed."""
    import types  # pylint: disable=g-import-not-at-top
    path = os.path.join(ROOT, "create_pretraining_data.py")
    with open(path, encoding="utf-8") as reader:
        source = reader.read()
    assert source.count(old) == 1, old
    module = types.ModuleType("create_pretraining_data_broken")
    module.__file__ = path
    code = compile(source.replace(old, new), path, "exec")
    exec(code, module.__dict__)  # pylint: disable=exec-used
    return module


@pytest.mark.parametrize("bug", sorted(GENERATOR_BUGS))
def test_main_fails_when_the_generator_is_broken(tiny_main, monkeypatch, capsys, bug):
    old, new, failing_check = GENERATOR_BUGS[bug]
    monkeypatch.setattr(test_changes, "create_pretraining_data", _broken_generator_module(old, new))
    assert tiny_main("--sop_draws", "200") == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "All 3 ALBERT changes checked" not in out
    failed = [line for line in out.splitlines() if line.startswith("  [section 3]")]
    assert any(failing_check in line for line in failed), out[-3000:]
    assert not [
        line for line in out.splitlines()
        if line.startswith("  [section 1]") or line.startswith("  [section 2]")
    ]


def test_script_fails_when_the_generator_does_not_swap(tmp_path):
    """The command line too: exit status 1 with a patched generator."""
    old, new, failing_check = GENERATOR_BUGS["segments not swapped"]
    with open(str(tmp_path / "tiny.json"), "w") as f:
        json.dump(TINY_CONFIG, f)
    runner = tmp_path / "run_broken.py"
    runner.write_text(
        u"""import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import test_changes
import test_test_changes as tests
test_changes.create_pretraining_data = tests._broken_generator_module({old!r}, {new!r})
test_changes.EMBEDDING_CONFIGS = ("tiny.json",)
test_changes.HEADLINE_CONFIG = test_changes.HEADLINE_ZH_CONFIG = "tiny.json"
test_changes.SHARING_MODELS = (("tiny.json", "tiny", {{}}, None),)
test_changes.GROWTH_CONFIG = "tiny.json"
test_changes.GROWTH_LAYERS = (1, 2)
sys.exit(test_changes.main(sys.argv[1:]))
""".format(root=ROOT, tests=os.path.join(ROOT, "tests"), old=old, new=new), encoding="utf-8")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    result = subprocess.run(
        [sys.executable,
         str(runner), "--config_dir",
         str(tmp_path), "--sop_draws", "200"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, encoding="utf-8")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "FAILED" in result.stdout and failing_check in result.stdout
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------
# Embedding and sharing helpers.
# ---------------------------------------------------------------------------


def test_recorder_records_a_wrong_count():
    recorder = test_changes.CheckRecorder()
    assert recorder.equal("right", 4364288, 30000 * 128 + 128 * 4096)
    assert not recorder.equal("wrong", 4364289, 30000 * 128 + 128 * 4096)
    assert [r.name for r in recorder.failed] == ["wrong"]
    assert "4,364,289" in recorder.failed[0].detail


def _google_shapes(v, e, h):
    return {
        "bert/embeddings/word_embeddings": [v, e],
        "bert/encoder/embedding_hidden_mapping_in/kernel": [e, h],
        "bert/encoder/embedding_hidden_mapping_in/bias": [h],
    }


def test_embedding_check_accepts_correct_and_rejects_broken_shapes():
    config = test_changes.modeling.AlbertConfig.from_dict(dict(TINY_CONFIG))
    v, e, h = 50, 8, 16
    good = _google_shapes(v, e, h)
    bert_style = {"bert/embeddings/word_embeddings": [v, h]}
    assert test_changes.check_factorized_embedding(test_changes.CheckRecorder(), "tiny", config,
                                                   good, bert_style)

    wrong_mapping = dict(good)
    wrong_mapping["bert/encoder/embedding_hidden_mapping_in/kernel"] = [h, h]
    recorder = test_changes.CheckRecorder()
    assert not test_changes.check_factorized_embedding(recorder, "tiny", config, wrong_mapping,
                                                       bert_style)
    assert recorder.failed

    # A BERT-style model that still carries a projection is not V*H.
    bert_with_mapping = dict(bert_style)
    bert_with_mapping["bert/encoder/embedding_hidden_mapping_in/kernel"] = [h, h]
    assert not test_changes.check_factorized_embedding(test_changes.CheckRecorder(), "tiny", config,
                                                       good, bert_with_mapping)


def test_embedding_arithmetic():
    assert test_changes.bert_embedding_params(30000, 4096) == 122880000
    assert test_changes.factorized_embedding_params(30000, 128, 4096) == 4364288
    assert test_changes.expected_word_embedding_params(30000, 128, 4096, "google") == 4368384
    assert test_changes.expected_word_embedding_params(30000, 128, 4096, "brightmart") == 4364288
    assert test_changes.expected_word_embedding_params(50, 16, 16, "google") == 800


def test_expected_layer_params_against_hand_count():
    attention, ffn = _layer(768, 3072)
    assert test_changes.layer_param_formula(768, 3072) == (attention, ffn)
    assert test_changes.expected_layer_params("all", 12, 768, 3072) == attention + ffn
    assert test_changes.expected_layer_params("none", 12, 768, 3072) == 12 * (attention + ffn)
    assert test_changes.expected_layer_params("attention", 12, 768, 3072) == attention + 12 * ffn
    assert test_changes.expected_layer_params("ffn", 12, 768, 3072) == 12 * attention + ffn
    assert test_changes.expected_layer_params("all", 12, 768, 3072, num_groups=2) == \
        2 * (attention + ffn)
    with pytest.raises(ValueError):
        test_changes.expected_layer_params("some", 12, 768, 3072)


@pytest.mark.parametrize("layout", ["google", "brightmart"])
def test_sharing_check_on_built_graphs(layout):
    base = dict(TINY_CONFIG, embedding_layout=layout)
    shapes = {}
    for mode in ("all", "attention", "ffn", "none"):
        config = test_changes.modeling.AlbertConfig.from_dict(dict(base, sharing_mode=mode))
        shapes[mode], total = test_changes.build_variable_shapes(config)
        assert total == test_changes.params_of(shapes[mode])
        assert test_changes.check_sharing_mode(test_changes.CheckRecorder(), "tiny", config,
                                               shapes[mode])
    attention, ffn = _layer(16, 24)
    assert test_changes.params_of(shapes["all"], test_changes.is_attention_variable) == attention
    assert test_changes.params_of(shapes["all"], test_changes.is_ffn_variable) == ffn
    # Variables of an unshared model do not pass as "all shared", and vice versa.
    all_config = test_changes.modeling.AlbertConfig.from_dict(dict(base, sharing_mode="all"))
    assert not test_changes.check_sharing_mode(test_changes.CheckRecorder(), "tiny", all_config,
                                               shapes["none"])
    none_config = test_changes.modeling.AlbertConfig.from_dict(dict(base, sharing_mode="none"))
    assert not test_changes.check_sharing_mode(test_changes.CheckRecorder(), "tiny", none_config,
                                               shapes["attention"])


# ---------------------------------------------------------------------------
# Sentence-order prediction helpers.
# ---------------------------------------------------------------------------

DOC = test_changes.SOP_DOCUMENT


def _text(tokens):
    return "".join(tokens)


def test_sop_seeded_draws_give_both_labels_and_valid_pairs():
    examples = test_changes.draw_sop_examples(DOC, 7, 150)
    labels = [ex.label for ex in examples]
    assert set(labels) == {0, 1}
    fraction = labels.count(1) / float(len(labels))
    assert 0.4 < fraction < 0.6
    document = "".join("".join(s.split()) for s in DOC)
    for ex in examples:
        assert ex.tokens_a and ex.tokens_b
        assert ex.tokens_a != ex.tokens_b
        in_order = (ex.tokens_a, ex.tokens_b) if ex.label == 0 else (ex.tokens_b, ex.tokens_a)
        # Consecutive in the document, in the order the label claims.
        assert _text(in_order[0]) + _text(in_order[1]) in document
        assert not test_changes.sop_example_problems(ex, DOC)


def test_sop_pairs_are_the_generators_instances():
    """The pairs are create_pretraining_data's own instances, unchanged."""
    import create_pretraining_data  # pylint: disable=g-import-not-at-top
    generator, instances = test_changes.generate_sop_instances(DOC, 5, 20)
    assert isinstance(generator, create_pretraining_data.InstanceGenerator)
    assert not generator.options.random_next_sentence
    assert generator.options.max_seq_length == test_changes.SOP_MAX_SEQ_LENGTH
    assert all(isinstance(i, create_pretraining_data.TrainingInstance) for i in instances)
    # Pass by pass, as create_instances gives them.
    generator2, unit = test_changes.make_sop_generator(DOC, 5)
    expected = []
    for pass_index in range(20):
        expected.extend(generator2.create_instances(unit, pass_index)[0])
    assert ([test_changes.instance_key(i) for i in instances
            ] == [test_changes.instance_key(i) for i in expected])
    examples, problems = test_changes.sop_examples(generator, instances, DOC)
    assert not problems
    for instance, example in zip(instances, examples):
        tokens = generator.tokenizer.convert_ids_to_tokens(instance.original_ids)
        assert tokens == (["[CLS]"] + list(example.tokens_a) + ["[SEP]"] + list(example.tokens_b) +
                          ["[SEP]"])
        assert example.label == instance.label
    assert any(instance.masked_lm_positions for instance in instances)


def test_split_instance_reports_a_broken_layout():
    generator, instances = test_changes.generate_sop_instances(DOC, 5, 3)
    instance = instances[0]
    assert not test_changes.split_instance(generator, instance)[2]
    import copy  # pylint: disable=g-import-not-at-top
    broken = copy.copy(instance)
    broken.segment_ids = [0] * len(instance.segment_ids)
    assert test_changes.split_instance(generator, broken)[2]
    no_sep = copy.copy(instance)
    no_sep.original_ids = instance.original_ids[:-1] + [instance.original_ids[1]]
    assert test_changes.split_instance(generator, no_sep)[2]


def test_locate_segments_prefers_the_labels_order():
    document = list(u"甲。乙。甲")
    # "。" occurs before and after "乙": the label's order is taken.
    assert test_changes.locate_segments([u"乙"], [u"。"], 0, document) == ((2, 3), (3, 4))
    assert test_changes.locate_segments([u"。"], [u"乙"], 1, document) == ((3, 4), (2, 3))
    assert test_changes.locate_segments([u"丙"], [u"乙"], 0, document) == ((-1, -1), (2, 3))


def test_sop_negative_is_the_swap_of_a_positive():
    pair = test_changes.find_positive_and_its_swap(DOC, 3, 100)
    assert pair is not None
    positive, negative = pair
    assert positive.label == 0 and negative.label == 1
    assert negative.tokens_a == positive.tokens_b
    assert negative.tokens_b == positive.tokens_a
    assert test_changes.is_swap_of_positive(negative, DOC)
    assert not test_changes.is_swap_of_positive(positive, DOC)


def test_sop_same_seed_same_pairs_other_seed_other_pairs():
    first = test_changes.draw_sop_examples(DOC, 12345, 30)
    assert first == test_changes.draw_sop_examples(DOC, 12345, 30)
    assert first != test_changes.draw_sop_examples(DOC, 54321, 30)


def test_sop_never_pairs_equal_segments():
    doc = [u"好的。", u"好的。", u"好的。", u"好好", u"是"]
    examples = test_changes.draw_sop_examples(doc, 1, 200, max_seq_length=9)
    assert examples
    for ex in examples:
        assert ex.tokens_a != ex.tokens_b
        assert not test_changes.sop_example_problems(ex, doc)


def test_sop_problems_detect_broken_pairs():
    positive, negative = test_changes.find_positive_and_its_swap(DOC, 3, 100)
    assert not test_changes.sop_example_problems(positive, DOC)
    assert not test_changes.sop_example_problems(negative, DOC)
    # In document order but labelled "swapped".
    mislabelled = positive._replace(label=1)
    assert test_changes.sop_example_problems(mislabelled, DOC)
    assert not test_changes.is_swap_of_positive(mislabelled, DOC)
    # A == B.
    duplicated = positive._replace(tokens_b=positive.tokens_a, span_b=positive.span_a)
    assert any("equal" in p for p in test_changes.sop_example_problems(duplicated, DOC))
    # B from somewhere else.
    foreign = positive._replace(tokens_b=list(u"另一篇文章里的句子。"))
    assert test_changes.sop_example_problems(foreign, DOC)
    # Two segments that are not adjacent.
    a_start, a_end = positive.span_a
    gap = positive._replace(span_a=(a_start, a_end - 1), tokens_a=positive.tokens_a[:-1])
    assert test_changes.sop_example_problems(gap, DOC)


def test_sop_model_input_layout():
    example = test_changes.SopExample(list(u"甲乙"), list(u"丙"), 0, (0, 2), (2, 3))
    tokens, segment_ids = test_changes.sop_model_input(example)
    assert tokens == ["[CLS]", u"甲", u"乙", "[SEP]", u"丙", "[SEP]"]
    assert segment_ids == [0, 0, 0, 0, 1, 1]


def test_label_balance():
    assert test_changes.label_balance_ok(500, 1000)[0]
    assert not test_changes.label_balance_ok(0, 1000)[0]
    assert not test_changes.label_balance_ok(650, 1000)[0]
    assert not test_changes.label_balance_ok(0, 0)[0]
