"""Recording results from a notebook into its report folder (no scrapbook).

The runner injects ``REPORT_DIR`` into every notebook's parameters cell; a notebook opens it once::

    report = shortcutlab.open_report(REPORT_DIR)
    report.record("auc_full_cm", 0.83)
    report.save_figure(fig, "table1")
    report.save_table(df, "table1")

``results.json`` (recorded values), ``figures/*.png`` and ``tables/*.csv`` land in that folder; the runner
copies recorded values into ``summary.json`` and the report index. Interactive use without ``REPORT_DIR``
writes to ``reports/interactive/``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._absent import absent_reason
from .._io import atomic_json, atomic_savefig, atomic_write_text, to_jsonable
from .._paths import REPORTS_DIR
from .._validation import ShortcutlabError

__all__ = ["Report", "open_report"]




class Report:
    """A notebook's report folder: ``results.json``, ``figures/``, ``tables/``."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.dir / "results.json"

    def results(self) -> dict[str, Any]:
        if self.results_path.exists():
            return json.loads(self.results_path.read_text())
        return {}

    def record(self, name: str, value: Any) -> Any:
        """Record a headline value (number, string, small list/dict) under ``name``; returns ``value``."""
        if not isinstance(name, str) or not name:
            raise ShortcutlabError(f"The 'name' parameter of Report.record must be a non-empty string. Got {name!r} instead.")
        res = self.results()
        res[name] = to_jsonable(value)
        atomic_json(self.results_path, res)
        return value

    def record_many(self, values: dict[str, Any]) -> dict[str, Any]:
        """Record several values at once; returns them as recorded (plain numbers: a notebook shows
        ``0.894``, not ``np.float64(0.894)``)."""
        for k, v in values.items():
            self.record(k, v)
        return {k: to_jsonable(v) for k, v in values.items()}

    def save_figure(self, fig, name: str, *, dpi: int = 120) -> Path | None:
        """Save a matplotlib figure as ``figures/<name>.png``; returns the path. A figure this data cannot give
        (:class:`~shortcutlab._absent.Absent`) is recorded with its reason instead (:meth:`absent`)."""
        reason = absent_reason(fig)
        if reason is not None:
            self.absent(name, reason)
            return None
        path = atomic_savefig(fig, self.dir / "figures" / f"{name}.png", dpi=dpi, bbox_inches="tight")
        # the order the notebook made its figures in, and a caption from the figure's own title, for the report
        res = self.results()
        order = [f for f in res.get("figures", []) if f.get("name") != name]
        res["figures"] = order + [{"name": name, "caption": figure_caption(fig) or name.replace("_", " ")}]
        atomic_json(self.results_path, res)
        return path

    def absent(self, name: str, reason: str) -> str:
        """Record that figure or table ``name`` is not part of this run, and why (``results.json`` ->
        ``absent``; the report index shows it), and show the sentence in the notebook."""
        res = self.results()
        res.setdefault("absent", {})[name] = reason
        atomic_json(self.results_path, res)
        text = f"{name}: not shown, {reason}."
        try:
            from IPython.display import Markdown
            _show(Markdown(f"*{text}*"))
        except ImportError:  # pragma: no cover - IPython comes with ipykernel
            pass
        return text

    def table(self, df, name: str, *, digits: int | None = None, columns=None, head: int | None = None):
        """Save ``df`` as ``tables/<name>.csv`` (all of it), show it in the notebook (``columns``, rounded to
        ``digits``, the first ``head`` rows), and return ``df`` unchanged: one call per table cell. A table this
        data cannot give (:func:`~shortcutlab._absent.absent_table`) is recorded with its reason instead."""
        reason = absent_reason(df)
        if reason is not None:
            self.absent(name, reason)
            return df
        self.save_table(df, name)
        view = df if columns is None else df[list(columns)]
        if digits is not None:
            view = view.round(digits)
        if head is not None:
            view = view.head(head)
        _show(view)
        return df

    def save_table(self, df, name: str) -> Path:
        """Save a pandas DataFrame as ``tables/<name>.csv``; returns the path."""
        return atomic_write_text(self.dir / "tables" / f"{name}.csv", df.to_csv())


def figure_caption(fig) -> str:
    """A figure's title: its suptitle, else its axes' titles joined (what the report shows under it)."""
    try:
        sup = getattr(fig, "_suptitle", None)
        if sup is not None and sup.get_text().strip():
            return " ".join(sup.get_text().split())
        titles = [" ".join(ax.get_title().split()) for ax in fig.get_axes() if ax.get_title().strip()]
    except AttributeError:  # not a matplotlib figure
        return ""
    titles = list(dict.fromkeys(titles))
    return " · ".join(titles[:4]) + (" …" if len(titles) > 4 else "")


def _show(obj) -> None:
    """Display ``obj`` in a running IPython kernel (rich output); elsewhere, do nothing."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    if get_ipython() is not None:
        display(obj)


def open_report(directory: str | Path | None = None) -> Report:
    """The report folder a notebook writes into (``REPORT_DIR`` from the runner, else ``reports/interactive``)."""
    if directory is None or directory == "":
        directory = os.environ.get("SHORTCUTLAB_REPORT_DIR") or REPORTS_DIR / "interactive"
    return Report(directory)
