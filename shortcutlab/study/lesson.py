"""A five-minute lesson: watch a model turn into a cheat and be cured, on one phantom cohort.

The design is Waterbirds': the spurious cue (a scanner marker in the background whose glyph names a class) agrees
with the label in the training split only (``data.cmr_spurious_strength``); the test patients are rendered twice,
identical but for the cue: once agreeing with the label, once pointing to another class (the cue-conflict group,
the worst group). A model that reads the heart scores the same on both; a model that reads the marker falls on the
conflicting ones. Full (the whole image) learns the cue, and learns it first (Geirhos et al. 2020: a shortcut is
the cue that is easier); Seg (the heart only) cannot see it; Rand (the background swapped for another patient's,
the MRI code's ``swapBG``) breaks the correlation and is the cure.

Every function is one notebook cell of ``notebooks/lesson.ipynb`` (``make lesson``); the verdicts are claims of
the registry (``L1`` … ``L4``) read over the preset's seeds like the papers' claims.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._validation import check_number, param_error
from .runs import Run, RunSet, experiment
from .study import Study
from .claims import Reading, _fingerprint, _maps, _run, _same_data, families

__all__ = ["CONDITIONS", "TRACK", "lesson_runs", "show_cue", "reveal", "dose_response_runs", "dose_response",
           "plot_dose_response", "learning_curves", "verdicts", "flipped_gallery", "crossing",
           "check_answer", "check_crossing", "few_masks_runs", "few_masks", "answers", "as_expected", "record"]

CONDITIONS = ("full", "seg", "rand")
TRACK = ("test_aligned", "test_conflict")  # recorded after every epoch: which one a model learns first
_LABELS = {"full": "Full (whole image)", "seg": "Seg (heart only)", "rand": "Rand (background swapped)"}



def _check_phantom(study: Study, where: str) -> None:
    if not study.is_phantom("cm"):
        raise param_error("study", where, "a study whose cm cohort is the phantom (the lesson redraws its patients "
                                          "with the cue changed)", study.cfg.data.cm)


@experiment
def lesson_runs(study: Study, *, seeds: Sequence[int] | None = None) -> RunSet:
    """Full, Seg and Rand on the cm phantom, each recording its accuracy on the cue-agreeing and cue-conflicting
    patients after every epoch: Full and Rand for each seed, Seg for the preset's first ``train.descriptive_seeds``
    of them. Seg's verdict (L2) is decided by construction: its input is the heart alone, identical in the two
    renderings of a patient, so its fall is exactly zero in every run, and more runs would decide nothing."""
    _check_phantom(study, "lesson_runs")
    runs = RunSet()
    for c in CONDITIONS:
        for s in study.seed_list(seeds, where="lesson_runs", descriptive=c == "seg"):
            runs.add(study.run("cm", c, seed=s, track=TRACK), "cm", c, s)
    return runs


def show_cue(study: Study, n: int = 4):
    """The same patients twice: the cue agreeing with the label (top) and pointing to another class (bottom). Only
    the corner marker differs; the heart is pixel for pixel the same."""
    import matplotlib.pyplot as plt

    _check_phantom(study, "show_cue")
    d = study.data("cm")
    ali, con = d["test_aligned"], d["test_conflict"]
    names = ali.class_names
    fig, axes = plt.subplots(2, n, figsize=(2.1 * n, 4.6))
    for j in range(n):
        for row, (s, what) in enumerate(((ali, "cue agrees"), (con, "cue says"))):
            ax = axes[row, j]
            ax.imshow(s.images[j, 0].numpy(), cmap="gray", vmin=0, vmax=255)
            ax.contour(s.masks[j, 0].numpy(), levels=[0.5], colors="lime", linewidths=0.6)
            cue = int(s.meta["cue"][j])
            ax.set_title(f"{names[int(s.labels[j])]}\n{what} {names[cue]}" if row else f"{names[int(s.labels[j])]}\n{what}",
                         fontsize=8)
            ax.axis("off")
    fig.suptitle("The same patients, only the marker changed (green: the heart)", fontsize=10)
    fig.tight_layout()
    return fig


def _acc(run: Run, split: str) -> float:
    return 100 * float((run.probs[split].argmax(1) == run.labels[split]).mean())


def _spread(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, lowest and highest over the seeds: what a descriptive table shows (a t-interval over two seeds has
    one degree of freedom and spans most of the axis, which tells a class nothing)."""
    return float(np.mean(values)), float(np.min(values)), float(np.max(values))


