"""Command line: ``shortcutlab run | plan | list | bench | results | audit | discover``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from .._validation import ShortcutlabError, check_int

__all__ = ["main", "parse_set"]


def parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``["train.epochs=2", "data.cmr_n=64"]`` -> ``{"train.epochs": 2, "data.cmr_n": 64}`` (YAML values)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ShortcutlabError(f"The '--set' option must have the form section.key=value, e.g. "
                                   f"train.epochs=2. Got {item!r} instead.")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        from ..config import _SCI

        if isinstance(value, str) and _SCI.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string; a user means the number
        key = key.strip()
        if key.startswith("data.") and key.endswith(".path") and isinstance(value, str) and value \
                and not Path(value).expanduser().is_absolute():
            value = str(Path(value).expanduser().resolve())  # a path typed in a shell is relative to the shell's folder
        out[key] = value
    return out


def _plan(args):
    from ..config import load_preset
    from ..study.plan import plan
    from .runner import discover_notebooks

    only = [s for s in (args.only or "").split(",") if s.strip()] or None
    cfg = load_preset(args.preset, overrides=parse_set(args.set))
    return cfg, plan(cfg, discover_notebooks(only=only))


def _cmd_plan(args) -> int:
    from ..study.plan import work_units

    cfg, jobs = _plan(args)
    if args.json:
        print(json.dumps([j.to_dict() for j in jobs], indent=1))
        return 0
    print(f"{'job (cache entry)':<48} {'kind':<10} {'cached':<6} {'after':<32} notebooks")
    for j in jobs:
        print(f"{j.name:<48} {j.kind:<10} {'yes' if j.cached else 'no':<6} {j.init or '':<32} "
              f"{','.join(n[:2] for n in j.notebooks)}")
    missing = [j for j in jobs if not j.cached]
    work = sum(work_units(cfg, j) for j in missing)
    total = sum(work_units(cfg, j) for j in jobs)
    print(f"{len(jobs)} jobs, {len(jobs) - len(missing)} cached, {len(missing)} to run; "
          f"work to run: {work:,.0f} of {total:,.0f} sample-epochs")
    return 0


def _run_engine(args) -> tuple[int, dict]:
    """``--engine ray``: the plan's missing jobs on Ray first; the notebooks then load them from the cache."""
    from .engine import run_jobs

    cfg, jobs = _plan(args)
    res = run_jobs(cfg, jobs, address=args.address, cpus_per_job=args.cpus_per_job,
                   gpus_per_job=args.gpus_per_job, progress=not args.quiet)
    print(f"ray: {len(res['done'])} jobs run, {len(res['skipped'])} cached, {len(res['failed'])} failed "
          f"({res['seconds']:.0f} s)")
    for f in res["failed"]:
        print(f"FAILED {f['name']}: {json.dumps(f['call'], sort_keys=True)}\n  {f['error']}", file=sys.stderr)
    return len(res["failed"]), res


def _cmd_run(args) -> int:
    from .._io import atomic_json
    from .runner import run_study

    from pathlib import Path

    from .. import load_preset
    from .._paths import REPORTS_DIR

    check_int(args.notebook_jobs, name="--notebook-jobs", where="shortcutlab run", lo=1)  # before any training
    failed_jobs, engine = _run_engine(args) if args.engine == "ray" else (0, None)
    out = Path(args.out) if args.out else REPORTS_DIR / load_preset(args.preset, parse_set(args.set)).name
    # the training phase's profile (wall time, each job's seconds), before the notebooks so that the report's
    # index shows it; a run without Ray removes an earlier run's, which no longer describes this report
    if engine is not None:
        atomic_json(out / "engine.json", {"engine": "ray", "cpus_per_job": args.cpus_per_job, **engine})
    else:
        (out / "engine.json").unlink(missing_ok=True)
    only = [s for s in (args.only or "").split(",") if s.strip()] or None
    jobs = args.notebook_jobs
    if jobs > 1 and (args.engine != "ray" or failed_jobs):  # a notebook may train: never two at once on one run
        print(f"--notebook-jobs {jobs}: running the notebooks one at a time, since "
              f"{'some jobs failed on Ray' if failed_jobs else 'without --engine ray they train what they need'}",
              file=sys.stderr)
        jobs = 1
    summary = run_study(args.preset, only=only, out=args.out, overrides=parse_set(args.set),
                        fail_fast=args.fail_fast, progress=not args.quiet, execution_timeout=args.cell_timeout,
                        jobs=jobs)
    for e in summary["notebooks"]:
        line = f"{e['notebook']:<36} {e['status']:<7} {e['duration_s']:>7.1f} s"
        if e["status"] == "failed":
            er = e.get("error", {})
            line += f"  cell {er.get('exec_count', er.get('cell_index', '?'))}: {er.get('ename', '')}: {er.get('evalue', '')}"
        print(line)
    print(f"report: {out / 'index.html'}")
    if failed_jobs:
        print(f"{failed_jobs} job(s) failed on Ray (listed above); the notebooks trained what they needed themselves",
              file=sys.stderr)
    return 0 if summary["ok"] and not failed_jobs else 1


