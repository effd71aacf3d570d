"""The claims' interval and verdicts: Welch–Satterthwaite over seeds with the shared test sample's variance from
the cross-seed covariance of one bootstrap, its coverage by simulation, and the verdict vocabulary."""
import numpy as np
import pytest
from scipy import stats

from shortcutlab._validation import ShortcutlabError
from shortcutlab.metrics import (decide, holm, one_sided_p, seed_welch_interval, t_bounds, to_decide,
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
    for _ in range(n_studies):
        d = _study(rng, S, sa, su, sw, n)
        e = d.mean(1)
        reps = d[:, rng.integers(0, n, (B, n))].mean(2).T  # [B, S]: every seed on the same resample
        r = welch_interval(e, reps)
        new += r["lo"] < 0 < r["hi"]
        # the earlier interval: t(S - 1) times the whole se, the full bootstrap variance of the seed mean
        h = stats.t.ppf(0.975, S - 1) * np.sqrt(e.var(ddof=1) / S + reps.mean(1).var(ddof=1))
        old += abs(e.mean()) < h
    return new / n_studies, old / n_studies


@pytest.mark.parametrize("S", [3, 5])
def test_welch_interval_covers_at_its_level_and_the_old_one_over_covers(S):
    """Seed, shared-test and interaction parts of similar size (0.02 each at n = 100 images): 2,000 studies."""
    new, old = _coverage(S)
    assert 0.93 <= new <= 0.97, new
    assert old > 0.975, old


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


def test_verdicts_direction_noninferiority_equivalence():
    # direction
    assert decide(0.05, 0.01, 10, test="greater") == "holds"
    assert decide(-0.05, 0.01, 10, test="greater") == "contradicted"
    assert decide(-0.05, 0.01, 10, test="less") == "holds"
    assert decide(0.01, 0.02, 10, test="greater") == "inconclusive"
    # a direction that is not there, with the effect pinned inside +-margin: equivalent (TOST at the 90 % CI)
    lo90, hi90 = t_bounds(0.001, 0.004, 50, 0.90)
    assert -0.02 < lo90 and hi90 < 0.02
    assert decide(0.001, 0.004, 50, test="greater", margin=0.02) == "equivalent"
    assert decide(0.001, 0.004, 50, test="greater") == "inconclusive"  # no margin: no equivalence
    # non-inferiority: lower bound above -margin
    lo, hi = t_bounds(-0.005, 0.005, 20, 0.95)
    assert lo > -0.02 and decide(-0.005, 0.005, 20, test="noninferior", margin=0.02) == "non-inferior"
    assert decide(-0.06, 0.005, 20, test="noninferior", margin=0.02) == "inferior"
    assert decide(-0.02, 0.02, 20, test="noninferior", margin=0.02) == "inconclusive"
    assert decide(float("nan"), 0.1, 3) == "inconclusive"
    with pytest.raises(ShortcutlabError, match=r"'test' parameter of decide.*'sideways'"):
        decide(0.1, 0.1, 3, test="sideways")


def test_holm_against_its_definition():
    p = [0.01, 0.04, 0.03, float("nan"), 0.20]
    # by hand: sorted 0.01, 0.03, 0.04, 0.20 with m = 4: 0.04, 0.09, max(0.09, 0.08) = 0.09, max(0.09, 0.2) = 0.2
    assert np.allclose(holm(p), [0.04, 0.09, 0.09, np.nan, 0.20], equal_nan=True)
    assert one_sided_p(0.0, 1.0, 10) == pytest.approx(0.5)
    assert one_sided_p(0.0, 1.0, 10, margin=1.0) == pytest.approx(stats.t.sf(1.0, 10))
    assert one_sided_p(0.0, 0.0, float("inf")) == 1.0 and one_sided_p(0.5, 0.0, float("inf")) == 0.0


def test_to_decide_solves_its_formula():
    """The smallest S' (or n') at which t_ν · se falls below the effect, ν and se as the interval's own."""
    def half(a, c, s, B=500):
        df = (a + c) ** 2 / (a * a / (s - 1) + c * c / (B - 1))
        return stats.t.ppf(0.975, df) * np.sqrt(a + c)

    need = to_decide(0.1, 0.04, 0.01, 3, 1000, n_boot=500)
    S = need["seeds"]
    assert S > 3 and half(0.04 ** 2 * 3 / S, 0.01 ** 2, S) < 0.1 <= half(0.04 ** 2 * 3 / (S - 1), 0.01 ** 2, S - 1)
    assert to_decide(0.02, 0.03, 0.0001, 3, 100, n_boot=500)["images"] is None  # the seeds' part alone is too wide
    assert to_decide(0.0, 0.01, 0.01, 3, 100) == {"seeds": None, "images": None}
