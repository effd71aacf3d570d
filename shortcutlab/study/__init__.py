"""The study: the cache of trained runs and each paper's experiments on it.

* :mod:`~shortcutlab.study.study`: :class:`Study` (train or load a condition, the cohorts' data, plan mode).
* :mod:`~shortcutlab.study.store`: a cache entry's name, files and manifest.
* :mod:`~shortcutlab.study.runs`: :class:`Run` (its metrics, model and maps), :class:`PretrainRun`, and
  :class:`RunSet`, the flat records every experiment returns and every table, figure and claim takes.
* :mod:`~shortcutlab.study.mri`, :mod:`~shortcutlab.study.backmix`, :mod:`~shortcutlab.study.dial`: the
  experiments, one call each.
* :mod:`~shortcutlab.study.registry`: every claim in the form its paper states it, registered before a run (one
  module per paper and the lesson's), the findings map and the changelog; :mod:`~shortcutlab.study.claims`: each
  claim read on a run, one verdict each; :mod:`~shortcutlab.study.findings`: what each notebook records.
* :mod:`~shortcutlab.study.reference`: the papers' numbers.
"""
from .runs import PretrainRun, Run, RunSet
from .store import CACHE_FORMAT
from .study import Study

__all__ = ["Study", "Run", "PretrainRun", "RunSet", "CACHE_FORMAT"]