def _cmd_list(args) -> int:
    from ..config import available_presets, load_preset
    from .runner import discover_notebooks

    print("notebooks:")
    for nb in discover_notebooks():
        print(f"  {nb.name}")
    print("presets:")
    for p in available_presets():
        try:
            cfg = load_preset(p)
        except ShortcutlabError as e:  # an example preset for real data names a path this machine may not have
            print(f"  {p:<10} (needs your data: {e})")
            continue
        real = [f"data.{c}={cfg.data[c]['source']}" for c in ("cm", "acdc", "echo", "echo_ood")
                if cfg.data[c]["source"] != "phantom"]
        print(f"  {p:<10} (train.epochs={cfg.train.epochs}, data.cmr_n={cfg.data.cmr_n}, "
              f"data.echo_n={cfg.data.echo_n}{', ' + ', '.join(real) if real else ''})")
    return 0


def _cmd_bench(args) -> int:
    from .bench import run_bench

    res = run_bench(preset=args.preset, device=args.device, out=args.out, paper_models=args.paper_models)
    print(json.dumps(res.get("table", []), indent=1) if args.json else res["text"])
    return 0


def _cmd_results(args) -> int:
    from .results import read_summary, results_block, update_readme

    block = results_block(read_summary(args.report), source=args.report, report_dir=args.report)
    if args.readme:
        print(f"updated {update_readme(args.readme, block)}")
    else:
        print(block)
    return 0


def _floats(text: str | None, name: str) -> list[float]:
    if not text:
        return []
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ShortcutlabError(f"The '--{name}' option must be comma-separated numbers, e.g. 0.485,0.456,0.406. "
                               f"Got {text!r} instead.") from None


def _preprocess_and_classes(args) -> tuple[dict, list[str] | None]:
    """The model's preprocessing and class order from the options audit and discover share."""
    pre = {"size": args.size, "channels": args.channels, "mean": _floats(args.mean, "mean"),
           "std": _floats(args.std, "std"), "zscore": args.zscore}
    return pre, ([c.strip() for c in args.classes.split(",")] if args.classes else None)


def _cmd_audit(args) -> int:
    from ..auditing import audit_file
    from .audit_report import write_audit_report

    pre, classes = _preprocess_and_classes(args)
    site = None
    if args.site:
        from ..auditing import load_audit_data

        site = load_audit_data(args.site, size=args.read_size or args.size, intensity=args.intensity,
                               resize=args.resize, where="audit --site")
    fail_on = _fail_on(args.fail_on)
    result = audit_file(args.model, args.data, arch=args.arch, size=args.size, read_size=args.read_size,
                        classes=classes, preprocess=pre,
                        target_layer=args.target_layer, method=args.method, seed=args.seed, k=args.k,
                        max_cam_images=args.cam_images, n_boot=args.n_boot, site=site, batch_size=args.batch_size,
                        device=args.device, strip_prefix=args.strip_prefix, intensity=args.intensity,
                        resize=args.resize)
    found = []
    if args.discover:
        from ..auditing import discover_file

        found = [discover_file(args.model, result.data, arch=args.arch, preprocess=result.info["preprocess"],
                               target_layer=args.target_layer, method=args.method, seed=args.seed,
                               n_boot=args.n_boot, batch_size=args.batch_size, device=args.device,
                               strip_prefix=args.strip_prefix, name=result.name)]
    path = write_audit_report([result], args.out, title=f"shortcutlab audit · {Path(args.model).name}",
                              discoveries=found)
    print("input pipeline:\n" + "\n".join(f"  {i}. {st}" for i, st in enumerate(result.info["pipeline"], 1)))
    print(f"{result.name}: {result.overall}. {result.summary}")
    print(f"report: {path}")
    hit = [c for c in fail_on if c == result.overall_code or (c == "maps-fail-sanity" and not result.sanity_ok)]
    if hit:
        print(f"shortcutlab: audit failed: --fail-on {','.join(hit)} matched (overall_code "
              f"{result.overall_code!r}, sanity_ok {result.sanity_ok})", file=sys.stderr)
        return 1
    return 0


