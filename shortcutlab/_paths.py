"""Where things live on disk: the one place that knows the project layout.

``PROJECT_ROOT`` is the checkout the package is installed from (``pip install -e``): ``notebooks/``,
``params/``, ``reports/`` and ``runs/`` sit there. Relative paths in a preset are relative to it.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["PROJECT_ROOT", "NOTEBOOKS_DIR", "PARAMS_DIR", "REPORTS_DIR", "RUNS_DIR", "project_path"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
PARAMS_DIR = PROJECT_ROOT / "params"
REPORTS_DIR = PROJECT_ROOT / "reports"
RUNS_DIR = PROJECT_ROOT / "runs"


def project_path(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the project root."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p
