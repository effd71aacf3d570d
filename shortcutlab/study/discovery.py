"""Discovery scored against the phantoms' truth: the study knows where each phantom's shortcut sits, so it can score
:func:`~shortcutlab.auditing.discover` (which never sees it) on every run.

* :func:`phantom_truth`: a fresh phantom test set and, rendered from the same draws, where its cue and its legitimate
  signs are: the MRI marker (the image minus the same patient rendered without it) and the amyloid effusion (minus
  the same patient without it), or the echo overlays (minus the same sector on black).
* :func:`score_discovery`: per cluster of a discovery, its region's overlap with the cue (IoU) and its share off the
  object and the legitimate signs.

The IoU follows each cue's geometry. The MRI marker is drawn in a random corner with a jitter, so its truth is the
*zone* it is drawn in: the union of the images' marker boxes, one connected zone per corner; a region's IoU is its
best over the zones. The echo overlays sit where their style puts them, so each image's own overlay elements are
its truth (the bounding boxes of its overlay's connected parts, grown by 2 px so that a text line is one part); a
region's IoU is, per test image, its best over that image's elements, and the median over the region's test images.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_int, param_error

__all__ = ["phantom_truth", "score_discovery", "DILATE"]

DILATE = 4  # pixels the object and the legitimate signs are grown by: half a map cell at 64 px (an 8 x 8 CAM grid)


def _boxes(mask: np.ndarray) -> np.ndarray:
    """The bounding box of ``mask`` (``[H, W]`` bool) as a mask; empty stays empty."""
    out = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    if ys.size:
        out[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
    return out


def phantom_truth(kind: str = "mri", n: int = 300, size: int = 64, *, seed: int = 101,
                  strength: float = 0.9) -> tuple[Any, dict]:
    """A phantom test set and its truth. ``kind``: ``mri`` (the cm cohort, the marker cue at ``strength``) or
    ``echo`` (the i.d. site, overlays agreeing with the view at ``strength``). Returns the ImageSet and
    ``{'cue': [N, H, W] the cue's pixels, 'zones' (mri) or 'elements' (echo): the truth the IoU reads, 'object':
    [N, H, W] the heart or sector, 'legit': [N, H, W] the legitimate signs outside it (the effusion; none for
    echo)}``."""
    from scipy import ndimage

    from ..data.phantoms import make_cmr, make_echo

    check_choice(kind, ("mri", "echo"), name="kind", where="phantom_truth")
    check_int(n, name="n", where="phantom_truth", lo=8)
    if kind == "mri":
        data = make_cmr("cm", n, size, seed=seed, spurious="marker", strength=strength)
        plain = make_cmr("cm", n, size, seed=seed, spurious="none", strength=strength)
        dry = make_cmr("cm", n, size, seed=seed, spurious="marker", strength=strength, systemic=False)
        cue = (data.images != plain.images).any(1).numpy()
        legit = (data.images != dry.images).any(1).numpy()
        boxes = np.stack([_boxes(c) for c in cue])
        lab, k = ndimage.label(boxes.any(0))
        truth = {"zones": [lab == j for j in range(1, k + 1)]}
    else:
        data = make_echo("id", n, size, seed=seed, overlay_strength=strength)
        black = make_echo("id", n, size, seed=seed, overlay_strength=strength, background="black")
        cue = (data.images != black.images).any(1).numpy()
        legit = np.zeros_like(cue)
        elements = []
        for c in cue:
            lab, k = ndimage.label(ndimage.binary_dilation(c, iterations=2))
            elements.append([_boxes(lab == j) for j in range(1, k + 1)])
        truth = {"elements": elements}
    truth.update(cue=cue, legit=legit, object=data.masks.any(1).numpy(), kind=kind)
    return data, truth


def score_discovery(result, truth: dict, *, dilate: int = DILATE):
    """One row per cluster of ``result`` (:func:`~shortcutlab.auditing.discover` on the set :func:`phantom_truth`
    returned): ``reads``, ``verdict``, ``iou_cue`` (see the module docstring), ``off_object`` (the share of the
    region outside the object grown by ``dilate`` px, averaged over the region's test images), ``off_signs``
    (outside the object and the legitimate signs, both grown), and ``touch_object`` / ``touch_signs`` (the share of
    the test images in which the region touches them)."""
    import pandas as pd
    from scipy import ndimage

    if not hasattr(result, "arrays") or "regions" not in result.arrays:
        raise param_error("result", "score_discovery", "a DiscoveryResult", type(result).__name__)
    n = len(truth["cue"])
    if len(result.arrays["pred"]) != n:
        raise param_error("truth", "score_discovery", f"the truth of the discovery's {len(result.arrays['pred'])} "
                          f"images", f"the truth of {n} images")
    grow = (lambda m: ndimage.binary_dilation(m, iterations=dilate)) if dilate > 0 else (lambda m: m)
    rows = []
    for c, reg in result.arrays["regions"].items():
        region = reg["pixels"].numpy()
        idx = np.asarray(reg["test"]) if len(reg["test"]) else np.asarray(reg["members"])  # untested: where found
        area = max(int(region.sum()), 1)

        def iou(a, b):
            return float((a & b).sum() / max(int((a | b).sum()), 1))

        if truth["kind"] == "mri":
            score = max((iou(region, z) for z in truth["zones"]), default=0.0)
        else:
            per = [max((iou(region, b) for b in truth["elements"][int(i)]), default=0.0) for i in idx]
            score = float(np.median(per)) if per else float("nan")
        obj = [grow(truth["object"][int(i)]) for i in idx]
        sig = [o | grow(truth["legit"][int(i)]) for o, i in zip(obj, idx)]
        off_obj = [float((region & ~o).sum() / area) for o in obj]
        off_sig = [float((region & ~g).sum() / area) for g in sig]
        row = result.clusters.loc[c]
        rows.append({"cluster": int(c), "class": row["class"], "reads": bool(row["reads"]), "verdict": row["verdict"],
                     "effect": float(row["effect"]), "n_test": int(row["n_test"]), "area": float(row["area"]),
                     "iou_cue": score, "off_object": float(np.mean(off_obj)) if off_obj else float("nan"),
                     "off_signs": float(np.mean(off_sig)) if off_sig else float("nan"),
                     "touch_object": float(np.mean([bool((region & o).any()) for o in obj])) if obj else float("nan"),
                     "touch_signs": float(np.mean([bool((region & g).any()) for g in sig])) if sig else float("nan")})
    return pd.DataFrame(rows).set_index("cluster") if rows else pd.DataFrame(
        columns=["class", "reads", "verdict", "effect", "n_test", "area", "iou_cue", "off_object", "off_signs",
                 "touch_object", "touch_signs"])
