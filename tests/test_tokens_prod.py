"""Production tokens: verified against the identity provider's JWKS (served here on the
loopback), with algorithm confusion refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from auth.settings import Environment, Settings
from server import create_app
from tests.conftest import http_client

ISSUER = "https://idp.example.gouv.fr/realms/siao"
AUDIENCE = "si-siao-graph"
KID = "test-key-1"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": "siao.75@demo.siao",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return {**base, **overrides}


def hs256_with_public_key(rsa_key: rsa.RSAPrivateKey) -> str:
    """The classic confusion attack: an HS256 token whose HMAC secret is the public key."""
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = b64(
        json.dumps(claims(iat=None, exp=int(datetime.now(UTC).timestamp()) + 300)).encode()
    )
    signature = b64(hmac.new(pem, header + b"." + payload, hashlib.sha256).digest())
    return (header + b"." + payload + b"." + signature).decode()


async def test_prod_accepts_idp_tokens_and_refuses_confusion_and_dev_tokens(
    rsa_key: rsa.RSAPrivateKey, jwks_url: str, database_url: str, data_dir: Path
) -> None:
    settings = Settings(
        env=Environment.PROD,
        data_dir=data_dir,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_url=jwks_url,
    )
    app = create_app(settings, database_url)
    good = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": KID})
    cases = {
        "wrong audience": jwt.encode(claims(aud="other"), rsa_key, "RS256", headers={"kid": KID}),
        "wrong issuer": jwt.encode(
            claims(iss="https://evil"), rsa_key, "RS256", headers={"kid": KID}
        ),
        "unknown key id": jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "other"}),
        "HS256 signed with the public key": hs256_with_public_key(rsa_key),
        "alg none": jwt.encode(claims(), "", algorithm="none", headers={"kid": KID}),
    }
    async with app.router.lifespan_context(app):
        async with http_client(app, {"Authorization": f"Bearer {good}"}) as client:
            response = await client.post("/graphql", json={"query": "{ me { login } }"})
        assert response.status_code == 200
        assert response.json()["data"] == {"me": {"login": "siao.75@demo.siao"}}
        for case, token in cases.items():
            async with http_client(app, {"Authorization": f"Bearer {token}"}) as client:
                response = await client.post("/graphql", json={"query": "{ me { login } }"})
            assert response.status_code == 401, case
        # GraphiQL is a dev tool: not served in prod.
        async with http_client(app) as client:
            page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "GraphiQL" not in page.text
