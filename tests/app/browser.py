"""Run the dashboard in a subprocess and drive it in headless Chromium.

Shared by the browser test (tests/app/test_browser.py) and the screenshot script
(scripts/screenshot_dashboard.py). The browser is Debian's Chromium (/usr/bin/chromium), never
one downloaded by `playwright install`; Playwright (a dev dependency) is imported only here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from app.launch import streamlit_command

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}  # a laptop screen
ERROR_SELECTORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answering(url: str) -> bool:
    """Whether a Streamlit server answers its health check at `url`."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serve(env: Mapping[str, str], port: int | None = None, timeout_s: float = 90) -> Iterator[str]:
    """Start `streamlit run app/streamlit_app.py` with `env` added; yield its URL; stop it afterwards."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            streamlit_command(port), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not answering(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the dashboard did not start on {url}:\n{log.read()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def browser_page(viewport: Mapping[str, int] = VIEWPORT) -> Iterator[Page]:
    """A page of a headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=dict(viewport))
            yield page
        finally:
            browser.close()


def wait_until_idle(page: Page, timeout_s: float = 60, settle_s: float = 1.0) -> None:
    """Wait until the app has drawn and stays done (no "Running..." widget, no skeleton) for `settle_s`."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    busy = page.locator('[data-testid="stStatusWidget"], [data-testid="stAppSkeleton"], [data-testid="stSkeleton"]')
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if busy.count() == 0 and page.locator('[data-testid="stMain"]').count() > 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle_s:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(200)
    raise TimeoutError(f"the dashboard was still busy after {timeout_s:.0f} s")


def error_boxes(page: Page) -> list[str]:
    """Texts of Streamlit's exception and error boxes on the page."""
    return [box.inner_text() for box in page.locator(ERROR_SELECTORS).all()]


def open_page(page: Page, title: str) -> None:
    """Switch page through the sidebar navigation, as a user does."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_selector(f'h1:has-text("{title}")', timeout=60_000)
    wait_until_idle(page)
