"""Starting Debian's Chromium under Playwright.

Playwright cannot download its own browsers here, so we always point it at a system Chromium.
A missing binary is an InfrastructureError with the fix, never a silent skip: a gate that skipped
its browser checks would pass a build it never looked at.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from playwright._impl import _driver, transport
from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api._context_manager import PlaywrightContextManager

from harness.childenv import child_env
from harness.errors import InfrastructureError

# Flags that keep a headless Chromium quiet and offline except for the target.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def _driver_env() -> dict[str, str]:
    """Playwright's node driver starts with a copy of os.environ (`get_driver_env`), gate key
    and admin token included, whatever `launch(env=...)` later gives Chromium. This is the
    allow-listed environment instead, with the driver's own PW_* settings."""
    own = {k: str(v) for k, v in _driver.get_driver_env().items() if k.startswith("PW_")}
    return child_env(own)


def confined_playwright() -> PlaywrightContextManager:
    """`async_playwright()` whose driver process gets `_driver_env()`. Playwright reads the
    environment for its driver through `transport.get_driver_env` and offers no parameter, so
    that name is replaced (once, process-wide; tests/browser checks the driver's real
    environment, so a Playwright upgrade that moves it fails there, not silently)."""
    transport.get_driver_env = _driver_env  # type: ignore[attr-defined]
    return async_playwright()


def missing_chromium(path: str) -> InfrastructureError:
    return InfrastructureError(
        f"Chromium not found at {path}",
        "run `apt-get install -y chromium` or pass --chromium PATH",
    )


def check_chromium(path: str) -> None:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise missing_chromium(path)


async def launch_chromium(
    playwright: Playwright, path: str, extra_args: Sequence[str] = ()
) -> Browser:
    """A headless Chromium; `extra_args` for one browser's own devices (fake capture files)."""
    check_chromium(path)
    try:
        return await playwright.chromium.launch(
            executable_path=path,
            headless=True,
            args=[*CHROMIUM_ARGS, *extra_args],
            env=dict[str, str | float | bool](child_env()),  # no gate key, no admin token
        )
    except PlaywrightError as exc:
        raise InfrastructureError(
            f"Chromium at {path} did not start ({exc.message.splitlines()[0]})",
            "check that it is a working Chromium (`chromium --version`) or pass --chromium PATH",
        ) from exc
