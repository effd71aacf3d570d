"""Finding sentences choose their verb from the CI, never from the point estimates alone."""
from types import SimpleNamespace

import pandas as pd

from shortcutlab.study import findings
from shortcutlab.study.findings import _change, _claim_sentence


def test_the_verb_follows_the_intervals():
    assert _change((0.80, 0.90), (0.40, 0.50)) == "a clear drop"
    assert _change((0.40, 0.50), (0.80, 0.90)) == "a clear rise"
    assert _change((0.40, 0.60), (0.45, 0.65)) == "no clear change: the intervals overlap"
    assert _change((0.45, 0.55), (0.45, 0.55)) == "no clear change: the intervals overlap"  # a tie at chance


def _claims(effect, lo, hi, verdict, test="greater"):
    return pd.DataFrame([dict(id="9c", claim="BackMix raises o.o.d. accuracy over Baseline (points)", test=test,
                              delta=2.0, effect=effect, lo=lo, hi=hi, verdict=verdict)])


def test_claim_sentences_follow_the_verdict():
    assert _claim_sentence(_claims(4.2, 1.0, 7.1, "holds"), "9c", "raises", "lowers", "acc", " points") == \
        "raises acc (+4.2 points [+1.0, +7.1])"
    assert _claim_sentence(_claims(-3.0, -5.0, -1.0, "contradicted"), "9c", "raises", "lowers", "acc").startswith("lowers")
    small = _claim_sentence(_claims(1.0, 0.2, 1.8, "holds, below Δ"), "9c", "raises", "lowers", "acc", " points")
    assert small == "raises acc (+1.0 points [+0.2, +1.8], below Δ = 2)"
    tie = _claim_sentence(_claims(0.0, -3.0, 3.0, "inconclusive"), "9c", "raises", "lowers", "acc")
    assert tie.startswith("no clear change in acc") and "inconclusive" in tie
    for v in ("equivalent", "not replicated"):
        same = _claim_sentence(_claims(0.1, -0.5, 0.7, v), "9c", "raises", "lowers", "acc", " points")
        assert same.startswith("no change in acc of ±2 points or more"), v
    assert _claim_sentence(_claims(1, 0, 2, "holds"), "7", "a", "b", "c") == ""


def test_a_model_at_chance_does_not_drop():
    """A model at chance: Full 0.49 with the cue, 0.51 decorrelated was written as 'drops to'."""
    m = lambda a, lo, hi: {"auc_micro": a, "auc_micro_lo": lo, "auc_micro_hi": hi}  # noqa: E731
    from shortcutlab.study import RunSet

    runs = RunSet()
    full = runs.add(SimpleNamespace(metrics={"test": m(0.49, 0.40, 0.58), "test_decorrelated": m(0.51, 0.42, 0.60)}),
                    "cm", "full", 0)
    runs.add(SimpleNamespace(metrics={"test": m(0.5, 0.4, 0.6)}), "cm", "seg", 0)
    runs.add(SimpleNamespace(metrics={"test": m(0.5, 0.4, 0.6)}), "cm", "bg", 0)
    claims = pd.DataFrame({"verdict": ["inconclusive", "holds", "n/a (needs a phantom)", "contradicted", "holds"],
                           "role": ["primary"] * 4 + ["secondary"],
                           "note": ["", "", "", "the phantom has no such structure", ""]})
    out = findings.contextual_bias(runs, claims)
    assert out["finding"].startswith("Full's AUC is 0.49 with the cue as in training and 0.51 with it decorrelated "
                                     "(no clear change: the intervals overlap)") and "drop" not in out["finding"]
    # primary rows only; the n/a claim is not counted; a row with a note counts as its verdict
    assert out["claims_holding"] == "1/3"
    full.metrics["test_decorrelated"] = m(0.30, 0.22, 0.38)
    assert "and 0.30 with it decorrelated (a clear drop)" in findings.contextual_bias(runs, claims)["finding"]


def test_a_note_says_when_the_text_will_not_match(tmp_path):
    import shortcutlab as sl
    from shortcutlab.app.notebook import preset_note
    from shortcutlab.data.examples import write_folder_like

    assert "not meaningful" in preset_note(sl.load_preset("smoke"))
    assert preset_note(sl.load_preset("default")) == ""
    ood = write_folder_like(tmp_path / "ood", 8, size=48)
    real = sl.load_preset("default", {"data.echo_ood.source": "folder", "data.echo_ood.path": str(ood)})
    assert "Real data (echo_ood = folder)" in preset_note(real)


def test_training_curves_mark_the_kept_epoch():
    from shortcutlab import plots
    from shortcutlab.study import RunSet

    hist = [{"epoch": e, "val_auc": v} for e, v in zip((1, 2, 3), (0.6, 0.9, 0.7))]
    run = SimpleNamespace(history=hist, metrics={"best_epoch": 2}, spec={"seed": 0})
    two = RunSet()
    two.add(run, "cm", "full", 0)
    two.add(run, "acdc", "full", 0)
    fig = plots.plot_training_curves(two)
    assert [ax.get_title() for ax in fig.axes] == ["cm", "acdc"]
    curve, dot = fig.axes[0].lines[:2]
    assert list(curve.get_ydata()) == [0.6, 0.9, 0.7] and list(dot.get_xdata()) == [2] and list(dot.get_ydata()) == [0.9]
    seeds = RunSet()
    seeds.add(run, "echo", "baseline", 0)
    seeds.add(SimpleNamespace(history=hist, metrics={"best_epoch": 3}, spec={"seed": 1}), "echo", "baseline", 1)
    by_seed = plots.plot_training_curves(seeds)
    assert [ln.get_label() for ln in by_seed.axes[0].lines if not ln.get_label().startswith("_")] == \
        ["baseline s0", "baseline s1"]


def test_training_curves_reject_a_bad_metric():
    import pytest

    from shortcutlab import ShortcutlabError, plots

    with pytest.raises(ShortcutlabError, match=r"'metric' parameter of plot_training_curves.*'val_auc'.*'auc'"):
        plots.plot_training_curves({}, metric="auc")
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of plot_training_curves.*training history"):
        plots.plot_training_curves({"full": SimpleNamespace(history=[], metrics={}, spec={})})
