import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

from shortcutlab._alloc import tune_allocator  # noqa: E402

tune_allocator()  # as the CLI and the notebooks' setup call do (test_alloc.py checks import alone does not)


@pytest.fixture
def gen():
    g = torch.Generator()
    g.manual_seed(0)
    return g


@pytest.fixture(scope="session")
def mri_study(tmp_path_factory):
    """A cm phantom study at the smallest size where the MRI claims are seed-robust (see test_claims.py):
    n = 400 patients at 64 px, 10 epochs, the epoch with the best validation AUC kept (as the default preset
    does; keeping the last epoch left the heart-only model under-trained on some seeds, AUC 0.58-0.62).
    Shared by the saliency and claims tests (trained once)."""
    from shortcutlab import load_preset
    from shortcutlab.study import Study

    cfg = load_preset("smoke", overrides={"data.cmr_n": 400, "data.cmr_size": 64, "train.epochs": 10,
                                          "saliency.max_images": 60, "metrics.n_bootstrap": 200,
                                          "train.select_metric": "val_auc"})
    return Study(cfg, root=tmp_path_factory.mktemp("mri_study"), progress=False)


@pytest.fixture(scope="session")
def echo_study(tmp_path_factory):
    """An echo phantom study (n = 800 at 64 px, 12 epochs): BackMix against Baseline in test_claims, Baseline's maps
    in test_discover (trained once)."""
    from shortcutlab import load_preset
    from shortcutlab.study import Study

    cfg = load_preset("smoke", overrides={"data.echo_n": 800, "data.echo_ood_n": 300, "data.echo_size": 64,
                                          "train.echo_epochs": 12, "saliency.max_images": 80,
                                          "metrics.n_bootstrap": 100})
    return Study(cfg, root=tmp_path_factory.mktemp("echo_study"), progress=False)


# the training seeds over which a trained model's numbers are asserted, with the project's interval: one seed
# decides nothing (a test resting on one seed's outcome passes or fails with the last bits of the arithmetic)
OUTCOME_SEEDS = (0, 1, 2, 3)


@pytest.fixture(scope="session")
def mri_seeds(mri_study):
    """Full, Seg and BG of ``mri_study`` at each of :data:`OUTCOME_SEEDS`, as a RunSet (seed 0 is the runs the
    single-model tests use)."""
    from shortcutlab.study import RunSet

    runs = RunSet()
    for s in OUTCOME_SEEDS:
        runs = runs + mri_study.run_many("cm", ("full", "seg", "bg"), seed=s)
    return runs


def seed_interval(per_seed) -> dict:
    """The project's interval over seeds that saw different draws of training (``metrics.welch_interval`` without a
    shared test bootstrap: the t-interval over S - 1 degrees of freedom), with the per-seed values for messages."""
    from shortcutlab.metrics import welch_interval

    r = welch_interval(list(per_seed))
    r["per_seed"] = [round(float(v), 4) for v in per_seed]
    return r


# three seeds of a tiny cm study: the tables and figures over seeds, the lr schedule, the CAM layer, the claims' CI
SEEDS_SMALL = {"train.epochs": 2, "data.cmr_n": 48, "data.cmr_size": 32, "train.seeds": [0, 1, 2],
               "saliency.max_images": 8, "metrics.n_bootstrap": 20}


@pytest.fixture(scope="session")
def seeds_study(tmp_path_factory):
    from shortcutlab import load_preset
    from shortcutlab.study import Study

    return Study(load_preset("smoke", overrides=SEEDS_SMALL), root=tmp_path_factory.mktemp("seeds"), progress=False)


class Killed(Exception):
    """Raised from a training callback to stop a run as a killed process would (checkpoint on disk)."""


@pytest.fixture
def kill_after():
    """``kill_after(n)``: an ``on_epoch`` callback that raises :class:`Killed` after epoch ``n``."""
    def make(n):
        def on_epoch(epoch, row):
            if epoch >= n:
                raise Killed(f"killed after epoch {epoch}")
        return on_epoch
    make.Killed = Killed
    return make


@pytest.fixture(scope="session")
def smoke_report(tmp_path_factory):
    """Shared by the notebook test and the hang test (which runs notebook 06 on its cache). The whole smoke study
    as ``make study`` runs it: ``shortcutlab run --preset smoke --engine ray
    --notebook-jobs 2`` (the plan's jobs on a local Ray, 1 thread each, then the notebooks two at a time), with
    every run the notebooks ask for recorded."""
    import json

    from shortcutlab.app.cli import main

    out = tmp_path_factory.mktemp("report")
    runs = tmp_path_factory.mktemp("runs")
    record = tmp_path_factory.mktemp("record") / "requests.tsv"
    os.environ["SHORTCUTLAB_RECORD"] = str(record)
    try:
        rc = main(["run", "--preset", "smoke", "--engine", "ray", "--cpus-per-job", "1", "--notebook-jobs", "2",
                   "--quiet", "--set", f"study.root={runs}", "--out", str(out)])
    finally:
        os.environ.pop("SHORTCUTLAB_RECORD", None)
    summary = json.loads((out / "summary.json").read_text())
    summary["exit_code"], summary["runs_root"] = rc, runs
    summary["requests"] = [line.split("\t") for line in record.read_text().splitlines()]
    return out, summary


def processes_with(marker: bytes) -> list[int]:
    """The pids whose command line holds ``marker`` (a Ray worker running a job is titled ``ray::_job_task``; Ray's
    own processes carry their temporary folder in theirs)."""
    from pathlib import Path

    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker in (p / "cmdline").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids
