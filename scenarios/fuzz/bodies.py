"""Write bodies carry only the sender's own data.

    case body (Schemathesis drew it: an example, a value reused from a response) ──►
        every canary owned by someone else ──► a canary of the sender's own, same kind first

    a property named as a notification recipient (the profile's `notifications: mail:
    recipient: email`) ──► the sender's own address

A write that stores another user's canary under the sender's name makes that canary the
sender's to read back: their own list would then "leak" it. The canary is swapped before the
request leaves, so what the sender stores is theirs in the ownership model already, and a
read of it by anyone else is still judged. Reads keep other users' ids: that is how an IDOR
is found.

Where a user's notifications go is part of the ownership model too: the sinks name the
receiver of a message by its address. A drawn address ("a@b.c") that the app stores as the
sender's own would send the sender's next "recording ready" to an address nobody seeded, a
false leak out of the population, and any later suite's notifications for that user with it.
So fuzz never redirects anyone's notifications: it writes the sender's own address (which
the app already holds), and an app that applies that write to another user's record sends
that user's data to the sender, which is judged as the leak it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.matcher import CanaryMatcher
from harness.models import Canary

__all__ = ["OwnBodies"]

NEUTRAL = "chaperone-fuzz"  # stand-in when the sender owns no canary at all


class OwnBodies:
    def __init__(
        self,
        matcher: CanaryMatcher,
        canaries: Iterable[Canary],
        addresses: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """`addresses`: sender -> recipient field name -> the sender's own address."""
        self._matcher = matcher
        self._own: dict[str, list[Canary]] = {}
        for canary in canaries:
            self._own.setdefault(canary.owner, []).append(canary)
        self._addresses = addresses or {}
        self.swapped = 0  # canaries replaced so far (a metric)
        self.addressed = 0  # recipient addresses set to the sender's own (a metric)

    def rewrite(self, value: Any, sender: str) -> Any:
        """`value` (a JSON-like body, text or bytes) holding no canary but the sender's."""
        if isinstance(value, str):
            return self._text(value, sender)
        if isinstance(value, bytes):
            try:
                return self._text(value.decode(), sender).encode()
            except UnicodeDecodeError:
                return value
        if isinstance(value, dict):
            return {k: self._property(k, v, sender) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite(v, sender) for v in value]
        return value

    def _property(self, name: Any, value: Any, sender: str) -> Any:
        own = self._addresses.get(sender, {}).get(str(name))
        if own is None or not isinstance(value, str):
            return self.rewrite(value, sender)
        if value != own:
            self.addressed += 1
        return own

    def _foreign(self, text: str, sender: str) -> list[Canary]:
        hits = self._matcher.scan(text.encode())
        return list(dict.fromkeys(h.canary for h in hits if h.canary.owner != sender))

    def _text(self, text: str, sender: str) -> str:
        foreign = self._foreign(text, sender)
        if not foreign:
            return text
        self.swapped += len(foreign)
        for canary in foreign:
            stand_in = self._stand_in(canary, sender)
            text = re.sub(re.escape(canary.value), stand_in, text, flags=re.IGNORECASE)
        # an encoded spelling (base64 ...) survives the plain swap: drop the whole value
        return text if not self._foreign(text, sender) else self._stand_in(foreign[0], sender)

    def _stand_in(self, canary: Canary, sender: str) -> str:
        own = self._own.get(sender, [])
        same = [c for c in own if c.kind == canary.kind]
        pick = same or own
        return pick[0].value if pick else NEUTRAL
