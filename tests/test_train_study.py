import json

import numpy as np
import pytest
import torch

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.models import build_model, load_encoder_weights, load_weights, save_weights, target_layer
from shortcutlab.study import Study
from shortcutlab.train import TrainSettings, class_weights, fit, predict, soft_cross_entropy


@pytest.fixture(scope="module")
def cfg():
    return load_preset("smoke", overrides={"train.epochs": 2, "data.cmr_n": 48, "data.cmr_size": 32})


def test_soft_cross_entropy_matches_reference():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 3, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    w = torch.tensor([1.0, 2.0, 0.5])
    ref = torch.nn.functional.cross_entropy(z, y, weight=w)
    assert torch.allclose(soft_cross_entropy(z, y, w), ref)
    # soft one-hot targets equal hard targets; per-sample weights enter as in a hand-written mean
    assert torch.allclose(soft_cross_entropy(z, torch.eye(3)[y], w), ref)
    sw = torch.tensor([1.0, 0.5, 1.5, 1.0, 0.5, 1.5])
    logp = torch.log_softmax(z, 1)
    hand = -(sw * w[y] * logp[torch.arange(6), y]).sum() / (sw * w[y]).sum()
    assert torch.allclose(soft_cross_entropy(z, y, w, sw), hand)
    assert torch.allclose(class_weights(torch.tensor([0, 0, 0, 1]), 2), torch.tensor([4 / 6, 2.0]))


def test_model_frames_and_target_layer():
    m = build_model("sl_cnn", 4, 2).eval()
    x = torch.rand(3, 2, 32, 32)
    out = m(x)
    assert out.shape == (3, 4)
    # one shared encoder over the frames, features concatenated frame by frame, then the linear head
    with torch.no_grad():
        by_hand = m.head(torch.cat([m.encoder(x[:, 0:1]), m.encoder(x[:, 1:2])], 1))
    assert torch.allclose(out, by_hand, atol=1e-6)
    assert target_layer(m) is m.encoder.layer4[-1]
    with pytest.raises(ShortcutlabError, match="2 frame"):
        m(torch.rand(3, 1, 32, 32))
    m.freeze_encoder(True)
    m.train()
    assert not m.encoder.training and m.head.training
    assert all(not p.requires_grad for p in m.encoder.parameters())


def test_build_model_errors(tmp_path):
    with pytest.raises(ShortcutlabError, match="'model' parameter of build_model must be a timm model name.*'resnet18'"):
        build_model("resnet181", 4)
    with pytest.raises(ShortcutlabError, match="offline.*weights_file"):
        build_model("resnet18", 4, weights="imagenet")
    with pytest.raises(ShortcutlabError, match="does not exist"):
        build_model("resnet18", 4, weights="imagenet", weights_file=str(tmp_path / "none.pth"))
    m = build_model("sl_cnn", 4)
    with pytest.raises(ShortcutlabError, match="does not exist"):
        load_weights(m, tmp_path / "missing.pt")
    save_weights(build_model("sl_cnn", 5), tmp_path / "five.pt")
    with pytest.raises(ShortcutlabError, match="shape mismatch.*head.weight"):
        load_weights(m, tmp_path / "five.pt")
    load_encoder_weights(m, tmp_path / "five.pt")  # the encoder fits; only the head differs


def test_fit_num_classes_mismatch(cfg, tmp_path):
    study = Study(cfg, root=tmp_path, progress=False)
    d = study.data("cm")
    with pytest.raises(ShortcutlabError, match="num_classes mismatch"):
        fit(build_model("sl_cnn", 5, 2), d["train"], d["val"], settings=TrainSettings(epochs=1, select_metric="last"))


def test_study_end_to_end(cfg, tmp_path):
    study = Study(cfg, root=tmp_path, progress=False)
    full = study.run("cm", "full")
    seg = study.run("cm", "seg")
    for r in (full, seg):
        m = r.metrics["test"]
        assert 0 <= m["auc_micro_lo"] <= m["auc_micro"] <= m["auc_micro_hi"] <= 1
        assert "test_decorrelated" in r.metrics and (r.path / "done.json").exists()
    assert full.path != seg.path and full.name.startswith("cm-full-s0-")
    # re-run: loads from the cache with identical numbers
    again = Study(cfg, root=tmp_path, progress=False).run("cm", "full")
    assert again.loaded_from_cache and again.metrics == json.loads(json.dumps(full.metrics))
    assert np.allclose(again.probs["test"], full.probs["test"])
    p = predict(again.model(), study.data("cm")["test"], condition="full")
    assert np.allclose(p, full.probs["test"], atol=1e-5)


def test_same_seed_same_numbers_and_resume(cfg, tmp_path, kill_after):
    a = Study(cfg, root=tmp_path / "a", progress=False).run("cm", "rand", seed=3)
    b = Study(cfg, root=tmp_path / "b", progress=False).run("cm", "rand", seed=3)
    assert a.metrics["test"]["auc_micro"] == b.metrics["test"]["auc_micro"]
    assert np.array_equal(a.probs["test"], b.probs["test"])
    # kill after epoch 1, resume, compare with the uninterrupted run
    c_study = Study(cfg, root=tmp_path / "c", progress=False)
    with pytest.raises(kill_after.Killed):
        c_study.run("cm", "rand", seed=3, _on_epoch=kill_after(1))
    run_dir = next((tmp_path / "c" / cfg.name).iterdir())
    assert (run_dir / "checkpoint.pt").exists() and not (run_dir / "done.json").exists()
    c = c_study.run("cm", "rand", seed=3)
    assert np.array_equal(c.probs["test"], a.probs["test"])
    assert c.metrics["test"]["auc_micro"] == a.metrics["test"]["auc_micro"]


