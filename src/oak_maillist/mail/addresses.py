"""Addresses a list answers at: post, -request, -join, -leave, -owner, -confirm+T, -bounces+T."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    POST = "post"
    REQUEST = "request"
    JOIN = "join"
    LEAVE = "leave"
    OWNER = "owner"
    CONFIRM = "confirm"
    BOUNCES = "bounces"


# Roles reached through "+token" sub-addresses carry a token; the others must not. Bounces
# come with a VERP token (list posts) or without (the service's own mail, bulk lists).
TOKEN_ROLES = frozenset({Role.CONFIRM, Role.BOUNCES})
TOKEN_REQUIRED = frozenset({Role.CONFIRM})


@dataclass(frozen=True)
class ListAddress:
    """One reading of a recipient: list local part, role and token, in a domain."""

    local_part: str
    domain: str
    role: Role
    token: str = ""


def candidate_readings(address: str) -> list[ListAddress]:
    """Every way `address` could name a list address, most literal first.

    A list may itself be called "dev-announce", so "dev-announce@x" is first read as the post
    address of "dev-announce", then as "dev" with a suffix. Local parts compare lowercased
    (lists are created lowercase; RFC 5321 leaves case to the receiving domain); a "+token"
    keeps its case.
    """
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or not local or not domain:
        return []
    domain = domain.lower().rstrip(".")
    base, plus, token = local.partition("+")
    base = base.lower()  # tokens keep their case: they are signatures and confirmation codes
    readings = []
    if not plus:
        readings.append(ListAddress(base, domain, Role.POST))
    for role in Role:
        suffix = f"-{role.value}"
        if role is Role.POST or not base.endswith(suffix) or len(base) == len(suffix):
            continue
        if plus and (role not in TOKEN_ROLES or not token):
            continue
        if not plus and role in TOKEN_REQUIRED:
            continue
        readings.append(ListAddress(base.removesuffix(suffix), domain, role, token))
    return readings
