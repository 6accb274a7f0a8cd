"""The target profile: one YAML file that says, in the app's own words, how to drive it.

    roles ──► users (fields: private ones carry canaries, public ones never do; create steps)
    relations ──► who may see whose data (a clinician sees the patients assigned to them)
    resources ──► what each user creates (a book, an appointment), with create steps
    auth ──► login steps, how the credential is applied, re-login on 401 or age
    entities ──► lists the app returns, and which item belongs to whom
    reads ──► what a user looks at (explicit, and discovered from the OpenAPI document)
    flows ──► named multi-step actions (join, switch_to_video ...) the scenarios refer to
    browser, load ──► what the browser and load suites drive

Every HTTP step is a request, then what it captures, then what it expects (Hurl's rhythm).
Strings may hold `{{placeholders}}` (see harness.profile.template). Secrets come from the
environment (`{{env.NAME}}`), never from the file.
"""

from __future__ import annotations

import difflib

from pydantic import Field, model_validator

from harness.profile.base import Name, _Strict
from harness.profile.drivers_model import BrowserFlow, BrowserSpec, LoadFlow, LoadRead, LoadSpec
from harness.profile.flows_model import EffectSpec, FlowSpec, ScenarioSpec
from harness.profile.media_model import MediaSpec
from harness.profile.notify_model import FeatureSpec, NotificationSpec, PushSpec
from harness.profile.placeholders import check_placeholders, check_role_names
from harness.profile.reads_model import (
    CrawlSpec,
    DiscoverSpec,
    EntitySpec,
    HeavySpec,
    OwnerSpec,
    PageSpec,
    ReadSpec,
)
from harness.profile.step_model import Capture, HttpStep, Steps
from harness.profile.users_model import (
    AuthSpec,
    FieldSpec,
    RelationSpec,
    ResourceSpec,
    RoleSpec,
    SupportSpec,
)

# The batch size the heaviest common exports and bulk reads use (50 and 100 are common): a
# heavy owner's lists cross it.
HEAVY_BATCH = 100

__all__ = [
    "HEAVY_BATCH",
    "AuthSpec",
    "BrowserFlow",
    "BrowserSpec",
    "Capture",
    "DiscoverSpec",
    "EffectSpec",
    "EntitySpec",
    "FeatureSpec",
    "FieldSpec",
    "FlowSpec",
    "HeavySpec",
    "HttpStep",
    "LoadFlow",
    "LoadRead",
    "LoadSpec",
    "MediaSpec",
    "NotificationSpec",
    "OwnerSpec",
    "PageSpec",
    "PushSpec",
    "ReadSpec",
    "RelationSpec",
    "ResourceSpec",
    "RoleSpec",
    "ScenarioSpec",
    "SupportSpec",
    "TargetProfile",
]


