"""Where the default study's time goes: the training jobs and every notebook cell.

Reads what a finished ``shortcutlab run`` left behind, measures nothing itself:

* ``runs/<preset>/*/metrics.json`` (``train_seconds`` of each supervised job: training and its evaluation; a
  pretraining's seconds come from ``engine.json`` only);
* ``reports/<preset>/engine.json`` (the Ray phase's wall time), when the run used ``--engine ray``;
* ``reports/<preset>/*.ipynb`` (papermill's duration of every cell), grouped by what the cell calls: training
  or loading runs, tables (evaluation, CAMs, overlap and their bootstrap), claims (the hierarchical bootstrap),
  figures, and the rest (imports, setup, findings).

    .venv/bin/python scripts/study_profile.py [--preset default] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cell_kind(src: str) -> str:
    s = src.strip()
    if s.startswith(("import ", "from ")) or "sl.setup(" in s:
        return "setup and imports"
    if "claims." in s and "_claims(" in s:
        return "claims (their test-image bootstrap)"
    if "save_figure" in s or "plots." in s or "widgets." in s:
        return "figures and maps"
    if "report.table" in s:
        return "tables (evaluation, CAMs, overlap, bootstrap)"
    if "findings." in s:
        return "findings"
    if s.startswith("runs =") or "_runs(" in s or "comparison(" in s or "semi_supervised(" in s:
        return "training or loading runs"
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    runs, reports = ROOT / "runs" / a.preset, ROOT / "reports" / a.preset
    engine = json.loads((reports / "engine.json").read_text()) if (reports / "engine.json").exists() else None
    jobs = defaultdict(lambda: [0, 0.0])
    for d in sorted(p for p in runs.iterdir() if (p / "done.json").exists()):
        spec = json.loads((d / "spec.json").read_text())
        if spec.get("kind") == "pretrain":  # its seconds are only in engine.json (a pretraining records none)
            sec = (engine or {}).get("job_seconds", {}).get(d.name, float("nan"))
            key = f"pretrain {spec['method']}"
        else:
            sec = json.loads((d / "metrics.json").read_text()).get("train_seconds", 0.0)
            kind = "probe" if spec.get("probe") else ("transfer" if spec.get("init") else "train")
            key = f"{spec['cohort']} {kind}"
        jobs[key][0] += 1
        jobs[key][1] += sec
    cells = defaultdict(lambda: defaultdict(float))
    for nb in sorted(reports.glob("[0-9][0-9]_*.ipynb")):
        for c in json.loads(nb.read_text())["cells"]:
            if c["cell_type"] == "code":
                dur = (c.get("metadata", {}).get("papermill", {}) or {}).get("duration") or 0.0
                cells[nb.stem][_cell_kind("".join(c["source"]))] += dur
    summary = json.loads((reports / "summary.json").read_text())
    out = {"preset": a.preset, "machine": summary.get("machine"), "created": summary.get("created"),
           "job_seconds_by_kind": {k: {"jobs": n, "seconds": round(s, 1)} for k, (n, s) in sorted(jobs.items())},
           "job_seconds_total": round(sum(s for _, s in jobs.values()), 1),
           "engine_wall_s": None if engine is None else round(engine["seconds"], 1),
           "notebook_seconds": {e["notebook"]: round(e["duration_s"], 1) for e in summary["notebooks"]},
           "cell_seconds_by_kind": {nb: {k: round(v, 1) for k, v in d.items()} for nb, d in cells.items()}}
    print(json.dumps(out, indent=1))
    if a.out:  # stored beside the other findings
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
