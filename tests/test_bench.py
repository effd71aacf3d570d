import json
import time

import pytest

from shortcutlab.app.bench import paired_times, run_bench, verdict
from shortcutlab.app.cli import main


def test_bench_tiny_json_structure(tmp_path):
    out = tmp_path / "bench.json"
    res = run_bench("smoke", "cpu", out=out, size="tiny")
    data = json.loads(out.read_text())
    for key in ("pipeline_vs_seed_style", "fit_vs_pure_compute", "saliency_overhead", "pipeline_share_of_step"):
        r = data[key]
        assert r["repeats"] >= 3 and len(r["values"]) == r["repeats"] and r["spread"] == [min(r["values"]), max(r["values"])]
        assert r["spread"][0] <= r["ratio"] <= r["spread"][1] and r["verdict"] in ("met", "missed", "noisy")
    p = data["pipeline_vs_seed_style"]
    assert p["pipeline_samples_per_s"] > 0 and p["seed_style_samples_per_s"] > 0 and p["epochs_per_timing"] >= 1
    assert 0 < data["pipeline_share_of_step"]["ratio"] < 1
    assert data["phantom_generation"]["mri_128_images_per_s_per_core"] > 0
    assert data["machine"]["cpu"] and "median of 3 alternated repeats" in res["text"] and len(res["table"]) >= 5


def test_paired_times_measure_what_runs():
    """The timing machinery, against known durations: 30 ms vs 10 ms of sleep is a ratio of about 3."""
    ta, tb = paired_times(lambda: time.sleep(0.03), lambda: time.sleep(0.01), repeats=5)
    ratios = [a / b for a, b in zip(ta, tb)]
    assert len(ta) == len(tb) == 5 and all(a >= 0.03 for a in ta) and all(b >= 0.01 for b in tb)
    assert 2.0 < verdict(ratios, lambda r: r >= 2)["median"] < 3.5


def test_median_ci_against_order_statistics():
    from scipy.stats import binom

    from shortcutlab.app.bench import median_ci

    vals = [9, 1, 8, 2, 7, 3, 6, 4, 5]  # sorted 1..9: k = 2 at 95 % (P(Bin(9, .5) <= 1) = 10/512 <= 0.025)
    lo, hi, cov = median_ci(vals)
    assert (lo, hi) == (2, 8) and cov == pytest.approx(1 - 2 * 10 / 512)
    assert binom.cdf(2, 9, 0.5) > 0.025  # k = 3 would not qualify
    lo, hi, cov = median_ci([3.0, 1.0, 2.0, 5.0, 4.0])  # n = 5: no k qualifies, min and max, coverage 1 - 2 / 32
    assert (lo, hi) == (1.0, 5.0) and cov == pytest.approx(1 - 2 / 32)


def test_one_slow_repeat_does_not_decide_a_verdict():
    # 9 repeats, one burst from a neighbour (1.30): the median's interval [1.01, 1.04] meets <= 1.05
    v = verdict([1.01, 1.02, 1.03, 1.30, 1.02, 1.04, 1.03, 1.02, 1.04], lambda r: r <= 1.05)
    assert v["verdict"] == "met" and v["spread"] == [1.02, 1.04]


def test_verdict_is_honest_about_noise():
    assert verdict([1.02, 1.03, 1.04], lambda r: r <= 1.05)["verdict"] == "met"
    assert verdict([1.10, 1.20, 1.15], lambda r: r <= 1.05)["verdict"] == "missed"
    v = verdict([0.84, 1.09, 1.51], lambda r: r <= 1.05)  # the spread seen on one machine
    assert v["verdict"] == "noisy" and v["met"] is None and v["median"] == 1.09 and v["spread"] == [0.84, 1.51]


def test_bench_cli_bad_device(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--device", "tpu"])


def test_paper_models_section_ratios_from_their_timings():
    """Section 6 (the papers' models; on by default with --device cuda) at 32 px on the CPU: (c)/(a) and the
    pipeline's share are the medians of the per-repeat ratios of the recorded timings, rates are samples/s."""
    import statistics

    from shortcutlab.app.bench import paper_model_lines, run_paper_models

    res = run_paper_models("cpu", tiny=True, models=("echo",), pretraining=False)
    r = res["models"]["echo"]
    assert r["model"] == "resnet18" and r["size"] == 32 and r["label"] == "ResNet18, 32 px"
    a, b, c = r["a_s"], r["b_s"], r["c_s"]
    assert len(a) == len(b) == len(c) == res["sizes"]["repeats"]
    assert r["c_over_a"]["median"] == pytest.approx(statistics.median([ci / ai for ai, ci in zip(a, c)]))
    assert r["pipeline_share_of_c"]["median"] == pytest.approx(statistics.median([bi / ci for bi, ci in zip(b, c)]))
    assert r["c_fit_samples_per_s"] == pytest.approx(r["samples_per_epoch"] / statistics.median(c))
    assert r["c_over_a"]["verdict"] in ("met", "missed", "noisy")
    assert "ResNet18, 32 px" in "\n".join(paper_model_lines(res))


def test_readme_gpu_block_is_generated_from_the_stored_run(monkeypatch):
    """The GPU page's figures are the ones scripts/gpu_report.py makes from benchmarks/gpu/<run>/: no drift."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # the block names the run's folder relative to the repository
    spec = importlib.util.spec_from_file_location("gpu_report", root / "scripts" / "gpu_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    runs = sorted((root / "benchmarks" / "gpu").iterdir())
    assert runs, "no stored GPU run"
    readme = (root / "docs" / "gpu.md").read_text()
    block = readme[readme.index(mod.BEGIN):readme.index(mod.END) + len(mod.END)]
    assert block == mod.readme_block(runs[-1].relative_to(root))
    est = mod.estimate(json.loads((runs[-1] / "bench_cuda.json").read_text()),
                       json.loads((runs[-1] / "default_study_jobs.json").read_text())["jobs"],
                       json.loads((runs[-1] / "bootstrap_cpu.json").read_text()))
    assert est["total_hours"] == pytest.approx(sum(r["count"] * r["minutes_each"] / 60 for r in est["rows"]))


def test_readme_cpu_bench_block_is_generated_from_the_stored_runs(monkeypatch):
    """The performance page's CPU bench table is what scripts/bench_report.py makes from benchmarks/cpu/<runs>/: no drift,
    and its 'verdicts' column says what the stored runs say."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    spec = importlib.util.spec_from_file_location("bench_report", root / "scripts" / "bench_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    folder = sorted((root / "benchmarks" / "cpu").iterdir())[-1].relative_to(root)
    readme = (root / "docs" / "performance.md").read_text()
    block = readme[readme.index(mod.BEGIN):readme.index(mod.END) + len(mod.END)]
    assert block == mod.readme_block(folder)
    runs = [json.loads(p.read_text()) for p in sorted((root / folder).glob("run*.json"))]
    fit = [r["table"][2] for r in runs]
    assert fit[0]["figure"].startswith("fit epoch")
    for r in fit:  # the stored verdict is the rule applied to the stored interval
        lo, hi = r["spread"]
        assert r["verdict"] == ("met" if hi <= 1.05 else "missed" if lo > 1.05 else "noisy")
