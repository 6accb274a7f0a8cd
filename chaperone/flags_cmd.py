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

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

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


def _warn_unanchored(desk: actions.Desk) -> None:
    if desk.log.anchor_errors:
        FlagsConsole().unanchored(desk.log.anchor_errors[0])


@app.command()
def status(
    name: Name,
    env: Env,
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    as_json: JsonOut = False,
    controller: ControllerUrl = None,
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
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        current = flags.status(name, env)
        pinned = flags.pin(name)
    if as_json:
        print_json({**asdict(current), "backend": backend.value, "pin": pinned})
        return
    FlagsConsole().status(name, env, backend.value, current.enabled, current.rollout, pinned)


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
        desk = actions.desk_for(flags, actions.audit_path_for(audit_path, state), actor)
        old = actions.pin(desk, name, bound, replace)
    _warn_unanchored(desk)
    before = f" (was {old[:12]})" if old and old != bound.digest else ""
    FlagsConsole().say(f"{name} pinned to policy {bound.digest[:12]} ({policy}){before}")


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
    controller: ControllerUrl = None,
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
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = actions.desk_for(flags, actions.audit_path_for(audit_path, state), actor)
        if key_error is not None:
            actions.record_refusal(desk, "enable", name, env, key_error, build=build)
            raise key_error
        after, _ = actions.enable(desk, ask, key)
    _warn_unanchored(desk)
    FlagsConsole().say(f"{name} enabled in {env} at {after.rollout}% for build {build}")


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
    controller: ControllerUrl = None,
) -> None:
    """Kill switch: turn the flag off. Never needs a verdict or a key."""
    if controller is not None:
        with ControllerClient(controller) as client:
            client.disable(name, env, reason)
        FlagsConsole().say(f"{name} disabled in {env} by the controller")
        return
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = actions.desk_for(flags, actions.audit_path_for(audit_path, state), actor)
        actions.disable(desk, name, env, reason)
    _warn_unanchored(desk)
    FlagsConsole().say(f"{name} disabled in {env}")


@app.command()
def revoke(
    name: Name,
    build: Annotated[str | None, typer.Option("--build", help="the build id to revoke")] = None,
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="the artefact's sha256 (with --controller, the identity)"),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit)")] = "",
    backend: Backend = BackendKind.local,
    state: StatePath = DEFAULT_STATE,
    flags_dir: FlagsDir = None,
    unleash_url: UnleashUrl = DEFAULT_UNLEASH,
    audit_path: AuditPath = None,
    actor: Actor = None,
    controller: ControllerUrl = None,
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
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        desk = actions.desk_for(flags, actions.audit_path_for(audit_path, state), actor)
        actions.revoke(desk, name, build_digest_of(build), build, reason or "revoked by hand")
    _warn_unanchored(desk)
    FlagsConsole().say(f"build {build} revoked for {name}")


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
    log_path = actions.audit_path_for(audit_path, state)
    with open_backend(backend, state, flags_dir, unleash_url) as flags:
        if verify:
            chain = verify_chain(flags, log_path, name)
        else:
            view = read_history(flags, log_path, name, env)
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
