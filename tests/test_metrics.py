import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from shortcutlab import ShortcutlabError
from shortcutlab.metrics import (aks, auc, auc_weighted, bootstrap_ci, classification_metrics, correlation_ci, dsc, energy_pct,
                                 focus_pct, mean_ci_across, overlap_metrics, paired_bootstrap, summarize)


def _probs(n=60, k=3, seed=0, signal=2.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    logits = rng.normal(size=(n, k)) + signal * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


def test_auc_micro_and_macro_against_definitions():
    y, p = _probs()
    onehot = np.eye(3)[y]
    # micro: pool all (sample, class) scores against the binarized labels
    assert math.isclose(auc(y, p, "micro"), roc_auc_score(onehot.ravel(), p.ravel()))
    # macro: mean of the per-class one-vs-rest AUCs
    per_class = [roc_auc_score(onehot[:, c], p[:, c]) for c in range(3)]
    assert math.isclose(auc(y, p, "macro"), float(np.mean(per_class)))
    perfect = np.eye(3)[y] * 0.97 + 0.01
    assert auc(y, perfect) == 1.0
    tied = np.round(p, 1)                       # many tied scores: ties count half, as roc_auc_score has them
    tied = tied / tied.sum(1, keepdims=True)
    assert math.isclose(auc(y, tied, "micro"), roc_auc_score(onehot.ravel(), tied.ravel()), rel_tol=1e-12)


def test_auc_bad_input():
    y, p = _probs()
    with pytest.raises(ShortcutlabError, match="summing to 1.*softmax"):
        auc(y, p * 2)
    with pytest.raises(ShortcutlabError, match="at least two classes.*undefined"):
        auc(np.zeros(60, int), p)
    with pytest.raises(ShortcutlabError, match="every class"):
        auc(y % 2, p, "macro")
    with pytest.raises(ShortcutlabError, match=r"shape \[N, K\]"):
        auc(y[:10], p)
    with pytest.raises(ShortcutlabError, match="empty split"):
        auc(np.zeros(0, int), np.zeros((0, 3)))


def test_bootstrap_ci_seeded_contains_estimate_and_counts_redraws():
    y, p = _probs(n=30)
    f = lambda a, b: auc(a, b, "macro")  # noqa: E731
    r1 = bootstrap_ci(y, p, f, n_boot=200, seed=1)
    r2 = bootstrap_ci(y, p, f, n_boot=200, seed=1)
    assert r1 == r2 and r1["lo"] <= r1["estimate"] <= r1["hi"] and r1["n_boot_valid"] == 200
    # a rare class makes many resamples lack it: they are redrawn and counted, never a crash or NaN
    y2 = np.array([0] * 28 + [1, 2])
    y2p = np.eye(3)[y2] * 0.7 + 0.1
    r = bootstrap_ci(y2, y2p, f, n_boot=50, seed=0)
    assert r["n_redrawn"] > 0 and r["n_boot_valid"] == 50 and not math.isnan(r["lo"])
    # a test set of one class: the AUC is undefined, the result is NaN with its reason, and a warning says so
    one = np.zeros(12, int)
    with pytest.warns(UserWarning, match=r"bootstrap_ci: the metric is undefined on this test set \(12 samples, 1 of "
                                         r"3 classes present\), so its estimate and CI are NaN"):
        r = bootstrap_ci(one, np.eye(3)[one] * 0.7 + 0.1, lambda a, b: auc(a, b, "micro"), n_boot=20)
    assert math.isnan(r["estimate"]) and math.isnan(r["lo"]) and r["reason"]



def test_auc_weighted_is_the_micro_auc_of_each_resample_ties_included():
    y, p = _probs(n=50, k=4, seed=3)
    p = np.round(p, 1)                       # many tied scores
    p = p / p.sum(1, keepdims=True)
    rng = np.random.default_rng(7)
    draws = [rng.integers(0, 50, 50) for _ in range(40)]
    counts = np.stack([np.bincount(i, minlength=50) for i in draws])
    got = auc_weighted(y, p, counts, chunk=16)          # several chunks
    want = [roc_auc_score(np.eye(4)[y[i]].ravel(), p[i].ravel()) for i in draws]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert auc_weighted(y, p, np.ones(50))[0] == pytest.approx(auc(y, p, "micro"), abs=1e-12)
    with pytest.raises(ShortcutlabError, match=r"'weights' parameter of auc_weighted.*\(3, 49\)"):
        auc_weighted(y, p, np.ones((3, 49)))


def test_bootstrap_ci_batched_draws_the_same_resamples_as_the_loop():
    y, p = _probs(n=40, k=3, seed=2)
    f = lambda a, b: auc(a, b, "micro")  # noqa: E731
    loop = bootstrap_ci(y, p, f, n_boot=120, seed=4)
    batched = bootstrap_ci(y, p, f, n_boot=120, seed=4, batch_fn=auc_weighted)
    assert batched["n_boot_valid"] == loop["n_boot_valid"] == 120
    assert batched["n_redrawn"] == loop["n_redrawn"]
    for key in ("estimate", "lo", "hi"):
        assert batched[key] == pytest.approx(loop[key], abs=1e-12)
    y2 = np.array([0] * 28 + [1, 2])     # resamples lacking a class are redrawn in both
    p2 = np.eye(3)[y2] * 0.7 + 0.1
    a = bootstrap_ci(y2, p2, f, n_boot=30, seed=0)
    b = bootstrap_ci(y2, p2, f, n_boot=30, seed=0, batch_fn=auc_weighted)
    assert a["n_redrawn"] == b["n_redrawn"] > 0 and b["lo"] == pytest.approx(a["lo"], abs=1e-12)

def test_classification_metrics():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    m = classification_metrics(y, p)
    assert math.isclose(m["accuracy"], 4 / 6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    prec = np.mean([1 / 2, 2 / 3, 1 / 1])
    rec = np.mean([1 / 2, 1, 1 / 2])
    assert math.isclose(m["precision"], prec) and math.isclose(m["recall"], rec)


def test_paired_bootstrap_detects_better_model():
    y, good = _probs(n=90, signal=3.0)
    _, bad = _probs(n=90, signal=0.3, seed=5)
    r = paired_bootstrap(y, good, bad, n_boot=200, seed=0)
    assert r["difference"] > 0 and r["lo"] > 0 and r["p_better"] > 0.95


def test_overlap_metrics_hand_made():
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[:, :2] = True
    inside = torch.zeros(4, 4)
    inside[1, 1] = 1.0
    outside = torch.zeros(4, 4)
    outside[1, 3] = 1.0
    half = torch.zeros(4, 4)
    half[0, 0] = half[0, 3] = 0.8
    zero = torch.zeros(4, 4)
    maps = torch.stack([inside, outside, half, zero])
    masks = mask.expand(4, 4, 4)
    a = aks(maps, masks)
    assert a[0] == 1 and a[1] == 0 and math.isclose(float(a[2]), 0.5) and math.isnan(float(a[3]))
    e = energy_pct(maps, masks)
    assert torch.allclose(e[:3], a[:3])
    fp = focus_pct(maps, masks)
    assert fp[0] == 1 and fp[1] == 0 and math.isclose(float(fp[2]), 0.5) and math.isnan(float(fp[3]))
    d = dsc(maps, masks)
    assert math.isclose(float(d[0]), 2 * 1 / (1 + 8), rel_tol=1e-6) and float(d[1]) == 0 and float(d[3]) == 0
    # map == mask -> soft Dice 1, AKS 1
    assert math.isclose(float(dsc(mask.float(), mask)), 1.0) and math.isclose(float(aks(mask.float(), mask)), 1.0)
    # against the formula on random maps
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 8, 8, generator=g)
    y = torch.rand(5, 8, 8, generator=g) > 0.5
    assert torch.allclose(aks(x, y), (x * y).sum((1, 2)) / x.sum((1, 2)))
    assert torch.allclose(dsc(x, y), 2 * (x * y).sum((1, 2)) / (x.sum((1, 2)) + y.sum((1, 2))))
    hot = x > 0.5
    assert torch.allclose(focus_pct(x, y), (hot & y).sum((1, 2)).float() / hot.sum((1, 2)))
    om = overlap_metrics(x, y)
    assert set(om) == {"aks", "dsc", "pct_e", "pct_f"}
    for k, fn in (("aks", aks), ("dsc", dsc), ("pct_e", energy_pct), ("pct_f", focus_pct)):
        assert torch.equal(om[k], fn(x, y)), k


def test_overlap_bad_input():
    with pytest.raises(ShortcutlabError, match="one shape"):
        aks(torch.zeros(2, 4, 4), torch.zeros(2, 4, 5, dtype=torch.bool))
    with pytest.raises(ShortcutlabError, match="binary"):
        aks(torch.zeros(4, 4), torch.full((4, 4), 2))
    with pytest.raises(ShortcutlabError, match=r"\[0, 1\]"):
        aks(torch.full((4, 4), 3.0), torch.zeros(4, 4, dtype=torch.bool))


def test_summarize_counts_nan_and_groups():
    v = np.array([0.2, 0.4, np.nan, 0.6, np.nan, 0.8])
    s = summarize(v, n_boot=200, groups=np.array([0, 0, 0, 1, 1, 1]), group_names=["a", "b"])
    assert s["n"] == 4 and s["n_nan"] == 2 and math.isclose(s["mean"], 0.5)
    assert s["lo"] <= 0.5 <= s["hi"]
    assert s["by_group"]["a"]["n_nan"] == 1 and math.isclose(s["by_group"]["b"]["mean"], 0.7)


def test_mean_ci_and_correlation():
    m = mean_ci_across([0.8, 0.82, 0.84])
    assert math.isclose(m["mean"], 0.82) and m["lo"] < 0.82 < m["hi"] and m["n"] == 3
    c = correlation_ci([1, 2, 3, 4, 5, 6], [1.1, 2.0, 2.9, 4.2, 5.1, 5.8])
    assert c["r"] > 0.95 and c["lo"] < c["r"] < c["hi"] and c["method"] == "fisher-z"


def test_correlation_ci_edges_against_the_formula():
    """Fisher z: CI = tanh(atanh(r) +- z_{0.975} / sqrt(n - 3)); none for n <= 3, nothing for n < 3."""
    from scipy import stats
    a, b = [1.0, 2, 3, 4, 5], [2.0, 1, 4, 3, 5]
    c = correlation_ci(a, b)
    r = float(np.corrcoef(a, b)[0, 1])
    half = stats.norm.ppf(0.975) / math.sqrt(5 - 3)
    assert math.isclose(c["r"], r) and math.isclose(c["lo"], math.tanh(math.atanh(r) - half))
    assert math.isclose(c["hi"], math.tanh(math.atanh(r) + half))
    c3 = correlation_ci([1, 2, 3], [1, 3, 2])
    assert math.isclose(c3["r"], 0.5) and math.isnan(c3["lo"]) and math.isnan(c3["hi"]) and "n <= 3" in c3["reason"]
    c2 = correlation_ci([1, 2, np.nan], [1, 3, 2])
    assert c2["n"] == 2 and math.isnan(c2["r"]) and "at least 3" in c2["reason"]
    with pytest.raises(ShortcutlabError, match="'a' and 'b' parameters of correlation_ci.*same length.*"
                                                r"\(3,\) and \(4,\)"):
        correlation_ci([1, 2, 3], [1, 2, 3, 4])


def test_paired_bootstrap_shapes():
    y = np.array([0, 1, 0, 1])
    p = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    with pytest.raises(ShortcutlabError, match=r"'p_a' and 'p_b' parameters of paired_bootstrap.*\[N, K\].*\(4,\)"):
        paired_bootstrap(y, p[:, 1], p[:, 1])


def test_binary_macro_auc_is_the_mean_of_both_one_vs_rest():
    y = np.array([0, 1, 1, 0, 1, 0, 1])
    p1 = np.array([0.2, 0.8, 0.6, 0.7, 0.9, 0.1, 0.4])
    p = np.stack([1 - p1, p1], 1)
    ref = (roc_auc_score(y == 0, p[:, 0]) + roc_auc_score(y == 1, p[:, 1])) / 2
    assert math.isclose(auc(y, p, "macro"), ref) and math.isclose(auc(y, p, "macro"), roc_auc_score(y, p1))


def test_class_absent_from_the_test_set_is_counted_not_nan():
    """K = 3 with class 2 absent: micro AUC keeps a CI over the classes present (with a warning and a count);
    macro AUC is undefined and says why; paired_bootstrap is defined for the same cases (no IndexError)."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    p = rng.dirichlet(np.ones(3), size=40)
    p[np.arange(40), y] += 1.0
    p /= p.sum(1, keepdims=True)
    with pytest.warns(UserWarning, match="1 of 3 classes are absent"):
        r = bootstrap_ci(y, p, lambda a, b: auc(a, b, "micro"), n_boot=100, seed=0)
    assert r["classes_absent"] == 1 and r["n_boot_valid"] == 100 and r["lo"] <= r["estimate"] <= r["hi"]
    with pytest.warns(UserWarning):
        m = bootstrap_ci(y, p, lambda a, b: auc(a, b, "macro"), n_boot=100, seed=0)
    assert math.isnan(m["estimate"]) and math.isnan(m["lo"]) and "every class" in m["reason"]
    d = paired_bootstrap(y, p, p[:, [1, 0, 2]], n_boot=100, seed=0)
    assert d["classes_absent"] == 1 and d["n_boot_valid"] == 100 and d["difference"] > 0 and d["lo"] > 0
    dm = paired_bootstrap(y, p, p, lambda a, b: auc(a, b, "macro"), n_boot=10)
    assert math.isnan(dm["difference"]) and "every class" in dm["reason"]


def _replay_hierarchical(effect, units, n_boot, ci, seed):
    """The draws of hierarchical_bootstrap written out as plain loops (its docstring's order)."""
    rng = np.random.default_rng(seed)
    reps = []
    while len(reps) < n_boot:
        chosen = rng.integers(0, len(units), len(units))
        vals = []
        for s in chosen:
            res = {}
            for name in sorted(units[s]):
                n = len(units[s][name][0])
                idx = rng.integers(0, n, n)
                res[name] = tuple(np.asarray(a)[idx] for a in units[s][name])
            vals.append(effect(res))
        v = sum(vals) / len(vals)
        if v == v:
            reps.append(v)
    a = (1 - ci) / 2
    return np.quantile(reps, a), np.quantile(reps, 1 - a)


def test_hierarchical_bootstrap_replays_its_draws_and_its_estimate_is_the_seed_mean():
    from shortcutlab.metrics import hierarchical_bootstrap

    g = np.random.default_rng(1)
    units = []
    for _ in range(3):
        y = np.arange(30) % 2
        pa, pb = g.random(30), g.random(30)
        units.append({"test": (y, pa, pb), "dec": (y[:20], pa[:20] * 0.5, pb[:20])})

    def effect(u):
        y, pa, pb = u["test"]
        yd, qa, qb = u["dec"]
        return (roc_auc_score(y, pa) - roc_auc_score(y, pb)) + float(np.mean(qa - qb)) if len(set(y)) > 1 else float("nan")

    r = hierarchical_bootstrap(effect, units, n_boot=200, seed=7)
    lo, hi = _replay_hierarchical(effect, units, 200, 0.95, 7)
    assert r["lo"] == pytest.approx(lo, abs=1e-12) and r["hi"] == pytest.approx(hi, abs=1e-12)
    assert r["estimate"] == pytest.approx(np.mean([effect(u) for u in units]))
    assert r["n_seeds"] == 3 and len(r["per_seed"]) == 3 and r["lo"] <= r["estimate"] <= r["hi"]


def test_hierarchical_bootstrap_constant_effect_and_seed_spread():
    from shortcutlab.metrics import hierarchical_bootstrap

    # the same paired difference 0.1 on every image of every seed: the CI collapses onto it
    units = [{"t": (np.full(10, 0.6), np.full(10, 0.5))} for _ in range(3)]
    r = hierarchical_bootstrap(lambda u: float(np.mean(u["t"][0] - u["t"][1])), units, n_boot=50)
    assert r["lo"] == pytest.approx(0.1) and r["hi"] == pytest.approx(0.1)
    # seeds that disagree (+1, -1, +1) with no image noise: the CI spans the seeds' spread, across 0
    units = [{"t": (np.full(5, d),)} for d in (1.0, -1.0, 1.0)]
    r = hierarchical_bootstrap(lambda u: float(np.mean(u["t"][0])), units, n_boot=400)
    assert r["lo"] == pytest.approx(-1.0) and r["hi"] == pytest.approx(1.0) and r["estimate"] == pytest.approx(1 / 3)


def test_hierarchical_bootstrap_bad_input():
    from shortcutlab.metrics import hierarchical_bootstrap

    with pytest.raises(ShortcutlabError, match="'units' parameter of hierarchical_bootstrap.*Got dict"):
        hierarchical_bootstrap(lambda u: 0.0, {"t": (np.zeros(3),)})
    with pytest.raises(ShortcutlabError, match=r"set 't' of seed 0.*share.*\[2, 3\]"):
        hierarchical_bootstrap(lambda u: 0.0, [{"t": (np.zeros(3), np.zeros(2))}])


def _replay_seed_t(effect, units, n_boot, ci, seed):
    """seed_t_interval written out: per-seed effects, shared test draws (sorted set names), the t formula."""
    from scipy import stats

    e = np.array([effect(u) for u in units])
    rng = np.random.default_rng(seed)
    reps = []
    while len(reps) < n_boot:
        idx = {name: rng.integers(0, len(units[0][name][0]), len(units[0][name][0])) for name in sorted(units[0])}
        vals = [effect({k: tuple(np.asarray(a)[idx[k]] for a in v) for k, v in u.items()}) for u in units]
        v = sum(vals) / len(vals)
        if v == v:
            reps.append(v)
    se = math.sqrt(e.var(ddof=1) / len(e) + np.var(reps, ddof=1))
    h = stats.t.ppf(0.5 + ci / 2, len(e) - 1) * se
    return e.mean() - h, e.mean() + h


def test_seed_t_interval_replays_its_formula():
    from shortcutlab.metrics import seed_t_interval

    g = np.random.default_rng(3)
    y = np.arange(40) % 2
    units = [{"test": (y, g.random(40) + 0.3 * y, g.random(40)), "maps": (g.random(25), g.random(25))} for _ in range(3)]

    def effect(u):
        yy, pa, pb = u["test"]
        a, b = u["maps"]
        if len(set(yy)) < 2:
            return float("nan")
        return roc_auc_score(yy, pa) - roc_auc_score(yy, pb) + float(np.mean(a - b))

    r = seed_t_interval(effect, units, n_boot=150, seed=5)
    lo, hi = _replay_seed_t(effect, units, 150, 0.95, 5)
    assert r["lo"] == pytest.approx(lo, abs=1e-12) and r["hi"] == pytest.approx(hi, abs=1e-12)
    assert r["estimate"] == pytest.approx(np.mean([effect(u) for u in units])) and r["shared_test_draws"]
    assert r["method"] == "t over 3 seeds + test bootstrap" and r["n_seeds"] == 3


def test_seed_t_interval_is_wider_than_the_seed_bootstrap_at_three_seeds():
    """Three seeds +0.02, +0.03, +0.10 with no test noise: the percentile bootstrap over seeds gives about their
    range, which excludes 0; the t-interval (2 degrees of freedom) does not, as a direction from 3 noisy seeds
    should not be called."""
    from shortcutlab.metrics import hierarchical_bootstrap, seed_t_interval
    from scipy import stats

    units = [{"t": (np.full(8, d),)} for d in (0.02, 0.03, 0.10)]
    eff = lambda u: float(np.mean(u["t"][0]))  # noqa: E731
    hb = hierarchical_bootstrap(eff, units, n_boot=400)
    st = seed_t_interval(eff, units, n_boot=50)
    assert hb["lo"] > 0 and st["lo"] < 0 < st["hi"]
    v = np.array([0.02, 0.03, 0.10])
    assert st["hi"] - st["estimate"] == pytest.approx(stats.t.ppf(0.975, 2) * v.std(ddof=1) / math.sqrt(3))
    assert st["se_test"] == pytest.approx(0.0, abs=1e-15)
    # one seed: no seed variance to estimate, the test-sample bootstrap alone
    one = seed_t_interval(eff, units[:1], n_boot=20)
    assert one["method"] == "hierarchical bootstrap" and one["n_seeds"] == 1
    with pytest.raises(ShortcutlabError, match="'units' parameter of seed_t_interval"):
        seed_t_interval(eff, [], n_boot=20)


@pytest.mark.parametrize("lo, hi, direction, expected", [
    (0.01, 0.2, "greater", "holds"), (-0.2, -0.01, "greater", "contradicted"), (-0.1, 0.1, "greater", "inconclusive"),
    (0.0, 0.0, "greater", "inconclusive"),  # a tie is never a win
    (-0.2, -0.01, "less", "holds"), (0.01, 0.2, "less", "contradicted"), (float("nan"), float("nan"), "greater", "inconclusive"),
])
def test_verdict_of_a_direction_without_a_margin(lo, hi, direction, expected):
    from shortcutlab.metrics import verdict

    assert verdict(lo, hi, test=direction) == expected


def test_overlap_floor_and_ceiling():
    from shortcutlab.metrics import normalized_overlap, overlap_bounds

    m = torch.zeros(2, 16, 16, dtype=torch.bool)
    m[0, 4:12, 4:12] = True          # 64 of 256 pixels
    m[1, 0:2, 0:3] = True            # 6 of 256, smaller than one cell of a 4 x 4 CAM
    b = overlap_bounds(m, 4)
    share = m.flatten(1).float().mean(1)
    assert torch.allclose(b["floor"]["aks"], share) and torch.allclose(b["floor"]["pct_e"], share)
    assert torch.allclose(b["floor"]["dsc"], 2 * m.flatten(1).sum(1) / (256 + m.flatten(1).sum(1)))
    # at the image's own resolution the ceiling is the mask itself: AKS, %E, %F = 1, DSC = 1
    full = overlap_bounds(m, 16)["ceiling"]
    for k in ("aks", "dsc", "pct_e", "pct_f"):
        assert torch.allclose(full[k], torch.ones(2)), k
    # a coarse layer cannot draw the small mask: its ceiling is far below 1, the large mask's much higher
    assert b["ceiling"]["aks"][1] < 0.5 < b["ceiling"]["aks"][0] < 1
    assert torch.all(b["ceiling"]["aks"] > b["floor"]["aks"])
    n = normalized_overlap(torch.stack([b["floor"]["aks"][0], b["ceiling"]["aks"][1]]),
                           torch.stack([b["floor"]["aks"][0], b["floor"]["aks"][1]]),
                           torch.stack([b["ceiling"]["aks"][0], b["ceiling"]["aks"][1]]))
    assert n.tolist() == pytest.approx([0.0, 1.0])
    assert math.isnan(float(normalized_overlap(0.3, 0.5, 0.5)))
