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

from cartlens.report.format import Formatter
from cartlens.report.methods import methods_text

TEMPLATE_DIR = Path(__file__).parent / "templates"

SECTIONS = (
    ("flow", "Study cohort"),
    ("baseline", "Baseline characteristics"),
    ("efficacy", "Response"),
    ("safety", "Toxicity"),
    ("survival", "Survival after CART2"),
    ("risk", "Risk factors"),
    ("replication", "Replication of the published figures"),
    ("not_done", "What the study did not do"),
    ("methods", "Methods"),
)


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


def _cp(fmt: Formatter, x: Any, n: Any) -> str:
    """'x (p%)' with small-cell suppression."""
    if n is None:
        return f"{fmt.count(x)} (-)"
    return f"{fmt.count(x)} ({fmt.pct(x, n)})"


def _section_of(a) -> str:
    return a.section or {
        "descriptive": "baseline",
        "proportion": "efficacy",
        "compare_proportions": "efficacy",
        "paired_proportions": "not_done",
        "grade_distribution": "safety",
        "km": "survival",
        "swimmer": "survival",
        "cox": "risk",
        "logistic": "risk",
        "time_dependent": "not_done",
        "adjusted": "not_done",
    }.get(a.type, "other")


def build_context(run, out_dir: Path | None = None, *, png: bool = True) -> dict:
    """Everything the template needs (figures are written to ``out_dir/figures``)."""
    study = run.study
    fmt = Formatter(study["presentation"])
    figs = _Figures(out_dir, png=png)
    cohorts = run.cohorts
    spec_cohorts = study["cohorts"]

    def clabel(name: str) -> str:
        return cohorts.get(name, {}).get("label", name)

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

    blocks: dict[str, list[dict]] = {k: [] for k, _ in SECTIONS}
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
        s, d = a.summary, a.details
        if a.type == "proportion":
            block["tables"].append(
                {
                    "head": [
                        "Cohort",
                        "CR / n",
                        "%",
                        f"{100 * d['conf_level']:.0f}% CI ({d['method']})",
                    ],
                    "rows": [
                        [
                            r["label"],
                            f"{fmt.count(r['x'])}/{fmt.count(r['n'])}",
                            fmt.pct(r["x"], r["n"]),
                            fmt.ci(r["lower"], r["upper"]),
                        ]
                        for r in d["rows"]
                    ],
                }
            )
        elif a.type == "compare_proportions":
            c1, c2 = a.cohorts
            block["tables"].append(
                {
                    "head": ["", clabel(c1), clabel(c2), "P", "test"],
                    "rows": [
                        [
                            a.title.split(",")[0],
                            fmt.count_pct(s["x1"], s["n1"]),
                            fmt.count_pct(s["x2"], s["n2"]),
                            fmt.pvalue(s["p"]),
                            d["method"],
                        ],
                        [
                            "(Fisher's exact test)",
                            "",
                            "",
                            fmt.pvalue(s["p_fisher"]),
                            "for reference",
                        ],
                    ],
                }
            )
        elif a.type == "paired_proportions":
            c1, c2 = a.cohorts
            block["tables"].append(
                {
                    "head": [
                        f"{clabel(c1)} \\ {clabel(c2)}",
                        "yes",
                        "no",
                    ],
                    "rows": [
                        ["yes", fmt.count(s["both"]), fmt.count(s["first_only"])],
                        ["no", fmt.count(s["second_only"]), fmt.count(s["neither"])],
                    ],
                }
            )
            block["text"].append(
                f"{s['n_pairs']} patients had both infusions evaluated: {fmt.num(s['pct1'])}% "
                f"after the first vs {fmt.num(s['pct2'])}% after the second; McNemar's exact "
                f"test P = {fmt.pvalue(s['p'])} (discordant pairs {s['first_only']} vs "
                f"{s['second_only']})."
            )
        elif a.type == "grade_distribution":
            rows = d["rows"]
            tox = d["toxicity"].upper()
            head = (
                ["Cohort", "n"]
                + [f"grade {g}" for g in range(0, 6)]
                + ["any", f"grade >= {d['severe_grade']}"]
            )
            block["tables"].append(
                {
                    "head": head,
                    "rows": [
                        [r["label"], fmt.count(r["n"])]
                        + [_cp(fmt, r["counts"][str(g)], r["n"]) for g in range(0, 6)]
                        + [
                            f"{fmt.count(r['any'])} ({fmt.pct(r['any'], r['n'])})",
                            f"{fmt.count(r['severe'])} ({fmt.pct(r['severe'], r['n'])})",
                        ]
                        for r in rows
                    ],
                }
            )
            from cartlens.report.figures.toxicity import grade_bar_figure

            block["figures"].append(
                figs.add(
                    a.id,
                    a.title,
                    lambda rows=rows, tox=tox: grade_bar_figure(rows, toxicity=tox),
                )
            )
        elif a.type == "km":
            from cartlens.report.figures.km import km_figure

            pv = []
            for g1, g2 in d.get("pairs", []):
                lab = {c["group"]: c["label"] for c in d["curves"]}
                pv.append(
                    f"log-rank P = {fmt.pvalue(s.get(f'logrank.{g1}|{g2}'))}: "
                    f"{lab.get(g1, g1)} vs {lab.get(g2, g2)}"
                )
            if not d.get("pairs") and s.get("logrank") is not None:
                pv.append(f"log-rank P = {fmt.pvalue(s['logrank'])}")
            km = a.results["km"]
            ep = d["endpoint"].upper()
            block["figures"].append(
                figs.add(
                    a.id,
                    a.title,
                    lambda km=km, d=d, t=a.title, pv=pv, ep=ep: km_figure(
                        km,
                        d["curves"],
                        title=t,
                        endpoint=ep,
                        time_unit=d["time_unit"],
                        risk_times=d["risk_times"],
                        pvalues=pv,
                        decimals=fmt.decimals,
                        count_format=fmt.count,
                    ),
                )
            )
            block["tables"].append(
                {
                    "head": ["Group", "n", "events", f"median {ep} ({d['time_unit']})", "95% CI"],
                    "rows": [
                        [
                            c["label"],
                            fmt.count(c["n"]),
                            fmt.count(c["events"]),
                            fmt.median(c["median"]),
                            f"{fmt.median(c['median_lower'])}-{fmt.median(c['median_upper'])}",
                        ]
                        for c in d["curves"]
                    ],
                }
            )
            block["text"] += pv
        elif a.type == "competing_risks":
            from cartlens.report.figures.competing import cif_figure

            unit = d["time_unit"]
            block["tables"].append(
                {
                    "head": ["Group", "Cause", f"at ({unit})", "cumulative incidence", "95% CI"],
                    "rows": [
                        [
                            r["group"],
                            r["cause"],
                            fmt.num(r["time"], 0),
                            fmt.pct(r["estimate"], 1) if r["estimate"] is not None else "-",
                            fmt.ci(r["lower"], r["upper"]),
                        ]
                        for r in d["rows"]
                    ],
                }
            )
            for k, v in s.items():
                if k.startswith("gray."):
                    block["text"].append(f"Gray's test, {k[5:]}: P = {fmt.pvalue(v)}")
            res = a.results["cuminc"]
            causes = {int(k): v for k, v in d["causes"].items()}
            block["figures"].append(
                figs.add(
                    a.id,
                    a.title,
                    lambda res=res, d=d, causes=causes: cif_figure(
                        res,
                        at_risk=d["at_risk"] if None not in res.groups else None,
                        risk_times=d["risk_times"],
                        cause_labels=causes,
                        group_labels=d["labels"],
                        time_unit=d["time_unit"],
                    ),
                )
            )
        elif a.type == "swimmer":
            from cartlens.report.figures.swimmer import swimmer_figure

            if d.get("selection"):
                block["text"].append(d["selection"]["note"])
            block["figures"].append(
                figs.add(
                    a.id,
                    a.title,
                    lambda d=d, t=a.title: swimmer_figure(
                        d["patients"],
                        time_unit=d["time_unit"],
                        title=t,
                        note=(d.get("selection") or {}).get("note", ""),
                    ),
                )
            )
        elif a.type in ("cox", "logistic"):
            from cartlens.report.figures.forest import forest_figure

            meas = "hr" if a.type == "cox" else "or"
            rows = d["rows"]
            block["tables"].append(
                {
                    "head": ["Model", "Term", "HR" if meas == "hr" else "OR", "95% CI", "P"],
                    "rows": [
                        [r["model"], r["term"], "error", r["error"], ""]
                        if "error" in r
                        else [
                            r["model"],
                            r["term"],
                            fmt.num(r[meas], 2),
                            f"{fmt.num(r['lower'], 2)}-{fmt.num(r['upper'], 2)}",
                            fmt.pvalue(r["p"]),
                        ]
                        for r in rows
                    ],
                }
            )
            block["figures"].append(
                figs.add(
                    a.id,
                    a.title,
                    lambda rows=rows, meas=meas, t=a.title: forest_figure(
                        rows, measure=meas, title=t
                    ),
                )
            )
        elif a.type == "descriptive":
            groups = d["groups"]
            head = (
                ["Characteristic"]
                + [
                    f"{d.get('labels', {}).get(g) or d['by'] + ' = ' + g} (n={s.get('n.' + g, '')})"
                    for g in groups
                ]
                + ["P", "test"]
            )
            rows = []
            for r in d["rows"]:
                if r["kind"] == "numeric":
                    rows.append(
                        [f"{r['variable']}, median (IQR)"]
                        + [
                            f"{fmt.num(c['median'])} ({fmt.num(c['q1'])}-{fmt.num(c['q3'])})"
                            for c in r["cells"]
                        ]
                        + [fmt.pvalue(r["p"]), r["test"] or ""]
                    )
                else:
                    for j, lv in enumerate(r["levels"]):
                        rows.append(
                            [f"{r['variable']} = {lv['level']}, n (%)"]
                            + [_cp(fmt, c["n"], c.get("denom")) for c in lv["cells"]]
                            + ([fmt.pvalue(r["p"]), r["test"] or ""] if j == 0 else ["", ""])
                        )
            block["tables"].append({"head": head, "rows": rows})
        elif a.type == "time_dependent":
            unit = d["time_unit"]
            rows = [
                [
                    "Naive: exposed ever vs never, from time zero (immortal-time biased)",
                    fmt.num(s.get("naive.hr"), 2),
                    f"{fmt.num(s.get('naive.lower'), 2)}-{fmt.num(s.get('naive.upper'), 2)}",
                    fmt.pvalue(s.get("naive.p")),
                ],
                [
                    "Time-dependent Cox (exposure from its date)",
                    fmt.num(s.get("td.hr"), 2),
                    f"{fmt.num(s.get('td.lower'), 2)}-{fmt.num(s.get('td.upper'), 2)}",
                    fmt.pvalue(s.get("td.p")),
                ],
                [
                    f"Landmark at day {fmt.num(s.get('landmark.days'), 0)} "
                    f"(n = {s.get('landmark.n')}, exposed {s.get('landmark.exposed')}, "
                    f"{s.get('landmark.excluded')} excluded)",
                    fmt.num(s.get("landmark.hr"), 2),
                    f"{fmt.num(s.get('landmark.lower'), 2)}-{fmt.num(s.get('landmark.upper'), 2)}",
                    fmt.pvalue(s.get("landmark.p")),
                ],
            ]
            if s.get("mantel_byar.p") is not None:
                rows.append(["Mantel-Byar test", "", "", fmt.pvalue(s.get("mantel_byar.p"))])
            block["tables"].append({"head": ["Analysis", "HR", "95% CI", "P"], "rows": rows})
            block["text"].append(
                f"Counting exposed patients as exposed from time zero credits them with "
                f"{fmt.num(s.get('immortal_person_time'))} {unit} of immortal time."
            )
            from cartlens.report.figures.km import km_figure

            lm = a.results.get("landmark")
            if d.get("landmark_curves") and lm is not None and lm.km is not None:
                block["figures"].append(
                    figs.add(
                        a.id + "_landmark",
                        a.title + " (landmark)",
                        lambda lm=lm, d=d, s=s: km_figure(
                            lm.km,
                            d["landmark_curves"],
                            title="Landmark analysis: OS from day "
                            + fmt.num(s.get("landmark.days"), 0),
                            endpoint="OS",
                            time_unit=d["time_unit"],
                            risk_times=d["risk_times"],
                            pvalues=[f"log-rank P = {fmt.pvalue(s.get('landmark.p'))}"],
                            decimals=fmt.decimals,
                            count_format=fmt.count,
                        ),
                    )
                )
            sm = a.results.get("simon_makuch")
            if sm is not None and d.get("simon_makuch_curves"):
                block["figures"].append(
                    figs.add(
                        a.id + "_simon_makuch",
                        a.title + " (Simon-Makuch)",
                        lambda sm=sm, d=d, s=s: km_figure(
                            sm,
                            d["simon_makuch_curves"],
                            title="Simon-Makuch curves: patients switch group at allo-HSCT",
                            endpoint="OS",
                            time_unit=d["time_unit"],
                            risk_times=d["risk_times"],
                            pvalues=[f"Mantel-Byar P = {fmt.pvalue(s.get('mantel_byar.p'))}"],
                            decimals=fmt.decimals,
                            count_format=fmt.count,
                        ),
                    )
                )
        elif a.type == "adjusted":
            bal = a.results.get("balance")
            if bal is not None:
                from cartlens.report.figures.balance import love_plot

                block["figures"].append(
                    figs.add(
                        a.id + "_balance",
                        a.title + " (covariate balance)",
                        lambda bal=bal: love_plot(bal, title="Covariate balance before/after IPTW"),
                    )
                )
            block["tables"].append(
                {
                    "head": ["Method", "n (treated / control)", "HR", "95% CI", "P"],
                    "rows": [
                        [
                            d["method"]
                            + (f" on {', '.join(d['covariates'])}" if d["covariates"] else ""),
                            f"{s.get('n')} ({s.get('n_treated')} / {s.get('n_control')})",
                            fmt.num(s.get("hr"), 2),
                            f"{fmt.num(s.get('lower'), 2)}-{fmt.num(s.get('upper'), 2)}",
                            fmt.pvalue(s.get("p")),
                        ]
                    ],
                }
            )
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
    sections = [
        {"key": k, "title": t, "blocks": blocks.get(k, [])}
        for k, t in SECTIONS
        if k not in ("flow", "replication", "methods")
    ]
    return {
        "study": study["study"],
        "title": study["study"]["title"],
        "synthetic_note": study["study"].get("synthetic_note", ""),
        "flow": flow,
        "cohorts": [{"name": n, **c, "n_text": fmt.count(c["n"])} for n, c in cohorts.items()],
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
    """Write ``report.html`` and ``figures/*.svg|png`` into ``out_dir``; return the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = build_context(run, out, png=png)
    path = out / "report.html"
    path.write_text(render_html(ctx), encoding="utf-8")
    return path
