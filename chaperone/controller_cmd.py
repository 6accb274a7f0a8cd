"""`chaperone controller serve|token create` and `chaperone audit verify`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from harness.errors import ChaperoneError, UsageError
from reports.terminal import make_console

if TYPE_CHECKING:
    from controller.decisions import Controller
    from controller.guard import Watcher

app = typer.Typer(
    name="controller",
    help="The release controller: holds the flag store's credentials, pins and a signed audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
token_app = typer.Typer(name="token", no_args_is_help=True, help="People's and CI's tokens.")
app.add_typer(token_app, name="token")
audit_app = typer.Typer(
    name="audit",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="The controller's signed audit log.",
)

DB_HELP = "Database URL: sqlite:///controller.db (default), or postgresql+psycopg://… for teams."
DEFAULT_DB = "sqlite:///controller.db"


@app.command("serve")
def serve_command(
    audit_key: Annotated[
        Path, typer.Option(help="The controller's own Ed25519 private key (PEM), not the gate's.")
    ],
    db: Annotated[str, typer.Option(help=DB_HELP)] = DEFAULT_DB,
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve on.")] = "127.0.0.1:8700",
    backend: Annotated[str, typer.Option(help="local or unleash.")] = "local",
    state: Annotated[Path | None, typer.Option(help="Flag state file (--backend local).")] = None,
    unleash_url: Annotated[
        str | None, typer.Option(help="Unleash URL (--backend unleash).")
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="File the audit checkpoints are appended to ('-': stdout)."),
    ] = None,
    checkpoint_interval: Annotated[float, typer.Option(min=0.1)] = 60.0,
    heal_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between self-heal rounds.")
    ] = 5.0,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Environments to self-heal (repeatable).")
    ] = None,
    heal_every_flag: Annotated[
        bool,
        typer.Option(
            "--heal-every-flag",
            help="Self-heal every flag the store holds, not only pinned or approved ones "
            "(for an Unleash project the controller owns whole).",
        ),
    ] = False,
    watch_target: Annotated[
        str | None,
        typer.Option(
            help="Probe this target every --watch-interval for every enabled flag; on a leak "
            "disable, revoke the artefact and write the incident (support token from "
            "CHAPERONE_SUPPORT_TOKEN)."
        ),
    ] = None,
    watch_profile: Annotated[
        str, typer.Option(help="Target profile the watch probes with (name or YAML path).")
    ] = "clinic",
    watch_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between watch probe rounds.")
    ] = 30.0,
    incidents: Annotated[
        Path, typer.Option(help="Directory the watch writes incident reports into.")
    ] = Path("controller-incidents"),
    watch_env: Annotated[
        list[str] | None,
        typer.Option(
            "--watch-env",
            help="Environments the --watch-target serves (repeatable; default: every one).",
        ),
    ] = None,
    watch_raise_stages: Annotated[
        bool,
        typer.Option(
            "--watch-raise-stages",
            help="Raise a watched flag to the pinned policy's next stage once the current one "
            "stayed clean for its watch_seconds.",
        ),
    ] = False,
) -> None:
    """Run the controller. UNLEASH_ADMIN_TOKEN is read from its environment only.

    Unfinished watch responses (a disable-and-revoke cut short by a crash) are resumed at
    start, with or without --watch-target."""
    import uvicorn

    from controller.app import create_app
    from controller.decisions import Controller
    from controller.heal import Healer
    from controller.serve import CheckpointWriter, make_backend, parse_listen
    from controller.store import open_engine
    from flags.keys import load_signing_key

    where = parse_listen(listen)
    key = load_signing_key(audit_key)
    controller = Controller(open_engine(db), make_backend(backend, state, unleash_url), key)
    envs = env or ["development", "production"]
    # Before anything starts: a bad watch profile is a one-line error now, not a watch that
    # fails every round later.
    watcher = _watcher(
        controller,
        watch_target,
        watch_profile,
        watch_interval,
        incidents,
        watch_raise_stages,
        watch_env or [],
    )
    healer = Healer(controller, envs, heal_interval, heal_every_flag)
    healer.start()
    watcher.start()
    writer = None
    if checkpoints is not None:
        writer = CheckpointWriter(controller, key, checkpoints, checkpoint_interval)
        writer.start()
    try:
        watching = watch_interval if watch_target else None
        app = create_app(controller, envs, watching, watch_env or [])
        uvicorn.run(app, host=where.host, port=where.port, log_level="warning")
    finally:
        watcher.stop()
        healer.stop()
        if writer is not None:
            writer.stop()


def _watcher(
    controller: Controller,
    target: str | None,
    profile: str,
    interval: float,
    incidents: Path,
    raise_stages: bool,
    envs: list[str],
) -> Watcher:
    import logging
    import os
    import secrets

    from controller.guard import Watcher
    from flags.watch import SwitchProbe
    from harness.profile import load_profile

    # Alerts are log lines too: they must reach the operator's log even with uvicorn quiet.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    if target is None:
        return Watcher(controller, incidents)
    # Read once, bounded, at start (issue 25: `profile: /dev/zero` was read without a bound).
    loaded = load_profile(profile)
    token = os.environ.get("CHAPERONE_SUPPORT_TOKEN", "")
    # A fresh seed per process: a restarted controller must not re-seed the usernames it used.
    seed = secrets.randbelow(10**6) * 1000
    return Watcher(
        controller,
        incidents,
        lambda _flag, _env: SwitchProbe(target, token, seed=seed, profile=loaded),
        interval,
        target=target,
        secrets=[token] if token else [],
        raise_stages=raise_stages,
        envs=envs,
    )


@token_app.command("create")
def token_create_command(
    role: Annotated[str, typer.Option(help="viewer, release-manager, admin or ci.")],
    name: Annotated[str, typer.Option(help="Who or which CI job holds it.")],
    db: Annotated[str, typer.Option(help=DB_HELP)] = DEFAULT_DB,
) -> None:
    """Create a token and print it once (only its sha256 is stored)."""
    from controller.store import open_engine
    from controller.tokens import create_token

    typer.echo(create_token(open_engine(db), name, role))


ControllerUrl = Annotated[
    str, typer.Option("--controller", help="The controller's URL (admin token from env).")
]


@token_app.command("list")
def token_list_command(controller: ControllerUrl) -> None:
    """List the controller's tokens (name, role, created, revoked; never a hash). Admin only;
    the caller's token comes from CHAPERONE_CONTROLLER_TOKEN."""
    from controller.client import ControllerClient

    with ControllerClient(controller) as client:
        rows = client.tokens()
    for row in rows:
        state = "revoked" if row["revoked"] else "active"
        typer.echo(f"{row['name']}\t{row['role']}\t{row['created_at']}\t{state}")


