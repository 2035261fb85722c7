"""Write or read the AppUserModelID (System.AppUserModel.ID) of a Windows shortcut.

    python shortcut_aumid.py LNK AUMID    # write it, then read it back (exit 1 on mismatch)
    python shortcut_aumid.py LNK          # print the AUMID the shortcut carries

Windows matches a toast's sender to the Start-menu shortcut carrying the same AUMID,
so the installer's shortcut must carry the id the app sets for itself
(traymail.platform_support.APP_ID). NSIS cannot set it (the WinShell plug-in is not
in Debian's nsis), and Wine's IPropertyStore on shell links is a stub (E_NOTIMPL),
so this edits the file format itself, stdlib only, the same on Windows and Linux:
[MS-SHLLINK] 2.5.7 PropertyStoreDataBlock holding [MS-PROPSTORE] 2.2 serialized
property storages. Other extra-data blocks and properties are kept as they are.
"""

from __future__ import annotations

import os
import struct
import sys
import uuid

# PKEY_AppUserModel_ID (propkey.h): {9F4C2855-9F79-4B39-A8D0-E1D42DE1D5F3}, 5
FMTID_APP_USER_MODEL = uuid.UUID("9F4C2855-9F79-4B39-A8D0-E1D42DE1D5F3")
PID_APP_USER_MODEL_ID = 5
PROPERTY_STORE_SIGNATURE = 0xA0000009  # [MS-SHLLINK] 2.5.7
STORAGE_VERSION = 0x53505331           # "1SPS", [MS-PROPSTORE] 2.2
STRING_NAME_FMTID = uuid.UUID("D5CDD505-2E9C-101B-9397-08002B2CF9AE")  # names, not ids
VT_LPWSTR = 0x001F
HEADER_SIZE = 0x4C
# LinkFlags, [MS-SHLLINK] 2.1.1
HAS_ID_LIST, HAS_LINK_INFO, IS_UNICODE = 0x1, 0x2, 0x80
STRING_FLAGS = (0x4, 0x8, 0x10, 0x20, 0x40)  # name, relative path, work dir, arguments, icon


class LinkFormatError(ValueError):
    """The file is not a shell link this tool understands."""


def _extra_data_offset(data: bytes) -> int:
    """Where ExtraData starts: after the header, IDList, LinkInfo and StringData (2.1-2.4)."""
    if len(data) < HEADER_SIZE or struct.unpack_from("<I", data)[0] != HEADER_SIZE:
        raise LinkFormatError("not a shell link (bad header size)")
    flags = struct.unpack_from("<I", data, 0x14)[0]
    pos = HEADER_SIZE
    if flags & HAS_ID_LIST:
        pos += 2 + struct.unpack_from("<H", data, pos)[0]
    if flags & HAS_LINK_INFO:
        pos += struct.unpack_from("<I", data, pos)[0]
    for flag in STRING_FLAGS:
        if flags & flag:
            count = struct.unpack_from("<H", data, pos)[0]
            pos += 2 + count * (2 if flags & IS_UNICODE else 1)
    if pos > len(data):
        raise LinkFormatError("truncated shell link")
    return pos


def _blocks(data: bytes, pos: int) -> list[bytes]:
    """The ExtraData blocks (each with its size and signature), without the terminal block."""
    out = []
    while pos + 4 <= len(data):
        size = struct.unpack_from("<I", data, pos)[0]
        if size < 4:  # TerminalBlock
            break
        if size < 8 or pos + size > len(data):
            raise LinkFormatError("damaged extra-data block")
        out.append(data[pos:pos + size])
        pos += size
    return out


def _storages(store: bytes) -> list[tuple[uuid.UUID, list[tuple[int, bytes]]]]:
    """Serialized property storages -> [(format id, [(property id, typed value bytes)])]."""
    out = []
    pos = 0
    while pos + 4 <= len(store):
        size = struct.unpack_from("<I", store, pos)[0]
        if size == 0:
            break
        if size < 24 or pos + size > len(store):
            raise LinkFormatError("damaged property storage")
        version = struct.unpack_from("<I", store, pos + 4)[0]
        fmtid = uuid.UUID(bytes_le=store[pos + 8:pos + 24])
        if version != STORAGE_VERSION:
            raise LinkFormatError("unknown property storage version")
        values: list[tuple[int, bytes]] = []
        vpos, end = pos + 24, pos + size
        while vpos + 4 <= end:
            vsize = struct.unpack_from("<I", store, vpos)[0]
            if vsize == 0:
                break
            if vsize < 9 or vpos + vsize > end:
                raise LinkFormatError("damaged property value")
            if fmtid == STRING_NAME_FMTID:  # name-keyed: keep the raw record under id -1
                values.append((-1, store[vpos:vpos + vsize]))
            else:
                pid = struct.unpack_from("<I", store, vpos + 4)[0]
                values.append((pid, store[vpos + 9:vpos + vsize]))
            vpos += vsize
        out.append((fmtid, values))
        pos += size
    return out


