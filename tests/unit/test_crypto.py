"""Secrets at rest: round trips, per-purpose keys, and a clear error when the key changed."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from oak_maillist.config import SecuritySettings
from oak_maillist.services import crypto

ONE = SecuritySettings(jwt_secret=SecretStr("one-secret-that-is-long-enough-0123456789"))
TWO = SecuritySettings(jwt_secret=SecretStr("two-secret-that-is-long-enough-0123456789"))


def test_round_trip_and_purpose_separation() -> None:
    stored = crypto.encrypt("JBSWY3DPEHPK3PXP", ONE, purpose="totp")
    assert "JBSWY3DPEHPK3PXP" not in stored
    assert crypto.decrypt(stored, ONE, purpose="totp") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, ONE, purpose="dkim-private-key")


def test_changed_secret_is_a_clear_error() -> None:
    stored = crypto.encrypt("value", ONE, purpose="totp")
    with pytest.raises(crypto.DecryptionError) as caught:
        crypto.decrypt(stored, TWO, purpose="totp")
    assert caught.value.code == "stored_secret_unreadable"
    assert "jwt_secret changed" in caught.value.message


def test_derived_keys_differ_per_purpose_and_are_256_bits() -> None:
    first, second = crypto.derive_key(ONE, "a"), crypto.derive_key(ONE, "b")
    assert len(first) == len(second) == 32
    assert first != second
    assert crypto.derive_key(TWO, "a") != first
