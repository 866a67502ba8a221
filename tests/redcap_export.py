"""Build a REDCap flat export (raw codes) from a registry in the import format, by inverting a
mapping file and its data dictionary: the test export of the template REDCap project."""

from __future__ import annotations

import csv
import re
import tomllib
from collections import defaultdict
from pathlib import Path

from cartlens.ingest.readers import _read_dictionary, _vocab_key

REDCAP_COLUMNS = [
    "redcap_event_name",
    "redcap_repeat_instrument",
    "redcap_repeat_instance",
]


def _dictionary_fields(path: Path) -> list[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [(r["Variable / Field Name"], r["Field Type"]) for r in csv.DictReader(f)]


def build_export(registry: Path, mapping: Path, dictionary: Path, out: Path) -> Path:
    """Write ``out``: the REDCap export that ``mapping`` reads back as ``registry``."""
    m = tomllib.loads(mapping.read_text())
    choices, _ = _read_dictionary(dictionary)
    codes = {f: {_vocab_key(lab): code for code, lab in ch.items()} for f, ch in choices.items()}
    record = m.get("record_id", "record_id")
    rows: dict[tuple, dict] = {}
    counters: dict[tuple, int] = defaultdict(int)
    for name, spec in m["entities"].items():
        path = registry / f"{name}.csv"
        if not path.exists():
            continue
        instrument = spec.get("instrument", "")
        event = spec.get("event", "")
        with open(path, newline="", encoding="utf-8") as f:
            data = list(csv.DictReader(f))
        for rec in data:
            cells: dict[str, str] = {}
            for target, fs in spec["fields"].items():
                value = rec.get(target, "")
                if isinstance(fs, str):
                    fs = {"field": fs}
                if "template" in fs:
                    pattern = re.sub(r"\\{([^{}]+)\\}", r"(?P<\1>.+)", re.escape(fs["template"]))
                    hit = re.fullmatch(pattern, value)
                    assert hit, (fs["template"], value)
                    cells.update(hit.groupdict())
                elif "checkbox" in fs and "code" in fs:
                    # an unrecorded boolean (CRS/ICANS treatment of an ICAHT row) leaves the
                    # box blank, which reads back as missing: REDCap itself writes 0 there
                    flag = {"true": "1", "false": "0"}.get(value, "")
                    cells[f"{fs['checkbox']}___{fs['code']}"] = flag
                elif "checkbox" in fs:
                    base = fs["checkbox"]
                    chosen = {codes[base][_vocab_key(v)] for v in value.split("+") if v}
                    for code in choices[base]:
                        cells[f"{base}___{code}"] = "1" if code in chosen else "0"
                else:
                    field = fs["field"]
                    if value and field in codes:
                        key = _vocab_key({"true": "yes", "false": "no"}.get(value, value))
                        value = codes[field][key]
                    cells[field] = value
            rid = cells.pop(record)
            if instrument:
                inst = cells.pop("redcap_repeat_instance", None)
                if inst is None:
                    counters[(rid, event, instrument)] += 1
                    inst = str(counters[(rid, event, instrument)])
                key = (rid, event, instrument, inst)
            else:
                key = (rid, event, "", "")
            rows.setdefault(key, {}).update(cells)
    fields = []
    for f, typ in _dictionary_fields(dictionary):
        if typ == "checkbox":
            fields += [f"{f}___{c}" for c in choices[f]]
        elif f != record:
            fields.append(f)
    header = [record, *REDCAP_COLUMNS, *fields]
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for (rid, event, instrument, inst), cells in sorted(rows.items()):
            w.writerow([rid, event, instrument, inst, *(cells.get(c, "") for c in fields)])
    return out
