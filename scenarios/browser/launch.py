"""Starting Debian's Chromium under Playwright.

Playwright cannot download its own browsers here, so we always point it at a system Chromium.
A missing binary is an InfrastructureError with the fix, never a silent skip: a gate that skipped
its browser checks would pass a build it never looked at.
"""

from __future__ import annotations

import os

from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

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


def missing_chromium(path: str) -> InfrastructureError:
    return InfrastructureError(
        f"Chromium not found at {path}",
        "run `apt-get install -y chromium` or pass --chromium PATH",
    )


def check_chromium(path: str) -> None:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise missing_chromium(path)


async def launch_chromium(playwright: Playwright, path: str) -> Browser:
    check_chromium(path)
    try:
        return await playwright.chromium.launch(
            executable_path=path,
            headless=True,
            args=list(CHROMIUM_ARGS),
            env=dict[str, str | float | bool](child_env()),  # no gate key, no admin token
        )
    except PlaywrightError as exc:
        raise InfrastructureError(
            f"Chromium at {path} did not start ({exc.message.splitlines()[0]})",
            "check that it is a working Chromium (`chromium --version`) or pass --chromium PATH",
        ) from exc
