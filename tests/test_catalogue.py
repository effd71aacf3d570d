"""A catalogue of bad inputs per public surface, in the spirit of scikit-learn's common tests.

Each row: a call with one bad input, the error class, and a pattern that must appear in the message: the
parameter, field or file, and the bad value. Rows run in milliseconds (no training); the cases that need a
trained study, a kernel or a file tree live beside their module's tests (test_cache, test_hang, test_loaders,
test_runner) and are listed at the end of this file.
"""
import math

import numpy as np
import pytest
import torch

from shortcutlab import DataError, ImageSet, ShortcutlabError, load_preset
from shortcutlab.interventions.background import wbackmix_weights
from shortcutlab.app.cli import main, parse_set
from shortcutlab.data.loaders import load_acdc, load_manifest, load_tmed2, read_image_file
from shortcutlab.metrics import (aks, auc, bootstrap_ci, correlation_ci, mean_ci_across, paired_bootstrap,
                                 summarize)
from shortcutlab.data.phantoms import make_cmr, make_echo


def _img(n=2, f=1, h=4, w=4):
    return torch.zeros(n, f, h, w, dtype=torch.uint8)


P2 = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9]])
Y2 = np.array([0, 1, 0, 1])

CONFIG = [
    ({"train.epochs": 0}, r"'epochs'.*Got 0"),
    ({"train.epochs": "ten"}, r"'epochs'.*Got 'ten'"),
    ({"train.lr": -1.0}, r"'lr'.*Got -1"),
    ({"train.seeds": [0, 0]}, r"'seeds'.*distinct.*\[0, 0\]"),
    ({"train.seeds": []}, r"'seeds'.*non-empty list.*Got \[\]"),
    ({"train.select_metric": "best"}, r"'select_metric'.*'val_auc'.*Got 'best'"),
    ({"train.mri_model": "resnet1"}, r"'mri_model'.*Got 'resnet1'"),
    ({"train.echo_model": "nope_net"}, r"'echo_model'.*Got 'nope_net'"),
    ({"train.weights_file": "x.pt"}, r"'weights_file'.*Got 'x.pt'"),
    ({"data.cmr_spurious_strength": 1.5}, r"'cmr_spurious_strength'.*\[0, 1\].*Got 1.5"),
    ({"data.test_fraction": 0.7, "data.val_fraction": 0.3}, r"'test_fraction' and 'val_fraction'.*= 1"),
    ({"augment.mask_fraction": 0.0}, r"'mask_fraction'.*Got 0"),
    ({"augment.wbackmix_lambda": float("inf")}, r"'wbackmix_lambda'.*Got inf"),
    ({"augment.mask_fraction": 0.25, "augment.wbackmix_lambda": 5.0}, r"'wbackmix_lambda'.*1 / mask_fraction = 4"),
    ({"saliency.method": "gradcam2"}, r"'method'.*Got 'gradcam2'"),
    ({"run.cell_timeout": 0}, r"'cell_timeout'.*Got 0"),
    ({"run.heartbeat_grace": -3}, r"'heartbeat_grace'.*Got -3"),
    ({"train.epoch": 3}, r"Unknown key 'epoch'.*'epochs'"),
    ({"trian.epochs": 3}, r"Unknown section 'trian'.*'train'"),
    ({"epochs": 3}, r"override key 'epochs'.*'section.key'"),
]


@pytest.mark.parametrize("overrides, pattern", CONFIG, ids=[str(c[0]) for c in CONFIG])
def test_config(overrides, pattern):
    with pytest.raises(ShortcutlabError, match=pattern):
        load_preset("smoke", overrides=overrides)


PHANTOMS = [
    (lambda: make_cmr("xx", n=8, size=32), r"'cohort'.*Got 'xx'"),
    (lambda: make_cmr(n=8, size=32, strength=2), r"'strength'.*Got 2"),
    (lambda: make_cmr(n=8, size=32, spurious="tattoo"), r"'spurious'.*Got 'tattoo'"),
    (lambda: make_cmr(n=8, size=32, seed="abc"), r"'seed'.*Got 'abc'"),
    (lambda: make_cmr(n=8, size=32, chunk=0), r"'chunk'.*Got 0"),
    (lambda: make_cmr(n=8, size=32, labels=[9] * 8), r"'labels'.*\[0, 3\]"),
    (lambda: make_echo("mars", n=8, size=32), r"'site'.*Got 'mars'"),
    (lambda: make_echo(n=8, size=32, chunk=-1), r"'chunk'.*Got -1"),
    (lambda: make_echo(n=8, size=32, overlay_strength=-0.1), r"'overlay_strength'.*Got -0.1"),
]

