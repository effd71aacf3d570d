"""The MRI paper's experiments (Nakashima et al., MLHC 2023) on the study cache, one call each.

* :func:`contextual_bias`: Table 1, every condition in-domain on cm and acdc and transferred cm→acdc.
* :func:`table_mri`, :func:`paper_vs_run`: the tidy table and the paper's numbers beside it.
* :func:`saliency_vs_generalization`, :func:`correlations`: Figure 2, in-domain overlap vs AUC.
* :func:`contrastive_comparison`, :func:`per_class_overlap`: Tables 2 and 3 (SimCLR, MoCo, BYOL).

Every function trains through the :class:`~shortcutlab.study.Study` cache, so a notebook that needs a run another
notebook trained loads it in seconds.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..metrics import mean_ci_across, summarize
from .runs import Run, RunSet, experiment
from .study import Study
from .reference import MRI_TABLE1, MRI_TABLE2, MRI_TABLE3
from .tables import format_ci, over_seeds

__all__ = ["MRI_CONDITIONS", "COHORT_LABEL", "contextual_bias", "table_mri", "paper_vs_run", "saliency_vs_generalization",
           "correlations", "contrastive_comparison", "saliency_models", "per_class_overlap"]

MRI_CONDITIONS = ("zero", "full", "seg", "bg", "rand")
COHORT_LABEL = {"cm": "CM", "acdc": "ACDC", "cm→acdc": "CM→ACDC"}


def _train_condition(study: Study, cohort: str, cond: str, *, seed: int = 0, init=None, **kw) -> Run:
    """MRI vocabulary -> a study run: 'zero' is a linear probe on the preset's initial weights."""
    if cond == "zero":
        return study.run(cohort, "full", seed=seed, init=init, probe=True, **kw)
    return study.run(cohort, cond, seed=seed, init=init, **kw)


@experiment
def contextual_bias(study: Study, *, conditions: Sequence[str] = MRI_CONDITIONS, cohorts: Sequence[str] = ("cm", "acdc"),
                    transfer: bool = True, seeds: Sequence[int] | None = None) -> RunSet:
    """Train (or load) every condition of MRI Table 1 for each seed (default: the preset's ``train.seeds``):
    in-domain on each cohort and CM→ACDC. Returns a :class:`~shortcutlab.study.runs.RunSet` whose cohorts are
    ``cm``, ``acdc`` and ``cm→acdc`` and whose conditions are ``conditions``.

    CM→ACDC: the model trained on cm under the condition (same seed) is finetuned on acdc under the same
    condition ('zero': its encoder stays frozen, a linear probe).
    """
    runs = RunSet()
    for seed in study.seed_list(seeds, where="mri"):
        cm = {}
        for cohort in cohorts:
            for cond in conditions:
                run = runs.add(_train_condition(study, cohort, cond, seed=seed), cohort, cond, seed)
                if cohort == "cm":
                    cm[cond] = run
        if transfer:
            for cond in conditions:
                src = cm[cond] if "cm" in cohorts else _train_condition(study, "cm", cond, seed=seed)
                runs.add(_train_condition(study, "acdc", cond, seed=seed, init=src), "cm→acdc", cond, seed)
    return runs


