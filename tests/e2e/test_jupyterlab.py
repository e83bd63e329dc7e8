"""End to end in a real browser: JupyterLab in headless Chromium, the progress widget,
a cell running while the job works, worker output in the starting cell, the details view, and Cancel.

Run by ``make e2e`` (which ``make test`` calls): it installs JupyterLab, Playwright's
Python driver and Debian's chromium; Playwright drives /usr/bin/chromium (it never
downloads a browser of its own).  Screenshots go to ``e2e-output/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "e2e-output"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Chromium is not installed (apt-get install chromium; `make e2e` does it)"
)

CELLS = [
    "%load_ext nbparallel\nimport time\n\ndef slow(x):\n    print('worker says', x)\n    time.sleep(0.6)\n    return x * 2",
    "data = list(range(40))",
    "%%parallel --split data --out doubled --bg --chunks 20 --name job\ndoubled = [slow(x) for x in data]",
    "print('another cell ran while the job worked:', 6 * 7)",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on 127.0.0.1 with a token, in a temporary folder; shut down after, leaving no process."""
    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "demo.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"),
    )
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            "--allow-root",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                json.load(r)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "lab.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-3000:])
    try:
        yield base, token, proc
    finally:
        tree = []
        try:
            tree = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            pass
        try:
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=10).close()
        except OSError:
            pass
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        _gone, alive = psutil.wait_procs(tree, timeout=20)
        for p in alive:
            p.kill()
        log.close()
        assert not alive, f"JupyterLab left processes behind: {alive}"


def run_cell(page, cell) -> None:
    """Focus one cell's editor and run it; wait until the kernel has taken it."""
    from playwright.sync_api import expect

    prompt = cell.locator(".jp-InputPrompt")
    dialog = page.locator(".jp-Dialog")
    if dialog.count():  # say, "Select Kernel" when the kernel was slow to start on a loaded host
        page.screenshot(path=str(OUTPUT / "debug-dialog.png"), full_page=True)
        print("JupyterLab showed a dialog:", dialog.first.inner_text())
        dialog.locator(".jp-mod-accept").first.click()
    for _attempt in range(4):
        # Right after the page loads, JupyterLab sometimes drops a run request
        # while its kernel session connects; the prompt then stays "[ ]".
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]:"), timeout=8_000)
            return
        except AssertionError:
            continue
    page.screenshot(path=str(OUTPUT / "debug-run-cell.png"), full_page=True)
    raise AssertionError("JupyterLab did not run the cell (screenshot: e2e-output/debug-run-cell.png)")


_CONTRAST_JS = """
(el) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || [0, 0, 0]).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = null;
  for (let node = el; node; node = node.parentElement) {
    const c = getComputedStyle(node).backgroundColor;
    if (c && c !== "transparent" && !c.startsWith("rgba(0, 0, 0, 0")) { bg = c; break; }
  }
  bg = bg || getComputedStyle(document.body).backgroundColor;
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(rgb(bg));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""


def _contrast(locator) -> float:
    """WCAG contrast ratio of an element's text against the background behind it."""
    return float(locator.evaluate(_CONTRAST_JS))


def _chunks_done(text: str) -> int:
    match = re.search(r"chunks (\d+)/(\d+)", text)
    assert match, f"no progress text in {text!r}"
    return int(match.group(1))


