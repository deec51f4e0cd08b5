"""Regressions for bugs the reliability suite found (docs/reliability.md lists them)."""

from datetime import datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import Trigger
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import modbus_data
from .helpers import controller, device_id, entity_id, let_sockets_settle, setup_entry
from .support.fault_proxy import WRITE_CODES, Fault, FaultProxy
from .support.simclock import advance
from .test_controller import entry

__all__ = ["entry"]


class _CountingPlan:
    """Wraps a plan and counts how often the planner is asked for the next change."""

    def __init__(self, ctl: BatteryController) -> None:
        self.inner = ctl.plan
        self.calls = 0

    def desired_at(self, t: datetime) -> Setpoints:
        return self.inner.desired_at(t)

    def next_change_after(self, t: datetime) -> datetime | None:
        self.calls += 1
        return self.inner.next_change_after(t)

    def next_event_after(self, t: datetime) -> datetime | None:
        return self.inner.next_event_after(t)


async def test_plan_calendar_state_plans_only_the_next_changes(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    # The calendar's state was computed from the whole week's plan on every poll, three times
    # per write (0.5 s of event-loop time per poll with a handful of items).
    ctl = controller(entry)
    counting = _CountingPlan(ctl)
    ctl.plan = counting
    calendar = entity_id(hass, "calendar", "plan")
    before = hass.states.get(calendar)
    assert before is not None
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    after = hass.states.get(calendar)
    assert after is not None
    assert after.attributes["message"] == before.attributes["message"]
    assert after.attributes["start_time"] == before.attributes["start_time"]
    assert after.attributes["end_time"] == before.attributes["end_time"]
    assert 0 < counting.calls <= 12


async def test_unload_waits_for_a_command_run_and_keeps_its_record(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    hass_storage: dict[str, Any],
) -> None:
    # An override's run was not a tracked task: unload saved the journal before the run's
    # record was added, so the record was lost and its sequence number issued again.
    proxy = FaultProxy(simulator.port)
    await proxy.start()
    entry = await setup_entry(hass, modbus_data(proxy.port), wait="settle")
    ctl: BatteryController = entry.runtime_data.controller
    proxy.set_fault(Fault(kind="delay", delay_s=1.5, only=WRITE_CODES))
    command = hass.async_create_task(ctl.async_set_override(Setpoints(reserve_pct=55), until_cleared=True))
    await advance(hass, freezer, 0.5, step_s=0.5)
    assert not command.done()
    unload = hass.async_create_task(hass.config_entries.async_unload(entry.entry_id))
    for _ in range(20):
        await advance(hass, freezer, 0.5, step_s=0.5)
    assert unload.done()
    assert unload.result()
    await command
    assert simulator.read_register("reserve_pct") == 55
    last = ctl.journal.last
    assert last is not None
    assert last.trigger is Trigger.OVERRIDE
    saved = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["journal"]
    assert saved[-1]["seq"] == last.seq
    await proxy.stop()
    await let_sockets_settle()


async def test_unload_interrupts_a_safe_stop_waiting_for_power(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    # A safe stop waiting (up to an hour) for power to fall held the run lock; an unload now
    # waits for it, so the wait ends early and the plant is disabled at once.
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="settle")
    ctl: BatteryController = entry.runtime_data.controller
    await ctl.async_set_override(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=3000), until_cleared=True)
    stop = hass.async_create_task(ctl.async_safe_stop(threshold_w=1, timeout_s=3600))
    await advance(hass, freezer, 1)
    assert not stop.done()
    unload = hass.async_create_task(hass.config_entries.async_unload(entry.entry_id))
    for _ in range(5):
        await advance(hass, freezer, 1)
    assert unload.done()
    assert unload.result()
    result = stop.result()
    assert result.disable_ok
    assert result.waited_s < 10
    assert simulator.read_register("enabled") == 0
    await let_sockets_settle()


async def test_override_with_a_huge_duration_is_refused_not_crashed(
    hass: HomeAssistant, simulator: SimulatedBattery
) -> None:
    # cv.time_period raised OverflowError for durations beyond a timedelta (found by hypothesis):
    # an untranslated crash instead of a schema refusal.
    entry = await setup_entry(hass, modbus_data(simulator.port))
    device = device_id(hass, entry)
    writes = simulator.write_count
    for duration in (3.3e16, -5.2e141, {"days": 10**12}):
        with pytest.raises(vol.Invalid):
            await hass.services.async_call(
                DOMAIN,
                "set_override",
                {"device_id": device, "reserve_pct": 40, "duration": duration},
                blocking=True,
            )
    assert simulator.write_count == writes
    await hass.config_entries.async_unload(entry.entry_id)
