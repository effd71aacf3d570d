"""The directions the phantoms are built to show, asserted over four training seeds with the project's interval.

A trained model's numbers move with the last bits of the arithmetic (thread count, memory format, precision, the
order of a sum), so no assertion here rests on one seed: each reads the claims' own interval
(:func:`~shortcutlab.study.claims.contextual_claims`) or the t-interval over the seeds
(``conftest.seed_interval``), and ``make test-slow`` runs them again with the arithmetic perturbed
(``SHORTCUTLAB_PERTURB=1``).

Measured on an AMD EPYC (Zen 3), fp32, seeds 0-3, plain; then perturbed (``SHORTCUTLAB_PERTURB=1``: channels-last
off, every initial weight one ulp up). MRI (cm phantom, n = 400 at 64 px, 10 epochs, best-val-AUC epoch):
* BG AUC 0.85 / 0.81 / 0.82 / 0.81; perturbed 0.82 / 0.77 / 0.80 / 0.82 (claim 1: holds in both).
* AKS Seg - Full +0.10 / +0.15 / +0.10 / +0.16; perturbed +0.08 / +0.08 / +0.09 / +0.12 (claim 5a: holds).
* Full's AUC drop from the cue agreeing to the cue conflicting 0.13 / 0.04 / 0.16 / 0.16; perturbed
  0.14 / 0.03 / 0.04 / 0.12 (Seg's is exactly 0: it never sees the cue). Over four seeds the interval excludes 0
  in the first set and not in the second, so claim 3 is asserted only not to be contradicted, with Seg's zero as
  the mechanism; the study decides it at the default preset.
* Full's drop on the decorrelated set minus Seg's, which an earlier version asserted above 0.05 on seed 0, is
  +0.08 / -0.02 / +0.10 / +0.10; perturbed +0.06 / -0.00 / +0.01 / +0.08: not decided by four seeds, so it is
  left to the study's claim 2.
BackMix (echo phantom, n = 800 at 64 px, 12 epochs):
* %E BackMix - Baseline +0.045 / +0.079 / +0.084 / +0.004 (interval -0.006 to +0.112: not decided, so the test
  asserts only that BackMix does not lower it); perturbed +0.068 / +0.069 / +0.090 / +0.022.
* %E with 5 % of the masks - Baseline +0.017 / -0.008 / +0.015 / +0.021; perturbed +0.065 / +0.050 / +0.045 /
  +0.043.
* o.o.d. accuracy BackMix - Baseline +4.7 / +8.7 / +6.7 / -1.0 points; perturbed +1.7 / +19.3 / +10.0 / +1.7.
 An earlier version asserted %E(f = 0.05) > %E(Baseline) on seed 0, which flipped on a Zen 4 EPYC with bf16.
What f = 0.05 does is asserted as a mechanism (test_augment's replay of the masked subset); the trained effects
are the study's claims 9a-9c and 10a, read at the default preset.
"""
import numpy as np
import pytest

from conftest import OUTCOME_SEEDS, seed_interval
from shortcutlab import ShortcutlabError, load_preset
from shortcutlab.study.claims import CLAIM_COLUMNS, contextual_claims
from shortcutlab.study import Study


@pytest.mark.outcome
def test_mri_claims(mri_study, mri_seeds):
    table = contextual_claims(mri_study, mri_seeds, conditions=("full", "seg", "bg")).set_index("id")
    assert list(table.reset_index().columns) == CLAIM_COLUMNS and list(table.index) == ["1", "2i", "2", "3", "5a"]
    assert (table["n_seeds"] == len(OUTCOME_SEEDS)).all()
    per_seed = mri_seeds.by("seed")
    bg_auc = [g.one(condition="bg").metrics["test"]["auc_micro"] for g in per_seed.values()]
    # the claims' effect is the mean of the per-seed effects: claim 1 is BG's AUC above chance
    assert table.loc["1", "effect"] == pytest.approx(np.mean(bg_auc) - 0.5)
    assert table.loc["1", "verdict"] == "holds", table.loc["1"].to_dict()
    # claim 3 on the same patients with the cue agreeing and conflicting: Seg never sees the cue, so its drop is 0
    # at every seed (the mechanism), and Full's drop is the effect
    drops = {c: [g.one(condition=c).metrics["test_aligned"]["auc_micro"]
                 - g.one(condition=c).metrics["test_conflict"]["auc_micro"] for g in per_seed.values()]
             for c in ("full", "seg")}
    assert drops["seg"] == pytest.approx([0.0] * len(OUTCOME_SEEDS), abs=1e-12)
    assert table.loc["3", "effect"] == pytest.approx(np.mean(drops["full"]))
    assert table.loc["3", "verdict"] != "contradicted", (table.loc["3"].to_dict(), drops)
    # claim 5a: Seg's maps sit on the heart more than Full's
    assert table.loc["5a", "verdict"] == "holds", table.loc["5a"].to_dict()


