"""The papers' experiments as one call each, for the notebooks (tables, figures, claims).

MRI paper (Nakashima et al. 2023): :func:`contextual_bias` (Table 1), :func:`saliency_vs_generalization`
(Figure 2), :func:`contrastive_comparison` (Tables 2-3, Figure 3).
BackMix paper (Bransby et al. 2024): :func:`backmix_comparison` (Table 1), :func:`semi_supervised` (Table 2),
:func:`mask_subset_ablation`.
Every function trains through the :class:`~shortcutlab.study.Study` cache, so a notebook that needs a
condition another notebook trained loads it in seconds.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import summarize
from .reference import (BACKMIX_TABLE1, BACKMIX_TABLE1_COLUMNS, BACKMIX_TABLE2, BACKMIX_TABLE2_COLUMNS, MRI_TABLE1,
                        MRI_TABLE2, MRI_TABLE3)
from .saliency import cams_for
from .study import Run, Study

__all__ = ["MRI_CONDITIONS", "contextual_bias", "overlap", "table_mri", "paper_vs_run", "plot_auc_bars",
           "saliency_vs_generalization", "plot_saliency_vs_auc", "contrastive_comparison", "per_class_overlap",
           "saliency_examples", "plot_pretrain_losses", "plot_backmix", "paper_vs_run_backmix", "backmix_comparison", "table_backmix", "semi_supervised", "table_semi",
           "plot_semi", "mask_subset_ablation", "shortcut_dial", "plot_dial", "claims_mri", "claims_backmix", "format_ci"]

MRI_CONDITIONS = ("zero", "full", "seg", "bg", "rand")
_COHORT_LABEL = {"cm": "CM", "acdc": "ACDC", "cm→acdc": "CM→ACDC"}


def format_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    if mean != mean:
        return "–"
    if lo != lo:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


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


def overlap(study: Study, run: Run, eval_set: str = "test") -> dict[str, Any]:
    """Mean ± CI of AKS, DSC, %E, %F over the frames of the first ``saliency.max_images`` images."""
    res = cams_for(study, run, eval_set)
    m = study.cfg.metrics
    out = {}
    for k, v in res["metrics"].items():
        out[k] = summarize(v, n_boot=m.n_bootstrap, ci=m.ci, seed=m.seed)
    return out


def table_mri(study: Study, runs: Mapping[tuple[str, str], Run], *, metrics: Sequence[str] = ("auc", "aks", "dsc"),
              decorrelated: bool = True) -> pd.DataFrame:
    """Tidy table like MRI Table 1: rows (metric, dataset), columns conditions; values mean, lo, hi.

    Adds 'AUC (cue decorrelated)' rows: the same models on new test patients whose spurious cue carries no
    class information.
    """
    rows = []
    for (cohort, cond), run in runs.items():
        ds = _COHORT_LABEL.get(cohort, cohort)
        t = run.metrics["test"]
        if "auc" in metrics:
            rows.append(dict(metric="AUC", dataset=ds, condition=cond, mean=t["auc_micro"], lo=t["auc_micro_lo"],
                             hi=t["auc_micro_hi"], n_nan=0))
        if decorrelated and "test_decorrelated" in run.metrics:
            d = run.metrics["test_decorrelated"]
            rows.append(dict(metric="AUC (cue decorrelated)", dataset=ds, condition=cond, mean=d["auc_micro"],
                             lo=d["auc_micro_lo"], hi=d["auc_micro_hi"], n_nan=0))
        if {"aks", "dsc"} & set(metrics):
            ov = overlap(study, run)
            for k in ("aks", "dsc"):
                if k in metrics:
                    s = ov[k]
                    rows.append(dict(metric=k.upper(), dataset=ds, condition=cond, mean=s["mean"], lo=s["lo"],
                                     hi=s["hi"], n_nan=s["n_nan"]))
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


def plot_auc_bars(table: pd.DataFrame, *, title: str = ""):
    """Bar plot of AUC with the cue as in training vs decorrelated, per dataset and condition, with CIs."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    df = table[table["metric"].str.startswith("AUC")].copy()
    datasets = list(dict.fromkeys(df["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.2), squeeze=False, sharey=True)
    for ax, ds in zip(axes[0], datasets):
        d = df[df["dataset"] == ds]
        sns.barplot(data=d, x="condition", y="mean", hue="metric", ax=ax, errorbar=None)
        conds = list(dict.fromkeys(d["condition"]))
        hues = list(dict.fromkeys(d["metric"]))
        width = 0.8 / len(hues)
        for hi, h in enumerate(hues):
            for ci, c in enumerate(conds):
                row = d[(d["condition"] == c) & (d["metric"] == h)]
                if len(row) and row["lo"].iloc[0] == row["lo"].iloc[0]:
                    x = ci - 0.4 + width * (hi + 0.5)
                    m = row["mean"].iloc[0]
                    ax.errorbar(x, m, yerr=[[m - row["lo"].iloc[0]], [row["hi"].iloc[0] - m]], color="k", lw=1, capsize=2)
        ax.axhline(0.5, ls=":", color="grey", lw=1)
        ax.set_title(ds)
        ax.set_ylim(0.3, 1.02)
        ax.set_ylabel("micro AUC")
        ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def saliency_vs_generalization(study: Study, runs: Mapping[tuple[str, str], Run]) -> pd.DataFrame:
    """One row per model: overlap (AKS, DSC) and AUC in-domain, and for cm models the AUC on ACDC after
    transfer (MRI §4.3: in-domain overlap vs out-of-domain AUC)."""
    rows = []
    for (cohort, cond), run in runs.items():
        ov = overlap(study, run)
        row = dict(cohort=_COHORT_LABEL.get(cohort, cohort), condition=cond, aks=ov["aks"]["mean"], dsc=ov["dsc"]["mean"],
                   auc=run.metrics["test"]["auc_micro"],
                   auc_decorrelated=run.metrics.get("test_decorrelated", {}).get("auc_micro", np.nan))
        if cohort == "cm" and ("cm→acdc", cond) in runs:
            row["auc_transfer"] = runs[("cm→acdc", cond)].metrics["test"]["auc_micro"]
        rows.append(row)
    return pd.DataFrame(rows)


def plot_saliency_vs_auc(df: pd.DataFrame, x: str = "aks", y: str = "auc", *, hue: str = "cohort", title: str = ""):
    """Seaborn scatter with a regression line (MRI Figure 2) and the correlation in the title."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .metrics import correlation_ci

    d = df.dropna(subset=[x, y])
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    sns.regplot(data=d, x=x, y=y, ax=ax, scatter=False, color="grey", ci=None, line_kws={"lw": 1})
    sns.scatterplot(data=d, x=x, y=y, hue=hue, style="condition", ax=ax, s=60)
    c = correlation_ci(d[x], d[y])
    ax.set_title((title + "\n" if title else "") + f"r = {c['r']:.2f} [{c['lo']:.2f}, {c['hi']:.2f}] (Fisher z), n = {c['n']}",
                 fontsize=9)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    return fig


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
        res = cams_for(study, run)
        labels = np.repeat(res["labels"][:, None], res["metrics"]["aks"].shape[1], 1)
        for k in ("aks", "dsc"):
            s = summarize(res["metrics"][k], groups=labels, group_names=run.spec["class_names"],
                          n_boot=study.cfg.metrics.n_bootstrap, seed=study.cfg.metrics.seed)
            for cls, v in s["by_group"].items():
                rows.append(dict(metric=k.upper(), dataset=cls, condition=name, mean=v["mean"], lo=v["lo"], hi=v["hi"],
                                 n_nan=v["n_nan"]))
    return pd.DataFrame(rows)


def saliency_examples(study: Study, runs: Mapping[str, Run], eval_set: str = "test", n: int = 5, frame: int = 0,
                      title: str = ""):
    """A saliency grid (rows: the first ``n`` images; columns: models), MRI Fig. 3 / BackMix Figs. 4-5."""
    from .saliency import saliency_grid

    first = next(iter(runs.values()))
    ds = study.data(first.cohort)[eval_set]
    cams = {name: cams_for(study, r, eval_set)["cams"][:n].astype(np.float32) for name, r in runs.items()}
    k = min(n, len(ds))
    titles = [ds.class_names[int(c)] for c in ds.labels[:k]]
    return saliency_grid(ds.images[:k].numpy(), cams, ds.masks[:k].numpy(), frame=frame, row_titles=titles, title=title)


# ------------------------------------------------------------------------------------------ BackMix
BACKMIX_CONDITIONS = ("baseline", "black", "noise", "shuffle", "bokeh", "cutmix", "sma", "backmix")


def backmix_comparison(study: Study, *, conditions: Sequence[str] = BACKMIX_CONDITIONS,
                       seeds: Sequence[int] | None = None) -> dict[str, list[Run]]:
    """BackMix Table 1: each condition on the echo phantom with several seeds."""
    seeds = list(seeds or study.cfg.train.seeds)
    return {c: [study.run("echo", c, seed=s) for s in seeds] for c in conditions}


def _echo_row(study: Study, runs: Sequence[Run], eval_set: str) -> dict[str, float]:
    acc = [r.metrics[eval_set]["accuracy"] * 100 for r in runs]
    f1 = [r.metrics[eval_set]["f1"] * 100 for r in runs]
    prec = [r.metrics[eval_set]["precision"] * 100 for r in runs]
    rec = [r.metrics[eval_set]["recall"] * 100 for r in runs]
    pe, pf, nan = [], [], 0
    for r in runs:
        ov = overlap(study, r, eval_set)
        pe.append(ov["pct_e"]["mean"] * 100)
        pf.append(ov["pct_f"]["mean"] * 100)
        nan += ov["pct_e"]["n_nan"] + ov["pct_f"]["n_nan"]
    from .metrics import mean_ci_across

    out = {}
    for k, v in (("accuracy", acc), ("precision", prec), ("recall", rec), ("f1", f1), ("pct_e", pe), ("pct_f", pf)):
        m = mean_ci_across(v)
        out[k], out[f"{k}_lo"], out[f"{k}_hi"] = m["mean"], m["lo"], m["hi"]
    out["n_seeds"] = len(runs)
    out["n_nan_maps"] = nan
    return out


def table_backmix(study: Study, runs: Mapping[str, Sequence[Run]]) -> pd.DataFrame:
    """Accuracy, F1, %E, %F (percent; mean and CI across seeds) on the i.d. test set and the o.o.d. sites."""
    rows = []
    for cond, rs in runs.items():
        for split, label in (("test", "id"), ("ood", "ood")):
            r = _echo_row(study, rs, split)
            rows.append(dict(condition=cond, split=label, **r))
    return pd.DataFrame(rows)


def paper_vs_run_backmix(table: pd.DataFrame) -> pd.DataFrame:
    """Wide 'run | paper' table for BackMix Table 1."""
    out = {}
    for _, r in table.iterrows():
        ref = BACKMIX_TABLE1.get(r["condition"])
        for k in ("accuracy", "f1", "pct_e", "pct_f"):
            col = f"{r['split']}_{k}"
            pv = ref[BACKMIX_TABLE1_COLUMNS.index(col)] if ref else np.nan
            out.setdefault(r["condition"], {})[f"{col} (run)"] = format_ci(r[k], r[f"{k}_lo"], r[f"{k}_hi"], 1)
            out[r["condition"]][f"{col} (paper)"] = "–" if pv != pv else f"{pv:.1f}"
    return pd.DataFrame(out).T


def semi_supervised(study: Study, *, fractions: Sequence[float] = (1.0, 0.5, 0.2, 0.1, 0.05, 0.01),
                    lambdas: Sequence[float] = (1.0, 2.0), wf: float = 0.05, seeds: Sequence[int] | None = None
                    ) -> dict[tuple[str, float, float], list[Run]]:
    """BackMix Table 2: BackMix at mask fraction f, wBackMix (lambda) at f = wf, and the baseline."""
    import warnings

    from ._validation import check_number, param_error

    for name, values, lo_open in (("fractions", fractions, True), ("lambdas", lambdas, False)):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise param_error(name, "semi_supervised", "a non-empty list of numbers", values)
    fractions = [check_number(f, name="fractions", where="semi_supervised", lo=0, hi=1, lo_open=True) for f in fractions]
    wf = check_number(wf, name="wf", where="semi_supervised", lo=0, hi=1, lo_open=True)
    lambdas = [check_number(v, name="lambdas", where="semi_supervised", lo=0, hi=1 / wf) for v in lambdas]
    seeds = list(seeds or study.cfg.train.seeds)
    n_train = len(study.data("echo")["train"])
    runs = {("baseline", 0.0, 0.0): [study.run("echo", "baseline", seed=s) for s in seeds]}
    for f in fractions:
        if round(f * n_train) < 2:
            warnings.warn(f"semi_supervised: skipped f = {f}: it leaves {round(f * n_train)} masked image(s) of "
                          f"{n_train} at this preset, and BackMix needs at least 2 donors.", stacklevel=2)
            continue
        runs[("backmix", f, 0.0)] = [study.run("echo", "backmix", seed=s, f=f) for s in seeds]
    for lam in lambdas:
        runs[("wbackmix", wf, lam)] = [study.run("echo", "backmix", seed=s, f=wf, lam=lam) for s in seeds]
    return runs


def table_semi(study: Study, runs: Mapping[tuple, Sequence[Run]], eval_set: str = "ood") -> pd.DataFrame:
    """Accuracy, precision, recall, F1, %E, %F (percent) per (method, f, lambda), with the paper beside it."""
    rows = []
    for (method, f, lam), rs in runs.items():
        r = _echo_row(study, rs, eval_set)
        ref = BACKMIX_TABLE2.get((method, f, lam))
        row = dict(method=method, f=f, lam=lam, **{k: r[k] for k in ("accuracy", "precision", "recall", "f1", "pct_e", "pct_f")})
        for k in ("accuracy", "f1", "pct_e", "pct_f"):
            row[f"{k}_lo"], row[f"{k}_hi"] = r[f"{k}_lo"], r[f"{k}_hi"]
            row[f"paper_{k}"] = ref[BACKMIX_TABLE2_COLUMNS.index(k)] if ref else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def plot_semi(table: pd.DataFrame):
    """Metrics against the mask fraction f (log scale), BackMix rows, with the baseline as a line."""
    import matplotlib.pyplot as plt

    d = table[table["method"] == "backmix"].sort_values("f")
    base = table[table["method"] == "baseline"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, keys in zip(axes, (("accuracy", "f1"), ("pct_e", "pct_f"))):
        for k in keys:
            ax.plot(d["f"], d[k], marker="o", label=k)
            if len(base):
                ax.axhline(float(base[k].iloc[0]), ls=":", lw=1, color=ax.lines[-1].get_color())
        ax.set_xscale("log")
        ax.set_xlabel("mask fraction f")
        ax.set_ylabel("percent (o.o.d.)")
        ax.legend(fontsize=7)
    axes[0].set_title("classification (dotted: baseline)", fontsize=9)
    axes[1].set_title("focus inside the sector", fontsize=9)
    fig.tight_layout()
    return fig


def mask_subset_ablation(study: Study, *, f: float = 0.05, subsets: Iterable[int] = range(5), seed: int = 0,
                         eval_set: str = "ood") -> pd.DataFrame:
    """Same seed, different non-overlapping masked subsets (BackMix §3.3 ablation): metrics per subset and their SD."""
    rows = []
    for k in subsets:
        r = study.run("echo", "backmix", seed=seed, f=f, mask_subset=int(k))
        ov = overlap(study, r, eval_set)
        m = r.metrics[eval_set]
        rows.append(dict(subset=k, accuracy=m["accuracy"] * 100, f1=m["f1"] * 100, pct_e=ov["pct_e"]["mean"] * 100,
                         pct_f=ov["pct_f"]["mean"] * 100))
    df = pd.DataFrame(rows).set_index("subset")
    return df


# ------------------------------------------------------------------------------------------ claims
def claims_mri(study: Study, runs: Mapping[tuple[str, str], Run]) -> pd.DataFrame:
    """The directions the phantom is built to show (and the paper reports), each with its numbers."""
    def m(key, split="test"):
        return runs[key].metrics[split]["auc_micro"]

    rows = []
    bg = runs[("cm", "bg")].metrics["test"]
    rows.append(dict(claim="BG-only AUC above chance (cm)", value=bg["auc_micro"], reference=0.5,
                     holds=bg["auc_micro_lo"] > 0.5))
    drop_full = m(("cm", "full")) - m(("cm", "full"), "test_decorrelated")
    drop_seg = m(("cm", "seg")) - m(("cm", "seg"), "test_decorrelated")
    rows.append(dict(claim="Full drops more than Seg when the cue is decorrelated (cm)", value=drop_full,
                     reference=drop_seg, holds=drop_full > drop_seg))
    aks_full = overlap(study, runs[("cm", "full")])["aks"]["mean"]
    aks_seg = overlap(study, runs[("cm", "seg")])["aks"]["mean"]
    rows.append(dict(claim="Seg has higher AKS than Full (cm)", value=aks_seg, reference=aks_full, holds=aks_seg > aks_full))
    if ("cm", "rand") in runs:
        aks_rand = overlap(study, runs[("cm", "rand")])["aks"]["mean"]
        rows.append(dict(claim="Rand has higher AKS than Full (cm)", value=aks_rand, reference=aks_full,
                         holds=aks_rand > aks_full))
        rows.append(dict(claim="Rand generalizes better than Full when the cue is decorrelated (cm)",
                         value=m(("cm", "rand"), "test_decorrelated"), reference=m(("cm", "full"), "test_decorrelated"),
                         holds=m(("cm", "rand"), "test_decorrelated") > m(("cm", "full"), "test_decorrelated")))
    if ("cm", "seg") in runs and ("cm", "full") in runs:
        rows.append(dict(claim="Seg beats Full in-distribution (cm; the paper: no, Full 0.833 vs Seg 0.806)",
                         value=m(("cm", "seg")), reference=m(("cm", "full")), holds=m(("cm", "seg")) > m(("cm", "full"))))
    return pd.DataFrame(rows)


def claims_backmix(study: Study, runs: Mapping[str, Sequence[Run]], semi: Mapping | None = None) -> pd.DataFrame:
    rows = []
    base_id = _echo_row(study, runs["baseline"], "test")
    bm_id = _echo_row(study, runs["backmix"], "test")
    base_ood = _echo_row(study, runs["baseline"], "ood")
    bm_ood = _echo_row(study, runs["backmix"], "ood")
    rows.append(dict(claim="BackMix %E exceeds Baseline's (i.d.)", value=bm_id["pct_e"], reference=base_id["pct_e"],
                     holds=bm_id["pct_e"] > base_id["pct_e"]))
    rows.append(dict(claim="BackMix o.o.d. accuracy not below Baseline's", value=bm_ood["accuracy"],
                     reference=base_ood["accuracy"], holds=bm_ood["accuracy"] >= base_ood["accuracy"]))
    rows.append(dict(claim="Baseline i.d. accuracy >= BackMix i.d. accuracy (shortcut helps i.d.)",
                     value=base_id["accuracy"], reference=bm_id["accuracy"], holds=base_id["accuracy"] >= bm_id["accuracy"]))
    if semi is not None and ("backmix", 0.05, 0.0) in semi:
        f05 = _echo_row(study, semi[("backmix", 0.05, 0.0)], "test")
        rows.append(dict(claim="BackMix at f = 0.05 keeps %E above Baseline's (i.d.)", value=f05["pct_e"],
                         reference=base_id["pct_e"], holds=f05["pct_e"] > base_id["pct_e"]))
    return pd.DataFrame(rows)



def plot_pretrain_losses(pretrain_runs: Sequence[Any]):
    """Contrastive loss per epoch of each pretraining run (each method has its own scale)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pretrain_runs), figsize=(3.2 * len(pretrain_runs), 2.6), squeeze=False)
    for ax, r in zip(axes[0], pretrain_runs):
        ax.plot([h["epoch"] for h in r.history], [h["loss"] for h in r.history], marker="o")
        ax.set_title(r.method, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
    fig.tight_layout()
    return fig


def plot_backmix(table: pd.DataFrame):
    """Bars per condition: accuracy (i.d. vs o.o.d.) and %E / %F (i.d.), percent."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
    sns.barplot(data=table, x="condition", y="accuracy", hue="split", ax=axes[0], errorbar=None)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].set_ylim(max(0, float(table["accuracy"].min()) - 10), 100)
    focus = table[table["split"] == "id"].melt(id_vars="condition", value_vars=["pct_e", "pct_f"], var_name="metric")
    sns.barplot(data=focus, x="condition", y="value", hue="metric", ax=axes[1], errorbar=None)
    axes[1].set_ylabel("percent inside the sector (i.d.)")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    return fig


def shortcut_dial(study: Study, *, strengths: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0),
                  conditions: Sequence[str] = ("full", "seg", "rand"), method: str | None = "moco",
                  seed: int = 0) -> pd.DataFrame:
    """Sweep the spurious-cue strength of the cm phantom (beyond the papers).

    For each strength and condition (plus one contrastive method, finetuned): micro AUC with the cue as in
    training and decorrelated (with CIs), AKS (mean and CI), and the counterfactual background gap and flip
    rate (Xiao et al. 2020) on the test set.
    """
    from .saliency import counterfactual_background

    rows = []
    for st in strengths:
        runs = {c: study.run("cm", c, seed=seed, strength=float(st)) for c in conditions}
        if method:
            pre = study.pretrain(method, "cm", seed=seed, strength=float(st))
            runs[method] = study.run("cm", "full", seed=seed, init=pre, strength=float(st))
        data = study.data("cm", strength=float(st))
        for name, r in runs.items():
            t, d = r.metrics["test"], r.metrics["test_decorrelated"]
            ov = overlap(study, r)["aks"]
            cf = counterfactual_background(r.model(), data["test"], condition=r.condition, seed=seed,
                                           fill=r.spec["train"]["fill"])
            rows.append(dict(strength=float(st), condition=name, auc=t["auc_micro"], auc_lo=t["auc_micro_lo"],
                             auc_hi=t["auc_micro_hi"], auc_decorrelated=d["auc_micro"], auc_decorrelated_lo=d["auc_micro_lo"],
                             auc_decorrelated_hi=d["auc_micro_hi"], aks=ov["mean"], aks_lo=ov["lo"], aks_hi=ov["hi"],
                             aks_nan=ov["n_nan"], bg_gap=cf["bg_gap"], flip_rate=cf["flip_rate"]))
    return pd.DataFrame(rows)


def plot_dial(df: pd.DataFrame):
    """Four panels against the cue strength: AUC (cue as in training), AUC (decorrelated), AKS, BG-gap."""
    import matplotlib.pyplot as plt

    panels = (("auc", "AUC, cue as in training"), ("auc_decorrelated", "AUC, cue decorrelated"),
              ("aks", "AKS (saliency inside the heart)"), ("bg_gap", "BG-gap (mixed-same − mixed-rand acc.)"))
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.3))
    for ax, (col, title) in zip(axes, panels):
        for cond, d in df.groupby("condition", sort=False):
            d = d.sort_values("strength")
            ax.plot(d["strength"], d[col], marker="o", label=cond)
            if f"{col}_lo" in d:
                ax.fill_between(d["strength"], d[f"{col}_lo"], d[f"{col}_hi"], alpha=0.15)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("spurious-cue strength")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
