"""DKIM signatures for outgoing list mail (RFC 6376 RSA-SHA256, RFC 8463 Ed25519-SHA256).

dkimpy does the canonicalisation, header selection and folding; the private-key operation is
done by `cryptography` (OpenSSL), because dkimpy's pure-Python RSA costs milliseconds a
signature and RFC 8058 makes us sign every recipient's copy (List-Unsubscribe differs). The body
hash is computed once per post when every recipient gets the same body. A domain may sign
twice, RSA and Ed25519 (`sign_all`): the second signature costs one Ed25519 operation, as the
headers are parsed once and the body hash is shared.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy

from oak_maillist.mail.dkim_keys import Algorithm

# Signed when present (RFC 6376 §5.4.1 and RFC 8058 §4 for the List-Unsubscribe pair).
SIGNED = (
    b"from", b"to", b"cc", b"reply-to", b"subject", b"date", b"message-id", b"in-reply-to",
    b"references", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"list-post",
    b"list-help", b"list-subscribe", b"list-archive", b"archived-at", b"mime-version",
    b"content-type", b"content-transfer-encoding",
)  # fmt: skip
# Listed once more than present so nobody can add a second one (RFC 6376 §8.15, "oversigning").
OVERSIGNED = frozenset(
    {b"from", b"subject", b"reply-to", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post"}
)


class Signer:
    """Signs with one domain key; `sign` returns the DKIM-Signature field to prepend."""

    def __init__(
        self,
        selector: str,
        domain: str,
        private_key: str,
        algorithm: Algorithm,
        *,
        canonicalization: str = "relaxed/relaxed",
        headers: Sequence[str] | None = None,
    ) -> None:
        """`private_key` as `mail.dkim_keys` stores it: PEM for RSA, base64 seed for Ed25519;
        `headers` replaces the default selection (SIGNED, OVERSIGNED) with an exact h= list."""
        self.canonicalization = canonicalization.encode("ascii")
        self._canon = CanonicalizationPolicy.from_c_value(self.canonicalization)
        self.headers = None if headers is None else [h.lower().encode("ascii") for h in headers]
        self.selector = selector.encode("ascii")
        self.domain = domain.lower().encode("ascii")
        self.algorithm = Algorithm(algorithm)
        self.private_key = private_key
        self._key = _load(private_key, self.algorithm)
        self._relaxed_body = self.canonicalization.endswith(b"/relaxed")
        self._relaxed_header = self.canonicalization.startswith(b"relaxed")

    def body_hash(self, body: bytes) -> bytes:
        """bh= for a body (SHA-256 of its canonical form): reuse it for identical bodies."""
        if self._relaxed_body:
            return base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        return base64.b64encode(hashlib.sha256(self._canon.canonicalize_body(body)).digest())

    def body_prefix(self, prefix: bytes) -> BodyPrefix | None:
        """The hash state after the complete lines of `prefix`, for bodies that differ only
        after it (a footer with the recipient's own link); None when not relaxed."""
        if not self._relaxed_body:
            return None
        end = prefix.rfind(b"\r\n")
        cut = end + 2 if end >= 0 else 0
        hasher = hashlib.sha256(_relaxed_lines(prefix[:cut]))
        return BodyPrefix(hasher, prefix[cut:])

    def body_hash_after(self, prefix: BodyPrefix, rest: bytes) -> bytes:
        """bh= of `prefix` + `rest` (`rest` must hold some text, which ends the body)."""
        tail = relaxed_body(prefix.partial_line + rest)
        if not tail:  # the body ends in the prefix's lines: no shortcut
            raise ValueError("the rest of the body is empty")
        hasher = prefix.hasher.copy()
        hasher.update(tail)
        return base64.b64encode(hasher.digest())

    def sign(
        self, message: bytes, *, body_hash: bytes | None = None, timestamp: int | None = None
    ) -> bytes:
        """The `DKIM-Signature: ...\\r\\n` field for a CRLF message; only headers are hashed
        when `body_hash` (from `body_hash()` of this message's body) is given."""
        return sign_all((self,), message, body_hash=body_hash, timestamp=timestamp)

    def _field(self, signed: Any, include: list[bytes], body_hash: bytes, t: bytes) -> bytes:
        """The signature field, `signed` being the SHA-256 state after the `include` headers."""
        fields = [
            (b"v", b"1"),
            (b"a", self.algorithm.value.encode()),
            (b"c", self.canonicalization),
            (b"d", self.domain),
            (b"s", self.selector),
            (b"t", t),
            (b"h", b" : ".join(include)),
            (b"bh", body_hash),
            (b"b", b""),
        ]
        unsigned = dkim.fold(
            b"; ".join(b"=".join(f) for f in fields), namelen=len(b"DKIM-Signature")
        )
        hasher = signed.copy()
        # This field, b= empty, is hashed last without its CRLF (RFC 6376 §3.7).
        if self._relaxed_header:  # §3.4.2 on a field we folded ourselves: dkimpy's is slower
            hasher.update(b"dkim-signature:" + _WSP.sub(b" ", unsigned.replace(b"\r\n", b"")))
        else:
            dkim.hash_headers(
                hasher, self._canon, [], [], (b"DKIM-Signature", b" " + unsigned), None
            )  # fmt: skip
        signature = base64.b64encode(self._sign_digest(hasher.digest()))
        return b"DKIM-Signature: " + _fold_b(unsigned, signature) + b"\r\n"

    def _sign_digest(self, digest: bytes) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(digest)  # RFC 8463 §3: Ed25519 over the SHA-256 hash
        return self._key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    def sign_with_dkimpy(self, message: bytes) -> bytes:
        """The same signature made by dkimpy alone (slow RSA): the reference for tests and bench."""
        key = self.private_key.encode()
        include = self.headers or _included(dkim.rfc822_parse(message)[0])
        return bytes(
            dkim.sign(
                message, self.selector, self.domain, key,
                canonicalize=tuple(self.canonicalization.split(b"/")), include_headers=include,
                signature_algorithm=self.algorithm.value.encode(),
            )
        )  # fmt: skip


def sign_all(
    signers: Sequence[Signer],
    message: bytes,
    *,
    body_hash: bytes | None = None,
    timestamp: int | None = None,
) -> bytes:
    """The DKIM-Signature fields of every signer, the first signer's on top, for a CRLF
    message. The headers are parsed and canonicalised once and the body hashed once (or
    `body_hash` reused): the signers must share the canonicalisation, and as both algorithms
    hash with SHA-256 (RFC 8463 §3), bh= is the same for all of them."""
    first = signers[0]
    if any(signer.canonicalization != first.canonicalization for signer in signers):
        raise ValueError("signers of one message must share the canonicalisation")
    end = message.find(b"\r\n\r\n")
    head = message if end < 0 else message[: end + 2]
    if body_hash is None:
        body_hash = first.body_hash(b"" if end < 0 else message[end + 4 :])
    headers, _ = dkim.rfc822_parse(head + b"\r\n")
    canonical = first._canon.canonicalize_headers(headers)
    default = _included(headers)
    t = str(int(time.time()) if timestamp is None else timestamp).encode()
    signed: dict[tuple[bytes, ...], Any] = {}  # hash states by header list, shared
    fields = []
    for signer in signers:
        include = signer.headers or default
        state = signed.get(tuple(include))
        if state is None:
            state = signed[tuple(include)] = _hash_selected(canonical, include)
        fields.append(signer._field(state, include, body_hash, t))
    return b"".join(fields)


def _hash_selected(canonical: list[tuple[bytes, bytes]], include: list[bytes]) -> Any:
    """SHA-256 over the signed headers in h= order (RFC 6376 §5.4.2), before the signature's
    own field, which is what differs between signers."""
    hasher = hashlib.sha256()
    for name, value in dkim.select_headers(canonical, include):
        hasher.update(name + b":" + value)
    return hasher


@dataclass(frozen=True)
class BodyPrefix:
    hasher: Any  # hashlib's sha256 state
    partial_line: bytes


_WSP = re.compile(rb"[ \t]+")
_TRAILING_WSP = re.compile(rb" \r\n")
_TRAILING_LINES = re.compile(rb"(?:\r\n)+$")


def _relaxed_lines(data: bytes) -> bytes:
    """RFC 6376 §3.4.4 on complete CRLF lines: whitespace runs become one space, none ends a
    line."""
    return _TRAILING_WSP.sub(b"\r\n", _WSP.sub(b" ", data))


def relaxed_body(body: bytes) -> bytes:
    """The relaxed canonical body: lines as above, empty lines at the end removed, a final
    CRLF when anything is left (as dkimpy and OpenDKIM read a last line without CRLF)."""
    body = _TRAILING_LINES.sub(b"", _relaxed_lines(body))
    return body + b"\r\n" if body else b""


def _included(headers: Sequence[Sequence[bytes]]) -> list[bytes]:
    present: dict[bytes, int] = {}
    for name, _ in headers:
        present[name.lower()] = present.get(name.lower(), 0) + 1
    names: list[bytes] = []
    for name in SIGNED:
        count = present.get(name, 0) + (1 if name in OVERSIGNED else 0)
        names.extend([name] * count)
    return names


def _fold_b(unsigned: bytes, signature: bytes) -> bytes:
    """b= on lines of its own, so folding never moves whitespace that was hashed."""
    lines = [signature[i : i + 70] for i in range(0, len(signature), 70)]
    return unsigned + b"\r\n " + b"\r\n ".join(lines)


def _load(private_key: str, algorithm: Algorithm) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    if algorithm is Algorithm.ED25519_SHA256:
        return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_key))
    # Checking an RSA key's numbers takes some 30 ms, which a post's first delivery would wait
    # for. Keys were checked when they were made or imported (mail/dkim_keys.py) and are
    # stored encrypted with authentication, so they are not checked again here.
    key = serialization.load_pem_private_key(
        private_key.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("an rsa-sha256 signer needs an RSA private key")
    return key
