"""The options commands share, so each command spells them the same: the target and how a run
reaches it, the load master, and the flag backend (`flags`, `gate --enable`, `watch`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flags.backends.kinds import BackendKind

TargetOpt = Annotated[
    str | None,
    typer.Option(
        help="Base URL of the staging deployment. Omit it to start the reference clinic locally.",
        show_default=False,
    ),
]

SuiteOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--suite",
        help="Suite to run (repeatable): switch, access, stateful, load, "
        "browser, fuzz. Default: switch, access, stateful.",
        show_default=False,
    ),
]

SupportOpt = Annotated[
    str | None,
    typer.Option(
        envvar="CHAPERONE_SUPPORT_TOKEN",
        help="Token of the target's staging "
        "support API (env CHAPERONE_SUPPORT_TOKEN). Never printed.",
        show_default=False,
    ),
]

AllowOpt = Annotated[
    Path,
    typer.Option(
        "--policy",
        help="Policy whose allowed_targets a --target must match: a run starts by resetting "
        "the target's data, so it only ever goes to staging hosts.",
    ),
]

FaultsOpt = Annotated[
    str,
    typer.Option(
        help="Only without --target: plant these faults in the local clinic "
        "(comma-separated; see `chaperone clinic faults`)."
    ),
]

MediaOpt = Annotated[
    str,
    typer.Option(
        help="real: the calls of the switch and load suites are WebRTC, each caller's camera "
        "and microphone carrying their canary (the profile's `media:` section; the local "
        "clinic then records real VP8/Opus media); header: flows only, no media sent.",
    ),
]

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Target profile: a built-in name (clinic) or a profile YAML describing your app "
        "(see docs/targets.md). `chaperone profile check` shows what it will drive.",
    ),
]

ListenOpt = Annotated[
    str,
    typer.Option(
        help="Where the harness listens for the target's e-mail (SMTP) and text messages (an "
        "SMS webhook), for profiles with `notifications:`: HOST:SMTP_PORT,SMS_PORT. Configure "
        "staging to send there. Default with --target: $CHAPERONE_SINKS, else "
        "127.0.0.1:2525,2526, where `chaperone clinic serve` sends by default; without "
        "--target: free ports, which the local clinic is wired to.",
    ),
]

ExpectWorkersOpt = Annotated[
    int,
    typer.Option(
        help="--suite load: remote Locust workers to wait for; each joins with "
        "`chaperone load-worker --master HOST:PORT` from another machine.",
    ),
]

MasterHostOpt = Annotated[
    str,
    typer.Option(help="--suite load: where the Locust master listens for workers."),
]

MasterPortOpt = Annotated[
    int,
    typer.Option(
        help="--suite load: the master's port (0: a free one, or 5557 with --expect-workers)."
    ),
]

JoinSecondsOpt = Annotated[
    float,
    typer.Option(help="--suite load: how long the master waits for every worker to join."),
]


# -- the flag backend

Name = Annotated[str, typer.Argument(help="flag name, e.g. video-switch")]
Env = Annotated[str, typer.Option("--env", help="environment, e.g. development")]
Backend = Annotated[BackendKind, typer.Option("--backend", help="where the flag lives")]
StatePath = Annotated[Path, typer.Option("--state", help="local backend: state JSON file")]
FlagsDir = Annotated[
    Path | None,
    typer.Option(
        "--flags-dir",
        # `\<` keeps the placeholder: --help is Markdown, where a bare <env> is an HTML tag
        # and vanishes (tests/unit/test_cli_help.py).
        help="local backend: directory of the clinic's flags-\\<env\\>.json files "
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
