import pytest

from shortcutlab import ShortcutlabError, available_presets, load_preset
from shortcutlab.config import SCHEMA


def test_presets_exist_and_validate():
    assert {"smoke", "default", "paper", "acdc", "tmed2"} <= set(available_presets())
    for name in available_presets():
        if name in ("acdc", "tmed2"):  # examples for real data: they need the user's path (tests/test_sources.py)
            with pytest.raises(ShortcutlabError, match=r"'path' parameter of data\.\w+ of preset"):
                load_preset(name)
            continue
        cfg = load_preset(name)
        assert cfg.name == name
        assert set(cfg.sections) == set(SCHEMA)


def test_overrides_and_frozen():
    cfg = load_preset("smoke", overrides={"train.epochs": 2, "train.seeds": [0, 1]})
    assert cfg.train.epochs == 2 and cfg.train.seeds == (0, 1)
    with pytest.raises(AttributeError, match="frozen"):
        cfg.train.epochs = 3
    cfg2 = cfg.replace({"data.cmr_n": 99})
    assert cfg2.data.cmr_n == 99 and cfg.data.cmr_n != 99


def test_unknown_key_names_section_and_closest():
    with pytest.raises(ShortcutlabError) as e:
        load_preset("smoke", overrides={"train.epoch": 2})
    msg = str(e.value)
    assert "'epoch'" in msg and "'train'" in msg and "'epochs'" in msg


def test_unknown_section():
    with pytest.raises(ShortcutlabError, match="Unknown section 'trian'.*'train'"):
        load_preset("smoke", overrides={"trian.epochs": 2})


def test_bad_override_form():
    with pytest.raises(ShortcutlabError, match="section.key"):
        load_preset("smoke", overrides={"epochs": 2})


@pytest.mark.parametrize("key,value,allowed", [
    ("data.cmr_spurious_strength", 1.5, r"a float in \[0, 1\]"),
    ("train.epochs", 0, r"an int in \[1, 10000\]"),
    ("train.epochs", "ten", "an int"),
    ("train.lr", -1.0, r"a float in \(0, 10\]"),
    ("train.device", "tpu", "one of 'auto', 'cpu', 'cuda'"),
    ("data.cmr_systemic", "yes", "a bool"),
    ("augment.mask_fraction", 0.0, r"a float in \(0, 1\]"),
    ("contrastive.momentum", 1.0, r"a float in \[0, 1\)"),
    ("contrastive.methods", ["simclr", "swav"], "one of 'simclr', 'moco', 'byol'"),
    ("train.seeds", [], "a non-empty list"),
])
def test_bad_values_one_message_form(key, value, allowed):
    with pytest.raises(ShortcutlabError) as e:
        load_preset("smoke", overrides={key: value})
    msg = str(e.value)
    assert msg.startswith(f"The '{key.split('.')[1]}") and "must be" in msg and "Got" in msg and "instead" in msg
    import re
    assert re.search(allowed, msg), msg


def test_missing_preset_lists_available():
    with pytest.raises(ShortcutlabError) as e:
        load_preset("smok")
    msg = str(e.value)
    assert "'smoke'" in msg and "'default'" in msg and "'smok'" in msg


def test_missing_preset_file(tmp_path):
    with pytest.raises(ShortcutlabError, match="does not exist.*smoke"):
        load_preset(tmp_path / "nope.yaml")


