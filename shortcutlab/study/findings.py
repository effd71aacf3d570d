"""What each notebook records: its headline values and one finding sentence, from one call.

Each function takes the notebook's results, returns ``{name: value}`` and, given ``report=``, records it in the
notebook's ``results.json`` (the runner copies it into ``summary.json`` and the report index).
"""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from .reference import BACKMIX_ABLATION_SD
from .runs import RunSet

__all__ = ["phantoms", "contextual_bias", "saliency_generalization", "contrastive", "backmix", "semi_supervised",
           "browser", "dial"]


def _record(values: dict[str, Any], report) -> dict[str, Any]:
    """Record the values (when a report is given) and return them as plain numbers and strings, as recorded."""
    from .._io import to_jsonable

    if report is not None:
        return report.record_many(values)
    return {k: to_jsonable(v) for k, v in values.items()}


def _holding(claims: pd.DataFrame) -> str:
    """``k/n``: how many primary claims the data support of those this data can test
    (:func:`shortcutlab.study.claims.holding`)."""
    from .claims import holding

    return holding(claims)


def _change(before: tuple[float, float], after: tuple[float, float]) -> str:
    """What happened between two values, from their 95 % CIs: ``a clear drop`` / ``a clear rise`` when the intervals
    do not overlap, else ``no clear change: the intervals overlap`` (a tie or noise is never a direction)."""
    (blo, bhi), (alo, ahi) = before, after
    if ahi < blo:
        return "a clear drop"
    if alo > bhi:
        return "a clear rise"
    return "no clear change: the intervals overlap"


def _claim_sentence(claims: pd.DataFrame, claim_id: str, up: str, down: str, what: str, unit: str = "") -> str:
    """``raises o.o.d. accuracy over Baseline (+4.2 points [1.0, 7.1])`` from claim ``claim_id``'s row: the same
    effect and interval the claims table shows, worded by its verdict (*holds*: the claimed direction, *holds,
    below Δ* saying so; *contradicted*: the other; *not replicated* and *equivalent*: no change of Δ or more;
    else no clear change)."""
    rows = claims[claims["id"].astype(str) == claim_id]
    if rows.empty:
        return ""
    r = rows.iloc[0]
    ci = f"{r['effect']:+.1f}{unit} [{r['lo']:+.1f}, {r['hi']:+.1f}]"
    want_up = r["test"] != "less"
    v = str(r["verdict"])
    if v in ("holds", "holds, below Δ"):
        return f"{up if want_up else down} {what} ({ci}" + (f", below Δ = {r['delta']:g})" if v != "holds" else ")")
    if v == "contradicted":
        return f"{down if want_up else up} {what} ({ci})"
    if v in ("not replicated", "equivalent"):
        return f"no change in {what} of ±{r['delta']:g}{unit} or more ({ci})"
    return f"no clear change in {what} ({ci}, inconclusive)"


def _absent(df, report) -> dict[str, Any] | None:
    """The finding of a notebook whose table this data cannot give: the reason, recorded."""
    from .._absent import absent_reason

    reason = absent_reason(df)
    return None if reason is None else _record({"finding": f"not part of this run: {reason}"}, report)


def phantoms(calib: pd.DataFrame, *, report=None) -> dict[str, Any]:
    """Notebook 00: how much a linear probe on pixels reads from the heart and from the background."""
    if (out := _absent(calib, report)) is not None:
        return out
    seg0, bg0, bg9, full9 = calib.loc[0.0, "seg"], calib.loc[0.0, "bg"], calib.loc[0.9, "bg"], calib.loc[0.9, "full"]
    return _record({"calib_heart_auc": seg0, "calib_bg_auc_strength0": bg0, "calib_bg_auc_strength0.9": bg9,
                    "calib_full_auc_strength0.9": full9,
                    "finding": f"heart-only probe AUC {seg0:.2f}; background-only {bg0:.2f} at strength 0 vs "
                               f"{bg9:.2f} at 0.9"}, report)


def _auc(runs: RunSet, split: str = "test") -> tuple[float, float, float]:
    """Micro AUC of one condition's runs: the mean with its t-interval across seeds (with one seed: its bootstrap
    CI over the test images)."""
    row = runs.over_seeds(lambda r: r.metrics[split]["auc_micro"],
                          single=lambda r: (r.metrics[split]["auc_micro_lo"], r.metrics[split]["auc_micro_hi"])).iloc[0]
    return row["mean"], row["lo"], row["hi"]


