"""Run the cartlens benchmarks and print each one's time beside its peers.

Usage::

    python bench/run.py [--quick] [--only B1,B2] [--json out.json] [--peers r,lifelines]
                        [--repeat 3]

Every ``bench/bench_<name>.py`` module defines ``run(quick: bool = False) -> list[dict]``;
each dict is one benchmark::

    {"id": "B1", "label": "...", "cartlens": seconds, "r": seconds-or-None,
     "<peer>": seconds-or-None, ..., "notes": "..."}

Optional keys: ``"components"`` (``{name: {"cartlens": s, "r": s, ...}}``, printed as
indented lines ``B2.cox ...``), ``"cartlens_peak_mb"`` (peak memory, printed indented) and
``"details"`` (anything, kept in ``--json`` only). Any other top-level key whose value is a
number or None is a peer. A module may declare ``IDS = ("B1", "B2")`` so that ``--only``
can skip it without running it, and its ``run`` may accept ``only=`` (a set of ids).

Output: one line per benchmark, ``B1 cartlens=<s> r=<s|na> lifelines=<s|na>
ratio_r=<r/cartlens> ratio_lifelines=<lifelines/cartlens>`` (seconds; ``na`` when a peer is
absent), then indented detail lines. The R part runs only when ``Rscript`` is on PATH.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

# One BLAS thread unless set, as the ``cartlens`` command does (cartlens.cli.main); set before
# any benchmark module imports numpy.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
RESERVED = {"id", "label", "notes", "cartlens", "components", "details", "cartlens_peak_mb"}


def discover(folder: Path = HERE) -> list[Path]:
    """The ``bench_*.py`` files of ``folder``, sorted by name."""
    return sorted(folder.glob("bench_*.py"))


def load_module(path: Path) -> ModuleType:
    """Import a benchmark module from its path (``bench/`` is put on ``sys.path``)."""
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"cartlens_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fmt_seconds(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "na"
    return f"{v:.4g}"


def fmt_ratio(peer: float | None, base: float | None) -> str:
    if peer is None or base is None or base <= 0 or not math.isfinite(peer):
        return "na"
    return f"{peer / base:.1f}"


def peers_of(result: dict) -> list[str]:
    """Peer keys of a result, in the order given."""
    return [
        k
        for k, v in result.items()
        if k not in RESERVED and (v is None or isinstance(v, int | float)) and k != "n"
    ]


def format_line(result: dict) -> str:
    """``B1 cartlens=<s> r=<s|na> lifelines=<s|na> ratio_r=<x> ratio_lifelines=<x>``."""
    base = result.get("cartlens")
    peers = peers_of(result)
    parts = [str(result["id"]), f"cartlens={fmt_seconds(base)}"]
    parts += [f"{p}={fmt_seconds(result[p])}" for p in peers]
    parts += [f"ratio_{p}={fmt_ratio(result[p], base)}" for p in peers]
    return " ".join(parts)


def detail_lines(result: dict) -> list[str]:
    """Indented lines: components, peak memory, label and notes."""
    out = []
    rid = result["id"]
    for name, comp in (result.get("components") or {}).items():
        sub = {"id": f"{rid}.{name}", **comp}
        out.append("  " + format_line(sub))
    if result.get("cartlens_peak_mb") is not None:
        how = result.get("peak_method", "tracemalloc")
        out.append(f"  {rid} cartlens_peak_mb={result['cartlens_peak_mb']:.1f} ({how})")
    if result.get("label"):
        out.append(f"  {rid} label: {result['label']}")
    if result.get("notes"):
        out.append(f"  {rid} notes: {result['notes']}")
    return out


def run_module(mod: ModuleType, quick: bool, only: set[str] | None) -> list[dict]:
    ids = getattr(mod, "IDS", None)
    if only and ids is not None and not (set(ids) & only):
        return []
    params = inspect.signature(mod.run).parameters
    kwargs = {"quick": quick}
    if "only" in params:
        kwargs["only"] = only
    results = mod.run(**kwargs)
    if only:
        results = [r for r in results if r.get("id") in only]
    return results


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def main(argv: list[str] | None = None, out=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke runs)")
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. B1,B2")
    parser.add_argument("--json", dest="json_path", default=None, help="write results here")
    parser.add_argument(
        "--peers", default=None, help="peers to run, e.g. 'r,lifelines' (default: all)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="time cartlens and R this often, keep the best"
    )
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = out or sys.stdout
    if args.peers is not None:
        os.environ["CARTLENS_BENCH_PEERS"] = args.peers
    os.environ["CARTLENS_BENCH_REPEAT"] = str(max(1, args.repeat))
    if args.tiny:
        os.environ["CARTLENS_BENCH_TINY"] = "1"
        args.quick = True
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    load_before = _load_average()
    if load_before is not None and load_before >= (os.cpu_count() or 1):
        print(
            f"# note: load average {load_before:.1f} on {os.cpu_count()} CPUs before the run; "
            "timings will be inflated (other processes compete for the cores)",
            file=sys.stderr,
        )
    all_results: list[dict] = []
    failed = 0
    for path in discover():
        try:
            mod = load_module(path)
            results = run_module(mod, args.quick, only)
        except Exception:  # one broken module must not hide the others
            failed += 1
            print(f"# {path.name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            continue
        for r in results:
            print(format_line(r), file=out)
            for line in detail_lines(r):
                print(line, file=out)
            out.flush()
            all_results.append({**r, "module": path.name})
    if only:
        missing = only - {r["id"] for r in all_results}
        if missing:
            print(f"# no benchmark with id {sorted(missing)}", file=sys.stderr)
            failed += 1
    if args.json_path:
        meta = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "quick": bool(args.quick),
            "python": platform.python_version(),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": _load_average(),
        }
        with open(args.json_path, "w") as f:
            json.dump({"meta": meta, "results": all_results}, f, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
