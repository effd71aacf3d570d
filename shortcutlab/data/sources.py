"""The study's cohorts from a preset: each names a data source, converted once, cached, and split.

A preset's ``data`` section names a **source** for each cohort the study uses (``cm``, ``acdc``, ``echo``,
``echo_ood``)::

    data:
      acdc: {source: acdc, path: /data/ACDC/database/training}
      cm:   {source: manifest, path: /data/mycohort/manifest.csv, label_map: {"0": normal, "1": disease}}
      echo: {source: tmed2, path: /data/TMED2, masks: estimate}
      echo_ood: {source: folder, path: /data/other_site, masks: estimate}

or on the command line: ``--set data.acdc.source=acdc --set data.acdc.path=/data/ACDC/database/training``.
``phantom`` (the default) generates the built-in phantoms exactly as before. :data:`SOURCES` declares each
source's options once (their defaults, their checks and their documentation); everything is validated when
the preset loads, before anything trains.

>>> cfg = load_preset("smoke")
>>> d = cohort_data(cfg, "cm")          # {'train', 'val', 'test', 'test_decorrelated', 'test_aligned', 'test_conflict'}
>>> e = cohort_data(cfg, "echo")        # {'train', 'val', 'test', 'ood'}
"""
from __future__ import annotations

import csv
import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from .._paths import project_path
from .._validation import DataError, ShortcutlabError, check_choice, check_int, closest, param_error
from .cache import cached_imageset
from .imageset import ImageSet
from .phantoms import COHORTS as PHANTOM_CLASSES, PHANTOM_VERSION, make_cmr, make_echo

__all__ = ["cmr_data", "echo_data", "cohort_data", "data_cache_dir", "SOURCES", "COHORTS", "validate_source",
           "is_phantom", "source_of", "split_table", "PHANTOM_ONLY"]

COHORTS = ("cm", "acdc", "echo", "echo_ood")
MRI_COHORTS = ("cm", "acdc")
# what only a phantom can give, and why: the reason the report prints where a row or figure is absent
PHANTOM_ONLY = {
    "test_decorrelated": "the cue-decorrelated test set needs a phantom: only generated data can re-draw the "
                         "spurious cue independently of the class",
    "dial": "the shortcut dial needs a phantom: only generated data has a spurious cue whose strength can be set",
    "calibration": "the cue calibration needs a phantom: it measures the built-in cues at set strengths",
}


@dataclass(frozen=True)
class Option:
    kind: str                  # path | dir | file | int | str | choice | list[str] | map
    default: Any = None
    choices: tuple = ()
    doc: str = ""


@dataclass(frozen=True)
class Source:
    """One kind of data source: its options, which cohorts may use it, and whether it brings its own split."""

    name: str
    modalities: tuple          # "mri", "echo"
    options: Mapping[str, Option] = field(default_factory=dict)
    doc: str = ""


_MASKS = Option("choice", "file", ("file", "estimate", "none"),
                "file: masks beside the images where present; estimate: sector_mask() on every image; none")
_SIZE = Option("int", None, doc="pixels (default: data.cmr_size for MRI cohorts, data.echo_size for echo)")
SOURCES: dict[str, Source] = {
    "phantom": Source("phantom", ("mri", "echo"), {}, "the built-in synthetic cohort (data.cmr_* / data.echo_*)"),
    "acdc": Source("acdc", ("mri",), {
        "path": Option("dir", doc="the challenge folder holding patientXXX/ (e.g. ACDC/database/training)"),
        "size": _SIZE,
        "slices": Option("choice", "mid", ("mid", "all"), "mid-ventricular slice, or every slice with heart labels"),
    }, "ACDC challenge layout: ED and ES frames from Info.cfg, labels 1-3 merged into the heart mask"),
    "tmed2": Source("tmed2", ("echo",), {
        "path": Option("dir", doc="the TMED2 release folder (or BackMix's .npy layout: <split>/<id>_<VIEW>.npy)"),
        "size": _SIZE,
        "csv": Option("str", "", doc="labels CSV relative to path (default: the one CSV with query_key)"),
        "views": Option("list[str]", ["PLAX", "PSAX", "A2C", "A4C"], doc="the view classes, in order"),
        "split_column": Option("str", "view_classifier_split"),
        "label_column": Option("str", "view_label"),
        "masks": _MASKS,
    }, "the official TMED2 release: labelled PNGs and the labels CSV with its view and split columns"),
    "folder": Source("folder", ("mri", "echo"), {
        "path": Option("dir", doc="one sub-folder per class holding .png / .npy / .nii.gz images"),
        "size": _SIZE,
        "classes": Option("list[str]", None, doc="class order (default: the sub-folders, sorted)"),
        "group_regex": Option("str", "", doc="regex whose first group is the patient id in a file name"),
        "masks": _MASKS,
    }, "one folder per class; masks beside images as <name>_mask.<ext>"),
    "manifest": Source("manifest", ("mri", "echo"), {
        "path": Option("file", doc="a CSV with image, label and optional mask, split, group columns"),
        "size": _SIZE,
        "classes": Option("list[str]", None, doc="class order (default: the labels, sorted)"),
        "label_map": Option("map", None, doc="rename labels first, e.g. {'0': normal, '1': disease}"),
        "masks": _MASKS,
    }, "a CSV manifest; paths relative to the CSV"),
}


