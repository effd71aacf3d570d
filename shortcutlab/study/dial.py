"""The shortcut dial (beyond the papers): sweep the spurious cue's strength and watch a model start to cheat."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .runs import RunSet, experiment
from .study import Study

__all__ = ["shortcut_dial", "dial_runs"]


@experiment
def dial_runs(study: Study, *, strengths: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0),
              conditions: Sequence[str] = ("full", "seg", "rand"), method: str | None = "moco",
              seed: int = 0) -> RunSet:
    """The dial's runs: each condition at each cue strength (change ``strength``), and the contrastive method
    finetuned (condition: the method's name). Empty when ``cm`` is real data (the dial needs a phantom)."""
    runs = RunSet()
    if not study.is_phantom("cm"):
        return runs
    for st in strengths:
        for c in conditions:
            runs.add(study.run("cm", c, seed=seed, strength=float(st)), "cm", c, seed, strength=float(st))
        if method:
            pre = study.pretrain(method, "cm", seed=seed, strength=float(st))
            runs.add(study.run("cm", "full", seed=seed, init=pre, strength=float(st)), "cm", method, seed,
                     strength=float(st))
    return runs


def shortcut_dial(study: Study, runs: RunSet) -> pd.DataFrame:
    """Sweep the spurious-cue strength of the cm phantom (beyond the papers).

    For each strength and condition of ``runs`` (:func:`dial_runs`): micro AUC with the cue as in
    training and decorrelated (with CIs), AKS (mean and CI), and the counterfactual background gap and flip
    rate (Xiao et al. 2020) on the test set.
    """
    from .._absent import absent_table
    from ..data.sources import PHANTOM_ONLY
    from ..saliency.cams import counterfactual_background

    if not study.is_phantom("cm"):
        return absent_table(PHANTOM_ONLY["dial"], ["strength", "condition", "auc", "auc_decorrelated", "aks",
                                                   "bg_gap", "flip_rate"])
    rows = []
    for st, group in runs.by("strength").items():
        data = study.data("cm", strength=float(st))
        for name, r in zip(group.values("condition"), group):
            seed = r.spec["seed"]
            t, d = r.metrics["test"], r.metrics["test_decorrelated"]
            ov = r.overlap()["aks"]
            cf = counterfactual_background(r.model(), data["test"], condition=r.condition, seed=seed,
                                           fill=r.spec["train"]["fill"])
            rows.append(dict(strength=float(st), condition=name, auc=t["auc_micro"], auc_lo=t["auc_micro_lo"],
                             auc_hi=t["auc_micro_hi"], auc_decorrelated=d["auc_micro"], auc_decorrelated_lo=d["auc_micro_lo"],
                             auc_decorrelated_hi=d["auc_micro_hi"], aks=ov["mean"], aks_lo=ov["lo"], aks_hi=ov["hi"],
                             aks_nan=ov["n_nan"], bg_gap=cf["bg_gap"], flip_rate=cf["flip_rate"]))
    return pd.DataFrame(rows)
