"""The audit of a model the user already has: its counterfactuals by replay, its verdicts on models whose answer is
known, its file formats, and every bad input named."""
import csv
import json

import numpy as np
import pytest
import torch
from torch import nn
from conftest import seed_interval

import shortcutlab as sl
from shortcutlab import ShortcutlabError
from shortcutlab.auditing import audit, audit_file, counterfactual_images, draw_donors, load_model
from shortcutlab.data.examples import _png


def _tiny(n=16, size=16, seed=0):
    return sl.make_cmr(n=n, size=size, seed=seed)


def test_donors_and_counterfactuals_replay_their_definition():
    d = _tiny(n=14)
    y = d.labels.numpy()
    got = draw_donors(y, seed=5, k=3)
    # the documented draw order, written out by hand
    rng = np.random.default_rng(5)
    n = y.size
    same = np.arange(n)
    for c in sorted(set(y.tolist())):
        members = [i for i in range(n) if y[i] == c]
        if len(members) > 1:
            shift = rng.integers(1, len(members), len(members))
            for j, i in enumerate(members):
                same[i] = members[(j + shift[j]) % len(members)]
    rand = (np.arange(n) + rng.integers(1, n, n)) % n
    present = sorted(set(y.tolist()))
    nxt_cls = np.array([present[(present.index(c) + 1) % len(present)] for c in y])
    nxt = np.empty(n, dtype=int)
    for c in present:
        who = [i for i in range(n) if nxt_cls[i] == c]
        members = np.array([i for i in range(n) if y[i] == c])
        nxt[who] = members[rng.integers(0, members.size, len(who))]
    extra = [(np.arange(n) + rng.integers(1, n, n)) % n for _ in range(2)]
    assert np.array_equal(got["mixed_same"], same) and np.array_equal(got["mixed_rand"], rand)
    assert np.array_equal(got["mixed_next"], nxt) and np.array_equal(got["worst"], np.stack([rand] + extra))
    assert all(y[same[i]] == y[i] for i in range(n)) and all(y[nxt[i]] == nxt_cls[i] for i in range(n))
    assert (rand != np.arange(n)).all()
    # every pixel of every counterfactual, from its definition
    x, m = d.float_images(), d.masks.bool()
    for variant in ("only_fg", "no_fg", "mixed_next"):
        img = counterfactual_images(x, m, variant, got.get(variant), fill=0.25).numpy()
        xn, mn = x.numpy(), m.numpy()
        for i in (0, 5, 13):
            for idx in np.ndindex(*xn.shape[1:]):
                own = mn[i][idx]
                if variant == "only_fg":
                    want = xn[i][idx] if own else 0.25
                elif variant == "no_fg":
                    want = 0.25 if own else xn[i][idx]
                else:
                    dnr = got[variant][i]
                    want = xn[i][idx] if own else (0.25 if mn[dnr][idx] else xn[dnr][idx])
                assert img[i][idx] == pytest.approx(want)


@pytest.fixture(scope="module")
def study_audits(mri_study):
    """The study's Full (trained with the cue in the background) and Seg (the heart alone) audited on the cm test
    patients, with the cue as in training."""
    out = sl.auditing.audit_models(["study:full", "study:seg"], "study:cm:test", study=mri_study, seed=0,
                                   max_cam_images=60, sanity_images=16)
    return out