def reveal(study: Study, runs: RunSet, guess: Any = None) -> pd.DataFrame:
    """Accuracy (percent: the mean over the seeds, the lowest and the highest) of each model on the cue-agreeing
    and cue-conflicting patients, with the class's guess for Full on the conflicting ones beside it (``guess``: a
    number, or the predict-first widget). The intervals are the verdicts' (:func:`verdicts`)."""
    g = getattr(guess, "value", guess) if getattr(guess, "locked", True) else None
    if g is not None:
        g = check_number(g, name="guess", where="reveal", lo=0, hi=100)
    rows = []
    by = runs.by("condition")
    for c, rs in by.items():
        row = {"model": _LABELS.get(c, c)}
        for split, label in (("test_aligned", "cue agrees"), ("test_conflict", "cue conflicts")):
            m, lo, hi = _spread([_acc(r, split) for r in rs])
            row[label] = m
            row[f"{label} lowest"], row[f"{label} highest"] = lo, hi
        row["fall"] = row["cue agrees"] - row["cue conflicts"]
        row["runs"] = len(rs)
        rows.append(row)
    df = pd.DataFrame(rows).set_index("model")
    df["your guess (Full, cue conflicts)"] = [g if k == "full" else np.nan for k in by]
    return df


@experiment
def dose_response_runs(study: Study, strengths: Sequence[float], *, seeds: Sequence[int] | None = None) -> RunSet:
    """Full at each cue strength (how often the marker agrees with the label in training), for each seed; the
    run at the preset's strength is the lesson's own (:func:`lesson_runs`). Seg and Rand are not swept: Seg never
    sees the background, so its inputs, and its model, are the same at every strength, and Rand's backgrounds
    come from other patients, so the marker no longer goes with the class whatever the strength. No verdict reads
    the sweep, so it takes the preset's first ``train.descriptive_seeds`` seeds."""
    _check_phantom(study, "dose_response_runs")
    seeds = study.seed_list(seeds, where="dose_response_runs", descriptive=True)
    if isinstance(strengths, (str, bytes)) or not isinstance(strengths, Sequence) or not strengths:
        raise param_error("strengths", "dose_response_runs", "a non-empty list of numbers in [0, 1]", strengths)
    runs = RunSet()
    for st in strengths:
        st = check_number(st, name="strengths", where="dose_response_runs", lo=0, hi=1)
        for s in seeds:
            runs.add(study.run("cm", "full", seed=s, strength=st, track=TRACK), "cm", "full", s, strength=st)
    return runs


def dose_response(runs: RunSet, reference: RunSet) -> pd.DataFrame:
    """Accuracy on the cue-agreeing and cue-conflicting patients against the cue's strength in training: Full at
    each strength (``runs``, :func:`dose_response_runs`), Seg and Rand of the lesson (``reference``,
    :func:`lesson_runs`; the same at every strength, see :func:`dose_response_runs`): the mean over the seeds, and
    the lowest and highest of them."""
    by = runs.by("strength")
    ref = reference.by("condition")
    rows = []
    for st in sorted(by):
        for c, rs in (("full", list(by[st])), ("seg", list(ref["seg"])), ("rand", list(ref["rand"]))):
            for split, label in (("test_conflict", "cue conflicts"), ("test_aligned", "cue agrees")):
                m, lo, hi = _spread([_acc(r, split) for r in rs])
                rows.append(dict(strength=st, model=c, group=label, accuracy=m, lowest=lo, highest=hi,
                                 n_seeds=len(rs)))
    return pd.DataFrame(rows)


