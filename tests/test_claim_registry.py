"""The claims registry (forms, Δ, roles, the findings map, the changelog, its hash) and how evaluate_claims,
families and headline turn paired effects into rows, Holm-adjusted p's and counts."""
import json

import numpy as np
import pandas as pd
import pytest

from shortcutlab._validation import ShortcutlabError
from shortcutlab.metrics import claim_p, holm, seed_welch_interval
from shortcutlab.study.claims import (CLAIM_COLUMNS, CLAIMS, Claim, Reading, evaluate_claims, families, get_claim,
                                      headline, holding, register_claim)
from shortcutlab.study.registry import (CHANGES, DELTAS, FINDINGS, VERSION, claim_hash, findings_table,
                                        registry_hash)


def _claim(cid="x", **kw):
    base = dict(family="mri", role="secondary", reading="a reading", finding="a sentence", source="s", paper="p",
                paper_effect=None)
    return Claim(cid, **{**base, **kw})


def test_every_claim_quotes_its_sentence_and_reads_it_in_the_papers_form():
    assert {"1", "2", "2i", "3", "4", "4n", "5a", "5b", "6", "7", "7t", "7s", "8", "8n", "8cm", "9a", "9b", "9c",
            "9i", "9d", "9d-black", "9d-noise", "10a", "10a-ni", "10d", "10b", "L1", "L2", "L3", "L4"} <= set(CLAIMS)
    for c in CLAIMS.values():
        assert c.finding and c.source and c.paper and c.reading and c.delta > 0 and c.delta_why, c.id
    g = get_claim
    # a stated direction is a direction; "similar" is equivalence; "not able to outperform" is non-superiority;
    # non-inferiority only where the paper says "maintained"
    assert g("2").test == "greater" and all(g(f"7-{m}-{s}").test == "greater" for m in ("simclr", "moco", "byol")
                                            for s in ("cm", "acdc"))
    assert g("10a").test == "greater" and "Baseline" in g("10a").reading and g("10a").role == "primary"
    assert g("10a-ni").test == "noninferior" and g("10a-ni").role == "secondary" and "maintained" in g("10a-ni").finding
    assert g("4n").test == "nonsuperior" and "outperform" in g("4n").finding
    assert g("7s").test == "equivalent" and "similar" in g("7s").finding
    # claim 8 on raw AKS as the paper's Table 3; the normalized reading beside it as a named departure
    assert "raw AKS" in g("8").reading and not g("8").departure and g("8").paper_effect == pytest.approx(0.018)
    assert "normalized" in g("8n").reading and g("8n").role == "secondary" and "paper reads raw AKS" in g("8n").departure
    # departures are named: the decorrelated test set stands in for CM→ACDC
    assert all("CM→ACDC" in g(i).departure for i in ("2", "4")) and "ACDC" in g("6").departure
    # per-method rows are secondary, one primary row per finding sentence
    assert all(g(f"7-{m}-cm").role == "secondary" for m in ("simclr", "moco", "byol"))
    assert g("9d-black").role == g("9d-noise").role == "secondary" and g("9d").role == "primary"
    # a note is a property of the phantom's construction, never a compute budget
    for c in CLAIMS.values():
        assert not any(w in c.not_expected for w in ("budget", "epochs", "seeds", "compute")), c.id
    # Δ is argued, never a metric's SD
    for unit, (delta, why) in DELTAS.items():
        assert delta > 0 and why and " SD" not in why


def test_findings_map_covers_both_papers():
    fm = findings_table()
    assert set(fm["paper"]) == {"mri", "backmix"}
    mapped = {c for f in FINDINGS for c in f.claims}
    assert {cid for cid, c in CLAIMS.items() if c.family != "lesson"} <= mapped
    # a sentence no claim tests says why
    assert all(f.claims or f.why for f in FINDINGS)
    for sentence in ("Neither the models for the CM or ACDC were able to outperform training using the full image.",
                     "Pretrained models with full images can achieve similar results to non-pretrained models using "
                     "segmented images."):
        assert sentence in set(fm["finding"])
    # the quoted sentences are the papers' own (whitespace aside; a table may split one, so its start and end)
    import pathlib
    import re
    papers = pathlib.Path(__file__).resolve().parents[2] / "shared" / "papers"
    if papers.is_dir():
        text = re.sub(r"\s+", " ", " ".join(p.read_text() for p in papers.glob("*.txt")))
        quoted = [c.finding for c in CLAIMS.values() if c.family != "lesson"]
        missing = [q for q in quoted if not (q[:50] in text and q[-40:] in text)]
        assert not missing, missing


