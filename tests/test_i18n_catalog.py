"""The catalog check CI runs (issue 14, item 4): ``scripts/i18n check``
extracts the messages of the CURRENT code and requires every catalog to
translate all of them (msgfmt --statistics: 0 fuzzy, 0 untranslated), with
each committed .mo compiled from its .po. Shown to fail on a copy of the
tree with a new untranslated text, a fuzzy entry and a stale .mo."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .realservers import require_real

ROOT = Path(__file__).resolve().parent.parent
RU_PO = "traymail/locale/ru/LC_MESSAGES/traymail.po"


@pytest.fixture(autouse=True)
def gettext_tools() -> None:
    for tool in ("xgettext", "msgmerge", "msgfmt", "msgen", "msgattrib"):
        if shutil.which(tool) is None:
            require_real(f"GNU gettext ({tool})", "install the Debian package gettext")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(root / "scripts/i18n"), "check"], cwd=root,
                          capture_output=True, text=True, timeout=120)


def test_the_catalogs_are_complete_for_the_current_code() -> None:
    proc = check(ROOT)
    print(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"(\d+) messages in the current code", proc.stdout)
    assert found, proc.stdout
    total = int(found.group(1))
    assert total > 80
    for lang in ("en", "ru"):
        assert f"{lang}: {total} translated messages.\n" in proc.stdout


def copy_tree(tmp: Path) -> Path:
    root = tmp / "tree"
    shutil.copytree(ROOT / "traymail", root / "traymail",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/i18n", root / "scripts/i18n")
    return root


def test_the_check_fails_on_an_untranslated_text(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    (root / "traymail/zz_new.py").write_text(
        'from .i18n import _\n\nTEXT = _("A text nobody has translated yet")\n')
    proc = check(root)
    assert proc.returncode == 1
    assert "ru: " in proc.stdout and "1 untranslated message" in proc.stdout
    assert "incomplete for the current code" in proc.stderr


def test_the_check_fails_on_a_fuzzy_entry_and_a_stale_mo(tmp_path: Path) -> None:
    root = copy_tree(tmp_path)
    po = root / RU_PO
    text = po.read_text(encoding="utf-8")
    assert 'msgstr "(без темы)"' in text
    po.write_text(text.replace('msgstr "(без темы)"', 'msgstr "(тема не указана)"'),
                  encoding="utf-8")
    proc = check(root)
    assert proc.returncode == 1
    assert "traymail.mo is stale" in proc.stderr
    po.write_text(text.replace('msgid "(no subject)"', '#, fuzzy\nmsgid "(no subject)"'),
                  encoding="utf-8")
    proc = check(root)
    assert proc.returncode == 1
    assert "1 fuzzy translation" in proc.stdout


def test_the_update_reproduces_the_committed_catalogs(tmp_path: Path) -> None:
    """scripts/i18n run on the committed tree changes nothing: the .pot, the
    .po files and the .mo tables are what the sources make."""
    root = copy_tree(tmp_path)
    proc = subprocess.run(["bash", str(root / "scripts/i18n")], cwd=root, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ru: " in proc.stdout
    for name in ("traymail/locale/traymail.pot", RU_PO,
                 "traymail/locale/en/LC_MESSAGES/traymail.po"):
        assert (root / name).read_text(encoding="utf-8") == \
            (ROOT / name).read_text(encoding="utf-8"), f"{name}: run scripts/i18n and commit"


def test_no_translated_text_is_built_before_the_lookup() -> None:
    """Convention 3 of traymail/i18n.py: an f-string or a %-formatted text
    inside _() is never in a catalog (xgettext sees no literal msgid)."""
    pattern = re.compile(r"\b(?:_|N_|ngettext|pgettext|npgettext)\(\s*(?:[rbu]?f|f[rb]?)[\"']"
                         r"|\b(?:_|ngettext)\([^()]*[\"']\s*%\s")
    bad = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
           for p in sorted((ROOT / "traymail").rglob("*.py"))
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if pattern.search(line)]
    assert bad == []
    assert pattern.search('x = _(f"{n} new")') and pattern.search('_("%s new" % n)')
