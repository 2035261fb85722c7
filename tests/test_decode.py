"""Header decoding (RFC 2047) and previews: readable, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traymail.decode import format_size, parse_headers, preview_text


@pytest.mark.parametrize("raw,subject", [
    (b"Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?=", "Привет"),
    (b"Subject: =?koi8-r?B?8NLJ18XU?=", "Привет"),
    (b"Subject: =?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "Привет"),
    (b"Subject: =?iso-8859-1?q?caf=E9?= au lait", "café au lait"),
    (b"Subject: =?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # RFC 2047 §6.2: no space between
    (b"Subject: plain\r\n  folded line", "plain folded line"),
    (b"Subject: \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 raw utf-8", "Привет raw utf-8"),
    (b"Subject: =?x-unknown?q?abc?=", "abc"),  # unknown charset: still readable
    (b"Subject: =?utf-8?B?broken-base64?=", None),  # shown somehow, no crash
    (b"Subject: caf\xe9 latin-1 bytes", "café latin-1 bytes"),
])
def test_subjects(raw: bytes, subject: str | None) -> None:
    h = parse_headers("u", None, raw + b"\r\n\r\n")
    if subject is not None:
        assert h.subject == subject
    else:
        assert isinstance(h.subject, str)


def test_undeclared_8bit_uses_the_message_charset() -> None:
    raw = (b"From: \xcf\xf0\xe8\xe2\xe5\xf2 <a@example.org>\r\n"
           b"Content-Type: text/plain; charset=windows-1251\r\n\r\n")
    assert parse_headers("u", None, raw).sender == "Привет <a@example.org>"


def test_dates() -> None:
    h = parse_headers("u", 1, b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n")
    assert h.timestamp == 1793613600.0
    bad = parse_headers("u", 1, b"Date: the day after tomorrow\r\n\r\n")
    assert bad.timestamp is None and bad.date == "the day after tomorrow"
    huge = parse_headers("u", 1, b"Date: Mon, 2 Nov 99999 10:00:00 +0000\r\n\r\n")
    assert huge.timestamp is None


def test_preview_multipart_html_and_broken() -> None:
    msg = (b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p>\r\n--b--\r\n")
    assert preview_text(msg) == "Hello there"
    cut = (b"Content-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n0J/R")
    assert isinstance(preview_text(cut), str)


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 999, 1000, 45_300, 1_400_000)] == [
        "0 bytes", "999 bytes", "1.0 KB", "45.3 KB", "1.4 MB"]


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_never_crashes_on_garbage(data: bytes) -> None:
    h = parse_headers("u", None, data)
    assert isinstance(h.subject, str) and isinstance(h.sender, str)
    assert isinstance(preview_text(data), str)


@settings(max_examples=300)
@given(st.text(max_size=80), st.sampled_from(["utf-8", "koi8-r", "windows-1251", "latin-1"]))
def test_encoded_word_round_trip(text: str, charset: str) -> None:
    from email.header import Header

    from traymail.text import clean

    try:
        encoded = Header(text, charset).encode()
    except (UnicodeEncodeError, UnicodeDecodeError):
        return
    h = parse_headers("u", None, b"Subject: " + encoded.encode("ascii") + b"\r\n\r\n")
    assert h.subject == clean(" ".join(text.split()))  # controls shown as escapes
