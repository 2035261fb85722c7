"""TLS trust: verified by default; an untrusted certificate is explained with
its SHA-256 fingerprint and can be pinned; a changed certificate fails loudly;
STARTTLS never falls back to plain text."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.devserver import DevServer, MemoryMailbox
from traymail.mailbox import AccountState, MailboxError
from traymail.samples import sample_messages
from traymail.settings import Security

from .engine import Engine
from .realservers import Certificate, DovecotAccount, make_certificate

MakeServer = Callable[..., DevServer]


def openssl_fingerprint(cert: Path) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint",
                          "-sha256"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


@pytest.mark.dovecot
def test_untrusted_then_pinned_then_changed(dovecot_account: DovecotAccount,
                                            tmp_path: Path) -> None:
    dovecot_account.add(b"Subject: hi\n\nbody\n")
    eng = Engine(tmp_path / "home")
    mb = eng.mailbox(dovecot_account.server.ssl_port, password=dovecot_account.password,
                     username=dovecot_account.user, security=Security.SSL)
    with pytest.raises(MailboxError) as info:
        mb.check()  # self-signed, no cafile: refused by default
    expected = openssl_fingerprint(dovecot_account.server.cert.cert)
    assert info.value.state is AccountState.STOPPED
    assert info.value.cert_sha256 == expected and expected in str(info.value)
    # the user pins it (the Settings dialog stores it in settings.json)
    mb.update_account(dataclasses.replace(mb.account, pinned_sha256=expected))
    assert mb.check().total_count == 1
    # the certificate changes: loud failure, the password is never sent
    other = "AA:" * 31 + "AA"
    mb.update_account(dataclasses.replace(mb.account, pinned_sha256=other))
    with pytest.raises(MailboxError, match="CHANGED") as changed:
        mb.check()
    assert changed.value.cert_sha256 == expected
    assert not any("PASS" in e.text for e in list(mb.transcript)[-6:])


def test_hostname_mismatch_is_refused(make_devserver: MakeServer, tmp_path: Path) -> None:
    cert = make_certificate(tmp_path / "other", cn="other.example", san="DNS:other.example")
    srv = make_devserver(MemoryMailbox(sample_messages(1)), ssl_context=cert.server_context())
    eng = Engine(tmp_path / "home")
    mb = eng.mailbox(srv.port, security=Security.SSL, cafile=str(cert.cert))
    with pytest.raises(MailboxError, match="not trusted") as info:
        mb.check()
    assert info.value.cert_sha256 == openssl_fingerprint(cert.cert)
    assert srv.commands == []  # nothing was said to it


def test_stls_pinning(make_devserver: MakeServer, certificate: Certificate,
                      tmp_path: Path) -> None:
    srv = make_devserver(stls_context=certificate.server_context())
    eng = Engine(tmp_path / "home")
    fp = openssl_fingerprint(certificate.cert)
    mb = eng.mailbox(srv.port, security=Security.STARTTLS, pinned_sha256=fp.lower())
    assert mb.check().total_count == 5
    mb.update_account(dataclasses.replace(mb.account, pinned_sha256="00" * 32))
    with pytest.raises(MailboxError, match="CHANGED"):
        mb.check()
    assert srv.commands.count("PASS") == 1  # only the first, pinned, session logged in
