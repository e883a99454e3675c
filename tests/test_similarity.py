# coding=utf-8
"""Tests of similarity.py: the persistent predictor, its CLI and its HTTP service.

One tiny model is fine-tuned once (run_classifier.py, a few steps on the
synthetic pair task of test_run_classifier.py) with --do_predict and
--export_dir; the predictor must reproduce test_results.tsv from the
checkpoint directory and from the SavedModel.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import classifier_tasks
import similarity
from test_run_classifier import ROOT, SEQ, VOCAB, base_flags, run_script, save_pretrained
from test_run_classifier import synthetic_pairs, tiny_config, write

SCRIPT = os.path.join(ROOT, "similarity.py")

# Sentences longer than the test-set ones, to mix lengths within a batch.
EXTRA_PAIRS = [(u"红天地人山水火木金土", u"红"), (u"天", u"地"), (u"花草鱼鸟虫红", u"红风云雨")]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A fine-tuned tiny model: checkpoint dir, SavedModel and --do_predict output."""
    root = tmp_path_factory.mktemp("similarity")
    ws = {"root": str(root)}
    ws["vocab"] = write(root / "vocab.txt", u"\n".join(VOCAB) + u"\n")
    ws["config"] = write(root / "config.json", json.dumps(tiny_config()))
    pretrained = save_pretrained(tiny_config(), str(root / "pretrained" / "model.ckpt"))
    data = root / "lcqmc"
    for split, seed, count in (("train", 21, 64), ("dev", 22, 16), ("test", 23, 40)):
        write(data / ("%s.txt" % split),
              u"".join(u"%s\t%s\t%d\n" % row for row in synthetic_pairs(seed, count)))
    ws["data"] = str(data)
    out = str(root / "out")
    export = str(root / "export")
    result = run_script(*(base_flags(ws, out) + [
        "--init_checkpoint=%s" % pretrained, "--do_train", "--do_predict",
        "--export_dir=%s" % export, "--train_step=30", "--warmup_step=5", "--learning_rate=1e-3",
        "--train_batch_size=16", "--predict_batch_size=7", "--save_checkpoints_steps=30",
        "--random_seed=3"
    ]))
    assert result.returncode == 0, result.stderr[-5000:]
    ws["out"], ws["export"] = out, export
    examples = classifier_tasks.get_processor("lcqmc").get_test_examples(ws["data"])
    ws["pairs"] = [(e.text_a, e.text_b) for e in examples]
    ws["expected"] = np.loadtxt(os.path.join(out, "test_results.tsv"), delimiter="\t")[:, 1]
    return ws


def checkpoint_predictor(ws, **kwargs):
    return similarity.SimilarityPredictor(model_dir=ws["out"], config_name=ws["config"],
                                          vocab_file=ws["vocab"], **kwargs)


@pytest.fixture(scope="module")
def from_checkpoint(model):
    predictor = checkpoint_predictor(model, batch_size=8).start_model()
    yield predictor
    predictor.close()


@pytest.fixture(scope="module")
def from_saved_model(model):
    predictor = similarity.BertSim(model_dir=model["export"], batch_size=8)
    predictor.start_model()
    yield predictor
    predictor.close()


# ---------------------------------------------------------------------------
# The predictor.
# ---------------------------------------------------------------------------


def test_checkpoint_directory_matches_run_classifier_predict(model, from_checkpoint):
    assert from_checkpoint.source == "checkpoint"
    assert os.path.basename(from_checkpoint.model_path) == "model.ckpt-30"
    scores = from_checkpoint.predict_sentences(model["pairs"])
    assert len(scores) == 40
    assert np.allclose(scores, model["expected"], atol=1e-5)
    # Not a degenerate model: the pairs get different scores.
    assert np.ptp(scores) > 1e-3


def test_saved_model_matches_run_classifier_predict(model, from_saved_model):
    assert from_saved_model.source == "saved_model"
    # Casing, labels and max_seq_len come from the export.
    assert from_saved_model.max_seq_len == SEQ
    assert from_saved_model.labels == ["0", "1"]
    scores = from_saved_model.predict_sentences(model["pairs"])
    assert np.allclose(scores, model["expected"], atol=1e-5)


