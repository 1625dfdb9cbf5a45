"""Backups of a whole installation and their restore (docs/backup.md). What an archive holds and when
a restore is refused are rules (rules/backup_manifest.py); this module does the work.

Consistency while phones push:
- SQLite: Python's sqlite3 online backup (Connection.backup, all pages in one step) reads the database
  in one read transaction. In WAL mode writers go on meanwhile and the copy is the database as of
  its start; nothing waits for it. The copy is switched to a rollback journal (one self-contained
  file), checked (PRAGMA quick_check), and counted.
- PostgreSQL: one REPEATABLE READ, READ ONLY transaction exports its snapshot
  (pg_export_snapshot()); the row counts, the Alembic revision and the audit head are read in it,
  and `pg_dump --snapshot` dumps that same snapshot while the transaction stays open. The counts
  are exactly the dump's.
- Photos are listed after the database copy. A photo's file is written (and renamed into place)
  before its row commits, and never changes after, so every photo row of the copy has its file in
  the archive; files of photos that arrived later ride along unused.

Restore writes nothing before the archive has been read whole and every member checked against the
manifest. Then: the database (SQLite: the online backup API into the target, one write transaction,
so a failure leaves the target as it was; PostgreSQL: pg_restore --clean --if-exists --no-owner
--no-privileges --single-transaction), the row counts compared with the manifest, an upgrade when
the backup is older, photos and the secret key each written to a temporary file and renamed into
place, the audit chain verified (with the manifest's head), and a `backup_restore` audit row.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.engine import URL

from .. import audit
from ..extensions import db
from ..photos import photo_dir
from ..rules import backup_manifest as rules

CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to do."""


@dataclass
class Result:
    path: Path
    manifest: dict
    seconds: float
    notes: list[str] = field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------------

