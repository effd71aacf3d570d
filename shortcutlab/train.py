"""Training and evaluation: ``fit`` (Adam, class-weighted cross-entropy, best epoch, resumable) and ``predict``.

Follows the MRI paper (Adam, weight decay 1e-4, cross-entropy; the seed code weights classes by inverse
frequency) and BackMix (keep the epoch with the best validation accuracy; per-sample wBackMix weights; CutMix
soft labels). The model's compute (:func:`compute_plan`): bf16 autocast where the device has it natively
(``precision``), channels-last memory format (``channels_last``, always on a GPU), ``torch.compile``
(``compile``); cudnn.benchmark on CUDA. On CPU: deterministic for a seed.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as tF
from torch import nn

from ._io import atomic_torch_save
from ._manifest import resume
from ._validation import ShortcutlabError, check_choice, check_int, check_number, param_error
from .config import check_setting_names, settings_class, settings_values
from .interventions.geometric import GeometricParams
from .interventions.registry import get_condition
from .data.imageset import ImageSet
from .interventions.pipeline import BatchPipeline

__all__ = ["TrainSettings", "FitResult", "fit", "predict", "compute_plan", "compute_key", "pretrain_plan", "perturbation", "PERTURB_ENV", "native_bf16", "sma_variant_loss", "resolve_device", "set_threads", "class_weights",
           "soft_cross_entropy"]


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise param_error("device", "resolve_device", "'auto' or 'cpu' (no CUDA GPU is available here)", device)
    return torch.device(device)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU that supports it, or a CPU with AVX-512 BF16 or AMX
    (elsewhere bf16 is emulated and slower than fp32: 14x on a Zen 3 EPYC, measured in ``benchmarks/levers``)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def bf16_reason(device: torch.device | str) -> str:
    """Why ``auto`` resolves as it does on ``device``, in words: the feature that makes bf16 native there
    (``AVX-512 BF16``, ``AMX``, ``a CUDA GPU with bf16``) or ``no native bf16`` (so fp32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return "a CUDA GPU with bf16" if native_bf16(device) else "a CUDA GPU without bf16"
    flags = _cpu_flags()
    found = [name for flag, name in (("avx512_bf16", "AVX-512 BF16"), ("amx_bf16", "AMX")) if flag in flags]
    return " and ".join(found) if found else "no native bf16 on this CPU"


PERTURB_ENV = "SHORTCUTLAB_PERTURB"
PERTURBATIONS = ("channels_last", "precision", "ulp", "threads")


def perturbation(device: torch.device | str = "cpu") -> tuple[str, ...]:
    """The arithmetic perturbations the environment variable ``SHORTCUTLAB_PERTURB`` asks for.

    They change the last bits of training, never its meaning, so that a test which only holds on one machine's
    exact arithmetic fails where it was written: ``channels_last`` toggles the memory format (on a CPU),
    ``precision`` swaps fp32 and bf16, ``ulp`` moves every initial weight one ulp towards +inf (training then takes
    another path, as it does under another precision) and ``threads`` trains with another thread count. Unset, empty
    or ``0``: none. ``1``: ``channels_last`` and ``precision`` where the device computes bf16 natively
    (:func:`native_bf16`), else ``channels_last`` and ``ulp``. Otherwise a comma-separated list of the names.
    A perturbed run is keyed apart in the study cache (:func:`compute_key`)."""
    raw = os.environ.get(PERTURB_ENV, "").strip().lower()
    if raw in ("", "0", "off"):
        return ()
    if raw in ("1", "on"):
        return ("channels_last", "precision" if native_bf16(device) else "ulp")
    parts = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    bad = [p for p in parts if p not in PERTURBATIONS]
    if bad or not parts:
        raise ShortcutlabError(f"The environment variable {PERTURB_ENV} must be 0, 1 or a comma-separated list of "
                               f"{', '.join(map(repr, PERTURBATIONS))}. Got {raw!r} instead.")
    return parts


def _perturbed(plan: dict[str, Any], device: torch.device, threads: int) -> dict[str, Any]:
    """``plan`` with the environment's :func:`perturbation` applied, and the list of what was applied."""
    asked = perturbation(device)
    done = []
    for p in asked:
        if p == "channels_last" and device.type == "cpu":  # a GPU always trains channels-last
            plan["channels_last"] = not plan["channels_last"]
        elif p == "precision":
            plan["precision"] = "fp32" if plan["precision"] == "bf16" else "bf16"
        elif p == "threads" and device.type == "cpu":
            have = threads or os.cpu_count() or 1
            plan["threads"] = 1 if have > 1 else 2
        elif p == "ulp":
            plan["ulp"] = True
        else:
            continue
        done.append(p)
    if done:
        plan["perturb"] = done
    return plan


def nudge_weights(model: nn.Module) -> None:
    """Move every floating-point parameter one ulp towards +inf (the ``ulp`` perturbation)."""
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                p.copy_(torch.nextafter(p, torch.full_like(p, math.inf)))


def resolve_precision(precision: str, device: torch.device | str, *, where: str = "fit") -> str:
    """``fp32`` or ``bf16``: ``auto`` is bf16 where :func:`native_bf16` holds, fp32 elsewhere."""
    check_choice(precision, ("fp32", "bf16", "auto"), name="precision", where=where)
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def compute_plan(settings: "TrainSettings", device: torch.device | str) -> dict[str, Any]:
    """The model's compute for ``settings`` on ``device``: ``precision`` (``fp32`` or ``bf16``, ``auto`` resolved by
    :func:`native_bf16`), ``channels_last`` (always on a GPU, as cuDNN wants) and ``compile``; and the arithmetic
    :func:`perturbation` the environment asks for (``perturb``, with ``ulp`` or ``threads`` where they apply)."""
    device = torch.device(device)
    plan = {"precision": resolve_precision(settings.precision, device),
            "channels_last": bool(settings.channels_last or device.type == "cuda"),
            "compile": bool(settings.compile)}
    return _perturbed(plan, device, settings.threads)


def pretrain_plan(precision: str, device: torch.device | str, threads: int = 0) -> dict[str, Any]:
    """The compute of contrastive pretraining: ``precision`` resolved as :func:`compute_plan` does, channels-last on
    a GPU, and the environment's :func:`perturbation`."""
    device = torch.device(device)
    plan = {"precision": resolve_precision(precision, device, where="pretrain"),
            "channels_last": device.type == "cuda", "compile": False}
    return _perturbed(plan, device, threads)


def plan_key(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a compute plan that changes numbers against plain fp32 eager contiguous compute, for a cache
    key: empty when the compute is that plain one (so such keys are as they were before these settings)."""
    plain = {"precision": "fp32", "channels_last": False, "compile": False}
    out = {k: v for k, v in plan.items() if k in plain and v != plain[k]}
    if plan.get("perturb"):
        out["perturb"] = list(plan["perturb"])
    return out


def compute_key(settings: "TrainSettings", device: torch.device | str) -> dict[str, Any]:
    """:func:`plan_key` of :func:`compute_plan`."""
    return plan_key(compute_plan(settings, device))


def _prepare(x: torch.Tensor, plan: Mapping[str, Any]) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if plan["channels_last"] and x.dim() == 4 else x


def _autocast(device: torch.device, plan: Mapping[str, Any]):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=plan["precision"] == "bf16")


def set_threads(threads: int = 0) -> int:
    n = threads or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


_TrainFields = settings_class(
    "_TrainFields", "fit", "The preset's training settings (declared once, in config.SCHEMA with setting='fit').")


@dataclass(frozen=True)
class TrainSettings(_TrainFields):
    """What ``fit`` needs. Its fields are the schema's ``fit`` settings (:mod:`shortcutlab.config`), plus the
    geometric augmentation (the schema's ``geometric`` settings for the modality) and ``mask_subset``, which a
    run sets (BackMix's ablation of which images carry masks), not a preset. Build it from a preset with
    :meth:`from_config`; unset fields take the schema's defaults."""

    geometric: GeometricParams | None = field(default_factory=GeometricParams)
    mask_subset: int = -1

    @classmethod
    def from_config(cls, cfg, modality: str = "mri", **changes) -> "TrainSettings":
        """The preset's settings for ``modality`` (``mri``: ``train.epochs``, ``augment.rotate_mri``; ``echo``:
        ``train.echo_epochs``, ``augment.rotate_echo``), with ``changes`` (setting names) applied."""
        from .interventions.pipeline import geometric_from_config

        check_setting_names(changes, [f.name for f in fields(cls)], "training")
        base = settings_values(cfg, "fit", modality)
        base["geometric"] = geometric_from_config(cfg, modality)
        base.update(changes)
        return cls(**base)


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict[str, Any]]
    best_epoch: int
    resumed_from: int = 0

    def history_frame(self):
        import pandas as pd
        return pd.DataFrame(self.history).set_index("epoch")


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Inverse-frequency class weights N / (K n_c), as the MRI seed code uses (absent classes get 0)."""
    counts = torch.bincount(labels.cpu(), minlength=num_classes).float()
    w = torch.where(counts > 0, counts.sum() / (num_classes * counts.clamp_min(1)), torch.zeros_like(counts))
    return w


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, class_w: torch.Tensor | None = None,
                       sample_w: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy for hard (``[B]`` int) or soft (``[B, K]``) targets, with class and per-sample weights.

    Per sample: ``-Σ_c t_c w_c log softmax(z)_c`` (hard targets: ``-w_y log p_y``), times ``sample_w``; the
    mean is normalized by the sum of the class weights of the targets, as ``F.cross_entropy(weight=...)``.
    """
    logp = tF.log_softmax(logits.float(), 1)
    k = logits.shape[1]
    t = tF.one_hot(target, k).float() if target.dim() == 1 else target.float()
    cw = torch.ones(k, device=logits.device) if class_w is None else class_w.to(logits.device)
    per = -(t * cw * logp).sum(1)
    norm = (t * cw).sum(1)
    if sample_w is not None:
        per = per * sample_w
        norm = norm * sample_w
    return per.sum() / norm.sum().clamp_min(1e-12)


def sma_variant_loss(model, x: torch.Tensor, y: torch.Tensor, class_w: torch.Tensor | None = None, *,
             generator: torch.Generator) -> torch.Tensor:
    """CAM-guided feature-space background swap: a mask-free variant in the spirit of SMA (Kwon et al. 2024).

    Kwon et al.'s shortcut-mitigating augmentation disentangles object and background *features* and
    recombines them across images, without masks. Its published description leaves the disentangling network
    to the reader, so this is the closest well-defined variant, named for what it is: the model's own class
    activation map for the true class (detached, normalized to [0, 1] per frame) weights the encoder's feature
    map into an object feature and a background feature; the object feature of image i plus the background
    feature of a random image j must still be classified as y_i. Loss = CE(full image) + CE(swapped features).
    """
    b, f, h, w = x.shape
    fm = model.encoder.forward_features(x.reshape(b * f, 1, h, w))  # [B*F, C, h', w']
    pooled = model.encoder.forward_head(fm).reshape(b, -1)
    main = soft_cross_entropy(model.head(pooled), y, class_w)
    c = fm.shape[1]
    fmf = fm.float().reshape(b, f, c, *fm.shape[2:])
    wy = model.head.weight[y].reshape(b, f, c).detach()
    cam = torch.relu(torch.einsum("bfc,bfcij->bfij", wy, fmf.detach()))
    a = cam / cam.flatten(2).amax(2).clamp_min(1e-6)[..., None, None]
    a = a.unsqueeze(2)  # [b, f, 1, h', w']
    fo = (a * fmf).sum((3, 4)) / a.sum((3, 4)).clamp_min(1e-6)
    fb = ((1 - a) * fmf).sum((3, 4)) / (1 - a).sum((3, 4)).clamp_min(1e-6)
    perm = torch.randperm(b, generator=generator).to(x.device)
    synth = (fo + fb[perm]).reshape(b, f * c)
    return main + soft_cross_entropy(model.head(synth), y, class_w)


@torch.no_grad()
def predict(model: nn.Module, data: ImageSet, *, condition: str = "full", batch_size: int = 256,
            device: str | torch.device = "cpu", fill: float = 0.0, settings: "TrainSettings | None" = None) -> np.ndarray:
    """Softmax probabilities ``[N, K]`` (float32) of ``model`` on ``data`` with the test-time input of ``condition``,
    computed as ``settings`` trains (:func:`compute_plan`; default settings when not given)."""
    get_condition(condition, where="predict")
    if len(data) == 0:
        raise ShortcutlabError(f"The 'data' parameter of predict is empty ({data.name!r}): nothing to evaluate.")
    dev = torch.device(device)
    plan = compute_plan(settings or TrainSettings(), dev)
    was = model.training
    model.eval()
    out = []
    pipe = BatchPipeline(data, condition, batch_size=batch_size, train=False, device=dev, fill=fill)
    for b in pipe:
        with _autocast(dev, plan):
            logits = model(_prepare(b.x, plan))
        out.append(torch.softmax(logits.float(), 1).cpu())
    model.train(was)
    return torch.cat(out).numpy()


def _val_metrics(model, val: ImageSet, condition, s: TrainSettings, dev, cw) -> dict[str, float]:
    from .metrics import auc

    p = predict(model, val, condition=condition, batch_size=s.eval_batch_size, device=dev, fill=s.fill, settings=s)
    y = val.labels.cpu().numpy()
    pt = torch.from_numpy(p).clamp_min(1e-12)
    loss = float(tF.nll_loss(pt.log(), torch.from_numpy(y), weight=cw))
    out = {"val_loss": loss, "val_accuracy": float((p.argmax(1) == y).mean())}
    try:
        out["val_auc"] = auc(y, p, "micro")
    except ShortcutlabError:
        out["val_auc"] = float("nan")
    return out


def _better(metric: str, new: float, best: float | None) -> bool:
    if best is None:
        return True
    if new != new:
        return False
    return new < best if metric == "val_loss" else new > best


def lr_factor(schedule: str, step: int, warmup: int, total: int) -> float:
    """The learning rate of 0-based ``step`` as a fraction of ``lr``. ``constant``: 1. ``cosine``: a linear warm-up
    over the first ``warmup`` steps ((step + 1) / warmup), then a half cosine from 1 down to 0 over the remaining
    steps, ``0.5 (1 + cos(pi (step - warmup + 1) / (total - warmup)))``, so the last step trains at rate 0 and the
    model of the last epoch is the settled one (``select_metric: last``)."""
    check_choice(schedule, ("constant", "cosine"), name="lr_schedule", where="fit")
    if schedule == "constant":
        return 1.0
    if step < warmup:
        return (step + 1) / warmup
    rest = max(total - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup + 1, rest) / rest))


def fit(model: nn.Module, train: ImageSet, val: ImageSet | None = None, *, condition: str = "full",
        settings: TrainSettings | None = None, seed: int = 0, checkpoint: str | Path | None = None,
        progress: bool = True, on_epoch: Callable[[int, dict], None] | None = None,
        checkpoint_key: str | None = None, track: Mapping[str, ImageSet] | None = None) -> FitResult:
    """Train ``model`` on ``train`` under ``condition``; keep the best epoch by ``settings.select_metric``.

    Parameters
    ----------
    checkpoint : path, optional
        Written atomically after every epoch (model, optimizer, generator and history); if it exists, training
        resumes after its last epoch and ends with the same numbers as an uninterrupted run.
    checkpoint_key : str, optional
        Stored in the checkpoint; a checkpoint with another key (another run's) is not resumed (warning, removed).
        A checkpoint that does not fit the model is not resumed either, and nothing of it is copied in.
    track : dict of ImageSet, optional
        Sets whose accuracy is recorded after every epoch (history column ``acc_<name>``), e.g. the cue-agreeing
        and cue-conflicting patients, to see which one a model learns first. Evaluation only: the trained
        numbers are the same with or without it.
    on_epoch : callable, optional
        ``on_epoch(epoch, row)`` after each epoch (1-based) and its checkpoint, with that epoch's history row.
        An exception it raises stops training with the checkpoint in place, as a killed process would.
    """
    s = settings or TrainSettings()
    get_condition(condition, where="fit")
    check_int(s.epochs, name="epochs", where="fit", lo=1)
    check_number(s.lr, name="lr", where="fit", lo=0, lo_open=True)
    num_classes = getattr(model, "num_classes", None)
    if num_classes is not None and num_classes != train.num_classes:
        raise ShortcutlabError(f"The model has {num_classes} outputs but the data set {train.name!r} has "
                               f"{train.num_classes} classes ({', '.join(train.class_names)}): num_classes mismatch.")
    if val is None and s.select_metric != "last":
        raise param_error("select_metric", "fit", "'last' when no validation set is given (or pass val=)",
                          s.select_metric)
    if val is not None and len(val) == 0:
        raise ShortcutlabError(f"The validation set {val.name!r} is empty.")
    dev = resolve_device(s.device)
    plan = compute_plan(s, dev)
    if dev.type == "cpu":
        set_threads(plan.get("threads", s.threads))
    else:
        torch.backends.cudnn.benchmark = True
    if plan["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    torch.manual_seed(seed)
    model.to(dev)
    if plan.get("ulp"):
        nudge_weights(model)
    step_model = torch.compile(model) if plan["compile"] else model  # shares the parameters: checkpoints see no wrapper
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=s.lr, weight_decay=s.weight_decay)
    cw = class_weights(train.labels, train.num_classes) if s.class_weighted else torch.ones(train.num_classes)
    cw_dev = cw.to(dev)
    pipe = BatchPipeline(train, condition, batch_size=s.batch_size, train=True, geometric=s.geometric, f=s.f,
                         lam=s.lam, fill=s.fill, sigma=s.bokeh_sigma, alpha=s.cutmix_alpha, seed=seed, device=dev,
                         drop_last=len(train) > s.batch_size, mask_subset=s.mask_subset)
    history: list[dict[str, Any]] = []
    best_state, best_val, best_epoch, start = None, None, 0, 0
    ckpt = Path(checkpoint) if checkpoint else None

    def _read(st):
        hist = [dict(zip(st["hist_keys"], row)) for row in st["hist"].tolist()]
        for h in hist:
            h["epoch"] = int(h["epoch"])
        bval = None if st["best_val"].isnan() else float(st["best_val"])
        return hist, st["best"], bval, int(st["best_epoch"]), int(st["epoch"])

    got = resume(ckpt, key=checkpoint_key, owner=f"fit {condition}", module=model, state_key="model", optimizer=opt,
                 generator=pipe.generator, read=_read)
    if got is not None:
        history, best_state, best_val, best_epoch, start = got
    steps = max(len(pipe), 1)
    from tqdm.auto import tqdm

    bar = tqdm(range(start, s.epochs), desc=f"fit {condition}", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        # the epoch's loss is summed on the device (in float64, as Python floats would be: the same numbers) and read
        # once per epoch: a float() per step would wait for the GPU at every step
        tot, nb = torch.zeros((), dtype=torch.float64, device=dev), 0
        for b in pipe:
            if s.lr_schedule != "constant":  # a pure function of the step: a resumed run gets the same rates
                for g in opt.param_groups:
                    g["lr"] = s.lr * lr_factor(s.lr_schedule, epoch * steps + nb, steps, s.epochs * steps)
            x = _prepare(b.x, plan)
            target = b.y_soft if b.y_soft is not None else b.y
            with _autocast(dev, plan):
                if condition == "sma_variant":
                    loss = sma_variant_loss(model, x, b.y, cw_dev, generator=pipe.generator)
                else:
                    logits = step_model(x)
            if condition != "sma_variant":
                loss = soft_cross_entropy(logits, target, cw_dev, b.weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.detach().double()
            nb += 1
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": float(tot) / max(nb, 1)}
        if val is not None:
            row.update(_val_metrics(model, val, condition, s, dev, cw))
        for name, ds in (track or {}).items():
            p = predict(model, ds, condition=condition, batch_size=s.eval_batch_size, device=dev, fill=s.fill,
                        settings=s)
            row[f"acc_{name}"] = float((p.argmax(1) == ds.labels.cpu().numpy()).mean())
        history.append(row)
        metric = s.select_metric
        score = row.get(metric, float(epoch)) if metric != "last" else float(epoch)
        if metric == "last":  # the model in hand is the one to keep: no copy per epoch
            best_val, best_epoch = score, epoch + 1
        elif _better(metric, score, best_val):
            best_val, best_epoch = score, epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", **({metric: f"{score:.3f}"} if metric != "last" else {}))
        if ckpt is not None:
            keys = list(history[0].keys())
            st = {"model": model.state_dict(), "opt": opt.state_dict(), "gen": pipe.generator.get_state(),
                  "hist_keys": keys, "hist": torch.tensor([[float(h.get(k, float("nan"))) for k in keys] for h in history],
                                                          dtype=torch.float64),
                  "best": best_state, "best_epoch": best_epoch,
                  "best_val": torch.tensor(float("nan") if best_val is None else float(best_val)), "epoch": epoch + 1,
                  "key": checkpoint_key}
            atomic_torch_save(st, ckpt)
        if on_epoch:
            on_epoch(epoch + 1, row)
    if best_state is not None:
        model.load_state_dict(best_state)
    return FitResult(model, history, best_epoch, resumed_from=start)

