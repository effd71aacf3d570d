"""``shortcutlab bench``: performance figures as ratios of two things measured side by side in one run.

Machines are shared and noisy, so every figure is a ratio measured side by side, repeated (alternating the two
sides) and reported as the median with a distribution-free confidence interval of the median (order statistics;
with 9 repeats the 2nd and 8th values, 96 %; with fewer than 6, the min and max). The verdict is ``met`` when the
whole interval meets the target, ``missed`` when none of it does, and ``noisy`` (no verdict, with a warning)
when it straddles the target. One slow repeat (a neighbour's burst of work) no longer decides a verdict. The CPU model is printed and recorded, because a figure met on one CPU is not met on another:

1. batch pipeline vs a seed-style pipeline (per-sample ``.npy`` files, numpy background swap, PIL crop, flip,
   rotation, a DataLoader with the machine's workers) on the same images — target >= 10x;
2. the pipeline's share of a training step: its batches alone (rand, geometric and intensity augmentation)
   vs the same steps of pure model compute on pre-made tensors — target <= 5 %; and a whole epoch of ``fit``
   (pipeline, optimizer set-up, data to the device) vs the pure compute — target <= 1.05 (CPU), <= 1.10 (CUDA);
3. maps + all overlap metrics vs grad-cam's GradCAM alone on the same batches — target <= 1.2;
4. phantom generation, images/s on one thread at 128 px (MRI, 2 frames) and 112 px (echo) — target >= 2,000;
5. study wall time per notebook from ``reports/<preset>/summary.json`` if it exists;
6. with ``--device cuda`` (or ``--paper-models``), the papers' models at their sizes and batch 64 (DenseNet121 on
   2 frames at 128 px, ResNet18 at 112 px): (a) a pure training step on resident random data with bf16 autocast
   and channels_last, the ceiling; (b) the batch pipeline alone; (c) a steady epoch of ``fit``; (c)/(a) — target
   <= 1.15 — and (b)/(c), the pipeline's share — target <= 10 %; evaluation and GradCAM throughput; contrastive
   pretraining throughput of each method; and timm's anchor (ResNet18, 224 px, batch 256) on the same card.

Everything is measured in the process as ``import shortcutlab`` leaves it: glibc's allocator keeps large tensors'
pages between batches (:mod:`shortcutlab._alloc`; the JSON's ``machine.allocator`` says what was set).
``SHORTCUTLAB_MALLOC=default shortcutlab bench`` measures with glibc's defaults instead.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

__all__ = ["run_bench", "SIZES", "verdict", "median_ci", "paired_times", "run_paper_models", "PAPER_MODELS"]

SIZES = {
    "tiny": dict(n=64, size=32, batch=32, repeats=3, gen_n=32, audit_n=48, audit_rate_n=8, audit_repeats=3),
    "smoke": dict(n=256, size=64, batch=64, repeats=9, gen_n=256, saliency_passes=4, saliency_repeats=15,
                  pipeline_repeats=15),
    "default": dict(n=1024, size=64, batch=64, repeats=5, gen_n=512),
    "paper": dict(n=2048, size=128, batch=64, repeats=5, gen_n=1024),
}


def verdict(values, ok: Callable[[float], bool]) -> dict:
    """Median, its confidence interval (``spread``) and an honest verdict of repeated measurements of one figure.

    ``met`` when both ends of the median's interval meet the target, ``missed`` when neither does, ``noisy``
    when it straddles the target: the machine's noise is larger than the distance to the target, so no verdict
    is given. The interval is :func:`median_ci` (the targets are one-sided, so its ends decide).
    """
    values = [float(v) for v in values]
    lo, hi, coverage = median_ci(values)
    n_ok = int(bool(ok(lo))) + int(bool(ok(hi)))
    v = "met" if n_ok == 2 else ("missed" if n_ok == 0 else "noisy")
    med = statistics.median(values)
    return {"ratio": med, "median": med, "spread": [lo, hi], "coverage": coverage, "repeats": len(values),
            "values": values, "verdict": v, "met": {"met": True, "missed": False}.get(v)}


def median_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free interval for the median: the k-th smallest and k-th largest of n values, with k the
    largest for which ``P(Binomial(n, 1/2) < k) <= (1 - level) / 2``; its coverage is ``1 - 2 P(Bin(n, 1/2) < k)``.
    When no k >= 1 qualifies (n < 6 at 95 %), the min and max, with their coverage ``1 - 2^(1-n)``."""
    from scipy.stats import binom

    s = sorted(float(v) for v in values)
    n = len(s)
    k = 0
    while k + 1 <= n // 2 and binom.cdf(k, n, 0.5) <= (1 - level) / 2:
        k += 1
    k = max(k, 1)
    return s[k - 1], s[n - k], float(1 - 2 * binom.cdf(k - 1, n, 0.5))


