"""Item types, resolution rules, DST examples, validation and serialization."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.battery_steward.engine.follow import (
    finished_at,
    last_start,
    next_start,
    run_length,
    start_in_force,
)
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
from custom_components.battery_steward.engine.localtime import resolve
from custom_components.battery_steward.engine.planner import Schedule
from custom_components.battery_steward.engine.presets import PRESETS, night_idle, peak_window
from custom_components.battery_steward.engine.serialize import (
    ItemFormatError,
    item_from_dict,
    item_to_dict,
)
from custom_components.battery_steward.engine.state import Limits, Mode, Setpoints
from custom_components.battery_steward.engine.validation import validate_item, validate_schedule

PARIS = "Europe/Paris"
T0 = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
IDLE = Setpoints(mode=Mode.IDLE)
AUTO = Setpoints(mode=Mode.AUTO)
LIMITS = Limits(max_charge_w=5000, max_discharge_w=5000, max_apparent_va=6000)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "wall", "tz", "expected"),
    [
        (date(2026, 3, 29), time(2, 30), PARIS, utc(2026, 3, 29, 1, 0)),  # gap -> 03:00 CEST
        (date(2026, 10, 25), time(2, 30), PARIS, utc(2026, 10, 25, 0, 30)),  # first 02:30
        (date(2026, 11, 1), time(1, 30), "America/New_York", utc(2026, 11, 1, 5, 30)),
        (date(2026, 10, 4), time(2, 15), "Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),
        (date(2026, 4, 5), time(1, 45), "Australia/Lord_Howe", utc(2026, 4, 4, 14, 45)),
    ],
)
def test_resolve_dst(day: date, wall: time, tz: str, expected: datetime) -> None:
    assert resolve(day, wall, ZoneInfo(tz)) == expected


def test_window_across_midnight_belongs_to_start_day() -> None:
    friday_night = WindowItem(
        id="w", tz=PARIS, weekdays=frozenset({4}), start=time(22), end=time(6), setpoints=IDLE
    )
    schedule = Schedule([friday_night])
    # Friday 5 June 2026 22:00 CEST = 20:00 UTC, to Saturday 06:00 CEST = 04:00 UTC.
    assert schedule.desired_at(utc(2026, 6, 5, 19, 59)) == Setpoints()
    assert schedule.desired_at(utc(2026, 6, 6, 1)) == IDLE
    assert schedule.desired_at(utc(2026, 6, 6, 4)) == Setpoints()
    assert schedule.next_change_after(utc(2026, 6, 6, 1)) == utc(2026, 6, 6, 4)
    assert schedule.next_change_after(utc(2026, 6, 6, 5)) == utc(2026, 6, 12, 20)


def test_window_inside_gap_is_empty_that_day() -> None:
    window = WindowItem(
        id="w", tz=PARIS, weekdays=frozenset(range(7)), start=time(2, 10), end=time(2, 40), setpoints=IDLE
    )
    plan = Schedule([window]).plan(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert [c.at for c in plan] == [utc(2026, 3, 30, 0, 10), utc(2026, 3, 30, 0, 40)]


def test_cron_fires_once_on_fall_back() -> None:
    cron = CronItem(id="c", tz="America/New_York", cron="30 1 * * *", setpoints=IDLE)
    base = Schedule([cron, OneOffItem(id="o", at=utc(2026, 10, 31, 12), setpoints=AUTO)])
    changes = base.plan(utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))
    assert [c.at for c in changes] == [utc(2026, 11, 1, 5, 30)]
    assert cron.last_step(utc(2026, 11, 1, 7)) == utc(2026, 11, 1, 5, 30)


def test_cron_asked_in_the_repeated_hour_answers_its_next_day() -> None:
    """Paris, 25 October 2026: 02:15 CEST (00:15 UTC) fired; at 02:00 CET (01:00 UTC), the second
    02:00, the next firing is the next day's 02:15 CET, not the first 02:15 again."""
    cron = CronItem(id="c", tz=PARIS, cron="15 2 * * *", setpoints=IDLE)
    assert cron.next_step_after(utc(2026, 10, 25, 0)) == utc(2026, 10, 25, 0, 15)
    for t in (utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 1), utc(2026, 10, 25, 1, 14)):
        assert cron.next_step_after(t) == utc(2026, 10, 26, 1, 15)
        assert cron.last_step(t) == utc(2026, 10, 25, 0, 15)
    assert Schedule([cron]).next_event_after(utc(2026, 10, 25, 1)) == utc(2026, 10, 26, 1, 15)