def test_widget_progress_other_cell_output_and_cancel(lab):
    from playwright.sync_api import expect, sync_playwright

    base, token, _ = lab
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/demo.ipynb?token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)

            cells = page.locator(".jp-Notebook .jp-Cell")
            for i in range(3):  # run the first three cells: setup, data, the %%parallel --bg cell
                run_cell(page, cells.nth(i))

            widget = cells.nth(2).locator(".nbparallel-progress")
            expect(widget).to_be_visible(timeout=60_000)  # rendered as a widget, not its text repr
            expect(cells.nth(2).locator(".jp-OutputArea-output")).not_to_contain_text("VBox(")
            status = widget.locator(".widget-html").nth(1)
            expect(status).to_contain_text(re.compile(r"chunks [1-9]\d*/20"), timeout=30_000)
            first = _chunks_done(status.inner_text())

            run_cell(page, cells.nth(3))  # the fourth cell runs while the job works
            expect(cells.nth(3).locator(".jp-OutputArea-output")).to_contain_text(
                "another cell ran while the job worked: 42", timeout=30_000
            )
            expect(status).not_to_contain_text(f"chunks {first}/20", timeout=30_000)
            second = _chunks_done(status.inner_text())
            assert first < second < 20, (first, second)
            expect(widget).to_contain_text("[chunk 0] worker says 0")  # worker output in the starting cell
            page.screenshot(path=str(OUTPUT / "widget-running.png"), full_page=True)

            details = widget.locator(".nbparallel-details")  # collapsed: each worker's chunk, time, CPU, RSS
            table = details.locator(".nbparallel-details-table")
            expect(details).to_contain_text("details")
            expect(table).to_be_hidden()
            details.locator(".jupyter-widget-Collapse-header").first.click()
            expect(table).to_be_visible(timeout=10_000)
            expect(table).to_contain_text(re.compile(r"pid \d+\s*chunk \d+\s*\d+\.\d s"), timeout=10_000)
            expect(table).to_contain_text("MiB")
            expect(details).to_contain_text(re.compile(r"slowest chunk so far: chunk \d+"), timeout=10_000)
            before = table.inner_text()
            expect(table).not_to_have_text(before, timeout=5_000)  # redrawn live (running times grow)
            page.screenshot(path=str(OUTPUT / "widget-details.png"), full_page=True)

            widget.get_by_role("button", name="Cancel").click()
            expect(status).to_contain_text("cancelled", timeout=10_000)
            expect(widget.locator(".progress-bar-danger")).to_have_count(1)  # the bar is red
            assert _chunks_done(status.inner_text()) < 20
            page.screenshot(path=str(OUTPUT / "widget-cancelled.png"), full_page=True)
            assert _contrast(status) >= 4.5  # readable in the light theme

            page.keyboard.press("Control+Shift+C")  # command palette: switch to the dark theme
            page.keyboard.type("JupyterLab Dark")
            page.keyboard.press("Enter")
            page.wait_for_selector("body[data-jp-theme-light='false']", state="attached", timeout=30_000)
            time.sleep(0.5)
            page.screenshot(path=str(OUTPUT / "widget-cancelled-dark.png"), full_page=True)
            assert _contrast(status) >= 4.5  # and in the dark one
        finally:
            browser.close()


def _browser(pw):
    return pw.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
    )


def _open(browser, base, token, root, name, cells):
    """A new page on a notebook of ``cells`` written to the lab's folder ``root``, its kernel idle."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / name)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    return page, page.locator(".jp-Notebook .jp-Cell")


#: A foreground call of 40 items of 0.5 s (about 10 s on 2 workers), then a look at what the cancel kept.
FOREGROUND_CELLS = [
    "import time\nimport nbparallel as nbp\nfrom nbparallel.backends import worker_pids\n"
    "nbp.warm(2, wait=True)\nbefore = worker_pids()\n\n"
    "def slow(x):\n    time.sleep(0.5)\n    return x * 2",
    "r = nbp.pmap(slow, range(40), n_jobs=2)",
    "job = nbp.last_job()\nprint('status', job.status, 'kept', len(job.partial_result().value) > 0)\n"
    "print('workers survived:', worker_pids() == before, nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False))",
]


def test_cancel_click_ends_a_busy_foreground_call(lab, tmp_path):
    """JupyterLab's default settings send widget messages over a kernel subshell, so the click reaches the busy kernel."""
    from playwright.sync_api import expect, sync_playwright

    base, token, _ = lab
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page, cells = _open(browser, base, token, tmp_path / "lab", "foreground.ipynb", FOREGROUND_CELLS)
            run_cell(page, cells.nth(0))
            expect(cells.nth(0).locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]:"), timeout=90_000)
            run_cell(page, cells.nth(1))
            widget = cells.nth(1).locator(".nbparallel-progress")
            expect(widget).to_be_visible(timeout=60_000)
            status = widget.locator(".widget-html").nth(1)
            expect(status).to_contain_text(re.compile(r"chunks [1-9]\d*/"), timeout=30_000)  # a chunk finished
            button = widget.get_by_role("button", name="Cancel")
            expect(button).to_be_enabled()  # a real Cancel button, not the "Stop: ■" hint
            page.screenshot(path=str(OUTPUT / "foreground-running.png"), full_page=True)
            button.click()
            clicked = time.monotonic()
            error = cells.nth(1).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            expect(error).to_contain_text("JobCancelled", timeout=15_000)  # the cell ended with the cancel
            took = time.monotonic() - clicked
            expect(status).to_contain_text("cancelled")
            page.screenshot(path=str(OUTPUT / "foreground-cancelled.png"), full_page=True)
            # The kernel ends the call within 1 s of the click (tests/test_kernel_cancel.py bounds that part);
            # this bound adds the browser's round trip and rendering on a host shared by many test sessions.
            assert took < 2.0, f"the cell showed JobCancelled {took:.2f} s after the click"
            run_cell(page, cells.nth(2))
            out = cells.nth(2).locator(".jp-OutputArea-output")
            expect(out).to_contain_text("status cancelled kept True", timeout=30_000)
            expect(out).to_contain_text("workers survived: True [1, 2]")
        finally:
            browser.close()


