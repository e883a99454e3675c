# coding=utf-8
"""script_utils: one-line user errors, unknown flags, atomic output, progress."""

import os
import subprocess
import sys
import types

import pytest

import script_utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r'''
import sys
sys.path.insert(0, %r)
from absl import flags
import script_utils
if "--mode=log" in sys.argv:
    from tf_compat import tf  # imported before script_utils.run, as in the scripts
flags.DEFINE_string("mode", "ok", "what to do")
FLAGS = flags.FLAGS
def main(_):
    if FLAGS.mode == "user":
        raise script_utils.UserError("corpus.txt:3: line is not UTF-8")
    if FLAGS.mode == "bug":
        raise RuntimeError("a real bug")
    if FLAGS.mode == "log":
        tf.logging.info("checked the flags")  # before any tf.logging.set_verbosity
        return
    sys.stdout.write("fine\n")
script_utils.run(main)
''' % ROOT


def _run(tmp_path, *args):
    path = tmp_path / "tool.py"
    path.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(path)] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_user_error_is_one_line_without_traceback(tmp_path):
    result = _run(tmp_path, "--mode=user")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: corpus.txt:3: line is not UTF-8"


def test_bug_keeps_traceback_and_ok_runs(tmp_path):
    result = _run(tmp_path, "--mode=bug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "a real bug" in result.stderr
    assert _run(tmp_path).stdout == "fine\n"


def test_info_lines_show_before_the_script_sets_a_verbosity(tmp_path):
    """A script's INFO line shows even when logged before it calls
    tf.logging.set_verbosity (TF 2 alone would hide it)."""
    result = _run(tmp_path, "--mode=log")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "checked the flags" in result.stderr


def test_unknown_flag_is_an_error(tmp_path):
    result = _run(tmp_path, "--keep_checkpoint_max=0")
    assert result.returncode != 0
    assert "keep_checkpoint_max" in result.stderr


def test_atomic_output_renames_only_on_success(tmp_path):
    target = str(tmp_path / "sub" / "out.txt")
    with script_utils.atomic_output(target) as tmp:
        assert tmp != target
        with open(tmp, "w") as f:
            f.write("done")
        assert not os.path.exists(target)
    assert open(target).read() == "done"
    with pytest.raises(ValueError):
        with script_utils.atomic_output(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise ValueError("interrupted")
    assert open(target).read() == "done"
    assert sorted(os.listdir(str(tmp_path / "sub"))) == ["out.txt"]


def test_progress_rate_and_eta():
    now = [100.0]
    lines = []
    progress = script_utils.Progress("docs", total=100, interval=5.0, log_fn=lines.append,
                                     clock=lambda: now[0])
    now[0] = 102.0
    progress.update(10, instances=40)
    assert lines == []  # not yet 5 s since the last line
    now[0] = 110.0
    progress.update(10, instances=40)
    assert len(lines) == 1
    # 20 docs in 10 s = 2.0 docs/s; 80 left -> 40 s.
    assert lines[0] == ("20 docs/100 (20.0%), 2.0 docs/s, instances 80, ETA 40.0s, "
                        "elapsed 10.0s")
    progress.done()
    assert len(lines) == 2


def test_format_seconds():
    assert script_utils.format_seconds(4.25) == "4.2s"
    assert script_utils.format_seconds(65) == "1m05s"
    assert script_utils.format_seconds(3725) == "1h02m05s"


def test_help_exits_zero_and_lists_flags(tmp_path):
    result = _run(tmp_path, "--help")
    assert result.returncode == 0
    assert "--mode" in result.stdout and "what to do" in result.stdout


def _run_flags(save_checkpoints_steps, keep_checkpoint_max=5):
    """The flag values run_config_from_flags reads, as a plain object."""
    return types.SimpleNamespace(output_dir="/tmp/out", use_tpu=False, tpu_name=None, tpu_zone=None,
                                 gcp_project=None, master=None, num_tpu_cores=8,
                                 iterations_per_loop=1000, random_seed=7,
                                 save_checkpoints_steps=save_checkpoints_steps,
                                 keep_checkpoint_max=keep_checkpoint_max)


@pytest.mark.parametrize("save_steps,expected_log_steps", [(1000, 100), (100, 100), (40, 40),
                                                           (1, 1), (0, 1)])
def test_run_config_logs_at_most_every_checkpoint(save_steps, expected_log_steps):
    """steps/sec is logged every 100 steps, or at each checkpoint if sooner."""
    config = script_utils.run_config_from_flags(_run_flags(save_steps))
    assert config.log_step_count_steps == expected_log_steps
    assert config.tf_random_seed == 7
    assert config.model_dir == "/tmp/out"


def test_run_config_overrides_win():
    flags_obj = _run_flags(1000, keep_checkpoint_max=0)
    config = script_utils.run_config_from_flags(flags_obj, save_checkpoints_steps=30)
    assert config.save_checkpoints_steps == 30
    assert config.log_step_count_steps == 30
    assert config.keep_checkpoint_max is None  # 0 keeps all
    config = script_utils.run_config_from_flags(flags_obj, log_step_count_steps=5)
    assert config.log_step_count_steps == 5
    assert config.save_checkpoints_steps == 1000


def test_build_run_config_derives_log_interval(tmp_path):
    """The same default for callers that build the RunConfig directly."""
    config = script_utils.build_run_config(str(tmp_path), save_checkpoints_steps=20)
    assert config.log_step_count_steps == 20
    config = script_utils.build_run_config(str(tmp_path))
    assert config.log_step_count_steps == 100  # default save steps 1000
