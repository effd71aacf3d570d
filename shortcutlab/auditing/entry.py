"""The audit's two front doors: files (the command ``shortcutlab audit``) and the notebook's parameters.

* :func:`audit_file`: a model file and a manifest CSV or a class folder, as a user arrives with them.
* :func:`audit_models`: notebook 08's ``MODELS`` and ``DATA``, where ``study:full`` names the study's own Full model
  (its first seed) and ``study:cm:test`` a split of a study cohort; any other entry is a file path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .._validation import ShortcutlabError, param_error
from ..data.imageset import ImageSet
from .battery import AuditResult, audit
from .model import Preprocess, load_model

__all__ = ["audit_file", "audit_models", "audit_runs", "load_audit_data", "answers", "tests_table", "backgrounds_table",
           "localisation_table", "input_steps", "discover_file", "discover_models", "discovery_table", "model_and_data"]


def load_audit_data(data: str | Path | ImageSet, *, size: int = 128, classes: Sequence[str] | None = None,
                    intensity: str = "raw", resize: str = "squash", where: str = "audit") -> ImageSet:
    """An ImageSet from a manifest CSV (``image``, ``mask`` or ``box``, ``label`` columns) or a class folder (masks
    beside the images as ``<name>_mask.<ext>``), read as the model saw the files (:class:`~shortcutlab.data.pixels.
    Pixels`: channels and bit depth kept, ``intensity`` and ``resize`` as stated) at ``size`` pixels; an ImageSet
    is returned as it is."""
    from ..data.loaders import load_folder, load_manifest
    from ..data.pixels import Pixels

    if isinstance(data, ImageSet):
        return data
    pixels = Pixels.parse(intensity, resize, where=where)
    if not isinstance(data, (str, Path)) or not str(data).strip():
        raise param_error("data", where, "a manifest CSV, a class folder or an ImageSet", data)
    path = Path(data).expanduser()
    if path.is_dir():
        return load_folder(path, size=size, classes=classes, pixels=pixels)
    if path.is_file():
        return load_manifest(path, size=size, classes=classes, pixels=pixels)
    raise ShortcutlabError(f"The 'data' parameter of {where} must be a manifest CSV or a class folder. "
                           f"Got {str(path)!r}, which does not exist.")


def audit_file(model: str | Path, data: str | Path | ImageSet, *, arch: str = "", size: int | None = None,
               read_size: int | None = None, classes: Sequence[str] | None = None,
               preprocess: Preprocess | Mapping[str, Any] | None = None, name: str = "", device: str = "cpu",
               strip_prefix: str = "", intensity: str = "raw", resize: str = "squash", **kw) -> AuditResult:
    """Audit the model in the file ``model`` (:func:`~shortcutlab.auditing.load_model`) on ``data``
    (:func:`load_audit_data`: files read with their channels and bit depth, ``intensity`` ``raw`` by default,
    ``resize`` ``squash``), on ``device`` (``auto``: cuda when available, else cpu; the inputs follow the model).
    ``size`` is the model's input size, as ``preprocess['size']`` is (given both, they must agree; given neither,
    128 for files and the set's own size for an ImageSet); files are read at it unless ``read_size`` says
    otherwise. ``classes`` is the model's class order (index 0 first; default: the labels sorted, stated in the
    report). The input pipeline, every step from the file to the model, is in ``info['pipeline']``. A TorchScript
    model runs no hooks, so its CAM tests are skipped and say so."""
    net, ds, pre, steps, kind = model_and_data(model, data, arch=arch, size=size, read_size=read_size,
                                               classes=classes, preprocess=preprocess, device=device,
                                               strip_prefix=strip_prefix, intensity=intensity, resize=resize,
                                               where="audit_file")
    cams = kw.pop("cams", kind != "torchscript")
    return audit(net, ds, preprocess=pre, name=name or Path(model).name, cams=cams, reading=steps, **kw)


def discover_file(model: str | Path, data: str | Path | ImageSet, *, arch: str = "", size: int | None = None,
                  read_size: int | None = None, classes: Sequence[str] | None = None,
                  preprocess: Preprocess | Mapping[str, Any] | None = None, name: str = "", device: str = "cpu",
                  strip_prefix: str = "", intensity: str = "raw", resize: str = "squash", **kw):
    """:func:`~shortcutlab.auditing.discover` on the model in the file ``model`` and ``data`` (a class folder or a
    manifest, masks not needed), read as :func:`audit_file` reads them. A TorchScript model runs no hooks, so it
    has no maps to cluster: export it with ``torch.export`` (``.pt2``)."""
    from .discover import discover
    from .model import model_kind

    if model_kind(model) == "torchscript":
        raise ShortcutlabError(f"The 'model' parameter of discover_file is a TorchScript file ({str(model)!r}), which "
                               f"runs no forward hooks, so it has no maps to cluster. Export it with torch.export "
                               f"(.pt2), or give its state dict with --arch.")
    net, ds, pre, steps, _ = model_and_data(model, data, arch=arch, size=size, read_size=read_size, classes=classes,
                                            preprocess=preprocess, device=device, strip_prefix=strip_prefix,
                                            intensity=intensity, resize=resize, where="discover_file")
    return discover(net, ds, preprocess=pre, name=name or Path(model).name, reading=steps, **kw)


def model_and_data(model, data, *, arch: str = "", size: int | None = None, read_size: int | None = None,
                   classes: Sequence[str] | None = None, preprocess=None, device: str = "cpu",
                   strip_prefix: str = "", intensity: str = "raw", resize: str = "squash", where: str = "audit_file"):
    """The model from its file on ``device`` and the images read as it saw them: ``(net, data, preprocess, input
    steps, model kind)``, shared by :func:`audit_file` and :func:`discover_file`."""
    import torch

    from .._validation import check_choice
    from ..data.pixels import Pixels
    from .model import model_kind

    pixels = Pixels.parse(intensity, resize, where=where)
    check_choice(device, ("auto", "cpu", "cuda"), name="device", where=where)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ShortcutlabError(f"The 'device' parameter of {where} is 'cuda', but torch sees no CUDA device here; "
                               f"use 'cpu' or 'auto'.")

    kind = model_kind(model)  # a missing or unreadable model file is said before the data are read
    pre = Preprocess.from_spec(preprocess)
    if size is not None and pre.size is not None and pre.size != size:
        raise param_error("size", where, f"the model's input size, as preprocess['size'] ({pre.size}) says", size)
    size = size if size is not None else pre.size if pre.size is not None else (
        None if isinstance(data, ImageSet) else 128)
    pre = Preprocess(**{**pre.as_dict(), "size": size})
    ds = load_audit_data(data, size=read_size or size or 128, classes=classes, intensity=intensity, resize=resize,
                         where=where)
    net, kind = load_model(model, arch=arch, num_classes=ds.num_classes, in_chans=pre.channels, frames=ds.num_frames,
                           strip_prefix=strip_prefix)
    if kind != "torchscript" and arch and pre.channels is None:
        first = next((p for p in net.parameters() if p.ndim == 4), None)
        wants = int(first.shape[1]) if first is not None else None
        if wants is not None and wants != ds.num_frames and not hasattr(net, "frames"):
            pre = Preprocess(**{**pre.as_dict(), "channels": wants})  # a grayscale image into an RGB network
    if device != "cpu":
        net = net.to(device)
    steps = input_steps(ds, None if isinstance(data, ImageSet) else pixels, classes_given=classes is not None)
    return net, ds, pre, steps, kind


def input_steps(data: ImageSet, pixels=None, *, classes_given: bool = False) -> list[str]:
    """How the audit's images came to be, from the file to the audit's float images, in words: the files' formats
    (counted), the intensity and resize policy, and the class order (the model's preprocessing and head are added
    by :func:`~shortcutlab.auditing.audit`)."""
    from collections import Counter

    steps = []
    if pixels is not None:
        formats = Counter(data.meta.get("format") or [])
        said = "; ".join(f"{n} × {f}" for f, n in formats.most_common())
        shapes = sorted(set(data.meta.get("shape") or []))
        steps.append(f"read {len(data)} image file(s): {said}" + (
            f"; stored sizes (H×W) {', '.join(shapes[:4])}{' …' if len(shapes) > 4 else ''}" if shapes else ""))
        steps.append(pixels.describe(data.size[0]))
    else:
        kind = ("uint8 images divided by 255" if data.images.dtype.is_floating_point is False
                else "float images as they are")
        steps.append(f"an ImageSet given as it is ({data.name!r}, {data.num_frames} frame(s) of "
                     f"{data.size[0]} × {data.size[1]} px): {kind}")
    order = ", ".join(f"{i}: {c}" for i, c in enumerate(data.class_names))
    steps.append(f"class order {order} ({'as --classes / classes gives it' if classes_given else 'the labels sorted; pass classes to match the model'})")
    return steps


def audit_runs(study, models: Sequence[str], *, where: str = "the notebook's parameters") -> dict[str, Any]:
    """The study runs that ``models`` name (``study:<condition>``: that condition on the cm cohort at the study's
    first seed), by entry; the file entries are not runs. The plan of ``make study`` asks for these."""
    from ..interventions.registry import get_condition

    out = {}
    for spec in models:
        if isinstance(spec, str) and spec.startswith("study:"):
            parts = spec.split(":")
            if len(parts) != 2 or not parts[1]:
                raise param_error("MODELS", where, "'study:<condition>' (e.g. 'study:full') or a model file", spec)
            cond = get_condition(parts[1], where=f"{where} MODELS")
            out[spec] = study.run("cm", cond.name, seed=study.seed_list()[0])
    return out


def _models_of(models: Sequence[str], study, preprocess, where: str):
    """Each entry of notebook 08's ``MODELS``: ``(label, the study's model or None, its preprocess, the file or
    None)``; a ``study:<condition>`` entry is that condition on the cm cohort at the study's first seed, with its own
    test-time input (Seg sees the object only)."""
    for spec in models:
        if not isinstance(spec, str) or not spec:
            raise param_error("MODELS", where, "names like 'study:full' or model file paths", spec)
        if spec.startswith("study:"):
            if study is None:
                raise param_error("MODELS", where, "model files (a 'study:' model needs the study)", spec)
            from ..interventions.registry import get_condition

            run = audit_runs(study, [spec], where=where)[spec]
            cond = run.condition
            pre = {**(preprocess or {}), "test_input": cond if get_condition(cond).test_time else "full"}
            yield f"study {cond} (cm, seed {run.spec['seed']})", run.model(), pre, None
        else:
            yield Path(spec).name, None, preprocess, spec


def _check_models(models, where: str) -> None:
    if isinstance(models, str) or not isinstance(models, Sequence) or not models:
        raise param_error("MODELS", where, "a non-empty list like ['study:full', 'study:seg'] or ['my_model.pt']",
                          models)


def audit_models(models: Sequence[str], data: str, *, study=None, arch: str = "",
                 preprocess: Mapping[str, Any] | None = None, target_layer: str = "", seed: int = 0,
                 where: str = "the notebook's parameters", **kw) -> dict[str, AuditResult]:
    """Audit each of ``models`` on ``data`` (notebook 08's parameters): ``study:<condition>`` is the study's own
    model of that condition on the cm cohort at its first seed, audited with its own test-time input (Seg sees the
    object only); anything else is a model file. ``data`` is ``study:<cohort>:<split>`` or a manifest / folder."""
    _check_models(models, where)
    ds = _notebook_data(data, study, preprocess, where)
    n_boot = study.cfg.metrics.n_bootstrap if study is not None else 1000
    out: dict[str, AuditResult] = {}
    for label, net, pre, path in _models_of(models, study, preprocess, where):
        out[label] = (audit(net, ds, preprocess=pre, target_layer=target_layer, seed=seed, name=label, n_boot=n_boot,
                            **kw) if net is not None else
                      audit_file(path, ds, arch=arch, preprocess=pre, target_layer=target_layer, seed=seed,
                                 n_boot=n_boot, **kw))
    return out


def discover_models(models: Sequence[str], data: str, *, study=None, arch: str = "",
                    preprocess: Mapping[str, Any] | None = None, target_layer: str = "", seed: int = 0,
                    where: str = "the notebook's parameters", **kw) -> dict[str, Any]:
    """:func:`~shortcutlab.auditing.discover` for each of ``models`` on ``data``, as :func:`audit_models` names them
    (``study:<condition>`` the study's model on the cm cohort at its first seed, with its own test-time input; any
    other entry a model file); the data's masks are not used to find anything."""
    from .discover import discover

    _check_models(models, where)
    ds = _notebook_data(data, study, preprocess, where)
    n_boot = study.cfg.metrics.n_bootstrap if study is not None else 1000
    out: dict[str, Any] = {}
    for label, net, pre, path in _models_of(models, study, preprocess, where):
        out[label] = (discover(net, ds, preprocess=pre, target_layer=target_layer, seed=seed, name=label,
                               n_boot=n_boot, **kw) if net is not None else
                      discover_file(path, ds, arch=arch, preprocess=pre, target_layer=target_layer, seed=seed,
                                    n_boot=n_boot, **kw))
    return out


def _notebook_data(data, study, preprocess, where: str) -> ImageSet:
    """``DATA``: ``study:<cohort>:<split>`` (with the study) or a manifest / class folder."""
    if isinstance(data, str) and data.startswith("study:"):
        parts = data.split(":")
        if study is None or len(parts) != 3:
            raise param_error("DATA", where, "'study:<cohort>:<split>' (e.g. 'study:cm:test') with a study, or a "
                              "manifest CSV / class folder", data)
        splits = study.data(parts[1])
        if parts[2] not in splits:
            raise param_error("DATA", where, f"a split among {', '.join(map(repr, splits))}", parts[2])
        return splits[parts[2]]
    return load_audit_data(data, size=int((preprocess or {}).get("size") or 128), where=where)


def discovery_table(discoveries) -> "Any":
    """Every cluster of every model: its class, size, region, excess mass, and the region's test (effect, CI,
    verdict, Holm p, reading)."""
    import pandas as pd

    from .discover import DiscoveryResult

    if isinstance(discoveries, DiscoveryResult):
        discoveries = {discoveries.name: discoveries}
    if not isinstance(discoveries, Mapping) or not all(isinstance(v, DiscoveryResult) for v in discoveries.values()):
        raise param_error("discoveries", "discovery_table", "a DiscoveryResult or a mapping of them (discover_models)",
                          type(discoveries).__name__)
    cols = ["class", "size", "n_test", "area", "level", "excess_mass", "effect", "lo", "hi", "verdict", "p_holm",
            "reads", "reading"]
    rows = [r.clusters.reindex(columns=cols).assign(model=k) for k, r in discoveries.items() if len(r.clusters)]
    if not rows:
        return pd.DataFrame(columns=["model", "cluster", *cols]).set_index(["model", "cluster"])
    return pd.concat(rows).rename_axis("cluster").reset_index().set_index(["model", "cluster"])


def _results(audits: Mapping[str, AuditResult] | AuditResult) -> dict[str, AuditResult]:
    if isinstance(audits, AuditResult):
        return {audits.name: audits}
    if not isinstance(audits, Mapping) or not audits or not all(isinstance(v, AuditResult) for v in audits.values()):
        raise param_error("audits", "the audit's tables", "an AuditResult or a mapping of them (audit_models)",
                          type(audits).__name__)
    return dict(audits)


def answers(audits) -> "Any":
    """One row per audited model: the overall answer and its summary."""
    import pandas as pd

    return pd.DataFrame([{"model": k, "answer": r.overall, "summary": r.summary}
                         for k, r in _results(audits).items()]).set_index("model")


def tests_table(audits) -> "Any":
    """Every test of every model: effect, CI, verdict and the one-line reading."""
    import pandas as pd

    rows = [r.tests.drop(columns=["question"]).assign(model=k) for k, r in _results(audits).items()]
    return pd.concat(rows).set_index(["model", "test"])[["effect", "lo", "hi", "verdict", "n", "reading"]]


def backgrounds_table(audits) -> "Any":
    """Accuracy under each background, per model."""
    import pandas as pd

    return pd.concat({k: r.counterfactuals for k, r in _results(audits).items()}, names=["model", "background"])


def localisation_table(audits, *, metric: str = "aks") -> "Any":
    """One overlap metric per class and model, beside its floor, ceiling and normalized value."""
    import pandas as pd

    rows = [r.localisation.assign(model=k) for k, r in _results(audits).items() if len(r.localisation)]
    if not rows:
        return pd.DataFrame()
    df = pd.concat(rows)
    return df[df["metric"] == metric].set_index(["model", "class"]).drop(columns=["metric"])
