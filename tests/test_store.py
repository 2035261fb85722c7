"""State database: survives restarts, corrupt files are moved aside, never dropped."""

from __future__ import annotations

from pathlib import Path

from traymail.store import Store


def test_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    s = Store(db)
    assert s.sync_uids("a", {"u1": 10, "u2": 20}) == ["u1", "u2"]
    s.set_announced("a", ["u1"])
    s.mark("a", {"u2": 20})
    s.close()
    s2 = Store(db)
    assert s2.sync_uids("a", {"u1": 10, "u2": 20, "u3": 5}) == ["u3"]
    assert s2.flags("a")["u1"] == (True, False)
    assert s2.marks("a") == {"u2": 20}
    assert s2.sync_uids("b", {"u1": 1}) == ["u1"]  # accounts are separate
    assert s2.recovered_from is None


def test_corrupt_database_is_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    s = Store(db)
    assert s.recovered_from is not None and s.recovered_from.exists()
    assert s.recovered_from.read_bytes().startswith(b"this is not a database")
    assert s.sync_uids("a", {"x": 1}) == ["x"]  # a fresh, working database


def test_vanished_uids_are_forgotten(tmp_path: Path) -> None:
    s = Store(tmp_path / "s.db")
    s.sync_uids("a", {"u1": 1, "u2": 2})
    s.sync_uids("a", {"u2": 2})
    assert set(s.sizes("a")) == {"u2"}
