"""`chaperone profile`: check a target profile against a live app, show its schema, list the
built-in ones. `check` is the first thing to run on a new app: it validates the file, seeds one
user of every role, logs each in, looks as each, and prints the coverage plan."""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from chaperone.checks import check_target
from chaperone.options import SupportOpt
from harness.adapters import make_target
from harness.adapters.capabilities import DISCOVERY
from harness.aio import LoopThread
from harness.client.har import har_routes, read_har, reads_yaml
from harness.models import Observation
from harness.population import Counts, make_population
from harness.profile import SCHEMA_PATH, builtin_profiles, load_profile, profile_schema_text
from harness.profile.noreset import NO_RESET_COSTS
from harness.profile.replays import ReplayPlan, replay_plan
from harness.profile.template import route_of
from reports.terminal import make_console
from scenarios.play import missing_flows
from scenarios.switch import all_scenarios

app = typer.Typer(
    name="profile",
    help="Target profiles: describe your app in YAML, then check it against a staging URL.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def check(
    profile: Annotated[str, typer.Argument(help="Profile YAML, or a built-in name (clinic).")],
    target: Annotated[str, typer.Option(help="Base URL of a staging instance of the app.")],
    support_token: SupportOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable plan.")] = False,
) -> None:
    """Validate PROFILE, log every role in, create one user of each, and print the coverage
    plan: which reads and flows will run, as whom, and how often.

    It resets the target's data (the profile's `reset:` steps), like every run does: point it
    at staging only. A profile without `reset:` creates fresh users on every run instead, and
    says what that costs.

    Example:

      chaperone profile check examples/targets/vampi.yaml --target http://127.0.0.1:5055
    """
    loaded = load_profile(profile)
    url = check_target(target)
    spec = loaded.profile
    token = support_token or ""
    if spec.support is not None and not token:
        token = os.environ.get(spec.support.token_env, "")
    loop = LoopThread()
    adapter = make_target(spec, url, token, None, "profile", str(loaded.directory))
    try:
        loop.run(adapter.check(), timeout=60)
        population = make_population(spec, 0, Counts(owners=1, observers=1, per_owner=1, heavy=0))
        world = loop.run(adapter.seed(population), timeout=300)
        seen: dict[str, list[Observation]] = {}
        for actor in world.actors.values():
            session = loop.run(adapter.login(actor), timeout=60)
            seen[actor.id] = loop.run(adapter.look(session, "profile-check"), timeout=300)
        plan = _plan(seen, {a.id: a.role for a in world.actors.values()})
        discovery = DISCOVERY.of(adapter)
        unfilled = discovery.unfilled_routes() if discovery is not None else []
    finally:
        loop.run(adapter.aclose(), timeout=10)
        loop.close()
    flows = sorted(spec.flows)
    replays = replay_plan(spec)
    scenarios = {
        s.name: missing_flows(spec.flows.__contains__, s.phases)
        for s in all_scenarios(spec.scenarios)
    }
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "profile": spec.name,
                    "digest": loaded.digest,
                    "reads": plan,
                    "flows": flows,
                    "scenarios": scenarios,
                    "unfilled": unfilled,
                    "not_replayed": {r.route: r.why for r in replays if not r.replayed},
                    "replayed_although_unsafe": [
                        r.route for r in replays if r.replayed and "unsafe" in r.why
                    ],
                    "reset": bool(spec.reset),
                    "no_reset_costs": [] if spec.reset else list(NO_RESET_COSTS),
                },
                sort_keys=True,
            )
        )
        return
    console = make_console()
    _print(console, spec.name, loaded.digest, plan, flows, scenarios, unfilled)
    _print_replays(console, replays)
    if not spec.reset:
        _print_no_reset(console)


def _plan(
    seen: dict[str, list[Observation]], roles: dict[str, str]
) -> dict[str, dict[str, dict[str, object]]]:
    """route -> role -> {reads per look, statuses seen}."""
    plan: dict[str, dict[str, dict[str, object]]] = defaultdict(dict)
    for actor, observations in seen.items():
        role = roles[actor]
        by_route: dict[str, Counter[int]] = defaultdict(Counter)
        for obs in observations:
            by_route[obs.endpoint][obs.status] += 1
        for route, statuses in by_route.items():
            plan[route][role] = {
                "per_look": sum(statuses.values()),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
            }
    return dict(plan)


