"""Write docs/claims.md from the claims registry (shortcutlab.study.registry): the claims, the findings map and the
changelog. Run after changing the registry; tests/test_claim_registry.py checks the file is current."""
from pathlib import Path

from shortcutlab.study.registry import registry_markdown

if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "docs" / "claims.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(registry_markdown())
    print(f"wrote {out}")
