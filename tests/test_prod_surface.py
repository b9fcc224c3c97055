"""What a production server shows without the right credentials: introspection and the
"Did you mean ...?" hints of error messages need a valid token (or are off for everyone),
an anonymous request learns nothing of the schema, and the on-call check (/health/vital,
which searches and writes) needs an on-call role's token or the deployment's secret
header. /health/live and /health/ready stay open (probes have no token)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.datastructures import Secret

from auth.settings import Environment, Introspection, Settings
from server import create_app
from tests.conftest import http_client
from tests.test_mutations import snapshot
from tests.test_tokens_prod import AUDIENCE, ISSUER, KID, claims
from tests.test_tokens_prod import jwks_url as jwks_url  # fixtures of prod tokens
from tests.test_tokens_prod import rsa_key as rsa_key

SECRET = "on-call-secret-of-this-deployment"
INTROSPECT_SCHEMA = "{ __schema { queryType { name } } }"
INTROSPECT_TYPE = '{ __type(name: "Household") { name } }'
MISSPELLED = "{ housholds { totalCount } }"
Token = Callable[..., str]


@pytest.fixture
def prod(data_dir: Path, jwks_url: str) -> Settings:
    """Production settings, tokens from the identity provider served on the loopback."""
    return Settings(
        env=Environment.PROD,
        data_dir=data_dir,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url=jwks_url,
    )


@pytest.fixture
def idp_token(rsa_key: rsa.RSAPrivateKey) -> Token:
    """A token the identity provider signs for `subject` (extra claims as keywords)."""

    def mint(subject: str, **extra: Any) -> str:
        return jwt.encode(
            claims(sub=subject, **extra), rsa_key, algorithm="RS256", headers={"kid": KID}
        )

    return mint


@asynccontextmanager
async def serving(settings: Settings, database_url: str) -> AsyncIterator[Starlette]:
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        yield app


async def post(app: Starlette, query: str, token: str | None = None, **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http_client(app, headers) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or None}
        )
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_in_prod_an_anonymous_request_learns_nothing_of_the_schema(
    prod: Settings, database_url: str, idp_token: Token
) -> None:
    assert prod.introspection_mode is Introspection.AUTHENTICATED  # the default in prod
    async with serving(prod, database_url) as app:
        for query in (
            INTROSPECT_SCHEMA,
            INTROSPECT_TYPE,
            MISSPELLED,
            "{ __typename households { totalCount } }",
            "query ($s: DemandStatu) { __typename }",  # a type name probed in a variable
        ):
            body = await post(app, query)
            assert body.get("data") is None, query
            assert codes(body) == ["UNAUTHENTICATED"], query
            assert "Did you mean" not in str(body), query
        assert await post(app, "{ __typename }") == {"data": {"__typename": "Query"}}

        # with a token, the schema is there to read, suggestions included
        token = idp_token("siao.75@demo.siao")
        body = await post(app, INTROSPECT_SCHEMA, token)
        assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}
        body = await post(app, MISSPELLED, token)
        assert "Did you mean 'households'" in body["errors"][0]["message"]


async def test_introspection_off_is_off_for_everyone(
    prod: Settings, database_url: str, idp_token: Token
) -> None:
    settings = replace(prod, introspection=Introspection.OFF)
    token = idp_token("siao.75@demo.siao")
    async with serving(settings, database_url) as app:
        for query in (INTROSPECT_SCHEMA, INTROSPECT_TYPE):
            body = await post(app, query, token)
            assert body.get("data") is None, query
            assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body
        body = await post(app, MISSPELLED, token)
        message = body["errors"][0]["message"]
        assert message.startswith("Cannot query field 'housholds' on type 'Query'")
        assert "Did you mean" not in message
        body = await post(
            app,
            "query ($s: DemandStatus) { demands(filter: {status: $s}) { totalCount } }",
            token,
            s="SUBMITTD",
        )
        assert codes(body) == ["BAD_USER_INPUT"], body
        assert "Did you mean" not in str(body)
        # the plain queries of a client still run
        assert (await post(app, "{ me { login } }", token))["data"] == {
            "me": {"login": "siao.75@demo.siao"}
        }
        assert codes(await post(app, INTROSPECT_SCHEMA)) == ["UNAUTHENTICATED"]


async def test_the_vital_check_is_for_whoever_is_on_call(
    prod: Settings, database_url: str, idp_token: Token, sql: asyncpg.Connection
) -> None:
    settings = replace(prod, vital_secret=Secret(SECRET))
    partner = idp_token(
        "partner:SYPLO", siao_partner="SYPLO", scope="demands:read", siao_territory="75"
    )
    refused = {
        "no credentials": ({}, 401),
        "a forged token": ({"Authorization": "Bearer not.a.token"}, 401),
        "a social worker": ({"Authorization": f"Bearer {idp_token('sw.alpha@demo.siao')}"}, 403),
        "a partner system": ({"Authorization": f"Bearer {partner}"}, 403),
        "a wrong secret": ({"X-Siao-Vital-Secret": SECRET + "x"}, 403),
    }
    async with serving(settings, database_url) as app:
        before = await snapshot(sql)
        for case, (headers, status) in refused.items():
            response = await get_vital(app, headers)
            assert response.status_code == status, case
            body = response.json()
            assert body["errors"][0]["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
            assert "search" not in body, case  # nothing ran
            assert "createDemand" not in body, case
        assert await snapshot(sql) == before

        allowed = {
            "a SIAO operator": {"Authorization": f"Bearer {idp_token('siao.75@demo.siao')}"},
            "an administrator": {"Authorization": f"Bearer {idp_token('admin@demo.siao')}"},
            "the secret header": {"X-Siao-Vital-Secret": SECRET},
        }
        for case, headers in allowed.items():
            response = await get_vital(app, headers)
            assert response.status_code == 200, case
            assert response.json()["status"] == "ok", case
            assert response.json()["search"]["ok"] is True, case

        async with http_client(app) as client:
            assert (await client.get("/health/live")).status_code == 200
            assert (await client.get("/health/ready")).status_code == 200


async def test_a_secret_header_opens_nothing_where_no_secret_is_configured(
    prod: Settings, database_url: str
) -> None:
    async with serving(prod, database_url) as app:
        response = await get_vital(app, {"X-Siao-Vital-Secret": ""})
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def get_vital(app: Starlette, headers: dict[str, str]) -> httpx.Response:
    async with http_client(app, headers) as client:
        return await client.get("/health/vital")


def test_prod_defaults_and_the_checks_of_the_new_settings(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv("SIAO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SIAO_ENV", "prod")
    assert Settings.from_env().introspection_mode is Introspection.AUTHENTICATED
    monkeypatch.setenv("SIAO_INTROSPECTION", "off")
    assert Settings.from_env().introspection_mode is Introspection.OFF
    monkeypatch.setenv("SIAO_ENV", "dev")
    monkeypatch.delenv("SIAO_INTROSPECTION")
    assert Settings.from_env().introspection_mode is Introspection.OPEN
    for name, value in (
        ("SIAO_INTROSPECTION", "sometimes"),
        ("SIAO_VITAL_SECRET", "short"),  # a guessable secret would open the check
        ("SIAO_SESSION_CHECK_SECONDS", "120"),  # sessions end within 60 s of their rights
        ("SIAO_SESSION_CHECK_SECONDS", "0"),
    ):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with pytest.raises(SystemExit):
                Settings.from_env()
