"""The package's layers as ARCHITECTURE.md draws them: every import inside the package points down the diagram."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "shortcutlab"


def _order() -> list[str]:
    """The units of ARCHITECTURE.md's diagram, top to bottom (``app/`` -> ``app``, ``plots.py`` -> ``plots``)."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text[text.index("```\n") + 4: text.index("```", text.index("```\n") + 4)]
    return [re.sub(r"(/|\.py)$", "", m.group(1)) for m in re.finditer(r"^(\S+)", block, re.M)]


def _imports() -> dict[str, set[str]]:
    """Each top-level unit of the package -> the units it imports (relative or absolute)."""
    out: dict[str, set[str]] = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG).with_suffix("")
        unit = rel.parts[0]
        if unit in ("__init__", "__main__"):
            continue
        pkg = list(rel.parts[:-1])
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.ImportFrom) and n.level > 0:
                base = pkg[: len(pkg) - (n.level - 1)] if n.level > 1 else pkg
                target = base + (n.module.split(".") if n.module else [])
                names = [target[0]] if target else [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom) and (n.module or "").startswith("shortcutlab."):
                names = [n.module.split(".")[1]]
            elif isinstance(n, ast.Import):
                names = [a.name.split(".")[1] for a in n.names if a.name.startswith("shortcutlab.")]
            else:
                continue
            out.setdefault(unit, set()).update(x for x in names if x != unit)
    return out


def test_every_import_points_down_the_diagram():
    order = _order()
    assert order[:4] == ["app", "study", "auditing", "plots"] and "_validation" in order
    rank = {u: i for i, u in enumerate(order)}
    up = []
    for unit, targets in _imports().items():
        assert unit in rank, f"{unit} is missing from ARCHITECTURE.md's diagram"
        for t in targets:
            if t == "load_preset":  # `from .. import load_preset`: the package's own re-export of config's
                t = "config"
            assert t in rank, f"{unit} imports {t}, which ARCHITECTURE.md's diagram does not name"
            if not t.startswith("_") and rank[t] < rank[unit]:
                up.append(f"{unit} -> {t}")
    assert not up, f"imports that run up the diagram: {up}"
