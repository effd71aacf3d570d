"""Data sources in the preset: real formats the tests write themselves, splits without leakage, partial
masks, estimated sector masks, ImageNet initialization from a local file, and phantom parts that degrade."""
import json
import warnings

import numpy as np
import pytest
import torch

import shortcutlab as sl
from shortcutlab import DataError, ShortcutlabError
from shortcutlab.data.examples import write_acdc_like, write_folder_like, write_manifest_like, write_tmed2_like
from shortcutlab.data.sources import cmr_data, cohort_data, echo_data
from shortcutlab.study import RunSet, Study


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = tmp_path_factory.mktemp("realdata")
    return {"acdc": write_acdc_like(root / "acdc", 50, size=48, seed=1),
            "tmed2": write_tmed2_like(root / "tmed2", 30, size=64, seed=2),
            "manifest": write_manifest_like(root / "man", 60, size=48, seed=3),
            "ood": write_folder_like(root / "ood", 48, size=64, seed=4), "root": root}


def _cfg(real, tmp_path, **extra):
    ov = {"data.acdc.source": "acdc", "data.acdc.path": str(real["acdc"]),
          "data.cm.source": "manifest", "data.cm.path": str(real["manifest"]),
          "data.cm.label_map": {"0": "other", "1": "amyloid"},
          "data.echo.source": "tmed2", "data.echo.path": str(real["tmed2"]), "data.echo.masks": "estimate",
          "data.echo_ood.source": "folder", "data.echo_ood.path": str(real["ood"]), "data.echo_ood.masks": "estimate",
          "study.root": str(tmp_path / "runs")}
    ov.update(extra)
    return sl.load_preset("smoke", ov)


def _patients(s):
    return set(s.meta.get("patient") or s.meta.get("group_name"))


def test_phantom_is_the_default_and_unchanged(tmp_path):
    cfg = sl.load_preset("smoke", {"study.root": str(tmp_path)})
    assert all(cfg.data[c] == {"source": "phantom"} for c in ("cm", "acdc", "echo", "echo_ood"))
    a, b = cohort_data(cfg, "cm", cache_dir=False), cmr_data(cfg, "cm", cache_dir=False)
    assert a.keys() == b.keys() and all(torch.equal(a[k].images, b[k].images) for k in a)
    e, f = cohort_data(cfg, "echo", cache_dir=False), echo_data(cfg, cache_dir=False)
    assert all(torch.equal(e[k].images, f[k].images) for k in e)
    spec = Study(cfg, progress=False)._data_spec("cm", None)  # the cache key of every phantom run
    assert spec == {"cohort": "cm", "n": 60, "size": 48, "seed": 0, "kind": "marker", "strength": 0.9,
                    "systemic": True, "split": [0.3, 0.1], "pairs_n": 0}
    assert set(a) == {"train", "val", "test", "test_decorrelated", "test_aligned", "test_conflict"}
    assert set(e) == {"train", "val", "test", "ood", "ood_bg_agree", "ood_bg_conflict", "ood_bg_vendor", "ood_bg_black"}


def test_every_source_loads_splits_without_leakage(real, tmp_path):
    cfg = _cfg(real, tmp_path)
    study = Study(cfg, progress=False)
    acdc = study.data("acdc")
    assert set(acdc) == {"train", "val", "test"}  # no decorrelated set: real data
    assert acdc["train"].num_frames == 2 and bool(acdc["test"].has_mask.all())
    assert acdc["train"].class_names == sl.data.loaders.ACDC_CLASSES
    cm = study.data("cm")
    assert cm["train"].class_names == ("amyloid", "other") and cm["test"].num_classes == 2
    with pytest.warns(UserWarning, match="skipped 10 row.*A4CorA2CorOther"):
        echo = cohort_data(cfg, "echo", cache_dir=False)
    # TMED2: the CSV's own split (studies 60/20/20), PNG study ids as patients, estimated sector masks
    assert [len(echo[k]) for k in ("train", "val", "test")] == [66, 22, 22]
    assert bool(echo["train"].has_mask.all()) and echo["ood"].class_names == echo["train"].class_names
    for parts in (acdc, cm, echo):
        names = [k for k in ("train", "val", "test")]
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert not _patients(parts[a]) & _patients(parts[b]), (a, b)
        for k in names:  # every class in every split (stratified)
            assert min(parts[k].class_counts().values()) > 0, (k, parts[k].class_counts())
    table = study.describe_data()
    assert set(table["source"]) == {"manifest", "acdc", "tmed2"}
    assert table.set_index(["cohort", "split"]).loc[("echo", "ood"), "images"] == 48


