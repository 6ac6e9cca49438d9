"""DKIM signing: corpus vectors, dkimpy verifying our signatures, composed list mail."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim
import pytest
from dkim.canonicalization import CanonicalizationPolicy
from hypothesis import given, settings
from hypothesis import strategies as st

from oak_maillist.delivery.compose import ListContext, RecipientContext, for_recipient, prepare
from oak_maillist.delivery.dkim import Signer, relaxed_body
from oak_maillist.mail import dkim_keys
from oak_maillist.mail.dkim_keys import Algorithm

CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "dkim" / "dkimpy-1.1.8"
DNS: dict[str, str] = json.loads((CORPUS / "dns.json").read_text())
SIGN_VECTORS: list[dict[str, Any]] = json.loads((CORPUS / "sign-vectors.json").read_text())
VERIFY_VECTORS: list[dict[str, Any]] = json.loads((CORPUS / "verify-vectors.json").read_text())


def _dnsfunc(records: dict[str, str]) -> Callable[..., bytes | None]:
    def lookup(name: bytes | str, timeout: int = 5) -> bytes | None:
        key = name.decode() if isinstance(name, bytes) else name
        value = records.get(key.rstrip("."))
        return value.encode() if value is not None else None

    return lookup


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def _vector_signer(vector: dict[str, Any]) -> Signer:
    key = (CORPUS / "data" / vector["private_key"]).read_text()
    return Signer(
        vector["selector"],
        vector["domain"],
        key,
        Algorithm(vector["algorithm"]),
        canonicalization=vector["canonicalization"],
        headers=vector["include_headers"],
    )


def _field(signature: bytes, tag: str) -> str:
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", signature).decode()
    match = re.search(rf"(?:^|;)\s*{tag}=([^;]*)", unfolded.partition(":")[2])
    assert match, tag
    return re.sub(r"\s+", "", match.group(1))


@pytest.mark.parametrize(
    "vector",
    SIGN_VECTORS,
    ids=lambda v: f"{v['private_key']}-{v['message']}-{v['canonicalization']}",
)
def test_sign_vector_same_body_hash_and_dkimpy_verifies(vector: dict[str, Any]) -> None:
    message = _crlf((CORPUS / "data" / vector["message"]).read_bytes())
    signer = _vector_signer(vector)
    signature = signer.sign(message, timestamp=int(vector["timestamp"]))
    assert _field(signature, "bh") == vector["expected_bh"]
    assert _field(signature, "c") == vector["canonicalization"]
    assert _field(signature, "t") == str(vector["timestamp"])
    assert dkim.verify(signature + message, dnsfunc=_dnsfunc(DNS))
    # Any change to a signed header or the body breaks it.
    assert not dkim.verify(signature + message + b"tampered\r\n", dnsfunc=_dnsfunc(DNS))


def test_openssl_and_dkimpy_signatures_both_verify_with_the_same_body_hash() -> None:
    vector = next(v for v in SIGN_VECTORS if v["algorithm"] == "rsa-sha256")
    message = _crlf((CORPUS / "data" / vector["message"]).read_bytes())
    signer = _vector_signer(vector)
    ours = signer.sign(message, timestamp=1_700_000_000)
    reference = signer.sign_with_dkimpy(message)
    assert _field(ours, "bh") == _field(reference, "bh")
    assert dkim.verify(reference + message, dnsfunc=_dnsfunc(DNS))
    assert dkim.verify(ours + message, dnsfunc=_dnsfunc(DNS))


@pytest.mark.parametrize("vector", VERIFY_VECTORS, ids=lambda v: v["name"][:60])
def test_verify_vectors_with_the_lookup_we_verify_with(vector: dict[str, Any]) -> None:
    message = _crlf((CORPUS / "data" / vector["message"]).read_bytes())
    if vector.get("prepended_signature_header"):
        message = vector["prepended_signature_header"].encode() + message
    if vector.get("mutate") == "append_body":
        message += b"appended\r\n"
    elif vector.get("mutate") == "change_subject":
        message = re.sub(rb"(?im)^subject:[^\r\n]*", b"Subject: changed", message, count=1)
    expected: list[dict[str, Any]] = vector["expected"]
    assert expected
    verifier = dkim.DKIM(message)
    for entry in expected:
        try:
            result = verifier.verify(idx=entry["index"], dnsfunc=_dnsfunc(DNS))
        except dkim.DKIMException:
            result = False
        assert result is (entry["result"] == "pass"), entry


def _composed() -> tuple[bytes, bytes]:
    raw = _crlf((CORPUS / "data" / "rfc6376.msg").read_bytes())
    ctx = ListContext(
        name="Football", address="fans@football.example.com", list_id="fans.football.example.com",
        subject_prefix="[fans]", footer="--\nFans list",
    )  # fmt: skip
    prepared = prepare(raw, ctx)
    assert prepared.shared_body is not None
    return for_recipient(
        prepared, RecipientContext("https://football.example.com/u/1")
    ), prepared.shared_body


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_composed_list_mail_signed_per_recipient_verifies(algorithm: Algorithm) -> None:
    pair = dkim_keys.generate(algorithm)
    record = dkim_keys.dkim_record("football.example.com", "list", algorithm, pair.public_key)
    lookup = _dnsfunc({record.name: record.value})
    signer = Signer("list", "football.example.com", pair.private_key, algorithm)
    message, shared_body = _composed()
    signature = signer.sign(message, body_hash=signer.body_hash(shared_body))
    assert signature == signer.sign(message, timestamp=int(_field(signature, "t")))  # bh reuse
    assert dkim.verify(signature + message, dnsfunc=lookup)
    signed = _field(signature, "h").split(":")
    for name in ("from", "subject", "date", "message-id", "list-id", "list-unsubscribe",
                 "list-unsubscribe-post"):  # fmt: skip
        assert name in signed
    assert signed.count("list-unsubscribe") == 2  # oversigned: no second one can be added
    # A forwarder swapping the unsubscribe link breaks the signature (RFC 8058 §4).
    forged = message.replace(b"/u/1>", b"/u/2>")
    assert not dkim.verify(signature + forged, dnsfunc=lookup)
    assert dkim.verify(signer.sign_with_dkimpy(message) + message, dnsfunc=lookup)


def test_wrong_key_type_for_algorithm_is_refused() -> None:
    ed = dkim_keys.generate(Algorithm.ED25519_SHA256)
    with pytest.raises(ValueError):  # noqa: PT011 - the key loader's own message varies
        Signer("s", "example.com", ed.private_key, Algorithm.RSA_SHA256)


_ED25519 = dkim_keys.generate(Algorithm.ED25519_SHA256)
_PIECES = st.sampled_from([b" ", b"\t", b"\r\n", b"a", b"b", b"  ", b"\r\n\r\n", b"x y", b"\t \t"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=40).map(b"".join))
def test_relaxed_body_matches_dkimpy(body: bytes) -> None:
    canon = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    assert relaxed_body(body) == canon.canonicalize_body(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map(b"".join), st.lists(_PIECES, max_size=10).map(b"".join))
def test_a_hashed_prefix_gives_the_whole_bodys_hash(prefix: bytes, rest: bytes) -> None:
    signer = Signer("s", "example.org", _ED25519.private_key, Algorithm.ED25519_SHA256)
    rest = b"https://l.example.org/u?t=1" + rest  # the link: the rest always holds text
    start = signer.body_prefix(prefix)
    assert start is not None
    assert signer.body_hash_after(start, rest) == signer.body_hash(prefix + rest)
