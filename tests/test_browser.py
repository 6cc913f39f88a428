"""Run every notebook the way a learner does: JupyterLab in a real browser, Run All, twice.

nbval sends cells to a kernel one at a time and waits for each reply. A person clicks
Run > Run All Cells in JupyterLab, which queues every cell at once; some failures only show
up that way (the archived ``nest_asyncio`` with ipykernel 7 leaves cells at ``[*]`` forever
while the kernel says idle). So this test starts JupyterLab on 127.0.0.1, opens each notebook
in headless Chromium driven by Playwright, clicks Run All Cells and checks what the page
shows: every code cell got an execution number (no ``[*]`` or ``[ ]`` left), no cell shows an
error unless it is tagged ``raises-exception``, nothing was written to stderr, and every
figure the committed notebook has is drawn again.

Then it clicks Run All Cells once more, in the same kernel, as a learner who runs the notebook
again does, and checks the same things; last it asks the kernel whether anything is left
behind: no course server still running, no server thread alive. ResourceWarnings and asyncio's
"Task was destroyed but it is pending" print to stderr (the kernel shows every
ResourceWarning here), so a leak in either run fails the test. A screenshot per notebook goes
to ``test-artifacts/browser/``.

JupyterLab serves a temporary copy of ``notebooks/`` and ``data/``, with autosave off, so a
run never writes into the repository. Needs Debian's ``chromium`` (or ``$CHROMIUM``) and the
``playwright`` package; without them the test is skipped, never failed, and
tests/test_run_twice.py runs every notebook twice without a browser instead. Never run
``playwright install``: the system Chromium is used.

    python -m pytest -m browser            # only this test
    python -m pytest -m "not browser"      # everything else
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from asynclab.lessons import notebook_paths

ROOT = Path(__file__).resolve().parents[1]
# $COURSE_BROWSER_NOTEBOOKS runs the test on another folder (tests/test_browser_can_fail.py
# uses it to prove that the test fails on broken notebooks), $COURSE_BROWSER_ARTIFACTS puts
# its screenshots and log elsewhere (so that the two, run at once, do not share a log);
# $COURSE_BROWSER_TIMEOUT changes the time limit per notebook.
NOTEBOOK_DIR = Path(os.environ.get("COURSE_BROWSER_NOTEBOOKS") or ROOT / "notebooks")
# The course's notebooks, or every NN_*.ipynb in $COURSE_BROWSER_NOTEBOOKS (the proof's are
# not lessons of the course).
NOTEBOOKS = (sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
             if "COURSE_BROWSER_NOTEBOOKS" in os.environ else notebook_paths(ROOT))
ARTIFACTS = Path(os.environ.get("COURSE_BROWSER_ARTIFACTS") or ROOT / "test-artifacts" / "browser")
RUN_TIMEOUT = float(os.environ.get("COURSE_BROWSER_TIMEOUT") or 120)  # notebooks take < 30 s
SERVER_TIMEOUT = 90.0  # seconds for JupyterLab to answer after start
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab that is showing
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = pytest.mark.browser

# JupyterLab user settings for the test server: no news or update checks (no toast asking to
# fetch news, no internet), no autosave, and every cell attached to the page so the DOM's
# n-th cell is the notebook's n-th cell.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings":
        {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
        {"windowingMode": "none"},
}


def find_chromium() -> str | None:
    """The system Chromium: $CHROMIUM when set, else chromium / chromium-browser on PATH."""
    if "CHROMIUM" in os.environ:
        return shutil.which(os.environ["CHROMIUM"])
    for candidate in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        if path := shutil.which(candidate):
            return path
    return None


def browser_available() -> bool:
    """Chromium and the playwright package are both here: the test runs, not skips."""
    import importlib.util

    return find_chromium() is not None and importlib.util.find_spec("playwright") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab server for the test session."""

    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel): one notebook's kernel never lingers."""
        for session in self.api("GET", "/api/sessions") or []:  # type: ignore[union-attr]
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _wait_ready(lab: Lab, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {process.returncode}; "
                        f"see its log {lab.log}", pytrace=False)
        try:
            lab.api("GET", "/api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {SERVER_TIMEOUT:.0f} s; see {lab.log}",
                pytrace=False)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 serving a temporary copy of the notebooks; stopped at the end."""
    if find_chromium() is None:
        pytest.skip("browser test skipped: Chromium not found (install Debian's `chromium` "
                    "package, or set $CHROMIUM to a Chromium executable)")
    pytest.importorskip("playwright", reason="browser test skipped: the playwright package "
                        "is not installed (it is in requirements-dev.txt)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-browser-") as tmp:
        tmp_path = Path(tmp)
        root = tmp_path / "course"
        for source, folder in ((NOTEBOOK_DIR, "notebooks"), (ROOT / "data", "data")):
            if source.is_dir():
                shutil.copytree(source, root / folder,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        settings = tmp_path / "user-settings"
        for name, values in USER_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        for folder in ("config", "runtime", "workspaces"):
            (tmp_path / folder).mkdir()
        token = secrets.token_hex(16)
        port = free_port()
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
               "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "PYTHONUNBUFFERED": "1",
               # the kernels inherit it: every ResourceWarning shows on stderr
               "PYTHONWARNINGS": "always::ResourceWarning"}
        env.pop("JUPYTER_TOKEN", None)
        log_path = ARTIFACTS / "jupyterlab.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       cwd=root)
            server = Lab(f"http://127.0.0.1:{port}", token, root, log_path)
            try:
                _wait_ready(server, process)
                yield server
            finally:
                _stop(server, process)


def _stop(lab: Lab, process: subprocess.Popen[bytes]) -> None:
    """Shut down the kernels and the server (politely, then by force)."""
    if process.poll() is None:
        try:
            lab.shutdown_kernels()
            lab.api("POST", "/api/shutdown")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def browser(lab: Lab) -> Iterator[object]:
    """Headless Chromium (the system one) with a fresh profile that Playwright throws away.
    One per test: Playwright's sync API keeps an event loop running in this thread while it is
    open, so any later test on the same pytest worker that calls asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _dismiss_toasts(page) -> None:  # noqa: ANN001 - playwright Page
    """Close any notification toast (e.g. JupyterLab's first-run question about news)."""
    for button in page.locator(".Toastify__toast button").all():
        label = (button.text_content() or "").strip()
        if label in {"No", "Dismiss", ""} and button.is_visible():
            button.click()


