"""The blocking client against the devserver, including every fault hook."""

from __future__ import annotations

import io
import logging
import socket
import time
from collections.abc import Callable

import pytest

from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.pop3 import (
    MASK,
    POP3,
    POP3_SSL,
    AuthenticationError,
    CapabilityError,
    Direction,
    LocalProtocolError,
    LoginDelayError,
    MailboxInUseError,
    PermanentFailure,
    POP3Error,
    RemoteProtocolError,
    ServerError,
    State,
    TemporaryFailure,
    TranscriptEvent,
    TransportError,
    TransportTimeout,
)
from traymail.pop3 import client as client_module
from traymail.samples import sample_messages

from .realservers import Certificate

MakeServer = Callable[..., DevServer]


def login(srv: DevServer, **kw: object) -> POP3:
    pop = POP3("127.0.0.1", srv.port, timeout=kw.pop("timeout", 5), **kw)  # type: ignore[arg-type]
    pop.user("user")
    pop.pass_("pass")
    return pop


def test_commands_and_bodies(devserver: DevServer, mailbox: MemoryMailbox) -> None:
    with login(devserver) as pop:
        assert pop.state is State.TRANSACTION
        msgs = mailbox.snapshot()
        assert pop.stat().count == 5
        assert [u.uid for u in pop.uidl()] == [m.uid for m in msgs]
        for n, m in enumerate(msgs, 1):
            assert pop.retr(n) == m.data
            assert pop.top(n, 0) == m.data.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert pop.state is State.CLOSED and not pop.connected


def test_apop(devserver: DevServer) -> None:
    with POP3("127.0.0.1", devserver.port, timeout=5) as pop:
        pop.apop("user", "pass")
        assert pop.stat().count == 5
    with POP3("127.0.0.1", devserver.port, timeout=5) as pop, pytest.raises(AuthenticationError):
        pop.apop("user", "wrong")


def test_ipv6_literal(mailbox: MemoryMailbox) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        srv = DevServer(mailbox, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    with srv, POP3("[::1]", srv.port, timeout=5) as pop:
        pop.user("user")
        pop.pass_("pass")
        assert pop.stat().count == 5


def test_bare_lf_server(make_devserver: MakeServer) -> None:
    box = MemoryMailbox(sample_messages(3))
    srv = make_devserver(box, Faults(bare_lf=True))
    with login(srv) as pop:
        assert [pop.retr(n) for n in (1, 2, 3)] == [m.data for m in box.snapshot()]
        assert [d for _, d in pop.top_many([1, 2, 3])] == [pop.top(n, 0) for n in (1, 2, 3)]
        assert len(pop.uidl()) == 3


def test_long_lines_and_dots_survive(make_devserver: MakeServer) -> None:
    body = b"Subject: x\r\n\r\n" + b"z" * 1_000_000 + b"\r\n.\r\n..\r\n.x\r\n"
    box = MemoryMailbox([body])
    srv = make_devserver(box)
    with login(srv) as pop:
        assert pop.retr(1) == body
        sink = io.BytesIO()
        assert pop.retr(1, sink=sink) == len(body) and sink.getvalue() == body
        pop.noop()  # still in sync
        assert pop.stat().count == 1


class InFlight:
    """A transcript hook counting commands sent but not yet answered."""

    def __init__(self) -> None:
        self.outstanding, self.peak = 1, 0  # the greeting is expected first

    def __call__(self, ev: TranscriptEvent) -> None:
        if ev.direction is Direction.CLIENT:
            self.outstanding += 1
            self.peak = max(self.peak, self.outstanding)
        elif ev.direction is Direction.SERVER:
            self.outstanding -= 1


def test_pipelining_window_is_bounded(make_devserver: MakeServer) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(2500)))
    flight = InFlight()

    with login(srv, transcript=flight) as pop:
        tops = list(pop.top_many(range(1, 2501)))
        assert [n for n, _ in tops] == list(range(1, 2501))
    assert 900 <= flight.peak <= 1000  # many in flight, never more than the window


def test_lockstep_without_pipelining(make_devserver: MakeServer) -> None:
    srv = make_devserver(MemoryMailbox(sample_messages(20)), Faults(omit=frozenset({"PIPELINING"})))
    flight = InFlight()

    with login(srv, transcript=flight) as pop:
        assert len(list(pop.top_many(range(1, 21)))) == 20
        assert pop.dele_many(range(1, 21)) == list(range(1, 21))
        pop.rset()
    assert flight.peak == 1