@pytest.mark.outcome
def test_backmix_does_not_lower_the_energy_on_the_sector(echo_study):
    """BackMix against Baseline, %E on the i.d. test maps, over four seeds' interval: not below Baseline (the
    interval does not lie below 0). That it raises %E is not decided at this size (the interval includes 0, see the
    module's docstring); the study's claim 9a decides it at the default preset."""
    study = echo_study
    gain = [study.run("echo", "backmix", seed=s).overlap("test")["pct_e"]["mean"]
            - study.run("echo", "baseline", seed=s).overlap("test")["pct_e"]["mean"] for s in OUTCOME_SEEDS]
    r = seed_interval(gain)
    assert r["hi"] > 0, r


def test_claim_ci_choice_is_checked(seeds_study):
    """metrics.claim_ci and evaluate_claims' method reject what they do not know, naming it; a claim is read on
    the notebook's RunSet, and an empty one is an error that names it."""
    from shortcutlab.study import RunSet
    from shortcutlab.study.claims import contextual_claims, evaluate_claims

    with pytest.raises(ShortcutlabError, match=r"'claim_ci'.*'welch', 'seed_t', 'hierarchical_bootstrap'.*'bca'"):
        load_preset("smoke", overrides={"metrics.claim_ci": "bca"})
    with pytest.raises(ShortcutlabError, match=r"'method' parameter of evaluate_claims.*'student'"):
        evaluate_claims([], [], n_boot=10, method="student")
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of contextual_claims.*RunSet holding runs"):
        contextual_claims(seeds_study, RunSet())
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of contextual_claims.*the RunSet.*Got \{\}"):
        contextual_claims(seeds_study, {})


def test_runs_of_two_data_seeds_are_refused(tmp_path):
    """A claim pairs its seeds on the same test images. The fingerprint comes from each run's own evaluation data
    (its data spec and labels), so a RunSet that pools runs of two data seeds, across seeds or within one, is an
    error that names them, never read as one."""
    from shortcutlab.study import RunSet

    tiny = {"train.epochs": 1, "data.cmr_n": 48, "data.cmr_size": 32, "saliency.max_images": 8,
            "metrics.n_bootstrap": 20}
    conds = ("full", "seg", "bg")
    a = Study(load_preset("smoke", overrides={**tiny, "data.seed": 0}), root=tmp_path / "a", progress=False)
    b = Study(load_preset("smoke", overrides={**tiny, "data.seed": 1}), root=tmp_path / "b", progress=False)
    same = a.run_many("cm", conds, seed=0) + a.run_many("cm", conds, seed=1)
    assert len(contextual_claims(a, same, conditions=conds)) == 5  # one data seed: read
    across = a.run_many("cm", conds, seed=0) + b.run_many("cm", conds, seed=1)
    with pytest.raises(ShortcutlabError, match=r"'runs' parameter of contextual_claims must be runs whose seeds were "
                                               r"evaluated on the same data.*'seed 0': 'cm:.*'seed 1': 'cm:"):
        contextual_claims(a, across, conditions=conds)
    within = RunSet()
    within.add(a.run("cm", "full", seed=0), "cm", "full", 0)
    within.add(b.run("cm", "seg", seed=0), "cm", "seg", 0)
    within.add(a.run("cm", "bg", seed=0), "cm", "bg", 0)
    with pytest.raises(ShortcutlabError, match=r"runs of one seed evaluated on the same data.*cm-full-s0.*cm-seg-s0"):
        contextual_claims(a, within, conditions=conds)

