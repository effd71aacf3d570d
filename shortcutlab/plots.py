"""Every figure of the study, each a function that returns a matplotlib figure.

* The phantoms (notebook 00): :func:`cue_gallery`, :func:`ed_es_figure`, :func:`echo_sites_figure`,
  :func:`plot_calibration`.
* The MRI paper: :func:`plot_auc_bars`, :func:`plot_saliency_vs_auc`, :func:`plot_pretrain_losses`.
* BackMix: :func:`plot_backmix`, :func:`plot_semi`.
* The dial: :func:`plot_dial`.
* Saliency cases: :func:`saliency_examples` (a grid of runs' maps), :func:`render_case`,
  :func:`gallery` (the static twin of the saliency browser).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ._validation import ShortcutlabError, check_choice, param_error
from .data.phantoms import make_cmr, make_echo
from .saliency.cases import case_data, select_cases
from .saliency.draw import overlay, saliency_grid

__all__ = ["cue_gallery", "ed_es_figure", "echo_sites_figure", "plot_calibration", "plot_auc_bars", "plot_saliency_vs_auc",
           "plot_pretrain_losses", "plot_backmix", "plot_semi", "plot_dial", "saliency_examples",
           "render_case", "gallery", "named_runs"]



def cue_gallery(size: int = 96, seed: int = 0):
    """One patient per row with the spurious cue off / on for each kind, and the systemic sign (AMYL)."""
    import matplotlib.pyplot as plt

    kinds = ["none", "marker", "habitus", "artifact"]
    fig, axes = plt.subplots(2, len(kinds) + 1, figsize=(2.0 * (len(kinds) + 1), 4.3))
    for row, label in enumerate((0, 3)):  # NICM, HCM
        for j, kind in enumerate(kinds):
            s = make_cmr("cm", 4, size, spurious=kind, strength=1.0, seed=seed, labels=[label] * 4)
            ax = axes[row, j]
            ax.imshow(s.images[0, 0], cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{s.class_names[label]} · cue: {kind}", fontsize=7)
            ax.axis("off")
    for row, systemic in enumerate((False, True)):
        s = make_cmr("cm", 4, size, spurious="none", systemic=systemic, seed=seed, labels=[2] * 4)
        i = int(np.argmax(s.meta["effusion"].numpy())) if systemic else 0
        ax = axes[row, -1]
        ax.imshow(s.images[i, 0], cmap="gray", vmin=0, vmax=255)
        ax.contour(s.masks[i, 0].numpy().astype(float), levels=[0.5], colors="lime", linewidths=0.6)
        ax.set_title(f"AMYL · systemic {'on' if systemic else 'off'}", fontsize=7)
        ax.axis("off")
    fig.suptitle("Spurious cues (agree with the class: strength 1) and the legitimate systemic sign", fontsize=9)
    fig.tight_layout()
    return fig


def ed_es_figure(size: int = 96, seed: int = 0):
    """ED and ES of one patient per class with the heart mask: ejection and wall thickening."""
    import matplotlib.pyplot as plt

    s = make_cmr("cm", 8, size, spurious="none", seed=seed)
    fig, axes = plt.subplots(2, s.num_classes, figsize=(2.0 * s.num_classes, 4.2))
    for c in range(s.num_classes):
        i = int(np.flatnonzero(s.labels.numpy() == c)[0])
        for f in range(2):
            ax = axes[f, c]
            ax.imshow(s.images[i, f], cmap="gray", vmin=0, vmax=255)
            ax.contour(s.masks[i, f].numpy().astype(float), levels=[0.5], colors="lime", linewidths=0.6)
            ax.set_title(f"{s.class_names[c]} · {s.frame_names[f]} · EF {float(s.meta['ef'][i]):.2f}", fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def echo_sites_figure(size: int = 112, seed: int = 0, overlay_strength: float = 1.0):
    """Echo phantom: the four views at the i.d. site (overlays agree with the view) and at o.o.d. sites."""
    import matplotlib.pyplot as plt

    a = make_echo("id", 8, size, overlay_strength=overlay_strength, seed=seed)
    b = make_echo("ood", 8, size, seed=seed)
    fig, axes = plt.subplots(2, 4, figsize=(8, 4.3))
    for row, s in enumerate((a, b)):
        for c in range(4):
            i = int(np.flatnonzero(s.labels.numpy() == c)[0])
            ax = axes[row, c]
            ax.imshow(s.images[i, 0], cmap="gray", vmin=0, vmax=255)
            ax.contour(s.masks[i, 0].numpy().astype(float), levels=[0.5], colors="lime", linewidths=0.5)
            ax.set_title(f"{'i.d.' if row == 0 else 'o.o.d. site ' + str(int(s.meta['site'][i]))} · {s.class_names[c]}",
                         fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def _absent(df):
    """The table's absence carried over to its figure (:mod:`shortcutlab._absent`), or None."""
    from ._absent import Absent, absent_reason

    reason = absent_reason(df)
    return None if reason is None else Absent(reason)


