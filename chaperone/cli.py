"""Command-line entry point. Each sub-command lives in the layer that owns it; this module only
mounts them and turns errors into one line and an exit code (error > fail > pass)."""

from __future__ import annotations

import signal
import sys

import typer

from chaperone.errors import run_guarded
from harness.errors import ExitCode

app = typer.Typer(
    name="chaperone",
    help=(
        "Release-safety gate for telehealth video consultations.\n\n"
        "Chaperone drives a staging deployment with synthetic patients and clinicians, checks "
        "every byte each of them receives for other patients' data, and enables a feature flag "
        "only when every gate passes.\n\n"
        "New here? `chaperone demo` shows the whole story in a few minutes, with no setup.\n\n"
        "Exit codes: 0 pass, 1 findings or failed gate, 2 error (bad input, config, "
        "infrastructure); `watch` alone: 3 a leak it could not switch off."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _group() -> None:
    # A callback keeps `chaperone` a group even when only one command is mounted below.
    pass


def _demo(app: typer.Typer) -> None:
    from chaperone.demo_cmd import demo_command

    app.command("demo")(demo_command)


def _run(app: typer.Typer) -> None:
    from chaperone.run_cmd import run_command

    app.command("run")(run_command)


def _gate(app: typer.Typer) -> None:
    from chaperone.gate_cmd import gate_command

    app.command("gate")(gate_command)


def _replay(app: typer.Typer) -> None:
    from chaperone.replay_cmd import replay_command

    app.command("replay")(replay_command)


def _watch(app: typer.Typer) -> None:
    from chaperone.watch_cmd import watch_command

    app.command("watch")(watch_command)


def _selftest(app: typer.Typer) -> None:
    from chaperone.selftest_cmd import selftest_command

    app.command("selftest")(selftest_command)


def _load_worker(app: typer.Typer) -> None:
    from chaperone.load_worker_cmd import load_worker_command

    app.command("load-worker")(load_worker_command)


def _profile(app: typer.Typer) -> None:
    from chaperone.profile_cmd import app as profile_app

    help_ = "Describe your app in a target profile and check it against staging."
    app.add_typer(profile_app, name="profile", help=help_)


def _clinic(app: typer.Typer) -> None:
    from clinic.cli import app as clinic_app

    app.add_typer(clinic_app, name="clinic", help="The reference staging clinic (the target).")


def _flags(app: typer.Typer) -> None:
    from chaperone.flags_cmd import app as flags_app

    help_ = "Pin, enable (with a verdict), disable, revoke and audit feature flags."
    app.add_typer(flags_app, name="flags", help=help_)


def _keys(app: typer.Typer) -> None:
    from chaperone.keys_cmd import app as keys_app

    app.add_typer(keys_app, name="keys", help="The gate's Ed25519 signing key pair.")


def _controller(app: typer.Typer) -> None:
    from chaperone.controller_cmd import app as controller_app

    help_ = "The release controller: flag credentials, pins, revocations, a signed audit."
    app.add_typer(controller_app, name="controller", help=help_)


def _audit(app: typer.Typer) -> None:
    from chaperone.controller_cmd import audit_app

    app.add_typer(audit_app, name="audit", help="Verify the controller's signed audit log.")


# In the order a newcomer needs them: the story, a run, the gate, then the tools around it.
COMMANDS = {
    "demo": _demo,
    "run": _run,
    "gate": _gate,
    "replay": _replay,
    "watch": _watch,
    "selftest": _selftest,
    "load-worker": _load_worker,
    "profile": _profile,
    "clinic": _clinic,
    "flags": _flags,
    "keys": _keys,
    "controller": _controller,
    "audit": _audit,
}


def _mount(argv: list[str]) -> None:
    """Mount the command being run, or all of them (for --help, or a name that needs a "did
    you mean"). Each command imports its own layer: `chaperone run` never pays for FastAPI
    and SQLAlchemy, which only the clinic needs, and a subprocess starts in half the time."""
    wanted = argv[1] if len(argv) > 1 else None
    for name, mount in COMMANDS.items():
        if wanted not in COMMANDS or name == wanted:
            mount(app)


def _forget_caught_interrupt() -> None:
    """Clear CPython's note that a KeyboardInterrupt went unhandled, once we handled it.

    CPython sets that note (`_Py_UnhandledKeyboardInterrupt`) whenever a KeyboardInterrupt
    leaves code run by exec() or eval() of a string, even when a caller catches it later; and
    dataclasses and namedtuple build their methods that way, so a Ctrl-C that lands while a
    module is imported lazily (the engine imports its adapter and suites after the run has
    started) can leave it set. An interpreter started with `-m` checks the note after its
    SystemExit and kills itself with SIGINT: `python -m chaperone gate`, Ctrl-C'd, printed its
    error verdict and exited -2 instead of 2. Every exec() of a string starts by clearing it."""
    exec("")  # noqa: S102 (a constant: see above)


def main() -> None:
    # SIGTERM (a CI job cancelled, `kill`) unwinds like Ctrl-C: reports are closed, the local
    # clinic is stopped, and the run counts as an error.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # A shell without job control starts a background command (`chaperone gate ... &`) with
    # SIGINT ignored, and Python then keeps ignoring it: `kill -INT` left such a gate running
    # to its end. An interrupt always winds the run down as an error.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _mount(sys.argv)
    try:
        code = run_guarded(app)
    except KeyboardInterrupt:  # a second Ctrl-C while the first one was being reported
        code = int(ExitCode.ERROR)
    _forget_caught_interrupt()
    sys.exit(code)
