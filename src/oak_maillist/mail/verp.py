"""VERP return paths: `<list>-bounces+<signed token>@<domain>`, one per recipient and post.

A bounce comes back to the address we put in MAIL FROM, so the token alone must say who and
which post bounced, and nobody but us may mint one (else anyone could unsubscribe anyone by
forging bounces). The token is `<subscriber id>.<message id>.<mac>`: decimal ids and an
HMAC-SHA256 truncated to 80 bits in lowercase base32, because some MTAs lowercase local parts
(RFC 5321 §2.4 leaves case to the receiving host); decoding therefore ignores case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

# RFC 5321 §4.5.3.1.1: a local part holds at most 64 octets.
MAX_LOCAL_PART = 64
MAC_BYTES = 10  # 80 bits, 16 base32 characters, no padding
_DOMAIN_SEPARATION = b"oak-maillist/verp/v1\x00"
_ID = r"(0|[1-9a-z][0-9a-z]{0,12})"  # base 36, no leading zeros: one spelling per id
_TOKEN = re.compile(rf"{_ID}\.{_ID}\.([a-z2-7]{{16}})", re.ASCII)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_MAX_ID = 2**63 - 1  # what a BIGINT column holds


@dataclass(frozen=True)
class VerpToken:
    """Who a bounced delivery was for: the subscriber and the post (message) id."""

    subscriber_id: int
    message_id: int


def token(key: bytes, *, subscriber_id: int, message_id: int) -> str:
    """The signed token alone, without list or domain."""
    if not 0 <= subscriber_id <= _MAX_ID or not 0 <= message_id <= _MAX_ID:
        raise ValueError("VERP ids must be non-negative 64-bit integers")
    ids = f"{_base36(subscriber_id)}.{_base36(message_id)}"
    return f"{ids}.{_mac(key, ids)}"


def encode(key: bytes, *, list_local: str, domain: str, subscriber_id: int, message_id: int) -> str:
    """The return path for one delivery: `<list_local>-bounces+<token>@<domain>`.

    Raises ValueError if the local part would exceed 64 octets (RFC 5321 §4.5.3.1.1).
    """
    local = f"{list_local}-bounces+{token(key, subscriber_id=subscriber_id, message_id=message_id)}"
    if len(local.encode()) > MAX_LOCAL_PART:
        raise ValueError(f"VERP local part is {len(local.encode())} octets, over 64")
    return f"{local}@{domain}"


def decode(key: bytes, value: str) -> VerpToken | None:
    """The ids a token carries, or None if it is malformed or its signature does not match."""
    if not isinstance(value, str) or len(value) > MAX_LOCAL_PART:
        return None
    match = _TOKEN.fullmatch(value.lower())
    if match is None:
        return None
    subscriber, message, mac = match.groups()
    ids = f"{subscriber}.{message}"
    if not hmac.compare_digest(mac, _mac(key, ids)):
        return None
    subscriber_id, message_id = int(subscriber, 36), int(message, 36)
    if subscriber_id > _MAX_ID or message_id > _MAX_ID:
        return None
    return VerpToken(subscriber_id=subscriber_id, message_id=message_id)


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = _DIGITS[digit] + digits
        if not number:
            return digits


def _mac(key: bytes, ids: str) -> str:
    digest = hmac.new(key, _DOMAIN_SEPARATION + ids.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest[:MAC_BYTES]).decode("ascii").lower()
