"""The plan and the Ray engine: jobs in dependency order, the same numbers as in-process, a job that fails
on purpose, and a second run that resumes. (That the plan asks for what the notebooks ask for is checked by
tests/test_notebooks.py, which runs the whole smoke study through Ray.)"""
import json

import numpy as np
import pytest
import torch

from shortcutlab import load_preset
from shortcutlab.app.cli import main
from shortcutlab.app.engine import pack_data, run_jobs, unpack_data
from shortcutlab.study import Study
from shortcutlab.study.plan import notebook_parameters, plan, run_job

TINY = {"data.cmr_n": 40, "data.cmr_size": 32, "data.echo_n": 48, "data.echo_size": 32, "data.echo_ood_n": 24,
        "metrics.n_bootstrap": 20}


def test_plan_orders_dependencies_and_names_notebooks(tmp_path):
    cfg = load_preset("smoke", overrides={**TINY, "study.root": str(tmp_path)})
    jobs = plan(cfg, ["03_contrastive_pretraining"])
    names = [j.name for j in jobs]
    assert len(names) == len(set(names))
    for i, j in enumerate(jobs):
        if j.init:
            assert j.init in names[:i], f"{j.name} comes before its init {j.init}"
        assert j.notebooks == ["03_contrastive_pretraining"] and not j.cached
    kinds = {j.kind for j in jobs}
    assert kinds == {"supervised", "pretrain"}
    assert {j.call["method"] for j in jobs if j.kind == "pretrain"} == set(cfg.contrastive.methods)
    # the plan's call makes the very entry it names
    st = Study(cfg, progress=False)
    run = run_job(st, jobs[0])
    assert run.name == jobs[0].name and (st.root / jobs[0].name / "done.json").exists()
    assert plan(cfg, ["03_contrastive_pretraining"])[0].cached
    assert notebook_parameters("notebooks/05_semi_supervised.ipynb")["SEED"] == 0


def test_pack_data_round_trip(tmp_path):
    cfg = load_preset("smoke", overrides={**TINY, "study.root": str(tmp_path)})
    data = Study(cfg, progress=False).data("echo")
    back = unpack_data(pack_data(data))
    assert set(back) == set(data)
    for k in data:
        for f in ("images", "labels", "masks", "has_mask", "groups"):
            assert np.array_equal(getattr(back[k], f).numpy(), getattr(data[k], f).numpy()), (k, f)
        assert list(back[k].class_names) == list(data[k].class_names) and back[k].name == data[k].name


def test_ray_engine_same_numbers_failure_and_resume(tmp_path):
    cfg = load_preset("smoke", overrides={**TINY, "study.root": str(tmp_path / "ray")})
    jobs = [j.to_dict() for j in plan(cfg, ["03_contrastive_pretraining"])]
    simclr = next(j for j in jobs if j["kind"] == "pretrain" and j["call"]["method"] == "simclr")
    pick = [jobs[0], next(j for j in jobs if j["init"] == jobs[0]["name"]), simclr,
            next(j for j in jobs if j["init"] == simclr["name"] and j["call"]["cohort"] == "cm")]
    bad = {**jobs[0], "name": "cm-full-broken", "call": {**jobs[0]["call"], "changes": {"epochs": 0}}}
    res = run_jobs(cfg, pick + [bad], cpus_per_job=2, progress=False, ray_init={"num_cpus": 2})
    assert sorted(res["done"]) == sorted(j["name"] for j in pick)
    assert [f["name"] for f in res["failed"]] == ["cm-full-broken"]
    assert "epochs" in res["failed"][0]["error"] and res["failed"][0]["call"]["changes"] == {"epochs": 0}

    # the same jobs in-process: the same files, value for value
    ref = Study(cfg.replace({"study.root": str(tmp_path / "inprocess")}), progress=False)
    ray_root = Study(cfg, progress=False).root
    for j in pick:
        run_job(ref, j)
        a, b = ref.root / j["name"], ray_root / j["name"]
        assert (b / "done.json").exists()
        if j["kind"] == "supervised":
            assert json.loads((a / "metrics.json").read_text()) == {
                **json.loads((b / "metrics.json").read_text()),
                "train_seconds": json.loads((a / "metrics.json").read_text())["train_seconds"]}
            with np.load(a / "predictions.npz") as za, np.load(b / "predictions.npz") as zb:
                assert all(np.array_equal(za[k], zb[k]) for k in za.files)
        wa = torch.load(a / "weights.pt", weights_only=True)  # (the file holds a random serialization id)
        wb = torch.load(b / "weights.pt", weights_only=True)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

    # a second run resumes: what is cached is skipped; an entry lost (a half-made folder) is made again
    again = run_jobs(cfg, pick, progress=False)
    assert sorted(again["skipped"]) == sorted(j["name"] for j in pick) and not again["done"]
    lost = pick[3]["name"]
    (ray_root / lost / "done.json").unlink()
    res2 = run_jobs(cfg, pick, cpus_per_job=2, progress=False, ray_init={"num_cpus": 2})
    assert res2["done"] == [lost] and not res2["failed"]
    assert Study(cfg, progress=False).entry(lost).metrics["test"]["auc_micro"] == pytest.approx(
        ref.entry(lost).metrics["test"]["auc_micro"], abs=0)


