"""Raw message surgery shared by the list's outgoing messages: header fields as bytes, and
MIME trees parsed and written back with the policy that keeps untouched bytes as they came."""

from __future__ import annotations

import re
import secrets
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from io import BytesIO

# Untouched fields are re-emitted as they came; new parts may be 8-bit (we only add 8-bit where
# the part already was).
POLICY = SMTP.clone(refold_source="none", cte_type="8bit")
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


def split_fields(message: bytes) -> tuple[list[bytes], bytes]:
    """Header fields (each with its folded lines and CRLF) and the body after the blank line."""
    end = message.find(b"\r\n\r\n")
    head, body = (message + b"\r\n", b"") if end < 0 else (message[: end + 2], message[end + 4 :])
    fields: list[bytes] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            # A folded line of only white space (obsolete syntax) ends the header block for
            # most parsers, which would push every field after it into the body: drop it.
            if line.strip(b" \t"):
                fields[-1] += line + b"\r\n"
        elif match := _FIELD_NAME.match(line):
            # "Name :" (obsolete syntax) becomes "Name:", which every parser reads as a field.
            fields.append(match.group(1) + b":" + line[match.end() :] + b"\r\n")
        # anything else (an mbox "From " line, garbage) is not a header field: dropped
    return fields, body


def field_name(raw_field: bytes) -> bytes:
    """The lowercased name of one raw header field."""
    match = _FIELD_NAME.match(raw_field)
    return match.group(1).lower() if match else b""


def header_field(name: str, value: str) -> bytes:
    """One header field, folded, non-ASCII as RFC 2047 encoded words (7-bit safe)."""
    folded: str = SMTP.fold(name, SMTP.header_factory(name, value))
    return folded.encode("ascii")


def parse(message: bytes) -> EmailMessage:
    parsed = BytesParser(policy=POLICY).parsebytes(message)
    if not isinstance(parsed, EmailMessage):  # what policy SMTP builds; satisfies the checker
        raise TypeError(type(parsed).__name__)
    return parsed


def flatten(message: EmailMessage) -> bytes:
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=POLICY).flatten(message, unixfrom=False)
    return out.getvalue()


def _boundary(message: bytes) -> str:
    while True:
        boundary = f"=_oak_{secrets.token_hex(12)}"
        if boundary.encode() not in message:
            return boundary


def multipart(fields: list[bytes], parts: list[bytes], message: bytes) -> bytes:
    """`fields` over a multipart/mixed body holding `parts` (each headers + blank + body)."""
    boundary = _boundary(message)
    delimiter = f"--{boundary}\r\n".encode()
    head = [*fields, b"MIME-Version: 1.0\r\n"]
    head.append(f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'.encode())
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1): add one so
    # every part keeps its last line break.
    body = b"".join(delimiter + part + b"\r\n" for part in parts)
    return b"".join(head) + b"\r\n" + body + f"--{boundary}--\r\n".encode()
