"""Integration tests against a real Dovecot (plain, POP3S, STLS)."""

from __future__ import annotations

import io

import pytest

from traymail.pop3 import (
    POP3,
    POP3_SSL,
    AuthenticationError,
    ServerError,
    TransportError,
)

from .realservers import Certificate, DovecotAccount


def message(i: int, body: bytes = b"") -> bytes:
    """A message in maildir form (LF line ends) with awkward lines."""
    return (
        f"From: Sender {i} <s{i}@example.org>\n"
        f"To: you@example.org\n"
        f"Subject: message {i}\n"
        f"Message-ID: <m{i}@example.org>\n"
        "\n"
        f"Body of {i}.\n"
        ".starts with a dot\n"
        "..two dots\n"
        ".\n"
        + "x" * 3000  # one long line (poplib refuses lines over 2,048 octets)
        + "\n"
    ).encode() + body


def wire(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def fill(account: DovecotAccount, count: int) -> list[bytes]:
    msgs = [message(i) for i in range(1, count + 1)]
    for m in msgs:
        account.add(m)
    return msgs


def login(account: DovecotAccount, **kw: object) -> POP3:
    pop = POP3(account.host, account.server.port, timeout=10, **kw)  # type: ignore[arg-type]
    pop.user(account.user)
    pop.pass_(account.password)
    return pop


@pytest.mark.dovecot
def test_every_command_plain(dovecot_account: DovecotAccount) -> None:
    msgs = fill(dovecot_account, 3)
    with login(dovecot_account) as pop:
        caps = pop.capa()
        assert caps.has("UIDL") and caps.has("TOP") and caps.pipelining
        stat = pop.stat()
        assert stat.count == 3
        assert stat.size == sum(len(wire(m)) for m in msgs)
        listing = pop.list()
        assert [x.number for x in listing] == [1, 2, 3]
        assert [x.size for x in listing] == [len(wire(m)) for m in msgs]
        assert pop.list(2).size == len(wire(msgs[1]))
        uids = pop.uidl()
        assert len({u.uid for u in uids}) == 3
        assert pop.uidl(3) == uids[2]
        for n, m in enumerate(msgs, 1):
            assert pop.retr(n) == wire(m)
            head = wire(m).split(b"\r\n\r\n")[0] + b"\r\n\r\n"
            assert pop.top(n, 0) == head
            assert pop.top(n, 2) == head + b"Body of %d.\r\n.starts with a dot\r\n" % n
            sink = io.BytesIO()
            assert pop.retr(n, sink=sink) == len(wire(m))
            assert sink.getvalue() == wire(m)
        pop.noop()
        pop.rset()


@pytest.mark.dovecot
def test_pipelined_batches_equal_lockstep(dovecot_account: DovecotAccount) -> None:
    fill(dovecot_account, 250)
    with login(dovecot_account) as pop:
        n = pop.stat().count
        lock = [pop.top(i, 0) for i in range(1, n + 1)]
        assert pop.capa().pipelining
        piped = list(pop.top_many(range(1, n + 1)))
        assert [num for num, _ in piped] == list(range(1, n + 1))
        assert [data for _, data in piped] == lock
        bodies: dict[int, io.BytesIO] = {}
        got = list(pop.retr_many(range(1, n + 1), lambda k: bodies.setdefault(k, io.BytesIO())))
        assert [octets for _, octets in got] == [x.size for x in pop.list()]
        assert all(bodies[k].getvalue() == pop.retr(k) for k in (1, 125, 250))


@pytest.mark.dovecot
def test_dele_quit_deletes(dovecot_account: DovecotAccount) -> None:
    fill(dovecot_account, 4)
    with login(dovecot_account) as pop:
        uids = pop.uidl()
        assert pop.dele_many([1, 3]) == [1, 3]
        assert pop.stat().count == 2
    with login(dovecot_account) as pop:
        assert [u.uid for u in pop.uidl()] == [uids[1].uid, uids[3].uid]
    assert len(dovecot_account.files()) == 2


@pytest.mark.dovecot
def test_dele_rset_quit_and_dropped_connection_delete_nothing(
    dovecot_account: DovecotAccount,
) -> None:
    fill(dovecot_account, 3)
    with login(dovecot_account) as pop:
        pop.dele(1)
        pop.dele(2)
        pop.rset()
    pop = login(dovecot_account)
    pop.dele_many([1, 2, 3])
    pop.close()  # dropped: no QUIT, so no UPDATE state (RFC 1939 §6)
    with pytest.raises(RuntimeError), login(dovecot_account) as pop:
        pop.dele(1)
        raise RuntimeError("a failure inside the with block")
    with login(dovecot_account) as pop:
        assert pop.stat().count == 3
    assert len(dovecot_account.files()) == 3


@pytest.mark.dovecot
def test_wrong_password(dovecot_account: DovecotAccount) -> None:
    with POP3("127.0.0.1", dovecot_account.server.port, timeout=10) as pop:
        pop.user(dovecot_account.user)
        with pytest.raises(AuthenticationError):
            pop.pass_("not the password")
        pop.user(dovecot_account.user)
        pop.pass_(dovecot_account.password)
        assert pop.stat().count == 0


@pytest.mark.dovecot
def test_pop3s_verified_with_generated_ca(
    dovecot_account: DovecotAccount, certificate: Certificate
) -> None:
    fill(dovecot_account, 2)
    cert = dovecot_account.server.cert
    with POP3_SSL("127.0.0.1", dovecot_account.server.ssl_port, timeout=10,
                  context=cert.client_context()) as pop:
        pop.user(dovecot_account.user)
        pop.pass_(dovecot_account.password)
        assert pop.stat().count == 2
        assert pop.retr(1) == wire(message(1))
    # an untrusted certificate is refused by default
    with pytest.raises(TransportError, match="certificate verification failed"):
        POP3_SSL("127.0.0.1", dovecot_account.server.ssl_port, timeout=10)
    # trusting another CA does not help either
    with pytest.raises(TransportError):
        POP3_SSL("127.0.0.1", dovecot_account.server.ssl_port, timeout=10,
                 context=certificate.client_context())


@pytest.mark.dovecot
def test_stls(dovecot_account: DovecotAccount) -> None:
    fill(dovecot_account, 1)
    cert = dovecot_account.server.cert
    with POP3("localhost", dovecot_account.server.port, timeout=10) as pop:
        assert pop.capa().stls
        pop.stls(cert.client_context())
        assert pop.capabilities is None  # forgotten after STLS (RFC 2595 §4)
        assert not pop.capa().stls
        pop.user(dovecot_account.user)
        pop.pass_(dovecot_account.password)
        assert pop.retr(1) == wire(message(1))


@pytest.mark.dovecot
def test_server_error_keeps_session_usable(dovecot_account: DovecotAccount) -> None:
    fill(dovecot_account, 1)
    with login(dovecot_account) as pop:
        with pytest.raises(ServerError):
            pop.retr(5)
        with pytest.raises(ServerError):
            list(pop.top_many([1, 7, 1]))
        assert pop.retr(1) == wire(message(1))
