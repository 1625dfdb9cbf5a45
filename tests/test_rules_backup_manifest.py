"""rules/backup_manifest.py: what goes into a backup archive, the manifest's rules, when a restore is refused."""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from fieldapp.rules import backup_manifest as rules

DIGEST = "ab" * 32


def _manifest(**changes) -> dict:
    files = [rules.file_entry("database/fieldapp.sqlite", 4096, DIGEST),
             rules.file_entry("instance/secret_key", 64, "cd" * 32),
             rules.file_entry("photos/11111111-1111-4111-8111-111111111111.jpg", 1234, "ef" * 32)]
    manifest = rules.make_manifest(created_at=datetime(2026, 12, 3, 7, 30, 5, tzinfo=UTC), app_version="0.1.0",
                                   alembic_revision="bfeac20fcbe7", database_kind="sqlite", server_version="3.40.1",
                                   row_counts={"people": 12, "alembic_version": 1, "houses": 3},
                                   audit_head=(41, "0f" * 32), files=files, photos_missing=[])
    manifest.update(changes)
    return manifest


def test_a_made_manifest_is_valid_and_sorted():
    manifest = _manifest()
    assert rules.manifest_problems(manifest) == []
    assert manifest["created_at"] == "2026-12-03T07:30:05Z"
    assert list(manifest["row_counts"]) == ["alembic_version", "houses", "people"]
    assert manifest["audit_head"] == {"seq": 41, "hash": "0f" * 32}
    assert manifest["database"] == {"kind": "sqlite", "file": "database/fieldapp.sqlite", "server_version": "3.40.1"}


@pytest.mark.parametrize("change, expected", [
    ({"format": "something-else"}, "format is 'something-else'"),
    ({"format_version": 2}, "format_version 2 is not supported"),
    ({"created_at": "03/12/2026"}, "created_at '03/12/2026'"),
    ({"app_version": ""}, "app_version is missing"),
    ({"alembic_revision": "../x"}, "alembic_revision '../x'"),
    ({"database": {"kind": "mysql", "file": "database/x"}}, "database kind 'mysql'"),
    ({"database": {"kind": "postgresql", "file": "database/fieldapp.sqlite"}}, "is not 'database/fieldapp.pgdump'"),
    ({"row_counts": {}}, "row_counts is missing"),
    ({"row_counts": {"people": -1}}, "row count 'people'"),
    ({"row_counts": {"people; DROP": 1}}, "row count 'people; DROP'"),
    ({"row_counts": {"people": True}}, "row count 'people'"),
    ({"audit_head": {"seq": 0, "hash": "0f" * 32}}, "audit_head"),
    ({"audit_head": {"seq": 3, "hash": "XYZ"}}, "audit_head"),
    ({"photos_missing": "none"}, "photos_missing"),
    ({"files": "all"}, "files is not a list"),
])
def test_manifest_rules(change, expected):
    problems = rules.manifest_problems(_manifest(**change))
    assert any(expected in p for p in problems), problems


def test_not_an_object():
    assert rules.manifest_problems(["format"]) == ["the manifest is not a JSON object"]


@pytest.mark.parametrize("entry, expected", [
    ({"path": "../etc/passwd", "size": 1, "sha256": DIGEST}, "not a name an archive holds"),
    ({"path": "/etc/passwd", "size": 1, "sha256": DIGEST}, "not a name an archive holds"),
    ({"path": "photos/partial/x.part", "size": 1, "sha256": DIGEST}, "not a name an archive holds"),
    ({"path": "notes.txt", "size": 1, "sha256": DIGEST}, "not a name an archive holds"),
    ({"path": "photos/a.jpg", "size": -3, "sha256": DIGEST}, "size -3"),
    ({"path": "photos/a.jpg", "size": 3, "sha256": DIGEST.upper()}, "64 lower-case hex"),
    ({"path": "instance/secret_key", "size": 3, "sha256": DIGEST}, "more than one secret key"),
    ({"path": "photos/11111111-1111-4111-8111-111111111111.jpg", "size": 1, "sha256": DIGEST}, "listed twice"),
    ({"path": "database/fieldapp.pgdump", "size": 1, "sha256": DIGEST}, "2 database files listed"),
])
def test_file_list_rules(entry, expected):
    manifest = _manifest()
    manifest["files"].append(entry)
    problems = rules.manifest_problems(manifest)
    assert any(expected in p for p in problems), problems


