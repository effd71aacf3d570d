"""The audit's battery: does a classifier read the background? Asked of any model on any masked test set.

Each image's object (its mask) is kept and its background replaced, after Xiao et al. 2020's backgrounds
challenge; every donor comes from the same test set, drawn by a seeded generator in a fixed order
(:func:`draw_donors`), so every counterfactual can be replayed:

* ``only_fg``: the object on a blank background (``fill``); ``no_fg``: the background with the object blanked;
* ``mixed_same``: the object on the background of another image of its class;
* ``mixed_rand``: on the background of a random other image; ``mixed_next``: on the background of an image of
  the next class (class ``(c + 1) mod K``, among the classes present);
* ``worst of k``: ``mixed_rand`` and ``k - 1`` further random backgrounds; an image counts as right only if it is
  right on every one;
* ``site``: when a second set is given (an echo device's sectors from another site), a random one of its
  backgrounds.

A donor's own object is blanked before the swap (BackMix's rule), so no second object enters the image.

The tests, each with a bootstrap CI over images and a verdict from it (the study's vocabulary:
``holds`` / ``contradicted`` / ``equivalent`` within a stated margin / ``inconclusive``):

* **follows the donor**: P(prediction = the donor's class | ``mixed_next``) − P(prediction = that class | the
  original), per image; > 0 means the background moves the prediction toward its own class;
* **BG-gap**: accuracy(``mixed_same``) − accuracy(``mixed_rand``), per image;
* **background alone**: accuracy(``no_fg``) − the majority class's share; > 0 means the background alone
  classifies;
* **on the object**: the CAM's AKS normalized between its floor (a uniform map) and its ceiling (the mask at the
  CAM's resolution), > 0 means the map is on the object more than a map that knows nothing;
* **sanity**: after re-drawing the model's blocks at random from the top down (Adebayo et al. 2018's cascading
  randomization; each parameter from a normal at its own mean and scale) the maps' Spearman correlation with the
  originals must fall below ``sanity_threshold``; and maps for a shuffled target class must differ from the
  predicted class's (below ``target_threshold``). A constant map carries no information: a constant original
  cannot pass (counted as unchanged), a constant map after the change shares no ranking with it (ρ = 0);
  :func:`~shortcutlab.saliency.cams.map_correlation`.

Each test is one record of :data:`~shortcutlab.auditing.tests.AUDIT_TESTS`; the donor draw and the sanity check
are the study's own (:mod:`shortcutlab.saliency.cams`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .._validation import ShortcutlabError, check_int, check_number, param_error
from ..data.imageset import ImageSet
from ..metrics import auc, normalized_overlap, overlap_bounds, overlap_metrics, summarize, verdict
from ..saliency.cams import (cascading_randomization, compute_cams, draw_donors, map_correlation,
                             mix_backgrounds)
from .model import Preprocess, Prepared, find_target_layer, inference_copy
from .tests import AUDIT_TESTS, TEST_NAMES, Context

__all__ = ["audit", "AuditResult", "draw_donors", "counterfactual_images", "VARIANTS", "TESTS", "OVERALL_CODES",
           "overall_code"]

VARIANTS = ("original", "only_fg", "no_fg", "mixed_same", "mixed_rand", "mixed_next")
TESTS = TEST_NAMES


def counterfactual_images(x: torch.Tensor, m: torch.Tensor, variant: str, donor: np.ndarray | None = None, *,
                          fill: float = 0.0, donor_images: torch.Tensor | None = None,
                          donor_masks: torch.Tensor | None = None) -> torch.Tensor:
    """The images of one counterfactual (``x`` floats ``[N, F, H, W]``, ``m`` bool masks of that shape)."""
    if variant == "original":
        return x
    if variant == "only_fg":
        return torch.where(m, x, torch.full_like(x, fill))
    if variant == "no_fg":
        return torch.where(m, torch.full_like(x, fill), x)
    if donor is None:
        raise param_error("donor", "counterfactual_images", f"donor indices for {variant!r}", donor)
    d = torch.as_tensor(donor)
    dx = (x if donor_images is None else donor_images)[d]
    dm = (m if donor_masks is None else donor_masks)[d]
    return mix_backgrounds(x, m, dx, dm, fill)


@torch.inference_mode()
def _predict(model: nn.Module, x: torch.Tensor, batch_size: int) -> np.ndarray:
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    out = [torch.softmax(model(x[i:i + batch_size].to(dev)).float(), 1).cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out).numpy()


def _ci(values, *, n_boot: int, ci: float, seed: int) -> dict:
    s = summarize(np.asarray(values, dtype=float), n_boot=n_boot, ci=ci, seed=seed)
    return {"effect": s["mean"], "lo": s["lo"], "hi": s["hi"], "n": s["n"]}


def _verdict(lo: float, hi: float, margin: float) -> str:
    """The project's verdict (:func:`~shortcutlab.metrics.verdict`) on the test's interval: a direction, and where it
    is undecided and the test has a margin, equivalence within ±margin read on the same interval (two one-sided
    tests, each at 0.025: one bar for the favourable and the unfavourable answer)."""
    v = verdict(lo, hi, test="greater")
    if v != "inconclusive" or margin <= 0:
        return v
    return verdict(lo, hi, test="equivalent", delta=margin)


@dataclass
class AuditResult:
    """What :func:`audit` found. ``summary`` is the one-paragraph answer; ``tests`` has one row per test (effect,
    CI, verdict, a one-line reading); ``counterfactuals`` the accuracy under each background; ``localisation``
    the overlap metrics per class beside their floor and ceiling; ``sanity`` the cascading randomization's
    steps. ``cases`` are the images whose prediction follows the donor's background, surest first."""

    name: str
    summary: str
    overall: str
    tests: Any
    counterfactuals: Any
    localisation: Any
    sanity: Any
    cases: np.ndarray
    info: dict
    arrays: dict = field(default_factory=dict, repr=False)
    data: ImageSet | None = field(default=None, repr=False)

    def case(self, i: int) -> dict:
        """Image ``i`` as the audit saw it: ``original`` and ``mixed_next`` (floats ``[F, H, W]``), its ``mask``,
        the true, predicted and donor classes with probabilities, and its ``cam`` (None if it had none)."""
        y, probs = self.arrays["labels"], self.arrays["probs"]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < len(y):
            raise param_error("i", "AuditResult.case", f"an image index in [0, {len(y) - 1}]", i)
        if self.data is None or "mixed_next" not in probs:
            raise ShortcutlabError("AuditResult.case needs the audited data and its mixed-next counterfactual.")
        i = int(i)
        masks = self.arrays["masks"]
        x, m = self.data.float_images(torch.tensor([i])), masks[[i]]
        donor = int(self.arrays["donors"]["mixed_next"][i])
        dx, dm = self.data.float_images(torch.tensor([donor])), masks[[donor]]
        mixed = mix_backgrounds(x, m, dx, dm, self.info.get("fill", 0.0))
        names = self.info["classes"]
        p0, p1 = probs["original"][i], probs["mixed_next"][i]
        where = np.flatnonzero(self.arrays["cam_index"] == i)
        cams = self.arrays.get("cams")
        return {"original": x[0].numpy(), "mixed_next": mixed[0].numpy(), "mask": m[0].numpy(),
                "true": names[int(y[i])], "pred": names[int(p0.argmax())], "p_pred": float(p0.max()),
                "pred_mixed": names[int(p1.argmax())], "p_mixed": float(p1.max()), "donor_class": names[int(y[donor])],
                "cam": None if cams is None or not where.size else cams[int(where[0])]}

    def verdict(self, test: str) -> str:
        if test not in TESTS:
            raise param_error("test", "AuditResult.verdict", f"one of {', '.join(map(repr, TESTS))}", test)
        return str(self.tests.loc[test, "verdict"])

    @property
    def overall_code(self) -> str:
        """The overall answer as a stable code (:data:`OVERALL_CODES`), for CI: ``reads-background``, ``clean``,
        ``inconclusive`` or ``one-class``."""
        return overall_code(self.overall)

    @property
    def sanity_ok(self) -> bool:
        """False when the maps fail the sanity check (their overlap is then no evidence)."""
        return "fail the sanity check" not in self.overall

    def record(self) -> dict:
        """Plain values for a report: the overall answer and its code, the class order, and each test's effect, CI,
        verdict and stable verdict code."""
        out: dict[str, Any] = {"overall": self.overall, "overall_code": self.overall_code,
                               "sanity_ok": self.sanity_ok, "classes": list(self.info.get("classes", [])),
                               "head": self.info.get("head", "")}
        for t, row in self.tests.iterrows():
            out[t] = {k: (float(row[k]) if k in ("effect", "lo", "hi") else str(row[k])) for k in
                      ("effect", "lo", "hi", "verdict")}
            out[t]["verdict_code"] = str(row["verdict"]).replace(" ", "-")
        return out

    def _repr_html_(self) -> str:
        import html

        return (f"<p><b>{html.escape(self.name)}</b>: {html.escape(self.summary)}</p>"
                + self.tests[["test", "effect", "lo", "hi", "verdict", "reading"]].to_html(float_format="%.3f"))


