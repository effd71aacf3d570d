"""The study's store: a cache entry's name, files and manifest. A condition's results are a pure function of its
spec, so the spec's hash names the entry.

``runs/<preset>/<readable-name>-<hash>/`` holds ``spec.json``, ``weights.pt``, ``predictions.npz``,
``metrics.json``, ``history.json`` (and later ``cams_<set>.npz``), then ``done.json`` written last: a manifest
(sizes, SHA-256, spec hash, cache format) verified on every load. Every file is written to a temporary name and
renamed, so an interrupted run never leaves a half-written result.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .. import _manifest as manifest
from .._io import atomic_json, atomic_savez, to_jsonable
from .._validation import CacheError
from .._version import __version__
from ..models import save_weights

__all__ = ["CACHE_FORMAT", "RUN_FILES", "PRETRAIN_FILES", "spec_hash", "entry_label", "entry_name", "check_entry",
           "read_run", "write_run", "read_pretrain", "write_pretrain", "read_maps", "write_maps"]

CACHE_FORMAT = 4  # 2: done.json is a manifest (sizes, SHA-256, spec hash), verified on every load; 3: the MRI test
# patients rendered in pairs (cue random / agreeing / conflicting), echo o.o.d. background counterfactuals, and
# Rand as the MRI code's swapBG (the donor's heart kept, a donor per frame); 4: BackMix's Noise as its code draws it
# (uniform on [0, 30/255), drawn once per data set, shuffled per frame)
RUN_FILES = ("spec.json", "weights.pt", "metrics.json", "history.json", "predictions.npz")
PRETRAIN_FILES = ("spec.json", "weights.pt", "history.json")


def spec_hash(spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(to_jsonable(spec), sort_keys=True).encode()).hexdigest()[:10]


def entry_label(spec: Mapping[str, Any]) -> str:
    """Short name of a cache entry used when another run starts from it (``cm``, ``cm-simclr``)."""
    return f"{spec['cohort']}-{spec['method']}" if spec.get("kind") == "pretrain" else spec["cohort"]


def entry_name(spec: Mapping[str, Any]) -> str:
    """The entry's folder name: readable, then the spec's hash (``cm-from-cm-simclr-full-probe-s0-1a2b3c4d5e``)."""
    if spec.get("kind") == "pretrain":
        return f"pretrain-{spec['cohort']}-{spec['method']}-s{spec['seed']}-{spec_hash(spec)}"
    init = f"-from-{spec['init_label']}" if spec.get("init") else ""
    probe = "-probe" if spec.get("probe") else ""
    tag = f"-{spec['tag']}" if spec.get("tag") else ""
    return f"{spec['cohort']}{init}-{spec['condition']}{probe}{tag}-s{spec['seed']}-{spec_hash(spec)}"


def check_entry(path: Path, spec: Mapping[str, Any], files: Sequence[str]) -> None:
    """Raise CacheError unless ``path`` is a finished entry of this spec and cache format whose files match its
    manifest (sizes and SHA-256), with the same spec on disk and loadable weights."""
    manifest.verify(path, spec_hash=spec_hash(spec), cache_format=CACHE_FORMAT, version=__version__, required=files)
    on_disk = json.loads((path / "spec.json").read_text())
    if on_disk != json.loads(json.dumps(to_jsonable(spec), sort_keys=True)):
        raise CacheError("its spec.json describes another run")
    state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not state:
        raise CacheError("weights.pt holds no state dict")


def read_run(path: Path, spec: Mapping[str, Any]) -> dict:
    """A verified supervised entry's ``metrics``, ``history``, ``probs`` and ``labels`` (per evaluation set); any
    damage raises."""
    check_entry(path, spec, RUN_FILES)
    out = {"metrics": json.loads((path / "metrics.json").read_text()),
           "history": json.loads((path / "history.json").read_text())}
    with np.load(path / "predictions.npz", allow_pickle=False) as z:
        out["probs"] = {k[6:]: z[k] for k in z.files if k.startswith("probs_")}
        out["labels"] = {k[7:]: z[k] for k in z.files if k.startswith("labels_")}
    return out


def write_run(path: Path, spec: Mapping[str, Any], model: torch.nn.Module, metrics: dict, history: list,
              probs: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> None:
    """Write a supervised entry's files, then its manifest (``done.json``) last; the checkpoint goes."""
    save_weights(model, path / "weights.pt")
    atomic_json(path / "metrics.json", metrics)
    atomic_json(path / "history.json", history)
    arrays = {f"probs_{k}": v for k, v in probs.items()}
    arrays.update({f"labels_{k}": v for k, v in labels.items()})
    atomic_savez(path / "predictions.npz", arrays)
    manifest.write(path, RUN_FILES, spec_hash=spec_hash(spec), cache_format=CACHE_FORMAT, version=__version__)
    (path / "checkpoint.pt").unlink(missing_ok=True)


def read_pretrain(path: Path, spec: Mapping[str, Any]) -> list:
    """A verified pretraining entry's loss history; any damage raises."""
    check_entry(path, spec, PRETRAIN_FILES)
    return json.loads((path / "history.json").read_text())


def write_pretrain(path: Path, spec: Mapping[str, Any], encoder: torch.nn.Module, history: list) -> None:
    save_weights(encoder, path / "weights.pt")
    atomic_json(path / "history.json", history)
    manifest.write(path, PRETRAIN_FILES, spec_hash=spec_hash(spec), cache_format=CACHE_FORMAT, version=__version__)
    (path / "checkpoint.pt").unlink(missing_ok=True)


def read_maps(path: Path, key: str) -> dict:
    """A run's cached maps (``cams_<set>_....npz``), verified against its SHA-256 sidecar; any damage raises."""
    manifest.verify_sidecar(path, key=key)
    with np.load(path, allow_pickle=False) as z:
        res = {k: z[k] for k in z.files}
    res["metrics"] = {k[2:]: res.pop(k) for k in list(res) if k.startswith("m_")}
    return res


def write_maps(path: Path, key: str, res: Mapping[str, Any]) -> None:
    arrays = {k: v for k, v in res.items() if k != "metrics"}
    atomic_savez(path, {**arrays, **{f"m_{k}": v for k, v in res["metrics"].items()}}, compressed=True)
    manifest.write_sidecar(path, key=key)
