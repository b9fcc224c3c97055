"""`siao serve` as a subprocess of a benchmark: a temp workspace and dev settings, a free
port, the server ready before the load, stopped (its whole process group) whatever
happens. Used by bench.throughput and bench.run.
"""

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

from auth.settings import Environment, Settings
from auth.tokens import load_or_create_dev_key
from bench.database import Database

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
READY_TIMEOUT = 60.0  # seconds for `siao serve` to answer /health/ready
POLL_INTERVAL = 0.1
STOP_TIMEOUT = 15.0


@contextlib.contextmanager
def workspace() -> Iterator[tuple[Path, Settings]]:
    """A temp folder (deleted at the end) for the server's data, and dev settings whose
    signing key exists before the workers start: they would otherwise race to create it."""
    with tempfile.TemporaryDirectory(prefix="siao-bench-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(env=Environment.DEV, data_dir=data_dir)
        load_or_create_dev_key(settings)
        yield data_dir, settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def siao_command() -> list[str]:
    """The `siao` console script next to this interpreter, else `python -m cli`."""
    script = Path(sys.executable).parent / "siao"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "cli"]


@dataclass(frozen=True, slots=True)
class RunningServer:
    base: str
    port: int
    workers: int
    pgid: int  # its own process group: the `siao serve` parent and its uvicorn workers
    db: Database


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def server(db: Database, data_dir: Path, workers: int) -> Iterator[RunningServer]:
    """`siao serve` on a free port, ready (/health/ready said 200); stopped at the end
    (SIGTERM, then SIGKILL of its process group) whatever happens."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db.url, SIAO_DATA_DIR=str(data_dir), SIAO_ENV="dev")
    env["SIAO_STATE_DIR"] = str(data_dir / "state")  # not listed among the user's dev servers
    # the server runs the code of this tree (the editable install may point at another one)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    log_path = data_dir / "server.log"
    command = [*siao_command(), "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, measured and stopped as one
        )
    try:
        running = RunningServer(f"http://{HOST}:{port}", port, workers, proc.pid, db)
        wait_ready(proc, running.base, log_path)
        yield running
    finally:
        stop_process(proc)


def wait_ready(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"siao serve exited with code {proc.returncode} before being ready:\n"
                    + _tail(log_path)
                )
            try:
                response = client.get(f"{base}/health/ready")
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            time.sleep(POLL_INTERVAL)
    raise RuntimeError(
        f"siao serve not ready after {READY_TIMEOUT:.0f}s ({last}):\n" + _tail(log_path)
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    # workers left behind by a parent that died first (same process group, started by us)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