def audit(model: nn.Module, data: ImageSet, *, preprocess: Preprocess | Mapping[str, Any] | None = None,
          target_layer: str = "", conditions: Sequence[str] = VARIANTS, masks: torch.Tensor | None = None,
          site: ImageSet | None = None, k: int = 3, method: str = "gradcam", max_cam_images: int = 200,
          sanity_images: int = 32, sanity_threshold: float = 0.5, target_threshold: float = 0.9,
          margin: float = 0.02, fill: float = 0.0, n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
          batch_size: int = 256, name: str = "model", cams: bool = True,
          reading: Sequence[str] | None = None) -> AuditResult:
    """Audit ``model`` on the masked test set ``data``: does it read the background? (See the module docstring;
    the tests are the records of :data:`~shortcutlab.auditing.tests.AUDIT_TESTS`.)

    Parameters
    ----------
    model : nn.Module
        Any classifier (from :func:`~shortcutlab.auditing.load_model`, timm, torchvision, the study); ``preprocess``
        turns the data's images into its input. Every tensor goes to the model's device.
    data : ImageSet
        Test images with a mask for every image (``masks`` replaces them: bool, the images' shape). Its class order
        is the model's output order (index 0 first); the audit checks the count.
    target_layer : str
        The CAM layer's dotted name; empty: found for the common families (:func:`find_target_layer`).
    conditions : sequence of str
        The counterfactuals to run, among :data:`VARIANTS` (``original`` is always run).
    site : ImageSet, optional
        Backgrounds from another site (same frames and size, masks for every image).
    k : int
        Backgrounds per image for the worst-background accuracy.
    cams : bool
        False skips the CAM tests (a TorchScript model runs no hooks; then they say so).
    reading : sequence of str
        How the images were read, in words (:func:`~shortcutlab.auditing.entry.input_steps`; default: the set as
        given); the model's preprocessing and head are added, and the whole is ``info['pipeline']``.
    """
    import pandas as pd

    t0 = time.perf_counter()
    pre = Preprocess.from_spec(preprocess)
    for v in conditions:
        if v not in VARIANTS:
            raise param_error("conditions", "audit", f"names among {', '.join(map(repr, VARIANTS))}", v)
    check_int(k, name="k", where="audit", lo=1, hi=100)
    check_int(batch_size, name="batch_size", where="audit", lo=1)
    check_int(max_cam_images, name="max_cam_images", where="audit", lo=1)
    check_int(sanity_images, name="sanity_images", where="audit", lo=2)
    check_number(margin, name="margin", where="audit", lo=0, hi=1)
    check_number(sanity_threshold, name="sanity_threshold", where="audit", lo=-1, hi=1)
    check_number(target_threshold, name="target_threshold", where="audit", lo=-1, hi=1)
    if not isinstance(data, ImageSet):
        raise param_error("data", "audit", "an ImageSet (sl.load_manifest, sl.load_folder, a study's split)",
                          type(data).__name__)
    x = data.float_images()
    if masks is not None:
        masks = torch.as_tensor(masks)
        if masks.ndim == 3 and x.shape[1] == 1:
            masks = masks[:, None]
        if tuple(masks.shape) != tuple(x.shape):
            raise param_error("masks", "audit", f"bool masks of the images' shape {tuple(x.shape)}",
                              f"shape {tuple(masks.shape)}")
        m = masks.bool()
    else:
        if data.masks is None or not bool(data.has_mask.all()):
            have = 0 if data.masks is None else int(data.has_mask.sum())
            raise ShortcutlabError(f"The 'data' parameter of audit must have a mask for every image: the counterfactual "
                                   f"backgrounds keep each image's object. {data.name!r} has {have} of {len(data)}.")
        m = data.masks.bool()
    if len(data) < 4:
        raise param_error("data", "audit", "at least 4 masked images", f"{len(data)} images")
    y = data.labels.numpy().astype(np.int64)
    if np.unique(y).size < 2:
        raise param_error("data", "audit", "images of at least two classes", f"only class {data.class_names[y[0]]!r}")
    prepared = model if isinstance(model, Prepared) else Prepared(model, pre, frames=x.shape[1])
    prepared.eval()
    from ..interventions.background import apply_test_condition

    def model_input(xi: torch.Tensor, mi: torch.Tensor) -> torch.Tensor:
        """What the model is shown of images ``xi`` (their object masks ``mi``): its test-time input."""
        return apply_test_condition(prepared.preprocess.test_input, xi, mi, fill)

    _probe(prepared, model_input(x[:2], m[:2]), data)
    timings: dict[str, float] = {}

    # the ingredients, each computed once: counterfactual predictions (forward passes only, through a copy with
    # the batch norms folded), then the maps and the sanity maps when a test needs them
    t = time.perf_counter()
    fast = inference_copy(prepared, model_input(x[:8], m[:8]))
    donors = draw_donors(y, seed=seed, k=k)
    probs: dict[str, np.ndarray] = {}
    wanted = ["original"] + [v for v in conditions if v != "original"]
    for v in wanted:
        xi = counterfactual_images(x, m, v, donors.get(v), fill=fill)
        probs[v] = _predict(fast, model_input(xi, m), batch_size)
    worst_right = (probs["mixed_rand"].argmax(1) == y) if "mixed_rand" in probs else np.ones(len(y), bool)
    for j in range(1 if "mixed_rand" in probs else 0, k):
        xi = counterfactual_images(x, m, "mixed_rand", donors["worst"][j], fill=fill)
        worst_right &= _predict(fast, model_input(xi, m), batch_size).argmax(1) == y
    if site is not None:
        if tuple(site.images.shape[1:]) != tuple(x.shape[1:]) or site.masks is None or not bool(site.has_mask.all()):
            raise param_error("site", "audit", f"masked images of the data's frames and size {tuple(x.shape[1:])}",
                              f"shape {tuple(site.images.shape[1:])}")
        sd = np.random.default_rng(seed + 1).integers(0, len(site), len(y))
        xi = counterfactual_images(x, m, "site", sd, fill=fill, donor_images=site.float_images(),
                                   donor_masks=site.masks.bool())
        probs["site"] = _predict(fast, model_input(xi, m), batch_size)
    timings["counterfactuals_s"] = time.perf_counter() - t
    del fast
    pred = {v: p.argmax(1) for v, p in probs.items()}
    counterfactuals = _accuracy_table(probs, pred, y, worst_right, k, n_boot=n_boot, ci=ci, seed=seed)

    ctx = Context(y=y, probs=probs, donors=donors,
                  settings={"sanity_threshold": sanity_threshold, "target_threshold": target_threshold})
    localisation, sanity, cam_maps, layer_name = pd.DataFrame(), pd.DataFrame(), None, ""
    cam_index = np.sort(np.random.default_rng(seed + 2).permutation(len(y))[:max_cam_images])
    if cams and any(set(tt.needs) & {"cams", "sanity"} for tt in AUDIT_TESTS):
        t = time.perf_counter()
        layer, reshape, layer_name = find_target_layer(prepared, target_layer)
        cam_maps, localisation, ctx.maps["norm_aks"] = _maps(prepared, model_input(x[cam_index], m[cam_index]),
                                                             m[cam_index], pred["original"][cam_index], y[cam_index],
                                                             data.class_names, layer, reshape, method, x[:1],
                                                             n_boot=n_boot, ci=ci, seed=seed)
        timings["cams_s"] = time.perf_counter() - t
        t = time.perf_counter()
        si = cam_index[:sanity_images]
        xs, ts = model_input(x[si], m[si]), pred["original"][si]
        base = cam_maps[:len(si)]
        srows, rho, counts = cascading_randomization(prepared, xs, ts, base=base, method=method, layer=layer,
                                                     reshape_transform=reshape, seed=seed)
        sanity = pd.DataFrame(srows).set_index("step")
        ctx.maps.update(rho_weights=rho, rho_weights_constant_base=counts["constant_base"],
                        rho_weights_constant_other=counts["constant_other"])
        k_cls = data.num_classes
        shuffled = (ts + np.random.default_rng(seed + 3).integers(1, k_cls, ts.size)) % k_cls
        other = compute_cams(prepared, xs, targets=shuffled, method=method, layer=layer, batch_size=64,
                             reshape_transform=reshape)
        rho_t, cb, co = map_correlation(base.flatten(1).numpy(), other.flatten(1).numpy())
        ctx.maps.update(rho_target=rho_t, rho_target_constant_base=int(cb.sum()),
                        rho_target_constant_other=int(co.sum()))
        timings["sanity_s"] = time.perf_counter() - t

    trows = []
    for tt in AUDIT_TESTS:
        have = all((need in probs) if need in VARIANTS else (cam_maps is not None) for need in tt.needs)
        if have:
            values, extra = tt.values(ctx)
            r = _ci(values, n_boot=n_boot, ci=ci, seed=seed)
            r["verdict"] = _verdict(r["lo"], r["hi"], margin if tt.equivalence else 0.0)
            text = tt.reading(r, extra, ctx.settings)
        else:
            r = {"effect": float("nan"), "lo": float("nan"), "hi": float("nan"), "verdict": "not run", "n": 0}
            text = (("CAMs were not computed: a TorchScript model runs no forward hooks; export it with torch.export "
                     "(.pt2) for its maps") if not cams else "CAMs were not computed") \
                if set(tt.needs) & {"cams", "sanity"} else "its counterfactual was not run"
        trows.append({"test": tt.name, "question": tt.question, "effect": r["effect"], "lo": r["lo"], "hi": r["hi"],
                      "verdict": r["verdict"], "n": r["n"], "reading": text})
    table = pd.DataFrame(trows).set_index("test", drop=False)
    only = np.unique(pred["original"])
    overall, summary = _overall(table, len(y), margin,
                                one_class=data.class_names[int(only[0])] if only.size == 1 else None)
    if "mixed_next" in pred:
        dc = y[donors["mixed_next"]]
        follows = np.flatnonzero((pred["mixed_next"] == dc) & (pred["original"] != dc))
        conf = probs["mixed_next"][follows, dc[follows]]
        cases = follows[np.argsort(-conf, kind="stable")]
    else:
        cases = np.zeros(0, dtype=np.int64)
    timings["total_s"] = time.perf_counter() - t0
    head = ("one sigmoid logit, read as two classes (softmax of [-z/2, z/2]: its logit the second's)"
            if prepared.sigmoid_head else f"{data.num_classes} logits, softmax")
    dev = next((p.device for p in prepared.parameters()), torch.device("cpu"))
    from .entry import input_steps

    pipeline = list(reading) if reading else input_steps(data)
    chans = prepared.preprocess.channels
    repeat = ([f"each image's {x.shape[1]} channel repeated into the model's {chans}"]
              if chans is not None and x.shape[1] == 1 and chans != 1 else [])
    pipeline += repeat + [f"the model's preprocessing: {prepared.preprocess.describe()}", f"head: {head}",
                 f"run on {dev.type}, batches of {batch_size}"]
    info = {"model": name, "data": data.name, "n_images": len(y), "classes": list(data.class_names), "head": head,
            "object_region": "box" if "box" in (data.meta.get("object_region") or []) and masks is None else "mask",
            "frames": int(x.shape[1]), "size": list(x.shape[-2:]), "preprocess": prepared.preprocess.as_dict(),
            "pipeline": pipeline, "device": dev.type, "batch_size": batch_size,
            "target_layer": layer_name, "method": method, "seed": seed, "k": k, "margin": margin, "ci": ci,
            "n_boot": n_boot, "fill": fill, "cam_images": int(cam_index.size) if cam_maps is not None else 0,
            "sanity_images": int(min(sanity_images, cam_index.size)) if cam_maps is not None else 0, **timings}
    arrays = {"labels": y, "masks": m, "donors": donors, "probs": probs, "cam_index": cam_index,
              "cams": None if cam_maps is None else cam_maps.numpy()}
    return AuditResult(name=name, summary=summary, overall=overall, tests=table, counterfactuals=counterfactuals,
                       localisation=localisation, sanity=sanity, cases=cases, info=info, arrays=arrays, data=data)


