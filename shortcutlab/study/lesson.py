"""A lesson on shortcuts: watch a model turn into a cheat, and test a cure where it matters, on one phantom cohort.

The design is Waterbirds': the spurious cue (a scanner marker in the background whose glyph names a class) agrees
with the label in the training split only (``data.cmr_spurious_strength``); the test patients are rendered twice,
identical but for the cue: once agreeing with the label, once pointing to another class (the cue-conflict group,
the worst group). A model that reads the heart scores the same on both; a model that reads the marker falls on the
conflicting ones. Full (the whole image) learns the cue, and learns it first (Geirhos et al. 2020: a shortcut is
the cue that is easier); Seg (the heart only) cannot see it, and is the lesson's control; the cure
(``lesson.cure`` of the preset, chosen on a pilot before the lesson's run: ``params/lesson.yaml``) is read
against Full where the marker lies. The pilot's other candidates (Seg, Rand: the background swapped for another
patient's, the MRI code's ``swapBG``; BackMix) removed the fall but were not right more often than Full where the
marker lies; the preset records their numbers.

Every function is one notebook cell of ``notebooks/lesson.ipynb`` (``make lesson``); the verdicts are claims of
the registry (``L1`` … ``L4``) read over the preset's seeds like the papers' claims; the teacher's answers go to
a file of their own (:func:`write_answers`), not into the students' notebook.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._validation import check_number, param_error
from .runs import Run, RunSet, experiment
from .study import Study
from .claims import Reading, _fingerprint, _maps, _run, _same_data, families

__all__ = ["CURES", "TRACK", "cure_of", "truth_share", "lesson_runs", "show_cue", "reveal", "dose_response_runs",
           "dose_response", "plot_dose_response", "learning_curves", "verdicts", "flipped_gallery", "compare",
           "check_answer", "check_exercise_1", "check_exercise_2", "answers",
           "write_answers", "as_expected", "record"]

CURES = ("balanced", "seg", "rand", "backmix")
TRACK = ("test_aligned", "test_conflict")  # recorded after every epoch: which one a model learns first
_LABELS = {"full": "Full (whole image)", "seg": "Seg (heart only)", "rand": "Rand (background swapped)",
           "backmix": "BackMix (background swapped, donor heart blanked)",
           "balanced": "Balanced (the marker random in training)"}
ANSWERS = ("yes", "no", "can't tell")


def cure_of(study: Study) -> str:
    """The lesson's cure: the preset's ``lesson.cure``, chosen on the pilot before the lesson's run."""
    return str(study.cfg.lesson.cure)


def truth_share(strength: float, k: int = 4) -> float:
    """How often the marker names the true class at cue ``strength`` among ``k`` classes: it agrees with the label
    with probability ``strength`` and is otherwise drawn uniformly over the ``k`` classes (the true one included),
    so ``strength + (1 - strength) / k`` (0 → 25 %, 0.5 → 62.5 %, 0.9 → 92.5 %, 1 → 100 % for four classes)."""
    strength = check_number(strength, name="strength", where="truth_share", lo=0, hi=1)
    return strength + (1 - strength) / k


def _model_run(study: Study, cond: str, seed: int, **kw) -> Run:
    """One of the lesson's models: ``balanced`` is Full trained with the marker drawn at random (cue strength 0)."""
    if cond == "balanced":
        return study.run("cm", "full", seed=seed, strength=0.0, track=TRACK, **kw)
    return study.run("cm", cond, seed=seed, track=TRACK, **kw)



def _check_phantom(study: Study, where: str) -> None:
    if not study.is_phantom("cm"):
        raise param_error("study", where, "a study whose cm cohort is the phantom (the lesson redraws its patients "
                                          "with the cue changed)", study.cfg.data.cm)


