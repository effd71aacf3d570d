"""The study runner: execute the numbered notebooks with papermill into a report folder.

``shortcutlab run --preset default`` runs ``notebooks/NN_*.ipynb`` in order, injecting ``PRESET``,
``OVERRIDES`` and ``REPORT_DIR`` into each notebook's ``parameters`` cell, and writes under
``reports/<preset>/``: the executed ``NN_name.ipynb``, its ``NN_name.html``, the folder ``NN_name/`` with
what the notebook recorded (``results.json``, ``figures/``, ``tables/``), ``summary.json`` and ``index.html``.
"""
from __future__ import annotations

import json
import os
import re
import time
import traceback
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .._validation import ShortcutlabError, check_int, check_number
from ..config import load_preset
from .._io import atomic_json, atomic_write_text, to_jsonable
from .._paths import NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from .report import Report
from .results import machine_info

__all__ = ["discover_notebooks", "run_study", "NOTEBOOKS_DIR"]

_NB_RE = re.compile(r"^(\d\d)_.+\.ipynb$")


def discover_notebooks(directory: str | Path | None = None, only: Iterable[str] | None = None) -> list[Path]:
    """Numbered notebooks ``NN_*.ipynb`` in ``directory`` (sorted), optionally only the given numbers. ``only`` may
    also name a notebook outside the numbered study by its name (``lesson``: ``lesson.ipynb``), which runs only
    when named."""
    directory = Path(directory) if directory else NOTEBOOKS_DIR
    if not directory.is_dir():
        raise ShortcutlabError(f"The notebooks folder {str(directory)!r} does not exist.")
    nbs = sorted(p for p in directory.iterdir() if _NB_RE.match(p.name))
    if only:
        wanted = [str(o).strip() for o in only if str(o).strip()]
        extra = {p.stem: p for p in sorted(directory.glob("*.ipynb")) if not _NB_RE.match(p.name)}
        available = [p.name[:2] for p in nbs]
        bad = [w for w in wanted if w not in available and w not in extra]
        if bad:
            raise ShortcutlabError(f"The 'only' parameter of run must name notebook numbers among "
                                   f"{', '.join(available)} (or a notebook outside the study: "
                                   f"{', '.join(extra) or 'none'}). Got {', '.join(bad)} instead.")
        nbs = [p for p in nbs if p.name[:2] in wanted] + [extra[w] for w in wanted if w in extra]
    return nbs


