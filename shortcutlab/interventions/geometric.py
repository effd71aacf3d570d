"""Batched geometric and intensity transforms, and the two views of contrastive pretraining.

Batch in, batch out on resident tensors with one ``torch.Generator``: images ``[B, F, H, W]`` float in [0, 1],
masks ``[B, F, H, W]`` bool. The frames of one sample (ED, ES) share one random draw, and an image and its mask
always move together (masks are warped with the same grid, nearest neighbour).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as tF

from .._device import to_device

__all__ = ["GeometricParams", "geometric", "warp_masks", "intensity", "two_views"]

@dataclass(frozen=True)
class GeometricParams:
    """Per-sample geometric and intensity augmentation ranges."""

    rotate: float = 20.0          # degrees, uniform in [-rotate, rotate]
    flip_p: float = 0.5           # horizontal flip probability
    scale_min: float = 0.85       # random resized crop: area fraction in [scale_min, 1]
    brightness: float = 0.1       # additive, uniform in [-b, b]
    contrast: float = 0.2         # multiplicative about the mean, uniform in [1-c, 1+c]


def _affine(b: int, p: GeometricParams, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    u = torch.rand(b, 5, generator=generator)
    ang = (u[:, 0] * 2 - 1) * math.radians(p.rotate)
    flip = u[:, 1] < p.flip_p
    area = p.scale_min + (1 - p.scale_min) * u[:, 2]
    s = torch.sqrt(area)  # side fraction of the crop
    tx = (u[:, 3] * 2 - 1) * (1 - s)
    ty = (u[:, 4] * 2 - 1) * (1 - s)
    cos, sin = torch.cos(ang), torch.sin(ang)
    fx = torch.where(flip, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    # output coords -> input coords: x_in = s * R @ (flip * x_out) + t
    theta[:, 0, 0] = s * cos * fx
    theta[:, 0, 1] = -s * sin
    theta[:, 1, 0] = s * sin * fx
    theta[:, 1, 1] = s * cos
    theta[:, 0, 2] = tx
    theta[:, 1, 2] = ty
    return theta, {"angle": ang, "flip": flip, "scale": s, "tx": tx, "ty": ty}


def _affine_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``affine_grid(theta, align_corners=False)`` by broadcasting (on CPU, torch's version is a slow bmm)."""
    b = theta.shape[0]
    xs = (torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1
    ys = (torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1
    t = theta.view(b, 6, 1, 1)
    xs, ys = xs.view(1, 1, w), ys.view(1, h, 1)
    grid = torch.empty(b, h, w, 2, device=theta.device, dtype=theta.dtype)
    # written in place (no stack), summed in the order of the plain expression t0 x + t1 y + t2 (the same bits)
    torch.add(t[:, 0] * xs, t[:, 1] * ys, out=grid[..., 0]).add_(t[:, 2])
    torch.add(t[:, 3] * xs, t[:, 4] * ys, out=grid[..., 1]).add_(t[:, 5])
    return grid


def geometric(images: torch.Tensor, masks: torch.Tensor | None, params: GeometricParams, *,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """Random rotation, horizontal flip and resized crop, one draw per sample shared by its frames and mask.

    One affine grid for the whole batch (``affine_grid`` + ``grid_sample``): bilinear for images, nearest
    for masks (they stay binary). Returns images, masks and the draws (``theta`` and its parts).
    """
    b, f, h, w = images.shape
    theta, info = _affine(b, params, generator)
    theta = to_device(theta, images.device, images.dtype)
    grid = _affine_grid(theta, h, w)
    out = tF.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out_m = None if masks is None else warp_masks(masks, theta, grid)
    info["theta"] = theta
    return out, out_m, info


def warp_masks(masks: torch.Tensor, theta: torch.Tensor, grid: torch.Tensor | None = None) -> torch.Tensor:
    """Masks ``[B, F, H, W]`` moved by the affine draws ``theta`` of :func:`geometric` (nearest: they stay binary).

    A pipeline warps only the masks it needs (the rows an intervention touches) with the rows' ``theta``.
    """
    b, f, h, w = masks.shape
    if grid is None:
        grid = _affine_grid(theta.to(masks.device, torch.float32), h, w)
    return tF.grid_sample(masks.to(grid.dtype), grid, mode="nearest", padding_mode="zeros", align_corners=False) > 0.5


def intensity(images: torch.Tensor, params: GeometricParams, *, generator: torch.Generator) -> torch.Tensor:
    """Per-sample brightness / contrast (same draw for all frames of a sample), clipped to [0, 1]."""
    b = images.shape[0]
    u = to_device(torch.rand(b, 2, generator=generator), images.device, images.dtype)
    c = 1 + (u[:, 0] * 2 - 1) * params.contrast
    br = (u[:, 1] * 2 - 1) * params.brightness
    mean = images.mean((1, 2, 3), keepdim=True)
    c = c.view(b, 1, 1, 1)
    # (x - mean) * c + mean + br, as one fused multiply-add and an in-place clamp
    return torch.addcmul(mean * (1 - c) + br.view(b, 1, 1, 1), images, c).clamp_(0, 1)


def two_views(images: torch.Tensor, *, generator: torch.Generator, rotate: float = 20.0, scale_min: float = 0.5,
              contrast: tuple[float, float] = (0.7, 1.3), flip_p: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views per sample for contrastive pretraining.

    The MRI seed's recipe: random resized crop, flips, contrast jitter in [0.7, 1.3], rotation up to 20°.
    """
    lo, hi = contrast
    p = GeometricParams(rotate=rotate, flip_p=flip_p, scale_min=scale_min, brightness=0.0,
                        contrast=(hi - lo) / 2)
    views = []
    for _ in range(2):
        v, _, _ = geometric(images, None, p, generator=generator)
        b = v.shape[0]
        c = to_device(lo + (hi - lo) * torch.rand(b, generator=generator), v.device, v.dtype).view(b, 1, 1, 1)
        mean = v.mean((1, 2, 3), keepdim=True)
        views.append(((v - mean) * c + mean).clamp(0, 1))
    return views[0], views[1]
