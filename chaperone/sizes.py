"""The CLI's population and SLO options, named by the profile's own roles, resources and routes.

`--population ROLE=N` works for any profile. The old `--patients` and `--clinicians` stay as
aliases of `--population patient=N` and `--population clinician=N`, valid only where the profile
defines such a role; elsewhere they are a one-line usage error naming the role-keyed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from pydantic import ValidationError

from harness.config import SloThresholds
from harness.errors import ConfigError, UsageError
from harness.population import counts_for
from harness.profile.model import TargetProfile

PopulationOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--population",
        help="How many users of a role, or resources of a kind per owner, by the profile's own "
        "names: NAME=N (repeatable), e.g. --population patient=20. Default: the profile's counts.",
        show_default=False,
    ),
]
SloP95Opt = Annotated[
    list[str] | None,
    typer.Option(
        "--slo-p95",
        help="Load SLO: a route's p95 limit, 'ROUTE=MS' (repeatable), e.g. "
        "'GET /api/me/recordings=800'. Default: the profile's load.slo.",
        show_default=False,
    ),
]


def population_of(
    profile: TargetProfile, pairs: Sequence[str] = (), **aliases: int | None
) -> dict[str, int]:
    """`--population` pairs, then each alias `--<role>s N` given, checked against the profile."""
    sizes = dict(_pair(p, "--population", "user=20") for p in pairs)
    used = [f"--population {p}" for p in pairs]
    for flag, value in aliases.items():
        if value is None:
            continue
        role = flag.removesuffix("s")
        if role not in profile.roles:
            raise UsageError(
                f"--{flag} sets role '{role}', which profile '{profile.name}' does not define",
                f"use --population ROLE={value} with one of its roles ({', '.join(profile.roles)})",
            )
        sizes[role] = value
        used.append(f"--{flag} {value}")
    try:
        counts_for(profile, sizes)
    except UsageError as exc:
        raise UsageError(f"{' '.join(used) or 'population'}: {exc.problem}", exc.fix) from None
    return sizes


def slo_of(p95: Sequence[str], error_rate: float, rps: float) -> SloThresholds:
    routes = {}
    for pair in p95:
        route, _, limit = pair.rpartition("=")
        if not route.strip() or not _number(limit):
            raise UsageError(
                f"--slo-p95 '{pair}' is not ROUTE=MS", "pass e.g. --slo-p95 'GET /api/items=800'"
            )
        routes[route.strip()] = {"p95_ms": float(limit)}
    try:
        return SloThresholds.model_validate(
            {"routes": routes, "max_error_rate": error_rate, "min_rps": rps}
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ConfigError(f"SLO {where}: {error['msg']}", "see --help") from None


def _pair(text: str, flag: str, example: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip().isdigit():
        raise UsageError(f"{flag} '{text}' is not NAME=N", f"pass e.g. {flag} {example}")
    return name.strip(), int(value)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_policy_population(profile: TargetProfile, population: dict[str, int]) -> None:
    """The gate's population (the policy's minimum) names the profile's roles and resources."""
    try:
        counts_for(profile, population)
    except UsageError as exc:
        raise ConfigError(f"policy min_population: {exc.problem}", exc.fix) from None
