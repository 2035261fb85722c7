"""The Rules window: rules (add, remove, reorder; conditions; actions), the
friends and block lists and quiet hours; and the "Always trust sender" /
"Block sender" entries of the mailbox window's context menu.

Everything is validated by :func:`traymail.rules.parse_rules` (the same
check as ``settings.json``); an error is shown next to the field it names,
and a regular expression is checked as it is typed.
"""

from __future__ import annotations

import re
import tkinter as tk
from collections.abc import Callable
from dataclasses import replace
from email.utils import parseaddr
from tkinter import ttk
from typing import Any

from ..accounts import Accounts
from ..i18n import N_, _
from ..rules import Action, Field, Op, _regex, parse_addresses, parse_rules, rules_to_json
from ..settings import SettingsError, check_quiet_hours
from .root import Window

__all__ = ["RulesWindow", "attach_sender_actions", "trust_sender", "block_sender"]

# the English texts (msgids); shown through _()
ALL_ACCOUNTS = N_("(all accounts)")
FIELD_LABELS = {Field.FROM: N_("From"), Field.TO_CC: N_("To/Cc"), Field.SUBJECT: N_("Subject"),
                Field.HEADER: N_("Header"), Field.SIZE: N_("Size (octets)"),
                Field.ATTACHMENT: N_("Has attachment")}
OPS = {Field.SIZE: (Op.OVER, Op.UNDER), Field.ATTACHMENT: (Op.IS,)}
TEXT_OPS = (Op.CONTAINS, Op.EQUALS, Op.REGEX)
ACTION_LABELS = {Action.MARK: N_("Mark for deletion"),
                 Action.IGNORE: N_("Ignore (not new, no toast)"),
                 Action.IMPORTANT: N_("Important (toast even when paused)"),
                 Action.SOUND: N_("Play a sound")}
_ERR = "#b00020"
_WHERE = re.compile(r"rules\[(\d+)\][^.]*(?:\.conditions\[(\d+)\])?\.?(\w+)?")


