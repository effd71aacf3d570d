"""The claims' evaluation: each registered claim (:mod:`shortcutlab.study.registry`) read on a run, one row each.

A notebook's function (``contextual_claims``, ...) builds each seed's *unit* (the seed's predictions and maps on
the test sets the claims read) and one :class:`Reading` per claim: the claim's id, its effect as a function of a
unit, the sets of the unit it reads, and, for a claim read on runs of its own, those runs' units.
:func:`evaluate_claims` gives each reading its row.

The interval is by default :func:`~shortcutlab.metrics.seed_welch_interval`: the mean of the per-seed effects,
with se² = var(seeds)/S + the test sample's common variance (the cross-seed covariance of one bootstrap of the
shared test images, shared when the seeds' fingerprints agree) and Welch–Satterthwaite's degrees of freedom. Every
row is read at one level: a 95 % interval, i.e. each bound a one-sided test at 0.025
(:data:`~shortcutlab.metrics.ALPHA`), whatever the preset's ``metrics.ci``; the verdict is
:func:`~shortcutlab.metrics.verdict` with the claim's registered test and Δ. ``p`` is the one-sided p of the
row's favourable reading; :func:`families` adds ``p_holm``, Holm-adjusted over the primary rows of each paper
(the lesson is a family of its own), and :func:`headline` counts both. An undecided row says in ``planning`` how
many seeds (or test images) would give 80 % power at Δ (:func:`~shortcutlab.metrics.planning_seeds`), a
planning estimate from this run's variance parts. A claim the phantom cannot show by construction carries its
reason in ``note``, beside its verdict: a note never replaces a verdict; so does a direction whose paper's own
effect is no larger than Δ (it cannot read *not replicated*).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .._absent import NA_PHANTOM
from .._validation import ShortcutlabError, check_choice, param_error
from ..metrics import (ALPHA, SUPPORTS, auc, claim_p, hierarchical_bootstrap, holm, normalized_overlap, overlap_bounds,
                       planning_seeds, seed_t_interval, seed_welch_interval, verdict)
from .backmix import CLAIM_CONDITIONS
from .registry import CLAIMS, Claim, claim_hash, get_claim, register_claim
from .runs import Run, RunSet
from .study import Study

__all__ = ["Claim", "CLAIMS", "Reading", "register_claim", "get_claim", "CLAIM_COLUMNS", "evaluate_claims",
           "families", "headline", "contextual_claims", "saliency_claims", "contrastive_claims", "backmix_claims",
           "semi_supervised_claims", "micro_auc", "accuracy", "holding"]

CLAIM_COLUMNS = ["id", "family", "role", "claim", "source", "paper", "test", "unit", "delta", "effect", "lo", "hi",
                 "verdict", "p", "p_holm", "n_seeds", "df", "per_seed", "planning", "note", "departure", "method",
                 "registry"]
LEVEL = 1 - 2 * ALPHA  # the two-sided level of every claim's interval


@dataclass(frozen=True)
class Reading:
    """How one claim is read on a run: ``claim`` its registered id; ``effect`` the paired effect as a function of
    one seed's unit (None: the claim's data exists only for a phantom); ``sets`` the names of the unit's sets it
    reads (their size is the claim's test-set size); ``units`` the units of runs of its own (None: the table's)."""

    claim: str
    effect: Callable[[dict], float] | None
    sets: tuple[str, ...] = ()
    units: Sequence[dict] | None = None


def micro_auc(y: np.ndarray, p: np.ndarray) -> float:
    """:func:`shortcutlab.metrics.auc` (micro), NaN where it is undefined (a resample with one class), so the
    bootstrap redraws that replicate instead of stopping."""
    try:
        return auc(y, p, "micro")
    except ShortcutlabError:
        return float("nan")


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float((p.argmax(1) == y).mean())


def _n_test(units: Sequence[dict], sets: Sequence[str]) -> int:
    """The claim's own test-set size: the first named set's length (every set of a unit is one tuple of arrays of
    one length), or the largest set's when the reading names none."""
    u = units[0]
    names = [k for k in (sets or ()) if k in u] or [k for k in u if k != "fingerprint"]
    return max((len(u[k][0]) for k in names[:1] or names), default=0)


