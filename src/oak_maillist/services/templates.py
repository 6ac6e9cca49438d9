"""Email templates: built-in defaults, site-wide and per-list overrides, checking and rendering."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from types import TracebackType
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.errors import InvalidInputError, NotFoundError
from oak_maillist.logging import get_logger
from oak_maillist.models import EmailTemplate, MailingList, User
from oak_maillist.services import activity
from oak_maillist.services.activity import Origin
from oak_maillist.services.lists import address_of

log = get_logger(__name__)

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
MAX_SUBJECT = 500  # the column's length
# TEXT holds 65,535 bytes on MySQL/MariaDB: 16,000 characters fit even at 4 bytes each.
MAX_BODY = 16_000
MAX_ARGUMENT = 100_000  # widths, counts and repeats; the sandbox's own range() cap
MAX_SAMPLE_OUTPUT = 200_000  # characters a check against the sample data may produce

# Where a template comes from: the list's override, the site-wide override, the built-in.
Level = Literal["list", "site", "builtin"]


class TemplateNotFoundError(NotFoundError):
    code = "template_not_found"
    template = "There is no email template named {name}"


class TemplateLanguageError(InvalidInputError):
    code = "template_language_unsupported"
    template = "Templates exist in {languages}, not {language}"


class TemplateInvalidError(InvalidInputError):
    code = "template_invalid"
    template = "{field}, line {line}: {message}"


class TemplateUnsafeError(InvalidInputError):
    code = "template_unsafe"
    template = "{field}, line {line}: {message}"


@dataclass(frozen=True)
class TemplateSpec:
    """One kind of mail: what it is for, the variables it receives, sample values."""

    name: str
    description: str
    variables: Mapping[str, str]
    sample: Mapping[str, Any]
    has_subject: bool = True


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line; empty for the footer
    body: str


@dataclass(frozen=True)
class Source:
    """A template's text and where it came from."""

    name: str
    language: str
    subject: str
    body: str
    level: Level
    updated_at: datetime | None = None
    updated_by_id: int | None = None


_URL = "https://lists.example.org"
_MESSAGES = [
    {
        "subject": "Build fails on ARM",
        "sender": "Alan <alan@example.net>",
        "date": "2026-11-23 09:15 UTC",
        "text": "The linker stops with an unknown relocation.\n",
    },
    {
        "subject": "Re: Build fails on ARM",
        "sender": "Ada <ada@example.org>",
        "date": "2026-11-23 10:02 UTC",
        "text": "Fixed on main, thanks for the report.\n",
    },
]
# Every variable any template receives: what it holds and the value previews use. Values are
# strings, numbers and lists prepared by the caller (dates already formatted), so one template
# serves every recipient's language and time zone.
VARIABLES: dict[str, tuple[str, Any]] = {
    "list": (
        "The list: list.name, list.address, list.description",
        {
            "name": "Oak Developers",
            "address": "dev@lists.example.org",
            "description": "Development of Oak Maillist",
        },
    ),
    "address": ("The recipient's address", "ada@example.org"),
    "confirm_url": (
        "Link that confirms the subscription",
        f"{_URL}/subscribe/confirm?token=3f9a1c",
    ),
    "accept_url": ("Link that accepts the invitation", f"{_URL}/invitation?token=51d0"),
    "expires_hours": ("Hours until the link expires", 48),
    "inviter": ("Who sent the invitation", "Grace Hopper"),
    "unsubscribe_url": ("Link to unsubscribe", f"{_URL}/unsubscribe?token=7b2e"),
    "preferences_url": ("Link to delivery settings", f"{_URL}/preferences?token=7b2e"),
    "resubscribe_url": ("Link to subscribe again", f"{_URL}/lists/dev/subscribe"),
    "list_address": ("Where to post", "dev@lists.example.org"),
    "help_address": ("Where to ask for help", "dev-request@lists.example.org"),
    "archive_url": ("The archive; empty when it is not public", f"{_URL}/lists/dev/archive"),
    "sender": ("The poster's address", "alan@example.net"),
    "subject": ("The post's subject", "Build fails on ARM"),
    "reasons": ("Why the post was held: a list of sentences", ["The sender is not a member"]),
    "reason": ("Why the post was rejected", "Off topic for this list"),
    "note": ("The moderator's note; may be empty", "Please try the users list."),
    "approve_url": ("Link that approves the post", f"{_URL}/moderation/812/approve"),
    "reject_url": ("Link that rejects the post", f"{_URL}/moderation/812/reject"),
    "queue_url": ("The list's moderation queue", f"{_URL}/lists/dev/moderation"),
    "bounce_count": ("Failed deliveries so far", 3),
    "threshold": ("Failed deliveries before delivery is paused", 5),
    "diagnostics": (
        "The receiving servers' last answers, newest first",
        ["550 5.1.1 <ada@example.org>: mailbox unavailable"],
    ),
    "bounces_url": ("The list's bounce log", f"{_URL}/lists/dev/bounces"),
    "period": ("The period covered, formatted", "2026-11-23"),
    "kind": ("daily or weekly", "daily"),
    "issue": ("The list's digest number", 12),
    "messages": ("The messages: each has subject, sender, date, text", _MESSAGES),
    "invite_note": ("The inviter's personal note; may be empty", "Join us for the 2.0 release!"),
    "requester_address": ("The address asking to join", "ada@example.org"),
    "requester_name": ("The name the requester gave; may be empty", "Ada Lovelace"),
    "requests_url": ("The list's subscription requests", f"{_URL}/lists/dev/requests"),
    "rejection_reason": ("Why the owners declined; may be empty", "Members of the team only"),
    "results": (
        "What each mail command did, one line each",
        ["subscribe ada@example.org: a confirmation was sent to ada@example.org"],
    ),
    "request_address": ("The list's command address", "dev-request@lists.example.org"),
    "join_address": ("The list's subscribe address", "dev-join@lists.example.org"),
    "leave_address": ("The list's unsubscribe address", "dev-leave@lists.example.org"),
}