IMAGESET = [
    (lambda: ImageSet(images=torch.zeros(2, 1, 4, 4, dtype=torch.float64), labels=torch.tensor([0, 0]), class_names=("a",)),
     r"'images'.*uint8.*float32.*float64"),
    (lambda: ImageSet(images=_img(), labels=torch.tensor([0, 0]), class_names="normal"), r"'class_names'.*'normal'"),
    (lambda: ImageSet(images=_img(), labels=torch.tensor([0, 5]), class_names=("a", "b")), r"'labels'"),
    (lambda: ImageSet(images=_img(), labels=torch.tensor([0, 1]), class_names=("a", "b")).split(test=1.5),
     r"'test'.*Got 1.5"),
]

METRICS = [
    (lambda: auc(Y2, P2, "weighted"), r"'average'.*Got 'weighted'"),
    (lambda: auc(Y2, P2[:3]), r"'probs'"),
    (lambda: auc(np.array([0, 0, 0, 0]), P2), r"at least two classes.*\[0\]"),
    (lambda: bootstrap_ci(Y2, P2, lambda a, b: 0.0, n_boot=0), r"'n_boot'.*Got 0"),
    (lambda: bootstrap_ci(Y2, P2, lambda a, b: 0.0, ci=1.0), r"'ci'.*Got 1.0"),
    (lambda: paired_bootstrap(Y2, P2[:, 1], P2[:, 1]), r"'p_a' and 'p_b'.*\(4,\)"),
    (lambda: paired_bootstrap(Y2, P2, P2[:, :1]), r"'p_a' and 'p_b'.*\(4, 2\) and \(4, 1\)"),
    (lambda: correlation_ci([1, 2, 3], [1, 2]), r"'a' and 'b'.*\(3,\) and \(2,\)"),
    (lambda: aks(torch.rand(2, 4, 4), torch.zeros(2, 4, 5, dtype=torch.bool)), r"map and mask.*\(2, 4, 4\)"),
    (lambda: aks(torch.rand(2, 4, 4), torch.full((2, 4, 4), 2)), r"mask.*binary.*\[2\]"),
    (lambda: wbackmix_weights(torch.tensor([True]), 0.5, 3.0), r"'lambda'.*Got 3.0"),
    (lambda: wbackmix_weights(torch.tensor([True]), 0.0, 1.0), r"'f'.*Got 0.0"),
]


@pytest.mark.parametrize("call, pattern", PHANTOMS + IMAGESET + METRICS,
                         ids=[f"phantoms{i}" for i in range(len(PHANTOMS))] + [f"imageset{i}" for i in range(len(IMAGESET))]
                         + [f"metrics{i}" for i in range(len(METRICS))])
def test_api(call, pattern):
    with pytest.raises(ShortcutlabError, match=pattern):
        call()


def test_loaders(tmp_path):
    """Files and folders that are missing or malformed: a DataError naming the file or field."""
    cases = [
        (lambda: read_image_file(tmp_path / "nope.npy"), r"nope.npy' does not exist"),
        (lambda: load_acdc(tmp_path / "none", cache_dir=False), r"ACDC folder.*none' does not exist"),
        (lambda: load_manifest(tmp_path / "m.csv", cache_dir=False), r"manifest.*m.csv' does not exist"),
        (lambda: load_tmed2(tmp_path / "t", cache_dir=False), r"TMED2 folder.*'t'? ?does not exist|TMED2 folder"),
    ]
    (tmp_path / "x.txt").write_text("not an image")
    cases.append((lambda: read_image_file(tmp_path / "x.txt"), r"x.txt' has an unsupported type"))
    np.save(tmp_path / "three.npy", np.zeros((2, 3, 4)))
    cases.append((lambda: read_image_file(tmp_path / "three.npy"), r"three.npy' must hold a 2-D image.*\(2, 3, 4\)"))
    (tmp_path / "nolabel.csv").write_text("image,klass\na.npy,b\n")
    cases.append((lambda: load_manifest(tmp_path / "nolabel.csv", cache_dir=False), r"'label' column.*'klass'"))
    for call, pattern in cases:
        with pytest.raises(DataError, match=pattern):
            call()


