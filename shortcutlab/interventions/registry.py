"""The condition registry: one record per training condition, queried by code, params, notebooks and reports.

In the spirit of timm's model registry (``create_model`` / ``list_models``): a :class:`Condition` says what an
intervention needs and when it runs, and holds the function that applies it. :func:`shortcutlab.interventions.background.intervene`
dispatches through the registry, :class:`~shortcutlab.interventions.pipeline.BatchPipeline` reads its flags, and the papers'
condition lists are registry queries (:func:`list_conditions`).

A user can add an intervention in a notebook and the study trains it::

    import shortcutlab as sl, torch
    from shortcutlab.interventions.background import select
    def stripes(images, masks, ctx):              # background replaced by stripes where ctx.apply is True
        bg = torch.zeros_like(images); bg[..., ::4, :] = 1
        sel = (~masks) & ctx.apply.view(-1, 1, 1, 1)
        return select(sel, bg, images), None, {}
    sl.register_condition(sl.Condition("stripes", paper="user", needs_mask=True, augments=True, stage="post",
                                       apply=stripes, doc="background replaced by horizontal stripes"))
    study.run("cm", "stripes")

The cache keys a run by the condition's *name*: give a changed function a new name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

from .._validation import ShortcutlabError, check_choice, closest, param_error

__all__ = ["Condition", "register_condition", "unregister_condition", "get_condition", "list_conditions",
           "condition_names"]

STAGES = ("pre", "post", None)
MIXES = ("batch", "pool", None)


@dataclass(frozen=True)
class Condition:
    """One training condition.

    Parameters
    ----------
    name : str
        The vocabulary of code, presets, notebooks and reports (``full``, ``seg``, ``backmix``, ...).
    paper : str
        ``"mri"`` (Nakashima et al.), ``"backmix"`` (Bransby et al.), ``"both"`` or ``"user"``.
    needs_mask : bool
        Reads the object mask (the sample's own, or a donor's).
    test_time : bool
        Defines the input itself, so it applies at evaluation too (``seg``, ``bg``); ``at_test`` does it.
    augments : bool
        A training-time augmentation of the selected samples: with ``needs_mask``, only the masked fraction
        ``f`` is augmented (BackMix §2.2) and wBackMix weights apply; the batch reports which were augmented.
    stage : {"pre", "post", None}
        Relative to the geometric transforms: ``pre`` mixes content before them (``rand``, as the MRI seed
        code), ``post`` pins pixels after them (the BackMix family), None does nothing to the pixels.
    mixes : {"batch", "pool", None}
        Draws other samples: from the batch (``rand``, ``cutmix``: a trailing batch of one joins the previous
        batch) or from the masked pool of the whole set (``backmix``).
    swaps_background : bool
        A donor's background replaces the sample's (``rand``, ``backmix``): with ``blank_donor`` the pipeline
        keeps a resident copy of the set with every object blanked, so batches only gather.
    blank_donor : bool
        With ``swaps_background``: the donor's own object is blanked before its background is used (BackMix
        §2.1); False keeps the donor's pixels everywhere outside the sample's mask (the MRI code's ``swapBG``).
    donor_per_frame : bool
        With ``swaps_background``: each frame draws a donor of its own (the MRI code: ED and ES apart).
    exact_u8 : bool
        Only selects pixels, so it is exact on the stored uint8 images (a quarter of the memory traffic).
    apply : callable
        ``apply(images, masks, ctx) -> (images, soft_labels or None, info)``; ``ctx`` holds ``generator``,
        ``apply`` (bool [B], the samples to touch), ``labels``, ``num_classes``, ``donor_images``,
        ``donor_masks``, ``self_index``, ``pool``, ``fill``, ``sigma``, ``alpha``.
    at_test : callable, optional
        ``at_test(images, masks, fill) -> images``: the evaluation input of a ``test_time`` condition.
    doc : str
        One line: what the model sees.
    """

    name: str
    paper: str = "user"
    needs_mask: bool = False
    test_time: bool = False
    augments: bool = False
    stage: str | None = None
    mixes: str | None = None
    swaps_background: bool = False
    blank_donor: bool = True
    donor_per_frame: bool = False
    exact_u8: bool = False
    apply: Callable | None = field(default=None, compare=False, repr=False)
    at_test: Callable | None = field(default=None, compare=False, repr=False)
    doc: str = ""

    def __post_init__(self):
        where = "Condition"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ShortcutlabError(f"The 'name' parameter of {where} must be a Python identifier such as 'stripes' "
                                   f"(it names cache folders and table rows). Got {self.name!r} instead.")
        check_choice(self.paper, ("mri", "backmix", "both", "user"), name="paper", where=where)
        for name, value, allowed in (("stage", self.stage, STAGES), ("mixes", self.mixes, MIXES)):
            if value not in allowed:
                raise param_error(name, where, f"one of {', '.join(map(repr, allowed))}", value)
        if self.stage is not None and not callable(self.apply):
            raise ShortcutlabError(f"The 'apply' parameter of {where} {self.name!r} must be a function "
                                   f"(images, masks, ctx) -> (images, soft labels, info) when stage is "
                                   f"{self.stage!r}. Got {self.apply!r} instead.")
        if self.test_time and not callable(self.at_test):
            raise ShortcutlabError(f"The 'at_test' parameter of {where} {self.name!r} must be a function "
                                   f"(images, masks, fill) -> images for a test-time condition. Got {self.at_test!r} "
                                   f"instead.")


_REGISTRY: dict[str, Condition] = {}
_BUILTIN: set[str] = set()


def register_condition(cond: Condition, *, replace: bool = False) -> Condition:
    """Add ``cond`` to the registry (``replace=True`` to redefine a user condition); returns it."""
    if not isinstance(cond, Condition):
        raise ShortcutlabError(f"The 'cond' parameter of register_condition must be a Condition. Got {cond!r} "
                               f"instead.")
    if cond.name in _REGISTRY and (cond.name in _BUILTIN or not replace):
        raise ShortcutlabError(f"The condition {cond.name!r} is already registered"
                               f"{' (a built-in condition cannot be replaced)' if cond.name in _BUILTIN else ''}; "
                               f"choose another name{'' if cond.name in _BUILTIN else ' or pass replace=True'}.")
    _REGISTRY[cond.name] = cond
    return cond


def unregister_condition(name: str) -> None:
    """Remove a user condition."""
    if name in _BUILTIN:
        raise ShortcutlabError(f"The built-in condition {name!r} cannot be unregistered.")
    get_condition(name)
    del _REGISTRY[name]


def get_condition(name: str, *, where: str = "get_condition") -> Condition:
    """The registered condition ``name``, or an error naming the valid ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        near = closest(str(name), _REGISTRY)
        hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
        raise ShortcutlabError(f"The 'condition' parameter of {where} must be one of "
                               f"{', '.join(map(repr, _REGISTRY))}. Got {name!r} instead.{hint}") from None


def list_conditions(*, paper: str | None = None, **flags) -> list[Condition]:
    """Registered conditions in registration order, filtered by ``paper`` (``"both"`` counts for each paper)
    and by flag values, e.g. ``list_conditions(needs_mask=True)``."""
    out = []
    for c in _REGISTRY.values():
        if paper is not None and c.paper not in (paper, "both"):
            continue
        if all(getattr(c, k) == v for k, v in flags.items()):
            out.append(c)
    return out


def condition_names(**query) -> tuple[str, ...]:
    """Names of :func:`list_conditions` (same filters)."""
    return tuple(c.name for c in list_conditions(**query))


def context(**kw) -> SimpleNamespace:
    """The ``ctx`` an ``apply`` function receives."""
    return SimpleNamespace(**kw)


def _builtin(c: Condition) -> None:
    register_condition(c)
    _BUILTIN.add(c.name)
