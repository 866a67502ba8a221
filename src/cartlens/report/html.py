"""Render a study run as one self-contained HTML file (inline SVG, no network access).

Figures are made by the functions in :mod:`cartlens.report.figures` from the run's results,
saved beside the report as SVG and PNG (``figures/<id>.svg|png``) and inlined as SVG.
Tables are built from the analyses' ``summary``/``details`` only - nothing is recomputed.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cartlens.report.analyses import RENDERERS, RenderContext
from cartlens.report.format import Formatter
from cartlens.report.methods import methods_text

TEMPLATE_DIR = Path(__file__).parent / "templates"

#: headings of the default sections an analysis type goes to (a study may declare its own)
DEFAULT_SECTIONS = {
    "baseline": "Patient characteristics",
    "efficacy": "Response",
    "safety": "Toxicity",
    "survival": "Survival",
    "risk": "Risk factors",
    "not_done": "Additional analyses",
    "other": "Other analyses",
}


def _svg_text(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    return svg


_PENDING: list[tuple[str, Callable[[], Any]]] = []


def _render_one(fid: str, make: Callable[[], Any], out_dir: Path | None, png: bool) -> dict:
    import matplotlib.pyplot as plt

    fig = make()
    try:
        svg = _svg_text(fig)
        files = []
        if out_dir is not None:
            (out_dir / "figures" / f"{fid}.svg").write_text(svg, encoding="utf-8")
            files.append(f"figures/{fid}.svg")
            if png:
                # zlib level 1: the same pixels, ~30% less CPU than the default level 6
                fig.savefig(
                    out_dir / "figures" / f"{fid}.png",
                    dpi=100,
                    metadata={"Software": None},
                    pil_kwargs={"compress_level": 1},
                )
                files.append(f"figures/{fid}.png")
    finally:
        plt.close(fig)
    return {"svg": svg, "files": files}


def _render_pending(i: int, out_dir: Path | None, png: bool) -> dict:
    fid, make = _PENDING[i]
    return _render_one(fid, make, out_dir, png)


class _Figures:
    """Collects figure makers; :meth:`render` draws them (two processes where possible)."""

    def __init__(self, out_dir: Path | None, png: bool = True) -> None:
        self.out_dir = out_dir
        self.png = png
        self.items: dict[str, dict] = {}
        self.makers: list[tuple[str, Callable[[], Any]]] = []
        if out_dir is not None:
            (out_dir / "figures").mkdir(parents=True, exist_ok=True)

    def add(self, fid: str, title: str, make: Callable[[], Any]) -> dict:
        item = {"id": fid, "title": title, "svg": "", "files": []}
        self.items[fid] = item
        self.makers.append((fid, make))
        return item

    def render(self, parallel: bool = True) -> None:
        import os

        done: dict[str, dict] = {}
        if parallel and len(self.makers) >= 4 and (os.cpu_count() or 1) >= 2:
            try:
                done = self._render_parallel()
            except Exception:  # noqa: BLE001 - fall back to drawing here
                done = {}
        for fid, make in self.makers:
            if fid not in done:
                done[fid] = _render_one(fid, make, self.out_dir, self.png)
            self.items[fid].update(done[fid])

    def _render_parallel(self) -> dict[str, dict]:
        """Draw the second half of the figures in a forked worker while this process draws
        the first half (figure drawing is CPU-bound and the figures are independent)."""
        import multiprocessing as mp

        global _PENDING
        ctx = mp.get_context("fork")
        _PENDING = list(self.makers)
        half = len(_PENDING) // 2
        out: dict[str, dict] = {}
        try:
            with ctx.Pool(1) as pool:
                async_res = [
                    (i, pool.apply_async(_render_pending, (i, self.out_dir, self.png)))
                    for i in range(half, len(_PENDING))
                ]
                for i in range(half):
                    fid, make = _PENDING[i]
                    out[fid] = _render_one(fid, make, self.out_dir, self.png)
                for i, r in async_res:
                    out[_PENDING[i][0]] = r.get(timeout=120)
        finally:
            _PENDING = []
        return out


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "one of " + ", ".join(_value_text(x) for x in v)
    if isinstance(v, dict):  # {op, value}
        if v.get("op") in ("is_null", "not_null"):
            return "missing" if v["op"] == "is_null" else "not missing"
        return f"{v.get('op', '==')} {_value_text(v.get('value'))}"
    return str(v)


def _filters(c: dict) -> str:
    """A cohort's filters as text: ``within cart1; cr = true; age >= 65``."""
    parts = [f"within {c['parent']}"] if c.get("parent") else []
    for k, v in (c.get("where") or {}).items():
        sep = " " if isinstance(v, dict) else " = "  # "age >= 65", "x missing"
        parts.append(f"{k}{sep}{_value_text(v)}")
    return "; ".join(parts)


