"""Presets and validated configuration.

A preset is a YAML file in ``params/`` (``smoke``, ``default``, ``paper``) or any path. Its sections
(``data``, ``augment``, ``train``, ``contrastive``, ``saliency``, ``metrics``, ``study``, ``run``) hold fields
declared once in :data:`SCHEMA`: default, validation, documentation, and where the value goes. A field marked
``setting=("fit",)`` becomes a field of :class:`~shortcutlab.train.TrainSettings` (``"pretrain"``:
:class:`~shortcutlab.ssl.ContrastiveSettings`), is read from the preset by their ``from_config``, and is part of
every cached run's key unless it is marked ``results=False`` (it does not change a number: device, threads, the
evaluation batch size). Adding a training setting is one line here.

>>> cfg = load_preset("smoke", overrides={"train.epochs": 2})
>>> cfg.train.epochs
2
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import yaml

from ._paths import PARAMS_DIR
from ._validation import ShortcutlabError, check_bool, check_choice, check_int, check_number, closest

__all__ = ["Config", "Section", "SCHEMA", "load_preset", "available_presets", "PARAMS_DIR", "settings_class",
           "settings_values", "result_settings", "setting_fields", "check_setting_names"]



@dataclass(frozen=True)
class Field:
    """One config field: its default and how to validate it."""

    default: Any
    kind: str  # int | float | bool | str | choice | list[int] | list[choice] | list[float]
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    lo_open: bool = False
    hi_open: bool = False
    doc: str = ""
    setting: tuple = ()   # "fit", "pretrain", "geometric": the settings object the value goes into
    name: str = ""        # its name there, when it differs from the key (mask_fraction -> f)
    modality: str = ""    # "mri" or "echo": only that modality's training reads it (echo_epochs)
    results: bool = True  # False: the value does not change any result, so it is not part of the cache key

    def validate(self, value: Any, *, name: str, where: str) -> Any:
        k = self.kind
        if k == "int":
            return check_int(value, name=name, where=where, lo=self.lo, hi=self.hi)
        if k == "float":
            if isinstance(value, str) and _SCI.fullmatch(value.strip()):
                value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string; the user means the number
            return check_number(value, name=name, where=where, lo=self.lo, hi=self.hi,
                                lo_open=self.lo_open, hi_open=self.hi_open)
        if k == "bool":
            return check_bool(value, name=name, where=where)
        if k == "str":
            if not isinstance(value, str):
                from ._validation import param_error
                raise param_error(name, where, "a string", value)
            return value
        if k == "choice":
            return check_choice(value, self.choices, name=name, where=where)
        if k.startswith("list["):
            from ._validation import param_error
            if not isinstance(value, (list, tuple)) or len(value) == 0:
                raise param_error(name, where, f"a non-empty list of {k[5:-1]}", value)
            inner = Field(None, k[5:-1], self.lo, self.hi, self.choices, self.lo_open, self.hi_open)
            return tuple(inner.validate(v, name=f"{name}[{i}]", where=where) for i, v in enumerate(value))
        raise AssertionError(f"unknown field kind {k}")  # programming error, not user input


F = Field
_SCI = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
CAM_METHODS = ("gradcam", "gradcam++", "xgradcam", "eigencam", "layercam", "hirescam")
SCHEMA: dict[str, dict[str, Field]] = {
    "data": {
        "cmr_size": F(64, "int", 32, 512, doc="pixels of the cardiac MRI phantom"),
        "cmr_n": F(600, "int", 8, 1_000_000, doc="images per MRI cohort (cm and acdc)"),
        "cmr_pairs_n": F(0, "int", 0, 1_000_000, doc="new cm phantom patients rendered with the cue random, "
                         "agreeing and conflicting (the paired counterfactual test sets); 0, and for acdc: as many as "
                         "the test split"),
        "cmr_spurious_kind": F("marker", "choice", choices=("marker", "habitus", "artifact")),
        "cmr_spurious_strength": F(0.9, "float", 0, 1),
        "cmr_systemic": F(True, "bool", doc="amyloid effusion outside the heart (legitimate cue)"),
        "echo_size": F(112, "int", 32, 512),
        "echo_n": F(800, "int", 8, 1_000_000, doc="i.d. echo images (train+val+test)"),
        "echo_ood_n": F(400, "int", 8, 1_000_000, doc="o.o.d. echo images (other sites); the phantom renders the same "
                        "sectors again under four background counterfactuals"),
        "echo_overlay_strength": F(0.9, "float", 0, 1),
        "test_fraction": F(0.3, "float", 0, 1, lo_open=True, hi_open=True, doc="MRI paper: 70/30"),
        "val_fraction": F(0.1, "float", 0, 1, hi_open=True),
        "echo_test_fraction": F(0.1, "float", 0, 1, lo_open=True, hi_open=True, doc="BackMix: 80/10/10"),
        "echo_val_fraction": F(0.1, "float", 0, 1, hi_open=True),
        "seed": F(0, "int", 0, 2**31 - 1),
        "cache": F(True, "bool"),
        "cm": F({"source": "phantom"}, "source", doc="source of the internal MRI cohort (see 'Your own data')"),
        "acdc": F({"source": "phantom"}, "source", doc="source of the external MRI cohort: phantom, acdc, folder, manifest"),
        "echo": F({"source": "phantom"}, "source", doc="source of the i.d. echo cohort: phantom, tmed2, folder, manifest"),
        "echo_ood": F({"source": "phantom"}, "source", doc="source of the o.o.d. echo set (a second site)"),
    },
    "augment": {
        "rotate_mri": F(20.0, "float", 0, 180, doc="degrees, MRI seed", setting=("geometric",), name="rotate", modality="mri"),
        "rotate_echo": F(30.0, "float", 0, 180, doc="degrees, BackMix", setting=("geometric",), name="rotate",
                         modality="echo"),
        "flip_p": F(0.5, "float", 0, 1, setting=("geometric",)),
        "crop_scale_min": F(0.85, "float", 0, 1, lo_open=True, setting=("geometric",), name="scale_min"),
        "brightness": F(0.1, "float", 0, 1, setting=("geometric",)),
        "contrast": F(0.2, "float", 0, 1, setting=("geometric",)),
        "fill": F(0.0, "float", 0, 1, doc="value of blanked pixels (images are in [0, 1])", setting=("fit",)),
        "mask_fraction": F(1.0, "float", 0, 1, lo_open=True, doc="BackMix f", setting=("fit",), name="f"),
        "wbackmix_lambda": F(0.0, "float", 0, 1e6, doc="wBackMix lambda (lambda * mask_fraction <= 1)", setting=("fit",),
                             name="lam"),
        "cutmix_alpha": F(1.0, "float", 0, None, lo_open=True, setting=("fit",)),
        "bokeh_sigma": F(3.0, "float", 0, None, lo_open=True, setting=("fit",)),
    },
    "train": {
        "mri_model": F("sl_cnn", "str", doc="timm name (densenet121 in the paper)"),
        "echo_model": F("sl_cnn", "str", doc="timm name (resnet18 in the paper)"),
        "weights": F("random", "choice", choices=("random", "imagenet", "auto"),
                     doc="initial weights; auto: imagenet when weights_file is set, else random"),
        "weights_file": F("", "str", doc="local ImageNet weights for offline use"),
        "epochs": F(12, "int", 1, 10_000, setting=("fit",), modality="mri"),
        "echo_epochs": F(12, "int", 1, 10_000, setting=("fit",), name="epochs", modality="echo"),
        "batch_size": F(32, "int", 2, 65_536, setting=("fit",)),
        "eval_batch_size": F(256, "int", 1, 65_536, setting=("fit",), results=False),
        "lr": F(3e-3, "float", 0, 10, lo_open=True, setting=("fit",)),
        "lr_schedule": F("constant", "choice", choices=("constant", "cosine"), setting=("fit",),
                         doc="cosine: linear warm-up over the first epoch, then cosine decay to 0 at the last step"),
        "weight_decay": F(1e-4, "float", 0, 1, setting=("fit",)),
        "select_metric": F("val_auc", "choice", choices=("val_auc", "val_accuracy", "val_loss", "last"), setting=("fit",)),
        "class_weighted": F(True, "bool", setting=("fit",)),
        "precision": F("auto", "choice", choices=("fp32", "bf16", "auto"), setting=("fit",), results=False,
                       doc="the model's compute in training and evaluation: bf16 autocast or fp32; auto: bf16 where the "
                           "device computes it natively (a CUDA GPU with bf16; a CPU with AVX-512 BF16 or AMX), else fp32. "
                           "Losses, metrics, bootstraps and CAMs stay fp32. The resolved choice is in the cache key"),
        "channels_last": F(True, "bool", setting=("fit",), results=False,
                           doc="model and batches in channels-last memory format (always on a GPU); in the cache key"),
        "compile": F(False, "bool", setting=("fit",), results=False,
                     doc="torch.compile the model for training (pays only in long runs: compilation costs each job); "
                         "in the cache key"),
        "device": F("auto", "choice", choices=("auto", "cpu", "cuda"), setting=("fit", "pretrain"), results=False),
        "threads": F(0, "int", 0, 1024, doc="0: all cores", setting=("fit", "pretrain"), results=False),
        "seeds": F((0,), "list[int]", 0, 2**31 - 1),
        "descriptive_seeds": F(0, "int", 0, 1_000, doc="how many of train.seeds the echo runs no claim reads take "
                               "(Shuffle, Bokeh, CutMix, the SMA variant, other mask fractions and lambdas); 0: all"),
    },
    "contrastive": {
        "methods": F(("simclr", "moco", "byol"), "list[choice]", choices=("simclr", "moco", "byol")),
        "epochs": F(10, "int", 1, 10_000, setting=("pretrain",)),
        "batch_size": F(64, "int", 2, 65_536, setting=("pretrain",)),
        "lr": F(1e-3, "float", 0, 10, lo_open=True, setting=("pretrain",)),
        "weight_decay": F(1e-6, "float", 0, 1, setting=("pretrain",)),
        "temperature": F(0.2, "float", 0, None, lo_open=True, setting=("pretrain",)),
        "queue_size": F(256, "int", 1, 1_000_000, setting=("pretrain",)),
        "momentum": F(0.99, "float", 0, 1, hi_open=True, setting=("pretrain",)),
        "proj_dim": F(128, "int", 2, 65_536, setting=("pretrain",)),
        "hidden_dim": F(256, "int", 2, 65_536, setting=("pretrain",)),
        "precision": F("auto", "choice", choices=("fp32", "bf16", "auto"), setting=("pretrain",), results=False,
                       doc="the pretraining's compute: bf16 autocast or fp32; auto: bf16 where the device computes it "
                           "natively, as train.precision. Losses stay fp32. The resolved choice is in the cache key"),
    },
    "saliency": {
        "method": F("gradcam", "choice", choices=CAM_METHODS),
        "layer": F("", "str", doc="the CAM's layer, a dotted path inside the encoder (e.g. layer1); empty: the "
                                  "model's last stage, as the papers' GradCAM"),
        "target": F("pred", "choice", choices=("pred", "true")),
        "max_images": F(200, "int", 1, 1_000_000),
        "batch_size": F(64, "int", 1, 65_536),
    },
    "metrics": {
        "n_bootstrap": F(1000, "int", 10, 1_000_000),
        "ci": F(0.95, "float", 0, 1, lo_open=True, hi_open=True),
        "claim_ci": F("welch", "choice", choices=("welch", "seed_t", "hierarchical_bootstrap"),
                      doc="the claims' CI: welch, var(seeds)/S plus the shared test sample's variance (cross-seed "
                          "covariance of one bootstrap) with Welch-Satterthwaite degrees of freedom "
                          "(metrics.seed_welch_interval); seed_t, the whole se at S - 1 degrees of freedom (too "
                          "wide); hierarchical_bootstrap, the percentile bootstrap over seeds and test images (too "
                          "narrow with few seeds)"),
        "seed": F(0, "int", 0, 2**31 - 1),
    },
    "study": {
        "root": F("runs", "str"),
    },
    "lesson": {
        "cure": F("balanced", "choice", choices=("balanced", "seg", "rand", "backmix"),
                  doc="the lesson's cure, chosen on its pilot before its run (params/lesson.yaml): balanced, the "
                      "marker drawn at random in training (Full at cue strength 0); seg, rand or backmix"),
    },
    "run": {
        "cell_timeout": F(3600, "int", 1, 7 * 86400,
                          doc="seconds one notebook cell may run before `shortcutlab run` fails its notebook"),
        "heartbeat_grace": F(30, "int", 1, 86400,
                             doc="seconds without a kernel heartbeat before `shortcutlab run` fails the notebook"),
    },
}


_PY_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "choice": str}


def setting_fields(target: str) -> list[tuple[str, str, Field]]:
    """``(section, key, field)`` of every schema field that goes into ``target`` (``fit``, ``pretrain``,
    ``geometric``), in schema order."""
    return [(s, k, f) for s, sec in SCHEMA.items() for k, f in sec.items() if target in f.setting]


def settings_class(name: str, target: str, doc: str, *, bases: tuple = ()) -> type:
    """A frozen dataclass with one field per schema field of ``target`` (its setting name; the schema default).
    Fields of one name for two modalities (``epochs``, ``echo_epochs``) become one field."""
    import dataclasses

    specs, seen = [], set()
    for _, key, f in setting_fields(target):
        nm = f.name or key
        if nm not in seen:
            seen.add(nm)
            specs.append((nm, _PY_TYPES.get(f.kind, Any), dataclasses.field(default=f.default)))
    cls = dataclasses.make_dataclass(name, specs, bases=bases, frozen=True)
    cls.__doc__ = doc
    cls.__module__ = "shortcutlab.config"
    return cls


def settings_values(cfg: "Config", target: str, modality: str = "") -> dict[str, Any]:
    """``{setting name: value}`` of ``target``'s fields in ``cfg`` (the modality's own where there are two)."""
    return {f.name or key: cfg.sections[s][key] for s, key, f in setting_fields(target)
            if not f.modality or not modality or f.modality == modality}


def result_settings(values: Mapping[str, Any], target: str) -> dict[str, Any]:
    """``values`` without the settings that change no result (``results=False`` in the schema): what a cache
    key holds."""
    drop = {f.name or key for _, key, f in setting_fields(target) if not f.results}
    return {k: v for k, v in values.items() if k not in drop}


def check_setting_names(changes: Mapping[str, Any], valid: Iterable[str], where: str) -> None:
    """A clear error for a setting name that is not one (``study.run(..., epoch=3)``)."""
    valid = sorted(valid)
    for k in changes:
        if k not in valid:
            near = closest(k, valid)
            hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
            raise ShortcutlabError(f"Unknown {where} setting {k!r}.{hint} Valid settings: {', '.join(valid)}.")


class Section(Mapping):
    """A frozen, attribute-accessible view of one config section."""

    def __init__(self, name: str, values: Mapping[str, Any]):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):  # _values before __init__ (copy, pickle): a plain miss, not a config key
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(_unknown_key_msg(self._name, key)) from None

    def __reduce__(self):  # picklable (a Ray task's argument), frozen again when rebuilt
        return (Section, (self._name, dict(self._values)))

    def __setattr__(self, key, value):
        raise AttributeError(f"Config sections are frozen; use load_preset(..., overrides={{'{self._name}.{key}': ...}}).")

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Section({self._name!r}, {dict(self._values)!r})"


def _unknown_key_msg(section: str, key: str) -> str:
    valid = list(SCHEMA[section])
    near = closest(key, valid)
    hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
    if section == "metrics" and key.startswith("margin_"):
        hint = (" A claim's smallest effect of interest is registered with the claim, before any run "
                "(shortcutlab.study.registry), never set by a preset.")
    return (f"Unknown key {key!r} in section {section!r} of the preset.{hint} "
            f"Valid keys: {', '.join(valid)}.")


@dataclass(frozen=True)
class Config:
    """Validated, typed, frozen configuration of one preset (plus overrides)."""

    name: str
    sections: Mapping[str, Section]
    source: str = ""

    def __getattr__(self, key: str) -> Section:
        if key.startswith("__"):
            raise AttributeError(key)
        secs = object.__getattribute__(self, "sections")
        if key in secs:
            return secs[key]
        near = closest(key, secs)
        hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
        raise AttributeError(f"Unknown config section {key!r}.{hint} Valid sections: {', '.join(secs)}.")

    def __reduce__(self):  # picklable (a Ray task's argument): the same validated sections, frozen again
        return (_config_from_sections, (self.name, dict(self.sections), self.source))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {s: {k: (list(v) if isinstance(v, tuple) else json.loads(json.dumps(v)) if isinstance(v, dict) else v)
                    for k, v in sec.items()} for s, sec in self.sections.items()}

    def to_json(self) -> str:
        return json.dumps({"name": self.name, **self.to_dict()}, sort_keys=True)

    def replace(self, overrides: Mapping[str, Any] | None = None) -> "Config":
        """A new Config with ``{"section.key": value}`` overrides applied and validated."""
        raw = self.to_dict()
        _apply_overrides(raw, overrides or {})
        return _build(self.name, raw, self.source)


def _config_from_sections(name: str, sections: dict, source: str) -> Config:
    return Config(name=name, sections=MappingProxyType(sections), source=source)


def available_presets() -> list[str]:
    """Names of the presets shipped in ``params/``."""
    return sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))


def _resolve(preset: str | Path) -> Path:
    p = Path(preset)
    if isinstance(preset, str) and p.suffix not in (".yaml", ".yml") and "/" not in preset and "\\" not in preset \
            and (PARAMS_DIR / f"{preset}.yaml").exists():
        return PARAMS_DIR / f"{preset}.yaml"  # a shipped preset's name wins over a folder of that name in the cwd
    if p.suffix in (".yaml", ".yml") and not p.exists() and not p.is_absolute():
        from ._paths import PROJECT_ROOT

        if (PROJECT_ROOT / p).exists():  # a notebook's kernel runs in notebooks/: paths from the project root work too
            p = PROJECT_ROOT / p
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ShortcutlabError(f"The preset file {str(p)!r} does not exist. Available presets: "
                                   f"{', '.join(available_presets())} (or a path to a .yaml file).")
        return p
    cand = PARAMS_DIR / f"{preset}.yaml"
    if not cand.exists():
        names = available_presets()
        near = closest(str(preset), names)
        hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
        raise ShortcutlabError(f"The 'preset' parameter of load_preset must be one of "
                               f"{', '.join(map(repr, names))} or a path to a .yaml file. "
                               f"Got {str(preset)!r} instead.{hint}")
    return cand


def _apply_overrides(raw: dict, overrides: Mapping[str, Any]) -> None:
    if not isinstance(overrides, Mapping):
        raise ShortcutlabError(f"The 'overrides' parameter of load_preset must be a dict of "
                               f"'section.key' -> value. Got {overrides!r} instead.")
    for dotted, value in overrides.items():
        sub = None
        if isinstance(dotted, str) and dotted.count(".") == 2 and dotted.split(".")[0] == "data" \
                and SCHEMA["data"].get(dotted.split(".")[1], Field(None, "")).kind == "source":
            dotted, sub = dotted.rsplit(".", 1)  # data.acdc.path: one option of a cohort's source
        if not isinstance(dotted, str) or dotted.count(".") != 1:
            raise ShortcutlabError(f"The override key {dotted!r} must have the form 'section.key' (or "
                                   f"'data.<cohort>.<option>' for a data source), e.g. 'train.epochs' or "
                                   f"'data.acdc.path'. Sections: {', '.join(SCHEMA)}.")
        sec, key = dotted.split(".")
        if sec not in SCHEMA:
            near = closest(sec, SCHEMA)
            hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
            raise ShortcutlabError(f"Unknown section {sec!r} in override {dotted!r}.{hint} "
                                   f"Valid sections: {', '.join(SCHEMA)}.")
        if key not in SCHEMA[sec]:
            raise ShortcutlabError(_unknown_key_msg(sec, key))
        if raw.get(sec) is None:  # absent, or "train:" left empty
            raw[sec] = {}
        if not isinstance(raw[sec], dict):
            raise ShortcutlabError(f"The section {sec!r} of the preset must be a mapping of keys to values (so that "
                                   f"the override {dotted!r} can apply). Got {raw[sec]!r} instead.")
        if sub is not None:
            cur = raw[sec].get(key)
            cur = {"source": cur} if isinstance(cur, str) else dict(cur) if isinstance(cur, Mapping) else {}
            if sub == "source" and cur.get("source") not in (None, value):
                cur = {}  # another source: the old one's options do not apply
            cur[sub] = value
            raw[sec][key] = cur
        else:
            raw[sec][key] = value


def _build(name: str, raw: Mapping[str, Any], source: str) -> Config:
    sections = {}
    for sec, fields in SCHEMA.items():
        given = raw.get(sec) or {}
        if not isinstance(given, Mapping):
            raise ShortcutlabError(f"The section {sec!r} of preset {name!r} must be a mapping of keys to "
                                   f"values. Got {given!r} instead.")
        for key in given:
            if key not in fields:
                raise ShortcutlabError(_unknown_key_msg(sec, key))
        values = {}
        for key, field in fields.items():
            value = given.get(key, field.default)
            if field.kind == "source":
                from .data.sources import validate_source

                values[key] = validate_source(key, value, name)
            else:
                values[key] = field.validate(value, name=key, where=f"section {sec!r} of preset {name!r}")
        sections[sec] = Section(sec, values)
    _check_across_fields(name, sections)
    return Config(name=name, sections=MappingProxyType(sections), source=source)


_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_model_name(model: str, key: str, preset: str) -> None:
    """A timm model name (or the package's own ``sl_cnn``), checked before anything runs."""
    from .models import available_models

    names = available_models()
    if model not in names:
        near = closest(model, names)
        hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
        raise ShortcutlabError(f"The '{key}' parameter of section 'train' of preset {preset!r} must be a timm model "
                               f"name (see timm.list_models()) or 'sl_cnn'. Got {model!r} instead.{hint}")


def _check_across_fields(name: str, sections: Mapping[str, Section]) -> None:
    """Checks that involve more than one field, or a field's use as a path."""
    if not _NAME_RE.match(name) or ".." in name:
        raise ShortcutlabError(f"The 'name' of a preset is used as a folder name (reports/<name>/, runs/<name>/) "
                               f"and must be letters, digits, '_', '-' or '.', starting with a letter or digit, "
                               f"without '..'. Got {name!r} instead.")
    seeds = sections["train"]["seeds"]
    if len(set(seeds)) != len(seeds):
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        raise ShortcutlabError(f"The 'seeds' parameter of section 'train' of preset {name!r} must list distinct "
                               f"seeds (a repeated seed trains once and fakes a CI across seeds). Got "
                               f"{list(seeds)!r} instead (repeated: {dup}).")
    d = sections["data"]
    for prefix, what in (("", "MRI"), ("echo_", "echo")):
        tf, vf = d[f"{prefix}test_fraction"], d[f"{prefix}val_fraction"]
        if tf + vf >= 1:
            raise ShortcutlabError(f"The '{prefix}test_fraction' and '{prefix}val_fraction' parameters of section "
                                   f"'data' of preset {name!r} must sum to less than 1 (the rest trains the {what} "
                                   f"models). Got {tf!r} + {vf!r} = {tf + vf:g} instead.")
    if d["echo"]["source"] != "phantom" and d["echo_ood"]["source"] == "phantom":
        raise ShortcutlabError(f"The 'echo_ood' parameter of section 'data' of preset {name!r} must name real data (a "
                               f"second site: folder, manifest or tmed2) when data.echo does (here "
                               f"{d['echo']['source']!r}); the phantom's o.o.d. sites are not another hospital's "
                               f"images of your views. Got source 'phantom' instead.")
    t = sections["train"]
    if t["weights"] == "random" and t["weights_file"]:
        raise ShortcutlabError(f"The 'weights_file' parameter of section 'train' of preset {name!r} is only used "
                               f"with weights: imagenet, and this preset has weights: random. Got "
                               f"{t['weights_file']!r} instead; remove it or set weights: imagenet.")
    if t["weights_file"] and not Path(t["weights_file"]).expanduser().is_file():
        raise ShortcutlabError(f"The 'weights_file' parameter of section 'train' of preset {name!r} must be an "
                               f"existing file. Got {t['weights_file']!r} instead.")
    for key in ("mri_model", "echo_model"):
        _check_model_name(t[key], key, name)
    if t["device"] == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise ShortcutlabError(f"The 'device' parameter of section 'train' of preset {name!r} is 'cuda', but "
                                   f"this machine has no CUDA device. Use 'auto' or 'cpu'.")
    a = sections["augment"]
    lam, f = a["wbackmix_lambda"], a["mask_fraction"]
    if lam * f > 1:
        raise ShortcutlabError(f"The 'wbackmix_lambda' parameter of section 'augment' of preset {name!r} must be "
                               f"at most 1 / mask_fraction = {1 / f:g} (the weight 1 - lambda f of a sample "
                               f"that is not augmented would be negative). Got {lam!r} instead.")


def _read_preset(path: Path, chain: tuple[str, ...]) -> dict:
    """A preset file's sections, with those of the preset it ``extends`` (a shipped preset's name, or a path
    relative to this file) underneath: a section's keys in this file replace the base's, the rest are kept."""
    if path.is_dir():
        raise ShortcutlabError(f"The 'preset' parameter of load_preset must name a YAML file. Got the folder "
                               f"{str(path)!r} instead.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise ShortcutlabError(f"The preset file {str(path)!r} must be UTF-8 text. Got a byte that is not UTF-8 "
                               f"at position {e.start} instead.") from None
    except OSError as e:
        raise ShortcutlabError(f"The preset file {str(path)!r} cannot be read ({type(e).__name__}: {e}).") from None
    except yaml.YAMLError as e:
        raise ShortcutlabError(f"The preset file {str(path)!r} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ShortcutlabError(f"The preset file {str(path)!r} must hold a mapping of sections. "
                               f"Got {type(raw).__name__} instead.")
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str) or not base_name:
        raise ShortcutlabError(f"The 'extends' field of preset file {str(path)!r} must name a preset (e.g. "
                               f"'default') or a YAML file. Got {base_name!r} instead.")
    local = path.parent / base_name
    base_path = local if local.suffix in (".yaml", ".yml") and local.exists() else _resolve(base_name)
    key = str(base_path.resolve())
    if key in chain or key == str(path.resolve()):
        raise ShortcutlabError(f"The 'extends' field of preset file {str(path)!r} makes a loop: "
                               f"{' -> '.join(Path(c).name for c in chain + (str(path.resolve()), key))}.")
    base = _read_preset(base_path, chain + (str(path.resolve()),))
    for k in ("name", "description"):
        base.pop(k, None)
    for sec, values in raw.items():
        if isinstance(values, Mapping) and isinstance(base.get(sec), Mapping):
            base[sec] = {**base[sec], **values}
        else:
            base[sec] = values
    return base


