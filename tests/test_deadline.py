"""An overall deadline (issue 12, item 3): a server trickling bytes, each in
time for the per-read timeout, can no longer hold a session (and the account
lock) for ever; the engine then backs off as for any network error."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.mailbox import AccountState, MailboxError
from traymail.poller import Poller
from traymail.pop3 import POP3, TransportTimeout
from traymail.pop3._deadline import Deadline
from traymail.samples import sample_messages

from .engine import Engine

MakeServer = Callable[..., DevServer]


def test_deadline_budget_grows_with_the_data_kept() -> None:
    d = Deadline(2.0, 1000)
    d.start("RETR")
    d.waited = 1.5
    assert d.budget() == pytest.approx(0.5)
    d.octets = 3000
    assert d.budget() == pytest.approx(3.5)
    d.start("STAT")
    assert d.budget() == 2.0
    with pytest.raises(ValueError):
        Deadline(0, 1)


@pytest.mark.timeout(60)
def test_a_trickled_status_line_times_out_at_the_deadline() -> None:
    # 10 bytes a second: every read is far within the 5 s timeout, but the
    # reply to STAT ("+OK 3 ...") would take seconds; the deadline is 1 s
    faults = Faults(trickle={"STAT": 0.1})
    with DevServer(MemoryMailbox(sample_messages(3)), {"u": "p"}, faults=faults) as srv:
        pop = POP3("127.0.0.1", srv.port, timeout=5, deadline=1.0, min_rate=1024)
        pop.login("u", "p")
        started = time.monotonic()
        with pytest.raises(TransportTimeout) as info:
            pop.stat()
        took = time.monotonic() - started
        assert "STAT: the server is too slow" in str(info.value)
        assert "allowed: 1 s plus 1 s per 1024 octets" in str(info.value)
        assert 0.9 < took < 4, took
        assert not pop.connected  # dropped: no QUIT, nothing committed


@pytest.mark.timeout(60)
def test_a_trickled_greeting_times_out() -> None:
    with DevServer(MemoryMailbox([]), {"u": "p"},
                   faults=Faults(trickle={"GREETING": 0.2})) as srv:
        with pytest.raises(TransportTimeout, match="GREETING: the server is too slow"):
            POP3("127.0.0.1", srv.port, timeout=5, deadline=0.5)


@pytest.mark.timeout(60)
def test_an_endless_fast_top_line_ends_at_the_deadline_with_flat_memory() -> None:
    def endless() -> Iterator[bytes]:
        yield b"Subject: "
        yield from itertools.repeat(b"y" * 65536)

    with DevServer(MemoryMailbox(sample_messages(1)), {"u": "p"},
                   faults=Faults(data={"TOP": endless})) as srv:
        # kept data is capped at 256 KiB, so the allowance stops growing there
        pop = POP3("127.0.0.1", srv.port, timeout=5, deadline=1.0, min_rate=1024 * 1024)
        pop.login("u", "p")
        started = time.monotonic()
        with pytest.raises(TransportTimeout, match="TOP: the server is too slow"):
            pop.top(1, 0)
        assert time.monotonic() - started < 10


@pytest.mark.timeout(60)
def test_slow_but_steady_downloads_are_allowed() -> None:
    # a 3 KB message at ~20 KB/s: longer than the 0.05 s grace, within the rate.
    # Windows (and Wine) sleep at least ~1-15 ms, so the byte-by-byte trickle
    # is far slower there: the rate it must keep up is set to match.
    rate = 1024 if sys.platform != "win32" else 32
    faults = Faults(trickle={"RETR": 0.00005})
    box = MemoryMailbox(sample_messages(1))
    with DevServer(box, {"u": "p"}, faults=faults) as srv, \
            POP3("127.0.0.1", srv.port, timeout=5, deadline=0.05, min_rate=rate) as pop:
        pop.login("u", "p")
        size = pop.list(1).size
        assert len(pop.retr(1)) == size


@pytest.mark.timeout(60)
def test_the_engine_backs_off_and_releases_the_lock(
        tmp_path: Path, make_devserver: MakeServer) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(3)), Faults(trickle={"UIDL": 0.2}))
    engine = Engine(tmp_path / "home")
    mb = engine.mailbox(srv.port)
    mb.deadline = 1.0
    started = time.time()
    with pytest.raises(MailboxError, match="the server is too slow") as info:
        mb.check()
    assert time.time() - started < 5
    assert info.value.state is AccountState.BACKOFF
    assert mb.status.retry_at is not None and mb.status.retry_at >= started + 60
    assert not mb.busy
    # the poller takes the engine's retry time, as for any network error
    poller = Poller(None, lambda *a: None)  # type: ignore[arg-type]  # _next needs no accounts
    assert poller._next(mb, info.value) == mb.status.retry_at
