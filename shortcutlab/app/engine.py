"""Run the plan's jobs on Ray: in parallel on a laptop's cores, a machine's GPUs, or a cluster.

``shortcutlab run --engine ray`` calls :func:`run_jobs` with the plan of the notebooks it will run, then runs the
notebooks, which find every run in the cache. Ray is imported only here (``pip install -e '.[ray]'``).

* The driver makes each data set the jobs need once and puts its arrays in Ray's object store; each task gets
  them from there (no regeneration per job, no shared filesystem).
* A task trains one job in a fresh study folder of its own (its ``init`` entry, if any, shipped in the same way),
  with ``cpus_per_job`` torch threads, and returns the entry's files; the driver writes them into the local cache
  under a temporary name and renames the folder into place, so an entry is either whole or absent.
* Jobs are submitted in plan order; a job whose ``init`` is made in the same run takes that task's result as its
  argument, so Ray starts it when the init is done. A job whose init failed fails too, with that reason.
* A failed job is reported with its spec and Ray's traceback and the others go on; a job whose worker died
  (killed, out of memory, its node gone) is started again, up to :data:`RETRIES` times. Ctrl-C cancels what is
  left and leaves only whole entries; a driver killed outright may leave a temporary folder, which the next run
  removes; the next run skips what is cached and resumes.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._validation import ShortcutlabError, check_int, check_number
from ..train import PERTURB_ENV

__all__ = ["run_jobs", "pack_data", "unpack_data", "RETRIES"]

RETRIES = 2  # how often a job whose worker died is started again

_FIELDS = ("images", "labels", "masks", "has_mask", "groups")


def pack_data(data: dict) -> dict:
    """A cohort's splits as numpy arrays and plain metadata (what Ray stores without copying)."""
    out = {}
    for split, ds in data.items():
        arrays = {k: getattr(ds, k).cpu().numpy() for k in _FIELDS if getattr(ds, k) is not None}
        meta = {k: (v.cpu().numpy() if hasattr(v, "cpu") else list(v)) for k, v in ds.meta.items()}
        out[split] = {"arrays": arrays, "meta": meta, "class_names": list(ds.class_names),
                      "frame_names": None if ds.frame_names is None else list(ds.frame_names), "name": ds.name}
    return out


def unpack_data(packed: dict) -> dict:
    """The inverse of :func:`pack_data`: the same ImageSets, value for value."""
    import torch

    from ..data.imageset import ImageSet

    out = {}
    for split, p in packed.items():
        arrays = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in p["arrays"].items()}
        meta = {k: (torch.from_numpy(np.array(v, copy=True)) if isinstance(v, np.ndarray) else list(v))
                for k, v in p["meta"].items()}
        out[split] = ImageSet(**arrays, meta=meta, class_names=p["class_names"], frame_names=p["frame_names"],
                              name=p["name"])
    return out


def _read_entry(path: Path) -> dict[str, bytes]:
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


def _write_entry(root: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write an entry's files under a temporary folder, then rename it into place (whole or absent)."""
    final = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".incoming-{name}-", dir=root))
    try:
        for rel, data in files.items():
            f = tmp / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
        if final.exists():  # a half-made entry of an interrupted in-process run
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _job_task(cfg, job: dict, data_key: tuple, data: dict, init_entry: dict | None, threads: int,
              perturb: str = "") -> dict:
    """A Ray task: train one job in a study folder of its own and return its entry's files. ``perturb``: the
    driver's ``SHORTCUTLAB_PERTURB`` (a worker on another node has its own environment), so that the worker trains,
    and keys, what the driver planned."""
    import torch

    from ..study.study import Study
    from ..study.plan import run_job
    from ..train import PERTURB_ENV

    os.environ.pop("SHORTCUTLAB_RECORD", None)  # the notebooks' requests are recorded, not the workers'
    if perturb:
        os.environ[PERTURB_ENV] = perturb
    else:
        os.environ.pop(PERTURB_ENV, None)
    torch.set_num_threads(threads)
    cfg = cfg.replace({"train.threads": threads})  # fit sets its threads from the preset: never more than given
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        st = Study(cfg, root=tmp, progress=False)
        st._data[tuple(data_key)] = unpack_data(data)  # the driver's sets: no phantom is generated again
        if init_entry is not None:
            _write_entry(st.root, init_entry["name"], init_entry["files"])
        run_job(st, job)
        files = _read_entry(st.root / job["name"])
    import ray

    return {"name": job["name"], "files": files, "seconds": time.perf_counter() - t0, "host": os.uname().nodename,
            "node": ray.get_runtime_context().get_node_id()}


def _unreachable(address: str, why: str) -> ShortcutlabError:
    return ShortcutlabError(
        f"The 'address' parameter of run_jobs (--address) is {address!r}, but no Ray cluster answered there "
        f"({why}). Start one with `ray start --head --port=PORT` and pass HOST:PORT (or 'auto' on the head node), "
        f"or leave --address out for a local Ray.")


