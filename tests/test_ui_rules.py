"""The Rules window and the mailbox window's sender actions: real Tk on Xvfb."""

from __future__ import annotations

import json
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

import pytest

from traymail.accounts import Accounts
from traymail.devserver import DevServer, MemoryMailbox
from traymail.rules import BLOCKED, FRIEND
from traymail.samples import sample_messages
from traymail.settings import load_settings
from traymail.ui.rules_window import RulesWindow
from traymail.ui.settings_dialog import SettingsDialog
from traymail.ui.worker import TkBridge

from .desktop import xdotool
from .test_ui import Env, make_accounts
from .uitools import center, pump

MakeServer = Callable[..., DevServer]


@pytest.fixture
def accounts(make_devserver: MakeServer, tmp_path: Path) -> Accounts:
    srv = make_devserver(MemoryMailbox(sample_messages(4)))
    acc = make_accounts(tmp_path / "home", srv)
    acc.apply(acc.settings)  # a settings.json on disk
    return acc


def type_into(display: str, widget: tk.Widget, text: str) -> None:
    """Real keystrokes into an emptied field."""
    widget.delete(0, "end")  # type: ignore[attr-defined]
    x, y = center(widget)
    xdotool(display, "mousemove", str(x), str(y), "click", "1")
    pump(widget, timeout=0.2)
    widget.focus_force()
    pump(widget, timeout=0.1)
    xdotool(display, "type", "--delay", "5", text)
    pump(widget, lambda: widget.get() == text, timeout=5)  # type: ignore[attr-defined]


@pytest.mark.posix_only("drives X input with xdotool")
def test_bad_regex_is_refused_with_the_error_next_to_the_field(
        root: tk.Tk, accounts: Accounts, x_display: str) -> None:
    before = accounts.paths.settings_file.read_text()
    win = RulesWindow(root, accounts)
    win.top.geometry("+10+10")
    pump(root, timeout=0.3)
    win.add_rule()
    win.name_var.set("Spam filter")
    row = win.cond_rows[0]
    row["field"].set("Subject")
    win._field_changed(row)
    row["op"].set("regex")
    pump(root, timeout=0.2)
    type_into(x_display, row["value_entry"], "(unclosed")
    # checked as typed: the message sits under that condition
    assert pump(root, lambda: "not a valid regular expression" in row["error"].cget("text"))
    assert row["error"].winfo_ismapped() or pump(root, row["error"].winfo_ismapped)
    win.action_vars[next(iter(win.action_vars))].set(True)  # "mark"
    assert not win.save()  # refused: nothing written, the window stays
    assert win.alive and accounts.paths.settings_file.read_text() == before
    assert "not a valid regular expression" in row["error"].cget("text")
    # the same error arriving from the validator names the rule and field
    assert accounts.settings.rules.rules == ()
    # fixed: saved, the window closes, the rule is on disk with its pattern
    type_into(x_display, row["value_entry"], r"^cheap \w+")
    assert pump(root, lambda: row["error"].cget("text") == "")
    assert win.save()
    on_disk = load_settings(accounts.paths.settings_file)
    (rule,) = on_disk.rules.rules
    assert rule.name == "Spam filter" and rule.conditions[0].value == r"^cheap \w+"
    assert rule.conditions[0].pattern is not None
    assert not win.alive


def test_other_errors_sit_by_their_fields_and_rules_reorder(
        root: tk.Tk, accounts: Accounts) -> None:
    win = RulesWindow(root, accounts)
    win.add_rule()
    win.add_rule()  # two rules, the second one shown
    assert not win.save()  # the first has an empty value: shown there, by that field
    assert win.current == 0 and "non-empty" in win.cond_rows[0]["error"].cget("text")
    win.cond_rows[0]["value"].set("y")
    assert not win.save()  # ... and no action
    assert "actions" in win.actions_error.cget("text")
    win.action_vars[next(iter(win.action_vars))].set(True)
    win.select(1)
    win.name_var.set("Rule 1")  # the first one's name
    win.cond_rows[0]["value"].set("x")
    win.action_vars[next(iter(win.action_vars))].set(True)
    assert not win.save()
    # the first of the two is shown, the message by its name
    assert win.current == 0 and "two rules are named" in win.name_error.cget("text")
    win.select(1)
    win.name_var.set("Second")
    win.store_form()
    win.select(0)
    row = win.cond_rows[0]
    row["field"].set("Size (octets)")
    win._field_changed(row)
    row["value"].set("big")
    assert not win.save()
    assert "size in octets" in row["error"].cget("text")
    row["value"].set("1000")
    win.move(1)  # Rule 1 goes below Second
    assert win.listbox.get(0, "end") == ("Second", "Rule 1")
    win.blocked_text.insert("1.0", "not an address@@x\n")
    assert not win.save()
    assert "blocked[0]" in win.lists_error.cget("text")
    win.blocked_text.delete("1.0", "end")
    win.quiet_var.set("7pm")
    assert not win.save() and "22:00-07:00" in win.general_error.cget("text")
    win.quiet_var.set("22:00-07:00")
    assert win.save()
    saved = json.loads(accounts.paths.settings_file.read_text())
    assert [r["name"] for r in saved["rules"]] == ["Second", "Rule 1"]
    assert saved["rules"][1]["conditions"][0] == {"field": "size", "op": "over", "value": 1000}
    assert saved["quiet_hours"] == "22:00-07:00"