def _error_info(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {"ename": type(exc).__name__, "evalue": str(exc).strip().splitlines()[-1:] or [""]}
    info["evalue"] = info["evalue"][0] if info["evalue"] else ""
    for attr in ("cell_index", "exec_count", "ename", "evalue", "source"):
        if hasattr(exc, attr):
            val = getattr(exc, attr)
            info[attr] = val if not isinstance(val, str) else val[:2000]
    if "source" not in info:
        info["traceback"] = traceback.format_exception_only(type(exc), exc)[-1][:2000]
    return info


def _render_html(ipynb: Path, html: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(ipynb))
    atomic_write_text(html, body)


def _execute(nb: str, executed: str, params: dict, kernel_name: str, progress: bool, cwd: str,
             execution_timeout: int, heartbeat_grace: float) -> dict[str, Any] | None:
    """Execute one notebook with papermill (in a child process of :func:`run_study`); the error or None.

    The engine is :mod:`shortcutlab.app.nbengine` (no client-side Output-widget mimic, which is what made
    notebook 06 hang; a heartbeat watch); every cell has a finite timeout.
    """
    import papermill as pm

    from .nbengine import register

    os.environ["SHORTCUTLAB_BATCH"] = "1"  # this child process's kernel inherits it: widgets built, not drawn live
    try:
        pm.execute_notebook(nb, executed, parameters=params, kernel_name=kernel_name, progress_bar=progress,
                            cwd=cwd, execution_timeout=execution_timeout, engine_name=register(),
                            heartbeat_grace=heartbeat_grace)
        return None
    except Exception as exc:  # noqa: BLE001 - any notebook failure is reported, not raised
        return _error_info(exc)


def _execute_in_child(*args) -> dict[str, Any] | None:
    """:func:`_execute` in a fresh (spawned) process per notebook.

    Each notebook's client gets a clean process (no state, loops or sockets left from the previous one) and a
    crash of the client cannot take the runner down. The notebook-06 hang was not about this: its cause is
    explained in :mod:`shortcutlab.app.nbengine`. Each notebook costs a few seconds more (the child's imports).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(_execute, *args).result()
    except BrokenProcessPool as exc:
        return {"ename": "BrokenProcessPool", "evalue": f"the process running the notebook died: {exc}"}


def _run_all(nbs: Sequence[Path], one, jobs: int, fail_fast: bool, bar) -> list[dict[str, Any]]:
    """``one(nb)`` for every notebook, ``jobs`` at a time; entries in the notebooks' order. ``fail_fast``: after a
    failure no further notebook starts (those already running finish)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    entries, queue, pending, stop = [], list(nbs), {}, False
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each notebook's client is a process of its own
        while queue or pending:
            while queue and len(pending) < jobs and not stop:
                nb = queue.pop(0)
                pending[pool.submit(one, nb)] = nb
            if not pending:
                break
            done = next(iter(wait(list(pending), return_when=FIRST_COMPLETED).done))
            nb = pending.pop(done)
            entry = done.result()
            entries.append(entry)
            bar.set_postfix_str(nb.stem)
            bar.update(1)
            stop = stop or (entry["status"] == "failed" and fail_fast)
    order = [p.name for p in nbs]
    return sorted(entries, key=lambda e: order.index(e["notebook"]))


def _precision(cfg) -> dict:
    """The arithmetic the run trained in, ``auto`` resolved on this machine's device (bf16 where the CPU or GPU has
    it natively, fp32 elsewhere): the numbers differ across CPUs partly because of it."""
    from ..train import bf16_reason, resolve_device, resolve_precision

    dev = resolve_device(cfg.train.device)
    return {"device": dev.type, "train": resolve_precision(cfg.train.precision, dev),
            "contrastive": resolve_precision(cfg.contrastive.precision, dev), "requested": cfg.train.precision,
            "why": bf16_reason(dev)}


def _registry() -> dict:
    """The claims registry the run read its claims with: version, hash and how many changes were made to it after
    results were seen (``shortcutlab results`` marks a row whose claim has changed since)."""
    from ..study.registry import CHANGES, VERSION, registry_hash

    return {"version": VERSION, "hash": registry_hash(), "changes_after_results": len(CHANGES)}


def run_study(preset: str | Path = "default", *, only: Sequence[str] | None = None, out: str | Path | None = None,
              overrides: Mapping[str, Any] | None = None, fail_fast: bool = False,
              notebooks: str | Path | None = None, kernel_name: str = "python3", progress: bool = True,
              execution_timeout: int | None = None, heartbeat_grace: float | None = None,
              jobs: int = 1) -> dict[str, Any]:
    """Execute the study's notebooks with papermill; return the summary (also written to ``summary.json``).

    Parameters
    ----------
    preset : str or Path
        Preset name or YAML path; validated (with ``overrides``) before any notebook starts.
    only : list of str, optional
        Notebook numbers to run, e.g. ``["01", "03"]``.
    out : path, optional
        Report folder; default ``reports/<preset name>/``.
    overrides : dict, optional
        ``{"section.key": value}``, applied in every notebook.
    fail_fast : bool
        Stop at the first failing notebook (otherwise the others still run).
    execution_timeout : int, optional
        Seconds one cell may run before its notebook fails with a timeout (the other notebooks still run);
        default: the preset's ``run.cell_timeout`` (always finite: the study can never wait for ever).
    heartbeat_grace : float, optional
        Seconds a kernel may miss its heartbeat before its notebook fails (a frozen or stopped kernel);
        default: the preset's ``run.heartbeat_grace``. A kernel that dies fails its notebook at once.
    jobs : int
        Notebooks executed at once (default 1). Use more only when every run they need is already trained (after
        ``--engine ray``), or two notebooks may train the same run at once. Each kernel then gets
        ``OMP_NUM_THREADS`` = cores / jobs, so the kernels do not oversubscribe the cores.

    Notebooks run in batch mode: the kernel sees ``SHORTCUTLAB_BATCH=1``, so widgets that need a front end
    (:class:`~shortcutlab.widgets.SaliencyBrowser`, :class:`~shortcutlab.widgets.DialSlider`) are built but
    not drawn live; the report gets the static galleries.
    """
    from tqdm.auto import tqdm

    cfg = load_preset(preset, overrides=overrides)  # fail early on a bad preset or override
    jobs = check_int(jobs, name="jobs", where="run_study", lo=1, hi=64)
    if execution_timeout is None:
        execution_timeout = cfg.run.cell_timeout
    execution_timeout = check_int(execution_timeout, name="execution_timeout", where="run_study", lo=1)
    if heartbeat_grace is None:
        heartbeat_grace = cfg.run.heartbeat_grace
    heartbeat_grace = check_number(heartbeat_grace, name="heartbeat_grace", where="run_study", lo=1)
    overrides = dict(overrides or {})
    nbs = discover_notebooks(notebooks, only)
    out = Path(out) if out else REPORTS_DIR / cfg.name
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ShortcutlabError(f"The 'out' parameter of run_study must be a folder that can be written. Got "
                               f"{str(out)!r} instead ({type(e).__name__}: {e.strerror or e}).") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # inherited by kernels: no hub retries offline
    os.environ.setdefault("PYTHONHASHSEED", "0")

    def one(nb: Path) -> dict[str, Any]:
        stem = nb.stem
        nb_dir = out / stem
        nb_dir.mkdir(parents=True, exist_ok=True)
        res_file = nb_dir / "results.json"
        if res_file.exists():
            res_file.unlink()  # results of this run only
        executed = out / f"{stem}.ipynb"
        html = out / f"{stem}.html"
        params = {"PRESET": str(preset), "OVERRIDES": to_jsonable(overrides), "REPORT_DIR": str(nb_dir.resolve())}
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"notebook": nb.name, "executed": executed.name, "html": html.name,
                                 "folder": stem}
        error = _execute_in_child(str(nb), str(executed), params, kernel_name, progress and jobs == 1,
                                  str(PROJECT_ROOT), execution_timeout, heartbeat_grace)
        entry["status"] = "ok" if error is None else "failed"
        if error is not None:
            entry["error"] = error
        entry["duration_s"] = round(time.perf_counter() - t0, 2)
        if executed.exists():
            try:
                _render_html(executed, html)
            except Exception as exc:  # noqa: BLE001
                entry["html_error"] = f"{type(exc).__name__}: {exc}"
        entry["results"] = Report(nb_dir).results()
        figs = sorted((nb_dir / "figures").glob("*.png")) if (nb_dir / "figures").is_dir() else []
        tabs = sorted((nb_dir / "tables").glob("*.csv")) if (nb_dir / "tables").is_dir() else []
        entry["figures"] = [str(p.relative_to(out)) for p in figs]
        entry["tables"] = [str(p.relative_to(out)) for p in tabs]
        return entry

    bar = tqdm(total=len(nbs), desc="notebooks", unit="nb", disable=not progress)
    threads_before = os.environ.get("OMP_NUM_THREADS")
    if jobs > 1:  # inherited by the kernels: torch's default threads, shared between the notebooks running at once
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    t_all = time.perf_counter()
    try:
        entries = _run_all(nbs, one, jobs, fail_fast, bar)
    finally:
        if jobs > 1:
            os.environ.pop("OMP_NUM_THREADS", None)
            if threads_before is not None:
                os.environ["OMP_NUM_THREADS"] = threads_before
    bar.close()
    wall_s = round(time.perf_counter() - t_all, 2)  # the notebooks side by side: less than their durations' sum
    failed_any = any(e["status"] == "failed" for e in entries)
    if only and (out / "summary.json").exists():  # keep the other notebooks' entries from the earlier run
        try:
            prev = json.loads((out / "summary.json").read_text())
            ran = {e["notebook"] for e in entries}
            kept = [dict(e, from_earlier_run=True) for e in prev.get("notebooks", []) if e["notebook"] not in ran]
            entries = sorted(entries + kept, key=lambda e: e["notebook"])
        except (ValueError, KeyError):
            pass
    summary = {"preset": cfg.name, "preset_source": cfg.source, "overrides": to_jsonable(overrides),
               "data": {c: dict(cfg.data[c]) for c in ("cm", "acdc", "echo", "echo_ood")},  # each cohort's source
               "created": time.strftime("%Y-%m-%d %H:%M:%S"), "ok": not failed_any, "notebooks": entries,
               "cell_timeout_s": execution_timeout, "heartbeat_grace_s": heartbeat_grace, "notebook_jobs": jobs,
               "notebooks_s": wall_s, "ran": [nb.name for nb in nbs],
               "config": cfg.to_dict(), "machine": machine_info(), "registry": _registry(),
               "precision": _precision(cfg)}
    atomic_json(out / "summary.json", summary)
    from .index import write_index
    write_index(out, summary)
    return summary