def test_cron_in_gap_fires_at_gap_end() -> None:
    cron = CronItem(id="c", tz=PARIS, cron="30 2 * * *", setpoints=IDLE)
    assert cron.next_step_after(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)
    assert cron.last_step(utc(2026, 3, 29, 2)) == utc(2026, 3, 29, 1)


def test_steps_are_sticky_and_ties_go_to_priority_then_order() -> None:
    a = OneOffItem(id="a", at=T0, setpoints=AUTO, priority=1)
    b = OneOffItem(id="b", at=T0, setpoints=IDLE)
    c = OneOffItem(id="c", at=T0 + timedelta(hours=1), setpoints=Setpoints(reserve_pct=30))
    schedule = Schedule([a, b, c])
    assert schedule.desired_at(T0 - timedelta(seconds=1)) == Setpoints()
    assert schedule.desired_at(T0) == AUTO
    assert schedule.desired_at(T0 + timedelta(days=2)) == Setpoints(reserve_pct=30)
    assert Schedule([b, OneOffItem(id="d", at=T0, setpoints=AUTO)]).desired_at(T0) == AUTO


def test_span_priority_and_later_start() -> None:
    early = IntervalItem(id="e", anchor=T0, every_s=86400, duration_s=7200, setpoints=IDLE)
    late = IntervalItem(
        id="l", anchor=T0 + timedelta(hours=1), every_s=86400, duration_s=3600, setpoints=AUTO
    )
    schedule = Schedule([late, early])
    assert schedule.desired_at(T0 + timedelta(minutes=90)) == AUTO  # later-starting wins
    high = replace_priority(early, 1)
    assert Schedule([late, high]).desired_at(T0 + timedelta(minutes=90)) == IDLE


def replace_priority(item: IntervalItem, priority: int) -> IntervalItem:
    return IntervalItem(
        id=item.id,
        anchor=item.anchor,
        every_s=item.every_s,
        duration_s=item.duration_s,
        setpoints=item.setpoints,
        priority=priority,
    )


def test_interval_steps_and_validity() -> None:
    item = IntervalItem(
        id="i",
        anchor=T0,
        every_s=3600,
        setpoints=IDLE,
        valid_from=T0 + timedelta(hours=2),
        valid_until=T0 + timedelta(hours=5),
    )
    assert item.next_step_after(T0) == T0 + timedelta(hours=2)
    assert item.last_step(T0 + timedelta(hours=3, minutes=5)) == T0 + timedelta(hours=3)
    assert item.last_step(T0 - timedelta(hours=1)) is None
    assert item.next_step_after(T0 + timedelta(hours=4, minutes=1)) is None
    assert item.active_at(T0) is None
    assert item.next_boundary_after(T0) is None


def test_ramp_steps_from_to() -> None:
    ramp = RampItem(
        id="r",
        start_at=T0,
        duration_s=300,
        power_from_w=0,
        power_to_w=1000,
        step_s=60,
        setpoints=Setpoints(mode=Mode.FORCE_DISCHARGE),
    )
    schedule = Schedule([ramp])
    powers = [schedule.desired_at(T0 + timedelta(seconds=s)).power_w for s in (0, 61, 130, 200, 299)]
    assert powers == [0, 250, 500, 750, 1000]
    assert schedule.desired_at(T0).mode is Mode.FORCE_DISCHARGE
    assert schedule.desired_at(T0 + timedelta(seconds=300)) == Setpoints()
    changes = schedule.plan(T0 - timedelta(seconds=1), T0 + timedelta(hours=1))
    assert [c.at for c in changes] == [T0 + timedelta(seconds=s) for s in (0, 60, 120, 180, 240, 300)]
    single = RampItem(
        id="s", start_at=T0, duration_s=30, power_from_w=0, power_to_w=500, setpoints=Setpoints()
    )
    assert single.power_at_step(0) == 500


