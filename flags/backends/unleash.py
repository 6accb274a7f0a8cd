"""A flag backend on a real Unleash server, through its admin API (Unleash 8).

The admin token is sent raw in the Authorization header, as Unleash expects, and is never
shown: every message that could echo a response or a URL goes through redact().

The trust records live on the flag itself, as feature tags (Unleash records every tag change as
an event of its own, so a pin change is audited twice). Tag values hold 2-50 characters, so
digests are written in unpadded base64url (43 characters for a sha256):

    chaperone-pin      <policy digest>                  one per flag
    chaperone-revoked  <sha256 of a revoked build id>   one per revoked build
    chaperone-live     <env key>.<build digest>         one per environment (env key: 6 chars)
    chaperone-audit    <log id>.<seq>.<hash prefix>     one per audit log (hash: 32 chars)
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from flags.backends.base import AuditHead, BackendEvent, FlagState
from flags.backends.bootstrap import flexible_rollout
from flags.redact import redact
from harness.errors import InfrastructureError, UsageError

TOKEN_ENV = "UNLEASH_ADMIN_TOKEN"
PROJECT = "default"
_ROLLOUT_STRATEGY = "flexibleRollout"
PIN_TAG = "chaperone-pin"
REVOKED_TAG = "chaperone-revoked"
LIVE_TAG = "chaperone-live"
AUDIT_TAG = "chaperone-audit"
_TAG_TYPES = {
    PIN_TAG: "sha256 of the release policy a verdict must have passed (chaperone flags pin)",
    REVOKED_TAG: "sha256 of a build id that may never be enabled again",
    LIVE_TAG: "environment key and sha256 of the build enabled there",
    AUDIT_TAG: "head of a chaperone audit log's hash chain",
}


def admin_token() -> str:
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise UsageError(
            f"{TOKEN_ENV} is not set", f"export {TOKEN_ENV} with an Unleash admin API token"
        )
    return token


class UnleashBackend:
    name = "unleash"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token or admin_token()
        self._client = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": self._token},
        )
        self._tag_types: set[str] = set()

    def close(self) -> None:
        self._client.close()

    def status(self, flag: str, env: str) -> FlagState:
        feature = self._feature(flag)
        if feature is None:
            return FlagState(flag=flag, env=env, enabled=False, rollout=0, exists=False)
        environment = _environment(feature, env)
        return FlagState(
            flag=flag,
            env=env,
            enabled=bool(environment.get("enabled")),
            rollout=_effective_rollout(environment.get("strategies", [])),
        )

    def ensure_flag(self, flag: str) -> None:
        if self._feature(flag) is None:
            self._call(
                "POST",
                f"/api/admin/projects/{PROJECT}/features",
                json={"name": flag, "type": "release", "description": "managed by chaperone flags"},
            )

    def enable(
        self, flag: str, env: str, rollout: int = 100, build_digest: str | None = None
    ) -> FlagState:
        self.ensure_flag(flag)
        _environment(self._feature(flag) or {}, env)
        if build_digest is not None:
            # Before the flag turns on, so a watch can always name (and revoke) the live build.
            key = _env_key(env)
            self._retag(flag, LIVE_TAG, f"{key}.{_b64(build_digest)}", lambda v: v[:7] == key + ".")
        self._put_rollout(flag, env, rollout)
        self._call("POST", f"{_env_path(flag, env)}/on")
        return self.status(flag, env)

    def set_rollout(self, flag: str, env: str, percent: int) -> FlagState:
        self.ensure_flag(flag)
        self._put_rollout(flag, env, percent)
        return self.status(flag, env)

    def disable(self, flag: str, env: str) -> FlagState:
        feature = self._feature(flag)
        if feature is None:
            # Nothing to switch off: a flag that does not exist is off everywhere.
            return FlagState(flag=flag, env=env, enabled=False, rollout=0, exists=False)
        _environment(feature, env)
        self._call("POST", f"{_env_path(flag, env)}/off")
        return self.status(flag, env)

    def flag_names(self) -> list[str]:
        """Every flag in the project, including ones nobody registered with Chaperone."""
        response = self._call("GET", f"/api/admin/projects/{PROJECT}/features")
        return sorted(str(feature["name"]) for feature in response.json().get("features", []))

    def history(self, flag: str) -> list[BackendEvent]:
        body = self._call(
            "GET", "/api/admin/search/events", params={"feature": f"IS:{flag}", "limit": "1000"}
        ).json()
        return [_event(flag, raw) for raw in body.get("events", [])]

    # -- trust records, as tags on the flag ---------------------------------------------------

    def pin(self, flag: str) -> str | None:
        values = self._tag_values(flag, PIN_TAG)
        return _hex(values[0]) if len(values) == 1 else None

    def set_pin(self, flag: str, digest: str, environments: Sequence[str]) -> None:
        self.ensure_flag(flag)
        feature = self._feature(flag) or {}
        for env in environments:
            _environment(feature, env)  # the policy must not name environments Unleash lacks
        self._retag(flag, PIN_TAG, _b64(digest), lambda _v: True)

    def revoked(self, flag: str) -> frozenset[str]:
        return frozenset(_hex(v) for v in self._tag_values(flag, REVOKED_TAG))

    def revoke(self, flag: str, build_digest: str) -> None:
        self.ensure_flag(flag)
        value = _b64(build_digest)
        self._retag(flag, REVOKED_TAG, value, lambda v: v == value)

    def live_build(self, flag: str, env: str) -> str | None:
        key = _env_key(env) + "."
        found = [v for v in self._tag_values(flag, LIVE_TAG) if v.startswith(key)]
        return _hex(found[0][len(key) :]) if found else None

    def audit_heads(self, flag: str) -> dict[str, AuditHead]:
        heads = {}
        for value in self._tag_values(flag, AUDIT_TAG):
            log, _, rest = value.partition(".")
            seq, _, digest = rest.partition(".")
            if seq.isdigit() and digest:
                heads[log] = AuditHead(log, int(seq), _hex(digest))
        return heads

    def set_audit_head(self, flag: str, head: AuditHead) -> None:
        if self._feature(flag) is None:
            return  # nothing was ever done to a flag Unleash does not have; nowhere to anchor
        value = f"{head.log}.{head.seq}.{_b64(head.sha256)[:32]}"
        self._retag(flag, AUDIT_TAG, value, lambda v: v.startswith(head.log + "."))

    def _tag_values(self, flag: str, tag_type: str) -> list[str]:
        response = self._call("GET", f"/api/admin/features/{flag}/tags", allow_404=True)
        if response.status_code == 404:
            return []
        tags = response.json().get("tags", [])
        return sorted(str(t["value"]) for t in tags if t.get("type") == tag_type)

    def _retag(
        self, flag: str, tag_type: str, value: str, same_slot: Callable[[str], bool]
    ) -> None:
        """Puts `value` in place of the tags of `tag_type` that hold the same slot, in one call.
        Unleash adds before it removes, so a value already present is never listed as removed."""
        self._ensure_tag_type(tag_type)
        existing = [v for v in self._tag_values(flag, tag_type) if same_slot(v)]
        added = [] if value in existing else [{"type": tag_type, "value": value}]
        removed = [{"type": tag_type, "value": v} for v in existing if v != value]
        if added or removed:
            self._call(
                "PUT",
                f"/api/admin/features/{flag}/tags",
                json={"addedTags": added, "removedTags": removed},
            )

    def _ensure_tag_type(self, tag_type: str) -> None:
        if tag_type in self._tag_types:
            return
        found = self._call("GET", f"/api/admin/tag-types/{tag_type}", allow_404=True)
        if found.status_code == 404:
            self._call(
                "POST",
                "/api/admin/tag-types",
                json={"name": tag_type, "description": _TAG_TYPES[tag_type]},
            )
        self._tag_types.add(tag_type)

    def _feature(self, flag: str) -> dict[str, Any] | None:
        response = self._call(
            "GET", f"/api/admin/projects/{PROJECT}/features/{flag}", allow_404=True
        )
        if response.status_code == 404:
            return None
        feature: dict[str, Any] = response.json()
        return feature

    def _put_rollout(self, flag: str, env: str, percent: int) -> None:
        environment = _environment(self._feature(flag) or {}, env)
        body = flexible_rollout(flag, percent)
        ours = [s for s in environment.get("strategies", []) if s["name"] == _ROLLOUT_STRATEGY]
        if ours:
            body["constraints"] = ours[0].get("constraints", [])
            self._call("PUT", f"{_env_path(flag, env)}/strategies/{ours[0]['id']}", json=body)
        else:
            self._call("POST", f"{_env_path(flag, env)}/strategies", json=body)

    def _call(
        self, method: str, path: str, *, allow_404: bool = False, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise InfrastructureError(
                f"Unleash at {redact(self.url)} is unreachable ({type(exc).__name__})",
                "start Unleash or pass the right --unleash-url",
            ) from None
        if response.status_code in (401, 403):
            raise UsageError(
                f"Unleash rejected the admin token (HTTP {response.status_code})",
                f"set {TOKEN_ENV} to a valid admin API token",
            )
        if response.status_code == 404 and allow_404:
            return response
        if response.status_code >= 400:
            detail = redact(response.text[:200], (self._token,))
            raise InfrastructureError(
                f"Unleash {method} {path} failed with HTTP {response.status_code}: {detail}",
                "check the Unleash server log",
            )
        return response


def _b64(hex_digest: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).rstrip(b"=").decode()


def _hex(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    except ValueError:
        return ""  # not ours: never equal to a real digest


def _env_key(env: str) -> str:
    return _b64(hashlib.sha256(env.encode()).hexdigest())[:6]


def _env_path(flag: str, env: str) -> str:
    return f"/api/admin/projects/{PROJECT}/features/{flag}/environments/{env}"


def _environment(feature: dict[str, Any], env: str) -> dict[str, Any]:
    environments = {e["name"]: e for e in feature.get("environments", [])}
    if env not in environments:
        known = ", ".join(sorted(environments)) or "none"
        raise UsageError(
            f"Unleash has no environment '{env}' for this flag (it has: {known})",
            "pass --env with one of those",
        )
    found: dict[str, Any] = environments[env]
    return found


def _effective_rollout(strategies: list[dict[str, Any]]) -> int:
    """The most users any active strategy can reach: other strategies than ours count as 100%,
    because we cannot prove they reach fewer."""
    active = [s for s in strategies if not s.get("disabled")]
    if not active:
        return 100  # Unleash serves an enabled flag with no strategies to everyone
    return max(_strategy_reach(strategy) for strategy in active)


def _strategy_reach(strategy: dict[str, Any]) -> int:
    if strategy.get("name") != _ROLLOUT_STRATEGY:
        return 100
    try:
        return int(strategy.get("parameters", {}).get("rollout", 100))
    except (TypeError, ValueError):
        return 100


def _event(flag: str, raw: dict[str, Any]) -> BackendEvent:
    created = raw.get("createdAt")
    at = datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
    return BackendEvent(
        at=at,
        action=str(raw.get("type")),
        flag=flag,
        env=raw.get("environment"),
        actor=raw.get("createdBy"),
        detail=str(raw.get("label") or ""),
    )