def _small_paper_effect(c: Claim) -> str:
    """For a direction whose paper's own effect (in the claimed sign) is no larger than Δ: the row says so, and
    :func:`~shortcutlab.metrics.verdict` does not read *not replicated* for it."""
    if c.test not in ("greater", "less") or c.paper_effect is None:
        return ""
    e = c.paper_effect if c.test == "greater" else -c.paper_effect
    return (f"the paper's own effect ({c.paper_effect:+g}) is no larger than Δ = {c.delta:g}, so this row cannot read "
            f"not replicated" if e <= c.delta else "")


def _row_base(c: Claim) -> dict:
    note = "; ".join(x for x in (c.not_expected, _small_paper_effect(c)) if x)
    return dict(id=c.id, family=c.family, role=c.role, claim=c.reading, source=c.source,
                paper=c.paper + ("" if c.paper_effect is None else f" (effect {c.paper_effect:+g})"), test=c.test,
                unit=c.unit, delta=float(c.delta), note=note, departure=c.departure, registry=claim_hash(c))


def evaluate_claims(readings: Sequence[Reading], units: Sequence[dict], *, n_boot: int, seed: int = 0,
                    method: str = "welch") -> pd.DataFrame:
    """One row per :class:`Reading` (columns :data:`CLAIM_COLUMNS`): the effect over the seeds' ``units`` (or the
    reading's own) with its 95 % interval, the verdict of the claim's registered test at its Δ, the one-sided
    ``p`` and, for an undecided row, the ``planning`` estimate. ``p_holm`` is left to :func:`families`, which
    adjusts over a whole paper. ``method``: ``welch`` (the default), ``seed_t`` (the earlier t over S - 1 degrees
    of freedom, which over-covers) or ``hierarchical_bootstrap``; only ``welch`` gives a p and a planning estimate."""
    check_choice(method, ("welch", "seed_t", "hierarchical_bootstrap"), name="method", where="evaluate_claims")
    nan = float("nan")
    rows = []
    for rd in readings:
        if not isinstance(rd, Reading):
            raise param_error("readings", "evaluate_claims", "a list of Reading records", rd)
        its = units if rd.units is None else rd.units
        c = get_claim(rd.claim)
        base = _row_base(c)
        if rd.effect is None:
            rows.append(dict(base, effect=nan, lo=nan, hi=nan, verdict=NA_PHANTOM, p=nan, p_holm=nan, n_seeds=0,
                             df=nan, per_seed="", planning="", method=""))
            continue
        if method == "welch":
            r = seed_welch_interval(rd.effect, its, n_boot=n_boot, ci=LEVEL, seed=seed)
            p = claim_p(r["estimate"], r["se"], r["df"], test=c.test, delta=c.delta)
        else:
            sets = [{k: v for k, v in u.items() if k != "fingerprint"} for u in its]
            r = (seed_t_interval if method == "seed_t" else hierarchical_bootstrap)(rd.effect, sets, n_boot=n_boot,
                                                                                      ci=LEVEL, seed=seed)
            p = nan
        v = verdict(r["lo"], r["hi"], test=c.test, delta=c.delta, paper_effect=c.paper_effect)
        plan = ""
        if v == "inconclusive" and method == "welch":
            need = planning_seeds(r["se_seeds"], r["se_test"], r["n_seeds"], _n_test(its, rd.sets), test=c.test,
                                  delta=c.delta, n_boot=max(r["n_boot"], 2))
            plan = "; ".join(f"≈{n} {k}" for k, n in need.items() if n is not None) or "not by seeds or images alone"
        rows.append(dict(base, effect=r["estimate"], lo=r["lo"], hi=r["hi"], verdict=v, p=p, p_holm=nan,
                         n_seeds=r["n_seeds"], df=r.get("df", nan),
                         per_seed=" ".join(f"{x:+.3f}" for x in r["per_seed"]), planning=plan, method=r["method"]))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def intersection_union(table: pd.DataFrame, claim: str, parts: Sequence[str]) -> pd.DataFrame:
    """``table`` with the row of ``claim`` added: an intersection-union test of its ``parts`` (rows of ``table``,
    each read at its own one-sided 0.025). It holds only when every part supports its direction; it is
    contradicted when any part is; else inconclusive. Its p is the largest part's (the test's p), and its effect,
    interval and planning are those of the weaker part (the largest p), so the row is counted once."""
    rows = table.set_index("id").loc[list(parts)]
    weak = rows["p"].astype(float).idxmax() if rows["p"].notna().all() else rows["lo"].astype(float).idxmin()
    verdicts = rows["verdict"].astype(str).tolist()
    if all(v in SUPPORTS for v in verdicts):
        v = "holds, below Δ" if "holds, below Δ" in verdicts else "holds"
    elif "contradicted" in verdicts:
        v = "contradicted"
    else:
        v = "inconclusive"
    w = rows.loc[weak]
    row = dict(_row_base(get_claim(claim)), effect=w["effect"], lo=w["lo"], hi=w["hi"], verdict=v,
               p=float(rows["p"].astype(float).max()), p_holm=float("nan"), n_seeds=w["n_seeds"], df=w["df"],
               per_seed=w["per_seed"], planning=w["planning"] if v == "inconclusive" else "", method=w["method"])
    row["note"] = "; ".join(x for x in (row["note"], f"the weaker part is {weak}") if x)
    head = table[table["id"].isin(parts)].index.min()
    out = pd.concat([table.loc[:head - 1], pd.DataFrame([row], columns=CLAIM_COLUMNS), table.loc[head:]],
                    ignore_index=True)
    return out[CLAIM_COLUMNS]


