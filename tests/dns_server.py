"""A real DNS server on 127.0.0.1 (UDP) answering TXT questions from a table, for DMARC tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class Zone:
    """TXT records by name (lower case, no trailing dot); every other name is NXDOMAIN."""

    txt: dict[str, str]
    asked: Counter[str] = field(default_factory=Counter)
    port: int = 0


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        self.zone.asked[name] += 1
        value = self.zone.txt.get(name)
        if value is None or question.rdtype != dns.rdatatype.TXT:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            response.answer.append(
                dns.rrset.from_text(question.name, 300, "IN", "TXT", f'"{value}"')
            )
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


async def start_dns(zone: Zone) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(zone), local_addr=("127.0.0.1", 0)
    )
    zone.port = transport.get_extra_info("sockname")[1]
    return transport