def _probe(prepared: Prepared, x2: torch.Tensor, data: ImageSet) -> torch.Tensor:
    """The model's answer to two images, checked up front: it takes the input, and its output count matches the
    data's classes (a one-logit model of a two-class set is read as a sigmoid head)."""
    try:
        with torch.no_grad():
            probe = prepared(x2)
    except ShortcutlabError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the model raises, the message names the input it was given
        shape = tuple(prepared.prepare(x2).shape)
        raise ShortcutlabError(f"The model refused the input the 'preprocess' parameter of audit builds: shape {shape} "
                               f"({prepared.preprocess.describe()}). Set preprocess size / channels to what it expects "
                               f"({type(e).__name__}: {str(e)[:200]}).") from None
    if probe.ndim == 2 and probe.shape[1] == 1 and data.num_classes == 2:
        prepared.sigmoid_head = True  # a one-logit binary model: its logit is the second class's, as BCE trains it
        with torch.no_grad():
            probe = prepared(x2)
    if probe.ndim != 2 or probe.shape[1] != data.num_classes:
        raise ShortcutlabError(f"The model gives {tuple(probe.shape[1:])} outputs per image but the data "
                               f"{data.name!r} has {data.num_classes} classes ({', '.join(data.class_names)}): "
                               f"the class count must match, in the data's class order (a one-logit sigmoid model "
                               f"audits as two classes, its logit the second's).")
    return probe


