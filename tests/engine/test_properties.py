"""Property tests: the planner against a brute-force oracle, across DST transitions.

The oracle shares no code with the engine: it resolves wall-clock times by scanning UTC minutes,
reads cron's weekday field itself and enumerates every occurrence (window, cron, interval, one-off,
each ramp step, each series row and the stale zero after it) in a range, keeps only what falls in
the item's validity and belongs to an enabled item, then resolves the state by the documented
rules, starting from the battery's enabled default item.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings, strategies as st

from custom_components.battery_steward.engine.items import (
    CronItem,
    DefaultItem,
    IntervalItem,
    Item,
    OneOffItem,
    RampItem,
    SeriesItem,
    SeriesRow,
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
    order: datetime | None = None  # the span start used for ordering, when it is not `start`


def cron_weekdays(field: str) -> set[int]:
    """Python weekdays (Monday = 0) of a cron day-of-week field: *, numbers, ranges, lists."""
    if field == "*":
        return set(range(7))
    days: set[int] = set()
    for part in field.split(","):
        low, _, high = part.partition("-")
        for cron_day in range(int(low), int(high or low) + 1):
            days.add((cron_day + 6) % 7)  # cron: 0 and 7 = Sunday, 1 = Monday
    return days


def within_validity(item: Item, t: datetime) -> bool:
    return (item.valid_from is None or item.valid_from <= t) and (
        item.valid_until is None or t < item.valid_until
    )


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
            minute, hour, _, _, dow = item.cron.split()
            weekdays = cron_weekdays(dow)
            # A weekly step is still in force up to a week later: look further back.
            for d in [first - timedelta(days=k) for k in range(7, 0, -1)] + days:
                if d.weekday() not in weekdays:
                    continue
                at = oracle_resolve(d, time(int(hour), int(minute)), tz)
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
        elif isinstance(item, RampItem):
            # One run, or one a day at the local time (a start during a run begins it again: the
            # later start orders after the earlier one, so its steps win).
            if item.start_at is not None:
                starts = [item.start_at]
            else:
                assert item.daily_at is not None
                starts = [oracle_resolve(d, item.daily_at, tz) for d in [first - timedelta(days=1), *days]]
            n = -(-int(item.duration_s) // int(item.step_s))  # ceil, in whole seconds
            for begin in starts:
                end = begin + timedelta(seconds=item.duration_s)
                for k in range(n):
                    s0 = begin + timedelta(seconds=k * item.step_s)
                    power = (
                        item.power_to_w
                        if n == 1
                        else (item.power_from_w + (item.power_to_w - item.power_from_w) * k / (n - 1))
                    )
                    setpoints = item.setpoints.overlay(Setpoints(power_w=power))
                    out.append(
                        Occ(
                            s0,
                            min(end, s0 + timedelta(seconds=item.step_s)),
                            item.priority,
                            index,
                            setpoints,
                            False,
                            order=begin,
                        )
                    )
        elif isinstance(item, SeriesItem):
            # A row's signed power is a mode and a rate; wherever no row covers (before the first,
            # holes, after the last) the series is stale: idle, 0 W, 0 var. The stale stretch before
            # the first row starts with the item's validity (or the beginning of time).
            zero = item.setpoints.overlay(Setpoints(mode=Mode.IDLE, power_w=0.0, reactive_var=0.0))
            gap_from: datetime = item.valid_from or datetime.min.replace(tzinfo=UTC)
            for row in item.rows:
                row_end = row.start + timedelta(seconds=row.period_s)
                if row.start > gap_from:
                    out.append(Occ(gap_from, row.start, item.priority, index, zero, False))
                if row.power_w > 0:
                    mode = Mode.FORCE_DISCHARGE
                elif row.power_w < 0:
                    mode = Mode.FORCE_CHARGE
                else:
                    mode = Mode.IDLE
                q = 0.0 if row.reactive_var is None else row.reactive_var
                setpoints = item.setpoints.overlay(Setpoints(mode=mode, power_w=row.power_w, reactive_var=q))
                out.append(Occ(row.start, row_end, item.priority, index, setpoints, False))
                gap_from = row_end
            out.append(Occ(gap_from, None, item.priority, index, zero, False))
    return out


def oracle_in_force(items: list[Item], occs: list[Occ], t: datetime) -> tuple[list[Occ], list[Occ]]:
    """Steps made inside their item's validity at or before t; spans covering t inside validity."""
    steps = [o for o in occs if o.step and o.start <= t and within_validity(items[o.index], o.start)]
    spans = [
        o
        for o in occs
        if not o.step and o.start <= t and (o.end is None or t < o.end) and within_validity(items[o.index], t)
    ]
    return steps, spans


