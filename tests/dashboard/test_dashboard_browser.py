"""The dashboard in real Chromium against a real `chaperone controller serve` (file backend):
a release manager enables with a passing verdict, a viewer cannot, a revoked build's enable
says why it is refused, the grid shows a flag switched off without a reload, and an admin's pin
change waits for a second admin. Screenshots of each page go to
$CHAPERONE_TEST_ARTIFACTS/dashboard (default test-artifacts/dashboard)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from flags.backends.local import LocalBackend
from tests.dashboard.screen import on_first_screen
from tests.dashboard.served import FLAG, Served, artifacts, chaperone, chromium, serve, sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GOOD = "12" * 32
BAD = "34" * 32
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path) as controller:
        controller.pin()
        yield controller


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _flag_page(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/dashboard/flags/{FLAG}")


def _env(page: Page, env: str):  # type: ignore[no-untyped-def]
    return page.locator(f'section.env[data-env="{env}"]')


def _enable(page: Page, env: str, verdict: Path, reason: str) -> None:
    section = _env(page, env)
    section.get_by_label("Verdict file (verdict.json from the gate)").set_input_files(verdict)
    section.get_by_label("Reason").first.fill(reason)
    section.get_by_role("button", name=f"Enable {env}").click()


def _no_overflow(page: Page) -> None:
    wide = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert wide <= 1, f"page is {wide}px wider than the viewport"


def _every_control_labelled(page: Page) -> None:
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, textarea, select, button'))
            .filter(el => el.type !== 'hidden')
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !(el.tagName === 'BUTTON' && el.textContent.trim()))
            .map(el => el.outerHTML.slice(0, 120))"""
    )
    assert unlabelled == []


def test_a_release_manager_enables_a_flag_with_a_passing_verdict(
    served: Served, browser: Browser
) -> None:
    shots = artifacts()
    login = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login.goto(f"{served.url}/dashboard/")
    expect(login.get_by_label("Controller token")).to_be_visible()
    _every_control_labelled(login)
    login.screenshot(path=str(shots / "login.png"))
    login.context.close()

    page = sign_in(browser, served, "rita")
    _flag_page(page, served)
    _every_control_labelled(page)
    _enable(page, "production", served.verdict("build-1", GOOD), "CAB approved release 1")
    expect(page.get_by_role("status").first).to_contain_text("Enabled video-switch in production")
    production = _env(page, "production")
    expect(production.locator(".state")).to_have_text("ON 100%")
    expect(production).to_contain_text("build-1")
    expect(production).to_contain_text(f"sha256:{GOOD}")
    expect(production).to_contain_text("Current verdict")
    page.screenshot(path=str(shots / "flag-release-manager.png"), full_page=True)
    status = served.api("vic", "GET", f"/v1/flags/{FLAG}").json()
    assert status["approved"]["production"]["enabled"] is True
    audit = served.api("vic", "GET", "/v1/audit", params={"flag": FLAG}).json()
    intent = [r for r in audit["rows"] if r["action"] == "enable-intent"][-1]
    assert intent["actor"] == "rita" and intent["detail"]["reason"] == "CAB approved release 1"
    assert audit["intact"]

    page.goto(f"{served.url}/dashboard/")
    cell = page.locator(f'td[data-cell="{FLAG}|production"]')
    expect(cell).to_contain_text("ON 100%")
    expect(cell).to_contain_text("build-1")
    # What is on, where, for which build, on what evidence: the grid's first screen says it.
    expect(cell).to_contain_text("verdict pass")
    expect(cell).to_contain_text("expires in")
    on_first_screen(cell, page.locator(f'th[scope="row"] a[href$="/{FLAG}"]'))
    page.screenshot(path=str(shots / "grid-1280.png"))
    page.goto(f"{served.url}/dashboard/audit")
    expect(page.locator("table.audit")).to_contain_text("✓ verified")
    page.screenshot(path=str(shots / "audit.png"), full_page=True)

    phone = sign_in(browser, served, "rita")
    phone.set_viewport_size(PHONE)
    phone.goto(f"{served.url}/dashboard/")
    expect(phone.locator(f'td[data-cell="{FLAG}|production"]')).to_be_visible()
    _no_overflow(phone)
    phone.screenshot(path=str(shots / "grid-phone.png"), full_page=True)
    _flag_page(phone, served)
    _no_overflow(phone)
    phone.screenshot(path=str(shots / "flag-phone.png"), full_page=True)


