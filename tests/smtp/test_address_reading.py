"""MAIL and RCPT addresses read by our fast path give what aiosmtpd's full reading gives."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from oak_maillist.smtp.protocol import ListSMTP

# The characters that decide how an address reads: quoting, comments, routes, brackets.
_PIECES = st.sampled_from(
    ["a", "Z", "0", ".", "..", "@", "<", ">", " ", '"', "(", ")", "\\", ",", ":", ";", "[", "]",
     "é", "-", "_", "+", "=", "!", "`", "{", "lists.example.org", " SIZE=1000", " BODY=8BITMIME"]
)  # fmt: skip
_ARGS = st.lists(_PIECES, max_size=12).map("".join)
_PLAIN = st.builds(
    lambda local, domain, rest: f"<{local}@{domain}>{rest}",
    st.from_regex(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,70}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9-]{1,20}(\.[A-Za-z0-9-]{1,10}){0,3}", fullmatch=True),
    st.sampled_from(["", " SIZE=5120", "  BODY=8BITMIME SMTPUTF8", "\t"]),
)


def _read(server: SMTP, arg: str) -> object:
    try:
        return server._getaddr(arg)
    except Exception as error:  # aiosmtpd's reading fails on some input: ours must too
        return type(error)


def _both(arg: str, local_part_limit: int = 0) -> tuple[object, object]:
    async def read() -> tuple[object, object]:
        ours, theirs = ListSMTP(handler=None), SMTP(handler=None)
        ours.local_part_limit = theirs.local_part_limit = local_part_limit
        return _read(ours, arg), _read(theirs, arg)

    return asyncio.run(read())


@settings(max_examples=400, deadline=None)
@given(arg=st.one_of(_ARGS, _PLAIN))
def test_fast_address_reading_agrees_with_aiosmtpd(arg: str) -> None:
    ours, theirs = _both(arg)
    assert ours == theirs


def test_plain_addresses_take_the_fast_path_and_odd_ones_the_full_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = "<bench@lists.example.org> SIZE=5120"
    assert _both(plain) == (("bench@lists.example.org", "SIZE=5120"),) * 2
    long_local = f"<{'x' * 65}@example.org>"  # over the local-part limit (RFC 5321 §4.5.3.1.1)
    assert _both(long_local, local_part_limit=64) == ((None, None),) * 2
    odd = ('<"a b"@example.org>', "<@relay:a@example.org>", "a@example.org", "<>", "<a@b> (c)")
    full = {arg: _both(arg)[1] for arg in odd}

    def full_reading(server: SMTP, arg: str) -> tuple[str | None, str | None]:
        return ("full reading", arg)

    monkeypatch.setattr(SMTP, "_getaddr", full_reading)
    assert _both(plain)[0] == ("bench@lists.example.org", "SIZE=5120")  # without it
    for arg in odd:
        assert _both(arg)[0] == ("full reading", arg), arg  # through it
        assert full[arg] != ("full reading", arg)