CLI = [
    (["run", "--preset", "nope"], "'nope'"),
    (["run", "--preset", "smoke", "--set", "train.epoch=1"], "Unknown key 'epoch'"),
    (["run", "--preset", "smoke", "--set", "epochs"], "section.key=value"),
    (["run", "--preset", "smoke", "--only", "99"], "'only'.*99"),
    (["run", "--preset", "smoke", "--cell-timeout", "0"], "'execution_timeout'.*Got 0"),
    (["run", "--preset", "smoke", "--set", "train.seeds=[1, 1]"], r"'seeds'.*\[1, 1\]"),
    (["run", "--preset", "smoke", "--set", "train.mri_model=densenet12"], "'mri_model'.*'densenet12'"),
]


@pytest.mark.parametrize("argv, pattern", CLI, ids=[" ".join(a[2:]) for a in CLI])
def test_cli(argv, pattern, capsys):
    import re
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("shortcutlab: error: ") and re.search(pattern, err), err


def test_parse_set_keeps_yaml_types():
    assert parse_set(["train.seeds=[0, 1]", "train.lr=1e-3"]) == {"train.seeds": [0, 1], "train.lr": 1e-3}


def test_defined_edges_are_numbers_with_reasons():
    """Accepted by design, documented: an all-zero map has no AKS (NaN, counted); n <= 3 has no Fisher-z CI."""
    v = aks(torch.zeros(1, 4, 4), torch.ones(1, 4, 4, dtype=torch.bool))
    assert math.isnan(float(v[0]))
    s = summarize(np.array([0.5, np.nan, 0.7]), n_boot=50)
    assert s["n_nan"] == 1 and s["n"] == 2
    assert "n <= 3" in correlation_ci([1, 2, 3], [3, 1, 2])["reason"]
    m = mean_ci_across([0.8])
    assert m["n"] == 1 and math.isnan(m["lo"])


# Elsewhere (need a trained study, a kernel or a file tree):
#   test_cache.py    damaged / replaced / foreign cache entries, checkpoints and cached maps
#   test_hang.py     dead and frozen kernels, the finite default cell timeout
#   test_loaders.py  NaN pixels, ACDC ED/ES mismatch, NbFrame, 4-D NIfTI, manifest labels and rows, TMED2 orphans
#   test_runner.py   an unwritable --out, a cell that never returns
#   test_config.py   non-UTF-8 and folder presets, a non-mapping section with --set, unsafe preset names
#   test_train_study.py  a setting typo in Study.run


def test_scientific_notation_in_a_preset_file(tmp_path):
    """YAML 1.1 reads `lr: 1e-3` as a string; a float field takes it as the number the user wrote."""
    p = tmp_path / "sci.yaml"
    p.write_text("train:\n  lr: 1e-3\n")
    assert load_preset(p).train.lr == 1e-3


def test_papermill_parameters_of_the_wrong_type(tmp_path):
    """What a notebook's UPPERCASE parameters feed (SEED, FRACTIONS, LAMBDAS) is checked by the call it reaches."""
    from shortcutlab.study.backmix import semi_supervised
    from shortcutlab.study import Study
    study = Study(load_preset("smoke"), root=tmp_path, progress=False)
    with pytest.raises(ShortcutlabError, match="'seed' parameter of Study.run.*Got 'abc'"):
        study.run("cm", "full", seed="abc")
    with pytest.raises(ShortcutlabError, match="'seed' parameter of Study.pretrain.*Got -1"):
        study.pretrain("simclr", seed=-1)
    with pytest.raises(ShortcutlabError, match="'fractions' parameter of semi_supervised.*list of numbers.*Got 0.05"):
        semi_supervised(study, fractions=0.05)
    with pytest.raises(ShortcutlabError, match=r"'fractions' parameter of semi_supervised.*\(0, 1\].*Got 1.5"):
        semi_supervised(study, fractions=[1.5])
    with pytest.raises(ShortcutlabError, match=r"'lambdas' parameter of semi_supervised.*\[0, 20(\.0)?\].*Got 50"):
        semi_supervised(study, lambdas=[50])


