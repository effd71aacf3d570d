"""Every notebook runs under the smoke preset (papermill, a real kernel) and records what it found."""
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from shortcutlab.app.runner import discover_notebooks


def test_notebooks_are_clean():
    from shortcutlab._paths import NOTEBOOKS_DIR

    for nb in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):  # the numbered study and the lesson
        d = nbformat.read(str(nb), as_version=4)
        params = [c for c in d.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, nb.name
        src = params[0].source
        assert "PRESET" in src and "REPORT_DIR" in src
        for line in src.splitlines():  # UPPERCASE literals only
            if line.strip() and not line.strip().startswith("#"):
                name = line.split("=")[0].strip()
                assert name.isupper(), (nb.name, line)
        # the kernel `make install` registers (and `make kernel` for any Jupyter); `shortcutlab run` names its own
        assert d.metadata["kernelspec"]["name"] == "shortcutlab", nb.name
        for c in d.cells:
            if c.cell_type == "code":
                assert not c.get("outputs"), f"{nb.name} committed with outputs"
                assert "sys.path" not in c.source


def test_executed_notebooks_are_clean(smoke_report):
    """No numpy scalar reprs and no progress-bar widgets left in the executed notebooks."""
    out, _ = smoke_report
    for nb in sorted(out.glob("*.ipynb")):
        text = nb.read_text()
        assert "np.float64(" not in text, nb.name
        assert "FloatProgressModel" not in text, nb.name
        assert "Smoke preset: tiny sizes" in text, nb.name  # the note that the numbers are not meaningful


def test_the_plan_is_what_the_notebooks_ask_for(smoke_report):
    """Every run a notebook asked for was in the plan, and Ray had made it before the notebook asked (no notebook
    trained anything itself); every planned job was asked for by some notebook."""
    from shortcutlab import load_preset
    from shortcutlab.study.plan import plan

    _, summary = smoke_report
    assert summary["exit_code"] == 0
    asked = {name for name, _ in summary["requests"]}
    trained_by_notebooks = sorted({name for name, state in summary["requests"] if state != "cached"})
    assert not trained_by_notebooks, trained_by_notebooks
    planned = plan(load_preset("smoke", overrides={"study.root": str(summary["runs_root"])}))
    assert {j.name for j in planned} == asked
    assert all(j.cached for j in planned)


def test_every_notebook_runs_under_smoke(smoke_report):
    out, summary = smoke_report
    failed = {e["notebook"]: e.get("error") for e in summary["notebooks"] if e["status"] != "ok"}
    assert not failed, failed
    names = [e["notebook"] for e in summary["notebooks"]]
    assert names == [p.name for p in discover_notebooks()]
    # what ran is recorded: the arithmetic (auto resolved on this machine) and the claims registry read
    from shortcutlab.study.registry import VERSION, registry_hash
    from shortcutlab.train import bf16_reason, native_bf16
    assert summary["precision"] == {"device": "cpu", "train": "bf16" if native_bf16("cpu") else "fp32",
                                    "contrastive": "bf16" if native_bf16("cpu") else "fp32", "requested": "auto",
                                    "why": bf16_reason("cpu")}
    assert summary["registry"]["version"] == VERSION and summary["registry"]["hash"] == registry_hash()
    for e in summary["notebooks"]:
        assert e["results"].get("finding"), f"{e['notebook']} recorded no finding"
        assert e["figures"], f"{e['notebook']} saved no figure"


_AUC, _PCT, _R = (0.0, 1.0), (0.0, 100.0), (-1.0, 1.0)
# what each notebook must record, and the range its value must lie in (smoke numbers are not meaningful, so the
# ranges are the quantities' own; what is checked is that the right quantity was recorded, not a stub)
RECORDED = {
    "00_phantoms": {"calib_heart_auc": _AUC, "calib_bg_auc_strength0": _AUC, "calib_bg_auc_strength0.9": _AUC,
                    "calib_full_auc_strength0.9": _AUC},
    "01_contextual_bias": {"auc_cm_full": _AUC, "auc_cm_full_decorrelated": _AUC, "auc_cm_seg": _AUC, "auc_cm_bg": _AUC},
    "02_saliency_generalization": {"r_aks_vs_auc": _R, "r_aks_vs_auc_decorrelated": _R},
    "03_contrastive_pretraining": {"auc_transfer_full": _AUC, "auc_transfer_seg": _AUC, "auc_transfer_simclr": _AUC},
    "04_backmix": {"ood_acc_baseline": _PCT, "ood_acc_backmix": _PCT, "id_pct_e_baseline": _PCT, "id_pct_e_backmix": _PCT},
    "05_semi_supervised": {"ood_acc_baseline": _PCT, "ood_acc_f0.05": _PCT, "pct_e_baseline": _PCT,
                           "pct_e_f0.05": _PCT, "ablation_sd_accuracy": (0.0, 100.0)},
    "06_saliency_browser": {"cases_shown": (1, 10_000)},
    "07_shortcut_dial": {"gap_full_at_max": _R, "gap_seg_at_max": _R, "decorrelated_drop_full": _R},
    "08_audit_your_model": {"model_0_follows_donor": _R, "model_0_bg_gap": _R, "model_1_follows_donor": _R,
                            "model_1_bg_gap": _R, "model_0_on_object": (-10.0, 10.0),
                            "discovery_0_clusters": (1, 10_000), "discovery_1_clusters": (1, 10_000),
                            "discovery_0_tested": (0, 10_000), "discovery_0_reading": (0, 10_000)},
}


def test_recorded_values_are_the_right_quantities(smoke_report):
    out, summary = smoke_report
    by_name = {e["notebook"].removesuffix(".ipynb"): e for e in summary["notebooks"]}
    for nb, expected in RECORDED.items():
        res = by_name[nb]["results"]
        for key, (lo, hi) in expected.items():
            v = res.get(key)
            # a NaN is recorded as null; at smoke size a correlation can be undefined, nothing else may be
            if v is None and key.startswith("r_"):
                continue
            assert isinstance(v, (int, float)) and not isinstance(v, bool), (nb, key, v)
            assert lo <= v <= hi, (nb, key, v)
        assert isinstance(res["finding"], str) and len(res["finding"]) > 20, (nb, res["finding"])
        assert "np.float64" not in res["finding"], (nb, res["finding"])
    from shortcutlab.study.claims import CLAIM_COLUMNS

    for nb in ("01_contextual_bias", "02_saliency_generalization", "03_contrastive_pretraining", "04_backmix",
               "05_semi_supervised"):
        claims = pd.read_csv(out / nb / "tables" / "claims.csv", index_col=0)
        assert list(claims.columns) == CLAIM_COLUMNS, (nb, list(claims.columns))
        from shortcutlab.metrics import VERDICTS

        assert set(claims["verdict"]) <= set(VERDICTS), nb
        assert (claims["n_seeds"] == 2).all(), nb  # the smoke preset has two seeds
        assert claims["source"].notna().all() and claims["paper"].notna().all(), nb  # every row names its source
        ok = claims.dropna(subset=["lo", "hi"])
        assert ((ok["lo"] <= ok["effect"] + 1e-9) & (ok["effect"] <= ok["hi"] + 1e-9)).all(), nb
        assert ((ok["p"] >= 0) & (ok["p"] <= 1)).all() and (ok["df"] >= 1).all(), nb
        undecided = claims[claims["verdict"] == "inconclusive"]
        assert undecided["planning"].notna().all(), nb  # an undecided row plans at its Δ
    for nb in ("01_contextual_bias", "04_backmix"):
        k, n = by_name[nb]["results"]["claims_holding"].split("/")
        claims = pd.read_csv(out / nb / "tables" / "claims.csv", index_col=0)
        from shortcutlab.metrics import SUPPORTS

        primary = claims[claims["role"] == "primary"]
        assert int(n) == len(primary) and int(k) == int(primary["verdict"].isin(SUPPORTS).sum()), (nb, k, n)
    # the MRI tables are over the preset's seeds: means with a t-interval, and per seed on demand
    t1 = pd.read_csv(out / "01_contextual_bias" / "tables" / "table1_tidy.csv", index_col=0)
    assert (t1["n_seeds"] == 2).all() and (t1["ci"] == "t over 2 seeds").all()
    per = pd.read_csv(out / "01_contextual_bias" / "tables" / "table1_per_seed.csv", index_col=0)
    assert set(per["seed"]) == {0, 1} and len(per) == 2 * len(t1)
    for nb in ("02_saliency_generalization",):
        sal = pd.read_csv(out / nb / "tables" / "saliency_vs_auc.csv", index_col=0)
        assert (sal["n_seeds"] == 2).all() and {"aks_lo", "aks_hi", "auc_lo", "auc_hi"} <= set(sal.columns)
    # the Ray phase's profile: every job it ran, with its seconds
    eng = json.loads((out / "engine.json").read_text())
    assert eng["engine"] == "ray" and set(eng["job_seconds"]) == set(eng["done"]) and eng["seconds"] > 0
    assert f"Training: {len(eng['done'])} jobs on Ray" in (out / "index.html").read_text()  # the index's block
    # 08 audits the study's Full and Seg, and its tables say so in the verdict vocabulary
    audit = by_name["08_audit_your_model"]["results"]
    assert audit["model_0_name"].startswith("study full") and audit["model_1_name"].startswith("study seg")
    tests = pd.read_csv(out / "08_audit_your_model" / "tables" / "tests.csv")
    assert set(tests["verdict"]) <= {"holds", "contradicted", "equivalent", "inconclusive", "not run"}
    assert tests.groupby("model").size().tolist() == [6, 6]
    # Seg sees the object only: no background can move it, at any size
    seg = tests[tests["model"].str.startswith("study seg")].set_index("test")
    assert seg.loc["follows_donor", "effect"] == 0 and seg.loc["follows_donor", "verdict"] == "equivalent"
    # 08's discovery: one row per cluster of each model, its verdict in the vocabulary, reads only where it holds
    disc = pd.read_csv(out / "08_audit_your_model" / "tables" / "discovery.csv")
    assert set(disc["model"]) == {audit["model_0_name"], audit["model_1_name"]}
    assert set(disc["verdict"]) <= {"not tested", "holds", "holds, below Δ", "not replicated", "contradicted",
                                    "inconclusive"}
    assert (~disc["reads"] | (disc["verdict"] == "holds")).all()
    assert audit["discovery_0_reading"] == int(disc[disc["model"] == audit["model_0_name"]]["reads"].sum())
    # 05 records its ablation spread from the ablation table it saved
    abl = pd.read_csv(out / "05_semi_supervised" / "tables" / "ablation_subsets.csv", index_col=0)
    assert abs(abl["accuracy"].std() - by_name["05_semi_supervised"]["results"]["ablation_sd_accuracy"]) < 1e-9


def test_every_code_cell_is_one_statement():
    import ast

    for nb in discover_notebooks():
        d = nbformat.read(str(nb), as_version=4)
        for c in d.cells:
            if c.cell_type != "code" or "parameters" in c.metadata.get("tags", []):
                continue
            body = [s for s in ast.parse(c.source).body if not isinstance(s, (ast.Import, ast.ImportFrom))]
            assert len(body) == 1, f"{nb.name}: a cell with {len(body)} statements:\n{c.source}"


def test_report_index_links_everything(smoke_report):
    out, summary = smoke_report
    index = (out / "index.html").read_text()
    on_disk = json.loads((out / "summary.json").read_text())
    for e in on_disk["notebooks"]:
        assert e["html"] in index and (out / e["html"]).exists() and (out / e["executed"]).exists()
        for f in e["figures"]:
            assert f in index and (out / f).exists()
    assert "paper_vs_run_table1" in index


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    """Notebooks 00-08 on real formats: a preset file whose cohorts point at an ACDC folder, a binary
    manifest of PNG and NIfTI frames, the TMED2 release layout and a class folder, all written by the tests; the
    jobs trained on Ray (the data read once by the driver), the notebooks two at a time."""
    import yaml

    from shortcutlab.app.cli import main
    from shortcutlab.data.examples import write_acdc_like, write_folder_like, write_manifest_like, write_tmed2_like

    root = tmp_path_factory.mktemp("real")
    smoke = yaml.safe_load((Path(__file__).parents[1] / "params" / "smoke.yaml").read_text())
    smoke["name"] = "realsmoke"
    smoke["data"].update({
        "acdc": {"source": "acdc", "path": str(write_acdc_like(root / "acdc", 50, size=48, seed=1))},
        "cm": {"source": "manifest", "path": str(write_manifest_like(root / "man", 60, size=48, seed=3)),
               "label_map": {"0": "other", "1": "amyloid"}},
        "echo": {"source": "tmed2", "path": str(write_tmed2_like(root / "tmed2", 30, size=64, seed=2)),
                 "masks": "estimate"},
        "echo_ood": {"source": "folder", "path": str(write_folder_like(root / "ood", 48, size=64, seed=4)),
                     "masks": "estimate"}})
    smoke["study"] = {"root": str(root / "runs")}
    preset = root / "realsmoke.yaml"
    preset.write_text(yaml.safe_dump(smoke))
    out = root / "report"
    out.mkdir()
    (out / "engine.json").write_text('{"engine": "ray", "done": ["stale"], "seconds": 1}')  # an earlier Ray run's
    rc = main(["run", "--preset", str(preset), "--engine", "ray", "--cpus-per-job", "1", "--notebook-jobs", "2",
               "--quiet", "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    return out, summary, rc


def test_every_notebook_runs_on_real_formats(real_report):
    out, summary, rc = real_report
    assert rc == 0 and [e["status"] for e in summary["notebooks"]] == ["ok"] * 9, summary["notebooks"]
    # this run's training profile replaced an earlier run's
    assert json.loads((out / "engine.json").read_text())["done"] != ["stale"]
    assert "jobs on Ray" in (out / "index.html").read_text() and summary["notebook_jobs"] == 2
    assert {c: d["source"] for c, d in summary["data"].items()} == {"cm": "manifest", "acdc": "acdc",
                                                                    "echo": "tmed2", "echo_ood": "folder"}
    res = {e["notebook"][:2]: e["results"] for e in summary["notebooks"]}
    # real numbers where the data gives them ...
    assert 0 <= res["01"]["auc_cm_full"] <= 1 and "auc_cm_full_decorrelated" not in res["01"]
    assert 0 <= res["03"]["auc_transfer_full"] <= 1
    assert 0 <= res["04"]["ood_acc_baseline"] <= 100 and res["04"]["id_pct_e_backmix"] > 0
    # ... and a reason where only a phantom could
    assert "needs a phantom" in res["00"]["absent"]["calibration"]
    assert "needs a phantom" in res["02"]["absent"]["aks_vs_auc_decorrelated"]
    assert "needs a phantom" in res["07"]["absent"]["dial"]
    assert res["08"]["model_0_name"].startswith("study full") and res["08"]["model_0_answer"]  # a manifest's masks
    claims = pd.read_csv(out / "01_contextual_bias" / "tables" / "claims.csv")
    na = claims[claims["verdict"] == "n/a (needs a phantom)"]
    assert [str(c) for c in na["id"]] == ["2", "3", "4"]
    rest = claims.drop(na.index)
    assert [str(c) for c in rest["id"]] == ["1", "2i", "4n", "5a", "5b"]  # the in-set rows read real data too
    assert (rest["lo"] <= rest["effect"]).all() and (rest["effect"] <= rest["hi"]).all()
    splits = pd.read_csv(out / "00_phantoms" / "tables" / "data_splits.csv")
    assert set(zip(splits["cohort"], splits["split"])) >= {("cm", "test"), ("acdc", "train"), ("echo", "ood")}
    assert splits.set_index(["cohort", "split"]).loc[("cm", "test"), "per_class"].startswith("amyloid")
    index = (out / "index.html").read_text()
    assert "Data: cm: manifest" in index and "Not part of this run" in index


@pytest.fixture(scope="module")
def lesson_report(tmp_path_factory):
    """The lesson as a teacher runs it, under the smoke preset: ``shortcutlab run --only lesson``."""
    from shortcutlab.app.cli import main

    out = tmp_path_factory.mktemp("lesson")
    runs = tmp_path_factory.mktemp("lesson_runs")
    (out / "engine.json").write_text('{"engine": "ray", "done": ["stale"], "seconds": 1}')  # an earlier Ray run's
    rc = main(["run", "--preset", "smoke", "--only", "lesson", "--quiet", "--set", f"study.root={runs}",
               "--out", str(out)])
    return out, json.loads((out / "summary.json").read_text()), rc


def test_the_lesson_runs_and_records_its_verdicts(lesson_report):
    out, summary, rc = lesson_report
    assert rc == 0 and [e["notebook"] for e in summary["notebooks"]] == ["lesson.ipynb"]
    # no Ray this time: an earlier run's training profile no longer describes the report, and is gone
    index = (out / "index.html").read_text()
    assert not (out / "engine.json").exists() and "jobs on Ray" not in index
    assert "Each statement of the lesson" in index and "statement of the papers" not in index  # its own claims
    res = summary["notebooks"][0]["results"]
    for key in ("full_conflict_acc", "full_aligned_acc", "cure_conflict_acc", "seg_conflict_acc"):
        assert 0 <= res[key] <= 100, (key, res[key])
    assert res["verdicts_holding"].endswith("/2") and "primary verdicts as the lesson expects" in res["finding"]
    verdicts = pd.read_csv(out / "lesson" / "tables" / "claims.csv", index_col=0)  # the report lists it with the claims
    v = verdicts.set_index("id")
    assert list(v.index) == ["L1", "L2", "L3", "L3a", "L3b", "L4"] and (verdicts["n_seeds"] == 2).all()
    assert list(v["role"]) == ["primary", "control", "primary", "secondary", "secondary", "secondary"]
    assert v.loc["L3", "p"] == max(v.loc["L3a", "p"], v.loc["L3b", "p"])  # the cure: an intersection-union row
    # Seg never sees the marker: the same accuracy with it agreeing and lying, found equivalent (the control)
    reveal = pd.read_csv(out / "lesson" / "tables" / "reveal.csv", index_col=0)
    seg = reveal.loc["Seg (heart only)"]
    assert seg["cue agrees"] == seg["cue conflicts"] and v.loc["L2", "verdict"] == "equivalent"
    assert res["control_verdict"] == "equivalent" and res["cure_verdict"] == v.loc["L3", "verdict"]
    assert "Balanced (the marker random in training)" in reveal.index
    assert reveal["your guess (Full, cue conflicts)"].isna().all()  # a batch run records no guess
    dose = pd.read_csv(out / "lesson" / "tables" / "dose_response.csv", index_col=0)
    assert sorted(dose["strength"].unique()) == [0.0, 0.5, 0.9, 1.0] and set(dose["model"]) == {"full", "balanced", "seg"}
    assert sorted(dose["marker_true"].unique()) == [25.0, 62.5, 92.5, 100.0]  # the dial's truth shares, as the text says
    figs = {p.stem for p in (out / "lesson" / "figures").glob("*.png")}
    assert figs >= {"the_cue", "dose_response", "learned_first", "flipped_cases"}
    text = (out / "lesson.ipynb").read_text()
    assert "Predict first:" in text and "Write your answer" in text  # the handout's static widgets and checkers
    assert "25 %, 62.5 %, 92.5 % and 100 %" in text
    answers = (out / "lesson" / "answers.md").read_text()  # the teacher's key: a file of its own, not the notebook
    assert "teacher's copy" in answers and "L3" in answers and "teacher's copy" not in text
