"""Readers: a CSV folder, an Excel workbook, or a REDCap flat export (through a mapping).

A reader never interprets values: it returns each entity's cells as text (``None`` for empty
cells) with the 1-based data row they came from, plus the SHA-256 of every file read. Problems
that make a file unreadable become ``R000`` findings; a source that cannot be read at all (a path
that does not exist, a file that is not a workbook) raises :class:`cartlens.errors.InputError`.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import difflib
import hashlib
import re
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from cartlens.errors import InputError
from cartlens.model.schema import ENTITY_BY_NAME, FieldSpec

#: Cell texts read as missing (after trimming blanks).
MISSING_TOKENS = ("", "NA")


@dataclasses.dataclass
class SourceTable:
    """The cells of one entity as read.

    Exactly one of ``csv_path`` (a CSV file for DuckDB to read directly; fast path) and
    ``frame`` (text cells, object dtype, column ``_row`` = 1-based data row) is set.
    ``column_labels`` maps a data-model field to the column name the user knows (REDCap field).
    """

    entity: str
    label: str
    csv_path: Path | None = None
    header: tuple[str, ...] = ()
    frame: pd.DataFrame | None = None
    column_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    #: CSV dialect of ``csv_path`` (always UTF-8 text there; ``original`` is the file as given,
    #: in ``encoding``) and the decimal mark of its numbers.
    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    original: Path | None = None


@dataclasses.dataclass
class RegistrySource:
    """Everything read from one source."""

    kind: str
    path: Path
    tables: dict[str, SourceTable]
    files: dict[str, str]
    findings: list[dict]
    #: How the source was read (per file: CSV dialect, encoding; REDCap: date format...).
    settings: dict = dataclasses.field(default_factory=dict)
    #: Keeps transcoded copies alive while the source is in use.
    scratch: Any = dataclasses.field(default=None, repr=False, compare=False)


def source_settings(source: RegistrySource) -> dict:
    """The reading settings of a source, for the import report (``{"read": ...}``)."""
    return {"read": source.settings} if source.settings else {}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def reader_finding(
    file: str, message: str, *, rule: str = "R000", severity: str = "error", column=None
) -> dict:
    return {
        "file": file,
        "row": None,
        "column": column,
        "value": None,
        "rule": rule,
        "severity": severity,
        "message": message,
    }


def _check_header(header: list[str], label: str) -> str | None:
    if not header:
        return "the file has no header row"
    names = [h.strip() for h in header]
    if any(n == "" for n in names):
        return "a column has an empty name"
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        return f"duplicate column name(s): {', '.join(dup)}"
    return None


#: Field separators tried when a CSV file's is not declared (the header decides).
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def _split_outside_quotes(line: str, delimiter: str) -> list[tuple[int, bool]]:
    """(field index, inside quotes) at each character of one physical line."""
    out, field, quoted = [], 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            field += 1
        out.append((field, quoted))
    return out


def detect_delimiter(header_line: str) -> str:
    """The separator that splits the header line into the most fields (``,`` on a tie)."""
    best, n_best = ",", 1
    for d in DELIMITERS:
        n = len(next(csv.reader([header_line], delimiter=d), []))
        if n > n_best:
            best, n_best = d, n
    return best


def _number_columns(entity: str) -> set[str]:
    return {f.name for f in ENTITY_BY_NAME[entity].fields if f.kind in ("number", "integer")}


def detect_decimal(
    path: Path, encoding: str, delimiter: str, header: list[str], entity: str
) -> str:
    """``,`` when the first 1000 data rows write a number field with a decimal comma (and the
    separator is not a comma), else ``.``."""
    if delimiter == ",":
        return "."
    cols = [i for i, h in enumerate(header) if h.strip() in _number_columns(entity)]
    if not cols:
        return "."
    comma = re.compile(r"[+-]?[0-9]*,[0-9]+([eE][+-]?[0-9]+)?")
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            next(reader, None)
            for i, rec in enumerate(reader):
                if i >= 1000:
                    break
                if any(c < len(rec) and comma.fullmatch(rec[c].strip()) for c in cols):
                    return ","
    except csv.Error:
        pass
    return "."


def locate_csv_problem(path: Path, encoding: str, delimiter: str) -> dict:
    """Find the first structural problem of a CSV file: a finding naming the data row (1-based,
    header excluded) and, where known, the column.

    Undecodable bytes, an unbalanced quote, or a row with too many or too few fields.
    """
    header: list[str] = []
    # 1. text encoding, line by line (physical lines)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as exc:
                prefix = raw[: exc.start].decode(encoding, errors="replace")
                row = _data_row_at_line(path, encoding, delimiter, lineno)
                names = _header(path, encoding, delimiter)
                states = _split_outside_quotes(prefix, delimiter)
                field = states[-1][0] if states else 0
                column = names[field] if row and field < len(names) else None
                return {
                    "row": row,
                    "column": column,
                    "value": repr(raw[exc.start : exc.start + 4])[2:-1],
                    "message": f"byte {raw[exc.start]:#04x} at data row {row} cannot be decoded "
                    f"as {encoding}"
                    + (f" (column '{column}')" if column else "")
                    + "; declare the file's encoding (--encoding latin-1, cp1252, ...)",
                }
    # 2. records
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        n = 0
        start = 1  # the physical line where the record being read starts
        try:
            header = next(reader, [])
            start = reader.line_num + 1
            for rec in reader:
                n += 1
                start_next = reader.line_num + 1
                if len(rec) != len(header) and rec:
                    many = len(rec) > len(header)
                    col = header[len(header) - 1] if many else header[len(rec)]
                    return {
                        "row": n,
                        "column": None if many else col,
                        "value": None,
                        "message": f"data row {n} has {len(rec)} fields, the header has "
                        f"{len(header)}"
                        + (f" (after '{col}')" if many else f" (the first missing one is '{col}')"),
                    }
                start = start_next
        except csv.Error as exc:
            row = n + 1
            line = _physical_line(path, encoding, start)
            states = _split_outside_quotes(line, delimiter) if line else []
            column = None
            if states and states[-1][1]:  # a quote left open on the line the record starts
                opened = next(i for i, (fld, q) in enumerate(states) if q and fld == states[-1][0])
                column = header[states[opened][0]] if states[opened][0] < len(header) else None
            return {
                "row": row,
                "column": column,
                "value": None,
                "message": f"data row {row} cannot be parsed ({exc})"
                + (f"; an unbalanced quote in column '{column}'" if column else ""),
            }
    return {"row": None, "column": None, "value": None, "message": "the file cannot be parsed"}


def _header(path: Path, encoding: str, delimiter: str) -> list[str]:
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        return [h.strip() for h in next(csv.reader(f, delimiter=delimiter), [])]


def _physical_line(path: Path, encoding: str, lineno: int) -> str | None:
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        for i, line in enumerate(f, start=1):
            if i == lineno:
                return line
    return None


def _data_row_at_line(path: Path, encoding: str, delimiter: str, lineno: int) -> int | None:
    """The data row whose record holds physical line ``lineno`` (None for the header)."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        row = -1  # the header is record 0
        try:
            for _ in reader:
                row += 1
                if reader.line_num >= lineno:
                    break
        except csv.Error:
            row += 1
    return row if row >= 1 else None


