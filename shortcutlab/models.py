"""Models through timm: a shared encoder over the F frames and a linear head (the MRI seed's design).

``build_model("densenet121", num_classes=4, frames=2)`` encodes ED and ES with one encoder
(1 input channel per frame) and classifies the concatenated features; for F = 1 it is a plain classifier.
``sl_cnn`` is a small ResNet registered in timm's registry for CPU presets and tests.
"""
from __future__ import annotations

from pathlib import Path

import timm
import torch
from timm.models import register_model
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from ._io import atomic_torch_save
from ._validation import ShortcutlabError, closest, param_error

__all__ = ["FrameClassifier", "build_model", "available_models", "target_layer", "load_encoder_weights", "save_weights",
           "load_weights"]


@register_model
def sl_cnn(pretrained: bool = False, **kwargs) -> ResNet:
    """shortcutlab's small CPU model: ResNet with one BasicBlock per stage, channels 16-128, deep stem of
    width 8, output stride 8 (an 8 x 8 GradCAM grid at 64 px). ~0.3 M parameters."""
    if pretrained:
        raise ShortcutlabError("The model 'sl_cnn' has no pretrained weights; use weights: random.")
    args = dict(block=BasicBlock, layers=(1, 1, 1, 1), channels=(16, 32, 64, 128), stem_width=8, stem_type="deep",
                output_stride=8)
    for k in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(k, None)
    args.update(kwargs)
    return ResNet(**args)




class FrameClassifier(nn.Module):
    """Shared encoder over F frames + linear head on the concatenated features.

    Input ``[B, F, H, W]``; the encoder sees ``[B*F, 1, H, W]``. ``encoder_frozen`` keeps the encoder in
    eval mode and without gradients (linear probe, the MRI paper's "Zero" and linear evaluation).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, frames: int, name: str = ""):
        super().__init__()
        self.encoder = encoder
        self.frames = frames
        self.num_classes = num_classes
        self.name = name
        self.feature_dim = int(encoder.num_features)
        self.head = nn.Linear(self.feature_dim * frames, num_classes)
        self.encoder_frozen = False

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b, f, h, w = x.shape
        if f != self.frames:
            raise ShortcutlabError(f"The input of {self.name or 'the model'} must have {self.frames} frame(s) "
                                   f"([B, {self.frames}, H, W]). Got shape {tuple(x.shape)} instead.")
        z = self.encoder(x.reshape(b * f, 1, h, w))
        return z.reshape(b, f * self.feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def freeze_encoder(self, frozen: bool = True) -> "FrameClassifier":
        self.encoder_frozen = frozen
        for p in self.encoder.parameters():
            p.requires_grad_(not frozen)
        if frozen:
            self.encoder.eval()
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self


def available_models() -> list[str]:
    """Every model name build_model accepts: timm's registry, ``sl_cnn`` included."""
    return timm.list_models()


def _check_name(name: str) -> None:
    names = available_models()
    if name not in names:
        near = closest(name, names, n=4)
        some = near or ["sl_cnn", "resnet18", "densenet121", "resnet10t"]
        raise param_error("model", "build_model", "a timm model name", name,
                          hint=f"Valid names include {', '.join(map(repr, some))} (see timm.list_models()).")


