"""House register import: CSV in UTF-8 (with and without BOM) and GB18030, .xlsx; a row-by-row
report of what is rejected and why; all or nothing; size and row caps; scope; the CLI."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fieldapp.extensions import db
from fieldapp.models import AuditEvent, Change, House
from fieldapp.rules.register_import import FileProblem, decode_text, map_header, parse_row

from .builders import db_state, english, make_account, make_house, make_town
from .doors_builders import csv_bytes, upload, xlsx_bytes

GOOD_ROWS = [
    ["东村", "3", None, None, "27号", None, None, "30.52", "110.38"],
    ["东村", "3组", None, None, "28", None, None, None, None],
    ["V2", None, "人民路", "5弄", "12", "2栋", "301室", None, None],  # the village by its code
]


def _houses():
    return list(db.session.scalars(select(House).order_by(House.id)))


@pytest.fixture
def world(ctx):
    town, (east, west) = make_town()
    return {"town": town, "east": east, "west": west, "supervisor": make_account(town, "supervisor")}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding_imports_every_row(world, login, encoding):
    client = english(login(world["supervisor"]))
    response = upload(client, csv_bytes(GOOD_ROWS, encoding))
    assert response.status_code == 303, response.text[:2000]
    houses = _houses()
    assert [(h.village.name, h.group_name, h.road, h.lane, h.number, h.building, h.room) for h in houses] == [
        ("东村", "3", None, None, "27", None, None), ("东村", "3", None, None, "28", None, None),
        ("西村", None, "人民路", "5", "12", "2", "301")]
    assert (houses[0].lat, houses[0].lon) == (30.52, 110.38) and houses[1].lat is None
    assert all(h.collected_at is None for h in houses)  # in the register, not yet visited
    assert len({h.door_code for h in houses}) == 3 and all(len(h.door_token) >= 27 for h in houses)
    sources = set(db.session.scalars(select(Change.source).where(Change.entity == "house")))
    assert sources == {"import"}
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "houses_imported"))
    assert audit.account_id == world["supervisor"].id and audit.detail == "3 houses"


def test_gbk_bytes_really_are_not_utf8():
    data = csv_bytes(GOOD_ROWS, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert decode_text(data).startswith("村,组")
    assert decode_text(csv_bytes(GOOD_ROWS, "utf-8-sig")).startswith("村,组")  # BOM dropped
    assert decode_text("村\t号\r\n".encode("utf-16")).startswith("村\t号")  # Excel "Unicode text"
    with pytest.raises(FileProblem):
        decode_text(b"abc\x80\xff\x80")


def test_xlsx_imports_with_numbers_as_cells(world, login):
    client = english(login(world["supervisor"]))
    rows = [["东村", 3, None, None, 27, None, None, 30.52, 110.38], ["东村", 3.0, None, None, 28.0, None, None, None, None]]
    response = upload(client, xlsx_bytes(rows), "register.xlsx")
    assert response.status_code == 303, response.text[:2000]
    assert [(h.group_name, h.number, h.lat) for h in _houses()] == [("3", "27", 30.52), ("3", "28", None)]


def test_english_headers_tabs_and_ignored_columns(world, login):
    client = english(login(world["supervisor"]))
    data = csv_bytes([["东村", "1", "9", "张三"]], header=["Village", "Group", "Number", "Owner name"],
                     delimiter="\t")
    response = upload(client, data, action="check_only")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Owner name" in text  # named as ignored: owners are collected at the door, not imported
    assert _houses() == []  # checking imports nothing


def test_every_rejection_is_reported_by_row_and_nothing_is_imported(world, login):
    make_house(world["east"], number="1", group="1")  # already in the register
    client = english(login(world["supervisor"]))
    rows = [
        ["东村", "2", None, None, "5", None, None, None, None],        # 2: valid
        ["北村", "2", None, None, "6", None, None, None, None],        # 3: unknown village
        ["东村", "2", None, None, None, None, None, None, None],       # 4: missing number
        ["东村", "2组", None, None, "5号", None, None, None, None],    # 5: duplicate of row 2
        ["东村", "1", None, None, "1", None, None, None, None],        # 6: already registered
        ["东村", "2", None, None, "7", None, None, "110.3", "30.5"],   # 7: latitude/longitude swapped
        ["东村", "2", None, None, "8", None, None, "30.5", None],      # 8: half a position
        ["东村", "2", None, None, "9", None, None, "abc", "110"],      # 9: not a number
        ["东村", "2", None, None, "1" * 40, None, None, None, None],   # 10: too long
        ["东村", "2", None, None, "10\x07", None, None, None, None],    # 11: control character
        ["", "2", None, None, "11", None, None, None, None],           # 12: no village
        [None] * 9,                                                    # blank: skipped
    ]
    before = db_state()
    response = upload(client, csv_bytes(rows))
    assert response.status_code == 422
    assert db_state() == before  # nothing half-imported
    text = response.get_data(as_text=True)
    report = text[text.index("<tbody>"):text.index("</tbody>")]
    expected = {3: "No village of yours", 4: "No door number given", 5: "in row 2 of this file",
                6: "already in the register", 7: "Not a latitude in China", 8: "both latitude and longitude",
                9: "Not a latitude", 10: "Too long", 11: "control characters", 12: "No village given"}
    for line, why in expected.items():
        row = report[report.index(f'<th scope="row">{line}</th>'):]
        assert why in row[:row.index("</tr>")], (line, why)
    assert '<th scope="row">2</th>' not in report
    assert "10 rejected" in text and "11 rows read" in text


def test_village_of_another_town_or_out_of_scope_is_unknown(ctx, login):
    town, (east, west) = make_town()
    head = make_account(town, "supervisor")
    # A village head cannot import at all (doors.manage): admin and supervisor only.
    assert login(make_account(town, "village_head", [east])).get("/doors/import").status_code == 403
    response = upload(english(login(head)), csv_bytes([["远村", "1", None, None, "1", None, None, None, None]]))
    assert response.status_code == 422 and "No village of yours" in response.get_data(as_text=True)


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    ("村,组\r\n东村,1\r\n".encode(), "lacks a column"),
    ("村,号,号\r\n东村,1,2\r\n".encode(), "Two columns"),
    (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old Excel file"),
    (b"PK\x03\x04" + b"\0" * 100, "not a readable CSV or .xlsx"),
    ("村,号\r\n".encode(), "empty"),
])
def test_unreadable_files_say_what_to_do(world, login, data, why):
    response = upload(english(login(world["supervisor"])), data)
    assert response.status_code == 422
    assert why in response.get_data(as_text=True)
    assert _houses() == []


def test_size_and_row_caps(make_app, login, ctx):
    town, (east, _west) = make_town()
    account = make_account(town, "supervisor")
    small = make_app(DOOR_IMPORT_MAX_BYTES=2000, DOOR_IMPORT_MAX_ROWS=5)
    client = small.test_client()
    from .builders import sign_in
    sign_in(client, account.collection_id)
    english(client)
    many = csv_bytes([["东村", "1", None, None, str(n), None, None, None, None] for n in range(6)])
    response = upload(client, many)
    assert response.status_code == 422 and "more than 5 rows" in response.get_data(as_text=True)
    big = csv_bytes([["东村", "1", None, None, str(n), None, None, None, None] for n in range(200)])
    assert len(big) > 2000
    response = upload(client, big)
    assert response.status_code == 422 and "larger than" in response.get_data(as_text=True)
    huge = b"x" * 200_000  # far past the cap: refused before it is parsed
    assert upload(client, huge).status_code == 413
    assert _houses() == []


def test_an_error_while_writing_rolls_everything_back(world, login, monkeypatch):
    from fieldapp import records
    real = records.create_house
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "create_house", failing)
    client = english(login(world["supervisor"]))
    with pytest.raises(RuntimeError):
        upload(client, csv_bytes(GOOD_ROWS))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(House)) == 0


def test_header_aliases_and_row_rules():
    columns, ignored = map_header(["村（居）", " 门牌号 ", "组别", "业主"])
    assert columns == {"village": 0, "number": 1, "group_name": 2} and ignored == ["业主"]
    row = parse_row(2, ["东村", "２７号", "３组"], columns)  # full-width digits from an input method
    assert row.address["number"] == "27" and row.address["group_name"] == "3" and not row.issues
    assert parse_row(3, ["", " ", None], columns) is None  # blank row
    lone = parse_row(4, ["东村", "号", ""], columns)
    assert lone.address["number"] == "号"  # a lone suffix is kept, not emptied


def test_cli_checks_then_imports(world, runner, tmp_path):
    path = tmp_path / "register.csv"
    path.write_bytes(csv_bytes(GOOD_ROWS, "gb18030"))
    result = runner.invoke(args=["import-houses", str(path), "--check"])
    assert result.exit_code == 0, result.output
    assert "3 rows read: 3 valid, 0 rejected" in result.output and _houses() == []
    result = runner.invoke(args=["import-houses", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 houses" in result.output and len(_houses()) == 3
    result = runner.invoke(args=["import-houses", str(path)])  # again: every row is now a duplicate
    assert result.exit_code != 0
    assert "row 2: Door number (号): This address is already in the register." in result.output
    assert len(_houses()) == 3
