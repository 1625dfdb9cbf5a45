"""`flask --app fieldapp backup` / `restore` (docs/backup.md), through the CLI as an operator runs them.

- test_backup_while_phones_push_restores_elsewhere: the app as shipped (gunicorn, 3 workers) with
  simulated phones pushing records and photos; a backup is taken in the middle of it; the archive is
  restored into a fresh instance folder and database elsewhere; there the row counts equal the
  manifest, `recount` finds nothing to repair, `audit verify` passes with the manifest's head, every
  photo row has its file with the source's SHA-256, and the secret key came along.
- test_damaged_archives_are_refused: a flipped byte, a cut-off file, a member changed after the
  manifest was written, a member the manifest does not list, a path escaping the staging folder:
  each refused, and the target stays empty.
- test_restore_refuses_a_database_with_data_unless_forced.
Each runs on SQLite, and on PostgreSQL when FIELDAPP_TEST_DATABASE_URL is set (restoring into a second
scratch database the test creates and drops).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fieldapp.rules import backup_manifest as rules

from .server_process import ROOT, AppServer, app_env, server_database
from .sync_fault_driver import FaultConfig, check_counters, make_accounts, register_devices, run_phones

SECRET = "backup-test-secret"


def flask(database_url: str, instance: Path, photos: Path, *args: str, secret: str | None = SECRET,
          check: bool = True) -> subprocess.CompletedProcess:
    """`flask --app fieldapp <args>` in a process of its own, with its own instance folder and photo
    directory; without `secret` the instance's secret_key file is used (as an installation does)."""
    env = app_env(database_url, secret or "", {"FIELDAPP_INSTANCE_PATH": str(instance),
                                               "FIELDAPP_PHOTO_DIR": str(photos)})
    if secret is None:
        env.pop("FIELDAPP_SECRET_KEY")
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "fieldapp", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture
def server_db(backend, database_url, tmp_path):
    yield from server_database(backend, database_url, tmp_path, SECRET)


@pytest.fixture
def scratch_url(backend, database_url, tmp_path):
    """scratch_url(name) -> an empty database: a SQLite file in a fresh folder tmp_path/<name>, or a
    PostgreSQL database made next to the scratch one (<scratch>_<name>) and dropped afterwards."""
    made = []
    url = make_url(database_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT") if backend == "postgresql" else None

    def make(name: str) -> str:
        if backend == "sqlite":
            (tmp_path / name).mkdir()
            return "sqlite:///" + str(tmp_path / name / "fieldapp.sqlite")
        database = f"{url.database}_{name.replace('-', '_')}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        made.append(database)
        return url.set(database=database).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for database in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def restore_url(scratch_url):
    """The database to restore into (its folder, for SQLite, is the restored instance folder)."""
    return scratch_url("restored-instance")


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                names = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
            else:
                names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%'")).scalars()
            return {n: conn.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in list(names)}
    finally:
        engine.dispose()


def _column(url: str, sql: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).scalars())
    finally:
        engine.dispose()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(archive: Path) -> dict:
    with tarfile.open(archive, "r:gz") as tar:
        return json.loads(tar.extractfile(rules.MANIFEST_NAME).read())


