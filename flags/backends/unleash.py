"""A flag backend on a real Unleash server, through its admin API (Unleash 8).

The admin token is sent raw in the Authorization header, as Unleash expects, and is never
shown: every message that could echo a response or a URL goes through redact().
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import httpx

from flags.backends.base import BackendEvent, FlagState
from flags.backends.bootstrap import flexible_rollout
from flags.redact import redact
from harness.errors import InfrastructureError, UsageError

TOKEN_ENV = "UNLEASH_ADMIN_TOKEN"
PROJECT = "default"
_ROLLOUT_STRATEGY = "flexibleRollout"


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

    def enable(self, flag: str, env: str, rollout: int = 100) -> FlagState:
        self.ensure_flag(flag)
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

    def history(self, flag: str) -> list[BackendEvent]:
        body = self._call(
            "GET", "/api/admin/search/events", params={"feature": f"IS:{flag}", "limit": "1000"}
        ).json()
        return [_event(flag, raw) for raw in body.get("events", [])]

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
                f"Unleash at {self.url} is unreachable ({type(exc).__name__})",
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
