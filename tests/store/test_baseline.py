"""`baseline save|diff|verify` as a user runs them, and the tamper cases B01–B05 of
reference/reliability.md: refused files, edited rows, rollback, deletion, corruption."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedwarden.cli.main import main
from schedwarden.store import BaselineStore, BaselineUnusable, default_path
from tests.conftest import MakeRoot

KEY = "correct horse battery staple"
FILES = {
    "etc/crontab": "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
    "etc/cron.d/certbot": "0 */12 * * * root certbot -q renew\n",
}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDWARDEN_BASELINE_KEY", KEY)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def saved(make_root: MakeRoot, tmp_path: Path) -> tuple[Path, Path, str]:
    """An image, a baseline of it with one snapshot, and the printed chain head."""
    root = make_root(FILES)
    db = tmp_path / "state" / "baseline.db"
    code, out, err = _run("baseline", "save", str(root), "--db", str(db))
    assert code == 0, err
    return root, db, out.strip()


def test_save_prints_the_chain_head_and_diff_is_clean(saved: tuple[Path, Path, str]) -> None:
    root, db, head = saved
    assert head.startswith("1:") and len(head) == 2 + 64
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    code, out, err = _run("baseline", "diff", str(root), "--db", str(db))
    assert (code, out) == (0, "no drift\n")
    assert "0 added, 0 removed, 0 changed since snapshot 1" in err
    code, out, _ = _run("baseline", "verify", "--db", str(db), "--expect-head", head)
    assert code == 0
    assert out == f"ok: 1 snapshots, head {head}\n"


def test_diff_json_and_exit_1_on_drift(saved: tuple[Path, Path, str]) -> None:
    root, db, _ = saved
    (root / "etc/cron.d/evil").write_text("* * * * * root /tmp/\x1b[2Jpayload\n")
    code, out, _ = _run("baseline", "diff", "--root", str(root), "--db", str(db), "-f", "json")
    assert code == 1
    document = json.loads(out)
    assert document["schema"] == "schedwarden.diff/1"
    assert [j["name"] for j in document["added"]] == ["/etc/cron.d/evil:1"]
    assert document["findings"][0]["rule_id"] == "DRIFT_JOB_ADDED"
    code, table, _ = _run("baseline", "diff", str(root), "--db", str(db))
    assert code == 1
    assert table.startswith("+ high     DRIFT_JOB_ADDED")
    assert "\\x1b[2J" in table and "\x1b" not in table


def test_two_snapshots_by_name_and_number(saved: tuple[Path, Path, str]) -> None:
    root, db, _ = saved
    os.remove(root / "etc/cron.d/certbot")
    code, out, _ = _run("baseline", "save", str(root), "--db", str(db), "--name", "after")
    assert code == 0 and out.startswith("2:")
    code, out, _ = _run(
        "baseline", "diff", "--db", str(db), "--snapshot", "1", "--to", "after", "-f", "json"
    )
    assert code == 1
    assert [j["name"] for j in json.loads(out)["removed"]] == ["/etc/cron.d/certbot:1"]
    listing = _run("baseline", "list", "--db", str(db))[1].splitlines()
    assert [line.split("\t")[:2] for line in listing] == [["1", "-"], ["2", "after"]]


def test_default_location_is_the_user_data_dir(
    make_root: MakeRoot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == str(tmp_path / "data" / "schedwarden" / "baseline.db")
    assert _run("baseline", "save", str(make_root(FILES)))[0] == 0
    assert (tmp_path / "data" / "schedwarden" / "baseline.db").is_file()


# -- keys ------------------------------------------------------------------------------------


def test_key_sources(
    saved: tuple[Path, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, db, _ = saved
    monkeypatch.delenv("SCHEDWARDEN_BASELINE_KEY")
    code, _, err = _run("baseline", "verify", "--db", str(db))
    assert code == 2
    assert "BASELINE_NO_KEY" in err
    beside = db.parent / "key"
    beside.write_text(KEY + "\n")
    code, _, err = _run("baseline", "verify", "--db", str(db), "--key-file", str(beside))
    assert code == 2 and "beside the baseline" in err
    elsewhere = tmp_path / "secrets" / "key"
    elsewhere.parent.mkdir()
    elsewhere.write_text(KEY + "\n")
    assert _run("baseline", "verify", "--db", str(db), "--key-file", str(elsewhere))[0] == 0
    monkeypatch.setenv("SCHEDWARDEN_BASELINE_KEY", "not the key")
    code, out, _ = _run("baseline", "verify", "--db", str(db))
    assert code == 4 and out.startswith("BASELINE_KEY_MISMATCH")
    assert _run("baseline", "save", str(root), "--db", str(db))[0] == 4
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 1
    assert KEY not in db.read_bytes().decode("latin-1")


# -- B01: not a regular file -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["symlink", "dangling", "fifo", "devnull"])
def test_b01_database_that_is_not_a_regular_file_is_refused(
    kind: str, saved: tuple[Path, Path, str], tmp_path: Path
) -> None:
    root, db, _ = saved
    bad = tmp_path / "bad.db"
    if kind == "symlink":
        os.symlink(db, bad)
    elif kind == "dangling":
        os.symlink(tmp_path / "nowhere.db", bad)
    elif kind == "fifo":
        os.mkfifo(bad)
    else:
        bad = Path("/dev/null")
    before = _digest(db)
    for args in (
        ("baseline", "save", str(root), "--db", str(bad)),
        ("baseline", "verify", "--db", str(bad)),
        ("baseline", "diff", str(root), "--db", str(bad)),
    ):
        code, _, err = _run(*args)
        assert code == 5, (args, err)
        assert "BASELINE_REFUSED" in err
    assert _digest(db) == before
    assert not (tmp_path / "nowhere.db").exists()
    with pytest.raises(BaselineUnusable):
        BaselineStore.open(str(bad))


# -- B02: a row edited without the key -------------------------------------------------------


def test_b02_edited_row_is_tampering_and_never_re_baselined(saved: tuple[Path, Path, str]) -> None:
    root, db, _ = saved
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE jobs SET document = replace(document, 'certbot -q renew', 'certbot; sh /tmp/x')"
    )
    con.commit()
    con.close()
    code, out, _ = _run("baseline", "verify", "--db", str(db), "-f", "json")
    assert code == 4
    document = json.loads(out)
    assert document["ok"] is False
    assert {f["rule_id"] for f in document["findings"]} == {"BASELINE_TAMPERED"}
    assert _run("baseline", "diff", str(root), "--db", str(db))[0] == 4
    code, out, err = _run("baseline", "save", str(root), "--db", str(db))
    assert code == 4 and out == ""
    assert "BASELINE_TAMPERED" in err
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == 1


def test_b02_edited_snapshot_header_and_deleted_snapshot(saved: tuple[Path, Path, str]) -> None:
    root, db, _ = saved
    for _ in range(2):
        assert _run("baseline", "save", str(root), "--db", str(db))[0] == 0
    con = sqlite3.connect(db)
    con.execute("UPDATE snapshots SET job_count = job_count - 1 WHERE id = 3")
    con.commit()
    assert _run("baseline", "verify", "--db", str(db))[0] == 4
    con.execute("UPDATE snapshots SET job_count = job_count + 1 WHERE id = 3")
    con.commit()
    assert _run("baseline", "verify", "--db", str(db))[0] == 0
    con.execute("DELETE FROM jobs WHERE snapshot_id = 2")
    con.execute("DELETE FROM snapshots WHERE id = 2")
    con.commit()
    con.close()
    code, out, _ = _run("baseline", "verify", "--db", str(db))
    assert code == 4
    assert out.startswith("BASELINE_SNAPSHOT_DELETED: snapshot 2 is missing")


# -- B03: rollback to an older, validly signed copy ------------------------------------------


def test_b03_rollback_detected_with_the_chain_head(
    saved: tuple[Path, Path, str], tmp_path: Path
) -> None:
    root, db, _ = saved
    old = tmp_path / "old.db"
    shutil.copy(db, old)
    (root / "etc/cron.d/evil").write_text("* * * * * root /tmp/evil\n")
    code, head, _ = _run("baseline", "save", str(root), "--db", str(db))
    assert code == 0
    shutil.copy(old, db)  # the intruder puts back the copy without its job
    assert _run("baseline", "verify", "--db", str(db))[0] == 0  # valid on its own
    code, out, _ = _run("baseline", "verify", "--db", str(db), "--expect-head", head.strip())
    assert code == 4
    assert out.startswith("BASELINE_ROLLBACK")
    assert (
        _run("baseline", "diff", str(root), "--db", str(db), "--expect-head", head.strip())[0] == 4
    )
    assert (
        _run("baseline", "save", str(root), "--db", str(db), "--expect-head", head.strip())[0] == 4
    )
    # a different copy with the same number of snapshots is caught by the MAC of the head
    forged = head.strip().split(":")[0] + ":" + "0" * 64
    assert _run("baseline", "verify", "--db", str(db), "--expect-head", forged)[0] == 4
    assert _run("baseline", "verify", "--db", str(db), "--expect-head", "nonsense")[0] == 2


# -- B04: the database deleted ---------------------------------------------------------------


def test_b04_deleted_database_is_never_a_silent_first_run(saved: tuple[Path, Path, str]) -> None:
    root, db, head = saved
    db.unlink()
    code, out, _ = _run("baseline", "verify", "--db", str(db))
    assert code == 4 and out.startswith("BASELINE_MISSING")
    code, _, err = _run("baseline", "diff", str(root), "--db", str(db))
    assert code == 4 and "BASELINE_MISSING" in err
    code, _, err = _run("baseline", "save", str(root), "--db", str(db), "--expect-head", head)
    assert code == 4 and "BASELINE_MISSING" in err
    assert not db.exists()


# -- B05: corrupt or foreign -----------------------------------------------------------------


def _corrupt(db: Path, how: str) -> Path:
    if how == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2])
        return db
    if how == "random":
        db.write_bytes(os.urandom(8192))
        return db
    if how == "empty":
        db.write_bytes(b"")
        return db
    if how == "foreign-wal":
        wal = Path(str(db) + "-wal")
        wal.write_bytes(os.urandom(4096))
        return wal
    if how == "flipped-page":
        page = bytearray(db.read_bytes())
        for offset in range(4096 + 8, 4096 + 200):  # inside page 2's header and cell area
            page[offset] ^= 0xFF
        db.write_bytes(bytes(page))
        return db
    con = sqlite3.connect(db.parent / "other.db")
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    shutil.copy(db.parent / "other.db", db)
    return db


@pytest.mark.parametrize(
    "how", ["truncated", "random", "empty", "foreign-wal", "flipped-page", "foreign-db"]
)
def test_b05_corrupt_or_foreign_database_is_reported_and_kept(
    how: str, saved: tuple[Path, Path, str]
) -> None:
    root, db, _ = saved
    changed = _corrupt(db, how)
    kept = {p: _digest(p) for p in (db, changed)}
    for args in (
        ("baseline", "verify", "--db", str(db)),
        ("baseline", "diff", str(root), "--db", str(db)),
        ("baseline", "save", str(root), "--db", str(db)),
    ):
        code, out, err = _run(*args)
        assert code == 5, (how, args, out, err)
        assert ("BASELINE_FOREIGN" if how == "foreign-db" else "BASELINE_CORRUPT") in err
    assert {p: _digest(p) for p in kept} == kept


def test_interrupted_save_leaves_the_previous_snapshot(
    saved: tuple[Path, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal during the write rolls the transaction back and exits 6."""
    import signal

    from schedwarden.store.canonical import canonical as real

    root, db, head = saved

    def slow_canonical(*args: object) -> bytes:
        os.kill(os.getpid(), signal.SIGTERM)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("schedwarden.store.database.canonical", slow_canonical)
    code, out, err = _run("baseline", "save", str(root), "--db", str(db))
    assert code == 6 and out == ""
    assert "interrupted by SIGTERM" in err
    monkeypatch.undo()
    monkeypatch.setenv("SCHEDWARDEN_BASELINE_KEY", KEY)
    assert _run("baseline", "verify", "--db", str(db), "--expect-head", head) == (
        0,
        f"ok: 1 snapshots, head {head}\n",
        "",
    )
