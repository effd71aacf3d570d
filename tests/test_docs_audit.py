"""Every example of the audit's documentation runs, in order, as written (in a fresh folder): the setup line, each
`shortcutlab audit` command (with fewer CAM images and bootstrap replicates, which change no mechanics) and each
Python block. A command with --fail-on may exit 0 or 1, and its code must agree with the answer it wrote."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from shortcutlab.app.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "audit.md"
FAST = ["--cam-images", "8", "--n-boot", "50"]


def _blocks(text: str):
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S):
        yield lang, body


def _run_examples(page: Path, command: str, on_command) -> tuple[dict, dict]:
    """Run ``page``'s examples in order: each python block in one namespace, each bash line (the setup line, or
    ``shortcutlab <command> ...`` handed to ``on_command(argv)``). Returns the counts and the namespace."""
    ran = {"bash": 0, "python": 0}
    namespace: dict = {}
    for lang, body in _blocks(page.read_text()):
        if lang == "python":
            exec(compile(body, f"{page.name} python block", "exec"), namespace)  # noqa: S102 - the docs' own code
            ran["python"] += 1
            continue
        assert lang == "bash", f"an example in {page.name} is neither bash nor python: {lang}"
        for line in body.replace("\\\n", " ").splitlines():
            if not line.strip():
                continue
            argv = shlex.split(line)
            if argv[:2] == ["python", "-c"]:
                exec(argv[2], {})  # noqa: S102
            else:
                assert argv[:2] == ["shortcutlab", command], f"an unknown command in {page.name}: {line}"
                on_command(argv, line)
            ran["bash"] += 1
    return ran, namespace


def test_every_example_of_the_audit_docs_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def run(argv, line):
        rc = main(argv[1:] + FAST)
        out = Path(argv[argv.index("--out") + 1])
        record = json.loads((out / "audit.json").read_text())
        codes = {r["tests"]["overall_code"] for r in record.values()}
        if "--fail-on" in argv:
            wanted = argv[argv.index("--fail-on") + 1].split(",")
            sane = all(r["tests"]["sanity_ok"] for r in record.values())
            hit = bool(codes & set(wanted)) or ("maps-fail-sanity" in wanted and not sane)
            assert rc == (1 if hit else 0), (line, rc, codes)
        else:
            assert rc == 0, line
        assert (out / "index.html").exists()

    ran, namespace = _run_examples(DOC, "audit", run)
    out = capsys.readouterr().out
    assert "input pipeline:" in out and "JPEG 8-bit RGB" in out and "class order 0: PLAX, 1: PSAX" in out
    assert ran["python"] >= 3 and ran["bash"] >= 5
    assert "each image's 1 channel repeated into the model's 3" in out  # the grey folder into an RGB network, said
    assert namespace["result"].info["classes"] == sorted(["PLAX", "PSAX", "A2C", "A4C"])


def test_every_example_of_the_discover_docs_runs(tmp_path, monkeypatch, capsys):
    """docs/discover.md's examples, in order, as written (the command with fewer bootstrap replicates): each writes its
    report, and the Python block's result has its clusters."""
    monkeypatch.chdir(tmp_path)

    def run(argv, line):
        assert main(argv[1:] + ["--n-boot", "100"]) == 0, line
        out = Path(argv[argv.index("--out") + 1])
        assert json.loads((out / "discover.json").read_text()) and (out / "index.html").exists()

    ran, namespace = _run_examples(DOC.parent / "discover.md", "discover", run)
    assert ran["python"] >= 1 and ran["bash"] >= 2
    assert "input pipeline:" in capsys.readouterr().out
    assert len(namespace["table"]) == len(namespace["result"].clusters) > 0