def _menu(page, menu: str, item: str) -> None:  # noqa: ANN001 - playwright Page
    """Click a menu-bar menu, then one of its items, as a person does."""
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


_STATE_JS = """
() => {
  const panel = document.querySelector('PANEL');
  if (!panel) return null;
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')];
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  const models = widget && widget.content ? [...widget.content.widgets] : [];
  return {
    kernel: kernel ? kernel.status : null,
    indicator: (panel.querySelector('.jp-Notebook-ExecutionIndicator') || {dataset: {}})
      .dataset.status || null,
    cells: cells.map((cell, i) => {
      const code = cell.classList.contains('jp-CodeCell');
      const prompt = code ? (cell.querySelector('.jp-InputPrompt') || {}).textContent : null;
      const model = models[i] && models[i].model;
      const outputs = code && model && model.outputs ? model.outputs.toJSON() : [];
      const imgs = [...cell.querySelectorAll('.jp-OutputArea-output img')];
      return {
        code,
        prompt: prompt ? prompt.trim() : null,
        count: code && model ? model.executionCount : null,
        running: code && ((model && model.executionState === 'running') || prompt === '[*]:'),
        errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
        stderr: outputs.filter(o => o.output_type === 'stream' && o.name === 'stderr')
          .map(o => Array.isArray(o.text) ? o.text.join('') : o.text).join(''),
        images: imgs.length,
        imagesDrawn: imgs.filter(img => img.complete && img.naturalWidth > 0).length,
      };
    }),
  };
}
""".replace("PANEL", PANEL)


def _settled(state: dict | None) -> bool:
    """The kernel is idle and no cell waits: the run finished, or stopped at an error."""
    return bool(state) and state["kernel"] == "idle" and not any(
        c["running"] for c in state["cells"])


