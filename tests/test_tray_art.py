"""The tray's picture from shipped layers (traymail.icons.tray_icon, issue 15:
an idle app without ImageDraw and FreeType) is the drawn icon: every state,
every count, both badge colours, within antialiasing of draw_icon."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

from traymail import icons
from traymail.icons import TRAY_SIZE, IconState, draw_icon, tray_icon

ROOT = Path(__file__).resolve().parent.parent


def _cases() -> list[tuple[IconState, int, bool]]:
    out = [(state, 0, False) for state in IconState]
    out += [(IconState.NEW, n, important) for n in [*range(1, 101), 999]
            for important in (False, True)]
    return out


def test_every_tray_picture_matches_the_drawn_icon() -> None:
    for state, count, important in _cases():
        shipped = tray_icon(state, count, important)
        drawn = draw_icon(TRAY_SIZE, state, count, important)
        assert shipped.mode == "RGBA" and shipped.size == (TRAY_SIZE, TRAY_SIZE)
        diffs = [abs(a - b) for a, b in zip(shipped.tobytes(), drawn.tobytes(), strict=True)]
        # the number's glyphs are scaled down alone: edges differ by antialiasing only
        assert max(diffs) <= 48, (state, count, important, max(diffs))
        assert sum(diffs) / len(diffs) < 0.5, (state, count, important)


def test_the_pictures_are_distinct_where_they_should_be() -> None:
    pictures = {n: tray_icon(IconState.NEW, n).tobytes() for n in range(1, 100)}
    assert len(set(pictures.values())) == 99  # every number reads differently
    assert tray_icon(IconState.NEW, 100).tobytes() == tray_icon(IconState.NEW, 5000).tobytes()
    assert tray_icon(IconState.NEW, 7, True).tobytes() != pictures[7]  # the rule's colour
    assert tray_icon(IconState.NEW, 0).tobytes() == tray_icon(IconState.IDLE).tobytes()
    # a returned picture is the caller's: changing it changes no later one
    first = tray_icon(IconState.IDLE)
    before = first.tobytes()
    first.paste((0, 0, 0, 0), (0, 0, TRAY_SIZE, TRAY_SIZE))
    assert tray_icon(IconState.IDLE).tobytes() == before


def test_without_the_layers_the_icon_is_drawn(monkeypatch: object) -> None:
    import traymail.tray_art as art

    mp = monkeypatch
    mp.setattr(icons, "_layers", None)  # type: ignore[attr-defined]
    mp.setattr(art, "DATA", "not base85 ~~~")  # type: ignore[attr-defined]
    assert tray_icon(IconState.NEW, 42).tobytes() == draw_icon(TRAY_SIZE, IconState.NEW,
                                                               42).tobytes()


def test_composing_loads_neither_imagedraw_nor_freetype() -> None:
    code = ("import sys; from traymail.icons import IconState, tray_icon; "
            "[tray_icon(s, n) for s in IconState for n in (0, 7, 42, 120)]; "
            "print(sorted(m for m in ('PIL.ImageDraw', 'PIL.ImageFont', 'PIL._imagingft') "
            "if m in sys.modules))")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": path})
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def test_shipped_layers_are_what_the_generator_writes(tmp_path: Path) -> None:
    """traymail/tray_art.py is current: regenerated, its index is the same
    and its pictures match within a Pillow version's rounding."""
    import traymail.tray_art as art

    target = tmp_path / "tray_art.py"
    icons.write_tray_art(target)
    fresh = runpy.run_path(str(target))
    assert {k: v[1:] for k, v in fresh["INDEX"].items()} == \
        {k: v[1:] for k, v in art.INDEX.items()}