def _section_of(a) -> str:
    return a.section or RENDERERS[a.type].section


def build_context(run, out_dir: Path | None = None, *, png: bool = True) -> dict:
    """Everything the template needs (figures are written to ``out_dir/figures``)."""
    study = run.study
    fmt = Formatter(study["presentation"])
    figs = _Figures(out_dir, png=png)
    cohorts = run.cohorts
    spec_cohorts = study["cohorts"]

    # ---- flow diagram ----
    from cartlens.report.figures.flow import flow_figure

    nodes = [
        {
            "name": n,
            "label": c["label"],
            "n": c["n"],
            "parent": c["parent"] or spec_cohorts[n].get("flow_from"),
        }
        for n, c in cohorts.items()
    ]
    flow = figs.add("flow", "Cohort flow", lambda: flow_figure(nodes, count_format=fmt.count))

    blocks: dict[str, list[dict]] = {}
    for a in run.analyses:
        sec = _section_of(a)
        block: dict[str, Any] = {
            "id": a.id,
            "title": a.title,
            "type": a.type,
            "status": a.status,
            "note": a.note,
            "warnings": list(a.warnings),
            "figures": [],
            "tables": [],
            "text": [],
        }
        if a.status != "ok":
            blocks.setdefault(sec, []).append(block)
            continue
        r = RenderContext(fmt=fmt, figs=figs, study=study, cohorts=cohorts, block=block)
        RENDERERS[a.type].render(a, r)
        blocks.setdefault(sec, []).append(block)

    # ---- replication table ----
    rep_rows = []
    for r in run.replication_table:
        pub = r["published"]
        dec = r["decimals"]
        if pub == "NR":
            pub_s = "not reached"
        elif dec is not None:
            pub_s = f"{float(pub):.{dec}f}"
        else:
            pub_s = str(int(pub)) if pub is not None else "-"
        val = r["cartlens"]
        if val is None:
            val_s = "not reached"
        elif dec is not None:
            val_s = f"{float(val):.{dec}f}"
            if r["key"].startswith("p_"):
                val_s += f" ({float(val):.4f})"
        else:
            val_s = str(val)
        rep_rows.append(
            {
                "figure": r["figure"],
                "key": r["key"],
                "label": r["label"],
                "published": pub_s,
                "cartlens": val_s,
                "match": r["match"],
            }
        )
    n_match = sum(r["match"] for r in rep_rows)

    figs.render()
    analyses_list = list(run.analyses)
    declared = study.get("sections") or {}
    order = list(declared) + [k for k in DEFAULT_SECTIONS if k not in declared]
    order += [k for k in blocks if k not in order]
    sections = []
    for k in order:
        spec = declared.get(k) or {}
        if not blocks.get(k) and not spec.get("text"):
            continue  # no heading without content
        sections.append(
            {
                "key": k,
                "title": spec.get("title") or DEFAULT_SECTIONS.get(k, k.replace("_", " ")),
                "text": spec.get("text", ""),
                "blocks": blocks.get(k, []),
            }
        )
    return {
        "study": study["study"],
        "title": study["study"]["title"],
        "synthetic_note": study["study"].get("synthetic_note", ""),
        "flow": flow,
        "cohorts": [
            {"name": n, **c, "n_text": fmt.count(c["n"]), "filters": _filters(c)}
            for n, c in cohorts.items()
        ],
        "sections": sections,
        "replication": rep_rows,
        "n_match": n_match,
        "n_targets": len(rep_rows),
        "methods": methods_text(study, analyses_list, run.software_version),
        "warnings": list(run.warnings),
        "inputs": run.inputs,
        "software": run.software_version,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "figures": list(figs.items.values()),
        "esc": html.escape,
    }


def render_html(context: dict) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def write_report(run, out_dir: str | Path, *, png: bool = True) -> Path:
    """Write ``report.html``, ``report.docx``, ``tables/*.csv`` and ``figures/*.svg|png``
    into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from cartlens.report.exports import table_files, write_docx, write_tables

    ctx = build_context(run, out, png=png)
    table_files(ctx)
    path = out / "report.html"
    path.write_text(render_html(ctx), encoding="utf-8")
    write_tables(ctx, out)
    write_docx(ctx, out)
    return path