def test_server_without_capa_is_lockstep(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(omit=frozenset({"CAPA"})))
    with login(srv) as pop:
        caps = pop.capa()
        assert not caps.supported and not caps.pipelining
        assert len(list(pop.top_many([1, 2, 3]))) == 3


def test_batch_error_drains_and_keeps_sync(devserver: DevServer) -> None:
    with login(devserver) as pop:
        got = []
        with pytest.raises(ServerError):
            for n, _data in pop.top_many([1, 2, 99, 3, 4]):
                got.append(n)
        assert got == [1, 2]
        pop.noop()
        assert pop.stat().count == 5
        # a consumer that stops early leaves the session in sync too
        for _n, _data in pop.top_many([1, 2, 3, 4, 5]):
            break
        assert pop.stat().count == 5
        with pytest.raises(ServerError):
            pop.dele_many([1, 99])
        pop.rset()


def test_missing_uidl_and_top(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(omit=frozenset({"UIDL", "TOP"})))
    with login(srv) as pop:
        assert not pop.capa().has("UIDL")
        with pytest.raises(ServerError):
            pop.uidl()
        with pytest.raises(ServerError):
            pop.top(1, 0)
        assert pop.stat().count == 5


@pytest.mark.parametrize(
    "command,line,cls",
    [
        ("PASS", "-ERR [IN-USE] maildrop locked", MailboxInUseError),
        ("PASS", "-ERR [LOGIN-DELAY] too soon", LoginDelayError),
        ("PASS", "-ERR [SYS/TEMP] disk on fire", TemporaryFailure),
        ("PASS", "-ERR [SYS/PERM] account closed", PermanentFailure),
        ("PASS", "-ERR [AUTH] no", AuthenticationError),
        ("STAT", "-ERR [SYS/TEMP] later", TemporaryFailure),
    ],
)
def test_response_codes_from_server(
    make_devserver: MakeServer, command: str, line: str, cls: type[ServerError]
) -> None:
    srv = make_devserver(faults=Faults(errors={command: line}))
    with POP3("127.0.0.1", srv.port, timeout=5) as pop:
        pop.user("user")
        with pytest.raises(cls):
            pop.pass_("pass")
            pop.stat()


def test_real_in_use_lock(devserver: DevServer) -> None:
    with login(devserver) as first:
        with pytest.raises(MailboxInUseError):
            login(devserver)
        assert first.stat().count == 5


def test_negative_greeting(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(errors={"GREETING": "-ERR [SYS/TEMP] busy"}))
    with pytest.raises(TemporaryFailure):
        POP3("127.0.0.1", srv.port, timeout=5)


@pytest.mark.parametrize(
    "raw,match",
    [
        (b"+OK " + b"a" * 20000 + b"\r\n", "longer than"),
        (b"HTTP/1.0 400 Bad Request\r\n", "neither"),
        (b"\x00\xff garbage\r\n", "neither"),
        (b"+OK 1 2\r\n+OK extra\r\n", "nobody asked"),
    ],
)
def test_hostile_status_lines(make_devserver: MakeServer, raw: bytes, match: str) -> None:
    srv = make_devserver(faults=Faults(raw={"NOOP": raw}))
    pop = login(srv)
    with pytest.raises(RemoteProtocolError, match=match):
        pop.noop()
        pop.noop()
    assert not pop.connected  # closed at once, never reused
    with pytest.raises(LocalProtocolError):
        pop.stat()


def test_garbage_stat(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(raw={"STAT": b"+OK many lots\r\n"}))
    with login(srv) as pop, pytest.raises(RemoteProtocolError, match="STAT"):
        pop.stat()


def test_stall_times_out(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(stall={"RETR": 3.0}))
    pop = login(srv, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(TransportTimeout):
        pop.retr(1)
    assert time.monotonic() - start < 2.5
    assert not pop.connected


def test_stalled_greeting_times_out(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(stall={"GREETING": 3.0}))
    with pytest.raises(TransportTimeout):
        POP3("127.0.0.1", srv.port, timeout=0.5)


@pytest.mark.parametrize("offset", [0, 5, 40, 200, 400, 700, 1000, 1500])
def test_drop_after_n_bytes_never_hangs(
    make_devserver: MakeServer, mailbox: MemoryMailbox, offset: int
) -> None:
    srv = make_devserver(mailbox, Faults(drop_after_bytes=offset))
    with pytest.raises(POP3Error) as info:
        with POP3("127.0.0.1", srv.port, timeout=5) as pop:
            pop.user("user")
            pop.pass_("pass")
            pop.dele(1)
            pop.uidl()
            pop.retr(2)
            pop.retr(3)
    assert isinstance(info.value, (RemoteProtocolError, TransportError))
    assert len(mailbox.snapshot()) == 5  # dropped before QUIT: nothing deleted


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError, match="cannot connect"):
        POP3("127.0.0.1", port, timeout=2)


