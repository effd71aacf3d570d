"""What the study hands back: a finished run (:class:`Run`), a pretraining (:class:`PretrainRun`), a planned one
(:class:`PlannedRun`), and a set of them as flat records (:class:`RunSet`).

Every experiment returns a :class:`RunSet`; every table, figure and claim takes one. A record is the run with
the experiment's own words for it: ``cohort`` (``cm``, ``acdc``, ``cm→acdc``, ``echo``, ``pretrain``),
``condition`` (``full``, ``zero``, ``simclr``, ``wbackmix`` ...), ``seed`` and ``changes`` (what else tells two
runs of one condition apart: ``f``, ``lam``, ``strength``, ``subset``). Queries read like DomainBed's ``Q``:

>>> runs = mri.contextual_bias(study)
>>> runs.where(cohort="cm", condition=("full", "seg")).by("seed")      # {0: RunSet, 1: RunSet, 2: RunSet}
>>> runs.at_seed(0).named(cohort="cm")                                 # {"zero": run, "full": run, ...}
>>> runs.table(auc=lambda r: r.metrics["test"]["auc_micro"])            # one row per run
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from .._validation import ShortcutlabError, check_choice, param_error
from ..models import FrameClassifier, build_model, load_weights
from ..saliency.cams import cam_class, map_set, overlap_summary
from ..train import resolve_device
from . import store
from .store import entry_label
from .tables import over_seeds

__all__ = ["Run", "PretrainRun", "PlannedRun", "Record", "RunSet", "FIELDS", "EXPERIMENTS", "experiment"]

FIELDS = ("cohort", "condition", "seed")  # a record's fields beside its changes

# every function that asks the study for runs, by the name a notebook calls it by ("mri.contextual_bias"): a
# notebook's calls of these are its one declaration of what it needs, which `shortcutlab plan` reads
EXPERIMENTS: dict[str, Callable[..., Any]] = {}


def experiment(fn: Callable[..., Any] | None = None, *, name: str | None = None, requests: Callable[..., Any] | None = None):
    """Register ``fn`` as an experiment: a call that asks the study for runs (and returns a :class:`RunSet`). The
    plan finds a notebook's calls of registered experiments and makes them on a planning study, with the
    notebook's own parameters. ``name``: how notebooks call it (default ``<module>.<function>``); ``requests``:
    a function taking the same arguments that only asks for the runs, for an experiment that also computes
    (an audit)."""
    def register(f):
        EXPERIMENTS[name or f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}"] = requests or f
        return f

    return register if fn is None else register(fn)


@dataclass
class Run:
    """A finished condition: metrics per evaluation set, predictions, and (lazily) the model and its maps."""

    name: str
    path: Path
    spec: dict
    metrics: dict
    history: list
    probs: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    loaded_from_cache: bool = False
    _model: FrameClassifier | None = None
    study: Any = field(default=None, repr=False, compare=False)

    @property
    def condition(self) -> str:
        return self.spec["condition"]

    @property
    def cohort(self) -> str:
        return self.spec["cohort"]

    @property
    def label(self) -> str:
        return entry_label(self.spec)

    def model(self) -> FrameClassifier:
        """The trained model (best epoch), loaded from ``weights.pt`` with ``weights_only=True``."""
        if self._model is None:
            m = build_model(self.spec["model"], self.spec["num_classes"], self.spec["frames"])
            if self.spec.get("probe"):
                m.freeze_encoder(True)
            load_weights(m, self.path / "weights.pt")
            m.eval()
            self._model = m
        return self._model

    def _need_study(self) -> None:
        if self.study is None:
            raise ShortcutlabError(f"Run {self.name!r} was not made by a Study, so it has no data to map; get it "
                                   f"from study.run(...).")

    def _eval_set(self, eval_set: str):
        self._need_study()
        data = self.study.data(self.cohort, strength=self.spec["data"].get("strength"))
        if eval_set not in data:
            raise param_error("eval_set", "Run.cams", f"one of {', '.join(k for k in data if k not in ('train', 'val'))}",
                              eval_set)
        return data[eval_set]

    def cams(self, eval_set: str = "test", *, method: str | None = None, target: str | None = None,
             max_images: int | None = None) -> dict:
        """CAMs and per-image overlap metrics on one evaluation set (:func:`shortcutlab.saliency.cams.map_set`),
        cached in the run's folder with a SHA-256 sidecar and recomputed, with a warning, when it does not match.

        Returns ``{"cams": float16 [n, F, H, W], "index": [n], "metrics": {aks, dsc, pct_e, pct_f: [n, F]},
        "pred": [n], "labels": [n], "probs": [n, K]}`` for the first ``max_images`` images of the set. Method,
        target (``pred`` or ``true`` class) and ``max_images`` default to the preset's ``saliency`` section, and
        so does the layer (``saliency.layer``; empty: the model's last stage).
        """
        self._need_study()
        sc = self.study.cfg.saliency
        method = method or sc.method
        target = target or sc.target
        check_choice(target, ("pred", "true"), name="target", where="Run.cams")
        cam_class(method)
        max_images = max_images or sc.max_images
        layer = sc.layer or None  # None: the model's last stage (the papers' layer); the file name says which
        at = f"_{layer.replace('.', '-')}" if layer else ""
        path = self.path / f"cams_{eval_set}_{method.replace('+', 'p')}{at}_{target}_{max_images}.npz"
        key = f"{self.name}/{path.name}"  # the run's folder name holds its spec hash
        if path.exists():
            try:
                return store.read_maps(path, key)
            except Exception as e:  # noqa: BLE001 - any damage: say so, recompute
                warnings.warn(f"cached maps {path.name!r} of {self.name!r} are unusable ({type(e).__name__}: {e}); "
                              f"recomputing", stacklevel=2)
        ds = self._eval_set(eval_set)
        res = map_set(self.model(), ds, condition=self.condition, fill=self.spec["train"]["fill"], method=method,
                      target=target, layer=layer, batch_size=sc.batch_size, max_images=max_images,
                      device=resolve_device(self.study.cfg.train.device), name=self.name, eval_set=eval_set)
        store.write_maps(path, key, res)
        return res

    def overlap(self, eval_set: str = "test") -> dict[str, dict]:
        """Mean and bootstrap CI of AKS, DSC, %E and %F over the frames of the mapped images (:meth:`cams`), each
        beside its floor, ceiling and normalized score
        (:func:`shortcutlab.saliency.cams.overlap_summary`)."""
        m = self.study.cfg.metrics
        return overlap_summary(self.model(), self._eval_set(eval_set), self.cams(eval_set),
                               layer=self.study.cfg.saliency.layer or None, n_boot=m.n_bootstrap, ci=m.ci, seed=m.seed)

    def __repr__(self) -> str:
        head = {k: round(v.get("auc_micro", float("nan")), 3) for k, v in self.metrics.items() if isinstance(v, dict)}
        return f"Run({self.name!r}, auc_micro={head}, cached={self.loaded_from_cache})"


@dataclass
class PretrainRun:
    """A finished contrastive pretraining: encoder weights (``weights.pt``) and the loss history."""

    name: str
    path: Path
    spec: dict
    history: list
    loaded_from_cache: bool = False

    @property
    def method(self) -> str:
        return self.spec["method"]

    @property
    def label(self) -> str:
        return entry_label(self.spec)

    def encoder_state(self) -> dict:
        import torch

        return torch.load(self.path / "weights.pt", map_location="cpu", weights_only=True)


@dataclass
class PlannedRun:
    """What a planning study (``Study(cfg, plan=True)``) returns instead of training: the entry's name, folder and
    spec, and whether it is already cached. It can be passed as ``init=`` like a finished run."""

    name: str
    path: Path
    spec: dict
    loaded_from_cache: bool = False

    @property
    def label(self) -> str:
        return entry_label(self.spec)


@dataclass(frozen=True)
class Record:
    """One run as an experiment names it (see the module's doc)."""

    cohort: str
    condition: str
    seed: int
    run: Any = field(compare=False)
    changes: tuple = ()  # sorted (name, value) pairs

    def get(self, name: str) -> Any:
        if name in FIELDS:
            return getattr(self, name)
        return dict(self.changes).get(name)

    @property
    def group(self) -> tuple:
        """What tells this record's condition apart from others, seeds aside."""
        return (self.cohort, self.condition, self.changes)


def _matches(value: Any, want: Any) -> bool:
    if callable(want):
        return bool(want(value))
    if isinstance(want, (list, tuple, set, frozenset)):
        return value in want
    return value == want


class RunSet:
    """Runs as flat records: :meth:`where` filters, :meth:`by` groups, :meth:`at_seed` picks one seed of each
    condition, :meth:`over_seeds` gives a value's mean and interval over the seeds, :meth:`table` one row per run.
    Iterating gives the runs; ``len`` counts them; ``a + b`` joins two sets (a run in both is kept once)."""

    def __init__(self, records: Iterable[Record] = ()):
        self.records: list[Record] = list(records)

    # ------------------------------------------------------------------ building
    def add(self, run: Any, cohort: str, condition: str, seed: int, **changes) -> Any:
        """Append ``run`` under these names; returns the run (so an experiment can write ``r = runs.add(...)``)."""
        self.records.append(Record(cohort, condition, int(seed), run, tuple(sorted(changes.items()))))
        return run

    def __add__(self, other: "RunSet") -> "RunSet":
        seen = {(r.group, r.seed) for r in self.records}
        return RunSet(self.records + [r for r in other.records if (r.group, r.seed) not in seen])

    # ------------------------------------------------------------------ reading
    def __iter__(self) -> Iterator[Any]:
        return (r.run for r in self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __bool__(self) -> bool:
        return bool(self.records)

    def __repr__(self) -> str:
        groups = {(r.cohort, r.condition, r.changes): 0 for r in self.records}
        for r in self.records:
            groups[r.group] += 1
        return f"RunSet({len(self)} runs: " + ", ".join(
            f"{c}/{k}{''.join(f' {n}={v}' for n, v in ch)} x{s}" for (c, k, ch), s in groups.items()) + ")"

    def values(self, name: str) -> list:
        """The distinct values of a field (``cohort``, ``condition``, ``seed``) or change, in order of appearance."""
        return list(dict.fromkeys(r.get(name) for r in self.records))

    @property
    def seeds(self) -> list[int]:
        return self.values("seed")

    def where(self, fn: Callable[[Record], bool] | None = None, **fields) -> "RunSet":
        """The records whose fields match: a value, a list / tuple of allowed values, or a predicate; ``fn`` takes
        the whole record. ``runs.where(cohort="cm", condition=("full", "seg"))``."""
        return RunSet(r for r in self.records if (fn is None or fn(r))
                      and all(_matches(r.get(k), v) for k, v in fields.items()))

    def by(self, *names: str) -> dict[Any, "RunSet"]:
        """``{value: RunSet}`` grouped by one field or change (``by("seed")``), or ``{(v1, v2): RunSet}`` by
        several, in order of appearance."""
        if not names:
            raise param_error("names", "RunSet.by", "one or more field names (cohort, condition, seed, or a change)",
                              names)
        out: dict[Any, RunSet] = {}
        for r in self.records:
            key = r.get(names[0]) if len(names) == 1 else tuple(r.get(n) for n in names)
            out.setdefault(key, RunSet()).records.append(r)
        return out

    def at_seed(self, i: int = 0) -> "RunSet":
        """Each condition's ``i``-th seed (in the order its seeds were asked for): one model per condition, for a
        figure of saliency maps."""
        out: dict[tuple, list[Record]] = {}
        for r in self.records:
            out.setdefault(r.group, []).append(r)
        return RunSet(rs[i] for rs in out.values() if len(rs) > i)

    def one(self, **fields) -> Any:
        """The one run whose fields match; an error when none or several do."""
        hit = self.where(**fields)
        if len(hit) != 1:
            raise ShortcutlabError(f"The RunSet has {len(hit)} runs with {fields}, not one: {hit!r}.")
        return hit.records[0].run

    def named(self, key: str = "condition", **fields) -> dict[Any, Any]:
        """``{condition: run}`` (or by another field) of the records matching ``fields``, one run each: what a
        figure of one model per condition takes. Several runs under one name is an error (use :meth:`at_seed`)."""
        sub = self.where(**fields)
        out: dict[Any, Any] = {}
        for r in sub.records:
            k = r.get(key)
            if k in out:
                raise ShortcutlabError(f"The RunSet has several runs named {k!r} by {key!r}; pick one seed with "
                                       f"at_seed() first.")
            out[k] = r.run
        return out

    def table(self, **columns: Callable[[Any], Any]) -> pd.DataFrame:
        """One row per run: its fields and changes, then each named column computed from the run."""
        names = list(dict.fromkeys(k for r in self.records for k, _ in r.changes))
        rows = []
        for r in self.records:
            row = {"cohort": r.cohort, "condition": r.condition, "seed": r.seed}
            row.update({n: r.get(n) for n in names})
            row.update({k: fn(r.run) for k, fn in columns.items()})
            rows.append(row)
        return pd.DataFrame(rows, columns=[*FIELDS, *names, *columns])

    def over_seeds(self, value: Callable[[Any], float], single: Callable[[Any], tuple[float, float]] | None = None,
                   ci: float = 0.95) -> pd.DataFrame:
        """Per condition (cohort, condition, changes): the mean of ``value(run)`` over its seeds with the
        t-interval across them (:func:`~shortcutlab.metrics.mean_ci_across`); with one seed, that seed's value and
        the interval ``single(run)`` gives (its bootstrap over test images), or none."""
        groups: dict[tuple, list[Record]] = {}
        for r in self.records:
            groups.setdefault(r.group, []).append(r)
        rows = []
        for (cohort, cond, changes), rs in groups.items():
            vals = [float(value(r.run)) for r in rs]
            one = single(rs[0].run) if single and len(vals) == 1 else (np.nan, np.nan)
            mean, lo, hi, how = over_seeds(vals, one, ci)
            rows.append({"cohort": cohort, "condition": cond, **dict(changes), "mean": mean, "lo": lo, "hi": hi,
                         "n_seeds": len(vals), "how": how})
        return pd.DataFrame(rows)

