"""``by = "<variable>"`` for k groups, and the r x c test shared by the analyses that use it."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from cartlens.errors import CartlensError, InputError, SparseDataWarning
from cartlens.study.analyses.base import Context, _Model, group_label, group_levels, label

#: Monte Carlo Fisher test above this many patients in an r x c table (not 2 x 2), and
#: whenever the exact algorithm would need too many partial tables
FISHER_EXACT_MAX_N = 300


class GroupTest(_Model):
    """Keys of an analysis that compares k groups of a categorical outcome."""

    by: str | None = None
    #: ``expected``: Fisher's exact test when an expected count is below 5, else Pearson's
    #: chi-square (gtsummary's rule); ``chisq``; ``fisher``
    test: Literal["expected", "chisq", "fisher"] = "expected"
    #: Monte Carlo P for Fisher's test (``fisher.test(simulate.p.value = TRUE, B)``, seeded);
    #: used anyway for r x c tables of more than 300 patients
    fisher_simulate: bool = False
    fisher_B: int = Field(2000, ge=100)
    seed: int = 1
    #: also test every pair of groups (Holm-adjusted P, as R's ``pairwise.prop.test``)
    pairwise: bool = False

    def rxc(self, table: Any, what: str) -> dict:
        """:func:`rxc_test` of ``table`` with this analysis's test settings."""
        return rxc_test(
            table,
            rule=self.test,
            simulate=self.fisher_simulate,
            B=self.fisher_B,
            seed=self.seed,
            what=what,
        )


def split_by(ctx: Context, df: pd.DataFrame, by: str, key: str, labels: dict | None = None):
    """``[(level, label, rows)]`` of ``df`` by the variable ``by`` (declared level order)."""
    ctx.require(df, [by], key)
    lab = df[by].map(lambda v: None if v is None or v != v else label(v))
    out = []
    for lv in group_levels(ctx, by, df[by]):
        out.append((lv, group_label(ctx, by, lv, labels), df[(lab == lv).to_numpy()]))
    return out


def rxc_test(
    table: Any,
    *,
    rule: str = "expected",
    simulate: bool = False,
    B: int = 2000,
    seed: int = 1,
    what: str = "",
) -> dict:
    """Chi-square or Fisher's exact test of an r x c table of counts.

    Rows or columns without counts are left out (and said so); a table that cannot be tested
    gives ``p = None`` and the reason in ``note`` - never an exception.
    """
    from cartlens.stats import tables as tb

    t = np.asarray(table, dtype=int)
    notes = []
    rk, ck = t.sum(axis=1) > 0, t.sum(axis=0) > 0
    if not (rk.all() and ck.all()):
        notes.append("rows or columns without counts were left out")
    t = t[rk][:, ck]
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return {
            "p": None,
            "test": None,
            "note": "cannot be tested: fewer than two groups or levels with counts",
        }
    out: dict[str, Any] = {"p": None, "test": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SparseDataWarning)
            chi = tb.chisq_test(t, correct=False)
        small = chi.min_expected < 5
        if (
            rule == "fisher"
            or (rule == "expected" and small)
            or (rule == "auto" and small and t.shape == (2, 2))
        ):
            out["p"], out["test"] = _fisher(t, simulate, B, seed)
        else:
            out["p"], out["test"] = float(chi.p_value), "Pearson's chi-squared test"
            if small:
                notes.append("an expected count is below 5")
                warnings.warn(
                    f"{what}: chi-square approximation with an expected count of "
                    f"{chi.min_expected:.2f} (< 5)",
                    SparseDataWarning,
                    stacklevel=3,
                )
    except (CartlensError, ValueError, ZeroDivisionError) as exc:
        notes.append(f"cannot be tested: {exc}")
        out = {"p": None, "test": None}
    out["note"] = "; ".join(notes)
    return out


def _fisher(t: np.ndarray, simulate: bool, B: int, seed: int) -> tuple[float, str]:
    """R's ``fisher.test``: exact for any r x c table, Monte Carlo when asked or large."""
    from cartlens.stats.tables import fisher_test

    simulate = simulate or (t.shape != (2, 2) and int(t.sum()) > FISHER_EXACT_MAX_N)
    try:
        r = fisher_test(t, simulate_p_value=simulate, B=B, seed=seed)
    except InputError as exc:
        if simulate or "too large" not in str(exc):
            raise
        # the exact network algorithm would need too many partial tables: Monte Carlo
        simulate = True
        r = fisher_test(t, simulate_p_value=True, B=B, seed=seed)
    if simulate:
        return float(r.p_value), f"Fisher's exact test (Monte Carlo, B = {B}, seed {seed})"
    return float(r.p_value), "Fisher's exact test"


def pairwise_tests(a: GroupTest, table: list, levels: list[str], what: str) -> list[dict]:
    """The test of ``a.test`` on every pair of rows of ``table``, Holm-adjusted."""
    from cartlens.stats.logrank import p_adjust

    out = []
    for i in range(len(table)):
        for j in range(i + 1, len(table)):
            r = a.rxc([table[i], table[j]], f"{what}, {levels[i]} vs {levels[j]}")
            out.append({"group1": levels[i], "group2": levels[j], **r})
    ok = [k for k, r in enumerate(out) if r["p"] is not None]
    adj = p_adjust([out[k]["p"] for k in ok], "holm") if ok else []
    for k, v in zip(ok, adj):
        out[k]["p_adjusted"] = float(v)
    return out