@experiment
def lesson_runs(study: Study, *, seeds: Sequence[int] | None = None) -> RunSet:
    """Full, the cure (:func:`cure_of`) and Seg on the cm phantom, each recording its accuracy on the cue-agreeing
    and cue-conflicting patients after every epoch: Full and the cure for each seed (the verdicts read them), Seg for
    the preset's first ``train.descriptive_seeds`` (its verdict L2 is a control, decided by construction: its input
    is the heart alone, identical in the two renderings of a patient, so its fall is exactly zero in every run)."""
    _check_phantom(study, "lesson_runs")
    cure = cure_of(study)
    runs = RunSet()
    for c in ("full", cure) + (("seg",) if cure != "seg" else ()):
        for s in study.seed_list(seeds, where="lesson_runs", descriptive=c not in ("full", cure)):
            runs.add(_model_run(study, c, s), "cm", c, s)
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
    """Accuracy on the cue-agreeing and cue-conflicting patients against the cue's strength in training (and the
    share of training images whose marker names the true class, :func:`truth_share`): Full at each strength
    (``runs``, :func:`dose_response_runs`), and the lesson's other models (``reference``, :func:`lesson_runs`: Seg
    and the cure; the same at every strength, see :func:`dose_response_runs`): the mean over the seeds, and the
    lowest and highest of them."""
    by = runs.by("strength")
    ref = reference.by("condition")
    rows = []
    others = [(c, list(rs)) for c, rs in ref.items() if c != "full"]
    for st in sorted(by):
        for c, rs in [("full", list(by[st]))] + others:
            for split, label in (("test_conflict", "cue conflicts"), ("test_aligned", "cue agrees")):
                m, lo, hi = _spread([_acc(r, split) for r in rs])
                rows.append(dict(strength=st, marker_true=100 * truth_share(st), model=c, group=label, accuracy=m,
                                 lowest=lo, highest=hi, n_seeds=len(rs)))
    return pd.DataFrame(rows)


