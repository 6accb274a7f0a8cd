"""The targeted plan, from the clinic's fault catalog: every planted fault has a row (or the
default), each row names real scenarios and options `chaperone run` accepts, and the clean runs
cover every suite the fault runs use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from chaperone.run_cmd import run_command
from clinic.faults import FAULTS, SHOWS, catalog
from harness.engine import REPEATED_SUITES
from harness.errors import ConfigError
from harness.profile import load_profile
from scenarios.switch import all_scenarios
from selftest.catalog import FaultCatalog, Shows, read_catalog
from selftest.plan import (
    CLEAN_GROUP,
    CLEAN_SUITES,
    FUZZ_EXAMPLES,
    PlannedRun,
    SelftestPlan,
    seed_groups,
)

CATALOG = read_catalog(catalog())

SUITES = {"switch", "access", "stateful", "load", "fuzz", "browser"}


def clinic_plan(**fields: object) -> SelftestPlan:
    """A plan on the clinic's own catalog."""
    return SelftestPlan(catalog=CATALOG, **fields)  # type: ignore[arg-type]


def by_name(plan: SelftestPlan) -> dict[str, PlannedRun]:
    return {f"{r.name}/{r.part}": r for r in plan.runs()}


def population(run: PlannedRun) -> tuple[int, int]:
    counts = dict(run.population)
    return counts["patients"], counts["clinicians"]


def test_every_catalog_fault_has_a_row() -> None:
    assert set(FAULTS) == set(SHOWS), "say where the new fault shows in clinic.faults.SHOWS"
    assert set(CATALOG.faults) == set(FAULTS)


def test_the_catalog_is_what_the_clinic_cli_prints() -> None:
    """`chaperone clinic faults --json` is the same catalog the selftest is handed."""
    from typer.testing import CliRunner

    from clinic.cli import app

    printed = CliRunner().invoke(app, ["faults", "--json"])
    assert printed.exit_code == 0, printed.output
    assert read_catalog(json.loads(printed.stdout)) == CATALOG


def test_a_fault_without_a_row_gets_switch_and_access_with_every_scenario() -> None:
    bare = FaultCatalog(
        faults={"a-new-fault": {"description": "new"}},  # type: ignore[dict-item]
        population={"patients": 3, "clinicians": 2},
    )
    assert bare.shows("a-new-fault") == Shows()
    plan = SelftestPlan(catalog=bare, faults=("a-new-fault",), clean_seeds=(0,))
    run = by_name(plan)["a-new-fault/main"]
    assert run.suites == ("switch", "access") and run.scenarios == ()
    assert population(run) == (3, 2)


def test_a_fault_outside_the_catalog_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the catalog: no-such-fault"):
        clinic_plan(faults=("no-such-fault",))


def test_a_malformed_catalog_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r"faults\.x\.shows\.extra_seeds"):
        read_catalog({"faults": {"x": {"shows": {"extra_seeds": -1}}}})
    with pytest.raises(ConfigError, match="quick names faults the catalog lacks: y"):
        read_catalog({"faults": {"x": {}}, "quick": ["y"]})


def test_rows_name_real_suites_and_scenarios() -> None:
    known = {s.name for s in all_scenarios(load_profile("clinic").profile.scenarios)}
    assert set(CATALOG.warm_up) <= known
    for fault in CATALOG.faults:
        row = CATALOG.shows(fault)
        assert set(row.suites) <= SUITES, fault
        assert set(row.scenarios) <= known, fault
        patients, clinicians = dict(CATALOG.population_of(row)).values()
        assert patients >= 2 and clinicians >= 1, fault


def test_relation_faults_have_two_clinicians() -> None:
    runs = by_name(clinic_plan(faults=tuple(FAULTS), clean_seeds=(0,)))
    for fault in ("transfer-keeps-old-access", "discharge-keeps-access"):
        assert population(runs[f"{fault}/main"])[1] >= 2


def test_targeted_rows() -> None:
    runs = by_name(clinic_plan(faults=tuple(FAULTS), clean_seeds=(0,)))
    assert runs["switch-race/main"].suites == ("load",)
    assert runs["transfer-keeps-old-access/main"].scenarios == ("patient-transferred",)
    assert runs["list-scope-lost-after-first-page/main"].suites == ("switch",)
    assert len(runs["list-scope-lost-after-first-page/main"].scenarios) == 6
    neighbour = runs["recording-idor-neighbour/main"]
    assert neighbour.suites == ("access",)
    assert (*population(neighbour), neighbour.extra_seeds) == (20, 4, 2)
    assert runs["appointments-leak-on-rejoin/main"].scenarios == ("rejoin-after-switch",)


