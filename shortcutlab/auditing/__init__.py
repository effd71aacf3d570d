"""Audit a model the user already has: does it read the background?

``sl.audit(model, data, preprocess=...)`` runs the battery (:mod:`shortcutlab.auditing.battery`) on a masked test
set and returns an :class:`AuditResult` with its tables, verdicts and a one-line answer; :func:`load_model` reads
the model from a file (TorchScript, ``torch.export``, or a state dict with its timm architecture). The command
``shortcutlab audit`` writes the same as an HTML report. Without masks, :func:`discover` clusters the model's maps,
names the region each cluster reads and tests it with a counterfactual (``shortcutlab discover``).
"""
from .battery import OVERALL_CODES, TESTS, VARIANTS, AuditResult, audit, counterfactual_images, draw_donors, overall_code
from .discover import DiscoveryResult, discover
from .entry import (answers, audit_file, audit_models, audit_runs, backgrounds_table, discover_file, discover_models,
                    discovery_table, load_audit_data, localisation_table, tests_table)
from .model import Preprocess, Prepared, find_target_layer, load_model, model_kind

__all__ = ["audit", "AuditResult", "Preprocess", "Prepared", "load_model", "model_kind", "find_target_layer",
           "draw_donors", "counterfactual_images", "VARIANTS", "TESTS", "audit_file", "audit_models", "audit_runs", "load_audit_data",
           "answers", "tests_table", "backgrounds_table", "localisation_table", "OVERALL_CODES", "overall_code", "discover", "DiscoveryResult", "discover_file",
           "discover_models", "discovery_table"]
