"""The traymail icon, drawn with Pillow at any size: an envelope, with a
badge for the count of new mail (a dot when the number does not fit), or a
mark for checking / error / paused.

``python -m traymail.icons DIR`` writes the PNG and .ico files kept in icons/.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageFont import FreeTypeFont as ImageFont

__all__ = ["IconState", "draw_icon", "png_bytes", "ICO_SIZES"]

ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)


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
              important: bool = False) -> Image:
    """The tray icon at ``size`` pixels (RGBA)."""
    from PIL import Image, ImageDraw, ImageFont

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
            font_size = int(r * (1.3 if len(text) == 1 else 1.0))
            try:
                font = ImageFont.load_default(size=font_size)
            except TypeError:  # Pillow < 10.1
                font = ImageFont.load_default()
            d.text((cx, cy), text, fill="white", font=font, anchor="mm")
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
    for path in write_icon_files(Path(sys.argv[1] if len(sys.argv) > 1 else "icons")):
        print(path)
