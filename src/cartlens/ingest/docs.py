"""The "Sources, import and store" section of ``docs/data-model.md``."""

from __future__ import annotations

SOURCES = """## Sources, import and store

### Reading
- **CSV folder**: one `<entity>.csv` per entity (UTF-8, optional BOM, comma-separated, `"`
  quotes, header row). Other `.csv` files are reported (R003) and ignored.
- **Excel workbook** (`.xlsx`): one sheet per entity, named like the entity; the first row is
  the header. Date cells and numbers typed by the spreadsheet are accepted as such.
- **REDCap**: the flat "raw data" export (non-repeating instruments on the record's row with
  an empty `redcap_repeat_instrument`; one row per instance of a repeating instrument, numbered
  by `redcap_repeat_instance`; checkbox fields as `<field>___<code>` 0/1 columns), optionally the
  data dictionary (its choice lists translate coded fields), and a TOML mapping file that says
  which instrument feeds which entity and which REDCap field feeds which cartlens field. See
  `tests/data/redcap/mapping.toml` for a commented example (explicit value recoding, checkbox
  to boolean, checked labels joined, and id templates such as
  `{record_id}-I{redcap_repeat_instance}`). Findings then name the REDCap field and the export
  row.

### Import (`cartlens registry import SOURCE [--store cartlens.duckdb]`)
1. Everything is read and validated in memory (DuckDB SQL over the staged text; no per-row
   Python). The findings go to the report file (`--report`, default `<store>.findings.csv`;
   `.json` for JSON), to the screen as a table, or to stdout with `--json`.
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
`.xlsx`).
"""


def render_sources() -> str:
    return SOURCES
