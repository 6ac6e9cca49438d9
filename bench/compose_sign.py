"""Per-recipient cost of for_recipient + DKIM signing: dkimpy alone vs our OpenSSL fast path.

    .venv/bin/python bench/compose_sign.py [--recipients 200] [--runs 5]

Prints the median over runs of the µs per recipient, for a 5 KB and a 100 KB post, RSA-2048 and
Ed25519. "fast" reuses the post's body hash and signs with `cryptography`; "dkimpy" is
`dkim.sign` (pure-Python RSA, body canonicalised and hashed every time).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import time
from collections.abc import Callable

from oak_maillist.delivery.compose import (
    ListContext,
    Prepared,
    RecipientContext,
    for_recipient,
    prepare,
)
from oak_maillist.delivery.dkim import Signer
from oak_maillist.mail.dkim_keys import Algorithm, generate

CTX = ListContext(
    name="Developers", address="dev@lists.example.org", list_id="dev.lists.example.org",
    subject_prefix="[dev]", footer="--\nDevelopers list\nhttps://lists.example.org/dev",
    archive_url="https://lists.example.org/dev/archive",
)  # fmt: skip


def post(size: int) -> bytes:
    """A multipart/mixed post: a text part and a base64 attachment making up `size` bytes."""
    text = b"Hello list,\r\n" + b"Some words about the build.\r\n" * 40
    attachment = base64.encodebytes(os.urandom(max(0, (size - len(text) - 600) * 3 // 4)))
    return (
        b"From: Alice <alice@example.com>\r\nTo: dev@lists.example.org\r\nSubject: numbers\r\n"
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + b"--B\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + attachment.replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )


def per_recipient_us(step: Callable[[int], bytes], recipients: int, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for index in range(recipients):
            step(index)
        samples.append((time.perf_counter() - start) / recipients * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'post':>6} {'algorithm':>15} {'path':>7} {'µs/recipient':>13}")
    for size in (5_000, 100_000):
        prepared = prepare(post(size), CTX)
        body = prepared.shared_body
        assert body is not None

        def compose_only(i: int, prepared: Prepared = prepared) -> bytes:
            return for_recipient(prepared, RecipientContext(f"https://l.example/u/{i}"))

        base = per_recipient_us(compose_only, args.recipients, args.runs)
        print(f"{size // 1000:>4}KB {'(compose only)':>15} {'':>7} {base:>13.1f}")
        for algorithm in Algorithm:
            signer = Signer(
                "bench", "lists.example.org", generate(algorithm).private_key, algorithm
            )
            body_hash = signer.body_hash(body)

            def fast(i: int, signer: Signer = signer, body_hash: bytes = body_hash) -> bytes:
                message = compose_only(i)
                return signer.sign(message, body_hash=body_hash) + message

            def slow(i: int, signer: Signer = signer) -> bytes:
                message = compose_only(i)
                return signer.sign_with_dkimpy(message) + message

            for name, step in (("fast", fast), ("dkimpy", slow)):
                count = args.recipients if name == "fast" else max(10, args.recipients // 10)
                cost = per_recipient_us(step, count, args.runs)
                print(f"{size // 1000:>4}KB {algorithm.value:>15} {name:>7} {cost:>13.1f}")


if __name__ == "__main__":
    main()
