import json

from shortcutlab.bench import run_bench
from shortcutlab.cli import main


def test_bench_tiny_json_structure(tmp_path, monkeypatch):
    out = tmp_path / "bench.json"
    res = run_bench("smoke", "cpu", out=out, size="tiny")
    data = json.loads(out.read_text())
    for key in ("pipeline_vs_seed_style", "fit_vs_pure_compute", "saliency_overhead"):
        r = data[key]
        assert r["ratio"] > 0 and isinstance(r["met"], bool) and "target" in r
    p = data["pipeline_vs_seed_style"]
    assert abs(p["ratio"] - p["pipeline_samples_per_s"] / p["seed_style_samples_per_s"]) < 1e-6 * p["ratio"] + 1e-9
    sh, f = data["pipeline_share_of_step"], data["fit_vs_pure_compute"]
    assert 0 < sh["ratio"] < 1 and abs(sh["ratio"] - f["pipeline_s"] / (f["pipeline_s"] + f["pure_compute_s"])) < 1e-9
    assert data["phantom_generation"]["mri_128_images_per_s_per_core"] > 0
    assert data["machine"]["cores"] and "text" in res and len(res["table"]) >= 4


def test_bench_cli_bad_device(capsys):
    import pytest
    with pytest.raises(SystemExit):
        main(["bench", "--device", "tpu"])