def build_model(name: str, num_classes: int, frames: int = 1, *, weights: str = "random", weights_file: str = "",
                drop_rate: float = 0.0) -> FrameClassifier:
    """Build a FrameClassifier with a timm encoder (1 input channel, no classifier).

    Parameters
    ----------
    name : str
        timm model name (``densenet121`` in the MRI paper, ``resnet18`` in BackMix, ``sl_cnn`` on CPU).
    weights : {'random', 'imagenet'}
        ``imagenet`` uses timm's pretrained loading: ``weights_file`` (a local ``.safetensors``/``.pth``) or
        online from the hub. Offline without a file it stops with an error that says how to provide one.
    """
    _check_name(name)
    if weights not in ("random", "imagenet"):
        raise param_error("weights", "build_model", "one of 'random', 'imagenet'", weights)
    if not isinstance(num_classes, int) or num_classes < 2:
        raise param_error("num_classes", "build_model", "an int >= 2", num_classes)
    kw = dict(num_classes=0, in_chans=1, drop_rate=drop_rate)
    if weights == "random":
        enc = timm.create_model(name, pretrained=False, **kw)
    else:
        if weights_file:
            if not Path(weights_file).exists():
                raise ShortcutlabError(f"The 'weights_file' parameter of build_model names {weights_file!r}, "
                                       f"which does not exist.")
            try:
                enc = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(weights_file)), **kw)
            except Exception as e:  # noqa: BLE001
                raise ShortcutlabError(f"The ImageNet weights file {weights_file!r} could not be loaded into "
                                       f"{name!r} ({type(e).__name__}: {str(e)[:300]}).") from None
        else:
            import os
            if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
                raise ShortcutlabError(
                    f"ImageNet weights for {name!r} cannot be downloaded offline (HF_HUB_OFFLINE=1). Download them "
                    f"on a machine with internet (e.g. timm.create_model({name!r}, pretrained=True) and save the "
                    f"state dict) and set 'train.weights_file' in the preset to that file, or use train.weights: random.")
            try:
                enc = timm.create_model(name, pretrained=True, **kw)
            except Exception as e:  # noqa: BLE001
                raise ShortcutlabError(
                    f"ImageNet weights for {name!r} could not be fetched ({type(e).__name__}). Set "
                    f"'train.weights_file' to a local weights file, or use train.weights: random.") from None
    return FrameClassifier(enc, num_classes, frames, name=name)


def target_layer(model: FrameClassifier, override: str | None = None) -> nn.Module:
    """GradCAM target layer: resnet-like ``layer4[-1]``, densenet ``features[-1]``, else the last conv block.

    ``override`` is a dotted path inside the encoder, e.g. ``"layer3"`` or ``"features.denseblock4"``.
    """
    enc = model.encoder
    if override:
        mod = enc
        for part in override.split("."):
            if part.lstrip("-").isdigit():
                mod = mod[int(part)]
            elif hasattr(mod, part):
                mod = getattr(mod, part)
            else:
                names = [n for n, _ in enc.named_modules() if n][:8]
                raise param_error("target_layer", "target_layer", f"a dotted module path of the encoder, e.g. "
                                  f"{', '.join(names)}", override)
        return mod
    if hasattr(enc, "layer4"):
        return enc.layer4[-1]
    if hasattr(enc, "features"):
        return enc.features[-1]
    if hasattr(enc, "stages"):
        return enc.stages[-1]
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ShortcutlabError(f"No convolutional layer found in {model.name!r}; pass a target layer override.")
    return convs[-1]


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Save the state dict atomically (temporary file, then rename)."""
    return atomic_torch_save(model.state_dict(), path)


def _load_state(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ShortcutlabError(f"The weights file {str(path)!r} does not exist.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ShortcutlabError(f"The weights file {str(path)!r} could not be read ({type(e).__name__}: {e}).") from None


def _load_into(module: nn.Module, state: dict, path, what: str) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items() if k in state
             and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        detail = []
        if wrong:
            detail.append("shape mismatch " + ", ".join(f"{k}: file {a} vs model {b}" for k, a, b in wrong[:3]))
        if missing:
            detail.append(f"missing {missing[:3]}")
        if unexpected:
            detail.append(f"unexpected {unexpected[:3]}")
        raise ShortcutlabError(f"The weights file {str(path)!r} does not fit the {what}: {'; '.join(detail)}.")
    module.load_state_dict(state)


def load_weights(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a full model state dict (``torch.load(weights_only=True)``), checking names and shapes."""
    _load_into(model, _load_state(path), path, "model")
    return model


def load_encoder_weights(model: FrameClassifier, path: str | Path) -> FrameClassifier:
    """Load encoder weights (e.g. from contrastive pretraining) into ``model.encoder``."""
    state = _load_state(path)
    if any(k.startswith("encoder.") for k in state):
        state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    _load_into(model.encoder, state, path, "encoder")
    return model