def plot_dose_response(df: pd.DataFrame):
    """The dial as a dose-response curve: Full's accuracy on the cue-conflicting patients (solid) and the
    cue-agreeing ones (dashed) against the strength, the bars spanning the lowest to the highest seed; Seg and
    Rand, which the strength cannot reach, as lines at their mean accuracy on the cue-conflicting patients, the
    bands spanning their seeds."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for group, ls in (("cue conflicts", "-"), ("cue agrees", "--")):
        d = df[(df["model"] == "full") & (df["group"] == group)].sort_values("strength")
        err = np.vstack([d["accuracy"] - d["lowest"], d["highest"] - d["accuracy"]])
        ax.errorbar(d["strength"], d["accuracy"], yerr=err, color="tab:red", ls=ls, marker="o", ms=3, capsize=2,
                    label=f"{_LABELS['full']}, {group}")
    xs = [df["strength"].min(), df["strength"].max()]
    for c, color in (("seg", "tab:blue"), ("rand", "tab:green")):
        d = df[(df["model"] == c) & (df["group"] == "cue conflicts")].iloc[0]
        ax.plot(xs, [d["accuracy"]] * 2, color=color, lw=1.2, label=f"{_LABELS[c]}, cue conflicts")
        ax.fill_between(xs, d["lowest"], d["highest"], color=color, alpha=0.12)
    ax.axhline(25, color="grey", ls=":", lw=1)
    ax.set_xlabel("cue strength in training (how often the marker tells the truth)")
    ax.set_ylabel("accuracy %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=6, loc="lower left")
    n = {m: int(df.loc[df["model"] == m, "n_seeds"].min()) for m in ("full", "seg", "rand")}
    ax.set_title(f"The dial: does more cue in training mean more cheating?\n(means of training runs: Full "
                 f"{n['full']}, Seg {n['seg']}, Rand {n['rand']}; bars and bands: lowest to highest)", fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(runs: RunSet):
    """Accuracy per epoch on the cue-agreeing (dashed) and cue-conflicting (solid) patients, mean over the seeds:
    Full separates them in the first epochs (the cue is learned first), Rand does not."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    by = runs.by("condition")
    for c, color in (("full", "tab:red"), ("rand", "tab:green"), ("seg", "tab:blue")):
        if c not in by:
            continue
        for split, ls, label in (("test_conflict", "-", "cue conflicts"), ("test_aligned", "--", "cue agrees")):
            curves = [[100 * h[f"acc_{split}"] for h in r.history if f"acc_{split}" in h] for r in by[c]]
            curves = [cv for cv in curves if cv]
            if not curves:
                raise param_error("runs", "learning_curves", "runs trained with track= (lesson_runs)", c)
            n = min(len(cv) for cv in curves)
            m = np.mean([cv[:n] for cv in curves], axis=0)
            ax.plot(np.arange(1, n + 1), m, color=color, ls=ls, marker="o", ms=3, label=f"{_LABELS[c]}, {label}")
    ax.axhline(25, color="grey", ls=":", lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=6)
    ax.set_title("Which is learned first: the cue or the heart?", fontsize=10)
    fig.tight_layout()
    return fig