def _spec(name: str, description: str, variables: str, *, has_subject: bool = True) -> TemplateSpec:
    names = ["list", *variables.split()]
    return TemplateSpec(
        name=name,
        description=description,
        variables={key: VARIABLES[key][0] for key in names},
        sample={key: VARIABLES[key][1] for key in names},
        has_subject=has_subject,
    )


SPECS: dict[str, TemplateSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "confirm",
            "Asks a new subscriber to confirm their address",
            "address confirm_url expires_hours",
        ),
        _spec(
            "welcome",
            "Greets a new subscriber",
            "address unsubscribe_url preferences_url list_address help_address",
        ),
        _spec("unsubscribe", "Confirms that an address left the list", "address resubscribe_url"),
        _spec(
            "list_invite",
            "Invites someone to join the list, with the inviter's note",
            "address accept_url inviter expires_hours invite_note",
        ),
        _spec(
            "subscription_request",
            "Tells the owners that a confirmed address waits for approval",
            "requester_address requester_name requests_url",
        ),
        _spec(
            "subscription_rejected",
            "Tells a requester that the owners declined",
            "address rejection_reason",
        ),
        _spec(
            "command_results",
            "Answers mail commands (subscribe, unsubscribe, help, confirm)",
            "results request_address join_address leave_address",
        ),
        _spec(
            "moderation_notice",
            "Tells the moderators that a post is held",
            "sender subject reasons approve_url reject_url queue_url",
        ),
        _spec("poster_held", "Tells the poster that their post awaits review", "subject reasons"),
        _spec(
            "poster_rejected",
            "Tells the poster that their post was rejected",
            "subject reason note",
        ),
        _spec(
            "bounce_warning",
            "Warns a subscriber whose address bounces",
            "address bounce_count threshold",
        ),
        _spec(
            "bounce_notice",
            "Tells the owners that bounces unsubscribed an address",
            "address bounce_count diagnostics bounces_url",
        ),
        _spec(
            "digest",
            "The digest's subject and table of contents (the posts follow)",
            "period kind issue messages",
        ),
        _spec(
            "footer",
            "Appended to every post the list sends",
            "list_address unsubscribe_url archive_url",
            has_subject=False,
        ),
        _spec(
            "digest_footer",
            "Ends each digest, with the reader's own links",
            "unsubscribe_url preferences_url",
            has_subject=False,
        ),
    )
}


def get_spec(name: str) -> TemplateSpec:
    spec = SPECS.get(name)
    if spec is None:
        raise TemplateNotFoundError(name=name)
    return spec


def pick_language(value: str | None) -> str:
    """The supported language for a recipient's preference: any Chinese reads zh-CN, else en."""
    tag = (value or "").strip().replace("_", "-").lower()
    if tag.split("-")[0] == "zh":
        return "zh-CN"
    return DEFAULT_LANGUAGE


# The sandbox stops escapes, not allocation. These bounds stop the one-line ways to build
# gigabytes ('x' * 10**9, 'x'.ljust(10**9), '%999999999d' % 1, 10 ** 100000); a determined
# editor can still spend CPU and memory (doubling a string in a loop), which is why editing
# and previewing stay with list owners and administrators.
_WIDE_SPEC = re.compile(r"%[-#0+]*\d{6,}|\{[^{}]*:[^{}]*\d{6,}[^{}]*\}")
_MAX_BITS = 4096


