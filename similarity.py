# coding=utf-8
"""Sentence-pair similarity with a fine-tuned ALBERT: library, CLI and HTTP service.

The model is loaded once (one graph, one session, kept open) and every query
reuses it: no Estimator, no reload per call. Pairs are tokenized, sorted by
length and run in batches, each padded only to its longest pair.

Library::

    from similarity import SimilarityPredictor   # alias: BertSim
    sim = SimilarityPredictor(model_dir="lcqmc_output")   # or a SavedModel
    sim.start_model()
    sim.predict_sentences([(u"今天天气怎么样", u"今天天气如何")])  # -> [0.97]

Command line (defaults in args.py; every setting is a flag)::

    python similarity.py --model_dir=lcqmc_output            # interactive
    python similarity.py --model_dir=export --input_file=pairs.tsv \\
        --output_file=scores.tsv                             # batch
    python similarity.py --model_dir=export --serve --port=8765    # HTTP

Interactive mode reads pairs from stdin, either one tab-separated line
("a<TAB>b") or two lines (a, then b), and prints the probability of each;
end of input (Ctrl-D) exits. Batch mode reads a UTF-8 TSV file (a<TAB>b, an
optional third column such as a label is ignored) and writes
"a<TAB>b<TAB>probability" lines to --output_file or stdout.

An empty or whitespace-only sentence is an error everywhere, as in
run_classifier.py: the library raises SimilarityError, batch mode stops
with the file and line, interactive mode prints an error line and goes on,
and the service answers 400.

HTTP (127.0.0.1 only): ``GET /health``; ``POST /predict`` with
``{"pairs": [["a", "b"], ...]}`` answers ``{"probabilities": [...]}``.
Malformed requests get 400 with ``{"error": "..."}`` naming the bad element
(``pairs[3][1] is empty``), bodies over --max_request_bytes get 413. Up to
--listen_backlog connections wait in the kernel's queue and
--max_connections are handled at once; beyond that a client gets 503 with
Retry-After, never a reset. Pairs of concurrent requests share batches
(--batch_requests). SIGINT/SIGTERM drain: new requests get 503 while those
in progress finish (at most --shutdown_timeout seconds), then the model is
closed and what still waits for it gets 503.

--model_dir may be a fine-tuning output directory of run_classifier.py
(model.ckpt-best, else the latest checkpoint), a checkpoint prefix, or a
SavedModel written by run_classifier.py --export_dir (which carries its own
config, vocabulary, labels and casing). For checkpoints, the config and
vocabulary are --config_name / --vocab_file when given, else files found
next to the checkpoint, else the args.py defaults.
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import errno
import glob
import io
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import numpy as np
import six

import args
import checkpoint_utils
import classifier_tasks
import classifier_utils
import modeling
import tokenization
from tf_compat import tf

_INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")
_CONFIG_PATTERNS = ("albert_config*.json", "bert_config*.json", "config.json")
_VOCAB_PATTERNS = ("vocab.txt", "*.model")
BEST_CHECKPOINT = "model.ckpt-best"


class SimilarityError(ValueError):
    """A problem with the model files, the settings or the input pairs."""


class ModelClosedError(SimilarityError):
    """The model was closed (or is closing) before a prediction could run.

    Not a problem with the input: the HTTP service answers it with 503.
    """


def _first_match(directory, patterns):
    if not directory or not os.path.isdir(directory):
        return None
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(directory, pattern)))
        if found:
            return found[0]
    return None


def is_saved_model(path):
    """Whether ``path`` is a SavedModel directory."""
    return bool(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def find_checkpoint(model_dir, ckpt_name=None, ckpt_name_required=False):
    """The checkpoint prefix to serve.

    Args:
      model_dir: a fine-tuning output directory or a checkpoint prefix.
      ckpt_name: a checkpoint prefix (or any path resolve_checkpoint takes)
        that wins when it exists.
      ckpt_name_required: a missing ``ckpt_name`` is an error (it was given
        explicitly) instead of falling back to ``model_dir``.

    Returns:
      the checkpoint prefix: ``ckpt_name`` if it exists, else
      ``model_dir/model.ckpt-best`` if it exists, else what
      ``checkpoint_utils.resolve_checkpoint(model_dir)`` finds.

    Raises:
      SimilarityError: when there is no checkpoint.
    """
    if ckpt_name:
        try:
            return checkpoint_utils.resolve_checkpoint(ckpt_name)
        except checkpoint_utils.CheckpointError as e:
            if ckpt_name_required or not model_dir:
                raise SimilarityError(str(e))
    if not model_dir:
        raise SimilarityError("no model given: set --model_dir (a fine-tuned checkpoint "
                              "directory or a SavedModel)")
    best = os.path.join(model_dir, BEST_CHECKPOINT)
    if os.path.isdir(model_dir) and tf.gfile.Exists(best + ".index"):
        return best
    try:
        return checkpoint_utils.resolve_checkpoint(model_dir)
    except checkpoint_utils.CheckpointError as e:
        raise SimilarityError("%s; fine-tune with run_classifier.py (its --output_dir or "
                              "--export_dir is what --model_dir takes)" % e)


def _read_json(path):
    try:
        with io.open(path, "r", encoding="utf-8") as reader:
            return json.load(reader)
    except (IOError, OSError, ValueError) as e:
        raise SimilarityError("%s: cannot read JSON: %s" % (path, e))


class SimilarityPredictor(object):
    """A persistent sentence-pair classifier: load once, predict many times.

    ``start_model()`` builds one graph and one session and keeps them;
    ``predict_sentences`` then only tokenizes and runs. Safe to call from
    several threads: session runs are serialised, and (with
    ``batch_requests``) the pairs of calls waiting meanwhile share batches.
    Use as a context manager, or call ``close()``, to release the session.

    Every argument left as None takes its value from the model (a
    SavedModel's assets.extra/export_info.json, files next to a checkpoint)
    or else from args.py.

    Args:
      model_dir: fine-tuning output directory, checkpoint prefix or
        SavedModel directory (default args.model_dir).
      ckpt_name: checkpoint prefix to use instead of the best/latest one in
        model_dir (default: args.ckpt_name when it exists).
      config_name: model config JSON of a checkpoint.
      vocab_file: WordPiece vocab.txt or SentencePiece model.
      do_lower_case: lower-case the input.
      max_seq_len: longest input in tokens (pairs are truncated to it).
      batch_size: pairs per session run.
      label: the label whose probability is returned (default "1").
      labels: the labels of a checkpoint's classes (default ["0", "1"]).
      gpu_memory_fraction: share of GPU memory for the session.
      num_threads: CPU threads of the session (0: TensorFlow's default).
      freeze_graph: run a copy of the graph with the weights as constants
        (fewer ops per run; the default).
      batch_requests: when calls from several threads wait for the model,
        run their pairs together in batches of up to ``batch_size``, grouped
        by length (the default; results are the same). False: each call runs
        only its own pairs.
      use_bf16: compute the encoder's matrix products in bfloat16 (a
        checkpoint only; a SavedModel's graph is float32). Pays on hardware
        with native bfloat16 (see precision.py); the CLI's --use_bf16 checks
        that.
    """

    def __init__(self, model_dir=None, ckpt_name=None, config_name=None, vocab_file=None,
                 do_lower_case=None, max_seq_len=None, batch_size=None, label=None, labels=None,
                 gpu_memory_fraction=None, num_threads=None, freeze_graph=None, batch_requests=None,
                 use_bf16=None):
        self.model_dir = model_dir if model_dir is not None else args.model_dir
        self._ckpt_name_required = ckpt_name is not None
        self.ckpt_name = ckpt_name if ckpt_name is not None else args.ckpt_name
        self.config_name = config_name
        self.vocab_file = vocab_file
        self.do_lower_case = do_lower_case
        self.max_seq_len = max_seq_len
        self.batch_size = int(batch_size if batch_size is not None else args.batch_size)
        self.label = six.text_type(label if label is not None else args.label)
        self.labels = list(labels) if labels is not None else None
        self.gpu_memory_fraction = (gpu_memory_fraction if gpu_memory_fraction is not None else
                                    args.gpu_memory_fraction)
        self.num_threads = int(num_threads if num_threads is not None else args.num_threads)
        self.freeze_graph = bool(freeze_graph if freeze_graph is not None else args.freeze_graph)
        self.batch_requests = bool(
            batch_requests if batch_requests is not None else args.batch_requests)
        self.use_bf16 = bool(use_bf16 if use_bf16 is not None else args.use_bf16)
        if self.batch_size < 1:
            raise SimilarityError("batch_size must be >= 1, got %d" % self.batch_size)
        self.source = None  # "saved_model" or "checkpoint"
        self.model_path = None  # the SavedModel dir or checkpoint prefix
        self.is_regression = False
        self.tokenizer = None
        self._session = None
        self._run = None
        self._label_index = None
        self._lock = threading.Lock()  # serialises session runs
        self._load_lock = threading.Lock()  # one start_model at a time
        self._queue_lock = threading.Lock()  # guards _queue and _closed
        self._queue = collections.deque()  # _Job objects with pairs not yet run
        self._closed = False  # close() was called (until start_model)
        self._runner_busy = False  # a _run_shared caller is running batches

    # -- loading --

    @property
    def started(self):
        """Whether the model is loaded."""
        return self._run is not None

    def start_model(self):
        """Loads the model once (later calls do nothing).

        Returns:
          self.

        Raises:
          SimilarityError: when the model, config or vocabulary is missing,
            unreadable or inconsistent.
        """
        with self._load_lock:
            if self._run is not None:
                return self
            try:
                if is_saved_model(self.model_dir):
                    self._load_saved_model()
                else:
                    self._load_checkpoint()
            except (checkpoint_utils.CheckpointError, checkpoint_utils.CheckpointMismatchError,
                    modeling.ConfigError) as e:
                self._close_session()
                raise SimilarityError(str(e))
            except Exception:
                self._close_session()
                raise
            with self._queue_lock:
                self._closed = False
        tf.logging.info(
            "Similarity model loaded from %s (%s): max_seq_len %d, batch %d, "
            "label %r", self.model_path, self.source, self.max_seq_len, self.batch_size, self.label)
        return self

    def _session_config(self):
        config = tf.ConfigProto(allow_soft_placement=True)
        if self.num_threads > 0:
            config.intra_op_parallelism_threads = self.num_threads
            config.inter_op_parallelism_threads = self.num_threads
        if self.gpu_memory_fraction:
            config.gpu_options.per_process_gpu_memory_fraction = self.gpu_memory_fraction
        return config

    def _make_tokenizer(self, vocab_file, spm_model_file, do_lower_case):
        try:
            tokenizer = tokenization.FullTokenizer.from_files(vocab_file=vocab_file,
                                                              spm_model_file=spm_model_file,
                                                              do_lower_case=do_lower_case)
            classifier_utils.special_tokens_check(tokenizer)
        except (IOError, OSError, ValueError) as e:
            raise SimilarityError(str(e))
        return tokenizer

    def _finish_setup(self, labels, max_positions, default_max_seq_len):
        self.labels = labels
        if not self.is_regression:
            if self.label not in labels:
                raise SimilarityError("%s: label %r is not one of the model's labels %s" %
                                      (self.model_path, self.label, labels))
            self._label_index = labels.index(self.label)
        explicit = self.max_seq_len is not None
        self.max_seq_len = int(self.max_seq_len if explicit else default_max_seq_len)
        if max_positions and not explicit:
            # The default (128) never exceeds what the model can take.
            self.max_seq_len = min(self.max_seq_len, int(max_positions))
        if self.max_seq_len < 3:
            raise SimilarityError("max_seq_len must be >= 3, got %d" % self.max_seq_len)
        if max_positions and self.max_seq_len > max_positions:
            raise SimilarityError("max_seq_len=%d is longer than max_position_embeddings=%d "
                                  "of the model" % (self.max_seq_len, max_positions))

    def _load_checkpoint(self):
        prefix = find_checkpoint(self.model_dir, self.ckpt_name, self._ckpt_name_required)
        self.source, self.model_path = "checkpoint", prefix
        near = os.path.dirname(prefix)
        config_file = (self.config_name or _first_match(near, _CONFIG_PATTERNS) or args.config_name)
        vocab_file = self.vocab_file or _first_match(near, _VOCAB_PATTERNS) or args.vocab_file
        hint = "give the model's config with --config_name (config_name=)"
        try:
            config = modeling.AlbertConfig.from_json_file(config_file)
            config = checkpoint_utils.config_for_checkpoint(config, prefix)
        except (modeling.ConfigError, checkpoint_utils.CheckpointMismatchError) as e:
            raise SimilarityError("%s (config %s); %s" % (e, config_file, hint))
        problems = checkpoint_utils.check_config_against_checkpoint(config, prefix)
        if problems:
            raise SimilarityError("%s does not match config %s: %s; %s" %
                                  (prefix, config_file, "; ".join(problems), hint))
        shapes = dict(checkpoint_utils.list_variables(prefix))
        if "output_bias" not in shapes:
            raise SimilarityError("%s is not a fine-tuned classifier (no output_bias): "
                                  "fine-tune it with run_classifier.py first" % prefix)
        num_labels = shapes["output_bias"][0]
        self.is_regression = num_labels == 1
        labels = self.labels
        if labels is None:
            labels = ["0", "1"] if num_labels == 2 else [str(i) for i in range(num_labels)]
        labels = [six.text_type(l) for l in labels]
        if not self.is_regression and len(labels) != num_labels:
            raise SimilarityError("%s has %d classes but %d labels were given" %
                                  (prefix, num_labels, len(labels)))
        do_lower_case = args.do_lower_case if self.do_lower_case is None else self.do_lower_case
        self.do_lower_case = bool(do_lower_case)
        self.tokenizer = self._make_tokenizer(vocab_file, None, self.do_lower_case)
        try:
            tokenization.check_vocab_matches_config(self.tokenizer, config, config_file)
        except ValueError as e:
            raise SimilarityError(str(e))
        self._finish_setup(labels, config.max_position_embeddings, args.max_seq_len)
        self.config_name, self.vocab_file = config_file, vocab_file

        graph = tf.Graph()
        with graph.as_default():
            inputs = [tf.placeholder(tf.int32, [None, None], name=n) for n in _INPUT_NAMES]
            with modeling.compute_dtype_scope(tf.bfloat16 if self.use_bf16 else tf.float32):
                outputs = classifier_utils.create_model(config, False, inputs[0], inputs[1],
                                                        inputs[2], None, num_labels,
                                                        is_regression=self.is_regression)
            saver = tf.train.Saver(tf.global_variables())
            graph.finalize()
        self._session = tf.Session(graph=graph, config=self._session_config())
        try:
            saver.restore(self._session, prefix)
        except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
            raise SimilarityError("%s: cannot restore the classifier: %s" %
                                  (prefix, str(e).split("\n")[0]))
        self._bind(inputs, outputs.probabilities)

    def _load_saved_model(self):
        export_dir = self.model_dir
        if self.use_bf16:
            raise SimilarityError(
                "%s: a SavedModel's graph computes in float32; give the fine-tuning output "
                "directory (its checkpoints) to use bfloat16" % export_dir)
        self.source, self.model_path = "saved_model", export_dir
        extra = os.path.join(export_dir, "assets.extra")
        info_file = os.path.join(extra, "export_info.json")
        info = _read_json(info_file) if os.path.isfile(info_file) else {}
        config_file = os.path.join(extra, "albert_config.json")
        max_positions = None
        if os.path.isfile(config_file):
            max_positions = _read_json(config_file).get("max_position_embeddings")
        vocab_file = self.vocab_file
        spm_model_file = None
        if not vocab_file and info.get("vocab_file"):
            vocab_file = os.path.join(extra, info["vocab_file"])
            if info.get("tokenizer") == "sentencepiece":
                spm_model_file = vocab_file
        if not vocab_file:
            vocab_file = _first_match(extra, _VOCAB_PATTERNS) or args.vocab_file
        if self.do_lower_case is None:
            self.do_lower_case = bool(info.get("do_lower_case", args.do_lower_case))
        self.tokenizer = self._make_tokenizer(vocab_file, spm_model_file, self.do_lower_case)
        self.is_regression = bool(info.get("is_regression", False))
        labels = self.labels if self.labels is not None else info.get("labels", ["0", "1"])
        self._finish_setup([six.text_type(l) for l in labels], max_positions,
                           info.get("max_seq_length", args.max_seq_len))
        self.vocab_file = vocab_file

        graph = tf.Graph()
        self._session = tf.Session(graph=graph, config=self._session_config())
        with graph.as_default():
            try:
                meta = tf.saved_model.loader.load(self._session,
                                                  [tf.saved_model.tag_constants.SERVING],
                                                  export_dir)
            except (IOError, OSError, RuntimeError, tf.errors.OpError) as e:
                raise SimilarityError("%s: cannot load the SavedModel: %s" %
                                      (export_dir, str(e).split("\n")[0]))
            if "serving_default" not in meta.signature_def:
                raise SimilarityError("%s: the SavedModel has no serving_default signature" %
                                      export_dir)
            signature = meta.signature_def["serving_default"]
            missing = [n for n in _INPUT_NAMES if n not in signature.inputs]
            if missing or "probabilities" not in signature.outputs:
                raise SimilarityError(
                    "%s: serving_default must take %s and return probabilities (export it "
                    "with run_classifier.py --export_dir)" % (export_dir, ", ".join(_INPUT_NAMES)))
            inputs = [graph.get_tensor_by_name(signature.inputs[n].name) for n in _INPUT_NAMES]
            output = graph.get_tensor_by_name(signature.outputs["probabilities"].name)
            graph.finalize()
        self._bind(inputs, output)

    def _bind(self, inputs, output):
        """Makes the callable that runs the model (on a frozen copy by default).

        Freezing turns the variables into constants, which lets TensorFlow's
        graph optimizer fold everything that depends only on the weights and
        drops the save/restore ops: fewer ops per run, same numbers.
        """
        if self.freeze_graph:
            graph_def = tf.graph_util.convert_variables_to_constants(
                self._session, self._session.graph.as_graph_def(), [output.op.name])
            frozen = tf.Graph()
            with frozen.as_default():
                tf.import_graph_def(graph_def, name="")
            frozen.finalize()
            inputs = [frozen.get_tensor_by_name(t.name) for t in inputs]
            output = frozen.get_tensor_by_name(output.name)
            previous = self._session
            self._session = tf.Session(graph=frozen, config=self._session_config())
            previous.close()
        self._run = self._session.make_callable(output, inputs)

    def set_mode(self, mode):
        """Compatibility with brightmart's BertSim: only prediction is served here.

        Args:
          mode: ``tf.estimator.ModeKeys.PREDICT`` ("infer"); it loads the model.
            Training and evaluation are run_classifier.py's job.

        Raises:
          SimilarityError: for any other mode.
        """
        if mode != tf.estimator.ModeKeys.PREDICT:
            raise SimilarityError("mode %r: SimilarityPredictor only predicts; fine-tune and "
                                  "evaluate with run_classifier.py" % (mode,))
        self.start_model()

    def close(self):
        """Closes the session.

        Pairs still waiting fail at once with ModelClosedError; the batch
        running (if any) finishes first, then the session is closed. Later
        predictions raise ModelClosedError until ``start_model`` is called
        again.
        """
        with self._queue_lock:
            self._closed = True
            waiting, self._queue = list(self._queue), collections.deque()
            for job in waiting:
                job.fail(ModelClosedError("the model was closed"))
        self._close_session()

    def _close_session(self):
        with self._lock:  # not while a batch is running
            session, self._session, self._run = self._session, None, None
        if session is not None:
            session.close()

    def __enter__(self):
        return self.start_model()

    def __exit__(self, *exc_info):
        self.close()

    # -- prediction --

    def encode(self, text_a, text_b):
        """``(input_ids, segment_ids)`` of one pair, unpadded.

        Args:
          text_a: first sentence.
          text_b: second sentence.

        Returns:
          two lists of ints of the same length (at most max_seq_len).
        """
        example = classifier_tasks.InputExample("query", text_a, text_b)
        feature = classifier_utils.convert_single_example(example, None, self.max_seq_len,
                                                          self.tokenizer)
        length = sum(feature.input_mask)
        return feature.input_ids[:length], feature.segment_ids[:length]

    def predict_probabilities(self, pairs):
        """Class probabilities of sentence pairs.

        Args:
          pairs: sequence of (sentence_a, sentence_b) strings.

        Returns:
          float32 array [len(pairs), num_labels] ([len(pairs), 1] scores for a
          regression model), in input order.

        Raises:
          SimilarityError: when a pair is not two strings or a sentence is
            empty (or only whitespace).
          ModelClosedError: when the model is closed before the pairs ran.
        """
        if self._run is None:
            with self._queue_lock:
                closed = self._closed
            if closed:
                raise ModelClosedError("the model was closed (start_model loads it again)")
            self.start_model()
        encoded = [self.encode(*_check_pair(pair, index)) for index, pair in enumerate(pairs)]
        if not encoded:
            return np.zeros([0, len(self.labels) if not self.is_regression else 1], np.float32)
        job = _Job(encoded)
        if self.batch_requests:
            self._run_shared(job)
        else:
            self._run_alone(job)
        return np.stack(job.results)

    def _run_alone(self, job):
        """Runs the pairs of ``job`` in batches of its own."""
        while job.taken < len(job.order):
            chunk = job.take(self.batch_size)
            with self._lock:
                with self._queue_lock:
                    closing = self._closed
                if closing or self._run is None:
                    raise ModelClosedError("the model was closed")
                self._run_batch([(job, i) for i in chunk])
            if job.error is not None:
                raise job.error

    def _run_shared(self, job):
        """Queues ``job`` and returns when all its pairs have run.

        One caller at a time is the runner: it runs batches taken from the
        queue (the oldest pairs first, its own or not) until its own pairs
        are done, then hands the role to the oldest call still waiting. The
        others sleep until their pairs are done or the role is theirs: the
        pairs of calls that arrive while the model is busy run together.
        """
        with self._queue_lock:
            if self._closed:
                raise ModelClosedError("the model was closed")
            self._queue.append(job)
            job.runner = not self._runner_busy
            self._runner_busy = True
        if not job.runner:
            job.wakeup.wait()
        if job.runner:  # from the start, or handed over while waiting
            try:
                while not job.done:
                    batch = self._next_batch()
                    if not batch:  # cannot happen while job is queued; never spin
                        job.fail(RuntimeError("similarity: pairs left the queue unrun"))
                        break
                    for run in _split_by_length(batch):
                        with self._lock:
                            self._run_batch(run)
            finally:
                self._hand_over()
        if job.error is not None:
            raise job.error

    def _hand_over(self):
        """Makes the oldest waiting call the runner (or no one, if none waits)."""
        with self._queue_lock:
            for waiting in self._queue:
                if not waiting.done:
                    waiting.runner = True
                    waiting.wakeup.set()
                    return
            self._runner_busy = False

    def _next_batch(self):
        """Up to batch_size queued ``(job, index)`` pairs, oldest calls first.

        A call with more pairs than fit goes to the back of the queue with
        the rest, so that a large call does not hold back small ones.
        """
        batch = []
        with self._queue_lock:
            while self._queue and len(batch) < self.batch_size:
                job = self._queue.popleft()
                if job.done:
                    continue
                batch.extend((job, i) for i in job.take(self.batch_size - len(batch)))
                if job.taken < len(job.order):
                    self._queue.append(job)
        return batch

    def _run_batch(self, batch):
        """One session run over ``batch`` (``(job, index)`` pairs; run lock held)."""
        if self._run is None:
            error = ModelClosedError("the model was closed")
            for job, _ in batch:
                job.fail(error)
            return
        width = max(len(job.encoded[i][0]) for job, i in batch)
        ids = np.zeros([len(batch), width], np.int32)
        mask = np.zeros([len(batch), width], np.int32)
        segments = np.zeros([len(batch), width], np.int32)
        for row, (job, i) in enumerate(batch):
            token_ids, segment_ids = job.encoded[i]
            ids[row, :len(token_ids)] = token_ids
            mask[row, :len(token_ids)] = 1
            segments[row, :len(token_ids)] = segment_ids
        try:
            probabilities = self._run(ids, mask, segments)
        except BaseException as e:  # pylint: disable=broad-except
            for job, _ in batch:
                job.fail(e)  # each caller raises its own job's error
            if not isinstance(e, Exception):
                raise
            return
        for row, (job, i) in enumerate(batch):
            job.put(i, probabilities[row])

    def predict_sentences(self, pairs):
        """Similarity of sentence pairs: the probability of ``label`` ("1").

        Args:
          pairs: sequence of (sentence_a, sentence_b) strings, any length;
            run in batches of ``batch_size``, each padded only to its longest
            pair.

        Returns:
          list of floats in input order (the raw score for a regression model).

        Raises:
          SimilarityError: when a pair is not two strings or a sentence is
            empty (or only whitespace).
          ModelClosedError: when the model is closed before the pairs ran.
        """
        probabilities = self.predict_probabilities(pairs)
        column = 0 if self.is_regression else self._label_index
        return [float(p) for p in probabilities[:, column]]

    def predict(self, text_a, text_b):
        """Similarity of one pair (see ``predict_sentences``)."""
        return self.predict_sentences([(text_a, text_b)])[0]

    def info(self):
        """A JSON-able description of the loaded model."""
        return {
            "model": self.model_path,
            "source": self.source,
            "label": self.label,
            "labels": self.labels,
            "max_seq_len": self.max_seq_len,
            "batch_size": self.batch_size,
            "do_lower_case": self.do_lower_case,
            "regression": self.is_regression
        }


BertSim = SimilarityPredictor


def _split_by_length(batch, min_run=8, max_padding=0.1):
    """Splits a batch that mixes several calls into runs of similar length.

    Single-pair calls arrive in any order of length; padding them all to the
    longest wastes a third of the work for LCQMC-like pairs. Sorted by
    length, a new run starts when the next pair would pad the current one
    (of at least ``min_run`` pairs) by more than ``max_padding``. A batch of
    one call is already sorted and stays whole.

    Args:
      batch: ``(job, index)`` pairs.
      min_run: fewest pairs a run is cut at.
      max_padding: largest share of padding tokens a run grows to.

    Returns:
      list of batches.
    """
    if len(set(id(job) for job, _ in batch)) < 2:
        return [batch]

    def length(item):
        job, index = item
        return len(job.encoded[index][0])

    runs, current, tokens = [], [], 0
    for item in sorted(batch, key=length):
        width = length(item)
        if (len(current) >= min_run and
            (len(current) + 1) * width > (1.0 + max_padding) * (tokens + width)):
            runs.append(current)
            current, tokens = [], 0
        current.append(item)
        tokens += width
    runs.append(current)
    return runs


class _Job(object):
    """The pairs of one predict call on their way through the batches.

    Attributes:
      encoded: ``(input_ids, segment_ids)`` of each pair.
      order: pair indices sorted by length (the order they are batched in).
      taken: how many of ``order`` have been put into a batch.
      results: the probabilities of each pair (None until run).
      missing: how many pairs have no result yet.
      error: the exception that ended the call, if any.
    """

    def __init__(self, encoded):
        self.encoded = encoded
        self.order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        self.taken = 0
        self.results = [None] * len(encoded)
        self.missing = len(encoded)
        self.error = None
        self.runner = False  # this call's thread runs the batches
        self.wakeup = threading.Event()  # done, or the runner role handed over

    @property
    def done(self):
        """Whether every pair has a result or the call failed."""
        return self.missing == 0 or self.error is not None

    def take(self, count):
        """The next ``count`` (or fewer) pair indices to run."""
        chunk = self.order[self.taken:self.taken + count]
        self.taken += len(chunk)
        return chunk

    def put(self, index, probabilities):
        """Stores the result of pair ``index``."""
        first = self.results[index] is None
        self.results[index] = probabilities
        if first:
            self.missing -= 1
            if not self.missing:
                self.wakeup.set()

    def fail(self, error):
        """Ends the call with ``error`` (the first error wins)."""
        if self.error is None and self.missing:
            self.error = error
            self.wakeup.set()


def _check_pair(pair, index):
    """(a, b) as text, or SimilarityError naming the pair."""
    if isinstance(pair, (six.string_types, bytes)) or not hasattr(pair, "__len__"):
        raise SimilarityError("pair %d: expected a pair of two sentences, got %s" %
                              (index, type(pair).__name__))
    if len(pair) != 2:
        raise SimilarityError("pair %d: expected 2 sentences, got %d" % (index, len(pair)))
    texts = []
    for position, text in enumerate(pair):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise SimilarityError("pair %d, sentence %d: not valid UTF-8" %
                                      (index, position + 1))
        if not isinstance(text, six.text_type):
            raise SimilarityError("pair %d, sentence %d: expected a string, got %s" %
                                  (index, position + 1, type(text).__name__))
        if not text.strip():
            raise SimilarityError("pair %d, sentence %d is empty%s" %
                                  (index, position + 1, " (only whitespace)" if text else ""))
        texts.append(text)
    return texts


# ---------------------------------------------------------------------------
# HTTP service.
# ---------------------------------------------------------------------------


class RequestError(Exception):
    """A bad HTTP request: status code and message."""

    def __init__(self, status, message):
        super(RequestError, self).__init__(message)
        self.status = status


def parse_predict_request(body):
    """The pairs of a /predict body, or RequestError(400) saying what is wrong.

    Args:
      body: the request body (bytes).

    Returns:
      list of (a, b) text pairs.

    Raises:
      RequestError: (status 400) naming the first bad element, e.g.
        ``pairs[3][1] is empty``.
    """
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "request body is not UTF-8")
    except RecursionError:
        raise RequestError(
            400, "malformed JSON: nested too deeply (expected "
            '{"pairs": [["a", "b"], ...]})')
    except ValueError as e:
        raise RequestError(400, "malformed JSON: %s" % e)
    if not isinstance(request, dict) or "pairs" not in request:
        raise RequestError(400, 'expected a JSON object {"pairs": [["a", "b"], ...]}')
    pairs = request["pairs"]
    if not isinstance(pairs, list):
        raise RequestError(400, '"pairs" must be a list of [sentence_a, sentence_b] lists')
    out = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, list) or len(pair) != 2:
            raise RequestError(
                400, "pairs[%d]: expected [sentence_a, sentence_b], got %s" %
                (index, _json_excerpt(pair)))
        for position, text in enumerate(pair):
            if not isinstance(text, six.text_type):
                raise RequestError(
                    400, "pairs[%d][%d]: expected a string, got %s" %
                    (index, position, _json_excerpt(text)))
            if not text.strip():
                raise RequestError(
                    400, "pairs[%d][%d] is empty%s" %
                    (index, position, " (only whitespace)" if text else ""))
        out.append((pair[0], pair[1]))
    return out


def _json_excerpt(value, limit=100):
    """At most ``limit`` characters of ``value`` as JSON, for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        text = "a deeply nested %s" % type(value).__name__
    return text if len(text) <= limit else text[:limit] + "..."


_RETRY_AFTER_SECONDS = 1


def _refuse_connection(connection, message):
    """Answers 503 on a raw accepted socket without a handler thread.

    What the client already sent is read first (briefly), so that closing
    the socket sends a normal end of stream rather than a reset.

    Args:
      connection: an accepted socket.
      message: the error message of the JSON body.
    """
    body = json.dumps({"error": message}).encode("utf-8")
    head = ("HTTP/1.0 503 Service Unavailable\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            "Content-Length: %d\r\nRetry-After: %d\r\nConnection: close\r\n\r\n" %
            (len(body), _RETRY_AFTER_SECONDS)).encode("ascii")
    received = b""
    deadline = time.monotonic() + 0.2
    try:
        while b"\r\n\r\n" not in received and len(received) < 65536:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            connection.settimeout(left)
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    except (OSError, socket.error):  # a timeout included: answer anyway
        pass
    try:
        connection.settimeout(1.0)
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)
        connection.setblocking(False)
        for _ in range(16):  # the rest of a small body, if it has arrived
            if not connection.recv(65536):
                break
    except (OSError, socket.error):
        pass
    finally:
        connection.close()


class _Handler(BaseHTTPRequestHandler):
    """JSON endpoints of SimilarityServer; every answer is a JSON object."""

    server_version = "albert-similarity/1"
    timeout = 60  # seconds a client may take to send its request

    def _reply(self, status, payload, retry_after=None):
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if status == 503:
            self.close_connection = True
            retry_after = retry_after or _RETRY_AFTER_SECONDS
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if retry_after:
            self.send_header("Retry-After", str(retry_after))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path.split("?")[0] == "/health":
            payload = self.server.status()
            payload.update(self.server.predictor.info())
            self._reply(200 if payload["status"] == "ok" else 503, payload)
        else:
            self._reply(404, {"error": "unknown path %s (GET /health, POST /predict)" % self.path})

    def do_POST(self):  # pylint: disable=invalid-name
        try:
            status, payload = 200, {"probabilities": self._predict()}
        except RequestError as e:
            status, payload = e.status, {"error": str(e)}
        except ModelClosedError as e:
            status, payload = 503, {"error": "the service is shutting down (%s)" % e}
        except SimilarityError as e:
            status, payload = 400, {"error": str(e)}
        except Exception as e:  # pylint: disable=broad-except
            tf.logging.error("predict failed: %s", e)
            status, payload = 500, {"error": "internal error: %s" % e}
        self._reply(status, payload)  # a client gone by now: handle_error logs it

    def _predict(self):
        if self.path.split("?")[0] != "/predict":
            raise RequestError(404, "unknown path %s (POST /predict)" % self.path)
        pairs = parse_predict_request(self._read_body())
        if not self.server.begin_prediction():
            raise RequestError(503, "the service is shutting down")
        try:
            return self.server.predictor.predict_sentences(pairs)
        finally:
            self.server.end_prediction()

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise RequestError(411, "Content-Length required")
        try:
            length = int(length)
            if length < 0:
                raise ValueError()
        except ValueError:
            self.close_connection = True
            raise RequestError(400, "bad Content-Length %r" % length)
        limit = self.server.max_request_bytes
        if length > limit:
            # The body is not read: close the connection after the answer.
            self.close_connection = True
            raise RequestError(
                413, "request of %d bytes is larger than the limit of %d "
                "bytes; send fewer pairs per request" % (length, limit))
        try:
            body = self.rfile.read(length)
        except socket.timeout:
            body = b""
        if len(body) != length:
            self.close_connection = True
            raise RequestError(
                408 if not body else 400, "request body shorter than its Content-Length (%d of %d "
                "bytes)" % (len(body), length))
        return body

    def do_PUT(self):  # pylint: disable=invalid-name
        self._reply(405, {"error": "method not allowed (GET /health, POST /predict)"})

    do_DELETE = do_PUT

    def log_message(self, fmt, *log_args):  # pylint: disable=arguments-differ
        tf.logging.info("%s %s", self.address_string(), fmt % log_args)


class SimilarityServer(ThreadingHTTPServer):
    """The HTTP JSON service on 127.0.0.1: /health and /predict.

    One thread per connection, at most ``max_connections`` at once (more get
    503 with Retry-After); the kernel queues up to ``listen_backlog``
    connections that wait to be accepted. ``stop`` drains: new predictions
    get 503 while those in progress finish.

    Args:
      predictor: a started SimilarityPredictor.
      port: TCP port (0: a free one; see ``server_address``).
      max_request_bytes: largest accepted body (default args.max_request_bytes).
      listen_backlog: the listen queue length (default args.listen_backlog).
      max_connections: connections handled at once (default
        args.max_connections).

    Raises:
      SimilarityError: for a setting below 1.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, predictor, port, max_request_bytes=None, listen_backlog=None,
                 max_connections=None):
        self.predictor = predictor
        self.max_request_bytes = int(max_request_bytes or args.max_request_bytes)
        self.request_queue_size = int(
            listen_backlog if listen_backlog is not None else args.listen_backlog)
        self.max_connections = int(
            max_connections if max_connections is not None else args.max_connections)
        for name in ("max_request_bytes", "request_queue_size", "max_connections"):
            if getattr(self, name) < 1:
                raise SimilarityError("%s must be >= 1, got %d" %
                                      ("listen_backlog" if name == "request_queue_size" else name,
                                       getattr(self, name)))
        self._state = threading.Condition()
        self._connections = 0  # connections with a handler thread
        self._predictions = 0  # predictions in progress
        self._draining = False  # stop() has begun: new predictions get 503
        self._stop_waiting = False
        self._stop_thread = None
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), _Handler)

    # -- connections --

    def process_request(self, request, client_address):
        """Hands the connection to a new thread, or answers 503 when at the limit."""
        with self._state:
            full = self._connections >= self.max_connections
            if not full:
                self._connections += 1
        if full:
            tf.logging.warning("%s: %d connections open (--max_connections): answered 503",
                               client_address[0], self.max_connections)
            _refuse_connection(request,
                               "too many connections (%d); retry shortly" % self.max_connections)
            return
        thread = threading.Thread(target=self._handle_connection, args=(request, client_address))
        thread.daemon = True
        try:
            thread.start()
        except RuntimeError:  # the system cannot start more threads
            self._connection_done()
            _refuse_connection(request, "server busy; retry shortly")

    def _handle_connection(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:  # pylint: disable=broad-except
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._connection_done()

    def _connection_done(self):
        with self._state:
            self._connections -= 1
            self._state.notify_all()

    def handle_error(self, request, client_address):
        """Logs one line (a client that went away is not a traceback)."""
        error = sys.exc_info()[1]
        tf.logging.warning("%s: connection ended: %s: %s", client_address[0],
                           type(error).__name__, error)

    # -- predictions and stopping --

    def begin_prediction(self):
        """Counts a prediction in; False (answer 503) once stopping."""
        with self._state:
            if self._draining:
                return False
            self._predictions += 1
            return True

    def end_prediction(self):
        """Counts a prediction out."""
        with self._state:
            self._predictions -= 1
            self._state.notify_all()

    def status(self):
        """``{"status": "ok" or "stopping", "connections", "predictions"}``."""
        with self._state:
            return {
                "status": "stopping" if self._draining else "ok",
                "connections": self._connections,
                "predictions_in_progress": self._predictions
            }

    def drain(self, timeout):
        """Refuses new predictions and waits for those in progress.

        Args:
          timeout: longest wait in seconds.

        Returns:
          whether every prediction in progress finished.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._state:
            self._draining = True
            while self._predictions and not self._stop_waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._state.wait(left)
            return not self._predictions

    def stop(self, timeout=None):
        """Starts a graceful stop in the background (later calls: stop waiting).

        The service drains (see ``drain``) for at most ``timeout`` seconds
        (default args.shutdown_timeout), then ``serve_until_stopped``
        returns. Safe to call from a signal handler.

        Args:
          timeout: longest wait for predictions in progress, in seconds.
        """
        if self._stop_thread is not None:
            with self._state:
                self._stop_waiting = True
                self._state.notify_all()
            return
        timeout = args.shutdown_timeout if timeout is None else timeout

        def _drain_then_shutdown():
            start = time.monotonic()
            tf.logging.info(
                "stopping: new requests get 503; waiting up to %.1f s for the "
                "predictions in progress", timeout)
            if not self.drain(timeout):
                left = self.status()["predictions_in_progress"]
                tf.logging.warning(
                    "stopping with %d prediction(s) still in progress after "
                    "%.1f s: they get 503", left,
                    time.monotonic() - start)
            self.shutdown()

        self._stop_thread = threading.Thread(target=_drain_then_shutdown)
        self._stop_thread.daemon = True
        self._stop_thread.start()

    def serve_until_stopped(self, poll_interval=0.2, close_wait=5.0):
        """Serves until ``stop``; then closes the model and the socket.

        After the drain the predictor is closed (what still waits for it
        gets 503), open connections get up to ``close_wait`` seconds to be
        answered, and connections still queued are answered 503 before the
        socket closes.

        Args:
          poll_interval: seconds between checks for ``stop``.
          close_wait: longest wait for open connections after the drain.
        """
        try:
            self.serve_forever(poll_interval=poll_interval)
        finally:
            with self._state:
                self._draining = True
            self.predictor.close()
            deadline = time.monotonic() + close_wait
            with self._state:
                while self._connections and time.monotonic() < deadline:
                    self._state.wait(max(0.0, deadline - time.monotonic()))
            self._refuse_queued()
            self.server_close()

    def _refuse_queued(self):
        """Answers 503 to connections accepted by the kernel but not by us."""
        try:
            self.socket.setblocking(False)
            while True:
                connection, _ = self.socket.accept()
                connection.setblocking(True)
                _refuse_connection(connection, "the service is shutting down")
        except (OSError, socket.error) as e:
            if getattr(e, "errno", None) not in (errno.EAGAIN, errno.EWOULDBLOCK, None):
                tf.logging.warning("closing the listening socket: %s", e)


def make_server(predictor, port, max_request_bytes=None, listen_backlog=None, max_connections=None):
    """A SimilarityServer on 127.0.0.1 (see its Args).

    Returns:
      the server (call ``serve_until_stopped`` or ``serve_forever``; ``stop``
      drains and stops it).
    """
    return SimilarityServer(predictor, port, max_request_bytes=max_request_bytes,
                            listen_backlog=listen_backlog, max_connections=max_connections)


def serve(predictor, port, max_request_bytes=None, out=None, listen_backlog=None,
          max_connections=None, shutdown_timeout=None):
    """Serves until SIGINT/SIGTERM, then drains and shuts down cleanly.

    On the first signal, new predictions get 503 and those in progress get
    up to ``shutdown_timeout`` seconds to finish (a second signal stops
    waiting); then the predictor is closed.

    Args:
      predictor: a started SimilarityPredictor (closed on return).
      port: TCP port on 127.0.0.1 (0: a free one).
      max_request_bytes: largest accepted request body.
      out: stream for the "serving on" line (default stdout).
      listen_backlog: connections the kernel queues (default args.listen_backlog).
      max_connections: connections handled at once (default args.max_connections).
      shutdown_timeout: longest drain in seconds (default args.shutdown_timeout).
    """
    server = make_server(predictor, port, max_request_bytes, listen_backlog, max_connections)

    def _stop(signum, frame):  # pylint: disable=unused-argument
        server.stop(shutdown_timeout)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    out = out or sys.stdout
    out.write("serving on http://127.0.0.1:%d (GET /health, POST /predict)\n" %
              server.server_address[1])
    out.flush()
    try:
        server.serve_until_stopped()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    tf.logging.info("similarity service stopped")


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def _define_flags():
    """Defines the CLI flags (only when run as a script: importing defines none)."""
    from absl import flags  # pylint: disable=g-import-not-at-top
    flags.DEFINE_string(
        "model_dir", args.model_dir,
        "Fine-tuned model: run_classifier.py --output_dir (model.ckpt-best, "
        "else the latest checkpoint), a checkpoint prefix, or a SavedModel "
        "(run_classifier.py --export_dir).")
    flags.DEFINE_string(
        "ckpt_name", args.ckpt_name,
        "Checkpoint prefix to serve instead of the best/latest in --model_dir "
        "(the default is used only if it exists; given explicitly, it must).")
    flags.DEFINE_string(
        "config_name", args.config_name,
        "Model config JSON of a checkpoint (default: a config next to the "
        "checkpoint, else this).")
    flags.DEFINE_alias("albert_config_file", "config_name")
    flags.DEFINE_string(
        "vocab_file", args.vocab_file,
        "vocab.txt or SentencePiece model (default: the SavedModel's, or one "
        "next to the checkpoint, else this).")
    flags.DEFINE_bool("do_lower_case", args.do_lower_case,
                      "Lower-case the input (default: the SavedModel's setting, else this).")
    flags.DEFINE_integer(
        "max_seq_len", args.max_seq_len,
        "Longest input in tokens; longer pairs are truncated (default: the "
        "SavedModel's max_seq_length, else this). Batches are padded only to "
        "their longest pair.")
    flags.DEFINE_alias("max_seq_length", "max_seq_len")
    flags.DEFINE_integer("batch_size", args.batch_size, "Pairs per session run.")
    flags.DEFINE_string("label", args.label,
                        "Label whose probability is printed (LCQMC: 1 = similar).")
    flags.DEFINE_integer("num_threads", args.num_threads,
                         "CPU threads of the TensorFlow session (0: all cores).")
    flags.DEFINE_bool(
        "freeze_graph", args.freeze_graph,
        "Run a frozen copy of the graph (weights as constants): fewer ops "
        "per query.")
    flags.DEFINE_float("gpu_memory_fraction", args.gpu_memory_fraction,
                       "Share of GPU memory the session may take.")
    flags.DEFINE_string(
        "input_file", None, "Batch mode: UTF-8 TSV with a<TAB>b per line (a third column is "
        "ignored); writes a<TAB>b<TAB>probability.")
    flags.DEFINE_string("output_file", None, "Batch mode output (default: stdout).")
    flags.DEFINE_bool("serve", False, "Run the HTTP JSON service on 127.0.0.1:--port.")
    flags.DEFINE_integer("port", args.port, "Port of --serve (0: any free port, printed).")
    flags.DEFINE_integer("max_request_bytes", args.max_request_bytes,
                         "Largest HTTP request body; bigger ones get 413.")
    flags.DEFINE_integer(
        "listen_backlog", args.listen_backlog,
        "Connections the kernel queues while --serve is busy accepting "
        "(capped by net.core.somaxconn on Linux).")
    flags.DEFINE_integer(
        "max_connections", args.max_connections,
        "Connections --serve handles at once (one thread each); more get "
        "503 with Retry-After.")
    flags.DEFINE_float(
        "shutdown_timeout", args.shutdown_timeout,
        "On SIGINT/SIGTERM, seconds to let predictions in progress finish "
        "(new requests get 503 meanwhile; a second signal stops waiting); "
        "what is still running then gets 503.")
    import precision  # pylint: disable=g-import-not-at-top
    precision.define_bf16_flag(flags, "the encoder of a checkpoint (not a SavedModel)",
                               default="true" if args.use_bf16 else "false")
    flags.DEFINE_bool(
        "batch_requests", args.batch_requests,
        "Run the pairs of concurrent requests together in shared batches of up "
        "to --batch_size, grouped by length (same results, more pairs per "
        "session run). --nobatch_requests: each request runs alone.")


def _predictor_from_flags(flag_values):
    """A SimilarityPredictor with the flags the user set (others: model or args)."""

    import precision  # pylint: disable=g-import-not-at-top

    def given(name):
        return flag_values[name].value if flag_values[name].present else None

    return SimilarityPredictor(
        model_dir=flag_values.model_dir, ckpt_name=given("ckpt_name"),
        config_name=given("config_name"), vocab_file=given("vocab_file"),
        do_lower_case=given("do_lower_case"), max_seq_len=given("max_seq_len"),
        batch_size=flag_values.batch_size, label=flag_values.label,
        gpu_memory_fraction=flag_values.gpu_memory_fraction, num_threads=flag_values.num_threads,
        freeze_graph=flag_values.freeze_graph, batch_requests=flag_values.batch_requests,
        use_bf16=precision.compute_dtype(flag_values.use_bf16) == tf.bfloat16)


def _format_probability(value):
    return "%.6f" % value


def read_pair_file(path):
    """Yields ``(line_number, a, b)`` of a TSV pair file.

    Raises:
      SimilarityError: naming the file and line of a malformed line or of an
        empty (or whitespace-only) sentence.
    """
    try:
        for line_number, fields in classifier_tasks.read_tsv(path):
            if len(fields) not in (2, 3):
                raise SimilarityError(
                    "%s:%d: expected 2 tab-separated fields (sentence_a<TAB>sentence_b, "
                    "optionally a third such as a label), got %d" %
                    (path, line_number, len(fields)))
            for position, name in ((0, "sentence_a"), (1, "sentence_b")):
                if not fields[position].strip():
                    raise SimilarityError("%s:%d: field %d (%s) is empty" %
                                          (path, line_number, position + 1, name))
            yield line_number, fields[0], fields[1]
    except classifier_tasks.DataError as e:
        raise SimilarityError(str(e))


def run_batch(predictor, input_file, output_file=None, chunk_pairs=4096):
    """Batch mode: scores every pair of ``input_file``.

    Args:
      predictor: a SimilarityPredictor.
      input_file: TSV of pairs.
      output_file: where ``a<TAB>b<TAB>probability`` lines go (None: stdout);
        written under a temporary name and renamed when complete.
      chunk_pairs: pairs held in memory at a time.

    Returns:
      the number of pairs scored.
    """
    import script_utils  # pylint: disable=g-import-not-at-top
    if not os.path.isfile(input_file):
        raise SimilarityError("%s: no such file" % input_file)
    pairs = list(read_pair_file(input_file))  # validates the whole file first

    def write_all(writer):
        for start in range(0, len(pairs), chunk_pairs):
            chunk = pairs[start:start + chunk_pairs]
            scores = predictor.predict_sentences([(a, b) for _, a, b in chunk])
            for (_, a, b), score in zip(chunk, scores):
                writer.write(u"%s\t%s\t%s\n" % (a, b, _format_probability(score)))

    if output_file:
        with script_utils.atomic_output(output_file) as tmp:
            with io.open(tmp, "w", encoding="utf-8") as writer:
                write_all(writer)
    else:
        sys.stdout.flush()
        writer = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", line_buffering=True)
        write_all(writer)
        writer.flush()
        writer.detach()
    return len(pairs)


def run_interactive(predictor, stdin=None, stdout=None, stderr=None):
    """Interactive mode: pairs from stdin, one probability per line on stdout.

    A line with a tab is a pair ("a<TAB>b"); otherwise two consecutive
    non-blank lines are a pair. A malformed pair or one with an empty
    sentence gets an error line on stderr and is skipped. End of input exits.

    Args:
      predictor: a SimilarityPredictor.
      stdin, stdout, stderr: text streams (default: the process's, as UTF-8).

    Returns:
      the number of pairs scored.
    """
    stdin = stdin or io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    tty = hasattr(stdin, "isatty") and stdin.isatty()
    pending = None
    count = 0
    while True:
        if tty:
            stderr.write("sentence a> " if pending is None else "sentence b> ")
            stderr.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            stderr.write("\n")
            break
        if not line:
            break
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if "\t" in text:
            fields = text.split("\t")
            problem = None
            if pending is not None:
                problem = "the second sentence of a pair contains a tab"
            elif len(fields) != 2:
                problem = "expected sentence_a<TAB>sentence_b, got %d tab-separated fields" % (
                    len(fields))
            elif not fields[0].strip() or not fields[1].strip():
                problem = "sentence_%s is empty" % ("a" if not fields[0].strip() else "b")
            if problem:
                stderr.write("error: %s; skipped (one sentence per line, or a<TAB>b)\n" % problem)
                stderr.flush()
                pending = None
                continue
            pair = (fields[0], fields[1])
        elif pending is None:
            pending = text
            continue
        else:
            pair, pending = (pending, text), None
        try:
            probability = predictor.predict_sentences([pair])[0]
        except ModelClosedError:
            raise
        except SimilarityError as e:
            stderr.write("error: %s; skipped\n" % e)
            stderr.flush()
            continue
        stdout.write(_format_probability(probability) + "\n")
        stdout.flush()
        count += 1
    if pending is not None:
        stderr.write("note: input ended after a first sentence without its pair; ignored\n")
    return count


def main(argv):
    """CLI entry point (see the module docstring)."""
    from absl import flags  # pylint: disable=g-import-not-at-top
    import script_utils  # pylint: disable=g-import-not-at-top
    flag_values = flags.FLAGS
    if len(argv) > 1:
        raise script_utils.UserError("unexpected arguments: %s" % " ".join(argv[1:]))
    if flag_values.serve and flag_values.input_file:
        raise script_utils.UserError("give either --serve or --input_file, not both")
    if not 0 <= flag_values.port <= 65535:
        raise script_utils.UserError("--port must be in 0..65535, got %d" % flag_values.port)
    for name in ("max_request_bytes", "listen_backlog", "max_connections"):
        if flag_values[name].value < 1:
            raise script_utils.UserError("--%s must be >= 1, got %d" %
                                         (name, flag_values[name].value))
    if not flag_values.shutdown_timeout >= 0:
        raise script_utils.UserError("--shutdown_timeout must be >= 0, got %s" %
                                     flag_values.shutdown_timeout)
    try:
        predictor = _predictor_from_flags(flag_values).start_model()
        try:
            if flag_values.serve:
                serve(predictor, flag_values.port, flag_values.max_request_bytes,
                      listen_backlog=flag_values.listen_backlog,
                      max_connections=flag_values.max_connections,
                      shutdown_timeout=flag_values.shutdown_timeout)
            elif flag_values.input_file:
                count = run_batch(predictor, flag_values.input_file, flag_values.output_file)
                tf.logging.info("scored %d pairs%s", count,
                                (" -> %s" %
                                 flag_values.output_file) if flag_values.output_file else "")
            else:
                run_interactive(predictor)
        finally:
            predictor.close()
    except SimilarityError as e:
        raise script_utils.UserError(str(e))
    except OSError as e:
        if flag_values.serve and getattr(e, "errno", None) in (98, 48, 13):
            raise script_utils.UserError("cannot listen on 127.0.0.1:%d: %s" %
                                         (flag_values.port, e.strerror))
        raise
    return 0


if __name__ == "__main__":
    import script_utils  # pylint: disable=g-import-not-at-top
    _define_flags()
    script_utils.run(main)
