from __future__ import annotations

import gc
import os
import shutil
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from traymail.devserver import DevServer, Faults, MemoryMailbox
from traymail.samples import sample_messages

from .realservers import (
    DOVECOT_ON_WINDOWS,
    Certificate,
    Dovecot,
    DovecotAccount,
    make_certificate,
    start_dovecot,
)

if TYPE_CHECKING:
    import tkinter

# the tests read English (the msgids): whatever the machine's locale, every
# language chosen "auto" -- here and in the subprocesses -- is English unless a
# test asks for another (LANGUAGE wins on Linux and on Windows, traymail.i18n)
os.environ["LANGUAGE"] = "en"

# the Linux-side checks of the Windows lane drive Windows Python under Wine:
# collected only when scripts/test-windows has set the lane up (never a skip)
collect_ignore = [] if os.environ.get("TRAYMAIL_WINE_LANE") else ["test_windows_lane.py",
                                                                 "test_windows_oauth.py"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On Windows: tests that need Dovecot or POSIX are skipped with their reason
    (counted in the summary, listed by -ra), never silently."""
    if sys.platform != "win32":
        return
    for item in items:
        if item.get_closest_marker("dovecot") is not None:
            item.add_marker(pytest.mark.skip(reason=DOVECOT_ON_WINDOWS))
        posix = item.get_closest_marker("posix_only")
        if posix is not None:
            why = posix.kwargs.get("reason") or (posix.args[0] if posix.args else "POSIX only")
            item.add_marker(pytest.mark.skip(reason=f"POSIX only: {why}"))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def dovecot_account(dovecot: Dovecot) -> DovecotAccount:
    return dovecot.new_account()


@pytest.fixture
def mailbox() -> MemoryMailbox:
    return MemoryMailbox(sample_messages(5))


@pytest.fixture
def devserver(mailbox: MemoryMailbox) -> Iterator[DevServer]:
    with DevServer(mailbox, {"user": "pass"}) as srv:
        yield srv


@pytest.fixture
def make_devserver() -> Iterator[object]:
    """Factory: make_devserver(mailbox=None, faults=None, **kw) -> running DevServer."""
    servers: list[DevServer] = []

    def make(mailbox: MemoryMailbox | None = None, faults: Faults | None = None,
             **kw: object) -> DevServer:
        srv = DevServer(mailbox or MemoryMailbox(sample_messages(5)),
                        {"user": "pass"}, faults=faults, **kw)  # type: ignore[arg-type]
        servers.append(srv.start())
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture(scope="session")
def secret_service() -> Iterator[dict[str, str]]:
    """A real Secret Service (gnome-keyring) on a private D-Bus; yields its env."""
    from .desktop import Desktop

    desktop = Desktop()
    try:
        desktop.start_secret_service()
        yield desktop.env
    finally:
        desktop.stop()


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """ONE Xvfb for the whole run (Tk keeps its X connection until exit).
    On Windows Tk draws through the system (under Wine: on the lane's $DISPLAY)."""
    if sys.platform == "win32":
        yield os.environ.get("DISPLAY", "")
        return
    from .desktop import start_xvfb

    proc, display = start_xvfb()
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        proc.stop()
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


# kept alive to the end: a Tk root freed by the collector in some worker thread
# breaks Tk (the "root" fixture of the UI tests)
_ROOTS: list[object] = []


@pytest.fixture
def root(x_display: str) -> Iterator[tkinter.Tk]:
    """A hidden Tk root on the run's display, destroyed after the test."""
    from traymail.ui.root import create_root

    r = create_root(hidden=True)
    _ROOTS.append(r)
    yield r
    r.destroy()
    gc.collect()


@pytest.fixture(scope="session")
def oauth_bed() -> Iterator[object]:
    """The OAuth2 test bed (tests/oauthbed.py): oidc-provider + a Dovecot with
    an oauth2 passdb that introspects its tokens."""
    from .oauthbed import start_oauth_bed

    bed = start_oauth_bed()
    try:
        yield bed
    finally:
        bed.oidc.stop()
        bed.dovecot.stop()
        shutil.rmtree(bed.dovecot.root, ignore_errors=True)
