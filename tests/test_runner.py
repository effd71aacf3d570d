import json

import nbformat
import pytest

from shortcutlab import ShortcutlabError
from shortcutlab.app.cli import main, parse_set
from shortcutlab.app.runner import discover_notebooks, run_study


def _nb(path, cells):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('PRESET = "default"\nOVERRIDES = {}\nREPORT_DIR = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def nbdir(tmp_path):
    d = tmp_path / "notebooks"
    d.mkdir()
    _nb(d / "01_ok.ipynb", [
        "import shortcutlab as sl\nreport = sl.open_report(REPORT_DIR)\ncfg = sl.load_preset(PRESET, OVERRIDES)",
        "report.record('epochs', cfg.train.epochs)\nreport.record('finding', 'it works')",
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "ax.plot([0, 1])\nreport.save_figure(fig, 'line')",
        "import pandas as pd\nreport.save_table(pd.DataFrame({'a': [1.0]}), 'paper_vs_run_demo')",
    ])
    _nb(d / "02_fails.ipynb", [
        "x = 1",
        "raise ValueError('deliberate failure in cell three')",
        "y = 2",
    ])
    _nb(d / "03_after.ipynb", ["import shortcutlab as sl\nsl.open_report(REPORT_DIR).record('ran', True)"])
    (d / "notes.ipynb").write_text("{}")  # not numbered: ignored
    return d


def test_discover_and_only(nbdir):
    assert [p.name for p in discover_notebooks(nbdir)] == ["01_ok.ipynb", "02_fails.ipynb", "03_after.ipynb"]
    assert [p.name for p in discover_notebooks(nbdir, ["03"])] == ["03_after.ipynb"]
    with pytest.raises(ShortcutlabError, match="'only'.*01, 02, 03.*Got 07"):
        discover_notebooks(nbdir, ["07"])


def test_run_success_failure_and_summary(nbdir, tmp_path):
    out = tmp_path / "report"
    s = run_study("smoke", out=out, notebooks=nbdir, overrides={"train.epochs": 3}, progress=False)
    assert not s["ok"]
    by = {e["notebook"]: e for e in s["notebooks"]}
    assert by["01_ok.ipynb"]["status"] == "ok"
    # the override reached the notebook
    assert by["01_ok.ipynb"]["results"]["epochs"] == 3
    assert by["01_ok.ipynb"]["figures"] == ["01_ok/figures/line.png"]
    # failure names the cell and the error; later notebooks still run
    err = by["02_fails.ipynb"]["error"]
    assert by["02_fails.ipynb"]["status"] == "failed"
    assert err["ename"] == "ValueError" and "deliberate failure" in err["evalue"]
    # In [4]: the parameters cell, the injected-parameters cell, `x = 1`, then the failing cell
    assert err["exec_count"] == 4 and "deliberate failure" in err["source"]
    assert by["03_after.ipynb"]["status"] == "ok" and by["03_after.ipynb"]["results"]["ran"] is True
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["preset"] == "smoke" and len(on_disk["notebooks"]) == 3
    for e in on_disk["notebooks"]:
        assert (out / e["executed"]).exists() and (out / e["html"]).exists()
    index = (out / "index.html").read_text()
    for e in on_disk["notebooks"]:
        assert e["html"] in index
    assert "01_ok/figures/line.png" in index and "paper_vs_run_demo" in index
    assert "deliberate failure" in index


def test_only_keeps_earlier_entries(nbdir, tmp_path):
    out = tmp_path / "r"
    run_study("smoke", out=out, notebooks=nbdir, only=["01"], progress=False)
    s = run_study("smoke", out=out, notebooks=nbdir, only=["03"], progress=False)
    by = {e["notebook"]: e for e in s["notebooks"]}
    assert set(by) == {"01_ok.ipynb", "03_after.ipynb"} and by["01_ok.ipynb"]["from_earlier_run"]
    assert s["ran"] == ["03_after.ipynb"] and "earlier run" in (out / "index.html").read_text()


def test_fail_fast_stops(nbdir, tmp_path):
    s = run_study("smoke", out=tmp_path / "r", notebooks=nbdir, fail_fast=True, progress=False)
    assert [e["notebook"] for e in s["notebooks"]] == ["01_ok.ipynb", "02_fails.ipynb"]


def test_bad_preset_fails_before_running(nbdir, tmp_path):
    with pytest.raises(ShortcutlabError, match="Unknown key"):
        run_study("smoke", out=tmp_path / "r", notebooks=nbdir, overrides={"train.epoch": 1}, progress=False)
    assert not (tmp_path / "r").exists()


def test_parse_set():
    assert parse_set(["train.epochs=2", "train.seeds=[0, 1]", "data.cmr_systemic=false", "study.root=x"]) == {
        "train.epochs": 2, "train.seeds": [0, 1], "data.cmr_systemic": False, "study.root": "x"}
    with pytest.raises(ShortcutlabError, match="--set.*section.key=value.*'epochs'"):
        parse_set(["epochs"])


def test_cli_errors(capsys):
    assert main(["run", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "smoke" in err
    assert main(["run", "--preset", "smoke", "--set", "train.epoch=1"]) == 2
    assert "Unknown key 'epoch'" in capsys.readouterr().err
    assert main(["run", "--preset", "smoke", "--only", "99"]) == 2
    assert "'only'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_cli_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "presets:" in out and "smoke" in out and "paper" in out


def test_cell_timeout_fails_that_notebook_and_goes_on(tmp_path, capsys):
    """A cell that never finishes (here: sleeps) fails its notebook after --cell-timeout seconds, with the
    cell named, and the next notebook still runs: a study is never blocked for good by one kernel."""
    d = tmp_path / "nbs"
    d.mkdir()
    _nb(d / "01_hangs.ipynb", ["import time\ntime.sleep(600)"])
    # (the timeout holds for every cell, so the second notebook's cell is quick even on a loaded machine)
    _nb(d / "02_after.ipynb", ["import pathlib\npathlib.Path(REPORT_DIR, 'ran.txt').write_text('yes')"])
    s = run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False, execution_timeout=5)
    by = {e["notebook"]: e for e in s["notebooks"]}
    assert by["01_hangs.ipynb"]["status"] == "failed" and by["01_hangs.ipynb"]["duration_s"] < 120
    assert "timed out" in json.dumps(by["01_hangs.ipynb"]["error"]).lower()
    assert by["02_after.ipynb"]["status"] == "ok" and (tmp_path / "r" / "02_after" / "ran.txt").read_text() == "yes"
    with pytest.raises(ShortcutlabError, match=r"'execution_timeout' parameter of run_study.*Got 0 instead"):
        run_study("smoke", out=tmp_path / "r2", notebooks=d, progress=False, execution_timeout=0)
    assert main(["run", "--preset", "smoke", "--cell-timeout", "-5"]) == 2
    assert "'execution_timeout'" in capsys.readouterr().err


def test_unwritable_out_is_a_clear_error(nbdir, tmp_path):
    import os
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions: use a path under a file instead
            target = tmp_path / "file.txt"
            target.write_text("x")
            target = target / "report"
        else:
            target = ro / "report"
        with pytest.raises(ShortcutlabError, match="'out' parameter of run_study.*can be written.*Got"):
            run_study("smoke", out=target, notebooks=nbdir, progress=False)
    finally:
        ro.chmod(0o700)


def test_interactive_runs_keep_their_results_apart(tmp_path, monkeypatch):
    """Without REPORT_DIR (a notebook run by hand), each notebook writes to reports/interactive/<notebook>/."""
    import shortcutlab as sl
    from shortcutlab.app import notebook

    monkeypatch.setattr(notebook, "REPORTS_DIR", tmp_path)
    monkeypatch.delenv("SHORTCUTLAB_REPORT_DIR", raising=False)
    _, _, r1 = sl.setup("smoke", {"study.root": str(tmp_path / "runs")}, None, notebook="01_contextual_bias", SEED=0)
    _, _, r4 = sl.setup("smoke", {"study.root": str(tmp_path / "runs")}, None, notebook="04_backmix", SEED=0)
    r1.record("x", 1)
    r4.record("x", 4)
    assert r1.dir == tmp_path / "interactive" / "01_contextual_bias" and r4.dir == tmp_path / "interactive" / "04_backmix"
    assert r1.results() == {"x": 1} and r4.results() == {"x": 4}


def test_results_block_from_a_stored_summary(tmp_path, capsys):
    """`shortcutlab results` turns a summary into the README's block: stamped with run date, preset, overrides
    and machine, a row per notebook, every recorded value; --readme replaces only the text between the markers."""
    import shutil
    from pathlib import Path

    from shortcutlab.app.cli import main
    from shortcutlab.app.results import BEGIN, END, markers

    rep = tmp_path / "rep"
    rep.mkdir()
    shutil.copy(Path(__file__).parent / "data" / "summary_small.json", rep / "summary.json")
    assert main(["results", str(rep)]) == 0
    block = capsys.readouterr().out.strip()
    lines = block.splitlines()
    assert (lines[0], lines[-1]) == markers("smoke") != (BEGIN, END)  # a block per preset: the study's is default's
    assert lines[0].startswith("<!-- shortcutlab results (smoke): begin") and lines[-1].endswith("(smoke): end -->")
    assert ('Run of 2026-11-28 12:00:00, preset `smoke` with overrides `{"train.epochs": 1}`, on AMD EPYC, 2 cores, '
            'torch 2.14.1; precision not recorded.') in block  # a summary from before the precision was recorded
    import json
    with_prec = {**json.loads((rep / "summary.json").read_text()), "config": {"train": {"seeds": [0, 1, 2]}},
                 "precision": {"device": "cpu", "train": "bf16", "contrastive": "fp32"}}
    (rep / "summary.json").write_text(json.dumps(with_prec))
    assert main(["results", str(rep)]) == 0
    assert ("torch 2.14.1; trained in bf16 (contrastive pretraining fp32) on cpu; seeds 0, 1, 2. Generated by"
            in capsys.readouterr().out)
    # precision auto: the block says why it resolved as it did (a CPU with native bf16 trains in bf16 by default)
    with_prec["precision"].update(requested="auto", why="AVX-512 BF16")
    (rep / "summary.json").write_text(json.dumps(with_prec))
    assert main(["results", str(rep)]) == 0
    assert "trained in bf16 (auto: AVX-512 BF16; contrastive pretraining fp32) on cpu" in capsys.readouterr().out
    shutil.copy(Path(__file__).parent / "data" / "summary_small.json", rep / "summary.json")
    assert "| 01_contextual_bias | ok | 61 s | Full AUC 0.81 with the cue as in training \\| 3/6 claims hold |" in lines
    assert "| 04_backmix | failed | 5 s | – |" in lines
    assert "* 01_contextual_bias: auc_cm_full = 0.812, claims_holding = 3/6" in lines
    assert "Claims (paired effects" not in block  # the stored summary lists no claims table
    (rep / "01_contextual_bias" / "tables").mkdir(parents=True)
    (rep / "01_contextual_bias" / "tables" / "claims.csv").write_text(
        ",id,claim,source,paper,test,margin,effect,lo,hi,verdict,p_holm,n_seeds,df,per_seed,to_decide,note,method\n"
        "0,1,BG-only is above chance,MRI Table 1,BG 0.784 ± 0.053,greater,,0.44,0.41,0.46,holds,0.001,3,4.1,"
        "+0.4 +0.5 +0.4,,,Welch t over 3 seeds + shared test bootstrap\n"
        "1,2,Seg is not worse than Full,MRI Table 1,Seg 0.884,noninferior,0.02,-0.03,-0.08,0.02,inconclusive,0.8,3,"
        "2.5,-0.1 +0.0 -0.0,≈9 seeds,,Welch t over 3 seeds + shared test bootstrap\n")
    import json
    s = json.loads((rep / "summary.json").read_text())
    s["notebooks"][0]["tables"] = ["01_contextual_bias/tables/claims.csv"]
    (rep / "summary.json").write_text(json.dumps(s))
    assert main(["results", str(rep)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # a run stored before the registry recorded its claims' forms: every row is marked, with the verdict it had
    assert ("| 1 | BG-only is above chance | BG 0.784 ± 0.053 (MRI Table 1) | +0.440 [+0.410, +0.460] | changed after "
            "results (was holds) |  | 3 |") in lines
    assert ("| 2 | Seg is not worse than Full | Seg 0.884 (MRI Table 1) | -0.030 [-0.080, +0.020] | changed after "
            "results (was inconclusive) |  | 3 |") in lines
    # no engine.json: the notebooks trained in their kernels; with one, the Ray phase's time and the total
    assert any(x.startswith("The notebooks took ") for x in lines)
    (rep / "engine.json").write_text(json.dumps({"engine": "ray", "cpus_per_job": 1, "done": ["a", "b"],
                                                 "seconds": 120.0, "job_seconds": {"a": 100.0, "b": 80.0}}))
    assert main(["results", str(rep)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert ("Training: 2 jobs on Ray (1 thread(s) each, one per core) in 2.0 min, 3.0 job-minutes; then the notebooks "
            "in 1.1 min: 3.1 min in all.") in lines
    # notebooks run side by side: their phase's wall time, not the sum of their durations
    (rep / "summary.json").write_text(json.dumps({**s, "notebooks_s": 30.0, "notebook_jobs": 2}))
    assert main(["results", str(rep)]) == 0
    assert ("Training: 2 jobs on Ray (1 thread(s) each, one per core) in 2.0 min, 3.0 job-minutes; then the notebooks "
            "in 0.5 min, 2 at a time: 2.5 min in all.") in capsys.readouterr().out.splitlines()
    (rep / "summary.json").write_text(json.dumps(s))
    # the header names how the CIs were made, from the tables' method column
    from shortcutlab.study.registry import VERSION, registry_hash
    assert any(x.startswith(f"Claims as the papers state them (registry not recorded by this run (the registry is now "
                            f"version {VERSION}, `{registry_hash()}`);") and
               "Paired effects; 95 % CI: Welch t over 3 seeds + shared test bootstrap." in x for x in lines)
    # the lesson's claims are its own statements, not the papers': the block says so
    lesson = json.loads(json.dumps(s))
    lesson["notebooks"] = [{**s["notebooks"][0], "notebook": "lesson.ipynb"}]
    (rep / "summary.json").write_text(json.dumps(lesson))
    assert main(["results", str(rep)]) == 0
    out = capsys.readouterr().out
    assert "The lesson's verdicts (registry not recorded by this run" in out
    assert "paired effects, 95 % CI: Welch t over 3 seeds" in out
    assert "| id | claim | expected (source) |" in out and "as the papers state them" not in out
    (rep / "summary.json").write_text(json.dumps(s))
    readme = tmp_path / "README.md"
    begin, end = markers("smoke")
    readme.write_text(f"intro\n{BEGIN}\nthe study's numbers\n{END}\n{begin}\nold numbers\n{end}\noutro\n")
    assert main(["results", str(rep), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith(f"intro\n{BEGIN}\nthe study's numbers\n{END}\n{begin}") and "old numbers" not in text
    assert text.endswith(end + "\noutro\n") and text.count(begin) == 1 and "| 04_backmix | failed |" in text
    readme.write_text(f"{BEGIN}\nonly the study's block\n{END}\n")
    assert main(["results", str(rep), "--readme", str(readme)]) == 2
    assert "(smoke): begin" in capsys.readouterr().err and "only the study's block" in readme.read_text()
    readme.write_text("no markers\n")
    assert main(["results", str(rep), "--readme", str(readme)]) == 2
    assert "has no results markers" in capsys.readouterr().err
    assert main(["results", str(tmp_path / "nowhere")]) == 2
    assert "has no summary.json" in capsys.readouterr().err


def test_report_index_opens_with_the_results_block(tmp_path):
    import json
    from pathlib import Path

    from shortcutlab.app.index import write_index

    summary = json.loads((Path(__file__).parent / "data" / "summary_small.json").read_text())
    html = write_index(tmp_path, summary).read_text()
    top = html.index("<div class='results'>")
    assert top < html.index("<h2>Notebooks</h2>")
    assert "Run of 2026-11-28 12:00:00" in html[top:] and "<table>" in html[top:html.index("<h2>Notebooks</h2>")]


def test_console_script_entry_point_resolves():
    """`shortcutlab` (pyproject's [project.scripts]) must point at a function that exists (it moved once)."""
    import importlib
    import tomllib
    from pathlib import Path

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["shortcutlab"].split(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_kernels_talk_over_ipc_not_tcp(tmp_path, capfd):
    """The runner's kernels use local IPC sockets: no "running over TCP without encryption" warning per notebook
    (ipykernel prints it for TCP), and the sockets' folder is gone afterwards."""
    import glob
    import tempfile

    d = tmp_path / "nb"
    d.mkdir()
    _nb(d / "01_transport.ipynb", [
        "import json, ipykernel\nfrom shortcutlab.app.report import open_report\n"
        "info = json.load(open(ipykernel.get_connection_file()))\n"
        "open_report(REPORT_DIR).record('transport', info['transport'])"])
    before = set(glob.glob(f"{tempfile.gettempdir()}/shortcutlab-kernel-*"))
    s = run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False)
    assert s["ok"], s["notebooks"]
    assert s["notebooks"][0]["results"]["transport"] == "ipc"
    assert "without encryption" not in capfd.readouterr().err
    assert set(glob.glob(f"{tempfile.gettempdir()}/shortcutlab-kernel-*")) == before


def test_notebooks_run_side_by_side_with_their_share_of_the_cores(tmp_path, capsys):
    """jobs=2: two notebooks execute at once (their cells overlap in time), each kernel with OMP_NUM_THREADS =
    cores / 2; the entries keep the notebooks' order, fail_fast starts nothing after a failure, and the runner's
    own environment is left as it was. Without Ray the command line runs them one at a time, and says why."""
    import os

    d = tmp_path / "nb"
    d.mkdir()
    cell = ("import os, time\nfrom shortcutlab.app.report import open_report\nr = open_report(REPORT_DIR)\n"
            "r.record('start', time.time())\ntime.sleep(2)\nr.record('end', time.time())\n"
            "r.record('threads', os.environ.get('OMP_NUM_THREADS'))")
    for name in ("01_a", "02_b"):
        _nb(d / f"{name}.ipynb", [cell])
    before = os.environ.get("OMP_NUM_THREADS")
    s = run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False, jobs=2)
    assert s["ok"] and [e["notebook"] for e in s["notebooks"]] == ["01_a.ipynb", "02_b.ipynb"] and s["notebook_jobs"] == 2
    a, b = (e["results"] for e in s["notebooks"])
    assert a["start"] < b["end"] and b["start"] < a["end"], (a, b)  # at once
    # the phase's wall time is recorded: it covers each notebook but not both one after the other
    durations = [e["duration_s"] for e in s["notebooks"]]
    assert max(durations) <= s["notebooks_s"] < sum(durations), (s["notebooks_s"], durations)
    assert a["threads"] == b["threads"] == str(max(1, (os.cpu_count() or 1) // 2))
    assert os.environ.get("OMP_NUM_THREADS") == before
    _nb(d / "00_fails.ipynb", ["raise ValueError('first')"])
    s = run_study("smoke", out=tmp_path / "r2", notebooks=d, progress=False, jobs=2, fail_fast=True)
    assert [e["notebook"] for e in s["notebooks"]] == ["00_fails.ipynb", "01_a.ipynb"]  # 02 never started
    with pytest.raises(ShortcutlabError, match=r"'jobs' parameter of run_study.*Got 0"):
        run_study("smoke", out=tmp_path / "r3", notebooks=d, progress=False, jobs=0)
    assert main(["run", "--preset", "smoke", "--notebook-jobs", "2", "--only", "99", "--out", str(tmp_path / "r4")]) == 2
    assert "--notebook-jobs 2: running the notebooks one at a time" in capsys.readouterr().err
    assert main(["run", "--preset", "smoke", "--engine", "ray", "--notebook-jobs", "0", "--out", str(tmp_path / "r5")]) == 2
    err = capsys.readouterr().err  # refused before Ray trains anything
    assert "'--notebook-jobs'" in err and "shortcutlab run" in err and "Got 0" in err and not (tmp_path / "r5").exists()