def paired_times(fn_a: Callable[[], Any], fn_b: Callable[[], Any], repeats: int, warmup: int = 1):
    """Times of ``fn_a`` and ``fn_b``, alternated ``repeats`` times after a warm-up (drifts in machine load hit
    both alike); returns two lists of seconds."""
    for _ in range(warmup):
        fn_a(), fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        t = time.perf_counter(); fn_a(); ta.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); fn_b(); tb.append(time.perf_counter() - t)  # noqa: E702
    return ta, tb




class _SeedStyle(torch.utils.data.Dataset):
    """What the papers' seed code does per sample: read files, swap the background in numpy, PIL transforms."""

    def __init__(self, folder: Path, n: int, seed: int = 0):
        self.folder, self.n = folder, n
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        from PIL import Image

        img = np.load(self.folder / f"{i}_img.npy")
        msk = np.load(self.folder / f"{i}_mask.npy")
        j = int(np.random.randint(0, self.n - 1))
        j = j + 1 if j >= i else j
        dimg = np.load(self.folder / f"{j}_img.npy")
        dmsk = np.load(self.folder / f"{j}_mask.npy")
        bg = np.where(dmsk, 0, dimg)
        mixed = np.where(msk, img, bg)
        # the same augmentation as GeometricParams() (one draw per sample, shared by its frames): random
        # resized crop, horizontal flip, rotation, then brightness / contrast, as torchvision's PIL transforms do
        h, w = mixed.shape[1:]
        side = np.sqrt(np.random.uniform(0.85, 1.0))
        ch, cw = side * h, side * w
        y0, x0 = np.random.uniform(0, h - ch), np.random.uniform(0, w - cw)
        flip = np.random.rand() < 0.5
        angle = float(np.random.uniform(-20, 20))
        c, b = np.random.uniform(0.8, 1.2), np.random.uniform(-0.1, 0.1)
        frames = []
        for f in range(mixed.shape[0]):
            p = Image.fromarray(mixed[f]).resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
            if flip:
                p = p.transpose(Image.FLIP_LEFT_RIGHT)
            p = p.rotate(angle, resample=Image.BILINEAR)
            frames.append(np.asarray(p, dtype=np.float32) / 255.0)
        x = np.stack(frames)
        x = np.clip((x - x.mean()) * c + x.mean() + b, 0, 1)
        return torch.from_numpy(x), 0


def _bench_pipeline(s, device, repeats, tmp: Path) -> dict:
    from ..interventions.geometric import GeometricParams
    from ..data.phantoms import make_cmr
    from ..interventions.pipeline import BatchPipeline

    data = make_cmr("cm", s["n"], s["size"], seed=0)
    for i in range(len(data)):  # writing the seed-style files is set-up, not measured
        np.save(tmp / f"{i}_img.npy", data.images[i].numpy())
        np.save(tmp / f"{i}_mask.npy", data.masks[i].numpy())
    workers = min(os.cpu_count() or 1, 8)
    loader = torch.utils.data.DataLoader(_SeedStyle(tmp, len(data)), batch_size=s["batch"], shuffle=True,
                                         num_workers=workers, persistent_workers=workers > 0)

    def seed_epoch():
        for x, _ in loader:
            x.to(device)

    pipe = BatchPipeline(data, "rand", batch_size=s["batch"], geometric=GeometricParams(), seed=0, device=device)

    def ours():
        for b in pipe:
            _ = b.x
        if device.type == "cuda":
            torch.cuda.synchronize()

    # alternate the two (drifts in machine load hit both); ours is ~10x shorter, so each of its timings runs
    # several epochs and is divided by their number (a few ms alone is within the machine's jitter)
    seed_epoch(), ours()
    t = time.perf_counter(); ours(); one = time.perf_counter() - t  # noqa: E702
    k = max(1, min(50, int(0.05 / max(one, 1e-6))))
    ts, to = [], []
    for _ in range(max(repeats, 5)):
        t = time.perf_counter(); seed_epoch(); ts.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter()
        for _ in range(k):
            ours()
        to.append((time.perf_counter() - t) / k)
    t_seed, t_ours = statistics.median(ts), statistics.median(to)
    n = len(data)
    return {**verdict([a / b for a, b in zip(ts, to)], lambda r: r >= 10),
            "seed_style_samples_per_s": n / t_seed, "pipeline_samples_per_s": n / t_ours,
            "target": ">= 10", "workers": workers, "epochs_per_timing": k}


