"""Time spent in parse_message per message: bench posts and a few corpus messages.

    .venv/bin/python -m bench.parse_message [--iterations 200] [--runs 5]

Prints, per message, the median over runs of the milliseconds one parse_message call takes
(process time, so other processes on the machine count less): "cold" with the memoised
headers of `mail.reading` forgotten before each call, "warm" parsing the same bytes
again, and `BytesParser(policy=policy.default).parsebytes` alone, the stdlib's cost for the
same bytes. For a baseline, run the same script with PYTHONPATH pointing at another
checkout's `src` (one without the cache answers the same in both columns).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

from bench.ingest import _post
from oak_maillist.mail import parse
from oak_maillist.mail.parse import parse_message

try:
    from oak_maillist.mail.reading import clear_header_cache
except ImportError:  # a checkout from before the cache

    def clear_header_cache() -> None:
        pass


CORPUS = Path(os.environ.get("OAK_TEST_CORPUS", "/work/shared/corpus")) / "mime"
# Text with HTML alternatives, inline images and attachments, as lists receive them.
CORPUS_MESSAGES = (
    "stalwart-mail-parser/thirdparty/011.eml",  # alternative + related HTML, inline PNG
    "stalwart-mail-parser/thirdparty/015.eml",  # the largest third-party message
    "stalwart-mail-parser/thirdparty/019.eml",
    "stalwart-mail-parser/legacy/039.eml",  # four attachments
    "stalwart-mail-parser/rfc/007.eml",  # five leaves, encoded words
)


def _messages() -> dict[str, bytes]:
    messages = {"post 5 KB": _post(1, 5 * 1024), "post 100 KB": _post(1, 100 * 1024)}
    for name in CORPUS_MESSAGES:
        path = CORPUS / name
        if path.exists():
            messages[name] = path.read_bytes()
    return messages


def _median_ms(
    call: Callable[[bytes], object], raw: bytes, iterations: int, runs: int, *, cold: bool
) -> float:
    samples = []
    for _ in range(runs):
        spent = 0.0
        for _ in range(iterations):
            if cold:
                clear_header_cache()
            start = time.process_time()
            call(raw)
            spent += time.process_time() - start
        samples.append(spent / iterations * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stdlib = BytesParser(policy=policy.default).parsebytes
    print(f"parse_message from {parse.__file__}")
    print(f"{'message':42} {'bytes':>7} {'cold ms':>8} {'warm ms':>8} {'stdlib ms':>9}")
    for name, raw in _messages().items():
        cold = _median_ms(parse_message, raw, args.iterations, args.runs, cold=True)
        warm = _median_ms(parse_message, raw, args.iterations, args.runs, cold=False)
        floor = _median_ms(stdlib, raw, args.iterations, args.runs, cold=False)
        print(f"{name:42} {len(raw):7} {cold:8.3f} {warm:8.3f} {floor:9.3f}")


if __name__ == "__main__":
    main()
