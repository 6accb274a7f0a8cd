from __future__ import annotations

import pytest

from reports.redact import MASK, redact

CASES = {
    "bearer": ("Authorization header sent: Bearer eyJhbGciOi.abc-123_x", "eyJhbGciOi"),
    "authorization line": (
        "GET /x\nAuthorization: Basic dXNlcjpwYXNz\nAccept: */*",
        "dXNlcjpwYXNz",
    ),
    "support token header": ("X-Support-Token: s3cr3t-support", "s3cr3t-support"),
    "support token tuple": ("(('X-Support-Token', 'tok-777'),)", "tok-777"),
    "support token json": ('{"x-support-token": "tok-888"}', "tok-888"),
    "token query": ("GET /api/media/5?token=abcDEF123&range=0", "abcDEF123"),
    "access_token query": ("/cb?code=1&access_token=zzz999", "zzz999"),
    "session cookie": ("Set-Cookie: session=deadbeefcafe; HttpOnly", "deadbeefcafe"),
    "inline cookie": ("cookie header had sessionid=feedface1234 in it", "feedface1234"),
    "unleash admin": ("using *:*.unleash-insecure-admin-api-token now", "unleash-insecure-admin"),
    "unleash client": ("token default:development.0123456789abcdef", "0123456789abcdef"),
}


@pytest.mark.parametrize("text, secret", CASES.values(), ids=CASES.keys())
def test_credentials_are_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert MASK in masked


def test_unrelated_text_is_untouched() -> None:
    text = "at 12:58:56.123456 GET /api/me/recordings returned 200 for p2 (http://127.0.0.1:8000)"
    assert redact(text) == text


def test_known_values_are_masked_longest_first() -> None:
    text = "saw 'Ann Smith' and CANARY-7f3a-note and Ann"
    masked = redact(text, secrets=["Ann", "Ann Smith", "CANARY-7f3a-note", "", "x"])
    assert masked == f"saw '{MASK}' and {MASK} and {MASK}"


def test_unleash_prefix_is_kept_for_debugging() -> None:
    assert redact("default:development.abcdef123456") == f"default:development.{MASK}"


def test_credentials_in_urls_are_masked() -> None:
    """L3: `user:password@` in --target must not reach a report or the console."""
    text = "GET http://ann:hunter2secret@127.0.0.1:9/api/me failed; see https://h.example/x?a=b@c"
    masked = redact(text)
    assert "hunter2secret" not in masked and "ann:" not in masked
    assert "http://[REDACTED]@127.0.0.1:9/api/me" in masked
    assert masked.endswith("https://h.example/x?a=b@c")  # an @ after the path is not a login