def test_exception_in_with_block_commits_no_dele(devserver: DevServer,
                                                 mailbox: MemoryMailbox) -> None:
    with pytest.raises(KeyError), login(devserver) as pop:
        pop.dele(1)
        pop.dele(2)
        raise KeyError("boom")
    assert len(mailbox.snapshot()) == 5
    assert "RSET" in devserver.commands
    with login(devserver) as pop:
        pop.dele(1)
    assert len(mailbox.snapshot()) == 4


def test_injected_newline_in_password_is_refused(devserver: DevServer) -> None:
    with POP3("127.0.0.1", devserver.port, timeout=5) as pop:
        pop.user("user")
        before = list(devserver.commands)
        with pytest.raises(LocalProtocolError):
            pop.pass_("pass\r\nDELE 1")
        assert devserver.commands == before  # nothing sent
        pop.user("user")
        pop.pass_("pass")


def test_invalid_arguments(devserver: DevServer) -> None:
    with login(devserver) as pop:
        for bad in (0, -1, True):
            with pytest.raises(LocalProtocolError):
                pop.retr(bad)
        with pytest.raises(LocalProtocolError):
            pop.top(1, -1)
        with pytest.raises(ValueError):
            POP3("127.0.0.1", devserver.port, timeout=0)


def test_transcript_and_log_never_show_the_password(
    make_devserver: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "S3cr3t-pa55word"
    srv = DevServer(MemoryMailbox(sample_messages(2)), {"user": secret},
                    faults=Faults(raw={"STAT": f"+OK 2 100 echo {secret}\r\n".encode()}))
    events: list[TranscriptEvent] = []
    caplog.set_level(logging.DEBUG, logger="traymail.pop3.wire")
    with srv:
        with POP3("127.0.0.1", srv.port, timeout=5, transcript=events.append) as pop:
            pop.user("user")
            with pytest.raises(AuthenticationError) as info:
                pop.pass_(secret + "x")
            assert secret not in str(info.value)
            pop.user("user")
            pop.pass_(secret)
            pop.stat()
            pop.retr(1)
            srv.faults.raw["NOOP"] = f"-ERR your password {secret} expired\r\n".encode()
            with pytest.raises(ServerError) as echoed:
                pop.noop()
            assert secret not in str(echoed.value) and MASK in echoed.value.text
        with POP3("127.0.0.1", srv.port, timeout=5, transcript=events.append) as pop:
            pop.apop("user", secret)
    text = "\n".join(str(e) for e in events) + caplog.text
    assert secret not in text
    assert f"PASS {MASK}" in text and f"APOP user {MASK}" in text
    assert "[RETR body:" in text and "Subject" not in text  # bodies summarised
    assert any(e.direction is Direction.NOTE and "connected" in e.text for e in events)


def test_stls_with_devserver(make_devserver: MakeServer, certificate: Certificate) -> None:
    srv = make_devserver(stls_context=certificate.server_context())
    events: list[TranscriptEvent] = []
    with POP3("127.0.0.1", srv.port, timeout=5, transcript=events.append) as pop:
        assert pop.capa().stls
        pop.stls(certificate.client_context())
        assert not pop.capa().stls
        pop.user("user")
        pop.pass_("pass")
        assert pop.stat().count == 5
    assert any("TLS established" in e.text for e in events)


def test_stls_refused_when_not_offered(devserver: DevServer) -> None:
    with POP3("127.0.0.1", devserver.port, timeout=5) as pop:
        pop.capa()
        with pytest.raises(CapabilityError):
            pop.stls()


def test_stls_plaintext_injection(make_devserver: MakeServer, certificate: Certificate) -> None:
    srv = make_devserver(
        stls_context=certificate.server_context(),
        faults=Faults(raw={"STLS": b"+OK go ahead\r\n+OK injected\r\n"}),
    )
    pop = POP3("127.0.0.1", srv.port, timeout=5)
    with pytest.raises(RemoteProtocolError, match="before the TLS handshake"):
        pop.stls(certificate.client_context())
    assert not pop.connected


def test_pop3_ssl_devserver(make_devserver: MakeServer, certificate: Certificate) -> None:
    srv = make_devserver(ssl_context=certificate.server_context())
    with POP3_SSL("localhost", srv.port, timeout=5,
                  context=certificate.client_context()) as pop:
        pop.user("user")
        pop.pass_("pass")
        assert pop.stat().count == 5
        with pytest.raises(LocalProtocolError):
            pop.stls()
    with pytest.raises(TransportError, match="certificate"):
        POP3_SSL("127.0.0.1", srv.port, timeout=5)


def test_capabilities_before_login_stay_valid(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(login_delay=300))
    with POP3("127.0.0.1", srv.port, timeout=5) as pop:
        assert pop.capa().login_delay == 300
        pop.login("user", "pass")
        assert len(list(pop.top_many([1, 2]))) == 2
    # PIPELINING was announced before login (RFC 2449 §5: valid in both states)
    assert srv.commands.count("CAPA") == 1


def test_capa_reread_when_pipelining_appears_after_login(make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(after_login_only=frozenset({"PIPELINING", "TOP"})))
    with POP3("127.0.0.1", srv.port, timeout=5) as pop:
        assert not pop.capa().pipelining
        pop.user("user")
        pop.pass_("pass")
        list(pop.top_many([1, 2, 3]))
        caps = pop.capabilities
        assert caps is not None and caps.pipelining and caps.has("TOP")
    assert srv.commands.count("CAPA") == 2


def test_login_pipelines_user_and_pass(make_devserver: MakeServer) -> None:
    srv = make_devserver()
    events: list[TranscriptEvent] = []
    with POP3("127.0.0.1", srv.port, timeout=5, transcript=events.append) as pop:
        pop.capa()
        pop.login("user", "pass")
        assert pop.stat().count == 5
    lines = [str(e) for e in events if e.direction is not Direction.NOTE]
    i = lines.index("C: USER user")
    if client_module._QUICKACK is not None:
        assert lines[i + 1] == f"C: PASS {MASK}"  # both written before any reply
    else:  # no TCP_QUICKACK (Windows): lock-step, to avoid a delayed-ACK stall
        assert lines[i + 1 : i + 3] == ["S: +OK send PASS", f"C: PASS {MASK}"]
    with POP3("127.0.0.1", srv.port, timeout=5) as pop:
        pop.capa()
        with pytest.raises(AuthenticationError):
            pop.login("user", "wrong")
        with pytest.raises(ServerError):
            pop.login("nobody", "pass")
        pop.login("user", "pass")  # the session is still in sync
        assert pop.stat().count == 5
    with POP3("127.0.0.1", srv.port, timeout=5) as pop:  # without CAPA: lock-step
        pop.login("user", "pass")
        assert pop.state is State.TRANSACTION


def test_scan_pipelined_and_lockstep(make_devserver: MakeServer) -> None:
    piped = make_devserver(MemoryMailbox(sample_messages(4)))
    plain = make_devserver(MemoryMailbox(sample_messages(4)),
                           Faults(omit=frozenset({"PIPELINING"})))
    results = []
    for srv in (piped, plain):
        events: list[TranscriptEvent] = []
        with POP3("127.0.0.1", srv.port, timeout=5, transcript=events.append) as pop:
            pop.capa()
            pop.login("user", "pass")
            st, ids, sizes = pop.scan()
            results.append((st, [u.number for u in ids], sizes))
            assert st is not None and st.count == 4 and sizes is not None
            assert [s.size for s in sizes] == [len(m.data) for m in srv.mailbox.snapshot()]
        lines = [str(e) for e in events if e.direction is not Direction.NOTE]
        i = lines.index("C: STAT")
        sent_together = lines[i + 1:i + 3] == ["C: UIDL", "C: LIST"]
        assert sent_together == (srv is piped)
    assert results[0] == results[1]
    srv = make_devserver(faults=Faults(errors={"UIDL": "-ERR [SYS/TEMP] not now"}))
    with POP3("127.0.0.1", srv.port, timeout=5) as pop:
        pop.capa()
        pop.login("user", "pass")
        with pytest.raises(TemporaryFailure):
            pop.scan()
        assert pop.stat().count == 5  # every reply was read: still in sync


def test_quit_without_waiting(devserver: DevServer) -> None:
    pop = login(devserver)
    assert pop.quit(wait=False) == "" and not pop.connected