def verdicts(study: Study, runs: RunSet, *, n_boot: int | None = None) -> pd.DataFrame:
    """The lesson's four verdicts (claims ``L1`` … ``L4``) over the seeds, read like the papers' claims: L1, L3 and
    L4 on each seed's Full and Rand, L2 on Seg's own seeds (:func:`lesson_runs`)."""
    by = runs.by("condition")
    for c in CONDITIONS:
        if c not in by:
            raise param_error("runs", "verdicts", "the lesson's runs (lesson_runs): Full, Seg and Rand", c)
    full_seeds, rand_seeds = by["full"].seeds, by["rand"].seeds
    if full_seeds != rand_seeds:
        raise param_error("runs", "verdicts", "Full and Rand at the same seeds (lesson_runs)",
                          {"full": full_seeds, "rand": rand_seeds})
    def unit(*models: Run, maps: bool = True) -> dict:
        u = {"fingerprint": _fingerprint(list(models), "verdicts"), "pairs": (models[0].labels["test_aligned"],
                                          *(x.probs[k] for k in TRACK for x in models))}
        if maps:
            u["maps"] = tuple(_maps(x, "aks") for x in models)
        return u

    def acc(u, split, j):
        k = (len(u["pairs"]) - 1) // len(TRACK)
        return 100 * float((u["pairs"][1 + TRACK.index(split) * k + j].argmax(1) == u["pairs"][0]).mean())

    def fall(u, j):
        return acc(u, "test_aligned", j) - acc(u, "test_conflict", j)

    pairs = [unit(f, r) for f, r in zip(by["full"], by["rand"])]
    seg = [unit(s, maps=False) for s in by["seg"]]
    _same_data(pairs + seg, full_seeds + by["seg"].seeds, "verdicts")
    return families(_run(study, n_boot, [
        Reading("L1", lambda u: fall(u, 0), ("pairs",)), Reading("L2", lambda u: fall(u, 0), ("pairs",), seg),
        Reading("L3", lambda u: fall(u, 0) / 2 - fall(u, 1), ("pairs",)),
        Reading("L4", lambda u: float(np.nanmean(u["maps"][1] - u["maps"][0])), ("maps",))], pairs))


def flipped_gallery(study: Study, runs: RunSet, n: int = 4):
    """The static version for the handout: Full's worst cue-conflicting cases, each model's map (first seed)."""
    from ..plots import gallery

    return gallery(study, runs.at_seed(0).named(), "test_conflict", n=n)


def crossing(df: pd.DataFrame) -> float | None:
    """The smallest strength at which Full's accuracy on the cue-conflicting patients is below Seg's (None if
    never): where the cue starts to cost more than it gives."""
    full = df[(df["model"] == "full") & (df["group"] == "cue conflicts")].set_index("strength")["accuracy"]
    seg = float(df[(df["model"] == "seg") & (df["group"] == "cue conflicts")]["accuracy"].iloc[0])
    below = [st for st in full.index if full[st] < seg]
    return float(min(below)) if below else None


def check_answer(value: Any, *, name: str = "answer", where: str = "check_crossing") -> float | str | None:
    """Exercise 1's answer as given: None (not answered yet), a cue strength in [0, 1], or ``"never"``."""
    if value is None or value == "never":
        return value
    if isinstance(value, str):
        raise param_error(name, where, 'a cue strength between 0 and 1, or "never"', value)
    return check_number(value, name=name, where=where, lo=0, hi=1)


def check_crossing(df: pd.DataFrame, answer: float | str | None = None) -> str:
    """Exercise 1: the student's strength, or ``"never"``, against :func:`crossing` (a strength counts when it is
    nearer that step of the dial than any other)."""
    answer = check_answer(answer)
    if answer is None:
        return 'Write your answer in ANSWER_1 (a strength between 0 and 1, or "never") and run this cell again.'
    truth = crossing(df)
    steps = [float(s) for s in sorted(df["strength"].unique())]
    if truth is None:
        return ("Right" if answer == "never" else "Not quite") + f": Full never falls below Seg on these strengths " \
                                                                 f"({steps}): on the patients whose marker lies it " \
                                                                 f"still does at least as well as Seg."
    right = answer != "never" and min(steps, key=lambda s: abs(s - answer)) == truth
    return ("Right" if right else "Not quite") + f": at strength {truth:g} Full's cue-conflict accuracy first drops " \
                                                 f"below Seg's (dial steps: {steps})."


