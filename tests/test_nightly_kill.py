"""kill -9 during forecast, solve and write: the store and the folder stay as the last good run left them;
after the commit: the next command puts the committed run's folder in place.

The job is started in a subprocess with ECHELON_TEST_PAUSE=POINT:FILE (optimizer/nightly.py): it
creates FILE and sleeps when it reaches POINT, and the test kills it there with SIGKILL. The killed run
is a rerun of the last good run's as-of date, so an uncommitted replacement must leave the old run whole.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from optimizer.nightly import PAUSE_ENV, nightly, reconcile
from optimizer.runstore import RunStore
from tests.m5_small import ROOT, small_config
from tests.processes import kill_9_when_marked

AS_OF = "2016-04-20"


def _state(folder):
    with RunStore(folder / "runs.sqlite") as store:
        rows = store.dump()
    files = {p.name: p.read_bytes() for p in sorted((folder / "nightly").iterdir())}
    return rows, files


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A folder with one good run of AS_OF: config, history, store and output folder."""
    folder = tmp_path_factory.mktemp("good")
    good = nightly(small_config(folder), as_of=AS_OF)
    return folder, good.run_id


def _kill_at(config, point):
    """Start the nightly rerun of AS_OF in a subprocess, wait until it pauses at ``point``, kill -9 it."""
    marker = config.parent / f"paused-{point}"
    env = {**os.environ, PAUSE_ENV: f"{point}:{marker}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "optimizer.cli", "nightly", str(config), "--as-of", AS_OF],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_9_when_marked(proc, marker, point, timeout=300)


@pytest.mark.parametrize("point", ["forecast", "solve", "write"])
def test_kill_9_leaves_the_last_good_run(tmp_path, good_run, point):
    shutil.copytree(good_run[0], tmp_path, dirs_exist_ok=True)
    config = tmp_path / "config.yaml"
    before = _state(tmp_path)
    _kill_at(config, point)

    assert _state(tmp_path) == before  # store rows and folder bytes, exactly
    if point == "write":  # the killed run's files were complete, but only in a temporary folder
        assert len(list(tmp_path.glob(".nightly.tmp-*"))) == 1

    after = nightly(config, as_of=AS_OF)  # the next run succeeds and replaces the date's run
    assert not list(tmp_path.glob(".nightly.*"))
    with RunStore(tmp_path / "runs.sqlite") as store:
        runs = store.table("runs")
    assert runs["run_id"].tolist() == [after.run_id] and after.run_id != good_run[1]
    assert (tmp_path / "nightly" / "orders.csv").read_bytes() == before[1]["orders.csv"]


def test_kill_9_after_the_commit_is_finished_by_the_next_command(tmp_path, good_run):
    # Killed after the store's COMMIT and before the folder's renames: the run is recorded and its
    # complete folder waits beside nightly/. The next command that opens the store (echelon nightly,
    # echelon approve) puts it in place first, so the folder never names a run the store does not hold.
    shutil.copytree(good_run[0], tmp_path, dirs_exist_ok=True)
    config = tmp_path / "config.yaml"
    before = _state(tmp_path)
    _kill_at(config, "commit")

    rows, files = _state(tmp_path)
    assert files == before[1]  # the morning's folder is still the last good run, whole
    [staged] = tmp_path.glob(".nightly.tmp-*")
    killed = json.loads((staged / "manifest.json").read_text())["run_id"]
    assert [r[0] for r in rows["runs"]] == [killed] != [good_run[1]]  # the rerun replaced the date's run

    with RunStore(tmp_path / "runs.sqlite") as store:
        reconcile(tmp_path / "nightly", store)
    assert json.loads((tmp_path / "nightly" / "manifest.json").read_text())["run_id"] == killed
    assert not list(tmp_path.glob(".nightly.*")) and _state(tmp_path)[0] == rows
    assert (tmp_path / "nightly" / "orders.csv").read_bytes() == before[1]["orders.csv"]  # same data, same plan

    with RunStore(tmp_path / "runs.sqlite") as store:  # a reconciled folder is left alone
        reconcile(tmp_path / "nightly", store)
    assert json.loads((tmp_path / "nightly" / "manifest.json").read_text())["run_id"] == killed