def table_mri(study: Study, runs: RunSet, *, metrics: Sequence[str] = ("auc", "aks", "dsc"),
              decorrelated: bool = True, per_seed: bool = False) -> pd.DataFrame:
    """Tidy table like MRI Table 1: one row per (metric, dataset, condition) with ``mean``, ``lo``, ``hi``.

    ``runs``: a RunSet (:func:`contextual_bias`). ``mean`` is the mean over
    the seeds and ``lo``/``hi`` its t-interval across seeds (``ci`` says which; with one seed, the bootstrap CI
    over the test images). ``per_seed=True``: one row per seed instead (column ``seed``), each with its bootstrap
    CI over the test images.

    Adds rows on new test patients rendered three times with only the spurious cue changed (a phantom):
    'AUC (cue decorrelated)' (the cue random), 'AUC (cue agreeing)', 'AUC (cue conflicting)' (every cue points to
    another class: the worst group, Waterbirds' cue-conflict split) and 'Accuracy % (cue conflicting)'. AKS and DSC rows also carry their floor (a uniform map: the heart's area share for AKS),
    their ceiling (the heart mask at the CAM layer's resolution and back) and the normalized score
    ``(value - floor) / (ceiling - floor)``, so a reader can tell a map that reads the heart from a blob.
    """
    ci = study.cfg.metrics.ci
    seed_rows = []
    for (cohort, cond), group in runs.where(cohort=lambda c: c != "pretrain").by("cohort", "condition").items():
        ds = COHORT_LABEL.get(cohort, cohort)
        for run in group:
            base = dict(dataset=ds, condition=cond, seed=run.spec["seed"])
            t = run.metrics["test"]
            if "auc" in metrics:
                seed_rows.append(dict(metric="AUC", **base, mean=t["auc_micro"], lo=t["auc_micro_lo"],
                                      hi=t["auc_micro_hi"], n_nan=0))
            if decorrelated:
                for split, label in (("test_decorrelated", "decorrelated"), ("test_aligned", "agreeing"),
                                     ("test_conflict", "conflicting")):
                    if split in run.metrics:
                        d = run.metrics[split]
                        seed_rows.append(dict(metric=f"AUC (cue {label})", **base, mean=d["auc_micro"],
                                              lo=d["auc_micro_lo"], hi=d["auc_micro_hi"], n_nan=0))
                if "test_conflict" in run.metrics:  # the worst group: every patient's cue points elsewhere
                    acc = 100 * run.metrics["test_conflict"]["accuracy"]
                    seed_rows.append(dict(metric="Accuracy % (cue conflicting)", **base, mean=acc, lo=float("nan"),
                                          hi=float("nan"), n_nan=0))
            if {"aks", "dsc"} & set(metrics):
                ov = run.overlap()
                for k in ("aks", "dsc"):
                    if k in metrics:
                        o = ov[k]
                        seed_rows.append(dict(metric=k.upper(), **base, mean=o["mean"], lo=o["lo"], hi=o["hi"],
                                              n_nan=o["n_nan"], floor=o["floor"], ceiling=o["ceiling"],
                                              normalized=o["normalized"]))
    df = pd.DataFrame(seed_rows)
    return df if per_seed else _table_over_seeds(df, ci, ("floor", "ceiling", "normalized"))


def _table_over_seeds(df: pd.DataFrame, ci: float, means: Sequence[str] = ()) -> pd.DataFrame:
    """Per-seed rows (metric, dataset, condition, seed, mean, lo, hi, n_nan) -> one row per (metric, dataset,
    condition): :func:`~shortcutlab.study.tables.over_seeds` the seeds, NaN maps summed, and the plain mean of the ``means`` columns."""
    if df.empty:
        return df
    rows = []
    for (metric, ds, cond), g in df.groupby(["metric", "dataset", "condition"], sort=False):
        mean, lo, hi, how = over_seeds(g["mean"].tolist(), (g["lo"].iloc[0], g["hi"].iloc[0]), ci)
        row = dict(metric=metric, dataset=ds, condition=cond, mean=mean, lo=lo, hi=hi, n_seeds=len(g), ci=how,
                   n_nan=int(g["n_nan"].sum()))
        for k in means:
            if k in g and g[k].notna().any():
                row[k] = float(g[k].mean())
        rows.append(row)
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


