"""The lesson's claims (``notebooks/lesson.ipynb``): a family of their own, never counted with a paper's."""
from __future__ import annotations

from . import Claim, register_claim

for _c in (
    Claim("L1", "lesson", "primary", "Full reads the cue: its accuracy falls from cue-agreeing to cue-conflicting "
                                     "patients (points)", "A model trained on the whole image reads the marker.",
          "lesson (Waterbirds' cue-conflict group)", "the shortcut's signature", None, unit="points"),
    Claim("L2", "lesson", "primary", "Seg does not: its accuracy is the same on both (points)",
          "A model that sees only the heart cannot read the marker.", "lesson", "equal by construction", None,
          "equivalent", unit="points"),
    Claim("L3", "lesson", "primary", "Rand recovers most of the gap: its fall is less than half of Full's (Full's "
                                     "fall / 2 - Rand's fall, points)", "Swapping the background is the cure.",
          "lesson (MRI 'Rand': swapBG)", "the cure", None, unit="points"),
    Claim("L4", "lesson", "primary", "The maps move onto the heart: Rand's AKS above Full's (paired per image)",
          "The cure's maps move onto the heart.", "lesson", "the cure, seen", None, unit="overlap"),
):
    register_claim(_c)
