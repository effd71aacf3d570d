"""The user's model as the audit sees it: read from a file, wrapped with its preprocessing, its CAM layer found.

* :func:`load_model` reads a TorchScript file, a ``torch.export`` program (``.pt2``), or a state dict
  (``.pt`` / ``.pth`` / ``.bin`` through ``torch.load(weights_only=True)``, or ``.safetensors``) into a timm
  architecture named by ``arch`` (or the study's own ``sl_cnn`` family). Never a pickle.
* :class:`Preprocess` says how the audit's images (``[N, F, H, W]`` floats in [0, 1], as every data source gives
  them) become the model's input: the size, the channels, mean / std or a per-image z-score.
* :class:`Prepared` is the model behind that preprocessing: its input is the data's own images, so every
  counterfactual is built at the data's resolution and every CAM comes back at the masks' size.
* :func:`find_target_layer` picks the CAM layer for the common families (ResNet, DenseNet, EfficientNet,
  ConvNeXt, ViT with grad-cam's token reshape) or takes a dotted name.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as tF
from torch import nn

from .._validation import ShortcutlabError, closest, param_error
from ..models import find_target_layer

__all__ = ["Preprocess", "Prepared", "load_model", "find_target_layer", "model_kind", "inference_copy"]

MODEL_FORMATS = ("a TorchScript file", "a torch.export program (.pt2)",
                 "a state dict (.pt, .pth, .bin or .safetensors) with arch= naming its timm architecture")


@dataclass(frozen=True)
class Preprocess:
    """How the data's images (``[N, F, H, W]``, floats in [0, 1]) become the model's input.

    size : int or None
        The model's input side in pixels (bilinear resize); None keeps the data's size.
    channels : int or None
        The model's input channels. None: the data's frames as they are (the study's models take ``[N, F, H, W]``).
        Equal to the frames: the frames become the channels. A single-frame image is repeated to fill them
        (a grayscale image for an RGB network).
    mean, std : sequence of float
        Per-channel normalization ``(x - mean) / std`` after the resize (e.g. ImageNet's); one value for all.
    zscore : bool
        Instead of mean / std: each image minus its own mean, over its own standard deviation.
    test_input : str
        The test-time input of a shortcutlab condition, applied before everything else (``seg``: the study's Seg
        model sees the object only); ``full`` for any other model.
    """

    size: int | None = None
    channels: int | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    zscore: bool = False
    test_input: str = "full"

    @classmethod
    def from_spec(cls, spec: "Preprocess | Mapping[str, Any] | None", *, where: str = "audit") -> "Preprocess":
        """A Preprocess from a mapping such as the notebook's ``PREPROCESS`` (``{"size": 224, "channels": 3,
        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}``), each value checked."""
        if spec is None or isinstance(spec, Preprocess):
            return spec or cls()
        if not isinstance(spec, Mapping):
            raise param_error("preprocess", where, "a mapping like {'size': 224, 'channels': 3} or a Preprocess", spec)
        known = [f for f in cls.__dataclass_fields__]
        for key in spec:
            if key not in known:
                near = closest(str(key), known)
                raise param_error("preprocess", where, f"keys among {', '.join(map(repr, known))}", key,
                                  hint=f"Did you mean {near[0]!r}?" if near else "")
        out = dict(spec)
        for key in ("size", "channels"):
            v = out.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096):
                raise param_error(f"preprocess['{key}']", where, "None or an integer in [1, 4096]", v)
        for key in ("mean", "std"):
            v = out.get(key, ())
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                v = (v,)
            if not isinstance(v, Sequence) or isinstance(v, str) or not all(
                    isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
                raise param_error(f"preprocess['{key}']", where, "a list of finite numbers, one per channel", v)
            out[key] = tuple(float(a) for a in v)
        if out.get("std") and any(s <= 0 for s in out["std"]):
            raise param_error("preprocess['std']", where, "positive numbers", list(out["std"]))
        if bool(out.get("mean")) != bool(out.get("std")):
            raise param_error("preprocess", where, "both 'mean' and 'std', or neither", dict(spec))
        if out.get("zscore") and out.get("mean"):
            raise param_error("preprocess", where, "either 'zscore' or 'mean' and 'std', not both", dict(spec))
        if not isinstance(out.get("zscore", False), bool):
            raise param_error("preprocess['zscore']", where, "True or False", out["zscore"])
        from ..interventions.registry import get_condition

        ti = out.get("test_input", "full")
        get_condition(ti, where=f"{where} preprocess['test_input']")
        return cls(**out)

    def describe(self) -> str:
        parts = [f"size {self.size or 'as the data'}", f"channels {self.channels or 'the frames'}"]
        if self.mean:
            parts.append(f"mean {list(self.mean)}, std {list(self.std)}")
        if self.zscore:
            parts.append("z-score per image")
        if self.test_input != "full":
            parts.append(f"test-time input {self.test_input!r}")
        return ", ".join(parts)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


class Prepared(nn.Module):
    """``model`` behind ``preprocess``: called with the data's images ``[N, F, H, W]`` in [0, 1], it returns the
    model's logits ``[N, K]``. ``frames`` is the data's frame count (CAMs and counterfactuals stay at the data's
    frames and size)."""

    def __init__(self, model: nn.Module, preprocess: Preprocess, frames: int, masks_needed: bool = False):
        super().__init__()
        self.model, self.preprocess, self.frames = model, preprocess, int(frames)
        self.sigmoid_head = False  # set by the audit for a one-logit binary model: read as two classes
        c = preprocess.channels
        if c is not None and c != frames and frames != 1:
            raise param_error("preprocess['channels']", "audit", f"None, {frames} (the data's frames as channels), or "
                              f"any count when the data has one frame", c)
        n = len(preprocess.mean)
        if n and n not in (1, c or frames):
            raise param_error("preprocess['mean']", "audit", f"1 or {c or frames} values (one per channel)",
                              list(preprocess.mean))

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        p = self.preprocess
        if p.channels is not None and x.shape[1] != p.channels:  # one frame repeated (grayscale into RGB)
            x = x.expand(-1, p.channels, -1, -1)
        if p.size is not None and tuple(x.shape[-2:]) != (p.size, p.size):
            x = tF.interpolate(x, size=(p.size, p.size), mode="bilinear", align_corners=False)
        if p.mean:
            mean = torch.tensor(p.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            std = torch.tensor(p.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            x = (x - mean) / std
        elif p.zscore:
            flat = x.flatten(1)
            x = (x - flat.mean(1).view(-1, 1, 1, 1)) / flat.std(1).clamp_min(1e-6).view(-1, 1, 1, 1)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dev = next((q.device for q in self.model.parameters()), None)  # the input goes where the model is
        out = self.model(self.prepare(x if dev is None else x.to(dev)))
        if self.sigmoid_head:  # one logit z of P(second class) = sigmoid(z): softmax of [-z/2, z/2] is the same
            out = torch.cat([-out / 2, out / 2], 1)
        return out


def _fold_batchnorm(module: nn.Module) -> int:
    """Fold every convolution followed directly by a batch norm (siblings, in that order) into one convolution with
    the norm's eval statistics; the norm becomes an identity. Returns how many were folded."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    n = 0
    children = list(module.named_children())
    for (n1, c1), (n2, c2) in zip(children, children[1:]):
        if (type(c1) is nn.Conv2d and type(c2) is nn.BatchNorm2d and c2.track_running_stats
                and c1.out_channels == c2.num_features):
            setattr(module, n1, fuse_conv_bn_eval(c1, c2))
            setattr(module, n2, nn.Identity())
            n += 1
    return n + sum(_fold_batchnorm(c) for _, c in module.named_children())


