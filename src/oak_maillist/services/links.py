"""Links in mail: signed, stateless tokens for a subscriber's unsubscribe and preferences.

Such a link lives in every list message and must keep working for as long as the mail is
kept, so it names the subscriber and carries an HMAC instead of a stored row. Single-use
actions (confirming an address, accepting an invitation) use stored tokens instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from oak_maillist.config import Settings
from oak_maillist.errors import NotFoundError
from oak_maillist.services.crypto import derive_key

MAC_BYTES = 16


class LinkInvalidError(NotFoundError):
    code = "link_invalid"
    template = "This link is not valid; it may have been changed or cut off"


@dataclass(frozen=True)
class SubscriberLink:
    subscriber_id: int
    list_id: int


def _mac(settings: Settings, purpose: str, payload: str) -> bytes:
    key = derive_key(settings.security, "links/v1")
    return hmac.new(key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest()[:MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(settings: Settings, purpose: str, *, subscriber_id: int, list_id: int) -> str:
    payload = f"{subscriber_id}.{list_id}"
    return f"{payload}.{_b64(_mac(settings, purpose, payload))}"


def read_token(settings: Settings, purpose: str, token: str) -> SubscriberLink:
    """The subscriber a token names, if its MAC is right for this purpose (constant time)."""
    subscriber, _, rest = token.partition(".")
    list_part, _, mac = rest.partition(".")
    if not (subscriber.isdigit() and list_part.isdigit() and mac) or len(token) > 200:
        raise LinkInvalidError
    expected = _b64(_mac(settings, purpose, f"{subscriber}.{list_part}"))
    if not hmac.compare_digest(expected, mac):
        raise LinkInvalidError
    return SubscriberLink(int(subscriber), int(list_part))


def page_url(settings: Settings, page: str, token: str) -> str:
    """A page of the web app that acts on a token (/unsubscribe, /preferences, ...)."""
    return f"{settings.server.public_url}/{page}?token={quote(token)}"


def one_click_url(settings: Settings, token: str) -> str:
    """The RFC 8058 List-Unsubscribe target: an HTTPS POST that needs no login or cookie."""
    return f"{settings.server.public_url}/api/v1/subscriptions/one-click?token={quote(token)}"
