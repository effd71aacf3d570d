"""The claims: what each paper states, as paired effects over the preset's seeds, each with a CI and a verdict.

A claim is a record (:class:`Claim`): an id (``"9c"``), the sentence as its paper states it, its source (a table,
figure or section) with the paper's own numbers, the test it is read with and, for a non-inferiority or
equivalence reading, which of the preset's smallest effects of interest (``metrics.margin_*``) is its margin. The
registry :data:`CLAIMS` holds every claim; a notebook's function (``contextual_claims``, ...) computes the paired
effect of each of its claims on the runs it asks the study for, and :func:`evaluate_claims` gives one row each.

The CI (``metrics.claim_ci``) is by default :func:`~shortcutlab.metrics.seed_welch_interval`: the mean of the
per-seed effects, with se² = var(seeds)/S + the test sample's common variance (the cross-seed covariance of one
bootstrap of the shared test images, shared when the seeds' image fingerprints agree) and Welch–Satterthwaite's
degrees of freedom. The verdicts (:func:`~shortcutlab.metrics.decide`): *holds* / *contradicted* for a direction,
*non-inferior* / *inferior* for a margin, *equivalent* when the two one-sided tests put the effect inside
± the smallest effect of interest, *inconclusive* otherwise. A claim the phantom cannot show by construction
carries its reason in ``note``, beside its verdict: a note never replaces a verdict. ``p_holm``
is the one-sided p-value of each row's test, Holm-adjusted over the table (the family): the verdicts use the
unadjusted 95 % CI, the column shows which of them survive the family. An undecided row says in ``to_decide``
how many seeds or test images would decide it at the observed effect (:func:`~shortcutlab.metrics.to_decide`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .._absent import NA_PHANTOM
from .._validation import ShortcutlabError, check_choice, param_error
from ..metrics import (auc, claim_verdict, decide, hierarchical_bootstrap, holm, normalized_overlap, one_sided_p,
                       overlap_bounds, seed_t_interval, seed_welch_interval, to_decide)
from .backmix import CLAIM_CONDITIONS
from .runs import Run, RunSet
from .study import Study

__all__ = ["Claim", "CLAIMS", "register_claim", "get_claim", "CLAIM_COLUMNS", "evaluate_claims",
           "contextual_claims", "saliency_claims", "contrastive_claims", "backmix_claims", "semi_supervised_claims",
           "micro_auc", "accuracy", "holding"]

TESTS = ("greater", "less", "noninferior", "equivalent")
MARGINS = ("auc", "points", "overlap", "r")
CLAIM_COLUMNS = ["id", "claim", "source", "paper", "test", "margin", "effect", "lo", "hi", "verdict", "p_holm",
                 "n_seeds", "df", "per_seed", "to_decide", "note", "method"]
POSITIVE = ("holds", "non-inferior")  # verdicts that support the paper's statement


@dataclass(frozen=True)
class Claim:
    """One statement of a paper, as the study reads it.

    Parameters
    ----------
    id : str
        Short and stable (``"9c"``): tables, findings and tests refer to a claim by it.
    text : str
        The statement as its paper makes it, with what is measured (``BackMix raises o.o.d. accuracy over
        Baseline (points)``).
    source : str
        Where the paper says it: a table, figure or section.
    paper : str
        The paper's own numbers for it, as printed (mean ± its spread).
    test : {"greater", "less", "noninferior", "equivalent"}
        How the effect is read: a direction (the effect is > 0 or < 0), non-inferiority (> -margin) or
        equivalence (inside ± margin).
    margin : {"auc", "points", "overlap", "r", ""}
        Which smallest effect of interest of the preset (``metrics.margin_<name>``) is the margin (and the bound of
        the equivalence test a direction falls back on); empty: none.
    paper_note : str
        What the paper's own uncertainty says (e.g. "paper: within its own SD").
    not_expected : str
        Why the phantom cannot show it, a property of the phantom's construction (never a compute budget); shown
        in the row's ``note`` beside its verdict, which it never replaces. Empty when the phantom can show it.
    """

    id: str
    text: str
    source: str
    paper: str
    test: str = "greater"
    margin: str = ""
    paper_note: str = ""
    not_expected: str = ""

    def __post_init__(self):
        check_choice(self.test, TESTS, name="test", where=f"Claim {self.id!r}")
        if self.margin not in MARGINS + ("",):
            check_choice(self.margin, MARGINS, name="margin", where=f"Claim {self.id!r}")
        if self.test in ("noninferior", "equivalent") and not self.margin:
            raise ShortcutlabError(f"The 'margin' parameter of Claim {self.id!r} must name a smallest effect of "
                                   f"interest ({', '.join(MARGINS)}) for a {self.test} test. Got '' instead.")


CLAIMS: dict[str, Claim] = {}


def register_claim(claim: Claim, *, replace: bool = False) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` (``replace=True`` to redefine one); returns it."""
    if not isinstance(claim, Claim):
        raise ShortcutlabError(f"The 'claim' parameter of register_claim must be a Claim. Got {claim!r} instead.")
    if claim.id in CLAIMS and not replace:
        raise ShortcutlabError(f"The claim id {claim.id!r} is already registered; choose another or pass replace=True.")
    CLAIMS[claim.id] = claim
    return claim


