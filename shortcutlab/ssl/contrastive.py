"""Contrastive self-supervised pretraining: SimCLR, MoCo v2, BYOL (MRI paper §3.2, §4.4).

Heads, losses and the training entry are separate roles, as in lightly:

* :class:`ProjectionHead` / :class:`PredictionHead` — MLPs ``Linear-BN-ReLU-Linear`` sized from the
  encoder's actual feature dimension (``encoder.num_features``: 1024 for DenseNet121, 512 for ResNet18).
* :func:`nt_xent_loss` — SimCLR (Chen et al. 2020; MRI paper eq. 1): for 2N views, cosine similarity / τ,
  positives are the two views of one image, all other 2N - 2 views are negatives. Shapes ``[N, d]``.
* :func:`info_nce_loss` — MoCo v2 (Chen et al. 2020b): queries ``[N, d]``, keys ``[N, d]`` from the momentum
  encoder, negatives from a queue ``[K, d]``; logits ``[N, 1 + K]`` / τ, target index 0.
* :func:`byol_loss` — BYOL (Grill et al. 2020): ``2 - 2 cos(p, z)`` per pair, symmetrized; no negatives.
* :func:`momentum_update` — ``θ_k ← m θ_k + (1 - m) θ_q``; :func:`cosine_momentum` — BYOL's schedule.
* :func:`pretrain` — one entry for the three methods; resumable; returns encoder weights.

Frames: for cine MRI (F = 2, ED and ES) each frame enters pretraining as an image of its own, so the
encoder learns one representation that the downstream shared-encoder model applies to both frames.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as tF
from torch import nn

from .._device import to_device
from .._io import atomic_torch_save
from .._manifest import resume
from .._validation import ShortcutlabError, check_choice, check_int, check_number
from ..config import check_setting_names, settings_class, settings_values
from ..interventions.geometric import two_views
from ..data.imageset import ImageSet

__all__ = ["METHODS", "ProjectionHead", "PredictionHead", "nt_xent_loss", "info_nce_loss", "byol_loss",
           "momentum_update", "cosine_momentum", "MoCoQueue", "ContrastiveSettings", "pretrain", "PretrainResult"]

METHODS = ("simclr", "moco", "byol")


class ProjectionHead(nn.Module):
    """``Linear(in, hidden) - BN - ReLU - Linear(hidden, out)`` (SimCLR / MoCo v2 / BYOL projector)."""

    def __init__(self, in_dim: int, hidden_dim: int = 256, out_dim: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
                                 nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PredictionHead(ProjectionHead):
    """BYOL's predictor on top of the online projector: same MLP shape, ``out -> hidden -> out``."""


def _check_t(temperature: float, where: str) -> float:
    return check_number(temperature, name="temperature", where=where, lo=0, lo_open=True)


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's NT-Xent over the 2N views of a batch (mean over the 2N anchors)."""
    t = _check_t(temperature, "nt_xent_loss")
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ShortcutlabError(f"The views of nt_xent_loss must be two [N, d] tensors of one shape. "
                               f"Got {tuple(z1.shape)} and {tuple(z2.shape)} instead.")
    n = z1.shape[0]
    if n < 2:
        raise ShortcutlabError(f"The batch of nt_xent_loss must hold at least 2 images (a batch of one has no "
                               f"negatives). Got {n} instead.")
    z = tF.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / t
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return tF.cross_entropy(sim, target)


