"""What a feature adds: flows with their effects on who may see what, and scenarios of them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.profile.base import Name, _Strict
from harness.profile.step_model import Steps


class EffectSpec(_Strict):
    """How a flow changes who may see what, recorded the moment the flow completes:
    `relation` + `change` (move: to another observer of the same role; end: nobody), or
    `deny` an entity kind the flow acted on, to the owner's related observers or everyone."""

    relation: str | None = None
    change: Literal["move", "end"] | None = None
    deny: str | None = None
    to: Literal["related", "everyone"] = "related"

    @model_validator(mode="after")
    def _one_kind(self) -> EffectSpec:
        if (self.relation is None) == (self.deny is None):
            raise ValueError("an effect either changes a `relation` or `deny`s an entity kind")
        if self.relation is not None and self.change is None:
            raise ValueError("a relation effect needs `change: move` or `change: end`")
        return self


class FlowSpec(_Strict):
    """A named action a scenario refers to. `resource` binds it to one of the actor's
    resources (the n-th appointment for the n-th scenario)."""

    steps: Steps = Field(min_length=1)
    resource: str | None = Field(
        None, description="the resource kind it acts on; {{<kind>.*}} is in scope"
    )
    as_: list[str] = Field(
        default_factory=list,
        alias="as",
        description="roles that perform it (default: the resource's owner role)",
    )
    conflict: list[int] = Field(
        default_factory=list,
        description="statuses meaning 'not possible in this state' (fine when exploring)",
    )
    from_states: list[str] = Field(
        default_factory=list, alias="from", description="states of `on` it applies in"
    )
    to_state: str | None = Field(None, alias="to", description="the state it leaves `on` in")
    creates: str | None = Field(
        None, description="an entity kind this flow makes appear in the owner's lists"
    )
    by: str | None = Field(
        None,
        description="a relation name: the flow is performed by the owner's related observer "
        "(a case worker handing their client over), not the owner",
    )
    entity: str | None = Field(
        None,
        description="an entity kind: the flow acts on the owner's most recent entity of that "
        "kind seen in a list ({{<kind>.*}} in scope), e.g. an order to cancel",
    )
    effect: EffectSpec | None = None


class ScenarioSpec(_Strict):
    """A switch-suite scenario: phases run in turn, each for every owner at once."""

    name: Name
    description: str = ""
    phases: list[str] = Field(
        min_length=1,
        description="flow names, `look` (every user reads everything it can reach), "
        "`pause:SECONDS`, or `rejoin` (the `rejoin` flow, or `join` again), run for every owner",
    )
    browser: bool = Field(
        True,
        description="the browser suite plays it too (when its flows have controls); false "
        "leaves it to the switch suite, since a browser goes at a person's pace",
    )
