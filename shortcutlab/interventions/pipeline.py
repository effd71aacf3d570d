"""The batch pipeline a training loop consumes: resident data, whole-batch augmentation, one generator.

>>> pipe = BatchPipeline(train_set, "backmix", batch_size=64, f=0.05, lam=1.0, seed=0)
>>> for batch in pipe:            # Batch(x [B,F,H,W] float, y [B], y_soft, weight, index, augmented)
...     loss = (weight * ce(model(batch.x), batch.y)).mean()

No per-sample Python in the hot path: indexing, conversion, the affine grid, the intervention and the loss
weights are tensor operations over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch

from .._device import to_device
from .._validation import ShortcutlabError, check_int, check_number
from .background import (apply_test_condition, intervene, noise_values, select, select_masked_fraction,
                         wbackmix_weights)
from .geometric import GeometricParams, geometric, intensity, warp_masks
from .registry import condition_names, get_condition
from ..data.imageset import ImageSet

__all__ = ["Batch", "BatchPipeline", "geometric_from_config", "PRE_TRANSFORM", "POST_TRANSFORM"]

# Where the intervention sits relative to the geometric / intensity transforms (a condition's ``stage`` in
# the registry), as in each paper's code: the MRI seed randomizes the background of the stored image, then
# transforms it (masks need no warping); BackMix §2.1 applies BackMix "after standard augmentations", and so
# its baselines here. Interventions after the transforms use the warped masks of the rows they touch, so
# `seg` / `bg` training inputs are exactly the test-time inputs and Black stays black.
PRE_TRANSFORM = condition_names(stage="pre")  # the built-ins at import; the pipeline asks the registry
POST_TRANSFORM = condition_names(stage="post")


@dataclass
class Batch:
    x: torch.Tensor                  # [B, F, H, W] float in [0, 1] on the device
    y: torch.Tensor                  # [B] int64
    y_soft: torch.Tensor | None      # [B, K] soft labels (cutmix) or None
    weight: torch.Tensor | None      # [B] per-sample loss weights (wBackMix) or None
    index: torch.Tensor              # [B] indices into the ImageSet
    augmented: torch.Tensor          # [B] bool: the background intervention touched this sample


def geometric_from_config(cfg, modality: str = "mri") -> GeometricParams:
    """GeometricParams from a preset's ``augment`` section (rotation of the MRI seed or of BackMix)."""
    from ..config import settings_values

    return GeometricParams(**settings_values(cfg, "geometric", modality))


