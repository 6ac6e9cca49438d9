"""aiosmtpd hooks: recipients are checked at RCPT, messages stored at DATA before the 250."""

from __future__ import annotations

import time
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from limits import parse

from oak_maillist.db.engine import transaction
from oak_maillist.logging import get_logger
from oak_maillist.metrics import MESSAGES_RECEIVED, SMTP_REPLIES
from oak_maillist.runtime import Runtime
from oak_maillist.services import inbound
from oak_maillist.services.batches import Batches
from oak_maillist.services.inbound import Received, Recipient, RecipientStatus
from oak_maillist.smtp import replies
from oak_maillist.smtp.protocol import per_recipient

log = get_logger(__name__)

# Messages whose DATA ended while a commit was running are stored together in the next one.
MAX_GROUP_COMMIT = 64
STORE_COMMITS = 2

# RCPT remembers the lists it found this long (a burst of mail to a list asks the database
# once); an unknown address is looked up every time, so a new list takes mail at once. A
# list deactivated or given a smaller size limit meanwhile is seen within this time, and
# processing checks the list again (a post to a list gone inactive is kept, marked discard).
RECIPIENT_TTL_SECONDS = 2.0
MAX_REMEMBERED_RECIPIENTS = 10_000

# Capabilities aiosmtpd honours without announcing them; AUTH is never offered (we are not a
# submission server, so there is nothing to log in to).
EXTRA_CAPABILITIES = ("250-PIPELINING", "250-ENHANCEDSTATUSCODES")


class ListHandler:
    """Answers for the lists in the database; holds no state between connections."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.smtp.incoming
        per_minute = self.settings.rate_limit_per_minute
        self.rate = parse(f"{per_minute}/minute") if per_minute else None
        # Elsewhere than on SQLite (one writer at a time) a second commit may start while the
        # first runs: a message then waits for no other commit than its own.
        sqlite = runtime.engine.dialect.name == "sqlite"
        self.store = Batches(
            self._store, max_size=MAX_GROUP_COMMIT, concurrency=1 if sqlite else STORE_COMMITS
        )
        self._recipients: dict[str, tuple[float, Recipient]] = {}

    async def _store(self, received: list[Received]) -> list[int]:
        # Urgent: on SQLite it goes before background writers (the clients wait for the 250).
        async with transaction(self.runtime.sessionmaker, urgent=True) as db:
            return await inbound.accept(db, received)

    async def handle_MAIL(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Each transaction counts against its client's per-minute limit (0: no limit)."""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        if self.rate is not None and peer not in self.settings.rate_limit_exempt:
            try:
                allowed = await self.runtime.limiter.allow(self.rate, "smtp_ip", peer)
            except Exception:
                log.exception("smtp_rate_limit_failed")
                allowed = True  # the limiter's store is down: accept rather than refuse mail
            if not allowed:
                log.info("smtp_rate_limited", peer=peer)
                return _refuse(replies.RATE_LIMITED)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return replies.SENDER_OK

    async def handle_EHLO(  # noqa: N802 - aiosmtpd hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        kept = [line for line in responses if not line[4:].startswith("AUTH")]
        return [*kept[:-1], *EXTRA_CAPABILITIES, kept[-1]]

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return _refuse(replies.TOO_MANY_RECIPIENTS)
        try:
            recipient = await self._recipient(address)
        except Exception:
            log.exception("smtp_rcpt_lookup_failed")
            return _refuse(replies.LOCAL_ERROR)
        if recipient.status is RecipientStatus.UNKNOWN:
            return _refuse(replies.UNKNOWN_RECIPIENT)
        if recipient.status is RecipientStatus.INACTIVE:
            return _refuse(replies.LIST_INACTIVE)
        declared = _declared_size(envelope)
        if recipient.max_message_size and declared > recipient.max_message_size:
            return _refuse(replies.MESSAGE_TOO_BIG)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RECIPIENT_OK

    async def _recipient(self, address: str) -> Recipient:
        now = time.monotonic()
        remembered = self._recipients.get(address)
        if remembered is not None and now - remembered[0] < RECIPIENT_TTL_SECONDS:
            return remembered[1]
        # A read: it needs no write lock (SQLite's would wait for the worker's).
        async with self.runtime.sessionmaker() as db:
            recipient = await inbound.resolve_recipient(db, address)
        if recipient.status is RecipientStatus.OK:
            if len(self._recipients) >= MAX_REMEMBERED_RECIPIENTS:
                self._recipients.clear()
            self._recipients[address] = (now, recipient)
        else:
            self._recipients.pop(address, None)
        return recipient

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        received = Received(
            raw=raw,
            envelope_from=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            peer=peer,
            helo=session.host_name or "",
        )
        try:
            # Returns once the row is committed (with others that arrived meanwhile).
            inbound_id = await self.store.submit(received)
        except Exception:
            log.exception("smtp_store_failed", size=len(raw))
            return per_recipient(server, envelope, _refuse(replies.STORE_FAILED))
        MESSAGES_RECEIVED.inc()
        log.info(
            "smtp_message_accepted",
            inbound_id=inbound_id,
            size=len(raw),
            recipients=len(envelope.rcpt_tos),
        )
        return per_recipient(server, envelope, replies.ACCEPTED)

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp_session_error", error=type(error).__name__, exc_info=error)
        return _refuse(replies.LOCAL_ERROR)


def _declared_size(envelope: Envelope) -> int:
    for option in envelope.mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


def _refuse(reply: str) -> str:
    SMTP_REPLIES.labels(replies.code_of(reply)).inc()
    return reply


def handler_kwargs(runtime: Runtime) -> dict[str, Any]:
    """aiosmtpd.SMTP keyword arguments from configuration."""
    settings = runtime.settings.smtp.incoming
    return {
        "data_size_limit": settings.max_message_size,
        "enable_SMTPUTF8": True,
        "decode_data": False,
        "hostname": runtime.settings.server.base_url.host or "localhost",
        "ident": "Oak Maillist ESMTP",
        "timeout": settings.idle_timeout,
    }
