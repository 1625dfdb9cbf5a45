"""Backup archives (`flask --app fieldapp backup` / `restore`): what goes in, what the manifest says,
and when a restore is refused. Pure rules, no Flask, no database, no files.

What an archive holds
---------------------
One gzip-compressed tar file, mode 0600 (it holds the secret key and personal data), with:
- ``database/fieldapp.sqlite``: a consistent copy of the SQLite database (SQLite's online backup, taken
  while the app runs), or ``database/fieldapp.pgdump``: ``pg_dump --format=custom`` of PostgreSQL,
  taken in one snapshot;
- ``instance/secret_key``: the app's secret key (sessions, the phones' PIN salt and sign-in throttle
  keys are derived from it: a restored app with another key locks every phone's unsent records);
- ``instance/config.py`` when the instance has one (restored beside the target's, never over it);
- ``photos/...``: every file of the photo directory but unfinished uploads (``partial/``) and
  half-written files (``*.tmp``);
- ``manifest.json`` (last): the format, the app's version, the Alembic revision, the database kind,
  the row count of every table in the copy, the newest audit row (seq and hash), the time it was
  made, and every other member with its size and SHA-256.

When a restore is refused
-------------------------
- the manifest is missing, not JSON, or breaks a rule of ``manifest_problems``;
- a member is not a plain file, has an unsafe name (absolute, ``..``, backslashes, control
  characters), is not listed, or its size or SHA-256 differs from the manifest (``file_problems``);
- the backup's database kind differs from the target's (a SQLite backup restores into SQLite);
- the backup's Alembic revision is unknown to this version of the app (made by a newer one);
- the target database already holds rows (any table but ``alembic_version``), unless forced.
A backup at an older revision is restored, then upgraded.
"""
from __future__ import annotations

import re
from datetime import datetime

FORMAT = "fieldapp-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database/fieldapp.sqlite", "postgresql": "database/fieldapp.pgdump"}
SECRET_KEY_MEMBER = "instance/secret_key"
CONFIG_MEMBER = "instance/config.py"
PHOTO_PREFIX = "photos/"
ARCHIVE_MODE = 0o600
KINDS = ("database", "secret_key", "config", "photo")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_REVISION = re.compile(r"[0-9A-Za-z_]{1,64}")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\:]")
MAX_NAME = 255


def include_photo_file(relative: str) -> bool:
    """Whether a file of the photo directory (path relative to it, '/'-separated) goes into a
    backup: everything but unfinished uploads (partial/, resumed from the start after a restore)
    and files being written (*.tmp, renamed into place when whole)."""
    parts = relative.split("/")
    if not relative or parts[0] == "partial":
        return False
    return not parts[-1].endswith(".tmp") and not parts[-1].startswith(".")


