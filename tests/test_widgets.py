import numpy as np
import pytest

from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.study import Study
from shortcutlab.app.widgets import DialSlider, SaliencyBrowser
from shortcutlab.plots import gallery, render_case
from shortcutlab.saliency import select_cases


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    cfg = load_preset("smoke", overrides={"data.cmr_n": 40, "data.cmr_size": 32, "train.epochs": 1,
                                          "saliency.max_images": 12})
    study = Study(cfg, root=tmp_path_factory.mktemp("runs"), progress=False)
    runs = {c: study.run("cm", c) for c in ("full", "seg")}
    return study, runs


def test_select_cases_filters_and_sorts(setup):
    study, runs = setup
    idx = select_cases(study, runs["full"], sort_by="aks")
    res = runs["full"].cams()
    vals = np.nanmean(res["metrics"]["aks"], 1)[idx]
    finite = vals[~np.isnan(vals)]
    assert np.all(np.diff(finite) >= 0)  # worst (lowest AKS) first
    assert np.isnan(vals[: int(np.isnan(vals).sum())]).all()  # undefined maps lead
    wrong = select_cases(study, runs["full"], correctness="wrong")
    assert all(res["pred"][i] != res["labels"][i] for i in wrong)
    c1 = select_cases(study, runs["full"], cls=1)
    assert all(res["labels"][i] == 1 for i in c1)
    with pytest.raises(ShortcutlabError, match="'cls'"):
        select_cases(study, runs["full"], cls=9)
    with pytest.raises(ShortcutlabError, match="'sort_by'.*'aks'"):
        select_cases(study, runs["full"], sort_by="beauty")


def test_render_case_and_gallery(setup):
    study, runs = setup
    fig = render_case(study, runs, 0, frame=1)
    assert len(fig.axes) == 3 and "true" in fig.axes[0].get_title()
    shown = np.asarray(fig.axes[0].images[0].get_array())
    assert np.array_equal(shown, study.data("cm")["test"].images[0, 1].numpy())  # image 0, the frame asked for
    assert "full" in fig.axes[1].get_title() and "seg" in fig.axes[2].get_title()
    with pytest.raises(ShortcutlabError, match="frame"):
        render_case(study, runs, 0, frame=5)
    g = gallery(study, runs, n=3)
    assert len(g.axes) == 9


def test_browser_controls_drive_rendering(setup):
    study, runs = setup
    b = SaliencyBrowser(study, runs)
    assert b.current_index is not None and b.last_figure is not None
    assert b.cls.label == "all" and b.cls.index == 0  # the class box starts at "all", not empty
    assert "sorted by aks of <b>full</b>" in b.info.value
    first = b.current_index
    b.next.click()
    assert b.pos.value == min(1, b.pos.max) and b.current_index == int(b._order[b.pos.value])
    assert b.pos.max == 0 or b.current_index != first
    b.prev.click(), b.prev.click()
    assert b.pos.value == 0 and b.current_index == first  # stops at the first case
    b.cls.value = -1
    b.sort.value = "pct_e"
    b.pos.value = min(2, b.pos.max)
    assert b.current_index == int(b._order[b.pos.value])
    b.cls.value = 0
    labels = runs["full"].cams()["labels"]
    assert all(labels[i] == 0 for i in b._order)
    b.models.value = ("seg",)
    assert "seg" in b.last_figure.axes[1].get_title()
    b.frame.value = 1
    assert "ES" in b.last_figure.axes[0].get_title()


def test_dial_slider(setup):
    study, _ = setup
    d = DialSlider(study, strengths=(0.0, 1.0), conditions=("full",))
    assert d.rows[0]["strength"] == 1.0
    d.slider.value = 0.0
    assert d.rows[0]["strength"] == 0.0 and 0 <= d.rows[0]["auc"] <= 1


def test_dial_slider_shows_bars_and_maps(setup):
    """Live: a bar per model and cue setting, at the heights of its AUCs, and one image with each model's CAM;
    moving the slider redraws both for the new strength."""
    study, _ = setup
    d = DialSlider(study, strengths=(0.0, 1.0), conditions=("full", "seg"), live=True)
    bars = [p.get_height() for p in d.bar_figure.axes[0].patches]
    assert bars == pytest.approx([r["auc"] for r in d.rows] + [r["auc_decorrelated"] for r in d.rows])
    assert len(d.case_figure.axes) == 3 and "full" in d.case_figure.axes[1].get_title()
    assert "strength 1" in d.bar_figure.axes[0].get_title()
    d.slider.value = 0.0
    assert "strength 0" in d.bar_figure.axes[0].get_title() and d.rows[0]["strength"] == 0.0


def test_batch_mode_builds_but_does_not_draw(setup, monkeypatch):
    """Under `shortcutlab run` (SHORTCUTLAB_BATCH=1) the widgets are built and filtered but draw nothing live
    (no Output capture, which is what made nbclient hang); live=True/False overrides the environment."""
    study, runs = setup
    monkeypatch.setenv("SHORTCUTLAB_BATCH", "1")
    b = SaliencyBrowser(study, runs)
    assert not b.live and b.last_figure is None and b.out.outputs == ()
    assert b.cases == [int(i) for i in select_cases(study, runs["full"])] and b.current_index == b.cases[0]
    b.pos.value = min(1, b.pos.max)
    assert b.last_figure is None and b.current_index == b.cases[b.pos.value]
    d = DialSlider(study, strengths=(1.0,), conditions=("full",))
    assert not d.live and d.rows[0]["strength"] == 1.0 and d.out.outputs == ()
    assert SaliencyBrowser(study, runs, live=True).last_figure is not None
    monkeypatch.delenv("SHORTCUTLAB_BATCH")
    assert SaliencyBrowser(study, runs).live
    with pytest.raises(ShortcutlabError, match="'live' parameter of SaliencyBrowser.*Got 'yes'"):
        SaliencyBrowser(study, runs, live="yes")


def test_predict_first_records_the_guess_beside_the_answer():
    import pytest

    from shortcutlab import PredictFirst
    from shortcutlab._validation import ShortcutlabError

    w = PredictFirst("How often will Full be right?", live=False)
    assert w.value is None and not w.locked
    w.slider.value = 40
    w.button.click()  # the button locks the slider's value in
    assert w.value == 40 and w.locked and w.slider.disabled and "Your guess: 40 %" in w.note.value
    with pytest.raises(ShortcutlabError, match=r"'question' parameter of PredictFirst.*Got ''"):
        PredictFirst("")
    with pytest.raises(ShortcutlabError, match=r"'hi' parameter of PredictFirst.*Got 0"):
        PredictFirst("q", lo=0, hi=0)
