"""A software WebAuthn authenticator and client: real keys, real CBOR, browser-shaped JSON.

It answers the options our API hands out the way a browser with a platform authenticator
does, in the JSON @simplewebauthn/browser sends (startRegistration / startAuthentication):
"none" attestation, ES256 (ECDSA P-256 with SHA-256) credentials, discoverable, a signature
counter. Every field a test may want to get wrong (origin, RP id, challenge, flags, counter)
can be overridden per call.

References: WebAuthn Level 3 §6.1 (authenticator data), §6.5.4 (attested credential data),
§5.8.1 (client data), §8.7 ("none" attestation); RFC 8949 (CBOR); RFC 9053 §7.1.1 (COSE EC2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Authenticator data flags (WebAuthn L3 §6.1).
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256 = -7


class NotAllowedError(Exception):
    """What the browser raises when no credential fits the request."""


class InvalidStateError(Exception):
    """What the browser raises when an excluded credential is present (already registered)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cbor(value: object) -> bytes:
    """Encode the CBOR subset WebAuthn uses: ints, byte and text strings, arrays, maps."""

    def head(major: int, argument: int) -> bytes:
        if argument < 24:
            return bytes([major << 5 | argument])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if argument < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, argument)
        raise ValueError(f"integer too large for CBOR: {argument}")

    if isinstance(value, bool):
        return bytes([0xF5 if value else 0xF4])
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        encoded = value.encode()
        return head(3, len(encoded)) + encoded
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(cbor(item) for item in value)
    if isinstance(value, dict):
        items = b"".join(cbor(key) + cbor(item) for key, item in value.items())
        return head(5, len(value)) + items
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def cose_ec2_key(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The COSE_Key of a P-256 public key: kty EC2, alg ES256, crv P-256, x, y."""
    numbers = public_key.public_numbers()
    return cbor(
        {
            1: 2,  # kty: EC2
            3: ES256,  # alg
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
    )


@dataclass
class Credential:
    """One discoverable credential held by the authenticator."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    @property
    def id(self) -> str:
        return b64url(self.credential_id)


@dataclass
class SoftAuthenticator:
    """A platform authenticator and the browser around it, at one origin."""

    origin: str = "http://localhost:3000"
    aaguid: bytes = bytes(16)
    user_verification: bool = True
    # 1 counts every signature; 0 is an authenticator without a counter (most synced passkeys).
    counter_step: int = 1
    backed_up: bool = False
    transports: tuple[str, ...] = ("internal", "hybrid")
    credentials: list[Credential] = field(default_factory=list)

    def flags(self, *extra: int, user_verified: bool | None = None) -> int:
        verified = self.user_verification if user_verified is None else user_verified
        value = UP | (UV if verified else 0)
        if self.backed_up:
            value |= BE | BS
        for flag in extra:
            value |= flag
        return value

    def register(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        reuse: Credential | None = None,
        honour_exclude: bool = True,
    ) -> dict[str, Any]:
        """navigator.credentials.create() with `options` (the optionsJSON from our API); the
        RegistrationResponseJSON @simplewebauthn/browser would send."""
        rp = rp_id or options["rp"]["id"]
        excluded = {item["id"] for item in options.get("excludeCredentials", [])}
        if honour_exclude and any(c.id in excluded for c in self.credentials):
            raise InvalidStateError("an excluded credential is on this authenticator")
        if reuse is not None:
            credential = reuse
        else:
            credential = Credential(
                credential_id=secrets.token_bytes(32),
                private_key=ec.generate_private_key(ec.SECP256R1()),
                rp_id=rp,
                user_handle=b64url_decode(options["user"]["id"]),
            )
            self.credentials.append(credential)
        attested = (
            self.aaguid
            + len(credential.credential_id).to_bytes(2, "big")
            + credential.credential_id
            + cose_ec2_key(credential.private_key.public_key())
        )
        auth_data = self.authenticator_data(rp, self.flags(AT), credential.sign_count) + attested
        client_data = self.client_data(
            "webauthn.create", challenge or options["challenge"], origin or self.origin
        )
        public_key = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "id": credential.id,
            "rawId": credential.id,
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(
                    cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
                ),
                "transports": list(self.transports),
                "publicKeyAlgorithm": ES256,
                "publicKey": b64url(public_key),
                "authenticatorData": b64url(auth_data),
            },
            "type": "public-key",
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def authenticate(
        self,
        options: dict[str, Any],
        *,
        credential: Credential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        sign_count: int | None = None,
        user_verified: bool | None = None,
        with_user_handle: bool = True,
    ) -> dict[str, Any]:
        """navigator.credentials.get() with `options`; the AuthenticationResponseJSON."""
        rp = rp_id or options["rpId"]
        chosen = credential or self._choose(options, options["rpId"])
        if sign_count is None:
            chosen.sign_count += self.counter_step
            sign_count = chosen.sign_count
        auth_data = self.authenticator_data(rp, self.flags(user_verified=user_verified), sign_count)
        client_data = self.client_data(
            "webauthn.get", challenge or options["challenge"], origin or self.origin
        )
        signature = chosen.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": chosen.id,
            "rawId": chosen.id,
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(chosen.user_handle) if with_user_handle else None,
            },
            "type": "public-key",
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def _choose(self, options: dict[str, Any], rp_id: str) -> Credential:
        allowed = {item["id"] for item in options.get("allowCredentials", [])}
        for credential in self.credentials:
            if credential.rp_id == rp_id and (not allowed or credential.id in allowed):
                return credential
        raise NotAllowedError("no credential on this authenticator fits the request")

    @staticmethod
    def authenticator_data(rp_id: str, flags: int, sign_count: int) -> bytes:
        """rpIdHash (32) | flags (1) | signCount (4, big-endian); WebAuthn L3 §6.1."""
        return (
            hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", sign_count)
        )

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        """CollectedClientData as a browser serialises it (WebAuthn L3 §5.8.1.1)."""
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()


def tamper(value: str) -> str:
    """A base64url value with one bit of its last byte flipped."""
    data = bytearray(b64url_decode(value))
    data[-1] ^= 0x01
    return b64url(bytes(data))
