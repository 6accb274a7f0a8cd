"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1): a payload, its type,
and signatures over the PAE encoding of both, so the type cannot be swapped under a signature.

    {"payload": base64(body), "payloadType": "application/vnd.in-toto+json",
     "signatures": [{"keyid": sha256(public key), "sig": base64(Ed25519(PAE(type, body)))}]}

Standard tooling (securesystemslib, in-toto, cosign) reads these envelopes as they are.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flags.keys import SigningKey, VerifyKey
from harness.errors import GateRefused

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_REGENERATE = "re-run the gate; never edit a verdict file by hand"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding: lengths are ASCII decimal byte counts."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign(
    payload: bytes, key: SigningKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": payload_type,
        "signatures": [{"keyid": key.public().keyid, "sig": base64.b64encode(signature).decode()}],
    }


def open_envelope(
    envelope: dict[str, Any], key: VerifyKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> bytes:
    """The payload, if `key` signed it under `payload_type`; GateRefused otherwise.

    Every signature is tried whatever keyid it names (the spec makes keyid a hint only)."""
    kind = envelope.get("payloadType")
    payload = _b64(envelope.get("payload"), "payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise GateRefused("verdict is not signed (no DSSE signatures)", _REGENERATE)
    if kind != payload_type:
        raise GateRefused(f"verdict payloadType is {kind!r}, not {payload_type!r}", _REGENERATE)
    message = pae(payload_type, payload)
    for entry in signatures:
        if isinstance(entry, dict) and key.verify(_b64(entry.get("sig"), "sig"), message):
            return payload
    raise GateRefused(
        f"verdict has a bad signature (forged, altered, or signed by another key than "
        f"{key.keyid[:12]})",
        _REGENERATE,
    )


def _b64(value: object, field: str) -> bytes:
    if not isinstance(value, str):
        raise GateRefused(f"verdict envelope has no {field}", _REGENERATE)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:  # DSSE allows URL-safe base64 too
            return base64.urlsafe_b64decode(value)
        except (binascii.Error, ValueError):
            raise GateRefused(f"verdict envelope {field} is not base64", _REGENERATE) from None
