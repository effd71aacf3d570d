"""``reports/<preset>/index.html``: the study report a reader opens first."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping

from .._io import atomic_write_text

__all__ = ["write_index", "check_layout"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0}
.scroll{overflow-x:auto;max-width:100%;margin:.6em 0}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;white-space:nowrap}
th{background:#f3f3f3} .ok{color:#1a7f37;font-weight:600} .failed{color:#cf222e;font-weight:600}
td.holds,td.non-inferior,td.equivalent{color:#1a7f37;font-weight:600} td.contradicted,td.inferior{color:#cf222e;font-weight:600} td.inconclusive,td.not{color:#9a6700}
td.wrap{white-space:normal;min-width:18em} .results td:last-child{white-space:normal;min-width:24em}
.scroll th:first-child,.scroll td:first-child{position:sticky;left:0;background:#fff;z-index:1}
.scroll tr:first-child th:first-child{background:#f3f3f3}
figure{margin:1em 0} figure img{max-width:100%;height:auto;border:1px solid #ddd;display:block}
figcaption{color:#555;font-size:.9em;margin-top:.3em} section{border-top:1px solid #ddd;margin-top:1.5em}
.banner{background:#fff8c5;border:1px solid #d4a72c;padding:.5em .8em;font-weight:600}
code{background:#f6f8fa;padding:0 .2em}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return html.escape(str(v))


def _data_sentence(summary: Mapping[str, Any]) -> str:
    """What the run's cohorts were: the phantoms, or each cohort's source."""
    data = summary.get("data") or {}
    real = {c: d for c, d in data.items() if isinstance(d, Mapping) and d.get("source", "phantom") != "phantom"}
    if not real:
        return ("Phantom data (synthetic cardiac MRI and echo with a dial for the shortcut), not the papers' cohorts: "
                "compare directions of effects with the papers, not absolute numbers.")
    parts = [f"{c}: {d['source']} ({d.get('path', '')})" for c, d in real.items()]
    rest = [c for c in data if c not in real]
    return ("Data: " + "; ".join(parts) + (f"; phantoms for {', '.join(rest)}" if rest else "") +
            ". Parts that need a phantom (the cue-decorrelated test set, the dial, the calibration) are listed as not "
            "part of this run, with the reason.")


def _banner(summary: Mapping[str, Any]) -> str:
    if summary.get("preset") == "smoke":
        return ("<p class='banner'>Smoke preset: tiny sizes and one epoch, to test that everything runs. The numbers "
                "are not meaningful.</p>")
    return ""


def _figures_in_order(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(png, caption) in the order the notebook saved them (``results['figures']``), then any others."""
    files = list(entry.get("figures", []))
    by_stem = {Path(f).stem: f for f in files}
    out = []
    for f in (entry.get("results") or {}).get("figures", []) or []:
        if isinstance(f, Mapping) and f.get("name") in by_stem:
            out.append((by_stem.pop(f["name"]), str(f.get("caption") or f["name"])))
    return out + [(f, Path(f).stem.replace("_", " ")) for f in by_stem.values()]


