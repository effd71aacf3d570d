"""The condition registry: one record per condition, queried everywhere; a user condition trains."""
import numpy as np
import pytest
import torch

import shortcutlab as sl
from shortcutlab import ShortcutlabError
from shortcutlab.interventions.background import select
from shortcutlab.interventions.registry import condition_names


def test_builtins_and_queries():
    assert condition_names() == ("full", "baseline", "seg", "bg", "black", "rand", "backmix", "noise", "shuffle",
                                 "bokeh", "cutmix", "sma_variant")
    assert condition_names(paper="mri") == ("full", "seg", "bg", "rand")
    assert condition_names(paper="backmix") == ("baseline", "black", "backmix", "noise", "shuffle", "bokeh",
                                                "cutmix", "sma_variant")
    assert condition_names(test_time=True) == ("seg", "bg")
    assert condition_names(stage="pre") == ("rand",)
    assert condition_names(mixes="pool") == ("backmix",)
    assert sl.get_condition("sma_variant").doc.startswith("the image; the loss adds a mask-free")
    with pytest.raises(ShortcutlabError, match="'condition' parameter of get_condition.*Got 'backmx'.*'backmix'"):
        sl.get_condition("backmx")


def test_registration_is_checked():
    with pytest.raises(ShortcutlabError, match="'name' parameter of Condition.*identifier.*'two words'"):
        sl.Condition("two words")
    with pytest.raises(ShortcutlabError, match="'stage' parameter of Condition.*Got 'middle'"):
        sl.Condition("x", stage="middle")
    with pytest.raises(ShortcutlabError, match="'apply' parameter of Condition 'x'.*function"):
        sl.Condition("x", stage="post")
    with pytest.raises(ShortcutlabError, match="'seg' is already registered.*built-in"):
        sl.register_condition(sl.Condition("seg"))
    with pytest.raises(ShortcutlabError, match="built-in condition 'full' cannot be unregistered"):
        sl.unregister_condition("full")


def _stripes(images, masks, ctx):
    """Background replaced by horizontal stripes on the selected samples (a user's own intervention)."""
    pattern = torch.zeros_like(images)
    pattern[..., ::4, :] = 1
    sel = (~masks) & ctx.apply.to(images.device).view(-1, 1, 1, 1)
    return select(sel, pattern, images), None, {}


def test_a_user_condition_trains_in_the_study(tmp_path):
    cond = sl.register_condition(sl.Condition("stripes", needs_mask=True, augments=True, stage="post",
                                              apply=_stripes, doc="background replaced by stripes"))
    try:
        assert "stripes" in condition_names(paper="user")
        cfg = sl.load_preset("smoke", overrides={"data.cmr_n": 40, "data.cmr_size": 32, "train.epochs": 1})
        study = sl.Study(cfg, root=tmp_path, progress=False)
        r = study.run("cm", "stripes")
        assert r.condition == "stripes" and 0 <= r.metrics["test"]["auc_micro"] <= 1
        # the pipeline applied it: background rows are stripes, the heart untouched, on every augmented sample
        from shortcutlab.interventions.pipeline import BatchPipeline
        train = study.data("cm")["train"]
        b = next(iter(BatchPipeline(train, "stripes", batch_size=8, geometric=None, seed=0)))
        m = train.masks[b.index]
        x0 = train.images[b.index].float() / 255
        assert b.augmented.all()
        assert torch.equal(b.x[m], x0[m])
        assert set(np.unique(b.x[~m].numpy()).tolist()) <= {0.0, 1.0}
        assert sl.Study(cfg, root=tmp_path, progress=False).run("cm", "stripes").loaded_from_cache
        with pytest.raises(ShortcutlabError, match="'stripes' is already registered.*replace=True"):
            sl.register_condition(cond)
    finally:
        sl.unregister_condition("stripes")
    with pytest.raises(ShortcutlabError, match="Got 'stripes'"):
        sl.get_condition("stripes")
