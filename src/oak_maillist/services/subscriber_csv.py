"""Reading a subscriber CSV file: its columns, each row checked, and the formula-cell rule.

No database here: the reader turns an upload into accepted rows and rejections, batch by batch,
for csv_import to write. The rule that keeps exported cells from running as spreadsheet
formulas, and its inverse, lives here too, shared by the export and the reader.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from oak_maillist.errors import InvalidInputError, PayloadTooLargeError
from oak_maillist.models import DigestMode
from oak_maillist.services.users import InvalidEmailError, normalize_email

COLUMNS = ("email", "name", "digest_mode")
MAX_NAME_LENGTH = 200
MAX_REPORTED_EMAIL = 320
MAX_IMPORT_ROWS = 1_000_000
DIGEST_MODES = frozenset(mode.value for mode in DigestMode)
# OWASP "CSV Injection": spreadsheets read a cell starting with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Bytes that are not UTF-8 arrive as lone surrogates (errors="surrogateescape").
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_CONTROL = dict.fromkeys((*range(32), 127), " ")


class CsvMissingHeaderError(InvalidInputError):
    code = "csv_missing_header"
    template = "The file is empty; its first line must name the columns (email, name, digest_mode)"


class CsvMissingEmailColumnError(InvalidInputError):
    code = "csv_missing_email_column"
    template = (
        "The first line must name the columns and include 'email' "
        "('name' and 'digest_mode' are optional)"
    )


class CsvDuplicateColumnError(InvalidInputError):
    code = "csv_duplicate_column"
    template = "The column {column} appears more than once in the first line"


class TooManyRowsError(PayloadTooLargeError):
    code = "import_too_many_rows"
    template = "An import holds at most {max_rows} rows"


@dataclass(frozen=True)
class ImportRow:
    """A valid row: the address as given (validated), its key, name and digest mode."""

    line: int
    email: str
    key: str
    name: str
    digest_mode: str


@dataclass(frozen=True)
class RowError:
    """A rejected row: its first physical line (the header is line 1) and why."""

    line: int
    email: str
    reason: str
    message: str


@dataclass
class Batch:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows) + len(self.errors)


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text: a formula trigger gets a leading apostrophe."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def unneutralise(cell: str) -> str:
    """Undo `neutralise`, so an exported file imports again unchanged."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_TRIGGERS) else cell


class SubscriberCsvReader:
    """Reads an uploaded CSV file batch by batch; keeps its position and the addresses seen.

    The file is decoded as UTF-8 with or without a BOM; bytes that are not UTF-8 reject only
    the rows holding them. Blank lines are skipped and not counted.
    """

    def __init__(self, source: IO[bytes], *, max_rows: int = MAX_IMPORT_ROWS) -> None:
        text = io.TextIOWrapper(source, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._reader = csv.reader(text)
        self._records = self._read_records()
        self._max_rows = max_rows
        self._columns: dict[str, int] = {}
        self._width = 0
        self._seen: dict[str, int] = {}  # address key -> line it was first seen on
        self.total_rows = 0

    def read_header(self) -> None:
        """Find the columns in the first non-blank line; raises if `email` is not among them."""
        names = [_column_name(cell) for cell in self._first_record()]
        for column in COLUMNS:
            if names.count(column) > 1:
                raise CsvDuplicateColumnError(column=column)
        if "email" not in names:
            raise CsvMissingEmailColumnError
        self._columns = {column: names.index(column) for column in COLUMNS if column in names}
        self._width = len(names)

    def _first_record(self) -> list[str]:
        for _line, cells in self._records:
            if cells is None:
                raise CsvMissingEmailColumnError
            if any(cell.strip() for cell in cells):
                return cells
        raise CsvMissingHeaderError

    def read_batch(self, size: int) -> Batch:
        """Up to `size` outcomes (accepted or rejected rows); an empty batch at the end."""
        batch = Batch()
        for line, cells in self._records:
            outcome = self._outcome(line, cells)
            if isinstance(outcome, ImportRow):
                batch.rows.append(outcome)
            elif outcome is not None:
                batch.errors.append(outcome)
            if len(batch) >= size:
                break
        return batch

    def _read_records(self) -> Iterator[tuple[int, list[str] | None]]:
        """(first physical line, cells) per record; cells is None where csv cannot parse it."""
        while True:
            line = self._reader.line_num + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error:  # an oversized field; the reader resumes at the next line
                yield line, None
                continue
            yield line, cells

    def _outcome(self, line: int, cells: list[str] | None) -> ImportRow | RowError | None:
        if cells is not None and not any(cell.strip() for cell in cells):
            return None
        self.total_rows += 1
        if self.total_rows > self._max_rows:
            raise TooManyRowsError(max_rows=self._max_rows)
        if cells is None:
            return _reject(line, "", "malformed_row", "The line is not valid CSV")
        return self._check(line, cells)

    def _check(self, line: int, cells: list[str]) -> ImportRow | RowError:
        email, name, digest = (self._cell(cells, column) for column in COLUMNS)
        if _UNDECODABLE.search(email + name + digest):
            return _reject(line, email, "invalid_encoding", "The line is not valid UTF-8")
        if len(cells) > self._width and any(cell.strip() for cell in cells[self._width :]):
            message = f"The line has {len(cells)} cells; the header names {self._width}"
            return _reject(line, email, "too_many_columns", message)
        if not email.strip():
            return _reject(line, "", "missing_email", "The email cell is empty")
        try:
            address, key = normalize_email(email)
        except InvalidEmailError as exc:
            return _reject(line, email, "invalid_email", exc.message)
        mode = digest.strip().lower() or DigestMode.NONE.value
        if mode not in DIGEST_MODES:
            message = f"Unknown digest mode '{digest.strip()[:20]}'; use none, daily or weekly"
            return _reject(line, email, "invalid_digest_mode", message)
        first = self._seen.setdefault(key, line)
        if first != line:
            return _reject(line, email, "duplicate_in_file", f"Same address as line {first}")
        return ImportRow(line, address, key, _clean_name(name), mode)

    def _cell(self, cells: list[str], column: str) -> str:
        index = self._columns.get(column)
        if index is None or index >= len(cells):
            return ""
        return unneutralise(cells[index])


def _column_name(cell: str) -> str:
    return unneutralise(cell).strip().lower().replace(" ", "_").replace("-", "_")


def _clean_name(name: str) -> str:
    """Control characters (line breaks in a quoted cell, NUL) become spaces; capped length."""
    return " ".join(name.translate(_CONTROL).split())[:MAX_NAME_LENGTH]


def _reject(line: int, email: str, reason: str, message: str) -> RowError:
    """The rejection, with the address as it can be shown back (bad bytes become U+FFFD)."""
    shown = email.strip()[:MAX_REPORTED_EMAIL]
    if _UNDECODABLE.search(shown):
        shown = shown.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return RowError(line, shown, reason, message)
