"""The claims' interval and verdicts: Welch–Satterthwaite over seeds with the shared test sample's variance from
the cross-seed covariance of one bootstrap, its coverage by simulation, and the verdict vocabulary."""
import numpy as np
import pytest
from scipy import stats

from shortcutlab._validation import ShortcutlabError
from shortcutlab.metrics import (claim_p, holm, one_sided_p, planning_seeds, seed_welch_interval, verdict,
                                 welch_interval)


def _study(rng, S, sa, su, sw, n):
    """One simulated study: per-image paired scores d[s, i] = a_s + u_i + w_si (true effect 0), the seeds
    sharing the images; per-seed effects and a shared bootstrap of the images."""
    a = rng.normal(0, sa, S)
    u = rng.normal(0, su, n)
    d = a[:, None] + u[None, :] + rng.normal(0, sw, (S, n))
    return d


def _coverage(S, n_studies=2000, n=100, B=100, sa=0.02, su=0.25, sw=0.25, seed=0):
    rng = np.random.default_rng(seed)
    new = old = 0
    dfs = []
    for _ in range(n_studies):
        d = _study(rng, S, sa, su, sw, n)
        e = d.mean(1)
        reps = d[:, rng.integers(0, n, (B, n))].mean(2).T  # [B, S]: every seed on the same resample
        r = welch_interval(e, reps)
        new += r["lo"] < 0 < r["hi"]
        dfs.append(r["df"])
        # the earlier interval: t(S - 1) times the whole se, the full bootstrap variance of the seed mean
        h = stats.t.ppf(0.975, S - 1) * np.sqrt(e.var(ddof=1) / S + reps.mean(1).var(ddof=1))
        old += abs(e.mean()) < h
    return new / n_studies, old / n_studies, float(np.median(dfs))


@pytest.mark.parametrize("S", [3, 5])
def test_welch_interval_covers_at_its_level_and_the_old_one_over_covers(S):
    """Seed, shared-test and interaction parts of similar size (0.02 each at n = 100 images): 2,000 studies."""
    new, old, _ = _coverage(S)
    assert 0.93 <= new <= 0.97, new
    assert old > 0.975, old


def test_welch_interval_covers_with_about_two_degrees_of_freedom():
    """Three seeds whose own spread dominates (the seed part 0.2, the test parts 0.01 at n = 100): the
    Welch–Satterthwaite degrees of freedom fall to about S - 1 = 2, where the t quantile is 4.3, and the interval
    still covers at its level."""
    new, _, df = _coverage(3, sa=0.2, su=0.1, sw=0.1)
    assert 2.0 <= df < 3.0, df
    assert 0.93 <= new <= 0.97, new


def test_welch_interval_formula_by_hand():
    e = np.array([0.10, 0.04, 0.07])
    reps = np.random.default_rng(1).normal(size=(50, 3)) * 0.01 + np.array([0.1, 0.04, 0.07])
    reps[:, 1] += reps[:, 0] * 0.5  # some covariance
    r = welch_interval(e, reps)
    a = e.var(ddof=1) / 3
    C = np.cov(reps.T)
    c = max(0.0, (C[0, 1] + C[0, 2] + C[1, 2]) / 3)
    df = (a + c) ** 2 / (a * a / 2 + c * c / 49)
    h = stats.t.ppf(0.975, df) * np.sqrt(a + c)
    assert r["df"] == pytest.approx(df) and r["se_test"] == pytest.approx(np.sqrt(c))
    assert (r["lo"], r["hi"]) == pytest.approx((e.mean() - h, e.mean() + h))
    # no shared images: the seeds' spread alone, S - 1 degrees of freedom
    r0 = welch_interval(e, None)
    assert r0["df"] == 2 and r0["hi"] - r0["estimate"] == pytest.approx(stats.t.ppf(0.975, 2) * np.sqrt(a))
    with pytest.raises(ShortcutlabError, match=r"'reps' parameter of welch_interval.*\[B >= 2, 3\].*\(50, 2\)"):
        welch_interval(e, reps[:, :2])


