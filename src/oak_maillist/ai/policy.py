"""Thresholds and per-list actions: a score becomes a level, a level becomes what happens.

Score ≥ high_risk_threshold is flagged, ≥ medium_risk_threshold caution, else none. Each list
says what each level does (hold, accept, mark, reject, discard); defaults: flagged held,
caution accepted and marked, a provider failure held (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from oak_maillist.ai.base import CAUTION, ERROR, FLAGGED, NONE
from oak_maillist.config import AiModerationSettings

ACTIONS = ("hold", "accept", "mark", "reject", "discard")


def level_for(score: int, config: AiModerationSettings) -> str:
    if score >= config.high_risk_threshold:
        return FLAGGED
    if score >= config.medium_risk_threshold:
        return CAUTION
    return NONE


@dataclass(frozen=True)
class ListActions:
    """A list's answer to each level (the mailing_lists ai_* columns)."""

    flagged: str = "hold"
    caution: str = "mark"
    on_error: str = "hold"

    def for_level(self, level: str) -> str:
        """What to do with a post at `level`; an unknown action holds (never a silent pass)."""
        action = {FLAGGED: self.flagged, CAUTION: self.caution, ERROR: self.on_error}.get(
            level, "accept"
        )
        return action if action in ACTIONS else "hold"