def test_preset_file_with_unknown_key(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("data:\n  cmr_nn: 5\n")
    with pytest.raises(ShortcutlabError, match="Unknown key 'cmr_nn' in section 'data'.*'cmr_n'"):
        load_preset(p)


def test_preset_file_partial_uses_defaults(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\ntrain:\n  epochs: 3\n")
    cfg = load_preset(p)
    assert cfg.name == "mine" and cfg.train.epochs == 3
    assert cfg.data.cmr_n == SCHEMA["data"]["cmr_n"].default


def test_invalid_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("data: [1, 2\n")
    with pytest.raises(ShortcutlabError, match="not valid YAML"):
        load_preset(p)


def test_to_json_roundtrip_stable():
    a = load_preset("smoke").to_json()
    b = load_preset("smoke").to_json()
    assert a == b


def test_checks_across_fields(tmp_path):
    """Repeated seeds, a wBackMix weight that would go negative, and a preset name that escapes reports/ are
    errors naming the field and the value."""
    with pytest.raises(ShortcutlabError, match=r"'seeds' parameter of section 'train'.*distinct.*\[0, 0\].*"
                                                r"repeated: \[0\]"):
        load_preset("smoke", overrides={"train.seeds": [0, 0]})
    assert load_preset("smoke", overrides={"train.seeds": [0, 1, 2]}).train.seeds == (0, 1, 2)
    with pytest.raises(ShortcutlabError, match=r"'wbackmix_lambda'.*at most 1 / mask_fraction = 2.*Got 3"):
        load_preset("smoke", overrides={"augment.mask_fraction": 0.5, "augment.wbackmix_lambda": 3.0})
    with pytest.raises(ShortcutlabError, match="'wbackmix_lambda'.*Got inf"):
        load_preset("smoke", overrides={"augment.wbackmix_lambda": float("inf")})
    for bad in ("../escape", "a/b", ".hidden", ""):
        p = tmp_path / "named.yaml"
        p.write_text(f"name: {bad!r}\n")
        with pytest.raises(ShortcutlabError, match=r"'name' of a preset.*folder name.*Got"):
            load_preset(p)
    with pytest.raises(ShortcutlabError, match="'cell_timeout' parameter of section 'run'.*Got 0"):
        load_preset("smoke", overrides={"run.cell_timeout": 0})


def test_early_checks_before_anything_runs(tmp_path):
    """Everything that can be checked from the preset is checked by load_preset (and so by `shortcutlab run`
    before any notebook starts): model names, the device, split fractions, weights_file, section shapes."""
    with pytest.raises(ShortcutlabError, match="'mri_model'.*Got 'densenet12'.*'densenet121'"):
        load_preset("smoke", overrides={"train.mri_model": "densenet12"})
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ShortcutlabError, match="'device'.*'cuda'.*no CUDA device"):
            load_preset("smoke", overrides={"train.device": "cuda"})
    with pytest.raises(ShortcutlabError, match=r"'echo_test_fraction' and 'echo_val_fraction'.*0.6 \+ 0.5 = 1.1"):
        load_preset("smoke", overrides={"data.echo_test_fraction": 0.6, "data.echo_val_fraction": 0.5})
    with pytest.raises(ShortcutlabError, match="'weights_file'.*weights: random.*'w.pt'"):
        load_preset("smoke", overrides={"train.weights_file": "w.pt"})
    with pytest.raises(ShortcutlabError, match="'weights_file'.*existing file.*'missing.pt'"):
        load_preset("smoke", overrides={"train.weights": "imagenet", "train.weights_file": "missing.pt"})
    p = tmp_path / "five.yaml"
    p.write_text("train: 5\n")
    with pytest.raises(ShortcutlabError, match="section 'train'.*mapping.*'train.epochs'.*Got 5"):
        load_preset(p, overrides={"train.epochs": 2})
    p.write_text("train:\n")
    assert load_preset(p, overrides={"train.epochs": 2}).train.epochs == 2
    p.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ShortcutlabError, match="must be UTF-8"):
        load_preset(p)
    with pytest.raises(ShortcutlabError, match="must name a YAML file.*folder"):
        load_preset(tmp_path)


def test_a_setting_declared_once_reaches_its_settings_class_and_the_cache_key(monkeypatch):
    """A training setting is one line in SCHEMA: the settings class, from_config, validation and the cache key
    follow from it; one marked results=False stays out of the cache key."""
    import dataclasses

    from shortcutlab.config import Field, result_settings, settings_class, settings_values

    monkeypatch.setitem(SCHEMA["train"], "label_smoothing", Field(0.0, "float", 0, 1, setting=("fit",)))
    monkeypatch.setitem(SCHEMA["train"], "log_every", Field(10, "int", 1, 1000, setting=("fit",), results=False))
    cls = settings_class("S", "fit", "test")
    names = {f.name for f in dataclasses.fields(cls)}
    assert {"label_smoothing", "log_every", "lr", "f", "lam"} <= names
    assert cls().label_smoothing == 0.0 and cls().log_every == 10
    cfg = load_preset("smoke", {"train.label_smoothing": 0.1, "train.log_every": 5})
    values = settings_values(cfg, "fit", "mri")
    assert values["label_smoothing"] == 0.1 and values["log_every"] == 5
    key = result_settings(values, "fit")
    assert key["label_smoothing"] == 0.1 and "log_every" not in key and "device" not in key
    with pytest.raises(ShortcutlabError, match=r"'label_smoothing' parameter of section 'train'.*Got 1\.5 instead"):
        load_preset("smoke", {"train.label_smoothing": 1.5})