def test_the_audit_of_the_study_models_says_what_its_tests_say(study_audits):
    """Seed 0's Full and Seg, through the 'study:' names: Seg sees the object only, so no background can move it
    (exactly: the mechanism); Full's one-line answer and reading follow its verdicts, and each worst case is an image
    whose prediction moved to its donor's class. Whether Full reads the background is a trained model's outcome,
    asserted over seeds by the next test."""
    full, seg = study_audits.values()
    assert seg.tests.loc["follows_donor", "effect"] == 0
    assert seg.verdict("follows_donor") == "equivalent" and seg.verdict("bg_gap") == "equivalent", seg.tests
    assert seg.overall == "does not read the background"
    assert seg.info["preprocess"]["test_input"] == "seg" and full.info["preprocess"]["test_input"] == "full"
    reads = full.verdict("follows_donor") == "holds" or full.verdict("bg_gap") == "holds"
    assert full.overall.startswith("reads the background") == reads, (full.overall, full.tests)
    if full.verdict("follows_donor") == "holds":
        assert "the model reads the background" in full.tests.loc["follows_donor", "reading"]
        assert full.tests.loc["follows_donor", "lo"] > 0
    for i in full.cases:
        c = full.case(int(i))
        assert c["pred_mixed"] == c["donor_class"] != c["pred"]
    loc = full.localisation.set_index(["class", "metric"]).loc[("all", "aks")]
    assert loc["floor"] < loc["ceiling"]


@pytest.mark.outcome
def test_full_is_flagged_as_reading_the_background_over_seeds(mri_study, mri_seeds):
    """The study's Full models (trained with the cue in the background) at four seeds, audited on the cm test
    patients: how often a prediction follows the donor's background, over the seeds' interval, is above 0. (The maps'
    sanity check over seeds is test_saliency's.)"""
    ds = mri_study.data("cm")["test"]
    follows = []
    for g in mri_seeds.by("seed").values():
        res = sl.auditing.audit(g.one(condition="full").model(), ds, preprocess={"test_input": "full"}, seed=0,
                                max_cam_images=8, sanity_images=4, n_boot=200)
        follows.append(res.tests.loc["follows_donor", "effect"])
    r = seed_interval(follows)
    assert r["lo"] > 0, r