def test_batches_equal_one_by_one_in_input_order(model, from_checkpoint, from_saved_model):
    pairs = model["pairs"][:12] + EXTRA_PAIRS
    for predictor in (from_checkpoint, from_saved_model):
        batched = predictor.predict_sentences(pairs)
        single = [predictor.predict(a, b) for a, b in pairs]
        assert np.allclose(batched, single, atol=1e-5)
        # Reversed input gives reversed output (results come back in order).
        assert np.allclose(predictor.predict_sentences(pairs[::-1]), batched[::-1], atol=1e-5)
    assert np.allclose(from_checkpoint.predict_sentences(pairs),
                       from_saved_model.predict_sentences(pairs), atol=1e-5)
    probabilities = from_checkpoint.predict_probabilities(pairs)
    assert probabilities.shape == (len(pairs), 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert from_checkpoint.predict_sentences([]) == []


def record_batch_shapes(predictor):
    """Wraps the predictor's session callable; returns the list of batch shapes it saw."""
    shapes = []
    run = predictor._run

    def recording_run(ids, mask, segments):
        shapes.append(ids.shape)
        return run(ids, mask, segments)

    predictor._run = recording_run
    return shapes


def test_start_model_loads_once_and_pads_to_the_longest_pair(model):
    predictor = checkpoint_predictor(model, batch_size=4)
    predictor.start_model()
    session = predictor._session
    predictor.start_model()
    assert predictor._session is session
    shapes = record_batch_shapes(predictor)
    predictor.predict_sentences([(u"天", u"地")] * 3 + [(u"红天地人山水火木", u"天地人山水")])
    # One batch of 4, padded to the longest pair ([CLS] 8 [SEP] 5 [SEP] = 16), not to SEQ.
    assert shapes == [(4, 16)]
    # Ten pairs in batches of 4: three runs, sorted by length.
    del shapes[:]
    predictor.predict_sentences([(u"天" * n, u"地") for n in (9, 1, 5, 2, 8, 3, 7, 4, 6, 1)])
    assert shapes == [(4, 7), (4, 11), (2, 13)]
    predictor.close()
    assert not predictor.started


class Gate(object):
    """Holds the predictor's first session run until ``release`` is set.

    Records the input_ids of every run in ``runs``.
    """

    def __init__(self, predictor):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.runs = []
        run = predictor._run

        def gated_run(ids, mask, segments):
            self.runs.append(ids.copy())
            self.entered.set()
            assert self.release.wait(60), "the gate was never released"
            return run(ids, mask, segments)

        predictor._run = gated_run


def wait_for(condition, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out waiting for %s" % what
        time.sleep(0.01)


def in_thread(fn, *fn_args):
    """Starts fn(*fn_args) in a thread; returns (thread, outcome dict)."""
    outcome = {}

    def call():
        try:
            outcome["value"] = fn(*fn_args)
        except Exception as e:  # pylint: disable=broad-except
            outcome["error"] = e

    thread = threading.Thread(target=call)
    thread.daemon = True
    thread.start()
    return thread, outcome


def test_concurrent_calls_share_batches(model, from_checkpoint):
    pairs = model["pairs"][:7]
    expected = from_checkpoint.predict_sentences(pairs)
    with checkpoint_predictor(model, batch_size=8) as predictor:
        gate = Gate(predictor)
        first = in_thread(predictor.predict_sentences, pairs[:1])
        assert gate.entered.wait(30)
        # Three calls arrive while the model is busy: they wait in the queue...
        calls = []
        for start in (1, 3, 5):
            calls.append(in_thread(predictor.predict_sentences, pairs[start:start + 2]))
            wait_for(lambda: len(predictor._queue) == len(calls), what="queued calls")
        gate.release.set()
        for thread, outcome in [first] + calls:
            thread.join(30)
            assert "error" not in outcome, outcome
        # ... and run together in one batch of 6 pairs.
        assert [run.shape[0] for run in gate.runs] == [1, 6]
        answers = [outcome["value"] for _, outcome in [first] + calls]
        assert np.allclose(sum(answers, []), expected, atol=1e-5)


def test_shared_batches_are_split_by_length(model, from_checkpoint):
    short, long_pair = (u"天", u"地"), (u"天" * 10, u"地" * 10)  # 5 and 23 tokens
    pairs = [short, long_pair] * 8
    with checkpoint_predictor(model, batch_size=32) as predictor:
        gate = Gate(predictor)
        first = in_thread(predictor.predict_sentences, [short])
        assert gate.entered.wait(30)
        calls = []
        for pair in pairs:  # 16 one-pair calls, lengths alternating
            calls.append(in_thread(predictor.predict_sentences, [pair]))
            wait_for(lambda: len(predictor._queue) == len(calls), what="queued calls")
        gate.release.set()
        for thread, outcome in [first] + calls:
            thread.join(30)
            assert "error" not in outcome, outcome
        # One shared batch of 16, run as two runs of one length each (not 16 x 23).
        assert [run.shape for run in gate.runs] == [(1, 5), (8, 5), (8, 23)]
        answers = [outcome["value"][0] for _, outcome in calls]
    assert np.allclose(answers, from_checkpoint.predict_sentences(pairs), atol=1e-5)


def test_a_large_call_does_not_hold_back_a_small_one(model):
    small = (u"鸟", u"鸟")  # the only pair with the token of 鸟
    bird = VOCAB.index(u"鸟")
    large = [(u"天" * n, u"地") for n in range(1, 11)]
    for batch_requests in (True, False):
        with checkpoint_predictor(model, batch_size=4, batch_requests=batch_requests) as predictor:
            gate = Gate(predictor)
            first = in_thread(predictor.predict_sentences, [(u"天", u"地")])
            assert gate.entered.wait(30)
            big = in_thread(predictor.predict_sentences, large)
            if batch_requests:
                wait_for(lambda: len(predictor._queue) == 1, what="the large call queued")
            else:
                time.sleep(0.2)  # the large call waits for the run lock
            little = in_thread(predictor.predict_sentences, [small])
            if batch_requests:
                wait_for(lambda: len(predictor._queue) == 2, what="the small call queued")
            else:
                time.sleep(0.2)
            gate.release.set()
            for thread, outcome in (first, big, little):
                thread.join(30)
                assert "error" not in outcome, outcome
            runs_with_bird = [i for i, ids in enumerate(gate.runs) if (ids == bird).any()]
            if batch_requests:
                # Run 1: the first call; run 2: 4 of the large call; run 3: the
                # small call with 3 more of the large one; run 4: the rest.
                assert [run.shape[0] for run in gate.runs] == [1, 4, 4, 3]
                assert runs_with_bird == [2]
            else:
                assert len(runs_with_bird) == 1 and len(gate.runs) == 5


def test_close_fails_waiting_calls_with_model_closed_error(model):
    predictor = checkpoint_predictor(model, batch_size=1).start_model()
    gate = Gate(predictor)
    running = in_thread(predictor.predict_sentences, [(u"天", u"地")])
    assert gate.entered.wait(30)
    waiting = in_thread(predictor.predict_sentences, [(u"天", u"地"), (u"山", u"水")])
    wait_for(lambda: len(predictor._queue) == 1, what="the waiting call queued")
    closer = in_thread(predictor.close)
    wait_for(lambda: not predictor._queue, what="close() emptying the queue")
    gate.release.set()
    for thread, _ in (running, waiting, closer):
        thread.join(30)
    # The batch that was running finishes; the pairs still waiting fail.
    assert len(running[1]["value"]) == 1
    assert isinstance(waiting[1]["error"], similarity.ModelClosedError)
    assert isinstance(waiting[1]["error"], similarity.SimilarityError)
    assert not predictor.started
    # A closed model stays closed (no reload behind the caller's back) until
    # start_model is called again.
    with pytest.raises(similarity.ModelClosedError, match="start_model loads it again"):
        predictor.predict(u"天", u"地")
    with predictor.start_model():
        assert 0.0 <= predictor.predict(u"天", u"地") <= 1.0


def variable_ops(predictor):
    return [
        op.name
        for op in predictor._session.graph.get_operations()
        if op.type in ("VariableV2", "VarHandleOp")
    ]


def test_unfrozen_graph_gives_the_same_probabilities(model, from_checkpoint, from_saved_model):
    # By default the weights are folded into a frozen copy of the graph.
    assert variable_ops(from_checkpoint) == [] and variable_ops(from_saved_model) == []
    with checkpoint_predictor(model, freeze_graph=False) as predictor:
        assert "output_weights" in variable_ops(predictor)
        scores = predictor.predict_sentences(model["pairs"])
    assert np.allclose(scores, model["expected"], atol=1e-5)


def test_truncation_to_max_seq_len(model):
    with checkpoint_predictor(model, max_seq_len=8) as predictor:
        ids, segments = predictor.encode(u"天地人山水火", u"红风云雨")
    # [CLS] 3 of a [SEP] 2 of b [SEP]: the longer sentence loses tokens first.
    assert len(ids) == 8 and segments == [0, 0, 0, 0, 0, 1, 1, 1]


def test_errors_are_clear(model, tmp_path, from_checkpoint):
    with pytest.raises(similarity.SimilarityError, match="pair 1: expected 2 sentences"):
        from_checkpoint.predict_sentences([(u"a", u"b"), (u"a",)])
    with pytest.raises(similarity.SimilarityError, match="pair 0, sentence 2: expected a str"):
        from_checkpoint.predict_sentences([(u"a", 3)])
    with pytest.raises(similarity.SimilarityError, match="only predicts"):
        from_checkpoint.set_mode("train")
    with pytest.raises(similarity.SimilarityError, match="no checkpoint"):
        checkpoint_predictor({
            "out": str(tmp_path),
            "config": model["config"],
            "vocab": model["vocab"]
        }).start_model()
    with pytest.raises(similarity.SimilarityError, match="not a fine-tuned classifier"):
        similarity.SimilarityPredictor(model_dir=os.path.join(model["root"], "pretrained"),
                                       config_name=model["config"],
                                       vocab_file=model["vocab"]).start_model()
    with pytest.raises(similarity.SimilarityError, match="label '2' is not one"):
        similarity.SimilarityPredictor(model_dir=model["export"], label="2").start_model()
    with pytest.raises(similarity.SimilarityError, match="pair 1, sentence 2 is empty"):
        from_checkpoint.predict_sentences([(u"天", u"地"), (u"天", u"")])
    for blank in (u" ", u"\t\n", u"\u3000"):  # whitespace only, as run_classifier.py
        with pytest.raises(similarity.SimilarityError,
                           match=r"pair 0, sentence 1 is empty \(only whitespace\)"):
            from_checkpoint.predict(blank, u"地")
    other = write(tmp_path / "other.json", json.dumps(tiny_config(hidden_size=48)))
    with pytest.raises(similarity.SimilarityError, match="hidden_size"):
        similarity.SimilarityPredictor(model_dir=model["out"], config_name=other,
                                       vocab_file=model["vocab"]).start_model()


# ---------------------------------------------------------------------------
# The command line.
# ---------------------------------------------------------------------------


def run_cli(*cli_args, **kwargs):
    env = dict(os.environ)
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    return subprocess.run([sys.executable, SCRIPT] + list(cli_args), cwd=ROOT, env=env,
                          input=kwargs.get("stdin", u"").encode("utf-8"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=300)


def test_help_exits_zero_and_lists_the_flags():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout.decode("utf-8")
    assert "Sentence-pair similarity" in text
    for flag in ("--model_dir", "--ckpt_name", "--config_name", "--vocab_file", "--max_seq_len",
                 "--batch_size", "--input_file", "--serve", "--port", "--max_request_bytes",
                 "--listen_backlog", "--max_connections", "--shutdown_timeout", "--batch_requests"):
        assert flag in text, flag


def test_batch_mode_writes_scores_and_names_bad_lines(model, tmp_path, from_saved_model):
    pairs = model["pairs"][:5] + EXTRA_PAIRS
    lines = [u"%s\t%s" % pair for pair in pairs]
    lines[1] += u"\t1"  # a label column is ignored
    source = write(tmp_path / "pairs.tsv", u"\n".join(lines) + u"\n\n")
    output = str(tmp_path / "scores.tsv")
    result = run_cli("--model_dir=%s" % model["export"], "--input_file=%s" % source,
                     "--output_file=%s" % output)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [l.split(u"\t") for l in io.open(output, encoding="utf-8").read().splitlines()]
    assert [(r[0], r[1]) for r in rows] == pairs
    expected = from_saved_model.predict_sentences(pairs)
    assert np.allclose([float(r[2]) for r in rows], expected, atol=1e-5)
    # Without --output_file the lines go to stdout; checkpoint directory this time.
    result = run_cli("--model_dir=%s" % model["out"], "--config_name=%s" % model["config"],
                     "--vocab_file=%s" % model["vocab"], "--input_file=%s" % source)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [l.split(u"\t") for l in result.stdout.decode("utf-8").splitlines()]
    assert np.allclose([float(r[2]) for r in printed], expected, atol=1e-5)
    bad = write(tmp_path / "bad.tsv", u"天\t地\n天地人\n")
    result = run_cli("--model_dir=%s" % model["export"], "--input_file=%s" % bad,
                     "--output_file=%s" % str(tmp_path / "bad_out.tsv"))
    assert result.returncode == 1
    stderr = result.stderr.decode("utf-8")
    assert "Traceback" not in stderr
    errors = [l for l in stderr.splitlines() if l.startswith("error: ")]
    assert len(errors) == 1 and "bad.tsv:2: expected 2 tab-separated fields" in errors[0]
    assert not os.path.exists(str(tmp_path / "bad_out.tsv"))


def test_batch_mode_rejects_empty_sentences(model, tmp_path):
    # Line 3 has a second sentence of spaces: an error naming the file and line.
    source = write(tmp_path / "blank.tsv", u"天\t地\n\n山\t \u3000 \t1\n水\t\n")
    output = str(tmp_path / "blank_out.tsv")
    result = run_cli("--model_dir=%s" % model["export"], "--input_file=%s" % source,
                     "--output_file=%s" % output)
    assert result.returncode == 1
    stderr = result.stderr.decode("utf-8")
    assert "Traceback" not in stderr
    errors = [l for l in stderr.splitlines() if l.startswith("error: ")]
    assert errors == ["error: %s:3: field 2 (sentence_b) is empty" % source], stderr[-2000:]
    assert not os.path.exists(output)
    blank_a = write(tmp_path / "blank_a.tsv", u" \t地\n")
    with pytest.raises(similarity.SimilarityError, match=r"blank_a\.tsv:1: field 1 \(sentence_a\)"):
        list(similarity.read_pair_file(blank_a))


def test_interactive_mode_reads_stdin_until_eof(model, from_saved_model):
    pairs = [model["pairs"][0], model["pairs"][1], EXTRA_PAIRS[0]]
    # Pairs with an empty sentence get an error line and are skipped.
    stdin = u"%s\t%s\n\n%s\t\n%s\n%s\n \t地\n%s\t%s\n一\t二\t三\n%s\n" % (pairs[0] + (u"天",) +
                                                                      pairs[1] + pairs[2] + (u"孤",))
    result = run_cli("--model_dir=%s" % model["export"], stdin=stdin)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [float(l) for l in result.stdout.decode("utf-8").split()]
    assert np.allclose(printed, from_saved_model.predict_sentences(pairs), atol=1e-5)
    stderr = result.stderr.decode("utf-8")
    assert "got 3 tab-separated fields; skipped" in stderr
    assert "error: sentence_b is empty; skipped" in stderr
    assert "error: sentence_a is empty; skipped" in stderr
    assert "without its pair" in stderr and "Traceback" not in stderr


# ---------------------------------------------------------------------------
# The HTTP service.
# ---------------------------------------------------------------------------


def http(port, method, path, body=None, headers=None, with_headers=False):
    """(status, parsed JSON[, response headers]) of one request to 127.0.0.1:port."""
    import http.client as client  # pylint: disable=g-import-not-at-top
    connection = client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        answer = (response.status, json.loads(response.read().decode("utf-8")))
        return answer + (dict(response.getheaders()),) if with_headers else answer
    finally:
        connection.close()


def predict_body(pairs):
    return json.dumps({"pairs": [list(p) for p in pairs]}, ensure_ascii=False).encode("utf-8")


SERVICE_MAX_BYTES = 131072


@pytest.fixture(scope="module")
def service(model):
    """similarity.py --serve --port=0 in a subprocess; always stopped."""
    env = dict(os.environ)
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    process = subprocess.Popen([
        sys.executable, SCRIPT,
        "--model_dir=%s" % model["export"], "--serve", "--port=0",
        "--max_request_bytes=%d" % SERVICE_MAX_BYTES, "--batch_size=2", "--shutdown_timeout=120"
    ], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr_lines = []
    reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr))
    reader.daemon = True
    reader.start()
    try:
        line = process.stdout.readline().decode("utf-8")
        assert line.startswith("serving on http://127.0.0.1:"), (
            line + b"".join(stderr_lines).decode("utf-8", "replace")[-3000:])
        port = int(line.split("127.0.0.1:")[1].split()[0])
        yield {"port": port, "process": process, "stderr": stderr_lines}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)


def test_http_health_and_predict(model, service, from_saved_model):
    status, health = http(service["port"], "GET", "/health")
    assert status == 200 and health["status"] == "ok" and health["source"] == "saved_model"
    pairs = model["pairs"][:6] + EXTRA_PAIRS
    status, answer = http(service["port"], "POST", "/predict",
                          json.dumps({
                              "pairs": [list(p) for p in pairs]
                          }).encode("utf-8"), {"Content-Type": "application/json"})
    assert status == 200, answer
    assert np.allclose(answer["probabilities"], from_saved_model.predict_sentences(pairs),
                       atol=1e-5)
    status, answer = http(service["port"], "POST", "/predict", b'{"pairs": []}')
    assert status == 200 and answer == {"probabilities": []}


@pytest.mark.parametrize(
    "body,message",
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"pairs": "a"}', '"pairs" must be a list'),
        (b'{"pairs": [["a", "b"], ["a"]]}', "pairs[1]: expected [sentence_a, sentence_b]"),
        (b'{"pairs": [["a", "b", "c"]]}', "pairs[0]: expected [sentence_a, sentence_b]"),
        (b'{"pairs": [["a", 7]]}', "pairs[0][1]: expected a string, got 7"),
        (b'{"pairs": [[null, "b"]]}', "pairs[0][0]: expected a string, got null"),
        (b'{"pairs": [["a", "b"], ["a", "b"], ["a", "b"], ["a", ""]]}', "pairs[3][1] is empty"),
        (u'{"pairs": [["\u3000 ", "b"]]}'.encode("utf-8"),
         "pairs[0][0] is empty (only whitespace)"),
        (b'{"pairs": [["a", "\\t"]]}', "pairs[0][1] is empty (only whitespace)"),
        # Nesting deeper than the JSON parser's recursion limit is the client's error too.
        (b'{"pairs": ' + b"[" * 3000 + b"]" * 3000 + b"}", "malformed JSON: nested too deeply"),
    ])
