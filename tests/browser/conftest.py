"""Browser fixtures: Debian's Chromium driven by Playwright against a live intake server.

Layers: one browser per session → a live intake app (``live_intake``, from the suite's
conftest) with the desk ``drc-minerals`` → a browser context per test, whose every request
is recorded by :class:`Traffic` → page helpers (:class:`tests.browser.pages.Source`).

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (Debian's
``chromium`` package, installed by ``scripts/setup.sh --test``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.pages import Source, Traffic
from tests.conftest import DeskSetup


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the browser tests exercise the pages and the browser's crypto, and the
    protocol tests already run the server on both databases."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The Playwright driver for the session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/setup.sh --test (Debian's chromium package)")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


def _context(browser: Browser, base_url: str, *, javascript: bool) -> BrowserContext:
    context = browser.new_context(
        base_url=base_url,
        java_script_enabled=javascript,
        viewport={"width": 360, "height": 740},  # the cheap phone the design starts from
        locale="en-GB",
    )
    context.set_default_timeout(30_000)
    return context


@pytest.fixture
def context(browser: Browser, live_intake: str) -> Iterator[BrowserContext]:
    """A fresh browser profile with JavaScript on."""
    made = _context(browser, live_intake, javascript=True)
    yield made
    made.close()


@pytest.fixture
def traffic(context: BrowserContext) -> Traffic:
    """Every request the JavaScript context sends, with its body."""
    return Traffic.record(context)


@pytest.fixture
def source(context: BrowserContext, traffic: Traffic, live_intake: str, desk: DeskSetup) -> Source:
    """A source using a browser with JavaScript on."""
    return Source(context.new_page(), live_intake, javascript=True)


@pytest.fixture
def nojs_context(browser: Browser, live_intake: str) -> Iterator[BrowserContext]:
    """A browser profile with JavaScript off, as Tor Browser at "Safest"."""
    made = _context(browser, live_intake, javascript=False)
    yield made
    made.close()


@pytest.fixture
def nojs_traffic(nojs_context: BrowserContext) -> Traffic:
    """Every request the JavaScript-free context sends."""
    return Traffic.record(nojs_context)


@pytest.fixture
def nojs_source(
    nojs_context: BrowserContext, nojs_traffic: Traffic, live_intake: str, desk: DeskSetup
) -> Source:
    """A source using a browser with JavaScript off."""
    return Source(nojs_context.new_page(), live_intake, javascript=False)


@pytest.fixture
def live_casework(casework_app: Flask) -> Iterator[str]:
    """The casework app served as ``filon serve`` serves it, on a free localhost port.

    Plain HTTP on localhost: Chromium counts localhost as a secure origin, so it keeps the
    casework's ``__Host-``, Secure cookies as it would over HTTPS or an onion service.
    """
    from filon.serve import Listener, bind

    server = bind(Listener("casework", casework_app, "127.0.0.1", 0), threads=4)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)


@pytest.fixture
def staff_context(browser: Browser, live_casework: str) -> Iterator[BrowserContext]:
    """A staff member's browser profile on the casework, with JavaScript on."""
    made = browser.new_context(base_url=live_casework, locale="en-GB")
    made.set_default_timeout(30_000)
    yield made
    made.close()


@pytest.fixture
def fresh_context(browser: Browser, live_intake: str) -> Iterator[BrowserContext]:
    """A second, fresh browser profile on the intake (a source back another day)."""
    made = _context(browser, live_intake, javascript=True)
    yield made
    made.close()
