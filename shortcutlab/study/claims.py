"""The directions the papers report, as paired effects over the preset's seeds, each with a CI and a verdict.

Every claim is a difference between conditions (or against a reference) on the same test images and the same
seeds. Its CI (``metrics.claim_ci``) is by default :func:`~shortcutlab.metrics.seed_t_interval`: the mean of the
per-seed effects, with a t-interval over the seeds (S - 1 degrees of freedom) whose standard error also holds the
test sample's (a bootstrap of the test images, the same draw for every seed, since they share the images). With
one seed it is the test-sample bootstrap alone. ``hierarchical_bootstrap`` (resample the seeds, then the test
images inside each seed) is kept as an option: with three seeds its percentile interval is about the range of the
per-seed values, too narrow to call a direction. The verdict
(:func:`~shortcutlab.metrics.claim_verdict`) is ``holds`` when the CI excludes 0 in the claimed direction,
``contradicted`` when it excludes 0 the other way, and ``inconclusive`` otherwise: a tie or a point estimate
is never a verdict. With one seed the CI reflects only the test sample; the table says how many seeds it used.

The ten directions of the [findings] issue, by notebook:

* 01: (1) BG-only is above chance; (2) Seg >= Full with the cue decorrelated; (3) Full loses more than Seg from
  the cue as in training to decorrelated; (4) Rand beats Full decorrelated; (5) Seg and Rand have higher AKS
  than Full.
* 02: (6) in-domain AKS correlates with decorrelated AUC across models.
* 03: (7) contrastive pretraining gives AUC >= Full in-domain and after transfer; (8) AMYL has the lowest AKS
  of the cm classes after contrastive pretraining.
* 04: (9) BackMix raises %E, %F and o.o.d. accuracy over Baseline, while Black and Noise lose o.o.d. accuracy.
* 05: (10) f = 0.05 keeps at least half of BackMix's o.o.d. gain, and wBackMix recovers part of the rest.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .._absent import NA_PHANTOM
from .._validation import ShortcutlabError
from ..metrics import auc, claim_verdict, hierarchical_bootstrap, seed_t_interval
from .cache import Run, Study

__all__ = ["CLAIM_COLUMNS", "evaluate_claims", "contextual_claims", "saliency_claims", "contrastive_claims",
           "backmix_claims", "semi_supervised_claims", "micro_auc", "accuracy", "contextual_runs", "saliency_runs",
           "contrastive_runs", "backmix_runs", "semi_supervised_runs"]

_BACKMIX_CLAIMS = ("baseline", "backmix", "black", "noise")
CLAIM_COLUMNS = ["claim", "direction", "effect", "lo", "hi", "verdict", "n_seeds", "per_seed", "method"]


def micro_auc(y: np.ndarray, p: np.ndarray) -> float:
    """:func:`shortcutlab.metrics.auc` (micro), NaN where it is undefined (a resample with one class), so the
    bootstrap redraws that replicate instead of stopping."""
    try:
        return auc(y, p, "micro")
    except ShortcutlabError:
        return float("nan")


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float((p.argmax(1) == y).mean())


def evaluate_claims(claims: Sequence[tuple[str, str, Callable[[dict], float]]], units: Sequence[dict], *,
                    n_boot: int, seed: int = 0, ci: float = 0.95, method: str = "seed_t") -> pd.DataFrame:
    """One row per ``(claim, direction, effect)``: the effect over the seeds' ``units`` with its CI and verdict
    (columns :data:`CLAIM_COLUMNS`). ``method``: ``seed_t`` (:func:`~shortcutlab.metrics.seed_t_interval`, the
    default) or ``hierarchical_bootstrap`` (:func:`~shortcutlab.metrics.hierarchical_bootstrap`)."""
    from .._validation import check_choice

    check_choice(method, ("seed_t", "hierarchical_bootstrap"), name="method", where="evaluate_claims")
    interval = seed_t_interval if method == "seed_t" else hierarchical_bootstrap
    rows = []
    for text, direction, effect in claims:
        if effect is None:  # its data exists only for a phantom (the cue-decorrelated test set)
            nan = float("nan")
            rows.append(dict(claim=text, direction=direction, effect=nan, lo=nan, hi=nan, verdict=NA_PHANTOM,
                             n_seeds=0, per_seed="", method=""))
            continue
        r = interval(effect, units, n_boot=n_boot, ci=ci, seed=seed)
        rows.append(dict(claim=text, direction=direction, effect=r["estimate"], lo=r["lo"], hi=r["hi"],
                         verdict=claim_verdict(r["lo"], r["hi"], direction), n_seeds=r["n_seeds"],
                         per_seed=" ".join(f"{v:+.3f}" for v in r["per_seed"]), method=r["method"]))
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def _seeds(study: Study, seeds: Sequence[int] | None) -> list[int]:
    return study.seed_list(seeds, where="claims")


def contextual_runs(study: Study, seeds: Sequence[int] | None = None, conditions: Sequence[str] | None = None) -> list[dict]:
    """The runs claims 1-5 read, per seed (only asked for: what :mod:`shortcutlab.study.plan` lists)."""
    conds = [c for c in _CONTEXT if conditions is None or c in conditions]
    return [study.run_many("cm", conds, seed=s) for s in _seeds(study, seeds)]


def saliency_runs(study: Study, seeds: Sequence[int] | None = None) -> list[dict]:
    """The cm models claim 6 reads, per seed: Table 1's conditions and the contrastive ones."""
    from .mri import at_seed, contextual_bias, contrastive_comparison, supervised_only

    out = []
    for s in _seeds(study, seeds):
        runs = at_seed(contextual_bias(study, seeds=[s], cohorts=("cm",), transfer=False))
        runs.update({k: v for k, v in at_seed(supervised_only(contrastive_comparison(study, seeds=[s]))).items()
                     if k[0] == "cm"})
        out.append(runs)
    return out


