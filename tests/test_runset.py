"""RunSet: the flat records every experiment returns, and the one declaration of a notebook's runs the plan reads."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from shortcutlab import ShortcutlabError
from shortcutlab.study import RunSet


def _run(auc, seed=0, lo=0.0, hi=1.0):
    return SimpleNamespace(metrics={"test": {"auc_micro": auc, "auc_micro_lo": lo, "auc_micro_hi": hi}},
                           spec={"seed": seed})


@pytest.fixture
def runs():
    rs = RunSet()
    for seed, (full, seg) in enumerate(((0.9, 0.7), (0.8, 0.75), (0.85, 0.8))):
        rs.add(_run(full, seed), "cm", "full", seed)
        rs.add(_run(seg, seed), "cm", "seg", seed)
        rs.add(_run(0.6, seed), "cm→acdc", "full", seed)
    rs.add(_run(0.5), "echo", "backmix", 0, f=0.05, lam=1.0)
    return rs


def test_where_by_at_seed_and_one(runs):
    assert len(runs) == 10 and runs.seeds == [0, 1, 2]
    cm = runs.where(cohort="cm")
    assert len(cm) == 6 and cm.values("condition") == ["full", "seg"]
    assert [r.metrics["test"]["auc_micro"] for r in runs.where(cohort="cm", condition="full")] == [0.9, 0.8, 0.85]
    assert len(runs.where(condition=("full", "seg"), seed=lambda s: s > 0)) == 6
    assert len(runs.where(lambda rec: rec.cohort.startswith("cm"))) == 9
    by = cm.by("seed")
    assert list(by) == [0, 1, 2] and all(len(g) == 2 for g in by.values())
    assert list(runs.by("cohort", "condition")) == [("cm", "full"), ("cm", "seg"), ("cm→acdc", "full"),
                                                      ("echo", "backmix")]
    first = runs.at_seed(0)  # one run per condition (cohort, condition, changes)
    assert len(first) == 4 and all(r.spec["seed"] == 0 for r in first)
    assert runs.at_seed(2).values("cohort") == ["cm", "cm→acdc"]  # echo has no third seed
    assert runs.one(cohort="echo", f=0.05).metrics["test"]["auc_micro"] == 0.5
    with pytest.raises(ShortcutlabError, match=r"3 runs with \{'condition': 'seg'\}, not one"):
        runs.one(condition="seg")
    assert list(runs.at_seed(0).named(cohort="cm")) == ["full", "seg"]
    with pytest.raises(ShortcutlabError, match="several runs named 'full'.*at_seed"):
        runs.named(cohort="cm")
    with pytest.raises(ShortcutlabError, match=r"'names' parameter of RunSet.by"):
        runs.by()


def test_joining_keeps_a_run_once(runs):
    more = RunSet()
    more.add(_run(0.1), "cm", "full", 0)  # the same condition and seed: already there
    more.add(_run(0.7, 3), "cm", "full", 3)
    joined = runs + more
    assert len(joined) == 11 and joined.where(cohort="cm", condition="full", seed=0).one().metrics["test"]["auc_micro"] == 0.9


def test_table_and_over_seeds_against_the_t_interval(runs):
    t = runs.table(auc=lambda r: r.metrics["test"]["auc_micro"])
    assert list(t.columns) == ["cohort", "condition", "seed", "f", "lam", "auc"] and len(t) == 10
    assert t.iloc[-1][["f", "lam", "auc"]].tolist() == [0.05, 1.0, 0.5]
    agg = runs.over_seeds(lambda r: r.metrics["test"]["auc_micro"],
                          single=lambda r: (r.metrics["test"]["auc_micro_lo"], r.metrics["test"]["auc_micro_hi"]))
    full = agg[(agg["cohort"] == "cm") & (agg["condition"] == "full")].iloc[0]
    v = np.array([0.9, 0.8, 0.85])
    h = stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3)
    assert (full["mean"], full["lo"], full["hi"]) == pytest.approx((v.mean(), v.mean() - h, v.mean() + h))
    assert full["n_seeds"] == 3 and full["how"] == "t over 3 seeds"
    echo = agg[agg["cohort"] == "echo"].iloc[0]  # one seed: its own interval, said so
    assert (echo["mean"], echo["lo"], echo["hi"], echo["n_seeds"]) == (0.5, 0.0, 1.0, 1)
    assert echo["how"].startswith("bootstrap") and echo["f"] == 0.05


def _notebook(path, cells):
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": cells[0], "outputs": [],
                     "execution_count": None}]
          + [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
             for c in cells[1:]],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def test_the_plan_reads_a_notebooks_experiment_calls(tmp_path):
    """A notebook's calls of registered experiments are its declaration: found in order (nested ones first), made
    with its parameters; anything the plan cannot know before the notebook runs is an error naming it."""
    from shortcutlab import load_preset
    from shortcutlab.study.plan import notebook_experiments, plan

    nb = _notebook(tmp_path / "mine.ipynb", [
        "PRESET = 'smoke'\nSEEDS = [1]\nCONDS = ['full', 'seg']",
        "import shortcutlab as sl\nfrom shortcutlab.study import mri, claims",
        "runs = mri.contextual_bias(study, conditions=CONDS, cohorts=('cm',), transfer=False, seeds=SEEDS)",
        "table = claims.contextual_claims(study, study.run_many('cm', ['bg'], seed=SEEDS[0]))",
    ])
    assert [c.func.attr for c in notebook_experiments(nb)] == ["contextual_bias", "run_many"]
    cfg = load_preset("smoke", overrides={"data.cmr_n": 40, "data.cmr_size": 32})
    jobs = plan(cfg, [nb], root=tmp_path / "runs")
    assert [(j.call["condition"], j.call["seed"]) for j in jobs] == [("full", 1), ("seg", 1), ("bg", 1)]
    assert all(j.notebooks == ["mine"] and not j.cached for j in jobs)
    bad = _notebook(tmp_path / "bad.ipynb", ["PRESET = 'smoke'", "runs = mri.contextual_bias(study, seeds=my_seeds)"])
    with pytest.raises(ShortcutlabError, match=r"'bad.ipynb' calls mri.contextual_bias with \['my_seeds'\].*parameters cell"):
        plan(cfg, [bad], root=tmp_path / "runs")


def test_every_training_notebook_declares_its_runs():
    from shortcutlab._paths import NOTEBOOKS_DIR
    from shortcutlab.study.plan import notebook_experiments

    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        assert bool(notebook_experiments(path)) == (path.stem != "00_phantoms"), path.name


def test_the_lesson_spends_its_seeds_on_its_verdicts(tmp_path):
    """The lesson preset's plan: Full and the cure (balanced: Full with the marker random in training, cue strength
    0), whose verdicts need the power, at every seed; Seg (the control, decided by construction) and the dial's
    other strengths at the first train.descriptive_seeds; the dial at strength 0 is the cure's runs, not new ones."""
    from collections import Counter

    from shortcutlab import load_preset
    from shortcutlab.study.plan import plan

    cfg = load_preset("lesson")
    seeds, k = cfg.train.seeds, cfg.train.descriptive_seeds
    assert cfg.lesson.cure == "balanced" and k == 2 < len(seeds)
    jobs = plan(cfg, ["lesson"], root=tmp_path / "runs")
    by = Counter((j.call["condition"], j.call["strength"], j.call["changes"].get("f")) for j in jobs)
    assert by[("full", None, None)] == by[("full", 0.0, None)] == len(seeds) and by[("seg", None, None)] == k
    assert [by[("full", st, None)] for st in (0.5, 0.9)] == [k] * 2
    assert len(jobs) == 2 * len(seeds) + k * 3
    assert {j.call["seed"] for j in jobs if j.call["condition"] == "seg"} == set(seeds[:k])