def test_series_rows_holes_and_stale_cutoff() -> None:
    """Rows dispatch their signed power as a mode; any instant no row covers is stale: zero."""
    rows = (
        SeriesRow(start=T0, period_s=900, power_w=1000, reactive_var=100),
        SeriesRow(start=T0 + timedelta(minutes=15), period_s=900, power_w=-500),
        SeriesRow(start=T0 + timedelta(minutes=45), period_s=900, power_w=0, reactive_var=300),
    )
    series = SeriesItem(id="s", rows=rows)
    schedule = Schedule([series])
    zero = Setpoints(mode=Mode.IDLE, power_w=0, reactive_var=0)
    assert schedule.desired_at(T0 - timedelta(minutes=1)) == zero  # before the first row
    assert series.stale_at(T0 - timedelta(minutes=1))
    assert schedule.desired_at(T0 + timedelta(minutes=5)) == Setpoints(
        mode=Mode.FORCE_DISCHARGE, power_w=1000, reactive_var=100
    )
    assert schedule.desired_at(T0 + timedelta(minutes=20)) == Setpoints(
        mode=Mode.FORCE_CHARGE, power_w=-500, reactive_var=0
    )
    assert schedule.desired_at(T0 + timedelta(minutes=35)) == zero  # a hole between rows
    assert series.stale_at(T0 + timedelta(minutes=35))
    # Zero active power is idle (0 W in a force mode means the limit); reactive power still goes.
    assert schedule.desired_at(T0 + timedelta(minutes=50)) == Setpoints(
        mode=Mode.IDLE, power_w=0, reactive_var=300
    )
    assert not series.stale_at(T0 + timedelta(minutes=59))
    assert series.stale_at(T0 + timedelta(hours=1))
    assert schedule.desired_at(T0 + timedelta(hours=5)) == zero
    assert schedule.next_change_after(T0 + timedelta(minutes=20)) == T0 + timedelta(minutes=30)
    assert schedule.next_change_after(T0 + timedelta(minutes=30)) == T0 + timedelta(minutes=45)
    assert series.next_boundary_after(T0 + timedelta(minutes=35)) == T0 + timedelta(minutes=45)
    assert series.next_boundary_after(T0 + timedelta(hours=2)) is None
    # No rows at all: stale from the start, and outside the validity dates the series is silent.
    assert Schedule([SeriesItem(id="e", rows=())]).desired_at(T0) == zero
    bounded = SeriesItem(id="b", rows=rows, valid_from=T0)
    assert bounded.active_at(T0 - timedelta(minutes=1)) is None
    assert not bounded.stale_at(T0 - timedelta(minutes=1))


def test_disabled_items_and_horizon() -> None:
    off = OneOffItem(id="o", at=T0, setpoints=IDLE, enabled=False)
    assert Schedule([off]).desired_at(T0) == Setpoints()
    far = OneOffItem(id="f", at=T0 + timedelta(days=500), setpoints=IDLE)
    assert Schedule([far]).next_change_after(T0) is None
    assert far.last_step(T0 + timedelta(days=1000)) is None


