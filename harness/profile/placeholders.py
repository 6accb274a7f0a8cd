"""Every `{{placeholder}}` of a profile checked when it is loaded, not when a step first runs.

A name must be something some step can have in scope: the acting user (`user`, or the role's
own name, `{{customer.username}}`), `owner`/`observer`, a resource or entity kind, a relation
(and `<relation>_next` after a move), a capture, a field (in a field's `value:`), or one of
`run`, `support`, `env`, `index`, `id`. A user's attributes are its fields and what its create
steps capture. Which of those a given step really has in scope is still checked when it runs;
this catches the misspelt name, with the nearest known one. The error quotes the placeholder,
and `harness.modelfile` adds the line of the file it is on.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.profile.template import PLACEHOLDER

if TYPE_CHECKING:
    from harness.profile.model import TargetProfile

__all__ = ["RESERVED", "check_placeholders", "check_role_names"]

# Scope names that are not the profile's own: a role may not take one (`user` may: it is the
# acting user's own alias).
RESERVED = frozenset(
    {"owner", "observer", "run", "support", "env", "index", "id", "actor", "batch"}
)
_USERS = frozenset({"user", "owner", "observer"})


def check_role_names(profile: TargetProfile) -> None:
    """A role's name is a placeholder (`{{customer.*}}`): it must not shadow another."""
    others = {
        **dict.fromkeys(RESERVED, "a name the harness puts in scope"),
        **dict.fromkeys(profile.resources, "a resource"),
        **dict.fromkeys(profile.entities, "an entity"),
        **dict.fromkeys(profile.relations, "a relation"),
        **{f"{r}_next": "a relation's next observer" for r in profile.relations},
    }
    for role in profile.roles:
        if role in others:
            raise ValueError(
                f"roles.{role}: '{role}' is also {others[role]}, so {{{{{role}.*}}}} would be "
                "ambiguous; rename the role"
            )


def check_placeholders(profile: TargetProfile) -> None:
    heads, user_vars = _known(profile)
    # The media offer has placeholders of its own ({{sdp}}, {{call}}): MediaSpec checks them.
    document = profile.model_dump(mode="json", by_alias=True, exclude={"media"})
    for text in _strings(document):
        for name in PLACEHOLDER.findall(text):
            head, *rest = name.split(".")
            if head == "env":
                continue
            if head not in heads:
                raise ValueError(_unknown(name, head, sorted(heads)))
            if rest and (head in _USERS or head in profile.roles) and rest[0] not in user_vars:
                raise ValueError(_unknown(name, rest[0], sorted(user_vars), f"{head} has"))


def _known(profile: TargetProfile) -> tuple[set[str], set[str]]:
    document = profile.model_dump(mode="json", by_alias=True)
    captures = set(_captures(document))
    fields = {f for role in profile.roles.values() for f in role.fields}
    fields |= {f for resource in profile.resources.values() for f in resource.fields}
    heads = {*_USERS, *RESERVED, "env", *profile.roles, *profile.resources, *profile.entities}
    heads |= {*profile.relations, *(f"{r}_next" for r in profile.relations), *captures, *fields}
    user_vars = {"actor", *(f for role in profile.roles.values() for f in role.fields)}
    user_vars |= {
        name for role in profile.roles.values() for s in role.create for name in s.capture
    }
    return heads, user_vars


def _unknown(name: str, part: str, known: list[str], where: str = "known names are") -> str:
    close = difflib.get_close_matches(part, known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown placeholder {{{{{name}}}}} ({hint}{where}: {', '.join(known)})"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _captures(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "capture" and isinstance(item, dict):
                yield from map(str, item)
            yield from _captures(item)
    elif isinstance(value, list):
        for item in value:
            yield from _captures(item)