def info_nce_loss(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """MoCo's InfoNCE: positive ``q·k``, negatives ``q·queue``, all on normalized vectors, / τ."""
    t = _check_t(temperature, "info_nce_loss")
    q, k = tF.normalize(q, dim=1), tF.normalize(k, dim=1)
    neg = q @ tF.normalize(queue, dim=1).t()
    pos = (q * k).sum(1, keepdim=True)
    logits = torch.cat([pos, neg], 1) / t
    return tF.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``2 - 2 cos(p, z)`` averaged over the batch (``z`` from the target network, no gradient)."""
    return (2 - 2 * tF.cosine_similarity(p, z.detach(), dim=1)).mean()


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float) -> None:
    """``θ_target ← m θ_target + (1 - m) θ_online`` for parameters; buffers are copied."""
    for po, pt in zip(online.parameters(), target.parameters()):
        pt.mul_(m).add_(po.detach(), alpha=1 - m)
    for bo, bt in zip(online.buffers(), target.buffers()):
        bt.copy_(bo)


def cosine_momentum(step: int, total: int, base: float) -> float:
    """BYOL's schedule: ``1 - (1 - base) (cos(π step / total) + 1) / 2`` (base at 0, 1 at the end)."""
    return 1 - (1 - base) * (math.cos(math.pi * step / max(total, 1)) + 1) / 2


class MoCoQueue(nn.Module):
    """A ring buffer of normalized keys ``[K, d]`` with a pointer that wraps."""

    def __init__(self, size: int, dim: int, generator: torch.Generator | None = None):
        super().__init__()
        g = generator or torch.Generator().manual_seed(0)
        self.register_buffer("keys", tF.normalize(torch.randn(size, dim, generator=g), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, k: torch.Tensor) -> None:
        k = tF.normalize(k.detach(), dim=1)
        size = self.keys.shape[0]
        b = k.shape[0]
        # the keys are written one after another from the pointer; of a batch larger than the queue only the last
        # `size` survive. Index arithmetic stays on the device (no wait for the GPU at every step).
        j = torch.arange(max(0, b - size), b, device=k.device)
        self.keys[(self.ptr + j) % size] = k[j]
        self.ptr.copy_((self.ptr + b) % size)


ContrastiveSettings = settings_class(
    "ContrastiveSettings", "pretrain",
    "What ``pretrain`` needs: the schema's ``pretrain`` settings (:mod:`shortcutlab.config`), with their defaults.")


def _contrastive_from_config(cls, cfg, **changes) -> "ContrastiveSettings":
    """The preset's ``contrastive`` section (and ``train.device`` / ``train.threads``), with ``changes``."""
    check_setting_names(changes, [f.name for f in dataclasses.fields(cls)], "pretraining")
    return cls(**{**settings_values(cfg, "pretrain"), **changes})


ContrastiveSettings.from_config = classmethod(_contrastive_from_config)


@dataclass
class PretrainResult:
    encoder: nn.Module
    history: list[dict[str, Any]]
    method: str


class _Learner(nn.Module):
    """Online (and, for MoCo/BYOL, momentum/target) networks of one method."""

    def __init__(self, method: str, encoder: nn.Module, s: ContrastiveSettings, generator: torch.Generator):
        super().__init__()
        self.method = method
        self.plan = {"precision": "fp32", "channels_last": False}  # pretrain() sets the resolved plan
        d = int(encoder.num_features)  # the encoder's actual size (DenseNet121: 1024), not a constant
        self.encoder = encoder
        self.projector = ProjectionHead(d, s.hidden_dim, s.proj_dim)
        if method in ("moco", "byol"):
            self.t_encoder = copy.deepcopy(encoder)
            self.t_projector = copy.deepcopy(self.projector)
            for p in list(self.t_encoder.parameters()) + list(self.t_projector.parameters()):
                p.requires_grad_(False)
        if method == "moco":
            self.queue = MoCoQueue(s.queue_size, s.proj_dim, generator)
        if method == "byol":
            self.predictor = PredictionHead(s.proj_dim, s.hidden_dim, s.proj_dim)

    def online_params(self):
        return [p for n, p in self.named_parameters() if not n.startswith("t_") and p.requires_grad]

    def _embed(self, v: torch.Tensor, target: bool = False, predict: bool = False) -> torch.Tensor:
        """Projection (and BYOL prediction) of views ``v`` under the learner's compute plan (bf16 autocast where it
        says so, channels-last where it says so); the embedding comes back in float32, so every loss is computed
        in float32."""
        enc, proj = (self.t_encoder, self.t_projector) if target else (self.encoder, self.projector)
        plan = self.plan
        if plan["channels_last"]:
            v = v.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=v.device.type, dtype=torch.bfloat16, enabled=plan["precision"] == "bf16"):
            z = proj(enc(v))
            if predict:
                z = self.predictor(z)
        return z.float()

    def loss(self, v1: torch.Tensor, v2: torch.Tensor, s: ContrastiveSettings) -> torch.Tensor:
        if self.method == "simclr":
            return nt_xent_loss(self._embed(v1), self._embed(v2), s.temperature)
        if self.method == "moco":
            q = self._embed(v1)
            with torch.no_grad():
                k = self._embed(v2, target=True)
            loss = info_nce_loss(q, k, self.queue.keys.clone(), s.temperature)
            self.queue.enqueue(k)
            return loss
        p1 = self._embed(v1, predict=True)
        p2 = self._embed(v2, predict=True)
        with torch.no_grad():
            z1 = self._embed(v1, target=True)
            z2 = self._embed(v2, target=True)
        return byol_loss(p1, z2) + byol_loss(p2, z1)

    def update_target(self, m: float) -> None:
        if self.method in ("moco", "byol"):
            momentum_update(self.encoder, self.t_encoder, m)
            momentum_update(self.projector, self.t_projector, m)


def pretrain(method: str, data: ImageSet, encoder: nn.Module, *, settings: ContrastiveSettings | None = None,
             seed: int = 0, checkpoint: str | Path | None = None, progress: bool = True,
             on_epoch: Callable[[int, dict], None] | None = None, checkpoint_key: str | None = None) -> PretrainResult:
    """Pretrain ``encoder`` (a timm model with ``num_classes=0``, 1 input channel) on ``data`` without labels.

    Each frame of each sample is an image. Two views per image come from
    :func:`shortcutlab.interventions.geometric.two_views`. Returns the encoder (the online one) and the loss history.
    ``checkpoint`` is resumed only if it was written with the same ``checkpoint_key`` and fits the learner.
    ``on_epoch(epoch, row)`` runs after each epoch and its checkpoint, as in :func:`shortcutlab.train.fit`.
    """
    s = settings or ContrastiveSettings()
    where = "pretrain"
    check_choice(method, METHODS, name="method", where=where)
    _check_t(s.temperature, where)
    check_number(s.momentum, name="momentum", where=where, lo=0, hi=1, hi_open=True)
    check_int(s.batch_size, name="batch_size", where=where, lo=2)
    n_img = len(data) * data.num_frames
    if n_img < 2:
        raise ShortcutlabError(f"The data of {where} must hold at least 2 images. Got {n_img} instead.")
    if method == "moco" and s.queue_size > n_img - s.batch_size - 1:
        ok = max(1, (n_img - s.batch_size - 1) // 2)
        raise ShortcutlabError(
            f"The 'queue_size' parameter of {where} must be smaller than the number of training images minus one "
            f"batch ({n_img} - {s.batch_size} - 1 = {n_img - s.batch_size - 1}): a larger queue puts an image among "
            f"its own negatives. Got {s.queue_size} instead; try {ok}.")
    from ..train import nudge_weights, pretrain_plan, resolve_device, set_threads

    dev = resolve_device(s.device)
    plan = pretrain_plan(s.precision, dev, s.threads)
    if dev.type == "cpu":
        set_threads(plan.get("threads", s.threads))
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    learner = _Learner(method, encoder, s, g).to(dev)
    learner.plan = plan
    if plan.get("ulp"):
        nudge_weights(learner)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if plan["channels_last"]:
        learner = learner.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(learner.online_params(), lr=s.lr, weight_decay=s.weight_decay)
    images = data.images.to(dev).reshape(n_img, 1, *data.size)  # each frame is an image
    bs = min(s.batch_size, n_img)
    steps_per_epoch = n_img // bs
    total = steps_per_epoch * s.epochs
    history: list[dict[str, Any]] = []
    start = 0
    ckpt = Path(checkpoint) if checkpoint else None
    got = resume(ckpt, key=checkpoint_key, owner=f"pretrain {method}", module=learner, state_key="learner",
                 optimizer=opt, generator=g,
                 read=lambda st: ([{"epoch": int(e), "loss": float(v)} for e, v in st["hist"].tolist()],
                                  int(st["epoch"])))
    if got is not None:
        history, start = got
    from tqdm.auto import tqdm

    bar = tqdm(range(start, s.epochs), desc=f"pretrain {method}", disable=not progress, leave=False)
    step = start * steps_per_epoch
    for epoch in bar:
        learner.train()
        order = to_device(torch.randperm(n_img, generator=g), dev)
        tot = torch.zeros((), dtype=torch.float64, device=dev)  # read once per epoch (no wait per step)
        for b in range(steps_per_epoch):
            x = images[order[b * bs:(b + 1) * bs]].float().div_(255.0)
            v1, v2 = two_views(x, generator=g)
            loss = learner.loss(v1, v2, s)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            m = cosine_momentum(step, total, s.momentum) if method == "byol" else s.momentum
            learner.update_target(m)
            step += 1
            tot += loss.detach().double()
        history.append({"epoch": epoch + 1, "loss": float(tot) / max(steps_per_epoch, 1)})
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
        if ckpt is not None:
            st = {"learner": learner.state_dict(), "opt": opt.state_dict(), "gen": g.get_state(), "epoch": epoch + 1,
                  "hist": torch.tensor([[h["epoch"], h["loss"]] for h in history], dtype=torch.float64),
                  "key": checkpoint_key}
            atomic_torch_save(st, ckpt)
        if on_epoch:
            on_epoch(epoch + 1, history[-1])
    return PretrainResult(encoder=learner.encoder.cpu(), history=history, method=method)