def app_version() -> str:
    try:
        return metadata.version("fieldapp")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256_file(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _write_atomically(target: Path, source: Path | bytes, mode: int = 0o600) -> None:
    """Write `source` (a file's path or bytes) to `target` through a temporary file in the same
    directory, fsync'd and renamed over it: a reader sees the old file or the new, never half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                with open(source, "rb") as f:
                    shutil.copyfileobj(f, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _database_kind() -> str:
    name = db.engine.dialect.name
    if name not in rules.DATABASE_MEMBERS:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if database in (None, "", ":memory:"):
        raise BackupError("The database is in memory: there is nothing on disk to back up.")
    return Path(database)


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _pg_counts(conn) -> dict[str, int]:
    names = [r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                             "ORDER BY tablename"))]
    return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


def _audit_head(rows) -> tuple[int, str] | None:
    row = rows.fetchone() if hasattr(rows, "fetchone") else rows
    return (int(row[0]), row[1]) if row else None


_HEAD_SQL = "SELECT seq, row_hash FROM audit_events ORDER BY seq DESC LIMIT 1"


# --- PostgreSQL client tools ----------------------------------------------------------------------------

def _libpq(url: URL) -> tuple[str, dict]:
    """The libpq connection string for `url` (no password: that goes in PGPASSWORD, never on a
    command line other users can read) and the environment for the tool."""
    def quote(value) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    parts = {"dbname": url.database, "host": url.host, "port": url.port, "user": url.username}
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    conninfo = " ".join(f"{k}={quote(v)}" for k, v in parts.items() if v not in (None, ""))
    env = dict(os.environ)  # PGSSLROOTCERT, PGPASSFILE and the like still apply
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _tool(name: str, server_major: int) -> str:
    """The path of pg_dump / pg_restore on PATH, usable with the server; BackupError naming the
    Debian package otherwise."""
    path = shutil.which(name)
    major = None
    if path:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        found = re.search(r"\)\s*(\d+)", done.stdout)
        major = int(found.group(1)) if found else None
    problem = rules.client_problem(name, major, server_major)
    if problem:
        raise BackupError(problem)
    return path


def _server_major(conn) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _run_tool(args: list[str], env: dict) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {done.returncode}):\n{done.stderr.strip()[-2000:]}")


# --- backup (of a database at this app's revision, or an older one: back up before upgrading) ---

def _snapshot_sqlite(staging: Path) -> dict:
    """The consistent copy of the SQLite database, and what the manifest says about it."""
    source_path = _sqlite_path()
    copy_path = staging / "fieldapp.sqlite"
    source = sqlite3.connect(source_path, timeout=current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
    target = sqlite3.connect(copy_path)
    try:
        source.backup(target)  # pages=-1: all in one step, one read transaction: one moment's database
    finally:
        source.close()
    try:
        target.execute("PRAGMA journal_mode = DELETE")
        verdict = target.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"The copy of the database failed SQLite's check: {verdict}")
        counts = _sqlite_counts(target)
        revision = target.execute("SELECT version_num FROM alembic_version").fetchone()
        columns = {(t, r[1]) for t in ("audit_events", "photos") for r in target.execute(f'PRAGMA table_info("{t}")')}
        head = _audit_head(target.execute(_HEAD_SQL)) if ("audit_events", "row_hash") in columns else None
        photo_uids = [r[0] for r in target.execute("SELECT uid FROM photos")] if ("photos", "uid") in columns else []
        version = target.execute("SELECT sqlite_version()").fetchone()[0]
    finally:
        target.close()
    return {"file": copy_path, "counts": counts, "revision": revision[0] if revision else None,
            "head": head, "photo_uids": photo_uids, "server_version": version}


def _snapshot_postgresql(staging: Path) -> dict:
    """pg_dump of one exported snapshot, with the counts read in that snapshot."""
    dump_path = staging / "fieldapp.pgdump"
    engine = db.engine
    with engine.connect() as conn:
        major = _server_major(conn)
        conn.rollback()
        pg_dump = _tool("pg_dump", major)
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _pg_counts(conn)
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            columns = set(conn.execute(text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name IN ('audit_events', 'photos')")).tuples())
            head = _audit_head(conn.execute(text(_HEAD_SQL))) if ("audit_events", "row_hash") in columns else None
            photo_uids = (list(conn.execute(text("SELECT uid FROM photos")).scalars())
                          if ("photos", "uid") in columns else [])
            version = conn.execute(text("SHOW server_version")).scalar_one()
            conninfo, env = _libpq(engine.url)
            _run_tool([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dump_path}",
                       f"--dbname={conninfo}"], env)
    return {"file": dump_path, "counts": counts, "revision": revision, "head": head, "photo_uids": photo_uids,
            "server_version": version}


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile while hashing exactly the bytes that went into the archive."""

    def __init__(self, f):
        self.f, self.digest = f, hashlib.sha256()

    def readable(self):
        return True

    def read(self, size=-1):
        data = self.f.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> dict:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, int(time.time())
        reader = _HashingReader(f)
        tar.addfile(info, reader)
    return rules.file_entry(name, size, reader.digest.hexdigest())


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> dict:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))
    return rules.file_entry(name, len(data), hashlib.sha256(data).hexdigest())


def _photo_files() -> list[tuple[str, Path]]:
    root = photo_dir()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and not path.is_symlink() and rules.include_photo_file(relative):
            name = rules.PHOTO_PREFIX + relative
            if rules.safe_member_name(name):
                found.append((name, path))
    return found


def archive_name(now: datetime) -> str:
    return now.strftime("fieldapp-backup-%Y%m%d-%H%M%S.tar.gz")


