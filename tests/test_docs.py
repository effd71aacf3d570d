"""The README and the docs pages: short, every figure generated, every term defined, every link alive."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md"] + sorted(p for p in (ROOT / "docs").glob("*.md")
                                                                  if p.name != "claims.md")  # claims.md: generated

# a measured figure: a number with a unit of time, speed, share, size or count, or a decimal with two places or more
FIGURE = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s?(×|x\b|%|ms\b|µs\b|s\b|min\b|minutes?\b|seconds?\b|hours?\b|"
                    r"h\b|GB\b|GiB\b|MB\b|MiB\b|images/s|img/s|faults|jobs\b|seeds\b|images\b|patients\b|epochs\b|"
                    r"repeats\b|runs\b|sectors\b|studies\b)|(?<![\w.])\d+\.\d{2,}\b")
# definitions, not measurements: the verdicts' levels and margins, settings, a version, parameter values
DEFINITIONS = {"95 %", "0.025", "0.02", "80 %", "96 %", "3.11", "0.01", "0.05", "0.95", "0 %", "5 %", "32 MiB",
               "64 MiB", "25 %", "62.5 %", "92.5 %", "100 %", "50 %", "90 %"}


def prose(text: str) -> str:
    """The text a person typed: generated blocks, code blocks, code spans and link targets taken out."""
    text = re.sub(r"(?s)<!-- ([\w ()]+?): begin.*?<!-- \1: end -->", "", text)
    text = re.sub(r"(?s)```.*?```", "", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def test_the_readme_is_short_and_starts_with_what_to_run():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    heads = re.findall(r"(?m)^## (.+)$", text)
    assert heads[:4] == ["Quick start", "Notebooks", "Results", "Read more"], heads


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_figure_in_prose_is_generated_or_a_definition(page):
    found = [m.group(0) for m in FIGURE.finditer(prose(page.read_text())) if m.group(0) not in DEFINITIONS]
    assert not found, (f"{page.name} types figures by hand (put them in a generated block, or remove them): "
                       f"{found[:10]}")


@pytest.mark.parametrize("page", PAGES + [ROOT / "docs" / "claims.md"], ids=lambda p: p.name)
def test_no_issue_numbers_and_every_link_resolves(page):
    text = page.read_text()
    assert not re.findall(r"(?<![\w/])#\d+\b", prose(text)), "an issue number in prose"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"\w+://", target):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_quick_start_times_come_from_the_generated_blocks():
    spec = importlib.util.spec_from_file_location("readme_times", ROOT / "scripts" / "readme_times.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(mod.BEGIN):readme.index(mod.END) + len(mod.END)]
    assert block == mod.block(readme, (ROOT / "docs" / "audit.md").read_text())


def test_the_glossary_defines_every_term_the_readme_and_report_use():
    glossary = (ROOT / "docs" / "glossary.md").read_text()
    defined = set(re.findall(r"\*\*([^*]+)\*\*", glossary))
    words = " ".join(defined)
    for term in ("AKS", "DSC", "%E", "%F", "BG-gap", "i.d. / o.o.d.", "TOST", "Holm", "LayerCAM", "GradCAM", "CSS",
                 "BackMix", "wBackMix", "f", "micro AUC", "normalized AKS", "cascading randomization", "Δ", "control",
                 "Full", "Seg", "BG", "Rand", "Zero", "SimCLR", "BYOL", "AMYL"):
        assert term in defined or term in words, f"the glossary does not define {term}"
    assert "swapBG" in glossary


@pytest.mark.parametrize("command", ["audit", "discover"])
def test_the_docs_and_the_command_name_the_same_options(command):
    """Every option of `shortcutlab audit` is documented in docs/audit.md, and of `shortcutlab discover` in
    docs/discover.md, and every option a page names exists; ARCHITECTURE names every command of the parser."""
    from shortcutlab.app.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    cmd = sub.choices[command]
    options = {o for a in cmd._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    page = (ROOT / "docs" / f"{command}.md").read_text()
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", page))
    assert options - named == set(), f"options of shortcutlab {command} the page does not document: {options - named}"
    assert named - options == set(), f"options the page names that shortcutlab {command} lacks: {named - options}"
    arch = (ROOT / "ARCHITECTURE.md").read_text()
    for command in sub.choices:
        assert command in arch, f"ARCHITECTURE does not name the command {command!r}"
