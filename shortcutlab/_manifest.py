"""Manifests: a finished cache file set says what it holds, and nothing is loaded that does not match.

A finished study entry ends with ``done.json`` written last and atomically::

    {"format": 2, "version": "...", "spec_hash": "<hash of the entry's spec>", "finished": "...",
     "files": {"weights.pt": {"size": 1234, "sha256": "..."}, ...}}

:func:`verify` re-reads every listed file and raises :class:`~shortcutlab._validation.CacheError` with the
reason (missing file, size or SHA-256 mismatch, another spec, another cache format). Cached CAMs get a
sidecar manifest of their own (``<name>.npz.json``). Checkpoints carry the key of the run that wrote them
(:func:`checkpoint_matches`).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Iterable

from ._io import atomic_json
from ._validation import CacheError

__all__ = ["digest", "write", "verify", "write_sidecar", "verify_sidecar"]


def digest(path: Path) -> dict:
    """Size and SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"size": path.stat().st_size, "sha256": h.hexdigest()}


def write(folder: Path, files: Iterable[str], *, spec_hash: str, cache_format: int, version: str,
          name: str = "done.json") -> Path:
    """Write the manifest of ``files`` (names inside ``folder``) last, atomically."""
    folder = Path(folder)
    entry = {"format": cache_format, "version": version, "spec_hash": spec_hash,
             "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
             "files": {f: digest(folder / f) for f in files}}
    return atomic_json(folder / name, entry)


def verify(folder: Path, *, spec_hash: str, cache_format: int, version: str, required: Iterable[str] = (),
           name: str = "done.json") -> dict:
    """Check the manifest of ``folder``; return it, or raise CacheError saying what does not match."""
    folder = Path(folder)
    try:
        info = json.loads((folder / name).read_text())
    except (OSError, ValueError) as e:
        raise CacheError(f"its manifest {name} cannot be read ({type(e).__name__}: {e})") from None
    if not isinstance(info, dict):
        raise CacheError(f"its manifest {name} is not a JSON object")
    if info.get("format") != cache_format:
        raise CacheError(f"written by shortcutlab {info.get('version')} with cache format {info.get('format')}; "
                         f"this is {version} with format {cache_format}")
    if info.get("spec_hash") != spec_hash:
        raise CacheError(f"its manifest names spec {info.get('spec_hash')!r}, this run's spec is {spec_hash!r}")
    files = info.get("files")
    if not isinstance(files, dict) or not files:
        raise CacheError(f"its manifest {name} lists no files")
    missing = [f for f in required if f not in files]
    if missing:
        raise CacheError(f"its manifest does not list {', '.join(missing)}")
    for fname, want in files.items():
        p = folder / fname
        if not p.is_file():
            raise CacheError(f"{fname} is missing")
        got = digest(p)
        if got["size"] != want.get("size"):
            raise CacheError(f"{fname} has {got['size']} bytes, the manifest says {want.get('size')}")
        if got["sha256"] != want.get("sha256"):
            raise CacheError(f"{fname} does not match its SHA-256 in the manifest (changed after it was written)")
    return info


def write_sidecar(path: Path, *, key: str) -> Path:
    """Manifest of one file: ``<path>.json`` with its size, SHA-256 and the key it was computed for."""
    path = Path(path)
    return atomic_json(path.with_name(path.name + ".json"), {"key": key, **digest(path)})


def verify_sidecar(path: Path, *, key: str) -> None:
    """Raise CacheError unless ``path`` matches its sidecar manifest and ``key``."""
    path = Path(path)
    side = path.with_name(path.name + ".json")
    try:
        info = json.loads(side.read_text())
    except (OSError, ValueError) as e:
        raise CacheError(f"{side.name} cannot be read ({type(e).__name__})") from None
    if not isinstance(info, dict) or info.get("key") != key:
        raise CacheError(f"{path.name} was computed for {info.get('key') if isinstance(info, dict) else None!r}, "
                         f"not {key!r}")
    got = digest(path)
    if got["size"] != info.get("size") or got["sha256"] != info.get("sha256"):
        raise CacheError(f"{path.name} does not match its size / SHA-256 in {side.name}")


def read_checkpoint(ckpt: Path, *, key: str | None, owner: str):
    """A checkpoint's contents if it was written by the run ``key`` (``weights_only`` load), else None.

    A checkpoint written by another run (another key), or one that cannot be read, is reported with a warning
    naming the file and the reason, removed, and training starts from scratch.
    """
    import warnings

    import torch

    ckpt = Path(ckpt)
    if not ckpt.exists():
        return None
    try:
        st = torch.load(ckpt, map_location="cpu", weights_only=True)
        if not isinstance(st, dict):
            raise CacheError("it holds no dict")
        if key is not None and st.get("key") != key:
            raise CacheError(f"it was written by run {st.get('key')!r}, not by this run ({key!r})")
    except Exception as e:  # noqa: BLE001 - reported, never resumed silently
        warnings.warn(f"checkpoint {str(ckpt)!r} of {owner} is not resumed ({type(e).__name__}: {e}); it is removed "
                      f"and training starts from scratch", stacklevel=3)
        ckpt.unlink(missing_ok=True)
        return None
    return st


def check_state_fits(module, state, *, what: str) -> None:
    """Raise CacheError unless ``state`` has exactly ``module``'s keys and shapes (so loading copies all or none)."""
    own = module.state_dict()
    if not isinstance(state, dict):
        raise CacheError(f"the {what} state is not a dict")
    extra, missing = sorted(set(state) - set(own)), sorted(set(own) - set(state))
    bad = [k for k in own if k in state and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)]
    if extra or missing or bad:
        raise CacheError(f"the {what} state does not fit this model (unexpected {extra[:3]}, missing {missing[:3]}, "
                         f"other shapes {bad[:3]})")


def resume(ckpt, *, key: str | None, owner: str, module, state_key: str, optimizer, generator, read):
    """Resume ``module``, ``optimizer`` and ``generator`` from checkpoint ``ckpt``, all or nothing.

    The one checkpoint-resume helper of supervised training and pretraining. ``read(st)`` parses the caller's
    own fields (history, best epoch, ...) and returns them. If the checkpoint is absent, belongs to another
    run, does not fit, or anything in it fails to load, the three objects are put back exactly as they were
    (with a warning naming the file and the reason) and None is returned.
    """
    import copy
    import warnings

    st = read_checkpoint(ckpt, key=key, owner=owner) if ckpt is not None else None
    if st is None:
        return None
    fresh = {k: v.detach().clone() for k, v in module.state_dict().items()}
    fresh_opt, fresh_gen = copy.deepcopy(optimizer.state_dict()), generator.get_state()
    try:
        check_state_fits(module, st[state_key], what=owner)
        module.load_state_dict(st[state_key])
        optimizer.load_state_dict(st["opt"])
        generator.set_state(st["gen"])
        return read(st)
    except Exception as e:  # noqa: BLE001 - reported; everything put back as built
        warnings.warn(f"checkpoint {str(ckpt)!r} of {owner} could not be resumed ({type(e).__name__}: {e}); "
                      f"training from scratch", stacklevel=3)
        module.load_state_dict(fresh)
        optimizer.load_state_dict(fresh_opt)
        generator.set_state(fresh_gen)
        return None