def safe_member_name(name: str) -> bool:
    """A member name restore may write below its staging directory: relative, '/'-separated, no
    empty, '.' or '..' parts, no backslash, colon or control character, at most MAX_NAME long."""
    if not name or len(name) > MAX_NAME or name.startswith("/") or _UNSAFE.search(name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def member_kind(name: str) -> str | None:
    """What a member is (one of KINDS), or None for a name no archive holds."""
    if name in DATABASE_MEMBERS.values():
        return "database"
    if name == SECRET_KEY_MEMBER:
        return "secret_key"
    if name == CONFIG_MEMBER:
        return "config"
    if name.startswith(PHOTO_PREFIX) and safe_member_name(name) and include_photo_file(name[len(PHOTO_PREFIX):]):
        return "photo"
    return None


def file_entry(name: str, size: int, sha256: str) -> dict:
    return {"path": name, "size": size, "sha256": sha256}


def make_manifest(*, created_at: datetime, app_version: str, alembic_revision: str, database_kind: str,
                  server_version: str, row_counts: dict[str, int], audit_head: tuple[int, str] | None,
                  files: list[dict], photos_missing: list[str]) -> dict:
    """The manifest written last into an archive. `created_at` is UTC; `files` come from
    file_entry(), sorted by path; `photos_missing` names photo rows of the copy without a file."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "app_version": app_version, "alembic_revision": alembic_revision,
        "database": {"kind": database_kind, "file": DATABASE_MEMBERS[database_kind], "server_version": server_version},
        "row_counts": dict(sorted(row_counts.items())),
        "audit_head": {"seq": audit_head[0], "hash": audit_head[1]} if audit_head else None,
        "photos_missing": sorted(photos_missing),
        "files": sorted(files, key=lambda f: f["path"]),
    }


def manifest_problems(manifest) -> list[str]:
    """Every way `manifest` (parsed JSON) breaks the format; [] when it is a valid version-1 manifest.
    Rules: an object with format FORMAT and format_version FORMAT_VERSION; created_at as
    YYYY-MM-DDTHH:MM:SSZ; app_version a non-empty string; alembic_revision a revision id; database
    {kind: sqlite|postgresql, file: that kind's member}; row_counts {table name: count >= 0};
    audit_head null or {seq >= 1, hash: 64 hex}; files a list of {path, size >= 0, sha256: 64 lower-case
    hex} with safe, distinct paths of a known kind, exactly one of them the database, at most one
    secret key; photos_missing a list of strings."""
    if not isinstance(manifest, dict):
        return ["the manifest is not a JSON object"]
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"format is {manifest.get('format')!r}, not {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version {manifest.get('format_version')!r} is not supported (only {FORMAT_VERSION})")
    created = manifest.get("created_at")
    try:
        datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        problems.append(f"created_at {created!r} is not YYYY-MM-DDTHH:MM:SSZ")
    if not isinstance(manifest.get("app_version"), str) or not manifest["app_version"]:
        problems.append("app_version is missing")
    revision = manifest.get("alembic_revision")
    if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
        problems.append(f"alembic_revision {revision!r} is not a revision id")
    database = manifest.get("database")
    kind = database.get("kind") if isinstance(database, dict) else None
    if kind not in DATABASE_MEMBERS:
        problems.append(f"database kind {kind!r} is neither sqlite nor postgresql")
    elif database.get("file") != DATABASE_MEMBERS[kind]:
        problems.append(f"database file {database.get('file')!r} is not {DATABASE_MEMBERS[kind]!r}")
    counts = manifest.get("row_counts")
    if not isinstance(counts, dict) or not counts:
        problems.append("row_counts is missing")
    else:
        for table, count in counts.items():
            if not _TABLE.fullmatch(table) or type(count) is not int or count < 0:
                problems.append(f"row count {table!r}: {count!r} is not a table and a count")
    head = manifest.get("audit_head")
    if head is not None and not (isinstance(head, dict) and type(head.get("seq")) is int and head["seq"] >= 1
                                 and isinstance(head.get("hash"), str) and _SHA256.fullmatch(head["hash"])):
        problems.append(f"audit_head {head!r} is not {{seq, hash}}")
    missing = manifest.get("photos_missing", [])
    if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
        problems.append("photos_missing is not a list of photo uids")
    problems += _files_problems(manifest.get("files"), kind)
    return problems


def _files_problems(files, kind) -> list[str]:
    if not isinstance(files, list):
        return ["files is not a list"]
    problems, seen, kinds = [], set(), []
    for entry in files:
        if not isinstance(entry, dict):
            problems.append(f"file entry {entry!r} is not an object")
            continue
        path, size, digest = entry.get("path"), entry.get("size"), entry.get("sha256")
        if not isinstance(path, str) or not safe_member_name(path) or member_kind(path) is None:
            problems.append(f"file {path!r} is not a name an archive holds")
            continue
        if path in seen:
            problems.append(f"file {path} is listed twice")
        seen.add(path)
        kinds.append(member_kind(path))
        if type(size) is not int or size < 0:
            problems.append(f"file {path}: size {size!r} is not a byte count")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            problems.append(f"file {path}: sha256 {digest!r} is not 64 lower-case hex digits")
    if kinds.count("database") != 1:
        problems.append(f"{kinds.count('database')} database files listed (one expected)")
    elif kind in DATABASE_MEMBERS and DATABASE_MEMBERS[kind] not in seen:
        problems.append(f"the database file {DATABASE_MEMBERS[kind]} is not listed")
    if kinds.count("secret_key") > 1:
        problems.append("more than one secret key listed")
    return problems


def file_problems(manifest: dict, found: dict[str, tuple[int, str]]) -> list[str]:
    """Compare the members read from an archive, {name: (size, sha256)} without the manifest, with
    the manifest's file list: every listed file present with its size and hash, nothing unlisted."""
    listed = {f["path"]: (f["size"], f["sha256"]) for f in manifest["files"]}
    problems = []
    for name in sorted(set(listed) | set(found)):
        if name not in found:
            problems.append(f"{name} is listed in the manifest but missing from the archive")
        elif name not in listed:
            problems.append(f"{name} is in the archive but not in the manifest")
        elif found[name][0] != listed[name][0]:
            problems.append(f"{name} has {found[name][0]} bytes, the manifest says {listed[name][0]}")
        elif found[name][1] != listed[name][1]:
            problems.append(f"{name} is damaged: its SHA-256 differs from the manifest's")
    return problems


def count_differences(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    """Tables whose row count after a restore differs from the manifest's (a table missing on one
    side counts as a difference)."""
    return [f"{table}: manifest {expected.get(table)}, restored {actual.get(table)}"
            for table in sorted(set(expected) | set(actual)) if expected.get(table) != actual.get(table)]


def revision_plan(backup_revision: str, head: str, known: set[str]) -> str:
    """What a restore does about the schema: 'same' (the backup is at this app's head), 'upgrade'
    (an older revision this app knows: restore, then upgrade), 'refuse' (unknown: made by a newer
    version of the app, which must do the restore)."""
    if backup_revision == head:
        return "same"
    return "upgrade" if backup_revision in known else "refuse"


def kind_refusal(backup_kind: str, target_kind: str) -> str | None:
    """Why a backup of one database kind cannot restore into the target's, or None when it can."""
    if backup_kind == target_kind:
        return None
    return (f"This is a {backup_kind} backup and the app's database is {target_kind}: a backup restores "
            f"into the same kind of database. Point FIELDAPP_SQLALCHEMY_DATABASE_URI at a {backup_kind} database.")


def nonempty_refusal(row_counts: dict[str, int]) -> str | None:
    """The target database holds data when any table but alembic_version has a row: then a restore
    (which replaces everything) needs --force. None when it is empty or has no tables."""
    filled = {t: n for t, n in row_counts.items() if t != "alembic_version" and n}
    if not filled:
        return None
    return (f"The database already holds data ({sum(filled.values())} rows in {len(filled)} tables). "
            f"A restore replaces all of it: make a backup of it first, then run restore again with --force.")


def client_package(server_major: int) -> str:
    """The Debian package with pg_dump and pg_restore for a PostgreSQL server of this major version."""
    return f"postgresql-client-{server_major}"


def client_problem(tool: str, tool_major: int | None, server_major: int) -> str | None:
    """Why the PostgreSQL client tool `tool` (found with major version `tool_major`, None when not on
    PATH) cannot serve a server of `server_major`: pg_dump refuses a server newer than itself, and
    pg_restore reads only archives of its own version or older. Same major version is the rule."""
    package = client_package(server_major)
    if tool_major is None:
        return (f"{tool} was not found on PATH. Install the PostgreSQL {server_major} client tools "
                f"(Debian/Ubuntu: apt-get install {package}; other versions from apt.postgresql.org) "
                f"or put their bin directory on PATH.")
    if tool_major < server_major:
        return (f"{tool} is version {tool_major} and the server is PostgreSQL {server_major}: install {package} "
                f"and put its {tool} first on PATH (Debian: /usr/lib/postgresql/{server_major}/bin).")
    return None
