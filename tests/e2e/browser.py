"""Headless Chromium for the Web UI scenarios: Debian's ``chromium``, driven by Playwright.

Playwright's own browser builds are never used (nothing may be downloaded at run time, so
never run ``playwright install``): the tests launch the system Chromium by path. The Web UI
also calls out to the internet (a news feed); every request that is not for the UI under
test is refused, so a closed network makes no difference to what the page shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import BrowserContext, Route, async_playwright

CHROMIUM_PATH_ENV = "CHROMIUM_PATH"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Not ESCALATIONS_*: tests/conftest.py clears those (service settings) before every test.
SCREENSHOT_DIR_ENV = "E2E_SCREENSHOT_DIR"
# As root Chromium refuses to start without --no-sandbox; the rest keep it from reaching for
# the network on its own (updates, sync, field trials) and from waiting on a first-run dialog.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1440, "height": 900}
LAUNCH_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 20_000


def find_chromium() -> str | None:
    """The Chromium binary to drive: ``$CHROMIUM_PATH``, else ``chromium`` on the PATH."""
    configured = os.environ.get(CHROMIUM_PATH_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def no_chromium_reason() -> str:
    """Why a browser test cannot run here, and how to fix it."""
    configured = os.environ.get(CHROMIUM_PATH_ENV)
    if configured:
        return f"{CHROMIUM_PATH_ENV}={configured} is not an executable file"
    return (
        f"no Chromium binary ({' or '.join(CHROMIUM_NAMES)} on the PATH, or {CHROMIUM_PATH_ENV}): "
        "install Debian's package with `apt-get install chromium` (.ci/run does)"
    )


def screenshot_dir(default: Path) -> Path:
    """Where screenshots go: ``$E2E_SCREENSHOT_DIR`` if set (created), else ``default``."""
    configured = os.environ.get(SCREENSHOT_DIR_ENV)
    directory = Path(configured) if configured else default
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@asynccontextmanager
async def chromium_context(
    executable: str, profile_dir: Path, allowed_origin: str
) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh profile that may only load ``allowed_origin``.

    Args:
        executable: The Chromium binary (:func:`find_chromium`).
        profile_dir: An empty directory for the user data (a used profile remembers state).
        allowed_origin: ``http://host:port`` of the page under test; other requests fail.
    """
    prefix = allowed_origin.rstrip("/") + "/"

    async def refuse(route: Route) -> None:
        await route.abort("blockedbyclient")

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            profile_dir,
            executable_path=executable,
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
            # Times on the page (and in screenshots) read the same on every machine.
            timezone_id="UTC",
            locale="en-US",
            timeout=LAUNCH_TIMEOUT_MS,
        )
        try:
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            await context.route(lambda url: not url.startswith(prefix), refuse)
            yield context
        finally:
            await context.close()