def _check_arguments(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise SecurityError(f"{value} is larger than the {MAX_ARGUMENT} templates may use")


def _check_format(spec: Any) -> None:
    if isinstance(spec, str) and _WIDE_SPEC.search(spec):
        raise SecurityError("format widths are limited")


def _bounded(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A filter whose numeric arguments (not the value filtered) are bounded."""
    skip = 2 if hasattr(function, "jinja_pass_arg") else 1

    @functools.wraps(function)  # keeps jinja_pass_arg
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments([*args[skip:], *kwargs.values()])
        if name == "format":
            _check_format(args[skip - 1])
        return function(*args, **kwargs)

    return bounded


class MailSandbox(ImmutableSandboxedEnvironment):
    """The sandbox for plain-text mail: no escaping, undefined names fail, bounded sizes."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,  # a line holding only {% ... %} leaves no blank line
            lstrip_blocks=True,
        )
        del self.globals["lipsum"]
        self.filters = {name: _bounded(f, name) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints and right * abs(left).bit_length() > _MAX_BITS:
            raise SecurityError(f"numbers are limited to {_MAX_BITS} bits")
        if (
            operator == "*"
            and ints
            and abs(left).bit_length() + abs(right).bit_length() > _MAX_BITS
        ):
            raise SecurityError(f"numbers are limited to {_MAX_BITS} bits")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    _check_arguments([len(seq) * count])
        if operator == "%" and isinstance(left, str):
            _check_format(left)
            _check_arguments(right if isinstance(right, tuple) else [right])
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_arguments([*args, *kwargs.values()])
        if getattr(obj, "__name__", "") in ("format", "format_map"):
            _check_format(getattr(getattr(obj, "__wrapped__", obj), "__self__", None))
        return super().call(context, obj, *args, **kwargs)


_env = MailSandbox()


@functools.lru_cache(maxsize=512)
def _compile(source: str) -> Template:
    """Compiled once per distinct source: built-ins and overrides alike."""
    return _env.from_string(source)


@functools.cache
def builtin(name: str, language: str) -> Source:
    """A default from templates/<language>/<name>.txt: "Subject: ..." and a blank line first."""
    spec = get_spec(name)
    text = resources.files("oak_maillist").joinpath("templates", language, f"{name}.txt")
    subject, body = "", text.read_text(encoding="utf-8")
    if spec.has_subject:
        first, blank, body = body.split("\n", 2)
        if not first.startswith("Subject: ") or blank:
            raise ValueError(f"{language}/{name}.txt must start with a Subject line")
        subject = first.removeprefix("Subject: ")
    return Source(name=name, language=language, subject=subject, body=body, level="builtin")


def _template_line(exc: BaseException) -> int | None:
    """The template line an error was raised on: Jinja rewrites tracebacks to show it."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _line_of_name(source: str, exc: BaseException) -> int | None:
    """Where an undefined name first appears, when the traceback did not say."""
    found = re.search(r"'([^']+)' is undefined|no attribute '([^']+)'", str(exc))
    if found is None:
        return None
    word = re.compile(rf"\b{re.escape(found.group(1) or found.group(2))}\b")
    return next(
        (number for number, text in enumerate(source.splitlines(), 1) if word.search(text)), None
    )


def _failure(field: str, source: str, exc: Exception) -> InvalidInputError:
    """The 422 for a template that failed to compile or render, with the line it failed on."""
    if isinstance(exc, TemplateSyntaxError):
        return TemplateInvalidError(field=field, line=exc.lineno, message=exc.message or str(exc))
    line = _template_line(exc)
    if isinstance(exc, SecurityError):
        return TemplateUnsafeError(field=field, line=line, message=str(exc))
    if isinstance(exc, UndefinedError) and line is None:
        line = _line_of_name(source, exc)
    return TemplateInvalidError(field=field, line=line, message=str(exc))


def _render_checked(field: str, source: str, context: Mapping[str, Any]) -> str:
    """Compile and render one field with bounded output; every failure is a 422."""
    if "\x00" in source:
        line = source.count("\n", 0, source.index("\x00")) + 1
        raise TemplateInvalidError(field=field, line=line, message="NUL characters are not allowed")
    chunks: list[str] = []
    size = 0
    try:
        for chunk in _compile(source).generate(context):
            size += len(chunk)
            if size > MAX_SAMPLE_OUTPUT:
                raise TemplateInvalidError(field=field, line=None, message="the output is too long")
            chunks.append(chunk)
    except TemplateInvalidError:
        raise
    except Exception as exc:  # whatever an edited template does wrong is the editor's input error
        raise _failure(field, source, exc) from None
    return "".join(chunks)


def one_line(text: str) -> str:
    """A subject is one header line: no CR or LF can reach the message."""
    return " ".join(text.split())


def check(
    *, name: str, subject: str, body: str, context: Mapping[str, Any] | None = None
) -> Rendered:
    """Validate a template's source by rendering it with sample data (or `context`).

    Raises TemplateInvalidError (syntax, undefined variable, size, any render failure) or
    TemplateUnsafeError (the sandbox refused), each with details {field, line, message}.
    """
    spec = get_spec(name)
    if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
        field = "subject" if len(subject) > MAX_SUBJECT else "body"
        raise TemplateInvalidError(field=field, line=None, message="the template is too long")
    if not spec.has_subject and subject.strip():
        raise TemplateInvalidError(field="subject", line=1, message=f"{name} has no subject")
    if spec.has_subject and not subject.strip():
        raise TemplateInvalidError(field="subject", line=1, message="a subject is required")
    if "\n" in subject or "\r" in subject:
        raise TemplateInvalidError(field="subject", line=2, message="the subject is one line")
    values = spec.sample if context is None else context
    return Rendered(
        subject=one_line(_render_checked("subject", subject, values)),
        body=_render_checked("body", body, values),
    )


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
                subject=one_line(_compile(source.subject).render(context)),
                body=_compile(source.body).render(context),
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
