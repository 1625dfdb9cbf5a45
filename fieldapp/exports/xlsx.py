"""A streaming .xlsx writer for exports: rows go straight into the zip, nothing is kept per row.

Why not openpyxl's write_only mode (which the tests use to read every export back): measured on
this project's machine (bench/export_people.py --openpyxl), it writes about 2,300 rows of 45 cells
a second, so a million people would take over seven minutes against a target of one. Its cost is
per cell (a cell object, a style lookup, an ElementTree element serialised by et_xmlfile); here a
row is one string built from the already formatted cells. What it writes is what openpyxl's
write_only mode writes for text: inline strings (t="inlineStr"), so there is no shared-string table
growing with the export, and every cell is text (codes keep their leading zeros, 18-digit document
numbers their last digits, and nothing is ever run as a formula). The header row is bold, frozen
and has an auto filter; column widths come from the layout.

A sheet holds at most 1,048,576 rows (Excel's limit): a longer export goes on in a second sheet
named "<title> (2)", with the header again.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import BinaryIO

MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included
FLUSH_ROWS = 2000

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Rows are written a chunk at a time: cells joined by NUL and rows by RS (0x1e), characters no
# cell holds (XML cannot carry them: they are removed from cells first), the chunk encoded once,
# stripped of the control characters XML 1.0 cannot carry and escaped with bytes operations over
# the whole chunk, then the separators replaced by the tags between two cells and two rows. Python
# work per cell would cost several times more (bench/export_people.py).
_CELL_SEP, _ROW_SEP = "\x00", "\x1e"
_ILLEGAL_BYTES = bytes([*range(1, 9), 11, 12, *range(14, 30), 31])  # all of 0x00-0x1f but NUL, RS, \t \n \r
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_OPEN = b'<row><c t="inlineStr"><is><t>'
_CLOSE = b"</t></is></c></row>"
_BETWEEN_CELLS = b'</t></is></c><c t="inlineStr"><is><t>'
_BETWEEN_ROWS = _CLOSE + _OPEN
_EMPTY = b'<c t="inlineStr"><is><t></t></is></c>'


def _chunk(rows: list[Sequence[str]], width: int) -> bytes:
    """Rows as <row> elements: every cell an inline string, in column order. Cells and rows carry
    no reference (r): each is the next column or row (ECMA-376 18.3.1.4 and 18.3.1.73), and empty
    cells are written too, so that the columns stay in place."""
    data = _ROW_SEP.join([_CELL_SEP.join(values) for values in rows]).encode("utf-8")
    if data.count(b"\x00") != len(rows) * (width - 1) or data.count(b"\x1e") != len(rows) - 1:
        # A cell held one of the separators (or a row had the wrong width): clean cell by cell.
        rows = [[_ILLEGAL_CHARS.sub("", v) for v in values] + [""] * (width - len(values)) for values in rows]
        data = _ROW_SEP.join([_CELL_SEP.join(values[:width]) for values in rows]).encode("utf-8")
    data = data.translate(None, _ILLEGAL_BYTES)
    if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:  # U+FFFE, U+FFFF
        data = data.replace(b"\xef\xbf\xbe", b"").replace(b"\xef\xbf\xbf", b"")
    if b"&" in data:
        data = data.replace(b"&", b"&amp;")
    if b"<" in data:
        data = data.replace(b"<", b"&lt;")
    if b">" in data:
        data = data.replace(b">", b"&gt;")
    data = _OPEN + data.replace(b"\x00", _BETWEEN_CELLS).replace(b"\x1e", _BETWEEN_ROWS) + _CLOSE
    return data.replace(_EMPTY, b"<c/>")  # an empty cell is no text at all (Excel: ISBLANK)


def column_letter(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _escape(value: str) -> str:
    return _ILLEGAL_CHARS.sub("", value.translate(_ESCAPE))


def _cell(letter: str, row: int, value: str, style: str = "") -> str:
    if value[:1].isspace() or value[-1:].isspace():
        return f'<c r="{letter}{row}" t="inlineStr"{style}><is><t xml:space="preserve">{_escape(value)}</t></is></c>'
    return f'<c r="{letter}{row}" t="inlineStr"{style}><is><t>{_escape(value)}</t></is></c>'


def _sheet_head(headers: Sequence[str], widths: Sequence[float]) -> str:
    cols = "".join(f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>' for i, w in enumerate(widths, 1))
    letters = [column_letter(i) for i in range(len(headers))]
    header = "".join(_cell(letters[i], 1, h, ' s="1"') for i, h in enumerate(headers))
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{NS}" '
            f'xmlns:r="{REL_NS}"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            f'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><cols>{cols}</cols>'
            f'<sheetData><row r="1">{header}</row>')


def _sheet_tail(columns: int, rows: int) -> str:
    return f'</sheetData><autoFilter ref="A1:{column_letter(columns - 1)}{max(rows, 1)}"/></worksheet>'


def _sheet_name(title: str, n: int) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "", title)[:25] or "Sheet"
    return name if n == 1 else f"{name} ({n})"


def write_xlsx(out: BinaryIO, title: str, headers: Sequence[str], rows: Iterable[Sequence[str]],
               widths: Sequence[float] | None = None, compresslevel: int = 1) -> int:
    """Write `rows` (each a sequence of str, one per header) as an .xlsx workbook to `out` (a
    binary file; it need not be seekable). Returns the number of data rows written. Deflate level
    1: the sheets are repetitive XML, level 1 already shrinks them about tenfold and is several
    times faster than the default 6."""
    widths = list(widths or [max(8.0, min(40.0, len(h) * 2.2 + 2)) for h in headers])
    sheets: list[str] = []
    total = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        iterator = iter(rows)
        exhausted = False
        while not exhausted or not sheets:
            sheets.append(_sheet_name(title, len(sheets) + 1))
            with zf.open(f"xl/worksheets/sheet{len(sheets)}.xml", "w", force_zip64=True) as entry, \
                    _Compressing(entry) as sheet:
                sheet.write(_sheet_head(headers, widths).encode("utf-8"))
                r = 1
                chunk: list[Sequence[str]] = []
                for values in iterator:
                    r += 1
                    chunk.append(values)
                    if len(chunk) >= FLUSH_ROWS:
                        sheet.write(_chunk(chunk, len(headers)))
                        chunk.clear()
                    if r >= MAX_ROWS:
                        break
                else:
                    exhausted = True
                if chunk:
                    sheet.write(_chunk(chunk, len(headers)))
                sheet.write(_sheet_tail(len(headers), r).encode("utf-8"))
                total += r - 1
        _write_package(zf, sheets)
    return total


class _Compressing:
    """Writes to a zip entry from a second thread: zlib and crc32 release the GIL, so compressing
    chunk n overlaps with building chunk n + 1 (on a machine with a core to spare). At most
    `depth` chunks wait, so memory stays bounded; an error in the thread is raised in the caller."""

    def __init__(self, entry, depth: int = 4):
        import queue
        import threading

        self.entry, self.queue, self.error = entry, queue.Queue(maxsize=depth), None
        self.thread = threading.Thread(target=self._run, name="xlsx-deflate", daemon=True)

    def _run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.error is None:
                try:
                    self.entry.write(data)
                except BaseException as error:  # noqa: BLE001 - handed to the writing thread
                    self.error = error

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and exc[0] is None:
            raise self.error


def _write_package(zf: zipfile.ZipFile, sheets: list[str]) -> None:
    def attr(value: str) -> str:
        return value.translate(_ESCAPE).replace('"', "&quot;")

    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1))
    zf.writestr("[Content_Types].xml", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f'{overrides}</Types>'))
    zf.writestr("_rels/.rels", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'))
    sheet_list = "".join(f'<sheet name="{attr(name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(sheets, 1))
    filters = "".join(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
                      f"'{attr(name).replace(chr(39), chr(39) * 2)}'!$A$1</definedName>"
                      for i, name in enumerate(sheets))
    zf.writestr("xl/workbook.xml", (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{NS}" xmlns:r="{REL_NS}">'
        f'<bookViews><workbookView/></bookViews><sheets>{sheet_list}</sheets>'
        f'<definedNames>{filters}</definedNames></workbook>'))
    rels = "".join(f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                   for i in range(1, len(sheets) + 1))
    zf.writestr("xl/_rels/workbook.xml.rels", (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{rels}<Relationship Id="rId{len(sheets) + 1}" Type="{REL_NS}/styles" Target="styles.xml"/>'
        '</Relationships>'))
    # Style 0: text ("@", numFmt 49) so a value typed into the sheet later stays text too; style 1:
    # the same, bold (the header).
    zf.writestr("xl/styles.xml", (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{NS}">'
        '<fonts count="2"><font><sz val="11"/><name val="等线"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="等线"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="49" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '</styleSheet>'))
