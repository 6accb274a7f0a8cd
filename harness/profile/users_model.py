"""Who the users are: roles and their fields, relations, resources, support access and login."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.profile.base import Count, _no_named_count, _Strict
from harness.profile.step_model import HttpStep, Steps


class FieldSpec(_Strict):
    """One datum of a user or resource. Private fields carry a canary; public ones never do."""

    kind: str = Field(
        "text",
        description="what the datum is (name, email, note, password, nhs_number, phone, title, "
        "reason, username, datetime, text, or any word): shapes the generated value",
    )
    public: bool = Field(False, description="public by design: never gets a canary")
    value: str | None = Field(None, description="a fixed value or template instead of generated")
    expect_seen: bool = Field(
        True,
        description="the owner should see this datum somewhere (a positive control); false for "
        "data the app never shows back, such as a password",
    )

    @model_validator(mode="before")
    @classmethod
    def _kind_shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value


class RoleSpec(_Strict):
    count: Count = Field(
        6, description="how many users; a run's population overrides it by the role's name"
    )
    id_prefix: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9]*$", description="actor ids look like <prefix><n>-<tag>"
    )
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    create: Steps = Field(default_factory=list, description="steps that create one user")
    owns_data: bool = Field(
        True, description="users of this role own private data (others only observe)"
    )

    _count = field_validator("count", mode="before")(_no_named_count)


class RelationSpec(_Strict):
    """`observer` users may see the data of the `owner` users they are related to."""

    observer: str
    owner: str
    assign: Literal["round_robin", "all"] = Field(
        "round_robin", description="round_robin: each owner gets one observer; all: everyone"
    )
    create: Steps = Field(
        default_factory=list,
        description="steps that create one pair; {{observer.*}} and {{owner.*}} are in scope",
    )


class ResourceSpec(_Strict):
    owner: str = Field(description="the role that owns these resources")
    count: Count = Field(
        1,
        description="per owner; a run's population overrides it by the resource's name. 0: "
        "only heavy owners get it (a list's bulk, such as an archive of old records)",
    )
    heavy: bool = Field(
        True, description="heavy owners get `heavy.rows` of it (false: the same as anyone)"
    )
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    create: Steps = Field(min_length=1)
    bulk: Steps = Field(
        default_factory=list,
        description="optional steps that create up to `bulk_size` of one owner's at once, "
        "with `{{batch}}` the list of their fields; a capture that is a list of the batch's "
        "length gives each its own value (e.g. ids: /ids). Used instead of `create`",
    )
    bulk_size: int = Field(100, ge=1, le=10_000, description="items per `bulk` request")
    as_: Literal["owner", "support", "none"] = Field(
        "owner", alias="as", description="who runs the create steps"
    )
    initial_state: str = Field(
        "initial", description="the state flows see first (their `from` lists name states)"
    )

    _count = field_validator("count", mode="before")(_no_named_count)


class SupportSpec(_Strict):
    """A staging support API. Present only if the profile needs one: then (and only then) the
    run asks for a support token."""

    token_env: str = Field("CHAPERONE_SUPPORT_TOKEN", pattern=r"^[A-Z_][A-Z0-9_]*$")
    headers: dict[str, str] = Field(
        description="headers carrying the token, e.g. {X-Support-Token: '{{support.token}}'}"
    )


class ReloginSpec(_Strict):
    on_status: list[int] = Field([401], description="statuses that mean the session expired")
    every_seconds: float = Field(
        0, ge=0, description="log in again before a session gets this old (0: only on status)"
    )


class AuthSpec(_Strict):
    login: Steps = Field(min_length=1, description="steps that log {{user}} in")
    apply_headers: dict[str, str] = Field(
        default_factory=dict,
        alias="headers",
        description="headers every request of the session carries, e.g. "
        "{Authorization: 'Bearer {{token}}'}",
    )
    cookies: dict[str, str] = Field(default_factory=dict, description="cookies the session sends")
    check: HttpStep | None = Field(
        None,
        description="a read that answers 2xx for any live session: tells a denial from an "
        "expired session",
    )
    relogin: ReloginSpec = ReloginSpec()