def test_a_split_column_is_used_and_a_patient_in_two_splits_is_an_error(real, tmp_path):
    rows = (real["manifest"].read_text().splitlines())
    head, body = rows[0] + ",split", rows[1:]
    ok = [f"{r},{'test' if i % 4 == 0 else 'train'}" for i, r in enumerate(body)]
    (real["manifest"].parent / "split.csv").write_text("\n".join([head, *ok]) + "\n")
    cfg = _cfg(real, tmp_path, **{"data.cm.path": str(real["manifest"].parent / "split.csv")})
    d = cohort_data(cfg, "cm", cache_dir=False)
    assert len(d["test"]) == 15 and len(d["train"]) + len(d["val"]) == 45  # val carved from the source's train
    # row 0 again, now in train: its patient sits in test and in train
    (real["manifest"].parent / "leak.csv").write_text("\n".join([head, *ok, ok[0].rsplit(",", 1)[0] + ",train"]) + "\n")
    cfg = _cfg(real, tmp_path, **{"data.cm.path": str(real["manifest"].parent / "leak.csv")})
    with pytest.raises(DataError, match=r"share 1 patient.*'train' and 'test'|share 1 patient.*'test' and 'train'"):
        cohort_data(cfg, "cm", cache_dir=False)


@pytest.mark.parametrize("over, pattern", [
    ({"data.acdc.source": "acdcc"}, r"'source' parameter of data.acdc.*'phantom', 'acdc'.*Got 'acdcc'.*Did you mean 'acdc'"),
    ({"data.acdc.source": "tmed2", "data.acdc.path": "/"}, r"'source' parameter of data.acdc.*for an MRI cohort.*'tmed2'"),
    ({"data.acdc.path": "/tmp"}, r"Unknown option 'path' in data.acdc.*source 'phantom'"),
    ({"data.acdc.source": "acdc"}, r"'path' parameter of data.acdc.*existing folder.*Got None|'path' parameter of data.acdc.*folder.*None"),
    ({"data.acdc.source": "acdc", "data.acdc.path": "/no/such/dir"}, r"'path'.*data.acdc.*existing folder.*'/no/such/dir'.*--set data.acdc.path="),
    ({"data.acdc.source": "acdc", "data.acdc.path": "TMP"}, r"'path'.*data.acdc.*patientXXX"),
    ({"data.acdc.source": "acdc", "data.acdc.path": "ACDC", "data.acdc.slice": "mid"}, r"Unknown option 'slice'.*Did you mean 'slices'"),
    ({"data.acdc.source": "acdc", "data.acdc.path": "ACDC", "data.acdc.slices": "some"}, r"'slices' parameter of data.acdc.*'mid', 'all'.*'some'"),
    ({"data.echo.source": "tmed2", "data.echo.path": "TMED2"}, r"'echo_ood' parameter.*must name real data.*'phantom'"),
    ({"data.cm.source": "manifest", "data.cm.path": "MAN", "data.cm.classes": "normal"}, r"'classes' parameter of data.cm.*list of at least two.*'normal'"),
    ({"data.cm": 5}, r"'data.cm' parameter.*source name or a mapping.*Got 5"),
    ({"data.acdc.source": "acdc", "data.acdc.path": "ACDC", "data.acdc.size": 2}, r"'size' parameter of data.acdc.*int in \[4, 1024\].*Got 2"),
    ({"data.cm.source": "manifest", "data.cm.path": "MAN", "data.cm.masks": "guess"}, r"'masks' parameter of data.cm.*'file', 'estimate', 'none'.*'guess'"),
    ({"data.cm.source": "manifest", "data.cm.path": "MAN", "data.cm.label_map": ["a"]}, r"'label_map' parameter of data.cm.*mapping of labels.*\['a'\]"),
    ({"data.cm.source": "manifest", "data.cm.path": "ACDC"}, r"'path' parameter of data.cm.*existing file.*acdc"),
    ({"train.weights": "some"}, r"'weights' parameter.*'random', 'imagenet', 'auto'.*'some'"),
])
def test_bad_sources_are_clear_errors_when_the_preset_loads(real, tmp_path, over, pattern):
    subst = {"TMP": str(tmp_path), "ACDC": str(real["acdc"]), "TMED2": str(real["tmed2"]), "MAN": str(real["manifest"])}
    over = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in over.items()}
    with pytest.raises(ShortcutlabError, match=pattern):
        sl.load_preset("smoke", over)