def test_a_viewer_cannot_enable(served: Served, browser: Browser) -> None:
    page = sign_in(browser, served, "vic")
    _flag_page(page, served)
    production = _env(page, "production")
    button = production.get_by_role("button", name="Enable production")
    expect(button).to_be_disabled()
    expect(production.get_by_role("button", name="Disable production")).to_be_disabled()
    expect(page.locator("#readonly-note")).to_contain_text("see everything and change nothing")
    page.screenshot(path=str(shots_dir() / "flag-viewer.png"), full_page=True)
    # Switched-off controls in the page are not the guard: a forged form post is refused too.
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    forged = page.request.post(
        f"{served.url}/dashboard/flags/{FLAG}/envs/production/disable",
        form={"csrf": csrf or "", "reason": "just looking"},
        headers={"Origin": served.url},
    )
    assert forged.status == 403
    assert "may not" in forged.text()
    assert not served.api("vic", "GET", f"/v1/flags/{FLAG}").json()["approved"]


def test_a_revoked_builds_enable_explains_why_it_is_refused(
    served: Served, browser: Browser
) -> None:
    page = sign_in(browser, served, "rita")
    _flag_page(page, served)
    form = page.locator("form", has=page.get_by_role("button", name="Revoke"))
    form.get_by_label("Artefact digest (sha256)").fill(BAD)
    form.get_by_label("Reason").fill("leak found in staging")
    form.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").first).to_contain_text("Revoked artefact")
    verdict = served.verdict("build-bad", BAD)
    production = _env(page, "production")
    production.get_by_label("Verdict file (verdict.json from the gate)").set_input_files(verdict)
    button = production.get_by_role("button", name="Enable production")
    expect(button).to_be_disabled()
    why = production.locator(".why").first
    expect(why).to_contain_text("build-bad")
    expect(why).to_contain_text("is revoked for this flag")
    page.screenshot(path=str(shots_dir() / "flag-revoked-refused.png"), full_page=True)

    # Without JavaScript the controller's own refusal is what the person reads.
    plain = sign_in(browser, served, "rita", java_script_enabled=False)
    _flag_page(plain, served)
    _enable(plain, "production", verdict, "try anyway")
    alert = plain.get_by_role("alert")
    expect(alert).to_contain_text("is revoked")
    expect(alert).to_contain_text("gate and enable a new build")
    assert not served.api("vic", "GET", f"/v1/flags/{FLAG}").json()["approved"]


def test_the_grid_shows_a_flag_switched_off_without_a_reload(
    served: Served, browser: Browser
) -> None:
    rita = sign_in(browser, served, "rita")
    _flag_page(rita, served)
    _enable(rita, "production", served.verdict("build-1", GOOD), "release 1")
    expect(_env(rita, "production").locator(".state")).to_have_text("ON 100%")

    grid = sign_in(browser, served, "vic")
    cell = grid.locator(f'td[data-cell="{FLAG}|production"]')
    expect(cell.locator(".state")).to_have_text("ON 100%")
    grid.evaluate("window.__sameDocument = true")
    # Revoked from the command line by the release manager: the controller turns it off.
    chaperone(
        "flags",
        "revoke",
        FLAG,
        "--digest",
        GOOD,
        "--controller",
        served.url,
        token=served.tokens["rita"],
    )
    expect(cell.locator(".state")).to_have_text("OFF", timeout=15_000)
    expect(grid.locator("#live")).to_contain_text(f"{FLAG} in production is now off")

    # Turned on behind the controller's back in the flag store: self-heal turns it off and
    # the grid shows the drift, still without a reload.
    LocalBackend(served.tmp / "flags-state.json").enable(FLAG, "development")
    development = grid.locator(f'td[data-cell="{FLAG}|development"]')
    expect(development).to_contain_text("drift-disabled", timeout=15_000)
    expect(development.locator(".state")).to_have_text("OFF")
    assert grid.evaluate("window.__sameDocument") is True
    grid.screenshot(path=str(shots_dir() / "grid-after-off.png"))


