"""Interventions: what a model is shown during training, in one vocabulary for code, presets and reports.

* :mod:`~shortcutlab.interventions.registry`: the :class:`Condition` record and the registry every part asks.
* :mod:`~shortcutlab.interventions.background`: both papers' background interventions, registered as the built-in
  conditions (``full``, ``seg``, ``bg``, ``rand``; ``baseline``, ``black``, ``noise``, ``shuffle``, ``bokeh``,
  ``cutmix``, ``backmix``, ``sma_variant``).
* :mod:`~shortcutlab.interventions.geometric`: batched geometric and intensity transforms, contrastive views.
* :mod:`~shortcutlab.interventions.pipeline`: :class:`BatchPipeline`, one training batch from resident tensors.
"""
from . import background  # noqa: F401 - registers the built-in conditions
from .background import apply_test_condition, intervene
from .geometric import GeometricParams
from .pipeline import BatchPipeline
from .registry import (Condition, condition_names, get_condition, list_conditions, register_condition,
                       unregister_condition)

__all__ = ["Condition", "register_condition", "unregister_condition", "get_condition", "list_conditions",
           "condition_names", "intervene", "apply_test_condition", "GeometricParams", "BatchPipeline"]
