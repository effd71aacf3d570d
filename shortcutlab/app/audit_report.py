"""``shortcutlab audit``: a model file and a masked image set in, an HTML report out (the study index's look).

The report answers first ("does this model read the background?"), then gives each test's reading, the
accuracy under every background, the localisation per class against its floor and ceiling, the sanity check, a
few of the images whose prediction follows the donor's background, and what each verdict means. Every table is
also written as CSV, and ``audit.json`` holds the recorded values.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping, Sequence

from .._io import atomic_json, atomic_savefig, atomic_write_text, to_jsonable
from .._validation import param_error
from ..auditing.tests import AUDIT_TESTS
from .discover_report import discovery_sections, open_out
from .index import _CSS, _figure_html, _table_html

__all__ = ["write_audit_report", "audit_files", "VERDICT_MEANING"]

VERDICT_MEANING = {
    "holds": "the test's 95 % interval over the images lies above zero: the effect is there",
    "contradicted": "the interval lies below zero: the opposite of the effect is there",
    "equivalent": "the 95 % interval lies inside ± the margin (two one-sided tests at 0.025, the bar every other "
                  "verdict meets): no effect as large as the margin",
    "inconclusive": "the interval includes zero and reaches beyond the margin: more images would decide it",
    "not run": "the test was not run, and the row says why",
}
_TEST_HELP = {t.name: t.help for t in AUDIT_TESTS}


def audit_files(result, out: str | Path, *, cases: int = 4) -> dict[str, Any]:
    """Write one audit's tables (CSV) and figures (PNG) into ``out``; returns their relative paths."""
    import matplotlib.pyplot as plt

    from ..plots import audit_case, plot_audit

    out = Path(out)
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in result.name) or "model"
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {"tables": {}, "figures": []}
    for key, df in (("tests", result.tests), ("counterfactuals", result.counterfactuals),
                    ("localisation", result.localisation), ("sanity", result.sanity)):
        if len(df):
            p = out / "tables" / f"{slug}_{key}.csv"
            atomic_write_text(p, df.to_csv())
            files["tables"][key] = str(p.relative_to(out))
    fig = plot_audit(result)
    p = out / "figures" / f"{slug}_backgrounds.png"
    atomic_savefig(fig, p, dpi=110)
    plt.close(fig)
    files["figures"].append((str(p.relative_to(out)), f"{result.name}: accuracy under each background (95 % CI)"))
    for i in list(result.cases[:cases]):
        fig = audit_case(result, int(i))
        p = out / "figures" / f"{slug}_case_{int(i)}.png"
        atomic_savefig(fig, p, dpi=110)
        plt.close(fig)
        files["figures"].append((str(p.relative_to(out)), f"{result.name}: image #{int(i)}, whose prediction follows "
                                                           f"the donor's background"))
    return files


def _section(result, files: Mapping[str, Any]) -> str:
    info = result.info
    tests = result.tests[["question", "effect", "lo", "hi", "verdict", "reading"]].rename(
        columns={"question": "claim"})
    box = (" · <b>the object region is a box</b> (the manifest's box column), not a mask: its corners are "
           "background counted as object" if info.get("object_region") == "box" else "")
    steps = "".join(f"<li>{html.escape(str(st))}</li>" for st in info.get("pipeline", []))
    parts = [f"<section><h2>{html.escape(result.name)}: {html.escape(result.overall)}</h2>",
             f"<p>{html.escape(result.summary)}</p>",
             f"<h3>Input pipeline: from the file to the model, in order</h3><ol>{steps}</ol>" if steps else "",
             f"<p class='sub'>{info['n_images']} images of {html.escape(str(info['data']))} "
             f"({', '.join(map(html.escape, info['classes']))}; {info['frames']} frame(s) of "
             f"{info['size'][0]} × {info['size'][1]} px) · preprocessing: {html.escape(_describe(info['preprocess']))}"
             f"{box}"
             f" · CAM: {html.escape(info['method'])} at <code>{html.escape(info['target_layer'] or 'none')}</code> on "
             f"{info['cam_images']} images, sanity on {info['sanity_images']} · seed {info['seed']} · "
             f"{info['total_s']:.1f} s</p>",
             "<h3>Tests</h3>", _table_html(tests),
             "<h3>Accuracy under each background</h3>", _table_html(result.counterfactuals)]
    if len(result.localisation):
        parts += ["<h3>Localisation per class (floor: a uniform map; ceiling: the mask at the CAM's resolution)</h3>",
                  _table_html(result.localisation, index=False)]
    if len(result.sanity):
        parts += ["<h3>Sanity: cascading randomization (rank correlation with the original maps)</h3>",
                  _table_html(result.sanity)]
    parts.append(_caveats(result))
    parts += [_figure_html(png, cap) for png, cap in files["figures"]]
    links = " · ".join(f"<a href='{html.escape(p)}'>{html.escape(Path(p).name)}</a>" for p in files["tables"].values())
    parts.append(f"<p>tables: {links}</p></section>")
    return "".join(parts)


