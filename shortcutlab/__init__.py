"""shortcutlab: a notebook-first study package about shortcut learning in cardiac imaging.

Reproduces Nakashima et al. (MLHC 2023, contextual bias in cardiac MRI, contrastive self-supervision) and
Bransby et al. (MICCAI 2024, BackMix for echocardiography) on synthetic phantoms with a dial for the
shortcut, and reads the real formats for users who have them.
"""
from ._validation import CacheError, DataError, ShortcutlabError
from ._version import __version__
from .config import Config, available_presets, load_preset
from .imageset import ImageSet
from .report import Report, open_report

__all__ = ["__version__", "ShortcutlabError", "DataError", "CacheError", "Config", "load_preset",
           "available_presets", "ImageSet", "Report", "open_report"]
