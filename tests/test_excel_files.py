"""rules.excel_files: the bytes of downloaded CSV and .xlsx files."""
import io

from openpyxl import Workbook, load_workbook

from fieldapp.rules.excel_files import csv_bytes, workbook_bytes


def test_csv_bytes_has_bom_crlf_and_quotes():
    data = csv_bytes([["行号", "问题"], [2, "a,b"]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == '行号,问题\r\n2,"a,b"\r\n'


def test_workbook_bytes_round_trip():
    book = Workbook()
    book.active.append(["村居", 3])
    again = load_workbook(io.BytesIO(workbook_bytes(book)))
    assert [c.value for c in again.active[1]] == ["村居", 3]
