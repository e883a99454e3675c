# coding=utf-8
"""Load on the similarity HTTP service (similarity.py --serve) from many clients at once.

The service runs as a subprocess on 127.0.0.1, exactly as a user starts it,
with the albert_tiny model of bench_similarity.py (albert_config_tiny.json,
RANDOM weights, synthetic 21,128-entry vocabulary; latency does not depend
on the weight values), loaded from a SavedModel.

--clients clients (default 200) start together; each sends
--requests_per_client requests one after the other, a new connection each,
every request one pair of 8-20 characters per sentence (bench_similarity's
random pairs). The clients are coroutines of one asyncio loop in this
process (cheap enough not to starve the service of CPU). Every request has
a --timeout, the whole load a --max_seconds bound.

Per row: requests answered 200, resets, other connection errors and
timeouts, answers by non-200 status, latency p50/p99/max of the answered
requests (from connect to the end of the answer) and throughput (200s per
second of wall time).

--compare runs the service with and without --batch_requests (pairs of
concurrent requests run together in shared batches), alternating, --rounds
times each, so that both see the same machine load.

Usage::

    python benchmarks/bench_similarity_load.py
    python benchmarks/bench_similarity_load.py --compare --rounds=3 --json
"""

from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import argparse
import asyncio
import collections
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
for _path in (ROOT, BENCH_DIR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench_similarity  # pylint: disable=g-import-not-at-top
from tf_compat import tf  # pylint: disable=g-import-not-at-top
import benchlib  # pylint: disable=g-import-not-at-top

SCRIPT = os.path.join(ROOT, "similarity.py")


class Service(object):
    """similarity.py --serve in a subprocess on a free port; stopped by ``stop``.

    Args:
      model_dir: the SavedModel to serve.
      extra_flags: more similarity.py flags.
      log_path: where the service's stderr goes.
      start_timeout: seconds to wait for the "serving on" line.
    """

    def __init__(self, model_dir, extra_flags, log_path, start_timeout=180):
        env = dict(os.environ)
        env.setdefault("CUDA_VISIBLE_DEVICES", "")
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, SCRIPT,
             "--model_dir=%s" % model_dir, "--serve", "--port=0"] + list(extra_flags), cwd=ROOT,
            env=env, stdout=subprocess.PIPE, stderr=self._log)
        lines = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(start_timeout)
        line = lines[0].decode("utf-8", "replace") if lines else ""
        if not line.startswith("serving on http://127.0.0.1:"):
            self.stop()
            with open(log_path, "rb") as log:
                tail = log.read()[-2000:].decode("utf-8", "replace")
            raise RuntimeError("the service did not start: %r\n%s" % (line, tail))
        self.port = int(line.split("127.0.0.1:")[1].split()[0])

    def stop(self, timeout=60):
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def request_bytes(pair):
    body = json.dumps({"pairs": [list(pair)]}, ensure_ascii=False).encode("utf-8")
    head = ("POST /predict HTTP/1.0\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    return head.encode("ascii") + body


async def one_request(port, payload, timeout):
    """(outcome, seconds): outcome is the HTTP status (int) or an error name."""
    start = time.perf_counter()
    writer = None
    try:

        async def exchange():
            nonlocal writer
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(payload)
            await writer.drain()
            return await reader.read()  # HTTP/1.0: the service closes after the answer

        answer = await asyncio.wait_for(exchange(), timeout)
        parts = answer.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return "bad answer", time.perf_counter() - start
        status = int(parts[1])
        if status == 200 and b'"probabilities"' not in answer:
            return "bad answer", time.perf_counter() - start
        return status, time.perf_counter() - start
    except asyncio.TimeoutError:
        return "timeout", time.perf_counter() - start
    except ConnectionResetError:
        return "reset", time.perf_counter() - start
    except (ConnectionError, OSError) as e:
        return type(e).__name__, time.perf_counter() - start
    finally:
        if writer is not None:
            writer.close()


async def run_clients(port, payloads, clients, timeout, max_seconds):
    """Runs ``clients`` clients over ``payloads`` (split evenly); returns the results."""
    results = []

    async def client(index):
        for payload in payloads[index::clients]:
            results.append(await one_request(port, payload, timeout))

    tasks = [asyncio.ensure_future(client(i)) for i in range(clients)]
    done, pending = await asyncio.wait(tasks, timeout=max_seconds)
    for task in pending:
        task.cancel()
    unanswered = len(payloads) - len(results)
    results.extend([("unanswered", float("nan"))] * unanswered)
    del done
    return results


def load(port, pairs, clients, timeout, max_seconds):
    """One load run; returns the row of figures."""
    payloads = [request_bytes(pair) for pair in pairs]
    loop = asyncio.new_event_loop()
    try:
        start = time.perf_counter()
        results = loop.run_until_complete(run_clients(port, payloads, clients, timeout,
                                                      max_seconds))
        wall = time.perf_counter() - start
    finally:
        loop.close()
    outcomes = collections.Counter(outcome for outcome, _ in results)
    latencies = np.array([seconds for outcome, seconds in results if outcome == 200])
    ok = outcomes.pop(200, 0)
    resets = outcomes.pop("reset", 0)
    non_200 = {str(k): v for k, v in outcomes.items() if isinstance(k, int)}
    errors = {k: v for k, v in outcomes.items() if not isinstance(k, int)}
    row = {
        "clients": clients,
        "requests": len(pairs),
        "ok": ok,
        "resets": resets,
        "non_200": non_200,
        "errors": errors,
        "wall_s": wall,
        "throughput_rps": ok / wall if wall > 0 else 0.0
    }
    for name, q in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99), ("max_ms", 100)):
        row[name] = float(np.percentile(latencies, q) * 1000.0) if len(latencies) else None
    return row


