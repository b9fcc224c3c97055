"""`siao serve` on the embedded PostgreSQL, as the process it is: whatever ends it
(SIGTERM, SIGINT, kill -9), no PostgreSQL of its data folder outlives it, or else the next
`siao serve` on that folder takes that PostgreSQL over and stops it in turn.

The real command runs in a subprocess, on a data folder of this module, with DATABASE_URL
removed from its environment whatever the test session uses (CI runs the suite with and
without it). The folder is initialised once; each test starts with no PostgreSQL running in
it and leaves none behind, even when it fails."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from auth.settings import Environment, Settings
from auth.tokens import load_or_create_dev_key
from models.embedded import start_embedded

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
# Safety nets for a loaded machine, never timing assertions.
START_SECONDS = 300.0  # a `--workers 2` start on a busy CI machine
STOP_SECONDS = 60.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Workspace:
    data_dir: Path  # SIAO_DATA_DIR
    pgdata: Path
    postmaster_pid: str  # postmaster.pid as a server of this folder wrote it


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    log: Path


def postgres_of(pgdata: Path) -> list[psutil.Process]:
    """The postmasters of this folder (its backends' command lines do not name it)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and any(str(pgdata) in arg for arg in cmdline):
            found.append(proc)
    return found


def the_postmaster(pgdata: Path) -> psutil.Process:
    running = postgres_of(pgdata)
    assert len(running) == 1, f"expected one postmaster of {pgdata}, found {running}"
    return running[0]


def assert_no_postgres_left(pgdata: Path) -> None:
    _, alive = psutil.wait_procs(postgres_of(pgdata), timeout=STOP_SECONDS)
    assert alive == [], f"PostgreSQL of {pgdata} still running: {alive}"
    assert postgres_of(pgdata) == []


def exit_code(served: Served) -> int:
    try:
        return served.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"siao serve did not exit:\n{tail(served.log)}")


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def kill_postgres_of(pgdata: Path) -> None:
    """Immediate shutdown (SIGQUIT: the postmaster stops its backends and removes its
    postmaster.pid), then SIGKILL for whatever did not exit."""
    postmasters = postgres_of(pgdata)
    everything = list(postmasters)
    for postmaster in postmasters:
        with contextlib.suppress(psutil.NoSuchProcess):
            everything += postmaster.children(recursive=True)
            postmaster.send_signal(signal.SIGQUIT)
    _, alive = psutil.wait_procs(everything, timeout=STOP_SECONDS)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=STOP_SECONDS)


@pytest.fixture(scope="module")
def initialised() -> Iterator[Workspace]:
    """A data folder whose cluster exists (initdb, the slow part, once), with the dev
    signing key the workers would otherwise race to create."""
    with tempfile.TemporaryDirectory(prefix="siao-process-") as tmp:
        data_dir = Path(tmp)
        pgdata = (data_dir / "pgdata").resolve()
        try:
            load_or_create_dev_key(Settings(env=Environment.DEV, data_dir=data_dir))
            server = start_embedded(data_dir)
            try:
                postmaster_pid = (pgdata / "postmaster.pid").read_text()
            finally:
                server.stop()
            yield Workspace(data_dir, pgdata, postmaster_pid)
        finally:
            kill_postgres_of(pgdata)


