import numpy as np
import pytest
import torch
from conftest import SEEDS_SMALL, seed_interval

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.study import Study
from shortcutlab.models import build_model
from shortcutlab.data.phantoms import make_cmr
from shortcutlab.saliency import compute_cams, counterfactual_background, overlay, saliency_grid, sanity_check


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return build_model("sl_cnn", 4, 2), make_cmr("cm", 12, 32, seed=0)


def test_batched_cams_equal_per_image_and_restore_mode(small):
    model, s = small
    x = s.float_images()
    targets = [0, 1, 2, 3] * 3
    model.train()
    batched = compute_cams(model, x, targets=targets, batch_size=5)
    assert model.training  # grad-cam's eval() was undone
    assert batched.shape == (12, 2, 32, 32) and float(batched.min()) >= 0 and float(batched.max()) <= 1
    model.eval()
    single = torch.cat([compute_cams(model, x[i:i + 1], targets=[targets[i]]) for i in range(12)])
    assert torch.allclose(batched, single, atol=1e-5)  # every image got its own target, none zero-filled


def test_frozen_encoder_works(small):
    model, s = small
    m = build_model("sl_cnn", 4, 2).freeze_encoder(True)
    cams = compute_cams(m, s.float_images()[:4], targets=[0, 1, 2, 3])
    assert cams.shape == (4, 2, 32, 32) and bool((cams.flatten(1).amax(1) > 0).any())
    assert not any(p.requires_grad for p in m.encoder.parameters())  # still frozen, the head still trainable
    assert all(p.requires_grad for p in m.head.parameters())


def test_cam_bad_input(small):
    model, s = small
    x = s.float_images()[:4]
    with pytest.raises(ShortcutlabError, match="one class per image.*zero maps"):
        compute_cams(model, x, targets=[0, 1])
    with pytest.raises(ShortcutlabError, match=r"classes in \[0, 3\]"):
        compute_cams(model, x, targets=[0, 1, 2, 7])
    with pytest.raises(ShortcutlabError, match="'method'.*'gradcam'.*'eigencam'"):
        compute_cams(model, x, method="magiccam")
    for method in ("gradcam++", "eigencam", "layercam"):
        assert compute_cams(model, x, method=method).shape == x.shape


def test_counterfactual_gap_zero_for_object_only_model(small):
    model, s = small
    r = counterfactual_background(model, s, condition="seg")
    assert r["bg_gap"] == 0 and r["flip_rate"] == 0
    assert r["original"]["accuracy"] == r["mixed_rand"]["accuracy"]
    full = counterfactual_background(model, s, condition="full")
    assert set(full) == {"original", "mixed_same", "mixed_rand", "bg_gap", "flip_rate"}
    # values against independent computations: the original accuracy from predict(), the gap from its formula
    from shortcutlab.train import predict
    acc = float((predict(model, s, condition="full").argmax(1) == s.labels.numpy()).mean())
    assert full["original"]["accuracy"] == pytest.approx(acc)
    assert full["bg_gap"] == pytest.approx(full["mixed_same"]["accuracy"] - full["mixed_rand"]["accuracy"])
    assert 0 <= full["flip_rate"] <= 1


def test_sanity_check_structure(small):
    model, s = small
    df = sanity_check(model, s.float_images()[:4])
    assert df.loc[0, "spearman_mean"] == 1.0 and df.iloc[1]["randomized_up_to"] == "head"
    assert len(df) > 3 and (df["spearman_mean"].iloc[1:].abs() <= 1).all()


def test_rendering(small):
    model, s = small
    cams = compute_cams(model, s.float_images()[:3]).numpy()
    fig = saliency_grid(s.images[:3].numpy(), {"full": cams, "again": cams}, s.masks[:3].numpy())
    assert len(fig.axes) == 9
    # first column: the images themselves (frame 0); the others: the overlays, titled by model on the first row
    for i in range(3):
        assert np.array_equal(fig.axes[3 * i].images[0].get_array(), s.images[i, 0].numpy())
    assert [fig.axes[j].get_title() for j in (1, 2)] == ["full", "again"]
    with pytest.raises(ShortcutlabError, match="'cam' parameter of overlay"):
        overlay(np.zeros((4, 4)), np.zeros((5, 5)))


@pytest.mark.outcome
def test_seg_model_looks_at_the_heart_more_than_bg_model(mri_study, mri_seeds):
    """cm phantom n=400 at 64 px, 10 epochs: AKS(Seg) - AKS(BG) +0.18 / +0.25 / +0.16 / +0.24 over training seeds
    0-3 (AMD EPYC Zen 3, fp32), perturbed (SHORTCUTLAB_PERTURB=1) +0.16 / +0.16 / +0.17 / +0.20, asserted over the
    seeds' interval. Smaller (n=200 at 48 px, 8 epochs) was not robust:
    the under-trained seg model's maps sometimes sat in the blank background (AKS 0.01-0.02)."""
    gap = [np.nanmean(g.one(condition="seg").cams()["metrics"]["aks"])
           - np.nanmean(g.one(condition="bg").cams()["metrics"]["aks"]) for g in mri_seeds.by("seed").values()]
    r = seed_interval(gap)
    assert r["lo"] > 0.05, r
    again = mri_study.run("cm", "seg").cams()  # cached
    assert again["cams"].dtype == np.float16 and again["cams"].shape[1:] == (2, 64, 64)


