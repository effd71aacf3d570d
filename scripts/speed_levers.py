"""Which lever makes the model's own compute faster on this CPU: each measured on the study's own jobs.

For an MRI ``sl_cnn`` job (cm, 2 frames) and an echo job (1 frame) at the default preset, one training epoch of
model compute (forward, loss, backward, optimizer step; the batches drawn by the study's pipeline beforehand, so
only the model's compute is timed) under each lever:

* ``fp32``: as the study trains today;
* ``channels_last``: model and batches in channels-last memory format;
* ``bf16``: ``torch.autocast("cpu", bfloat16)`` (the loss in float32);
* ``adam_foreach`` / ``adam_fused``: the optimizer's multi-tensor and fused steps;
* ``compile``: ``torch.compile`` of the model (its first epoch, compilation included, reported apart).

Each at 1 thread (how Ray runs a job) and 2, the levers alternated round by round; the median epoch time over the
rounds with its range, and each lever's speed-up over ``fp32`` of the same round (median and range).

    .venv/bin/python scripts/speed_levers.py [--rounds 5] [--out benchmarks/cpu/<run>/levers.json]

A measurement, not a test: run it alone (two torch jobs side by side on 2 cores slow each other ~10x).
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

LEVERS = ("fp32", "channels_last", "bf16", "adam_foreach", "adam_fused", "compile")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        else:
            name = platform.processor()
        flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
        fam = next((ln.split(":")[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("cpu family")), "?")
        mod = next((ln.split(":")[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model\t")), "?")
        isa = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in flags] or ["avx2"]
        return f"{name} (family {fam} model {mod}, {', '.join(isa)})"
    except OSError:
        return platform.processor() or platform.machine()


def _batches(study, cohort: str, condition: str = "full", n_steps: int | None = None):
    from shortcutlab.interventions.pipeline import BatchPipeline

    s = study.settings(cohort)
    data = study.data(cohort)["train"]
    pipe = BatchPipeline(data, condition, batch_size=s.batch_size, train=True, geometric=s.geometric, seed=0,
                         drop_last=True)
    out = [(b.x.clone(), b.y.clone()) for b in pipe]
    return out[:n_steps] if n_steps else out, data.num_classes, data.num_frames


def _epoch(model, opt, batches, lever: str) -> None:
    from shortcutlab.train import soft_cross_entropy

    cw = torch.ones(model.num_classes if hasattr(model, "num_classes") else batches[0][1].max().item() + 1)
    for x, y in batches:
        if lever == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=lever == "bf16"):
            logits = model(x)
        loss = soft_cross_entropy(logits.float(), y, cw.to(logits.device)[: logits.shape[1]], None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _setup(lever: str, k: int, frames: int, model_name: str):
    from shortcutlab.models import build_model

    torch.manual_seed(0)
    model = build_model(model_name, k, frames).train()
    if lever == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    kw = {"foreach": True} if lever == "adam_foreach" else {"fused": True} if lever == "adam_fused" else {"foreach": False}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **kw)
    if lever == "compile":
        model = torch.compile(model)
    return model, opt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--levers", nargs="+", default=list(LEVERS))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import shortcutlab as sl
    from shortcutlab.study import Study

    cfg = sl.load_preset("default")
    study = Study(cfg, progress=False)
    jobs = {"mri": ("cm", cfg.train.mri_model), "echo": ("echo", cfg.train.echo_model)}
    result = {"cpu": _cpu(), "torch": torch.__version__, "rounds": a.rounds, "levers": a.levers, "jobs": {}}
    for job, (cohort, model_name) in jobs.items():
        batches, k, frames = _batches(study, cohort)
        for th in a.threads:
            torch.set_num_threads(th)
            times = {lv: [] for lv in a.levers}
            compile_first = []
            states = {}
            for lv in a.levers:  # one warm-up epoch each (compile: its compilation, timed apart)
                model, opt = _setup(lv, k, frames, model_name)
                t0 = time.perf_counter()
                _epoch(model, opt, batches, lv)
                if lv == "compile":
                    compile_first.append(time.perf_counter() - t0)
                states[lv] = (model, opt)
            for r in range(a.rounds):
                order = a.levers if r % 2 == 0 else list(reversed(a.levers))  # alternated
                for lv in order:
                    model, opt = states[lv]
                    t0 = time.perf_counter()
                    _epoch(model, opt, batches, lv)
                    times[lv].append(time.perf_counter() - t0)
            base = np.array(times["fp32"])
            rows = {}
            for lv in a.levers:
                t = np.array(times[lv])
                sp = base / t
                rows[lv] = {"epoch_s_median": float(np.median(t)), "epoch_s_range": [float(t.min()), float(t.max())],
                            "speedup_median": float(np.median(sp)), "speedup_range": [float(sp.min()), float(sp.max())]}
            if compile_first:
                rows["compile"]["first_epoch_s"] = compile_first[0]
            result["jobs"][f"{job} {th} thread{'s' if th > 1 else ''}"] = {"steps": len(batches), "levers": rows}
            print(job, th, json.dumps({k: round(v["speedup_median"], 3) for k, v in rows.items()}), flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
