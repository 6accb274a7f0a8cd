"""The real `chaperone controller serve`, started as a subprocess on a free port, driven over
HTTP with tokens made by `chaperone controller token create`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flags.backends.local import LocalBackend
from flags.keys import new_signing_key
from flags.policy import bind_policy
from flags.verdict import envelope_of
from tests.flags.conftest import SIGNING, make_verdict, write_policy
from tests.services.controller import chaperone, controller_serve, run_chaperone

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FLAG = "video-switch"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    db = f"sqlite:///{tmp_path / 'controller.db'}"
    key = new_signing_key()
    (tmp_path / "controller.key").write_bytes(key.pem())
    (tmp_path / "controller.pub").write_bytes(key.public().pem())
    state = tmp_path / "flags-state.json"
    LocalBackend(state).declare_environments(["development", "production"])
    with controller_serve(
        db,
        tmp_path / "controller.key",
        tmp_path / "serve.log",
        *("--backend", "local", "--state", str(state)),
        *("--checkpoints", str(tmp_path / "checkpoints.jsonl"), "--checkpoint-interval", "0.5"),
    ) as url:
        yield url, tmp_path, db


def test_the_served_controller_pins_enables_and_revokes(served: tuple[str, Path, str]) -> None:
    url, tmp_path, db = served
    tokens = {
        name: chaperone("controller", "token", "create", "--db", db, "--role", role, "--name", name)
        for name, role in {"alice": "admin", "bob": "admin", "rita": "release-manager"}.items()
    }

    def post(who: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return httpx.post(f"{url}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    bound = bind_policy(write_policy(tmp_path / "policy"))
    pin = {"policy_digest": bound.digest, "keys": [SIGNING.public().pem().decode()]}
    proposal = post("alice", f"/v1/flags/{FLAG}/pin-proposals", json=pin).json()["proposal"]
    assert post("bob", f"/v1/pin-proposals/{proposal}/approve").status_code == 200

    digest = "ef" * 32
    verdict = make_verdict(bound, build_digest=digest)
    minted = json.dumps(envelope_of(verdict, new_signing_key())).encode()
    enable = f"/v1/flags/{FLAG}/envs/production/enable"
    assert post("rita", enable, content=minted).status_code == 409
    good = json.dumps(envelope_of(verdict, SIGNING)).encode()
    assert post("rita", enable, content=good).status_code == 200
    state = LocalBackend(tmp_path / "flags-state.json")
    assert state.status(FLAG, "production").enabled
    assert post("rita", f"/v1/flags/{FLAG}/revocations", json={"digest": digest}).status_code == 200
    assert not state.status(FLAG, "production").enabled

    time.sleep(1.5)  # at least one checkpoint interval
    chaperone(
        "audit",
        "verify",
        "--db",
        db,
        "--public-key",
        str(tmp_path / "controller.pub"),
        "--checkpoints",
        str(tmp_path / "checkpoints.jsonl"),
    )
    assert (tmp_path / "checkpoints.jsonl").read_text().strip()


def test_flags_commands_talk_to_the_controller(served: tuple[str, Path, str]) -> None:
    url, tmp_path, db = served
    create = ("controller", "token", "create", "--db", db)
    alice = chaperone(*create, "--role", "admin", "--name", "alice")
    bob = chaperone(*create, "--role", "admin", "--name", "bob")
    rita = chaperone(*create, "--role", "release-manager", "--name", "rita")
    bound = bind_policy(write_policy(tmp_path / "policy"))
    pin = {"policy_digest": bound.digest, "keys": [SIGNING.public().pem().decode()]}
    number = httpx.post(
        f"{url}/v1/flags/{FLAG}/pin-proposals",
        json=pin,
        headers={"Authorization": f"Bearer {alice}"},
        timeout=30,
    ).json()["proposal"]
    httpx.post(
        f"{url}/v1/pin-proposals/{number}/approve",
        headers={"Authorization": f"Bearer {bob}"},
        timeout=30,
    ).raise_for_status()
    digest = "12" * 32
    verdict, minted = tmp_path / "verdict.json", tmp_path / "minted.json"
    verdict.write_text(json.dumps(envelope_of(make_verdict(bound, build_digest=digest), SIGNING)))
    minted.write_text(
        json.dumps(envelope_of(make_verdict(bound, build_digest=digest), new_signing_key()))
    )
    on = ("flags", "enable", FLAG, "--env", "production", "--build", "b1", "--controller", url)
    refused = run_chaperone(*on, "--verdict", str(minted), token=rita)
    assert refused.returncode == 1, refused.stderr
    no_token = run_chaperone(*on, "--verdict", str(verdict))
    assert no_token.returncode == 2
    assert "CHAPERONE_CONTROLLER_TOKEN" in no_token.stderr
    assert "artefact" in chaperone(*on, "--verdict", str(verdict), token=rita)
    status = ("flags", "status", FLAG, "--env", "production", "--controller", url, "--json")
    assert json.loads(chaperone(*status, token=rita))["enabled"] is True
    off = ("flags", "disable", FLAG, "--env", "production", "--controller", url)
    chaperone(*off, token=rita)
    assert json.loads(chaperone(*status, token=rita))["enabled"] is False
    chaperone(*on, "--verdict", str(verdict), token=rita)
    revoke = ("flags", "revoke", FLAG, "--digest", digest.upper(), "--controller", url)
    assert "turned off: production" in chaperone(*revoke, token=rita)
    document = json.loads(chaperone(*status, token=rita))
    assert document["enabled"] is False
    assert document["revoked"] == [digest]
    assert run_chaperone(*on, "--verdict", str(verdict), token=rita).returncode == 1


def test_token_admin_commands_list_and_revoke_over_the_api(
    served: tuple[str, Path, str],
) -> None:
    url, _tmp_path, db = served
    create = ("controller", "token", "create", "--db", db)
    alice = chaperone(*create, "--role", "admin", "--name", "alice")
    rita = chaperone(*create, "--role", "release-manager", "--name", "rita")
    listed = chaperone("controller", "token", "list", "--controller", url, token=alice)
    assert "rita\trelease-manager\t" in listed and listed.count("\tactive") == 2
    assert alice not in listed and rita not in listed
    refused = run_chaperone("controller", "token", "list", "--controller", url, token=rita)
    assert refused.returncode == 2
    chaperone("controller", "token", "revoke", "rita", "--controller", url, token=alice)
    after = chaperone("controller", "token", "list", "--controller", url, token=alice)
    [line] = [line for line in after.splitlines() if line.startswith("rita\t")]
    assert line.endswith("\trevoked")
    gone = run_chaperone(
        "flags", "status", FLAG, "--env", "production", "--controller", url, token=rita
    )
    assert gone.returncode == 2
