"""The fork server with real processes: a child is what `python -m MODULE` would have been,
its exit and CPU time come back, and no child outlives the process that asked for it, the
process that owns it, or the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.childenv import child_env
from harness.zygote_client import (
    ZYGOTE_ENV,
    ForkedProcess,
    Zygote,
    ZygoteUnavailable,
    spawn,
    start_zygote,
)

# A program the server runs as `python -m zfake ACTION ...`.
FAKE = """
import json, os, sys, time
action = sys.argv[1]
if action == "report":
    print(json.dumps({
        "argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
        "stdin": sys.stdin.read(), "session": os.getsid(0) == os.getpid(),
        "name": __name__,
    }), flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    sys.exit(int(sys.argv[2]))
if action == "burn":
    end = time.process_time() + float(sys.argv[2])
    while time.process_time() < end:
        pass
if action == "sleep":
    print("up", flush=True)
    time.sleep(600)
if action == "crash":
    raise RuntimeError("boom")
if action == "own":  # asks the server for a child of its own: ARGS..., and waits if told
    from harness.zygote_client import spawn
    kid = spawn(os.environ["CHAPERONE_ZYGOTE"], [sys.executable, "-m", "zfake", *sys.argv[3:]],
                dict(os.environ), stdout=1, stderr=2)
    print(json.dumps({"kid": kid.pid}), flush=True)
    if sys.argv[2] == "wait":
        kid.wait()
"""


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("zfake")
    (where / "zfake.py").write_text(textwrap.dedent(FAKE))
    return where


def env_for(code: Path, **extra: str) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    return child_env({"PYTHONPATH": f"{code}:{root}", **extra})


@pytest.fixture(scope="module")
def zygote(code: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    log = tmp_path_factory.mktemp("zlog") / "zygote.log"
    with start_zygote(("zfake",), ("json", "harness.zygote_client"), env_for(code), log) as z:
        yield z


def start(
    zygote: Zygote, code: Path, *args: str, out: Path, err: Path | None = None, **env: str
) -> ForkedProcess:
    argv = [sys.executable, "-m", "zfake", *args]
    environment = env_for(code, **{ZYGOTE_ENV: zygote.path, **env})
    with out.open("wb") as o, (err or out).open("wb") as e:
        return spawn(
            zygote.path,
            argv,
            environment,
            cwd=str(out.parent),
            stdout=o.fileno(),
            stderr=e.fileno(),
        )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is not alive
        return stat.read().split(")")[-1].split()[0] != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for(path: Path, text: str, seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)
    return path.read_text()


def test_the_child_is_what_python_dash_m_would_have_been(
    zygote: Zygote, code: Path, tmp_path: Path
) -> None:
    out, err = tmp_path / "out", tmp_path / "err"
    process = start(zygote, code, "report", "3", out=out, err=err, ONLY="this")
    assert process.wait(30) == 3 and process.returncode == 3
    seen = json.loads(out.read_text())
    assert seen["name"] == "__main__" and seen["argv"][1:] == ["report", "3"]
    assert seen["argv"][0].endswith("zfake.py")
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"] == env_for(code, ONLY="this", **{ZYGOTE_ENV: zygote.path})
    assert seen["stdin"] == "" and seen["session"] is True
    assert err.read_text() == "to stderr\n"


def test_an_uncaught_exception_exits_1_with_its_traceback(
    zygote: Zygote, code: Path, tmp_path: Path
) -> None:
    process = start(zygote, code, "crash", out=tmp_path / "out")
    assert process.wait(30) == 1
    assert "RuntimeError: boom" in (tmp_path / "out").read_text()


def test_cpu_time_comes_back_and_includes_what_a_child_owned(
    zygote: Zygote, code: Path, tmp_path: Path
) -> None:
    alone = start(zygote, code, "burn", "0.4", out=tmp_path / "alone")
    assert alone.wait(30) == 0 and 0.4 <= alone.cpu_seconds < 2
    owner = start(zygote, code, "own", "wait", "burn", "0.6", out=tmp_path / "owner")
    assert owner.wait(30) == 0
    # The kid was the server's child, not the owner's, yet its time is the owner's.
    assert owner.cpu_seconds >= 0.6, owner.cpu_seconds


def test_what_a_child_owned_is_stopped_before_its_exit_is_reported(
    zygote: Zygote, code: Path, tmp_path: Path
) -> None:
    out = tmp_path / "owner"
    owner = start(zygote, code, "own", "nowait", "sleep", out=out)
    kid = json.loads(wait_for(out, "kid").splitlines()[0])["kid"]
    assert owner.wait(30) == 0
    assert not alive(kid)  # the owner's exit came only once its kid had gone


def test_a_child_dies_with_the_connection_that_asked_for_it(
    zygote: Zygote, code: Path, tmp_path: Path
) -> None:
    process = start(zygote, code, "sleep", out=tmp_path / "out")
    wait_for(tmp_path / "out", "up")
    assert alive(process.pid)
    process.close()  # as if the client had died
    assert gone_within(process.pid, 15)


def test_a_killed_child_reports_its_signal(zygote: Zygote, code: Path, tmp_path: Path) -> None:
    process = start(zygote, code, "sleep", out=tmp_path / "out")
    wait_for(tmp_path / "out", "up")
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(30) == -signal.SIGKILL


def test_requests_it_does_not_serve_are_refused(zygote: Zygote, tmp_path: Path) -> None:
    with pytest.raises(ZygoteUnavailable, match="is not one this server runs"):
        spawn(zygote.path, [sys.executable, "-m", "os"], {}, cwd=str(tmp_path))
    with pytest.raises(ZygoteUnavailable, match="no directory"):
        spawn(zygote.path, [sys.executable, "-m", "zfake"], {}, cwd=str(tmp_path / "nope"))
    with pytest.raises(ZygoteUnavailable, match="did not start"):
        spawn(str(tmp_path / "no-socket"), [sys.executable, "-m", "zfake"], {})


def test_children_die_with_the_server_even_by_kill_9(code: Path, tmp_path: Path) -> None:
    with start_zygote(("zfake",), (), env_for(code), tmp_path / "z.log") as zygote:
        process = start(zygote, code, "sleep", out=tmp_path / "out")
        wait_for(tmp_path / "out", "up")
        os.kill(zygote.pid, signal.SIGKILL)
        assert gone_within(process.pid, 15)
        assert process.wait(15) == -signal.SIGKILL  # its exit code went with the server
    assert zygote.cpu_seconds > 0


def test_stopping_the_server_stops_its_children(code: Path, tmp_path: Path) -> None:
    with start_zygote(("zfake",), (), env_for(code), tmp_path / "z.log") as zygote:
        process = start(zygote, code, "sleep", out=tmp_path / "out")
        wait_for(tmp_path / "out", "up")
    assert process.wait(5) == -signal.SIGTERM
    assert not alive(process.pid)


def test_a_preload_that_starts_a_thread_keeps_the_server_from_starting(
    code: Path, tmp_path: Path
) -> None:
    (code / "zthread.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True)"
        ".start()\n"
    )
    with (
        pytest.raises(ZygoteUnavailable, match="did not get ready"),
        start_zygote(("zfake",), ("zthread",), env_for(code), tmp_path / "z.log"),
    ):
        pass
    assert "threads after the preload; forking is unsafe" in (tmp_path / "z.log").read_text()


def test_the_server_dies_with_whoever_started_it(code: Path, tmp_path: Path) -> None:
    """A parent killed with -9 gets no chance to stop its server: the kernel does."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from harness.zygote_client import start_zygote\n"
            f"with start_zygote(('zfake',), (), {env_for(code)!r}, Path({str(tmp_path)!r})"
            " / 'z.log') as z:\n"
            "    print(z.pid, flush=True)\n"
            "    time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        env=env_for(code),
    )
    assert parent.stdout is not None
    server = int(parent.stdout.readline())
    assert alive(server)
    parent.kill()
    parent.wait()
    assert gone_within(server, 15)
