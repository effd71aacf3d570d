"""The audit's tests, one record each: what it asks, what it needs, how it computes its per-image values, and how
it reads its verdict. :func:`~shortcutlab.auditing.audit` computes the ingredients once (the counterfactual
predictions, the CAMs, the sanity maps) and loops over :data:`AUDIT_TESTS`; the report takes each test's help
text from here. A new test is one more record in this file.

Every test's values are per image; their mean is the effect, its bootstrap interval the CI, and the verdict comes
from the project's verdict function (:func:`~shortcutlab.metrics.verdict`): ``holds`` when the 95 % interval lies
above zero, ``contradicted`` below it, ``equivalent`` inside ± the margin (for the tests that read one), else
``inconclusive``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["AuditTest", "AUDIT_TESTS", "TEST_NAMES", "Context"]


@dataclass
class Context:
    """What the tests read: labels ``y``, each counterfactual's probabilities and predictions, the donors, and
    (when the maps were computed) the per-image normalized AKS and the sanity correlations."""

    y: np.ndarray
    probs: dict
    donors: dict
    maps: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def pred(self) -> dict:
        return {v: p.argmax(1) for v, p in self.probs.items()}

    def right(self, variant: str) -> np.ndarray:
        return (self.probs[variant].argmax(1) == self.y).astype(float)


@dataclass(frozen=True)
class AuditTest:
    """One test of the audit.

    name, question : its key and its claim in one line (what it measured against what)
    needs : the counterfactuals it reads (among the battery's variants) or ``"cams"`` / ``"sanity"``
    help : the report's explanation of how it is computed and what *holds* means
    values : ``Context -> (per-image values, extra numbers for the wording)``
    lead : ``(row, extra, settings) -> str``, the measured sentence (effect and CI in the test's unit)
    phrases : the verdict's reading, per verdict; an undecided verdict reads "not decided at this many images"
    equivalence : whether an undecided direction is read for equivalence within ± the margin
    """

    name: str
    question: str
    needs: tuple[str, ...]
    help: str
    values: Callable[[Context], tuple[np.ndarray, dict]]
    lead: Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], str]
    phrases: Mapping[str, str]
    equivalence: bool = True

    def reading(self, row: Mapping[str, Any], extra: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
        return f"{self.lead(row, extra, settings)}: {self.phrases.get(row['verdict'], 'not decided at this many images')}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %" if v == v else "n/a"


def _ci(r: Mapping[str, Any]) -> str:
    return f"[{_pct(r['lo'])}, {_pct(r['hi'])}]" if r["lo"] == r["lo"] else "[no CI]"


def _follows(c: Context):
    dc = c.y[c.donors["mixed_next"]]
    pred = c.pred
    now, before = (pred["mixed_next"] == dc).astype(float), (pred["original"] == dc).astype(float)
    return now - before, {"donor_rate": float(now.mean()), "base_rate": float(before.mean())}


def _background_alone(c: Context):
    majority = float(np.bincount(c.y).max() / c.y.size)
    right = c.right("no_fg")
    return right - majority, {"no_fg_accuracy": float(right.mean())}


def _sanity_lead(what: str, key: str, threshold: str):
    def lead(r, extra, s):
        const = extra.get(f"{key}_constant_base", 0) + extra.get(f"{key}_constant_other", 0)
        note = ""
        if const:
            note = (f"; of {r['n']} images, {extra.get(f'{key}_constant_base', 0)} had a constant original map (no "
                    f"information: counted as unchanged, a map that says nothing cannot pass) and "
                    f"{extra.get(f'{key}_constant_other', 0)} a constant {what} map (no information: counted as "
                    f"ρ = 0, no ranking shared)")
        return (f"mean rank correlation ρ of the {what} maps with the original maps {extra[key]:.2f}; the test: ρ "
                f"below {s[threshold]:g} (the effect is {s[threshold]:g} − ρ){note}")
    return lead


def _sanity_values(key: str, threshold: str):
    def values(c: Context):
        rho = c.maps[key]
        extra = {key: float(rho.mean()), f"{key}_constant_base": int(c.maps[f"{key}_constant_base"]),
                 f"{key}_constant_other": int(c.maps[f"{key}_constant_other"])}
        return c.settings[threshold] - rho, extra
    return values


AUDIT_TESTS: tuple[AuditTest, ...] = (
    AuditTest(
        name="follows_donor",
        question="predictions follow the donor background (mixed-next) more often than the originals said the "
                 "donor's class",
        needs=("mixed_next",),
        help="Each object is put on the background of an image of the next class. Holds: the prediction moves to "
             "the donor's class more often than the original already said it, so the model reads the background.",
        values=_follows,
        lead=lambda r, e, s: (f"predictions follow the donor background in {_pct(e['donor_rate'])} of swaps "
                              f"({_pct(e['base_rate'])} of the originals already said that class; difference "
                              f"{_pct(r['effect'])} {_ci(r)})"),
        phrases={"holds": "the model reads the background", "equivalent": "the background does not move it",
                 "contradicted": "the background does not move it"}),
    AuditTest(
        name="bg_gap",
        question="BG-gap: accuracy on same-class minus random backgrounds",
        needs=("mixed_same", "mixed_rand"),
        help="Accuracy on a background of the same class minus a random background. Holds: a background of the "
             "right class helps, so the background carries the class for this model.",
        values=lambda c: (c.right("mixed_same") - c.right("mixed_rand"), {}),
        lead=lambda r, e, s: (f"accuracy on same-class backgrounds minus random backgrounds is {_pct(r['effect'])} "
                              f"{_ci(r)}"),
        phrases={"holds": "the background carries the class for this model", "equivalent": "no gap",
                 "contradicted": "random backgrounds help (unusual)"}),
    AuditTest(
        name="background_alone",
        question="the background alone classifies (no-FG accuracy above the majority class's share)",
        needs=("no_fg",),
        help="The object blanked. Holds: the background alone classifies above the majority class's share.",
        values=_background_alone,
        lead=lambda r, e, s: (f"with the object blanked it is right {_pct(e['no_fg_accuracy'])} of the time, "
                              f"{_pct(r['effect'])} {_ci(r)} above the majority class's share"),
        phrases={"holds": "the background alone is enough", "equivalent": "the background alone is not enough",
                 "contradicted": "the background alone is not enough"}),
    AuditTest(
        name="on_object",
        question="more of the CAM's mass on the object than a uniform map puts there (normalized AKS above 0)",
        needs=("cams",),
        help="The CAM's AKS (share of the map's mass on the object), normalized: 0 is a uniform map, 1 the best "
             "the CAM layer can draw. Holds: more of the map's mass is on the object than a uniform map puts there "
             "(it does not say the map is on the object: a model that reads the background can hold it too).",
        values=lambda c: (c.maps["norm_aks"], {}),
        lead=lambda r, e, s: (f"normalized AKS {r['effect']:.2f} [{r['lo']:.2f}, {r['hi']:.2f}] (0: a uniform map, "
                              f"1: the best this CAM layer can draw)"),
        phrases={"holds": "more of the map is on the object than a uniform map would put there (not: all of it)",
                 "contradicted": "less of the map is on the object than a uniform map would put there"},
        equivalence=False),
    AuditTest(
        name="sanity_weights",
        question="maps change when the weights are randomized (cascading randomization: ρ below the threshold)",
        needs=("sanity",),
        help="The model's blocks re-drawn at random from the top down (cascading randomization, each parameter "
             "from a normal at its own mean and scale). Holds: the maps' rank correlation ρ with the originals "
             "falls below the threshold, so they explain this model. A constant map carries no information: an "
             "original that is constant cannot pass, a randomized one that is constant shares no ranking (ρ = 0).",
        values=_sanity_values("rho_weights", "sanity_threshold"),
        lead=_sanity_lead("randomized-model", "rho_weights", "sanity_threshold"),
        phrases={"holds": "the maps depend on the model",
                 "contradicted": "the maps barely depend on the model, or carry no information: do not trust them"},
        equivalence=False),
    AuditTest(
        name="sanity_target",
        question="maps change with the target class (shuffled targets: ρ below the threshold)",
        needs=("sanity",),
        help="Maps for a shuffled target class. Holds: their rank correlation ρ with the predicted class's maps "
             "falls below the threshold. A constant map carries no information: a constant original cannot pass, "
             "a constant map for the other class shares no ranking with it (ρ = 0).",
        values=_sanity_values("rho_target", "target_threshold"),
        lead=_sanity_lead("shuffled-target", "rho_target", "target_threshold"),
        phrases={"holds": "the maps depend on the class",
                 "contradicted": "the maps are the same whatever the class, or carry no information: do not trust "
                                 "them"},
        equivalence=False),
)
TEST_NAMES = tuple(t.name for t in AUDIT_TESTS)