def test_http_malformed_requests_get_400(service, body, message):
    status, answer = http(service["port"], "POST", "/predict", body)
    assert status == 400 and message in answer["error"], answer


def test_parse_predict_request_deep_nesting_is_a_client_error():
    # 400,000-deep arrays in 800 kB: under the default 1 MB limit.
    body = b'{"pairs": ' + b"[" * 400000 + b"]" * 400000 + b"}"
    assert len(body) < similarity.args.max_request_bytes
    with pytest.raises(similarity.RequestError, match="nested too deeply") as caught:
        similarity.parse_predict_request(body)
    assert caught.value.status == 400
    deep_pair = b'{"pairs": [["a", ' + b"[" * 500 + b"]" * 500 + b"]]}"
    with pytest.raises(similarity.RequestError, match=r"pairs\[0\]\[1\]: expected a string"):
        similarity.parse_predict_request(deep_pair)


def test_http_oversize_unknown_path_and_method(service):
    big = json.dumps({"pairs": [[u"天" * 100, u"地" * 100]] * 300}).encode("utf-8")
    assert len(big) > SERVICE_MAX_BYTES
    status, answer = http(service["port"], "POST", "/predict", big)
    assert status == 413
    assert "larger than the limit of %d bytes" % SERVICE_MAX_BYTES in answer["error"]
    assert http(service["port"], "GET", "/nothing")[0] == 404
    assert http(service["port"], "POST", "/health", b"{}")[0] == 404
    assert http(service["port"], "PUT", "/predict", b"{}")[0] == 405
    # No Content-Length: 411; a body shorter than announced: 400 or 408 (timeout).
    raw = socket.create_connection(("127.0.0.1", service["port"]), timeout=60)
    raw.sendall(b"POST /predict HTTP/1.0\r\n\r\n")
    assert raw.makefile("rb").readline().split()[1] == b"411"
    raw.close()
    # The service still answers after the bad requests.
    assert http(service["port"], "GET", "/health")[0] == 200


