"""Reliability: both DST transitions in three zones, end to end through Home Assistant and the simulator.

A wall-clock start inside the spring-forward gap lands at the first instant after the gap; a time
that occurs twice on fall-back day fires once, at its first occurrence (docs/schedules.md). The
expected UTC instants come from an oracle that shares no code with the engine: it scans UTC
minutes for the first one whose local wall-clock time reaches the requested time.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import Trigger

from .conftest import modbus_data
from .helpers import cron_item, freeze_at, let_sockets_settle, setup_entry, window_item
from .support.simclock import advance

STEP_S = 300


def first_instant(zone: str, day: date, wall: time) -> datetime:
    """The first UTC minute whose local time on `day` is at or after `wall`."""
    tz = ZoneInfo(zone)
    t = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(days=1)
    while True:
        local = t.astimezone(tz)
        if local.date() == day and local.time() >= wall:
            return t
        t += timedelta(minutes=1)


def _utc_offset_changes(zone: str, day: date) -> bool:
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start.utcoffset() != (start + timedelta(days=1)).astimezone(tz).utcoffset()


# zone, transition day, wall-clock time inside the gap (spring) or the repeated hour (fall)
SPRING = [
    ("Europe/Paris", date(2026, 3, 29), time(2, 30)),
    ("America/New_York", date(2026, 3, 8), time(2, 30)),
    ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15)),  # a 30-minute gap
]
FALL = [
    ("Europe/Paris", date(2026, 10, 25), time(2, 30), timedelta(hours=1)),
    ("America/New_York", date(2026, 11, 1), time(1, 30), timedelta(hours=1)),
    ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45), timedelta(minutes=30)),
]


async def _setup(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    zone: str,
    at: datetime,
    items: list[dict[str, Any]],
) -> MockConfigEntry:
    await freeze_at(hass, freezer, at, zone)
    return await setup_entry(
        hass, modbus_data(simulator.port), options={"poll_interval": STEP_S}, items=items, wait="settle"
    )


@pytest.mark.parametrize(("zone", "day", "wall"), SPRING, ids=[z for z, *_ in SPRING])
async def test_start_in_the_spring_gap_lands_after_it(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    zone: str,
    day: date,
    wall: time,
) -> None:
    assert _utc_offset_changes(zone, day)
    expected = first_instant(zone, day, wall)
    assert expected.astimezone(ZoneInfo(zone)).time() > wall  # the wall time does not exist
    window = window_item("In the gap", wall.isoformat(), "05:00:00", tz=zone, reserve_pct=80)
    entry = await _setup(hass, freezer, simulator, zone, expected - timedelta(hours=1), [window])
    ctl: BatteryController = entry.runtime_data.controller
    assert ctl.next_change == expected
    await advance(hass, freezer, 3600 - STEP_S, step_s=STEP_S)
    assert simulator.read_register("reserve_pct") == 20
    await advance(hass, freezer, STEP_S, step_s=STEP_S)
    assert simulator.read_register("reserve_pct") == 80
    # Written at the expected instant: by the schedule timer, or by the watchdog (it re-plans
    # when the UTC offset changes) when the simulated clock makes both fall due in one jump.
    written = [r for r in ctl.journal.query() if r.fields]
    assert written[-1].executed == expected
    assert written[-1].fields == {"reserve_pct": (20.0, 80.0)}
    assert written[-1].trigger in {Trigger.SCHEDULE, Trigger.WATCHDOG}
    assert written[-1].scheduled in {expected, None}
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


@pytest.mark.parametrize(("zone", "day", "wall", "repeat"), FALL, ids=[z for z, *_ in FALL])
async def test_repeated_time_on_fall_back_fires_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    zone: str,
    day: date,
    wall: time,
    repeat: timedelta,
) -> None:
    assert _utc_offset_changes(zone, day)
    first = first_instant(zone, day, wall)
    second = first + repeat
    tz = ZoneInfo(zone)
    assert second.astimezone(tz).time() == wall  # the wall time does occur twice
    cron = cron_item("Twice on the clock", f"{wall.minute} {wall.hour} * * *", tz=zone, reserve_pct=60)
    between = {
        "type": "one_off",
        "name": "Between the two",
        "at": (first + repeat / 2 + timedelta(minutes=5)).isoformat(),
        "setpoints": {"reserve_pct": 30},
    }
    midnight = cron_item("Midnight", "0 0 * * *", tz=zone, reserve_pct=20)
    entry = await _setup(
        hass, freezer, simulator, zone, first - timedelta(minutes=30), [midnight, cron, between]
    )
    ctl: BatteryController = entry.runtime_data.controller
    seen: list[tuple[datetime, float | str]] = []
    t = first - timedelta(minutes=30)
    while t < second + timedelta(minutes=30):
        await advance(hass, freezer, STEP_S, step_s=STEP_S)
        t += timedelta(seconds=STEP_S)
        seen.append((t, simulator.read_register("reserve_pct")))
    changes = [(at, v) for (at, v), (_, prev) in zip(seen[1:], seen, strict=False) if v != prev]
    assert seen[0][1] == 20
    # The first occurrence lands at its instant; nothing happens at the second one.
    assert changes == [(first, 60), (first + repeat / 2 + timedelta(minutes=5), 30)]
    scheduled = [r.scheduled for r in ctl.journal.query() if r.trigger is Trigger.SCHEDULE]
    assert scheduled == [first, first + repeat / 2 + timedelta(minutes=5)]
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