def test_example_presets_need_a_path_and_load_with_one(real):
    with pytest.raises(ShortcutlabError, match=r"'path' parameter of data.acdc of preset 'acdc'.*--set data.acdc.path"):
        sl.load_preset("acdc")
    cfg = sl.load_preset("acdc", {"data.acdc.path": str(real["acdc"])})
    assert cfg.data.acdc["source"] == "acdc" and cfg.data.cm["source"] == "phantom"
    cfg = sl.load_preset("tmed2", {"data.echo.path": str(real["tmed2"]), "data.echo_ood.path": str(real["ood"])})
    assert cfg.data.echo["masks"] == "estimate" and cfg.data.echo_ood["source"] == "folder"


def test_cli_set_makes_a_relative_data_path_absolute(tmp_path, monkeypatch):
    from shortcutlab.app.cli import parse_set

    monkeypatch.chdir(tmp_path)
    assert parse_set(["data.acdc.path=ACDC"]) == {"data.acdc.path": str(tmp_path / "ACDC")}
    assert parse_set(["train.epochs=2"]) == {"train.epochs": 2}


def test_partial_masks_stop_mask_conditions_and_backmix_uses_only_masked(real, tmp_path):
    lines = real["manifest"].read_text().splitlines()
    # rows 1-12 lose their masks
    body = [(",".join([r.split(",")[0], ""] + r.split(",")[2:]) if 1 <= i <= 12 else r) for i, r in enumerate(lines[1:], 1)]
    (real["manifest"].parent / "partial.csv").write_text("\n".join([lines[0], *body]) + "\n")
    cfg = _cfg(real, tmp_path, **{"data.cm.path": str(real["manifest"].parent / "partial.csv"), "train.epochs": 1})
    study = Study(cfg, progress=False)
    n_train = len(study.data("cm")["train"])
    lacking = int((~study.data("cm")["train"].has_mask).sum())
    assert 0 < lacking < n_train
    for cond in ("seg", "rand", "black"):
        with pytest.raises(ShortcutlabError, match=rf"'{cond}' needs .*mask.*data.cm \(manifest.*{lacking} of {n_train} have none.*e\.g\. \['img/"):
            study.run("cm", cond)
    from shortcutlab.interventions.pipeline import BatchPipeline

    tr = study.data("cm")["train"]
    pipe = BatchPipeline(tr, "backmix", batch_size=8, train=True, f=0.2, seed=0)
    assert bool(pipe.augmented.any()) and not bool((pipe.augmented & ~tr.has_mask).any())  # donors: masked only
    run = study.run("cm", "backmix", f=0.2)
    ov = run.overlap("test")["aks"]
    test = study.data("cm")["test"]
    assert ov["n_images"] == min(int(test.has_mask.sum()), cfg.saliency.max_images)
    assert ov["n_without_mask"] == int((~test.has_mask).sum())
    assert bool(test.has_mask[torch.as_tensor(run.cams("test")["index"])].all())


def test_sector_mask_matches_the_echo_phantom():
    from shortcutlab.masks import sector_mask

    dice = []
    for site, seed in (("id", 11), ("ood", 12)):
        e = sl.make_echo(site, 64, 112, seed=seed)
        m = sector_mask(e.images)
        assert m.shape == e.masks.shape and m.dtype == torch.bool
        inter = (m & e.masks).flatten(1).sum(1).float()
        dice.append(2 * inter / (m.flatten(1).sum(1) + e.masks.flatten(1).sum(1)).float())
    assert float(torch.cat(dice).mean()) >= 0.95
    assert not bool(sector_mask(torch.zeros(1, 1, 8, 8, dtype=torch.uint8)).any())
    with pytest.raises(ShortcutlabError, match=r"'images' parameter of sector_mask.*\[N, F, H, W\]"):
        sector_mask(torch.zeros(8, 8))
    with pytest.raises(ShortcutlabError, match=r"'threshold' parameter of sector_mask.*Got 1.5"):
        sector_mask(torch.zeros(1, 1, 8, 8), threshold=1.5)
    with pytest.raises(ShortcutlabError, match=r"'closing' parameter of sector_mask.*Got -1"):
        sector_mask(torch.zeros(1, 1, 8, 8), closing=-1)
    with pytest.raises(ShortcutlabError, match=r"'images' parameter of sector_mask.*NaN"):
        sector_mask(torch.full((1, 1, 8, 8), float("nan")))


