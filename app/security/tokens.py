"""Bearer token verification: signature (RS256/ES256 against a JWKS), issuer, audience, expiry,
then the claims each role needs."""

from __future__ import annotations

import re
from typing import Any

import jwt

from app.config import Settings
from app.domain.errors import GatewayError, error
from app.security import local_issuer
from app.security.caller import Caller, Role
from app.security.token_cache import VerifiedTokens

ALGORITHMS = ["RS256", "ES256"]
_RPPS = re.compile(r"^\d{11}$")
_LAB = re.compile(r"^\d{9}$|^\d{14}$")  # FINESS (9 digits) or SIRET (14 digits)


class TokenVerifier:
    """Verifies tokens of one issuer. For an external issuer the JWKS is fetched by URL, cached,
    and fetched again when a token names a key id it does not hold (key rotation)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks_client: jwt.PyJWKClient | None = None
        self._local_keys: jwt.PyJWKSet | None = None
        self._verified = VerifiedTokens()
        if settings.auth_jwks_url:
            self._jwks_client = jwt.PyJWKClient(
                settings.auth_jwks_url,
                cache_keys=True,
                lifespan=3600,
                timeout=5,
                cooldown_duration=settings.auth_jwks_refresh_cooldown_seconds,
            )
        else:
            self._local_keys = jwt.PyJWKSet.from_dict(local_issuer.public_jwks(settings))

    def already_verified(self, token: str) -> Caller | None:
        """The caller of a token verified before and not yet expired: no signature check, no I/O."""
        return self._verified.get(token)

    def verify(self, token: str) -> Caller:
        """The caller, or 401. May fetch the issuer's keys (blocking I/O) on a new key id."""
        cached = self._verified.get(token)
        if cached is not None:
            return cached
        try:
            key = self._signing_key(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._settings.auth_audience,
                issuer=self._settings.auth_issuer,
                leeway=self._settings.auth_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            # Say that the token was refused, not which check failed: that helps no honest client.
            raise unauthorised("The bearer token is not valid.") from exc
        caller = caller_from_claims(claims)
        # Kept no longer than the signature check itself would have accepted it.
        self._verified.put(token, caller, claims["exp"] + self._settings.auth_leeway_seconds)
        return caller

    def _signing_key(self, token: str) -> jwt.PyJWK:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError("algorithm not allowed")
        kid = str(header.get("kid"))
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key(kid)
        assert self._local_keys is not None
        for key in self._local_keys.keys:
            if key.key_id == kid:
                return key
        raise jwt.InvalidKeyError("unknown key id")


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise unauthorised("The bearer token carries no known role.") from None
    rpps = claims.get("rpps")
    lab = claims.get("lab")
    if rpps is not None and not (isinstance(rpps, str) and _RPPS.match(rpps)):
        raise unauthorised("The bearer token's rpps claim is not an 11-digit RPPS number.")
    if role is Role.PRESCRIBER and rpps is None:
        raise unauthorised("A prescriber's token must carry the rpps claim.")
    if role is Role.LAB and not (isinstance(lab, str) and _LAB.match(lab)):
        raise unauthorised("A lab's token must carry the lab claim (FINESS or SIRET).")
    return Caller(subject=str(claims["sub"]), role=role, rpps=rpps, lab=lab)


def unauthorised(diagnostics: str) -> GatewayError:
    return error(
        401,
        "UNAUTHORISED",
        diagnostics,
        issue_type="login",
        headers={"WWW-Authenticate": 'Bearer realm="epu-gateway"'},
    )