def _cmd_discover(args) -> int:
    from ..auditing import discover_file
    from .discover_report import write_discover_report

    codes = [c.strip() for c in (args.fail_on or "").split(",") if c.strip()]
    bad = [c for c in codes if c != "reads-region"]
    if bad:
        raise ShortcutlabError(f"The '--fail-on' option of discover must be reads-region. Got {bad[0]!r} instead.")
    pre, classes = _preprocess_and_classes(args)
    result = discover_file(args.model, args.data, arch=args.arch, size=args.size, read_size=args.read_size,
                           classes=classes, preprocess=pre, target_layer=args.target_layer, method=args.method,
                           grid=args.grid, max_clusters=args.max_clusters, fill=args.fill,
                           placements=args.placements, min_cluster=args.min_cluster, margin=args.margin,
                           n_boot=args.n_boot, seed=args.seed, batch_size=args.batch_size, device=args.device,
                           strip_prefix=args.strip_prefix, intensity=args.intensity, resize=args.resize)
    path = write_discover_report([result], args.out, title=f"shortcutlab discover · {Path(args.model).name}")
    print("input pipeline:\n" + "\n".join(f"  {i}. {st}" for i, st in enumerate(result.info["pipeline"], 1)))
    print(f"{result.name}: {result.summary}")
    print(f"report: {path}")
    if "reads-region" in codes and result.reading_regions:
        print(f"shortcutlab: discover failed: --fail-on reads-region matched ({len(result.reading_regions)} region(s) "
              f"read)", file=sys.stderr)
        return 1
    return 0


FAIL_ON = ("reads-background", "inconclusive", "one-class", "maps-fail-sanity")


def _fail_on(text: str) -> list[str]:
    """``--fail-on``: comma-separated codes among :data:`FAIL_ON`, checked before the audit runs."""
    codes = [c.strip() for c in (text or "").split(",") if c.strip()]
    bad = [c for c in codes if c not in FAIL_ON]
    if bad:
        raise ShortcutlabError(f"The '--fail-on' option must be comma-separated codes among {', '.join(FAIL_ON)}. "
                               f"Got {bad[0]!r} instead.")
    return codes