def oracle_desired(items: list[Item], occs: list[Occ], t: datetime) -> Setpoints:
    state = Setpoints()
    for item in items:
        if isinstance(item, DefaultItem) and item.enabled:
            state = item.setpoints  # holds wherever nothing else sets the field
    occs = [o for o in occs if items[o.index].enabled]
    steps, spans = oracle_in_force(items, occs, t)
    if steps:
        latest = max(steps, key=lambda o: (o.start, o.priority, o.index))
        state = state.overlay(latest.setpoints)
    for o in sorted(spans, key=lambda o: (o.priority, o.order or o.start, o.index)):
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


CRON_WEEKDAYS = ["*", "1-5", "0,6", "6", "1", "0", "2-4,7"]
KINDS = ["window", "cron", "one_off", "interval", "interval_span", "ramp", "ramp_daily", "series", "default"]
QUARTER = timedelta(minutes=15)


@st.composite
def validity(draw: st.DrawFn, base: datetime) -> dict[str, datetime]:
    """No dates, only one of them, or both (until after from), near the transition day."""
    shape = draw(st.sampled_from(["none", "none", "from", "until", "both"]))
    start = base + QUARTER * draw(st.integers(-48, 96))
    out: dict[str, datetime] = {}
    if shape in ("from", "both"):
        out["valid_from"] = start
    if shape == "until":
        out["valid_until"] = start
    if shape == "both":
        out["valid_until"] = start + QUARTER * draw(st.integers(1, 192))
    return out


@st.composite
def series_rows(draw: st.DrawFn, base: datetime) -> tuple[SeriesRow, ...]:
    """Sorted rows, back to back or with holes between them."""
    t = base + QUARTER * draw(st.integers(-48, 96))
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        t += QUARTER * draw(st.sampled_from([0, 0, 1, 2]))
        period = 900 * draw(st.integers(1, 4))
        reactive = draw(st.sampled_from([None, 0.0, 300.0]))
        rows.append(
            SeriesRow(
                start=t,
                period_s=period,
                power_w=draw(st.sampled_from([-800.0, 0.0, 1200.0])),
                reactive_var=reactive,
            )
        )
        t += timedelta(seconds=period)
    return tuple(rows)


