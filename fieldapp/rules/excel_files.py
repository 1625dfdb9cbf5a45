"""Downloaded files as bytes, written so that Excel opens them cleanly: pure, no Flask, no database.

A CSV file is UTF-8 with a byte-order mark (without it Excel reads the Chinese as the system code
page) and CRLF line ends; an .xlsx file is an openpyxl workbook saved to memory.
"""
from __future__ import annotations

import csv
import io


def csv_bytes(rows) -> bytes:
    """`rows` (lists of cell values, the header first) as CSV for Excel (module docstring)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for values in rows:
        writer.writerow(values)
    return out.getvalue().encode("utf-8-sig")


def workbook_bytes(book) -> bytes:
    """An openpyxl workbook saved as .xlsx bytes."""
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
