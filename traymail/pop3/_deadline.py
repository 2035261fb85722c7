"""The time bound of one operation: a grace period plus a minimum rate.

The socket timeout bounds each read; a server that trickles a byte just
before it expires would still hold a session (and the account lock) for
ever. So every operation -- from the first command written with nothing in
flight until its last reply (a pipelined batch is one operation) -- may wait
for the server at most ``grace + octets / min_rate`` seconds in total, where
``octets`` counts the reply data kept so far. Only time spent waiting for the
socket counts, never the caller's time between events (writing a file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._errors import TransportTimeout

__all__ = ["Deadline", "GRACE", "MIN_RATE"]

#: seconds any operation may wait for the server before the rate counts
GRACE: Final = 120.0
#: octets per second an operation must average after the grace period
MIN_RATE: Final = 1024


@dataclass(slots=True)
class Deadline:
    """Waiting time and progress of the current operation (no I/O)."""

    grace: float = GRACE
    min_rate: float = MIN_RATE
    operation: str = "GREETING"
    waited: float = 0.0
    octets: int = 0

    def __post_init__(self) -> None:
        if self.grace <= 0 or self.min_rate <= 0:
            raise ValueError("the deadline and the minimum rate must be positive")

    def start(self, operation: str) -> None:
        self.operation, self.waited, self.octets = operation, 0.0, 0

    def budget(self) -> float:
        """Seconds the operation may still wait; <= 0 means it is over."""
        return self.grace + self.octets / self.min_rate - self.waited

    def expired(self) -> TransportTimeout:
        return TransportTimeout(
            f"{self.operation}: the server is too slow: {self.waited:.1f} s of waiting for "
            f"{self.octets} octets (allowed: {self.grace:g} s plus 1 s per "
            f"{self.min_rate:g} octets)")