def test_http_concurrent_requests(model, service, from_saved_model):
    pairs = model["pairs"] + EXTRA_PAIRS
    results = {}
    errors = []

    def client(index):
        chunk = pairs[index::8]
        try:
            for _ in range(3):
                status, answer = http(service["port"], "POST", "/predict",
                                      json.dumps({
                                          "pairs": chunk
                                      }).encode("utf-8"))
                assert status == 200, answer
                results.setdefault(index, []).append(answer["probabilities"])
        except Exception as e:  # pylint: disable=broad-except
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for index in range(8):
        expected = from_saved_model.predict_sentences(pairs[index::8])
        assert len(results[index]) == 3
        for answer in results[index]:
            assert np.allclose(answer, expected, atol=1e-5)


def test_http_200_clients_at_once_all_get_answers(model, service, from_saved_model):
    # Python's default listen backlog (5) reset most of these connections.
    clients = 200
    pairs = [model["pairs"][i % len(model["pairs"])] for i in range(clients)]
    barrier = threading.Barrier(clients)
    answers = [None] * clients

    def client(index):
        try:
            barrier.wait(60)
            answers[index] = http(service["port"], "POST", "/predict", predict_body([pairs[index]]))
        except Exception as e:  # pylint: disable=broad-except
            answers[index] = e

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join(120)
    failures = [a for a in answers if not (isinstance(a, tuple) and a[0] == 200)]
    assert not failures, (len(failures), failures[:3])
    expected = from_saved_model.predict_sentences(pairs)
    assert np.allclose([a[1]["probabilities"][0] for a in answers], expected, atol=1e-5)


