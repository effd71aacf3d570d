"""The study: train or load a condition of one preset (:meth:`Study.run`, :meth:`Study.pretrain`), the cohorts'
data, and plan mode (record what would be trained, train nothing). Where an entry lives and how it is verified is
:mod:`~shortcutlab.study.store`; what comes back is :mod:`~shortcutlab.study.runs`.

>>> study = Study(load_preset("smoke"))
>>> full = study.run("cm", "full")             # trains, or loads in seconds if any notebook trained it
>>> full.metrics["test"]["auc_micro"]
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .._io import atomic_json
from .._paths import project_path
from .._validation import CacheError, ShortcutlabError, check_choice, check_int, param_error
from ..config import Config, result_settings
from ..data.imageset import ImageSet
from ..data.sources import PHANTOM_ONLY, cohort_data, fingerprint, is_phantom, source_of, split_table
from ..interventions.registry import condition_names, get_condition
from ..metrics import auc, auc_weighted, bootstrap_ci, classification_metrics
from ..models import build_model, load_encoder_weights
from ..train import TrainSettings, compute_key, fit, plan_key, predict, pretrain_plan, resolve_device
from . import store
from .runs import PlannedRun, PretrainRun, Run, RunSet, experiment
from .store import CACHE_FORMAT, spec_hash

__all__ = ["Study", "COHORTS_ALL"]

COHORTS_ALL = ("cm", "acdc", "echo")


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
        """The folder of the entry of ``spec`` under this study's root (:func:`~shortcutlab.study.store.entry_name`)."""
        return self.root / store.entry_name(spec)

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
        compute = plan_key(pretrain_plan(settings.precision, resolve_device(settings.device), settings.threads))
        spec = {"kind": "pretrain", "method": method, "cohort": cohort, "seed": int(seed), "model": model,
                "data": self._data_spec(cohort, strength), "contrastive": cs, "format": CACHE_FORMAT,
                **({"compute": compute} if compute else {})}
        path = self.path_for(spec)
        call = {"method": method, "cohort": cohort, "seed": int(seed), "strength": strength,
                "changes": dict(setting_changes)}
        planned = self._request(path, spec, "pretrain", call, None)
        if planned is not None:
            return planned
        if (path / "done.json").exists():
            try:
                history = store.read_pretrain(path, spec)
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
        store.write_pretrain(path, spec, res.encoder, res.history)
        return PretrainRun(path.name, path, spec, res.history)

    def run_many(self, cohort: str, conditions: Sequence[str], *, seed: int = 0, **kw) -> RunSet:
        """Several conditions on one cohort at one seed (the same keyword arguments for each), as a RunSet."""
        runs = RunSet()
        for c in conditions:
            runs.add(self.run(cohort, c, seed=seed, **kw), cohort, c, seed)
        return runs

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
            return PretrainRun(name, path, spec, store.read_pretrain(path, spec), loaded_from_cache=True)
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

    def _load(self, path: Path, spec: dict) -> Run | None:
        if not (path / "done.json").exists():
            return None
        try:
            files = store.read_run(path, spec)
        except Exception as e:  # noqa: BLE001 - any damage: report, retrain; never load silently
            warnings.warn(f"study cache entry {path.name!r} is unusable ({type(e).__name__}: {e}); it is removed "
                          f"and the condition is retrained.", stacklevel=3)
            shutil.rmtree(path, ignore_errors=True)
            return None
        return Run(name=path.name, path=path, spec=spec, **files, loaded_from_cache=True, study=self)

    def _train(self, path: Path, spec: dict, settings: TrainSettings, init: Run | None, strength,
               on_epoch) -> Run:
        path.mkdir(parents=True, exist_ok=True)
        atomic_json(path / "spec.json", spec)
        data = self.data(spec["cohort"], strength=strength)
        torch.manual_seed(spec["seed"])
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
        metrics["train_seconds"] = time.perf_counter() - t0
        metrics["best_epoch"] = res.best_epoch
        store.write_run(path, spec, model, metrics, res.history, probs, labels)
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


experiment(Study.run_many, name="study.run_many")
