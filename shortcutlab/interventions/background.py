"""The background interventions of both papers, and the built-in conditions registered from them.

Everything here is batch in, batch out on resident tensors (CPU or CUDA) with one ``torch.Generator``:
images ``[B, F, H, W]`` float in [0, 1], masks ``[B, F, H, W]`` bool. The interventions that only select
pixels (``exact_u8`` in the registry, :mod:`shortcutlab.interventions.registry`) also take the stored uint8 images, which is a quarter of the memory traffic
and gives the same values after conversion. Frames of one sample (ED, ES) always
share one random draw, and an image and its mask always move together.

Conditions:

============  =========================================================================  ==============
name          what the model sees                                                          applied at
============  =========================================================================  ==============
``full``      the image (MRI paper "Full"; BackMix "Baseline" = ``baseline``)            --
``seg``       object only, background set to ``fill`` (MRI "Seg")                         train and test
``bg``        background only, object set to ``fill`` (MRI "BG")                          train and test
``black``     background set to ``fill`` (BackMix "Black")                                train
``rand``      outside the own mask, another image's pixels, a donor per frame (MRI "Rand")  train
``backmix``   the same swap, from the masked fraction ``f`` only (BackMix §2.1-2.2)       train
``noise``     background replaced by noise as BackMix's code draws it (uniform on [0, 30/255))  train
``shuffle``   background pixels randomly permuted within the image (BackMix "Shuffle")   train
``bokeh``     background Gaussian-blurred (BackMix "Bokeh")                               train
``cutmix``    a random box from another image, area-proportional soft label (CutMix)      train
``sma_variant`` the image; the loss adds a mask-free feature-space background swap,    train
              a stand-in for the paper's SMA, not SMA itself (see train.py)
============  =========================================================================  ==============

Donor-based swaps keep the sample's object where its own mask is 1 and take a donor's pixels everywhere else.
They follow each paper's code: ``backmix`` (BackMix §2.1) first blanks the donor's object region with ``fill``
(zeros), so no second sector enters the image; ``rand`` is the MRI code's ``swapBG``: the donor's whole image
outside the own mask, the donor's heart included, with an independent donor for each frame (ED, ES). Donors are
drawn from a pool of samples that have masks (by default the training set).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as tF

from .._device import to_device
from .._validation import ShortcutlabError, check_number, param_error
from .registry import Condition, _builtin, condition_names, context, get_condition

__all__ = ["select", "CONDITIONS", "intervene",
           "apply_test_condition", "seg", "bg", "donor_swap", "noise_bg", "noise_values", "NOISE_HIGH", "shuffle_bg", "bokeh_bg", "cutmix",
           "wbackmix_weights", "select_masked_fraction", "gaussian_blur"]

def _check_batch(images: torch.Tensor, masks: torch.Tensor | None, where: str, need_mask: bool = True,
                 allow_u8: bool = False):
    if images.dim() != 4 or not (images.is_floating_point() or (allow_u8 and images.dtype == torch.uint8)):
        kind = "a float or uint8 tensor [B, F, H, W]" if allow_u8 else "a float tensor [B, F, H, W]"
        raise param_error("images", where, kind, f"{images.dtype} tensor of shape {tuple(images.shape)}")
    if need_mask:
        if masks is None:
            raise ShortcutlabError(f"The 'masks' parameter of {where} is required for this condition but is None: "
                                   f"the data set has no masks. Conditions that need masks: "
                                   f"{', '.join(condition_names(needs_mask=True))}.")
        if masks.shape != images.shape:
            raise param_error("masks", where, f"a bool tensor of the images' shape {tuple(images.shape)}",
                              f"shape {tuple(masks.shape)}")


# same-size integer type of each dtype: select() works on the bit patterns
_BITS = {torch.uint8: torch.uint8, torch.int8: torch.int8, torch.int16: torch.int16, torch.int32: torch.int32,
         torch.int64: torch.int64, torch.float16: torch.int16, torch.bfloat16: torch.int16,
         torch.float32: torch.int32, torch.float64: torch.int64}


def select(cond: torch.Tensor, a: torch.Tensor | float, b: torch.Tensor | float) -> torch.Tensor:
    """``torch.where(cond, a, b)`` for image tensors, bit for bit, as bitwise operations on the bit patterns.

    torch's CPU ``where`` and ``masked_fill`` with a bool condition take ~1.6 ns per element on uint8 and
    float32 (a 64 x 2 x 64 x 64 uint8 batch: 850 us), ``and``/``or`` on the same bytes ~20x less, so every
    selection in the pipeline goes through here. ``a`` or ``b`` may be a Python number (a fill value); shapes
    broadcast as in ``torch.where``. Bool tensors and mixed dtypes fall back to ``torch.where``.
    """
    ref = a if torch.is_tensor(a) else b
    if not torch.is_tensor(ref):
        raise param_error("a", "select", "a tensor (at least one of a and b must be)", a)
    a = a if torch.is_tensor(a) else torch.tensor(a, dtype=ref.dtype, device=ref.device)
    b = b if torch.is_tensor(b) else torch.tensor(b, dtype=ref.dtype, device=ref.device)
    bits = _BITS.get(a.dtype)
    if bits is None or a.dtype != b.dtype or cond.dtype != torch.bool:
        return torch.where(cond, a, b)
    k = cond.to(bits).neg_()  # all ones where cond, zeros elsewhere (two's complement / uint8 wrap)
    out = a.view(bits) & k
    return out.bitwise_or_(b.view(bits) & k.bitwise_not_()).view(a.dtype)


def _fill(images: torch.Tensor, fill: float, where: str) -> float | int:
    """``fill`` (an intensity in [0, 1]) in the images' dtype: uint8 images need ``fill * 255`` to be whole."""
    if images.dtype != torch.uint8:
        return fill
    v = float(fill) * 255.0
    if not (0 <= v <= 255) or abs(v - round(v)) > 1e-6:
        raise param_error("fill", where, "a multiple of 1/255 in [0, 1] for uint8 images", fill)
    return int(round(v))


