"""The `siao` command line as a developer meets it: `siao token` tells at once what would
only fail at request time (an unknown or inactive login, a duration that is not positive,
a data folder other than the running server's) and prints the Headers line of GraphiQL;
the generated files are written or checked by one helper; the bench says it runs from a
clone; the demo needs no Faker.

Tokens are minted in process against a fresh copy of the demo database (DATABASE_URL);
the running dev server is the real `siao serve`, in a subprocess. Each test lists running
servers in a state folder of its own (SIAO_STATE_DIR), never the user's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from starlette.applications import Starlette

from cli import bench as bench_commands
from cli import main
from cli.generated import GENERATED, Generated
from cli.running import STATE_DIR_VARIABLE
from models.demo_builder import DemoBuilder
from models.demo_names import FrozenNames, FrozenNamesExhausted, read_calls
from tests.conftest import _plain, http_client
from tests.test_process import HOST, STOP_SECONDS, Served, free_port, tail, wait_ready

REPO = Path(__file__).resolve().parents[1]
ME = {"query": "{ me { login } }"}


@pytest.fixture
def dev_env(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, database_url: str, tmp_path: Path
) -> Path:
    """`siao token`'s environment: dev, the tests' data folder (the key the `app` fixture
    verifies with), a fresh demo database, and a state folder of this test. Returns the
    state folder."""
    state = tmp_path / "state"
    monkeypatch.setenv("SIAO_ENV", "dev")
    monkeypatch.setenv("SIAO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(state))
    return state


def token_of(out: str) -> str:
    return out.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- siao token ------------------------------------------------------------------------


async def test_token_header_prints_the_line_for_graphiqls_headers_tab(
    dev_env: Path, app: Starlette, capsys: pytest.CaptureFixture[str]
) -> None:
    # in a thread: the command runs its own event loop, as it does from a shell
    assert await asyncio.to_thread(main, ["token", "--user", "siao.75@demo.siao", "--header"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    headers = json.loads(out)
    assert list(headers) == ["Authorization"]
    assert headers["Authorization"].startswith("Bearer ")
    assert out == json.dumps(headers) + "\n"  # one line, as GraphiQL's tab takes it
    async with http_client(app, headers) as client:
        response = await client.post("/graphql", json=ME)
    assert response.json()["data"]["me"]["login"] == "siao.75@demo.siao"


def test_token_refuses_an_unknown_login_and_suggests_the_close_ones(
    dev_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--user", "siao.57@demo.siao"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no token to paste
    assert "unknown login 'siao.57@demo.siao'" in err
    assert "Did you mean siao.75@demo.siao" in err


async def test_token_refuses_an_inactive_user(
    dev_env: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = await asyncpg.connect(_plain(database_url))
    try:
        await conn.execute("UPDATE users SET active = false WHERE login = 'sw.beta@demo.siao'")
    finally:
        await conn.close()
    assert await asyncio.to_thread(main, ["token", "--user", "sw.beta@demo.siao"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "sw.beta@demo.siao is inactive" in err


@pytest.mark.parametrize("hours", ["0", "-1", "nan", "inf"])
def test_token_refuses_a_duration_that_is_not_positive(
    dev_env: Path, capsys: pytest.CaptureFixture[str], hours: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["token", "--user", "siao.75@demo.siao", "--hours", hours])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "argument --hours:" in err


def test_token_warns_when_the_data_folder_has_no_database_to_check_the_login(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIAO_ENV", "dev")
    monkeypatch.setenv("SIAO_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "state"))
    assert main(["token", "--user", "siao.75@demo.siao"]) == 0
    out, err = capsys.readouterr()
    assert token_of(out).count(".") == 2
    assert "no database in" in err
    assert "the login is not checked" in err
    assert not (tmp_path / "fresh" / "pgdata").exists()  # no cluster made to check it


@contextlib.contextmanager
def dev_server(database_url: str, data_dir: Path, state: Path) -> Iterator[tuple[Served, str]]:
    """The real `siao serve` (dev) of this tree on a free port, ready; killed at the end."""
    port = free_port()
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "SIAO_DATA_DIR": str(data_dir),
        "SIAO_ENV": "dev",
        STATE_DIR_VARIABLE: str(state),
    }
    log = state.parent / f"serve-{port}.log"
    command = [sys.executable, "-m", "cli", "serve", "--host", HOST, "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = Served(process, log)
    base = f"http://{HOST}:{port}"
    try:
        wait_ready(served, f"{base}/health/ready")
        yield served, base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_token_warns_when_a_running_dev_server_uses_another_data_folder(
    dev_env: Path,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The signing key lives in the data folder: a token minted with another folder's key
    is refused by the server (401). `siao token` says so, and still prints it."""
    served_dir, other_dir = tmp_path / "served", tmp_path / "other"
    with dev_server(database_url, served_dir, dev_env) as (served, base):
        monkeypatch.setenv("SIAO_DATA_DIR", str(other_dir))
        assert main(["token", "--user", "siao.75@demo.siao"]) == 0
        out, err = capsys.readouterr()
        foreign = token_of(out)
        assert f"the dev server at {base}/graphql (pid {served.process.pid})" in err
        assert f"uses the data folder {served_dir.resolve()}" in err
        assert f"SIAO_DATA_DIR={served_dir.resolve()}" in err

        monkeypatch.setenv("SIAO_DATA_DIR", str(served_dir))
        assert main(["token", "--user", "siao.75@demo.siao"]) == 0
        out, err = capsys.readouterr()
        assert err == ""
        good = token_of(out)

        with httpx.Client(base_url=base, timeout=30) as client:
            refused = client.post(
                "/graphql", json=ME, headers={"Authorization": f"Bearer {foreign}"}
            )
            accepted = client.post("/graphql", json=ME, headers={"Authorization": f"Bearer {good}"})
        assert refused.status_code == 401
        assert accepted.json()["data"]["me"]["login"] == "siao.75@demo.siao"

        assert len(list(dev_env.glob("*.json"))) == 1
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"siao serve did not stop:\n{tail(served.log)}")
    assert list(dev_env.glob("*.json")) == []  # no longer listed once stopped


