"""Settings: ``settings.json`` with one or more accounts, validated and saved atomically.

Where things live (first match wins):

* ``--home DIR`` / ``TRAYMAIL_HOME=DIR`` -- portable mode: ``DIR/settings.json``,
  ``DIR/state/``, ``DIR/logs/``, ``DIR/downloads/``;
* otherwise the platform's user dirs (platformdirs), with the settings file
  overridable by ``--config PATH`` / ``TRAYMAIL_CONFIG``.

Passwords are never stored here (see :mod:`traymail.passwords`). A file that
does not parse or validate is never overwritten: loading raises
:class:`SettingsError` naming the field and the problem, and the file stays.
The accounts and options, and what a valid file holds: :mod:`.settings_schema`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .i18n import _
from .locations import APP_NAME, portable_home, settings_file
from .private import private_dir
from .settings_schema import (
    SCHEMA_VERSION,
    Account,
    AuthMethod,
    OAuth2Settings,
    Security,
    Settings,
    SettingsError,
    check_object,
    check_quiet_hours,
    parse_settings,
    settings_to_json,
)

__all__ = [
    "SCHEMA_VERSION",
    "Security",
    "AuthMethod",
    "OAuth2Settings",
    "Account",
    "Settings",
    "SettingsError",
    "Paths",
    "resolve_paths",
    "load_settings",
    "save_settings",
    "parse_settings",
    "settings_to_json",
    "check_object",
    "check_quiet_hours",
]



def load_settings(path: Path) -> Settings:
    """Read and validate; a missing file gives empty settings."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError("(file)", _("cannot be read: {error}").format(error=exc.strerror),
                            path) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError("(file)", _("is not valid JSON (line {line}, column {column}: "
                                        "{error}); it was left as it is").format(
                                            line=exc.lineno, column=exc.colno, error=exc.msg),
                            path) from None
    try:
        return parse_settings(data)
    except SettingsError as exc:
        raise SettingsError(exc.field, exc.problem, path) from None


def _keep_notes(new: dict[str, Any], old: object) -> dict[str, Any]:
    """``new`` with the ``_``-prefixed keys (the user's notes) of ``old`` kept,
    in the old file's key order (a hand-edited file stays recognisable)."""
    if not isinstance(old, Mapping):
        return new
    out: dict[str, Any] = {}
    for key in old:
        if str(key).startswith("_"):
            out[key] = old[key]
        elif key in new:
            out[key] = new[key]
    out.update({k: v for k, v in new.items() if k not in out})
    return out


def _with_notes(data: dict[str, Any], old: object) -> dict[str, Any]:
    """Keep the notes of the file being replaced: top level, and each account's
    (matched by name, else by host and user name) with its ``oauth2`` part."""
    if not isinstance(old, Mapping):
        return data
    olds = [a for a in old.get("accounts") or [] if isinstance(a, Mapping)]
    accounts = []
    for acc in data["accounts"]:
        match = next((o for o in olds if o.get("name") == acc["name"]), None) or next(
            (o for o in olds if (o.get("host"), o.get("username"))
             == (acc["host"], acc["username"])), None)
        if match is not None:
            acc = _keep_notes(acc, match)
            if isinstance(acc.get("oauth2"), dict):
                acc["oauth2"] = _keep_notes(acc["oauth2"], match.get("oauth2"))
            olds.remove(match)
        accounts.append(acc)
    return _keep_notes({**data, "accounts": accounts}, old)


def save_settings(settings: Settings, path: Path) -> None:
    """Write atomically (temp file, fsync, rename): a crash leaves old or new, never half.
    The file is 0600 (mkstemp's mode); a folder made for it is 0700. Keys
    starting with ``_`` in the file (``"_comment"``: the user's notes) are kept."""
    private_dir(path.parent, own=False)
    data = settings_to_json(settings)
    try:
        data = _with_notes(data, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass  # no file yet (or not JSON: it was moved aside before this save)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import tempfile  # with shutil, random, bz2, lzma: only when settings are saved

    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- paths -------------------------------------------------------------------------

@dataclass(frozen=True)
class Paths:
    settings_file: Path
    state_dir: Path
    log_dir: Path
    download_dir: Path
    portable: bool = False

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.sqlite3"

    def download_dir_for(self, account: Account) -> Path:
        if account.download_dir:
            return Path(account.download_dir).expanduser()
        return self.download_dir / _safe_name(account.name)


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_. " else "_" for c in name).strip(" .")
    return keep or "account"


def resolve_paths(home: str | os.PathLike[str] | None = None,
                  config: str | os.PathLike[str] | None = None) -> Paths:
    """Where settings, state, logs and downloads live (see the module doc)."""
    file = settings_file(home, config)  # the one rule (traymail.locations)
    root = portable_home(home)
    if root is not None:
        return Paths(file, root / "state", root / "logs", root / "downloads", portable=True)
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    downloads = Path(platformdirs.user_downloads_dir()) / APP_NAME
    return Paths(file, Path(dirs.user_data_dir), Path(dirs.user_log_dir), downloads)
