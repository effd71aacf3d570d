"""Stress the study runner for the notebook-06 hang, with another kernel busy beside it.

    python scripts/stress_hang.py --studies 10 --nb06 30            # the hang check (smoke preset)
    python scripts/stress_hang.py --minimal 60 --engine nbclient    # reproduce the upstream bug on demand
    python scripts/stress_hang.py --minimal 60 --engine shortcutlab # ... and show the runner's engine avoids it

What it runs, in order: with ``--warm``, one study *without* the busy kernel that trains every condition
into the cache (training under a 2-thread torch neighbour on 2 cores is ~10x slower and is not what is being
tested); then ``--studies`` full smoke studies (``shortcutlab run``; the first trains, the others
load the cache), ``--nb06`` runs of notebook 06 alone, and ``--minimal`` runs of a one-cell notebook that
redraws a figure five times into an ``ipywidgets.Output`` (the pattern of the saliency browser), executed by
papermill with the chosen engine. Unless ``--no-busy``, a Jupyter kernel runs a 2-thread torch loop the whole
time (the load under which the hang was seen).

What it reports, per kind of run: completions, failures, the longest cell, and the largest *reply lag*: the
time the client went on waiting after the kernel had finished the cell (papermill's client-side duration of
the cell minus the kernel's own busy-to-reply time, both recorded in the executed notebook). A lag of seconds
is the signature of the lost wake-up explained in ``shortcutlab/app/nbengine.py`` (with a cell timeout the
client finds the reply when the timeout re-polls; without one it waits for ever). A JSON file holds
everything.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

BUSY_CODE = """
import time, torch
torch.set_num_threads(2)
a = torch.randn(512, 512)
t0 = time.time()
while time.time() - t0 < {seconds}:
    a = (a @ a).tanh()
