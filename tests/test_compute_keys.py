"""Every setting that changes a number enters the cache key: the pretraining's precision as the training's, and the
arithmetic perturbation switch (``SHORTCUTLAB_PERTURB``) that CI uses to find tests resting on last bits."""
import math

import numpy as np
import pytest
import torch

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab import train as T
from shortcutlab.study import Study

TINY = {"data.cmr_n": 48, "data.cmr_size": 32, "contrastive.epochs": 1, "contrastive.batch_size": 8,
        "contrastive.queue_size": 8, "contrastive.hidden_dim": 16, "contrastive.proj_dim": 8, "train.epochs": 1}


def test_pretraining_precision_is_resolved_and_keyed(tmp_path, monkeypatch):
    """A bf16 pretraining and an fp32 one are two entries; ``auto`` resolves as the training's precision does."""
    monkeypatch.delenv(T.PERTURB_ENV, raising=False)
    runs = {}
    for p in ("fp32", "bf16"):
        st = Study(load_preset("smoke", overrides={**TINY, "contrastive.precision": p}), root=tmp_path, progress=False)
        runs[p] = st.pretrain("simclr", "cm")
    assert runs["fp32"].name != runs["bf16"].name
    assert "compute" not in runs["fp32"].spec and runs["bf16"].spec["compute"] == {"precision": "bf16"}
    assert (runs["fp32"].path / "done.json").exists() and (runs["bf16"].path / "done.json").exists()
    monkeypatch.setattr(T, "_cpu_flags", lambda: {"avx512_bf16"})
    assert T.pretrain_plan("auto", "cpu")["precision"] == "bf16" and T.bf16_reason("cpu") == "AVX-512 BF16"
    monkeypatch.setattr(T, "_cpu_flags", lambda: {"avx2"})
    assert T.pretrain_plan("auto", "cpu")["precision"] == "fp32" and T.bf16_reason("cpu") == "no native bf16 on this CPU"
    monkeypatch.setattr(T, "_cpu_flags", lambda: {"amx_bf16", "avx512_bf16"})
    assert T.bf16_reason("cpu") == "AVX-512 BF16 and AMX"
    with pytest.raises(ShortcutlabError, match=r"'contrastive.precision'|'precision'.*'fp64'"):
        load_preset("smoke", overrides={"contrastive.precision": "fp64"})


def test_the_perturbation_switch_is_read_applied_and_keyed(monkeypatch):
    s = T.TrainSettings(precision="fp32", channels_last=True, threads=2)
    monkeypatch.delenv(T.PERTURB_ENV, raising=False)
    assert T.perturbation() == () and T.compute_key(s, "cpu") == {"channels_last": True}
    monkeypatch.setattr(T, "_cpu_flags", lambda: {"avx2"})
    monkeypatch.setenv(T.PERTURB_ENV, "1")  # no native bf16: channels-last toggled, the weights nudged
    assert T.perturbation("cpu") == ("channels_last", "ulp")
    plan = T.compute_plan(s, "cpu")
    assert plan["channels_last"] is False and plan["ulp"] and plan["precision"] == "fp32"
    assert T.compute_key(s, "cpu") == {"perturb": ["channels_last", "ulp"]}
    monkeypatch.setattr(T, "_cpu_flags", lambda: {"avx512_bf16"})  # native bf16: the precision swapped instead
    assert T.perturbation("cpu") == ("channels_last", "precision")
    assert T.compute_plan(T.TrainSettings(precision="auto"), "cpu")["precision"] == "fp32"
    monkeypatch.setenv(T.PERTURB_ENV, "threads")
    assert T.compute_plan(s, "cpu")["threads"] == 1 and T.compute_plan(T.TrainSettings(threads=1), "cpu")["threads"] == 2
    monkeypatch.setenv(T.PERTURB_ENV, "ulp,bogus")
    with pytest.raises(ShortcutlabError, match=r"SHORTCUTLAB_PERTURB must be 0, 1 or a comma-separated list of "
                                               r"'channels_last', 'precision', 'ulp', 'threads'\. Got 'ulp,bogus'"):
        T.perturbation()


def test_a_nudged_weight_is_its_next_float():
    lin = torch.nn.Linear(5, 3)
    before = [p.detach().clone() for p in lin.parameters()]
    T.nudge_weights(lin)
    for b, p in zip(before, lin.parameters()):
        assert (p > b).all()
        # nothing lies between: the midpoint rounds to one of the two
        mid = ((b.double() + p.double()) / 2).float()
        assert ((mid == b) | (mid == p)).all()
        assert torch.equal(torch.nextafter(b, torch.full_like(b, math.inf)), p.detach())


def test_a_perturbed_run_is_its_own_entry_and_trains_another_path(tmp_path, monkeypatch):
    cfg = load_preset("smoke", overrides=TINY)
    monkeypatch.delenv(T.PERTURB_ENV, raising=False)
    plain = Study(cfg, root=tmp_path, progress=False).run("cm", "full")
    monkeypatch.setenv(T.PERTURB_ENV, "ulp")
    nudged = Study(cfg, root=tmp_path, progress=False).run("cm", "full")
    assert nudged.name != plain.name and nudged.spec["compute"]["perturb"] == ["ulp"]
    assert not nudged.loaded_from_cache
    assert not np.array_equal(nudged.probs["test"], plain.probs["test"])  # the same meaning, other last bits