class TargetProfile(_Strict):
    name: Name
    description: str = ""
    health: HttpStep | None = Field(None, description="a request that proves the app is up")
    support: SupportSpec | None = None
    reset: Steps = Field(default_factory=list, description="steps that empty the staging data")
    roles: dict[Name, RoleSpec] = Field(min_length=1)
    relations: dict[Name, RelationSpec] = Field(default_factory=dict)
    see_all: list[str] = Field(default_factory=list, description="roles that may see everyone's")
    resources: dict[Name, ResourceSpec] = Field(default_factory=dict)
    auth: AuthSpec
    entities: dict[Name, EntitySpec] = Field(default_factory=dict)
    reads: list[ReadSpec] = Field(default_factory=list)
    heavy: HeavySpec = HeavySpec()
    discover: DiscoverSpec | None = None
    crawl: CrawlSpec | None = None
    unsafe: list[str] = Field(
        default_factory=list,
        description="routes never sent automatically (fnmatch): not by the fuzz suite, the "
        "crawl, discovery or variants. A read `reads:` lists is still read and replayed",
    )
    flows: dict[Name, FlowSpec] = Field(default_factory=dict)
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    browser: BrowserSpec | None = None
    load: LoadSpec | None = None
    feature: FeatureSpec | None = None
    push: PushSpec | None = None
    notifications: NotificationSpec | None = None
    media: MediaSpec | None = None

    @model_validator(mode="after")
    def _references(self) -> TargetProfile:
        roles = sorted(self.roles)
        named = [("see_all", r) for r in self.see_all]
        named += [(f"relations.{n}", r.observer) for n, r in self.relations.items()]
        named += [(f"relations.{n}", r.owner) for n, r in self.relations.items()]
        named += [(f"resources.{n}.owner", r.owner) for n, r in self.resources.items()]
        named += [(f"reads[{i}].roles", r) for i, s in enumerate(self.reads) for r in s.roles]
        named += [(f"flows.{n}.as", r) for n, f in self.flows.items() for r in f.as_]
        for where, role in named:
            _known(where, "role", role, roles, "roles")
        kinds = sorted(set(self.entities) | set(self.resources))
        for i, read in enumerate(self.reads):
            if read.each is not None:
                _known(f"reads[{i}].each", "entity or resource", read.each, kinds, "entities")
        for name, flow in self.flows.items():
            if flow.resource is not None:
                _known(
                    f"flows.{name}.resource",
                    "resource",
                    flow.resource,
                    sorted(self.resources),
                    "resources",
                )
            if flow.by is not None:
                _known(f"flows.{name}.by", "relation", flow.by, sorted(self.relations), "relations")
            if flow.entity is not None:
                _known(
                    f"flows.{name}.entity", "entity", flow.entity, sorted(self.entities), "entities"
                )
            effect = flow.effect
            if effect is not None and effect.relation:
                _known(
                    f"flows.{name}.effect.relation",
                    "relation",
                    effect.relation,
                    sorted(self.relations),
                    "relations",
                )
            if effect is not None and effect.deny and effect.deny != flow.entity:
                raise ValueError(
                    f"flows.{name}.effect denies '{effect.deny}' but acts on entity "
                    f"'{flow.entity}'; deny the entity the flow acts on"
                )
        if self.feature is not None:
            for needed in (*self.feature.flows, self.feature.gated):
                _known("feature", "flow", needed, sorted(self.flows), "flows")
        self._check_scenarios()
        self._check_media()
        return self

    def _check_media(self) -> None:
        if self.media is None:
            return
        spec = self.media.flows
        for group, names in (
            ("start", spec.start),
            ("camera_on", spec.camera_on),
            ("camera_off", spec.camera_off),
            ("stop", spec.stop),
        ):
            for name in names:
                _known(
                    f"media.flows.{group}", "flow", name, [*sorted(self.flows), "rejoin"], "flows"
                )
        wanted = self.media.fetch
        if wanted is not None:
            reads = sorted(r.name for r in self.reads if r.name)
            _known("media.fetch", "read", wanted, reads, "reads")

    def _check_scenarios(self) -> None:
        names = [s.name for s in self.scenarios]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"scenarios name '{twice[0]}' twice; give each scenario its own name")
        for scenario in self.scenarios:
            for phase in scenario.phases:
                base = phase.split(":", 1)[0]
                _known(
                    f"scenario '{scenario.name}' phase",
                    "flow, look, pause or rejoin",
                    base,
                    [*sorted(self.flows), "look", "pause", "rejoin"],
                    "flows",
                )

    @model_validator(mode="after")
    def _placeholders(self) -> TargetProfile:
        check_role_names(self)
        check_placeholders(self)
        return self

    def needs_support(self) -> bool:
        """Does any step use the staging support API (so a support token is required)?"""
        return self.support is not None

    def owner_roles(self) -> list[str]:
        return [name for name, role in self.roles.items() if role.owns_data]

    def list_owner_roles(self) -> list[str]:
        """Roles whose data a list shows (an entity with an owner): who gets heavy owners.
        None without such a list: nothing there is paged for a long list to leak past."""
        if not any(spec.owner is not None for spec in self.entities.values()):
            return []
        observers = self.observer_roles()
        owning = {r.owner for r in self.resources.values()}
        return [name for name in self.roles if name in owning and name not in observers]

    def heavy_rows(self) -> int:
        """Resources of each kind a heavy owner gets: `heavy.rows`, else one past a batch of
        100 and past 3 pages of the largest declared page size."""
        if self.heavy.rows is not None:
            return self.heavy.rows
        sizes = [r.page.size for r in self.reads if r.page is not None and r.page.size]
        return max([HEAVY_BATCH + 1, *(3 * size + 1 for size in sizes)])

    def observer_roles(self) -> list[str]:
        """Roles that only observe: a relation's observer that owns no resource and is no
        relation's owner. The rest own data and play the scenarios."""
        owning = {r.owner for r in self.relations.values()}
        owning |= {r.owner for r in self.resources.values()}
        watching = {r.observer for r in self.relations.values()}
        return [name for name in self.roles if name in watching and name not in owning]


def _known(where: str, what: str, name: str, choices: list[str], section: str) -> None:
    """Refuse a reference to something the profile does not define, naming the nearest one."""
    if name in choices:
        return
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"define it under {section}"
    known = ", ".join(choices) if choices else "none"
    raise ValueError(f"{where} names {what} '{name}', which is not defined ({hint} known: {known})")
