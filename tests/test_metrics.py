import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from shortcutlab import ShortcutlabError
from shortcutlab.metrics import (aks, auc, bootstrap_ci, classification_metrics, correlation_ci, dsc, energy_pct,
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
