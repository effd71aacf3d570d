"""The study: the cache of trained runs and each paper's experiments on it.

* :mod:`~shortcutlab.study.cache`: :class:`Study` (train or load a condition), :class:`Run` (its metrics,
  model and maps), :class:`PretrainRun`.
* :mod:`~shortcutlab.study.mri`, :mod:`~shortcutlab.study.backmix`, :mod:`~shortcutlab.study.dial`: the
  experiments, one call each.
* :mod:`~shortcutlab.study.claims`: the directions the papers report, checked; :mod:`~shortcutlab.study.findings`:
  what each notebook records.
* :mod:`~shortcutlab.study.reference`: the papers' numbers.
"""
from .cache import CACHE_FORMAT, PretrainRun, Run, Study

__all__ = ["Study", "Run", "PretrainRun", "CACHE_FORMAT"]
