"""A deterministic synthetic mailbox of realistic shape.

Sizes follow a real inbox (mostly 2-20 KB, newsletters with very long
lines, some attachments up to ~1 MB), headers of 0.5-5 KB with RFC 2047
subjects, and body lines starting with '.' so dot-stuffing is exercised.
1,000 messages come to roughly 75-80 MB, like the shared anchor mailbox.
"""

from __future__ import annotations

import base64
import random

__all__ = ["synthetic_message", "synthetic_mailbox", "huge_message"]

_WORDS = ("mail server pop3 notifier tray message report meeting invoice weekly "
          "update project release please thanks regards attached review").split()


def _text(rng: random.Random, lines: int, width: int = 72) -> list[str]:
    out = []
    for _ in range(lines):
        words, n = [], 0
        while n < width:
            w = rng.choice(_WORDS)
            words.append(w)
            n += len(w) + 1
        out.append(" ".join(words))
    return out


def synthetic_message(i: int, seed: int = 1) -> bytes:
    """Message ``i``: LF line ends, as a maildir stores it."""
    rng = random.Random(seed * 1_000_003 + i)
    received = "".join(
        f"Received: from relay{k}.example.net (relay{k}.example.net [192.0.2.{k}])\n"
        f"\tby mx.example.org with ESMTPS id {rng.getrandbits(48):x}; "
        f"Mon, 2 Nov 2026 10:{k:02d}:00 +0000\n"
        for k in range(rng.randint(2, 12))
    )
    subject = base64.b64encode(f"Отчёт {i} — weekly report ✓".encode()).decode()
    head = (
        f"{received}From: =?utf-8?b?{base64.b64encode('Jürgen Groß'.encode()).decode()}?= "
        f"<sender{i % 37}@example.de>\n"
        f"To: you@example.org\nSubject: =?utf-8?b?{subject}?=\n"
        f"Date: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\n"
        f"Message-ID: <bench-{seed}-{i}@example.org>\nMIME-Version: 1.0\n"
    )
    kind = rng.random()
    lines: list[str]
    if kind < 0.45:
        lines = _text(rng, rng.randint(20, 150))
    elif kind < 0.75:
        lines = _text(rng, rng.randint(100, 1000))
    elif kind < 0.82:
        lines = ["<p>" + " ".join(_text(rng, rng.randint(30, 800), 60)) + "</p>"
                 for _ in range(rng.randint(1, 4))]
    else:
        blob = rng.randbytes(rng.randint(30_000, 450_000))
        enc = base64.b64encode(blob).decode()
        lines = _text(rng, 20) + [enc[k : k + 76] for k in range(0, len(enc), 76)]
    lines.insert(min(3, len(lines)), ".a line starting with a dot")
    lines.insert(min(5, len(lines)), ".")
    body = "Content-Type: text/plain; charset=utf-8\n\n" + "\n".join(lines) + "\n"
    return (head + body).encode()


def synthetic_mailbox(count: int, seed: int = 1) -> list[bytes]:
    return [synthetic_message(i, seed) for i in range(count)]


def huge_message(megabytes: int) -> bytes:
    line = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFGHIJKL\n"
    body = line * (megabytes * 1_000_000 // len(line) + 1)
    return b"Subject: huge\nMessage-ID: <huge@example.org>\n\n" + body
