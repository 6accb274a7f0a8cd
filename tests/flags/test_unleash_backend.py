"""The Unleash backend's error handling, against an in-process transport."""

from __future__ import annotations

import httpx
import pytest

from flags.backends.unleash import UnleashBackend, _effective_rollout
from harness.errors import InfrastructureError, UsageError

TOKEN = "*:*.unitsecrettoken0001"


def _backend(handler) -> UnleashBackend:
    return UnleashBackend("http://unleash.test", TOKEN, transport=httpx.MockTransport(handler))


def test_token_sent_raw_in_authorization_header() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(404, json={"name": "NotFoundError"})

    assert not _backend(handler).status("video-switch", "development").exists
    assert seen == [TOKEN]


@pytest.mark.parametrize("code", [401, 403])
def test_rejected_token_is_usage_error_without_token(code: int) -> None:
    with pytest.raises(UsageError) as info:
        _backend(lambda r: httpx.Response(code, json={"message": "no"})).status("f", "development")
    assert "admin token" in info.value.one_line()
    assert TOKEN not in info.value.one_line()


def test_server_error_is_infrastructure_and_redacted() -> None:
    echo = lambda r: httpx.Response(500, text=f"boom, your token was {TOKEN}")  # noqa: E731
    with pytest.raises(InfrastructureError) as info:
        _backend(echo).status("video-switch", "development")
    assert "HTTP 500" in info.value.one_line()
    assert "unitsecrettoken0001" not in info.value.one_line()


def test_unreachable_is_infrastructure_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(InfrastructureError, match="unreachable"):
        _backend(refuse).enable("video-switch", "development")


def test_missing_token_is_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNLEASH_ADMIN_TOKEN", raising=False)
    with pytest.raises(UsageError, match="UNLEASH_ADMIN_TOKEN is not set"):
        UnleashBackend("http://unleash.test")


def test_unknown_environment_is_named() -> None:
    feature = {"name": "video-switch", "environments": [{"name": "development", "enabled": False}]}
    with pytest.raises(UsageError, match=r"no environment 'prod' .*development"):
        _backend(lambda r: httpx.Response(200, json=feature)).disable("video-switch", "prod")


@pytest.mark.parametrize(
    ("strategies", "reach"),
    [
        ([], 100),
        ([{"name": "flexibleRollout", "parameters": {"rollout": "25"}}], 25),
        ([{"name": "flexibleRollout", "parameters": {"rollout": "25"}}, {"name": "default"}], 100),
        (
            [
                {"name": "flexibleRollout", "parameters": {"rollout": "25"}},
                {"name": "default", "disabled": True},
            ],
            25,
        ),
    ],
)
def test_effective_rollout_is_conservative(strategies: list, reach: int) -> None:
    assert _effective_rollout(strategies) == reach
