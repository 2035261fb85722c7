"""The poller: immediate first check, own interval per account, Check now,
no hammering after a wrong password, and a clock jump (sleep/resume)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from traymail.accounts import Accounts
from traymail.devserver import DevServer, Faults, MaildirMailbox
from traymail.mailbox import CheckResult, Mailbox, MailboxError
from traymail.passwords import MemoryStore
from traymail.poller import Poller
from traymail.samples import sample_message
from traymail.settings import Account, Security, Settings, resolve_paths

MakeServer = Callable[..., DevServer]


def accounts_for(home: Path, *servers: DevServer, minutes: float = 0.02) -> Accounts:
    accs = tuple(Account(f"a{i}", "127.0.0.1", "user", security=Security.NONE, port=s.port,
                         allow_insecure=True, check_interval_minutes=minutes)
                 for i, s in enumerate(servers))
    store = MemoryStore()
    for a in accs:
        store.set(a, "pass")
    return Accounts(resolve_paths(home=home), Settings(accs), passwords=store)


def wait(pred: Callable[[], bool], timeout: float = 10) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_intervals_check_now_and_auth_stop(make_devserver: MakeServer, tmp_path: Path) -> None:
    good = make_devserver()
    bad = make_devserver(faults=Faults(errors={"PASS": "-ERR [AUTH] no"}))
    accounts = accounts_for(tmp_path, good, bad)
    results: list[tuple[str, CheckResult | None, MailboxError | None]] = []
    lock = threading.Lock()

    def record(mb: Mailbox, r: CheckResult | None, e: MailboxError | None) -> None:
        with lock:
            results.append((mb.name, r, e))

    offset = [0.0]
    poller = Poller(accounts, record, clock=lambda: time.time() + offset[0])
    poller.start()
    try:
        assert wait(lambda: {n for n, _, _ in results} == {"a0", "a1"})  # both, at once
        assert wait(lambda: sum(1 for n, _, _ in results if n == "a0") >= 3, 10)  # 1.2 s
        bad_tries = bad.connections
        time.sleep(1.5)
        assert bad.connections == bad_tries  # a wrong password is not hammered
        assert poller.next_due("a1") == float("inf")
        before = len(results)
        poller.check_now("a1")  # "Check now" gets the same answer, without a login
        assert wait(lambda: len(results) > before)
        assert results[-1][0] == "a1" and results[-1][2] is not None
        assert bad.connections == bad_tries
        # sleep/resume: the clock jumps a day; the next check simply runs
        n = good.connections
        offset[0] = 86400.0
        assert wait(lambda: good.connections > n)
        assert all(e is None for name, _, e in results if name == "a0")
    finally:
        poller.stop()
    assert not any(t.is_alive() for t in poller.threads)


def test_never_two_sessions_on_one_account(make_devserver: MakeServer, tmp_path: Path) -> None:
    srv = make_devserver(faults=Faults(stall={"UIDL": 0.8}))
    accounts = accounts_for(tmp_path, srv, minutes=0.001)
    outcomes: list[MailboxError | None] = []
    poller = Poller(accounts, lambda mb, r, e: outcomes.append(e))
    poller.start()
    try:
        for _ in range(20):  # "Check now", again and again, while a check runs
            poller.check_now()
            time.sleep(0.05)
        assert wait(lambda: len(outcomes) >= 2)
    finally:
        poller.stop()
    # the devserver answers a second concurrent login with [IN-USE]: never seen
    assert outcomes and all(e is None for e in outcomes), outcomes
    assert srv.connections <= 3


def test_maildir_mailbox(tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "Maildir")
    uid = box.add(sample_message(1))
    box.add(sample_message(2))
    assert box.uids()[0] == uid and len(box.snapshot()) == 2
    assert box.snapshot()[0].data.endswith(b"\r\n")
    from traymail.pop3 import POP3

    with DevServer(box, {"user": "pass"}) as srv, POP3("127.0.0.1", srv.port, timeout=5) as pop:
        pop.login("user", "pass")
        assert pop.uidl(1).uid == uid
        pop.dele(1)
    assert box.uids() != [] and uid not in box.uids()
