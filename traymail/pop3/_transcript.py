"""The protocol transcript: one event per line sent or status line received.

Events go to an optional per-client callback and to the logger
``traymail.pop3.wire`` at DEBUG. Secrets never reach either: the PASS
argument, the APOP digest, everything after AUTH, every SASL client line
and the data of every SASL challenge are masked here, at the one place
every line passes through, and a server line that echoes the
secret back is masked too. Message bodies appear as one summary note.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

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

    def __init__(self, hook: TranscriptHook | None = None) -> None:
        self.hook = hook
        self._secrets: list[str] = []

    def add_secret(self, secret: str) -> None:
        """Mask ``secret`` in every later server line (a hostile echo)."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def forget_secrets(self) -> None:
        self._secrets.clear()

    @property
    def active(self) -> bool:
        return self.hook is not None or wire_logger.isEnabledFor(logging.DEBUG)

    def client(self, verb: str, args: tuple[str, ...]) -> None:
        if self.active:
            self._emit(Direction.CLIENT, redact_command(verb, args))

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
        """``text`` with every known secret replaced (a server may echo one)."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def server(self, raw: bytes) -> None:
        if self.active:
            self._emit(Direction.SERVER, self.mask(raw.decode("utf-8", "replace")))

    def note(self, text: str) -> None:
        if self.active:
            self._emit(Direction.NOTE, text)

    def _emit(self, direction: Direction, text: str) -> None:
        event = TranscriptEvent(direction, time.time(), text)
        wire_logger.debug("%s", event)
        if self.hook is not None:
            try:
                self.hook(event)
            except Exception:  # a broken hook must not break the session
                wire_logger.exception("transcript hook failed")