def _finished(state: dict | None, after: int = 0) -> bool:
    """Settled, and every code cell has an execution count above ``after`` (the last count
    of the run before: a second Run All must number every cell again)."""
    return _settled(state) and all(
        (c["count"] or 0) > after for c in state["cells"] if c["code"])  # type: ignore[index]


def _stored_expectations(path: Path) -> tuple[list[set[str]], list[bool], list[str]]:
    nb = nbformat.read(path, as_version=4)
    tags = [set(cell.metadata.get("tags", [])) for cell in nb.cells]
    has_image = [any("image/png" in out.get("data", {}) or "image/svg+xml" in out.get("data", {})
                     for out in cell.get("outputs", [])) for cell in nb.cells]
    kinds = [cell.cell_type for cell in nb.cells]
    return tags, has_image, kinds


#: Asked of the kernel after the second run: is any course server or server thread left?
PROBE = """\
import gc, threading
from asynclab.servers.base import _RUNNING
gc.collect()
print("servers running:", len(_RUNNING))
print("server threads:", sorted(t.name for t in threading.enumerate()
                                if t.name.endswith("-thread")))
"""
CLEAN = "servers running: 0\nserver threads: []"

# Runs code in the notebook's kernel without a cell (and without an execution count);
# returns what it printed to stdout and to stderr (an error's name and value count as stderr).
_PROBE_JS = """
async (code) => {
  const widget = window.jupyterapp.shell.currentWidget;
  const kernel = widget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false});
  let out = '', err = '';
  future.onIOPub = (msg) => {
    const kind = msg.header.msg_type;
    if (kind === 'stream' && msg.content.name === 'stdout') out += msg.content.text;
    else if (kind === 'stream') err += msg.content.text;
    else if (kind === 'error') err += msg.content.ename + ': ' + msg.content.evalue;
  };
  await future.done;
  return {out, err};
}
"""


#: Seconds between two looks at the page while Run All runs.
POLL = 0.25


def _run_all(page, after: int = 0) -> dict | None:  # noqa: ANN001 - playwright Page
    """Click Run > Run All Cells; return the page's state once the run is over: every cell
    numbered anew (``after``: the last count before) in two looks in a row, or the kernel idle
    with no cell waiting in six (1.5 s: Run All stopped at an error), or at the time limit."""
    _menu(page, "Run", "Run All Cells")
    state = None
    deadline = time.monotonic() + RUN_TIMEOUT
    finished = settled = 0
    while time.monotonic() < deadline:
        time.sleep(POLL)
        state = page.evaluate(_STATE_JS)
        finished = finished + 1 if _finished(state, after) else 0
        settled = settled + 1 if _settled(state) else 0
        if finished >= 2 or settled >= 6:
            break
    return state


def _drawn(page, state: dict | None, has_image: list[bool]) -> dict | None:  # noqa: ANN001
    """The state once every figure the committed notebook has is drawn (an image decodes a
    moment after its output arrives), or after 5 s: then the test names what is missing."""
    deadline = time.monotonic() + 5
    while state is not None and time.monotonic() < deadline and any(
            flag and i < len(state["cells"]) and state["cells"][i]["imagesDrawn"] == 0
            for i, flag in enumerate(has_image)):
        time.sleep(POLL)
        state = page.evaluate(_STATE_JS)
    return state


def _counted_before(run: int, kinds: list[str]) -> int:
    """The last execution count before run ``run`` (1 or 2) of Run All: 0, or the number of
    code cells (the first run numbered each once)."""
    return (run - 1) * kinds.count("code")


def _problems(state: dict | None, run: int, tags: list[set[str]], has_image: list[bool],
              kinds: list[str]) -> tuple[list[str], int | None]:
    """What is wrong with run ``run`` (1 or 2) as the page shows it, and the first bad cell.
    The second run's execution counts go on from the first's: a cell still showing a count
    of the first run did not run again."""
    after = _counted_before(run, kinds)
    if state is None:
        return [f"run {run}: the notebook panel never appeared"], None
    problems: list[str] = []
    first_bad: int | None = None
    cells = state["cells"]
    numbers: list[int] = []
    if len(cells) != len(kinds):
        problems.append(f"the page shows {len(cells)} cells, the file has {len(kinds)}")
    for i, cell in enumerate(cells[: len(kinds)]):
        bad = []
        if cell["running"]:
            bad.append(f"still waits at [*] (prompt {cell['prompt'] or 'hidden'})")
        elif cell["code"] and (cell["count"] or 0) <= after:
            bad.append("never ran")
        if "raises-exception" not in tags[i] and cell["errors"]:
            bad.append("shows an error: " + "; ".join(cell["errors"]))
        if cell["stderr"]:
            bad.append("wrote to stderr: " + cell["stderr"][:300].strip())
        if cell["code"] and (cell["count"] or 0) > after:
            numbers.append(cell["count"])
        if has_image[i] and cell["imagesDrawn"] == 0:
            bad.append("should show a figure but none was drawn")
        if bad:
            problems.append(f"run {run}, cell {i}: " + ", ".join(bad))
            first_bad = i if first_bad is None else first_bad
    if numbers != list(range(after + 1, after + 1 + len(numbers))):
        problems.append(f"run {run}: cells did not run once each, in order: prompts {numbers}")
    if not _settled(state):
        problems.append(f"run {run}: the kernel is {state['kernel']!r} after "
                        f"{RUN_TIMEOUT:.0f} s"
                        + (" while cells still wait: the hang nbval cannot see"
                           if state["kernel"] == "idle" else ""))
    return problems, first_bad


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_run_all_in_jupyterlab(lab: Lab, browser, notebook: Path) -> None:  # noqa: ANN001
    """Run All Cells finishes, with no unexpected error, nothing on stderr and every figure
    drawn; a second Run All in the same kernel does too, and leaves no server behind."""
    tags, has_image, kinds = _stored_expectations(notebook)
    shot = ARTIFACTS / f"{notebook.stem}.png"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.monotonic()
    try:
        page.goto(f"{lab.url}/lab/tree/notebooks/{notebook.name}?reset&token={lab.token}")
        page.locator(f"{PANEL} .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        page.wait_for_function(f"({_STATE_JS})()?.kernel === 'idle'", timeout=60_000)
        _dismiss_toasts(page)
        # Clear the committed outputs first, so every number and figure seen afterwards
        # comes from this run; then Run All Cells, as a learner does.
        _menu(page, "Edit", "Clear Outputs of All Cells")
        page.wait_for_function(f"({_STATE_JS})().cells.every(c => !c.code || !c.count)",
                               timeout=10_000)
        state = _drawn(page, _run_all(page), has_image)
        problems, first_bad = _problems(state, 1, tags, has_image, kinds)
        elapsed = [time.monotonic() - started]
        if not problems:  # the same kernel, again: what a learner who re-runs it sees
            again = time.monotonic()
            state = _drawn(page, _run_all(page, after=_counted_before(2, kinds)),
                           has_image)
            problems, first_bad = _problems(state, 2, tags, has_image, kinds)
            elapsed.append(time.monotonic() - again)
            if _settled(state):  # also after an error: what did the two runs leave?
                left = page.evaluate(_PROBE_JS, PROBE)
                if left["err"]:
                    problems.append("after two runs, garbage collection reported: "
                                    + left["err"][:300])
                if CLEAN not in left["out"]:
                    problems.append(f"after two runs: {left['out'].strip()}")
        _dismiss_toasts(page)
        # The screenshot shows the first broken cell, else the last figure.
        figures = [i for i, flag in enumerate(has_image) if flag]
        focus = first_bad if first_bad is not None else (figures[-1] if figures else None)
        if focus is not None and state is not None and focus < len(state["cells"]):
            page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(focus).scroll_into_view_if_needed()
        page.screenshot(path=str(shot))
        print(f"{notebook.name}: opened and Run All in JupyterLab in {elapsed[0]:.1f} s"
              + (f", Run All again in {elapsed[1]:.1f} s" if len(elapsed) > 1 else ""))
        if problems:
            pytest.fail(f"{notebook.name}, Run All Cells in JupyterLab:\n  " + "\n  ".join(problems)
                        + f"\nscreenshot: {shot}", pytrace=False)
    except Exception:
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        raise
    finally:
        context.close()
        lab.shutdown_kernels()
