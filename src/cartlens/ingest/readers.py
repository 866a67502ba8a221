"""Readers: a CSV folder, an Excel workbook, or a REDCap flat export (through a mapping).

A reader never interprets values: it returns each entity's cells as text (``None`` for empty
cells) with the 1-based data row they came from, plus the SHA-256 of every file read. Problems
that make a file unreadable become ``R000`` findings; a source that cannot be read at all (a path
that does not exist, a file that is not a workbook) raises :class:`cartlens.errors.InputError`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from cartlens.errors import InputError
from cartlens.model.schema import ENTITY_BY_NAME

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


def read_csv_header(path: Path) -> list[str]:
    """First record of a CSV file (UTF-8, optional BOM)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def read_csv_folder(path: str | Path) -> RegistrySource:
    """Read ``<entity>.csv`` files from a folder (other ``.csv`` files are reported, R003)."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a folder of CSV files")
    tables: dict[str, SourceTable] = {}
    files: dict[str, str] = {}
    findings: list[dict] = []
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
            header = read_csv_header(p)
        except (UnicodeDecodeError, csv.Error, OSError) as exc:
            findings.append(reader_finding(p.name, f"cannot read the header: {exc}"))
            continue
        problem = _check_header(header, p.name)
        if problem:
            findings.append(reader_finding(p.name, problem))
            continue
        tables[name] = SourceTable(
            name, p.name, csv_path=p, header=tuple(h.strip() for h in header)
        )
    return RegistrySource("csv", folder, tables, files, findings)


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


def read_excel(path: str | Path) -> RegistrySource:
    """Read a workbook with one sheet per entity (sheet name = entity name)."""
    import zipfile

    from openpyxl import load_workbook

    p = Path(path)
    if not p.is_file():
        raise InputError(f"workbook '{p}' does not exist")
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"'{p.name}' is not a readable Excel workbook (.xlsx): {exc}") from exc
    except Exception as exc:  # openpyxl raises a variety of errors on corrupt files
        raise InputError(f"'{p.name}' is not a readable Excel workbook (.xlsx): {exc}") from exc
    tables: dict[str, SourceTable] = {}
    findings: list[dict] = []
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
            rows = ws.iter_rows(values_only=True)
            header_row = next(rows, None)
            header = [("" if h is None else str(h)) for h in (header_row or ())]
            while header and header[-1] == "":
                header.pop()
            problem = _check_header(header, label)
            if problem:
                findings.append(reader_finding(label, problem))
                continue
            ncol = len(header)
            records = []
            numbers = []
            for i, r in enumerate(rows, start=1):
                cells = [_cell_text(c) for c in (r or ())]
                extra = [c for c in cells[ncol:] if c is not None]
                if extra:
                    findings.append(
                        {
                            **reader_finding(label, f"data row {i} has cells beyond the header"),
                            "row": i,
                        }
                    )
                cells = (cells + [None] * ncol)[:ncol]
                if all(c is None for c in cells):
                    continue
                records.append(cells)
                numbers.append(i)
            frame = pd.DataFrame(records, columns=[h.strip() for h in header], dtype=object)
            frame["_row"] = numbers
            tables[name] = SourceTable(name, label, frame=frame, header=tuple(frame.columns[:-1]))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"'{p.name}' could not be read as a workbook: {exc}") from exc
    finally:
        wb.close()
    return RegistrySource("excel", p, tables, {p.name: file_sha256(p)}, findings)


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


def load_mapping(path: str | Path) -> dict:
    """Load and check a REDCap mapping file (TOML; see ``tests/data/redcap/mapping.toml``)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            mapping = tomllib.load(f)
    except FileNotFoundError as exc:
        raise InputError(f"mapping file '{p}' does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"mapping file '{p.name}' is not valid TOML: {exc}") from exc
    ents = mapping.get("entities")
    if not isinstance(ents, dict) or not ents:
        raise InputError("the mapping has no [entities.<name>] tables", column="entities")
    for name, spec in ents.items():
        if name not in ENTITY_BY_NAME:
            raise InputError(f"unknown entity '{name}' in the mapping", column="entities")
        if not isinstance(spec, dict) or not isinstance(spec.get("fields"), dict):
            raise InputError(f"[entities.{name}.fields] is missing", column=f"entities.{name}")
        known = set(ENTITY_BY_NAME[name].columns)
        for field in spec["fields"]:
            if field not in known:
                raise InputError(
                    f"'{field}' is not a field of {name}", column=f"entities.{name}.fields"
                )
    return mapping


def _map_field(
    rows: pd.DataFrame, target: str, spec: Any, choices: dict[str, dict[str, str]], where: str
) -> tuple[pd.Series, str]:
    """Values of one data-model field from the export rows, and the source column's name."""
    if isinstance(spec, str):
        spec = {"field": spec}
    if not isinstance(spec, dict):
        raise InputError(f"mapping of '{target}' must be a field name or a table", column=where)
    if "template" in spec:
        tpl = str(spec["template"])
        try:
            values = [
                tpl.format(**{k: ("" if v is None else v) for k, v in rec.items()})
                for rec in rows.to_dict("records")
            ]
        except (KeyError, IndexError, ValueError) as exc:
            raise InputError(
                f"template '{tpl}' names an unknown field: {exc}", column=where
            ) from exc
        return pd.Series(values, index=rows.index, dtype=object), tpl
    if "checkbox" in spec:
        base = str(spec["checkbox"])
        if "code" in spec:
            col = f"{base}___{spec['code']}"
            if col not in rows.columns:
                raise InputError(f"checkbox column '{col}' is not in the export", column=where)
            s = rows[col].map(lambda v: None if v is None else ("true" if v == "1" else "false"))
            return s, col
        values = spec.get("values") or choices.get(base, {})
        join = str(spec.get("join", "+"))
        cols = [(code, f"{base}___{code}") for code in values]
        missing = [c for _, c in cols if c not in rows.columns]
        if not cols or missing:
            raise InputError(
                f"checkbox '{base}' has no columns {missing or ''} in the export", column=where
            )

        def pick(rec: dict) -> str | None:
            chosen = [str(values[code]) for code, c in cols if rec.get(c) == "1"]
            return join.join(chosen) if chosen else None

        return pd.Series([pick(r) for r in rows.to_dict("records")], index=rows.index), base
    field = spec.get("field")
    if not field:
        raise InputError(
            f"mapping of '{target}' needs 'field', 'checkbox' or 'template'", column=where
        )
    if field not in rows.columns:
        raise InputError(f"REDCap field '{field}' is not in the export", column=where)
    s = rows[field]
    values = spec.get("values")
    if values is None and spec.get("use_dictionary", True) and field in choices:
        values = choices[field]
    if values:
        vmap = {str(k): str(v) for k, v in values.items()}
        s = s.map(lambda v: None if v is None else vmap.get(v, v))
    return s, field


def read_redcap(
    export: str | Path, mapping: str | Path, dictionary: str | Path | None = None
) -> RegistrySource:
    """Read a REDCap flat export (raw values) through a mapping file.

    Parameters
    ----------
    export : path
        The "CSV / Microsoft Excel (raw data)" export: one row per record for non-repeating
        instruments (``redcap_repeat_instrument`` empty) and one row per instance of a
        repeating instrument (``redcap_repeat_instrument``, ``redcap_repeat_instance``);
        checkbox fields appear as ``<field>___<code>`` columns holding 0/1.
    mapping : path
        TOML file: ``[entities.<entity>]`` with ``instrument`` (the repeating instrument's name,
        or ``""`` for the record's non-repeating row), optional ``require`` (keep only rows
        where this REDCap field is filled) and ``[entities.<entity>.fields]`` mapping each
        data-model field to a REDCap field name, or to a table ``{field = ..., values =
        {code = value}}``, ``{checkbox = ..., code = ...}`` (boolean), ``{checkbox = ...,
        values = {...}, join = "+"}`` (checked labels joined) or ``{template =
        "{record_id}-I{redcap_repeat_instance}"}``.
    dictionary : path, optional
        The project's data dictionary CSV; coded radio/dropdown/checkbox fields without
        explicit ``values`` are translated with its choice lists.
    """
    export = Path(export)
    m = load_mapping(mapping)
    data = _read_text_csv(export, "REDCap export")
    files = {export.name: file_sha256(export), Path(mapping).name: file_sha256(Path(mapping))}
    choices: dict[str, dict[str, str]] = {}
    if dictionary is not None:
        dd = _read_text_csv(Path(dictionary), "REDCap data dictionary")
        files[Path(dictionary).name] = file_sha256(Path(dictionary))
        name_col = next((c for c in dd.columns if c.lower().startswith("variable / field")), None)
        choice_col = next((c for c in dd.columns if c.lower().startswith("choices")), None)
        if name_col is None or choice_col is None:
            raise InputError(
                "the data dictionary lacks 'Variable / Field Name' or 'Choices...' columns",
                column="dictionary",
            )
        for name, text in zip(dd[name_col], dd[choice_col]):
            parsed = parse_choices(text)
            if name and parsed:
                choices[str(name)] = parsed
    data["_row"] = range(1, len(data) + 1)
    if "redcap_repeat_instrument" not in data.columns:
        data["redcap_repeat_instrument"] = None
    if "redcap_repeat_instance" not in data.columns:
        data["redcap_repeat_instance"] = None
    tables: dict[str, SourceTable] = {}
    for name, spec in m["entities"].items():
        instrument = spec.get("instrument", "") or None
        rri = data["redcap_repeat_instrument"]
        rows = data[rri.isna()] if instrument is None else data[rri == instrument]
        req = spec.get("require")
        if req:
            if req not in data.columns:
                raise InputError(
                    f"REDCap field '{req}' is not in the export", column=f"entities.{name}.require"
                )
            rows = rows[rows[req].notna()]
        out = {}
        labels = {}
        for target, fspec in spec["fields"].items():
            out[target], labels[target] = _map_field(
                rows, target, fspec, choices, f"entities.{name}.fields.{target}"
            )
        frame = pd.DataFrame(out, index=rows.index, dtype=object)
        frame["_row"] = rows["_row"].to_numpy()
        label = f"{export.name}[{instrument or 'record'}]"
        tables[name] = SourceTable(
            name, label, frame=frame.reset_index(drop=True), header=tuple(out), column_labels=labels
        )
    return RegistrySource("redcap", export, tables, files, [])


def read_source(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    dictionary: str | Path | None = None,
    **options,
) -> RegistrySource:
    """Read a registry: a folder (CSV), ``.xlsx`` workbook, or a REDCap export with a mapping."""
    p = Path(path)
    if mapping is not None:
        return read_redcap(p, mapping, dictionary)
    if p.is_dir():
        return read_csv_folder(p)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return read_excel(p)
    if not p.exists():
        raise InputError(f"'{p}' does not exist")
    raise InputError(
        f"'{p.name}' is neither a folder of CSV files, an .xlsx workbook, nor a REDCap export "
        "given with --mapping"
    )