def inference_copy(model: nn.Module, example: torch.Tensor, *, tol: float = 1e-4) -> nn.Module:
    """A copy of ``model`` for forward passes only, in eval mode: each convolution followed by a batch norm folded
    into one, in channels-last memory. Its maps would not come from the model's own layers, so CAMs and the
    sanity check use the model itself. The copy must give the model's softmax on ``example`` within ``tol`` (a
    norm that sits beside a convolution without following it in the forward would not); if it does not, or the
    model cannot be copied (a TorchScript or ``torch.export`` program), the model itself is returned."""
    import copy

    if isinstance(model, torch.jit.ScriptModule):
        return model
    try:
        fast = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - a program that cannot be copied runs as it is
        return model
    fast.eval()
    _fold_batchnorm(fast)
    fast = fast.to(memory_format=torch.channels_last)
    with torch.no_grad():
        was = model.training
        model.eval()
        same = torch.allclose(torch.softmax(fast(example).float(), 1), torch.softmax(model(example).float(), 1),
                              atol=tol, rtol=0)
        model.train(was)
    return fast if same else model


def model_kind(path: str | Path) -> str:
    """``torchscript``, ``export``, ``safetensors`` or ``state_dict``, from the file's contents (not its name alone):
    a TorchScript archive holds ``code/``, a ``torch.export`` archive an ``archive_format`` record."""
    path = Path(path)
    if not path.exists():
        raise ShortcutlabError(f"The model file {str(path)!r} does not exist.")
    if path.suffix == ".safetensors":
        return "safetensors"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any(n.endswith("archive_format") for n in names) or path.suffix == ".pt2":
            return "export"
        if any("/code/" in n or n.startswith("code/") for n in names):
            return "torchscript"
        if any(n.endswith("data.pkl") for n in names):
            return "state_dict"
    raise ShortcutlabError(f"The model file {str(path)!r} is not one the audit reads. Allowed: "
                           f"{'; '.join(MODEL_FORMATS)}. Got a file of {path.stat().st_size} bytes that is none of them"
                           f"{' (an old-style pickle is never read)' if not zipfile.is_zipfile(path) else ''}.")