def _where(cohort: str, preset: str) -> str:
    return f"data.{cohort} of preset {preset!r}"


def validate_source(cohort: str, value: Any, preset: str = "?") -> dict:
    """The source dict of ``cohort`` checked and completed with its defaults (a plain name means
    ``{'source': name}``). Raises a ShortcutlabError naming the key, the value and what is allowed."""
    where = _where(cohort, preset)
    if value is None or isinstance(value, str):
        value = {"source": value or "phantom"}
    if not isinstance(value, Mapping):
        raise param_error(f"data.{cohort}", f"preset {preset!r}", "a source name or a mapping like "
                          "{source: acdc, path: /data/ACDC/database/training}", value)
    name = value.get("source", "phantom")
    if name not in SOURCES:
        near = closest(str(name), SOURCES)
        raise param_error("source", where, f"one of {', '.join(map(repr, SOURCES))}", name,
                          hint=f"Did you mean {near[0]!r}?" if near else "")
    src = SOURCES[name]
    modality = "mri" if cohort in MRI_COHORTS else "echo"
    if modality not in src.modalities:
        ok = [n for n, s in SOURCES.items() if modality in s.modalities]
        raise param_error("source", where, f"one of {', '.join(map(repr, ok))} for an {modality.upper()} cohort",
                          name)
    out: dict[str, Any] = {"source": name}
    for key in value:
        if key != "source" and key not in src.options:
            near = closest(str(key), src.options)
            valid = ", ".join(src.options) or "none (a phantom is set by data.cmr_* / data.echo_*)"
            raise ShortcutlabError(f"Unknown option {key!r} in {where} (source {name!r}).{' Did you mean ' + repr(near[0]) + '?' if near else ''} "
                                   f"Valid options: {valid}.")
    for key, opt in src.options.items():
        v = value.get(key, opt.default)
        out[key] = _check_option(key, opt, v, where)
    if "path" in src.options:
        _probe(name, Path(out["path"]), out, where)
    return out


def _check_option(key: str, opt: Option, v: Any, where: str) -> Any:
    if opt.kind in ("dir", "file"):
        if not isinstance(v, (str, Path)) or not str(v).strip():
            raise param_error(key, where, f"the path of a {'folder' if opt.kind == 'dir' else 'file'}", v)
        p = project_path(Path(str(v)).expanduser())
        ok = p.is_dir() if opt.kind == "dir" else p.is_file()
        if not ok:
            what = "an existing folder" if opt.kind == "dir" else "an existing file"
            raise param_error(key, where, what + (" (relative paths are relative to the project root)"
                                                  if not Path(str(v)).is_absolute() else ""), str(v),
                              hint=f"Set it in the preset or with --set {where.split()[0]}.{key}=/path/to/your/data.")
        return str(p.resolve())
    if v is None:
        return None
    if opt.kind == "int":
        return check_int(v, name=key, where=where, lo=4, hi=1024)
    if opt.kind == "str":
        if not isinstance(v, str):
            raise param_error(key, where, "a string", v)
        return v
    if opt.kind == "choice":
        return check_choice(v, opt.choices, name=key, where=where)
    if opt.kind == "list[str]":
        if isinstance(v, str) or not isinstance(v, (list, tuple)) or len(v) < 2:
            raise param_error(key, where, "a list of at least two names, e.g. [normal, disease]", v)
        names = [str(x).strip() for x in v]
        if len(set(names)) != len(names) or not all(names):
            raise param_error(key, where, "distinct, non-empty names", v)
        return names
    if opt.kind == "map":
        if not isinstance(v, Mapping) or not v:
            raise param_error(key, where, "a mapping of labels to class names, e.g. {'0': normal, '1': disease}", v)
        return {str(a).strip(): str(b).strip() for a, b in v.items()}
    raise AssertionError(opt.kind)  # programming error


