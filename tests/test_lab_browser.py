"""The lesson's live widgets in a real browser: JupyterLab served from this environment, headless Chromium driven by
Playwright. A notebook builds the predict-first widget and the dial slider as the lesson does (accuracy); the
test moves the sliders with the keyboard and clicks the button as a student would, and reads what the kernel drew
back into the page."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from shortcutlab import load_preset
from shortcutlab.study import Study

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
OVERRIDES = {"data.cmr_n": 40, "data.cmr_size": 32, "train.epochs": 1, "saliency.max_images": 8}
STRENGTHS = (0.0, 1.0)
QUESTION = "How often will Full be right when the marker lies?"
REPLY_MS = 30_000  # the kernel's answer to a click: a model from the cache, two small figures
# Chromium as this machine's closed network needs it: no background connections, a fresh profile
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium; .ci/run installs "
                                                         "it where it can); the widgets' Python side is tested in "
                                                         "test_widgets")]


def _cell(src: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": src}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a notebook with the two widgets, their models trained beforehand into its cache."""
    root = tmp_path_factory.mktemp("lab")
    study = Study(load_preset("smoke", overrides=OVERRIDES), root=root / "runs", progress=False)
    for st in STRENGTHS:
        study.run("cm", "full", strength=st)
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}, "cells": [
        _cell("import shortcutlab as sl\nfrom shortcutlab.study import Study\n"
              f"study = Study(sl.load_preset('smoke', overrides={OVERRIDES!r}), root={str(root / 'runs')!r}, "
              "progress=False)"),
        _cell(f"guess = sl.PredictFirst({QUESTION!r}, unit='%')\nguess"),
        _cell(f"dial = sl.DialSlider(study, strengths={STRENGTHS!r}, conditions=('full',), measure='accuracy')\ndial"),
    ]}
    (root / "widgets.ipynb").write_text(json.dumps(nb))
    port, token = _free_port(), "shortcutlab-browser-test"
    env = {k: v for k, v in os.environ.items() if k != "SHORTCUTLAB_BATCH"}  # live widgets, as in a class
    env.update(JUPYTER_RUNTIME_DIR=str(root / "rt"), JUPYTERLAB_WORKSPACES_DIR=str(root / "ws"),
               JUPYTER_CONFIG_DIR=str(root / "cfg"), OMP_NUM_THREADS="1")
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate", "--allow-root"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.25)
        else:
            pytest.fail(f"JupyterLab did not answer in 60 s: {(root / 'lab.log').read_text()[-2000:]}")
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited ({server.returncode}): {(root / 'lab.log').read_text()[-2000:]}")
        yield f"{url}/lab/tree/widgets.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    """The notebook open in Chromium, every cell run by JupyterLab's own command, the widgets drawn."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 1400})
        pg.set_default_timeout(120_000)
        pg.goto(lab)
        pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                             " && window.jupyterapp.shell.currentWidget.sessionContext")
        pg.evaluate("async () => { const w = window.jupyterapp.shell.currentWidget;"
                    " await w.sessionContext.ready; await window.jupyterapp.commands.execute("
                    "'notebook:run-all-cells'); }")
        pg.get_by_role("button", name="Lock in my guess").wait_for()
        pg.locator(".widget-output img").first.wait_for()
        yield pg
        browser.close()


def _text(pg, selector: str) -> str:
    return pg.locator(selector).inner_text()


def test_predict_first_takes_a_guess_and_locks_it(page):
    guess = page.locator(".widget-slider", has_text="my guess")
    assert guess.locator(".widget-readout").inner_text().strip() == "50"
    guess.locator(".noUi-handle").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => [...document.querySelectorAll('.widget-slider')].some(e => "
                           "e.innerText.includes('my guess') && e.querySelector('.widget-readout').innerText.trim()"
                           " === '53')", timeout=REPLY_MS)
    page.get_by_role("button", name="Lock in my guess").click()
    note = page.locator(".widget-html", has_text=QUESTION)
    note.get_by_text("Your guess: 53 %").wait_for(timeout=REPLY_MS)  # written by the kernel's on_click, so the guess reached Python
    assert page.get_by_role("button", name="Lock in my guess").is_disabled()
    assert guess.locator(".noUi-target").get_attribute("disabled") is not None


def _dial_row(page) -> str:
    return page.locator(".widget-output table tbody tr").first.inner_text()


def _images(page) -> list[str]:
    return [i.get_attribute("src") for i in page.locator(".widget-output img").all()]


def test_the_dial_redraws_when_moved(page):
    dial = page.locator(".widget-slider", has_text="strength")
    assert dial.locator(".widget-readout").inner_text().strip() == "1.0"
    page.wait_for_function("() => document.querySelectorAll('.widget-output img').length === 2", timeout=REPLY_MS)
    before, drawn = _dial_row(page), _images(page)
    assert "full" in before and "1.0" in before.split()
    dial.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowLeft")
    # the kernel clears the output, then shows the table and the two figures one after another: wait for all three
    page.wait_for_function("() => { const r = document.querySelector('.widget-output table tbody tr');"
                           " return r && r.innerText.split(/\\s+/).includes('0.0')"
                           " && document.querySelectorAll('.widget-output img').length === 2; }", timeout=REPLY_MS)
    after = _dial_row(page)
    assert after != before and "0.0" in after.split()  # the kernel's row for the model at strength 0
    redrawn = _images(page)
    assert len(redrawn) == 2 and redrawn[0] != drawn[0]  # the accuracy bars of another model
