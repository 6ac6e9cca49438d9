"""RFC 6238 and RFC 4226 test vectors, the Key URI format and code formats, through our code."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import time_machine

from oak_maillist.services.auth import totp_codes

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "totp"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    return data


RFC = _load("rfc-vectors.json")
# Authenticator apps, and so we, speak SHA-1 only; the SHA-256/512 rows need other seeds.
RFC6238_SHA1 = [row for row in RFC["rfc6238_appendix_b"]["vectors"] if row["algorithm"] == "SHA1"]
RFC4226 = RFC["rfc4226_appendix_d"]
KEY_URI = _load("google-authenticator-defaults.json")["uri_example"]


def test_the_corpus_holds_every_sha1_vector_of_appendix_b() -> None:
    assert [row["time"] for row in RFC6238_SHA1] == [
        59,
        1111111109,
        1111111111,
        1234567890,
        2000000000,
        20000000000,
    ]


@pytest.mark.parametrize("row", RFC6238_SHA1, ids=lambda row: str(row["time"]))
def test_rfc6238_appendix_b_sha1(row: dict[str, Any]) -> None:
    secret = row["secret_base32"]
    step = int(row["T_hex"], 16)
    # Our codes are 6 digits: the same HMAC and truncation, mod 10^6 instead of 10^8, so they
    # are the last six digits of the RFC's 8-digit values.
    code = row["expected"][-totp_codes.DIGITS :]
    assert code == row["expected_6_digits_derived"]
    assert totp_codes.time_step(row["time"]) == step
    assert totp_codes.code_for_step(secret, step) == code
    assert totp_codes.matching_step(secret, code, at=row["time"]) == step


@pytest.mark.parametrize("row", RFC6238_SHA1, ids=lambda row: str(row["time"]))
def test_rfc6238_vector_on_the_system_clock(row: dict[str, Any]) -> None:
    with time_machine.travel(row["time"], tick=False):
        assert totp_codes.matching_step(
            row["secret_base32"], row["expected_6_digits_derived"]
        ) == int(row["T_hex"], 16)


@pytest.mark.parametrize("row", RFC4226["vectors"], ids=lambda row: str(row["counter"]))
def test_rfc4226_appendix_d_hotp(row: dict[str, Any]) -> None:
    assert totp_codes.code_for_step(RFC4226["secret_base32"], row["counter"]) == row["expected"]


def test_one_step_of_drift_either_way_and_no_more() -> None:
    secret = RFC4226["secret_base32"]
    at = 1111111109.0
    now = totp_codes.time_step(at)
    for offset in (-1, 0, 1):
        code = totp_codes.code_for_step(secret, now + offset)
        assert totp_codes.matching_step(secret, code, at=at) == now + offset
    for offset in (-3, -2, 2, 3):
        code = totp_codes.code_for_step(secret, now + offset)
        assert totp_codes.matching_step(secret, code, at=at) is None


def test_a_step_at_or_before_the_last_accepted_one_is_refused() -> None:
    secret = RFC4226["secret_base32"]
    at = 1234567890.0
    now = totp_codes.time_step(at)
    code = totp_codes.code_for_step(secret, now)
    assert totp_codes.matching_step(secret, code, at=at, after=now - 1) == now
    assert totp_codes.matching_step(secret, code, at=at, after=now) is None
    assert totp_codes.matching_step(secret, code, at=at, after=now + 1) is None


def test_a_wrong_code_matches_no_step() -> None:
    secret = RFC4226["secret_base32"]
    at = 59.0
    valid = {
        totp_codes.code_for_step(secret, totp_codes.time_step(at) + offset) for offset in (-1, 0, 1)
    }
    wrong = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in valid)
    assert totp_codes.matching_step(secret, wrong, at=at) is None
    assert totp_codes.matching_step(secret, "", at=at) is None


def test_new_secrets_are_160_random_bits_in_base32() -> None:
    secrets = {totp_codes.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert len(base64.b32decode(secret)) == 20


@pytest.mark.parametrize("at", [0, 29, 30, 1700000000, 2000000000, 20000000000])
def test_our_codes_match_oathtool(at: int) -> None:
    oathtool = shutil.which("oathtool")
    assert oathtool is not None, "oathtool is not installed (Debian package oathtool)"
    secret = totp_codes.new_secret()
    result = subprocess.run(
        [oathtool, "--totp", "-b", secret, "--now", f"@{at}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    assert result.stdout.strip() == totp_codes.code_for_step(secret, totp_codes.time_step(at))


def test_key_uri_has_the_shape_of_googles_example() -> None:
    """Label `Issuer:account`, issuer again as a parameter, secret; algorithm, digits and
    period left at the Key URI Format defaults (SHA1, 6, 30), as in Google's example."""
    example = KEY_URI["parsed"]
    assert (example["algorithm"], example["digits"], example["period"]) == ("SHA1", 6, 30)
    secret = totp_codes.new_secret()
    uri = urlsplit(
        totp_codes.otpauth_uri(secret, account="alice@example.org", issuer="Oak Maillist")
    )
    params = parse_qs(uri.query)
    assert (uri.scheme, uri.netloc) == ("otpauth", example["type"])
    assert unquote(uri.path) == "/Oak Maillist:alice@example.org"
    assert params == {"secret": [secret], "issuer": ["Oak Maillist"]}
    reference = parse_qs(urlsplit(KEY_URI["uri"]).query)
    assert set(params) == set(reference)


def test_qr_code_is_a_standalone_svg() -> None:
    svg = totp_codes.qr_svg("otpauth://totp/Oak%20Maillist:a%40example.org?secret=X&issuer=Oak")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg.endswith("</svg>")


@pytest.mark.parametrize(
    ("typed", "normalized", "kind"),
    [
        ("123456", "123456", "totp"),
        (" 123 456 ", "123456", "totp"),
        ("123-456", "123456", "totp"),
        ("ABCDE-FGHJK", "abcdefghjk", "backup"),
        ("abcde fghjk", "abcdefghjk", "backup"),
        ("23456789ab", "23456789ab", "backup"),
        ("12345", "12345", None),
        ("1234567", "1234567", None),
        ("\u0661\u0662\u0663\u0664\u0665\u0666", "\u0661\u0662\u0663\u0664\u0665\u0666", None),
        ("abcde-fghj0", "abcdefghj0", None),  # 0 is not in the alphabet
        ("abcde-fghjo", "abcdefghjo", None),  # nor o, l, i, 1
    ],
)
def test_code_formats(typed: str, normalized: str, kind: str | None) -> None:
    code = totp_codes.normalize_code(typed)
    assert code == normalized
    assert totp_codes.is_totp_code(code) == (kind == "totp")
    assert totp_codes.is_backup_code(code) == (kind == "backup")
