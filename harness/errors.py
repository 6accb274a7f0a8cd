"""The one exception root, and the exit codes it maps to.

    ChaperoneError                 every error Chaperone raises on purpose
    ├── UsageError                 the user's mistake: one line naming problem and fix (exit 2)
    │   └── ConfigError            an invalid config / policy / report file (exit 2)
    ├── InfrastructureError        something we needed was not there: target, Unleash,
    │   │                          Chromium, Locust, PostgreSQL (exit 2)
    │   ├── TargetUnreachable      the system under test did not answer
    │   └── NoEffect               the scenario had no effect: nothing proven (exit 2)
    ├── Cancelled                  work stopped before it proved anything (exit 2); carries
    │                              its reason: timeout, interrupt (Ctrl-C) or lost target
    ├── GateRefused                a flag action was refused (unsafe enablement) (exit 1)
    └── InternalError              a bug in Chaperone itself (exit 2, with a traceback)

Usage and infrastructure errors are shown as a single line with no traceback: they are not
bugs. Anything that is not a ChaperoneError is an internal error.

KeyboardInterrupt is only ever the user's Ctrl-C (or SIGTERM, which `chaperone` handles the
same way). Our code never raises it to stop work: a deadline, a Ctrl-C caught by the engine and
a target that went away are all `Cancelled`, told apart by `reason` (see harness.cancel).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """Exit codes, in order of precedence: error beats fail beats pass."""

    PASS = 0
    FAIL = 1
    ERROR = 2
    # Only `watch`: it found a reason to turn the flag off (a leak, a lost target) and could
    # not. Distinct from 1 and 2 because someone must act by hand, now.
    FLAG_STILL_ON = 3


class ChaperoneError(Exception):
    """Root of every error that Chaperone raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message a user sees: the problem, then how to fix it."""
        if self.fix:
            return f"{self.problem}; {self.fix}"
        return self.problem


class UsageError(ChaperoneError):
    """Bad command-line input or a bad file the user pointed us at."""


class ConfigError(UsageError):
    """A config, policy or report file that does not validate."""


class InfrastructureError(ChaperoneError):
    """A service Chaperone needs is missing, down or misbehaving."""


class TargetUnreachable(InfrastructureError):
    """The deployment under test did not answer."""


class NoEffect(InfrastructureError):
    """A positive control failed: the scenario ran, but the target showed no sign of it (an
    owner never saw their own data). A target that does nothing must never pass."""


class CancelReason(StrEnum):
    """Why work was cancelled."""

    TIMEOUT = "timeout"  # a suite's deadline passed
    INTERRUPT = "interrupt"  # the user's Ctrl-C (or SIGTERM)
    LOST_TARGET = "lost target"  # the target stopped answering: nothing after can be judged


_CANCELLED = {
    CancelReason.TIMEOUT: "timed out",
    CancelReason.INTERRUPT: "interrupted",
    CancelReason.LOST_TARGET: "the target was lost",
}


class Cancelled(ChaperoneError):
    """Work was stopped before it finished; `reason` says why. Never a pass: exit 2."""

    def __init__(
        self, reason: CancelReason, problem: str | None = None, fix: str | None = None
    ) -> None:
        self.reason = reason
        super().__init__(problem or _CANCELLED[reason], fix)


class GateRefused(ChaperoneError):
    """A flag action was refused because it is not proven safe."""

    exit_code = ExitCode.FAIL


class InternalError(ChaperoneError):
    """A bug in Chaperone. Shown with a traceback, unlike the others."""
