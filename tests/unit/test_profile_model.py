"""Target profiles: one YAML, a committed JSON Schema, one-line errors that say how to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.profile import SCHEMA_PATH, load_profile, profile_schema_text
from harness.profile.template import acting, render, render_value, route_of

ROOT = Path(__file__).resolve().parents[2]
VAMPI = ROOT / "examples" / "targets" / "vampi.yaml"


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text() == profile_schema_text(), (
        "run `chaperone profile schema --write` and commit the schema"
    )
    assert json.loads(SCHEMA_PATH.read_text())["title"] == "Chaperone target profile"


def test_built_in_and_example_profiles_load() -> None:
    assert load_profile("clinic").profile.name == "clinic"
    vampi = load_profile(VAMPI)
    assert vampi.profile.name == "vampi" and len(vampi.digest) == 64


def test_the_vampi_profile_is_short_and_has_no_python() -> None:
    lines = VAMPI.read_text().splitlines()
    assert len(lines) <= 80
    assert not list(VAMPI.parent.glob("*.py"))


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def _vampi_with(tmp_path: Path, old: str, new: str) -> Path:
    text = VAMPI.read_text()
    assert old in text
    return _profile(tmp_path, text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  relogin:", "  relgoin:", "unknown field 'auth.relgoin' (did you mean 'relogin'?)"),
        ("    owner: user", "    owner: admin", "names role 'admin', which is not defined"),
        ("{get: /me}", "{gte: /me}", "a step names exactly one HTTP method"),
        ("capture: {token: /auth_token}", "capture: {token: auth_token}", "must start with '/'"),
        ("each: book", "each: bok", "names entity or resource 'bok', which is not defined"),
        ("each: book", "each: books", "(did you mean 'book'?"),
    ],
)
def test_mistakes_are_one_line_with_the_fix(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile(_vampi_with(tmp_path, old, new))
    assert message in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_yaml_on_as_a_key_is_caught(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="reads as a boolean"):
        load_profile(_profile(tmp_path, "name: x\non: y\n"))


def test_an_unknown_built_in_lists_the_real_ones() -> None:
    with pytest.raises(ConfigError, match="built-in: clinic"):
        load_profile("clnic")


def test_templates_keep_types_and_name_what_is_missing() -> None:
    scope = {"user": {"id": 7, "name": "Ada"}, "token": "t"}
    assert render_value({"id": "{{user.id}}", "who": "{{ user.name }}!"}, scope) == {
        "id": 7,
        "who": "Ada!",
    }
    assert render("Bearer {{token}}", scope) == "Bearer t"
    with pytest.raises(ConfigError, match=r"\{\{user.email\}\} has no value here; user has: id"):
        render("{{user.email}}", scope)
    assert route_of("get", "/api/recordings/{{recording.id}}/media?x=1") == (
        "GET /api/recordings/{recording_id}/media"
    )


def test_env_placeholders_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_SECRET", "s3")
    assert render("{{env.APP_SECRET}}", {}) == "s3"
    monkeypatch.delenv("APP_SECRET")
    with pytest.raises(ConfigError, match="export APP_SECRET"):
        render("{{env.APP_SECRET}}", {})


def _customers(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    """vampi.yaml with its role called `customer`, whose steps say {{customer.*}}."""
    text = VAMPI.read_text().replace("  user:\n    count", "  customer:\n    count")
    text = text.replace("owner: user", "owner: customer").replace("{{user.", "{{customer.")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return _profile(tmp_path, text)


def _line(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_role_is_named_by_its_own_name_in_placeholders(tmp_path: Path) -> None:
    loaded = load_profile(_customers(tmp_path))
    assert list(loaded.profile.roles) == ["customer"]
    scope = acting("customer", {"username": "ada"})
    assert render("{{customer.username}}/{{user.username}}", scope) == "ada/ada"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'password: "{{customer.password}}"',
            'password: "{{custmer.password}}"',
            "unknown placeholder {{custmer.password}} (did you mean 'customer'?",
        ),
        (
            "/books/v1/{{book.book_title}}",
            "/books/v1/{{books.book_title}}",
            "unknown placeholder {{books.book_title}} (did you mean 'book'?",
        ),
        (
            'username: "{{customer.username}}"',
            'username: "{{customer.usrname}}"',
            "unknown placeholder {{customer.usrname}} (did you mean 'username'? customer has:",
        ),
        ("Bearer {{token}}", "Bearer {{tokn}}", "(did you mean 'token'?"),
    ],
)
def test_an_unknown_placeholder_names_its_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = _customers(tmp_path, (old, new))
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    line = caught.value.one_line()
    assert message in line and "\n" not in line
    assert f"{path}, line {_line(path, new)}:" in line


def test_a_role_may_not_shadow_another_placeholder(tmp_path: Path) -> None:
    path = _customers(
        tmp_path,
        ("  customer:\n    count", "  book:\n    count"),
        ("owner: customer", "owner: book"),
    )
    with pytest.raises(ConfigError, match=r"roles.book: 'book' is also a resource"):
        load_profile(path)


# The switch suite's scenarios are profile data; the clinic's eleven are in its profile.
CLINIC_SCENARIOS = (
    "switch-mid-call",
    "repeated-switches",
    "switch-back-to-audio",
    "rejoin-after-switch",
    "switch-near-end",
    "concurrent-switch-storm",
    "consent-withdrawn",
    "recording-deleted",
    "patient-transferred",
    "care-ended",
    "look-around",
)


def test_the_clinics_scenarios_come_from_its_profile() -> None:
    from scenarios.switch import all_scenarios

    clinic = load_profile("clinic").profile
    scenarios = all_scenarios(clinic.scenarios)
    assert tuple(s.name for s in scenarios) == CLINIC_SCENARIOS
    mid_call = scenarios[0]
    assert mid_call.phases == ("join", "pause:0.05", "switch_to_video", "look", "end", "look")
    browser = [s.name for s in scenarios if s.browser]
    assert browser == [*CLINIC_SCENARIOS[:4], "look-around"]


def test_a_profile_without_scenarios_still_gets_look_around() -> None:
    from scenarios.switch import all_scenarios

    vampi = load_profile(str(VAMPI)).profile
    assert [(s.name, s.phases) for s in all_scenarios(vampi.scenarios)] == [
        ("look-around", ("look",))
    ]


def test_scenario_names_are_unique_and_phases_name_flows() -> None:
    clinic = load_profile("clinic").profile
    doc = clinic.model_dump(by_alias=True, exclude_none=True)
    twice = {**doc, "scenarios": [*doc["scenarios"], doc["scenarios"][0]]}
    with pytest.raises(ValueError, match="'switch-mid-call' twice"):
        type(clinic).model_validate(twice)
    typo = {**doc, "scenarios": [{"name": "x", "phases": ["join", "swtich_to_video"]}]}
    with pytest.raises(ValueError, match="did you mean 'switch_to_video'"):
        type(clinic).model_validate(typo)
