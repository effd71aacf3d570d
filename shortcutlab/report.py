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
import math
import os
from pathlib import Path
from typing import Any

from ._io import atomic_write_bytes
from ._validation import ShortcutlabError

__all__ = ["Report", "open_report", "PROJECT_ROOT", "to_jsonable"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def to_jsonable(value: Any) -> Any:
    """Convert numpy / torch scalars and arrays, tuples and NaN into JSON-friendly values."""
    try:
        import numpy as np
        import torch
        if torch.is_tensor(value):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray):
            return [to_jsonable(v) for v in value.tolist()]
        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


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
        atomic_write_bytes(self.results_path, json.dumps(res, indent=1, sort_keys=True).encode())
        return value

    def record_many(self, values: dict[str, Any]) -> dict[str, Any]:
        """Record several values at once; returns them."""
        for k, v in values.items():
            self.record(k, v)
        return values

    def save_figure(self, fig, name: str, *, dpi: int = 120) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png``; returns the path."""
        out = self.dir / "figures" / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.stem}.tmp.png")
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
        tmp.replace(out)
        return out

    def save_table(self, df, name: str) -> Path:
        """Save a pandas DataFrame as ``tables/<name>.csv``; returns the path."""
        out = self.dir / "tables" / f"{name}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, df.to_csv().encode())
        return out


def open_report(directory: str | Path | None = None) -> Report:
    """The report folder a notebook writes into (``REPORT_DIR`` from the runner, else ``reports/interactive``)."""
    if directory is None or directory == "":
        directory = os.environ.get("SHORTCUTLAB_REPORT_DIR") or PROJECT_ROOT / "reports" / "interactive"
    return Report(directory)
