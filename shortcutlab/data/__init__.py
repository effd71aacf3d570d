"""Data: the one container every step consumes, and everything that makes one.

* :mod:`~shortcutlab.data.imageset`: :class:`ImageSet` (uint8 images ``[N, F, H, W]``, bool masks, labels, groups).
* :mod:`~shortcutlab.data.phantoms`: the synthetic cardiac MRI and echo phantoms with a dial for the shortcut.
* :mod:`~shortcutlab.data.loaders`: real formats (ACDC, a manifest CSV, TMED2).
* :mod:`~shortcutlab.data.sources`: a preset's cohorts as train / val / test splits.
* :mod:`~shortcutlab.data.cache`: converted sets kept on disk and verified before use.
* :mod:`~shortcutlab.data.calibration`: how strong each cue is, by a linear probe on pixels.
"""
from .calibration import calibrate_cmr
from .imageset import ImageSet
from .loaders import load_acdc, load_manifest, load_tmed2
from .phantoms import make_cmr, make_echo
from .sources import cmr_data, echo_data

__all__ = ["ImageSet", "make_cmr", "make_echo", "load_acdc", "load_manifest", "load_tmed2", "cmr_data", "echo_data",
           "calibrate_cmr"]
