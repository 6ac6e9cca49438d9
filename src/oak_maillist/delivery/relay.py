"""The SMTP relay client (aiosmtplib): one transaction, an outcome per recipient."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib

from oak_maillist.config import OutgoingSmtpSettings
from oak_maillist.delivery import pipelining


class Outcome(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # 4xx or no connection: try again later
    PERMANENT = "permanent"  # 5xx: this recipient will not get it


@dataclass(frozen=True)
class RelayConfig:
    """Where and how to hand over mail: the global relay or a domain's own."""

    host: str
    port: int
    security: str  # none, starttls, tls
    username: str
    password: str
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: OutgoingSmtpSettings) -> RelayConfig:
        return cls(
            host=settings.host,
            port=settings.port,
            security=settings.security,
            username=settings.username,
            password=settings.password.get_secret_value(),
            timeout_seconds=settings.timeout_seconds,
        )


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    code: int | None
    reply: str


def _classify(code: int) -> Outcome:
    if 200 <= code < 300:
        return Outcome.SENT
    return Outcome.PERMANENT if code >= 500 else Outcome.TEMPORARY


def _client(config: RelayConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        timeout=config.timeout_seconds,
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        username=config.username or None,
        password=config.password or None,
    )


async def connect(config: RelayConfig) -> aiosmtplib.SMTP:
    """A connected, greeted (and, as configured, TLS-wrapped and logged-in) client; raises."""
    client = _client(config)
    await client.connect()
    return client


def temporary_failure(exc: BaseException) -> Result:
    """The outcome when the relay could not be reached or the connection broke: try later."""
    return Result(Outcome.TEMPORARY, None, f"{type(exc).__name__}: {exc}")


async def send_bulk(
    client: aiosmtplib.SMTP, *, sender: str, recipients: list[str], message: bytes
) -> dict[str, Result]:
    """One transaction for many recipients over a connected client; nothing raises.

    The relay's answer to each RCPT is that recipient's outcome; a refused DATA is everyone's.
    Pipelined (RFC 2920) when the relay offers it.
    """
    if pipelining.supported(client, sender, recipients):
        return await _pipelined(client, sender, recipients, message)
    try:
        refused, _message = await client.sendmail(sender, recipients, message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        await _reset(client)
        return {
            error.recipient: Result(_classify(error.code), error.code, error.message)
            for error in exc.recipients
        }
    except aiosmtplib.SMTPResponseException as exc:
        await _reset(client)
        return dict.fromkeys(recipients, Result(_classify(exc.code), exc.code, exc.message))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        client.close()
        return dict.fromkeys(recipients, temporary_failure(exc))
    return {
        recipient: Result(
            _classify(refused[recipient].code), refused[recipient].code, refused[recipient].message
        )
        if recipient in refused
        else Result(Outcome.SENT, 250, "OK")
        for recipient in recipients
    }


# What a message gets when the connection broke before it was sent: try again later.
LOST = Result(Outcome.TEMPORARY, None, "connection lost before this message was sent")


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    message: bytes


async def _pipelined(
    client: aiosmtplib.SMTP, sender: str, recipients: Sequence[str], message: bytes
) -> dict[str, Result]:
    """One pipelined transaction; a lost connection or a timeout is a temporary failure for
    everyone (the client is closed then)."""
    try:
        answers = await pipelining.transact(client, sender, recipients, message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return dict.fromkeys(recipients, temporary_failure(exc))
    return await _settle(client, recipients, answers)


async def _settle(
    client: aiosmtplib.SMTP, recipients: Sequence[str], answers: pipelining.Answers
) -> dict[str, Result]:
    """Each recipient's outcome from a pipelined transaction's answers; leaves the
    connection clean (RSET after a transaction the relay did not finish, closed on 421)."""
    mail = answers.mail
    if not 200 <= mail.code < 300:
        outcomes = dict.fromkeys(recipients, Result(_classify(mail.code), mail.code, mail.text))
    else:
        final = answers.data
        outcomes = {
            recipient: Result(_classify(final.code), final.code, final.text)
            if reply.code in (250, 251)
            else Result(_classify(reply.code), reply.code, reply.text)
            for recipient, reply in zip(recipients, answers.recipients, strict=True)
        }
    if answers.closing:
        client.close()
    elif not answers.message_sent:
        await _reset(client)
    return outcomes


async def send_each(client: aiosmtplib.SMTP, envelopes: Sequence[Envelope]) -> list[Result]:
    """Deliver several messages, one recipient each, over one connected client (one
    transaction each, as per-recipient return paths require); a result for every envelope.

    A refused transaction is reset and the next one goes on; a lost connection leaves the
    rest as temporary failures for a later attempt (and the client closed).
    """
    results: list[Result] = []
    for envelope in envelopes:
        recipients = [envelope.recipient]
        if pipelining.supported(client, envelope.sender, recipients):
            answer = await _pipelined(client, envelope.sender, recipients, envelope.message)
            results.append(answer[envelope.recipient])
            if not client.is_connected:
                break
            continue
        try:
            await client.sendmail(envelope.sender, [envelope.recipient], envelope.message)
            results.append(Result(Outcome.SENT, 250, "OK"))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            error = exc.recipients[0]
            results.append(Result(_classify(error.code), error.code, error.message))
            await _reset(client)
        except aiosmtplib.SMTPResponseException as exc:
            results.append(Result(_classify(exc.code), exc.code, exc.message))
            if exc.code == 421 or not client.is_connected:
                client.close()
                break
            await _reset(client)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            results.append(temporary_failure(exc))
            client.close()
            break
    return results + [LOST] * (len(envelopes) - len(results))


async def _reset(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


async def close_politely(client: aiosmtplib.SMTP) -> None:
    """QUIT when still connected, else (or when QUIT fails) drop the socket; never raises."""
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
