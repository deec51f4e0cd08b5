"""decide(): which fields a run writes and what it journals, without Home Assistant or TCP."""

from hypothesis import given, strategies as st

from custom_components.battery_steward.engine.decide import (
    STALE_NOTE,
    UNAVAILABLE,
    Decision,
    Gates,
    decide,
)
from custom_components.battery_steward.engine.journal import Result, Trigger
from custom_components.battery_steward.engine.reconcile import Tolerance
from custom_components.battery_steward.engine.state import SETPOINT_FIELDS, Mode, Setpoints

ACTUAL = Setpoints(mode=Mode.AUTO, reserve_pct=20.0, power_w=0.0, reactive_var=0.0)
WANT = Setpoints(mode=Mode.FORCE_DISCHARGE, reserve_pct=20.0, power_w=2000.0)


def test_writes_only_what_differs_and_says_old_and_new() -> None:
    decision = decide(trigger=Trigger.OVERRIDE, desired=WANT, before=None, actual=ACTUAL)
    assert decision.write == Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=2000.0)
    assert decision.fields == {"mode": ("auto", "force_discharge"), "power_w": (0.0, 2000.0)}
    assert decision.result is Result.SUCCESS
    assert not decision.correcting


def test_unreadable_battery_fails() -> None:
    decision = decide(trigger=Trigger.SCHEDULE, desired=WANT, before=None, actual=None)
    assert (decision.result, decision.error, decision.writes) == (Result.FAILED, UNAVAILABLE, False)


def test_closed_gate_writes_nothing_and_journals_only_asked_runs() -> None:
    closed = Gates(dispatch=False)
    for trigger in (Trigger.SCHEDULE, Trigger.OVERRIDE, Trigger.MANUAL):
        decision = decide(trigger=trigger, desired=WANT, before=None, actual=ACTUAL, gates=closed)
        assert decision == Decision(result=Result.SKIPPED, note="dispatch off")
        quiet = decide(trigger=trigger, desired=WANT, before=None, actual=ACTUAL, gates=closed, rerun=True)
        assert quiet == Decision()
    assert decide(trigger=Trigger.DRIFT, desired=WANT, before=None, actual=ACTUAL, gates=closed) == Decision()


def test_reconciliation_off_silences_corrections_but_not_the_schedule() -> None:
    off = Gates(reconciliation=False)
    assert decide(trigger=Trigger.PATROL, desired=WANT, before=None, actual=ACTUAL, gates=off) == Decision()
    # Without reconciliation a scheduled run writes only what changes at its instant.
    before = Setpoints(mode=Mode.FORCE_DISCHARGE, reserve_pct=20.0, power_w=1000.0)
    decision = decide(trigger=Trigger.SCHEDULE, desired=WANT, before=before, actual=ACTUAL, gates=off)
    assert decision.write == Setpoints(power_w=2000.0)


def test_suspended_fields_are_not_corrected_but_their_scheduled_change_is_written() -> None:
    suspended = frozenset({"mode"})
    drift = decide(trigger=Trigger.DRIFT, desired=WANT, before=None, actual=ACTUAL, suspended=suspended)
    assert drift.write == Setpoints(power_w=2000.0)
    assert drift.correcting
    before = Setpoints(mode=Mode.AUTO, reserve_pct=20.0, power_w=2000.0)
    change = decide(trigger=Trigger.SCHEDULE, desired=WANT, before=before, actual=ACTUAL, suspended=suspended)
    assert change.write.mode is Mode.FORCE_DISCHARGE
    override = decide(trigger=Trigger.OVERRIDE, desired=WANT, before=None, actual=ACTUAL, suspended=suspended)
    assert override.write.mode is Mode.FORCE_DISCHARGE


