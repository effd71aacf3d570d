"""``shortcutlab discover``: a model file and unmasked images in, an HTML report out (the audit report's look).

The report answers first (which regions the model reads, with effect and interval), then shows each cluster of the
maps as a row of images (its mean map, its exemplars, the region outlined) beside the region's verdict, says how the
regions were tested, and cautions that a cluster is a pattern of the maps, which only the counterfactual turns into
evidence. Its table is also written as CSV, and ``discover.json`` holds the recorded values. The audit report takes
the same section (``shortcutlab audit --discover``).
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

from .._io import atomic_json, atomic_savefig, atomic_write_text, to_jsonable
from .._validation import ShortcutlabError, param_error
from .index import _CSS, _figure_html, _table_html

__all__ = ["write_discover_report", "discovery_files", "discovery_section", "discovery_sections", "open_out",
           "CAUTION"]

CAUTION = ("A cluster is a pattern of the maps, not evidence: saliency maps can look organised where the model "
           "reads nothing there. Only the counterfactual (the region replaced, against the same shape elsewhere, on "
           "images the regions were not found on) turns a cluster into evidence, and only for the region and the fill "
           "it tested. A region that does not read may still matter under another fill, and a shortcut spread over "
           "the image, or smaller than a map cell, forms no region at all.")


def discovery_files(result, out: str | Path, *, max_clusters: int = 8) -> dict[str, Any]:
    """Write one discovery's cluster table (CSV) and cluster figures (PNG) into ``out``; returns their paths."""
    import matplotlib.pyplot as plt

    from ..plots import discovery_cluster

    out = Path(out)
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in result.name) or "model"
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {"tables": {}, "figures": []}
    if len(result.clusters):
        p = out / "tables" / f"{slug}_clusters.csv"
        table = result.clusters.copy()
        if "shares" in table:
            table["shares"] = [";".join(f"{k}={v:.4f}" for k, v in sh.items()) for sh in table["shares"]]
        atomic_write_text(p, table.to_csv())
        files["tables"]["clusters"] = str(p.relative_to(out))
        order = result.clusters.sort_values(["reads", "size"], ascending=[False, False]).index[:max_clusters]
        for c in order:
            fig = discovery_cluster(result, int(c))
            p = out / "figures" / f"{slug}_cluster_{int(c)}.png"
            atomic_savefig(fig, p, dpi=110)
            plt.close(fig)
            files["figures"].append((str(p.relative_to(out)), f"{result.name}: cluster {int(c)}: "
                                     f"{result.clusters.loc[c, 'reading']}"))
    return files


def discovery_section(result, files) -> str:
    info = result.info
    cols = ["class", "size", "n_test", "area", "level", "excess_mass", "effect", "lo", "hi", "verdict", "p_holm",
            "reading"]
    table = result.clusters.reindex(columns=cols)
    if "shares" in result.clusters:  # the true classes of the images that found the cluster (labels, not predictions)
        table.insert(1, "true classes", [", ".join(f"{k} {v:.0%}" for k, v in sorted(sh.items(), key=lambda kv: -kv[1])
                                                   if v > 0) for sh in result.clusters["shares"]])
    steps = "".join(f"<li>{html.escape(str(st))}</li>" for st in info.get("pipeline", []))
    margin = (f"{100 * info['margin']:g} points (registered: {html.escape(info['margin_why'])})"
              if info.get("margin_registered") else html.escape(info["margin_why"]))
    parts = [f"<section><h2>{html.escape(result.name)}: which regions does it read? (no masks)</h2>",
             f"<p>{html.escape(result.summary)}</p>",
             f"<p class='sub'><b>Caution.</b> {html.escape(CAUTION)}</p>",
             f"<h3>Input pipeline: from the file to the model, in order</h3><ol>{steps}</ol>" if steps else "",
             f"<p class='sub'>{info['n_images']} images of {html.escape(str(info['data']))} "
             f"({', '.join(map(html.escape, info['classes']))}): {info['n_find']} to find the regions, "
             f"{info['n_test']} to test them (a seeded split) · maps: {html.escape(info['method'])} at "
             f"<code>{html.escape(info['target_layer'])}</code>, pooled to {info['grid']} × {info['grid']} · "
             f"clusters per predicted class by the eigengap (at most {info['max_clusters']}) · fill: "
             f"{html.escape(info['fill'])}, {html.escape(info['fill_why'])} · {info['placements']} placements of "
             f"the same shape elsewhere · margin {margin} · Holm over the tested regions · seed {info['seed']} · "
             f"{info['total_s']:.1f} s</p>",
             "<h3>Clusters and their regions</h3>",
             "<p class='sub'><b>class</b>: the prediction the cluster's images share; <b>true classes</b>: their "
             "labels; <b>effect</b>: how many points more the probability of the prediction drops when the "
             "region is replaced than when the same shape is replaced elsewhere (mean over the test images, 95 % "
             "bootstrap CI); <b>excess_mass</b>: the cluster's map mass in the region minus the class's other "
             "clusters' there; <b>level</b>: the share of the mean map's peak that drew the region.</p>",
             _table_html(table)]
    parts += [_figure_html(png, cap) for png, cap in files["figures"]]
    links = " · ".join(f"<a href='{html.escape(p)}'>{html.escape(Path(p).name)}</a>" for p in files["tables"].values())
    parts.append(f"<p>tables: {links}</p></section>" if links else "</section>")
    return "".join(parts)


