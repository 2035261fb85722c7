"""``traymail shell``: speak POP3 command by command.

Every command maps to one method of :class:`traymail.pop3.POP3`; server and
network errors print one readable line, never a traceback. ``pass`` reads
the password without echo (or one line from a non-terminal stdin), and the
live transcript (``log on``) masks it like every other transcript. ``auth``
logs in with SASL (RFC 5034): PLAIN asks for the password the same way;
XOAUTH2 and OAUTHBEARER use the account's stored OAuth2 token
(:func:`traymail.oauth.access_token_for`) or, with ``--token-stdin``, one
read like a password. Messages and ``help`` speak the user's language
(:mod:`traymail.i18n`); protocol text (``+OK ...``, the transcript) does not.
"""

from __future__ import annotations

import cmd
import getpass
import importlib
import os
import shlex
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .i18n import N_, _, ngettext
from .passwords import KeyringUnavailable
from .pop3 import POP3, POP3_SSL, POP3Error, TranscriptEvent, visible
from .private import create_private

__all__ = ["Shell", "split_args"]

#: ``help COMMAND``: the syntax stays as typed, the explanation is translated
_HELP = {
    "connect": N_("connect HOST [PORT] [--ssl | --starttls] [--cafile FILE] [--timeout S]"),
    "capa": N_("capa -- list the server's capabilities"),
    "stls": N_("stls -- upgrade the connection to TLS"),
    "user": N_("user NAME"),
    "pass": N_("pass -- asks for the password (not echoed)"),
    "apop": N_("apop NAME -- asks for the secret (not echoed)"),
    "auth": N_("auth plain USER | auth xoauth2 USER [--token-stdin] | auth oauthbearer USER\n"
               "[--token-stdin] -- SASL login; PLAIN asks for the password (not echoed); the "
               "OAuth2\nmechanisms use the stored token of the account with that address, or "
               "ask for one"),
    "stat": N_("stat -- number of messages and total size"),
    "list": N_("list [N] -- message sizes"),
    "uidl": N_("uidl [N] -- unique ids"),
    "top": N_("top N [LINES] -- headers and the first LINES body lines (default 0)"),
    "retr": N_("retr N FILE -- download message N into FILE (streamed)"),
    "dele": N_("dele N -- mark message N for deletion (applied at quit)"),
    "rset": N_("rset -- unmark all messages"),
    "noop": N_("noop -- keep the session alive"),
    "quit": N_("quit -- end the session (the server applies deletions) and leave"),
    "close": N_("close -- drop the connection without QUIT: nothing is deleted"),
    "log": N_("log on|off -- print the protocol transcript live (passwords masked)"),
    "help": N_('List available commands with "help" or detailed help with "help cmd".'),
}
_NUMBER = N_("message number expected, got {value}")


def split_args(text: str, *, windows: bool = sys.platform == "win32") -> list[str]:
    """Split a command line into words.

    POSIX: :func:`shlex.split` (quotes, backslash escapes). Windows: a
    backslash is a path separator, not an escape (``shlex`` would turn
    ``C:\\Users\\me\\m1.eml`` into ``C:Usersmem1.eml``), so only quotes
    group words there: ``"C:\\My Mail\\m1.eml"``. An unclosed quote raises
    ValueError, as shlex does."""
    if not windows:
        try:
            return shlex.split(text)
        except ValueError as exc:  # shlex's two errors, in the user's language
            raise ValueError(_("No escaped character") if "escaped" in str(exc)
                             else _("No closing quotation")) from None
    words: list[str] = []
    word: list[str] = []
    started = False  # "" is a word too
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            else:
                word.append(ch)
        elif ch in "\"'":
            quote, started = ch, True
        elif ch.isspace():
            if started:
                words.append("".join(word))
                word, started = [], False
        else:
            word.append(ch)
            started = True
    if quote:
        raise ValueError(_("No closing quotation"))
    if started:
        words.append("".join(word))
    return words