def seg(images: torch.Tensor, masks: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Object only: background pixels set to ``fill`` (MRI 'Seg', BackMix 'Black'). Float or uint8 images."""
    _check_batch(images, masks, "seg", allow_u8=True)
    return select(masks, images, _fill(images, fill, "seg"))


def bg(images: torch.Tensor, masks: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Background only: object pixels set to ``fill`` (MRI 'BG'). Float or uint8 images."""
    _check_batch(images, masks, "bg", allow_u8=True)
    return select(masks, _fill(images, fill, "bg"), images)


def donor_swap(images: torch.Tensor, masks: torch.Tensor, apply: torch.Tensor, donor_images: torch.Tensor,
               donor_masks: torch.Tensor | None, *, generator: torch.Generator, fill: float = 0.0,
               self_index: torch.Tensor | None = None, pool: torch.Tensor | None = None, per_frame: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Give each sample with ``apply[i]`` the background of a random donor from the pool (BackMix §2.1).

    ``per_frame=True``: every frame draws a donor of its own and takes that donor's same frame (the MRI code's
    ``swapBG``, one donor for ED and another for ES); the draws are made frame by frame, in order, each exactly
    as a one-frame call would make them. Returns the donors as ``[B, F]`` then.

    The pool is ``donor_images[pool]`` (default: all of ``donor_images``; uint8 donors are scaled to [0, 1]
    for float images; uint8 images with uint8 donors are mixed as they are, which gives the same values).
    ``donor_masks=None`` says the donors' objects are already blanked with ``fill`` (a pipeline keeps such a
    copy of its training set, so no batch pays for it again).
    Returns the new images and the donor's index into ``donor_images`` per sample (-1 where not applied).
    ``self_index[i]`` is the sample's own position in the pool (or -1), so it is never its own donor.
    Only the applied samples are gathered and mixed (BackMix with f = 0.05 touches a few per batch).
    """
    where = "donor_swap"
    _check_batch(images, masks, where, allow_u8=True)
    if per_frame and images.shape[1] > 1:
        outs, donors = [], []
        for f in range(images.shape[1]):
            fr = slice(f, f + 1)
            o, d = donor_swap(images[:, fr].contiguous(), masks[:, fr].contiguous(), apply,
                              donor_images[:, fr].contiguous(),
                              None if donor_masks is None else donor_masks[:, fr].contiguous(), generator=generator,
                              fill=fill, self_index=self_index, pool=pool)
            outs.append(o)
            donors.append(d)
        return torch.cat(outs, 1), torch.stack(donors, 1)
    fill = _fill(images, fill, where)
    if images.dtype == torch.uint8 and donor_images.dtype != torch.uint8:
        raise param_error("donor_images", where, "uint8 like the uint8 images", f"{donor_images.dtype} tensor")
    if pool is None:
        pool = torch.arange(donor_images.shape[0], device=donor_images.device)
    n_pool = pool.numel()
    if n_pool < 2:
        raise ShortcutlabError(f"The donor pool of {where} must hold at least 2 samples with masks (a batch or "
                               f"pool of one has no other background to mix). Got {n_pool} instead.")
    b = images.shape[0]
    dev = images.device
    if self_index is None:
        self_index = torch.full((b,), -1, dtype=torch.long)
    # the donors are chosen on the CPU, where the draws are made (no wait for the GPU), then moved
    r = torch.randint(0, n_pool - 1, (b,), generator=generator)
    si = self_index.cpu()
    donor = torch.where((si >= 0) & (r >= si), r + 1, r)
    # without a self index, r ranges over n_pool - 1 entries; use all n_pool instead
    donor = torch.where(si < 0, torch.randint(0, n_pool, (b,), generator=generator), donor)
    donor = torch.where(apply.cpu(), pool.cpu()[donor], torch.full_like(donor, -1))
    rows_cpu = torch.nonzero(donor >= 0).flatten()
    donor_cpu, donor = donor, to_device(donor, dev)
    if rows_cpu.numel() == 0:
        return images.clone(), donor
    rows = to_device(rows_cpu, dev)
    d = to_device(donor_cpu[rows_cpu], dev)
    d_bg = donor_images.index_select(0, d)  # (index_select: a row copy; uint8 [] indexing is ~15x slower)
    if d_bg.dtype == torch.uint8 and images.is_floating_point():
        d_bg = d_bg.to(images.dtype).div_(255.0)
    d_bg = d_bg.to(images.dtype)
    if donor_masks is not None:
        d_bg = select(donor_masks.index_select(0, d), fill, d_bg)  # the donor's object blanked (BackMix §2.1)
    if rows.numel() == b:  # every sample mixed (rand): one pass
        return select(masks, images, d_bg), donor
    mixed = select(masks.index_select(0, rows), images.index_select(0, rows), d_bg)
    return images.index_copy(0, rows, mixed), donor


NOISE_HIGH = 30 / 255  # BackMix's code: np.random.uniform(0, 30) on the 0-255 scale


def noise_values(h: int, w: int, *, generator: torch.Generator, high: float = NOISE_HIGH) -> torch.Tensor:
    """The ``h * w`` noise values of BackMix's 'Noise', drawn once per data set: uniform on [0, ``high``)."""
    return torch.rand(h * w, generator=generator) * high