def test_phantom_only_parts_are_absent_on_real_data(real, tmp_path):
    from shortcutlab._absent import absent_reason
    from shortcutlab.study import claims, dial

    study = Study(_cfg(real, tmp_path), progress=False)
    assert "needs a phantom" in absent_reason(study.calibration())
    assert len(dial.dial_runs(study, strengths=(0.5,))) == 0
    assert "needs a phantom" in absent_reason(dial.shortcut_dial(study, dial.dial_runs(study, strengths=(0.5,))))
    assert "needs a phantom" in absent_reason(sl.plots.plot_dial(dial.shortcut_dial(study, RunSet())))
    with pytest.raises(ShortcutlabError, match="'strength' parameter.*only be set for a phantom.*data.cm"):
        study.data("cm", strength=0.5)
    t = claims.saliency_claims(study, RunSet())
    assert list(t["verdict"]) == ["n/a (needs a phantom)"]
    report = sl.open_report(tmp_path / "rep")
    assert report.table(study.calibration(), "calibration") is not None
    assert report.save_figure(sl.plots.plot_calibration(study.calibration()), "calibration_fig") is None
    assert set(report.results()["absent"]) == {"calibration", "calibration_fig"}


def test_imagenet_initialization_from_a_local_file(tmp_path):
    """weights: imagenet with a local 3-channel timm state dict: the 1-channel encoder's first convolution is timm's
    channel adaptation of the file's, every other tensor is the file's."""
    import timm
    from timm.models import adapt_input_conv
    from shortcutlab.models import build_model

    torch.manual_seed(0)
    ref = timm.create_model("resnet18", pretrained=False, num_classes=1000)  # a stand-in for ImageNet weights
    state = ref.state_dict()
    path = tmp_path / "resnet18.pth"
    torch.save(state, path)
    model = build_model("resnet18", 4, 1, weights="imagenet", weights_file=str(path))
    enc = model.encoder.state_dict()
    assert torch.allclose(enc["conv1.weight"], adapt_input_conv(1, state["conv1.weight"]))
    others = [k for k in enc if k != "conv1.weight"]
    assert others and all(torch.equal(enc[k], state[k]) for k in others)
    fresh = build_model("resnet18", 4, 1, weights="random")
    assert not torch.equal(fresh.encoder.state_dict()["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"])
    with pytest.raises(ShortcutlabError, match="weights_file.*only used with weights: imagenet"):
        sl.load_preset("smoke", {"train.weights_file": str(path)})
    # weights: auto (the example presets): ImageNet when a file is given, and the file is part of the run's key
    auto = Study(sl.load_preset("smoke", {"train.weights": "auto", "study.root": str(tmp_path)}), progress=False)
    assert auto.initial_weights() == ("random", "") and "weights_file" not in auto.spec("cm", "full")
    given = Study(sl.load_preset("smoke", {"train.weights": "auto", "train.weights_file": str(path),
                                           "train.mri_model": "resnet18", "study.root": str(tmp_path)}), progress=False)
    assert given.initial_weights() == ("imagenet", str(path))
    spec = given.spec("cm", "full")
    assert spec["weights"] == "imagenet" and len(spec["weights_file"]) == 16


def test_bad_folders_and_tmed2_files_are_clear_errors(real, tmp_path):
    from shortcutlab.data.loaders import load_folder, load_tmed2

    with pytest.raises(DataError, match=r"class folder '.*nope' does not exist"):
        load_folder(tmp_path / "nope", cache_dir=False)
    with pytest.raises(DataError, match=r"one sub-folder per class \['PLAX', 'XX'\].*extra folders.*'A2C'.*no folder for \['XX'\]"):
        load_folder(real["ood"], classes=["PLAX", "XX"], cache_dir=False)
    with pytest.raises(DataError, match=r"'group_regex'.*regular expression.*'\('"):
        load_folder(real["ood"], group_regex="(", cache_dir=False)
    with pytest.raises(DataError, match=r"'group_regex' '\^x.*must capture a patient id.*no match in '.*s000_2.png'"):
        load_folder(real["ood"], group_regex=r"^x(\d)", cache_dir=False)
    s = load_folder(real["ood"], group_regex=r"^(s\d+)_", size=32, cache_dir=False)  # s003_1.png: patient s003
    assert len(set(s.meta["patient"])) == 12 and len(s) == 48
    with pytest.raises(DataError, match=r"labels CSV '.*missing.csv' does not exist"):
        load_tmed2(real["tmed2"], csv_path="missing.csv", cache_dir=False)
    (real["root"] / "t2").mkdir()
    (real["root"] / "t2" / "labels.csv").write_text("query_key,view_label,view_classifier_split,SourceFolder\n"
                                                    "gone_0.png,PLAX,train,img/\n")
    with pytest.raises(DataError, match=r"names 1 image\(s\) that do not exist.*gone_0.png"):
        load_tmed2(real["root"] / "t2", cache_dir=False)
