"""Seeds everywhere: the MRI experiments loop over the preset's seeds, their tables give the mean over seeds
with a t-interval (per seed on demand), and the learning-rate schedule that makes the last epoch a settled model."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.study import mri
from shortcutlab.study import Study
from shortcutlab.train import lr_factor


_SMALL = {"train.epochs": 2, "data.cmr_n": 48, "data.cmr_size": 32, "train.seeds": [0, 1, 2], "saliency.max_images": 8,
          "metrics.n_bootstrap": 20}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cfg = load_preset("smoke", overrides=_SMALL)
    return Study(cfg, root=tmp_path_factory.mktemp("seeds"), progress=False)


def test_lr_factor_is_warm_up_then_half_cosine():
    warm, total = 4, 20
    got = [lr_factor("cosine", s, warm, total) for s in range(total)]
    ref = [(s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm + 1) / (total - warm)))
           for s in range(total)]
    assert np.allclose(got, ref)
    assert got[warm - 1] == 1.0 and got[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(got[warm - 1:], got[warm:]))  # never rises after the warm-up
    assert lr_factor("constant", 7, warm, total) == 1.0
    with pytest.raises(ShortcutlabError, match="'lr_schedule'.*'linear'"):
        lr_factor("linear", 0, 1, 2)
    with pytest.raises(ShortcutlabError, match="lr_schedule"):
        load_preset("smoke", overrides={"train.lr_schedule": "step"})


def test_fit_trains_at_the_scheduled_rates(study, monkeypatch):
    """The rate of every optimizer step is lr * lr_factor(step): recorded from Adam itself."""
    from shortcutlab.train import TrainSettings, fit
    from shortcutlab.models import build_model

    seen = []
    step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    d = study.data("cm")
    s = TrainSettings(epochs=3, batch_size=8, lr=0.01, lr_schedule="cosine", select_metric="last")
    fit(build_model("sl_cnn", d["train"].num_classes, 2), d["train"], None, settings=s, progress=False)
    per_epoch = len(seen) // 3
    assert len(seen) == 3 * per_epoch and per_epoch >= 2
    assert np.allclose(seen, [0.01 * lr_factor("cosine", i, per_epoch, 3 * per_epoch) for i in range(len(seen))])


def test_a_resumed_cosine_run_ends_with_the_same_numbers(tmp_path, kill_after):
    cfg = load_preset("smoke", overrides={"train.epochs": 3, "data.cmr_n": 48, "data.cmr_size": 32,
                                          "train.lr_schedule": "cosine"})
    a = Study(cfg, root=tmp_path / "a", progress=False).run("cm", "full")
    b_study = Study(cfg, root=tmp_path / "b", progress=False)
    with pytest.raises(kill_after.Killed):
        b_study.run("cm", "full", _on_epoch=kill_after(1))
    b = b_study.run("cm", "full")
    assert np.array_equal(a.probs["test"], b.probs["test"])
    assert a.spec["train"]["lr_schedule"] == "cosine"


def test_contextual_bias_runs_every_seed_and_tables_average_them(study):
    runs = mri.contextual_bias(study, conditions=("full", "seg"), cohorts=("cm",), transfer=False)
    assert [r.spec["seed"] for r in runs.where(condition="full")] == [0, 1, 2] == runs.seeds
    per = mri.table_mri(study, runs, per_seed=True)
    agg = mri.table_mri(study, runs)
    assert set(per["seed"]) == {0, 1, 2} and "seed" not in agg
    for (metric, cond), g in per.groupby(["metric", "condition"]):
        row = agg[(agg["metric"] == metric) & (agg["condition"] == cond)].iloc[0]
        v = g["mean"].to_numpy()
        h = stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3)  # the t-interval over the three seeds
        assert row["mean"] == pytest.approx(v.mean()) and row["lo"] == pytest.approx(v.mean() - h)
        assert row["hi"] == pytest.approx(v.mean() + h) and row["n_seeds"] == 3 and row["ci"] == "t over 3 seeds"
        if metric == "AKS":
            assert row["floor"] == pytest.approx(g["floor"].mean())
    # one seed: its own bootstrap CI over the test images, said so
    one = mri.table_mri(study, runs.at_seed(0))
    first = per[per["seed"] == 0].set_index(["metric", "condition"])
    for _, r in one.iterrows():
        ref = first.loc[(r["metric"], r["condition"])]
        assert (r["mean"], r["lo"], r["hi"]) == pytest.approx((ref["mean"], ref["lo"], ref["hi"]), nan_ok=True)
        assert r["ci"].startswith("bootstrap") and r["n_seeds"] == 1
    with pytest.raises(ShortcutlabError, match="'seeds'"):
        mri.contextual_bias(study, seeds=[])


def test_saliency_table_and_figure_carry_the_spread_over_seeds(study):
    from shortcutlab import plots

    runs = mri.contextual_bias(study, conditions=("full", "seg"), cohorts=("cm",), transfer=False)
    per = mri.saliency_vs_generalization(study, runs, per_seed=True)
    df = mri.saliency_vs_generalization(study, runs)
    full = df.set_index("condition").loc["full"]
    v = per[per["condition"] == "full"]["aks"].to_numpy()
    assert full["aks"] == pytest.approx(v.mean()) and full["n_seeds"] == 3
    assert full["aks_hi"] - full["aks"] == pytest.approx(stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3))
    fig = plots.plot_saliency_vs_auc(df, "aks", "auc")
    assert any(len(c.get_segments()) == 2 for c in fig.axes[0].collections if hasattr(c, "get_segments"))
    # figures of maps take the first seed and say so
    grid = plots.saliency_examples(study, runs.where(cohort="cm"), n=2)
    assert "seed 0" in grid._suptitle.get_text()
    assert [r.spec["seed"] for r in runs.at_seed(0)] == [0, 0]


def test_the_cam_layer_is_a_preset_setting(study, tmp_path):
    """saliency.layer maps at an earlier stage: its own cached file, overlap bounds at that layer's resolution; the
    training cache is shared (the layer is not a training setting); a layer the encoder lacks is a clear error."""
    from shortcutlab.saliency.cams import cam_resolution

    base = study.run("cm", "full", seed=0)
    deep = base.overlap()["aks"]["cam_resolution"]
    cfg = load_preset("smoke", overrides={**_SMALL, "saliency.method": "layercam",
                                          "saliency.layer": "layer1"})
    early = Study(cfg, root=study.root.parent, progress=False).run("cm", "full", seed=0)
    assert early.loaded_from_cache and early.name == base.name
    ov = early.overlap()["aks"]
    assert ov["cam_resolution"] == list(cam_resolution(early.model(), (32, 32), "layer1"))
    assert ov["cam_resolution"][0] > deep[0]  # the first stage is finer than the last
    assert any("layercam_layer1_" in p.name for p in early.path.glob("cams_*.npz"))
    bad = load_preset("smoke", overrides={**_SMALL, "saliency.layer": "layer9"})
    with pytest.raises(ShortcutlabError, match="'layer9'"):
        Study(bad, root=study.root.parent, progress=False).run("cm", "full", seed=0).cams()


def test_claim_ci_choice_is_checked(study):
    """metrics.claim_ci and evaluate_claims' method reject what they do not know, naming it; a claim is read on
    the notebook's RunSet, and an empty one is an error that names it."""
    from shortcutlab.study import RunSet
    from shortcutlab.study.claims import contextual_claims, evaluate_claims

    with pytest.raises(ShortcutlabError, match=r"'claim_ci'.*'welch', 'seed_t', 'hierarchical_bootstrap'.*'bca'"):
        load_preset("smoke", overrides={"metrics.claim_ci": "bca"})
    with pytest.raises(ShortcutlabError, match=r"'method' parameter of evaluate_claims.*'student'"):
        evaluate_claims([], [], n_boot=10, method="student")
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of contextual_claims.*RunSet holding runs"):
        contextual_claims(study, RunSet())
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of contextual_claims.*the RunSet.*Got \{\}"):
        contextual_claims(study, {})
