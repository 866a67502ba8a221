"""The end-to-end pipeline behind ``cartlens run`` and ``cartlens demo``.

``run_to_directory`` validates the study file, reads the registry (a cartlens store, or a
folder of entity CSV files that is validated first), runs the study, and writes
``results.json``, ``report.html``, ``report.docx``, ``tables/`` (CSV) and ``figures/`` into
the output folder (a CSV folder is imported into a temporary store, which validates it with
the registry's rules). Everything is written to a temporary folder beside the target and
moved into place only when all of it succeeded, so a failed run leaves no partial output behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cartlens.errors import InputError

Say = Callable[[str], None]


def import_to_store(folder: Path, store: Path, say: Say) -> Path:
    """Import a CSV registry folder into a (new or existing) cartlens store."""
    from cartlens.ingest.store import import_registry

    say(f"importing {folder} into the store {store}")
    rep = import_registry(folder, store)
    if not rep.ok:
        raise InputError(f"the registry could not be imported ({rep.n_errors} errors)")
    return store


def run_to_directory(
    study_path: Path,
    registry: Path,
    out: Path,
    *,
    say: Say = lambda _m: None,
    png: bool = True,
) -> dict:
    """Run ``study_path`` on ``registry`` and write the outputs into ``out``.

    Returns ``{"report": Path, "results": Path, "run": StudyRun}``.
    """
    from cartlens.study.runner import run_study, write_results
    from cartlens.study.spec import load_study

    study_path = Path(study_path)
    registry = Path(registry)
    out = Path(out)
    say(f"reading the study specification {study_path}")
    study = load_study(study_path)
    spec_text = study_path.read_text(encoding="utf-8")
    if not registry.exists():
        raise InputError(f"registry '{registry}' does not exist", column="--registry")
    run = run_study(study, registry, spec_text=spec_text, progress=say)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_results(run, tmp / "results.json")
        say("drawing figures and writing the report")
        from cartlens.report.html import write_report

        write_report(run, tmp, png=png)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("results.json", "report.html", "report.docx", "tables", "figures"):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            (tmp / name).replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"report": out / "report.html", "results": out / "results.json", "run": run}
