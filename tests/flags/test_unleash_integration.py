"""`chaperone flags` against a real Unleash 8 server on a throwaway PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.flags.conftest import BUILD, write_policy
from tests.services.postgres import free_port, postgres
from tests.services.unleash import UnleashServer, unleash_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def unleash() -> Iterator[UnleashServer]:
    with postgres() as pg, unleash_server(pg) as server:
        yield server


@pytest.fixture
def admin(unleash: UnleashServer, monkeypatch: pytest.MonkeyPatch) -> UnleashServer:
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", unleash.admin_token)
    return unleash


def _args(server_url: str, tmp_path: Path, env: str = "development") -> list[str]:
    return [
        "--env",
        env,
        "--backend",
        "unleash",
        "--unleash-url",
        server_url,
        "--state",
        str(tmp_path / "state.json"),
    ]


def _status(cli, url: str, tmp_path: Path, flag: str, env: str = "development") -> dict:
    result = cli("status", flag, *_args(url, tmp_path, env), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def _client_view(server: UnleashServer, flag: str, want: Callable[[dict], bool]) -> dict:
    """What an SDK in `development` receives: the proof the change reached Unleash itself.
    Unleash refreshes the client API on a revision poll, so wait for it (bounded)."""
    import httpx

    deadline = time.monotonic() + 20
    while True:
        body = httpx.get(
            f"{server.url}/api/client/features", headers={"Authorization": server.client_token}
        ).json()
        feature = next((f for f in body["features"] if f["name"] == flag), {})
        if want(feature) or time.monotonic() > deadline:
            return feature
        time.sleep(0.25)


def _rollouts(feature: dict) -> list[str]:
    return [s["parameters"]["rollout"] for s in feature.get("strategies", [])]


def _pin(cli, url: str, tmp_path: Path, policy: Path, *extra: str):
    return cli("pin", "video-switch", *_args(url, tmp_path)[2:], "--policy", str(policy), *extra)


def _tags(server: UnleashServer, flag: str) -> dict[str, list[str]]:
    import httpx

    body = httpx.get(
        f"{server.url}/api/admin/features/{flag}/tags",
        headers={"Authorization": server.admin_token},
    ).json()
    found: dict[str, list[str]] = {}
    for tag in body["tags"]:
        found.setdefault(tag["type"], []).append(tag["value"])
    return found


def test_enable_rollout_disable_history(
    cli, admin: UnleashServer, tmp_path: Path, verdict_file, bound
) -> None:
    url, flag = admin.url, "video-switch"
    assert _status(cli, url, tmp_path, flag)["exists"] is False
    assert _pin(cli, url, tmp_path, Path(bound.uri)).code == 0

    result = cli(
        "enable",
        flag,
        *_args(url, tmp_path),
        "--verdict",
        str(verdict_file()),
        "--build",
        BUILD,
        "--rollout",
        "25",
    )
    assert result.code == 0, result.err
    assert _status(cli, url, tmp_path, flag) == {
        "backend": "unleash",
        "enabled": True,
        "env": "development",
        "exists": True,
        "flag": flag,
        "pin": bound.digest,
        "rollout": 25,
    }
    assert _status(cli, url, tmp_path, flag, "production")["enabled"] is False
    seen = _client_view(admin, flag, lambda f: f.get("enabled") is True)
    assert seen.get("enabled") is True
    assert _rollouts(seen) == ["25"]

    assert (
        cli(
            "enable",
            flag,
            *_args(url, tmp_path),
            "--verdict",
            str(verdict_file()),
            "--build",
            BUILD,
            "--rollout",
            "100",
        ).code
        == 0
    )
    assert _status(cli, url, tmp_path, flag)["rollout"] == 100
    # the strategy is updated in place, not stacked next to the old one
    assert _rollouts(_client_view(admin, flag, lambda f: "100" in _rollouts(f))) == ["100"]

    refused = cli(
        "enable",
        flag,
        *_args(url, tmp_path, "production"),
        "--verdict",
        str(verdict_file(verdict="fail", findings=1)),
        "--build",
        BUILD,
    )
    assert refused.code == 1
    assert _status(cli, url, tmp_path, flag, "production")["enabled"] is False

    assert cli("disable", flag, *_args(url, tmp_path)).code == 0
    assert _status(cli, url, tmp_path, flag)["enabled"] is False
    assert _client_view(admin, flag, lambda f: f.get("enabled") is False).get("enabled") is False

    history = json.loads(cli("history", flag, *_args(url, tmp_path)[2:], "--json").out)
    kinds = [e["action"] for e in history["backend"]]
    assert {
        "feature-created",
        "feature-strategy-add",
        "feature-strategy-update",
        "feature-environment-enabled",
        "feature-environment-disabled",
    } <= set(kinds)
    assert [(e["action"], e["result"]) for e in history["audit"] if e["phase"] != "intent"] == [
        ("pin", "done"),
        ("enable", "done"),
        ("enable", "done"),
        ("enable", "refused"),
        ("disable", "done"),
    ]
    table = cli("history", flag, *_args(url, tmp_path)[2:])
    assert table.code == 0 and "Flag created" in table.out and "refused" in table.out


def test_bad_admin_token_is_exit_2_and_not_shown(
    cli, unleash: UnleashServer, tmp_path: Path, verdict_file, monkeypatch
) -> None:
    bad = "*:*.thisisnotthetoken123456"
    monkeypatch.setenv("UNLEASH_ADMIN_TOKEN", bad)
    for args in (
        ["status", "bad-token-flag", *_args(unleash.url, tmp_path)],
        [
            "enable",
            "video-switch",
            *_args(unleash.url, tmp_path),
            "--verdict",
            str(verdict_file()),
            "--build",
            BUILD,
        ],
    ):
        result = cli(*args)
        assert result.code == 2
        assert "rejected the admin token" in result.err
        assert "thisisnotthetoken123456" not in result.out + result.err
        assert unleash.admin_token not in result.out + result.err
    audit_text = (tmp_path / "audit.jsonl").read_text()
    assert "thisisnotthetoken123456" not in audit_text and '"result":"error"' in audit_text


def test_unleash_down_is_exit_2_and_nothing_enabled(
    cli, admin: UnleashServer, tmp_path: Path, verdict_file
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    flag = "video-switch-down"
    result = cli(
        "enable",
        "video-switch",
        *_args(dead, tmp_path),
        "--verdict",
        str(verdict_file()),
        "--build",
        BUILD,
    )
    assert result.code == 2 and "unreachable" in result.err
    assert cli("disable", flag, *_args(dead, tmp_path)).code == 2
    # the live server never heard of any of it
    assert _status(cli, admin.url, tmp_path, flag)["exists"] is False
    assert admin.admin_token not in result.out + result.err


def test_pin_revoke_and_chain_head_live_on_the_unleash_flag(
    cli, admin: UnleashServer, tmp_path: Path, verdict_file, bound
) -> None:
    url, flag = admin.url, "video-switch"
    args = _args(url, tmp_path)
    for env in ("development", "production"):  # a fresh start whatever ran before
        cli("disable", flag, *_args(url, tmp_path, env))
    assert _pin(cli, url, tmp_path, Path(bound.uri), "--replace").code == 0
    assert _status(cli, url, tmp_path, flag)["pin"] == bound.digest
    assert len(_tags(admin, flag)["chaperone-pin"]) == 1

    other = write_policy(tmp_path / "other", min_seeds=5)  # differs from the shipped policy
    refused = _pin(cli, url, tmp_path, other)
    assert refused.code == 1 and "--replace" in refused.err
    assert _pin(cli, url, tmp_path, other, "--replace").code == 0
    assert _status(cli, url, tmp_path, flag)["pin"] not in (None, bound.digest)
    assert len(_tags(admin, flag)["chaperone-pin"]) == 1  # replaced, not stacked

    stale = cli("enable", flag, *args, "--verdict", str(verdict_file()), "--build", BUILD)
    assert stale.code == 1 and "does not match the policy pinned" in stale.err
    assert _pin(cli, url, tmp_path, Path(bound.uri), "--replace").code == 0
    enabled = cli("enable", flag, *args, "--verdict", str(verdict_file()), "--build", BUILD)
    assert enabled.code == 0, enabled.err
    assert _status(cli, url, tmp_path, flag)["rollout"] == bound.policy.rollout_stages[0].percent
    assert len(_tags(admin, flag)["chaperone-live"]) == 1

    assert cli("revoke", flag, *args[2:], "--build", BUILD).code == 0
    again = cli("enable", flag, *args, "--verdict", str(verdict_file()), "--build", BUILD)
    assert again.code == 1 and "revoked" in again.err

    verify = cli("history", flag, *args[2:], "--verify")
    assert verify.code == 0 and "intact" in verify.out, verify.out + verify.err
    log = tmp_path / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-2]))
    truncated = cli("history", flag, *args[2:], "--verify")
    assert truncated.code == 1 and "truncated" in truncated.out
    log.unlink()
    deleted = cli("history", flag, *args[2:], "--verify")
    assert deleted.code == 1 and "deleted or replaced" in deleted.out

    events = json.loads(cli("history", flag, *args[2:], "--json").out)["backend"]
    assert "feature-tagged" in {e["action"] for e in events}  # Unleash audits pins itself
