"""The engine against the devserver: new mail, headers, downloads, deletion, states."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.mailbox import AccountState, DownloadCancelled, MailboxError
from traymail.samples import sample_message, sample_messages
from traymail.settings import Security

from .engine import Engine
from .realservers import Certificate

MakeServer = Callable[..., DevServer]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(tmp_path / "home")


def count(srv: DevServer, verb: str) -> int:
    return sum(1 for c in srv.commands if c.split(" ")[0] == verb)


def test_first_run_is_one_summary_then_exactly_the_arrivals(
    engine: Engine, make_devserver: MakeServer
) -> None:
    box = MemoryMailbox(sample_messages(500))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    first = mb.check()
    assert first.first_run and first.total_count == 500 and first.new_count == 500
    assert len(first.newly_arrived) == 500
    assert first.new_size == first.total_size == sum(len(m.data) for m in box.snapshot())
    again = mb.check()
    assert not again.first_run and again.newly_arrived == () and again.new_count == 500
    a = box.add(sample_message(900))
    b = box.add(sample_message(901))
    third = mb.check()
    assert set(third.newly_arrived) == {a, b} and third.total_count == 502
    assert mb.check().newly_arrived == ()
    # a restart (new engine objects on the same state) announces nothing old
    fresh = Engine(engine.home).mailbox(srv.port)
    assert fresh.check().newly_arrived == ()
    assert mb.status.state is AccountState.OK


def test_headers_decoded_and_cached(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(8)))
    mb = engine.mailbox(srv.port)
    heads = mb.headers()
    assert [h.number for h in heads] == list(range(1, 9))
    subjects = [h.subject for h in heads]
    assert "Grüße aus München – Fotos" in subjects and "Отчёт за ноябрь" in subjects
    assert "会议纪要" in subjects
    assert heads[2].sender == "Анна Петрова <anna@example.ru>"
    assert all(h.new and not h.marked for h in heads)
    tops = count(srv, "TOP")
    assert tops == 8
    again = mb.headers()
    assert count(srv, "TOP") == tops  # all from the cache
    assert [h.subject for h in again] == subjects
    assert [h.subject for h in mb.cached_headers()] == subjects  # no network at all


def test_headers_for_a_toast_fill_the_cache_but_return_only_the_wanted(
        engine: Engine, make_devserver: MakeServer) -> None:
    """The toast names three messages: their headers come back, all 250 new
    ones go to the cache (TOP, stored 100 at a time) for the window, and
    none of the others is held in memory as a Header."""
    srv = make_devserver(MemoryMailbox(sample_messages(250)))
    mb = engine.mailbox(srv.port)
    result = mb.check()
    wanted = result.newly_arrived[:3]
    heads = mb.headers(want=wanted)
    assert [h.uid for h in heads] == list(wanted)
    assert all(h.subject and h.sender for h in heads)
    assert count(srv, "TOP") == 250
    assert mb.store.header_uids(mb.name) == set(result.newly_arrived)
    full = mb.headers()
    assert count(srv, "TOP") == 250 and len(full) == 250  # the window: all from the cache
    assert {h.uid: h.subject for h in full if h.uid in wanted} == {h.uid: h.subject
                                                                  for h in heads}


def test_preview(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(3)))
    mb = engine.mailbox(srv.port)
    uid = mb.headers()[1].uid
    text = mb.preview(uid, lines=3)
    assert text.splitlines()[0] == "Line 1 of sample message 1."
    assert ".a line that starts with a dot" in text
    assert count(srv, "RETR") == 0


def test_download_atomic_and_idempotent(engine: Engine, make_devserver: MakeServer) -> None:
    box = MemoryMailbox(sample_messages(4))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    heads = mb.headers()
    seen: list[tuple[int, int]] = []
    files = mb.download([heads[0].uid, heads[2].uid], progress=lambda d, t: seen.append((d, t)))
    assert [f.read_bytes() for f in files] == [box.snapshot()[0].data, box.snapshot()[2].data]
    assert files[0].name.startswith("2026-11-01") and files[0].suffix == ".eml"
    assert "Lunch on Friday" in files[0].name
    assert seen and seen[-1][0] == seen[-1][1] == sum(len(box.snapshot()[i].data) for i in (0, 2))
    assert all(a <= b for (a, _), (b, _) in zip(seen, seen[1:], strict=False))
    retrs = count(srv, "RETR")
    assert mb.download([heads[0].uid]) == [files[0]]
    assert count(srv, "RETR") == retrs  # re-download is a no-op
    new = mb.headers(new_only=True)
    assert {h.uid for h in new} == {heads[1].uid, heads[3].uid}
    assert mb.check().new_count == 2
    rest = mb.download_new()
    assert len(rest) == 2 and mb.check().new_count == 0
    assert not list(files[0].parent.glob("*.part")) and not list(files[0].parent.glob(".*"))
    assert len(box.snapshot()) == 4  # downloading never deletes


@pytest.mark.parametrize("offset", [700, 1200, 2500])
def test_dropped_mid_retr_leaves_no_final_file(
    engine: Engine, make_devserver: MakeServer, offset: int
) -> None:
    box = MemoryMailbox(sample_messages(3))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    uids = [h.uid for h in mb.headers()]
    srv.faults = Faults(drop_after_bytes=offset)
    with pytest.raises(MailboxError):
        mb.download(uids)
    target = engine.paths.download_dir_for(mb.account)
    leftovers = list(target.iterdir()) if target.exists() else []
    finals = [p for p in leftovers if p.suffix == ".eml"]
    assert not [p for p in leftovers if p.name.endswith(".part")]
    for p in finals:  # anything under a final name is complete
        assert p.read_bytes() in [m.data for m in box.snapshot()]
    assert len(box.snapshot()) == 3


def test_cancel_download(engine: Engine, make_devserver: MakeServer) -> None:
    box = MemoryMailbox([b"Subject: big\r\n\r\n" + b"x" * 2_000_000 + b"\r\n"] * 2)
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    uids = [h.uid for h in mb.headers()]
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 100_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        mb.download(uids, progress, cancel)
    target = engine.paths.download_dir_for(mb.account)
    assert not list(target.iterdir())
    assert mb.download(uids[:1])[0].stat().st_size == len(box.snapshot()[0].data)


def test_delete_marked_after_renumbering(engine: Engine, make_devserver: MakeServer) -> None:
    box = MemoryMailbox(sample_messages(6))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    heads = mb.headers()
    victims = [heads[1].uid, heads[4].uid]
    mb.mark(victims)
    assert mb.marked() == victims
    assert [h.marked for h in mb.cached_headers()].count(True) == 2
    box.renumber()  # another client changed the mailbox meanwhile
    report = mb.delete_marked()
    assert set(report.deleted) == set(victims) and not report.gone and not report.failed
    assert set(box.uids()) == {h.uid for h in heads} - set(victims)
    assert mb.marked() == []


def test_delete_reports_gone_and_refuses_reused_uid(
    engine: Engine, make_devserver: MakeServer
) -> None:
    box = MemoryMailbox(sample_messages(4))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    heads = mb.headers()
    mb.mark([h.uid for h in heads[:3]])
    box.delete([heads[0].uid])  # deleted by another client
    box.reuse_uid(heads[1].uid, b"Subject: something else entirely\r\n\r\nnew body\r\n")
    report = mb.delete_marked()
    assert report.gone == (heads[0].uid,)
    assert [u for u, _ in report.failed] == [heads[1].uid]
    assert report.deleted == (heads[2].uid,)
    assert set(box.uids()) == {heads[1].uid, heads[3].uid}


@pytest.mark.parametrize("fault", [
    Faults(drop_after_bytes=None, errors={"DELE": "-ERR [SYS/TEMP] cannot"}),
    Faults(raw={"DELE": b"garbage\r\n"}),
    Faults(errors={"QUIT": "-ERR [SYS/TEMP] could not delete"}),
])
def test_failure_during_delete_deletes_nothing(
    engine: Engine, make_devserver: MakeServer, fault: Faults
) -> None:
    box = MemoryMailbox(sample_messages(4))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    heads = mb.headers()
    mb.mark([heads[0].uid, heads[1].uid])
    srv.faults = fault
    try:
        report = mb.delete_marked()
    except MailboxError:
        report = None
    if report is not None:
        assert not report.deleted and len(report.failed) == 2
    assert len(box.snapshot()) == 4
    assert set(mb.marked()) == {heads[0].uid, heads[1].uid}  # marks kept for a retry


@pytest.mark.parametrize("drop", [{"DELE": 1}, {"DELE": 2}, {"QUIT": 1}, {"UIDL": 1}])
def test_connection_dropped_mid_delete(
    engine: Engine, make_devserver: MakeServer, drop: dict[str, int]
) -> None:
    box = MemoryMailbox(sample_messages(4))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    heads = mb.headers()
    mb.mark([h.uid for h in heads[:3]])
    srv.faults = Faults(drop_at=drop)
    with pytest.raises(MailboxError):
        report = mb.delete_marked()
        assert not report.deleted and report.failed  # QUIT unconfirmed
        raise MailboxError("reported as failed")
    assert len(box.snapshot()) == 4
    assert len(mb.marked()) == 3


def test_quit_without_deleting_keeps_everything(
    engine: Engine, make_devserver: MakeServer
) -> None:
    box = MemoryMailbox(sample_messages(3))
    srv = make_devserver(box)
    mb = engine.mailbox(srv.port)
    mb.mark([h.uid for h in mb.headers()])
    assert mb.quit_without_deleting() == 3
    assert mb.marked() == [] and mb.delete_marked().deleted == ()
    assert len(box.snapshot()) == 3 and count(srv, "DELE") == 0


def test_wrong_password_tried_once_per_settings_change(
    engine: Engine, make_devserver: MakeServer
) -> None:
    srv = make_devserver()
    mb = engine.mailbox(srv.port, password="wrong")
    with pytest.raises(MailboxError) as info:
        mb.check()
    assert info.value.state is AccountState.AUTH_FAILED
    assert "wrong" not in str(info.value)
    conns = srv.connections
    for _ in range(3):
        with pytest.raises(MailboxError):
            mb.check()
    assert srv.connections == conns  # not tried again
    assert mb.status.state is AccountState.AUTH_FAILED and mb.status.retry_at is None
    engine.passwords.set(mb.account, "pass")  # the user fixes the password
    assert mb.check().total_count == 5
    mb2 = engine.mailbox(srv.port, password="wrong", name="two")
    with pytest.raises(MailboxError):
        mb2.check()
    with pytest.raises(MailboxError):
        mb2.check()
    mb2.update_account(dataclasses.replace(mb2.account, check_interval_minutes=7, port=srv.port,
                                           host="localhost"))
    engine.passwords.set(mb2.account, "wrong")
    conns = srv.connections
    with pytest.raises(MailboxError):
        mb2.check()  # settings changed: one more try
    assert srv.connections == conns + 1


@pytest.mark.parametrize("line,state", [
    ("-ERR [IN-USE] locked", AccountState.BUSY),
    ("-ERR [LOGIN-DELAY] wait", AccountState.WAITING),
    ("-ERR [SYS/TEMP] later", AccountState.BACKOFF),
    ("-ERR [SYS/PERM] closed", AccountState.STOPPED),
])
def test_response_codes_become_states(
    engine: Engine, make_devserver: MakeServer, line: str, state: AccountState
) -> None:
    srv = make_devserver(faults=Faults(errors={"PASS": line}, login_delay=900))
    mb = engine.mailbox(srv.port)
    with pytest.raises(MailboxError) as info:
        mb.check()
    assert info.value.state is state and mb.status.state is state
    if state is AccountState.STOPPED:
        assert mb.status.retry_at is None
    else:
        assert mb.status.retry_at is not None
    if state is AccountState.WAITING:  # never sooner than CAPA's LOGIN-DELAY 900
        assert mb.status.retry_at is not None
        assert mb.status.retry_at - time.time() > 890


def test_backoff_grows(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(errors={"PASS": "-ERR [SYS/TEMP] later"}))
    mb = engine.mailbox(srv.port)
    waits = []
    for _ in range(3):
        with pytest.raises(MailboxError):
            mb.check()
        assert mb.status.retry_at is not None
        waits.append(mb.status.retry_at)
    assert waits[1] - waits[0] > 50 and waits[2] - waits[1] > 110


def test_network_down(engine: Engine) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mb = engine.mailbox(port)
    with pytest.raises(MailboxError) as info:
        mb.check()
    assert info.value.state is AccountState.BACKOFF and "cannot connect" in str(info.value)


def test_server_without_uidl_uses_weaker_identity(
    engine: Engine, make_devserver: MakeServer
) -> None:
    box = MemoryMailbox(sample_messages(5))
    srv = make_devserver(box, Faults(omit=frozenset({"UIDL"})))
    mb = engine.mailbox(srv.port)
    assert mb.check().newly_arrived and mb.check().newly_arrived == ()
    box.add(sample_message(77))
    assert len(mb.check().newly_arrived) == 1
    heads = mb.headers()
    mb.mark([heads[0].uid])
    assert len(mb.delete_marked().deleted) == 1 and len(box.snapshot()) == 5
    assert any("no UIDL" in e.text for e in mb.transcript)


def test_server_without_top_never_retrs(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(omit=frozenset({"TOP"})))
    mb = engine.mailbox(srv.port)
    with pytest.raises(MailboxError, match="TOP"):
        mb.headers()
    assert count(srv, "RETR") == 0


def test_starttls_account(engine: Engine, make_devserver: MakeServer,
                          certificate: Certificate) -> None:
    srv = make_devserver(stls_context=certificate.server_context())
    mb = engine.mailbox(srv.port, security=Security.STARTTLS, cafile=str(certificate.cert))
    assert mb.check().total_count == 5
    assert any("TLS established" in e.text for e in mb.transcript)


def test_starttls_never_falls_back(engine: Engine, make_devserver: MakeServer,
                                   certificate: Certificate) -> None:
    srv = make_devserver()  # no STLS offered
    mb = engine.mailbox(srv.port, security=Security.STARTTLS, cafile=str(certificate.cert))
    with pytest.raises(MailboxError, match="STLS") as info:
        mb.check()
    assert info.value.state is AccountState.STOPPED
    assert count(srv, "PASS") == 0 and count(srv, "USER") == 0


def test_transcript_ring_buffer_and_log_file(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver()
    mb = engine.mailbox(srv.port, password="pass")
    got: list[str] = []
    mb.listeners.append(lambda name, ev: got.append(f"{name} {ev}"))
    mb.check()
    assert any(line.endswith("C: PASS ********") for line in got)
    log = (engine.paths.log_dir / "test.log").read_text()
    assert "C: STAT" in log and "PASS ********" in log


def test_password_never_leaks(engine: Engine, make_devserver: MakeServer,
                              caplog: pytest.LogCaptureFixture,
                              capsys: pytest.CaptureFixture[str]) -> None:
    import base64
    import logging

    secret = "Leak-Me-N0t-7731"
    caplog.set_level(logging.DEBUG)
    box = MemoryMailbox(sample_messages(4))
    srv = DevServer(box, {"user": secret},
                    faults=Faults(raw={"NOOP": f"-ERR {secret}\r\n".encode()}))
    with srv:
        wrong = engine.mailbox(srv.port, password=secret + "x", name="wrong")
        with pytest.raises(MailboxError):
            wrong.check()
        mb = engine.mailbox(srv.port, password=secret)
        mb.check()
        heads = mb.headers()
        mb.preview(heads[0].uid)
        mb.download([heads[1].uid])
        mb.mark([heads[2].uid])
        mb.delete_marked()
    texts = [caplog.text, *capsys.readouterr()]
    texts += [str(e) for e in (*mb.transcript, *wrong.transcript)]
    blobs = [p.read_bytes() for p in engine.files()]
    needles = [secret, base64.b64encode(secret.encode()).decode()]
    for needle in needles:
        assert not any(needle in t for t in texts)
        assert not any(needle.encode() in b for b in blobs)
    assert any("PASS ********" in str(e) for e in mb.transcript)


def test_back_to_back_sessions_wait_for_our_own_lock(engine: Engine,
                                                     make_devserver: MakeServer) -> None:
    # the server takes a while to process our unconfirmed QUIT and keeps the
    # maildrop locked meanwhile: the next session must not report "in use"
    srv = make_devserver(faults=Faults(stall={"QUIT": 0.3}))
    mb = engine.mailbox(srv.port)
    mb.check()
    assert mb.check().total_count == 5
    assert any("still holds our previous session" in e.text for e in mb.transcript)