class RulesWindow(Window):
    def __init__(self, root: tk.Misc, accounts: Accounts, *,
                 on_saved: Callable[[], object] | None = None) -> None:
        self.accounts = accounts
        self.on_saved = on_saved or (lambda: None)
        s = accounts.settings
        self.drafts: list[dict[str, Any]] = rules_to_json(s.rules)["rules"]
        self.current: int | None = None
        self.top = top = tk.Toplevel(root)
        top.title(_("traymail — Rules"))
        top.protocol("WM_DELETE_WINDOW", self.close)
        self._build(s.quiet_hours or "", "\n".join(s.rules.friends),
                    "\n".join(s.rules.blocked))
        self._refresh_list()
        if self.drafts:
            self.select(0)

    # -- layout ------------------------------------------------------------------
    def _build(self, quiet: str, friends: str, blocked: str) -> None:
        top = self.top
        body = ttk.Frame(top, padding=8)
        body.pack(fill="both", expand=True)
        left = ttk.Frame(body)
        left.pack(side="left", fill="y")
        self.listbox = tk.Listbox(left, height=12, width=24, exportselection=False)
        self.listbox.pack(fill="y", expand=True)
        self.listbox.bind("<<ListboxSelect>>", lambda e: self._list_selected())
        row = ttk.Frame(left)
        row.pack(fill="x", pady=4)
        for text, cmd in ((_("Add"), self.add_rule), (_("Remove"), self.remove_rule),
                          (_("Up"), lambda: self.move(-1)), (_("Down"), lambda: self.move(1))):
            ttk.Button(row, text=text, command=cmd, width=-7).pack(side="left")
        self.form = form = ttk.Frame(body, padding=(10, 0))
        form.pack(side="left", fill="both", expand=True)
        self.name_var = tk.StringVar(top)
        self.account_var = tk.StringVar(top, _(ALL_ACCOUNTS))
        self.match_var = tk.StringVar(top, "all")
        ttk.Label(form, text=_("Name")).grid(row=0, column=0, sticky="w")
        self.name_entry = ttk.Entry(form, textvariable=self.name_var, width=30)
        self.name_entry.grid(row=0, column=1, sticky="we")
        self.name_error = ttk.Label(form, foreground=_ERR)
        self.name_error.grid(row=0, column=2, sticky="w")
        ttk.Label(form, text=_("Account")).grid(row=1, column=0, sticky="w")
        ttk.Combobox(form, textvariable=self.account_var, state="readonly",
                     values=[_(ALL_ACCOUNTS), *self.accounts.names]).grid(row=1, column=1,
                                                                      sticky="we")
        ttk.Label(form, text=_("Match")).grid(row=2, column=0, sticky="w")
        ttk.Combobox(form, textvariable=self.match_var, state="readonly",
                     values=["all", "any"], width=6).grid(row=2, column=1, sticky="w")
        ttk.Label(form, text=_("Conditions")).grid(row=3, column=0, sticky="nw")
        self.cond_frame = ttk.Frame(form)
        self.cond_frame.grid(row=3, column=1, columnspan=2, sticky="we")
        self.cond_rows: list[dict[str, Any]] = []
        ttk.Button(form, text=_("Add condition"), command=self.add_condition).grid(
            row=4, column=1, sticky="w", pady=2)
        ttk.Label(form, text=_("Actions")).grid(row=5, column=0, sticky="nw")
        acts = ttk.Frame(form)
        acts.grid(row=5, column=1, columnspan=2, sticky="w")
        self.action_vars = {a: tk.BooleanVar(top, False) for a in Action}
        for i, a in enumerate(Action):
            ttk.Checkbutton(acts, text=_(ACTION_LABELS[a]), variable=self.action_vars[a]).grid(
                row=i, column=0, sticky="w")
        self.dwa_var = tk.BooleanVar(top, False)
        ttk.Checkbutton(acts, text=_("…and delete without asking"),
                        variable=self.dwa_var).grid(row=0, column=1, sticky="w")
        self.sound_var = tk.StringVar(top)
        ttk.Label(acts, text=_("WAV file (empty: the chime)")).grid(row=3, column=1, sticky="w")
        ttk.Entry(acts, textvariable=self.sound_var, width=28).grid(row=3, column=2)
        self.actions_error = ttk.Label(form, foreground=_ERR)
        self.actions_error.grid(row=6, column=1, columnspan=2, sticky="w")
        lists = ttk.Frame(top, padding=8)
        lists.pack(fill="x")
        ttk.Label(lists, text=_("Friends (never marked or ignored), one per line")).grid(
            row=0, column=0, sticky="w")
        ttk.Label(lists, text=_("Blocked senders (marked for deletion)")).grid(
            row=0, column=1, sticky="w")
        self.friends_text = tk.Text(lists, height=4, width=36)
        self.friends_text.grid(row=1, column=0, padx=(0, 8))
        self.friends_text.insert("1.0", friends)
        self.blocked_text = tk.Text(lists, height=4, width=36)
        self.blocked_text.grid(row=1, column=1)
        self.blocked_text.insert("1.0", blocked)
        self.lists_error = ttk.Label(lists, foreground=_ERR)
        self.lists_error.grid(row=2, column=0, columnspan=2, sticky="w")
        ttk.Label(lists, text=_("Quiet hours (no sound), e.g. 22:00-07:00")).grid(
            row=3, column=0, sticky="w")
        self.quiet_var = tk.StringVar(top, quiet)
        ttk.Entry(lists, textvariable=self.quiet_var, width=14).grid(row=3, column=1,
                                                                      sticky="w")
        bottom = ttk.Frame(top, padding=8)
        bottom.pack(fill="x")
        self.general_error = ttk.Label(bottom, foreground=_ERR, wraplength=520)
        self.general_error.pack(side="left")
        ttk.Button(bottom, text=_("Cancel"), command=self.close).pack(side="right")
        ttk.Button(bottom, text=_("Save"), command=self.save).pack(side="right", padx=6)

    # -- conditions ----------------------------------------------------------------
    def add_condition(self, data: dict[str, Any] | None = None) -> dict[str, Any]:
        data = data or {"field": "from", "op": "contains", "value": ""}
        top = self.top
        frame = ttk.Frame(self.cond_frame)
        frame.pack(fill="x")
        row: dict[str, Any] = {
            "frame": frame,
            "field": tk.StringVar(top, _(FIELD_LABELS[Field(data["field"])])),
            "header": tk.StringVar(top, data.get("header") or ""),
            "op": tk.StringVar(top, data.get("op", "contains")),
            "value": tk.StringVar(top, str(data.get("value", ""))),
        }
        fields = ttk.Combobox(frame, textvariable=row["field"], state="readonly", width=14,
                              values=[_(label) for label in FIELD_LABELS.values()])
        fields.grid(row=0, column=0)
        row["header_entry"] = ttk.Entry(frame, textvariable=row["header"], width=12)
        row["header_entry"].grid(row=0, column=1)
        row["op_box"] = ttk.Combobox(frame, textvariable=row["op"], state="readonly", width=9)
        row["op_box"].grid(row=0, column=2)
        row["value_entry"] = ttk.Entry(frame, textvariable=row["value"], width=26)
        row["value_entry"].grid(row=0, column=3)
        ttk.Button(frame, text="×", width=2,
                   command=lambda: self.remove_condition(row)).grid(row=0, column=4)
        row["error"] = ttk.Label(frame, foreground=_ERR, wraplength=360)
        row["error"].grid(row=1, column=0, columnspan=5, sticky="w")
        fields.bind("<<ComboboxSelected>>", lambda e: self._field_changed(row))
        row["op"].trace_add("write", lambda *a: self._check_value(row))
        row["value"].trace_add("write", lambda *a: self._check_value(row))
        self.cond_rows.append(row)
        self._field_changed(row, keep_op=True)
        return row

    def remove_condition(self, row: dict[str, Any]) -> None:
        row["frame"].destroy()
        self.cond_rows.remove(row)

    def _field_of(self, row: dict[str, Any]) -> Field:
        return next(f for f, label in FIELD_LABELS.items() if _(label) == row["field"].get())

    def _field_changed(self, row: dict[str, Any], keep_op: bool = False) -> None:
        fld = self._field_of(row)
        ops = [o.value for o in OPS.get(fld, TEXT_OPS)]
        row["op_box"].configure(values=ops)
        if not keep_op or row["op"].get() not in ops:
            row["op"].set(ops[0])
        row["header_entry"].configure(state="normal" if fld is Field.HEADER else "disabled")
        if fld is Field.ATTACHMENT and row["value"].get() not in ("true", "false"):
            row["value"].set("true")

    def _check_value(self, row: dict[str, Any]) -> None:
        """A regular expression is checked as it is typed: the error next to it."""
        text = ""
        if row["op"].get() == Op.REGEX.value and row["value"].get():
            try:
                _regex(row["value"].get(), "pattern")
            except SettingsError as exc:
                text = _("pattern {problem}").format(problem=exc.problem)
        row["error"].configure(text=text)

    def _condition_json(self, row: dict[str, Any]) -> dict[str, Any]:
        fld = self._field_of(row)
        value: Any = row["value"].get()
        if fld is Field.SIZE:
            value = int(value) if value.strip().isdigit() else value
        elif fld is Field.ATTACHMENT:
            value = value.strip().lower() in ("true", "yes", "1")
        d = {"field": fld.value, "op": row["op"].get(), "value": value}
        if fld is Field.HEADER:
            d["header"] = row["header"].get()
        return d

    # -- rules -----------------------------------------------------------------------
    def _refresh_list(self) -> None:
        self.listbox.delete(0, "end")
        for d in self.drafts:
            self.listbox.insert("end", d.get("name") or _("(unnamed)"))
        if self.current is not None:
            self.listbox.selection_set(self.current)

    def _list_selected(self) -> None:
        sel = self.listbox.curselection()
        if sel and sel[0] != self.current:
            self.store_form()
            self.select(sel[0])

    def select(self, index: int) -> None:
        if self.current is not None and self.current != index \
                and self.current < len(self.drafts):
            self.store_form()  # the shown rule's edits are kept
        self.current = index
        d = self.drafts[index]
        self.name_var.set(d.get("name", ""))
        self.account_var.set(d.get("account") or _(ALL_ACCOUNTS))
        self.match_var.set(d.get("match", "all"))
        for row in list(self.cond_rows):
            self.remove_condition(row)
        for c in d.get("conditions", []):
            self.add_condition(c)
        for a, var in self.action_vars.items():
            var.set(a.value in d.get("actions", []))
        self.dwa_var.set(bool(d.get("delete_without_asking")))
        self.sound_var.set(d.get("sound") or "")
        self._clear_errors()
        self.listbox.selection_clear(0, "end")
        self.listbox.selection_set(index)

    def store_form(self) -> None:
        if self.current is None:
            return
        d: dict[str, Any] = {
            "name": self.name_var.get().strip(),
            "account": (None if self.account_var.get() == _(ALL_ACCOUNTS)
                        else self.account_var.get()),
            "match": self.match_var.get(),
            "conditions": [self._condition_json(r) for r in self.cond_rows],
            "actions": [a.value for a, v in self.action_vars.items() if v.get()],
        }
        if self.dwa_var.get():
            d["delete_without_asking"] = True
        if self.sound_var.get().strip():
            d["sound"] = self.sound_var.get().strip()
        self.drafts[self.current] = d
        self.listbox.delete(self.current)
        self.listbox.insert(self.current, d["name"] or _("(unnamed)"))

    def add_rule(self) -> None:
        self.store_form()
        self.drafts.append({"name": _("Rule {n}").format(n=len(self.drafts) + 1), "match": "all",
                            "conditions": [{"field": "from", "op": "contains", "value": ""}],
                            "actions": []})
        self._refresh_list()
        self.select(len(self.drafts) - 1)
        self.name_entry.focus_set()

    def remove_rule(self) -> None:
        if self.current is None:
            return
        del self.drafts[self.current]
        self.current = None
        self._refresh_list()
        if self.drafts:
            self.select(0)
        else:
            for row in list(self.cond_rows):
                self.remove_condition(row)

    def move(self, step: int) -> None:
        if self.current is None:
            return
        self.store_form()
        i, j = self.current, self.current + step
        if 0 <= j < len(self.drafts):
            self.drafts[i], self.drafts[j] = self.drafts[j], self.drafts[i]
            self.current = j
            self._refresh_list()
            self.select(j)

    # -- saving ------------------------------------------------------------------------
    def _clear_errors(self) -> None:
        for label in (self.name_error, self.actions_error, self.lists_error,
                      self.general_error):
            label.configure(text="")
        for row in self.cond_rows:
            row["error"].configure(text="")

    def _show_error(self, exc: SettingsError) -> None:
        m = _WHERE.match(exc.field)
        if m is None:
            target = self.lists_error if exc.field.split("[")[0] in ("friends", "blocked") \
                else self.general_error
            target.configure(text=f"{exc.field}: {exc.problem}")
            return
        if int(m[1]) != self.current:
            self.select(int(m[1]))
        part = m[3] or ""
        if m[2] is not None and int(m[2]) < len(self.cond_rows):
            self.cond_rows[int(m[2])]["error"].configure(text=f"{part} {exc.problem}")
        elif part == "name":
            self.name_error.configure(text=exc.problem)
        elif part in ("actions", "delete_without_asking", "sound"):
            self.actions_error.configure(text=f"{part}: {exc.problem}")
        else:
            self.general_error.configure(text=f"{exc.field}: {exc.problem}")

    def build(self) -> Any:
        """The new settings, or None with the error shown next to its field."""
        self.store_form()
        self._clear_errors()
        lines = {k: [x.strip() for x in t.get("1.0", "end").splitlines() if x.strip()]
                 for k, t in (("friends", self.friends_text), ("blocked", self.blocked_text))}
        s = self.accounts.settings
        try:
            rules = parse_rules({"rules": self.drafts, **lines}, self.accounts.names)
            quiet = check_quiet_hours(self.quiet_var.get().strip() or None)
        except SettingsError as exc:
            self._show_error(exc)
            return None
        return replace(s, rules=rules, quiet_hours=quiet)

    def save(self) -> bool:
        settings = self.build()
        if settings is None:
            return False
        try:
            self.accounts.apply(settings)
        except Exception as exc:  # disk full, read-only folder...
            self.general_error.configure(text=_("Could not save: {error}").format(error=exc))
            return False
        self.on_saved()
        self.close()
        return True

    def close(self) -> None:
        self.destroy_window()