def plot_calibration(df, title: str = "Linear probe on pixels (macro AUC)"):
    """Probe AUC of heart-only / background-only / full images against the cue strength."""
    import matplotlib.pyplot as plt

    if (gone := _absent(df)) is not None:
        return gone

    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for col, style in zip(("seg", "bg", "full"), ("-o", "-s", "-^")):
        ax.plot(df.index, df[col], style, label={"seg": "heart only", "bg": "background only", "full": "full image"}[col])
    ax.axhline(0.5, ls=":", color="grey", lw=1)
    ax.set_xlabel("spurious-cue strength")
    ax.set_ylabel("macro AUC")
    ax.set_ylim(0.4, 1.0)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_auc_bars(table: pd.DataFrame, *, title: str = ""):
    """Bar plot of AUC on each test set (the cue as in training; on the paired patients decorrelated, agreeing and
    conflicting), per dataset and condition, with CIs."""
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


def plot_saliency_vs_auc(df: pd.DataFrame, x: str = "aks", y: str = "auc", *, hue: str = "cohort", title: str = "",
                         cohort: str | None = None):
    """Seaborn scatter with a regression line (MRI Figure 2) and the correlation in the title; ``cohort``
    keeps only that cohort's rows (e.g. ``"CM"`` for CM AKS vs CM→ACDC AUC). With ``<x>_lo``/``<x>_hi`` and
    ``<y>_lo``/``<y>_hi`` columns (means over seeds, :func:`~shortcutlab.study.mri.saliency_vs_generalization`)
    each point carries its t-intervals as error bars."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .metrics import correlation_ci

    d = df.dropna(subset=[x, y])
    if cohort is not None:
        d = d[d["cohort"] == cohort]
    if y == "auc_decorrelated" and df[y].isna().all():
        from ._absent import Absent
        from .data.sources import PHANTOM_ONLY

        return Absent(PHANTOM_ONLY["test_decorrelated"])
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    sns.regplot(data=d, x=x, y=y, ax=ax, scatter=False, color="grey", ci=None, line_kws={"lw": 1})
    if {f"{x}_lo", f"{x}_hi", f"{y}_lo", f"{y}_hi"} <= set(d.columns):  # means over seeds: their t-intervals
        ax.errorbar(d[x], d[y], xerr=[d[x] - d[f"{x}_lo"], d[f"{x}_hi"] - d[x]],
                    yerr=[d[y] - d[f"{y}_lo"], d[f"{y}_hi"] - d[y]], fmt="none", ecolor="0.6", lw=0.8, zorder=1)
    sns.scatterplot(data=d, x=x, y=y, hue=hue, style="condition", ax=ax, s=60, zorder=2)
    c = correlation_ci(d[x], d[y])
    ax.set_title((title + "\n" if title else "") + f"r = {c['r']:.2f} [{c['lo']:.2f}, {c['hi']:.2f}] (Fisher z), n = {c['n']}",
                 fontsize=9)
    ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    return fig


def named_runs(runs: Any, where: str) -> tuple[dict[str, Any], list[int]]:
    """``({name: run}, seeds)``: a study's RunSet as each condition's first seed (``seeds``: the seeds it held, when
    more than one), or a ``{name: run}`` mapping as given (``seeds`` empty)."""
    if hasattr(runs, "at_seed") and hasattr(runs, "named"):  # a RunSet (plots sit below the study)
        seeds = runs.seeds
        return runs.at_seed(0).named(), (seeds if len(seeds) > 1 else [])
    if isinstance(runs, Mapping) and runs:
        return dict(runs), []
    raise param_error("runs", where, "a RunSet (what an experiment returns) or {name: run}", runs)


def plot_training_curves(runs: Any, metric: str = "val_auc", *, title: str = ""):
    """Each model's validation curve, one panel per cohort (MRI: cm, acdc, cm→acdc; echo: one), with a dot on
    the epoch the selection kept (``select_metric``): the appendix that shows whether a model converged and
    whether the kept epoch means something. ``runs``: a RunSet (each seed a line when it holds several) or
    ``{name: run}``."""
    import matplotlib.pyplot as plt

    check_choice(metric, ("val_auc", "val_accuracy", "val_loss", "train_loss"), name="metric",
                 where="plot_training_curves")
    groups: dict[str, list[tuple[str, Any]]] = {}
    if hasattr(runs, "records"):  # a RunSet: a panel per cohort, a line per condition (and seed)
        several = len(runs.seeds) > 1
        items = [(rec.cohort, rec.condition + (f" s{rec.seed}" if several else ""), rec.run) for rec in runs.records]
    else:
        items = [("", name, r) for name, r in named_runs(runs, "plot_training_curves")[0].items()]
    for panel, label, r in items:
        if hasattr(r, "history") and r.history and hasattr(r, "metrics"):
            groups.setdefault(panel, []).append((label, r))
    if not groups:
        raise param_error("runs", "plot_training_curves", "runs with a training history", runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.2), squeeze=False)
    for ax, (panel, items) in zip(axes[0], groups.items()):
        for label, r in items:
            ep = [h["epoch"] for h in r.history if metric in h]
            val = [h[metric] for h in r.history if metric in h]
            line, = ax.plot(ep, val, lw=1.2, label=label)
            best = r.metrics.get("best_epoch") if isinstance(r.metrics, Mapping) else None
            if best in ep:
                ax.plot([best], [val[ep.index(best)]], "o", color=line.get_color(), ms=5)
        ax.set_title(panel or metric, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title or f"{metric.replace('_', ' ')} per epoch (dot: the epoch kept)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pretrain_losses(runs: Any):
    """Contrastive loss per epoch of each pretraining run (each method has its own scale): the pretrainings
    (cohort ``pretrain``) of a RunSet such as :func:`~shortcutlab.study.mri.contrastive_comparison`'s."""
    import matplotlib.pyplot as plt

    if not hasattr(runs, "where"):
        raise param_error("runs", "plot_pretrain_losses", "a RunSet holding pretrainings (cohort 'pretrain')", runs)
    groups = [list(g) for g in runs.where(cohort="pretrain").by("condition").values()]  # one panel per method
    if not groups:
        raise param_error("runs", "plot_pretrain_losses", "a RunSet holding pretrainings (cohort 'pretrain')", runs)
    fig, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 2.6), squeeze=False)
    for ax, rs in zip(axes[0], groups):
        for r in rs:  # one line per seed
            ax.plot([h["epoch"] for h in r.history], [h["loss"] for h in r.history], marker="o", ms=3,
                    label=f"s{r.spec.get('seed', '?')}")
        ax.set_title(rs[0].method, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if len(rs) > 1:
            ax.legend(fontsize=6)
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


def dial_bars(rows: Sequence[Mapping]):
    """The dial slider's panel: each model's AUC with the cue as in training and decorrelated, side by side (or,
    for rows with ``accuracy_agreeing``, its accuracy with the marker agreeing and lying, in percent)."""
    import matplotlib.pyplot as plt

    names = [r["condition"] for r in rows]
    x = np.arange(len(names))
    acc = bool(rows) and "accuracy_agreeing" in rows[0]
    keys = (("accuracy_agreeing", "marker agrees"), ("accuracy_lying", "marker lies")) if acc else (
        ("auc", "cue as in training"), ("auc_decorrelated", "cue decorrelated"))
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 2.6))
    ax.bar(x - 0.2, [r[keys[0][0]] for r in rows], 0.4, label=keys[0][1])
    ax.bar(x + 0.2, [r[keys[1][0]] for r in rows], 0.4, label=keys[1][1])
    ax.axhline(25 if acc else 0.5, color="grey", lw=0.6, ls=":")
    ax.set_xticks(x, names)
    ax.set_ylim(0, 100 if acc else 1)
    ax.set_ylabel("accuracy %" if acc else "micro AUC")
    ax.set_title(f"strength {rows[0]['strength']:g}" if rows else "", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_dial(df: pd.DataFrame):
    """Four panels against the cue strength: AUC (cue as in training), AUC (decorrelated), AKS, BG-gap."""
    import matplotlib.pyplot as plt

    if (gone := _absent(df)) is not None:
        return gone

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


def saliency_examples(study, runs: Any, eval_set: str = "test", n: int = 5, frame: int = 0, title: str = ""):
    """A saliency grid (rows: the first ``n`` images; columns: models), MRI Fig. 3 / BackMix Figs. 4-5. ``runs``:
    a RunSet, drawn from each condition's first seed (the title says which), or ``{name: run}``."""
    runs, seeds = named_runs(runs, "saliency_examples")
    if seeds:
        title = (title + " " if title else "") + f"(maps of seed {seeds[0]}, the first)"
    first = next(iter(runs.values()))
    index = torch.as_tensor(first.cams(eval_set)["index"][:n])  # the mapped images (those with a mask)
    ds = study.data(first.cohort)[eval_set].subset(index)
    cams = {name: r.cams(eval_set)["cams"][:n].astype(np.float32) for name, r in runs.items()}
    k = min(n, len(ds))
    titles = [ds.class_names[int(c)] for c in ds.labels[:k]]
    return saliency_grid(ds.images[:k].numpy(), cams, ds.masks[:k].numpy(), frame=frame, row_titles=titles, title=title)


def render_case(study, runs: Any, i: int, eval_set: str = "test", *, frame: int = 0,
                method: str | None = None):
    """One test image, side by side for each model: image, map overlay, mask contour, true / predicted class
    with probability, and that image's AKS / DSC / %E / %F."""
    import matplotlib.pyplot as plt

    runs = named_runs(runs, "render_case")[0]
    names = list(runs)
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(2.4 * (len(names) + 1), 2.9), squeeze=False)
    first = case_data(study, runs[names[0]], eval_set, method)
    ds = first["set"]
    if not 0 <= i < len(first["labels"]):
        raise param_error("i", "render_case", f"an image index in [0, {len(first['labels']) - 1}]", i)
    if not 0 <= frame < ds.num_frames:
        raise ShortcutlabError(f"The 'frame' parameter of render_case must be in [0, {ds.num_frames - 1}]. Got {frame} instead.")
    img = ds.images[i, frame].numpy()
    mask = ds.masks[i, frame].numpy() if ds.masks is not None else None
    ax = axes[0, 0]
    ax.imshow(img, cmap="gray", vmin=0, vmax=255)
    if mask is not None:
        ax.contour(mask.astype(float), levels=[0.5], colors="lime", linewidths=0.6)
    ax.set_title(f"#{i} · true {ds.class_names[int(first['labels'][i])]} · {ds.frame_names[frame]}", fontsize=8)
    ax.axis("off")
    for j, name in enumerate(names):
        res = first if j == 0 else case_data(study, runs[name], eval_set, method)
        cam = res["cams"][i, frame].astype(np.float32)
        p = res["probs"][i]
        pred = int(res["pred"][i])
        m = {k: float(v[i, frame]) for k, v in res["metrics"].items()}
        overlay(img, cam, mask, ax=axes[0, j + 1])
        ok = "✓" if pred == int(res["labels"][i]) else "✗"
        axes[0, j + 1].set_title(f"{name}: {ds.class_names[pred]} {p[pred]:.2f} {ok}\nAKS {m['aks']:.2f} DSC {m['dsc']:.2f} "
                                 f"%E {100 * m['pct_e']:.0f} %F {100 * m['pct_f']:.0f}"
                                 if m['aks'] == m['aks'] else f"{name}: {ds.class_names[pred]} {p[pred]:.2f} {ok}\n"
                                 f"all-zero map (metrics NaN)", fontsize=7)
    fig.tight_layout()
    return fig


