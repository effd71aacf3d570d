"""Is "Seg does not look at the heart more than Full" a resolution artefact?

For each seed of the default preset's cm Full and Seg models, at 64 px (the default) and 128 px, the AKS of both on
the same test images from several CAMs: the paper's GradCAM on the last stage, HiResCAM (same layer, no gradient
averaging), and GradCAM / LayerCAM on earlier stages (layer3; layer1, at twice the resolution for sl_cnn). Each
beside its floor (a uniform map: the heart's area share) and ceiling (the mask at that layer's resolution and back).
Reports, per setting, the CAM resolution and the paired Seg - Full difference (mean over images per seed, then
mean and t-interval over seeds).

    .venv/bin/python scripts/aks_resolution.py [--seeds 0 1 2] [--sizes 64 128] [--out FILE.json]

Trains through the study cache of the default preset (a finished model loads in seconds). A study, not a test.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

SETTINGS = [("gradcam", None), ("hirescam", None), ("gradcam", "layer3"), ("layercam", "layer3"), ("gradcam", "layer1"),
            ("layercam", "layer1")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import shortcutlab as sl
    from shortcutlab._alloc import tune_allocator
    from shortcutlab.interventions.background import apply_test_condition
    from shortcutlab.metrics import aks, mean_ci_across, overlap_bounds
    from shortcutlab.saliency.cams import cam_resolution, compute_cams, predict_tensor

    tune_allocator()
    rows, t0 = [], time.perf_counter()
    for size in a.sizes:
        study = sl.Study(sl.load_preset("default", {"data.cmr_size": size}), progress=False)
        for seed in a.seeds:
            runs = {c: study.run("cm", c, seed=seed) for c in ("full", "seg")}
            test = study.data("cm")["test"]
            idx = torch.nonzero(test.has_mask).flatten()[:a.images]
            x, m = test.float_images(idx), test.masks[idx]
            for method, layer in SETTINGS:
                per = {}
                for c, r in runs.items():
                    model = r.model()
                    xi = apply_test_condition(c, x, m, r.spec["train"]["fill"])
                    pred = predict_tensor(model, xi).argmax(1)
                    cams = compute_cams(model, xi, targets=pred, method=method, layer=layer, batch_size=64)
                    per[c] = aks(cams, m).mean(1).numpy()  # per image, mean over ED and ES
                hw = cam_resolution(runs["full"].model(), tuple(x.shape[-2:]), layer)
                b = overlap_bounds(m, hw)
                rows.append(dict(size=size, seed=seed, method=method, layer=layer or "last", cam_hw=list(hw),
                                 full=float(np.nanmean(per["full"])), seg=float(np.nanmean(per["seg"])),
                                 seg_minus_full=float(np.nanmean(per["seg"] - per["full"])),
                                 floor=float(b["floor"]["aks"].mean()), ceiling=float(b["ceiling"]["aks"].mean()),
                                 n_images=int(len(idx))))
                print(f"{size:>4} px seed {seed} {method:>9} {layer or 'last':>6} {hw}: full {rows[-1]['full']:.3f} "
                      f"seg {rows[-1]['seg']:.3f} diff {rows[-1]['seg_minus_full']:+.3f} floor {rows[-1]['floor']:.3f} "
                      f"ceiling {rows[-1]['ceiling']:.3f}", flush=True)
    summary = []
    for size in a.sizes:
        for method, layer in SETTINGS:
            rs = [r for r in rows if r["size"] == size and r["method"] == method and r["layer"] == (layer or "last")]
            d = mean_ci_across([r["seg_minus_full"] for r in rs])
            span = [r["ceiling"] - r["floor"] for r in rs]
            summary.append(dict(size=size, method=method, layer=layer or "last", cam_hw=rs[0]["cam_hw"],
                                full=float(np.mean([r["full"] for r in rs])), seg=float(np.mean([r["seg"] for r in rs])),
                                floor=float(np.mean([r["floor"] for r in rs])),
                                ceiling=float(np.mean([r["ceiling"] for r in rs])),
                                seg_minus_full=d, normalized_diff=float(np.mean([r["seg_minus_full"] / s
                                                                                for r, s in zip(rs, span)]))))
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    res = {"cpu": cpu, "seeds": a.seeds, "images": a.images, "seconds": time.perf_counter() - t0,
           "rows": rows, "summary": summary, "date": time.strftime("%Y-%m-%d")}
    print("\nsize method     layer  cam    Full   Seg    floor  ceil   Seg-Full [t-interval over seeds]")
    for s in summary:
        d = s["seg_minus_full"]
        print(f"{s['size']:>4} {s['method']:>9} {s['layer']:>6} {str(s['cam_hw']):>8} {s['full']:.3f} {s['seg']:.3f} "
              f"{s['floor']:.3f} {s['ceiling']:.3f}  {d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