def plot_dose_response(df: pd.DataFrame):
    """The dial as a dose-response curve: Full's accuracy on the cue-conflicting patients (solid) and the
    cue-agreeing ones (dashed) against the strength, the bars spanning the lowest to the highest seed; the lesson's
    other models (Seg, the cure), which the strength cannot reach, as lines at their mean accuracy on the
    cue-conflicting patients, the bands spanning their seeds."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for group, ls in (("cue conflicts", "-"), ("cue agrees", "--")):
        d = df[(df["model"] == "full") & (df["group"] == group)].sort_values("strength")
        err = np.vstack([d["accuracy"] - d["lowest"], d["highest"] - d["accuracy"]])
        ax.errorbar(d["strength"], d["accuracy"], yerr=err, color="tab:red", ls=ls, marker="o", ms=3, capsize=2,
                    label=f"{_LABELS['full']}, {group}")
    xs = [df["strength"].min(), df["strength"].max()]
    others = [m for m in df["model"].unique() if m != "full"]
    colors = {"seg": "tab:blue", "balanced": "tab:purple", "rand": "tab:green", "backmix": "tab:orange"}
    for c in others:
        color = colors.get(c, "tab:grey")
        d = df[(df["model"] == c) & (df["group"] == "cue conflicts")].iloc[0]
        ax.plot(xs, [d["accuracy"]] * 2, color=color, lw=1.2, label=f"{_LABELS[c]}, cue conflicts")
        ax.fill_between(xs, d["lowest"], d["highest"], color=color, alpha=0.12)
    ax.axhline(25, color="grey", ls=":", lw=1)
    steps = sorted(df["strength"].unique())
    ax.set_xticks(steps, [f"{s:g}\n({100 * truth_share(s):g} % true)" for s in steps], fontsize=7)
    ax.set_xlabel("cue strength in training (the share of training images whose marker names the true class)")
    ax.set_ylabel("accuracy %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=6, loc="lower left")
    n = {m: int(df.loc[df["model"] == m, "n_seeds"].min()) for m in ["full"] + others}
    runs_said = ", ".join(f"{_LABELS.get(m, m).split(' (')[0]} {n[m]}" for m in ["full"] + others)
    ax.set_title(f"The dial: does more cue in training mean more cheating?\n(means of training runs: {runs_said}; "
                 f"bars and bands: lowest to highest)", fontsize=8)
    fig.tight_layout()
    return fig


def learning_curves(runs: RunSet):
    """Accuracy per epoch on the cue-agreeing (dashed) and cue-conflicting (solid) patients, mean over the seeds, for
    each model of ``runs``: a model that reads the cue separates them, and how early says what it learned first."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    by = runs.by("condition")
    colors = {"full": "tab:red", "balanced": "tab:purple", "backmix": "tab:orange", "rand": "tab:green",
              "seg": "tab:blue"}
    for c, color in colors.items():
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
    """The lesson's verdicts (claims ``L1`` … ``L4``) over the seeds, read like the papers' claims: L1 on Full, L2
    (the control) on Seg's own seeds, L3 on each seed's Full and cure as one intersection-union row of its parts L3a
    (accuracy where the marker lies) and L3b (the fall), L4 on their maps of the cue-conflicting patients, the same
    images for both (:func:`lesson_runs`)."""
    from .claims import intersection_union

    cure = cure_of(study)
    by = runs.by("condition")
    for c in ("full", "seg", cure):
        if c not in by:
            raise param_error("runs", "verdicts", f"the lesson's runs (lesson_runs): Full, Seg and the cure {cure!r}", c)
    full_seeds, cure_seeds = by["full"].seeds, by[cure].seeds
    if full_seeds != cure_seeds:
        raise param_error("runs", "verdicts", "Full and the cure at the same seeds (lesson_runs)",
                          {"full": full_seeds, cure: cure_seeds})

    def unit(*models: Run, maps: bool = True) -> dict:
        u = {"fingerprint": _fingerprint(list(models), "verdicts", TRACK), "pairs": (models[0].labels["test_aligned"],
                                          *(x.probs[k] for k in TRACK for x in models))}
        if maps:
            u["maps"] = tuple(_maps(x, "aks", "test_conflict") for x in models)  # the same images for both
        return u

    def acc(u, split, j):
        k = (len(u["pairs"]) - 1) // len(TRACK)
        return 100 * float((u["pairs"][1 + TRACK.index(split) * k + j].argmax(1) == u["pairs"][0]).mean())

    def fall(u, j):
        return acc(u, "test_aligned", j) - acc(u, "test_conflict", j)

    pairs = [unit(f, r) for f, r in zip(by["full"], by[cure])]
    seg = [unit(s, maps=False) for s in by["seg"]]
    _same_data(pairs + seg, full_seeds + by["seg"].seeds, "verdicts")
    table = _run(study, n_boot, [
        Reading("L1", lambda u: fall(u, 0), ("pairs",)), Reading("L2", lambda u: fall(u, 0), ("pairs",), seg),
        Reading("L3a", lambda u: acc(u, "test_conflict", 1) - acc(u, "test_conflict", 0), ("pairs",)),
        Reading("L3b", lambda u: fall(u, 0) - fall(u, 1), ("pairs",)),
        Reading("L4", lambda u: float(np.nanmean(u["maps"][1] - u["maps"][0])), ("maps",))], pairs)
    return families(intersection_union(table, "L3", ("L3a", "L3b")))


def flipped_gallery(study: Study, runs: RunSet, n: int = 4):
    """The static version for the handout: Full's worst cue-conflicting cases, each model's map (first seed)."""
    from ..plots import gallery

    return gallery(study, runs.at_seed(0).named(), "test_conflict", n=n)