def test_http_graceful_shutdown(model, service):
    # Runs last in this file (pytest keeps the order): SIGTERM stops the server.
    # A long request in progress is finished, not cut off; a request arriving
    # meanwhile gets 503; then the process exits cleanly.
    port, process = service["port"], service["process"]
    long_pairs = [(u"天", u"地")] * 8000  # 4000 batches: seconds, near the size limit
    body = predict_body(long_pairs)
    assert len(body) < SERVICE_MAX_BYTES
    long_request = in_thread(http, port, "POST", "/predict", body)
    wait_for(lambda: http(port, "GET", "/health")[1]["predictions_in_progress"] > 0,
             what="the long request in progress")
    process.send_signal(signal.SIGTERM)
    wait_for(lambda: http(port, "GET", "/health")[0] == 503, what="the drain")
    status, answer, headers = http(port, "POST", "/predict", predict_body([(u"天", u"地")]),
                                   with_headers=True)
    assert status == 503 and "shutting down" in answer["error"]
    assert headers.get("Retry-After") == "1"
    long_request[0].join(120)
    status, answer = long_request[1]["value"]
    assert status == 200 and len(answer["probabilities"]) == len(long_pairs), answer
    assert process.wait(timeout=60) == 0
    assert b"Traceback" not in b"".join(service["stderr"])


