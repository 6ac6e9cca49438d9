"""SMTP replies with enhanced status codes (RFC 3463), in one place."""

from __future__ import annotations

OK = "250 2.0.0 OK"
ACCEPTED = "250 2.0.0 Message accepted for delivery"
RECIPIENT_OK = "250 2.1.5 Recipient OK"
SENDER_OK = "250 2.1.0 Sender OK"
UNKNOWN_RECIPIENT = "550 5.1.1 No such list or address here"
LIST_INACTIVE = "550 5.2.1 This list is not accepting mail"
BAD_ADDRESS = "553 5.1.3 Address syntax is not valid"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
MESSAGE_TOO_BIG = "552 5.3.4 Message is larger than this list accepts"
STORE_FAILED = "451 4.3.0 Could not store the message; try again later"
TOO_BUSY = "421 4.7.0 Too many connections; try again later"
RATE_LIMITED = "450 4.7.1 Too many messages from your address; try again later"
LOCAL_ERROR = "451 4.3.0 Local error; try again later"
NO_VALID_RECIPIENTS = "554 5.5.1 No valid recipients"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
NEED_RECIPIENT = "503 5.5.1 Error: need RCPT command"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
DATA_TOO_BIG = "552 5.3.4 Message exceeds the fixed maximum message size"
LINE_TOO_LONG = "500 5.5.2 Line too long (see RFC 5321 4.5.3.1.6)"


def code_of(reply: str) -> str:
    """The enhanced status code of a reply ("5.1.1"), for metrics."""
    parts = reply.split(" ", 2)
    return parts[1] if len(parts) > 1 else parts[0]
