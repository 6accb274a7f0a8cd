"""The gate's Ed25519 key pair. The gate signs verdicts with the private key, a CI secret that
nobody else holds; `flags enable` and `watch` only ever need the public key, so whoever can
enable a flag still cannot mint a verdict (as with cosign: the signer holds the private key,
every verifier the public one).

    chaperone keys generate --out DIR   ->  DIR/gate.key (private, 0600), DIR/gate.pub
    gate:    CHAPERONE_GATE_SIGNING_KEY (PEM text) or --signing-key-file
    verify:  CHAPERONE_GATE_PUBLIC_KEY (PEM text) or --verify-key

Only Ed25519 is accepted: it has one strength (128-bit security), so "a weak key" can only be a
key of another kind, and that is refused with a one-line error, like a missing or malformed one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from harness.errors import UsageError

SIGNING_KEY_ENV = "CHAPERONE_GATE_SIGNING_KEY"
PUBLIC_KEY_ENV = "CHAPERONE_GATE_PUBLIC_KEY"
PRIVATE_NAME = "gate.key"
PUBLIC_NAME = "gate.pub"
# A PEM key file is a few hundred bytes; anything far larger is not one (e.g. /dev/zero).
_MAX_KEY_BYTES = 16 * 1024
_GENERATE = "create a pair with `chaperone keys generate --out DIR`"


@dataclass(frozen=True)
class VerifyKey:
    """A public key: checks signatures, cannot make them."""

    key: ed25519.Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def keyid(self) -> str:
        """sha256 of the raw public key: names the key in a DSSE signature."""
        return hashlib.sha256(self.raw).hexdigest()

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(frozen=True)
class SigningKey:
    key: ed25519.Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)

    def public(self) -> VerifyKey:
        return VerifyKey(self.key.public_key())

    def pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def new_signing_key() -> SigningKey:
    return SigningKey(ed25519.Ed25519PrivateKey.generate())


def generate(out_dir: Path, force: bool = False) -> tuple[Path, Path]:
    """Writes gate.key (0600, created that way so it is never readable by others) and gate.pub."""
    private, public = out_dir / PRIVATE_NAME, out_dir / PUBLIC_NAME
    if not force and (private.exists() or public.exists()):
        raise UsageError(
            f"{private} or {public} already exists",
            "pick another --out, or pass --force to replace the pair",
        )
    key = new_signing_key()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        private.unlink(missing_ok=True)
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.pem())
        public.write_bytes(key.public().pem())
    except OSError as exc:
        raise UsageError(
            f"cannot write keys to {out_dir}: {exc.strerror or exc}", "pass a writable --out"
        ) from None
    return private, public


def load_signing_key(file: Path | None = None) -> SigningKey:
    """The gate's private key, from --signing-key-file or CHAPERONE_GATE_SIGNING_KEY."""
    pem, source = _pem(file, SIGNING_KEY_ENV, "--signing-key-file")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise UsageError(
            f"the signing key in {source} is encrypted", "give the gate an unencrypted PEM key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError(
            f"the signing key in {source} is not a PEM private key", _GENERATE
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise UsageError(f"the signing key in {source} is {_describe(key)}", _ED25519_ONLY)
    return SigningKey(key)


def load_verify_key(file: Path | None = None) -> VerifyKey:
    """The gate's public key, from --verify-key or CHAPERONE_GATE_PUBLIC_KEY."""
    pem, source = _pem(file, PUBLIC_KEY_ENV, "--verify-key")
    if b"PRIVATE KEY" in pem:
        raise UsageError(
            f"{source} holds a private key",
            f"give verifiers only the public key ({PUBLIC_NAME}); the private one stays in CI",
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError(f"the key in {source} is not a PEM public key", _GENERATE) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise UsageError(f"the key in {source} is {_describe(key)}", _ED25519_ONLY)
    return VerifyKey(key)


_ED25519_ONLY = f"verdicts are signed with Ed25519 only; {_GENERATE}"


def _describe(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"an RSA-{key.key_size} key, not Ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an EC {key.curve.name} key, not Ed25519"
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return f"a DSA-{key.key_size} key, not Ed25519"
    return f"a {type(key).__name__.lstrip('_')}, not Ed25519"


def _pem(file: Path | None, env: str, option: str) -> tuple[bytes, str]:
    if file is not None:
        return _read_key_file(file), str(file)
    text = os.environ.get(env, "")
    if not text.strip():
        raise UsageError(f"no key: {env} is not set and {option} was not given", _GENERATE)
    return text.encode(), env


def _read_key_file(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise UsageError(f"key file {path} is not a regular file", "pass the PEM file")
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read key file {path}: {exc.strerror or exc}", _GENERATE) from None
    if len(data) > _MAX_KEY_BYTES:
        raise UsageError(f"key file {path} is too large to be a PEM key", "pass the PEM file")
    return data
