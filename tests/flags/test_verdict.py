"""Verdicts are in-toto statements in DSSE envelopes signed with the gate's Ed25519 key, and
`verify_for_enable` refuses anything it cannot prove safe."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from flags.keys import load_signing_key, load_verify_key, new_signing_key
from flags.policy import BoundPolicy
from flags.verdict import EnableRequest, build_digest_of, read_signed, verify_for_enable
from harness.errors import GateRefused, UsageError
from tests.flags.conftest import BUILD, SIGNING

# Parameters are made at collection; a request is made when its test runs, which in the full
# suite is many minutes later: "now" must be read then, or every verdict is "from the future".
NOW = datetime.now(UTC)
KEY = SIGNING.public()


def request(bound: BoundPolicy, **changes: object) -> EnableRequest:
    fields: dict[str, object] = {
        "flag": bound.policy.flag,
        "env": "production",
        "build": BUILD,
        "pin": bound.digest,
        "revoked": frozenset(),
        "now": datetime.now(UTC),
    }
    fields.update(changes)
    return EnableRequest(**fields)  # type: ignore[arg-type]


def _payload(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))


def _repack(path: Path, statement: dict) -> Path:
    envelope = json.loads(path.read_text())
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(envelope))
    return path


def test_genuine_passing_verdict_is_accepted(verdict_file, bound: BoundPolicy) -> None:
    proven = verify_for_enable(verdict_file(), KEY, request(bound))
    assert proven.verdict.verdict == "pass" and proven.verdict.build == BUILD
    assert proven.policy == bound.policy


def test_verdict_is_an_in_toto_statement_modelled_on_slsa_vsa(verdict_file) -> None:
    envelope = json.loads(verdict_file().read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert envelope["signatures"][0]["keyid"] == KEY.keyid
    statement = _payload(verdict_file())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": BUILD, "digest": {"sha256": build_digest_of(BUILD)}}]
    predicate = statement["predicate"]
    for field in ("verifier", "timeVerified", "resourceUri", "policy", "inputAttestations"):
        assert field in predicate
    assert predicate["verificationResult"] == "PASSED"
    assert set(predicate["policy"]) == {"uri", "digest"}
    for ours in ("target", "suites", "coverage", "exposures", "expiresAt", "reference", "build"):
        assert ours in predicate


def test_altered_verdict_is_refused_as_forged(verdict_file, bound: BoundPolicy) -> None:
    path = verdict_file(verdict="fail", findings=3)
    statement = _payload(path)
    statement["predicate"].update(result="pass", findings=0, verificationResult="PASSED")
    with pytest.raises(GateRefused, match="bad signature"):
        verify_for_enable(_repack(path, statement), KEY, request(bound))


def test_verdict_signed_with_another_key_is_forged(verdict_file, bound: BoundPolicy) -> None:
    """H3: whoever holds only the public key cannot mint a verdict."""
    path = verdict_file(key=new_signing_key())
    with pytest.raises(GateRefused, match="bad signature"):
        verify_for_enable(path, KEY, request(bound))


def test_unsigned_verdict_is_refused(verdict_file, bound: BoundPolicy) -> None:
    path = verdict_file()
    envelope = json.loads(path.read_text())
    envelope["signatures"] = []
    path.write_text(json.dumps(envelope))
    with pytest.raises(GateRefused, match="not signed"):
        verify_for_enable(path, KEY, request(bound))


def test_swapped_payload_type_is_refused(verdict_file, bound: BoundPolicy) -> None:
    path = verdict_file()
    envelope = json.loads(path.read_text())
    envelope["payloadType"] = "application/json"
    path.write_text(json.dumps(envelope))
    with pytest.raises(GateRefused, match="payloadType"):
        verify_for_enable(path, KEY, request(bound))


LATE = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("overrides", "changes", "reason"),
    [
        ({"expires_at": LATE, "created_at": LATE - timedelta(hours=1)}, {}, "expired"),
        ({}, {"build": "build-other"}, "not 'build-other'"),
        ({}, {"build_digest": "0" * 64}, "build digest"),
        ({}, {"pin": "f" * 64}, "does not match the policy pinned"),
        ({}, {"pin": None}, "has no pinned policy"),
        ({"verdict": "fail", "findings": 2}, {}, "'fail' with 2 finding"),
        ({"verdict": "error"}, {}, "'error'"),
        ({"findings": 1}, {}, "1 finding"),
        ({"suites": {"switch": "pass"}}, {}, "required suite 'access' is missing"),
        ({"target": "https://clinic.example.com"}, {}, "not an allowed staging target"),
        ({"flag": "other-flag"}, {}, "flag 'other-flag'"),
        ({"created_at": NOW + timedelta(hours=1)}, {}, "in the future"),
        ({"expires_at": NOW + timedelta(days=20)}, {}, "outlives the policy's verdict_ttl"),
        ({"reference": True}, {}, "reference verdict"),
        ({}, {"env": "staging-eu"}, "not in the pinned policy's environments"),
        ({}, {"revoked": frozenset({build_digest_of(BUILD)})}, "is revoked"),
    ],
)
def test_unsafe_verdicts_are_refused(
    verdict_file, bound: BoundPolicy, overrides: dict, changes: dict, reason: str
) -> None:
    with pytest.raises(GateRefused, match=reason):
        verify_for_enable(verdict_file(**overrides), KEY, request(bound, **changes))


def test_reference_verdict_enables_development(verdict_file, bound: BoundPolicy) -> None:
    proven = verify_for_enable(verdict_file(reference=True), KEY, request(bound, env="development"))
    assert proven.verdict.reference is True


def test_a_policy_document_that_does_not_match_its_digest_is_refused(
    verdict_file, bound: BoundPolicy
) -> None:
    """Even a genuinely signed verdict must carry the pinned policy itself, not a weaker one
    under the pinned digest."""
    weaker = {**bound.document, "required_suites": ["switch"]}
    with pytest.raises(GateRefused, match="does not match its digest"):
        verify_for_enable(verdict_file(policy=weaker), KEY, request(bound))


@pytest.mark.parametrize("target", ["/dev/zero", "missing.json", "garbage.json", "big.json"])
def test_unreadable_verdicts_are_refused_in_one_line(
    tmp_path: Path, bound: BoundPolicy, target: str
) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "big.json").write_text(" " * (2 * 1024 * 1024))
    path = Path(target) if target.startswith("/") else tmp_path / target
    with pytest.raises(GateRefused) as info:
        verify_for_enable(path, KEY, request(bound))
    assert "\n" not in info.value.one_line()


# -- keys ------------------------------------------------------------------------------------


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "is not set"),
        ("x", "not a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a PEM private"),
        (_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "RSA-1024"),
        (_pem(ec.generate_private_key(ec.SECP256R1())), "EC secp256r1"),
    ],
)
def test_missing_malformed_or_weak_signing_keys_are_one_line_usage_errors(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("CHAPERONE_GATE_SIGNING_KEY", value)
    with pytest.raises(UsageError, match=reason) as info:
        load_signing_key()
    assert "\n" not in info.value.one_line()


def test_a_verifier_is_refused_the_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAPERONE_GATE_PUBLIC_KEY", SIGNING.pem().decode())
    with pytest.raises(UsageError, match="holds a private key"):
        load_verify_key()


def test_key_files_work_and_generated_private_key_is_0600(tmp_path: Path) -> None:
    from flags.keys import generate

    private, public = generate(tmp_path / "keys")
    assert private.stat().st_mode & 0o777 == 0o600
    key = load_signing_key(private)
    assert load_verify_key(public).keyid == key.public().keyid
    with pytest.raises(UsageError, match="already exists"):
        generate(tmp_path / "keys")
    with pytest.raises(UsageError, match="not a regular file"):
        load_verify_key(Path("/dev/zero"))


def test_read_signed_needs_nothing_but_the_public_key(verdict_file) -> None:
    assert read_signed(verdict_file(), load_verify_key()).build == BUILD


# -- an independent verifier -----------------------------------------------------------------


def _sslib_key():
    from securesystemslib.signer import SSlibKey

    return SSlibKey(KEY.keyid, "ed25519", "ed25519", {"public": KEY.raw.hex()})


def test_securesystemslib_accepts_our_verdicts_and_rejects_tampered_ones(verdict_file) -> None:
    """Our signing is `cryptography`; this verifier is securesystemslib's own DSSE code."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError

    path = verdict_file()
    envelope = Envelope.from_dict(json.loads(path.read_text()))
    assert set(envelope.verify([_sslib_key()], 1)) == {KEY.keyid}
    statement = json.loads(envelope.payload)
    assert statement["predicateType"].endswith("/gate-verdict/v1")

    statement["subject"][0]["name"] = "build-never-gated"
    tampered = Envelope(json.dumps(statement).encode(), envelope.payload_type, envelope.signatures)
    with pytest.raises(VerificationError):
        tampered.verify([_sslib_key()], 1)
    swapped = Envelope(envelope.payload, "application/json", envelope.signatures)
    with pytest.raises(VerificationError):
        swapped.verify([_sslib_key()], 1)
