"""The learning-rate schedule: warm-up then half a cosine, applied at every optimizer step, and resumed exactly."""
import math

import numpy as np
import pytest
import torch

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.study import Study
from shortcutlab.train import lr_factor


def test_lr_factor_is_warm_up_then_half_cosine():
    warm, total = 4, 20
    got = [lr_factor("cosine", s, warm, total) for s in range(total)]
    ref = [(s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm + 1) / (total - warm)))
           for s in range(total)]
    assert np.allclose(got, ref)
    assert got[warm - 1] == 1.0 and got[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(got[warm - 1:], got[warm:]))  # never rises after the warm-up
    assert lr_factor("constant", 7, warm, total) == 1.0
    with pytest.raises(ShortcutlabError, match="'lr_schedule'.*'linear'"):
        lr_factor("linear", 0, 1, 2)
    with pytest.raises(ShortcutlabError, match="lr_schedule"):
        load_preset("smoke", overrides={"train.lr_schedule": "step"})


def test_fit_trains_at_the_scheduled_rates(seeds_study, monkeypatch):
    """The rate of every optimizer step is lr * lr_factor(step): recorded from Adam itself."""
    from shortcutlab.train import TrainSettings, fit
    from shortcutlab.models import build_model

    seen = []
    step = torch.optim.Adam.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    d = seeds_study.data("cm")
    s = TrainSettings(epochs=3, batch_size=8, lr=0.01, lr_schedule="cosine", select_metric="last")
    fit(build_model("sl_cnn", d["train"].num_classes, 2), d["train"], None, settings=s, progress=False)
    per_epoch = len(seen) // 3
    assert len(seen) == 3 * per_epoch and per_epoch >= 2
    assert np.allclose(seen, [0.01 * lr_factor("cosine", i, per_epoch, 3 * per_epoch) for i in range(len(seen))])


def test_a_resumed_cosine_run_ends_with_the_same_numbers(tmp_path, kill_after):
    cfg = load_preset("smoke", overrides={"train.epochs": 3, "data.cmr_n": 48, "data.cmr_size": 32,
                                          "train.lr_schedule": "cosine"})
    a = Study(cfg, root=tmp_path / "a", progress=False).run("cm", "full")
    b_study = Study(cfg, root=tmp_path / "b", progress=False)
    with pytest.raises(kill_after.Killed):
        b_study.run("cm", "full", _on_epoch=kill_after(1))
    b = b_study.run("cm", "full")
    assert np.array_equal(a.probs["test"], b.probs["test"])
    assert a.spec["train"]["lr_schedule"] == "cosine"
