"""The grey hints under Settings fields: where mail is downloaded when the
folder is left empty, and whether the keyring holds the account's password
(looked up in a worker: a keyring may be slow, or locked)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..i18n import N_, _
from ..settings import Account, AuthMethod, Security
from .settings_widgets import auth_label

if TYPE_CHECKING:
    from .settings_dialog import SettingsDialog

__all__ = ["FieldHints", "SAVED", "TYPED", "NEW", "OAUTH2"]

# the English texts (msgids); shown through _()
SAVED = N_("Saved in the keyring; leave empty to keep it.")
TYPED = N_("Save puts it in the system keyring (never in settings.json).")
NEW = N_("Not saved yet; Save puts it in the system keyring.")
OAUTH2 = N_("Not used: this account signs in with the provider (Sign in… below).")


class FieldHints:
    def __init__(self, dialog: SettingsDialog) -> None:
        self.dialog = dialog
        self._generation = 0
        self._after: str | None = None

    def download(self) -> None:
        d = self.dialog
        name = d.vars["name"].get().strip() or "account"
        default = d.accounts.paths.download_dir_for(Account(name, "-", "-"))
        d.errors["download_dir"].set_hint(_("Empty: {folder}").format(folder=default))

    def schedule_password(self) -> None:
        """After a pause in typing (one keyring look-up, not one per key)."""
        self.cancel()
        self._after = self.dialog.top.after(300, self.password)

    def cancel(self) -> None:
        if self._after is not None:
            try:
                self.dialog.top.after_cancel(self._after)
            except Exception:  # the window is gone
                pass
            self._after = None

    def password(self) -> None:
        self._after = None
        self._generation += 1
        generation = self._generation
        d = self.dialog
        label = d.errors["password"]
        if d.auth.get() == auth_label(AuthMethod.OAUTH2):
            label.set_hint(_(OAUTH2))
            return
        if d.vars["password"].get():
            label.set_hint(_(TYPED))
            return
        host, user = d.vars["host"].get().strip(), d.vars["username"].get()
        port = d.vars["port"].get().strip()
        try:
            account = Account("-", host, user, Security(d.security.get()),
                              int(port) if port.isdigit() else None)
        except ValueError:
            account = None
        if account is None or not host or not user:
            label.set_hint(_(NEW))
            return
        lookup = d.accounts.passwords.get

        def shown(saved: bool) -> None:
            if generation == self._generation and d.alive:
                label.set_hint(_(SAVED if saved else NEW))

        def failed(exc: BaseException) -> None:
            if generation == self._generation and d.alive:
                label.set_hint(_("The keyring cannot be read: {error}").format(error=exc))

        d.bridge.submit(lambda: lookup(account) is not None, shown, failed,
                        name="traymail-keyring-hint")
