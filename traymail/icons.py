"""The traymail icon, drawn with Pillow at any size: an envelope, with a
badge for the count of new mail (a dot when the number does not fit), or a
mark for checking / error / paused.

``python -m traymail.icons DIR`` writes the PNG and .ico files kept in icons/;
``python -m traymail.icons --tray-art`` the tray's shipped pictures
(traymail/tray_art.py, see :func:`tray_icon`).
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageFont import FreeTypeFont as ImageFont

__all__ = ["IconState", "draw_icon", "tray_icon", "png_bytes", "ICO_SIZES", "TRAY_SIZE"]

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)
#: the tray's picture (pystray scales it to the tray)
TRAY_SIZE = 64


class IconState(enum.Enum):
    IDLE = "idle"
    NEW = "new"
    CHECKING = "checking"
    ERROR = "error"
    PAUSED = "paused"


_BODY = (48, 98, 171)
_FLAP = (230, 238, 250)
_BADGE = (214, 40, 40)
#: the badge when an "important" rule matched new mail (traymail.rules)
_IMPORTANT = (245, 166, 35)


def draw_icon(size: int = 64, state: IconState = IconState.IDLE, count: int = 0,
              important: bool = False, *, digits: bool = True) -> Image:
    """The tray icon at ``size`` pixels (RGBA), drawn (ImageDraw, FreeType).
    ``digits=False``: the badge without its number (:func:`tray_art_layers`)."""
    from PIL import Image, ImageDraw

    scale = 4  # draw large, then downsample: smooth edges at 16 px too
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    pad = s // 10
    top, bottom = s * 22 // 100, s * 82 // 100
    body = _BODY if state is not IconState.PAUSED else (120, 120, 120)
    d.rounded_rectangle((pad, top, s - pad, bottom), radius=s // 14, fill=body)
    d.line((pad + s // 40, top + s // 30, s // 2, (top + bottom) // 2, s - pad - s // 40,
            top + s // 30), fill=_FLAP, width=max(scale, s // 14), joint="curve")
    if state is IconState.NEW and count > 0 and size < 32:
        pass  # drawn after the downsampling, pixel-sharp: see _small_badge
    elif state is IconState.NEW and count > 0:
        r = s * 22 // 100
        cx, cy = s - r, r
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_IMPORTANT if important else _BADGE,
                  outline=(255, 255, 255), width=max(scale, s // 40))
        text = str(count) if count < 100 and size >= 24 else ""
        if text:
            if digits:
                d.text((cx, cy), text, fill="white", font=_badge_font(r, len(text)),
                       anchor="mm")
        elif size >= 24:  # does not fit: a white dot
            q = r // 3
            d.ellipse((cx - q, cy - q, cx + q, cy + q), fill="white")
    elif state is IconState.ERROR:
        r = s * 20 // 100
        cx, cy = s - r, r
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(230, 150, 0))
        w = max(scale, r // 4)
        d.rectangle((cx - w // 2, cy - r * 6 // 10, cx + w // 2, cy + r // 6), fill="white")
        d.ellipse((cx - w // 2, cy + r * 3 // 10, cx + w // 2, cy + r * 3 // 10 + w),
                  fill="white")
    elif state is IconState.CHECKING:
        r = s * 20 // 100
        cx, cy = s - r, r
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(40, 150, 80))
        for k in (-1, 0, 1):
            x = cx + k * r // 2
            d.ellipse((x - r // 7, cy - r // 7, x + r // 7, cy + r // 7), fill="white")
    elif state is IconState.PAUSED:
        r = s * 18 // 100
        cx, cy = s - r, r
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(90, 90, 90))
        w = r // 3
        d.rectangle((cx - w - w // 2, cy - r // 2, cx - w // 2, cy + r // 2), fill="white")
        d.rectangle((cx + w // 2, cy - r // 2, cx + w + w // 2, cy + r // 2), fill="white")
    out = img.resize((size, size), Image.Resampling.LANCZOS)
    if state is IconState.NEW and count > 0 and size < 32:
        _small_badge(out, count)
    return out


def _badge_font(r: int, length: int) -> ImageFont:
    """Pillow's own font for the big badge's number (radius ``r``, drawn 4x)."""
    from PIL import ImageFont

    size = int(r * (1.3 if length == 1 else 1.0))
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()  # type: ignore[return-value]


def _bold_font(px: int) -> ImageFont:
    """A bold sans at ``px`` pixels: DejaVu (Linux), Arial (Windows), else Pillow's own."""
    from PIL import ImageFont

    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                 "arialbd.ttf", "Arial Bold.ttf"):
        try:
            return ImageFont.truetype(name, px)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()  # type: ignore[return-value]