def gallery(study, runs: Any, eval_set: str = "test", *, n: int = 6, worst: bool = True,
            sort_by: str = "aks", by: str | None = None, frame: int = 0):
    """Static gallery of the ``n`` worst (or best) cases of model ``by`` (default: the first), all models side by side."""
    import matplotlib.pyplot as plt

    runs = named_runs(runs, "gallery")[0]
    names = list(runs)
    by = by or names[0]
    idx = select_cases(study, runs[by], eval_set, sort_by=sort_by, worst_first=worst)[:n]
    first = case_data(study, runs[names[0]], eval_set)
    ds = first["set"]
    fig, axes = plt.subplots(len(idx), len(names) + 1, figsize=(1.9 * (len(names) + 1), 1.9 * max(len(idx), 1)),
                             squeeze=False)
    for r, i in enumerate(idx):
        img = ds.images[i, frame].numpy()
        mask = ds.masks[i, frame].numpy()
        axes[r, 0].imshow(img, cmap="gray", vmin=0, vmax=255)
        axes[r, 0].contour(mask.astype(float), levels=[0.5], colors="lime", linewidths=0.5)
        axes[r, 0].set_title(f"#{i} {ds.class_names[int(first['labels'][i])]}", fontsize=7)
        axes[r, 0].axis("off")
        for j, name in enumerate(names):
            res = first if j == 0 else case_data(study, runs[name], eval_set)
            v = float(res["metrics"][sort_by][i, frame])
            overlay(img, res["cams"][i, frame].astype(np.float32), mask, ax=axes[r, j + 1],
                    title=f"{name} {sort_by} {v:.2f}" if v == v else f"{name} (zero map)")
    fig.suptitle(f"{'worst' if worst else 'best'} {len(idx)} by {sort_by} of {by} ({eval_set})", fontsize=9)
    fig.tight_layout()
    return fig


