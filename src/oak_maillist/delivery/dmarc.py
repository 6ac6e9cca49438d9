"""The DMARC policy a poster's domain publishes (RFC 7489), to decide on From rewriting.

The record is looked up at `_dmarc.<domain>`, then at the organisational domain. We do not ship
the Public Suffix List: the organisational domain is the last two labels, or the last three
when the last two form a known two-level public suffix (co.uk, com.cn, ...). That can miss a
policy under an unlisted suffix; the cost is an unmunged post, never a lost one.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import dns.asyncresolver
import dns.exception
import dns.resolver

POLICIES = frozenset({"reject", "quarantine", "none"})
TWO_LEVEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk",
        "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
        "co.nz", "org.nz", "net.nz", "co.za", "org.za", "co.in", "net.in", "org.in",
        "com.br", "net.br", "org.br", "com.tw", "org.tw", "com.hk", "org.hk",
        "com.sg", "com.mx", "co.kr", "or.kr", "com.tr", "co.il", "com.ar",
    }
)  # fmt: skip


class PolicyCache:
    """Answers by domain for their TTL, at most `max_entries` of them (least recently used out)."""

    def __init__(self, max_entries: int = 10_000, min_ttl: float = 60, max_ttl: float = 86_400):
        self.max_entries = max_entries
        self.min_ttl, self.max_ttl = min_ttl, max_ttl
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def get(self, domain: str) -> str | None:
        entry = self._entries.get(domain)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(domain, None)
            return None
        self._entries.move_to_end(domain)
        return entry[1]

    def put(self, domain: str, value: str, ttl: float) -> None:
        ttl = min(max(ttl, self.min_ttl), self.max_ttl)
        self._entries[domain] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(domain)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def organizational_domain(domain: str) -> str:
    """The registrable domain by the two-label heuristic described in the module docstring."""
    labels = domain.lower().rstrip(".").split(".")
    keep = 3 if ".".join(labels[-2:]) in TWO_LEVEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


async def policy(domain: str, resolver: dns.asyncresolver.Resolver, cache: PolicyCache) -> str:
    """ "reject", "quarantine", "none", or "" when there is no usable record or DNS failed.

    A subdomain takes the organisational domain's sp= when it has no record of its own
    (RFC 7489 §6.6.3). Never raises.
    """
    domain = domain.lower().rstrip(".")
    if not domain or ".." in domain:
        return ""
    cached = cache.get(domain)
    if cached is not None:
        return cached
    try:
        found, ttl = await _lookup(domain, resolver)
        org = organizational_domain(domain)
        if found is None and org != domain:
            org_tags, ttl = await _lookup(org, resolver)
            inherited = (org_tags or {}).get("sp") or (org_tags or {}).get("p")
            found = {"p": inherited} if inherited else None
    except (TimeoutError, dns.exception.DNSException, OSError, ValueError):
        return ""  # a timeout or SERVFAIL is not cached: the next post asks again
    value = (found or {}).get("p", "")
    value = value if value in POLICIES else ""
    cache.put(domain, value, ttl)
    return value


async def _lookup(
    domain: str, resolver: dns.asyncresolver.Resolver
) -> tuple[dict[str, str] | None, float]:
    """The tags of the one DMARC record at _dmarc.<domain>, and the TTL to keep the answer."""
    try:
        answer = await resolver.resolve(f"_dmarc.{domain}", "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None, 3600  # a negative answer is cached too, for an hour
    records = []
    for rdata in answer:
        text = b"".join(rdata.strings).decode("utf-8", "replace").strip()
        if text.lower().startswith("v=dmarc1"):
            records.append(text)
    ttl = float(answer.rrset.ttl if answer.rrset is not None else 3600)
    if len(records) != 1:  # none, or several: RFC 7489 §6.6.3 says no policy
        return None, ttl
    tags = {}
    for item in records[0].split(";"):
        name, _, tag_value = item.partition("=")
        tags[name.strip().lower()] = tag_value.strip().lower()
    return tags, ttl


class Checker:
    """Policy lookups through one resolver, with their cache (one per process and DNS setup)."""

    def __init__(self, nameservers: list[str], port: int, timeout: float) -> None:
        if nameservers:
            self.resolver = dns.asyncresolver.Resolver(configure=False)
            self.resolver.nameservers = list(nameservers)
            self.resolver.port = port
        else:
            self.resolver = dns.asyncresolver.Resolver()
        self.resolver.lifetime = timeout
        self.cache = PolicyCache()

    async def policy(self, domain: str) -> str:
        return await policy(domain, self.resolver, self.cache)

    async def needs_mitigation(self, domain: str) -> bool:
        """Whether mail From this domain must not go out with its From unchanged."""
        return await self.policy(domain) in ("reject", "quarantine")
