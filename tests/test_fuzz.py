"""Fuzzing with hypothesis (a CI budget; scripts/fuzz.py runs the full one)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzzing import (
    endless_line_is_bounded,
    fuzz_auth,
    fuzz_connection,
    fuzz_greeting,
    fuzz_headers,
)

BUDGET = int(os.environ.get("TRAYMAIL_FUZZ_EXAMPLES", "1500"))
FUZZ = settings(max_examples=BUDGET, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# bytes that look like POP3: status lines, dots, CR/LF in every combination
POP3ISH = st.lists(st.sampled_from([
    b"+OK", b"-ERR", b" ", b"[IN-USE]", b"[SYS/TEMP]", b"1 2", b"\r\n", b"\n", b"\r", b".",
    b"..", b".\r\n", b"\r\n.\r\n", b"x" * 70, b"\x00", b"\xff", b"abc", b"+OK 3 300\r\n",
    b"+ ", b"+", b"+ eyJzdGF0dXMiOiI0MDEifQ==", b"=", b"*", b"[AUTH]",
]), max_size=60).map(b"".join)
ANY = st.one_of(st.binary(max_size=2000), POP3ISH)


@FUZZ
@given(ANY, st.integers(1, 300), st.integers(0, 2), st.booleans())
def test_only_pop3_errors_escape(data: bytes, chunk: int, commands: int, eof: bool) -> None:
    assert fuzz_connection(data, chunk, commands, eof) in ("ok", "POP3Error")


@FUZZ
@given(ANY, st.integers(1, 300), st.booleans())
def test_auth_exchange(data: bytes, chunk: int, cancel: bool) -> None:
    assert fuzz_auth(data, chunk, cancel) in ("ok", "POP3Error")


@FUZZ
@given(ANY)
def test_greeting(data: bytes) -> None:
    assert fuzz_greeting(data) in ("ok", "POP3Error")


@FUZZ
@given(st.one_of(st.binary(max_size=1500), st.text(max_size=400).map(
    lambda t: t.encode("utf-8", "surrogatepass"))))
def test_header_decoding(data: bytes) -> None:
    assert fuzz_headers(data) == "ok"


@pytest.mark.parametrize("status", [True, False])
def test_endless_lines_stay_bounded(status: bool) -> None:
    endless_line_is_bounded(status)