def test_token_ignores_and_removes_the_listing_of_a_server_that_is_gone(
    dev_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `siao serve` killed outright leaves its listing behind: it warns no one."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(gone.pid).create_time()
    gone.wait()
    dev_env.mkdir(parents=True)
    listing = dev_env / f"{gone.pid}.json"
    state = {"pid": gone.pid, "started": started, "url": "http://x", "dataDir": str(tmp_path)}
    listing.write_text(json.dumps(state))
    assert main(["token", "--user", "siao.75@demo.siao"]) == 0
    out, err = capsys.readouterr()
    assert token_of(out).count(".") == 2
    assert err == ""
    assert not listing.exists()


# --- generated files -------------------------------------------------------------------


def test_generated_files_are_printed_written_and_checked_by_one_helper(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "docs" / "demand-lifecycle.md"
    lifecycle = GENERATED["lifecycle"]
    monkeypatch.setitem(
        GENERATED, "lifecycle", Generated(lifecycle.command, target, lifecycle.render)
    )
    assert main(["lifecycle", "--check"]) == 1
    assert "is stale: run `siao lifecycle --write`" in capsys.readouterr().err
    assert main(["lifecycle"]) == 0
    printed = capsys.readouterr().out
    assert not target.exists()
    assert main(["lifecycle", "--write"]) == 0
    assert target.read_text() == printed
    assert main(["lifecycle", "--check"]) == 0
    assert "is current" in capsys.readouterr().out
    assert main(["schema", "export", "--check"]) == 0  # the committed SDL is current
    with pytest.raises(SystemExit):
        main(["lifecycle", "--write", "--check"])


# --- the bench runs from a clone -------------------------------------------------------


@pytest.mark.parametrize("command", [["fuzz", "-h"], ["bench", "run", "-h"]])
def test_the_bench_commands_say_they_run_from_a_clone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    """Installed from a wheel, `cli` has no bench/ beside it (`pip install .` leaves it
    out): the commands say where they run instead of failing on an import."""
    monkeypatch.setattr(bench_commands, "CLONE", tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(command)
    assert "the bench runs from a clone of the repository" in str(exit_.value.code)


# --- the demo needs no Faker -----------------------------------------------------------


def test_the_demo_replays_every_recorded_name_without_faker() -> None:
    """`siao serve --demo` from a wheel without Faker: the builder replays the names of
    models/demo_names.json, all of them, in order (tools/freeze_demo_names.py)."""
    script = (
        "import sys; sys.modules['faker'] = None\n"  # any import of Faker fails
        "from models.demo_builder import DemoBuilder\n"
        "builder = DemoBuilder(); builder.build()\n"
        "print(builder.names.used, len(builder.persons))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    used, persons = map(int, done.stdout.split())
    assert used == len(read_calls()) > 0
    assert persons == 492


def test_the_demo_says_how_to_refresh_its_names_when_its_story_asks_for_others() -> None:
    calls = read_calls()
    with pytest.raises(FrozenNamesExhausted, match=r"holds 10: .* tools/freeze_demo_names\.py"):
        DemoBuilder(names=FrozenNames(calls[:10])).build()
    other_order = [("first_name_male" if m == "last_name" else m, v) for m, v in calls]
    with pytest.raises(FrozenNamesExhausted, match=r"as last_name, but .* recorded"):
        DemoBuilder(names=FrozenNames(other_order)).build()


# --- what `pip install .` installs -----------------------------------------------------


def test_the_wheel_carries_the_service_only(tmp_path: Path) -> None:
    """`pip install .` installs the service: no bench, tools or tests, and neither Faker
    nor the fuzzer's libraries among its requirements (they are the `bench` and `dev`
    extras); the demo's recorded names are in it. Built from a copy of the tree, so that
    no build folder of the clone (which may hold files of an older layout) is reused."""
    source = tmp_path / "source"
    skipped = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
    )
    shutil.copytree(REPO, source, ignore=skipped)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("si_siao_graph-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ")
        ]
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"auth", "cli", "migrations", "models", "resolvers", "schema", "server.py"}
    assert "models/demo_names.json" in names
    assert "siao = cli:main" in scripts
    runtime = {
        re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requires if "extra ==" not in r
    }
    assert runtime.isdisjoint({"faker", "hypothesis", "hypothesis-graphql", "httpx"}), runtime
    bench_extra = [r for r in requires if 'extra == "bench"' in r]
    assert any(r.startswith("hypothesis-graphql") for r in bench_extra)
    assert any(r.startswith("faker") for r in requires if 'extra == "dev"' in r)
