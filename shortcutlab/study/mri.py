"""The MRI paper's experiments (Nakashima et al., MLHC 2023) on the study cache, one call each.

* :func:`contextual_bias`: Table 1, every condition in-domain on cm and acdc and transferred cm→acdc.
* :func:`table_mri`, :func:`paper_vs_run`: the tidy table and the paper's numbers beside it.
* :func:`saliency_vs_generalization`, :func:`correlations`: Figure 2, in-domain overlap vs AUC.
* :func:`contrastive_comparison`, :func:`per_class_overlap`: Tables 2 and 3 (SimCLR, MoCo, BYOL).

Every function trains through the :class:`~shortcutlab.study.Study` cache, so a notebook that needs a run another
notebook trained loads it in seconds.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..metrics import summarize
from .cache import Run, Study
from .reference import MRI_TABLE1, MRI_TABLE2, MRI_TABLE3
from .tables import format_ci

__all__ = ["MRI_CONDITIONS", "COHORT_LABEL", "contextual_bias", "table_mri", "paper_vs_run", "saliency_vs_generalization",
           "correlations", "contrastive_comparison", "supervised_only", "saliency_models", "per_class_overlap",
           "by_condition"]

MRI_CONDITIONS = ("zero", "full", "seg", "bg", "rand")
COHORT_LABEL = {"cm": "CM", "acdc": "ACDC", "cm→acdc": "CM→ACDC"}


def _train_condition(study: Study, cohort: str, cond: str, *, seed: int = 0, init=None, **kw) -> Run:
    """MRI vocabulary -> a study run: 'zero' is a linear probe on the preset's initial weights."""
    if cond == "zero":
        return study.run(cohort, "full", seed=seed, init=init, probe=True, **kw)
    return study.run(cohort, cond, seed=seed, init=init, **kw)


def contextual_bias(study: Study, *, conditions: Sequence[str] = MRI_CONDITIONS, cohorts: Sequence[str] = ("cm", "acdc"),
                    transfer: bool = True, seed: int = 0) -> dict[tuple[str, str], Run]:
    """Train (or load) every condition of MRI Table 1: in-domain on each cohort and CM→ACDC.

    CM→ACDC: the model trained on cm under the condition is finetuned on acdc under the same condition
    ('zero': its encoder stays frozen, a linear probe).
    """
    runs: dict[tuple[str, str], Run] = {}
    for cohort in cohorts:
        for cond in conditions:
            runs[(cohort, cond)] = _train_condition(study, cohort, cond, seed=seed)
    if transfer:
        for cond in conditions:
            src = runs.get(("cm", cond)) or _train_condition(study, "cm", cond, seed=seed)
            runs[("cm→acdc", cond)] = _train_condition(study, "acdc", cond, seed=seed, init=src)
    return runs


def table_mri(study: Study, runs: Mapping[tuple[str, str], Run], *, metrics: Sequence[str] = ("auc", "aks", "dsc"),
              decorrelated: bool = True) -> pd.DataFrame:
    """Tidy table like MRI Table 1: rows (metric, dataset), columns conditions; values mean, lo, hi.

    Adds 'AUC (cue decorrelated)' rows: the same models on new test patients whose spurious cue carries no
    class information. AKS and DSC rows also carry their floor (a uniform map: the heart's area share for AKS),
    their ceiling (the heart mask at the CAM layer's resolution and back) and the normalized score
    ``(value - floor) / (ceiling - floor)``, so a reader can tell a map that reads the heart from a blob.
    """
    rows = []
    for (cohort, cond), run in runs.items():
        ds = COHORT_LABEL.get(cohort, cohort)
        t = run.metrics["test"]
        if "auc" in metrics:
            rows.append(dict(metric="AUC", dataset=ds, condition=cond, mean=t["auc_micro"], lo=t["auc_micro_lo"],
                             hi=t["auc_micro_hi"], n_nan=0))
        if decorrelated and "test_decorrelated" in run.metrics:
            d = run.metrics["test_decorrelated"]
            rows.append(dict(metric="AUC (cue decorrelated)", dataset=ds, condition=cond, mean=d["auc_micro"],
                             lo=d["auc_micro_lo"], hi=d["auc_micro_hi"], n_nan=0))
        if {"aks", "dsc"} & set(metrics):
            ov = run.overlap()
            for k in ("aks", "dsc"):
                if k in metrics:
                    s = ov[k]
                    rows.append(dict(metric=k.upper(), dataset=ds, condition=cond, mean=s["mean"], lo=s["lo"],
                                     hi=s["hi"], n_nan=s["n_nan"], floor=s["floor"], ceiling=s["ceiling"],
                                     normalized=s["normalized"]))
    return pd.DataFrame(rows)


def paper_vs_run(table: pd.DataFrame, paper: str = "mri1") -> pd.DataFrame:
    """Wide table 'this run [CI] | paper' per (metric, dataset) and condition."""
    ref = {"mri1": MRI_TABLE1, "mri2": MRI_TABLE2, "mri3": MRI_TABLE3}[paper]
    out = {}
    for _, r in table.iterrows():
        key = (r["metric"], r["dataset"])
        paper_val = ref.get(key, {}).get(r["condition"])
        out.setdefault(key, {})[f"{r['condition']} (run)"] = format_ci(r["mean"], r["lo"], r["hi"])
        out[key][f"{r['condition']} (paper)"] = "–" if paper_val is None else f"{paper_val[0]:.3f} ± {paper_val[1]:.3f}"
    df = pd.DataFrame(out).T
    df.index = pd.MultiIndex.from_tuples(df.index, names=["metric", "dataset"])
    return df


