"""The credential tampering functions: each forgery decodes to what it claims to be, and an
opaque credential gives none."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from harness.client.forgery import (
    EXPIRED_BY,
    alg_none,
    decode_jwt,
    expired,
    forgeries,
    identity_swaps,
    strip_signature,
    swap_claims,
)

KEY = b"server secret"
NOW = 1_800_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(payload: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    sig = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def _verifies(token: str) -> bool:
    head, body, sig = token.split(".")
    good = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(_b64(good), sig)


ALICE = {"username": "alice1", "id": 7, "password": "pw-a"}
BOB = {"username": "bob22", "id": 9, "password": "pw-b"}


def test_decode_reads_a_jwt_and_refuses_anything_else() -> None:
    token = _hs256({"sub": "alice1", "exp": 1})
    parts = decode_jwt(token)
    assert parts is not None and parts[0]["alg"] == "HS256" and parts[1]["sub"] == "alice1"
    assert decode_jwt("opaque-random-token") is None
    assert decode_jwt("a.b.c") is None


def test_stripped_and_alg_none_carry_no_signature() -> None:
    token = _hs256({"sub": "alice1"})
    assert _verifies(token)
    stripped = strip_signature(token)
    assert stripped.endswith(".") and not _verifies(stripped)
    none = alg_none(token)
    parts = decode_jwt(none)
    assert parts is not None and parts[0]["alg"] == "none" and parts[2] == ""
    assert parts[1] == {"sub": "alice1"}


def test_expired_moves_exp_into_the_past_and_keeps_the_signature_bytes() -> None:
    token = _hs256({"sub": "alice1", "exp": int(NOW) + 60, "iat": int(NOW)})
    old = expired(token, NOW)
    parts = decode_jwt(old)
    assert parts is not None
    assert parts[1]["exp"] == int(NOW) - EXPIRED_BY and parts[1]["iat"] < parts[1]["exp"]
    assert parts[2] == token.split(".")[2]


def test_swap_sets_every_claim_naming_the_forger_to_the_victims_value_keeping_types() -> None:
    token = _hs256({"sub": "alice1", "uid": 7, "role": "user", "admin": False})
    swapped, claims = swap_claims(token, identity_swaps(ALICE, BOB))
    parts = decode_jwt(swapped)
    assert parts is not None and sorted(claims) == ["sub", "uid"]
    assert parts[1] == {"sub": "bob22", "uid": 9, "role": "user", "admin": False}
    assert not _verifies(swapped)  # the original signature no longer matches


def test_identity_swaps_never_use_secrets() -> None:
    assert identity_swaps(ALICE, BOB) == {"alice1": "bob22", "7": 9}


def test_a_bearer_jwt_gives_four_forgeries_each_claiming_the_victim() -> None:
    token = _hs256({"sub": "alice1", "exp": int(NOW) + 60})
    forged = forgeries({"Authorization": f"Bearer {token}"}, {}, ALICE, BOB, NOW)
    assert len(forged) == 4
    for forgery in forged:
        header = forgery.headers["Authorization"]
        assert header.startswith("Bearer ")
        parts = decode_jwt(header.removeprefix("Bearer "))
        assert parts is not None and parts[1]["sub"] == "bob22"
        assert "claim sub" in forgery.how
    hows = [f.how.rsplit(", ", 1)[-1] for f in forged]
    assert hows == ["original signature", "signature stripped", "alg none", "original signature"]


@pytest.mark.parametrize("cookie", ["7", "alice1"])
def test_a_cookie_holding_the_forgers_id_is_swapped_and_sent_without_the_session(
    cookie: str,
) -> None:
    forged = forgeries({"Authorization": "Bearer opaque"}, {"remember": cookie}, ALICE, BOB, NOW)
    assert len(forged) == 1
    assert forged[0].headers == {} and forged[0].cookies == {"remember": str(BOB[_var(cookie)])}
    assert "cookie remember" in forged[0].how


def _var(value: str) -> str:
    return "id" if value.isdigit() else "username"


def test_opaque_credentials_give_no_forgery() -> None:
    assert (
        forgeries({"Authorization": "Bearer r4nd0m"}, {"session": "s3cr3t"}, ALICE, BOB, NOW) == []
    )