def _figure_html(png: str, caption: str) -> str:
    """A full-width figure that opens the PNG at its own size, with its caption."""
    p = html.escape(png)
    return (f"<figure><a href='{p}'><img src='{p}' alt='{html.escape(caption)}'></a>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _finding(entry: Mapping[str, Any]) -> str:
    res = entry.get("results") or {}
    if "finding" in res:
        return html.escape(str(res["finding"]))
    scalars = [(k, v) for k, v in res.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(f"{html.escape(k)} = {_fmt(v)}" for k, v in scalars[:4])


# columns in percent points (BackMix's accuracy, F1, %E, %F ...): one decimal; every other number: three
_PERCENT = ("accuracy", "precision", "recall", "f1", "pct_e", "pct_f", "%")


def _number(col: str, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return html.escape(str(v))
    if v != v:
        return "–"
    if isinstance(v, int):
        return str(v)
    name = str(col).lower()
    if any(k in name for k in _PERCENT) and "auc" not in name:
        return f"{v:.1f}"
    if float(v).is_integer() and abs(v) >= 10:  # a count read back from CSV as a float
        return str(int(v))
    return f"{v:.3f}"


def _table_html(df, *, index: bool = True, table_id: str = "") -> str:
    """A table in a horizontal-scroll box, one line per cell, numbers formatted by column (percent points one
    decimal, AUC and the rest three); a ``verdict`` column coloured, a ``claim`` column allowed to wrap."""
    cols = list(df.columns)
    head = ("<th></th>" if index else "") + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for idx, row in df.iterrows():
        cells = [f"<th>{html.escape(str(idx))}</th>"] if index else []
        for c in cols:
            v = row[c]
            cls = ""
            if c == "verdict":
                cls = f" class='{html.escape(str(v).split()[0])}'"
            elif c in ("claim", "paper", "note"):
                cls = " class='wrap'"
            cells.append(f"<td{cls}>{_number(c, v.item() if hasattr(v, 'item') else v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    tid = f" id='{html.escape(table_id)}'" if table_id else ""
    return f"<div class='scroll'><table{tid}><tr>{head}</tr>{''.join(body)}</table></div>"


def _csv_table(path: Path) -> str:
    import pandas as pd

    try:
        df = pd.read_csv(path, index_col=0)
    except Exception as exc:  # noqa: BLE001
        return f"<p>could not read {html.escape(path.name)}: {html.escape(str(exc))}</p>"
    return _table_html(df)


def _results_html(summary: Mapping[str, Any], out: Path) -> str:
    """The README's results block (:mod:`shortcutlab.app.results`), rendered: the same text at the index's top."""
    import mistune

    from .results import results_block

    text = mistune.html(results_block(summary, report_dir=out, claims=False))  # the claims: their own table below
    return text.replace("<table>", "<div class='scroll'><table>").replace("</table>", "</table></div>")


def _all_claims(out: Path, summary: Mapping[str, Any]) -> str:
    """Every notebook's claims table (``tables/claims.csv``) as one table, the study's "does it reproduce": each
    paper's counts, Holm over its primary rows, a row whose claim changed after this run marked; then the findings
    map (every finding sentence of the papers and the claims that test it)."""
    from ..study.claims import headline
    from ..study.registry import findings_table
    from .results import claims_frame, lesson_only

    df = claims_frame(summary, out)
    if df is None:
        return ""
    whose = ("Each statement of the lesson (what it expects, and why, beside it)" if lesson_only(df["notebook"])
             else "Each statement of the papers (the sentence it tests, its source and the paper's own numbers beside "
                  "it)")
    counts = "".join(f"<li>{html.escape(h)}</li>" for h in headline(df))
    df = df.copy()  # the verdict first: id, verdict, effect [95 % CI], p (Holm); the sentence and the paper after
    df["effect [95 % CI]"] = [("no CI" if lo != lo else f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]") if e == e else "n/a"
                              for e, lo, hi in zip(df["effect"], df["lo"], df["hi"])]
    if "changed" in df:
        df["verdict"] = [c if isinstance(c, str) and c else v for v, c in zip(df["verdict"], df["changed"])]
    cols = ["id", "verdict", "effect [95 % CI]", "p_holm", "role", "n_seeds", "claim", "paper", "notebook", "planning",
            "note", "departure", "source", "p"]
    text = (f"<h2>Claims</h2><p>{whose}, as a paired effect with a 95 % CI over seeds and the shared test images "
            "(Welch–Satterthwaite degrees of freedom). Every bound is a one-sided test at 0.025, whether the verdict "
            "favours the paper or not: a direction <em>holds</em> when the CI lies above 0 (<em>holds, below Δ</em> "
            "when also below the smallest effect of interest Δ), is <em>contradicted</em> below 0, <em>not "
            "replicated</em> inside ±Δ around 0; a margin claim reads <em>non-inferior</em>, <em>not superior</em> "
            "or <em>equivalent</em> (or their opposites) at ±Δ; <code>p_holm</code> adjusts the primary rows of each "
            f"paper together (secondary rows: per method, or a named departure; a control is true by construction "
            f"and not counted). Every term: <a href='../../docs/glossary.md'>docs/glossary.md</a>.</p><ul>{counts}</ul>"
            + _table_html(df[[c for c in cols if c in df.columns]], index=False, table_id="claims"))
    if not lesson_only(df["notebook"]):
        text += ("<h3>Findings map</h3><p>Every finding sentence and table caption of MRI §5 and BackMix §3.3 / Tables "
                 "1–2, with the claims that test it, or why none does.</p>"
                 + _table_html(findings_table(), index=False))
    return text


def _header_ran(summary: Mapping[str, Any]) -> str:
    """The report header's line on what ran: the machine, the precision (``auto`` with its reason) and the seeds."""
    from .results import what_ran

    machine, ran = what_ran(summary)
    return f"{machine}{ran}".replace("; trained", " · trained").replace("; seeds", " · seeds")


def write_index(out: Path, summary: Mapping[str, Any]) -> Path:
    """Write ``index.html`` into ``out`` from a runner summary."""
    out = Path(out)
    rows = []
    for e in summary["notebooks"]:
        status = e["status"]
        err = ""
        if status == "failed":
            er = e.get("error", {})
            cell = er.get("exec_count", er.get("cell_index", "?"))
            err = f"<br><small>cell {html.escape(str(cell))}: {html.escape(str(er.get('ename', '')))}: " \
                  f"{html.escape(str(er.get('evalue', ''))[:300])}</small>"
        earlier = " <small>(earlier run)</small>" if e.get("from_earlier_run") else ""
        rows.append(f"<tr><td><a href='{html.escape(e['html'])}'>{html.escape(e['notebook'])}</a>{earlier}</td>"
                    f"<td class='{status}'>{status}{err}</td><td>{e.get('duration_s', 0):.0f} s</td>"
                    f"<td class='wrap'>{_finding(e)}</td></tr>")
    sections = []
    for e in summary["notebooks"]:
        figs = "".join(_figure_html(f, cap) for f, cap in _figures_in_order(e))
        tables = ""
        for t in e.get("tables", []):
            if Path(t).stem.startswith("paper_vs_run") or Path(t).stem == "claims":
                tables += f"<h4>{html.escape(Path(t).stem)}</h4>" + _csv_table(out / t)
        other = [t for t in e.get("tables", []) if not (Path(t).stem.startswith("paper_vs_run") or Path(t).stem == "claims")]
        links = " · ".join(f"<a href='{html.escape(t)}'>{html.escape(Path(t).name)}</a>" for t in other)
        res = e.get("results") or {}
        rec = "".join(f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in res.items()
                      if not isinstance(v, (list, dict)))
        absent = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}.</li>"
                         for k, v in (res.get("absent") or {}).items())
        if absent:
            tables += f"<p>Not part of this run:</p><ul class='absent'>{absent}</ul>"
        recorded = ("<div class='scroll'><table><tr><th>recorded</th><th>value</th></tr>" + rec + "</table></div>"
                    if rec else "")
        sections.append(
            f"<section><h2>{html.escape(e['notebook'])}</h2>"
            f"<p><a href='{html.escape(e['html'])}'>rendered notebook</a> · "
            f"<a href='{html.escape(e['executed'])}'>executed .ipynb</a>{(' · tables: ' + links) if links else ''}</p>"
            f"{tables}{recorded}"
            f"<div class='figs'>{figs}</div></section>")
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>shortcutlab report · {html.escape(summary['preset'])}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>shortcutlab study report</h1><p class='sub'>preset <code>{html.escape(summary['preset'])}</code> · "
            f"{html.escape(summary.get('created', ''))} · overrides <code>{html.escape(str(summary.get('overrides') or {}))}</code>"
            f" · {html.escape(_header_ran(summary))}</p>"
            f"{_banner(summary)}<p>{html.escape(_data_sentence(summary))}</p>"
            f"{_all_claims(out, summary)}"
            f"<h2>The run</h2><div class='results'>{_results_html(summary, out)}</div>"
            f"<h2>Notebooks</h2>"
            f"<div class='scroll'><table><tr><th>notebook</th><th>status</th><th>time</th><th>finding</th></tr>"
            f"{''.join(rows)}</table></div>"
            f"{''.join(sections)}<p><a href='summary.json'>summary.json</a></p></body></html>")
    path = out / "index.html"
    atomic_write_text(path, body)
    return path


_MEASURE = """<script>
window.addEventListener('load', () => {
  const vw = document.documentElement.clientWidth;
  const imgs = [...document.querySelectorAll('img')].map(i => ({src: i.getAttribute('src'), natural: i.naturalWidth,
      shown: i.getBoundingClientRect().width, room: i.parentElement.closest('figure,div,section,body').clientWidth}));
  const boxes = [...document.querySelectorAll('table')].map(t => ({inScroll: !!t.closest('.scroll'),
      right: (t.closest('.scroll') || t).getBoundingClientRect().right, width: t.getBoundingClientRect().width}));
  const th = [...document.querySelectorAll('#claims th')].find(e => e.textContent.trim() === 'verdict');
  const verdict = th ? {left: th.getBoundingClientRect().left, right: th.getBoundingClientRect().right} : null;
  const out = {viewport: vw, pageWidth: document.documentElement.scrollWidth, imgs, tables: boxes, verdict};
  const pre = document.createElement('pre'); pre.id = 'layout-metrics'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def check_layout(index_html: str | Path, *, width: int = 1280, chromium: str | None = None,
                 screenshot: str | Path | None = None, height: int = 2400) -> dict:
    """Open a report's ``index.html`` in headless Chromium and measure it: the page's width against the window's
    (a table that overflows the body makes the page wider), each image's shown width against its natural width and
    the room it has, and where the claims table's verdict column sits (``verdict``: its left and right edge).
    Optionally saves a screenshot. Needs a Chromium binary (``chromium``)."""
    import json
    import re
    import shutil
    import subprocess
    import tempfile

    exe = chromium or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise FileNotFoundError("check_layout needs Chromium (Debian: apt-get install chromium)")
    index_html = Path(index_html)
    probe = index_html.with_name(".layout-probe.html")
    probe.write_text(index_html.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--allow-file-access-from-files", f"--window-size={width},{height}", "--virtual-time-budget=10000"]
    try:
        with tempfile.TemporaryDirectory() as prof:
            dom = subprocess.run([exe, *flags, f"--user-data-dir={prof}", "--dump-dom", probe.resolve().as_uri()],
                                 capture_output=True, text=True, timeout=120).stdout
            if screenshot is not None:
                subprocess.run([exe, *flags, f"--user-data-dir={prof}", f"--screenshot={Path(screenshot).resolve()}",
                                index_html.resolve().as_uri()], capture_output=True, timeout=120)
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(r'<pre id="layout-metrics">(.*?)</pre>', dom, re.S)
    if not m:
        raise RuntimeError(f"check_layout: Chromium returned no measurements for {str(index_html)!r}")
    return json.loads(html.unescape(m.group(1)))
