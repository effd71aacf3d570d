"""Saliency through the grad-cam package, overlap with the object, and two checks beyond saliency.

* :func:`compute_cams` — batched CAMs (GradCAM by default, other grad-cam methods by name), exactly one target
  per image, a map per frame ``[N, F, H, W]`` in [0, 1]. grad-cam's constructor switches the model to eval
  mode; the previous mode is restored. The backward pass starts at the target layer (nothing below it needs
  a gradient), so a map costs about a forward pass; frozen encoders work the same way.
* :func:`counterfactual_background` — Xiao et al. 2020's mixed-same / mixed-rand test: keep each test image's
  object and give it the background of another test image of the same class or of any class; the BG-gap is
  the accuracy difference, the flip rate the share of predictions that change.
* :func:`sanity_check` — Adebayo et al. 2018's cascading randomization: re-draw the blocks from the top
  down and report the Spearman rank correlation of the maps with the original ones
  (:func:`cascading_randomization`, the audit's check too; :func:`draw_donors` is the one donor draw of both).
Drawing lives in :mod:`shortcutlab.saliency.draw`; the cached maps of a study run are ``run.cams(eval_set)``.
"""
from __future__ import annotations

import copy

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._validation import ShortcutlabError, check_choice
from ..interventions.background import apply_test_condition
from ..config import CAM_METHODS
from ..data.imageset import ImageSet
from ..metrics import auc, classification_metrics
from ..models import target_layer as default_target_layer

__all__ = ["CAM_METHODS", "compute_cams", "counterfactual_background", "mix_backgrounds", "sanity_check", "predict_tensor",
           "cam_class", "cam_resolution", "draw_donors", "cascade_blocks", "randomize_block", "map_correlation",
           "cascading_randomization"]


def cam_class(method: str):
    """The grad-cam class of ``method`` (a clear error for an unknown name)."""
    import pytorch_grad_cam as pgc

    table = {"gradcam": pgc.GradCAM, "gradcam++": pgc.GradCAMPlusPlus, "xgradcam": pgc.XGradCAM,
             "eigencam": pgc.EigenCAM, "layercam": pgc.LayerCAM, "hirescam": pgc.HiResCAM}
    check_choice(method, tuple(table), name="method", where="compute_cams")
    return table[method]


