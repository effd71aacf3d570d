"""What a data set cannot give, said instead of shown.

On real data some parts of the study need a phantom (the cue-decorrelated test set, the dial, the calibration).
A function that would return such a figure returns :class:`Absent`; one that would return such a table returns
:func:`absent_table`. The report then writes the reason where the figure or table would be (and records it in
``results.json`` under ``absent``), so a reader learns why it is missing: never a crash, an empty figure or a
KeyError.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Absent", "absent_table", "absent_reason", "NA_PHANTOM"]

NA_PHANTOM = "n/a (needs a phantom)"  # a claim's verdict when its data exists only for a phantom


class Absent:
    """A figure this data cannot give, and why (``reason``: one sentence)."""

    def __init__(self, reason: str):
        self.reason = str(reason)

    def __repr__(self) -> str:
        return f"Absent({self.reason!r})"

    def _repr_markdown_(self) -> str:  # what a notebook shows in its place
        return f"*Not shown: {self.reason}.*"


def absent_table(reason: str, columns=()) -> Any:
    """An empty DataFrame (with ``columns``) that carries ``reason`` in ``attrs['absent']``."""
    import pandas as pd

    df = pd.DataFrame(columns=list(columns))
    df.attrs["absent"] = str(reason)
    return df


def absent_reason(obj: Any) -> str | None:
    """The reason ``obj`` is absent (an :class:`Absent` or a table from :func:`absent_table`), else None."""
    if isinstance(obj, Absent):
        return obj.reason
    attrs = getattr(obj, "attrs", None)
    if isinstance(attrs, dict) and attrs.get("absent"):
        return str(attrs["absent"])
    return None
