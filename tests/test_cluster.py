"""The README's cluster recipe, run as written on this machine: a Ray head started with ``ray start --head`` and a
second node with ``ray start --address=...``, each with its own resources, then ``shortcutlab run --engine ray
--address HOST:PORT``. Jobs run on both nodes and the report equals the one-machine run's; a node that leaves mid-run
costs a retry on the other, not a job; and what a user sees when the address does not answer, when a node lacks
shortcutlab, or when the cluster's token authentication refuses the driver."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from conftest import processes_with

pytestmark = pytest.mark.slow

NOTEBOOK = "01_contextual_bias"
PY = Path(sys.executable)
RAY = str(PY.with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A head and nodes started with ``ray start`` as the README says, in a temporary folder of their own; stopped
    (every process of that folder killed) whatever happens."""

    def __init__(self, env: dict | None = None):
        self.tmp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths must fit 107 characters
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        # the recipe's token authentication: one token for the head, the nodes and the driver (as the README says)
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": self.tmp, "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": uuid.uuid4().hex, **(env or {})}
        self.env.pop("RAY_AUTH_TOKEN_PATH", None)

    def start(self, *args: str, python: str | None = None, env: dict | None = None) -> None:
        cmd = ([python, "-m", "ray.scripts.scripts"] if python else [RAY]) + ["start", *args, "--disable-usage-stats"]
        r = subprocess.run(cmd, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=180,
                           cwd=self.tmp)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

    def head(self, cpus: int = 1) -> "Cluster":
        self.start("--head", f"--port={self.port}", f"--num-cpus={cpus}", "--include-dashboard=false",
                   f"--temp-dir={self.tmp}")
        return self

    def node(self, name: str, cpus: int = 1, **kw) -> None:
        self.start(f"--address={self.address}", f"--num-cpus={cpus}", f"--resources={json.dumps({name: 1})}", **kw)

    def stop(self) -> None:
        for pid in processes_with(self.tmp.encode()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(1)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _run(cluster: Cluster | None, root: Path, out: Path, *extra: str, env: dict | None = None, timeout: int = 900):
    cmd = [sys.executable, "-m", "shortcutlab", "run", "--preset", "smoke", "--only", NOTEBOOK[:2], "--quiet",
           "--set", f"study.root={root}", "--out", str(out), *extra]
    # one thread per job on the cluster and on the local engine alike: another thread count is other arithmetic
    cmd += ["--engine", "ray", "--cpus-per-job", "1"] + (["--address", cluster.address] if cluster is not None else [])
    base = cluster.env if cluster is not None else {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    # from outside the checkout: Ray puts the driver's working folder on every worker's path, which on one host
    # would hand a node without shortcutlab the checkout's copy
    return subprocess.run(cmd, env={**base, **(env or {})}, capture_output=True, text=True, timeout=timeout,
                          cwd=root.parent)


def _results(out: Path):
    res = json.loads((out / "summary.json").read_text())["notebooks"][0]["results"]
    return res, pd.read_csv(out / NOTEBOOK / "tables" / "claims.csv")


def test_the_recipe_runs_jobs_on_both_nodes_with_the_numbers_of_one_machine(tmp_path):
    cluster = Cluster()
    try:
        cluster.head(cpus=1)
        cluster.node("second", cpus=1)
        r = _run(cluster, tmp_path / "runs", tmp_path / "report")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    finally:
        cluster.stop()
    eng = json.loads((tmp_path / "report" / "engine.json").read_text())
    assert len(eng["nodes"]) == 2 and all(n["version"] for n in eng["nodes"])
    assert set(eng["job_nodes"]) == set(eng["done"]) and len(set(eng["job_nodes"].values())) == 2, eng["job_nodes"]
    local = _run(None, tmp_path / "local_runs", tmp_path / "local")  # the local engine: a Ray of its own
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    (a, ca), (b, cb) = _results(tmp_path / "report"), _results(tmp_path / "local")
    assert a == b
    pd.testing.assert_frame_equal(ca, cb)


def test_a_node_that_leaves_costs_a_retry_not_a_job(tmp_path):
    cluster = Cluster()
    root, out = tmp_path / "runs", tmp_path / "report"
    try:
        cluster.head(cpus=1)
        cluster.node("leaving", cpus=1)
        leaving = [p for p in processes_with(b"raylet") if b"leaving" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(leaving) == 1, leaving
        run = subprocess.Popen([sys.executable, "-m", "shortcutlab", "run", "--preset", "smoke", "--only", "01",
                                "--quiet", "--set", f"study.root={root}", "--set", "train.epochs=15", "--out", str(out),
                                "--engine", "ray", "--address", cluster.address, "--cpus-per-job", "1"],
                               env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        end = time.monotonic() + 300
        while len(processes_with(b"ray::_job_task")) < 2 and time.monotonic() < end:  # a job on each node
            assert run.poll() is None, run.stdout.read()[-3000:]
            time.sleep(0.2)
        os.kill(leaving[0], signal.SIGKILL)  # the second node's raylet: the node leaves with its job
        text, _ = run.communicate(timeout=900)
        assert run.returncode == 0, text[-3000:]
    finally:
        cluster.stop()
    eng = json.loads((out / "engine.json").read_text())
    entries = root / "smoke"  # the study's cache: runs/<preset>/
    assert not eng["failed"] and sorted(p.name for p in entries.iterdir()) == sorted(eng["done"]), eng
    assert all((entries / n / "done.json").exists() for n in eng["done"])


def test_an_address_that_does_not_answer_is_named(tmp_path):
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    r = subprocess.run([sys.executable, "-m", "shortcutlab", "run", "--preset", "smoke", "--only", "01", "--quiet",
                        "--set", f"study.root={tmp_path}", "--engine", "ray", "--address", f"127.0.0.1:{port}"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert f"--address) is '127.0.0.1:{port}', but no Ray cluster answered there" in r.stderr, r.stderr[-3000:]
    assert "ray start --head" in r.stderr


def test_a_node_without_shortcutlab_is_named_before_any_job(tmp_path):
    """Two nodes on one host share a filesystem: the second starts from a Python that has Ray (this environment's
    site-packages on its path) but not shortcutlab (an editable install is found only through its own site folder)."""
    import site
    import venv

    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False)
    sp = next((bare / "lib").glob("python*/site-packages"))
    ours = [p for p in site.getsitepackages() if "site-packages" in p][0]
    (sp / "with_ray.pth").write_text(ours + "\n")
    check = subprocess.run([str(bare / "bin" / "python"), "-c", "import ray, importlib.util as u; "
                            "print(u.find_spec('shortcutlab') is None)"], capture_output=True, text=True, cwd="/tmp")
    assert check.stdout.strip() == "True", check.stdout + check.stderr
    cluster = Cluster()
    try:
        cluster.head(cpus=1)
        cluster.node("bare", cpus=1, python=str(bare / "bin" / "python"))
        r = _run(cluster, tmp_path / "runs", tmp_path / "report", timeout=300)
    finally:
        cluster.stop()
    assert r.returncode != 0
    assert "does not have shortcutlab" in r.stderr and "Install the same version on every node" in r.stderr, \
        r.stderr[-3000:]
    assert not list((tmp_path / "runs").glob("smoke/*/done.json"))  # nothing was trained


def test_a_refused_token_is_named(tmp_path):
    cluster = Cluster()
    try:
        cluster.head(cpus=1)
        r = _run(cluster, tmp_path / "runs", tmp_path / "report", env={"RAY_AUTH_TOKEN": "b" * 32}, timeout=300)
    finally:
        cluster.stop()
    assert r.returncode != 0
    assert f"The Ray cluster at --address '{cluster.address}' refused this driver's authentication token" in r.stderr, \
        r.stderr[-3000:]
    assert "RAY_AUTH_TOKEN" in r.stderr