def _print(
    console: Console,
    name: str,
    digest: str,
    plan: dict[str, dict[str, dict[str, object]]],
    flows: list[str],
    scenarios: dict[str, list[str]],
    unfilled: list[str],
) -> None:
    console.print(f"profile [bold]{name}[/] ({digest[:12]}): every role logged in and looked")
    roles = sorted({role for row in plan.values() for role in row})
    table = Table(title="Coverage plan: reads per look, as whom (HTTP statuses seen)")
    table.add_column("Read")
    for role in roles:
        table.add_column(role)
    for route in sorted(plan):
        cells = []
        for role in roles:
            info = plan[route].get(role)
            if info is None:
                cells.append("-")
                continue
            statuses = info["statuses"]
            assert isinstance(statuses, dict)
            shown = " ".join(f"{k}x{v}" for k, v in statuses.items())
            cells.append(f"{info['per_look']} ({shown})")
        table.add_row(route, *cells)
    console.print(table)
    console.print(
        "the access suite also repeats each of these reads as other users and anonymously "
        "(that is where an IDOR shows)"
    )
    console.print(f"flows: {', '.join(flows) or 'none'}")
    for scenario, missing in scenarios.items():
        state = "runs" if not missing else f"not applicable (no flow {', '.join(missing)})"
        console.print(f"  scenario {scenario}: {state}")
    if unfilled:
        console.print(
            "discovered routes no observed value could fill (not read): " + ", ".join(unfilled)
        )


def _print_replays(console: Console, replays: list[ReplayPlan]) -> None:
    for row in replays:
        if not row.replayed:
            console.print(f"not replayed by the access suite: {row.route}: {row.why}", markup=False)
        elif row.why.startswith("a write") or "unsafe" in row.why:
            console.print(f"replayed: {row.route}: {row.why}", markup=False)


def _print_no_reset(console: Console) -> None:
    console.print(
        "no reset: the profile has no `reset:` steps, so each run (and each stateful example) "
        "registers fresh users under a namespace of its own. What that costs:",
        markup=False,
    )
    for cost in NO_RESET_COSTS:
        console.print(f"  - {cost}", markup=False)


@app.command()
def schema(
    write: Annotated[
        bool, typer.Option("--write", help=f"Rewrite {SCHEMA_PATH.name} in the package.")
    ] = False,
) -> None:
    """Print the profile JSON Schema (editors validate YAML with it)."""
    text = profile_schema_text()
    if write:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {SCHEMA_PATH}")
        return
    typer.echo(text, nl=False)


@app.command("list")
def list_profiles() -> None:
    """The built-in profiles."""
    for name in builtin_profiles():
        typer.echo(name)


@app.command("import-har")
def import_har(
    har: Annotated[Path, typer.Argument(help="A HAR file saved from the browser's devtools.")],
    profile: Annotated[
        str | None, typer.Option(help="Leave out the routes this profile already reads.")
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option(help="The app's origin (http://host:port); default: the most requested."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the YAML here, not to stdout.")] = None,
) -> None:
    """Print the same-origin GETs a recorded browser session made as profile `reads:` to
    paste (ids become `{id}`). `chaperone run --har FILE` reads them in a run instead.

    Example:

      chaperone profile import-har session.har --profile examples/targets/vampi.yaml
    """
    routes = har_routes(read_har(har), origin)
    already: set[str] = set()
    if profile is not None:
        spec = load_profile(profile).profile
        already = {route_of(s.method, s.path) for read in spec.reads for s in read.steps}
        shapes = {re.sub(r"\{[^}]*\}", "{}", r) for r in already}
        already |= {r for r in routes if re.sub(r"\{[^}]*\}", "{}", r) in shapes}
    text = reads_yaml(routes, already)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {len(routes) - len(already & set(routes))} route(s) to {out}")