def get_claim(claim_id: str) -> Claim:
    if claim_id not in CLAIMS:
        raise ShortcutlabError(f"The 'claim_id' parameter of get_claim must be one of {', '.join(CLAIMS)}. "
                               f"Got {claim_id!r} instead.")
    return CLAIMS[claim_id]


_SD = "paper: within its own SD"
for _c in (
    Claim("1", "BG-only models classify above chance (cm AUC - 0.5)", "MRI Table 1, AUC CM, BG",
          "BG 0.784 ± 0.053"),
    Claim("2", "Seg is not worse than Full with the cue decorrelated (AUC difference)",
          "MRI Table 1 and §5.1 (Full generalizes worse than Seg)",
          "CM→ACDC: Seg 0.884 ± 0.115, Full 0.850 ± 0.133", "noninferior", "auc", _SD),
    Claim("3", "Full loses more AUC than Seg when the cue turns against the label (same patients; difference of "
               "AUC drops, cue agreeing - cue conflicting)",
          "MRI Table 1 caption (contextual cues in the background)",
          "CM: Full 0.833 ± 0.047, Seg 0.806 ± 0.050, BG 0.784 ± 0.053"),
    Claim("4", "Rand beats Full with the cue decorrelated (AUC difference)",
          "MRI §5.1 (Rand gives better generalizability to ACDC) and Table 1",
          "CM→ACDC: Rand 0.884 ± 0.108, Full 0.850 ± 0.133", "greater", "auc", _SD),
    Claim("5a", "Seg has higher AKS than Full (paired per image)", "MRI Table 1, AKS CM",
          "Seg 0.162 ± 0.095, Full 0.115 ± 0.072", "greater", "overlap", _SD),
    Claim("5b", "Rand has higher AKS than Full (paired per image)", "MRI Table 1, AKS CM",
          "Rand 0.123 ± 0.077, Full 0.115 ± 0.072", "greater", "overlap", _SD),
    Claim("6", "In-domain AKS correlates with decorrelated AUC across models (Pearson r)",
          "MRI Figure 2, §4.3 and §5.2 (overlap follows generalizability)", "a positive trend (no r printed)",
          "greater", "r"),
    Claim("8", "AMYL's AKS falls most from Full to CSS (normalized AKS: AMYL's fall - the largest other class's "
               "fall, mean over the CSS methods)", "MRI Table 3 and §5.3",
          "AMYL 0.113 → 0.052 / 0.080 / 0.054; HCM 0.071 → 0.042 / 0.038 / 0.033; NICM, ICM about flat",
          "greater", "overlap"),
    Claim("9a", "BackMix raises %E over Baseline (i.d., paired per image, points)", "BackMix Table 1, TMED %E",
          "Baseline 77.9, BackMix 86.2", "greater", "points"),
    Claim("9b", "BackMix raises %F over Baseline (i.d., paired per image, points)", "BackMix Table 1, TMED %F",
          "Baseline 92.3, BackMix 97.8", "greater", "points"),
    Claim("9c", "BackMix raises o.o.d. accuracy over Baseline (same o.o.d. sectors under four backgrounds, points)",
          "BackMix Table 1, WASE accuracy", "Baseline 88.7, BackMix 92.4", "greater", "points"),
    Claim("9d", "Black is below BackMix o.o.d. (Black - BackMix, points)", "BackMix §3.3 (Black and Noise fare "
          "worst) and Table 1", "Black 89.8, BackMix 92.4", "less", "points"),
    Claim("9e", "Noise is below BackMix o.o.d. (Noise - BackMix, points)", "BackMix §3.3 (Black and Noise fare "
          "worst) and Table 1", "Noise 89.3, BackMix 92.4", "less", "points"),
    Claim("10a", "BackMix with 5 % of masks is not worse o.o.d. than with every mask (f = 0.05 - f = 1, points)",
          "BackMix Table 2 and abstract (maintained with as few as 5 % of masks)", "f = 1: 92.4, f = 0.05: 90.8",
          "noninferior", "points"),
    Claim("10b", "wBackMix at f = 0.05 beats BackMix at f = 0.05 o.o.d. (points)", "BackMix Table 2 and §3.3",
          "BackMix 90.8, wBackMix (λ = 1) 91.4; subset SD 0.55", "greater", "points",
          "paper: about one SD of its mask-subset ablation"),
):
    register_claim(_c)