def plot_audit(results, *, ax=None):
    """Accuracy under each background (bars with their 95 % CI) for one audit or a mapping of them, side by side."""
    import matplotlib.pyplot as plt

    res = {results.name: results} if hasattr(results, "counterfactuals") else dict(results)
    if not res:
        raise param_error("results", "plot_audit", "an AuditResult or a non-empty mapping of them", results)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.2, 3.0))
    names = list(res)
    order = list(next(iter(res.values())).counterfactuals.index)
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        df = res[name].counterfactuals.reindex(order)
        acc = df["accuracy"].to_numpy(float)
        err = np.vstack([acc - df["lo"].to_numpy(float), df["hi"].to_numpy(float) - acc])
        xs = np.arange(len(order)) + (j - (len(names) - 1) / 2) * width
        ax.bar(xs, acc, width=width, yerr=np.nan_to_num(err), capsize=2, label=f"{name}: {res[name].overall}")
    ax.set_xticks(range(len(order)), [str(b).replace("_", "-") for b in order], rotation=20, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("accuracy under each background (95 % CI over images)", fontsize=9)
    ax.figure.tight_layout()
    return ax.figure


def audit_case(result, i: int, *, frame: int = 0):
    """One audited image (``result.case(i)``): the original with its mask contour, the same object on the donor's
    background (mixed-next) with both predictions, and the original's CAM where the audit computed one."""
    import matplotlib.pyplot as plt

    c = result.case(i)
    if not 0 <= frame < c["original"].shape[0]:
        raise param_error("frame", "audit_case", f"a frame in [0, {c['original'].shape[0] - 1}]", frame)
    panels = 3 if c["cam"] is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(2.5 * panels, 2.9))
    mask = c["mask"][frame].astype(float)
    for ax, key, title in ((axes[0], "original", f"#{i} · true {c['true']}\npred {c['pred']} ({c['p_pred']:.2f})"),
                           (axes[1], "mixed_next", f"on a {c['donor_class']} background\npred {c['pred_mixed']} "
                                                   f"({c['p_mixed']:.2f})")):
        ax.imshow(c[key][frame], cmap="gray", vmin=0, vmax=1)
        ax.contour(mask, levels=[0.5], colors="lime", linewidths=0.6)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    if c["cam"] is not None:
        cam = c["cam"][min(frame, c["cam"].shape[0] - 1)]
        overlay(c["original"][frame], cam, c["mask"][frame], ax=axes[2])
        axes[2].set_title("CAM of the prediction", fontsize=8)
    fig.tight_layout()
    return fig


