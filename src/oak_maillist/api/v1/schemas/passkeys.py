"""Passkeys as the API shows them; credentials in the JSON shape @simplewebauthn/browser sends.

Every field of a credential is bounded, so the largest credential we keep is about 45 KB.
Fields the browser may add beyond these (clientExtensionResults, the registration response's
publicKey, publicKeyAlgorithm and authenticatorData copies) are accepted and dropped: the
verification reads everything it needs from clientDataJSON and the authenticator's data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# base64url, padding tolerated (the JSON forms of WebAuthn L3 §5.1 leave it out).
_BASE64URL = r"^[A-Za-z0-9_-]*={0,2}$"


def _base64url(max_length: int, description: str, **field: Any) -> Any:
    return Field(pattern=_BASE64URL, max_length=max_length, description=description, **field)


# A credential id is at most 1023 bytes (WebAuthn L3 §5.8.3): 1364 characters of base64url.
CredentialId = Annotated[str, _base64url(1364, "Credential id, base64url", min_length=1)]
ChallengeId = Annotated[str, Field(min_length=1, max_length=200)]
MfaToken = Annotated[str, Field(min_length=1, max_length=200)]
PasskeyName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Transport = Annotated[str, Field(max_length=32)]


class _Credential(BaseModel):
    id: CredentialId
    raw_id: CredentialId = Field(alias="rawId")
    type: Literal["public-key"]
    authenticator_attachment: str | None = Field(
        default=None, alias="authenticatorAttachment", max_length=32
    )

    def as_json(self) -> dict[str, Any]:
        """The credential as `webauthn` parses it: the browser's JSON, minus dropped fields."""
        return self.model_dump(by_alias=True, exclude_none=True)


class AttestationResponse(BaseModel):
    client_data_json: str = _base64url(8192, "base64url", min_length=1, alias="clientDataJSON")
    attestation_object: str = _base64url(
        32768, "CBOR, base64url", min_length=1, alias="attestationObject"
    )
    transports: list[Transport] = Field(default_factory=list, max_length=10)


class AssertionResponse(BaseModel):
    client_data_json: str = _base64url(8192, "base64url", min_length=1, alias="clientDataJSON")
    authenticator_data: str = _base64url(8192, "base64url", min_length=1, alias="authenticatorData")
    signature: str = _base64url(2048, "base64url", min_length=1)
    user_handle: str | None = _base64url(128, "base64url", default=None, alias="userHandle")


class RegistrationCredential(_Credential):
    """What startRegistration() resolves to."""

    response: AttestationResponse


class AuthenticationCredential(_Credential):
    """What startAuthentication() resolves to."""

    response: AssertionResponse


class CeremonyOut(BaseModel):
    challenge_id: str = Field(description="Send back with the credential; valid once, 5 minutes")
    options: dict[str, Any] = Field(
        description="Options for startRegistration() or startAuthentication() (optionsJSON)"
    )


class PasskeyRegisterIn(BaseModel):
    challenge_id: ChallengeId
    credential: RegistrationCredential
    name: PasskeyName = ""


class PasskeyRenameIn(BaseModel):
    name: Annotated[PasskeyName, Field(min_length=1)]


class PasskeyAuthOptionsIn(BaseModel):
    mfa_token: MfaToken | None = Field(
        default=None,
        description="The MFA step from /auth/login, to use a passkey as the second factor",
    )


class PasskeyLoginIn(BaseModel):
    challenge_id: ChallengeId
    credential: AuthenticationCredential
    mfa_token: MfaToken | None = None


class PasskeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool
    transports: list[str]
