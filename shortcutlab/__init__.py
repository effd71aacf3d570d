"""shortcutlab: a notebook-first study package about shortcut learning in cardiac imaging.

Reproduces Nakashima et al. (MLHC 2023, contextual bias in cardiac MRI, contrastive self-supervision) and
Bransby et al. (MICCAI 2024, BackMix for echocardiography) on synthetic phantoms with a dial for the
shortcut, and reads the real formats for users who have them.
"""
from ._validation import CacheError, DataError, ShortcutlabError
from ._version import __version__
from .app.notebook import setup
from .app.report import Report, open_report
from .app.widgets import AuditBrowser, DialSlider, PredictFirst, SaliencyBrowser
from .auditing import AuditResult, Preprocess, audit, load_model
from .config import Config, available_presets, load_preset
from .data import ImageSet, calibrate_cmr, load_acdc, load_manifest, load_tmed2, make_cmr, make_echo
from .interventions import Condition, get_condition, list_conditions, register_condition, unregister_condition
from .study import Study

__all__ = ["__version__", "ShortcutlabError", "DataError", "CacheError", "Config", "load_preset",
           "available_presets", "ImageSet", "Report", "open_report", "make_cmr", "make_echo", "calibrate_cmr",
           "load_acdc", "load_manifest", "load_tmed2", "Study", "Condition", "register_condition",
           "unregister_condition", "get_condition", "list_conditions", "setup", "SaliencyBrowser", "DialSlider", "PredictFirst",
           "audit", "AuditResult", "Preprocess", "load_model", "AuditBrowser"]