for _m, _num in (("simclr", ("0.875 ± 0.042", "0.978 ± 0.022")), ("moco", ("0.835 ± 0.047", "0.919 ± 0.078")),
                 ("byol", ("0.863 ± 0.043", "0.925 ± 0.075"))):
    register_claim(Claim(f"7-{_m}-cm", f"{_m} is not worse than Full on cm (AUC difference)", "MRI Table 2, AUC CM",
                         f"{_m} {_num[0]}, Full 0.833 ± 0.047", "noninferior", "auc"))
    register_claim(Claim(f"7-{_m}-acdc", f"{_m} is not worse than Full after transfer to acdc (AUC difference)",
                         "MRI Table 2, AUC CM→ACDC", f"{_m} {_num[1]}, Full 0.850 ± 0.133", "noninferior", "auc"))


def micro_auc(y: np.ndarray, p: np.ndarray) -> float:
    """:func:`shortcutlab.metrics.auc` (micro), NaN where it is undefined (a resample with one class), so the
    bootstrap redraws that replicate instead of stopping."""
    try:
        return auc(y, p, "micro")
    except ShortcutlabError:
        return float("nan")


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float((p.argmax(1) == y).mean())


def _margin(cfg_metrics, claim: Claim) -> float:
    return float(getattr(cfg_metrics, f"margin_{claim.margin}")) if claim.margin else 0.0


