"""The development token issuer: an ES256 key made on first use in the data directory.

Production verifies tokens of the national identity provider or the operator's IdP instead
(EPU_AUTH_JWKS_URL); this issuer exists so that a developer or a test can get real, signed tokens.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from app.config import Settings

_KEY_FILE = "issuer-es256.pem"


def _key_path(settings: Settings) -> Path:
    return settings.data_dir / _KEY_FILE


def signing_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    """The issuer's private key, made (readable by its owner only) on first use."""
    path = _key_path(settings)
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        # Two processes starting together: the first rename wins, both then read the same key.
        if not path.exists():
            os.replace(temporary, path)
        else:
            temporary.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return loaded


def public_jwks(settings: Settings) -> dict[str, Any]:
    """The local issuer's public key set, as a JWKS document."""
    public_key = signing_key(settings).public_key()
    jwk = json.loads(ECAlgorithm.to_jwk(public_key))
    jwk.update({"kid": key_id(settings), "use": "sig", "alg": "ES256"})
    return {"keys": [jwk]}


def key_id(settings: Settings) -> str:
    public_key = signing_key(settings).public_key()
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return uuid.uuid5(uuid.NAMESPACE_OID, der.hex()).hex[:16]


def issue_token(
    settings: Settings,
    role: str,
    rpps: str | None = None,
    lab: str | None = None,
    ttl_seconds: int = 3600,
    subject: str | None = None,
) -> str:
    """A signed bearer token for `role`, valid `ttl_seconds` from now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": subject or _default_subject(role, rpps, lab),
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "role": role,
    }
    if rpps:
        claims["rpps"] = rpps
    if lab:
        claims["lab"] = lab
    return jwt.encode(
        claims, signing_key(settings), algorithm="ES256", headers={"kid": key_id(settings)}
    )


def _default_subject(role: str, rpps: str | None, lab: str | None) -> str:
    return ":".join(part for part in (role, lab, rpps) if part)
