"""`ImageSet`: the one container every loader returns and every step consumes.

Images stay ``uint8`` ``[N, F, H, W]`` in memory (F = 2 for cine MRI: ED and ES; F = 1 for echo); conversion to
float happens per batch on the training device. An audit of a user's files keeps their values instead: ``float32``
images as the model sees them (:mod:`~shortcutlab.data.pixels`; F = 3 for colour). Masks are ``bool`` of the same shape, or ``None``;
``has_mask[N]`` says which samples carry one (semi-supervised BackMix).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .._io import atomic_savez
from .._validation import DataError, ShortcutlabError, check_int, check_number

__all__ = ["ImageSet"]

_FORMAT = "shortcutlab.imageset/1"


def _as_meta(value: Any, n: int, key: str) -> Any:
    if torch.is_tensor(value):
        if value.shape[:1] != (n,):
            raise DataError(f"The metadata field {key!r} of ImageSet must have length {n} (one value per "
                            f"sample). Got shape {tuple(value.shape)} instead.")
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return _as_meta(torch.from_numpy(value), n, key)
    seq = list(value)
    if len(seq) != n:
        raise DataError(f"The metadata field {key!r} of ImageSet must have length {n} (one value per "
                        f"sample). Got length {len(seq)} instead.")
    return [str(s) for s in seq]


@dataclass
class ImageSet:
    """Images, masks, labels and per-sample metadata of one data set.

    Parameters
    ----------
    images : uint8 tensor [N, F, H, W] (float32 for an audit of files read as the model saw them)
    labels : int64 tensor [N], values in ``range(len(class_names))``
    class_names : sequence of str
    masks : bool tensor [N, F, H, W] or None
        Object of interest (heart for MRI, ultrasound sector for echo).
    has_mask : bool tensor [N], optional
        Which samples have a mask; default: all if ``masks`` is given, none otherwise.
    groups : int64 tensor [N], optional
        Patient / site ids; splits keep a group together. Default: one group per sample.
    meta : dict of per-sample arrays (tensor [N] or list of str)
    frame_names : tuple of str, one per frame
    name : str
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: Sequence[str]
    masks: torch.Tensor | None = None
    has_mask: torch.Tensor | None = None
    groups: torch.Tensor | None = None
    meta: dict = field(default_factory=dict)
    frame_names: Sequence[str] | None = None
    name: str = "imageset"

    def __post_init__(self):
        im = self.images
        if not torch.is_tensor(im) or im.dtype not in (torch.uint8, torch.float32) or im.dim() != 4:
            got = f"{type(im).__name__} {getattr(im, 'dtype', '')} with shape {tuple(getattr(im, 'shape', ()))}"
            raise DataError(f"The 'images' field of ImageSet must be a uint8 (or float32) tensor [N, F, H, W]. Got "
                            f"{got} instead.")
        if im.dtype == torch.float32 and not bool(torch.isfinite(im).all()):
            bad = int((~torch.isfinite(im)).sum())
            raise DataError(f"The 'images' field of ImageSet must be finite. Got {bad} NaN or Inf value(s) instead.")
        n, f, h, w = im.shape
        if isinstance(self.class_names, (str, bytes)) or not isinstance(self.class_names, Sequence):
            raise DataError(f"The 'class_names' field of ImageSet must be a sequence of class names, e.g. "
                            f"('normal', 'disease'). Got {self.class_names!r} instead.")
        self.class_names = tuple(str(c) for c in self.class_names)
        k = len(self.class_names)
        if k < 1:
            raise DataError("The 'class_names' field of ImageSet must name at least one class. Got () instead.")
        lab = torch.as_tensor(self.labels)
        if lab.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or lab.shape != (n,):
            raise DataError(f"The 'labels' field of ImageSet must be an int tensor of shape ({n},). "
                            f"Got {lab.dtype} with shape {tuple(lab.shape)} instead.")
        self.labels = lab.to(torch.int64)
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= k):
            bad = self.labels[(self.labels < 0) | (self.labels >= k)][:5].tolist()
            raise DataError(f"The 'labels' field of ImageSet must hold values in [0, {k - 1}] "
                            f"(classes {list(self.class_names)}). Got {bad} instead.")
        if self.masks is not None:
            m = self.masks
            if not torch.is_tensor(m) or tuple(m.shape) != (n, f, h, w):
                raise DataError(f"The 'masks' field of ImageSet must have the images' shape {(n, f, h, w)}. "
                                f"Got {tuple(getattr(m, 'shape', ()))} instead.")
            if m.dtype != torch.bool:
                uniq = torch.unique(m)
                if uniq.numel() > 2 or not bool(((uniq == 0) | (uniq == 1)).all()):
                    raise DataError(f"The 'masks' field of ImageSet must be binary (0/1 or bool). "
                                    f"Got values {uniq[:6].tolist()} instead.")
                self.masks = m.to(torch.bool)
        if self.has_mask is None:
            self.has_mask = torch.full((n,), self.masks is not None, dtype=torch.bool)
        else:
            self.has_mask = torch.as_tensor(self.has_mask, dtype=torch.bool)
            if self.has_mask.shape != (n,):
                raise DataError(f"The 'has_mask' field of ImageSet must have shape ({n},). "
                                f"Got {tuple(self.has_mask.shape)} instead.")
            if self.masks is None and bool(self.has_mask.any()):
                raise DataError("The 'has_mask' field of ImageSet marks samples with masks, but 'masks' is None.")
        if self.groups is None:
            self.groups = torch.arange(n)
        self.groups = torch.as_tensor(self.groups, dtype=torch.int64)
        if self.groups.shape != (n,):
            raise DataError(f"The 'groups' field of ImageSet must have shape ({n},). "
                            f"Got {tuple(self.groups.shape)} instead.")
        self.meta = {str(key): _as_meta(val, n, key) for key, val in dict(self.meta).items()}
        if self.frame_names is None:
            self.frame_names = tuple(f"frame{i}" for i in range(f))
        self.frame_names = tuple(self.frame_names)
        if len(self.frame_names) != f:
            raise DataError(f"The 'frame_names' field of ImageSet must name {f} frames. "
                            f"Got {list(self.frame_names)} instead.")

    # ----------------------------------------------------------------------------------------- basics
    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def __repr__(self) -> str:
        n, f, h, w = self.images.shape
        m = int(self.has_mask.sum()) if self.has_mask is not None else 0
        return (f"ImageSet({self.name!r}, n={n}, frames={list(self.frame_names)}, size={h}x{w}, "
                f"classes={list(self.class_names)}, masks={m}/{n}, device={self.device})")

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels.cpu(), minlength=self.num_classes).tolist()
        return dict(zip(self.class_names, counts))

    # ----------------------------------------------------------------------------------------- indexing
    def subset(self, index: Sequence[int] | torch.Tensor, *, name: str | None = None) -> "ImageSet":
        """A new ImageSet with the samples at ``index`` (an int index array or a bool mask)."""
        idx = torch.as_tensor(index)
        if idx.dtype == torch.bool:
            if idx.shape != (len(self),):
                raise ShortcutlabError(f"The 'index' parameter of ImageSet.subset must be a bool mask of length "
                                       f"{len(self)} or an int index. Got a bool mask of shape {tuple(idx.shape)} instead.")
            idx = torch.nonzero(idx).flatten()
        idx = idx.to(torch.int64)
        if idx.numel() and (int(idx.min()) < -len(self) or int(idx.max()) >= len(self)):
            raise ShortcutlabError(f"The 'index' parameter of ImageSet.subset must hold indices in "
                                   f"[0, {len(self) - 1}]. Got range [{int(idx.min())}, {int(idx.max())}] instead.")
        dev_idx = idx.to(self.device)
        meta = {}
        for key, val in self.meta.items():
            meta[key] = val[idx.to(val.device)] if torch.is_tensor(val) else [val[i] for i in idx.tolist()]
        return ImageSet(images=self.images[dev_idx], labels=self.labels[idx.to(self.labels.device)],
                        class_names=self.class_names,
                        masks=None if self.masks is None else self.masks[dev_idx],
                        has_mask=self.has_mask[idx.to(self.has_mask.device)],
                        groups=self.groups[idx.to(self.groups.device)], meta=meta,
                        frame_names=self.frame_names, name=name or self.name)

    def to(self, device: str | torch.device) -> "ImageSet":
        """The same set with images, masks and labels on ``device`` (metadata stays on the CPU)."""
        return ImageSet(images=self.images.to(device), labels=self.labels.to(device),
                        class_names=self.class_names,
                        masks=None if self.masks is None else self.masks.to(device),
                        has_mask=self.has_mask.to(device), groups=self.groups, meta=dict(self.meta),
                        frame_names=self.frame_names, name=self.name)

    def with_masks_only_for(self, keep: torch.Tensor) -> "ImageSet":
        """Copy where only samples with ``keep[i]`` keep their mask (semi-supervised settings)."""
        keep = torch.as_tensor(keep, dtype=torch.bool).to(self.has_mask.device)
        out = self.subset(torch.arange(len(self)))
        out.has_mask = self.has_mask & keep
        return out

    @staticmethod
    def concat(sets: Sequence["ImageSet"], *, name: str | None = None) -> "ImageSet":
        """One set from several with the same classes, frames and image size (groups kept apart; metadata fields
        that every set has are kept)."""
        if not sets:
            raise ShortcutlabError("The 'sets' parameter of ImageSet.concat must list at least one ImageSet. Got none.")
        first = sets[0]
        for s in sets[1:]:
            if tuple(s.class_names) != tuple(first.class_names) or s.images.shape[1:] != first.images.shape[1:]:
                raise DataError(f"The sets of ImageSet.concat must share classes and image shape. Got "
                                f"{list(first.class_names)} {tuple(first.images.shape[1:])} and "
                                f"{list(s.class_names)} {tuple(s.images.shape[1:])} instead.")
        any_mask = any(s.masks is not None for s in sets)
        masks = (torch.cat([s.masks if s.masks is not None else torch.zeros_like(s.images, dtype=torch.bool)
                            for s in sets]) if any_mask else None)
        groups, off = [], 0
        for s in sets:
            groups.append(s.groups.cpu() + off)
            off = int(groups[-1].max()) + 1 if len(s) else off
        keys = [k for k in first.meta if all(k in s.meta for s in sets)]
        meta = {}
        for k in keys:
            vals = [s.meta[k] for s in sets]
            meta[k] = torch.cat([v.cpu() for v in vals]) if all(torch.is_tensor(v) for v in vals) else \
                [str(x) for v in vals for x in (v.tolist() if torch.is_tensor(v) else v)]
        return ImageSet(images=torch.cat([s.images.cpu() for s in sets]), labels=torch.cat([s.labels.cpu() for s in sets]),
                        class_names=first.class_names, masks=masks,
                        has_mask=torch.cat([s.has_mask.cpu() for s in sets]) if any_mask else None,
                        groups=torch.cat(groups), meta=meta, frame_names=first.frame_names,
                        name=name or first.name)

    # ----------------------------------------------------------------------------------------- splits
    def split(self, *, test: float = 0.3, val: float = 0.0, seed: int = 0) -> dict[str, "ImageSet"]:
        """Seeded stratified split that keeps each group (patient) in one part.

        Each group is assigned its majority label; within every class the groups are shuffled and the first
        ``round(test * n_groups)`` go to test, the next ``round(val * n_groups)`` to val, the rest to train.
        Raises if any class ends up empty in a part.
        """
        where = "ImageSet.split"
        check_number(test, name="test", where=where, lo=0, hi=1, lo_open=True, hi_open=True)
        check_number(val, name="val", where=where, lo=0, hi=1, hi_open=True)
        if test + val >= 1:
            raise ShortcutlabError(f"The 'test' and 'val' parameters of {where} must sum to less than 1. "
                                   f"Got {test} + {val} = {test + val} instead.")
        check_int(seed, name="seed", where=where, lo=0)
        groups = self.groups.cpu().numpy()
        labels = self.labels.cpu().numpy()
        uniq, inv = np.unique(groups, return_inverse=True)
        glabel = np.zeros(len(uniq), dtype=np.int64)
        for gi in range(len(uniq)):  # one pass over groups (not the training hot path)
            glabel[gi] = np.bincount(labels[inv == gi], minlength=self.num_classes).argmax()
        rng = np.random.default_rng(seed)
        part = np.zeros(len(uniq), dtype=np.int64)  # 0 train, 1 val, 2 test
        for c in range(self.num_classes):
            gs = np.flatnonzero(glabel == c)
            rng.shuffle(gs)
            n_test = int(round(test * len(gs)))
            n_val = int(round(val * len(gs)))
            part[gs[:n_test]] = 2
            part[gs[n_test:n_test + n_val]] = 1
        sample_part = part[inv]
        names = ["train", "val", "test"] if val > 0 else ["train", None, "test"]
        out = {}
        for code, pname in enumerate(names):
            if pname is None:
                continue
            idx = np.flatnonzero(sample_part == code)
            sub = self.subset(torch.from_numpy(idx), name=f"{self.name}/{pname}")
            counts = sub.class_counts()
            empty = [c for c, v in counts.items() if v == 0]
            if empty:
                raise DataError(f"The {pname!r} split of {self.name!r} has no sample of class(es) {empty} "
                                f"(counts {counts}). Use more samples per class or a larger '{pname}' fraction.")
            out[pname] = sub
        return out

    # ----------------------------------------------------------------------------------------- tensors
    def float_images(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Float images (optionally of ``index``), on the set's device: uint8 images divided by 255, float32
        images (an audit's, as the model sees them) as they are."""
        im = self.images if index is None else self.images[index]
        return im.clone() if im.dtype == torch.float32 else im.float().div_(255.0)

    # ----------------------------------------------------------------------------------------- files
    def save(self, path: str | Path) -> Path:
        """Save as ``.npz`` (no pickle): arrays plus a JSON header. Written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": _FORMAT, "class_names": list(self.class_names), "frame_names": list(self.frame_names),
                  "name": self.name, "meta_str": [k for k, v in self.meta.items() if not torch.is_tensor(v)]}
        arrays = {"images": self.images.cpu().numpy(), "labels": self.labels.cpu().numpy(),
                  "has_mask": self.has_mask.cpu().numpy(), "groups": self.groups.cpu().numpy(),
                  "header": np.array(json.dumps(header))}
        if self.masks is not None:
            arrays["masks"] = np.packbits(self.masks.cpu().numpy(), axis=-1)
            header["mask_width"] = int(self.images.shape[-1])
            arrays["header"] = np.array(json.dumps(header))
        for k, v in self.meta.items():
            arrays[f"meta__{k}"] = v.cpu().numpy() if torch.is_tensor(v) else np.array(v, dtype=str)
        return atomic_savez(path, arrays, compressed=True)

    @classmethod
    def load(cls, path: str | Path) -> "ImageSet":
        """Load a set written by :meth:`save` (``allow_pickle=False``)."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"The ImageSet file {str(path)!r} does not exist.")
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                if header.get("format") != _FORMAT:
                    raise DataError(f"The file {str(path)!r} is not a shortcutlab ImageSet "
                                    f"(format {header.get('format')!r}, expected {_FORMAT!r}).")
                masks = None
                if "masks" in z.files:
                    masks = torch.from_numpy(np.unpackbits(z["masks"], axis=-1, count=header["mask_width"]).astype(bool))
                meta = {}
                for key in z.files:
                    if key.startswith("meta__"):
                        arr = z[key]
                        meta[key[6:]] = arr.tolist() if key[6:] in header["meta_str"] else torch.from_numpy(arr)
                return cls(images=torch.from_numpy(z["images"]), labels=torch.from_numpy(z["labels"]),
                           class_names=header["class_names"], masks=masks,
                           has_mask=torch.from_numpy(z["has_mask"]), groups=torch.from_numpy(z["groups"]),
                           meta=meta, frame_names=header["frame_names"], name=header["name"])
        except (OSError, ValueError, KeyError) as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"The ImageSet file {str(path)!r} could not be read ({type(e).__name__}: {e}).") from None

    # ----------------------------------------------------------------------------------------- reporting
    @staticmethod
    def describe(splits: Mapping[str, "ImageSet"] | "ImageSet"):
        """Class counts per split as a pandas DataFrame (rows: classes, columns: splits, plus 'masks')."""
        import pandas as pd

        if isinstance(splits, ImageSet):
            splits = {"all": splits}
        cols = {name: s.class_counts() for name, s in splits.items()}
        df = pd.DataFrame(cols)
        df.loc["total"] = df.sum()
        df.loc["with mask"] = [int(s.has_mask.sum()) for s in splits.values()]
        return df

    def show(self, n_per_class: int = 3, *, frames: Sequence[int] | None = None, contour: bool = True,
             title: str | None = None, index: Sequence[int] | None = None):
        """A figure grid: ``n_per_class`` examples per class (rows) with mask contours; returns the figure."""
        import matplotlib.pyplot as plt

        frames = list(range(self.num_frames)) if frames is None else list(frames)
        if index is None:
            lab = self.labels.cpu()
            index = []
            for c in range(self.num_classes):
                index.extend(torch.nonzero(lab == c).flatten()[:n_per_class].tolist())
        index = list(index)
        ncol = len(frames) * max(1, n_per_class)
        rows = (len(index) + max(1, n_per_class) - 1) // max(1, n_per_class)
        fig, axes = plt.subplots(rows, ncol, figsize=(1.6 * ncol, 1.7 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for j, i in enumerate(index):
            r, c0 = divmod(j, max(1, n_per_class))
            for fi, f in enumerate(frames):
                ax = axes[r, c0 * len(frames) + fi]
                ax.imshow(self.images[i, f].cpu().numpy(), cmap="gray",
                          **({"vmin": 0, "vmax": 255} if self.images.dtype == torch.uint8 else {}))
                if contour and self.masks is not None and bool(self.has_mask[i]):
                    ax.contour(self.masks[i, f].cpu().numpy().astype(float), levels=[0.5], colors="lime",
                               linewidths=0.6)
                label = self.class_names[int(self.labels[i])]
                ax.set_title(f"{label} · {self.frame_names[f]}", fontsize=7)
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        return fig
