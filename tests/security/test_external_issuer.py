"""An external issuer's keys come from its JWKS URL: fetched once, cached, and fetched again when
a token names a key the cache does not hold (the issuer rotated its keys)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from app.config import Settings
from app.domain.errors import GatewayError
from app.security.caller import Role
from app.security.tokens import TokenVerifier


class Issuer:
    """A tiny identity provider on 127.0.0.1 that serves its JWKS and counts the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                issuer.fetches += 1
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rotate(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": "https://idp.example", "aud": "epu-gateway", "sub": "lab-1", "iat": now,
                   "exp": now + 300, "role": "lab", "lab": "750000001", **claims}  # fmt: skip
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    running.rotate("k1")
    yield running
    running.server.shutdown()


@pytest.fixture
def verifier(issuer: Issuer, tmp_path: Path) -> TokenVerifier:
    settings = Settings(
        data_dir=tmp_path,
        auth_jwks_url=issuer.url,
        auth_issuer="https://idp.example",
        auth_jwks_refresh_cooldown_seconds=0,
    )
    return TokenVerifier(settings)


def test_keys_are_fetched_once_and_cached(issuer: Issuer, verifier: TokenVerifier) -> None:
    for _ in range(3):
        assert verifier.verify(issuer.token("k1")).role is Role.LAB
    assert issuer.fetches == 1


def test_a_rotated_key_is_fetched_when_a_token_names_it(
    issuer: Issuer, verifier: TokenVerifier
) -> None:
    verifier.verify(issuer.token("k1"))
    issuer.rotate("k2")

    caller = verifier.verify(issuer.token("k2"))

    assert caller.lab == "750000001"
    assert issuer.fetches == 2


def test_a_token_of_another_issuer_is_refused(issuer: Issuer, verifier: TokenVerifier) -> None:
    with pytest.raises(GatewayError) as refused:
        verifier.verify(issuer.token("k1", iss="https://someone-else.example"))
    assert refused.value.status == 401


def test_the_local_token_command_refuses_to_run(issuer: Issuer, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "--role", "lab", "--lab", "750000001"],
        capture_output=True, text=True,
        env={"EPU_DATA_DIR": str(tmp_path), "EPU_AUTH_JWKS_URL": issuer.url, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "external issuer" in result.stderr
