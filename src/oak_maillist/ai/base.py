"""What every provider answers, how it fails, and the interface a provider implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Levels we store per verdict, after our thresholds (the provider's own level is kept apart).
NONE, CAUTION, FLAGGED, ERROR = "none", "caution", "flagged", "error"


@dataclass(frozen=True)
class Verdict:
    """One provider's judgement of one post, mapped onto our 0-100 scale."""

    score: int  # 0-100: the highest risk the provider saw in any part of the post
    level: str  # the provider's own word: Aliyun RiskLevel, Rspamd action, "spam"/"ham"...
    provider: str
    labels: list[str] = field(default_factory=list)
    risk_words: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """The provider could not give a verdict; `retryable` when trying again may help.

    The message names the provider's code and request id, never a key or the post's text.
    """

    def __init__(self, message: str, *, code: str = "error", retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class Provider(Protocol):
    """A content scorer. Implementations keep no connection between calls."""

    name: str

    async def check(self, subject: str, text: str, raw: bytes) -> Verdict:
        """Score a post: its subject, its text (plain or from HTML) and the raw message."""
        ...

    async def learn(self, raw: bytes, *, spam: bool) -> bool:
        """Teach the provider a moderator's verdict; False when it cannot learn."""
        ...


def clamp_score(value: float) -> int:
    return max(0, min(100, round(value)))


def chunks(text: str, size: int) -> list[str]:
    """`text` cut into pieces of at most `size` characters, preferring to cut at whitespace."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > size:
        cut = max(rest.rfind(space, size // 2, size + 1) for space in " \n\t")
        cut = cut if cut > 0 else size
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces
