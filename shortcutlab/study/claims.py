"""The directions the papers report, checked on this run: one row per claim, with its numbers."""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from .backmix import echo_row
from .cache import Run, Study

__all__ = ["claims_mri", "claims_backmix"]


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
    aks_full = runs[("cm", "full")].overlap()["aks"]["mean"]
    aks_seg = runs[("cm", "seg")].overlap()["aks"]["mean"]
    rows.append(dict(claim="Seg has higher AKS than Full (cm)", value=aks_seg, reference=aks_full, holds=aks_seg > aks_full))
    if ("cm", "rand") in runs:
        aks_rand = runs[("cm", "rand")].overlap()["aks"]["mean"]
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
    base_id = echo_row(study, runs["baseline"], "test")
    bm_id = echo_row(study, runs["backmix"], "test")
    base_ood = echo_row(study, runs["baseline"], "ood")
    bm_ood = echo_row(study, runs["backmix"], "ood")
    rows.append(dict(claim="BackMix %E exceeds Baseline's (i.d.)", value=bm_id["pct_e"], reference=base_id["pct_e"],
                     holds=bm_id["pct_e"] > base_id["pct_e"]))
    rows.append(dict(claim="BackMix o.o.d. accuracy not below Baseline's", value=bm_ood["accuracy"],
                     reference=base_ood["accuracy"], holds=bm_ood["accuracy"] >= base_ood["accuracy"]))
    rows.append(dict(claim="Baseline i.d. accuracy >= BackMix i.d. accuracy (shortcut helps i.d.)",
                     value=base_id["accuracy"], reference=bm_id["accuracy"], holds=base_id["accuracy"] >= bm_id["accuracy"]))
    if semi is not None and ("backmix", 0.05, 0.0) in semi:
        f05 = echo_row(study, semi[("backmix", 0.05, 0.0)], "test")
        rows.append(dict(claim="BackMix at f = 0.05 keeps %E above Baseline's (i.d.)", value=f05["pct_e"],
                         reference=base_id["pct_e"], holds=f05["pct_e"] > base_id["pct_e"]))
    return pd.DataFrame(rows)
