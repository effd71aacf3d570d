"""The audit sees a user's files as the model saw them: channels, bit depth and intensity kept, resizing stated.

The models here are wired by hand, so what they read is known by construction: one reads how much redder than blue
an image is (on grey objects that is the background, on grey backgrounds the object), one reads the absolute grey
level, which a per-image stretch would erase, and one ignores its input. Each is audited through Python and through
the command, from PNG (8- and 16-bit) and JPEG files.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from shortcutlab import DataError, ShortcutlabError
from shortcutlab.auditing import audit_file, load_audit_data
from shortcutlab.data.pixels import Pixels, read_pixels

N, SIDE = 48, 32


class RedderThanBlue(nn.Module):
    """Class 1 when the image is on average redder than it is blue (R − B through a 1×1 convolution)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1, bias=False)
        self.head = nn.Linear(1, 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1))
            self.head.weight.copy_(torch.tensor([[-40.0], [40.0]]))
            self.head.bias.zero_()

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


class BrighterThan(nn.Module):
    """Class 1 when the mean grey level is above ``cut`` (absolute intensity, as a model trained on x / 65535)."""

    def __init__(self, cut: float):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.head = nn.Linear(1, 2)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.head.weight.copy_(torch.tensor([[-60.0], [60.0]]))
            self.head.bias.copy_(torch.tensor([60.0 * cut, -60.0 * cut]))

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


