"""Saliency: CAMs through the grad-cam package, two checks beyond saliency, and drawing.

* :mod:`~shortcutlab.saliency.cams`: :func:`compute_cams`, :func:`counterfactual_background`, :func:`sanity_check`.
* :mod:`~shortcutlab.saliency.draw`: :func:`overlay`, :func:`saliency_grid`.
* :mod:`~shortcutlab.saliency.cases`: :func:`select_cases`, which of a run's images to look at.

The overlap of a map with the object (AKS, DSC, %E, %F) is defined in :mod:`shortcutlab.metrics`; a study run's
maps, cached beside its weights, are ``run.cams(eval_set)``.
"""
from .cams import CAM_METHODS, cam_class, compute_cams, counterfactual_background, predict_tensor, sanity_check
from .cases import SORT_KEYS, select_cases
from .draw import overlay, saliency_grid

__all__ = ["CAM_METHODS", "cam_class", "compute_cams", "counterfactual_background", "predict_tensor", "sanity_check",
           "overlay", "saliency_grid", "select_cases", "SORT_KEYS"]
