"""The engine logs in the way the account asks (settings ``auth``): USER/PASS,
AUTH PLAIN, or an OAuth2 token from the token source -- never another way."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.devserver import DevServer, Faults
from traymail.mailbox import AccountState, Mailbox, MailboxError
from traymail.session import probe
from traymail.settings import AuthMethod, OAuth2Settings

from .engine import Engine

MakeServer = Callable[..., DevServer]
TOKEN = "tok-" + "A" * 40


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(tmp_path / "home")


def verbs(srv: DevServer) -> list[str]:
    return [c.split(" ")[0] + (" " + c.split(" ")[1] if c.startswith("AUTH") else "")
            for c in srv.commands]


def test_password_account_uses_user_pass(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver()
    assert engine.mailbox(srv.port).check().total_count == 5
    assert "USER" in verbs(srv) and not any(v.startswith("AUTH") for v in verbs(srv))


def test_plain_account_uses_auth_plain(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver()
    mb = engine.mailbox(srv.port, auth=AuthMethod.PLAIN)
    assert mb.check().total_count == 5
    assert "AUTH PLAIN" in verbs(srv) and "USER" not in verbs(srv)
    assert any("AUTH PLAIN ********" in str(e) for e in mb.transcript)


def test_plain_refused_is_auth_failed_and_no_fallback(engine: Engine,
                                                      make_devserver: MakeServer) -> None:
    srv = make_devserver(faults=Faults(sasl_mechanisms=("XOAUTH2",)))
    mb = engine.mailbox(srv.port, auth=AuthMethod.PLAIN)
    with pytest.raises(MailboxError, match="does not offer SASL PLAIN") as info:
        mb.check()
    assert info.value.state is AccountState.STOPPED
    assert "USER" not in verbs(srv) and "PASS" not in verbs(srv)
    srv2 = make_devserver()
    mb2 = engine.mailbox(srv2.port, password="wrong", auth=AuthMethod.PLAIN, name="b")
    with pytest.raises(MailboxError) as info2:
        mb2.check()
    assert info2.value.state is AccountState.AUTH_FAILED


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_oauth2_account_uses_the_token_source(engine: Engine, make_devserver: MakeServer,
                                              mechanism: str) -> None:
    srv = make_devserver(tokens={TOKEN: "me@example.org"})
    base = engine.mailbox(srv.port, auth=AuthMethod.OAUTH2, email="me@example.org",
                          oauth2=OAuth2Settings(provider="google", mechanism=mechanism))
    asked: list[str] = []

    def tokens(account: object) -> str:
        asked.append(getattr(account, "name", ""))
        return TOKEN

    mb = Mailbox(base.account, engine.store, engine.passwords, engine.paths, timeout=5,
                 token_source=tokens)
    assert mb.check().total_count == 5
    assert asked == ["test"] and f"AUTH {mechanism.upper()}" in verbs(srv)
    assert all(TOKEN not in str(e) for e in mb.transcript)
    assert all(TOKEN not in p.read_text(errors="replace") for p in engine.files()
               if p.suffix in (".log", ".txt", ""))
    # a token the server rejects: AUTH_FAILED, the JSON summarised in the log
    bad = Mailbox(dataclasses.replace(base.account, name="bad"), engine.store,
                  engine.passwords, engine.paths, timeout=5, token_source=lambda a: "stale")
    with pytest.raises(MailboxError) as info:
        bad.check()
    assert info.value.state is AccountState.AUTH_FAILED
    assert any("failure from the server: status=401" in str(e) for e in bad.transcript)


def test_oauth2_without_a_token_source_says_sign_in(engine: Engine,
                                                    make_devserver: MakeServer) -> None:
    srv = make_devserver()
    mb = engine.mailbox(srv.port, auth=AuthMethod.OAUTH2,
                        oauth2=OAuth2Settings(provider="microsoft"))
    with pytest.raises(MailboxError, match="OAuth2|sign-in") as info:
        mb.check()
    assert info.value.state is AccountState.STOPPED
    assert srv.connections == 0  # nothing was tried without a token


def test_probe_follows_auth(engine: Engine, make_devserver: MakeServer) -> None:
    srv = make_devserver()
    account = engine.mailbox(srv.port, auth=AuthMethod.PLAIN).account
    assert probe(account, "pass", timeout=5).startswith("OK: 5 messages")
    assert "AUTH PLAIN" in verbs(srv)
