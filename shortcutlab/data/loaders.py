"""Real data for users who have it: ACDC (NIfTI), a manifest CSV, TMED2-style folders.

Each loader converts its files once into an :class:`~shortcutlab.data.ImageSet` and caches it
(:func:`~shortcutlab.data.cache.cached_imageset`). Bad input raises :class:`~shortcutlab.DataError` naming the
file and the problem; no sample is dropped silently.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as tF

from .._validation import DataError, check_int
from .cache import cached_imageset
from .imageset import ImageSet
from .pixels import PIXEL_EXTS, Pixels

__all__ = ["load_acdc", "load_manifest", "load_tmed2", "load_folder", "ACDC_CLASSES", "TMED2_VIEWS", "read_image_file",
           "SPLIT_NAMES"]

ACDC_CLASSES = ("DCM", "HCM", "MINF", "NOR", "RV")
TMED2_VIEWS = ("PLAX", "PSAX", "A2C", "A4C")  # the release's view_label values, less A4CorA2CorOther
# split names a source may use -> the study's (a manifest's 'split' column, TMED2's view_classifier_split)
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}
_EXTS = (".npy", ".png", ".nii.gz", ".nii")


def _fit(arr: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """Centre-crop [..., H, W] to a square and resize to size x size (bilinear images, nearest masks)."""
    h, w = arr.shape[-2:]
    m = min(h, w)
    y0, x0 = (h - m) // 2, (w - m) // 2
    arr = arr[..., y0:y0 + m, x0:x0 + m]
    lead = arr.shape[:-2]
    x = arr.reshape(-1, 1, m, m).float()
    if mode == "nearest":
        x = tF.interpolate(x, size=(size, size), mode="nearest")
    else:
        x = tF.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.reshape(*lead, size, size)


def _to_u8(img: torch.Tensor) -> torch.Tensor:
    """Robust intensity normalisation per image (1st-99th percentile) to uint8."""
    flat = img.flatten().float()
    lo, hi = torch.quantile(flat, 0.01), torch.quantile(flat, 0.99)
    if hi <= lo:
        hi = lo + 1
    return ((img.float() - lo) / (hi - lo)).clamp(0, 1).mul(255).round().to(torch.uint8)


def read_image_file(path: str | Path) -> np.ndarray:
    """Read a 2-D array from ``.npy``, ``.png`` or ``.nii(.gz)`` (a 3-D NIfTI with one slice is accepted)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"The file {str(path)!r} does not exist.")
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            arr = np.load(path, allow_pickle=False)
        elif name.endswith(".png"):
            from PIL import Image
            with Image.open(path) as im:
                arr = np.asarray(im.convert("L"))
        elif name.endswith(".nii.gz") or name.endswith(".nii"):
            import nibabel as nib
            arr = np.asarray(nib.load(str(path)).dataobj)
        else:
            raise DataError(f"The file {str(path)!r} has an unsupported type; allowed: {', '.join(_EXTS)}.")
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - any reader failure is a clear data error
        raise DataError(f"The file {str(path)!r} could not be read ({type(e).__name__}: {e}).") from None
    arr = np.squeeze(arr)
    if arr.ndim != 2:
        raise DataError(f"The file {str(path)!r} must hold a 2-D image. Got shape {arr.shape} instead.")
    return _check_finite(arr, path)


def _check_finite(arr: np.ndarray, path: Path) -> np.ndarray:
    """NaN or Inf pixels are an error naming the file and the count (never zero-filled)."""
    if np.issubdtype(arr.dtype, np.floating):
        bad = int(arr.size - np.isfinite(arr).sum())
        if bad:
            raise DataError(f"The file {str(path)!r} has {bad} NaN or Inf pixel(s) out of {arr.size}; images must "
                            f"be finite (fix or mask them at the source).")
    return arr


def _mask_of(f: Path) -> Path:
    """The mask file that sits beside image ``f``: ``<name>_mask<ext>`` (``a.png`` -> ``a_mask.png``)."""
    ext = ".nii.gz" if f.name.lower().endswith(".nii.gz") else f.suffix
    return f.with_name(f.name[:-len(ext)] + "_mask" + ext)


def _check_binary(arr: np.ndarray, path: Path) -> np.ndarray:
    u = np.unique(arr)
    if not np.isin(u, (0, 1, 255, True, False)).all() or (0 < u.max() < 1):
        raise DataError(f"The mask {str(path)!r} must be binary (0/1, 0/255 or bool). Got values {u[:6].tolist()} instead.")
    return arr > 0


