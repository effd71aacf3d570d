import numpy as np
import pytest
import torch

from shortcutlab import DataError, ImageSet, ShortcutlabError


def _set(n=12, f=2, k=3, masks=True, groups=None):
    g = torch.Generator().manual_seed(0)
    im = torch.randint(0, 256, (n, f, 8, 8), dtype=torch.uint8, generator=g)
    m = torch.rand(n, f, 8, 8, generator=g) > 0.5 if masks else None
    return ImageSet(images=im, labels=torch.arange(n) % k, class_names=[f"c{i}" for i in range(k)], masks=m,
                    groups=groups, meta={"cue": torch.arange(n), "site": [f"s{i}" for i in range(n)]})


def test_construction_and_defaults():
    s = _set()
    assert len(s) == 12 and s.num_classes == 3 and s.num_frames == 2 and s.size == (8, 8)
    assert s.has_mask.all() and s.groups.tolist() == list(range(12))
    assert s.frame_names == ("frame0", "frame1")
    assert "n=12" in repr(s)


@pytest.mark.parametrize("kw,match", [
    (dict(images=torch.zeros(2, 1, 4, 4, dtype=torch.int32)), "'images' field.*uint8.*int32"),
    (dict(labels=torch.tensor([0, 5])), r"'labels' field.*\[0, 1\].*\[5\]"),
    (dict(labels=torch.tensor([0])), r"'labels' field.*shape \(2,\)"),
    (dict(masks=torch.zeros(2, 1, 4, 5, dtype=torch.bool)), "'masks' field.*shape"),
    (dict(masks=torch.full((2, 1, 4, 4), 2)), "'masks' field.*binary.*2"),
    (dict(meta={"cue": [1]}), "'cue'.*length 2"),
    (dict(frame_names=("a", "b")), "'frame_names'.*1 frames"),
])
def test_validation_names_field(kw, match):
    base = dict(images=torch.zeros(2, 1, 4, 4, dtype=torch.uint8), labels=torch.tensor([0, 1]), class_names=["a", "b"])
    base.update(kw)
    with pytest.raises(DataError, match=match):
        ImageSet(**base)


def test_integer_masks_become_bool():
    s = ImageSet(images=torch.zeros(2, 1, 4, 4, dtype=torch.uint8), labels=torch.tensor([0, 1]), class_names=["a", "b"],
                 masks=torch.ones(2, 1, 4, 4, dtype=torch.uint8))
    assert s.masks.dtype == torch.bool


def test_subset_keeps_everything_aligned():
    s = _set()
    sub = s.subset([3, 1])
    assert torch.equal(sub.images, s.images[[3, 1]]) and sub.labels.tolist() == [0, 1]
    assert sub.meta["cue"].tolist() == [3, 1] and sub.meta["site"] == ["s3", "s1"]
    assert torch.equal(s.subset(s.labels == 2).labels, torch.tensor([2, 2, 2, 2]))
    with pytest.raises(ShortcutlabError, match=r"'index'.*\[0, 11\]"):
        s.subset([12])


def test_split_stratified_groups_together_and_seeded():
    groups = torch.arange(30) // 2  # pairs of samples are one patient, same label
    labels = (torch.arange(30) // 2) % 3
    im = torch.zeros(30, 1, 4, 4, dtype=torch.uint8)
    s = ImageSet(images=im, labels=labels, class_names=["a", "b", "c"], groups=groups)
    p = s.split(test=0.4, val=0.2, seed=1)
    assert set(p) == {"train", "val", "test"}
    sets = [set(p[k].groups.tolist()) for k in p]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(len(v) for v in p.values()) == 30
    # each class: 5 groups -> 2 test, 1 val, 2 train
    assert all(v == 4 for v in p["test"].class_counts().values())
    assert all(v == 2 for v in p["val"].class_counts().values())
    q = s.split(test=0.4, val=0.2, seed=1)
    assert torch.equal(q["test"].groups, p["test"].groups)
    r = s.split(test=0.4, val=0.2, seed=2)
    assert not torch.equal(r["test"].groups, p["test"].groups)


def test_split_errors():
    s = _set(n=6)
    with pytest.raises(DataError, match="'test' split.*no sample of class"):
        s.split(test=0.05)
    with pytest.raises(ShortcutlabError, match="'test' parameter.*Got 1.5"):
        s.split(test=1.5)
    with pytest.raises(ShortcutlabError, match="sum to less than 1"):
        s.split(test=0.5, val=0.5)


def test_save_load_roundtrip_no_pickle(tmp_path):
    s = _set()
    s.has_mask[0] = False
    path = s.save(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as z:  # readable without pickle
        assert "images" in z.files
    t = ImageSet.load(path)
    assert torch.equal(t.images, s.images) and torch.equal(t.masks, s.masks) and torch.equal(t.labels, s.labels)
    assert t.has_mask.tolist() == s.has_mask.tolist() and t.meta["site"] == s.meta["site"]
    assert torch.equal(t.meta["cue"], s.meta["cue"]) and t.class_names == s.class_names


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ImageSet.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="could not be read"):
        ImageSet.load(bad)


def test_describe_and_show():
    s = _set()
    p = {"a": s.subset(range(6)), "b": s.subset(range(6, 12))}
    df = ImageSet.describe(p)
    assert df.loc["total", "a"] == 6 and df.loc["with mask", "b"] == 6 and df.loc["c0", "a"] == 2
    fig = s.show(2)
    assert len(fig.axes) == 3 * 2 * 2


def test_class_names_string_is_an_error():
    import torch
    from shortcutlab import DataError, ImageSet
    with pytest.raises(DataError, match="'class_names' field of ImageSet must be a sequence.*Got 'normal'"):
        ImageSet(images=torch.zeros(2, 1, 4, 4, dtype=torch.uint8), labels=torch.tensor([0, 0]), class_names="normal")
