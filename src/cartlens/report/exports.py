"""The report's tables as CSV files and the whole report as ``report.docx``.

Both are written from the same context as the HTML report (so from the results only): every
table under ``tables/<analysis id>.csv`` (a second table of an analysis gets ``_2``...), and a
Word document with the title, the sections, real Word tables with their footnotes, the
figures (PNG) and the methods text, ready to paste into a manuscript.
"""

from __future__ import annotations

import csv
from pathlib import Path

from cartlens.ingest.store import formula_like


def table_files(context: dict) -> None:
    """Give every table of the context a ``csv`` file name (``tables/<id>.csv``)."""
    seen: dict[str, int] = {}
    for sec in context["sections"]:
        for b in sec["blocks"]:
            for t in b["tables"]:
                base = t.get("name") or b["id"]
                k = seen.get(base, 0) + 1
                seen[base] = k
                t["csv"] = f"tables/{base}.csv" if k == 1 else f"tables/{base}_{k}.csv"
    if context.get("replication"):
        context["replication_csv"] = "tables/replication.csv"


def csv_cell(value) -> str:
    """A table cell for CSV: text that a spreadsheet would run as a formula (a user's label
    such as ``=HYPERLINK(...)``) gets a leading apostrophe, as every registry export does
    (rule R065); numbers such as ``-0.35`` stay numbers."""
    text = str(value).replace("\u2003", "    ")
    if formula_like(text.lstrip()):
        try:
            float(text.replace("\u2212", "-"))
        except ValueError:
            return "'" + text
    return text


def write_tables(context: dict, out_dir: Path) -> list[Path]:
    """Write every table as CSV (UTF-8 with BOM, which Excel opens correctly)."""
    folder = out_dir / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for sec in context["sections"]:
        for b in sec["blocks"]:
            for t in b["tables"]:
                path = out_dir / t["csv"]
                with path.open("w", encoding="utf-8-sig", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(t["head"])
                    for r in t["rows"]:
                        w.writerow([csv_cell(v) for v in r])
                    for n in t.get("notes", []):
                        w.writerow([n])
                paths.append(path)
    if context.get("replication"):
        path = out_dir / context["replication_csv"]
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["figure", "quantity", "published", "cartlens", "agrees", "key"])
            for r in context["replication"]:
                w.writerow(
                    [
                        csv_cell(r[k])
                        for k in ("figure", "label", "published", "cartlens", "match", "key")
                    ]
                )
        paths.append(path)
    return paths


def write_docx(context: dict, out_dir: Path) -> Path:
    """``report.docx``: headings, Word tables, figures (PNG when drawn) and the methods."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(10)
    doc.add_heading(context["title"], level=0)
    if context.get("synthetic_note"):
        p = doc.add_paragraph()
        p.add_run(context["synthetic_note"]).bold = True
    if context["study"].get("description"):
        doc.add_paragraph(context["study"]["description"])

    def add_table(head: list, rows: list, notes: list) -> None:
        table = doc.add_table(rows=1, cols=len(head))
        table.style = "Table Grid"
        for cell, h in zip(table.rows[0].cells, head):
            cell.text = ""
            cell.paragraphs[0].add_run(str(h)).bold = True
        for r in rows:
            cells = table.add_row().cells
            for j, (cell, v) in enumerate(zip(cells, r)):
                cell.text = str(v)
                if j > 0:
                    cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        for n in notes:
            p = doc.add_paragraph(n)
            p.runs[0].font.size = Pt(8)

    def add_figure(f: dict) -> None:
        png = next((x for x in f.get("files", []) if x.endswith(".png")), None)
        if png and (out_dir / png).exists():
            doc.add_picture(str(out_dir / png), width=Mm(165))
            cap = doc.add_paragraph(f["title"])
            cap.runs[0].italic = True

    doc.add_heading("Study cohort", level=1)
    add_figure(context["flow"])
    add_table(
        ["Cohort", "Frame", "n"],
        [[c["label"], c["frame"], c["n_text"]] for c in context["cohorts"]],
        [],
    )
    for sec in context["sections"]:
        doc.add_heading(sec["title"], level=1)
        if sec.get("text"):
            doc.add_paragraph(sec["text"])
        for b in sec["blocks"]:
            doc.add_heading(b["title"], level=2)
            if b["status"] != "ok":
                doc.add_paragraph(f"Not available in this run ({b['status']}): {b['note']}")
            for t in b["tables"]:
                add_table(t["head"], t["rows"], t.get("notes", []))
            for f in b["figures"]:
                add_figure(f)
            for line in b["text"]:
                doc.add_paragraph(line)
            for w in b["warnings"]:
                p = doc.add_paragraph(w)
                p.runs[0].font.size = Pt(8)
    if context.get("replication"):
        doc.add_heading("Replication of the published figures", level=1)
        add_table(
            ["#", "Quantity", "Published", "cartlens", "Agrees"],
            [
                [
                    r["figure"],
                    r["label"],
                    r["published"],
                    r["cartlens"],
                    "yes" if r["match"] else "no",
                ]
                for r in context["replication"]
            ],
            [],
        )
    doc.add_heading("Methods", level=1)
    for para in context["methods"]:
        doc.add_paragraph(para)
    doc.core_properties.title = context["title"]
    doc.core_properties.author = context["software"]
    path = out_dir / "report.docx"
    doc.save(str(path))
    return path