@torch.no_grad()
def predict_tensor(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities of ``model`` on float images ``[N, F, H, W]`` (no test-time transform)."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device  # batches go to the model's device; the result comes back to the CPU
    out = [torch.softmax(model(x[i:i + batch_size].to(dev)).float(), 1).cpu() for i in range(0, x.shape[0], batch_size)]
    model.train(was)
    return torch.cat(out).numpy()


@torch.no_grad()
def cam_resolution(model: nn.Module, frame_size: tuple[int, int], layer: nn.Module | str | None = None) -> tuple[int, int]:
    """The (h, w) of the CAM layer's output for images of ``frame_size``: how coarse a map can be before it is
    up-sampled to the image (a 64 px image through a ResNet's last stage gives 2 x 2)."""
    if layer is None or isinstance(layer, str):
        layer = default_target_layer(model, layer)
    seen = {}

    def hook(module, inputs, output):  # returns None: a hook's return value would replace the output
        seen["shape"] = tuple(output.shape[-2:])

    handle = layer.register_forward_hook(hook)
    was = model.training
    try:
        model.eval()
        model(torch.zeros(1, getattr(model, "frames", 1), *frame_size))
    finally:
        handle.remove()
        model.train(was)
    return seen["shape"]


def compute_cams(model: nn.Module, images: torch.Tensor, *, targets: Sequence[int] | torch.Tensor | None = None,
                 method: str = "gradcam", layer: nn.Module | str | None = None, batch_size: int = 64,
                 reshape_transform=None) -> torch.Tensor:
    """CAMs ``[N, F, H, W]`` (float32 in [0, 1]) for float images ``[N, F, H, W]``: one map per frame for a model
    that runs its encoder over each frame (the study's), one map per image (F = 1) for a model that takes the
    frames as channels.

    ``targets`` holds one class per image (e.g. predicted or true labels); default: the predicted class.
    ``layer`` overrides the target layer (a module or a dotted path inside the encoder); ``reshape_transform`` is
    grad-cam's, for a transformer's tokens.
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = cam_class(method)
    n, f, h, w = images.shape
    num_classes = getattr(model, "num_classes", None)
    if targets is None:
        targets = predict_tensor(model, images).argmax(1)
    targets = torch.as_tensor(np.asarray(targets)).long().flatten()
    if targets.numel() != n:
        raise ShortcutlabError(f"The 'targets' parameter of compute_cams must hold one class per image ({n}). "
                               f"Got {targets.numel()} instead (grad-cam would silently return zero maps).")
    if num_classes is not None and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
        raise ShortcutlabError(f"The 'targets' parameter of compute_cams must hold classes in [0, {num_classes - 1}]. "
                               f"Got range [{int(targets.min())}, {int(targets.max())}] instead.")
    if layer is None or isinstance(layer, str):
        layer = default_target_layer(model, layer)
    was_training = model.training
    dev = next(model.parameters()).device
    out = []
    # the maps need the gradient at the target layer only: the layer's output becomes a fresh leaf (registered
    # before grad-cam's own hooks, which then see it) and no parameter records a graph, so a batch costs one
    # forward pass and the backward of what lies above the layer, not a backward through the whole network
    grads = [p for p in model.parameters() if p.requires_grad]
    cut = layer.register_forward_hook(_gradient_starts_here)
    try:
        for p in grads:
            p.requires_grad_(False)
        with cls(model=model, target_layers=[layer], reshape_transform=reshape_transform) as cam:
            for s in range(0, n, batch_size):
                x = images[s:s + batch_size].to(dev)  # on the model's device (a GPU study maps there)
                tg = [ClassifierOutputTarget(int(c)) for c in targets[s:s + batch_size]]
                if len(tg) != x.shape[0]:  # pragma: no cover - guarded above; grad-cam would zero the rest
                    raise ShortcutlabError("one target per image is required")
                maps = cam(input_tensor=x, targets=tg)  # [b*F, H, W]
                out.append(torch.from_numpy(np.asarray(maps, dtype=np.float32)).reshape(x.shape[0], -1, h, w))
    finally:
        cut.remove()
        for p in grads:
            p.requires_grad_(True)
        model.train(was_training)
    return torch.cat(out).clamp_(0, 1)


def _gradient_starts_here(module: nn.Module, inputs, output):
    """Forward hook on the CAM's target layer: its output as a leaf that requires a gradient, copied so that an
    in-place operation after the layer (a DenseNet's closing ReLU) stays allowed."""
    if isinstance(output, torch.Tensor) and output.is_floating_point():
        return output.detach().requires_grad_(True).clone()
    return None


def map_set(model: nn.Module, ds: ImageSet, *, condition: str, fill: float, method: str, target: str,
            layer: str | None, batch_size: int, max_images: int, device: torch.device | None = None,
            name: str = "the model", eval_set: str = "test") -> dict:
    """CAMs and per-image overlap metrics of ``model`` on the first ``max_images`` images of ``ds`` that have a
    mask, with the condition's test-time input (``condition``, ``fill``). ``target``: ``pred`` or ``true``
    class. ``device``: where to map (a copy of the model goes there; the model itself stays put).

    Returns ``{"cams": float16 [n, F, H, W], "index": [n], "metrics": {aks, dsc, pct_e, pct_f: [n, F]}, "pred":
    [n], "labels": [n], "probs": [n, K]}``. ``name`` and ``eval_set`` only word the messages."""
    import warnings

    from ..metrics import overlap_metrics

    # overlap needs a mask: the first max_images images that have one (all of them on a phantom)
    index = torch.nonzero(ds.has_mask.cpu()).flatten()[:max_images]
    if index.numel() == 0:
        raise ShortcutlabError(f"The {eval_set!r} set of {name!r} has no image with a mask, so no CAM can be "
                               f"scored (AKS, DSC, %E, %F need one). Add masks to the source (or 'masks: "
                               f"estimate' for echo sectors).")
    if int(ds.has_mask.sum()) < len(ds):
        warnings.warn(f"overlap metrics of {name!r} on {eval_set!r} use the {int(ds.has_mask.sum())} of "
                      f"{len(ds)} images that have a mask (first {index.numel()} mapped); "
                      f"{len(ds) - int(ds.has_mask.sum())} have none.", stacklevel=3)
    sub = ds.subset(index)
    if device is not None and device.type != "cpu":
        model = copy.deepcopy(model).to(device)
    x = apply_test_condition(condition, sub.float_images(), sub.masks, fill)
    probs = predict_tensor(model, x)
    pred = probs.argmax(1)
    cams = compute_cams(model, x, targets=pred if target == "pred" else sub.labels.numpy(), method=method,
                        layer=layer, batch_size=batch_size)
    om = overlap_metrics(cams, sub.masks)
    return {"cams": cams.to(torch.float16).numpy(), "index": index.numpy(), "pred": pred,
            "labels": sub.labels.numpy(), "probs": probs.astype(np.float32),
            "metrics": {k: v.numpy() for k, v in om.items()}}


def overlap_summary(model: nn.Module, ds: ImageSet, maps: dict, *, layer: str | None, n_boot: int, ci: float,
                    seed: int) -> dict[str, dict]:
    """Mean and bootstrap CI of each overlap metric of ``maps`` (:func:`map_set` on ``ds``), each beside its
    floor (a uniform map), its ceiling (the mask at the CAM layer's resolution and back) and the normalized score
    ``(value - floor) / (ceiling - floor)`` (means over the same images; see
    :func:`shortcutlab.metrics.overlap_bounds`)."""
    from ..metrics import normalized_overlap, overlap_bounds, summarize

    out = {k: summarize(v, n_boot=n_boot, ci=ci, seed=seed) for k, v in maps["metrics"].items()}
    for s in out.values():  # how many images the mean is over, and how many of the set had no mask to score
        s.update(n_images=int(len(maps["index"])), n_without_mask=int((~ds.has_mask).sum()))
    cam_hw = cam_resolution(model, tuple(ds.images.shape[-2:]), layer)
    bounds = overlap_bounds(ds.masks[torch.as_tensor(maps["index"])], cam_hw)
    for k, s in out.items():
        lo, hi = bounds["floor"][k].numpy(), bounds["ceiling"][k].numpy()
        s.update(floor=float(np.nanmean(lo)), ceiling=float(np.nanmean(hi)), cam_resolution=list(cam_hw),
                 normalized=float(np.nanmean(normalized_overlap(maps["metrics"][k], lo, hi).numpy())))
    return out


def mix_backgrounds(x: torch.Tensor, m: torch.Tensor, donor_x: torch.Tensor, donor_m: torch.Tensor,
                    fill: float = 0.0) -> torch.Tensor:
    """Each image's object (``m``) on its donor's background, the donor's own object blanked to ``fill``
    (BackMix's rule): the counterfactual of the background test and of the audit."""
    return torch.where(m, x, torch.where(donor_m, torch.full_like(x, fill), donor_x))


def _mix_backgrounds(x: torch.Tensor, m: torch.Tensor, donor: np.ndarray, fill: float) -> torch.Tensor:
    d = torch.as_tensor(donor)
    return mix_backgrounds(x, m, x[d], m[d], fill)


def counterfactual_background(model: nn.Module, data: ImageSet, *, condition: str = "full", seed: int = 0,
                              fill: float = 0.0, batch_size: int = 256) -> dict:
    """Xiao et al. (2020) background test on a test set with masks.

    ``original``: the test images; ``mixed_same``: each object on the background of another image of the same
    class; ``mixed_rand``: on the background of a random other image (donors from :func:`draw_donors`, the
    audit's draw). Each is then given the model's
    test-time input (``seg`` models see only the object, so their gap is 0). Returns accuracy and micro AUC per
    variant, ``bg_gap`` = acc(mixed_same) - acc(mixed_rand), and ``flip_rate`` = share of predictions that
    change from original to mixed_rand.
    """
    if data.masks is None or not bool(data.has_mask.all()):
        raise ShortcutlabError(f"The data of counterfactual_background must have a mask for every sample; "
                               f"{data.name!r} has {int(data.has_mask.sum())} of {len(data)}.")
    if len(data) < 2:
        raise ShortcutlabError(f"The data of counterfactual_background must hold at least 2 images. Got {len(data)}.")
    y = data.labels.numpy()
    donors = draw_donors(y, seed=seed, k=1)  # the audit's draw: the same donors for the same labels and seed
    same, rand = donors["mixed_same"], donors["mixed_rand"]
    x, m = data.float_images(), data.masks
    variants = {"original": x, "mixed_same": _mix_backgrounds(x, m, same, fill),
                "mixed_rand": _mix_backgrounds(x, m, rand, fill)}
    out: dict = {}
    preds = {}
    for name, xi in variants.items():
        p = predict_tensor(model, apply_test_condition(condition, xi, m, fill), batch_size)
        preds[name] = p.argmax(1)
        cm = classification_metrics(y, p)
        try:
            a = auc(y, p, "micro")
        except ShortcutlabError:
            a = float("nan")
        out[name] = {"accuracy": cm["accuracy"], "auc_micro": a}
    out["bg_gap"] = out["mixed_same"]["accuracy"] - out["mixed_rand"]["accuracy"]
    out["flip_rate"] = float((preds["original"] != preds["mixed_rand"]).mean())
    return out


def draw_donors(labels: np.ndarray, *, seed: int = 0, k: int = 3) -> dict[str, np.ndarray]:
    """The donor index of every image for each mixed counterfactual, from ``np.random.default_rng(seed)``:

    1. ``mixed_same``: per class in ascending order, members shifted by ``rng.integers(1, m, m)`` (m members; a
       class of one keeps its own image);
    2. ``mixed_rand``: ``(i + rng.integers(1, n, n)) % n``;
    3. ``mixed_next``: per target class in ascending order, ``members[rng.integers(0, m, count)]`` for the images
       whose next present class it is;
    4. ``worst``: ``k - 1`` further draws as in 2 (``worst[0]`` is ``mixed_rand``).
    """
    y = np.asarray(labels).astype(np.int64)
    n = y.size
    rng = np.random.default_rng(seed)
    same = np.arange(n)
    present = np.unique(y)
    for c in present:
        members = np.flatnonzero(y == c)
        if members.size > 1:
            shift = rng.integers(1, members.size, members.size)
            same[members] = members[(np.arange(members.size) + shift) % members.size]
    rand = (np.arange(n) + rng.integers(1, n, n)) % n
    nxt_class = present[(np.searchsorted(present, y) + 1) % present.size]
    nxt = np.empty(n, dtype=np.int64)
    for c in present:
        who = np.flatnonzero(nxt_class == c)
        members = np.flatnonzero(y == c)
        nxt[who] = members[rng.integers(0, members.size, who.size)]
    worst = [rand] + [(np.arange(n) + rng.integers(1, n, n)) % n for _ in range(k - 1)]
    return {"mixed_same": same, "mixed_rand": rand, "mixed_next": nxt, "worst": np.stack(worst)}


def cascade_blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Top-down blocks for cascading randomization: a study model's head, then its encoder's children in reverse;
    any other model's top-level children in reverse (a model behind the audit's preprocessing is looked into).
    Blocks without parameters are skipped."""
    inner = model.model if hasattr(model, "preprocess") and isinstance(getattr(model, "model", None), nn.Module) \
        else model
    if hasattr(inner, "encoder") and hasattr(inner, "head"):
        kids = [("head", inner.head)] + [(f"encoder.{n}", c) for n, c in inner.encoder.named_children()][::-1]
    else:
        kids = [(n, c) for n, c in inner.named_children()][::-1]
    return [(n, c) for n, c in kids if any(True for _ in c.parameters())]


@torch.no_grad()
def randomize_block(block: nn.Module, gen: torch.Generator) -> None:
    """Re-draw every parameter of ``block`` at random, each at its own scale: N(mean, sd) of its current values
    (sd 0.02 where they are constant, e.g. a fresh normalization's weights). Works for any module, a
    ``torch.export`` program's included; the draws come from ``gen`` in ``named_parameters`` order."""
    for _, p in block.named_parameters():
        flat = p.detach().float().flatten()
        sd = float(flat.std()) if flat.numel() > 1 else 0.0
        noise = torch.randn(p.shape, generator=gen)
        p.copy_((noise * (sd if sd > 0 else 0.02) + float(flat.mean())).to(p.dtype))


def map_correlation(base: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row Spearman correlation ρ of two ``[N, P]`` arrays of maps, with what a constant map means: ``(rho,
    constant_base, constant_other)``. A constant map carries no information. Where the original (``base``) is
    constant, ρ is 1: a map that says nothing cannot pass a test that asks it to change. Where only ``other`` is
    constant, ρ is 0: it shares no ranking with an informative original."""
    from scipy.stats import rankdata

    ra, rb = rankdata(base, axis=1), rankdata(other, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    sa, sb = (ra ** 2).sum(1), (rb ** 2).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(1) / np.sqrt(sa * sb)
    const_base, const_other = sa == 0, (sb == 0) & (sa > 0)
    return np.where(const_base, 1.0, np.where(const_other, 0.0, rho)), const_base, const_other


def cascading_randomization(model: nn.Module, images: torch.Tensor, targets, *, base: torch.Tensor | None = None,
                            method: str = "gradcam", layer: nn.Module | str | None = None, reshape_transform=None,
                            seed: int = 0, batch_size: int = 64) -> tuple[list[dict], np.ndarray, dict]:
    """Adebayo et al. 2018's cascading randomization: the blocks of :func:`cascade_blocks` re-drawn one after
    another from the top down (:func:`randomize_block`, ``torch.Generator().manual_seed(seed)``), the maps
    recomputed after each, their rank correlation with the originals (:func:`map_correlation`) recorded. The
    model is changed in place and restored after (a ``torch.export`` program cannot be deep-copied).

    Returns one row per step (``randomized_up_to``, ``spearman_mean``, ``spearman_sd``, ``n_constant_maps``), the
    last step's per-image ρ, and its constant-map counts."""
    if base is None:
        base = compute_cams(model, images, targets=targets, method=method, layer=layer, batch_size=batch_size,
                            reshape_transform=reshape_transform)
    flat0 = base.flatten(1).numpy()
    rows = [{"step": 0, "randomized_up_to": "none", "spearman_mean": 1.0, "spearman_sd": 0.0, "n_constant_maps": 0}]
    rho = np.ones(len(flat0))
    counts = {"constant_base": int((flat0.std(1) == 0).sum()), "constant_other": 0}
    kept = {k: v.detach().clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(seed)
    try:
        for step, (name, block) in enumerate(cascade_blocks(model), start=1):
            randomize_block(block, gen)
            maps = compute_cams(model, images, targets=targets, method=method, layer=layer, batch_size=batch_size,
                                reshape_transform=reshape_transform)
            rho, cb, co = map_correlation(flat0, maps.flatten(1).numpy())
            counts = {"constant_base": int(cb.sum()), "constant_other": int(co.sum())}
            rows.append({"step": step, "randomized_up_to": name, "spearman_mean": float(rho.mean()),
                         "spearman_sd": float(rho.std()), "n_constant_maps": int(cb.sum() + co.sum())})
    finally:
        model.load_state_dict(kept)
    return rows, rho, counts


def sanity_check(model: nn.Module, images: torch.Tensor, *, method: str = "gradcam", targets=None, seed: int = 0,
                 batch_size: int = 64) -> "object":
    """Cascading randomization (:func:`cascading_randomization`, the audit's sanity check): the Spearman
    correlation of the maps with the originals after re-drawing the model's blocks from the top down. A method
    whose maps barely change is not explaining the model.

    Returns a pandas DataFrame with one row per step (``randomized_up_to``, ``spearman_mean``, ``spearman_sd``,
    ``n_constant_maps``); the model is restored after.
    """
    import pandas as pd

    if targets is None:
        targets = predict_tensor(model, images).argmax(1)
    rows, _, _ = cascading_randomization(model, images, targets, method=method, seed=seed, batch_size=batch_size)
    return pd.DataFrame(rows).set_index("step")
