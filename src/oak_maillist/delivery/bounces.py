"""Bounce parsing: which recipient failed, hard or soft, with the status code and the reason."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

MAX_REASON_CHARS = 200

# RFC 3463 enhanced status code, e.g. "5.1.1"; the class digit decides permanence.
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY = re.compile(r"\b([245])\d\d[ -]")
_SPACE = re.compile(r"\s+")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n|\n-{3,}|\n={3,}|original message", re.IGNORECASE)

# RFC 3463 subject.detail codes that say the address itself is unusable: X.1.1 no such
# mailbox, X.1.2 no such system, X.1.3 bad syntax, X.1.6 moved, X.1.10 null MX (RFC 7505),
# X.4.4 unable to route (no such domain).
_DEAD_ADDRESS_STATUSES = frozenset({"1.1", "1.2", "1.3", "1.6", "1.10", "4.4"})
# X.1.7 and X.1.8: the sender's address was refused, ours, not the subscriber's.
_SENDER_STATUSES = frozenset({"1.7", "1.8"})
# "Other or undefined" subjects (RFC 3463 §3.1-3.6): they say nothing against the address.
_VAGUE_STATUSES = frozenset({"0.0", "1.0", "2.0", "3.0", "5.0"})
# Servers often answer a vague code (5.0.0, 5.5.0, 5.2.1, 5.1.351 ...) with clear words.
_DEAD_ADDRESS_TEXT = re.compile(
    r"user unknown|unknown user|user not found|no such (?:user|mailbox|recipient|address)|"
    r"(?:mailbox|user|recipient|address|account)[^.;]{0,40}(?:does not|doesn't|not) exist|"
    r"(?:unknown|invalid) (?:recipient|mailbox|address|local.part)|"
    r"recipient address rejected|address rejected\.|doesn't have an? \S+ account|"
    r"mailbox unavailable|host unknown|domain (?:does not|doesn't) exist|"
    r"couldn't find a mail exchanger|does not accept mail|illegal host|"
    r"unrouteable address|no mailbox here|no such domain|unknown host|not listed in|"
    r"recipient name is not recognized|no mx record|indicated no smtp service",
    re.IGNORECASE,
)
# Rejections of the message rather than the address (RFC 3463 X.7.x, spam filters, block
# lists), and failures of this one delivery (full mailbox, timeouts): never hard, whatever
# code the receiving server chose.
_NOT_ADDRESS_TEXT = re.compile(
    r"spam|blocked|block ?list|blacklist|\brbl\b|reputation|policy|dmarc|\bspf\b|dkim|"
    r"virus|filtered|refused|rate limit|too many|quota|mailbox (?:is )?full|"
    r"mailfolder is full|timed? ?out|retr(?:y|ies)|locked|disabled|suspended|"
    r"malformed or unexpected|sender address",
    re.IGNORECASE,
)
# A plausible mailbox: heuristic detectors can pick up JSON or header debris around an "@".
_ADDRESS = re.compile(
    r"[^\s@<>()\[\],;:\\\"'{}]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+", re.IGNORECASE
)
_BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|delivery (?:status|failure|failed|notification)|"
    r"mail delivery failed|failure notice|non.?delivery|could not be delivered",
    re.IGNORECASE,
)
_FEEDBACK_TYPES = ("message/feedback-report",)
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_AUTO_REPLY_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[ -]?(?:reply|response)|out of (?:the )?office|away from|vacation)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Failure:
    """One recipient that could not be reached."""

    address: str
    hard: bool
    status: str
    reason: str


@dataclass(frozen=True)
class BounceReport:
    """What a message sent to a bounce address says about the recipients."""

    failures: list[Failure]
    is_bounce: bool
    kind: str


def parse_bounce(raw: bytes) -> BounceReport:
    """Read a message that reached a `-bounces+TOKEN` address; never raises.

    `kind` is "dsn" (RFC 3464), "nonstandard" (a format flufl.bounce knows), "arf" (RFC 5965
    feedback report), "autoreply" (RFC 3834) or "none". `hard` is set only for permanent
    failures that show the address itself is dead (see `_is_hard`).
    """
    try:
        return _parse(email.message_from_bytes(raw))
    except Exception:  # malformed mail can trip any part of the stdlib parser or flufl
        return BounceReport(failures=[], is_bounce=False, kind="none")


def _parse(msg: Message) -> BounceReport:
    if any(part.get_content_type() in _FEEDBACK_TYPES for part in msg.walk()):
        return BounceReport(failures=[], is_bounce=False, kind="arf")
    dsn = _dsn_failures(msg)
    temporary, permanent = _flufl_failures(msg)
    if dsn is not None:
        known = {failure.address for failure in dsn}
        extra = _flufl_only(msg, temporary - known, permanent - known)
        return BounceReport(failures=dsn + extra, is_bounce=bool(dsn) or bool(extra), kind="dsn")
    if temporary or permanent:
        failures = _flufl_only(msg, temporary, permanent)
        return BounceReport(failures=failures, is_bounce=True, kind="nonstandard")
    if _is_auto_reply(msg):
        return BounceReport(failures=[], is_bounce=False, kind="autoreply")
    if _looks_like_bounce(msg):
        # A failure report in a format nobody here can read: a bounce without a recipient.
        return BounceReport(failures=[], is_bounce=True, kind="nonstandard")
    return BounceReport(failures=[], is_bounce=False, kind="none")


def _dsn_failures(msg: Message) -> list[Failure] | None:
    """Failed and delayed recipients of every delivery-status part; None when there is none."""
    found: list[Failure] | None = None
    for part in msg.walk():
        if part.get_content_type() not in _STATUS_TYPES:
            continue
        found = found if found is not None else []
        for block in _status_blocks(part)[1:]:
            failure = _block_failure(block)
            if failure is not None and failure.address not in {f.address for f in found}:
                found.append(failure)
    return found


def _status_blocks(part: Message) -> list[Message]:
    """RFC 3464 §2.1: per-message fields, then one block of fields per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
    blocks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [email.message_from_string(block.strip()) for block in blocks if block.strip()]


