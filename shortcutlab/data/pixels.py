"""Pixels as a model saw them: how the audit reads a user's image files, with every step stated.

The study's loaders normalise their own way (grey, a centre square, each image stretched to its 1st–99th
percentile, stored as uint8); that is right for the study's models, which were trained on it, and wrong for a
user's model, which was trained on its own pixels. :class:`Pixels` is the other policy, the audit's:

* **channels and bit depth kept** (:func:`read_pixels`): grey stays one channel, RGB stays three; RGBA and
  palette images become RGB (and the file's format says so); 8- and 16-bit PNG, JPEG, TIFF (8/16-bit and
  float), ``.npy`` (``[H, W]``, ``[H, W, 3]`` or ``[3, H, W]``) and NIfTI are read at their own depth;
* **intensity** (``raw | percentile | window:LO,HI``): ``raw`` divides unsigned integers by their bit depth's
  maximum (255, 65535; a 1-bit image by 1) and keeps everything else as stored (float arrays, signed integers
  such as CT in Hounsfield units); ``percentile`` maps each image's 1st–99th percentile to [0, 1] (the study's
  normalisation); ``window:LO,HI`` maps the stored values LO..HI to [0, 1], clipped;
* **resize** to the model's size (``squash | pad | crop``): ``squash`` resizes to a square whatever the aspect,
  ``pad`` pads the short side with zeros (masks: background) to a square first, ``crop`` takes the centre square
  first. Images are resized bilinearly with antialiasing, masks by nearest neighbour.

:meth:`Pixels.describe` states the whole pipeline in one sentence, for the report's first section.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tF

from .._validation import DataError, ShortcutlabError, param_error

__all__ = ["Pixels", "read_pixels", "INTENSITIES", "RESIZES", "PIXEL_EXTS"]

INTENSITIES = ("raw", "percentile", "window:LO,HI")
RESIZES = ("squash", "pad", "crop")
PIXEL_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".npy", ".nii.gz", ".nii")
_UNSIGNED_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(bool): 1.0}


@dataclass(frozen=True)
class Pixels:
    """The audit's reading policy: ``intensity`` (``raw``, ``percentile`` or ``window:LO,HI``) and ``resize``
    (``squash``, ``pad`` or ``crop``). :meth:`parse` checks both and names a bad value."""

    intensity: str = "raw"
    resize: str = "squash"

    @classmethod
    def parse(cls, intensity: str = "raw", resize: str = "squash", *, where: str = "audit") -> "Pixels":
        if not isinstance(intensity, str) or not (intensity in ("raw", "percentile") or intensity.startswith("window:")):
            raise param_error("intensity", where, f"one of {', '.join(INTENSITIES)} (e.g. window:-1000,400)", intensity)
        if intensity.startswith("window:"):
            cls._window(intensity, where)
        if resize not in RESIZES:
            raise param_error("resize", where, f"one of {', '.join(RESIZES)}", resize)
        return cls(intensity, resize)

    @staticmethod
    def _window(text: str, where: str = "audit") -> tuple[float, float]:
        try:
            lo, hi = (float(v) for v in text[len("window:"):].split(","))
        except ValueError:
            raise param_error("intensity", where, "window:LO,HI with two numbers, e.g. window:-1000,400",
                              text) from None
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise param_error("intensity", where, "window:LO,HI with finite LO < HI", text)
        return lo, hi

    def key(self) -> dict:
        return {"intensity": self.intensity, "resize": self.resize}

    def scale(self, arr: np.ndarray, full: float | None) -> np.ndarray:
        """One image's stored values ``arr`` (``[C, H, W]``; ``full`` its bit depth's maximum, None for floats and
        signed integers) as float32 intensities under this policy."""
        a = arr.astype(np.float32, copy=False)
        if self.intensity == "raw":
            return a / np.float32(full) if full else a.copy()
        if self.intensity == "percentile":
            lo, hi = np.quantile(a, [0.01, 0.99])
            hi = hi if hi > lo else lo + 1
            return np.clip((a - lo) / (hi - lo), 0, 1).astype(np.float32)
        lo, hi = self._window(self.intensity)
        return np.clip((a - lo) / (hi - lo), 0, 1).astype(np.float32)

    def fit(self, x: torch.Tensor, size: int, *, mask: bool = False) -> torch.Tensor:
        """``x`` ``[C, H, W]`` to ``[C, size, size]`` by this policy's resize (masks: nearest, True stays True)."""
        h, w = x.shape[-2:]
        if self.resize == "crop" and h != w:
            s = min(h, w)
            y0, x0 = (h - s) // 2, (w - s) // 2
            x = x[..., y0:y0 + s, x0:x0 + s]
        elif self.resize == "pad" and h != w:
            s = max(h, w)
            top, left = (s - h) // 2, (s - w) // 2
            x = tF.pad(x.float(), (left, s - w - left, top, s - h - top), value=0.0)
        x = x.float()[None]
        if tuple(x.shape[-2:]) != (size, size):
            if mask:
                x = tF.interpolate(x, size=(size, size), mode="nearest")
            else:
                x = tF.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return x[0] > 0.5 if mask else x[0]

    def describe(self, size: int | None = None) -> str:
        """The policy in words (what was done to every pixel before the model's own preprocessing)."""
        if self.intensity == "raw":
            inten = ("intensity raw: unsigned integers divided by their bit depth's maximum (255 for 8-bit, 65535 for "
                     "16-bit), floats and signed integers as stored")
        elif self.intensity == "percentile":
            inten = "intensity percentile: each image's 1st–99th percentile mapped to [0, 1]"
        else:
            lo, hi = self._window(self.intensity)
            inten = f"intensity window {lo:g}..{hi:g} of the stored values mapped to [0, 1], clipped"
        how = {"squash": "squashed to a square whatever the aspect", "pad": "padded with zeros to a square",
               "crop": "centre-cropped to a square"}[self.resize]
        to = f" and resized to {size} × {size} px" if size else ""
        return f"{inten}; images not square are {how}{to} (bilinear, antialiased; masks nearest)"


def _png_depth(path: Path) -> tuple[int, int] | None:
    """A PNG's (bit depth, colour type) from its header, or None when the file is not a PNG."""
    with path.open("rb") as fh:
        head = fh.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    depth, colour = struct.unpack(">BB", head[24:26])
    return depth, colour


def read_pixels(path: str | Path) -> tuple[np.ndarray, float | None, str]:
    """The image in ``path`` at its own bit depth and channels: ``(values [C, H, W], full, format)``.

    ``values`` are the stored numbers (C = 1 grey, 3 colour); ``full`` is the bit depth's maximum for unsigned
    integer images (255, 65535; 1 for a 1-bit image) and None for floats and signed integers; ``format`` says
    what the file was and anything done to it (``PNG 8-bit RGBA, alpha dropped``). NaN or Inf pixels, an
    unsupported type and a shape that is no image are errors naming the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"The file {str(path)!r} does not exist.")
    name = path.name.lower()
    if not name.endswith(PIXEL_EXTS):
        raise DataError(f"The file {str(path)!r} has an unsupported type; allowed: {', '.join(PIXEL_EXTS)}.")
    try:
        if name.endswith(".npy"):
            arr = np.load(path, allow_pickle=False)
            fmt = f"NPY {arr.dtype}"
        elif name.endswith((".nii.gz", ".nii")):
            import nibabel as nib
            arr = np.asarray(nib.load(str(path)).dataobj)
            fmt = f"NIfTI {arr.dtype}"
        else:
            arr, fmt = _read_pil(path)
    except (DataError, ShortcutlabError):
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure is a clear data error
        raise DataError(f"The file {str(path)!r} could not be read ({type(e).__name__}: {e}).") from None
    arr = np.squeeze(arr) if arr.ndim > 3 else arr
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] not in (1, 3):
        arr = np.moveaxis(arr, -1, 0)  # [H, W, C] as images are stored
    if arr.ndim == 3 and arr.shape[0] == 4:
        arr, fmt = arr[:3], fmt + ", alpha dropped"
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3) or min(arr.shape[1:]) < 2:
        raise DataError(f"The file {str(path)!r} must hold a grey or RGB image ([H, W], [H, W, 3] or [3, H, W]). "
                        f"Got shape {arr.shape} instead.")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"The file {str(path)!r} must hold numbers. Got dtype {arr.dtype} instead.")
    if arr.dtype.kind == "f":
        bad = int(arr.size - np.isfinite(arr).sum())
        if bad:
            raise DataError(f"The file {str(path)!r} has {bad} NaN or Inf pixel(s) out of {arr.size}; images must "
                            f"be finite (fix or mask them at the source).")
    return arr, _UNSIGNED_MAX.get(arr.dtype), fmt


def _read_pil(path: Path) -> tuple[np.ndarray, str]:
    from PIL import Image

    png = _png_depth(path)
    with Image.open(path) as im:
        kind, mode = im.format or path.suffix.upper().lstrip("."), im.mode
        if png is not None and png[0] == 16 and png[1] in (2, 6):
            raise DataError(f"The file {str(path)!r} is a 16-bit colour PNG, which the image reader can only read at "
                            f"8 bits; save it as .npy ([H, W, 3], uint16) or as 16-bit grey PNGs.")
        if mode in ("I;16", "I;16B", "I;16L", "I;16N") or (mode == "I" and png is not None):
            depth = png[0] if png is not None else 16
            arr = np.asarray(im, dtype=np.uint16) if depth == 16 else np.asarray(im).astype(np.uint16)
            return arr, f"{kind} {depth}-bit grey"
        if mode == "1":
            return np.asarray(im, dtype=bool), f"{kind} 1-bit"
        if mode == "L":
            return np.asarray(im), f"{kind} 8-bit grey"
        if mode == "LA":
            return np.asarray(im.getchannel("L")), f"{kind} 8-bit grey, alpha dropped"
        if mode == "RGB":
            return np.asarray(im), f"{kind} 8-bit RGB"
        if mode in ("RGBA", "RGBa"):
            return np.asarray(im.convert("RGB")), f"{kind} 8-bit RGBA, alpha dropped"
        if mode in ("P", "PA"):
            rgb = np.asarray(im.convert("RGB"))
            if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
                return rgb[..., 0].copy(), f"{kind} palette, read as 8-bit grey"
            return rgb, f"{kind} palette, read as 8-bit RGB"
        if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            return np.asarray(im.convert("RGB")), f"{kind} {mode}, converted to 8-bit RGB"
        if mode in ("I", "F"):
            arr = np.asarray(im)
            return arr, f"{kind} {'32-bit integer' if mode == 'I' else 'float'} grey"
    raise DataError(f"The file {str(path)!r} has the image mode {mode!r}, which the audit cannot read; allowed: "
                    f"grey (8/16-bit, float), RGB, RGBA, palette.")
