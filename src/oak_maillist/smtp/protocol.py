"""The SMTP protocol class our listeners run: aiosmtpd's, with DATA and addresses read faster."""

from __future__ import annotations

import asyncio
import re

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope

from oak_maillist.smtp import replies
from oak_maillist.smtp.data import read_data

# A dot-atom local part (RFC 5321 §4.1.2) at a domain of letters, digits and hyphens, in angle
# brackets, then the command's parameters.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(
    rf"\s*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(.*)\Z", re.DOTALL
)


class ListSMTP(SMTP):
    """aiosmtpd's SMTP (or LMTP, as the class mixed in after this one) with its two costliest
    steps made cheap: DATA read by `read_data`, and plain addresses in MAIL and RCPT read
    without the email package's full header grammar (12% of the process's time under load:
    bench/ingest.py, 5 KB posts). What happens around them (checks, hooks, replies) is
    aiosmtpd's own order of things."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """`<local@domain>` and what follows it, for the dot-atom addresses that nearly all
        mail carries; anything else (quoted or empty local parts, source routes, comments,
        no angle brackets) as aiosmtpd reads it."""
        plain = _PLAIN_ADDRESS.match(arg)
        if plain is None or "(" in plain.group(2):  # a comment: the full reading drops it
            found: tuple[str | None, str | None] = super()._getaddr(arg)
            return found
        address, rest = plain.group(1), plain.group(2).lstrip(" \t")  # as it drops blanks
        local_part = address.rpartition("@")[0]
        if self.local_part_limit and len(local_part) > self.local_part_limit:
            return None, None
        return address, rest

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command method
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        if envelope is None or not envelope.rcpt_tos:
            await self.push(replies.NEED_RECIPIENT)
            return
        if arg:
            await self.push(replies.DATA_SYNTAX)
            return
        await self.push(replies.START_DATA)
        try:
            data = await read_data(
                self._reader,
                size_limit=self.data_size_limit or 0,
                line_limit=self.line_length_limit,
            )
        except asyncio.IncompleteReadError:
            return  # the client went away in the middle of the data
        except asyncio.CancelledError:
            self._writer.close()  # the connection was lost during DATA (as aiosmtpd does)
            raise
        if data.refusal is not None:
            refusal = per_recipient(self, envelope, data.refusal)
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(refusal)
            return
        envelope.content = envelope.original_content = data.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status if isinstance(status, str) else replies.OK)


def per_recipient(server: SMTP, envelope: Envelope, reply: str) -> str:
    """LMTP answers DATA once per accepted recipient (RFC 2033 §4.2); SMTP once."""
    if isinstance(server, LMTP):
        return "\r\n".join([reply] * max(1, len(envelope.rcpt_tos)))
    return reply
