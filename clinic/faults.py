"""The planted-fault catalog.

Each fault is a realistic bug living in the real code path (a wrong variable, a missing filter, a
cache key, a missing lock); the code consults `ClinicSettings.active(name)` where the bug would
sit. With no faults the clinic is correct.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

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
    "deep-page-leak": (
        "from page 3 on a patient's recordings list seeks past the previous page's last id, "
        "and the seek query is built on the unscoped base: deep pages list everyone's"
    ),
    "export-batch-unscoped": (
        "the 'export all my recordings' CSV reads its rows in batches of 100; the next-batch "
        "query is built without the owner filter, so every batch after the first is everyone's"
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
    "undocumented-route-leak": (
        "the printable summary the profile page links to (/profile/{id}/summary, a page "
        "route, so not in the OpenAPI document) checks login but not that the id is the user's"
    ),
    "whole-file-download-leak": (
        "a whole-file media download (no Range) is cached (3 s) under the endpoint's name "
        "without the recording, so it serves whichever file was downloaded whole last; ranged "
        "requests, as a player sends, are right"
    ),
    "ranged-media-cache-leak": (
        "a ranged media read (as a player sends: a seek, the next chunk) is served from a copy "
        "of the file cached (3 s) under the endpoint's name without the recording, so a player "
        "plays whichever recording was played last; whole-file downloads are right"
    ),
    "write-echoes-other-user": (
        "PUT /api/patients/{id}/contact updates, and answers with the record of, whichever "
        "patient the id names, never checking it is the caller"
    ),
    "forged-identity-accepted": (
        "a request with no session token is signed in from the 'welcome back' cookie, which "
        "holds the user id in clear: anyone can claim to be anyone"
    ),
    "media-preroll-shared": (
        "with real media, the pre-roll a new segment opens with (the last 2.5 s of sound before "
        "the cut, so a switch does not clip speech) sits in one process-wide slot: a segment "
        "opens with the tail of whichever call was cut before it"
    ),
    "media-tracks-crossed": (
        "with real media, a track added by a renegotiation (the camera of a switch to video) is "
        "taped for the call renegotiated last (one endpoint-wide slot) once its media flows: "
        "two calls switching at the same moment record each other's camera"
    ),
    "encoded-token-leak": (
        "the playback token (a JWT) handed with a media URL names, in its base64url claims, "
        "the patient of the call last joined (process-wide 'current call') instead of the "
        "recording's: nothing shows in clear text"
    ),
    "document-metadata-leak": (
        "a summary PDF's document properties (info dictionary and XMP) are cached (3 s) under "
        "the template's name without the recording, so they name the last summary's patient; "
        "the page text is right"
    ),
}


# Where each fault shows, for `chaperone selftest`: the suites, switch scenarios and world a
# run needs to catch it, and nothing more, so each run is short. The selftest reads this
# catalog through the CLI (`chaperone clinic faults --json`) and never imports the clinic. A
# fault missing here still runs: switch and access with every scenario.
#   suites       the `chaperone run --suite`s (default switch and access)
#   scenarios    switch scenarios (empty: every one)
#   population   the `chaperone run` options that size the world (default: the catalog's)
#   extra_seeds  more seeds of switch and access
#   fuzz         it shows in single requests: it also gets a fuzz-only run
#   browser      the browser suite can see it (`selftest --browser` adds that suite)
MID_CALL = ("switch-mid-call",)
# Every scenario that files a recording: a patient needs more than one page (10) of them.
PAGED = (
    "switch-mid-call",
    "repeated-switches",
    "switch-back-to-audio",
    "rejoin-after-switch",
    "switch-near-end",
    "concurrent-switch-storm",
)
_SWITCH_ACCESS = ("switch", "access")
_WITH_STATEFUL = ("switch", "access", "stateful")
SHOWS: dict[str, dict[str, Any]] = {
    "switch-recording-misattribution": {
        "suites": _WITH_STATEFUL,
        "scenarios": MID_CALL,
        "fuzz": True,
        "browser": True,
    },
    "recordings-unscoped-after-switch": {
        "suites": _WITH_STATEFUL,
        "scenarios": MID_CALL,
        "fuzz": True,
        "browser": True,
    },
    "recording-idor": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL, "fuzz": True},
    "profile-cache-shared": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    # Only when switches really overlap: Locust's switch waves, nothing else.
    "switch-race": {"suites": ("load",), "scenarios": ()},
    "clinician-scope-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL, "fuzz": True},
    "media-token-unbound": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL, "fuzz": True},
    "appointments-leak-on-rejoin": {
        "suites": _WITH_STATEFUL,
        "scenarios": ("rejoin-after-switch",),
    },
    "list-scope-lost-after-first-page": {"suites": ("switch",), "scenarios": PAGED},
    # Only a list past page 2 or an export past its first 100 rows shows them: only a heavy
    # owner (harness.population) has that many recordings, and its lists are walked to the end.
    "deep-page-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    "export-batch-unscoped": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    "transfer-keeps-old-access": {"suites": ("switch",), "scenarios": ("patient-transferred",)},
    "discharge-keeps-access": {"suites": ("switch",), "scenarios": ("care-ended",)},
    "consent-withdrawal-ignored": {"suites": ("switch",), "scenarios": ("consent-withdrawn",)},
    "deleted-recording-still-listed": {
        "suites": _SWITCH_ACCESS,
        "scenarios": ("recording-deleted",),
    },
    "ws-events-broadcast": {"suites": ("switch",), "scenarios": MID_CALL},
    "mail-wrong-recipient": {"suites": ("switch",), "scenarios": MID_CALL},
    "sms-wrong-recipient": {"suites": ("switch",), "scenarios": MID_CALL},
    "export-unscoped": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL, "fuzz": True},
    "search-unscoped": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL, "fuzz": True},
    # Neither the profile nor the OpenAPI document names the route: only the crawl of the
    # profile page finds it, and the access suite repeats it as the others.
    "undocumented-route-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    # Only a forged credential shows it: the access suite's impersonation swaps the cookie.
    # Only a write sent as others shows it: the profile marks it `replay: as-others`.
    "write-echoes-other-user": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    "forged-identity-accepted": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    # It leaks to exactly one other patient: found only at the release policy's size, where
    # the access matrix's seeded sample covers every (owner, observer) pair over three seeds.
    # The fuzz suite's examples pass sends every planted id as every actor, neighbour included.
    # No heavy owner: the leak is about pairs, not depth, and its long lists made each of the
    # three seeds' access matrix a third slower.
    "recording-idor-neighbour": {
        "suites": ("access",),
        "scenarios": MID_CALL,
        "population": {"patients": 20, "clinicians": 4},
        "extra_seeds": 2,
        "fuzz": True,
        "heavy": False,
    },
    # Only a whole-file download shows it: the access suite's media read sends one after its
    # two ranged requests.
    "whole-file-download-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    # Only the ranged reads show it. With `--media real` a chunk holds no canary in its
    # bytes: only the halves joined back up and decoded show whose face a player shows
    # (tests/media); with header media the chunks' bytes name the patient.
    "ranged-media-cache-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    # Only with `--media real` (the header media of `--media header` has no pre-roll).
    "media-preroll-shared": {"suites": ("switch",), "scenarios": MID_CALL, "media": "real"},
    # Only with `--media real`, and only when calls switch together: every owner switches at
    # the same moment in the switch suite.
    "media-tracks-crossed": {"suites": ("switch",), "scenarios": MID_CALL, "media": "real"},
    # Only a decoding oracle sees them: a JWT's payload, a PDF's properties.
    "encoded-token-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
    "document-metadata-leak": {"suites": _SWITCH_ACCESS, "scenarios": MID_CALL},
}
# A CI selftest's faults: the incident's own bug and the plainest IDOR.
QUICK = ("recording-idor", "switch-recording-misattribution")
# Two clinicians: the relation faults (transfer, discharge) need a second one.
POPULATION = {"patients": 3, "clinicians": 2}


def catalog() -> dict[str, Any]:
    """The planted faults, what each does and where it shows, as plain JSON data: what
    `chaperone clinic faults --json` prints."""
    return {
        "faults": {
            name: {"description": text, "shows": SHOWS.get(name, {})}
            for name, text in FAULTS.items()
        },
        "quick": QUICK,
        "population": POPULATION,
        # A fuzz-only run first drives one switch scenario, so there is owned data to request.
        "warm_up": MID_CALL,
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