def test_window_validity_boundaries() -> None:
    window = WindowItem(
        id="w",
        weekdays=frozenset(range(7)),
        start=time(0),
        end=time(12),
        setpoints=IDLE,
        valid_from=T0 + timedelta(hours=6),
        valid_until=T0 + timedelta(days=1, hours=6),
    )
    schedule = Schedule([window])
    assert schedule.next_change_after(T0) == T0 + timedelta(hours=6)
    assert schedule.next_change_after(T0 + timedelta(hours=6)) == T0 + timedelta(hours=12)
    assert schedule.next_change_after(T0 + timedelta(hours=12)) == T0 + timedelta(days=1)
    assert schedule.next_change_after(T0 + timedelta(days=1)) == T0 + timedelta(days=1, hours=6)
    assert schedule.next_change_after(T0 + timedelta(days=2)) is None


def test_presets() -> None:
    peak = peak_window(PARIS)
    assert peak.weekdays == frozenset(range(5))
    assert (peak.start, peak.end) == (time(19), time(22))
    night = night_idle(PARIS)
    assert night.setpoints == IDLE
    assert set(PRESETS) == {"peak_window", "night_idle"}
    assert validate_schedule([peak, night], LIMITS) == []


def codes(item: Item, limits: Limits | None = LIMITS) -> list[str]:
    return [issue.code for issue in validate_item(item, limits)]


def test_validation_codes() -> None:
    assert codes(OneOffItem(id="o", at=T0, setpoints=IDLE, tz="Mars/Olympus")) == ["unknown_time_zone"]
    assert codes(CronItem(id="c", cron="61 * * * *", setpoints=IDLE)) == ["bad_cron"]
    assert codes(CronItem(id="c", cron="nonsense", setpoints=IDLE)) == ["bad_cron"]
    assert codes(OneOffItem(id="o", at=T0, setpoints=IDLE, valid_from=T0, valid_until=T0)) == [
        "end_before_start"
    ]
    assert codes(OneOffItem(id="o", at=T0, setpoints=Setpoints(reserve_pct=101))) == ["reserve_out_of_range"]
    assert codes(OneOffItem(id="o", at=T0, setpoints=Setpoints(power_w=-6000))) == ["power_out_of_range"]
    assert codes(OneOffItem(id="o", at=T0, setpoints=Setpoints(reactive_var=7000))) == [
        "reactive_out_of_range"
    ]
    assert codes(OneOffItem(id="o", at=T0, setpoints=Setpoints(power_w=-6000)), None) == []
    assert codes(OneOffItem(id="o", at=T0, setpoints=Setpoints())) == ["no_setpoints"]
    window = WindowItem(id="w", weekdays=frozenset(), start=time(1), end=time(1), setpoints=IDLE)
    assert codes(window) == ["empty_weekdays", "end_before_start"]
    assert codes(WindowItem(id="w", weekdays=frozenset({9}), start=time(1), end=time(2), setpoints=IDLE)) == [
        "bad_weekday"
    ]
    assert codes(IntervalItem(id="i", anchor=T0, every_s=0, setpoints=IDLE)) == ["bad_interval"]
    assert codes(IntervalItem(id="i", anchor=T0, every_s=60, duration_s=120, setpoints=IDLE)) == [
        "bad_duration"
    ]
    ramp = RampItem(id="r", start_at=T0, duration_s=0, power_from_w=0, power_to_w=9000, step_s=0)
    assert codes(ramp) == ["end_before_start", "bad_step", "power_out_of_range"]
    series = SeriesItem(id="s", rows=(SeriesRow(start=T0, period_s=0, power_w=0),))
    assert codes(series) == ["bad_period"]
    series = SeriesItem(id="s", rows=(SeriesRow(start=T0, period_s=900, power_w=9000),))
    assert codes(series) == ["power_out_of_range"]


