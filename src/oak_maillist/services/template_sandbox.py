"""The Jinja sandbox for email templates: bounded sizes, compiling, and checking edited sources.

Kept apart from the catalog and the override storage because it is the security boundary: every
source a list owner or administrator edits is compiled and rendered here, and every failure
becomes a 422 naming the field and line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from oak_maillist.errors import InvalidInputError
from oak_maillist.services.template_catalog import MAX_BODY, MAX_SUBJECT, get_spec

MAX_ARGUMENT = 100_000  # widths, counts and repeats; the sandbox's own range() cap
MAX_SAMPLE_OUTPUT = 200_000  # characters a check against the sample data may produce


class TemplateInvalidError(InvalidInputError):
    code = "template_invalid"
    template = "{field}, line {line}: {message}"


class TemplateUnsafeError(InvalidInputError):
    code = "template_unsafe"
    template = "{field}, line {line}: {message}"


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line; empty for the footer
    body: str


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
def compile_template(source: str) -> Template:
    """Compiled once per distinct source: built-ins and overrides alike."""
    return _env.from_string(source)


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
        for chunk in compile_template(source).generate(context):
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
