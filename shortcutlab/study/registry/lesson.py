"""The lesson's claims (``notebooks/lesson.ipynb``): a family of their own, never counted with a paper's.

The cure is the preset's ``lesson.cure``, chosen on the lesson's pilot before its run (``params/lesson.yaml``). L3
is an intersection-union row: it holds only when both of its parts (L3a, L3b) hold, each one-sided at 0.025, and
it is counted once. L2 is a control: Seg never sees the marker, so its verdict checks the instrument."""
from __future__ import annotations

from . import Claim, register_claim

for _c in (
    Claim("L1", "lesson", "primary", "Full reads the cue: its accuracy falls from cue-agreeing to cue-conflicting "
                                     "patients (points)", "A model trained on the whole image reads the marker.",
          "lesson (Waterbirds' cue-conflict group)", "the shortcut's signature", None, unit="points"),
    Claim("L2", "lesson", "control", "Seg does not: its accuracy is the same on both (points)",
          "A model that sees only the heart cannot read the marker.", "lesson", "equal by construction (a control)",
          None, "equivalent", unit="points"),
    Claim("L3", "lesson", "primary", "The cure beats Full where the marker lies: its accuracy on the cue-conflicting "
                                     "patients above Full's and its fall below Full's (both parts, each at 0.025; the "
                                     "effect shown is the weaker part's, points)",
          "The cure is right more often than Full where the marker lies, and falls less.",
          "lesson (the cure chosen on the pilot, params/lesson.yaml)", "the cure", None, unit="points"),
    Claim("L3a", "lesson", "secondary", "The cure's accuracy on the cue-conflicting patients minus Full's (points)",
          "The cure is right more often than Full where the marker lies.", "lesson", "part of L3", None,
          unit="points"),
    Claim("L3b", "lesson", "secondary", "Full's fall minus the cure's (cue agreeing - cue conflicting, points)",
          "The cure falls less than Full where the marker lies.", "lesson", "part of L3", None, unit="points"),
    Claim("L4", "lesson", "secondary", "The cure's maps where the marker lies: its AKS above Full's (the same "
                                       "cue-conflicting images, paired per image)",
          "Where the cure looks: more of its map on the heart.", "lesson", "the cure, seen", None, unit="overlap"),
):
    register_claim(_c)