def test_single_request_faults_get_a_fuzz_only_run() -> None:
    runs = by_name(clinic_plan(faults=tuple(FAULTS), clean_seeds=(0,)))
    fuzzed = {r.name for r in runs.values() if r.part == "fuzz" and r.kind == "fault"}
    assert {
        "switch-recording-misattribution",
        "recordings-unscoped-after-switch",
        "recording-idor",
        "clinician-scope-leak",
        "media-token-unbound",
        "export-unscoped",
        "search-unscoped",
    } <= fuzzed
    assert "mail-wrong-recipient" not in fuzzed
    for name in fuzzed:
        assert runs[f"{name}/fuzz"].suites == ("fuzz",)


def test_clean_runs_default_to_20_seeds_and_show_every_used_suite_once() -> None:
    plan = clinic_plan(faults=tuple(FAULTS))
    clean = [r for r in plan.runs() if r.kind == "clean"]
    main = [r for r in clean if r.part == "main"]
    covered = [seed for r in main for seed in r.seeds]
    assert sorted(covered) == list(range(20)), "every seed once"
    first = by_name(plan)
    assert first["seeds-0-3/main"].suites == ("switch", "access", "stateful")
    assert first["seed-0/load"].suites == ("load",) and first["seed-0/fuzz"].suites == ("fuzz",)
    for run in main:
        assert run.scenarios == () and population(run) == (3, 2)
        if run.seed:
            assert run.suites == ("switch", "access")
    used = {s for r in plan.runs() if r.kind == "fault" for s in r.suites}
    assert used <= {s for r in clean for s in r.suites}


def test_clean_seeds_share_runs_in_consecutive_groups() -> None:
    """A run covers at most CLEAN_GROUP consecutive seeds (`--seed` and `--extra-seeds`);
    a gap in the seeds starts a new run."""
    plan = clinic_plan(faults=("recording-idor",), clean_seeds=(0, 1, 2, 3, 4, 5, 9, 10, 12))
    main = [r for r in plan.runs() if r.kind == "clean" and r.part == "main"]
    assert [r.seeds for r in main] == [(0, 1, 2, 3), (4, 5), (9, 10), (12,)]
    assert [r.name for r in main] == ["seeds-0-3", "seeds-4-5", "seeds-9-10", "seed-12"]
    assert main[1].label == "clean seeds 4-5, switch+access"
    assert seed_groups((3, 2, 1), CLEAN_GROUP) == [(3,), (2,), (1,)]


def test_extra_seeds_repeat_every_clean_suite() -> None:
    """A grouped run's later seeds are scored on `switch@seed=N` and `access@seed=N`: that
    holds only while `chaperone run` repeats every clean suite under its extra seeds."""
    assert set(CLEAN_SUITES) <= set(REPEATED_SUITES)


def test_a_small_plan_runs_on_clean_only_what_its_faults_used() -> None:
    plan = clinic_plan(faults=("recording-idor", "mail-wrong-recipient"), clean_seeds=(0,))
    clean = {f"{r.name}/{r.part}": r.suites for r in plan.runs() if r.kind == "clean"}
    assert clean == {"seed-0/main": ("switch", "access"), "seed-0/fuzz": ("fuzz",)}


def test_browser_goes_to_seed_0_and_the_two_faults_it_can_see() -> None:
    plan = clinic_plan(faults=tuple(FAULTS), clean_seeds=(0, 1), browser=True)
    with_browser = {f"{r.name}/{r.part}" for r in plan.runs() if "browser" in r.suites}
    assert with_browser == {
        "switch-recording-misattribution/main",
        "recordings-unscoped-after-switch/main",
        "seeds-0-1/main",
    }


