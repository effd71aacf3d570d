"""Browse saliency maps in JupyterLab (ipywidgets), and the dial-a-shortcut slider.

Rendering is a pure function (:func:`~shortcutlab.plots.render_case`, :func:`~shortcutlab.plots.gallery`) that returns a matplotlib figure, so it is
testable without a kernel; the widgets only wire controls to it. Widget output does not survive in executed
static notebooks, so notebooks also save static galleries.

**Live or batch.** In JupyterLab the widgets draw into an ``ipywidgets.Output`` on every control change
(``live=True``). Under ``shortcutlab run`` (the kernel sees ``SHORTCUTLAB_BATCH=1``) they are built, filtered
and queryable, but draw nothing live and display a one-line note instead: there is no front end to show a
live widget, and capturing output into an Output widget is what made nbclient hang (see
:mod:`shortcutlab.app.nbengine`). Pass ``live=`` to choose explicitly.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from .._validation import param_error
from ..plots import gallery, named_runs, render_case
from ..saliency.cases import SORT_KEYS, select_cases

__all__ = ["SaliencyBrowser", "DialSlider", "PredictFirst", "AuditBrowser", "batch_mode", "gallery", "render_case", "select_cases"]


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
               "JupyterLab to use it. The report's static figures show the same.</i>")


class SaliencyBrowser:
    """ipywidgets browser over study runs: split, models (side by side), class, correct / wrong (``cases=``: the
    first model's answers), sort by AKS or %E (worst first), frame, CAM method, and a slider through the sorted
    cases.

    ``browser.widget`` is the ipywidgets box (display it, or just evaluate ``browser`` in a cell);
    ``browser.last_figure`` and ``browser.current_index`` say what is shown; ``browser.cases`` lists the
    filtered, sorted case indices. ``live=None`` draws live except in batch runs (see the module docstring).
    """

    def __init__(self, study, runs: Any, *, eval_sets: Sequence[str] | None = None,
                 cases: str = "all", live: bool | None = None):
        import ipywidgets as w

        if cases not in ("all", "correct", "wrong"):
            raise param_error("cases", "SaliencyBrowser", "'all', 'correct' or 'wrong'", cases)

        self.live = _resolve_live(live, "SaliencyBrowser")
        self.study, self.runs = study, named_runs(runs, "SaliencyBrowser")[0]
        first = next(iter(self.runs.values()))
        data = study.data(first.cohort)
        eval_sets = list(eval_sets or [k for k in data if k not in ("train", "val")])
        ds = data[eval_sets[0]]
        from ..config import CAM_METHODS

        self.split = w.Dropdown(options=eval_sets, value=eval_sets[0], description="split")
        self.models = w.SelectMultiple(options=list(self.runs), value=tuple(list(self.runs)[:3]), description="models")
        # "all" is -1, not None: a Dropdown whose value is None shows an empty box in JupyterLab
        self.cls = w.Dropdown(options=[("all", -1)] + [(c, i) for i, c in enumerate(ds.class_names)], value=-1,
                              description="class")
        self.correct = w.ToggleButtons(options=["all", "correct", "wrong"], value=cases, description="cases")
        self.sort = w.Dropdown(options=list(SORT_KEYS), value="aks", description="sort (worst first)")
        self.frame = w.Dropdown(options=[(f, i) for i, f in enumerate(ds.frame_names)], value=0, description="frame")
        self.method = w.Dropdown(options=list(CAM_METHODS), value=study.cfg.saliency.method, description="CAM")
        self.pos = w.IntSlider(min=0, max=0, value=0, description="case")
        self.prev = w.Button(description="◀ previous", layout=w.Layout(width="110px"))
        self.next = w.Button(description="next ▶", layout=w.Layout(width="110px"))
        self.prev.on_click(lambda _: self.step(-1))
        self.next.on_click(lambda _: self.step(+1))
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
                           w.HBox([self.models, w.VBox([self.pos, w.HBox([self.prev, self.next])])]), self.info])
        self.widget = w.VBox([controls, self.out])
        self._refilter()

    @property
    def cases(self) -> list[int]:
        """The case indices the current filters select, in the current sort order."""
        return [int(i) for i in self._order]

    def _ipython_display_(self):  # pragma: no cover - display in a kernel
        from IPython.display import HTML, display
        display(self.widget if self.live else HTML(_BATCH_NOTE.format(what="saliency browser")))

    def step(self, delta: int) -> None:
        """Move through the sorted cases (the previous / next buttons), stopping at either end."""
        self.pos.value = int(min(max(self.pos.value + delta, 0), self.pos.max))

    @property
    def sorted_by(self) -> str:
        """The model whose maps order the cases (the first one selected)."""
        return next(iter(self._selected()))

    def _selected(self) -> dict:
        names = list(self.models.value) or list(self.runs)[:1]
        return {n: self.runs[n] for n in names}

    def _refilter(self, *_):
        sel = self._selected()
        by = next(iter(sel.values()))
        cls = None if self.cls.value == -1 else self.cls.value
        self._order = select_cases(self.study, by, self.split.value, cls=cls, correctness=self.correct.value,
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
        self.info.value = (f"{len(self._order)} case(s), sorted by {self.sort.value} of <b>{self.sorted_by}</b> "
                           f"(worst first); showing #{self.current_index} ({self.pos.value + 1} of {len(self._order)})")
        if not self.live:
            return
        self.out.clear_output(wait=True)
        with self.out:
            if self.last_figure is not None:
                plt.close(self.last_figure)
            self.last_figure = render_case(self.study, self._selected(), self.current_index, self.split.value,
                                           frame=self.frame.value, method=self.method.value)
            plt.show()


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


class DialSlider:
    """Live dial-a-shortcut: move the strength and see, for Full and Seg at that strength, the AUC with the cue as
    in training and decorrelated (a bar plot and a table with AKS) and one test image with each model's CAM. The
    models are those of ``runs`` (the sweep of notebook 07, :func:`~shortcutlab.study.dial.dial_runs`; its strengths
    are the slider's); a strength or condition not in it is trained once (or loaded from the study's cache). ``dial.bar_figure`` and ``dial.case_figure`` are what is shown (live mode)."""

    def __init__(self, study, runs: Any = None, *, strengths: Sequence[float] | None = None,
                 conditions: Sequence[str] = ("full", "seg"), epochs: int | None = None, live: bool | None = None,
                 measure: str = "auc"):
        import ipywidgets as w

        from .._validation import check_choice

        check_choice(measure, ("auc", "accuracy"), name="measure", where="DialSlider")
        self.measure = measure  # auc: with the cue as in training and decorrelated; accuracy: agreeing and lying
        self.live = _resolve_live(live, "DialSlider")
        self.study, self.conditions, self.epochs = study, tuple(conditions), epochs
        self.made = runs  # the dial's RunSet (dial.dial_runs): its models are shown; another strength is trained
        if strengths is None:
            strengths = runs.values("strength") if runs else (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
        self.absent = None
        if not study.is_phantom("cm"):  # real data has no cue to dial: say so where the slider would be
            from ..data.sources import PHANTOM_ONLY

            self.absent = PHANTOM_ONLY["dial"]
            self.rows, self.runs, self.bar_figure, self.case_figure = [], {}, None, None
            self.widget = w.HTML(f"<i>No dial on this data: {self.absent}.</i>")
            return
        self.slider = w.SelectionSlider(options=list(strengths), value=strengths[-1], description="strength")
        self.out = w.Output()
        self.rows: list[dict] = []
        self.runs: dict = {}
        self.bar_figure = self.case_figure = None
        self.slider.observe(self._update, names="value")
        self.widget = w.VBox([self.slider, self.out])
        self._update()

    def _ipython_display_(self):  # pragma: no cover
        from IPython.display import HTML, display
        if self.absent is not None:
            display(self.widget)
            return
        display(self.widget if self.live else HTML(_BATCH_NOTE.format(what="dial slider")))

    def _update(self, *_):
        st = float(self.slider.value)
        kw = {} if self.epochs is None else {"epochs": self.epochs}
        self.rows, self.runs = [], {}
        for c in self.conditions:
            made = self.made.where(condition=c, strength=st) if self.made is not None and not kw else None
            r = self.runs[c] = made.records[0].run if made else self.study.run("cm", c, strength=st, **kw)
            if self.measure == "accuracy":  # the lesson's measure: percent right, the marker agreeing and lying
                acc = {k: 100 * float((r.probs[k].argmax(1) == r.labels[k]).mean())
                       for k in ("test_aligned", "test_conflict")}
                self.rows.append(dict(condition=c, strength=st, accuracy_agreeing=acc["test_aligned"],
                                      accuracy_lying=acc["test_conflict"], aks=r.overlap()["aks"]["mean"]))
                continue
            self.rows.append(dict(condition=c, strength=st, auc=r.metrics["test"]["auc_micro"],
                                  auc_decorrelated=r.metrics["test_decorrelated"]["auc_micro"],
                                  aks=r.overlap()["aks"]["mean"]))
        import pandas as pd

        if not self.live:
            return
        import matplotlib.pyplot as plt

        from ..plots import dial_bars

        for fig in (self.bar_figure, self.case_figure):
            if fig is not None:
                plt.close(fig)
        with plt.ioff():  # made off-screen: a callback's pyplot figure must not reach the inline backend
            self.bar_figure = dial_bars(self.rows)
            self.case_figure = render_case(self.study, self.runs, 0)
            pngs = [_png(f) for f in (self.bar_figure, self.case_figure)]
        self.out.clear_output(wait=True)
        with self.out:
            from IPython.display import Image, display
            display(pd.DataFrame(self.rows).round(3))
            for png in pngs:  # drawn above, to PNG, not by the display formatter
                display(Image(data=png))
        # shown in the widget's output; closed in pyplot, or the inline backend shows them again under the cell
        plt.close(self.bar_figure)
        plt.close(self.case_figure)


class PredictFirst:
    """Ask the class to commit to a number before the next cell reveals it: a slider and a "lock in" button.

    ``widget.value`` is the locked guess (None until :meth:`lock`); pass the widget to the cell that reveals the
    answer (e.g. ``lesson.reveal(..., guess=widget)``), which shows the guess beside it. In a batch run it renders
    as the question in plain text, so an executed notebook works as a handout."""

    def __init__(self, question: str, *, lo: int = 0, hi: int = 100, step: int = 1, unit: str = "%",
                 live: bool | None = None):
        import ipywidgets as w

        if not isinstance(question, str) or not question.strip():
            raise param_error("question", "PredictFirst", "a non-empty sentence", question)
        for name, v in (("lo", lo), ("hi", hi), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise param_error(name, "PredictFirst", "an int", v)
        if not lo < hi or step <= 0:
            raise param_error("hi", "PredictFirst", f"an int above lo = {lo}, with a positive step", hi)
        self.live = _resolve_live(live, "PredictFirst")
        self.question, self.unit = question, unit
        self.value: int | None = None
        self.slider = w.IntSlider(min=lo, max=hi, step=step, value=(lo + hi) // 2, description="my guess",
                                  continuous_update=False)
        self.button = w.Button(description="Lock in my guess", button_style="primary",
                               layout=w.Layout(width="160px"))
        self.note = w.HTML(f"<b>{question}</b>")
        self.button.on_click(self.lock)
        self.widget = w.VBox([self.note, w.HBox([self.slider, self.button])])

    @property
    def locked(self) -> bool:
        return self.value is not None

    def lock(self, _=None) -> int:
        """Record the slider's value as the guess and freeze the controls (the button does this)."""
        self.value = int(self.slider.value)
        self.slider.disabled = self.button.disabled = True
        self.note.value = f"<b>{self.question}</b><br>Your guess: {self.value} {self.unit}. Now run the next cell."
        return self.value

    def _ipython_display_(self):  # pragma: no cover - display in a kernel
        from IPython.display import HTML, display
        display(self.widget if self.live else HTML(
            f"<p><b>Predict first:</b> {self.question} <i>(write your guess down before you read on; in "
            f"JupyterLab a slider records it)</i></p>"))


class AuditBrowser:
    """Step through an audit's worst cases (``result.cases``: the images whose prediction follows the donor's
    background, surest first): the original, the same object on the donor's background, and the CAM.

    ``browser.current`` is the image index shown, ``browser.last_figure`` its figure. In a batch run it draws the
    first ``static`` cases as figures instead, so the executed notebook shows them."""

    def __init__(self, result, *, model: str | None = None, live: bool | None = None, static: int = 3):
        import ipywidgets as w

        if isinstance(result, Mapping):  # audit_models' results: the one named, else the first
            if not result:
                raise param_error("result", "AuditBrowser", "a non-empty mapping of AuditResults", result)
            if model is not None and model not in result:
                raise param_error("model", "AuditBrowser", f"one of {', '.join(map(repr, result))}", model)
            result = result[model if model is not None else next(iter(result))]
        if not hasattr(result, "cases") or not hasattr(result, "case"):
            raise param_error("result", "AuditBrowser", "an AuditResult (from sl.audit)", type(result).__name__)
        if isinstance(static, bool) or not isinstance(static, int) or static < 0:
            raise param_error("static", "AuditBrowser", "an int >= 0", static)
        self.live = _resolve_live(live, "AuditBrowser")
        self.result, self.static = result, static
        self.cases = [int(i) for i in result.cases]
        self.pos = w.IntSlider(min=0, max=max(len(self.cases) - 1, 0), value=0, description="case",
                               disabled=not self.cases)
        self.prev = w.Button(description="◀ previous", layout=w.Layout(width="110px"))
        self.next = w.Button(description="next ▶", layout=w.Layout(width="110px"))
        self.prev.on_click(lambda _: self.step(-1))
        self.next.on_click(lambda _: self.step(+1))
        self.out = w.Output()
        self.title = w.HTML(f"<b>{result.name}</b>: {len(self.cases)} images follow the donor's background")
        self.widget = w.VBox([self.title, w.HBox([self.prev, self.pos, self.next]), self.out])
        self.last_figure = None
        self.pos.observe(lambda _: self.draw(), names="value")
        if self.live:
            self.draw()

    @property
    def current(self) -> int | None:
        return self.cases[self.pos.value] if self.cases else None

    def step(self, d: int) -> None:
        if self.cases:
            self.pos.value = int(np.clip(self.pos.value + d, 0, len(self.cases) - 1))

    def draw(self):
        import matplotlib.pyplot as plt

        from ..plots import audit_case

        if not self.cases:
            return None
        if self.last_figure is not None:
            plt.close(self.last_figure)
        self.last_figure = audit_case(self.result, self.current)
        if self.live:  # pragma: no cover - drawing into the front end
            self.out.clear_output(wait=True)
            with self.out:
                from IPython.display import display
                display(self.last_figure)
        return self.last_figure

    def _ipython_display_(self):  # pragma: no cover - display in a kernel
        import matplotlib.pyplot as plt
        from IPython.display import HTML, display

        if self.live:
            display(self.widget)
            return
        if not self.cases:
            display(HTML(f"<p><i>{self.result.name}: no image follows the donor's background.</i></p>"))
            return
        display(HTML(_BATCH_NOTE.format(what="AuditBrowser")))
        from ..plots import audit_case

        for i in self.cases[: self.static]:
            fig = audit_case(self.result, i)
            display(fig)
            plt.close(fig)
