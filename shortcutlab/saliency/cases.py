"""Which cases of a run to look at: its evaluated images filtered by class and correctness and sorted by how
well the map overlaps the object (:func:`select_cases`), for the browser, the galleries and the findings."""
from __future__ import annotations

import numpy as np
import torch

from .._validation import ShortcutlabError, check_choice

__all__ = ["SORT_KEYS", "select_cases", "case_data"]

SORT_KEYS = ("aks", "dsc", "pct_e", "pct_f")


def case_data(study, run, eval_set: str, method: str | None = None) -> dict:
    """A run's maps on ``eval_set`` (``run.cams``) with the mapped images themselves as ``res["set"]``."""
    res = run.cams(eval_set, method=method)
    # the mapped images only (those with a mask), so an index into the maps is an index into the set
    full = study.data(run.cohort, strength=run.spec["data"].get("strength"))[eval_set]
    res["set"] = full.subset(torch.as_tensor(res["index"]))
    return res


def select_cases(study, run, eval_set: str = "test", *, cls: int | None = None, correctness: str = "all",
                 sort_by: str = "aks", worst_first: bool = True, method: str | None = None) -> np.ndarray:
    """Indices (into the evaluated images) filtered by class and correctness, sorted by an overlap metric.

    Images whose metric is NaN (all-zero map) come first when ``worst_first`` — they are the least explained.
    """
    check_choice(correctness, ("all", "correct", "wrong"), name="correctness", where="select_cases")
    check_choice(sort_by, SORT_KEYS, name="sort_by", where="select_cases")
    res = case_data(study, run, eval_set, method)
    labels, pred = res["labels"], res["pred"]
    keep = np.ones(len(labels), dtype=bool)
    if cls is not None:
        k = len(res["set"].class_names)
        if not 0 <= int(cls) < k:
            raise ShortcutlabError(f"The 'cls' parameter of select_cases must be in [0, {k - 1}] or None. Got {cls} instead.")
        keep &= labels == int(cls)
    if correctness != "all":
        keep &= (labels == pred) if correctness == "correct" else (labels != pred)
    vals = np.nanmean(res["metrics"][sort_by], axis=1) if res["metrics"][sort_by].ndim == 2 else res["metrics"][sort_by]
    idx = np.flatnonzero(keep)
    key = np.where(np.isnan(vals[idx]), -np.inf if worst_first else np.inf, vals[idx])
    order = np.argsort(key, kind="stable")
    if not worst_first:
        order = order[::-1]
    return idx[order]