def test_arguments_carry_the_row(tmp_path: Path) -> None:
    runs = by_name(clinic_plan(faults=tuple(FAULTS), clean_seeds=(0,)))
    args = runs["recording-idor-neighbour/main"].arguments(tmp_path)
    assert "--suite=access" in args and "--faults=recording-idor-neighbour" in args
    assert {"--patients=20", "--clinicians=4", "--extra-seeds=2"} <= set(args)
    assert f"--out={tmp_path}" in args
    fuzz = runs["recording-idor/fuzz"].arguments(tmp_path)
    assert f"--fuzz-examples={FUZZ_EXAMPLES}" in fuzz and "--suite=fuzz" in fuzz
    assert any(a.startswith("--fuzz-seconds=") for a in fuzz)
    # fuzz alone, in its time bound, has no heavy owner; a fault's own runs keep theirs
    # unless the catalog says it needs none (the neighbour's leak is about pairs)
    assert "--population=heavy=0" in fuzz and "--population=heavy=0" in args
    heavy = runs["deep-page-leak/main"].arguments(tmp_path)
    assert "--population=heavy=0" not in heavy
    assert "--population=heavy=0" not in runs["seed-0/main"].arguments(tmp_path)
    assert "--population=heavy=0" in runs["seed-0/fuzz"].arguments(tmp_path)
    assert any(
        a.startswith("--load-seconds=") for a in runs["switch-race/main"].arguments(tmp_path)
    )
    assert not any(a.startswith("--faults") for a in runs["seed-0/main"].arguments(tmp_path))
    # A selftest asks whether a fault is caught: its stateful runs never shrink the failure.
    stateful = runs["switch-recording-misattribution/main"].arguments(tmp_path)
    assert "--suite=stateful" in stateful and "--shrink-seconds=0" in stateful
    assert "--shrink-seconds=0" not in args
    grouped = by_name(clinic_plan(faults=("recording-idor",), clean_seeds=(4, 5, 6)))
    assert {"--seed=4", "--extra-seeds=2"} <= set(grouped["seeds-4-6/main"].arguments(tmp_path))


def test_a_fault_in_real_calls_media_runs_with_them_and_so_does_a_clean_run() -> None:
    runs = by_name(clinic_plan(faults=("media-preroll-shared",), clean_seeds=(3,)))
    assert "--media=real" in runs["media-preroll-shared/main"].arguments(Path("out"))
    # No heavy owner in real calls' runs: media faults live in calls, not in long lists.
    assert "--population=heavy=0" in runs["media-preroll-shared/main"].arguments(Path("out"))
    assert "--population=heavy=0" in runs["seed-3/media"].arguments(Path("out"))
    assert runs["media-preroll-shared/main"].label.endswith("switch with real calls")
    clean = runs["seed-3/media"]
    assert (clean.kind, clean.suites, clean.scenarios, clean.media) == (
        "clean",
        ("switch",),
        (),
        "real",
    )
    assert not [
        r for r in runs.values() if r.media == "real" and r.kind == "clean" and r is not clean
    ]
    header_only = by_name(clinic_plan(faults=("recording-idor",), clean_seeds=(3,)))
    assert all(r.media == "header" for r in header_only.values())


@pytest.mark.parametrize("browser", [False, True])
def test_chaperone_run_accepts_every_planned_command_line(browser: bool, tmp_path: Path) -> None:
    """Parsed by the real `chaperone run` command (nothing runs): an option the plan emits
    that `run` lacks would make every such run an infrastructure error."""
    single = typer.Typer()
    single.command("run")(run_command)
    command = typer.main.get_command(single)
    for run in clinic_plan(faults=tuple(FAULTS), clean_seeds=(0, 1), browser=browser).runs():
        params = command.make_context("run", run.arguments(tmp_path)).params
        assert tuple(params["suite"]) == run.suites
        assert tuple(params["scenario"] or ()) == run.scenarios
        assert params["extra_seeds"] == run.extra_seeds
        assert params["media"] == run.media


def test_longest_runs_are_estimated_longest() -> None:
    runs = by_name(clinic_plan(faults=tuple(FAULTS)))
    assert runs["recording-idor-neighbour/main"].cost() > runs["seeds-4-7/main"].cost()
    assert runs["seeds-4-7/main"].cost() > runs["mail-wrong-recipient/main"].cost()


def test_every_media_fault_in_the_catalog_runs_with_real_calls() -> None:
    media = ("media-preroll-shared", "media-tracks-crossed")
    assert all(SHOWS[name].get("media") == "real" for name in media)
    runs = by_name(clinic_plan(faults=media, clean_seeds=(0,)))
    for name in media:
        assert "--media=real" in runs[f"{name}/main"].arguments(Path("out"))
    assert runs["seed-0/media"].media == "real"
