"""Data: the one container every step consumes, and everything that makes one.

* :mod:`~shortcutlab.data.imageset`: :class:`ImageSet` (uint8 images ``[N, F, H, W]``, bool masks, labels, groups).
* :mod:`~shortcutlab.data.phantoms`: the synthetic cardiac MRI and echo phantoms with a dial for the shortcut.
* :mod:`~shortcutlab.data.loaders`: real formats (ACDC, the TMED2 release, class folders, a manifest CSV).
* :mod:`~shortcutlab.data.sources`: each cohort's source named in the preset, split into train / val / test.
* :mod:`~shortcutlab.data.examples`: the real layouts written from the phantoms (tests, trying a source).
* :mod:`~shortcutlab.data.cache`: converted sets kept on disk and verified before use.
* :mod:`~shortcutlab.data.calibration`: how strong each cue is, by a linear probe on pixels.
"""
from .calibration import calibrate_cmr
from .imageset import ImageSet
from .loaders import load_acdc, load_folder, load_manifest, load_tmed2
from .phantoms import make_cmr, make_echo
from .sources import cmr_data, cohort_data, echo_data

__all__ = ["ImageSet", "make_cmr", "make_echo", "load_acdc", "load_manifest", "load_tmed2", "load_folder", "cmr_data",
           "echo_data", "cohort_data", "calibrate_cmr"]
