"""DMARC policy lookup against a tiny DNS server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import dns.asyncresolver
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from oak_maillist.delivery.dmarc import PolicyCache, organizational_domain, policy

ZONE = {
    "_dmarc.strict.example.": ["v=DMARC1; p=reject; rua=mailto:d@strict.example"],
    "_dmarc.quiet.example.": ["v=DMARC1; p=quarantine; sp=none"],
    "_dmarc.watch.example.": ["v=DMARC1; p=none"],
    "_dmarc.parent.co.uk.": ["v=DMARC1; p=reject; sp=quarantine"],
    "_dmarc.twice.example.": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
    "_dmarc.other.example.": ["v=spf1 -all"],
    "_dmarc.odd.example.": ["v=DMARC1; p=bogus"],
}


@dataclass
class Server(asyncio.DatagramProtocol):
    queries: list[str] = field(default_factory=list)
    silent: set[str] = field(default_factory=set)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector transport does not subclass DatagramTransport; it has sendto.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        name = query.question[0].name.to_text().lower()
        self.queries.append(name)
        if name in self.silent:
            return  # a resolver that never answers: the client must time out
        response = dns.message.make_response(query)
        if name in ZONE:
            texts = [f'"{t}"' for t in ZONE[name]]
            response.answer.append(dns.rrset.from_text(name, 300, "IN", "TXT", *texts))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, dns.asyncresolver.Resolver]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 0.5
    try:
        yield protocol, resolver
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("strict.example", "reject"),
        ("STRICT.example.", "reject"),
        ("quiet.example", "quarantine"),
        ("watch.example", "none"),
        ("mail.quiet.example", "none"),  # sp= of the organisational domain
        ("mail.strict.example", "reject"),  # no sp=: p= applies
        ("parent.co.uk", "reject"),
        ("deep.sub.parent.co.uk", "quarantine"),
        ("nothing.example", ""),
        ("twice.example", ""),  # two records: no policy (RFC 7489 §6.6.3)
        ("other.example", ""),
        ("odd.example", ""),
        ("", ""),
    ],
)
async def test_policy(
    server: tuple[Server, dns.asyncresolver.Resolver], domain: str, expected: str
) -> None:
    _, resolver = server
    assert await policy(domain, resolver, PolicyCache()) == expected


async def test_answers_are_cached(server: tuple[Server, dns.asyncresolver.Resolver]) -> None:
    protocol, resolver = server
    cache = PolicyCache()
    assert await policy("strict.example", resolver, cache) == "reject"
    assert await policy("nothing.example", resolver, cache) == ""
    asked = len(protocol.queries)
    assert await policy("strict.example", resolver, cache) == "reject"
    assert await policy("nothing.example", resolver, cache) == ""
    assert len(protocol.queries) == asked


async def test_timeout_is_empty_and_not_cached(
    server: tuple[Server, dns.asyncresolver.Resolver],
) -> None:
    protocol, resolver = server
    protocol.silent.add("_dmarc.strict.example.")
    cache = PolicyCache()
    assert await policy("strict.example", resolver, cache) == ""
    assert len(cache) == 0
    protocol.silent.clear()
    assert await policy("strict.example", resolver, cache) == "reject"


def test_cache_is_bounded_and_expires() -> None:
    cache = PolicyCache(max_entries=2, min_ttl=0)
    cache.put("a", "reject", 60)
    cache.put("b", "none", 60)
    assert cache.get("a") == "reject"  # a is now the most recently used
    cache.put("c", "quarantine", 60)
    assert len(cache) == 2
    assert cache.get("b") is None
    cache.put("d", "reject", -1)
    assert cache.get("d") is None


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("mail.example.com", "example.com"),
        ("example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("x.mail.example.com.cn", "example.com.cn"),
        ("Example.ORG.", "example.org"),
    ],
)
def test_organizational_domain(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org