# ---------------------------------------------------------------------------
# The HTTP server in this process, with a model held by a Gate.
# ---------------------------------------------------------------------------


@pytest.fixture
def gated_server(model):
    """make_server(...) factory serving in a thread; stops and joins everything."""
    made = []

    def make(batch_size=2, **server_kwargs):
        predictor = similarity.SimilarityPredictor(model_dir=model["export"],
                                                   batch_size=batch_size).start_model()
        gate = Gate(predictor)
        server = similarity.make_server(predictor, 0, **server_kwargs)
        thread = threading.Thread(target=server.serve_until_stopped, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        made.append((server, thread, gate))
        return server, server.server_address[1], gate, predictor

    yield make
    for server, thread, gate in made:
        gate.release.set()
        server.stop(0)
        thread.join(30)
        assert not thread.is_alive()


def test_http_drain_finishes_the_request_in_progress(gated_server, from_saved_model):
    server, port, gate, predictor = gated_server()
    running = in_thread(http, port, "POST", "/predict", predict_body(EXTRA_PAIRS[:1]))
    assert gate.entered.wait(30)
    server.stop(timeout=60)
    wait_for(lambda: server.status()["status"] == "stopping", what="the drain")
    # New requests during the drain: 503 with Retry-After, /health too.
    status, answer, headers = http(port, "POST", "/predict", predict_body(EXTRA_PAIRS[1:2]),
                                   with_headers=True)
    assert status == 503 and answer["error"] == "the service is shutting down"
    assert headers["Retry-After"] == "1" and headers["Connection"] == "close"
    status, health = http(port, "GET", "/health")
    assert status == 503 and health["status"] == "stopping"
    assert health["predictions_in_progress"] == 1
    assert predictor.started
    gate.release.set()
    running[0].join(30)
    status, answer = running[1]["value"]
    assert status == 200
    assert np.allclose(answer["probabilities"], from_saved_model.predict_sentences(EXTRA_PAIRS[:1]),
                       atol=1e-5)
    wait_for(lambda: not predictor.started, what="the model closed after the drain")


def test_http_shutdown_timeout_answers_503_not_400(gated_server):
    server, port, gate, predictor = gated_server(batch_size=1)
    closing = threading.Event()
    close = predictor.close

    def close_and_signal():
        closing.set()
        close()

    predictor.close = close_and_signal
    # Three pairs in batches of one: the first run is held, the drain times out.
    running = in_thread(http, port, "POST", "/predict", predict_body(EXTRA_PAIRS), None, True)
    assert gate.entered.wait(30)
    server.stop(timeout=0.1)
    assert closing.wait(30)
    gate.release.set()
    running[0].join(30)
    status, answer, headers = running[1]["value"]
    assert status == 503, answer
    assert "shutting down" in answer["error"] and "closed" in answer["error"]
    assert headers["Retry-After"] == "1"


def test_http_connections_over_the_limit_get_503(gated_server):
    server, port, gate, _ = gated_server(max_connections=1, listen_backlog=16)
    assert server.request_queue_size == 16
    running = in_thread(http, port, "POST", "/predict", predict_body(EXTRA_PAIRS[:1]))
    assert gate.entered.wait(30)
    status, answer, headers = http(port, "POST", "/predict", predict_body(EXTRA_PAIRS[1:2]),
                                   with_headers=True)
    assert status == 503 and "too many connections (1)" in answer["error"]
    assert headers["Retry-After"] == "1"
    gate.release.set()
    running[0].join(30)
    assert running[1]["value"][0] == 200
    wait_for(lambda: server.status()["connections"] == 0, what="the connection closed")
    assert http(port, "POST", "/predict", predict_body(EXTRA_PAIRS[1:2]))[0] == 200


def test_server_settings_are_checked(from_saved_model):
    for name in ("listen_backlog", "max_connections", "max_request_bytes"):
        with pytest.raises(similarity.SimilarityError, match="%s must be >= 1" % name):
            similarity.make_server(from_saved_model, 0, **{name: -1})