def _accuracy_table(probs, pred, y, worst_right, k: int, *, n_boot: int, ci: float, seed: int):
    """Accuracy (with its CI), micro AUC and the share of changed predictions under each background."""
    import pandas as pd

    rows = []
    for v in probs:
        s = _ci((pred[v] == y).astype(float), n_boot=n_boot, ci=ci, seed=seed)
        try:
            a = auc(y, probs[v], "micro")
        except ShortcutlabError:
            a = float("nan")
        rows.append({"background": v, "accuracy": s["effect"], "lo": s["lo"], "hi": s["hi"], "auc_micro": a,
                     "changed": float((pred[v] != pred["original"]).mean()), "n": len(y)})
    s = _ci(worst_right.astype(float), n_boot=n_boot, ci=ci, seed=seed)
    rows.append({"background": f"worst of {k}", "accuracy": s["effect"], "lo": s["lo"], "hi": s["hi"],
                 "auc_micro": float("nan"), "changed": float("nan"), "n": len(y)})
    return pd.DataFrame(rows).set_index("background")


def _maps(prepared, xc, mc, tc, yc, class_names, layer, reshape, method, x1, *, n_boot, ci, seed):
    """The CAMs of the mapped images, the localisation table per class (each metric beside its floor and
    ceiling) and the per-image normalized AKS the ``on_object`` test reads."""
    import pandas as pd

    cam_maps = compute_cams(prepared, xc, targets=tc, method=method, layer=layer, batch_size=64,
                            reshape_transform=reshape)
    mk = mc if cam_maps.shape[1] == mc.shape[1] else mc.any(1, keepdim=True)
    h, w = _cam_size(prepared, layer, reshape, x1)
    per = {k2: v2.float().nanmean(1).numpy() for k2, v2 in overlap_metrics(cam_maps, mk).items()}
    bounds = overlap_bounds(mk, (min(h, mk.shape[-2]), min(w, mk.shape[-1])))
    floor = {k2: v2.float().nanmean(1).numpy() for k2, v2 in bounds["floor"].items()}
    ceil = {k2: v2.float().nanmean(1).numpy() for k2, v2 in bounds["ceiling"].items()}
    lrows = []
    for cls_i, cls_name in [(-1, "all")] + list(enumerate(class_names)):
        sel = np.ones_like(yc, bool) if cls_i < 0 else yc == cls_i
        if not sel.any():
            continue
        for metric in ("aks", "dsc", "pct_e", "pct_f"):
            s = _ci(per[metric][sel], n_boot=n_boot, ci=ci, seed=seed)
            norm = normalized_overlap(per[metric][sel], floor[metric][sel], ceil[metric][sel]).numpy()
            sn = _ci(norm, n_boot=n_boot, ci=ci, seed=seed)
            lrows.append({"class": cls_name, "metric": metric, "value": s["effect"], "lo": s["lo"], "hi": s["hi"],
                          "floor": float(np.nanmean(floor[metric][sel])),
                          "ceiling": float(np.nanmean(ceil[metric][sel])), "normalized": sn["effect"],
                          "normalized_lo": sn["lo"], "normalized_hi": sn["hi"], "n": int(sel.sum())})
    norm_all = normalized_overlap(per["aks"], floor["aks"], ceil["aks"]).numpy()
    return cam_maps, pd.DataFrame(lrows), norm_all


