"""The claims registry: every claim the study tests, in the form its paper states it, registered before a run.

A claim (:class:`Claim`) quotes the sentence of its paper it tests, stores the paper's own effect, and fixes
how a run reads it: the effect measured (``reading``), the test (a direction, non-inferiority, non-superiority or
equivalence), the unit and the smallest effect of interest Δ with the one sentence that argues it, whether it is a
*primary* row (one per finding sentence; the paper's family, Holm-adjusted), a *secondary* one (per method, or
a named departure) or a *control* (a statement true by construction that checks the instrument, never counted as a
finding), and any departure from the paper (another test set, another reading) in its own field.

The registry lives here, beside the claims, never in a preset: one module per paper (:mod:`.mri`,
:mod:`.backmix`) and the lesson's (:mod:`.lesson`). :data:`VERSION` counts its revisions and
:func:`registry_hash` fingerprints it; a run's ``summary.json`` records both and each claims row its claim's
:func:`claim_hash`, so ``shortcutlab results`` marks a row whose form, Δ, unit or role changed after a stored
run reported it. :data:`~.changes.CHANGES` is the changelog: every change of a registered claim after results
were seen, with why and the verdict the claim had before. :data:`FINDINGS` maps every finding sentence of both
papers to the claims that test it, or says why none does.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import pandas as pd

from ..._validation import ShortcutlabError, check_choice
from ...metrics import TESTS  # the tests the one verdict function reads

__all__ = ["Claim", "Finding", "Change", "CLAIMS", "FINDINGS", "CHANGES", "VERSION", "FAMILIES", "UNITS", "DELTAS",
           "register_claim", "get_claim", "claim_hash", "registry_hash", "findings_table", "changes_table",
           "registry_table", "registry_markdown"]

VERSION = 3
FAMILIES = ("mri", "backmix", "lesson")
ROLES = ("primary", "secondary", "control")
UNITS = ("auc", "points", "overlap", "r")
# the smallest effect of interest of each unit, and the sentence that argues it (never a metric's SD)
DELTAS: dict[str, tuple[float, str]] = {
    "auc": (0.02, "0.02 AUC: the smallest gap between two classifiers a reader would act on; the MRI paper's own "
                  "arms differ by 0.03 to 0.13"),
    "points": (2.0, "2 percent points: about the step between neighbouring rows of BackMix Table 2 (f = 0.5 down to "
                    "0.01 spans 1.4 points), the size below which the paper itself calls results comparable"),
    "overlap": (0.02, "0.02 AKS: a fifth of Full's AKS in MRI Table 1 (0.115); a smaller shift of the map's mass onto "
                      "the heart is not visible in a saliency map"),
    "r": (0.1, "0.1 of Pearson r: the conventional smallest correlation of note"),
}


@dataclass(frozen=True)
class Claim:
    """One statement of a paper (or of the lesson), as the study reads it.

    ``id`` is short and stable (``"9c"``); ``family`` the paper (``mri``, ``backmix``) or ``lesson``; ``role``
    ``primary`` (one per finding sentence), ``secondary`` or ``control`` (true by construction: it checks the
    instrument and is never counted); ``reading`` what is measured (the row's claim);
    ``finding`` the sentence as the paper prints it; ``source`` where (section, table); ``paper`` its numbers as
    printed; ``paper_effect`` its effect in the claim's unit and sign (None: the paper prints none of this form);
    ``test`` one of greater, less, noninferior, nonsuperior, equivalent; ``unit`` one of auc, points, overlap, r;
    ``delta`` Δ (default: the unit's, :data:`DELTAS`) and ``delta_why`` its argument; ``departure`` how the reading
    departs from the paper's (empty: none); ``not_expected`` why the phantom cannot show it, a property of its
    construction, shown as a note beside the verdict, never instead of it."""

    id: str
    family: str
    role: str
    reading: str
    finding: str
    source: str
    paper: str
    paper_effect: float | None
    test: str = "greater"
    unit: str = "auc"
    delta: float | None = None
    delta_why: str = ""
    departure: str = ""
    not_expected: str = ""

    def __post_init__(self):
        where = f"Claim {self.id!r}"
        check_choice(self.family, FAMILIES, name="family", where=where)
        check_choice(self.role, ROLES, name="role", where=where)
        check_choice(self.test, TESTS, name="test", where=where)
        check_choice(self.unit, UNITS, name="unit", where=where)
        if self.delta is None:
            object.__setattr__(self, "delta", DELTAS[self.unit][0])
            object.__setattr__(self, "delta_why", self.delta_why or DELTAS[self.unit][1])
        if not (isinstance(self.delta, (int, float)) and self.delta > 0):
            raise ShortcutlabError(f"The 'delta' parameter of {where} must be a number > 0 (the smallest effect of "
                                   f"interest). Got {self.delta!r} instead.")
        if not self.finding or not self.reading:
            raise ShortcutlabError(f"The 'finding' and 'reading' parameters of {where} must be non-empty: a claim "
                                   f"quotes the sentence it tests and says what it measures.")

    @property
    def form(self) -> dict:
        """What a verdict depends on: the test, Δ, unit, role and reading (a change of any is a new form)."""
        return {"test": self.test, "delta": float(self.delta), "unit": self.unit, "role": self.role,
                "reading": self.reading}


@dataclass(frozen=True)
class Finding:
    """One finding sentence (or table caption) of a paper and the claims that test it; ``why`` when none does."""

    family: str
    source: str
    sentence: str
    claims: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Change:
    """One change of the registry after results were seen: the registry ``version`` it entered, the claim, what
    changed, why, and the verdict the claim had before (``was``, with the run it comes from)."""

    version: int
    claim: str
    change: str
    why: str
    was: str


CLAIMS: dict[str, Claim] = {}
FINDINGS: list[Finding] = []


def register_claim(claim: Claim, *, replace: bool = False) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` (``replace=True`` to redefine one, which changes :func:`registry_hash`)."""
    if not isinstance(claim, Claim):
        raise ShortcutlabError(f"The 'claim' parameter of register_claim must be a Claim. Got {claim!r} instead.")
    if claim.id in CLAIMS and not replace:
        raise ShortcutlabError(f"The claim id {claim.id!r} is already registered; choose another or pass replace=True.")
    CLAIMS[claim.id] = claim
    return claim


def get_claim(claim_id: str) -> Claim:
    if claim_id not in CLAIMS:
        raise ShortcutlabError(f"The 'claim_id' parameter of get_claim must be one of {', '.join(CLAIMS)}. "
                               f"Got {claim_id!r} instead.")
    return CLAIMS[claim_id]


def claim_hash(claim: Claim) -> str:
    """12 hex digits of the claim's :attr:`Claim.form`: a stored row whose hash differs was read in another form."""
    return hashlib.sha256(json.dumps(claim.form, sort_keys=True).encode()).hexdigest()[:12]


def registry_hash() -> str:
    """12 hex digits over every registered claim's id and form."""
    blob = json.dumps({cid: c.form for cid, c in sorted(CLAIMS.items())}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def registry_table(family: str | None = None) -> pd.DataFrame:
    """Every registered claim (of ``family``) as a table, one row each, with its hash."""
    rows = [dict(asdict(c), hash=claim_hash(c)) for c in CLAIMS.values() if family in (None, c.family)]
    return pd.DataFrame(rows).set_index("id")


def findings_table(family: str | None = None) -> pd.DataFrame:
    """The findings map: every finding sentence of the papers with the claim ids that test it, or why none does."""
    rows = [{"paper": f.family, "source": f.source, "finding": f.sentence,
             "claims": ", ".join(f.claims) if f.claims else "none", "why not": f.why}
            for f in FINDINGS if family in (None, f.family)]
    return pd.DataFrame(rows)


def changes_table() -> pd.DataFrame:
    """The changelog as a table (:data:`~.changes.CHANGES`)."""
    return pd.DataFrame([asdict(c) for c in CHANGES])


def _md_table(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    cell = lambda v: ("" if v is None or v != v else str(v)).replace("|", "/").replace("\n", " ")  # noqa: E731
    return (["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)])


def registry_markdown() -> str:
    """``docs/claims.md``: the registry (every claim's form and the sentence it tests), the findings map and the
    changelog, generated from this module (``python scripts/claims_doc.py``; a test checks the file is current)."""
    lines = ["# The claims registry", "",
             "<!-- generated by `python scripts/claims_doc.py` from shortcutlab/study/registry; do not edit by hand -->",
             "", f"Version {VERSION}, hash `{registry_hash()}`. Every claim is read at one level: its 95 % interval, "
                 "each bound a one-sided test at 0.025, whether the verdict favours the paper or not "
                 "(`shortcutlab.metrics.verdict`). A direction reads *holds* (interval above 0), *holds, below Δ* "
                 "(also below Δ), *contradicted* (below 0), *not replicated* (inside ±Δ around 0; never where the "
                 "paper's own effect is no larger than Δ) or *inconclusive*; non-inferiority, non-superiority and "
                 "equivalence read their margin at ±Δ. Each paper's primary rows (one per finding sentence) are one "
                 "family, Holm-adjusted; secondary rows (one method of several, or a named departure) are not.", "",
             "## Smallest effects of interest", ""]
    lines += [f"* **{u}**: Δ = {d:g}. {why}." for u, (d, why) in DELTAS.items()]
    for fam, title in (("mri", "MRI paper (Nakashima et al., MLHC 2023)"), ("backmix", "BackMix (Bransby et al., "
                                                                                     "MICCAI 2024)"),
                       ("lesson", "The lesson (a family of its own)")):
        t = registry_table(fam).reset_index()
        t["paper's effect"] = t["paper_effect"].map(lambda v: "none printed" if v is None or v != v else f"{v:+g}")
        lines += ["", f"## Claims: {title}", "",
                  *_md_table(t[["id", "role", "test", "unit", "delta", "reading", "finding", "source", "paper",
                                "paper's effect", "departure", "not_expected", "hash"]])]
    lines += ["", "## Findings map", "", "Every finding sentence and table caption of MRI §5 and BackMix §3.3 / Tables "
              "1–2 (and the abstract's), with the claims that test it, or why none does.", "",
              *_md_table(findings_table()), "", "## Changes after results were seen", "",
              "Each change of a registered claim made after a run had reported it: post hoc, with why and the verdict "
              "before. `shortcutlab results` marks a stored row whose claim changed since: \"changed after results "
              "(was V)\".", "", *_md_table(changes_table())]
    return "\n".join(lines) + "\n"


from . import backmix, lesson, mri  # noqa: E402,F401  (each registers its claims and findings)
from .changes import CHANGES  # noqa: E402


def _check() -> None:
    for f in FINDINGS:
        for cid in f.claims:
            if cid not in CLAIMS:
                raise ShortcutlabError(f"The finding {f.sentence[:40]!r} names claim {cid!r}, which is not registered.")
        if not f.claims and not f.why:
            raise ShortcutlabError(f"The finding {f.sentence[:40]!r} names no claim and no reason.")
    mapped = {cid for f in FINDINGS for cid in f.claims}
    orphan = [cid for cid, c in CLAIMS.items() if c.family != "lesson" and cid not in mapped]
    if orphan:
        raise ShortcutlabError(f"The claims {orphan} test no sentence of the findings map.")


_check()