def test_registry_rejects_bad_claims():
    with pytest.raises(ShortcutlabError, match=r"claim id '1' is already registered"):
        register_claim(_claim("1"))
    with pytest.raises(ShortcutlabError, match=r"'test' parameter of Claim 'x'.*'greater'.*'bigger'"):
        _claim(test="bigger")
    with pytest.raises(ShortcutlabError, match=r"'role' parameter of Claim 'x'.*'primary'.*'main'"):
        _claim(role="main")
    with pytest.raises(ShortcutlabError, match=r"'unit' parameter of Claim 'x'.*'auc'.*'pixels'"):
        _claim(unit="pixels")
    with pytest.raises(ShortcutlabError, match=r"'delta' parameter of Claim 'x' must be a number > 0.*-1"):
        _claim(delta=-1)
    with pytest.raises(ShortcutlabError, match=r"'finding' and 'reading' parameters of Claim 'x'"):
        _claim(finding="")
    with pytest.raises(ShortcutlabError, match=r"'claim_id' parameter of get_claim.*Got '99z'"):
        get_claim("99z")


def test_registry_hash_follows_the_form_not_the_wording():
    c = get_claim("9c")
    assert claim_hash(c) == claim_hash(Claim(**{**c.__dict__, "finding": "other words", "paper": "other numbers"}))
    for change in ({"test": "less"}, {"delta": 3.0}, {"role": "secondary"}, {"reading": "another reading"}):
        assert claim_hash(Claim(**{**c.__dict__, **change})) != claim_hash(c), change
    before = registry_hash()
    register_claim(Claim(**{**c.__dict__, "delta": 5.0}), replace=True)
    try:
        assert registry_hash() != before
    finally:
        register_claim(c, replace=True)
    assert registry_hash() == before and VERSION >= 2
    # the changelog: every claim whose form changed after results were seen, with the verdict before
    logged = {x.claim for x in CHANGES}
    assert {"2", "7-simclr-cm", "8", "10a", "9d"} <= logged and all(x.was and x.why for x in CHANGES)


