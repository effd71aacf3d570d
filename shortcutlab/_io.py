"""Atomic writes: every file goes to a temporary name in the same folder and is renamed into place."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


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
    from .report import to_jsonable

    return atomic_write_bytes(path, json.dumps(to_jsonable(obj), indent=1, sort_keys=True).encode())


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    import torch

    return _write_via_tmp(Path(path), lambda tmp: torch.save(obj, tmp))
