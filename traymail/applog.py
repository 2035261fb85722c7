"""traymail's own log file (the desktop app's)."""

from __future__ import annotations

import logging
from pathlib import Path

from .private import PrivateRotatingFileHandler, private_dir
from .text import CleanFormatter

__all__ = ["setup_logging", "close_logging"]


def setup_logging(log_dir: Path) -> Path | None:
    """traymail's own log file (rotating, in the user log dir): warnings,
    errors with tracebacks, and what the app did. Transcripts go to their
    per-account files. No password ever reaches either (they are masked at
    the source). The folder is 0700, the files 0600."""
    path = log_dir / "traymail.log"
    logger = logging.getLogger("traymail")
    for h in logger.handlers:
        if getattr(h, "baseFilename", None) == str(path):
            return path
    try:
        private_dir(log_dir)
        handler = PrivateRotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                             encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(CleanFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return path


def close_logging(path: Path | None) -> None:
    """Detach and close the app log's handler (Windows cannot delete or
    rotate a file another handle holds open)."""
    if path is None:
        return
    logger = logging.getLogger("traymail")
    for h in list(logger.handlers):
        if getattr(h, "baseFilename", None) == str(path):
            logger.removeHandler(h)
            h.close()
