"""The study cache trusts nothing it has not verified: manifests with sizes and SHA-256 written
last, checkpoints that belong to their run, cached maps with their own manifest."""
import json
import shutil

import numpy as np
import pytest
import torch

from shortcutlab import load_preset
from shortcutlab._manifest import check_state_fits, digest
from shortcutlab._validation import CacheError
from shortcutlab.models import build_model
from shortcutlab.study import Study
from shortcutlab.study.store import CACHE_FORMAT, RUN_FILES, spec_hash


@pytest.fixture(scope="module")
def cfg():
    return load_preset("smoke", overrides={"train.epochs": 2, "data.cmr_n": 48, "data.cmr_size": 32,
                                           "saliency.max_images": 8})


@pytest.fixture(scope="module")
def base(cfg, tmp_path_factory):
    root = tmp_path_factory.mktemp("base")
    study = Study(cfg, root=root, progress=False)
    return study, study.run("cm", "full")


def _fresh(cfg, base, tmp_path):
    """A copy of the finished base entry in a new study folder."""
    study, run = base
    s2 = Study(cfg, root=tmp_path, progress=False)
    dst = s2.root / run.path.name
    shutil.copytree(run.path, dst)
    return s2, dst


def test_manifest_lists_every_file_with_size_and_sha256(base):
    _, run = base
    done = json.loads((run.path / "done.json").read_text())
    assert done["format"] == CACHE_FORMAT and done["spec_hash"] == spec_hash(run.spec)
    assert set(done["files"]) == set(RUN_FILES)
    for f, d in done["files"].items():
        assert d == digest(run.path / f)


@pytest.mark.parametrize("damage, reason", [
    (lambda p: (p / "metrics.json").write_text("{}"), "metrics.json has 2 bytes"),
    (lambda p: (p / "history.json").write_text("[]" + " " * (len((p / "history.json").read_bytes()) - 2)),
     "history.json does not match its SHA-256"),
    (lambda p: (p / "predictions.npz").unlink(), "predictions.npz is missing"),
    (lambda p: (p / "spec.json").write_text((p / "spec.json").read_text().replace('"full"', '"seg" ')),
     "spec.json does not match"),
])
def test_damaged_entries_are_retrained_with_the_reason(cfg, base, tmp_path, damage, reason):
    s2, dst = _fresh(cfg, base, tmp_path)
    assert s2.run("cm", "full").loaded_from_cache  # the intact copy loads
    damage(dst)
    with pytest.warns(UserWarning, match=f"{dst.name}.*unusable.*{reason}.*retrained"):
        r = s2.run("cm", "full")
    assert not r.loaded_from_cache
    assert np.array_equal(r.probs["test"], base[1].probs["test"])  # retrained to the same numbers


def test_weights_of_another_architecture_are_not_trusted(cfg, base, tmp_path):
    s2, dst = _fresh(cfg, base, tmp_path)
    other = build_model("resnet18", 4, 2)
    torch.save(other.state_dict(), dst / "weights.pt")
    with pytest.warns(UserWarning, match="weights.pt (has|does not match)"):
        r = s2.run("cm", "full")
    assert not r.loaded_from_cache and r.model()(torch.rand(1, 2, 32, 32)).shape == (1, 4)


def test_checkpoint_of_another_run_or_architecture_is_not_resumed(cfg, tmp_path, kill_after):
    """seg must not resume from full's checkpoint, and a checkpoint that does not fit leaves nothing behind:
    the run ends with the same numbers as a clean one."""
    clean = Study(cfg, root=tmp_path / "clean", progress=False).run("cm", "seg", seed=1)
    study = Study(cfg, root=tmp_path / "s", progress=False)
    with pytest.raises(kill_after.Killed):
        study.run("cm", "full", seed=1, _on_epoch=kill_after(1))
    full_dir = next(p for p in study.root.iterdir() if "-full-" in p.name)
    seg_dir = study.path_for(study.spec("cm", "seg", seed=1, settings=study.settings("cm")))
    seg_dir.mkdir(parents=True)
    shutil.copy(full_dir / "checkpoint.pt", seg_dir / "checkpoint.pt")
    with pytest.warns(UserWarning, match=r"checkpoint.*not resumed.*written by run '[0-9a-f]+', not by this run"):
        r = study.run("cm", "seg", seed=1)
    assert np.array_equal(r.probs["test"], clean.probs["test"])
    # a checkpoint with this run's key but another architecture's weights: rejected before anything is copied
    st = torch.load(full_dir / "checkpoint.pt", weights_only=True)
    st["model"] = build_model("resnet18", 4, 2).state_dict()
    st["key"] = spec_hash(study.spec("cm", "rand", seed=1, settings=study.settings("cm")))
    rand_dir = study.path_for(study.spec("cm", "rand", seed=1, settings=study.settings("cm")))
    rand_dir.mkdir(parents=True)
    torch.save(st, rand_dir / "checkpoint.pt")
    with pytest.warns(UserWarning, match="could not be resumed.*does not fit this model"):
        r = study.run("cm", "rand", seed=1)
    clean_rand = Study(cfg, root=tmp_path / "clean", progress=False).run("cm", "rand", seed=1)
    assert np.array_equal(r.probs["test"], clean_rand.probs["test"])


def test_check_state_fits_copies_all_or_nothing():
    m = build_model("sl_cnn", 4, 2)
    check_state_fits(m, m.state_dict(), what="model")
    bad = dict(m.state_dict())
    bad["head.bias"] = torch.zeros(7)
    with pytest.raises(CacheError, match=r"other shapes \['head.bias'\]"):
        check_state_fits(m, bad, what="model")
    with pytest.raises(CacheError, match="missing"):
        check_state_fits(m, {k: v for k, v in m.state_dict().items() if k != "head.bias"}, what="model")


def test_cached_maps_are_verified(cfg, base):
    study, run = base
    res = run.cams()
    f = next(run.path.glob("cams_test_*.npz"))
    assert (f.with_name(f.name + ".json")).exists()
    zeros = {k: np.zeros_like(v) for k, v in np.load(f, allow_pickle=False).items()}
    np.savez_compressed(f, **zeros)
    with pytest.warns(UserWarning, match="cached maps.*unusable.*does not match"):
        res2 = run.cams()
    assert np.array_equal(res2["cams"], res["cams"]) and res2["cams"].any()