def _probe(name: str, path: Path, opts: dict, where: str) -> None:
    """Cheap format checks when the preset loads (the conversion itself names any bad file later)."""
    if name == "acdc" and not any(re.match(r"patient\d+$", p.name) and p.is_dir() for p in path.iterdir()):
        raise param_error("path", where, "an ACDC folder holding patientXXX/ sub-folders (e.g. "
                          "ACDC/database/training)", str(path))
    if name == "folder" and not any(p.is_dir() for p in path.iterdir()):
        raise param_error("path", where, "a folder with one sub-folder per class", str(path))
    if name == "manifest":
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                head = next(csv.reader(fh), [])
        except (OSError, UnicodeDecodeError) as e:
            raise param_error("path", where, "a readable UTF-8 CSV", str(path), hint=f"({type(e).__name__})") from None
        missing = [c for c in ("image", "label") if c not in head]
        if missing:
            raise param_error("path", where, "a CSV with 'image' and 'label' columns", str(path),
                              hint=f"Its columns are {head}.")
    if name == "tmed2":
        from .loaders import _tmed2_csv

        try:
            table = _tmed2_csv(path, opts["csv"] or None, opts["label_column"])
        except DataError as e:
            raise ShortcutlabError(f"The 'path' option of {where}: {e}") from None
        if table is None and not any(p.is_dir() for p in path.iterdir()):
            raise param_error("path", where, "the TMED2 release folder (a labels CSV with query_key and "
                              f"{opts['label_column']} columns) or split folders of <id>_<VIEW>.npy", str(path))


def source_of(cfg, cohort: str) -> dict:
    """The cohort's validated source dict (``{'source': 'phantom'}`` by default)."""
    return cfg.data[cohort]


def is_phantom(cfg, cohort: str) -> bool:
    return source_of(cfg, cohort)["source"] == "phantom"


def data_cache_dir(cfg) -> Path | bool:
    if not cfg.data.cache:
        return False
    return project_path(cfg.study.root) / "data"


def _phantom(key: dict, fn, cfg, cache_dir: Path | bool | None) -> ImageSet:
    return cached_imageset(key, fn, data_cache_dir(cfg) if cache_dir is None else cache_dir)


