"""The protocol transcript: one event per line sent or status line received.

Events go to an optional per-client callback and to the logger
``traymail.pop3.wire`` at DEBUG. Secrets never reach either: the PASS
argument, the APOP digest, everything after AUTH, every SASL client line
and the data of every SASL challenge are masked here, at the one place
every line passes through, and a server line that echoes the secret back
is masked too -- in every line, notes included, in any letter case (a CAPA
line comes back upper-cased in the "capabilities" note). Controls in every
line are shown as escapes (:func:`._text.visible`). Message bodies appear
as one summary note.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._text import visible

__all__ = ["Direction", "TranscriptEvent", "TranscriptHook", "Transcript", "MASK", "redact_command"]

MASK = "********"
wire_logger = logging.getLogger("traymail.pop3.wire")


class Direction(enum.Enum):
    CLIENT = "C"
    SERVER = "S"
    NOTE = "*"


@dataclass(frozen=True, slots=True)
class TranscriptEvent:
    direction: Direction
    timestamp: float
    text: str

    def __str__(self) -> str:
        return f"{self.direction.value}: {self.text}"


TranscriptHook = Callable[[TranscriptEvent], None]


def redact_command(verb: str, args: tuple[str, ...]) -> str:
    """The loggable form of a command line (RFC 1939 §7 secrets masked)."""
    if verb == "PASS":
        return f"PASS {MASK}"
    if verb == "APOP" and args:
        return f"APOP {args[0]} {MASK}"
    if verb == "AUTH":
        if len(args) > 1:  # RFC 5034 §4: the initial response is a secret
            return f"AUTH {args[0]} {MASK}"
        return " ".join(("AUTH", *args))
    return " ".join((verb, *args))


class Transcript:
    """Fans events out to a hook and the wire logger, masking secrets."""

    def __init__(self, hook: TranscriptHook | None = None, secrets: tuple[str, ...] = ()
                 ) -> None:
        self.hook = hook
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Mask ``secret`` in every later line (a hostile echo), in any case."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, longest_first)), re.I)

    def forget_secrets(self) -> None:
        self._secrets.clear()
        self._pattern = None

    @property
    def active(self) -> bool:
        return self.hook is not None or wire_logger.isEnabledFor(logging.DEBUG)

    def client(self, verb: str, args: tuple[str, ...]) -> None:
        if self.active:
            masked = tuple(self.mask(arg) for arg in args)  # the verb stays readable
            self._emit(Direction.CLIENT, redact_command(verb, masked), mask=False)

    def client_sasl(self, what: str = "") -> None:
        """A client SASL line (RFC 5034 §4): never shown, whatever it holds."""
        if self.active:
            self._emit(Direction.CLIENT, MASK + (f" ({what})" if what else ""))

    def server_challenge(self, raw: bytes) -> None:
        """A ``+`` challenge: its data may echo a token, so only its size shows."""
        if self.active:
            size = len(raw[2:].strip())
            self._emit(Direction.SERVER, f"+ {MASK} ({size} octets of base64)" if size else "+ ")

    def mask(self, text: str) -> str:
        """``text`` with every known secret replaced, case-insensitively."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def server(self, raw: bytes) -> None:
        if self.active:
            self._emit(Direction.SERVER, raw.decode("utf-8", "replace"))

    def note(self, text: str) -> None:
        if self.active:
            self._emit(Direction.NOTE, text)

    def _emit(self, direction: Direction, text: str, mask: bool = True) -> None:
        """The one exit of every line: secrets masked, controls made visible."""
        event = TranscriptEvent(direction, time.time(), visible(self.mask(text) if mask else text))
        wire_logger.debug("%s", event)
        if self.hook is not None:
            try:
                self.hook(event)
            except Exception:  # a broken hook must not break the session
                wire_logger.exception("transcript hook failed")