def test_the_database_file_is_required():
    manifest = _manifest()
    manifest["files"] = [f for f in manifest["files"] if not f["path"].startswith("database/")]
    assert "0 database files listed (one expected)" in rules.manifest_problems(manifest)


@pytest.mark.parametrize("relative, included", [
    ("0b9e.jpg", True), ("thumbs/0b9e.jpg", True), ("partial/0b9e.part", False), ("partial/0b9e.json", False),
    ("0b9e.1234.5678.tmp", False), (".nfs0001", False), ("", False),
])
def test_which_photo_files_go_in(relative, included):
    assert rules.include_photo_file(relative) is included


@pytest.mark.parametrize("name, safe", [
    ("photos/a.jpg", True), ("database/fieldapp.sqlite", True), ("../x", False), ("photos/../../x", False),
    ("/abs", False), ("photos//a.jpg", False), ("photos/./a.jpg", False), ("photos\\a.jpg", False),
    ("C:/x", False), ("photos/a\x00.jpg", False), ("photos/" + "a" * 300, False), ("", False),
])
def test_safe_member_names(name, safe):
    assert rules.safe_member_name(name) is safe


def test_member_kinds():
    assert rules.member_kind("database/fieldapp.pgdump") == "database"
    assert rules.member_kind("instance/secret_key") == "secret_key"
    assert rules.member_kind("instance/config.py") == "config"
    assert rules.member_kind("photos/x.jpg") == "photo"
    assert rules.member_kind("instance/fieldapp.sqlite") is None
    assert rules.member_kind("manifest.json") is None  # read on its own, never as a listed file


def test_file_problems_name_each_difference():
    manifest = _manifest()
    found = {f["path"]: (f["size"], f["sha256"]) for f in manifest["files"]}
    assert rules.file_problems(manifest, found) == []
    damaged = copy.deepcopy(found)
    damaged["database/fieldapp.sqlite"] = (4096, "00" * 32)
    damaged["photos/11111111-1111-4111-8111-111111111111.jpg"] = (1200, "ef" * 32)
    del damaged["instance/secret_key"]
    damaged["photos/extra.jpg"] = (1, DIGEST)
    assert rules.file_problems(manifest, damaged) == [
        "database/fieldapp.sqlite is damaged: its SHA-256 differs from the manifest's",
        "instance/secret_key is listed in the manifest but missing from the archive",
        "photos/11111111-1111-4111-8111-111111111111.jpg has 1200 bytes, the manifest says 1234",
        "photos/extra.jpg is in the archive but not in the manifest",
    ]


def test_count_differences():
    assert rules.count_differences({"a": 1, "b": 2}, {"a": 1, "b": 2}) == []
    assert rules.count_differences({"a": 1, "b": 2}, {"a": 1, "c": 0}) == [
        "b: manifest 2, restored None", "c: manifest None, restored 0"]


def test_revision_plan():
    known = {"9f1005fb3d60", "c66ad3e7fa40", "bfeac20fcbe7"}
    assert rules.revision_plan("bfeac20fcbe7", "bfeac20fcbe7", known) == "same"
    assert rules.revision_plan("c66ad3e7fa40", "bfeac20fcbe7", known) == "upgrade"
    assert rules.revision_plan("0123456789ab", "bfeac20fcbe7", known) == "refuse"


def test_kind_and_emptiness_refusals():
    assert rules.kind_refusal("sqlite", "sqlite") is None
    assert "a sqlite backup" in rules.kind_refusal("sqlite", "postgresql")
    assert rules.nonempty_refusal({}) is None
    assert rules.nonempty_refusal({"alembic_version": 1, "people": 0}) is None
    refusal = rules.nonempty_refusal({"alembic_version": 1, "people": 5, "houses": 2, "towns": 0})
    assert "7 rows in 2 tables" in refusal and "--force" in refusal


def test_postgresql_client_rules():
    assert rules.client_package(15) == "postgresql-client-15"
    assert rules.client_problem("pg_dump", 15, 15) is None
    assert rules.client_problem("pg_dump", 16, 15) is None  # a newer pg_dump dumps an older server
    missing = rules.client_problem("pg_dump", None, 15)
    assert "not found on PATH" in missing and "apt-get install postgresql-client-15" in missing
    old = rules.client_problem("pg_restore", 13, 15)
    assert "version 13" in old and "postgresql-client-15" in old and "/usr/lib/postgresql/15/bin" in old
