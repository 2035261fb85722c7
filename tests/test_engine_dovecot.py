"""The engine against a real Dovecot: new mail, renumbering, drops, deletion."""

from __future__ import annotations

from pathlib import Path

import pytest

from traymail.mailbox import MailboxError
from traymail.pop3 import POP3
from traymail.settings import Security

from .engine import Engine
from .faultproxy import FaultProxy
from .realservers import DovecotAccount

pytestmark = pytest.mark.dovecot


def msg(i: int, size: int = 0) -> bytes:
    return (f"From: Sender {i} <s{i}@example.org>\nSubject: message {i}\n"
            f"Message-ID: <m{i}@example.org>\n\nbody {i}\n" + "z" * size + "\n").encode()


def engine_for(tmp_path: Path, account: DovecotAccount, port: int | None = None,
               security: Security = Security.SSL) -> Engine:
    eng = Engine(tmp_path / "home")
    eng.mb = eng.mailbox(  # type: ignore[attr-defined]
        port or (account.server.ssl_port if security is Security.SSL else account.server.port),
        password=account.password, username=account.user, security=security,
        cafile=str(account.server.cert.cert))
    return eng


def server_stat(account: DovecotAccount) -> tuple[int, int]:
    with POP3("127.0.0.1", account.server.port, timeout=10) as pop:
        pop.login(account.user, account.password)
        s = pop.stat()
        return s.count, s.size


def test_first_run_summary_then_two_arrivals(dovecot_account: DovecotAccount,
                                              tmp_path: Path) -> None:
    for i in range(500):
        dovecot_account.add(msg(i))
    eng = engine_for(tmp_path, dovecot_account)
    first = eng.mb.check()  # type: ignore[attr-defined]
    assert first.first_run and len(first.newly_arrived) == 500
    assert (first.total_count, first.total_size) == server_stat(dovecot_account)
    assert eng.mb.check().newly_arrived == ()  # type: ignore[attr-defined]
    dovecot_account.add(msg(1000))
    dovecot_account.add(msg(1001))
    third = eng.mb.check()  # type: ignore[attr-defined]
    assert len(third.newly_arrived) == 2 and third.total_count == 502
    heads = {h.uid: h.subject for h in eng.mb.headers()}  # type: ignore[attr-defined]
    assert sorted(heads[u] for u in third.newly_arrived) == ["message 1000", "message 1001"]


def test_renumbered_by_another_session(dovecot_account: DovecotAccount, tmp_path: Path) -> None:
    for i in range(6):
        dovecot_account.add(msg(i))
    eng = engine_for(tmp_path, dovecot_account)
    mb = eng.mb  # type: ignore[attr-defined]
    heads = mb.headers()
    mb.mark([heads[3].uid, heads[5].uid])  # "message 3", "message 5"
    with POP3("127.0.0.1", dovecot_account.server.port, timeout=10) as other:
        other.login(dovecot_account.user, dovecot_account.password)
        other.dele(1)
        other.dele(2)  # now message 3 is number 1 for everyone else
    report = mb.delete_marked()
    assert set(report.deleted) == {heads[3].uid, heads[5].uid}
    # messages 0 and 1 went by the other session, 3 and 5 by ours
    assert sorted(p.read_bytes() for p in dovecot_account.files()) == [msg(2), msg(4)]


def test_drop_mid_retr_leaves_no_file_and_deletes_nothing(dovecot_account: DovecotAccount,
                                                          tmp_path: Path) -> None:
    for i in range(3):
        dovecot_account.add(msg(i, 200_000))
    proxy = FaultProxy(dovecot_account.server.port, drop_after=300_000)
    try:
        eng = engine_for(tmp_path, dovecot_account, proxy.port, Security.NONE)
        mb = eng.mb  # type: ignore[attr-defined]
        proxy.drop_after = None
        uids = [h.uid for h in mb.headers()]
        proxy.drop_after = 300_000
        with pytest.raises(MailboxError):
            mb.download(uids)
        assert proxy.drops >= 1
    finally:
        proxy.close()
    target = eng.paths.download_dir_for(mb.account)
    files = list(target.iterdir())
    assert not [p for p in files if p.name.endswith(".part")]
    for p in files:  # at most the first message, complete
        assert p.read_bytes() == msg(0, 200_000).replace(b"\n", b"\r\n")
    assert len(dovecot_account.files()) == 3


def test_drop_mid_dele_deletes_nothing(dovecot_account: DovecotAccount, tmp_path: Path) -> None:
    for i in range(4):
        dovecot_account.add(msg(i))
    proxy = FaultProxy(dovecot_account.server.port)
    try:
        eng = engine_for(tmp_path, dovecot_account, proxy.port, Security.NONE)
        mb = eng.mb  # type: ignore[attr-defined]
        heads = mb.headers()
        mb.mark([h.uid for h in heads[:3]])
        proxy.drop_on = b"DELE"  # the server gets the DELEs, never a QUIT
        # the cut races with Dovecot's +OK to the DELEs: either the DELE replies
        # are lost (an error) or only QUIT's is (every message reported failed)
        try:
            report = mb.delete_marked()
        except MailboxError:
            pass
        else:
            assert report.deleted == () and len(report.failed) == 3, report
            assert all("did not confirm QUIT" in why for _, why in report.failed)
        assert proxy.drops == 1
        assert len(dovecot_account.files()) == 4
        assert len(mb.marked()) == 3
        proxy.drop_on = None
        report = mb.delete_marked()
        assert len(report.deleted) == 3
    finally:
        proxy.close()
    assert [p.read_bytes() for p in dovecot_account.files()] == [msg(3)]


def test_quit_without_deleting_and_download(dovecot_account: DovecotAccount,
                                            tmp_path: Path) -> None:
    for i in range(3):
        dovecot_account.add(msg(i))
    eng = engine_for(tmp_path, dovecot_account)
    mb = eng.mb  # type: ignore[attr-defined]
    heads = mb.headers()
    mb.mark([h.uid for h in heads])
    files = mb.download_new()
    assert [f.read_bytes() for f in files] == [msg(i).replace(b"\n", b"\r\n") for i in range(3)]
    assert mb.quit_without_deleting() == 3
    assert mb.delete_marked().deleted == ()
    assert len(dovecot_account.files()) == 3
