"""The dedicated fuzz run: N generated inputs per target (default 100,000).

    python scripts/fuzz.py [--examples 100000]

Counts every example and every escape (an exception other than POP3Error).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import (
    endless_line_is_bounded,
    fuzz_auth,
    fuzz_connection,
    fuzz_greeting,
    fuzz_headers,
)
from tests.test_fuzz import ANY


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=100_000)
    a = ap.parse_args()
    counts = {"connection": 0, "auth": 0, "greeting": 0, "headers": 0}
    escapes: list[str] = []
    cfg = settings(max_examples=a.examples, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))

    def guard(name: str, fn, *args) -> None:  # type: ignore[no-untyped-def]
        counts[name] += 1
        try:
            fn(*args)
        except Exception:
            escapes.append(f"{name}: {traceback.format_exc(limit=3)}")

    @cfg
    @given(ANY, st.integers(1, 300), st.integers(0, 2), st.booleans())
    def connection(data: bytes, chunk: int, commands: int, eof: bool) -> None:
        guard("connection", fuzz_connection, data, chunk, commands, eof)

    @cfg
    @given(ANY, st.integers(1, 300), st.booleans())
    def auth(data: bytes, chunk: int, cancel: bool) -> None:
        guard("auth", fuzz_auth, data, chunk, cancel)

    @cfg
    @given(ANY)
    def greeting(data: bytes) -> None:
        guard("greeting", fuzz_greeting, data)

    @cfg
    @given(st.binary(max_size=1500))
    def headers(data: bytes) -> None:
        guard("headers", fuzz_headers, data)

    t0 = time.monotonic()
    for target in (connection, auth, greeting, headers):
        target()
    endless_line_is_bounded(True)
    endless_line_is_bounded(False)
    total = sum(counts.values())
    print(f"fuzzed {total:,} generated inputs in {time.monotonic() - t0:.0f} s "
          f"({', '.join(f'{k} {v:,}' for k, v in counts.items())}); "
          f"{len(escapes)} escapes (anything but POP3Error); endless lines bounded")
    for e in escapes[:5]:
        print(e)
    return 1 if escapes else 0


if __name__ == "__main__":
    raise SystemExit(main())