def _refused(address: str, why: str) -> ShortcutlabError:
    return ShortcutlabError(
        f"The Ray cluster at --address {address!r} refused this driver's authentication token ({why[:300]}). Its "
        f"token authentication is on: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the cluster's token (print it "
        f"with `ray get-auth-token` on the head node), or RAY_AUTH_TOKEN_PATH to a file holding it, then run again.")


def _preflight(address: str) -> None:
    """Before ``ray.init`` (which retries for minutes and then names neither cause): is anything listening at a
    HOST:PORT address, and does the cluster's GCS take this driver's token? (Through Ray's GCS client, which says
    so at once; skipped if this Ray has no such client.)"""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or address.startswith("ray://"):
        return  # 'auto', a Ray Client address: ray.init knows them
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as e:
        raise _unreachable(address, f"{type(e).__name__}: {e}") from None
    try:
        from ray._raylet import GcsClient
        from ray.exceptions import AuthenticationError
    except ImportError:
        return
    try:
        GcsClient(address=address)
    except AuthenticationError as e:
        raise _refused(address, str(e).strip()) from None
    except Exception:  # noqa: BLE001 - anything else is ray.init's to report
        return


def _connect(ray, address: str | None, kw: dict) -> None:
    """``ray.init`` with a clear error for an address that does not answer and for a token Ray refuses."""
    if address:
        _preflight(address)
    try:
        ray.init(**kw)
    except Exception as e:  # noqa: BLE001 - Ray raises several types for these; each is named below
        if not address:
            raise
        text = f"{type(e).__name__}: {e}".strip()
        if "uthenticat" in text or "token" in text.lower():
            raise _refused(address, text) from None
        raise _unreachable(address, text[:300]) from None


def _node_name(n: dict) -> str:
    return f"{n.get('NodeManagerAddress', '?')} (node {str(n.get('NodeID', '?'))[:12]})"