def evaluate_claims(claims: Sequence[tuple], units: Sequence[dict], *,
                    n_boot: int, seed: int = 0, ci: float = 0.95, method: str = "welch",
                    margins: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per ``(claim id, effect)`` (columns :data:`CLAIM_COLUMNS`): the effect over the seeds' ``units``
    with its CI, verdict, Holm-adjusted p over the rows, and what would decide it. A claim read on runs of its
    own is ``(claim id, effect, its units)``: its row is over those seeds, and Holm still adjusts over every row.
    ``effect`` None: the claim's data exists only for a phantom (verdict ``n/a (needs a phantom)``). ``method``:
    ``welch`` (the default), ``seed_t`` (the earlier t over S - 1 degrees of freedom, which over-covers) or
    ``hierarchical_bootstrap``; only ``welch`` gives degrees of freedom, so the other two read a direction from the
    CI alone. ``margins``: ``{"auc": .., "points": .., "overlap": .., "r": ..}``."""
    check_choice(method, ("welch", "seed_t", "hierarchical_bootstrap"), name="method", where="evaluate_claims")
    margins = dict(margins or {})
    rows, ps = [], []
    for cid, effect, *own in claims:
        its = own[0] if own else units  # a claim read on runs of its own
        c = get_claim(cid)
        margin = float(margins.get(c.margin, 0.0)) if c.margin else 0.0
        base = dict(id=c.id, claim=c.text, source=c.source, paper=c.paper + (f" ({c.paper_note})" if c.paper_note else ""),
                    test=c.test, margin=margin if c.margin else float("nan"), note=c.not_expected)
        nan = float("nan")
        if effect is None:
            rows.append(dict(base, effect=nan, lo=nan, hi=nan, verdict=NA_PHANTOM, p_holm=nan, n_seeds=0, df=nan,
                             per_seed="", to_decide="", method=""))
            ps.append(nan)
            continue
        if method == "welch":
            r = seed_welch_interval(effect, its, n_boot=n_boot, ci=ci, seed=seed)
            verdict = decide(r["estimate"], r["se"], r["df"], test=c.test, margin=margin, ci=ci)
            side = "less" if c.test == "less" else "greater"
            p = one_sided_p(r["estimate"], r["se"], r["df"], side, margin if c.test == "noninferior" else 0.0)
        else:
            sets = [{k: v for k, v in u.items() if k != "fingerprint"} for u in its]
            r = (seed_t_interval if method == "seed_t" else hierarchical_bootstrap)(effect, sets, n_boot=n_boot, ci=ci,
                                                                                      seed=seed)
            shift = margin if c.test == "noninferior" else 0.0
            v = claim_verdict(r["lo"] + shift, r["hi"] + shift, "less" if c.test == "less" else "greater")
            verdict = {"holds": "non-inferior", "contradicted": "inferior"}.get(v, v) if c.test == "noninferior" else v
            p = nan
        todo = ""
        if verdict == "inconclusive" and method == "welch":
            n_test = max((len(a[0]) for a in (its[0][k] for k in its[0] if k != "fingerprint")), default=0)
            need = to_decide(r["estimate"], r["se_seeds"], r["se_test"], r["n_seeds"], n_test, test=c.test,
                             margin=margin, ci=ci, n_boot=max(r["n_boot"], 2))
            todo = "; ".join(f"≈{v} {k}" for k, v in need.items() if v is not None) or "not at this effect"
        rows.append(dict(base, effect=r["estimate"], lo=r["lo"], hi=r["hi"], verdict=verdict, p_holm=nan,
                         n_seeds=r["n_seeds"], df=r.get("df", nan),
                         per_seed=" ".join(f"{v:+.3f}" for v in r["per_seed"]), to_decide=todo, method=r["method"]))
        ps.append(p)
    adj = holm(ps)
    for row, p in zip(rows, adj):
        row["p_holm"] = float(p)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def holding(claims: pd.DataFrame) -> str:
    """``k/n``: how many claims the data support (*holds* or *non-inferior*) of those this data can test (a claim
    whose data needs a phantom is not counted; a row with a note is counted like any other: a note never replaces
    its verdict)."""
    v = claims["verdict"].astype(str)
    testable = ~v.str.startswith("n/a")
    return f"{int(v[testable].isin(POSITIVE).sum())}/{int(testable.sum())}"


def _per_seed(runs: RunSet, where: str, **fields) -> list[RunSet]:
    """The records of ``runs`` matching ``fields``, one RunSet per seed (in the order the seeds were asked for)."""
    if not isinstance(runs, RunSet):
        raise param_error("runs", where, "the RunSet of the notebook's experiment", runs)
    out = list(runs.where(**fields).by("seed").values())
    if not out:
        raise param_error("runs", where, f"a RunSet holding runs with {fields}", runs)
    return out


def _maps(run: Run, key: str, eval_set: str = "test") -> np.ndarray:
    """Per image (mean over its frames) overlap metric of the run's mapped images."""
    return np.nanmean(run.cams(eval_set)["metrics"][key], axis=1)


def _normalized_aks(run: Run, eval_set: str = "test") -> np.ndarray:
    """Per image normalized AKS, ``(AKS - floor) / (ceiling - floor)`` with the image's own floor (its mask's area
    share) and ceiling (its mask at the CAM layer's resolution), mean over its frames: classes whose hearts differ
    in size compare fairly."""
    from ..saliency.cams import cam_resolution

    res = run.cams(eval_set)
    ds = run.study.data(run.cohort, strength=run.spec["data"].get("strength"))[eval_set]
    cam_hw = cam_resolution(run.model(), tuple(ds.images.shape[-2:]), run.study.cfg.saliency.layer or None)
    import torch
    b = overlap_bounds(ds.masks[torch.as_tensor(res["index"])], cam_hw)
    norm = normalized_overlap(res["metrics"]["aks"], b["floor"]["aks"].numpy(), b["ceiling"]["aks"].numpy()).numpy()
    return np.nanmean(norm, axis=1)


def _run(study: Study, n_boot: int | None, claims, units) -> pd.DataFrame:
    m = study.cfg.metrics
    return evaluate_claims(claims, units, n_boot=n_boot or m.n_bootstrap, seed=m.seed, ci=m.ci, method=m.claim_ci,
                           margins={k: float(getattr(m, f"margin_{k}")) for k in MARGINS})


def _fingerprint(runs: Sequence[Run], where: str) -> str:
    """What the runs of one seed were evaluated on, from the runs themselves: each cohort's data spec (source,
    size, data seed, cue strength, its fingerprint for real data) and the labels of every evaluation set. Runs of
    one cohort that disagree on it are refused (they were not evaluated on the same images)."""
    import hashlib
    import json

    by_cohort: dict[str, tuple[str, str]] = {}
    for r in runs:
        spec = json.dumps(r.spec.get("data"), sort_keys=True, default=str)
        h = hashlib.sha256(spec.encode())
        for k in sorted(r.labels):
            h.update(k.encode())
            h.update(np.ascontiguousarray(r.labels[k]).tobytes())
        got = (h.hexdigest()[:16], r.name)
        seen = by_cohort.setdefault(r.cohort, got)
        if seen[0] != got[0]:
            raise param_error("runs", where, "runs of one seed evaluated on the same data (one preset and data seed)",
                              f"{seen[1]} and {r.name} on different {r.cohort!r} data")
    return "+".join(f"{c}:{v[0]}" for c, v in sorted(by_cohort.items()))


def _same_data(units: Sequence[dict], seeds: Sequence, where: str) -> None:
    """Every seed's unit was evaluated on the same data, or a clear error: a claim pairs the seeds on the same test
    images (two data seeds, or two presets, pooled in one RunSet would read as one)."""
    fps = [u["fingerprint"] for u in units]
    if len(set(fps)) > 1:
        raise param_error("runs", where, "runs whose seeds were evaluated on the same data (one preset and data seed)",
                          {f"seed {s}": f for s, f in zip(seeds, fps)})


# ------------------------------------------------------------------------------------------ MRI
_CONTEXT = ("full", "seg", "bg", "rand")
_PAIRS = ("test_decorrelated", "test_aligned", "test_conflict")  # the same patients, three cues


def contextual_claims(study: Study, runs: RunSet, *, n_boot: int | None = None,
                      conditions: Sequence[str] = _CONTEXT) -> pd.DataFrame:
    """Claims 1-5 on the cm cohort of ``runs`` (:func:`~shortcutlab.study.mri.contextual_bias`): each seed's Full,
    Seg, BG and Rand on the same test images; claims 2-4 on the same new patients rendered with the cue random
    (decorrelated), agreeing with and conflicting with the label. Without ``"rand"`` in ``conditions``, the
    claims about Rand (4, 5b) are left out."""
    conds = [c for c in _CONTEXT if c in conditions]
    if {"full", "seg", "bg"} - set(conds):
        from .._validation import param_error
        raise param_error("conditions", "contextual_claims", "a list holding full, seg and bg (and rand)", conditions)
    units = []
    pairs = study.is_phantom("cm")  # the counterfactual test sets exist only for a phantom
    groups = _per_seed(runs, "contextual_claims", cohort="cm", condition=conds)
    for g in groups:
        r = {c: g.one(condition=c) for c in conds}
        unit = {"fingerprint": _fingerprint(list(r.values()), "contextual_claims"), "test": (r["full"].labels["test"], *(r[c].probs["test"] for c in conds)),
                "maps": tuple(_maps(r[c], "aks") for c in ("full", "seg", "rand") if c in conds)}
        if pairs:
            # one tuple: the three renders of the same patients resample together
            unit["pairs"] = (r["full"].labels["test_decorrelated"],
                             *(r[c].probs[s] for s in _PAIRS for c in conds))
        units.append(unit)
    _same_data(units, [g.seeds[0] for g in groups], "contextual_claims")
    i = {c: k + 1 for k, c in enumerate(conds)}

    def auc_test(u, c):
        return micro_auc(u["test"][0], u["test"][i[c]])

    def auc_pair(u, s, c):
        return micro_auc(u["pairs"][0], u["pairs"][1 + _PAIRS.index(s) * len(conds) + conds.index(c)])

    def drop(u, c):
        return auc_pair(u, "test_aligned", c) - auc_pair(u, "test_conflict", c)

    claims = [
        ("1", lambda u: auc_test(u, "bg") - 0.5),
        ("2", lambda u: auc_pair(u, "test_decorrelated", "seg") - auc_pair(u, "test_decorrelated", "full")),
        ("3", lambda u: drop(u, "full") - drop(u, "seg")),
        ("4", lambda u: auc_pair(u, "test_decorrelated", "rand") - auc_pair(u, "test_decorrelated", "full")),
        ("5a", lambda u: float(np.nanmean(u["maps"][1] - u["maps"][0]))),
        ("5b", lambda u: float(np.nanmean(u["maps"][2] - u["maps"][0]))),
    ]
    if "rand" not in conds:
        claims = [c for c in claims if c[0] not in ("4", "5b")]
    if not pairs:
        claims = [(cid, None if cid in ("2", "3", "4") else e) for cid, e in claims]
    return _run(study, n_boot, claims, units)


def saliency_claims(study: Study, runs: RunSet, *, n_boot: int | None = None) -> pd.DataFrame:
    """Claim 6: across the cm models of each seed of ``runs`` (:func:`~shortcutlab.study.mri.saliency_models`:
    Table 1's conditions and the contrastive ones), Pearson r of mean AKS on the test images with AUC on the
    decorrelated test set; both recomputed on every resample."""
    if not study.is_phantom("cm"):
        return evaluate_claims([("6", None)], [{"x": (np.zeros(1),)}], n_boot=10)
    units = []
    groups = _per_seed(runs, "saliency_claims", cohort="cm")
    for g in groups:
        models = list(g)
        units.append({"fingerprint": _fingerprint(models, "saliency_claims"),
                      "dec": (models[0].labels["test_decorrelated"], *(r.probs["test_decorrelated"] for r in models)),
                      "maps": tuple(_maps(r, "aks") for r in models)})
    _same_data(units, [g.seeds[0] for g in groups], "saliency_claims")

    def r_aks_auc(u):
        aks = np.array([np.nanmean(a) for a in u["maps"]])
        aucs = np.array([micro_auc(u["dec"][0], p) for p in u["dec"][1:]])
        return float(np.corrcoef(aks, aucs)[0, 1]) if aks.std() > 0 and aucs.std() > 0 else float("nan")

    return _run(study, n_boot, [("6", r_aks_auc)], units)


def contrastive_claims(study: Study, runs: RunSet, *, methods: Sequence[str] | None = None,
                       n_boot: int | None = None) -> pd.DataFrame:
    """Claims 7-8 on ``runs`` (:func:`~shortcutlab.study.mri.contrastive_comparison`): each contrastive method
    against Full on cm and after transfer to acdc (AUC, non-inferiority), and AMYL's fall in normalized AKS from
    Full to the contrastive models against the other classes' falls."""
    methods = list(methods or study.cfg.contrastive.methods)
    unknown = [m for m in methods if f"7-{m}-cm" not in CLAIMS]
    if unknown:
        from .._validation import param_error
        raise param_error("methods", "contrastive_claims", "contrastive methods with a registered claim 7 (simclr, "
                          "moco, byol)", unknown)
    units, amyl = [], None
    groups = _per_seed(runs, "contrastive_claims", cohort=("cm", "cm→acdc"), condition=["full", *methods])
    for g in groups:
        cm = [g.one(cohort="cm", condition=c) for c in ["full", *methods]]
        tr = [g.one(cohort="cm→acdc", condition=c) for c in ["full", *methods]]
        names = list(cm[0].spec["class_names"])
        amyl = names.index("AMYL") if "AMYL" in names else None
        css = np.mean([_normalized_aks(r) for r in cm[1:]], axis=0)
        units.append({"fingerprint": _fingerprint(cm + tr, "contrastive_claims"),
                      "cm": (cm[0].labels["test"], *(r.probs["test"] for r in cm)),
                      "acdc": (tr[0].labels["test"], *(r.probs["test"] for r in tr)),
                      "maps": (_normalized_aks(cm[0]), css, cm[0].cams()["labels"])})
    _same_data(units, [g.seeds[0] for g in groups], "contrastive_claims")
    claims = []
    for j, m in enumerate(methods, start=1):
        claims.append((f"7-{m}-cm", lambda u, j=j: micro_auc(u["cm"][0], u["cm"][1 + j]) - micro_auc(u["cm"][0], u["cm"][1])))
        claims.append((f"7-{m}-acdc",
                       lambda u, j=j: micro_auc(u["acdc"][0], u["acdc"][1 + j]) - micro_auc(u["acdc"][0], u["acdc"][1])))
    if amyl is not None:
        def amyl_falls_most(u):
            full, css, lab = u["maps"]
            falls = [np.nanmean(full[lab == c] - css[lab == c]) if (lab == c).any() else np.nan
                     for c in range(len(names))]
            others = [v for c, v in enumerate(falls) if c != amyl and v == v]
            return float(falls[amyl] - max(others)) if others and falls[amyl] == falls[amyl] else float("nan")

        claims.append(("8", amyl_falls_most))
    return _run(study, n_boot, claims, units)


# ------------------------------------------------------------------------------------------ BackMix
OOD_BACKGROUNDS = ("ood_bg_agree", "ood_bg_conflict", "ood_bg_vendor", "ood_bg_black")


def _battery(run: Run) -> list[str]:
    """The o.o.d. sets claim 9 reads: the background counterfactuals of the same o.o.d. sectors (a phantom), or
    the o.o.d. set itself (real data)."""
    sets = [s for s in OOD_BACKGROUNDS if s in run.probs]
    return sets or ["ood"]


def backmix_claims(study: Study, runs: RunSet, *, n_boot: int | None = None) -> pd.DataFrame:
    """Claim 9 on ``runs`` (:func:`~shortcutlab.study.backmix.backmix_comparison`): BackMix against Baseline (%E and %F on the i.d. test maps; o.o.d. accuracy, the mean over the same
    o.o.d. sectors under four backgrounds), and Black and Noise against BackMix o.o.d., percent points."""
    conds = CLAIM_CONDITIONS
    units = []
    groups = _per_seed(runs, "backmix_claims", cohort="echo", condition=conds)
    for g in groups:
        r = {c: g.one(condition=c) for c in conds}
        sets = _battery(r["baseline"])
        unit = {"fingerprint": _fingerprint(list(r.values()), "backmix_claims"),
                "maps": tuple(_maps(r[c], k) for c in ("baseline", "backmix") for k in ("pct_e", "pct_f"))}
        # one tuple per o.o.d. sector: the backgrounds resample together
        unit["ood"] = (r["baseline"].labels[sets[0]], *(r[c].probs[s] for s in sets for c in conds))
        units.append(unit)
    _same_data(units, [g.seeds[0] for g in groups], "backmix_claims")
    n_sets = (len(units[0]["ood"]) - 1) // len(conds)

    def acc(u, c):
        y = u["ood"][0]
        return 100 * float(np.mean([accuracy(y, u["ood"][1 + k * len(conds) + conds.index(c)]) for k in range(n_sets)]))

    claims = [
        ("9a", lambda u: 100 * float(np.nanmean(u["maps"][2] - u["maps"][0]))),
        ("9b", lambda u: 100 * float(np.nanmean(u["maps"][3] - u["maps"][1]))),
        ("9c", lambda u: acc(u, "backmix") - acc(u, "baseline")),
        ("9d", lambda u: acc(u, "black") - acc(u, "backmix")),
        ("9e", lambda u: acc(u, "noise") - acc(u, "backmix")),
    ]
    return _run(study, n_boot, claims, units)


def semi_supervised_claims(study: Study, runs: RunSet, *, f: float = 0.05, lam: float = 1.0,
                           n_boot: int | None = None) -> pd.DataFrame:
    """Claim 10 on ``runs`` (:func:`~shortcutlab.study.backmix.semi_supervised`), on the o.o.d. sets (as claim 9c reads them): BackMix with a fraction ``f`` of masks is not worse
    than with every mask by more than ``metrics.margin_points``, and wBackMix (``lam``) at ``f`` beats BackMix at
    ``f``."""
    units, seeds = [], []
    for g in _per_seed(runs, "semi_supervised_claims", cohort="echo"):
        if not g.where(condition="baseline"):
            continue  # a seed only the descriptive fractions have
        rs = [g.one(condition="baseline"), g.one(condition="backmix", f=1.0), g.one(condition="backmix", f=f),
              g.one(condition="wbackmix", f=f, lam=lam)]
        sets = _battery(rs[0])
        seeds.append(g.seeds[0])
        units.append({"fingerprint": _fingerprint(rs, "semi_supervised_claims"), "ood": (rs[0].labels[sets[0]], *(r.probs[s] for s in sets for r in rs))})
    _same_data(units, seeds, "semi_supervised_claims")
    n_sets = (len(units[0]["ood"]) - 1) // 4

    def acc(u, j):
        y = u["ood"][0]
        return 100 * float(np.mean([accuracy(y, u["ood"][1 + k * 4 + j]) for k in range(n_sets)]))

    return _run(study, n_boot, [("10a", lambda u: acc(u, 2) - acc(u, 1)), ("10b", lambda u: acc(u, 3) - acc(u, 2))],
                units)