def test_seed_welch_interval_shares_draws_only_by_fingerprint():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    units = [{"fingerprint": "abc", "t": (y, rng.random(40), rng.random(40))} for _ in range(3)]

    def eff(u):
        return float(np.mean(u["t"][1] - u["t"][2]))

    r = seed_welch_interval(eff, units, n_boot=60, seed=4)
    # replay: one index per replicate for every seed, sets in sorted order
    g = np.random.default_rng(4)
    reps = []
    for _ in range(60):
        idx = g.integers(0, 40, 40)
        reps.append([eff({"t": tuple(a[idx] for a in u["t"])}) for u in units])
    ref = welch_interval([eff(u) for u in units], np.array(reps))
    assert r["shared_test_draws"] and (r["lo"], r["hi"]) == pytest.approx((ref["lo"], ref["hi"]))
    # other images (another fingerprint, or none): no bootstrap, the seeds' spread alone
    units[1]["fingerprint"] = "xyz"
    r2 = seed_welch_interval(eff, units, n_boot=60, seed=4)
    assert not r2["shared_test_draws"] and r2["n_boot"] == 0 and r2["df"] == 2


def test_verdict_four_outcomes_at_their_boundaries():
    d = 0.02
    v = lambda lo, hi, **k: verdict(lo, hi, test="greater", delta=d, **k)  # noqa: E731
    # holds: the interval above 0; below Δ when it also ends below Δ (a bound equal to Δ is not below it)
    assert v(0.001, 0.05) == "holds" and v(0.001, 0.019) == "holds, below Δ" and v(0.001, 0.02) == "holds"
    assert v(0.0, 0.05) != "holds"  # a bound at 0 does not exclude 0
    # contradicted: below 0 (whatever Δ)
    assert v(-0.05, -0.001) == "contradicted" and v(-0.01, -0.001) == "contradicted"
    # not replicated: inside (-Δ, Δ) and holding 0
    assert v(-0.019, 0.019) == "not replicated" and v(-0.02, 0.01) == "inconclusive" and v(-0.01, 0.02) == "inconclusive"
    # ... but never where the paper's own effect is no larger than Δ
    assert v(-0.019, 0.019, paper_effect=0.02) == "inconclusive" and v(-0.019, 0.019, paper_effect=0.03) == "not replicated"
    assert v(-0.019, 0.019, paper_effect=None) == "not replicated"
    # wide: inconclusive; NaN: inconclusive; no Δ: three outcomes
    assert v(-0.05, 0.05) == "inconclusive" and v(float("nan"), 0.1) == "inconclusive"
    assert verdict(-0.001, 0.001, test="greater") == "inconclusive" and verdict(0.001, 0.002) == "holds"
    # less: the same outcomes on the effect's negative (the paper's effect in its own sign)
    assert verdict(-0.05, -0.001, test="less", delta=d) == "holds"
    assert verdict(-0.019, -0.001, test="less", delta=d) == "holds, below Δ"
    assert verdict(0.001, 0.05, test="less", delta=d) == "contradicted"
    assert verdict(-0.01, 0.01, test="less", delta=d, paper_effect=-0.03) == "not replicated"
    assert verdict(-0.01, 0.01, test="less", delta=d, paper_effect=-0.01) == "inconclusive"
    # non-inferiority at -Δ, non-superiority at +Δ, equivalence inside ±Δ (its 95 % interval: TOST at 0.025 a side)
    assert verdict(-0.019, 0.1, test="noninferior", delta=d) == "non-inferior"
    assert verdict(-0.02, 0.1, test="noninferior", delta=d) == "inconclusive"
    assert verdict(-0.1, -0.021, test="noninferior", delta=d) == "inferior"
    assert verdict(-0.1, 0.019, test="nonsuperior", delta=d) == "not superior"
    assert verdict(-0.1, 0.02, test="nonsuperior", delta=d) == "inconclusive"
    assert verdict(0.021, 0.1, test="nonsuperior", delta=d) == "superior"
    assert verdict(-0.019, 0.019, test="equivalent", delta=d) == "equivalent"
    assert verdict(-0.019, 0.021, test="equivalent", delta=d) == "inconclusive"
    assert verdict(0.02, 0.1, test="equivalent", delta=d) == "not equivalent"
    assert verdict(-0.1, -0.03, test="equivalent", delta=d) == "not equivalent"
    with pytest.raises(ShortcutlabError, match=r"'test' parameter of verdict.*'sideways'"):
        verdict(0.1, 0.2, test="sideways")
    with pytest.raises(ShortcutlabError, match=r"'delta' parameter of verdict must be > 0 for a equivalent test"):
        verdict(0.1, 0.2, test="equivalent")


