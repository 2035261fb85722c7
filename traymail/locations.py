"""Where the settings file is, without loading the settings code: ``traymail
--help`` (its epilog) and the language of a run need only this path.
:func:`traymail.settings.resolve_paths` uses it too, so both always agree."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["APP_NAME", "settings_file"]

APP_NAME = "traymail"


def settings_file(home: str | os.PathLike[str] | None = None,
                  config: str | os.PathLike[str] | None = None) -> Path:
    """``--config`` (or $TRAYMAIL_CONFIG), else ``<home>/settings.json`` in
    portable mode (``--home`` or $TRAYMAIL_HOME), else the user config folder."""
    home = home or os.environ.get("TRAYMAIL_HOME") or None
    config = config or os.environ.get("TRAYMAIL_CONFIG") or None
    if config:
        return Path(config).expanduser()
    if home:
        return Path(home).expanduser().resolve() / "settings.json"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "settings.json"
