"""scripts/windows/shortcut_aumid.py: the installer's AUMID writer for .lnk files.

The installer runs it under Windows Python; scripts/check-windows-installer reads the
installed shortcut back with LnkParse3 under Wine. These tests pin the file format
([MS-SHLLINK] 2.5.7, [MS-PROPSTORE] 2.2) on synthetic links: other blocks and other
properties survive, a second write replaces instead of adding, damage is refused.
"""

from __future__ import annotations

import importlib.util
import struct
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "windows" / "shortcut_aumid.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shortcut_aumid", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sa = _load()
CLSID_SHELL_LINK = uuid.UUID("00021401-0000-0000-C000-000000000046")
# a KnownFolderDataBlock ([MS-SHLLINK] 2.5.6): must be kept byte for byte
KNOWN_FOLDER = struct.pack("<II", 0x1C, 0xA000000B) + uuid.uuid4().bytes_le + struct.pack("<I", 7)


def make_link(arguments: str = "-m traymail", extra: bytes = b"") -> bytes:
    """HasLinkInfo + HasArguments + IsUnicode, a LocalBasePath, then ``extra`` blocks."""
    flags = sa.HAS_LINK_INFO | 0x20 | sa.IS_UNICODE
    header = struct.pack("<I", 0x4C) + CLSID_SHELL_LINK.bytes_le + struct.pack("<I", flags)
    header += b"\0" * (0x4C - len(header))
    path = b"C:\\Programs\\traymail\\python\\pythonw.exe\0"
    body_off = 0x1C
    link_info = struct.pack("<IIIIIII", body_off + len(path), 0x1C, 1, 0, body_off, 0,
                            body_off + len(path) - 1) + path
    args = struct.pack("<H", len(arguments)) + arguments.encode("utf-16-le")
    return header + link_info + args + extra + struct.pack("<I", 0)


def storage(fmtid: uuid.UUID, values: list[tuple[int, bytes]]) -> bytes:
    return sa._pack_storages([(fmtid, values)])


def test_sets_and_reads_back_keeping_other_blocks() -> None:
    data = make_link(extra=KNOWN_FOLDER)
    assert sa.read_aumid(data) is None
    new = sa.with_aumid(data, "traymail")
    assert sa.read_aumid(new) == "traymail"
    assert KNOWN_FOLDER in new
    start = sa._extra_data_offset(new)
    assert new[:start] == data[:start]  # header, LinkInfo and StringData untouched
    assert new.endswith(struct.pack("<I", 0))  # TerminalBlock


def test_second_write_replaces_and_keeps_other_properties() -> None:
    other_pid = sa._lpwstr("something else")
    foreign = uuid.UUID("B725F130-47EF-101A-A5F1-02608C9EEBAC")
    store = (sa._pack_storages([(foreign, [(10, other_pid)]),
                                (sa.FMTID_APP_USER_MODEL, [(2, sa._lpwstr("relaunch")),
                                                           (5, sa._lpwstr("old.id"))])]))
    block = struct.pack("<II", 8 + len(store), sa.PROPERTY_STORE_SIGNATURE) + store
    data = make_link(extra=block)
    assert sa.read_aumid(data) == "old.id"
    new = sa.with_aumid(sa.with_aumid(data, "traymail"), "traymail")
    assert sa.read_aumid(new) == "traymail"
    blocks = sa._blocks(new, sa._extra_data_offset(new))
    stores = [b for b in blocks if struct.unpack_from("<I", b, 4)[0] == sa.PROPERTY_STORE_SIGNATURE]
    assert len(stores) == 1
    parsed = dict(sa._storages(stores[0][8:]))
    assert parsed[foreign] == [(10, other_pid)]
    assert [pid for pid, _ in parsed[sa.FMTID_APP_USER_MODEL]] == [2, 5]


@pytest.mark.parametrize("aumid", ["traymail", "Company.Product.Sub.1", "x" * 128])
def test_unicode_string_is_padded_to_four_bytes(aumid: str) -> None:
    new = sa.with_aumid(make_link(), aumid)
    assert sa.read_aumid(new) == aumid
    (block,) = sa._blocks(new, sa._extra_data_offset(new))
    ((fmtid, [(pid, value)]),) = sa._storages(block[8:])
    assert (fmtid, pid) == (sa.FMTID_APP_USER_MODEL, 5)
    vt, _pad, count = struct.unpack_from("<HHI", value)
    assert (vt, count) == (0x1F, len(aumid) + 1)  # VT_LPWSTR, characters incl. NUL
    assert len(value) - 8 == 4 * ((2 * count + 3) // 4)  # UTF-16 padded to 4 bytes


@pytest.mark.parametrize("bad", [b"", b"MZ" + b"\0" * 100, make_link()[:0x50]])
def test_refuses_what_is_not_a_shell_link(bad: bytes) -> None:
    with pytest.raises(sa.LinkFormatError):
        sa.with_aumid(bad, "traymail")


def test_refuses_a_damaged_extra_block() -> None:
    data = make_link(extra=struct.pack("<II", 0x400, 0xA0000009) + b"\0" * 8)
    with pytest.raises(sa.LinkFormatError):
        sa.read_aumid(data)


@pytest.mark.parametrize("aumid", ["", "has space", "x" * 129])
def test_refuses_an_invalid_aumid(aumid: str) -> None:
    with pytest.raises(ValueError):
        sa.with_aumid(make_link(), aumid)


def test_command_line_writes_atomically_and_checks(tmp_path: Path) -> None:
    lnk = tmp_path / "traymail.lnk"
    lnk.write_bytes(make_link(extra=KNOWN_FOLDER))
    run = [sys.executable, str(SCRIPT), str(lnk)]
    out = subprocess.run(run, capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout.strip() == ""  # no AUMID yet
    out = subprocess.run([*run, "traymail"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "traymail"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traymail.lnk"]  # no .tmp left
    assert subprocess.run(run, capture_output=True, text=True).stdout.strip() == "traymail"
    lnk.write_bytes(b"not a link")
    out = subprocess.run([*run, "traymail"], capture_output=True, text=True)
    assert out.returncode == 1 and "not a shell link" in out.stderr
    assert lnk.read_bytes() == b"not a link"  # nothing written on error
