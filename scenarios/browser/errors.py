"""Playwright failures, translated into the harness's error tree.

A connection error means the target went away (TargetUnreachable); anything else the browser
could not do (a missing button, a page that never loaded) means the suite could not exercise the
flow, which is an InfrastructureError, not a pass.
"""

from __future__ import annotations

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from harness.errors import ChaperoneError, InfrastructureError, TargetUnreachable

_UNREACHABLE = ("net::ERR_CONNECTION", "net::ERR_EMPTY_RESPONSE", "net::ERR_ADDRESS_UNREACHABLE")


def target_gone(target: str, what: str) -> TargetUnreachable:
    return TargetUnreachable(
        f"{target} stopped answering the browser ({what})",
        "check that the target is still running; findings so far were reported",
    )


def translate(exc: BaseException, target: str, step: str) -> ChaperoneError:
    """The harness error for a failure during browser step `step`."""
    if isinstance(exc, ChaperoneError):
        return exc
    if not isinstance(exc, PlaywrightError):
        return InfrastructureError(f"browser step {step} failed: {exc!r}")
    first = exc.message.splitlines()[0] if exc.message else type(exc).__name__
    if any(marker in exc.message for marker in _UNREACHABLE):
        return target_gone(target, f"{step}: {first}")
    if isinstance(exc, PlaywrightTimeout):
        return InfrastructureError(
            f"browser step {step} timed out: {first}",
            "check that the target serves the pages the profile's browser section names and is "
            "not overloaded",
        )
    return InfrastructureError(f"browser step {step} failed: {first}")
