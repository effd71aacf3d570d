import warnings

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from shortcutlab import DataError, ImageSet
from shortcutlab.data.loaders import ACDC_CLASSES, load_acdc, load_manifest, load_tmed2


def _write_patient(root, i, group="DCM", ed=1, es=3, nb=4, shape=(20, 24, 5), gt_shape=None):
    p = root / f"patient{i:03d}"
    p.mkdir(parents=True)
    (p / "Info.cfg").write_text(f"ED: {ed}\nES: {es}\nGroup: {group}\nHeight: 170\nNbFrame: {nb}\nWeight: 70\n")
    rng = np.random.default_rng(i)
    for fr in (ed, es):
        img = rng.normal(100, 20, shape).astype(np.float32)
        gt = np.zeros(gt_shape or shape, dtype=np.uint8)
        gt[6:14, 8:16, 1:4] = 1
        gt[8:12, 10:14, 1:4] = 3
        nib.save(nib.Nifti1Image(img, np.eye(4)), p / f"patient{i:03d}_frame{fr:02d}.nii.gz")
        nib.save(nib.Nifti1Image(gt, np.eye(4)), p / f"patient{i:03d}_frame{fr:02d}_gt.nii.gz")
    return p


def test_acdc_reads_layout(tmp_path):
    for i, g in enumerate(ACDC_CLASSES, start=1):
        _write_patient(tmp_path / "acdc", i, group=g)
    s = load_acdc(tmp_path / "acdc", size=16, cache_dir=tmp_path / "cache")
    assert s.images.shape == (5, 2, 16, 16) and s.class_names == ACDC_CLASSES
    assert s.labels.tolist() == [0, 1, 2, 3, 4] and s.frame_names == ("ED", "ES")
    assert s.masks.any() and s.masks.float().mean() < 0.5
    assert s.meta["patient"][0] == "patient001"
    # cached: a second call loads the .npz
    assert len(list((tmp_path / "cache").glob("acdc-*.npz"))) == 1
    t = load_acdc(tmp_path / "acdc", size=16, cache_dir=tmp_path / "cache")
    assert torch.equal(t.images, s.images)
    all_slices = load_acdc(tmp_path / "acdc", size=16, slices="all", cache_dir=False)
    assert len(all_slices) == 15 and all_slices.groups.tolist()[:3] == [0, 0, 0]


def test_acdc_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_acdc(tmp_path / "nope", cache_dir=False)
    _write_patient(tmp_path / "a", 1, group="XYZ")
    with pytest.raises(DataError, match="'Group' field.*DCM.*Got 'XYZ'"):
        load_acdc(tmp_path / "a", cache_dir=False)
    _write_patient(tmp_path / "b", 1, es=9, nb=4)
    with pytest.raises(DataError, match=r"'ES' frame.*\[1, 4\].*Got 9"):
        load_acdc(tmp_path / "b", cache_dir=False)
    _write_patient(tmp_path / "c", 1, gt_shape=(20, 24, 4))
    with pytest.raises(DataError, match="same shape"):
        load_acdc(tmp_path / "c", cache_dir=False)
    p = _write_patient(tmp_path / "d", 1)
    (p / "patient001_frame01.nii.gz").write_bytes(b"garbage")
    with pytest.raises(DataError, match="could not be read"):
        load_acdc(tmp_path / "d", cache_dir=False)
    p = _write_patient(tmp_path / "e", 1)
    (p / "Info.cfg").unlink()
    with pytest.raises(DataError, match="Info.cfg.*does not exist"):
        load_acdc(tmp_path / "e", cache_dir=False)


