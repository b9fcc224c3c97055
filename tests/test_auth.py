"""Identity: no token, bad tokens, dev tokens in prod."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette

from auth.settings import Environment, Settings
from auth.tokens import InvalidToken, load_or_create_dev_key, mint_dev_token
from server import create_app
from tests.conftest import Run, http_client

ME = "query { me { login role territory } }"
INTROSPECTION = "query { __typename __schema { queryType { name } } }"


async def test_without_token_only_introspection_is_answered(
    as_user: Callable[[str | None], Run],
) -> None:
    anonymous = as_user(None)

    answer = await anonymous(INTROSPECTION)
    assert answer.errors == []
    assert answer.data == {"__typename": "Query", "__schema": {"queryType": {"name": "Query"}}}

    for document in (ME, "query { households { totalCount } }", '{ node(id: "x") { id } }'):
        answer = await anonymous(document)
        assert answer.data is None
        assert answer.codes == ["UNAUTHENTICATED"]


async def test_fields_hidden_in_a_fragment_still_need_a_token(
    as_user: Callable[[str | None], Run],
) -> None:
    answer = await as_user(None)("query { __typename ...F } fragment F on Query { me { login } }")
    assert answer.codes == ["UNAUTHENTICATED"]


async def test_dev_token_identifies_the_demo_user(as_user: Callable[[str | None], Run]) -> None:
    answer = await as_user("siao.75@demo.siao")(ME)
    assert answer.errors == []
    assert answer.data == {
        "me": {"login": "siao.75@demo.siao", "role": "SIAO_OPERATOR", "territory": "75"}
    }


def _claims(settings: Settings, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": "siao.75@demo.siao",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _bad_tokens(settings: Settings) -> dict[str, str]:
    key = load_or_create_dev_key(settings)
    other = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    good = _claims(settings)
    return {
        "expired": jwt.encode(
            _claims(settings, exp=now - timedelta(hours=1)), key, algorithm="EdDSA"
        ),
        "not yet valid": jwt.encode(
            _claims(settings, nbf=now + timedelta(hours=1)), key, algorithm="EdDSA"
        ),
        "wrong issuer": jwt.encode(_claims(settings, iss="elsewhere"), key, algorithm="EdDSA"),
        "wrong audience": jwt.encode(_claims(settings, aud="other-api"), key, algorithm="EdDSA"),
        "forged": jwt.encode(good, other, algorithm="EdDSA"),
        "alg none": jwt.encode(good, "", algorithm="none"),
        "hmac with a guessable secret": jwt.encode(
            good, "a-shared-secret-anyone-could-guess-0123456789", algorithm="HS256"
        ),
        "no expiry": jwt.encode(_claims(settings, exp=None), key, algorithm="EdDSA"),
        "unknown user": jwt.encode(_claims(settings, sub="nobody@demo.siao"), key, "EdDSA"),
        "garbage": "not-a-jwt",
    }


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
        "forged",
        "alg none",
        "hmac with a guessable secret",
        "no expiry",
        "unknown user",
        "garbage",
    ],
)
async def test_untrustworthy_tokens_get_401_with_a_short_reason(
    app: Starlette, settings: Settings, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = _bad_tokens(settings)[case]
    async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
        response = await client.post("/graphql", json={"query": ME})
    assert response.status_code == 401
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert token not in response.text
    assert token not in caplog.text


async def test_dev_tokens_do_not_exist_in_prod(
    settings: Settings, database_url: str, data_dir: Path
) -> None:
    with pytest.raises(InvalidToken):
        mint_dev_token(Settings(env=Environment.PROD, data_dir=data_dir), "siao.75@demo.siao")

    dev_token = mint_dev_token(settings, "siao.75@demo.siao")
    prod = create_app(Settings(env=Environment.PROD, data_dir=data_dir), database_url)
    async with (
        prod.router.lifespan_context(prod),
        http_client(prod, {"Authorization": f"Bearer {dev_token}"}) as client,
    ):
        response = await client.post("/graphql", json={"query": ME})
    assert response.status_code == 401
