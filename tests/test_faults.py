"""Fault injection (issue 9): each fault gives its exit code and one line, and the previous outputs stay.

The runs are real (HiGHS solves the small model); only the fault itself is
injected, by monkeypatching the one call that fails.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from optimizer import outputs
from optimizer import run as run_module
from optimizer.solver import SolveStatus
from tests.conftest import ROOT
from tests.hardening import OUTPUTS, run_cli, small_config


def _snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def previous(tmp_path):
    """A config and an output folder holding an earlier successful run: (config, out, its bytes)."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(small_config(constraints={"capital": {"budget": 400}})))
    out = tmp_path / "out"
    code, _, err = run_cli("run", config, "--out", out)
    assert code == 0, err
    return config, out, _snapshot(out)


def _fails_cleanly(args, code, message, out, before):
    got, _, err = run_cli(*args)
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0]
    assert _snapshot(out) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folders left behind"
    return lines[0]


@pytest.mark.parametrize("decompose", ["off", "on"])
def test_time_limit_without_a_plan_exits_4(previous, decompose, tmp_path):
    config, out, before = previous
    slow = tmp_path / "slow.yaml"
    slow.write_text(yaml.safe_dump(small_config(constraints={"capital": {"budget": 400}},
                                                solver={"time_limit": 1e-9, "decompose": decompose})))
    _fails_cleanly(["run", slow, "--out", out], 4, "no feasible plan within solver.time_limit=1e-09 s", out, before)


@pytest.mark.parametrize("status", [SolveStatus.ERROR, SolveStatus.UNBOUNDED])
def test_solver_failing_exits_1_with_its_status(previous, monkeypatch, status):
    config, out, before = previous
    real = run_module.solve_problem

    def failing(*args):
        built, sol = real(*args)
        sol.status, sol.message = status, "Solve error"
        return built, sol

    monkeypatch.setattr(run_module, "solve_problem", failing)
    line = _fails_cleanly(["run", config, "--out", out], 1, f"HiGHS ended with status {status.value}", out, before)
    assert "nothing was written" in line


def test_memory_error_in_the_solve_exits_5(previous, monkeypatch):
    config, out, before = previous

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(run_module, "build_model", no_memory)
    monkeypatch.setattr(run_module, "solve_decomposed", no_memory)
    _fails_cleanly(["run", config, "--out", out], 5, "out of memory; nothing was written", out, before)


def test_model_too_large_for_the_machine_exits_5_before_building(previous, tmp_path):
    config, out, before = previous
    huge = tmp_path / "huge.yaml"
    huge.write_text(yaml.safe_dump(small_config(scenarios={"count": 10**9})))
    _fails_cleanly(["run", huge, "--out", out], 5, "lower scenarios.count or periods", out, before)


def test_disk_full_half_way_through_the_write_exits_5(previous, monkeypatch):
    config, out, before = previous
    calls = []
    real = os.fsync

    def disk_full(fd):
        calls.append(fd)
        if len(calls) == 2:  # the first file is on disk, the second is not
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(outputs.os, "fsync", disk_full)
    line = _fails_cleanly(["run", config, "--out", out], 5, "No space left on device", out, before)
    assert "free disk space" in line


def test_rename_failing_after_the_old_run_moved_aside_puts_it_back(previous, monkeypatch):
    config, out, before = previous
    real = Path.rename

    def rename(self, target):
        if Path(target) == out and ".tmp-" in self.name:  # the new run cannot be put in place
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    _fails_cleanly(["run", config, "--out", out], 5, "Input/output error", out, before)


_KILLED_RUN = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from optimizer import outputs
    from optimizer.cli import main
    marker, where = Path(sys.argv[1]), sys.argv[2]
    real_fsync, real_rename = os.fsync, Path.rename
    def fsync(fd):
        real_fsync(fd)
        if where == "write":
            marker.touch()
            time.sleep(60)  # killed here, one file written
    def rename(self, target):
        out = real_rename(self, target)
        if where == "swap" and ".old-" in str(target):
            os.kill(os.getpid(), signal.SIGKILL)  # the earlier run moved aside, the new one not in place
        return out
    outputs.os.fsync, Path.rename = fsync, rename
    sys.exit(main(sys.argv[3:]))
""")


@pytest.mark.parametrize("where", ["write", "swap"])
def test_run_killed_during_the_write_loses_nothing(previous, tmp_path, where):
    config, out, before = previous
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, marker, where, "run", config, "--out", out],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if where == "write":
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the run never reached its write"
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    if where == "write":  # the earlier run untouched, a partial temporary folder beside it
        assert _snapshot(out) == before
        assert [p.name.startswith(f".out.tmp-{proc.pid}-") for p in tmp_path.iterdir() if p.name.startswith(".")] == [True]
    else:  # the earlier run moved aside, complete
        assert not out.exists()
        (old,) = [p for p in tmp_path.iterdir() if p.name.startswith(".out.old-")]
        assert _snapshot(old) == before
    # The next run cleans up after the killed one and writes the same plan.
    code, _, err = run_cli("run", config, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    assert _snapshot(out)["orders.csv"] == before["orders.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_recovery_puts_a_run_moved_aside_back_in_place(previous, tmp_path):
    config, out, before = previous
    aside = tmp_path / ".out.old-abc123"
    out.rename(aside)
    outputs.recover_outputs(out)
    assert _snapshot(out) == before and not aside.exists()
