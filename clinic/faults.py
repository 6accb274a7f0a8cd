"""The planted-fault catalog.

Each fault is a realistic bug living in the real code path (a wrong variable, a missing filter, a
cache key, a missing lock); the code consults `ClinicSettings.active(name)` where the bug would
sit. With no faults the clinic is correct.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

FAULTS: dict[str, str] = {
    "switch-recording-misattribution": (
        "after an audio->video switch the segment's recording is filed under the patient of the "
        "last call joined (process-wide 'current call') instead of the call switched"
    ),
    "recordings-unscoped-after-switch": (
        "after a user's first switch, their recordings list loses its owner filter for "
        "switch-filed recordings, showing everyone's"
    ),
    "recording-idor": ("recording metadata and media-token issuance check login but not ownership"),
    "profile-cache-shared": (
        "the recordings list and profile page are cached (3 s) under a key without the user"
    ),
    "switch-race": (
        "the switch parks the call's owner in a shared 'pending switch' slot across slow media "
        "negotiation; simultaneous switches file recordings under each other's patient"
    ),
    "clinician-scope-leak": (
        "a clinician's recordings list joins assignments without the patient condition, "
        "showing unassigned patients' recordings"
    ),
    "media-token-unbound": (
        "media tokens are checked for existence and expiry only, not bound to their recording "
        "or user"
    ),
    "appointments-leak-on-rejoin": (
        "rejoining a call restores the last switched call's context, attaching another "
        "patient's appointment to the rejoining user's list"
    ),
    "list-scope-lost-after-first-page": (
        "pages after the first of a patient's recordings list take their offset from the "
        "unscoped base query, listing everyone's recordings"
    ),
    "transfer-keeps-old-access": (
        "a transfer invalidates only the receiving clinician's cached caseload, so the old "
        "clinician's recordings list keeps the transferred patient"
    ),
    "discharge-keeps-access": (
        "the caseload query ignores the discharge date, so a discharged patient's recordings "
        "stay in that clinician's recordings list"
    ),
    "consent-withdrawal-ignored": (
        "the clinician's recordings list ignores the patient's withdrawn consent to share"
    ),
    "deleted-recording-still-listed": (
        "the clinician-side visibility check predates soft delete: a deleted recording stays "
        "in the clinician's list and its metadata and media are still served to them"
    ),
    "ws-events-broadcast": (
        "call events on /ws/events go to every connected socket, not only the call's patient "
        "and the clinicians caring for them"
    ),
    "mail-wrong-recipient": (
        "the 'recording ready' e-mail goes to the patient of the call last joined "
        "(process-wide 'current call') instead of the recording's owner"
    ),
    "sms-wrong-recipient": (
        "the SMS sender's reused payload keeps its first recipient (setdefault), so every "
        "later 'recording ready' text goes to that one phone"
    ),
    "export-unscoped": (
        "GET /api/me/recordings/export.csv forgets the owner filter and exports every "
        "patient's recordings"
    ),
    "search-unscoped": (
        "GET /api/search forgets the scope filter: everyone's matching appointments, "
        "recordings and patients"
    ),
    "recording-idor-neighbour": (
        "an off-by-one in a 'family account' check lets the patient whose user id is the "
        "owner's + 1 read a recording's metadata (nothing else leaks)"
    ),
}


def unknown_fault_message(names: Iterable[str]) -> str | None:
    """One line naming every unknown fault, the closest valid name and the valid list."""
    unknown = [name for name in names if name not in FAULTS]
    if not unknown:
        return None
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, FAULTS, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (
        f"unknown fault {', '.join(hints)}; valid faults: {', '.join(FAULTS)} "
        "(see `chaperone clinic faults`)"
    )


def parse_faults(spec: str | None) -> list[str]:
    """Split a `--faults a,b` value, ignoring blanks."""
    if not spec:
        return []
    return [part.strip() for part in spec.split(",") if part.strip()]