def _model_and_data_options(a: argparse.ArgumentParser, *, masks: bool) -> None:
    """The options ``audit`` and ``discover`` share: the model file, the images and how they are read, and the
    model's preprocessing."""
    a.add_argument("--model", required=True, help="a state dict (.pt/.pth/.bin/.safetensors, with --arch), a "
                   "TorchScript file, or a torch.export program (.pt2)")
    a.add_argument("--arch", default="", help="the architecture of a state dict: a timm name (resnet18), "
                   "torchvision.<name> (torchvision.resnet18) or a study model (sl_cnn)")
    a.add_argument("--strip-prefix", default="", metavar="PREFIX",
                   help="remove PREFIX from the state dict's keys first (a Lightning checkpoint's 'model.')")
    a.add_argument("--data", required=True, help=(
        "a manifest CSV (image, mask or box, label columns) or a class folder with <name>_mask.<ext> beside each "
        "image" if masks else "a class folder (one folder per class, no masks needed) or a manifest CSV (image and "
        "label columns)") + "; PNG (8/16-bit), JPEG, TIFF, .npy, NIfTI, read with their channels and bit depth")
    if masks:
        a.add_argument("--site", default="", help="masked images from another site (a manifest or class folder): each "
                       "object is also shown on one of their backgrounds")
    a.add_argument("--classes", default="", help="the model's class order, index 0 first, comma-separated (default: "
                   "the labels, sorted; printed and stored in audit.json): a model whose index 0 is 'normal' needs "
                   "--classes normal,abnormal")
    a.add_argument("--intensity", default="raw", help="how pixel values become the model's: raw (default: 8-bit "
                   "/255, 16-bit /65535, floats as stored), percentile (each image's 1st-99th percentile to 0-1), "
                   "or window:LO,HI (stored values LO..HI to 0-1, e.g. window:-1000,400 for CT)")
    a.add_argument("--resize", default="squash", choices=["squash", "pad", "crop"],
                   help="how an image that is not square reaches --size: squash (default; aspect not kept), pad "
                        "(zeros to a square first) or crop (the centre square)")
    a.add_argument("--size", type=int, default=128, help="the model's input size in pixels; the images and masks are "
                   "read at it (default 128)")
    a.add_argument("--read-size", type=int, default=None, help="read the images and masks at this size instead; the "
                   "model still gets --size (a bilinear resize, stated in the report)")
    a.add_argument("--channels", type=int, default=None, help="the model's input channels (default: from the "
                   "state dict's first convolution; a grayscale image is repeated to fill them)")
    a.add_argument("--mean", default="", help="per-channel mean, comma-separated (with --std)")
    a.add_argument("--std", default="", help="per-channel std, comma-separated (with --mean)")
    a.add_argument("--zscore", action="store_true", help="normalize each image by its own mean and std instead")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shortcutlab", description="Shortcut learning study: run the notebooks, "
                                "plan their jobs, list notebooks and presets, benchmark, print a run's results, "
                                "audit your own model, find the regions it reads without masks.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute the notebooks with papermill into reports/<preset>/")
    r.add_argument("--preset", default="default", help="a preset name (smoke, default, paper, lesson, acdc, tmed2: "
                   "`shortcutlab list` shows them) or a YAML path")
    r.add_argument("--only", default="", help="comma-separated notebooks by number or name, e.g. 01,03 or lesson")
    r.add_argument("--out", default=None, help="report folder (default reports/<preset>/)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. train.epochs=2 (repeatable)")
    r.add_argument("--fail-fast", action="store_true", help="stop at the first failing notebook")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                   help="fail a notebook whose cell runs longer than this (default: the preset's run.cell_timeout)")
    r.add_argument("--engine", default="inprocess", choices=["inprocess", "ray"],
                   help="inprocess: each notebook trains what it needs (default); ray: the plan's jobs run first as "
                        "Ray tasks, in parallel (pip install -e '.[ray]')")
    r.add_argument("--notebook-jobs", type=int, default=1, metavar="N",
                   help="with --engine ray: notebooks executed at once once every run is trained (default 1)")
    r.add_argument("--address", default=None, help="with --engine ray: an existing Ray cluster (default: a local one)")
    r.add_argument("--cpus-per-job", type=int, default=1, help="with --engine ray: torch threads and CPUs per job")
    r.add_argument("--gpus-per-job", type=float, default=0.0,
                   help="with --engine ray: GPU share per job (0.25 packs four jobs on a GPU)")
    r.set_defaults(func=_cmd_run)
    pl = sub.add_parser("plan", help="list the training jobs the notebooks will ask for, and which are cached")
    pl.add_argument("--preset", default="default", help="preset name or YAML path")
    pl.add_argument("--only", default="", help="comma-separated notebook numbers, e.g. 01,03")
    pl.add_argument("--set", action="append", metavar="KEY=VALUE", help="override (repeatable)")
    pl.add_argument("--json", action="store_true", help="print the jobs as JSON")
    pl.set_defaults(func=_cmd_plan)
    ls = sub.add_parser("list", help="list notebooks and presets")
    ls.set_defaults(func=_cmd_list)
    b = sub.add_parser("bench", help="performance figures as ratios measured side by side")
    b.add_argument("--preset", default="smoke", choices=["smoke", "default", "paper"])
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--out", default=None, help="JSON file to write")
    b.add_argument("--json", action="store_true", help="print JSON instead of the table")
    b.add_argument("--paper-models", dest="paper_models", action=argparse.BooleanOptionalAction, default=None,
                   help="the papers' models at their sizes: (a) pure step, (b) pipeline, (c) fit epoch "
                        "(default: on with --device cuda; hours on a CPU)")
    b.set_defaults(func=_cmd_bench)
    res = sub.add_parser("results", help="the results block of a run (markdown), for the README")
    res.add_argument("report", help="a report folder with summary.json, e.g. reports/default")
    res.add_argument("--readme", default=None, metavar="FILE", help="replace the block between the markers in FILE")
    res.set_defaults(func=_cmd_results)
    a = sub.add_parser("audit", help="does my classifier read the background? an HTML report for any model file",
                       description="Audit a model file on masked test images: counterfactual backgrounds, CAM "
                                   "localisation against the masks, and a sanity check, each with a verdict. "
                                   "Exit codes: 0 the audit ran and no --fail-on code matched (a clean or an "
                                   "inconclusive answer); 1 a --fail-on code matched; 2 an error (bad input, "
                                   "unreadable file). audit.json holds overall_code (reads-background, clean, "
                                   "inconclusive, one-class), sanity_ok, the class order and each test's "
                                   "verdict_code.")
    _model_and_data_options(a, masks=True)
    a.add_argument("--target-layer", default="", help="the CAM layer's dotted name (default: found for ResNet, "
                   "DenseNet, EfficientNet, ConvNeXt, ViT)")
    a.add_argument("--method", default="gradcam", help="grad-cam method (gradcam, gradcam++, layercam, ...)")
    a.add_argument("--k", type=int, default=3, help="backgrounds per image for the worst-background accuracy")
    a.add_argument("--cam-images", type=int, default=200, help="images the CAMs are computed on (seeded subset)")
    a.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates of every interval")
    a.add_argument("--seed", type=int, default=0, help="seed of the donors and the bootstrap")
    a.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    a.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where the model runs (auto: cuda when available); every input follows the model")
    a.add_argument("--fail-on", default="", metavar="CODES",
                   help="exit 1 when the answer matches any of these comma-separated codes: reads-background, "
                        "inconclusive, one-class, maps-fail-sanity (for CI; default: never)")
    a.add_argument("--discover", action="store_true", help="also find the regions the model reads without the "
                   "masks (the discover command's clusters and counterfactual tests), as a section of the report")
    a.add_argument("--out", default="reports/audit", help="report folder (default reports/audit)")
    a.set_defaults(func=_cmd_audit)
    d = sub.add_parser("discover", help="which regions does my classifier read? no masks needed: clusters of its "
                       "maps, each region tested with a counterfactual", description="Find the regions a model file "
                       "reads on unmasked images: its saliency maps clustered per predicted class (spectral "
                       "clustering, the eigengap choosing how many), each cluster's region named on half of the "
                       "images and tested on the other half (the region replaced, against the same shape elsewhere), "
                       "with a verdict, an interval and Holm over the regions. Exit codes: 0 it ran and no --fail-on "
                       "code matched; 1 --fail-on reads-region matched; 2 an error.")
    _model_and_data_options(d, masks=False)
    from ..auditing.discover import FILLS, MARGIN

    d.add_argument("--target-layer", default="", help="the CAM layer's dotted name (default: found for ResNet, "
                   "DenseNet, EfficientNet, ConvNeXt, ViT)")
    d.add_argument("--method", default="gradcam", help="grad-cam method (gradcam, gradcam++, layercam, ...)")
    d.add_argument("--grid", type=int, default=16, help="cells per side of the pooled maps (default 16)")
    d.add_argument("--max-clusters", type=int, default=6, help="the most clusters per predicted class (default 6)")
    d.add_argument("--fill", default="local", choices=list(FILLS), help="what replaces a region: local (default: "
                   "the median of the pixels just outside it), blur, or donor (another image's pixels there)")
    d.add_argument("--placements", type=int, default=8, help="positions of the same shape elsewhere, the placebo "
                   "(at least 8; default 8)")
    d.add_argument("--min-cluster", type=int, default=5, help="images a cluster needs to be tested, on each half "
                   "(default 5)")
    d.add_argument("--margin", type=float, default=MARGIN, help=f"the smallest effect called reading, in "
                   f"probability (default the registered {MARGIN}; another value is stated in the report)")
    d.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates of every interval")
    d.add_argument("--seed", type=int, default=0, help="seed of the split, the placements and the bootstrap")
    d.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default 256)")
    d.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where the model runs (auto: cuda when available); every input follows the model")
    d.add_argument("--fail-on", default="", metavar="CODES", help="exit 1 when the code matches: reads-region "
                   "(any region reads; for CI; default: never)")
    d.add_argument("--out", default="reports/discover", help="report folder (default reports/discover)")
    d.set_defaults(func=_cmd_discover)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .._alloc import tune_allocator

    tune_allocator()  # the bench and the runner's own work; notebooks' kernels tune themselves in sl.setup
    try:
        return args.func(args)
    except ShortcutlabError as e:
        print(f"shortcutlab: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
