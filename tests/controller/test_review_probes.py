"""Issue 25's probes that concern what reaches the controller from outside its own tables: a
loopback verdict, a policy that matches every host, hostile JSON, the watch's incident files
(credentials in the target, a 5-character support token), a /dev/zero watch profile, and the
environment of children. Each is re-run against the controller and refused or detected; the
probes of the controller's own state are in test_controller_api, test_audit_chain,
test_fail_closed, test_self_heal*, test_controller_watch and test_watch_crash. The whole map is
the table in docs/controller.md."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from flags.policy import policy_digest
from flags.verdict import envelope_of
from flags.watch import ProbeResult
from tests.controller.conftest import FLAG, World
from tests.controller.test_controller_watch import Clock
from tests.flags.conftest import SIGNING, make_verdict
from tests.watch.fakes import ScriptedProbe, leak

ENABLE = f"/v1/flags/{FLAG}/envs/production/enable"
CONTROLLER = Path(__file__).resolve().parents[2] / "controller"


def _one_line_refusal(world: World, body: bytes, status: int = 409) -> str:
    refused = world.client.post(ENABLE, content=body, headers=world.as_("rita"))
    assert refused.status_code == status, refused.text
    error = refused.json()["error"]
    assert "\n" not in error and "Traceback" not in error
    assert not world.on()
    return str(error)


def test_loopback_target_verdict_cannot_enable_production_through_the_controller(
    world: World,
) -> None:
    # The bundled clinic started by hand on 127.0.0.1 gives a reference verdict (the gate's
    # side is tests/trust/test_review_defects.py); the controller enables it nowhere but
    # development, and a release verdict naming loopback is not an allowed staging target.
    world.pin()
    reference = world.envelope(reference=True, target="http://127.0.0.1:8000")
    assert "reference verdict" in _one_line_refusal(world, reference)
    release = world.envelope(target="http://127.0.0.1:8000")
    assert "not an allowed staging target" in _one_line_refusal(world, release)
    dev = world.client.post(
        f"/v1/flags/{FLAG}/envs/development/enable", content=reference, headers=world.as_("rita")
    )
    assert dev.status_code == 200, dev.text


def test_allowed_targets_question_star_cannot_enable_even_when_pinned_and_signed(
    world: World,
) -> None:
    # Two admins pinned the digest of a policy whose allowed_targets is ["?*"], and the gate's
    # key signed a verdict under it: the controller still refuses it, as policy loading does.
    document = {**world.bound.document, "allowed_targets": ["?*"]}
    digest = policy_digest(document, world.bound.profile_sha256)
    proposal = world.client.post(
        f"/v1/flags/{FLAG}/pin-proposals",
        json={"policy_digest": digest, "keys": [SIGNING.public().pem().decode()]},
        headers=world.as_("alice"),
    )
    number = proposal.json()["proposal"]
    approved = world.client.post(f"/v1/pin-proposals/{number}/approve", headers=world.as_("bob"))
    assert approved.status_code == 200, approved.text
    verdict = make_verdict(
        world.bound, policy=document, policy_hash=digest, target="https://clinic.prod.example"
    )
    body = json.dumps(envelope_of(verdict, SIGNING)).encode()
    assert "not a valid policy" in _one_line_refusal(world, body)


def test_verdict_of_200kb_of_brackets_or_nested_50000_deep_is_one_line_at_the_controller(
    world: World,
) -> None:
    world.pin()
    for body in (b"[" * 200_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        _one_line_refusal(world, body)
        submitted = world.client.post(
            f"/v1/flags/{FLAG}/envs/production/verdicts", content=body, headers=world.as_("ci")
        )
        assert submitted.status_code == 409, submitted.text
        assert "\n" not in submitted.json()["error"]


def _incident_after_a_leak(world: World, tmp_path: Path, target: str, secrets: list[str]) -> str:
    from controller.guard import Watcher

    world.pin()
    enabled = world.client.post(ENABLE, content=world.envelope(), headers=world.as_("rita"))
    assert enabled.status_code == 200, enabled.text
    probe = ScriptedProbe([], {1: ProbeResult((leak(),), switched=1)})
    watcher = Watcher(
        world.controller,
        tmp_path / "incidents",
        lambda _flag, _env: probe,
        interval=1.0,
        target=target,
        secrets=secrets,
        clock=Clock(),
    )
    watcher.probe_all()
    assert not world.on()
    written = sorted((tmp_path / "incidents").glob("*/incident.*"))
    assert [path.suffix for path in written] == [".json", ".md"]
    status = world.client.get(f"/v1/flags/{FLAG}", headers=world.as_("vic")).text
    return "\n".join(path.read_text() for path in written) + status


def test_watch_target_credentials_are_never_written_to_the_controllers_incident(
    world: World, tmp_path: Path
) -> None:
    written = _incident_after_a_leak(world, tmp_path, "http://user:pw-in-target-77@127.0.0.1:9", [])
    assert "pw-in-target-77" not in written and "user:" not in written
    assert "127.0.0.1:9" in written


def test_support_token_of_5_characters_does_not_redact_the_flag_name_in_the_incident(
    world: World, tmp_path: Path
) -> None:
    written = _incident_after_a_leak(world, tmp_path, "http://127.0.0.1:9", ["video"])
    assert FLAG in written  # "video-switch", though its first word is the token
    incident = json.loads(next((tmp_path / "incidents").glob("*/incident.json")).read_text())
    assert incident["flag"] == FLAG


def test_watch_profile_dev_zero_stops_the_controller_at_start_in_one_line(tmp_path: Path) -> None:
    from flags.keys import new_signing_key

    (tmp_path / "controller.key").write_bytes(new_signing_key().pem())
    argv = [sys.executable, "-m", "chaperone", "controller", "serve"]
    argv += ["--db", f"sqlite:///{tmp_path / 'controller.db'}", "--listen", "127.0.0.1:1"]
    argv += ["--backend", "local", "--state", str(tmp_path / "flags-state.json")]
    argv += ["--audit-key", str(tmp_path / "controller.key")]
    argv += ["--watch-target", "http://127.0.0.1:9", "--watch-profile", "/dev/zero"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "profile" in line


def test_children_environment_the_controller_starts_no_child_process() -> None:
    # Secrets reach children through their environment; the controller holds the Unleash
    # admin token and its audit key, so it starts no child at all: its watch probes over HTTP
    # in process. Children elsewhere get harness.childenv's allow-list (tests/trust).
    spawning = {"subprocess", "multiprocessing", "pty", "asyncio.subprocess"}
    calls = {"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"}
    found: list[str] = []
    for path in sorted(CONTROLLER.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name in spawning]
            elif isinstance(node, ast.ImportFrom) and node.module in spawning:
                found.append(f"{path.name}: from {node.module}")
            elif _os_call(node, calls):
                found.append(f"{path.name}: os.{node.attr}")
    assert found == []
    assert len(list(CONTROLLER.rglob("*.py"))) > 10  # the walk saw the package


def _os_call(node: ast.AST, calls: set[str]) -> bool:
    """`os.system`, `os.fork`, `os.exec*`, `os.spawn*` and the like."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and (node.attr in calls or node.attr.startswith(("exec", "spawn")))
    )
