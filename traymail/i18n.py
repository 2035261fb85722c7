"""Languages: gettext catalogs, the language choice, sizes and dates.

The text domain is ``traymail``; catalogs are
``traymail/locale/<lang>/LC_MESSAGES/traymail.mo``, compiled from the ``.po``
next to them by ``scripts/i18n`` (both are committed; a test fails when a
``.mo`` is stale or a message of the current code is untranslated). The
msgids are the English texts, so English works even without a catalog.

The language: the ``"language"`` setting (``auto``, ``en``, ``ru``...); for
``auto``, the OS -- the first set of ``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES``, ``LANG`` on Linux (as GNU gettext reads them; ``C`` and
``POSIX`` mean English), on Windows ``LANGUAGE`` when set, else the user's
UI language (``GetUserDefaultUILanguage``); English when nothing matches a
catalog. Nothing is decided at import: the first translation asks the OS
(lazy), and :func:`set_language` switches at any time (the app after
loading the settings, the Settings dialog, tests).

Conventions for wrapping a module (a mechanical job):

1. ``from .i18n import N_, _, ngettext, pgettext`` (only what is used).
2. Every text a user reads -- window, menu, toast, tooltip, CLI message and
   ``--help`` -- goes through ``_()``; the msgid is the English text exactly
   as it was, so English output does not change.
3. Never an f-string or ``%`` inside ``_()``: xgettext cannot see it and no
   catalog has it. Use named placeholders and ``str.format`` after the
   lookup: ``_("login to {host} failed").format(host=host)``. Translators
   may move placeholders; ``msgfmt --check`` verifies each one is kept.
4. A counted noun is always ``ngettext(singular, plural, n)``, even where the
   English forms look alike: Russian has three forms (1 письмо, 2 письма,
   5 писем). Pass ``n`` to ``format`` as well:
   ``ngettext("{n} new message", "{n} new messages", n).format(n=n)``.
5. Never call ``_()`` at import time (module constants, class attributes,
   default arguments, argparse parsers built at import): the language is not
   known yet and a later switch would be ignored. Mark such texts with
   ``N_("...")`` (extracted, not translated) and call ``_(CONSTANT)`` where
   the text is shown.
6. A short text that could mean two things gets a context:
   ``pgettext("menu", "Open")``. A hint for translators goes in a comment
   starting ``# TRANSLATORS:`` on the line(s) before the call.
7. Not translated: log records (bug reports stay readable), protocol text,
   anything a server or a mail sent, settings keys, JSON output, command and
   option names. :mod:`traymail.pop3` never imports this module.
8. Sizes and dates through :func:`format_size`, :func:`format_date`,
   :func:`format_time` (drop-in for :func:`traymail.decode.format_size` and
   the ``strftime`` calls), never ``f"{x:.1f} KB"``.
9. Then run ``scripts/i18n``, translate the new entries of every
   ``traymail/locale/*/LC_MESSAGES/traymail.po`` (``en`` is filled in by the
   script), run ``scripts/i18n`` again and commit the ``.po`` and ``.mo``.
"""

from __future__ import annotations

import gettext
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

__all__ = ["DOMAIN", "LOCALE_DIR", "AUTO", "DEFAULT", "N_", "_", "ngettext", "pgettext",
           "npgettext", "set_language", "current_language", "available_languages",
           "choose_language", "language_from_env", "language_from_langid",
           "apply_settings_language",
           "format_number", "format_size", "format_time", "format_date", "format_day"]

DOMAIN = "traymail"
LOCALE_DIR = Path(__file__).with_name("locale")
#: the "language" setting's value that means "as the OS says"
AUTO = "auto"
#: the language of the msgids, and the fallback
DEFAULT = "en"
#: the environment variables GNU gettext reads, in its order
ENV_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

#: Windows primary language ids (LANGID & 0x3FF, [MS-LCID]) of languages with a
#: catalog or likely to get one; the sublanguage (country) does not matter
_PRIMARY_LANGIDS = {
    0x07: "de", 0x09: "en", 0x0A: "es", 0x0C: "fr", 0x10: "it", 0x13: "nl", 0x15: "pl",
    0x16: "pt", 0x19: "ru", 0x1F: "tr", 0x22: "uk", 0x23: "be", 0x3F: "kk",
}

_lock = threading.Lock()
_translations: gettext.NullTranslations | None = None
_language = DEFAULT


def N_(message: str) -> str:
    """Mark a text for extraction without translating it (see convention 5)."""
    return message


def _catalog() -> gettext.NullTranslations:
    t = _translations
    if t is None:  # lazy: the first text shown asks the OS
        set_language(AUTO)
        t = _translations
        assert t is not None
    return t


