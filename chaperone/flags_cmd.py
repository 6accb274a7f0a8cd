"""`chaperone flags`: pin a flag's policy, enable it with a verdict, kill it, revoke a build,
read its history.

The trust model: the gate signs verdicts with a private key only CI holds; enabling needs the
public key. The policy a verdict must have passed is pinned on the flag (`pin`), never chosen by
whoever enables. A revoked build never comes back. Every change is audited write-ahead in a
hash-chained log whose head is also kept with the flag. Disabling needs nothing, because a kill
switch that can be refused is not one.

Each command wires an action (flags.actions, flags.history) to its output
(reports.flags_console); the decisions are made there, not here.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from chaperone.options import (
    Actor,
    AuditPath,
    Backend,
    Env,
    FlagsDir,
    JsonOut,
    Name,
    StatePath,
    UnleashUrl,
    VerifyKeyOpt,
)
from controller.client import ControllerClient
from flags import actions, audit
from flags.backends.kinds import DEFAULT_UNLEASH, BackendKind, open_backend
from flags.backends.local import DEFAULT_STATE
from flags.history import read_history, verify_chain
from flags.keys import VerifyKey, load_verify_key
from flags.policy import bind_policy
from flags.verdict import build_digest_of
from harness.errors import ExitCode, UsageError
from reports.flags_console import FlagsConsole, chain_document, print_json

app = typer.Typer(
    name="flags",
    help="Pin, enable (only with a passing signed verdict), disable and revoke feature flags.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


# With a controller the flag's pins, revocations and audit are the controller's; without one
# this command is a single-user mode over a local file, which is not a control.
ControllerUrl = Annotated[
    str | None,
    typer.Option(
        "--controller",
        help="the release controller's URL (token: CHAPERONE_CONTROLLER_TOKEN); without it the "
        "local/Unleash backend is used directly, a single-user mode that is not a control",
    ),
]


@dataclass(frozen=True)
class Where:
    """Where a command finds the flag and writes its audit: the options every command shares."""

    backend: BackendKind = BackendKind.local
    state: Path = DEFAULT_STATE
    flags_dir: Path | None = None
    unleash_url: str = DEFAULT_UNLEASH
    audit_path: Path | None = None
    actor: str | None = None

    @property
    def audit_log(self) -> Path:
        return actions.audit_path_for(self.audit_path, self.state)

    @contextlib.contextmanager
    def desk(self) -> Iterator[actions.Desk]:
        """The backend opened with its audit desk; an unanchored audit line is warned about
        once the change is done."""
        with open_backend(self.backend, self.state, self.flags_dir, self.unleash_url) as flags:
            desk = actions.desk_for(flags, self.audit_log, self.actor)
            yield desk
        if desk.log.anchor_errors:
            FlagsConsole().unanchored(desk.log.anchor_errors[0])


# The shared options, declared once: `backend_options` appends them to a command's signature
# (Typer reads the signature) and hands the command one `where: Where`.
_SHARED: tuple[tuple[str, Any, Any], ...] = (
    ("backend", Backend, BackendKind.local),
    ("state", StatePath, DEFAULT_STATE),
    ("flags_dir", FlagsDir, None),
    ("unleash_url", UnleashUrl, DEFAULT_UNLEASH),
    ("audit_path", AuditPath, None),
    ("actor", Actor, None),
)


def backend_options(
    *, audit_log: bool = True, actor: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A command taking `where: Where` gets --backend, --state, --flags-dir and --unleash-url;
    --audit where it reads or writes the audit log, --actor where it acts."""
    left_out = {"audit_path"} if not audit_log else set()
    left_out |= {"actor"} if not actor else set()
    shared = [row for row in _SHARED if row[0] not in left_out]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "where"]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind
            )
            for name, kind, default in shared
        ]

        @functools.wraps(command)
        def wrapper(**options: Any) -> None:
            where = Where(**{name: options.pop(name) for name, _, _ in shared})
            command(where=where, **options)

        wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {
            **{p.name: p.annotation for p in own},
            **{p.name: p.annotation for p in added},
            "return": None,
        }
        return wrapper

    return decorate


@app.command()
@backend_options(audit_log=False, actor=False)
def status(
    name: Name, env: Env, where: Where, as_json: JsonOut = False, controller: ControllerUrl = None
) -> None:
    """Show whether the flag is on in ENV, for what share of users, and its pinned policy."""
    if controller is not None:
        with ControllerClient(controller) as client:
            document = client.status(name)
        approved = document["approved"].get(env, {"enabled": False})
        if as_json:
            print_json({**document, "env": env, "enabled": approved["enabled"]})
            return
        pinned = (document["pin"] or {}).get("policy_digest")
        FlagsConsole().status(name, env, "controller", approved["enabled"], 100, pinned)
        return
    with where.desk() as desk:
        current = desk.backend.status(name, env)
        pinned = desk.backend.pin(name)
    kind = where.backend.value
    if as_json:
        print_json({**asdict(current), "backend": kind, "pin": pinned})
        return
    FlagsConsole().status(name, env, kind, current.enabled, current.rollout, pinned)