def test_train_settings_and_cache_spec_follow_the_schema(tmp_path):
    """Every schema 'fit' setting is a TrainSettings field read from the preset; the run's cache key holds exactly
    the ones that change results (device, threads and the evaluation batch size are left out)."""
    import dataclasses

    from shortcutlab.config import setting_fields
    from shortcutlab.study import Study
    from shortcutlab.train import TrainSettings

    declared = {f.name or k for _, k, f in setting_fields("fit")}
    assert {f.name for f in dataclasses.fields(TrainSettings)} == declared | {"geometric", "mask_subset"}
    cfg = load_preset("smoke", {"train.echo_epochs": 3, "train.epochs": 2, "augment.rotate_echo": 11.0,
                                "train.eval_batch_size": 7})
    echo = TrainSettings.from_config(cfg, "echo")
    assert echo.epochs == 3 and echo.geometric.rotate == 11.0 and echo.eval_batch_size == 7
    assert TrainSettings.from_config(cfg, "mri").epochs == 2
    spec = Study(cfg, root=tmp_path, progress=False).spec("cm", "full")
    compute = {"precision", "channels_last", "compile"}   # in the key as their resolved effect, spec["compute"]
    assert set(spec["train"]) == (declared - {"device", "threads", "eval_batch_size"} - compute) | {"geometric", "mask_subset"}
    assert spec["compute"]["channels_last"] is True


def test_config_pickles_frozen():
    """A Config travels to Ray's workers by pickle and comes back equal and still frozen."""
    import pickle

    cfg = load_preset("smoke", overrides={"train.epochs": 3})
    back = pickle.loads(pickle.dumps(cfg))
    assert back.to_json() == cfg.to_json() and back.train.epochs == 3
    with pytest.raises(AttributeError, match="frozen"):
        back.train.epochs = 4
    with pytest.raises(AttributeError, match="epoch"):
        back.train.epoch


def test_lab_preset_from_the_environment_and_paths_from_the_project_root(tmp_path, monkeypatch):
    """`make lab PRESET=smoke` sets SHORTCUTLAB_PRESET: a notebook opened by hand (no REPORT_DIR) whose PRESET cell
    is unchanged takes it; a changed PRESET and `shortcutlab run` (REPORT_DIR set) do not. A preset path relative
    to the project root loads from a kernel started in notebooks/ (or anywhere)."""
    import shortcutlab as sl

    monkeypatch.setenv("SHORTCUTLAB_PRESET", "smoke")
    monkeypatch.setattr("shortcutlab.app.notebook.REPORTS_DIR", tmp_path / "reports")
    over = {"study.root": str(tmp_path / "runs")}
    assert sl.setup("default", over, None, notebook="01_contextual_bias").cfg.name == "smoke"
    assert sl.setup("paper", {**over, "train.device": "cpu"}, None, notebook="01_contextual_bias").cfg.name == "paper"
    assert sl.setup("default", over, str(tmp_path / "r")).cfg.name == "default"
    monkeypatch.chdir(tmp_path)
    assert load_preset("params/smoke.yaml").name == "smoke"
    with pytest.raises(ShortcutlabError, match="does not exist"):
        load_preset("params/nope.yaml")


def test_a_preset_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch):
    (tmp_path / "smoke").mkdir()  # e.g. a data folder named like the preset, in the shell's folder
    monkeypatch.chdir(tmp_path)
    assert load_preset("smoke").name == "smoke"


def test_presets_extend_each_other(tmp_path):
    """``extends:`` starts from another preset; a section's keys replace the base's, the rest are kept; a loop or
    a bad value is an error naming the file."""
    from shortcutlab import load_preset
    from shortcutlab._validation import ShortcutlabError

    (tmp_path / "mine.yaml").write_text("name: mine\nextends: default\ntrain:\n  epochs: 2\n")
    (tmp_path / "more.yaml").write_text("extends: mine.yaml\nmetrics:\n  n_bootstrap: 20\n")
    mine, base = load_preset(tmp_path / "mine.yaml").to_dict(), load_preset("default").to_dict()
    assert mine["train"]["epochs"] == 2 and mine["train"]["seeds"] == base["train"]["seeds"]
    assert {(s, k) for s in base for k in base[s] if base[s][k] != mine[s][k]} == {("train", "epochs")}
    more = load_preset(tmp_path / "more.yaml")
    assert more.metrics.n_bootstrap == 20 and more.train.epochs == 2 and more.name == "more"
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ShortcutlabError, match=r"'extends' field of preset file .*makes a loop: .*a.yaml -> b.yaml"):
        load_preset(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("extends: [default]\n")
    with pytest.raises(ShortcutlabError, match=r"'extends' field of preset file .*c.yaml.*Got \['default'\]"):
        load_preset(tmp_path / "c.yaml")
