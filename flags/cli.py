"""`chaperone flags`: read, enable and kill a feature flag. Enabling needs a signed, unexpired,
passing verdict for the exact build and policy; disabling needs nothing, because a kill switch
that can be refused is not one. Every action and every refusal lands in the audit log."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flags import audit
from flags.backends.base import FlagBackend, FlagState
from flags.backends.local import DEFAULT_STATE, LocalBackend
from flags.backends.unleash import UnleashBackend
from flags.policy import DEFAULT_POLICY, load_policy
from flags.verdict import file_sha256, verify_for_enable
from harness.errors import ChaperoneError, GateRefused, InfrastructureError

app = typer.Typer(
    name="flags",
    help="Read, enable (only with a passing signed verdict) and disable feature flags.",
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
BootstrapOut = Annotated[
    Path | None,
    typer.Option(
        "--bootstrap-out",
        help="local backend: clinic flags file to rewrite (default: flags.json next to --state)",
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
Actor = Annotated[str | None, typer.Option("--actor", help="who is acting (default: $USER)")]
JsonOut = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@contextlib.contextmanager
def _open_backend(
    kind: BackendKind, state: Path, bootstrap_out: Path | None, unleash_url: str
) -> Iterator[FlagBackend]:
    if kind is BackendKind.local:
        yield LocalBackend(state, bootstrap_out)
        return
    backend = UnleashBackend(unleash_url)
    try:
        yield backend
    finally:
        backend.close()


def _audit_path(explicit: Path | None, state: Path) -> Path:
    return explicit or state.with_name(audit.DEFAULT_AUDIT.name)


@app.command()
def status(
    name: Name,
    env: Env,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    bootstrap_out: BootstrapOut = None,
    unleash_url: UnleashUrl = "http://127.0.0.1:4242",
    as_json: JsonOut = False,
) -> None:
    """Show whether the flag is on in ENV and for what share of users."""
    with _open_backend(backend, state, bootstrap_out, unleash_url) as flags:
        current = flags.status(name, env)
    if as_json:
        typer.echo(json.dumps({**asdict(current), "backend": backend.value}, sort_keys=True))
        return
    word = "[green]on[/]" if current.enabled else "[red]off[/]"
    Console().print(f"{name} in {env} ({backend.value}): {word}, rollout {current.rollout}%")


@app.command()
def enable(
    name: Name,
    env: Env,
    verdict: Annotated[Path, typer.Option("--verdict", help="signed verdict.json of a gate run")],
    build: Annotated[str, typer.Option("--build", help="the build id being enabled")],
    policy: Annotated[Path, typer.Option("--policy", help="release policy YAML")] = DEFAULT_POLICY,
    rollout: Annotated[int, typer.Option("--rollout", min=1, max=100)] = 100,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    bootstrap_out: BootstrapOut = None,
    unleash_url: UnleashUrl = "http://127.0.0.1:4242",
    audit_path: AuditPath = None,
    actor: Actor = None,
) -> None:
    """Turn the flag on, only if the verdict proves this build safe under the policy."""
    record = _Recorder(
        _audit_path(audit_path, state),
        actor,
        "enable",
        name,
        env,
        backend,
        build=build,
        rollout=rollout,
        verdict=verdict,
    )
    with record:
        _check_and_enable(
            name,
            env,
            verdict,
            build,
            policy,
            rollout,
            lambda: _open_backend(backend, state, bootstrap_out, unleash_url),
        )
    Console().print(f"{name} enabled in {env} at {rollout}% for build {build}")


def _check_and_enable(
    name: str,
    env: str,
    verdict: Path,
    build: str,
    policy_path: Path,
    rollout: int,
    opener: Callable[[], AbstractContextManager[FlagBackend]],
) -> None:
    policy = load_policy(policy_path)
    if name != policy.flag:
        raise GateRefused(
            f"policy {policy_path} is for flag '{policy.flag}', not '{name}'",
            "pass --policy with this flag's policy",
        )
    if env not in policy.environments:
        raise GateRefused(
            f"environment '{env}' is not in the policy's environments {policy.environments}",
            "add it to the policy or pick another --env",
        )
    verify_for_enable(verdict, build, policy, audit.now_utc())
    with opener() as flags:
        after = flags.enable(name, env, rollout)
    _confirm(after, enabled=True, rollout=rollout)


def _confirm(after: FlagState, *, enabled: bool, rollout: int | None) -> None:
    if after.enabled != enabled or (rollout is not None and after.rollout != rollout):
        raise InfrastructureError(
            f"the backend reports {after.flag} enabled={after.enabled} at {after.rollout}% "
            f"after the change",
            "another strategy or writer overrides it; check the backend",
        )


@app.command()
def disable(
    name: Name,
    env: Env,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    bootstrap_out: BootstrapOut = None,
    unleash_url: UnleashUrl = "http://127.0.0.1:4242",
    audit_path: AuditPath = None,
    actor: Actor = None,
) -> None:
    """Kill switch: turn the flag off. Never needs a verdict."""
    with (
        _Recorder(_audit_path(audit_path, state), actor, "disable", name, env, backend),
        _open_backend(backend, state, bootstrap_out, unleash_url) as flags,
    ):
        _confirm(flags.disable(name, env), enabled=False, rollout=None)
    Console().print(f"{name} disabled in {env}")


@app.command()
def history(
    name: Name,
    env: Annotated[str | None, typer.Option("--env", help="only this environment")] = None,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    bootstrap_out: BootstrapOut = None,
    unleash_url: UnleashUrl = "http://127.0.0.1:4242",
    audit_path: AuditPath = None,
    as_json: JsonOut = False,
) -> None:
    """Who did what to the flag: Chaperone's audit log and the backend's own events."""
    entries = [
        e for e in audit.read(_audit_path(audit_path, state), name) if env is None or e.env == env
    ]
    with _open_backend(backend, state, bootstrap_out, unleash_url) as flags:
        events = [e for e in flags.history(name) if env is None or e.env in (env, None)]
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


def _audit_table(name: str, entries: list[audit.AuditEntry]) -> Table:
    table = Table(title=f"audit log for {name}")
    for column in ("when", "who", "action", "env", "result", "build", "reason"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            e.env,
            e.result,
            e.build or "",
            e.reason,
        )
    return table


def _events_table(title: str, events: list[Any]) -> Table:
    table = Table(title=title)
    for column in ("when", "who", "action", "env", "detail"):
        table.add_column(column)
    for e in events:
        table.add_row(
            e.at.isoformat(timespec="seconds") if e.at else "",
            e.actor or "",
            e.action,
            e.env or "",
            e.detail,
        )
    return table


class _Recorder:
    """Writes one audit entry when the block ends: done, refused (GateRefused) or error."""

    def __init__(
        self,
        path: Path,
        actor: str | None,
        action: str,
        flag: str,
        env: str,
        backend: BackendKind,
        *,
        build: str | None = None,
        rollout: int | None = None,
        verdict: Path | None = None,
    ) -> None:
        self.path = path
        self.fields: dict[str, Any] = {
            "actor": audit.current_actor(actor),
            "action": action,
            "flag": flag,
            "env": env,
            "backend": backend.value,
            "build": build,
            "rollout": rollout,
            "verdict_file": os.fspath(verdict) if verdict else None,
            "verdict_sha256": file_sha256(verdict) if verdict else None,
        }

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None:
            result, reason = "done", ""
        elif isinstance(exc, GateRefused):
            result, reason = "refused", exc.one_line()
        elif isinstance(exc, ChaperoneError):
            result, reason = "error", exc.one_line()
        else:
            result, reason = "error", f"internal error: {type(exc).__name__}"
        audit.append(
            self.path,
            audit.AuditEntry(at=audit.now_utc(), result=result, reason=reason, **self.fields),
        )
