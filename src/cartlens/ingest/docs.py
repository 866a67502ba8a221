"""The "Sources, import and store" section of ``docs/data-model.md``."""

from __future__ import annotations

SOURCES = """## Sources, import and store

### Reading
- **CSV folder**: one `<entity>.csv` per entity (header row, `"` quotes). Other `.csv`
  files are reported (R003) and ignored. The dialect of each file is stated in the import
  report (`settings.read.<file>`: `delimiter`, `decimal`, `encoding`, and which of them were
  declared):
  - the field separator is detected from the header (`,` `;` tab `|`: the one that gives the
    most columns) or declared with `--delimiter` (`;`, `tab`, ...); a declared separator that
    leaves the header as one column while another splits it is an R000 error, so a file is
    never read as a single column;
  - the decimal mark is `,` when the separator is not a comma and a number field of the first
    1000 rows is written with a decimal comma (European Excel: `;` and `34,4`), otherwise
    `.`; `--decimal ,` or `--decimal .` declares it;
  - the text is UTF-8 (optional BOM) unless `--encoding` declares another (`latin-1`,
    `cp1252`, ...); bytes that do not decode are an R000 error naming the data row and the
    column, and saying to declare the encoding;
  - structural errors are R000 findings naming the data row (1-based, header excluded) and,
    where known, the column: a row with too many fields, a row with too few (the first missing
    column), an unbalanced quote (the column it opens in). A file that cannot be read is not
    also reported as missing.
- **Excel workbook** (`.xlsx`): one sheet per entity, named like the entity; the first row is
  the header. Date cells and numbers typed by the spreadsheet are accepted as such; cells are
  read as the workbook shows them: a percent-formatted number as the percentage shown
  (`34.4%`, stored as 0.344, is 34.4) and a number in a date field as the Excel date serial it
  stands for, each reported once per column as an R004 warning (count, first data row). A
  formula cell whose workbook holds no saved value (files written by programs that do not
  calculate) is an R005 error, never an empty cell; a workbook that cannot be opened is an
  R000 finding (exit status 1).
- **REDCap**: the flat "raw data" export, optionally the data dictionary, and a TOML
  mapping file that says which instrument (and, in a longitudinal project, which event)
  feeds which entity and which REDCap field feeds which cartlens field. A template for a
  typical CAR-T project, with its data dictionary, is in `docs/redcap/` (`mapping.toml`,
  `dictionary.csv`); the tests import a template export built from the demo registry through
  it. What is read:
  - non-repeating instruments from the record's row (`redcap_repeat_instrument` empty),
    repeating instruments one row per `redcap_repeat_instance`; in a longitudinal export
    (`redcap_event_name`) an entity's rows come from the events named by `event = "..."` (or
    a list); without `event`, a non-repeating entity takes the record rows of any event where
    one of its fields is filled;
  - coded fields (radio, dropdown, yes/no) translated by the dictionary's choice labels (or
    an explicit `values` table), the labels matched to the data model's values ignoring case
    and blanks versus `_` (`Matched sibling` is `matched_sibling`); codes that have no choice
    are listed once per field and code with their row count (R020, row empty) beside the
    per-row R020;
  - checkbox fields from their `<field>___<code>` columns (found in the export even without a
    dictionary; a field mapped by its plain name that exists only as such columns is read as
    a checkbox): `{ checkbox = "f", code = "1" }` is a boolean, `{ checkbox = "f" }` the
    checked labels joined with `+`;
  - the record from the field named by `record_id = "..."` (default: the export's first
    column);
  - dates in the order declared once by `date_format = "YMD"` (default), `"DMY"` or `"MDY"`
    (`/`, `.` or `-` between the parts; a time part is dropped). An undeclared D/M/Y date is
    an R012 error whose message says to declare `date_format`;
  - every key is checked: an unknown key, entity, cartlens field, instrument (neither a
    repeating instrument of the export nor a form of the dictionary), event, or a REDCap field
    missing from the export is an error naming it with the closest known name ("did you
    mean"), before anything is validated;
  - each row keeps REDCap's own key (record, event, instrument, instance), so a date
    corrected in REDCap updates the stored row in place on the next import.
  Findings name the REDCap field and the export row (`export.csv[<instrument>]`).

### Import (`cartlens registry import SOURCE [--store cartlens.duckdb]`)
1. Everything is read and validated in memory (DuckDB SQL over the staged text; no per-row
   Python; DuckDB may use 256 MB and spills to a temporary folder beyond, so a file of a
   million rows is checked in well under 1 GB). The report begins with a summary: the
   findings by rule and column with their count and the first three examples (file, row,
   value), errors first and most frequent first; then the details (the first 50 on the
   screen), the rows read/inserted/updated/unchanged/missing/deleted per entity, how each
   file was read (separator, decimal mark, encoding) and the outcome. `--json` prints all of
   it as one JSON object (`summary`, `findings`, `counts`, `settings`, `n_errors`,
   `n_warnings`, `n_not_listed`, `stopped_early`). The complete list of findings is written
   as CSV beside the store (`<store>.findings.csv`; `--report FILE` for another path, `.json`
   for JSON). Tables written to a file or a pipe are never cut to a terminal's width.
   `--max-errors N` (default 1000) lists at most N errors (and N warnings); when the files
   hold more errors than that, the rules between rows and entities are not run (stopped
   early) and the report says how many findings were counted but not listed.
2. Any error: nothing is written, the store file is byte-for-byte unchanged, exit status 1.
3. Otherwise the import is written into a copy of the store in one transaction, which then
   atomically replaces the store (a failure at any point leaves the store as it was). Only one
   import runs at a time: `<store>.lock` holds the importing process's id and host. A lock
   whose process is gone (an import killed by `kill -9`, a crash, a power cut) is detected by
   the next import, which removes it and the dead process's temporary copy
   `.<store>.importing-<pid>` and goes on; a lock of a live process is refused, naming it.
   A folder that cannot be written (permissions) or a disk that fills up is an error naming
   the path (exit status 2, no traceback); no partial file is left behind.
4. Rows are matched to stored rows by their identity (below each entity's table): first by
   the source's own key where it has one (REDCap: record, event, instrument and repeat
   instance), then by the entity's identity columns. A matched row whose values differ is
   updated in place, and the `changes` table keeps, per changed field, the old and the new
   value (with the import id, the row's identity and its data row); unmatched rows are
   inserted. Stored rows of an entity the import holds that it does not contain (a full
   re-export that no longer has them) are listed as R070 warnings and kept; `--sync` deletes
   them (each deletion is audited in `changes` with the old values as JSON). Entities absent
   from the source are not touched. Re-importing files with the same content hashes writes no
   data (outcome `unchanged`).
5. The store as the import would leave it is then checked with every rule between rows and
   entities (R030-R062) inside the import's transaction: a merge that would break one (a
   death moved before a stored relapse, an infusion renumbered beside the stored one, a
   `--sync` that would orphan stored rows) is refused like an error of the files. Each such
   finding names the rule, the incoming file and data row, and the stored row it conflicts
   with (its identity and the import that wrote it); the store is untouched.
6. Every import is recorded in the `imports` table (time, source, file names and SHA-256,
   counts read/inserted/updated/unchanged/missing/deleted per entity, warnings, outcome); its
   warnings are stored in `findings`.

### Store
A DuckDB file with one table per entity (plus `_import_id`, the import that last wrote the
row, `_import_row`, its data row in that import, `_source_key`, the source's own key, and
`astct_grade` on `toxicities`), `changes` (the per-field audit),
`meta` (`schema_version`, `created_at`, `cartlens_version`), `imports` and
`findings`. A newer cartlens migrates an older store when it opens it for writing (a
read-only open migrates an in-memory copy); a store written by a newer cartlens is refused.
`cartlens registry export OUT` writes the store back in the import format (CSV folder or
`.xlsx`). Text beginning with `=`, `+`, `-` or `@` (warned about at import, R065) is never
written as a live formula: CSV exports (including `registry derive`) prefix it with an
apostrophe, which an import removes again, and XLSX exports write it as a text cell; the
round trip keeps the text exactly.
"""


def render_sources() -> str:
    return SOURCES
