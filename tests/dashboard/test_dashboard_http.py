"""The dashboard at the HTTP level: sign-in and its cookie, CSRF on every form, role checks,
and actions that go through the controller's own decisions and audit."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from controller.app import create_app
from controller.guard import Watcher
from controller.store import audit, guard_actions, pins, tokens
from flags.watch import ProbeResult
from tests.clinic.testclient import TestClient
from tests.dashboard.conftest import FLAG, Dash, World
from tests.watch.fakes import ScriptedProbe, leak

Make = Callable[..., Dash]
ENABLE = f"/dashboard/flags/{FLAG}/envs/production/enable"
DISABLE = f"/dashboard/flags/{FLAG}/envs/production/disable"


def _enable(d: Dash, world: World, reason: str = "release 42", **overrides: object):
    return d.client.post(
        ENABLE,
        data={"csrf": d.csrf(), "reason": reason},
        files={"verdict": ("verdict.json", world.envelope(**overrides), "application/json")},
        follow_redirects=False,
    )


def _rows(world: World, action: str) -> list[dict[str, object]]:
    with world.controller.engine.connect() as conn:
        found = conn.execute(select(audit).where(audit.c.action == action)).all()
    return [{"actor": r.actor, "env": r.env, **json.loads(r.detail)} for r in found]


def test_pages_need_a_session_and_login_sets_a_strict_httponly_secure_cookie(
    world: World, dash: Make
) -> None:
    d = dash()
    assert d.client.get("/dashboard/", follow_redirects=False).headers["location"] == (
        "/dashboard/login"
    )
    page = d.client.get("/dashboard/login")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    bad = d.client.post("/dashboard/login", data={"token": "chc_nope", "nonce": nonce})
    assert bad.status_code == 401
    assert "not valid" in bad.text
    nonce = re.search(r'name="nonce" value="([^"]+)"', bad.text).group(1)  # type: ignore[union-attr]
    done = d.client.post(
        "/dashboard/login",
        data={"token": world.tokens["rita"], "nonce": nonce},
        follow_redirects=False,
    )
    assert done.status_code == 303
    cookie = next(
        v for k, v in done.headers.multi_items() if k == "set-cookie" and "chaperone_session" in v
    )
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    assert world.tokens["rita"] not in cookie  # the cookie never holds the token itself
    assert "Signed in as rita" in d.client.get("/dashboard/").text


def test_login_without_the_forms_nonce_is_refused(world: World, dash: Make) -> None:
    d = dash()
    done = d.client.post(
        "/dashboard/login", data={"token": world.tokens["rita"]}, follow_redirects=False
    )
    assert done.status_code == 403
    assert "chaperone_session" not in done.headers.get("set-cookie", "")


def test_a_tampered_cookie_or_a_revoked_token_ends_the_session(world: World, dash: Make) -> None:
    d = dash("rita")
    value = d.client.cookies.get("chaperone_session")
    assert value
    body, _, mac = value.rpartition(".")
    d.client.cookies.clear()
    d.client.cookies.set("chaperone_session", body + "." + "0" * len(mac))
    assert d.client.get("/dashboard/", follow_redirects=False).status_code == 303
    d2 = dash("rita")
    assert d2.client.get("/dashboard/", follow_redirects=False).status_code == 200
    with world.controller.engine.begin() as conn:
        conn.execute(update(tokens).where(tokens.c.name == "rita").values(revoked=True))
    assert d2.client.get("/dashboard/", follow_redirects=False).status_code == 303
    assert d2.client.get("/dashboard/grid").status_code == 401


def test_a_ci_token_cannot_sign_in_or_read(world: World, dash: Make) -> None:
    d = dash()
    page = d.client.get("/dashboard/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = d.client.post("/dashboard/login", data={"token": world.tokens["ci"], "nonce": nonce})
    assert done.status_code == 403
    assert world.client.get("/v1/flags", headers=world.as_("ci")).status_code == 403
    assert world.client.get("/v1/flags").status_code == 401
    assert world.client.get("/v1/flags", headers=world.as_("vic")).status_code == 200


def test_forms_without_the_sessions_csrf_token_or_from_another_origin_are_refused(
    world: World, dash: Make
) -> None:
    world.pin()
    d = dash("rita")
    assert _enable(d, world).status_code == 303
    assert world.on()
    for data, headers in (
        ({"reason": "no token"}, {}),
        ({"reason": "wrong token", "csrf": "x" * 32}, {}),
        ({"reason": "other site", "csrf": d.csrf()}, {"Origin": "https://evil.example"}),
    ):
        refused = d.client.post(DISABLE, data=data, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, data
        assert world.on()
    # another signed-in person's CSRF token is not this session's
    other = dash("alice").csrf()
    assert d.client.post(DISABLE, data={"reason": "x" * 5, "csrf": other}).status_code == 403
    ok = d.client.post(
        DISABLE, data={"reason": "pager says so", "csrf": d.csrf()}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert not world.on()
    assert _rows(world, "disable-intent")[-1]["reason"] == "pager says so"


def test_a_release_manager_enables_with_a_verdict_and_the_audit_keeps_reason_and_evidence(
    world: World, dash: Make
) -> None:
    world.pin()
    d = dash("rita")
    done = _enable(d, world, reason="release 42 approved in CAB")
    assert done.status_code == 303, done.text
    assert world.on()
    intent = _rows(world, "enable-intent")[-1]
    assert intent["actor"] == "rita"
    assert intent["reason"] == "release 42 approved in CAB"
    assert intent["verdict"]["result"] == "pass"  # type: ignore[index]
    page = d.client.get(f"/dashboard/flags/{FLAG}").text
    assert "Enabled video-switch in production" in page
    assert "build-2026.11.26-abc123" in page
    grid = world.client.get("/v1/flags", headers=world.as_("vic")).json()
    cell = grid["flags"][0]["cells"]["production"]
    assert cell["state"] == "on" and cell["digest"] == "ab" * 32
    assert cell["verdict"]["expires_in_seconds"] > 0


def test_a_viewer_sees_everything_and_changes_nothing(world: World, dash: Make) -> None:
    world.pin()
    assert _enable(dash("rita"), world).status_code == 303
    v = dash("vic")
    page = v.client.get(f"/dashboard/flags/{FLAG}").text
    assert "<fieldset disabled" in page
    assert "can see everything and change nothing" in page
    refused = v.client.post(DISABLE, data={"reason": "curious", "csrf": v.csrf()})
    assert refused.status_code == 403
    assert "may not" in refused.text
    assert world.on()
    assert _enable(v, world).status_code == 403
    assert _rows(world, "disable-intent") == []


def test_every_action_needs_a_reason(world: World, dash: Make) -> None:
    world.pin()
    d = dash("rita")
    refused = _enable(d, world, reason="  ")
    assert refused.status_code == 400
    assert "needs a reason" in refused.text
    assert not world.on()


def test_a_revoked_builds_enable_is_refused_with_the_reason_shown(world: World, dash: Make) -> None:
    world.pin()
    d = dash("rita")
    revoked = d.client.post(
        f"/dashboard/flags/{FLAG}/revocations",
        data={"digest": "AB" * 32, "reason": "leak in canary", "csrf": d.csrf()},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    refused = _enable(d, world)
    assert refused.status_code == 409
    assert "is revoked" in refused.text and 'role="alert"' in refused.text
    assert not world.on()
    # the page hands the revoked digests to the enable form, for the browser's own check
    assert f'data-revoked="{"ab" * 32}"' in refused.text


def test_a_pin_change_waits_for_a_second_admin(world: World, dash: Make) -> None:
    world.pin()
    with world.controller.engine.connect() as conn:
        before = conn.execute(select(pins.c.policy_digest)).scalar_one()
    alice = dash("alice")
    new_policy = "cd" * 32
    proposed = alice.client.post(
        f"/dashboard/flags/{FLAG}/pin-proposals",
        data={
            "policy_digest": new_policy,
            "keys": world.audit_key.public().pem().decode(),
            "reason": "policy v2",
            "csrf": alice.csrf(),
        },
        follow_redirects=False,
    )
    assert proposed.status_code == 303, proposed.text
    page = alice.client.get(f"/dashboard/flags/{FLAG}").text
    assert "Waiting for a second admin" in page
    assert "a second admin must approve it" in page
    number = int(re.search(r'data-proposal="(\d+)"', page).group(1))  # type: ignore[union-attr]
    own = alice.client.post(
        f"/dashboard/flags/{FLAG}/pin-proposals/{number}/approve",
        data={"reason": "me again", "csrf": alice.csrf()},
    )
    assert own.status_code == 409 and "four eyes" in own.text
    with world.controller.engine.connect() as conn:
        assert conn.execute(select(pins.c.policy_digest)).scalar_one() == before
    rita = dash("rita")
    assert (
        rita.client.post(
            f"/dashboard/flags/{FLAG}/pin-proposals/{number}/approve",
            data={"reason": "rm tries", "csrf": rita.csrf()},
        ).status_code
        == 403
    )
    bob = dash("bob")
    approved = bob.client.post(
        f"/dashboard/flags/{FLAG}/pin-proposals/{number}/approve",
        data={"reason": "reviewed policy v2", "csrf": bob.csrf()},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    with world.controller.engine.connect() as conn:
        assert conn.execute(select(pins.c.policy_digest)).scalar_one() == new_policy
    assert _rows(world, "pin-approved")[-1]["reason"] == "reviewed policy v2"


def test_the_audit_timeline_shows_a_rewritten_row(world: World, dash: Make) -> None:
    world.pin()
    timeline = world.client.get("/v1/audit", headers=world.as_("vic")).json()
    assert timeline["intact"] and all(r["verified"] for r in timeline["rows"])
    with world.controller.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.seq == 1).values(actor="mallory"))
    timeline = world.client.get("/v1/audit", headers=world.as_("vic")).json()
    assert not timeline["intact"]
    assert timeline["rows"][0]["problem"] == "rewritten"
    page = dash("vic").client.get("/dashboard/audit").text
    assert "NOT intact" in page and "✗ rewritten" in page


def test_a_watch_incident_lists_its_exposures_and_exports_csv(
    world: World, dash: Make, tmp_path: Path
) -> None:
    world.pin()
    d = dash("rita")
    assert _enable(d, world).status_code == 303
    probe = ScriptedProbe([], {1: ProbeResult((leak(observer="=HYPERLINK(evil)"),), switched=3)})
    watcher = Watcher(
        world.controller,
        tmp_path / "incidents",
        lambda _flag, _env: probe,
        interval=1.0,
        target="http://127.0.0.1:9",
    )
    watcher.probe_all()
    assert not world.on()

    v = dash("vic")
    page = v.client.get("/dashboard/incidents").text
    assert "p0" in page and "GET /api/me/recordings" in page
    assert "leak-detected → auto-disabled → revoked → incident-written" in page
    assert f"sha256:{'ab' * 32}" in page
    grid = v.client.get("/dashboard/grid").text
    cells = dict(re.findall(r'data-cell="video-switch\|(\w+)"(.*?)</td>', grid, re.S))
    assert "incident-written" in cells["production"]  # the grid's last trouble
    assert "last: auto-disabled by controller:watch" in cells["production"]
    # The revoke turned off production only: development's cell does not claim it.
    assert "revoked" not in cells["development"]
    csv = v.client.get("/dashboard/incidents.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].startswith("incident,flag,env,owner")
    assert ",production,p0,'=HYPERLINK(evil),patient name," in lines[1]
    incidents = world.client.get("/v1/incidents", headers=world.as_("vic")).json()["incidents"]
    assert incidents[0]["exposures"][0]["owner"] == "p0"
    assert incidents[0]["step"] == "done" and incidents[0]["verified"]
    assert dash().client.get("/dashboard/incidents.csv").status_code == 401


def test_what_went_wrong_is_one_line_per_root_cause_in_the_grid_and_the_incident(
    world: World, dash: Make, tmp_path: Path
) -> None:
    """Two patients' names shown to p2 at one look: one bug, one line, in the grid's cell and
    on top of the incident; an incident stored before the watch grouped its findings is
    grouped when read."""
    world.pin()
    assert _enable(dash("rita"), world).status_code == 303
    live = html.unescape(dash("vic").client.get(f"/dashboard/flags/{FLAG}").text)
    assert "none: 0 findings, 0 exposure(s) (only a clean verdict enables)" in live
    assert "grouped into root causes in the report" not in live
    leaks = (leak(owner="p0"), leak(owner="p1"))
    probe = ScriptedProbe([], {1: ProbeResult(leaks, switched=3)})
    Watcher(world.controller, tmp_path / "inc", lambda _f, _e: probe, target="http://x").probe_all()
    v = dash("vic")
    grid = v.client.get("/dashboard/grid").text
    cells = dict(re.findall(r'data-cell="video-switch\|(\w+)"(.*?)</td>', grid, re.S))
    production = html.unescape(cells["production"])
    assert "2 exposure(s), 2 user(s)' data reached 1" in production
    assert "What went wrong (1 root cause):" in production
    titles = re.findall(r"<li>(.*?)</li>", production)
    assert len(titles) == 1 and "first shown at" in titles[0], production
    assert "incident" not in cells["development"].lower()
    page = html.unescape(v.client.get("/dashboard/incidents").text)
    assert "What went wrong: 1 root cause" in page and titles[0] in page
    assert "Who was exposed to whom: 2 exposure(s)" in page
    flag_page = html.unescape(v.client.get(f"/dashboard/flags/{FLAG}").text)
    assert "What went wrong (1 root cause):" in flag_page and titles[0] in flag_page
    with world.controller.engine.begin() as conn:
        stored = json.loads(conn.execute(select(guard_actions.c.incident)).scalar_one())
        del stored["causes"]
        conn.execute(update(guard_actions).values(incident=json.dumps(stored)))
    again = html.unescape(v.client.get("/dashboard/incidents").text)
    assert "What went wrong: 1 root cause" in again and titles[0] in again


def test_a_watch_that_cannot_turn_a_flag_off_shows_as_an_alert(
    world: World, dash: Make, tmp_path: Path
) -> None:
    world.pin()
    assert _enable(dash("rita"), world).status_code == 303
    world.backend.failing_disables = 3
    probe = ScriptedProbe([], {1: ProbeResult((leak(),))})
    Watcher(
        world.controller, tmp_path / "incidents", lambda _f, _e: probe, target="http://x"
    ).probe_all()
    assert world.on()
    grid = dash("vic").client.get("/dashboard/").text
    assert 'id="alerts"' in grid and "may still be ON in production" in grid
    assert "responding to leak: disable next" in grid


def test_an_oversized_upload_is_refused_before_it_is_read(world: World, dash: Make) -> None:
    world.pin()
    d = dash("rita")
    huge = d.client.post(
        ENABLE,
        data={"csrf": d.csrf(), "reason": "big"},
        files={"verdict": ("verdict.json", b"[" * (2 * 1024 * 1024), "application/json")},
    )
    assert huge.status_code == 413
    missing = d.client.post(ENABLE, data={"csrf": d.csrf(), "reason": "no file"})
    assert missing.status_code == 400 and "choose the verdict file" in missing.text
    assert not world.on()


def test_stages_move_along_the_pinned_policy_with_a_reason(world: World, dash: Make) -> None:
    world.pin()
    d = dash("rita")
    started = d.client.post(
        ENABLE,
        data={"csrf": d.csrf(), "reason": "canary first", "rollout": "25"},
        files={"verdict": ("verdict.json", world.envelope(), "application/json")},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    assert world.backend.status(FLAG, "production").rollout == 25
    stage = f"/dashboard/flags/{FLAG}/envs/production/stage"
    jump = d.client.post(stage, data={"percent": "100", "reason": "hurry", "csrf": d.csrf()})
    assert jump.status_code == 409 and "raise one stage at a time" in jump.text
    early = d.client.post(stage, data={"percent": "50", "reason": "next", "csrf": d.csrf()})
    assert early.status_code == 409 and "of its 1800s watch" in early.text
    assert world.backend.status(FLAG, "production").rollout == 25
    viewer = dash("vic")
    assert (
        viewer.client.post(
            stage, data={"percent": "5", "reason": "nope", "csrf": viewer.csrf()}
        ).status_code
        == 403
    )
    lower = d.client.post(
        stage,
        data={"percent": "5", "reason": "error rate up", "csrf": d.csrf()},
        follow_redirects=False,
    )
    assert lower.status_code == 303
    assert world.backend.status(FLAG, "production").rollout == 5
    assert _rows(world, "stage-intent")[-1]["reason"] == "error rate up"
    grid = d.client.get("/dashboard/grid").text
    assert "ON 5%" in grid and "stage 1 of 4 (5/25/50/100%)" in grid
    page = d.client.get(f"/dashboard/flags/{FLAG}").text
    assert "The next stage (25%) may be raised to in" in page


def test_the_grid_says_whether_the_controllers_watch_covers_each_live_flag(
    world: World, dash: Make
) -> None:
    world.pin()
    assert _enable(dash("rita"), world).status_code == 303
    assert "NOT watched (no --watch-target)" in dash("vic").client.get("/dashboard/grid").text
    for envs, expected in (
        (["production"], "watched every 2 s"),
        (["development"], "NOT watched (not a --watch-env)"),
    ):
        served = create_app(world.controller, watch_every=2.0, watch_envs=envs)
        with TestClient(served, base_url="https://testserver") as client:
            d = Dash(world)
            d.client = client
            d.login("vic")
            cell = re.search(
                r'data-cell="video-switch\|production".*?</td>',
                d.client.get("/dashboard/grid").text,
                re.S,
            )
            assert cell and expected in cell.group(0)


def test_a_flag_store_that_does_not_answer_shows_unknown_and_the_page_still_renders(
    world: World, dash: Make, monkeypatch: object
) -> None:
    world.pin()
    assert _enable(dash("rita"), world).status_code == 303

    def down(_flag: str, _env: str) -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(world.backend, "status", down)  # type: ignore[attr-defined]
    d = dash("vic")
    grid = d.client.get("/dashboard/grid")
    assert grid.status_code == 200
    assert 'data-state="unknown"' in grid.text and "UNKNOWN" in grid.text
    assert d.client.get(f"/dashboard/flags/{FLAG}").status_code == 200


def test_an_admin_rotates_a_key_with_an_overlap_window(world: World, dash: Make) -> None:
    from flags.keys import new_signing_key
    from tests.flags.conftest import SIGNING

    world.pin()
    old, new = SIGNING.public(), new_signing_key().public()
    alice = dash("alice")
    propose = f"/dashboard/flags/{FLAG}/pin-proposals"
    form = {
        "policy_digest": world.bound.digest,
        "keys": old.pem().decode() + new.pem().decode(),
        "reason": "rotate the gate key",
    }
    half = alice.client.post(
        propose, data={**form, "rotate_keyid": old.keyid, "csrf": alice.csrf()}
    )
    assert half.status_code == 400 and "needs both" in half.text
    made = alice.client.post(
        propose,
        data={
            **form,
            "rotate_keyid": old.keyid,
            "rotate_until": "2099-01-01T00:00",
            "csrf": alice.csrf(),
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    bob = dash("bob")
    page = bob.client.get(f"/dashboard/flags/{FLAG}").text
    number = int(re.search(r'data-proposal="(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert "(until 2099-01-01 00:00:00 UTC)" in page
    done = bob.client.post(
        f"/dashboard/flags/{FLAG}/pin-proposals/{number}/approve",
        data={"reason": "checked both key ids", "csrf": bob.csrf()},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = bob.client.get(f"/dashboard/flags/{FLAG}").text
    assert "rotating out: verifies until 2099-01-01 00:00:00 UTC" in page
    assert new.keyid[:16] in page


def test_an_admin_lists_and_revokes_tokens_with_the_apis_checks_and_audit(
    world: World, dash: Make
) -> None:
    rita, alice = dash("rita"), dash("alice")
    assert "/dashboard/tokens" not in rita.client.get("/dashboard/").text  # admins' link only
    refused = rita.client.get("/dashboard/tokens")
    assert refused.status_code == 403 and "needs admin" in refused.text
    assert "data-token=" not in refused.text
    page = alice.client.get("/dashboard/tokens")
    assert page.status_code == 200 and 'href="/dashboard/tokens"' in page.text
    listed = dict(re.findall(r'data-token="(\w+)">\s*<td>\w+</td><td>([\w-]+)</td>', page.text))
    assert listed["rita"] == "release-manager" and listed["alice"] == "admin"
    assert world.tokens["rita"] not in page.text
    # A release manager's forged post is refused by the same check as the API's.
    forged = rita.client.post(
        "/dashboard/tokens/vic/revoke", data={"reason": "tidy up", "csrf": rita.csrf()}
    )
    assert forged.status_code == 403 and not _rows(world, "token-revoked")
    bare = alice.client.post("/dashboard/tokens/rita/revoke", data={"csrf": alice.csrf()})
    assert bare.status_code == 400 and "needs a reason" in bare.text
    done = alice.client.post(
        "/dashboard/tokens/rita/revoke",
        data={"reason": "left the team", "csrf": alice.csrf()},
        follow_redirects=False,
    )
    assert done.status_code == 303
    (row,) = _rows(world, "token-revoked")
    assert row["actor"] == "alice" and row["token"] == "rita" and row["reason"] == "left the team"
    assert world.client.get("/v1/flags", headers=world.as_("rita")).status_code == 401
    assert rita.client.get("/dashboard/", follow_redirects=False).status_code == 303  # signed out
    unknown = alice.client.post(
        "/dashboard/tokens/nobody/revoke", data={"reason": "typo?", "csrf": alice.csrf()}
    )
    assert unknown.status_code == 400 and "no token named" in unknown.text
