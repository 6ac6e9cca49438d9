"""Access tokens: HS256 JWTs naming a user and a session, with every claim required."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from oak_maillist.config import SecuritySettings
from oak_maillist.db.types import utcnow
from oak_maillist.errors import NotAuthenticatedError
from oak_maillist.services.crypto import derive_key

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "sid", "exp", "iat", "jti"]
# Tolerated clock difference between processes.
LEEWAY_SECONDS = 5


class TokenInvalidError(NotAuthenticatedError):
    code = "token_invalid"
    template = "The access token is not valid"


class TokenExpiredError(NotAuthenticatedError):
    code = "token_expired"
    template = "The access token has expired"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: int
    jti: str


def signing_key(settings: SecuritySettings) -> bytes:
    """The HS256 key: derived from security.jwt_secret (always 256 bits, used only for JWTs)."""
    return derive_key(settings, "jwt/hs256")


def issue_access_token(user_id: int, session_id: int, settings: SecuritySettings) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": now,
        "exp": now + timedelta(seconds=settings.jwt_expiration_seconds),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


def decode_access_token(token: str, settings: SecuritySettings) -> AccessClaims:
    """Verify signature, algorithm (HS256 only), expiry and claims; 401 with a stable code."""
    try:
        claims = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpiredError from None
    except jwt.PyJWTError:
        raise TokenInvalidError from None
    try:
        if claims.get("typ") != "access":
            raise ValueError("not an access token")
        return AccessClaims(
            user_id=int(claims["sub"]), session_id=int(claims["sid"]), jti=str(claims["jti"])
        )
    except (TypeError, ValueError):
        raise TokenInvalidError from None