def contrastive_runs(study: Study, seeds: Sequence[int] | None = None, methods: Sequence[str] | None = None) -> list[dict]:
    """The runs claims 7-8 read, per seed."""
    from .mri import at_seed, contrastive_comparison

    methods = list(methods or study.cfg.contrastive.methods)
    return [at_seed(contrastive_comparison(study, seeds=[s], methods=methods)) for s in _seeds(study, seeds)]


def backmix_runs(study: Study, seeds: Sequence[int] | None = None) -> list[dict]:
    """The runs claim 9 reads, per seed."""
    return [study.run_many("echo", _BACKMIX_CLAIMS, seed=s) for s in _seeds(study, seeds)]


def semi_supervised_runs(study: Study, seeds: Sequence[int] | None = None, f: float = 0.05, lam: float = 1.0) -> list[list]:
    """The runs claim 10 reads, per seed: Baseline, BackMix with every mask, with ``f``, wBackMix at ``f``."""
    return [[study.run("echo", "baseline", seed=s), study.run("echo", "backmix", seed=s, f=1.0),
             study.run("echo", "backmix", seed=s, f=f), study.run("echo", "backmix", seed=s, f=f, lam=lam)]
            for s in _seeds(study, seeds)]


def _maps(run: Run, key: str, eval_set: str = "test") -> np.ndarray:
    """Per image (mean over its frames) overlap metric of the run's mapped images."""
    return np.nanmean(run.cams(eval_set)["metrics"][key], axis=1)


def _run(study: Study, n_boot: int | None, claims, units) -> pd.DataFrame:
    m = study.cfg.metrics
    return evaluate_claims(claims, units, n_boot=n_boot or m.n_bootstrap, seed=m.seed, ci=m.ci, method=m.claim_ci)


# ------------------------------------------------------------------------------------------ MRI
_CONTEXT = ("full", "seg", "bg", "rand")


