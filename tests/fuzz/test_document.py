"""Which operations the fuzz suite may send, and which it must never send."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.profile import load_profile
from harness.profile.model import TargetProfile
from scenarios.fuzz.document import Plan, load_document, not_applicable, plan_operations
from tests.fuzz.worlds import VAMPI_DOCUMENT, VAMPI_PROFILE, clinic_document, clinic_profile

DEFAULT_METHODS = ("GET", "HEAD", "OPTIONS", "POST")


def _reasons(plan: Plan) -> dict[str, str]:
    return {s.route: s.reason for s in plan.skipped}


def test_clinic_plan_never_sends_login_logout_or_support(tmp_path: Path) -> None:
    plan = plan_operations(clinic_document(tmp_path), clinic_profile(), DEFAULT_METHODS)
    reasons = _reasons(plan)
    assert "own login" in reasons["POST /api/login"]
    assert "unsafe" in reasons["POST /api/logout"]
    assert not any("/_support/" in r for r in plan.kept)
    assert "GET /api/recordings/{recording_id}" in plan.kept
    assert "POST /api/consultations/{consultation_id}/switch" in plan.kept
    # the document handed to Schemathesis holds exactly the kept operations
    sent = {f"{m.upper()} {p}" for p, item in plan.document["paths"].items() for m in item}
    assert sent == set(plan.kept)
    assert "POST /api/login" not in sent and "POST /api/logout" not in sent


def test_clinic_plan_never_changes_relations_behind_the_oracles_back(tmp_path: Path) -> None:
    """A fuzzed transfer or discharge would change who may see what with no record of it in
    the ownership model: every later read would be misjudged (it made the clean clinic's
    clinicians 'miss' the appointments of patients the fuzzer had discharged)."""
    plan = plan_operations(clinic_document(tmp_path), clinic_profile(), DEFAULT_METHODS)
    reasons = _reasons(plan)
    for route in (
        "POST /api/clinician/patients/{patient_id}/transfer",
        "POST /api/clinician/patients/{patient_id}/discharge",
        "POST /api/recordings/{recording_id}/consent",
    ):
        assert route not in plan.kept
        assert "changes who may see what" in reasons[route], reasons[route]


def test_vampi_plan_keeps_the_database_and_the_users() -> None:
    profile = load_profile(VAMPI_PROFILE).profile
    document = yaml.safe_load(VAMPI_DOCUMENT.read_text())
    plan = plan_operations(document, profile, DEFAULT_METHODS)
    reasons = _reasons(plan)
    assert "unsafe" in reasons["GET /createdb"]  # wipes the database
    assert "own login" in reasons["POST /users/v1/login"]
    assert "not in fuzz_methods" in reasons["DELETE /users/v1/{username}"]
    assert "not in fuzz_methods" in reasons["PUT /users/v1/{username}/password"]
    assert "GET /books/v1/{book_title}" in plan.kept
    assert "/createdb" not in plan.document["paths"]
    assert "DELETE" not in plan.probes and "PUT" not in plan.probes
    assert set(plan.probes) <= set(DEFAULT_METHODS)


def test_named_methods_are_sent() -> None:
    profile = load_profile(VAMPI_PROFILE).profile
    document = yaml.safe_load(VAMPI_DOCUMENT.read_text())
    plan = plan_operations(document, profile, (*DEFAULT_METHODS, "DELETE"))
    assert "DELETE /users/v1/{username}" in plan.kept
    assert "DELETE" in plan.probes


def _profile(**extra: object) -> TargetProfile:
    return TargetProfile.model_validate(
        {
            "name": "toy",
            "roles": {
                "user": {"count": 2, "fields": {"username": {"kind": "username", "public": True}}}
            },
            "auth": {"login": [{"post": "/login", "json": {"u": "{{user.username}}"}}]},
            **extra,
        }
    )


def test_a_probe_never_reaches_an_unsafe_operation_on_a_kept_path() -> None:
    document = {
        "openapi": "3.0.0",
        "servers": [{"url": "http://example.test/api/v2"}],
        "paths": {
            "/things": {"get": {"responses": {}}, "post": {"responses": {}}},
            "/other": {"get": {"responses": {}}},
        },
    }
    plan = plan_operations(document, _profile(unsafe=["POST /api/v2/things"]), DEFAULT_METHODS)
    assert plan.base_path == "/api/v2"
    assert plan.kept == ("GET /api/v2/other", "GET /api/v2/things")
    assert "POST" not in plan.probes  # a wrong-method POST to /things would be the unsafe one
    assert "GET" in plan.probes


def test_profile_routes_match_whatever_the_parameter_is_called() -> None:
    document = {"openapi": "3.0.0", "paths": {"/reset/{tenant_id}": {"get": {"responses": {}}}}}
    profile = _profile(reset=[{"get": "/reset/{{run.tag}}"}])
    plan = plan_operations(document, profile, DEFAULT_METHODS)
    assert plan.kept == ()
    assert "unsafe" in _reasons(plan)["GET /reset/{tenant_id}"]


def test_without_a_document_the_suite_is_not_applicable() -> None:
    reason = not_applicable(_profile())
    assert reason is not None and "not applicable" in reason and "discover" in reason
    assert not_applicable(_profile(discover={"openapi": "/openapi.json"})) is None


def test_document_from_a_file_next_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("openapi: 3.0.0\npaths: {/x: {get: {responses: {}}}}\n")
    assert "/x" in load_document("api.yaml", "http://unused", tmp_path)["paths"]
    with pytest.raises(ConfigError, match="cannot read the OpenAPI document"):
        load_document("missing.yaml", "http://unused", tmp_path)