def test_a_model_that_ignores_its_input_fails_the_sanity_check():
    class Blind(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.bias = nn.Parameter(torch.tensor([0.5, 0.1, -0.2, 0.0]))

        def forward(self, x):
            return self.bias + 0.0 * self.conv(x).mean((2, 3))

    res = audit(Blind(), _tiny(n=24), n_boot=200, sanity_images=12, max_cam_images=12, site=_tiny(n=10, seed=4))
    assert res.counterfactuals.loc["site", "changed"] == 0   # another site's backgrounds, and nothing moves it
    assert res.verdict("sanity_weights") == "contradicted" and res.verdict("sanity_target") == "contradicted"
    assert res.overall == "inconclusive: one class for every image; its maps fail the sanity check"
    assert "not evidence" in res.summary


def test_torchscript_and_export_files_audit_as_the_module(study_audits, mri_study, tmp_path):
    run = mri_study.run("cm", "full", seed=0)
    model, data = run.model().eval(), mri_study.data("cm")["test"]
    kw = dict(n_boot=200, seed=0, max_cam_images=40, sanity_images=8)
    ts = tmp_path / "full_ts.pt"
    torch.jit.trace(model, data.float_images()[:2]).save(str(ts))
    assert load_model(ts)[1] == "torchscript"
    from_ts = audit_file(ts, data, **kw)
    own = audit(model, data, cams=False, **kw)
    for t in ("follows_donor", "bg_gap", "background_alone"):
        assert from_ts.tests.loc[t, "effect"] == pytest.approx(own.tests.loc[t, "effect"], abs=1e-9)
        assert from_ts.verdict(t) == own.verdict(t)
    np.testing.assert_allclose(from_ts.counterfactuals["accuracy"], own.counterfactuals["accuracy"])
    assert from_ts.verdict("on_object") == "not run" and "TorchScript" in from_ts.tests.loc["on_object", "reading"]
    # a torch.export program keeps its modules, so its maps are read too
    pt2 = tmp_path / "full.pt2"
    batch = torch.export.Dim("batch", min=2, max=4096)
    torch.export.save(torch.export.export(model, (data.float_images()[:2],), dynamic_shapes=({0: batch},)), str(pt2))
    from_pt2 = audit_file(pt2, data, target_layer="encoder.layer4", **kw)
    with_cams = audit(model, data, target_layer="encoder.layer4", **kw)
    assert from_pt2.tests.loc["on_object", "effect"] == pytest.approx(with_cams.tests.loc["on_object", "effect"],
                                                                     abs=1e-4)


def _png_manifest(root, n=24, size=48):
    d = sl.make_echo(n=n, size=size, seed=3)
    rows = []
    for i in range(n):
        _png(d.images[i, 0].numpy(), root / "img" / f"{i}.png")
        _png(d.masks[i, 0].numpy().astype(np.uint8) * 255, root / "mask" / f"{i}.png")
        rows.append({"image": f"img/{i}.png", "mask": f"mask/{i}.png", "label": d.class_names[int(d.labels[i])]})
    with (root / "manifest.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["image", "mask", "label"])
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv", d


def test_the_command_audits_a_timm_state_dict_and_a_torchscript_file(tmp_path):
    import timm

    from shortcutlab.app.cli import main

    csv_path, d = _png_manifest(tmp_path)
    net = timm.create_model("resnet18", pretrained=False, num_classes=d.num_classes, in_chans=3).eval()
    sd = tmp_path / "resnet18.pt"
    torch.save(net.state_dict(), sd)
    out = tmp_path / "report"
    rc = main(["audit", "--model", str(sd), "--arch", "resnet18", "--data", str(csv_path), "--size", "48",
               "--cam-images", "12", "--n-boot", "100", "--out", str(out)])
    assert rc == 0
    rec = json.loads((out / "audit.json").read_text())["resnet18.pt"]
    assert rec["info"]["preprocess"]["channels"] == 3 and rec["info"]["target_layer"] == "layer4.1"
    assert set(rec["tests"]) >= {"overall", "follows_donor", "bg_gap", "on_object", "sanity_weights"}
    html = (out / "index.html").read_text()
    assert "Does the model read the background?" in html and "What the tests and verdicts mean" in html
    assert all((out / f).exists() for f, _ in rec["files"]["figures"])
    ts = tmp_path / "resnet18_ts.pt"
    torch.jit.trace(net, torch.rand(2, 3, 48, 48)).save(str(ts))
    rc = main(["audit", "--model", str(ts), "--data", str(csv_path), "--size", "48", "--channels", "3",
               "--n-boot", "100", "--out", str(tmp_path / "ts_report")])
    assert rc == 0
    rec = json.loads((tmp_path / "ts_report" / "audit.json").read_text())["resnet18_ts.pt"]
    assert rec["tests"]["on_object"]["verdict"] == "not run"


def test_bad_inputs_are_named_with_their_value(tmp_path, capsys):
    import timm

    from shortcutlab.app.cli import main

    d = _tiny(n=12)
    three = timm.create_model("resnet18", pretrained=False, num_classes=d.num_classes, in_chans=3).eval()
    with pytest.raises(ShortcutlabError, match=r"refused the input.*shape \(2, 2, 16, 16\).*preprocess"):
        audit(three, d)
    two_class = timm.create_model("resnet18", pretrained=False, num_classes=2, in_chans=2).eval()
    with pytest.raises(ShortcutlabError, match=r"\(2,\) outputs.*4 classes.*NICM"):
        audit(two_class, d)
    four = timm.create_model("resnet18", pretrained=False, num_classes=4, in_chans=2).eval()
    with pytest.raises(ShortcutlabError, match=r"'masks' parameter of audit.*\(12, 2, 16, 16\).*\(12, 2, 8, 8\)"):
        audit(four, d, masks=torch.ones(12, 2, 8, 8, dtype=torch.bool))
    with pytest.raises(ShortcutlabError, match=r"'target_layer'.*'layer9'.*Did you mean 'layer4'"):
        audit(four, d, target_layer="layer9", n_boot=50)
    with pytest.raises(ShortcutlabError, match=r"'preprocess'.*'sise'.*Did you mean 'size'"):
        audit(four, d, preprocess={"sise": 64})
    with pytest.raises(ShortcutlabError, match=r"'conditions'.*'mixed_all'"):
        audit(four, d, conditions=["mixed_all"])
    no_masks = sl.ImageSet(images=d.images, labels=d.labels, class_names=d.class_names, name="bare")
    with pytest.raises(ShortcutlabError, match=r"mask for every image.*'bare' has 0 of 12"):
        audit(four, no_masks)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(b"\x80\x04not a zip")
    with pytest.raises(ShortcutlabError, match=r"not one the audit reads.*TorchScript.*torch.export.*state dict.*pickle"):
        load_model(pickled)
    sd = tmp_path / "four.pt"
    torch.save(four.state_dict(), sd)
    with pytest.raises(ShortcutlabError, match=r"'arch' parameter of load_model.*weights only"):
        load_model(sd)
    with pytest.raises(ShortcutlabError, match=r"'arch'.*'resnet_18'.*Did you mean"):
        load_model(sd, arch="resnet_18")
    with pytest.raises(ShortcutlabError, match=r"does not fit the architecture 'resnet34'"):
        load_model(sd, arch="resnet34", num_classes=4, in_chans=2)
    rc = main(["audit", "--model", str(tmp_path / "missing.pt"), "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_the_cam_layer_is_found_for_the_common_families_and_gives_grad_cams_maps():
    import timm
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from shortcutlab.auditing import Prepared, Preprocess, find_target_layer
    from shortcutlab.saliency import compute_cams

    want = {"resnet18": "layer4.1", "densenet121": "features.norm5", "efficientnet_b0": "conv_head",
            "convnext_atto": "stages.3", "vit_tiny_patch16_224": "blocks.11.norm1"}
    x = torch.rand(2, 1, 32, 32)
    for arch, name in want.items():
        kw = {"img_size": 32} if arch.startswith("vit") else {}
        net = timm.create_model(arch, pretrained=False, num_classes=3, in_chans=3, **kw).eval()
        prepared = Prepared(net, Preprocess(channels=3), frames=1)
        layer, reshape, found = find_target_layer(prepared)
        assert found == name and (reshape is not None) == arch.startswith("vit"), arch
        maps = compute_cams(prepared, x, targets=[0, 1], layer=layer, reshape_transform=reshape)
        assert maps.shape == (2, 1, 32, 32) and torch.isfinite(maps).all(), arch
        # the backward that starts at the target layer gives grad-cam's own maps (its backward through it all)
        with GradCAM(model=prepared, target_layers=[layer], reshape_transform=reshape) as cam:
            ref = cam(input_tensor=x, targets=[ClassifierOutputTarget(0), ClassifierOutputTarget(1)])
        assert torch.allclose(maps[:, 0], torch.from_numpy(ref).float(), atol=1e-5), arch
        assert all(p.requires_grad for p in net.parameters()), arch  # the parameters' gradients are back on


def test_notebook_parameters_and_command_options_name_their_bad_values(tmp_path, capsys):
    from shortcutlab.app.cli import main
    from shortcutlab.app.notebook import setup

    where = dict(notebook="08_audit_your_model")
    with pytest.raises(ShortcutlabError, match=r"'MODELS'.*non-empty list.*Got 'study:full'"):
        setup("smoke", {}, str(tmp_path / "r"), MODELS="study:full", **where)
    with pytest.raises(ShortcutlabError, match=r"'DATA'.*manifest CSV.*Got ''"):
        setup("smoke", {}, str(tmp_path / "r"), DATA="", **where)
    with pytest.raises(ShortcutlabError, match=r"'ARCH'.*a string.*Got 18"):
        setup("smoke", {}, str(tmp_path / "r"), ARCH=18, **where)
    with pytest.raises(ShortcutlabError, match=r"preprocess\['std'\].*positive.*Got \[0.0\]"):
        setup("smoke", {}, str(tmp_path / "r"), PREPROCESS={"mean": [0.5], "std": [0.0]}, **where)
    with pytest.raises(ShortcutlabError, match=r"preprocess\['size'\].*integer in \[1, 4096\].*Got 0"):
        setup("smoke", {}, str(tmp_path / "r"), PREPROCESS={"size": 0}, **where)
    sd = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(2, 2)}, sd)
    rc = main(["audit", "--model", str(sd), "--arch", "resnet18", "--data", str(tmp_path), "--mean", "0.5,x",
               "--std", "1,1", "--out", str(tmp_path / "o")])
    assert rc == 2 and "'--mean' option must be comma-separated numbers" in capsys.readouterr().err


def test_the_counterfactuals_run_through_a_folded_copy_only_when_it_is_the_same_model():
    """inference_copy folds each convolution with the batch norm after it (channels-last) and gives the model's
    softmax to float rounding; a norm that sits beside a convolution without following it in the forward would
    change the model, so then, as for a TorchScript file, the model itself is used."""
    from torch import nn

    from shortcutlab.auditing.model import inference_copy
    from shortcutlab.models import build_model

    torch.manual_seed(0)
    model = build_model("sl_cnn", 4, 2).eval()
    for mod in model.modules():  # non-trivial statistics, so a wrong fold would show
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    x = torch.rand(6, 2, 32, 32)
    fast = inference_copy(model, x)
    count = lambda m: sum(isinstance(q, nn.BatchNorm2d) for q in m.modules())  # noqa: E731
    assert fast is not model and (count(model), count(fast)) == (14, 1)  # the stem's norm follows a Sequential
    with torch.no_grad():
        assert torch.allclose(torch.softmax(fast(x), 1), torch.softmax(model(x), 1), atol=1e-5)
    assert not model.training and all(p.is_contiguous() for p in model.parameters())  # the model is untouched

    class Beside(nn.Module):  # the norm is registered after the conv, but the forward also uses the conv alone
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.head = nn.Linear(4, 3)

        def forward(self, x):
            y = self.conv(x)
            return self.head(y.mean((2, 3)) - self.bn(y).mean((2, 3)))

    odd = Beside().eval()
    odd.bn.running_mean.fill_(0.7)
    assert inference_copy(odd, x) is odd
    scripted = torch.jit.script(odd)
    assert inference_copy(scripted, x) is scripted


def _two_level_backgrounds(n=40, size=24, seed=0):
    """Two classes whose only difference is the background's grey level (60 vs 180 of 255); the object, a centred
    square of random texture, carries no class."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    img = torch.where(y[:, None, None, None] == 1, 180, 60).expand(n, 1, size, size).clone().to(torch.uint8)
    m = torch.zeros(n, 1, size, size, dtype=torch.bool)
    m[..., 6:18, 6:18] = True
    img[m] = torch.randint(0, 256, (int(m.sum()),), generator=g, dtype=torch.uint8)
    return sl.ImageSet(images=img, labels=y, class_names=["low", "high"], masks=m, name="two-level")


class _BackgroundLogit(nn.Module):
    """One logit, as a BCE-trained binary model gives: z = 20 · (the border's mean grey - 0.47), the border being
    background in every image. P(high) = sigmoid(z)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)  # a layer for the CAMs; identity
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.zero_()

    def forward(self, x):
        h = self.conv(x)
        border = torch.cat([h[..., :4, :].flatten(1), h[..., -4:, :].flatten(1)], 1)
        return 20 * (border.mean(1, keepdim=True) - 0.47)


def test_a_one_logit_sigmoid_model_audits_as_two_classes():
    """A binary model with one sigmoid logit is read as two classes (its logit the second's: softmax of [-z/2, z/2]
    is sigmoid(z)), said in the result; it reads the background by construction, and the audit says so."""
    data = _two_level_backgrounds()
    res = audit(_BackgroundLogit(), data, n_boot=200, max_cam_images=16, sanity_images=8, target_layer="conv")
    assert "one sigmoid logit" in res.info["head"] and res.info["classes"] == ["low", "high"]
    p = res.arrays["probs"]["original"]
    assert (p.argmax(1) == data.labels.numpy()).all()  # right on every original image
    assert res.overall.startswith("reads the background") and res.overall_code == "reads-background"
    rec = res.record()
    assert rec["overall_code"] == "reads-background" and rec["classes"] == ["low", "high"]
    assert rec["follows_donor"]["verdict_code"] == "holds"
    # a one-logit model with three classes is refused, naming both counts
    three = sl.ImageSet(images=data.images, labels=data.labels % 3, class_names=["a", "b", "c"], masks=data.masks)
    with pytest.raises(ShortcutlabError, match=r"gives \(1,\) outputs per image but the data .* has 3 classes"):
        audit(_BackgroundLogit(), three, n_boot=50, cams=False)


def test_the_command_exit_code_follows_fail_on(tmp_path, capsys):
    """Exit codes for CI: 0 when no --fail-on code matches, 1 when one does, 2 on an error; audit.json holds the
    overall code and the class order, which the command also prints."""
    import timm

    from shortcutlab.app.cli import main
    from shortcutlab.auditing import overall_code

    csv_path, d = _png_manifest(tmp_path, n=16)
    net = timm.create_model("resnet18", pretrained=False, num_classes=d.num_classes, in_chans=3).eval()
    sd = tmp_path / "resnet18.pt"
    torch.save(net.state_dict(), sd)
    args = ["audit", "--model", str(sd), "--arch", "resnet18", "--data", str(csv_path), "--size", "48",
            "--cam-images", "8", "--n-boot", "50", "--batch-size", "5", "--device", "cpu"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    rec = json.loads((tmp_path / "a" / "audit.json").read_text())["resnet18.pt"]["tests"]
    code = rec["overall_code"]
    assert code == overall_code(rec["overall"]) and rec["classes"] == sorted(d.class_names)
    order = ", ".join(f"{i}: {c}" for i, c in enumerate(sorted(d.class_names)))
    assert f"class order {order} (the labels sorted" in out and "read 16 image file(s): 16 × PNG 8-bit grey" in out
    fail = code if code != "clean" else "reads-background"
    rc = main(args + ["--out", str(tmp_path / "b"), "--fail-on", fail])
    assert rc == (1 if code != "clean" else 0)
    assert main(args + ["--out", str(tmp_path / "c"), "--fail-on", "sideways"]) == 2
    assert "'--fail-on' option must be comma-separated codes among reads-background" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "d"), "--batch-size", "0"]) == 2
    err = capsys.readouterr().err
    assert "'batch_size' parameter of audit" in err and "Got 0" in err


