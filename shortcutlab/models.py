"""Models through timm: a shared encoder over the F frames and a linear head (the MRI seed's design).

``build_model("densenet121", num_classes=4, frames=2)`` encodes ED and ES with one encoder
(1 input channel per frame) and classifies the concatenated features; for F = 1 it is a plain classifier.
``sl_cnn`` is a small ResNet registered in timm's registry for CPU presets and tests.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import timm
import torch
from timm.models import register_model
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from ._io import atomic_torch_save
from ._validation import ShortcutlabError, closest, param_error

__all__ = ["FrameClassifier", "build_model", "available_models", "target_layer", "find_target_layer", "load_encoder_weights", "save_weights",
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


def target_layer(model: nn.Module, override: str | None = None) -> nn.Module:
    """The CAM target layer (:func:`find_target_layer`'s module): the study's models and ResNets ``layer4[-1]``,
    DenseNet ``features``' last, ConvNeXt ``stages[-1]``, else the last convolution. ``override`` is a dotted path
    inside the encoder (``"layer3"``) or from the top (``"encoder.layer3"``)."""
    return find_target_layer(model, override or "")[0]


def _resolve(model: nn.Module, name: str) -> nn.Module:
    mod = model
    for part in name.split("."):
        if part.lstrip("-").isdigit() and isinstance(mod, (nn.Sequential, nn.ModuleList)):
            mod = mod[int(part)]
        elif hasattr(mod, part) and isinstance(getattr(mod, part), nn.Module):
            mod = getattr(mod, part)
        else:
            names = [n for n, _ in model.named_modules() if n]
            near = closest(name, names)
            raise param_error("target_layer", "audit", "a dotted module name of the model such as "
                              f"{', '.join(map(repr, names[-3:]))}", name,
                              hint=f"Did you mean {near[0]!r}?" if near else "")
    return mod


def _vit_reshape(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    prefix = int(getattr(model, "num_prefix_tokens", 1))

    def reshape(t: torch.Tensor) -> torch.Tensor:
        tokens = t[:, prefix:, :]
        side = int(round(math.sqrt(tokens.shape[1])))
        if side * side != tokens.shape[1]:
            raise ShortcutlabError(f"The ViT's {tokens.shape[1]} patch tokens do not form a square grid; name a "
                                   f"convolutional target layer instead.")
        return tokens.reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)
    return reshape


def find_target_layer(model: nn.Module, name: str = "") -> tuple[nn.Module, Callable | None, str]:
    """The CAM layer of ``model`` (a model behind the audit's preprocessing is looked into), grad-cam's reshape transform for
    transformers (None for CNNs), and the layer's dotted name.

    ``name`` picks it; otherwise: the study's models and ResNets ``layer4[-1]``, DenseNet ``features`` (timm
    ``features.norm5``), EfficientNet ``conv_head`` (torchvision ``features[-1]``), ConvNeXt ``stages[-1]``, ViT
    ``blocks[-1].norm1`` (torchvision ``encoder.layers[-1].ln_1``); else the last 2-D convolution (in a
    ``torch.export`` program, the last module that holds a 4-D weight)."""
    inner = model.model if hasattr(model, "preprocess") and isinstance(getattr(model, "model", None), nn.Module) \
        else model  # a model behind the audit's preprocessing is looked into
    base = inner.encoder if hasattr(inner, "encoder") and hasattr(inner, "head") else inner
    if name:  # a study model's layers may be named inside its encoder ("layer4") or from the top ("encoder.layer4")
        inside = base is not inner and not name.startswith("encoder.") and hasattr(base, name.split(".")[0])
        full = ("encoder." if inside else "") + name
        transformer = (hasattr(base, "blocks") and not hasattr(base, "conv_head")) or hasattr(
            getattr(base, "encoder", None), "layers")
        return _resolve(inner, full), _vit_reshape(base) if transformer else None, full
    pre = "encoder." if base is not inner else ""
    candidates = [("layer4", -1), ("features.norm5", None), ("features", None), ("conv_head", None), ("stages", -1)]
    for attr, idx in candidates:
        try:
            mod = _resolve(base, attr)
        except ShortcutlabError:
            continue
        if idx is not None and isinstance(mod, (nn.Sequential, nn.ModuleList)) and len(mod):
            return mod[idx], None, f"{pre}{attr}.{len(mod) - 1}"
        if attr == "features" and isinstance(mod, nn.Sequential) and len(mod) and not hasattr(mod, "norm5"):
            return mod[-1], None, f"{pre}features.{len(mod) - 1}"
        return mod, None, pre + attr
    if hasattr(base, "blocks") and len(base.blocks) and hasattr(base.blocks[-1], "norm1"):
        return base.blocks[-1].norm1, _vit_reshape(base), f"{pre}blocks.{len(base.blocks) - 1}.norm1"
    if hasattr(base, "encoder") and hasattr(base.encoder, "layers"):
        layers = base.encoder.layers  # torchvision's ViT: one class token first
        return layers[-1].ln_1, _vit_reshape(base), f"{pre}encoder.layers.{len(layers) - 1}.ln_1"
    convs = [(n, m) for n, m in base.named_modules() if isinstance(m, nn.Conv2d)] or [
        (n, m) for n, m in base.named_modules()  # a torch.export program's modules: those holding a 4-D weight
        if n and any(p.ndim == 4 for p in m.parameters(recurse=False))]
    if not convs:
        raise ShortcutlabError("No CAM layer found in the model (no ResNet / DenseNet / EfficientNet / ConvNeXt / "
                               "ViT layout and no 2-D convolution); pass target_layer='<dotted module name>'.")
    return convs[-1][1], None, pre + convs[-1][0]


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

