"""How long converting real data takes, once, and loading it from the cache afterwards.

Writes a 150-patient ACDC-like folder (``shortcutlab.data.examples.write_acdc_like``: NIfTI ED/ES volumes of
3-7 slices at 0.8-1.3 x 224 px, varied spacings), then times ``load_acdc`` into a fresh cache (conversion) and
from the filled cache (verified load), each as the median of several repeats with its spread. A benchmark, not
a test: run it by hand on an idle machine.

    .venv/bin/python scripts/data_bench.py [--patients 150] [--size 224] [--repeats 5] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=150)
    ap.add_argument("--size", type=int, default=224, help="in-plane size of the written volumes (about)")
    ap.add_argument("--target", type=int, default=128, help="the size the loader converts to")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import torch

    from shortcutlab.data.examples import write_acdc_like
    from shortcutlab.data.loaders import load_acdc

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="sl-databench-"))
    try:
        t = time.perf_counter()
        write_acdc_like(tmp / "acdc", a.patients, size=a.size, seed=0)
        write_s = time.perf_counter() - t
        n_bytes = sum(f.stat().st_size for f in (tmp / "acdc").rglob("*") if f.is_file())
        convert, cached = [], []
        for r in range(a.repeats):
            cache = tmp / f"cache{r}"
            t = time.perf_counter()
            s = load_acdc(tmp / "acdc", size=a.target, cache_dir=cache)
            convert.append(time.perf_counter() - t)
            t = time.perf_counter()
            s2 = load_acdc(tmp / "acdc", size=a.target, cache_dir=cache)
            cached.append(time.perf_counter() - t)
            assert torch.equal(s.images, s2.images)
        stats = lambda v: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": v}  # noqa: E731
        res = {"cpu": _cpu(), "threads": 1, "patients": a.patients, "written_size_px": a.size,
               "converted_size_px": a.target, "images": len(s), "folder_mb": round(n_bytes / 1e6, 1),
               "write_s": write_s, "convert": stats(convert), "cached_load": stats(cached),
               "date": time.strftime("%Y-%m-%d")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