@pytest.mark.outcome
def test_sanity_check_similarity_drops_as_layers_are_randomized(mri_study, mri_seeds):
    """Adebayo et al.'s point: maps of a trained model must change when its weights are randomized. The first step
    compares the trained maps with themselves (1, the mechanism); over the Full models of four seeds, the maps after
    the head is randomized and after every block is are unlike the trained ones. Measured (AMD EPYC Zen 3, fp32,
    seeds 0-3): after the head 0.29 / 0.09 / 0.17 / -0.15, every block 0.21 / 0.29 / 0.00 / 0.09; perturbed
    (SHORTCUTLAB_PERTURB=1) 0.28 / -0.02 / -0.06 / -0.14 and 0.21 / 0.21 / 0.07 / 0.10. That the
    similarity falls further from the head to the last block, asserted on one seed before, fails at two of these
    four seeds, so it is not asserted."""
    data = mri_study.data("cm")["test"].float_images()[:16]
    curves = [sanity_check(g.one(condition="full").model(), data)["spearman_mean"].to_numpy()
              for g in mri_seeds.by("seed").values()]
    assert all(c[0] == 1.0 for c in curves)
    head, every = seed_interval([c[1] for c in curves]), seed_interval([c[-1] for c in curves])
    assert head["hi"] < 0.9 and every["hi"] < 0.5, (head, every)


def test_cam_resolution_and_overlap_beside_floor_and_ceiling(mri_study):
    """The CAM layer of sl_cnn at 64 px is 8 x 8 (measured: 12 x 12 at 96 px, 16 x 16 at 128 px); a run's overlap
    reports each metric with its floor (the heart's area share, for AKS) and ceiling on the same images."""
    from shortcutlab.metrics import overlap_bounds
    from shortcutlab.saliency.cams import cam_resolution

    run = mri_study.run("cm", "seg")
    hw = cam_resolution(run.model(), (64, 64))
    assert hw == (8, 8)
    ov = run.overlap()
    assert ov["aks"]["cam_resolution"] == list(hw)
    ds = mri_study.data("cm")["test"]
    n = len(run.cams()["index"])
    share = ds.masks[:n].flatten(2).float().mean(-1)
    assert ov["aks"]["floor"] == pytest.approx(float(share.mean()), rel=1e-6)
    bounds = overlap_bounds(ds.masks[:n], hw)
    assert ov["dsc"]["ceiling"] == pytest.approx(float(np.nanmean(bounds["ceiling"]["dsc"].numpy())), rel=1e-6)
    assert ov["aks"]["floor"] < ov["aks"]["ceiling"] <= 1
    norm = (run.cams()["metrics"]["aks"] - bounds["floor"]["aks"].numpy()) / (bounds["ceiling"]["aks"].numpy() - bounds["floor"]["aks"].numpy())
    assert ov["aks"]["normalized"] == pytest.approx(float(np.nanmean(norm)), rel=1e-6)


def test_the_cam_layer_is_a_preset_setting(seeds_study, tmp_path):
    """saliency.layer maps at an earlier stage: its own cached file, overlap bounds at that layer's resolution; the
    training cache is shared (the layer is not a training setting); a layer the encoder lacks is a clear error."""
    from shortcutlab.saliency.cams import cam_resolution

    base = seeds_study.run("cm", "full", seed=0)
    deep = base.overlap()["aks"]["cam_resolution"]
    cfg = load_preset("smoke", overrides={**SEEDS_SMALL, "saliency.method": "layercam",
                                          "saliency.layer": "layer1"})
    early = Study(cfg, root=seeds_study.root.parent, progress=False).run("cm", "full", seed=0)
    assert early.loaded_from_cache and early.name == base.name
    ov = early.overlap()["aks"]
    assert ov["cam_resolution"] == list(cam_resolution(early.model(), (32, 32), "layer1"))
    assert ov["cam_resolution"][0] > deep[0]  # the first stage is finer than the last
    assert any("layercam_layer1_" in p.name for p in early.path.glob("cams_*.npz"))
    bad = load_preset("smoke", overrides={**SEEDS_SMALL, "saliency.layer": "layer9"})
    with pytest.raises(ShortcutlabError, match="'layer9'"):
        Study(bad, root=seeds_study.root.parent, progress=False).run("cm", "full", seed=0).cams()