def test_corrupt_and_incompatible_cache_are_retrained(cfg, tmp_path):
    study = Study(cfg, root=tmp_path, progress=False)
    r = study.run("cm", "full")
    (r.path / "weights.pt").write_bytes(b"broken")
    with pytest.warns(UserWarning, match="unusable.*retrained"):
        r2 = Study(cfg, root=tmp_path, progress=False).run("cm", "full")
    assert not r2.loaded_from_cache and np.array_equal(r2.probs["test"], r.probs["test"])
    done = json.loads((r2.path / "done.json").read_text())
    done["format"] = 999
    (r2.path / "done.json").write_text(json.dumps(done))
    with pytest.warns(UserWarning, match="cache format 999"):
        r3 = Study(cfg, root=tmp_path, progress=False).run("cm", "full")
    assert not r3.loaded_from_cache


def test_transfer_probe_and_bad_condition(cfg, tmp_path):
    study = Study(cfg, root=tmp_path, progress=False)
    cm = study.run("cm", "full")
    tr = study.run("acdc", "full", init=cm, probe=True)
    assert tr.spec["init"] == cm.name and tr.spec["probe"] and "-from-cm-" in tr.name
    assert tr.metrics["test"]["n"] > 0 and len(tr.model().class_names if hasattr(tr.model(), "class_names") else tr.spec["class_names"]) == 5
    with pytest.raises(ShortcutlabError, match="'condition'.*'seg'"):
        study.run("cm", "segg")


def test_study_root_holds_its_data_cache(tmp_path):
    """Study(root=...) keeps everything under root, the generated phantom sets included."""
    from shortcutlab import load_preset
    from shortcutlab._paths import PROJECT_ROOT
    from shortcutlab.study import Study
    before = set((PROJECT_ROOT / "runs" / "data").glob("*.npz")) if (PROJECT_ROOT / "runs" / "data").exists() else set()
    cfg = load_preset("smoke", overrides={"data.cmr_n": 80, "data.cmr_size": 32})
    st = Study(cfg, root=tmp_path, progress=False)
    parts = st.data("cm")
    # the cohort and its new test patients in three renders (cue random, agreeing, conflicting)
    assert len(parts["train"]) > 0 and len(list((tmp_path / "data").glob("cmr-*.npz"))) == 4
    after = set((PROJECT_ROOT / "runs" / "data").glob("*.npz")) if (PROJECT_ROOT / "runs" / "data").exists() else set()
    assert after == before


def test_setting_typo_is_a_clear_error(cfg, tmp_path):
    with pytest.raises(ShortcutlabError, match="Unknown training setting 'epoch'.*Did you mean 'epochs'"):
        Study(cfg, root=tmp_path, progress=False).run("cm", "full", epoch=3)


def test_auto_precision_is_bf16_only_where_the_cpu_has_it_natively(cfg, tmp_path, monkeypatch):
    import shortcutlab.train as train

    auto = TrainSettings(precision="auto", channels_last=False)
    monkeypatch.setattr(train, "_cpu_flags", lambda: {"avx2", "fma", "avx512f"})   # AVX-512 without BF16
    assert train.compute_plan(auto, "cpu")["precision"] == "fp32" and train.compute_key(auto, "cpu") == {}
    study = Study(cfg, root=tmp_path, progress=False)
    plain = study.spec("cm", "full", settings=study.settings("cm", precision="auto", channels_last=False))
    assert "compute" not in plain                       # plain fp32 compute keeps the keys it always had
    for flag in ("avx512_bf16", "amx_bf16"):
        monkeypatch.setattr(train, "_cpu_flags", lambda flag=flag: {"avx2", flag})
        assert train.compute_plan(auto, "cpu")["precision"] == "bf16"
    native = study.spec("cm", "full", settings=study.settings("cm", precision="auto", channels_last=False))
    assert native["compute"] == {"precision": "bf16"} and study.path_for(native) != study.path_for(plain)
    assert train.compute_key(TrainSettings(precision="fp32", channels_last=True, compile=True), "cpu") == \
        {"channels_last": True, "compile": True}
    with pytest.raises(ShortcutlabError, match=r"'precision'.*'fp32', 'bf16', 'auto'.*'fp16'"):
        train.compute_plan(TrainSettings(precision="fp16"), "cpu")


def test_bf16_training_keeps_its_loss_and_probabilities_in_fp32(cfg, tmp_path):
    d = Study(cfg, root=tmp_path, progress=False).data("cm")
    out = {}
    for precision in ("fp32", "bf16"):
        s = TrainSettings(epochs=1, select_metric="last", precision=precision)
        torch.manual_seed(0)
        res = fit(build_model("sl_cnn", d["train"].num_classes, d["train"].num_frames), d["train"], settings=s,
                  progress=False)
        p = predict(res.model, d["test"], settings=s)
        assert p.dtype == np.float32 and np.allclose(p.sum(1), 1, atol=1e-5)
        assert np.isfinite(res.history[0]["train_loss"])
        out[precision] = p
    assert not np.array_equal(out["fp32"], out["bf16"])   # autocast did run in bf16
    assert np.abs(out["fp32"] - out["bf16"]).max() < 0.5
