"""Turns exceptions into what a user should see: one line for their mistakes, a traceback only
for our bugs. The exit code follows harness.errors.ExitCode."""

from __future__ import annotations

import sys
import traceback

import click
import typer

from harness.errors import Cancelled, CancelReason, ChaperoneError, ExitCode

# Typer turns a KeyboardInterrupt that escapes a command into exit code 130; an interrupted run
# has not proven anything, so it is an error (2) like any other.
INTERRUPTED_BY_TYPER = 130


def _show_usage_error(exc: Exception) -> None:
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        sys.stderr.write(f"chaperone: error: {exc}\n")


def run_guarded(app: typer.Typer) -> int:
    try:
        result = app(standalone_mode=False)
    except Cancelled as exc:
        if exc.reason is CancelReason.INTERRUPT:
            sys.stderr.write("chaperone: interrupted\n")
        else:
            sys.stderr.write(f"chaperone: error: {exc.one_line()}\n")
        return int(exc.exit_code)
    except ChaperoneError as exc:
        sys.stderr.write(f"chaperone: error: {exc.one_line()}\n")
        return int(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        sys.stderr.write("chaperone: interrupted\n")
        return int(ExitCode.ERROR)
    except (click.ClickException, typer.TyperException) as exc:
        # Usage errors from the argument parser (click's, or the copy of click that newer
        # Typer releases carry): one line, plus the hint to --help.
        _show_usage_error(exc)
        return int(ExitCode.ERROR)
    except KeyboardInterrupt:  # the user's Ctrl-C outside a run (a flag command, a wait)
        sys.stderr.write("chaperone: interrupted\n")
        return int(ExitCode.ERROR)
    except Exception:  # a bug: show everything so it can be reported
        sys.stderr.write("chaperone: internal error (this is a bug in Chaperone):\n")
        traceback.print_exc()
        return int(ExitCode.ERROR)
    if result == INTERRUPTED_BY_TYPER:
        sys.stderr.write("chaperone: interrupted\n")
        return int(ExitCode.ERROR)
    if isinstance(result, int):
        return result
    return int(ExitCode.PASS)