def _units(shift, n_seeds=3, n=200, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    return [{"fingerprint": "same", "t": (base + rng.normal(0, 0.3, n), base + shift + rng.normal(0, 0.3, n))}
            for _ in range(n_seeds)]


def _diff(u):
    return float(np.mean(u["t"][1] - u["t"][0]))


def test_evaluate_claims_rows_verdicts_p_and_planning():
    units = _units(0.5)
    df = evaluate_claims([Reading("1", _diff, ("t",)), Reading("9d-black", _diff, ("t",)),
                          Reading("10a-ni", lambda u: -_diff(u), ("t",)),
                          Reading("4n", lambda u: _diff(u) * 0.0 + 0.001, ("t",))], units, n_boot=50, seed=1)
    assert list(df.columns) == CLAIM_COLUMNS
    r = df.set_index("id")
    assert r.loc["1", "verdict"] == "holds" and r.loc["9d-black", "verdict"] == "contradicted"
    # an effect of -0.5 points against a non-inferiority margin of 2 points reads non-inferior; -0.5 AUC-like
    # on a non-superiority claim at +0.02: 0.001 exactly, a zero-width interval below +Δ
    assert r.loc["10a-ni", "verdict"] == "non-inferior" and r.loc["10a-ni", "delta"] == 2.0
    assert r.loc["4n", "verdict"] == "not superior"
    # a direction whose paper's own effect is no larger than Δ says so in its note (10b: +0.6 points, Δ = 2)
    assert "no larger than Δ = 2" in evaluate_claims([Reading("10b", _diff)], units, n_boot=20)["note"].iloc[0]
    assert r.loc["1", "note"] == ""
    assert r.loc["1", "family"] == "mri" and r.loc["1", "role"] == "primary" and r.loc["9d-black", "role"] == "secondary"
    assert r.loc["1", "registry"] == claim_hash(get_claim("1"))
    # the same numbers as the interval itself, and p the one-sided p of the registered test at its Δ
    ref = seed_welch_interval(_diff, units, n_boot=50, seed=1)
    assert (r.loc["1", "lo"], r.loc["1", "hi"], r.loc["1", "df"]) == pytest.approx((ref["lo"], ref["hi"], ref["df"]))
    assert r.loc["1", "p"] == pytest.approx(claim_p(ref["estimate"], ref["se"], ref["df"], test="greater"))
    assert r.loc["1", "paper"].startswith("BG 0.784") and np.isnan(r["p_holm"]).all()  # Holm is over a paper
    # a claim read on runs of its own: its row is over those seeds alone
    few = _units(0.5, n_seeds=2, seed=3)
    both = evaluate_claims([Reading("1", _diff), Reading("9d-black", _diff, units=few)], units, n_boot=50, seed=1)
    own = seed_welch_interval(_diff, few, n_boot=50, seed=1)
    assert both["n_seeds"].tolist() == [3, 2]
    assert (both["lo"].iloc[1], both["hi"].iloc[1]) == pytest.approx((own["lo"], own["hi"]))
    # an undecided row plans at Δ, with its own test-set size: seeds that disagree
    mixed = [{"fingerprint": "same", "t": (u["t"][0], u["t"][0] + d)} for u, d in zip(units, (0.05, -0.03, 0.04))]
    small = evaluate_claims([Reading("1", _diff, ("t",))], mixed, n_boot=50)
    assert small["verdict"].iloc[0] == "inconclusive" and "seeds" in small["planning"].iloc[0]
    # a claim whose data needs a phantom
    na = evaluate_claims([Reading("3", None)], units, n_boot=10)
    assert na["verdict"].iloc[0] == "n/a (needs a phantom)"
    with pytest.raises(ShortcutlabError, match=r"'readings' parameter of evaluate_claims.*Reading"):
        evaluate_claims([("1", _diff)], units, n_boot=10)


def test_a_note_never_replaces_a_verdict():
    """The opposite of the old overwrite: a claim with a not-expected note keeps the verdict its interval gives,
    favourable or not, and counts like any other row."""
    units = _units(0.5)
    noted = register_claim(_claim("x-noted", role="primary", not_expected="the phantom has no such structure"))
    try:
        down = evaluate_claims([Reading("x-noted", lambda u: -_diff(u))], units, n_boot=50, seed=1).iloc[0]
        up = evaluate_claims([Reading("x-noted", _diff)], units, n_boot=50, seed=1)
    finally:
        CLAIMS.pop(noted.id)
    assert down["verdict"] == "contradicted" and down["note"] == "the phantom has no such structure"
    assert up["verdict"].iloc[0] == "holds" and holding(up) == "1/1"


def test_families_holm_on_known_p_values():
    t = pd.DataFrame({"id": list("abcdef"), "family": ["mri"] * 4 + ["backmix"] * 2,
                      "role": ["primary", "primary", "secondary", "primary", "primary", "primary"],
                      "p": [0.01, 0.02, 0.001, 0.04, 0.03, 0.004],
                      "verdict": ["holds", "holds", "holds", "inconclusive", "holds, below Δ", "holds"]})
    f = families(t).set_index("id")
    # mri primary: 0.01, 0.02, 0.04 (m = 3): 0.03, 0.04, 0.04; backmix: 0.004, 0.03 (m = 2): 0.008, 0.03
    assert f.loc[["a", "b", "d"], "p_holm"].tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert f.loc[["f", "e"], "p_holm"].tolist() == pytest.approx([0.008, 0.03])
    assert np.isnan(f.loc["c", "p_holm"])  # secondary: not in the family
    assert f.loc[["a", "b", "d"], "p_holm"].tolist() == pytest.approx(holm([0.01, 0.02, 0.04]).tolist())
    assert headline(families(t)) == ["mri: 2 of 3 primary rows hold at 95 % each; 0 survive Holm within their paper",
                                     "backmix: 2 of 2 primary rows hold at 95 % each; 1 survive Holm within their "
                                     "paper"]


def test_results_mark_a_row_changed_after_a_stored_run(tmp_path):
    """A stored run's row whose claim's form changed since (here its hash differs) reads "changed after results
    (was V)"; a row read in the current form keeps its verdict; the block states the registry and the counts."""
    from shortcutlab.app.results import claims_frame, results_block

    units = _units(0.5)
    df = evaluate_claims([Reading("1", _diff), Reading("9c", _diff)], units, n_boot=50, seed=1)
    df.loc[df["id"] == "9c", "registry"] = "0123456789ab"  # as a run of an earlier registry recorded it
    (tmp_path / "t").mkdir()
    df.to_csv(tmp_path / "t" / "claims.csv")
    summary = {"preset": "default", "notebooks": [{"notebook": "01_x.ipynb", "status": "ok", "tables": ["t/claims.csv"]}],
               "registry": {"version": VERSION, "hash": registry_hash()}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    got = claims_frame(summary, tmp_path).set_index("id")
    assert df.set_index("id").loc["9c", "verdict"] == "holds, below Δ"  # 0.5 points against Δ = 2
    assert got.loc["9c", "changed"] == "changed after results (was holds, below Δ)" and got.loc["1", "changed"] == ""
    block = results_block(summary, report_dir=tmp_path)
    assert "changed after results (was holds, below Δ)" in block and f"registry version {VERSION}" in block
    assert "one-sided test at 0.025" in block and f"{len(CHANGES)} changes after results" in block
    assert "mri: 1 of 1 primary rows hold at 95 % each; 1 survive Holm" in block


def test_the_registry_document_is_current():
    """docs/claims.md is generated from the registry (python scripts/claims_doc.py): it cannot drift from it."""
    import pathlib

    from shortcutlab.study.registry import registry_markdown

    doc = pathlib.Path(__file__).resolve().parents[1] / "docs" / "claims.md"
    assert doc.read_text() == registry_markdown(), "run: python scripts/claims_doc.py"
    assert registry_hash() in doc.read_text() and "## Findings map" in doc.read_text()
