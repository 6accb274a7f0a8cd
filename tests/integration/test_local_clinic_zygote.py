"""The local clinic started by a fork server (as a selftest's runs start theirs): it is the
same real clinic, the process that asked for it is charged its CPU time, and it dies with
that process, kill -9 included."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.childenv import child_env
from harness.local_clinic import local_clinic
from harness.zygote_client import ZYGOTE_ENV, ForkedProcess, Zygote, spawn, start_zygote

pytestmark = pytest.mark.integration


REQUESTER = """
import sys, time
from harness.local_clinic import local_clinic
with local_clinic() as clinic:
    print(clinic.url, type(clinic.process).__name__, flush=True)
    if sys.argv[1] == "burn":  # keeps its clinic busy for 3 s, then says what it spent itself
        import httpx
        end = time.monotonic() + 3
        with httpx.Client() as client:
            while time.monotonic() < end:
                client.get(clinic.url + "/api/me")
        print(time.process_time(), flush=True)
    else:
        time.sleep(600)
"""


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    """Serves `chaperone` and `zrequester` (REQUESTER: a process that starts a local clinic)."""
    code = tmp_path_factory.mktemp("zygote")
    (code / "zrequester.py").write_text(REQUESTER)
    env = child_env({"PYTHONPATH": str(code)})
    preload = ("chaperone.cli", "clinic.cli")
    with start_zygote(("chaperone", "zrequester"), preload, env, code / "zygote.log") as z:
        yield z


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_clinic_comes_from_the_server_and_stops_with_the_block(
    zygote: Zygote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ZYGOTE_ENV, zygote.path)
    with local_clinic(faults=("recording-idor",)) as clinic:
        assert isinstance(clinic.process, ForkedProcess)
        assert answers(clinic.url)
        faults = httpx.get(f"{clinic.url}/healthz", timeout=5).json()
        assert faults.get("faults") == ["recording-idor"], faults
    assert clinic.process.returncode is not None and not answers(clinic.url)
    assert clinic.process.cpu_seconds > 0


def test_without_a_server_it_falls_back_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ZYGOTE_ENV, str(tmp_path / "gone"))
    with local_clinic() as clinic:
        assert isinstance(clinic.process, subprocess.Popen) and answers(clinic.url)
    assert "the clinic was started the ordinary way" in capsys.readouterr().err


def test_a_requester_killed_with_9_takes_its_clinic_with_it(zygote: Zygote, tmp_path: Path) -> None:
    env = child_env({ZYGOTE_ENV: zygote.path})
    requester = subprocess.Popen(
        [sys.executable, "-c", REQUESTER, "sleep"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert requester.stdout is not None
    url, kind = requester.stdout.readline().split()
    assert kind == "ForkedProcess" and answers(url)
    requester.kill()
    requester.wait()
    deadline = time.monotonic() + 20
    while answers(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not answers(url), "the clinic outlived the process that asked for it"


def test_a_forked_requester_is_charged_its_clinics_cpu(zygote: Zygote, tmp_path: Path) -> None:
    """A run started by the server pays for the clinic it asked the server for, so a
    selftest's per-run CPU time stays whole."""
    out = tmp_path / "out"
    env = child_env({ZYGOTE_ENV: zygote.path})
    with out.open("wb") as sink:
        requester = spawn(
            zygote.path,
            [sys.executable, "-m", "zrequester", "burn"],
            env,
            stdout=sink.fileno(),
            stderr=sink.fileno(),
        )
    assert requester.wait(60) == 0, out.read_text()
    lines = out.read_text().split()
    assert lines[1] == "ForkedProcess", lines
    own = float(lines[-1])
    # 3 s of requests cost the clinic well over 0.3 CPU-s.
    assert requester.cpu_seconds > own + 0.3, (requester.cpu_seconds, own)