def contextual_bias(runs: RunSet, claims: pd.DataFrame, *, report=None) -> dict[str, Any]:
    """Notebook 01: AUC of Full (as trained and cue-decorrelated), Seg and BG on cm (means over the seeds), and
    the claims that hold."""
    full = runs.where(cohort="cm", condition="full")
    first = full.records[0].run
    a, a_lo, a_hi = _auc(full)
    seg, bg = _auc(runs.where(cohort="cm", condition="seg"))[0], _auc(runs.where(cohort="cm", condition="bg"))[0]
    values = {"auc_cm_full": a, "auc_cm_seg": seg, "auc_cm_bg": bg, "claims_holding": _holding(claims)}
    if "test_decorrelated" in first.metrics:
        d, d_lo, d_hi = _auc(full, "test_decorrelated")
        values["auc_cm_full_decorrelated"] = d
        verb = _change((a_lo, a_hi), (d_lo, d_hi))
        values["finding"] = (f"Full's AUC is {a:.2f} with the cue as in training and {d:.2f} with it decorrelated "
                             f"({verb}); {_holding(claims)} primary claims hold")
    else:  # real data: no decorrelated test set
        values["finding"] = (f"cm AUC: Full {a:.2f}, Seg {seg:.2f}, BG {bg:.2f}; {_holding(claims)} testable primary "
                             f"claims hold (the cue-decorrelated ones need a phantom)")
    return _record(values, report)


def saliency_generalization(corr: pd.DataFrame, claims: pd.DataFrame | None = None, *, report=None) -> dict[str, Any]:
    """Notebook 02: the correlation of in-domain AKS with AUC, as trained and cue-decorrelated, over every model and
    seed pooled; and claim 6, the same correlation as the mean of each seed's r (the claims table's row)."""
    a = corr.loc[("aks", "auc")]
    if ("aks", "auc_decorrelated") not in corr.index:  # real data: no decorrelated test set
        return _record({"r_aks_vs_auc": a["r"],
                        "finding": f"AKS vs in-domain AUC, models and seeds pooled: r = {a['r']:.2f} [{a['lo']:.2f}, "
                                   f"{a['hi']:.2f}] (the decorrelated AUC needs a phantom)"}, report)
    d = corr.loc[("aks", "auc_decorrelated")]
    text = f"AKS vs decorrelated AUC, models and seeds pooled: r = {d['r']:.2f} [{d['lo']:.2f}, {d['hi']:.2f}]"
    values = {"r_aks_vs_auc": a["r"], "r_aks_vs_auc_decorrelated": d["r"]}
    row = None if claims is None else claims[claims["id"].astype(str) == "6"]
    if row is not None and not row.empty and row.iloc[0]["effect"] == row.iloc[0]["effect"]:
        r = row.iloc[0]
        values["claim6_r"] = float(r["effect"])
        text += (f"; claim 6, the mean of each seed's r: {r['effect']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}], "
                 f"{r['verdict']}")
    return _record(dict(values, finding=text), report)


def contrastive(runs: RunSet, methods: Sequence[str], *, report=None) -> dict[str, Any]:
    """Notebook 03: CM→ACDC AUC of every model (mean over the seeds), and the best contrastive method against
    Full."""
    transfer = {c: _auc(g)[0] for c, g in runs.where(cohort="cm→acdc").by("condition").items()}
    best = max(methods, key=lambda m: transfer[m])
    return _record({**{f"auc_transfer_{k}": v for k, v in transfer.items()},
                    "finding": f"CM→ACDC AUC: full {transfer['full']:.2f}, best CSS ({best}) {transfer[best]:.2f}"},
                   report)


def backmix(table: pd.DataFrame, claims: pd.DataFrame, *, report=None) -> dict[str, Any]:
    """Notebook 04: claim 9c's effect (o.o.d. accuracy, the mean over the o.o.d. sectors under four backgrounds),
    then the o.o.d. set as drawn and i.d. %E of Baseline and BackMix (Table 1's means over seeds), each named."""
    row = table.set_index(["condition", "split"])
    ob, om = row.loc[("baseline", "ood"), "accuracy"], row.loc[("backmix", "ood"), "accuracy"]
    eb, em = row.loc[("baseline", "id"), "pct_e"], row.loc[("backmix", "id"), "pct_e"]
    gain = _claim_sentence(claims, "9c", "raises", "lowers", "o.o.d. accuracy over Baseline", " points")
    head = (f"claim 9c, four backgrounds: BackMix {gain}" if gain.startswith(("raises", "lowers"))
            else f"claim 9c, four backgrounds: {gain}" if gain else "")
    return _record({"ood_acc_baseline": ob, "ood_acc_backmix": om, "id_pct_e_baseline": eb, "id_pct_e_backmix": em,
                    "claims_holding": _holding(claims),
                    "finding": (f"{head}; " if head else "")
                               + f"o.o.d. set as drawn: baseline {ob:.1f} %, BackMix {om:.1f} %; i.d. %E {eb:.1f} → "
                                 f"{em:.1f}"},
                   report)


