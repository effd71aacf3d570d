"""The notebook-06 hang: its trigger is gone, and the study can never wait for ever.

Cause (see shortcutlab/app/nbengine.py and scripts/stress_hang.py): nbclient's client-side imitation of the
ipywidgets Output widget sends comm messages on the shell channel while the cell's execute_reply is awaited
on that socket; jupyter_client sends through a synchronous shadow socket, and the ZMQ wake-up for the reply
can be lost. The runner's engine does not imitate the Output widget, so nothing is sent on shell during a cell.
"""
import importlib.util
import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from shortcutlab import ShortcutlabError
from shortcutlab.app.nbengine import register
from shortcutlab.app.runner import run_study

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("stress_hang", ROOT / "scripts" / "stress_hang.py")
stress_hang = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stress_hang)


def _nb(path, cells, params=True):
    nb = nbformat.v4.new_notebook()
    cs = []
    if params:
        p = nbformat.v4.new_code_cell('PRESET = "smoke"\nOVERRIDES = {}\nREPORT_DIR = None')
        p.metadata["tags"] = ["parameters"]
        cs.append(p)
    nb.cells = cs + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


OUTPUT_WIDGET_CELLS = [
    "import ipywidgets as w\nfrom IPython.display import display\nout = w.Output()\ndisplay(out)\n"
    "for i in range(3):\n    out.clear_output(wait=True)\n    with out:\n        print('drawn', i)",
    "import time\ntime.sleep(0.5)\nprint('kernel-side outputs', len(out.outputs))",
]


def _texts(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_engine_sends_nothing_on_shell_during_a_cell(tmp_path):
    """With papermill's own engine the client echoes the Output widget's captured output back to the kernel
    (a shell-channel comm_msg: the kernel-side widget then holds it). With ours the kernel-side widget stays
    empty, i.e. the client sent nothing on shell, and the captured text lands in the cell itself."""
    src = tmp_path / "w.ipynb"
    _nb(src, OUTPUT_WIDGET_CELLS, params=False)
    pm.execute_notebook(str(src), str(tmp_path / "stock.ipynb"), kernel_name="python3", progress_bar=False,
                        execution_timeout=60, engine_name="nbclient")
    stock = _texts(nbformat.read(str(tmp_path / "stock.ipynb"), as_version=4))
    assert "kernel-side outputs 1" in stock  # the stock client did send (the race's trigger)
    pm.execute_notebook(str(src), str(tmp_path / "ours.ipynb"), kernel_name="python3", progress_bar=False,
                        execution_timeout=60, engine_name=register(), heartbeat_grace=30)
    ours = _texts(nbformat.read(str(tmp_path / "ours.ipynb"), as_version=4))
    assert "kernel-side outputs 0" in ours and "drawn 2" in ours


def test_default_cell_timeout_is_finite_and_from_the_preset(tmp_path):
    d = tmp_path / "nbs"
    d.mkdir()
    _nb(d / "01_quick.ipynb", ["x = 1"])
    s = run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False)
    assert s["ok"] and s["cell_timeout_s"] == 600 and s["heartbeat_grace_s"] == 30
    s = run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False, overrides={"run.cell_timeout": 77})
    assert s["cell_timeout_s"] == 77
    with pytest.raises(ShortcutlabError, match=r"'heartbeat_grace' parameter of run_study.*Got 0 instead"):
        run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False, heartbeat_grace=0)
    from shortcutlab import load_preset
    for preset in ("smoke", "default", "paper"):
        assert 0 < load_preset(preset).run.cell_timeout < 7 * 86400


def test_dead_and_frozen_kernels_fail_their_notebook_and_the_study_goes_on(tmp_path):
    """A kernel that dies, or stops answering its heartbeat (SIGSTOP), fails its notebook within seconds with a
    message that says so, long before the cell timeout; the next notebook still runs."""
    d = tmp_path / "nbs"
    d.mkdir()
    _nb(d / "01_dies.ipynb", ["import os\nos._exit(3)"])
    _nb(d / "02_freezes.ipynb", ["import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"])
    _nb(d / "03_after.ipynb", ["import pathlib\npathlib.Path(REPORT_DIR, 'ran.txt').write_text('yes')"])
    s = run_study("smoke", out=tmp_path / "r", notebooks=d, progress=False, execution_timeout=300,
                  heartbeat_grace=3)
    by = {e["notebook"]: e for e in s["notebooks"]}
    dies, freezes = by["01_dies.ipynb"], by["02_freezes.ipynb"]
    assert dies["status"] == "failed" and dies["error"]["ename"] == "DeadKernelError"
    assert "kernel process died" in dies["error"]["evalue"] and dies["duration_s"] < 120
    assert freezes["status"] == "failed" and freezes["error"]["ename"] == "DeadKernelError"
    assert "heartbeat" in freezes["error"]["evalue"] and freezes["duration_s"] < 120
    assert by["03_after.ipynb"]["status"] == "ok"
    assert (tmp_path / "r" / "03_after" / "ran.txt").read_text() == "yes"


def test_stress_small_notebook_06_beside_a_busy_kernel(tmp_path, smoke_report):
    """The small version of scripts/stress_hang.py: notebook 06 twice under the smoke preset, on the cache the smoke
    study trained, with a second kernel busy beside it; both complete and the client never waits after the kernel
    has answered."""
    res_file = tmp_path / "stress.json"
    rc = stress_hang.main(["--nb06", "2", "--cell-timeout", "300", "--work", str(tmp_path / "w"),
                           "--runs", str(smoke_report[1]["runs_root"]), "--json", str(res_file)])
    res = json.loads(res_file.read_text())
    s = res["summary"]["nb06"]
    assert rc == 0 and s["runs"] == 2 and s["completed"] == 2 and s["stalled"] == 0, res
    assert s["max_reply_lag_s"] < 2.0
    assert res["busy_kernel"] is True


def test_cell_timings_measure_the_client_wait(tmp_path):
    """The stress script's stall signal: papermill's client-side cell duration minus the kernel's own time."""
    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("x")
    c.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00.000Z",
                               "iopub.status.idle": "2026-01-01T00:00:01.000Z",
                               "shell.execute_reply": "2026-01-01T00:00:00.999Z"}
    c.metadata["papermill"] = {"duration": 16.0}
    nb.cells = [c]
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    t = stress_hang.cell_timings(tmp_path / "x.ipynb")
    assert t["longest_cell_s"] == 16.0 and t["reply_lag_s"] == pytest.approx(15.001, abs=1e-3)