def _pack_storages(storages: list[tuple[uuid.UUID, list[tuple[int, bytes]]]]) -> bytes:
    out = b""
    for fmtid, values in storages:
        body = b""
        for pid, value in values:
            if pid == -1:
                body += value
            else:
                body += struct.pack("<IIB", 9 + len(value), pid, 0) + value
        body += struct.pack("<I", 0)
        out += struct.pack("<II", 24 + len(body), STORAGE_VERSION) + fmtid.bytes_le + body
    return out + struct.pack("<I", 0)


def _lpwstr(text: str) -> bytes:
    """TypedPropertyValue VT_LPWSTR: type, padding, UnicodeString (count incl. NUL, 4-aligned)."""
    chars = (text + "\0").encode("utf-16-le")
    chars += b"\0" * (-len(chars) % 4)
    return struct.pack("<HHI", VT_LPWSTR, 0, len(text) + 1) + chars


def read_aumid(data: bytes) -> str | None:
    """The System.AppUserModel.ID a shortcut carries, or None."""
    try:
        return _read_aumid(data)
    except struct.error as exc:  # a length field pointing past the end
        raise LinkFormatError(f"truncated shell link ({exc})") from None


def with_aumid(data: bytes, aumid: str) -> bytes:
    """The shortcut ``data`` with its AppUserModel.ID set to ``aumid`` (all else kept)."""
    if not aumid or len(aumid) > 128 or any(c.isspace() for c in aumid):
        raise ValueError("an AUMID is 1-128 characters without spaces")
    try:
        return _with_aumid(data, aumid)
    except struct.error as exc:
        raise LinkFormatError(f"truncated shell link ({exc})") from None


def _read_aumid(data: bytes) -> str | None:
    for block in _blocks(data, _extra_data_offset(data)):
        if struct.unpack_from("<I", block, 4)[0] != PROPERTY_STORE_SIGNATURE:
            continue
        for fmtid, values in _storages(block[8:]):
            for pid, value in values:
                if fmtid == FMTID_APP_USER_MODEL and pid == PID_APP_USER_MODEL_ID:
                    vt, _pad, count = struct.unpack_from("<HHI", value)
                    if vt != VT_LPWSTR:
                        raise LinkFormatError(f"AppUserModel.ID has type {vt:#x}, not VT_LPWSTR")
                    return value[8:8 + 2 * count].decode("utf-16-le").rstrip("\0")
    return None


def _with_aumid(data: bytes, aumid: str) -> bytes:
    start = _extra_data_offset(data)
    blocks = _blocks(data, start)
    storages: list[tuple[uuid.UUID, list[tuple[int, bytes]]]] = []
    kept = []
    for block in blocks:
        if struct.unpack_from("<I", block, 4)[0] == PROPERTY_STORE_SIGNATURE:
            storages += _storages(block[8:])
        else:
            kept.append(block)
    for i, (fmtid, values) in enumerate(storages):
        if fmtid == FMTID_APP_USER_MODEL:
            others = [(p, v) for p, v in values if p != PID_APP_USER_MODEL_ID]
            storages[i] = (fmtid, [*others, (PID_APP_USER_MODEL_ID, _lpwstr(aumid))])
            break
    else:
        storages.append((FMTID_APP_USER_MODEL, [(PID_APP_USER_MODEL_ID, _lpwstr(aumid))]))
    store = _pack_storages(storages)
    kept.append(struct.pack("<II", 8 + len(store), PROPERTY_STORE_SIGNATURE) + store)
    return data[:start] + b"".join(kept) + struct.pack("<I", 0)


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: shortcut_aumid.py LNK [AUMID]", file=sys.stderr)
        return 2
    path = argv[0]
    try:
        with open(path, "rb") as f:
            data = f.read()
        if len(argv) == 2:
            new = with_aumid(data, argv[1])
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(new)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            with open(path, "rb") as f:
                data = f.read()
        got = read_aumid(data)
    except (OSError, ValueError) as exc:
        print(f"shortcut_aumid: {path}: {exc}", file=sys.stderr)
        return 1
    print(got or "")
    if len(argv) == 2 and got != argv[1]:
        print(f"shortcut_aumid: {path} reads back {got!r}, not {argv[1]!r}", file=sys.stderr)
        return 1
    return 0 if got else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
