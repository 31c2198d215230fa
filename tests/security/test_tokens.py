"""Bearer tokens are checked by signature, issuer, audience and expiry; anything else is 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from app.config import Settings
from app.security.local_issuer import issue_token, key_id, signing_key
from tests.conftest import issue_codes

PULL = "/fhir/ServiceRequest?requisition=01S2TBPZ2JCNZZYGHD"


def _claims(settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": "lab:750000001",
        "iat": now,
        "exp": now + 600,
        "role": "lab",
        "lab": "750000001",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(
    settings: Settings, claims: dict[str, Any], key: Any = None, kid: str | None = None
) -> str:
    return jwt.encode(
        claims,
        key or signing_key(settings),
        algorithm="ES256",
        headers={"kid": kid or key_id(settings)},
    )


def _bad_tokens(settings: Settings) -> dict[str, str]:
    now = int(time.time())
    stranger = ec.generate_private_key(ec.SECP256R1())
    unsigned = jwt.encode(_claims(settings), key=None, algorithm="none")  # type: ignore[arg-type]
    return {
        "alg none": unsigned,
        "expired": _signed(settings, _claims(settings, exp=now - 3600, iat=now - 7200)),
        "not yet valid": _signed(settings, _claims(settings, nbf=now + 3600)),
        "wrong issuer": _signed(settings, _claims(settings, iss="https://elsewhere")),
        "wrong audience": _signed(settings, _claims(settings, aud="another-api")),
        "unknown kid": _signed(settings, _claims(settings), kid="nope"),
        "foreign key, our kid": _signed(settings, _claims(settings), key=stranger),
        "no role": _signed(settings, _claims(settings, role=None)),
        "unknown role": _signed(settings, _claims(settings, role="patient")),
        "lab without lab claim": _signed(settings, _claims(settings, lab=None)),
        "prescriber without rpps": _signed(
            settings, _claims(settings, role="prescriber", lab=None)
        ),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none", "expired", "not yet valid", "wrong issuer", "wrong audience", "unknown kid",
        "foreign key, our kid", "no role", "unknown role", "lab without lab claim",
        "prescriber without rpps", "garbage",
    ],
)  # fmt: skip
def test_bad_tokens_get_401_with_an_operation_outcome(
    client: TestClient, settings: Settings, case: str
) -> None:
    token = _bad_tokens(settings)[case]

    response = client.get(PULL, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert issue_codes(response) == ["UNAUTHORISED"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_hs256_signed_with_the_public_key_is_refused(
    client: TestClient, settings: Settings
) -> None:
    public_pem = (
        signing_key(settings)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    forged = _hs256_forgery(settings, public_pem)
    response = client.get(PULL, headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


def _hs256_forgery(settings: Settings, secret: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key_id(settings)}).encode())
    payload = part(json.dumps(_claims(settings)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


def test_missing_token_is_401(client: TestClient) -> None:
    response = client.get(PULL)
    assert response.status_code == 401
    assert issue_codes(response) == ["UNAUTHORISED"]


def test_a_good_token_passes(client: TestClient, settings: Settings) -> None:
    token = issue_token(settings, "lab", lab="750000001")
    response = client.get(PULL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated; the code is simply unknown
