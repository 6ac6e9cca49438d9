"""AI moderation around the posting chain: what to score, the stored verdicts, and the
run-time configuration an administrator edits (feedback: ai_feedback, statistics: ai_stats).

Scoring runs in its own job (tasks/jobs/ai.py) between acceptance and the posting chain: the
job reads what to score in one short transaction, asks the provider with no transaction open
(SQLite has one writer; a 30 s call must not block it), stores the verdicts in another, then
runs the chain, whose AI rule reads the stored verdict.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.ai.base import ProviderError
from oak_maillist.ai.metrics import AI_LEVELS
from oak_maillist.ai.moderator import Outcome, build_provider, moderator_for, scrub
from oak_maillist.config import AiModerationSettings, Settings, describe_errors
from oak_maillist.db.types import utcnow
from oak_maillist.errors import InvalidInputError
from oak_maillist.logging import get_logger
from oak_maillist.mail.addresses import Role
from oak_maillist.mail.parse import ParsedMessage, parse_message
from oak_maillist.models import (
    AiModerationResult,
    InboundMessage,
    InboundStatus,
    MailingList,
)
from oak_maillist.moderation import policies
from oak_maillist.moderation.ai import stored_result
from oak_maillist.moderation.rules import address_key
from oak_maillist.services import crypto, inbound, system_settings
from oak_maillist.tasks.queue import enqueue_after_commit

log = get_logger(__name__)

SCORE_JOB = "ai.score"
KEY_PURPOSE = "ai_moderation"  # the key derivation label for stored secrets
SECRETS = ("access_key_id", "access_key_secret", "api_key")


class AiSettingsInvalidError(InvalidInputError):
    code = "ai_settings_invalid"
    template = "The AI moderation settings are not valid: {problems}"


# --- configuration ------------------------------------------------------------------------


def merge(settings: Settings, overrides: system_settings.AiOverrides) -> AiModerationSettings:
    """The configuration file's [ai_moderation] with an administrator's changes on top."""
    values: dict[str, Any] = settings.ai_moderation.model_dump()
    for name, value in overrides.model_dump(exclude_none=True).items():
        if name in SECRETS:
            value = SecretStr(crypto.decrypt(value, settings.security, purpose=KEY_PURPOSE))
        values[name] = value
    return AiModerationSettings.model_validate(values)


async def effective_config(session: AsyncSession, settings: Settings) -> AiModerationSettings:
    return merge(settings, (await system_settings.load(session)).ai_moderation)


async def update_config(
    session: AsyncSession, settings: Settings, changes: dict[str, Any], *, actor_id: int
) -> AiModerationSettings:
    """Store an administrator's changes (secrets encrypted; "" drops an override) and return
    the effective configuration; AiSettingsInvalidError names every problem."""
    stored = (await system_settings.load(session)).ai_moderation.model_dump()
    for name, value in changes.items():
        if name in SECRETS:
            value = crypto.encrypt(value, settings.security, purpose=KEY_PURPOSE) if value else None
        stored[name] = value
    overrides = system_settings.AiOverrides.model_validate(stored)
    try:
        config = merge(settings, overrides)
    except ValidationError as exc:
        raise AiSettingsInvalidError(problems="; ".join(describe_errors(exc))) from None
    await system_settings.update(
        session, {"ai_moderation": overrides.model_dump(mode="json")}, actor_id=actor_id
    )
    return config


async def overridden(session: AsyncSession) -> list[str]:
    """The settings an administrator changed at run time (the rest come from the file)."""
    overrides = (await system_settings.load(session)).ai_moderation
    return sorted(overrides.model_dump(exclude_none=True))


async def reset_config(
    session: AsyncSession, settings: Settings, names: Iterable[str], *, actor_id: int
) -> AiModerationSettings:
    """Drop the run-time values of `names`: they take the configuration file's value again."""
    return await update_config(session, settings, dict.fromkeys(names), actor_id=actor_id)


@dataclass(frozen=True)
class ConnectionCheck:
    """One call to the provider: whether it answered, and its error text if not."""

    ok: bool
    provider: str
    latency_ms: int
    score: int | None
    error: str | None


CHECK_SUBJECT = "Oak Maillist connection test"
CHECK_TEXT = "A connection test from the Oak Maillist AI moderation settings page."