def _cam_size(model: nn.Module, layer: nn.Module, reshape, x1: torch.Tensor) -> tuple[int, int]:
    seen: dict = {}

    def hook(module, inputs, output):
        o = output[0] if isinstance(output, (tuple, list)) else output
        seen["shape"] = tuple((reshape(o) if reshape is not None else o).shape[-2:])

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x1)
    finally:
        handle.remove()
    if "shape" not in seen:
        raise ShortcutlabError("The target layer never ran in the model's forward pass (a TorchScript model runs no "
                               "hooks); name a layer the model uses, or pass cams=False.")
    return seen["shape"]


OVERALL_CODES = ("reads-background", "clean", "inconclusive", "one-class")


def overall_code(overall: str) -> str:
    """The stable code of an overall answer (its wording may change; the code does not)."""
    if overall.startswith("reads the background"):
        return "reads-background"
    if overall.startswith("does not read the background"):
        return "clean"
    if overall.startswith("inconclusive: one class"):
        return "one-class"
    return "inconclusive"


def _overall(table, n: int, margin: float, one_class: str | None = None) -> tuple[str, str]:
    """The audit's one-line answer from its tests."""
    v = table["verdict"].to_dict()
    if one_class is not None:  # nothing can move a constant answer: no counterfactual test is evidence
        overall = "inconclusive: one class for every image"
        text = (f"The model predicts {one_class} for all {n} original images, so no background can be seen to move "
                f"it; audit a model that separates the classes.")
        if v.get("sanity_weights") == "contradicted" or v.get("sanity_target") == "contradicted":
            text += " Its maps fail the sanity check: they barely depend on the model, so their overlap is not evidence."
            overall += "; its maps fail the sanity check"
        return overall, text
    sane = v.get("sanity_weights") != "contradicted" and v.get("sanity_target") != "contradicted"
    reads = [t for t in ("follows_donor", "bg_gap") if v.get(t) == "holds"]
    clean = [t for t in ("follows_donor", "bg_gap") if v.get(t) in ("equivalent", "contradicted")]
    if reads:
        overall = "reads the background"
        text = ("The model reads the background: " + "; ".join(table.loc[t, "reading"] for t in reads) + ".")
    elif len(clean) == 2:
        overall = "does not read the background"
        text = (f"On {n} images the background does not move the model's predictions beyond ±"
                f"{100 * margin:.0f} points (both counterfactual tests within the margin).")
    else:
        overall = "inconclusive"
        text = f"Not decided on {n} images: the counterfactual tests' intervals include both no effect and an effect."
    if v.get("on_object") == "contradicted":
        text += " Its maps sit off the object."
    if not sane:
        text += " The sanity check failed: its maps barely depend on the model, so their overlap is not evidence."
        overall += "; its maps fail the sanity check"
    return overall, text