def _first_line(path: Path, encoding: str) -> str:
    """The first physical line, decoded (only that line: bytes further on do not matter)."""
    enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with open(path, "rb") as f:
        return f.readline().decode(enc)


def read_csv_header(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[str]:
    """First record of a CSV file (optional BOM)."""
    return next(csv.reader([_first_line(path, encoding)], delimiter=delimiter), [])


def _check_dialect(delimiter, decimal, encoding) -> tuple[str | None, str | None, str | None]:
    if delimiter is not None:
        delimiter = DELIMITER_NAMES.get(str(delimiter).lower(), delimiter)
        if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
            raise InputError(
                f"'{delimiter}' is not a field separator (one character, e.g. ',' ';' tab)",
                column="--delimiter",
            )
    if decimal is not None and decimal not in (".", ","):
        raise InputError(f"decimal mark '{decimal}' is not '.' or ','", column="--decimal")
    if decimal == "," and delimiter == ",":
        raise InputError("a decimal comma needs another field separator", column="--decimal")
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(f"unknown text encoding '{encoding}'", column="--encoding") from None
    return delimiter, decimal, encoding


def read_csv_folder(
    path: str | Path,
    *,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
) -> RegistrySource:
    """Read ``<entity>.csv`` files from a folder (other ``.csv`` files are reported, R003).

    The field separator (``,`` ``;`` tab ``|``) is detected from each header unless declared;
    the decimal mark is ``,`` when the separator is not a comma and number fields are written
    with a comma, unless declared; the encoding is UTF-8 unless declared. What was used is
    recorded per file in ``settings``.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a folder of CSV files")
    delimiter, decimal, encoding = _check_dialect(delimiter, decimal, encoding)
    enc = encoding or "utf-8"
    tables: dict[str, SourceTable] = {}
    files: dict[str, str] = {}
    findings: list[dict] = []
    settings: dict[str, dict] = {}
    scratch = None
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() != ".csv" or not p.is_file():
            continue
        name = p.stem
        if name not in ENTITY_BY_NAME:
            findings.append(
                reader_finding(
                    p.name,
                    f"'{p.name}' is not an entity file of the data model; ignored",
                    rule="R003",
                    severity="warning",
                )
            )
            continue
        files[p.name] = file_sha256(p)
        try:
            d = delimiter or detect_delimiter(_first_line(p, enc))
            header = read_csv_header(p, enc, d)
        except UnicodeDecodeError:
            problem = locate_csv_problem(p, enc, delimiter or ",")
            problem["message"] = "the header: " + problem["message"]
            findings.append({**reader_finding(p.name, problem["message"]), **problem})
            continue
        except (csv.Error, OSError) as exc:
            findings.append(reader_finding(p.name, f"cannot read the header: {exc}"))
            continue
        problem = _check_header(header, p.name)
        if not problem and len(header) == 1 and delimiter is not None:
            other = detect_delimiter(_first_line(p, enc))
            if other != d:
                problem = (
                    f"the header is one column with the declared separator {d!r} but "
                    f"{len(read_csv_header(p, enc, other))} columns with {other!r}"
                )
        if problem:
            findings.append(reader_finding(p.name, problem))
            continue
        dec = decimal or detect_decimal(p, enc, d, header, name)
        settings[p.name] = {
            "delimiter": d,
            "decimal": dec,
            "encoding": enc,
            "declared": sorted(
                k
                for k, v in (("delimiter", delimiter), ("decimal", decimal), ("encoding", encoding))
                if v is not None
            ),
        }
        csv_path = p
        if codecs.lookup(enc).name != "utf-8":
            if scratch is None:
                scratch = tempfile.TemporaryDirectory(prefix="cartlens-")
            csv_path = Path(scratch.name) / p.name
            try:
                with (
                    open(p, encoding=enc, newline="") as fi,
                    open(csv_path, "w", encoding="utf-8", newline="") as fo,
                ):
                    shutil.copyfileobj(fi, fo, 1 << 20)
            except UnicodeDecodeError:
                problem = locate_csv_problem(p, enc, d)
                findings.append({**reader_finding(p.name, problem["message"]), **problem})
                continue
        tables[name] = SourceTable(
            name,
            p.name,
            csv_path=csv_path,
            header=tuple(h.strip() for h in header),
            delimiter=d,
            decimal=dec,
            encoding=enc,
            original=p,
        )
    src = RegistrySource("csv", folder, tables, files, findings, settings)
    src.scratch = scratch
    return src


def _cell_text(v: Any) -> str | None:
    import datetime as dt

    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        if v.time() == dt.time(0, 0):
            return v.date().isoformat()
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    s = str(v).strip()
    return None if s in MISSING_TOKENS else s


#: Largest Excel date serial (9999-12-31).
EXCEL_MAX_SERIAL = 2958465


def _workbook_has_formulas(path: Path) -> bool:
    """Whether any worksheet of the (zip) workbook holds a formula element."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with z.open(name) as f:
                    tail = b""
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        if b"<f>" in tail + chunk or b"<f " in tail + chunk:
                            return True
                        tail = chunk[-3:]
    return False


class _Conversions:
    """Spreadsheet values read other than as stored, summarised per sheet, column and kind
    (one R004 warning each: count and first data row)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str, str], list[int]] = {}

    def add(self, label: str, column: str, kind: str, row: int) -> None:
        hit = self.seen.setdefault((label, column, kind), [0, row])
        hit[0] += 1

    def findings(self) -> list[dict]:
        text = {
            "percent": "percent-formatted cells read as the percentage shown (0.344 shown as "
            "34.4% is 34.4)",
            "serial": "date serial numbers read as the dates they stand for",
        }
        return [
            {
                **reader_finding(
                    label,
                    f"{text[kind]}: {n} cell(s), the first in data row {first}",
                    rule="R004",
                    severity="warning",
                    column=column,
                ),
                "row": first,
            }
            for (label, column, kind), (n, first) in self.seen.items()
        ]


def _excel_cell(cell, kind: str | None, epoch, conv: _Conversions, label, column, row):
    """Text of one cell: percent cells as shown, date serials in date fields as dates."""
    from openpyxl.utils.datetime import from_excel

    v = cell.value
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        fmt = str(getattr(cell, "number_format", "") or "")
        if "%" in fmt:
            conv.add(label, column, "percent", row)
            return _cell_text(float(f"{v * 100:.12g}"))
        if kind == "date" and 1 <= v <= EXCEL_MAX_SERIAL:
            conv.add(label, column, "serial", row)
            return _cell_text(from_excel(v, epoch))
    return _cell_text(v)


def read_excel(path: str | Path) -> RegistrySource:
    """Read a workbook with one sheet per entity (sheet name = entity name).

    A workbook that cannot be opened is an R000 finding. Cells are read as the workbook shows
    them where the stored value differs: a percent-formatted number as the percentage (R004
    warning), a number in a date field as the date serial it is (R004). A formula cell whose
    workbook has no saved value (written by a program that does not calculate) is an R005
    error, never an empty cell.
    """
    import zipfile

    from openpyxl import load_workbook

    p = Path(path)
    if not p.is_file():
        raise InputError(f"workbook '{p}' does not exist")
    files = {p.name: file_sha256(p)}
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a variety of errors on corrupt files
        msg = f"'{p.name}' is not a readable Excel workbook (.xlsx): {exc}"
        return RegistrySource("excel", p, {}, files, [reader_finding(p.name, msg)])
    tables: dict[str, SourceTable] = {}
    findings: list[dict] = []
    conv = _Conversions()
    cells_by_sheet: dict[str, tuple[list[str], dict[int, list]]] = {}
    try:
        for ws in wb.worksheets:
            label = f"{p.name}:{ws.title}"
            name = ws.title.strip()
            if name not in ENTITY_BY_NAME:
                findings.append(
                    reader_finding(
                        label,
                        f"sheet '{ws.title}' is not an entity of the data model; ignored",
                        rule="R003",
                        severity="warning",
                    )
                )
                continue
            rows = ws.iter_rows()
            header_row = next(rows, None)
            header = [("" if c.value is None else str(c.value)) for c in (header_row or ())]
            while header and header[-1] == "":
                header.pop()
            problem = _check_header(header, label)
            if problem:
                findings.append(reader_finding(label, problem))
                continue
            names = [h.strip() for h in header]
            e = ENTITY_BY_NAME[name]
            kinds = [e.field(h).kind if h in e.columns else None for h in names]
            ncol = len(header)
            records = []
            numbers = []
            by_row: dict[int, list] = {}
            for i, r in enumerate(rows, start=1):
                r = r or ()
                cells = [
                    _excel_cell(
                        c,
                        kinds[j] if j < ncol else None,
                        wb.epoch,
                        conv,
                        label,
                        names[j] if j < ncol else "",
                        i,
                    )
                    for j, c in enumerate(r)
                ]
                extra = [c for c in cells[ncol:] if c is not None]
                if extra:
                    findings.append(
                        {
                            **reader_finding(label, f"data row {i} has cells beyond the header"),
                            "row": i,
                        }
                    )
                cells = (cells + [None] * ncol)[:ncol]
                by_row[i] = cells
                if all(c is None for c in cells):
                    continue
                records.append(cells)
                numbers.append(i)
            cells_by_sheet[ws.title] = (names, by_row)
            frame = pd.DataFrame(records, columns=names, dtype=object)
            frame["_row"] = numbers
            tables[name] = SourceTable(name, label, frame=frame, header=tuple(frame.columns[:-1]))
    except Exception as exc:
        wb.close()
        msg = f"'{p.name}' could not be read as a workbook: {exc}"
        return RegistrySource("excel", p, {}, files, [*findings, reader_finding(p.name, msg)])
    wb.close()
    try:
        has_formulas = _workbook_has_formulas(p)
    except (zipfile.BadZipFile, OSError):
        has_formulas = False
    if has_formulas:
        findings += _formulas_without_values(p, cells_by_sheet)
    findings += conv.findings()
    return RegistrySource("excel", p, tables, files, findings)


def _formulas_without_values(p: Path, cells_by_sheet) -> list[dict]:
    """R005 for every formula cell of an entity sheet whose saved value is empty."""
    from openpyxl import load_workbook

    out = []
    wb = load_workbook(p, read_only=True, data_only=False)
    try:
        for ws in wb.worksheets:
            if ws.title not in cells_by_sheet:
                continue
            names, by_row = cells_by_sheet[ws.title]
            rows = ws.iter_rows(values_only=True)
            next(rows, None)
            for i, r in enumerate(rows, start=1):
                for j, v in enumerate((r or ())[: len(names)]):
                    if (
                        isinstance(v, str)
                        and v.startswith("=")
                        and by_row.get(i, [None] * (j + 1))[j] is None
                    ):
                        out.append(
                            {
                                **reader_finding(
                                    f"{p.name}:{ws.title}",
                                    f"the cell holds the formula {v} but the workbook has no "
                                    "saved value for it (saved by a program that does not "
                                    "calculate): open and save it in a spreadsheet program, "
                                    "or type the value",
                                    rule="R005",
                                    column=names[j],
                                ),
                                "row": i,
                                "value": v,
                            }
                        )
    finally:
        wb.close()
    return out


# --------------------------------------------------------------------------------------------
# REDCap


def _read_text_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=list(MISSING_TOKENS),
            encoding="utf-8-sig",
        )
    except FileNotFoundError as exc:
        raise InputError(f"{what} '{path}' does not exist") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{what} '{path.name}' is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{what} '{path.name}' is not a readable CSV: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    return df.astype(object).where(df.notna(), None)


def parse_choices(text: str | None) -> dict[str, str]:
    """Parse a REDCap choice list ``"1, Male | 2, Female"`` into ``{"1": "Male", ...}``."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in str(text).split("|"):
        if "," in part:
            code, label = part.split(",", 1)
            out[code.strip()] = label.strip()
    return out


#: Keys a mapping file may hold, at the top, in ``[entities.<name>]`` and in a field's table.
MAPPING_KEYS = ("entities", "date_format", "record_id")
ENTITY_KEYS = ("instrument", "event", "require", "fields")
FIELD_KEYS = ("field", "values", "use_dictionary", "checkbox", "code", "join", "template")
#: ``date_format`` of a mapping: the order of day, month and year in the export's dates.
DATE_FORMATS = ("YMD", "DMY", "MDY")


def did_you_mean(word: str, options) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``options`` (empty when none is close)."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    for k in table:
        if k not in allowed:
            raise InputError(
                f"unknown key '{k}' in [{where}]{did_you_mean(k, allowed)} (known: "
                f"{', '.join(allowed)})",
                column=where,
            )


def load_mapping(path: str | Path) -> dict:
    """Load and check a REDCap mapping file (TOML; see ``docs/redcap/mapping.toml``).

    Every key is checked: an unknown key, entity or cartlens field is an :class:`InputError`
    with the closest known name ("did you mean").
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            mapping = tomllib.load(f)
    except FileNotFoundError as exc:
        raise InputError(f"mapping file '{p}' does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"mapping file '{p.name}' is not valid TOML: {exc}") from exc
    _check_keys(mapping, MAPPING_KEYS, "mapping")
    fmt = mapping.get("date_format", "YMD")
    if fmt not in DATE_FORMATS:
        raise InputError(
            f"date_format '{fmt}' is not one of {', '.join(DATE_FORMATS)}"
            + did_you_mean(fmt, DATE_FORMATS),
            column="date_format",
        )
    ents = mapping.get("entities")
    if not isinstance(ents, dict) or not ents:
        raise InputError("the mapping has no [entities.<name>] tables", column="entities")
    for name, spec in ents.items():
        if name not in ENTITY_BY_NAME:
            raise InputError(
                f"unknown entity '{name}' in the mapping{did_you_mean(name, ENTITY_BY_NAME)}",
                column="entities",
            )
        if not isinstance(spec, dict) or not isinstance(spec.get("fields"), dict):
            raise InputError(f"[entities.{name}.fields] is missing", column=f"entities.{name}")
        _check_keys(spec, ENTITY_KEYS, f"entities.{name}")
        known = ENTITY_BY_NAME[name].columns
        for field, fspec in spec["fields"].items():
            if field not in known:
                raise InputError(
                    f"'{field}' is not a field of {name}{did_you_mean(field, known)}",
                    column=f"entities.{name}.fields",
                )
            if isinstance(fspec, dict):
                _check_keys(fspec, FIELD_KEYS, f"entities.{name}.fields.{field}")
            elif not isinstance(fspec, str):
                raise InputError(
                    f"mapping of '{field}' must be a REDCap field name or a table",
                    column=f"entities.{name}.fields.{field}",
                )
    return mapping


def _vocab_key(text: str) -> str:
    """Choice labels are matched to vocabulary values ignoring case and blanks/underscores."""
    return re.sub(r"[\s_]+", "_", str(text).strip().casefold())


def _to_vocab(values: pd.Series, allowed: tuple[str, ...] | None) -> pd.Series:
    if not allowed:
        return values
    canon = {_vocab_key(a): a for a in allowed}
    return values.map(lambda v: v if v is None else canon.get(_vocab_key(v), v))


_DATE = re.compile(r"(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")


def _iso_date(v: str | None, fmt: str) -> str | None:
    """A date written in ``fmt`` order (YMD, DMY, MDY) as YYYY-MM-DD; unchanged when it does not
    have that form (then rule R012 reports it)."""
    if v is None:
        return None
    m = _DATE.fullmatch(v.strip())
    if not m:
        return v
    a, b, c = m.groups()
    y, mo, d = {"YMD": (a, b, c), "DMY": (c, b, a), "MDY": (c, a, b)}[fmt]
    if len(y) != 4:
        return v
    return f"{y}-{int(mo):02d}-{int(d):02d}"


@dataclasses.dataclass
class _Export:
    """What the field mappings need to know about the export and its dictionary."""

    columns: set[str]
    choices: dict[str, dict[str, str]]
    date_format: str
    label: str
    findings: list[dict]

    def require(self, field: str, where: str) -> None:
        if field not in self.columns:
            checkbox = sorted(c for c in self.columns if c.startswith(field + "___"))
            hint = (
                f"; it is a checkbox ({', '.join(checkbox)}): map it with {{ checkbox = "
                f'"{field}" }}'
                if checkbox
                else did_you_mean(field, self.columns)
            )
            raise InputError(f"REDCap field '{field}' is not in the export{hint}", column=where)


def _recode(
    s: pd.Series, field: str, values: dict, ex: _Export, spec_field: FieldSpec
) -> pd.Series:
    """Codes to labels (unmapped codes listed once per field and code, rule R020)."""
    vmap = {str(k): str(v) for k, v in values.items()}
    unmapped = s[s.notna() & ~s.isin(list(vmap))].value_counts()
    for code, n in unmapped.items():
        ex.findings.append(
            {
                **reader_finding(
                    ex.label,
                    f"code '{code}' of REDCap field '{field}' is not among its choices "
                    f"({', '.join(vmap)}): {n} row(s)",
                    rule="R020",
                    column=field,
                ),
                "value": str(code),
            }
        )
    return s.map(lambda v: None if v is None else vmap.get(v, v))


def _map_field(
    rows: pd.DataFrame, target: FieldSpec, spec: Any, ex: _Export, where: str
) -> tuple[pd.Series, str]:
    """Values of one data-model field from the export rows, and the source column's name."""
    if isinstance(spec, str):
        spec = {"field": spec}
        if spec["field"] not in ex.columns and any(
            c.startswith(spec["field"] + "___") for c in ex.columns
        ):
            spec = {"checkbox": spec["field"]}
    if "template" in spec:
        tpl = str(spec["template"])
        for name in re.findall(r"{([^{}:!]*)", tpl):
            ex.require(name, where)
        values = [
            tpl.format(**{k: ("" if v is None else v) for k, v in rec.items()})
            for rec in rows.to_dict("records")
        ]
        return pd.Series(values, index=rows.index, dtype=object), tpl
    if "checkbox" in spec:
        base = str(spec["checkbox"])
        found = sorted(
            (c.split("___", 1)[1] for c in ex.columns if c.startswith(base + "___")), key=str
        )
        if not found:
            raise InputError(
                f"checkbox '{base}' has no '{base}___<code>' columns in the export"
                + did_you_mean(base, {c.split("___")[0] for c in ex.columns if "___" in c}),
                column=where,
            )
        if "code" in spec:
            col = f"{base}___{spec['code']}"
            if col not in ex.columns:
                raise InputError(
                    f"checkbox column '{col}' is not in the export (codes: {', '.join(found)})",
                    column=where,
                )
            s = rows[col].map(lambda v: None if v is None else ("true" if v == "1" else "false"))
            return s, col
        values = {
            str(k): str(v) for k, v in (spec.get("values") or ex.choices.get(base) or {}).items()
        }
        join = str(spec.get("join", "+"))
        codes = [c for c in found if c in values] + [c for c in found if c not in values]
        for c in found:
            if c not in values and values:
                ex.findings.append(
                    reader_finding(
                        ex.label,
                        f"checkbox column '{base}___{c}' has no choice label; its code is used",
                        rule="R003",
                        severity="warning",
                        column=f"{base}___{c}",
                    )
                )
        sub = rows[[f"{base}___{c}" for c in codes]].to_numpy()
        labels = [values.get(c, c) for c in codes]

        def pick(flags) -> str | None:
            chosen = [lab for lab, v in zip(labels, flags) if v == "1"]
            return join.join(chosen) if chosen else None

        s = pd.Series([pick(r) for r in sub], index=rows.index, dtype=object)
        return _to_vocab(s, target.allowed), base
    field = spec.get("field")
    if not field:
        raise InputError(
            f"mapping of '{target.name}' needs 'field', 'checkbox' or 'template'", column=where
        )
    ex.require(field, where)
    s = rows[field]
    values = spec.get("values")
    if values is None and spec.get("use_dictionary", True) and field in ex.choices:
        values = ex.choices[field]
    if values:
        s = _recode(s, field, values, ex, target)
    if target.kind == "date":
        s = s.map(lambda v: _iso_date(v, ex.date_format))
    return _to_vocab(s, target.allowed), field


def _read_dictionary(path: Path) -> tuple[dict[str, dict[str, str]], set[str]]:
    """Choice lists per field and the form (instrument) names of a data dictionary."""
    dd = _read_text_csv(path, "REDCap data dictionary")
    name_col = next((c for c in dd.columns if c.lower().startswith("variable / field")), None)
    choice_col = next((c for c in dd.columns if c.lower().startswith("choices")), None)
    form_col = next((c for c in dd.columns if c.lower().startswith("form name")), None)
    if name_col is None or choice_col is None:
        raise InputError(
            "the data dictionary lacks 'Variable / Field Name' or 'Choices...' columns",
            column="dictionary",
        )
    choices: dict[str, dict[str, str]] = {}
    for name, text in zip(dd[name_col], dd[choice_col]):
        parsed = parse_choices(text)
        if name and parsed:
            choices[str(name)] = parsed
    forms = set(dd[form_col].dropna()) if form_col else set()
    return choices, forms


def _as_list(v) -> list[str]:
    return [str(x) for x in (v if isinstance(v, list) else [v])]


def read_redcap(
    export: str | Path, mapping: str | Path, dictionary: str | Path | None = None
) -> RegistrySource:
    """Read a REDCap flat export (raw values) through a mapping file.

    Parameters
    ----------
    export : path
        The "CSV / Microsoft Excel (raw data)" export: one row per record (and per event in a
        longitudinal project, column ``redcap_event_name``) for non-repeating instruments
        (``redcap_repeat_instrument`` empty) and one row per instance of a repeating
        instrument (``redcap_repeat_instrument``, ``redcap_repeat_instance``); checkbox
        fields appear as ``<field>___<code>`` columns holding 0/1.
    mapping : path
        TOML file (template: ``docs/redcap/mapping.toml``): optional ``date_format`` (``YMD``,
        ``DMY`` or ``MDY``: the order of the export's dates) and ``record_id`` (the record
        field, default: the first column); ``[entities.<entity>]`` with ``instrument`` (the
        repeating instrument's name, or ``""`` for the record's non-repeating row), optional
        ``event`` (a longitudinal project's unique event name or a list of them), optional
        ``require`` (keep only rows where this REDCap field is filled) and
        ``[entities.<entity>.fields]`` mapping each data-model field to a REDCap field name,
        or to a table ``{field = ..., values = {code = value}}``, ``{checkbox = ..., code =
        ...}`` (boolean), ``{checkbox = ..., values = {...}, join = "+"}`` (checked labels
        joined) or ``{template = "{record_id}-I{redcap_repeat_instance}"}``. Unknown keys,
        instruments, events and fields are errors with the closest known name.
    dictionary : path, optional
        The project's data dictionary CSV; coded radio/dropdown/checkbox fields without
        explicit ``values`` are translated with its choice lists, and its form names are the
        instruments a mapping may name. Labels are matched to the data model's values ignoring
        case (and blanks versus ``_``).

    Each row keeps the source's own key (record, event, instrument, repeat instance), so a
    re-import updates it in place even when a natural-key field (a date) was corrected.
    """
    export = Path(export)
    m = load_mapping(mapping)
    data = _read_text_csv(export, "REDCap export")
    files = {export.name: file_sha256(export), Path(mapping).name: file_sha256(Path(mapping))}
    choices: dict[str, dict[str, str]] = {}
    forms: set[str] = set()
    if dictionary is not None:
        choices, forms = _read_dictionary(Path(dictionary))
        files[Path(dictionary).name] = file_sha256(Path(dictionary))
    if len(data.columns) == 0:
        raise InputError(f"REDCap export '{export.name}' has no columns")
    record = str(m.get("record_id") or data.columns[0])
    if record not in data.columns:
        raise InputError(
            f"record field '{record}' is not in the export{did_you_mean(record, data.columns)}",
            column="record_id",
        )
    data["_row"] = range(1, len(data) + 1)
    for c in ("redcap_repeat_instrument", "redcap_repeat_instance", "redcap_event_name"):
        if c not in data.columns:
            data[c] = None
    longitudinal = bool(data["redcap_event_name"].notna().any())
    events = sorted(set(data["redcap_event_name"].dropna()))
    instruments = set(data["redcap_repeat_instrument"].dropna()) | forms
    columns = set(data.columns) - {"_row"}
    findings: list[dict] = []
    tables: dict[str, SourceTable] = {}
    for name, spec in m["entities"].items():
        where = f"entities.{name}"
        instrument = spec.get("instrument", "") or None
        if instrument is not None and instrument not in instruments:
            raise InputError(
                f"instrument '{instrument}' is neither a repeating instrument of the export nor "
                f"a form of the data dictionary{did_you_mean(instrument, instruments)}",
                column=f"{where}.instrument",
            )
        rri = data["redcap_repeat_instrument"]
        rows = data[rri.isna()] if instrument is None else data[rri == instrument]
        if "event" in spec:
            if not longitudinal:
                raise InputError(
                    "the export is not longitudinal (no redcap_event_name values)",
                    column=f"{where}.event",
                )
            wanted = _as_list(spec["event"])
            for ev in wanted:
                if ev not in events:
                    raise InputError(
                        f"event '{ev}' is not in the export{did_you_mean(ev, events)} (events: "
                        f"{', '.join(events)})",
                        column=f"{where}.event",
                    )
            rows = rows[rows["redcap_event_name"].isin(wanted)]
        label = f"{export.name}[{instrument or 'record'}]"
        ex = _Export(columns, choices, m.get("date_format", "YMD"), label, findings)
        req = spec.get("require")
        if req:
            ex.require(req, f"{where}.require")
            rows = rows[rows[req].notna()]
        out = {}
        labels = {}
        for target, fspec in spec["fields"].items():
            out[target], labels[target] = _map_field(
                rows, ENTITY_BY_NAME[name].field(target), fspec, ex, f"{where}.fields.{target}"
            )
        frame = pd.DataFrame(out, index=rows.index, dtype=object)
        if instrument is None and longitudinal and "event" not in spec:
            # a non-repeating row of an event where none of the entity's fields is filled
            # belongs to other instruments
            own = [t for t, lab in labels.items() if lab not in (record,) and "{" not in lab]
            if own:
                frame = frame[frame[own].notna().any(axis=1)]
        kept = rows.loc[frame.index]
        frame["_row"] = kept["_row"].to_numpy()
        frame["_source_key"] = [
            f"{r}|{'' if e is None else e}|{instrument or ''}|{'' if i is None else i}"
            for r, e, i in zip(
                kept[record], kept["redcap_event_name"], kept["redcap_repeat_instance"]
            )
        ]
        tables[name] = SourceTable(
            name, label, frame=frame.reset_index(drop=True), header=tuple(out), column_labels=labels
        )
    settings = {
        export.name: {"date_format": m.get("date_format", "YMD"), "longitudinal": longitudinal}
    }
    return RegistrySource("redcap", export, tables, files, findings, settings)


def read_source(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    dictionary: str | Path | None = None,
    **options,
) -> RegistrySource:
    """Read a registry: a folder (CSV), ``.xlsx`` workbook, or a REDCap export with a mapping."""
    p = Path(path)
    options = {k: v for k, v in options.items() if v is not None}
    if p.is_dir():
        return read_csv_folder(p, **options)
    if options:
        raise InputError(
            f"{', '.join('--' + k for k in options)} apply to a folder of CSV files only",
            column="--" + next(iter(options)),
        )
    if mapping is not None:
        return read_redcap(p, mapping, dictionary)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return read_excel(p)
    if not p.exists():
        raise InputError(f"'{p}' does not exist")
    raise InputError(
        f"'{p.name}' is neither a folder of CSV files, an .xlsx workbook, nor a REDCap export "
        "given with --mapping"
    )
