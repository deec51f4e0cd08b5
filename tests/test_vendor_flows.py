"""Huawei, Sungrow and Victron through Home Assistant: the config flow, entities, a controller run
and, for Huawei, the keep-alive driven by the coordinator's polls on a frozen clock."""

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.battery_steward.const import (
    CONF_CAPACITY_KWH,
    CONF_MAX_POWER_W,
    CONF_PROFILE,
    CONF_PROFILE_SETTINGS,
)
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .helpers import entity_id, let_sockets_settle
from .test_profiles import _modbus_step, _registered

type Start = Callable[..., Any]


@pytest.fixture
async def start_vendor() -> AsyncIterator[Start]:
    """Start a simulator presenting a vendor profile on loopback (Victron at unit 100); stop them all."""
    started: list[SimulatedBattery] = []

    async def factory(profile: str, serial: str) -> SimulatedBattery:
        battery = SimulatedBattery(
            SimConfig(serial=serial, model="SUN2000-5KTL", noise_w=0.0),
            presentation=make_presentation(profile),
            unit=100 if profile == "victron" else 1,
        )
        await battery.start(host="127.0.0.1", port=0)
        started.append(battery)
        return battery

    yield factory
    for battery in started:
        await battery.stop()
    await let_sockets_settle()


async def _select_mode(hass: HomeAssistant, serial: str, mode: str) -> None:
    await hass.services.async_call(
        "select",
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: entity_id(hass, "select", "operating_mode", serial), ATTR_OPTION: mode},
        blocking=True,
    )


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("profile", ["huawei", "sungrow"])
async def test_flow_entities_and_a_mode(hass: HomeAssistant, start_vendor: Start, profile: str) -> None:
    serial = f"{profile.upper()}-1"
    battery = await start_vendor(profile, serial)
    result = await _modbus_step(hass, battery.port, profile)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PROFILE] == profile
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    keys = _registered(hass, entry.entry_id)
    assert {"state_of_charge", "active_power", "backup_reserve", "power_setpoint", "operating_mode"} <= keys
    assert not keys & {"reactive_power", "battery_temperature", "charge_energy", "plant_enabled"}
    await _select_mode(hass, serial, "idle")
    assert battery.model.mode == 3  # the physics rest: holds at 0 W
    # Safe stop from a forced charge: the power goes to zero; no disable step on these devices.
    controller = entry.runtime_data.controller
    await controller.async_set_override(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    await hass.async_block_till_done()
    stopped = (await controller.async_safe_stop(timeout_s=10)).as_dict()
    assert stopped["threshold_reached"] is True
    assert stopped["disable_supported"] is False
    assert battery.model.mode == 3
    await hass.config_entries.async_unload(entry.entry_id)


async def test_victron_flow_asks_what_the_gx_cannot_tell(hass: HomeAssistant, start_vendor: Start) -> None:
    battery = await start_vendor("victron", "c0619ab1c2d3")
    result = await _modbus_step(hass, battery.port, "victron")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "victron"
    settings = {CONF_CAPACITY_KWH: 15.0, CONF_MAX_POWER_W: 4000}
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], settings))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PROFILE_SETTINGS] == settings
    assert result["data"]["unit_id"] == 1  # the GX's registers are at unit 100 all the same
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data.coordinator
    assert coordinator.info.limits.max_charge_w == 4000
    assert coordinator.info.capacity_kwh == 15.0
    await entry.runtime_data.controller.async_set_override(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    await hass.async_block_till_done()
    battery.sync()
    assert battery.model.power_setpoint_w == -2000  # the GX steers the battery to charge at 2 kW
    await hass.config_entries.async_unload(entry.entry_id)


async def test_huawei_keep_alive_from_the_coordinators_polls(
    hass: HomeAssistant, start_vendor: Start, freezer: FrozenDateTimeFactory
) -> None:
    battery = await start_vendor("huawei", "HV-KEEP")
    result = await _modbus_step(hass, battery.port, "huawei")
    entry = result["result"]
    await hass.async_block_till_done()
    await entry.runtime_data.controller.async_set_override(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    await hass.async_block_till_done()
    commands = [w for w in battery.writes_log if w.name == "command"]
    assert [w.value for w in commands] == [1]
    # The coordinator polls every 10 s; 47100 is rewritten on the first poll 30 s after the last.
    rewritten_at: list[int] = []
    for poll in range(1, 10):
        before = len(battery.writes_log)
        await _poll(hass, freezer, 10)
        rewrites = battery.writes_log[before:]
        if rewrites:
            assert [(w.name, w.value) for w in rewrites] == [("command", 1)]
            rewritten_at.append(poll * 10)
    assert rewritten_at == [30, 60, 90]
    battery.sync()
    assert battery.model.mode == 1  # still forced: charging
    await hass.config_entries.async_unload(entry.entry_id)
