"""The catalog of email templates: every kind of mail, its variables and sample values, and the
built-in defaults shipped in templates/<language>/.

This is the data the rest of the template code reads: the sandbox checks sources against the
sample values here, and the override storage falls back to the built-ins loaded here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Literal

from oak_maillist.errors import InvalidInputError, NotFoundError

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
MAX_SUBJECT = 500  # the column's length
# TEXT holds 65,535 bytes on MySQL/MariaDB: 16,000 characters fit even at 4 bytes each.
MAX_BODY = 16_000

# Where a template comes from: the list's override, the site-wide override, the built-in.
Level = Literal["list", "site", "builtin"]


class TemplateNotFoundError(NotFoundError):
    code = "template_not_found"
    template = "There is no email template named {name}"


class TemplateLanguageError(InvalidInputError):
    code = "template_language_unsupported"
    template = "Templates exist in {languages}, not {language}"


@dataclass(frozen=True)
class TemplateSpec:
    """One kind of mail: what it is for, the variables it receives, sample values."""

    name: str
    description: str
    variables: Mapping[str, str]
    sample: Mapping[str, Any]
    has_subject: bool = True


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
