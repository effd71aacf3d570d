"""How strong are the phantom's signals? A fast linear probe on downsampled pixels.

Used by notebook 00 and a test: logistic regression (scikit-learn) on average-pooled pixels of both frames,
fit on a seeded 70/30 split, scored by macro one-vs-rest AUC on the held-out part, for three views of the
same images: heart only (``seg``), background only (``bg``) and the full image (``full``).

``bg`` here hides a fixed-size square centred on the heart rather than the heart's own outline, because a
mask-shaped hole would reveal the heart's size and shape (the training condition ``bg`` keeps the outline,
as in the MRI paper, and so leaks that shape; notebook 00 shows both).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as tF

from .imageset import ImageSet

__all__ = ["pixel_probe_auc", "calibrate_cmr"]


def _centred_box(masks: torch.Tensor, box: float) -> torch.Tensor:
    """A square of side ``box * W`` centred on each mask's centroid: hides the heart without its shape."""
    n, f, h, w = masks.shape
    m = masks.any(1).float()  # [n, h, w]
    ys, xs = torch.arange(h).float(), torch.arange(w).float()
    tot = m.sum((1, 2)).clamp(min=1)
    cy = (m.sum(2) * ys).sum(1) / tot
    cx = (m.sum(1) * xs).sum(1) / tot
    half = box * w / 2
    inside = ((ys.view(1, h, 1) - cy.view(n, 1, 1)).abs() <= half) & ((xs.view(1, 1, w) - cx.view(n, 1, 1)).abs() <= half)
    return inside.unsqueeze(1).expand(n, f, h, w)


def _features(s: ImageSet, view: str, pool: int, box: float = 0.62) -> np.ndarray:
    x = s.float_images()
    if view == "seg":
        x = x * s.masks.float()
    elif view == "bg":
        x = x * (~_centred_box(s.masks, box)).float()
    x = tF.adaptive_avg_pool2d(x, pool)
    return x.flatten(1).numpy()


def pixel_probe_auc(s: ImageSet, view: str = "full", *, pool: int = 16, seed: int = 0, C: float = 0.05) -> float:
    """Macro OvR AUC of logistic regression on ``pool x pool`` pixels per frame of ``view`` (seg/bg/full)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parts = s.split(test=0.3, seed=seed)
    xtr, xte = _features(parts["train"], view, pool), _features(parts["test"], view, pool)
    ytr, yte = parts["train"].labels.numpy(), parts["test"].labels.numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=300))
    clf.fit(xtr, ytr)
    p = clf.predict_proba(xte)
    return float(roc_auc_score(yte, p, multi_class="ovr", average="macro", labels=np.arange(s.num_classes)))


def calibrate_cmr(*, cohort: str = "cm", n: int = 600, size: int = 64, strengths: Sequence[float] = (0.0, 0.5, 0.9),
                  spurious: str = "marker", systemic: bool = False, seed: int = 0, pool: int = 16):
    """Probe AUC of seg / bg / full images against the spurious-cue strength; a pandas DataFrame."""
    import pandas as pd

    from .phantoms import make_cmr

    rows = []
    for st in strengths:
        s = make_cmr(cohort, n, size, spurious=spurious, strength=float(st), systemic=systemic, seed=seed)
        row = {"strength": float(st)}
        for view in ("seg", "bg", "full"):
            row[view] = pixel_probe_auc(s, view, pool=pool, seed=seed)
        rows.append(row)
    return pd.DataFrame(rows).set_index("strength")

