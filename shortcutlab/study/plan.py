"""The study's plan: every training and pretraining job the notebooks will ask for, before they run.

A notebook declares what it needs once, in its cells: each call of an *experiment* (a function registered with
:func:`~shortcutlab.study.runs.experiment`, such as ``mri.contextual_bias`` or ``study.run_many``). The plan
reads those calls out of the notebook (its tables, figures and claims take the RunSet they return) and makes
them on a study in plan mode (``Study(cfg, plan=True)``), which records what ``run`` and ``pretrain`` are asked
for and returns a :class:`~shortcutlab.study.runs.PlannedRun` instead of training. The call's arguments are the
notebook's own: literals and the names of its ``parameters`` cell. ``tests/test_notebooks.py`` records every
request the smoke study makes and checks it against this plan.

>>> jobs = plan(load_preset("default"))              # all notebooks
>>> [j.name for j in jobs if not j.cached][:3]
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .._paths import NOTEBOOKS_DIR
from .._validation import ShortcutlabError
from ..auditing import audit_runs
from ..config import Config
from . import backmix, dial, lesson, mri  # noqa: F401 - their experiments register themselves
from .runs import EXPERIMENTS, experiment
from .study import Study

__all__ = ["Job", "plan", "notebook_parameters", "notebook_experiments", "run_job", "work_units"]


def _audit_requests(models, data=None, *, study, **kw):
    """What an audit asks the study for: the study's own models it names (``study:full``)."""
    return audit_runs(study, models)


experiment(audit_runs, name="auditing.audit_models", requests=_audit_requests)


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


def _cells(path: str | Path) -> list[dict]:
    return [c for c in json.loads(Path(path).read_text())["cells"] if c["cell_type"] == "code"]


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """The literals of a notebook's ``parameters`` cell (``SEED``, ``FRACTIONS``, ...), as the notebook has them."""
    for cell in _cells(path):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            out = {}
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    raise ShortcutlabError(f"The notebook {Path(path).name!r} has no cell tagged 'parameters'.")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def notebook_experiments(path: str | Path) -> list[ast.Call]:
    """The calls of registered experiments in a notebook's code cells, in the order the notebook makes them (a call
    nested in another's arguments comes first)."""
    calls = []
    for cell in _cells(path):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        tree = ast.parse("".join(cell["source"]))
        found = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _dotted(n.func) in EXPERIMENTS]
        calls += sorted(found, key=lambda n: (n.end_lineno, n.end_col_offset))  # inner calls end first
    return calls


def _ask(st: Study, call: ast.Call, params: dict[str, Any], where: str) -> None:
    """Make one experiment call of a notebook on the planning study: its arguments evaluated with the notebook's
    parameters (and ``study``); any other name is an error that names the notebook."""
    names = {**params, "study": st, "range": range}

    def value(node: ast.AST) -> Any:
        missing = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - set(names)
        if missing:
            raise ShortcutlabError(f"The notebook {where!r} calls {_dotted(call.func)} with {sorted(missing)}, which "
                                   f"the plan cannot know before it runs: pass literals or names from its "
                                   f"parameters cell.")
        return eval(compile(ast.Expression(node), where, "eval"), {"__builtins__": {}}, names)  # noqa: S307

    args = [value(a) for a in call.args]
    kwargs = {k.arg: value(k.value) for k in call.keywords}
    name = _dotted(call.func)
    fn = EXPERIMENTS[name]
    if name.startswith("study."):
        fn(st, *args, **kwargs)
    else:
        fn(*args, **kwargs)


def plan(cfg: Config, notebooks: Sequence[str | Path] | None = None, *, root: str | Path | None = None) -> list[Job]:
    """Every job the ``notebooks`` (paths or names; default: all in ``notebooks/``) will ask for under ``cfg``,
    each once, a job's ``init`` before it; ``cached`` says which ones the study cache (``root``) already holds."""
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")) if notebooks is None else [
        Path(n) if Path(n).suffix == ".ipynb" else NOTEBOOKS_DIR / f"{n}.ipynb" for n in notebooks]
    st = Study(cfg, root=root, progress=False, plan=True)
    jobs: dict[str, Job] = {}
    for path in paths:
        start = len(st.requests)
        params = notebook_parameters(path)
        for call in notebook_experiments(path):  # none in a notebook without training (00_phantoms)
            _ask(st, call, params, path.name)
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