def compare(a: Sequence[float], b: Sequence[float], *, paired: bool = False) -> dict:
    """The difference of the mean of ``a`` and of ``b`` (per-seed accuracies, points) with its 95 % interval: a
    t-interval of the per-seed differences when ``paired`` (the same seeds), else Welch's for two samples; and the
    answer it supports: ``yes`` (the interval lies below 0: a is lower), ``no`` (above 0), or ``can't tell``."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = a - b
        est, se, df = float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)), d.size - 1
    else:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        est, se = float(a.mean() - b.mean()), float(np.sqrt(va + vb))
        df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) if va + vb > 0 else np.inf
    q = float(stats.t.ppf(0.975, df)) if np.isfinite(df) and df > 0 else 0.0
    lo, hi = est - q * se, est + q * se
    answer = "yes" if hi < 0 else "no" if lo > 0 else "can't tell"
    return {"difference": est, "lo": lo, "hi": hi, "answer": answer, "n_a": int(a.size), "n_b": int(b.size)}


def check_answer(value: Any, *, name: str = "answer", where: str = "the exercise") -> str | None:
    """An exercise's answer as given: None (not answered yet), or one of ``yes``, ``no``, ``can't tell``."""
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in ANSWERS:
        raise param_error(name, where, f"one of {', '.join(map(repr, ANSWERS))}", value)
    return value.strip().lower()


def _verdict_text(answer: str | None, r: dict, question: str, why: str) -> str:
    if answer is None:
        return f"Write your answer ({', '.join(map(repr, ANSWERS))}) in the first code cell and run this cell again."
    right = answer == r["answer"]
    tell = {"yes": "yes", "no": "no", "can't tell": "can't tell from these runs"}[r["answer"]]
    return (f"{'Right' if right else 'Not quite'}: {question} The difference is {r['difference']:+.1f} points, 95 % "
            f"interval [{r['lo']:+.1f}, {r['hi']:+.1f}] over {r['n_a']} and {r['n_b']} training runs, so the "
            f"answer is: {tell}. {why}")


def check_exercise_1(runs: RunSet, answer: Any = None) -> str:
    """Exercise 1: is Full right *less* often than Seg on the patients whose marker lies? Answered from the interval
    of the difference of their per-seed accuracies (Welch: Full's and Seg's runs are not paired)."""
    answer = check_answer(answer, name="ANSWER_1", where="exercise 1")
    by = runs.by("condition")
    r = compare([_acc(x, "test_conflict") for x in by["full"]], [_acc(x, "test_conflict") for x in by["seg"]])
    why = ("An interval that includes 0 cannot say which is lower, however the two means look: more runs, above all "
           "of Seg, would decide it." if r["answer"] == "can't tell" else
           "The whole interval lies on one side of 0, so these runs decide it.")
    return _verdict_text(answer, r, "Full minus Seg, on the patients whose marker lies.", why)


def check_exercise_2(study: Study, runs: RunSet, answer: Any = None) -> str:
    """Exercise 2: is Seg, which can never see the marker, right *less* often than the cure where the marker lies?
    Answered from the interval of the difference of their per-seed accuracies (Welch)."""
    answer = check_answer(answer, name="ANSWER_2", where="exercise 2")
    by = runs.by("condition")
    r = compare([_acc(x, "test_conflict") for x in by["seg"]],
                [_acc(x, "test_conflict") for x in by[cure_of(study)]])
    why = ("An interval that includes 0 cannot say which is lower: more runs of Seg would decide it." if r["answer"] ==
           "can't tell" else "The whole interval lies on one side of 0: a model blind to the marker is not "
                             "automatically the best one where the marker lies." if r["answer"] == "yes" else
           "The whole interval lies above 0.")
    return _verdict_text(answer, r, "Seg minus the cure, on the patients whose marker lies.", why)


def answers(study: Study, runs: RunSet, verdict_table: pd.DataFrame) -> str:
    """The teacher's answers, computed from this run (markdown): the exercises with their intervals, and what each
    verdict says."""
    by = runs.by("condition")
    e1 = compare([_acc(x, "test_conflict") for x in by["full"]], [_acc(x, "test_conflict") for x in by["seg"]])
    e2 = compare([_acc(x, "test_conflict") for x in by["seg"]], [_acc(x, "test_conflict") for x in by[cure_of(study)]])
    v = verdict_table.set_index("id")
    lines = ["# The lesson's answers (teacher's copy)", "",
             f"Computed from the run in this folder: the preset's cure is `{cure_of(study)}`.", "",
             f"1. Full minus Seg where the marker lies: {e1['difference']:+.1f} points [{e1['lo']:+.1f}, "
             f"{e1['hi']:+.1f}] over {e1['n_a']} and {e1['n_b']} runs: **{e1['answer']}**.",
             f"2. Seg minus the cure where the marker lies: {e2['difference']:+.1f} points [{e2['lo']:+.1f}, "
             f"{e2['hi']:+.1f}] over {e2['n_a']} and {e2['n_b']} runs: **{e2['answer']}**.",
             "3. Seg's input is the heart alone, and the two renderings of a patient differ only outside the heart, "
             "so Seg sees identical images and must answer identically: L2 is a control, true by construction. On a "
             "real scanner Seg would also lose legitimate signal outside the heart: the MRI paper's amyloidosis "
             "shows in the pericardium and the pleura.", "", "What the verdicts say:", ""]
    for i in v.index:
        lines.append(f"* {i} ({v.loc[i, 'role']}): {v.loc[i, 'claim']}: {v.loc[i, 'effect']:+.2f} "
                     f"[{v.loc[i, 'lo']:+.2f}, {v.loc[i, 'hi']:+.2f}], **{v.loc[i, 'verdict']}**")
    return "\n".join(lines) + "\n"


def write_answers(text: str, report=None) -> str:
    """Write the teacher's answers (:func:`answers`) to ``answers.md`` in the report's folder, not into the students'
    notebook; returns where they went."""
    from .._io import atomic_write_text

    folder = getattr(report, "dir", None) or getattr(report, "root", None)
    if folder is None:
        return "no report folder: the answers were not written"
    from pathlib import Path

    path = Path(folder) / "answers.md"
    atomic_write_text(path, text)
    return f"The teacher's answers are in {path} (not in this notebook)."


def as_expected(verdict_table: pd.DataFrame) -> str:
    """``k/n``: how many of the lesson's primary verdicts came out as the lesson expects (a verdict in
    :data:`~shortcutlab.metrics.SUPPORTS`); the control and the secondary rows are not counted."""
    from ..metrics import SUPPORTS

    t = verdict_table[verdict_table["role"] == "primary"]
    return f"{int(t['verdict'].isin(SUPPORTS).sum())}/{len(t)}"


def record(study: Study, table: pd.DataFrame, verdict_table: pd.DataFrame, *, report=None) -> dict[str, Any]:
    """What the lesson records: each model's accuracy on the cue-conflicting patients, the cure's verdict (L3), the
    control's (L2), and how many primary verdicts came out as the lesson expects."""
    from .findings import _record

    v = verdict_table.set_index("id")
    cure = cure_of(study)
    full, cured = table.loc[_LABELS["full"]], table.loc[_LABELS[cure]]
    return _record({"full_conflict_acc": full["cue conflicts"], "full_aligned_acc": full["cue agrees"],
                    "cure_conflict_acc": cured["cue conflicts"],
                    "seg_conflict_acc": table.loc[_LABELS["seg"], "cue conflicts"],
                    "cure_verdict": str(v.loc["L3", "verdict"]), "control_verdict": str(v.loc["L2", "verdict"]),
                    "verdicts_holding": as_expected(verdict_table),
                    "finding": f"Full {full['cue agrees']:.0f} % with the marker agreeing, {full['cue conflicts']:.0f} % "
                               f"where it lies; the cure ({cure}) {cured['cue conflicts']:.0f} % where it lies, "
                               f"L3 {v.loc['L3', 'verdict']}; {as_expected(verdict_table)} primary verdicts as the "
                               f"lesson expects; control L2 {v.loc['L2', 'verdict']}"}, report)