# -- one-click sender actions (the mailbox window's context menu) -----------------

def _sender_address(sender: str) -> str | None:
    address = parseaddr(sender)[1]
    return address if "@" in address else None


def _add_to_list(accounts: Accounts, address: str, key: str) -> None:
    """Add ``address`` to the friends or block list (and off the other one)."""
    rs = accounts.settings.rules
    other = "blocked" if key == "friends" else "friends"
    wanted = list(dict.fromkeys([*getattr(rs, key), address]))
    rest = [a for a in getattr(rs, other) if a.casefold() != address.casefold()]
    new = replace(rs, **{key: parse_addresses(wanted, key), other: tuple(rest)})
    accounts.apply(replace(accounts.settings, rules=new))


def trust_sender(accounts: Accounts, sender: str) -> str | None:
    """"Always trust sender": the address joins the friends list."""
    address = _sender_address(sender)
    if address is not None:
        _add_to_list(accounts, address, "friends")
    return address


def block_sender(accounts: Accounts, sender: str) -> str | None:
    """"Block sender": the address joins the block list (marked at the next check)."""
    address = _sender_address(sender)
    if address is not None:
        _add_to_list(accounts, address, "blocked")
    return address


def attach_sender_actions(menu: tk.Menu, window: Any) -> None:
    """Add "Always trust sender" and "Block sender" to a mailbox window's
    context menu; they act on its first selected message."""
    def act(func: Callable[[Accounts, str], str | None], verb: str) -> None:
        sel = window.selected()
        header = window.headers.get(sel[0]) if sel else None
        if header is None:
            return
        address = func(window.accounts, header.sender)
        if address is None:
            window.set_status(_("That sender has no address to add."), error=True)
        else:
            window.set_status(_(verb).format(address=address))

    menu.add_separator()
    menu.add_command(label=_("Always trust sender"),
                     command=lambda: act(trust_sender, N_("{address} is now a friend (never "
                                                          "marked or ignored).")))
    menu.add_command(label=_("Block sender"),
                     command=lambda: act(block_sender, N_("{address} is blocked (marked for "
                                                          "deletion at the next check).")))
