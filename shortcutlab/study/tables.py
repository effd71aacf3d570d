"""Shared by the papers' tables: a value with its CI in one cell, and values over seeds."""
from __future__ import annotations

from typing import Sequence

__all__ = ["format_ci", "over_seeds"]


def over_seeds(values: Sequence[float], single: tuple[float, float], ci: float = 0.95
               ) -> tuple[float, float, float, str]:
    """``(mean, lo, hi, how)`` of one quantity over seeds: the mean and its t-interval
    (:func:`~shortcutlab.metrics.mean_ci_across`); with one seed, that seed's value and its own CI ``single`` (the
    bootstrap over the test images)."""
    from ..metrics import mean_ci_across

    if len(values) == 1:
        return float(values[0]), float(single[0]), float(single[1]), "bootstrap over test images (1 seed)"
    m = mean_ci_across(values, ci)
    return m["mean"], m["lo"], m["hi"], f"t over {len(values)} seeds"


def format_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    """``0.812 [0.774, 0.851]``; ``–`` for a missing value; the value alone when there is no CI."""
    if mean != mean:
        return "–"
    if lo != lo:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