def contextual_claims(study: Study, *, seeds: Sequence[int] | None = None, n_boot: int | None = None,
                      conditions: Sequence[str] = _CONTEXT) -> pd.DataFrame:
    """Claims 1-5 on the cm cohort: each seed's Full, Seg, BG and Rand on the same test images. Without
    ``"rand"`` in ``conditions``, the claims about Rand (4, 5b) are left out."""
    conds = [c for c in _CONTEXT if c in conditions]
    if {"full", "seg", "bg"} - set(conds):
        from .._validation import param_error
        raise param_error("conditions", "contextual_claims", "a list holding full, seg and bg (and rand)", conditions)
    units = []
    dec = study.is_phantom("cm")  # the cue-decorrelated test set exists only for a phantom
    for r in contextual_runs(study, seeds, conds):
        unit = {"test": (r["full"].labels["test"], *(r[c].probs["test"] for c in conds)),
                "maps": tuple(_maps(r[c], "aks") for c in ("full", "seg", "rand") if c in conds)}
        if dec:
            unit["dec"] = (r["full"].labels["test_decorrelated"], *(r[c].probs["test_decorrelated"] for c in conds))
        units.append(unit)
    i = {c: k + 1 for k, c in enumerate(conds)}  # position of each condition's probabilities in a set

    def auc_of(u, s, c):
        return micro_auc(u[s][0], u[s][i[c]])

    claims = [
        ("1. BG-only is above chance (cm AUC - 0.5)", "greater", lambda u: auc_of(u, "test", "bg") - 0.5),
        ("2. Seg >= Full with the cue decorrelated (AUC difference)", "greater",
         lambda u: auc_of(u, "dec", "seg") - auc_of(u, "dec", "full")),
        ("3. Full loses more than Seg when the cue is decorrelated (difference of AUC drops)", "greater",
         lambda u: (auc_of(u, "test", "full") - auc_of(u, "dec", "full")) - (auc_of(u, "test", "seg") - auc_of(u, "dec", "seg"))),
        ("4. Rand beats Full with the cue decorrelated (AUC difference)", "greater",
         lambda u: auc_of(u, "dec", "rand") - auc_of(u, "dec", "full")),
        ("5a. Seg has higher AKS than Full (paired per image)", "greater",
         lambda u: float(np.nanmean(u["maps"][1] - u["maps"][0]))),
        ("5b. Rand has higher AKS than Full (paired per image)", "greater",
         lambda u: float(np.nanmean(u["maps"][2] - u["maps"][0]))),
    ]
    if "rand" not in conds:
        claims = [c for c in claims if "Rand" not in c[0]]
    if not dec:
        claims = [(t, d, None if "decorrelated" in t else e) for t, d, e in claims]
    return _run(study, n_boot, claims, units)


def saliency_claims(study: Study, *, seeds: Sequence[int] | None = None, n_boot: int | None = None) -> pd.DataFrame:
    """Claim 6: across the cm models of each seed (Table 1's conditions and the contrastive ones), Pearson r of
    mean AKS on the test images with AUC on the decorrelated test set; both recomputed on every resample."""
    text = "6. In-domain AKS correlates with decorrelated AUC across models (Pearson r)"
    if not study.is_phantom("cm"):
        return evaluate_claims([(text, "greater", None)], [], n_boot=1)
    units = []
    for runs in saliency_runs(study, seeds):
        models = list(runs.values())
        units.append({"dec": (models[0].labels["test_decorrelated"], *(r.probs["test_decorrelated"] for r in models)),
                      "maps": tuple(_maps(r, "aks") for r in models)})

    def r_aks_auc(u):
        aks = np.array([np.nanmean(a) for a in u["maps"]])
        aucs = np.array([micro_auc(u["dec"][0], p) for p in u["dec"][1:]])
        return float(np.corrcoef(aks, aucs)[0, 1]) if aks.std() > 0 and aucs.std() > 0 else float("nan")

    return _run(study, n_boot, [(text, "greater", r_aks_auc)], units)