def discovery_cluster(result, cluster: int, *, frame: int = 0):
    """One cluster of a discovery (:func:`~shortcutlab.auditing.discover`): its mean map with its region outlined,
    then its exemplars (the discovery images whose maps are nearest the cluster's mean) with the region outlined on
    each; the title gives the region's verdict."""
    import matplotlib.pyplot as plt

    if result.data is None:
        raise ShortcutlabError("discovery_cluster needs the result's images (DiscoveryResult.data).")
    if isinstance(cluster, bool) or not isinstance(cluster, (int, np.integer)) or \
            int(cluster) not in result.arrays["regions"]:
        raise param_error("cluster", "discovery_cluster", f"a cluster among {sorted(result.arrays['regions'])}",
                          cluster)
    reg = result.arrays["regions"][int(cluster)]
    row = result.clusters.loc[int(cluster)]
    ex = list(reg["exemplars"])
    fig, axes = plt.subplots(1, 1 + len(ex), figsize=(1.7 * (1 + len(ex)), 2.2))
    axes = np.atleast_1d(axes)
    axes[0].imshow(reg["mean"], cmap="magma")
    axes[0].contour(reg["cells"].astype(float), levels=[0.5], colors="cyan", linewidths=1.0)
    axes[0].set_title(f"cluster {int(cluster)} mean map", fontsize=7)
    pix = reg["pixels"].numpy().astype(float)
    pred = result.arrays["pred"]
    names = result.info["classes"]
    for ax, i in zip(axes[1:], ex):
        img = result.data.float_images(torch.tensor([int(i)]))[0]
        ax.imshow(img[min(frame, img.shape[0] - 1)].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.contour(pix, levels=[0.5], colors="cyan", linewidths=0.8)
        ax.set_title(f"#{int(i)} pred {names[int(pred[int(i)])]}", fontsize=7)
    for ax in axes:
        ax.axis("off")
    verdict = "reads this region" if bool(row["reads"]) else str(row["verdict"])
    eff = "" if row["verdict"] == "not tested" else (f": {100 * row['effect']:+.1f} points "
                                                     f"[{100 * row['lo']:.1f}, {100 * row['hi']:.1f}]")
    fig.suptitle(f"{result.name} · cluster {int(cluster)} · {row['class']} · found on {int(row['size'])}, tested on "
                 f"{int(row['n_test'])} images · {verdict}{eff}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_discovery(discoveries, *, max_clusters: int = 4):
    """The clusters of one discovery or a mapping of them, one row each (up to ``max_clusters`` per model: those whose
    region reads first, then the largest): mean map and exemplars with the region outlined."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    res = {discoveries.name: discoveries} if hasattr(discoveries, "clusters") else dict(discoveries)
    if not res:
        raise param_error("discoveries", "plot_discovery", "a DiscoveryResult or a non-empty mapping of them",
                          discoveries)
    images = []
    for r in res.values():
        if not len(r.clusters):
            continue
        order = r.clusters.sort_values(["reads", "size"], ascending=[False, False]).index[:max_clusters]
        for c in order:
            f = discovery_cluster(r, int(c))
            canvas = FigureCanvasAgg(f)
            canvas.draw()
            images.append(np.asarray(canvas.buffer_rgba()))
            plt.close(f)
    if not images:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.text(0.5, 0.5, "no clusters", ha="center", va="center")
        ax.axis("off")
        return fig
    width = max(im.shape[1] for im in images)
    fig, axes = plt.subplots(len(images), 1, figsize=(width / 100, sum(im.shape[0] for im in images) / 100))
    for ax, im in zip(np.atleast_1d(axes), images):
        ax.imshow(im)
        ax.axis("off")
    fig.subplots_adjust(0, 0, 1, 1, 0, 0)
    return fig
