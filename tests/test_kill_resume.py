"""A study killed at the Ray level resumes to the same numbers: a Ray worker killed in the middle of a job (its job
is started again), then the driver killed in the middle of the training phase (its cache keeps only whole entries),
then the same command again: it trains only what was missing, and the report equals an uninterrupted run's."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import processes_with

from shortcutlab import load_preset
from shortcutlab.study.plan import plan

NOTEBOOK = "01_contextual_bias"
# long enough that a job is still running when it is killed (smoke trains one epoch: a job would be over at once)
EPOCHS = 20


def _command(root: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "shortcutlab", "run", "--preset", "smoke", "--only", NOTEBOOK[:2], "--engine", "ray",
            "--cpus-per-job", "1", "--quiet", "--set", f"study.root={root}", "--set", f"train.epochs={EPOCHS}",
            "--out", str(out)]


def _finished(root: Path) -> set[str]:
    return {p.parent.name for p in root.glob("*/done.json")} if root.exists() else set()


def _wait(what, timeout: float, proc: subprocess.Popen):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        if proc.poll() is not None:
            pytest.fail(f"the study ended (exit {proc.returncode}) before the kill it was waiting for")
        time.sleep(0.2)
    pytest.fail(f"waited {timeout:.0f} s in vain")


def _kill_all(group: int, ray_dir: str) -> None:
    """Whatever is left of a killed run: its process group and the Ray processes of its own temporary folder."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for pid in processes_with(ray_dir.encode()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
def test_a_study_killed_at_the_ray_level_resumes_to_the_same_numbers(tmp_path):
    ray_dir = tempfile.mkdtemp(prefix="rk", dir="/tmp")  # short: Ray's socket paths must fit in 107 characters
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": ray_dir, "PYTHONUNBUFFERED": "1"}
    root, out = tmp_path / "runs", tmp_path / "report"
    cfg = load_preset("smoke", overrides={"study.root": str(root), "train.epochs": EPOCHS})
    every = {j.name for j in plan(cfg, [NOTEBOOK])}
    entries = root / "smoke"  # the study's cache: runs/<preset>/
    assert len(every) >= 6, every
    try:
        # 1. a worker killed mid-job, then the driver killed with jobs still to do
        run = subprocess.Popen(_command(root, out), env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        worker = _wait(lambda: processes_with(b"ray::_job_task"), 300, run)[0]
        time.sleep(1.0)
        os.kill(worker, signal.SIGKILL)
        _wait(lambda: len(_finished(entries)) >= 2, 300, run)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
        _kill_all(run.pid, ray_dir)
        before = _finished(entries)
        assert 2 <= len(before) < len(every), (sorted(before), len(every))  # killed mid-phase
        assert not out.joinpath("summary.json").exists()

        # 2. the same command again: only what was missing is trained, and nothing half-made is kept
        again = subprocess.run(_command(root, out), env=env, capture_output=True, text=True, timeout=900)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        eng = json.loads((out / "engine.json").read_text())
        assert set(eng["skipped"]) == before and set(eng["done"]) == every - before and not eng["failed"], eng
        assert not list(entries.glob(".incoming-*")) and _finished(entries) == {p.name for p in entries.iterdir()}
    finally:
        _kill_all(run.pid, ray_dir)
        shutil.rmtree(ray_dir, ignore_errors=True)

    # 3. an uninterrupted run of the same command: the same recorded values and claims
    ref_root, ref_out = tmp_path / "ref_runs", tmp_path / "ref_report"
    ref = subprocess.run(_command(ref_root, ref_out), env={**env, "RAY_TMPDIR": "/tmp"}, capture_output=True,
                         text=True, timeout=900)
    assert ref.returncode == 0, ref.stdout[-3000:] + ref.stderr[-3000:]
    resumed = json.loads((out / "summary.json").read_text())["notebooks"][0]["results"]
    straight = json.loads((ref_out / "summary.json").read_text())["notebooks"][0]["results"]
    assert resumed == straight
    pd.testing.assert_frame_equal(pd.read_csv(out / NOTEBOOK / "tables" / "claims.csv"),
                                  pd.read_csv(ref_out / NOTEBOOK / "tables" / "claims.csv"))
