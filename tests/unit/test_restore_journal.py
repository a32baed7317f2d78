"""The restore journal's record: written and read back, removed only when a restore finishes, and a record that
does not read counted as an unfinished restore (never as a clean store), with a message naming the way back."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from app.errors import Conflict, StoreUnavailable
from app.repos.restore_journal import FORMAT, RestoreJournal, RestoreRecord, Unfinished
from app.store.journal_places import JOURNAL_FILE, FilePlace

MANIFEST = {"created_at": "2026-11-30T03:00:00.000000+00:00", "collections": {"_multivec_meta": {}, "documents__1": {}},
            "aliases": {"documents": "documents__1"}}


class Interrupted(BaseException):
    """Stands in for the process dying inside the restore (not an Exception: nothing catches it on the way)."""


def record(tmp_path: Path, sha: str = "a" * 64, name: str = "nightly") -> RestoreRecord:
    return RestoreRecord.of(tmp_path / "backups" / name, tmp_path / "backups", MANIFEST, sha)


def journal(tmp_path: Path, ttl_s: float = 0.0) -> RestoreJournal:
    return RestoreJournal(FilePlace(tmp_path / JOURNAL_FILE), ttl_s=ttl_s)


def test_a_record_reads_back_as_written_and_names_the_backup_and_both_commands(tmp_path: Path) -> None:
    written = record(tmp_path)
    FilePlace(tmp_path / JOURNAL_FILE).write(written.to_bytes())
    found = journal(tmp_path).read()
    assert found is not None and found.record == written and written.name == "nightly"
    assert written.collections == ["_multivec_meta", "documents__1"] and written.manifest_sha256 == "a" * 64
    with pytest.raises(StoreUnavailable) as err:
        journal(tmp_path).check()
    message = err.value.message
    assert message.startswith("a restore of backup nightly did not finish") and "\n" not in message
    assert f"scripts/restore --force {tmp_path / 'backups' / 'nightly'} with the service stopped" in message
    assert "scripts/restore --url URL --force nightly through the running service" in message
    assert err.value.detail["restore"]["manifest_sha256"] == "a" * 64
    # a backup folder outside the service's backup folder has no --url form
    elsewhere = RestoreRecord.of(tmp_path / "kept" / "bk", tmp_path / "backups", MANIFEST, "b" * 64)
    assert elsewhere.name is None and "--url" not in journal_with(tmp_path / "two", elsewhere).message()


def journal_with(folder: Path, rec: RestoreRecord) -> Unfinished:
    folder.mkdir()
    FilePlace(folder / JOURNAL_FILE).write(rec.to_bytes())
    found = journal(folder).read()
    assert found is not None
    return found


@pytest.mark.parametrize(("content", "why"), [
    (b"", "it is not JSON"),
    (b'{"format": "multivec-restore-journal", "backup": ', "it is not JSON"),
    (b"\xff\xfe not text", "it is not JSON"),
    (b"[]", "it is not a multivec-restore-journal record"),
    (json.dumps({"format": "something-else"}).encode(), "it is not a multivec-restore-journal record"),
    ("drop:pid", "its 'pid' is missing or not a int"),
    ("pid:true", "its 'pid' is missing or not a int"),
    ("collections:{}", "its 'collections' is missing or not a list"),
    ("name:7", "its 'name' is not a string"),
    (b"[" * 100_000, "it is not JSON"),
    # shown in the one-line message: a hand-edited newline or escape code made it four lines (a break test)
    ('backup:"/srv/backups/night\\nly"', "its 'backup' holds a control character"),
    ('host:"vm\\u001b[31m"', "its 'host' holds a control character"),
    ("pid:" + "9" * 30, "its 'pid' is no process id"),
    ("pid:0", "its 'pid' is no process id"),
])
def test_a_record_that_does_not_read_is_an_unfinished_restore_never_a_clean_store(
        tmp_path: Path, content: bytes | str, why: str) -> None:
    if isinstance(content, str):  # an edit of a good record: drop a field, or give it another type
        key, _, value = content.partition(":")
        data = json.loads(record(tmp_path).to_bytes())
        if key == "drop" or value == "":
            del data[value or key]
        else:
            data[key] = json.loads(value)
        content = json.dumps(data).encode()
    (tmp_path / JOURNAL_FILE).write_bytes(content)
    j = journal(tmp_path)
    with pytest.raises(StoreUnavailable) as err:
        j.check()
    assert err.value.message.startswith(f"a restore did not finish and its record does not read "
                                        f"({tmp_path / JOURNAL_FILE}: {why}")
    assert "scripts/restore --force FOLDER with the service stopped" in err.value.message
    with pytest.raises(Conflict):
        j.refuse_backup()
    with pytest.raises(Conflict, match="pass force"):  # which backup it was is unknown: only force replaces it
        j.admit("a" * 64, force=False)
    assert j.admit("a" * 64, force=True) is False


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(("make", "why"), [
    (Path.mkdir, "it is a folder, not a file"),
    (_fifo, "it is a FIFO, not a file"),  # opened, it hung the service for good (a break test)
    (lambda p: p.symlink_to("/nonexistent/x"), "it is a symbolic link, not a file"),  # it passed for no record
    (lambda p: p.symlink_to("/dev/zero"), "it is a symbolic link, not a file"),  # it would be read without end
    (lambda p: os.truncate(p.write_bytes(b"") or p, (1 << 20) + 1), "it is 1,048,577 bytes, larger than any record"),
])
def test_anything_at_the_path_that_is_no_record_file_is_an_unfinished_restore_and_is_never_opened(
        tmp_path: Path, make: Callable[[Path], object], why: str) -> None:
    make(tmp_path / JOURNAL_FILE)
    with pytest.raises(StoreUnavailable, match=rf"its record does not read .*it cannot be read: {why}"):
        journal(tmp_path).check()


def test_a_link_to_a_good_record_is_refused_too(tmp_path: Path) -> None:
    """The journal is the service's own file, never a link: one is refused whatever it points at."""
    (tmp_path / "elsewhere.json").write_bytes(record(tmp_path).to_bytes())
    (tmp_path / JOURNAL_FILE).symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(StoreUnavailable, match="it is a symbolic link, not a file"):
        journal(tmp_path).check()


