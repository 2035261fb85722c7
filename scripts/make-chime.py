#!/usr/bin/env python3
"""Generate traymail/sounds/chime.wav: a short, soft two-note chime
(E6 then A6, bell-like decay), 22.05 kHz mono 16-bit, with the stdlib only."""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

RATE = 22050


def note(freq: float, seconds: float, volume: float = 0.35) -> list[float]:
    n = int(RATE * seconds)
    out = []
    for i in range(n):
        t = i / RATE
        env = min(1.0, i / (0.005 * RATE)) * math.exp(-5.0 * t)  # soft attack, bell decay
        tone = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(4 * math.pi * freq * t)
        out.append(volume * env * tone / 1.3)
    return out


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parent.parent / "traymail" / "sounds" / "chime.wav"
    first, second = note(1318.5, 0.6), note(1760.0, 0.9)
    offset = int(RATE * 0.12)
    samples = first + [0.0] * (offset + len(second) - len(first))
    for i, s in enumerate(second):
        samples[offset + i] += s
    frames = b"".join(struct.pack("<h", int(max(-1.0, min(1.0, s)) * 32767)) for s in samples)
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    print(f"{target}: {len(samples) / RATE:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