class Blind(nn.Module):
    """The same answer whatever the input (its gradient at the convolution is zero)."""

    def __init__(self, chans: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(chans, 2, 1)
        self.bias = nn.Parameter(torch.tensor([0.3, -0.3]))

    def forward(self, x):
        return self.bias + 0.0 * self.conv(x).mean((2, 3))


def _disc(rng):
    cy, cx = rng.integers(12, SIDE - 12, 2)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= 7 ** 2


def _write(root, images, masks, labels, ext="png", names=("c0", "c1")):
    """Image files (uint8 RGB / uint16 grey arrays as given), 0/255 mask PNGs and a manifest."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (im, mk, y) in enumerate(zip(images, masks, labels)):
        f = f"img/{i}.{ext}"
        Image.fromarray(im).save(root / f, **({"quality": 95} if ext == "jpg" else {}))
        Image.fromarray(mk.astype(np.uint8) * 255).save(root / f"img/{i}_m.png")
        rows.append({"image": f, "mask": f"img/{i}_m.png", "label": names[y]})
    with (root / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["image", "mask", "label"])
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv"


def _colour_set(seed: int, *, cue: str):
    """RGB images: ``cue='background'`` grey discs on a reddish (class 1) or bluish (class 0) background;
    ``cue='object'`` a reddish or bluish disc on a grey background whose level is drawn per image."""
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % 2
    images, masks = [], []
    red, blue = np.array([170, 110, 80]), np.array([80, 110, 170])
    for y in labels:
        m = _disc(rng)
        noise = rng.integers(-6, 7, (SIDE, SIDE, 1))
        if cue == "background":
            bg, obj = (red if y else blue), np.full(3, 128)
        else:
            bg, obj = np.full(3, rng.integers(60, 200)), (red if y else blue)
        im = np.where(m[..., None], obj, bg) + noise
        images.append(np.clip(im, 0, 255).astype(np.uint8))
        masks.append(m)
    return images, masks, labels


def _grey16_set(seed: int):
    """16-bit grey: a bright disc (0.8 of full scale) on a background at 0.10 (class 0) or 0.30 (class 1)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % 2
    images, masks = [], []
    for y in labels:
        m = _disc(rng)
        im = np.where(m, 0.8, 0.30 if y else 0.10) + rng.normal(0, 0.01, (SIDE, SIDE))
        images.append(np.clip(im * 65535, 0, 65535).astype(np.uint16))
        masks.append(m)
    return images, masks, labels


def _export(model, x, path):
    batch = torch.export.Dim("batch", min=2, max=4096)
    torch.export.save(torch.export.export(model.eval(), (x,), dynamic_shapes=({0: batch},)), str(path))
    return path


KW = dict(n_boot=200, max_cam_images=24, sanity_images=8, batch_size=16)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_colour_background_reader_is_flagged_and_a_colour_object_reader_is_not(tmp_path, seed):
    """Colour kept: the red-versus-blue reader reads the background where the objects are grey and is flagged; the
    same model on grey backgrounds reads the object, and the backgrounds move nothing (equivalent within the
    margin). A grey conversion would give both a constant input (R = B) and one answer for every image."""
    bg = _write(tmp_path / "bg", *_colour_set(seed, cue="background"))
    obj = _write(tmp_path / "obj", *_colour_set(seed, cue="object"))
    data = load_audit_data(bg, size=SIDE)
    assert data.images.dtype == torch.float32 and data.num_frames == 3 and data.frame_names == ("R", "G", "B")
    first = np.asarray(Image.open(tmp_path / "bg" / "img" / "0.png"), dtype=np.float32) / 255
    assert torch.allclose(data.images[0], torch.from_numpy(first).permute(2, 0, 1))  # the pixels, as stored / 255
    model = tmp_path / "redder.pt2"
    _export(RedderThanBlue(), data.float_images()[:2], model)
    reads = audit_file(model, bg, size=SIDE, seed=seed, **KW)
    assert reads.overall_code == "reads-background" and reads.verdict("follows_donor") == "holds"
    assert reads.counterfactuals.loc["original", "accuracy"] == 1.0
    clean = audit_file(model, obj, size=SIDE, seed=seed, **KW)
    assert clean.verdict("follows_donor") == "equivalent" and clean.verdict("bg_gap") == "equivalent"
    assert clean.overall_code == "clean"
    assert "read 48 image file(s): 48 × PNG 8-bit RGB" in clean.info["pipeline"][0]


def test_absolute_intensity_survives_a_16_bit_png_and_a_stretch_would_erase_it(tmp_path):
    """A 16-bit PNG is read at 16 bits (raw: / 65535); a model that reads the background's absolute grey level is
    flagged. Under --intensity percentile each image is stretched to its own range, both classes look alike, and
    the model answers one class: the policy is the user's, and the report says which ran."""
    images, masks, labels = _grey16_set(0)
    csv_path = _write(tmp_path, images, masks, labels)
    arr, full, fmt = read_pixels(tmp_path / "img" / "0.png")
    assert arr.dtype == np.uint16 and full == 65535.0 and fmt == "PNG 16-bit grey"
    assert np.array_equal(arr[0], images[0])  # the round trip is exact
    mean_disc = 0.8 * np.mean([m.mean() for m in masks])
    model = _export(BrighterThan(cut=mean_disc + 0.2 * (1 - np.mean([m.mean() for m in masks]))),
                    torch.rand(2, 1, SIDE, SIDE), tmp_path / "bright.pt2")
    raw = audit_file(model, csv_path, size=SIDE, **KW)
    assert raw.counterfactuals.loc["original", "accuracy"] == 1.0 and raw.overall_code == "reads-background"
    assert "intensity raw" in raw.info["pipeline"][1]
    stretched = audit_file(model, csv_path, size=SIDE, intensity="percentile", **KW)
    assert stretched.overall_code == "one-class" and "percentile" in stretched.info["pipeline"][1]
    window = audit_file(model, csv_path, size=SIDE, intensity="window:0,65535", **KW)
    assert np.allclose(window.arrays["probs"]["original"], raw.arrays["probs"]["original"], atol=1e-6)


def test_a_model_that_ignores_its_input_fails_the_sanity_check_through_the_command(tmp_path, capsys):
    """Constant maps carry no information: the blind model's sanity tests are contradicted, the command exits 1
    under --fail-on maps-fail-sanity, and the reading says the maps were constant."""
    from shortcutlab.app.cli import main

    csv_path = _write(tmp_path, *_colour_set(0, cue="background"))
    model = _export(Blind(), torch.rand(2, 3, SIDE, SIDE), tmp_path / "blind.pt2")
    args = ["audit", "--model", str(model), "--data", str(csv_path), "--size", str(SIDE), "--cam-images", "16",
            "--n-boot", "100", "--out", str(tmp_path / "r")]
    assert main(args + ["--fail-on", "maps-fail-sanity"]) == 1
    rec = json.loads((tmp_path / "r" / "audit.json").read_text())["blind.pt2"]
    assert rec["tests"]["sanity_ok"] is False and rec["tests"]["sanity_target"]["verdict_code"] == "contradicted"
    assert rec["tests"]["sanity_weights"]["verdict"] == "contradicted"
    html = (tmp_path / "r" / "index.html").read_text()
    assert "16 had a constant original map (no information" in html and "Input pipeline" in html


def test_a_constant_map_for_the_other_class_is_no_information_not_sameness():
    """map_correlation: a constant original cannot pass (ρ 1); a constant map after the change shares no ranking
    (ρ 0); otherwise Spearman's ρ (scipy's, row by row)."""
    from scipy.stats import spearmanr

    from shortcutlab.saliency.cams import map_correlation

    rng = np.random.default_rng(0)
    a, b = rng.random((3, 20)), rng.random((3, 20))
    a[1] = 0.0
    b[2] = 0.0
    rho, cb, co = map_correlation(a, b)
    assert rho[1] == 1.0 and rho[2] == 0.0 and cb.tolist() == [False, True, False] and co.tolist() == [False, False, True]
    assert rho[0] == pytest.approx(spearmanr(a[0], b[0]).statistic)


def test_jpeg_rgba_and_palette_files_are_read_with_their_channels_and_said(tmp_path):
    """JPEG round trip within its compression; RGBA drops alpha and says so; a grey palette stays grey; a 16-bit
    colour PNG, a NaN pixel and an unknown type are clear errors naming the file."""
    yy, xx = np.mgrid[:24, :40]
    im = np.dstack([60 + 3 * xx, 50 + 5 * yy, np.full_like(xx, 140)]).astype(np.uint8)  # smooth colour ramps
    Image.fromarray(im).save(tmp_path / "a.jpg", quality=95, subsampling=0)
    arr, full, fmt = read_pixels(tmp_path / "a.jpg")
    assert arr.shape == (3, 24, 40) and full == 255.0 and fmt == "JPEG 8-bit RGB"
    assert np.abs(arr.astype(int) - im.transpose(2, 0, 1)).mean() < 2
    Image.fromarray(np.dstack([im, np.full((24, 40), 7, np.uint8)])).save(tmp_path / "b.png")
    arr, _, fmt = read_pixels(tmp_path / "b.png")
    assert arr.shape == (3, 24, 40) and fmt == "PNG 8-bit RGBA, alpha dropped" and np.array_equal(arr,
                                                                                                  im.transpose(2, 0, 1))
    Image.fromarray(im[..., 0]).convert("P").save(tmp_path / "p.png")
    assert read_pixels(tmp_path / "p.png")[0].shape == (1, 24, 40)
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan], [1.0, 2.0]], dtype=np.float32))
    with pytest.raises(DataError, match=r"nan.npy' has 1 NaN"):
        read_pixels(tmp_path / "nan.npy")
    with pytest.raises(DataError, match=r"x.gif' has an unsupported type; allowed: .png, .jpg"):
        (tmp_path / "x.gif").write_bytes(b"GIF89a")
        read_pixels(tmp_path / "x.gif")
    raw16 = np.zeros((4, 4, 3), np.uint16)
    import zlib
    import struct

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    body = b"".join(b"\x00" + raw16[r].astype(">u2").tobytes() for r in range(4))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b""))
    (tmp_path / "c16.png").write_bytes(png)
    with pytest.raises(DataError, match=r"c16.png' is a 16-bit colour PNG"):
        read_pixels(tmp_path / "c16.png")


