"""Where the settings file is, without loading the settings code: ``traymail
--help`` (its epilog) and the language of a run need only this path.
:func:`traymail.settings.resolve_paths` uses it too, so both always agree."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_NAME", "portable_home", "settings_file"]

APP_NAME = "traymail"


def portable_home(home: str | os.PathLike[str] | None = None) -> Path | None:
    """The portable-mode folder (``--home`` or $TRAYMAIL_HOME), or None."""
    home = home or os.environ.get("TRAYMAIL_HOME") or None
    return Path(home).expanduser().resolve() if home else None


def settings_file(home: str | os.PathLike[str] | None = None,
                  config: str | os.PathLike[str] | None = None) -> Path:
    """``--config`` (or $TRAYMAIL_CONFIG), else ``<home>/settings.json`` in
    portable mode, else the user config folder."""
    config = config or os.environ.get("TRAYMAIL_CONFIG") or None
    if config:
        return Path(config).expanduser()
    root = portable_home(home)
    if root is not None:
        return root / "settings.json"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "settings.json"
