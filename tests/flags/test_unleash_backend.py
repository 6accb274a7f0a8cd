"""The Unleash backend's error handling, against an in-process transport."""

from __future__ import annotations

import json

import httpx
import pytest

from flags.backends.base import AuditHead
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


class TagServer:
    """Just enough of Unleash's feature-tag API for the trust records, in memory."""

    def __init__(self) -> None:
        self.tags: list[dict[str, str]] = []
        self.tag_types: set[str] = set()
        self.puts: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path.startswith("/api/admin/tag-types"):
            name = path.rsplit("/", 1)[1]
            if method == "GET":
                return httpx.Response(200 if name in self.tag_types else 404, json={})
            self.tag_types.add(json.loads(request.content)["name"])
            return httpx.Response(201, json={})
        if path.endswith("/tags"):
            if method == "PUT":
                body = json.loads(request.content)
                self.puts.append(body)
                assert all(t["type"] in self.tag_types for t in body["addedTags"])
                self.tags += [t for t in body["addedTags"] if t not in self.tags]
                self.tags = [t for t in self.tags if t not in body["removedTags"]]
            return httpx.Response(200, json={"version": 1, "tags": self.tags})
        feature = {"name": "video-switch", "environments": [{"name": "development"}]}
        return httpx.Response(200, json=feature)


def test_trust_records_are_tags_of_at_most_50_characters() -> None:
    server = TagServer()
    backend = _backend(server)
    backend.set_pin("video-switch", "ab" * 32, ["development"])
    backend.set_pin("video-switch", "cd" * 32, ["development"])
    assert backend.pin("video-switch") == "cd" * 32
    backend.revoke("video-switch", "ef" * 32)
    backend.revoke("video-switch", "01" * 32)
    assert backend.revoked("video-switch") == {"ef" * 32, "01" * 32}
    backend.set_audit_head("video-switch", AuditHead("0a1b2c3d", 12, "9f" * 32))
    backend.set_audit_head("video-switch", AuditHead("0a1b2c3d", 14, "8e" * 32))
    (head,) = backend.audit_heads("video-switch").values()
    assert head.seq == 14 and ("8e" * 32).startswith(head.sha256) and len(head.sha256) == 48
    assert all(2 <= len(t["value"]) <= 50 for t in server.tags)
    assert sorted(t["type"] for t in server.tags) == [
        "chaperone-audit",
        "chaperone-pin",
        "chaperone-revoked",
        "chaperone-revoked",
    ]
    # Unleash adds before it removes, so re-pinning the same digest must not send it as both
    # added and removed (that would delete the pin): nothing is sent at all.
    sent = len(server.puts)
    backend.set_pin("video-switch", "cd" * 32, ["development"])
    assert len(server.puts) == sent and backend.pin("video-switch") == "cd" * 32


def test_a_pin_naming_an_environment_unleash_lacks_is_refused() -> None:
    with pytest.raises(UsageError, match="no environment 'production'"):
        _backend(TagServer()).set_pin("video-switch", "ab" * 32, ["development", "production"])
