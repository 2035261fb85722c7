"""The direct Secret Service read (:mod:`traymail.secret_service`): against a
real gnome-keyring on a private D-Bus, and against services that refuse the
``plain`` transfer (as KWallet does) or never answer (fault injection: a
small service of our own on the same private bus)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Secret Service is Linux's")

ATTRS = {"service": "traymail", "username": "ann@127.0.0.1:995"}


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from .desktop import Desktop

    desktop = Desktop()
    try:
        desktop.start_bus()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
        yield desktop
    finally:
        desktop.stop()


def test_reads_what_keyrings_backend_stored(session_bus: object) -> None:
    import secretstorage

    from traymail.secret_service import lookup

    session_bus.start_secret_service()  # type: ignore[attr-defined]
    conn = secretstorage.dbus_init()
    try:  # stored as keyring's SecretService backend stores it (via secretstorage)
        collection = secretstorage.get_default_collection(conn)
        collection.create_item("Password for 'ann' on 'traymail'",
                               {**ATTRS, "application": "Python keyring library"},
                               "pä55 wörd".encode())
    finally:
        conn.close()
    assert lookup(ATTRS) == "pä55 wörd"
    assert lookup({**ATTRS, "username": "bob@127.0.0.1:995"}) is None
    assert lookup({**ATTRS, "service": "other"}) is None


def _fake_service(answer: Callable[[object, object], object | None]) -> Callable[[], None]:
    """Own org.freedesktop.secrets on the bus; ``answer(conn, msg)`` replies
    (or not). Returns a function that stops it."""
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(bus="SESSION")
    conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.secrets"), timeout=5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                msg = conn.receive(timeout=0.2)
            except TimeoutError:
                continue
            except Exception:
                return
            reply = answer(conn, msg)
            if reply is not None:
                conn.send_message(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(5)
        conn.close()

    return close


def _kwallet_like(conn: object, msg: object) -> object | None:
    """Answers like a service offering only the DH transfer."""
    from jeepney import new_error, new_method_return

    member = msg.header.fields.get(3)  # type: ignore[attr-defined]  (HeaderFields.member)
    if member == "ReadAlias":
        return new_method_return(msg, "o", ("/org/freedesktop/secrets/collection/login",))
    if member == "SearchItems":
        return new_method_return(msg, "aoao", (["/org/freedesktop/secrets/collection/login/1"],
                                               []))
    if member == "OpenSession":
        return new_error(msg, "org.freedesktop.DBus.Error.NotSupported", "s",
                         ("Algorithm plain is not supported",))
    return new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod")


def test_a_service_without_the_plain_transfer_leaves_it_to_keyring(session_bus: object) -> None:
    from traymail.passwords import _MISS, _secret_service_get
    from traymail.secret_service import lookup

    close = _fake_service(_kwallet_like)
    try:
        assert lookup(ATTRS) is None
        # -> KeyringStore.get goes keyring's way (secretstorage, encrypted session)
        assert _secret_service_get("traymail", ATTRS["username"]) is _MISS
    finally:
        close()


def test_a_service_that_never_answers_is_given_up_on_time(session_bus: object) -> None:
    from traymail.secret_service import lookup

    close = _fake_service(lambda conn, msg: None)
    try:
        t0 = time.monotonic()
        assert lookup(ATTRS, timeout=0.5) is None
        assert time.monotonic() - t0 < 3
    finally:
        close()


def test_no_session_bus_is_a_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    from traymail.secret_service import lookup

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/traymail-bus")
    assert lookup(ATTRS) is None
