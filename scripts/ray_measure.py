"""The default study's training phase, in-process vs on a local Ray, and what more cores would take.

  python scripts/ray_measure.py measure --out benchmarks/ray/<run>/measure.json [--preset default]
  python scripts/ray_measure.py readme benchmarks/ray/<run>/measure.json [--readme docs/cluster.md]

``measure`` plans every job of the preset's notebooks into two fresh caches (the phantoms copied from
``runs/data`` when there, so that neither side pays for them) and trains them: first in-process, one after
another with all the machine's threads (what the notebooks do), then as Ray tasks on a local Ray with ``cores``
jobs of 1 thread each. ``readme`` writes the block between ``<!-- shortcutlab ray: begin -->`` and ``end``:
both wall times, and for 8 and 16 cores a list schedule (jobs in plan order, each on the first free core once
its init is done) of the per-job times measured on Ray at 1 thread each — an estimate that assumes a job's time
does not change when more jobs share the machine's memory.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

BEGIN, END = "<!-- shortcutlab ray: begin -->", "<!-- shortcutlab ray: end -->"


def _fresh_root(data_src: Path | None) -> Path:
    root = Path(tempfile.mkdtemp(prefix="ray-measure-"))
    if data_src is not None and data_src.is_dir():
        shutil.copytree(data_src, root / "data")
    return root


def measure(preset: str, out: Path) -> dict:
    import torch

    from shortcutlab import load_preset
    from shortcutlab._alloc import tune_allocator
    from shortcutlab.app.engine import run_jobs
    from shortcutlab.app.results import machine_info
    from shortcutlab.study import Study
    from shortcutlab.study.plan import plan, run_job

    tune_allocator()
    cores = os.cpu_count() or 1
    data_src = Path("runs/data")
    res: dict = {"preset": preset, "machine": machine_info(), "cores": cores}
    # in-process: the notebooks' way (one job after another, every core's threads)
    root = _fresh_root(data_src)
    cfg = load_preset(preset, overrides={"study.root": str(root)})
    jobs = plan(cfg)
    st = Study(cfg, progress=False)
    for key in {(j.call["cohort"], j.call["strength"]) for j in jobs}:
        st.data(key[0], strength=key[1])  # loaded (or made) before the clock starts, as on the Ray side
    per = {}
    t0 = time.perf_counter()
    for j in jobs:
        t = time.perf_counter()
        run_job(st, j)
        per[j.name] = time.perf_counter() - t
    res["inprocess"] = {"wall_s": time.perf_counter() - t0, "threads": torch.get_num_threads(), "job_seconds": per}
    print(f"in-process: {len(jobs)} jobs in {res['inprocess']['wall_s']:.0f} s", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    # Ray: cores jobs x 1 thread
    root = _fresh_root(data_src)
    cfg = load_preset(preset, overrides={"study.root": str(root)})
    jobs = plan(cfg)
    t0 = time.perf_counter()
    r = run_jobs(cfg, jobs, cpus_per_job=1, progress=False, ray_init={"num_cpus": cores})
    res["ray"] = {"wall_s": time.perf_counter() - t0, "jobs_at_once": cores, "threads_per_job": 1,
                  "job_seconds": r["job_seconds"], "failed": r["failed"], "inside_run_jobs_s": r["seconds"]}
    print(f"ray: {len(r['done'])} jobs in {res['ray']['wall_s']:.0f} s, {len(r['failed'])} failed", flush=True)
    res["jobs"] = [j.to_dict() for j in jobs]
    shutil.rmtree(root, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    return res


def list_schedule(jobs: list[dict], seconds: dict[str, float], workers: int) -> float:
    """Makespan of the jobs in plan order on ``workers`` cores, each starting on the first free core once its
    init is done."""
    free = [0.0] * workers
    end: dict[str, float] = {}
    for j in jobs:
        i = min(range(workers), key=lambda k: free[k])
        start = max(free[i], end.get(j["init"], 0.0) if j["init"] else 0.0)
        end[j["name"]] = free[i] = start + seconds[j["name"]]
    return max(end.values())


def readme_block(path: Path) -> str:
    res = json.loads(path.read_text())
    ip, ray = res["inprocess"], res["ray"]
    jobs, secs = res["jobs"], ray["job_seconds"]
    serial = sum(secs.values())
    lines = [BEGIN, "", f"Measured from `{path.as_posix()}` on {res['machine']['cpu']}, {res['cores']} cores "
             f"({res['preset']} preset, {len(jobs)} jobs, phantoms already made); regenerate with "
             f"`python scripts/ray_measure.py readme {path.as_posix()} --readme docs/cluster.md`:", "",
             "| how | wall time of the training phase |", "|---|---:|",
             f"| in-process (the notebooks' way): one job at a time, {ip['threads']} threads | {ip['wall_s'] / 60:.1f} min |",
             f"| Ray, local: {ray['jobs_at_once']} jobs at a time, 1 thread each (Ray's start included) | "
             f"{ray['wall_s'] / 60:.1f} min |", "",
             f"From the per-job times on Ray (1 thread each; {serial / 60:.1f} min in all), a list schedule gives:", "",
             "| cores (1 job of 1 thread per core) | estimated training phase |", "|---:|---:|"]
    for w in (1, 2, 8, 16):
        lines.append(f"| {w} | {list_schedule(jobs, secs, w) / 60:.1f} min |")
    longest = max(secs, key=secs.get)
    lines += ["", f"The longest job ({longest}, {secs[longest]:.0f} s) and the chains of a pretraining and its "
                  "fine-tunes bound what more cores can give.", "", END]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["measure", "readme"])
    p.add_argument("path")
    p.add_argument("--preset", default="default")
    p.add_argument("--readme", default=None)
    a = p.parse_args(argv)
    if a.cmd == "measure":
        measure(a.preset, Path(a.path))
        return
    block = readme_block(Path(a.path))
    if not a.readme:
        print(block)
        return
    text = Path(a.readme).read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    Path(a.readme).write_text(head + block + tail)
    print(f"updated {a.readme}")


if __name__ == "__main__":
    main()
