"""What a profile without `reset:` means for a run, said once for `profile check` and for the
error a failed seeding raises.

Without a reset nothing a run creates is ever removed: each population registers fresh users
under a namespace of its own (`harness.population.make_population`), and list items of users
the run did not create are left out of the list oracles (`harness.client.listing`).
"""

from __future__ import annotations

from harness.profile.model import TargetProfile

__all__ = ["NO_RESET_COSTS", "seeding_hint"]

NO_RESET_COSTS = (
    "data accumulates: every run (and every stateful example) registers new users and their "
    "resources, and nothing deletes them",
    "lists grow run after run: items of users this run did not create are ignored (neither "
    "leaks nor counted), so list-count judges only this run's items, and a list cut at the "
    "page bound may hide this run's items behind earlier runs'",
    "a leak of data no run of ours created goes unseen: only this run's canaries are looked for",
)

# Statuses an app answers a registration it refuses with (taken username, invalid e-mail).
_REFUSED = frozenset({400, 403, 409, 422})


def seeding_hint(profile: TargetProfile, what: str, status: int, otherwise: str) -> str:
    """The fix to suggest when a seeding step (`what`: reset, create, relate/..) failed: its
    status was not a success, or a success without what the step captures (some apps answer
    "already registered" with a 200); `otherwise` when it does not look like a refusal."""
    if what.startswith("create") and (status in _REFUSED or 200 <= status < 300):
        if not profile.reset:
            return (
                "the profile has no `reset:`, so users of earlier runs are still there: every "
                "run's users get a fresh namespace, so keep unique fields (username, e-mail) "
                "generated (no fixed `value:`, or put {{run.tag}} in it), or add a reset step"
            )
        return (
            "a user of an earlier seeding may still be there: check that the `reset:` steps "
            "really empty the app (and the target's logs)"
        )
    return otherwise
