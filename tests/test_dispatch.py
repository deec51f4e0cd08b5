"""Dispatch gate, safe stop and restore, against the simulator in real time (fast physics)."""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.controller import BatteryController, PlantState
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.engine.journal import Result

from .conftest import SERIAL, modbus_data
from .helpers import entity_id, let_sockets_settle


@pytest.fixture
def sim_config() -> SimConfig:
    """Fast physics: measured power follows within a fraction of a second."""
    return SimConfig(serial=SERIAL, noise_w=0.0, tau_s=0.05)


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> AsyncIterator[MockConfigEntry]:
    entry = MockConfigEntry(
        domain=DOMAIN, title="Battery", unique_id=SERIAL, data=modbus_data(simulator.port)
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    if entry.state.name == "LOADED":
        await hass.config_entries.async_unload(entry.entry_id)


def controller(entry: MockConfigEntry) -> BatteryController:
    return entry.runtime_data.controller  # type: ignore[no-any-return]


def device(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    found = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, SERIAL), entry.entry_id)
    assert found is not None
    return found.id


async def discharge(hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery) -> None:
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": device(hass, entry), "mode": "force_discharge", "power_w": 2000, "reactive_var": 500},
        blocking=True,
    )
    for _ in range(100):
        if float(simulator.read_register("active_power_w")) > 1900:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the simulator did not start discharging")


async def safe_stop(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "safe_stop",
        {"device_id": device(hass, entry), **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    result: dict[str, Any] = response[entry.entry_id]  # type: ignore[assignment]
    return result


async def test_safe_stop_reaches_threshold_and_restore(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    await discharge(hass, entry, simulator)
    result = await safe_stop(hass, entry, timeout_s=10)
    assert result["threshold_reached"] is True
    assert result["disable_ok"] is True
    assert result["error"] is None
    assert abs(result["final_p_w"]) < 50
    assert abs(result["final_q_var"]) < 50
    assert result["waited_s"] < 10
    assert simulator.read_register("enabled") == 0
    assert simulator.read_register("mode") == 3
    ctl = controller(entry)
    assert not ctl.dispatch_enabled
    assert ctl.plant_state is PlantState.STOPPED
    await hass.async_block_till_done()
    assert hass.states.get(entity_id(hass, "switch", "dispatch")).state == "off"  # type: ignore[union-attr]
    assert hass.states.get(entity_id(hass, "sensor", "plant_state")).state == "stopped"  # type: ignore[union-attr]
    assert "safe stop" in (ctl.journal.last.note or "")  # type: ignore[union-attr]

    await hass.services.async_call(DOMAIN, "restore", {"device_id": device(hass, entry)}, blocking=True)
    assert simulator.read_register("enabled") == 1
    assert ctl.dispatch_enabled
    assert ctl.plant_state is PlantState.RUNNING
    # Control is back with the schedule and the override: discharging again.
    assert simulator.read_register("mode") == 2


async def test_safe_stop_misses_threshold_when_battery_will_not_ramp_down(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    simulator.model.stuck_power_w = 1500.0
    result = await safe_stop(hass, entry, timeout_s=1, threshold_w=100)
    assert result["threshold_reached"] is False
    assert result["disable_ok"] is True
    assert result["final_p_w"] == pytest.approx(1500)
    assert result["waited_s"] >= 1
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.FAILED


async def test_safe_stop_device_error_ends_with_a_result(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery, caplog: pytest.LogCaptureFixture
) -> None:
    await simulator.stop()
    await let_sockets_settle()
    result = await safe_stop(hass, entry, timeout_s=5)
    assert result["threshold_reached"] is False
    assert result["disable_ok"] is False
    assert "failed" in result["error"]
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
    assert controller(entry).plant_state is PlantState.STOPPED
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(DOMAIN, "restore", {"device_id": device(hass, entry)}, blocking=True)
    assert controller(entry).plant_state is PlantState.STOPPED


async def test_gate_off_writes_nothing_and_survives_restart(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    gate = entity_id(hass, "switch", "dispatch")
    await hass.services.async_call("switch", "turn_off", {"entity_id": gate}, blocking=True)
    writes = simulator.write_count
    await hass.services.async_call(
        DOMAIN, "set_override", {"device_id": device(hass, entry), "reserve_pct": 70}, blocking=True
    )
    assert simulator.write_count == writes
    last = controller(entry).journal.last
    assert last is not None
    assert last.result is Result.SKIPPED
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert not controller(entry).dispatch_enabled
    assert hass.states.get(gate).state == "off"  # type: ignore[union-attr]
    assert simulator.write_count == writes
    await hass.services.async_call("switch", "turn_on", {"entity_id": gate}, blocking=True)
    await hass.async_block_till_done()
    assert simulator.read_register("reserve_pct") == 70


async def test_safe_stop_button_and_several_batteries(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    other_sim = SimulatedBattery(SimConfig(serial="SIM-OTHER002", noise_w=0.0, tau_s=0.05))
    await other_sim.start()
    other = MockConfigEntry(
        domain=DOMAIN, title="Other", unique_id="SIM-OTHER002", data=modbus_data(other_sim.port)
    )
    other.add_to_hass(hass)
    try:
        assert await hass.config_entries.async_setup(other.entry_id)
        await hass.async_block_till_done()
        other_device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, "SIM-OTHER002"), other.entry_id
        )
        assert other_device is not None
        response = await hass.services.async_call(
            DOMAIN,
            "safe_stop",
            {"device_id": [device(hass, entry), other_device.id], "timeout_s": 5},
            blocking=True,
            return_response=True,
        )
        assert response is not None
        assert set(response) == {entry.entry_id, other.entry_id}
        assert other_sim.read_register("enabled") == 0
        await hass.services.async_call(DOMAIN, "restore", {"device_id": device(hass, entry)}, blocking=True)
        await hass.services.async_call(
            "button", "press", {"entity_id": entity_id(hass, "button", "safe_stop")}, blocking=True
        )
        assert simulator.read_register("enabled") == 0
        await hass.config_entries.async_unload(other.entry_id)
    finally:
        await other_sim.stop()


async def test_reactive_setpoint_number(
    hass: HomeAssistant, entry: MockConfigEntry, simulator: SimulatedBattery
) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": entity_id(hass, "number", "reactive_power_setpoint"), "value": -400},
        blocking=True,
    )
    assert simulator.read_register("reactive_setpoint_var") == -400