SETUP = [
    ({"SEED": "abc"}, r"'SEED' parameter of the notebook's parameters.*Got 'abc'"),
    ({"SEED": -1}, r"'SEED'.*Got -1"),
    ({"FRACTIONS": 0.05}, r"'FRACTIONS'.*non-empty list of numbers.*Got 0.05"),
    ({"FRACTIONS": [0.0]}, r"'FRACTIONS'.*\(0, 1\].*Got 0"),
    ({"LAMBDAS": "1"}, r"'LAMBDAS'.*list of numbers.*Got '1'"),
    ({"N_SUBSETS": 0}, r"'N_SUBSETS'.*Got 0"),
    ({"STRENGTHS": [0.5, 2]}, r"'STRENGTHS'.*\[0, 1\].*Got 2"),
    ({"METHOD": "simclr2"}, r"'METHOD'.*'simclr'.*Got 'simclr2'"),
    ({"SEEDS": 0}, r"notebook parameter 'SEEDS'.*Did you mean 'SEED'"),
]


@pytest.mark.parametrize("params, pattern", SETUP, ids=[str(c[0]) for c in SETUP])
def test_notebook_setup_checks_its_parameters_before_anything_runs(params, pattern, tmp_path):
    """The notebooks' first code cell (sl.setup) stops on a bad papermill parameter, naming it and its value."""
    import shortcutlab as sl

    with pytest.raises(ShortcutlabError, match=pattern):
        sl.setup("smoke", None, str(tmp_path), **params)
    with pytest.raises(ShortcutlabError, match=r"'OVERRIDES'.*mapping.*Got \['train.epochs'\]"):
        sl.setup("smoke", ["train.epochs"], str(tmp_path))


def test_a_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    """Disk full while writing weights: a clear error naming the file, no temporary file left, the old file kept."""
    import errno

    from shortcutlab._io import atomic_torch_save
    target = tmp_path / "weights.pt"
    atomic_torch_save({"w": torch.ones(2)}, target)

    def full(obj, f, *a, **k):
        open(f, "wb").write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(ShortcutlabError, match=r"Writing '.*weights.pt' failed.*No space left.*Free disk space"):
        atomic_torch_save({"w": torch.zeros(2)}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt"]
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.ones(2))


def test_new_parameters_of_this_round(tmp_path):
    """Parameters added with the claims, the overlap bounds and the setup call name themselves and the bad value."""
    import shortcutlab as sl
    from shortcutlab.metrics import overlap_bounds, verdict
    from shortcutlab.study import RunSet, Study
    from shortcutlab.study.claims import contextual_claims

    with pytest.raises(ShortcutlabError, match=r"'test' parameter of verdict.*'greater'.*Got 'up'"):
        verdict(0.1, 0.2, test="up")
    with pytest.raises(ShortcutlabError, match=r"'cam_size' parameter of overlap_bounds.*Got 0"):
        overlap_bounds(torch.zeros(1, 8, 8, dtype=torch.bool), 0)
    with pytest.raises(ShortcutlabError, match=r"'cam_size' parameter of overlap_bounds.*Got 9"):
        overlap_bounds(torch.zeros(1, 8, 8, dtype=torch.bool), 9)
    study = Study(load_preset("smoke"), root=tmp_path, progress=False)
    with pytest.raises(ShortcutlabError, match=r"'conditions' parameter of contextual_claims.*Got \('full', 'seg'\)"):
        contextual_claims(study, RunSet(), conditions=("full", "seg"))
    with pytest.raises(ShortcutlabError, match=r"'notebook' parameter of setup.*Got '../x'"):
        sl.setup("smoke", None, str(tmp_path), notebook="../x")