def saliency_vs_generalization(study: Study, runs: RunSet, *, per_seed: bool = False
                               ) -> pd.DataFrame:
    """One row per model: overlap (AKS, DSC) and AUC in-domain, and for cm models the AUC on ACDC after
    transfer (MRI §4.3: in-domain overlap vs out-of-domain AUC). Values are means over the seeds, each with its
    t-interval across seeds (``<column>_lo``, ``<column>_hi``; none with one seed); ``per_seed=True``: one row
    per model and seed."""
    rows = []
    for (cohort, cond), group in runs.where(cohort=lambda c: c != "pretrain").by("cohort", "condition").items():
        transfer = runs.where(cohort="cm→acdc", condition=cond).by("seed") if cohort == "cm" else {}
        for seed, run in zip(group.seeds, group):
            ov = run.overlap()
            row = dict(cohort=COHORT_LABEL.get(cohort, cohort), condition=cond, seed=run.spec["seed"],
                       aks=ov["aks"]["mean"], dsc=ov["dsc"]["mean"], auc=run.metrics["test"]["auc_micro"],
                       auc_decorrelated=run.metrics.get("test_decorrelated", {}).get("auc_micro", np.nan))
            if transfer:
                row["auc_transfer"] = transfer[seed].one().metrics["test"]["auc_micro"]
            rows.append(row)
    df = pd.DataFrame(rows)
    if per_seed or df.empty:
        return df
    values = [c for c in ("aks", "dsc", "auc", "auc_decorrelated", "auc_transfer") if c in df]
    out = []
    ci = study.cfg.metrics.ci
    for (cohort, cond), g in df.groupby(["cohort", "condition"], sort=False):
        row = dict(cohort=cohort, condition=cond, n_seeds=len(g))
        for c in values:
            m = mean_ci_across(g[c].tolist(), ci)
            row[c] = m["mean"] if m["n"] else np.nan
            if len(g) > 1:
                row[f"{c}_lo"], row[f"{c}_hi"] = m["lo"], m["hi"]
        out.append(row)
    return pd.DataFrame(out)


@experiment
def contrastive_comparison(study: Study, *, methods: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
                           probe: bool = False) -> RunSet:
    """MRI Table 2: Full and Seg vs SimCLR / MoCo / BYOL pretrained on cm, evaluated on cm and CM→ACDC, for each
    seed (default: the preset's ``train.seeds``). Returns a RunSet: cohorts ``cm`` and ``cm→acdc`` with the
    conditions ``full``, ``seg`` and each method's name, and cohort ``pretrain`` with each method's pretraining.

    A pretrained encoder is finetuned (``probe=False``) or linearly probed (``probe=True``) on cm, and
    transferred to acdc the same way.
    """
    methods = list(methods or study.cfg.contrastive.methods)
    runs = RunSet()
    for seed in study.seed_list(seeds, where="mri"):
        for cond in ("full", "seg"):
            cm = runs.add(study.run("cm", cond, seed=seed), "cm", cond, seed)
            runs.add(study.run("acdc", cond, seed=seed, init=cm), "cm→acdc", cond, seed)
        for m in methods:
            pre = runs.add(study.pretrain(m, "cm", seed=seed), "pretrain", m, seed)
            runs.add(study.run("cm", "full", seed=seed, init=pre, probe=probe), "cm", m, seed)
            runs.add(study.run("acdc", "full", seed=seed, init=pre, probe=probe), "cm→acdc", m, seed)
    return runs


def per_class_overlap(study: Study, runs: RunSet, cohort: str = "cm", *,
                      per_seed: bool = False) -> pd.DataFrame:
    """MRI Table 3: AKS and DSC per disease class for every model on ``cohort``: the mean over seeds of each
    seed's class mean, with its t-interval across seeds (with one seed: the bootstrap CI over that class's test
    images; NaN maps counted in ``n_nan``). ``per_seed=True``: one row per seed with its bootstrap CI."""
    ci = study.cfg.metrics.ci
    rows = []
    for name, group in runs.where(cohort=cohort).by("condition").items():
        for run in group:
            res = run.cams()
            labels = np.repeat(res["labels"][:, None], res["metrics"]["aks"].shape[1], 1)
            for k in ("aks", "dsc"):
                s = summarize(res["metrics"][k], groups=labels, group_names=run.spec["class_names"],
                              n_boot=study.cfg.metrics.n_bootstrap, seed=study.cfg.metrics.seed)
                for cls, v in s["by_group"].items():
                    rows.append(dict(metric=k.upper(), dataset=cls, condition=name, seed=run.spec["seed"],
                                     mean=v["mean"], lo=v["lo"], hi=v["hi"], n_nan=v["n_nan"]))
    df = pd.DataFrame(rows)
    return df if per_seed else _table_over_seeds(df, ci)


@experiment
def saliency_models(study: Study, *, seeds: Sequence[int] | None = None) -> RunSet:
    """Every supervised MRI model of notebook 02, for each seed: Table 1's conditions and Table 2's pretrained
    encoders (their pretrainings left out)."""
    return contextual_bias(study, seeds=seeds) + contrastive_comparison(study, seeds=seeds).where(
        cohort=lambda c: c != "pretrain")


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