def _block_failure(block: Message) -> Failure | None:
    action = _field(block, "action").lower()
    status = _status_of(_field(block, "status"))
    diagnostic = _field(block, "diagnostic-code").partition(";")[2].strip()
    if not status or status.endswith(".0.0"):
        status = _status_of(diagnostic) or status
    if action.startswith("delayed"):
        permanent = False
    elif action.startswith(("fail", "error")):
        permanent = True
    elif not action and status[:1] in {"4", "5"}:
        permanent = status.startswith("5")
    else:
        return None  # delivered, relayed, expanded: RFC 3464 §2.3.3, not a failure
    address = _recipient(block)
    if not address:
        return None
    reason = _clip(diagnostic or _field(block, "status"))
    # RFC 3464 gives a status for each recipient: a vague one ("5.0.0") with no words saying
    # the address is dead is not enough to count toward unsubscribing.
    hard = permanent and _is_hard(status, reason, vague_counts=False)
    return Failure(address=address, hard=hard, status=status, reason=reason)


def _recipient(block: Message) -> str:
    """Original-Recipient when it is an RFC 822 address, else Final-Recipient (as flufl)."""
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        kind, _, value = _field(block, name).partition(";")
        value = value.strip() if value else kind.strip()
        if kind.strip().lower() in {"rfc822", ""} or value.startswith("<"):
            address = email.utils.parseaddr(value)[1] or value.strip("<> ")
            if _ADDRESS.fullmatch(address):
                return address.lower()
    return ""


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return _SPACE.sub(" ", str(value)).strip() if value is not None else ""


def _status_of(text: str) -> str:
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else ""