def families(tables: Sequence[pd.DataFrame] | pd.DataFrame) -> pd.DataFrame:
    """The claims tables of a run as one table, with ``p_holm``: Holm's adjustment of the one-sided ``p`` over the
    primary rows of each family (a paper; the lesson), NaN for a secondary row or a control. A row survives Holm when its
    ``p_holm`` < 0.025."""
    df = pd.concat(list(tables), ignore_index=True) if isinstance(tables, (list, tuple)) else tables.copy()
    df["p_holm"] = float("nan")
    for fam in df["family"].dropna().unique():
        sel = (df["family"] == fam) & (df["role"] == "primary")
        df.loc[sel, "p_holm"] = holm(df.loc[sel, "p"].astype(float).to_numpy())
    return df


def headline(table: pd.DataFrame) -> list[str]:
    """Per family of ``table`` (:func:`families`): "N of M primary rows hold at 95 % each; K survive Holm within
    their paper" (rows whose data needs a phantom are not counted)."""
    out = []
    for fam in table["family"].dropna().unique():
        t = table[(table["family"] == fam) & (table["role"] == "primary")]
        t = t[~t["verdict"].astype(str).str.startswith("n/a")]
        ok = t["verdict"].isin(SUPPORTS)
        k = int((ok & (t["p_holm"].astype(float) < ALPHA)).sum())
        whose = "the lesson" if fam == "lesson" else "their paper"
        out.append(f"{fam}: {int(ok.sum())} of {len(t)} primary rows hold at 95 % each; {k} survive Holm within "
                   f"{whose}")
    return out


def holding(claims: pd.DataFrame) -> str:
    """``k/n``: how many primary rows the data support (a verdict in :data:`~shortcutlab.metrics.SUPPORTS`) of
    those this data can test (a claim whose data needs a phantom is not counted; a row with a note counts like any
    other: a note never replaces its verdict)."""
    t = claims[claims["role"] == "primary"] if "role" in claims else claims
    v = t["verdict"].astype(str)
    testable = ~v.str.startswith("n/a")
    return f"{int(v[testable].isin(SUPPORTS).sum())}/{int(testable.sum())}"


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


def _run(study: Study, n_boot: int | None, readings: Sequence[Reading], units) -> pd.DataFrame:
    m = study.cfg.metrics
    return evaluate_claims(readings, units, n_boot=n_boot or m.n_bootstrap, seed=m.seed, method=m.claim_ci)