def check_nodes(ray) -> list[dict]:
    """Every alive node of the cluster imports this shortcutlab version, or a :class:`ShortcutlabError` names the
    node and what to do. A tiny task pinned to each node asks it (defined here, so Ray ships it by value: it runs
    on a node without shortcutlab too). Returns one record per node: its address, id, Python and version."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from .._version import __version__

    def probe():
        import sys as _sys

        try:
            import shortcutlab as _sl
            version = _sl.__version__
        except ImportError:
            version = None
        return {"python": _sys.executable, "version": version}

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    task = ray.remote(num_cpus=0, max_retries=0)(probe)
    refs = [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in nodes]
    out = []
    for n, ref in zip(nodes, refs):
        try:
            got = ray.get(ref, timeout=120)
        except Exception as e:  # noqa: BLE001
            raise ShortcutlabError(f"The Ray node {_node_name(n)} did not run a task ({type(e).__name__}: "
                                   f"{str(e)[:300]}).") from None
        if got["version"] != __version__:
            have = "does not have shortcutlab" if got["version"] is None else f"has shortcutlab {got['version']}"
            raise ShortcutlabError(
                f"The Ray node {_node_name(n)} {have} in its Python ({got['python']}); the driver has "
                f"{__version__}. Install the same version on every node (from the same checkout: pip install -e "
                f"'.[ray]' with the constraints file) and start Ray there from that environment.")
        out.append({"node": n["NodeID"], "address": n.get("NodeManagerAddress"), **got})
    return out


def bar_state(pending: Sequence[str], done: Sequence[str], init_of: dict[str, str | None], slots: int,
              job_seconds: Sequence[float]) -> dict[str, Any]:
    """What the job bar shows: ``running`` (the jobs that can execute now: pending ones whose ``init`` is done or
    not in this run, at most ``slots``), ``queued`` (the rest of the pending ones) and ``eta`` (minutes: the mean
    time of the finished jobs times the pending jobs over the slots; None before any job finished)."""
    done_set = set(done)
    pending_set = set(pending)
    ready = sum(1 for n in pending if init_of.get(n) is None or init_of[n] in done_set or init_of[n] not in pending_set)
    running = min(max(slots, 1), ready)
    eta = (sum(job_seconds) / len(job_seconds)) * len(pending) / max(slots, 1) / 60 if job_seconds else None
    return {"running": running, "queued": len(pending) - running, "eta": eta}


def _slots(ray, cpus_per_job: int, gpus_per_job: float) -> int:
    """How many jobs the cluster runs at once: its CPUs over each job's (and its GPUs over each job's share)."""
    res = ray.cluster_resources()
    n = int(res.get("CPU", 1) // cpus_per_job)
    if gpus_per_job > 0:
        n = min(n, int(res.get("GPU", 0) // gpus_per_job))
    return max(n, 1)


def _postfix(state: dict) -> dict:
    out = {"running": state["running"], "queued": state["queued"]}
    if state["eta"] is not None:
        out["eta"] = f"{state['eta']:.1f} min"
    return out


def _data_key(job: dict) -> tuple:
    return (job["call"]["cohort"], job["call"]["strength"])


def run_jobs(cfg, jobs: Sequence, *, root: str | Path | None = None, address: str | None = None,
             cpus_per_job: int = 1, gpus_per_job: float = 0.0, progress: bool = True,
             ray_init: dict | None = None) -> dict[str, Any]:
    """Run the plan's jobs that are not cached as Ray tasks; write each entry into the local study cache.

    Returns ``{"done": [...], "skipped": [...], "failed": [{"name", "call", "error"}], "seconds": ...}``.
    ``address``: an existing cluster (``ray://host:10001`` or ``host:6379``); None starts a local Ray sized to
    this machine. ``cpus_per_job`` sets each task's torch threads and its CPU reservation; ``gpus_per_job`` its
    share of a GPU (0.25: four jobs per device).
    """
    try:
        import ray
    except ImportError as e:
        raise ShortcutlabError("The 'engine' parameter of run is 'ray', but Ray is not installed. Install it with "
                               "pip install -e '.[ray]' (or make study ENGINE=ray).") from e
    from ..study.study import Study

    check_int(cpus_per_job, name="cpus_per_job", where="run_jobs", lo=1)
    check_number(gpus_per_job, name="gpus_per_job", where="run_jobs", lo=0)
    study = Study(cfg, root=root, progress=False)
    for stale in study.root.glob(".incoming-*") if study.root.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)  # an entry a killed driver was writing: never part of the cache
    jobs = [j.to_dict() if hasattr(j, "to_dict") else dict(j) for j in jobs]
    skipped = [j["name"] for j in jobs if (study.root / j["name"] / "done.json").exists()]
    todo = [j for j in jobs if j["name"] not in skipped]
    res: dict[str, Any] = {"done": [], "skipped": skipped, "failed": [], "seconds": 0.0, "job_seconds": {},
                           "job_nodes": {}}
    if not todo:
        return res
    t0 = time.perf_counter()
    started_here = not ray.is_initialized()
    if started_here:
        kw = dict(ray_init or {})
        if address:
            kw["address"] = address
        else:
            kw.setdefault("num_cpus", os.cpu_count() or 1)
        kw.setdefault("include_dashboard", False)
        kw.setdefault("log_to_driver", False)
        _connect(ray, address, kw)
    if address:
        try:
            res["nodes"] = check_nodes(ray)
        except BaseException:
            if started_here:
                ray.shutdown()
            raise
    # a worker or node that dies mid-job (killed, out of memory) is retried from the start of that job, twice; an
    # error raised by the job itself is not (it would fail again), and is reported
    task = ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=RETRIES,
                      retry_exceptions=False)(_job_task)
    refs: dict[str, Any] = {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc="jobs", unit="job", disable=not progress)
    try:
        data_refs: dict[tuple, Any] = {}
        for j in todo:
            key = _data_key(j)
            if key not in data_refs:
                data_refs[key] = ray.put(pack_data(study.data(key[0], strength=key[1])))
        cfg_ref = ray.put(cfg)
        for j in todo:
            init = None
            if j["init"]:
                if j["init"] in refs:
                    init = refs[j["init"]]  # made in this run: Ray starts this task when it is done
                else:
                    init = {"name": j["init"], "files": _read_entry(study.entry(j["init"]).path)}
            key = _data_key(j)  # a top-level argument: Ray hands the task the arrays, not the reference
            refs[j["name"]] = task.remote(cfg_ref, j, key, data_refs[key], init, cpus_per_job,
                                          os.environ.get(PERTURB_ENV, ""))
        by_ref = {r: name for name, r in refs.items()}
        pending = list(refs.values())
        spec_of = {j["name"]: j for j in todo}
        slots = _slots(ray, cpus_per_job, gpus_per_job)
        init_of = {j["name"]: j["init"] for j in todo}
        bar.set_postfix(**_postfix(bar_state(list(refs), [], init_of, slots, [])))
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            name = by_ref[ready[0]]
            try:
                out = ray.get(ready[0])
                _write_entry(study.root, out["name"], out["files"])
                res["done"].append(name)
                res["job_seconds"][name] = out["seconds"]
                res["job_nodes"][name] = out.get("node")
            except Exception as e:  # noqa: BLE001 - a failed job is reported, the others go on
                j = spec_of[name]
                res["failed"].append({"name": name, "kind": j["kind"], "call": j["call"], "init": j["init"],
                                      "error": f"{type(e).__name__}: {e}".strip(),
                                      "traceback": "".join(traceback.format_exception_only(type(e), e))[-4000:]})
            bar.update(1)
            state = bar_state([by_ref[r] for r in pending], res["done"], init_of, slots,
                              list(res["job_seconds"].values()))
            bar.set_postfix(**_postfix(state), failed=len(res["failed"]))
    except KeyboardInterrupt:
        for r in refs.values():
            ray.cancel(r, force=True)
        raise
    finally:
        bar.close()
        res["seconds"] = time.perf_counter() - t0
        if started_here:
            ray.shutdown()
    return res
