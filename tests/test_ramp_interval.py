"""Ramp steps and intervals with a duration, end to end: frozen time, real timers, the simulator
over loopback TCP. Each step lands at the simulator at its instant, not at the next poll."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import Result, Trigger

from .conftest import PARIS, modbus_data
from .helpers import controller, freeze_at, let_sockets_settle, move_to, setup_entry

START = datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
RAMP_AT = START + timedelta(minutes=10)
RAMP = {
    "type": "ramp",
    "name": "Ramp up",
    "tz": "Europe/Paris",
    "start_at": RAMP_AT.isoformat(),
    "duration_s": 600,
    "power_from_w": 0,
    "power_to_w": 2000,
    "step_s": 120,
    "setpoints": {"mode": "force_discharge"},
}
AFTER_RAMP = {
    "type": "one_off",
    "name": "Back to auto",
    "tz": "Europe/Paris",
    "at": (RAMP_AT + timedelta(minutes=10)).isoformat(),
    "setpoints": {"mode": "auto", "power_w": 0},
}
BASE_RESERVE = {
    "type": "cron",
    "name": "Base reserve",
    "tz": "Europe/Paris",
    "cron": "0 0 * * *",
    "setpoints": {"reserve_pct": 30},
}
PULSE = {
    "type": "interval",
    "name": "Pulse",
    "tz": "Europe/Paris",
    "anchor": (START + timedelta(minutes=5)).isoformat(),
    "every_s": 900,
    "duration_s": 300,
    "setpoints": {"reserve_pct": 70},
}


@pytest.fixture
async def entry(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    items: list[dict[str, Any]],
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=items, wait="background")
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("items", [[RAMP, AFTER_RAMP]])
async def test_ramp_steps_land_at_the_simulator(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    ctl = controller(entry)
    assert ctl.next_change == RAMP_AT
    # 600 s in 120 s steps: five steps from 0 W to 2000 W, the last one at the end power.
    for k, power in enumerate([0, 500, 1000, 1500, 2000]):
        at = RAMP_AT + timedelta(seconds=120 * k)
        if k:
            await move_to(hass, freezer, at - timedelta(seconds=1))
            assert simulator.read_register("power_setpoint_w") == power - 500  # not yet
        await move_to(hass, freezer, at)
        assert simulator.read_register("power_setpoint_w") == power
        assert simulator.read_register("mode") == 2  # force discharge while the ramp runs
        last = ctl.journal.last
        assert last is not None
        assert (last.trigger, last.scheduled, last.result) == (Trigger.SCHEDULE, at, Result.SUCCESS)
        if k:
            assert last.fields == {"power_w": (float(power - 500), float(power))}
        else:  # from the full rate at power-on down to the ramp's 0 W (0 W is 0 W), and the mode
            assert last.fields == {"mode": ("auto", "force_discharge"), "power_w": (5000.0, 0.0)}
    # The ramp ends; the one-off after it hands back to automatic at 0 W.
    await move_to(hass, freezer, RAMP_AT + timedelta(minutes=10))
    assert simulator.read_register("mode") == 0
    assert simulator.read_register("power_setpoint_w") == 0
    assert ctl.next_change is None


@pytest.mark.parametrize("items", [[BASE_RESERVE, PULSE]])
async def test_interval_with_duration_switches_on_and_off(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    ctl = controller(entry)
    assert simulator.read_register("reserve_pct") == 30  # the daily step, before the first pulse
    for minutes, reserve in ((5, 70), (10, 30), (20, 70), (25, 30), (35, 70), (40, 30)):
        at = START + timedelta(minutes=minutes)
        assert ctl.next_change == at
        await move_to(hass, freezer, at)
        assert simulator.read_register("reserve_pct") == reserve, minutes
        # Written by the schedule timer (a patrol due meanwhile finds the battery in sync).
        written = [r for r in ctl.journal.query(limit=3) if r.fields]
        assert [(r.trigger, r.scheduled, r.fields) for r in written][-1] == (
            Trigger.SCHEDULE,
            at,
            {"reserve_pct": (float(100 - reserve), float(reserve))},  # from the other of 30 and 70
        )


async def test_ramp_every_day_at_a_local_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    start = datetime(2026, 6, 15, 17, 0, tzinfo=PARIS)
    await freeze_at(hass, freezer, start)
    ramp = {
        "type": "ramp",
        "name": "Evening ramp",
        "daily_at": "17:10:00",
        "tz": "Europe/Paris",
        "duration_s": 600,
        "step_s": 300,
        "power_from_w": 400,
        "power_to_w": 1000,
        "setpoints": {"mode": "force_discharge"},
    }
    default = {"type": "default", "name": "Default", "setpoints": {"mode": "auto", "power_w": 0}}
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[default, ramp], wait="background")
    seen = []
    for day in (0, 1):
        for minute in (9, 10, 15, 20):
            await move_to(hass, freezer, start + timedelta(days=day, minutes=minute))
            seen.append((simulator.read_register("mode"), simulator.read_register("power_setpoint_w")))
    # auto at 0 W, then 400 W and 1000 W discharging, then back to the default; the same each day.
    assert seen == [(0, 0), (2, 400), (2, 1000), (0, 0)] * 2
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
