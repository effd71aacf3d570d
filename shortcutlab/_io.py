"""Atomic writes: every file goes to a temporary name in the same folder and is renamed into place."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def atomic_json(path: str | Path, obj: Any) -> Path:
    from .report import to_jsonable

    return atomic_write_bytes(path, json.dumps(to_jsonable(obj), indent=1, sort_keys=True).encode())


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    torch.save(obj, tmp)
    tmp.replace(path)
    return path