def _bench_fit_share(s, device, repeats) -> dict:
    from ..models import build_model
    from ..data.phantoms import make_cmr
    from ..train import TrainSettings, fit

    data = make_cmr("cm", s["n"], s["size"], seed=0)
    settings = TrainSettings(epochs=1, batch_size=s["batch"], select_metric="last", device=device.type,
                             threads=torch.get_num_threads())
    steps = len(data) // s["batch"]
    model = build_model("sl_cnn", data.num_classes, data.num_frames).to(device)
    x = torch.rand(s["batch"], data.num_frames, s["size"], s["size"], device=device)
    y = torch.randint(0, data.num_classes, (s["batch"],), device=device)
    amp = device.type == "cuda"
    pure = _pure_steps(model, x, y, steps, device)

    def full(m):
        fit(m, data, None, condition="rand", settings=settings, seed=0, progress=False)
        if amp:
            torch.cuda.synchronize()

    from ..interventions.pipeline import BatchPipeline
    pipe = BatchPipeline(data.to(device), "rand", batch_size=s["batch"], geometric=settings.geometric, seed=0,
                         device=device, drop_last=True)

    def batches():  # what fit's pipeline does in an epoch, without the model
        for b in pipe:
            _ = b.x
        if amp:
            torch.cuda.synchronize()

    # models are built outside the timed region (an epoch of fit, not model construction);
    # alternate the two so drifts in machine load hit both
    models = [build_model("sl_cnn", data.num_classes, data.num_frames) for _ in range(repeats + 1)]
    tp, tf, tb = [], [], []
    pure(), full(models[-1]), batches()
    for i in range(repeats):
        t = time.perf_counter(); pure(); tp.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); full(models[i]); tf.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); batches(); tb.append(time.perf_counter() - t)  # noqa: E702
    t_pure, t_fit, t_pipe = statistics.median(tp), statistics.median(tf), statistics.median(tb)
    target = 1.05 if device.type == "cpu" else 1.10
    return {**verdict([f / p for f, p in zip(tf, tp)], lambda r: r <= target),
            "fit_epoch_s": t_fit, "pure_compute_s": t_pure, "pipeline_s": t_pipe,
            "pipeline_share": t_pipe / (t_pipe + t_pure),
            "pipeline_shares": [b / (b + p) for b, p in zip(tb, tp)], "target": f"<= {target}", "steps": steps,
            "note": "fit includes the pipeline (rand intervention, geometric and intensity augmentation), the optimizer "
                    "set-up and moving the data to the device; model construction is outside the timing"}


def _bench_saliency(s, device, repeats) -> dict:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from ..metrics import overlap_metrics
    from ..models import build_model, target_layer
    from ..data.phantoms import make_cmr
    from ..saliency.cams import compute_cams

    data = make_cmr("cm", min(s["n"], 256), s["size"], seed=0)
    model = build_model("sl_cnn", data.num_classes, data.num_frames).eval()
    x = data.float_images()
    targets = (torch.arange(len(data)) % data.num_classes).tolist()
    bs = s["batch"]

    passes = s.get("saliency_passes", 1)  # each timed call long enough (~1 s) that a scheduler hiccup is small

    def raw():
        for _ in range(passes):
            with GradCAM(model=model, target_layers=[target_layer(model)]) as cam:
                for i in range(0, len(x), bs):
                    cam(input_tensor=x[i:i + bs], targets=[ClassifierOutputTarget(c) for c in targets[i:i + bs]])

    def ours():
        for _ in range(passes):
            cams = compute_cams(model, x, targets=targets, batch_size=bs)
            overlap_metrics(cams, data.masks)

    traw, tours = paired_times(raw, ours, repeats)
    return {**verdict([o / r for o, r in zip(tours, traw)], lambda r: r <= 1.2),
            "gradcam_alone_s": statistics.median(traw), "maps_plus_metrics_s": statistics.median(tours),
            "target": "<= 1.2", "images": len(data), "passes": passes}