def test_in_sync_and_quiet_reruns() -> None:
    assert decide(trigger=Trigger.MANUAL, desired=ACTUAL, before=None, actual=ACTUAL) == Decision(
        result=Result.SUCCESS, note="in sync"
    )
    assert decide(trigger=Trigger.DRIFT, desired=ACTUAL, before=None, actual=ACTUAL) == Decision()
    assert (
        decide(trigger=Trigger.MANUAL, desired=ACTUAL, before=None, actual=ACTUAL, rerun=True) == Decision()
    )


def test_fields_the_device_lacks_are_named_and_stale_series_noted() -> None:
    decision = decide(
        trigger=Trigger.SCHEDULE,
        desired=WANT,
        before=None,
        actual=ACTUAL,
        unsupported=lambda s: {"mode"} if s.mode is Mode.FORCE_DISCHARGE else set(),
    )
    assert decision.write == Setpoints(power_w=2000.0)
    assert decision.note == "the device cannot set mode"
    stale = decide(trigger=Trigger.SCHEDULE, desired=ACTUAL, before=None, actual=ACTUAL, stale=True)
    assert stale.note == STALE_NOTE
    unwritable = decide(
        trigger=Trigger.OVERRIDE, desired=WANT, before=None, actual=ACTUAL, writable=frozenset({"power_w"})
    )
    assert unwritable.write == Setpoints(power_w=2000.0)


values = st.builds(
    Setpoints,
    mode=st.one_of(st.none(), st.sampled_from(list(Mode))),
    reserve_pct=st.sampled_from([None, 10.0, 20.0, 20.3, 80.0]),
    power_w=st.sampled_from([None, -3000.0, 0.0, 5.0, 2000.0]),
    reactive_var=st.sampled_from([None, 0.0, 300.0]),
)
full = st.builds(
    Setpoints,
    mode=st.sampled_from(list(Mode)),
    reserve_pct=st.sampled_from([10.0, 20.0, 80.0]),
    power_w=st.sampled_from([-3000.0, 0.0, 2000.0]),
    reactive_var=st.sampled_from([0.0, 300.0]),
)
fields = st.frozensets(st.sampled_from(SETPOINT_FIELDS))


@given(
    st.sampled_from(list(Trigger)),
    values,
    st.one_of(st.none(), values),
    full,
    fields,
    st.booleans(),
    st.booleans(),
    fields,
    st.booleans(),
)
def test_decision_properties(
    trigger: Trigger,
    desired: Setpoints,
    before: Setpoints | None,
    actual: Setpoints,
    suspended: frozenset[str],
    dispatch: bool,
    reconciliation: bool,
    writable: frozenset[str],
    rerun: bool,
) -> None:
    """Whatever the inputs: writes are a subset of what differs, writable and allowed; applying them
    leaves nothing to do for those fields; a closed gate writes nothing; old -> new is the diff."""
    tolerance = Tolerance()
    gates = Gates(dispatch=dispatch, reconciliation=reconciliation)
    decision = decide(
        trigger=trigger,
        desired=desired,
        before=before,
        actual=actual,
        suspended=suspended,
        gates=gates,
        tolerance=tolerance,
        writable=writable,
        rerun=rerun,
    )
    written = decision.write.set_fields()
    assert written <= writable
    assert written <= desired.set_fields()
    for name in written:
        assert getattr(decision.write, name) == getattr(desired, name)
        assert getattr(desired, name) != getattr(actual, name)
    if not dispatch:
        assert not written
    if trigger in (Trigger.DRIFT, Trigger.PATROL):
        assert decision.correcting is bool(written)
        assert not written & suspended
        if not reconciliation:
            assert decision == Decision()
    assert set(decision.fields) == written
    # Applying the write leaves nothing to do for the written fields: runs are idempotent.
    after = actual.overlay(decision.write)
    again = decide(
        trigger=trigger,
        desired=desired,
        before=before,
        actual=after,
        suspended=suspended,
        gates=gates,
        tolerance=tolerance,
        writable=writable,
        rerun=rerun,
    )
    assert not again.write.set_fields() & written
