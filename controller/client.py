"""What `chaperone flags … --controller URL` sends: the controller's HTTP API, with the caller's
own token from CHAPERONE_CONTROLLER_TOKEN."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from flags.verdict import MAX_VERDICT_BYTES
from harness.errors import ChaperoneError, GateRefused, UsageError

TOKEN_ENV = "CHAPERONE_CONTROLLER_TOKEN"


class ControllerClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        token = token or os.environ.get(TOKEN_ENV, "")
        if not token:
            raise UsageError(
                f"{TOKEN_ENV} is not set",
                "ask an admin for a token (chaperone controller token create)",
            )
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )

    def __enter__(self) -> ControllerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.close()

    def status(self, flag: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/flags/{flag}")

    def enable(self, flag: str, env: str, verdict: Path) -> dict[str, Any]:
        try:
            with verdict.open("rb") as handle:
                data = handle.read(MAX_VERDICT_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"verdict {verdict} is unreadable ({type(exc).__name__})") from None
        return self._call("POST", f"/v1/flags/{flag}/envs/{env}/enable", content=data)

    def disable(self, flag: str, env: str, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/flags/{flag}/envs/{env}/disable", json={"reason": reason})

    def revoke(self, flag: str, digest: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/flags/{flag}/revocations", json={"digest": digest})

    def tokens(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._call("GET", "/v1/tokens").get("tokens", [])
        return rows

    def revoke_token(self, name: str, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/tokens/{name}/revoke", json={"reason": reason})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ChaperoneError(
                f"controller unreachable ({type(exc).__name__})", "check --controller"
            ) from None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200:
            return body
        problem = str(body.get("error") or body.get("detail") or response.reason_phrase)
        hint = str(body.get("hint") or "")
        if response.status_code == 409:
            raise GateRefused(problem, hint or None)
        if response.status_code in (400, 401, 403, 413, 422):
            raise UsageError(
                f"controller refused ({response.status_code}): {problem}", hint or None
            )
        raise ChaperoneError(f"controller error {response.status_code}: {problem}", hint or None)