def test_one_bar_for_favourable_and_unfavourable():
    """An effect k standard errors from a bound reads the same level of evidence either way: the favourable
    verdict's p and the unfavourable one's mirror p are equal, and equivalence reads the same 95 % interval."""
    se, df = 0.01, 40
    h = stats.t.ppf(0.975, df) * se
    e = h * 1.001  # just past the one-sided 0.025 bound
    assert verdict(e - h, e + h, test="greater") == "holds" and verdict(-e - h, -e + h, test="greater") == "contradicted"
    p = claim_p(e, se, df, test="greater")
    assert p == pytest.approx(claim_p(-e, se, df, test="less")) and p < 0.025
    # TOST at 0.025 per side: equivalent exactly when the 95 % interval lies inside ±Δ
    d = 0.03
    for est in (0.0, 0.005, 0.01, 0.0105):
        inside = est + h < d
        assert (verdict(est - h, est + h, test="equivalent", delta=d) == "equivalent") == inside
        assert (claim_p(est, se, df, test="equivalent", delta=d) < 0.025) == inside
    assert claim_p(0.0, se, df, test="noninferior", delta=d) == pytest.approx(stats.t.sf(d / se, df))
    assert claim_p(0.0, se, df, test="nonsuperior", delta=d) == pytest.approx(stats.t.sf(d / se, df))


def test_holm_against_its_definition():
    p = [0.01, 0.04, 0.03, float("nan"), 0.20]
    # by hand: sorted 0.01, 0.03, 0.04, 0.20 with m = 4: 0.04, 0.09, max(0.09, 0.08) = 0.09, max(0.09, 0.2) = 0.2
    assert np.allclose(holm(p), [0.04, 0.09, 0.09, np.nan, 0.20], equal_nan=True)
    assert one_sided_p(0.0, 1.0, 10) == pytest.approx(0.5)
    assert one_sided_p(0.0, 1.0, 10, margin=1.0) == pytest.approx(stats.t.sf(1.0, 10))
    assert one_sided_p(0.0, 0.0, float("inf")) == 1.0 and one_sided_p(0.5, 0.0, float("inf")) == 0.0


def test_planning_seeds_solves_its_formula():
    """The smallest S' at which (t_{1-α, ν} + t_{0.8, ν}) · se ≤ Δ, ν and se as the interval's own (80 % power at Δ,
    level 0.025), never at the observed effect."""
    def need(a, c, s, B=500, q=0.8):
        df = (a + c) ** 2 / (a * a / (s - 1) + c * c / (B - 1))
        return (stats.t.ppf(0.975, df) + stats.t.ppf(q, df)) * np.sqrt(a + c)

    plan = planning_seeds(0.04, 0.01, 3, 1000, delta=0.1, n_boot=500)
    S = plan["seeds"]
    assert S > 3 and need(0.04 ** 2 * 3 / S, 0.01 ** 2, S) <= 0.1 < need(0.04 ** 2 * 3 / (S - 1), 0.01 ** 2, S - 1)
    # equivalence needs both one-sided tests: power (1 + 0.8) / 2 each, so more seeds
    eq = planning_seeds(0.04, 0.01, 3, 1000, test="equivalent", delta=0.1, n_boot=500)["seeds"]
    assert eq > S and need(0.04 ** 2 * 3 / eq, 0.01 ** 2, eq, q=0.9) <= 0.1
    # the seeds' part alone is too wide for more images to help; no Δ: no plan
    assert planning_seeds(0.03, 0.0001, 3, 100, delta=0.02, n_boot=500)["images"] is None
    assert planning_seeds(0.01, 0.01, 3, 100, delta=0.0) == {"seeds": None, "images": None}
