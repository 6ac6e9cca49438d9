"""Email templates: built-ins, checking edited sources, the sandbox, and the fallback chain."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from oak_maillist.models import EmailTemplate
from oak_maillist.services import template_catalog, template_sandbox, templates
from oak_maillist.services.template_catalog import LANGUAGES, MAX_BODY, SPECS
from oak_maillist.services.template_sandbox import TemplateInvalidError, TemplateUnsafeError
from tests.factories import make_list


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", list(SPECS))
def test_every_builtin_renders_with_its_sample_data(name: str, language: str) -> None:
    source = template_catalog.builtin(name, language)
    rendered = template_sandbox.check(name=name, subject=source.subject, body=source.body)
    assert bool(rendered.subject) is SPECS[name].has_subject
    assert "\n" not in rendered.subject
    assert "{{" not in rendered.body
    assert "{%" not in rendered.body
    assert rendered.body.endswith("\n")
    assert not rendered.body.endswith("\n\n")
    assert SPECS[name].sample["list"]["name"] in rendered.subject + rendered.body


def test_each_language_has_its_own_text() -> None:
    english = template_catalog.builtin("welcome", "en")
    chinese = template_catalog.builtin("welcome", "zh-CN")
    assert english.subject.startswith("Welcome")
    assert chinese.subject.startswith("欢迎")


def _error(excinfo: pytest.ExceptionInfo[Exception]) -> tuple[str, int, dict[str, object]]:
    error = excinfo.value
    assert isinstance(error, TemplateInvalidError | TemplateUnsafeError)
    return error.code, error.status, error.details


def test_syntax_error_gives_its_line() -> None:
    with pytest.raises(TemplateInvalidError) as excinfo:
        template_sandbox.check(name="welcome", subject="Hi", body="Hello\n\n{% if %}\nbye\n")
    code, status, details = _error(excinfo)
    assert (code, status) == ("template_invalid", 422)
    assert details["field"] == "body"
    assert details["line"] == 3
    assert details["message"]


def test_syntax_error_in_subject_names_the_subject() -> None:
    with pytest.raises(TemplateInvalidError) as excinfo:
        template_sandbox.check(name="welcome", subject="Hi {{ list.name", body="Hello\n")
    assert excinfo.value.details["field"] == "subject"
    assert excinfo.value.details["line"] == 1


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("Hello\n{{ nope }}\n", 2),
        ("Hello\n{{ list.nope }}\n", 2),
        ("{% for m in messages %}\n{{ m.subject }}\n{{ m.nope }}\n{% endfor %}\n", 3),
        ("{% macro f() %}\n{{ nope }}\n{% endmacro %}\n{{ f() }}\n", 2),
        ("a\n\n\n{{ list.name + 1 }}\n", 4),  # any render failure, not just undefined names
    ],
)
def test_render_failure_gives_its_line(body: str, line: int) -> None:
    with pytest.raises(TemplateInvalidError) as excinfo:
        template_sandbox.check(name="digest", subject="Digest", body=body)
    code, status, details = _error(excinfo)
    assert (code, status) == ("template_invalid", 422)
    assert (details["field"], details["line"]) == ("body", line)


def test_variables_of_other_templates_are_undefined() -> None:
    with pytest.raises(TemplateInvalidError, match="confirm_url"):
        template_sandbox.check(name="welcome", subject="Hi", body="{{ confirm_url }}\n")


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ list.__class__ }}",
        "{{ messages.append(1) }}",
        "{{ list.update(name='x') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(1) }}",
        # cheap ways to allocate without end
        "{{ 'x' * 1000000000 }}",
        "{{ 10 ** 100000 }}",
        "{% set n = 2 ** 4000 %}{{ n * n }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 'x'|center(1000000000) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%999999999d'|format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{% for i in range(1000000000) %}{% endfor %}",
    ],
)
def test_sandbox_refuses_escapes_and_giants(body: str) -> None:
    with pytest.raises(TemplateUnsafeError) as excinfo:
        template_sandbox.check(name="digest", subject="Hi", body=f"line one\n{body}\n")
    code, status, details = _error(excinfo)
    assert (code, status) == ("template_unsafe", 422)
    assert (details["field"], details["line"]) == ("body", 2)


def test_limits_and_shape() -> None:
    with pytest.raises(TemplateInvalidError, match="too long"):
        template_sandbox.check(name="welcome", subject="Hi", body="x" * (MAX_BODY + 1))
    with pytest.raises(TemplateInvalidError, match="too long"):
        template_sandbox.check(
            name="welcome", subject="Hi", body="{% for i in range(99999) %}xxx{% endfor %}"
        )
    with pytest.raises(TemplateInvalidError) as excinfo:
        template_sandbox.check(name="welcome", subject="Hi", body="ok\nno\x00here\n")
    assert excinfo.value.details["line"] == 2
    with pytest.raises(TemplateInvalidError, match="has no subject"):
        template_sandbox.check(name="footer", subject="Hi", body="-- \n")
    with pytest.raises(TemplateInvalidError, match="subject is required"):
        template_sandbox.check(name="welcome", subject=" ", body="Hi\n")
    with pytest.raises(TemplateInvalidError, match="one line"):
        template_sandbox.check(name="welcome", subject="Hi\nBcc: x@example.org", body="Hi\n")
    with pytest.raises(template_catalog.TemplateNotFoundError):
        template_sandbox.check(name="nope", subject="Hi", body="Hi\n")


def test_rendered_subject_is_one_line() -> None:
    rendered = template_sandbox.check(
        name="poster_held",
        subject="Held: {{ subject }}",
        body="{{ reasons|join(', ') }}\n",
        context={**SPECS["poster_held"].sample, "subject": "a\r\nBcc: x@example.org"},
    )
    assert rendered.subject == "Held: a Bcc: x@example.org"


@pytest.mark.parametrize(
    ("value", "language"),
    [("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh_tw", "zh-CN"), ("en-GB", "en"), ("fr", "en")],
)
def test_pick_language(value: str, language: str) -> None:
    assert template_catalog.pick_language(value) == language


def _override(
    name: str, language: str, marker: str, list_id: int | None = None, body: str | None = None
) -> EmailTemplate:
    return EmailTemplate(
        name=name,
        language=language,
        list_id=list_id,
        subject=f"{marker} {{{{ list.name }}}}",
        body=body or f"{marker}: {{{{ confirm_url }}}}\n",
    )


async def _levels(db: AsyncSession, language: str, list_id: int | None) -> list[tuple[str, str]]:
    found = await templates.candidates(db, name="confirm", language=language, list_id=list_id)
    return [(source.level, source.language) for source in found]


async def _subject(db: AsyncSession, language: str, list_id: int | None = None) -> str:
    context = SPECS["confirm"].sample
    rendered = await templates.render(
        db, name="confirm", language=language, list_id=list_id, context=context
    )
    return rendered.subject


async def test_fallback_chain(db: AsyncSession) -> None:
    mlist = await make_list(db)
    other = await make_list(db)
    # Nothing overridden: the built-in in the recipient's language; unknown languages read English.
    assert await _levels(db, "zh-CN", mlist.id) == [("builtin", "zh-CN"), ("builtin", "en")]
    assert await _levels(db, "fr", mlist.id) == [("builtin", "en")]
    assert (await _subject(db, "zh-CN")).startswith("请确认订阅")
    assert (await _subject(db, "fr")).startswith("Please confirm")

    db.add_all([_override("confirm", "zh-CN", "SITE-ZH"), _override("confirm", "en", "SITE-EN")])
    await db.flush()
    assert await _subject(db, "zh-CN", mlist.id) == "SITE-ZH Oak Developers"
    assert await _subject(db, "fr", mlist.id) == "SITE-EN Oak Developers"

    db.add(_override("confirm", "zh-CN", "LIST-ZH", list_id=mlist.id))
    await db.flush()
    assert await _levels(db, "zh-CN", mlist.id) == [
        ("list", "zh-CN"),
        ("site", "zh-CN"),
        ("builtin", "zh-CN"),
        ("site", "en"),
        ("builtin", "en"),
    ]
    assert await _subject(db, "zh-CN", mlist.id) == "LIST-ZH Oak Developers"
    assert await _subject(db, "zh-CN", other.id) == "SITE-ZH Oak Developers"
    assert await _subject(db, "zh-CN") == "SITE-ZH Oak Developers"
    # The list overrides Chinese only: its English readers get the site's English.
    assert await _subject(db, "en", mlist.id) == "SITE-EN Oak Developers"
    assert await _subject(db, "fr", mlist.id) == "SITE-EN Oak Developers"


async def test_an_override_that_fails_on_real_data_falls_back(db: AsyncSession) -> None:
    mlist = await make_list(db)
    # Stored without check(): it indexes past the end of a short list of reasons.
    db.add(
        _override(
            "poster_held", "en", "BROKEN", list_id=mlist.id, body="{{ reasons[3].upper() }}\n"
        )
    )
    await db.flush()
    rendered = await templates.render(
        db,
        name="poster_held",
        language="en",
        list_id=mlist.id,
        context=SPECS["poster_held"].sample,
    )
    assert rendered.subject.startswith("Your message to Oak Developers")


async def test_render_needs_every_variable(db: AsyncSession) -> None:
    with pytest.raises(ValueError, match="confirm_url"):
        await templates.render(
            db, name="confirm", language="en", context={"list": {}, "address": "a@example.org"}
        )
