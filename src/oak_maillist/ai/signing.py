"""ACS3-HMAC-SHA256: how Alibaba Cloud's API gateway authenticates a request.

The canonical request is the method, the path, the sorted percent-encoded query, the signed
headers (lowercased names, trimmed values, sorted, one per line), their names joined by `;`,
and the hex SHA-256 of the body. The string to sign is the algorithm's name and the hex
SHA-256 of the canonical request; the signature is its HMAC-SHA256 under the AccessKey secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"


def _encode(value: str) -> str:
    # RFC 3986 unreserved characters stay; everything else (space as %20) is escaped.
    return quote(value, safe="~")


def content_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """(canonical request, signed header names) for the headers given, all of which are signed."""
    canonical_query = "&".join(f"{_encode(key)}={_encode(query[key])}" for key in sorted(query))
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed = ";".join(names)
    text = "\n".join(
        [method.upper(), path or "/", canonical_query, canonical_headers, signed, payload_hash]
    )
    return text, signed


def signature(secret: str, canonical: str) -> str:
    string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
    key_id: str,
    secret: str,
) -> str:
    """The Authorization header value for a request with these (to be signed) headers."""
    canonical, signed = canonical_request(method, path, query, headers, payload_hash)
    return (
        f"{ALGORITHM} Credential={key_id},SignedHeaders={signed},"
        f"Signature={signature(secret, canonical)}"
    )
