"""The claims as records: the registry, each claim's source and the paper's numbers, and how evaluate_claims turns
paired effects into rows (verdict, Holm-adjusted p, what would decide it)."""
import numpy as np
import pytest

from shortcutlab._validation import ShortcutlabError
from shortcutlab.metrics import holm, seed_welch_interval
from shortcutlab.study.claims import CLAIM_COLUMNS, CLAIMS, Claim, evaluate_claims, get_claim, register_claim


def test_every_claim_names_its_source_and_the_papers_numbers():
    assert {"1", "2", "3", "4", "5a", "5b", "6", "8", "9a", "9b", "9c", "9d", "9e", "10a", "10b"} <= set(CLAIMS)
    for c in CLAIMS.values():
        assert c.source and c.paper and c.text, c
    # read as the papers state them
    assert get_claim("2").test == get_claim("10a").test == "noninferior"
    assert get_claim("9d").test == "less" and "BackMix" in get_claim("9d").text  # below BackMix, not Baseline
    assert "falls most" in get_claim("8").text and "normalized" in get_claim("8").text
    # a compute budget is not a property of the phantom: no claim of the papers carries a not-expected note
    assert not any(c.not_expected for c in CLAIMS.values())
    assert "within its own SD" in get_claim("4").paper_note  # Rand 0.884 ± 0.108 vs Full 0.850 ± 0.133


def test_registry_rejects_bad_claims():
    with pytest.raises(ShortcutlabError, match=r"claim id '1' is already registered"):
        register_claim(Claim("1", "x", "y", "z"))
    with pytest.raises(ShortcutlabError, match=r"'test' parameter of Claim 'x'.*'greater'.*'bigger'"):
        Claim("x", "t", "s", "p", test="bigger")
    with pytest.raises(ShortcutlabError, match=r"'margin' parameter of Claim 'x'.*noninferior test"):
        Claim("x", "t", "s", "p", test="noninferior")
    with pytest.raises(ShortcutlabError, match=r"'claim_id' parameter of get_claim.*Got '99z'"):
        get_claim("99z")


def _units(shift, n_seeds=3, n=200, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    return [{"fingerprint": "same", "t": (base + rng.normal(0, 0.3, n), base + shift + rng.normal(0, 0.3, n))}
            for _ in range(n_seeds)]


def _diff(u):
    return float(np.mean(u["t"][1] - u["t"][0]))


def test_evaluate_claims_rows_verdicts_and_holm():
    units = _units(0.5)
    margins = {"auc": 0.02, "points": 2.0, "overlap": 0.02, "r": 0.1}
    df = evaluate_claims([("1", _diff), ("9d", _diff), ("2", lambda u: -_diff(u) * 0.0 + 0.001),
                          ("7-simclr-cm", lambda u: -_diff(u))], units, n_boot=50, seed=1, margins=margins)
    noted = register_claim(Claim("x-noted", "a claim the phantom cannot show", "s", "p", "greater",
                                 not_expected="the phantom has no such structure"))
    try:
        with_note = evaluate_claims([("x-noted", lambda u: -_diff(u))], units, n_boot=50, seed=1).iloc[0]
    finally:
        CLAIMS.pop(noted.id)
    assert list(df.columns) == CLAIM_COLUMNS
    r = df.set_index("id")
    assert r.loc["1", "verdict"] == "holds" and r.loc["9d", "verdict"] == "contradicted"
    assert r.loc["2", "verdict"] == "non-inferior" and r.loc["2", "margin"] == 0.02
    # an effect of -0.5 against a non-inferiority margin of 0.02 reads inferior
    assert r.loc["7-simclr-cm", "verdict"] == "inferior" and not r.loc["7-simclr-cm", "note"]
    # a note says why the phantom cannot show a claim; it never replaces the verdict the interval gives
    assert with_note["verdict"] == "contradicted" and with_note["note"] == "the phantom has no such structure"
    # the same numbers as the interval itself
    ref = seed_welch_interval(_diff, units, n_boot=50, seed=1)
    assert (r.loc["1", "lo"], r.loc["1", "hi"], r.loc["1", "df"]) == pytest.approx((ref["lo"], ref["hi"], ref["df"]))
    assert r.loc["1", "paper"].startswith("BG 0.784")
    # Holm over the table's one-sided p-values, each from the row's estimate, se (from its CI) and df
    from scipy import stats

    from shortcutlab.metrics import one_sided_p
    raw = []
    for cid, row in r.iterrows():
        se = (row["hi"] - row["effect"]) / stats.t.ppf(0.975, row["df"])
        side = "less" if row["test"] == "less" else "greater"
        raw.append(one_sided_p(row["effect"], se, row["df"], side, row["margin"] if row["test"] == "noninferior" else 0))
    assert np.allclose(df["p_holm"], holm(raw))
    # a claim read on runs of its own: its row is over those seeds alone, and Holm adjusts over every row
    few = _units(0.5, n_seeds=2, seed=3)
    both = evaluate_claims([("1", _diff), ("9d", _diff, few)], units, n_boot=50, seed=1)
    own = seed_welch_interval(_diff, few, n_boot=50, seed=1)
    assert both["n_seeds"].tolist() == [3, 2]
    assert (both["lo"].iloc[1], both["hi"].iloc[1]) == pytest.approx((own["lo"], own["hi"]))
    assert (both["lo"].iloc[0], both["hi"].iloc[0]) == pytest.approx((ref["lo"], ref["hi"]))
    alone = [evaluate_claims([c], units, n_boot=50, seed=1)["p_holm"].iloc[0] for c in (("1", _diff), ("9d", _diff, few))]
    assert np.allclose(both["p_holm"], holm(alone)) and not np.allclose(both["p_holm"], alone)
    # an undecided direction says how much more would decide it: seeds that disagree
    mixed = [{"fingerprint": "same", "t": (u["t"][0], u["t"][0] + d)} for u, d in zip(units, (0.05, -0.03, 0.04))]
    small = evaluate_claims([("1", _diff)], mixed, n_boot=50, margins=margins)
    assert small["verdict"].iloc[0] == "inconclusive" and "seeds" in small["to_decide"].iloc[0]
    # a claim whose data needs a phantom
    na = evaluate_claims([("3", None)], units, n_boot=10)
    assert na["verdict"].iloc[0] == "n/a (needs a phantom)"
