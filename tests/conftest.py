"""Test fixtures: a real PostgreSQL every time (embedded by default, `DATABASE_URL` when
set), a template database migrated and loaded with the demo data once per session, and a
fresh copy of it for each test, so that tests are isolated and may write."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from auth.settings import Environment, Settings
from auth.tokens import mint_dev_token
from migrations import upgrade
from models.demo import load_demo
from server import create_app


def _plain(url: str) -> str:
    """asyncpg wants a libpq-style URL (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_plain(_with_database(url, "postgres")))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Databases:
    server_url: str
    template: str

    def url(self, database: str) -> str:
        return _with_database(self.server_url, database)


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="siao-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
def databases(data_dir: Path) -> Iterator[Databases]:
    server_url = os.environ.get("DATABASE_URL")
    embedded = None
    if not server_url:
        from models.embedded import start_embedded

        embedded = start_embedded(data_dir / "embedded", cleanup="delete")
        server_url = embedded.url
    template = f"siao_tpl_{os.getpid()}"
    url = _with_database(server_url, template)
    asyncio.run(
        _admin(server_url, f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}"')
    )
    upgrade(url)
    asyncio.run(load_demo(url))
    yield Databases(server_url=server_url, template=template)
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    if embedded is not None:
        embedded.stop()


@pytest.fixture
async def database_url(databases: Databases) -> AsyncIterator[str]:
    """A fresh copy of the demo database for this test."""
    name = f"siao_t_{uuid.uuid4().hex[:12]}"
    await _admin(databases.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{databases.template}"')
    yield databases.url(name)
    await _admin(databases.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(env=Environment.DEV, data_dir=data_dir)


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    application = create_app(settings, database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, to check what the API wrote (or did not write)."""
    conn = await asyncpg.connect(_plain(database_url))
    yield conn
    await conn.close()


@dataclass
class Answer:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    extensions: dict[str, Any]

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.errors]


Run = Callable[..., Awaitable[Answer]]


def http_client(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers or {}
    )


@pytest.fixture
def token(settings: Settings) -> Callable[[str], str]:
    return lambda login: mint_dev_token(settings, login)


@pytest.fixture
def as_user(app: Starlette, token: Callable[[str], str]) -> Callable[[str | None], Run]:
    """`await as_user("siao.75@demo.siao")(DOCUMENT, var=value)` sends DOCUMENT with `gql`
    over HTTP to the ASGI app, as that demo user (None: no token)."""

    def for_login(login: str | None) -> Run:
        headers = {"Authorization": f"Bearer {token(login)}"} if login else {}

        async def run(document: str, **variables: Any) -> Answer:
            transport = HTTPXAsyncTransport(
                url="http://test/graphql",
                transport=httpx.ASGITransport(app=app),
                headers=headers,
            )
            async with Client(transport=transport) as session:
                try:
                    result = await session.execute(
                        GraphQLRequest(document, variable_values=variables or None),
                        get_execution_result=True,
                    )
                except TransportQueryError as exc:
                    return Answer(exc.data, list(exc.errors or []), dict(exc.extensions or {}))
            return Answer(result.data, list(result.errors or []), dict(result.extensions or {}))

        return run

    return for_login


async def one_row(sql: asyncpg.Connection, query: str, *args: Any) -> asyncpg.Record:
    """`fetchrow` for rows the demo data guarantees."""
    row = await sql.fetchrow(query, *args)
    assert row is not None, f"no row for {query!r}"
    return row