def noise_bg(images: torch.Tensor, masks: torch.Tensor, apply: torch.Tensor, *, generator: torch.Generator,
             values: torch.Tensor | None = None) -> torch.Tensor:
    """Background replaced by noise as BackMix's code draws it ('Noise'; ``kitbransby/BackMix``,
    ``utils/dataset_tmed2_4_class.py``, ``get_noise`` and its use): one array of ``h * w`` values, uniform on
    [0, 30/255) (:func:`noise_values`, drawn once per data set; here when ``values`` is None), shuffled anew for
    every frame, its value at each background pixel's position replacing that pixel. (The paper's text says only
    "random noise sampled from a uniform distribution"; the code fixes the range and the one draw.) Draws, for
    replaying: ``values`` if not given, then one ``torch.rand(b, f, h * w)`` whose argsort per frame is the
    shuffle."""
    _check_batch(images, masks, "noise_bg")
    b, f, h, w = images.shape
    if values is None:
        values = noise_values(h, w, generator=generator)
    if values.numel() != h * w:
        raise param_error("values", "noise_bg", f"{h * w} noise values (h * w of the images)", tuple(values.shape))
    perm = torch.rand(b, f, h * w, generator=generator).argsort(-1)
    u = to_device(values[perm].view(b, f, h, w), images.device, images.dtype)
    out = select(masks, images, u)
    return select(to_device(apply, images.device).view(-1, 1, 1, 1), out, images)


