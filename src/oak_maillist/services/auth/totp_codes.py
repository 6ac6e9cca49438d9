"""TOTP codes (RFC 6238) and backup codes as values: their format, the time-step maths, and the
otpauth URI and QR code an authenticator app scans.

No database and no keys here: the API's schemas check typed codes with these functions, and
totp and backup_codes use them to accept and issue codes.
"""

from __future__ import annotations

import io
import re
import time

import pyotp
import segno

from oak_maillist.services.crypto import same

# What every authenticator app assumes when the otpauth URI leaves them out: SHA-1, 6 digits,
# 30-second steps counted from the Unix epoch (RFC 6238 §4, T0 = 0).
DIGITS = 6
PERIOD = 30
# Steps accepted either side of the current one, for clock drift and typing time; RFC 6238
# §5.2 recommends at most one.
DRIFT_STEPS = 1
BACKUP_CODE_LENGTH = 10
# Read off paper and typed by hand: no 0/o, 1/l/i. 31 symbols, 10 of them: ~49.5 bits.
BACKUP_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"

_SEPARATORS = re.compile(r"[ \t-]+")
_TOTP_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")
_BACKUP_CODE = re.compile(rf"[{BACKUP_CODE_ALPHABET}]{{{BACKUP_CODE_LENGTH}}}")


def normalize_code(raw: str) -> str:
    """A code as typed, without spaces, tabs and dashes, lowercased."""
    return _SEPARATORS.sub("", raw).lower()


def is_totp_code(code: str) -> bool:
    return _TOTP_CODE.fullmatch(code) is not None


def is_backup_code(code: str) -> bool:
    return _BACKUP_CODE.fullmatch(code) is not None


def new_secret() -> str:
    """A random base32 secret of 160 bits, the key length RFC 4226 §4 (R6) recommends."""
    return pyotp.random_base32(length=32)


def time_step(at: float) -> int:
    """RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0 and X = 30 seconds."""
    return int(at // PERIOD)


def code_for_step(secret: str, step: int) -> str:
    """The code for one time step: TOTP is HOTP (RFC 4226) with the step as the counter."""
    return pyotp.HOTP(secret, digits=DIGITS).at(step)


def matching_step(
    secret: str, code: str, *, at: float | None = None, after: int | None = None
) -> int | None:
    """The time step, within DRIFT_STEPS of `at` (default: now) and later than `after`,
    whose code is `code`; None if there is none."""
    current = time_step(time.time() if at is None else at)
    found: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step < 0 or (after is not None and step <= after):
            continue
        # Every candidate is compared, in constant time, whether or not one matched already.
        if same(code_for_step(secret, step), code) and found is None:
            found = step
    return found


def otpauth_uri(secret: str, *, account: str, issuer: str) -> str:
    """The Key URI authenticator apps scan. pyotp leaves out algorithm, digits and period
    when they are SHA1, 6 and 30, the defaults of the Key URI Format."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(text: str) -> str:
    """A standalone SVG image (with its namespace, without an XML declaration) of a QR code."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=4, xmldecl=False, nl=False)
    return out.getvalue().decode()
