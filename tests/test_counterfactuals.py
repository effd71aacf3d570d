"""Paired counterfactual test sets (the same patients or sectors, only the background changed) and Rand as the
MRI code's swapBG, each checked against its definition."""
import numpy as np
import pytest
import torch

from shortcutlab import load_preset
from shortcutlab._validation import ShortcutlabError
from shortcutlab.data.phantoms import make_cmr, make_echo
from shortcutlab.data.sources import OOD_BACKGROUND_SETS, cohort_data
from shortcutlab.interventions.background import intervene
from shortcutlab.interventions.pipeline import BatchPipeline


def test_cmr_pairs_are_the_same_patients_with_another_cue(tmp_path):
    cfg = load_preset("smoke", overrides={"data.cmr_pairs_n": 40, "study.root": str(tmp_path)})
    d = cohort_data(cfg, "cm")
    dec, ali, con = d["test_decorrelated"], d["test_aligned"], d["test_conflict"]
    assert len(dec) == len(ali) == len(con) == 40
    assert torch.equal(dec.labels, ali.labels) and torch.equal(dec.labels, con.labels)
    assert torch.equal(dec.masks, con.masks)
    # the heart is the same pixels; only the background (the cue) differs
    for other in (ali, con):
        diff = other.images != dec.images
        assert not (diff & dec.masks).any() and diff.any()
    assert bool(ali.meta["cue_agrees"].all()) and not bool(con.meta["cue_agrees"].any())
    with pytest.raises(ShortcutlabError, match=r"'cue' parameter of make_cmr must hold 8 ints in \[0, 3\]"):
        make_cmr("cm", 8, 32, cue=[0] * 7)


def test_echo_backgrounds_keep_the_sector_and_change_the_overlay():
    base = make_echo("ood", 48, 48, seed=3)
    sets = {b: make_echo("ood", 48, 48, seed=3, background=b) for b in ("id_agree", "id_conflict", "vendor", "black")}
    inside = base.masks
    for b, s in sets.items():
        assert torch.equal(s.images[inside], base.images[inside]), b  # the same sectors: acquisition unchanged
        assert torch.equal(s.labels, base.labels) and torch.equal(s.meta["site"], base.meta["site"])
    assert (sets["black"].images[~inside] == 0).all()
    assert bool(sets["id_agree"].meta["style_agrees"].all())
    assert not bool(sets["id_conflict"].meta["style_agrees"].any())
    # the i.d. layout: agreeing overlays are the i.d. site's overlays of the same style
    idd = make_echo("id", 48, 48, seed=3, overlay_strength=1.0)
    assert idd.images[~idd.masks].float().mean() > 0
    with pytest.raises(ShortcutlabError, match=r"'background' parameter of make_echo.*'id_agree'.*'stripes'"):
        make_echo("ood", 8, 48, background="stripes")
    assert set(OOD_BACKGROUND_SETS) == {"ood_bg_agree", "ood_bg_conflict", "ood_bg_vendor", "ood_bg_black"}


def _swap_bg(images, masks, donors):
    """The MRI code's swapBG, written out per sample and frame: the own pixels inside the own mask, the donor's
    pixels (its heart included) everywhere else, the donor of each frame its own."""
    out = images.clone()
    for i in range(images.shape[0]):
        for f in range(images.shape[1]):
            j = int(donors[i, f])
            out[i, f] = torch.where(masks[i, f], images[i, f], images[j, f])
    return out


def _replay_donors(b, n_frames, seed):
    """The donors a batch of b draws with the seeded generator: per frame, a donor among the others (r, shifted
    past the sample itself), then the pool-wide draw that only a sample without a position uses."""
    g = torch.Generator().manual_seed(seed)
    cols = []
    for _ in range(n_frames):
        r = torch.randint(0, b - 1, (b,), generator=g)
        torch.randint(0, b, (b,), generator=g)
        cols.append(torch.where(r >= torch.arange(b), r + 1, r))
    return torch.stack(cols, 1)


def test_rand_is_swapbg_replayed():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 2, 12, 12), dtype=torch.uint8, generator=g)
    m = torch.zeros(6, 2, 12, 12, dtype=torch.bool)
    m[:, :, 3:8, 4:9] = True
    m[::2, 1, 2:5, 2:5] = True  # ES masks differ from ED ones
    out, _, info = intervene("rand", x, m, generator=torch.Generator().manual_seed(9))
    donors = _replay_donors(6, 2, 9)
    assert torch.equal(info["donor"], donors)
    assert (donors[:, 0] != donors[:, 1]).any()  # a donor per frame
    assert torch.equal(out, _swap_bg(x, m, donors))
    # the donor's heart stays: no blanked (zero) hole where the donor's mask is and the own is not
    assert (out != 0).float().mean() > 0.98
    # the pipeline keeps the donors as they are (no blanked copy) and gives the same mix
    from shortcutlab.data.imageset import ImageSet
    s = ImageSet(images=x, labels=torch.arange(6) % 2, class_names=("a", "b"), masks=m)
    pipe = BatchPipeline(s, "rand", batch_size=6, geometric=None, seed=1)
    assert pipe._blanked is x


