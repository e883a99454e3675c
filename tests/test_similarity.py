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
import subprocess
import sys
import threading

import numpy as np
import pytest

import classifier_utils
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
        "--export_dir=%s" % export, "--train_step=30", "--warmup_step=5",
        "--learning_rate=1e-3", "--train_batch_size=16", "--predict_batch_size=7",
        "--save_checkpoints_steps=30", "--random_seed=3"]))
    assert result.returncode == 0, result.stderr[-5000:]
    ws["out"], ws["export"] = out, export
    examples = classifier_utils.get_processor("lcqmc").get_test_examples(ws["data"])
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


def variable_ops(predictor):
    return [op.name for op in predictor._session.graph.get_operations()
            if op.type in ("VariableV2", "VarHandleOp")]


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
        checkpoint_predictor({"out": str(tmp_path), "config": model["config"],
                              "vocab": model["vocab"]}).start_model()
    with pytest.raises(similarity.SimilarityError, match="not a fine-tuned classifier"):
        similarity.SimilarityPredictor(
            model_dir=os.path.join(model["root"], "pretrained"), config_name=model["config"],
            vocab_file=model["vocab"]).start_model()
    with pytest.raises(similarity.SimilarityError, match="label '2' is not one"):
        similarity.SimilarityPredictor(model_dir=model["export"], label="2").start_model()
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
                          input=kwargs.get("stdin", u"").encode("utf-8"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)


def test_help_exits_zero_and_lists_the_flags():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout.decode("utf-8")
    assert "Sentence-pair similarity" in text
    for flag in ("--model_dir", "--ckpt_name", "--config_name", "--vocab_file", "--max_seq_len",
                 "--batch_size", "--input_file", "--serve", "--port", "--max_request_bytes"):
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


def test_interactive_mode_reads_stdin_until_eof(model, from_saved_model):
    pairs = [model["pairs"][0], model["pairs"][1], EXTRA_PAIRS[0]]
    stdin = u"%s\t%s\n\n%s\n%s\n%s\t%s\n一\t二\t三\n%s\n" % (
        pairs[0] + pairs[1] + pairs[2] + (u"孤",))
    result = run_cli("--model_dir=%s" % model["export"], stdin=stdin)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [float(l) for l in result.stdout.decode("utf-8").split()]
    assert np.allclose(printed, from_saved_model.predict_sentences(pairs), atol=1e-5)
    stderr = result.stderr.decode("utf-8")
    assert "got 3 tab-separated fields; skipped" in stderr
    assert "without its pair" in stderr and "Traceback" not in stderr


# ---------------------------------------------------------------------------
# The HTTP service.
# ---------------------------------------------------------------------------


def http(port, method, path, body=None, headers=None):
    """(status, parsed JSON) of one request to 127.0.0.1:port."""
    try:
        import http.client as client
    except ImportError:  # pragma: no cover
        import httplib as client
    connection = client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read().decode("utf-8"))
    finally:
        connection.close()


@pytest.fixture(scope="module")
def service(model):
    """similarity.py --serve --port=0 in a subprocess; always stopped."""
    env = dict(os.environ)
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    process = subprocess.Popen(
        [sys.executable, SCRIPT, "--model_dir=%s" % model["export"], "--serve", "--port=0",
         "--max_request_bytes=4096", "--batch_size=4"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
                          json.dumps({"pairs": [list(p) for p in pairs]}).encode("utf-8"),
                          {"Content-Type": "application/json"})
    assert status == 200, answer
    assert np.allclose(answer["probabilities"], from_saved_model.predict_sentences(pairs),
                       atol=1e-5)
    status, answer = http(service["port"], "POST", "/predict", b'{"pairs": []}')
    assert status == 200 and answer == {"probabilities": []}


@pytest.mark.parametrize("body,message", [
    (b"{not json", "malformed JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"pairs": "a"}', '"pairs" must be a list'),
    (b'{"pairs": [["a", "b"], ["a"]]}', "pairs[1]: expected [sentence_a, sentence_b]"),
    (b'{"pairs": [["a", "b", "c"]]}', "pairs[0]: expected [sentence_a, sentence_b]"),
    (b'{"pairs": [["a", 7]]}', "pairs[0][1]: expected a string, got 7"),
    (b'{"pairs": [[null, "b"]]}', "pairs[0][0]: expected a string, got null"),
])
def test_http_malformed_requests_get_400(service, body, message):
    status, answer = http(service["port"], "POST", "/predict", body)
    assert status == 400 and message in answer["error"], answer


def test_http_oversize_unknown_path_and_method(service):
    big = json.dumps({"pairs": [[u"天" * 100, u"地" * 100]] * 10}).encode("utf-8")
    assert len(big) > 4096
    status, answer = http(service["port"], "POST", "/predict", big)
    assert status == 413 and "larger than the limit of 4096 bytes" in answer["error"]
    assert http(service["port"], "GET", "/nothing")[0] == 404
    assert http(service["port"], "POST", "/health", b"{}")[0] == 404
    assert http(service["port"], "PUT", "/predict", b"{}")[0] == 405
    # No Content-Length: 411; a body shorter than announced: 400 or 408 (timeout).
    import socket
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
                                      json.dumps({"pairs": chunk}).encode("utf-8"))
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


def test_http_graceful_shutdown(model, service):
    # Runs last in this file (pytest keeps the order): SIGTERM stops the server.
    process = service["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert b"Traceback" not in b"".join(service["stderr"])
