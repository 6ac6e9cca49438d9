"""VERP return paths: round trip, tampering, case folding by MTAs, length limits."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oak_maillist.mail import verp
from oak_maillist.mail.addresses import Role, candidate_readings

KEY = b"k" * 32
IDS = st.integers(min_value=0, max_value=2**63 - 1)


def _b36(number: int) -> str:
    return (
        "0"
        if number == 0
        else _b36(number // 36).lstrip("0") + (string.digits + string.ascii_lowercase)[number % 36]
    )


def _token_of(address: str) -> str:
    (reading,) = [r for r in candidate_readings(address) if r.role is Role.BOUNCES]
    return reading.token


def test_address_has_list_bounces_form_and_parses_back() -> None:
    address = verp.encode(
        KEY, list_local="dev", domain="example.org", subscriber_id=42, message_id=7
    )
    local, _, domain = address.rpartition("@")
    assert domain == "example.org"
    assert local.startswith("dev-bounces+16.7.")  # base 36
    (reading,) = [r for r in candidate_readings(address) if r.role is Role.BOUNCES]
    assert reading.local_part == "dev"
    assert verp.decode(KEY, reading.token) == verp.VerpToken(subscriber_id=42, message_id=7)


@given(subscriber_id=IDS, message_id=IDS)
def test_round_trip_for_any_ids(subscriber_id: int, message_id: int) -> None:
    address = verp.encode(
        KEY, list_local="announce", domain="lists.example.com",
        subscriber_id=subscriber_id, message_id=message_id,
    )  # fmt: skip
    assert len(address.rpartition("@")[0].encode()) <= 64
    token = _token_of(address)
    assert set(token) <= set(string.digits + "." + string.ascii_lowercase)
    assert token.split(".")[:2] == [_b36(subscriber_id), _b36(message_id)]
    assert verp.decode(KEY, token) == verp.VerpToken(subscriber_id, message_id)


def test_token_survives_an_mta_that_changes_case() -> None:
    token = verp.token(KEY, subscriber_id=9, message_id=1000)
    assert verp.decode(KEY, token.upper()) == verp.VerpToken(9, 1000)


def test_every_single_character_change_is_rejected() -> None:
    token = verp.token(KEY, subscriber_id=12345, message_id=678)
    alphabet = string.digits + string.ascii_lowercase + "."
    for index, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            tampered = token[:index] + replacement + token[index + 1 :]
            assert verp.decode(KEY, tampered) is None, tampered


def test_swapped_ids_with_the_same_mac_are_rejected() -> None:
    token = verp.token(KEY, subscriber_id=1, message_id=2)
    mac = token.rsplit(".", 1)[1]
    assert verp.decode(KEY, f"2.1.{mac}") is None


def test_another_key_does_not_verify() -> None:
    token = verp.token(KEY, subscriber_id=1, message_id=2)
    assert verp.decode(b"other key", token) is None


@pytest.mark.parametrize(
    "value",
    [
        "", "1.2", "1.2.", ".1.2abcdefghijklmnop", "01.2.abcdefghijklmnop",
        "1.2.abcdefghijklmno", "1.2.abcdefghijklmnopq", "1.2.abcdefghijklmn01",
        "-1.2.abcdefghijklmnop", "1.2.abcdefghijklmnop ", "\u0661.2.abcdefghijklmnop",
        "1y2p0ij32e8e8.2.abcdefghijklmnop", "a_b.2.abcdefghijklmnop", "x" * 500,
    ],
)  # fmt: skip
def test_malformed_tokens_are_none(value: str) -> None:
    assert verp.decode(KEY, value) is None


@given(value=st.text(max_size=80))
def test_decode_never_raises(value: str) -> None:
    assert verp.decode(KEY, value) is None


def test_decode_of_a_non_string_is_none() -> None:
    assert verp.decode(KEY, None) is None  # type: ignore[arg-type]


def test_local_part_over_64_octets_is_refused() -> None:
    with pytest.raises(ValueError, match="over 64"):
        verp.encode(
            KEY, list_local="a" * 30, domain="x.org", subscriber_id=2**63 - 1, message_id=2**63 - 1
        )
    # The same list with small ids fits.
    assert verp.encode(KEY, list_local="a" * 30, domain="x.org", subscriber_id=1, message_id=1)


@pytest.mark.parametrize(("subscriber_id", "message_id"), [(-1, 1), (1, -1), (2**63, 1)])
def test_ids_out_of_range_are_refused(subscriber_id: int, message_id: int) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        verp.token(KEY, subscriber_id=subscriber_id, message_id=message_id)
