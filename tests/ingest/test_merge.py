"""Re-imports: the merged store is validated, rows keep their identity and are updated in place
with a per-field audit, rows absent from a full re-export are listed and removed only with sync."""

from __future__ import annotations

from cartlens.ingest import import_registry, open_store
from registry_factory import TODAY, base_registry, build_store, day, sha, write_folder


def rows(store, sql):
    con = open_store(store)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_an_earlier_death_against_stored_events_is_refused(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    reg = base_registry()
    # only patients, infusions and deaths; P1 now dies on day 95, before the stored relapse
    # (day 100), therapy (day 110) and second infusion (day 160)
    part = {
        "patients": reg["patients"],
        "infusions": [r for r in reg["infusions"] if r["infusion_id"] != "P1-I2"],
        "deaths": reg["deaths"],
    }
    part["patients"][0]["last_contact_date"] = day(95)
    part["deaths"][0]["death_date"] = day(95)
    src = write_folder(tmp_path / "part", part)
    # the files alone are valid
    assert import_registry(src, None, today=TODAY).ok
    rep = import_registry(src, store, today=TODAY)
    assert not rep.ok and rep.outcome == "rejected"
    assert sha(store) == before
    err = rep.errors
    relapse = err[err["message"].str.contains("stored relapses row")]
    assert set(relapse["rule"]) >= {"R042"}
    f = relapse[relapse["rule"] == "R042"].iloc[0]
    # the incoming row named is P1's death (deaths.csv row 1) or P1 (patients.csv row 1)
    assert (f["file"], f["row"]) in (("deaths.csv", 1), ("patients.csv", 1))
    assert "relapse_date" in f["column"] and "patient_id=P1" in f["message"]
    assert "R046" not in set(err["rule"])


def test_renumbered_infusions_against_the_store_are_refused(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    reg = base_registry()
    # P1's second infusion arrives under a new id: the store would hold two number 2
    reg["infusions"][1]["infusion_id"] = "P1-I2x"
    part = {k: reg[k] for k in ("patients", "infusions", "deaths")}
    rep = import_registry(write_folder(tmp_path / "ren", part), store, today=TODAY)
    assert not rep.ok
    r46 = rep.errors[rep.errors["rule"] == "R046"]
    assert len(r46) >= 1
    f = r46.iloc[0]
    assert f["file"] == "infusions.csv" and f["column"] == "infusion_number"
    assert "stored infusions row (infusion_id=P1-I2" in f["message"] or (
        f["row"] == 2 and "stored infusions row" in f["message"]
    )
    assert sha(store) == before


def test_corrected_dates_update_in_place_with_audit(tmp_path):
    store = build_store(tmp_path, base_registry())
    reg = base_registry()
    reg["toxicities"][0]["onset_date"] = day(4)  # P1's CRS: day 3 -> 4 (same episode)
    reg["toxicities"][0]["grade"] = "3"
    reg["toxicities"][0]["hypotension"] = "one_vasopressor"
    reg["responses"][0]["assessment_date"] = day(30)  # a response date: a new identity
    rep = import_registry(write_folder(tmp_path / "v2", reg), store, today=TODAY)
    assert rep.ok, rep.errors.to_string()
    assert rep.counts["toxicities"] == {
        "read": 3,
        "inserted": 0,
        "updated": 1,
        "unchanged": 2,
        "missing": 0,
        "deleted": 0,
    }
    tox = rows(
        store,
        "SELECT onset_date, grade, episode FROM toxicities WHERE patient_id = "
        "'P1' AND toxicity = 'CRS'",
    )
    assert [(t[0].isoformat(), t[1], t[2]) for t in tox] == [(day(4), 3, 1)]
    audit = rows(
        store,
        "SELECT entity, identity, action, field, old_value, new_value, row FROM changes "
        "WHERE entity = 'toxicities' ORDER BY field",
    )
    ident = "infusion_id=P1-I1, toxicity=CRS, episode=1"
    assert audit == [
        ("toxicities", ident, "update", "astct_grade", "2", "3", 1),  # computed, audited too
        ("toxicities", ident, "update", "grade", "2", "3", 1),
        ("toxicities", ident, "update", "hypotension", "no_vasopressor", "one_vasopressor", 1),
        ("toxicities", ident, "update", "onset_date", day(3), day(4), 1),
    ]
    # the response: the new date is inserted, the old one is listed (R070) and kept
    assert rep.counts["responses"]["inserted"] == 1 and rep.counts["responses"]["missing"] == 1
    listed = rep.warnings[rep.warnings["rule"] == "R070"]
    assert len(listed) == 1 and f"assessment_date={day(28)}" in listed.iloc[0]["value"]
    assert listed.iloc[0]["file"] == "responses.csv"
    assert len(rows(store, "SELECT * FROM responses")) == 4
    # with sync it is removed, and the deletion is audited with the old values
    rep = import_registry(tmp_path / "v2", store, today=TODAY, sync=True)
    assert rep.ok and rep.counts["responses"]["deleted"] == 1
    assert len(rows(store, "SELECT * FROM responses")) == 3
    ((action, old),) = rows(
        store, "SELECT action, old_value FROM changes WHERE entity = 'responses'"
    )
    assert action == "delete" and f'"assessment_date":"{day(28)}"' in old.replace(" ", "")


def test_sync_that_would_orphan_rows_is_refused(tmp_path):
    store = build_store(tmp_path, base_registry())
    before = sha(store)
    reg = base_registry()
    part = {"patients": reg["patients"][1:], "infusions": reg["infusions"][2:]}
    src = write_folder(tmp_path / "p2", part)
    # upsert: P1 stays, listed as missing from the import
    rep = import_registry(src, store, today=TODAY)
    assert rep.ok and rep.counts["patients"]["missing"] == 1
    after_upsert = sha(store)
    # sync would delete P1 and leave P1's responses, toxicities, ... behind: refused
    rep = import_registry(src, store, today=TODAY, sync=True)
    assert not rep.ok
    r030 = rep.errors[rep.errors["rule"] == "R030"]
    assert len(r030) > 0 and "stored responses row" in " ".join(r030["message"])
    assert sha(store) == after_upsert != before


def test_episode_numbering_and_explicit_episodes(tmp_path):
    reg = base_registry()
    # a second CRS episode of P1 after infusion 1: numbered 2 by onset
    second = dict(reg["toxicities"][0], onset_date=day(20), resolution_date=day(22))
    reg["toxicities"].append(second)
    store = build_store(tmp_path, reg)
    eps = rows(
        store,
        "SELECT onset_date, episode FROM toxicities WHERE patient_id = 'P1' AND "
        "toxicity = 'CRS' ORDER BY episode",
    )
    assert [(d.isoformat(), k) for d, k in eps] == [(day(3), 1), (day(20), 2)]
    # an explicit duplicate episode is a duplicate identity (R032)
    reg["toxicities"][-1]["episode"] = "1"
    rep = import_registry(write_folder(tmp_path / "dup", reg), None, today=TODAY)
    r032 = rep.errors[rep.errors["rule"] == "R032"]
    assert list(r032["column"]) == ["infusion_id,toxicity,episode"]


def test_follow_up_rules_run_on_the_merged_store(tmp_path):
    """A re-import that breaks a follow-up rule only together with the stored rows (P1-I1
    moved to day 2, after P1's stored infection on day 1) is refused, naming the stored
    infection; the store is kept. The incoming files alone are valid."""
    from registry_factory import infection

    reg = base_registry()
    reg["infections"] = [infection("P1", 1, 1)]
    store = build_store(tmp_path, reg)
    before = sha(store)
    part = {k: base_registry()[k] for k in ("patients", "infusions", "deaths")}
    p1 = next(r for r in part["infusions"] if r["infusion_id"] == "P1-I1")
    p1["infusion_date"] = day(2)
    src = write_folder(tmp_path / "moved", part)
    assert import_registry(src, None, today=TODAY).ok  # the files alone are valid
    rep = import_registry(src, store, today=TODAY)
    assert not rep.ok and rep.outcome == "rejected"
    r41 = rep.errors[rep.errors["rule"] == "R041"]
    assert len(r41) >= 1, rep.errors.to_string()
    f = r41.iloc[0]
    assert "stored infections row" in f["message"], f["message"]
    assert (f["file"], f["row"]) == ("infusions.csv", 1)
    assert sha(store) == before
