"""Moving small CPU tensors to the training device without waiting for it.

The pipeline draws its random numbers on the CPU (one seeded generator: the same batches on any device) and
moves them to the device every batch. From ordinary (pageable) memory, CUDA synchronizes the stream before such
a copy, so every batch would wait for the GPU to finish the previous step. From pinned memory the copy is queued
behind the running step instead (``non_blocking``), and the pipeline's work overlaps the model's.
"""
from __future__ import annotations

import torch

__all__ = ["to_device"]


def to_device(t: torch.Tensor, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``t.to(device, dtype)``; a CPU tensor bound for a GPU goes through pinned memory without blocking.
    (The pinned block comes from torch's caching host allocator, which keeps it until the copy has run.)"""
    device = torch.device(device)
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
