"""The study's plan: every training and pretraining job the notebooks will ask for, before they run.

A study in plan mode (``Study(cfg, plan=True)``) records what ``run`` and ``pretrain`` are asked for and returns a
:class:`~shortcutlab.study.cache.PlannedRun` instead of training. Each notebook's requests are made by the same
study functions the notebook calls (``mri.contextual_bias``, ``claims.contextual_runs``, ...), with the
notebook's own parameters (read from its ``parameters`` cell), so the plan asks for what the notebooks ask for;
``tests/test_notebooks.py`` records every request the smoke study makes and checks it against this plan.

>>> jobs = plan(load_preset("default"))              # all notebooks
>>> [j.name for j in jobs if not j.cached][:3]
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .._paths import NOTEBOOKS_DIR
from .._validation import ShortcutlabError
from ..auditing import audit_runs
from ..config import Config
from . import backmix, claims, dial, lesson, mri
from .cache import Study

__all__ = ["Job", "plan", "notebook_parameters", "run_job", "NOTEBOOK_REQUESTS", "work_units"]


@dataclass
class Job:
    """One training (``supervised``) or ``pretrain`` job: its cache entry's name, the call that makes it, the
    entry it starts from (``init``, a dependency), whether it is cached, and which notebooks ask for it."""

    name: str
    kind: str
    call: dict
    init: str | None
    spec_hash: str
    cached: bool
    notebooks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "call": self.call, "init": self.init,
                "spec_hash": self.spec_hash, "cached": self.cached, "notebooks": list(self.notebooks)}


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """The literals of a notebook's ``parameters`` cell (``SEED``, ``FRACTIONS``, ...), as the notebook has them."""
    nb = json.loads(Path(path).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            out = {}
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    raise ShortcutlabError(f"The notebook {Path(path).name!r} has no cell tagged 'parameters'.")


def _nb01(st: Study, p: dict) -> None:
    mri.contextual_bias(st)
    claims.contextual_runs(st)


def _nb02(st: Study, p: dict) -> None:
    mri.saliency_models(st)
    claims.saliency_runs(st)


def _nb03(st: Study, p: dict) -> None:
    mri.contrastive_comparison(st)
    claims.contrastive_runs(st)


def _nb04(st: Study, p: dict) -> None:
    backmix.backmix_comparison(st)
    claims.backmix_runs(st)


def _nb05(st: Study, p: dict) -> None:
    backmix.semi_supervised(st, fractions=p["FRACTIONS"], lambdas=p["LAMBDAS"], wf=0.05)
    backmix.mask_subset_runs(st, f=0.05, subsets=range(p["N_SUBSETS"]), seed=p["SEED"])
    claims.semi_supervised_runs(st, f=0.05, lam=p["LAMBDAS"][0])


def _nb06(st: Study, p: dict) -> None:
    st.run_many("cm", ("full", "seg", "bg", "rand"), seed=p["SEED"])
    st.run_many("echo", ("baseline", "backmix"), seed=p["SEED"])


def _nb07(st: Study, p: dict) -> None:
    dial.dial_runs(st, strengths=p["STRENGTHS"], conditions=("full", "seg", "rand"), method=p["METHOD"], seed=p["SEED"])
    for c in ("full", "seg"):  # the dial slider's first position (the last strength); moving it asks for more
        st.run("cm", c, strength=float(p["STRENGTHS"][-1]))


def _nb08(st: Study, p: dict) -> None:
    audit_runs(st, p["MODELS"])


def _lesson(st: Study, p: dict) -> None:
    lesson.lesson_runs(st)
    lesson.dose_response_runs(st, p["STRENGTHS"])
    lesson.few_masks_runs(st, f=p["FEW_MASKS"])


# what each notebook asks the study for, by the calls the notebook makes (kept beside them: see the module doc)
NOTEBOOK_REQUESTS: dict[str, Callable[[Study, dict], None]] = {
    "01_contextual_bias": _nb01, "02_saliency_generalization": _nb02, "03_contrastive_pretraining": _nb03,
    "04_backmix": _nb04, "05_semi_supervised": _nb05, "06_saliency_browser": _nb06, "07_shortcut_dial": _nb07,
    "08_audit_your_model": _nb08, "lesson": _lesson,
}


def plan(cfg: Config, notebooks: Sequence[str | Path] | None = None, *, root: str | Path | None = None) -> list[Job]:
    """Every job the ``notebooks`` (paths or names; default: all in ``notebooks/``) will ask for under ``cfg``,
    each once, a job's ``init`` before it; ``cached`` says which ones the study cache (``root``) already holds."""
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")) if notebooks is None else [
        Path(n) if Path(n).suffix == ".ipynb" else NOTEBOOKS_DIR / f"{n}.ipynb" for n in notebooks]
    st = Study(cfg, root=root, progress=False, plan=True)
    jobs: dict[str, Job] = {}
    for path in paths:
        ask = NOTEBOOK_REQUESTS.get(path.stem)
        if ask is None:
            continue  # a notebook without training (00_phantoms)
        start = len(st.requests)
        ask(st, notebook_parameters(path))
        for r in st.requests[start:]:
            job = jobs.get(r["name"])
            if job is None:
                job = jobs[r["name"]] = Job(r["name"], r["kind"], r["call"], r["init"], r["spec_hash"], r["cached"])
            if path.stem not in job.notebooks:
                job.notebooks.append(path.stem)
    return list(jobs.values())


def work_units(cfg: Config, job: Job) -> float:
    """A job's work in sample-epochs (training samples x epochs; pretraining: images x epochs), for estimates."""
    d, t, c = cfg.data, cfg.train, cfg.contrastive
    if job.call["cohort"] == "echo":
        n = d.echo_n * (1 - d.echo_test_fraction) * (1 - d.echo_val_fraction)
        epochs = t.echo_epochs
    else:
        n = d.cmr_n * (1 - d.test_fraction) * (1 - d.val_fraction)
        epochs = t.epochs
    if job.kind == "pretrain":
        return n * 2 * c.epochs  # each of the two frames is an image
    return n * job.call["changes"].get("epochs", epochs)


def run_job(study: Study, job: Job | dict):
    """Make one job's cache entry in ``study`` (its ``init`` must be in the study's cache); the run."""
    j = job.to_dict() if isinstance(job, Job) else job
    c = dict(j["call"])
    changes = c.pop("changes", {})
    if j["kind"] == "pretrain":
        return study.pretrain(c["method"], c["cohort"], seed=c["seed"], strength=c["strength"], **changes)
    init = study.entry(j["init"]) if j["init"] else None
    return study.run(c["cohort"], c["condition"], seed=c["seed"], init=init, probe=c["probe"], strength=c["strength"],
                     tag=c["tag"], track=c.get("track", ()), **changes)