def test_new_parameters_name_themselves(tmp_path):
    """Bad values of the lesson's and the counterfactuals' parameters: the parameter, the bad value, what is allowed."""
    from shortcutlab import setup
    from shortcutlab.app.widgets import DialSlider
    from shortcutlab.study import Study, lesson

    cfg = load_preset("smoke", overrides={"study.root": str(tmp_path)})
    st = Study(cfg, root=tmp_path, progress=False)
    with pytest.raises(ShortcutlabError, match=r"'track' parameter of Study.run.*evaluation sets of 'cm'.*\['test_nope'\]"):
        st.run("cm", "full", track=["test_nope"])
    with pytest.raises(ShortcutlabError, match=r"'track' parameter of Study.run.*list of evaluation set names.*'test'"):
        st.run("cm", "full", track="test")
    with pytest.raises(ShortcutlabError, match=r"'ANSWER_1'.*'yes', 'no', \"can't tell\".*Got 1.5"):
        setup("smoke", {}, str(tmp_path / "r"), notebook="lesson", ANSWER_1=1.5)
    with pytest.raises(ShortcutlabError, match=r"'ANSWER_2' parameter of the notebook's parameters.*'sometimes'"):
        setup("smoke", {}, str(tmp_path / "r"), notebook="lesson", ANSWER_2="sometimes")
    with pytest.raises(ShortcutlabError, match=r"'strengths' parameter of dose_response_runs.*non-empty list.*Got \[\]"):
        lesson.dose_response_runs(st, [])
    with pytest.raises(ShortcutlabError, match=r"'cure'.*'balanced'.*'swap'"):
        load_preset("lesson", overrides={"lesson.cure": "swap"})
    with pytest.raises(ShortcutlabError, match=r"'strength' parameter of truth_share.*Got 1.5"):
        lesson.truth_share(1.5)
    with pytest.raises(ShortcutlabError, match=r"'measure' parameter of DialSlider.*'auc', 'accuracy'.*'auroc'"):
        DialSlider(st, None, measure="auroc")


def test_the_exercises_are_answered_from_intervals():
    """compare() against Welch's and the paired t-interval written out; "can't tell" is the answer where the
    interval holds 0, and the checker says right or not and why."""
    from scipy import stats

    from shortcutlab.study import lesson

    a, b = [50.0, 54.0, 47.0, 58.0], [60.0, 61.0]
    r = lesson.compare(a, b)
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 2
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 1)
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    assert r["difference"] == pytest.approx(np.mean(a) - np.mean(b))
    assert (r["lo"], r["hi"]) == pytest.approx((r["difference"] - half, r["difference"] + half))
    assert r["answer"] == ("yes" if r["hi"] < 0 else "can't tell")
    p = lesson.compare([10.0, 12.0, 11.0], [20.0, 21.0, 23.0], paired=True)
    d = np.array([-10.0, -9.0, -12.0])
    assert p["hi"] == pytest.approx(d.mean() + stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)) and p["answer"] == "yes"
    assert lesson.compare([1.0, 9.0], [5.0, 5.5])["answer"] == "can't tell"
    assert lesson.check_answer("Can't tell") == "can't tell" and lesson.check_answer(None) is None
    with pytest.raises(ShortcutlabError, match=r"'answer' parameter of the exercise.*'maybe'"):
        lesson.check_answer("maybe")
    assert lesson.truth_share(0.0) == 0.25 and lesson.truth_share(0.5) == 0.625 and lesson.truth_share(0.9) == 0.925


def test_an_intersection_union_row_holds_only_when_every_part_does():
    """The cure's row (L3): holds when both parts hold, contradicted when one is, else inconclusive; its p is the
    larger part's and its interval the weaker part's; it is primary, the parts secondary."""
    import pandas as pd

    from shortcutlab.study.claims import CLAIM_COLUMNS, intersection_union

    def table(va, vb, pa, pb):
        rows = []
        for i, v, p, lo in (("L3a", va, pa, 1.0), ("L3b", vb, pb, 0.5)):
            rows.append({c: "" for c in CLAIM_COLUMNS} | dict(id=i, role="secondary", verdict=v, p=p, lo=lo, hi=9.0,
                                                            effect=5.0, n_seeds=11, df=10.0, planning="≈20 seeds"))
        return pd.DataFrame(rows, columns=CLAIM_COLUMNS)

    both = intersection_union(table("holds", "holds", 0.001, 0.01), "L3", ("L3a", "L3b")).set_index("id")
    assert list(both.index) == ["L3", "L3a", "L3b"] and both.loc["L3", "verdict"] == "holds"
    assert both.loc["L3", "p"] == 0.01 and both.loc["L3", "lo"] == 0.5 and both.loc["L3", "role"] == "primary"
    assert "the weaker part is L3b" in both.loc["L3", "note"]
    one = intersection_union(table("holds", "inconclusive", 0.001, 0.2), "L3", ("L3a", "L3b")).set_index("id")
    assert one.loc["L3", "verdict"] == "inconclusive" and one.loc["L3", "planning"] == "≈20 seeds"
    bad = intersection_union(table("contradicted", "holds", 0.99, 0.001), "L3", ("L3a", "L3b")).set_index("id")
    assert bad.loc["L3", "verdict"] == "contradicted"