def _fingerprint(runs: Sequence[Run], where: str, sets: Sequence[str] | None = None) -> str:
    """What the runs of one seed were evaluated on, from the runs themselves: each cohort's data spec (source,
    size, data seed, cue strength, its fingerprint for real data) and the labels of every evaluation set. Runs of
    one cohort that disagree on it are refused (they were not evaluated on the same images). With ``sets`` (the
    phantom's paired renders, drawn at cue strength 0 whatever the training strength), only those sets' labels
    count and the training cue's strength is left out, so runs trained at two strengths pair on them."""
    import hashlib
    import json

    by_cohort: dict[str, tuple[str, str]] = {}
    for r in runs:
        data = dict(r.spec.get("data") or {})
        if sets is not None:
            data = {k: v for k, v in data.items() if "strength" not in k}
        spec = json.dumps(data, sort_keys=True, default=str)
        h = hashlib.sha256(spec.encode())
        for k in sorted(r.labels if sets is None else sets):
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
    claims about Rand (4, 4n, 5b) are left out."""
    conds = [c for c in _CONTEXT if c in conditions]
    if {"full", "seg", "bg"} - set(conds):
        raise param_error("conditions", "contextual_claims", "a list holding full, seg and bg (and rand)", conditions)
    units = []
    pairs = study.is_phantom("cm")  # the counterfactual test sets exist only for a phantom
    groups = _per_seed(runs, "contextual_claims", cohort="cm", condition=conds)
    for g in groups:
        r = {c: g.one(condition=c) for c in conds}
        unit = {"fingerprint": _fingerprint(list(r.values()), "contextual_claims"),
                "test": (r["full"].labels["test"], *(r[c].probs["test"] for c in conds)),
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

    def dec(c):
        return (lambda u: auc_pair(u, "test_decorrelated", c) - auc_pair(u, "test_decorrelated", "full")) \
            if pairs else None

    readings = [
        Reading("1", lambda u: auc_test(u, "bg") - 0.5, ("test",)),
        Reading("2i", lambda u: auc_test(u, "seg") - auc_test(u, "full"), ("test",)),
        Reading("2", dec("seg"), ("pairs",)),
        Reading("3", (lambda u: drop(u, "full") - drop(u, "seg")) if pairs else None, ("pairs",)),
        Reading("4", dec("rand"), ("pairs",)),
        Reading("4n", lambda u: auc_test(u, "rand") - auc_test(u, "full"), ("test",)),
        Reading("5a", lambda u: float(np.nanmean(u["maps"][1] - u["maps"][0])), ("maps",)),
        Reading("5b", lambda u: float(np.nanmean(u["maps"][2] - u["maps"][0])), ("maps",)),
    ]
    if "rand" not in conds:
        readings = [rd for rd in readings if rd.claim not in ("4", "4n", "5b")]
    return _run(study, n_boot, readings, units)


def saliency_claims(study: Study, runs: RunSet, *, n_boot: int | None = None) -> pd.DataFrame:
    """Claim 6: across the cm models of each seed of ``runs`` (:func:`~shortcutlab.study.mri.saliency_models`:
    Table 1's conditions and the contrastive ones), Pearson r of mean AKS on the test images with AUC on the
    decorrelated test set; both recomputed on every resample."""
    if not study.is_phantom("cm"):
        return evaluate_claims([Reading("6", None)], [{"x": (np.zeros(1),)}], n_boot=10)
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

    return _run(study, n_boot, [Reading("6", r_aks_auc, ("dec",))], units)


def _class_falls(full: np.ndarray, css: np.ndarray, lab: np.ndarray, k: int, amyl: int) -> float:
    """AMYL's mean fall (Full - CSS, per image) minus the largest other class's."""
    falls = [np.nanmean(full[lab == c] - css[lab == c]) if (lab == c).any() else np.nan for c in range(k)]
    others = [v for c, v in enumerate(falls) if c != amyl and v == v]
    return float(falls[amyl] - max(others)) if others and falls[amyl] == falls[amyl] else float("nan")


def contrastive_claims(study: Study, runs: RunSet, *, methods: Sequence[str] | None = None,
                       n_boot: int | None = None) -> pd.DataFrame:
    """Claims 7 and 8 on ``runs`` (:func:`~shortcutlab.study.mri.contrastive_comparison`): the contrastive methods
    (their mean, and each one as a secondary row) against Full and Seg on cm and after transfer to acdc (AUC), and
    AKS from Full to the contrastive models: lower on cm, and AMYL's fall against the other classes' (raw, and
    normalized as a named departure)."""
    methods = list(methods or study.cfg.contrastive.methods)
    unknown = [m for m in methods if f"7-{m}-cm" not in CLAIMS]
    if unknown:
        raise param_error("methods", "contrastive_claims", "contrastive methods with a registered claim 7 (simclr, "
                          "moco, byol)", unknown)
    units, amyl, names = [], None, []
    conds = ["full", "seg", *methods]
    groups = _per_seed(runs, "contrastive_claims", cohort=("cm", "cm→acdc"), condition=conds)
    for g in groups:
        cm = [g.one(cohort="cm", condition=c) for c in conds]
        tr = [g.one(cohort="cm→acdc", condition=c) for c in conds]
        names = list(cm[0].spec["class_names"])
        amyl = names.index("AMYL") if "AMYL" in names else None
        css = cm[2:]
        units.append({"fingerprint": _fingerprint(cm + tr, "contrastive_claims"),
                      "cm": (cm[0].labels["test"], *(r.probs["test"] for r in cm)),
                      "acdc": (tr[0].labels["test"], *(r.probs["test"] for r in tr)),
                      "maps": (cm[0].cams()["labels"], _maps(cm[0], "aks"),
                               np.mean([_maps(r, "aks") for r in css], axis=0), _normalized_aks(cm[0]),
                               np.mean([_normalized_aks(r) for r in css], axis=0))})
    _same_data(units, [g.seeds[0] for g in groups], "contrastive_claims")
    n_m = len(methods)

    def a(u, s, j):  # AUC of model j (0 Full, 1 Seg, 2.. the methods) on set s
        return micro_auc(u[s][0], u[s][1 + j])

    def css(u, s):
        return float(np.mean([a(u, s, 2 + j) for j in range(n_m)]))

    readings = [
        Reading("7", lambda u: css(u, "cm") - max(a(u, "cm", 0), a(u, "cm", 1)), ("cm",)),
        Reading("7t", lambda u: css(u, "acdc") - a(u, "acdc", 0), ("acdc",)),
        Reading("7s", lambda u: css(u, "cm") - a(u, "cm", 1), ("cm",)),
    ]
    for j, m in enumerate(methods):
        readings.append(Reading(f"7-{m}-cm", lambda u, j=j: a(u, "cm", 2 + j) - a(u, "cm", 0), ("cm",)))
        readings.append(Reading(f"7-{m}-acdc", lambda u, j=j: a(u, "acdc", 2 + j) - a(u, "acdc", 0), ("acdc",)))
    readings.append(Reading("8cm", lambda u: float(np.nanmean(u["maps"][2] - u["maps"][1])), ("maps",)))
    if amyl is not None:
        k = len(names)
        readings.append(Reading("8", lambda u: _class_falls(u["maps"][1], u["maps"][2], u["maps"][0], k, amyl),
                                ("maps",)))
        readings.append(Reading("8n", lambda u: _class_falls(u["maps"][3], u["maps"][4], u["maps"][0], k, amyl),
                                ("maps",)))
    return _run(study, n_boot, readings, units)


# ------------------------------------------------------------------------------------------ BackMix
OOD_BACKGROUNDS = ("ood_bg_agree", "ood_bg_conflict", "ood_bg_vendor", "ood_bg_black")


def _battery(run: Run) -> list[str]:
    """The o.o.d. sets claim 9 reads: the background counterfactuals of the same o.o.d. sectors (a phantom), or
    the o.o.d. set itself (real data)."""
    sets = [s for s in OOD_BACKGROUNDS if s in run.probs]
    return sets or ["ood"]


def backmix_claims(study: Study, runs: RunSet, *, n_boot: int | None = None) -> pd.DataFrame:
    """Claim 9 on ``runs`` (:func:`~shortcutlab.study.backmix.backmix_comparison`): BackMix against Baseline (%E
    and %F on the i.d. test maps; i.d. accuracy; o.o.d. accuracy, the mean over the same o.o.d. sectors under four
    backgrounds), and Black and Noise against BackMix o.o.d., percent points."""
    conds = CLAIM_CONDITIONS
    units = []
    groups = _per_seed(runs, "backmix_claims", cohort="echo", condition=conds)
    for g in groups:
        r = {c: g.one(condition=c) for c in conds}
        sets = _battery(r["baseline"])
        unit = {"fingerprint": _fingerprint(list(r.values()), "backmix_claims"),
                "maps": tuple(_maps(r[c], k) for c in ("baseline", "backmix") for k in ("pct_e", "pct_f")),
                "id": (r["baseline"].labels["test"], *(r[c].probs["test"] for c in ("baseline", "backmix")))}
        # one tuple per o.o.d. sector: the backgrounds resample together
        unit["ood"] = (r["baseline"].labels[sets[0]], *(r[c].probs[s] for s in sets for c in conds))
        units.append(unit)
    _same_data(units, [g.seeds[0] for g in groups], "backmix_claims")
    n_sets = (len(units[0]["ood"]) - 1) // len(conds)

    def acc(u, c):
        y = u["ood"][0]
        return 100 * float(np.mean([accuracy(y, u["ood"][1 + k * len(conds) + conds.index(c)]) for k in range(n_sets)]))

    readings = [
        Reading("9a", lambda u: 100 * float(np.nanmean(u["maps"][2] - u["maps"][0])), ("maps",)),
        Reading("9b", lambda u: 100 * float(np.nanmean(u["maps"][3] - u["maps"][1])), ("maps",)),
        Reading("9c", lambda u: acc(u, "backmix") - acc(u, "baseline"), ("ood",)),
        Reading("9i", lambda u: 100 * (accuracy(u["id"][0], u["id"][2]) - accuracy(u["id"][0], u["id"][1])), ("id",)),
        Reading("9d", lambda u: max(acc(u, "black"), acc(u, "noise")) - acc(u, "backmix"), ("ood",)),
        Reading("9d-black", lambda u: acc(u, "black") - acc(u, "backmix"), ("ood",)),
        Reading("9d-noise", lambda u: acc(u, "noise") - acc(u, "backmix"), ("ood",)),
    ]
    return _run(study, n_boot, readings, units)


def semi_supervised_claims(study: Study, runs: RunSet, *, f: float = 0.05, lam: float = 1.0,
                           n_boot: int | None = None) -> pd.DataFrame:
    """Claim 10 on ``runs`` (:func:`~shortcutlab.study.backmix.semi_supervised`), on the o.o.d. sets (as claim 9c
    reads them): BackMix with a fraction ``f`` of masks against Baseline (10a) and against every mask (10a-ni, 10d),
    and wBackMix (``lam``) at ``f`` against BackMix at ``f`` (10b)."""
    units, seeds = [], []
    for g in _per_seed(runs, "semi_supervised_claims", cohort="echo"):
        if not g.where(condition="baseline"):
            continue  # a seed only the descriptive fractions have
        rs = [g.one(condition="baseline"), g.one(condition="backmix", f=1.0), g.one(condition="backmix", f=f),
              g.one(condition="wbackmix", f=f, lam=lam)]
        sets = _battery(rs[0])
        seeds.append(g.seeds[0])
        units.append({"fingerprint": _fingerprint(rs, "semi_supervised_claims"),
                      "ood": (rs[0].labels[sets[0]], *(r.probs[s] for s in sets for r in rs))})
    _same_data(units, seeds, "semi_supervised_claims")
    n_sets = (len(units[0]["ood"]) - 1) // 4

    def acc(u, j):  # 0 Baseline, 1 BackMix f = 1, 2 BackMix at f, 3 wBackMix at f
        y = u["ood"][0]
        return 100 * float(np.mean([accuracy(y, u["ood"][1 + k * 4 + j]) for k in range(n_sets)]))

    return _run(study, n_boot, [Reading("10a", lambda u: acc(u, 2) - acc(u, 0), ("ood",)),
                                Reading("10a-ni", lambda u: acc(u, 2) - acc(u, 1), ("ood",)),
                                Reading("10d", lambda u: acc(u, 2) - acc(u, 1), ("ood",)),
                                Reading("10b", lambda u: acc(u, 3) - acc(u, 2), ("ood",))], units)
