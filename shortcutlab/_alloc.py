"""Keep large CPU tensors' memory in the process instead of handing it back to the kernel after every batch.

PyTorch allocates CPU tensors with the C library's ``malloc``. With glibc's defaults, memory freed at the top of
the heap is returned to the kernel as soon as more than a few MiB are free, and blocks above the (adaptive) mmap
threshold are mapped and unmapped one by one. A loop that makes and frees a few-MiB tensors per batch (phantom
generation, the batch pipeline, a training step) therefore takes a page fault for every 4 KiB page it touches,
every batch: measured here, ~45,000 minor faults per 256 generated 128 px MRI pairs, about a third of the
generator's time spent in the kernel, and half of the batch pipeline's.

:func:`tune_allocator` sets two glibc parameters once per process (``mallopt``; the same as the
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TOP_PAD_`` environment variables): blocks up to 32 MiB come from the heap,
and 64 MiB stay mapped at its top when it shrinks. The cost is at most 64 MiB of memory the process keeps after
a peak. ``import shortcutlab`` does not call it: the ``shortcutlab`` command, the notebooks' setup call
(:func:`shortcutlab.setup`) and the test suite do, and a script can call it first thing. Set
``SHORTCUTLAB_MALLOC=default`` to keep glibc's defaults (``tuned``, the default, or ``default``; any other value
warns and keeps glibc's defaults). Elsewhere (macOS, Windows, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["tune_allocator", "allocator_state", "MMAP_THRESHOLD", "TOP_PAD", "ENV_VAR"]

MMAP_THRESHOLD = 32 << 20  # glibc's largest adaptive threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TOP_PAD = 64 << 20
ENV_VAR = "SHORTCUTLAB_MALLOC"
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3  # from <malloc.h>

_state: dict = {"allocator": "not tuned (tune_allocator() not called)"}


def allocator_state() -> dict:
    """What :func:`tune_allocator` did in this process (reported by ``shortcutlab bench``)."""
    return dict(_state)


def _opted_out(why: str) -> dict:
    if _state.get("tuned"):  # mallopt cannot be undone: say what this process really runs with
        return dict(_state, note=f"{why} asked for glibc's defaults, but this process was tuned earlier; "
                                 "the setting applies to new processes")
    return {"allocator": f"glibc defaults ({why})"}


def tune_allocator() -> bool:
    """Set glibc's mmap threshold to 32 MiB and its top pad to 64 MiB for this process.

    Returns True when the settings took effect, False when opted out (``SHORTCUTLAB_MALLOC=default``, or a value
    other than ``tuned`` / ``default``, which also warns) or when the C library is not glibc. Idempotent.
    """
    global _state
    raw = os.environ.get(ENV_VAR, "tuned")
    choice = raw.strip().lower()
    if choice not in ("tuned", "default"):
        import warnings

        warnings.warn(f"The {ENV_VAR} environment variable must be 'tuned' or 'default'. Got {raw!r} instead; "
                      "keeping glibc's defaults.", stacklevel=2)
        _state = _opted_out(f"{ENV_VAR}={raw!r} is not 'tuned' or 'default'")
        return False
    if choice == "default":
        _state = _opted_out(f"{ENV_VAR}=default")
        return False
    if not sys.platform.startswith("linux"):
        _state = {"allocator": f"system default ({sys.platform}: nothing to tune)"}
        return False
    try:
        libc = ctypes.CDLL(None)
        version = libc.gnu_get_libc_version  # glibc only (musl has no such symbol)
        version.restype = ctypes.c_char_p
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        _state = {"allocator": "system default (not glibc: nothing to tune)"}
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TOP_PAD, TOP_PAD))
    _state = {"allocator": (f"glibc {version().decode()}: mmap threshold {MMAP_THRESHOLD >> 20} MiB, "
                            f"top pad {TOP_PAD >> 20} MiB" if ok else "glibc: mallopt refused, defaults kept"),
              "tuned": ok}
    return ok