@experiment
def few_masks_runs(study: Study, *, f: float = 0.05, seeds: Sequence[int] | None = None) -> RunSet:
    """Full, Rand with every mask and Rand with masks on only a fraction ``f`` of the training images (the others
    train as in Full), for each of the preset's first ``train.descriptive_seeds`` seeds (an exercise: no verdict
    reads it; change ``f``: the fraction of masks, 1 for every one)."""
    f = check_number(f, name="f", where="few_masks", lo=0, hi=1, lo_open=True)
    seeds = study.seed_list(seeds, where="few_masks", descriptive=True)
    runs = RunSet()
    for cond, frac in (("full", 1.0), ("rand", 1.0), ("rand", f)):
        for s in seeds:
            runs.add(study.run("cm", cond, seed=s, track=TRACK, **({"f": frac} if frac != 1.0 else {})), "cm", cond,
                     s, f=frac)
    return runs


def few_masks(runs: RunSet) -> pd.DataFrame:
    """Exercise 2: :func:`few_masks_runs` on the cue-conflicting patients (accuracy: the mean over the seeds, the
    lowest and the highest)."""
    rows = []
    for (cond, f), rs in runs.by("condition", "f").items():
        name = "Full" if cond == "full" else "Rand, every mask" if f == 1.0 else f"Rand, {f:.0%} of masks"
        m, lo, hi = _spread([_acc(r, "test_conflict") for r in rs])
        rows.append({"model": name, "cue conflicts": m, "lowest": lo, "highest": hi, "n_seeds": len(rs)})
    return pd.DataFrame(rows).set_index("model")


def answers(study: Study, runs: RunSet, dose: pd.DataFrame, masks: pd.DataFrame) -> str:
    """The teacher's answers, computed from this run."""
    c = crossing(dose)
    full_fall = reveal(study, runs).loc[_LABELS["full"], "fall"]
    r = masks["cue conflicts"]
    return "\n".join([
        (f"1. Full first drops below Seg on cue-conflicting patients at strength {c:g}." if c is not None else
         "1. Never, on these strengths: Full stays at least as accurate as Seg even when the marker lies (it reads "
         "more than the marker: the heart too, and what lies outside it, which Seg never sees)."),
        f"2. With {masks.index[2].split(', ')[1]}, Rand reaches {r.iloc[2]:.1f} % on cue-conflicting patients "
        f"(every mask: {r.iloc[1]:.1f} %, Full: {r.iloc[0]:.1f} %).",
        f"3. Full loses {full_fall:.1f} points when the marker lies; Seg cannot lose any: it never sees the marker.",
    ])


def as_expected(verdict_table: pd.DataFrame) -> str:
    """``k/n``: how many of the lesson's verdicts came out as the lesson expects (a direction that holds, Seg's
    equal accuracies found equivalent: a verdict in :data:`~shortcutlab.metrics.SUPPORTS`)."""
    from ..metrics import SUPPORTS

    ok = int(verdict_table["verdict"].isin(SUPPORTS).sum())
    return f"{ok}/{len(verdict_table)}"


def record(table: pd.DataFrame, verdict_table: pd.DataFrame, *, report=None) -> dict[str, Any]:
    """What the lesson records: each model's accuracy on the cue-conflicting patients and the verdicts held."""
    from .findings import _record

    full, rand = table.loc[_LABELS["full"]], table.loc[_LABELS["rand"]]
    return _record({"full_conflict_acc": full["cue conflicts"], "full_aligned_acc": full["cue agrees"],
                    "rand_conflict_acc": rand["cue conflicts"], "seg_conflict_acc": table.loc[_LABELS["seg"], "cue conflicts"],
                    "verdicts_holding": as_expected(verdict_table),
                    "finding": f"Full {full['cue agrees']:.0f} % with the cue agreeing, {full['cue conflicts']:.0f} % "
                               f"with it conflicting; Rand {rand['cue conflicts']:.0f} % conflicting; "
                               f"{as_expected(verdict_table)} verdicts as the lesson expects"}, report)