def test_an_admins_pin_change_waits_for_a_second_admin(served: Served, browser: Browser) -> None:
    alice = sign_in(browser, served, "alice")
    _flag_page(alice, served)
    pinned = alice.locator("#pinned-policy").inner_text()
    alice.get_by_text("Propose a pin change").click()
    alice.get_by_label("Policy digest (sha256 of the release policy)").fill("cd" * 32)
    alice.get_by_label("Gate public key(s), PEM (gate.pub)").fill(
        (served.tmp / "policy" / "gate.pub").read_text()
        if (served.tmp / "policy" / "gate.pub").exists()
        else _gate_pub()
    )
    alice.locator("#propose-reason").fill("policy v2: fuzz required")
    alice.get_by_role("button", name="Propose").click()
    expect(alice.get_by_role("status").first).to_contain_text("waits for a second admin")
    proposal = alice.locator("li[data-proposal]")
    expect(proposal).to_contain_text("Waiting for a second admin")
    expect(proposal.get_by_role("button", name="Approve")).to_be_disabled()
    expect(proposal).to_contain_text("a second admin must approve it (four eyes)")
    assert alice.locator("#pinned-policy").inner_text() == pinned
    alice.screenshot(path=str(shots_dir() / "flag-pin-waiting.png"), full_page=True)

    bob = sign_in(browser, served, "bob")
    _flag_page(bob, served)
    waiting = bob.locator("li[data-proposal]")
    number = waiting.get_attribute("data-proposal")
    waiting.get_by_label(re.compile("Reason")).fill("reviewed policy v2")
    waiting.get_by_role("button", name="Approve").click()
    expect(bob.get_by_role("status").first).to_contain_text(f"Pin proposal {number} approved")
    expect(bob.locator("#pinned-policy")).to_have_text("cd" * 32)


def _gate_pub() -> str:
    from tests.flags.conftest import SIGNING

    return SIGNING.public().pem().decode()


def shots_dir() -> Path:
    return artifacts()


CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const text = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!text || style.visibility === 'hidden' || el.getClientRects().length === 0) continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24
      || (parseFloat(style.fontSize) >= 18.6 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      bad.push(el.tagName + ' ' + ratio.toFixed(2) + ' ' + el.textContent.trim().slice(0, 40));
    }
  }
  return bad;
}"""


def test_keyboard_labels_and_contrast_on_every_page(served: Served, browser: Browser) -> None:
    page = sign_in(browser, served, "vic")
    page.goto(f"{served.url}/dashboard/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    # The flag's link is reachable by Tab and opens with Enter.
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == FLAG:
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/dashboard/flags/{FLAG}")
    for path in (
        "/dashboard/",
        f"/dashboard/flags/{FLAG}",
        "/dashboard/incidents",
        "/dashboard/audit",
        "/dashboard/tokens",
    ):
        for viewer in ("vic", "alice"):
            p = page if viewer == "vic" else sign_in(browser, served, viewer)
            p.goto(f"{served.url}{path}")
            _every_control_labelled(p)
            assert p.evaluate(CONTRAST) == [], path
    page.goto(f"{served.url}/dashboard/incidents")
    page.screenshot(path=str(shots_dir() / "incidents-empty.png"), full_page=True)


def test_a_release_manager_starts_at_a_stage_and_raises_it(
    tmp_path: Path, browser: Browser
) -> None:
    stages = [{"percent": 25, "watch_seconds": 1}, {"percent": 100, "watch_seconds": 1}]
    with serve(tmp_path, policy={"rollout_stages": stages}) as served:
        served.pin()
        page = sign_in(browser, served, "rita")
        _flag_page(page, served)
        production = _env(page, "production")
        production.get_by_label("Start at stage (% of users)").fill("25")
        _enable(page, "production", served.verdict("build-s", GOOD), "canary at 25%")
        expect(production.locator(".state")).to_have_text("ON 25%")
        time.sleep(1.5)  # the 25% stage's watch time
        page.reload()
        production = _env(page, "production")
        why = production.locator(".stage-form .why")
        expect(why).to_contain_text("The next stage (100%) may be raised to now")
        stage = production.get_by_label("New stage (% of users)")
        expect(stage).to_have_value("100")
        production.locator(".stage-form").get_by_label("Reason").fill("25% clean for its watch")
        production.get_by_role("button", name="Set stage").click()
        expect(page.get_by_role("status").first).to_contain_text("is at 100% now")
        expect(_env(page, "production").locator(".state")).to_have_text("ON 100%")
        page.screenshot(path=str(shots_dir() / "flag-stage-raised.png"), full_page=True)
        rollout = LocalBackend(served.tmp / "flags-state.json").status(FLAG, "production")
        assert rollout.enabled and rollout.rollout == 100
