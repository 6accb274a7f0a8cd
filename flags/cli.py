"""`chaperone flags`: pin a flag's policy, enable it with a verdict, kill it, revoke a build,
read its history.

The trust model: the gate signs verdicts with a private key only CI holds; enabling needs the
public key. The policy a verdict must have passed is pinned on the flag (`pin`), never chosen by
whoever enables. A revoked build never comes back. Every change is audited write-ahead in a
hash-chained log whose head is also kept with the flag. Disabling needs nothing, because a kill
switch that can be refused is not one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flags import actions, audit
from flags.backends.base import FlagBackend
from flags.backends.local import DEFAULT_STATE, LocalBackend
from flags.backends.unleash import UnleashBackend
from flags.keys import VerifyKey, load_verify_key
from flags.policy import bind_policy
from flags.redact import redact
from flags.verdict import build_digest_of
from harness.errors import ExitCode, UsageError

app = typer.Typer(
    name="flags",
    help="Pin, enable (only with a passing signed verdict), disable and revoke feature flags.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)


class BackendKind(StrEnum):
    local = "local"
    unleash = "unleash"


Name = Annotated[str, typer.Argument(help="flag name, e.g. video-switch")]
Env = Annotated[str, typer.Option("--env", help="environment, e.g. development")]
Backend = Annotated[BackendKind, typer.Option("--backend", help="where the flag lives")]
StatePath = Annotated[Path, typer.Option("--state", help="local backend: state JSON file")]
FlagsDir = Annotated[
    Path | None,
    typer.Option(
        "--flags-dir",
        help="local backend: directory of the clinic's flags-<env>.json files "
        "(default: next to --state)",
    ),
]
UnleashUrl = Annotated[
    str,
    typer.Option(
        "--unleash-url",
        envvar="UNLEASH_URL",
        help="Unleash base URL; the admin token is read from UNLEASH_ADMIN_TOKEN",
    ),
]
AuditPath = Annotated[
    Path | None, typer.Option("--audit", help="audit log (default: audit.jsonl next to --state)")
]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="on whose behalf you act (recorded as claimed_actor, next to the OS user and CI "
        "identity, which are always recorded)",
    ),
]
VerifyKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--verify-key",
        help="the gate's public key (PEM); default: CHAPERONE_GATE_PUBLIC_KEY",
        show_default=False,
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="machine-readable output")]
DEFAULT_UNLEASH = "http://127.0.0.1:4242"


@contextlib.contextmanager
def open_backend(
    kind: BackendKind, state: Path, flags_dir: Path | None, unleash_url: str
) -> Iterator[FlagBackend]:
    if kind is BackendKind.local:
        yield LocalBackend(state, flags_dir)
        return
    backend = UnleashBackend(unleash_url)
    try:
        yield backend
    finally:
        backend.close()


def audit_path_for(explicit: Path | None, state: Path) -> Path:
    return explicit or state.with_name(audit.DEFAULT_AUDIT.name)


def desk_for(backend: FlagBackend, log_path: Path, actor: str | None) -> actions.Desk:
    log = audit.AuditLog(log_path, anchor=backend.set_audit_head)
    return actions.Desk(backend, log, audit.identity(actor))


def _warn_unanchored(desk: actions.Desk) -> None:
    if desk.log.anchor_errors:
        Console(stderr=True).print(
            f"warning: the audit chain head was not stored in the backend: "
            f"{escape(desk.log.anchor_errors[0])}",
            highlight=False,
        )


@app.command()
def status(
    name: Name,
    env: Env,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    as_json: JsonOut = False,
) -> None:
    """Show whether the flag is on in ENV, for what share of users, and its pinned policy."""
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        current = flags.status(name, env)
        pinned = flags.pin(name)
    if as_json:
        fields = {**asdict(current), "backend": backend.value, "pin": pinned}
        typer.echo(json.dumps(fields, sort_keys=True))
        return
    word = "[green]on[/]" if current.enabled else "[red]off[/]"
    pin_text = f"pinned policy {pinned[:12]}" if pinned else "[yellow]no pinned policy[/]"
    Console().print(
        f"{name} in {env} ({backend.value}): {word}, rollout {current.rollout}%, {pin_text}"
    )


@app.command()
def pin(
    name: Name,
    policy: Annotated[Path, typer.Option("--policy", help="the release policy YAML to pin")],
    replace: Annotated[
        bool, typer.Option("--replace", help="change an existing pin (audited)")
    ] = False,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    audit_path: AuditPath = None,
    actor: Actor = None,
) -> None:
    """Pin the policy (and the profile it drives) that every verdict for NAME must have
    passed. `enable` refuses a flag with no pin, and a verdict gated under any other policy."""
    bound = bind_policy(policy)
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = desk_for(flags, audit_path_for(audit_path, state), actor)
        old = actions.pin(desk, name, bound, replace)
    _warn_unanchored(desk)
    before = f" (was {old[:12]})" if old and old != bound.digest else ""
    Console().print(f"{name} pinned to policy {bound.digest[:12]} ({policy}){before}")


@app.command()
def enable(
    name: Name,
    env: Env,
    verdict: Annotated[Path, typer.Option("--verdict", help="signed verdict.json of a gate run")],
    build: Annotated[str, typer.Option("--build", help="the build id being enabled")],
    build_digest: Annotated[
        str | None,
        typer.Option("--build-digest", help="sha256 of the artefact, if the gate was given one"),
    ] = None,
    rollout: Annotated[
        int | None,
        typer.Option(
            "--rollout", min=1, max=100, help="percent (default: the pinned policy's first stage)"
        ),
    ] = None,
    verify_key: VerifyKeyOpt = None,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    audit_path: AuditPath = None,
    actor: Actor = None,
) -> None:
    """Turn the flag on, only if the verdict proves this build safe under the pinned policy."""
    key, key_error = _verify_key_or_error(verify_key)
    ask = actions.EnableAsk(name, env, verdict, build, audit.now_utc(), rollout, build_digest)
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = desk_for(flags, audit_path_for(audit_path, state), actor)
        if key_error is not None:
            actions.record_refusal(desk, "enable", name, env, key_error, build=build)
            raise key_error
        after, _ = actions.enable(desk, ask, key)
    _warn_unanchored(desk)
    Console().print(f"{name} enabled in {env} at {after.rollout}% for build {escape(build)}")


def _verify_key_or_error(path: Path | None) -> tuple[VerifyKey | None, UsageError | None]:
    try:
        return load_verify_key(path), None
    except UsageError as exc:
        return None, exc


@app.command()
def disable(
    name: Name,
    env: Env,
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")] = "",
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    audit_path: AuditPath = None,
    actor: Actor = None,
) -> None:
    """Kill switch: turn the flag off. Never needs a verdict or a key."""
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = desk_for(flags, audit_path_for(audit_path, state), actor)
        actions.disable(desk, name, env, reason)
    _warn_unanchored(desk)
    Console().print(f"{name} disabled in {env}")


@app.command()
def revoke(
    name: Name,
    build: Annotated[str, typer.Option("--build", help="the build id to revoke")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")] = "",
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    audit_path: AuditPath = None,
    actor: Actor = None,
) -> None:
    """Revoke a build: `enable` refuses it from now on, whatever verdict it brings. It does not
    turn the flag off; `disable` does."""
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = desk_for(flags, audit_path_for(audit_path, state), actor)
        actions.revoke(desk, name, build_digest_of(build), build, reason or "revoked by hand")
    _warn_unanchored(desk)
    Console().print(f"build {escape(build)} revoked for {name}")


@app.command()
def history(
    name: Name,
    env: Annotated[str | None, typer.Option("--env", help="only this environment")] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="check the audit log's hash chain and the head kept in the backend; "
            "exit 1 on any edit, deletion or truncation",
        ),
    ] = False,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    audit_path: AuditPath = None,
    as_json: JsonOut = False,
) -> None:
    """Who did what to the flag: Chaperone's audit log and the backend's own events."""
    log_path = audit_path_for(audit_path, state)
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        if verify:
            _verify(name, log_path, flags, as_json)
            return
        events = [e for e in flags.history(name) if env is None or e.env in (env, None)]
    entries = [e for e in audit.read(log_path, name) if env is None or e.env in (env, "*")]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "flag": name,
                    "audit": [e.model_dump(mode="json") for e in entries],
                    "backend": [
                        {**asdict(e), "at": e.at.isoformat() if e.at else None} for e in events
                    ],
                },
                sort_keys=True,
            )
        )
        return
    console = Console()
    console.print(_audit_table(name, entries))
    console.print(_events_table(f"{backend.value} events for {name}", events))


def _verify(name: str, log_path: Path, flags: FlagBackend, as_json: bool) -> None:
    report = audit.verify(log_path, flags.audit_heads(name))
    if as_json:
        typer.echo(json.dumps(asdict(report) | {"intact": report.intact}, sort_keys=True))
    else:
        console = Console(highlight=False)
        word = "[green]intact[/]" if report.intact else "[red bold]TAMPERED[/]"
        console.print(f"audit log {log_path}: {report.lines} line(s), {word}")
        for problem in report.problems:
            console.print(f"  [red]problem:[/] {escape(problem)}")
        for note in report.notes:
            console.print(f"  note: {escape(note)}")
    if not report.intact:
        raise typer.Exit(int(ExitCode.FAIL))


def _audit_table(name: str, entries: list[audit.AuditEntry]) -> Table:
    """One row per action: an intent is shown only while it has no outcome (a killed run)."""
    closed = {e.intent for e in entries if e.intent is not None}
    table = Table(title=f"audit log for {name}")
    for column in ("when", "who", "action", "env", "result", "build", "reason"):
        table.add_column(column)
    for e in entries:
        if e.phase == "intent" and e.seq in closed:
            continue
        who = e.actor + (f" ({e.ci})" if e.ci else "")
        who += f" for {e.claimed_actor}" if e.claimed_actor else ""
        table.add_row(
            e.at.isoformat(timespec="seconds"),
            escape(who),
            e.action,
            e.env,
            "no outcome" if e.phase == "intent" else e.result,
            escape(e.build or ""),
            escape(redact(e.reason)),
        )
    return table


def _events_table(title: str, events: list[Any]) -> Table:
    table = Table(title=title)
    for column in ("when", "who", "action", "env", "detail"):
        table.add_column(column)
    for e in events:
        table.add_row(
            e.at.isoformat(timespec="seconds") if e.at else "",
            escape(e.actor or ""),
            e.action,
            e.env or "",
            escape(e.detail),
        )
    return table