def _is_hard(status: str, reason: str, *, vague_counts: bool = True) -> bool:
    """Whether a permanent failure counts toward unsubscribing the address.

    It does unless something says the address may still work: words of a policy or spam
    rejection, a full or locked mailbox, a timeout (RFC 3463 X.7.x and friends; Sisimai's
    `hardbounce` is 0 for these too), a refused sender (X.1.7, X.1.8), or a specific status
    that is not about the address (X.2.2 mailbox full, X.3.4 too big ...). The reporter
    called it permanent, so with no status and no words against it, it counts.
    """
    reason = _ADDRESS.sub("", reason)  # "filtered@example.jp" is a name, not a verdict
    if status.startswith("4") or _NOT_ADDRESS_TEXT.search(reason):
        return False
    detail = status.partition(".")[2]
    if detail in _SENDER_STATUSES:
        return False
    if detail in _DEAD_ADDRESS_STATUSES or _DEAD_ADDRESS_TEXT.search(reason):
        return True
    return vague_counts and (not status or detail in _VAGUE_STATUSES)


def _flufl_failures(msg: Message) -> tuple[set[str], set[str]]:
    temporary, permanent = all_failures(msg)
    return _decoded(temporary), _decoded(permanent) - _decoded(temporary)


def _decoded(addresses: frozenset[bytes]) -> set[str]:
    decoded = {address.decode("ascii", "replace").lower() for address in addresses}
    return {address for address in decoded if _ADDRESS.fullmatch(address)}


def _flufl_only(msg: Message, temporary: set[str], permanent: set[str]) -> list[Failure]:
    """Failures only flufl.bounce found: the status and reason come from the text near each
    address; its permanent/temporary split decides permanence."""
    text = _report_text(msg)
    failures = []
    for address in sorted(permanent | temporary):
        status, reason = _near(text, address)
        permanent_failure = address in permanent and not status.startswith("4")
        hard = permanent_failure and _is_hard(status, reason)
        failures.append(Failure(address=address, hard=hard, status=status, reason=reason))
    return failures


def _report_text(msg: Message) -> str:
    """The human-readable text of the report, without the returned original message."""
    texts = []
    for part in _text_parts(msg):
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                texts.append(data.decode(charset, "replace"))
            except LookupError:
                texts.append(data.decode("latin-1"))
    return "\n".join(texts)


def _text_parts(msg: Message) -> Iterator[Message]:
    if msg.get_content_type() == "message/rfc822":
        return
    if msg.is_multipart():
        for part in msg.get_payload():
            if isinstance(part, Message):
                yield from _text_parts(part)
    elif msg.get_content_maintype() == "text":
        yield msg


def _near(text: str, address: str) -> tuple[str, str]:
    """The status code and diagnostic following the first mention of the address."""
    at = text.lower().find(address)
    # The paragraph that names the address; the returned message's headers follow it.
    window = _PARAGRAPH_END.split(text[at : at + 600])[0] if at >= 0 else text[:600]
    status = _status_of(window) or _status_of(text)
    lines = [line.strip() for line in window.splitlines() if line.strip()]
    reason = " ".join(lines[:4]) if lines else ""
    return status, _clip(reason)


def _clip(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def _is_auto_reply(msg: Message) -> bool:
    """RFC 3834 §5: Auto-Submitted other than "no"; also the common vendor markers."""
    auto = _field(msg, "auto-submitted").lower()
    if auto and not auto.startswith("no"):
        return True
    if any(_field(msg, name) for name in ("x-autoreply", "x-autorespond", "x-auto-response")):
        return True
    if _field(msg, "precedence").lower() == "auto_reply":
        return True
    return bool(_AUTO_REPLY_SUBJECT.match(_field(msg, "subject")))


def _looks_like_bounce(msg: Message) -> bool:
    sender = _field(msg, "from")
    return bool(_BOUNCE_SENDER.search(sender) or _BOUNCE_SUBJECT.search(_field(msg, "subject")))
