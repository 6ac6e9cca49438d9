"""AI moderation jobs: score a post before its posting chain runs, and teach feedback.

Each job reads in one short transaction, talks to the provider with no transaction open, and
writes in another: a slow provider holds no database lock and never slows SMTP.
"""

from __future__ import annotations

from datetime import timedelta

from oak_maillist.ai.moderator import moderator_for
from oak_maillist.db.engine import transaction
from oak_maillist.logging import get_logger
from oak_maillist.models import InboundMessage
from oak_maillist.services import ai_feedback, ai_moderation, inbound, processing
from oak_maillist.tasks.queue import current_runtime
from oak_maillist.tasks.registry import job

log = get_logger(__name__)


@job(ai_moderation.SCORE_JOB, timeout_seconds=600, max_retries=2)
async def score(inbound_id: int) -> str:
    """Score a stored post for the lists that want it, then run it through its lists.

    Idempotent: a message already processed is skipped, a list already scored keeps its
    verdict. A provider failure is stored as a verdict of level "error" for the chain.
    """
    runtime = current_runtime()
    lease = timedelta(seconds=runtime.settings.queue.lease_seconds)
    async with transaction(runtime.sessionmaker) as session:
        scoring = await ai_moderation.plan(session, runtime.settings, inbound_id, lease=lease)
    if scoring is None:
        return "skipped"
    if scoring.list_ids:
        moderator = moderator_for(scoring.config)
        outcome = await moderator.check(scoring.subject, scoring.text, scoring.raw)
        log.info(
            "ai_scored",
            inbound_id=inbound_id,
            provider=outcome.provider,
            level=outcome.level,
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
        )
        async with transaction(runtime.sessionmaker) as session:
            await ai_moderation.store(session, scoring, outcome)
    try:
        async with transaction(runtime.sessionmaker) as session:
            row = await session.get(InboundMessage, inbound_id)
            if row is None:
                return "gone"
            report = await processing.process(session, runtime.settings, row)
    except Exception as exc:
        async with transaction(runtime.sessionmaker) as session:
            await inbound.record_failure(session, inbound_id, f"{type(exc).__name__}: {exc}")
        log.exception("ai_processing_failed", inbound_id=inbound_id)
        raise
    return report.outcome


@job(ai_feedback.LEARN_JOB, timeout_seconds=120, max_retries=3)
async def learn(feedback_id: int) -> str:
    """Send a moderator's feedback to a provider that learns (Rspamd, SpamAssassin)."""
    runtime = current_runtime()
    async with transaction(runtime.sessionmaker) as session:
        lesson = await ai_feedback.lesson(session, runtime.settings, feedback_id)
    if lesson is None:
        return "skipped"
    learned = await moderator_for(lesson.config).learn(lesson.raw, spam=lesson.spam)
    if not learned:
        return "not_learned"
    async with transaction(runtime.sessionmaker) as session:
        await ai_feedback.mark_learned(session, feedback_id)
    return "learned"