def _state_dict(path: Path, kind: str) -> dict:
    if kind == "safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling refusal is the same message
        raise ShortcutlabError(f"The model file {str(path)!r} could not be read as a state dict with "
                               f"weights_only=True ({type(e).__name__}: {str(e)[:200]}). A whole model saved with "
                               f"torch.save(model) is a pickle, never read: in your own code, where the class is "
                               f"defined, save torch.save(model.state_dict(), 'weights.pt') and pass --arch, or "
                               f"torch.export.save(torch.export.export(model.eval(), (example_batch,)), "
                               f"'model.pt2').") from None
    for key in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
        raise ShortcutlabError(f"The model file {str(path)!r} must hold a state dict (names to tensors). "
                               f"Got {type(state).__name__} instead.")
    return dict(state)


def _strip(state: dict, prefix: str, path: Path) -> dict:
    """The state dict's keys without ``prefix`` (a Lightning checkpoint's ``model.``); keys without it are kept."""
    if not prefix:
        return state
    if not any(k.startswith(prefix) for k in state):
        raise param_error("strip_prefix", "load_model", f"a prefix of the keys of {str(path)!r} (they begin "
                          f"{', '.join(map(repr, list(state)[:3]))})", prefix)
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}


def load_model(path: str | Path, *, arch: str = "", num_classes: int | None = None, in_chans: int | None = None,
               frames: int = 1, strip_prefix: str = "") -> tuple[nn.Module, str]:
    """The model in ``path`` in eval mode, and its kind (:func:`model_kind`).

    A state dict needs ``arch``: a timm architecture (``resnet18``, ``densenet121``, ...; built with
    ``num_classes`` outputs and ``in_chans`` input channels, no download), a torchvision one as
    ``torchvision.<name>`` (``torchvision.resnet18``; three input channels), or, for weights the study saved (keys
    under ``encoder.``), the study's model of that name over ``frames`` frames. ``strip_prefix`` removes a prefix
    from the keys first (a Lightning checkpoint's ``model.``). Its keys and shapes must fit the architecture
    exactly.
    """
    path = Path(path)
    kind = model_kind(path)
    if kind == "torchscript":
        return torch.jit.load(str(path), map_location="cpu").eval(), kind
    if kind == "export":
        ep = torch.export.load(str(path))
        return torch.export.unflatten(ep).eval() if hasattr(torch.export, "unflatten") else ep.module(), kind
    if not arch:
        raise param_error("arch", "load_model", "the timm architecture of the state dict (e.g. 'resnet18')", arch,
                          hint=f"{str(path)!r} holds weights only")
    state = _strip(_state_dict(path, kind), strip_prefix, path)
    if num_classes is None:
        head = [v for k, v in state.items() if v.ndim == 2][-1:]
        num_classes = int(head[0].shape[0]) if head else None
    if in_chans is None:  # the first convolution's input channels
        first = next((v for v in state.values() if v.ndim == 4), None)
        in_chans = int(first.shape[1]) if first is not None else 3
    from ..models import _load_into, available_models, build_model

    if arch in available_models() and any(k.startswith("encoder.") for k in state):  # a study model's weights
        model = build_model(arch, num_classes or 2, frames)
    elif arch.startswith("torchvision."):
        import torchvision

        name = arch.split(".", 1)[1]
        names = torchvision.models.list_models()
        if name not in names:
            near = closest(name, names)
            raise param_error("arch", "load_model", "torchvision.<a torchvision.models name>", arch,
                              hint=f"Did you mean 'torchvision.{near[0]}'?" if near else "")
        if in_chans not in (None, 3):
            raise param_error("arch", "load_model", "a timm architecture for a state dict whose first convolution "
                              f"takes {in_chans} channels (torchvision's take 3)", arch)
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes or 2)
    else:
        import timm

        if not timm.is_model(arch):
            near = closest(arch, timm.list_models())
            raise param_error("arch", "load_model", "a timm architecture name", arch,
                              hint=f"Did you mean {near[0]!r}?" if near else "")
        model = timm.create_model(arch, pretrained=False, num_classes=num_classes or 2, in_chans=in_chans or 3)
    _load_into(model, state, path, f"architecture {arch!r}")
    return model.eval(), kind