def _wait_for(predicate, within: float):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_backup_while_phones_push_restores_elsewhere(backend, server_db, restore_url, tmp_path):
    source_instance, source_photos = tmp_path / "source-instance", tmp_path / "photos"
    accounts = make_accounts(server_db, 6, secret_key=SECRET)
    server = AppServer(server_db, SECRET, tmp_path / "server.log", workers=3, threads=8,
                       extra_env={"FIELDAPP_PHOTO_DIR": str(source_photos),
                                  "FIELDAPP_INSTANCE_PATH": str(source_instance)})
    archive = tmp_path / "backups" / "nightly.tar.gz"
    archive.parent.mkdir()
    outcome = {}
    server.start()
    try:
        tokens = register_devices([server], accounts["collectors"])
        # 40 rounds: on an idle 2-core machine 16 rounds (408 receipts) were all in before pg_dump's
        # snapshot, the backup command's start-up being slower than the phones; 40 keep them pushing.
        config = FaultConfig(phones=6, rounds=40, seed=20161203, p_duplicate=0.05, p_race_duplicate=0,
                             p_defer_houses=0.1, p_drop=0.05, p_reuse=0, p_bad_item=0, p_photo=0.6, kills=0,
                             deadline_seconds=300)
        phones = threading.Thread(target=lambda: outcome.update(
            zip(("phones", "report"), run_phones([server], accounts, tokens, config))), daemon=True)
        phones.start()

        def receipts() -> int:
            return _counts(server_db)["sync_receipts"]
        assert _wait_for(lambda: receipts() >= 20 and any(source_photos.glob("*.jpg")), 120), "phones never pushed"
        before = receipts()
        done = flask(server_db, source_instance, source_photos, "backup", str(archive))
        after = receipts()
        phones.join(400)
        assert not phones.is_alive(), "the phones did not finish"
    finally:
        server.stop()
    report = outcome["report"]
    assert report.summary()["5xx"] == 0, report.summary()
    manifest = _manifest(archive)
    final = _counts(server_db)
    # The backup's snapshot was taken while pushes landed: it holds at least what was there when the
    # command started and fewer receipts than the phones made in the end (they went on writing after
    # the snapshot). Whether they were still writing when the command itself returned depends on the
    # machine's speed (pg_dump and the archive take seconds), so that is not asked.
    copied = manifest["row_counts"]["sync_receipts"]
    assert before <= copied <= after and copied < final["sync_receipts"], \
        (before, copied, after, final["sync_receipts"])
    assert "Backup written" in done.stdout
    assert archive.stat().st_mode & 0o777 == 0o600
    assert not rules.manifest_problems(manifest)
    assert manifest["database"]["kind"] == backend
    assert manifest["alembic_revision"] == _column(server_db, "SELECT version_num FROM alembic_version")[0]
    assert manifest["photos_missing"] == []

    # Elsewhere: a fresh installation (its own instance folder, database and photo directory).
    target_instance, target_photos = tmp_path / "restored-instance", tmp_path / "restored-photos"
    flask(restore_url, target_instance, target_photos, "setup", "--no-demo", secret=None)
    restored = flask(restore_url, target_instance, target_photos, "restore", str(archive), secret=None)
    assert "counts checked" in restored.stdout, restored.stdout

    counts = _counts(restore_url)
    expected = dict(manifest["row_counts"])
    expected["audit_events"] += 1  # the restore's own audit row
    assert counts == expected
    assert counts["people"] > 0 and counts["photos"] > 0 and counts["visits"] > 0

    # Counters consistent: recount repairs nothing.
    assert check_counters(restore_url, lambda: flask(restore_url, target_instance, target_photos, "recount",
                                                     secret=None).stdout) == []
    # The audit chain verifies, and still holds the head the backup recorded.
    head = manifest["audit_head"]
    verified = flask(restore_url, target_instance, target_photos, "audit", "verify", "--expect-head",
                     f"{head['seq']}:{head['hash']}", secret=None)
    assert verified.stdout.startswith("OK:"), verified.stdout
    assert _column(restore_url, "SELECT action FROM audit_events ORDER BY seq DESC LIMIT 1") == ["backup_restore"]

    # Every photo row has its file, byte for byte the source's.
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    for uid in _column(restore_url, "SELECT uid FROM photos"):
        restored_file = target_photos / f"{uid}.jpg"
        assert restored_file.is_file(), uid
        digest = _sha256(restored_file)
        assert digest == _sha256(source_photos / f"{uid}.jpg") == listed[f"photos/{uid}.jpg"]

    # The secret key came along (the phones' PIN salt derives from it), readable by the owner only.
    key_file = target_instance / "secret_key"
    assert key_file.read_text() == SECRET and key_file.stat().st_mode & 0o777 == 0o600
    # The records are the source's (every restored person is in the source, same version or older).
    source_people = dict(zip(_column(server_db, "SELECT uid FROM people ORDER BY uid"),
                             _column(server_db, "SELECT version FROM people ORDER BY uid")))
    restored_people = dict(zip(_column(restore_url, "SELECT uid FROM people ORDER BY uid"),
                               _column(restore_url, "SELECT version FROM people ORDER BY uid")))
    assert all(uid in source_people and version <= source_people[uid] for uid, version in restored_people.items())
    print(json.dumps({"backend": backend, "receipts_before": before, "in_backup": manifest["row_counts"]["sync_receipts"],
                      "receipts_after": after, "final": final["sync_receipts"], "archive_bytes": archive.stat().st_size,
                      "photos": len([p for p in listed if p.startswith("photos/")])}))


# --- a small installation for the refusal tests ---------------------------------------------------------

