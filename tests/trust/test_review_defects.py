"""Issue 25's security review, outside the controller: one test per defect it listed, named
after it. Each reproduces the probe and asserts the safe outcome; each fails on the code before
its fix."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from flags import audit
from flags.backends.local import LocalBackend
from flags.policy import bind_policy, load_policy
from harness.bounded import MAX_CONFIG_BYTES, MAX_DATA_BYTES
from harness.errors import ConfigError
from harness.local_clinic import local_clinic
from harness.profile import load_profile
from tests.flags.conftest import write_policy
from tests.trust.helpers import FLAG, enable, gate, one_line_error, predicate

# -- the loopback target -----------------------------------------------------------------------


def test_loopback_target_gives_a_reference_verdict_that_cannot_enable_production(
    gate_in_process,
    policy_file: Path,
    cli,
    state: Path,
) -> None:
    verdict = gate_in_process(policy_file, "http://127.0.0.1:8000")
    assert predicate(verdict)["reference"] is True
    refused = enable(cli, state, verdict, "production")
    assert refused.code == 1 and "reference verdict" in refused.err
    assert not LocalBackend(state).status(FLAG, "production").enabled
    assert enable(cli, state, verdict, "development").code == 0


def test_loopback_target_named_in_allowed_targets_is_the_teams_explicit_choice(
    gate_in_process,
    tmp_path: Path,
) -> None:
    policy = write_policy(tmp_path / "own", allowed_targets=["127.0.0.1"])
    assert predicate(gate_in_process(policy, "http://127.0.0.1:8000"))["reference"] is False


def test_loopback_target_that_reports_it_is_the_bundled_clinic_is_reference_anywhere(
    gate_in_process,
    policy_file: Path,
) -> None:
    # The fixture's probe says "reference" for this host, as the bundled clinic's /healthz does.
    verdict = gate_in_process(policy_file, "https://reference.staging.example")
    assert predicate(verdict)["reference"] is True


def test_loopback_target_the_bundled_clinic_started_by_hand_says_what_it_is() -> None:
    from chaperone.targets import reports_reference

    profile = load_profile("clinic")
    with local_clinic() as clinic:
        assert reports_reference(clinic.url, profile) is True
    assert reports_reference(clinic.url, profile) is False  # stopped: nothing answers


# -- bounded reads of every file a policy names ------------------------------------------------


def _gate_cli(tmp_path: Path, policy: Path) -> str:
    return one_line_error(gate(tmp_path, policy, timeout=60))


def test_bounded_reads_profile_dev_zero_is_one_line_error(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "p", profile="/dev/zero")
    started = time.monotonic()
    line = _gate_cli(tmp_path, policy)
    assert "/dev/zero" in line and "not a regular file" in line
    assert time.monotonic() - started < 30  # not 24 GB later


def test_bounded_reads_a_fifo_profile_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "p" / "fifo.yaml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        bind_policy(write_policy(tmp_path / "p", profile="./fifo.yaml"))


def test_bounded_reads_an_oversized_profile_is_refused(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "p")
    with (tmp_path / "p" / "profile.yaml").open("a") as profile:
        profile.write("#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than 8 MiB") as info:
        bind_policy(policy)
    assert "\n" not in info.value.one_line()


def test_bounded_reads_an_oversized_state_file_and_audit_log_are_one_line(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with big.open("wb") as handle:
        handle.truncate(MAX_DATA_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ConfigError, match="larger than"):
        LocalBackend(big).status(FLAG, "development")
    with pytest.raises(audit.AuditError, match="larger than"):
        audit.read(big)


# -- the Low list ------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["?*", "*", "*.*", "[a-z]*", "?*.?*", "**"])
def test_allowed_targets_question_star_is_refused_like_star(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ConfigError, match="matches every host"):
        load_policy(write_policy(tmp_path / "p", allowed_targets=[pattern]))


def test_policy_nested_50000_deep_is_one_line_error_not_recursion_error(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "p")
    policy.write_text(policy.read_text() + "extra: " + "[" * 50_000 + "\n")
    line = _gate_cli(tmp_path, policy)
    assert "nested too deeply" in line


def test_verdict_of_200kb_of_brackets_is_one_line_error_not_recursion_error(
    cli, state: Path, tmp_path: Path
) -> None:
    verdict = tmp_path / "verdict.json"
    verdict.write_text("[" * 200_000)
    refused = enable(cli, state, verdict, "development")
    assert refused.code == 1 and "nested too deeply" in refused.err
    assert "Traceback" not in refused.err and len(refused.err.strip().splitlines()) == 1


def test_support_token_of_5_characters_does_not_redact_the_flag_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flags.redact import redact as flags_redact
    from reports.redact import redact as reports_redact

    monkeypatch.setenv("CHAPERONE_SUPPORT_TOKEN", "video")
    line = "video-switch enabled; token video sent as X-Support-Token=video"
    for cleaned in (flags_redact(line), reports_redact(line, ["video"])):
        assert cleaned.startswith("video-switch enabled; token [REDACTED]")
        assert " video " not in cleaned and not cleaned.endswith("=video")
    # A long (random) secret is still masked wherever it occurs, even inside a word.
    assert "0123456789abcdefXYZ" not in reports_redact(
        "id0123456789abcdefXYZ", ["0123456789abcdefXYZ"]
    )


def test_target_credentials_are_never_written_to_world_json(tmp_path: Path) -> None:
    import dataclasses

    from harness.world import World
    from tests.worlds import make_world

    world = make_world(["p1", "p2"], {"c1": ["p1"]})
    with_login = dataclasses.replace(world, target="http://user:pw-in-target-77@127.0.0.1:8000")
    with_login.save(tmp_path / "world.json")
    written = (tmp_path / "world.json").read_text()
    assert "pw-in-target-77" not in written and "user:" not in written
    assert World.load(tmp_path / "world.json").target == "http://127.0.0.1:8000"


def test_ci_identity_from_spoofable_env_vars_is_recorded_as_unverified(tmp_path: Path) -> None:
    spoofed = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "release-bot", "GITHUB_RUN_ID": "1"}
    who = audit.identity(environ=spoofed)
    assert who.ci is not None and who.ci.startswith("github:release-bot")
    assert who.ci.endswith("unverified)")
    assert audit.identity(environ={"CI": "true", "CI_JOB_ID": "9"}).ci == (
        "ci:9" + audit.UNVERIFIED
    )


# -- secrets in children -----------------------------------------------------------------------

CHILD_SECRETS = {
    "CHAPERONE_GATE_SIGNING_KEY": "-----BEGIN PRIVATE KEY----- gate-key-4321",
    "UNLEASH_ADMIN_TOKEN": "*:*.admin-token-4321",
    "DATABASE_URL": "postgresql://app:db-password-4321@db.internal/app",
    "SENTRY_DSN": "https://public@sentry.example/1",
    "SOME_TOOL_SETTING": "db-password-4321",
    "CHAPERONE_SINKS": "postgres://u:db-password-4321@h/x",
}


def _no_child_secrets(environ: bytes) -> None:
    assert b"4321" not in environ, environ
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    assert not set(CHILD_SECRETS) & names and "PATH" in names


def test_children_environment_is_an_allow_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from harness.childenv import child_env, named_by
    from load.runner import LoadPlan, environment

    for name, value in CHILD_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STAGING_LOGIN", "login-4321")
    env = child_env({"CHAPERONE_SUPPORT_TOKEN": "its-own"})
    _no_child_secrets(b"\0".join(f"{k}={v}".encode() for k, v in env.items()))
    assert env["CHAPERONE_SUPPORT_TOKEN"] == "its-own" and "STAGING_LOGIN" not in env
    # A Locust process renders the profile's steps: it gets the variables they name, no other.
    named = named_by(['{"login": {"post": "/x", "json": {"u": "{{ env.STAGING_LOGIN }}"}}}'])
    assert named == {"STAGING_LOGIN": "login-4321"}
    locust = environment(LoadPlan("http://127.0.0.1:1", users=2, seconds=1.0), tmp_path, named)
    assert locust["STAGING_LOGIN"] == "login-4321" and not set(CHILD_SECRETS) & set(locust)


@pytest.mark.integration
def test_children_environment_of_the_local_clinic_holds_no_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in CHILD_SECRETS.items():
        monkeypatch.setenv(name, value)
    with local_clinic() as clinic:
        _no_child_secrets(Path(f"/proc/{clinic.process.pid}/environ").read_bytes())


def _children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


@pytest.mark.integration
def test_children_environment_of_playwrights_node_driver_and_chromium(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in CHILD_SECRETS.items():
        monkeypatch.setenv(name, value)
    asyncio.run(_driver_and_chromium_hold_no_secrets())


async def _driver_and_chromium_hold_no_secrets() -> None:
    from harness.config import RunOptions
    from scenarios.browser.launch import confined_playwright, launch_chromium

    before = set(_children_of(os.getpid()))
    async with confined_playwright() as playwright:
        drivers = [p for p in _children_of(os.getpid()) if p not in before]
        assert drivers, "Playwright's driver process was not found"
        browser = await launch_chromium(playwright, RunOptions().chromium)
        try:
            browsers = [c for d in drivers for c in _children_of(d)]
            assert browsers, "Chromium was not found under the driver"
            for pid in drivers + browsers:
                _no_child_secrets(Path(f"/proc/{pid}/environ").read_bytes())
        finally:
            await browser.close()


# -- a short Unleash outage, a full disk --------------------------------------------------------


def _watch_plan(tmp_path: Path, **changes: object):
    from flags.watch import WatchPlan

    fields: dict[str, object] = {
        "flag": FLAG,
        "env": "development",
        "interval": 1.0,
        "audit_path": tmp_path / "audit.jsonl",
        "backend_name": "fake",
        "rounds": 8,
        "disable_deadline": 20.0,
    }
    fields.update(changes)
    return WatchPlan(**fields)  # type: ignore[arg-type]


def test_short_unleash_outage_of_4s_does_not_end_the_watch(tmp_path: Path) -> None:
    from flags.watch import RoundDone, WatchFinished, watch
    from tests.watch.fakes import FakeBackend, FakeClock, ScriptedProbe

    clock, log = FakeClock(), []
    outage = (clock.now + 1.5, clock.now + 5.5)  # from round 2 on, four seconds

    class Flaky(FakeBackend):
        def _check(self) -> None:
            self.reachable = not outage[0] <= clock.now < outage[1]
            super()._check()

    backend = Flaky(log)
    events = list(watch(_watch_plan(tmp_path), ScriptedProbe(log), backend, clock, clock.sleep))
    assert events[-1] == WatchFinished("clean", 8, 100)
    assert [e.round for e in events if isinstance(e, RoundDone)] == list(range(1, 9))
    assert backend.enabled  # a clean watch leaves it on, and it was guarded throughout


def test_short_unleash_outage_past_the_deadline_fails_closed_with_exit_3(tmp_path: Path) -> None:
    from flags.watch import TargetLost, WatchFinished, watch
    from tests.watch.fakes import FakeBackend, FakeClock, ScriptedProbe

    clock, log = FakeClock(), []
    down_from = clock.now + 1.5

    class Gone(FakeBackend):
        def _check(self) -> None:
            self.reachable = clock.now < down_from
            super()._check()

    plan = _watch_plan(tmp_path, disable_deadline=5.0)
    events = list(watch(plan, ScriptedProbe(log), Gone(log), clock, clock.sleep))
    lost = next(e for e in events if isinstance(e, TargetLost))
    assert "flag backend unreachable" in lost.problem and lost.disabled_at is None
    assert events[-1] == WatchFinished("flag-still-on", 3, 100)


@pytest.mark.integration
def test_full_disk_during_the_kill_switch_exits_3_in_one_line_with_the_incident(
    tmp_path: Path,
) -> None:
    from flags.verdict import build_digest_of
    from tests.watch.test_watch_integration import chaperone_watch

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a tmpfs mount (root): {mounted.stderr.decode()[:80]}")
    try:
        backend = LocalBackend(disk / "flags-state.json")
        backend.enable(FLAG, "development", 100, build_digest_of("watched-build"))
        backend.ensure_clinic_file("development")
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while True:
                os.write(filler, b"\0" * 4096)
        os.close(filler)
        argv = ["--state", str(disk / "flags-state.json"), "--out", str(tmp_path / "out")]
        done = chaperone_watch(
            tmp_path, *argv, "--faults", "switch-recording-misattribution",
            "--interval", "0.5", "--rounds", "2", "--disable-deadline", "2",
        )  # fmt: skip
        assert done.returncode == 3, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        said = [line for line in done.stdout.splitlines() if "No space left" in line]
        assert said and "could NOT be" in said[0].replace("\n", "")
        assert backend.status(FLAG, "development").enabled  # still on: it said so, exit 3
        incident = json.loads((tmp_path / "out" / "incident.json").read_text())
        assert incident["disabled_at"] is None and "No space left" in incident["disable_error"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# -- the browser's requests are confined to the target -------------------------------------------


def _server(page: bytes, seen: list[str]):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = page if self.path == "/" else b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if self.path == "/" else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.integration
def test_browser_requests_outside_the_target_are_blocked_and_counted() -> None:
    from harness.models import Actor
    from scenarios.browser.launch import confined_playwright, launch_chromium
    from scenarios.browser.user import BrowserUser

    elsewhere_seen: list[str] = []
    elsewhere = _server(b"", elsewhere_seen)
    other = f"127.0.0.1:{elsewhere.server_address[1]}"
    port = elsewhere.server_address[1]
    page = (
        f'<img src="http://{other}/pixel.png"><script src="http://localhost:{port}/x.js">'
        f'</script><script>fetch("http://{other}/api/leak")</script><img src="/own.png">'
    ).encode()
    target_seen: list[str] = []
    target = _server(page, target_seen)
    url = f"http://127.0.0.1:{target.server_address[1]}"

    async def visit() -> dict[str, int]:
        async with confined_playwright() as playwright:
            browser = await launch_chromium(playwright, "/usr/bin/chromium")
            try:
                user = await BrowserUser.start(browser, Actor("p0", "patient"), url, 15_000)
                assert await user.goto("/") == 200
                await user.page.wait_for_timeout(1_000)
                return dict(user.blocked)
            finally:
                await browser.close()

    try:
        blocked = asyncio.run(visit())
    finally:
        elsewhere.shutdown()
        target.shutdown()
    assert elsewhere_seen == []  # nothing reached the other origin
    assert blocked.get("127.0.0.1", 0) >= 2 and blocked.get("localhost", 0) >= 1
    assert "/own.png" in target_seen  # the target's own resources still load


def test_browser_same_origin_rule() -> None:
    from scenarios.browser.user import same_origin

    assert same_origin("http://127.0.0.1:8000/x", "http://127.0.0.1:8000")
    assert same_origin("https://clinic.staging.example/a", "https://CLINIC.staging.example:443")
    assert not same_origin("http://127.0.0.1:8001/x", "http://127.0.0.1:8000")
    assert not same_origin("https://127.0.0.1:8000/x", "http://127.0.0.1:8000")
    assert not same_origin("http://localhost:8000/x", "http://127.0.0.1:8000")
    assert not same_origin("http://evil.example/?127.0.0.1:8000", "http://127.0.0.1:8000")


def test_children_environment_operator_additions_never_pass_a_secret() -> None:
    from harness.childenv import child_env

    base = {
        "PATH": "/bin",
        "CHAPERONE_CHILD_ENV": "HTTPS_PROXY, MY_CA_*, MY_TOKEN",
        "HTTPS_PROXY": "http://127.0.0.1:3128",
        "MY_CA_BUNDLE": "/etc/ca.pem",
        "MY_TOKEN": "x-4321",  # secret-shaped: never, even when listed
        "OTHER": "y",
    }
    assert set(child_env(base=base)) == {
        "PATH",
        "CHAPERONE_CHILD_ENV",
        "HTTPS_PROXY",
        "MY_CA_BUNDLE",
    }
    base["HTTPS_PROXY"] = "http://u:pw-4321@proxy.internal:3128"
    assert "HTTPS_PROXY" not in child_env(base=base)