def load_preset(preset: str | Path = "default", overrides: Mapping[str, Any] | None = None) -> Config:
    """Load a preset by name (``smoke``, ``default``, ``paper``) or path, apply overrides, validate.

    Parameters
    ----------
    preset : str or Path
        Name of a file in ``params/`` or a path to a YAML file. A preset may start from another with
        ``extends: default`` (a name or a path relative to it) and write only what differs.
    overrides : dict, optional
        ``{"section.key": value}``, e.g. ``{"train.epochs": 2}``.

    Returns
    -------
    Config
        Frozen; ``cfg.train.epochs`` etc.
    """
    path = _resolve(preset)
    raw = _read_preset(path, ())
    name = raw.pop("name", path.stem)
    raw.pop("description", None)
    for sec in raw:
        if sec not in SCHEMA:
            near = closest(sec, SCHEMA)
            hint = f" Did you mean {', '.join(map(repr, near))}?" if near else ""
            raise ShortcutlabError(f"Unknown section {sec!r} in preset file {str(path)!r}.{hint} "
                                   f"Valid sections: {', '.join(SCHEMA)}.")
    raw = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    _apply_overrides(raw, overrides or {})
    return _build(str(name), raw, str(path))


def field_table() -> list[dict[str, Any]]:
    """All fields with defaults and docs, for the README and ``shortcutlab list``."""
    return [{"key": f"{s}.{k}", "default": f.default, "kind": f.kind, "doc": f.doc}
            for s, fs in SCHEMA.items() for k, f in fs.items()]