def _caveats(result) -> str:
    """What the verdicts cannot say, with this audit's own numbers: how many images an undecided test needs."""
    margin, need = result.info.get("margin", 0.0), []
    for t in ("follows_donor", "bg_gap"):
        if t in result.tests.index and result.tests.loc[t, "verdict"] == "inconclusive" and margin > 0:
            row = result.tests.loc[t]
            half, n = (float(row["hi"]) - float(row["lo"])) / 2, int(row["n"])
            if half > 0 and n > 0:
                need.append(f"{t}: its interval is ± {100 * half:.1f} points on {n} images; it narrows as 1/√n, so "
                            f"about {int(n * (half / margin) ** 2) + 1} images would bring it inside ± "
                            f"{100 * margin:g} points")
    items = ["A mixed image (an object on another image's background) is out of distribution for any model: a "
             "model may err on it because the seam is new, not because it reads the background. The follows-donor "
             "test counts moves toward the donor's class only, which a seam does not explain.",
             "Context can be legitimate evidence: where the background carries real signs of the class (amyloid "
             "outside the heart, a pleural effusion around the lung), reading it is not a shortcut. The audit "
             "measures that the model reads it; whether it should is the reader's call.",
             "The intervals are over these images only; an undecided test needs more images, not another seed."]
    items += [f"How many images: {n}." for n in need]
    return "<h3>Caveats</h3><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _describe(pre: Mapping[str, Any]) -> str:
    bits = [f"size {pre.get('size') or 'as the data'}", f"channels {pre.get('channels') or 'the frames'}"]
    if pre.get("mean"):
        bits.append(f"mean {pre['mean']}, std {pre['std']}")
    if pre.get("zscore"):
        bits.append("z-score per image")
    if pre.get("test_input", "full") != "full":
        bits.append(f"test-time input {pre['test_input']}")
    return ", ".join(bits)


def write_audit_report(results: Sequence[Any], out: str | Path, *, title: str = "shortcutlab audit",
                       discoveries: Sequence[Any] = ()) -> Path:
    """Write ``index.html`` (with its tables, figures and ``audit.json``) for one or more audits into ``out``;
    ``discoveries`` (:func:`~shortcutlab.auditing.discover` results) add their sections, recorded in
    ``discover.json``."""
    results = list(results)
    if not results:
        raise param_error("results", "write_audit_report", "at least one AuditResult", results)
    out = open_out(out)
    sections, record = [], {}
    for r in results:
        files = audit_files(r, out)
        sections.append(_section(r, files))
        record[r.name] = {"overall": r.overall, "summary": r.summary, "tests": r.record(), "info": r.info,
                          "files": files}
    if discoveries:
        more_sections, record_d = discovery_sections(discoveries, out)
        sections += more_sections
        atomic_json(out / "discover.json", to_jsonable(record_d))
    atomic_json(out / "audit.json", to_jsonable(record))
    top = "".join(f"<tr><td>{html.escape(r.name)}</td><td class='wrap'><b>{html.escape(r.overall)}</b>. "
                  f"{html.escape(r.summary)}</td></tr>" for r in results)
    meaning = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}.</li>" for k, v in VERDICT_MEANING.items())
    tests = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in _TEST_HELP.items())
    more = " · <a href='discover.json'>discover.json</a>" if discoveries else ""
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='sub'>Does the model read the background? Each test keeps every image's object (its mask) and "
            f"changes only the background, then reads the predictions and the saliency maps.</p>"
            f"<div class='scroll'><table><tr><th>model</th><th>answer</th></tr>{top}</table></div>"
            f"{''.join(sections)}"
            f"<section><h2>What the tests and verdicts mean</h2><ul>{tests}</ul><ul>{meaning}</ul>"
            f"<p>Every interval is a bootstrap over the test images (seeded); the margin is the smallest effect "
            f"the audit calls a difference.</p></section>"
            f"<p><a href='audit.json'>audit.json</a>{more}</p></body></html>")
    path = out / "index.html"
    atomic_write_text(path, body)
    return path