def shuffle_bg(images: torch.Tensor, masks: torch.Tensor, apply: torch.Tensor, *,
               generator: torch.Generator) -> torch.Tensor:
    """Background pixels randomly permuted within each frame (BackMix 'Shuffle'); object pixels unchanged.

    The multiset of background values of every frame is preserved. Vectorized: random sort keys for
    background pixels, position-ordered keys for object pixels, one gather/scatter.
    """
    _check_batch(images, masks, "shuffle_bg")
    b, f, h, w = images.shape
    p = h * w
    x = images.reshape(b * f, p)
    m = masks.reshape(b * f, p)
    pos = torch.arange(p, device=images.device, dtype=images.dtype).expand(b * f, p) / p
    keys = to_device(torch.rand((b, 1, p), generator=generator), images.device, images.dtype).expand(b, f, p).reshape(b * f, p)
    src_key = torch.where(m, 2.0 + pos, keys)      # background first, in random order; object after, in place
    dst_key = torch.where(m, 2.0 + pos, pos)       # background positions in order; object after, in place
    src = torch.argsort(src_key, dim=1)
    dst = torch.argsort(dst_key, dim=1)
    out = torch.empty_like(x).scatter_(1, dst, x.gather(1, src)).reshape(b, f, h, w)
    return select(to_device(apply, images.device).view(-1, 1, 1, 1), out, images)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of every frame of [B, F, H, W] (reflect padding)."""
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    b, f, h, w = x.shape
    y = x.reshape(b * f, 1, h, w)
    pad_w, pad_h = min(r, w - 1), min(r, h - 1)
    kw = k[r - pad_w:r + pad_w + 1] / k[r - pad_w:r + pad_w + 1].sum()
    kh = k[r - pad_h:r + pad_h + 1] / k[r - pad_h:r + pad_h + 1].sum()
    y = tF.conv2d(tF.pad(y, (pad_w, pad_w, 0, 0), mode="reflect"), kw.view(1, 1, 1, -1))
    y = tF.conv2d(tF.pad(y, (0, 0, pad_h, pad_h), mode="reflect"), kh.view(1, 1, -1, 1))
    return y.reshape(b, f, h, w)


def bokeh_bg(images: torch.Tensor, masks: torch.Tensor, apply: torch.Tensor, *, sigma: float = 3.0) -> torch.Tensor:
    """Background replaced by a Gaussian-blurred copy of the image (BackMix 'Bokeh'); object sharp. This follows the
    paper's text ("background blur"); its code (``utils/dataset_tmed2_4_class.py``) multiplies the background by
    0.74 instead, a darkening, not a blur."""
    _check_batch(images, masks, "bokeh_bg")
    out = select(masks, images, gaussian_blur(images, sigma))
    return select(to_device(apply, images.device).view(-1, 1, 1, 1), out, images)


def cutmix(images: torch.Tensor, labels: torch.Tensor, num_classes: int, *, generator: torch.Generator,
           alpha: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """CutMix (Yun et al. 2019): paste a random box of a permuted partner; soft labels by the kept area.

    One ``lam ~ Beta(alpha, alpha)`` per sample; the box has area ``(1 - lam) H W`` (clipped to the image)
    and the label weight of the partner is the box's actual area fraction.
    """
    where = "cutmix"
    _check_batch(images, None, where, need_mask=False)
    b, f, h, w = images.shape
    if b < 2:
        raise ShortcutlabError(f"The batch of {where} must hold at least 2 samples (a batch of one has no "
                               f"partner to mix). Got {b} instead.")
    dev = images.device
    perm = to_device(torch.randperm(b, generator=generator), dev)
    u = torch.rand(b, 2, generator=generator)
    # lam ~ Beta(alpha, alpha) = X / (X + Y) with X, Y ~ Gamma(alpha) drawn from our generator
    # (torch.distributions takes no generator, so it would break seeding)
    x_g = _gamma(alpha, b, generator)
    y_g = _gamma(alpha, b, generator)
    lam = x_g / (x_g + y_g)
    cut = torch.sqrt(1.0 - lam)
    ch, cw = (cut * h).long(), (cut * w).long()
    cy, cx = (u[:, 0] * h).long(), (u[:, 1] * w).long()
    y0, y1 = (cy - ch // 2).clamp(0, h), (cy + ch // 2).clamp(0, h)
    x0, x1 = (cx - cw // 2).clamp(0, w), (cx + cw // 2).clamp(0, w)
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    box = ((ys >= y0.view(b, 1, 1)) & (ys < y1.view(b, 1, 1)) & (xs >= x0.view(b, 1, 1)) & (xs < x1.view(b, 1, 1)))
    box = to_device(box, dev).unsqueeze(1)
    out = select(box, images.index_select(0, perm), images)
    area = box.flatten(1).float().mean(1)
    y = tF.one_hot(labels.to(dev), num_classes).float()
    soft = (1 - area).view(b, 1) * y + area.view(b, 1) * y[perm]
    return out, soft, {"partner": perm, "box_area": area}


def _gamma(alpha: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """Gamma(alpha, 1) samples from a seeded generator (Marsaglia-Tsang; boost for alpha < 1)."""
    a = alpha + 1.0 if alpha < 1 else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = torch.empty(n)
    filled = torch.zeros(n, dtype=torch.bool)
    for _ in range(64):  # rejection rounds over the whole vector; acceptance is > 95 % per round
        z = torch.randn(n, generator=generator)
        u = torch.rand(n, generator=generator)
        v = (1 + c * z) ** 3
        ok = (v > 0) & (torch.log(u.clamp_min(1e-12)) < 0.5 * z * z + d - d * v + d * torch.log(v.clamp_min(1e-12)))
        take = ok & ~filled
        out[take] = (d * v)[take]
        filled |= ok
        if bool(filled.all()):
            break
    if alpha < 1:
        out = out * torch.rand(n, generator=generator).clamp_min(1e-12) ** (1.0 / alpha)
    return out


# ------------------------------------------------------------------------------------------ semi-supervised
def select_masked_fraction(has_mask: torch.Tensor, f: float, *, generator: torch.Generator,
                           subset: int = -1) -> torch.Tensor:
    """A seeded random subset of exactly ``round(f * N)`` samples (among those with masks) to augment.

    BackMix §2.2: only this fraction is augmented and only it serves as donors. ``subset = k >= 0`` picks the
    k-th of the non-overlapping blocks of one fixed shuffle (independent of ``generator``): the paper's
    ablation of which samples carry masks, at a fixed training seed.
    """
    f = check_number(f, name="f", where="select_masked_fraction", lo=0, hi=1, lo_open=True)
    n = has_mask.numel()
    k = max(1, int(round(f * n)))
    avail = torch.nonzero(has_mask.cpu()).flatten()
    if avail.numel() < k:
        raise ShortcutlabError(f"The 'f' parameter of select_masked_fraction asks for {k} masked samples "
                               f"(f = {f} of {n}), but only {avail.numel()} samples have masks.")
    if subset >= 0:
        blocks = avail.numel() // k
        if subset >= blocks:
            raise ShortcutlabError(f"The 'subset' parameter of select_masked_fraction must be in [0, {blocks - 1}] "
                                   f"({blocks} non-overlapping subsets of {k} samples). Got {subset} instead.")
        order = avail[torch.randperm(avail.numel(), generator=torch.Generator().manual_seed(12345))]
        pick = order[subset * k:(subset + 1) * k]
    else:
        pick = avail[torch.randperm(avail.numel(), generator=generator)[:k]]
    out = torch.zeros(n, dtype=torch.bool)
    out[pick] = True
    return out


def wbackmix_weights(augmented: torch.Tensor, f: float, lam: float) -> torch.Tensor:
    """Per-sample loss weights of wBackMix (BackMix §2.3): ``1 - lam f`` (not augmented), ``1 + lam (1 - f)``."""
    f = check_number(f, name="f", where="wbackmix_weights", lo=0, hi=1, lo_open=True)
    lam = check_number(lam, name="lambda", where="wbackmix_weights", lo=0, hi=1 / f)  # 1 - lam f >= 0, finite
    aug = augmented.float()
    return aug * (1 + lam * (1 - f)) + (1 - aug) * (1 - lam * f)


# ------------------------------------------------------------------------------------------ dispatch
def apply_test_condition(condition: str, images: torch.Tensor, masks: torch.Tensor | None, fill: float = 0.0):
    """The input a model of ``condition`` sees at evaluation: a test-time condition's transform (``seg``/``bg``),
    the images unchanged for the others."""
    cond = get_condition(condition, where="apply_test_condition")
    if cond.test_time:
        return cond.at_test(images, masks, fill)
    return images


def intervene(condition: str, images: torch.Tensor, masks: torch.Tensor | None, *, generator: torch.Generator,
              apply: torch.Tensor | None = None, labels: torch.Tensor | None = None, num_classes: int | None = None,
              donor_images: torch.Tensor | None = None, donor_masks: torch.Tensor | None = None,
              self_index: torch.Tensor | None = None, pool: torch.Tensor | None = None, fill: float = 0.0,
              sigma: float = 3.0, alpha: float = 1.0,
              noise_values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """Apply one training condition to a batch (dispatched through the condition registry). Returns
    (images, soft labels or None, info).

    ``apply[i]`` selects the samples a background intervention touches (default: every sample with a mask);
    donors for ``rand``/``backmix`` default to the batch itself; ``noise_values``, the data set's noise array
    (:func:`noise_values`), defaults to one drawn for this batch.
    """
    cond = get_condition(condition, where="intervene")
    b = images.shape[0]
    if apply is None:
        apply = torch.ones(b, dtype=torch.bool)
    info: dict = {"augmented": apply.clone() if cond.augments else torch.zeros(b, dtype=torch.bool)}
    if cond.apply is None:  # full, baseline; sma_variant acts in feature space, inside the loss (train.py)
        return images, None, info
    ctx = context(generator=generator, apply=apply, labels=labels, num_classes=num_classes, donor_images=donor_images,
                  donor_masks=donor_masks, self_index=self_index, pool=pool, fill=fill, sigma=sigma, alpha=alpha,
                  condition=condition, noise_values=noise_values)
    out, soft, extra = cond.apply(images, masks, ctx)
    info.update(extra)
    return out, soft, info


# ------------------------------------------------------------------------------------------ the built-in conditions
def _apply_seg(images, masks, ctx):
    return seg(images, masks, ctx.fill), None, {}


def _apply_bg(images, masks, ctx):
    return bg(images, masks, ctx.fill), None, {}


def _apply_black(images, masks, ctx):
    _check_batch(images, masks, "intervene", allow_u8=True)
    return select(to_device(ctx.apply, images.device).view(-1, 1, 1, 1), seg(images, masks, ctx.fill), images), None, {}


def _apply_swap(images, masks, ctx):
    cond = get_condition(ctx.condition, where="intervene")
    donor_images, donor_masks, self_index = ctx.donor_images, ctx.donor_masks, ctx.self_index
    b = images.shape[0]
    if donor_images is None:
        donor_images, donor_masks = images, masks
        if b < 2:
            raise ShortcutlabError(f"The batch of intervene('{ctx.condition}') must hold at least 2 samples (a batch "
                                   f"of one has no other background to mix). Got {b} instead.")
        self_index = torch.arange(b)
    if not cond.blank_donor:  # the donor's whole image outside the own mask, its object included (swapBG)
        donor_masks = None
    out, donor = donor_swap(images, masks, ctx.apply, donor_images, donor_masks, generator=ctx.generator,
                            fill=ctx.fill, self_index=self_index, pool=ctx.pool, per_frame=cond.donor_per_frame)
    return out, None, {"donor": donor}


def _apply_noise(images, masks, ctx):
    return noise_bg(images, masks, ctx.apply, generator=ctx.generator, values=ctx.noise_values), None, {}


def _apply_shuffle(images, masks, ctx):
    return shuffle_bg(images, masks, ctx.apply, generator=ctx.generator), None, {}


def _apply_bokeh(images, masks, ctx):
    return bokeh_bg(images, masks, ctx.apply, sigma=ctx.sigma), None, {}


def _apply_cutmix(images, masks, ctx):
    if ctx.labels is None or ctx.num_classes is None:
        raise param_error("labels", "intervene('cutmix')", "the batch's labels, with num_classes (CutMix mixes labels)",
                          ctx.labels)
    out, soft, ci = cutmix(images, ctx.labels, ctx.num_classes, generator=ctx.generator, alpha=ctx.alpha)
    return out, soft, {**ci, "augmented": torch.ones(images.shape[0], dtype=torch.bool)}


def _register_builtins() -> None:
    C, mask = Condition, dict(needs_mask=True, augments=True, stage="post")
    for c in (
        C("full", paper="mri", doc="the image (MRI paper 'Full')"),
        C("baseline", paper="backmix", doc="the image (BackMix 'Baseline')"),
        C("seg", paper="mri", needs_mask=True, test_time=True, stage="post", exact_u8=True, apply=_apply_seg,
          at_test=seg, doc="object only, background set to fill (MRI 'Seg'); train and test"),
        C("bg", paper="mri", needs_mask=True, test_time=True, stage="post", exact_u8=True, apply=_apply_bg,
          at_test=bg, doc="background only, object set to fill (MRI 'BG'); train and test"),
        C("black", paper="backmix", exact_u8=True, apply=_apply_black, doc="background set to fill (BackMix 'Black')",
          **mask),
        C("rand", paper="mri", needs_mask=True, augments=True, stage="pre", mixes="batch", swaps_background=True,
          blank_donor=False, donor_per_frame=True, exact_u8=True, apply=_apply_swap,
          doc="outside the own heart, another training image's pixels, a donor per frame (MRI 'Rand': swapBG)"),
        C("backmix", paper="backmix", mixes="pool", swaps_background=True, exact_u8=True, apply=_apply_swap,
          doc="the same swap, donors and augmented samples from the masked fraction f (BackMix)", **mask),
        C("noise", paper="backmix", apply=_apply_noise, doc="background replaced by uniform noise (BackMix 'Noise')",
          **mask),
        C("shuffle", paper="backmix", apply=_apply_shuffle,
          doc="background pixels permuted within the image (BackMix 'Shuffle')", **mask),
        C("bokeh", paper="backmix", apply=_apply_bokeh, doc="background Gaussian-blurred (BackMix 'Bokeh')", **mask),
        C("cutmix", paper="backmix", augments=True, stage="post", mixes="batch", apply=_apply_cutmix,
          doc="a box from another image, area-proportional soft label (CutMix)"),
        C("sma_variant", paper="backmix",
          doc="the image; the loss adds a mask-free feature-space background swap (a variant of SMA, see train.py)"),
    ):
        _builtin(c)


_register_builtins()

# The built-in vocabulary, for reading; the package itself asks the registry, so conditions registered later count.
CONDITIONS = condition_names()