def _bench_audit(s, device, repeats) -> dict:
    """One audit (its defaults: every counterfactual, CAMs on 200 images, sanity on 32) of ``audit_n`` test
    images at 64 px against a plain GradCAM pass over the same images (target: at most 3x); and audit images/s
    at 112 and 224 px."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from ..auditing import audit
    from ..data.phantoms import make_cmr
    from ..models import build_model, target_layer

    n = s.get("audit_n", 500)
    data = make_cmr("cm", n, 64, seed=0)
    torch.manual_seed(0)
    model = build_model("sl_cnn", data.num_classes, data.num_frames).to(device).eval()
    x = data.float_images().to(device)
    targets = (torch.arange(n) % data.num_classes).tolist()
    bs = s["batch"]

    def plain():
        with GradCAM(model=model, target_layers=[target_layer(model)]) as cam:
            for i in range(0, n, bs):
                cam(input_tensor=x[i:i + bs], targets=[ClassifierOutputTarget(c) for c in targets[i:i + bs]])

    parts: list[dict] = []

    def full_audit():
        info = audit(model, data, n_boot=1000).info
        parts.append({k: info[k] for k in ("counterfactuals_s", "cams_s", "sanity_s")})

    tp, ta = paired_times(plain, full_audit, repeats)
    out = {**verdict([a / p for a, p in zip(ta, tp)], lambda r: r <= 3.0), "gradcam_s": statistics.median(tp),
           "audit_s": statistics.median(ta), "target": "<= 3", "images": n,
           "parts_s": {k: statistics.median(p[k] for p in parts) for k in parts[0]}}
    for size in (112, 224):
        m = s.get("audit_rate_n", 200)  # as many as the CAMs' default subset: the sanity check's fixed cost amortized
        d = make_cmr("cm", m, size, seed=1)
        times = []
        for _ in range(max(1, repeats // 3)):
            t = time.perf_counter()
            audit(model, d, n_boot=1000)
            times.append(time.perf_counter() - t)
        out[f"images_per_s_{size}"] = m / statistics.median(times)
    return out


def _bench_discover(s, device, repeats) -> dict:
    """Discovery (:func:`~shortcutlab.auditing.discover`, its defaults) against an audit (its defaults) of the same
    ``audit_n`` test images at 64 px with the same model, alternated (target: at most 2x). The model is untrained, as
    the audit's figure's is; a discovery's cost grows with the clusters it tests, so the figure says how many it
    tested and how many images it ran through the model."""
    from ..auditing import audit, discover
    from ..data.phantoms import make_cmr
    from ..models import build_model

    n = s.get("audit_n", 500)
    data = make_cmr("cm", n, 64, seed=0)
    torch.manual_seed(0)
    model = build_model("sl_cnn", data.num_classes, data.num_frames).to(device).eval()
    seen: list[dict] = []

    def run_discover():
        info = discover(model, data, n_boot=1000).info
        seen.append({k: info[k] for k in ("predict_s", "cams_s", "cluster_s", "test_s", "regions_tested",
                                          "forward_images")})

    ta, td = paired_times(lambda: audit(model, data, n_boot=1000), run_discover, repeats)
    out = {**verdict([d / a for a, d in zip(ta, td)], lambda r: r <= 2.0), "audit_s": statistics.median(ta),
           "discover_s": statistics.median(td), "target": "<= 2", "images": n}
    out["parts_s"] = {k: statistics.median(p[k] for p in seen) for k in ("predict_s", "cams_s", "cluster_s", "test_s")}
    out["regions_tested"], out["forward_images"] = seen[-1]["regions_tested"], seen[-1]["forward_images"]
    return out


def _bench_generation(s, repeats) -> dict:
    from ..data.phantoms import make_cmr, make_echo

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n = s["gen_n"]
        t_mri, t_echo = paired_times(lambda: make_cmr("cm", n, 128, seed=0), lambda: make_echo("id", n, 112, seed=0),
                                     repeats)
    finally:
        torch.set_num_threads(threads)
    vm = verdict([n / t for t in t_mri], lambda r: r >= 2000)
    ve = verdict([n / t for t in t_echo], lambda r: r >= 2000)
    both = "met" if vm["verdict"] == ve["verdict"] == "met" else (
        "missed" if "missed" in (vm["verdict"], ve["verdict"]) else "noisy")
    return {"mri_128_images_per_s_per_core": vm["median"], "echo_112_images_per_s_per_core": ve["median"],
            "mri_spread": vm["spread"], "echo_spread": ve["spread"], "target": ">= 2000", "verdict": both,
            "met": {"met": True, "missed": False}.get(both)}


# The papers' two models at their sizes and batch (bench section 6, on by default with --device cuda):
# DenseNet121 on the two MRI frames at 128 px (Nakashima et al.), ResNet18 at 112 px (Bransby et al.).
PAPER_MODELS = {
    "mri": dict(label="DenseNet121, 2 frames, {size} px", model="densenet121", modality="mri", size=128,
                condition="rand"),
    "echo": dict(label="ResNet18, {size} px", model="resnet18", modality="echo", size=112, condition="backmix"),
}
PAPER_SIZES = {"cuda": dict(n=2048, batch=64, repeats=5, cam_n=256, pretrain_n=1024),
               "cpu": dict(n=32, batch=8, repeats=2, cam_n=8, pretrain_n=32)}


def _sync(dev) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _pure_steps(model, x, y, steps: int, dev, opt=None) -> Callable[[], None]:
    """``steps`` training steps of ``model`` on the resident batch ``x, y``, as ``fit`` makes them (Adam; on a
    GPU bf16 autocast and channels_last), with nothing else: the ceiling a training epoch can reach."""
    from ..train import soft_cross_entropy

    amp = dev.type == "cuda"
    if amp:
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = opt or torch.optim.Adam(model.parameters(), lr=1e-3)

    def pure():
        model.train()
        for _ in range(steps):
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
                loss = soft_cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(dev)

    return pure


def _paper_data(modality: str, n: int, size: int):
    from ..data.phantoms import make_cmr, make_echo

    return make_cmr("cm", n, size, seed=0) if modality == "mri" else make_echo("id", n, size, seed=0)


def _bench_paper_model(key: str, dev, n: int, batch: int, repeats: int, cam_n: int, size: int | None = None) -> dict:
    """(a) pure training steps of the model on resident random data (bf16 autocast and channels_last on a GPU):
    the ceiling; (b) the package's batch pipeline alone, with the paper preset's augmentation and the
    condition's intervention; (c) a steady epoch of ``fit`` (epochs 2.. of one call, timed between the epoch
    ends ``on_epoch`` reports). Also evaluation (``predict``) and GradCAM throughput, for the study estimate."""
    from ..config import load_preset
    from ..interventions.pipeline import BatchPipeline
    from ..models import build_model
    from ..saliency.cams import compute_cams
    from ..train import TrainSettings, fit, predict

    m = PAPER_MODELS[key]
    size = size or m["size"]
    data = _paper_data(m["modality"], n, size)
    cfg = load_preset("paper")
    settings = TrainSettings.from_config(cfg, m["modality"], epochs=repeats + 1, batch_size=batch,
                                         select_metric="last", device=dev.type)
    steps = n // batch
    amp = dev.type == "cuda"
    torch.manual_seed(0)

    def model_on_device():
        mod = build_model(m["model"], data.num_classes, data.num_frames)
        if amp:
            torch.backends.cudnn.benchmark = True
            mod = mod.to(memory_format=torch.channels_last)
        return mod.to(dev)

    x = torch.rand(batch, data.num_frames, size, size, device=dev)
    y = torch.randint(0, data.num_classes, (batch,), device=dev)
    pure = _pure_steps(model_on_device(), x, y, steps, dev)

    pipe = BatchPipeline(data.to(dev), m["condition"], batch_size=batch, geometric=settings.geometric, f=settings.f,
                         seed=0, device=dev, drop_last=True)

    def batches():
        for b in pipe:
            _ = b.x
        _sync(dev)

    pure(), batches()  # warm-up (cudnn picks its kernels)
    ta, tb = paired_times(pure, batches, repeats, warmup=0)
    ends = []

    def mark(epoch, row):  # on_epoch runs after the epoch's loss is read: the GPU has finished the epoch
        ends.append(time.perf_counter())

    t0 = time.perf_counter()
    fit(model_on_device(), data, None, condition=m["condition"], settings=settings, seed=0, progress=False,
        on_epoch=mark)
    first = ends[0] - t0
    tc = [b - a for a, b in zip(ends, ends[1:])]  # steady epochs (the first carries set-up and kernel choice)
    eval_model = model_on_device().eval()
    predict(eval_model, data, condition="full", batch_size=256, device=dev)
    t = time.perf_counter(); predict(eval_model, data, condition="full", batch_size=256, device=dev); _sync(dev)  # noqa: E702
    t_eval = time.perf_counter() - t
    sub = data.float_images()[:cam_n]
    targets = data.labels[:cam_n].numpy()
    compute_cams(eval_model, sub[:min(cam_n, batch)], targets=targets[:min(cam_n, batch)], batch_size=batch)
    t = time.perf_counter(); compute_cams(eval_model, sub, targets=targets, batch_size=batch); _sync(dev)  # noqa: E702
    t_cam = time.perf_counter() - t
    samples = steps * batch
    a, b_, c = statistics.median(ta), statistics.median(tb), statistics.median(tc)
    ratio = verdict([ci / ai for ai, ci in zip(ta, tc)], lambda r: r <= 1.15)
    share = verdict([bi / ci for bi, ci in zip(tb, tc)], lambda r: r <= 0.10)
    return {"label": m["label"].format(size=size), "model": m["model"], "size": size, "frames": data.num_frames, "batch": batch,
            "samples_per_epoch": samples, "condition": m["condition"],
            "a_pure_samples_per_s": samples / a, "b_pipeline_samples_per_s": samples / b_,
            "c_fit_samples_per_s": samples / c, "c_first_epoch_s": first,
            "a_s": ta, "b_s": tb, "c_s": tc,
            "c_over_a": {**ratio, "target": "<= 1.15"}, "pipeline_share_of_c": {**share, "target": "<= 0.10"},
            "eval_samples_per_s": n / t_eval, "cam_samples_per_s": cam_n / t_cam,
            "images_per_sample": data.num_frames}


def _bench_pretrain(dev, n: int, size: int | None = None, epochs: int = 3) -> dict:
    """Contrastive pretraining of the paper's MRI encoder (DenseNet121 at 128 px) with the paper preset's
    batch: samples/s of each method over steady epochs (each frame is an image; two views per image)."""
    from ..config import load_preset
    from ..models import build_model
    from ..ssl.contrastive import METHODS, ContrastiveSettings, pretrain

    size = size or PAPER_MODELS["mri"]["size"]
    data = _paper_data("mri", n, size)
    cfg = load_preset("paper")
    out = {}
    for method in METHODS:
        s = ContrastiveSettings.from_config(cfg, epochs=epochs, device=dev.type,
                                            batch_size=min(cfg.contrastive.batch_size, n * data.num_frames // 2),
                                            queue_size=min(cfg.contrastive.queue_size, n * data.num_frames // 4))
        enc = build_model("densenet121", data.num_classes, data.num_frames).encoder
        ends = []
        pretrain(method, data, enc, settings=s, seed=0, progress=False, on_epoch=lambda e, r: ends.append(time.perf_counter()))
        steps = (n * data.num_frames) // s.batch_size
        tc = [b - a for a, b in zip(ends, ends[1:])]
        out[method] = {"images_per_s": steps * s.batch_size / statistics.median(tc), "epoch_s": tc,
                       "batch_size": s.batch_size, "images_per_epoch": steps * s.batch_size}
    return out


def _bench_anchor(dev, repeats: int) -> dict:
    """timm's published anchor, measured here: ResNet18 at 224 px, 3 channels, batch 256, bf16 autocast,
    channels_last (timm reports ~3,500 img/s on an RTX 3090 with AMP)."""
    import timm

    model = timm.create_model("resnet18", num_classes=1000).to(dev)
    x = torch.rand(256, 3, 224, 224, device=dev)
    y = torch.randint(0, 1000, (256,), device=dev)
    steps = 10
    run = _pure_steps(model, x, y, steps, dev, opt=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))

    run()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); run(); ts.append(time.perf_counter() - t)  # noqa: E702
    return {"images_per_s": steps * 256 / statistics.median(ts), "s": ts, "published": 3500,
            "published_card": "RTX 3090 (timm, AMP, channels_last)"}


def run_paper_models(device: str = "cuda", *, sizes: dict | None = None, tiny: bool = False,
                     models: tuple[str, ...] = ("mri", "echo"), pretraining: bool = True) -> dict:
    """Section 6 of the bench: the papers' models at their sizes (``tiny``: 32 px and no anchor, for a CPU check)."""
    dev = torch.device(device)
    s = dict(sizes or PAPER_SIZES["cuda" if dev.type == "cuda" else "cpu"])
    size = {"mri": 32, "echo": 32} if tiny else {}
    out = {"sizes": s, "models": {}}
    for key in models:
        out["models"][key] = _bench_paper_model(key, dev, s["n"], s["batch"], s["repeats"], s["cam_n"],
                                                size=size.get(key))
    if pretraining:
        out["pretrain"] = _bench_pretrain(dev, s["pretrain_n"], size=size.get("mri"))
    if not tiny:
        out["anchor_resnet18_224"] = _bench_anchor(dev, s["repeats"])
    return out


