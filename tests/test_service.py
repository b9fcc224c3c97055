"""Health checks, masked internal errors, request ids, the GraphiQL page and the CLI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from starlette.applications import Starlette

from auth.settings import Settings
from auth.tokens import TokenVerifier
from cli import main
from migrations import alembic_config, head_revision
from resolvers import organisation
from server import create_app
from tests.conftest import Databases, _admin, _plain, http_client


async def test_health_live_and_ready(app: Starlette) -> None:
    async with http_client(app) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["migrations"]["current"] == head_revision()


async def test_ready_is_false_on_a_database_without_migrations(
    settings: Settings, databases: Databases
) -> None:
    name = "siao_unmigrated"
    await _admin(
        databases.server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'
    )
    try:
        bare = create_app(settings, databases.url(name))
        async with bare.router.lifespan_context(bare), http_client(bare) as client:
            response = await client.get("/health/ready")
        assert response.status_code == 503
    finally:
        await _admin(databases.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_internal_errors_are_masked_and_carry_the_request_id_of_the_log(
    app: Starlette,
    token: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*args: object) -> object:
        raise RuntimeError("secret detail: password=hunter2")

    monkeypatch.setattr(organisation, "organisation", explode)
    headers = {"Authorization": f"Bearer {token('sw.alpha@demo.siao')}"}
    with caplog.at_level(logging.ERROR):
        async with http_client(app, headers) as client:
            response = await client.post(
                "/graphql", json={"query": "{ me { login organisation { name } } }"}
            )
    body = response.json()
    error = body["errors"][0]
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]
    assert response.headers["x-request-id"] == request_id
    assert body["data"]["me"]["login"] == "sw.alpha@demo.siao"  # the rest of the answer stays
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, "the log line of the original error carries the same request id"
    assert any(r.exc_info for r in logged)


async def test_graphiql_is_served_without_any_internet_address(app: Starlette) -> None:
    async with http_client(app) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "https://unpkg.com" not in page.text
        script = await client.get("/graphiql-assets/graphiql@3.8.3/graphiql.min.js")
    assert script.status_code == 200


def test_cli_token_prints_a_token_the_server_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv("SIAO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SIAO_ENV", "dev")
    assert main(["token", "--user", "siao.75@demo.siao"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2

    monkeypatch.setenv("SIAO_ENV", "prod")
    assert main(["token", "--user", "siao.75@demo.siao"]) == 2


async def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations create exactly the models."""
    command.check(alembic_config(database_url))


def test_cli_mints_partner_tokens_with_scopes_and_territory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv("SIAO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SIAO_ENV", "dev")
    args = ["token", "--partner", "SYPLO", "--scope", "identity_min:read"]
    assert main([*args, "--scope", "demands:read", "--territory", "75"]) == 0
    token = capsys.readouterr().out.strip()
    claims = TokenVerifier(Settings.from_env()).verify(token)
    assert claims.partner is not None
    assert claims.partner.name == "SYPLO"
    assert claims.partner.territory == "75"
    assert {s.value for s in claims.partner.scopes} == {"identity_min:read", "demands:read"}
    with pytest.raises(SystemExit):
        main(args)  # a partner token needs a territory


def test_cli_prints_the_rights_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rights-matrix"]) == 0
    out = capsys.readouterr().out
    assert "| `Person` | `firstName` | `IDENTITY_MIN` |" in out


async def test_the_vital_check_exercises_search_and_demand_creation_and_leaves_nothing(
    app: Starlette, database_url: str, token: Callable[[str], str]
) -> None:
    """Run by whoever is on call (a SIAO operator here; who else may: test_prod_surface)."""
    import asyncpg

    from tests.conftest import _plain
    from tests.test_mutations import snapshot

    conn = await asyncpg.connect(_plain(database_url))
    try:
        before = await snapshot(conn)
        headers = {"Authorization": f"Bearer {token('siao.75@demo.siao')}"}
        async with http_client(app, headers) as client:
            response = await client.get("/health/vital")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["search"]["ok"] is True
        assert body["createDemand"] == {"ok": True, "ms": body["createDemand"]["ms"]}
        assert await snapshot(conn) == before
    finally:
        await conn.close()


def test_cli_bench_seed_generates_the_persons_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["bench", "seed", "--persons", "500"]) == 0
    out = capsys.readouterr().out
    assert "500 persons" in out
    assert "VACUUM (ANALYZE)" in out
    # vacuumed and analysed once committed, the dictionary of name words included: a
    # benchmark run right after does not meet the load's coarse statistics
    unvacuumed = asyncio.run(_never_vacuumed(database_url))
    assert unvacuumed == [], unvacuumed


async def _never_vacuumed(url: str) -> list[str]:
    conn = await asyncpg.connect(_plain(url))
    try:
        rows = await conn.fetch(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY($1::text[]) "
            "AND (last_vacuum IS NULL OR last_analyze IS NULL) ORDER BY relname",
            ["persons", "memberships", "notes", "evaluations", "audit_events", "name_words"],
        )
    finally:
        await conn.close()
    return [r["relname"] for r in rows]
