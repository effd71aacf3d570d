"""The report a researcher reads: full-width figures in notebook order with captions, tables in scroll
boxes, claims inline, a smoke banner; measured in headless Chromium where it is installed."""
import re
import shutil

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shortcutlab.app.index import check_layout, write_index  # noqa: E402
from shortcutlab.app.report import open_report  # noqa: E402


@pytest.fixture
def report(tmp_path):
    """A two-notebook report with a very wide figure (the dial's 15 x 3.3 in), a small one, a 17-column table of
    'mean [lo, hi]' cells and a claims table, saved through Report as a notebook does."""
    nb = tmp_path / "04_backmix"
    rep = open_report(nb)
    fig, ax = plt.subplots(figsize=(15, 3.3))
    ax.plot([0, 1], [0, 1])
    fig.suptitle("AUC against the cue strength")
    rep.save_figure(fig, "zz_dial")  # saved first: shown first, although its name sorts last
    fig, ax = plt.subplots(figsize=(3, 2.5))
    ax.set_title("i.d. site")
    rep.save_figure(fig, "aa_small")
    plt.close("all")
    wide = pd.DataFrame({f"column_{i}_accuracy": [f"{0.492 + i / 100:.3f} [0.326, 0.684]"] * 3 for i in range(17)})
    wide["accuracy"], wide["auc_micro"] = 25.0, 0.81234
    rep.table(wide, "paper_vs_run_table1")
    rep.table(pd.DataFrame([dict(id="9c", family="backmix", role="primary",
                                 claim="9c. BackMix raises o.o.d. accuracy over Baseline (points)", test="greater",
                                 effect=25.0, lo=np.nan, hi=np.nan, verdict="inconclusive", p=np.nan, n_seeds=1)]),
              "claims")
    rep.record("finding", "o.o.d. accuracy: baseline 25.0 %")
    summary = {"preset": "smoke", "created": "2026-11-29", "notebooks": [{
        "notebook": "04_backmix.ipynb", "status": "ok", "duration_s": 3.0, "html": "04_backmix.html",
        "executed": "04_backmix.ipynb", "results": rep.results(),
        "figures": ["04_backmix/figures/aa_small.png", "04_backmix/figures/zz_dial.png"],
        "tables": ["04_backmix/tables/claims.csv", "04_backmix/tables/paper_vs_run_table1.csv"]}]}
    return write_index(tmp_path, summary)


def test_the_report_shows_figures_tables_and_claims(report):
    text = report.read_text()
    assert text.index("zz_dial.png") < text.index("aa_small.png")  # the notebook's order
    assert "<figcaption>AUC against the cue strength</figcaption>" in text
    assert "<figcaption>i.d. site</figcaption>" in text
    assert "<a href='04_backmix/figures/zz_dial.png'><img" in text  # opens the full PNG
    assert "numbers are not meaningful" in text.lower() or "not meaningful" in text
    assert text.count("<table>") == text.count("<div class='scroll'><table>")  # every table scrolls, not the page
    assert "<td class='inconclusive'>inconclusive</td>" in text and "9c. BackMix" in text  # claims inline
    assert "<td>25.0</td>" in text and "<td>0.812</td>" in text  # percent points one decimal, AUC three
    assert "max-width:48%" not in text
    # the verdict first: the claims table leads with id, verdict and the effect with its interval
    head = re.search(r"<table id='claims'><tr>(.*?)</tr>", text).group(1)
    assert re.findall(r"<th>(.*?)</th>", head)[:3] == ["id", "verdict", "effect [95 % CI]"]
    assert text.index("<h2>Claims</h2>") < text.index("<h2>The run</h2>")  # the claims before the run's details
    assert "position:sticky;left:0" in text  # a wide table scrolls in its box with its first column kept in view


@pytest.mark.slow
def test_the_report_fits_a_browser_window(report):
    """In headless Chromium at 1280 × 800: the page is no wider than the window (a table that overflowed the body
    would widen it), the claims table's verdict column is inside the window, and no image is shown narrower than
    its natural width or the room it has allows (2 px of border and 1 px of rounding tolerated)."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")):
        pytest.skip("needs Chromium for the layout measurement (apt-get install chromium); the structure is "
                    "tested above")
    m = check_layout(report, width=1280, height=800)
    assert m["pageWidth"] <= m["viewport"] + 1, m
    assert m["verdict"] is not None and 0 <= m["verdict"]["left"] and m["verdict"]["right"] <= m["viewport"], m
    assert len(m["imgs"]) == 2 and all(i["natural"] > 0 for i in m["imgs"]), m["imgs"]
    for i in m["imgs"]:
        assert i["shown"] >= min(i["natural"], i["room"]) - 1, i
    assert all(t["inScroll"] and t["right"] <= m["viewport"] + 1 for t in m["tables"]), m["tables"]