def _manifest(tmp_path, rows, header="image,mask,label,split,group"):
    (tmp_path / "m.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return tmp_path / "m.csv"


def test_manifest_formats(tmp_path):
    img = np.arange(100, dtype=np.float32).reshape(10, 10)
    msk = np.zeros((10, 10), dtype=np.uint8)
    msk[2:5, 2:5] = 1
    np.save(tmp_path / "a.npy", img)
    np.save(tmp_path / "a_m.npy", msk)
    Image.fromarray(img.astype(np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(msk * 255).save(tmp_path / "b_m.png")
    nib.save(nib.Nifti1Image(img, np.eye(4)), tmp_path / "c.nii.gz")
    csv = _manifest(tmp_path, ["a.npy,a_m.npy,cat,train,p1", "b.png,b_m.png,dog,test,p2", "c.nii.gz,,dog,test,p2"])
    s = load_manifest(csv, size=8, cache_dir=False)
    assert s.images.shape == (3, 1, 8, 8) and s.class_names == ("cat", "dog")
    assert s.has_mask.tolist() == [True, True, False] and s.meta["split"] == ["train", "test", "test"]
    assert s.groups.tolist() == [0, 1, 1]
    assert s.masks[0].any() and not s.masks[2].any()


def test_manifest_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((10, 10)))
    np.save(tmp_path / "m_bad.npy", np.full((10, 10), 7))
    np.save(tmp_path / "m_shape.npy", np.zeros((9, 10)))
    cases = [
        (["missing.npy,,cat,,"], "missing.npy.*does not exist"),
        (["a.npy,m_bad.npy,cat,,"], "must be binary.*7"),
        (["a.npy,m_shape.npy,cat,,"], r"must have its image's shape \(10, 10\).*\(9, 10\)"),
        (["a.npy,,bird,,"], "'label' field in row 2.*cat.*Got 'bird'"),
    ]
    for rows, match in cases:
        with pytest.raises(DataError, match=match):
            load_manifest(_manifest(tmp_path, rows), classes=["cat", "dog"], cache_dir=False)
    with pytest.raises(DataError, match="must have a 'label' column"):
        load_manifest(_manifest(tmp_path, ["a.npy"], header="image"), cache_dir=False)


def test_tmed2_folders(tmp_path):
    for split in ("train", "test"):
        d = tmp_path / "tmed" / split
        d.mkdir(parents=True)
        for pid in ("1", "2"):
            for v in ("PLAX", "A4C", "PSAX", "A2C"):
                np.save(d / f"{pid}_{v}.npy", np.random.default_rng(0).random((12, 12)))
            np.save(d / f"{pid}_PLAX_mask.npy", np.ones((12, 12), dtype=np.uint8))
        np.save(d / "3_A5C.npy", np.zeros((12, 12)))  # not one of the four views
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = load_tmed2(tmp_path / "tmed", size=8, cache_dir=False)
    assert any("skipped 1 file" in str(x.message) and "A5C" in str(x.message) for x in w)
    assert set(out) == {"train", "test"}
    tr = out["train"]
    assert isinstance(tr, ImageSet) and len(tr) == 8 and int(tr.has_mask.sum()) == 2
    assert tr.class_counts() == {"PLAX": 2, "PSAX": 2, "A2C": 2, "A4C": 2}
    assert tr.groups.unique().numel() == 2


def _nii(path, arr):
    nib.save(nib.Nifti1Image(arr, np.eye(4)), path)


def test_acdc_silent_cases_are_errors_now(tmp_path):
    """NaN voxels, ES with other slices or in-plane size than ED, NbFrame that is not a number: errors naming
    the file and the value. A 4-D (H, W, Z, 1) NIfTI is one frame and is read, with a warning that says so."""
    p = _write_patient(tmp_path / "nan", 1)
    img = np.asarray(nib.load(str(p / "patient001_frame01.nii.gz")).dataobj).copy()
    img[3, 4, 2] = np.nan
    _nii(p / "patient001_frame01.nii.gz", img)
    with pytest.raises(DataError, match=r"patient001_frame01.nii.gz.*1 NaN or Inf pixel"):
        load_acdc(tmp_path / "nan", cache_dir=False)
    for name, shape in (("slices", (20, 24, 4)), ("inplane", (20, 22, 5))):
        p = _write_patient(tmp_path / name, 1)
        _nii(p / "patient001_frame03.nii.gz", np.ones(shape, np.float32))
        _nii(p / "patient001_frame03_gt.nii.gz", np.ones(shape, np.uint8))
        with pytest.raises(DataError, match=r"ED and ES frames of patient001 must have the same shape.*"
                                            r"\(20, 24, 5\) and \(" + ", ".join(map(str, shape))):
            load_acdc(tmp_path / name, cache_dir=False)
    p = _write_patient(tmp_path / "nb", 1)
    (p / "Info.cfg").write_text("ED: 1\nES: 3\nGroup: DCM\nNbFrame: abc\n")
    with pytest.raises(DataError, match="'NbFrame' field.*Got 'abc'"):
        load_acdc(tmp_path / "nb", cache_dir=False)
    p = _write_patient(tmp_path / "four", 1)
    ref = load_acdc(tmp_path / "four", size=16, cache_dir=False)
    for fr in (1, 3):
        for suffix in ("", "_gt"):
            f = p / f"patient001_frame{fr:02d}{suffix}.nii.gz"
            _nii(f, np.asarray(nib.load(str(f)).dataobj)[..., None])
    with pytest.warns(UserWarning, match=r"patient001_frame01.nii.gz' has shape \(20, 24, 5, 1\).*dropped.*"
                                         r"read as \(20, 24, 5\)"):
        four = load_acdc(tmp_path / "four", size=16, cache_dir=False)
    assert torch.equal(four.images, ref.images)


def test_manifest_labels_rows_and_nan(tmp_path):
    for k in range(3):
        np.save(tmp_path / f"i{k}.npy", np.random.default_rng(k).random((8, 8)).astype(np.float32))
    (tmp_path / "m.csv").write_text("image,label\ni0.npy,a\ni1.npy,a \ni2.npy,b\n")
    with pytest.warns(UserWarning, match=r"'label' field of the manifest .*m.csv' has labels with spaces.*"
                                         r"'a ' in row 3 is read as 'a'"):
        s = load_manifest(tmp_path / "m.csv", size=8, cache_dir=False)
    assert s.class_names == ("a", "b") and s.labels.tolist() == [0, 0, 1]
    (tmp_path / "e.csv").write_text("image,label\ni0.npy,a\ni1.npy,  \n")
    with pytest.raises(DataError, match="'label' field in row 3.*empty"):
        load_manifest(tmp_path / "e.csv", size=8, cache_dir=False)
    (tmp_path / "t.csv").write_text("image,label,group\ni0.npy,a,g0\ni1.npy\n")
    with pytest.raises(DataError, match="Row 3 of the manifest.*3 fields.*Got 1"):
        load_manifest(tmp_path / "t.csv", size=8, cache_dir=False)
    bad = np.ones((8, 8), np.float32)
    bad[0, :3] = [np.nan, np.inf, -np.inf]
    np.save(tmp_path / "nan.npy", bad)
    (tmp_path / "n.csv").write_text("image,label\nnan.npy,a\ni1.npy,b\n")
    with pytest.raises(DataError, match=r"nan.npy' has 3 NaN or Inf pixel\(s\) out of 64"):
        load_manifest(tmp_path / "n.csv", size=8, cache_dir=False)


def test_tmed2_orphan_mask_and_verified_cache(tmp_path):
    sp = tmp_path / "t" / "train"
    sp.mkdir(parents=True)
    for k, v in enumerate(("PLAX", "A4C")):
        np.save(sp / f"p{k}_{v}.npy", np.random.default_rng(k).random((10, 10)).astype(np.float32))
    s = load_tmed2(tmp_path / "t", size=8, cache_dir=tmp_path / "c")["train"]
    cached = next((tmp_path / "c").glob("tmed2-*.npz"))
    assert cached.with_name(cached.name + ".json").exists()
    cached.write_bytes(cached.read_bytes()[:-10] + b"0" * 10)  # damaged cache: converted again, with a warning
    with pytest.warns(UserWarning, match="cached data set.*unusable.*converting the files again"):
        t = load_tmed2(tmp_path / "t", size=8, cache_dir=tmp_path / "c")["train"]
    assert torch.equal(t.images, s.images)
    np.save(sp / "p9_A2C_mask.npy", np.zeros((10, 10), bool))
    with pytest.raises(DataError, match=r"1 mask file\(s\) without their image.*p9_A2C_mask.npy"):
        load_tmed2(tmp_path / "t", size=8, cache_dir=False)
