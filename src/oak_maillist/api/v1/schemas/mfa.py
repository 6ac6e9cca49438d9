"""TOTP and backup codes as the API shows them."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from oak_maillist.services.auth import totp_codes
from oak_maillist.services.auth.passwords import MAX_PASSWORD_LENGTH

# Room for the spaces and dashes people type or paste ("123 456", "abcde-fghjk").
MAX_CODE_INPUT = 32
# The patterns say in the OpenAPI schema exactly what the validators accept: the separators
# totp_codes.normalize_code removes, around 6 digits or 10 backup-code symbols in either case.
_SEP = r"[ \t-]*"
_DIGIT = "[0-9]"
_SYMBOL = "[{}]".format(
    "".join(
        dict.fromkeys(totp_codes.BACKUP_CODE_ALPHABET + totp_codes.BACKUP_CODE_ALPHABET.upper())
    )
)
_TOTP_PATTERN = f"{_SEP}(?:{_DIGIT}{_SEP}){{{totp_codes.DIGITS}}}"
_BACKUP_PATTERN = f"{_SEP}(?:{_SYMBOL}{_SEP}){{{totp_codes.BACKUP_CODE_LENGTH}}}"


def _totp_code(value: str) -> str:
    code = totp_codes.normalize_code(value)
    if not totp_codes.is_totp_code(code):
        raise ValueError(f"must be {totp_codes.DIGITS} digits")
    return code


def _any_code(value: str) -> str:
    code = totp_codes.normalize_code(value)
    if not (totp_codes.is_totp_code(code) or totp_codes.is_backup_code(code)):
        raise ValueError(f"must be {totp_codes.DIGITS} digits or a backup code (xxxxx-xxxxx)")
    return code


TotpCode = Annotated[
    str,
    Field(
        min_length=totp_codes.DIGITS,
        max_length=MAX_CODE_INPUT,
        pattern=f"^{_TOTP_PATTERN}$",
        description="The 6-digit code from the authenticator app; spaces are ignored",
    ),
    AfterValidator(_totp_code),
]
MfaCode = Annotated[
    str,
    Field(
        min_length=totp_codes.DIGITS,
        max_length=MAX_CODE_INPUT,
        pattern=f"^(?:{_TOTP_PATTERN}|{_BACKUP_PATTERN})$",
        description="A 6-digit TOTP code or a backup code (xxxxx-xxxxx); spaces and dashes "
        "are ignored",
    ),
    AfterValidator(_any_code),
]


class TotpSetupOut(BaseModel):
    secret: str = Field(description="Base32 secret, for typing into an app by hand")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an SVG QR code")


class TotpEnableIn(BaseModel):
    code: TotpCode


class BackupCodesOut(BaseModel):
    backup_codes: list[str] = Field(description="Shown once; each works once")


class MfaConfirmIn(BaseModel):
    """The current password, or a TOTP or backup code (the password wins if both are given)."""

    password: str | None = Field(default=None, min_length=1, max_length=MAX_PASSWORD_LENGTH)
    code: MfaCode | None = None


class MfaStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    totp_enabled: bool
    backup_codes_remaining: int = Field(ge=0)


class MfaVerifyIn(BaseModel):
    mfa_token: str = Field(min_length=1, max_length=200)
    code: MfaCode
