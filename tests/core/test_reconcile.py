"""Diff with tolerance, fight detection and the journal (pure engine parts)."""

from datetime import UTC, datetime, timedelta

from custom_components.battery_steward.engine.fight import FightDetector, FightSettings
from custom_components.battery_steward.engine.journal import Journal, JournalRecord, Result, Trigger
from custom_components.battery_steward.engine.reconcile import Tolerance, diff, restrict
from custom_components.battery_steward.engine.state import Limits, Mode, Setpoints

LIMITS = Limits(max_charge_w=5000, max_discharge_w=10000, max_apparent_va=6000)


def test_tolerance_from_limits() -> None:
    tol = Tolerance.for_limits(LIMITS)
    assert tol.power_w == 20
    assert tol.reactive_var == 12
    assert (
        Tolerance.for_limits(Limits(max_charge_w=100, max_discharge_w=100, max_apparent_va=100)).power_w == 10
    )


def test_diff_only_set_fields_beyond_tolerance() -> None:
    actual = Setpoints(mode=Mode.AUTO, reserve_pct=20, power_w=0, reactive_var=0)
    tol = Tolerance()
    assert diff(Setpoints(), actual, tol) == Setpoints()
    assert diff(Setpoints(mode=Mode.AUTO, reserve_pct=20.4), actual, tol) == Setpoints()
    assert diff(
        Setpoints(mode=Mode.IDLE, reserve_pct=21, power_w=5, reactive_var=-50), actual, tol
    ) == Setpoints(mode=Mode.IDLE, reserve_pct=21, reactive_var=-50)
    assert diff(Setpoints(power_w=100), Setpoints(), tol) == Setpoints(power_w=100)


def test_restrict() -> None:
    full = Setpoints(mode=Mode.IDLE, reserve_pct=1, power_w=2, reactive_var=3)
    assert restrict(full, frozenset({"mode", "power_w"})) == Setpoints(mode=Mode.IDLE, power_w=2)
    assert restrict(full, frozenset()) == Setpoints()


def test_setpoints_overlay_and_fields() -> None:
    base = Setpoints(mode=Mode.AUTO, reserve_pct=10)
    top = Setpoints(reserve_pct=50, power_w=100)
    assert base.overlay(top) == Setpoints(mode=Mode.AUTO, reserve_pct=50, power_w=100)
    assert top.set_fields() == frozenset({"reserve_pct", "power_w"})


def test_fight_starts_after_too_many_corrections_and_resumes_when_stable() -> None:
    fight = FightDetector(FightSettings(max_corrections=2, window_s=100))
    assert not fight.record_correction("reserve_pct", "50", 0)
    assert not fight.record_correction("reserve_pct", "60", 10)
    assert fight.record_correction("reserve_pct", "50", 20)
    assert fight.suspended == frozenset({"reserve_pct"})
    assert fight.values_seen("reserve_pct") == ["50", "60", "50"]
    # Further corrections while suspended do not start it again.
    assert not fight.record_correction("reserve_pct", "50", 21)
    assert not fight.observe("mode", "auto", 30)
    assert not fight.observe("reserve_pct", "70", 30)  # still moving
    assert not fight.observe("reserve_pct", "70", 100)
    assert fight.observe("reserve_pct", "70", 130)  # stable for a window
    assert fight.suspended == frozenset()


def test_fight_window_forgets_old_corrections() -> None:
    fight = FightDetector(FightSettings(max_corrections=2, window_s=10))
    for t in (0, 20, 40, 60):
        assert not fight.record_correction("mode", "auto", t)
    fight.resume("never-seen")


def test_journal_bounded_query_stats_and_round_trip() -> None:
    journal = Journal(max_records=3)
    assert journal.last is None
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i, result in enumerate([Result.SUCCESS, Result.FAILED, Result.SUCCESS, Result.MISSED]):
        journal.add(
            trigger=Trigger.SCHEDULE if i % 2 else Trigger.DRIFT,
            scheduled=t0 if i == 0 else None,
            executed=t0 + timedelta(minutes=i),
            result=result,
            fields={"reserve_pct": (20, 30)} if i == 2 else None,
            error="boom" if result is Result.FAILED else None,
        )
    assert len(journal) == 3
    assert [r.seq for r in journal.query()] == [2, 3, 4]
    assert [r.seq for r in journal.query(results=[Result.SUCCESS])] == [3]
    assert [r.seq for r in journal.query(since=t0 + timedelta(minutes=2))] == [3, 4]
    assert [r.seq for r in journal.query(until=t0 + timedelta(minutes=2))] == [2, 3]
    assert [r.seq for r in journal.query(limit=1)] == [4]
    assert journal.statistics() == {
        "by_result": {"failed": 1, "success": 1, "missed": 1},
        "by_trigger": {"schedule": 2, "drift": 1},
    }
    stored = journal.as_list()
    restored = Journal(max_records=3, records=[JournalRecord.from_dict(d) for d in stored])
    assert restored.as_list() == stored
    assert restored.add(trigger=Trigger.PATROL, scheduled=None, executed=t0, result=Result.SKIPPED).seq == 5
    assert stored[1]["fields"] == {"reserve_pct": {"old": 20, "new": 30}}


def test_tolerance_never_finer_than_half_a_register_step() -> None:
    """1234 W in a register of 100 W steps reads 1200 W: that is no difference; 1300 W read is."""
    limits = Limits(max_charge_w=5000, max_discharge_w=5000, max_apparent_va=5000, power_step_w=100)
    tolerance = Tolerance.for_limits(limits)
    assert diff(Setpoints(power_w=1234), Setpoints(power_w=1200), tolerance).power_w is None
    assert diff(Setpoints(power_w=1250), Setpoints(power_w=1200), tolerance).power_w is None
    assert diff(Setpoints(power_w=1234), Setpoints(power_w=1100), tolerance).power_w == 1234
    fine = Tolerance.for_limits(Limits(max_charge_w=5000, max_discharge_w=5000, max_apparent_va=5000))
    assert fine.power_w == 10
    coarse_reserve = Limits(max_charge_w=1, max_discharge_w=1, max_apparent_va=1, reserve_step_pct=5)
    assert Tolerance.for_limits(coarse_reserve).reserve_pct > 2.5
