"""Drawing saliency: one CAM over a grayscale image with the mask's contour, and a grid of them.

The study's figures (which runs, which images, which title) are in :mod:`shortcutlab.plots`; this module only
draws what it is given.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from .._validation import param_error

__all__ = ["overlay", "saliency_grid"]


def overlay(image: np.ndarray | torch.Tensor, cam: np.ndarray | torch.Tensor, mask=None, *, ax=None,
            title: str | None = None, image_weight: float = 0.55):
    """Draw a CAM over a grayscale image (grad-cam's ``show_cam_on_image``) with the mask contour."""
    import matplotlib.pyplot as plt
    from pytorch_grad_cam.utils.image import show_cam_on_image

    img = np.asarray(image, dtype=np.float32)
    if img.max() > 1.0:
        img = img / 255.0
    c = np.asarray(cam, dtype=np.float32)
    if img.shape != c.shape:
        raise param_error("cam", "overlay", f"a map of the image's shape {img.shape}", f"shape {c.shape}")
    rgb = show_cam_on_image(np.repeat(img[..., None], 3, -1), c, use_rgb=True, image_weight=image_weight)
    ax = ax or plt.gca()
    ax.imshow(rgb)
    if mask is not None:
        ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors="white", linewidths=0.7)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=7)
    return ax


def saliency_grid(images, cams_by_condition: Mapping[str, np.ndarray], masks=None, *, frame: int = 0,
                  row_titles: Sequence[str] | None = None, title: str | None = None):
    """Grid: rows = images, columns = the image and one overlay per condition (MRI Fig. 3, BackMix Figs. 4-5)."""
    import matplotlib.pyplot as plt

    imgs = np.asarray(images)
    n = imgs.shape[0]
    conds = list(cams_by_condition)
    fig, axes = plt.subplots(n, len(conds) + 1, figsize=(1.7 * (len(conds) + 1), 1.7 * n), squeeze=False)
    for i in range(n):
        im = imgs[i, frame] if imgs.ndim == 4 else imgs[i]
        ax = axes[i, 0]
        ax.imshow(im, cmap="gray")
        if masks is not None:
            mk = np.asarray(masks)[i]
            ax.contour((mk[frame] if mk.ndim == 3 else mk).astype(float), levels=[0.5], colors="lime", linewidths=0.6)
        ax.axis("off")
        if row_titles is not None:
            ax.set_title(row_titles[i], fontsize=7)
        for j, cnd in enumerate(conds):
            cm = np.asarray(cams_by_condition[cnd])[i]
            mk = None if masks is None else np.asarray(masks)[i]
            overlay(im, cm[frame] if cm.ndim == 3 else cm,
                    None if mk is None else (mk[frame] if mk.ndim == 3 else mk), ax=axes[i, j + 1],
                    title=cnd if i == 0 else None)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
