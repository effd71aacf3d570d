"""Packing check: the default study's training jobs on one GPU, one job at a time vs k at once.

Ray's fractional GPUs (``num_gpus=1/k``) schedule k jobs on one device at once, each in its own worker process.
This script does exactly that without Ray (its wheel is too large to carry to the GPU machine): the same job
function (``Study.run`` / ``Study.pretrain`` of one spec) in k plain processes, each with ``16 / k`` CPU threads,
the jobs dealt round-robin, the phantoms generated once by the driver (the study's data cache) and copied to
each trial. Wall time from the first process's start to the last one's end, per k.

  python scripts/gpu_pack.py jobs --cache runs/default --out .gpu_run/jobs.json   # on the CPU: list the jobs
  python scripts/gpu_pack.py pack --jobs .gpu_run/jobs.json --k 1,4,8 --out pack.json  # on the GPU machine

The jobs are the default study's entries without a dependency (no ``init``): every supervised run and every
pretraining; the fine-tunes of a pretrained encoder need their pretraining first and are left out here.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path


def _study(cfg, root):
    from shortcutlab.study import Study

    return Study(cfg, root=root, progress=False)


def list_jobs(cache: Path, preset: str = "default") -> list[dict]:
    """Each cached entry of ``cache`` as the Study call that makes it, checked: the call's spec hashes to the
    entry's own spec."""
    from shortcutlab import load_preset
    from shortcutlab.config import result_settings
    from shortcutlab.ssl.contrastive import ContrastiveSettings
    from shortcutlab.study.store import spec_hash

    cfg = load_preset(preset)
    st = _study(cfg, cache.parent)
    jobs = []
    for entry in sorted(cache.iterdir()):
        if not (entry / "done.json").exists():
            continue
        spec = json.loads((entry / "spec.json").read_text())
        if spec.get("init"):
            continue
        cohort = spec["cohort"]
        default_strength = st._data_spec(cohort, None)["strength"]
        strength = None if spec["data"]["strength"] == default_strength else spec["data"]["strength"]
        if spec["kind"] == "pretrain":
            base = result_settings(asdict(ContrastiveSettings.from_config(cfg)), "pretrain")
            changes = {k: v for k, v in spec["contrastive"].items() if base.get(k) != v}
            job = {"kind": "pretrain", "method": spec["method"], "cohort": cohort, "seed": spec["seed"],
                   "strength": strength, "changes": changes}
        else:
            base = result_settings(asdict(st.settings(cohort)), "fit")
            changes = {k: v for k, v in spec["train"].items() if base.get(k) != v}
            if "geometric" in changes:
                raise SystemExit(f"{entry.name}: a changed geometric augmentation is not handled by this script")
            job = {"kind": "supervised", "cohort": cohort, "condition": spec["condition"], "seed": spec["seed"],
                   "probe": spec["probe"], "strength": strength, "tag": spec.get("tag", ""), "changes": changes}
            s = st.settings(cohort, **changes)
            again = st.spec(cohort, spec["condition"], seed=spec["seed"], probe=spec["probe"], strength=strength,
                            settings=s, tag=job["tag"])
            if spec_hash(again) != spec_hash(spec):
                raise SystemExit(f"{entry.name}: rebuilding its spec gave another hash")
        job["entry"] = entry.name
        jobs.append(job)
    return jobs


def run_job(st, job: dict) -> float:
    """The job function: train (or pretrain) one spec into the study's cache; seconds it took."""
    t = time.perf_counter()
    if job["kind"] == "pretrain":
        st.pretrain(job["method"], job["cohort"], seed=job["seed"], strength=job["strength"], **job["changes"])
    else:
        st.run(job["cohort"], job["condition"], seed=job["seed"], probe=job["probe"], strength=job["strength"],
               tag=job["tag"], **job["changes"])
    return time.perf_counter() - t