"""

MINIMAL_CELLS = [
    "import ipywidgets as w\nimport matplotlib.pyplot as plt\nimport numpy as np",
    "out = w.Output()\nbox = w.VBox([w.Dropdown(options=['a', 'b']), out])\nfor i in range(5):\n"
    "    out.clear_output(wait=True)\n    with out:\n        fig, ax = plt.subplots(1, 4, figsize=(10, 3))\n"
    "        [a.imshow(np.random.default_rng(i).random((128, 128))) for a in ax]\n        plt.show()\nbox",
    "print('after')",
]


def _ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def cell_timings(executed: Path) -> dict:
    """Longest cell as the client saw it, and the largest reply lag of a notebook.

    The client's time per cell is papermill's ``duration``; the kernel's is ``iopub.status.busy`` to
    ``shell.execute_reply`` (both stamped by the kernel when it sent them). Their difference is how long the
    client waited after the kernel had answered.
    """
    nb = nbformat.read(str(executed), as_version=4)
    longest = lag = 0.0
    for c in nb.cells:
        md = c.get("metadata", {})
        ex, pm = md.get("execution", {}), md.get("papermill", {})
        client = pm.get("duration")
        if client is None:
            continue
        longest = max(longest, float(client))
        if "shell.execute_reply" in ex and "iopub.status.busy" in ex:
            kernel = _ts(ex["shell.execute_reply"]) - _ts(ex["iopub.status.busy"])
            lag = max(lag, float(client) - kernel)
    return {"longest_cell_s": round(longest, 2), "reply_lag_s": round(lag, 3)}


class BusyKernel:
    """A second Jupyter kernel running a CPU-bound torch loop."""

    def __init__(self, seconds: float):
        from jupyter_client import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.kc.execute(BUSY_CODE.format(seconds=seconds))

    def stop(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def run_studies(n: int, only, preset: str, work: Path, timeout: int, runs: Path | None = None) -> list[dict]:
    from shortcutlab.app.runner import run_study

    runs = runs or work / "runs"
    rows = []
    for k in range(n):
        out = work / f"{'nb06' if only else 'study'}{k}"
        t0 = time.perf_counter()
        s = run_study(preset, only=only, out=out, overrides={"study.root": str(runs)}, progress=False,
                      execution_timeout=timeout)
        row = {"run": k, "ok": s["ok"], "wall_s": round(time.perf_counter() - t0, 1), "longest_cell_s": 0.0,
               "reply_lag_s": 0.0, "failed": [e["notebook"] for e in s["notebooks"] if e["status"] != "ok"]}
        for e in s["notebooks"]:
            if e.get("from_earlier_run") or not (out / e["executed"]).exists():
                continue
            t = cell_timings(out / e["executed"])
            row["longest_cell_s"] = max(row["longest_cell_s"], t["longest_cell_s"])
            row["reply_lag_s"] = max(row["reply_lag_s"], t["reply_lag_s"])
        rows.append(row)
        print(f"  {'06' if only else 'study'} {k}: ok={row['ok']} wall {row['wall_s']} s, longest cell "
              f"{row['longest_cell_s']} s, reply lag {row['reply_lag_s']} s {row['failed'] or ''}", flush=True)
    return rows


def run_minimal(n: int, engine: str, work: Path, timeout: int) -> list[dict]:
    import papermill as pm

    from shortcutlab.app.nbengine import register

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in MINIMAL_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = work / "minimal.ipynb"
    nbformat.write(nb, str(src))
    engine_name = register() if engine == "shortcutlab" else "nbclient"
    rows = []
    for k in range(n):
        out = work / f"minimal_{engine}_{k}.ipynb"
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(src), str(out), kernel_name="python3", progress_bar=False,
                                execution_timeout=timeout, engine_name=engine_name)
            ok = True
        except Exception as exc:  # noqa: BLE001 - counted, not raised
            ok = False
            print(f"  minimal {k}: {type(exc).__name__}: {str(exc)[:200]}")
        row = {"run": k, "ok": ok, "wall_s": round(time.perf_counter() - t0, 1), **cell_timings(out)}
        rows.append(row)
        if row["reply_lag_s"] > 1:
            print(f"  minimal {k}: reply lag {row['reply_lag_s']} s (lost wake-up)", flush=True)
    return rows


def summarize(rows: list[dict], lag_limit: float) -> dict:
    return {"runs": len(rows), "completed": sum(r["ok"] for r in rows),
            "stalled": sum(r["reply_lag_s"] > lag_limit for r in rows),
            "longest_cell_s": max((r["longest_cell_s"] for r in rows), default=None),
            "max_reply_lag_s": max((r["reply_lag_s"] for r in rows), default=None)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--studies", type=int, default=0, help="full studies to run (default 0)")
    p.add_argument("--nb06", type=int, default=0, help="runs of notebook 06 alone (default 0)")
    p.add_argument("--minimal", type=int, default=0, help="runs of the minimal Output-widget notebook")
    p.add_argument("--engine", choices=("shortcutlab", "nbclient"), default="shortcutlab",
                   help="papermill engine for the minimal notebook (the runner always uses shortcutlab)")
    p.add_argument("--preset", default="smoke")
    p.add_argument("--cell-timeout", type=int, default=300, help="cell timeout of every run (seconds)")
    p.add_argument("--lag-limit", type=float, default=2.0, help="reply lag that counts as a stall (seconds)")
    p.add_argument("--no-busy", action="store_true", help="no busy kernel beside the runs")
    p.add_argument("--warm", action="store_true", help="first train the cache with one study, no busy kernel")
    p.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    p.add_argument("--runs", default=None, help="a study cache to use (e.g. one a study already trained); default: "
                                                 "<work>/runs")
    p.add_argument("--json", default=None, help="write the results here")
    a = p.parse_args(argv)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="stress_hang_"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"args": vars(a), "work": str(work), "busy_kernel": not a.no_busy}
    runs = Path(a.runs) if a.runs else work / "runs"
    if a.warm:
        print("warm-up study (no busy kernel) ...", flush=True)
        res["warm"] = run_studies(1, None, a.preset, work / "warm", a.cell_timeout, runs=runs)
    busy = None if a.no_busy else BusyKernel(seconds=7 * 86400)
    t0 = time.perf_counter()
    try:
        if a.studies:
            print(f"{a.studies} {a.preset} studies ...", flush=True)
            res["studies"] = run_studies(a.studies, None, a.preset, work, a.cell_timeout, runs=runs)
        if a.nb06:
            print(f"{a.nb06} runs of notebook 06 ...", flush=True)
            res["nb06"] = run_studies(a.nb06, ["06"], a.preset, work, a.cell_timeout, runs=runs)
        if a.minimal:
            print(f"{a.minimal} runs of the minimal Output-widget notebook, engine {a.engine} ...", flush=True)
            res["minimal"] = run_minimal(a.minimal, a.engine, work, a.cell_timeout)
    finally:
        if busy is not None:
            busy.stop()
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    res["summary"] = {k: summarize(res[k], a.lag_limit) for k in ("warm", "studies", "nb06", "minimal") if k in res}
    for k, v in res["summary"].items():
        print(f"{k:<8} {v['completed']}/{v['runs']} completed, {v['stalled']} stalled (reply lag > {a.lag_limit} s), "
              f"longest cell {v['longest_cell_s']} s, max reply lag {v['max_reply_lag_s']} s")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    bad = any(v["completed"] < v["runs"] or v["stalled"] for v in res["summary"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