class BatchPipeline:
    """Epoch iterator over an ImageSet with a condition's augmentation.

    Parameters
    ----------
    data : ImageSet
        Kept resident on ``device`` (uint8); converted to float per batch.
    condition : str
        A registered condition (:func:`shortcutlab.conditions.list_conditions`).
    batch_size : int
    train : bool
        Training: shuffled order, geometric + intensity augmentation and the condition's intervention, in the
        order :data:`PRE_TRANSFORM` / :data:`POST_TRANSFORM` give.
        Evaluation: fixed order, only the test-time input transform (``seg``/``bg``).
    geometric : GeometricParams or None
        None disables geometric and intensity augmentation.
    f : float in (0, 1]
        Fraction of the set that carries a mask and is augmented (BackMix §2.2); only it donates backgrounds.
    lam : float >= 0
        wBackMix weight; 0 gives no weights (all ones).
    seed : int
        Seeds the one generator of this pipeline (order, masked subset, every augmentation draw).
    mask_subset : int
        -1: the masked subset is drawn from ``seed``; k >= 0: the k-th non-overlapping subset (ablation).
    """

    def __init__(self, data: ImageSet, condition: str = "full", *, batch_size: int = 64, train: bool = True,
                 geometric: GeometricParams | None = None, f: float = 1.0, lam: float = 0.0, fill: float = 0.0,
                 sigma: float = 3.0, alpha: float = 1.0, seed: int = 0, device: str | torch.device = "cpu",
                 drop_last: bool = False, mask_subset: int = -1):
        where = "BatchPipeline"
        cond = get_condition(condition, where=where)
        self.cond = cond
        check_int(batch_size, name="batch_size", where=where, lo=1)
        self.f = check_number(f, name="f", where=where, lo=0, hi=1, lo_open=True)
        self.lam = check_number(lam, name="lam", where=where, lo=0)
        if len(data) == 0:
            raise ShortcutlabError(f"The 'data' parameter of {where} must hold at least one sample. Got an empty set "
                                   f"{data.name!r} instead.")
        if cond.needs_mask and (data.masks is None or not bool(data.has_mask.any())):
            raise ShortcutlabError(f"The condition {condition!r} of {where} needs masks, but the data set "
                                   f"{data.name!r} has none. Conditions without masks: "
                                   f"{', '.join(condition_names(needs_mask=False))}.")
        if cond.test_time and cond.needs_mask and not bool(data.has_mask.all()):
            raise ShortcutlabError(f"The condition {condition!r} of {where} needs a mask for every sample; "
                                   f"{int((~data.has_mask).sum())} of {len(data)} in {data.name!r} have none.")
        if train and cond.mixes is not None and batch_size < 2:
            raise ShortcutlabError(f"The 'batch_size' parameter of {where} must be at least 2 for the donor-based "
                                   f"condition {condition!r} (a batch of one has nothing to mix). Got {batch_size} instead.")
        self.device = torch.device(device)
        self.data = data.to(self.device)
        self.condition = condition
        self.batch_size = batch_size
        self.train = train
        self.geo = geometric
        self.fill, self.sigma, self.alpha = fill, sigma, alpha
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(int(seed))
        n = len(data)
        if train and cond.needs_mask and cond.augments:
            self.augmented = select_masked_fraction(data.has_mask.cpu(), self.f, generator=self.generator,
                                                    subset=mask_subset)
        else:
            self.augmented = torch.zeros(n, dtype=torch.bool)
        self.pool = torch.nonzero(self.augmented).flatten()
        self.pos_in_pool = torch.full((n,), -1, dtype=torch.long)
        self.pos_in_pool[self.pool] = torch.arange(self.pool.numel())
        if train and cond.mixes == "pool" and self.pool.numel() < 2:
            raise ShortcutlabError(f"The 'f' parameter of {where} leaves {self.pool.numel()} masked sample(s) in "
                                   f"{data.name!r} ({n} samples); BackMix needs at least 2 donors. Use a larger f.")
        self._u8 = (cond.exact_u8 and data.images.dtype == torch.uint8
                    and abs(fill * 255 - round(fill * 255)) < 1e-6 and 0 <= fill <= 1)
        # donor-based swaps: a resident copy of the donors (objects blanked where the condition says), so batches
        # only gather
        # BackMix's Noise: one array of h * w values for the whole data set, shuffled per frame (noise_bg)
        self._noise = (noise_values(*data.size, generator=self.generator) if train and condition == "noise"
                       else None)
        self._blanked = None
        if train and self._u8 and cond.swaps_background:
            self._blanked = (select(self.data.masks, int(round(fill * 255)), self.data.images) if cond.blank_donor
                             else self.data.images)  # swapBG: the donors as they are

    def _starts(self) -> list[int]:
        n, bs = len(self.data), self.batch_size
        if self.drop_last:
            return list(range(0, n - bs + 1, bs))
        starts = list(range(0, n, bs))
        # a trailing batch of one has nothing to mix with: it joins the batch before it (nothing is dropped)
        if self.train and self.cond.mixes == "batch" and len(starts) > 1 and n - starts[-1] == 1:
            starts.pop()
        return starts

    def __len__(self) -> int:
        return len(self._starts())

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.data)
        order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
        starts = self._starts()
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else (s + self.batch_size if self.drop_last else n)
            yield self._batch(order[s:end])

    def _batch(self, idx: torch.Tensor) -> Batch:
        d = self.data
        di = to_device(idx, self.device)
        x = d.images.index_select(0, di)  # a row copy (uint8 [] indexing is ~15x slower on CPU)
        m = d.masks.index_select(0, di) if d.masks is not None else None
        y = d.labels.index_select(0, di)
        aug = self.augmented[idx]
        u8 = self._u8 and (not self.train or self.cond.stage == "pre")
        if not u8:  # selection-only interventions run on the stored uint8 (same values, less traffic)
            x = x.float().div_(255.0)
        if not self.train:
            x = apply_test_condition(self.condition, x, m, self.fill)
            return Batch(x.float().div_(255.0) if u8 else x, y, None, None, idx, torch.zeros_like(aug))
        soft, info = None, {"augmented": torch.zeros_like(aug)}
        if self.cond.stage == "pre":  # mixes content: before the transforms, as the seed code does
            x, soft, info = self._intervene(x, m, y, idx, di, aug)
            if u8:
                x = x.float().div_(255.0)
        if self.geo is not None:
            x, _, g = geometric(x, None, self.geo, generator=self.generator)
            x = intensity(x, self.geo, generator=self.generator)
            if m is not None and self.cond.stage == "post" and self.cond.needs_mask:
                # warp only the masks of the rows the intervention touches (BackMix f = 0.05: a few)
                touched = torch.ones_like(aug) if self.cond.test_time else aug
                rows = to_device(torch.nonzero(touched).flatten(), self.device)
                if rows.numel() == len(idx):
                    m = warp_masks(m, g["theta"])
                else:
                    m = torch.zeros_like(m).index_copy_(0, rows, warp_masks(m.index_select(0, rows), g["theta"][rows]))
        if self.cond.stage == "post":  # pins pixels to `fill`: last, so the model sees exactly that
            x, soft, info = self._intervene(x, m, y, idx, di, aug)
        weight = None
        if self.lam > 0 and self.cond.needs_mask and self.cond.augments:
            weight = to_device(wbackmix_weights(info["augmented"], self.f, self.lam), self.device)
        return Batch(x, y, soft, weight, idx, info["augmented"])

    def _intervene(self, x, m, y, idx, di, aug):
        d = self.data
        kw = {}
        donors, donor_masks = (self._blanked, None) if self._blanked is not None else (d.images, d.masks)
        # the pool's indices stay on the CPU, where the donors are drawn: reading them back from a GPU would make
        # every batch wait for the previous step
        if self.cond.mixes == "pool":
            kw = dict(donor_images=donors, donor_masks=donor_masks, pool=self.pool, self_index=self.pos_in_pool[idx])
        elif self.cond.swaps_background and self._blanked is not None:  # donors from this batch, pre-blanked
            kw = dict(donor_images=donors, donor_masks=None, pool=idx, self_index=torch.arange(len(idx)))
        return intervene(self.condition, x, m, generator=self.generator, apply=aug, labels=y,
                         num_classes=d.num_classes, fill=self.fill, sigma=self.sigma, alpha=self.alpha,
                         noise_values=self._noise, **kw)