def test_overlapping_equal_priority_windows() -> None:
    a = WindowItem(id="a", weekdays=frozenset({0}), start=time(22), end=time(2), setpoints=IDLE)
    b = WindowItem(id="b", weekdays=frozenset({1}), start=time(1), end=time(3), setpoints=AUTO)
    issues = validate_schedule([a, b])
    assert [i.code for i in issues] == ["overlapping_windows"]
    assert issues[0].placeholders["fields"] == "mode"
    # Sunday night into Monday wraps the week.
    c = WindowItem(id="c", weekdays=frozenset({6}), start=time(23), end=time(1), setpoints=IDLE)
    d = WindowItem(id="d", weekdays=frozenset({0}), start=time(0), end=time(2), setpoints=AUTO)
    assert [i.code for i in validate_schedule([c, d])] == ["overlapping_windows"]
    # Different priority, same value, disjoint times or validity: no conflict.
    assert validate_schedule([a, replace_window(b, priority=1)]) == []
    assert validate_schedule([a, replace_window(b, setpoints=IDLE)]) == []
    assert validate_schedule([a, replace_window(b, start=time(3), end=time(4))]) == []
    assert validate_schedule([a, replace_window(b, valid_from=T0, valid_until=T0 + timedelta(days=1))]) != []
    assert (
        validate_schedule(
            [
                replace_window(a, valid_until=T0),
                replace_window(b, valid_from=T0 + timedelta(days=1)),
            ]
        )
        == []
    )
    assert [i.code for i in validate_schedule([a, replace_window(b, tz=PARIS)])] == ["overlapping_windows"]


def replace_window(item: WindowItem, **changes: Any) -> WindowItem:
    data: dict[str, Any] = {
        "id": item.id,
        "weekdays": item.weekdays,
        "start": item.start,
        "end": item.end,
        "setpoints": item.setpoints,
        "priority": item.priority,
        "tz": item.tz,
        "valid_from": item.valid_from,
        "valid_until": item.valid_until,
    } | changes
    return WindowItem(**data)


ROUND_TRIP: list[Item] = [
    WindowItem(
        id="w",
        name="Peak",
        tz=PARIS,
        weekdays=frozenset({0, 4}),
        start=time(19),
        end=time(22, 30),
        setpoints=Setpoints(mode=Mode.AUTO, reserve_pct=20),
        priority=2,
        valid_from=T0,
        valid_until=T0 + timedelta(days=30),
    ),
    CronItem(id="c", cron="0 6 * * *", setpoints=Setpoints(power_w=-1500.0)),
    IntervalItem(id="i", anchor=T0, every_s=3600, duration_s=600, setpoints=Setpoints(reactive_var=50.0)),
    OneOffItem(id="o", at=T0, misfire_grace_s=60, setpoints=IDLE, enabled=False),
    RampItem(id="r", start_at=T0, duration_s=600, power_from_w=0, power_to_w=2000, step_s=30),
    SeriesItem(id="s", rows=(SeriesRow(start=T0, period_s=900, power_w=100, reactive_var=None),)),
]


@pytest.mark.parametrize("item", ROUND_TRIP, ids=lambda i: i.id)
def test_serialization_round_trip(item: Item) -> None:
    assert item_from_dict(item_to_dict(item)) == item


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"type": "nope", "id": "x"}, "type"),
        ({"type": "cron"}, "id"),
        ({"type": "one_off", "id": "x"}, "at"),
        ({"type": "one_off", "id": "x", "at": "yesterday"}, "at"),
        ({"type": "one_off", "id": "x", "at": "2026-01-01T00:00:00"}, "at"),
        ({"type": "window", "id": "x", "weekdays": "mon"}, "weekdays"),
        ({"type": "window", "id": "x", "weekdays": [0], "start": "25:00", "end": "01:00"}, "start"),
        ({"type": "interval", "id": "x", "anchor": "2026-01-01T00:00:00+00:00"}, "every_s"),
        ({"type": "interval", "id": "x", "anchor": "2026-01-01T00:00:00+00:00", "every_s": "x"}, "every_s"),
        ({"type": "cron", "id": "x", "setpoints": {"mode": "turbo"}}, "mode"),
    ],
)
def test_bad_item_dicts(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ItemFormatError) as err:
        item_from_dict(data)
    assert err.value.field == field