def test_the_resize_policies_follow_their_definitions():
    """squash: straight to size × size; crop: the centre square first; pad: zeros around to a square first. Masks
    by nearest neighbour stay boolean."""
    x = torch.arange(2 * 4 * 8, dtype=torch.float32).view(2, 4, 8)
    sq = Pixels("raw", "squash").fit(x, 4)
    assert sq.shape == (2, 4, 4)
    crop = Pixels("raw", "crop").fit(x, 4)
    assert torch.equal(crop, x[:, :, 2:6])  # already 4 px: the centre square, untouched
    pad = Pixels("raw", "pad").fit(x, 8)
    assert torch.equal(pad[:, 2:6, :], x) and pad[:, :2].abs().sum() == 0 and pad[:, 6:].abs().sum() == 0
    m = Pixels("raw", "pad").fit(torch.ones(1, 4, 8), 8, mask=True)
    assert m.dtype == torch.bool and int(m.sum()) == 32
    assert Pixels("window:-1000,400").scale(np.array([[[-1200.0, -300.0, 400.0]]]), None).tolist() == [[[0.0, 0.5,
                                                                                                          1.0]]]
    assert Pixels("raw").scale(np.array([[[0, 255]]], np.uint8), 255.0).tolist() == [[[0.0, 1.0]]]


@pytest.mark.parametrize("kw,match", [
    (dict(intensity="stretch"), r"'intensity' parameter of audit_file must be one of raw, percentile, window:LO,HI.*"
                                r"'stretch'"),
    (dict(intensity="window:5,1"), r"'intensity'.*finite LO < HI.*'window:5,1'"),
    (dict(resize="fit"), r"'resize' parameter of audit_file must be one of squash, pad, crop.*'fit'"),
])
def test_bad_reading_options_are_named(tmp_path, kw, match):
    with pytest.raises(ShortcutlabError, match=match):
        audit_file(tmp_path / "m.pt2", tmp_path, **kw)


def test_an_rgb_jpeg_manifest_audits_a_torchvision_resnet_with_imagenet_statistics(tmp_path, capsys):
    """The outside user's case end to end: RGB JPEGs, a torchvision ResNet's state dict, ImageNet mean and std; the
    report states the input pipeline and the command exits 0 (no --fail-on)."""
    import torchvision

    from shortcutlab.app.cli import main

    images, masks, labels = _colour_set(2, cue="background")
    csv_path = _write(tmp_path, images, masks, labels, ext="jpg", names=("normal", "abnormal"))
    net = torchvision.models.resnet18(weights=None, num_classes=2).eval()
    torch.save(net.state_dict(), tmp_path / "resnet18.pth")
    rc = main(["audit", "--model", str(tmp_path / "resnet18.pth"), "--arch", "torchvision.resnet18",
               "--data", str(csv_path), "--classes", "normal,abnormal", "--size", "64", "--mean", "0.485,0.456,0.406",
               "--std", "0.229,0.224,0.225", "--cam-images", "8", "--n-boot", "50", "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "48 × JPEG 8-bit RGB" in out and "class order 0: normal, 1: abnormal (as --classes" in out
    assert "mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]" in out and "resized to 64 × 64 px" in out
    html = (tmp_path / "r" / "index.html").read_text()
    assert "Input pipeline" in html and "JPEG 8-bit RGB" in html and "Caveats" in html
