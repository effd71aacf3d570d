"""A short GPU recheck after a change: bench section 2 (fit vs pure compute, the small model) and section 6's two
paper models (a), (b), (c), without pretraining and the anchor. ``python scripts/gpu_models.py OUT.json``"""
import json
import sys

import torch

from shortcutlab.app.bench import PAPER_SIZES, SIZES, _bench_fit_share, _bench_paper_model, _share_row

dev = torch.device("cuda")
s = PAPER_SIZES["cuda"]
res = {"gpu": torch.cuda.get_device_name(0), "fit_vs_pure_compute": _bench_fit_share(SIZES["smoke"], dev, 9)}
res["pipeline_share_of_step"] = _share_row(res["fit_vs_pure_compute"])
r = res["fit_vs_pure_compute"]
print(f"small model: fit/pure {r['median']:.3f} {r['spread']} {r['verdict']}; pipeline share "
      f"{res['pipeline_share_of_step']['median']:.3f}", flush=True)
res["models"] = {}
for key in ("echo", "mri"):
    m = _bench_paper_model(key, dev, s["n"], s["batch"], s["repeats"], s["cam_n"])
    res["models"][key] = m
    print(f"{m['label']}: a {m['a_pure_samples_per_s']:.0f} b {m['b_pipeline_samples_per_s']:.0f} c "
          f"{m['c_fit_samples_per_s']:.0f} c/a {m['c_over_a']['median']:.3f} {m['c_over_a']['spread']} "
          f"b/c {m['pipeline_share_of_c']['median']:.3f}", flush=True)
    json.dump(res, open(sys.argv[1], "w"), indent=1, default=float)