def saliency_vs_generalization(study: Study, runs: Mapping[tuple[str, str], Run]) -> pd.DataFrame:
    """One row per model: overlap (AKS, DSC) and AUC in-domain, and for cm models the AUC on ACDC after
    transfer (MRI §4.3: in-domain overlap vs out-of-domain AUC)."""
    rows = []
    for (cohort, cond), run in runs.items():
        ov = run.overlap()
        row = dict(cohort=COHORT_LABEL.get(cohort, cohort), condition=cond, aks=ov["aks"]["mean"], dsc=ov["dsc"]["mean"],
                   auc=run.metrics["test"]["auc_micro"],
                   auc_decorrelated=run.metrics.get("test_decorrelated", {}).get("auc_micro", np.nan))
        if cohort == "cm" and ("cm→acdc", cond) in runs:
            row["auc_transfer"] = runs[("cm→acdc", cond)].metrics["test"]["auc_micro"]
        rows.append(row)
    return pd.DataFrame(rows)


def contrastive_comparison(study: Study, *, methods: Sequence[str] | None = None, seed: int = 0,
                           probe: bool = False) -> dict[tuple[str, str], Any]:
    """MRI Table 2: Full and Seg vs SimCLR / MoCo / BYOL pretrained on cm, evaluated on cm and CM→ACDC.

    A pretrained encoder is finetuned (``probe=False``) or linearly probed (``probe=True``) on cm, and
    transferred to acdc the same way.
    """
    methods = list(methods or study.cfg.contrastive.methods)
    runs: dict[tuple[str, str], Any] = {}
    for cond in ("full", "seg"):
        cm = study.run("cm", cond, seed=seed)
        runs[("cm", cond)] = cm
        runs[("cm→acdc", cond)] = study.run("acdc", cond, seed=seed, init=cm)
    for m in methods:
        pre = study.pretrain(m, "cm", seed=seed)
        runs[("pretrain", m)] = pre
        runs[("cm", m)] = study.run("cm", "full", seed=seed, init=pre, probe=probe)
        runs[("cm→acdc", m)] = study.run("acdc", "full", seed=seed, init=pre, probe=probe)
    return runs


def per_class_overlap(study: Study, runs: Mapping[tuple[str, str], Any], cohort: str = "cm") -> pd.DataFrame:
    """MRI Table 3: AKS and DSC per disease class (mean [CI], NaN maps counted) for every model on ``cohort``."""
    rows = []
    for (c, name), run in runs.items():
        if c != cohort or not isinstance(run, Run):
            continue
        res = run.cams()
        labels = np.repeat(res["labels"][:, None], res["metrics"]["aks"].shape[1], 1)
        for k in ("aks", "dsc"):
            s = summarize(res["metrics"][k], groups=labels, group_names=run.spec["class_names"],
                          n_boot=study.cfg.metrics.n_bootstrap, seed=study.cfg.metrics.seed)
            for cls, v in s["by_group"].items():
                rows.append(dict(metric=k.upper(), dataset=cls, condition=name, mean=v["mean"], lo=v["lo"], hi=v["hi"],
                                 n_nan=v["n_nan"]))
    return pd.DataFrame(rows)


def by_condition(runs: Mapping[tuple[str, str], Any], cohort: str, conditions: Sequence[str] | None = None
                 ) -> dict[str, Any]:
    """``{condition: run}`` of one cohort (``cm``, ``acdc``, ``cm→acdc``) out of a ``{(cohort, condition): run}``
    dict, in the order of ``conditions`` (default: all of that cohort's)."""
    names = [c for (co, c) in runs if co == cohort] if conditions is None else list(conditions)
    return {c: runs[(cohort, c)] for c in names}


def saliency_models(study: Study, *, seed: int = 0) -> dict[tuple[str, str], Run]:
    """Every supervised MRI model of notebook 02: Table 1's conditions and Table 2's pretrained encoders."""
    runs = contextual_bias(study, seed=seed)
    runs.update(supervised_only(contrastive_comparison(study, seed=seed)))
    return runs


def supervised_only(runs: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], Run]:
    """The supervised runs of :func:`contrastive_comparison` (its ``("pretrain", method)`` entries left out)."""
    return {k: v for k, v in runs.items() if k[0] != "pretrain"}


def correlations(df: pd.DataFrame, pairs: Sequence[tuple[str, str]] = (("aks", "auc"), ("aks", "auc_decorrelated"))
                 ) -> pd.DataFrame:
    """Pearson r with its Fisher-z CI for each (x, y) column pair of :func:`saliency_vs_generalization`."""
    from ..metrics import correlation_ci

    rows = []
    for x, y in pairs:
        if df[y].isna().all():  # e.g. auc_decorrelated on real data: no such test set, no row
            continue
        c = correlation_ci(df[x], df[y])
        rows.append(dict(x=x, y=y, **c))
    return pd.DataFrame(rows).set_index(["x", "y"])
