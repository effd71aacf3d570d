"""The allocator setting (see shortcutlab/_alloc.py): ``import shortcutlab`` leaves it alone, the setup call and
the CLI switch it on, it takes effect, it can be
switched off, and it does what it is for — repeated batch work stops faulting in fresh pages. Page-fault
counts, not times, so the test is not a timing test."""
import json
import os
import subprocess
import sys

PROBE = r"""
import json, resource
import shortcutlab
from shortcutlab._alloc import allocator_state, tune_allocator
tune_allocator()
from shortcutlab.data.phantoms import make_cmr
import torch
torch.set_num_threads(1)
for _ in range(2):
    make_cmr("cm", 64, 128, seed=0)
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
make_cmr("cm", 64, 128, seed=0)
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0
print(json.dumps({"state": allocator_state(), "faults": faults}))
"""


def _probe(malloc_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if malloc_env is not None:
        env["SHORTCUTLAB_MALLOC"] = malloc_env
    else:
        env.pop("SHORTCUTLAB_MALLOC", None)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tuned_by_default_and_opt_out_keeps_glibc_defaults():
    tuned, default = _probe(None), _probe("default")
    if not sys.platform.startswith("linux"):
        assert tuned["state"].get("tuned") is None
        return
    assert tuned["state"]["tuned"] is True and "mmap threshold 32 MiB" in tuned["state"]["allocator"]
    assert "glibc defaults" in default["state"]["allocator"]
    # what the setting is for: a third identical batch of generation reuses the pages of the first two
    # (measured here: ~0 faults tuned, ~10,000 with glibc's defaults for 64 pairs at 128 px)
    assert tuned["faults"] < 2000, tuned
    assert default["faults"] > 5 * max(tuned["faults"], 100), (tuned, default)


def test_import_leaves_the_allocator_alone_and_setup_tunes_it():
    code = ("import json, tempfile, shortcutlab; from shortcutlab._alloc import allocator_state; a = allocator_state(); "
            "shortcutlab.setup('smoke', report_dir=tempfile.mkdtemp()); print(json.dumps([a, allocator_state()]))")
    env = {k: v for k, v in os.environ.items() if k not in ("SHORTCUTLAB_MALLOC",) and not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    after_import, after_setup = json.loads(out.stdout.strip().splitlines()[-1])
    assert after_import["allocator"].startswith("not tuned")
    if sys.platform.startswith("linux"):
        assert after_setup["tuned"] is True


def test_tune_allocator_is_idempotent_and_reports_state():
    from shortcutlab._alloc import allocator_state, tune_allocator

    first = tune_allocator()
    assert tune_allocator() == first
    state = allocator_state()
    assert isinstance(state["allocator"], str) and state["allocator"]


def test_bad_value_warns_and_keeps_defaults(monkeypatch):
    import pytest

    from shortcutlab._alloc import allocator_state, tune_allocator

    from shortcutlab import _alloc

    monkeypatch.setattr(_alloc, "_state", {"allocator": "not tuned"})  # as in a process not yet tuned
    monkeypatch.setenv("SHORTCUTLAB_MALLOC", "tunde")
    with pytest.warns(UserWarning, match=r"SHORTCUTLAB_MALLOC environment variable must be 'tuned' or 'default'\. "
                                         r"Got 'tunde' instead"):
        assert tune_allocator() is False
    assert "is not 'tuned' or 'default'" in allocator_state()["allocator"]
    monkeypatch.setenv("SHORTCUTLAB_MALLOC", "default")
    assert tune_allocator() is False and "glibc defaults" in allocator_state()["allocator"]


def test_opt_out_after_tuning_says_the_process_stays_tuned(monkeypatch):
    from shortcutlab import _alloc

    monkeypatch.setattr(_alloc, "_state", {"allocator": "glibc 2.x: mmap threshold 32 MiB, top pad 64 MiB", "tuned": True})
    monkeypatch.setenv("SHORTCUTLAB_MALLOC", "default")
    assert _alloc.tune_allocator() is False
    state = _alloc.allocator_state()
    assert state["tuned"] is True and "tuned earlier" in state["note"]
