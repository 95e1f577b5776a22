"""Headless Chromium for the acceptance tests (Debian's chromium and chromedriver)."""

from __future__ import annotations

import base64
import contextlib
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from tests import harness

ARTIFACTS = harness.ROOT / "test-artifacts"


def chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def headless_chromium(login: tuple[str, str] | None = None) -> Iterator:
    """A browser whose every request carries the basic-auth `login` when one is given (skips
    without chromium locally; fails under CI, which installs it)."""
    found = chromium()
    if found is None:
        if harness.in_ci():
            pytest.fail("chromium and chromedriver are missing: .ci/run installs them")
        pytest.skip("chromium and chromedriver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp()}",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)  # fmt: skip
    browser = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        if login is not None:
            token = base64.b64encode(":".join(login).encode()).decode()
            browser.execute_cdp_cmd("Network.enable", {})
            browser.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                    {"headers": {"Authorization": f"Basic {token}"}})  # fmt: skip
        yield browser
    finally:
        browser.quit()


def screenshot(browser, name: str) -> None:
    """Keep what the page looked like, as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    assert path.stat().st_size > 10_000, f"{name} is blank"