def test_item_from_dict_accepts_objects() -> None:
    item = item_from_dict(
        {
            "type": "window",
            "id": "x",
            "weekdays": [1],
            "start": time(1),
            "end": time(2),
            "valid_from": T0,
            "setpoints": {"mode": "idle"},
        }
    )
    assert isinstance(item, WindowItem)
    assert item.valid_from == T0


def test_default_item_is_the_base_under_every_other_item() -> None:
    default = DefaultItem(id="d", setpoints=Setpoints(mode=Mode.AUTO, reserve_pct=20))
    window = WindowItem(
        id="w",
        tz=PARIS,
        weekdays=frozenset(range(7)),
        start=time(17, 6),
        end=time(17, 7),
        setpoints=Setpoints(reserve_pct=70),
    )
    cron = CronItem(id="c", tz=PARIS, cron="0 22 * * *", setpoints=Setpoints(power_w=0.0))
    plan = Schedule([window, default, cron])
    opening = datetime(2026, 6, 1, 17, 6, tzinfo=ZoneInfo(PARIS))
    assert plan.desired_at(opening - timedelta(seconds=1)) == Setpoints(
        mode=Mode.AUTO, reserve_pct=20, power_w=0.0
    )
    assert plan.desired_at(opening).reserve_pct == 70
    # The window's field returns to the default at its end.
    assert plan.next_change_after(opening) == opening + timedelta(minutes=1)
    assert plan.desired_at(opening + timedelta(minutes=1)).reserve_pct == 20
    # Which item set each field.
    assert plan.sources_at(opening) == {"mode": "d", "reserve_pct": "w", "power_w": "c"}
    assert plan.sources_at(opening + timedelta(minutes=1)) == {
        "mode": "d",
        "reserve_pct": "d",
        "power_w": "c",
    }
    # Paused, the default sets nothing; alone, it never changes.
    paused = DefaultItem(id="d", enabled=False, setpoints=default.setpoints)
    assert Schedule([paused, window]).desired_at(opening - timedelta(seconds=1)) == Setpoints()
    assert Schedule([default]).next_change_after(opening) is None
    assert item_from_dict(item_to_dict(default)) == default


def test_validation_of_defaults_crons_and_series_rows() -> None:
    default = DefaultItem(id="d", setpoints=AUTO)
    assert codes(default) == []
    assert codes(DefaultItem(id="d", setpoints=AUTO, valid_until=T0)) == ["default_dates"]
    assert codes(DefaultItem(id="d")) == ["no_setpoints"]
    second = DefaultItem(id="e", setpoints=IDLE)
    assert [(i.code, i.item_id) for i in validate_schedule([default, second])] == [("second_default", "e")]
    six = validate_item(CronItem(id="c", cron="0 0 * * * *", setpoints=IDLE))
    assert [(i.code, i.placeholders["count"]) for i in six] == [("cron_fields", "6")]
    rows = (
        SeriesRow(start=T0, period_s=900, power_w=0.0),
        SeriesRow(start=T0 + timedelta(minutes=15), period_s=900, power_w=0.0),
        SeriesRow(start=T0 + timedelta(minutes=20), period_s=900, power_w=0.0),
    )
    (overlap,) = validate_item(SeriesItem(id="s", rows=rows))
    assert (overlap.code, overlap.placeholders["row"], overlap.placeholders["other"]) == (
        "series_rows_overlap",
        (T0 + timedelta(minutes=20)).isoformat(),
        (T0 + timedelta(minutes=15)).isoformat(),
    )
    duplicate = (rows[0], rows[0])
    assert codes(SeriesItem(id="s", rows=duplicate)) == ["series_rows_overlap"]
    assert codes(SeriesItem(id="s", rows=rows[:2])) == []


