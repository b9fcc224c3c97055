"""The dev servers running for this user: each `siao serve` in dev writes a small file
(its pid, address and data folder) into a per-user state folder while it serves, so that
`siao token` can tell when it signs with another data folder's key than a running server's
(its token would be refused at request time, 401).

The folder is `SIAO_STATE_DIR` if set, else the user's state folder (on Linux
`~/.local/state/si-siao-graph/servers`). A file whose process is gone (killed outright) is
ignored and removed by the next reader; a pid given since to another process is told apart
by its start time."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import psutil

STATE_DIR_VARIABLE = "SIAO_STATE_DIR"


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_state_dir("si-siao-graph", appauthor=False)) / "servers"


@dataclass(frozen=True)
class RunningServer:
    pid: int
    started: float  # the process's start time (psutil), which a reused pid does not have
    url: str
    data_dir: Path

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return (
                abs(process.create_time() - self.started) < 1.0
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


@contextlib.contextmanager
def announced(url: str, data_dir: Path) -> Iterator[Path]:
    """While the block runs, this process is listed as a dev server of `data_dir`."""
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    path = folder / f"{pid}.json"
    state = {
        "pid": pid,
        "started": psutil.Process(pid).create_time(),
        "url": url,
        "dataDir": str(data_dir.resolve()),
    }
    path.write_text(json.dumps(state) + "\n")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def running_servers() -> list[RunningServer]:
    """The dev servers listed and still running (files of gone processes are removed)."""
    folder = state_dir()
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            state = json.loads(path.read_text())
            server = RunningServer(
                int(state["pid"]),
                float(state["started"]),
                str(state["url"]),
                Path(state["dataDir"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or not ours: not a reason to fail a command
        if server.alive():
            found.append(server)
        else:
            path.unlink(missing_ok=True)
    return found