def test_plan_cli_and_engine_errors(tmp_path, capsys):
    assert main(["plan", "--preset", "smoke", "--only", "06", "--set", f"study.root={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "cm-full-s0" in out and "echo-backmix-s0" in out and "6 jobs, 0 cached, 6 to run" in out
    with pytest.raises(SystemExit):
        main(["run", "--preset", "smoke", "--engine", "spark"])
    with pytest.raises(Exception, match="'cpus_per_job'.*at least 1|cpus_per_job"):
        run_jobs(load_preset("smoke"), [{"name": "x", "kind": "supervised", "call": {}, "init": None}],
                 cpus_per_job=0)


def test_ctrl_c_leaves_whole_entries_and_the_next_run_resumes(tmp_path, monkeypatch):
    """Ctrl-C while results come back: the cache holds only whole entries (no temporary folders), and the next
    run makes what is missing."""
    import shortcutlab.app.engine as engine

    cfg = load_preset("smoke", overrides={**TINY, "study.root": str(tmp_path)})
    jobs = [j.to_dict() for j in plan(cfg, ["06_saliency_browser"])][:3]
    real, calls = engine._write_entry, []

    def interrupted(root, name, files):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(root, name, files)

    monkeypatch.setattr(engine, "_write_entry", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_jobs(cfg, jobs, cpus_per_job=1, progress=False, ray_init={"num_cpus": 2})
    root = Study(cfg, progress=False).root
    left = sorted(p.name for p in root.iterdir())
    assert left == [calls[0]] and (root / calls[0] / "done.json").exists()
    monkeypatch.setattr(engine, "_write_entry", real)
    res = run_jobs(cfg, jobs, cpus_per_job=1, progress=False, ray_init={"num_cpus": 2})
    assert res["skipped"] == [calls[0]] and sorted(res["done"]) == sorted(j["name"] for j in jobs if j["name"] != calls[0])


def test_without_the_ray_engine_ray_is_not_imported():
    import subprocess
    import sys

    code = ("import sys, shortcutlab, shortcutlab.app.cli, shortcutlab.app.runner, shortcutlab.study.plan\n"
            "from shortcutlab.app.cli import build_parser\nbuild_parser()\nassert 'ray' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_job_bar_counts_only_what_can_run():
    """Two slots and five jobs, two of which wait for a pretraining still pending: 2 running, 3 queued; the ETA
    from the finished jobs' mean time, over the slots."""
    from shortcutlab.app.engine import bar_state

    init_of = {"pre": None, "a": None, "b": None, "fa": "pre", "fb": "pre", "c": "old-entry"}
    s = bar_state(["pre", "a", "fa", "fb", "c"], [], init_of, 2, [])
    assert (s["running"], s["queued"], s["eta"]) == (2, 3, None)
    s = bar_state(["fa", "fb"], ["pre", "a", "b", "c"], init_of, 2, [60.0, 120.0])
    assert (s["running"], s["queued"]) == (2, 0) and s["eta"] == pytest.approx(90.0 * 2 / 2 / 60)
    s = bar_state(["fa", "fb"], ["a"], init_of, 2, [60.0])  # their pretraining not done and not pending: gone before
    assert s["running"] == 2
    s = bar_state(["pre", "fa", "fb"], ["a"], init_of, 2, [60.0])
    assert (s["running"], s["queued"]) == (1, 2)  # only the pretraining can run
