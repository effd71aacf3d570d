"""The study's data sets from a preset: phantom splits, generated once and cached on disk.

>>> cfg = load_preset("smoke")
>>> d = cmr_data(cfg, "cm")            # {'train', 'val', 'test', 'test_decorrelated'}
>>> e = echo_data(cfg)                 # {'train', 'val', 'test', 'ood'}
"""
from __future__ import annotations

from pathlib import Path

from ..config import Config
from .imageset import ImageSet
from .cache import cached_imageset
from .phantoms import PHANTOM_VERSION, make_cmr, make_echo
from .._paths import project_path

__all__ = ["cmr_data", "echo_data", "data_cache_dir"]


def data_cache_dir(cfg: Config) -> Path | bool:
    if not cfg.data.cache:
        return False
    return project_path(cfg.study.root) / "data"


def _phantom(key: dict, fn, cfg: Config, cache_dir: Path | bool | None) -> ImageSet:
    return cached_imageset(key, fn, data_cache_dir(cfg) if cache_dir is None else cache_dir)


def cmr_data(cfg: Config, cohort: str = "cm", *, strength: float | None = None, spurious: str | None = None,
             systemic: bool | None = None, n: int | None = None, seed: int | None = None,
             cache_dir: Path | bool | None = None) -> dict[str, ImageSet]:
    """Cardiac MRI phantom of ``cohort`` split 70/30 (train/test, val taken from train) plus a test set of
    new patients with the spurious cue decorrelated (strength 0): ``test_decorrelated``.

    ``cache_dir``: where generated sets are kept (default ``<study.root>/data``; False: no cache)."""
    d = cfg.data
    strength = d.cmr_spurious_strength if strength is None else float(strength)
    spurious = d.cmr_spurious_kind if spurious is None else spurious
    systemic = d.cmr_systemic if systemic is None else systemic
    n = d.cmr_n if n is None else n
    seed = d.seed if seed is None else seed
    offset = {"cm": 0, "acdc": 7919}[cohort] if cohort in ("cm", "acdc") else 0
    key = dict(loader="cmr", cohort=cohort, n=n, size=d.cmr_size, spurious=spurious, strength=strength,
               systemic=systemic, seed=seed + offset, v=PHANTOM_VERSION)
    full = _phantom(key, lambda: make_cmr(cohort, n, d.cmr_size, spurious=spurious, strength=strength,
                                          systemic=systemic, seed=seed + offset), cfg, cache_dir)
    parts = full.split(test=d.test_fraction, val=d.val_fraction * (1 - d.test_fraction), seed=seed)
    n_test = len(parts["test"])
    key_dec = dict(key, strength=0.0, n=n_test, seed=seed + offset + 104729)
    parts["test_decorrelated"] = _phantom(
        key_dec, lambda: make_cmr(cohort, n_test, d.cmr_size, spurious=spurious, strength=0.0, systemic=systemic,
                                  seed=seed + offset + 104729), cfg, cache_dir)
    return parts


def echo_data(cfg: Config, *, overlay_strength: float | None = None, seed: int | None = None,
              cache_dir: Path | bool | None = None) -> dict[str, ImageSet]:
    """Echo phantom: i.d. site split 80/10/10 by patient, plus the o.o.d. sites as ``ood`` (``cache_dir`` as in
    :func:`cmr_data`)."""
    d = cfg.data
    st = d.echo_overlay_strength if overlay_strength is None else float(overlay_strength)
    seed = d.seed if seed is None else seed
    key = dict(loader="echo", site="id", n=d.echo_n, size=d.echo_size, strength=st, seed=seed, v=PHANTOM_VERSION)
    full = _phantom(key, lambda: make_echo("id", d.echo_n, d.echo_size, overlay_strength=st, seed=seed), cfg, cache_dir)
    parts = full.split(test=d.echo_test_fraction, val=d.echo_val_fraction, seed=seed)
    key_ood = dict(loader="echo", site="ood", n=d.echo_ood_n, size=d.echo_size, seed=seed + 31337, v=PHANTOM_VERSION)
    parts["ood"] = _phantom(key_ood, lambda: make_echo("ood", d.echo_ood_n, d.echo_size, seed=seed + 31337),
                           cfg, cache_dir)
    return parts
