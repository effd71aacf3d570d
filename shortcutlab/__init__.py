"""shortcutlab: a notebook-first study package about shortcut learning in cardiac imaging.

Reproduces Nakashima et al. (MLHC 2023, contextual bias in cardiac MRI, contrastive self-supervision) and
Bransby et al. (MICCAI 2024, BackMix for echocardiography) on synthetic phantoms with a dial for the
shortcut, and reads the real formats for users who have them.

The names below are imported when first used (``sl.Study``, ``from shortcutlab import setup``), so a process that
needs only a light part (the notebook runner's client, the command line's help) does not pay for torch and timm.
"""
from __future__ import annotations

import importlib
from typing import Any

from ._validation import CacheError, DataError, ShortcutlabError
from ._version import __version__

# where each public name lives
_WHERE = {
    "setup": ".app.notebook", "Report": ".app.report", "open_report": ".app.report",
    "AuditBrowser": ".app.widgets", "DialSlider": ".app.widgets", "PredictFirst": ".app.widgets",
    "SaliencyBrowser": ".app.widgets",
    "AuditResult": ".auditing", "Preprocess": ".auditing", "audit": ".auditing", "load_model": ".auditing",
    "discover": ".auditing", "DiscoveryResult": ".auditing",
    "Config": ".config", "available_presets": ".config", "load_preset": ".config",
    "ImageSet": ".data", "calibrate_cmr": ".data", "load_acdc": ".data", "load_manifest": ".data",
    "load_tmed2": ".data", "make_cmr": ".data", "make_echo": ".data",
    "Condition": ".interventions", "get_condition": ".interventions", "list_conditions": ".interventions",
    "register_condition": ".interventions", "unregister_condition": ".interventions",
    "Study": ".study",
}

__all__ = ["__version__", "ShortcutlabError", "DataError", "CacheError", "Config", "load_preset",
           "available_presets", "ImageSet", "Report", "open_report", "make_cmr", "make_echo", "calibrate_cmr",
           "load_acdc", "load_manifest", "load_tmed2", "Study", "Condition", "register_condition",
           "unregister_condition", "get_condition", "list_conditions", "setup", "SaliencyBrowser", "DialSlider", "PredictFirst",
           "audit", "AuditResult", "Preprocess", "load_model", "AuditBrowser", "discover", "DiscoveryResult"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    else:  # a submodule (sl.plots, sl.metrics) that nothing has imported yet
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
