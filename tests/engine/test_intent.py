"""The intent (schedule ⊕ override) as a pure function of time: unit and property tests."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings, strategies as st

from custom_components.battery_steward.engine.intent import Intent, override_active
from custom_components.battery_steward.engine.items import Item, OneOffItem, WindowItem
from custom_components.battery_steward.engine.planner import Schedule
from custom_components.battery_steward.engine.state import Mode, Setpoints

T0 = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Held:
    setpoints: Setpoints
    expires: datetime | None


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def steps(*changes: tuple[float, float]) -> Schedule:
    """One-off reserve changes at the given minutes."""
    return Schedule(
        [
            OneOffItem(id=f"s{i}", at=at(m), setpoints=Setpoints(reserve_pct=value))
            for i, (m, value) in enumerate(changes)
        ]
    )


def test_override_holds_until_its_expiry_exclusive() -> None:
    intent = Intent(steps((0, 20)), Held(Setpoints(reserve_pct=50, mode=Mode.IDLE), at(30)))
    assert intent.desired_at(at(29.99)) == Setpoints(reserve_pct=50, mode=Mode.IDLE)
    assert intent.desired_at(at(30)) == Setpoints(reserve_pct=20)
    assert not override_active(intent.override, at(30))
    assert override_active(Held(Setpoints(), None), at(10**6))


def test_expiry_is_a_boundary_even_onto_the_same_values() -> None:
    """The controller wakes at an expiry (to drop the override) though nothing changes there."""
    intent = Intent(steps((0, 20), (60, 30)), Held(Setpoints(reserve_pct=20), at(10)))
    assert intent.next_boundary_after(at(1)) == at(10)
    assert intent.next_change_after(at(1), at(600)) == at(60)
    assert intent.changes_between(at(1), at(600)) == [(at(60), Setpoints(reserve_pct=30))]


def test_changes_include_the_override_expiry() -> None:
    intent = Intent(steps((0, 20), (60, 30)), Held(Setpoints(reserve_pct=50), at(10)))
    assert intent.changes_between(at(1), at(600)) == [
        (at(10), Setpoints(reserve_pct=20)),
        (at(60), Setpoints(reserve_pct=30)),
    ]
    assert intent.changes_between(at(1), at(600), limit=1) == [(at(10), Setpoints(reserve_pct=20))]
    assert intent.just_before(at(10)) == Setpoints(reserve_pct=50)


def test_no_override_is_the_schedule() -> None:
    plan = steps((0, 20), (60, 30))
    intent = Intent(plan)
    assert intent.desired_at(at(61)) == plan.desired_at(at(61))
    assert intent.next_boundary_after(at(60)) is None
    assert intent.next_change_after(at(0), at(59)) is None
    assert intent.override_until(at(1)) == at(60)


def test_an_override_until_cleared_is_never_a_boundary() -> None:
    intent = Intent(steps((0, 20), (60, 30)), Held(Setpoints(reserve_pct=50), None))
    assert intent.next_boundary_after(at(1)) == at(60)
    assert intent.changes_between(at(1), at(600)) == []


windows = st.lists(
    st.tuples(st.integers(0, 23), st.integers(1, 6), st.sampled_from([10.0, 20.0, 80.0]), st.integers(0, 2)),
    max_size=4,
)
overrides = st.one_of(
    st.none(),
    st.tuples(st.sampled_from([None, 15.0, 55.0]), st.sampled_from([*Mode, None]), st.integers(1, 3000)),
)


type Spec = list[tuple[int, int, float, int]]
type HeldSpec = tuple[float | None, Mode | None, int] | None


def build(spec: Spec, held: HeldSpec) -> Intent:
    items: list[Item] = [
        WindowItem(
            id=f"w{i}",
            weekdays=frozenset(range(7)),
            start=datetime(2026, 1, 1, hour).time(),
            end=datetime(2026, 1, 1, (hour + length) % 24).time(),
            priority=priority,
            setpoints=Setpoints(reserve_pct=value),
        )
        for i, (hour, length, value, priority) in enumerate(spec)
    ]
    override = None
    if held is not None:
        reserve, mode, minutes = held
        override = Held(Setpoints(reserve_pct=reserve, mode=mode), at(minutes))
    return Intent(Schedule(items, base=Setpoints(reserve_pct=5.0)), override)


@settings(max_examples=60, deadline=None)
@given(windows, overrides, st.integers(0, 1440))
def test_changes_agree_with_sampling_the_intent(
    spec: list[tuple[int, int, float, int]],
    held: tuple[float | None, Mode | None, int] | None,
    start_min: int,
) -> None:
    """Between two listed changes the intent holds the last one's value; each listed change is real."""
    intent = build(spec, held)
    start, end = at(start_min), at(start_min + 2 * 1440)
    changes = intent.changes_between(start, end)
    instants = [t for t, _ in changes]
    assert instants == sorted(set(instants))
    assert all(start < t <= end for t in instants)
    previous = intent.desired_at(start)
    for t, value in changes:
        assert value != previous
        assert intent.desired_at(t) == value
        previous = value
    # Sampled every 10 minutes: the value is that of the last change at or before the sample.
    t = start
    while t <= end:
        expected = intent.desired_at(start)
        for when, value in changes:
            if when <= t:
                expected = value
        assert intent.desired_at(t) == expected
        t += timedelta(minutes=10)


@settings(max_examples=60, deadline=None)
@given(windows, overrides, st.integers(0, 4000))
def test_desired_is_schedule_overlaid_while_the_override_holds(
    spec: Spec, held: HeldSpec, minute: int
) -> None:
    intent = build(spec, held)
    t = at(minute)
    scheduled = intent.plan.desired_at(t)
    if intent.override is not None and override_active(intent.override, t):
        assert intent.desired_at(t) == scheduled.overlay(intent.override.setpoints)
    else:
        assert intent.desired_at(t) == scheduled
    boundary = intent.next_boundary_after(t)
    change = intent.next_change_after(t, at(minute + 3 * 1440))
    if change is not None:
        assert boundary is not None
        assert boundary <= change
