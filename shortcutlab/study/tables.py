"""Formatting shared by the papers' tables: a value with its CI in one cell."""
from __future__ import annotations

__all__ = ["format_ci"]


def format_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """``0.812 [0.774, 0.851]``; ``–`` for a missing value; the value alone when there is no CI."""
    if mean != mean:
        return "–"
    if lo != lo:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