def test_saliency_browser_cases_is_checked(tmp_path):
    from shortcutlab.app.widgets import SaliencyBrowser
    from shortcutlab.study import Study

    st = Study(load_preset("smoke"), root=tmp_path, progress=False)
    with pytest.raises(ShortcutlabError, match=r"'cases' parameter of SaliencyBrowser.*'wrong'.*Got 'bad'"):
        SaliencyBrowser(st, {"full": object()}, cases="bad")


def test_the_lessons_tables_against_their_definitions():
    """reveal and dose_response on stand-in runs whose predictions are known: accuracy in percent per run, then the
    mean, lowest and highest over the runs; the fall is agreeing minus conflicting; the lesson's other models are
    the dial's reference at every strength."""
    from types import SimpleNamespace

    from shortcutlab.study import lesson
    from shortcutlab.study.runs import RunSet

    y = np.arange(20) % 4

    def run(right_agree, right_conflict):  # a run right on the first k patients of each group
        probs = {}
        for split, k in (("test_aligned", right_agree), ("test_conflict", right_conflict)):
            pred = np.where(np.arange(20) < k, y, (y + 1) % 4)
            probs[split] = np.eye(4)[pred]
        return SimpleNamespace(probs=probs, labels={"test_aligned": y, "test_conflict": y})

    runs = RunSet()
    for s, (a, c) in enumerate([(18, 10), (16, 14), (20, 6)]):
        runs.add(run(a, c), "cm", "full", s)
    for s, (a, c) in enumerate([(12, 12), (14, 14)]):
        runs.add(run(a, c), "cm", "seg", s)
    for s, (a, c) in enumerate([(9, 9), (11, 10), (10, 10)]):
        runs.add(run(a, c), "cm", "rand", s)
    t = lesson.reveal(None, runs, guess=30)
    full = t.loc["Full (whole image)"]
    assert full["cue agrees"] == pytest.approx(100 * np.mean([18, 16, 20]) / 20)
    assert (full["cue conflicts lowest"], full["cue conflicts highest"]) == (30.0, 70.0)
    assert full["fall"] == pytest.approx(full["cue agrees"] - full["cue conflicts"]) and full["runs"] == 3
    assert t.loc["Seg (heart only)", "runs"] == 2 and t.loc["Seg (heart only)", "fall"] == 0
    assert full["your guess (Full, cue conflicts)"] == 30 and t["your guess (Full, cue conflicts)"].isna().sum() == 2
    dial = RunSet()
    for st, ks in ((0.0, [(15, 15), (17, 13)]), (1.0, [(18, 10), (16, 14)])):
        for s, (a, c) in enumerate(ks):
            dial.add(run(a, c), "cm", "full", s, strength=st)
    d = lesson.dose_response(dial, runs).set_index(["strength", "model", "group"])
    assert tuple(d.loc[(0.0, "full", "cue conflicts"), ["accuracy", "lowest", "highest", "n_seeds"]]) == pytest.approx(
        (70, 65, 75, 2))
    for st in (0.0, 1.0):
        assert tuple(d.loc[(st, "rand", "cue agrees"), ["accuracy", "lowest", "highest", "n_seeds"]]) == pytest.approx(
            (50, 45, 55, 3))
    assert set(d["marker_true"]) == {25.0, 100.0}  # strengths 0 and 1: a quarter by chance, and always
    # the verdicts need Full and the cure at the same seeds, and Seg: else an error naming runs
    cure_study = SimpleNamespace(cfg=SimpleNamespace(lesson=SimpleNamespace(cure="rand")))
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of verdicts.*Full, Seg and the cure 'rand'.*Got 'seg'"):
        lesson.verdicts(cure_study, runs.where(condition=("full", "rand")))
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of verdicts.*same seeds.*'rand': \[0, 1\]"):
        lesson.verdicts(cure_study, runs.where(condition="full") + runs.where(condition="seg")
                        + runs.where(condition="rand", seed=(0, 1)))