def _(message: str) -> str:
    """The current language's text for ``message`` (an English msgid)."""
    return _catalog().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted text for ``n`` by the language's plural rule."""
    return _catalog().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in ``context`` (for short texts with more than one meaning)."""
    return _catalog().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return _catalog().npgettext(context, singular, plural, n)


# -- which language -----------------------------------------------------------------

def available_languages() -> tuple[str, ...]:
    """The languages traymail can speak: English and each compiled catalog."""
    found = {DEFAULT}
    try:
        for d in LOCALE_DIR.iterdir():
            if (d / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
                found.add(d.name)
    except OSError:
        pass
    return tuple(sorted(found))


def _candidates(tag: str) -> list[str]:
    """``ru_RU.UTF-8@euro`` -> ``["ru_RU", "ru"]``; ``ru-RU`` the same; ``C`` -> ``["en"]``."""
    tag = tag.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if not tag:
        return []
    if tag in ("C", "POSIX"):
        return [DEFAULT]
    lang, _sep, country = tag.partition("_")
    lang = lang.lower()
    return [f"{lang}_{country.upper()}", lang] if country else [lang]


def language_from_env(env: Mapping[str, str], available: tuple[str, ...],
                      variables: tuple[str, ...] = ENV_VARIABLES) -> str | None:
    """The language the locale variables ask for, or None when none is set.

    The first variable that is set decides (GNU gettext's order);
    ``LANGUAGE`` may list several (``uk:ru``): the first with a catalog wins.
    A variable naming only languages without a catalog means English."""
    for var in variables:
        value = env.get(var, "")
        if not value:
            continue
        for item in value.split(":"):
            for candidate in _candidates(item):
                if candidate in available:
                    return candidate
        return DEFAULT
    return None


def language_from_langid(langid: int) -> str | None:
    """A Windows LANGID (``GetUserDefaultUILanguage``) as a language code:
    0x0419 -> ``ru``, 0x0409 and 0x0809 -> ``en``; None when unknown."""
    return _PRIMARY_LANGIDS.get(langid & 0x3FF)


def _windows_ui_langid() -> int | None:
    if sys.platform == "win32":
        from .platform_support import windows_ui_language

        return windows_ui_language()
    return None


def choose_language(setting: str = AUTO, *, env: Mapping[str, str] | None = None,
                    platform: str = sys.platform,
                    ui_langid: Callable[[], int | None] = _windows_ui_langid,
                    available: tuple[str, ...] | None = None) -> str:
    """The language to speak: the setting when it names one with a catalog,
    else the OS's (see the module text), else English."""
    have = available if available is not None else available_languages()
    if setting != AUTO:
        for candidate in _candidates(setting):
            if candidate in have:
                return candidate
        return DEFAULT
    env = os.environ if env is None else env
    if platform == "win32":
        chosen = language_from_env(env, have, ("LANGUAGE",))
        if chosen is None:
            langid = ui_langid()
            code = language_from_langid(langid) if langid is not None else None
            chosen = code if code in have else None
    else:
        chosen = language_from_env(env, have)
    return chosen or DEFAULT


def set_language(setting: str = AUTO) -> str:
    """Speak ``setting`` (``auto`` or a language code) from now on; returns
    the language chosen. Texts already shown keep their language."""
    global _translations, _language
    lang = choose_language(setting)
    t = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    with _lock:
        _translations, _language = t, lang
    return lang


def apply_settings_language(settings: object) -> str:
    """Speak what a :class:`traymail.settings.Settings` asks for (its
    ``language``: ``auto`` follows the OS); the app calls it at start and the
    Settings dialog after a save. Returns the language chosen."""
    return set_language(str(getattr(settings, "language", AUTO) or AUTO))


def current_language() -> str:
    """The language texts are translated into now (decides it when not yet)."""
    _catalog()
    return _language


# -- numbers, sizes, dates ----------------------------------------------------------------

def format_number(value: float, decimals: int = 1) -> str:
    """``1.4`` -> ``"1.4"`` in English, ``"1,4"`` in Russian."""
    # TRANSLATORS: the decimal separator of your language ("," in Russian)
    return f"{value:.{decimals}f}".replace(".", pgettext("decimal separator", "."))


_SIZE_UNITS = (N_("{value} KB"), N_("{value} MB"), N_("{value} GB"))


def format_size(octets: int) -> str:
    """1234 -> ``"1.2 KB"`` / ``"1,2 КБ"``: decimal units, as mail clients show
    them; a drop-in for :func:`traymail.decode.format_size`."""
    size = float(octets)
    if size < 1000:
        n = int(size)
        return ngettext("{n} byte", "{n} bytes", n).format(n=n)
    for unit in _SIZE_UNITS:
        size /= 1000
        if size < 1000 or unit == _SIZE_UNITS[-1]:
            return _(unit).format(value=format_number(size))
    raise AssertionError("unreachable")  # pragma: no cover


def format_time(timestamp: float) -> str:
    """The local time of day: ``09:00``."""
    # TRANSLATORS: a time of day for time.strftime (%H hours 00-23, %I 01-12, %M minutes,
    # %p AM/PM); use numbers only
    fmt = pgettext("strftime format", "%H:%M")
    return time.strftime(fmt, time.localtime(timestamp))


def format_date(timestamp: float, *, now: float | None = None, relative: bool = True) -> str:
    """A local date and time: ``Today 09:00``, ``Yesterday 18:30``, else
    ``2026-11-30 09:00`` (Russian: ``Сегодня 09:00``, ``30.11.2026 09:00``)."""
    when = datetime.fromtimestamp(timestamp)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    if relative:
        clock = format_time(timestamp)
        if when.date() == today:
            return _("Today {time}").format(time=clock)
        if when.date() == today - timedelta(days=1):
            return _("Yesterday {time}").format(time=clock)
    # TRANSLATORS: a date and time for time.strftime (%Y year, %m month, %d day, %H:%M
    # time); use numbers only
    return when.strftime(pgettext("strftime format", "%Y-%m-%d %H:%M"))


def format_day(day: date) -> str:
    """A date without the time: ``2026-11-30`` / ``30.11.2026``."""
    # TRANSLATORS: a date for time.strftime (%Y year, %m month, %d day); numbers only
    return day.strftime(pgettext("strftime format", "%Y-%m-%d"))