def semi_supervised(table: pd.DataFrame, ablation: pd.DataFrame, *, f: float = 0.05,
                    claims: pd.DataFrame | None = None, report=None) -> dict[str, Any]:
    """Notebook 05: claim 10a's effect (BackMix with a fraction ``f`` of masks against Baseline, o.o.d. under four
    backgrounds), then Table 2's means on the o.o.d. set as drawn, and how much the choice of masked images moves
    accuracy (SD over the ablation's subsets)."""
    base = table[table["method"] == "baseline"].iloc[0]
    sub = table[(table["method"] == "backmix") & (table["f"] == f)].iloc[0]
    sd = float(ablation["accuracy"].std())
    paper_sd = BACKMIX_ABLATION_SD["accuracy"]
    gain = "" if claims is None else _claim_sentence(claims, "10a", "raises", "lowers",
                                                     "o.o.d. accuracy over Baseline", " points")
    head = f"claim 10a, four backgrounds: f = {f} {gain}; " if gain else ""
    return _record({"ood_acc_baseline": base["accuracy"], f"ood_acc_f{f}": sub["accuracy"],
                    "pct_e_baseline": base["pct_e"], f"pct_e_f{f}": sub["pct_e"], "ablation_sd_accuracy": sd,
                    "paper_ablation_sd_accuracy": paper_sd,
                    "finding": f"{head}o.o.d. set as drawn: f = {f} {sub['accuracy']:.1f} % vs baseline "
                               f"{base['accuracy']:.1f} %, %E {sub['pct_e']:.1f} vs {base['pct_e']:.1f}; SD over "
                               f"masked subsets {sd:.1f} (paper {paper_sd})"},
                   report)


def browser(study, mri_runs: RunSet, echo_runs: RunSet, *, report=None) -> dict[str, Any]:
    """Notebook 06: how many cases the browser offers, over how many models."""
    from ..saliency.cases import select_cases

    cases = select_cases(study, next(iter(mri_runs)))
    return _record({"cases_shown": len(cases),
                    "finding": f"browser over {len(mri_runs)} MRI and {len(echo_runs)} echo models; worst-case "
                               f"galleries saved"}, report)


def dial(df: pd.DataFrame, *, report=None) -> dict[str, Any]:
    """Notebook 07: at the strongest cue, Full's AUC drop when the cue is decorrelated and the BG-gap of Full
    and Seg."""
    if (out := _absent(df, report)) is not None:
        return out
    st = float(df["strength"].max())
    top = df[df["strength"] == st].set_index("condition")
    f, s = top.loc["full"], top.loc["seg"]
    verb = _change((f["auc_lo"], f["auc_hi"]), (f["auc_decorrelated_lo"], f["auc_decorrelated_hi"]))
    return _record({"gap_full_at_max": f["bg_gap"], "gap_seg_at_max": s["bg_gap"],
                    "decorrelated_drop_full": f["auc"] - f["auc_decorrelated"],
                    "finding": f"At strength {st}, Full's AUC is {f['auc']:.2f} as trained and "
                               f"{f['auc_decorrelated']:.2f} with the cue decorrelated ({verb}); its BG-gap is "
                               f"{f['bg_gap']:.2f} (Seg's {s['bg_gap']:.2f})"}, report)


def discovery(discoveries, *, report=None) -> dict[str, Any]:
    """Notebook 08's discovery: per model, how many clusters it formed, how many regions it tested and how many its
    model reads, and its summary."""
    out: dict[str, Any] = {}
    parts = []
    for i, (name, r) in enumerate(discoveries.items()):
        key = f"discovery_{i}"
        out[f"{key}_name"] = name
        out[f"{key}_clusters"] = int(len(r.clusters))
        out[f"{key}_tested"] = int(r.info["regions_tested"])
        out[f"{key}_reading"] = len(r.reading_regions)
        parts.append(f"{name}: {len(r.reading_regions)} of {r.info['regions_tested']} tested regions read")
    out["discovery_finding"] = "; ".join(parts)
    return _record(out, report)


def audit(audits, *, report=None) -> dict[str, Any]:
    """Notebook 08: each audited model's answer, and the follows-the-donor and BG-gap tests' effects and verdicts."""
    out: dict[str, Any] = {}
    parts = []
    for i, (name, r) in enumerate(audits.items()):
        key = f"model_{i}"
        out[f"{key}_name"], out[f"{key}_answer"] = name, r.overall
        for t in ("follows_donor", "bg_gap", "on_object", "sanity_weights"):
            out[f"{key}_{t}"] = float(r.tests.loc[t, "effect"])
            out[f"{key}_{t}_verdict"] = str(r.tests.loc[t, "verdict"])
        parts.append(f"{name}: {r.overall}")
    out["finding"] = "; ".join(parts)
    return _record(out, report)