def test_the_message_quotes_what_it_names_and_says_not_to_remove_the_record(tmp_path: Path) -> None:
    r = RestoreRecord.of(tmp_path / "bk dir" / "night ly", tmp_path / "bk dir", MANIFEST, "b" * 64)
    message = Unfinished(str(tmp_path / JOURNAL_FILE), r).message()
    assert f"scripts/restore --force '{tmp_path}/bk dir/night ly' with the service stopped" in message
    assert "scripts/restore --url URL --force 'night ly' through the running service, while the service that ran " \
           "the restore still runs" in message  # an embedded store's: no other service can start on the folder
    assert f"do not remove {tmp_path / JOURNAL_FILE} by hand" in message and "\n" not in message


def test_the_record_stays_while_a_restore_runs_and_after_it_breaks_and_goes_when_it_finishes(tmp_path: Path) -> None:
    j, other = journal(tmp_path), journal(tmp_path)  # `other`: another process on the same store
    j.check()
    assert j.admit("a" * 64, force=False) is False  # nothing to finish
    with pytest.raises(Interrupted), j.restoring(record(tmp_path)):
        assert (tmp_path / JOURNAL_FILE).is_file()
        j.check()  # this process's own restore, while it runs, is not an interrupted one
        with pytest.raises(StoreUnavailable):
            other.check()
        raise Interrupted
    assert json.loads((tmp_path / JOURNAL_FILE).read_bytes())["format"] == FORMAT
    with pytest.raises(StoreUnavailable, match="a restore of backup nightly did not finish"):
        j.check()
    with pytest.raises(Conflict, match="no backup of a store holding an unfinished restore"):
        j.refuse_backup()
    assert j.admit("a" * 64, force=False) is True  # the same backup again: it finishes that restore
    with pytest.raises(Conflict, match="To restore this other backup in its place, pass force"):
        j.admit("b" * 64, force=False)
    with j.restoring(record(tmp_path, sha="b" * 64, name="other")):  # another backup, forced, replaces it
        pass
    assert not (tmp_path / JOURNAL_FILE).exists() and not list(tmp_path.glob(f".{JOURNAL_FILE}*"))
    j.check()
    other.check()
    j.refuse_backup()


def test_a_read_is_reused_for_the_ttl_and_a_fresh_read_sees_another_process_s_record(tmp_path: Path) -> None:
    slow = journal(tmp_path, ttl_s=3600.0)
    slow.check()  # read: nothing
    FilePlace(tmp_path / JOURNAL_FILE).write(record(tmp_path).to_bytes())  # another process's restore began
    slow.check()  # within the TTL the last read stands
    assert slow.read() is not None
    with pytest.raises(StoreUnavailable):
        slow.check()
