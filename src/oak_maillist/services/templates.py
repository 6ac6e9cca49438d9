"""Email templates: site-wide and per-list overrides, the fallback chain, and rendering.

The catalog of templates and the built-in defaults live in template_catalog; the sandbox that
compiles and checks sources lives in template_sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.logging import get_logger
from oak_maillist.models import EmailTemplate, MailingList, User
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.lists import address_of
from oak_maillist.services.template_catalog import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    SPECS,
    Source,
    TemplateLanguageError,
    builtin,
    get_spec,
    pick_language,
)
from oak_maillist.services.template_sandbox import Rendered, check, compile_template, one_line

log = get_logger(__name__)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise TemplateLanguageError(language=language, languages=", ".join(LANGUAGES))


def _source(row: EmailTemplate) -> Source:
    return Source(
        name=row.name,
        language=row.language,
        subject=row.subject,
        body=row.body,
        level="site" if row.list_id is None else "list",
        updated_at=row.updated_at,
        updated_by_id=row.updated_by_id,
    )


async def _overrides(
    session: AsyncSession, name: str, languages: list[str], list_id: int | None
) -> list[EmailTemplate]:
    """Overrides for `name` in `languages`, site-wide and for `list_id`, newest first."""
    scope = or_(EmailTemplate.list_id.is_(None), EmailTemplate.list_id == list_id)
    rows = await session.execute(
        select(EmailTemplate)
        .where(EmailTemplate.name == name, EmailTemplate.language.in_(languages), scope)
        .order_by(EmailTemplate.id.desc())
    )
    return list(rows.scalars())


async def candidates(
    session: AsyncSession, *, name: str, language: str, list_id: int | None = None
) -> list[Source]:
    """Sources in the order render tries them: for the language, then for English, the list's
    override, the site-wide override, the built-in."""
    get_spec(name)
    languages = list(dict.fromkeys([pick_language(language), DEFAULT_LANGUAGE]))
    rows = await _overrides(session, name, languages, list_id)
    found: list[Source] = []
    for lang in languages:
        for scope in (list_id, None) if list_id is not None else (None,):
            row = next((r for r in rows if r.language == lang and r.list_id == scope), None)
            if row is not None:
                found.append(_source(row))
        found.append(builtin(name, lang))
    return found


async def effective(
    session: AsyncSession, *, name: str, language: str, list_id: int | None = None
) -> Source:
    """The template used for `language` (supported) at this level: list, site or built-in."""
    _check_language(language)
    return (await candidates(session, name=name, language=language, list_id=list_id))[0]


async def render(
    session: AsyncSession,
    *,
    name: str,
    language: str,
    list_id: int | None = None,
    context: Mapping[str, Any],
) -> Rendered:
    """Render the mail `name` for a recipient who reads `language`.

    Picks the list's override → the site-wide override → the built-in, in that language and
    then in English (unknown languages read English). `context` must hold every variable in
    SPECS[name]. An override that fails on real data is logged and the next source is used.
    """
    spec = get_spec(name)
    missing = set(spec.variables) - set(context)
    if missing:
        raise ValueError(f"template {name} needs {', '.join(sorted(missing))}")
    for source in await candidates(session, name=name, language=language, list_id=list_id):
        try:
            return Rendered(
                subject=one_line(compile_template(source.subject).render(context)),
                body=compile_template(source.body).render(context),
            )
        except Exception as exc:
            if source.level == "builtin":
                raise
            log.warning(
                "template_override_failed",
                template=name,
                language=source.language,
                level=source.level,
                list_id=list_id,
                error=type(exc).__name__,
            )
    raise AssertionError("the built-in template always renders")  # pragma: no cover


async def overridden_languages(
    session: AsyncSession, *, list_id: int | None = None
) -> dict[str, list[str]]:
    """For each template name, the languages overridden at this level (site-wide or a list)."""
    scope = EmailTemplate.list_id.is_(None) if list_id is None else EmailTemplate.list_id == list_id
    rows = await session.execute(
        select(EmailTemplate.name, EmailTemplate.language).where(scope).distinct()
    )
    found: dict[str, list[str]] = {name: [] for name in SPECS}
    for name, language in rows.all():
        if name in found and language in LANGUAGES:
            found[name].append(language)
    return {name: sorted(languages) for name, languages in found.items()}


async def _rows_at(
    session: AsyncSession, name: str, language: str, list_id: int | None
) -> list[EmailTemplate]:
    return [
        row
        for row in await _overrides(session, name, [language], list_id)
        if row.list_id == list_id
    ]


async def save_override(
    session: AsyncSession,
    *,
    name: str,
    language: str,
    subject: str,
    body: str,
    actor: User,
    origin: Origin,
    list_id: int | None = None,
) -> Source:
    """Check, then store the override for a list (or site-wide when `list_id` is None)."""
    _check_language(language)
    check(name=name, subject=subject, body=body)
    rows = await _rows_at(session, name, language, list_id)
    for extra in rows[1:]:  # no unique key spans a NULL list_id; keep one row
        await session.delete(extra)
    row = rows[0] if rows else EmailTemplate(name=name, language=language, list_id=list_id)
    row.subject, row.body, row.updated_by_id = subject, body, actor.id
    session.add(row)
    await session.flush()
    await _record(session, "template.updated", row.name, language, list_id, actor, origin)
    return _source(row)


async def reset_override(
    session: AsyncSession,
    *,
    name: str,
    language: str,
    actor: User,
    origin: Origin,
    list_id: int | None = None,
) -> None:
    """Remove the override at this level; the next one down applies again."""
    get_spec(name)
    _check_language(language)
    rows = await _rows_at(session, name, language, list_id)
    for row in rows:
        await session.delete(row)
    await session.flush()
    if rows:
        await _record(session, "template.reset", name, language, list_id, actor, origin)


async def _record(
    session: AsyncSession,
    action: str,
    name: str,
    language: str,
    list_id: int | None,
    actor: User,
    origin: Origin,
) -> None:
    await activity.record(
        session,
        action,
        actor_id=actor.id,
        origin=origin,
        target_type="template",
        target_id=f"{name}/{language}",
        list_id=list_id,
        name=name,
        language=language,
        scope="site" if list_id is None else "list",
    )


async def preview(
    session: AsyncSession,
    *,
    name: str,
    language: str,
    subject: str | None = None,
    body: str | None = None,
    mlist: MailingList | None = None,
) -> Rendered:
    """Render the given source (or the effective template) with sample data; a list's own
    name and address stand in for the sample list's."""
    spec = get_spec(name)
    if subject is None or body is None:
        current = await effective(
            session, name=name, language=language, list_id=mlist.id if mlist else None
        )
        subject = current.subject if subject is None else subject
        body = current.body if body is None else body
    context = dict(spec.sample)
    if mlist is not None:
        context["list"] = await list_variable(session, mlist)
        if "list_address" in context:
            context["list_address"] = context["list"]["address"]
    return check(name=name, subject=subject, body=body, context=context)


async def list_variable(session: AsyncSession, mlist: MailingList) -> dict[str, str]:
    """The `list` variable every template receives, built the same way by every caller."""
    address = await address_of(session, mlist)
    return {"name": mlist.name, "address": address, "description": mlist.description}
