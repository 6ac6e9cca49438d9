"""Reading list addresses and their sub-addresses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oak_maillist.mail.addresses import ListAddress, Role, candidate_readings


def test_post_address() -> None:
    assert candidate_readings("Dev@Example.COM") == [ListAddress("dev", "example.com", Role.POST)]


def test_suffixes_without_token() -> None:
    for role in (Role.REQUEST, Role.JOIN, Role.LEAVE, Role.OWNER):
        readings = candidate_readings(f"dev-{role.value}@example.com")
        assert readings == [
            ListAddress(f"dev-{role.value}", "example.com", Role.POST),
            ListAddress("dev", "example.com", role),
        ]


def test_confirm_needs_a_token_and_bounces_take_one_or_none() -> None:
    assert candidate_readings("dev-bounces+abc.def@example.com") == [
        ListAddress("dev", "example.com", Role.BOUNCES, "abc.def")
    ]
    assert candidate_readings("dev-confirm+tok@example.com") == [
        ListAddress("dev", "example.com", Role.CONFIRM, "tok")
    ]
    # the plain -bounces address takes bounces of mail sent without VERP (notices, bulk lists)
    assert candidate_readings("dev-bounces@example.com") == [
        ListAddress("dev-bounces", "example.com", Role.POST),
        ListAddress("dev", "example.com", Role.BOUNCES),
    ]
    assert candidate_readings("dev-confirm@example.com") == [
        ListAddress("dev-confirm", "example.com", Role.POST)
    ]
    assert candidate_readings("dev-bounces+@example.com") == []
    assert candidate_readings("dev+tag@example.com") == []
    assert candidate_readings("dev-request+tok@example.com") == []


def test_not_an_address() -> None:
    assert candidate_readings("no-at-sign") == []
    assert candidate_readings("@example.com") == []
    assert candidate_readings("-owner@example.com") == [
        ListAddress("-owner", "example.com", Role.POST)
    ]


@given(st.text(max_size=300))
def test_never_raises(address: str) -> None:
    for reading in candidate_readings(address):
        assert reading.local_part
        assert reading.domain == reading.domain.lower()


def test_tokens_keep_their_case() -> None:
    assert candidate_readings("Dev-Confirm+AbC_9@Example.com") == [
        ListAddress("dev", "example.com", Role.CONFIRM, "AbC_9")
    ]