def make_backup(target: Path) -> Result:
    """Write the archive to `target` (a directory: a file named by the time inside it). Refuses to
    overwrite an existing file. The archive is written under a temporary name, mode 0600, fsync'd,
    then renamed: an interrupted backup leaves no half archive under the real name."""
    started = time.monotonic()
    now = datetime.now(UTC)
    if target.is_dir():
        target = target / archive_name(now)
    if target.exists():
        raise BackupError(f"{target} exists already: name a new file (or a directory).")
    target.parent.mkdir(parents=True, exist_ok=True)
    kind = _database_kind()
    db.session.rollback()  # hold no transaction of the session's own meanwhile
    staging = Path(tempfile.mkdtemp(prefix=".fieldapp-backup-", dir=target.parent))
    partial = target.with_name(f".{target.name}.partial")
    try:
        snap = _snapshot_sqlite(staging) if kind == "sqlite" else _snapshot_postgresql(staging)
        if not snap["revision"]:
            raise BackupError("The database has no Alembic revision: run `flask --app fieldapp setup` first.")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, rules.ARCHIVE_MODE)
        os.fchmod(fd, rules.ARCHIVE_MODE)  # whatever the umask
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
                files = [_add_file(tar, rules.DATABASE_MEMBERS[kind], snap["file"])]
                Path(snap["file"]).unlink()
                files.append(_add_bytes(tar, rules.SECRET_KEY_MEMBER, current_app.config["SECRET_KEY"].encode()))
                config_py = Path(current_app.instance_path) / "config.py"
                if config_py.is_file():
                    files.append(_add_file(tar, rules.CONFIG_MEMBER, config_py))
                photos = _photo_files()
                for name, path in photos:
                    try:
                        files.append(_add_file(tar, name, path))
                    except FileNotFoundError:  # removed since listed (a thumbnail replaced, say)
                        continue
                kept = {Path(e["path"]).stem for e in files if rules.member_kind(e["path"]) == "photo"}
                missing = [uid for uid in snap["photo_uids"] if uid not in kept]
                manifest = rules.make_manifest(
                    created_at=now, app_version=app_version(), alembic_revision=snap["revision"], database_kind=kind,
                    server_version=str(snap["server_version"]), row_counts=snap["counts"], audit_head=snap["head"],
                    files=files, photos_missing=missing)
                problems = rules.manifest_problems(manifest)
                if problems:  # never write an archive restore would refuse
                    raise BackupError("The manifest would be invalid: " + "; ".join(problems))
                _add_bytes(tar, rules.MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
            raw.flush()
            os.fsync(raw.fileno())
        if target.exists():
            raise BackupError(f"{target} appeared while the backup was written; the backup is left at {partial}.")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    notes = [f"{len(missing)} photo rows have no file in the photo directory"] if missing else []
    photos_in = sum(1 for e in manifest["files"] if rules.member_kind(e["path"]) == "photo")
    if manifest["alembic_revision"] == _revisions()[0]:
        audit.audit(None, "backup_made", None, f"{kind} revision {manifest['alembic_revision']}, {photos_in} photo files",
                    records=sum(n for t, n in manifest["row_counts"].items() if t != "alembic_version"))
        db.session.commit()
    else:  # this app's audit rows do not fit an older schema
        notes.append("the database is at an older schema revision: the backup was not written to its audit log")
    return Result(target, manifest, time.monotonic() - started, notes)


# --- restore ----------------------------------------------------------------------------------------

def read_archive(path: Path, staging: Path) -> dict:
    """Read the whole archive into `staging`, checking every member; the manifest, or BackupError
    saying why the archive is refused. Nothing outside `staging` is written."""
    found: dict[str, tuple[int, str]] = {}
    manifest_bytes = None
    try:
        # Read as a stream to the very end: tarfile stops at the end-of-archive blocks, and gzip checks
        # its CRC only when the whole stream has been read.
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = member.name
                if not member.isfile():
                    raise BackupError(f"The archive holds {name!r}, which is not a plain file: refused.")
                if name == rules.MANIFEST_NAME:
                    if member.size > 64 * 1024 * 1024:
                        raise BackupError("The manifest is implausibly large: refused.")
                    manifest_bytes = tar.extractfile(member).read()
                    continue
                if not rules.safe_member_name(name) or rules.member_kind(name) is None:
                    raise BackupError(f"The archive holds {name!r}, which no fieldapp backup holds: refused.")
                if name in found:
                    raise BackupError(f"The archive holds {name} twice: refused.")
                out_path = staging / name
                out_path.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                source = tar.extractfile(member)
                with open(out_path, "wb") as out:
                    os.fchmod(out.fileno(), 0o600)
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                found[name] = (size, digest.hexdigest())
            while stream.read(CHUNK):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, FileNotFoundError) and not path.exists():
            raise BackupError(f"{path} does not exist.") from None
        raise BackupError(f"{path} is damaged or not a fieldapp backup ({type(error).__name__}: {error}): "
                          "nothing was restored.") from None
    if manifest_bytes is None:
        raise BackupError(f"{path} has no manifest.json: not a fieldapp backup, or cut short. Nothing was restored.")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        raise BackupError("The manifest is not valid JSON: the archive is damaged. Nothing was restored.") from None
    problems = rules.manifest_problems(manifest)
    if not problems:
        problems = rules.file_problems(manifest, found)
    if problems:
        raise BackupError("The archive is refused, nothing was restored:\n  " + "\n  ".join(problems))
    return manifest


