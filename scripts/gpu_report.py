"""The GPU page's block (docs/gpu.md), generated from a GPU run's files (never typed by hand).

  python scripts/gpu_report.py bootstrap benchmarks/gpu/<run>/     # time the bootstrap on this CPU (stored)
  python scripts/gpu_report.py readme benchmarks/gpu/<run>/ [--readme docs/gpu.md]

Reads ``bench_cuda.json`` (``shortcutlab bench --device cuda``), ``pack.json`` (scripts/gpu_pack.py),
``versions.txt``, ``after-pinned/`` (the recheck after a change, if any), ``default_study_jobs.json`` (the jobs
of a default-preset study, from its cache) and ``bootstrap_cpu.json``, and writes the block between
``<!-- shortcutlab gpu: begin -->`` and ``<!-- shortcutlab gpu: end -->``.

The paper-preset estimate multiplies measured rates by the paper preset's sizes: per job, epochs x (train
samples / fit rate + validation samples / evaluation rate), the evaluation sets, GradCAM over
``saliency.max_images`` of the test set, and the bootstrap of each evaluation set; pretraining: epochs x
images / pretraining rate. The jobs are the default study's, once per seed of the paper preset. Linear probes
are costed as full fits (an upper bound: their encoder takes no gradient).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

BEGIN, END = "<!-- shortcutlab gpu: begin -->", "<!-- shortcutlab gpu: end -->"


def _bootstrap(folder: Path) -> None:
    import numpy as np

    from shortcutlab.app.results import machine_info
    from shortcutlab.metrics import auc, bootstrap_ci

    rng = np.random.default_rng(0)
    out = {"cpu": machine_info()["cpu"], "n_boot": 1000, "classes": 4, "seconds": {}}
    for n in (523, 1800, 2565):
        y = rng.integers(0, 4, n)
        p = rng.dirichlet(np.ones(4), n)
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            bootstrap_ci(y, p, lambda yy, pp: auc(yy, pp, "micro"), n_boot=1000, ci=0.95, seed=0)
            ts.append(time.perf_counter() - t)
        out["seconds"][str(n)] = sorted(ts)[1]
    (folder / "bootstrap_cpu.json").write_text(json.dumps(out, indent=1))
    print(out)


def _boot_s(boot: dict, n: int) -> float:
    """Seconds of a 1,000-resample bootstrap of ``n`` samples, interpolated in ``n`` between the measured sizes."""
    pts = sorted((int(k), v) for k, v in boot["seconds"].items())
    if n <= pts[0][0]:
        return pts[0][1]
    for (n0, t0), (n1, t1) in zip(pts, pts[1:]):
        if n <= n1:
            return t0 + (t1 - t0) * (n - n0) / (n1 - n0)
    return pts[-1][1] * n / pts[-1][0]


def estimate(bench: dict, jobs: list[dict], boot: dict) -> dict:
    from shortcutlab import load_preset

    cfg = load_preset("paper")
    d, t, c, sal = cfg.data, cfg.train, cfg.contrastive, cfg.saliency
    pm = bench["paper_models"]
    mri, echo = pm["models"]["mri"], pm["models"]["echo"]
    seeds = len(t.seeds)

    def split(n, test, val):
        return {"train": round(n * (1 - test) * (1 - val)), "val": round(n * (1 - test) * val), "test": round(n * test)}

    sizes = {"mri": split(d.cmr_n, d.test_fraction, d.val_fraction),
             "echo": split(d.echo_n, d.echo_test_fraction, d.echo_val_fraction)}
    evals = {"mri": [sizes["mri"]["test"]] * 2, "echo": [sizes["echo"]["test"], d.echo_ood_n]}

    def supervised_s(mod: str) -> dict:
        r, s, epochs = (mri, sizes["mri"], t.epochs) if mod == "mri" else (echo, sizes["echo"], t.echo_epochs)
        train = epochs * s["train"] / r["c_fit_samples_per_s"]
        val = epochs * s["val"] / r["eval_samples_per_s"]
        ev = sum(evals[mod]) / r["eval_samples_per_s"]
        cam = min(sal.max_images, s["test"]) / r["cam_samples_per_s"]
        bs = sum(_boot_s(boot, n) for n in evals[mod])
        return {"train": train, "validation": val, "evaluation": ev, "gradcam": cam, "bootstrap (CPU)": bs}

    groups: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "parts": None})
    for j in jobs:
        if j["kind"] == "pretrain":
            rate = pm["pretrain"][j["what"]]["images_per_s"]
            parts = {"train": c.epochs * sizes["mri"]["train"] * 2 / rate}
            name = f"pretrain {j['what']} (DenseNet121, {c.epochs} epochs)"
        else:
            mod = "echo" if j["cohort"] == "echo" else "mri"
            parts = supervised_s(mod)
            what = "ResNet18 112 px" if mod == "echo" else "DenseNet121 128 px"
            epochs = t.echo_epochs if mod == "echo" else t.epochs
            kind = "linear probe" if j["probe"] else ("fine-tune of a pretrained/transferred encoder" if j["init"] else "from scratch")
            name = f"{j['cohort']} supervised, {kind} ({what}, {epochs} epochs)"
        g = groups[name]
        g["jobs"] += seeds
        g["parts"] = parts
    rows = []
    for name, g in groups.items():
        each = sum(g["parts"].values())
        rows.append({"jobs": name, "count": g["jobs"], "minutes_each": each / 60, "hours": g["jobs"] * each / 3600,
                     "parts_s": g["parts"]})
    rows.sort(key=lambda r: -r["hours"])
    return {"rows": rows, "total_hours": sum(r["hours"] for r in rows), "sizes": sizes, "seeds": seeds}


def _pct(v):
    return f"{100 * v:.1f} %"


def readme_block(folder: Path) -> str:
    bench = json.loads((folder / "bench_cuda.json").read_text())
    pack = json.loads((folder / "pack.json").read_text())
    jobs = json.loads((folder / "default_study_jobs.json").read_text())["jobs"]
    boot = json.loads((folder / "bootstrap_cpu.json").read_text())
    versions = (folder / "versions.txt").read_text().strip().splitlines()
    card = bench["machine"]["gpu"]
    pm = bench["paper_models"]
    lines = [BEGIN, "",
             f"Measured on one **{card}** ({bench['machine']['cores']} cores of an {bench['machine']['cpu']}) from "
             f"`{folder.as_posix()}/` ({versions[1] if len(versions) > 1 else ''}); regenerate this block with "
             f"`python scripts/gpu_report.py readme {folder.as_posix()} --readme docs/gpu.md`.", "",
             "**The papers' models, batch 64** (samples/s; an MRI sample is 2 frames; medians of 5 repeats, the "
             "ratios with their distribution-free 96 % interval; (c) is a steady epoch of `fit`):", "",
             "| model | (a) pure model step | (b) pipeline alone | (c) `fit` epoch | (c)/(a), target <= 1.15 | (b)/(c), target <= 10 % | evaluation | GradCAM |",
             "|---|---:|---:|---:|---|---|---:|---:|"]
    for r in pm["models"].values():
        ca, sh = r["c_over_a"], r["pipeline_share_of_c"]
        lines.append(f"| {r['label']} | {r['a_pure_samples_per_s']:,.0f} | {r['b_pipeline_samples_per_s']:,.0f} | "
                     f"{r['c_fit_samples_per_s']:,.0f} | {ca['median']:.2f} [{ca['spread'][0]:.2f}, {ca['spread'][1]:.2f}] "
                     f"{ca['verdict']} | {_pct(sh['median'])} [{_pct(sh['spread'][0])}, {_pct(sh['spread'][1])}] "
                     f"{sh['verdict']} | {r['eval_samples_per_s']:,.0f} | {r['cam_samples_per_s']:,.0f} |")
    a = pm.get("anchor_resnet18_224")
    pre = pm["pretrain"]
    lines += ["", "Contrastive pretraining of DenseNet121 at 128 px, batch 256, images/s: " +
              ", ".join(f"{m} {r['images_per_s']:,.0f}" for m, r in pre.items()) + "."]
    if a:
        lines.append(f"The anchor on the same card: timm's ResNet18 at 224 px, batch 256, bf16 autocast, channels_last "
                     f"trains at **{a['images_per_s']:,.0f} img/s** (timm publishes ~{a['published']:,} on an "
                     f"{a['published_card']}).")
    after = folder / "after-pinned" / "models.json"
    if after.exists():
        am = json.loads(after.read_text())
        r0, r1 = pm["models"]["echo"], am["models"]["echo"]
        f0, f1 = bench["fit_vs_pure_compute"], am["fit_vs_pure_compute"]
        lines += ["", f"After moving the pipeline's random draws through pinned memory without blocking "
                      f"(`shortcutlab/_device.py`), rechecked on another {am['gpu']}: ResNet18 (a) "
                      f"{r1['a_pure_samples_per_s']:,.0f}, (b) {r1['b_pipeline_samples_per_s']:,.0f}, (c) "
                      f"{r1['c_fit_samples_per_s']:,.0f} samples/s (before: {r0['a_pure_samples_per_s']:,.0f}, "
                      f"{r0['b_pipeline_samples_per_s']:,.0f}, {r0['c_fit_samples_per_s']:,.0f}), (c)/(a) "
                      f"{r1['c_over_a']['median']:.2f} [{r1['c_over_a']['spread'][0]:.2f}, {r1['c_over_a']['spread'][1]:.2f}]; "
                      f"the small model's fit epoch / pure compute {f1['median']:.2f} (before {f0['median']:.2f}). "
                      f"No measurable gain: one read-back per batch was still there (the donor pool's indices were "
                      f"read back from the GPU). That is fixed since, and `tests/test_cuda.py::"
                      f"test_pipeline_never_waits_for_the_gpu` checks it, but neither has run on a GPU yet."]
    lines += ["", "**Packing the default study's jobs onto one GPU** (scripts/gpu_pack.py: "
                  f"{pack['jobs']} of its independent jobs, evenly spread over its kinds, each job in its own process, "
                  "as Ray's fractional GPUs would place them; 16 cores shared out):", "",
              "| jobs at once | wall time | speed-up |", "|---:|---:|---:|"]
    for f in [folder / "pack.json", folder / "after-pinned" / "pack.json"]:
        if not f.exists():
            continue
        p = json.loads(f.read_text())
        base = p["trials"][0]["wall_s"]
        for r in p["trials"]:
            tag = "" if f.parent == folder else " (recheck run)"
            lines.append(f"| {r['k']}{tag} | {r['wall_s']:.0f} s | {base / r['wall_s']:.2f}x |")
    est = estimate(bench, jobs, boot)
    lines += ["", f"**The paper preset on one {card}, estimated** from these rates, the default study's "
                  f"{len(jobs)} jobs x {est['seeds']} seeds, the paper preset's sizes (MRI train/val/test "
                  f"{est['sizes']['mri']['train']}/{est['sizes']['mri']['val']}/{est['sizes']['mri']['test']}, echo "
                  f"{est['sizes']['echo']['train']}/{est['sizes']['echo']['val']}/{est['sizes']['echo']['test']}), one "
                  f"job at a time; the bootstrap is timed on {boot['cpu']}:", "",
              "| jobs | count | minutes each | hours | of which |", "|---|---:|---:|---:|---|"]
    for r in est["rows"]:
        parts = ", ".join(f"{k} {v / 60:.1f} min" for k, v in r["parts_s"].items() if v >= 1)
        lines.append(f"| {r['jobs']} | {r['count']} | {r['minutes_each']:.1f} | {r['hours']:.2f} | {parts} |")
    lines += [f"| **total** | {sum(r['count'] for r in est['rows'])} | | **{est['total_hours']:.1f}** | |", "",
              "Reproduce: `bash scripts/gpu_prepare.sh` on a CPU machine, then `bash scripts/gpu_check.sh OUT` on the "
              "GPU machine (about 7 minutes on an H200); `shortcutlab bench --device cuda` prints the same ratios.",
              "", END]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["bootstrap", "readme"])
    p.add_argument("folder")
    p.add_argument("--readme", default=None)
    a = p.parse_args(argv)
    folder = Path(a.folder)
    if a.cmd == "bootstrap":
        _bootstrap(folder)
        return
    block = readme_block(folder)
    if not a.readme:
        print(block)
        return
    text = Path(a.readme).read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{a.readme} has no {BEGIN} ... {END} markers; add them where the block goes")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    Path(a.readme).write_text(head + block + tail)
    print(f"updated {a.readme}")


if __name__ == "__main__":
    main()
