"""Every table and figure over the preset's seeds: the mean with its t-interval, one seed with its own bootstrap CI."""
import numpy as np
import pytest
from scipy import stats

from shortcutlab import ShortcutlabError
from shortcutlab.study import mri


def test_contextual_bias_runs_every_seed_and_tables_average_them(seeds_study):
    runs = mri.contextual_bias(seeds_study, conditions=("full", "seg"), cohorts=("cm",), transfer=False)
    assert [r.spec["seed"] for r in runs.where(condition="full")] == [0, 1, 2] == runs.seeds
    per = mri.table_mri(seeds_study, runs, per_seed=True)
    agg = mri.table_mri(seeds_study, runs)
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
    one = mri.table_mri(seeds_study, runs.at_seed(0))
    first = per[per["seed"] == 0].set_index(["metric", "condition"])
    for _, r in one.iterrows():
        ref = first.loc[(r["metric"], r["condition"])]
        assert (r["mean"], r["lo"], r["hi"]) == pytest.approx((ref["mean"], ref["lo"], ref["hi"]), nan_ok=True)
        assert r["ci"].startswith("bootstrap") and r["n_seeds"] == 1
    with pytest.raises(ShortcutlabError, match="'seeds'"):
        mri.contextual_bias(seeds_study, seeds=[])


def test_saliency_table_and_figure_carry_the_spread_over_seeds(seeds_study):
    from shortcutlab import plots

    runs = mri.contextual_bias(seeds_study, conditions=("full", "seg"), cohorts=("cm",), transfer=False)
    per = mri.saliency_vs_generalization(seeds_study, runs, per_seed=True)
    df = mri.saliency_vs_generalization(seeds_study, runs)
    full = df.set_index("condition").loc["full"]
    v = per[per["condition"] == "full"]["aks"].to_numpy()
    assert full["aks"] == pytest.approx(v.mean()) and full["n_seeds"] == 3
    assert full["aks_hi"] - full["aks"] == pytest.approx(stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3))
    fig = plots.plot_saliency_vs_auc(df, "aks", "auc")
    assert any(len(c.get_segments()) == 2 for c in fig.axes[0].collections if hasattr(c, "get_segments"))
    # figures of maps take the first seed and say so
    grid = plots.saliency_examples(seeds_study, runs.where(cohort="cm"), n=2)
    assert "seed 0" in grid._suptitle.get_text()
    assert [r.spec["seed"] for r in runs.at_seed(0)] == [0, 0]