@app.command()
@backend_options()
def pin(
    name: Name,
    policy: Annotated[Path, typer.Option("--policy", help="the release policy YAML to pin")],
    replace: Annotated[
        bool, typer.Option("--replace", help="change an existing pin (audited)")
    ] = False,
    *,
    where: Where,
) -> None:
    """Pin the policy (and the profile it drives) that every verdict for NAME must have
    passed. `enable` refuses a flag with no pin, and a verdict gated under any other policy."""
    bound = bind_policy(policy)
    with where.desk() as desk:
        old = actions.pin(desk, name, bound, replace)
    before = f" (was {old[:12]})" if old and old != bound.digest else ""
    FlagsConsole().say(f"{name} pinned to policy {bound.digest[:12]} ({policy}){before}")


@app.command()
@backend_options()
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
    controller: ControllerUrl = None,
    *,
    where: Where,
) -> None:
    """Turn the flag on, only if the verdict proves this build safe under the pinned policy."""
    if controller is not None:
        with ControllerClient(controller) as client:
            done = client.enable(name, env, verdict)
        FlagsConsole().say(
            f"{name} enabled in {env} by the controller for artefact {done['digest'][:12]} "
            f"(build {done['build']})"
        )
        return
    key, key_error = _verify_key_or_error(verify_key)
    ask = actions.EnableAsk(name, env, verdict, build, audit.now_utc(), rollout, build_digest)
    with where.desk() as desk:
        if key_error is not None:
            actions.record_refusal(desk, "enable", name, env, key_error, build=build)
            raise key_error
        after, _ = actions.enable(desk, ask, key)
    FlagsConsole().say(f"{name} enabled in {env} at {after.rollout}% for build {build}")


def _verify_key_or_error(path: Path | None) -> tuple[VerifyKey | None, UsageError | None]:
    try:
        return load_verify_key(path), None
    except UsageError as exc:
        return None, exc


@app.command()
@backend_options()
def disable(
    name: Name,
    env: Env,
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")] = "",
    controller: ControllerUrl = None,
    *,
    where: Where,
) -> None:
    """Kill switch: turn the flag off. Never needs a verdict or a key."""
    if controller is not None:
        with ControllerClient(controller) as client:
            client.disable(name, env, reason)
        FlagsConsole().say(f"{name} disabled in {env} by the controller")
        return
    with where.desk() as desk:
        actions.disable(desk, name, env, reason)
    FlagsConsole().say(f"{name} disabled in {env}")


@app.command()
@backend_options()
def revoke(
    name: Name,
    build: Annotated[str | None, typer.Option("--build", help="the build id to revoke")] = None,
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="the artefact's sha256 (with --controller, the identity)"),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")] = "",
    controller: ControllerUrl = None,
    *,
    where: Where,
) -> None:
    """Revoke a build: `enable` refuses it from now on, whatever verdict it brings. Without a
    controller it does not turn the flag off (`disable` does); the controller revokes the
    artefact digest and turns off every environment it is live in."""
    if controller is not None:
        if digest is None:
            raise UsageError("--controller revokes by --digest", "pass the artefact's sha256")
        with ControllerClient(controller) as client:
            done = client.revoke(name, digest)
        off = ", ".join(done["disabled"]) or "none"
        FlagsConsole().say(f"artefact {digest.strip()[:12]} revoked for {name}; turned off: {off}")
        return
    if build is None:
        raise UsageError("revoke needs --build", "name the build id to revoke")
    with where.desk() as desk:
        actions.revoke(desk, name, build_digest_of(build), build, reason or "revoked by hand")
    FlagsConsole().say(f"build {build} revoked for {name}")


@app.command()
@backend_options(actor=False)
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
    as_json: JsonOut = False,
    *,
    where: Where,
) -> None:
    """Who did what to the flag: Chaperone's audit log and the backend's own events."""
    with where.desk() as desk:
        if verify:
            chain = verify_chain(desk.backend, where.audit_log, name)
        else:
            view = read_history(desk.backend, where.audit_log, name, env)
    if verify:
        if as_json:
            print_json(chain_document(chain))
        else:
            FlagsConsole().chain(chain)
        if not chain.intact:
            raise typer.Exit(int(ExitCode.FAIL))
        return
    if as_json:
        print_json(view.document)
    else:
        FlagsConsole().history(view)
