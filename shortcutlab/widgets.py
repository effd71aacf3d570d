"""Browse saliency maps in JupyterLab (ipywidgets), and the dial-a-shortcut slider.

Rendering is a pure function (:func:`render_case`, :func:`gallery`) that returns a matplotlib figure, so it is
testable without a kernel; the widgets only wire controls to it. Widget output does not survive in executed
static notebooks, so notebooks also save static galleries.

**Live or batch.** In JupyterLab the widgets draw into an ``ipywidgets.Output`` on every control change
(``live=True``). Under ``shortcutlab run`` (the kernel sees ``SHORTCUTLAB_BATCH=1``) they are built, filtered
and queryable, but draw nothing live and display a one-line note instead: there is no front end to show a
live widget, and capturing output into an Output widget is what made nbclient hang (see
:mod:`shortcutlab._nbengine`). Pass ``live=`` to choose explicitly.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from ._validation import ShortcutlabError, check_choice, param_error
from .saliency import cams_for, overlay

__all__ = ["select_cases", "render_case", "gallery", "SaliencyBrowser", "DialSlider", "batch_mode"]

SORT_KEYS = ("aks", "dsc", "pct_e", "pct_f")


def batch_mode() -> bool:
    """True under ``shortcutlab run`` (``SHORTCUTLAB_BATCH=1`` in the kernel's environment)."""
    return os.environ.get("SHORTCUTLAB_BATCH", "") == "1"


def _resolve_live(live, where: str) -> bool:
    if live is None:
        return not batch_mode()
    if not isinstance(live, bool):
        raise param_error("live", where, "True, False or None", live)
    return live


_BATCH_NOTE = ("<i>{what}: live widget not drawn in a batch run (no front end); open this notebook in "
               "JupyterLab to use it. The static figures below are the report's version.</i>")


def _case_data(study, run, eval_set: str, method: str | None = None) -> dict:
    res = cams_for(study, run, eval_set, method=method)
    res["set"] = study.data(run.cohort, strength=run.spec["data"].get("strength"))[eval_set]
    return res


def select_cases(study, run, eval_set: str = "test", *, cls: int | None = None, correctness: str = "all",
                 sort_by: str = "aks", worst_first: bool = True, method: str | None = None) -> np.ndarray:
    """Indices (into the evaluated images) filtered by class and correctness, sorted by an overlap metric.

    Images whose metric is NaN (all-zero map) come first when ``worst_first`` — they are the least explained.
    """
    check_choice(correctness, ("all", "correct", "wrong"), name="correctness", where="select_cases")
    check_choice(sort_by, SORT_KEYS, name="sort_by", where="select_cases")
    res = _case_data(study, run, eval_set, method)
    labels, pred = res["labels"], res["pred"]
    keep = np.ones(len(labels), dtype=bool)
    if cls is not None:
        k = len(res["set"].class_names)
        if not 0 <= int(cls) < k:
            raise ShortcutlabError(f"The 'cls' parameter of select_cases must be in [0, {k - 1}] or None. Got {cls} instead.")
        keep &= labels == int(cls)
    if correctness != "all":
        keep &= (labels == pred) if correctness == "correct" else (labels != pred)
    vals = np.nanmean(res["metrics"][sort_by], axis=1) if res["metrics"][sort_by].ndim == 2 else res["metrics"][sort_by]
    idx = np.flatnonzero(keep)
    key = np.where(np.isnan(vals[idx]), -np.inf if worst_first else np.inf, vals[idx])
    order = np.argsort(key, kind="stable")
    if not worst_first:
        order = order[::-1]
    return idx[order]


def render_case(study, runs: Mapping[str, object], i: int, eval_set: str = "test", *, frame: int = 0,
                method: str | None = None):
    """One test image, side by side for each model: image, map overlay, mask contour, true / predicted class
    with probability, and that image's AKS / DSC / %E / %F."""
    import matplotlib.pyplot as plt

    names = list(runs)
    if not names:
        raise ShortcutlabError("The 'runs' parameter of render_case must name at least one model.")
    fig, axes = plt.subplots(1, len(names) + 1, figsize=(2.4 * (len(names) + 1), 2.9), squeeze=False)
    first = _case_data(study, runs[names[0]], eval_set, method)
    ds = first["set"]
    if not 0 <= i < len(first["labels"]):
        raise ShortcutlabError(f"The image index of render_case must be in [0, {len(first['labels']) - 1}]. Got {i} instead.")
    if not 0 <= frame < ds.num_frames:
        raise ShortcutlabError(f"The 'frame' parameter of render_case must be in [0, {ds.num_frames - 1}]. Got {frame} instead.")
    img = ds.images[i, frame].numpy()
    mask = ds.masks[i, frame].numpy() if ds.masks is not None else None
    ax = axes[0, 0]
    ax.imshow(img, cmap="gray", vmin=0, vmax=255)
    if mask is not None:
        ax.contour(mask.astype(float), levels=[0.5], colors="lime", linewidths=0.6)
    ax.set_title(f"#{i} · true {ds.class_names[int(first['labels'][i])]} · {ds.frame_names[frame]}", fontsize=8)
    ax.axis("off")
    for j, name in enumerate(names):
        res = first if j == 0 else _case_data(study, runs[name], eval_set, method)
        cam = res["cams"][i, frame].astype(np.float32)
        p = res["probs"][i]
        pred = int(res["pred"][i])
        m = {k: float(v[i, frame]) for k, v in res["metrics"].items()}
        overlay(img, cam, mask, ax=axes[0, j + 1])
        ok = "✓" if pred == int(res["labels"][i]) else "✗"
        axes[0, j + 1].set_title(f"{name}: {ds.class_names[pred]} {p[pred]:.2f} {ok}\nAKS {m['aks']:.2f} DSC {m['dsc']:.2f} "
                                 f"%E {100 * m['pct_e']:.0f} %F {100 * m['pct_f']:.0f}"
                                 if m['aks'] == m['aks'] else f"{name}: {ds.class_names[pred]} {p[pred]:.2f} {ok}\n"
                                 f"all-zero map (metrics NaN)", fontsize=7)
    fig.tight_layout()
    return fig


def gallery(study, runs: Mapping[str, object], eval_set: str = "test", *, n: int = 6, worst: bool = True,
            sort_by: str = "aks", by: str | None = None, frame: int = 0):
    """Static gallery of the ``n`` worst (or best) cases of model ``by`` (default: the first), all models side by side."""
    import matplotlib.pyplot as plt

    names = list(runs)
    by = by or names[0]
    idx = select_cases(study, runs[by], eval_set, sort_by=sort_by, worst_first=worst)[:n]
    first = _case_data(study, runs[names[0]], eval_set)
    ds = first["set"]
    fig, axes = plt.subplots(len(idx), len(names) + 1, figsize=(1.9 * (len(names) + 1), 1.9 * max(len(idx), 1)),
                             squeeze=False)
    for r, i in enumerate(idx):
        img = ds.images[i, frame].numpy()
        mask = ds.masks[i, frame].numpy()
        axes[r, 0].imshow(img, cmap="gray", vmin=0, vmax=255)
        axes[r, 0].contour(mask.astype(float), levels=[0.5], colors="lime", linewidths=0.5)
        axes[r, 0].set_title(f"#{i} {ds.class_names[int(first['labels'][i])]}", fontsize=7)
        axes[r, 0].axis("off")
        for j, name in enumerate(names):
            res = first if j == 0 else _case_data(study, runs[name], eval_set)
            v = float(res["metrics"][sort_by][i, frame])
            overlay(img, res["cams"][i, frame].astype(np.float32), mask, ax=axes[r, j + 1],
                    title=f"{name} {sort_by} {v:.2f}" if v == v else f"{name} (zero map)")
    fig.suptitle(f"{'worst' if worst else 'best'} {len(idx)} by {sort_by} of {by} ({eval_set})", fontsize=9)
    fig.tight_layout()
    return fig


class SaliencyBrowser:
    """ipywidgets browser over study runs: split, models (side by side), class, correct / wrong, sort by
    AKS or %E (worst first), frame, CAM method, and a slider through the sorted cases.

    ``browser.widget`` is the ipywidgets box (display it, or just evaluate ``browser`` in a cell);
    ``browser.last_figure`` and ``browser.current_index`` say what is shown; ``browser.cases`` lists the
    filtered, sorted case indices. ``live=None`` draws live except in batch runs (see the module docstring).
    """

    def __init__(self, study, runs: Mapping[str, object], *, eval_sets: Sequence[str] | None = None,
                 live: bool | None = None):
        import ipywidgets as w

        self.live = _resolve_live(live, "SaliencyBrowser")
        if not runs:
            raise ShortcutlabError("The 'runs' parameter of SaliencyBrowser must name at least one model.")
        self.study, self.runs = study, dict(runs)
        first = next(iter(self.runs.values()))
        data = study.data(first.cohort)
        eval_sets = list(eval_sets or [k for k in data if k not in ("train", "val")])
        ds = data[eval_sets[0]]
        from .config import CAM_METHODS

        self.split = w.Dropdown(options=eval_sets, value=eval_sets[0], description="split")
        self.models = w.SelectMultiple(options=list(self.runs), value=tuple(list(self.runs)[:3]), description="models")
        self.cls = w.Dropdown(options=[("all", None)] + [(c, i) for i, c in enumerate(ds.class_names)], value=None,
                              description="class")
        self.correct = w.ToggleButtons(options=["all", "correct", "wrong"], value="all", description="cases")
        self.sort = w.Dropdown(options=list(SORT_KEYS), value="aks", description="sort (worst first)")
        self.frame = w.Dropdown(options=[(f, i) for i, f in enumerate(ds.frame_names)], value=0, description="frame")
        self.method = w.Dropdown(options=list(CAM_METHODS), value=study.cfg.saliency.method, description="CAM")
        self.pos = w.IntSlider(min=0, max=0, value=0, description="case")
        self.out = w.Output()
        self.info = w.HTML()
        self.last_figure = None
        self.current_index: int | None = None
        self._order = np.zeros(0, dtype=int)
        for c in (self.split, self.models, self.cls, self.correct, self.sort, self.method):
            c.observe(self._refilter, names="value")
        for c in (self.pos, self.frame):
            c.observe(self._redraw, names="value")
        controls = w.VBox([w.HBox([self.split, self.cls, self.frame]), w.HBox([self.correct, self.sort, self.method]),
                           w.HBox([self.models, self.pos]), self.info])
        self.widget = w.VBox([controls, self.out])
        self._refilter()

    @property
    def cases(self) -> list[int]:
        """The case indices the current filters select, in the current sort order."""
        return [int(i) for i in self._order]

    def _ipython_display_(self):  # pragma: no cover - display in a kernel
        from IPython.display import HTML, display
        display(self.widget if self.live else HTML(_BATCH_NOTE.format(what="saliency browser")))

    def _selected(self) -> dict:
        names = list(self.models.value) or list(self.runs)[:1]
        return {n: self.runs[n] for n in names}

    def _refilter(self, *_):
        sel = self._selected()
        by = next(iter(sel.values()))
        self._order = select_cases(self.study, by, self.split.value, cls=self.cls.value, correctness=self.correct.value,
                                   sort_by=self.sort.value, method=self.method.value)
        self.pos.max = max(len(self._order) - 1, 0)
        self.pos.value = 0
        self._redraw()

    def _redraw(self, *_):
        import matplotlib.pyplot as plt

        if len(self._order) == 0:
            self.current_index = None
            self.info.value = "<i>no case matches these filters</i>"
            if self.live:
                self.out.clear_output(wait=True)
            return
        self.current_index = int(self._order[self.pos.value])
        self.info.value = f"{len(self._order)} case(s); showing #{self.current_index}"
        if not self.live:
            return
        self.out.clear_output(wait=True)
        with self.out:
            if self.last_figure is not None:
                plt.close(self.last_figure)
            self.last_figure = render_case(self.study, self._selected(), self.current_index, self.split.value,
                                           frame=self.frame.value, method=self.method.value)
            plt.show()


class DialSlider:
    """Live dial-a-shortcut at small size: move the strength, a small model is trained (or loaded) and its
    AUC with the cue as in training / decorrelated and its AKS are shown for Full and Seg."""

    def __init__(self, study, *, strengths: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0),
                 conditions: Sequence[str] = ("full", "seg"), epochs: int | None = None, live: bool | None = None):
        import ipywidgets as w

        self.live = _resolve_live(live, "DialSlider")
        self.study, self.conditions, self.epochs = study, tuple(conditions), epochs
        self.slider = w.SelectionSlider(options=list(strengths), value=strengths[-1], description="strength")
        self.out = w.Output()
        self.rows: list[dict] = []
        self.slider.observe(self._update, names="value")
        self.widget = w.VBox([self.slider, self.out])
        self._update()

    def _ipython_display_(self):  # pragma: no cover
        from IPython.display import HTML, display
        display(self.widget if self.live else HTML(_BATCH_NOTE.format(what="dial slider")))

    def _update(self, *_):
        from .experiments import overlap

        st = float(self.slider.value)
        kw = {} if self.epochs is None else {"epochs": self.epochs}
        self.rows = []
        for c in self.conditions:
            r = self.study.run("cm", c, strength=st, **kw)
            self.rows.append(dict(condition=c, strength=st, auc=r.metrics["test"]["auc_micro"],
                                  auc_decorrelated=r.metrics["test_decorrelated"]["auc_micro"],
                                  aks=overlap(self.study, r)["aks"]["mean"]))
        import pandas as pd

        if not self.live:
            return
        self.out.clear_output(wait=True)
        with self.out:
            from IPython.display import display
            display(pd.DataFrame(self.rows).round(3))