@pytest.fixture
def workspace(initialised: Workspace) -> Iterator[Workspace]:
    assert postgres_of(initialised.pgdata) == [], "a PostgreSQL of the folder is running"
    try:
        yield initialised
    finally:
        kill_postgres_of(initialised.pgdata)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(workspace: Workspace, *args: str) -> Iterator[Served]:
    """`siao serve` of this tree, ready (/health/ready said 200: database reachable,
    migrations current). Its process group (it and its workers) is killed at the end
    whatever happened; the PostgreSQL it started is not in that group (pg_ctl starts it
    in a session of its own)."""
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env |= {
        "SIAO_DATA_DIR": str(workspace.data_dir),
        "SIAO_ENV": "dev",
        "SIAO_STATE_DIR": str(workspace.data_dir / "state"),  # not the user's dev servers
    }
    port = free_port()
    log = workspace.data_dir / f"serve-{port}.log"
    command = [sys.executable, "-m", "cli", "serve", "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(process, log)
    try:
        wait_ready(served, f"http://{HOST}:{port}/health/ready")
        yield served
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_ready(served: Served, url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            try:  # the pause between two attempts, ended early if it exits
                code = served.process.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"siao serve exited ({code}) before being ready:\n{tail(served.log)}")
    pytest.fail(f"siao serve not ready in {START_SECONDS}s:\n{tail(served.log)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_stops_the_embedded_postgres_too(
    workspace: Workspace, sig: signal.Signals
) -> None:
    with serve(workspace) as served:
        the_postmaster(workspace.pgdata)  # running, and started by it
        served.process.send_signal(sig)
        assert exit_code(served) == 128 + sig
    assert_no_postgres_left(workspace.pgdata)


def test_after_kill_9_the_next_serve_takes_the_postgres_over_and_stops_it(
    workspace: Workspace,
) -> None:
    with serve(workspace) as killed:
        orphan = the_postmaster(workspace.pgdata)
        killed.process.kill()
        assert exit_code(killed) == -signal.SIGKILL
    assert orphan.is_running()  # nothing could stop it: the next start must
    with serve(workspace) as served:
        assert the_postmaster(workspace.pgdata) == orphan  # taken over, not a second one
        served.process.send_signal(signal.SIGTERM)
        assert exit_code(served) == 128 + signal.SIGTERM
    assert_no_postgres_left(workspace.pgdata)


def test_workers_stop_by_themselves_when_their_parent_is_killed(workspace: Workspace) -> None:
    """With --workers 2 the parent owns the server; the workers only connect to it. Were
    they to outlive a parent killed outright, they would hold the port, and connections to
    a server that the next `siao serve` takes over (the test above) and may stop."""
    with serve(workspace, "--workers", "2") as killed:
        workers = psutil.Process(killed.process.pid).children(recursive=True)
        assert len(workers) >= 2
        killed.process.kill()
        assert exit_code(killed) == -signal.SIGKILL
        _, alive = psutil.wait_procs(workers, timeout=STOP_SECONDS)
        assert alive == [], f"workers left running:\n{tail(killed.log)}"
        assert the_postmaster(workspace.pgdata).is_running()  # the workers did not stop it


def test_a_postmaster_pid_naming_another_process_is_removed_not_obeyed(
    workspace: Workspace,
) -> None:
    """After a crash and a restart of the machine, postmaster.pid may name a pid that
    another process now has. That process is neither taken for the server nor ended at
    exit; a server is started in its place."""
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        lines = workspace.postmaster_pid.splitlines(keepends=True)
        (workspace.pgdata / "postmaster.pid").write_text(f"{bystander.pid}\n{''.join(lines[1:])}")
        with serve(workspace) as served:  # ready: a server of its own answers
            served.process.send_signal(signal.SIGTERM)
            assert exit_code(served) == 128 + signal.SIGTERM
        assert bystander.poll() is None, "the bystander was ended"
        assert_no_postgres_left(workspace.pgdata)
    finally:
        assert bystander.stdin is not None
        bystander.stdin.close()
        bystander.wait(timeout=STOP_SECONDS)


def siao_token(workspace: Workspace, login: str) -> subprocess.CompletedProcess[str]:
    """`siao token --user LOGIN` as a developer runs it next to `siao serve`: the same data
    folder, no DATABASE_URL."""
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env |= {
        "SIAO_DATA_DIR": str(workspace.data_dir),
        "SIAO_ENV": "dev",
        "SIAO_STATE_DIR": str(workspace.data_dir / "state"),
    }
    command = [sys.executable, "-m", "cli", "token", "--user", login]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=START_SECONDS
    )


def test_token_checks_the_login_in_the_embedded_database_and_leaves_it_as_it_found_it(
    workspace: Workspace,
) -> None:
    """`siao token` checks the login in the database `siao serve` uses: the embedded one
    of the data folder. A running server's PostgreSQL is adopted and left running; with
    none running, it is started for the check and stopped again. (No demo is loaded here:
    no login is known.)"""
    with serve(workspace) as served:
        postmaster = the_postmaster(workspace.pgdata)
        done = siao_token(workspace, "siao.75@demo.siao")
        assert done.returncode == 2, done.stderr
        assert "no user in the embedded database of" in done.stderr
        assert done.stdout == ""
        assert the_postmaster(workspace.pgdata) == postmaster  # still the server's, running
        served.process.send_signal(signal.SIGTERM)
        assert exit_code(served) == 128 + signal.SIGTERM
    assert_no_postgres_left(workspace.pgdata)

    done = siao_token(workspace, "siao.75@demo.siao")
    assert done.returncode == 2, done.stderr
    assert "no user in the embedded database of" in done.stderr
    assert_no_postgres_left(workspace.pgdata)  # started for the check, stopped after it
