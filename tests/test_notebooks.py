"""Every notebook runs under the smoke preset (papermill, a real kernel) and records what it found."""
import json

import nbformat
import pytest

from shortcutlab.runner import discover_notebooks, run_study


def test_notebooks_are_clean():
    for nb in discover_notebooks():
        d = nbformat.read(str(nb), as_version=4)
        params = [c for c in d.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, nb.name
        src = params[0].source
        assert "PRESET" in src and "REPORT_DIR" in src
        for line in src.splitlines():  # UPPERCASE literals only
            if line.strip() and not line.strip().startswith("#"):
                name = line.split("=")[0].strip()
                assert name.isupper(), (nb.name, line)
        for c in d.cells:
            if c.cell_type == "code":
                assert not c.get("outputs"), f"{nb.name} committed with outputs"
                assert "sys.path" not in c.source


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    runs = tmp_path_factory.mktemp("runs")
    summary = run_study("smoke", out=out, overrides={"study.root": str(runs)}, progress=False)
    return out, summary


def test_every_notebook_runs_under_smoke(smoke_report):
    out, summary = smoke_report
    failed = {e["notebook"]: e.get("error") for e in summary["notebooks"] if e["status"] != "ok"}
    assert not failed, failed
    names = [e["notebook"] for e in summary["notebooks"]]
    assert names == [p.name for p in discover_notebooks()]
    for e in summary["notebooks"]:
        assert e["results"].get("finding"), f"{e['notebook']} recorded no finding"
        assert e["figures"], f"{e['notebook']} saved no figure"


def test_report_index_links_everything(smoke_report):
    out, summary = smoke_report
    index = (out / "index.html").read_text()
    on_disk = json.loads((out / "summary.json").read_text())
    for e in on_disk["notebooks"]:
        assert e["html"] in index and (out / e["html"]).exists() and (out / e["executed"]).exists()
        for f in e["figures"]:
            assert f in index and (out / f).exists()
    assert "paper_vs_run_table1" in index