class Shell(cmd.Cmd):
    prompt = "pop3> "

    def __init__(self, stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.intro = _("traymail shell -- POP3 command by command. Type 'help' for the "
                       "commands.")
        self.doc_header = _("Documented commands (type help <topic>):")
        self.undoc_header = _("Undocumented commands:")
        self.use_rawinput = stdin is None and sys.stdin.isatty()
        self.interactive = (stdin or sys.stdin).isatty()
        if not self.interactive:
            self.prompt = ""
            self.intro = ""
        self.pop: POP3 | None = None
        self.live_log = False
        self.failed = False

    # -- plumbing -------------------------------------------------------------
    def say(self, text: str) -> None:
        """Every output line: server text never reaches the terminal raw."""
        self.stdout.write(visible(text, newlines=True) + "\n")
        self.stdout.flush()

    def _transcript(self, event: TranscriptEvent) -> None:
        if self.live_log:
            self.say(f"  {event}")

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except POP3Error as exc:
            self.failed = True
            self.say(_("error: {message}").format(message=exc))
            if self.pop is not None and not self.pop.connected:
                self.pop = None
                self.say(_("(disconnected)"))
        except (ValueError, OSError) as exc:
            self.failed = True
            self.say(_("error: {message}").format(message=exc))
        return False

    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> None:
        self.failed = True
        self.say(_("error: unknown command {name}; type 'help'").format(
            name=repr(line.split()[0])))

    def do_help(self, arg: str) -> None:
        topic = arg.strip()
        if topic:
            text = _HELP.get(topic)
            self.say(_(text) if text else _("*** No help on {topic}").format(topic=topic))
            return
        commands = sorted({n[3:] for n in self.get_names() if n.startswith("do_")})
        self.stdout.write("\n")
        self.print_topics(self.doc_header, [c for c in commands if c in _HELP], 15, 80)
        self.print_topics(self.undoc_header, [c for c in commands if c not in _HELP], 15, 80)

    def _need(self) -> POP3:
        if self.pop is None:
            raise ValueError(_("not connected; use: {syntax}").format(
                syntax="connect HOST [PORT] [--ssl|--starttls]"))
        return self.pop

    def _secret(self, prompt: str) -> str:
        """Read a secret without echo; from a pipe, the next line of input."""
        if self.interactive:
            return getpass.getpass(prompt)
        return self.stdin.readline().rstrip("\r\n")

    def _int(self, arg: str, what: str = _NUMBER) -> int:
        """``what``: the N_() text of the error, with ``{value}``."""
        try:
            return int(arg)
        except ValueError:
            raise ValueError(_(what).format(value=repr(arg))) from None

    # -- commands -------------------------------------------------------------
    def do_connect(self, arg: str) -> None:
        words = split_args(arg)
        opts = {w for w in words if w in ("--ssl", "--starttls")}
        cafile = timeout = None
        rest: list[str] = []
        it = iter(w for w in words if w not in opts)
        for w in it:
            if w == "--cafile":
                cafile = next(it, None)
            elif w == "--timeout":
                timeout = next(it, None)
            else:
                rest.append(w)
        if not rest:
            raise ValueError(_("usage: {syntax}").format(
                syntax="connect HOST [PORT] [--ssl|--starttls] [--cafile FILE]"))
        host = rest[0]
        port = self._int(rest[1], N_("port expected, got {value}")) if len(rest) > 1 else None
        ctx = ssl.create_default_context(cafile=cafile) if cafile else None
        if self.pop is not None:
            self.pop.close()
        t = float(timeout) if timeout else 30.0
        self.pop = None
        if "--ssl" in opts:
            pop: POP3 = POP3_SSL(host, port, timeout=t, context=ctx, transcript=self._transcript)
        else:
            pop = POP3(host, port, timeout=t, transcript=self._transcript)
        self.pop = pop
        self.say(f"+OK {pop.greeting}")
        if "--starttls" in opts:
            self.say(f"+OK {pop.stls(ctx)} " + _("(TLS active)"))

    def do_capa(self, arg: str) -> None:
        caps = self._need().capa()
        if not caps.supported:
            self.say(_("(the server does not support CAPA)"))
        for name, args in caps.entries.items():
            self.say(" ".join((name, *args)))

    def do_stls(self, arg: str) -> None:
        self.say("+OK " + self._need().stls())

    def do_user(self, arg: str) -> None:
        self.say("+OK " + self._need().user(arg.strip()))

    def do_pass(self, arg: str) -> None:
        pop = self._need()
        if arg:
            self.say(_("note: typed passwords stay in your terminal's history; use 'pass' "
                       "alone"))
            secret = arg
        else:
            secret = self._secret(_("Password: "))
        self.say("+OK " + pop.pass_(secret))

    def do_apop(self, arg: str) -> None:
        pop = self._need()
        self.say("+OK " + pop.apop(arg.strip(), self._secret(_("Secret: "))))

    def do_auth(self, arg: str) -> None:
        words = arg.split()
        usage = _("usage: {syntax}").format(
            syntax="auth plain|xoauth2|oauthbearer USER [--token-stdin]")
        from_stdin = "--token-stdin" in words
        words = [w for w in words if w != "--token-stdin"]
        if len(words) != 2 or words[0].lower() not in ("plain", "xoauth2", "oauthbearer"):
            raise ValueError(usage)
        mechanism, user = words[0].lower(), words[1]
        pop = self._need()
        if mechanism == "plain":
            if from_stdin:
                raise ValueError(_("--token-stdin is for xoauth2/oauthbearer; plain asks for "
                                   "the password"))
            secret = self._secret(_("Password: "))
        elif from_stdin:
            secret = self._secret(_("Access token: "))
        else:
            secret = self._stored_token(pop, user)
        self.say("+OK " + pop.login(user, secret, mechanism=mechanism))

    def _stored_token(self, pop: POP3, user: str) -> str:
        """The OAuth2 access token stored for the configured account that logs in
        as ``user`` on this server (signed in with 'traymail sign-in')."""
        try:
            oauth = importlib.import_module("traymail.oauth")
        except ImportError:
            raise ValueError(_("this traymail keeps no OAuth2 tokens; give one with "
                               "--token-stdin")) from None
        from .settings import load_settings, resolve_paths

        settings = load_settings(resolve_paths().settings_file)
        for account in settings.accounts:
            if (account.sasl_user.lower() == user.lower()
                    and account.host.lower() == pop.host.lower()):
                try:
                    token = oauth.access_token_for(account)
                except (oauth.OAuth2Error, KeyringUnavailable) as exc:  # needs sign-in, ...
                    raise ValueError(str(exc)) from None
                if not isinstance(token, str) or not token:
                    raise ValueError(_("no token for {account}; run 'traymail sign-in "
                                       "--account {account}'").format(account=account.name))
                return token
        raise ValueError(_("no configured account logs in as {user} on {host}; give a token "
                           "with --token-stdin").format(user=repr(user), host=pop.host))

    def do_stat(self, arg: str) -> None:
        s = self._need().stat()
        self.say(ngettext("{n} message", "{n} messages", s.count).format(n=s.count) + ", "
                 + ngettext("{n} octet", "{n} octets", s.size).format(n=s.size))

    def _listing(self, arg: str, one: Callable[[int], Any], every: Callable[[], Any],
                 value: str) -> None:
        """LIST and UIDL: one message when a number is given, else all of them."""
        items = [one(self._int(arg.strip()))] if arg.strip() else every()
        for item in items:
            self.say(f"{item.number} {getattr(item, value)}")

    def do_list(self, arg: str) -> None:
        pop = self._need()
        self._listing(arg, pop.list, pop.list, "size")

    def do_uidl(self, arg: str) -> None:
        pop = self._need()
        self._listing(arg, pop.uidl, pop.uidl, "uid")

    def do_top(self, arg: str) -> None:
        words = arg.split()
        if not words:
            raise ValueError(_("usage: {syntax}").format(syntax="top N [LINES]"))
        lines = self._int(words[1], N_("line count expected, got {value}")) \
            if len(words) > 1 else 0
        data = self._need().top(self._int(words[0]), lines)
        self.say(data.decode("utf-8", "replace").rstrip("\r\n").replace("\r\n", "\n"))

    def do_retr(self, arg: str) -> None:
        words = split_args(arg)
        if len(words) != 2:
            raise ValueError(_("usage: {syntax}").format(syntax="retr N FILE"))
        number, path = self._int(words[0]), Path(words[1])
        pop = self._need()
        tmp = path.with_name(path.name + ".part")
        fd = create_private(tmp)  # 0600, never through a planted symlink
        try:
            with os.fdopen(fd, "wb") as f:
                octets = pop.retr(number, sink=f)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        self.say(ngettext("{n} octet written to {path}", "{n} octets written to {path}",
                          octets).format(n=octets, path=path))

    def do_dele(self, arg: str) -> None:
        self.say("+OK " + self._need().dele(self._int(arg.strip())))

    def do_rset(self, arg: str) -> None:
        self.say("+OK " + self._need().rset())

    def do_noop(self, arg: str) -> None:
        self.say("+OK " + self._need().noop())

    def do_quit(self, arg: str) -> bool:
        if self.pop is not None:
            pop, self.pop = self.pop, None
            self.say("+OK " + pop.quit())
        return True

    def do_close(self, arg: str) -> None:
        if self.pop is not None:
            self.pop.close()
            self.pop = None
        self.say(_("closed; the server deleted nothing"))

    def do_log(self, arg: str) -> None:
        if arg.strip() not in ("on", "off"):
            raise ValueError(_("usage: {syntax}").format(syntax="log on|off"))
        self.live_log = arg.strip() == "on"
        self.say(_("transcript on") if self.live_log else _("transcript off"))

    def do_EOF(self, arg: str) -> bool:
        if self.pop is not None:
            self.pop.close()
            self.pop = None
        return True

    do_exit = do_EOF


def run_shell(
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    preamble: list[str] | None = None,
    on_ready: Callable[[Shell], Any] | None = None,
) -> int:
    shell = Shell(stdin, stdout)
    for line in preamble or []:
        shell.onecmd(line)
    if on_ready:
        on_ready(shell)
    try:
        shell.cmdloop()
    except KeyboardInterrupt:
        shell.say("")
        shell.do_EOF("")
    return 1 if shell.failed and not shell.interactive else 0