def paper_model_lines(res: dict) -> list[str]:
    """The section's table: images/s of (a), (b), (c), (c)/(a) and the pipeline's share of (c)."""
    lines = [f"  paper models (batch {res['sizes']['batch']}; samples/s; a: pure model step, b: pipeline alone, "
             f"c: fit epoch)"]
    for r in res["models"].values():
        ca, sh = r["c_over_a"], r["pipeline_share_of_c"]
        lines.append(f"    {r['label']:<32} a {r['a_pure_samples_per_s']:>8.0f}  b {r['b_pipeline_samples_per_s']:>9.0f}  "
                     f"c {r['c_fit_samples_per_s']:>8.0f}  c/a {ca['median']:.3f} [{ca['spread'][0]:.3f}, "
                     f"{ca['spread'][1]:.3f}] (<= 1.15 {ca['verdict']})  b/c {sh['median']:.1%} (<= 10% {sh['verdict']})")
    for method, r in res.get("pretrain", {}).items():
        lines.append(f"    pretrain {method:<8} DenseNet121 {r['images_per_s']:>8.0f} images/s (batch {r['batch_size']})")
    a = res.get("anchor_resnet18_224")
    if a:
        lines.append(f"    anchor: ResNet18 224 px batch 256 {a['images_per_s']:.0f} img/s here vs ~{a['published']} on "
                     f"an {a['published_card']}")
    return lines


