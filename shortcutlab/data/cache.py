"""The data cache: a generated or converted ImageSet is kept as ``.npz`` and trusted only after verification.

A set is keyed by the loader's parameters and (for real files) their names, sizes and modification times. It is
written atomically with a sidecar manifest (size, SHA-256, key) and verified before use; a set that fails is
rebuilt with a warning that names the file.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Callable, Sequence

from .._manifest import verify_sidecar, write_sidecar
from .._paths import RUNS_DIR
from .imageset import ImageSet

__all__ = ["cached_imageset"]


def cached_imageset(key: dict, build: Callable[[], ImageSet], cache_dir: str | Path | None,
                    files: Sequence[Path] = ()) -> ImageSet:
    """Return the cached set for ``key`` (+ the files' sizes and mtimes) or build, save and return it."""
    if cache_dir is False:
        return build()
    cache_dir = Path(cache_dir) if cache_dir else RUNS_DIR / "data"
    stamp = [(str(f), f.stat().st_size, int(f.stat().st_mtime)) for f in sorted(files)]
    digest = hashlib.sha256(json.dumps([key, stamp], sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir / f"{key.get('loader', 'set')}-{digest}.npz"
    if path.exists():
        try:
            verify_sidecar(path, key=digest)
            return ImageSet.load(path)
        except Exception as e:  # noqa: BLE001 - a cache file is never trusted unverified
            warnings.warn(f"cached data set {str(path)!r} is unusable ({type(e).__name__}: {e}); converting the "
                          f"files again", stacklevel=2)
    s = build()
    s.save(path)
    write_sidecar(path, key=digest)
    return s
