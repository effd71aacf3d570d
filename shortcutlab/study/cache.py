"""The study cache: a condition's results are a pure function of its spec.

``runs/<preset>/<readable-name>-<hash>/`` holds ``spec.json``, ``weights.pt``, ``predictions.npz``,
``metrics.json``, ``history.json`` (and later ``cams_<set>.npz`` / ``saliency_<set>.json``), then ``done.json``
written last. Every file is written to a temporary name and renamed, so an interrupted run never leaves a
half-written result; an unfinished training resumes from ``checkpoint.pt`` and ends with the same numbers.

>>> study = Study(load_preset("smoke"))
>>> full = study.run("cm", "full")             # trains, or loads in seconds if any notebook trained it
>>> full.metrics["test"]["auc_micro"]
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .. import _manifest as manifest
from .._io import atomic_json, atomic_savez, to_jsonable
from .._paths import project_path
from .._validation import CacheError, ShortcutlabError, check_choice, check_int, param_error
from .._version import __version__
from ..interventions.registry import condition_names, get_condition
from ..config import Config, result_settings
from ..data.sources import PHANTOM_ONLY, cohort_data, fingerprint, is_phantom, source_of, split_table
from ..data.imageset import ImageSet
from ..interventions.background import apply_test_condition
from ..metrics import (auc, auc_weighted, bootstrap_ci, classification_metrics, normalized_overlap, overlap_bounds,
                       overlap_metrics, summarize)
from ..models import FrameClassifier, build_model, load_encoder_weights, load_weights, save_weights
from ..saliency.cams import cam_class, cam_resolution, compute_cams, predict_tensor
from ..train import TrainSettings, compute_key, fit, predict, resolve_device

__all__ = ["Study", "Run", "PretrainRun", "PlannedRun", "CACHE_FORMAT", "COHORTS_ALL"]

CACHE_FORMAT = 3  # 2: done.json is a manifest (sizes, SHA-256, spec hash), verified on every load; 3: the MRI test
# patients rendered in pairs (cue random / agreeing / conflicting), echo o.o.d. background counterfactuals, and
# Rand as the MRI code's swapBG (the donor's heart kept, a donor per frame)
RUN_FILES = ("spec.json", "weights.pt", "metrics.json", "history.json", "predictions.npz")
PRETRAIN_FILES = ("spec.json", "weights.pt", "history.json")
COHORTS_ALL = ("cm", "acdc", "echo")


def spec_hash(spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(to_jsonable(spec), sort_keys=True).encode()).hexdigest()[:10]


def entry_label(spec: Mapping[str, Any]) -> str:
    """Short name of a cache entry used when another run starts from it (``cm``, ``cm-simclr``)."""
    return f"{spec['cohort']}-{spec['method']}" if spec.get("kind") == "pretrain" else spec["cohort"]


@dataclass
class Run:
    """A finished condition: metrics per evaluation set, predictions, and (lazily) the model."""

    name: str
    path: Path
    spec: dict
    metrics: dict
    history: list
    probs: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    loaded_from_cache: bool = False
    _model: FrameClassifier | None = None
    study: "Study | None" = field(default=None, repr=False, compare=False)

    @property
    def condition(self) -> str:
        return self.spec["condition"]

    @property
    def cohort(self) -> str:
        return self.spec["cohort"]

    @property
    def label(self) -> str:
        return entry_label(self.spec)

    def model(self) -> FrameClassifier:
        """The trained model (best epoch), loaded from ``weights.pt`` with ``weights_only=True``."""
        if self._model is None:
            m = build_model(self.spec["model"], self.spec["num_classes"], self.spec["frames"])
            if self.spec.get("probe"):
                m.freeze_encoder(True)
            load_weights(m, self.path / "weights.pt")
            m.eval()
            self._model = m
        return self._model

    def cams(self, eval_set: str = "test", *, method: str | None = None, target: str | None = None,
             max_images: int | None = None) -> dict:
        """CAMs and per-image overlap metrics on one evaluation set, cached in the run's folder.

        Returns ``{"cams": float16 [n, F, H, W], "index": [n], "metrics": {aks, dsc, pct_e, pct_f: [n, F]},
        "pred": [n], "labels": [n], "probs": [n, K]}`` for the first ``max_images`` images of the set. Method,
        target (``pred`` or ``true`` class) and ``max_images`` default to the preset's ``saliency`` section, and so does
        the layer (``saliency.layer``; empty: the model's last stage). The
        file carries a SHA-256 sidecar and is recomputed, with a warning, when it does not match.
        """
        if self.study is None:
            raise ShortcutlabError(f"Run {self.name!r} was not made by a Study, so it has no data to map; get it "
                                   f"from study.run(...).")
        sc = self.study.cfg.saliency
        method = method or sc.method
        target = target or sc.target
        check_choice(target, ("pred", "true"), name="target", where="Run.cams")
        cam_class(method)
        max_images = max_images or sc.max_images
        layer = sc.layer or None  # None: the model's last stage (the papers' layer); the file name says which
        at = f"_{layer.replace('.', '-')}" if layer else ""
        path = self.path / f"cams_{eval_set}_{method.replace('+', 'p')}{at}_{target}_{max_images}.npz"
        key = f"{self.name}/{path.name}"  # the run's folder name holds its spec hash
        if path.exists():
            try:
                manifest.verify_sidecar(path, key=key)
                with np.load(path, allow_pickle=False) as z:
                    res = {k: z[k] for k in z.files}
                res["metrics"] = {k[2:]: res.pop(k) for k in list(res) if k.startswith("m_")}
                return res
            except Exception as e:  # noqa: BLE001 - any damage: say so, recompute
                warnings.warn(f"cached maps {path.name!r} of {self.name!r} are unusable ({type(e).__name__}: {e}); "
                              f"recomputing", stacklevel=2)
        data = self.study.data(self.cohort, strength=self.spec["data"].get("strength"))
        if eval_set not in data:
            raise param_error("eval_set", "Run.cams", f"one of {', '.join(k for k in data if k not in ('train', 'val'))}",
                              eval_set)
        ds = data[eval_set]
        # overlap needs a mask: the first max_images images that have one (all of them on a phantom)
        index = torch.nonzero(ds.has_mask.cpu()).flatten()[:max_images]
        if index.numel() == 0:
            raise ShortcutlabError(f"The {eval_set!r} set of {self.cohort!r} has no image with a mask, so no CAM can be "
                                   f"scored (AKS, DSC, %E, %F need one). Add masks to the source (or 'masks: "
                                   f"estimate' for echo sectors).")
        if int(ds.has_mask.sum()) < len(ds):
            warnings.warn(f"overlap metrics of {self.name!r} on {eval_set!r} use the {int(ds.has_mask.sum())} of "
                          f"{len(ds)} images that have a mask (first {index.numel()} mapped); "
                          f"{len(ds) - int(ds.has_mask.sum())} have none.", stacklevel=2)
        sub = ds.subset(index)
        model = self.model()
        dev = resolve_device(self.study.cfg.train.device)
        if dev.type != "cpu":  # a copy on the study's device maps there; run.model() stays on the CPU for its users
            model = copy.deepcopy(model).to(dev)
        x = apply_test_condition(self.condition, sub.float_images(), sub.masks, self.spec["train"]["fill"])
        probs = predict_tensor(model, x)
        pred = probs.argmax(1)
        cams = compute_cams(model, x, targets=pred if target == "pred" else sub.labels.numpy(), method=method,
                            layer=layer, batch_size=sc.batch_size)
        om = overlap_metrics(cams, sub.masks)
        res = {"cams": cams.to(torch.float16).numpy(), "index": index.numpy(), "pred": pred,
               "labels": sub.labels.numpy(), "probs": probs.astype(np.float32)}
        atomic_savez(path, {**res, **{f"m_{k}": v.numpy() for k, v in om.items()}}, compressed=True)
        manifest.write_sidecar(path, key=key)
        res["metrics"] = {k: v.numpy() for k, v in om.items()}
        return res

    def overlap(self, eval_set: str = "test") -> dict[str, dict]:
        """Mean and bootstrap CI of AKS, DSC, %E and %F over the frames of the mapped images (:meth:`cams`), each
        beside its floor (a uniform map), its ceiling (the mask at the CAM layer's resolution and back) and the
        normalized score ``(value - floor) / (ceiling - floor)`` (means over the same images; see
        :func:`shortcutlab.metrics.overlap_bounds`)."""
        res = self.cams(eval_set)
        m = self.study.cfg.metrics
        out = {k: summarize(v, n_boot=m.n_bootstrap, ci=m.ci, seed=m.seed) for k, v in res["metrics"].items()}
        ds = self.study.data(self.cohort, strength=self.spec["data"].get("strength"))[eval_set]
        for s in out.values():  # how many images the mean is over, and how many of the set had no mask to score
            s.update(n_images=int(len(res["index"])), n_without_mask=int((~ds.has_mask).sum()))
        cam_hw = cam_resolution(self.model(), tuple(ds.images.shape[-2:]), self.study.cfg.saliency.layer or None)
        bounds = overlap_bounds(ds.masks[torch.as_tensor(res["index"])], cam_hw)
        for k, s in out.items():
            lo, hi = bounds["floor"][k].numpy(), bounds["ceiling"][k].numpy()
            s.update(floor=float(np.nanmean(lo)), ceiling=float(np.nanmean(hi)), cam_resolution=list(cam_hw),
                     normalized=float(np.nanmean(normalized_overlap(res["metrics"][k], lo, hi).numpy())))
        return out

    def __repr__(self) -> str:
        head = {k: round(v.get("auc_micro", float("nan")), 3) for k, v in self.metrics.items() if isinstance(v, dict)}
        return f"Run({self.name!r}, auc_micro={head}, cached={self.loaded_from_cache})"


@dataclass
class PretrainRun:
    """A finished contrastive pretraining: encoder weights (``weights.pt``) and the loss history."""

    name: str
    path: Path
    spec: dict
    history: list
    loaded_from_cache: bool = False

    @property
    def method(self) -> str:
        return self.spec["method"]

    @property
    def label(self) -> str:
        return entry_label(self.spec)

    def encoder_state(self) -> dict:
        return torch.load(self.path / "weights.pt", map_location="cpu", weights_only=True)


@dataclass
class PlannedRun:
    """What a planning study (``Study(cfg, plan=True)``) returns instead of training: the entry's name, folder and
    spec, and whether it is already cached. It can be passed as ``init=`` like a finished run."""

    name: str
    path: Path
    spec: dict
    loaded_from_cache: bool = False

    @property
    def label(self) -> str:
        return entry_label(self.spec)


class Study:
    """Train-or-load conditions of one preset under ``<study.root>/<preset>/``.

    Parameters
    ----------
    cfg : Config
    root : path, optional
        Overrides ``cfg.study.root`` (relative paths are relative to the project root).
    progress : bool
        tqdm bars while training.
    """

    def __init__(self, cfg: Config, *, root: str | Path | None = None, progress: bool = True, plan: bool = False):
        self.cfg = cfg
        # plan=True: run() and pretrain() only record what they would train (PlannedRun), see study.plan
        self.plan_mode = plan
        self.requests: list[dict] = []  # every run and pretraining asked for, in order: what study.plan mirrors
        base = project_path(root or cfg.study.root)
        self.root = base / cfg.name
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir: Path | bool = base / "data" if cfg.data.cache else False  # shared by the presets
        self.progress = progress
        self._data: dict[tuple, dict[str, ImageSet]] = {}

    # ------------------------------------------------------------------------------------------ data
    def data(self, cohort: str = "cm", *, strength: float | None = None) -> dict[str, ImageSet]:
        """The cohort's splits (memoized), from the source the preset names for it (``data.<cohort>``): the
        ``cm`` / ``acdc`` MRI phantoms (with ``test_decorrelated``) or real data, and ``echo`` with ``ood``
        (from ``data.echo_ood``). ``strength`` (of the spurious cue) exists only for a phantom."""
        check_choice(cohort, COHORTS_ALL, name="cohort", where="Study.data")
        key = (cohort, strength)
        if key not in self._data:
            self._data[key] = cohort_data(self.cfg, cohort, strength=strength, cache_dir=self.data_dir)
        return self._data[key]

    def is_phantom(self, cohort: str) -> bool:
        """Whether the preset's ``data.<cohort>`` is the built-in phantom (its cue can be dialled and
        decorrelated) rather than real data."""
        return is_phantom(self.cfg, cohort)

    def describe_data(self, cohorts: Sequence[str] = ("cm", "acdc", "echo")):
        """Images per class in every split of every cohort (and how many carry a mask, how many patients), with
        each cohort's source: the table the report states for the data."""
        import pandas as pd

        return pd.concat([split_table(self.data(c), c, source_of(self.cfg, c)) for c in cohorts], ignore_index=True)

    def initial_weights(self) -> tuple[str, str]:
        """``(mode, file)`` the models start from: ``train.weights`` with ``auto`` resolved (``imagenet`` when
        ``train.weights_file`` is set, else ``random``), and the file ('' without one)."""
        t = self.cfg.train
        mode = ("imagenet" if t.weights_file else "random") if t.weights == "auto" else t.weights
        return mode, (str(Path(t.weights_file).expanduser()) if t.weights_file else "")

    def _file_digest(self, path: str) -> str:
        """SHA-256 (16 hex digits) of a weights file, once per study: part of a run's key, so another file is
        another run."""
        key = ("digest", path)
        if key not in self._data:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            self._data[key] = h.hexdigest()[:16]
        return self._data[key]

    def calibration(self, strengths: Sequence[float] = (0.0, 0.5, 0.9), *, seed: int = 0):
        """How strongly a linear probe on pixels reads the heart, the background and the whole image of the ``cm``
        phantom at each cue strength (:func:`~shortcutlab.data.calibration.calibrate_cmr` at the preset's size
        and cue). On real ``cm`` data: an absent table that says why (the calibration needs a phantom)."""
        from .._absent import absent_table
        from ..data.calibration import calibrate_cmr

        if not self.is_phantom("cm"):
            return absent_table(PHANTOM_ONLY["calibration"], ["seg", "bg", "full"])
        d = self.cfg.data
        return calibrate_cmr(cohort="cm", n=d.cmr_n, size=d.cmr_size, strengths=strengths,
                             spurious=d.cmr_spurious_kind, seed=seed)

    def _data_spec(self, cohort: str, strength: float | None) -> dict:
        d = self.cfg.data
        if cohort == "echo" and self.is_phantom("echo"):
            spec = {"cohort": "echo", "n": d.echo_n, "ood_n": d.echo_ood_n, "size": d.echo_size, "seed": d.seed,
                    "ood_backgrounds": self.is_phantom("echo_ood"),
                    "strength": d.echo_overlay_strength if strength is None else strength,
                    "split": [d.echo_test_fraction, d.echo_val_fraction]}
            if not self.is_phantom("echo_ood"):
                spec["ood"] = {"source": source_of(self.cfg, "echo_ood"),
                               "fingerprint": self._fingerprint(cohort, strength)}
            return spec
        if cohort != "echo" and self.is_phantom(cohort):
            return {"cohort": cohort, "n": d.cmr_n, "size": d.cmr_size, "seed": d.seed, "kind": d.cmr_spurious_kind,
                    "strength": d.cmr_spurious_strength if strength is None else strength, "systemic": d.cmr_systemic,
                    "split": [d.test_fraction, d.val_fraction], "pairs_n": d.cmr_pairs_n}
        # real data: the source, how it is split, and a hash of what it holds (a changed file changes the key)
        split = [d.echo_test_fraction, d.echo_val_fraction] if cohort == "echo" else [d.test_fraction, d.val_fraction]
        spec = {"cohort": cohort, "source": source_of(self.cfg, cohort), "seed": d.seed, "split": split,
                "fingerprint": self._fingerprint(cohort, strength)}
        if cohort == "echo":
            spec["ood"] = {"source": source_of(self.cfg, "echo_ood")}
        return spec

    def _fingerprint(self, cohort: str, strength: float | None) -> str:
        key = ("fingerprint", cohort, strength)
        if key not in self._data:
            self._data[key] = fingerprint(self.data(cohort, strength=strength))
        return self._data[key]

    def check_masks(self, cohort: str, condition: str, f: float = 1.0, *, strength: float | None = None) -> None:
        """Stop, before anything trains, when ``condition`` needs masks the cohort's data lack: a condition that
        changes the background of every training image (``seg``, ``bg``, ``rand``, ``black`` ...) needs a mask on
        each; one applied at test time needs one on every validation and test image too; BackMix with ``f``
        needs ``round(f N)`` masked training images (it augments and draws donors from those only)."""
        cond = get_condition(condition, where="Study.run")
        if not cond.needs_mask:
            return
        data = self.data(cohort, strength=strength)
        src = source_of(self.cfg, cohort)
        where = f"data.{cohort} ({src['source']}{' ' + repr(src['path']) if src.get('path') else ''})"
        parts = ["train", "val", "test"] if cond.test_time else ["train"]
        for part in parts:
            s = data[part]
            n, masked = len(s), int(s.has_mask.sum())
            need = n if (cond.test_time or not cond.augments) else max(1, int(round(f * n)))
            if masked < need:
                lacking = torch.nonzero(~s.has_mask.cpu()).flatten()[:3].tolist()
                ids = s.meta.get("file") or s.meta.get("patient") or s.meta.get("group_name")
                examples = [ids[i] for i in lacking] if ids is not None else lacking
                what = (f"a mask on every {part} image" if need == n else
                        f"a mask on round(f N) = {need} of the {n} {part} images (f = {f:g})")
                raise ShortcutlabError(
                    f"The condition {condition!r} needs {what} of {where}, but {n - masked} of {n} have none "
                    f"(e.g. {examples}). Add masks beside those images (<name>_mask.<ext>, or a 'mask' column in a "
                    f"manifest), set 'masks: estimate' on the source for echo sectors, or use a condition without "
                    f"masks ({', '.join(condition_names(needs_mask=False))}).")

    # ------------------------------------------------------------------------------------------ runs
    def settings(self, cohort: str, **changes) -> TrainSettings:
        return TrainSettings.from_config(self.cfg, "echo" if cohort == "echo" else "mri", **changes)

    def spec(self, cohort: str, condition: str, *, seed: int = 0, init: "Run | PretrainRun | None" = None, probe: bool = False,
             strength: float | None = None, settings: TrainSettings | None = None, tag: str = "") -> dict:
        check_choice(cohort, COHORTS_ALL, name="cohort", where="Study.run")
        get_condition(condition, where="Study.run")
        check_int(seed, name="seed", where="Study.run", lo=0, hi=2**31 - 1)
        s = settings or self.settings(cohort)
        t = self.cfg.train
        model = t.echo_model if cohort == "echo" else t.mri_model
        data = self.data(cohort, strength=strength)
        tr = result_settings(asdict(s), "fit")  # the cache key: every setting that can change a number
        compute = compute_key(s, resolve_device(s.device))  # and the model's compute, where it is not plain fp32
        return {"kind": "supervised", "cohort": cohort, "condition": condition, "seed": int(seed), "probe": bool(probe),
                "init": None if init is None else init.name, "init_label": None if init is None else init.label, "model": model, "weights": self.initial_weights()[0],
                "num_classes": data["train"].num_classes, "frames": data["train"].num_frames,
                "class_names": list(data["train"].class_names), "data": self._data_spec(cohort, strength),
                "train": tr, "tag": tag, "format": CACHE_FORMAT, **({"compute": compute} if compute else {}),
                **({"weights_file": self._file_digest(self.initial_weights()[1])} if self.initial_weights()[1] else {})}

    def path_for(self, spec: Mapping[str, Any]) -> Path:
        init = f"-from-{spec['init_label']}" if spec.get("init") else ""
        probe = "-probe" if spec.get("probe") else ""
        tag = f"-{spec['tag']}" if spec.get("tag") else ""
        name = f"{spec['cohort']}{init}-{spec['condition']}{probe}{tag}-s{spec['seed']}-{spec_hash(spec)}"
        return self.root / name

    def run(self, cohort: str = "cm", condition: str = "full", *, seed: int = 0, init: "Run | PretrainRun | None" = None,
            probe: bool = False, strength: float | None = None, tag: str = "", track: Sequence[str] = (),
            _on_epoch=None, **setting_changes) -> Run:
        """Train ``condition`` on ``cohort`` (or load it from the cache) and evaluate on every test set.

        Parameters
        ----------
        init : Run, optional
            Start from this run's encoder (transfer, e.g. cm -> acdc); the head is new.
        probe : bool
            Freeze the encoder and train only the linear head (the paper's linear evaluation / "Zero").
        strength : float, optional
            Spurious-cue strength of the training data (default: the preset's).
        track : list of str, optional
            Evaluation sets of the cohort (e.g. ``test_aligned``, ``test_conflict``) whose accuracy the history
            records after every epoch (``acc_<name>``); part of the cache key only when given.
        setting_changes
            TrainSettings fields to change, e.g. ``f=0.05, lam=1.0`` (BackMix) or ``epochs=3``.
        """
        settings = self.settings(cohort, **setting_changes)
        track = self._check_track(cohort, track, strength)
        spec = self.spec(cohort, condition, seed=seed, init=init, probe=probe, strength=strength, settings=settings,
                         tag=tag)
        if track:
            spec["track"] = track
        path = self.path_for(spec)
        call = {"cohort": cohort, "condition": condition, "seed": int(seed), "probe": bool(probe), "strength": strength,
                "tag": tag, "changes": dict(setting_changes), **({"track": track} if track else {})}
        planned = self._request(path, spec, "supervised", call, init)
        if planned is not None:
            return planned
        self.check_masks(cohort, condition, settings.f, strength=strength)
        cached = self._load(path, spec)
        if cached is not None:
            return cached
        return self._train(path, spec, settings, init, strength, _on_epoch)

    def _check_track(self, cohort: str, track: Sequence[str], strength: float | None) -> list[str]:
        if isinstance(track, str) or not isinstance(track, Sequence):
            raise param_error("track", "Study.run", "a list of evaluation set names", track)
        if not track:
            return []
        sets = [k for k in self.data(cohort, strength=strength) if k not in ("train", "val")]
        bad = [t for t in track if t not in sets]
        if bad:
            raise param_error("track", "Study.run", f"names among the evaluation sets of {cohort!r} ({', '.join(sets)})",
                              bad)
        return list(track)

    def pretrain(self, method: str, cohort: str = "cm", *, seed: int = 0, strength: float | None = None,
                 _on_epoch=None, **setting_changes) -> PretrainRun:
        """Contrastive pretraining of the preset's MRI (or echo) encoder on ``cohort``'s training images.

        Cached like supervised runs; resumable. Use the result as ``init=`` of :meth:`run` for a linear probe
        (``probe=True``) or a finetune, on the same cohort or transferred (``run("acdc", init=pre)``).
        """
        from ..ssl.contrastive import METHODS, ContrastiveSettings, pretrain

        check_choice(method, METHODS, name="method", where="Study.pretrain")
        check_int(seed, name="seed", where="Study.pretrain", lo=0, hi=2**31 - 1)
        check_choice(cohort, COHORTS_ALL, name="cohort", where="Study.pretrain")
        settings = ContrastiveSettings.from_config(self.cfg, **setting_changes)
        cs = result_settings(asdict(settings), "pretrain")
        model = self.cfg.train.echo_model if cohort == "echo" else self.cfg.train.mri_model
        spec = {"kind": "pretrain", "method": method, "cohort": cohort, "seed": int(seed), "model": model,
                "data": self._data_spec(cohort, strength), "contrastive": cs, "format": CACHE_FORMAT}
        path = self.root / f"pretrain-{cohort}-{method}-s{seed}-{spec_hash(spec)}"
        call = {"method": method, "cohort": cohort, "seed": int(seed), "strength": strength,
                "changes": dict(setting_changes)}
        planned = self._request(path, spec, "pretrain", call, None)
        if planned is not None:
            return planned
        if (path / "done.json").exists():
            try:
                self._check_entry(path, spec, PRETRAIN_FILES)
                history = json.loads((path / "history.json").read_text())
                return PretrainRun(path.name, path, spec, history, loaded_from_cache=True)
            except Exception as e:  # noqa: BLE001
                warnings.warn(f"study cache entry {path.name!r} is unusable ({type(e).__name__}: {e}); it is removed "
                              f"and the pretraining is repeated.", stacklevel=2)
                shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        atomic_json(path / "spec.json", spec)
        data = self.data(cohort, strength=strength)
        torch.manual_seed(seed)  # the encoder's initial weights depend only on the seed
        enc = build_model(model, data["train"].num_classes, data["train"].num_frames).encoder
        res = pretrain(method, data["train"], enc, settings=settings, seed=seed, checkpoint=path / "checkpoint.pt",
                       progress=self.progress, on_epoch=_on_epoch, checkpoint_key=spec_hash(spec))
        save_weights(res.encoder, path / "weights.pt")
        atomic_json(path / "history.json", res.history)
        manifest.write(path, PRETRAIN_FILES, spec_hash=spec_hash(spec), cache_format=CACHE_FORMAT, version=__version__)
        (path / "checkpoint.pt").unlink(missing_ok=True)
        return PretrainRun(path.name, path, spec, res.history)

    def run_many(self, cohort: str, conditions: Sequence[str], **kw) -> dict[str, Run]:
        """``{condition: run}`` for several conditions on one cohort (the same keyword arguments for each)."""
        return {c: self.run(cohort, c, **kw) for c in conditions}

    def seed_list(self, seeds: Sequence[int] | None = None, *, where: str = "Study.seed_list",
                  descriptive: bool = False) -> list[int]:
        """``seeds`` as a list, or the preset's ``train.seeds`` when None; an empty list or a string is an error
        naming ``where``. ``descriptive=True``: a run that no claim reads, which takes the first
        ``train.descriptive_seeds`` of them (0: all), so power goes where a verdict is decided."""
        out = list(self.cfg.train.seeds if seeds is None else seeds)
        if not out or isinstance(seeds, (str, bytes)):
            raise param_error("seeds", where, "a non-empty list of seeds (None: the preset's train.seeds)", seeds)
        k = self.cfg.train.descriptive_seeds
        return out[:k] if descriptive and k else out

    def entry(self, name: str) -> "Run | PretrainRun":
        """The finished cache entry ``name`` (a folder under :attr:`root`), verified, as a run or pretraining; used
        to start a job from another (``init``) when the jobs run elsewhere (:mod:`shortcutlab.app.engine`)."""
        path = self.root / name
        if not (path / "spec.json").exists() or not (path / "done.json").exists():
            raise CacheError(f"the study cache has no finished entry {name!r} under {self.root}")
        spec = json.loads((path / "spec.json").read_text())
        if spec.get("kind") == "pretrain":
            self._check_entry(path, spec, PRETRAIN_FILES)
            return PretrainRun(name, path, spec, json.loads((path / "history.json").read_text()), loaded_from_cache=True)
        run = self._load(path, spec)
        if run is None:
            raise CacheError(f"the study cache entry {name!r} is unusable")
        return run

    # ------------------------------------------------------------------------------------------ internals
    def _request(self, path: Path, spec: dict, kind: str, call: dict, init) -> "PlannedRun | None":
        """Record a request (name, kind, the call that makes it, the entry it starts from); in plan mode return
        the planned run instead of training. ``SHORTCUTLAB_RECORD=FILE`` appends each name to FILE (the test that
        the plan asks for what the notebooks ask for)."""
        cached = (path / "done.json").exists()
        self.requests.append({"name": path.name, "kind": kind, "call": call, "init": None if init is None else init.name,
                              "spec_hash": spec_hash(spec), "cached": cached})
        rec = os.environ.get("SHORTCUTLAB_RECORD")
        if rec and not self.plan_mode:
            with open(rec, "a") as fh:
                fh.write(f"{path.name}\t{'cached' if cached else 'new'}\n")
        if self.plan_mode:
            return PlannedRun(path.name, path, spec, loaded_from_cache=cached)
        return None

    @staticmethod
    def _check_entry(path: Path, spec: Mapping[str, Any], files: Sequence[str]) -> None:
        """Raise CacheError unless ``path`` is a finished entry of this spec and cache format whose files match
        its manifest (sizes and SHA-256), with the same spec on disk and loadable weights."""
        manifest.verify(path, spec_hash=spec_hash(spec), cache_format=CACHE_FORMAT, version=__version__,
                        required=files)
        on_disk = json.loads((path / "spec.json").read_text())
        if on_disk != json.loads(json.dumps(to_jsonable(spec), sort_keys=True)):
            raise CacheError("its spec.json describes another run")
        state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not state:
            raise CacheError("weights.pt holds no state dict")

    def _load(self, path: Path, spec: dict) -> Run | None:
        if not (path / "done.json").exists():
            return None
        try:
            self._check_entry(path, spec, RUN_FILES)
            metrics = json.loads((path / "metrics.json").read_text())
            history = json.loads((path / "history.json").read_text())
            with np.load(path / "predictions.npz", allow_pickle=False) as z:
                probs = {k[6:]: z[k] for k in z.files if k.startswith("probs_")}
                labels = {k[7:]: z[k] for k in z.files if k.startswith("labels_")}
        except Exception as e:  # noqa: BLE001 - any damage: report, retrain; never load silently
            warnings.warn(f"study cache entry {path.name!r} is unusable ({type(e).__name__}: {e}); it is removed "
                          f"and the condition is retrained.", stacklevel=3)
            shutil.rmtree(path, ignore_errors=True)
            return None
        return Run(name=path.name, path=path, spec=spec, metrics=metrics, history=history, probs=probs,
                   labels=labels, loaded_from_cache=True, study=self)

    def _train(self, path: Path, spec: dict, settings: TrainSettings, init: Run | None, strength,
               on_epoch) -> Run:
        path.mkdir(parents=True, exist_ok=True)
        atomic_json(path / "spec.json", spec)
        data = self.data(spec["cohort"], strength=strength)
        torch.manual_seed(spec["seed"])
        t = self.cfg.train
        mode, wfile = self.initial_weights()
        model = build_model(spec["model"], spec["num_classes"], spec["frames"], weights=mode, weights_file=wfile)
        if init is not None:
            load_encoder_weights(model, init.path / "weights.pt")
        if spec["probe"]:
            model.freeze_encoder(True)
        t0 = time.perf_counter()
        res = fit(model, data["train"], data["val"], condition=spec["condition"], settings=settings, seed=spec["seed"],
                  checkpoint=path / "checkpoint.pt", progress=self.progress, on_epoch=on_epoch,
                  checkpoint_key=spec_hash(spec), track={k: data[k] for k in spec.get("track", [])})
        model = res.model.eval()
        # evaluated where it was trained (on a GPU: bf16 autocast, as its validation was), then kept on the CPU
        metrics, probs, labels = self.evaluate(model, data, spec["condition"], settings)
        model = model.cpu()
        save_weights(model, path / "weights.pt")
        metrics["train_seconds"] = time.perf_counter() - t0
        metrics["best_epoch"] = res.best_epoch
        atomic_json(path / "metrics.json", metrics)
        atomic_json(path / "history.json", res.history)
        arrays = {f"probs_{k}": v for k, v in probs.items()}
        arrays.update({f"labels_{k}": v for k, v in labels.items()})
        atomic_savez(path / "predictions.npz", arrays)
        manifest.write(path, RUN_FILES, spec_hash=spec_hash(spec), cache_format=CACHE_FORMAT, version=__version__)
        (path / "checkpoint.pt").unlink(missing_ok=True)
        return Run(name=path.name, path=path, spec=spec, metrics=metrics, history=res.history, probs=probs,
                   labels=labels, _model=model, study=self)

    def evaluate(self, model, data: Mapping[str, ImageSet], condition: str, settings: TrainSettings):
        """Metrics on every non-training split (``test``, ``test_decorrelated``, ``ood``)."""
        m = self.cfg.metrics
        metrics, probs, labels = {}, {}, {}
        for name, ds in data.items():
            if name in ("train", "val"):
                continue
            p = predict(model, ds, condition=condition, batch_size=settings.eval_batch_size,
                        device=next(model.parameters()).device, fill=settings.fill, settings=settings)
            y = ds.labels.numpy()
            probs[name], labels[name] = p.astype(np.float32), y
            ci = bootstrap_ci(y, p, lambda yy, pp: auc(yy, pp, "micro"), n_boot=m.n_bootstrap, ci=m.ci, seed=m.seed,
                              batch_fn=auc_weighted)
            row = {"auc_micro": ci["estimate"], "auc_micro_lo": ci["lo"], "auc_micro_hi": ci["hi"],
                   "auc_boot_redrawn": ci["n_redrawn"], "n": int(len(y))}
            try:
                row["auc_macro"] = auc(y, p, "macro")
            except ShortcutlabError:
                row["auc_macro"] = float("nan")
            row.update(classification_metrics(y, p))
            metrics[name] = row
        return metrics, probs, labels

    def runs(self) -> list[str]:
        """Names of finished entries in this study folder."""
        return sorted(p.name for p in self.root.iterdir() if (p / "done.json").exists())