def _target_counts(kind: str) -> dict[str, int]:
    if kind == "sqlite":
        path = _sqlite_path()
        if not path.exists():
            return {}
        conn = sqlite3.connect(path, timeout=60)
        try:
            return _sqlite_counts(conn)
        finally:
            conn.close()
    with db.engine.connect() as conn:
        return _pg_counts(conn)


def _revisions() -> tuple[str, set[str]]:
    script = ScriptDirectory(current_app.extensions["migrate"].directory)
    heads = script.get_heads()
    if len(heads) != 1:
        raise BackupError(f"The app's migrations have {len(heads)} heads; restore needs one.")
    return heads[0], {rev.revision for rev in script.walk_revisions()}


def _restore_sqlite(staged: Path) -> None:
    path = _sqlite_path()
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(staged)
    target = sqlite3.connect(path, timeout=current_app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
    try:
        # One write transaction on the target: all pages or, if anything fails, none.
        source.backup(target)
        target.execute("PRAGMA journal_mode = WAL")
        verdict = target.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"The restored database failed SQLite's check: {verdict}")
    finally:
        target.close()
        source.close()
    if created:
        os.chmod(path, 0o600)


def _restore_postgresql(staged: Path, manifest: dict, force: bool) -> list[str]:
    notes = []
    with db.engine.connect() as conn:
        major = _server_major(conn)
    pg_restore = _tool("pg_restore", major)
    backup_tables = set(manifest["row_counts"])
    extra = sorted(set(_target_counts("postgresql")) - backup_tables)
    if extra and force:
        # Tables the backup does not know (a newer schema): they would survive --clean and stop the
        # upgrade. The target was to be replaced whole (--force).
        with db.engine.begin() as conn:
            for name in extra:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
        notes.append(f"dropped {len(extra)} tables the backup does not have: {', '.join(extra)}")
    db.engine.dispose()  # no pooled connection may hold a lock pg_restore's DROP waits for
    conninfo, env = _libpq(db.engine.url)
    _run_tool([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
               "--exit-on-error", f"--dbname={conninfo}", str(staged)], env)
    notes.append("privileges were not restored: as the tables' owner run "
                 "`flask --app fieldapp audit grants --role <app role> --apply` if the app uses its own role")
    return notes