@token_app.command("revoke")
def token_revoke_command(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    controller: ControllerUrl,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
) -> None:
    """Revoke a token: refused from the next request on. Admin only, audited."""
    from controller.client import ControllerClient

    with ControllerClient(controller) as client:
        client.revoke_token(name, reason)
    typer.echo(f"token {name} revoked")


class AuditBroken(ChaperoneError):
    pass


@audit_app.command("verify")
def audit_verify_command(
    public_key: Annotated[Path, typer.Option(help="The controller's audit public key (PEM).")],
    db: Annotated[str, typer.Option(help=DB_HELP)] = DEFAULT_DB,
    checkpoints: Annotated[
        Path | None, typer.Option(help="The checkpoint file the controller wrote.")
    ] = None,
    unanchored_grace: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Accept rows after the newest checkpoint written within this many seconds "
            "(a live controller between two checkpoints).",
        ),
    ] = 0.0,
) -> None:
    """Check the chain, every signature and every checkpoint, and that the pins and
    revocations the controller decides from are those its audit approved; exit 2 on any problem.

    With --checkpoints the newest checkpoint must match the log's head: rows after it (older
    than --unanchored-grace) are reported, as is a log no checkpoint anchors."""
    from controller.audit import verify
    from controller.audit_state import state_problems
    from controller.store import open_engine
    from flags.keys import load_verify_key

    if checkpoints is not None and not checkpoints.is_file():
        raise UsageError(f"checkpoints {checkpoints} is not a file", "pass the checkpoint file")
    engine = open_engine(db)
    problems = verify(engine, load_verify_key(public_key), checkpoints, unanchored_grace)
    problems += state_problems(engine)
    console = make_console(highlight=False)
    if problems:
        for problem in problems:
            console.print(f"BROKEN: {problem}")
        raise AuditBroken(f"audit log is not intact ({len(problems)} problem(s))")
    console.print("audit log intact")
