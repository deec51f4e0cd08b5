"""Property tests: the planner against a brute-force oracle, across DST transitions.

The oracle shares no code with the engine: it resolves wall-clock times by scanning UTC minutes
and enumerates every occurrence in a range, then resolves the state by the documented rules.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.battery_steward.engine.items import (
    CronItem,
    IntervalItem,
    Item,
    OneOffItem,
    WindowItem,
)
from custom_components.battery_steward.engine.planner import Schedule
from custom_components.battery_steward.engine.state import Mode, Setpoints

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"]
# Days around the 2026 transitions of the three zones.
DAYS = [
    date(2026, 3, 29),  # Paris spring forward
    date(2026, 10, 25),  # Paris fall back
    date(2026, 3, 8),  # New York spring forward
    date(2026, 11, 1),  # New York fall back
    date(2026, 4, 5),  # Lord Howe fall back (30 min)
    date(2026, 10, 4),  # Lord Howe spring forward (30 min)
]


def oracle_resolve(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """First UTC minute at which the local wall clock reads >= day+wall (gap -> gap end)."""
    target = datetime.combine(day, wall)
    t = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=16)
    while True:
        if t.astimezone(tz).replace(tzinfo=None) >= target:
            return t
        t += timedelta(minutes=1)


@dataclass
class Occ:
    start: datetime
    end: datetime | None
    priority: int
    index: int
    setpoints: Setpoints
    step: bool


def oracle_occurrences(items: list[Item], lo: datetime, hi: datetime) -> list[Occ]:
    out: list[Occ] = []
    for index, item in enumerate(items):
        tz = ZoneInfo(item.tz)
        first = (lo - timedelta(days=3)).astimezone(tz).date()
        days = [first + timedelta(days=k) for k in range((hi - lo).days + 7)]
        if isinstance(item, WindowItem):
            for d in days:
                if d.weekday() not in item.weekdays:
                    continue
                s = oracle_resolve(d, item.start, tz)
                e = oracle_resolve(d if item.end > item.start else d + timedelta(days=1), item.end, tz)
                if e > s:
                    out.append(Occ(s, e, item.priority, index, item.setpoints, False))
        elif isinstance(item, CronItem):
            minute, hour = (int(x) for x in item.cron.split()[:2])
            for d in days:
                at = oracle_resolve(d, time(hour, minute), tz)
                # A wall time that occurs twice fires once: oracle_resolve gives the first.
                out.append(Occ(at, None, item.priority, index, item.setpoints, True))
        elif isinstance(item, OneOffItem):
            out.append(Occ(item.at, None, item.priority, index, item.setpoints, True))
        elif isinstance(item, IntervalItem):
            k = 0
            while (at := item.anchor + timedelta(seconds=k * item.every_s)) <= hi + timedelta(days=1):
                if item.duration_s is None:
                    out.append(Occ(at, None, item.priority, index, item.setpoints, True))
                else:
                    end = at + timedelta(seconds=item.duration_s)
                    out.append(Occ(at, end, item.priority, index, item.setpoints, False))
                k += 1
    return out


def oracle_desired(occs: list[Occ], t: datetime) -> Setpoints:
    state = Setpoints()
    steps = [o for o in occs if o.step and o.start <= t]
    if steps:
        latest = max(steps, key=lambda o: (o.start, o.priority, o.index))
        state = state.overlay(latest.setpoints)
    spans = [o for o in occs if not o.step and o.start <= t and (o.end is None or t < o.end)]
    for o in sorted(spans, key=lambda o: (o.priority, o.start, o.index)):
        state = state.overlay(o.setpoints)
    return state


setpoint_values = st.builds(
    Setpoints,
    mode=st.sampled_from([None, *Mode]),
    reserve_pct=st.sampled_from([None, 10.0, 50.0]),
    power_w=st.sampled_from([None, -1000.0, 0.0, 1500.0]),
).filter(lambda s: bool(s.set_fields()))
# Hours near the transitions (they happen between 00:00 and 03:00 local) are drawn more often.
walls = st.builds(time, st.one_of(st.integers(0, 3), st.integers(0, 23)), st.sampled_from([0, 15, 30, 45]))


@st.composite
def item_lists(draw: st.DrawFn) -> tuple[str, date, list[Item]]:
    tz = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS))
    zone = ZoneInfo(tz)
    base = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    items: list[Item] = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["window", "cron", "one_off", "interval", "interval_span"]))
        common: dict[str, Any] = {
            "id": f"i{i}",
            "tz": tz,
            "priority": draw(st.integers(0, 1)),
            "setpoints": draw(setpoint_values),
        }
        if kind == "window":
            start, end = draw(walls), draw(walls)
            if start == end:
                continue
            weekdays = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
            items.append(WindowItem(**common, weekdays=weekdays, start=start, end=end))
        elif kind == "cron":
            wall = draw(walls)
            items.append(CronItem(**common, cron=f"{wall.minute} {wall.hour} * * *"))
        elif kind == "one_off":
            items.append(OneOffItem(**common, at=base + timedelta(minutes=15 * draw(st.integers(-96, 192)))))
        else:
            every = 900 * draw(st.integers(1, 12))
            duration = None if kind == "interval" else 900 * draw(st.integers(1, every // 900))
            anchor = base - timedelta(hours=draw(st.integers(0, 24)))
            items.append(IntervalItem(**common, anchor=anchor, every_s=every, duration_s=duration))
    return tz, day, items


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(item_lists(), st.integers(-12 * 60, 36 * 60))
def test_desired_at_matches_oracle(case: tuple[str, date, list[Item]], minutes: int) -> None:
    tz, day, items = case
    base = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    t = base + timedelta(minutes=minutes)
    occs = oracle_occurrences(items, t - timedelta(days=2), t + timedelta(days=2))
    assert Schedule(items).desired_at(t) == oracle_desired(occs, t)


@PROPERTY_SETTINGS
@given(item_lists(), st.integers(-12 * 60, 36 * 60))
def test_next_change_is_first_oracle_change(case: tuple[str, date, list[Item]], minutes: int) -> None:
    tz, day, items = case
    base = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    t = base + timedelta(minutes=minutes)
    horizon = timedelta(days=3)
    occs = oracle_occurrences(items, t - timedelta(days=2), t + horizon + timedelta(days=1))
    current = oracle_desired(occs, t)
    boundaries = sorted({b for o in occs for b in (o.start, o.end) if b is not None and t < b <= t + horizon})
    expected = next((b for b in boundaries if oracle_desired(occs, b) != current), None)
    got = Schedule(items).next_change_after(t, horizon=horizon)
    assert got == expected
    if got is not None:
        assert Schedule(items).desired_at(got) != Schedule(items).desired_at(t)


@PROPERTY_SETTINGS
@given(item_lists(), st.lists(st.integers(-12 * 60, 36 * 60 * 60), min_size=1, max_size=12))
def test_reused_schedule_answers_as_a_fresh_one(
    case: tuple[str, date, list[Item]], seconds: list[int]
) -> None:
    """One schedule asked in any order (its cursors move forward, are reused or rebuilt) agrees with
    a fresh schedule, which the oracle tests above check."""
    tz, day, items = case
    base = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    reused = Schedule(items)
    for s in seconds:
        t = base + timedelta(seconds=s)
        assert reused.desired_at(t) == Schedule(items).desired_at(t)
        assert reused.next_change_after(t, horizon=timedelta(days=3)) == Schedule(items).next_change_after(
            t, horizon=timedelta(days=3)
        )
        assert reused.next_event_after(t) == Schedule(items).next_event_after(t)


def test_schedule_followed_change_by_change_matches_its_plan() -> None:
    """The controller's way: state now and the next change, a moment after each change in turn."""
    paris = "Europe/Paris"
    items: list[Item] = [
        WindowItem(
            id="w",
            tz=paris,
            weekdays=frozenset(range(7)),
            start=time(1),
            end=time(3),
            setpoints=Setpoints(reserve_pct=50.0),
        ),
        CronItem(id="c", tz=paris, cron="30 2 * * *", setpoints=Setpoints(mode=Mode.IDLE)),
        IntervalItem(
            id="i",
            anchor=datetime(2026, 3, 28, tzinfo=UTC),
            every_s=5400,
            duration_s=1800,
            setpoints=Setpoints(power_w=1500.0),
        ),
    ]
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    end = start + timedelta(days=3)
    expected = Schedule(items).plan(start, end)
    assert len(expected) > 40
    followed = Schedule(items)
    now = start
    seen = []
    while (change := followed.next_change_after(now, horizon=end - now)) is not None:
        seen.append(change)
        assert followed.desired_at(change - timedelta(microseconds=1)) != followed.desired_at(change)
        now = change + timedelta(milliseconds=3)
        followed.desired_at(now)
    assert seen == [c.at for c in expected]