def test_settings_dialog_opens_rules_and_keeps_them(root: tk.Tk,
                                                    accounts: Accounts) -> None:
    from traymail.rules import parse_rules

    rules = parse_rules({"rules": [{"name": "R", "actions": ["ignore"], "conditions": [
        {"field": "subject", "op": "contains", "value": "news"}]}], "friends": ["a@b.c"]},
        accounts.names)
    from dataclasses import replace

    accounts.apply(replace(accounts.settings, rules=rules))
    dlg = SettingsDialog(root, TkBridge(root), accounts)
    root.update()
    buttons = [w for w in dlg.top.winfo_children() for w in [w, *w.winfo_children()]
               if isinstance(w, tk.ttk.Button) and w.cget("text") == "Rules…"]
    assert len(buttons) == 1
    buttons[0].invoke()
    win = dlg.rules_window  # type: ignore[attr-defined]
    assert win.alive and win.listbox.get(0, "end") == ("R",)
    win.close()
    assert dlg.save()
    assert pump(root, lambda: not dlg.alive)
    after = load_settings(accounts.paths.settings_file)
    assert after.rules == rules  # saving Settings keeps the rules


def test_trust_and_block_sender_from_the_context_menu(root: tk.Tk,
                                                      accounts: Accounts) -> None:
    env = Env(root, accounts)
    win = env.window()
    assert pump(root, lambda: not win.busy and win.tree.get_children())
    labels = [win.menu.entrycget(i, "label") for i in range(win.menu.index("end") + 1)
              if win.menu.type(i) != "separator"]
    assert "Always trust sender" in labels and "Block sender" in labels
    first, second = win.tree.get_children()[:2]
    win.tree.selection_set(first)
    win.menu.invoke(_index(win.menu, "Block sender"))
    blocked = accounts.settings.rules.blocked
    assert len(blocked) == 1 and blocked[0] in win.headers[first].sender
    assert "is blocked" in win.status.cget("text")
    win.tree.selection_set(second)
    win.menu.invoke(_index(win.menu, "Always trust sender"))
    assert accounts.settings.rules.friends[0] in win.headers[second].sender
    # the next look at the server marks the blocked sender's mail, by the block list
    win.refresh()
    assert pump(root, lambda: not win.busy and win.headers[first].marked)
    assert win.headers[first].rule == BLOCKED and "marked" in win.tree.item(first, "tags")
    assert win.headers[second].rule == FRIEND and not win.headers[second].marked
    on_disk = load_settings(accounts.paths.settings_file)
    assert on_disk.rules.blocked == blocked
    # trusting a blocked sender takes it off the block list
    win.tree.selection_set(first)
    win.menu.invoke(_index(win.menu, "Always trust sender"))
    assert accounts.settings.rules.blocked == ()
    win.close()


def _index(menu: tk.Menu, label: str) -> int:
    return next(i for i in range(menu.index("end") + 1)
                if menu.type(i) != "separator" and menu.entrycget(i, "label") == label)



def test_log_window_shows_the_rule_log(root: tk.Tk, accounts: Accounts) -> None:
    from dataclasses import replace

    from traymail.rules import parse_rules
    from traymail.ui.log_window import LogWindow

    mb = accounts.mailbox()
    sender = mb.headers()[0].sender
    address = sender[sender.index("<") + 1:sender.index(">")]
    accounts.apply(replace(accounts.settings,
                           rules=parse_rules({"blocked": [address]}, accounts.names)))
    log = LogWindow(root, TkBridge(root), accounts)
    accounts.mailbox().check()
    assert pump(root, lambda: f"rule log: '{BLOCKED}' matched message" in log.contents())
    line = next(x for x in log.contents().splitlines() if "rule log:" in x)
    assert "mark" in line and "Subject:" in line
    log.close()
