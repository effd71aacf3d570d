"""The BackMix paper's experiments (Bransby et al., MICCAI 2024) on the echo phantom, one call each.

* :func:`backmix_comparison`, :func:`table_backmix`, :func:`paper_vs_run`: Table 1, every condition over the
  preset's seeds, i.d. and o.o.d.
* :func:`semi_supervised`, :func:`table_semi`, :func:`paper_vs_run_semi`: Table 2, BackMix with a fraction f of
  masks and wBackMix.
* :func:`mask_subset_ablation`: §3.3, which images carry the masks.

``sma_variant`` is not the paper's SMA (Kwon et al. 2024) but a mask-free stand-in (see
:mod:`shortcutlab.interventions.background`): its row never shows the paper's SMA numbers.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..metrics import mean_ci_across
from .runs import Run, RunSet, experiment
from .study import Study
from .reference import BACKMIX_TABLE1, BACKMIX_TABLE1_COLUMNS, BACKMIX_TABLE2, BACKMIX_TABLE2_COLUMNS
from .tables import format_ci

__all__ = ["BACKMIX_CONDITIONS", "backmix_comparison", "echo_row", "table_backmix", "paper_vs_run", "semi_supervised",
           "table_semi", "paper_vs_run_semi", "mask_subset_ablation", "mask_subset_runs", "table_ood", "ood_summary",
           "CLAIM_CONDITIONS"]

BACKMIX_CONDITIONS = ("baseline", "black", "noise", "shuffle", "bokeh", "cutmix", "sma_variant", "backmix")


@experiment
def backmix_comparison(study: Study, *, conditions: Sequence[str] = BACKMIX_CONDITIONS,
                       seeds: Sequence[int] | None = None) -> RunSet:
    """BackMix Table 1: each condition on the echo phantom with several seeds, as a RunSet (cohort ``echo``).
    The conditions a claim reads (:data:`CLAIM_CONDITIONS`) take every seed; the descriptive ones the first
    ``train.descriptive_seeds``."""
    runs = RunSet()
    for c in conditions:
        for s in study.seed_list(seeds, where="backmix_comparison", descriptive=c not in CLAIM_CONDITIONS):
            runs.add(study.run("echo", c, seed=s), "echo", c, s)
    return runs


CLAIM_CONDITIONS = ("baseline", "backmix", "black", "noise")  # what claim 9 reads


def echo_row(study: Study, runs: Iterable[Run], eval_set: str) -> dict[str, float]:
    runs = list(runs)
    acc = [r.metrics[eval_set]["accuracy"] * 100 for r in runs]
    f1 = [r.metrics[eval_set]["f1"] * 100 for r in runs]
    prec = [r.metrics[eval_set]["precision"] * 100 for r in runs]
    rec = [r.metrics[eval_set]["recall"] * 100 for r in runs]
    pe, pf, nan = [], [], 0
    for r in runs:
        ov = r.overlap(eval_set)
        pe.append(ov["pct_e"]["mean"] * 100)
        pf.append(ov["pct_f"]["mean"] * 100)
        nan += ov["pct_e"]["n_nan"] + ov["pct_f"]["n_nan"]

    out = {}
    for k, v in (("accuracy", acc), ("precision", prec), ("recall", rec), ("f1", f1), ("pct_e", pe), ("pct_f", pf)):
        m = mean_ci_across(v)
        out[k], out[f"{k}_lo"], out[f"{k}_hi"] = m["mean"], m["lo"], m["hi"]
    out["n_seeds"] = len(runs)
    out["n_nan_maps"] = nan
    return out


_BACKGROUND_LABELS = {"ood": "each site's own", "ood_bg_agree": "i.d. overlay, agreeing",
                      "ood_bg_conflict": "i.d. overlay, another view", "ood_bg_vendor": "vendor layout (no shared code)",
                      "ood_bg_black": "black"}


def table_ood(study: Study, runs: RunSet) -> pd.DataFrame:
    """o.o.d. accuracy (percent; mean over the seeds with its t-interval) of each condition, on the o.o.d. sectors
    as their sites drew them and on the same sectors under each background counterfactual (a phantom), over all
    sites and per site. The sectors keep their site's geometry and gain, so the rows of one site differ only in
    the background: acquisition shift and background shift apart."""
    data = study.data("echo")
    rows = []
    for cond, group in runs.by("condition").items():
        rs = list(group)
        for split, label in _BACKGROUND_LABELS.items():
            if split not in rs[0].probs:
                continue
            y = rs[0].labels[split]
            site = data[split].meta.get("site")
            groups = [("all", np.ones(len(y), bool))]
            if site is not None:
                site = np.asarray(site)
                groups += [(f"site {int(k)}", site == k) for k in np.unique(site)]
            for name, sel in groups:
                accs = [100 * float((r.probs[split][sel].argmax(1) == y[sel]).mean()) for r in rs]
                m = mean_ci_across(accs) if len(accs) > 1 else {"mean": accs[0], "lo": np.nan, "hi": np.nan}
                rows.append(dict(condition=cond, background=label, site=name, n=int(sel.sum()), accuracy=m["mean"],
                                 accuracy_lo=m["lo"], accuracy_hi=m["hi"], n_seeds=len(rs)))
    return pd.DataFrame(rows)


def ood_summary(study: Study, runs: RunSet, *, by: str = "background") -> pd.DataFrame:
    """:func:`table_ood` as one row per condition: ``by="background"``, a column per background over all sites;
    ``by="site"``, a column per o.o.d. site on its own background. Cells: ``mean [lo, hi]`` percent."""
    from .._validation import check_choice

    check_choice(by, ("background", "site"), name="by", where="ood_summary")
    t = table_ood(study, runs)
    t = t[t["site"] == "all"] if by == "background" else t[t["background"] == _BACKGROUND_LABELS["ood"]]
    cells = {(r["condition"], r[by]): format_ci(r["accuracy"], r["accuracy_lo"], r["accuracy_hi"], 1)
             for _, r in t.iterrows()}
    out = pd.DataFrame({c: {cond: cells.get((cond, c), "–") for cond in runs.values("condition")}
                        for c in dict.fromkeys(t[by])})
    out.index.name = "condition"
    return out


def table_backmix(study: Study, runs: RunSet) -> pd.DataFrame:
    """Accuracy, F1, %E, %F (percent; mean and CI across seeds) on the i.d. test set and the o.o.d. sites."""
    rows = []
    for cond, rs in runs.by("condition").items():
        for split, label in (("test", "id"), ("ood", "ood")):
            r = echo_row(study, rs, split)
            rows.append(dict(condition=cond, split=label, **r))
    return pd.DataFrame(rows)


def paper_vs_run(table: pd.DataFrame) -> pd.DataFrame:
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


@experiment
def semi_supervised(study: Study, *, fractions: Sequence[float] = (1.0, 0.5, 0.2, 0.1, 0.05, 0.01),
                    lambdas: Sequence[float] = (1.0, 2.0), wf: float = 0.05, seeds: Sequence[int] | None = None
                    ) -> RunSet:
    """BackMix Table 2: BackMix at mask fraction f, wBackMix (lambda) at f = wf, and the baseline, as a RunSet
    whose conditions are ``baseline``, ``backmix`` and ``wbackmix``, each with its changes ``f`` and ``lam``
    (the baseline: 0 and 0)."""
    import warnings

    from .._validation import check_number, param_error

    for name, values, lo_open in (("fractions", fractions, True), ("lambdas", lambdas, False)):
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise param_error(name, "semi_supervised", "a non-empty list of numbers", values)
    fractions = [check_number(f, name="fractions", where="semi_supervised", lo=0, hi=1, lo_open=True) for f in fractions]
    wf = check_number(wf, name="wf", where="semi_supervised", lo=0, hi=1, lo_open=True)
    lambdas = [check_number(v, name="lambdas", where="semi_supervised", lo=0, hi=1 / wf) for v in lambdas]
    every = study.seed_list(seeds, where="semi_supervised")
    few = study.seed_list(seeds, where="semi_supervised", descriptive=True)
    n_train = len(study.data("echo")["train"])
    runs = RunSet()
    for s in every:
        runs.add(study.run("echo", "baseline", seed=s), "echo", "baseline", s, f=0.0, lam=0.0)
    for f in fractions:
        if round(f * n_train) < 2:
            warnings.warn(f"semi_supervised: skipped f = {f}: it leaves {round(f * n_train)} masked image(s) of "
                          f"{n_train} at this preset, and BackMix needs at least 2 donors.", stacklevel=2)
            continue
        # claim 10 reads f = 1 and f = wf (every seed); the other fractions are descriptive
        for s in (every if f in (1.0, wf) else few):
            runs.add(study.run("echo", "backmix", seed=s, f=f), "echo", "backmix", s, f=f, lam=0.0)
    for j, lam in enumerate(lambdas):  # claim 10 reads the first lambda
        for s in (every if j == 0 else few):
            runs.add(study.run("echo", "backmix", seed=s, f=wf, lam=lam), "echo", "wbackmix", s, f=wf, lam=lam)
    return runs


def table_semi(study: Study, runs: RunSet, eval_set: str = "ood") -> pd.DataFrame:
    """Accuracy, precision, recall, F1, %E, %F (percent) per (method, f, lambda), with the paper beside it."""
    rows = []
    for (method, f, lam), rs in runs.by("condition", "f", "lam").items():
        r = echo_row(study, rs, eval_set)
        ref = BACKMIX_TABLE2.get((method, f, lam))
        row = dict(method=method, f=f, lam=lam, **{k: r[k] for k in ("accuracy", "precision", "recall", "f1", "pct_e", "pct_f")})
        for k in ("accuracy", "f1", "pct_e", "pct_f"):
            row[f"{k}_lo"], row[f"{k}_hi"] = r[f"{k}_lo"], r[f"{k}_hi"]
            row[f"paper_{k}"] = ref[BACKMIX_TABLE2_COLUMNS.index(k)] if ref else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@experiment
def mask_subset_runs(study: Study, *, f: float = 0.05, subsets: Iterable[int] = range(5), seed: int = 0) -> RunSet:
    """The runs of the masked-subset ablation: BackMix at ``f`` with each subset of masked images (change
    ``subset``)."""
    runs = RunSet()
    for k in subsets:
        runs.add(study.run("echo", "backmix", seed=seed, f=f, mask_subset=int(k)), "echo", "backmix", seed, f=f,
                 subset=int(k))
    return runs


def mask_subset_ablation(runs: RunSet, eval_set: str = "ood") -> pd.DataFrame:
    """Same seed, different non-overlapping masked subsets (BackMix §3.3 ablation; ``runs`` from
    :func:`mask_subset_runs`): metrics per subset and their SD."""
    rows = []
    for k, r in zip(runs.values("subset"), runs):
        ov = r.overlap(eval_set)
        m = r.metrics[eval_set]
        rows.append(dict(subset=k, accuracy=m["accuracy"] * 100, f1=m["f1"] * 100, pct_e=ov["pct_e"]["mean"] * 100,
                         pct_f=ov["pct_f"]["mean"] * 100))
    df = pd.DataFrame(rows).set_index("subset")
    return df


def paper_vs_run_semi(table: pd.DataFrame) -> pd.DataFrame:
    """BackMix Table 2 as 'run | paper' columns per (method, f, lambda), percent."""
    cols = [c for k in ("accuracy", "f1", "pct_e", "pct_f") for c in (k, f"paper_{k}")]
    return table.set_index(["method", "f", "lam"])[cols].round(1)