def restore_backup(path: Path, force: bool = False) -> Result:
    """Restore the archive at `path` into the app's database, photo directory and instance folder
    (see the module docstring). Stop the app servers first."""
    started = time.monotonic()
    kind = _database_kind()
    instance = Path(current_app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    db.session.remove()
    staging = Path(tempfile.mkdtemp(prefix=".fieldapp-restore-", dir=instance))
    notes: list[str] = []
    try:
        os.chmod(staging, 0o700)
        refusal = rules.nonempty_refusal(_target_counts(kind))
        if refusal and not force:  # before reading a large archive for nothing
            raise BackupError(refusal)
        manifest = read_archive(path, staging)
        refusal = rules.kind_refusal(manifest["database"]["kind"], kind)
        if refusal:
            raise BackupError(refusal)
        head, known = _revisions()
        plan = rules.revision_plan(manifest["alembic_revision"], head, known)
        if plan == "refuse":
            raise BackupError(f"The backup is at schema revision {manifest['alembic_revision']}, which this version "
                              f"of fieldapp ({app_version()}, revision {head}) does not know: it was made by a newer "
                              f"version ({manifest['app_version']}). Restore it with that version.")
        db.engine.dispose()
        staged_db = staging / manifest["database"]["file"]
        if kind == "sqlite":
            _restore_sqlite(staged_db)
        else:
            notes += _restore_postgresql(staged_db, manifest, force)
        db.engine.dispose()
        differences = rules.count_differences(manifest["row_counts"], _target_counts(kind))
        if differences:
            raise BackupError("The restored database's row counts differ from the manifest:\n  "
                              + "\n  ".join(differences))
        if plan == "upgrade":
            upgrade()
            notes.append(f"upgraded the schema from {manifest['alembic_revision']} to {head}")
        photos = photo_dir()
        written = 0
        for entry in manifest["files"]:
            name = entry["path"]
            if rules.member_kind(name) != "photo":
                continue
            destination = photos / name[len(rules.PHOTO_PREFIX):]
            if destination.is_file() and _sha256_file(destination) == (entry["size"], entry["sha256"]):
                continue
            _write_atomically(destination, staging / name)
            written += 1
        notes.append(f"{written} photo files written to {photos}")
        key_file = staging / rules.SECRET_KEY_MEMBER
        if key_file.exists():
            notes += _restore_secret_key(instance, key_file.read_bytes())
        config_file = staging / rules.CONFIG_MEMBER
        if config_file.exists():
            existing = instance / "config.py"
            if not (existing.is_file() and existing.read_bytes() == config_file.read_bytes()):
                _write_atomically(instance / "config.py.from-backup", config_file)
                notes.append(f"the backup's instance/config.py is at {instance / 'config.py.from-backup'}: "
                             "compare it with this instance's configuration (it was not applied)")
        db.session.remove()
        head_row = manifest["audit_head"]
        verdict = audit.verify(expect_head=(head_row["seq"], head_row["hash"]) if head_row else None)
        db.session.rollback()
        if not verdict.ok:
            raise BackupError("The restored audit log does not verify: " + verdict.message())
        audit.audit(None, "backup_restore", None, f"made {manifest['created_at']}, revision {manifest['alembic_revision']}",
                    records=sum(n for t, n in manifest["row_counts"].items() if t != "alembic_version"))
        db.session.commit()
        notes.append(verdict.message())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Result(path, manifest, time.monotonic() - started, notes)


def _restore_secret_key(instance: Path, key: bytes) -> list[str]:
    """Write instance/secret_key (0600, atomically). When this instance's key comes from its
    configuration (FIELDAPP_SECRET_KEY, config.py) rather than the file, say so if it differs."""
    path = instance / "secret_key"
    in_file = path.read_text(encoding="ascii").strip() if path.is_file() else None
    configured = current_app.config["SECRET_KEY"]
    _write_atomically(path, key)
    notes = [f"secret key written to {path}"]
    if configured != in_file and configured != key.decode("ascii", "replace"):
        notes.append("WARNING: this instance's SECRET_KEY is set in its configuration and differs from the "
                     "backup's: set FIELDAPP_SECRET_KEY (or config.py) to the key in instance/secret_key, or "
                     "phones cannot open their unsent records")
    return notes
