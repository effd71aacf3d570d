"""The lesson's design is what its pilot says: the preset's pilot table, its cure and its seed count come from the
stored pilot and the stated rule, and the lesson runs on a data seed the pilot did not use."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "params" / "lesson.yaml"


def _pilot() -> tuple[dict, object]:
    runs = sorted((ROOT / "benchmarks" / "lesson").glob("*/pilot.json"))
    assert runs, "no stored pilot"
    spec = importlib.util.spec_from_file_location("lesson_pilot", ROOT / "scripts" / "lesson_pilot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return json.loads(runs[-1].read_text()), mod


def test_the_presets_pilot_table_is_the_stored_pilot():
    pilot, _ = _pilot()
    rows = re.findall(r"#\s+pilot \| (\w+)\s+\| ([+-][\d.]+) \(([\d.]+)\)\s+\| ([+-][\d.]+) \(([\d.]+)\)\s+\| (.+)",
                      PRESET.read_text())
    assert {r[0] for r in rows} == set(pilot["candidates"])
    for name, acc, acc_sd, fall, fall_sd, need in rows:
        c = pilot["candidates"][name]
        assert float(acc) == pytest.approx(c["conflict_acc_above_full"]["mean"], abs=0.051)
        assert float(acc_sd) == pytest.approx(c["conflict_acc_above_full"]["sd"], abs=0.051)
        assert float(fall) == pytest.approx(c["fall_below_full"]["mean"], abs=0.051)
        assert float(fall_sd) == pytest.approx(c["fall_below_full"]["sd"], abs=0.051)
        assert need.strip().startswith(str(c["seeds_needed"]) if c["seeds_needed"] else "none")


def test_the_cure_and_the_seeds_follow_the_rule():
    from shortcutlab import load_preset

    pilot, mod = _pilot()
    cfg = load_preset("lesson")
    assert cfg.lesson.cure == pilot["chosen"]
    assert len(cfg.train.seeds) == pilot["candidates"][pilot["chosen"]]["seeds_needed"]
    assert cfg.data.seed != pilot["data_seed"]  # the lesson's own patients, not the pilot's
    # the power calculation against its definition: the noncentral t at the returned S, and not at S - 1
    from scipy.stats import nct, t

    d = pilot["candidates"][pilot["chosen"]]["conflict_acc_above_full"]
    s = mod.seeds_for_power(d["mean"], d["sd"])

    def power(n):
        return 1 - nct.cdf(t.ppf(0.975, n - 1), n - 1, d["mean"] / d["sd"] * n ** 0.5)

    assert power(s) >= 0.9 > power(s - 1)