@st.composite
def item_lists(draw: st.DrawFn) -> tuple[str, date, list[Item]]:
    tz = draw(st.sampled_from(ZONES))
    day = draw(st.sampled_from(DAYS))
    zone = ZoneInfo(tz)
    base = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    items: list[Item] = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(KINDS))
        common: dict[str, Any] = {
            "id": f"i{i}",
            "tz": tz,
            "priority": draw(st.integers(0, 1)),
            "setpoints": draw(setpoint_values),
            "enabled": draw(st.sampled_from([True, True, True, False])),
        }
        if kind == "default":
            if not any(isinstance(other, DefaultItem) for other in items):  # one per battery
                items.append(DefaultItem(**common))
            continue
        common |= draw(validity(base))
        if kind == "window":
            start, end = draw(walls), draw(walls)
            if start == end:
                continue
            weekdays = frozenset(draw(st.sets(st.integers(0, 6), min_size=1)))
            items.append(WindowItem(**common, weekdays=weekdays, start=start, end=end))
        elif kind == "cron":
            wall = draw(walls)
            dow = draw(st.sampled_from(CRON_WEEKDAYS))
            items.append(CronItem(**common, cron=f"{wall.minute} {wall.hour} * * {dow}"))
        elif kind == "one_off":
            items.append(OneOffItem(**common, at=base + QUARTER * draw(st.integers(-96, 192))))
        elif kind == "ramp":
            items.append(
                RampItem(
                    **common,
                    start_at=base + QUARTER * draw(st.integers(-48, 96)),
                    duration_s=300 * draw(st.integers(1, 36)),
                    power_from_w=draw(st.sampled_from([-2000.0, 0.0, 500.0])),
                    power_to_w=draw(st.sampled_from([-1000.0, 0.0, 2500.0])),
                    step_s=draw(st.sampled_from([60, 300, 700, 900, 3600])),
                )
            )
        elif kind == "ramp_daily":
            items.append(
                RampItem(
                    **common,
                    daily_at=draw(walls),
                    duration_s=300 * draw(st.integers(1, 36)),
                    power_from_w=draw(st.sampled_from([-2000.0, 0.0, 500.0])),
                    power_to_w=draw(st.sampled_from([-1000.0, 0.0, 2500.0])),
                    step_s=draw(st.sampled_from([60, 300, 700, 900, 3600])),
                )
            )
        elif kind == "series":
            common["tz"] = "UTC"
            items.append(SeriesItem(**common, rows=draw(series_rows(base))))
        else:
            every = 900 * draw(st.integers(1, 12))
            duration = None if kind == "interval" else 900 * draw(st.integers(1, every // 900))
            anchor = base - timedelta(hours=draw(st.integers(0, 24)))
            items.append(IntervalItem(**common, anchor=anchor, every_s=every, duration_s=duration))
    return tz, day, items


# Paris, the night clocks go back (25 October 2026, 03:00 CEST -> 02:00 CET at 01:00 UTC): a cron at
# 02:15 fires at 00:15 UTC only; asked at 01:00 UTC (the second 02:00) it once answered 00:15 again.
FALL_BACK_BASE = datetime(2026, 10, 24, 22, tzinfo=UTC)  # midnight in Paris
FALL_BACK_ITEMS: list[Item] = [
    IntervalItem(
        id="i0",
        tz="Europe/Paris",
        setpoints=Setpoints(power_w=-1000.0),
        anchor=FALL_BACK_BASE,
        every_s=900,
        duration_s=900,
    ),
    CronItem(id="i2", tz="Europe/Paris", setpoints=Setpoints(power_w=-1000.0), cron="15 2 * * *"),
]
FALL_BACK_CASE = ("Europe/Paris", date(2026, 10, 25), FALL_BACK_ITEMS)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(item_lists(), st.integers(-12 * 60, 36 * 60))
def test_desired_at_matches_oracle(case: tuple[str, date, list[Item]], minutes: int) -> None:
    tz, day, items = case
    base = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    t = base + timedelta(minutes=minutes)
    occs = oracle_occurrences(items, t - timedelta(days=2), t + timedelta(days=2))
    assert Schedule(items).desired_at(t) == oracle_desired(items, occs, t)


@PROPERTY_SETTINGS
@given(item_lists(), st.integers(-12 * 60, 36 * 60))
def test_next_change_is_first_oracle_change(case: tuple[str, date, list[Item]], minutes: int) -> None:
    tz, day, items = case
    base = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    t = base + timedelta(minutes=minutes)
    horizon = timedelta(days=3)
    occs = oracle_occurrences(items, t - timedelta(days=2), t + horizon + timedelta(days=1))
    current = oracle_desired(items, occs, t)
    bounds = {b for o in occs for b in (o.start, o.end) if b is not None}
    bounds |= {b for item in items for b in (item.valid_from, item.valid_until) if b is not None}
    boundaries = sorted(b for b in bounds if t < b <= t + horizon)
    expected = next((b for b in boundaries if oracle_desired(items, occs, b) != current), None)
    got = Schedule(items).next_change_after(t, horizon=horizon)
    assert got == expected
    if got is not None:
        assert Schedule(items).desired_at(got) != Schedule(items).desired_at(t)


@PROPERTY_SETTINGS
@given(item_lists(), st.lists(st.integers(-12 * 60, 36 * 60 * 60), min_size=1, max_size=12))
@example(case=FALL_BACK_CASE, seconds=[0, 3 * 3600])
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
        assert (event := reused.next_event_after(t)) is None or event > t


def test_fall_back_next_event_is_the_first_oracle_boundary_reused_or_fresh() -> None:
    """At 01:00 UTC the cron's 02:15 CEST (00:15 UTC) is past; its next firing is 02:15 CET the next
    day, and the next event of all is the interval's boundary at 01:15 UTC, as the oracle says."""
    t = FALL_BACK_BASE + timedelta(hours=3)
    occs = oracle_occurrences(FALL_BACK_ITEMS, t - timedelta(days=2), t + timedelta(days=2))
    first = min(b for o in occs for b in (o.start, o.end) if b is not None and b > t)
    assert first == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
    reused = Schedule(FALL_BACK_ITEMS)
    reused.desired_at(FALL_BACK_BASE)
    for schedule in (reused, Schedule(FALL_BACK_ITEMS)):
        assert schedule.desired_at(t) == oracle_desired(FALL_BACK_ITEMS, occs, t)
        assert schedule.next_event_after(t) == first
        assert schedule.next_change_after(t, horizon=timedelta(days=1)) is None


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