def _worker(args) -> None:
    import torch

    from shortcutlab import load_preset

    torch.set_num_threads(args.threads)
    cfg = load_preset(args.preset, overrides={"train.device": args.device})
    jobs = json.loads(Path(args.jobs).read_text())
    st = _study(cfg, args.root)
    out = []
    for i in [int(v) for v in args.indices.split(",") if v]:
        out.append({"job": i, "entry": jobs[i]["entry"], "seconds": run_job(st, jobs[i])})
    Path(args.result).write_text(json.dumps(out))


def _trial(jobs_file: Path, n_jobs: int, k: int, data_dir: Path, device: str, preset: str, cores: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(data_dir, root / "data")  # the driver's phantoms, as Ray's object store would ship them
        threads = max(1, cores // k)
        procs, results = [], []
        t0 = time.perf_counter()
        for w in range(k):
            idx = ",".join(str(i) for i in range(w, n_jobs, k))
            res = root / f"worker{w}.json"
            results.append(res)
            procs.append(subprocess.Popen([sys.executable, __file__, "worker", "--jobs", str(jobs_file), "--root",
                                           str(root), "--indices", idx, "--threads", str(threads), "--device", device,
                                           "--preset", preset, "--result", str(res)]))
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - t0
        per = [r for f in results if f.exists() for r in json.loads(f.read_text())]
    return {"k": k, "threads_per_job": threads, "wall_s": wall, "exit_codes": codes, "jobs_done": len(per),
            "job_seconds": per}


def _pack(args) -> None:
    import torch

    from shortcutlab import load_preset

    jobs = json.loads(Path(args.jobs).read_text())
    if args.max_jobs and args.max_jobs < len(jobs):  # an evenly spread subset: every kind of job keeps its share
        jobs = [jobs[i * len(jobs) // args.max_jobs] for i in range(args.max_jobs)]
    n = len(jobs)
    jobs_file = Path(tempfile.mkdtemp()) / "jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    cores = os.cpu_count() or 1
    cfg = load_preset(args.preset)
    with tempfile.TemporaryDirectory() as tmp:  # the driver makes the phantoms once
        st = _study(cfg, tmp)
        for cohort in sorted({j["cohort"] for j in jobs[:n]}):
            for strength in sorted({j["strength"] for j in jobs[:n] if j["cohort"] == cohort}, key=str):
                st.data(cohort, strength=strength)
        data_dir = Path(tmp) / "data"
        keep = Path(tempfile.mkdtemp())
        shutil.copytree(data_dir, keep / "data")
    res = {"device": args.device, "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
           "cores": cores, "preset": args.preset, "jobs": n, "entries": [j["entry"] for j in jobs], "trials": []}
    for k in [int(v) for v in args.k.split(",")]:
        r = _trial(jobs_file, n, k, keep / "data", args.device, args.preset, cores)
        res["trials"].append(r)
        print(f"k={k}: {r['jobs_done']}/{n} jobs in {r['wall_s']:.1f} s (exit codes {r['exit_codes']})", flush=True)
        Path(args.out).write_text(json.dumps(res, indent=1))
    base = res["trials"][0]["wall_s"]
    for r in res["trials"]:
        r["speedup_vs_first"] = base / r["wall_s"]
    Path(args.out).write_text(json.dumps(res, indent=1))
    shutil.rmtree(keep, ignore_errors=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    j = sub.add_parser("jobs")
    j.add_argument("--cache", default="runs/default")
    j.add_argument("--preset", default="default")
    j.add_argument("--out", required=True)
    k = sub.add_parser("pack")
    k.add_argument("--jobs", required=True)
    k.add_argument("--k", default="1,4,8")
    k.add_argument("--max-jobs", type=int, default=0)
    k.add_argument("--device", default="cuda")
    k.add_argument("--preset", default="default")
    k.add_argument("--out", required=True)
    w = sub.add_parser("worker")
    for a in ("--jobs", "--root", "--indices", "--device", "--preset", "--result"):
        w.add_argument(a, required=True)
    w.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.cmd == "jobs":
        jobs = list_jobs(Path(args.cache), args.preset)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(jobs, indent=1))
        print(f"{len(jobs)} jobs -> {args.out}")
    elif args.cmd == "pack":
        _pack(args)
    else:
        _worker(args)


if __name__ == "__main__":
    main()