def open_out(out: str | Path) -> Path:
    """The report folder ``out``, created (its parents too), or an error that names it."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ShortcutlabError(f"The '--out' folder {str(out)!r} could not be created ({e}).") from None
    return out


def discovery_sections(results: Sequence[Any], out: Path) -> tuple[list[str], dict]:
    """Each discovery's files written into ``out``, its HTML section, and the record ``discover.json`` holds."""
    sections, record = [], {}
    for r in results:
        files = discovery_files(r, out)
        sections.append(discovery_section(r, files))
        record[r.name] = {**r.record(), "info": r.info, "files": files}
    return sections, record


def write_discover_report(results: Sequence[Any], out: str | Path, *,
                          title: str = "shortcutlab discover") -> Path:
    """Write ``index.html`` (with its table, figures and ``discover.json``) for one or more discoveries into
    ``out``."""
    results = list(results)
    if not results:
        raise param_error("results", "write_discover_report", "at least one DiscoveryResult", results)
    out = open_out(out)
    sections, record = discovery_sections(results, out)
    atomic_json(out / "discover.json", to_jsonable(record))
    top = "".join(f"<tr><td>{html.escape(r.name)}</td><td class='wrap'>{html.escape(r.summary)}</td></tr>"
                  for r in results)
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='sub'>Which regions does the model read, without masks? Its saliency maps are clustered per "
            f"predicted class, each cluster's region is named from its mean map on half of the images, and tested on "
            f"the other half: the region replaced, against the same shape elsewhere, with a verdict.</p>"
            f"<div class='scroll'><table><tr><th>model</th><th>answer</th></tr>{top}</table></div>"
            f"{''.join(sections)}"
            f"<section><h2>What the verdicts mean</h2><ul>"
            f"<li><b>reads this region</b>: the 95 % interval lies above zero and does not lie wholly below the "
            f"margin (the project's <em>holds</em>), and the region survives Holm over the model's tested regions.</li>"
            f"<li><b>holds, below Δ</b>: an effect is there, smaller than the margin.</li>"
            f"<li><b>not replicated</b>: the interval lies inside ± the margin: the model does not read the region at "
            f"the margin.</li><li><b>contradicted</b>: replacing the region raises the probability more than elsewhere."
            f"</li><li><b>inconclusive</b>: more test images would decide it.</li><li><b>not tested</b>: too few "
            f"images, or a region too wide for its placebo; the row says which.</li></ul></section>"
            f"<p><a href='discover.json'>discover.json</a></p></body></html>")
    path = out / "index.html"
    atomic_write_text(path, body)
    return path