@pytest.fixture
def small_backup(server_db, tmp_path):
    """An archive of a small installation (a town, collectors, no pushes) with two photo files."""
    instance, photos = tmp_path / "small-instance", tmp_path / "small-photos"
    make_accounts(server_db, 2, villages=2, secret_key=SECRET)
    photos.mkdir()
    (photos / "11111111-1111-4111-8111-111111111111.jpg").write_bytes(b"\xff\xd8 first photo \xff\xd9")
    (photos / "22222222-2222-4222-8222-222222222222.jpg").write_bytes(b"\xff\xd8 second photo \xff\xd9")
    (photos / "partial").mkdir()
    (photos / "partial" / "33333333-3333-4333-8333-333333333333.part").write_bytes(b"half")
    archive = tmp_path / "small.tar.gz"
    flask(server_db, instance, photos, "backup", str(archive))
    return archive


def _repack(source: Path, target: Path, change) -> None:
    """Copy the archive member by member; change(name, data) returns new bytes, or None to keep."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = old.extractfile(member).read()
            data = change(member.name, data) or data
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def _add_member(source: Path, target: Path, name: str, data: bytes) -> None:
    _repack(source, target, lambda n, d: None)
    with tarfile.open(target, "r:gz") as t:
        members = [(m, t.extractfile(m).read()) for m in t]
    with tarfile.open(target, "w:gz") as new:
        extra = tarfile.TarInfo(name)
        extra.size = len(data)
        new.addfile(extra, io.BytesIO(data))
        for member, content in members:
            new.addfile(member, io.BytesIO(content))


def test_damaged_archives_are_refused(small_backup, restore_url, tmp_path):
    instance, photos = tmp_path / "restored-instance", tmp_path / "restored-photos"
    flask(restore_url, instance, photos, "setup", "--no-demo")
    raw = small_backup.read_bytes()
    manifest = _manifest(small_backup)
    assert "photos/partial/33333333-3333-4333-8333-333333333333.part" not in {f["path"] for f in manifest["files"]}
    damaged = {}
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0x55
    damaged["flipped byte"] = bytes(flipped)
    damaged["cut short"] = raw[: len(raw) * 2 // 3]
    variants = tmp_path / "variants"
    variants.mkdir()
    photo = "photos/11111111-1111-4111-8111-111111111111.jpg"
    _repack(small_backup, variants / "changed.tar.gz",
            lambda name, data: b"\xff\xd8 FIRST photo \xff\xd9" if name == photo else None)
    damaged["member changed"] = (variants / "changed.tar.gz").read_bytes()
    _add_member(small_backup, variants / "unlisted.tar.gz", "photos/44444444-4444-4444-8444-444444444444.jpg", b"x")
    damaged["unlisted member"] = (variants / "unlisted.tar.gz").read_bytes()
    _add_member(small_backup, variants / "escape.tar.gz", "../../escaped.txt", b"x")
    damaged["path escaping"] = (variants / "escape.tar.gz").read_bytes()
    _repack(small_backup, variants / "manifest.tar.gz",
            lambda name, data: data.replace(b'"format_version": 1', b'"format_version": 9')
            if name == rules.MANIFEST_NAME else None)
    damaged["manifest of another version"] = (variants / "manifest.tar.gz").read_bytes()

    reasons = {"flipped byte": r"damaged|SHA-256|CRC", "cut short": r"damaged|cut short|no manifest",
               "member changed": re.escape(photo) + r" is damaged", "unlisted member": "not in the manifest",
               "path escaping": "no fieldapp backup holds", "manifest of another version": "format_version 9"}
    for what, data in damaged.items():
        path = variants / f"{what.replace(' ', '-')}.tar.gz"
        path.write_bytes(data)
        done = flask(restore_url, instance, photos, "restore", str(path), "--force", check=False)
        assert done.returncode != 0, (what, done.stdout)
        assert re.search(reasons[what], done.stderr), (what, done.stderr)
        assert "nothing was restored" in done.stderr.lower() or "refused" in done.stderr.lower(), (what, done.stderr)
        counts = _counts(restore_url)
        assert {t: n for t, n in counts.items() if n and t != "alembic_version"} == {}, (what, counts)
        assert not photos.exists() or not any(photos.iterdir()), what
        assert not (tmp_path / "escaped.txt").exists()
    # Nothing was left behind in the instance folder but what setup made.
    assert not [p for p in instance.iterdir() if p.name.startswith(".fieldapp-restore-")]


def test_restore_refuses_a_database_with_data_unless_forced(small_backup, restore_url, tmp_path):
    instance, photos = tmp_path / "restored-instance", tmp_path / "restored-photos"
    flask(restore_url, instance, photos, "restore", str(small_backup))  # into a database without tables
    manifest = _manifest(small_backup)
    first = _counts(restore_url)
    assert first["accounts"] == manifest["row_counts"]["accounts"] > 0

    again = flask(restore_url, instance, photos, "restore", str(small_backup), check=False)
    assert again.returncode != 0
    assert "already holds data" in again.stderr and "--force" in again.stderr, again.stderr
    assert _counts(restore_url) == first

    forced = flask(restore_url, instance, photos, "restore", str(small_backup), "--force")
    assert "counts checked" in forced.stdout
    counts = _counts(restore_url)
    assert counts["accounts"] == manifest["row_counts"]["accounts"]
    assert counts["audit_events"] == manifest["row_counts"]["audit_events"] + 1
    assert sorted(p.name for p in photos.iterdir()) == ["11111111-1111-4111-8111-111111111111.jpg",
                                                        "22222222-2222-4222-8222-222222222222.jpg"]
    for entry in manifest["files"]:
        if entry["path"].startswith("photos/"):
            restored_file = photos / entry["path"].removeprefix("photos/")
            assert _sha256(restored_file) == entry["sha256"]
            assert restored_file.stat().st_mode & 0o777 == 0o600


def test_backup_refuses_to_overwrite_and_names_a_file_in_a_directory(small_backup, server_db, tmp_path):
    instance, photos = tmp_path / "small-instance", tmp_path / "small-photos"
    again = flask(server_db, instance, photos, "backup", str(small_backup), check=False)
    assert again.returncode != 0 and "exists already" in again.stderr
    folder = tmp_path / "nightly"
    folder.mkdir()
    flask(server_db, instance, photos, "backup", str(folder))
    [made] = list(folder.iterdir())
    assert re.fullmatch(r"fieldapp-backup-\d{8}-\d{6}\.tar\.gz", made.name)
    assert made.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path / "nightly") == [made.name]  # no staging or partial file left


def test_a_backup_of_an_older_schema_is_upgraded_on_restore(scratch_url, restore_url, tmp_path):
    """Back up before upgrading: a database still at an older revision (here before the audit
    chain) is backed up as it is, and restore brings it to this app's revision."""
    old_url = scratch_url("old")
    instance, photos = tmp_path / "old", tmp_path / "old-photos"
    flask(old_url, instance, photos, "db", "upgrade", "086d5beeeeea")
    archive = tmp_path / "old.tar.gz"
    made = flask(old_url, instance, photos, "backup", str(archive))
    assert "older schema revision" in made.stderr
    manifest = _manifest(archive)
    assert manifest["alembic_revision"] == "086d5beeeeea" and manifest["audit_head"] is None
    target_instance, target_photos = tmp_path / "restored-instance", tmp_path / "restored-photos"
    restored = flask(restore_url, target_instance, target_photos, "restore", str(archive))
    assert "upgraded the schema from 086d5beeeeea" in restored.stdout
    head = _column(restore_url, "SELECT version_num FROM alembic_version")
    assert head == [flask(restore_url, target_instance, target_photos, "db", "heads").stdout.split()[0]]
    assert flask(restore_url, target_instance, target_photos, "audit", "verify").stdout.startswith("OK:")