def test_recurring_ramps_start_at_a_daily_time_or_a_cron() -> None:
    common: dict[str, Any] = {"duration_s": 600, "step_s": 300, "power_from_w": 0, "power_to_w": 1000}
    weekdays = RampItem(id="r", tz=PARIS, cron="0 7 * * 1-5", **common)
    plan = Schedule([weekdays])
    monday = datetime(2026, 6, 1, 7, tzinfo=ZoneInfo(PARIS))
    assert plan.desired_at(monday).power_w == 0
    assert plan.desired_at(monday + timedelta(minutes=5)).power_w == 1000
    assert plan.desired_at(monday + timedelta(minutes=10)) == Setpoints()
    assert plan.next_change_after(monday + timedelta(minutes=10)) == monday + timedelta(days=1)
    saturday = monday + timedelta(days=5)
    assert plan.next_change_after(saturday) == monday + timedelta(days=7)  # not at the weekend
    # Daily in the spring-forward gap: starts at the first instant after it.
    daily = RampItem(id="d", tz=PARIS, daily_at=time(2, 30), **common)
    assert Schedule([daily]).next_change_after(utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1)
    assert item_from_dict(item_to_dict(daily)) == daily
    assert codes(daily) == []
    assert codes(RampItem(id="n", **common)) == ["ramp_start"]
    assert codes(RampItem(id="n", start_at=T0, daily_at=time(7), **common)) == ["ramp_start"]
    assert codes(RampItem(id="n", cron="0 0 7 * * *", **common)) == ["cron_fields"]
    long = {**common, "duration_s": 90000, "step_s": 900}
    assert codes(RampItem(id="n", daily_at=time(7), **long)) == ["bad_duration"]


def test_next_and_last_start_of_each_type() -> None:
    t = utc(2026, 6, 1, 12)  # a Monday
    hour = timedelta(hours=1)
    interval = IntervalItem(id="i", anchor=utc(2026, 6, 1), every_s=3600 * 5, duration_s=600, setpoints=IDLE)
    assert (next_start(interval, t), last_start(interval, t)) == (utc(2026, 6, 1, 15), utc(2026, 6, 1, 10))
    later = replace(interval, valid_from=utc(2026, 6, 2, 1))
    assert next_start(later, t) == utc(2026, 6, 2, 1)  # anchor + 5 x 5 h
    assert last_start(IntervalItem(id="i", anchor=t + hour, every_s=60, setpoints=IDLE), t) is None
    ramp = RampItem(id="r", tz="UTC", daily_at=time(9), duration_s=60, power_from_w=0, power_to_w=1)
    assert (next_start(ramp, t), last_start(ramp, t)) == (utc(2026, 6, 2, 9), utc(2026, 6, 1, 9))
    assert next_start(replace(ramp, valid_from=utc(2026, 6, 4, 10)), t) == utc(2026, 6, 5, 9)
    rows = tuple(SeriesRow(start=t + k * hour, period_s=3600, power_w=0.0) for k in (-1, 1))
    series = SeriesItem(id="s", rows=rows)
    assert (next_start(series, t), last_start(series, t)) == (t + hour, t - hour)
    assert next_start(series, t + 2 * hour) is None
    window = WindowItem(
        id="w", tz="UTC", weekdays=frozenset({0}), start=time(13), end=time(14), setpoints=IDLE
    )
    assert (next_start(window, t), last_start(window, t)) == (utc(2026, 6, 1, 13), utc(2026, 5, 25, 13))
    assert start_in_force(window, t + hour) == utc(2026, 6, 1, 13)
    assert start_in_force(window, t) is None
    assert start_in_force(DefaultItem(id="d", setpoints=IDLE), t) is None
    assert next_start(replace(window, enabled=False), t) is None
    one_off = OneOffItem(id="o", at=t, setpoints=IDLE, valid_until=t - hour)
    assert finished_at(one_off) == t - hour
    assert finished_at(window) is None
    assert run_length(window, t) == hour
    assert run_length(window, t + 1.5 * hour) == timedelta(minutes=30)  # in its occurrence
    assert run_length(interval, t) == timedelta(minutes=10)
    assert run_length(interval, utc(2026, 6, 1, 15, 4)) == timedelta(minutes=6)
    assert run_length(one_off, t) is None