def _share_row(r: dict) -> dict:
    """The pipeline's share of a training step: its batches alone vs the same steps of pure compute."""
    return {**verdict(r["pipeline_shares"], lambda v: v <= 0.05), "pipeline_s": r["pipeline_s"],
            "step_s": r["pipeline_s"] + r["pure_compute_s"], "target": "<= 0.05"}


def _study_times(preset: str) -> dict:
    from .._paths import REPORTS_DIR

    p = REPORTS_DIR / preset / "summary.json"
    if not p.exists():
        return {"available": False, "note": f"run `shortcutlab run --preset {preset}` first"}
    s = json.loads(p.read_text())
    per = {e["notebook"]: e["duration_s"] for e in s["notebooks"]}
    total = sum(per.values())
    budget = {"smoke": 300, "default": 1800, "paper": 3600}.get(preset)
    return {"available": True, "per_notebook_s": per, "total_s": total, "budget_s": budget,
            "met": None if budget is None else total <= budget}


def run_bench(preset: str = "smoke", device: str = "cpu", out: str | Path | None = None, size: str | None = None,
              paper_models: bool | None = None) -> dict:
    """Run every benchmark and return ``{"table": [...], "text": str, ...}``; write JSON to ``out``.

    ``paper_models`` (default: on with ``device="cuda"``) adds section 6, the papers' two models at their sizes:
    a pure training step, the pipeline alone, a ``fit`` epoch, their ratios, and pretraining throughput."""
    from .._alloc import allocator_state
    from .._validation import check_choice

    check_choice(preset, ("smoke", "default", "paper"), name="preset", where="run_bench")
    check_choice(device, ("cpu", "cuda"), name="device", where="run_bench")
    s = SIZES[size or preset]
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from .._validation import param_error
        raise param_error("device", "bench", "'cpu' (no CUDA GPU is available here)", device)
    res: dict[str, Any] = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                       "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                                       "gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else None,
                                       **allocator_state()},
                           "preset": preset, "device": device, "sizes": s}
    from .results import machine_info

    res["machine"]["cpu"] = machine_info()["cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        res["pipeline_vs_seed_style"] = _bench_pipeline(s, dev, s.get("pipeline_repeats", s["repeats"]), Path(tmp))
    res["fit_vs_pure_compute"] = _bench_fit_share(s, dev, s["repeats"])
    # the saliency and pipeline figures sit ~10 % from their targets: more repeats narrow their medians' intervals
    # (15 repeats: the 4th to the 12th value)
    res["saliency_overhead"] = _bench_saliency(s, dev, s.get("saliency_repeats", s["repeats"]))
    res["audit_vs_gradcam"] = _bench_audit(s, dev, s.get("audit_repeats", s["repeats"]))
    res["discover_vs_audit"] = _bench_discover(s, dev, s.get("audit_repeats", s["repeats"]))
    res["pipeline_share_of_step"] = _share_row(res["fit_vs_pure_compute"])
    res["phantom_generation"] = _bench_generation(s, s["repeats"])
    res["study_wall_time"] = _study_times(preset)
    if paper_models if paper_models is not None else dev.type == "cuda":
        res["paper_models"] = run_paper_models(device)
    table = []
    for key, label, raw in (("pipeline_vs_seed_style", "pipeline vs seed-style (x faster)", ("pipeline_samples_per_s", "seed_style_samples_per_s")),
                            ("pipeline_share_of_step", "pipeline share of a training step", ("pipeline_s", "step_s")),
                            ("fit_vs_pure_compute", "fit epoch / pure compute", ("fit_epoch_s", "pure_compute_s")),
                            ("saliency_overhead", "maps+metrics / GradCAM alone", ("maps_plus_metrics_s", "gradcam_alone_s")),
                            ("audit_vs_gradcam", "audit / GradCAM pass (500 images, 64 px)", ("audit_s", "gradcam_s")),
                            ("discover_vs_audit", "discover / audit (500 images, 64 px)", ("discover_s", "audit_s"))):
        r = res[key]
        table.append({"figure": label, "ratio": round(r["ratio"], 3),
                      "spread": [round(v, 3) for v in r["spread"]], "repeats": r["repeats"], "target": r["target"],
                      "verdict": r["verdict"], "met": r["met"], "a": round(r[raw[0]], 4), "b": round(r[raw[1]], 4),
                      "a_b": f"{raw[0]} / {raw[1]}"})
    a = res["audit_vs_gradcam"]
    table[-2]["figure"] = f"audit / GradCAM pass ({a['images']} images, 64 px)"
    table[-1]["figure"] = f"discover / audit ({res['discover_vs_audit']['images']} images, 64 px)"
    table.append({"figure": "audit images/s (112 / 224 px)",
                  "ratio": f"{a['images_per_s_112']:.0f} / {a['images_per_s_224']:.0f}", "target": "reported",
                  "met": None, "verdict": "reported"})
    g = res["phantom_generation"]
    table.append({"figure": "phantom images/s/core (MRI 128 / echo 112)",
                  "ratio": f"{g['mri_128_images_per_s_per_core']:.0f} / {g['echo_112_images_per_s_per_core']:.0f}",
                  "spread": [[round(v) for v in g["mri_spread"]], [round(v) for v in g["echo_spread"]]],
                  "repeats": s["repeats"], "target": g["target"], "verdict": g["verdict"], "met": g["met"]})
    st = res["study_wall_time"]
    if st.get("available"):
        table.append({"figure": f"study wall time ({preset})", "ratio": f"{st['total_s']:.0f} s", "target": f"<= {st['budget_s']} s",
                      "met": st["met"]})
    res["table"] = table
    card = f" · {res['machine']['gpu']}" if res["machine"]["gpu"] else ""
    lines = [f"shortcutlab bench · preset {preset} · {device}{card} · {res['machine']['cpu']} · {res['machine']['cores']} cores",
             f"  allocator: {res['machine']['allocator']}"]
    noisy = []
    for row in table:
        v = row.get("verdict")
        flag = {"met": "ok", "missed": "MISSED", "noisy": "NOISY (spread straddles the target: no verdict)"}.get(
            v, "ok" if row["met"] else ("MISSED" if row["met"] is False else ""))
        spread = row.get("spread")
        sp = "" if spread is None else f" [{spread[0]}, {spread[1]}]" if not isinstance(spread[0], list) else \
            f" [{spread[0][0]}-{spread[0][1]} / {spread[1][0]}-{spread[1][1]}]"
        lines.append(f"  {row['figure']:<45} {str(row['ratio']):>12}{sp:<24} target {row['target']:<8} {flag}")
        if v == "noisy":
            noisy.append(row["figure"])
    if "paper_models" in res:
        lines.extend(paper_model_lines(res["paper_models"]))
    lines.append(f"  median of {s['repeats']} alternated repeats [a distribution-free CI of the median: min, max below 6 repeats]; "
                 f"CPU: {res['machine']['cpu']}")
    if noisy:
        import warnings
        warnings.warn(f"shortcutlab bench: the spread of {', '.join(noisy)} straddles its target on this machine "
                      f"now; run again on an idle machine or with more repeats before judging it.", stacklevel=2)
    res["text"] = "\n".join(lines)
    if out:
        from .._io import atomic_json
        atomic_json(out, res)
    return res
