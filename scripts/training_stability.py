"""Does the training recipe make the MRI claims' per-seed differences stable?

Trains cm Full, Seg, Rand and BG of the default preset for seeds 0, 1, 2 under three recipes and prints one JSON
line per model (test AUC, cue-decorrelated AUC, validation AUC per epoch, seconds):

* A: the old default, constant lr 3e-3 for 12 epochs, the epoch kept by validation AUC;
* B: a cosine schedule (one warm-up epoch, then down to 0) for 8 epochs, the last epoch kept;
* C: the same cosine schedule for 12 epochs, the last epoch kept.

    .venv/bin/python scripts/training_stability.py [A B C] > records.jsonl

Results of 2026-11-29 are stored in benchmarks/findings/2026-11-29-epyc/training_stability.json. A study, not a
test: it trains 36 models (~8 min on 2 cores) in a study cache of its own under /tmp.
"""
from __future__ import annotations

import json
import sys
import time

RECIPES = {"A": ("A_const12_valauc", {}),
           "B": ("B_cos8_last", {"train.lr_schedule": "cosine", "train.epochs": 8, "train.select_metric": "last"}),
           "C": ("C_cos12_last", {"train.lr_schedule": "cosine", "train.epochs": 12, "train.select_metric": "last"})}
# the old default preset's training section, so that A stays what it was when the default changes
OLD = {"train.epochs": 12, "train.lr_schedule": "constant", "train.select_metric": "val_auc"}


def main() -> None:
    import shortcutlab as sl

    for key in sys.argv[1:] or list(RECIPES):
        name, over = RECIPES[key]
        study = sl.Study(sl.load_preset("default", {**OLD, **over}), root="/tmp/shortcutlab-stability", progress=False)
        for seed in (0, 1, 2):
            for c in ("full", "seg", "rand", "bg"):
                t = time.perf_counter()
                r = study.run("cm", c, seed=seed)
                m = r.metrics
                print(json.dumps(dict(cfg=name, seed=seed, cond=c, auc=m["test"]["auc_micro"],
                                      dec=m["test_decorrelated"]["auc_micro"], s=round(time.perf_counter() - t, 1),
                                      val=[round(h.get("val_auc", float("nan")), 3) for h in r.history])), flush=True)


if __name__ == "__main__":
    main()
