"""The private rotating log (transcripts, the app log): it rotates as
:class:`logging.handlers.RotatingFileHandler` does, on Windows too (the
Windows lane runs this module: a file cannot be renamed there while open)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from traymail.private import PrivateRotatingFileHandler


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("traymail.test.rotation")
    log.propagate = False
    yield log
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


def lines(folder: Path, *names: str) -> list[str]:
    return [line for n in names if (folder / n).exists()
            for line in (folder / n).read_text(encoding="utf-8").splitlines()]


def test_rotates_oldest_last_and_keeps_backup_count(tmp_path: Path,
                                                   logger: logging.Logger) -> None:
    logger.addHandler(PrivateRotatingFileHandler(tmp_path / "r.log", maxBytes=100,
                                                 backupCount=2, encoding="utf-8"))
    for i in range(20):
        logger.warning("line %02d of a log that rotates", i)  # 31 octets with the newline
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.log", "r.log.1", "r.log.2"]
    kept = lines(tmp_path, "r.log.2", "r.log.1", "r.log")
    # in order, the newest last, nothing lost but what fell off the last backup
    assert kept == [f"line {i:02d} of a log that rotates" for i in range(20 - len(kept), 20)]
    assert len(kept) == 8  # three lines a full file (a fourth would reach maxBytes): 3+3+2
    assert all((tmp_path / n).stat().st_size < 100 for n in ("r.log", "r.log.1", "r.log.2"))


def test_a_record_longer_than_max_bytes_gets_a_file_of_its_own(
        tmp_path: Path, logger: logging.Logger) -> None:
    logger.addHandler(PrivateRotatingFileHandler(tmp_path / "r.log", maxBytes=40,
                                                 backupCount=3, encoding="utf-8",
                                                 delay=True))
    assert not (tmp_path / "r.log").exists()  # delay: opened at the first record
    logger.warning("short")
    logger.warning("x" * 200)
    logger.warning("after")
    assert lines(tmp_path, "r.log.2", "r.log.1", "r.log") == ["short", "x" * 200, "after"]


def test_continues_an_existing_file_and_reopens_after_close(
        tmp_path: Path, logger: logging.Logger) -> None:
    (tmp_path / "r.log").write_text("from before\n", encoding="utf-8")
    handler = PrivateRotatingFileHandler(tmp_path / "r.log", maxBytes=1000, backupCount=1,
                                         encoding="utf-8", delay=True)
    logger.addHandler(handler)
    logger.warning("one")
    handler.close()  # (as close_file_logger after each session)
    logger.warning("two")
    assert lines(tmp_path, "r.log") == ["from before", "one", "two"]


def test_no_backups_means_no_rotation(tmp_path: Path, logger: logging.Logger) -> None:
    logger.addHandler(PrivateRotatingFileHandler(tmp_path / "r.log", maxBytes=20,
                                                 backupCount=0, encoding="utf-8"))
    for i in range(5):
        logger.warning("record %d", i)
    assert [p.name for p in tmp_path.iterdir()] == ["r.log"]
    assert len(lines(tmp_path, "r.log")) == 5


def test_same_files_as_the_standard_rotating_handler(tmp_path: Path,
                                                     logger: logging.Logger) -> None:
    import logging.handlers

    ours, std = tmp_path / "ours", tmp_path / "std"
    ours.mkdir()
    std.mkdir()
    logger.addHandler(PrivateRotatingFileHandler(ours / "t.log", maxBytes=300, backupCount=3,
                                                 encoding="utf-8"))
    logger.addHandler(logging.handlers.RotatingFileHandler(std / "t.log", maxBytes=300,
                                                           backupCount=3, encoding="utf-8"))
    for i in range(60):
        logger.warning("record %d %s", i, "ж" * (i * 7 % 50))
    names = sorted(p.name for p in std.iterdir())
    assert sorted(p.name for p in ours.iterdir()) == names == [
        "t.log", "t.log.1", "t.log.2", "t.log.3"]
    for n in names:
        assert (ours / n).read_bytes() == (std / n).read_bytes(), n
