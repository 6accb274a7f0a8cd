"""The encoded literals of a canary: what any base64, base64url or hex encoding of it contains.

Base64 turns every 3 bytes into 4 characters, so how a value encodes depends on where it sits
in the encoded data: at offset 0, 1 or 2 of a 3-byte group. At each of those alignments the
characters that hold only bits of the value are the same whatever surrounds it; only the first
and last one or two mix in a neighbour's bits. That stable inner run (15-16 characters for a
12-byte canary) is a plain literal, found by the same Hyperscan scan as the raw value, so
nothing is decoded to find a canary inside a token, a data: URI or a JWT.

Base64 of different-case inputs differs, so these literals are matched case-sensitively, once
per spelling a target plausibly encodes: the canary as generated, capitalized (names are
planted as "Ada Zq4k... Lovelace") and upper-cased. Hex is matched caselessly (upper- and
lower-case hex digits are the same bytes) for the same three spellings.
"""

from __future__ import annotations

import base64
import re

__all__ = ["base64_kind", "base64_runs", "case_variants", "hex_literal"]

# A base64 token: both alphabets, padding, and the dots that separate a JWT's segments.
_TOKEN_RUN = re.compile(rb"[A-Za-z0-9+/=_.-]*")
_JWT = re.compile(rb"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_REACH = 4096  # how far a token is followed either side of a hit to name its kind


def case_variants(value: str) -> tuple[str, ...]:
    """The spellings of a canary a target encodes: as generated, capitalized, upper-cased."""
    spellings = (value, value.capitalize(), value.upper())
    return tuple(dict.fromkeys(spellings))


def base64_runs(data: bytes) -> tuple[bytes, ...]:
    """For each of the 3 alignments, in both alphabets, the characters every base64 encoding
    of `data` at that alignment contains. Runs shorter than 12 characters (72 bits) are left
    out: they would match by chance."""
    runs: list[bytes] = []
    for align in range(3):
        first = -(-8 * align // 6)  # the first character holding no bit of a neighbour
        last = (8 * (align + len(data))) // 6  # one past the last such character
        encoded = base64.b64encode(bytes(align) + data)[first:last]
        if len(encoded) >= 12:
            runs.append(encoded)
            runs.append(encoded.replace(b"+", b"-").replace(b"/", b"_"))
    return tuple(dict.fromkeys(runs))


def hex_literal(data: bytes) -> bytes:
    return data.hex().encode()


def base64_kind(data: bytes, start: int, end: int) -> str:
    """`jwt`, `base64url` or `base64`: what the token around data[start:end] looks like."""
    # The token's extent, each side in one regex call (a byte-at-a-time loop cost more than
    # the scan that found the hit): leftwards over the reversed bytes before the hit.
    before = data[max(0, start - _REACH) : start][::-1]
    left = start - _token_end(before, 0, len(before))
    right = _token_end(data, end, min(len(data), end + _REACH))
    token = data[left:right]
    for jwt in _JWT.finditer(token):
        if jwt.start() <= start - left and end - left <= jwt.end():
            return "jwt"
    return "base64url" if b"-" in token or b"_" in token else "base64"


def _token_end(data: bytes, pos: int, endpos: int) -> int:
    """Where the run of token bytes from `pos` ends (at most `endpos`)."""
    run = _TOKEN_RUN.match(data, pos, endpos)
    return run.end() if run else pos  # a "*" run always matches, if only empty
