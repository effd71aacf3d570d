"""Claims 4 and 5b with Rand as the MRI code's swapBG against the rule it replaced.

Rand now follows the MRI code (``swapBG``): outside the patient's own heart mask, another training image's pixels,
the donor's heart included, with a donor per frame. Before, it followed BackMix's rule for echo sectors: the
donor's heart blanked to 0 first, one donor for both frames, so every training image carried a black heart-shaped
hole that no test image has. This trains that earlier rule as a user condition (``rand_blanked``) beside the
study's Full and Rand (loaded from the default preset's cache when ``make study`` made them) and reads claims 4
(Rand - Full AUC on the cue-decorrelated patients) and 5b (Rand - Full AKS, paired per image) for both, with the
claims' interval (:func:`shortcutlab.metrics.seed_welch_interval`).

    .venv/bin/python scripts/rand_swapbg.py [--preset default] [--out FILE.json]

A study, not a test.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import shortcutlab as sl
    from shortcutlab.interventions.background import _apply_swap
    from shortcutlab.metrics import seed_welch_interval
    from shortcutlab.study import Study
    from shortcutlab.study.claims import _fingerprint, _maps, micro_auc

    sl.register_condition(sl.Condition(
        "rand_blanked", paper="user", needs_mask=True, augments=True, stage="pre", mixes="batch",
        swaps_background=True, blank_donor=True, donor_per_frame=False, exact_u8=True, apply=_apply_swap,
        doc="the earlier Rand: the donor's heart blanked, one donor for both frames"))
    cfg = sl.load_preset(a.preset)
    study = Study(cfg, progress=False)
    t0 = time.perf_counter()
    fp = _fingerprint(study, "cm")
    out = {"preset": a.preset, "seeds": list(cfg.train.seeds), "machine": platform.processor() or platform.machine()}
    for rule in ("rand", "rand_blanked"):
        units = []
        for s in cfg.train.seeds:
            full, rand = study.run("cm", "full", seed=s), study.run("cm", rule, seed=s)
            units.append({"fingerprint": fp,
                          "dec": (full.labels["test_decorrelated"], full.probs["test_decorrelated"],
                                  rand.probs["test_decorrelated"]),
                          "maps": (_maps(full, "aks"), _maps(rand, "aks"))})
        m = cfg.metrics
        res = {}
        for cid, eff in (("4", lambda u: micro_auc(u["dec"][0], u["dec"][2]) - micro_auc(u["dec"][0], u["dec"][1])),
                         ("5b", lambda u: float(np.nanmean(u["maps"][1] - u["maps"][0])))):
            r = seed_welch_interval(eff, units, n_boot=m.n_bootstrap, ci=m.ci, seed=m.seed)
            res[cid] = {k: r[k] for k in ("estimate", "lo", "hi", "df", "per_seed")}
        out[rule] = res
        print(rule, json.dumps(res, indent=1))
    out["seconds"] = time.perf_counter() - t0
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
