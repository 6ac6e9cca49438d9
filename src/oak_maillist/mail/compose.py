"""Messages the service writes itself (confirmations, notices): headers done right."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


def notice(
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    subject: str,
    body: str,
    domain: str,
    list_id_header: str | None = None,
    reply_to: str | None = None,
) -> EmailMessage:
    """A plain-text, UTF-8 message marked as automatic (RFC 3834) so responders stay quiet."""
    message = EmailMessage()
    local, _, sender_domain = sender.rpartition("@")
    message["From"] = Address(display_name=sender_name, username=local, domain=sender_domain)
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message["Precedence"] = "bulk"
    if list_id_header:
        message["List-Id"] = list_id_header
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(body, charset="utf-8")
    return message
