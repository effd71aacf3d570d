"""Masks estimated by classical image processing, for data that ships without them.

The BackMix paper made its echo sector masks this way; TMED2 ships none. A source asks for them with
``masks: estimate`` in the preset.

>>> m = sector_mask(echo.images)          # bool [N, F, H, W]
"""
from __future__ import annotations

import numpy as np
import torch

from ._validation import ShortcutlabError, check_int, check_number

__all__ = ["sector_mask"]


def sector_mask(images, *, threshold: float = 0.04, closing: int = 2, opening: int = 1) -> torch.Tensor:
    """The ultrasound sector of each frame: the largest connected non-black region, closed and filled.

    Per frame: pixels above ``threshold`` (a fraction of the frame's maximum, so it does not depend on the
    gain) are foreground; a binary opening of ``opening`` pixels detaches thin overlays (text, calibration
    bars) that touch the sector; the largest 8-connected component is kept, closed with a disk of radius
    ``closing`` (speckle drop-outs at the sector's edge) and its holes are filled (dark blood pools inside).

    Parameters
    ----------
    images : uint8 or float tensor / array [N, F, H, W] (or [N, H, W])
    threshold : float in (0, 1)
    closing, opening : int >= 0
        Radii in pixels of the structuring disks.

    Returns
    -------
    torch.BoolTensor with the shape of ``images``. A frame with no foreground gets an all-false mask.
    """
    from scipy import ndimage

    where = "sector_mask"
    check_number(threshold, name="threshold", where=where, lo=0, hi=1, lo_open=True, hi_open=True)
    check_int(closing, name="closing", where=where, lo=0, hi=64)
    check_int(opening, name="opening", where=where, lo=0, hi=64)
    x = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if x.ndim not in (3, 4) or x.size == 0:
        raise ShortcutlabError(f"The 'images' parameter of {where} must have shape [N, F, H, W] or [N, H, W]. "
                               f"Got shape {tuple(x.shape)} instead.")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise ShortcutlabError(f"The 'images' parameter of {where} holds {int((~np.isfinite(x)).sum())} NaN or Inf "
                               f"pixel(s); images must be finite.")
    shape = x.shape
    frames = x.reshape(-1, shape[-2], shape[-1]).astype(np.float32)
    out = np.zeros(frames.shape, dtype=bool)

    def disk(r: int) -> np.ndarray:
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        return yy * yy + xx * xx <= r * r

    eight = np.ones((3, 3), dtype=bool)
    for i, fr in enumerate(frames):  # conversion-time work (once per data set), not the training loop
        top = float(fr.max())
        if top <= 0:
            continue
        fg = fr > threshold * top
        if opening:
            fg = ndimage.binary_opening(fg, structure=disk(opening))
        lab, n = ndimage.label(fg, structure=eight)
        if n == 0:
            continue
        sizes = np.bincount(lab.ravel())[1:]
        comp = lab == (1 + int(np.argmax(sizes)))
        if closing:
            comp = ndimage.binary_closing(np.pad(comp, closing), structure=disk(closing))[closing:-closing,
                                                                                              closing:-closing]
        out[i] = ndimage.binary_fill_holes(comp)
    return torch.from_numpy(out.reshape(shape))
