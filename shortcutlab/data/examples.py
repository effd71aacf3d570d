"""Real-data layouts written from the phantoms: try (and test) every source without a download.

Each writer lays out files exactly as the real release does, with the phantom's images and masks, so the
loaders, the presets and the notebooks can be exercised end to end on formats rather than on tensors:

* :func:`write_acdc_like`: ``patientXXX/Info.cfg`` and NIfTI ED/ES volumes with ground truth (labels 1-3),
  varied in-plane sizes, voxel spacings, slice counts and frame numbers;
* :func:`write_tmed2_like`: the TMED2 release (labelled PNGs and the labels CSV with its split columns);
* :func:`write_manifest_like`: a binary task as a CSV of two frames (ED as PNG, ES as NIfTI) and masks;
* :func:`write_folder_like`: one folder per class of PNGs, no masks (a second echo site);
* :func:`write_audit_example`: what the audit's documentation runs (RGB JPEGs, boxes, a class folder, a state dict).

>>> write_acdc_like("/tmp/acdc", n_patients=20)   # then: --set data.acdc.source=acdc --set data.acdc.path=/tmp/acdc
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tF

from .._validation import check_int
from .phantoms import make_cmr, make_echo

__all__ = ["write_acdc_like", "write_tmed2_like", "write_manifest_like", "write_folder_like", "write_audit_example"]


def _resize(x: torch.Tensor, h: int, w: int, nearest: bool = False) -> torch.Tensor:
    x = x.float()[None, None]
    x = tF.interpolate(x, size=(h, w), mode="nearest") if nearest else tF.interpolate(x, size=(h, w), mode="bilinear",
                                                                                      align_corners=False)
    return x[0, 0]


def _png(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)


def _nii(arr: np.ndarray, path: Path, spacing=(1.0, 1.0, 1.0)) -> None:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, np.diag([*spacing, 1.0])), str(path))


def write_acdc_like(root: str | Path, n_patients: int = 20, *, size: int = 64, seed: int = 0) -> Path:
    """ACDC challenge layout from the ``acdc`` phantom: per patient a volume of 3-7 slices whose middle ones hold
    the heart (labels 1, 2, 3 in rings), an in-plane size between 0.8 and 1.3 x ``size`` (not square), a random
    voxel spacing, ED at frame 1 and ES between 6 and 14."""
    check_int(n_patients, name="n_patients", where="write_acdc_like", lo=5)
    root = Path(root)
    rng = np.random.default_rng(seed)
    s = make_cmr("acdc", n_patients, size, strength=0.9, seed=seed)
    for i in range(n_patients):
        p = root / f"patient{i + 1:03d}"
        p.mkdir(parents=True, exist_ok=True)
        h, w = (int(size * rng.uniform(0.8, 1.3)) for _ in range(2))
        z = int(rng.integers(3, 8))
        es = int(rng.integers(6, 15))
        sp = (float(rng.uniform(1.2, 1.8)), float(rng.uniform(1.2, 1.8)), float(rng.uniform(5, 10)))
        heart_z = range(1, z - 1)
        for fi, fr in enumerate((1, es)):
            img = _resize(s.images[i, fi], h, w).numpy()
            mk = _resize(s.masks[i, fi], h, w, nearest=True).numpy() > 0.5
            yy = np.arange(h)[:, None]
            lab = np.where(mk, 1 + (yy // 4) % 3, 0)  # labels 1-3, which the loader merges into one heart mask
            vol = np.zeros((w, h, z), dtype=np.float32)   # NIfTI (x, y, z): the loader transposes each slice
            gt = np.zeros((w, h, z), dtype=np.uint8)
            for k in range(z):
                vol[..., k] = (img * (0.7 + 0.1 * k)).T
                if k in heart_z:
                    gt[..., k] = lab.T
            _nii(vol * 4.0 + 10.0, p / f"{p.name}_frame{fr:02d}.nii.gz", sp)  # scanner units, not 0-255
            _nii(gt, p / f"{p.name}_frame{fr:02d}_gt.nii.gz", sp)
        (p / "Info.cfg").write_text(f"ED: 1\nES: {es}\nGroup: {s.class_names[int(s.labels[i])]}\n"
                                    f"Height: 170.0\nNbFrame: {es + 4}\nWeight: 70.0\n")
    return root


def write_tmed2_like(root: str | Path, n_studies: int = 24, *, size: int = 112, seed: int = 0,
                     overlay_strength: float = 0.9) -> Path:
    """The TMED2 release layout from the i.d. echo phantom: ``view_and_diagnosis_labeled_set/labeled/<study>_<k>.png``
    and ``DEV479/TMED2_fold0_labeledpart.csv`` (query_key, view_label, diagnosis_label, SourceFolder,
    diagnosis_classifier_split, view_classifier_split). Studies split 60/20/20 into train / val / test; one
    image in twelve is labelled ``A4CorA2CorOther`` (the loader skips and counts it), and no masks ship."""
    check_int(n_studies, name="n_studies", where="write_tmed2_like", lo=5)
    root = Path(root)
    e = make_echo("id", 4 * n_studies, size, overlay_strength=overlay_strength, seed=seed)
    folder = "view_and_diagnosis_labeled_set/labeled/"
    rows = []
    for i in range(len(e)):
        study = f"{1000 + i // 4}s1"
        key = f"{study}_{i % 4}.png"
        _png(e.images[i, 0].numpy(), root / folder / key)
        frac = (i // 4) / n_studies
        split = "train" if frac < 0.6 else "val" if frac < 0.8 else "test"
        view = e.class_names[int(e.labels[i])] if i % 12 != 11 else "A4CorA2CorOther"
        rows.append({"query_key": key, "view_label": view, "diagnosis_label": "no_AS", "SourceFolder": folder,
                     "diagnosis_classifier_split": split, "view_classifier_split": split})
    out = root / "DEV479" / "TMED2_fold0_labeledpart.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root


def write_manifest_like(root: str | Path, n: int = 60, *, size: int = 64, seed: int = 0) -> Path:
    """A binary task as a manifest: the ``cm`` phantom's AMYL vs the rest, raw labels ``0`` / ``1`` (map them with
    ``label_map``), two frames per row (ED as PNG, ES as NIfTI), masks in the same formats, a ``group``
    (patient) column and no split column (the study makes a seeded, grouped, stratified split)."""
    check_int(n, name="n", where="write_manifest_like", lo=8)
    root = Path(root)
    s = make_cmr("cm", n, size, strength=0.9, seed=seed)
    amyl = s.class_names.index("AMYL")
    rows = []
    for i in range(n):
        ed, es = f"img/p{i:03d}_ed.png", f"img/p{i:03d}_es.nii.gz"
        med, mes = f"mask/p{i:03d}_ed.png", f"mask/p{i:03d}_es.nii.gz"
        _png(s.images[i, 0].numpy(), root / ed)
        _nii(s.images[i, 1].numpy().astype(np.float32), root / es)
        _png(s.masks[i, 0].numpy().astype(np.uint8) * 255, root / med)
        _nii(s.masks[i, 1].numpy().astype(np.uint8), root / mes)
        rows.append({"image": f"{ed};{es}", "mask": f"{med};{mes}", "label": str(int(int(s.labels[i]) == amyl)),
                     "group": f"patient{i:03d}"})
    with (root / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv"


def write_folder_like(root: str | Path, n: int = 48, *, size: int = 112, seed: int = 0, site: str = "ood") -> Path:
    """One folder per view of echo phantom PNGs from ``site`` (default: the o.o.d. sites), without masks."""
    check_int(n, name="n", where="write_folder_like", lo=4)
    root = Path(root)
    e = make_echo(site, n, size, seed=seed)
    for i in range(n):
        _png(e.images[i, 0].numpy(), root / e.class_names[int(e.labels[i])] / f"s{i // 4:03d}_{i % 4}.png")
    return root


def write_audit_example(root: str | Path, n: int = 48, *, size: int = 96, seed: int = 0) -> Path:
    """Everything the audit's documentation runs, from the echo phantom (so each example can be tried, and is
    tested, without a download): ``manifest.csv`` of RGB JPEGs (the phantom tinted, so the three channels differ)
    with PNG masks; ``boxes.csv``, the same images with each sector's bounding box instead; ``folder/<view>/`` of
    8-bit grey PNGs with ``<name>_mask.png`` beside each; ``unmasked/<view>/``, the same PNGs without masks (what
    ``shortcutlab discover`` takes); and ``resnet18.pth``, an untrained torchvision ResNet-18's
    state dict for the four views (its answer is not interesting; the mechanics are)."""
    check_int(n, name="n", where="write_audit_example", lo=8)
    import torchvision
    from PIL import Image

    root = Path(root)
    e = make_echo("id", n, size, seed=seed)
    tint = np.array([1.0, 0.85, 0.7])
    rows, boxes = [], []
    for i in range(n):
        grey, mask = e.images[i, 0].numpy(), e.masks[i, 0].numpy()
        label = e.class_names[int(e.labels[i])]
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(grey[..., None] * tint, 0, 255).astype(np.uint8)).save(
            root / "images" / f"{i:03d}.jpg", quality=95)
        _png(mask.astype(np.uint8) * 255, root / "masks" / f"{i:03d}.png")
        rows.append({"image": f"images/{i:03d}.jpg", "mask": f"masks/{i:03d}.png", "label": label})
        ys, xs = np.nonzero(mask)
        boxes.append({"image": f"images/{i:03d}.jpg", "box": f"{xs.min()},{ys.min()},{xs.max() + 1},{ys.max() + 1}",
                      "label": label})
        _png(grey, root / "folder" / label / f"s{i:03d}.png")
        _png(mask.astype(np.uint8) * 255, root / "folder" / label / f"s{i:03d}_mask.png")
        _png(grey, root / "unmasked" / label / f"s{i:03d}.png")
    for name, table in (("manifest.csv", rows), ("boxes.csv", boxes)):
        with (root / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
    torch.manual_seed(seed)
    net = torchvision.models.resnet18(weights=None, num_classes=len(e.class_names))
    torch.save(net.state_dict(), root / "resnet18.pth")
    return root
