"""What every part of the profile model shares: strictness, names and counts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
WRITES_AS_OTHERS = ("PUT", "PATCH", "POST")
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]
# A count is the default size; a run's population overrides it by the role's or resource's
# own name (`--population <name>=N`).
Count = Annotated[int, Field(ge=0, le=10_000)]


def _no_named_count(value: Any) -> Any:
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError(
            f"count '{value}' is not a number: give the default size as a number; a run "
            "sets it by this section's own name (--population <name>=N)"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
