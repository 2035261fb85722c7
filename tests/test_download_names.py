"""Download names are cut by encoded length, not characters, and a message
that cannot be saved does not stop the rest of "Download all new": its temp
file is removed, the failure is reported at the end, it stays new."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from traymail.mailbox import MailboxError
from traymail.samples import sample_messages

from .engine import Engine
from .realservers import DovecotAccount
from .test_engine_dovecot import engine_for

CJK = "会议纪要关于明年预算" * 10  # 100 characters, 300 bytes in UTF-8


def cjk_message(subject: str = CJK) -> bytes:
    words = [subject[i:i + 10] for i in range(0, len(subject), 10)]
    encoded = "\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode()).decode()}?=" for w in words)
    return f"From: S <s@example.org>\nSubject: {encoded}\n\nbody\n".encode()


def batch_message(i: int) -> bytes:
    return f"From: S{i} <s{i}@example.org>\nSubject: batch {i}\n\nbody {i}\n".encode()


def final_name(uid: str, i: int) -> str:
    """The .eml name of batch_message(i) (no Date: "undated")."""
    return f"undated S{i} - batch {i} [{hashlib.sha256(uid.encode()).hexdigest()[:8]}].eml"


# -- the pure name fitting ---------------------------------------------------------------

def test_fit_name_posix_bytes() -> None:
    from traymail.files import NAME_BYTES, fit_name

    name = fit_name("2026-11-02 1000 S - " + CJK, " [0123abcd].eml", "/home/u/mail",
                    platform="linux", encoding="utf-8")
    raw = name.encode("utf-8")  # a whole number of characters: it decodes
    assert len(raw) <= NAME_BYTES and name.endswith(" [0123abcd].eml")
    assert name.startswith("2026-11-02 1000 S - 会议纪要") and len(raw) > NAME_BYTES - 3
    short = "2026-11-02 1000 Ann - Lunch on Friday"
    assert fit_name(short, ".eml", "/x", platform="linux") == short + ".eml"
    # astral characters (4 bytes) are never split
    emoji = fit_name("😀" * 80, ".eml", "/x", platform="linux", encoding="utf-8")
    assert emoji == "😀" * 49 + ".eml" and len(emoji.encode()) == 200
    # an 8-bit file system encoding counts one byte a character
    assert len(fit_name("é" * 300, ".eml", "/x", platform="linux", encoding="latin-1")) == 200


def test_fit_name_windows_units_and_max_path() -> None:
    from traymail.files import MAX_PATH, NAME_UNITS, fit_name

    def units(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    root = "C:\\"  # a name may use all 255 units here
    name = fit_name("😀" * 200, " [0123abcd].eml", root, platform="win32")
    assert NAME_UNITS - 1 <= units(name) <= NAME_UNITS
    assert name.count("😀") == (NAME_UNITS - units(" [0123abcd].eml")) // 2  # pairs kept whole
    assert units(fit_name(CJK * 3, ".eml", root, platform="win32")) == NAME_UNITS
    # below a folder, the whole path stays under MAX_PATH (with its NUL)
    short_dir = "C:\\Users\\ann\\Downloads\\traymail\\Home"
    name = fit_name(CJK * 3, ".eml", short_dir, platform="win32")
    assert units(short_dir) + 1 + units(name) == MAX_PATH - 1
    deep = "C:\\Users\\ann\\" + "\\".join(["a-rather-long-folder-name"] * 7)
    name = fit_name(CJK * 3, " [0123abcd].eml", deep, platform="win32")
    assert units(deep) + 1 + units(name) <= MAX_PATH - 1
    assert units(deep) + 1 + units(name) >= MAX_PATH - 2 and name.endswith(".eml")


# -- against Dovecot ---------------------------------------------------------------------

@pytest.mark.dovecot
def test_long_cjk_subject_downloads(dovecot_account: DovecotAccount, tmp_path: Path) -> None:
    dovecot_account.add(cjk_message())
    dovecot_account.add(batch_message(1))
    eng = engine_for(tmp_path, dovecot_account)
    mb = eng.mb  # type: ignore[attr-defined]
    assert [h.subject for h in mb.headers()][0] == CJK
    files = mb.download_new()
    assert len(files) == 2
    first = files[0]
    assert first.name.startswith("undated S - 会议纪要")
    assert len(first.name.encode()) <= 200
    assert first.read_bytes() == cjk_message().replace(b"\n", b"\r\n")
    assert not [p for p in first.parent.iterdir() if p.suffix != ".eml"]
    assert mb.check().new_count == 0


@pytest.mark.dovecot
def test_one_failing_message_does_not_stop_the_batch(dovecot_account: DovecotAccount,
                                                     tmp_path: Path) -> None:
    for i in range(3):
        dovecot_account.add(batch_message(i))
    eng = engine_for(tmp_path, dovecot_account)
    mb = eng.mb  # type: ignore[attr-defined]
    uids = [h.uid for h in mb.headers()]
    target = eng.paths.download_dir_for(mb.account)
    # the second message's name is taken by a folder (with a file in it)
    blocker = target / final_name(uids[1], 1)
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("not traymail's")
    with pytest.raises(MailboxError) as info:
        mb.download_new()
    failed = info.value
    assert type(failed).__name__ == "DownloadFailed"
    assert [f.name for f in failed.files] == [final_name(uids[0], 0),  # type: ignore[attr-defined]
                                              final_name(uids[2], 2)]
    assert [u for u, _ in failed.failed] == [uids[1]]  # type: ignore[attr-defined]
    assert "1 of 3 messages could not be saved and stay new" in str(failed)
    assert [p.read_bytes() for p in failed.files] == [  # type: ignore[attr-defined]
        batch_message(i).replace(b"\n", b"\r\n") for i in (0, 2)]
    leftovers = sorted(p.name for p in target.iterdir())
    assert leftovers == sorted([final_name(uids[0], 0), final_name(uids[2], 2), blocker.name])
    assert (blocker / "keep").read_text() == "not traymail's"
    assert mb.status.state.value == "ok"  # the account is fine
    assert mb.check().new_count == 1
    assert [h.uid for h in mb.headers(new_only=True)] == [uids[1]]
    assert len(dovecot_account.files()) == 3  # nothing lost on the server
    (blocker / "keep").unlink()
    blocker.rmdir()
    assert [p.name for p in mb.download_new()] == [final_name(uids[1], 1)]
    assert mb.check().new_count == 0


@pytest.mark.dovecot
def test_cli_reports_the_failed_message(dovecot_account: DovecotAccount,
                                        secret_service: dict[str, str],
                                        tmp_path: Path) -> None:
    from .test_cli import traymail, write_settings

    home = tmp_path / "home"
    write_settings(home, dovecot_account)
    for i in range(3):
        dovecot_account.add(batch_message(i))
    traymail(secret_service, home, "set-password", stdin=dovecot_account.password + "\n")
    uids = [h["uid"] for h in json.loads(traymail(secret_service, home, "headers",
                                                  "--json").stdout)]
    blocker = home / "downloads" / "dove" / final_name(uids[2], 2)
    blocker.mkdir(parents=True)
    out = traymail(secret_service, home, "fetch", "--new", check=False)
    assert out.returncode == 1
    assert [Path(p).name for p in out.stdout.split("\n") if p] == [final_name(uids[0], 0),
                                                                  final_name(uids[1], 1)]
    assert "traymail: error: 1 of 3 messages could not be saved and stay new" in out.stderr
    assert uids[2] in out.stderr and "Traceback" not in out.stderr
    new = json.loads(traymail(secret_service, home, "headers", "--new", "--json").stdout)
    assert [h["uid"] for h in new] == [uids[2]]


# -- a temp file that cannot even be made ------------------------------------------------

def test_unwritable_temp_file_drains_and_goes_on(tmp_path: Path, make_devserver) -> None:  # type: ignore[no-untyped-def]
    from traymail.devserver import MemoryMailbox

    box = MemoryMailbox(sample_messages(3))
    srv = make_devserver(box)
    eng = Engine(tmp_path / "home")
    mb = eng.mailbox(srv.port)
    uids = [h.uid for h in mb.headers()]
    target = eng.paths.download_dir_for(mb.account)
    tag = hashlib.sha256(f"{mb.name}\0{uids[0]}".encode()).hexdigest()[:16]
    (target / f".traymail-{tag}.part" / "x").mkdir(parents=True)  # cannot be replaced
    with pytest.raises(MailboxError) as info:
        mb.download_new()
    assert [u for u, _ in info.value.failed] == [uids[0]]  # type: ignore[attr-defined]
    assert len(info.value.files) == 2  # type: ignore[attr-defined]
    assert [f.read_bytes() for f in info.value.files] == [  # type: ignore[attr-defined]
        m.data for m in box.snapshot()[1:]]
    assert mb.status.state.value == "ok"  # the session went on, ended with QUIT
    assert mb.check().new_count == 1