# ------------------------------------------------------------------------------------------------ phantoms
def cmr_data(cfg, cohort: str = "cm", *, strength: float | None = None, spurious: str | None = None,
             systemic: bool | None = None, n: int | None = None, seed: int | None = None,
             cache_dir: Path | bool | None = None) -> dict[str, ImageSet]:
    """Cardiac MRI phantom of ``cohort`` split 70/30 (train/test, val taken from train) plus new patients
    (``data.cmr_pairs_n`` for cm, the claims' cohort; otherwise as many as the test split) rendered three times, identical but for the spurious cue:
    random (``test_decorrelated``, strength 0), agreeing with the label (``test_aligned``) and pointing to another
    class (``test_conflict``, the cue-conflict group).

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
    n_pairs = (d.cmr_pairs_n if cohort == "cm" else 0) or len(parts["test"])  # cm: the cohort the claims read
    pseed = seed + offset + 104729
    k = len(PHANTOM_CLASSES[cohort])
    # new patients, balanced and shuffled, rendered three times: cue random, agreeing, conflicting
    labels = (torch.arange(n_pairs) % k)[torch.randperm(n_pairs, generator=torch.Generator().manual_seed(pseed))]
    conflict = (labels + torch.randint(1, k, (n_pairs,), generator=torch.Generator().manual_seed(pseed + 1))) % k
    for name, cue in (("test_decorrelated", None), ("test_aligned", labels), ("test_conflict", conflict)):
        key_p = dict(key, strength=0.0, n=n_pairs, seed=pseed, render=name)
        parts[name] = _phantom(
            key_p, lambda cue=cue: make_cmr(cohort, n_pairs, d.cmr_size, spurious=spurious, strength=0.0,
                                            systemic=systemic, seed=pseed, labels=labels, cue=cue), cfg, cache_dir)
    return parts


def echo_data(cfg, *, overlay_strength: float | None = None, seed: int | None = None,
              cache_dir: Path | bool | None = None) -> dict[str, ImageSet]:
    """Echo phantom: i.d. site split 80/10/10 by patient, plus the o.o.d. sites as ``ood`` and the same o.o.d.
    sectors under four background counterfactuals (:data:`OOD_BACKGROUND_SETS`: the i.d. overlay agreeing with the
    view, the i.d. overlay pointing to another view, a vendor layout sharing no code with the i.d. site, black);
    ``cache_dir`` as in :func:`cmr_data`."""
    d = cfg.data
    st = d.echo_overlay_strength if overlay_strength is None else float(overlay_strength)
    seed = d.seed if seed is None else seed
    key = dict(loader="echo", site="id", n=d.echo_n, size=d.echo_size, strength=st, seed=seed, v=PHANTOM_VERSION)
    full = _phantom(key, lambda: make_echo("id", d.echo_n, d.echo_size, overlay_strength=st, seed=seed), cfg, cache_dir)
    parts = full.split(test=d.echo_test_fraction, val=d.echo_val_fraction, seed=seed)
    parts["ood"] = _echo_ood_phantom(cfg, seed, cache_dir)
    for name, bg in OOD_BACKGROUND_SETS.items():
        parts[name] = _echo_ood_phantom(cfg, seed, cache_dir, bg)
    return parts


def _echo_ood_phantom(cfg, seed: int, cache_dir, background: str = "site") -> ImageSet:
    d = cfg.data
    key_ood = dict(loader="echo", site="ood", n=d.echo_ood_n, size=d.echo_size, seed=seed + 31337, v=PHANTOM_VERSION,
                   **({} if background == "site" else {"background": background}))
    return _phantom(key_ood, lambda: make_echo("ood", d.echo_ood_n, d.echo_size, seed=seed + 31337,
                                               background=background), cfg, cache_dir)


# the o.o.d. sectors again, under four backgrounds each (phantom only): the set name -> make_echo's background
OOD_BACKGROUND_SETS = {"ood_bg_agree": "id_agree", "ood_bg_conflict": "id_conflict", "ood_bg_vendor": "vendor",
                       "ood_bg_black": "black"}


# ------------------------------------------------------------------------------------------------ real data
def _size(cfg, cohort: str, src: dict) -> int:
    if src.get("size"):
        return src["size"]
    return cfg.data.cmr_size if cohort in MRI_COHORTS else cfg.data.echo_size


def _convert(cfg, cohort: str, src: dict, cache_dir) -> ImageSet | dict[str, ImageSet]:
    """The source's files as one ImageSet (or, for TMED2, one per split), converted once and cached."""
    from . import loaders

    cd = data_cache_dir(cfg) if cache_dir is None else cache_dir
    size, name = _size(cfg, cohort, src), src["source"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if name == "acdc":
            out = loaders.load_acdc(src["path"], size=size, slices=src["slices"], cache_dir=cd)
        elif name == "manifest":
            out = loaders.load_manifest(src["path"], size=size, classes=src["classes"], label_map=src["label_map"],
                                        cache_dir=cd)
        elif name == "folder":
            out = loaders.load_folder(src["path"], size=size, classes=src["classes"],
                                      group_regex=src["group_regex"] or None, cache_dir=cd)
        elif name == "tmed2":
            out = loaders.load_tmed2(src["path"], size=size, views=src["views"], csv_path=src["csv"] or None,
                                     split_column=src["split_column"], label_column=src["label_column"], cache_dir=cd)
        else:  # pragma: no cover - validate_source admits only the names above
            raise AssertionError(name)
    for w in caught:  # the loaders' counts of skipped rows, said once more with the cohort's name
        warnings.warn(f"data.{cohort} ({name}): {w.message}", stacklevel=3)
    if src.get("masks") == "estimate":
        from ..masks import sector_mask

        def estimate(s: ImageSet) -> ImageSet:
            return ImageSet(images=s.images, labels=s.labels, class_names=s.class_names, masks=sector_mask(s.images),
                            groups=s.groups, meta=dict(s.meta), frame_names=s.frame_names, name=s.name)
        out = {k: estimate(v) for k, v in out.items()} if isinstance(out, dict) else estimate(out)
    elif src.get("masks") == "none":
        def drop(s: ImageSet) -> ImageSet:
            return ImageSet(images=s.images, labels=s.labels, class_names=s.class_names, masks=None,
                            groups=s.groups, meta=dict(s.meta), frame_names=s.frame_names, name=s.name)
        out = {k: drop(v) for k, v in out.items()} if isinstance(out, dict) else drop(out)
    return out


def _source_splits(s: ImageSet, where: str) -> dict[str, np.ndarray] | None:
    """The sample indices of each split named by the source (a manifest's ``split`` column), or None."""
    from .loaders import SPLIT_NAMES

    col = s.meta.get("split")
    if col is None or not any(col):
        return None
    empty = [i for i, v in enumerate(col) if not v]
    if empty:
        raise DataError(f"The 'split' column of {where} is empty for {len(empty)} of {len(col)} rows (e.g. data row "
                        f"{empty[0] + 1}); give every row a split (train, val, test) or none.")
    bad = sorted({v for v in col if v.lower() not in SPLIT_NAMES})
    if bad:
        raise DataError(f"The 'split' column of {where} must hold train, val or test (or training, valid, "
                        f"validation, testing). Got {bad[:5]} instead.")
    names = np.array([SPLIT_NAMES[v.lower()] for v in col])
    return {k: np.flatnonzero(names == k) for k in ("train", "val", "test") if (names == k).any()}


def _check_no_leak(parts: Mapping[str, ImageSet], where: str) -> None:
    """A patient sits in one split only (the source's own split included)."""
    seen: dict[str, set] = {}
    for name, s in parts.items():
        pids = s.meta.get("patient") or s.meta.get("group_name") or [str(int(g)) for g in s.groups]
        seen[name] = set(pids)
    names = list(seen)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = seen[a] & seen[b]
            if both:
                raise DataError(f"The splits of {where} share {len(both)} patient(s) between {a!r} and {b!r} "
                                f"(e.g. {sorted(both)[:3]}); a patient must sit in one split only, or the test "
                                f"measures memory. Fix the source's split column or its patient ids.")


def _real_splits(cfg, cohort: str, src: dict, cache_dir) -> dict[str, ImageSet]:
    d = cfg.data
    where = f"data.{cohort} ({src['source']} {src.get('path', '')!r})"
    mri = cohort in MRI_COHORTS
    test, val = (d.test_fraction, d.val_fraction * (1 - d.test_fraction)) if mri else (d.echo_test_fraction,
                                                                                       d.echo_val_fraction)
    conv = _convert(cfg, cohort, src, cache_dir)
    if isinstance(conv, dict):  # TMED2: the release's own split
        parts = dict(conv)
    else:
        own = _source_splits(conv, where)
        if own is None:
            parts = conv.split(test=test, val=val, seed=d.seed)
        else:
            parts = {k: conv.subset(torch.from_numpy(v), name=f"{conv.name}/{k}") for k, v in own.items()}
    for k, s in parts.items():
        s.name = f"{cohort}/{k}"
    if "train" not in parts or "test" not in parts:
        raise DataError(f"The source's split of {where} must have a 'train' and a 'test' part. Got "
                        f"{sorted(parts)} instead.")
    if "val" not in parts:  # the source has train and test only: val comes from train, grouped and stratified
        tr = parts["train"].split(test=val / (1 - test), seed=d.seed)
        parts["train"], parts["val"] = tr["train"], tr["test"]
        parts["train"].name, parts["val"].name = f"{cohort}/train", f"{cohort}/val"
    _check_no_leak(parts, where)
    return {k: parts[k] for k in ("train", "val", "test")}


def cohort_data(cfg, cohort: str = "cm", *, strength: float | None = None,
                cache_dir: Path | bool | None = None) -> dict[str, ImageSet]:
    """The cohort's splits from its source: ``train``, ``val``, ``test`` (plus ``test_decorrelated`` for an MRI
    phantom and ``ood`` for echo, from ``data.echo_ood``).

    ``strength`` (the spurious cue's) can only be set on a phantom."""
    check_choice(cohort, ("cm", "acdc", "echo"), name="cohort", where="cohort_data")
    src = source_of(cfg, cohort)
    if src["source"] == "phantom":
        if cohort == "echo":
            parts = echo_data(cfg, overlay_strength=strength, cache_dir=cache_dir)
            if not is_phantom(cfg, "echo_ood"):  # real o.o.d. images: no background counterfactuals of them
                parts = {k: v for k, v in parts.items() if k not in OOD_BACKGROUND_SETS}
                parts["ood"] = _ood_set(cfg, parts["train"], cache_dir)
            return parts
        return cmr_data(cfg, cohort, strength=strength, cache_dir=cache_dir)
    if strength is not None:
        raise ShortcutlabError(f"The 'strength' parameter (of the spurious cue) can only be set for a phantom cohort; "
                               f"data.{cohort} is the {src['source']} source {src.get('path', '')!r}. "
                               f"{PHANTOM_ONLY['dial']}.")
    parts = _real_splits(cfg, cohort, src, cache_dir)
    if cohort == "echo":
        if is_phantom(cfg, "echo_ood"):
            raise ShortcutlabError(f"data.echo is the {src['source']} source {src.get('path', '')!r}, so data.echo_ood "
                                   f"must name real data too (a second site: folder, manifest or tmed2); the phantom's "
                                   f"o.o.d. sites are not the same views from another hospital.")
        parts["ood"] = _ood_set(cfg, parts["train"], cache_dir)
    return parts


def _ood_set(cfg, train: ImageSet, cache_dir) -> ImageSet:
    src = source_of(cfg, "echo_ood")
    conv = _convert(cfg, "echo_ood", src, cache_dir)
    s = ImageSet.concat(list(conv.values())) if isinstance(conv, dict) else conv
    if tuple(s.class_names) != tuple(train.class_names) and set(s.class_names) == set(train.class_names):
        # the same classes in another order (folders sort by name): the i.d. order, labels renumbered to it
        order = torch.tensor([list(train.class_names).index(c) for c in s.class_names])
        s = ImageSet(images=s.images, labels=order[s.labels], class_names=tuple(train.class_names), masks=s.masks,
                     has_mask=s.has_mask, groups=s.groups, meta=dict(s.meta), frame_names=s.frame_names, name=s.name)
    if tuple(s.class_names) != tuple(train.class_names):
        raise DataError(f"data.echo_ood ({src['source']} {src.get('path', '')!r}) must have the classes of data.echo, "
                        f"{list(train.class_names)}, in that order. Got {list(s.class_names)} instead; set its "
                        f"'classes' (or 'views') option.")
    s.name = "echo_ood/ood"
    return s


def fingerprint(parts: Mapping[str, ImageSet]) -> str:
    """SHA-256 (16 hex digits) of the splits' images, labels and masks: the data part of a run's cache key."""
    h = hashlib.sha256()
    for k in sorted(parts):
        s = parts[k]
        h.update(k.encode())
        for t in (s.images, s.labels, s.has_mask) + ((s.masks,) if s.masks is not None else ()):
            h.update(np.ascontiguousarray(t.cpu().numpy()).tobytes())
    return h.hexdigest()[:16]


def split_table(parts: Mapping[str, ImageSet], cohort: str, source: Mapping[str, Any]) -> "Any":
    """Images per class and split (and how many carry a mask): what the report states for every cohort."""
    import pandas as pd

    rows = []
    for k, s in parts.items():
        counts = s.class_counts()
        rows.append({"cohort": cohort, "source": source["source"], "split": k, "images": len(s),
                     "patients": int(torch.unique(s.groups).numel()), "with_mask": int(s.has_mask.sum()),
                     "per_class": ", ".join(f"{c} {v}" for c, v in counts.items())})
    return pd.DataFrame(rows)
