"""One message form for bad input, across the package.

Every check raises :class:`ShortcutlabError` (a ``ValueError``) or one of its
subclasses with a message of the form::

    The 'strength' parameter of make_cmr must be a float in [0, 1]. Got 1.5 instead.

The helpers below build that sentence so no module invents its own wording.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

__all__ = [
    "ShortcutlabError",
    "DataError",
    "CacheError",
    "param_error",
    "check_choice",
    "check_number",
    "check_int",
    "check_bool",
    "closest",
]


class ShortcutlabError(ValueError):
    """Bad input to a shortcutlab function: names the parameter, the bad value and what is allowed."""


class DataError(ShortcutlabError):
    """A data file or field is missing, malformed or inconsistent."""


class CacheError(ShortcutlabError):
    """A study cache entry is corrupt or was written by an incompatible version."""


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def param_error(name: str, where: str, allowed: str, value: Any, *, kind: str = "parameter",
                hint: str = "", cls: type[ShortcutlabError] = ShortcutlabError) -> ShortcutlabError:
    """Build the standard error: ``The 'name' <kind> of <where> must be <allowed>. Got <value> instead.``"""
    msg = f"The {name!r} {kind} of {where} must be {allowed}. Got {_show(value)} instead."
    if hint:
        msg += " " + hint
    return cls(msg)


def closest(word: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Closest valid names to ``word`` (difflib), for 'did you mean' hints."""
    return difflib.get_close_matches(str(word), list(options), n=n, cutoff=0.5)


def check_choice(value: Any, options: Sequence[str], *, name: str, where: str) -> str:
    """Return ``value`` if it is one of ``options``; else raise listing the valid ones."""
    if value not in options:
        hint = ""
        near = closest(value, options) if isinstance(value, str) else []
        if near:
            hint = f"Did you mean {', '.join(map(repr, near))}?"
        raise param_error(name, where, "one of " + ", ".join(map(repr, options)), value, hint=hint)
    return value


def _range_text(lo, hi, lo_open, hi_open) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo}"
    if lo is None:
        return f" {'<' if hi_open else '<='} {hi}"
    return f" in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def check_number(value: Any, *, name: str, where: str, lo=None, hi=None, lo_open: bool = False,
                 hi_open: bool = False) -> float:
    """Return ``value`` as float if it is a real number within the bounds, else raise."""
    allowed = "a float" + _range_text(lo, hi, lo_open, hi_open)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            import numpy as np
            if isinstance(value, np.floating | np.integer):
                value = float(value)
            else:
                raise TypeError
        except TypeError:
            raise param_error(name, where, allowed, value) from None
    v = float(value)
    if v != v or (lo is not None and (v < lo or (lo_open and v == lo))) or (
            hi is not None and (v > hi or (hi_open and v == hi))):
        raise param_error(name, where, allowed, value)
    return v


def check_int(value: Any, *, name: str, where: str, lo=None, hi=None) -> int:
    """Return ``value`` if it is an int within [lo, hi], else raise."""
    allowed = "an int" + _range_text(lo, hi, False, False)
    try:
        import numpy as np
        if isinstance(value, np.integer):
            value = int(value)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_error(name, where, allowed, value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise param_error(name, where, allowed, value)
    return value


def check_bool(value: Any, *, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise param_error(name, where, "a bool (true or false)", value)
    return value
