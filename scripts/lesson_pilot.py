"""The lesson's pilot: every candidate cure against Full on the pilot data seed, measured before the lesson's own
run, and the seed count a power calculation gives for the chosen cure. A measurement, not a test; its output is
stored in ``benchmarks/lesson/<run>/pilot.json`` and copied into ``params/lesson.yaml`` by hand, with the rule that
picked the cure, before the lesson is run on its own data seed.

    .venv/bin/python scripts/lesson_pilot.py --out benchmarks/lesson/<run>/pilot.json [--seeds 0 1 2 3]

The candidates (each trained on the lesson's preset at the pilot's data seed, ``data.seed`` 0):

* ``seg``: the heart only (it cannot see the marker; the control, also a candidate);
* ``rand``: the background swapped for another patient's, its heart included (the MRI code's ``swapBG``);
* ``backmix``: the background swapped with the donor's heart blanked (BackMix's rule);
* ``balanced``: Full trained with the marker drawn at random (cue strength 0: it tells the truth in a quarter of
  the images, by chance), i.e. the marker balanced in training.

The lesson's cure claim is an intersection-union test of two parts, each one-sided at 0.025: the cure's accuracy
on the marker-lying patients above Full's, and its fall (cue agreeing minus lying) below Full's. The rule: the
candidate with the larger smaller standardized part (the weaker part decides an intersection-union test) among
those whose both parts are positive in the pilot; its seed count is the smallest S at which each part has 90 %
power at its pilot effect (so both together have at least 80 %), under a t-test on the per-seed differences.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

CANDIDATES = ("seg", "rand", "backmix", "balanced")


def _acc(run, split: str) -> float:
    return 100 * float((run.probs[split].argmax(1) == run.labels[split]).mean())


def seeds_for_power(d: float, sd: float, *, alpha: float = 0.025, power: float = 0.9, cap: int = 100) -> int | None:
    """The smallest number of seeds S at which a one-sided t-test at ``alpha`` on S per-seed differences of mean
    ``d`` and standard deviation ``sd`` has ``power`` (noncentral t); None when ``d`` is not positive."""
    from scipy.stats import nct, t

    if d <= 0:
        return None
    if sd <= 0:
        return 2
    for s in range(2, cap + 1):
        crit = t.ppf(1 - alpha, s - 1)
        if 1 - nct.cdf(crit, s - 1, d / sd * math.sqrt(s)) >= power:
            return s
    return None


def measure(seeds: list[int], data_seed: int) -> dict:
    from shortcutlab import load_preset
    from shortcutlab.study import Study

    cfg = load_preset("lesson", overrides={"data.seed": data_seed, "train.seeds": seeds,
                                           "train.descriptive_seeds": len(seeds)})
    study = Study(cfg, progress=False)
    track = ("test_aligned", "test_conflict")
    per: dict[str, dict[str, list[float]]] = {}
    for name in ("full",) + CANDIDATES:
        cond, extra = ("full", {"strength": 0.0}) if name == "balanced" else (name, {})
        rows = {"conflict": [], "aligned": []}
        for s in seeds:
            r = study.run("cm", cond, seed=s, track=track, **extra)
            rows["conflict"].append(_acc(r, "test_conflict"))
            rows["aligned"].append(_acc(r, "test_aligned"))
        rows["fall"] = [a - c for a, c in zip(rows["aligned"], rows["conflict"])]
        per[name] = rows
    out = {"data_seed": data_seed, "seeds": seeds, "per_seed": per, "candidates": {}}
    for name in CANDIDATES:
        d_acc = np.array(per[name]["conflict"]) - np.array(per["full"]["conflict"])
        d_fall = np.array(per["full"]["fall"]) - np.array(per[name]["fall"])
        parts = {}
        for key, d in (("conflict_acc_above_full", d_acc), ("fall_below_full", d_fall)):
            sd = float(d.std(ddof=1))
            parts[key] = {"mean": float(d.mean()), "sd": sd, "standardized": float(d.mean() / sd) if sd > 0 else
                          (math.inf if d.mean() > 0 else -math.inf), "seeds_for_90": seeds_for_power(float(d.mean()), sd)}
        weaker = min(p["standardized"] for p in parts.values())
        need = [p["seeds_for_90"] for p in parts.values()]
        out["candidates"][name] = {**parts, "weaker_standardized": weaker,
                                   "seeds_needed": max(need) if all(n is not None for n in need) else None}
    eligible = {k: v for k, v in out["candidates"].items()
                if all(v[p]["mean"] > 0 for p in ("conflict_acc_above_full", "fall_below_full"))}
    out["rule"] = ("the candidate whose weaker part has the larger standardized pilot effect, among those with both "
                   "parts positive; seeds: the smallest S giving each part 90 % power (t-test, one-sided 0.025)")
    out["chosen"] = max(eligible, key=lambda k: eligible[k]["weaker_standardized"]) if eligible else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--data-seed", type=int, default=0)
    args = ap.parse_args()
    res = measure(args.seeds, args.data_seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    for k, v in res["candidates"].items():
        print(k, {p: (round(v[p]["mean"], 1), round(v[p]["sd"], 1), v[p]["seeds_for_90"])
                  for p in ("conflict_acc_above_full", "fall_below_full")}, "needs", v["seeds_needed"])
    print("chosen:", res["chosen"])


if __name__ == "__main__":
    main()