def contrastive_claims(study: Study, *, seeds: Sequence[int] | None = None, methods: Sequence[str] | None = None,
                       n_boot: int | None = None) -> pd.DataFrame:
    """Claims 7-8: each contrastive method against Full on cm and after transfer to acdc (AUC), and AMYL's AKS
    against the lowest other cm class, averaged over the contrastive models."""
    methods = list(methods or study.cfg.contrastive.methods)
    units, amyl = [], None
    for runs in contrastive_runs(study, seeds, methods):
        cm = [runs[("cm", "full")]] + [runs[("cm", m)] for m in methods]
        tr = [runs[("cm→acdc", "full")]] + [runs[("cm→acdc", m)] for m in methods]
        names = list(cm[0].spec["class_names"])
        amyl = names.index("AMYL") if "AMYL" in names else None
        maps = np.mean([_maps(runs[("cm", m)], "aks") for m in methods], axis=0)
        units.append({"cm": (cm[0].labels["test"], *(r.probs["test"] for r in cm)),
                      "acdc": (tr[0].labels["test"], *(r.probs["test"] for r in tr)),
                      "maps": (maps, cm[0].cams()["labels"])})
    claims = []
    for j, m in enumerate(methods, start=1):
        claims.append((f"7. {m} AUC >= Full on cm (difference)", "greater",
                       lambda u, j=j: micro_auc(u["cm"][0], u["cm"][1 + j]) - micro_auc(u["cm"][0], u["cm"][1])))
        claims.append((f"7. {m} AUC >= Full after transfer to acdc (difference)", "greater",
                       lambda u, j=j: micro_auc(u["acdc"][0], u["acdc"][1 + j]) - micro_auc(u["acdc"][0], u["acdc"][1])))
    if amyl is not None:
        def amyl_lowest(u):
            aks, lab = u["maps"]
            per = [np.nanmean(aks[lab == c]) if (lab == c).any() else np.nan for c in range(int(lab.max()) + 1)]
            others = [v for c, v in enumerate(per) if c != amyl and v == v]
            return float(min(others) - per[amyl]) if others and per[amyl] == per[amyl] else float("nan")

        claims.append(("8. AMYL has the lowest AKS of the cm classes after contrastive pretraining "
                       "(lowest other class - AMYL)", "greater", amyl_lowest))
    return _run(study, n_boot, claims, units)


# ------------------------------------------------------------------------------------------ BackMix
def backmix_claims(study: Study, *, seeds: Sequence[int] | None = None, n_boot: int | None = None) -> pd.DataFrame:
    """Claim 9: BackMix against Baseline (%E and %F on the i.d. test maps, o.o.d. accuracy), and Black and Noise
    against Baseline (o.o.d. accuracy), percent points."""
    conds = _BACKMIX_CLAIMS
    units = []
    for r in backmix_runs(study, seeds):
        units.append({"ood": (r["baseline"].labels["ood"], *(r[c].probs["ood"] for c in conds)),
                      "maps": tuple(_maps(r[c], k) for c in ("baseline", "backmix") for k in ("pct_e", "pct_f"))})

    def acc(u, c):
        return 100 * accuracy(u["ood"][0], u["ood"][1 + conds.index(c)])

    claims = [
        ("9a. BackMix raises %E over Baseline (i.d., paired per image, points)", "greater",
         lambda u: 100 * float(np.nanmean(u["maps"][2] - u["maps"][0]))),
        ("9b. BackMix raises %F over Baseline (i.d., paired per image, points)", "greater",
         lambda u: 100 * float(np.nanmean(u["maps"][3] - u["maps"][1]))),
        ("9c. BackMix raises o.o.d. accuracy over Baseline (points)", "greater",
         lambda u: acc(u, "backmix") - acc(u, "baseline")),
        ("9d. Black loses o.o.d. accuracy against Baseline (points)", "less",
         lambda u: acc(u, "black") - acc(u, "baseline")),
        ("9e. Noise loses o.o.d. accuracy against Baseline (points)", "less",
         lambda u: acc(u, "noise") - acc(u, "baseline")),
    ]
    return _run(study, n_boot, claims, units)


def semi_supervised_claims(study: Study, *, seeds: Sequence[int] | None = None, f: float = 0.05, lam: float = 1.0,
                           n_boot: int | None = None) -> pd.DataFrame:
    """Claim 10 on the o.o.d. sites: BackMix with a fraction ``f`` of masks keeps at least half of the gain of
    BackMix with every mask (``gain_f - gain_1 / 2 > 0``), and wBackMix (``lam``) at ``f`` beats BackMix at ``f``."""
    units = []
    for runs in semi_supervised_runs(study, seeds, f, lam):
        units.append({"ood": (runs[0].labels["ood"], *(r.probs["ood"] for r in runs))})

    def acc(u, j):
        return 100 * accuracy(u["ood"][0], u["ood"][1 + j])

    claims = [
        (f"10a. BackMix at f = {f} keeps at least half of BackMix's o.o.d. gain (gain_f - gain_all / 2, points)",
         "greater", lambda u: (acc(u, 2) - acc(u, 0)) - (acc(u, 1) - acc(u, 0)) / 2),
        (f"10b. wBackMix (lambda = {lam}) at f = {f} beats BackMix at f = {f} o.o.d. (points)", "greater",
         lambda u: acc(u, 3) - acc(u, 2)),
    ]
    return _run(study, n_boot, claims, units)
