"""Writing files: every file goes to a temporary name in the same folder and is renamed into place, so a
reader never sees half a file; ``to_jsonable`` makes numpy / torch values JSON-friendly."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

def to_jsonable(value: Any) -> Any:
    """Convert numpy / torch scalars and arrays, tuples and NaN into JSON-friendly values."""
    try:
        import numpy as np
        import torch
        if torch.is_tensor(value):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray):
            return [to_jsonable(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_via_tmp(path: Path, write) -> Path:
    """``write(tmp)``, then rename onto ``path``. On any OS error (disk full, permissions) the temporary file
    is removed, ``path`` is left as it was, and the error names the file and what to do."""
    tmp = _tmp(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        tmp.replace(path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        from ._validation import ShortcutlabError
        raise ShortcutlabError(f"Writing {str(path)!r} failed ({type(e).__name__}: {e.strerror or e}); nothing was "
                               f"left half-written. Free disk space or fix the folder's permissions, then run again "
                               f"(finished work is kept).") from e
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return _write_via_tmp(Path(path), lambda tmp: tmp.write_bytes(data))


def atomic_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_bytes(path, json.dumps(to_jsonable(obj), indent=1, sort_keys=True).encode())


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    import torch

    return _write_via_tmp(Path(path), lambda tmp: torch.save(obj, tmp))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path: str | Path, arrays: dict, *, compressed: bool = False) -> Path:
    """``numpy.savez`` (or ``savez_compressed``) of ``arrays`` to exactly ``path``, atomically."""
    import numpy as np

    save = np.savez_compressed if compressed else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            save(fh, **arrays)

    return _write_via_tmp(Path(path), write)


def atomic_savefig(fig, path: str | Path, **kw) -> Path:
    """A matplotlib figure as PNG at ``path``, atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fig.savefig(fh, format="png", **kw)

    return _write_via_tmp(Path(path), write)