#: A GridSearchCV in the background with n_jobs left unset (fits that print and take 2 s each).
GRID_CELLS = [
    "import time\nimport numpy as np\nimport nbparallel as nbp\n"
    "from sklearn.base import BaseEstimator, ClassifierMixin\nfrom sklearn.model_selection import GridSearchCV\n\n"
    "class Slow(ClassifierMixin, BaseEstimator):\n"
    "    def __init__(self, seconds=2.0):\n        self.seconds = seconds\n"
    "    def fit(self, X, y):\n        print('fitting', self.seconds)\n        time.sleep(self.seconds)\n"
    "        self.classes_ = np.unique(y)\n        return self\n"
    "    def predict(self, X):\n        return np.full(len(X), self.classes_[0])\n\n"
    "X = np.random.default_rng(0).random((60, 3)); y = np.arange(60) % 2",
    "search = GridSearchCV(Slow(), {'seconds': [2.0, 2.1, 2.2, 2.3, 2.4]}, cv=3)  # n_jobs unset\n"
    "job = nbp.background(search.fit, X, y)\njob",
    "print('the kernel answers while the search runs:', 6 * 7)",
    "try:\n    job.result()\nexcept nbp.JobCancelled:\n    print('the search was', job.status)\n"
    "print('the pool still works:', nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False))",
]


def test_cancel_a_running_grid_search(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, token, _ = lab
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page, cells = _open(browser, base, token, tmp_path / "lab", "grid.ipynb", GRID_CELLS)
            run_cell(page, cells.nth(0))
            run_cell(page, cells.nth(1))

            view = cells.nth(1).locator(".nbparallel-background")  # the call's widget, before any joblib call
            expect(view).to_be_visible(timeout=60_000)
            expect(view).to_contain_text("GridSearchCV.fit")
            expect(view).to_contain_text("running on a kernel thread")
            widget = view.locator(".nbparallel-progress")  # its joblib call's progress, inside it
            expect(widget).to_be_visible(timeout=60_000)
            expect(cells.nth(1)).to_contain_text("fitting 2.0", timeout=30_000)  # worker output in the cell
            run_cell(page, cells.nth(2))
            expect(cells.nth(2).locator(".jp-OutputArea-output")).to_contain_text(
                "the kernel answers while the search runs: 42", timeout=30_000
            )
            page.screenshot(path=str(OUTPUT / "grid-search-running.png"), full_page=True)

            view.locator(".widget-button").first.click()  # the call's own Cancel
            expect(view.locator(".widget-html").nth(1)).to_contain_text("cancelled", timeout=10_000)
            expect(widget.locator(".widget-html").nth(1)).to_contain_text("cancelled", timeout=10_000)
            run_cell(page, cells.nth(3))
            expect(cells.nth(3).locator(".jp-OutputArea-output")).to_contain_text(
                "the search was cancelled", timeout=30_000
            )
            expect(cells.nth(3).locator(".jp-OutputArea-output")).to_contain_text("the pool still works: [1, 2]")
            page.screenshot(path=str(OUTPUT / "grid-search-cancelled.png"), full_page=True)
        finally:
            browser.close()
