"""The notebooks' first cell: one call that checks the parameters and returns the config, the study and the report.

>>> cfg, study, report = sl.setup(PRESET, OVERRIDES, REPORT_DIR, notebook="05_semi_supervised", SEED=SEED)

It validates every papermill parameter before anything trains (a wrong type stops the notebook in its first
code cell, with the parameter's name), tunes the allocator for the kernel (see :mod:`shortcutlab._alloc`), and
gives an interactive run its own report folder, ``reports/interactive/<notebook>/``, so notebooks run by hand do
not overwrite each other's results.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, NamedTuple

from .._alloc import tune_allocator
from .._paths import REPORTS_DIR
from .._validation import ShortcutlabError, check_choice, check_int, check_number, closest, param_error
from ..config import Config, load_preset
from ..study import Study
from .report import Report, open_report

__all__ = ["setup", "Session", "NOTEBOOK_PARAMETERS", "preset_note"]


def _numbers(name: str, value: Any, lo: float, hi: float | None, lo_open: bool) -> list[float]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__") or not list(value):
        raise param_error(name, "the notebook's parameters", "a non-empty list of numbers", value)
    return [check_number(v, name=name, where="the notebook's parameters", lo=lo, hi=hi, lo_open=lo_open) for v in value]


def _method(value: Any) -> Any:
    from ..ssl import METHODS

    return None if value is None else check_choice(value, METHODS, name="METHOD", where="the notebook's parameters")


def _no_data(name: str, value: Any):
    raise param_error(name, "the notebook's parameters", "'study:<cohort>:<split>' or a manifest CSV / class folder",
                      value)


def _models(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise param_error("MODELS", "the notebook's parameters", "a non-empty list like ['study:full', 'study:seg'] "
                          "or ['path/to/model.pt']", value)
    return list(value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise param_error(name, "the notebook's parameters", "a string ('' for none)", value)
    return value


def _preprocess(value: Any):
    from ..auditing import Preprocess

    return Preprocess.from_spec(value, where="the notebook's parameters")


def _lesson_answer(v: Any, **kw) -> Any:
    from ..study.lesson import check_answer

    return check_answer(v, **kw)


# name -> check(value) -> the value to use. One entry per parameter any notebook declares.
NOTEBOOK_PARAMETERS = {
    "SEED": lambda v: check_int(v, name="SEED", where="the notebook's parameters", lo=0, hi=2**31 - 1),
    "FRACTIONS": lambda v: _numbers("FRACTIONS", v, 0, 1, True),
    "LAMBDAS": lambda v: _numbers("LAMBDAS", v, 0, None, False),
    "N_SUBSETS": lambda v: check_int(v, name="N_SUBSETS", where="the notebook's parameters", lo=1),
    "STRENGTHS": lambda v: _numbers("STRENGTHS", v, 0, 1, False),
    "METHOD": _method,
    "ANSWER_1": lambda v: _lesson_answer(v, name="ANSWER_1", where="the notebook's parameters"),
    "ANSWER_2": lambda v: _lesson_answer(v, name="ANSWER_2", where="the notebook's parameters"),
    "MODELS": _models,
    "ARCH": lambda v: _text("ARCH", v),
    "DATA": lambda v: _text("DATA", v) if v else _no_data("DATA", v),
    "PREPROCESS": _preprocess,
    "TARGET_LAYER": lambda v: _text("TARGET_LAYER", v),
}


class Session(NamedTuple):
    """What a notebook works with: unpack it as ``cfg, study, report``."""

    cfg: Config
    study: Study
    report: Report


def setup(preset: Any = "default", overrides: Mapping[str, Any] | None = None, report_dir: Any = None, *,
          notebook: str | None = None, **parameters: Any) -> Session:
    """Check a notebook's parameters, load the preset and open the study and the report.

    Parameters
    ----------
    preset, overrides, report_dir
        The notebook's ``PRESET``, ``OVERRIDES`` and ``REPORT_DIR`` (``shortcutlab run`` sets the last one).
    notebook : str, optional
        The notebook's name; an interactive run (no ``REPORT_DIR``) writes to ``reports/interactive/<notebook>``.
    parameters
        The notebook's other parameters (``SEED=SEED``, ...), each checked against :data:`NOTEBOOK_PARAMETERS`.
    """
    for name, value in parameters.items():
        if name not in NOTEBOOK_PARAMETERS:
            near = closest(name, NOTEBOOK_PARAMETERS)
            raise ShortcutlabError(f"The notebook parameter {name!r} is not one shortcutlab knows; the known ones are "
                                   f"{', '.join(NOTEBOOK_PARAMETERS)}." + (f" Did you mean {near[0]!r}?" if near else ""))
        NOTEBOOK_PARAMETERS[name](value)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise param_error("OVERRIDES", "the notebook's parameters", "a mapping like {'train.epochs': 4}", overrides)
    if notebook is not None and (not isinstance(notebook, str) or not notebook or "/" in notebook or notebook.startswith(".")):
        raise param_error("notebook", "setup", "a plain name such as '01_contextual_bias'", notebook)
    tune_allocator()
    env = os.environ.get("SHORTCUTLAB_PRESET", "").strip()
    if env and report_dir is None and preset == "default":
        # `make lab PRESET=smoke` (or SHORTCUTLAB_PRESET=smoke jupyter lab): every notebook opened by hand takes
        # that preset unless its PRESET cell was changed; runs of `shortcutlab run` (REPORT_DIR set) are not touched
        preset = env
    cfg = load_preset(preset, overrides)
    if report_dir in (None, "") and notebook:
        report_dir = os.environ.get("SHORTCUTLAB_REPORT_DIR") or REPORTS_DIR / "interactive" / notebook
    # batch runs (`shortcutlab run`) draw no progress bars: in a kernel they are widgets, stale in the saved notebook
    progress = os.environ.get("SHORTCUTLAB_BATCH") != "1"
    note = preset_note(cfg)
    if note:
        from .report import _show
        try:
            from IPython.display import Markdown
            _show(Markdown(f"*{note}*"))
        except ImportError:  # pragma: no cover - IPython comes with ipykernel
            pass
    return Session(cfg, Study(cfg, progress=progress), open_report(report_dir))


def preset_note(cfg: Config) -> str:
    """One line under a notebook's first cell when its text will not match what it shows: the smoke preset
    (numbers not meaningful) or real data (the text describes the phantoms at the default preset)."""
    real = [f"{c} = {cfg.data[c]['source']}" for c in ("cm", "acdc", "echo", "echo_ood")
            if cfg.data[c]["source"] != "phantom"]
    if cfg.name == "smoke":
        return ("Smoke preset: tiny sizes and one epoch, to check that everything runs. The numbers are not "
                "meaningful; 'Reading the result' describes the default preset.")
    if real:
        return (f"Real data ({', '.join(real)}): 'Reading the result' describes the phantoms at the default preset; "
                f"parts that need a phantom are skipped with their reason.")
    return ""
