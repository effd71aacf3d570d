"""Saliency through the grad-cam package, overlap with the object, and two checks beyond saliency.

* :func:`compute_cams` — batched CAMs (GradCAM by default, other grad-cam methods by name), exactly one target
  per image, a map per frame ``[N, F, H, W]`` in [0, 1]. grad-cam's constructor switches the model to eval
  mode; the previous mode is restored. Frozen encoders work (the input carries the gradient).
* :func:`counterfactual_background` — Xiao et al. 2020's mixed-same / mixed-rand test: keep each test image's
  object and give it the background of another test image of the same class or of any class; the BG-gap is
  the accuracy difference, the flip rate the share of predictions that change.
* :func:`sanity_check` — Adebayo et al. 2018's cascading randomization: re-initialize layers from the top
  down and report the Spearman rank correlation of the maps with the original ones.
* :func:`overlay`, :func:`saliency_grid` — rendering for grayscale images with mask contours.
"""
from __future__ import annotations

import copy
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ._validation import ShortcutlabError, check_choice, param_error
from .augment import apply_test_condition
from .config import CAM_METHODS
from .imageset import ImageSet
from .metrics import auc, classification_metrics, overlap_metrics
from .models import target_layer as default_target_layer

__all__ = ["CAM_METHODS", "compute_cams", "cams_for", "counterfactual_background", "sanity_check", "overlay",
           "saliency_grid", "predict_tensor"]


def _cam_class(method: str):
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
    out = [torch.softmax(model(x[i:i + batch_size]).float(), 1) for i in range(0, x.shape[0], batch_size)]
    model.train(was)
    return torch.cat(out).numpy()


def compute_cams(model: nn.Module, images: torch.Tensor, *, targets: Sequence[int] | torch.Tensor | None = None,
                 method: str = "gradcam", layer: nn.Module | str | None = None, batch_size: int = 64) -> torch.Tensor:
    """CAMs ``[N, F, H, W]`` (float32 in [0, 1]) for float images ``[N, F, H, W]``.

    ``targets`` holds one class per image (e.g. predicted or true labels); default: the predicted class.
    ``layer`` overrides the target layer (a module or a dotted path inside the encoder).
    """
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = _cam_class(method)
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
    out = []
    try:
        with cls(model=model, target_layers=[layer]) as cam:
            for s in range(0, n, batch_size):
                x = images[s:s + batch_size].detach().clone().requires_grad_(True)  # frozen encoders too
                tg = [ClassifierOutputTarget(int(c)) for c in targets[s:s + batch_size]]
                if len(tg) != x.shape[0]:  # pragma: no cover - guarded above; grad-cam would zero the rest
                    raise ShortcutlabError("one target per image is required")
                maps = cam(input_tensor=x, targets=tg)  # [b*F, H, W]
                out.append(torch.from_numpy(np.asarray(maps, dtype=np.float32)).reshape(x.shape[0], f, h, w))
    finally:
        model.train(was_training)
    return torch.cat(out).clamp_(0, 1)


def cams_for(study, run, eval_set: str = "test", *, method: str | None = None, target: str | None = None,
             max_images: int | None = None) -> dict:
    """CAMs and per-image overlap metrics of a study run on one evaluation set, cached in the run's folder.

    Returns ``{"cams": float16 [n, F, H, W], "index": [n], "metrics": {aks, dsc, pct_e, pct_f: [n, F]},
    "pred": [n], "labels": [n]}`` for the first ``max_images`` images of the set (the preset's default).
    """
    sc = study.cfg.saliency
    method = method or sc.method
    target = target or sc.target
    check_choice(target, ("pred", "true"), name="target", where="cams_for")
    _cam_class(method)
    max_images = max_images or sc.max_images
    path = run.path / f"cams_{eval_set}_{method.replace('+', 'p')}_{target}_{max_images}.npz"
    key = f"{run.name}/{path.name}"  # the run's folder name holds its spec hash
    if path.exists():
        try:
            from ._manifest import verify_sidecar
            verify_sidecar(path, key=key)
            with np.load(path, allow_pickle=False) as z:
                res = {k: z[k] for k in z.files}
            res["metrics"] = {k[2:]: res.pop(k) for k in list(res) if k.startswith("m_")}
            return res
        except Exception as e:  # noqa: BLE001
            import warnings
            warnings.warn(f"cached maps {path.name!r} of {run.name!r} are unusable ({type(e).__name__}: {e}); "
                          f"recomputing", stacklevel=2)
    data = study.data(run.cohort, strength=run.spec["data"].get("strength"))
    if eval_set not in data:
        raise ShortcutlabError(f"The 'eval_set' parameter of cams_for must be one of "
                               f"{', '.join(k for k in data if k not in ('train', 'val'))}. Got {eval_set!r} instead.")
    ds = data[eval_set]
    idx = torch.arange(min(max_images, len(ds)))
    sub = ds.subset(idx)
    model = run.model()
    x = apply_test_condition(run.condition, sub.float_images(), sub.masks, run.spec["train"]["fill"])
    probs = predict_tensor(model, x)
    pred = probs.argmax(1)
    tg = pred if target == "pred" else sub.labels.numpy()
    cams = compute_cams(model, x, targets=tg, method=method, batch_size=sc.batch_size)
    om = overlap_metrics(cams, sub.masks)
    res = {"cams": cams.to(torch.float16).numpy(), "index": idx.numpy(), "pred": pred, "labels": sub.labels.numpy(),
           "probs": probs.astype(np.float32)}
    arrays = dict(res)
    arrays.update({f"m_{k}": v.numpy() for k, v in om.items()})
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    from ._manifest import write_sidecar
    write_sidecar(path, key=key)
    res["metrics"] = {k: v.numpy() for k, v in om.items()}
    return res


