"""Plant commands at the same time: safe stop, restore, plant enable and the rest never interleave.

Every write goes through the controller's runner, so whatever order concurrent commands end up
in, the dispatch gate, the plant enable register at the simulator, the plant state and the
journal tell the same story at the end. Real time, fast simulator physics, no mocks.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import random
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import BatteryController, PlantState
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.engine.journal import JournalRecord, Result

from .conftest import SERIAL, modbus_data
from .helpers import controller, device_id, entity_id, setup_entry


@pytest.fixture
def sim_config() -> SimConfig:
    """Fast physics: measured power follows within a fraction of a second."""
    return SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.05)


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> AsyncIterator[MockConfigEntry]:
    entry = await setup_entry(hass, modbus_data(simulator.port))
    yield entry
    if entry.state.name == "LOADED":
        await hass.config_entries.async_unload(entry.entry_id)


def plant_record(record: JournalRecord) -> bool:
    """A journal record of a command that changes the plant (stop, restore, enable)."""
    note = record.note or ""
    return note.startswith(("safe stop", "restore", "plant "))


async def assert_plant_agrees(
    hass: HomeAssistant, ctl: BatteryController, simulator: SimulatedBattery
) -> None:
    """Gate, enable register, plant state and the journal's last plant command agree."""
    await hass.async_block_till_done()
    await ctl.coordinator.async_refresh()
    await hass.async_block_till_done()
    enabled = simulator.read_register("enabled") == 1
    assert ctl.plant_state is (PlantState.RUNNING if ctl.dispatch_enabled and enabled else PlantState.STOPPED)
    last = [r for r in ctl.journal.query(limit=10_000) if plant_record(r)][-1]
    note = last.note or ""
    if note.startswith("safe stop") and last.result is Result.SUCCESS:
        assert not ctl.dispatch_enabled
        assert not enabled
        assert ctl.plant_state is PlantState.STOPPED
    elif note.startswith("safe stop"):  # failed: the gate stays closed whatever the plant did
        assert not ctl.dispatch_enabled
    elif note.startswith("restore"):
        assert last.result is Result.SUCCESS
        assert ctl.dispatch_enabled
        assert enabled
        assert ctl.plant_state is PlantState.RUNNING
        assert ctl.resume_mode is None
    else:
        assert enabled is (note == "plant enabled")
    state = hass.states.get(entity_id(hass, "sensor", "plant_state"))
    assert state is not None
    assert state.state == ctl.plant_state.value


async def test_safe_stop_and_restore_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """The issue's reproduction: a safe stop (5 s timeout) as a task, a restore at once."""
    dev = device_id(hass, entry)
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": dev, "mode": "force_discharge", "power_w": 2000}, blocking=True
    )
    ctl = controller(entry)
    stop = asyncio.create_task(
        hass.services.async_call(
            DOMAIN, "safe_stop", {"device_id": dev, "timeout_s": 5}, blocking=True, return_response=True
        )
    )
    restore = hass.services.async_call(DOMAIN, "restore", {"device_id": dev}, blocking=True)
    results = await asyncio.gather(stop, restore, return_exceptions=True)
    for result in results:
        assert not isinstance(result, BaseException) or isinstance(result, HomeAssistantError), result
    assert not ctl.switching
    await assert_plant_agrees(hass, ctl, simulator)
    # Both ran, one after the other: each has its own record, neither cut into the other.
    notes = [r.note or "" for r in ctl.journal.query(limit=10_000) if plant_record(r)]
    assert any(n.startswith("safe stop") for n in notes)
    assert any(n.startswith("restore") for n in notes)


async def test_a_hundred_mixed_commands_at_once(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    """Safe stops, restores, plant enables, gate flips, overrides and reconciles, all at once."""
    dev = device_id(hass, entry)
    target = {"device_id": dev}
    switch = entity_id(hass, "switch", "plant_enabled")
    gate = entity_id(hass, "switch", "dispatch")

    def action(domain: str, service: str, data: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
        return lambda: hass.services.async_call(domain, service, data, blocking=True)

    commands: list[Callable[[], Awaitable[Any]]] = [
        lambda: hass.services.async_call(
            DOMAIN, "safe_stop", {**target, "timeout_s": 5}, blocking=True, return_response=True
        ),
        action(DOMAIN, "restore", target),
        action("switch", "turn_on", {"entity_id": switch}),
        action("switch", "turn_off", {"entity_id": switch}),
        action("switch", "turn_on", {"entity_id": gate}),
        action("switch", "turn_off", {"entity_id": gate}),
        action(DOMAIN, "set_override", {**target, "mode": "force_discharge", "power_w": 1500}),
        action(DOMAIN, "clear_override", target),
        action(DOMAIN, "reconcile_now", target),
    ]
    rng = random.Random(12)
    chosen = [rng.choice(commands) for _ in range(100)]
    results = await asyncio.gather(*(command() for command in chosen), return_exceptions=True)
    for result in results:
        # A command may be refused or fail with a translated error; nothing else may escape.
        assert not isinstance(result, BaseException) or isinstance(result, HomeAssistantError), repr(result)
    ctl = controller(entry)
    await assert_plant_agrees(hass, ctl, simulator)
    # And the next command still works: the controller is not wedged.
    await hass.services.async_call(DOMAIN, "restore", target, blocking=True)
    await assert_plant_agrees(hass, ctl, simulator)
    assert simulator.read_register("enabled") == 1