# --------------------------------------------------------------------------------------------------- ACDC
def _read_cfg(path: Path) -> dict[str, str]:
    if not path.exists():
        raise DataError(f"The ACDC info file {str(path)!r} does not exist (expected patientXXX/Info.cfg).")
    out = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    for field in ("ED", "ES", "Group"):
        if field not in out:
            raise DataError(f"The ACDC info file {str(path)!r} has no {field!r} field. Got fields {sorted(out)} instead.")
    return out


def _load_nii(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(f"The NIfTI file {str(path)!r} does not exist.")
    try:
        import nibabel as nib
        arr = np.asarray(nib.load(str(path)).dataobj)
    except Exception as e:  # noqa: BLE001
        raise DataError(f"The NIfTI file {str(path)!r} could not be read ({type(e).__name__}: {e}).") from None
    if arr.ndim > 3 and arr.shape[-1] == 1:  # (H, W, Z, 1): a trailing time axis of one frame
        shape = arr.shape
        while arr.ndim > 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        import warnings
        warnings.warn(f"The NIfTI file {str(path)!r} has shape {shape}: its trailing axes of length 1 (one time "
                      f"frame) were dropped, and it is read as {arr.shape}.", stacklevel=2)
    if arr.ndim not in (2, 3):
        raise DataError(f"The NIfTI file {str(path)!r} must hold one frame, (H, W) or (H, W, Z). Got shape "
                        f"{arr.shape} instead.")
    return _check_finite(arr, path)


def load_acdc(root: str | Path, *, size: int = 128, slices: str = "mid", cache_dir: str | Path | None = None) -> ImageSet:
    """ACDC challenge layout -> ImageSet with ED and ES frames and heart masks (labels 1-3 merged).

    ``root`` holds ``patientXXX/Info.cfg`` and ``patientXXX_frameYY(.nii.gz|_gt.nii.gz)``. The class is the
    ``Group`` of Info.cfg; ED/ES frame numbers come from Info.cfg. The mid-ventricular slice is the middle of
    the slices where the ED ground truth has heart labels (``slices='mid'``), or all such slices
    (``slices='all'``, grouped by patient).
    """
    root = Path(root)
    check_int(size, name="size", where="load_acdc", lo=4, hi=1024)
    if slices not in ("mid", "all"):
        from .._validation import param_error
        raise param_error("slices", "load_acdc", "one of 'mid', 'all'", slices)
    if not root.is_dir():
        raise DataError(f"The ACDC folder {str(root)!r} does not exist.")
    patients = sorted(p for p in root.iterdir() if p.is_dir() and re.match(r"patient\d+", p.name))
    if not patients:
        raise DataError(f"The ACDC folder {str(root)!r} has no patientXXX folders.")
    files = [f for p in patients for f in p.iterdir()]

    def build() -> ImageSet:
        imgs, masks, labels, groups, pids = [], [], [], [], []
        for gi, p in enumerate(patients):
            cfg = _read_cfg(p / "Info.cfg")
            group = cfg["Group"]
            if group not in ACDC_CLASSES:
                raise DataError(f"The 'Group' field of {str(p / 'Info.cfg')!r} must be one of "
                                f"{', '.join(ACDC_CLASSES)}. Got {group!r} instead.")
            frames = []
            for key in ("ED", "ES"):
                try:
                    fr = int(cfg[key])
                except ValueError:
                    raise DataError(f"The {key!r} field of {str(p / 'Info.cfg')!r} must be a frame number. "
                                    f"Got {cfg[key]!r} instead.") from None
                try:
                    nb = int(cfg.get("NbFrame", 10 ** 6))
                except ValueError:
                    raise DataError(f"The 'NbFrame' field of {str(p / 'Info.cfg')!r} must be a number of frames. "
                                    f"Got {cfg['NbFrame']!r} instead.") from None
                if fr < 1 or fr > nb:
                    raise DataError(f"The {key!r} frame of {str(p / 'Info.cfg')!r} must be in [1, {nb}] "
                                    f"(NbFrame). Got {fr} instead.")
                img_f = p / f"{p.name}_frame{fr:02d}.nii.gz"
                gt_f = p / f"{p.name}_frame{fr:02d}_gt.nii.gz"
                if not img_f.exists():
                    raise DataError(f"The {key} frame {fr} of {p.name} has no image file {str(img_f)!r} "
                                    f"(frame index out of range or file missing).")
                img, gt = _load_nii(img_f), _load_nii(gt_f)
                if img.shape != gt.shape:
                    raise DataError(f"The image {str(img_f)!r} and its mask {str(gt_f)!r} must have the same "
                                    f"shape. Got {img.shape} and {gt.shape} instead.")
                bad = np.setdiff1d(np.unique(gt), [0, 1, 2, 3])
                if bad.size:
                    raise DataError(f"The mask {str(gt_f)!r} must hold ACDC labels 0-3. Got {bad[:5].tolist()} instead.")
                frames.append((img, gt))
            (ed, _), (es, _) = frames
            if ed.shape != es.shape:
                raise DataError(f"The ED and ES frames of {p.name} must have the same shape (in-plane size and "
                                f"number of slices). Got {ed.shape} and {es.shape} instead.")
            ed_gt = frames[0][1]
            if ed_gt.ndim == 2:
                frames = [(i[..., None], g[..., None]) for i, g in frames]
                ed_gt = frames[0][1]
            z_heart = np.flatnonzero((ed_gt > 0).reshape(-1, ed_gt.shape[-1]).any(0))
            if z_heart.size == 0:
                raise DataError(f"The ED mask of {p.name} has no heart label in any slice.")
            zs = [int(z_heart[len(z_heart) // 2])] if slices == "mid" else z_heart.tolist()
            for z in zs:
                z_es = z  # same slice in ED and ES (their shapes are checked equal above)
                im = torch.stack([torch.from_numpy(np.ascontiguousarray(frames[0][0][..., z]).T.astype(np.float32)),
                                  torch.from_numpy(np.ascontiguousarray(frames[1][0][..., z_es]).T.astype(np.float32))])
                mk = torch.stack([torch.from_numpy(np.ascontiguousarray(frames[0][1][..., z]).T > 0),
                                  torch.from_numpy(np.ascontiguousarray(frames[1][1][..., z_es]).T > 0)])
                imgs.append(_to_u8(_fit(im, size, "bilinear")))
                masks.append(_fit(mk.float(), size, "nearest") > 0.5)
                labels.append(ACDC_CLASSES.index(group))
                groups.append(gi)
                pids.append(p.name)
        return ImageSet(images=torch.stack(imgs), labels=torch.tensor(labels), class_names=ACDC_CLASSES,
                        masks=torch.stack(masks), groups=torch.tensor(groups), meta={"patient": pids},
                        frame_names=("ED", "ES"), name="acdc")

    return cached_imageset({"loader": "acdc", "root": str(root.resolve()), "size": size, "slices": slices},
                           build, cache_dir, files)


# --------------------------------------------------------------------------------------------------- manifest
def _parse_box(text: str, shape: tuple, where: str) -> tuple[int, int, int, int]:
    """``x0,y0,x1,y1`` (integers, x1 and y1 exclusive) inside an image of ``shape`` (H, W), or a clear error."""
    try:
        x0, y0, x1, y1 = (int(v) for v in text.replace(";", ",").split(","))
    except ValueError:
        raise DataError(f"The 'box' field in {where} must be four integers x0,y0,x1,y1. Got {text!r} instead.") from None
    h, w = int(shape[-2]), int(shape[-1])
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise DataError(f"The 'box' field in {where} must satisfy 0 <= x0 < x1 <= {w} and 0 <= y0 < y1 <= {h} (the "
                        f"image is {w} × {h} px). Got {text!r} instead.")
    return x0, y0, x1, y1


def load_manifest(csv_path: str | Path, *, size: int = 128, classes: Sequence[str] | None = None,
                  label_map: dict[str, str] | None = None, cache_dir: str | Path | None = None,
                  pixels: "Pixels | None" = None) -> ImageSet:
    """A manifest CSV -> ImageSet.

    Columns: ``image`` (one path, or several frames separated by ``;``), optional ``mask`` (same number of
    paths, or empty for no mask) or ``box`` (``x0,y0,x1,y1`` in the image's pixels, x1 and y1 exclusive: the object
    region as a rectangle, for every frame of the row; ``meta['object_region']`` says which a row has), ``label``
    (class name), optional ``split`` and ``group``. Paths are relative
    to the CSV's folder; ``.npy``, ``.png``, ``.nii.gz``. ``classes`` fixes the class order (default: sorted
    labels); a label outside it is an error. Labels are stripped of surrounding spaces (``'a '`` is ``'a'``);
    an empty label, a truncated or over-long row, and NaN or Inf pixels are errors naming the row or file.
    ``label_map`` renames labels first (``{"0": "normal", "1": "disease"}``); a label it does not name is kept.
    Split names are kept in ``meta['split']``, file paths in ``meta['file']``.

    ``pixels`` None: the study's normalisation (grey, the centre square, each image stretched to its 1st–99th
    percentile, uint8). A :class:`~shortcutlab.data.pixels.Pixels` policy instead reads the files as a model saw
    them (float32, channels and bit depth kept, the policy's intensity and resize; JPEG and TIFF too), one colour
    frame per row; ``meta['format']`` and ``meta['shape']`` record each file's format and stored size.
    """
    csv_path = Path(csv_path)
    check_int(size, name="size", where="load_manifest", lo=4, hi=1024)
    if not csv_path.exists():
        raise DataError(f"The manifest {str(csv_path)!r} does not exist.")
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DataError(f"The manifest {str(csv_path)!r} has no rows.")
    for col in ("image", "label"):
        if col not in rows[0]:
            raise DataError(f"The manifest {str(csv_path)!r} must have a {col!r} column. "
                            f"Got columns {list(rows[0])} instead.")
    n_cols = len(rows[0])
    spaced: dict[str, list[int]] = {}
    for i, r in enumerate(rows, start=2):
        if None in r or any(v is None for v in r.values()):
            got = n_cols - sum(v is None for v in r.values()) + len(r.get(None) or [])
            raise DataError(f"Row {i} of the manifest {str(csv_path)!r} must have {n_cols} fields like the header. "
                            f"Got {got} instead (a truncated or over-long line).")
        if r["label"] != r["label"].strip():  # 'a ' and 'a' are one class, and the user is told
            spaced.setdefault(r["label"], []).append(i)
        r["label"] = r["label"].strip()
        if label_map:
            r["label"] = str(label_map.get(r["label"], r["label"])).strip()
        if not r["label"]:
            raise DataError(f"The 'label' field in row {i} of {str(csv_path)!r} is empty; every row needs a class.")
    if spaced:
        import warnings
        said = "; ".join(f"{lab!r} in row{'s' if len(ix) > 1 else ''} {', '.join(map(str, ix[:5]))}"
                         f"{' …' if len(ix) > 5 else ''} is read as {lab.strip()!r}" for lab, ix in spaced.items())
        warnings.warn(f"The 'label' field of the manifest {str(csv_path)!r} has labels with spaces around them: "
                      f"{said}. Remove the spaces if those rows are another class.", stacklevel=2)
    labels_seen = sorted({r["label"] for r in rows})
    classes = tuple(classes) if classes is not None else tuple(labels_seen)
    base = csv_path.parent
    files = [base / p for r in rows for col in ("image", "mask") for p in (r.get(col) or "").split(";") if p]

    def build() -> ImageSet:
        imgs, masks, has, labels, groups, splits, names, regions = [], [], [], [], [], [], [], []
        formats, shapes = [], []
        n_frames = n_chan = None
        for i, r in enumerate(rows, start=2):  # line numbers as a spreadsheet shows them
            where = f"row {i} of {str(csv_path)!r}"
            if r["label"] not in classes:
                raise DataError(f"The 'label' field in {where} must be one of {', '.join(classes)}. "
                                f"Got {r['label']!r} instead.")
            paths = [base / p for p in r["image"].split(";") if p]
            if not paths:
                raise DataError(f"The 'image' field in {where} is empty.")
            if n_frames is None:
                n_frames = len(paths)
            elif len(paths) != n_frames:
                raise DataError(f"The 'image' field in {where} must list {n_frames} frame(s) like the first row. "
                                f"Got {len(paths)} instead.")
            if pixels is None:
                frames = [read_image_file(p) for p in paths]
            else:
                frames, fmt = _read_as_trained(paths, pixels, where)
                if n_chan is None:
                    n_chan = (frames.shape[0], fmt)
                elif frames.shape[0] != n_chan[0]:
                    raise DataError(f"The 'image' field in {where} must have {n_chan[0]} channel(s) like the first "
                                    f"row ({n_chan[1]}). Got {frames.shape[0]} ({fmt}) instead; convert the files "
                                    f"to one colour mode.")
                formats.append(fmt)
                shapes.append("x".join(map(str, frames.shape[-2:])))
            if any(f.shape != frames[0].shape for f in frames):
                raise DataError(f"The frames in {where} must share one shape. Got {[f.shape for f in frames]} instead.")
            im = frames if pixels is not None else torch.from_numpy(np.stack(frames).astype(np.float32))
            fit = (lambda t, mask=False: _fit(t, size, "nearest" if mask else "bilinear")) if pixels is None else (
                lambda t, mask=False: pixels.fit(t, size, mask=mask))
            mpaths = [base / p for p in (r.get("mask") or "").split(";") if p]
            box = (r.get("box") or "").strip()
            if box and mpaths:
                raise DataError(f"The 'mask' and 'box' fields in {where} are both set; give the object region once.")
            if box:
                x0, y0, x1, y1 = _parse_box(box, frames[0].shape, where)
                bm = np.zeros(frames[0].shape[-2:], dtype=np.float32)
                bm[y0:y1, x0:x1] = 1.0
                masks.append(fit(torch.from_numpy(np.stack([bm] * im.shape[0])), mask=True) > 0.5)
                has.append(True)
                regions.append("box")
            elif mpaths:
                if len(mpaths) != len(paths):
                    raise DataError(f"The 'mask' field in {where} must list one mask per image frame "
                                    f"({len(paths)}). Got {len(mpaths)} instead.")
                ms = []
                for p, f in zip(mpaths, frames):
                    m = read_image_file(p)
                    if m.shape != f.shape[-2:]:
                        raise DataError(f"The mask {str(p)!r} must have its image's shape {tuple(f.shape[-2:])}. "
                                        f"Got {m.shape} instead.")
                    ms.append(_check_binary(m, p))
                if len(ms) != im.shape[0]:  # one mask for a colour image's channels
                    ms = ms * im.shape[0]
                masks.append(fit(torch.from_numpy(np.stack(ms)).float(), mask=True) > 0.5)
                has.append(True)
                regions.append("mask")
            else:
                masks.append(torch.zeros(im.shape[0], size, size, dtype=torch.bool))
                has.append(False)
                regions.append("")
            imgs.append(_to_u8(fit(im)) if pixels is None else fit(im))
            labels.append(classes.index(r["label"]))
            groups.append(r.get("group") or f"row{i}")
            splits.append((r.get("split") or "").strip())
            names.append(r["image"])
        _, gid = np.unique(np.array(groups), return_inverse=True)
        meta = {"split": splits, "group_name": groups, "file": names, "object_region": regions}
        if pixels is not None:
            meta.update(format=formats, shape=shapes)
        return ImageSet(images=torch.stack(imgs), labels=torch.tensor(labels), class_names=classes,
                        masks=torch.stack(masks), has_mask=torch.tensor(has), groups=torch.from_numpy(gid),
                        meta=meta, name=csv_path.stem,
                        frame_names=("R", "G", "B") if pixels is not None and n_chan[0] == 3 else None)

    return cached_imageset({"loader": "manifest", "csv": str(csv_path.resolve()), "size": size,
                            "classes": list(classes), "label_map": dict(label_map or {}),
                            **({"pixels": pixels.key()} if pixels is not None else {})}, build, cache_dir,
                           [csv_path, *files])


# --------------------------------------------------------------------------------------------------- TMED2
def _tmed2_csv(root: Path, csv_path: str | Path | None, label_column: str) -> Path | None:
    """The release's labels CSV: ``csv_path`` (relative to ``root``) or the one CSV under ``root`` (two levels)
    with ``query_key`` and ``label_column`` columns; None when there is none (the ``.npy`` folder layout)."""
    if csv_path:
        p = Path(csv_path)
        p = p if p.is_absolute() else root / p
        if not p.is_file():
            raise DataError(f"The TMED2 labels CSV {str(p)!r} does not exist (the release ships it as "
                            f"DEV479/TMED2_fold0_labeledpart.csv).")
        return p
    found = []
    for p in sorted([*root.glob("*.csv"), *root.glob("*/*.csv")]):
        with p.open(newline="") as fh:
            head = next(csv.reader(fh), [])
        if "query_key" in head and label_column in head:
            found.append(p)
    if len(found) > 1:
        raise DataError(f"The TMED2 folder {str(root)!r} holds {len(found)} labels CSVs "
                        f"({', '.join(str(f.relative_to(root)) for f in found[:4])}); name one with the 'csv' option.")
    return found[0] if found else None


def load_tmed2(root: str | Path, *, size: int = 112, views: Sequence[str] = TMED2_VIEWS, csv_path: str | Path | None = None,
               split_column: str = "view_classifier_split", label_column: str = "view_label",
               cache_dir: str | Path | None = None) -> dict[str, ImageSet]:
    """TMED2 -> one ImageSet per split (``train``, ``val``, ``test``), in either of two layouts.

    **The official release** (``root`` is the release folder): a labels CSV, e.g.
    ``DEV479/TMED2_fold0_labeledpart.csv``, with columns ``query_key`` (the PNG's name, ``<study>_<k>.png``),
    ``view_label`` (PLAX, PSAX, A4C, A2C, A4CorA2CorOther), ``SourceFolder`` (the PNG's folder under ``root``,
    e.g. ``view_and_diagnosis_labeled_set/labeled/``) and the split columns ``view_classifier_split`` /
    ``diagnosis_classifier_split``. The CSV is found under ``root`` or named by ``csv_path``. The study id
    (``query_key`` without ``_<k>.png``) is the patient group. Optional masks sit beside a PNG as
    ``<stem>_mask.png``.

    **BackMix's ``.npy`` layout**: ``root/<split>/<id>_<VIEW>.npy`` (2-D frames), masks beside them as
    ``<id>_<VIEW>_mask.npy`` (optional per image).

    Rows or files whose view is not in ``views`` (or whose split is not train / val / test, e.g. ``unlabeled``)
    are skipped and counted in a warning, never silently. A missing PNG, or a mask whose image is missing, is an
    error naming it.
    """
    root = Path(root)
    check_int(size, name="size", where="load_tmed2", lo=4, hi=1024)
    if not root.is_dir():
        raise DataError(f"The TMED2 folder {str(root)!r} does not exist.")
    views = tuple(views)
    table = _tmed2_csv(root, csv_path, label_column)
    if table is not None:
        return _tmed2_release(root, table, size, views, split_column, label_column, cache_dir)
    return _tmed2_npy(root, size, views, cache_dir)


def _tmed2_release(root: Path, table: Path, size: int, views: tuple, split_column: str, label_column: str,
                   cache_dir) -> dict[str, ImageSet]:
    import warnings

    with table.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DataError(f"The TMED2 labels CSV {str(table)!r} has no rows.")
    for col in ("query_key", label_column, split_column):
        if col not in rows[0]:
            raise DataError(f"The TMED2 labels CSV {str(table)!r} must have a {col!r} column. "
                            f"Got columns {list(rows[0])} instead.")
    by_split: dict[str, list] = {}
    skipped_view: dict[str, int] = {}
    skipped_split: dict[str, int] = {}
    missing = []
    for i, r in enumerate(rows, start=2):
        view, split = (r[label_column] or "").strip(), (r[split_column] or "").strip().lower()
        if view not in views:
            skipped_view[view] = skipped_view.get(view, 0) + 1
            continue
        if split not in SPLIT_NAMES:
            skipped_split[split] = skipped_split.get(split, 0) + 1
            continue
        key = (r["query_key"] or "").strip()
        if not key:
            raise DataError(f"The 'query_key' field in row {i} of {str(table)!r} is empty.")
        f = root / (r.get("SourceFolder") or "").strip().strip("/") / key
        if not f.is_file():
            missing.append(str(f))
            continue
        by_split.setdefault(SPLIT_NAMES[split], []).append((f, re.sub(r"_\d+$", "", Path(key).stem), view))
    if missing:
        raise DataError(f"The TMED2 labels CSV {str(table)!r} names {len(missing)} image(s) that do not exist under "
                        f"{str(root)!r} (SourceFolder/query_key): {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}.")
    if skipped_view or skipped_split:
        warnings.warn(f"load_tmed2: skipped {sum(skipped_view.values())} row(s) of {str(table)!r} with views not in "
                      f"{list(views)} {skipped_view or ''} and {sum(skipped_split.values())} with a {split_column!r} "
                      f"that is not train / val / test {skipped_split or ''}", stacklevel=3)
    if not by_split:
        raise DataError(f"The TMED2 labels CSV {str(table)!r} has no row with a view in {list(views)} and a split in "
                        f"train / val / test.")
    out = {}
    for sp, items in sorted(by_split.items()):
        masks = [_mask_of(f) for f, _, _ in items]
        out[sp] = cached_imageset({"loader": "tmed2", "csv": str(table.resolve()), "split": sp, "size": size,
                                   "views": list(views), "column": [split_column, label_column]},
                                  lambda items=items, sp=sp: _tmed2_set(items, size, views, f"tmed2/{sp}"), cache_dir,
                                  [table, *(f for f, _, _ in items), *(m for m in masks if m.exists())])
    return out


def _read_as_trained(paths: Sequence[Path], pixels: "Pixels", where: str) -> tuple[torch.Tensor, str]:
    """Files read by the audit's policy: float32 ``[F, H, W]`` (one grey frame per file, or the channels of one
    colour file) and the format said in words."""
    from .pixels import read_pixels

    read = [read_pixels(p) for p in paths]
    if len(read) > 1 and any(a.shape[0] != 1 for a, _, _ in read):
        raise DataError(f"The 'image' field in {where} lists {len(read)} frames, and frames must be grey; a colour "
                        f"image is one file per row. Got {', '.join(f for _, _, f in read)} instead.")
    if any(a.shape[1:] != read[0][0].shape[1:] for a, _, _ in read):
        raise DataError(f"The frames in {where} must share one shape. Got {[a.shape[1:] for a, _, _ in read]} instead.")
    arr = np.concatenate([pixels.scale(a, full) for a, full, _ in read])
    return torch.from_numpy(arr), "; ".join(sorted({f for _, _, f in read}))


def _single_frame(f: Path, size: int, pixels: "Pixels | None" = None) -> tuple[torch.Tensor, torch.Tensor, bool, str]:
    """One image file as a frame [C, size, size] (uint8 grey by the study's normalisation, or float32 by the
    audit's ``pixels`` policy), its mask from ``<name>_mask<ext>`` beside it (or all false), whether it had one,
    and its format."""
    if pixels is None:
        arr = read_image_file(f)
        img, fmt = _to_u8(_fit(torch.from_numpy(arr.astype(np.float32))[None], size, "bilinear")), ""
        fit = lambda t: _fit(t, size, "nearest") > 0.5  # noqa: E731
    else:
        img, fmt = _read_as_trained([f], pixels, repr(str(f)))
        arr = img[0]
        img = pixels.fit(img, size)
        fit = lambda t: pixels.fit(t, size, mask=True)  # noqa: E731
    mf = _mask_of(f)
    if not mf.exists():
        return img, torch.zeros(img.shape[0], size, size, dtype=torch.bool), False, fmt
    mk = read_image_file(mf)
    if mk.shape != tuple(arr.shape):
        raise DataError(f"The mask {str(mf)!r} must have its image's shape {tuple(arr.shape)}. Got {mk.shape} instead.")
    m = torch.from_numpy(_check_binary(mk, mf)).float()[None].expand(img.shape[0], -1, -1)
    return img, fit(m), True, fmt


def _frames_set(rows, size: int, class_names: tuple, name: str, pixels: "Pixels | None" = None) -> ImageSet:
    """``(image file, class, patient, shown name)`` rows -> a one-frame ImageSet; a ``<name>_mask<ext>`` beside an
    image is its mask (TMED2 and class folders). With ``pixels``, the audit's reading (colour kept)."""
    imgs, masks, has, labels, groups, files, formats = [], [], [], [], [], [], []
    for f, cls, pid, shown in rows:
        im, mk, h, fmt = _single_frame(f, size, pixels)
        if imgs and im.shape[0] != imgs[0].shape[0]:
            raise DataError(f"The file {str(f)!r} must have {imgs[0].shape[0]} channel(s) like the first image "
                            f"({formats[0]}). Got {im.shape[0]} ({fmt}) instead; convert the files to one colour mode.")
        formats.append(fmt)
        imgs.append(im)
        masks.append(mk)
        has.append(h)
        labels.append(class_names.index(cls))
        groups.append(pid)
        files.append(shown)
    _, gid = np.unique(np.array(groups), return_inverse=True)
    meta = {"patient": groups, "file": files}
    if pixels is not None:
        meta["format"] = formats
    return ImageSet(images=torch.stack(imgs), labels=torch.tensor(labels), class_names=class_names,
                    masks=torch.stack(masks), has_mask=torch.tensor(has), groups=torch.from_numpy(gid),
                    meta=meta, frame_names=("R", "G", "B") if imgs[0].shape[0] == 3 else ("frame",), name=name)


def _tmed2_set(items, size: int, views: tuple, name: str) -> ImageSet:
    """(image file, patient, view) rows -> ImageSet."""
    return _frames_set([(f, view, pid, str(f)) for f, pid, view in items], size, views, name)


def _tmed2_npy(root: Path, size: int, views: tuple, cache_dir) -> dict[str, ImageSet]:
    import warnings

    splits = sorted(p for p in root.iterdir() if p.is_dir())
    if not splits:
        raise DataError(f"The TMED2 folder {str(root)!r} has neither a labels CSV with 'query_key' (the official "
                        f"release) nor split folders with <id>_<VIEW>.npy files (e.g. train/, val/, test/).")
    out = {}
    for sp in splits:
        files = sorted(f for f in sp.glob("*.npy") if not f.name.endswith("_mask.npy"))
        orphans = sorted(m.name for m in sp.glob("*_mask.npy") if not m.with_name(m.name[:-9] + ".npy").exists())
        if orphans:
            raise DataError(f"The TMED2 split folder {str(sp)!r} has {len(orphans)} mask file(s) without their image "
                            f"<id>_<VIEW>.npy: {', '.join(orphans[:5])}{' ...' if len(orphans) > 5 else ''}.")
        skipped: dict[str, int] = {}
        rows = []
        for f in files:
            m = re.match(r"(.+)_([A-Za-z0-9]+)$", f.stem)
            if not m:
                raise DataError(f"The file name {str(f)!r} must have the form <id>_<VIEW>.npy.")
            view = m.group(2)
            if view not in views:
                skipped[view] = skipped.get(view, 0) + 1
                continue
            rows.append((f, m.group(1), view))
        if skipped:
            warnings.warn(f"load_tmed2: skipped {sum(skipped.values())} file(s) in {str(sp)!r} with views not in "
                          f"{list(views)}: {skipped}", stacklevel=3)
        if not rows:
            raise DataError(f"The split folder {str(sp)!r} has no <id>_<VIEW>.npy files with views {list(views)}.")
        name = SPLIT_NAMES.get(sp.name.lower(), sp.name)
        all_files = [f for f, _, _ in rows] + [f.with_name(f.stem + "_mask.npy") for f, _, _ in rows
                                               if f.with_name(f.stem + "_mask.npy").exists()]
        out[name] = cached_imageset({"loader": "tmed2", "root": str(sp.resolve()), "size": size, "views": list(views)},
                                    lambda rows=rows, sp=sp: _tmed2_set(rows, size, views, f"tmed2/{sp.name}"),
                                    cache_dir, all_files)
    return out


# --------------------------------------------------------------------------------------------------- folders
def load_folder(root: str | Path, *, size: int = 128, classes: Sequence[str] | None = None,
                group_regex: str | None = None, cache_dir: str | Path | None = None,
                pixels: "Pixels | None" = None) -> ImageSet:
    """One folder per class -> ImageSet (one frame per image).

    ``root/<class>/<name>.png`` (or ``.npy``, ``.nii.gz``); a mask sits beside its image as
    ``<name>_mask.<ext>``. The class names are the folder names (sorted), or ``classes`` (its order; a folder
    outside it is an error, a class without a folder too). Each file is its own patient unless ``group_regex``
    captures the patient id from the file name (its first group), e.g. ``'^(\\w+?)_'``. ``pixels``: as in
    :func:`load_manifest` (None: the study's normalisation; a policy: the files as a model saw them, JPEG and
    TIFF included).
    """
    root = Path(root)
    check_int(size, name="size", where="load_folder", lo=4, hi=1024)
    if not root.is_dir():
        raise DataError(f"The class folder {str(root)!r} does not exist.")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError(f"The class folder {str(root)!r} has no sub-folders; it must hold one folder per class "
                        f"(root/<class>/<image>.png).")
    classes = tuple(classes) if classes is not None else tuple(found)
    extra, absent = sorted(set(found) - set(classes)), sorted(set(classes) - set(found))
    if extra or absent:
        raise DataError(f"The class folder {str(root)!r} must have one sub-folder per class {list(classes)}. "
                        f"Got {'extra folders ' + str(extra) if extra else ''}{' and ' if extra and absent else ''}"
                        f"{'no folder for ' + str(absent) if absent else ''} instead.")
    pattern = None
    if group_regex:
        try:
            pattern = re.compile(group_regex)
        except re.error as e:
            raise DataError(f"The 'group_regex' parameter of load_folder must be a regular expression. Got "
                            f"{group_regex!r} instead ({e}).") from None
    items = []
    for c in classes:
        d = root / c
        exts = _EXTS if pixels is None else PIXEL_EXTS
        files = sorted(f for f in d.iterdir() if f.is_file() and f.name.lower().endswith(exts)
                       and not re.search(r"_mask(\.nii)?\.[a-z]+$", f.name.lower()))
        if not files:
            raise DataError(f"The class folder {str(d)!r} has no images ({', '.join(exts)}).")
        for f in files:
            stem = f.name[:-7] if f.name.lower().endswith(".nii.gz") else f.stem
            gid = stem
            if pattern is not None:
                m = pattern.search(f.name)
                if not m or not m.groups():
                    raise DataError(f"The 'group_regex' {group_regex!r} must capture a patient id (a group) in every "
                                    f"file name. Got no match in {str(f)!r} instead.")
                gid = m.group(1)
            items.append((f, c, gid))
    files = [f for f, _, _ in items]

    def build() -> ImageSet:
        return _frames_set([(f, c, f"{c}/{gid}" if pattern is None else gid, str(f.relative_to(root)))
                            for f, c, gid in items], size, classes, root.name, pixels)

    masks_present = [_mask_of(f) for f in files if _mask_of(f).exists()]
    return cached_imageset({"loader": "folder", "root": str(root.resolve()), "size": size, "classes": list(classes),
                            "group_regex": group_regex or "", **({"pixels": pixels.key()} if pixels else {})},
                           build, cache_dir, [*files, *masks_present])