def _small_badge(img: Image, count: int) -> None:
    """At 16-31 px a scaled-down badge is a red smudge: draw it at the real
    size instead, a solid red pill with white digits hinted to the pixel
    ("9+" beyond 9 at 16 px, "99+" never: a dot)."""
    from PIL import ImageDraw

    size = img.size[0]
    h = max(9, size * 5 // 8)  # 16 -> 10 px, 24 -> 15 px
    if size < 20:
        text = str(count) if count < 10 else "9+"
    else:
        text = str(count) if count < 100 else ""
    px = h - 2 if len(text) <= 1 else h - 3
    font = _bold_font(px)
    d = ImageDraw.Draw(img)
    if size < 20:
        d.fontmode = "1"  # no grey fringe on 7-pixel digits
    tw = int(d.textlength(text, font=font)) if text else 0
    w = max(h, tw + 4)
    box = (size - w, 0, size - 1, h - 1)
    d.rounded_rectangle(box, radius=h // 2, fill=_BADGE + (255,),
                        outline=(255, 255, 255, 255) if size >= 20 else None)
    if text:
        d.text(((box[0] + box[2] + 1) / 2, (box[1] + box[3] + 1) / 2), text, fill="white",
               font=font, anchor="mm")
    else:
        c = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
        d.ellipse((c[0] - 2, c[1] - 2, c[0] + 2, c[1] + 2), fill="white")


# -- the tray's picture from shipped layers ---------------------------------------
#
# The tray redraws its picture at every count; drawing needs ImageDraw, which
# loads FreeType (Pillow's ImageFont), and the number a font face: 1.6 MiB an
# idle app would keep for it. So the pictures are drawn once, by
# ``python -m traymail.icons --tray-art`` (tray_art_layers, into
# traymail/tray_art.py), and tray_icon() only pastes: a state's picture, or
# the badge and the number's glyphs, white through their 64-px masks.

_Layers = dict[str, tuple["Image", tuple[int, int]]]
_layers: _Layers | None = None


def tray_icon(state: IconState = IconState.IDLE, count: int = 0,
              important: bool = False) -> Image:
    """``draw_icon(TRAY_SIZE, state, count, important)`` composed from the
    shipped layers (drawn when they are missing or damaged)."""
    layers = _tray_layers()
    if layers is None:
        return draw_icon(TRAY_SIZE, state, count, important)
    tag = "-important" if important else ""
    if state is IconState.NEW and count >= 100:
        return layers["dot" + tag][0].copy()
    if state is IconState.NEW and count > 0:
        image = layers["new" + tag][0].copy()
        text = str(count)
        for pos, digit in enumerate(text):
            mask, corner = layers[f"digit{len(text)}{pos}{digit}"]
            image.paste((255, 255, 255, 255), corner, mask)
        return image
    return layers[IconState.IDLE.value if state is IconState.NEW else state.value][0].copy()


def _tray_layers() -> _Layers | None:
    global _layers
    if _layers is None:
        try:
            import base64
            import zlib

            from PIL import Image

            from . import tray_art

            raw = zlib.decompress(base64.b85decode(tray_art.DATA))
            layers: _Layers = {}
            for name, (offset, mode, left, top, width, height) in tray_art.INDEX.items():
                size = width * height * (4 if mode == "RGBA" else 1)
                layers[name] = (Image.frombytes(mode, (width, height),
                                                raw[offset:offset + size]), (left, top))
            _layers = layers
        except Exception:  # never worth a crash: draw instead
            import logging

            logging.getLogger("traymail.icons").warning("tray art unusable; drawing",
                                                        exc_info=True)
            return None
    return _layers


def tray_art_layers() -> _Layers:
    """What :func:`tray_icon` pastes, drawn by :func:`draw_icon`: each
    state's picture, the NEW badge without its number (both colours; the dot
    beyond 99), and each digit at each place of a 1- or 2-digit number as a
    white mask, drawn 4x like the badge and scaled down the same way."""
    from PIL import Image, ImageDraw

    out: _Layers = {}
    for state in (IconState.IDLE, IconState.CHECKING, IconState.ERROR, IconState.PAUSED):
        out[state.value] = (draw_icon(TRAY_SIZE, state), (0, 0))
    for tag, important in (("", False), ("-important", True)):
        out["new" + tag] = (draw_icon(TRAY_SIZE, IconState.NEW, 1, important, digits=False),
                            (0, 0))
        out["dot" + tag] = (draw_icon(TRAY_SIZE, IconState.NEW, 100, important), (0, 0))
    s = TRAY_SIZE * 4
    r = s * 22 // 100  # as draw_icon's badge
    cx, cy = s - r, r
    for length in (1, 2):
        font = _badge_font(r, length)
        advances = {font.getlength(d) for d in "0123456789"}
        assert len(advances) == 1, "the badge font's digits are not all one width"
        advance = advances.pop()
        for pos in range(length):
            x = cx - advance * length / 2 + advance * pos
            for digit in "0123456789":
                big = Image.new("L", (s, s), 0)
                ImageDraw.Draw(big).text((x, cy), digit, fill=255, font=font, anchor="lm")
                mask = big.resize((TRAY_SIZE, TRAY_SIZE), Image.Resampling.LANCZOS)
                box = mask.getbbox()
                assert box is not None
                out[f"digit{length}{pos}{digit}"] = (mask.crop(box), (box[0], box[1]))
    return out


def write_tray_art(path: Path) -> None:
    """traymail/tray_art.py from :func:`tray_art_layers` (one zlib stream, base85)."""
    import base64
    import zlib

    index: dict[str, tuple[str, int, int, int, int, int]] = {}
    chunks: list[bytes] = []
    offset = 0
    for name, (image, (left, top)) in tray_art_layers().items():
        data = image.tobytes()
        index[name] = (image.mode, offset, left, top, image.width, image.height)
        chunks.append(data)
        offset += len(data)
    blob = base64.b85encode(zlib.compress(b"".join(chunks), 9)).decode("ascii")
    lines = [blob[i:i + 96] for i in range(0, len(blob), 96)]
    entries = "".join(f"    {name!r}: ({offset}, {mode!r}, {left}, {top}, {w}, {h}),\n"
                      for name, (mode, offset, left, top, w, h) in index.items())
    path.write_text(
        '"""The tray\'s pictures, drawn by traymail.icons.tray_art_layers (generated by\n'
        '``python -m traymail.icons --tray-art``; do not edit)."""\n\n'
        "#: name: (offset, mode, left, top, width, height) in the decompressed DATA\n"
        f"INDEX = {{\n{entries}}}\n\n"
        "DATA = (\n" + "".join(f'    "{line}"\n' for line in lines) + ")\n",
        encoding="utf-8")


def png_bytes(image: Image) -> bytes:
    """``image`` as a PNG file: 8-bit RGBA, one IDAT, no filtering (PNG
    specification, 3rd ed., §5.2 signature, §11.2 IHDR/IDAT/IEND). Pillow's
    own ``save`` loads its five preset codec plugins, 1 MiB more that an idle
    app would keep only to write its toast icon once."""
    import struct
    import zlib

    rgba = image.convert("RGBA")
    width, height = rgba.size
    raw = rgba.tobytes()
    stride = width * 4
    rows = b"".join(b"\0" + raw[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack("!I", len(data)) + kind + data
                + struct.pack("!I", zlib.crc32(kind + data)))

    header = struct.pack("!IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8 bits, RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def write_icon_files(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    big = draw_icon(256)
    ico = directory / "traymail.ico"
    big.save(ico, sizes=[(n, n) for n in ICO_SIZES])
    out.append(ico)
    for n in (16, 32, 48, 64, 128, 256):
        p = directory / f"traymail-{n}.png"
        draw_icon(n).save(p)
        out.append(p)
    p = directory / "traymail-new-64.png"
    draw_icon(64, IconState.NEW, 3).save(p)
    out.append(p)
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--tray-art"]:
        target = Path(__file__).with_name("tray_art.py")
        write_tray_art(target)
        print(target)
    else:
        for path in write_icon_files(Path(sys.argv[1] if len(sys.argv) > 1 else "icons")):
            print(path)