def _mix_backgrounds(x: torch.Tensor, m: torch.Tensor, donor: np.ndarray, fill: float) -> torch.Tensor:
    d = torch.as_tensor(donor)
    bg = torch.where(m[d], torch.full_like(x[d], fill), x[d])
    return torch.where(m, x, bg)


def counterfactual_background(model: nn.Module, data: ImageSet, *, condition: str = "full", seed: int = 0,
                              fill: float = 0.0, batch_size: int = 256) -> dict:
    """Xiao et al. (2020) background test on a test set with masks.

    ``original``: the test images; ``mixed_same``: each object on the background of another image of the same
    class; ``mixed_rand``: on the background of a random other image. Each is then given the model's
    test-time input (``seg`` models see only the object, so their gap is 0). Returns accuracy and micro AUC per
    variant, ``bg_gap`` = acc(mixed_same) - acc(mixed_rand), and ``flip_rate`` = share of predictions that
    change from original to mixed_rand.
    """
    if data.masks is None or not bool(data.has_mask.all()):
        raise ShortcutlabError(f"The data of counterfactual_background must have a mask for every sample; "
                               f"{data.name!r} has {int(data.has_mask.sum())} of {len(data)}.")
    if len(data) < 2:
        raise ShortcutlabError(f"The data of counterfactual_background must hold at least 2 images. Got {len(data)}.")
    rng = np.random.default_rng(seed)
    y = data.labels.numpy()
    n = len(y)
    same = np.empty(n, dtype=np.int64)
    for c in np.unique(y):  # one shuffle per class, not per sample
        members = np.flatnonzero(y == c)
        if members.size == 1:
            same[members] = members
            continue
        shift = rng.integers(1, members.size, members.size)
        same[members] = members[(np.arange(members.size) + shift) % members.size]
    r = rng.integers(1, n, n)
    rand = (np.arange(n) + r) % n
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


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Top-down list of blocks for cascading randomization: the head, then encoder children in reverse."""
    blocks = [("head", model.head)] if hasattr(model, "head") else []
    enc = getattr(model, "encoder", model)
    kids = [(f"encoder.{n}", c) for n, c in enc.named_children() if any(True for _ in c.parameters())]
    return blocks + kids[::-1]


def sanity_check(model: nn.Module, images: torch.Tensor, *, method: str = "gradcam", targets=None, seed: int = 0,
                 batch_size: int = 64) -> "object":
    """Cascading randomization (Adebayo et al. 2018): Spearman correlation of maps after re-initializing the
    model's blocks from the top down. A method whose maps barely change is not explaining the model.

    Returns a pandas DataFrame with one row per step (``randomized_up_to``, ``spearman_mean``, ``spearman_sd``).
    """
    import pandas as pd
    from scipy.stats import spearmanr

    if targets is None:
        targets = predict_tensor(model, images).argmax(1)
    base = compute_cams(model, images, targets=targets, method=method, batch_size=batch_size)
    m = copy.deepcopy(model)
    torch.manual_seed(seed)
    rows = [{"step": 0, "randomized_up_to": "none", "spearman_mean": 1.0, "spearman_sd": 0.0}]
    flat0 = base.flatten(1).numpy()
    for step, (name, block) in enumerate(_blocks(m), start=1):
        for mod in block.modules():
            if hasattr(mod, "reset_parameters"):
                mod.reset_parameters()
        maps = compute_cams(m, images, targets=targets, method=method, batch_size=batch_size).flatten(1).numpy()
        rho = []
        for a, b in zip(flat0, maps):
            if a.std() == 0 or b.std() == 0:
                rho.append(np.nan)
            else:
                rho.append(spearmanr(a, b).statistic)
        rho = np.asarray(rho, dtype=float)
        rows.append({"step": step, "randomized_up_to": name, "spearman_mean": float(np.nanmean(rho)) if np.isfinite(rho).any() else np.nan,
                     "spearman_sd": float(np.nanstd(rho)) if np.isfinite(rho).any() else np.nan,
                     "n_constant_maps": int(np.isnan(rho).sum())})
    return pd.DataFrame(rows).set_index("step")


# ------------------------------------------------------------------------------------------ rendering
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