def warm_up(port, pairs, timeout):
    """Sequential requests (first runs of new shapes are slower)."""
    loop = asyncio.new_event_loop()
    try:
        for pair in pairs:
            outcome, _ = loop.run_until_complete(one_request(port, request_bytes(pair), timeout))
            if outcome != 200:
                raise RuntimeError("warm-up request failed: %s" % (outcome,))
    finally:
        loop.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (1..5000)")
    parser.add_argument("--requests_per_client", type=int, default=5,
                        help="requests each client sends one after the other (1..1000)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per request (connect to end of answer)")
    parser.add_argument("--max_seconds", type=float, default=300.0,
                        help="bound on one load run; requests left are 'unanswered'")
    parser.add_argument("--warmup", type=int, default=20,
                        help="sequential requests before each timed run")
    parser.add_argument(
        "--compare", action="store_true", help="alternate the service with --batch_requests and "
        "--nobatch_requests")
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs of each configuration (alternating with --compare)")
    parser.add_argument(
        "--service_flags", default="", help="more similarity.py flags, space-separated "
        "(e.g. '--batch_size=64 --num_threads=2')")
    parser.add_argument("--json", action="store_true", help="one JSON line per row")
    options = parser.parse_args()
    if not 1 <= options.clients <= 5000:
        parser.error("--clients must be in 1..5000")
    if not 1 <= options.requests_per_client <= 1000:
        parser.error("--requests_per_client must be in 1..1000")
    if options.rounds < 1:
        parser.error("--rounds must be >= 1")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    tf.logging.set_verbosity(tf.logging.ERROR)

    configurations = [["--batch_requests"], ["--nobatch_requests"]] if options.compare \
        else [[]]
    extra = options.service_flags.split()
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load_at_start = os.getloadavg()[0]
    work_dir = tempfile.mkdtemp(prefix="bench_similarity_load_")
    rows = []
    try:
        model = bench_similarity.make_model(work_dir)
        pairs = bench_similarity.random_pairs(options.clients * options.requests_per_client)
        warm_pairs = bench_similarity.random_pairs(options.warmup, seed=11)
        for round_index in range(options.rounds):
            for flags in configurations:
                log_path = os.path.join(work_dir, "service.log")
                service = Service(model["saved_model"], flags + extra, log_path)
                try:
                    warm_up(service.port, warm_pairs, options.timeout)
                    row = load(service.port, pairs, options.clients, options.timeout,
                               options.max_seconds)
                finally:
                    status = service.stop()
                row.update(round=round_index + 1, service=" ".join(flags + extra) or "(defaults)",
                           exit_status=status)
                rows.append(row)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    setup = {
        "date": started,
        "cpu": benchlib.cpu_model(),
        "cpus": os.cpu_count() or 0,
        "runtime": "TF %s, Python %s" % (tf.VERSION, platform.python_version()),
        "commit": benchlib.git_commit(["similarity.py"]),
        "load_average_at_start": round(load_at_start, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "model": "albert_tiny (random weights), SavedModel",
        "pairs": "one pair per request, 8-20 characters per sentence"
    }
    if options.json:
        for row in rows:
            row["setup"] = setup
            print(json.dumps(row, sort_keys=True))
        return
    print("%s; %s; %d CPUs (%s); commit %s; load average at start %.2f, at end %.2f" %
          (setup["date"], setup["runtime"], setup["cpus"], setup["cpu"], setup["commit"],
           load_at_start, setup["load_average_at_end"]))
    print("%s; %s; %d clients x %d requests" %
          (setup["model"], setup["pairs"], options.clients, options.requests_per_client))
    print("%-5s %-22s %6s %6s %6s %-14s %-16s %8s %8s %8s %8s %7s" %
          ("round", "service", "reqs", "ok", "resets", "non-200", "errors", "p50_ms", "p90_ms",
           "p99_ms", "max_ms", "req/s"))

    def fmt(value):
        return "%8.1f" % value if value is not None else "%8s" % "-"

    for row in rows:
        print("%-5d %-22s %6d %6d %6d %-14s %-16s %s %s %s %s %7.1f" %
              (row["round"], row["service"][:22], row["requests"], row["ok"], row["resets"],
               ",".join("%s:%d" % kv for kv in sorted(row["non_200"].items())) or "0", ",".join(
                   "%s:%d" % kv for kv in sorted(row["errors"].items())) or "0", fmt(row["p50_ms"]),
               fmt(row["p90_ms"]), fmt(row["p99_ms"]), fmt(row["max_ms"]), row["throughput_rps"]))


if __name__ == "__main__":
    main()
