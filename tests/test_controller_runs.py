"""Runs that overlap: which trigger a re-run is journaled under, commands that wait for their
own pass, and the settle time after a write. Simulator over TCP, frozen time, no mocks."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import BatteryController
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import Result, Trigger

from .conftest import PARIS, PEAK, modbus_data
from .helpers import controller, device_id, freeze_at, let_sockets_settle, setup_entry

# Monday 1 June 2026, 19:30 in Paris: inside the peak window.
START = datetime(2026, 6, 1, 19, 30, tzinfo=PARIS)


@pytest.fixture
async def entry(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> AsyncIterator[MockConfigEntry]:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), items=[PEAK], wait="background")
    assert simulator.read_register("reserve_pct") == 80
    yield entry
    if entry.state.name == "LOADED":
        await hass.config_entries.async_unload(entry.entry_id)


async def drift_run_in_flight(
    ctl: BatteryController, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    """Tamper with the reserve and poll: the drift run starts and is writing when this returns."""
    freezer.tick(timedelta(seconds=5))  # past the settle time of the last write
    simulator.set_control("reserve_pct", 44)
    await ctl.coordinator.async_refresh()
    for _ in range(50):
        if ctl.runner.lock.locked():
            return
        await asyncio.sleep(0)
    raise AssertionError("the drift run did not start")


async def test_rerun_journaled_under_the_trigger_that_asked(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    ctl = controller(entry)
    before = len(ctl.journal)
    await drift_run_in_flight(ctl, simulator, freezer)
    # While the drift correction writes, the user edits the window (a config trigger) and
    # another drift trigger arrives: the one re-run is journaled as config.
    subentry = next(iter(entry.subentries.values()))
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, "setpoints": {"reserve_pct": 90}}
    )
    assert await ctl.async_run(Trigger.DRIFT) is None  # marks the run dirty, returns at once
    await hass.async_block_till_done(wait_background_tasks=True)
    records = ctl.journal.query(limit=len(ctl.journal) - before)
    assert [(r.trigger, r.fields) for r in records] == [
        (Trigger.DRIFT, {"reserve_pct": (44.0, 80.0)}),
        (Trigger.CONFIG, {"reserve_pct": (80.0, 90.0)}),
    ]
    assert simulator.read_register("reserve_pct") == 90
    # Only the drift correction counts toward fight detection.
    assert ctl.fight.values_seen("reserve_pct") == ["44.0"]


async def test_override_during_drift_run_waits_for_its_own_pass(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    ctl = controller(entry)
    await drift_run_in_flight(ctl, simulator, freezer)
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device_id(hass, entry), "reserve_pct": 60}, blocking=True
    )
    # The call returned after the pass that applied it, journaled as an override.
    assert simulator.read_register("reserve_pct") == 60
    last = ctl.journal.last
    assert last is not None
    assert last.trigger is Trigger.OVERRIDE
    assert last.fields == {"reserve_pct": (80.0, 60.0)}
    triggers = [r.trigger for r in ctl.journal.query(limit=3)]
    assert triggers[-2:] == [Trigger.DRIFT, Trigger.OVERRIDE]
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_command_waits_for_the_lock_and_reports_its_failure(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    ctl = controller(entry)
    await simulator.stop()
    await let_sockets_settle()
    async with ctl.runner.lock:  # held as a safe stop holds it
        call = hass.async_create_task(
            hass.services.async_call(
                DOMAIN, "reconcile_now", {"device_id": device_id(hass, entry)}, blocking=True
            )
        )
        for _ in range(2000):  # the fresh read fails (the battery is gone), then the run waits
            if not ctl.coordinator.last_update_success:
                break
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0)
        assert not call.done()  # waiting for the lock, not returning early
    with pytest.raises(HomeAssistantError) as err:
        await call
    assert err.value.translation_key == "run_failed"
    last = ctl.journal.last
    assert last is not None
    assert (last.trigger, last.result) == (Trigger.MANUAL, Result.FAILED)
    await simulator.start(host="127.0.0.1", port=entry.data["port"])


async def test_settle_time_after_a_write(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    ctl = controller(entry)
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device_id(hass, entry), "reserve_pct": 60}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    writes = simulator.write_counts.get("reserve_pct", 0)
    records = len(ctl.journal)
    # The device still shows the old value on a poll within the settle time: not drift.
    simulator.set_control("reserve_pct", 80)
    freezer.tick(timedelta(seconds=ctl.settings.settle_s / 2))
    await ctl.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.write_counts.get("reserve_pct", 0) == writes
    assert len(ctl.journal) == records
    assert ctl.in_sync is True
    # A poll after the settle time that still shows it is drift: corrected once.
    freezer.tick(timedelta(seconds=ctl.settings.settle_s))
    await ctl.coordinator.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert simulator.write_counts.get("reserve_pct", 0) == writes + 1
    assert simulator.read_register("reserve_pct") == 60
    last = ctl.journal.last
    assert last is not None
    assert (last.trigger, last.fields) == (Trigger.DRIFT, {"reserve_pct": (80.0, 60.0)})
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