def test_a_manifest_may_give_boxes_for_masks(tmp_path):
    """A 'box' column (x0,y0,x1,y1, exclusive ends, in the image's pixels) is the object region as a rectangle; the
    audit says the region is a box; a bad box and a row with both are named."""
    from shortcutlab import DataError
    from shortcutlab.data.loaders import load_manifest

    d = sl.make_echo(n=8, size=32, seed=3)
    rows = []
    for i in range(8):
        _png(d.images[i, 0].numpy(), tmp_path / f"{i}.png")
        rows.append({"image": f"{i}.png", "box": "4,8,20,24", "label": d.class_names[int(d.labels[i])]})

    def write(rows, name="m.csv"):
        with (tmp_path / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return tmp_path / name

    ds = load_manifest(write(rows), size=32, cache_dir=False)
    want = torch.zeros(32, 32, dtype=torch.bool)
    want[8:24, 4:20] = True  # rows y0:y1, columns x0:x1
    assert all(torch.equal(ds.masks[i, 0], want) for i in range(8)) and bool(ds.has_mask.all())
    assert ds.meta["object_region"] == ["box"] * 8
    res = audit(_BackgroundLogit(), sl.ImageSet(images=ds.images, labels=(ds.labels % 2), class_names=["a", "b"],
                                               masks=ds.masks, meta=ds.meta), n_boot=50, cams=False)
    assert res.info["object_region"] == "box"
    from shortcutlab.app.audit_report import write_audit_report
    assert "the object region is a box" in write_audit_report([res], tmp_path / "report").read_text()
    bad = [dict(rows[0], box="4,8,40,24")] + rows[1:]
    with pytest.raises(DataError, match=r"'box' field in row 2 of .* 0 <= x0 < x1 <= 32 .* Got '4,8,40,24'"):
        load_manifest(write(bad, "bad.csv"), size=32, cache_dir=False)
    with pytest.raises(DataError, match=r"'box' field in row 2 of .* four integers x0,y0,x1,y1. Got 'a,b'"):
        load_manifest(write([dict(rows[0], box="a,b")] + rows[1:], "bad2.csv"), size=32, cache_dir=False)
    both = [dict(r, mask=f"{i}.png") for i, r in enumerate(rows)]
    with pytest.raises(DataError, match=r"'mask' and 'box' fields in row 2 .* both set"):
        load_manifest(write(both, "both.csv"), size=32, cache_dir=False)


def test_a_lightning_checkpoint_of_a_torchvision_model_and_the_pickle_recipe(tmp_path, capsys):
    """A torchvision architecture by name, its state dict under a Lightning checkpoint's 'state_dict' with keys
    prefixed 'model.' (--strip-prefix); a torch.save(model) pickle is refused with the recipe that converts it."""
    import torchvision

    from shortcutlab.app.cli import main

    csv_path, d = _png_manifest(tmp_path, n=12)
    net = torchvision.models.resnet18(weights=None, num_classes=d.num_classes).eval()
    ckpt = tmp_path / "epoch=3.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in net.state_dict().items()}, "epoch": 3}, ckpt)
    base = ["audit", "--data", str(csv_path), "--size", "48", "--cam-images", "6", "--n-boot", "50", "--channels", "3"]
    assert main(base + ["--model", str(ckpt), "--arch", "torchvision.resnet18", "--strip-prefix", "model.",
                        "--read-size", "40", "--out", str(tmp_path / "r")]) == 0
    rec = json.loads((tmp_path / "r" / "audit.json").read_text())["epoch=3.ckpt"]
    assert rec["info"]["target_layer"] == "layer4.1"
    # --size is the model's input size everywhere; --read-size reads the images at another (resized, and said)
    assert rec["info"]["size"] == [40, 40] and rec["info"]["preprocess"]["size"] == 48
    from shortcutlab.auditing import audit_file
    with pytest.raises(ShortcutlabError, match=r"'size' parameter of audit_file must be the model's input size, as "
                                               r"preprocess\['size'\] \(64\) says. Got 48"):
        audit_file(ckpt, csv_path, arch="torchvision.resnet18", strip_prefix="model.", size=48,
                   preprocess={"size": 64})
    model, _ = load_model(ckpt, arch="torchvision.resnet18", strip_prefix="model.")
    x = torch.rand(2, 3, 48, 48)
    assert torch.equal(model(x), net(x))  # the same weights, key by key
    assert main(base + ["--model", str(ckpt), "--arch", "torchvision.resnet18", "--strip-prefix", "net.",
                        "--out", str(tmp_path / "r2")]) == 2
    assert "'strip_prefix' parameter of load_model" in capsys.readouterr().err
    assert main(base + ["--model", str(ckpt), "--arch", "torchvision.resnet81", "--out", str(tmp_path / "r3")]) == 2
    assert "Did you mean 'torchvision.resnet18'" in capsys.readouterr().err
    pickled = tmp_path / "whole.pt"
    torch.save(net, pickled)
    assert main(base + ["--model", str(pickled), "--arch", "resnet18", "--out", str(tmp_path / "r4")]) == 2
    err = capsys.readouterr().err
    assert "torch.save(model) is a pickle, never read" in err and "torch.export.save" in err