def test_a_backup_from_a_newer_version_is_refused(small_backup, restore_url, tmp_path):
    """A revision this app does not know was made by a newer version: refused, nothing written."""
    changed = tmp_path / "newer.tar.gz"
    _repack(small_backup, changed, lambda name, data: None)
    with tarfile.open(changed, "r:gz") as t:
        members = {m.name: t.extractfile(m).read() for m in t}
    manifest = json.loads(members[rules.MANIFEST_NAME])
    manifest["alembic_revision"] = "ffffffffffff"
    members[rules.MANIFEST_NAME] = json.dumps(manifest).encode()
    with tarfile.open(changed, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    instance, photos = tmp_path / "restored-instance", tmp_path / "restored-photos"
    done = flask(restore_url, instance, photos, "restore", str(changed), check=False)
    assert done.returncode != 0 and "does not know" in done.stderr and "newer" in done.stderr, done.stderr
    assert not {t: n for t, n in _counts(restore_url).items() if n}


def test_missing_postgresql_tools_are_named(backend, server_db, tmp_path):
    """Without pg_dump on PATH the backup stops at once and names the Debian package to install."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's client tools")
    env = app_env(server_db, SECRET, {"FIELDAPP_INSTANCE_PATH": str(tmp_path / "i"), "FIELDAPP_PHOTO_DIR": str(tmp_path / "p"),
                                      "PATH": str(Path(sys.executable).parent)})
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "fieldapp", "backup", str(tmp_path / "b.tar.gz")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "pg_dump was not found on PATH" in done.stderr and "postgresql-client-15" in done.stderr, done.stderr
    assert not list(tmp_path.glob("*.tar.gz")) and not list(tmp_path.glob(".*partial"))