async def check_connection(session: AsyncSession, settings: Settings) -> ConnectionCheck:
    """Send one harmless text to the provider in effect (enabled or not), without retries and
    outside the circuit breaker, so an administrator sees at once what the provider says."""
    config = await effective_config(session, settings)
    if config.provider == "aliyun" and not (
        config.access_key_id.get_secret_value() and config.access_key_secret.get_secret_value()
    ):  # unsigned, the call could only be refused
        return ConnectionCheck(False, "aliyun", 0, None, "aliyun: no access key id or secret set")
    provider = build_provider(config)
    raw = f"Subject: {CHECK_SUBJECT}\r\nFrom: oak-maillist@localhost\r\n\r\n{CHECK_TEXT}\r\n"
    started = time.monotonic()
    score: int | None = None
    error: str | None = None
    try:
        score = (await provider.check(CHECK_SUBJECT, CHECK_TEXT, raw.encode())).score
    except ProviderError as exc:
        error = scrub(str(exc), config)
    except Exception as exc:  # an answer the provider's code does not understand
        log.warning("ai_connection_check_crashed", provider=provider.name, error=repr(exc))
        error = scrub(f"{provider.name}: {type(exc).__name__}: {exc}", config)
    elapsed = round((time.monotonic() - started) * 1000)
    return ConnectionCheck(error is None, provider.name, elapsed, score, error)


def circuit_state(config: AiModerationSettings) -> str:
    """This process's circuit breaker for the configuration: closed, open or half_open."""
    return moderator_for(config).breaker.state if config.enabled else "closed"


# --- scoring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scoring:
    """What one score job sends to the provider, read in one short transaction."""

    inbound_id: int
    list_ids: list[int]
    subject: str
    text: str
    raw: bytes
    config: AiModerationSettings


def _senders(parsed: ParsedMessage, envelope_from: str) -> list[str]:
    found = [address_key(parsed.sender.email), address_key(envelope_from)]
    return list(dict.fromkeys(a for a in found if a))


async def lists_to_score(
    session: AsyncSession, config: AiModerationSettings, row: InboundMessage, parsed: ParsedMessage
) -> list[int]:
    """Lists this message is posted to that want an AI verdict and have none stored yet.

    A sender under one of the list's rules is not scored: whitelisted senders skip AI
    moderation, blacklisted ones are refused before it.
    """
    if not config.enabled:
        return []
    senders = _senders(parsed, row.envelope_from)
    wanted: list[int] = []
    for address in row.recipients:
        recipient = await inbound.resolve_recipient(session, address)
        if recipient.list_id is None or recipient.list_id in wanted:
            continue
        if recipient.address is None or recipient.address.role is not Role.POST:
            continue
        mlist = await session.get(MailingList, recipient.list_id)
        if mlist is None or not mlist.is_active or not mlist.ai_moderation_enabled:
            continue
        if policies.first_match(await policies.effective(session, mlist.id), senders):
            continue
        if await stored_result(session, row.id, mlist.id) is None:
            wanted.append(mlist.id)
    return wanted


async def _any_list_screens(session: AsyncSession, row: InboundMessage) -> bool:
    """Whether a list this message is posted to has AI moderation on."""
    for address in row.recipients:
        recipient = await inbound.resolve_recipient(session, address)
        if recipient.list_id is None or recipient.address is None:
            continue
        if recipient.address.role is not Role.POST:
            continue
        mlist = await session.get(MailingList, recipient.list_id)
        if mlist is not None and mlist.ai_moderation_enabled:
            return True
    return False


async def needs_scoring(
    session: AsyncSession, settings: Settings, row: InboundMessage, parsed: ParsedMessage
) -> bool:
    """Whether the message must wait for the score job before the chain runs; if so, the job
    is handed the message when the caller's transaction commits."""
    if not await _any_list_screens(session, row):
        return False  # the run-time configuration need not even be read
    config = await effective_config(session, settings)
    if not await lists_to_score(session, config, row, parsed):
        return False
    enqueue_after_commit(session, SCORE_JOB, inbound_id=row.id)
    return True


async def plan(
    session: AsyncSession, settings: Settings, inbound_id: int, *, lease: timedelta
) -> Scoring | None:
    """What to score for a message still being processed (None: done or gone); extends the
    message's lease to cover the provider's time."""
    row = await session.get(InboundMessage, inbound_id)
    if row is None or row.status != InboundStatus.PROCESSING:
        return None
    row.lease_until = utcnow() + lease
    config = await effective_config(session, settings)
    parsed = parse_message(row.raw)
    list_ids = await lists_to_score(session, config, row, parsed)
    return Scoring(inbound_id, list_ids, parsed.subject, parsed.text, row.raw, config)


async def store(session: AsyncSession, scoring: Scoring, outcome: Outcome) -> int:
    """One result row per list (a list scored meanwhile keeps its first verdict)."""
    verdict = outcome.verdict
    count = 0
    for list_id in scoring.list_ids:
        if await stored_result(session, scoring.inbound_id, list_id) is not None:
            continue
        session.add(
            AiModerationResult(
                list_id=list_id,
                inbound_id=scoring.inbound_id,
                provider=outcome.provider,
                score=verdict.score if verdict else None,
                level=outcome.level,
                labels=verdict.labels if verdict else [],
                risk_words=verdict.risk_words if verdict else [],
                latency_ms=outcome.latency_ms,
                error=outcome.error,
                raw_response=verdict.raw if verdict else None,
            )
        )
        AI_LEVELS.labels(outcome.level).inc()
        count += 1
    await session.flush()
    return count
